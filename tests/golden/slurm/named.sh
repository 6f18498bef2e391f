#!/bin/bash
# An mpimap job for Slurm: submit with sbatch (mpimap run --launcher slurm).
#SBATCH --job-name=my-map
#SBATCH --ntasks=2
#SBATCH --partition=debug
#SBATCH --qos=normal
#SBATCH --account=proj42
#SBATCH --reservation=maint
#SBATCH --mem=4G
#SBATCH --output=/j/job.log
#SBATCH --error=/j/job.log
#SBATCH --export=ALL
# More ranks on this node than cores: idle ranks must yield the CPU.
[ 2 -le "$(nproc)" ] || export OMPI_MCA_mpi_yield_when_idle="${OMPI_MCA_mpi_yield_when_idle:-1}"
cd /j || exit 1
srun -n 2 --mpi=pmix /opt/mpimap-worker /j/job.spec
