/* SPDX-License-Identifier: BSD-3-Clause */
/* assemble.c - the final results of a job from its journals (assemble.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

#include "assemble.h"
#include "journal.h"
#include "ledger.h"

/* Where an item's chosen entry is: priority (3 ok, 2 failed, 1 died) in
 * the top 2 bits, journal number + 1 in the next 16, the entry's where
 * (mpimap_journal_entry_at(): its offset * 4 + 2 bits, so journal files up
 * to 16 TiB) in the low 46. 0: no entry yet. */
#define LOC_PRIO_SHIFT 62
#define LOC_FILE_SHIFT 46
#define LOC_OFF_MASK ((UINT64_C(1) << LOC_FILE_SHIFT) - 1)
#define MAX_JOURNALS 65534

struct view {
    const unsigned char *map;
    size_t len;
};

struct pass {
    uint64_t *loc;
    int *rank;           /* of a failed item's chosen entry (NULL: none failed yet) */
    uint64_t nitems;
    int k;               /* the journal being read */
    mpimap_joblog *log;
    uint64_t bad;        /* an index past nitems (UINT64_MAX: none) */
    int rc;
};

static int on_entry(void *ctx, const mpimap_journal_entry *e)
{
    struct pass *p = ctx;
    if (e->index >= p->nitems) {
        p->bad = e->index;
        return MPIMAP_EINVAL;
    }
    static const uint64_t prio[] = {3, 2, 1};
    uint64_t pr = prio[e->status];
    uint64_t cur = p->loc[e->index];
    uint64_t at = e->where;
    if (at > LOC_OFF_MASK)
        return MPIMAP_ENOMEM;
    if (pr >= cur >> LOC_PRIO_SHIFT) {
        p->loc[e->index] = pr << LOC_PRIO_SHIFT | (uint64_t)(p->k + 1) << LOC_FILE_SHIFT | at;
        /* A result set's entry is found again without its rank: keep a
         * failure's (rare; the table only once one comes). */
        if (e->status != MPIMAP_JOURNAL_OK) {
            if (!p->rank && !(p->rank = calloc((size_t)p->nitems, sizeof *p->rank)))
                return MPIMAP_ENOMEM;
            p->rank[e->index] = e->rank;
        }
    }
    if (p->log) {
        int rc = mpimap_joblog_put(p->log, e->index, e->rank, e->start, e->duration,
                                   e->status, e->data, e->len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int map_file(const char *path, struct view *v)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? MPIMAP_ENOTFOUND : MPIMAP_EIO;
    struct stat st;
    int rc = 0;
    v->map = NULL;
    v->len = 0;
    if (fstat(fd, &st) != 0)
        rc = MPIMAP_EIO;
    else if (st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
            rc = MPIMAP_EIO;
        else {
            v->map = m;
            v->len = (size_t)st.st_size;
        }
    }
    close(fd);
    return rc;
}

int mpimap_assemble(const char *dir, uint64_t nitems, int unordered, mpimap_writer *out,
                    mpimap_joblog *log, mpimap_failure_cb failure, void *ctx,
                    uint64_t *failed, char **error)
{
    *failed = 0;
    struct view *views = NULL;
    int nviews = 0, rc = 0;
    uint64_t *loc = calloc(nitems ? (size_t)nitems : 1, sizeof *loc);
    if (!loc || nitems > SIZE_MAX / sizeof *loc) {
        free(loc);
        return MPIMAP_ENOMEM;
    }
    struct pass p = {loc, NULL, nitems, 0, log, UINT64_MAX, 0};
    for (int k = 0; rc == 0 && k < MAX_JOURNALS; k++) {
        char *path = mpimap_journal_path(dir, k);
        if (!path) {
            rc = MPIMAP_ENOMEM;
            break;
        }
        struct view v;
        rc = map_file(path, &v);
        if (rc == MPIMAP_ENOTFOUND) {
            free(path);
            rc = 0;
            break;
        }
        struct view *nv = rc == 0 ? realloc(views, (size_t)(nviews + 1) * sizeof *nv) : NULL;
        if (rc == 0 && !nv) {
            rc = MPIMAP_ENOMEM;
            if (v.map)
                munmap((void *)v.map, v.len);
        }
        if (rc == 0) {
            views = nv;
            views[nviews++] = v;
            p.k = k;
            size_t good;
            if (v.map) {
                int r = mpimap_journal_parse(v.map, v.len, on_entry, &p, &good);
                if (r < 0 && r != MPIMAP_EINVAL)
                    rc = r;
                else if (p.bad != UINT64_MAX)
                    rc = MPIMAP_EINVAL;
            }
        }
        if (rc < 0 && error) {
            int n;
            if (p.bad != UINT64_MAX)
                n = asprintf(error,
                             "%s names item %" PRIu64 " but the input has %" PRIu64
                             " items: the input changed since the job started",
                             path, p.bad, nitems);
            else
                n = asprintf(error, "cannot read the journal '%s': %s", path,
                             mpimap_strerror(rc));
            if (n < 0)
                *error = NULL;
        }
        free(path);
    }
    for (uint64_t i = 0; rc == 0 && i < nitems; i++) {
        uint64_t l = loc[i];
        int k = (int)((l >> LOC_FILE_SHIFT) & 0xffff) - 1;
        if (l == 0 || k < 0 || k >= nviews) {
            rc = MPIMAP_EINVAL;
            if (error && asprintf(error, "item %" PRIu64 " has no result in the journals of %s",
                                  i, dir) < 0)
                *error = NULL;
            break;
        }
        mpimap_journal_entry e;
        if (mpimap_journal_entry_at(views[k].map, views[k].len, l & LOC_OFF_MASK, &e) < 0) {
            rc = MPIMAP_EINVAL; /* not after a parse of the same bytes */
            if (error &&
                asprintf(error, "item %" PRIu64 ": its journal entry cannot be read", i) < 0)
                *error = NULL;
            break;
        }
        int rank = e.rank >= 0 || !p.rank ? e.rank : p.rank[i];
        size_t n = e.len;
        const void *data = e.data;
        int ok = e.status == MPIMAP_JOURNAL_OK;
        if (!ok) {
            (*failed)++;
            if (failure && (rc = failure(ctx, i, rank, data, n)) < 0)
                break;
        }
        rc = unordered ? mpimap_writer_put_indexed(out, i, ok ? data : "", ok ? n : 0)
                       : mpimap_writer_put(out, ok ? data : "", ok ? n : 0);
        if (rc < 0 && error)
            *error = strdup(mpimap_writer_error(out) ? mpimap_writer_error(out)
                                                     : mpimap_strerror(rc));
    }
    for (int k = 0; k < nviews; k++)
        if (views[k].map)
            munmap((void *)views[k].map, views[k].len);
    free(views);
    free(loc);
    free(p.rank);
    return rc;
}
