/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_batch.c - the scheduler launcher plugins pbs, torque, moab, lsf and
 * sge: their descriptors; the job scripts they render, byte for byte against
 * golden files (tests/golden/<launcher>/<case>.sh, or <case>.err for a
 * refusal; torque is checked against pbs's files: the same behaviour), each
 * passed through `bash -n`; the options each scheduler cannot express; the
 * submit, query and cancel commands; job ids and states parsed from real
 * scheduler output; and hostile strings: a rendered script run by bash
 * executes nothing it should not (a canary file is never created) and hands
 * the exported values over byte for byte.
 *
 * MPIMAP_GOLDEN_UPDATE=1 rewrites the golden files instead of comparing.
 */
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

#include "shellquote.h"

/* The launchers are built in <builddir>/plugins/launchers; TEST_PLUGIN_DIR
 * is <builddir>/tests/plugins. */
#define LAUNCHER_DIR TEST_PLUGIN_DIR "/../../plugins/launchers/"
#define GOLDEN_DIR TEST_SOURCE_DIR "/golden/"

static const char *const launchers[] = {"pbs", "torque", "moab", "lsf", "sge"};
#define NLAUNCHERS ((int)(sizeof launchers / sizeof launchers[0]))

typedef struct loaded {
    void *handle;
    const struct mpimap_plugin *plugin;
    const struct mpimap_launcher_ops *ops;
} loaded;

static loaded load(const char *name)
{
    char *path = NULL;
    ck_assert_int_ge(asprintf(&path, LAUNCHER_DIR "mpimap_launcher_%s.so", name), 0);
    loaded l;
    l.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(l.handle != NULL, "dlopen %s: %s", path, dlerror());
    free(path);
    l.plugin = dlsym(l.handle, MPIMAP_PLUGIN_SYMBOL);
    ck_assert_ptr_nonnull(l.plugin);
    ck_assert_uint_eq(l.plugin->magic, MPIMAP_PLUGIN_MAGIC);
    ck_assert_uint_eq(l.plugin->abi_major, MPIMAP_ABI_MAJOR);
    ck_assert_uint_eq(l.plugin->abi_minor, MPIMAP_ABI_MINOR);
    ck_assert_uint_eq(l.plugin->kind, MPIMAP_KIND_LAUNCHER);
    ck_assert_str_eq(l.plugin->name, name);
    l.ops = l.plugin->ops;
    ck_assert_ptr_nonnull(l.ops);
    ck_assert_uint_eq(l.ops->size, sizeof(struct mpimap_launcher_ops));
    return l;
}

static void unload(loaded *l)
{
    ck_assert_int_eq(dlclose(l->handle), 0);
}

/* pbs and torque share their golden files and their messages' wording. */
static const char *family(const char *name)
{
    return strcmp(name, "torque") == 0 ? "pbs" : name;
}

/* ---- files and processes ------------------------------------------------- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (len + 1 >= cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        buf[len++] = (char)c;
    }
    fclose(f);
    if (!buf)
        buf = calloc(1, 1);
    ck_assert_ptr_nonnull(buf);
    buf[len] = '\0';
    return buf;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    size_t n = strlen(text);
    ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
    ck_assert_int_eq(close(fd), 0);
}

static char *make_tmpdir(void)
{
    char *dir = strdup("/tmp/mpimap-batch-XXXXXX");
    ck_assert_ptr_nonnull(dir);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static char *join(const char *a, const char *b)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", a, b), 0);
    return p;
}

static void remove_tree(const char *dir)
{
    char *cmd = NULL;
    char *q = mpimap_shell_quote(dir);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_ge(asprintf(&cmd, "rm -rf -- %s", q), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    free(q);
}

/* Run argv (no shell) in dir with envp (NULL: ours), standard output to a
 * string (*out, when not NULL); its wait status. */
static int run(const char *const *argv, const char *dir, char *const *envp, char **out)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], STDOUT_FILENO);
        close(p[1]);
        if (dir && chdir(dir) != 0)
            _exit(126);
        if (envp)
            execve(argv[0], (char *const *)argv, envp);
        else
            execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4097) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        ssize_t n = read(p[0], buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(p[0]);
    buf[len] = '\0';
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    if (out)
        *out = buf;
    else
        free(buf);
    return st;
}

/* `bash -n` accepts text. */
static void assert_bash_syntax(const char *text, const char *what)
{
    char *dir = make_tmpdir();
    char *path = join(dir, "job.sh");
    write_file(path, text, 0600);
    const char *argv[] = {"/bin/bash", "-n", path, NULL};
    int st = run(argv, NULL, NULL, NULL);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: bash -n rejects the script:\n%s",
                  what, text);
    free(path);
    remove_tree(dir);
    free(dir);
}

/* ---- specs ---------------------------------------------------------------- */

static const char *const NONE[] = {NULL};

#define JOBDIR "/scratch/u1/mpimap-Ab12Cd"
#define INNER "mpirun -np 4 -x MPIMAP_PLUGIN_PATH /opt/mpimap/libexec/mpimap-worker " \
              JOBDIR "/spec"

static struct mpimap_launch_spec base_spec(int np)
{
    struct mpimap_launch_spec s;
    memset(&s, 0, sizeof s);
    s.size = (uint32_t)sizeof s;
    s.np = np;
    s.jobdir = JOBDIR;
    s.env = NONE;
    s.launcher_args = NONE;
    s.exports = NONE;
    s.sched_args = NONE;
    s.inner_command = INNER;
    s.log_path = JOBDIR "/job.log";
    return s;
}

/* Scheduler arguments that mean something to each scheduler. */
static const char *const *sched_args_of(const char *name)
{
    static const char *const pbs[] = {"-m abe", "-l gres=gpu:1", "-W depend=afterok:1233.head",
                                      NULL};
    static const char *const moab[] = {"-m abe", "-l feature=fast", NULL};
    static const char *const lsf[] = {"-sla gold", "-R \"select[type==X86_64]\"", "-B", NULL};
    static const char *const sge[] = {"-pe orte", "-l h_vmem=2G", "-m e", NULL};
    name = family(name);
    if (strcmp(name, "pbs") == 0)
        return pbs;
    if (strcmp(name, "moab") == 0)
        return moab;
    if (strcmp(name, "lsf") == 0)
        return lsf;
    return sge;
}

/* Hostile values; %1$s is replaced by a canary path (a command that ran
 * would create it). */
static const char *const hostile_exports_fmt[] = {
    "SQ=it's",
    "CMD=$(touch %1$s)",
    "BQ=`touch %1$s`",
    "NL=line1\ntouch %1$s\nline3",
    "SEMI=x; touch %1$s; y",
    "DQ=\"$(touch %1$s)\" '$(touch %1$s)'",
    "SP=  two  spaces\tand a tab ",
    "EMPTY=",
    "GLOB=*?[a]",
    "BANG=!! !$",
    "EQ=a=b=c",
    "UTF=h\xc3\xa9llo \xe2\x9c\x93",
    "BARE_VAR",
    NULL};
#define NHOSTILE (sizeof hostile_exports_fmt / sizeof hostile_exports_fmt[0] - 1)

typedef struct hostile {
    char *exports[NHOSTILE + 1];
    char *job_name, *queue, *account;
} hostile;

static void hostile_make(hostile *h, const char *canary)
{
    for (size_t i = 0; i < NHOSTILE; i++)
        ck_assert_int_ge(asprintf(&h->exports[i], hostile_exports_fmt[i], canary), 0);
    h->exports[NHOSTILE] = NULL;
    ck_assert_int_ge(asprintf(&h->job_name, "n'; touch %s; '", canary), 0);
    ck_assert_int_ge(asprintf(&h->queue, "q $(touch %s) \"x\"", canary), 0);
    ck_assert_int_ge(asprintf(&h->account, "`touch %s`;&|<>", canary), 0);
}

static void hostile_free(hostile *h)
{
    for (size_t i = 0; i < NHOSTILE; i++)
        free(h->exports[i]);
    free(h->job_name);
    free(h->queue);
    free(h->account);
}

/* ---- descriptors ---------------------------------------------------------- */

