/* SPDX-License-Identifier: BSD-3-Clause */
/* test_launchers.c - the built direct launcher plugins (mpirun, srun,
 * aprun) and serial: their descriptors, the exact argv each renders, and
 * query() against PATH and the schedulers' variables. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>

/* The launchers are built in <builddir>/plugins/launchers; TEST_PLUGIN_DIR
 * is <builddir>/tests/plugins. */
#define LAUNCHER_DIR TEST_PLUGIN_DIR "/../../plugins/launchers/"

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
    ck_assert_uint_le(l.plugin->abi_minor, MPIMAP_ABI_MINOR);
    ck_assert_uint_eq(l.plugin->size, sizeof(struct mpimap_plugin));
    ck_assert_uint_eq(l.plugin->kind, MPIMAP_KIND_LAUNCHER);
    ck_assert_str_eq(l.plugin->name, name);
    ck_assert_ptr_nonnull(l.plugin->version);
    l.ops = l.plugin->ops;
    ck_assert_ptr_nonnull(l.ops);
    ck_assert_uint_eq(l.ops->size, sizeof(struct mpimap_launcher_ops));
    return l;
}

static void unload(loaded *l)
{
    ck_assert_int_eq(dlclose(l->handle), 0);
}

/* ---- descriptors -------------------------------------------------------- */

START_TEST(serial_descriptor)
{
    loaded l = load("serial");
    ck_assert_str_eq(l.plugin->description, "in-process, no MPI (one rank)");
    ck_assert_uint_eq(l.ops->flags, MPIMAP_LAUNCHER_INPROCESS);
    ck_assert_ptr_null(l.ops->program);
    ck_assert(l.ops->render == NULL);
    ck_assert(l.plugin->query != NULL);
    ck_assert_int_eq(l.plugin->query(), 0);
    unload(&l);
}
END_TEST

START_TEST(mpirun_descriptor)
{
    loaded l = load("mpirun");
    ck_assert_str_eq(l.plugin->description, "Open MPI mpirun/mpiexec");
    ck_assert_uint_eq(l.ops->flags, MPIMAP_LAUNCHER_DIRECT);
    ck_assert_str_eq(l.ops->program, "mpirun");
    ck_assert(l.ops->render != NULL);
    ck_assert(l.plugin->query != NULL);
    unload(&l);
}
END_TEST

/* ---- mpirun render table ------------------------------------------------ */

#define MAXV 32
static const char *const W[] = {"/opt/worker", "--job", "/j", NULL};

typedef struct render_case {
    const char *what;
    int np, nodes, ppn, cpus, slots;
    const char *hostfile;
    const char *env[4];
    const char *largs[4];
    int rc;
    const char *error;      /* the exact message when rc < 0 */
    const char *argv[MAXV]; /* the exact argv when rc == 0 (worker appended) */
} render_case;

