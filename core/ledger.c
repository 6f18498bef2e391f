/* SPDX-License-Identifier: BSD-3-Clause */
/* ledger.c - what the journals of a job directory say is done (ledger.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

#include "journal.h"
#include "ledger.h"

char *mpimap_journal_path(const char *dir, int k)
{
    char *p = NULL;
    return asprintf(&p, "%s/journal.%d", dir, k) < 0 ? NULL : p;
}

static int grow(mpimap_ledger *L, uint64_t idx)
{
    if (idx < L->n)
        return 0;
    if (idx >= L->cap) {
        uint64_t ncap = L->cap ? L->cap : 4096;
        while (ncap <= idx)
            ncap *= 2;
        if (ncap > SIZE_MAX)
            return MPIMAP_ENOMEM;
        uint8_t *p = realloc(L->st, (size_t)ncap);
        if (!p)
            return MPIMAP_ENOMEM;
        memset(p + L->cap, 0, (size_t)(ncap - L->cap));
        L->st = p;
        L->cap = ncap;
    }
    L->n = idx + 1;
    return 0;
}

int mpimap_ledger_note(mpimap_ledger *L, uint64_t idx, int status)
{
    if (idx == UINT64_MAX)
        return MPIMAP_EINVAL;
    int rc = grow(L, idx);
    if (rc < 0)
        return rc;
    uint8_t b = L->st[idx];
    int outcome = b & 3, deaths = (b >> 2) & 3, fails = b >> 4;
    switch (status) {
    case MPIMAP_JOURNAL_OK:
        outcome = MPIMAP_LEDGER_OK;
        break;
    case MPIMAP_JOURNAL_FAILED:
        if (outcome != MPIMAP_LEDGER_OK)
            outcome = MPIMAP_LEDGER_FAILED;
        if (fails < 15)
            fails++;
        break;
    case MPIMAP_JOURNAL_DIED:
        if (deaths < 3)
            deaths++;
        break;
    default:
        return MPIMAP_EINVAL;
    }
    L->st[idx] = (uint8_t)(outcome | deaths << 2 | fails << 4);
    return 0;
}

static int note_entry(void *ctx, const mpimap_journal_entry *e)
{
    return mpimap_ledger_note(ctx, e->index, e->status);
}

int mpimap_ledger_load(mpimap_ledger *L, const char *dir, char **error)
{
    memset(L, 0, sizeof *L);
    for (int k = 0;; k++) {
        char *path = mpimap_journal_path(dir, k);
        if (!path)
            return MPIMAP_ENOMEM;
        if (access(path, F_OK) != 0) {
            free(path);
            return 0;
        }
        size_t good;
        int rc = mpimap_journal_scan(path, note_entry, L, &good);
        if (rc == MPIMAP_EINVAL && good == 0) {
            /* Torn in its very first write: nothing in it counts. */
            L->torn++;
            rc = 0;
        } else if (rc == 0) {
            struct stat st;
            if (stat(path, &st) == 0 && (uint64_t)st.st_size != good)
                L->torn++;
        }
        if (rc < 0) {
            if (error && asprintf(error, "cannot read the journal '%s': %s", path,
                                  mpimap_strerror(rc)) < 0)
                *error = NULL;
            free(path);
            return rc;
        }
        free(path);
        L->njournals = k + 1;
    }
}

void mpimap_ledger_free(mpimap_ledger *L)
{
    free(L->st);
    memset(L, 0, sizeof *L);
}
