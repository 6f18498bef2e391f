/* SPDX-License-Identifier: BSD-3-Clause */
/* test_handler_cmd.c - the command item handler (core/handler_cmd.c). */
#include <errno.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include <mpimap/mpimap.h>
#include <mpimap/strategy.h>

#include "handler_cmd.h"

/* Run argv (shell/colsep/strip as given) on one item; returns the rc and
 * leaves stdout in *out (NUL-terminated for convenience) and the reason. */
static int run_full(const char *const *argv, int shell, const char *colsep,
                    int strip, const void *item, size_t len, mpimap_buf *out,
                    char **reason)
{
    mpimap_cmd *c = NULL;
    char *err = NULL;
    int rc = mpimap_cmd_new(&c, argv, shell, colsep, strip, &err);
    ck_assert_msg(rc == 0, "mpimap_cmd_new: %d %s", rc, err ? err : "");
    rc = mpimap_cmd_run(c, item, len, out, reason);
    mpimap_cmd_free(c);
    ck_assert_int_eq(mpimap_buf_reserve(out, out->len + 1), 0);
    out->data[out->len] = '\0';
    return rc;
}

/* Expect success and exactly `want` on stdout. */
static void expect_out(const char *const *argv, int shell, const char *colsep,
                       int strip, const char *item, const char *want)
{
    mpimap_buf out = {0};
    char *reason = NULL;
    int rc = run_full(argv, shell, colsep, strip, item, strlen(item), &out,
                      &reason);
    ck_assert_msg(rc == 0, "rc %d reason %s", rc, reason ? reason : "(none)");
    ck_assert_ptr_null(reason);
    ck_assert_msg(out.len == strlen(want), "got %zu bytes, want %zu: '%.*s'", out.len,
                  strlen(want), (int)(out.len > 300 ? 300 : out.len),
                  out.data ? (const char *)out.data : "");
    ck_assert_mem_eq(out.data, want, out.len);
    mpimap_buf_free(&out);
}

/* Expect an item failure; returns the reason (caller frees). */
static char *expect_fail(const char *const *argv, int shell,
                         const char *colsep, const void *item, size_t len)
{
    mpimap_buf out = {0};
    char *reason = NULL;
    int rc = run_full(argv, shell, colsep, 1, item, len, &out, &reason);
    ck_assert_int_eq(rc, 1);
    ck_assert_ptr_nonnull(reason);
    mpimap_buf_free(&out);
    return reason;
}

START_TEST(echo_exact)
{
    const char *argv[] = {"echo", "{}", NULL};
    expect_out(argv, 0, NULL, 1, "hello world", "hello world");
    expect_out(argv, 0, NULL, 0, "hello world", "hello world\n");
    expect_out(argv, 0, NULL, 1, "  spaces * and $HOME ", "  spaces * and $HOME ");
}
END_TEST

START_TEST(placeholder_in_argument)
{
    const char *argv[] = {"printf", "%s|", "--in={}", "{}{}x{}", "{}.out", NULL};
    expect_out(argv, 0, NULL, 1, "foo", "--in=foo|foofooxfoo|foo.out|");
    /* the command name itself may be a placeholder */
    const char *argv2[] = {"{}", "a", NULL};
    expect_out(argv2, 0, NULL, 1, "echo", "a");
}
END_TEST

START_TEST(no_placeholder_appends)
{
    const char *argv[] = {"printf", "%s|", "a", NULL};
    expect_out(argv, 0, NULL, 1, "it em", "a|it em|");
    const char *argv2[] = {"echo", NULL};
    expect_out(argv2, 0, NULL, 1, "x y", "x y");
}
END_TEST

START_TEST(literal_braces)
{
    const char *argv[] = {"printf", "%s|", "{0}", "{x", "{01}", "{}}", "{",
                          "{{}", "{1x}", "{99999999999999999999999}", NULL};
    expect_out(argv, 0, NULL, 1, "i",
               "{0}|{x|{01}|i}|{|{i|{1x}|{99999999999999999999999}|");
    /* only literal braces: the item is appended */
    const char *argv2[] = {"printf", "%s|", "{0}", NULL};
    expect_out(argv2, 0, NULL, 1, "i", "{0}|i|");
}
END_TEST

