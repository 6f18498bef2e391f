/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ezmap.c - mpimap_ezmap() from a plain C program (not an MPI program):
 * items and results in memory, np 2 and 3 under the mpirun launcher, a
 * command and a function handler, failed items, zero items, NUL bytes, a
 * 1 MiB item, files in and out; the non-blocking start/poll/wait with
 * progress; a cancel of a long job that returns promptly with
 * MPIMAP_ECANCELED and leaves none of its commands running; set-up errors.
 * After every job that ended normally the work directory must be empty.
 *
 * usage: ezmap HANDLERS_DIR   (in the tests' environment: MPIMAP_WORKER,
 *                              MPIMAP_PLUGIN_PATH, Open MPI as root)
 * Prints a line per check; exits 1 on the first failure, naming it.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

static const char *handlers;
static char base[4096];    /* removed at exit, even after a failure */
static char workdir[4096 + 16];
static int nchecks;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL (ezmap): ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

#define CHECK(cond, ...)         \
    do {                         \
        if (!(cond))             \
            die(__VA_ARGS__);    \
    } while (0)

static void ok(const char *what)
{
    printf("ok %d - %s\n", ++nchecks, what);
    fflush(stdout);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_for(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The number of job directories (mpimap-*) in the work directory. */
static int jobdirs(void)
{
    DIR *d = opendir(workdir);
    CHECK(d, "cannot read %s", workdir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "mpimap-", 7) == 0)
            n++;
    closedir(d);
    return n;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_base(void)
{
    rm_tree(base);
}

static void clean_workdir(void)
{
    DIR *d = opendir(workdir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", workdir, de->d_name);
        rm_tree(p);
    }
    if (d)
        closedir(d);
}

static char *path_to(const char *lib, const char *sym)
{
    char *p = NULL;
    CHECK(asprintf(&p, "%s/%s:%s", handlers, lib, sym) >= 0, "out of memory");
    return p;
}

static mpimap_ezmap_options base_options(int np, const char *strategy)
{
    mpimap_ezmap_options o;
    memset(&o, 0, sizeof o);
    o.np = np;
    o.launcher = "mpirun";
    o.strategy = strategy;
    o.workdir = workdir;
    return o;
}

/* Compare the outcomes with what each item should give. */
static void expect(const char *what, const mpimap_outcome *out, size_t n, size_t want_n,
                   const char *const *want, const size_t *want_len, const int *want_failed)
{
    CHECK(n == want_n, "%s: %zu outcomes, expected %zu", what, n, want_n);
    for (size_t i = 0; i < n; i++) {
        if (want_failed && want_failed[i]) {
            CHECK(out[i].status == MPIMAP_EITEMS, "%s: item %zu: status %d, expected failed",
                  what, i, out[i].status);
            CHECK(out[i].len == 0 && out[i].data == NULL,
                  "%s: item %zu failed but has %zu bytes", what, i, out[i].len);
            CHECK(out[i].reason && *out[i].reason, "%s: item %zu failed without a reason",
                  what, i);
            continue;
        }
        CHECK(out[i].status == 0, "%s: item %zu: status %d (%s)", what, i, out[i].status,
              out[i].reason ? out[i].reason : "no reason");
        CHECK(out[i].reason == NULL, "%s: item %zu: ok with a reason", what, i);
        CHECK(out[i].len == want_len[i], "%s: item %zu: %zu bytes, expected %zu", what, i,
              out[i].len, want_len[i]);
        CHECK(want_len[i] == 0 || memcmp(out[i].data, want[i], want_len[i]) == 0,
              "%s: item %zu: '%.*s', expected '%.*s'", what, i, (int)out[i].len,
              (const char *)out[i].data, (int)want_len[i], want[i]);
    }
}

/* ---- a command, items and results in memory ------------------------------ */

static void test_command(const char *strategy, int np)
{
    static const char *const words[] = {"alpha", "", "two words", "it's \"q\" $(x)",
                                        "-n", "UPPER lower", "z"};
    enum { N = 23 };
    mpimap_item items[N];
    char *want[N];
    size_t want_len[N];
    for (size_t i = 0; i < N; i++) {
        const char *w = words[i % (sizeof words / sizeof *words)];
        items[i] = (mpimap_item){w, strlen(w), i};
        want[i] = strdup(w);
        CHECK(want[i], "out of memory");
        for (char *p = want[i]; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        want_len[i] = strlen(w);
    }
    const char *cmd[] = {"sh", "-c", "printf %s \"$1\" | tr a-z A-Z", "sh", "{}", NULL};
    mpimap_ezmap_options o = base_options(np, strategy);
    o.command = cmd;
    mpimap_outcome *out = NULL;
    size_t n = 0;
    int rc = mpimap_ezmap(&o, items, N, &out, &n);
    char what[128];
    snprintf(what, sizeof what, "%s np %d: a command on %d items in memory", strategy, np, N);
    CHECK(rc == 0, "%s: rc %d (%s)", what, rc, mpimap_strerror(rc));
    expect(what, out, n, N, (const char *const *)want, want_len, NULL);
    mpimap_outcomes_free(out, n);
    for (size_t i = 0; i < N; i++)
        free(want[i]);
    CHECK(jobdirs() == 0, "%s: a job directory was left", what);
    ok(what);
}

/* ---- a function, failures, NUL bytes, sizes --------------------------------- */

static void test_function(void)
{
    /* reverse() over items with NUL bytes, an empty item and a 1 MiB one. */
    enum { N = 5, BIG = 1 << 20 };
    char *big = malloc(BIG), *bigrev = malloc(BIG);
    CHECK(big && bigrev, "out of memory");
    for (size_t i = 0; i < BIG; i++)
        big[i] = (char)(i * 7 + i / 253);
    for (size_t i = 0; i < BIG; i++)
        bigrev[i] = big[BIG - 1 - i];
    mpimap_item items[N] = {{"a\0b", 3, 0}, {"", 0, 1}, {big, BIG, 2}, {"\0\0x", 3, 3},
                            {"xyz", 3, 4}};
    const char *want[N] = {"b\0a", "", bigrev, "x\0\0", "zyx"};
    size_t want_len[N] = {3, 0, BIG, 3, 3};
    char *fn = path_to("libidentity.so", "reverse");
    for (int np = 2; np <= 3; np++) {
        mpimap_ezmap_options o = base_options(np, np == 2 ? "pool" : "scatter");
        o.function = fn;
        mpimap_outcome *out = NULL;
        size_t n = 0;
        int rc = mpimap_ezmap(&o, items, N, &out, &n);
        char what[128];
        snprintf(what, sizeof what, "%s np %d: a function on items with NUL bytes and 1 MiB",
                 o.strategy, np);
        CHECK(rc == 0, "%s: rc %d", what, rc);
        expect(what, out, n, N, want, want_len, NULL);
        mpimap_outcomes_free(out, n);
        CHECK(jobdirs() == 0, "%s: a job directory was left", what);
        ok(what);
    }
    free(fn);
    free(big);
    free(bigrev);

    /* Failed items: MPIMAP_EITEMS, their status and reason; the rest there. */
    mpimap_item bad[4] = {{"1", 1, 0}, {"bad", 3, 1}, {"3", 1, 2}, {"bad", 3, 3}};
    const char *bwant[4] = {"ok:1", NULL, "ok:3", NULL};
    size_t bwant_len[4] = {4, 0, 4, 0};
    int bfailed[4] = {0, 1, 0, 1};
    fn = path_to("libfailbad.so", "fail_bad");
    mpimap_ezmap_options o = base_options(2, NULL);
    o.function = fn;
    mpimap_outcome *out = NULL;
    size_t n = 0;
    int rc = mpimap_ezmap(&o, bad, 4, &out, &n);
    CHECK(rc == MPIMAP_EITEMS, "failed items: rc %d, expected MPIMAP_EITEMS", rc);
    expect("failed items", out, n, 4, bwant, bwant_len, bfailed);
    CHECK(strcmp(out[1].reason, "refused the bad item") == 0 &&
              strcmp(out[3].reason, "refused the bad item") == 0,
          "failed items: reason '%s'", out[1].reason);
    mpimap_outcomes_free(out, n);
    free(fn);
    CHECK(jobdirs() == 0, "failed items: a job directory was left");
    ok("np 2: failed items give MPIMAP_EITEMS, their status and reason, the rest intact");

    /* Retries, results in memory: an item that fails its first attempt and
     * succeeds on the second is ok (the joblog has both attempts); one that
     * always fails is failed after 1 + retries attempts. */
    char marks[4096 + 32];
    snprintf(marks, sizeof marks, "%s/marks", base);
    CHECK(mkdir(marks, 0700) == 0, "cannot create %s", marks);
    const char *flaky[] = {"sh", "-c",
                           "case $1 in b) [ -e \"$2/b\" ] || { : >\"$2/b\"; exit 3; };; "
                           "c) exit 4;; esac; printf %s \"$1\"",
                           "sh", "{}", marks, NULL};
    mpimap_item abc[3] = {{"a", 1, 0}, {"b", 1, 1}, {"c", 1, 2}};
    const char *rwant[3] = {"a", "b", NULL};
    size_t rwant_len[3] = {1, 1, 0};
    int rfailed[3] = {0, 0, 1};
    o = base_options(2, NULL);
    o.command = flaky;
    o.retries = 2;
    rc = mpimap_ezmap(&o, abc, 3, &out, &n);
    CHECK(rc == MPIMAP_EITEMS, "retries: rc %d, expected MPIMAP_EITEMS", rc);
    expect("retries", out, n, 3, rwant, rwant_len, rfailed);
    CHECK(strcmp(out[2].reason, "exit status 4") == 0, "retries: reason '%s'", out[2].reason);
    mpimap_outcomes_free(out, n);
    CHECK(jobdirs() == 0, "retries: a job directory was left");
    ok("np 2: retries with results in memory: the retried item ok, the hopeless one failed");

    /* Zero items. */
    const char *cmd[] = {"echo", "{}", NULL};
    o = base_options(2, NULL);
    o.command = cmd;
    out = NULL;
    n = 99;
    rc = mpimap_ezmap(&o, NULL, 0, &out, &n);
    CHECK(rc == 0 && n == 0, "zero items: rc %d, %zu outcomes", rc, n);
    mpimap_outcomes_free(out, n);
    CHECK(jobdirs() == 0, "zero items: a job directory was left");
    ok("np 2: zero items give rc 0 and no outcomes");
}

/* ---- files in and out ------------------------------------------------------- */

static void test_files(void)
{
    char in[8192], outp[8192];
    snprintf(in, sizeof in, "%s/../in.txt", workdir);
    snprintf(outp, sizeof outp, "%s/../out.txt", workdir);
    FILE *f = fopen(in, "w");
    CHECK(f, "cannot write %s", in);
    for (int i = 1; i <= 50; i++)
        fprintf(f, "%d\n", i - 20);
    fclose(f);
    char *fn = path_to("libsquare.so", "square");
    mpimap_ezmap_options o = base_options(3, NULL);
    o.function = fn;
    o.input = in;
    o.output = outp;
    int rc = mpimap_ezmap(&o, NULL, 0, NULL, NULL);
    CHECK(rc == 0, "files: rc %d", rc);
    f = fopen(outp, "r");
    CHECK(f, "files: no output file %s", outp);
    for (int i = 1; i <= 50; i++) {
        long v;
        CHECK(fscanf(f, "%ld\n", &v) == 1 && v == (long)(i - 20) * (i - 20),
              "files: line %d is not %d", i, (i - 20) * (i - 20));
    }
    CHECK(fgetc(f) == EOF, "files: more than 50 lines");
    fclose(f);
    CHECK(jobdirs() == 0, "files: a job directory was left");
    ok("np 3: items from a file, results to a file");

    /* Results in memory need items in memory. */
    o.output = NULL;
    rc = mpimap_ezmap(&o, NULL, 0, NULL, NULL);
    CHECK(rc == MPIMAP_EINVAL, "an input file without an output: rc %d", rc);
    free(fn);
    unlink(in);
    unlink(outp);
    CHECK(jobdirs() == 0, "an input file without an output: a job directory was left");
    ok("an input file with results in memory is refused (MPIMAP_EINVAL)");
}

/* ---- set-up errors ------------------------------------------------------------- */

static void test_errors(void)
{
    mpimap_item items[1] = {{"1", 1, 0}};
    mpimap_outcome *out = NULL;
    size_t n = 0;
    const char *cmd[] = {"echo", "{}", NULL};
    mpimap_ezmap_options o = base_options(2, NULL);
    o.command = cmd;
    o.launcher = "no-such-launcher";
    int rc = mpimap_ezmap(&o, items, 1, &out, &n);
    CHECK(rc == MPIMAP_EINVAL && out == NULL && n == 0, "unknown launcher: rc %d", rc);
    o.launcher = "mpirun";
    o.strategy = "no-such-strategy";
    rc = mpimap_ezmap(&o, items, 1, &out, &n);
    CHECK(rc == MPIMAP_EINVAL, "unknown strategy: rc %d", rc);
    o.strategy = NULL;
    o.command = NULL;
    char *fn = path_to("libnothere.so", "square");
    o.function = fn;
    rc = mpimap_ezmap(&o, items, 1, &out, &n);
    CHECK(rc == MPIMAP_ELOAD, "a missing library: rc %d", rc);
    free(fn);
    fn = path_to("libwrongabi.so", "square");
    o.function = fn;
    rc = mpimap_ezmap(&o, items, 1, &out, &n);
    CHECK(rc == MPIMAP_EABI, "a library with the wrong ABI: rc %d", rc);
    free(fn);
    CHECK(jobdirs() == 0, "set-up errors: a job directory was left");
    ok("set-up errors: unknown launcher/strategy EINVAL, missing .so ELOAD, wrong ABI EABI");
}

/* ---- start / poll / wait ------------------------------------------------------------ */

static void test_nonblocking(void)
{
    enum { N = 6 };
    mpimap_item items[N];
    char bufs[N][8];
    const char *want[N];
    size_t want_len[N];
    for (int i = 0; i < N; i++) {
        snprintf(bufs[i], sizeof bufs[i], "i%d", i);
        items[i] = (mpimap_item){bufs[i], strlen(bufs[i]), (uint64_t)i};
        want[i] = bufs[i];
        want_len[i] = strlen(bufs[i]);
    }
    const char *cmd[] = {"sh", "-c", "sleep 0.2; printf %s \"$1\"", "sh", "{}", NULL};
    mpimap_ezmap_options o = base_options(2, NULL);
    o.command = cmd;
    o.progress = 1;
    o.chunk = 1;
    mpimap_job *job = NULL;
    int rc = mpimap_ezmap_start(&o, items, N, &job);
    CHECK(rc == 0 && job, "start: rc %d", rc);
    rc = mpimap_ezmap_poll(job);
    CHECK(rc == MPIMAP_EBUSY, "the first poll: rc %d, expected MPIMAP_EBUSY", rc);
    int polls = 1;
    double t0 = now();
    while ((rc = mpimap_ezmap_poll(job)) == MPIMAP_EBUSY) {
        CHECK(now() - t0 < 60, "poll: still busy after 60 s");
        sleep_for(0.02);
        polls++;
    }
    CHECK(rc == 0, "poll: rc %d (%s)", rc, mpimap_strerror(rc));
    CHECK(polls > 5, "poll: finished after only %d polls (items take 0.2 s each)", polls);
    CHECK(mpimap_ezmap_poll(job) == 0, "poll after the end is not 0");
    CHECK(mpimap_ezmap_wait(job) == 0, "wait after the end is not 0");
    uint64_t done = 0, failed = 9, total = 0;
    rc = mpimap_ezmap_progress(job, &done, &failed, &total);
    CHECK(rc == 0 && done == N && failed == 0 && total == N,
          "progress: rc %d, %llu done, %llu failed, %llu total", rc, (unsigned long long)done,
          (unsigned long long)failed, (unsigned long long)total);
    mpimap_outcome *out = NULL;
    size_t n = 0;
    CHECK(mpimap_ezmap_results(job, &out, &n) == 0, "results: not available");
    expect("start/poll", out, n, N, want, want_len, NULL);
    mpimap_outcomes_free(out, n);
    mpimap_outcome *again = NULL;
    CHECK(mpimap_ezmap_results(job, &again, &n) == MPIMAP_EINVAL,
          "results can be taken twice");
    mpimap_ezmap_free(job);
    CHECK(jobdirs() == 0, "start/poll: a job directory was left");
    ok("start, poll (busy, then 0), progress, results, free");

    /* start then wait */
    job = NULL;
    rc = mpimap_ezmap_start(&o, items, N, &job);
    CHECK(rc == 0, "start: rc %d", rc);
    rc = mpimap_ezmap_wait(job);
    CHECK(rc == 0, "wait: rc %d", rc);
    CHECK(mpimap_ezmap_results(job, &out, &n) == 0, "results after wait: not available");
    expect("start/wait", out, n, N, want, want_len, NULL);
    mpimap_outcomes_free(out, n);
    mpimap_ezmap_free(job);
    CHECK(jobdirs() == 0, "start/wait: a job directory was left");
    ok("start, wait, results");
}

/* ---- cancel ------------------------------------------------------------------------ */

/* How many processes run `sleep TOKEN`. */
static int sleepers(const char *token)
{
    DIR *d = opendir("/proc");
    CHECK(d, "cannot read /proc");
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char p[300], buf[256];
        snprintf(p, sizeof p, "/proc/%s/cmdline", de->d_name);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        if (strcmp(buf, "sleep") == 0 && len > 6 && strcmp(buf + 6, token) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void test_cancel(void)
{
    /* Sleeps of an odd length nothing else uses, so they can be counted. */
    char token[32];
    snprintf(token, sizeof token, "%d.%05d", 40, (int)(getpid() % 100000));
    enum { N = 4 };
    mpimap_item items[N];
    for (int i = 0; i < N; i++)
        items[i] = (mpimap_item){token, strlen(token), (uint64_t)i};
    const char *cmd[] = {"sleep", "{}", NULL};
    mpimap_ezmap_options o = base_options(2, NULL);
    o.command = cmd;
    o.chunk = 1;
    mpimap_job *job = NULL;
    int rc = mpimap_ezmap_start(&o, items, N, &job);
    CHECK(rc == 0, "cancel: start: rc %d", rc);
    /* Wait until the sleeps run (both ranks: the root works too). */
    double t0 = now();
    while (sleepers(token) < 2) {
        CHECK(now() - t0 < 30, "cancel: the sleeps did not start");
        CHECK(mpimap_ezmap_poll(job) == MPIMAP_EBUSY, "cancel: the job ended early");
        sleep_for(0.05);
    }
    t0 = now();
    rc = mpimap_ezmap_cancel(job);
    double took = now() - t0;
    CHECK(rc == 0, "cancel: rc %d", rc);
    CHECK(took < 10, "cancel took %.1f s", took);
    rc = mpimap_ezmap_wait(job);
    CHECK(rc == MPIMAP_ECANCELED, "wait after cancel: rc %d, expected MPIMAP_ECANCELED", rc);
    CHECK(mpimap_ezmap_poll(job) == MPIMAP_ECANCELED, "poll after cancel: not ECANCELED");
    mpimap_outcome *out = NULL;
    size_t n = 0;
    CHECK(mpimap_ezmap_results(job, &out, &n) == MPIMAP_EINVAL,
          "results after cancel are available");
    mpimap_ezmap_free(job);
    /* Nothing the job started may keep running. */
    t0 = now();
    int left;
    while ((left = sleepers(token)) > 0 && now() - t0 < 5)
        sleep_for(0.1);
    CHECK(left == 0, "cancel: %d 'sleep %s' commands still run after the cancel", left, token);
    CHECK(jobdirs() == 1, "cancel: the job directory was not kept (%d)", jobdirs());
    clean_workdir();
    printf("# cancel returned in %.2f s\n", took);
    ok("cancel of a long job: prompt, MPIMAP_ECANCELED, no command left running, "
       "job directory kept");

    /* The same through mpimap_ezmap_free() of a running job. */
    job = NULL;
    rc = mpimap_ezmap_start(&o, items, N, &job);
    CHECK(rc == 0, "free running: start: rc %d", rc);
    t0 = now();
    while (sleepers(token) < 1) {
        CHECK(now() - t0 < 30, "free running: the sleeps did not start");
        sleep_for(0.05);
    }
    t0 = now();
    mpimap_ezmap_free(job);
    took = now() - t0;
    CHECK(took < 10, "free of a running job took %.1f s", took);
    t0 = now();
    while ((left = sleepers(token)) > 0 && now() - t0 < 5)
        sleep_for(0.1);
    CHECK(left == 0, "free running: %d 'sleep %s' still run", left, token);
    clean_workdir();
    ok("free of a running job stops it promptly");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s HANDLERS_DIR\n", argv[0]);
        return 2;
    }
    handlers = argv[1];
    signal(SIGPIPE, SIG_IGN);
    const char *tmp = getenv("TMPDIR");
    snprintf(base, sizeof base, "%s/ezmap-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK(mkdtemp(base), "mkdtemp: %s", strerror(errno));
    atexit(remove_base);
    snprintf(workdir, sizeof workdir, "%s/wd", base);
    CHECK(mkdir(workdir, 0700) == 0, "mkdir %s: %s", workdir, strerror(errno));

    test_command("pool", 2);
    test_command("scatter", 2);
    test_command("pool", 3);
    test_function();
    test_files();
    test_errors();
    test_nonblocking();
    test_cancel();

    printf("ezmap: all %d checks passed\n", nchecks);
    return 0;
}
