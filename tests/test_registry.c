/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_registry.c - unit tests of the plugin registry (core/registry.c).
 *
 * The test plugins are built flat in TEST_PLUGIN_DIR (tests/plugins); each
 * test symlinks exactly the files it wants into fresh temporary directories
 * and points MPIMAP_PLUGIN_PATH at them. MPIMAP_PLUGIN_SYSTEM_PATH is set
 * empty so that an installed copy never leaks in.
 */
#include <errno.h>
#include <stdarg.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>

#include "registry.h"

#ifndef TEST_PLUGIN_DIR
#error "TEST_PLUGIN_DIR must be defined"
#endif

/* ---- helpers ------------------------------------------------------------ */

/* Temporary directories made by the current test, removed by teardown. */
#define MAX_TMP 8
static char *tmp_dirs[MAX_TMP];
static size_t n_tmp;

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    ck_assert_int_ge(n, 0);
    return s;
}

static const char *make_dir(void)
{
    ck_assert_uint_lt(n_tmp, MAX_TMP);
    const char *base = getenv("TMPDIR");
    char *tmpl = xprintf("%s/mpimap-registry-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    tmp_dirs[n_tmp++] = tmpl;
    return tmpl;
}

/* Link TEST_PLUGIN_DIR/<built>.so into dir as <as> (or its own name). */
static void add_plugin(const char *dir, const char *built, const char *as)
{
    char *src = xprintf("%s/%s.so", TEST_PLUGIN_DIR, built);
    char *dst = as ? xprintf("%s/%s", dir, as) : xprintf("%s/%s.so", dir, built);
    struct stat st;
    ck_assert_msg(stat(src, &st) == 0, "test plugin %s not built", src);
    ck_assert_msg(symlink(src, dst) == 0, "symlink %s: %s", dst, strerror(errno));
    free(src);
    free(dst);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = xprintf("%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_ge(fputs(text, fp), 0);
    ck_assert_int_eq(fclose(fp), 0);
    free(path);
}

static void make_subdir(const char *dir, const char *name)
{
    char *path = xprintf("%s/%s", dir, name);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    free(path);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void setup(void)
{
    n_tmp = 0;
    ck_assert_int_eq(setenv("MPIMAP_PLUGIN_SYSTEM_PATH", "", 1), 0);
    ck_assert_int_eq(unsetenv("MPIMAP_PLUGIN_PATH"), 0);
    ck_assert_int_eq(unsetenv("MPIMAP_TEST_FINI_FILE"), 0);
}

static void teardown(void)
{
    for (size_t i = 0; i < n_tmp; i++) {
        nftw(tmp_dirs[i], rm_one, 8, FTW_DEPTH | FTW_PHYS);
        free(tmp_dirs[i]);
        tmp_dirs[i] = NULL;
    }
    n_tmp = 0;
    unsetenv("MPIMAP_PLUGIN_PATH");
    unsetenv("MPIMAP_TEST_FINI_FILE");
}

static mpimap_registry *open_path(const char *path)
{
    ck_assert_int_eq(setenv("MPIMAP_PLUGIN_PATH", path, 1), 0);
    mpimap_registry *reg = NULL;
    ck_assert_int_eq(mpimap_registry_open(&reg), 0);
    ck_assert_ptr_nonnull(reg);
    return reg;
}

/* The n-th (0-based) entry named name; fails when there is none. */
static mpimap_plugin_info info_of(const mpimap_registry *reg, const char *name, int nth)
{
    mpimap_plugin_info info;
    for (size_t i = 0; i < mpimap_registry_count(reg); i++) {
        ck_assert_int_eq(mpimap_registry_info(reg, i, &info), 0);
        if (strcmp(info.name, name) == 0 && nth-- == 0)
            return info;
    }
    ck_abort_msg("no entry named %s", name);
    return info;
}

/* Look up a strategy that must be rejected: check the code, the state, the
 * stored reason (must contain want) and the find() message. */
static void expect_rejected(const char *dir, const char *name, int code, const char *want)
{
    mpimap_registry *reg = open_path(dir);
    const struct mpimap_plugin *p = (const void *)1;
    char *err = NULL;
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, name, &p, &err), code);
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(err);

    mpimap_plugin_info info = info_of(reg, name, 0);
    ck_assert_int_eq(info.state, MPIMAP_PLUGIN_REJECTED);
    ck_assert_ptr_null(info.plugin);
    ck_assert_ptr_nonnull(info.reason);
    ck_assert_msg(strstr(info.reason, want), "reason '%s' lacks '%s'", info.reason, want);

    char *msg = xprintf("strategy '%s' (%s) was rejected: %s", name, info.path, info.reason);
    ck_assert_str_eq(err, msg);
    free(msg);
    free(err);
    mpimap_registry_close(reg);
}

/* A directory holding just one built plugin; reject-test shorthand. */
static void expect_rejected_plugin(const char *built, const char *name, int code,
                                   const char *want)
{
    const char *dir = make_dir();
    add_plugin(dir, built, NULL);
    expect_rejected(dir, name, code, want);
}

/* ---- kinds -------------------------------------------------------------- */

START_TEST(test_kind_names)
{
    ck_assert_str_eq(mpimap_kind_name(MPIMAP_KIND_STRATEGY), "strategy");
    ck_assert_str_eq(mpimap_kind_name(MPIMAP_KIND_LAUNCHER), "launcher");
    ck_assert_ptr_null(mpimap_kind_name(0));
    ck_assert_ptr_null(mpimap_kind_name(99));
    ck_assert_int_eq(mpimap_kind_from_name("strategy"), MPIMAP_KIND_STRATEGY);
    ck_assert_int_eq(mpimap_kind_from_name("launcher"), MPIMAP_KIND_LAUNCHER);
    ck_assert_int_eq(mpimap_kind_from_name("Strategy"), 0);
    ck_assert_int_eq(mpimap_kind_from_name("strategyx"), 0);
    ck_assert_int_eq(mpimap_kind_from_name("strat"), 0);
    ck_assert_int_eq(mpimap_kind_from_name(""), 0);
    ck_assert_int_eq(mpimap_kind_from_name(NULL), 0);
}
END_TEST

/* ---- loading ------------------------------------------------------------ */

START_TEST(test_valid_plugin)
{
    const char *dir = make_dir();
    add_plugin(dir, "mpimap_strategy_alpha", NULL);
    mpimap_registry *reg = open_path(dir);
    ck_assert_uint_eq(mpimap_registry_count(reg), 1);

    /* Lazy: open only scanned the name. */
    mpimap_plugin_info info;
    ck_assert_int_eq(mpimap_registry_info(reg, 0, &info), 0);
    ck_assert_int_eq(info.state, MPIMAP_PLUGIN_FOUND);
    ck_assert_int_eq(info.kind, MPIMAP_KIND_STRATEGY);
    ck_assert_str_eq(info.name, "alpha");
    char *want_path = xprintf("%s/mpimap_strategy_alpha.so", dir);
    ck_assert_str_eq(info.path, want_path);
    free(want_path);
    ck_assert_ptr_null(info.plugin);
    ck_assert_ptr_null(info.reason);

    const struct mpimap_plugin *p = NULL;
    char *err = (char *)"untouched";
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, "alpha", &p, &err), 0);
    ck_assert_ptr_null(err);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p->magic, MPIMAP_PLUGIN_MAGIC);
    ck_assert_uint_eq(p->kind, MPIMAP_KIND_STRATEGY);
    ck_assert_str_eq(p->name, "alpha");
    ck_assert_str_eq(p->version, "1.2.3");
    ck_assert_str_eq(p->description, "test plugin alpha");
    ck_assert_ptr_nonnull(p->ops);
    ck_assert(p->query != NULL);
    ck_assert_int_eq(p->query(), 5);
    /* The ops table is the plugin's own: call through it. */
    const struct {
        uint32_t size;
        int (*ping)(void);
    } *ops = p->ops;
    ck_assert_uint_ge(ops->size, sizeof(uint32_t) + sizeof(void *));
    ck_assert_int_eq(ops->ping(), 42);

    ck_assert_int_eq(mpimap_registry_info(reg, 0, &info), 0);
    ck_assert_int_eq(info.state, MPIMAP_PLUGIN_LOADED);
    ck_assert_ptr_eq(info.plugin, p);
    ck_assert_ptr_null(info.reason);

    /* A second look-up gives the same descriptor. */
    const struct mpimap_plugin *p2 = NULL;
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, "alpha", &p2, NULL), 0);
    ck_assert_ptr_eq(p2, p);
    /* Same name, other kind: not found. */
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_LAUNCHER, "alpha", &p2, NULL),
                     MPIMAP_ENOTFOUND);
    ck_assert_ptr_null(p2);
    mpimap_registry_close(reg);
}
END_TEST

