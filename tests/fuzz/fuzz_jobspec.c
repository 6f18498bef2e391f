/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_jobspec.c - libFuzzer target for the job spec reader
 * (mpimap_jobspec_read of jobspec.c).
 *
 * The input is the spec file (a memfd). Checked: a failure leaves the
 * struct zeroed with a message; a spec that reads is written back
 * (mpimap_jobspec_write), read again and written again, and both
 * writings are byte for byte the same (so escaping round-trips, whatever
 * fields the spec has).
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include <mpimap/mpimap.h>

#include "fuzz_common.h"
#include "jobspec.h"

static int memfd = -1;
static char memfd_path[64];
static char *out1, *out2;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    FUZZ_SETUP(f != NULL);
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            FUZZ_SETUP(buf != NULL);
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Zeroed: every byte (the reader starts with a memset and
 * mpimap_jobspec_free() ends with one), whatever fields there are. */
static void check_zero(const struct mpimap_jobspec *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < sizeof *s; i++)
        FUZZ_CHECK(p[i] == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    memfd = fuzz_memfd("fuzz_jobspec", memfd_path);
    const char *dir = fuzz_dir("jobspec");
    FUZZ_SETUP(asprintf(&out1, "%s/spec1", dir) > 0);
    FUZZ_SETUP(asprintf(&out2, "%s/spec2", dir) > 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fill(memfd, data, size);
    struct mpimap_jobspec s;
    memset(&s, 0xa5, sizeof s); /* overwritten, not freed first */
    char *error = NULL;
    int rc = mpimap_jobspec_read(&s, memfd_path, &error);
    if (rc < 0) {
        FUZZ_CHECK(rc == MPIMAP_EINVAL);
        FUZZ_CHECK(error != NULL && *error);
        FUZZ_CHECK(strncmp(error, memfd_path, strlen(memfd_path)) == 0);
        check_zero(&s);
        free(error);
        return 0;
    }
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(error == NULL);
    FUZZ_CHECK(s.framing == MPIMAP_FRAME_LINE || s.framing == MPIMAP_FRAME_NUL ||
               s.framing == MPIMAP_FRAME_BINARY);
    FUZZ_CHECK(s.command.n == 0 || s.command.v[s.command.n] == NULL);

    /* Round trip: write, read, write: the same bytes. */
    FUZZ_CHECK(mpimap_jobspec_write(&s, out1) == 0);
    struct mpimap_jobspec s2;
    memset(&s2, 0, sizeof s2);
    rc = mpimap_jobspec_read(&s2, out1, &error);
    if (rc != 0)
        fprintf(stderr, "re-reading the written spec: %s\n", error ? error : "?");
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(mpimap_jobspec_write(&s2, out2) == 0);
    size_t n1, n2;
    char *b1 = slurp(out1, &n1), *b2 = slurp(out2, &n2);
    FUZZ_CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0);
    FUZZ_CHECK(s2.command.n == s.command.n);
    for (size_t i = 0; i < s.command.n; i++)
        FUZZ_CHECK(strcmp(s.command.v[i], s2.command.v[i]) == 0);
    free(b1);
    free(b2);
    mpimap_jobspec_free(&s);
    mpimap_jobspec_free(&s2);
    return 0;
}
