/* SPDX-License-Identifier: BSD-3-Clause */
/* test_siteconfig.c - the config files: which are read and in what order
 * (MPIMAP_CONFIG_SYSTEM, XDG_CONFIG_HOME or HOME, MPIMAP_CONFIG), key by
 * key precedence, the syntax, every malformed line's "FILE:LINE: ..."
 * message, and the shell-like split of mpirun_args. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>

#include "siteconfig.h"

/* ---- a sandbox: a temporary directory and the variables that matter ---- */

static char dir[] = "/tmp/mpimap-siteconfig-XXXXXX";
static char *sys_path, *home, *user_path, *xdg, *xdg_path, *named_path;

static char *join(const char *a, const char *b)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", a, b), 0);
    return p;
}

static void write_text(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    ck_assert_int_eq(close(fd), 0);
}

static void put(const char *path, const char *text)
{
    write_text(path, text, strlen(text));
}

static void setup(void)
{
    strcpy(dir, "/tmp/mpimap-siteconfig-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    sys_path = join(dir, "system.conf");
    home = join(dir, "home");
    char *cfg = join(home, ".config");
    char *mm = join(cfg, "mpimap");
    user_path = join(mm, "mpimap.conf");
    xdg = join(dir, "xdg");
    char *xmm = join(xdg, "mpimap");
    xdg_path = join(xmm, "mpimap.conf");
    named_path = join(dir, "named.conf");
    ck_assert_int_eq(mkdir(home, 0700), 0);
    ck_assert_int_eq(mkdir(cfg, 0700), 0);
    ck_assert_int_eq(mkdir(mm, 0700), 0);
    ck_assert_int_eq(mkdir(xdg, 0700), 0);
    ck_assert_int_eq(mkdir(xmm, 0700), 0);
    free(cfg);
    free(mm);
    free(xmm);
    /* Only the files of the sandbox are read. */
    ck_assert_int_eq(setenv("MPIMAP_CONFIG_SYSTEM", sys_path, 1), 0);
    ck_assert_int_eq(setenv("HOME", home, 1), 0);
    ck_assert_int_eq(unsetenv("XDG_CONFIG_HOME"), 0);
    ck_assert_int_eq(unsetenv("MPIMAP_CONFIG"), 0);
}

static void teardown(void)
{
    char *cmd = NULL;
    ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'", dir), 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    free(sys_path);
    free(home);
    free(user_path);
    free(xdg);
    free(xdg_path);
    free(named_path);
}

/* path:line as the sources say it. */
static char *at(const char *path, int line)
{
    char *s = NULL;
    ck_assert_int_ge(asprintf(&s, "%s:%d", path, line), 0);
    return s;
}

static void assert_get(const struct mpimap_config *cfg, const char *key, const char *value,
                       const char *path, int line)
{
    const char *src = (const char *)1;
    const char *v = mpimap_config_get(cfg, key, &src);
    if (!value) {
        ck_assert_msg(v == NULL, "%s: got '%s', wanted none", key, v);
        ck_assert_ptr_null(src);
        return;
    }
    ck_assert_msg(v != NULL, "%s: no value, wanted '%s'", key, value);
    ck_assert_str_eq(v, value);
    char *want = at(path, line);
    ck_assert_str_eq(src, want);
    free(want);
}

static struct mpimap_config load_ok(void)
{
    struct mpimap_config cfg = {0};
    char *error = NULL;
    int rc = mpimap_config_load(&cfg, &error);
    ck_assert_msg(rc == 0, "load: %d %s", rc, error ? error : "");
    ck_assert_ptr_null(error);
    return cfg;
}

/* Load, expecting rc and the exact message "PATH:LINE: rest" (line 0: no
 * line, "PATH: rest"). */
static void load_fails(int want_rc, const char *path, int line, const char *rest)
{
    struct mpimap_config cfg = {0};
    char *error = NULL;
    ck_assert_int_eq(mpimap_config_load(&cfg, &error), want_rc);
    ck_assert_ptr_nonnull(error);
    char *want = NULL;
    if (line)
        ck_assert_int_ge(asprintf(&want, "%s:%d: %s", path, line, rest), 0);
    else
        ck_assert_int_ge(asprintf(&want, "%s: %s", path, rest), 0);
    ck_assert_str_eq(error, want);
    /* nothing is left behind */
    ck_assert_uint_eq(cfg.n, 0);
    ck_assert_ptr_null(cfg.v);
    free(want);
    free(error);
}

/* ---- which files ---------------------------------------------------------- */

START_TEST(no_files)
{
    struct mpimap_config cfg = load_ok();
    ck_assert_uint_eq(cfg.n, 0);
    assert_get(&cfg, "np", NULL, NULL, 0);
    mpimap_config_free(&cfg);
    /* empty MPIMAP_CONFIG_SYSTEM and MPIMAP_CONFIG: no such files; no HOME */
    ck_assert_int_eq(setenv("MPIMAP_CONFIG_SYSTEM", "", 1), 0);
    ck_assert_int_eq(setenv("MPIMAP_CONFIG", "", 1), 0);
    ck_assert_int_eq(unsetenv("HOME"), 0);
    cfg = load_ok();
    ck_assert_uint_eq(cfg.n, 0);
    mpimap_config_free(&cfg);
    mpimap_config_free(&cfg); /* twice is fine */
    mpimap_config_free(NULL);
}
END_TEST

START_TEST(precedence)
{
    put(sys_path, "# the site\n"
                  "launcher = mpirun\n"
                  "np = 8\n"
                  "queue = batch\n"
                  "directive = --exclusive\n"
                  "account = site\n");
    put(user_path, "np = 4\n"
                   "directive = --mail-type=END\n"
                   "qos = low\n");
    put(named_path, "\n"
                    "queue = debug\n"
                    "qos = \"\"\n");
    ck_assert_int_eq(setenv("MPIMAP_CONFIG", named_path, 1), 0);
    struct mpimap_config cfg = load_ok();
    ck_assert_uint_eq(cfg.n, 10);
    assert_get(&cfg, "launcher", "mpirun", sys_path, 2);
    assert_get(&cfg, "np", "4", user_path, 1);
    assert_get(&cfg, "queue", "debug", named_path, 2);
    assert_get(&cfg, "account", "site", sys_path, 6);
    assert_get(&cfg, "qos", "", named_path, 3); /* "" clears */
    assert_get(&cfg, "directive", "--mail-type=END", user_path, 2); /* the last */
    assert_get(&cfg, "walltime", NULL, NULL, 0);
    assert_get(&cfg, "strategy", NULL, NULL, 0);

    /* In the order read, and which are in force. */
    static const char *const keys[] = {"launcher", "np", "queue", "directive", "account",
                                       "np", "directive", "qos", "queue", "qos"};
    static const int force[] = {1, 0, 0, 1, 1, 1, 1, 0, 1, 1};
    for (size_t i = 0; i < cfg.n; i++) {
        ck_assert_str_eq(cfg.v[i].key, keys[i]);
        ck_assert_int_eq(mpimap_config_in_force(&cfg, i), force[i]);
    }
    ck_assert_int_eq(mpimap_config_in_force(&cfg, cfg.n), 0);
    ck_assert_int_eq(mpimap_config_in_force(NULL, 0), 0);
    /* directives accumulate: the site's, then the user's */
    ck_assert_str_eq(cfg.v[3].value, "--exclusive");
    char *s3 = at(sys_path, 5);
    ck_assert_str_eq(cfg.v[3].source, s3);
    free(s3);
    mpimap_config_free(&cfg);
    ck_assert_uint_eq(cfg.n, 0);
    ck_assert_ptr_null(cfg.v);
}
END_TEST

START_TEST(xdg_config_home)
{
    put(user_path, "np = 4\n");
    put(xdg_path, "np = 6\n");
    /* an absolute XDG_CONFIG_HOME replaces ~/.config */
    ck_assert_int_eq(setenv("XDG_CONFIG_HOME", xdg, 1), 0);
    struct mpimap_config cfg = load_ok();
    ck_assert_uint_eq(cfg.n, 1);
    assert_get(&cfg, "np", "6", xdg_path, 1);
    mpimap_config_free(&cfg);
    /* a relative one is ignored (XDG Base Directory rule) */
    ck_assert_int_eq(setenv("XDG_CONFIG_HOME", "relative/dir", 1), 0);
    cfg = load_ok();
    assert_get(&cfg, "np", "4", user_path, 1);
    mpimap_config_free(&cfg);
    /* an empty one too */
    ck_assert_int_eq(setenv("XDG_CONFIG_HOME", "", 1), 0);
    cfg = load_ok();
    assert_get(&cfg, "np", "4", user_path, 1);
    mpimap_config_free(&cfg);
    /* no HOME and no XDG_CONFIG_HOME: no user file */
    ck_assert_int_eq(unsetenv("XDG_CONFIG_HOME"), 0);
    ck_assert_int_eq(unsetenv("HOME"), 0);
    cfg = load_ok();
    ck_assert_uint_eq(cfg.n, 0);
    mpimap_config_free(&cfg);
}
END_TEST

START_TEST(missing_and_unreadable)
{
    /* A missing system or user file is skipped... */
    put(named_path, "np = 2\n");
    ck_assert_int_eq(setenv("MPIMAP_CONFIG", named_path, 1), 0);
    struct mpimap_config cfg = load_ok();
    assert_get(&cfg, "np", "2", named_path, 1);
    mpimap_config_free(&cfg);
    /* ... also when a directory on the way is a file */
    char *not_dir = join(dir, "plainfile");
    put(not_dir, "");
    ck_assert_int_eq(setenv("HOME", not_dir, 1), 0);
    cfg = load_ok();
    ck_assert_uint_eq(cfg.n, 1);
    mpimap_config_free(&cfg);
    free(not_dir);

    /* but the file MPIMAP_CONFIG names must be there */
    char *gone = join(dir, "gone.conf");
    ck_assert_int_eq(setenv("MPIMAP_CONFIG", gone, 1), 0);
    load_fails(MPIMAP_EIO, gone, 0,
               "cannot read: No such file or directory (named by MPIMAP_CONFIG)");
    free(gone);

    /* a directory is not a config file */
    ck_assert_int_eq(setenv("MPIMAP_CONFIG", dir, 1), 0);
    load_fails(MPIMAP_EIO, dir, 0, "cannot read: Is a directory (named by MPIMAP_CONFIG)");
    ck_assert_int_eq(unsetenv("MPIMAP_CONFIG"), 0);
    ck_assert_int_eq(setenv("MPIMAP_CONFIG_SYSTEM", dir, 1), 0);
    load_fails(MPIMAP_EIO, dir, 0, "cannot read: Is a directory");
}
END_TEST

/* ---- syntax ------------------------------------------------------------- */

START_TEST(syntax)
{
    put(sys_path, "\n"
                  "   # an indented comment\n"
                  "\t\n"
                  "launcher=srun\n"
                  "  via   =   mpirun   \n"
                  "strategy\t=\tpool\t\n"
                  "queue = \"with spaces, \\\"quotes\\\" and \\\\\"   \n"
                  "account = a=b # not a comment\n"
                  "qos = \"  padded  \"\n"
                  "mpirun_args = --mca btl 'self,vader' \"x y\"\n"
                  "walltime = 2-12:00:00\r\n"
                  "directive = \"#SBATCH --gres=gpu:1\"\n"
                  "directive = back\\slash \\n stays\n"
                  "np = 007\n");
    struct mpimap_config cfg = load_ok();
    assert_get(&cfg, "launcher", "srun", sys_path, 4);
    assert_get(&cfg, "via", "mpirun", sys_path, 5);
    assert_get(&cfg, "strategy", "pool", sys_path, 6);
    assert_get(&cfg, "queue", "with spaces, \"quotes\" and \\", sys_path, 7);
    assert_get(&cfg, "account", "a=b # not a comment", sys_path, 8);
    assert_get(&cfg, "qos", "  padded  ", sys_path, 9);
    assert_get(&cfg, "mpirun_args", "--mca btl 'self,vader' \"x y\"", sys_path, 10);
    assert_get(&cfg, "walltime", "2-12:00:00", sys_path, 11);
    ck_assert_str_eq(cfg.v[8].value, "#SBATCH --gres=gpu:1");
    assert_get(&cfg, "directive", "back\\slash \\n stays", sys_path, 13);
    assert_get(&cfg, "np", "007", sys_path, 14);
    ck_assert_uint_eq(cfg.n, 11);
    mpimap_config_free(&cfg);

    /* a file without a final newline, and an empty file */
    put(sys_path, "np = 3");
    put(user_path, "");
    cfg = load_ok();
    assert_get(&cfg, "np", "3", sys_path, 1);
    mpimap_config_free(&cfg);

    /* the same key in two files is an override, not an error */
    put(user_path, "np = 5\n");
    put(named_path, "np = 6\n");
    ck_assert_int_eq(setenv("MPIMAP_CONFIG", user_path, 1), 0); /* even the same file */
    cfg = load_ok();
    ck_assert_uint_eq(cfg.n, 3);
    assert_get(&cfg, "np", "5", user_path, 1);
    ck_assert_int_eq(mpimap_config_in_force(&cfg, 1), 0);
    ck_assert_int_eq(mpimap_config_in_force(&cfg, 2), 1);
    mpimap_config_free(&cfg);
}
END_TEST

/* Every malformed line, as line 3 of a file (after a comment and a good
 * line), with the rest of its message. */
static const struct {
    const char *line;
    const char *rest;
} bad_lines[] = {
    {"np", "expected 'key = value', got 'np'"},
    {"  launcher mpirun  ", "expected 'key = value', got 'launcher mpirun'"},
    {"= 4", "no key before '='"},
    {"  =", "no key before '='"},
    {"queu = batch",
     "unknown key 'queu' (keys: launcher, via, strategy, np, queue, account, qos, "
     "walltime, mpirun_args, directive)"},
    {"Queue = batch",
     "unknown key 'Queue' (keys: launcher, via, strategy, np, queue, account, qos, "
     "walltime, mpirun_args, directive)"},
    {"the queue = batch",
     "unknown key 'the queue' (keys: launcher, via, strategy, np, queue, account, qos, "
     "walltime, mpirun_args, directive)"},
    {"queue =", "no value for 'queue'"},
    {"queue =   \t", "no value for 'queue'"},
    {"queue = \"batch", "no closing '\"' in the value of 'queue'"},
    {"queue = \"batch\\\"", "no closing '\"' in the value of 'queue'"},
    {"queue = \"batch\" x", "text after the closing '\"' in the value of 'queue'"},
    {"queue = \"a\"\"b\"", "text after the closing '\"' in the value of 'queue'"},
    {"np = 0", "np '0' is not a whole number from 1 to 2147483647"},
    {"np = -2", "np '-2' is not a whole number from 1 to 2147483647"},
    {"np = +2", "np '+2' is not a whole number from 1 to 2147483647"},
    {"np = four", "np 'four' is not a whole number from 1 to 2147483647"},
    {"np = 4 # four ranks", "np '4 # four ranks' is not a whole number from 1 to 2147483647"},
    {"np = 2147483648", "np '2147483648' is not a whole number from 1 to 2147483647"},
    {"np = \"\"", "np '' is not a whole number from 1 to 2147483647"},
    {"walltime = 1:75:00",
     "walltime '1:75:00': minutes must be 0 to 59 (forms: [[H:]M:]S or D-H:M:S)"},
    {"walltime = 1h", "walltime '1h': has an unexpected character 'h' (forms: [[H:]M:]S or "
                      "D-H:M:S)"},
    {"walltime = \"\"", "walltime '': is empty (forms: [[H:]M:]S or D-H:M:S)"},
    {"launcher = my launcher",
     "launcher 'my launcher' is not a plugin name (letters, digits, '_' and '-')"},
    {"via = ../srun", "via '../srun' is not a plugin name (letters, digits, '_' and '-')"},
    {"strategy = pool.so",
     "strategy 'pool.so' is not a plugin name (letters, digits, '_' and '-')"},
    {"mpirun_args = --mca 'btl", "mpirun_args: unterminated single quote"},
    {"mpirun_args = --x \"y", "mpirun_args: unterminated double quote"},
    {"mpirun_args = --x \\", "mpirun_args: backslash at the end"},
    {"directive = \"\"", "directive is empty"},
    {"account = a", "'account' is already set at line 2 (only directive repeats)"},
};

START_TEST(malformed_line)
{
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text, "# a comment\naccount = x\n%s\nnp = 2\n",
                              bad_lines[_i].line), 0);
    /* in each of the three files */
    const char *paths[] = {sys_path, user_path, named_path};
    for (int f = 0; f < 3; f++) {
        put(sys_path, "");
        put(user_path, "");
        put(named_path, "");
        ck_assert_int_eq(setenv("MPIMAP_CONFIG", named_path, 1), 0);
        put(paths[f], text);
        load_fails(MPIMAP_EINVAL, paths[f], 3, bad_lines[_i].rest);
    }
    free(text);
}
END_TEST

