/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handler_cmd.c - the command item handler: spawn a command per item,
 * collect its stdout as the result and its stderr tail as the failure
 * reason. See handler_cmd.h for the template rules.
 *
 * Per item the work is: split the item (only when fields are used), build
 * the substituted arguments into a reusable scratch buffer, vfork and exec
 * (spawn() below), drain both pipes with poll(), reap. No allocation
 * happens per item once the scratch buffers have grown to size.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mpimap/mpimap.h>
#include <mpimap/strategy.h>

#include "crash.h"
#include "handler_cmd.h"

#define SHELL_PATH "/bin/sh"
#define SHELL_NAME "mpimap"      /* $0 of the script */
#define READ_CHUNK 65536         /* free space asked for before each read */
#define ERR_KEEP 1024            /* stderr bytes kept when trimming */
#define ERR_TRIM (2 * ERR_KEEP)  /* trim stderr once it holds this much */
#define TAIL_MAX 500             /* stderr bytes shown in a reason */
#define KILL_GRACE_NS 500000000  /* SIGTERM to SIGKILL after a timeout */
#define TIMEOUT_MAX 1e8          /* seconds (~3 years): longer = as long */
#define BACKOFF_MIN_NS 50000     /* child exit checks without a pidfd: */
#define BACKOFF_MAX_NS 50000000  /* 50 us doubling up to 50 ms */

/* A piece of a templated argument: literal text of the argument, or a
 * placeholder (field 0 = the whole item, N = field N). */
typedef struct cmd_seg {
    int literal;
    size_t off, len; /* literal: the bytes of the argument */
    size_t field;    /* placeholder: 0 = {}, N = {N} */
} cmd_seg;

typedef struct cmd_arg {
    char *s;           /* the template text (owned) */
    size_t first, nseg; /* its segments in cmd->segs; nseg 0 = literal */
} cmd_arg;

typedef struct cmd_span {
    size_t off, len;
} cmd_span;

struct mpimap_cmd {
    int shell;
    int strip_newline;
    char *colsep;
    size_t colsep_len;
    size_t max_field;   /* largest N of a {N}; 0 = none */
    int append_item;    /* argv mode without any placeholder */

    cmd_arg *args;      /* argv mode: the template; shell: [0] = script */
    size_t nargs;
    cmd_seg *segs;
    size_t nsegs;

    char **argv;        /* prefilled with the constant slots */
    size_t *offs;       /* per argv slot: offset into scratch when built */
    size_t argv_cap;    /* slots allocated in argv and offs */
    size_t nfixed;      /* slots always present (template or sh -c ...) */

    int devnull;        /* /dev/null, O_CLOEXEC, >= 3 */

    mpimap_buf scratch; /* substituted argument bytes */
    cmd_span *fields;   /* the current item's fields */
    size_t fields_cap;
    mpimap_buf err;     /* stderr (its tail) of the current item */
    int err_cut;        /* err lost its beginning */

    double timeout;     /* seconds as given; 0 = none */
    int64_t timeout_ns; /* the same, clamped to TIMEOUT_MAX */
};

/* ---- small helpers ------------------------------------------------------- */

static int set_error(char **error, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int set_error(char **error, const char *fmt, ...)
{
    if (!error)
        return MPIMAP_EINVAL;
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MPIMAP_ENOMEM;
    *error = s;
    return MPIMAP_EINVAL;
}

/* *reason = a formatted message; returns 1 (item failed) or ENOMEM. */
static int fail(char **reason, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int fail(char **reason, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MPIMAP_ENOMEM;
    *reason = s;
    return 1;
}

/* Move fd to a number >= 3 (keeping O_CLOEXEC) so that the child's dup2
 * onto 0/1/2 can never clobber another of its descriptors. */
static int fd_above_stdio(int *fd)
{
    if (*fd > 2)
        return 0;
    int n = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (n < 0)
        return -1;
    close(*fd);
    *fd = n;
    return 0;
}

static int grow_argv(mpimap_cmd *c, size_t need)
{
    if (need <= c->argv_cap)
        return 0;
    size_t ncap = c->argv_cap ? c->argv_cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / sizeof(size_t))
            return MPIMAP_ENOMEM;
        ncap *= 2;
    }
    char **v = realloc(c->argv, ncap * sizeof *v);
    if (!v)
        return MPIMAP_ENOMEM;
    c->argv = v;
    size_t *o = realloc(c->offs, ncap * sizeof *o);
    if (!o)
        return MPIMAP_ENOMEM;
    c->offs = o;
    c->argv_cap = ncap;
    return 0;
}

