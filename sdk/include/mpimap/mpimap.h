/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mpimap/mpimap.h - the user API of mpimap.
 *
 * Three ways in, one engine:
 *   - item handlers (mpimap_fn) that `mpimap run --function lib.so:symbol`
 *     calls once per work item;
 *   - mpimap_map(): a collective parallel map "in the raw", inside the
 *     user's own MPI program;
 *   - mpimap_ezmap(): the same as `mpimap run` from a C program (launches
 *     the job, waits, returns the results), with a non-blocking form.
 *
 * Every function returns 0 or a negative MPIMAP_E* code; mpimap_strerror()
 * names the code.
 */
#ifndef MPIMAP_MPIMAP_H
#define MPIMAP_MPIMAP_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPIMAP_VERSION_STRING "0.1.0"

/* ---- Error codes -------------------------------------------------------- */

enum mpimap_error {
    MPIMAP_OK = 0,
    MPIMAP_ENOMEM = -1,    /* out of memory */
    MPIMAP_EINVAL = -2,    /* invalid argument or malformed input */
    MPIMAP_ENOTFOUND = -3, /* no such plugin, file, symbol or item */
    MPIMAP_EABI = -4,      /* plugin built for an incompatible ABI */
    MPIMAP_ELOAD = -5,     /* a shared object could not be loaded */
    MPIMAP_EIO = -6,       /* reading or writing a file failed */
    MPIMAP_EMPI = -7,      /* an MPI call failed */
    MPIMAP_ELAUNCH = -8,   /* the job could not be started */
    MPIMAP_EITEMS = -9,    /* the map ran, but some items failed */
    MPIMAP_ECRASH = -10,   /* a rank died during the map */
    MPIMAP_EDECLINED = -11,/* a plugin's init hook declined */
    MPIMAP_ECANCELED = -12,/* the job was cancelled */
    MPIMAP_EBUSY = -13     /* not finished yet (mpimap_ezmap_poll) */
};

/* A static, human-readable name for an error code. */
const char *mpimap_strerror(int code);

/* The library's version ("0.1.0"). */
const char *mpimap_version(void);

/* ---- Item handlers ------------------------------------------------------ */

/* One work item: its bytes and its index in the input (0-based). The
 * engine always puts a '\0' after the bytes (data[len] == '\0', not counted
 * in len), so a text item can be used as a C string; an item may still
 * contain NUL bytes of its own (with --null or --binary framing). */
typedef struct mpimap_item {
    const void *data;
    size_t len;
    uint64_t index;
} mpimap_item;

/* Where a handler writes its item's result; opaque. */
typedef struct mpimap_result mpimap_result;

/* Append bytes to this item's result. A handler writes only the record's
 * body: the engine adds the framing (newline, NUL or length). */
int mpimap_result_write(mpimap_result *res, const void *data, size_t len);

/* Mark this item failed, with a reason (printf-style). Its output record
 * stays empty; the reason goes to the joblog and the summary. */
