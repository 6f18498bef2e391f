/* SPDX-License-Identifier: BSD-3-Clause */
/* siteconfig.c - read the site, user and $MPIMAP_CONFIG config files into
 * "key = value" entries, each with the FILE:LINE it came from. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>

#include "resources.h"
#include "siteconfig.h"

#define SYSTEM_CONFIG "/etc/mpimap/mpimap.conf"
#define USER_CONFIG "mpimap/mpimap.conf" /* under $XDG_CONFIG_HOME or ~/.config */

const char *const mpimap_config_keys[] = {
    "launcher", "via", "strategy", "np", "queue", "account", "qos",
    "walltime", "mpirun_args", "directive", NULL};

#define KEY_LIST \
    "launcher, via, strategy, np, queue, account, qos, walltime, mpirun_args, directive"

int mpimap_config_repeatable(const char *key)
{
    return key && strcmp(key, "directive") == 0;
}

static int known_key(const char *key)
{
    for (size_t i = 0; mpimap_config_keys[i]; i++)
        if (strcmp(key, mpimap_config_keys[i]) == 0)
            return 1;
    return 0;
}

/* Set *error to a malloc'd message (left NULL when out of memory) and
 * return rc. */
static int fail(char **error, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int fail(char **error, int rc, const char *fmt, ...)
{
    if (error) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(error, fmt, ap) < 0)
            *error = NULL;
        va_end(ap);
    }
    return rc;
}

/* ---- splitting mpirun_args ---------------------------------------------- */

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int mpimap_config_split(const char *text, mpimap_strv *words, char **error)
{
    if (error)
        *error = NULL;
    size_t n0 = words->n;
    char *word = malloc(strlen(text) + 1); /* a word is never longer */
    if (!word)
        return MPIMAP_ENOMEM;
    int rc = 0;
    const char *p = text;
    for (;;) {
        while (is_blank(*p))
            p++;
        if (!*p)
            break;
        size_t n = 0;
        while (*p && !is_blank(*p)) {
            if (*p == '\'') {
                const char *q = strchr(p + 1, '\'');
                if (!q) {
                    rc = fail(error, MPIMAP_EINVAL, "unterminated single quote");
                    goto out;
                }
                memcpy(word + n, p + 1, (size_t)(q - p - 1));
                n += (size_t)(q - p - 1);
                p = q + 1;
            } else if (*p == '"') {
                for (p++; *p != '"'; p++) {
                    if (!*p) {
                        rc = fail(error, MPIMAP_EINVAL, "unterminated double quote");
                        goto out;
                    }
                    if (*p == '\\' && p[1] == '\n')
                        p++; /* a line continuation: both go */
                    else if (*p == '\\' && (p[1] == '"' || p[1] == '\\' || p[1] == '$' ||
                                            p[1] == '`'))
                        word[n++] = *++p;
                    else
                        word[n++] = *p;
                }
                p++;
            } else if (*p == '\\') {
                if (!p[1]) {
                    rc = fail(error, MPIMAP_EINVAL, "backslash at the end");
                    goto out;
                }
                if (p[1] != '\n')
                    word[n++] = p[1];
                p += 2;
            } else {
                word[n++] = *p++;
            }
        }
        word[n] = '\0';
        if ((rc = mpimap_strv_push(words, word)) < 0)
            goto out;
    }
out:
    free(word);
    if (rc < 0) {
        for (size_t i = n0; i < words->n; i++) {
            free(words->v[i]);
            words->v[i] = NULL;
        }
        words->n = n0;
    }
    return rc;
}

/* ---- entries ------------------------------------------------------------ */

void mpimap_config_free(struct mpimap_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n; i++) {
        free(cfg->v[i].key);
        free(cfg->v[i].value);
        free(cfg->v[i].source);
    }
    free(cfg->v);
    cfg->v = NULL;
    cfg->n = cfg->cap = 0;
}

const char *mpimap_config_get(const struct mpimap_config *cfg, const char *key,
                              const char **source)
{
    for (size_t i = cfg ? cfg->n : 0; i-- > 0;) {
        if (strcmp(cfg->v[i].key, key) == 0) {
            if (source)
                *source = cfg->v[i].source;
            return cfg->v[i].value;
        }
    }
    if (source)
        *source = NULL;
    return NULL;
}