static int push_seg(mpimap_cmd *c, size_t *cap, int literal, size_t off,
                    size_t len, size_t field)
{
    if (c->nsegs == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        cmd_seg *p = realloc(c->segs, ncap * sizeof *p);
        if (!p)
            return MPIMAP_ENOMEM;
        c->segs = p;
        *cap = ncap;
    }
    c->segs[c->nsegs++] = (cmd_seg){literal, off, len, field};
    return 0;
}

/* Is there a placeholder at s? Sets *field (0 = {}) and *plen. */
static int placeholder_at(const char *s, size_t *field, size_t *plen)
{
    if (s[0] != '{')
        return 0;
    if (s[1] == '}') {
        *field = 0;
        *plen = 2;
        return 1;
    }
    if (s[1] < '1' || s[1] > '9')
        return 0;
    size_t n = 0, i = 1;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        size_t d = (size_t)(s[i] - '0');
        if (n > (SIZE_MAX - d) / 10)
            return 0; /* too large: literal text */
        n = n * 10 + d;
    }
    if (s[i] != '}')
        return 0;
    *field = n;
    *plen = i + 1;
    return 1;
}

/* Split arg into segments; leaves a->nseg 0 when it has no placeholder. */
static int parse_arg(mpimap_cmd *c, cmd_arg *a, size_t *segcap)
{
    const char *s = a->s;
    size_t lit = 0, pos = 0, first = c->nsegs;
    int any = 0;
    while (s[pos]) {
        size_t field, plen;
        if (!placeholder_at(s + pos, &field, &plen)) {
            pos++;
            continue;
        }
        any = 1;
        if (pos > lit && push_seg(c, segcap, 1, lit, pos - lit, 0))
            return MPIMAP_ENOMEM;
        if (push_seg(c, segcap, 0, 0, 0, field))
            return MPIMAP_ENOMEM;
        if (field > c->max_field)
            c->max_field = field;
        pos += plen;
        lit = pos;
    }
    if (!any)
        return 0;
    if (pos > lit && push_seg(c, segcap, 1, lit, pos - lit, 0))
        return MPIMAP_ENOMEM;
    a->first = first;
    a->nseg = c->nsegs - first;
    return 0;
}

/* ---- new / free ---------------------------------------------------------- */

void mpimap_cmd_free(mpimap_cmd *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nargs; i++)
        free(c->args[i].s);
    free(c->args);
    free(c->segs);
    free(c->argv);
    free(c->offs);
    free(c->colsep);
    free(c->fields);
    mpimap_buf_free(&c->scratch);
    mpimap_buf_free(&c->err);
    if (c->devnull >= 0)
        close(c->devnull);
    free(c);
}

