/* SPDX-License-Identifier: BSD-3-Clause */
/* test_jobspec.c - writing and reading the job spec (core/jobspec.c). */
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>

#include "jobspec.h"
#include "records.h"

Suite *test_suite(void);

static char *dir;

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
    dir = strdup("/tmp/mpimap-test-jobspec-XXXXXX");
    ck_assert_ptr_nonnull(dir);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
    dir = NULL;
}

static char *write_text(const char *name, const char *text)
{
    char *p = path_in(name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    ck_assert_int_eq(fclose(f), 0);
    return p;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&buf, &cap, '\0', f); /* the file holds no NUL */
    fclose(f);
    ck_assert_int_ge(n, 0);
    ck_assert_uint_eq(strlen(buf), (size_t)n);
    return buf;
}

static void assert_same_str(const char *field, const char *a, const char *b)
{
    if (!a || !b) {
        ck_assert_msg(a == b, "%s: one is NULL (%s vs %s)", field, a ? a : "NULL",
                      b ? b : "NULL");
        return;
    }
    ck_assert_msg(strcmp(a, b) == 0, "%s differs: '%s' vs '%s'", field, a, b);
}

static void assert_same(const struct mpimap_jobspec *a, const struct mpimap_jobspec *b)
{
    assert_same_str("input", a->input, b->input);
    assert_same_str("output", a->output, b->output);
    assert_same_str("joblog", a->joblog, b->joblog);
    assert_same_str("strategy", a->strategy, b->strategy);
    ck_assert_uint_eq(a->chunk, b->chunk);
    ck_assert_int_eq(a->framing, b->framing);
    ck_assert_int_eq(a->unordered, b->unordered);
    assert_same_str("function_path", a->function_path, b->function_path);
    assert_same_str("function_symbol", a->function_symbol, b->function_symbol);
    assert_same_str("function_init", a->function_init, b->function_init);
    ck_assert_uint_eq(a->command.n, b->command.n);
    for (size_t i = 0; i < a->command.n; i++)
        assert_same_str("arg", a->command.v[i], b->command.v[i]);
    if (b->command.n)
        ck_assert_ptr_null(b->command.v[b->command.n]);
    ck_assert_int_eq(a->shell, b->shell);
    assert_same_str("colsep", a->colsep, b->colsep);
    assert_same_str("workdir", a->workdir, b->workdir);
    ck_assert_int_eq(a->verbose, b->verbose);
    ck_assert_int_eq(a->retries, b->retries);
    ck_assert_int_eq(a->retry_failed, b->retry_failed);
    ck_assert_uint_eq(a->timeout_ms, b->timeout_ms);
    ck_assert_uint_eq(a->journal_ms, b->journal_ms);
    ck_assert_int_eq(a->no_journal, b->no_journal);
    ck_assert_int_eq(a->count, b->count);
    ck_assert_uint_eq(a->driver_pid, b->driver_pid);
    assert_same_str("driver_host", a->driver_host, b->driver_host);
}

static const char *const hostile[] = {
    "",
    " ",
    "  two spaces  ",
    "plain",
    "new\nline",
    "\n",
    "trailing newline\n",
    "back\\slash",
    "\\",
    "\\n is not a newline",
    "\\x41",
    "tab\there",
    "cr\rlf\r\n",
    "\x01\x02\x1f\x7f",
    "'single' \"double\" `back`",
    "$(rm -rf /) ${HOME} $HOME;|&<>*?[]",
    "héllo wörld ✓ 日本語 🎉",
    "\xff\xfe\x80 invalid utf-8",
    "# not a comment",
    "arg",
    "key value",
    "mpimap-jobspec 1",
    "x\\",
};
#define NHOSTILE (sizeof hostile / sizeof hostile[0])

static char *dup_str(const char *s)
{
    char *d = strdup(s);
    ck_assert_ptr_nonnull(d);
    return d;
}

