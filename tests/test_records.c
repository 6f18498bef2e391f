/* SPDX-License-Identifier: BSD-3-Clause */
/* test_records.c - the record reader and writer (core/records.c). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include <mpimap/mpimap.h>

#include "records.h"

Suite *test_suite(void);

#define MiB ((size_t)1 << 20)

/* ---- Helpers ------------------------------------------------------------ */

static char *dir; /* a fresh temporary directory per test */

static char *path_in(const char *name)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
    return p;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static void setup(void)
{
    dir = strdup("/tmp/mpimap-test-records-XXXXXX");
    ck_assert_ptr_nonnull(dir);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
    dir = NULL;
}

static char *write_file(const char *name, const void *data, size_t len)
{
    char *p = path_in(name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    return p;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 4096, n = 0;
    unsigned char *b = malloc(cap);
    ck_assert_ptr_nonnull(b);
    size_t k;
    while ((k = fread(b + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            cap *= 2;
            b = realloc(b, cap);
            ck_assert_ptr_nonnull(b);
        }
    }
    fclose(f);
    *len = n;
    return b;
}

/* The names in dir, sorted, joined by spaces. */
static char *dir_listing(void)
{
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "ls -A '%s' | tr '\\n' ' '", dir), 0);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, p);
    pclose(p);
    free(cmd);
    if (n < 0) {
        free(line);
        return strdup("");
    }
    return line;
}

static void le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

/* A growable byte string for building inputs. */
struct bytes {
    unsigned char *p;
    size_t len, cap;
};

static void bytes_add(struct bytes *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + len)
            ncap *= 2;
        b->p = realloc(b->p, ncap);
        ck_assert_ptr_nonnull(b->p);
        b->cap = ncap;
    }
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
}

static void bytes_add_record(struct bytes *b, const void *data, size_t len)
{
    unsigned char h[8];
    le64(h, len);
    bytes_add(b, h, 8);
    bytes_add(b, data, len);
}

/* n bytes of a recognisable pattern (no '\n' or '\0' unless binary). */
static unsigned char *pattern(size_t n, int binary, unsigned seed)
{
    unsigned char *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = binary ? (unsigned char)((i * 7 + seed) & 0xff)
                      : (unsigned char)('A' + (i * 7 + seed) % 26);
    return p;
}

/* Expect the next record to be exactly (data, len). */
static void expect_item(mpimap_reader *r, const void *data, size_t len, int terminated)
{
    const void *got = NULL;
    size_t n = 12345;
    uint64_t before = mpimap_reader_index(r);
    int rc = mpimap_reader_next(r, &got, &n);
    ck_assert_msg(rc == 1, "item %" PRIu64 ": rc %d (%s)", before, rc,
                  mpimap_reader_error(r) ? mpimap_reader_error(r) : "-");
    ck_assert_uint_eq(n, len);
    ck_assert_msg(len == 0 || memcmp(got, data, len) == 0, "item %" PRIu64 " differs",
                  before);
    if (terminated)
        ck_assert_int_eq(((const char *)got)[len], '\0');
    ck_assert_uint_eq(mpimap_reader_index(r), before + 1);
}

static void expect_end(mpimap_reader *r, uint64_t count)
{
    const void *got;
    size_t n;
    ck_assert_int_eq(mpimap_reader_next(r, &got, &n), 0);
    ck_assert_int_eq(mpimap_reader_next(r, &got, &n), 0); /* stays at the end */
    ck_assert_uint_eq(mpimap_reader_index(r), count);
    ck_assert_ptr_null(mpimap_reader_error(r));
}

static mpimap_reader *open_ok(const char *path, int framing)
{
    mpimap_reader *r = NULL;
    int rc = mpimap_reader_open(&r, path, framing);
    ck_assert_msg(rc == 0, "open %s: %d %s", path ? path : "-", rc,
                  r ? mpimap_reader_error(r) : "");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(mpimap_reader_index(r), 0);
    return r;
}

/* Read a literal input with a framing and expect the items (as C strings). */
static void check_text(int framing, const char *input, size_t inlen,
                       const char *const *items, size_t nitems)
{
    char *p = write_file("in", input, inlen);
    mpimap_reader *r = open_ok(p, framing);
    for (size_t i = 0; i < nitems; i++)
        expect_item(r, items[i], strlen(items[i]), 1);
    expect_end(r, nitems);
    mpimap_reader_close(r);
    free(p);
}

/* ---- Reader: LINE and NUL ----------------------------------------------- */

START_TEST(line_empty_input)
{
    check_text(MPIMAP_FRAME_LINE, "", 0, NULL, 0);
}
END_TEST

START_TEST(line_one_item)
{
    const char *a[] = {"hello world"};
    check_text(MPIMAP_FRAME_LINE, "hello world\n", 12, a, 1);
}
END_TEST

START_TEST(line_unterminated_last)
{
    const char *a[] = {"a", "bc"};
    check_text(MPIMAP_FRAME_LINE, "a\nbc", 4, a, 2);
    const char *b[] = {"only"};
    check_text(MPIMAP_FRAME_LINE, "only", 4, b, 1);
}
END_TEST

