/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jobspec.h - the job spec: what the driver writes into the job directory
 * and the worker reads (internal).
 *
 * File format (text, one "KEY VALUE" per line, KEY and VALUE separated by
 * exactly one space; "KEY" alone means an empty value):
 *
 *   mpimap-jobspec 1              the first line, always
 *   input /data/in.txt            strings: input output joblog strategy
 *   chunk 100                         function_path function_symbol
 *   framing line                      function_init colsep workdir driver_host
 *   unordered 0                   unsigned decimal: chunk timeout_ms journal_ms
 *                                     driver_pid
 *   arg grep                      decimal int: unordered shell verbose retries
 *                                     retry_failed no_journal count
 *   arg -e                        framing: line | nul | binary
 *   arg {}                        arg: repeated, appends to command
 *
 * A string key that is absent leaves its field NULL; a present one, even
 * with an empty value, gives a string. Every key but "arg" appears at most
 * once. Blank lines and lines starting with '#' are ignored.
 *
 * Values are escaped so that any byte except NUL survives: "\\" for a
 * backslash, "\n", "\t", "\r", and "\xHH" (two hex digits) for the other
 * control bytes (0x01-0x1f, 0x7f) and for a space at the start or the end
 * of a value; other bytes (UTF-8 included) are written as they are. The
 * reader rejects raw control bytes, unknown escapes and "\x00".
 */
#ifndef MPIMAP_CORE_JOBSPEC_H
#define MPIMAP_CORE_JOBSPEC_H

#include <stdint.h>

#include <mpimap/launcher.h>

#define MPIMAP_JOBSPEC_VERSION 1

struct mpimap_jobspec {
    char *input;           /* input file, NULL or "-" = stdin */
    char *output;          /* output file, NULL or "-" = stdout */
    char *joblog;          /* per-item log, or NULL */
    char *strategy;        /* strategy plugin name */
    uint64_t chunk;        /* items per dispatch, 0 = automatic */
    int framing;           /* enum mpimap_framing (records.h) */
    int unordered;         /* write results in completion order */
    char *function_path;   /* --function lib.so:symbol: the library... */
    char *function_symbol; /* ...and the handler's symbol */
    char *function_init;   /* --function-init symbol, or NULL */
    mpimap_strv command;   /* command template (argv), when no function */
    int shell;             /* run the command through /bin/sh -c */
    char *colsep;          /* column separator for {1} {2} ..., or NULL */
    char *workdir;         /* working directory of the items, or NULL */
    int verbose;
    int retries;           /* run a failed item up to this many more times */
    int retry_failed;      /* a resumed job reruns the items that failed */
    uint64_t timeout_ms;   /* per item, 0 = none */
    uint64_t journal_ms;   /* journal sync interval, 0 = the default */
    int no_journal;        /* no journal: nothing resumable */
    int count;             /* count the items first, for a progress line */
    uint64_t driver_pid;   /* the `mpimap run` that waits for the job ... */
    char *driver_host;     /* ... on this host (direct launches only) */
};

/* Free every field and zero the struct. NULL is fine. */
void mpimap_jobspec_free(struct mpimap_jobspec *s);

/* Write s to path: to "<path>.tmp.XXXXXX", fsync'd and renamed into place.
 * Returns 0, MPIMAP_EINVAL (framing out of range), MPIMAP_EIO,
 * MPIMAP_ENOTFOUND (no such directory) or MPIMAP_ENOMEM. */
int mpimap_jobspec_write(const struct mpimap_jobspec *s, const char *path);

/* Read path into *s (which is overwritten, not freed first: start it
 * zeroed or freed). On failure *s is left zeroed, the code is
 * MPIMAP_EINVAL (malformed), MPIMAP_ENOTFOUND, MPIMAP_EIO or
 * MPIMAP_ENOMEM, and, when error is not NULL, *error is set to a malloc'd
 * message naming the file and line, such as
 *   "spec: line 7: unknown key 'chunkk'". */
int mpimap_jobspec_read(struct mpimap_jobspec *s, const char *path,
                        char **error);

#endif /* MPIMAP_CORE_JOBSPEC_H */
