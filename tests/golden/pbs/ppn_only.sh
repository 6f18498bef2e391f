#!/bin/bash
# mpimap job for PBS/Torque: submit with qsub
#PBS -l nodes=3:ppn=2
#PBS -j oe
#PBS -o /scratch/u1/mpimap-Ab12Cd/job.log

set -e
cd /scratch/u1/mpimap-Ab12Cd
mpirun -np 4 -x MPIMAP_PLUGIN_PATH /opt/mpimap/libexec/mpimap-worker /scratch/u1/mpimap-Ab12Cd/spec
