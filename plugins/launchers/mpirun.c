/* SPDX-License-Identifier: BSD-3-Clause */
/* mpirun.c - the Open MPI direct launcher: renders the mpirun command line
 * that starts the worker ranks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>

#include "batchscript.h"

#define MPIRUN_PROGRAM "mpirun"
#define MPIRUN_PRIORITY 10
/* Inside a PBS, LSF or Grid Engine job, mpirun is the launcher the job
 * runs its ranks with (Open MPI reads their node lists itself). */
#define MPIRUN_PRIORITY_IN_JOB 12

/* The smallest spec this plugin understands: every field of ABI 1.0. */
#define SPEC_MIN_SIZE \
    (offsetof(struct mpimap_launch_spec, launcher_args) + sizeof(const char *const *))

/* Is name an executable on PATH? */
static int on_path(const char *name)
{
    char *found = mpimap_which(name);
    free(found);
    return found != NULL;
}

static int is_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

static int mpirun_query(void)
{
    if (!on_path(MPIRUN_PROGRAM))
        return -1;
    if (is_set("PBS_JOBID") || is_set("LSB_JOBID") || (is_set("JOB_ID") && is_set("SGE_ROOT")))
        return MPIRUN_PRIORITY_IN_JOB;
    return MPIRUN_PRIORITY;
}

/* Check the spec before anything is appended. */
static int validate(const struct mpimap_launch_spec *spec, char **error)
{
    if (!spec || spec->size < SPEC_MIN_SIZE)
        return bs_fail(error, "mpirun: launch spec is missing or too old");
    if (spec->np < 1)
        return bs_fail(error, "mpirun: -np must be at least 1");
    if (spec->nodes < 0)
        return bs_fail(error, "mpirun: the number of nodes must not be negative (got %d)",
                    spec->nodes);
    if (spec->ppn < 0)
        return bs_fail(error, "mpirun: ranks per node must not be negative (got %d)",
                    spec->ppn);
    if (spec->cpus_per_rank < 0)
        return bs_fail(error, "mpirun: cpus per rank must not be negative (got %d)",
                    spec->cpus_per_rank);
    if (spec->nodes > 0 && spec->ppn > 0 &&
        (long long)spec->nodes * spec->ppn != spec->np)
        return bs_fail(error,
                    "mpirun: %d nodes x %d ranks per node = %lld ranks, but -np is %d",
                    spec->nodes, spec->ppn, (long long)spec->nodes * spec->ppn,
                    spec->np);
    if (spec->nodes > 0 && spec->ppn == 0 && spec->np % spec->nodes != 0)
        return bs_fail(error,
                    "mpirun: -np %d does not divide evenly over %d nodes; give ranks per node",
                    spec->np, spec->nodes);
    if (!spec->worker_argv || !spec->worker_argv[0])
        return bs_fail(error, "mpirun: no worker program to start");
    for (size_t i = 0; spec->env && spec->env[i]; i++) {
        if (bs_var_len(spec->env[i]) == 0)
            return bs_fail(error, "mpirun: not a valid NAME=VALUE environment entry: \"%s\"",
                        spec->env[i]);
    }
    return 0;
}

static int push_args(const struct mpimap_launch_spec *spec, mpimap_strv *argv)
{
    int rc;
    if ((rc = mpimap_strv_push(argv, MPIRUN_PROGRAM)) < 0 ||
        (rc = mpimap_strv_push(argv, "-np")) < 0 ||
        (rc = mpimap_strv_pushf(argv, "%d", spec->np)) < 0)
        return rc;
    if (spec->slots > 0 && spec->np > spec->slots &&
        (rc = mpimap_strv_push(argv, "--oversubscribe")) < 0)
        return rc;
    if (spec->hostfile && ((rc = mpimap_strv_push(argv, "--hostfile")) < 0 ||
                           (rc = mpimap_strv_push(argv, spec->hostfile)) < 0))
        return rc;

    /* One --map-by at most: Open MPI rejects a repeated one, so ranks per
     * node and cpus per rank share it (ppr:P:node:PE=C). */
    int ppn = spec->ppn;
    if (ppn == 0 && spec->nodes > 0)
        ppn = spec->np / spec->nodes;
    if (ppn > 0 || spec->cpus_per_rank > 0) {
        if ((rc = mpimap_strv_push(argv, "--map-by")) < 0)
            return rc;
        if (ppn > 0 && spec->cpus_per_rank > 0)
            rc = mpimap_strv_pushf(argv, "ppr:%d:node:PE=%d", ppn, spec->cpus_per_rank);
        else if (ppn > 0)
            rc = mpimap_strv_pushf(argv, "ppr:%d:node", ppn);
        else
            rc = mpimap_strv_pushf(argv, "slot:PE=%d", spec->cpus_per_rank);
        if (rc < 0)
            return rc;
    }

    for (size_t i = 0; spec->env && spec->env[i]; i++) {
        size_t n = bs_var_len(spec->env[i]);
        if ((rc = mpimap_strv_push(argv, "-x")) < 0 ||
            (rc = mpimap_strv_pushf(argv, "%.*s", (int)n, spec->env[i])) < 0)
            return rc;
    }
    for (size_t i = 0; spec->launcher_args && spec->launcher_args[i]; i++)
        if ((rc = mpimap_strv_push(argv, spec->launcher_args[i])) < 0)
            return rc;
    for (size_t i = 0; spec->worker_argv[i]; i++)
        if ((rc = mpimap_strv_push(argv, spec->worker_argv[i])) < 0)
            return rc;
    return 0;
}

static int mpirun_render(const struct mpimap_launch_spec *spec, mpimap_strv *argv,
                         char **error)
{
    if (!argv)
        return bs_fail(error, "mpirun: no argv to render into");
    int rc = validate(spec, error);
    if (rc < 0)
        return rc;
    size_t n0 = argv->n;
    rc = push_args(spec, argv);
    if (rc < 0)
        mpimap_strv_truncate(argv, n0); /* leave argv as it was */
    return rc;
}

static const struct mpimap_launcher_ops mpirun_ops = {
    .size = (uint32_t)sizeof(struct mpimap_launcher_ops),
    .flags = MPIMAP_LAUNCHER_DIRECT,
    .program = MPIRUN_PROGRAM,
    .render = mpirun_render,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_LAUNCHER, "mpirun", MPIMAP_VERSION_STRING,
                     "Open MPI mpirun/mpiexec", NULL, NULL, mpirun_query,
                     &mpirun_ops);