START_TEST(roundtrip_hostile)
{
    struct mpimap_jobspec a = {0}, b = {0};
    /* each string field gets a different hostile string (per loop _i) */
    size_t k = (size_t)_i;
    a.input = dup_str(hostile[k % NHOSTILE]);
    a.output = dup_str(hostile[(k + 1) % NHOSTILE]);
    a.joblog = dup_str(hostile[(k + 2) % NHOSTILE]);
    a.strategy = dup_str(hostile[(k + 3) % NHOSTILE]);
    a.chunk = UINT64_MAX;
    a.framing = MPIMAP_FRAME_BINARY;
    a.unordered = 1;
    a.function_path = dup_str(hostile[(k + 4) % NHOSTILE]);
    a.function_symbol = dup_str(hostile[(k + 5) % NHOSTILE]);
    a.function_init = dup_str(hostile[(k + 6) % NHOSTILE]);
    for (size_t i = 0; i < NHOSTILE; i++)
        ck_assert_int_eq(mpimap_strv_push(&a.command, hostile[(k + i) % NHOSTILE]), 0);
    a.shell = 1;
    a.colsep = dup_str(hostile[(k + 7) % NHOSTILE]);
    a.workdir = dup_str(hostile[(k + 8) % NHOSTILE]);
    a.verbose = INT_MIN;
    a.retries = INT_MAX;
    a.retry_failed = 1;
    a.timeout_ms = UINT64_MAX;
    a.journal_ms = 1;
    a.no_journal = 1;
    a.count = 1;
    a.driver_pid = 4242;
    a.driver_host = dup_str(hostile[(k + 9) % NHOSTILE]);

    char *p = path_in("job.spec");
    ck_assert_int_eq(mpimap_jobspec_write(&a, p), 0);
    char *err = NULL;
    int rc = mpimap_jobspec_read(&b, p, &err);
    ck_assert_msg(rc == 0, "read: %d %s", rc, err ? err : "");
    ck_assert_ptr_null(err);
    assert_same(&a, &b);

    /* the file is text: one line per key, no raw control bytes */
    char *text = read_text(p);
    ck_assert(strncmp(text, "mpimap-jobspec 1\n", 17) == 0);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        ck_assert_msg(*c == '\n' || (*c >= 0x20 && *c != 0x7f), "raw byte 0x%02x", *c);
    free(text);

    /* writing what was read gives the same again */
    ck_assert_int_eq(mpimap_jobspec_write(&b, p), 0);
    struct mpimap_jobspec c = {0};
    ck_assert_int_eq(mpimap_jobspec_read(&c, p, NULL), 0);
    assert_same(&a, &c);

    mpimap_jobspec_free(&a);
    mpimap_jobspec_free(&b);
    mpimap_jobspec_free(&c);
    ck_assert_ptr_null(a.input);
    ck_assert_uint_eq(a.command.n, 0);
    free(p);
}
END_TEST

START_TEST(roundtrip_defaults)
{
    /* NULL strings stay NULL, an empty command stays empty, and an empty
     * string is not confused with NULL */
    struct mpimap_jobspec a = {0}, b = {0};
    char *p = path_in("job.spec");
    ck_assert_int_eq(mpimap_jobspec_write(&a, p), 0);
    char *text = read_text(p);
    ck_assert_str_eq(text, "mpimap-jobspec 1\nchunk 0\nframing line\nunordered 0\n"
                           "shell 0\nverbose 0\nretries 0\nretry_failed 0\n"
                           "timeout_ms 0\njournal_ms 0\nno_journal 0\ncount 0\n"
                           "driver_pid 0\n");
    free(text);
    ck_assert_int_eq(mpimap_jobspec_read(&b, p, NULL), 0);
    assert_same(&a, &b);
    mpimap_jobspec_free(&b);

    a.output = dup_str("");
    a.framing = MPIMAP_FRAME_NUL;
    a.verbose = 3;
    ck_assert_int_eq(mpimap_strv_push(&a.command, ""), 0);
    ck_assert_int_eq(mpimap_jobspec_write(&a, p), 0);
    text = read_text(p);
    ck_assert_str_eq(text, "mpimap-jobspec 1\noutput\nchunk 0\nframing nul\n"
                           "unordered 0\narg\nshell 0\nverbose 3\nretries 0\n"
                           "retry_failed 0\ntimeout_ms 0\njournal_ms 0\nno_journal 0\n"
                           "count 0\ndriver_pid 0\n");
    free(text);
    ck_assert_int_eq(mpimap_jobspec_read(&b, p, NULL), 0);
    assert_same(&a, &b);
    ck_assert_ptr_nonnull(b.output);
    ck_assert_ptr_null(b.input);
    mpimap_jobspec_free(&a);
    mpimap_jobspec_free(&b);
    free(p);
}
END_TEST

