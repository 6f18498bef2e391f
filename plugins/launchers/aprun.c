/* SPDX-License-Identifier: BSD-3-Clause */
/* aprun.c - the Cray ALPS direct launcher: renders the aprun command line
 * that starts the worker ranks on the compute nodes of a PBS/Moab job. */
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

#define APRUN_PROGRAM "aprun"
/* aprun exists only on Cray systems, where it is the launcher: above
 * mpirun (10, or 12 in a PBS job), below srun inside Slurm (20). */
#define APRUN_PRIORITY 15

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

static int aprun_query(void)
{
    return on_path(APRUN_PROGRAM) ? APRUN_PRIORITY : -1;
}

/* Check the spec before anything is appended. */
static int validate(const struct mpimap_launch_spec *spec, char **error)
{
    if (!spec || spec->size < SPEC_MIN_SIZE)
        return bs_fail(error, "aprun: launch spec is missing or too old");
    if (spec->np < 1)
        return bs_fail(error, "aprun: -n must be at least 1");
    if (spec->nodes < 0)
        return bs_fail(error, "aprun: the number of nodes must not be negative (got %d)",
                    spec->nodes);
    if (spec->ppn < 0)
        return bs_fail(error, "aprun: ranks per node must not be negative (got %d)", spec->ppn);
    if (spec->cpus_per_rank < 0)
        return bs_fail(error, "aprun: cpus per rank must not be negative (got %d)",
                    spec->cpus_per_rank);
    if (spec->nodes > 0 && spec->ppn > 0 &&
        (long long)spec->nodes * spec->ppn != spec->np)
        return bs_fail(error, "aprun: %d nodes x %d ranks per node = %lld ranks, but -n is %d",
                    spec->nodes, spec->ppn, (long long)spec->nodes * spec->ppn, spec->np);
    /* aprun has no node count: nodes become ranks per node (-N). */
    if (spec->nodes > 0 && spec->ppn == 0 && spec->np % spec->nodes != 0)
        return bs_fail(error,
                    "aprun: -n %d does not divide evenly over %d nodes; give ranks per node",
                    spec->np, spec->nodes);
    if (spec->hostfile)
        return bs_fail(error,
                    "aprun: a host file is not supported: aprun runs on the nodes ALPS "
                    "reserved for the job (give --launcher-arg -L --launcher-arg NODES to "
                    "pick some)");
    if (!spec->worker_argv || !spec->worker_argv[0])
        return bs_fail(error, "aprun: no worker program to start");
    for (size_t i = 0; spec->env && spec->env[i]; i++) {
        if (bs_var_len(spec->env[i]) == 0)
            return bs_fail(error, "aprun: not a valid NAME=VALUE environment entry: \"%s\"",
                        spec->env[i]);
    }
    return 0;
}

static int push_args(const struct mpimap_launch_spec *spec, mpimap_strv *argv)
{
    int rc;
    if ((rc = mpimap_strv_push(argv, APRUN_PROGRAM)) < 0 ||
        (rc = mpimap_strv_push(argv, "-n")) < 0 ||
        (rc = mpimap_strv_pushf(argv, "%d", spec->np)) < 0)
        return rc;
    int ppn = spec->ppn;
    if (ppn == 0 && spec->nodes > 0)
        ppn = spec->np / spec->nodes;
    if (ppn > 0 && ((rc = mpimap_strv_push(argv, "-N")) < 0 ||
                    (rc = mpimap_strv_pushf(argv, "%d", ppn)) < 0))
        return rc;
    if (spec->cpus_per_rank > 0 && ((rc = mpimap_strv_push(argv, "-d")) < 0 ||
                                    (rc = mpimap_strv_pushf(argv, "%d", spec->cpus_per_rank)) < 0))
        return rc;
    /* aprun passes its whole environment to the ranks: spec->env needs no
     * option (its names are checked above). */
    for (size_t i = 0; spec->launcher_args && spec->launcher_args[i]; i++)
        if ((rc = mpimap_strv_push(argv, spec->launcher_args[i])) < 0)
            return rc;
    for (size_t i = 0; spec->worker_argv[i]; i++)
        if ((rc = mpimap_strv_push(argv, spec->worker_argv[i])) < 0)
            return rc;
    return 0;
}

static int aprun_render(const struct mpimap_launch_spec *spec, mpimap_strv *argv,
                        char **error)
{
    if (!argv)
        return bs_fail(error, "aprun: no argv to render into");
    int rc = validate(spec, error);
    if (rc < 0)
        return rc;
    size_t n0 = argv->n;
    rc = push_args(spec, argv);
    if (rc < 0)
        mpimap_strv_truncate(argv, n0); /* leave argv as it was */
    return rc;
}

static const struct mpimap_launcher_ops aprun_ops = {
    .size = (uint32_t)sizeof(struct mpimap_launcher_ops),
    .flags = MPIMAP_LAUNCHER_DIRECT,
    .program = APRUN_PROGRAM,
    .render = aprun_render,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_LAUNCHER, "aprun", MPIMAP_VERSION_STRING,
                     "Cray ALPS aprun", NULL, NULL, aprun_query, &aprun_ops);