START_TEST(test_lazy_open)
{
    /* Broken files are not even opened until something is looked up. */
    const char *dir = make_dir();
    add_plugin(dir, "mpimap_strategy_badmagic", NULL);
    add_plugin(dir, "mpimap_strategy_undef", NULL);
    write_file(dir, "mpimap_strategy_junk.so", "not an ELF file\n");
    mpimap_registry *reg = open_path(dir);
    ck_assert_uint_eq(mpimap_registry_count(reg), 3);
    for (size_t i = 0; i < 3; i++) {
        mpimap_plugin_info info;
        ck_assert_int_eq(mpimap_registry_info(reg, i, &info), 0);
        ck_assert_int_eq(info.state, MPIMAP_PLUGIN_FOUND);
    }
    mpimap_registry_close(reg);
}
END_TEST

START_TEST(test_bad_magic)
{
    expect_rejected_plugin("mpimap_strategy_badmagic", "badmagic", MPIMAP_EABI,
                           "bad magic 0xdeadbeef");
}
END_TEST

START_TEST(test_abi_major_mismatch)
{
    char *want = xprintf("built for plugin ABI %d.%d; this mpimap has ABI %d.%d "
                         "(major must match)", MPIMAP_ABI_MAJOR + 1, MPIMAP_ABI_MINOR,
                         MPIMAP_ABI_MAJOR, MPIMAP_ABI_MINOR);
    expect_rejected_plugin("mpimap_strategy_abimajor", "abimajor", MPIMAP_EABI, want);
    free(want);
}
END_TEST

