/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_siteconfig.c - libFuzzer target for the config files
 * (mpimap_config_load of siteconfig.c, whose line parser is static) and
 * the shell-like split of mpirun_args (mpimap_config_split).
 *
 * Input: up to three files separated by lines "%%": one part is the
 * $MPIMAP_CONFIG file; two are the system file and $MPIMAP_CONFIG; three
 * the system file, the user file ($XDG_CONFIG_HOME/mpimap/mpimap.conf)
 * and $MPIMAP_CONFIG. Checked: a failure has a message naming a file and
 * leaves the config empty; every entry read is a known key with a value
 * that passes the checks siteconfig.h promises, in file order, with a
 * "FILE:LINE" source, no non-repeatable key twice in one file; get()
 * gives the last one. The whole input as text (up to its first NUL) goes
 * through mpimap_config_split, and the words, quoted with
 * mpimap_shell_join and split again, come back the same.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>

#include "fuzz_common.h"
#include "resources.h"
#include "shellquote.h"
#include "siteconfig.h"

static int sys_fd = -1, user_fd = -1, named_fd = -1;
static char sys_path[64], named_path[64];
static char *user_path;

static int known_key(const char *key)
{
    for (size_t i = 0; mpimap_config_keys[i]; i++)
        if (strcmp(mpimap_config_keys[i], key) == 0)
            return 1;
    return 0;
}