int mpimap_result_fail(mpimap_result *res, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A function item handler. Return 0 for success; a non-zero return marks
 * the item failed (with "handler returned N" unless mpimap_result_fail()
 * already gave a reason). */
typedef int (*mpimap_fn)(const mpimap_item *item, mpimap_result *res, void *arg);

/* The handler ABI. Every object that includes this header carries a weak
 * marker, mpimap_handler_abi, with the ABI it was compiled for; `mpimap run
 * --function` refuses a library whose marker differs from its own. Bump it
 * when mpimap_item, mpimap_fn or the result calls change incompatibly. */
#define MPIMAP_HANDLER_ABI 1u
#if defined(__GNUC__) && !defined(__cplusplus) && !defined(MPIMAP_NO_ABI_MARKER)
__attribute__((weak, visibility("default"))) const unsigned mpimap_handler_abi =
    MPIMAP_HANDLER_ABI;
#endif

/* The optional per-rank set-up named by `--function-init SYMBOL`: called
 * once per rank before the first item; *arg is passed to every call of the
 * handler on that rank. Return 0 for success. */
typedef int (*mpimap_fn_init)(void **arg);

/* ---- In the raw: a collective map inside the user's MPI program --------- */

/* What one item gave. */
typedef struct mpimap_outcome {
    void *data;   /* the result's bytes (NULL when empty); malloc'd */
    size_t len;
    int status;   /* 0 = ok, MPIMAP_EITEMS = the item failed */
    char *reason; /* why it failed, or NULL; malloc'd */
} mpimap_outcome;

/* Options for mpimap_map(); zero-initialise, then set what you need. */
typedef struct mpimap_map_options {
    size_t chunk; /* items per dispatch for strategies that deal (0 = automatic) */
    int root;     /* the rank that holds the items and gets the results */
} mpimap_map_options;

/*
 * mpimap_map - map fn over items across every rank of comm (collective).
 *
 * Every rank of comm calls it with the same strategy name ("pool",
 * "scatter", ...). items/nitems are read at the root only (the others may
 * pass NULL, 0). At the root, *outcomes receives nitems outcomes in input
 * order (free them with mpimap_outcomes_free()); elsewhere it is set to NULL.
 * opts may be NULL (automatic chunk, root 0).
 *
 * Returns 0 when every item succeeded, MPIMAP_EITEMS (at the root) when some
 * failed (the others' results are all there), or another negative code.
 * MPI must be initialised. Example:
 *
 *   static int square(const mpimap_item *it, mpimap_result *res, void *arg) {
 *       long x = strtol(it->data, NULL, 10);    // data[len] is always '\0'
 *       char buf[32]; int n = snprintf(buf, sizeof buf, "%ld", x * x);
 *       return mpimap_result_write(res, buf, (size_t)n);
 *   }
 *   ...
 *   mpimap_item items[3] = {{"1", 1, 0}, {"2", 1, 1}, {"3", 1, 2}};
 *   mpimap_outcome *out = NULL;
 *   int rc = mpimap_map(MPI_COMM_WORLD, "pool", square, NULL,
 *                       rank == 0 ? items : NULL, rank == 0 ? 3 : 0, NULL, &out);
 *   if (rank == 0 && rc >= 0) { ... out[i].data ... }
 *   mpimap_outcomes_free(out, rank == 0 ? 3 : 0);
 */
int mpimap_map(MPI_Comm comm, const char *strategy, mpimap_fn fn, void *arg,
               const mpimap_item *items, size_t nitems,
               const mpimap_map_options *opts, mpimap_outcome **outcomes);

void mpimap_outcomes_free(mpimap_outcome *outcomes, size_t n);

/* ---- ezmap: the same as `mpimap run`, from a C program ----------------- */

/* How work items and results are framed in files (the same for both). */
enum mpimap_framing {
    MPIMAP_FRAME_LINE = 0,  /* one item per line, without its newline */
    MPIMAP_FRAME_NUL = 1,   /* NUL-terminated items (-0/--null) */
    MPIMAP_FRAME_BINARY = 2 /* little-endian u64 length, then the bytes */
};

/* Options for mpimap_ezmap(); zero-initialise, then set what you need. */
typedef struct mpimap_ezmap_options {
    int np;                   /* ranks; 0 = the number of CPUs here */
    const char *strategy;     /* NULL = "pool" */
    size_t chunk;             /* 0 = automatic */
    const char *launcher;     /* NULL = the best launcher found here */
    const char *function;     /* "path/to/lib.so:symbol", or NULL ... */
    const char *function_init;/* optional per-rank set-up symbol */
    const char *const *command; /* ... or a command (NULL-terminated argv
                                 * with {} / {1} {2} placeholders) */
    int shell;                /* run command[0] as a /bin/sh script, item as $1 */
    const char *colsep;       /* split items into fields for {1} {2} ... */
    int framing;              /* enum mpimap_framing of input and output files */
    int unordered;            /* results in completion order, with indices */
    const char *input;        /* input file; NULL = the items passed in memory */
    const char *output;       /* output file; NULL = results returned in memory */
    const char *joblog;       /* a line per item, or NULL */
    const char *workdir;      /* where the job directory goes; NULL = $TMPDIR */
    const char *hostfile;     /* for launchers that take one, or NULL */
    const char *const *launcher_args; /* NULL-terminated extra launcher args */
    int progress;             /* keep a progress file (mpimap_ezmap_progress) */
    /* Resources, for launchers that take them (0 / NULL = not given). */
    int nodes;                /* nodes */
    int ppn;                  /* ranks per node */
    int cpus_per_rank;
    long walltime;            /* seconds */
    const char *queue, *qos, *account, *job_name, *reservation;
    const char *mem;          /* per node: 4G, 500M */
    const char *const *exports;    /* NULL-terminated: VAR or VAR=VALUE */
    const char *const *sched_args; /* NULL-terminated scheduler directives */
    const char *via;          /* batch launchers: the direct launcher inside
                               * the job (NULL = the scheduler's default) */
    /* Failures (see `mpimap run --help`). */
    int retries;              /* run a failed item up to this many more times */
    double timeout;           /* seconds an item may run; 0 = no limit */
    int max_restarts;         /* restarts after a dead rank; 0 = 2, < 0 = none */
    int no_journal;           /* keep no journal: nothing can be resumed */
} mpimap_ezmap_options;

/* A started map; opaque. */
typedef struct mpimap_job mpimap_job;

/*
 * mpimap_ezmap - launch a map as `mpimap run` does, wait, return results.
 *
 * Items come from opts->input, or from items/nitems when opts->input is
 * NULL (they are written to the job directory, framed as binary records).
 * Results go to opts->output, or, when it is NULL (which needs items in
 * memory), come back in *outcomes (*noutcomes of them, in input order; free
 * with mpimap_outcomes_free()). Returns 0, MPIMAP_EITEMS when some items
 * failed (all other results are there), or another negative code. Example:
 *
 *   const char *cmd[] = {"sh", "-c", "printf %s \"$0\" | tr a-z A-Z", "{}", NULL};
 *   mpimap_ezmap_options o = {0};
 *   o.np = 2;
 *   o.command = cmd;
 *   mpimap_item items[2] = {{"ab", 2, 0}, {"cd", 2, 1}};
 *   mpimap_outcome *out; size_t n;
 *   if (mpimap_ezmap(&o, items, 2, &out, &n) == 0)
 *       printf("%.*s\n", (int)out[1].len, (char *)out[1].data);   // CD
 *   mpimap_outcomes_free(out, n);
 */
int mpimap_ezmap(const mpimap_ezmap_options *opts, const mpimap_item *items,
                 size_t nitems, mpimap_outcome **outcomes, size_t *noutcomes);

/* The non-blocking form: start returns once the job is launched. */
int mpimap_ezmap_start(const mpimap_ezmap_options *opts, const mpimap_item *items,
                       size_t nitems, mpimap_job **job);
/* 0 (or MPIMAP_EITEMS, or an error) when finished, MPIMAP_EBUSY while running. */
int mpimap_ezmap_poll(mpimap_job *job);
/* Block until finished; the same codes as mpimap_ezmap(). */
int mpimap_ezmap_wait(mpimap_job *job);
/* Stop the job (SIGTERM, then SIGKILL); wait then returns MPIMAP_ECANCELED. */
int mpimap_ezmap_cancel(mpimap_job *job);
/* Items done, failed, and the total (0 when unknown), while running or after;
 * needs opts->progress. */
int mpimap_ezmap_progress(mpimap_job *job, uint64_t *done, uint64_t *failed,
                          uint64_t *total);
/* After a successful wait with results in memory: take them. */
int mpimap_ezmap_results(mpimap_job *job, mpimap_outcome **outcomes, size_t *n);
/* Release the job (cancelling it if it still runs); removes the job
 * directory unless the job failed. NULL is fine. */
void mpimap_ezmap_free(mpimap_job *job);

#ifdef __cplusplus
}
#endif

#endif /* MPIMAP_MPIMAP_H */
