/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handler_cmd.h - the command item handler (internal): runs a command once
 * per item, as `mpimap run [options] -- COMMAND ARG...` asks.
 *
 * Template (argv mode, shell == 0). Every argument is scanned once, at
 * mpimap_cmd_new(), for placeholders:
 *   {}   the whole item;
 *   {N}  field N (1-based) of the item split on the colsep string; N is
 *        written in decimal without leading zeros ([1-9][0-9]*).
 * Anything else between braces ("{0}", "{01}", "{x}", "{", "{1" or a
 * number too large to hold) is literal text, as GNU parallel treats
 * unknown replacement strings; there is no escape for a literal "{}" (use
 * --shell for that). A placeholder may be part of a larger argument
 * ("--in={}") and one argument may hold several. When no argument holds a
 * placeholder the item is appended as a last argument. Without a colsep an
 * item is a single field: {1} is the item and {2}+ are rejected by
 * mpimap_cmd_new(). The command is run with execvp (PATH search, no
 * shell; a file without a "#!" line runs as a /bin/sh script), in a
 * process group of its own, and is killed when its rank dies.
 *
 * Shell mode (shell != 0): argv[0] is a script and must be the only
 * element; it runs as `/bin/sh -c SCRIPT mpimap ARGS...` where ARGS is the
 * item ($1) or, with a colsep, its fields ($1 .. $n, $# = n). The script
 * text is never scanned for placeholders and the item is never pasted into
 * it, so any item is safe ("$1" is the item, verbatim).
 *
 * Colsep: a literal separator (not a regex) of at least one byte; an item
 * with k separators has k + 1 fields (an empty item has one empty field).
 * A {N} beyond the item's fields fails that item: "item has 2 fields; {3}
 * asked for".
 *
 * Each run: stdin is /dev/null; stdout becomes the result; stderr is read
 * and kept only for the failure reason. Both pipes are drained together
 * with poll(), so outputs of any size work. The child runs in a process
 * group of its own (its pid is the group id), with an empty signal mask
 * and SIGPIPE (and the usual terminal signals) at their default
 * dispositions. mpimap_cmd_run() waits until the command has exited AND
 * closed its stdout and stderr (a background process keeping them open
 * delays the item).
 *
 * Item failures (return 1, *reason malloc'd):
 *   "exit status 3: <stderr tail>"         (tail: last ~500 bytes, one line,
 *                                           newlines shown as " | ")
 *   "killed by signal 9 (Killed)[: <stderr tail>]"
 *   "cannot run 'prog': No such file or directory"   (spawn/exec failed)
 *   "item has 2 fields; {3} asked for"
 *   "item contains a NUL byte and cannot be passed as an argument"
 *   "timed out after 2 s"                  (mpimap_cmd_set_timeout; exactly
 *                                           this, no stderr tail)
 *
 * An mpimap_cmd keeps reusable scratch space and is not safe to use from
 * several threads at once (make one per thread).
 */
#ifndef MPIMAP_CORE_HANDLER_CMD_H
#define MPIMAP_CORE_HANDLER_CMD_H

#include <stddef.h>

#include <mpimap/strategy.h>

typedef struct mpimap_cmd mpimap_cmd;

/*
 * Parse and validate a command template. argv is NULL-terminated and is
 * copied. shell: nonzero = argv[0] is the script for /bin/sh -c (argv[1]
 * must be NULL). colsep: NULL or a non-empty separator. strip_newline:
 * nonzero = drop one trailing '\n' from the command's stdout (LINE
 * framing). Returns 0, MPIMAP_ENOMEM, MPIMAP_EIO (/dev/null cannot be
 * opened) or MPIMAP_EINVAL with *error (when error is not NULL) set to a
 * malloc'd message.
 */
int mpimap_cmd_new(mpimap_cmd **out, const char *const *argv, int shell,
                   const char *colsep, int strip_newline, char **error);

/*
 * Run the command for one item (len bytes, any content). On success
 * returns 0 with the command's stdout appended to *out. When the item
 * fails returns 1 and sets *reason to a malloc'd message; *out then holds
 * whatever the command wrote to stdout (nothing of it after a timeout). Returns < 0 (MPIMAP_ENOMEM) only
 * when the engine itself failed.
 */
int mpimap_cmd_run(mpimap_cmd *c, const void *item, size_t len,
                   mpimap_buf *out, char **reason);

/*
 * Limit each item's run to `seconds` (wall clock from the spawn; 0, the
 * default, = no limit; a negative, NaN or infinite value also means none;
 * values beyond ~3 years are treated as ~3 years). A command counts as
 * running until it has exited AND its stdout and stderr are closed, so a
 * background process holding them open counts too. When the limit passes,
 * the command's whole process group gets SIGTERM (and SIGCONT), then,
 * 0.5 s later or as soon as the command has ended and its pipes are closed,
 * SIGKILL; the command is reaped and mpimap_cmd_run() returns 1 with the
 * reason "timed out after %g s" (the value as given: "timed out after
 * 0.5 s"), *out left as it was before the call (what the command wrote is
 * dropped). Pipes held open by a process that left the group are closed on
 * our side and not waited for. The handler is then ready for the next
 * item. Without a timeout nothing changes: no extra system call per item.
 */
void mpimap_cmd_set_timeout(mpimap_cmd *c, double seconds);

/* Release a command; NULL is fine. */
void mpimap_cmd_free(mpimap_cmd *c);

#endif /* MPIMAP_CORE_HANDLER_CMD_H */