START_TEST(line_empty_items)
{
    const char *a[] = {"a", "", "b"};
    check_text(MPIMAP_FRAME_LINE, "a\n\nb\n", 5, a, 3);
    const char *b[] = {""};
    check_text(MPIMAP_FRAME_LINE, "\n", 1, b, 1);
    const char *c[] = {"", "", "x"};
    check_text(MPIMAP_FRAME_LINE, "\n\nx", 3, c, 3);
    /* '\r' and '\0' are ordinary bytes in LINE framing */
    char *p = write_file("in", "a\r\nb\0c\n", 7);
    mpimap_reader *r = open_ok(p, MPIMAP_FRAME_LINE);
    expect_item(r, "a\r", 2, 1);
    expect_item(r, "b\0c", 3, 1);
    expect_end(r, 2);
    mpimap_reader_close(r);
    free(p);
}
END_TEST

START_TEST(nul_framing)
{
    check_text(MPIMAP_FRAME_NUL, "", 0, NULL, 0);
    const char *a[] = {"a", "", "b"};
    check_text(MPIMAP_FRAME_NUL, "a\0\0b\0", 5, a, 3);
    const char *b[] = {"x\ny", "last"};
    check_text(MPIMAP_FRAME_NUL, "x\ny\0last", 8, b, 2);
    const char *c[] = {"one\n"};
    check_text(MPIMAP_FRAME_NUL, "one\n", 4, c, 1);
    const char *d[] = {""};
    check_text(MPIMAP_FRAME_NUL, "\0", 1, d, 1);
}
END_TEST

/* Items of 16 MiB, and items right at the buffer size, among short ones. */
static void check_big_delim(int framing)
{
    char sep = framing == MPIMAP_FRAME_NUL ? '\0' : '\n';
    size_t sizes[] = {16 * MiB, MiB - 1, MiB, MiB + 1, 3, 0, 2 * MiB + 17, 16 * MiB};
    size_t n = sizeof sizes / sizeof sizes[0];
    struct bytes in = {0};
    unsigned char *items[sizeof sizes / sizeof sizes[0]];
    for (size_t i = 0; i < n; i++) {
        items[i] = pattern(sizes[i], 0, (unsigned)i);
        bytes_add(&in, items[i], sizes[i]);
        if (i + 1 < n) /* the last one unterminated */
            bytes_add(&in, &sep, 1);
    }
    char *p = write_file("big", in.p, in.len);
    mpimap_reader *r = open_ok(p, framing);
    for (size_t i = 0; i < n; i++)
        expect_item(r, items[i], sizes[i], 1);
    expect_end(r, n);
    /* and again after a rewind */
    ck_assert_int_eq(mpimap_reader_rewind(r), 0);
    for (size_t i = 0; i < n; i++)
        expect_item(r, items[i], sizes[i], 1);
    expect_end(r, n);
    mpimap_reader_close(r);
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(in.p);
    free(p);
}

START_TEST(line_16mib_item)
{
    check_big_delim(MPIMAP_FRAME_LINE);
}
END_TEST

START_TEST(nul_16mib_item)
{
    check_big_delim(MPIMAP_FRAME_NUL);
}
END_TEST

/* Many short items across several buffer refills. */
START_TEST(line_many_items)
{
    struct bytes in = {0};
    size_t n = 300000;
    for (size_t i = 0; i < n; i++) {
        char tmp[64];
        int k = snprintf(tmp, sizeof tmp, "item %zu%s\n", i, i % 7 ? "" : " seven");
        bytes_add(&in, tmp, (size_t)k);
    }
    ck_assert_uint_gt(in.len, 3 * MiB);
    char *p = write_file("many", in.p, in.len);
    mpimap_reader *r = open_ok(p, MPIMAP_FRAME_LINE);
    for (size_t i = 0; i < n; i++) {
        char tmp[64];
        int k = snprintf(tmp, sizeof tmp, "item %zu%s", i, i % 7 ? "" : " seven");
        expect_item(r, tmp, (size_t)k, 1);
    }
    expect_end(r, n);
    mpimap_reader_close(r);
    free(in.p);
    free(p);
}
END_TEST

/* Take up to k whole records from the peeked bytes, checking each against
 * items[*i], then consume them. Returns how many were taken. */
static size_t take_peeked(mpimap_reader *r, size_t k, unsigned char *const *items,
                          const size_t *sizes, size_t n, size_t *i)
{
    const unsigned char *p;
    size_t avail;
    int sep = -1;
    ck_assert_int_eq(mpimap_reader_peek(r, &p, &avail, &sep), 1);
    size_t used = 0, got = 0;
    while (got < k) {
        const unsigned char *q = avail > used ? memchr(p + used, sep, avail - used) : NULL;
        if (!q)
            break;
        size_t len = (size_t)(q - (p + used));
        ck_assert_uint_lt(*i, n);
        ck_assert_uint_eq(len, sizes[*i]);
        ck_assert_msg(len == 0 || memcmp(p + used, items[*i], len) == 0,
                      "peeked item %zu differs", *i);
        used += len + 1;
        got++;
        (*i)++;
    }
    uint64_t before = mpimap_reader_index(r);
    mpimap_reader_consume(r, used, got);
    ck_assert_uint_eq(mpimap_reader_index(r), before + got);
    return got;
}