START_TEST(test_abi_newer_minor)
{
    char *want = xprintf("built for newer ABI %d.%d; this mpimap has ABI %d.%d",
                         MPIMAP_ABI_MAJOR, MPIMAP_ABI_MINOR + 1, MPIMAP_ABI_MAJOR,
                         MPIMAP_ABI_MINOR);
    expect_rejected_plugin("mpimap_strategy_abinewer", "abinewer", MPIMAP_EABI, want);
    free(want);
}
END_TEST

START_TEST(test_abi_older_minor)
{
    const char *dir = make_dir();
    add_plugin(dir, "mpimap_strategy_abiolder", NULL);
    mpimap_registry *reg = open_path(dir);
    const struct mpimap_plugin *p = NULL;
    char *err = NULL;
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, "abiolder", &p, &err), 0);
    ck_assert_ptr_null(err);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p->abi_minor, 0);
    ck_assert_uint_le(p->abi_minor, MPIMAP_ABI_MINOR);
    ck_assert_str_eq(p->version, "0.0.1");
    ck_assert_int_eq(info_of(reg, "abiolder", 0).state, MPIMAP_PLUGIN_LOADED);
    mpimap_registry_close(reg);
}
END_TEST

START_TEST(test_small_size_field)
{
    char *want = xprintf("descriptor is 24 bytes, smaller than ABI %d.0's %zu",
                         MPIMAP_ABI_MAJOR, (size_t)MPIMAP_PLUGIN_MIN_SIZE);
    expect_rejected_plugin("mpimap_strategy_smallsize", "smallsize", MPIMAP_EABI, want);
    free(want);
}
END_TEST

START_TEST(test_short_struct)
{
    /* Really shorter (8 fields), honest size. */
    char *want = xprintf("descriptor is %zu bytes, smaller than ABI %d.0's %zu",
                         offsetof(struct mpimap_plugin, init), MPIMAP_ABI_MAJOR,
                         (size_t)MPIMAP_PLUGIN_MIN_SIZE);
    expect_rejected_plugin("mpimap_strategy_short", "short", MPIMAP_EABI, want);
    free(want);
    /* Really shorter, claiming today's size: must not be read past its end. */
    want = xprintf("descriptor says it is %zu bytes but symbol '%s' is only %zu bytes",
                   sizeof(struct mpimap_plugin), MPIMAP_PLUGIN_SYMBOL,
                   offsetof(struct mpimap_plugin, init));
    expect_rejected_plugin("mpimap_strategy_shortlie", "shortlie", MPIMAP_EABI, want);
    free(want);
}
END_TEST

START_TEST(test_kind_mismatch)
{
    expect_rejected_plugin("mpimap_strategy_liar", "liar", MPIMAP_EABI,
                           "descriptor says launcher 'liar' but the file is named "
                           "for strategy 'liar'");
}
END_TEST

START_TEST(test_name_mismatch)
{
    const char *dir = make_dir();
    add_plugin(dir, "mpimap_strategy_alpha", "mpimap_strategy_other.so");
    expect_rejected(dir, "other", MPIMAP_EABI,
                    "descriptor says strategy 'alpha' but the file is named for "
                    "strategy 'other'");
    /* Named for a launcher: the kind disagrees. */
    dir = make_dir();
    add_plugin(dir, "mpimap_strategy_alpha", "mpimap_launcher_alpha.so");
    mpimap_registry *reg = open_path(dir);
    char *err = NULL;
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_LAUNCHER, "alpha", NULL, &err),
                     MPIMAP_EABI);
    ck_assert_ptr_nonnull(strstr(err, "descriptor says strategy 'alpha' but the file is "
                                      "named for launcher 'alpha'"));
    free(err);
    mpimap_registry_close(reg);
}
END_TEST

START_TEST(test_bad_fields)
{
    expect_rejected_plugin("mpimap_strategy_noname", "noname", MPIMAP_EABI,
                           "descriptor has no name");
    expect_rejected_plugin("mpimap_strategy_noversion", "noversion", MPIMAP_EABI,
                           "descriptor has no version");
    expect_rejected_plugin("mpimap_strategy_noops", "noops", MPIMAP_EABI,
                           "descriptor has no strategy ops table");
    expect_rejected_plugin("mpimap_strategy_smallops", "smallops", MPIMAP_EABI,
                           "strategy ops table says it is 4 bytes");
}
END_TEST

START_TEST(test_undefined_symbol)
{
    /* The real cause (dlerror), not libltdl's "file not found". */
    expect_rejected_plugin("mpimap_strategy_undef", "undef", MPIMAP_ELOAD,
                           "undefined symbol: mpimap_test_undefined_function");
}
END_TEST

START_TEST(test_not_shared_object)
{
    const char *dir = make_dir();
    write_file(dir, "mpimap_strategy_junk.so",
               "This is a text file pretending to be a plugin. It is long enough\n"
               "for the dynamic linker to read a whole ELF header from it.\n");
    expect_rejected(dir, "junk", MPIMAP_ELOAD, "invalid ELF header");
    mpimap_plugin_info info;
    mpimap_registry *reg = open_path(dir);
    ck_assert_int_eq(mpimap_registry_load_all(reg), 0);
    ck_assert_int_eq(mpimap_registry_info(reg, 0, &info), 0);
    ck_assert_ptr_nonnull(strstr(info.reason, info.path));
    mpimap_registry_close(reg);
}
END_TEST