static const render_case cases[] = {
    {"np 2", 2, 0, 0, 0, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"mpirun", "-np", "2", NULL}},
    {"np 1", 1, 0, 0, 0, 8, NULL, {NULL}, {NULL}, 0, NULL,
     {"mpirun", "-np", "1", NULL}},
    {"np 5 slots 2", 5, 0, 0, 0, 2, NULL, {NULL}, {NULL}, 0, NULL,
     {"mpirun", "-np", "5", "--oversubscribe", NULL}},
    {"np 2 slots 2", 2, 0, 0, 0, 2, NULL, {NULL}, {NULL}, 0, NULL,
     {"mpirun", "-np", "2", NULL}},
    {"hostfile", 2, 0, 0, 0, 0, "/tmp/my hosts", {NULL}, {NULL}, 0, NULL,
     {"mpirun", "-np", "2", "--hostfile", "/tmp/my hosts", NULL}},
    {"env", 2, 0, 0, 0, 0, NULL, {"A=1", "B_2=x=y", "EMPTY=", NULL}, {NULL}, 0, NULL,
     {"mpirun", "-np", "2", "-x", "A", "-x", "B_2", "-x", "EMPTY", NULL}},
    {"launcher args", 2, 0, 0, 0, 0, NULL, {NULL}, {"--mca", "btl", "self,vader", NULL},
     0, NULL, {"mpirun", "-np", "2", "--mca", "btl", "self,vader", NULL}},
    {"cpus per rank", 2, 0, 0, 2, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"mpirun", "-np", "2", "--map-by", "slot:PE=2", NULL}},
    {"nodes x ppn", 6, 2, 3, 0, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"mpirun", "-np", "6", "--map-by", "ppr:3:node", NULL}},
    {"ppn only", 4, 0, 2, 0, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"mpirun", "-np", "4", "--map-by", "ppr:2:node", NULL}},
    {"nodes only", 4, 2, 0, 0, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"mpirun", "-np", "4", "--map-by", "ppr:2:node", NULL}},
    {"ppn and cpus", 4, 2, 2, 3, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"mpirun", "-np", "4", "--map-by", "ppr:2:node:PE=3", NULL}},
    {"everything, in order", 8, 0, 0, 1, 4, "hosts", {"X=1", NULL}, {"--tag-output", NULL},
     0, NULL,
     {"mpirun", "-np", "8", "--oversubscribe", "--hostfile", "hosts", "--map-by",
      "slot:PE=1", "-x", "X", "--tag-output", NULL}},
    {"np 0", 0, 0, 0, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "mpirun: -np must be at least 1", {NULL}},
    {"np -3", -3, 0, 0, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "mpirun: -np must be at least 1", {NULL}},
    {"nodes x ppn != np", 5, 2, 3, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "mpirun: 2 nodes x 3 ranks per node = 6 ranks, but -np is 5", {NULL}},
    {"np not divisible by nodes", 5, 2, 0, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "mpirun: -np 5 does not divide evenly over 2 nodes; give ranks per node", {NULL}},
    {"negative ppn", 2, 0, -1, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "mpirun: ranks per node must not be negative (got -1)", {NULL}},
    {"bad env name", 2, 0, 0, 0, 0, NULL, {"1X=2", NULL}, {NULL}, MPIMAP_EINVAL,
     "mpirun: not a valid NAME=VALUE environment entry: \"1X=2\"", {NULL}},
    {"empty env name", 2, 0, 0, 0, 0, NULL, {"=v", NULL}, {NULL}, MPIMAP_EINVAL,
     "mpirun: not a valid NAME=VALUE environment entry: \"=v\"", {NULL}},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static struct mpimap_launch_spec spec_of(const render_case *c)
{
    struct mpimap_launch_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.size = (uint32_t)sizeof spec;
    spec.np = c->np;
    spec.nodes = c->nodes;
    spec.ppn = c->ppn;
    spec.cpus_per_rank = c->cpus;
    spec.slots = c->slots;
    spec.hostfile = c->hostfile;
    spec.jobdir = "/j";
    spec.worker_argv = W;
    spec.env = c->env;
    spec.launcher_args = c->largs;
    return spec;
}

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

START_TEST(mpirun_render_table)
{
    const render_case *c = &cases[_i];
    loaded l = load("mpirun");
    struct mpimap_launch_spec spec = spec_of(c);
    mpimap_strv sv = {0};
    char *error = NULL;
    int rc = l.ops->render(&spec, &sv, &error);
    ck_assert_msg(rc == c->rc, "%s: rc %d, wanted %d (%s)", c->what, rc, c->rc,
                  error ? error : "no message");
    if (rc == 0) {
        ck_assert_ptr_null(error);
        const char *want[MAXV + 4];
        size_t n = 0;
        for (; c->argv[n]; n++)
            want[n] = c->argv[n];
        for (size_t i = 0; W[i]; i++)
            want[n++] = W[i];
        want[n] = NULL;
        assert_argv(&sv, want);
    } else {
        ck_assert_ptr_nonnull(error);
        ck_assert_str_eq(error, c->error);
        ck_assert_uint_eq(sv.n, 0); /* nothing appended on error */
    }
    free(error);
    mpimap_strv_free(&sv);
    unload(&l);
}
END_TEST

/* render appends: what is already in argv stays in front. */
START_TEST(mpirun_render_appends)
{
    loaded l = load("mpirun");
    struct mpimap_launch_spec spec = spec_of(&cases[0]);
    mpimap_strv sv = {0};
    ck_assert_int_eq(mpimap_strv_push(&sv, "env"), 0);
    char *error = NULL;
    ck_assert_int_eq(l.ops->render(&spec, &sv, &error), 0);
    const char *const want[] = {"env", "mpirun", "-np", "2", "/opt/worker", "--job", "/j",
                                NULL};
    assert_argv(&sv, want);
    /* and a failing render leaves it as it was */
    spec.np = 0;
    ck_assert_int_eq(l.ops->render(&spec, &sv, &error), MPIMAP_EINVAL);
    ck_assert_ptr_nonnull(error);
    assert_argv(&sv, want);
    free(error);
    mpimap_strv_free(&sv);
    unload(&l);
}
END_TEST