/* Peeked and consumed records mixed with mpimap_reader_next() read the
 * same items as next() alone: across buffer refills, records larger than
 * the buffer, empty records and an unterminated last one. */
static void check_peek(int framing)
{
    char sep = framing == MPIMAP_FRAME_NUL ? '\0' : '\n';
    size_t n = 60000; /* 1.4 MB of short items: more than one buffer */
    unsigned char **items = calloc(n, sizeof *items);
    size_t *sizes = calloc(n, sizeof *sizes);
    ck_assert(items && sizes);
    struct bytes in = {0};
    for (size_t i = 0; i < n; i++) {
        sizes[i] = i == 1000 ? 3 * MiB : i == 40000 ? MiB + 5 : i % 13 == 0 ? 0 : i % 50;
        items[i] = pattern(sizes[i], 0, (unsigned)i);
        for (size_t b = 0; b < sizes[i]; b++)
            if (items[i][b] == (unsigned char)sep)
                items[i][b] = 'x';
        bytes_add(&in, items[i], sizes[i]);
        if (i + 1 < n)
            bytes_add(&in, &sep, 1);
    }
    char *path = write_file("peek", in.p, in.len);
    mpimap_reader *r = open_ok(path, framing);
    size_t i = 0, round = 0;
    while (i < n) {
        /* 0 to 40 records from the buffer, then one through next() */
        take_peeked(r, round++ % 41, items, sizes, n, &i);
        if (i < n)
            expect_item(r, items[i], sizes[i], 1);
        i += i < n;
    }
    expect_end(r, n);
    const unsigned char *p;
    size_t avail;
    int s;
    ck_assert_int_eq(mpimap_reader_peek(r, &p, &avail, &s), 1);
    ck_assert_uint_eq(avail, 0);
    mpimap_reader_close(r);
    for (size_t k = 0; k < n; k++)
        free(items[k]);
    free(items);
    free(sizes);
    free(in.p);
    free(path);
}

START_TEST(line_peek)
{
    check_peek(MPIMAP_FRAME_LINE);
}
END_TEST

START_TEST(nul_peek)
{
    check_peek(MPIMAP_FRAME_NUL);
}
END_TEST