START_TEST(descriptors)
{
    static const char *const programs[] = {"qsub", "qsub", "msub", "bsub", "qsub"};
    loaded l = load(launchers[_i]);
    ck_assert_ptr_nonnull(l.plugin->description);
    uint32_t want = MPIMAP_LAUNCHER_BATCH;
    if (strcmp(launchers[_i], "lsf") == 0)
        want |= MPIMAP_LAUNCHER_SCRIPT_ON_STDIN;
    ck_assert_uint_eq(l.ops->flags, want);
    ck_assert_str_eq(l.ops->program, programs[_i]);
    ck_assert_str_eq(l.ops->inner, "mpirun");
    ck_assert(l.ops->render == NULL);
    ck_assert(l.ops->script && l.ops->submit && l.ops->parse_jobid && l.ops->query_job &&
              l.ops->parse_state && l.ops->cancel);
    /* never auto-selected: submitting a job is the user's decision */
    ck_assert(l.plugin->query != NULL);
    ck_assert_int_eq(l.plugin->query(), -1);
    unload(&l);
}
END_TEST

/* ---- golden scripts ------------------------------------------------------- */

enum { F_NODES = 1, F_PPN = 2, F_QOS = 4, F_RES = 8, F_MEM = 16 };

/* The options a scheduler has no directive for. */
static int unsupported(const char *name)
{
    name = family(name);
    if (strcmp(name, "pbs") == 0)
        return F_QOS | F_RES;
    if (strcmp(name, "lsf") == 0)
        return F_QOS;
    if (strcmp(name, "sge") == 0)
        return F_NODES | F_PPN | F_QOS | F_MEM;
    return 0;
}

typedef struct gcase {
    const char *name;
    int np, nodes, ppn, cpus;
    long walltime;
    const char *queue, *qos, *account, *job_name, *reservation, *mem;
    const char *exports[4];
    int sched;    /* the launcher's scheduler arguments */
    int hostile;  /* hostile exports and names (canary /nonexistent/canary) */
    int drop;     /* leave out what the scheduler cannot express */
} gcase;

static const gcase gcases[] = {
    {"minimal", 4, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, {NULL}, 0, 0, 0},
    {"everything", 8, 2, 4, 2, 5430, "batch", "high", "proj42", "mymap", "resv7", "4G",
     {"OMP_NUM_THREADS=2", "DATA_HOME", "MPIMAP_PLUGIN_PATH=/opt/mpimap/plugins", NULL}, 1, 0,
     1},
    {"nodes_ppn_cpus", 6, 2, 3, 2, 0, NULL, NULL, NULL, NULL, NULL, NULL, {NULL}, 0, 0, 0},
    {"ppn_only", 5, 0, 2, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, {NULL}, 0, 0, 0},
    {"cpus_only", 3, 0, 0, 4, 90, NULL, NULL, NULL, NULL, NULL, "1536M", {NULL}, 0, 0, 1},
    {"mem_nodes", 4, 2, 0, 0, 3600, NULL, NULL, NULL, NULL, NULL, "1536M", {NULL}, 0, 0, 0},
    {"hostile", 2, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, {NULL}, 0, 1, 0},
    {"sched_args", 2, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, {NULL}, 1, 0, 0},
};
#define NGCASES ((int)(sizeof gcases / sizeof gcases[0]))

static struct mpimap_launch_spec spec_of_case(const gcase *c, const char *launcher,
                                              hostile *h)
{
    struct mpimap_launch_spec s = base_spec(c->np);
    int un = c->drop ? unsupported(launcher) : 0;
    s.nodes = un & F_NODES ? 0 : c->nodes;
    s.ppn = un & F_PPN ? 0 : c->ppn;
    s.cpus_per_rank = c->cpus;
    s.walltime = c->walltime;
    s.queue = c->queue;
    s.qos = un & F_QOS ? NULL : c->qos;
    s.account = c->account;
    s.job_name = c->job_name;
    s.reservation = un & F_RES ? NULL : c->reservation;
    s.mem = un & F_MEM ? NULL : c->mem;
    if (c->exports[0])
        s.exports = c->exports;
    if (c->sched)
        s.sched_args = sched_args_of(launcher);
    if (c->hostile) {
        s.exports = (const char *const *)h->exports;
        s.job_name = h->job_name;
        s.queue = h->queue;
        s.account = h->account;
        s.jobdir = "/scratch/u1/job dir 'sq' \"dq\" `touch /nonexistent/canary` ;&|<>";
        s.log_path = "/scratch/u1/job dir 'sq' \"dq\" `touch /nonexistent/canary` ;&|<>/job.log";
    }
    return s;
}

static int updating(void)
{
    const char *u = getenv("MPIMAP_GOLDEN_UPDATE");
    return u && strcmp(u, "1") == 0;
}

/* Compare text with the golden file (or write it when updating). */
static void golden(const char *launcher, const char *casename, const char *ext,
                   const char *text)
{
    char *dir = NULL, *path = NULL;
    ck_assert_int_ge(asprintf(&dir, GOLDEN_DIR "%s", family(launcher)), 0);
    ck_assert_int_ge(asprintf(&path, "%s/%s.%s", dir, casename, ext), 0);
    /* a refusal and a script never both stand for one case */
    char *other = NULL;
    ck_assert_int_ge(asprintf(&other, "%s/%s.%s", dir, casename,
                              strcmp(ext, "sh") == 0 ? "err" : "sh"),
                     0);
    if (updating() && strcmp(launcher, "torque") != 0) {
        mkdir(GOLDEN_DIR, 0755);
        mkdir(dir, 0755);
        unlink(other);
        write_file(path, text, 0644);
    } else {
        char *want = read_file(path);
        ck_assert_msg(want != NULL,
                      "%s: no golden file %s (run with MPIMAP_GOLDEN_UPDATE=1 to write it)",
                      launcher, path);
        ck_assert_msg(strcmp(want, text) == 0, "%s %s differs from %s:\n--- got\n%s--- want\n%s",
                      launcher, casename, path, text, want);
        ck_assert_msg(access(other, F_OK) != 0, "both %s and %s exist", path, other);
        free(want);
    }
    free(other);
    free(path);
    free(dir);
}

START_TEST(golden_scripts)
{
    const char *launcher = launchers[_i / NGCASES];
    const gcase *c = &gcases[_i % NGCASES];
    loaded l = load(launcher);
    hostile h;
    hostile_make(&h, "/nonexistent/canary");
    struct mpimap_launch_spec s = spec_of_case(c, launcher, &h);
    char *text = NULL, *error = NULL;
    int rc = l.ops->script(&s, &text, &error);
    if (rc == 0) {
        ck_assert_ptr_nonnull(text);
        ck_assert_ptr_null(error);
        golden(launcher, c->name, "sh", text);
        assert_bash_syntax(text, c->name);
        /* the inner command is the last line, untouched */
        size_t n = strlen(text), m = strlen(INNER);
        ck_assert(n > m + 1 && strcmp(text + n - m - 1, INNER "\n") == 0);
    } else {
        ck_assert_int_eq(rc, MPIMAP_EINVAL);
        ck_assert_ptr_null(text);
        ck_assert_ptr_nonnull(error);
        char *msg = NULL;
        /* torque says "torque:" where pbs says "pbs:" */
        const char *body = strchr(error, ':');
        ck_assert_ptr_nonnull(body);
        ck_assert_int_ge(asprintf(&msg, "%s%s\n", family(launcher), body), 0);
        ck_assert_msg(strncmp(error, launcher, strlen(launcher)) == 0, "%s", error);
        golden(launcher, c->name, "err", msg);
        free(msg);
    }
    free(text);
    free(error);
    hostile_free(&h);
    unload(&l);
}
END_TEST

/* ---- what each scheduler cannot express ---------------------------------- */

typedef struct refusal {
    const char *launcher;
    int field;
    const char *error; /* exact */
} refusal;

