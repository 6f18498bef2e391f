/* SPDX-License-Identifier: BSD-3-Clause */
/* test_journal.c - the journal (journal.c), the ledger read from journals
 * (ledger.c) and the results assembled from them (assemble.c). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

#include "assemble.h"
#include "journal.h"
#include "ledger.h"
#include "records.h"

static char dir[] = "/tmp/test_journal.XXXXXX";

static void setup(void) { ck_assert_ptr_nonnull(mkdtemp(strcpy(dir, "/tmp/test_journal.XXXXXX"))); }
static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *jpath(int k)
{
    char *p = mpimap_journal_path(dir, k);
    ck_assert_ptr_nonnull(p);
    return p;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

struct seen {
    uint64_t idx[64];
    int status[64];
    char data[64][32];
    size_t n;
};

static int collect(void *ctx, const mpimap_journal_entry *e)
{
    struct seen *s = ctx;
    ck_assert_uint_lt(s->n, 64);
    s->idx[s->n] = e->index;
    s->status[s->n] = e->status;
    ck_assert_uint_lt(e->len, 32);
    memcpy(s->data[s->n], e->data, e->len);
    s->data[s->n][e->len] = '\0';
    s->n++;
    return 0;
}

/* Write items first..first+n-1 as "vINDEX" in records of `per` entries
 * (start 1.0 and duration 0.5: whole ns, read back exactly, though no test
 * here compares them; the ones that do allow the encoding's rounding). */
static void write_journal(int k, uint64_t first, int n, int per, int status)
{
    char *p = jpath(k);
    mpimap_journal *j;
    ck_assert_int_eq(mpimap_journal_create(&j, p, 1000), 0);
    for (int i = 0; i < n; i++) {
        char v[32];
        int len = snprintf(v, sizeof v, "v%llu", (unsigned long long)(first + (uint64_t)i));
        ck_assert_int_eq(mpimap_journal_add(j, first + (uint64_t)i, status, 1, 1.0, 0.5, v,
                                            (size_t)len),
                         0);
        if ((i + 1) % per == 0)
            ck_assert_int_eq(mpimap_journal_sync(j, 1), 1);
    }
    ck_assert_uint_eq(mpimap_journal_durable(j) + mpimap_journal_pending(j), (uint64_t)n);
    ck_assert_int_eq(mpimap_journal_close(j), 0);
    free(p);
}

START_TEST(crc32c_known_answer)
{
    ck_assert_uint_eq(mpimap_crc32c(0, "123456789", 9), 0xe3069283u);
    ck_assert_uint_eq(mpimap_crc32c_portable(0, "123456789", 9), 0xe3069283u);
    ck_assert_uint_eq(mpimap_crc32c(0, "", 0), 0);
    /* Both ways agree on every length and alignment. */
    unsigned char buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 7919 + 13);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n + off <= sizeof buf; n += 1 + n / 8)
            ck_assert_uint_eq(mpimap_crc32c(5, buf + off, n),
                              mpimap_crc32c_portable(5, buf + off, n));
    /* In pieces as in one, aligned or not. */
    const char *s = "the quick brown fox jumps over the lazy dog, twice over";
    uint32_t whole = mpimap_crc32c(0, s, strlen(s));
    for (size_t cut = 0; cut <= strlen(s); cut++)
        ck_assert_uint_eq(mpimap_crc32c(mpimap_crc32c(0, s, cut), s + cut, strlen(s) - cut),
                          whole);
}
END_TEST

START_TEST(write_and_read_back)
{
    write_journal(0, 10, 7, 3, MPIMAP_JOURNAL_OK);
    char *p = jpath(0);
    struct seen s = {0};
    size_t good;
    ck_assert_int_eq(mpimap_journal_scan(p, collect, &s, &good), 0);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_uint_eq(good, (size_t)st.st_size);
    ck_assert_uint_eq(s.n, 7);
    for (size_t i = 0; i < 7; i++) {
        ck_assert_uint_eq(s.idx[i], 10 + i);
        ck_assert_int_eq(s.status[i], MPIMAP_JOURNAL_OK);
        char want[32];
        snprintf(want, sizeof want, "v%zu", 10 + i);
        ck_assert_str_eq(s.data[i], want);
    }
    /* The file must not be created twice. */
    mpimap_journal *j = NULL;
    ck_assert_int_lt(mpimap_journal_create(&j, p, 0), 0);
    ck_assert_ptr_null(j);
    free(p);
}
END_TEST

/* Entries handed over become durable within the interval by themselves,
 * with no more arrivals and no forced sync (a long item next, or the job
 * about to be killed at its walltime). */
START_TEST(durable_without_more_arrivals)
{
    char *p = jpath(0);
    mpimap_journal *j;
    ck_assert_int_eq(mpimap_journal_create(&j, p, 0.05), 0);
    ck_assert_int_eq(mpimap_journal_add(j, 0, MPIMAP_JOURNAL_OK, 0, 1, 1, "a", 1), 0);
    ck_assert_int_eq(mpimap_journal_sync(j, 0), 0);
    ck_assert_int_eq(mpimap_journal_add(j, 1, MPIMAP_JOURNAL_OK, 0, 1, 1, "b", 1), 0);
    ck_assert_int_eq(mpimap_journal_sync(j, 0), 0);
    ck_assert_int_eq(mpimap_journal_add(j, 2, MPIMAP_JOURNAL_OK, 0, 1, 1, "c", 1), 0);
    /* (2 is added, not handed over: it is not on its way yet) */
    for (int i = 0; i < 200 && mpimap_journal_durable(j) < 2; i++)
        usleep(10000);
    ck_assert_uint_eq(mpimap_journal_durable(j), 2);
    ck_assert_uint_eq(mpimap_journal_pending(j), 1);
    struct seen s = {0};
    size_t good;
    ck_assert_int_eq(mpimap_journal_scan(p, collect, &s, &good), 0);
    ck_assert_uint_eq(s.n, 2);
    ck_assert_int_eq(mpimap_journal_close(j), 0);
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(mpimap_journal_scan(p, collect, &s, &good), 0);
    ck_assert_uint_eq(s.n, 3);
    free(p);
}
END_TEST

/* Cut the file at every length: only whole records are read, never a
 * partial one, and good is the end of the last whole record. */
/* The flusher tells who asked (the progress file) each time more entries
 * are durable, with no more arrivals; the counts only grow. */
struct told {
    pthread_mutex_t lock;
    uint64_t last, calls, backwards;
};

static void tell(void *arg, uint64_t durable)
{
    struct told *t = arg;
    pthread_mutex_lock(&t->lock);
    if (durable < t->last)
        t->backwards++;
    t->last = durable;
    t->calls++;
    pthread_mutex_unlock(&t->lock);
}

static uint64_t told_last(struct told *t)
{
    pthread_mutex_lock(&t->lock);
    uint64_t v = t->last;
    pthread_mutex_unlock(&t->lock);
    return v;
}

