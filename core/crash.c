/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crash.c - the crash reporter of a rank: names the item a rank was running
 * when it died. A signal handler can only reach process-wide state, so this
 * file keeps some (set once by mpimap_crash_arm(), read by the handler).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

#include "crash.h"

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define NSIG_CAUGHT (sizeof crash_signals / sizeof crash_signals[0])
/* Signals that stop a rank (mpirun's SIGTERM when the job is cancelled or
 * another rank died): the command the rank runs, in a process group of
 * its own, must not outlive it. */
static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP};
#define NSIG_STOP (sizeof stop_signals / sizeof stop_signals[0])

static struct {
    int fd;
    char *prefix;   /* "mpimap: rank R (pid P on HOST)" */
    char *path;     /* JOBDIR/crash.R, or NULL */
    const volatile uint64_t *current;
    struct sigaction old[NSIG_CAUGHT];
    struct sigaction old_stop[NSIG_STOP];
    int stop_set[NSIG_STOP];
    int armed;
} crash = {.fd = -1};

/* The process group of the command being run now, 0 for none; and
 * whether this rank is dying. Items may run on a thread other than the
 * one the signal lands on: the handler sets stopping, then kills the
 * group it sees; the item's thread sets the group, then looks at stopping
 * (mpimap_crash_stopping()). Sequentially consistent, so one of the two
 * sees the other and a command started at the last moment dies too. */
static volatile sig_atomic_t child_pgid;
static volatile sig_atomic_t stopping;
/* The thread starting a command now (from mpimap_crash_spawning() until
 * mpimap_crash_child()), 0 for none. */
static volatile sig_atomic_t spawner;
/* Whether this rank has started commands (then it dies with a delay). */
static volatile sig_atomic_t runs_commands;

int mpimap_crash_spawning(void)
{
    __atomic_store_n(&runs_commands, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&spawner, (sig_atomic_t)gettid(), __ATOMIC_SEQ_CST);
    return __atomic_load_n(&stopping, __ATOMIC_SEQ_CST);
}

void mpimap_crash_child(pid_t pgid)
{
    __atomic_store_n(&child_pgid, (sig_atomic_t)pgid, __ATOMIC_SEQ_CST);
    __atomic_store_n(&spawner, 0, __ATOMIC_SEQ_CST);
}

int mpimap_crash_stopping(void) { return __atomic_load_n(&stopping, __ATOMIC_SEQ_CST); }

/* How long a rank that runs commands stays alive after it is stopped.
 * mpirun SIGKILLs the ranks left once one has died, before they have
 * handled its SIGTERM, and what a SIGKILLed rank's command started runs
 * on (the command itself dies with the rank: PR_SET_PDEATHSIG in
 * handler_cmd.c; before that, with no delay, a command outlived 12 of 25
 * cancels of a 2-rank map on a loaded machine; 30 ms: 2 of 25; 200 ms:
 * none of 15). */
#define STOP_DELAY_MS 200

