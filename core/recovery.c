/* SPDX-License-Identifier: BSD-3-Clause */
/* recovery.c - between a dead run of a job and the next (recovery.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

#include "engine.h"
#include "journal.h"
#include "ledger.h"
#include "recovery.h"

static char *path_join(const char *a, const char *b)
{
    char *p = NULL;
    return asprintf(&p, "%s/%s", a, b) < 0 ? NULL : p;
}

int mpimap_recovery_journals(const char *dir)
{
    int k = 0;
    for (;; k++) {
        char *p = mpimap_journal_path(dir, k);
        int there = p && access(p, F_OK) == 0;
        free(p);
        if (!there)
            return k;
    }
}

/* The first line of a file, without its newline; NULL when empty. */
static char *first_line(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    if (n <= 0) {
        free(line);
        return NULL;
    }
    if (line[n - 1] == '\n')
        line[n - 1] = '\0';
    return line;
}

static int append_what(char **what, const char *line)
{
    char *s = NULL;
    if (asprintf(&s, "%s%s%s", *what ? *what : "", *what ? "\n" : "", line) < 0)
        return MPIMAP_ENOMEM;
    free(*what);
    *what = s;
    return 0;
}

int mpimap_recovery_blame(const char *dir, char **what)
{
    *what = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return MPIMAP_EIO;
    mpimap_journal *jn = NULL;
    int blamed = 0, rc = 0;
    struct dirent *de;
    while (rc >= 0 && (de = readdir(d))) {
        int crash = !strncmp(de->d_name, "crash.", 6);
        int timeout = !strncmp(de->d_name, "timeout.", 8);
        int partial = !strncmp(de->d_name, "results.tmp.", 12);
        if (!crash && !timeout && !partial)
            continue;
        char *path = path_join(dir, de->d_name);
        if (!path) {
            rc = MPIMAP_ENOMEM;
            break;
        }
        char *line = partial ? NULL : first_line(path);
        int rank = atoi(strchr(de->d_name, '.') + 1);
        uint64_t idx = UINT64_MAX;
        double secs = 0;
        char *reason = NULL;
        const char *at;
        if (crash && line && (at = strstr(line, " while running item ")) &&
            sscanf(at, " while running item %" SCNu64, &idx) == 1) {
            reason = strdup(line);
        } else if (timeout && line && sscanf(line, "%" SCNu64 " %lf", &idx, &secs) == 2) {
            if (asprintf(&reason, "timed out after %g s", secs) < 0)
                reason = NULL;
        }
        if (line && (rc = append_what(what, crash ? line : reason ? reason : line)) < 0) {
            free(line);
            free(reason);
            free(path);
            break;
        }
        if (idx != UINT64_MAX && reason) {
            if (!jn) {
                char *jp = mpimap_journal_path(dir, mpimap_recovery_journals(dir));
                rc = jp ? mpimap_journal_create(&jn, jp, 0) : MPIMAP_ENOMEM;
                free(jp);
            }
            if (rc == 0)
                rc = mpimap_journal_add(jn, idx,
                                        crash ? MPIMAP_JOURNAL_DIED : MPIMAP_JOURNAL_FAILED,
                                        rank, mpimap_wallclock(), 0, reason, strlen(reason));
            if (rc == 0)
                blamed++;
        }
        free(reason);
        free(line);
        unlink(path);
        free(path);
    }
    closedir(d);
    if (jn && mpimap_journal_close(jn) < 0 && rc >= 0)
        rc = MPIMAP_EIO;
    return rc < 0 ? rc : blamed;
}

int mpimap_recovery_wait_unlocked(const char *dir, double seconds)
{
    char *p = path_join(dir, "lock");
    if (!p)
        return MPIMAP_ENOMEM;
    int fd = open(p, O_RDWR | O_CLOEXEC);
    free(p);
    if (fd < 0)
        return 0; /* never run */
    double until = mpimap_now() + seconds;
    int rc;
    while ((rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && mpimap_now() < until)
        usleep(100000);
    close(fd);
    return rc == 0 ? 0 : MPIMAP_EBUSY;
}

int mpimap_recovery_straggler(const char *dir, double floor, uint64_t *index, int *rank,
                              char **host, double *seconds, double *median)
{
    *host = NULL;
    char *pp = path_join(dir, "progress");
    FILE *f = pp ? fopen(pp, "r") : NULL;
    free(pp);
    double med = 0;
    if (f) {
        if (fscanf(f, "%*u %*u %*u %*f %lf", &med) != 1)
            med = 0;
        fclose(f);
    }
    double limit = 10 * med > floor ? 10 * med : floor;
    double now = mpimap_wallclock();
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    int found = 0;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "current.", 8) != 0)
            continue;
        char *p = path_join(dir, de->d_name);
        char *line = p ? first_line(p) : NULL;
        free(p);
        uint64_t idx;
        double start;
        char h[256];
        if (line && sscanf(line, "%" SCNu64 " %lf %255s", &idx, &start, h) == 3 &&
            now - start > limit && (!found || now - start > *seconds)) {
            free(*host);
            *host = strdup(h);
            *index = idx;
            *rank = atoi(de->d_name + 8);
            *seconds = now - start;
            *median = med;
            found = 1;
        }
        free(line);
    }
    closedir(d);
    return found;
}