START_TEST(colsep_fields)
{
    const char *argv[] = {"printf", "%s|", "{2}", "{1}", "{}", "<{1}:{2}>", NULL};
    expect_out(argv, 0, ",", 1, "a,b", "b|a|a,b|<a:b>|");
    expect_out(argv, 0, ",", 1, "a,,c", "|a|a,,c|<a:>|");
    expect_out(argv, 0, ",", 1, ",", "||,|<:>|");
    const char *argv3[] = {"printf", "%s|", "{3}", "{1}", NULL};
    expect_out(argv3, 0, "::", 1, "x::y::z", "z|x|");
    expect_out(argv3, 0, "::", 1, "x:::y::z", "z|x|");
    /* a separator that is a regex metacharacter is literal */
    expect_out(argv3, 0, ".", 1, "a.b.c", "c|a|");

    char *r = expect_fail(argv3, 0, "::", "x::y", 4);
    ck_assert_str_eq(r, "item has 2 fields; {3} asked for");
    free(r);
    r = expect_fail(argv3, 0, ",", "", 0);
    ck_assert_str_eq(r, "item has 1 field; {3} asked for");
    free(r);

    /* without a colsep {1} is the whole item */
    const char *argv4[] = {"printf", "%s|", "{1}", "{}", NULL};
    expect_out(argv4, 0, NULL, 1, "a,b", "a,b|a,b|");
}
END_TEST

START_TEST(new_errors)
{
    mpimap_cmd *c = (mpimap_cmd *)1;
    char *err = NULL;
    const char *none[] = {NULL};
    ck_assert_int_eq(mpimap_cmd_new(&c, none, 0, NULL, 1, &err), MPIMAP_EINVAL);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(err, "no command given");
    free(err);

    const char *two[] = {"echo", "x", NULL};
    ck_assert_int_eq(mpimap_cmd_new(&c, two, 1, NULL, 1, &err), MPIMAP_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "--shell"));
    free(err);

    ck_assert_int_eq(mpimap_cmd_new(&c, two, 0, "", 1, &err), MPIMAP_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "--colsep"));
    free(err);

    const char *f2[] = {"echo", "{2}", NULL};
    ck_assert_int_eq(mpimap_cmd_new(&c, f2, 0, NULL, 1, &err), MPIMAP_EINVAL);
    ck_assert_str_eq(err, "{2} needs --colsep (without it an item is a single field)");
    free(err);
    /* error may be NULL */
    ck_assert_int_eq(mpimap_cmd_new(&c, f2, 0, NULL, 1, NULL), MPIMAP_EINVAL);

    ck_assert_int_eq(mpimap_cmd_new(&c, f2, 0, ",", 1, &err), 0);
    ck_assert_ptr_null(err);
    mpimap_cmd_free(c);
    mpimap_cmd_free(NULL);
}
END_TEST

START_TEST(shell_hostile_items)
{
    char dir[] = "/tmp/mpimap-cmd-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char canary[64];
    snprintf(canary, sizeof canary, "%s/CANARY", dir);
    char *items[8];
    int n = 0;
    ck_assert_int_ge(asprintf(&items[n++], "$(touch %s)", canary), 0);
    ck_assert_int_ge(asprintf(&items[n++], "`touch %s`", canary), 0);
    ck_assert_int_ge(asprintf(&items[n++], "'; touch %s; '", canary), 0);
    ck_assert_int_ge(asprintf(&items[n++], "\"; touch %s; \"", canary), 0);
    ck_assert_int_ge(asprintf(&items[n++], "'; rm -rf x"), 0);
    ck_assert_int_ge(asprintf(&items[n++], "a\nb\n$(touch %s)\n; touch %s\n",
                              canary, canary), 0);
    ck_assert_int_ge(asprintf(&items[n++], "-n"), 0);
    ck_assert_int_ge(asprintf(&items[n++], "%%s %%d \\n {} {1}"), 0);

    const char *script[] = {"printf %s \"$1\"", NULL};
    const char *plain[] = {"printf", "%s", "{}", NULL};
    for (int i = 0; i < n; i++) {
        expect_out(script, 1, NULL, 0, items[i], items[i]);
        expect_out(plain, 0, NULL, 0, items[i], items[i]);
        free(items[i]);
    }
    struct stat st;
    ck_assert_int_ne(stat(canary, &st), 0);
    ck_assert_int_eq(rmdir(dir), 0);

    /* the script is never scanned for placeholders */
    const char *braces[] = {"printf '{} {1}|%s' \"$1\"", NULL};
    expect_out(braces, 1, NULL, 1, "x", "{} {1}|x");

    /* with a colsep the fields are $1..$n */
    const char *fields[] = {"printf '%s|' \"$@\"; printf '%s' \"$#\"", NULL};
    expect_out(fields, 1, ",", 1, "a,$(x),c", "a|$(x)|c|3");
    expect_out(fields, 1, ",", 1, "", "|1");
    expect_out(fields, 1, NULL, 1, "a,b", "a,b|1");
}
END_TEST

