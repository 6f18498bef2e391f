/* SPDX-License-Identifier: BSD-3-Clause */
/* which.c - find a program on PATH, for the driver and launcher plugins. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mpimap/launcher.h>

static int is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* dir (dlen bytes; empty = the current directory, as POSIX PATH rules say)
 * joined with name, when that is a regular file we may execute. */
static char *executable_in(const char *dir, size_t dlen, const char *name)
{
    if (dlen == 0) {
        dir = ".";
        dlen = 1;
    }
    size_t nlen = strlen(name);
    char *path = malloc(dlen + 1 + nlen + 1);
    if (!path)
        return NULL;
    memcpy(path, dir, dlen);
    path[dlen] = '/';
    memcpy(path + dlen + 1, name, nlen + 1);
    if (is_executable(path))
        return path;
    free(path);
    return NULL;
}

char *mpimap_which(const char *program)
{
    if (!program || !*program)
        return NULL;
    if (strchr(program, '/'))
        return is_executable(program) ? strdup(program) : NULL;
    const char *path = getenv("PATH");
    char *deflt = NULL;
    if (!path) {
        size_t n = confstr(_CS_PATH, NULL, 0);
        if (n == 0 || !(deflt = malloc(n)))
            return NULL;
        confstr(_CS_PATH, deflt, n);
        path = deflt;
    }
    char *found = NULL;
    for (const char *p = path; !found;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        found = executable_in(p, len, program);
        if (!colon)
            break;
        p = colon + 1;
    }
    free(deflt);
    return found;
}