START_TEST(on_durable_is_called)
{
    char *p = jpath(0);
    mpimap_journal *j;
    struct told t = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    ck_assert_int_eq(mpimap_journal_create(&j, p, 0.05), 0);
    mpimap_journal_on_durable(j, tell, &t);
    for (uint64_t i = 0; i < 5; i++) {
        ck_assert_int_eq(mpimap_journal_add(j, i, MPIMAP_JOURNAL_OK, 0, 1, 1, "x", 1), 0);
        ck_assert_int_eq(mpimap_journal_sync(j, 0), 0);
    }
    for (int i = 0; i < 200 && told_last(&t) < 5; i++)
        usleep(10000);
    ck_assert_uint_eq(told_last(&t), 5);
    ck_assert_uint_eq(mpimap_journal_durable(j), 5);
    /* a forced sync tells too */
    ck_assert_int_eq(mpimap_journal_add(j, 5, MPIMAP_JOURNAL_OK, 0, 1, 1, "y", 1), 0);
    ck_assert_int_eq(mpimap_journal_sync(j, 1), 1);
    ck_assert_int_eq(mpimap_journal_close(j), 0);
    ck_assert_uint_eq(t.last, 6);
    ck_assert_uint_ge(t.calls, 2);
    ck_assert_uint_eq(t.backwards, 0);
    free(p);
}
END_TEST

START_TEST(torn_at_every_byte)
{
    write_journal(0, 0, 9, 2, MPIMAP_JOURNAL_OK); /* records of 2, 2, 2, 2, 1 */
    char *p = jpath(0);
    size_t len;
    unsigned char *buf = slurp(p, &len);
    size_t prev_n = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        struct seen s = {0};
        size_t good;
        int rc = mpimap_journal_parse(buf, cut, collect, &s, &good);
        if (cut < 8) {
            ck_assert_int_eq(rc, MPIMAP_EINVAL);
            ck_assert_uint_eq(good, 0);
            continue;
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_uint_le(good, cut);
        ck_assert_uint_ge(s.n, prev_n); /* more file, never fewer entries */
        ck_assert(s.n % 2 == 0 || s.n == 9);
        for (size_t i = 0; i < s.n; i++)
            ck_assert_uint_eq(s.idx[i], i);
        if (cut == len)
            ck_assert_uint_eq(s.n, 9);
        else
            ck_assert_uint_lt(s.n, 9);
        prev_n = s.n;
    }
    free(buf);
    free(p);
}
END_TEST

/* A flipped bit anywhere after the file header ends the intact prefix at
 * the record it is in. */
START_TEST(corrupt_byte)
{
    write_journal(0, 0, 6, 2, MPIMAP_JOURNAL_OK);
    char *p = jpath(0);
    size_t len;
    unsigned char *buf = slurp(p, &len);
    for (size_t at = 8; at < len; at++) {
        buf[at] ^= 0x10;
        struct seen s = {0};
        size_t good;
        ck_assert_int_eq(mpimap_journal_parse(buf, len, collect, &s, &good), 0);
        ck_assert_uint_lt(good, len);
        ck_assert_uint_le(good, at);
        ck_assert_uint_lt(s.n, 6);
        for (size_t i = 0; i < s.n; i++)
            ck_assert_uint_eq(s.idx[i], i);
        buf[at] ^= 0x10;
    }
    free(buf);
    free(p);
}
END_TEST

START_TEST(ledger_outcomes)
{
    mpimap_ledger L;
    char *error = NULL;
    ck_assert_int_eq(mpimap_ledger_load(&L, dir, &error), 0);
    ck_assert_int_eq(L.njournals, 0);
    ck_assert_uint_eq(L.n, 0);
    ck_assert_int_eq(mpimap_ledger_note(&L, 3, MPIMAP_JOURNAL_FAILED), 0);
    ck_assert_int_eq(mpimap_ledger_outcome(&L, 3), MPIMAP_LEDGER_FAILED);
    ck_assert_int_eq(mpimap_ledger_note(&L, 3, MPIMAP_JOURNAL_OK), 0);
    ck_assert_int_eq(mpimap_ledger_outcome(&L, 3), MPIMAP_LEDGER_OK);
    ck_assert_int_eq(mpimap_ledger_note(&L, 3, MPIMAP_JOURNAL_FAILED), 0); /* ok stays */
    ck_assert_int_eq(mpimap_ledger_outcome(&L, 3), MPIMAP_LEDGER_OK);
    ck_assert_int_eq(mpimap_ledger_failures(&L, 3), 2);
    ck_assert_int_eq(mpimap_ledger_note(&L, 5, MPIMAP_JOURNAL_DIED), 0);
    ck_assert_int_eq(mpimap_ledger_outcome(&L, 5), MPIMAP_LEDGER_NONE); /* once: run again */
    ck_assert_int_eq(mpimap_ledger_note(&L, 5, MPIMAP_JOURNAL_DIED), 0);
    ck_assert_int_eq(mpimap_ledger_outcome(&L, 5), MPIMAP_LEDGER_FAILED); /* twice: failed */
    ck_assert_int_eq(mpimap_ledger_outcome(&L, 4), MPIMAP_LEDGER_NONE);
    ck_assert_int_eq(mpimap_ledger_outcome(&L, 1000000), MPIMAP_LEDGER_NONE);
    ck_assert_int_lt(mpimap_ledger_note(&L, 1, 7), 0);
    mpimap_ledger_free(&L);

    /* From journals: items 0-4 ok in journal.0, 5-9 failed then 7 ok. */
    write_journal(0, 0, 5, 5, MPIMAP_JOURNAL_OK);
    write_journal(1, 5, 5, 5, MPIMAP_JOURNAL_FAILED);
    write_journal(2, 7, 1, 1, MPIMAP_JOURNAL_OK);
    ck_assert_int_eq(mpimap_ledger_load(&L, dir, &error), 0);
    ck_assert_int_eq(L.njournals, 3);
    ck_assert_uint_eq(L.n, 10);
    ck_assert_uint_eq(L.torn, 0);
    for (uint64_t i = 0; i < 10; i++)
        ck_assert_int_eq(mpimap_ledger_outcome(&L, i),
                         i < 5 || i == 7 ? MPIMAP_LEDGER_OK : MPIMAP_LEDGER_FAILED);
    mpimap_ledger_free(&L);
}
END_TEST

struct failures {
    uint64_t idx[16];
    int rank[16];
    size_t n;
};

static int on_failure(void *ctx, uint64_t index, int rank, const void *why, size_t len)
{
    (void)why;
    (void)len;
    struct failures *f = ctx;
    ck_assert_uint_lt(f->n, 16);
    f->rank[f->n] = rank;
    f->idx[f->n++] = index;
    return 0;
}