START_TEST(exit_status_reason)
{
    const char *argv[] = {"sh", "-c",
                          "echo out; echo line1 >&2; echo >&2; echo line2 >&2; exit 3",
                          NULL};
    mpimap_buf out = {0};
    char *reason = NULL;
    ck_assert_int_eq(run_full(argv, 0, NULL, 1, "x", 1, &out, &reason), 1);
    ck_assert_str_eq(reason, "exit status 3: line1 | line2");
    ck_assert_str_eq((char *)out.data, "out"); /* stdout is kept */
    free(reason);
    mpimap_buf_free(&out);

    const char *f[] = {"false", NULL};
    char *r = expect_fail(f, 0, NULL, "x", 1);
    ck_assert_str_eq(r, "exit status 1");
    free(r);

    /* a long stderr: only its tail, on one line */
    const char *lots[] = {"i=0; while [ $i -lt 400 ]; do echo \"err line $i\" >&2; "
                          "i=$((i+1)); done; exit 42",
                          NULL};
    r = expect_fail(lots, 1, NULL, "x", 1);
    ck_assert_msg(strncmp(r, "exit status 42: ...", 19) == 0, "%s", r);
    ck_assert_ptr_nonnull(strstr(r, "err line 398 | err line 399"));
    ck_assert_ptr_null(strchr(r, '\n'));
    ck_assert_uint_le(strlen(r), 20 + 500 + 3 * 60);
    size_t tl = strlen(r);
    ck_assert_str_eq(r + tl - 12, "err line 399");
    free(r);
}
END_TEST

START_TEST(killed_by_signal)
{
    const char *argv[] = {"sh", "-c", "echo dying >&2; kill -9 $$", NULL};
    char *r = expect_fail(argv, 0, NULL, "x", 1);
    ck_assert_str_eq(r, "killed by signal 9 (Killed): dying");
    free(r);
    const char *script[] = {"kill -TERM $$", NULL};
    r = expect_fail(script, 1, NULL, "x", 1);
    ck_assert_str_eq(r, "killed by signal 15 (Terminated)");
    free(r);
}
END_TEST

START_TEST(missing_program)
{
    const char *argv[] = {"nosuchcmd-mpimap-test", "{}", NULL};
    char *r = expect_fail(argv, 0, NULL, "x", 1);
    ck_assert_str_eq(r, "cannot run 'nosuchcmd-mpimap-test': No such file or directory");
    free(r);
    const char *abs[] = {"/nonexistent/prog", NULL};
    r = expect_fail(abs, 0, NULL, "x", 1);
    ck_assert_str_eq(r, "cannot run '/nonexistent/prog': No such file or directory");
    free(r);
    const char *noexec[] = {"/etc/passwd", NULL};
    r = expect_fail(noexec, 0, NULL, "x", 1);
    ck_assert_str_eq(r, "cannot run '/etc/passwd': Permission denied");
    free(r);
}
END_TEST