static const refusal refusals[] = {
    {"pbs", F_QOS, "pbs: --qos has no equivalent in PBS/Torque (under Moab, use --launcher moab)"},
    {"torque", F_QOS,
     "torque: --qos has no equivalent in PBS/Torque (under Moab, use --launcher moab)"},
    {"pbs", F_RES,
     "pbs: --reservation has no equivalent in PBS/Torque (PBS Pro: give the reservation's "
     "queue with --queue; under Moab, use --launcher moab)"},
    {"lsf", F_QOS,
     "lsf: --qos has no equivalent in LSF (for a service class, use --sched-arg '-sla NAME')"},
    {"sge", F_QOS, "sge: --qos has no equivalent in Grid Engine"},
    {"sge", F_NODES,
     "sge: --nodes has no equivalent in Grid Engine (the parallel environment's "
     "allocation_rule places the slots: choose one with --sched-arg '-pe NAME')"},
    {"sge", F_PPN,
     "sge: --ppn has no equivalent in Grid Engine (the parallel environment's "
     "allocation_rule places the slots: choose one with --sched-arg '-pe NAME')"},
    {"sge", F_MEM,
     "sge: --mem (per node) has no equivalent in Grid Engine, which limits memory per slot "
     "(use --sched-arg '-l h_vmem=SIZE')"},
};
#define NREFUSALS ((int)(sizeof refusals / sizeof refusals[0]))

START_TEST(unsupported_options)
{
    const refusal *r = &refusals[_i];
    loaded l = load(r->launcher);
    struct mpimap_launch_spec s = base_spec(4);
    if (r->field == F_QOS)
        s.qos = "high";
    if (r->field == F_RES)
        s.reservation = "resv7";
    if (r->field == F_NODES)
        s.nodes = 2;
    if (r->field == F_PPN)
        s.ppn = 2;
    if (r->field == F_MEM)
        s.mem = "4G";
    char *text = NULL, *error = NULL;
    ck_assert_int_eq(l.ops->script(&s, &text, &error), MPIMAP_EINVAL);
    ck_assert_ptr_null(text);
    ck_assert_ptr_nonnull(error);
    ck_assert_str_eq(error, r->error);
    free(error);
    unload(&l);
}
END_TEST

/* Every option the scheduler lacks is refused, and every other one shows. */
START_TEST(every_option_shows)
{
    const char *launcher = launchers[_i];
    loaded l = load(launcher);
    int un = unsupported(launcher);
    struct mpimap_launch_spec s = base_spec(8);
    s.walltime = 3600;
    s.queue = "qqq";
    s.account = "aaa";
    s.job_name = "nnn";
    if (!(un & F_QOS))
        s.qos = "ooo";
    if (!(un & F_RES))
        s.reservation = "rrr";
    if (!(un & F_MEM))
        s.mem = "3G";
    static const char *const ex[] = {"EEE", NULL};
    s.exports = ex;
    static const char *const sa[] = {"-Z zzz", NULL};
    s.sched_args = sa;
    char *text = NULL, *error = NULL;
    ck_assert_int_eq(l.ops->script(&s, &text, &error), 0);
    static const char *const words[] = {"qqq", "aaa", "nnn", "ooo", "rrr", "3gb", "EEE",
                                        "-Z zzz", "1:00", JOBDIR "/job.log", NULL};
    for (size_t i = 0; words[i]; i++) {
        if ((un & F_QOS && strcmp(words[i], "ooo") == 0) ||
            (un & F_RES && strcmp(words[i], "rrr") == 0) ||
            (un & F_MEM && strcmp(words[i], "3gb") == 0))
            continue;
        ck_assert_msg(strcasestr(text, words[i]), "%s: '%s' is not in\n%s", launcher,
                      words[i], text);
    }
    ck_assert(strncmp(text, "#!/bin/bash\n", 12) == 0);
    free(text);
    unload(&l);
}
END_TEST

/* ---- spec checks ---------------------------------------------------------- */

typedef struct bad_case {
    const char *what;
    const char *launcher; /* NULL: every launcher (but sge for node shapes, which
                           * it refuses before it checks them) */
    const char *error;    /* after "<launcher>: " */
} bad_case;

static const bad_case bad_cases[] = {
    {"np 0", NULL, "-np must be at least 1"},
    {"nodes x ppn", NULL, "2 nodes x 3 ranks per node = 6 ranks, but -np is 5"},
    {"nodes divide", NULL, "-np 5 does not divide evenly over 2 nodes; give ranks per node"},
    {"negative cpus", NULL, "cpus per rank must not be negative (got -1)"},
    {"negative walltime", NULL, "the walltime must not be negative (got -5 s)"},
    {"no inner", NULL, "no command to run inside the job"},
    {"old spec", NULL, "launch spec is missing or too old for a scheduler (ABI 1.1 needed)"},
    {"newline in queue", NULL,
     "--queue must not hold a newline or another control character (it becomes a line of "
     "the job script)"},
    {"newline in name", NULL,
     "--job-name must not hold a newline or another control character (it becomes a line "
     "of the job script)"},
    {"newline in sched arg", NULL,
     "--sched-arg must not hold a newline or another control character (it becomes a line "
     "of the job script)"},
    {"empty account", NULL, "--account is empty"},
    {"bad export", NULL, "not a valid VAR or VAR=VALUE to export: \"1X=2\""},
    {"bad mem", "pbs", "--mem '4.5G': give a whole number of K, M, G or T (e.g. 4G, 500M)"},
    {"bad mem unit", "lsf", "--mem '4X': give a whole number of K, M, G or T (e.g. 4G, 500M)"},
    {"zero mem", "moab", "--mem '0G': give a whole number of K, M, G or T (e.g. 4G, 500M)"},
    {"colon in log", "pbs",
     "the log path '/a:b/job.log' holds ':', which qsub -o reads as HOST:PATH"},
    {"colon in log", "moab",
     "the log path '/a:b/job.log' holds ':', which msub -o reads as HOST:PATH"},
    {"dollar in log", "sge",
     "the log path '/a$b/job.log' holds ':' or '$', which qsub -o reads as HOST:PATH or a "
     "variable"},
    {"percent in log", "lsf",
     "the log path '/a%J/job.log' holds '%', which bsub -o expands (%J, %I)"},
    {"bracket in name", "lsf", "the job name 'a[1-4]' holds '[', which makes an LSF job array"},
    {"pe with slots", "sge",
     "--sched-arg '-pe mpi 8': name the parallel environment as '-pe NAME' (letters, "
     "digits, _ . - *); the slot count comes from -np"},
    {"pe without name", "sge",
     "--sched-arg '-pe': name the parallel environment as '-pe NAME' (letters, digits, _ . "
     "- *); the slot count comes from -np"},
};
#define NBAD ((int)(sizeof bad_cases / sizeof bad_cases[0]))

static struct mpimap_launch_spec bad_spec(const bad_case *b)
{
    struct mpimap_launch_spec s = base_spec(4);
    static const char *const bad_export[] = {"OK=1", "1X=2", NULL};
    static const char *const nl_arg[] = {"-m abe\ntouch /tmp/x", NULL};
    static const char *const pe8[] = {"-pe mpi 8", NULL};
    static const char *const pe0[] = {"-pe", NULL};
    const char *w = b->what;
    if (!strcmp(w, "np 0"))
        s.np = 0;
    else if (!strcmp(w, "nodes x ppn"))
        s.np = 5, s.nodes = 2, s.ppn = 3;
    else if (!strcmp(w, "nodes divide"))
        s.np = 5, s.nodes = 2;
    else if (!strcmp(w, "negative cpus"))
        s.cpus_per_rank = -1;
    else if (!strcmp(w, "negative walltime"))
        s.walltime = -5;
    else if (!strcmp(w, "no inner"))
        s.inner_command = NULL;
    else if (!strcmp(w, "old spec"))
        s.size = (uint32_t)offsetof(struct mpimap_launch_spec, walltime);
    else if (!strcmp(w, "newline in queue"))
        s.queue = "batch\ntouch /tmp/x";
    else if (!strcmp(w, "newline in name"))
        s.job_name = "a\rb";
    else if (!strcmp(w, "newline in sched arg"))
        s.sched_args = nl_arg;
    else if (!strcmp(w, "empty account"))
        s.account = "";
    else if (!strcmp(w, "bad export"))
        s.exports = bad_export;
    else if (!strcmp(w, "bad mem"))
        s.mem = "4.5G";
    else if (!strcmp(w, "bad mem unit"))
        s.mem = "4X";
    else if (!strcmp(w, "zero mem"))
        s.mem = "0G";
    else if (!strcmp(w, "colon in log"))
        s.log_path = "/a:b/job.log";
    else if (!strcmp(w, "dollar in log"))
        s.log_path = "/a$b/job.log";
    else if (!strcmp(w, "percent in log"))
        s.log_path = "/a%J/job.log";
    else if (!strcmp(w, "bracket in name"))
        s.job_name = "a[1-4]";
    else if (!strcmp(w, "pe with slots"))
        s.sched_args = pe8;
    else if (!strcmp(w, "pe without name"))
        s.sched_args = pe0;
    else
        ck_abort_msg("no such bad case: %s", w);
    return s;
}

