/* SPDX-License-Identifier: BSD-3-Clause */
/* jobspec.c - write and read the job spec file (escaped "key value" lines). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>

#include "jobspec.h"
#include "records.h"

#define VERSION_WORD "mpimap-jobspec"

enum key_kind { K_STR, K_U64, K_INT, K_FRAMING, K_ARG };

static const struct key {
    const char *name;
    int kind;
    size_t off;
} keys[] = {
    {"input", K_STR, offsetof(struct mpimap_jobspec, input)},
    {"output", K_STR, offsetof(struct mpimap_jobspec, output)},
    {"joblog", K_STR, offsetof(struct mpimap_jobspec, joblog)},
    {"strategy", K_STR, offsetof(struct mpimap_jobspec, strategy)},
    {"chunk", K_U64, offsetof(struct mpimap_jobspec, chunk)},
    {"framing", K_FRAMING, offsetof(struct mpimap_jobspec, framing)},
    {"unordered", K_INT, offsetof(struct mpimap_jobspec, unordered)},
    {"function_path", K_STR, offsetof(struct mpimap_jobspec, function_path)},
    {"function_symbol", K_STR, offsetof(struct mpimap_jobspec, function_symbol)},
    {"function_init", K_STR, offsetof(struct mpimap_jobspec, function_init)},
    {"arg", K_ARG, offsetof(struct mpimap_jobspec, command)},
    {"shell", K_INT, offsetof(struct mpimap_jobspec, shell)},
    {"colsep", K_STR, offsetof(struct mpimap_jobspec, colsep)},
    {"workdir", K_STR, offsetof(struct mpimap_jobspec, workdir)},
    {"verbose", K_INT, offsetof(struct mpimap_jobspec, verbose)},
    {"retries", K_INT, offsetof(struct mpimap_jobspec, retries)},
    {"retry_failed", K_INT, offsetof(struct mpimap_jobspec, retry_failed)},
    {"timeout_ms", K_U64, offsetof(struct mpimap_jobspec, timeout_ms)},
    {"journal_ms", K_U64, offsetof(struct mpimap_jobspec, journal_ms)},
    {"no_journal", K_INT, offsetof(struct mpimap_jobspec, no_journal)},
    {"count", K_INT, offsetof(struct mpimap_jobspec, count)},
    {"driver_pid", K_U64, offsetof(struct mpimap_jobspec, driver_pid)},
    {"driver_host", K_STR, offsetof(struct mpimap_jobspec, driver_host)},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const char *const framing_words[] = {
    [MPIMAP_FRAME_LINE] = "line",
    [MPIMAP_FRAME_NUL] = "nul",
    [MPIMAP_FRAME_BINARY] = "binary",
};
#define NFRAMINGS (sizeof framing_words / sizeof framing_words[0])

void mpimap_jobspec_free(struct mpimap_jobspec *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].kind == K_STR)
            free(*(char **)((char *)s + keys[i].off));
    mpimap_strv_free(&s->command);
    memset(s, 0, sizeof *s);
}

/* ---- Writing ------------------------------------------------------------ */

/* A growable line. */
struct line {
    char *p;
    size_t len, cap;
};

static int line_add(struct line *l, const char *s, size_t n)
{
    if (n > SIZE_MAX - l->len)
        return MPIMAP_ENOMEM;
    if (l->len + n > l->cap) {
        size_t ncap = l->cap ? l->cap : 256;
        while (ncap < l->len + n)
            ncap = ncap > SIZE_MAX / 2 ? l->len + n : ncap * 2;
        char *p = realloc(l->p, ncap);
        if (!p)
            return MPIMAP_ENOMEM;
        l->p = p;
        l->cap = ncap;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
    return 0;
}

static int line_escaped(struct line *l, const char *v)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(v);
    size_t run = 0; /* bytes of v not yet copied, ending at i */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        char esc[4];
        size_t elen = 0;
        if (c == '\\') {
            esc[0] = '\\', esc[1] = '\\', elen = 2;
        } else if (c == '\n') {
            esc[0] = '\\', esc[1] = 'n', elen = 2;
        } else if (c == '\t') {
            esc[0] = '\\', esc[1] = 't', elen = 2;
        } else if (c == '\r') {
            esc[0] = '\\', esc[1] = 'r', elen = 2;
        } else if (c < 0x20 || c == 0x7f || (c == ' ' && (i == 0 || i == n - 1))) {
            esc[0] = '\\', esc[1] = 'x', esc[2] = hex[c >> 4], esc[3] = hex[c & 15];
            elen = 4;
        } else {
            run++;
            continue;
        }
        if (line_add(l, v + i - run, run) < 0 || line_add(l, esc, elen) < 0)
            return MPIMAP_ENOMEM;
        run = 0;
    }
    return line_add(l, v + n - run, run);
}

