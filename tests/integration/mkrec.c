/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mkrec.c - makes and transforms test inputs for the integration tests
 * (python3 is not guaranteed in CI):
 *   mkrec bin          lines on stdin -> binary records (le64 length + bytes),
 *                      each without its newline
 *   mkrec binnl        the same, each record keeping its newline
 *   mkrec rev          binary records on stdin -> the same, each reversed
 *   mkrec big N        one binary record of N bytes (all 256 byte values)
 *   mkrec bigline N    one line of N bytes (no NUL or newline), newline-ended
 *   mkrec nul          binary records with NUL bytes in them (and an empty one)
 *   mkrec trunc        two good records, then one cut short (its header says
 *                      100 bytes at offset 22, 10 follow)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_len(uint64_t n)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(n >> (8 * i));
    fwrite(b, 1, 8, stdout);
}

static void put_rec(const void *p, size_t n)
{
    put_len(n);
    fwrite(p, 1, n, stdout);
}

static int get_rec(unsigned char **buf, size_t *cap, size_t *len)
{
    unsigned char b[8];
    size_t got = fread(b, 1, 8, stdin);
    if (got == 0)
        return 0;
    if (got != 8)
        return -1;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | b[i];
    if (n > *cap) {
        unsigned char *p = realloc(*buf, n);
        if (!p)
            return -1;
        *buf = p;
        *cap = n;
    }
    if (fread(*buf, 1, n, stdin) != n)
        return -1;
    *len = n;
    return 1;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "bin") || !strcmp(mode, "binnl")) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
            if (n > 0 && line[n - 1] == '\n' && !strcmp(mode, "bin"))
                n--;
            put_rec(line, (size_t)n);
        }
        free(line);
    } else if (!strcmp(mode, "rev")) {
        unsigned char *buf = NULL;
        size_t cap = 0, len = 0;
        int rc;
        while ((rc = get_rec(&buf, &cap, &len)) > 0) {
            for (size_t i = 0; i < len / 2; i++) {
                unsigned char t = buf[i];
                buf[i] = buf[len - 1 - i];
                buf[len - 1 - i] = t;
            }
            put_rec(buf, len);
        }
        free(buf);
        if (rc < 0) {
            fprintf(stderr, "mkrec rev: malformed input\n");
            return 1;
        }
    } else if ((!strcmp(mode, "big") || !strcmp(mode, "bigline")) && argc == 3) {
        size_t n = strtoul(argv[2], NULL, 10);
        int line = !strcmp(mode, "bigline");
        unsigned char *p = malloc(n ? n : 1);
        if (!p)
            return 1;
        for (size_t i = 0; i < n; i++)
            p[i] = line ? (unsigned char)('a' + (i * 7 + i / 251) % 26)
                        : (unsigned char)((i * 7 + i / 251) & 0xff);
        if (line) {
            fwrite(p, 1, n, stdout);
            putchar('\n');
        } else {
            put_rec(p, n);
        }
        free(p);
    } else if (!strcmp(mode, "nul")) {
        static const char a[] = "a\0b", b[] = "\0\0\0", c[] = "x\ny\0z\n";
        put_rec(a, sizeof a - 1);
        put_rec("", 0);
        put_rec(b, sizeof b - 1);
        put_rec(c, sizeof c - 1);
        put_rec("plain", 5);
    } else if (!strcmp(mode, "trunc")) {
        put_rec("ab", 2);     /* offset 0, 10 bytes */
        put_rec("cdef", 4);   /* offset 10, 12 bytes */
        put_len(100);         /* offset 22: says 100 bytes ... */
        fwrite("0123456789", 1, 10, stdout); /* ... 10 follow */
    } else {
        fprintf(stderr, "usage: mkrec bin|binnl|rev|big N|bigline N|nul|trunc\n");
        return 2;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