START_TEST(test_no_descriptor)
{
    expect_rejected_plugin("mpimap_strategy_nodesc", "nodesc", MPIMAP_EABI,
                           "no descriptor symbol 'mpimap_plugin_descriptor'");
}
END_TEST

START_TEST(test_init_declines)
{
    const char *dir = make_dir();
    add_plugin(dir, "mpimap_strategy_decline", NULL);
    add_plugin(dir, "mpimap_strategy_alpha", NULL);
    expect_rejected(dir, "decline", MPIMAP_EDECLINED, "init declined: no widget attached");
    mpimap_registry *reg = open_path(dir);
    ck_assert_int_eq(mpimap_registry_load_all(reg), 0);
    mpimap_plugin_info info = info_of(reg, "decline", 0);
    ck_assert_int_eq(info.state, MPIMAP_PLUGIN_REJECTED);
    ck_assert_str_eq(info.reason, "init declined: no widget attached");
    ck_assert_ptr_null(info.plugin);
    char *names = mpimap_registry_names(reg, MPIMAP_KIND_STRATEGY);
    ck_assert_str_eq(names, "alpha");
    free(names);
    mpimap_registry_close(reg);
}
END_TEST

/* ---- discovery ---------------------------------------------------------- */

START_TEST(test_shadowing)
{
    const char *d1 = make_dir(), *d2 = make_dir();
    add_plugin(d1, "mpimap_strategy_alpha", NULL);
    add_plugin(d2, "mpimap_strategy_alpha", NULL);
    add_plugin(d2, "mpimap_strategy_beta", NULL);
    char *path = xprintf("%s:%s", d1, d2);
    mpimap_registry *reg = open_path(path);
    free(path);
    ck_assert_uint_eq(mpimap_registry_count(reg), 3);

    const struct mpimap_plugin *p = NULL;
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, "alpha", &p, NULL), 0);
    ck_assert_int_eq(mpimap_registry_load_all(reg), 0);

    mpimap_plugin_info first = info_of(reg, "alpha", 0);
    mpimap_plugin_info second = info_of(reg, "alpha", 1);
    char *p1 = xprintf("%s/mpimap_strategy_alpha.so", d1);
    char *p2 = xprintf("%s/mpimap_strategy_alpha.so", d2);
    ck_assert_str_eq(first.path, p1);
    ck_assert_int_eq(first.state, MPIMAP_PLUGIN_LOADED);
    ck_assert_ptr_eq(first.plugin, p);
    ck_assert_str_eq(second.path, p2);
    ck_assert_int_eq(second.state, MPIMAP_PLUGIN_SHADOWED);
    ck_assert_ptr_null(second.plugin);
    char *why = xprintf("shadowed by %s", p1);
    ck_assert_str_eq(second.reason, why);
    free(why);
    free(p2);
    mpimap_registry_close(reg);

    /* MPIMAP_PLUGIN_PATH comes before the system path. */
    ck_assert_int_eq(setenv("MPIMAP_PLUGIN_SYSTEM_PATH", d1, 1), 0);
    reg = open_path(d2);
    ck_assert_uint_eq(mpimap_registry_count(reg), 3);
    second = info_of(reg, "alpha", 1);
    ck_assert_str_eq(second.path, p1);
    ck_assert_int_eq(second.state, MPIMAP_PLUGIN_SHADOWED);
    free(p1);
    mpimap_registry_close(reg);
}
END_TEST

START_TEST(test_empty_and_missing_dirs)
{
    const char *empty = make_dir();
    char *missing = xprintf("%s/does/not/exist", empty);
    char *path = xprintf("%s:%s", empty, missing);
    mpimap_registry *reg = open_path(path);
    ck_assert_uint_eq(mpimap_registry_count(reg), 0);
    mpimap_plugin_info info;
    ck_assert_int_eq(mpimap_registry_info(reg, 0, &info), MPIMAP_EINVAL);
    ck_assert_int_eq(mpimap_registry_load_all(reg), 0);

    char *err = NULL;
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, "pool", NULL, &err),
                     MPIMAP_ENOTFOUND);
    ck_assert_str_eq(err, "no strategy 'pool'; available: (none)");
    free(err);
    char *names = mpimap_registry_names(reg, MPIMAP_KIND_LAUNCHER);
    ck_assert_str_eq(names, "(none)");
    free(names);
    const struct mpimap_plugin *p = (const void *)1;
    err = NULL;
    ck_assert_int_eq(mpimap_registry_best(reg, MPIMAP_KIND_STRATEGY, &p, &err),
                     MPIMAP_ENOTFOUND);
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(err);
    free(err);
    mpimap_registry_close(reg);
    free(path);

    /* Only a missing directory, and a file where a directory should be. */
    write_file(empty, "plain-file", "x\n");
    path = xprintf("%s:%s/plain-file", missing, empty);
    reg = open_path(path);
    ck_assert_uint_eq(mpimap_registry_count(reg), 0);
    mpimap_registry_close(reg);
    free(path);
    free(missing);
}
END_TEST