START_TEST(written_escapes)
{
    struct mpimap_jobspec a = {0};
    a.input = dup_str(" a\\b\nc\td\re\x01\x7f ");
    a.workdir = dup_str("mid space é");
    char *p = path_in("job.spec");
    ck_assert_int_eq(mpimap_jobspec_write(&a, p), 0);
    char *text = read_text(p);
    ck_assert_ptr_nonnull(strstr(text, "\ninput \\x20a\\\\b\\nc\\td\\re\\x01\\x7f\\x20\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nworkdir mid space é\n"));
    free(text);
    /* no temporary file is left behind */
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int files = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            ck_assert_str_eq(e->d_name, "job.spec");
            files++;
        }
    closedir(d);
    ck_assert_int_eq(files, 1);
    mpimap_jobspec_free(&a);
    free(p);
}
END_TEST

START_TEST(read_hand_written)
{
    /* comments, blank lines, upper-case hex, "key" alone = empty value */
    char *p = write_text("hand.spec",
                         "mpimap-jobspec 1\n"
                         "# written by hand\n"
                         "\n"
                         "input in put\\x2A\\x2a\n"
                         "output\n"
                         "chunk 0018\n"
                         "verbose -2\n"
                         "arg echo\n"
                         "arg \n"
                         "arg {}"); /* no final newline */
    struct mpimap_jobspec s = {0};
    char *err = NULL;
    ck_assert_int_eq(mpimap_jobspec_read(&s, p, &err), 0);
    ck_assert_str_eq(s.input, "in put**");
    ck_assert_str_eq(s.output, "");
    ck_assert_ptr_null(s.joblog);
    ck_assert_uint_eq(s.chunk, 18);
    ck_assert_int_eq(s.verbose, -2);
    ck_assert_int_eq(s.framing, MPIMAP_FRAME_LINE);
    ck_assert_uint_eq(s.command.n, 3);
    ck_assert_str_eq(s.command.v[0], "echo");
    ck_assert_str_eq(s.command.v[1], "");
    ck_assert_str_eq(s.command.v[2], "{}");
    mpimap_jobspec_free(&s);
    free(p);
}
END_TEST

/* Malformed files, and the message expected after "<path>: ". */
static const struct {
    const char *text;
    const char *msg;
} bad[] = {
    {"", "line 1: empty file: the first line must be 'mpimap-jobspec 1'"},
    {"input x\n", "line 1: not a job spec: the first line must be 'mpimap-jobspec 1'"},
    {"\nmpimap-jobspec 1\n", "line 1: not a job spec: the first line must be 'mpimap-jobspec 1'"},
    {"mpimap-jobspec 1 \n", "line 1: not a job spec: the first line must be 'mpimap-jobspec 1'"},
    {"mpimap-jobspec 2\ninput x\n", "line 1: unsupported version '2' (this is version 1)"},
    {"mpimap-jobspec 1\ninput a\noutput b\njoblog c\nstrategy pool\nchunk 4\nchunkk 5\n",
     "line 7: unknown key 'chunkk'"},
    {"mpimap-jobspec 1\n\n# c\nInput x\n", "line 4: unknown key 'Input'"},
    {"mpimap-jobspec 1\n input x\n", "line 2: unknown key ''"},
    {"mpimap-jobspec 1\ninput a\\qb\n", "line 2: bad escape '\\q'"},
    {"mpimap-jobspec 1\narg a\narg b\narg c\\\n", "line 4: bad escape: '\\' at the end of the line"},
    {"mpimap-jobspec 1\ninput \\xZZ\n", "line 2: bad escape '\\xZZ': two hex digits expected"},
    {"mpimap-jobspec 1\ninput \\x4\n", "line 2: bad escape '\\x4': two hex digits expected"},
    {"mpimap-jobspec 1\ninput a\\x00b\n", "line 2: bad escape '\\x00': NUL bytes are not allowed"},
    {"mpimap-jobspec 1\ninput a\\\xc3\xa9\n", "line 2: bad escape '\\' followed by byte 0xc3"},
    {"mpimap-jobspec 1\ninput windows\r\n", "line 2: raw control byte 0x0d (values must be escaped)"},
    {"mpimap-jobspec 1\ninput a\tb\n", "line 2: raw control byte 0x09 (values must be escaped)"},
    {"mpimap-jobspec 1\nchunk 12a\n", "line 2: bad number '12a' for 'chunk'"},
    {"mpimap-jobspec 1\nchunk -1\n", "line 2: bad number '-1' for 'chunk'"},
    {"mpimap-jobspec 1\nchunk\n", "line 2: bad number '' for 'chunk'"},
    {"mpimap-jobspec 1\nchunk 18446744073709551616\n",
     "line 2: bad number '18446744073709551616' for 'chunk'"},
    {"mpimap-jobspec 1\nverbose 2147483648\n", "line 2: bad number '2147483648' for 'verbose'"},
    {"mpimap-jobspec 1\nshell +1\n", "line 2: bad number '+1' for 'shell'"},
    {"mpimap-jobspec 1\nunordered  1\n", "line 2: bad number ' 1' for 'unordered'"},
    {"mpimap-jobspec 1\nframing lines\n", "line 2: bad framing 'lines' (line, nul or binary)"},
    {"mpimap-jobspec 1\ninput a\nworkdir /\ninput b\n", "line 4: duplicate key 'input'"},
    {"mpimap-jobspec 1\ninput a\nmpimap-jobspec 1\n", "line 3: version line repeated"},
};