START_TEST(mpirun_render_bad_spec)
{
    loaded l = load("mpirun");
    struct mpimap_launch_spec spec = spec_of(&cases[0]);
    mpimap_strv sv = {0};
    char *error = NULL;
    /* no worker */
    const char *const none[] = {NULL};
    spec.worker_argv = none;
    ck_assert_int_eq(l.ops->render(&spec, &sv, &error), MPIMAP_EINVAL);
    ck_assert_str_eq(error, "mpirun: no worker program to start");
    free(error);
    error = NULL;
    spec.worker_argv = NULL;
    ck_assert_int_eq(l.ops->render(&spec, &sv, &error), MPIMAP_EINVAL);
    ck_assert_str_eq(error, "mpirun: no worker program to start");
    free(error);
    error = NULL;
    /* a spec too small to hold the ABI 1.0 fields */
    spec = spec_of(&cases[0]);
    spec.size = 8;
    ck_assert_int_eq(l.ops->render(&spec, &sv, &error), MPIMAP_EINVAL);
    ck_assert_ptr_nonnull(error);
    free(error);
    /* NULL env and launcher_args are fine */
    spec = spec_of(&cases[0]);
    spec.env = NULL;
    spec.launcher_args = NULL;
    error = NULL;
    ck_assert_int_eq(l.ops->render(&spec, &sv, &error), 0);
    ck_assert_ptr_null(error);
    ck_assert_uint_eq(sv.n, 6);
    mpimap_strv_free(&sv);
    unload(&l);
}
END_TEST

/* Hostile worker arguments stay single argv elements, byte for byte. */
START_TEST(mpirun_render_hostile_worker)
{
    static const char *const hostile[] = {
        "/opt/my worker", "", "a b", "it's", "say \"hi\"", "$(touch /tmp/x)", "`id`",
        "a;b", "a && b", "line1\nline2", "tab\there", "*?[", "-np", "--oversubscribe",
        "~", "!", "h\xc3\xa9llo \xe2\x9c\x93", "%s%n", NULL};
    loaded l = load("mpirun");
    struct mpimap_launch_spec spec = spec_of(&cases[0]);
    spec.worker_argv = hostile;
    static const char *const hostile_args[] = {"--mca", "x $(y)", NULL};
    spec.launcher_args = hostile_args;
    mpimap_strv sv = {0};
    char *error = NULL;
    ck_assert_int_eq(l.ops->render(&spec, &sv, &error), 0);
    const char *want[64];
    size_t n = 0;
    const char *const head[] = {"mpirun", "-np", "2", "--mca", "x $(y)"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        want[n++] = head[i];
    for (size_t i = 0; hostile[i]; i++)
        want[n++] = hostile[i];
    want[n] = NULL;
    assert_argv(&sv, want);
    mpimap_strv_free(&sv);
    unload(&l);
}
END_TEST

/* ---- mpirun query against PATH ------------------------------------------ */

static char *path_join(const char *dir, const char *name)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
    return p;
}

static void write_file(const char *path, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    ck_assert_int_ge(fd, 0);
    static const char script[] = "#!/bin/sh\nexit 0\n";
    ck_assert_int_eq(write(fd, script, sizeof script - 1), (ssize_t)(sizeof script - 1));
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
}

static void env_save(void);
static void env_restore(void);

START_TEST(mpirun_query_path)
{
    env_save(); /* outside any scheduler's job */
    loaded l = load("mpirun");
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    ck_assert(!old || saved);

    char t1[] = "/tmp/mpimap-launchers-XXXXXX";
    char t2[] = "/tmp/mpimap-launchers-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(t1));
    ck_assert_ptr_nonnull(mkdtemp(t2));
    char *f1 = path_join(t1, "mpirun");
    char *f2 = path_join(t2, "mpirun");

    /* empty directory: not found */
    ck_assert_int_eq(setenv("PATH", t1, 1), 0);
    ck_assert_int_eq(l.plugin->query(), -1);

    /* a file that is not executable: not found */
    write_file(f1, 0644);
    ck_assert_int_eq(l.plugin->query(), -1);

    /* executable: found */
    ck_assert_int_eq(chmod(f1, 0755), 0);
    ck_assert_int_eq(l.plugin->query(), 10);
    ck_assert_int_eq(unlink(f1), 0);

    /* a directory named mpirun is not a program */
    ck_assert_int_eq(mkdir(f1, 0755), 0);
    ck_assert_int_eq(l.plugin->query(), -1);

    /* ... but the search goes on to the next PATH entry */
    write_file(f2, 0755);
    char *both = NULL;
    ck_assert_int_ge(asprintf(&both, "/nonexistent-dir::%s:%s", t1, t2), 0);
    ck_assert_int_eq(setenv("PATH", both, 1), 0);
    ck_assert_int_eq(l.plugin->query(), 10);
    free(both);

    /* and stops when it is gone */
    ck_assert_int_eq(unlink(f2), 0);
    ck_assert_int_eq(l.plugin->query(), -1);

    ck_assert_int_eq(rmdir(f1), 0);
    ck_assert_int_eq(rmdir(t1), 0);
    ck_assert_int_eq(rmdir(t2), 0);
    free(f1);
    free(f2);
    if (saved)
        ck_assert_int_eq(setenv("PATH", saved, 1), 0);
    else
        ck_assert_int_eq(unsetenv("PATH"), 0);
    free(saved);
    unload(&l);
    env_restore();
}
END_TEST

