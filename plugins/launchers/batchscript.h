/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * batchscript.h - what the scheduler launcher plugins (pbs/torque, moab,
 * lsf, sge) share, linked into each of them: checking a launch spec, the
 * node shape, memory sizes, building a job script line by line, job ids,
 * and the argv of the scheduler's commands. Every string a user gave goes
 * into the script through mpimap_shell_quote() (core/shellquote.h).
 */
#ifndef MPIMAP_PLUGINS_BATCHSCRIPT_H
#define MPIMAP_PLUGINS_BATCHSCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include <mpimap/launcher.h>

/* Set *error (when error is not NULL) to a malloc'd message and return
 * MPIMAP_EINVAL. */
int bs_fail(char **error, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- the launch spec ------------------------------------------------------ */

/* The checks every scheduler makes before rendering anything: a spec of ABI
 * 1.1, np >= 1, counts and walltime not negative, an inner command, export
 * entries VAR or VAR=VALUE with a valid VAR, and no control character in
 * any value that becomes a directive (queue, qos, account, job name,
 * reservation, mem, log path, scheduler args): a newline there would end
 * the comment line and run the rest as a command. who names the launcher
 * in messages ("pbs: ..."). */
int bs_check_spec(const char *who, const struct mpimap_launch_spec *spec, char **error);

/* Nodes and ranks per node from np, nodes, ppn (the same rules as mpirun):
 * nodes x ppn must be np; nodes alone must divide np; ppn alone gives
 * ceil(np / ppn) nodes. given is 0 when the spec named neither (then
 * nodes = 1, ppn = np). cpus is cpus_per_rank, at least 1. */
struct bs_shape {
    int nodes, ppn, cpus, given;
};
int bs_shape_of(const char *who, const struct mpimap_launch_spec *spec, struct bs_shape *out,
                char **error);

/* An export entry's VAR length when it is VAR or VAR=VALUE with VAR in
 * [A-Za-z_][A-Za-z0-9_]*, else 0. */
size_t bs_var_len(const char *entry);

/* ---- memory --------------------------------------------------------------- */

/* "4G", "500M", "4GB", "2t", "512K", "1024" (no unit: MiB, as Slurm reads
 * it) into KiB. Units are binary, as in every scheduler here. */
int bs_parse_mem(const char *who, const char *text, unsigned long long *kib, char **error);

/* KiB in the largest unit that holds it exactly: with lower "8gb" (PBS,
 * Moab), else "8GB" (LSF). malloc'd, NULL when out of memory. */
char *bs_format_mem(unsigned long long kib, int lower);

/* ---- building text -------------------------------------------------------- */

/* A growable string; an allocation failure sticks (oom) and is reported
 * once, by bs_take(). Start it zeroed. */
struct bs_text {
    char *s;
    size_t n, cap;
    int oom;
};
void bs_add(struct bs_text *t, const char *s);
void bs_addf(struct bs_text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* s as one shell word (mpimap_shell_quote). */
void bs_add_quoted(struct bs_text *t, const char *s);
/* The text (malloc'd, the caller frees it), or NULL after an allocation
 * failure; t is emptied either way. */
char *bs_take(struct bs_text *t);
void bs_free(struct bs_text *t);

/* A directive line "PREFIX OPTION VALUE\n" with VALUE quoted, or, with
 * value NULL, "PREFIX OPTION\n" (OPTION is ours, or verbatim text). */
void bs_directive(struct bs_text *t, const char *prefix, const char *option,
                  const char *value);

/* The VAR names of the exports given without a value, joined by commas
 * ("A,B"), or NULL when there is none; *oom is set when allocation failed. */
char *bs_bare_exports(const struct mpimap_launch_spec *spec, int *oom);

/* The body after the directives:
 *     set -e
 *     export VAR=VALUE        (VALUE quoted; VAR alone for a bare export)
 *     cd JOBDIR               (quoted; the scheduler's submit directory,
 *                              the variable workdir_var, when no jobdir)
 *     INNER_COMMAND */
void bs_body(struct bs_text *t, const struct mpimap_launch_spec *spec, const char *workdir_var);

/* ---- scheduler commands --------------------------------------------------- */

/* Check a job id before it goes into a command: not empty, no whitespace
 * or control character, not starting with '-' (it would read as an option).
 * MPIMAP_EINVAL otherwise. */
int bs_check_jobid(const char *jobid);

/* Append words (NULL-terminated) and then the job id to argv; on failure
 * argv is left as it was. */
int bs_push_command(mpimap_strv *argv, const char *const *words, const char *jobid);

/* Append a status command that reports on standard output what it would
 * say on standard error too: /bin/sh -c 'exec "$@" 2>&1' sh WORDS... JOBID.
 * The schedulers say "no such job" on standard error, and parse_state()
 * sees only standard output. The job id is an argument, never shell text. */
int bs_push_query(mpimap_strv *argv, const char *const *words, const char *jobid);

/* The first whitespace-delimited word of text, malloc'd in *word (NULL when
 * there is none). 0 or MPIMAP_ENOMEM. */
int bs_first_word(const char *text, char **word);

/* A copy of at most n bytes of s with leading and trailing blanks removed,
 * for a detail message; NULL when out of memory. */
char *bs_trimmed(const char *s, size_t n);

/* The value of the first line "KEY SEP VALUE" of text, where the line
 * starts (after blanks) with key followed by blanks and sep (e.g. "=" or
 * ":"); its length in *len. NULL when absent. Keys match exactly (case
 * included). */
const char *bs_field(const char *text, const char *key, char sep, size_t *len);

/* *detail = the formatted text (malloc'd): 0, or MPIMAP_ENOMEM with *detail
 * NULL. */
int bs_detail(char **detail, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* *detail = prefix followed by s[0..n) trimmed, cut at 200 bytes. */
int bs_detail_part(char **detail, const char *prefix, const char *s, size_t n);

/* Does text contain needle? */
int bs_contains(const char *text, const char *needle);

/* A scheduler's duration s[0..n): "[D-]H:MM:SS", "M:SS" or "S" (whole
 * seconds, as Slurm's RunTime and TimeLimit and PBS's walltime attributes
 * print them) in *secs. 0, or MPIMAP_EINVAL for anything else ("UNLIMITED",
 * "N/A", "", an overflow). */
int bs_parse_duration(const char *s, size_t n, int64_t *secs);

#endif /* MPIMAP_PLUGINS_BATCHSCRIPT_H */
