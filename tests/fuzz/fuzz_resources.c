/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_resources.c - libFuzzer target for what users type for scheduler
 * resources (resources.c): the walltime and the node string parsers.
 *
 * The input (up to its first NUL) goes to both parsers. Checked: a
 * failure sets a message quoting the text; a walltime that parses is at
 * least a second, formats as H:MM:SS and parses back to the same
 * seconds; a node string that parses is rebuilt as "N[:ppn=P][:cpp=C]"
 * and parses back to the same numbers.
 */
#include <stdint.h>

#include <mpimap/mpimap.h>

#include "fuzz_common.h"
#include "resources.h"

static void check_failure(int rc, char *error, const char *what, const char *text)
{
    FUZZ_CHECK(rc == MPIMAP_EINVAL);
    FUZZ_CHECK(error != NULL);
    FUZZ_CHECK(strncmp(error, what, strlen(what)) == 0);
    FUZZ_CHECK(strstr(error, text) != NULL);
    free(error);
}

static void walltime(const char *text)
{
    long s = -12345;
    char *error = (char *)"untouched";
    int rc = mpimap_parse_walltime(text, &s, &error);
    if (rc != 0) {
        FUZZ_CHECK(s == -12345);
        check_failure(rc, error, "walltime '", text);
        return;
    }
    FUZZ_CHECK(error == NULL);
    FUZZ_CHECK(s >= 1);
    FUZZ_CHECK(strspn(text, "0123456789:-") == strlen(text));
    char *f = mpimap_format_walltime(s);
    FUZZ_SETUP(f != NULL);
    long back = -1;
    rc = mpimap_parse_walltime(f, &back, &error);
    if (rc != 0)
        fprintf(stderr, "'%s' -> %ld -> '%s': %s\n", text, s, f, error ? error : "?");
    FUZZ_CHECK(rc == 0 && back == s);
    free(f);
}

static void nodestring(const char *text)
{
    int n = -1, p = -1, c = -1;
    char *error = (char *)"untouched";
    int rc = mpimap_parse_nodestring(text, &n, &p, &c, &error);
    if (rc != 0) {
        FUZZ_CHECK(n == -1 && p == -1 && c == -1);
        check_failure(rc, error, "nodes '", text);
        return;
    }
    FUZZ_CHECK(error == NULL);
    FUZZ_CHECK(n >= 1 && p >= 0 && c >= 0);
    char again[64];
    int k = snprintf(again, sizeof again, "%d", n);
    if (p)
        k += snprintf(again + k, sizeof again - (size_t)k, ":ppn=%d", p);
    if (c)
        snprintf(again + k, sizeof again - (size_t)k, ":cpp=%d", c);
    int n2 = -1, p2 = -1, c2 = -1;
    FUZZ_CHECK(mpimap_parse_nodestring(again, &n2, &p2, &c2, &error) == 0);
    FUZZ_CHECK(n2 == n && p2 == p && c2 == c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exactly the bytes up to the first NUL, in a buffer of their size
     * (ASan sees a read past the terminator). */
    const uint8_t *nul = memchr(data, '\0', size);
    size_t n = nul ? (size_t)(nul - data) : size;
    char *text = malloc(n + 1);
    FUZZ_SETUP(text != NULL);
    memcpy(text, data, n);
    text[n] = '\0';
    walltime(text);
    nodestring(text);
    free(text);
    return 0;
}