/* ---- srun and aprun ------------------------------------------------------ */

START_TEST(srun_descriptor)
{
    loaded l = load("srun");
    ck_assert_str_eq(l.plugin->description, "Slurm srun, inside an allocation");
    ck_assert_uint_eq(l.ops->flags, MPIMAP_LAUNCHER_DIRECT);
    ck_assert_str_eq(l.ops->program, "srun");
    ck_assert(l.ops->render != NULL);
    ck_assert(l.plugin->query != NULL);
    unload(&l);
}
END_TEST

START_TEST(aprun_descriptor)
{
    loaded l = load("aprun");
    ck_assert_str_eq(l.plugin->description, "Cray ALPS aprun");
    ck_assert_uint_eq(l.ops->flags, MPIMAP_LAUNCHER_DIRECT);
    ck_assert_str_eq(l.ops->program, "aprun");
    ck_assert(l.ops->render != NULL);
    ck_assert(l.plugin->query != NULL);
    unload(&l);
}
END_TEST

static const render_case srun_cases[] = {
    {"np 2", 2, 0, 0, 0, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"srun", "-n", "2", "--mpi=pmix", "--export=ALL", NULL}},
    {"np beyond slots: srun has no oversubscribe", 5, 0, 0, 0, 2, NULL, {NULL}, {NULL}, 0,
     NULL, {"srun", "-n", "5", "--mpi=pmix", "--export=ALL", NULL}},
    {"nodes x ppn", 6, 2, 3, 0, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"srun", "-n", "6", "-N", "2", "--ntasks-per-node=3", "--mpi=pmix", "--export=ALL",
      NULL}},
    {"nodes only, uneven", 5, 2, 0, 0, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"srun", "-n", "5", "-N", "2", "--mpi=pmix", "--export=ALL", NULL}},
    {"ppn only", 4, 0, 2, 0, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"srun", "-n", "4", "--ntasks-per-node=2", "--mpi=pmix", "--export=ALL", NULL}},
    {"cpus per rank", 2, 0, 0, 4, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"srun", "-n", "2", "--cpus-per-task=4", "--mpi=pmix", "--export=ALL", NULL}},
    {"env passes through --export=ALL", 2, 0, 0, 0, 0, NULL, {"A=1", "B_2=x=y", NULL},
     {NULL}, 0, NULL, {"srun", "-n", "2", "--mpi=pmix", "--export=ALL", NULL}},
    {"launcher args verbatim, last (so they win)", 2, 0, 0, 0, 0, NULL, {NULL},
     {"--mpi=pmi2", "--label", "-p debug", NULL}, 0, NULL,
     {"srun", "-n", "2", "--mpi=pmix", "--export=ALL", "--mpi=pmi2", "--label", "-p debug",
      NULL}},
    {"everything, in order", 8, 4, 2, 3, 1, NULL, {"X=1", NULL}, {"--exclusive", NULL}, 0,
     NULL,
     {"srun", "-n", "8", "-N", "4", "--ntasks-per-node=2", "--cpus-per-task=3", "--mpi=pmix",
      "--export=ALL", "--exclusive", NULL}},
    {"np 0", 0, 0, 0, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL, "srun: -n must be at least 1",
     {NULL}},
    {"nodes x ppn != np", 5, 2, 3, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "srun: 2 nodes x 3 ranks per node = 6 ranks, but -n is 5", {NULL}},
    {"more nodes than ranks", 2, 3, 0, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "srun: 3 nodes for 2 ranks: a node would have no rank", {NULL}},
    {"negative nodes", 2, -1, 0, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "srun: the number of nodes must not be negative (got -1)", {NULL}},
    {"negative ppn", 2, 0, -2, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "srun: ranks per node must not be negative (got -2)", {NULL}},
    {"negative cpus", 2, 0, 0, -3, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "srun: cpus per rank must not be negative (got -3)", {NULL}},
    {"hostfile", 2, 0, 0, 0, 0, "/tmp/hosts", {NULL}, {NULL}, MPIMAP_EINVAL,
     "srun: a host file is not supported: srun runs on the nodes of the Slurm allocation "
     "(give --launcher-arg --nodelist=HOSTS to pick some)", {NULL}},
    {"bad env name", 2, 0, 0, 0, 0, NULL, {"1X=2", NULL}, {NULL}, MPIMAP_EINVAL,
     "srun: not a valid NAME=VALUE environment entry: \"1X=2\"", {NULL}},
};