START_TEST(bad_specs)
{
    const bad_case *b = &bad_cases[_i / NLAUNCHERS];
    const char *launcher = launchers[_i % NLAUNCHERS];
    if (b->launcher && strcmp(b->launcher, launcher) != 0)
        return;
    if (!b->launcher && strncmp(b->what, "nodes", 5) == 0 && strcmp(launcher, "sge") == 0)
        return;
    loaded l = load(launcher);
    struct mpimap_launch_spec s = bad_spec(b);
    char *text = NULL, *error = NULL;
    ck_assert_int_eq(l.ops->script(&s, &text, &error), MPIMAP_EINVAL);
    ck_assert_ptr_null(text);
    char *want = NULL;
    ck_assert_int_ge(asprintf(&want, "%s: %s", launcher, b->error), 0);
    ck_assert_ptr_nonnull(error);
    ck_assert_str_eq(error, want);
    free(want);
    free(error);
    /* no spec at all */
    error = NULL;
    ck_assert_int_eq(l.ops->script(NULL, &text, &error), MPIMAP_EINVAL);
    ck_assert_ptr_nonnull(error);
    free(error);
    unload(&l);
}
END_TEST

/* Memory sizes and walltimes, as each scheduler writes them. */
typedef struct unit_case {
    const char *launcher;
    int np, nodes;
    const char *mem;
    long walltime;
    const char *line; /* must be a line of the script */
} unit_case;

static const unit_case unit_cases[] = {
    {"pbs", 4, 2, "4G", 0, "#PBS -l mem=8gb"},
    {"pbs", 4, 0, "500M", 0, "#PBS -l mem=500mb"},
    {"pbs", 4, 2, "1536M", 0, "#PBS -l mem=3gb"},
    {"pbs", 4, 2, "1536m", 0, "#PBS -l mem=3gb"},
    {"pbs", 4, 1, "1024", 0, "#PBS -l mem=1gb"},
    {"pbs", 4, 1, "4gb", 0, "#PBS -l mem=4gb"},
    {"pbs", 4, 4, "1T", 0, "#PBS -l mem=4tb"},
    {"pbs", 4, 1, "100K", 0, "#PBS -l mem=100kb"},
    {"moab", 6, 3, "2G", 0, "#MSUB -l mem=6gb"},
    {"lsf", 4, 2, "4G", 0, "#BSUB -R \"span[ptile=2] rusage[mem=4GB/host]\""},
    {"lsf", 4, 0, "1536M", 0, "#BSUB -R \"rusage[mem=1536MB/host]\""},
    {"pbs", 1, 0, NULL, 90, "#PBS -l walltime=0:01:30"},
    {"pbs", 1, 0, NULL, 216000, "#PBS -l walltime=60:00:00"},
    {"moab", 1, 0, NULL, 59, "#MSUB -l walltime=0:00:59"},
    {"sge", 1, 0, NULL, 3661, "#$ -l h_rt=1:01:01"},
    {"lsf", 1, 0, NULL, 90, "#BSUB -W 0:02"},
    {"lsf", 1, 0, NULL, 60, "#BSUB -W 0:01"},
    {"lsf", 1, 0, NULL, 5430, "#BSUB -W 1:31"},
    {"lsf", 1, 0, NULL, 216000, "#BSUB -W 60:00"},
};
#define NUNITS ((int)(sizeof unit_cases / sizeof unit_cases[0]))

START_TEST(units)
{
    const unit_case *u = &unit_cases[_i];
    loaded l = load(u->launcher);
    struct mpimap_launch_spec s = base_spec(u->np);
    s.nodes = u->nodes;
    s.mem = u->mem;
    s.walltime = u->walltime;
    char *text = NULL, *error = NULL;
    ck_assert_int_eq(l.ops->script(&s, &text, &error), 0);
    char *line = NULL;
    ck_assert_int_ge(asprintf(&line, "\n%s\n", u->line), 0);
    ck_assert_msg(strstr(text, line), "%s: no line [%s] in\n%s", u->launcher, u->line, text);
    free(line);
    free(text);
    unload(&l);
}
END_TEST

/* No jobdir: cd to the scheduler's submit directory. */
START_TEST(submit_directory)
{
    static const char *const vars[] = {"\ncd \"$PBS_O_WORKDIR\"\n", "\ncd \"$PBS_O_WORKDIR\"\n",
                                       "\ncd \"$PBS_O_WORKDIR\"\n", "\ncd \"$LS_SUBCWD\"\n",
                                       "\ncd \"$SGE_O_WORKDIR\"\n"};
    loaded l = load(launchers[_i]);
    struct mpimap_launch_spec s = base_spec(2);
    s.jobdir = NULL;
    s.log_path = NULL;
    char *text = NULL, *error = NULL;
    ck_assert_int_eq(l.ops->script(&s, &text, &error), 0);
    ck_assert_msg(strstr(text, vars[_i]), "%s", text);
    ck_assert_msg(!strstr(text, "job.log"), "%s", text);
    assert_bash_syntax(text, "no jobdir");
    free(text);
    unload(&l);
}
END_TEST

/* ---- hostile strings, run by bash ----------------------------------------- */

/* Render the hostile case with a real canary path and job directory, run
 * the script as the scheduler would (a stand-in environment, from another
 * directory), and check that nothing ran but the inner command, that it
 * ran in the job directory, and that it saw every exported value exactly. */
START_TEST(hostile_run)
{
    const char *launcher = launchers[_i];
    loaded l = load(launcher);
    char *base = make_tmpdir();
    char *canary = join(base, "canary");
    char *elsewhere = join(base, "elsewhere");
    ck_assert_int_eq(mkdir(elsewhere, 0700), 0);
    char *jobdir = NULL;
    /* (not '$' for sge, whose qsub -o would read it as a variable) */
    /* (a name holds no '/': its canary is relative, to where the script runs) */
    ck_assert_int_ge(asprintf(&jobdir, "%s/job dir 'sq' \"dq\" `touch canary` ;&|<>%s", base,
                              strcmp(launcher, "sge") ? " $(touch canary)" : ""),
                     0);
    ck_assert_int_eq(mkdir(jobdir, 0700), 0);
    char *log = join(jobdir, "job.log");
    hostile h;
    hostile_make(&h, canary);

    /* The inner command prints every exported value and where it runs. */
    const char *argv[NHOSTILE + 8];
    size_t k = 0;
    argv[k++] = "/bin/sh";
    argv[k++] = "-c";
    argv[k++] = "for v in SQ CMD BQ NL SEMI DQ SP EMPTY GLOB BANG EQ UTF BARE_VAR; do "
                "eval \"val=\\${$v}\"; printf '%s=[%s]\\n' \"$v\" \"$val\"; done > out; "
                "pwd >> out";
    argv[k] = NULL;
    char *inner = mpimap_shell_join(argv);
    ck_assert_ptr_nonnull(inner);

    struct mpimap_launch_spec s = base_spec(2);
    s.exports = (const char *const *)h.exports;
    s.job_name = h.job_name;
    s.queue = h.queue;
    s.account = h.account;
    s.jobdir = jobdir;
    s.log_path = log;
    s.inner_command = inner;
    char *text = NULL, *error = NULL;
    int rc = l.ops->script(&s, &text, &error);
    ck_assert_msg(rc == 0, "%s: %s", launcher, error ? error : "?");
    char *script = join(base, "job.sh");
    write_file(script, text, 0700);

    /* The stand-in: what the scheduler gives a job, and BARE_VAR as qsub -v
     * (or bsub's copy of the environment) would pass it. */
    char *path_env = NULL;
    ck_assert_int_ge(asprintf(&path_env, "PATH=%s", getenv("PATH") ? getenv("PATH")
                                                                  : "/usr/bin:/bin"),
                     0);
    char *env[] = {path_env, "HOME=/nonexistent", "BARE_VAR=from the submit environment",
                   "PBS_JOBID=1.head", "PBS_O_WORKDIR=/nonexistent", "LSB_JOBID=1",
                   "LS_SUBCWD=/nonexistent", "JOB_ID=1", "SGE_O_WORKDIR=/nonexistent",
                   NULL};
    const char *bash[] = {"/bin/bash", script, NULL};
    int st = run(bash, elsewhere, env, NULL);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: the script failed (%d):\n%s",
                  launcher, st, text);
    ck_assert_msg(access(canary, F_OK) != 0, "%s: the canary was created:\n%s", launcher, text);

    /* What the inner command saw. */
    char *out_path = join(jobdir, "out");
    char *got = read_file(out_path);
    ck_assert_ptr_nonnull(got);
    char *want = NULL;
    size_t wl = 0;
    FILE *w = open_memstream(&want, &wl);
    ck_assert_ptr_nonnull(w);
    for (size_t i = 0; i < NHOSTILE; i++) {
        const char *e = h.exports[i];
        const char *eq = strchr(e, '=');
        if (eq)
            fprintf(w, "%.*s=[%s]\n", (int)(eq - e), e, eq + 1);
        else
            fprintf(w, "%s=[from the submit environment]\n", e);
    }
    fprintf(w, "%s\n", jobdir);
    fclose(w);
    ck_assert_msg(strcmp(got, want) == 0, "%s:\n--- got\n%s--- want\n%s", launcher, got, want);
    ck_assert_msg(access(canary, F_OK) != 0, "%s: the canary was created", launcher);
    char *canary2 = join(jobdir, "canary");
    char *canary3 = join(elsewhere, "canary");
    ck_assert(access(canary2, F_OK) != 0);
    ck_assert(access(canary3, F_OK) != 0);

    free(canary2);
    free(canary3);
    free(got);
    free(want);
    free(out_path);
    free(path_env);
    free(script);
    free(text);
    free(inner);
    hostile_free(&h);
    free(log);
    remove_tree(base);
    free(jobdir);
    free(elsewhere);
    free(canary);
    free(base);
    unload(&l);
}
END_TEST