static void kill_child(void)
{
    __atomic_store_n(&stopping, 1, __ATOMIC_SEQ_CST);
    /* What runs now dies first. */
    pid_t pg = (pid_t)__atomic_load_n(&child_pgid, __ATOMIC_SEQ_CST);
    if (pg > 0)
        kill(-pg, SIGKILL);
    /* Then wait STOP_DELAY_MS (when this rank has run commands), and for a
     * command being started on another thread right now until its starter
     * has published it (or seen stopping and started nothing), up to 5 s,
     * however long its thread takes to be scheduled; then kill what was
     * started meanwhile. */
    pid_t self = gettid();
    int commands = __atomic_load_n(&runs_commands, __ATOMIC_SEQ_CST);
    for (int ms = 0; ms < 5000; ms++) {
        pid_t t = (pid_t)__atomic_load_n(&spawner, __ATOMIC_SEQ_CST);
        if ((!commands || ms >= STOP_DELAY_MS) && (t == 0 || t == self))
            break;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    pid_t again = (pid_t)__atomic_load_n(&child_pgid, __ATOMIC_SEQ_CST);
    if (again > 0 && again != pg)
        kill(-again, SIGKILL);
}

static void on_stop(int sig)
{
    kill_child();
    signal(sig, SIG_DFL);
    raise(sig);
}

static const char *signame(int sig)
{
    switch (sig) {
    case SIGSEGV: return "Segmentation fault";
    case SIGBUS: return "Bus error";
    case SIGFPE: return "Floating point exception";
    case SIGILL: return "Illegal instruction";
    case SIGABRT: return "Aborted";
    default: return "signal";
    }
}

/* async-signal-safe unsigned to decimal */
static size_t utoa(uint64_t v, char *buf)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

static void on_crash(int sig)
{
    char line[512];
    size_t n = 0;
    size_t pl = strlen(crash.prefix);
    if (pl > 300)
        pl = 300;
    memcpy(line, crash.prefix, pl);
    n += pl;
    const char *s = " died of signal ";
    memcpy(line + n, s, strlen(s));
    n += strlen(s);
    n += utoa((uint64_t)sig, line + n);
    line[n++] = ' ';
    line[n++] = '(';
    const char *name = signame(sig);
    memcpy(line + n, name, strlen(name));
    n += strlen(name);
    line[n++] = ')';
    uint64_t item = crash.current ? *crash.current : UINT64_MAX;
    if (item != UINT64_MAX) {
        s = " while running item ";
        memcpy(line + n, s, strlen(s));
        n += strlen(s);
        n += utoa(item, line + n);
    }
    line[n++] = '\n';
    if (crash.fd >= 0) {
        ssize_t w = write(crash.fd, line + 8, n - 8); /* without "mpimap: " */
        (void)w;
    }
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
    kill_child();
    signal(sig, SIG_DFL);
    raise(sig);
}

int mpimap_crash_arm(const char *jobdir, int rank, const volatile uint64_t *current)
{
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    free(crash.prefix);
    crash.prefix = NULL;
    if (asprintf(&crash.prefix, "mpimap: rank %d (pid %ld on %s)", rank,
                 (long)getpid(), host) < 0) {
        crash.prefix = NULL;
        return MPIMAP_ENOMEM;
    }
    if (jobdir) {
        /* open() is not safe in a signal handler: create the file now and
         * write it only on a crash (the driver ignores an empty one, and
         * disarm removes it). */
        if (asprintf(&crash.path, "%s/crash.%d", jobdir, rank) < 0) {
            crash.path = NULL;
            return MPIMAP_ENOMEM;
        }
        crash.fd = open(crash.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    }
    crash.current = current;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < NSIG_CAUGHT; i++)
        sigaction(crash_signals[i], &sa, &crash.old[i]);
    /* A stop signal someone else handles or ignores is left to them. */
    sa.sa_handler = on_stop;
    for (size_t i = 0; i < NSIG_STOP; i++) {
        crash.stop_set[i] = sigaction(stop_signals[i], NULL, &crash.old_stop[i]) == 0 &&
                            crash.old_stop[i].sa_handler == SIG_DFL &&
                            sigaction(stop_signals[i], &sa, NULL) == 0;
    }
    crash.armed = 1;
    return 0;
}

void mpimap_crash_disarm(void)
{
    if (crash.armed) {
        for (size_t i = 0; i < NSIG_CAUGHT; i++)
            sigaction(crash_signals[i], &crash.old[i], NULL);
        for (size_t i = 0; i < NSIG_STOP; i++)
            if (crash.stop_set[i])
                sigaction(stop_signals[i], &crash.old_stop[i], NULL);
    }
    crash.armed = 0;
    if (crash.fd >= 0) {
        close(crash.fd);
        unlink(crash.path);
    }
    crash.fd = -1;
    free(crash.path);
    crash.path = NULL;
    free(crash.prefix);
    crash.prefix = NULL;
    crash.current = NULL;
}
