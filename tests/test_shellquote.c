/* SPDX-License-Identifier: BSD-3-Clause */
/* test_shellquote.c - mpimap_shell_quote/join against a real /bin/sh with
 * hostile strings: what the shell sees must be exactly what we meant, and
 * no payload may run. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "shellquote.h"

/* ---- helpers ------------------------------------------------------------ */

/* Run `shell -c script`, capture its stdout into a malloc'd *out of *len
 * bytes (NUL-terminated for convenience). Returns the exit status, or -1. */
static int run_sh(const char *shell, const char *script, char **out, size_t *len)
{
    int fd[2];
    ck_assert_int_eq(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fd[0]);
        if (dup2(fd[1], STDOUT_FILENO) < 0)
            _exit(126);
        close(fd[1]);
        execl(shell, shell, "-c", script, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            char *p = realloc(buf, cap);
            ck_assert_ptr_nonnull(p);
            buf = p;
        }
        ssize_t r = read(fd[0], buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        ck_assert_int_ge(r, 0);
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd[0]);
    buf[n] = '\0';
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    *out = buf;
    *len = n;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *cat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

/* The shells to check against: /bin/sh always, bash when present. */
static const char *const shells[] = {"/bin/sh", "/bin/bash"};
#define NSHELLS (sizeof shells / sizeof shells[0])

static int have_shell(const char *shell)
{
    return access(shell, X_OK) == 0;
}

/* printf %s <quoted s> through shell must print s byte for byte. */
static void assert_roundtrip(const char *shell, const char *s)
{
    char *q = mpimap_shell_quote(s);
    ck_assert_ptr_nonnull(q);
    char *script = cat3("printf %s ", q, "");
    char *out = NULL;
    size_t len = 0;
    int rc = run_sh(shell, script, &out, &len);
    /* (messages are cut short: Check limits their size) */
    ck_assert_msg(rc == 0, "%s exited %d for script [%.200s]", shell, rc, script);
    ck_assert_msg(len == strlen(s) && memcmp(out, s, len) == 0,
                  "%s: quoted [%.200s] printed [%.200s], wanted [%.200s]", shell, q, out, s);
    free(out);
    free(script);
    free(q);
}

/* ---- the hostile table -------------------------------------------------- */

static char *all_bytes(void)
{
    char *s = malloc(256);
    ck_assert_ptr_nonnull(s);
    for (int i = 1; i < 256; i++)
        s[i - 1] = (char)i;
    s[255] = '\0';
    return s;
}

/* About 100 KiB of mixed text with quotes, newlines and payloads; the
 * quoted form stays under Linux's 128 KiB limit on one argument. */
static char *long_string(void)
{
    static const char piece[] = "abc 'q' \"d\" $(x) `y` ;&|\n\t*?[ ~!\\";
    size_t plen = sizeof piece - 1, n = 2800;
    char *s = malloc(plen * n + 1);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * plen, piece, plen);
    s[plen * n] = '\0';
    return s;
}

static const char *const hostile[] = {
    "",
    "plain",
    "a b",
    "'",
    "''",
    "it's",
    "'\\''",
    "\"",
    "say \"hi\"",
    "$HOME",
    "${HOME}",
    "$(echo pwned)",
    "`echo pwned`",
    "a;echo pwned",
    "a && echo pwned",
    "a || echo pwned",
    "a | cat",
    "a > /dev/null",
    "< /dev/null",
    "line1\nline2",
    "\n",
    "trailing newline\n\n",
    "tab\there",
    "\t",
    "*",
    "?",
    "[",
    "*.c ?x [ab]",
    "-n",
    "-e \\n",
    "--",
    "-",
    "~",
    "~root",
    "!",
    "!!",
    "a!b",
    "#comment",
    "a#b",
    "\\",
    "back\\slash\\n",
    "%s%d%n",
    "x=1",
    "=",
    "{a,b}",
    "(sub)",
    "\x01\x1b[31mred\x1b[0m\x7f",
    "h\xc3\xa9llo \xc3\xbcn\xc3\xaf\xc3\xa7\xc3\xb8" "d\xc3\xa9 \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac",
    "\xff\xfe invalid utf-8 \xc3",
    "   ",
};
#define NHOSTILE ((int)(sizeof hostile / sizeof hostile[0]))

