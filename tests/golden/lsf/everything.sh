#!/bin/bash
# mpimap job for LSF: submit with bsub < this file
#BSUB -J mymap
#BSUB -n 16
#BSUB -R "span[ptile=8] rusage[mem=4GB/host]"
#BSUB -W 1:31
#BSUB -q batch
#BSUB -P proj42
#BSUB -U resv7
#BSUB -o /scratch/u1/mpimap-Ab12Cd/job.log
#BSUB -sla gold
#BSUB -R "select[type==X86_64]"
#BSUB -B

set -e
export OMP_NUM_THREADS=2
export DATA_HOME
export MPIMAP_PLUGIN_PATH=/opt/mpimap/plugins
cd /scratch/u1/mpimap-Ab12Cd
mpirun -np 4 -x MPIMAP_PLUGIN_PATH /opt/mpimap/libexec/mpimap-worker /scratch/u1/mpimap-Ab12Cd/spec
