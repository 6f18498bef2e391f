/* SPDX-License-Identifier: BSD-3-Clause */
/* batchscript.c - the helpers the scheduler launcher plugins share: spec
 * checks, node shape, memory sizes, job script text, scheduler commands. */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>

#include "batchscript.h"
#include "shellquote.h"

/* The smallest spec a scheduler understands: every field of ABI 1.1. */
#define SPEC_BATCH_SIZE \
    (offsetof(struct mpimap_launch_spec, log_path) + sizeof(const char *))

int bs_fail(char **error, const char *fmt, ...)
{
    if (error) {
        va_list ap;
        va_start(ap, fmt);
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
            msg = NULL;
        va_end(ap);
        *error = msg;
    }
    return MPIMAP_EINVAL;
}

/* ---- the launch spec ------------------------------------------------------ */

size_t bs_var_len(const char *entry)
{
    size_t i = 0;
    for (; entry[i] && entry[i] != '='; i++) {
        char c = entry[i];
        int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        int digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && i > 0))
            return 0;
    }
    return i;
}

static int has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

/* A value that becomes a directive: NULL (not given) or non-empty, without
 * control characters. */
static int check_directive_value(const char *who, const char *option, const char *value,
                                 char **error)
{
    if (!value)
        return 0;
    if (!*value)
        return bs_fail(error, "%s: %s is empty", who, option);
    if (has_control(value))
        return bs_fail(error,
                       "%s: %s must not hold a newline or another control character "
                       "(it becomes a line of the job script)",
                       who, option);
    return 0;
}

int bs_check_spec(const char *who, const struct mpimap_launch_spec *spec, char **error)
{
    if (!spec || spec->size < SPEC_BATCH_SIZE)
        return bs_fail(error, "%s: launch spec is missing or too old for a scheduler "
                              "(ABI 1.1 needed)",
                       who);
    if (spec->np < 1)
        return bs_fail(error, "%s: -np must be at least 1", who);
    if (spec->nodes < 0)
        return bs_fail(error, "%s: the number of nodes must not be negative (got %d)", who,
                       spec->nodes);
    if (spec->ppn < 0)
        return bs_fail(error, "%s: ranks per node must not be negative (got %d)", who,
                       spec->ppn);
    if (spec->cpus_per_rank < 0)
        return bs_fail(error, "%s: cpus per rank must not be negative (got %d)", who,
                       spec->cpus_per_rank);
    if (spec->walltime < 0)
        return bs_fail(error, "%s: the walltime must not be negative (got %ld s)", who,
                       spec->walltime);
    if (!spec->inner_command || !*spec->inner_command)
        return bs_fail(error, "%s: no command to run inside the job", who);
    static const char *const names[] = {"--queue", "--qos", "--account", "--job-name",
                                        "--reservation", "--mem", "the log path"};
    const char *const values[] = {spec->queue,  spec->qos,         spec->account,
                                  spec->job_name, spec->reservation, spec->mem,
                                  spec->log_path};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int rc = check_directive_value(who, names[i], values[i], error);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; spec->sched_args && spec->sched_args[i]; i++) {
        int rc = check_directive_value(who, "--sched-arg", spec->sched_args[i], error);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; spec->exports && spec->exports[i]; i++)
        if (bs_var_len(spec->exports[i]) == 0)
            return bs_fail(error, "%s: not a valid VAR or VAR=VALUE to export: \"%s\"", who,
                           spec->exports[i]);
    return 0;
}

int bs_shape_of(const char *who, const struct mpimap_launch_spec *spec, struct bs_shape *out,
                char **error)
{
    int np = spec->np, nodes = spec->nodes, ppn = spec->ppn;
    out->cpus = spec->cpus_per_rank > 0 ? spec->cpus_per_rank : 1;
    out->given = nodes > 0 || ppn > 0;
    if (nodes > 0 && ppn > 0) {
        if ((long long)nodes * ppn != np)
            return bs_fail(error,
                           "%s: %d nodes x %d ranks per node = %lld ranks, but -np is %d",
                           who, nodes, ppn, (long long)nodes * ppn, np);
    } else if (nodes > 0) {
        if (np % nodes != 0)
            return bs_fail(error,
                           "%s: -np %d does not divide evenly over %d nodes; give ranks "
                           "per node",
                           who, np, nodes);
        ppn = np / nodes;
    } else if (ppn > 0) {
        nodes = np / ppn + (np % ppn != 0);
    } else {
        nodes = 1;
        ppn = np;
    }
    if ((long long)ppn * out->cpus > INT_MAX)
        return bs_fail(error, "%s: %d ranks per node x %d cpus per rank is too many", who, ppn,
                       out->cpus);
    if ((long long)np * out->cpus > INT_MAX)
        return bs_fail(error, "%s: %d ranks x %d cpus per rank is too many", who, np,
                       out->cpus);
    out->nodes = nodes;
    out->ppn = ppn;
    return 0;
}

/* ---- memory --------------------------------------------------------------- */