int mpimap_config_in_force(const struct mpimap_config *cfg, size_t i)
{
    if (!cfg || i >= cfg->n)
        return 0;
    if (mpimap_config_repeatable(cfg->v[i].key))
        return 1;
    for (size_t k = i + 1; k < cfg->n; k++)
        if (strcmp(cfg->v[k].key, cfg->v[i].key) == 0)
            return 0;
    return 1;
}

/* Append key = value (copied) from path:line. */
static int add_entry(struct mpimap_config *cfg, const char *key, const char *value,
                     const char *path, unsigned long line)
{
    if (cfg->n == cfg->cap) {
        size_t ncap = cfg->cap ? cfg->cap * 2 : 16;
        struct mpimap_config_entry *v = realloc(cfg->v, ncap * sizeof *v);
        if (!v)
            return MPIMAP_ENOMEM;
        cfg->v = v;
        cfg->cap = ncap;
    }
    struct mpimap_config_entry e = {strdup(key), strdup(value), NULL};
    if (asprintf(&e.source, "%s:%lu", path, line) < 0)
        e.source = NULL;
    if (!e.key || !e.value || !e.source) {
        free(e.key);
        free(e.value);
        free(e.source);
        return MPIMAP_ENOMEM;
    }
    cfg->v[cfg->n++] = e;
    return 0;
}

/* ---- one file ----------------------------------------------------------- */