static char *assemble_to_file(uint64_t nitems, int *rc, uint64_t *failed, struct failures *f,
                              char **error)
{
    char *out = NULL;
    ck_assert_int_ge(asprintf(&out, "%s/out", dir), 0);
    mpimap_writer *w;
    ck_assert_int_eq(mpimap_writer_open(&w, out, MPIMAP_FRAME_LINE), 0);
    *rc = mpimap_assemble(dir, nitems, 0, w, NULL, on_failure, f, failed, error);
    if (*rc == 0)
        ck_assert_int_eq(mpimap_writer_commit(w), 0);
    mpimap_writer_close(w);
    return out;
}

/* Assemble nitems items: it succeeds, with want_failed failed items (into
 * *f) and the output want. */
static void assemble_ok(uint64_t nitems, uint64_t want_failed, struct failures *f,
                        const char *want)
{
    int rc;
    uint64_t failed;
    char *error = NULL;
    char *out = assemble_to_file(nitems, &rc, &failed, f, &error);
    ck_assert_msg(rc == 0, "%s", error ? error : "?");
    ck_assert_uint_eq(failed, want_failed);
    ck_assert_uint_eq(f->n, want_failed);
    size_t len;
    unsigned char *got = slurp(out, &len);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert(memcmp(got, want, len) == 0);
    free(got);
    free(out);
}

START_TEST(assemble_best_entries)
{
    write_journal(0, 0, 5, 2, MPIMAP_JOURNAL_OK);
    write_journal(1, 5, 3, 1, MPIMAP_JOURNAL_FAILED); /* 5, 6, 7 failed */
    write_journal(2, 6, 1, 1, MPIMAP_JOURNAL_OK);     /* 6 retried: ok */
    write_journal(3, 5, 1, 1, MPIMAP_JOURNAL_DIED);   /* a death does not beat a failure */
    struct failures f = {0};
    assemble_ok(8, 2, &f, "v0\nv1\nv2\nv3\nv4\n\nv6\n\n");
    ck_assert_uint_eq(f.idx[0], 5);
    ck_assert_uint_eq(f.idx[1], 7);
}
END_TEST

START_TEST(assemble_refuses_holes_and_strangers)
{
    write_journal(0, 0, 3, 3, MPIMAP_JOURNAL_OK);
    int rc;
    uint64_t failed;
    struct failures f = {0};
    char *error = NULL;
    /* An item without a result is never written as an empty one. */
    free(assemble_to_file(4, &rc, &failed, &f, &error));
    ck_assert_int_eq(rc, MPIMAP_EINVAL);
    ck_assert_ptr_nonnull(strstr(error, "item 3 has no result"));
    free(error);
    error = NULL;
    /* An entry past the input's end: the input changed. */
    free(assemble_to_file(2, &rc, &failed, &f, &error));
    ck_assert_int_eq(rc, MPIMAP_EINVAL);
    ck_assert_ptr_nonnull(strstr(error, "the input changed"));
    free(error);
}
END_TEST

/* ---- compact records -------------------------------------------------------- */

/* Every entry of a scan, in full. */
struct entry {
    uint64_t index, offset, where;
    int status, rank;
    double start, duration;
    unsigned char *data;
    size_t len;
};

struct all {
    struct entry *e;
    size_t n, cap;
};

static int collect_all(void *ctx, const mpimap_journal_entry *e)
{
    struct all *a = ctx;
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->e = realloc(a->e, a->cap * sizeof *a->e);
        ck_assert_ptr_nonnull(a->e);
    }
    struct entry *x = &a->e[a->n++];
    x->index = e->index;
    x->offset = e->offset;
    x->where = e->where;
    x->status = e->status;
    x->rank = e->rank;
    x->start = e->start;
    x->duration = e->duration;
    x->len = e->len;
    x->data = malloc(e->len ? e->len : 1);
    ck_assert_ptr_nonnull(x->data);
    if (e->len)
        memcpy(x->data, e->data, e->len);
    return 0;
}

static void all_free(struct all *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->e[i].data);
    free(a->e);
    memset(a, 0, sizeof *a);
}

/* A record of payload p (len bytes) with magic, at the end of *buf. */
static void put_record(unsigned char **buf, size_t *len, uint32_t magic, const void *p, size_t n)
{
    *buf = realloc(*buf, *len + MPIMAP_JOURNAL_RECORD_HEADER + n);
    ck_assert_ptr_nonnull(*buf);
    unsigned char *h = *buf + *len;
    uint64_t rl = n;
    memcpy(h, &magic, 4);
    memcpy(h + 8, &rl, 8);
    memcpy(h + 16, p, n);
    /* The newest magic's crc covers the magic too. */
    uint32_t crc = magic == MPIMAP_JOURNAL_RECORD_MAGIC3 ? mpimap_crc32c(0, h, 4) : 0;
    crc = mpimap_crc32c(mpimap_crc32c(crc, h + 8, 8), p, n);
    memcpy(h + 4, &crc, 4);
    *len += MPIMAP_JOURNAL_RECORD_HEADER + n;
}

/* Bytes being built: a payload, by hand (the test's own encoder). */
struct bytes {
    unsigned char b[4096];
    size_t n;
};

static void b_raw(struct bytes *b, const void *p, size_t n)
{
    ck_assert_uint_le(b->n + n, sizeof b->b);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void b_u8(struct bytes *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    b_raw(b, &c, 1);
}
static void b_u32(struct bytes *b, uint32_t v) { b_raw(b, &v, 4); }
static void b_u64(struct bytes *b, uint64_t v) { b_raw(b, &v, 8); }
static void b_f64(struct bytes *b, double v) { b_raw(b, &v, 8); }
static void b_v(struct bytes *b, uint64_t v)
{
    do {
        b_u8(b, (unsigned)(v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        v >>= 7;
    } while (v);
}
static void b_z(struct bytes *b, int64_t v)
{
    b_v(b, v < 0 ? 2 * (uint64_t)-(v + 1) + 1 : 2 * (uint64_t)v);
}

/* An old-format entry. */
static void b_old(struct bytes *b, uint64_t index, uint32_t status, uint32_t rank, double start,
                  double duration, const char *data)
{
    b_u64(b, index);
    b_u32(b, status);
    b_u32(b, rank);
    b_f64(b, start);
    b_f64(b, duration);
    b_u64(b, strlen(data));
    b_raw(b, data, strlen(data));
}

/* A compact entry: status, rank, z index, z start ns, duration ns, data. */
static void b_new(struct bytes *b, unsigned status, uint64_t rank, int64_t zi, int64_t zs,
                  uint64_t dur, const char *data)
{
    b_u8(b, status);
    b_v(b, rank);
    b_z(b, zi);
    b_z(b, zs);
    b_v(b, dur);
    b_v(b, strlen(data));
    b_raw(b, data, strlen(data));
}

static unsigned char *file_start(size_t *len)
{
    unsigned char *buf = malloc(8);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, MPIMAP_JOURNAL_FILE_MAGIC, 8);
    *len = 8;
    return buf;
}

/* |got - want| within 1e-9 s and 1 ulp of want: the ns rounding, and the
 * double's. */
static void near_start(double got, double want)
{
    ck_assert_msg(fabs(got - want) <= 1e-9 + (nextafter(fabs(want), INFINITY) - fabs(want)),
                  "start %.17g read back as %.17g", want, got);
}

/* Each entry's where finds it again; its data is at its offset. */
static void check_where(const unsigned char *buf, size_t len, const struct all *a)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct entry *x = &a->e[i];
        mpimap_journal_entry e;
        ck_assert_int_eq(mpimap_journal_entry_at(buf, len, x->where, &e), 0);
        ck_assert_int_eq(e.status, x->status);
        ck_assert_uint_eq(e.len, x->len);
        ck_assert_uint_eq(e.offset, x->offset);
        ck_assert_ptr_eq(e.data, buf + x->offset);
        if ((x->where & 3) == MPIMAP_JOURNAL_KIND_SET) { /* in the set's header */
            ck_assert_int_eq(e.rank, -1);
            ck_assert(e.duration == 0);
        } else {
            ck_assert_int_eq(e.rank, x->rank);
            ck_assert(memcmp(&e.duration, &x->duration, sizeof e.duration) == 0);
        }
        ck_assert_uint_le(x->offset + x->len, len);
        ck_assert(x->len == 0 || memcmp(buf + x->offset, x->data, x->len) == 0);
    }
}

