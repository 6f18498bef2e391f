/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ledger.h - what the journals of a job directory say is done (internal):
 * one byte per item, for deciding which items a resumed run, a restart or
 * a retry round runs.
 *
 * Per item: its outcome (none, ok, failed), how many times a rank died
 * running it, and how many times it failed. An ok entry wins over failed
 * ones (a retry that succeeded); two deaths make an item failed ("rank
 * died while running this item").
 */
#ifndef MPIMAP_CORE_LEDGER_H
#define MPIMAP_CORE_LEDGER_H

#include <stddef.h>
#include <stdint.h>

enum { MPIMAP_LEDGER_NONE = 0, MPIMAP_LEDGER_OK = 1, MPIMAP_LEDGER_FAILED = 2 };

/* Deaths after which an item is failed rather than run again. */
#define MPIMAP_LEDGER_MAX_DEATHS 2

typedef struct mpimap_ledger {
    uint8_t *st;          /* per item: outcome | deaths << 2 | failures << 4 */
    uint64_t n, cap;      /* items known (highest index + 1), allocated */
    int njournals;        /* journal.0 .. journal.<njournals-1> */
    uint64_t torn;        /* journals with a torn or corrupt tail */
} mpimap_ledger;

/* "DIR/journal.K". */
char *mpimap_journal_path(const char *dir, int k);

/* Read every journal of dir into *L (zeroed first). A directory without
 * journals gives an empty ledger. Returns 0 or a negative code with
 * *error set (malloc'd) naming the file. */
int mpimap_ledger_load(mpimap_ledger *L, const char *dir, char **error);

/* Note one entry (enum in journal.h: OK, FAILED or DIED) for item idx. */
int mpimap_ledger_note(mpimap_ledger *L, uint64_t idx, int status);

static inline int mpimap_ledger_outcome(const mpimap_ledger *L, uint64_t idx)
{
    if (idx >= L->n)
        return MPIMAP_LEDGER_NONE;
    int o = L->st[idx] & 3;
    if (o == MPIMAP_LEDGER_NONE && ((L->st[idx] >> 2) & 3) >= MPIMAP_LEDGER_MAX_DEATHS)
        return MPIMAP_LEDGER_FAILED;
    return o;
}
static inline int mpimap_ledger_failures(const mpimap_ledger *L, uint64_t idx)
{
    return idx < L->n ? L->st[idx] >> 4 : 0;
}

void mpimap_ledger_free(mpimap_ledger *L);

#endif /* MPIMAP_CORE_LEDGER_H */