START_TEST(big_outputs)
{
    /* 1 MiB of stderr before 20 MiB of stdout, then the other order: a
     * reader that drains one pipe at a time would deadlock on either. */
    const char *s1[] = {"head -c 1048576 /dev/zero | tr '\\0' e >&2; "
                        "head -c 20971520 /dev/zero | tr '\\0' o",
                        NULL};
    const char *s2[] = {"head -c 20971520 /dev/zero | tr '\\0' o; "
                        "head -c 1048576 /dev/zero | tr '\\0' e >&2; exit 5",
                        NULL};
    for (int k = 0; k < 2; k++) {
        mpimap_buf out = {0};
        char *reason = NULL;
        int rc = run_full(k ? s2 : s1, 1, NULL, 1, "x", 1, &out, &reason);
        ck_assert_int_eq(rc, k ? 1 : 0);
        ck_assert_uint_eq(out.len, 20971520u);
        for (size_t i = 0; i < out.len; i += 4093)
            ck_assert_int_eq(out.data[i], 'o');
        ck_assert_int_eq(out.data[out.len - 1], 'o');
        if (k) {
            ck_assert_msg(strncmp(reason, "exit status 5: ...eeee", 22) == 0,
                          "%.40s", reason);
            ck_assert_uint_le(strlen(reason), 20 + 503);
        }
        free(reason);
        mpimap_buf_free(&out);
    }
}
END_TEST

START_TEST(strip_newline)
{
    const char *two[] = {"printf", "a\\n\\n", NULL};
    expect_out(two, 0, NULL, 1, "", "a\n");
    expect_out(two, 0, NULL, 0, "", "a\n\n");
    const char *none[] = {"printf", "a", NULL};
    expect_out(none, 0, NULL, 1, "", "a");
    const char *cr[] = {"printf", "a\\r\\n", NULL};
    expect_out(cr, 0, NULL, 1, "", "a\r");

    /* output is appended; a newline already in the buffer is not ours */
    mpimap_buf out = {0};
    ck_assert_int_eq(mpimap_buf_reserve(&out, 16), 0);
    memcpy(out.data, "pre\n", 4);
    out.len = 4;
    char *reason = NULL;
    const char *t[] = {"true", NULL};
    ck_assert_int_eq(run_full(t, 0, NULL, 1, "x", 1, &out, &reason), 0);
    ck_assert_str_eq((char *)out.data, "pre\n");
    const char *e[] = {"echo", NULL};
    ck_assert_int_eq(run_full(e, 0, NULL, 1, "x", 1, &out, &reason), 0);
    ck_assert_str_eq((char *)out.data, "pre\nx");
    mpimap_buf_free(&out);
}
END_TEST

START_TEST(nul_byte_item)
{
    static const char msg[] =
        "item contains a NUL byte and cannot be passed as an argument";
    const char *argv[] = {"echo", "{}", NULL};
    char *r = expect_fail(argv, 0, NULL, "a\0b", 3);
    ck_assert_str_eq(r, msg);
    free(r);
    const char *app[] = {"echo", NULL};
    r = expect_fail(app, 0, NULL, "a\0b", 3);
    ck_assert_str_eq(r, msg);
    free(r);
    const char *sh[] = {"printf %s \"$1\"", NULL};
    r = expect_fail(sh, 1, NULL, "\0", 1);
    ck_assert_str_eq(r, msg);
    free(r);
    /* only the pieces used count */
    const char *f1[] = {"echo", "{1}", NULL};
    mpimap_buf out = {0};
    char *reason = NULL;
    ck_assert_int_eq(run_full(f1, 0, ",", 1, "a,b\0c", 5, &out, &reason), 0);
    ck_assert_str_eq((char *)out.data, "a");
    mpimap_buf_free(&out);
}
END_TEST

START_TEST(empty_item)
{
    const char *argv[] = {"echo", "{}", NULL};
    expect_out(argv, 0, NULL, 1, "", "");
    const char *pf[] = {"printf", "[%s]", NULL};
    expect_out(pf, 0, NULL, 1, "", "[]");
    const char *pf2[] = {"printf", "%s|", "{}", "<{}>", NULL};
    expect_out(pf2, 0, NULL, 1, "", "|<>|");
    /* NULL data with length 0 */
    mpimap_buf out = {0};
    char *reason = NULL;
    ck_assert_int_eq(run_full(pf, 0, NULL, 1, NULL, 0, &out, &reason), 0);
    ck_assert_str_eq((char *)out.data, "[]");
    mpimap_buf_free(&out);
}
END_TEST