START_TEST(malformed)
{
    char *p = write_text("bad.spec", bad[_i].text);
    struct mpimap_jobspec s = {0};
    char *err = NULL;
    ck_assert_int_eq(mpimap_jobspec_read(&s, p, &err), MPIMAP_EINVAL);
    ck_assert_ptr_nonnull(err);
    char *want = NULL;
    ck_assert_int_ge(asprintf(&want, "%s: %s", p, bad[_i].msg), 0);
    ck_assert_str_eq(err, want);
    /* nothing half-read is left behind */
    ck_assert_ptr_null(s.input);
    ck_assert_ptr_null(s.command.v);
    ck_assert_uint_eq(s.command.n, 0);
    ck_assert_uint_eq(s.chunk, 0);
    /* a NULL error pointer is fine */
    ck_assert_int_eq(mpimap_jobspec_read(&s, p, NULL), MPIMAP_EINVAL);
    free(want);
    free(err);
    free(p);
}
END_TEST

START_TEST(raw_nul_byte)
{
    char *p = path_in("nul.spec");
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite("mpimap-jobspec 1\ninput a\0b\n", 1, 27, f), 27);
    fclose(f);
    struct mpimap_jobspec s = {0};
    char *err = NULL;
    ck_assert_int_eq(mpimap_jobspec_read(&s, p, &err), MPIMAP_EINVAL);
    char *want = NULL;
    ck_assert_int_ge(asprintf(&want, "%s: line 2: raw control byte 0x00 "
                                     "(values must be escaped)", p), 0);
    ck_assert_str_eq(err, want);
    free(want);
    free(err);
    free(p);
}
END_TEST

START_TEST(missing_and_unwritable)
{
    char *p = path_in("absent.spec");
    struct mpimap_jobspec s = {0};
    char *err = NULL;
    ck_assert_int_eq(mpimap_jobspec_read(&s, p, &err), MPIMAP_ENOTFOUND);
    char *want = NULL;
    ck_assert_int_ge(asprintf(&want, "cannot open '%s': No such file or directory", p), 0);
    ck_assert_str_eq(err, want);
    free(want);
    free(err);
    free(p);

    /* a directory that does not exist; a bad framing writes nothing */
    p = path_in("nodir/job.spec");
    ck_assert_int_eq(mpimap_jobspec_write(&s, p), MPIMAP_ENOTFOUND);
    free(p);
    p = path_in("job.spec");
    s.framing = 3;
    ck_assert_int_eq(mpimap_jobspec_write(&s, p), MPIMAP_EINVAL);
    s.framing = -1;
    ck_assert_int_eq(mpimap_jobspec_write(&s, p), MPIMAP_EINVAL);
    ck_assert_int_eq(access(p, F_OK), -1);
    free(p);
    mpimap_jobspec_free(NULL);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("jobspec");
    TCase *tc = tcase_create("jobspec");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, roundtrip_hostile, 0, (int)NHOSTILE);
    tcase_add_test(tc, roundtrip_defaults);
    tcase_add_test(tc, written_escapes);
    tcase_add_test(tc, read_hand_written);
    tcase_add_loop_test(tc, malformed, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, raw_nul_byte);
    tcase_add_test(tc, missing_and_unwritable);
    suite_add_tcase(s, tc);
    return s;
}