/* Put "key value" (or "key" for an empty value) as one record. */
static int put_kv(mpimap_writer *w, struct line *l, const char *key,
                  const char *value)
{
    l->len = 0;
    int rc = line_add(l, key, strlen(key));
    if (rc == 0 && value[0]) {
        rc = line_add(l, " ", 1);
        if (rc == 0)
            rc = line_escaped(l, value);
    }
    return rc < 0 ? rc : mpimap_writer_put(w, l->p, l->len);
}

int mpimap_jobspec_write(const struct mpimap_jobspec *s, const char *path)
{
    if (!s || !path || !*path || s->framing < 0 ||
        (size_t)s->framing >= NFRAMINGS)
        return MPIMAP_EINVAL;
    mpimap_writer *w = NULL;
    int rc = mpimap_writer_open(&w, path, MPIMAP_FRAME_LINE);
    struct line l = {0};
    char num[32];
    if (rc == 0)
        rc = put_kv(w, &l, VERSION_WORD, "1");
    for (size_t i = 0; i < NKEYS && rc == 0; i++) {
        const struct key *k = &keys[i];
        const char *base = (const char *)s + k->off;
        switch (k->kind) {
        case K_STR: {
            const char *v = *(char *const *)(const void *)base;
            if (v)
                rc = put_kv(w, &l, k->name, v);
            break;
        }
        case K_U64:
            snprintf(num, sizeof num, "%" PRIu64, *(const uint64_t *)(const void *)base);
            rc = put_kv(w, &l, k->name, num);
            break;
        case K_INT:
            snprintf(num, sizeof num, "%d", *(const int *)(const void *)base);
            rc = put_kv(w, &l, k->name, num);
            break;
        case K_FRAMING:
            rc = put_kv(w, &l, k->name, framing_words[s->framing]);
            break;
        case K_ARG:
            for (size_t j = 0; j < s->command.n && rc == 0; j++)
                rc = put_kv(w, &l, k->name, s->command.v[j]);
            break;
        }
    }
    if (rc == 0)
        rc = mpimap_writer_commit(w);
    mpimap_writer_close(w);
    free(l.p);
    return rc;
}

/* ---- Reading ------------------------------------------------------------ */

struct parser {
    const char *path;
    unsigned long lineno;
    char *error;
};

static int parse_fail(struct parser *ps, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int parse_fail(struct parser *ps, int code, const char *fmt, ...)
{
    char *what = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&what, fmt, ap);
    va_end(ap);
    free(ps->error);
    ps->error = NULL;
    if (n >= 0 &&
        asprintf(&ps->error, "%s: line %lu: %s", ps->path, ps->lineno, what) < 0)
        ps->error = NULL;
    free(what);
    return code;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode v[0..n) into a new string (*out). */
static int unescape(struct parser *ps, const char *v, size_t n, char **out)
{
    char *o = malloc(n + 1);
    if (!o)
        return MPIMAP_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c != '\\') {
            o[k++] = (char)c;
            continue;
        }
        if (i + 1 >= n) {
            free(o);
            return parse_fail(ps, MPIMAP_EINVAL, "bad escape: '\\' at the end of the line");
        }
        char e = v[++i];
        switch (e) {
        case '\\': o[k++] = '\\'; break;
        case 'n': o[k++] = '\n'; break;
        case 't': o[k++] = '\t'; break;
        case 'r': o[k++] = '\r'; break;
        case 'x': {
            int hi = i + 1 < n ? hexval((unsigned char)v[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)v[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(o);
                return parse_fail(ps, MPIMAP_EINVAL,
                                  "bad escape '\\x%.*s': two hex digits expected",
                                  (int)(n - i - 1 < 2 ? n - i - 1 : 2), v + i + 1);
            }
            if (hi == 0 && lo == 0) {
                free(o);
                return parse_fail(ps, MPIMAP_EINVAL,
                                  "bad escape '\\x00': NUL bytes are not allowed");
            }
            o[k++] = (char)(hi << 4 | lo);
            i += 2;
            break;
        }
        default:
            free(o);
            if ((unsigned char)e < 0x20 || (unsigned char)e >= 0x7f)
                return parse_fail(ps, MPIMAP_EINVAL, "bad escape '\\' followed by byte 0x%02x",
                                  (unsigned char)e);
            return parse_fail(ps, MPIMAP_EINVAL, "bad escape '\\%c'", e);
        }
    }
    o[k] = '\0';
    *out = o;
    return 0;
}

