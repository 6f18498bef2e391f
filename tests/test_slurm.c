/* SPDX-License-Identifier: BSD-3-Clause */
/* test_slurm.c - the slurm batch launcher plugin: its descriptor, the job
 * scripts it renders for a table of resource sets (the golden files in
 * tests/golden/slurm/, each also read by `bash -n`), the directives read
 * back the way sbatch reads them, hostile strings in every option coming
 * out inert when the script runs, the sbatch/scontrol/scancel commands,
 * and the parsers on real output of Slurm 22.05 (tests/golden/slurm/
 * scontrol/, captured from the cluster of tests/slurm/setup.sh).
 *
 * MPIMAP_GOLDEN_UPDATE=1 rewrites the golden scripts from what the plugin
 * renders (review the diff before committing it). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>

#define LAUNCHER_DIR TEST_PLUGIN_DIR "/../../plugins/launchers/"
#define GOLDEN_DIR TEST_SOURCE_DIR "/golden/slurm/"

typedef struct loaded {
    void *handle;
    const struct mpimap_plugin *plugin;
    const struct mpimap_launcher_ops *ops;
} loaded;

static loaded load(void)
{
    loaded l;
    l.handle = dlopen(LAUNCHER_DIR "mpimap_launcher_slurm.so", RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(l.handle != NULL, "dlopen: %s", dlerror());
    l.plugin = dlsym(l.handle, MPIMAP_PLUGIN_SYMBOL);
    ck_assert_ptr_nonnull(l.plugin);
    l.ops = l.plugin->ops;
    ck_assert_ptr_nonnull(l.ops);
    return l;
}

static void unload(loaded *l)
{
    ck_assert_int_eq(dlclose(l->handle), 0);
}

/* ---- small helpers -------------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(m);
    int c;
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(f);
    ck_assert_int_eq(fclose(m), 0);
    return buf;
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

/* Run argv, standard output and error to /dev/null unless out_path; the
 * exit status (or 128 + signal). */
static int run(const char *const *argv, const char *out_path)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            if (!out_path)
                dup2(fd, STDERR_FILENO);
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void bash_n(const char *path)
{
    const char *const argv[] = {"bash", "-n", path, NULL};
    ck_assert_msg(run(argv, NULL) == 0, "bash -n %s failed", path);
}

/* ---- descriptor ------------------------------------------------------------- */

START_TEST(descriptor)
{
    loaded l = load();
    ck_assert_uint_eq(l.plugin->magic, MPIMAP_PLUGIN_MAGIC);
    ck_assert_uint_eq(l.plugin->abi_major, MPIMAP_ABI_MAJOR);
    ck_assert_uint_eq(l.plugin->abi_minor, 2);
    ck_assert_uint_eq(l.plugin->kind, MPIMAP_KIND_LAUNCHER);
    ck_assert_str_eq(l.plugin->name, "slurm");
    ck_assert_str_eq(l.plugin->description, "Slurm batch jobs (sbatch)");
    ck_assert_uint_eq(l.ops->size, sizeof(struct mpimap_launcher_ops));
    ck_assert_uint_eq(l.ops->flags, MPIMAP_LAUNCHER_BATCH);
    ck_assert_str_eq(l.ops->program, "sbatch");
    ck_assert_str_eq(l.ops->inner, "srun");
    ck_assert(l.ops->render == NULL);
    ck_assert(l.ops->script && l.ops->submit && l.ops->parse_jobid && l.ops->query_job &&
              l.ops->parse_state && l.ops->cancel);
    unload(&l);
}
END_TEST

/* query(): 0 with sbatch on PATH (never above serial or mpirun), else -1. */
START_TEST(query_path)
{
    loaded l = load();
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    char t[] = "/tmp/mpimap-slurm-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(t));
    ck_assert_int_eq(setenv("PATH", t, 1), 0);
    ck_assert_int_eq(l.plugin->query(), -1);
    char *f = NULL;
    ck_assert_int_ge(asprintf(&f, "%s/sbatch", t), 0);
    spit(f, "#!/bin/sh\n");
    ck_assert_int_eq(l.plugin->query(), -1); /* not executable */
    ck_assert_int_eq(chmod(f, 0755), 0);
    ck_assert_int_eq(l.plugin->query(), 0);
    ck_assert_int_eq(unlink(f), 0);
    ck_assert_int_eq(rmdir(t), 0);
    free(f);
    if (saved)
        ck_assert_int_eq(setenv("PATH", saved, 1), 0);
    free(saved);
    unload(&l);
}
END_TEST

/* ---- golden scripts --------------------------------------------------------- */

#define INNER "srun -n 2 --mpi=pmix /opt/mpimap-worker /j/job.spec"

typedef struct script_case {
    const char *name; /* tests/golden/slurm/NAME.sh */
    int np, nodes, ppn, cpus;
    long walltime;
    const char *queue, *qos, *account, *job_name, *reservation, *mem;
    const char *exports[6];
    const char *sched_args[4];
    const char *jobdir, *log_path;
} script_case;

