#!/bin/bash
# An mpimap job for Slurm: submit with sbatch (mpimap run --launcher slurm).
#SBATCH --job-name=mpimap
#SBATCH --ntasks=2
#SBATCH --output=/j/job.log
#SBATCH --error=/j/job.log
#SBATCH --export=ALL
export A=1
export HOME
export EMPTY=''
export X='a b'
export Y=x=y
# More ranks on this node than cores: idle ranks must yield the CPU.
[ 2 -le "$(nproc)" ] || export OMPI_MCA_mpi_yield_when_idle="${OMPI_MCA_mpi_yield_when_idle:-1}"
cd /j || exit 1
srun -n 2 --mpi=pmix /opt/mpimap-worker /j/job.spec
