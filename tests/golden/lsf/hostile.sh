#!/bin/bash
# mpimap job for LSF: submit with bsub < this file
#BSUB -J 'n'\''; touch /nonexistent/canary; '\'''
#BSUB -n 2
#BSUB -q 'q $(touch /nonexistent/canary) "x"'
#BSUB -P '`touch /nonexistent/canary`;&|<>'
#BSUB -o '/scratch/u1/job dir '\''sq'\'' "dq" `touch /nonexistent/canary` ;&|<>/job.log'

set -e
export SQ='it'\''s'
export CMD='$(touch /nonexistent/canary)'
export BQ='`touch /nonexistent/canary`'
export NL='line1
touch /nonexistent/canary
line3'
export SEMI='x; touch /nonexistent/canary; y'
export DQ='"$(touch /nonexistent/canary)" '\''$(touch /nonexistent/canary)'\'''
export SP='  two  spaces	and a tab '
export EMPTY=''
export GLOB='*?[a]'
export BANG='!! !$'
export EQ=a=b=c
export UTF='héllo ✓'
export BARE_VAR
cd '/scratch/u1/job dir '\''sq'\'' "dq" `touch /nonexistent/canary` ;&|<>'
mpirun -np 4 -x MPIMAP_PLUGIN_PATH /opt/mpimap/libexec/mpimap-worker /scratch/u1/mpimap-Ab12Cd/spec