/* ---- scheduler commands --------------------------------------------------- */

static void assert_argv(const mpimap_strv *sv, const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    for (size_t i = 0; i < n && i < sv->n; i++)
        ck_assert_msg(strcmp(sv->v[i], want[i]) == 0, "argv[%zu] is [%s], wanted [%s]", i,
                      sv->v[i], want[i]);
    ck_assert_uint_eq(sv->n, n);
    ck_assert_ptr_null(sv->v[n]);
}

#define SH "/bin/sh", "-c", "exec \"$@\" 2>&1", "sh"

START_TEST(commands)
{
    static const char *const submit[][5] = {
        {"qsub", "/j/job.sh", NULL}, {"qsub", "/j/job.sh", NULL}, {"msub", "/j/job.sh", NULL},
        {"bsub", NULL},              {"qsub", "-terse", "/j/job.sh", NULL}};
    static const char *const query[][9] = {
        {SH, "qstat", "-f", "-x", "42.head", NULL}, {SH, "qstat", "-f", "-x", "42.head", NULL},
        {SH, "checkjob", "42.head", NULL},          {SH, "bjobs", "-l", "42.head", NULL},
        {SH, "qstat", "-j", "42.head", NULL}};
    static const char *const cancel[][4] = {{"qdel", "42.head", NULL},
                                            {"qdel", "42.head", NULL},
                                            {"mjobctl", "-c", "42.head", NULL},
                                            {"bkill", "42.head", NULL},
                                            {"qdel", "42.head", NULL}};
    loaded l = load(launchers[_i]);
    struct mpimap_launch_spec s = base_spec(2);
    mpimap_strv sv = {0};
    char *error = NULL;
    ck_assert_int_eq(l.ops->submit(&s, "/j/job.sh", &sv, &error), 0);
    ck_assert_ptr_null(error);
    assert_argv(&sv, submit[_i]);
    mpimap_strv_free(&sv);
    ck_assert_int_eq(l.ops->query_job("42.head", &sv), 0);
    assert_argv(&sv, query[_i]);
    mpimap_strv_free(&sv);
    ck_assert_int_eq(l.ops->cancel("42.head", &sv), 0);
    assert_argv(&sv, cancel[_i]);
    mpimap_strv_free(&sv);
    /* ids that would read as options or split: refused, argv untouched */
    static const char *const bad[] = {"", "-x", "4 2", "4\n2", "42\t", NULL};
    ck_assert_int_eq(mpimap_strv_push(&sv, "keep"), 0);
    for (size_t i = 0; bad[i]; i++) {
        ck_assert_int_eq(l.ops->query_job(bad[i], &sv), MPIMAP_EINVAL);
        ck_assert_int_eq(l.ops->cancel(bad[i], &sv), MPIMAP_EINVAL);
        ck_assert_uint_eq(sv.n, 1);
    }
    ck_assert_int_eq(l.ops->query_job(NULL, &sv), MPIMAP_EINVAL);
    mpimap_strv_free(&sv);
    unload(&l);
}
END_TEST

/* ---- job ids -------------------------------------------------------------- */

typedef struct jobid_case {
    const char *launcher;
    const char *out; /* what the submit command printed */
    const char *id;  /* NULL: refused */
} jobid_case;

static const jobid_case jobid_cases[] = {
    {"pbs", "1234.pbsserver.example.org\n", "1234.pbsserver.example.org"},
    {"pbs", "4321.head\n", "4321.head"},
    {"torque", "88[].head.cluster\n", "88[].head.cluster"},
    {"pbs", "", NULL},
    {"pbs", "\n\n", NULL},
    {"moab", "\n1234\n", "1234"},
    {"moab", "\nMoab.5678\n", "Moab.5678"},
    {"moab", "   \n", NULL},
    {"moab", "WARNING:  cannot find default class, using 'batch'\n\nMoab.77\n\n", "Moab.77"},
    {"lsf", "Job <4242> is submitted to queue <normal>.\n", "4242"},
    {"lsf", "Job <77> is submitted to default queue <short>.\n", "77"},
    {"lsf", "Warning: job being submitted without an AFS token.\n"
            "Job <9001> is submitted to queue <long>.\n",
     "9001"},
    {"lsf", "Request aborted by esub. Job not submitted.\n", NULL},
    {"lsf", "Job <> is submitted\n", NULL},
    {"sge", "123\n", "123"},
    {"sge", "Your job 456 (\"mpimap\") has been submitted\n", "456"},
    {"sge", "789.1-10:1\n", "789"},
    {"sge", "Unable to run job: job rejected: the requested parallel environment \"mpi\" "
            "does not exist.\nExiting.\n",
     NULL},
};
#define NJOBIDS ((int)(sizeof jobid_cases / sizeof jobid_cases[0]))

START_TEST(jobids)
{
    const jobid_case *c = &jobid_cases[_i];
    loaded l = load(c->launcher);
    char *id = NULL, *error = NULL;
    int rc = l.ops->parse_jobid(c->out, &id, &error);
    if (c->id) {
        ck_assert_int_eq(rc, 0);
        ck_assert_ptr_null(error);
        ck_assert_str_eq(id, c->id);
    } else {
        ck_assert_int_eq(rc, MPIMAP_EINVAL);
        ck_assert_ptr_null(id);
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(strstr(error, "printed no job id"), "%s", error);
    }
    free(id);
    free(error);
    unload(&l);
}
END_TEST

/* ---- job states from real scheduler output -------------------------------- */

typedef struct state_case {
    const char *what;
    const char *launcher;
    int exit_status;
    const char *out;
    int rc;             /* 0 or the error */
    int state;
    const char *detail; /* NULL: none */
} state_case;

/* Torque 6 `qstat -f -x` prints one line of XML. */
#define TORQUE_XML(state, extra)                                                          \
    "<Data><Job><Job_Id>1234.head</Job_Id><Job_Name>mpimap</Job_Name>"                    \
    "<Job_Owner>u1@login1</Job_Owner><job_state>" state "</job_state><queue>batch</queue>" \
    "<server>head</server><Checkpoint>u</Checkpoint><ctime>1732500000</ctime>"            \
    "<Error_Path>login1:/scratch/u1/job.log</Error_Path>" extra                           \
    "<Resource_List><nodes>2:ppn=4</nodes><walltime>01:00:00</walltime></Resource_List>"  \
    "</Job></Data>\n"