/* Awkward values round trip: indices non-consecutive, decreasing, 0 and
 * near 2^64 (some too far apart for one record), ranks up to INT_MAX,
 * starts going backwards, not finite or too far, durations 0, huge, NaN,
 * negative, data empty and large; handed over one by one (each appended
 * to the record waiting for the flusher), in groups, and forced. */
START_TEST(compact_round_trip)
{
    const double t0 = 1.7e9 + 0.123456789, cap = 0x1p62 / 1e9;
    static unsigned char big[200000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 131 + i / 256);
    struct {
        uint64_t index;
        int status, rank;
        double start, duration;
        const void *data;
        size_t len;
        int sync;            /* after it: 0 none, 1 hand over, 2 force */
        double want_start;   /* NAN: the start given */
        double want_duration; /* NAN: the duration given */
    } w[] = {
        {5, 0, 0, t0, 1e-6, "five", 4, 1, NAN, NAN},
        {6, 0, 0, t0 + 1e-7, 0, "", 0, 0, NAN, NAN},
        {7, 1, 1, t0 + 2e-7, 1e-9, "x", 1, 1, NAN, NAN},
        {3, 2, 127, t0 - 5, 0.5, "", 0, 0, NAN, NAN},
        {100, 0, 128, t0 + 3600.25, 123.456789, "\377\0\1", 3, 1, NAN, NAN},
        {0, 0, INT_MAX, t0 + 1e-3, 1e6, big, sizeof big, 0, NAN, NAN},
        {UINT64_MAX, 0, 2, t0, 1e300, "m", 1, 0, NAN, cap},
        {UINT64_MAX - 1, 1, 2, t0, NAN, "", 0, 1, NAN, 0},
        {UINT64_MAX, 0, 2, t0, -1, "", 0, 0, NAN, 0},
        {0, 0, 3, t0, -0.0, "z", 1, 0, NAN, 0},    /* 2^64 below expected: a record of its own */
        {(uint64_t)1 << 63, 0, 3, t0, INFINITY, "", 0, 1, NAN, cap}, /* 2^63 - 1 above */
        {0, 0, 3, NAN, 0, "", 0, 2, t0, NAN},       /* 2^63 below: its own */
        {UINT64_MAX, 0, 4, INFINITY, 0, "", 0, 0, t0, NAN},
        {0, 0, 4, t0 + 1e12, 0, "", 0, 1, t0 + cap, NAN}, /* too far: clamped */
        {1, 0, 4, t0 - 1e12, 0, "", 0, 0, t0 - cap, NAN},
        {2, 0, 4, t0 + 1, 0, "two", 3, 1, NAN, NAN},
        {1, 1, 4, t0 + 0.5, 2e-9, "", 0, 0, NAN, NAN},
    };
    size_t nw = sizeof w / sizeof w[0];
    char *p = jpath(0);
    mpimap_journal *j;
    ck_assert_int_eq(mpimap_journal_create(&j, p, 1000), 0);
    for (size_t i = 0; i < nw; i++) {
        ck_assert_int_eq(mpimap_journal_add(j, w[i].index, w[i].status, w[i].rank, w[i].start,
                                            w[i].duration, w[i].data, w[i].len),
                         0);
        if (w[i].sync)
            ck_assert_int_eq(mpimap_journal_sync(j, w[i].sync == 2), w[i].sync == 2);
    }
    /* Refused: nothing is written for them. */
    ck_assert_int_eq(mpimap_journal_add(j, 9, 3, 0, t0, 0, "", 0), MPIMAP_EINVAL);
    ck_assert_int_eq(mpimap_journal_add(j, 9, -1, 0, t0, 0, "", 0), MPIMAP_EINVAL);
    ck_assert_int_eq(mpimap_journal_add(j, 9, 0, -1, t0, 0, "", 0), MPIMAP_EINVAL);
    ck_assert_int_eq(mpimap_journal_close(j), 0);

    size_t len;
    unsigned char *buf = slurp(p, &len);
    struct all a = {0};
    size_t good;
    ck_assert_int_eq(mpimap_journal_parse(buf, len, collect_all, &a, &good), 0);
    ck_assert_uint_eq(good, len);
    ck_assert_uint_eq(a.n, nw);
    for (size_t i = 0; i < nw; i++) {
        struct entry *x = &a.e[i];
        ck_assert_uint_eq(x->index, w[i].index);
        ck_assert_int_eq(x->status, w[i].status);
        ck_assert_int_eq(x->rank, w[i].rank);
        ck_assert_uint_eq(x->len, w[i].len);
        ck_assert(x->len == 0 || memcmp(x->data, w[i].data, x->len) == 0);
        /* Rounded to the ns: within 1e-9 s (and the double's rounding). */
        near_start(x->start, isnan(w[i].want_start) ? w[i].start : w[i].want_start);
        double wd = isnan(w[i].want_duration) ? w[i].duration : w[i].want_duration;
        if (isnan(w[i].want_duration))
            ck_assert_msg(fabs(x->duration - wd) <= 1e-9, "duration %.17g read back as %.17g",
                          wd, x->duration);
        else
            ck_assert(x->duration == wd);
    }
    check_where(buf, len, &a);
    all_free(&a);
    free(buf);
    free(p);
}
END_TEST

/* The writer's bytes, exactly: a record per write, base_index and
 * base_start (the writer's first start) then the entries as journal.h says. */