static const script_case scases[] = {
    {"minimal", 2, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, {NULL}, {NULL}, NULL, NULL},
    {"np8", 8, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, {NULL}, {NULL}, NULL, NULL},
    {"nodes_ppn", 6, 2, 3, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, {NULL}, {NULL}, NULL,
     NULL},
    {"nodes_only", 5, 2, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, {NULL}, {NULL}, NULL,
     NULL},
    {"ppn_only", 4, 0, 2, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, {NULL}, {NULL}, NULL,
     NULL},
    {"cpus_per_rank", 4, 0, 0, 2, 0, NULL, NULL, NULL, NULL, NULL, NULL, {NULL}, {NULL},
     NULL, NULL},
    {"walltime_90s", 2, 0, 0, 0, 90, NULL, NULL, NULL, NULL, NULL, NULL, {NULL}, {NULL},
     NULL, NULL},
    {"walltime_1h", 2, 0, 0, 0, 3600, NULL, NULL, NULL, NULL, NULL, NULL, {NULL}, {NULL},
     NULL, NULL},
    {"walltime_days", 2, 0, 0, 0, 2 * 86400 + 12 * 3600 + 61, NULL, NULL, NULL, NULL, NULL,
     NULL, {NULL}, {NULL}, NULL, NULL},
    {"named", 2, 0, 0, 0, 0, "debug", "normal", "proj42", "my-map", "maint", "4G", {NULL},
     {NULL}, NULL, NULL},
    {"exports", 2, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL,
     {"A=1", "HOME", "EMPTY=", "X=a b", "Y=x=y", NULL}, {NULL}, NULL, NULL},
    {"sched_args", 2, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, {NULL},
     {"--constraint=haswell", "--gres=gpu:2", "--comment=a b # c", NULL}, NULL, NULL},
    {"everything", 8, 2, 4, 2, 5 * 60, "batch", "high", "acct", "sweep", "resv", "500M",
     {"OMP_NUM_THREADS=2", "MPIMAP_PLUGIN_PATH=/opt/p:/opt/q", NULL},
     {"--exclusive", NULL}, NULL, NULL},
    {"odd_paths", 2, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, {NULL}, {NULL},
     "/tmp/my dir/it's 100% $(x)", "/tmp/my dir/it's 100% $(x)/job.log"},
    {"hostile", 3, 0, 0, 0, 0, "q 'x'", "a\"b", "$(touch /tmp/pwned)", "it's `id` # ; & |",
     "r;r", "1G $(x)", {"H1=$(touch /tmp/pwned)", "H2=`id`\n'", "H3=\\\"\\", NULL},
     {"--comment=$(id) 'q' \"d\" # not a comment", NULL}, NULL, NULL},
};
#define NSCASES ((int)(sizeof scases / sizeof scases[0]))

static struct mpimap_launch_spec spec_of(const script_case *c)
{
    struct mpimap_launch_spec s;
    memset(&s, 0, sizeof s);
    s.size = (uint32_t)sizeof s;
    s.np = c->np;
    s.nodes = c->nodes;
    s.ppn = c->ppn;
    s.cpus_per_rank = c->cpus;
    s.slots = 2;
    s.jobdir = c->jobdir ? c->jobdir : "/j";
    s.walltime = c->walltime;
    s.queue = c->queue;
    s.qos = c->qos;
    s.account = c->account;
    s.job_name = c->job_name;
    s.reservation = c->reservation;
    s.mem = c->mem;
    s.exports = c->exports;
    s.sched_args = c->sched_args;
    s.inner_command = INNER;
    s.log_path = c->log_path ? c->log_path : "/j/job.log";
    return s;
}

START_TEST(golden_scripts)
{
    const script_case *c = &scases[_i];
    loaded l = load();
    struct mpimap_launch_spec spec = spec_of(c);
    char *text = NULL, *error = NULL;
    int rc = l.ops->script(&spec, &text, &error);
    ck_assert_msg(rc == 0, "%s: rc %d (%s)", c->name, rc, error ? error : "no message");
    ck_assert_ptr_null(error);
    char *path = NULL;
    ck_assert_int_ge(asprintf(&path, GOLDEN_DIR "%s.sh", c->name), 0);
    const char *update = getenv("MPIMAP_GOLDEN_UPDATE");
    if (update && strcmp(update, "1") == 0)
        spit(path, text);
    char *want = slurp(path);
    ck_assert_msg(want != NULL, "no golden file %s (MPIMAP_GOLDEN_UPDATE=1 writes it)",
                  path);
    ck_assert_msg(strcmp(text, want) == 0, "%s: the script differs from %s:\n%s", c->name,
                  path, text);
    bash_n(path);
    free(want);
    free(path);
    free(text);
    unload(&l);
}
END_TEST

/* ---- the directives, read back the way sbatch reads them -------------------- */

/*
 * The words of one #SBATCH line after the magic word, by sbatch's rules
 * (Slurm 22.05 src/sbatch/opt.c): blanks split words; '...' and "..."
 * group; a backslash takes the next character literally, inside quotes
 * too; an unquoted # ends the line. Returns the number of words.
 */