#define PBSPRO(state, extra)                                          \
    "Job Id: 1234.pbs01\n"                                            \
    "    Job_Name = mpimap\n"                                         \
    "    Job_Owner = u1@login1.example.org\n"                         \
    "    job_state = " state "\n"                                     \
    "    queue = workq\n"                                             \
    "    server = pbs01\n"                                            \
    "    Checkpoint = u\n"                                            \
    "    ctime = Mon Nov 25 01:02:03 2024\n"                          \
    "    Error_Path = login1.example.org:/scratch/u1/job.log\n" extra \
    "    Resource_List.ncpus = 8\n"                                   \
    "    Resource_List.nodect = 2\n"                                  \
    "    Resource_List.select = 2:ncpus=4:mpiprocs=4\n"               \
    "    Resource_List.walltime = 01:00:00\n"                         \
    "    substate = 92\n"

#define CHECKJOB(state, extra)                                                    \
    "job 1234\n\n"                                                                \
    "AName: mpimap\n"                                                             \
    "State: " state " \n" extra                                                   \
    "Creds:  user:u1  group:users  class:batch  qos:normal\n"                     \
    "WallTime:   00:01:37 of 1:00:00\n"                                           \
    "SubmitTime: Mon Nov 25 01:02:03\n"                                           \
    "  (Time Queued  Total: 00:00:01  Eligible: 00:00:01)\n\n"                    \
    "Total Requested Tasks: 8\n\n"                                                \
    "Req[0]  TaskCount: 8  Partition: torque\n"                                   \
    "NodeCount:  2\n"

#define BJOBS_HEAD(status)                                                              \
    "\nJob <4242>, Job Name <mpimap>, User <u1>, Project <default>, Status <" status    \
    ">, Queue <n\n"                                                                     \
    "                     ormal>, Command <#!/bin/bash;# mpimap job for LSF: submit w\n" \
    "                     ith bsub < this file;#BSUB -n 8>, Share group charged </u1>\n"
#define BJOBS_SUBMIT                                                                     \
    "Mon Nov 25 01:02:03: Submitted from host <login1>, CWD <$HOME>, Output File </scra\n" \
    "                     tch/u1/job.log>, 8 Task(s), Requested Resources <span[ptile=4\n"  \
    "                     ]>;\n"
#define BJOBS_STARTED                                                                    \
    "Mon Nov 25 01:02:05: Started 8 Task(s) on Host(s) <4*node01> <4*node02>, Allocate\n" \
    "                     d 8 Slot(s) on Host(s) <4*node01> <4*node02>, Execution Home\n"  \
    "                      </home/u1>, Execution CWD </scratch/u1>;\n"

#define QSTAT_J_HEAD                                              \
    "==============================================================\n" \
    "job_number:                 1234\n"                          \
    "exec_file:                  job_scripts/1234\n"              \
    "submission_time:            Mon Nov 25 01:02:03 2024\n"      \
    "owner:                      u1\n"                            \
    "uid:                        1000\n"                          \
    "group:                      users\n"                         \
    "gid:                        100\n"                           \
    "sge_o_home:                 /home/u1\n"                      \
    "sge_o_log_name:             u1\n"                            \
    "sge_o_path:                 /usr/local/bin:/usr/bin:/bin\n"  \
    "sge_o_shell:                /bin/bash\n"                     \
    "sge_o_workdir:              /home/u1\n"                      \
    "sge_o_host:                 login1\n"                        \
    "account:                    sge\n"                           \
    "stderr_path_list:           NONE:NONE:/scratch/u1/job.log\n" \
    "merge:                      y\n"                             \
    "hard resource_list:         h_rt=3600\n"                     \
    "mail_list:                  u1@login1\n"                     \
    "notify:                     FALSE\n"                         \
    "job_name:                   mpimap\n"                        \
    "jobshare:                   0\n"                             \
    "shell_list:                 NONE:/bin/bash\n"                \
    "env_list:                   \n"                              \
    "script_file:                /scratch/u1/job.sh\n"            \
    "parallel environment:  mpi range: 8\n"                       \
    "binding:                    NONE\n"                          \
    "job_type:                   NONE\n"