START_TEST(malformed_nul)
{
    static const char text[] = "np = 1\nqueue = a\0b\n";
    write_text(sys_path, text, sizeof text - 1);
    load_fails(MPIMAP_EINVAL, sys_path, 2, "a NUL byte in the line");
}
END_TEST

/* An error in a later file drops what the earlier files gave. */
START_TEST(error_after_good_files)
{
    put(sys_path, "np = 2\nqueue = q\n");
    put(user_path, "np = 3\nnope = 1\n");
    load_fails(MPIMAP_EINVAL, user_path, 2,
               "unknown key 'nope' (keys: launcher, via, strategy, np, queue, account, qos, "
               "walltime, mpirun_args, directive)");
    /* error may be NULL */
    struct mpimap_config cfg = {0};
    ck_assert_int_eq(mpimap_config_load(&cfg, NULL), MPIMAP_EINVAL);
    ck_assert_uint_eq(cfg.n, 0);
}
END_TEST

START_TEST(keys)
{
    static const char *const want[] = {"launcher", "via", "strategy", "np", "queue",
                                       "account", "qos", "walltime", "mpirun_args",
                                       "directive", NULL};
    for (size_t i = 0; want[i]; i++) {
        ck_assert_ptr_nonnull(mpimap_config_keys[i]);
        ck_assert_str_eq(mpimap_config_keys[i], want[i]);
        ck_assert_int_eq(mpimap_config_repeatable(want[i]), strcmp(want[i], "directive") == 0);
    }
    ck_assert_ptr_null(mpimap_config_keys[10]);
    ck_assert_int_eq(mpimap_config_repeatable(NULL), 0);
    ck_assert_int_eq(mpimap_config_repeatable("nope"), 0);
}
END_TEST

