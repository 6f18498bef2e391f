/* SPDX-License-Identifier: BSD-3-Clause */
/* srun.c - the Slurm direct launcher: renders the srun command line that
 * starts the worker ranks as a job step of the allocation it runs in. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mpi.h> /* only to know which MPI the worker is built with */

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>

#include "batchscript.h"

#define SRUN_PROGRAM "srun"
#define SRUN_PRIORITY 20 /* inside an allocation srun beats mpirun (10, 12) */

/* The PMI plugin srun starts the ranks with: Debian's Open MPI works under
 * --mpi=pmix, not pmi2; MPICH takes pmi2. --launcher-arg --mpi=... comes
 * later on the command line and wins. */
#if defined(OPEN_MPI)
#define SRUN_MPI "--mpi=pmix"
#elif defined(MPICH)
#define SRUN_MPI "--mpi=pmi2"
#endif

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

/* Usable only inside a Slurm allocation (a batch job, salloc): outside
 * one, srun would queue a job of its own. */
static int srun_query(void)
{
    const char *job = getenv("SLURM_JOB_ID");
    if (!job || !*job)
        return -1;
    return on_path(SRUN_PROGRAM) ? SRUN_PRIORITY : -1;
}

/* Check the spec before anything is appended. */
static int validate(const struct mpimap_launch_spec *spec, char **error)
{
    if (!spec || spec->size < SPEC_MIN_SIZE)
        return bs_fail(error, "srun: launch spec is missing or too old");
    if (spec->np < 1)
        return bs_fail(error, "srun: -n must be at least 1");
    if (spec->nodes < 0)
        return bs_fail(error, "srun: the number of nodes must not be negative (got %d)",
                    spec->nodes);
    if (spec->ppn < 0)
        return bs_fail(error, "srun: ranks per node must not be negative (got %d)", spec->ppn);
    if (spec->cpus_per_rank < 0)
        return bs_fail(error, "srun: cpus per rank must not be negative (got %d)",
                    spec->cpus_per_rank);
    if (spec->nodes > 0 && spec->ppn > 0 &&
        (long long)spec->nodes * spec->ppn != spec->np)
        return bs_fail(error, "srun: %d nodes x %d ranks per node = %lld ranks, but -n is %d",
                    spec->nodes, spec->ppn, (long long)spec->nodes * spec->ppn, spec->np);
    /* Slurm spreads -n unevenly over -N nodes, but not over more nodes
     * than ranks. */
    if (spec->nodes > spec->np)
        return bs_fail(error, "srun: %d nodes for %d ranks: a node would have no rank",
                    spec->nodes, spec->np);
    if (spec->hostfile)
        return bs_fail(error,
                    "srun: a host file is not supported: srun runs on the nodes of the "
                    "Slurm allocation (give --launcher-arg --nodelist=HOSTS to pick some)");
    if (!spec->worker_argv || !spec->worker_argv[0])
        return bs_fail(error, "srun: no worker program to start");
    for (size_t i = 0; spec->env && spec->env[i]; i++) {
        if (bs_var_len(spec->env[i]) == 0)
            return bs_fail(error, "srun: not a valid NAME=VALUE environment entry: \"%s\"",
                        spec->env[i]);
    }
    return 0;
}

static int push_args(const struct mpimap_launch_spec *spec, mpimap_strv *argv)
{
    int rc;
    if ((rc = mpimap_strv_push(argv, SRUN_PROGRAM)) < 0 ||
        (rc = mpimap_strv_push(argv, "-n")) < 0 ||
        (rc = mpimap_strv_pushf(argv, "%d", spec->np)) < 0)
        return rc;
    if (spec->nodes > 0 && ((rc = mpimap_strv_push(argv, "-N")) < 0 ||
                            (rc = mpimap_strv_pushf(argv, "%d", spec->nodes)) < 0))
        return rc;
    if (spec->ppn > 0 &&
        (rc = mpimap_strv_pushf(argv, "--ntasks-per-node=%d", spec->ppn)) < 0)
        return rc;
    if (spec->cpus_per_rank > 0 &&
        (rc = mpimap_strv_pushf(argv, "--cpus-per-task=%d", spec->cpus_per_rank)) < 0)
        return rc;
#ifdef SRUN_MPI
    if ((rc = mpimap_strv_push(argv, SRUN_MPI)) < 0)
        return rc;
#endif
    /* The whole environment goes to the ranks (srun's default, said out
     * loud: a site may change the default with SLURM_EXPORT_ENV), so the
     * variables of spec->env reach them with their values here. */
    if ((rc = mpimap_strv_push(argv, "--export=ALL")) < 0)
        return rc;
    for (size_t i = 0; spec->launcher_args && spec->launcher_args[i]; i++)
        if ((rc = mpimap_strv_push(argv, spec->launcher_args[i])) < 0)
            return rc;
    for (size_t i = 0; spec->worker_argv[i]; i++)
        if ((rc = mpimap_strv_push(argv, spec->worker_argv[i])) < 0)
            return rc;
    return 0;
}

static int srun_render(const struct mpimap_launch_spec *spec, mpimap_strv *argv,
                       char **error)
{
    if (!argv)
        return bs_fail(error, "srun: no argv to render into");
    int rc = validate(spec, error);
    if (rc < 0)
        return rc;
    size_t n0 = argv->n;
    rc = push_args(spec, argv);
    if (rc < 0)
        mpimap_strv_truncate(argv, n0); /* leave argv as it was */
    return rc;
}

static const struct mpimap_launcher_ops srun_ops = {
    .size = (uint32_t)sizeof(struct mpimap_launcher_ops),
    .flags = MPIMAP_LAUNCHER_DIRECT,
    .program = SRUN_PROGRAM,
    .render = srun_render,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_LAUNCHER, "srun", MPIMAP_VERSION_STRING,
                     "Slurm srun, inside an allocation", NULL, NULL, srun_query,
                     &srun_ops);