static const render_case aprun_cases[] = {
    {"np 2", 2, 0, 0, 0, 0, NULL, {NULL}, {NULL}, 0, NULL, {"aprun", "-n", "2", NULL}},
    {"np beyond slots", 5, 0, 0, 0, 2, NULL, {NULL}, {NULL}, 0, NULL,
     {"aprun", "-n", "5", NULL}},
    {"nodes x ppn", 6, 2, 3, 0, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"aprun", "-n", "6", "-N", "3", NULL}},
    {"nodes only: ranks per node from them", 8, 2, 0, 0, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"aprun", "-n", "8", "-N", "4", NULL}},
    {"ppn only", 4, 0, 2, 0, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"aprun", "-n", "4", "-N", "2", NULL}},
    {"cpus per rank", 2, 0, 0, 4, 0, NULL, {NULL}, {NULL}, 0, NULL,
     {"aprun", "-n", "2", "-d", "4", NULL}},
    {"env: aprun passes the environment", 2, 0, 0, 0, 0, NULL, {"A=1", NULL}, {NULL}, 0,
     NULL, {"aprun", "-n", "2", NULL}},
    {"everything, in order", 8, 4, 2, 3, 0, NULL, {"X=1", NULL}, {"-j", "2", NULL}, 0, NULL,
     {"aprun", "-n", "8", "-N", "2", "-d", "3", "-j", "2", NULL}},
    {"np 0", 0, 0, 0, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "aprun: -n must be at least 1", {NULL}},
    {"nodes x ppn != np", 5, 2, 3, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "aprun: 2 nodes x 3 ranks per node = 6 ranks, but -n is 5", {NULL}},
    {"np not divisible by nodes", 5, 2, 0, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "aprun: -n 5 does not divide evenly over 2 nodes; give ranks per node", {NULL}},
    {"negative nodes", 2, -1, 0, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "aprun: the number of nodes must not be negative (got -1)", {NULL}},
    {"negative ppn", 2, 0, -2, 0, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "aprun: ranks per node must not be negative (got -2)", {NULL}},
    {"negative cpus", 2, 0, 0, -3, 0, NULL, {NULL}, {NULL}, MPIMAP_EINVAL,
     "aprun: cpus per rank must not be negative (got -3)", {NULL}},
    {"hostfile", 2, 0, 0, 0, 0, "/tmp/hosts", {NULL}, {NULL}, MPIMAP_EINVAL,
     "aprun: a host file is not supported: aprun runs on the nodes ALPS reserved for the "
     "job (give --launcher-arg -L --launcher-arg NODES to pick some)", {NULL}},
    {"bad env name", 2, 0, 0, 0, 0, NULL, {"=v", NULL}, {NULL}, MPIMAP_EINVAL,
     "aprun: not a valid NAME=VALUE environment entry: \"=v\"", {NULL}},
};

/* Render case c with launcher name; assert the exact argv or message. */
static void check_case(const char *name, const render_case *c)
{
    loaded l = load(name);
    struct mpimap_launch_spec spec = spec_of(c);
    mpimap_strv sv = {0};
    char *error = NULL;
    int rc = l.ops->render(&spec, &sv, &error);
    ck_assert_msg(rc == c->rc, "%s %s: rc %d, wanted %d (%s)", name, c->what, rc, c->rc,
                  error ? error : "no message");
    if (rc == 0) {
        ck_assert_ptr_null(error);
        const char *want[MAXV + 4];
        size_t n = 0;
        for (; c->argv[n]; n++)
            want[n] = c->argv[n];
        for (size_t i = 0; W[i]; i++)
            want[n++] = W[i];
        want[n] = NULL;
        assert_argv(&sv, want);
    } else {
        ck_assert_ptr_nonnull(error);
        ck_assert_str_eq(error, c->error);
        ck_assert_uint_eq(sv.n, 0);
    }
    free(error);
    mpimap_strv_free(&sv);
    unload(&l);
}

