/* SPDX-License-Identifier: BSD-3-Clause */
/* test_journal.c - the journal (journal.c), the ledger read from journals
 * (ledger.c) and the results assembled from them (assemble.c). */
#include <check.h>
#include <fcntl.h>
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

/* Write items first..first+n-1 as "vINDEX" in records of `per` entries. */
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
    size_t n;
};

static int on_failure(void *ctx, uint64_t index, int rank, const void *why, size_t len)
{
    (void)rank;
    (void)why;
    (void)len;
    struct failures *f = ctx;
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

START_TEST(assemble_best_entries)
{
    write_journal(0, 0, 5, 2, MPIMAP_JOURNAL_OK);
    write_journal(1, 5, 3, 1, MPIMAP_JOURNAL_FAILED); /* 5, 6, 7 failed */
    write_journal(2, 6, 1, 1, MPIMAP_JOURNAL_OK);     /* 6 retried: ok */
    write_journal(3, 5, 1, 1, MPIMAP_JOURNAL_DIED);   /* a death does not beat a failure */
    int rc;
    uint64_t failed;
    struct failures f = {0};
    char *error = NULL;
    char *out = assemble_to_file(8, &rc, &failed, &f, &error);
    ck_assert_msg(rc == 0, "%s", error ? error : "?");
    ck_assert_uint_eq(failed, 2);
    ck_assert_uint_eq(f.n, 2);
    ck_assert_uint_eq(f.idx[0], 5);
    ck_assert_uint_eq(f.idx[1], 7);
    size_t len;
    unsigned char *got = slurp(out, &len);
    const char *want = "v0\nv1\nv2\nv3\nv4\n\nv6\n\n";
    ck_assert_uint_eq(len, strlen(want));
    ck_assert(memcmp(got, want, len) == 0);
    free(got);
    free(out);
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
    suite_add_tcase(s, tc);
    return s;
}