START_TEST(compact_bytes)
{
    char *p = jpath(0);
    mpimap_journal *j;
    ck_assert_int_eq(mpimap_journal_create(&j, p, 1000), 0);
    /* starts and durations of whole ns, exactly */
    ck_assert_int_eq(mpimap_journal_add(j, 10, 0, 3, 100.0, 1e-6, "ab", 2), 0);
    /* Forced: written now, so the flusher's next write waits the interval
     * (its first one does not wait: a record handed over first could be
     * written before the append below, as it was once under ASan). */
    ck_assert_int_eq(mpimap_journal_sync(j, 1), 1);
    ck_assert_int_eq(mpimap_journal_add(j, 11, 1, 300, 100.5, 0.25, "why", 3), 0);
    ck_assert_int_eq(mpimap_journal_sync(j, 0), 0); /* waits for the interval */
    ck_assert_int_eq(mpimap_journal_add(j, 9, 2, 0, 99.75, 0, "", 0), 0); /* appended */
    ck_assert_int_eq(mpimap_journal_sync(j, 1), 1);
    ck_assert_int_eq(mpimap_journal_add(j, 12, 0, 3, 101.0, 0, "", 0), 0); /* a new record */
    ck_assert_int_eq(mpimap_journal_close(j), 0);
    size_t len;
    unsigned char *got = slurp(p, &len);

    size_t wl;
    unsigned char *want = file_start(&wl);
    struct bytes b = {.n = 0};
    b_u64(&b, 10);
    b_f64(&b, 100.0);
    b_new(&b, 0, 3, 0, 0, 1000, "ab");
    put_record(&want, &wl, MPIMAP_JOURNAL_RECORD_MAGIC3, b.b, b.n);
    b.n = 0;
    b_u64(&b, 11);
    b_f64(&b, 100.0);
    b_new(&b, 1, 300, 0, 500000000, 250000000, "why");
    b_new(&b, 2, 0, -3, -750000000, 0, "");
    put_record(&want, &wl, MPIMAP_JOURNAL_RECORD_MAGIC3, b.b, b.n);
    b.n = 0;
    b_u64(&b, 12);
    b_f64(&b, 100.0);
    b_new(&b, 0, 3, 0, 1000000000, 0, "");
    put_record(&want, &wl, MPIMAP_JOURNAL_RECORD_MAGIC3, b.b, b.n);
    ck_assert_uint_eq(len, wl);
    ck_assert(memcmp(got, want, len) == 0);
    free(got);
    free(want);
    free(p);
}
END_TEST

/* Job directories of the previous versions still resume: an old record,
 * then a compact one of each magic, then an old one, in one file. */
START_TEST(old_and_compact_records)
{
    size_t len;
    unsigned char *buf = file_start(&len);
    struct bytes b = {.n = 0};
    b_old(&b, 4, MPIMAP_JOURNAL_OK, 1, 10.5, 0.25, "four");
    b_old(&b, 2, MPIMAP_JOURNAL_FAILED, 7, 11.0, 1.0, "bad");
    put_record(&buf, &len, MPIMAP_JOURNAL_RECORD_MAGIC, b.b, b.n);
    b.n = 0;
    b_u64(&b, 5);
    b_f64(&b, 12.0);
    b_new(&b, 0, 1, 0, 0, 500, "five");
    b_new(&b, 2, 1, 0, 1500, 0, "");     /* 6 */
    put_record(&buf, &len, MPIMAP_JOURNAL_RECORD_MAGIC2, b.b, b.n);
    b.n = 0;
    b_u64(&b, 3);
    b_f64(&b, 12.0000005);
    b_new(&b, 0, 2, 0, 0, 7, "3");
    put_record(&buf, &len, MPIMAP_JOURNAL_RECORD_MAGIC3, b.b, b.n);
    b.n = 0;
    b_old(&b, 9, MPIMAP_JOURNAL_DIED, 0, 13.0, 0, "");
    put_record(&buf, &len, MPIMAP_JOURNAL_RECORD_MAGIC, b.b, b.n);

    struct all a = {0};
    size_t good;
    ck_assert_int_eq(mpimap_journal_parse(buf, len, collect_all, &a, &good), 0);
    ck_assert_uint_eq(good, len);
    ck_assert_uint_eq(a.n, 6);
    static const uint64_t idx[] = {4, 2, 5, 6, 3, 9};
    static const int st[] = {0, 1, 0, 2, 0, 2}, rk[] = {1, 7, 1, 1, 2, 0};
    static const double start[] = {10.5, 11.0, 12.0, 12.0000015, 12.0000005, 13.0};
    static const double dur[] = {0.25, 1.0, 500e-9, 0, 7e-9, 0};
    static const char *data[] = {"four", "bad", "five", "", "3", ""};
    for (size_t i = 0; i < 6; i++) {
        ck_assert_uint_eq(a.e[i].index, idx[i]);
        ck_assert_int_eq(a.e[i].status, st[i]);
        ck_assert_int_eq(a.e[i].rank, rk[i]);
        near_start(a.e[i].start, start[i]);
        ck_assert(fabs(a.e[i].duration - dur[i]) <= 1e-9);
        ck_assert_uint_eq(a.e[i].len, strlen(data[i]));
        ck_assert(memcmp(a.e[i].data, data[i], a.e[i].len) == 0);
    }
    check_where(buf, len, &a);
    all_free(&a);

    /* Results assemble from both kinds (job dir: journal.0 is this file). */
    char *p = jpath(0);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    write_journal(1, 0, 2, 2, MPIMAP_JOURNAL_OK); /* 0, 1: compact */
    write_journal(2, 7, 2, 1, MPIMAP_JOURNAL_OK); /* 7, 8 */
    int rc;
    uint64_t failed;
    struct failures fl = {0};
    char *error = NULL;
    char *out = assemble_to_file(10, &rc, &failed, &fl, &error);
    ck_assert_msg(rc == 0, "%s", error ? error : "?");
    ck_assert_uint_eq(failed, 3);
    ck_assert_uint_eq(fl.n, 3);
    ck_assert_uint_eq(fl.idx[0], 2);
    ck_assert_uint_eq(fl.idx[1], 6); /* died once: the best there is */
    ck_assert_uint_eq(fl.idx[2], 9);
    size_t ol;
    unsigned char *got = slurp(out, &ol);
    const char *want = "v0\nv1\n\n3\nfour\nfive\n\nv7\nv8\n\n";
    ck_assert_uint_eq(ol, strlen(want));
    ck_assert(memcmp(got, want, ol) == 0);
    free(got);
    free(out);
    free(p);
    free(buf);
}
END_TEST

/* The crc of a record written now covers its magic: the record read with
 * any of the other magics is refused (ends the file), as is an older
 * record read with the newest magic. Before, 2RJM read as 1RJM (2 bits)
 * passed its crc and was left to the entries' checks. */