START_TEST(child_environment)
{
    /* stdin is /dev/null */
    const char *in[] = {"cat; echo done", NULL};
    expect_out(in, 1, NULL, 1, "x", "done");
    /* its own process group */
    const char *pg[] = {"set -- $(cat /proc/$$/stat); test \"$5\" = \"$1\"", NULL};
    expect_out(pg, 1, NULL, 1, "x", "");
    /* SIGPIPE default and nothing blocked, even when the parent differs */
    sigset_t blk, old;
    sigemptyset(&blk);
    sigaddset(&blk, SIGUSR1);
    ck_assert_int_eq(sigprocmask(SIG_BLOCK, &blk, &old), 0);
    void (*prev)(int) = signal(SIGPIPE, SIG_IGN);
    mpimap_buf out = {0};
    char *reason = NULL;
    const char *st2[] = {"grep -E '^Sig(Blk|Ign)' /proc/self/status", NULL};
    ck_assert_int_eq(run_full(st2, 1, NULL, 1, "", 0, &out, &reason), 0);
    signal(SIGPIPE, prev);
    sigprocmask(SIG_SETMASK, &old, NULL);
    unsigned long long blkmask = 1, ign = 1;
    const char *b = strstr((char *)out.data, "SigBlk:");
    const char *g = strstr((char *)out.data, "SigIgn:");
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(g);
    blkmask = strtoull(b + 7, NULL, 16);
    ign = strtoull(g + 7, NULL, 16);
    ck_assert_uint_eq(blkmask, 0);
    ck_assert_uint_eq(ign & (1ull << (SIGPIPE - 1)), 0);
    mpimap_buf_free(&out);
}
END_TEST

START_TEST(reuse_many_items)
{
    /* one handler, many items of varied shapes: scratch reuse */
    const char *argv[] = {"printf", "%s|%s", "{2}", "{}", NULL};
    mpimap_cmd *c = NULL;
    ck_assert_int_eq(mpimap_cmd_new(&c, argv, 0, " ", 1, NULL), 0);
    mpimap_buf out = {0};
    for (int i = 0; i < 50; i++) {
        char item[128], want[256];
        int n = snprintf(item, sizeof item, "k%.*s v%d", i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i);
        int w = snprintf(want, sizeof want, "v%d|%s", i, item);
        char *reason = NULL;
        out.len = 0;
        int rc = mpimap_cmd_run(c, item, (size_t)n, &out, &reason);
        if (rc != 0)
            ck_abort_msg("item %d: %d %s", i, rc, reason ? reason : "");
        ck_assert_uint_eq(out.len, (size_t)w);
        ck_assert_mem_eq(out.data, want, (size_t)w);
    }
    char *reason = NULL;
    out.len = 0;
    ck_assert_int_eq(mpimap_cmd_run(c, "nofield", 7, &out, &reason), 1);
    ck_assert_str_eq(reason, "item has 1 field; {2} asked for");
    free(reason);
    out.len = 0;
    ck_assert_int_eq(mpimap_cmd_run(c, "a b", 3, &out, &reason), 0);
    ck_assert_mem_eq(out.data, "b|a b", 5);
    ck_assert_uint_eq(out.len, 5);
    mpimap_buf_free(&out);
    mpimap_cmd_free(c);
}
END_TEST

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

START_TEST(per_item_cost)
{
    const char *env = getenv("MPIMAP_TEST_SPAWN_RUNS");
    int runs = env ? atoi(env) : 2000;
    const char *argv[] = {"/bin/true", NULL};
    mpimap_cmd *c = NULL;
    ck_assert_int_eq(mpimap_cmd_new(&c, argv, 0, NULL, 1, NULL), 0);
    mpimap_buf out = {0};
    double t0 = now();
    for (int i = 0; i < runs; i++) {
        char *reason = NULL;
        int rc = mpimap_cmd_run(c, "item", 4, &out, &reason);
        if (rc)
            ck_abort_msg("run %d: %d %s", i, rc, reason ? reason : "");
    }
    double dt = now() - t0;
    ck_assert_uint_eq(out.len, 0);
    if (runs > 0)
        fprintf(stderr, "# /bin/true: %d runs in %.3f s, %.1f us per item\n",
                runs, dt, dt / runs * 1e6);
    mpimap_buf_free(&out);
    mpimap_cmd_free(c);
}
END_TEST