int mpimap_cmd_new(mpimap_cmd **out, const char *const *argv, int shell,
                   const char *colsep, int strip_newline, char **error)
{
    if (error)
        *error = NULL;
    if (!out)
        return MPIMAP_EINVAL;
    *out = NULL;
    if (!argv || !argv[0])
        return set_error(error, "no command given");
    size_t nargs = 0;
    while (argv[nargs])
        nargs++;
    if (shell && nargs != 1)
        return set_error(error,
                         "--shell takes exactly one script argument, got %zu",
                         nargs);
    if (colsep && !colsep[0])
        return set_error(error, "--colsep must not be empty");

    mpimap_cmd *c = calloc(1, sizeof *c);
    if (!c)
        return MPIMAP_ENOMEM;
    c->devnull = -1;
    c->shell = shell != 0;
    c->strip_newline = strip_newline != 0;
    int rc = MPIMAP_ENOMEM;
    if (colsep) {
        c->colsep = strdup(colsep);
        if (!c->colsep)
            goto fail;
        c->colsep_len = strlen(colsep);
    }
    c->args = calloc(nargs, sizeof *c->args);
    if (!c->args)
        goto fail;
    for (size_t i = 0; i < nargs; i++) {
        c->args[i].s = strdup(argv[i]);
        if (!c->args[i].s)
            goto fail;
        c->nargs++;
    }

    size_t segcap = 0;
    if (!c->shell) {
        for (size_t i = 0; i < nargs; i++)
            if (parse_arg(c, &c->args[i], &segcap))
                goto fail;
        c->append_item = c->nsegs == 0;
        if (!c->colsep && c->max_field > 1) {
            rc = set_error(error,
                           "{%zu} needs --colsep (without it an item is a "
                           "single field)",
                           c->max_field);
            goto fail;
        }
        c->nfixed = nargs;
    } else {
        c->nfixed = 4; /* sh -c SCRIPT mpimap */
    }

    if (grow_argv(c, c->nfixed + 2))
        goto fail;
    if (c->shell) {
        c->argv[0] = (char *)SHELL_PATH;
        c->argv[1] = (char *)"-c";
        c->argv[2] = c->args[0].s;
        c->argv[3] = (char *)SHELL_NAME;
    } else {
        for (size_t i = 0; i < nargs; i++)
            c->argv[i] = c->args[i].s; /* placeholders overwritten per item */
    }

    c->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (c->devnull < 0 || fd_above_stdio(&c->devnull)) {
        int e = errno;
        rc = set_error(error, "cannot open /dev/null: %s", strerror(e));
        if (rc == MPIMAP_EINVAL)
            rc = MPIMAP_EIO;
        goto fail;
    }
    *out = c;
    return 0;

fail:
    mpimap_cmd_free(c);
    return rc;
}

void mpimap_cmd_set_timeout(mpimap_cmd *c, double seconds)
{
    if (!c)
        return;
    if (!(seconds > 0) || isinf(seconds)) { /* also NaN */
        c->timeout = 0;
        c->timeout_ns = 0;
        return;
    }
    c->timeout = seconds;
    double s = seconds < TIMEOUT_MAX ? seconds : TIMEOUT_MAX;
    c->timeout_ns = (int64_t)(s * 1e9);
    if (c->timeout_ns < 1)
        c->timeout_ns = 1;
}

/* ---- per item ------------------------------------------------------------ */

static int scratch_put(mpimap_cmd *c, const void *p, size_t n)
{
    if (n > SIZE_MAX - c->scratch.len - 1)
        return MPIMAP_ENOMEM;
    if (mpimap_buf_reserve(&c->scratch, c->scratch.len + n + 1))
        return MPIMAP_ENOMEM;
    if (n)
        memcpy(c->scratch.data + c->scratch.len, p, n);
    c->scratch.len += n;
    return 0;
}

/* Split the item on colsep into c->fields; returns the field count or 0
 * when out of memory. */
static size_t split_fields(mpimap_cmd *c, const unsigned char *item, size_t len)
{
    size_t n = 0, pos = 0;
    for (;;) {
        const unsigned char *hit;
        if (c->colsep_len == 1)
            hit = memchr(item + pos, (unsigned char)c->colsep[0], len - pos);
        else
            hit = memmem(item + pos, len - pos, c->colsep, c->colsep_len);
        if (n == c->fields_cap) {
            size_t ncap = c->fields_cap ? c->fields_cap * 2 : 16;
            cmd_span *f = realloc(c->fields, ncap * sizeof *f);
            if (!f)
                return 0;
            c->fields = f;
            c->fields_cap = ncap;
        }
        size_t end = hit ? (size_t)(hit - item) : len;
        c->fields[n++] = (cmd_span){pos, end - pos};
        if (!hit)
            return n;
        pos = end + c->colsep_len;
    }
}