START_TEST(test_unknown_name)
{
    const char *dir = make_dir();
    add_plugin(dir, "mpimap_strategy_beta", NULL);
    add_plugin(dir, "mpimap_strategy_alpha", NULL);
    add_plugin(dir, "mpimap_strategy_badmagic", NULL); /* rejected: not listed */
    add_plugin(dir, "mpimap_launcher_zero", NULL);     /* other kind: not listed */
    mpimap_registry *reg = open_path(dir);
    const struct mpimap_plugin *p = (const void *)1;
    char *err = NULL;
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, "pol", &p, &err),
                     MPIMAP_ENOTFOUND);
    ck_assert_ptr_null(p);
    ck_assert_str_eq(err, "no strategy 'pol'; available: alpha, beta");
    free(err);
    err = NULL;
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_LAUNCHER, "slurm", &p, &err),
                     MPIMAP_ENOTFOUND);
    ck_assert_str_eq(err, "no launcher 'slurm'; available: zero");
    free(err);
    char *names = mpimap_registry_names(reg, MPIMAP_KIND_STRATEGY);
    ck_assert_str_eq(names, "alpha, beta");
    free(names);
    /* Bad arguments. */
    err = NULL;
    ck_assert_int_eq(mpimap_registry_find(reg, 42, "alpha", &p, &err), MPIMAP_EINVAL);
    ck_assert_ptr_nonnull(err);
    free(err);
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, NULL, &p, NULL),
                     MPIMAP_EINVAL);
    ck_assert_int_eq(mpimap_registry_find(NULL, MPIMAP_KIND_STRATEGY, "alpha", &p, NULL),
                     MPIMAP_EINVAL);
    ck_assert_int_eq(mpimap_registry_info(reg, 0, NULL), MPIMAP_EINVAL);
    ck_assert_int_eq(mpimap_registry_open(NULL), MPIMAP_EINVAL);
    mpimap_registry_close(reg);
    mpimap_registry_close(NULL);
}
END_TEST

START_TEST(test_path_list)
{
    const char *d1 = make_dir(), *d2 = make_dir();
    add_plugin(d1, "mpimap_strategy_beta", NULL);
    add_plugin(d2, "mpimap_strategy_alpha", NULL);
    /* Empty entries, a trailing '/', and d1 twice: scanned once. */
    char *path = xprintf("::%s::%s/:%s:", d1, d2, d1);
    mpimap_registry *reg = open_path(path);
    free(path);
    ck_assert_uint_eq(mpimap_registry_count(reg), 2);
    mpimap_plugin_info info;
    ck_assert_int_eq(mpimap_registry_info(reg, 0, &info), 0);
    ck_assert_str_eq(info.name, "beta"); /* d1 first, though alpha < beta */
    ck_assert_int_eq(mpimap_registry_info(reg, 1, &info), 0);
    ck_assert_str_eq(info.name, "alpha");
    char *want = xprintf("%s/mpimap_strategy_alpha.so", d2);
    ck_assert_str_eq(info.path, want);
    free(want);
    mpimap_registry_close(reg);

    /* The system path may be a ':' list too; set-but-empty means none. */
    path = xprintf(":%s::%s", d2, d1);
    ck_assert_int_eq(setenv("MPIMAP_PLUGIN_SYSTEM_PATH", path, 1), 0);
    free(path);
    reg = open_path("");
    ck_assert_uint_eq(mpimap_registry_count(reg), 2);
    ck_assert_int_eq(mpimap_registry_info(reg, 0, &info), 0);
    ck_assert_str_eq(info.name, "alpha");
    mpimap_registry_close(reg);
    ck_assert_int_eq(setenv("MPIMAP_PLUGIN_SYSTEM_PATH", "", 1), 0);
    reg = open_path("");
    ck_assert_uint_eq(mpimap_registry_count(reg), 0);
    mpimap_registry_close(reg);
}
END_TEST

START_TEST(test_relative_dir)
{
    const char *dir = make_dir();
    add_plugin(dir, "mpimap_strategy_alpha", NULL);
    char *cwd = getcwd(NULL, 0);
    ck_assert_ptr_nonnull(cwd);
    char *parent = strdup(dir);
    ck_assert_ptr_nonnull(parent);
    char *slash = strrchr(parent, '/');
    ck_assert_ptr_nonnull(slash);
    *slash = '\0';
    ck_assert_int_eq(chdir(parent[0] ? parent : "/"), 0);
    mpimap_registry *reg = open_path(slash + 1);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_uint_eq(mpimap_registry_count(reg), 1);
    mpimap_plugin_info info;
    ck_assert_int_eq(mpimap_registry_info(reg, 0, &info), 0);
    ck_assert_int_eq(info.path[0], '/');
    char *want = xprintf("%s/%s/mpimap_strategy_alpha.so", parent, slash + 1);
    ck_assert_str_eq(info.path, want);
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, "alpha", NULL, NULL), 0);
    free(want);
    free(parent);
    free(cwd);
    mpimap_registry_close(reg);
}
END_TEST