/* ---- tests -------------------------------------------------------------- */

START_TEST(quote_exact_forms)
{
    static const struct { const char *in, *out; } cases[] = {
        {"abc", "abc"},
        {"A-Z_a-z0-9@%+=:,./-", "A-Z_a-z0-9@%+=:,./-"},
        {"-n", "-n"},
        {"", "''"},
        {"a b", "'a b'"},
        {"'", "''\\'''"},
        {"it's", "'it'\\''s'"},
        {"$(x)", "'$(x)'"},
        {"~", "'~'"},
        {"!", "'!'"},
        {"a\nb", "'a\nb'"},
        {"*", "'*'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *q = mpimap_shell_quote(cases[i].in);
        ck_assert_ptr_nonnull(q);
        ck_assert_str_eq(q, cases[i].out);
        free(q);
    }
    ck_assert_ptr_null(mpimap_shell_quote(NULL));
}
END_TEST

START_TEST(quote_roundtrip_hostile)
{
    for (size_t k = 0; k < NSHELLS; k++)
        if (have_shell(shells[k]))
            assert_roundtrip(shells[k], hostile[_i]);
}
END_TEST

START_TEST(quote_roundtrip_all_bytes)
{
    char *s = all_bytes();
    for (size_t k = 0; k < NSHELLS; k++)
        if (have_shell(shells[k]))
            assert_roundtrip(shells[k], s);
    free(s);
}
END_TEST

START_TEST(quote_roundtrip_long)
{
    char *s = long_string();
    for (size_t k = 0; k < NSHELLS; k++)
        if (have_shell(shells[k]))
            assert_roundtrip(shells[k], s);
    free(s);
}
END_TEST

/* Payloads that would create a canary file must print, not run. */
START_TEST(quote_no_execution)
{
    char tmpl[] = "/tmp/mpimap-shellquote-XXXXXX";
    char *dir = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(dir);
    char *canary = cat3(dir, "/canary", "");
    /* prefix, suffix, and the naive wrapping that lets the payload run
     * (the control: proof that the canary check can fail). */
    const char *const forms[][3] = {
        {"$(touch ", ")", ""},
        {"`touch ", "`", ""},
        {"x; touch ", "", ""},
        {"x && touch ", "", ""},
        {"x\ntouch ", "", ""},
        {"'; touch ", "; '", "'"},
        {"'$(touch ", ")'", "'"},
        {"\"; touch ", "; \"", "\""},
        {"\"$(touch ", ")\"", "\""},
    };
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        char *payload = cat3(forms[f][0], canary, forms[f][1]);
        char *wrapped = cat3(forms[f][2], payload, forms[f][2]);
        char *raw = cat3("exec 2>/dev/null\nprintf %s ", wrapped, " >/dev/null");
        char *out = NULL;
        size_t len = 0;
        (void)run_sh("/bin/sh", raw, &out, &len);
        free(out);
        ck_assert_msg(access(canary, F_OK) == 0,
                      "control: naive [%s] did not create the canary", raw);
        ck_assert_int_eq(unlink(canary), 0);
        free(raw);
        free(wrapped);

        for (size_t k = 0; k < NSHELLS; k++) {
            if (!have_shell(shells[k]))
                continue;
            assert_roundtrip(shells[k], payload);
            ck_assert_msg(access(canary, F_OK) != 0,
                          "%s ran payload [%s]", shells[k], payload);
        }
        free(payload);
    }
    free(canary);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* Split NUL-terminated records out of buf and compare with argv. */
static void assert_words(const char *buf, size_t len, const char *const *argv)
{
    size_t off = 0, i = 0;
    for (; argv[i]; i++) {
        ck_assert_msg(off < len, "word %zu [%.200s] missing from shell output", i, argv[i]);
        const char *end = memchr(buf + off, '\0', len - off);
        ck_assert_ptr_nonnull(end);
        size_t wlen = (size_t)(end - (buf + off));
        ck_assert_msg(wlen == strlen(argv[i]) && memcmp(buf + off, argv[i], wlen) == 0,
                      "word %zu: got [%.*s], wanted [%.200s]", i, (int)(wlen > 200 ? 200 : wlen),
                      buf + off, argv[i]);
        off += wlen + 1;
    }
    ck_assert_msg(off == len, "shell printed %zu bytes, expected %zu", len, off);
}

static void assert_join_roundtrip(const char *shell, const char *const *argv)
{
    char *joined = mpimap_shell_join(argv);
    ck_assert_ptr_nonnull(joined);
    char *script = cat3("set -- ", joined, "\nprintf '%s\\0' \"$@\"");
    char *out = NULL;
    size_t len = 0;
    int rc = run_sh(shell, script, &out, &len);
    ck_assert_msg(rc == 0, "%s exited %d for [%.200s]", shell, rc, script);
    assert_words(out, len, argv);
    free(out);
    free(script);
    free(joined);
}

START_TEST(join_roundtrip)
{
    /* Every hostile string as one argument list (empties included), then
     * the dangerous ones alone and in small groups. */
    const char *argv[NHOSTILE + 4];
    int n = 0;
    for (int i = 0; i < NHOSTILE; i++)
        argv[n++] = hostile[i];
    char *bytes = all_bytes();
    argv[n++] = bytes;
    argv[n++] = "";
    argv[n] = NULL;
    for (size_t k = 0; k < NSHELLS; k++) {
        if (!have_shell(shells[k]))
            continue;
        assert_join_roundtrip(shells[k], argv);
        const char *const one[] = {"$(echo pwned)", NULL};
        assert_join_roundtrip(shells[k], one);
        const char *const empties[] = {"", "", NULL};
        assert_join_roundtrip(shells[k], empties);
        const char *const cmd[] = {"mpirun", "-np", "2", "w", "a b", "it's", NULL};
        assert_join_roundtrip(shells[k], cmd);
    }
    free(bytes);
}
END_TEST

START_TEST(join_exact_forms)
{
    const char *const empty[] = {NULL};
    char *s = mpimap_shell_join(empty);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "");
    free(s);
    s = mpimap_shell_join(NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "");
    free(s);
    const char *const argv[] = {"mpirun", "-np", "2", "", "a b", "it's", "x", NULL};
    s = mpimap_shell_join(argv);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "mpirun -np 2 '' 'a b' 'it'\\''s' x");
    free(s);
    /* A first word with '=' names a command, never an assignment. */
    const char *const assign[] = {"A=1", "B=2", NULL};
    s = mpimap_shell_join(assign);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "'A=1' B=2");
    free(s);
    const char *const lone[] = {"", NULL};
    s = mpimap_shell_join(lone);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "''");
    free(s);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("shellquote");
    TCase *tc = tcase_create("quote");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, quote_exact_forms);
    tcase_add_loop_test(tc, quote_roundtrip_hostile, 0, NHOSTILE);
    tcase_add_test(tc, quote_roundtrip_all_bytes);
    tcase_add_test(tc, quote_roundtrip_long);
    tcase_add_test(tc, quote_no_execution);
    suite_add_tcase(s, tc);
    TCase *tj = tcase_create("join");
    tcase_set_timeout(tj, 60);
    tcase_add_test(tj, join_exact_forms);
    tcase_add_test(tj, join_roundtrip);
    suite_add_tcase(s, tj);
    return s;
}