static size_t sbatch_words(const char *line, char **words, size_t max)
{
    size_t n = 0;
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            return n;
        char *w = malloc(strlen(p) + 1);
        ck_assert_ptr_nonnull(w);
        size_t k = 0;
        char q = 0;
        int esc = 0;
        while (*p && (q || (*p != ' ' && *p != '\t'))) {
            if (esc) {
                esc = 0;
            } else if (*p == '\\') {
                esc = 1;
                p++;
                continue;
            } else if (q) {
                if (*p == q) {
                    q = 0;
                    p++;
                    continue;
                }
            } else if (*p == '\'' || *p == '"') {
                q = *p++;
                continue;
            } else if (*p == '#') {
                break;
            }
            w[k++] = *p++;
        }
        ck_assert_msg(q == 0, "unmatched quote in #SBATCH%s", line);
        w[k] = '\0';
        ck_assert_uint_lt(n, max);
        words[n++] = w;
        if (*p == '#')
            return n;
    }
}

/* Every word of every #SBATCH line of text, in order (the directives end at
 * the first line that is neither blank nor a comment, as in sbatch). */
static size_t directives_of(const char *text, char **words, size_t max)
{
    size_t n = 0;
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char *line = strndup(p, len);
        ck_assert_ptr_nonnull(line);
        if (strncmp(line, "#SBATCH", 7) == 0) {
            n += sbatch_words(line + 7, words + n, max - n);
        } else if (line[0] != '#' && line[0] != '\0') {
            free(line);
            break;
        }
        free(line);
        p += len + (eol ? 1 : 0);
    }
    return n;
}

START_TEST(directives_read_back)
{
    loaded l = load();
    const script_case *c = NULL;
    for (int i = 0; i < NSCASES; i++)
        if (strcmp(scases[i].name, "hostile") == 0)
            c = &scases[i];
    ck_assert_ptr_nonnull(c);
    struct mpimap_launch_spec spec = spec_of(c);
    spec.jobdir = "/tmp/my dir/it's 100% $(x)";
    spec.log_path = "/tmp/my dir/it's 100% $(x)/job.log";
    char *text = NULL, *error = NULL;
    ck_assert_int_eq(l.ops->script(&spec, &text, &error), 0);
    char *words[64];
    size_t n = directives_of(text, words, 64);
    const char *const want[] = {
        "--job-name=it's `id` # ; & |",
        "--ntasks=3",
        "--partition=q 'x'",
        "--qos=a\"b",
        "--account=$(touch /tmp/pwned)",
        "--reservation=r;r",
        "--mem=1G $(x)",
        "--output=/tmp/my dir/it's 100%% $(x)/job.log", /* %% is sbatch's % */
        "--error=/tmp/my dir/it's 100%% $(x)/job.log",
        "--export=ALL",
        "--comment=$(id) 'q' \"d\" # not a comment",
        NULL};
    size_t k = 0;
    for (; want[k]; k++) {
        ck_assert_uint_lt(k, n);
        ck_assert_msg(strcmp(words[k], want[k]) == 0, "directive %zu is [%s], wanted [%s]",
                      k, words[k], want[k]);
    }
    ck_assert_uint_eq(n, k);
    for (size_t i = 0; i < n; i++)
        free(words[i]);
    free(text);
    unload(&l);
}
END_TEST

/* ---- hostile strings are inert when the script runs ------------------------- */

/* The script runs under bash as sbatch would start it (the directives are
 * comments); its command prints what the exports hold. Nothing in any
 * option may run, and each export must arrive byte for byte. */