/* Nothing to peek in BINARY framing, nor in a failed reader. */
START_TEST(peek_refused)
{
    static const unsigned char rec[] = {3, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c'};
    char *p = write_file("bin", rec, sizeof rec);
    mpimap_reader *r = open_ok(p, MPIMAP_FRAME_BINARY);
    const unsigned char *d;
    size_t avail;
    int sep;
    ck_assert_int_eq(mpimap_reader_peek(r, &d, &avail, &sep), 0);
    expect_item(r, "abc", 3, 0);
    mpimap_reader_close(r);
    free(p);
    r = NULL;
    ck_assert_int_lt(mpimap_reader_open(&r, "/nonexistent/peek", MPIMAP_FRAME_LINE), 0);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(mpimap_reader_peek(r, &d, &avail, &sep), 0);
    mpimap_reader_close(r);
}
END_TEST

/* ---- Reader: BINARY ----------------------------------------------------- */

START_TEST(binary_basic)
{
    /* empty input */
    char *p = write_file("e.bin", "", 0);
    mpimap_reader *r = open_ok(p, MPIMAP_FRAME_BINARY);
    expect_end(r, 0);
    mpimap_reader_close(r);
    free(p);

    /* one item, an empty item, NUL and newline bytes inside items */
    struct bytes in = {0};
    bytes_add_record(&in, "one", 3);
    bytes_add_record(&in, "", 0);
    bytes_add_record(&in, "a\0b\n\0", 6);
    bytes_add_record(&in, "\0", 1);
    p = write_file("b.bin", in.p, in.len);
    r = open_ok(p, MPIMAP_FRAME_BINARY);
    expect_item(r, "one", 3, 0);
    expect_item(r, "", 0, 0);
    expect_item(r, "a\0b\n\0", 6, 0);
    expect_item(r, "\0", 1, 0);
    expect_end(r, 4);
    mpimap_reader_close(r);
    free(p);
    free(in.p);
}
END_TEST

START_TEST(binary_16mib_item)
{
    size_t sizes[] = {5, 16 * MiB, MiB - 8, MiB - 9, MiB, 0, 16 * MiB, 1};
    size_t n = sizeof sizes / sizeof sizes[0];
    unsigned char *items[sizeof sizes / sizeof sizes[0]];
    struct bytes in = {0};
    for (size_t i = 0; i < n; i++) {
        items[i] = pattern(sizes[i], 1, (unsigned)i);
        bytes_add_record(&in, items[i], sizes[i]);
    }
    char *p = write_file("big.bin", in.p, in.len);
    mpimap_reader *r = open_ok(p, MPIMAP_FRAME_BINARY);
    for (size_t i = 0; i < n; i++)
        expect_item(r, items[i], sizes[i], 0);
    expect_end(r, n);
    mpimap_reader_close(r);
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(in.p);
    free(p);
}
END_TEST

static void expect_error(mpimap_reader *r, int code, const char *msg)
{
    const void *d;
    size_t n;
    ck_assert_int_eq(mpimap_reader_next(r, &d, &n), code);
    ck_assert_ptr_nonnull(mpimap_reader_error(r));
    ck_assert_str_eq(mpimap_reader_error(r), msg);
    /* the error sticks */
    ck_assert_int_eq(mpimap_reader_next(r, &d, &n), code);
    ck_assert_str_eq(mpimap_reader_error(r), msg);
}

START_TEST(binary_truncated_body)
{
    /* items 0-2 take 18 + 19 + 20 = 57 bytes; item 3 claims 1000 */
    struct bytes in = {0};
    bytes_add_record(&in, "0123456789", 10);
    bytes_add_record(&in, "0123456789a", 11);
    bytes_add_record(&in, "0123456789ab", 12);
    ck_assert_uint_eq(in.len, 57);
    unsigned char h[8];
    le64(h, 1000);
    bytes_add(&in, h, 8);
    bytes_add(&in, "twelve bytes", 12);
    char *p = write_file("input.bin", in.p, in.len);
    mpimap_reader *r = open_ok(p, MPIMAP_FRAME_BINARY);
    expect_item(r, "0123456789", 10, 0);
    expect_item(r, "0123456789a", 11, 0);
    expect_item(r, "0123456789ab", 12, 0);
    char *msg = NULL;
    ck_assert_int_ge(asprintf(&msg, "%s: item 3 at byte 57: record claims 1000 "
                                    "bytes but only 12 remain", p), 0);
    expect_error(r, MPIMAP_EINVAL, msg);
    ck_assert_uint_eq(mpimap_reader_index(r), 3);
    /* rewind clears the error */
    ck_assert_int_eq(mpimap_reader_rewind(r), 0);
    ck_assert_ptr_null(mpimap_reader_error(r));
    expect_item(r, "0123456789", 10, 0);
    mpimap_reader_close(r);
    free(msg);
    free(p);
    free(in.p);
}
END_TEST

START_TEST(binary_truncated_length)
{
    struct bytes in = {0};
    bytes_add_record(&in, "abc", 3);
    bytes_add(&in, "\x05\x00\x00", 3);
    char *p = write_file("short.bin", in.p, in.len);
    mpimap_reader *r = open_ok(p, MPIMAP_FRAME_BINARY);
    expect_item(r, "abc", 3, 0);
    char *msg = NULL;
    ck_assert_int_ge(asprintf(&msg, "%s: item 1 at byte 11: truncated record "
                                    "length: 3 of 8 bytes", p), 0);
    expect_error(r, MPIMAP_EINVAL, msg);
    mpimap_reader_close(r);
    free(msg);
    free(p);
    free(in.p);
}
END_TEST

START_TEST(binary_truncated_big_body)
{
    /* a record larger than the buffer, cut short; and an absurd length
     * that must not be allocated up front */
    struct bytes in = {0};
    unsigned char *body = pattern(2 * MiB, 1, 3);
    bytes_add_record(&in, "x", 1);
    unsigned char h[8];
    le64(h, 16 * MiB);
    bytes_add(&in, h, 8);
    bytes_add(&in, body, 2 * MiB);
    char *p = write_file("cut.bin", in.p, in.len);
    mpimap_reader *r = open_ok(p, MPIMAP_FRAME_BINARY);
    expect_item(r, "x", 1, 0);
    char *msg = NULL;
    ck_assert_int_ge(asprintf(&msg, "%s: item 1 at byte 9: record claims 16777216 "
                                    "bytes but only 2097152 remain", p), 0);
    expect_error(r, MPIMAP_EINVAL, msg);
    mpimap_reader_close(r);
    free(msg);
    free(p);

    in.len = 0;
    le64(h, UINT64_C(1) << 62);
    bytes_add(&in, h, 8);
    bytes_add(&in, "tiny", 4);
    p = write_file("huge.bin", in.p, in.len);
    r = open_ok(p, MPIMAP_FRAME_BINARY);
    ck_assert_int_ge(asprintf(&msg, "%s: item 0 at byte 0: record claims "
                                    "4611686018427387904 bytes but only 4 remain", p), 0);
    expect_error(r, MPIMAP_EINVAL, msg);
    mpimap_reader_close(r);
    free(msg);
    free(p);
    free(body);
    free(in.p);
}
END_TEST

/* ---- Reader: opening, rewind, stdin ------------------------------------- */

START_TEST(missing_file)
{
    char *p = path_in("no-such-file");
    mpimap_reader *r = NULL;
    ck_assert_int_eq(mpimap_reader_open(&r, p, MPIMAP_FRAME_LINE), MPIMAP_ENOTFOUND);
    ck_assert_ptr_nonnull(r);
    char *msg = NULL;
    ck_assert_int_ge(asprintf(&msg, "cannot open '%s': No such file or directory", p), 0);
    ck_assert_str_eq(mpimap_reader_error(r), msg);
    const void *d;
    size_t n;
    ck_assert_int_eq(mpimap_reader_next(r, &d, &n), MPIMAP_ENOTFOUND);
    ck_assert_int_eq(mpimap_reader_rewind(r), MPIMAP_ENOTFOUND);
    mpimap_reader_close(r);
    free(msg);
    free(p);

    /* a directory and a bad framing are refused too */
    r = NULL;
    ck_assert_int_eq(mpimap_reader_open(&r, dir, MPIMAP_FRAME_LINE), MPIMAP_EIO);
    ck_assert_ptr_nonnull(strstr(mpimap_reader_error(r), "Is a directory"));
    mpimap_reader_close(r);
    r = NULL;
    ck_assert_int_eq(mpimap_reader_open(&r, "/dev/null", 7), MPIMAP_EINVAL);
    ck_assert_str_eq(mpimap_reader_error(r), "/dev/null: invalid framing 7");
    mpimap_reader_close(r);
    mpimap_reader_close(NULL);
}
END_TEST

START_TEST(rewind_file)
{
    const char *in = "a\nb\nc\n";
    char *p = write_file("in", in, strlen(in));
    mpimap_reader *r = open_ok(p, MPIMAP_FRAME_LINE);
    expect_item(r, "a", 1, 1);
    expect_item(r, "b", 1, 1);
    ck_assert_int_eq(mpimap_reader_rewind(r), 0);
    ck_assert_uint_eq(mpimap_reader_index(r), 0);
    expect_item(r, "a", 1, 1);
    expect_item(r, "b", 1, 1);
    expect_item(r, "c", 1, 1);
    expect_end(r, 3);
    ck_assert_int_eq(mpimap_reader_rewind(r), 0);
    expect_item(r, "a", 1, 1);
    mpimap_reader_close(r);
    free(p);
}
END_TEST

/* Run body with stdin replaced by the read end of a pipe that a child
 * fills with data (in small writes), then restore stdin. */
static pid_t feed_stdin(const void *data, size_t len, int *saved)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        const unsigned char *p = data;
        while (len) {
            size_t k = len < 4000 ? len : 4000;
            ssize_t w = write(fds[1], p, k);
            if (w <= 0)
                _exit(1);
            p += w;
            len -= (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    *saved = dup(STDIN_FILENO);
    ck_assert_int_ge(*saved, 0);
    ck_assert_int_ge(dup2(fds[0], STDIN_FILENO), 0);
    close(fds[0]);
    return pid;
}

static void restore_stdin(pid_t pid, int saved)
{
    int status = 0;
    ck_assert_int_ge(dup2(saved, STDIN_FILENO), 0);
    close(saved);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

START_TEST(stdin_pipe_lines)
{
    struct bytes in = {0};
    size_t n = 200000;
    for (size_t i = 0; i < n; i++) {
        char tmp[32];
        int k = snprintf(tmp, sizeof tmp, "%zu\n", i * 31);
        bytes_add(&in, tmp, (size_t)k);
    }
    int saved;
    pid_t pid = feed_stdin(in.p, in.len, &saved);
    mpimap_reader *r = open_ok(_i % 2 ? "-" : NULL, MPIMAP_FRAME_LINE);
    for (size_t i = 0; i < n; i++) {
        char tmp[32];
        int k = snprintf(tmp, sizeof tmp, "%zu", i * 31);
        expect_item(r, tmp, (size_t)k, 1);
    }
    expect_end(r, n);
    /* a pipe cannot be rewound */
    ck_assert_int_eq(mpimap_reader_rewind(r), MPIMAP_EINVAL);
    ck_assert_str_eq(mpimap_reader_error(r), "<stdin>: cannot rewind: not a seekable file");
    mpimap_reader_close(r); /* does not close stdin */
    ck_assert_int_ge(fcntl(STDIN_FILENO, F_GETFD), 0);
    restore_stdin(pid, saved);
    free(in.p);
}
END_TEST

START_TEST(stdin_pipe_binary)
{
    struct bytes in = {0};
    unsigned char *big = pattern(16 * MiB, 1, 9);
    bytes_add_record(&in, "first", 5);
    bytes_add_record(&in, big, 16 * MiB);
    bytes_add_record(&in, "a\0b", 3);
    bytes_add(&in, "\x02\0\0\0\0\0\0\0z", 9); /* truncated body */
    int saved;
    pid_t pid = feed_stdin(in.p, in.len, &saved);
    mpimap_reader *r = open_ok("-", MPIMAP_FRAME_BINARY);
    expect_item(r, "first", 5, 0);
    expect_item(r, big, 16 * MiB, 0);
    expect_item(r, "a\0b", 3, 0);
    expect_error(r, MPIMAP_EINVAL, "<stdin>: item 3 at byte 16777248: record claims "
                                   "2 bytes but only 1 remain");
    mpimap_reader_close(r);
    restore_stdin(pid, saved);
    free(big);
    free(in.p);
}
END_TEST

/* ---- Writer ------------------------------------------------------------- */

static mpimap_writer *wopen_ok(const char *path, int framing)
{
    mpimap_writer *w = NULL;
    int rc = mpimap_writer_open(&w, path, framing);
    ck_assert_msg(rc == 0, "writer open %s: %d %s", path ? path : "-", rc,
                  w ? mpimap_writer_error(w) : "");
    return w;
}

static void expect_file(const char *path, const void *data, size_t len)
{
    size_t n;
    unsigned char *got = read_all(path, &n);
    ck_assert_uint_eq(n, len);
    ck_assert(len == 0 || memcmp(got, data, len) == 0);
    free(got);
}

START_TEST(writer_exact_bytes)
{
    char *p = path_in("out");
    mpimap_writer *w = wopen_ok(p, MPIMAP_FRAME_LINE);
    ck_assert_int_eq(mpimap_writer_put(w, "a", 1), 0);
    ck_assert_int_eq(mpimap_writer_put(w, "", 0), 0);
    ck_assert_int_eq(mpimap_writer_put(w, NULL, 0), 0);
    ck_assert_int_eq(mpimap_writer_put(w, "b c", 3), 0);
    ck_assert_int_eq(mpimap_writer_commit(w), 0);
    ck_assert_int_eq(mpimap_writer_commit(w), MPIMAP_EINVAL);
    ck_assert_int_eq(mpimap_writer_put(w, "late", 4), MPIMAP_EINVAL);
    mpimap_writer_close(w);
    expect_file(p, "a\n\n\nb c\n", 8);

    w = wopen_ok(p, MPIMAP_FRAME_NUL);
    ck_assert_int_eq(mpimap_writer_put(w, "a", 1), 0);
    ck_assert_int_eq(mpimap_writer_put(w, "", 0), 0);
    ck_assert_int_eq(mpimap_writer_put(w, "x\ny", 3), 0);
    ck_assert_int_eq(mpimap_writer_commit(w), 0);
    mpimap_writer_close(w);
    expect_file(p, "a\0\0x\ny\0", 7);

    w = wopen_ok(p, MPIMAP_FRAME_BINARY);
    ck_assert_int_eq(mpimap_writer_put(w, "a\0b", 3), 0);
    ck_assert_int_eq(mpimap_writer_put(w, "", 0), 0);
    ck_assert_int_eq(mpimap_writer_commit(w), 0);
    mpimap_writer_close(w);
    expect_file(p, "\x03\0\0\0\0\0\0\0a\0b\0\0\0\0\0\0\0\0", 19);

    /* an empty output is an empty file */
    w = wopen_ok(p, MPIMAP_FRAME_LINE);
    ck_assert_int_eq(mpimap_writer_commit(w), 0);
    mpimap_writer_close(w);
    expect_file(p, "", 0);
    free(p);
}
END_TEST

START_TEST(writer_indexed)
{
    char *p = path_in("out");
    mpimap_writer *w = wopen_ok(p, MPIMAP_FRAME_LINE);
    ck_assert_int_eq(mpimap_writer_put_indexed(w, 7, "x y", 3), 0);
    ck_assert_int_eq(mpimap_writer_put_indexed(w, 0, "", 0), 0);
    ck_assert_int_eq(mpimap_writer_put_indexed(w, UINT64_MAX, "z", 1), 0);
    ck_assert_int_eq(mpimap_writer_commit(w), 0);
    mpimap_writer_close(w);
    const char *want = "7\tx y\n0\t\n18446744073709551615\tz\n";
    expect_file(p, want, strlen(want));

    w = wopen_ok(p, MPIMAP_FRAME_NUL);
    ck_assert_int_eq(mpimap_writer_put_indexed(w, 42, "a\nb", 3), 0);
    ck_assert_int_eq(mpimap_writer_put_indexed(w, 10, "", 0), 0);
    ck_assert_int_eq(mpimap_writer_commit(w), 0);
    mpimap_writer_close(w);
    expect_file(p, "42\ta\nb\00010\t\0", 11);

    w = wopen_ok(p, MPIMAP_FRAME_BINARY);
    ck_assert_int_eq(mpimap_writer_put_indexed(w, 0x0102030405060708u, "a\0", 2), 0);
    ck_assert_int_eq(mpimap_writer_commit(w), 0);
    mpimap_writer_close(w);
    expect_file(p, "\x08\x07\x06\x05\x04\x03\x02\x01\x02\0\0\0\0\0\0\0a\0", 18);
    free(p);
}
END_TEST

/* Write items with put, read them back. */
static void roundtrip(int framing)
{
    int binary = framing == MPIMAP_FRAME_BINARY;
    size_t sizes[] = {0, 1, 100, 16 * MiB, 5, MiB - 1, MiB, MiB + 1, 0, 2};
    size_t n = sizeof sizes / sizeof sizes[0];
    unsigned char *items[sizeof sizes / sizeof sizes[0]];
    char *p = path_in("rt");
    mpimap_writer *w = wopen_ok(p, framing);
    for (size_t i = 0; i < n; i++) {
        items[i] = pattern(sizes[i], binary, (unsigned)i);
        ck_assert_int_eq(mpimap_writer_put(w, items[i], sizes[i]), 0);
    }
    /* plus many short ones */
    for (size_t i = 0; i < 100000; i++) {
        char tmp[32];
        int k = snprintf(tmp, sizeof tmp, "r%zu", i);
        ck_assert_int_eq(mpimap_writer_put(w, tmp, (size_t)k), 0);
    }
    ck_assert_int_eq(mpimap_writer_flush(w), 0);
    ck_assert_int_eq(mpimap_writer_commit(w), 0);
    mpimap_writer_close(w);

    mpimap_reader *r = open_ok(p, framing);
    for (size_t i = 0; i < n; i++)
        expect_item(r, items[i], sizes[i], !binary);
    for (size_t i = 0; i < 100000; i++) {
        char tmp[32];
        int k = snprintf(tmp, sizeof tmp, "r%zu", i);
        expect_item(r, tmp, (size_t)k, !binary);
    }
    expect_end(r, n + 100000);
    mpimap_reader_close(r);
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(p);
}

START_TEST(writer_roundtrip_line)
{
    roundtrip(MPIMAP_FRAME_LINE);
}
END_TEST

START_TEST(writer_roundtrip_nul)
{
    roundtrip(MPIMAP_FRAME_NUL);
}
END_TEST

START_TEST(writer_roundtrip_binary)
{
    roundtrip(MPIMAP_FRAME_BINARY);
}
END_TEST

START_TEST(writer_commit_uses_temp)
{
    char *p = path_in("result.txt");
    mode_t old = umask(022);
    mpimap_writer *w = wopen_ok(p, MPIMAP_FRAME_LINE);
    umask(old);
    ck_assert_int_eq(mpimap_writer_put(w, "x", 1), 0);
    ck_assert_int_eq(mpimap_writer_flush(w), 0);
    /* before the commit: only the temporary file, the target absent */
    char *ls = dir_listing();
    ck_assert_msg(strncmp(ls, "result.txt.tmp.", 15) == 0 && strlen(ls) == 15 + 6 + 1,
                  "listing '%s'", ls);
    free(ls);
    ck_assert_int_eq(access(p, F_OK), -1);
    ck_assert_int_eq(mpimap_writer_commit(w), 0);
    mpimap_writer_close(w);
    ls = dir_listing();
    ck_assert_str_eq(ls, "result.txt ");
    free(ls);
    expect_file(p, "x\n", 2);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644); /* umask honoured, not 0600 */

    /* replacing a file keeps its mode */
    ck_assert_int_eq(chmod(p, 0640), 0);
    w = wopen_ok(p, MPIMAP_FRAME_LINE);
    ck_assert_int_eq(mpimap_writer_put(w, "new", 3), 0);
    ck_assert_int_eq(mpimap_writer_commit(w), 0);
    mpimap_writer_close(w);
    expect_file(p, "new\n", 4);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    free(p);
}
END_TEST

START_TEST(writer_abort_leaves_target)
{
    char *p = write_file("keep.txt", "old\n", 4);
    /* explicit abort */
    mpimap_writer *w = wopen_ok(p, MPIMAP_FRAME_LINE);
    ck_assert_int_eq(mpimap_writer_put(w, "new", 3), 0);
    ck_assert_int_eq(mpimap_writer_flush(w), 0);
    ck_assert_int_eq(mpimap_writer_abort(w), 0);
    ck_assert_int_eq(mpimap_writer_put(w, "late", 4), MPIMAP_EINVAL);
    ck_assert_int_eq(mpimap_writer_commit(w), MPIMAP_EINVAL);
    mpimap_writer_close(w);
    expect_file(p, "old\n", 4);
    char *ls = dir_listing();
    ck_assert_str_eq(ls, "keep.txt ");
    free(ls);
    /* close without a commit aborts too, even with a large record */
    w = wopen_ok(p, MPIMAP_FRAME_LINE);
    unsigned char *big = pattern(3 * MiB, 0, 1);
    ck_assert_int_eq(mpimap_writer_put(w, big, 3 * MiB), 0);
    mpimap_writer_close(w);
    expect_file(p, "old\n", 4);
    ls = dir_listing();
    ck_assert_str_eq(ls, "keep.txt ");
    free(ls);
    free(big);
    free(p);
}
END_TEST

START_TEST(writer_symlink_target)
{
    char *real = write_file("real.txt", "old\n", 4);
    char *link = path_in("link.txt");
    ck_assert_int_eq(symlink("real.txt", link), 0);
    mpimap_writer *w = wopen_ok(link, MPIMAP_FRAME_LINE);
    ck_assert_int_eq(mpimap_writer_put(w, "new", 3), 0);
    ck_assert_int_eq(mpimap_writer_commit(w), 0);
    mpimap_writer_close(w);
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    expect_file(real, "new\n", 4);
    char *ls = dir_listing();
    ck_assert_str_eq(ls, "link.txt real.txt ");
    free(ls);
    free(real);
    free(link);
}
END_TEST

START_TEST(writer_dev_full)
{
    /* by name: a device is written in place, never renamed over */
    mpimap_writer *w = wopen_ok("/dev/full", MPIMAP_FRAME_LINE);
    ck_assert_int_eq(mpimap_writer_put(w, "x", 1), 0); /* buffered */
    ck_assert_int_eq(mpimap_writer_commit(w), MPIMAP_EIO);
    ck_assert_str_eq(mpimap_writer_error(w),
                     "/dev/full: write failed: No space left on device");
    ck_assert_int_eq(mpimap_writer_put(w, "y", 1), MPIMAP_EIO); /* sticks */
    mpimap_writer_close(w);
    struct stat st;
    ck_assert_int_eq(stat("/dev/full", &st), 0);
    ck_assert(S_ISCHR(st.st_mode));

    /* by descriptor, with a record larger than the buffer */
    int fd = open("/dev/full", O_WRONLY);
    ck_assert_int_ge(fd, 0);
    w = NULL;
    ck_assert_int_eq(mpimap_writer_open_fd(&w, fd, MPIMAP_FRAME_BINARY), 0);
    unsigned char *big = pattern(2 * MiB, 1, 0);
    ck_assert_int_eq(mpimap_writer_put(w, big, 2 * MiB), MPIMAP_EIO);
    char *msg = NULL;
    ck_assert_int_ge(asprintf(&msg, "<fd %d>: write failed: No space left on device", fd), 0);
    ck_assert_str_eq(mpimap_writer_error(w), msg);
    ck_assert_int_eq(mpimap_writer_flush(w), MPIMAP_EIO);
    mpimap_writer_close(w);
    ck_assert_int_eq(close(fd), 0); /* the writer left it open */
    free(msg);
    free(big);
}
END_TEST

START_TEST(writer_missing_dir)
{
    char *p = path_in("nope/out.txt");
    mpimap_writer *w = NULL;
    ck_assert_int_eq(mpimap_writer_open(&w, p, MPIMAP_FRAME_LINE), MPIMAP_ENOTFOUND);
    char *msg = NULL;
    ck_assert_int_ge(asprintf(&msg, "cannot create '%s': No such file or directory", p), 0);
    ck_assert_str_eq(mpimap_writer_error(w), msg);
    ck_assert_int_eq(mpimap_writer_put(w, "x", 1), MPIMAP_ENOTFOUND);
    ck_assert_int_eq(mpimap_writer_commit(w), MPIMAP_ENOTFOUND);
    mpimap_writer_close(w);
    w = NULL;
    ck_assert_int_eq(mpimap_writer_open(&w, p, -1), MPIMAP_EINVAL);
    mpimap_writer_close(w);
    mpimap_writer_close(NULL);
    free(msg);
    free(p);
}
END_TEST

START_TEST(writer_stdout)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fds[1], STDOUT_FILENO), 0);
    close(fds[1]);
    mpimap_writer *w = NULL;
    int rc = mpimap_writer_open(&w, _i ? "-" : NULL, MPIMAP_FRAME_LINE);
    int rc1 = mpimap_writer_put(w, "out", 3);
    int rc2 = mpimap_writer_put_indexed(w, 3, "x", 1);
    int rc3 = mpimap_writer_commit(w);
    mpimap_writer_close(w);
    int still_open = fcntl(STDOUT_FILENO, F_GETFD);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(rc1, 0);
    ck_assert_int_eq(rc2, 0);
    ck_assert_int_eq(rc3, 0);
    ck_assert_int_ge(still_open, 0);
    char buf[64];
    ssize_t n = read(fds[0], buf, sizeof buf);
    close(fds[0]);
    ck_assert_int_eq(n, 8);
    ck_assert(memcmp(buf, "out\n3\tx\n", 8) == 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("records");

    TCase *tc = tcase_create("reader");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, line_empty_input);
    tcase_add_test(tc, line_one_item);
    tcase_add_test(tc, line_unterminated_last);
    tcase_add_test(tc, line_empty_items);
    tcase_add_test(tc, nul_framing);
    tcase_add_test(tc, line_16mib_item);
    tcase_add_test(tc, nul_16mib_item);
    tcase_add_test(tc, line_many_items);
    tcase_add_test(tc, line_peek);
    tcase_add_test(tc, nul_peek);
    tcase_add_test(tc, peek_refused);
    tcase_add_test(tc, binary_basic);
    tcase_add_test(tc, binary_16mib_item);
    tcase_add_test(tc, binary_truncated_body);
    tcase_add_test(tc, binary_truncated_length);
    tcase_add_test(tc, binary_truncated_big_body);
    tcase_add_test(tc, missing_file);
    tcase_add_test(tc, rewind_file);
    tcase_add_loop_test(tc, stdin_pipe_lines, 0, 2);
    tcase_add_test(tc, stdin_pipe_binary);
    suite_add_tcase(s, tc);

    tc = tcase_create("writer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, writer_exact_bytes);
    tcase_add_test(tc, writer_indexed);
    tcase_add_test(tc, writer_roundtrip_line);
    tcase_add_test(tc, writer_roundtrip_nul);
    tcase_add_test(tc, writer_roundtrip_binary);
    tcase_add_test(tc, writer_commit_uses_temp);
    tcase_add_test(tc, writer_abort_leaves_target);
    tcase_add_test(tc, writer_symlink_target);
    tcase_add_test(tc, writer_dev_full);
    tcase_add_test(tc, writer_missing_dir);
    tcase_add_loop_test(tc, writer_stdout, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
