#!/bin/bash
# mpimap job for Moab: submit with msub
#MSUB -N mymap
#MSUB -l nodes=2:ppn=8
#MSUB -l walltime=1:30:30
#MSUB -l mem=8gb
#MSUB -l qos=high
#MSUB -l advres=resv7
#MSUB -q batch
#MSUB -A proj42
#MSUB -v DATA_HOME
#MSUB -j oe
#MSUB -o /scratch/u1/mpimap-Ab12Cd/job.log
#MSUB -m abe
#MSUB -l feature=fast

set -e
export OMP_NUM_THREADS=2
export DATA_HOME
export MPIMAP_PLUGIN_PATH=/opt/mpimap/plugins
cd /scratch/u1/mpimap-Ab12Cd
mpirun -np 4 -x MPIMAP_PLUGIN_PATH /opt/mpimap/libexec/mpimap-worker /scratch/u1/mpimap-Ab12Cd/spec