/* ---- splitting mpirun_args ---------------------------------------------- */

static const struct {
    const char *text;
    const char *words[8];
} good_splits[] = {
    {"", {NULL}},
    {"   \t ", {NULL}},
    {"a", {"a", NULL}},
    {"  --mca  btl\tself,vader ", {"--mca", "btl", "self,vader", NULL}},
    {"'a b' \"c d\"", {"a b", "c d", NULL}},
    {"a'b'\"c\"d", {"abcd", NULL}},
    {"'' \"\"", {"", "", NULL}},
    {"'$HOME' $HOME `id` *", {"$HOME", "$HOME", "`id`", "*", NULL}},
    {"\"\\$x \\` \\\" \\\\ \\n\"", {"$x ` \" \\ \\n", NULL}},
    {"'it\\'s", {"it\\s", NULL}}, /* no escapes in '...': it\ then an unquoted s */
    {"a\\ b c\\'d", {"a b", "c'd", NULL}},
    {"x\\\ny", {"xy", NULL}},
    {"\"a\\\nb\"", {"ab", NULL}},
    {"# not a comment", {"#", "not", "a", "comment", NULL}},
    {"a\nb", {"a", "b", NULL}},
};

START_TEST(split_good)
{
    mpimap_strv sv = {0};
    ck_assert_int_eq(mpimap_strv_push(&sv, "kept"), 0);
    char *error = (char *)"untouched";
    ck_assert_int_eq(mpimap_config_split(good_splits[_i].text, &sv, &error), 0);
    ck_assert_ptr_null(error);
    size_t n = 0;
    while (good_splits[_i].words[n])
        n++;
    ck_assert_uint_eq(sv.n, n + 1);
    ck_assert_str_eq(sv.v[0], "kept");
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(sv.v[i + 1], good_splits[_i].words[i]);
    ck_assert_ptr_null(sv.v[n + 1]);
    mpimap_strv_free(&sv);
}
END_TEST