START_TEST(hostile_script_runs_inert)
{
    loaded l = load();
    char t[] = "/tmp/mpimap-slurm-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(t));
    char *dir = NULL, *canary = NULL, *log = NULL, *out = NULL, *script = NULL;
    ck_assert_int_ge(asprintf(&canary, "%s/canary", t), 0);
    /* (a directory name holds no '/': its canary is relative, and both
     * places it could land are checked) */
    ck_assert_int_ge(asprintf(&dir, "%s/it's $(touch canary.dir) \"d\" `touch canary.dir`", t),
                     0);
    ck_assert_int_ge(asprintf(&log, "%s/job.log", dir), 0);
    ck_assert_int_ge(asprintf(&out, "%s/out", t), 0);
    ck_assert_int_ge(asprintf(&script, "%s/job.sh", t), 0);
    ck_assert_int_eq(mkdir(dir, 0700), 0);

    char *h[8];
    ck_assert_int_ge(asprintf(&h[0], "$(touch %s.0)", canary), 0);
    ck_assert_int_ge(asprintf(&h[1], "`touch %s.1`", canary), 0);
    ck_assert_int_ge(asprintf(&h[2], "'; touch %s.2; '", canary), 0);
    ck_assert_int_ge(asprintf(&h[3], "\"; touch %s.3; \"", canary), 0);
    ck_assert_int_ge(asprintf(&h[4], "x\ntouch %s.4\n", canary), 0);
    ck_assert_int_ge(asprintf(&h[5], "\\\\ \\' ${IFS} * ? [a] ~ # %s.5 ! %%s", canary), 0);
    h[6] = strdup("");
    h[7] = strdup("h\xc3\xa9llo \xe2\x9c\x93");
    char *exports[9];
    for (int i = 0; i < 8; i++)
        ck_assert_int_ge(asprintf(&exports[i], "MPIMAP_H%d=%s", i, h[i]), 0);
    exports[8] = NULL;
    /* Options that reach directives only (shell comments): quotes,
     * command substitutions, # and ;, never a backslash or a newline. */
    char *opt = NULL;
    ck_assert_int_ge(asprintf(&opt, "a 'b' \"c\" $(touch %s.o) `touch %s.o` ; # &", canary,
                              canary), 0);
    char *sopt = NULL;
    ck_assert_int_ge(asprintf(&sopt, "--comment=%s", opt), 0);
    const char *sched[] = {sopt, NULL};
    struct mpimap_launch_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.size = (uint32_t)sizeof spec;
    spec.np = 2;
    spec.jobdir = dir;
    spec.queue = spec.qos = spec.account = spec.reservation = spec.mem = opt;
    spec.job_name = opt;
    spec.exports = (const char *const *)exports;
    spec.sched_args = sched;
    spec.log_path = log;
    /* The command: each export's value in brackets, and where it ran. */
    char *inner = NULL;
    ck_assert_int_ge(asprintf(&inner,
                              "for v in MPIMAP_H0 MPIMAP_H1 MPIMAP_H2 MPIMAP_H3 MPIMAP_H4 "
                              "MPIMAP_H5 MPIMAP_H6 MPIMAP_H7; do printf '[%%s]\\n' "
                              "\"${!v}\"; done; pwd"),
                     0);
    spec.inner_command = inner;
    char *text = NULL, *error = NULL;
    int rc = l.ops->script(&spec, &text, &error);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, error ? error : "no message");
    spit(script, text);
    bash_n(script);
    const char *const argv[] = {"bash", script, NULL};
    ck_assert_int_eq(run(argv, out), 0);

    char *got = slurp(out);
    ck_assert_ptr_nonnull(got);
    char *want = NULL;
    size_t wlen = 0;
    FILE *m = open_memstream(&want, &wlen);
    for (int i = 0; i < 8; i++)
        fprintf(m, "[%s]\n", h[i]);
    fprintf(m, "%s\n", dir);
    fclose(m);
    ck_assert_str_eq(got, want);
    /* nothing ran */
    static const char *const sfx[] = {".0", ".1", ".2", ".3", ".4", ".5", ".o", ".dir", ""};
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        char *p = NULL;
        ck_assert_int_ge(asprintf(&p, "%s%s", canary, sfx[i]), 0);
        ck_assert_msg(access(p, F_OK) != 0, "a hostile string ran: %s exists", p);
        free(p);
    }
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/canary.dir", dir), 0);
    ck_assert_msg(access(p, F_OK) != 0, "a hostile string ran: %s exists", p);
    ck_assert_msg(access("canary.dir", F_OK) != 0, "a hostile string ran: canary.dir exists");
    free(p);

    const char *const rm[] = {"rm", "-rf", t, NULL};
    ck_assert_int_eq(run(rm, NULL), 0);
    for (int i = 0; i < 8; i++) {
        free(h[i]);
        free(exports[i]);
    }
    free(got);
    free(want);
    free(text);
    free(inner);
    free(opt);
    free(sopt);
    free(dir);
    free(canary);
    free(log);
    free(out);
    free(script);
    unload(&l);
}
END_TEST

/* ---- what cannot be rendered -------------------------------------------------- */

typedef struct bad_case {
    const char *what;
    int np, nodes, ppn;
    long walltime;
    const char *queue, *job_name, *account, *mem;
    const char *exports[3];
    const char *sched_args[3];
    const char *jobdir, *inner, *log;
    const char *error;
} bad_case;