static int plugin_name(const char *s)
{
    for (; *s; s++) {
        int ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                 (*s >= '0' && *s <= '9') || *s == '_' || *s == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

/* Check a value as it is read; where = "FILE:LINE". */
static int check_value(const char *where, const char *key, const char *value, char **error)
{
    if (strcmp(key, "np") == 0) {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || *end || errno || v < 1 || v > INT_MAX)
            return fail(error, MPIMAP_EINVAL, "%s: np '%s' is not a whole number from 1 to %d",
                        where, value, INT_MAX);
    } else if (strcmp(key, "walltime") == 0) {
        long seconds;
        char *msg = NULL;
        int rc = mpimap_parse_walltime(value, &seconds, &msg);
        if (rc < 0) {
            rc = msg ? fail(error, rc, "%s: %s", where, msg) : MPIMAP_ENOMEM;
            free(msg);
            return rc;
        }
    } else if (strcmp(key, "launcher") == 0 || strcmp(key, "via") == 0 ||
               strcmp(key, "strategy") == 0) {
        if (!plugin_name(value))
            return fail(error, MPIMAP_EINVAL,
                        "%s: %s '%s' is not a plugin name (letters, digits, '_' and '-')",
                        where, key, value);
    } else if (strcmp(key, "mpirun_args") == 0) {
        mpimap_strv words = {0};
        char *msg = NULL;
        int rc = mpimap_config_split(value, &words, &msg);
        mpimap_strv_free(&words);
        if (rc < 0) {
            rc = msg ? fail(error, rc, "%s: mpirun_args: %s", where, msg)
                     : MPIMAP_ENOMEM;
            free(msg);
            return rc;
        }
    } else if (strcmp(key, "directive") == 0) {
        if (!*value)
            return fail(error, MPIMAP_EINVAL, "%s: directive is empty", where);
    }
    return 0;
}

static char *trim_end(char *s, char *end)
{
    while (end > s && is_blank(end[-1]))
        end--;
    *end = '\0';
    return s;
}

/* Parse one line (NUL-terminated, no newline) of path; first is the index
 * of the first entry of this file in cfg. */
static int parse_line(struct mpimap_config *cfg, size_t first, const char *path,
                      unsigned long lineno, char *line, char **error)
{
    char *s = line;
    while (*s == ' ' || *s == '\t')
        s++;
    trim_end(s, s + strlen(s));
    if (!*s || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (!eq)
        return fail(error, MPIMAP_EINVAL, "%s:%lu: expected 'key = value', got '%s'", path,
                    lineno, s);
    char *key = trim_end(s, eq);
    if (!*key)
        return fail(error, MPIMAP_EINVAL, "%s:%lu: no key before '='", path, lineno);
    if (!known_key(key))
        return fail(error, MPIMAP_EINVAL, "%s:%lu: unknown key '%s' (keys: " KEY_LIST ")",
                    path, lineno, key);
    char *value = eq + 1;
    while (is_blank(*value))
        value++;
    if (*value == '"') {
        /* Unquote in place. */
        char *r = value + 1, *w = value;
        for (; *r != '"'; r++) {
            if (!*r)
                return fail(error, MPIMAP_EINVAL,
                            "%s:%lu: no closing '\"' in the value of '%s'", path, lineno, key);
            if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
                r++;
            *w++ = *r;
        }
        for (r++; is_blank(*r); r++)
            ;
        if (*r)
            return fail(error, MPIMAP_EINVAL,
                        "%s:%lu: text after the closing '\"' in the value of '%s'", path,
                        lineno, key);
        *w = '\0';
    } else if (!*value) {
        return fail(error, MPIMAP_EINVAL, "%s:%lu: no value for '%s'", path, lineno, key);
    }
    if (!mpimap_config_repeatable(key)) {
        for (size_t i = first; i < cfg->n; i++) {
            if (strcmp(cfg->v[i].key, key) == 0) {
                const char *colon = strrchr(cfg->v[i].source, ':');
                return fail(error, MPIMAP_EINVAL,
                            "%s:%lu: '%s' is already set at line %s (only directive repeats)",
                            path, lineno, key, colon ? colon + 1 : "?");
            }
        }
    }
    char *where = NULL;
    if (asprintf(&where, "%s:%lu", path, lineno) < 0)
        return MPIMAP_ENOMEM;
    int rc = check_value(where, key, value, error);
    free(where);
    if (rc < 0)
        return rc;
    return add_entry(cfg, key, value, path, lineno);
}

/* Read path into cfg. A missing file is fine unless must_exist. why says
 * who named the file, for messages (or NULL). */
static int read_file(struct mpimap_config *cfg, const char *path, int must_exist,
                     const char *why, char **error)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        if (!must_exist && (e == ENOENT || e == ENOTDIR))
            return 0;
        return fail(error, MPIMAP_EIO, "%s: cannot read: %s%s%s%s", path, strerror(e),
                    why ? " (named by " : "", why ? why : "", why ? ")" : "");
    }
    size_t first = cfg->n;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long lineno = 0;
    int rc = 0;
    errno = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (strlen(line) != (size_t)len) {
            rc = fail(error, MPIMAP_EINVAL, "%s:%lu: a NUL byte in the line", path, lineno);
            break;
        }
        if ((rc = parse_line(cfg, first, path, lineno, line, error)) < 0)
            break;
        errno = 0;
    }
    if (rc == 0 && ferror(f)) {
        int e = errno ? errno : EIO;
        rc = e == ENOMEM ? MPIMAP_ENOMEM
                         : fail(error, MPIMAP_EIO, "%s: cannot read: %s%s%s%s", path,
                                strerror(e), why ? " (named by " : "", why ? why : "",
                                why ? ")" : "");
    }
    free(line);
    fclose(f);
    return rc;
}

int mpimap_config_load(struct mpimap_config *cfg, char **error)
{
    if (error)
        *error = NULL;
    int rc = 0;
    char *user = NULL;

    const char *sys = getenv("MPIMAP_CONFIG_SYSTEM");
    if (!sys)
        sys = SYSTEM_CONFIG;
    if (*sys && (rc = read_file(cfg, sys, 0, NULL, error)) < 0)
        goto out;

    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    /* XDG: a relative $XDG_CONFIG_HOME is ignored. */
    if (xdg && xdg[0] == '/')
        rc = asprintf(&user, "%s/" USER_CONFIG, xdg);
    else if (home && *home)
        rc = asprintf(&user, "%s/.config/" USER_CONFIG, home);
    if (rc < 0) {
        user = NULL;
        rc = MPIMAP_ENOMEM;
        goto out;
    }
    rc = 0;
    if (user && (rc = read_file(cfg, user, 0, NULL, error)) < 0)
        goto out;

    const char *named = getenv("MPIMAP_CONFIG");
    if (named && *named)
        rc = read_file(cfg, named, 1, "MPIMAP_CONFIG", error);
out:
    free(user);
    if (rc < 0)
        mpimap_config_free(cfg);
    return rc;
}