/* ---- per-item timeout ------------------------------------------------------ */

/* Run one item on c, timing it; *out is reset to "pre" first so that the
 * test can see that nothing was appended. */
static int run_timed(mpimap_cmd *c, const char *item, mpimap_buf *out,
                     char **reason, double *secs)
{
    ck_assert_int_eq(mpimap_buf_reserve(out, 16), 0);
    memcpy(out->data, "pre", 3);
    out->len = 3;
    *reason = NULL;
    double t0 = now();
    int rc = mpimap_cmd_run(c, item, strlen(item), out, reason);
    *secs = now() - t0;
    ck_assert_int_eq(mpimap_buf_reserve(out, out->len + 1), 0);
    out->data[out->len] = '\0';
    return rc;
}

/* The pid written in path (by the command), or abort. */
static pid_t read_pid(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s was not written", path);
    long pid = 0;
    int n = fscanf(f, "%ld", &pid);
    fclose(f);
    ck_assert_msg(n == 1 && pid > 1, "no pid in %s", path);
    return (pid_t)pid;
}

/* Is pid dead (gone, or a zombie waiting for its new parent to reap it)?
 * Waits up to 10 s for it to become so. */
static int pid_dead(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    for (int i = 0; i < 1000; i++) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return 1;
        FILE *f = fopen(path, "r");
        if (f) {
            char buf[512];
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = '\0';
            const char *p = strrchr(buf, ')');
            if (p && (p[2] == 'Z' || p[2] == 'X'))
                return 1;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static mpimap_cmd *new_cmd(const char *const *argv, int shell, double timeout)
{
    mpimap_cmd *c = NULL;
    char *err = NULL;
    int rc = mpimap_cmd_new(&c, argv, shell, NULL, 1, &err);
    ck_assert_msg(rc == 0, "mpimap_cmd_new: %d %s", rc, err ? err : "");
    mpimap_cmd_set_timeout(c, timeout);
    return c;
}

/* A command sleeping past a 0.3 s timeout fails with exactly that reason,
 * soon, and what it wrote is dropped: a plain sleep, a shell that wrote
 * output first, and one whose background child holds the stdout pipe. */
START_TEST(timeout_fails_item)
{
    const char *sleep_argv[] = {"sleep", "{}", NULL};
    const char *wrote[] = {"echo partial; echo oops >&2; sleep 100", NULL};
    const char *holder[] = {"sh", "-c", "sleep 100 & sleep 100", NULL};
    for (int k = 0; k < 3; k++) {
        mpimap_cmd *c = k == 0 ? new_cmd(sleep_argv, 0, 0.3)
                      : k == 1 ? new_cmd(wrote, 1, 0.3)
                               : new_cmd(holder, 0, 0.3);
        mpimap_buf out = {0};
        char *reason = NULL;
        double secs;
        int rc = run_timed(c, "100", &out, &reason, &secs);
        ck_assert_msg(rc == 1, "case %d: rc %d (%s)", k, rc, reason ? reason : "");
        ck_assert_str_eq(reason, "timed out after 0.3 s");
        ck_assert_str_eq((char *)out.data, "pre");
        /* ~0.3 s; the bound only has to tell it from the 100 s sleep */
        ck_assert_msg(secs >= 0.29 && secs < 10, "case %d took %.3f s", k, secs);
        free(reason);
        mpimap_buf_free(&out);
        mpimap_cmd_free(c);
    }
}
END_TEST

/* The whole process group is killed: a background grandchild is dead
 * afterwards, also one that ignores SIGTERM (SIGKILL after the grace). */
START_TEST(timeout_kills_group)
{
    char dir[] = "/tmp/mpimap-cmd-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char pidfile[64];
    snprintf(pidfile, sizeof pidfile, "%s/bg", dir);
    const char *plain[] = {"sleep 100 & echo $! > \"$1\"; sleep 100", NULL};
    const char *noterm[] = {"trap '' TERM; sleep 100 & echo $! > \"$1\"; sleep 100",
                            NULL};
    for (int k = 0; k < 2; k++) {
        /* 2 s: time enough for the shell to write the pid file */
        mpimap_cmd *c = new_cmd(k ? noterm : plain, 1, 2);
        mpimap_buf out = {0};
        char *reason = NULL;
        double secs;
        unlink(pidfile);
        int rc = run_timed(c, pidfile, &out, &reason, &secs);
        ck_assert_msg(rc == 1, "case %d: rc %d (%s)", k, rc, reason ? reason : "");
        ck_assert_str_eq(reason, "timed out after 2 s");
        ck_assert_msg(secs >= 1.99 && secs < 20, "case %d took %.3f s", k, secs);
        pid_t bg = read_pid(pidfile);
        ck_assert_msg(pid_dead(bg), "case %d: background pid %ld survived", k,
                      (long)bg);
        free(reason);
        mpimap_buf_free(&out);
        mpimap_cmd_free(c);
    }
    unlink(pidfile);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* A command that closed its output but runs on is still running; one
 * whose output is held by a process outside its group (which no kill of
 * the group reaches) does not keep the handler past the timeout. */
START_TEST(timeout_output_closed_or_escaped)
{
    const char *closed[] = {"exec >&- 2>&-; sleep 100", NULL};
    mpimap_cmd *c = new_cmd(closed, 1, 0.3);
    mpimap_buf out = {0};
    char *reason = NULL;
    double secs;
    ck_assert_int_eq(run_timed(c, "x", &out, &reason, &secs), 1);
    ck_assert_str_eq(reason, "timed out after 0.3 s");
    ck_assert_msg(secs >= 0.29 && secs < 10, "took %.3f s", secs);
    free(reason);
    mpimap_cmd_free(c);

    char dir[] = "/tmp/mpimap-cmd-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char pidfile[64];
    snprintf(pidfile, sizeof pidfile, "%s/esc", dir);
    /* the escaped process writes its own pid, then becomes sleep */
    const char *escaped[] = {
        "setsid sh -c 'echo $$ > \"$1\"; exec sleep 100' sh \"$1\" & sleep 100",
        NULL};
    c = new_cmd(escaped, 1, 2);
    int rc = run_timed(c, pidfile, &out, &reason, &secs);
    pid_t esc = read_pid(pidfile);
    kill(esc, SIGKILL); /* ours to clean up */
    ck_assert_msg(rc == 1, "rc %d (%s)", rc, reason ? reason : "");
    ck_assert_str_eq(reason, "timed out after 2 s");
    ck_assert_msg(secs >= 1.99 && secs < 20, "took %.3f s", secs);
    free(reason);
    mpimap_buf_free(&out);
    mpimap_cmd_free(c);
    unlink(pidfile);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* Under the timeout nothing changes: output, exit status and stderr tail,
 * signals. */
START_TEST(timeout_not_reached)
{
    const char *echo[] = {"echo", "{}", NULL};
    mpimap_cmd *c = new_cmd(echo, 0, 30);
    mpimap_buf out = {0};
    char *reason = NULL;
    double secs;
    ck_assert_int_eq(run_timed(c, "hello", &out, &reason, &secs), 0);
    ck_assert_ptr_null(reason);
    ck_assert_str_eq((char *)out.data, "prehello");
    mpimap_cmd_free(c);

    /* 0.2 s of work under a 20 s limit, output written in two steps */
    const char *slow[] = {"printf a; sleep 0.2; printf b", NULL};
    c = new_cmd(slow, 1, 20);
    ck_assert_int_eq(run_timed(c, "x", &out, &reason, &secs), 0);
    ck_assert_str_eq((char *)out.data, "preab");
    mpimap_cmd_free(c);

    const char *bad[] = {"echo out; echo why >&2; exit 3", NULL};
    c = new_cmd(bad, 1, 30);
    ck_assert_int_eq(run_timed(c, "x", &out, &reason, &secs), 1);
    ck_assert_str_eq(reason, "exit status 3: why");
    ck_assert_str_eq((char *)out.data, "preout");
    free(reason);
    mpimap_cmd_free(c);

    const char *sig[] = {"kill -TERM $$", NULL};
    c = new_cmd(sig, 1, 30);
    ck_assert_int_eq(run_timed(c, "x", &out, &reason, &secs), 1);
    ck_assert_str_eq(reason, "killed by signal 15 (Terminated)");
    free(reason);
    mpimap_cmd_free(c);
    mpimap_buf_free(&out);
}
END_TEST

/* After a timeout the same handler runs the next items normally. */
START_TEST(timeout_then_next_item)
{
    const char *argv[] = {"sh", "-c",
                          "if [ \"$1\" = slow ]; then echo early; sleep 100; fi; "
                          "echo \"item $1\"",
                          "sh", "{}", NULL};
    mpimap_cmd *c = new_cmd(argv, 0, 0.5);
    mpimap_buf out = {0};
    for (int round = 0; round < 2; round++) {
        char *reason = NULL;
        double secs;
        ck_assert_int_eq(run_timed(c, "slow", &out, &reason, &secs), 1);
        ck_assert_str_eq(reason, "timed out after 0.5 s");
        ck_assert_str_eq((char *)out.data, "pre");
        free(reason);
        for (int i = 0; i < 3; i++) {
            ck_assert_int_eq(run_timed(c, "fast", &out, &reason, &secs), 0);
            ck_assert_ptr_null(reason);
            ck_assert_str_eq((char *)out.data, "preitem fast");
        }
    }
    mpimap_buf_free(&out);
    mpimap_cmd_free(c);
}
END_TEST

/* 0 (the default) is no timeout, as are negative and NaN values; a
 * timeout set and then set to 0 is gone. */
START_TEST(timeout_zero_is_none)
{
    const char *argv[] = {"sleep 0.6; echo slept", NULL};
    double none[] = {0.0, -1.0, NAN, INFINITY};
    for (int k = 0; k < 4; k++) {
        mpimap_cmd *c = new_cmd(argv, 1, 0.2);
        mpimap_cmd_set_timeout(c, none[k]);
        mpimap_buf out = {0};
        char *reason = NULL;
        double secs;
        int rc = run_timed(c, "x", &out, &reason, &secs);
        ck_assert_msg(rc == 0, "case %d: rc %d (%s)", k, rc, reason ? reason : "");
        ck_assert_str_eq((char *)out.data, "preslept");
        ck_assert_msg(secs >= 0.59, "case %d took %.3f s", k, secs);
        mpimap_buf_free(&out);
        mpimap_cmd_free(c);
    }
    mpimap_cmd_set_timeout(NULL, 1); /* harmless */
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("handler_cmd");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, echo_exact);
    tcase_add_test(tc, placeholder_in_argument);
    tcase_add_test(tc, no_placeholder_appends);
    tcase_add_test(tc, literal_braces);
    tcase_add_test(tc, colsep_fields);
    tcase_add_test(tc, new_errors);
    tcase_add_test(tc, shell_hostile_items);
    tcase_add_test(tc, exit_status_reason);
    tcase_add_test(tc, killed_by_signal);
    tcase_add_test(tc, missing_program);
    tcase_add_test(tc, big_outputs);
    tcase_add_test(tc, strip_newline);
    tcase_add_test(tc, nul_byte_item);
    tcase_add_test(tc, empty_item);
    tcase_add_test(tc, child_environment);
    tcase_add_test(tc, reuse_many_items);
    tcase_add_test(tc, per_item_cost);
    tcase_add_test(tc, timeout_fails_item);
    tcase_add_test(tc, timeout_kills_group);
    tcase_add_test(tc, timeout_output_closed_or_escaped);
    tcase_add_test(tc, timeout_not_reached);
    tcase_add_test(tc, timeout_then_next_item);
    tcase_add_test(tc, timeout_zero_is_none);
    suite_add_tcase(s, tc);
    return s;
}
