/* SPDX-License-Identifier: BSD-3-Clause */
/* test_launchers.c - the built mpirun and serial launcher plugins: their
 * descriptors, the exact argv mpirun renders, and query() against PATH. */
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

START_TEST(mpirun_query_path)
{
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
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("launchers");
    TCase *td = tcase_create("descriptors");
    tcase_add_test(td, serial_descriptor);
    tcase_add_test(td, mpirun_descriptor);
    suite_add_tcase(s, td);
    TCase *tr = tcase_create("render");
    tcase_add_loop_test(tr, mpirun_render_table, 0, NCASES);
    tcase_add_test(tr, mpirun_render_appends);
    tcase_add_test(tr, mpirun_render_bad_spec);
    tcase_add_test(tr, mpirun_render_hostile_worker);
    suite_add_tcase(s, tr);
    TCase *tq = tcase_create("query");
    tcase_add_test(tq, mpirun_query_path);
    suite_add_tcase(s, tq);
    return s;
}