START_TEST(srun_render_table)
{
    check_case("srun", &srun_cases[_i]);
}
END_TEST

START_TEST(aprun_render_table)
{
    check_case("aprun", &aprun_cases[_i]);
}
END_TEST

/* The ABI 1.1 scheduler fields do not change a direct launcher's command. */
START_TEST(direct_ignore_sched_fields)
{
    static const char *const names[] = {"srun", "aprun", "mpirun"};
    static const char *const exports[] = {"X", NULL};
    for (size_t k = 0; k < 3; k++) {
        loaded l = load(names[k]);
        struct mpimap_launch_spec spec = spec_of(&srun_cases[0]);
        mpimap_strv a = {0}, b = {0};
        ck_assert_int_eq(l.ops->render(&spec, &a, NULL), 0);
        spec.walltime = 3600;
        spec.queue = "debug";
        spec.account = "acct";
        spec.exports = exports;
        spec.sched_args = exports;
        ck_assert_int_eq(l.ops->render(&spec, &b, NULL), 0);
        ck_assert_uint_eq(a.n, b.n);
        for (size_t i = 0; i < a.n; i++)
            ck_assert_str_eq(a.v[i], b.v[i]);
        mpimap_strv_free(&a);
        mpimap_strv_free(&b);
        unload(&l);
    }
}
END_TEST

/* For srun and aprun: render appends, a failing render leaves argv as it
 * was, a missing worker or too small a spec is refused, hostile worker
 * arguments stay single argv elements. */
START_TEST(direct_render_contract)
{
    static const char *const names[] = {"srun", "aprun"};
    const char *name = names[_i];
    size_t prefix = strcmp(name, "srun") == 0 ? 5 : 3; /* launcher words before W */
    loaded l = load(name);
    struct mpimap_launch_spec spec = spec_of(&srun_cases[0]);
    mpimap_strv sv = {0};
    ck_assert_int_eq(mpimap_strv_push(&sv, "env"), 0);
    char *error = NULL;
    ck_assert_int_eq(l.ops->render(&spec, &sv, &error), 0);
    ck_assert_uint_eq(sv.n, 1 + prefix + 3);
    ck_assert_str_eq(sv.v[0], "env");
    ck_assert_str_eq(sv.v[1], name);
    spec.np = 0;
    ck_assert_int_eq(l.ops->render(&spec, &sv, &error), MPIMAP_EINVAL);
    ck_assert_ptr_nonnull(error);
    free(error);
    error = NULL;
    ck_assert_uint_eq(sv.n, 1 + prefix + 3);
    mpimap_strv_free(&sv);

    /* error may be NULL; argv may not */
    ck_assert_int_eq(l.ops->render(&spec, &sv, NULL), MPIMAP_EINVAL);
    spec.np = 2;
    ck_assert_int_eq(l.ops->render(&spec, NULL, &error), MPIMAP_EINVAL);
    ck_assert_ptr_nonnull(error);
    free(error);
    error = NULL;

    /* no worker */
    const char *const none[] = {NULL};
    spec.worker_argv = none;
    ck_assert_int_eq(l.ops->render(&spec, &sv, &error), MPIMAP_EINVAL);
    char *want = NULL;
    ck_assert_int_ge(asprintf(&want, "%s: no worker program to start", name), 0);
    ck_assert_str_eq(error, want);
    free(error);
    error = NULL;
    spec.worker_argv = NULL;
    ck_assert_int_eq(l.ops->render(&spec, &sv, &error), MPIMAP_EINVAL);
    ck_assert_str_eq(error, want);
    free(want);
    free(error);
    error = NULL;

    /* a spec too small to hold the ABI 1.0 fields; and NULL */
    spec = spec_of(&srun_cases[0]);
    spec.size = 8;
    ck_assert_int_eq(l.ops->render(&spec, &sv, &error), MPIMAP_EINVAL);
    ck_assert_int_ge(asprintf(&want, "%s: launch spec is missing or too old", name), 0);
    ck_assert_str_eq(error, want);
    free(error);
    error = NULL;
    ck_assert_int_eq(l.ops->render(NULL, &sv, &error), MPIMAP_EINVAL);
    ck_assert_str_eq(error, want);
    free(want);
    free(error);
    error = NULL;
    ck_assert_uint_eq(sv.n, 0);

    /* an ABI 1.0 spec (without the scheduler fields) is fine */
    spec = spec_of(&srun_cases[0]);
    spec.size = (uint32_t)(offsetof(struct mpimap_launch_spec, launcher_args) +
                           sizeof spec.launcher_args);
    spec.env = NULL;
    spec.launcher_args = NULL;
    ck_assert_int_eq(l.ops->render(&spec, &sv, &error), 0);
    ck_assert_ptr_null(error);
    ck_assert_uint_eq(sv.n, prefix + 3);
    mpimap_strv_free(&sv);

    /* hostile worker and launcher arguments */
    static const char *const hostile[] = {
        "/opt/my worker", "", "a b", "it's", "say \"hi\"", "$(touch /tmp/x)", "`id`",
        "a;b", "line1\nline2", "-n", "--export=NONE", "%s%n", NULL};
    static const char *const hostile_args[] = {"x $(y)", "", NULL};
    spec = spec_of(&srun_cases[0]);
    spec.worker_argv = hostile;
    spec.launcher_args = hostile_args;
    ck_assert_int_eq(l.ops->render(&spec, &sv, &error), 0);
    size_t n = 0;
    while (hostile[n])
        n++;
    ck_assert_uint_eq(sv.n, prefix + 2 + n);
    ck_assert_str_eq(sv.v[prefix], "x $(y)");
    ck_assert_str_eq(sv.v[prefix + 1], "");
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(sv.v[prefix + 2 + i], hostile[i]);
    mpimap_strv_free(&sv);
    unload(&l);
}
END_TEST