START_TEST(test_file_name_filter)
{
    const char *dir = make_dir();
    /* Created in reverse order: the registry sorts by name. */
    add_plugin(dir, "mpimap_strategy_my_pool-2", NULL);
    add_plugin(dir, "mpimap_strategy_beta", NULL);
    add_plugin(dir, "mpimap_launcher_zero", NULL);
    add_plugin(dir, "mpimap_strategy_alpha", "mpimap_strategy_.so");
    add_plugin(dir, "mpimap_strategy_alpha", "mpimap_foo_bar.so");
    add_plugin(dir, "mpimap_strategy_alpha", "mpimap_strategy_bad!name.so");
    add_plugin(dir, "mpimap_strategy_alpha", "mpimap_strategy_dot.name.so");
    add_plugin(dir, "mpimap_strategy_alpha", "libmpimap_strategy_alpha.so");
    add_plugin(dir, "mpimap_strategy_alpha", "mpimap_strategy_alpha.so.1");
    add_plugin(dir, "mpimap_strategy_alpha", "mpimap_strategy_alpha.SO");
    add_plugin(dir, "mpimap_strategy_alpha", "mpimap_strategyalpha.so");
    make_subdir(dir, "mpimap_strategy_dir.so");     /* a directory */
    make_subdir(dir, "mpimap_strategy_alpha.so.p"); /* meson's object folder */
    char *dangling = xprintf("%s/mpimap_strategy_gone.so", dir);
    ck_assert_int_eq(symlink("/nonexistent/mpimap_strategy_gone.so", dangling), 0);
    free(dangling);
    write_file(dir, "README", "not a plugin\n");

    mpimap_registry *reg = open_path(dir);
    ck_assert_uint_eq(mpimap_registry_count(reg), 3);
    static const char *const order[] = {"zero", "beta", "my_pool-2"};
    for (size_t i = 0; i < 3; i++) {
        mpimap_plugin_info info;
        ck_assert_int_eq(mpimap_registry_info(reg, i, &info), 0);
        ck_assert_str_eq(info.name, order[i]);
    }
    const struct mpimap_plugin *p = NULL;
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, "my_pool-2", &p, NULL), 0);
    ck_assert_str_eq(p->name, "my_pool-2");
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_LAUNCHER, "zero", &p, NULL), 0);
    ck_assert_uint_eq(p->kind, MPIMAP_KIND_LAUNCHER);
    mpimap_registry_close(reg);
}
END_TEST

/* ---- selection ---------------------------------------------------------- */

START_TEST(test_best)
{
    const char *d1 = make_dir(), *d2 = make_dir();
    add_plugin(d1, "mpimap_strategy_alpha", NULL);   /* 5 */
    add_plugin(d1, "mpimap_strategy_noquery", NULL); /* 0 */
    add_plugin(d1, "mpimap_strategy_gamma", NULL);   /* 9 */
    add_plugin(d1, "mpimap_strategy_beta", NULL);    /* 9: before gamma */
    add_plugin(d1, "mpimap_strategy_badmagic", NULL);
    add_plugin(d1, "mpimap_launcher_neg", NULL);     /* -1 */
    add_plugin(d1, "mpimap_launcher_zero", NULL);    /* no query: 0 */
    mpimap_registry *reg = open_path(d1);
    const struct mpimap_plugin *p = NULL;
    char *err = NULL;
    ck_assert_int_eq(mpimap_registry_best(reg, MPIMAP_KIND_STRATEGY, &p, &err), 0);
    ck_assert_ptr_null(err);
    ck_assert_str_eq(p->name, "beta");
    ck_assert_int_eq(mpimap_registry_best(reg, MPIMAP_KIND_LAUNCHER, &p, &err), 0);
    ck_assert_str_eq(p->name, "zero");
    ck_assert_int_eq(mpimap_registry_best(reg, 7, &p, &err), MPIMAP_EINVAL);
    ck_assert_ptr_null(p);
    free(err);
    mpimap_registry_close(reg);

    /* Ties go to the first in search order: gamma's directory first. */
    add_plugin(d2, "mpimap_strategy_gamma", NULL);
    char *path = xprintf("%s:%s", d2, d1);
    reg = open_path(path);
    free(path);
    ck_assert_int_eq(mpimap_registry_best(reg, MPIMAP_KIND_STRATEGY, &p, NULL), 0);
    ck_assert_str_eq(p->name, "gamma");
    mpimap_plugin_info info = info_of(reg, "gamma", 0);
    ck_assert_ptr_eq(info.plugin, p);
    mpimap_registry_close(reg);

    /* No priority is usable: neg's query is negative. */
    const char *d3 = make_dir();
    add_plugin(d3, "mpimap_launcher_neg", NULL);
    add_plugin(d3, "mpimap_strategy_noquery", NULL);
    reg = open_path(d3);
    err = NULL;
    ck_assert_int_eq(mpimap_registry_best(reg, MPIMAP_KIND_LAUNCHER, &p, &err),
                     MPIMAP_ENOTFOUND);
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(strstr(err, "launcher"));
    free(err);
    /* A strategy without query counts as priority 0. */
    ck_assert_int_eq(mpimap_registry_best(reg, MPIMAP_KIND_STRATEGY, &p, NULL), 0);
    ck_assert_str_eq(p->name, "noquery");
    mpimap_registry_close(reg);
}
END_TEST

/* ---- lifetime ----------------------------------------------------------- */

