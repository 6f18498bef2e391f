/* SPDX-License-Identifier: BSD-3-Clause */
/* resources.c - parse and format what users type for scheduler resources:
 * walltimes ("1:30:00", "2-12:00:00") and pyina's node strings
 * ("4:ppn=2:cpp=3"). */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/mpimap.h>

#include "resources.h"

#define WALLTIME_FORMS "(forms: [[H:]M:]S or D-H:M:S)"
#define NODES_FORM "(form: N[:ppn=P][:cpp=C])"

/* Set *error to "WHAT 'TEXT': REASON FORMS" (malloc'd; left NULL when out
 * of memory) and return MPIMAP_EINVAL. */
static int fail(char **error, const char *what, const char *text, const char *forms,
                const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
static int fail(char **error, const char *what, const char *text, const char *forms,
                const char *fmt, ...)
{
    if (!error)
        return MPIMAP_EINVAL;
    *error = NULL;
    char *reason = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&reason, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MPIMAP_EINVAL;
    if (asprintf(error, "%s '%s': %s %s", what, text ? text : "", reason, forms) < 0)
        *error = NULL;
    free(reason);
    return MPIMAP_EINVAL;
}

/* A character as the messages show it: 'x', or a byte value. */
static void char_name(unsigned char c, char out[8])
{
    if (isprint(c))
        snprintf(out, 8, "'%c'", c);
    else
        snprintf(out, 8, "0x%02x", (unsigned)c);
}

/* ---- walltime ----------------------------------------------------------- */

/* The field names of each form, by number of fields. */
static const char *const plain_names[3][3] = {
    {"seconds"}, {"minutes", "seconds"}, {"hours", "minutes", "seconds"}};
static const char *const day_names[] = {"days", "hours", "minutes", "seconds"};

int mpimap_parse_walltime(const char *text, long *seconds, char **error)
{
    static const char what[] = "walltime";
    if (!text || !*text)
        return fail(error, what, text, WALLTIME_FORMS, "is empty");
    if (text[0] == '-')
        return fail(error, what, text, WALLTIME_FORMS, "must not be negative");

    /* Split into at most 4 digit-only fields: an optional "D-" and up to
     * three ':'-separated fields. */
    const char *start[4];
    size_t len[4];
    int nfields = 0, days = 0;
    const char *p = text;
    for (;;) {
        if (nfields == 4)
            return fail(error, what, text, WALLTIME_FORMS, "has too many fields");
        start[nfields] = p;
        while (*p >= '0' && *p <= '9')
            p++;
        len[nfields] = (size_t)(p - start[nfields]);
        if (len[nfields] == 0) {
            if (*p && *p != ':' && *p != '-') {
                char c[8];
                char_name((unsigned char)*p, c);
                return fail(error, what, text, WALLTIME_FORMS, "has an unexpected character %s",
                            c);
            }
            return fail(error, what, text, WALLTIME_FORMS, "has an empty field");
        }
        nfields++;
        if (*p == '\0')
            break;
        if (*p == '-' && nfields == 1 && !days) {
            days = 1;
        } else if (*p != ':') {
            char c[8];
            char_name((unsigned char)*p, c);
            return fail(error, what, text, WALLTIME_FORMS, "has an unexpected character %s", c);
        }
        p++;
    }
    if (!days && nfields > 3)
        return fail(error, what, text, WALLTIME_FORMS, "has too many fields");

    const char *const *names = days ? day_names : plain_names[nfields - 1];
    long total = 0;
    for (int i = 0; i < nfields; i++) {
        long v = 0;
        for (size_t k = 0; k < len[i]; k++) {
            int d = start[i][k] - '0';
            if (v > (LONG_MAX - d) / 10)
                return fail(error, what, text, WALLTIME_FORMS, "is too large");
            v = v * 10 + d;
        }
        long limit = LONG_MAX, unit = 1;
        const char *name = names[i];
        if (i > 0) /* fields after the first */
            limit = strcmp(name, "hours") == 0 ? 23 : 59;
        if (v > limit)
            return fail(error, what, text, WALLTIME_FORMS, "%s must be 0 to %ld", name, limit);
        if (strcmp(name, "days") == 0)
            unit = 86400;
        else if (strcmp(name, "hours") == 0)
            unit = 3600;
        else if (strcmp(name, "minutes") == 0)
            unit = 60;
        if (v > LONG_MAX / unit || v * unit > LONG_MAX - total)
            return fail(error, what, text, WALLTIME_FORMS, "is too large");
        total += v * unit;
    }
    if (total == 0)
        return fail(error, what, text, WALLTIME_FORMS, "must be at least 1 second");
    *seconds = total;
    if (error)
        *error = NULL;
    return 0;
}

char *mpimap_format_walltime(long seconds)
{
    if (seconds < 0)
        return NULL;
    char *s = NULL;
    if (asprintf(&s, "%ld:%02ld:%02ld", seconds / 3600, seconds / 60 % 60, seconds % 60) < 0)
        return NULL;
    return s;
}

/* ---- node string -------------------------------------------------------- */

/* A whole number from 1 to INT_MAX in text[0..n), digits only. */
static int parse_count(const char *text, size_t n, int *out)
{
    if (n == 0)
        return -1;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        v = v * 10 + (text[i] - '0');
        if (v > INT_MAX)
            return -1;
    }
    if (v < 1)
        return -1;
    *out = (int)v;
    return 0;
}

int mpimap_parse_nodestring(const char *text, int *nodes, int *ppn, int *cpus_per_rank,
                            char **error)
{
    static const char what[] = "nodes";
    if (!text || !*text)
        return fail(error, what, text, NODES_FORM, "is empty");
    int n = 0, p = 0, c = 0;
    const char *part = text;
    size_t plen = strcspn(part, ":");
    if (parse_count(part, plen, &n) < 0)
        return fail(error, what, text, NODES_FORM,
                    "the node count '%.*s' is not a whole number from 1 to %d", (int)plen, part,
                    INT_MAX);
    while (part[plen] == ':') {
        part += plen + 1;
        plen = strcspn(part, ":");
        if (plen == 0)
            return fail(error, what, text, NODES_FORM, "has an empty part");
        const char *eq = memchr(part, '=', plen);
        size_t klen = eq ? (size_t)(eq - part) : plen;
        int *slot = NULL;
        if (klen == 3 && strncmp(part, "ppn", 3) == 0)
            slot = &p;
        else if (klen == 3 && strncmp(part, "cpp", 3) == 0)
            slot = &c;
        else
            return fail(error, what, text, NODES_FORM, "unknown part '%.*s' (parts: ppn=P, cpp=C)",
                        (int)plen, part);
        if (!eq)
            return fail(error, what, text, NODES_FORM, "'%.*s' needs a value", (int)klen, part);
        if (*slot)
            return fail(error, what, text, NODES_FORM, "'%.*s' is given twice", (int)klen, part);
        size_t vlen = plen - klen - 1;
        if (parse_count(eq + 1, vlen, slot) < 0)
            return fail(error, what, text, NODES_FORM,
                        "%.*s '%.*s' is not a whole number from 1 to %d", (int)klen, part,
                        (int)vlen, eq + 1, INT_MAX);
    }
    *nodes = n;
    *ppn = p;
    *cpus_per_rank = c;
    if (error)
        *error = NULL;
    return 0;
}