/* ---- query() under the scheduler's variables ------------------------------ */

/* The variables query() reads, saved and cleared; restored by env_restore. */
static const char *const sched_vars[] = {"PATH",   "SLURM_JOB_ID", "PBS_JOBID",
                                         "LSB_JOBID", "JOB_ID",    "SGE_ROOT"};
#define NSCHED (sizeof sched_vars / sizeof sched_vars[0])
static char *saved_env[NSCHED];
static int had_env[NSCHED];

static void env_save(void)
{
    for (size_t i = 0; i < NSCHED; i++) {
        const char *v = getenv(sched_vars[i]);
        had_env[i] = v != NULL;
        saved_env[i] = v ? strdup(v) : NULL;
        ck_assert(!v || saved_env[i]);
        if (i > 0)
            ck_assert_int_eq(unsetenv(sched_vars[i]), 0);
    }
}

static void env_restore(void)
{
    for (size_t i = 0; i < NSCHED; i++) {
        if (had_env[i])
            ck_assert_int_eq(setenv(sched_vars[i], saved_env[i], 1), 0);
        else
            ck_assert_int_eq(unsetenv(sched_vars[i]), 0);
        free(saved_env[i]);
        saved_env[i] = NULL;
    }
}

/* A temporary directory with fake executables named by names, as PATH. */
static char *fake_path(const char *const *names)
{
    char *d = strdup("/tmp/mpimap-launchers-XXXXXX");
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_nonnull(mkdtemp(d));
    for (size_t i = 0; names[i]; i++) {
        char *f = path_join(d, names[i]);
        write_file(f, 0755);
        free(f);
    }
    ck_assert_int_eq(setenv("PATH", d, 1), 0);
    return d;
}

static void remove_fake_path(char *d, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        char *f = path_join(d, names[i]);
        ck_assert_int_eq(unlink(f), 0);
        free(f);
    }
    ck_assert_int_eq(rmdir(d), 0);
    free(d);
}

START_TEST(srun_query_env)
{
    env_save();
    loaded l = load("srun");
    static const char *const progs[] = {"srun", NULL};
    char *d = fake_path(progs);
    /* srun on PATH, but outside an allocation: unusable */
    ck_assert_int_eq(l.plugin->query(), -1);
    ck_assert_int_eq(setenv("SLURM_JOB_ID", "", 1), 0);
    ck_assert_int_eq(l.plugin->query(), -1);
    /* inside one: above mpirun */
    ck_assert_int_eq(setenv("SLURM_JOB_ID", "42", 1), 0);
    ck_assert_int_eq(l.plugin->query(), 20);
    /* inside one, but no srun on PATH */
    static const char *const none[] = {NULL};
    char *e = fake_path(none);
    ck_assert_int_eq(l.plugin->query(), -1);
    remove_fake_path(e, none);
    /* other schedulers' jobs do not count */
    ck_assert_int_eq(setenv("PATH", d, 1), 0);
    ck_assert_int_eq(unsetenv("SLURM_JOB_ID"), 0);
    ck_assert_int_eq(setenv("PBS_JOBID", "7.server", 1), 0);
    ck_assert_int_eq(l.plugin->query(), -1);
    remove_fake_path(d, progs);
    unload(&l);
    env_restore();
}
END_TEST