int bs_parse_mem(const char *who, const char *text, unsigned long long *kib, char **error)
{
    const char *p = text;
    unsigned long long v = 0;
    if (*p < '0' || *p > '9')
        goto bad;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (ULLONG_MAX - 9) / 10)
            goto bad;
        v = v * 10 + (unsigned long long)(*p - '0');
    }
    unsigned shift; /* in powers of 1024 above KiB */
    switch (*p) {
    case '\0': shift = 1; break; /* MiB */
    case 'k': case 'K': shift = 0; p++; break;
    case 'm': case 'M': shift = 1; p++; break;
    case 'g': case 'G': shift = 2; p++; break;
    case 't': case 'T': shift = 3; p++; break;
    default: goto bad;
    }
    if (*p == 'b' || *p == 'B')
        p++;
    if (*p || v == 0)
        goto bad;
    for (unsigned i = 0; i < shift; i++) {
        if (v > ULLONG_MAX / 1024 / 1024) /* keep room for the multiplications after */
            goto bad;
        v *= 1024;
    }
    *kib = v;
    return 0;
bad:
    return bs_fail(error,
                   "%s: --mem '%s': give a whole number of K, M, G or T (e.g. 4G, 500M)",
                   who, text);
}

char *bs_format_mem(unsigned long long kib, int lower)
{
    static const char units[] = "kmgt";
    static const char upper[] = "KMGT";
    unsigned u = 0;
    while (u < 3 && kib % 1024 == 0 && kib >= 1024) {
        kib /= 1024;
        u++;
    }
    char *s = NULL;
    if (asprintf(&s, "%llu%c%c", kib, lower ? units[u] : upper[u], lower ? 'b' : 'B') < 0)
        return NULL;
    return s;
}

/* ---- building text -------------------------------------------------------- */

static void grow(struct bs_text *t, size_t more)
{
    if (t->oom)
        return;
    if (t->cap - t->n > more)
        return;
    size_t ncap = t->cap ? t->cap : 256;
    while (ncap - t->n <= more) {
        if (ncap > SIZE_MAX / 2) {
            t->oom = 1;
            return;
        }
        ncap *= 2;
    }
    char *p = realloc(t->s, ncap);
    if (!p) {
        t->oom = 1;
        return;
    }
    t->s = p;
    t->cap = ncap;
}

void bs_add(struct bs_text *t, const char *s)
{
    if (!s) {
        t->oom = 1; /* a string that could not be made */
        return;
    }
    size_t n = strlen(s);
    grow(t, n);
    if (t->oom)
        return;
    memcpy(t->s + t->n, s, n + 1);
    t->n += n;
}

void bs_addf(struct bs_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    bs_add(t, s);
    free(s);
}

void bs_add_quoted(struct bs_text *t, const char *s)
{
    char *q = mpimap_shell_quote(s);
    bs_add(t, q);
    free(q);
}

char *bs_take(struct bs_text *t)
{
    char *s = t->oom ? NULL : t->s;
    if (t->oom)
        free(t->s);
    t->s = NULL;
    t->n = t->cap = 0;
    t->oom = 0;
    return s;
}

void bs_free(struct bs_text *t)
{
    free(t->s);
    t->s = NULL;
    t->n = t->cap = 0;
    t->oom = 0;
}

void bs_directive(struct bs_text *t, const char *prefix, const char *option,
                  const char *value)
{
    bs_add(t, prefix);
    bs_add(t, " ");
    bs_add(t, option);
    if (value) {
        bs_add(t, " ");
        bs_add_quoted(t, value);
    }
    bs_add(t, "\n");
}

char *bs_bare_exports(const struct mpimap_launch_spec *spec, int *oom)
{
    struct bs_text t = {0};
    for (size_t i = 0; spec->exports && spec->exports[i]; i++) {
        if (strchr(spec->exports[i], '='))
            continue;
        if (t.n)
            bs_add(&t, ",");
        bs_add(&t, spec->exports[i]);
    }
    if (t.oom)
        *oom = 1;
    return bs_take(&t);
}

void bs_body(struct bs_text *t, const struct mpimap_launch_spec *spec, const char *workdir_var)
{
    bs_add(t, "\nset -e\n");
    for (size_t i = 0; spec->exports && spec->exports[i]; i++) {
        const char *e = spec->exports[i];
        size_t n = bs_var_len(e);
        bs_addf(t, "export %.*s", (int)n, e);
        if (e[n] == '=') {
            bs_add(t, "=");
            bs_add_quoted(t, e + n + 1);
        }
        bs_add(t, "\n");
    }
    bs_add(t, "cd ");
    if (spec->jobdir && *spec->jobdir)
        bs_add_quoted(t, spec->jobdir);
    else
        bs_addf(t, "\"$%s\"", workdir_var);
    bs_add(t, "\n");
    bs_add(t, spec->inner_command);
    bs_add(t, "\n");
}

/* ---- scheduler commands --------------------------------------------------- */