static const char nul_reason[] =
    "item contains a NUL byte and cannot be passed as an argument";

/* Append one argument (NUL-terminated) for slot to scratch. */
static int put_piece(mpimap_cmd *c, const unsigned char *p, size_t n,
                     char **reason)
{
    if (n && memchr(p, '\0', n))
        return fail(reason, "%s", nul_reason);
    return scratch_put(c, p, n);
}

static int end_arg(mpimap_cmd *c, size_t slot, size_t start)
{
    if (mpimap_buf_reserve(&c->scratch, c->scratch.len + 1))
        return MPIMAP_ENOMEM;
    c->scratch.data[c->scratch.len++] = '\0';
    c->argv[slot] = NULL;
    c->offs[slot] = start;
    return 0;
}

/* Build c->argv for one item. Returns 0, 1 (item failed) or < 0. */
static int build_argv(mpimap_cmd *c, const unsigned char *item, size_t len,
                      char **reason)
{
    c->scratch.len = 0;
    size_t nfields = 1;
    if (c->colsep && (c->shell || c->max_field > 0)) {
        nfields = split_fields(c, item, len);
        if (!nfields)
            return MPIMAP_ENOMEM;
    }
    size_t extra = c->shell ? nfields : c->append_item ? 1 : 0;
    int rc = grow_argv(c, c->nfixed + extra + 1);
    if (rc)
        return rc;

    if (c->shell) {
        if (len && memchr(item, '\0', len))
            return fail(reason, "%s", nul_reason);
        for (size_t i = 0; i < extra; i++) {
            size_t start = c->scratch.len;
            const unsigned char *p = item;
            size_t n = len;
            if (c->colsep) {
                p = item + c->fields[i].off;
                n = c->fields[i].len;
            }
            if ((rc = scratch_put(c, p, n)) ||
                (rc = end_arg(c, c->nfixed + i, start)))
                return rc;
        }
    } else {
        for (size_t i = 0; i < c->nargs; i++) {
            const cmd_arg *a = &c->args[i];
            if (!a->nseg)
                continue;
            size_t start = c->scratch.len;
            for (size_t k = 0; k < a->nseg; k++) {
                const cmd_seg *s = &c->segs[a->first + k];
                if (s->literal) {
                    rc = scratch_put(c, a->s + s->off, s->len);
                } else if (s->field == 0 || !c->colsep) {
                    rc = put_piece(c, item, len, reason);
                } else if (s->field > nfields) {
                    rc = fail(reason, "item has %zu field%s; {%zu} asked for",
                              nfields, nfields == 1 ? "" : "s", s->field);
                } else {
                    const cmd_span *f = &c->fields[s->field - 1];
                    rc = put_piece(c, item + f->off, f->len, reason);
                }
                if (rc)
                    return rc;
            }
            if ((rc = end_arg(c, i, start)))
                return rc;
        }
        if (c->append_item) {
            size_t start = c->scratch.len;
            if ((rc = put_piece(c, item, len, reason)) ||
                (rc = end_arg(c, c->nfixed, start)))
                return rc;
        }
    }
    size_t n = c->nfixed + extra;
    for (size_t i = 0; i < n; i++)
        if (!c->argv[i])
            c->argv[i] = (char *)c->scratch.data + c->offs[i];
    c->argv[n] = NULL;
    return 0;
}

/* Restore the template pointers of the argv slots overwritten above (the
 * fixed literal slots never change). */
static void reset_argv(mpimap_cmd *c)
{
    if (c->shell)
        return;
    for (size_t i = 0; i < c->nargs; i++)
        c->argv[i] = c->args[i].s;
}