static const bad_case bcases[] = {
    {"np 0", 0, 0, 0, 0, NULL, NULL, NULL, NULL, {NULL}, {NULL}, "/j", INNER, "/j/l",
     "slurm: the number of ranks must be at least 1"},
    {"nodes x ppn != np", 5, 2, 3, 0, NULL, NULL, NULL, NULL, {NULL}, {NULL}, "/j", INNER,
     "/j/l", "slurm: 2 nodes x 3 ranks per node = 6 ranks, but -n is 5"},
    {"more nodes than ranks", 2, 3, 0, 0, NULL, NULL, NULL, NULL, {NULL}, {NULL}, "/j",
     INNER, "/j/l", "slurm: 3 nodes for 2 ranks leaves nodes without a rank"},
    {"negative ppn", 2, 0, -1, 0, NULL, NULL, NULL, NULL, {NULL}, {NULL}, "/j", INNER, "/j/l",
     "slurm: ranks per node must not be negative (got -1)"},
    {"negative walltime", 2, 0, 0, -5, NULL, NULL, NULL, NULL, {NULL}, {NULL}, "/j", INNER,
     "/j/l", "slurm: the walltime must not be negative (got -5 s)"},
    {"empty queue", 2, 0, 0, 0, "", NULL, NULL, NULL, {NULL}, {NULL}, "/j", INNER, "/j/l",
     "slurm: --queue must not be empty"},
    {"backslash in a name", 2, 0, 0, 0, NULL, "a\\b", NULL, NULL, {NULL}, {NULL}, "/j", INNER,
     "/j/l", "slurm: --job-name \"a\\b\": a backslash cannot pass through an #SBATCH "
             "directive"},
    {"newline in an account", 2, 0, 0, 0, NULL, NULL, "a\nb", NULL, {NULL}, {NULL}, "/j",
     INNER, "/j/l",
     "slurm: --account: control characters (newlines, tabs, ...) cannot pass through an "
     "#SBATCH directive"},
    {"= in a job name", 2, 0, 0, 0, NULL, "x JobState=COMPLETED", NULL, NULL, {NULL}, {NULL},
     "/j", INNER, "/j/l",
     "slurm: --job-name \"x JobState=COMPLETED\": a name must not hold '='"},
    {"newline in --mem", 2, 0, 0, 0, NULL, NULL, NULL, "4G\n#SBATCH --x", {NULL}, {NULL},
     "/j", INNER, "/j/l",
     "slurm: --mem: control characters (newlines, tabs, ...) cannot pass through an "
     "#SBATCH directive"},
    {"bad export name", 2, 0, 0, 0, NULL, NULL, NULL, NULL, {"1X=2", NULL}, {NULL}, "/j",
     INNER, "/j/l", "slurm: --export: not a variable name or NAME=VALUE: \"1X=2\""},
    {"export with a blank name", 2, 0, 0, 0, NULL, NULL, NULL, NULL, {"A B=1", NULL}, {NULL},
     "/j", INNER, "/j/l", "slurm: --export: not a variable name or NAME=VALUE: \"A B=1\""},
    {"sched arg without a dash", 2, 0, 0, 0, NULL, NULL, NULL, NULL, {NULL},
     {"constraint=x", NULL}, "/j", INNER, "/j/l",
     "slurm: --sched-arg \"constraint=x\" is not an sbatch option (one option a "
     "--sched-arg, e.g. --sched-arg=--constraint=haswell)"},
    {"newline in a sched arg", 2, 0, 0, 0, NULL, NULL, NULL, NULL, {NULL},
     {"--comment=a\nrm -rf /", NULL}, "/j", INNER, "/j/l",
     "slurm: --sched-arg: control characters (newlines, tabs, ...) cannot pass through an "
     "#SBATCH directive"},
    {"relative job directory", 2, 0, 0, 0, NULL, NULL, NULL, NULL, {NULL}, {NULL}, "j", INNER,
     "/j/l", "slurm: the job directory must be an absolute path"},
    {"no inner command", 2, 0, 0, 0, NULL, NULL, NULL, NULL, {NULL}, {NULL}, "/j", "", "/j/l",
     "slurm: no command to run inside the job"},
    {"no log", 2, 0, 0, 0, NULL, NULL, NULL, NULL, {NULL}, {NULL}, "/j", INNER, NULL,
     "slurm: no log file for the job's output"},
    {"newline in the log path", 2, 0, 0, 0, NULL, NULL, NULL, NULL, {NULL}, {NULL}, "/j",
     INNER, "/j/a\nb/l",
     "slurm: the log file: control characters (newlines, tabs, ...) cannot pass through "
     "an #SBATCH directive"},
};
#define NBCASES ((int)(sizeof bcases / sizeof bcases[0]))

START_TEST(bad_specs)
{
    const bad_case *c = &bcases[_i];
    loaded l = load();
    struct mpimap_launch_spec s;
    memset(&s, 0, sizeof s);
    s.size = (uint32_t)sizeof s;
    s.np = c->np;
    s.nodes = c->nodes;
    s.ppn = c->ppn;
    s.walltime = c->walltime;
    s.queue = c->queue;
    s.job_name = c->job_name;
    s.account = c->account;
    s.mem = c->mem;
    s.exports = c->exports;
    s.sched_args = c->sched_args;
    s.jobdir = c->jobdir;
    s.inner_command = c->inner;
    s.log_path = c->log;
    char *text = (char *)"untouched", *error = NULL;
    int rc = l.ops->script(&s, &text, &error);
    ck_assert_msg(rc == MPIMAP_EINVAL, "%s: rc %d", c->what, rc);
    ck_assert_ptr_null(text);
    ck_assert_ptr_nonnull(error);
    ck_assert_str_eq(error, c->error);
    free(error);
    /* a spec of ABI 1.0 (too small for the scheduler fields) */
    s.np = 2;
    s.size = (uint32_t)offsetof(struct mpimap_launch_spec, walltime);
    error = NULL;
    ck_assert_int_eq(l.ops->script(&s, &text, &error), MPIMAP_EINVAL);
    ck_assert_str_eq(error, "slurm: launch spec is missing or too old");
    free(error);
    unload(&l);
}
END_TEST

/* ---- submit, query, cancel ------------------------------------------------------ */