START_TEST(aprun_query_env)
{
    env_save();
    loaded l = load("aprun");
    static const char *const progs[] = {"aprun", NULL};
    static const char *const none[] = {NULL};
    char *e = fake_path(none);
    ck_assert_int_eq(l.plugin->query(), -1);
    ck_assert_int_eq(setenv("PBS_JOBID", "7.server", 1), 0);
    ck_assert_int_eq(l.plugin->query(), -1);
    remove_fake_path(e, none);
    char *d = fake_path(progs);
    ck_assert_int_eq(l.plugin->query(), 15);
    ck_assert_int_eq(unsetenv("PBS_JOBID"), 0);
    ck_assert_int_eq(l.plugin->query(), 15);
    remove_fake_path(d, progs);
    unload(&l);
    env_restore();
}
END_TEST

START_TEST(mpirun_query_env)
{
    env_save();
    loaded l = load("mpirun");
    static const char *const progs[] = {"mpirun", NULL};
    char *d = fake_path(progs);
    ck_assert_int_eq(l.plugin->query(), 10);
    /* inside PBS, LSF or Grid Engine jobs: 12 */
    static const struct {
        const char *a, *b;
        int want;
    } cases[] = {
        {"PBS_JOBID", NULL, 12},   {"LSB_JOBID", NULL, 12}, {"JOB_ID", "SGE_ROOT", 12},
        {"JOB_ID", NULL, 10},      /* JOB_ID alone is not Grid Engine */
        {"SGE_ROOT", NULL, 10},    {"SLURM_JOB_ID", NULL, 10}, /* srun's: 20 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(setenv(cases[i].a, "1", 1), 0);
        if (cases[i].b)
            ck_assert_int_eq(setenv(cases[i].b, "/opt/sge", 1), 0);
        ck_assert_msg(l.plugin->query() == cases[i].want, "%s %s: %d, wanted %d", cases[i].a,
                      cases[i].b ? cases[i].b : "", l.plugin->query(), cases[i].want);
        /* set but empty is not set */
        ck_assert_int_eq(setenv(cases[i].a, "", 1), 0);
        ck_assert_int_eq(l.plugin->query(), 10);
        ck_assert_int_eq(unsetenv(cases[i].a), 0);
        if (cases[i].b)
            ck_assert_int_eq(unsetenv(cases[i].b), 0);
    }
    /* in a PBS job without mpirun: unusable */
    ck_assert_int_eq(setenv("PBS_JOBID", "7.server", 1), 0);
    remove_fake_path(d, progs);
    static const char *const none[] = {NULL};
    char *e = fake_path(none);
    ck_assert_int_eq(l.plugin->query(), -1);
    remove_fake_path(e, none);
    unload(&l);
    env_restore();
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("launchers");
    TCase *td = tcase_create("descriptors");
    tcase_add_test(td, serial_descriptor);
    tcase_add_test(td, mpirun_descriptor);
    tcase_add_test(td, srun_descriptor);
    tcase_add_test(td, aprun_descriptor);
    suite_add_tcase(s, td);
    TCase *tr = tcase_create("render");
    tcase_add_loop_test(tr, mpirun_render_table, 0, NCASES);
    tcase_add_test(tr, mpirun_render_appends);
    tcase_add_test(tr, mpirun_render_bad_spec);
    tcase_add_test(tr, mpirun_render_hostile_worker);
    tcase_add_loop_test(tr, srun_render_table, 0,
                        (int)(sizeof srun_cases / sizeof srun_cases[0]));
    tcase_add_loop_test(tr, aprun_render_table, 0,
                        (int)(sizeof aprun_cases / sizeof aprun_cases[0]));
    tcase_add_loop_test(tr, direct_render_contract, 0, 2);
    tcase_add_test(tr, direct_ignore_sched_fields);
    suite_add_tcase(s, tr);
    TCase *tq = tcase_create("query");
    tcase_add_test(tq, mpirun_query_path);
    tcase_add_test(tq, mpirun_query_env);
    tcase_add_test(tq, srun_query_env);
    tcase_add_test(tq, aprun_query_env);
    suite_add_tcase(s, tq);
    return s;
}
