#!/bin/bash
# mpimap job for PBS/Torque: submit with qsub
#PBS -N mymap
#PBS -l nodes=2:ppn=8
#PBS -l walltime=1:30:30
#PBS -l mem=8gb
#PBS -q batch
#PBS -A proj42
#PBS -v DATA_HOME
#PBS -j oe
#PBS -o /scratch/u1/mpimap-Ab12Cd/job.log
#PBS -m abe
#PBS -l gres=gpu:1
#PBS -W depend=afterok:1233.head

set -e
export OMP_NUM_THREADS=2
export DATA_HOME
export MPIMAP_PLUGIN_PATH=/opt/mpimap/plugins
cd /scratch/u1/mpimap-Ab12Cd
mpirun -np 4 -x MPIMAP_PLUGIN_PATH /opt/mpimap/libexec/mpimap-worker /scratch/u1/mpimap-Ab12Cd/spec
