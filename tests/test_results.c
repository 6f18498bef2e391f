/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_results.c - result sets (core/engine.c, format in engine.h): what
 * mpimap_engine_run() packs, mpimap_engine_emit() hands to the sink
 * unchanged: every result's bytes and status, with lengths on both sides of
 * each varint width and a 1 MiB one, failures with their reasons; item
 * times in order and within the run; the busy sum; sets taken out of order
 * held until their turn; and every truncation or overlong varint of a set
 * refused with MPIMAP_EINVAL, not read past.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "engine.h"
#include "varint.h"
#include "wire.h"

/* The items: item i is a decimal length L, or "!" (fails); its result is
 * L bytes, byte k being (i + k) mod 251. */
static const char *const lengths[] = {"0",     "1",     "63",    "64",    "127", "!",
                                      "128",   "129",   "8191",  "8192",  "16383",
                                      "16384", "16385", "1048576", "!",   "5"};
#define NITEMS (sizeof lengths / sizeof lengths[0])

struct list {
    size_t next;
};

static int list_next(void *self, const void **data, size_t *len)
{
    struct list *l = self;
    if (l->next == NITEMS)
        return 0;
    *data = lengths[l->next];
    *len = strlen(lengths[l->next]);
    l->next++;
    return 1;
}

static int make(void *self, const mpimap_item *item, mpimap_result *res)
{
    (void)self;
    const char *s = item->data;
    if (s[0] == '!')
        return mpimap_result_fail(res, "item %llu says no", (unsigned long long)item->index),
               1;
    size_t n = strtoul(s, NULL, 10);
    unsigned char *b = malloc(n + 1);
    ck_assert_ptr_nonnull(b);
    for (size_t k = 0; k < n; k++)
        b[k] = (unsigned char)((item->index + k) % 251);
    int rc = mpimap_result_write(res, b, n);
    free(b);
    return rc;
}

struct seen {
    uint64_t n;
    double busy, last_end, t_from, t_to;
    double first_start;        /* of the set being put */
    mpimap_set_done set;       /* the last put_set() */
    uint64_t sets, sets_until; /* sets put, items put before this one */
};

static int check_put(void *self, const mpimap_done *d)
{
    struct seen *s = self;
    ck_assert_uint_eq(d->index, s->n);
    const char *item = lengths[d->index];
    if (item[0] == '!') {
        char why[64];
        snprintf(why, sizeof why, "item %llu says no", (unsigned long long)d->index);
        ck_assert_int_eq(d->status, MPIMAP_ITEM_FAILED);
        ck_assert_uint_eq(d->len, strlen(why));
        ck_assert(memcmp(d->data, why, d->len) == 0);
    } else {
        ck_assert_int_eq(d->status, MPIMAP_ITEM_OK);
        ck_assert_uint_eq(d->len, strtoul(item, NULL, 10));
        const unsigned char *p = d->data;
        size_t k = 0;
        while (k < d->len && p[k] == (d->index + k) % 251)
            k++;
        ck_assert_msg(k == d->len, "item %llu: byte %zu of %zu differs",
                      (unsigned long long)d->index, k, d->len);
    }
    /* Times: in the run, in order, none overlapping (to the 0.24 us a
     * double holds of a time since the epoch). */
    ck_assert(d->duration >= 0);
    ck_assert(d->start >= s->t_from - 1e-3);
    ck_assert(d->start + d->duration <= s->t_to + 1e-3);
    ck_assert(d->start >= s->last_end - 1e-6);
    if (s->n == s->sets_until)
        s->first_start = d->start;
    s->last_end = d->start + d->duration;
    s->busy += d->duration;
    s->n++;
    return 0;
}

/* After a set's puts: the set as a whole agrees with them. */
static int check_put_set(void *self, const mpimap_set_done *sd)
{
    struct seen *s = self;
    ck_assert_uint_eq(s->n - s->sets_until, sd->count);
    ck_assert_int_eq(sd->rank, 0);
    ck_assert(sd->start == s->first_start);
    ck_assert(sd->end == s->last_end);
    s->set = *sd;
    s->sets++;
    s->sets_until = s->n;
    return 0;
}

static mpimap_engine *engine(struct list *l, struct seen *s)
{
    static mpimap_engine e;
    mpimap_source src = {l, list_next, NULL, NULL, NULL, NULL};
    mpimap_handler h = {NULL, make};
    mpimap_sink sink = {.self = s, .put = check_put, .put_set = check_put_set};
    ck_assert_int_eq(mpimap_engine_init(&e, MPI_COMM_NULL, 0, 0, 0, &src, &h, &sink), 0);
    return &e;
}

/* Read n items into a batch and run it: its result set in r. */
static void run(mpimap_engine *e, size_t n, mpimap_buf *r)
{
    mpimap_buf b = {0};
    ck_assert_int_eq(mpimap_engine_read(e, n, SIZE_MAX, &b), (long)n);
    ck_assert_int_eq(mpimap_engine_run(e, b.data, b.len, r), 0);
    mpimap_buf_free(&b);
}