static const struct {
    const char *text;
    const char *error;
} bad_splits[] = {
    {"a 'b", "unterminated single quote"},
    {"'", "unterminated single quote"},
    {"a \"b", "unterminated double quote"},
    {"\"a\\\"", "unterminated double quote"},
    {"a b\\", "backslash at the end"},
    {"ok1 ok2 'bad", "unterminated single quote"},
};

START_TEST(split_bad)
{
    mpimap_strv sv = {0};
    ck_assert_int_eq(mpimap_strv_push(&sv, "kept"), 0);
    char *error = NULL;
    ck_assert_int_eq(mpimap_config_split(bad_splits[_i].text, &sv, &error), MPIMAP_EINVAL);
    ck_assert_ptr_nonnull(error);
    ck_assert_str_eq(error, bad_splits[_i].error);
    /* nothing appended */
    ck_assert_uint_eq(sv.n, 1);
    ck_assert_ptr_null(sv.v[1]);
    free(error);
    ck_assert_int_eq(mpimap_config_split(bad_splits[_i].text, &sv, NULL), MPIMAP_EINVAL);
    mpimap_strv_free(&sv);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *test_suite(void)
{
    Suite *s = suite_create("siteconfig");
    TCase *tf = tcase_create("files");
    tcase_add_checked_fixture(tf, setup, teardown);
    tcase_add_test(tf, no_files);
    tcase_add_test(tf, precedence);
    tcase_add_test(tf, xdg_config_home);
    tcase_add_test(tf, missing_and_unreadable);
    tcase_add_test(tf, syntax);
    tcase_add_loop_test(tf, malformed_line, 0, N(bad_lines));
    tcase_add_test(tf, malformed_nul);
    tcase_add_test(tf, error_after_good_files);
    suite_add_tcase(s, tf);
    TCase *tk = tcase_create("keys");
    tcase_add_test(tk, keys);
    tcase_add_loop_test(tk, split_good, 0, N(good_splits));
    tcase_add_loop_test(tk, split_bad, 0, N(bad_splits));
    suite_add_tcase(s, tk);
    return s;
}