static const state_case state_cases[] = {
    /* PBS: Torque's XML */
    {"torque queued", "torque", 0, TORQUE_XML("Q", ""), 0, MPIMAP_JOB_QUEUED, NULL},
    {"torque held", "pbs", 0, TORQUE_XML("H", ""), 0, MPIMAP_JOB_QUEUED, NULL},
    {"torque running", "pbs", 0,
     TORQUE_XML("R", "<exec_host>node01/0-3+node02/0-3</exec_host>"), 0, MPIMAP_JOB_RUNNING,
     "on node01/0-3+node02/0-3"},
    {"torque exiting", "pbs", 0, TORQUE_XML("E", ""), 0, MPIMAP_JOB_RUNNING, NULL},
    {"torque completed", "torque", 0, TORQUE_XML("C", "<exit_status>0</exit_status>"), 0,
     MPIMAP_JOB_DONE, "exit status 0"},
    {"torque failed map", "pbs", 0, TORQUE_XML("C", "<exit_status>1</exit_status>"), 0,
     MPIMAP_JOB_DONE, "exit status 1"},
    {"torque walltime", "torque", 0, TORQUE_XML("C", "<exit_status>-11</exit_status>"), 0,
     MPIMAP_JOB_TIMEOUT, "exit status -11: killed at its walltime"},
    {"torque exec failed", "pbs", 0, TORQUE_XML("C", "<exit_status>-1</exit_status>"), 0,
     MPIMAP_JOB_FAILED, "exit status -1: PBS could not run the job"},
    {"torque text", "pbs", 0,
     "Job Id: 1234.head\n    Job_Name = mpimap\n    job_state = C\n    exit_status = -11\n", 0,
     MPIMAP_JOB_TIMEOUT, "exit status -11: killed at its walltime"},
    {"torque unknown", "torque", 153, "qstat: Unknown Job Id 1234.head\n", 0, MPIMAP_JOB_DONE,
     NULL},
    {"torque unknown, silent", "torque", 153, "", 0, MPIMAP_JOB_DONE, NULL},
    {"torque down", "pbs", 1,
     "Cannot connect to default server host 'head' - check pbs_server daemon and/or "
     "trqauthd.\nqstat: cannot connect to server head (errno=111) Connection refused\n",
     MPIMAP_EIO, 0, NULL},
    /* PBS Pro's text */
    {"pbspro queued", "pbs", 0,
     PBSPRO("Q", "    comment = Not Running: Insufficient amount of resource: ncpus \n"), 0,
     MPIMAP_JOB_QUEUED, "Not Running: Insufficient amount of resource: ncpus"},
    {"pbspro running", "pbs", 0,
     PBSPRO("R", "    exec_host = node01/0*4+node02/0*4\n"
                 "    comment = Job run at Mon Nov 25 at 01:02 on (node01:ncpus=4)+(node02:ncp"
                 "us=4)\n"),
     0, MPIMAP_JOB_RUNNING, "on node01/0*4+node02/0*4"},
    {"pbspro suspended", "pbs", 0, PBSPRO("S", ""), 0, MPIMAP_JOB_RUNNING, NULL},
    {"pbspro finished", "pbs", 0, PBSPRO("F", "    Exit_status = 0\n"), 0, MPIMAP_JOB_DONE,
     "exit status 0"},
    {"pbspro walltime", "pbs", 0,
     PBSPRO("F", "    comment = Job run at Mon Nov 25 at 01:02 and terminated\n"
                 "    Exit_status = -29\n"),
     0, MPIMAP_JOB_TIMEOUT, "exit status -29: killed at its walltime"},
    {"pbspro -11 is not walltime", "pbs", 0, PBSPRO("F", "    Exit_status = -11\n"), 0,
     MPIMAP_JOB_FAILED, "exit status -11: PBS could not run the job"},
    {"pbspro signal", "pbs", 0, PBSPRO("F", "    Exit_status = 271\n"), 0, MPIMAP_JOB_DONE,
     "exit status 271"},
    {"pbspro deleted while queued", "pbs", 0, PBSPRO("F", ""), 0, MPIMAP_JOB_CANCELLED, NULL},
    {"pbspro history gone", "pbs", 35,
     "qstat: 1234.pbs01 Job has finished, use -x or -H to obtain historical job "
     "information\n",
     0, MPIMAP_JOB_DONE, NULL},
    {"pbs garbage", "pbs", 0, "hello\n", MPIMAP_EINVAL, 0, NULL},
    {"pbs odd state", "pbs", 0, PBSPRO("Z", ""), MPIMAP_EINVAL, 0, NULL},
    /* Moab's checkjob */
    {"moab idle", "moab", 0, CHECKJOB("Idle", ""), 0, MPIMAP_JOB_QUEUED, NULL},
    {"moab held", "moab", 0, CHECKJOB("BatchHold", ""), 0, MPIMAP_JOB_QUEUED, NULL},
    {"moab running", "moab", 0, CHECKJOB("Running", ""), 0, MPIMAP_JOB_RUNNING, NULL},
    {"moab completed", "moab", 0,
     CHECKJOB("Completed", "Completion Code: 0  Time: Mon Nov 25 01:05:00\n"), 0,
     MPIMAP_JOB_DONE, "completion code 0"},
    {"moab walltime (torque code)", "moab", 0,
     CHECKJOB("Completed", "Completion Code: -11  Time: Mon Nov 25 02:02:05\n"), 0,
     MPIMAP_JOB_TIMEOUT, "killed at its walltime"},
    {"moab removed", "moab", 0,
     CHECKJOB("Removed", "Completion Code: 271  Time: Mon Nov 25 01:03:00\n"), 0,
     MPIMAP_JOB_CANCELLED, NULL},
    {"moab removed at wallclock", "moab", 0,
     CHECKJOB("Removed", "Message[0]  job cancelled - MOAB_INFO:  job exceeded wallclock "
                         "limit\n"),
     0, MPIMAP_JOB_TIMEOUT, "killed at its walltime"},
    {"moab vacated", "moab", 0, CHECKJOB("Vacated", ""), 0, MPIMAP_JOB_FAILED,
     "vacated: the job's nodes were lost"},
    {"moab gone", "moab", 1, "ERROR:  invalid job specified (1234)\n", 0, MPIMAP_JOB_DONE,
     NULL},
    {"moab gone (cannot locate)", "moab", 1, "ERROR:  cannot locate job '1234'\n", 0,
     MPIMAP_JOB_DONE, NULL},
    {"moab down", "moab", 1,
     "ERROR:    cannot connect to Moab server 'head' (port 42559)\n", MPIMAP_EIO, 0, NULL},
    /* LSF's bjobs -l */
    {"lsf pending", "lsf", 0,
     BJOBS_HEAD("PEND") BJOBS_SUBMIT " PENDING REASONS:\n Job slot limit reached;\n", 0,
     MPIMAP_JOB_QUEUED, NULL},
    {"lsf running", "lsf", 0, BJOBS_HEAD("RUN") BJOBS_SUBMIT BJOBS_STARTED, 0,
     MPIMAP_JOB_RUNNING, NULL},
    {"lsf status split by the wrap", "lsf", 0,
     "\nJob <4242>, Job Name <a-long-job-name-here>, User <u1>, Project <default>, Status <R\n"
     "                     UN>, Queue <normal>, Command <job>\n" BJOBS_SUBMIT,
     0, MPIMAP_JOB_RUNNING, NULL},
    {"lsf done", "lsf", 0,
     BJOBS_HEAD("DONE") BJOBS_SUBMIT BJOBS_STARTED
     "Mon Nov 25 01:05:00: Done successfully. The CPU time used is 12.3 seconds.\n",
     0, MPIMAP_JOB_DONE, NULL},
    {"lsf exit code", "lsf", 0,
     BJOBS_HEAD("EXIT") BJOBS_SUBMIT BJOBS_STARTED
     "Mon Nov 25 01:05:00: Exited with exit code 1. The CPU time used is 0.2 seconds.\n",
     0, MPIMAP_JOB_DONE, "Exited with exit code 1. The CPU time used is 0.2 seconds."},
    {"lsf run limit", "lsf", 0,
     BJOBS_HEAD("EXIT") BJOBS_SUBMIT BJOBS_STARTED
     "Mon Nov 25 02:02:05: Exited with exit code 140. The CPU time used is 0.2 seco\n"
     "                     nds.\n"
     "Mon Nov 25 02:02:05: Completed <exit>; TERM_RUNLIMIT: job killed after reachi\n"
     "                     ng LSF run time limit.\n",
     0, MPIMAP_JOB_TIMEOUT, "TERM_RUNLIMIT: job killed after reaching LSF run time limit."},
    {"lsf killed by owner", "lsf", 0,
     BJOBS_HEAD("EXIT") BJOBS_SUBMIT
     "Mon Nov 25 01:03:00: Completed <exit>; TERM_OWNER: job killed by owner.\n",
     0, MPIMAP_JOB_CANCELLED, "TERM_OWNER: job killed by owner."},
    {"lsf memory limit", "lsf", 0,
     BJOBS_HEAD("EXIT") BJOBS_SUBMIT BJOBS_STARTED
     "Mon Nov 25 01:04:00: Completed <exit>; TERM_MEMLIMIT: job killed after reaching LSF "
     "memory usage limit.\n",
     0, MPIMAP_JOB_FAILED,
     "TERM_MEMLIMIT: job killed after reaching LSF memory usage limit."},
    {"lsf TERM_ in the command is not a reason", "lsf", 0,
     "\nJob <4242>, User <u1>, Project <default>, Status <EXIT>, Queue <normal>, Command <e"
     "cho TERM_RUNLIMIT>\n" BJOBS_SUBMIT,
     0, MPIMAP_JOB_DONE, NULL},
    {"lsf lost host", "lsf", 0, BJOBS_HEAD("UNKWN") BJOBS_SUBMIT, 0, MPIMAP_JOB_RUNNING,
     "LSF lost contact with the job's host (UNKWN)"},
    {"lsf not found", "lsf", 255, "Job <4242> is not found\n", 0, MPIMAP_JOB_DONE, NULL},
    {"lsf down", "lsf", 255, "LSF is down. Please wait ...\nbjobs: Failed in an LSF library "
                             "call: Failed to connect to mbatchd\n",
     MPIMAP_EIO, 0, NULL},
    {"lsf odd status", "lsf", 0, BJOBS_HEAD("WEIRD"), MPIMAP_EINVAL, 0, NULL},
    /* Grid Engine's qstat -j */
    {"sge queued", "sge", 0,
     QSTAT_J_HEAD "scheduling info:            (Collecting of scheduler job information "
                  "is turned off)\n",
     0, MPIMAP_JOB_QUEUED, NULL},
    {"sge running", "sge", 0,
     QSTAT_J_HEAD "start_time            1:    11/25/2024 01:02:05.123\n"
                  "job_state             1:    r\n"
                  "exec_host_list        1:    node01:4, node02:4\n"
                  "granted_req.          1:    h_rt=3600\n"
                  "usage                 1:    wallclock=00:01:38, cpu=00:06:14, mem=20.5 GBs, "
                  "io=0.0 GB, iow=0.0 s, ioops=1728, vmem=1.4G, maxvmem=1.4G\n"
                  "scheduling info:            -\n",
     0, MPIMAP_JOB_RUNNING, "on node01:4, node02:4"},
    {"sge being deleted", "sge", 0, QSTAT_J_HEAD "job_state             1:    dr\n", 0,
     MPIMAP_JOB_RUNNING, NULL},
    {"sge held", "sge", 0, QSTAT_J_HEAD "job_state             1:    hqw\n", 0,
     MPIMAP_JOB_QUEUED, NULL},
    {"sge error state", "sge", 0,
     QSTAT_J_HEAD "job_state             1:    Eqw\n"
                  "error reason          1:      11/25/2024 01:02:04 [1000:4711]: error: can't "
                  "chdir to /scratch/u1: No such file or directory\n",
     0, MPIMAP_JOB_FAILED,
     "error state: 11/25/2024 01:02:04 [1000:4711]: error: can't chdir to /scratch/u1: No "
     "such file or directory"},
    {"sge gone", "sge", 1, "Following jobs do not exist: \n1234\n", 0, MPIMAP_JOB_DONE, NULL},
    {"sge gone (8.1.9 wording)", "sge", 1, "Following jobs do not exist or permissions are "
                                           "not sufficient: \n1234\n",
     0, MPIMAP_JOB_DONE, NULL},
    {"sge down", "sge", 1,
     "error: commlib error: got select error (Connection refused)\nunable to send message to "
     "qmaster using port 6444 on host \"head\": got send error\n",
     MPIMAP_EIO, 0, NULL},
    {"sge garbage", "sge", 0, "hello\n", MPIMAP_EINVAL, 0, NULL},
};
#define NSTATES ((int)(sizeof state_cases / sizeof state_cases[0]))