int bs_check_jobid(const char *jobid)
{
    if (!jobid || !*jobid || *jobid == '-')
        return MPIMAP_EINVAL;
    for (const unsigned char *p = (const unsigned char *)jobid; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return MPIMAP_EINVAL;
    return 0;
}

static int push_words(mpimap_strv *argv, const char *const *words, const char *jobid)
{
    int rc = bs_check_jobid(jobid);
    if (rc < 0)
        return rc;
    size_t n0 = argv->n;
    for (size_t i = 0; rc == 0 && words[i]; i++)
        rc = mpimap_strv_push(argv, words[i]);
    if (rc == 0)
        rc = mpimap_strv_push(argv, jobid);
    if (rc < 0) {
        for (size_t i = n0; i < argv->n; i++) {
            free(argv->v[i]);
            argv->v[i] = NULL;
        }
        argv->n = n0;
    }
    return rc;
}

int bs_push_command(mpimap_strv *argv, const char *const *words, const char *jobid)
{
    return push_words(argv, words, jobid);
}

int bs_push_query(mpimap_strv *argv, const char *const *words, const char *jobid)
{
    size_t n = 0;
    while (words[n])
        n++;
    const char **all = malloc((n + 5) * sizeof *all);
    if (!all)
        return MPIMAP_ENOMEM;
    size_t k = 0;
    all[k++] = "/bin/sh";
    all[k++] = "-c";
    all[k++] = "exec \"$@\" 2>&1";
    all[k++] = "sh";
    for (size_t i = 0; i < n; i++)
        all[k++] = words[i];
    all[k] = NULL;
    int rc = push_words(argv, all, jobid);
    free(all);
    return rc;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int bs_first_word(const char *text, char **word)
{
    *word = NULL;
    if (!text)
        return 0;
    while (*text && is_blank(*text))
        text++;
    size_t n = 0;
    while (text[n] && !is_blank(text[n]))
        n++;
    if (n == 0)
        return 0;
    *word = strndup(text, n);
    return *word ? 0 : MPIMAP_ENOMEM;
}

char *bs_trimmed(const char *s, size_t n)
{
    while (n && is_blank(*s)) {
        s++;
        n--;
    }
    while (n && is_blank(s[n - 1]))
        n--;
    return strndup(s, n);
}

const char *bs_field(const char *text, const char *key, char sep, size_t *len)
{
    size_t klen = strlen(key);
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, key, klen) == 0) {
            const char *q = p + klen;
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q == sep) {
                q++;
                while (*q == ' ' || *q == '\t')
                    q++;
                size_t n = end ? (size_t)(end - q) : strlen(q);
                while (n && (q[n - 1] == ' ' || q[n - 1] == '\t' || q[n - 1] == '\r'))
                    n--;
                *len = n;
                return q;
            }
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

int bs_detail(char **detail, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(detail, fmt, ap);
    va_end(ap);
    if (r < 0) {
        *detail = NULL;
        return MPIMAP_ENOMEM;
    }
    return 0;
}

int bs_detail_part(char **detail, const char *prefix, const char *s, size_t n)
{
    char *part = bs_trimmed(s, n > 200 ? 200 : n);
    if (!part) {
        *detail = NULL;
        return MPIMAP_ENOMEM;
    }
    int rc = bs_detail(detail, "%s%s", prefix, part);
    free(part);
    return rc;
}

int bs_contains(const char *text, const char *needle)
{
    return text && strstr(text, needle) != NULL;
}

int bs_parse_duration(const char *s, size_t n, int64_t *secs)
{
    int64_t days = 0, part[3] = {0, 0, 0};
    int nparts = 0;
    size_t i = 0;
    /* "D-" first when there is a '-' */
    const char *dash = memchr(s, '-', n);
    if (dash) {
        if (dash == s || (size_t)(dash - s) > 6)
            return MPIMAP_EINVAL;
        for (; s + i < dash; i++) {
            if (s[i] < '0' || s[i] > '9')
                return MPIMAP_EINVAL;
            days = days * 10 + (s[i] - '0');
        }
        i++;
    }
    while (i < n) {
        if (nparts == 3)
            return MPIMAP_EINVAL;
        size_t digits = 0;
        int64_t v = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
            if (digits == 9)
                return MPIMAP_EINVAL;
            v = v * 10 + (s[i] - '0');
        }
        if (digits == 0)
            return MPIMAP_EINVAL;
        part[nparts++] = v;
        if (i < n && s[i++] != ':')
            return MPIMAP_EINVAL;
        if (i == n && s[n - 1] == ':')
            return MPIMAP_EINVAL;
    }
    if (nparts == 0 || (dash && nparts != 3))
        return MPIMAP_EINVAL;
    int64_t h = 0, m = 0, sec = 0;
    if (nparts == 3)
        h = part[0], m = part[1], sec = part[2];
    else if (nparts == 2)
        m = part[0], sec = part[1];
    else
        sec = part[0];
    *secs = ((days * 24 + h) * 60 + m) * 60 + sec;
    return 0;
}
