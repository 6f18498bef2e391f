/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mpimap/launcher.h - the ops table of a launcher plugin.
 *
 * A launcher decides how the MPI job that runs the worker is started.
 * A *direct* launcher renders the command line that starts the ranks
 * (mpirun, srun, aprun); the driver runs it. An *in-process* launcher
 * (serial) asks the driver to run the map in its own process, without MPI.
 * Batch launchers (schedulers) wrap a direct launcher's command in a job
 * script; their ops are appended in a later minor version.
 *
 * A launcher's query hook (in the descriptor) scores its environment for
 * auto-selection: negative = unusable here, higher wins.
 */
#ifndef MPIMAP_LAUNCHER_H
#define MPIMAP_LAUNCHER_H

#include <stddef.h>
#include <stdint.h>

#include <mpimap/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A growable, NULL-terminated vector of strings (an argv). Start it
 * zeroed; release it with mpimap_strv_free(). */
typedef struct mpimap_strv {
    char **v;   /* v[n] == NULL once anything was pushed */
    size_t n;
    size_t cap;
} mpimap_strv;

int mpimap_strv_push(mpimap_strv *sv, const char *s);
int mpimap_strv_pushf(mpimap_strv *sv, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void mpimap_strv_free(mpimap_strv *sv);

/* What the driver asks a launcher to start. Read only fields within
 * size; new fields are appended. */
struct mpimap_launch_spec {
    uint32_t size;        /* sizeof(struct mpimap_launch_spec) of the driver */
    int np;               /* number of ranks (>= 1) */
    int nodes;            /* 0 = not given */
    int ppn;              /* ranks per node, 0 = not given */
    int cpus_per_rank;    /* 0 = not given */
    int slots;            /* CPUs the launcher may assume on this host */
    const char *hostfile; /* or NULL */
    const char *jobdir;   /* the job directory (absolute) */
    const char *const *worker_argv;   /* NULL-terminated: worker and its args */
    const char *const *env;           /* NULL-terminated NAME=VALUE to export */
    const char *const *launcher_args; /* NULL-terminated, --launcher-arg */
};

enum mpimap_launcher_flags {
    MPIMAP_LAUNCHER_DIRECT = 1u << 0,    /* render() gives a command to run */
    MPIMAP_LAUNCHER_INPROCESS = 1u << 1, /* the driver runs the map itself */
    MPIMAP_LAUNCHER_BATCH = 1u << 2      /* reserved for scheduler launchers */
};

struct mpimap_launcher_ops {
    uint32_t size;        /* sizeof(struct mpimap_launcher_ops) of the plugin */
    uint32_t flags;       /* enum mpimap_launcher_flags */
    const char *program;  /* the program it starts, looked up on PATH, or NULL */
    /* Direct launchers: append the full command line that starts
     * spec->np ranks of spec->worker_argv to *argv (argv[0] is the
     * launcher program as found on PATH, or its bare name). On a bad spec
     * return MPIMAP_EINVAL and set *error to a malloc'd message. */
    int (*render)(const struct mpimap_launch_spec *spec, mpimap_strv *argv,
                  char **error);
};

#ifdef __cplusplus
}
#endif

#endif /* MPIMAP_LAUNCHER_H */