/* Read what is available on the stderr pipe, keeping only a tail. */
static ssize_t read_err(mpimap_cmd *c, int fd)
{
    if (c->err.len >= ERR_TRIM) {
        memmove(c->err.data, c->err.data + c->err.len - ERR_KEEP, ERR_KEEP);
        c->err.len = ERR_KEEP;
        c->err_cut = 1;
    }
    if (mpimap_buf_reserve(&c->err, c->err.len + READ_CHUNK))
        return -2;
    ssize_t n = read(fd, c->err.data + c->err.len, c->err.cap - c->err.len);
    if (n > 0)
        c->err.len += (size_t)n;
    return n;
}

static ssize_t read_out(mpimap_buf *out, int fd)
{
    if (out->len > SIZE_MAX - READ_CHUNK ||
        mpimap_buf_reserve(out, out->len + READ_CHUNK))
        return -2;
    size_t room = out->cap - out->len;
    if (room > (size_t)SSIZE_MAX)
        room = (size_t)SSIZE_MAX;
    ssize_t n = read(fd, out->data + out->len, room);
    if (n > 0)
        out->len += (size_t)n;
    return n;
}

/* The stderr tail as one line: at most TAIL_MAX bytes of it, newlines
 * shown as " | ", other control bytes as '?'. NULL when empty (and
 * *nomem = 1 when out of memory). */