START_TEST(states)
{
    const state_case *c = &state_cases[_i];
    loaded l = load(c->launcher);
    int state = -1;
    char *detail = NULL;
    int rc = l.ops->parse_state(c->exit_status, c->out, &state, &detail);
    ck_assert_msg(rc == c->rc, "%s: rc %d, wanted %d", c->what, rc, c->rc);
    if (rc == 0) {
        ck_assert_msg(state == c->state, "%s: state %d, wanted %d", c->what, state, c->state);
        if (c->detail) {
            ck_assert_msg(detail != NULL, "%s: no detail", c->what);
            ck_assert_str_eq(detail, c->detail);
        } else {
            ck_assert_msg(detail == NULL, "%s: detail [%s]", c->what, detail);
        }
    }
    free(detail);
    /* no output at all is never a crash */
    detail = NULL;
    rc = l.ops->parse_state(1, NULL, &state, &detail);
    ck_assert(rc == MPIMAP_EIO || rc == 0);
    free(detail);
    unload(&l);
}
END_TEST

/* ---- the end time of a running job (ABI 1.2) --------------------------------------- */

typedef struct end_case {
    const char *what, *launcher;
    const char *out;
    int rc;
    int64_t left; /* seconds from now; -1: no end (0) */
} end_case;

static const end_case end_cases[] = {
    {"torque running", "torque",
     TORQUE_XML("R", "<resources_used><cput>00:01:00</cput><walltime>00:05:00</walltime>"
                     "</resources_used>"),
     0, 3300},
    {"torque running, no time used yet", "pbs", TORQUE_XML("R", ""), 0, -1},
    {"torque queued", "torque", TORQUE_XML("Q", ""), 0, -1},
    {"torque completed", "torque",
     TORQUE_XML("C", "<resources_used><walltime>01:00:02</walltime></resources_used>"
                     "<exit_status>-11</exit_status>"),
     0, -1},
    {"pbspro running", "pbs", PBSPRO("R", "    resources_used.walltime = 00:59:30\n"), 0, 30},
    {"pbspro running past its limit", "pbs",
     PBSPRO("R", "    resources_used.walltime = 01:00:09\n"), 0, 0},
    {"pbspro running, garbled time used", "pbs",
     PBSPRO("R", "    resources_used.walltime = 00:x9:30\n"), MPIMAP_EINVAL, -1},
    {"pbspro queued", "pbs", PBSPRO("Q", "    resources_used.walltime = 00:00:00\n"), 0, -1},
    {"pbs, no limit", "pbs",
     "Job Id: 1.h\n    job_state = R\n    resources_used.walltime = 00:00:05\n", 0, -1},
    {"pbs, a day", "pbs",
     "Job Id: 1.h\n    job_state = R\n    resources_used.walltime = 1:00:00\n"
     "    Resource_List.walltime = 48:00:00\n",
     0, 47 * 3600},
    {"pbs, nothing", "pbs", "", 0, -1},
};
#define NENDS ((int)(sizeof end_cases / sizeof end_cases[0]))

START_TEST(end_times)
{
    const end_case *c = &end_cases[_i];
    loaded l = load(c->launcher);
    ck_assert(l.ops->parse_end_time != NULL);
    const int64_t now = 1764770000;
    int64_t end = -7;
    int rc = l.ops->parse_end_time(0, c->out, now, &end);
    ck_assert_msg(rc == c->rc, "%s: rc %d, wanted %d", c->what, rc, c->rc);
    if (rc == 0)
        ck_assert_msg(end == (c->left < 0 ? 0 : now + c->left), "%s: end now%+lld, wanted %lld",
                      c->what, (long long)(end - now), (long long)c->left);
    ck_assert_int_eq(l.ops->parse_end_time(0, NULL, now, &end), 0);
    ck_assert_int_eq(end, 0);
    unload(&l);
}
END_TEST

/* Moab, LSF and Grid Engine leave it to the driver (the walltime asked
 * for, counted from when the job is seen running). */
START_TEST(no_end_times)
{
    static const char *const others[] = {"moab", "lsf", "sge"};
    loaded l = load(others[_i]);
    ck_assert_uint_eq(l.plugin->abi_minor, MPIMAP_ABI_MINOR);
    ck_assert(l.ops->parse_end_time == NULL);
    unload(&l);
}
END_TEST

/* The query command really shows the scheduler's complaint on standard
 * output: run it against stand-in scheduler commands that print "no such
 * job" on standard error, as the real ones do. */
START_TEST(query_merges_stderr)
{
    static const char *const fakes[][3] = {
        {"qstat", "echo 'qstat: Unknown Job Id 42.head' >&2; exit 153", "0"},
        {"qstat", "echo 'qstat: Unknown Job Id 42.head' >&2; exit 153", "0"},
        {"checkjob", "echo 'ERROR:  invalid job specified (42.head)' >&2; exit 1", "0"},
        {"bjobs", "echo 'Job <42.head> is not found' >&2; exit 255", "0"},
        {"qstat", "printf 'Following jobs do not exist: \\n42.head\\n' >&2; exit 1", "0"},
    };
    loaded l = load(launchers[_i]);
    char *dir = make_tmpdir();
    char *fake = join(dir, fakes[_i][0]);
    char *body = NULL;
    ck_assert_int_ge(asprintf(&body, "#!/bin/sh\n%s\n", fakes[_i][1]), 0);
    write_file(fake, body, 0755);
    mpimap_strv sv = {0};
    ck_assert_int_eq(l.ops->query_job("42.head", &sv), 0);
    char *path_env = NULL;
    ck_assert_int_ge(asprintf(&path_env, "PATH=%s:/usr/bin:/bin", dir), 0);
    char *env[] = {path_env, NULL};
    char *out = NULL;
    int st = run((const char *const *)sv.v, NULL, env, &out);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    int state = -1;
    char *detail = NULL;
    ck_assert_int_eq(l.ops->parse_state(WEXITSTATUS(st), out, &state, &detail), 0);
    ck_assert_int_eq(state, MPIMAP_JOB_DONE);
    free(detail);
    free(out);
    free(path_env);
    mpimap_strv_free(&sv);
    free(body);
    free(fake);
    remove_tree(dir);
    free(dir);
    unload(&l);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("batch");
    TCase *td = tcase_create("descriptors");
    tcase_add_loop_test(td, descriptors, 0, NLAUNCHERS);
    suite_add_tcase(s, td);
    TCase *tg = tcase_create("scripts");
    tcase_set_timeout(tg, 60);
    tcase_add_loop_test(tg, golden_scripts, 0, NLAUNCHERS * NGCASES);
    tcase_add_loop_test(tg, unsupported_options, 0, NREFUSALS);
    tcase_add_loop_test(tg, every_option_shows, 0, NLAUNCHERS);
    tcase_add_loop_test(tg, bad_specs, 0, NBAD * NLAUNCHERS);
    tcase_add_loop_test(tg, units, 0, NUNITS);
    tcase_add_loop_test(tg, submit_directory, 0, NLAUNCHERS);
    tcase_add_loop_test(tg, hostile_run, 0, NLAUNCHERS);
    suite_add_tcase(s, tg);
    TCase *tc = tcase_create("commands");
    tcase_add_loop_test(tc, commands, 0, NLAUNCHERS);
    tcase_add_loop_test(tc, jobids, 0, NJOBIDS);
    tcase_add_loop_test(tc, states, 0, NSTATES);
    tcase_add_loop_test(tc, end_times, 0, NENDS);
    tcase_add_loop_test(tc, no_end_times, 0, 3);
    tcase_add_loop_test(tc, query_merges_stderr, 0, NLAUNCHERS);
    suite_add_tcase(s, tc);
    return s;
}
