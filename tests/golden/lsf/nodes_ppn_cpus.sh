#!/bin/bash
# mpimap job for LSF: submit with bsub < this file
#BSUB -n 12
#BSUB -R "span[ptile=6]"
#BSUB -o /scratch/u1/mpimap-Ab12Cd/job.log

set -e
cd /scratch/u1/mpimap-Ab12Cd
mpirun -np 4 -x MPIMAP_PLUGIN_PATH /opt/mpimap/libexec/mpimap-worker /scratch/u1/mpimap-Ab12Cd/spec