START_TEST(magic_is_covered)
{
    static const uint32_t magics[] = {MPIMAP_JOURNAL_RECORD_MAGIC, MPIMAP_JOURNAL_RECORD_MAGIC2,
                                      MPIMAP_JOURNAL_RECORD_MAGIC3};
    for (size_t w = 0; w < 3; w++) {
        size_t len;
        unsigned char *buf = file_start(&len);
        struct bytes b = {.n = 0};
        if (w == 0) {
            b_old(&b, 4, MPIMAP_JOURNAL_OK, 1, 10.5, 0.25, "four");
        } else {
            b_u64(&b, 4);
            b_f64(&b, 10.5);
            b_new(&b, 0, 1, 0, 0, 250, "four");
        }
        put_record(&buf, &len, magics[w], b.b, b.n);
        for (size_t r = 0; r < 3; r++) {
            memcpy(buf + 8, &magics[r], 4);
            struct all a = {0};
            size_t good;
            ck_assert_int_eq(mpimap_journal_parse(buf, len, collect_all, &a, &good), 0);
            if (r == w) {
                ck_assert_uint_eq(good, len);
                ck_assert_uint_eq(a.n, 1);
                ck_assert_uint_eq(a.e[0].index, 4);
            } else {
                ck_assert_msg(good == 8 && a.n == 0, "written as magic %zu, read as %zu: %zu entries",
                              w, r, a.n);
            }
            all_free(&a);
        }
        free(buf);
    }
}
END_TEST

/* Each kind of malformed compact record ends the file there: the record
 * before it is read, it and the one after are not. */
START_TEST(compact_malformed)
{
    struct bytes bad[16];
    const char *what[16];
    int nbad = 0;
#define BAD(name) (what[nbad] = (name), bad[nbad].n = 0, &bad[nbad++])
    struct bytes *b;
    b = BAD("bad status");
    b_u64(b, 0);
    b_f64(b, 1.0);
    b_new(b, 0, 0, 0, 0, 0, "");
    b_new(b, 3, 0, 0, 0, 0, "");
    b = BAD("overlong varint");
    b_u64(b, 0);
    b_f64(b, 1.0);
    b_u8(b, 0);
    for (int i = 0; i < 10; i++)
        b_u8(b, 0x80);
    b_u8(b, 0); /* rank: 11 bytes */
    b_raw(b, "\0\0\0\0", 4);
    b = BAD("varint past 2^64");
    b_u64(b, 0);
    b_f64(b, 1.0);
    b_u8(b, 0);
    b_v(b, 0);
    b_v(b, 0);
    b_v(b, 0);
    for (int i = 0; i < 9; i++)
        b_u8(b, 0xff);
    b_u8(b, 0x02); /* duration: a 65th bit */
    b_v(b, 0);
    b = BAD("rank past INT_MAX");
    b_u64(b, 0);
    b_f64(b, 1.0);
    b_new(b, 0, (uint64_t)INT_MAX + 1, 0, 0, 0, "");
    b = BAD("index past 2^64 - 1");
    b_u64(b, UINT64_MAX - 1);
    b_f64(b, 1.0);
    b_new(b, 0, 0, 1, 0, 0, "");  /* UINT64_MAX: fine */
    b_new(b, 0, 0, 0, 0, 0, "");  /* expected 2^64 */
    b = BAD("index past 2^64 - 1, from the base");
    b_u64(b, UINT64_MAX);
    b_f64(b, 1.0);
    b_new(b, 0, 0, 1, 0, 0, "");
    b = BAD("index below 0");
    b_u64(b, 2);
    b_f64(b, 1.0);
    b_new(b, 0, 0, -2, 0, 0, ""); /* 0: fine */
    b_new(b, 0, 0, -2, 0, 0, ""); /* 1 - 2 */
    b = BAD("data past the payload");
    b_u64(b, 0);
    b_f64(b, 1.0);
    b_new(b, 0, 0, 0, 0, 0, "ok");
    b_u8(b, 0);
    b_v(b, 0);
    b_v(b, 0);
    b_v(b, 0);
    b_v(b, 0);
    b_v(b, 5);
    b_raw(b, "abc", 3);
    b = BAD("entry cut short");
    b_u64(b, 0);
    b_f64(b, 1.0);
    b_new(b, 0, 0, 0, 0, 0, "ok");
    b_u8(b, 1);
    b_v(b, 300);
    b = BAD("varint cut short");
    b_u64(b, 0);
    b_f64(b, 1.0);
    b_u8(b, 0);
    b_u8(b, 0x80);
    b = BAD("no entry");
    b_u64(b, 0);
    b_f64(b, 1.0);
    b = BAD("shorter than its base");
    b_u64(b, 0);
#undef BAD
    for (int k = 0; k < nbad; k++) {
        size_t len;
        unsigned char *buf = file_start(&len);
        struct bytes b1 = {.n = 0}, b3 = {.n = 0};
        b_u64(&b1, 0);
        b_f64(&b1, 1.0);
        b_new(&b1, 0, 0, 0, 0, 0, "first");
        put_record(&buf, &len, MPIMAP_JOURNAL_RECORD_MAGIC2, b1.b, b1.n);
        size_t end1 = len;
        put_record(&buf, &len, MPIMAP_JOURNAL_RECORD_MAGIC2, bad[k].b, bad[k].n);
        b_u64(&b3, 1);
        b_f64(&b3, 1.0);
        b_new(&b3, 0, 0, 0, 0, 0, "third");
        put_record(&buf, &len, MPIMAP_JOURNAL_RECORD_MAGIC2, b3.b, b3.n);
        struct all a = {0};
        size_t good;
        ck_assert_msg(mpimap_journal_parse(buf, len, collect_all, &a, &good) == 0, "%s", what[k]);
        ck_assert_msg(good == end1, "%s: good %zu, not %zu", what[k], good, end1);
        ck_assert_msg(a.n == 1, "%s: %zu entries", what[k], a.n);
        ck_assert_uint_eq(a.e[0].len, 5);
        ck_assert(memcmp(a.e[0].data, "first", 5) == 0);
        all_free(&a);
        /* The same without a callback. */
        ck_assert_int_eq(mpimap_journal_parse(buf, len, NULL, NULL, &good), 0);
        ck_assert_uint_eq(good, end1);
        free(buf);
    }
    /* entry_at refuses what is not an entry. */
    unsigned char junk[4] = {3, 0, 0, 0};
    mpimap_journal_entry e;
    ck_assert_int_eq(mpimap_journal_entry_at(junk, sizeof junk, 0 << 1 | 1, &e), MPIMAP_EINVAL);
    ck_assert_int_eq(mpimap_journal_entry_at(junk, sizeof junk, 0 << 1, &e), MPIMAP_EINVAL);
    ck_assert_int_eq(mpimap_journal_entry_at(junk, sizeof junk, 9 << 1 | 1, &e), MPIMAP_EINVAL);
}
END_TEST

/* What this is for: a trivial entry (the next index, the same rank, no
 * result, times under a microsecond) takes under 8 bytes, and exactly 6
 * with no time between starts. */