static char *err_tail(const mpimap_cmd *c, int *nomem)
{
    const unsigned char *d = c->err.data;
    size_t len = c->err.len;
    while (len && (d[len - 1] == '\n' || d[len - 1] == '\r' ||
                   d[len - 1] == ' ' || d[len - 1] == '\t'))
        len--;
    size_t b = len > TAIL_MAX ? len - TAIL_MAX : 0;
    int cut = c->err_cut || b > 0;
    /* do not start in the middle of a UTF-8 sequence */
    for (int k = 0; k < 3 && b < len && (d[b] & 0xC0) == 0x80; k++)
        b++;
    while (b < len && (d[b] == '\n' || d[b] == '\r'))
        b++;
    if (b >= len)
        return NULL;
    char *s = malloc(3 + 3 * (len - b) + 1);
    if (!s) {
        *nomem = 1;
        return NULL;
    }
    size_t o = 0;
    if (cut) {
        memcpy(s, "...", 3);
        o = 3;
    }
    int nl = 0;
    for (size_t i = b; i < len; i++) {
        unsigned char ch = d[i];
        if (ch == '\n' || ch == '\r') {
            nl = 1;
            continue;
        }
        if (nl) {
            memcpy(s + o, " | ", 3);
            o += 3;
            nl = 0;
        }
        if (ch == '\t')
            ch = ' ';
        else if (ch < 0x20 || ch == 0x7f)
            ch = '?';
        s[o++] = (char)ch;
    }
    s[o] = '\0';
    return s;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static int reap(pid_t pid, int *status)
{
    for (;;) {
        if (waitpid(pid, status, 0) == pid)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Why exec of prog would fail (ENOENT, EACCES), or 0 when it looks
 * runnable. Used only when a child exited 127 without a word: some
 * posix_spawn implementations (and glibc's under valgrind, where the
 * vfork-style child does not share memory) report a failed exec that way
 * instead of returning its errno. */
static int exec_errno(const char *prog)
{
    struct stat st;
    if (!prog[0])
        return ENOENT;
    if (strchr(prog, '/')) {
        if (access(prog, X_OK))
            return errno;
        return stat(prog, &st) == 0 && S_ISREG(st.st_mode) ? 0 : EACCES;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    size_t plen = strlen(prog);
    int found_eacces = 0;
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        char *full = malloc(dlen + plen + 3);
        if (!full)
            return 0;
        if (dlen)
            memcpy(full, p, dlen);
        else
            full[dlen++] = '.';
        full[dlen] = '/';
        memcpy(full + dlen + 1, prog, plen + 1);
        int ok = access(full, X_OK) == 0;
        int e = errno;
        if (ok && stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
            free(full);
            return 0;
        }
        if ((ok && access(full, F_OK) == 0) || (!ok && e == EACCES))
            found_eacces = 1;
        free(full);
        if (!end)
            break;
        p = end;
    }
    return found_eacces ? EACCES : ENOENT;
}

/* Read whatever is ready on the stdout (pf[0]) and stderr (pf[1]) pipes;
 * a pipe at end of file is closed and its fd set to -1. When discard is
 * not SIZE_MAX, stdout is read and dropped (out is kept at that length).
 * Sets *rc (MPIMAP_ENOMEM) or *sys_errno on failure. */
static void read_ready(mpimap_cmd *c, struct pollfd *pf, int *open_fds,
                       mpimap_buf *out, size_t discard, int *rc,
                       int *sys_errno)
{
    for (int i = 0; i < 2; i++) {
        if (pf[i].fd < 0 || !pf[i].revents)
            continue;
        if (i == 0 && discard != SIZE_MAX)
            out->len = discard;
        ssize_t n = i == 0 ? read_out(out, pf[i].fd) : read_err(c, pf[i].fd);
        if (n == -2) {
            *rc = MPIMAP_ENOMEM;
            return;
        }
        if (n < 0 && errno != EINTR && errno != EAGAIN) {
            *sys_errno = errno;
            return;
        }
        if (n == 0) {
            close(pf[i].fd);
            pf[i].fd = -1;
            (*open_fds)--;
        }
    }
    if (discard != SIZE_MAX)
        out->len = discard;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}


/* A pidfd for the child (readable once it has ended), or -1 when the
 * kernel has none (before Linux 5.3; the caller then checks with
 * waitid). */
static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/* Has the child ended? It is left a zombie, not reaped: until it is, its
 * pid (the process group id) cannot be reused, so kill(-pid) can only
 * reach the command's own group. */
static int child_ended(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        return errno != EINTR; /* nothing left to wait for: the reap says */
    return si.si_pid == pid;
}

/* Drain the pipes pf[0], pf[1] and watch the child (pf[2] = its pidfd, or
 * -1) until both pipes are at end of file and the child has ended, or
 * until deadline. Returns 1 when the deadline came first, else 0 (also
 * when *rc or *sys_errno was set). Never spins: it sleeps in ppoll() on the
 * pipes and the pidfd; without a pidfd, once the pipes are closed, it
 * checks the child at growing intervals (BACKOFF_MIN_NS doubling up to
 * BACKOFF_MAX_NS). */
static int drain_until(mpimap_cmd *c, pid_t pid, struct pollfd pf[3],
                       int *open_fds, int *ended, int64_t deadline,
                       mpimap_buf *out, size_t discard, int *rc,
                       int *sys_errno)
{
    int64_t backoff = BACKOFF_MIN_NS;
    for (;;) {
        if (*rc || *sys_errno)
            return 0;
        if (!*ended && pf[2].fd < 0 && !*open_fds && child_ended(pid))
            *ended = 1;
        if (!*open_fds && *ended)
            return 0;
        int64_t left = deadline - mono_ns();
        if (left <= 0)
            return 1;
        if (!*ended && pf[2].fd < 0 && !*open_fds) {
            if (left > backoff)
                left = backoff;
            if (backoff < BACKOFF_MAX_NS)
                backoff *= 2;
        }
        struct timespec ts = {(time_t)(left / 1000000000),
                              (long)(left % 1000000000)};
        int n = ppoll(pf, 3, &ts, NULL);
        if (n < 0) {
            if (errno != EINTR)
                *sys_errno = errno;
            continue;
        }
        if (!n)
            continue;
        if (pf[2].fd >= 0 && pf[2].revents) {
            close(pf[2].fd);
            pf[2].fd = -1;
            *ended = 1;
        }
        read_ready(c, pf, open_fds, out, discard, rc, sys_errno);
    }
}

/* Signals a command starts with the default action for, whatever the rank
 * does with them (ignores SIGPIPE, say); every caught one is reset too. */
static const int default_signals[] = {SIGPIPE, SIGINT,  SIGQUIT, SIGTERM, SIGHUP,
                                      SIGCHLD, SIGXFSZ, SIGALRM, SIGUSR1, SIGUSR2};

/* Start the command: stdin /dev/null, stdout out_w, stderr err_w, a process
 * group of its own (killed as one: a timeout, a stopping rank), no signal
 * blocked. 0 and *pid, or the errno of what failed (the exec, most often).
 *
 * vfork and exec, not posix_spawn: the child asks to be killed when this
 * thread ends (PR_SET_PDEATHSIG), which posix_spawn cannot. A rank killed
 * with SIGKILL (the OOM killer, mpirun after another rank died) cannot kill
 * its command's group; its command ran on, an orphan, unless it wrote to
 * its closed pipe. Now the command dies with the rank, though not what the
 * command started itself (the group's other processes: crash.c's delay
 * is for them). The thread is the one running the handler, which outlives
 * every command it starts (it reaps it).
 *
 * Until it execs, the child shares this process's memory and runs on this
 * thread's stack: system calls only (libmpimap is linked -z now, so no
 * symbol is bound lazily in it), every signal blocked until the handlers
 * are reset (a handler of the rank's must not run in it), and its errno
 * handed back through a volatile. Under valgrind vfork is a fork: the errno
 * does not come back, the child exits 127, and exec_errno() finds out. */
static int spawn(const mpimap_cmd *c, const char *prog, int out_w, int err_w, pid_t *pid)
{
    sigset_t all, old, none, defaults;
    sigfillset(&all);
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (size_t i = 0; i < sizeof default_signals / sizeof default_signals[0]; i++)
        sigaddset(&defaults, default_signals[i]);
    struct sigaction dfl, sa;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    pid_t parent = getpid();
    volatile int child_errno = 0;
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pid_t p = vfork();
    if (p == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127); /* the rank is gone already */
        for (int sig = 1; sig < NSIG; sig++)
            if (sigismember(&defaults, sig) == 1 ||
                (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL &&
                 sa.sa_handler != SIG_IGN))
                sigaction(sig, &dfl, NULL);
        if (setpgid(0, 0) == 0 && dup2(c->devnull, 0) == 0 && dup2(out_w, 1) == 1 &&
            dup2(err_w, 2) == 2 && sigprocmask(SIG_SETMASK, &none, NULL) == 0) {
            if (c->shell)
                execve(SHELL_PATH, c->argv, environ);
            else
                execvp(prog, c->argv);
        }
        child_errno = errno ? errno : ENOEXEC;
        _exit(127);
    }
    int e = p < 0 ? errno : child_errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (p > 0 && e) {
        int status;
        reap(p, &status);
    }
    *pid = p;
    return e;
}

int mpimap_cmd_run(mpimap_cmd *c, const void *item, size_t len,
                   mpimap_buf *out, char **reason)
{
    if (!c || !out || !reason || (!item && len))
        return MPIMAP_EINVAL;
    *reason = NULL;
    const unsigned char *it = item ? item : (const unsigned char *)"";

    int rc = build_argv(c, it, len, reason);
    if (rc) {
        reset_argv(c);
        return rc;
    }

    const char *prog = c->argv[0];
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC) ||
        fd_above_stdio(&po[1]) || fd_above_stdio(&pe[1])) {
        int e = errno;
        close_fd(&po[0]), close_fd(&po[1]), close_fd(&pe[0]), close_fd(&pe[1]);
        rc = fail(reason, "cannot run '%s': cannot create a pipe: %s", prog,
                  strerror(e));
        reset_argv(c);
        return rc;
    }
    pid_t pid;
    if (mpimap_crash_spawning()) { /* the rank is dying: start nothing more */
        mpimap_crash_child(0);
        close_fd(&po[0]);
        close_fd(&po[1]);
        close_fd(&pe[0]);
        close_fd(&pe[1]);
        reset_argv(c);
        return fail(reason, "not started: the rank is stopping");
    }
    int e = spawn(c, prog, po[1], pe[1], &pid);
    close_fd(&po[1]);
    close_fd(&pe[1]);
    if (e) {
        mpimap_crash_child(0);
        close_fd(&po[0]);
        close_fd(&pe[0]);
        rc = fail(reason, "cannot run '%s': %s", prog, strerror(e));
        reset_argv(c);
        return rc;
    }
    mpimap_crash_child(pid); /* killed with the rank if it is stopped */
    if (mpimap_crash_stopping())
        kill(-pid, SIGKILL); /* the rank is dying: no new command outlives it */
    reset_argv(c);

    size_t start = out->len;
    c->err.len = 0;
    c->err_cut = 0;
    struct pollfd pf[3] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}, {-1, POLLIN, 0}};
    int open_fds = 2, sys_errno = 0, timed_out = 0;
    rc = 0;
    if (c->timeout_ns > 0) {
        /* Until both pipes are closed AND the command has ended (one that
         * closes its output and runs on is still running), or the
         * deadline. Then SIGTERM (and SIGCONT, should it be stopped) to
         * the whole group, up to KILL_GRACE_NS for it to go, its output
         * read and dropped, and SIGKILL to the group in any case: nothing
         * the item started in its group outlives it. */
        int64_t deadline = mono_ns() + c->timeout_ns;
        int ended = 0;
        pf[2].fd = open_pidfd(pid);
        timed_out = drain_until(c, pid, pf, &open_fds, &ended, deadline, out,
                                SIZE_MAX, &rc, &sys_errno);
        if (timed_out) {
            kill(-pid, SIGTERM);
            kill(-pid, SIGCONT);
            out->len = start;
            int rc2 = 0, errno2 = 0;
            drain_until(c, pid, pf, &open_fds, &ended,
                        mono_ns() + KILL_GRACE_NS, out, start, &rc2, &errno2);
            kill(-pid, SIGKILL);
        }
        if (pf[2].fd >= 0)
            close(pf[2].fd);
    } else {
        while (open_fds && !rc && !sys_errno) {
            if (poll(pf, 2, -1) < 0) {
                if (errno != EINTR)
                    sys_errno = errno;
                continue;
            }
            read_ready(c, pf, &open_fds, out, SIZE_MAX, &rc, &sys_errno);
        }
    }
    if (rc || sys_errno)
        kill(-pid, SIGKILL); /* give up on it: the whole group */
    for (int i = 0; i < 2; i++)
        if (pf[i].fd >= 0)
            close(pf[i].fd);

    int status = 0, wait_errno = reap(pid, &status) ? errno : 0;
    mpimap_crash_child(0);

    if (timed_out && !rc) {
        out->len = start; /* what it wrote is no result */
        return fail(reason, "timed out after %g s", c->timeout);
    }

    if (c->strip_newline && out->len > start && out->data[out->len - 1] == '\n')
        out->len--;
    if (rc)
        return rc;
    if (sys_errno)
        return fail(reason, "'%s': reading its output failed: %s", prog,
                    strerror(sys_errno));
    if (wait_errno)
        return fail(reason, "'%s': waiting for it failed: %s", prog,
                    strerror(wait_errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;

    if (!c->shell && WIFEXITED(status) && WEXITSTATUS(status) == 127 &&
        c->err.len == 0 && out->len == start) {
        int xe = exec_errno(prog);
        if (xe)
            return fail(reason, "cannot run '%s': %s", prog, strerror(xe));
    }

    int nomem = 0;
    char *tail = err_tail(c, &nomem);
    if (nomem)
        return MPIMAP_ENOMEM;
    const char *sep = tail ? ": " : "";
    const char *t = tail ? tail : "";
    if (WIFEXITED(status))
        rc = fail(reason, "exit status %d%s%s", WEXITSTATUS(status), sep, t);
    else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *name = strsignal(sig);
        rc = fail(reason, "killed by signal %d (%s)%s%s", sig,
                  name ? name : "unknown", sep, t);
    } else
        rc = fail(reason, "ended with wait status %d%s%s", status, sep, t);
    free(tail);
    return rc;
}
