/* SPDX-License-Identifier: BSD-3-Clause */
/* batch.c - run a batch launcher's scheduler commands and hand their output
 * to the launcher's parsers. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

#include "batch.h"
#include "shellquote.h"

extern char **environ;

#define KEEP ((size_t)1 << 20)

struct capture {
    char *data;
    size_t len, cap;
};

static int take(struct capture *c, int fd)
{
    if (c->cap - c->len < 4097) {
        size_t ncap = c->cap ? c->cap * 2 : 8192;
        char *p = realloc(c->data, ncap);
        if (!p)
            return -1;
        c->data = p;
        c->cap = ncap;
    }
    ssize_t n = read(fd, c->data + c->len, c->cap - c->len - 1);
    if (n > 0) {
        c->len += (size_t)n;
        if (c->len > KEEP) { /* keep the tail */
            memmove(c->data, c->data + c->len - KEEP, KEEP);
            c->len = KEEP;
        }
    }
    return (int)(n > 0 ? 1 : n == 0 ? 0 : (errno == EINTR ? 1 : -1));
}

int mpimap_run_capture(const char *const *argv, const char *stdin_path, char **out,
                       char **err, int *exit_status)
{
    int po[2], pe[2];
    *out = *err = NULL;
    if (pipe2(po, O_CLOEXEC) != 0)
        return MPIMAP_ELAUNCH;
    if (pipe2(pe, O_CLOEXEC) != 0) {
        close(po[0]);
        close(po[1]);
        return MPIMAP_ELAUNCH;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, stdin_path ? stdin_path : "/dev/null",
                                     O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, pe[1], STDERR_FILENO);
    pid_t pid;
    int e = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (e != 0) {
        close(po[0]);
        close(pe[0]);
        errno = e;
        return MPIMAP_ELAUNCH;
    }
    struct capture co = {0}, ce = {0};
    struct pollfd pf[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2, bad = 0;
    while (open_fds) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            bad = 1;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !pf[i].revents)
                continue;
            int r = take(i == 0 ? &co : &ce, pf[i].fd);
            if (r <= 0) {
                if (r < 0)
                    bad = 1;
                close(pf[i].fd);
                pf[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (pf[i].fd >= 0)
            close(pf[i].fd);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (bad || !(co.data || (co.data = malloc(1))) || !(ce.data || (ce.data = malloc(1)))) {
        free(co.data);
        free(ce.data);
        return MPIMAP_ENOMEM;
    }
    co.data[co.len] = '\0';
    ce.data[ce.len] = '\0';
    *out = co.data;
    *err = ce.data;
    *exit_status = st;
    return 0;
}

/* The last line of a command's error output, for a message. */
static const char *last_line(char *text)
{
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    char *nl = strrchr(text, '\n');
    return nl ? nl + 1 : text;
}

/* Run a rendered command; on failure *error says which and why. */
static int run_rendered(const mpimap_strv *argv, const char *stdin_path, char **out,
                        int *exit_status, char **error)
{
    char *err = NULL;
    int rc = mpimap_run_capture((const char *const *)argv->v, stdin_path, out, &err,
                                exit_status);
    if (rc < 0) {
        if (asprintf(error, "cannot run %s: %s", argv->v[0], strerror(errno)) < 0)
            *error = NULL;
        return rc;
    }
    if (!WIFEXITED(*exit_status) || WEXITSTATUS(*exit_status) != 0) {
        char *cmd = mpimap_shell_join((const char *const *)argv->v);
        if (asprintf(error, "%s failed (%s %d): %s", cmd ? cmd : argv->v[0],
                     WIFEXITED(*exit_status) ? "exit status" : "signal",
                     WIFEXITED(*exit_status) ? WEXITSTATUS(*exit_status)
                                             : WTERMSIG(*exit_status),
                     *err ? last_line(err) : "(no message)") < 0)
            *error = NULL;
        free(cmd);
    }
    free(err);
    return 0;
}

static const struct mpimap_launcher_ops *batch_ops(const struct mpimap_plugin *p)
{
    const struct mpimap_launcher_ops *ops = p->ops;
    if (!(ops->flags & MPIMAP_LAUNCHER_BATCH) ||
        ops->size < offsetof(struct mpimap_launcher_ops, cancel) + sizeof ops->cancel ||
        !ops->script || !ops->submit || !ops->parse_jobid || !ops->query_job ||
        !ops->parse_state || !ops->cancel)
        return NULL;
    return ops;
}

int mpimap_batch_submit(const struct mpimap_plugin *launcher,
                        const struct mpimap_launch_spec *spec, const char *script_path,
                        char **jobid, char **error)
{
    const struct mpimap_launcher_ops *ops = batch_ops(launcher);
    *error = NULL;
    if (!ops)
        return MPIMAP_EABI;
    mpimap_strv argv = {0};
    char *out = NULL;
    int st = 0;
    int rc = ops->submit(spec, script_path, &argv, error);
    if (rc == 0)
        rc = run_rendered(&argv, ops->flags & MPIMAP_LAUNCHER_SCRIPT_ON_STDIN ? script_path
                                                                            : NULL,
                          &out, &st, error);
    if (rc == 0 && *error)
        rc = MPIMAP_ELAUNCH;
    if (rc == 0)
        rc = ops->parse_jobid(out, jobid, error);
    mpimap_strv_free(&argv);
    free(out);
    return rc;
}

int mpimap_batch_state(const struct mpimap_plugin *launcher, const char *jobid,
                       int *state, char **detail, int64_t *end, char **error)
{
    const struct mpimap_launcher_ops *ops = batch_ops(launcher);
    *error = NULL;
    *detail = NULL;
    if (end)
        *end = 0;
    if (!ops)
        return MPIMAP_EABI;
    mpimap_strv argv = {0};
    char *out = NULL;
    int st = 0;
    int rc = ops->query_job(jobid, &argv);
    if (rc == 0)
        rc = run_rendered(&argv, NULL, &out, &st, error);
    if (rc == 0) {
        /* A non-zero exit is for the parser to judge ("no such job"). */
        free(*error);
        *error = NULL;
        rc = ops->parse_state(WIFEXITED(st) ? WEXITSTATUS(st) : 128, out, state, detail);
        if (rc < 0 && asprintf(error, "cannot read the state of job %s from %s", jobid,
                               argv.v[0]) < 0)
            *error = NULL;
        /* An end time that cannot be read is no end time: the state stands. */
        if (rc == 0 && end && *state == MPIMAP_JOB_RUNNING &&
            ops->size >= offsetof(struct mpimap_launcher_ops, parse_end_time) +
                             sizeof ops->parse_end_time &&
            ops->parse_end_time &&
            ops->parse_end_time(WIFEXITED(st) ? WEXITSTATUS(st) : 128, out,
                                (int64_t)time(NULL), end) < 0)
            *end = 0;
    }
    mpimap_strv_free(&argv);
    free(out);
    return rc;
}

int mpimap_batch_cancel(const struct mpimap_plugin *launcher, const char *jobid,
                        char **error)
{
    const struct mpimap_launcher_ops *ops = batch_ops(launcher);
    *error = NULL;
    if (!ops)
        return MPIMAP_EABI;
    mpimap_strv argv = {0};
    char *out = NULL;
    int st = 0;
    int rc = ops->cancel(jobid, &argv);
    if (rc == 0)
        rc = run_rendered(&argv, NULL, &out, &st, error);
    if (rc == 0 && *error)
        rc = MPIMAP_ELAUNCH;
    mpimap_strv_free(&argv);
    free(out);
    return rc;
}

const char *mpimap_job_state_name(int state)
{
    switch (state) {
    case MPIMAP_JOB_QUEUED: return "queued";
    case MPIMAP_JOB_RUNNING: return "running";
    case MPIMAP_JOB_DONE: return "done";
    case MPIMAP_JOB_FAILED: return "failed";
    case MPIMAP_JOB_CANCELLED: return "cancelled";
    case MPIMAP_JOB_TIMEOUT: return "killed at its walltime";
    default: return "unknown";
    }
}