static size_t trivial_file(int k, double step, double duration, size_t *records)
{
    char *p = jpath(k);
    mpimap_journal *j;
    ck_assert_int_eq(mpimap_journal_create(&j, p, 0.01), 0);
    const double t0 = 1000.5; /* ns exact: 1.75e9 has 238 ns ulps */
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(mpimap_journal_add(j, 1000 + (uint64_t)i, 0, 1, t0 + i * step,
                                            duration, "", 0),
                         0);
        if (i % 10 == 9) /* result sets of 10 */
            ck_assert_int_eq(mpimap_journal_sync(j, 0), 0);
        if (i % 250 == 249)
            usleep(20000); /* a write now and then */
    }
    ck_assert_int_eq(mpimap_journal_close(j), 0);
    size_t len;
    unsigned char *buf = slurp(p, &len);
    size_t good;
    *records = 0;
    for (size_t off = 8; off + 16 <= len; (*records)++) {
        uint64_t rl;
        memcpy(&rl, buf + off + 8, 8);
        off += 16 + (size_t)rl;
    }
    struct all a = {0};
    ck_assert_int_eq(mpimap_journal_parse(buf, len, collect_all, &a, &good), 0);
    ck_assert_uint_eq(good, len);
    ck_assert_uint_eq(a.n, 1000);
    for (size_t i = 0; i < a.n; i++) {
        ck_assert_uint_eq(a.e[i].index, 1000 + i);
        near_start(a.e[i].start, t0 + (double)i * step);
    }
    all_free(&a);
    free(buf);
    free(p);
    return len;
}

START_TEST(trivial_entries_are_small)
{
    size_t records;
    /* starts 100 ns apart, 50 ns each: 7 bytes */
    size_t len = trivial_file(0, 1e-7, 5e-8, &records);
    size_t headers = 8 + records * (MPIMAP_JOURNAL_RECORD_HEADER + MPIMAP_JOURNAL_COMPACT_BASE);
    fprintf(stderr, "trivial_entries_are_small: 1000 entries 100 ns apart: %zu bytes, %zu records: "
            "%.2f bytes an entry besides the headers\n",
            len, records, (double)(len - headers) / 1000);
    ck_assert_uint_ge(records, 1);
    ck_assert_uint_lt(len, headers + 8 * 1000);
    /* all at once: 6 bytes (a record's first entry may take more: its
     * start from the writer's first) */
    len = trivial_file(1, 0, 0, &records);
    headers = 8 + records * (MPIMAP_JOURNAL_RECORD_HEADER + MPIMAP_JOURNAL_COMPACT_BASE);
    ck_assert_uint_eq(len, headers + 6 * 1000);
}
END_TEST

/* A result set (engine.h) by hand: rank 3, wall0 1000.25 s, ticks of
 * 0.4 ns; records { status, gap, duration (ticks), data }. */
static const struct {
    unsigned status;
    uint64_t gap, took;
    const char *data;
} set_recs[] = {
    {0, 0, 100, ""},          {0, 0, 90, "a"},
    {1, 7, 1000, "it broke"}, {0, 0, 130, "xyz"},
    {0, 1u << 20, 5, ""},     {0, 0, (uint64_t)1 << 40, "long"},
};
#define NSET (sizeof set_recs / sizeof set_recs[0])

/* A set of n results: set_recs over and over. */
static void b_set(struct bytes *b, size_t n)
{
    b_u64(b, 77); /* a pass index: the journal is given the item's */
    b_u64(b, n);
    b_u32(b, 3);
    b_u32(b, 0);
    b_f64(b, 1000.25);
    b_f64(b, 0.4e-9);
    b_f64(b, 0); /* busy: not read */
    for (size_t k = 0; k < n; k++) {
        size_t i = k % NSET, len = strlen(set_recs[i].data);
        b_v(b, (uint64_t)len << 1 | set_recs[i].status);
        b_v(b, set_recs[i].gap);
        b_v(b, set_recs[i].took);
        b_raw(b, set_recs[i].data, len);
    }
}

/* Add the entries of set_recs one by one, as a set whose first item is
 * first would give them. */
static void add_set_entries(mpimap_journal *j, uint64_t first, size_t n)
{
    uint64_t at = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = k % NSET;
        at += set_recs[i].gap;
        double start = 1000.25 + (double)at * 0.4e-9;
        ck_assert_int_eq(mpimap_journal_add(j, first + k, (int)set_recs[i].status, 3, start,
                                            (double)set_recs[i].took * 0.4e-9, set_recs[i].data,
                                            strlen(set_recs[i].data)),
                         0);
        at += set_recs[i].took;
    }
}

/* A set added whole reads back as the entries mpimap_journal_add() writes
 * for its results one by one, between other entries in the same buffer
 * and across records: a set of MPIMAP_JOURNAL_SET_MIN or more is written
 * as it is, a record of its own (exact times: the set's own), a smaller
 * one as those entries; each entry is found again at its where. */