START_TEST(test_fini_called)
{
    const char *dir = make_dir();
    add_plugin(dir, "mpimap_strategy_alpha", NULL);
    add_plugin(dir, "mpimap_strategy_beta", NULL);
    add_plugin(dir, "mpimap_strategy_decline", NULL);
    char *log = xprintf("%s/fini.log", dir);
    ck_assert_int_eq(setenv("MPIMAP_TEST_FINI_FILE", log, 1), 0);

    /* Only loaded plugins are finalised (beta is never loaded; decline
     * declined). */
    char *path = xprintf("%s/", dir);
    mpimap_registry *reg = open_path(path);
    free(path);
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, "alpha", NULL, NULL), 0);
    ck_assert_int_eq(mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, "decline", NULL, NULL),
                     MPIMAP_EDECLINED);
    ck_assert_int_ne(access(log, F_OK), 0);
    mpimap_registry_close(reg);

    FILE *fp = fopen(log, "r");
    ck_assert_ptr_nonnull(fp);
    char line[64] = {0};
    ck_assert_ptr_nonnull(fgets(line, sizeof line, fp));
    ck_assert_str_eq(line, "alpha\n");
    ck_assert_ptr_null(fgets(line, sizeof line, fp));
    fclose(fp);
    free(log);
}
END_TEST

START_TEST(test_load_all_info)
{
    static const struct {
        const char *file;
        const char *name;
        int state;
    } all[] = {
        {"mpimap_launcher_neg", "neg", MPIMAP_PLUGIN_LOADED},
        {"mpimap_launcher_zero", "zero", MPIMAP_PLUGIN_LOADED},
        {"mpimap_strategy_abimajor", "abimajor", MPIMAP_PLUGIN_REJECTED},
        {"mpimap_strategy_abinewer", "abinewer", MPIMAP_PLUGIN_REJECTED},
        {"mpimap_strategy_abiolder", "abiolder", MPIMAP_PLUGIN_LOADED},
        {"mpimap_strategy_alpha", "alpha", MPIMAP_PLUGIN_LOADED},
        {"mpimap_strategy_badmagic", "badmagic", MPIMAP_PLUGIN_REJECTED},
        {"mpimap_strategy_beta", "beta", MPIMAP_PLUGIN_LOADED},
        {"mpimap_strategy_decline", "decline", MPIMAP_PLUGIN_REJECTED},
        {"mpimap_strategy_gamma", "gamma", MPIMAP_PLUGIN_LOADED},
        {"mpimap_strategy_liar", "liar", MPIMAP_PLUGIN_REJECTED},
        {"mpimap_strategy_my_pool-2", "my_pool-2", MPIMAP_PLUGIN_LOADED},
        {"mpimap_strategy_nodesc", "nodesc", MPIMAP_PLUGIN_REJECTED},
        {"mpimap_strategy_noname", "noname", MPIMAP_PLUGIN_REJECTED},
        {"mpimap_strategy_noops", "noops", MPIMAP_PLUGIN_REJECTED},
        {"mpimap_strategy_noquery", "noquery", MPIMAP_PLUGIN_LOADED},
        {"mpimap_strategy_noversion", "noversion", MPIMAP_PLUGIN_REJECTED},
        {"mpimap_strategy_short", "short", MPIMAP_PLUGIN_REJECTED},
        {"mpimap_strategy_shortlie", "shortlie", MPIMAP_PLUGIN_REJECTED},
        {"mpimap_strategy_smallops", "smallops", MPIMAP_PLUGIN_REJECTED},
        {"mpimap_strategy_smallsize", "smallsize", MPIMAP_PLUGIN_REJECTED},
        {"mpimap_strategy_undef", "undef", MPIMAP_PLUGIN_REJECTED},
    };
    const size_t n = sizeof all / sizeof all[0];
    const char *d1 = make_dir(), *d2 = make_dir();
    for (size_t i = 0; i < n; i++)
        add_plugin(d1, all[i].file, NULL);
    write_file(d1, "mpimap_strategy_zjunk.so", "junk\n");
    add_plugin(d2, "mpimap_strategy_alpha", NULL); /* shadowed */
    char *path = xprintf("%s:%s", d1, d2);
    mpimap_registry *reg = open_path(path);
    free(path);
    ck_assert_uint_eq(mpimap_registry_count(reg), n + 2);
    ck_assert_int_eq(mpimap_registry_load_all(reg), 0);
    ck_assert_int_eq(mpimap_registry_load_all(reg), 0); /* idempotent */

    for (size_t i = 0; i < n + 2; i++) {
        mpimap_plugin_info info;
        ck_assert_int_eq(mpimap_registry_info(reg, i, &info), 0);
        ck_assert_ptr_nonnull(info.name);
        ck_assert_ptr_nonnull(info.path);
        ck_assert_int_ne(info.state, MPIMAP_PLUGIN_FOUND);
        int want;
        if (i < n) {
            ck_assert_str_eq(info.name, all[i].name);
            want = all[i].state;
        } else if (i == n) {
            ck_assert_str_eq(info.name, "zjunk");
            want = MPIMAP_PLUGIN_REJECTED;
        } else {
            ck_assert_str_eq(info.name, "alpha");
            want = MPIMAP_PLUGIN_SHADOWED;
        }
        ck_assert_msg(info.state == want, "%s: state %d, want %d (%s)", info.name,
                      info.state, want, info.reason ? info.reason : "no reason");
        if (info.state == MPIMAP_PLUGIN_LOADED) {
            ck_assert_ptr_nonnull(info.plugin);
            ck_assert_ptr_null(info.reason);
            ck_assert_str_eq(info.plugin->name, info.name);
            ck_assert_int_eq((int)info.plugin->kind, info.kind);
            ck_assert_ptr_nonnull(info.plugin->version);
            ck_assert_ptr_nonnull(info.plugin->description);
        } else {
            ck_assert_ptr_null(info.plugin);
            ck_assert_ptr_nonnull(info.reason);
            ck_assert_uint_gt(strlen(info.reason), 10);
            ck_assert_str_ne(info.reason, "file not found");
        }
    }
    mpimap_plugin_info info;
    ck_assert_int_eq(mpimap_registry_info(reg, n + 2, &info), MPIMAP_EINVAL);
    char *names = mpimap_registry_names(reg, MPIMAP_KIND_STRATEGY);
    ck_assert_str_eq(names, "abiolder, alpha, beta, gamma, my_pool-2, noquery");
    free(names);
    mpimap_registry_close(reg);
}
END_TEST