static int plugin_name(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* Which file (0 system, 1 user, 2 named) a source "FILE:LINE" names. */
static int file_of(const char *source)
{
    const char *colon = strrchr(source, ':');
    FUZZ_CHECK(colon != NULL && colon[1] >= '1' && colon[1] <= '9');
    FUZZ_CHECK(strspn(colon + 1, "0123456789") == strlen(colon + 1));
    size_t n = (size_t)(colon - source);
    const char *paths[3] = {sys_path, user_path, named_path};
    for (int i = 0; i < 3; i++)
        if (strlen(paths[i]) == n && memcmp(paths[i], source, n) == 0)
            return i;
    FUZZ_CHECK(!"a source names none of the files");
    return -1;
}

static void check_value(const char *key, const char *value)
{
    if (strcmp(key, "np") == 0) {
        char *end;
        long v = strtol(value, &end, 10);
        FUZZ_CHECK(value[0] >= '0' && value[0] <= '9' && !*end && v >= 1);
    } else if (strcmp(key, "walltime") == 0) {
        long s = 0;
        char *msg = NULL;
        FUZZ_CHECK(mpimap_parse_walltime(value, &s, &msg) == 0 && s >= 1);
    } else if (strcmp(key, "launcher") == 0 || strcmp(key, "via") == 0 ||
               strcmp(key, "strategy") == 0) {
        FUZZ_CHECK(plugin_name(value));
    } else if (strcmp(key, "mpirun_args") == 0) {
        mpimap_strv w = {0};
        char *msg = NULL;
        FUZZ_CHECK(mpimap_config_split(value, &w, &msg) == 0);
        mpimap_strv_free(&w);
    } else if (strcmp(key, "directive") == 0) {
        FUZZ_CHECK(*value);
    }
}

static void check_load(void)
{
    struct mpimap_config cfg = {0};
    char *error = (char *)"untouched";
    int rc = mpimap_config_load(&cfg, &error);
    if (rc < 0) {
        FUZZ_CHECK(rc == MPIMAP_EINVAL);
        FUZZ_CHECK(error != NULL);
        FUZZ_CHECK(strncmp(error, sys_path, strlen(sys_path)) == 0 ||
                   strncmp(error, user_path, strlen(user_path)) == 0 ||
                   strncmp(error, named_path, strlen(named_path)) == 0);
        FUZZ_CHECK(cfg.n == 0 && cfg.v == NULL);
        free(error);
        return;
    }
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(error == NULL);
    int last_file = 0;
    for (size_t i = 0; i < cfg.n; i++) {
        const struct mpimap_config_entry *e = &cfg.v[i];
        FUZZ_CHECK(e->key && e->value && e->source);
        FUZZ_CHECK(known_key(e->key));
        FUZZ_CHECK(strchr(e->value, '\n') == NULL);
        check_value(e->key, e->value);
        int file = file_of(e->source);
        FUZZ_CHECK(file >= last_file);
        last_file = file;
        int later_same_key = 0;
        for (size_t k = i + 1; k < cfg.n; k++) {
            if (strcmp(cfg.v[k].key, e->key) != 0)
                continue;
            later_same_key = 1;
            if (!mpimap_config_repeatable(e->key))
                FUZZ_CHECK(file_of(cfg.v[k].source) != file);
        }
        FUZZ_CHECK(mpimap_config_in_force(&cfg, i) ==
                   (mpimap_config_repeatable(e->key) || !later_same_key));
        const char *source = NULL;
        const char *v = mpimap_config_get(&cfg, e->key, &source);
        FUZZ_CHECK(v != NULL && source != NULL);
        if (!later_same_key)
            FUZZ_CHECK(v == e->value && source == e->source);
    }
    for (size_t i = 0; mpimap_config_keys[i]; i++) {
        const char *source = (const char *)1;
        if (!mpimap_config_get(&cfg, mpimap_config_keys[i], &source))
            FUZZ_CHECK(source == NULL);
    }
    mpimap_config_free(&cfg);
    FUZZ_CHECK(cfg.n == 0 && cfg.v == NULL);
}

static void check_split(const char *text)
{
    mpimap_strv w = {0};
    FUZZ_CHECK(mpimap_strv_push(&w, "sentinel") == 0);
    char *error = (char *)"untouched";
    int rc = mpimap_config_split(text, &w, &error);
    if (rc < 0) {
        FUZZ_CHECK(rc == MPIMAP_EINVAL);
        FUZZ_CHECK(error != NULL);
        FUZZ_CHECK(strcmp(error, "unterminated single quote") == 0 ||
                   strcmp(error, "unterminated double quote") == 0 ||
                   strcmp(error, "backslash at the end") == 0);
        FUZZ_CHECK(w.n == 1 && strcmp(w.v[0], "sentinel") == 0 && w.v[1] == NULL);
        free(error);
        mpimap_strv_free(&w);
        return;
    }
    FUZZ_CHECK(rc == 0 && error == NULL);
    FUZZ_CHECK(w.n >= 1 && w.v[w.n] == NULL);
    FUZZ_CHECK(strcmp(w.v[0], "sentinel") == 0);
    for (size_t i = 1; i < w.n; i++)
        FUZZ_CHECK(strlen(w.v[i]) <= strlen(text));

    /* Quote the words and split them again: the same words. */
    char *joined = mpimap_shell_join((const char *const *)w.v + 1);
    FUZZ_SETUP(joined != NULL);
    mpimap_strv w2 = {0};
    rc = mpimap_config_split(joined, &w2, &error);
    if (rc != 0)
        fprintf(stderr, "split of joined words: %s\n", error ? error : "?");
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(w2.n == w.n - 1);
    for (size_t i = 0; i < w2.n; i++)
        FUZZ_CHECK(strcmp(w2.v[i], w.v[i + 1]) == 0);
    free(joined);
    mpimap_strv_free(&w2);
    mpimap_strv_free(&w);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sys_fd = fuzz_memfd("fuzz_siteconfig_sys", sys_path);
    named_fd = fuzz_memfd("fuzz_siteconfig_named", named_path);
    const char *dir = fuzz_dir("siteconfig");
    char *xdg = NULL, *mm = NULL;
    FUZZ_SETUP(asprintf(&xdg, "%s/xdg", dir) > 0);
    FUZZ_SETUP(asprintf(&mm, "%s/mpimap", xdg) > 0);
    FUZZ_SETUP(asprintf(&user_path, "%s/mpimap.conf", mm) > 0);
    FUZZ_SETUP(mkdir(xdg, 0700) == 0 && mkdir(mm, 0700) == 0);
    user_fd = open(user_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_SETUP(user_fd >= 0);
    FUZZ_SETUP(setenv("MPIMAP_CONFIG_SYSTEM", sys_path, 1) == 0);
    FUZZ_SETUP(setenv("XDG_CONFIG_HOME", xdg, 1) == 0);
    FUZZ_SETUP(setenv("MPIMAP_CONFIG", named_path, 1) == 0);
    free(xdg);
    free(mm);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Split into parts at lines "%%". */
    const uint8_t *part[3] = {data};
    size_t plen[3] = {size};
    int nparts = 1;
    for (size_t i = 0; i < size && nparts < 3;) {
        const uint8_t *line = data + i;
        const uint8_t *nl = memchr(line, '\n', size - i);
        size_t ll = nl ? (size_t)(nl - line) : size - i;
        size_t next = i + ll + (nl ? 1 : 0);
        if (ll == 2 && line[0] == '%' && line[1] == '%') {
            plen[nparts - 1] = (size_t)(line - part[nparts - 1]);
            part[nparts] = data + next;
            plen[nparts] = size - next;
            nparts++;
        }
        i = next;
    }
    int fds[3] = {sys_fd, user_fd, named_fd};
    /* One part: named only; two: system and named; three: all. */
    int map[3] = {0, 0, 0};
    if (nparts == 1)
        map[0] = 2;
    else if (nparts == 2)
        map[0] = 0, map[1] = 2;
    else
        map[0] = 0, map[1] = 1, map[2] = 2;
    for (int f = 0; f < 3; f++)
        fuzz_fill(fds[f], "", 0);
    for (int p = 0; p < nparts; p++)
        fuzz_fill(fds[map[p]], part[p], plen[p]);
    check_load();

    char *text = malloc(size + 1);
    FUZZ_SETUP(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    check_split(text);
    free(text);
    return 0;
}
