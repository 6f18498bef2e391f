#!/bin/bash
# mpimap job for LSF: submit with bsub < this file
#BSUB -n 2
#BSUB -o /scratch/u1/mpimap-Ab12Cd/job.log
#BSUB -sla gold
#BSUB -R "select[type==X86_64]"
#BSUB -B

set -e
cd /scratch/u1/mpimap-Ab12Cd
mpirun -np 4 -x MPIMAP_PLUGIN_PATH /opt/mpimap/libexec/mpimap-worker /scratch/u1/mpimap-Ab12Cd/spec