START_TEST(round_trip)
{
    struct list l = {0};
    struct seen s = {0};
    mpimap_engine *e = engine(&l, &s);
    mpimap_buf r = {0};
    s.t_from = mpimap_wallclock();
    run(e, NITEMS, &r);
    s.t_to = mpimap_wallclock();
    uint64_t first, count;
    ck_assert_int_eq(mpimap_results_range(r.data, r.len, &first, &count), 0);
    ck_assert_uint_eq(first, 0);
    ck_assert_uint_eq(count, NITEMS);
    ck_assert_int_eq(mpimap_engine_emit(e, r.data, r.len), 0);
    ck_assert_uint_eq(s.n, NITEMS);
    ck_assert_double_eq_tol(mpimap_results_busy(r.data, r.len), s.busy, 1e-9);
    ck_assert_uint_eq(s.sets, 1);
    ck_assert(s.set.busy == mpimap_results_busy(r.data, r.len));
    /* A trivial item's record is 3 or 4 bytes: item 0's result is empty. */
    const unsigned char *q = r.data + MPIMAP_RESULTS_HEADER, *end = r.data + r.len;
    uint64_t v;
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(get_varint(&q, end, &v), 0);
    ck_assert_int_le(q - (r.data + MPIMAP_RESULTS_HEADER), 6);
    mpimap_buf_free(&r);
    mpimap_engine_destroy(e);
}
END_TEST

START_TEST(out_of_order_waits)
{
    struct list l = {0};
    struct seen s = {0};
    mpimap_engine *e = engine(&l, &s);
    mpimap_buf a = {0}, b = {0}, c = {0};
    s.t_from = mpimap_wallclock();
    run(e, 5, &a);
    run(e, 6, &b);
    run(e, NITEMS - 11, &c);
    s.t_to = mpimap_wallclock();
    ck_assert_int_eq(mpimap_engine_emit(e, c.data, c.len), 0);
    ck_assert_int_eq(mpimap_engine_emit(e, b.data, b.len), 0);
    ck_assert_uint_eq(s.n, 0);
    ck_assert_int_eq(mpimap_engine_emit(e, a.data, a.len), 0);
    ck_assert_uint_eq(s.n, NITEMS);
    ck_assert_uint_eq(s.sets, 3);
    /* Once more is an item emitted twice. */
    ck_assert_int_eq(mpimap_engine_emit(e, a.data, a.len), MPIMAP_EINVAL);
    mpimap_buf_free(&a);
    mpimap_buf_free(&b);
    mpimap_buf_free(&c);
    mpimap_engine_destroy(e);
}
END_TEST

/* Every proper prefix of a set is refused, and nothing is put from it
 * past what it holds. */
START_TEST(truncated_sets_refused)
{
    struct list l = {0};
    struct seen s = {0};
    mpimap_engine *e = engine(&l, &s);
    mpimap_buf r = {0};
    s.t_from = mpimap_wallclock();
    run(e, 8, &r); /* results of up to 129 bytes */
    s.t_to = mpimap_wallclock();
    for (size_t cut = 0; cut < r.len; cut++) {
        unsigned char *copy = malloc(cut ? cut : 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, r.data, cut);
        s.n = 0;
        s.last_end = 0;
        s.busy = 0;
        ck_assert_msg(mpimap_engine_emit(e, copy, cut) == MPIMAP_EINVAL,
                      "a set cut to %zu of %zu bytes was taken", cut, r.len);
        ck_assert_uint_lt(s.n, 8);
        free(copy);
    }
    s.n = 0;
    s.last_end = 0;
    ck_assert_int_eq(mpimap_engine_emit(e, r.data, r.len), 0);
    ck_assert_uint_eq(s.n, 8);
    mpimap_buf_free(&r);
    mpimap_engine_destroy(e);
}
END_TEST

/* A varint of 11 bytes, or past 2^64, in a record: refused. */
START_TEST(overlong_varint_refused)
{
    struct list l = {0};
    struct seen s = {0};
    mpimap_engine *e = engine(&l, &s);
    unsigned char set[MPIMAP_RESULTS_HEADER + 64] = {0};
    put_u64(set + 8, 1); /* one item, from 0 */
    unsigned char *p = set + MPIMAP_RESULTS_HEADER;
    memset(p, 0x80, 10);
    p[10] = 0x00; /* 11 bytes */
    ck_assert_int_eq(mpimap_engine_emit(e, set, sizeof set), MPIMAP_EINVAL);
    memset(p, 0xff, 9);
    p[9] = 0x02; /* 2^64 and more */
    ck_assert_int_eq(mpimap_engine_emit(e, set, sizeof set), MPIMAP_EINVAL);
    /* A length past the set's end. */
    memset(p, 0, 64);
    p[0] = 40 << 1;
    ck_assert_int_eq(mpimap_engine_emit(e, set, MPIMAP_RESULTS_HEADER + 3 + 39), MPIMAP_EINVAL);
    ck_assert_uint_eq(s.n, 0);
    mpimap_engine_destroy(e);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("results");
    TCase *tc = tcase_create("results");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, out_of_order_waits);
    tcase_add_test(tc, truncated_sets_refused);
    tcase_add_test(tc, overlong_varint_refused);
    suite_add_tcase(s, tc);
    return s;
}