/* ---- threads ------------------------------------------------------------ */

#define N_THREADS 4
#define N_ROUNDS 50

struct thread_arg {
    mpimap_registry *reg; /* shared; NULL: open a private one each round */
    const char *dir;
    int failures;
};

static void *finder(void *p)
{
    struct thread_arg *a = p;
    for (int r = 0; r < N_ROUNDS; r++) {
        mpimap_registry *reg = a->reg;
        if (!reg && mpimap_registry_open(&reg) != 0) {
            a->failures++;
            continue;
        }
        const struct mpimap_plugin *pl = NULL;
        char *err = NULL;
        if (mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, (r & 1) ? "alpha" : "beta",
                                 &pl, NULL) != 0 ||
            !pl || strcmp(pl->name, (r & 1) ? "alpha" : "beta") != 0)
            a->failures++;
        if (mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, "badmagic", &pl, &err) !=
                MPIMAP_EABI || !err || !strstr(err, "bad magic"))
            a->failures++;
        free(err);
        err = NULL;
        if (mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, "nope", &pl, &err) !=
                MPIMAP_ENOTFOUND || !err ||
            strcmp(err, "no strategy 'nope'; available: alpha, beta") != 0)
            a->failures++;
        free(err);
        char *names = mpimap_registry_names(reg, MPIMAP_KIND_STRATEGY);
        if (!names || strcmp(names, "alpha, beta") != 0)
            a->failures++;
        free(names);
        mpimap_plugin_info info;
        for (size_t i = 0; i < mpimap_registry_count(reg); i++)
            if (mpimap_registry_info(reg, i, &info) != 0)
                a->failures++;
        if (!a->reg)
            mpimap_registry_close(reg);
    }
    return NULL;
}

START_TEST(test_threads)
{
    const char *dir = make_dir();
    add_plugin(dir, "mpimap_strategy_alpha", NULL);
    add_plugin(dir, "mpimap_strategy_beta", NULL);
    add_plugin(dir, "mpimap_strategy_badmagic", NULL);
    add_plugin(dir, "mpimap_strategy_decline", NULL);
    mpimap_registry *reg = open_path(dir);

    /* Four threads on one registry, then four with a registry each (which
     * share libltdl's global state). */
    for (int shared = 1; shared >= 0; shared--) {
        pthread_t t[N_THREADS];
        struct thread_arg args[N_THREADS];
        for (int i = 0; i < N_THREADS; i++) {
            args[i] = (struct thread_arg){shared ? reg : NULL, dir, 0};
            ck_assert_int_eq(pthread_create(&t[i], NULL, finder, &args[i]), 0);
        }
        for (int i = 0; i < N_THREADS; i++) {
            ck_assert_int_eq(pthread_join(t[i], NULL), 0);
            ck_assert_msg(args[i].failures == 0, "thread %d (shared=%d): %d failures", i,
                          shared, args[i].failures);
        }
    }
    ck_assert_int_eq(info_of(reg, "alpha", 0).state, MPIMAP_PLUGIN_LOADED);
    ck_assert_int_eq(info_of(reg, "decline", 0).state, MPIMAP_PLUGIN_REJECTED);
    mpimap_registry_close(reg);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("registry");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_kind_names);
    tcase_add_test(tc, test_valid_plugin);
    tcase_add_test(tc, test_lazy_open);
    tcase_add_test(tc, test_bad_magic);
    tcase_add_test(tc, test_abi_major_mismatch);
    tcase_add_test(tc, test_abi_newer_minor);
    tcase_add_test(tc, test_abi_older_minor);
    tcase_add_test(tc, test_small_size_field);
    tcase_add_test(tc, test_short_struct);
    tcase_add_test(tc, test_kind_mismatch);
    tcase_add_test(tc, test_name_mismatch);
    tcase_add_test(tc, test_bad_fields);
    tcase_add_test(tc, test_undefined_symbol);
    tcase_add_test(tc, test_not_shared_object);
    tcase_add_test(tc, test_no_descriptor);
    tcase_add_test(tc, test_init_declines);
    tcase_add_test(tc, test_shadowing);
    tcase_add_test(tc, test_empty_and_missing_dirs);
    tcase_add_test(tc, test_unknown_name);
    tcase_add_test(tc, test_path_list);
    tcase_add_test(tc, test_relative_dir);
    tcase_add_test(tc, test_file_name_filter);
    tcase_add_test(tc, test_best);
    tcase_add_test(tc, test_fini_called);
    tcase_add_test(tc, test_load_all_info);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    return s;
}
