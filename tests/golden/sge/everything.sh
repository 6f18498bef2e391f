#!/bin/bash
# mpimap job for Grid Engine: submit with qsub
#$ -S /bin/bash
#$ -N mymap
#$ -pe orte 16
#$ -l h_rt=1:30:30
#$ -q batch
#$ -A proj42
#$ -ar resv7
#$ -v DATA_HOME
#$ -j y
#$ -o /scratch/u1/mpimap-Ab12Cd/job.log
#$ -l h_vmem=2G
#$ -m e

set -e
export OMP_NUM_THREADS=2
export DATA_HOME
export MPIMAP_PLUGIN_PATH=/opt/mpimap/plugins
cd /scratch/u1/mpimap-Ab12Cd
mpirun -np 4 -x MPIMAP_PLUGIN_PATH /opt/mpimap/libexec/mpimap-worker /scratch/u1/mpimap-Ab12Cd/spec
