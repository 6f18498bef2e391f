/* SPDX-License-Identifier: BSD-3-Clause */
/* shellquote.c - quote strings as POSIX sh words; join argvs into shell text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shellquote.h"

/* Characters that never need quoting in any position of a word. The
 * leading '-' or '=' is safe for the shell (options are the program's
 * business); '~' and '!' are not in the set, so they get quoted. */
static int is_bare(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    switch (c) {
    case '_': case '@': case '%': case '+': case '=': case ':':
    case ',': case '.': case '/': case '-':
        return 1;
    default:
        return 0;
    }
}

/* The length of the quoted form of s (without the NUL), or SIZE_MAX on
 * overflow; *bare tells whether s goes bare. With command_word, a word
 * holding '=' is quoted even when its characters are all safe: as the
 * first word of a command, NAME=VALUE would be an assignment. */
static size_t quoted_len(const char *s, int command_word, int *bare)
{
    size_t len = 0, quotes = 0;
    int all_bare = 1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        len++;
        if (*p == '\'')
            quotes++;
        if (!is_bare(*p))
            all_bare = 0;
    }
    if (len == 0 || (command_word && strchr(s, '=')))
        all_bare = 0;
    *bare = all_bare;
    if (all_bare)
        return len;
    /* 'body' with each ' (1 byte) becoming '\'' (4 bytes). */
    if (quotes > (SIZE_MAX - len - 3) / 3)
        return SIZE_MAX;
    return len + 3 * quotes + 2;
}

/* Write the quoted form of s at out (which has room for it); return the
 * end. */
static char *quote_into(char *out, const char *s, int bare)
{
    if (bare) {
        size_t n = strlen(s);
        memcpy(out, s, n);
        return out + n;
    }
    *out++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(out, "'\\''", 4);
            out += 4;
        } else {
            *out++ = *p;
        }
    }
    *out++ = '\'';
    return out;
}

char *mpimap_shell_quote(const char *s)
{
    if (!s)
        return NULL;
    int bare;
    size_t n = quoted_len(s, 0, &bare);
    if (n == SIZE_MAX)
        return NULL;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    char *end = quote_into(out, s, bare);
    *end = '\0';
    return out;
}

char *mpimap_shell_join(const char *const *argv)
{
    size_t total = 0, count = 0;
    for (size_t i = 0; argv && argv[i]; i++) {
        int bare;
        size_t n = quoted_len(argv[i], i == 0, &bare);
        if (n == SIZE_MAX || total > SIZE_MAX - n - 2)
            return NULL;
        total += n + 1; /* the word and a space (or the final NUL) */
        count++;
    }
    char *out = malloc(count ? total : 1);
    if (!out)
        return NULL;
    char *p = out;
    for (size_t i = 0; i < count; i++) {
        int bare;
        (void)quoted_len(argv[i], i == 0, &bare);
        if (i)
            *p++ = ' ';
        p = quote_into(p, argv[i], bare);
    }
    *p = '\0';
    return out;
}