static void assert_argv(const mpimap_strv *sv, const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    ck_assert_uint_eq(sv->n, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(sv->v[i], want[i]);
    ck_assert_ptr_null(sv->v[n]);
}

START_TEST(commands)
{
    loaded l = load();
    struct mpimap_launch_spec spec = spec_of(&scases[0]);
    mpimap_strv sv = {0};
    char *error = NULL;
    ck_assert_int_eq(l.ops->submit(&spec, "/tmp/my dir/job.sh", &sv, &error), 0);
    const char *const sub[] = {"sbatch", "--parsable", "/tmp/my dir/job.sh", NULL};
    assert_argv(&sv, sub);
    mpimap_strv_free(&sv);

    ck_assert_int_eq(l.ops->query_job("123", &sv), 0);
    const char *const q[] = {"/bin/sh", "-c",  "exec \"$@\" 2>&1", "sh", "scontrol",
                             "show",    "job", "-o", "123", NULL};
    assert_argv(&sv, q);
    mpimap_strv_free(&sv);

    ck_assert_int_eq(l.ops->cancel("123", &sv), 0);
    const char *const c[] = {"scancel", "123", NULL};
    assert_argv(&sv, c);
    mpimap_strv_free(&sv);

    /* An array task and a heterogeneous component are job ids too. */
    ck_assert_int_eq(l.ops->cancel("77_3", &sv), 0);
    mpimap_strv_free(&sv);
    ck_assert_int_eq(l.ops->query_job("77+1", &sv), 0);
    mpimap_strv_free(&sv);
    /* What is not a job id never becomes an argument (an option, say). */
    static const char *const bad[] = {"", "-u", "--me", "12 13", "1;x", "$(id)", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(l.ops->query_job(bad[i], &sv), MPIMAP_EINVAL);
        ck_assert_int_eq(l.ops->cancel(bad[i], &sv), MPIMAP_EINVAL);
        ck_assert_uint_eq(sv.n, 0);
    }
    ck_assert_int_eq(l.ops->query_job(NULL, &sv), MPIMAP_EINVAL);
    mpimap_strv_free(&sv);
    unload(&l);
}
END_TEST

/* The rendered query, run against a stand-in scontrol that answers on
 * standard error as the real one does: its words arrive as they are, and
 * what it says reaches standard output, which parse_state() reads. */
START_TEST(query_runs)
{
    loaded l = load();
    char t[] = "/tmp/mpimap-slurm-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(t));
    char *fake = NULL, *out = NULL;
    ck_assert_int_ge(asprintf(&fake, "%s/scontrol", t), 0);
    ck_assert_int_ge(asprintf(&out, "%s/out", t), 0);
    spit(fake, "#!/bin/sh\n"
               "printf '[%s]' \"$@\"\n"
               "echo\n"
               "echo 'slurm_load_jobs error: Invalid job id specified' >&2\n"
               "exit 1\n");
    ck_assert_int_eq(chmod(fake, 0755), 0);
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    char *path = NULL;
    ck_assert_int_ge(asprintf(&path, "%s:%s", t, old ? old : "/usr/bin:/bin"), 0);
    ck_assert_int_eq(setenv("PATH", path, 1), 0);
    mpimap_strv sv = {0};
    ck_assert_int_eq(l.ops->query_job("4711", &sv), 0);
    int st = run((const char *const *)sv.v, out);
    ck_assert_int_eq(st, 1);
    char *got = slurp(out);
    ck_assert_str_eq(got, "[show][job][-o][4711]\n"
                          "slurm_load_jobs error: Invalid job id specified\n");
    int state = 0;
    ck_assert_int_eq(l.ops->parse_state(st, got, &state, NULL), 0);
    ck_assert_int_eq(state, MPIMAP_JOB_DONE);
    free(got);
    mpimap_strv_free(&sv);
    if (saved)
        ck_assert_int_eq(setenv("PATH", saved, 1), 0);
    free(saved);
    free(path);
    ck_assert_int_eq(unlink(fake), 0);
    ck_assert_int_eq(unlink(out), 0);
    ck_assert_int_eq(rmdir(t), 0);
    free(fake);
    free(out);
    unload(&l);
}
END_TEST

/* ---- parse_jobid ------------------------------------------------------------------- */

START_TEST(parse_jobid)
{
    loaded l = load();
    static const struct {
        const char *out, *id;
    } ok[] = {
        {"123\n", "123"},               /* sbatch --parsable, this cluster */
        {"123;mpimap\n", "123"},        /* ... on a multi-cluster setup */
        {"4242", "4242"},
        {"  9 \r\n\n", "9"},
        {"sbatch: some note\n88\n", "88"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *id = NULL, *error = NULL;
        ck_assert_int_eq(l.ops->parse_jobid(ok[i].out, &id, &error), 0);
        ck_assert_ptr_null(error);
        ck_assert_str_eq(id, ok[i].id);
        free(id);
    }
    static const char *const bad[] = {"", "\n", "Submitted batch job 12\n", ";x\n", "12a\n",
                                      "-1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *id = (char *)"x", *error = NULL;
        ck_assert_int_eq(l.ops->parse_jobid(bad[i], &id, &error), MPIMAP_EINVAL);
        ck_assert_ptr_null(id);
        ck_assert_ptr_nonnull(error);
        ck_assert(strncmp(error, "slurm: no job id in what sbatch printed: ", 41) == 0);
        free(error);
    }
    char *id = NULL, *error = NULL;
    ck_assert_int_eq(l.ops->parse_jobid(NULL, &id, &error), MPIMAP_EINVAL);
    free(error);
    unload(&l);
}
END_TEST

/* ---- parse_state on real scontrol output ------------------------------------------- */

/* A case's scontrol output: tests/golden/slurm/scontrol/FILE (read into
 * *owned, to be freed) or, without a file, text. */
static const char *case_text(const char *file, const char *text, char **owned)
{
    *owned = NULL;
    if (!file)
        return text;
    char *path = NULL;
    ck_assert_int_ge(asprintf(&path, GOLDEN_DIR "scontrol/%s", file), 0);
    *owned = slurp(path);
    ck_assert_msg(*owned != NULL, "cannot read %s", path);
    free(path);
    return *owned;
}

typedef struct state_case {
    const char *file; /* tests/golden/slurm/scontrol/FILE, or NULL: text */
    const char *text;
    int exit_status;
    int rc, state;
    const char *detail;
} state_case;

static const state_case stcases[] = {
    {"pending.txt", NULL, 0, 0, MPIMAP_JOB_QUEUED, "reason: Resources"},
    {"held.txt", NULL, 0, 0, MPIMAP_JOB_QUEUED, "reason: JobHeldUser"},
    {"dependency_odd_name.txt", NULL, 0, 0, MPIMAP_JOB_QUEUED, "reason: Dependency"},
    {"running.txt", NULL, 0, 0, MPIMAP_JOB_RUNNING, "nodes: vm"},
    {"completing.txt", NULL, 0, 0, MPIMAP_JOB_RUNNING, "nodes: vm"},
    {"completed.txt", NULL, 0, 0, MPIMAP_JOB_DONE, "nodes: vm"},
    /* The script's own non-zero exit: the job directory tells why. */
    {"failed.txt", NULL, 0, 0, MPIMAP_JOB_DONE, "reason: NonZeroExitCode; nodes: vm"},
    {"cancelled_pending.txt", NULL, 0, 0, MPIMAP_JOB_CANCELLED, "reason: Resources"},
    {"cancelled.txt", NULL, 0, 0, MPIMAP_JOB_CANCELLED, "nodes: vm"},
    {"timeout.txt", NULL, 0, 0, MPIMAP_JOB_TIMEOUT, "reason: TimeLimit; nodes: vm"},
    /* Exit status 1, standard error included (see query_job): the job
     * has left the controller; the controller did not answer (no state:
     * the driver asks again). */
    {"invalid.txt", NULL, 1, 0, MPIMAP_JOB_DONE, NULL},
    {"unreachable.txt", NULL, 1, MPIMAP_EINVAL, 0, NULL},
    {NULL, "", 1, MPIMAP_EINVAL, 0, NULL},
    /* Made up from the real lines: states this cluster does not produce
     * on demand, and a Reason with blanks. */
    {NULL,
     "JobId=7 JobName=x UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=1 Nice=0 "
     "Account=(null) QOS=(null) JobState=NODE_FAIL Reason=NodeDown Dependency=(null) "
     "Partition=debug ReqNodeList=(null) ExcNodeList=(null) NodeList=n[1-4] BatchHost=n1\n",
     0, 0, MPIMAP_JOB_FAILED, "reason: NodeDown; nodes: n[1-4]"},
    {NULL,
     "JobId=7 JobName=x QOS=(null) JobState=OUT_OF_MEMORY Reason=OutOfMemory "
     "Dependency=(null) NodeList=n1\n",
     0, 0, MPIMAP_JOB_FAILED, "reason: OutOfMemory; nodes: n1"},
    {NULL, "JobId=7 JobName=x JobState=FAILED Reason=JobLaunchFailure NodeList=n1\n", 0, 0,
     MPIMAP_JOB_FAILED, "reason: JobLaunchFailure; nodes: n1"},
    {NULL, "JobId=7 JobName=x JobState=BOOT_FAIL Reason=None NodeList=(null)\n", 0, 0,
     MPIMAP_JOB_FAILED, NULL},
    {NULL, "JobId=7 JobName=x JobState=DEADLINE Reason=DeadLine NodeList=\n", 0, 0,
     MPIMAP_JOB_TIMEOUT, "reason: DeadLine"},
    {NULL, "JobId=7 JobName=x JobState=CONFIGURING Reason=None NodeList=n1\n", 0, 0,
     MPIMAP_JOB_QUEUED, "nodes: n1"},
    {NULL,
     "JobId=7 JobName=a b JobState=PENDING Reason=(ReqNodeNotAvail, "
     "UnavailableNodes:n3) Dependency=(null) NodeList=(null)\n",
     0, 0, MPIMAP_JOB_QUEUED, "reason: (ReqNodeNotAvail, UnavailableNodes:n3)"},
    /* An array job: one line per task, the first one counts. */
    {NULL,
     "JobId=8 ArrayJobId=8 ArrayTaskId=1 JobName=x JobState=RUNNING Reason=None "
     "NodeList=n1\nJobId=9 ArrayJobId=8 ArrayTaskId=2 JobName=x JobState=PENDING "
     "Reason=Resources NodeList=\n",
     0, 0, MPIMAP_JOB_RUNNING, "nodes: n1"},
    /* What cannot be read is an error, never a guess. */
    {NULL, "", 0, MPIMAP_EINVAL, 0, NULL},
    {NULL, "JobId=7 JobState=WEIRD Reason=None\n", 0, MPIMAP_EINVAL, 0, NULL},
    {NULL, "JobId=7 MyJobState=RUNNING\n", 0, MPIMAP_EINVAL, 0, NULL},
    {NULL, "slurm_load_jobs error: Unable to contact slurm controller\n", 1, MPIMAP_EINVAL,
     0, NULL},
};
#define NSTCASES ((int)(sizeof stcases / sizeof stcases[0]))

START_TEST(parse_state)
{
    const state_case *c = &stcases[_i];
    loaded l = load();
    char *owned = NULL;
    const char *text = case_text(c->file, c->text, &owned);
    int state = -1;
    char *detail = NULL;
    int rc = l.ops->parse_state(c->exit_status, text, &state, &detail);
    ck_assert_msg(rc == c->rc, "case %d (%s): rc %d, wanted %d", _i,
                  c->file ? c->file : c->text, rc, c->rc);
    if (rc == 0) {
        ck_assert_msg(state == c->state, "case %d (%s): state %d, wanted %d", _i,
                      c->file ? c->file : c->text, state, c->state);
        if (c->detail)
            ck_assert_str_eq(detail ? detail : "(null)", c->detail);
        else
            ck_assert_ptr_null(detail);
    }
    free(detail);
    /* detail may be NULL */
    if (rc == 0)
        ck_assert_int_eq(l.ops->parse_state(c->exit_status, text, &state, NULL), 0);
    free(owned);
    unload(&l);
}
END_TEST

/* ---- parse_end_time ------------------------------------------------------------------ */

typedef struct end_case {
    const char *file; /* tests/golden/slurm/scontrol/FILE, or NULL: text */
    const char *text;
    int exit_status;
    int rc;
    int64_t left; /* seconds from now to the end; -1: no end (0) */
} end_case;

static const end_case endcases[] = {
    /* A real job of `sbatch --time=2:00`, 4 s in. */
    {"running_limit.txt", NULL, 0, 0, 116},
    /* No limit; not running yet (its EndTime is an estimate); over. */
    {"running.txt", NULL, 0, 0, -1},
    {"pending.txt", NULL, 0, 0, -1},
    {"completed.txt", NULL, 0, 0, -1},
    {"timeout.txt", NULL, 0, 0, -1},
    {"invalid.txt", NULL, 1, 0, -1},
    {NULL, "JobId=7 JobState=RUNNING RunTime=1-02:03:04 TimeLimit=2-00:00:00 NodeList=n1\n", 0,
     0, 86400 - (2 * 3600 + 3 * 60 + 4)},
    {NULL, "JobId=7 JobState=RUNNING RunTime=00:10 TimeLimit=01:00 NodeList=n1\n", 0, 0, 50},
    /* Past its limit (the kill is on its way): now. */
    {NULL, "JobId=7 JobState=RUNNING RunTime=00:01:03 TimeLimit=00:01:00 NodeList=n1\n", 0, 0, 0},
    {NULL, "JobId=7 JobState=RUNNING RunTime=00:00:03 TimeLimit=Partition_Limit\n", 0, 0, -1},
    {NULL, "JobId=7 JobState=SUSPENDED RunTime=00:00:03 TimeLimit=00:01:00\n", 0, 0, -1},
    /* A limit with a RunTime that cannot be read is an error, not a guess. */
    {NULL, "JobId=7 JobState=RUNNING RunTime=soon TimeLimit=00:01:00\n", 0, MPIMAP_EINVAL, -1},
    {NULL, "JobId=7 JobState=RUNNING TimeLimit=00:01:00\n", 0, MPIMAP_EINVAL, -1},
    {NULL, "JobId=7 JobState=RUNNING RunTime=00:00:3x TimeLimit=00:01:00\n", 0, MPIMAP_EINVAL,
     -1},
    {NULL, "JobId=7 JobState=RUNNING RunTime=1-00:03 TimeLimit=00:01:00\n", 0, MPIMAP_EINVAL,
     -1},
    {NULL, "", 0, 0, -1},
};
#define NENDCASES ((int)(sizeof endcases / sizeof endcases[0]))

START_TEST(parse_end_time)
{
    const end_case *c = &endcases[_i];
    loaded l = load();
    ck_assert(l.ops->size >= offsetof(struct mpimap_launcher_ops, parse_end_time) +
                                 sizeof l.ops->parse_end_time);
    ck_assert(l.ops->parse_end_time != NULL);
    char *owned = NULL;
    const char *text = case_text(c->file, c->text, &owned);
    const int64_t now = 1764770000;
    int64_t end = -7;
    int rc = l.ops->parse_end_time(c->exit_status, text, now, &end);
    ck_assert_msg(rc == c->rc, "case %d: rc %d, wanted %d", _i, rc, c->rc);
    if (rc == 0)
        ck_assert_msg(end == (c->left < 0 ? 0 : now + c->left),
                      "case %d: end now%+lld, wanted %lld", _i, (long long)(end - now),
                      (long long)c->left);
    ck_assert_int_eq(l.ops->parse_end_time(0, NULL, now, &end), 0);
    ck_assert_int_eq(end, 0);
    free(owned);
    unload(&l);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("slurm");
    TCase *td = tcase_create("descriptor");
    tcase_add_test(td, descriptor);
    tcase_add_test(td, query_path);
    suite_add_tcase(s, td);
    TCase *ts = tcase_create("script");
    tcase_add_loop_test(ts, golden_scripts, 0, NSCASES);
    tcase_add_test(ts, directives_read_back);
    tcase_add_test(ts, hostile_script_runs_inert);
    tcase_add_loop_test(ts, bad_specs, 0, NBCASES);
    suite_add_tcase(s, ts);
    TCase *tj = tcase_create("jobs");
    tcase_add_test(tj, commands);
    tcase_add_test(tj, query_runs);
    tcase_add_test(tj, parse_jobid);
    tcase_add_loop_test(tj, parse_state, 0, NSTCASES);
    tcase_add_loop_test(tj, parse_end_time, 0, NENDCASES);
    suite_add_tcase(s, tj);
    return s;
}