START_TEST(set_reads_back_as_its_entries)
{
    struct bytes big = {{0}, 0}, small = {{0}, 0};
    const size_t nbig = 3 * NSET;
    ck_assert_uint_ge(nbig, MPIMAP_JOURNAL_SET_MIN);
    ck_assert_uint_lt(NSET, MPIMAP_JOURNAL_SET_MIN);
    b_set(&big, nbig);
    b_set(&small, NSET);
    size_t total = 0;
    for (int k = 0; k < 2; k++) {
        char *p = jpath(k);
        mpimap_journal *j;
        ck_assert_int_eq(mpimap_journal_create(&j, p, 1000), 0);
        free(p);
        total = 0;
        for (int round = 0; round < 3; round++) {
            uint64_t first = 10 + 100 * (uint64_t)round;
            struct bytes *set = round == 1 ? &small : &big;
            size_t n = round == 1 ? NSET : nbig;
            /* an entry before the set (in the same buffer: its compact
             * record is closed before the set's), one after it */
            ck_assert_int_eq(
                mpimap_journal_add(j, first - 8, MPIMAP_JOURNAL_OK, 1, 999.5, 0.25, "b", 1), 0);
            if (k == 0)
                ck_assert_int_eq(mpimap_journal_add_set(j, first, set->b, set->n), 0);
            else
                add_set_entries(j, first, n);
            total += 1 + n;
            if (round != 1) {
                ck_assert_int_eq(
                    mpimap_journal_add(j, first + 50, MPIMAP_JOURNAL_DIED, 0, 1001, 0, NULL, 0),
                    0);
                total++;
            }
            ck_assert_uint_eq(mpimap_journal_durable(j) + mpimap_journal_pending(j), total);
            if (round == 0)
                ck_assert_int_eq(mpimap_journal_sync(j, 1), 1);
            else /* handed over: the flusher takes them together or not */
                ck_assert_int_eq(mpimap_journal_sync(j, 0), 0);
        }
        ck_assert_int_eq(mpimap_journal_close(j), 0);
    }
    char *p0 = jpath(0), *p1 = jpath(1);
    size_t n0, n1;
    unsigned char *b0 = slurp(p0, &n0), *b1 = slurp(p1, &n1);
    struct all a = {0}, b = {0};
    size_t good;
    ck_assert_int_eq(mpimap_journal_parse(b0, n0, collect_all, &a, &good), 0);
    ck_assert_uint_eq(good, n0);
    ck_assert_int_eq(mpimap_journal_parse(b1, n1, collect_all, &b, &good), 0);
    ck_assert_uint_eq(good, n1);
    ck_assert_uint_eq(a.n, total);
    ck_assert_uint_eq(b.n, a.n);
    size_t sets = 0;
    for (size_t i = 0; i < a.n; i++) {
        const struct entry *x = &a.e[i], *y = &b.e[i];
        ck_assert_uint_eq(x->index, y->index);
        ck_assert_int_eq(x->status, y->status);
        ck_assert_int_eq(x->rank, y->rank);
        ck_assert_uint_eq(x->len, y->len);
        ck_assert(x->len == 0 || memcmp(x->data, y->data, x->len) == 0);
        near_start(y->start, x->start);
        ck_assert(fabs(x->duration - y->duration) <= 0.5e-9);
        if ((x->where & 3) == MPIMAP_JOURNAL_KIND_SET) {
            /* the big sets' results, exactly as the set gives them */
            ck_assert_uint_ne(x->index / 100, 1);
            size_t r = (size_t)(x->index % 100) - 10;
            uint64_t at = 0;
            for (size_t q = 0; q <= r; q++)
                at += set_recs[q % NSET].gap + (q < r ? set_recs[q % NSET].took : 0);
            ck_assert(x->start == 1000.25 + (double)at * 0.4e-9);
            ck_assert(x->duration == (double)set_recs[r % NSET].took * 0.4e-9);
            ck_assert_int_eq(x->rank, 3);
            sets++;
        }
        ck_assert_int_ne((int)(y->where & 3), MPIMAP_JOURNAL_KIND_SET);
    }
    ck_assert_uint_eq(sets, 2 * nbig);
    ck_assert_uint_eq(a.e[3].index, 12);
    ck_assert_int_eq(a.e[3].status, MPIMAP_JOURNAL_FAILED);
    ck_assert_uint_eq(a.e[3].len, 8);
    ck_assert(memcmp(a.e[3].data, "it broke", 8) == 0);
    check_where(b0, n0, &a);
    /* the set as it is, after the record header and its base index */
    const struct entry *x = &a.e[1];
    size_t set_at = (size_t)(x->where >> 2) - 48 - MPIMAP_JOURNAL_SET_BASE;
    uint32_t magic;
    uint64_t base;
    memcpy(&magic, b0 + set_at - MPIMAP_JOURNAL_RECORD_HEADER, 4);
    memcpy(&base, b0 + set_at, 8);
    ck_assert_uint_eq(magic, MPIMAP_JOURNAL_RECORD_MAGIC4);
    ck_assert_uint_eq(base, 10);
    ck_assert(memcmp(b0 + set_at + 8, big.b, big.n) == 0);
    fprintf(stderr, "set_reads_back_as_its_entries: %zu bytes as sets, %zu as entries\n", n0, n1);
    all_free(&a);
    all_free(&b);
    free(b0);
    free(b1);
    free(p0);
    free(p1);
}
END_TEST

/* A set of no results writes nothing; the results of sets assemble, a
 * failure with the rank of its set. */
START_TEST(sets_assemble)
{
    struct bytes set = {{0}, 0}, empty = {{0}, 0};
    const size_t n = 3 * NSET;
    b_set(&set, n);
    b_u64(&empty, 0);
    b_u64(&empty, 0);
    b_u32(&empty, 2);
    b_u32(&empty, 0);
    b_f64(&empty, 1);
    b_f64(&empty, 1e-9);
    b_f64(&empty, 0);
    char *p = jpath(0);
    mpimap_journal *j;
    ck_assert_int_eq(mpimap_journal_create(&j, p, 1000), 0);
    ck_assert_int_eq(mpimap_journal_add_set(j, 3, empty.b, empty.n), 0);
    ck_assert_int_eq(mpimap_journal_sync(j, 1), 1);
    size_t flen;
    unsigned char *b = slurp(p, &flen);
    ck_assert_uint_eq(flen, 8);
    free(b);
    ck_assert_int_eq(mpimap_journal_add_set(j, 0, set.b, set.n), 0);
    ck_assert_int_eq(mpimap_journal_close(j), 0);
    free(p);
    struct failures f = {0};
    assemble_ok(n, 3, &f, "\na\n\nxyz\n\nlong\n\na\n\nxyz\n\nlong\n\na\n\nxyz\n\nlong\n");
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(f.idx[i], 2 + i * NSET);
        ck_assert_int_eq(f.rank[i], 3);
    }
}
END_TEST

/* A set shorter than its header is refused at once; one whose last
 * record runs past its end (_i 0, 1), or with a byte after its last
 * record (_i 2, 3), fails the journal when the flusher reads it, small or
 * big (_i odd), and nothing of what was handed over with it is written. */
START_TEST(malformed_set_fails_the_journal)
{
    struct bytes set = {{0}, 0};
    b_set(&set, _i & 1 ? 3 * NSET : NSET);
    b_u32(&set, 0);
    size_t n = set.n - 4 + (_i < 2 ? -1 : 1);
    char *p = jpath(0);
    mpimap_journal *j;
    ck_assert_int_eq(mpimap_journal_create(&j, p, 1000), 0);
    ck_assert_int_eq(mpimap_journal_add_set(j, 0, set.b, 47), MPIMAP_EINVAL);
    ck_assert_int_eq(mpimap_journal_add(j, 1, MPIMAP_JOURNAL_OK, 0, 1, 0, "x", 1), 0);
    ck_assert_int_eq(mpimap_journal_add_set(j, 0, set.b, n), 0);
    errno = 0;
    ck_assert_int_eq(mpimap_journal_sync(j, 1), MPIMAP_EIO);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(mpimap_journal_close(j), MPIMAP_EIO);
    unsigned char *b = slurp(p, &n);
    ck_assert_uint_eq(n, 8); /* the file's magic only */
    free(b);
    free(p);
}
END_TEST

Suite *test_suite(void);
Suite *test_suite(void)
{
    Suite *s = suite_create("journal");
    TCase *tc = tcase_create("journal");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, crc32c_known_answer);
    tcase_add_test(tc, write_and_read_back);
    tcase_add_test(tc, durable_without_more_arrivals);
    tcase_add_test(tc, on_durable_is_called);
    tcase_add_test(tc, torn_at_every_byte);
    tcase_add_test(tc, corrupt_byte);
    tcase_add_test(tc, ledger_outcomes);
    tcase_add_test(tc, assemble_best_entries);
    tcase_add_test(tc, assemble_refuses_holes_and_strangers);
    tcase_add_test(tc, compact_round_trip);
    tcase_add_test(tc, compact_bytes);
    tcase_add_test(tc, old_and_compact_records);
    tcase_add_test(tc, magic_is_covered);
    tcase_add_test(tc, compact_malformed);
    tcase_add_test(tc, trivial_entries_are_small);
    tcase_add_test(tc, set_reads_back_as_its_entries);
    tcase_add_test(tc, sets_assemble);
    tcase_add_loop_test(tc, malformed_set_fails_the_journal, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}
