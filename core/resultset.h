/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * resultset.h - reading a result set (format: engine.h) record by record
 * (internal), for the root to hand each result to the sink.
 */
#ifndef MPIMAP_CORE_RESULTSET_H
#define MPIMAP_CORE_RESULTSET_H

#include <stddef.h>
#include <stdint.h>

#include <mpimap/mpimap.h>

#include "varint.h"
#include "wire.h"

#define MPIMAP_RESULTS_HEADER 48u

typedef struct mpimap_results_iter {
    const unsigned char *q, *end; /* the next record, the set's end */
    uint64_t first, count, i;     /* i: records read so far */
    uint64_t at;                  /* ticks from wall0 to the last one's end */
    int rank;
    double wall0, spt;
} mpimap_results_iter;

/* One record: status 0 (ok) or 1 (failed), start (wall clock) and
 * duration in seconds, its bytes. */
typedef struct mpimap_results_rec {
    int status;
    double start, duration;
    const unsigned char *data;
    size_t len;
} mpimap_results_rec;

/* Start reading the set of len bytes at p: 0, or MPIMAP_EINVAL when it is
 * shorter than its header. */
static inline int mpimap_results_begin(mpimap_results_iter *it, const void *p, size_t len)
{
    const unsigned char *b = p;
    if (!p || len < MPIMAP_RESULTS_HEADER)
        return MPIMAP_EINVAL;
    it->first = get_u64(b);
    it->count = get_u64(b + 8);
    it->rank = (int)get_u32(b + 16);
    it->wall0 = get_f64(b + 24);
    it->spt = get_f64(b + 32);
    it->q = b + MPIMAP_RESULTS_HEADER;
    it->end = b + len;
    it->i = 0;
    it->at = 0;
    return 0;
}

/* The next record into *r: 1, 0 after the last, MPIMAP_EINVAL when the
 * set ends inside a record or a varint is malformed (never read past the
 * set). */
static inline int mpimap_results_next(mpimap_results_iter *it, mpimap_results_rec *r)
{
    if (it->i == it->count)
        return 0;
    uint64_t ls, gap, took;
    if (get_varint(&it->q, it->end, &ls) < 0 || get_varint(&it->q, it->end, &gap) < 0 ||
        get_varint(&it->q, it->end, &took) < 0 || ls >> 1 > (uint64_t)(it->end - it->q))
        return MPIMAP_EINVAL;
    it->at += gap;
    r->status = (int)(ls & 1);
    r->start = it->wall0 + (double)it->at * it->spt;
    r->duration = (double)took * it->spt;
    r->data = it->q;
    r->len = (size_t)(ls >> 1);
    it->at += took;
    it->q += r->len;
    it->i++;
    return 1;
}

#endif /* MPIMAP_CORE_RESULTSET_H */
