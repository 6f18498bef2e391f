#!/bin/bash
# mpimap job for Moab: submit with msub
#MSUB -N 'n'\''; touch /nonexistent/canary; '\'''
#MSUB -l nodes=1:ppn=2
#MSUB -q 'q $(touch /nonexistent/canary) "x"'
#MSUB -A '`touch /nonexistent/canary`;&|<>'
#MSUB -v BARE_VAR
#MSUB -j oe
#MSUB -o '/scratch/u1/job dir '\''sq'\'' "dq" `touch /nonexistent/canary` ;&|<>/job.log'

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
