# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
# env.sh - sourced by the benchmark scripts (not run): the settings of
# tests/meson.build's test_env, for runs by hand, each only where the
# environment does not set it already. Needs $build, the build directory.

: "${MPIMAP_PLUGIN_SYSTEM_PATH=}"
: "${MPIMAP_PLUGIN_PATH=$build/plugins/strategies:$build/plugins/launchers}"
: "${MPIMAP_WORKER=$build/core/mpimap-worker}"
: "${OMPI_ALLOW_RUN_AS_ROOT=1}"
: "${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1}"
: "${OMPI_MCA_pml=ob1}"
: "${OMPI_MCA_oob_tcp_if_include=lo}"
: "${OMPI_MCA_btl_tcp_if_include=lo}"
: "${OMPI_MCA_rmaps_base_oversubscribe=1}"
: "${OMPI_MCA_mpi_yield_when_idle=1}"
export MPIMAP_PLUGIN_SYSTEM_PATH MPIMAP_PLUGIN_PATH MPIMAP_WORKER \
    OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_pml \
    OMPI_MCA_oob_tcp_if_include OMPI_MCA_btl_tcp_if_include \
    OMPI_MCA_rmaps_base_oversubscribe OMPI_MCA_mpi_yield_when_idle
