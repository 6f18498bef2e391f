#!/bin/bash
# An mpimap job for Slurm: submit with sbatch (mpimap run --launcher slurm).
#SBATCH --job-name='it'\''s `id` # ; & |'
#SBATCH --ntasks=3
#SBATCH --partition='q '\''x'\'''
#SBATCH --qos='a"b'
#SBATCH --account='$(touch /tmp/pwned)'
#SBATCH --reservation='r;r'
#SBATCH --mem='1G $(x)'
#SBATCH --output=/j/job.log
#SBATCH --error=/j/job.log
#SBATCH --export=ALL
#SBATCH '--comment=$(id) '\''q'\'' "d" # not a comment'
export H1='$(touch /tmp/pwned)'
export H2='`id`
'\'''
export H3='\"\'
# More ranks on this node than cores: idle ranks must yield the CPU.
[ 3 -le "$(nproc)" ] || export OMPI_MCA_mpi_yield_when_idle="${OMPI_MCA_mpi_yield_when_idle:-1}"
cd /j || exit 1
srun -n 2 --mpi=pmix /opt/mpimap-worker /j/job.spec
