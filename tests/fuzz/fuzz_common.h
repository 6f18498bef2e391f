/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_common.h - helpers shared by the libFuzzer targets: an in-memory
 * file with a path (a memfd named by /proc/self/fd/N), a scratch
 * directory removed at exit, and an invariant check that aborts (which
 * libFuzzer reports as a crash and saves the input).
 */
#ifndef MPIMAP_FUZZ_COMMON_H
#define MPIMAP_FUZZ_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* The harness itself failed (not a finding in the code under test). */
#define FUZZ_SETUP(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: fuzz setup failed: %s: %s\n", __FILE__, __LINE__, #cond, \
                    strerror(errno));                                                 \
            exit(2);                                                                  \
        }                                                                             \
    } while (0)

/* A memfd; path receives "/proc/self/fd/N", which open() and fopen()
 * reopen at offset 0. */
static inline int fuzz_memfd(const char *name, char path[64])
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    FUZZ_SETUP(fd >= 0);
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

/* Replace the whole content of fd with data[0..len). */
static inline void fuzz_fill(int fd, const void *data, size_t len)
{
    FUZZ_SETUP(ftruncate(fd, 0) == 0);
    const char *p = data;
    off_t at = 0;
    while (len) {
        ssize_t n = pwrite(fd, p, len, at);
        if (n < 0 && errno == EINTR)
            continue;
        FUZZ_SETUP(n > 0);
        p += n;
        at += n;
        len -= (size_t)n;
    }
}

/* A scratch directory (in /dev/shm when there is one), "" until made. */
static char fuzz_dir_path[256];

static void fuzz_dir_cleanup(void)
{
    if (fuzz_dir_path[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_path);
        if (system(cmd) != 0) {
            /* nothing to do: a leftover scratch directory is harmless */
        }
    }
}

static inline const char *fuzz_dir(const char *tag)
{
    if (fuzz_dir_path[0])
        return fuzz_dir_path;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/fuzz-mpimap-%s-XXXXXX", base, tag);
    FUZZ_SETUP(mkdtemp(fuzz_dir_path) != NULL);
    atexit(fuzz_dir_cleanup);
    return fuzz_dir_path;
}

#endif /* MPIMAP_FUZZ_COMMON_H */
