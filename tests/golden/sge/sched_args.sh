#!/bin/bash
# mpimap job for Grid Engine: submit with qsub
#$ -S /bin/bash
#$ -pe orte 2
#$ -j y
#$ -o /scratch/u1/mpimap-Ab12Cd/job.log
#$ -l h_vmem=2G
#$ -m e

set -e
cd /scratch/u1/mpimap-Ab12Cd
mpirun -np 4 -x MPIMAP_PLUGIN_PATH /opt/mpimap/libexec/mpimap-worker /scratch/u1/mpimap-Ab12Cd/spec
