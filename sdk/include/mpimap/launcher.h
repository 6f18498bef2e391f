/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mpimap/launcher.h - the ops table of a launcher plugin.
 *
 * A launcher decides how the MPI job that runs the worker is started.
 * A *direct* launcher renders the command line that starts the ranks
 * (mpirun, srun, aprun); the driver runs it. An *in-process* launcher
 * (serial) asks the driver to run the map in its own process, without MPI.
 * A *batch* launcher (a scheduler: slurm, pbs, moab, lsf, sge) wraps the
 * command of an inner direct launcher in a job script, and renders the
 * commands that submit, query and cancel the job; the driver runs them and
 * the launcher parses their output. Every hook is a pure function of its
 * arguments (no process is started by a plugin), so a launcher is tested by
 * the text it renders.
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
/* Drop the entries from index n on (a no-op when there are n or fewer):
 * undo what a failed render appended. */
void mpimap_strv_truncate(mpimap_strv *sv, size_t n);

/* The full path of program as the shell would find it on PATH (a regular,
 * executable file; PATH unset means the system's default path), or NULL.
 * A name with a '/' is checked as it is. malloc'd. */
char *mpimap_which(const char *program);

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
    /* ---- ABI 1.1: scheduler resources (NULL or 0 = not given) ---------- */
    long walltime;            /* seconds */
    const char *queue;        /* queue or partition */
    const char *qos;
    const char *account;
    const char *job_name;
    const char *reservation;
    const char *mem;          /* per node, as the user wrote it: 4G, 500M */
    const char *const *exports;    /* NULL-terminated: VAR or VAR=VALUE */
    const char *const *sched_args; /* NULL-terminated: passed as directives */
    /* Batch only: the inner launcher's command as shell text (already
     * quoted), and the file for the job's standard output and error. */
    const char *inner_command;
    const char *log_path;
};

enum mpimap_launcher_flags {
    MPIMAP_LAUNCHER_DIRECT = 1u << 0,    /* render() gives a command to run */
    MPIMAP_LAUNCHER_INPROCESS = 1u << 1, /* the driver runs the map itself */
    MPIMAP_LAUNCHER_BATCH = 1u << 2,     /* script() and the job hooks below */
    MPIMAP_LAUNCHER_SCRIPT_ON_STDIN = 1u << 3 /* batch: the driver feeds the
                                            * script file on the submit
                                            * command's standard input
                                            * (`bsub < script`) */
};

/* A batch job's state, as parse_state() reads it. */
enum mpimap_job_state {
    MPIMAP_JOB_QUEUED = 1,   /* waiting in the queue (or held) */
    MPIMAP_JOB_RUNNING = 2,
    MPIMAP_JOB_DONE = 3,     /* ended, or no longer known to the scheduler:
                              * the job directory tells how the map went */
    MPIMAP_JOB_FAILED = 4,   /* ended by the scheduler: node failure, ... */
    MPIMAP_JOB_CANCELLED = 5,
    MPIMAP_JOB_TIMEOUT = 6   /* killed at its walltime */
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
    /* ---- ABI 1.1: batch launchers ------------------------------------- */
    /* The direct launcher that runs inside the job unless --via names
     * another ("srun" for slurm, "mpirun" for the others). */
    const char *inner;
    /* The whole job script (a shebang, the directives, then the exports, a
     * cd to the submit directory and spec->inner_command), malloc'd. An
     * option the scheduler has no equivalent for is MPIMAP_EINVAL with a
     * message naming it, never silently dropped. */
    int (*script)(const struct mpimap_launch_spec *spec, char **text, char **error);
    /* The command that submits the script at script_path. */
    int (*submit)(const struct mpimap_launch_spec *spec, const char *script_path,
                  mpimap_strv *argv, char **error);
    /* The job id from the submit command's standard output (malloc'd). */
    int (*parse_jobid)(const char *out, char **jobid, char **error);
    /* The command that asks the scheduler about the job. */
    int (*query_job)(const char *jobid, mpimap_strv *argv);
    /* The state from that command's exit status and standard output;
     * *detail (malloc'd, may stay NULL) says more, e.g. the node list or
     * the scheduler's reason. */
    int (*parse_state)(int exit_status, const char *out, int *state, char **detail);
    /* The command that cancels the job. */
    int (*cancel)(const char *jobid, mpimap_strv *argv);
    /* ---- ABI 1.2: the job's end time ---------------------------------- */
    /* Optional (NULL: the driver counts the walltime it asked for from the
     * moment it first sees the job running). From query_job's exit status
     * and output, with now the current time (seconds since the epoch):
     * *end, the time the scheduler will kill a running job at its
     * walltime (seconds since the epoch), or 0 when the output does not
     * say (no limit, not running). 0, or MPIMAP_EINVAL when the output
     * cannot be read. */
    int (*parse_end_time)(int exit_status, const char *out, int64_t now, int64_t *end);
};

#ifdef __cplusplus
}
#endif

#endif /* MPIMAP_LAUNCHER_H */