static int parse_u64(const char *v, uint64_t *out)
{
    if (!*v)
        return -1;
    uint64_t x = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

static int parse_int(const char *v, int *out)
{
    int neg = *v == '-';
    uint64_t x;
    if (parse_u64(v + neg, &x) < 0)
        return -1;
    if (neg ? x > (uint64_t)INT_MAX + 1 : x > (uint64_t)INT_MAX)
        return -1;
    *out = neg ? (int)(-(int64_t)x) : (int)x;
    return 0;
}

/* Parse one line (without its '\n'; n bytes, may hold NULs). */
static int parse_line(struct parser *ps, struct mpimap_jobspec *s,
                      unsigned char *seen, const char *line, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c == 0x7f)
            return parse_fail(ps, MPIMAP_EINVAL,
                              "raw control byte 0x%02x (values must be escaped)", c);
    }
    const char *sp = memchr(line, ' ', n);
    size_t klen = sp ? (size_t)(sp - line) : n;
    const char *v = sp ? sp + 1 : line + n;
    size_t vlen = n - (size_t)(v - line);

    const struct key *k = NULL;
    size_t ki = 0;
    for (; ki < NKEYS; ki++)
        if (strlen(keys[ki].name) == klen && memcmp(keys[ki].name, line, klen) == 0) {
            k = &keys[ki];
            break;
        }
    if (!k) {
        if (klen == strlen(VERSION_WORD) && memcmp(line, VERSION_WORD, klen) == 0)
            return parse_fail(ps, MPIMAP_EINVAL, "version line repeated");
        return parse_fail(ps, MPIMAP_EINVAL, "unknown key '%.*s'", (int)klen, line);
    }
    if (k->kind != K_ARG && seen[ki])
        return parse_fail(ps, MPIMAP_EINVAL, "duplicate key '%s'", k->name);
    seen[ki] = 1;

    char *val = NULL;
    int rc = unescape(ps, v, vlen, &val);
    if (rc < 0)
        return rc;
    char *base = (char *)s + k->off;
    switch (k->kind) {
    case K_STR:
        *(char **)(void *)base = val;
        return 0;
    case K_ARG:
        rc = mpimap_strv_push(&s->command, val);
        free(val);
        return rc;
    case K_U64:
        rc = parse_u64(val, (uint64_t *)(void *)base);
        break;
    case K_INT:
        rc = parse_int(val, (int *)(void *)base);
        break;
    case K_FRAMING:
        rc = -1;
        for (size_t f = 0; f < NFRAMINGS; f++)
            if (strcmp(val, framing_words[f]) == 0) {
                s->framing = (int)f;
                rc = 0;
            }
        if (rc < 0) {
            rc = parse_fail(ps, MPIMAP_EINVAL,
                            "bad framing '%s' (line, nul or binary)", val);
            free(val);
            return rc;
        }
        break;
    }
    if (rc < 0)
        rc = parse_fail(ps, MPIMAP_EINVAL, "bad number '%s' for '%s'", val, k->name);
    free(val);
    return rc;
}

int mpimap_jobspec_read(struct mpimap_jobspec *s, const char *path, char **error)
{
    if (error)
        *error = NULL;
    if (!s || !path)
        return MPIMAP_EINVAL;
    memset(s, 0, sizeof *s);
    struct parser ps = {.path = path};
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        if (error && asprintf(error, "cannot open '%s': %s", path, strerror(e)) < 0)
            *error = NULL;
        return e == ENOENT ? MPIMAP_ENOTFOUND : MPIMAP_EIO;
    }
    unsigned char seen[NKEYS] = {0};
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        ssize_t got = getline(&line, &cap, f);
        if (got < 0) {
            if (ferror(f))
                rc = parse_fail(&ps, errno == ENOMEM ? MPIMAP_ENOMEM : MPIMAP_EIO,
                                "read failed: %s", strerror(errno ? errno : EIO));
            break;
        }
        ps.lineno++;
        size_t n = (size_t)got;
        if (n && line[n - 1] == '\n')
            line[--n] = '\0';
        if (ps.lineno == 1) {
            const char *want = VERSION_WORD " 1";
            size_t plen = strlen(VERSION_WORD) + 1;
            if (n > plen && memcmp(line, VERSION_WORD " ", plen) == 0 &&
                strspn(line + plen, "0123456789") == n - plen &&
                strcmp(line, want) != 0) {
                rc = parse_fail(&ps, MPIMAP_EINVAL,
                                "unsupported version '%s' (this is version %d)",
                                line + plen, MPIMAP_JOBSPEC_VERSION);
                break;
            }
            if (n != strlen(want) || memcmp(line, want, n) != 0) {
                rc = parse_fail(&ps, MPIMAP_EINVAL,
                                "not a job spec: the first line must be '%s'", want);
                break;
            }
            continue;
        }
        if (n == 0 || line[0] == '#')
            continue;
        rc = parse_line(&ps, s, seen, line, n);
        if (rc < 0)
            break;
    }
    if (rc == 0 && ps.lineno == 0) {
        ps.lineno = 1;
        rc = parse_fail(&ps, MPIMAP_EINVAL, "empty file: the first line must be '%s'",
                        VERSION_WORD " 1");
    }
    free(line);
    fclose(f);
    if (rc < 0) {
        mpimap_jobspec_free(s);
        if (error) {
            *error = ps.error;
            ps.error = NULL;
            if (!*error && asprintf(error, "%s: %s", path, mpimap_strerror(rc)) < 0)
                *error = NULL;
        }
    }
    free(ps.error);
    return rc;
}
