#!/bin/bash
# mpimap job for Moab: submit with msub
#MSUB -l nodes=1:ppn=4
#MSUB -j oe
#MSUB -o /scratch/u1/mpimap-Ab12Cd/job.log

set -e
cd /scratch/u1/mpimap-Ab12Cd
mpirun -np 4 -x MPIMAP_PLUGIN_PATH /opt/mpimap/libexec/mpimap-worker /scratch/u1/mpimap-Ab12Cd/spec
