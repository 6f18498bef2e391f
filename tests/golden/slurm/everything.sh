#!/bin/bash
# An mpimap job for Slurm: submit with sbatch (mpimap run --launcher slurm).
#SBATCH --job-name=sweep
#SBATCH --ntasks=8
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --cpus-per-task=2
#SBATCH --time=0:05:00
#SBATCH --partition=batch
#SBATCH --qos=high
#SBATCH --account=acct
#SBATCH --reservation=resv
#SBATCH --mem=500M
#SBATCH --output=/j/job.log
#SBATCH --error=/j/job.log
#SBATCH --export=ALL
#SBATCH --exclusive
export OMP_NUM_THREADS=2
export MPIMAP_PLUGIN_PATH=/opt/p:/opt/q
# More ranks on this node than cores: idle ranks must yield the CPU.
[ 4 -le "$(nproc)" ] || export OMPI_MCA_mpi_yield_when_idle="${OMPI_MCA_mpi_yield_when_idle:-1}"
cd /j || exit 1
srun -n 2 --mpi=pmix /opt/mpimap-worker /j/job.spec
