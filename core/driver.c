/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * driver.c - the ezmap driver: checks the request, makes the job directory,
 * writes the spec, has the launcher start the worker, waits, and collects
 * the results. `mpimap run` and mpimap_ezmap() are both this.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mpimap/launcher.h>

#include "batch.h"
#include "config.h"
#include "engine.h"
#include "driver.h"
#include "handler_cmd.h"
#include "handler_fn.h"
#include "job.h"
#include "jobspec.h"
#include "records.h"
#include "recovery.h"
#include "registry.h"
#include "resources.h"
#include "report.h"
#include "shellquote.h"
#include "siteconfig.h"

extern char **environ;

#define MAX_FAILURES 100

struct failure {
    uint64_t index;
    int rank;
    char *reason;
};

struct mpimap_job {
    char *dir, *spec, *results, *joblog, *output;
    int output_fd;
    int in_memory;              /* results come back as outcomes */
    size_t nitems;
    mpimap_strv argv;           /* the rendered command (direct launchers) */
    char *command;              /* argv as shell text (batch: the script too) */
    char *launcher;
    /* batch launchers */
    mpimap_registry *reg;       /* keeps the launcher plugin loaded */
    const struct mpimap_plugin *batch; /* NULL for direct and in-process */
    char *jobid;
    int state;                  /* enum mpimap_job_state, last seen */
    char *state_detail;
    double next_query;          /* monotonic time of the next state query */
    double run_start;           /* wall clock when first seen running, 0 before */
    double end_time;            /* wall clock of the walltime kill, 0 unknown */
    uint64_t done_at_start;     /* items done when first seen running */
    int peek;                   /* mpimap status: look, never collect */
    /* what the launcher was given (owned here, for submit after render) */
    struct mpimap_launch_spec ls;
    char *worker, *script_path, *log_path, *inner_command;
    mpimap_strv env, exports;
    /* site defaults (siteconfig.h) merged under the caller's options */
    struct mpimap_config cfg;
    mpimap_strv cfg_largs, cfg_sched;
    pid_t pid;
    int running, finished, cancelled, keep_dir;
    /* recovery */
    const struct mpimap_plugin *lplugin; /* the launcher, to start the job again */
    int restarts, max_restarts;
    int journals;               /* journals before the run now going */
    int done_before;            /* resumed a job that had finished: collect only */
    int resumed;                /* the directory is an earlier job's */
    int rc;
    char *error;
    uint64_t items, failed;
    struct failure failures[MAX_FAILURES];
    size_t nfailures;
    mpimap_outcome *outcomes;
};

static int job_fail(mpimap_job *j, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int job_fail(mpimap_job *j, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(j->error);
    if (vasprintf(&j->error, fmt, ap) < 0)
        j->error = NULL;
    va_end(ap);
    j->rc = rc;
    return rc;
}

static char *path_join(const char *a, const char *b)
{
    char *p = NULL;
    return asprintf(&p, "%s/%s", a, b) < 0 ? NULL : p;
}

/* An absolute version of a path that may not exist yet. */
static char *absolute(const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    char *cwd = getcwd(NULL, 0);
    if (!cwd)
        return NULL;
    char *p = path_join(cwd, path);
    free(cwd);
    return p;
}

/* A ':' list of directories with each one made absolute. */
static char *absolute_list(const char *list)
{
    mpimap_strv parts = {0};
    int rc = 0;
    for (const char *p = list; rc == 0;) {
        size_t n = strcspn(p, ":");
        char *dir = strndup(p, n), *abs = dir && n ? absolute(dir) : NULL;
        rc = !dir || (n && !abs) ? MPIMAP_ENOMEM : mpimap_strv_push(&parts, abs ? abs : "");
        free(dir);
        free(abs);
        if (!p[n])
            break;
        p += n + 1;
    }
    size_t len = 1;
    for (size_t i = 0; rc == 0 && i < parts.n; i++)
        len += strlen(parts.v[i]) + 1;
    char *out = rc == 0 ? malloc(len) : NULL;
    if (out) {
        out[0] = '\0';
        for (size_t i = 0; i < parts.n; i++) {
            if (i)
                strcat(out, ":");
            strcat(out, parts.v[i]);
        }
    }
    mpimap_strv_free(&parts);
    return out;
}

static int cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *p = path_join(dir, de->d_name);
        if (!p || unlink(p) != 0)
            rc = -1;
        free(p);
    }
    closedir(d);
    return rmdir(dir) == 0 ? rc : -1;
}

/* Copy all of fd in to fd out. */
static int copy_fd(int in, int out)
{
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            off += w;
        }
    }
}

/* Put the file src at dst. A device or FIFO (/dev/null, a named pipe) is
 * written into, never replaced; a symbolic link is followed. Otherwise a
 * rename, or, across file systems, a copy to a temporary name next to dst
 * renamed into place. */
static int move_file(const char *src, const char *dst)
{
    struct stat st;
    if (stat(dst, &st) == 0 && !S_ISREG(st.st_mode)) {
        int out = open(dst, O_WRONLY | O_CLOEXEC), in = open(src, O_RDONLY | O_CLOEXEC);
        int rc = out >= 0 && in >= 0 ? copy_fd(in, out) : -1;
        int e = errno;
        if (out >= 0 && close(out) != 0 && rc == 0) {
            rc = -1;
            e = errno;
        }
        if (in >= 0)
            close(in);
        if (rc == 0)
            unlink(src);
        errno = e;
        return rc;
    }
    char *real = realpath(dst, NULL); /* NULL when dst does not exist yet */
    const char *target = real ? real : dst;
    if (rename(src, target) == 0) {
        free(real);
        return 0;
    }
    if (errno != EXDEV) {
        free(real);
        return -1;
    }
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.XXXXXX", target) < 0) {
        free(real);
        return -1;
    }
    int out = mkstemp(tmp), in = open(src, O_RDONLY | O_CLOEXEC);
    int rc = out >= 0 && in >= 0 ? copy_fd(in, out) : -1;
    if (rc == 0 && fsync(out) != 0)
        rc = -1;
    if (out >= 0) {
        fchmod(out, 0666 & ~umask(umask(0)));
        if (close(out) != 0)
            rc = -1;
    }
    if (in >= 0)
        close(in);
    if (rc == 0 && rename(tmp, target) != 0)
        rc = -1;
    if (rc != 0 && out >= 0)
        unlink(tmp);
    free(tmp);
    free(real);
    if (rc == 0)
        unlink(src);
    return rc;
}

/* ---- set-up checks, before anything is started ------------------------ */

static int check_handler(mpimap_job *j, const mpimap_ezmap_options *o, int framing)
{
    int has_cmd = o->command && o->command[0];
    if (!!o->function == !!has_cmd)
        return job_fail(j, MPIMAP_EINVAL,
                        "give either a function (--function lib.so:symbol) or a "
                        "command (after --), not %s",
                        o->function ? "both" : "neither");
    char *error = NULL;
    int rc;
    if (o->function) {
        char *path, *sym;
        if (mpimap_fn_spec_split(o->function, &path, &sym) < 0)
            return job_fail(j, MPIMAP_EINVAL,
                            "--function '%s': expected PATH:SYMBOL, such as ./libwork.so:square",
                            o->function);
        mpimap_fn_handler h;
        rc = mpimap_fn_handler_open(&h, path, sym, NULL, &error);
        if (rc == 0)
            mpimap_fn_handler_close(&h);
        free(path);
        free(sym);
    } else {
        mpimap_cmd *c = NULL;
        rc = mpimap_cmd_new(&c, o->command, o->shell, o->colsep,
                            framing == MPIMAP_FRAME_LINE, &error);
        mpimap_cmd_free(c);
    }
    if (rc < 0)
        job_fail(j, rc, "%s", error ? error : mpimap_strerror(rc));
    free(error);
    return rc;
}

/* Write the items given in memory as binary records. */
static int write_items(mpimap_job *j, const char *path, const mpimap_item *items, size_t n)
{
    mpimap_writer *w = NULL;
    int rc = mpimap_writer_open(&w, path, MPIMAP_FRAME_BINARY);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = mpimap_writer_put(w, items[i].data, items[i].len);
    if (rc == 0)
        rc = mpimap_writer_commit(w);
    if (rc < 0)
        job_fail(j, rc, "%s", w && mpimap_writer_error(w) ? mpimap_writer_error(w)
                                                          : mpimap_strerror(rc));
    mpimap_writer_close(w);
    return rc;
}

/* Copy standard input into the job directory (every launcher, batch ones
 * too, then reads a file, and scatter can count it). */
static int spool_stdin(mpimap_job *j, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return job_fail(j, MPIMAP_EIO, "cannot create '%s': %s", path, strerror(errno));
    int rc = copy_fd(STDIN_FILENO, fd);
    int e = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc < 0)
        return job_fail(j, MPIMAP_EIO, "cannot copy standard input to '%s': %s", path,
                        strerror(e));
    return 0;
}

static const struct mpimap_launcher_ops *usable_ops(mpimap_job *j,
                                                   const struct mpimap_plugin *p)
{
    const struct mpimap_launcher_ops *ops = p->ops;
    if (ops->size < offsetof(struct mpimap_launcher_ops, render) + sizeof ops->render) {
        job_fail(j, MPIMAP_EABI, "launcher '%s' has an ops table too small for ABI 1.0",
                 p->name);
        return NULL;
    }
    if ((ops->flags & MPIMAP_LAUNCHER_DIRECT) && !ops->render) {
        job_fail(j, MPIMAP_EABI, "launcher '%s' is direct but has no render()", p->name);
        return NULL;
    }
    if ((ops->flags & MPIMAP_LAUNCHER_BATCH) &&
        (ops->size < offsetof(struct mpimap_launcher_ops, cancel) + sizeof ops->cancel ||
         !ops->script || !ops->submit || !ops->parse_jobid || !ops->query_job ||
         !ops->parse_state || !ops->cancel)) {
        job_fail(j, MPIMAP_EABI, "launcher '%s' is a scheduler but lacks the hooks of ABI 1.1",
                 p->name);
        return NULL;
    }
    if (!(ops->flags & (MPIMAP_LAUNCHER_DIRECT | MPIMAP_LAUNCHER_INPROCESS |
                        MPIMAP_LAUNCHER_BATCH))) {
        job_fail(j, MPIMAP_EINVAL, "launcher '%s' says it can start nothing (flags 0x%x)",
                 p->name, (unsigned)ops->flags);
        return NULL;
    }
    return ops;
}

static int find_launcher(mpimap_job *j, mpimap_registry *reg, const char *name,
                         const struct mpimap_plugin **out)
{
    char *error = NULL;
    int rc = name ? mpimap_registry_find(reg, MPIMAP_KIND_LAUNCHER, name, out, &error)
                  : mpimap_registry_best(reg, MPIMAP_KIND_LAUNCHER, out, &error);
    if (rc < 0) {
        /* An unknown name is a usage error. */
        job_fail(j, rc == MPIMAP_ENOTFOUND ? MPIMAP_EINVAL : rc, "%s",
                 error ? error : mpimap_strerror(rc));
        free(error);
        return j->rc;
    }
    return usable_ops(j, *out) ? 0 : j->rc;
}

/* The launcher, and for a scheduler the direct launcher inside its job. */
static int pick_launcher(mpimap_job *j, mpimap_registry *reg, const mpimap_ezmap_options *o,
                         int detach, const struct mpimap_plugin **out,
                         const struct mpimap_plugin **inner)
{
    *inner = NULL;
    int rc = find_launcher(j, reg, o->launcher, out);
    if (rc < 0)
        return rc;
    const struct mpimap_launcher_ops *ops = (*out)->ops;
    if (o->via && !(ops->flags & MPIMAP_LAUNCHER_BATCH))
        return job_fail(j, MPIMAP_EINVAL,
                        "--via names the launcher inside a scheduler's job; launcher '%s' "
                        "is not a scheduler",
                        (*out)->name);
    if (ops->program && (ops->flags & (MPIMAP_LAUNCHER_DIRECT | MPIMAP_LAUNCHER_BATCH))) {
        char *found = mpimap_which(ops->program);
        if (!found)
            return job_fail(j, MPIMAP_ELAUNCH,
                            (ops->flags & MPIMAP_LAUNCHER_BATCH)
                                ? "%s not found on PATH: is the scheduler's client "
                                  "installed? (launcher %s)"
                                : "%s not found on PATH (launcher %s): is it installed? "
                                  "Use --launcher serial to run without MPI.",
                            ops->program, (*out)->name);
        free(found);
    }
    if (ops->flags & MPIMAP_LAUNCHER_BATCH) {
        const char *via = o->via ? o->via : ops->inner ? ops->inner : "mpirun";
        char *error = NULL;
        rc = mpimap_registry_find(reg, MPIMAP_KIND_LAUNCHER, via, inner, &error);
        if (rc < 0) {
            job_fail(j, rc == MPIMAP_ENOTFOUND ? MPIMAP_EINVAL : rc, "--via: %s",
                     error ? error : mpimap_strerror(rc));
            free(error);
            return j->rc;
        }
        const struct mpimap_launcher_ops *iops = usable_ops(j, *inner);
        if (!iops)
            return j->rc;
        if (!(iops->flags & MPIMAP_LAUNCHER_DIRECT))
            return job_fail(j, MPIMAP_EINVAL,
                            "--via %s: the launcher inside a scheduler's job must start "
                            "ranks directly (mpirun, srun, aprun)",
                            via);
    } else if (detach) {
        return job_fail(j, MPIMAP_EINVAL,
                        "--detach needs a scheduler (--launcher slurm, pbs, ...); launcher "
                        "'%s' runs the job from this process",
                        (*out)->name);
    }
    j->launcher = strdup((*out)->name);
    return j->launcher ? 0 : MPIMAP_ENOMEM;
}

/* The variables a job's ranks need, for launchers that export them. */
static const char *const exported[] = {"MPIMAP_PLUGIN_PATH", "MPIMAP_PLUGIN_SYSTEM_PATH",
                                       "LD_LIBRARY_PATH", NULL};

/* Write text to path, mode 0700 (a job script). */
static int write_script(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
    if (fd < 0)
        return -1;
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    return close(fd);
}

static int render(mpimap_job *j, const struct mpimap_plugin *launcher,
                  const struct mpimap_plugin *inner, const mpimap_ezmap_options *o, int np)
{
    const struct mpimap_launcher_ops *ops = launcher->ops;
    const char *env_worker = getenv("MPIMAP_WORKER");
    j->worker = env_worker && *env_worker ? strdup(env_worker)
                                          : strdup(MPIMAP_LIBEXECDIR "/mpimap-worker");
    if (!j->worker)
        return MPIMAP_ENOMEM;
    const char *wargv[] = {j->worker, j->spec, NULL};
    static const char *const none[] = {NULL};
    int rc = 0;
    for (size_t i = 0; exported[i] && rc == 0; i++) {
        const char *v = getenv(exported[i]);
        if (!v)
            continue;
        if (strcmp(exported[i], "MPIMAP_PLUGIN_PATH") != 0) {
            rc = mpimap_strv_pushf(&j->env, "%s=%s", exported[i], v);
            continue;
        }
        /* Absolute directories: the job may run elsewhere (a job script
         * changes directory). */
        char *abs = absolute_list(v);
        rc = abs ? mpimap_strv_pushf(&j->env, "%s=%s", exported[i], abs) : MPIMAP_ENOMEM;
        free(abs);
    }
    /* The user's exports: VAR=VALUE as given, VAR alone with its value here
     * (left bare when it has none). The launcher passes them all on
     * (mpirun -x, a job script's export lines). */
    for (size_t i = 0; rc == 0 && o->exports && o->exports[i]; i++) {
        const char *e = o->exports[i], *v = strchr(e, '=') ? NULL : getenv(e);
        rc = v ? mpimap_strv_pushf(&j->env, "%s=%s", e, v) : mpimap_strv_push(&j->env, e);
    }
    for (size_t i = 0; rc == 0 && i < j->env.n; i++)
        rc = mpimap_strv_push(&j->exports, j->env.v[i]);
    if (rc < 0)
        return rc;
    struct mpimap_launch_spec *ls = &j->ls;
    memset(ls, 0, sizeof *ls);
    ls->size = sizeof *ls;
    ls->np = np;
    ls->nodes = o->nodes;
    ls->ppn = o->ppn;
    ls->cpus_per_rank = o->cpus_per_rank;
    ls->slots = cpu_count();
    ls->hostfile = o->hostfile;
    ls->jobdir = j->dir;
    ls->worker_argv = wargv;
    ls->env = j->env.v ? (const char *const *)j->env.v : none;
    ls->launcher_args = o->launcher_args ? o->launcher_args : none;
    ls->walltime = o->walltime;
    ls->queue = o->queue;
    ls->qos = o->qos;
    ls->account = o->account;
    ls->job_name = o->job_name;
    ls->reservation = o->reservation;
    ls->mem = o->mem;
    ls->exports = j->exports.v ? (const char *const *)j->exports.v : none;
    ls->sched_args = o->sched_args ? o->sched_args : none;
    char *error = NULL;
    if (ops->flags & MPIMAP_LAUNCHER_BATCH) {
        /* The inner launcher's command, as shell text, inside the script. */
        const struct mpimap_launcher_ops *iops = inner->ops;
        mpimap_strv iargv = {0};
        rc = iops->render(ls, &iargv, &error);
        if (rc == 0 && !(j->inner_command = mpimap_shell_join((const char *const *)iargv.v)))
            rc = MPIMAP_ENOMEM;
        mpimap_strv_free(&iargv);
        if (rc == 0 && (!(j->script_path = path_join(j->dir, "job.sh")) ||
                        !(j->log_path = path_join(j->dir, "job.log"))))
            rc = MPIMAP_ENOMEM;
        ls->inner_command = j->inner_command;
        ls->log_path = j->log_path;
        char *script = NULL;
        if (rc == 0)
            rc = ops->script(ls, &script, &error);
        if (rc == 0 && write_script(j->script_path, script) != 0)
            rc = job_fail(j, MPIMAP_EIO, "cannot write the job script '%s': %s",
                          j->script_path, strerror(errno));
        mpimap_strv sub = {0};
        if (rc == 0)
            rc = ops->submit(ls, j->script_path, &sub, &error);
        char *subtext = rc == 0 ? mpimap_shell_join((const char *const *)sub.v) : NULL;
        if (rc == 0 &&
            asprintf(&j->command, "%s\n# submitted with:\n%s%s%s\n", script, subtext,
                     ops->flags & MPIMAP_LAUNCHER_SCRIPT_ON_STDIN ? " < " : "",
                     ops->flags & MPIMAP_LAUNCHER_SCRIPT_ON_STDIN ? j->script_path : "") < 0)
            rc = MPIMAP_ENOMEM;
        free(subtext);
        free(script);
        mpimap_strv_free(&sub);
        ls->worker_argv = NULL; /* wargv ends with this call */
    } else if (ops->flags & MPIMAP_LAUNCHER_DIRECT) {
        rc = ops->render(ls, &j->argv, &error);
    } else {
        /* In-process: what runs is the worker's map, without MPI. */
        rc = mpimap_strv_push(&j->argv, j->worker);
        if (rc == 0)
            rc = mpimap_strv_push(&j->argv, j->spec);
    }
    if (rc < 0 && !j->error)
        job_fail(j, rc, "%s", error ? error : "the launcher could not render the job");
    if (rc == 0 && !j->command &&
        !(j->command = mpimap_shell_join((const char *const *)j->argv.v)))
        rc = MPIMAP_ENOMEM;
    free(error);
    return rc;
}

/* Record which scheduler job this directory is, for mpimap status/collect. */
static int write_batch_file(mpimap_job *j)
{
    char *p = path_join(j->dir, "batch");
    FILE *f = p ? fopen(p, "w") : NULL;
    free(p);
    if (!f)
        return MPIMAP_EIO;
    fprintf(f, "launcher %s\njobid %s\n", j->launcher, j->jobid);
    return fclose(f) == 0 ? 0 : MPIMAP_EIO;
}

static int spawn(mpimap_job *j, const struct mpimap_plugin *launcher)
{
    const struct mpimap_launcher_ops *ops = launcher->ops;
    fflush(NULL);
    if (ops->flags & MPIMAP_LAUNCHER_BATCH) {
        char *error = NULL;
        int rc = mpimap_batch_submit(launcher, &j->ls, j->script_path, &j->jobid, &error);
        if (rc < 0) {
            job_fail(j, rc == MPIMAP_EABI ? rc : MPIMAP_ELAUNCH, "%s",
                     error ? error : "the job could not be submitted");
            free(error);
            return j->rc;
        }
        j->batch = launcher;
        j->state = MPIMAP_JOB_QUEUED;
        j->run_start = j->end_time = 0;
        j->running = 1;
        return write_batch_file(j) < 0
                   ? job_fail(j, MPIMAP_EIO, "cannot write %s/batch", j->dir)
                   : 0;
    }
    if (ops->flags & MPIMAP_LAUNCHER_INPROCESS) {
        pid_t pid = fork();
        if (pid < 0)
            return job_fail(j, MPIMAP_ELAUNCH, "fork: %s", strerror(errno));
        if (pid == 0) {
            setpgid(0, 0);
            int null = open("/dev/null", O_RDONLY);
            if (null >= 0)
                dup2(null, STDIN_FILENO);
            dup2(STDERR_FILENO, STDOUT_FILENO);
            int rc = mpimap_job_run(j->spec, MPI_COMM_NULL);
            fflush(NULL);
            _exit(rc == 0 || rc == MPIMAP_EITEMS ? 0 : 1);
        }
        j->pid = pid;
        j->running = 1;
        return 0;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    /* The job's standard output is not the results: keep it off ours. */
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    /* The launcher's environment: ours, with the job's variables set. */
    mpimap_strv envp = {0};
    int rc = 0;
    for (char **ev = environ; rc == 0 && *ev; ev++) {
        size_t n = strcspn(*ev, "=");
        int overridden = 0;
        for (size_t i = 0; i < j->env.n && !overridden; i++)
            overridden = strchr(j->env.v[i], '=') && !strncmp(j->env.v[i], *ev, n) &&
                         j->env.v[i][n] == '=';
        if (!overridden)
            rc = mpimap_strv_push(&envp, *ev);
    }
    for (size_t i = 0; rc == 0 && i < j->env.n; i++)
        if (strchr(j->env.v[i], '='))
            rc = mpimap_strv_push(&envp, j->env.v[i]);
    int e = rc < 0 ? ENOMEM
                   : posix_spawnp(&j->pid, j->argv.v[0], &fa, &at, j->argv.v,
                                  envp.v ? envp.v : environ);
    mpimap_strv_free(&envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (e != 0)
        return job_fail(j, MPIMAP_ELAUNCH, "cannot start %s: %s", j->argv.v[0], strerror(e));
    j->running = 1;
    return 0;
}

/* Fill what the caller left unset from the site and user config files
 * (the caller's options win). *eo points into o, the config and the job. */
static int site_defaults(mpimap_job *j, const mpimap_ezmap_options *o,
                         mpimap_ezmap_options *eo)
{
    *eo = *o;
    char *error = NULL;
    int rc = mpimap_config_load(&j->cfg, &error);
    if (rc < 0) {
        job_fail(j, MPIMAP_EINVAL, "%s", error ? error : mpimap_strerror(rc));
        free(error);
        return j->rc;
    }
    const char *v, *src;
    if (!eo->launcher)
        eo->launcher = mpimap_config_get(&j->cfg, "launcher", NULL);
    if (!eo->via)
        eo->via = mpimap_config_get(&j->cfg, "via", NULL);
    if (!eo->strategy)
        eo->strategy = mpimap_config_get(&j->cfg, "strategy", NULL);
    if (!eo->queue)
        eo->queue = mpimap_config_get(&j->cfg, "queue", NULL);
    if (!eo->account)
        eo->account = mpimap_config_get(&j->cfg, "account", NULL);
    if (!eo->qos)
        eo->qos = mpimap_config_get(&j->cfg, "qos", NULL);
    if (!eo->np && (v = mpimap_config_get(&j->cfg, "np", &src))) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n < 1 || n > 1000000)
            return job_fail(j, MPIMAP_EINVAL, "%s: np '%s' is not a number of ranks", src, v);
        eo->np = (int)n;
    }
    if (!eo->walltime && (v = mpimap_config_get(&j->cfg, "walltime", &src)) &&
        mpimap_parse_walltime(v, &eo->walltime, &error) < 0) {
        job_fail(j, MPIMAP_EINVAL, "%s: %s", src, error ? error : "bad walltime");
        free(error);
        return j->rc;
    }
    /* Repeatable and list-valued keys: the site's first, then the caller's. */
    for (size_t i = 0; i < j->cfg.n; i++) {
        struct mpimap_config_entry *e = &j->cfg.v[i];
        if (!mpimap_config_in_force(&j->cfg, i))
            continue;
        if (!strcmp(e->key, "directive") && mpimap_strv_push(&j->cfg_sched, e->value) < 0)
            return MPIMAP_ENOMEM;
        if (!strcmp(e->key, "mpirun_args") &&
            mpimap_config_split(e->value, &j->cfg_largs, &error) < 0) {
            job_fail(j, MPIMAP_EINVAL, "%s: mpirun_args: %s", e->source,
                     error ? error : "cannot split");
            free(error);
            return j->rc;
        }
    }
    if (j->cfg_sched.n) {
        for (size_t i = 0; o->sched_args && o->sched_args[i]; i++)
            if (mpimap_strv_push(&j->cfg_sched, o->sched_args[i]) < 0)
                return MPIMAP_ENOMEM;
        eo->sched_args = (const char *const *)j->cfg_sched.v;
    }
    return 0;
}

/* What the job's ranks are told of the driver: its pid and host, so that
 * they stop when it is killed; nothing when detached (a scheduler's job
 * outlives the command that submitted it; a dry run's command is run
 * later by hand). */
static int set_driver(struct mpimap_jobspec *s, int detached, char *host, size_t hostlen)
{
    s->driver_pid = 0;
    s->driver_host = NULL;
    if (detached || gethostname(host, hostlen - 1) != 0)
        return 0;
    host[hostlen - 1] = '\0';
    s->driver_pid = (uint64_t)getpid();
    s->driver_host = host;
    return 0;
}

/* The command line, for --resume: the working directory, then the
 * arguments, each followed by a NUL. */
static int write_cmdline(mpimap_job *j, const char *const *argv)
{
    char *p = path_join(j->dir, "cmdline");
    FILE *f = p ? fopen(p, "w") : NULL;
    free(p);
    if (!f)
        return MPIMAP_EIO;
    char *cwd = getcwd(NULL, 0);
    fputs(cwd ? cwd : "/", f);
    fputc('\0', f);
    free(cwd);
    for (size_t i = 0; argv[i]; i++) {
        fputs(argv[i], f);
        fputc('\0', f);
    }
    return fclose(f) == 0 ? 0 : MPIMAP_EIO;
}

/* A new job directory, its spec and its input. */
static int new_dir(mpimap_job *j, const mpimap_ezmap_options *o,
                   const struct mpimap_driver_extra *x, const struct mpimap_plugin *strategy,
                   int framing, const mpimap_item *items, size_t nitems, int batch)
{
    int rc = 0;
    const char *base = o->workdir;
    if (!base || !*base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    char *abase = absolute(base);
    if (!abase || asprintf(&j->dir, "%s/mpimap-XXXXXX", abase) < 0) {
        free(abase);
        j->dir = NULL;
        return job_fail(j, MPIMAP_ENOMEM, "out of memory");
    }
    free(abase);
    if (!mkdtemp(j->dir)) {
        job_fail(j, MPIMAP_EIO, "cannot create a job directory in '%s': %s", base,
                 strerror(errno));
        free(j->dir);
        j->dir = NULL;
        return j->rc;
    }
    j->spec = path_join(j->dir, "spec");
    j->results = path_join(j->dir, "results");
    if (!j->spec || !j->results)
        return job_fail(j, MPIMAP_ENOMEM, "out of memory");
    if (x && x->argv && write_cmdline(j, x->argv) < 0)
        return job_fail(j, MPIMAP_EIO, "cannot write %s/cmdline: %s", j->dir, strerror(errno));

    /* The spec. */
    struct mpimap_jobspec s;
    memset(&s, 0, sizeof s);
    char *input = NULL;
    if (o->input && strcmp(o->input, "-") != 0) {
        input = realpath(o->input, NULL);
        if (!input)
            return job_fail(j, MPIMAP_ENOTFOUND, "cannot open input '%s': %s", o->input,
                            strerror(errno));
    } else {
        input = path_join(j->dir, "input");
        if (!input)
            rc = MPIMAP_ENOMEM;
        else if (o->input)
            rc = spool_stdin(j, input);
        else
            rc = write_items(j, input, items, nitems);
        if (rc < 0) {
            free(input);
            return rc;
        }
    }
    if (o->output && !(j->output = absolute(o->output)))
        rc = MPIMAP_ENOMEM;
    if (o->joblog)
        j->joblog = absolute(o->joblog);
    else if (j->in_memory)
        j->joblog = path_join(j->dir, "joblog");
    char *cwd = getcwd(NULL, 0);
    char host[256];
    s.input = input;
    s.output = j->results;
    s.joblog = j->joblog;
    s.strategy = (char *)strategy->name;
    s.chunk = o->chunk;
    s.framing = framing;
    s.unordered = o->unordered;
    s.shell = o->shell;
    s.colsep = (char *)o->colsep;
    s.workdir = cwd;
    s.retries = o->retries;
    s.timeout_ms = o->timeout > 0 ? (uint64_t)(o->timeout * 1000 + 0.5) : 0;
    if (o->timeout > 0 && !s.timeout_ms)
        s.timeout_ms = 1;
    s.no_journal = o->no_journal;
    /* Counting the items costs a pass over the input: for a progress line,
     * and for a scheduler's job (how long the items left need, against
     * its walltime). */
    s.count = o->progress || batch;
    /* A dry run's command is run later, by hand, without this process:
     * its job must not stop when this process is gone. */
    set_driver(&s, batch || (x && x->dry_run), host, sizeof host);
    char *fpath = NULL, *fsym = NULL;
    if (o->function) {
        if (mpimap_fn_spec_split(o->function, &fpath, &fsym) == 0) {
            char *abs = strchr(fpath, '/') ? realpath(fpath, NULL) : NULL;
            if (abs) {
                free(fpath);
                fpath = abs;
            }
        }
        s.function_path = fpath;
        s.function_symbol = fsym;
        s.function_init = (char *)o->function_init;
    } else {
        s.command.v = (char **)o->command;
        for (s.command.n = 0; o->command[s.command.n]; s.command.n++)
            ;
    }
    if (rc == 0 && (rc = mpimap_jobspec_write(&s, j->spec)) < 0)
        job_fail(j, rc, "cannot write the job spec '%s': %s", j->spec, mpimap_strerror(rc));
    free(input);
    free(cwd);
    free(fpath);
    free(fsym);
    return rc;
}

/* Take up the job in x->resume_dir again: wait until no run of it is
 * left, turn what a dead run left into journal entries, and update the
 * spec (driver, --retry-failed). */
static int reopen_dir(mpimap_job *j, const mpimap_ezmap_options *o,
                      const struct mpimap_driver_extra *x, int batch)
{
    if (!(j->dir = realpath(x->resume_dir, NULL)))
        return job_fail(j, MPIMAP_ENOTFOUND, "no job directory '%s': %s", x->resume_dir,
                        strerror(errno));
    j->resumed = 1;
    j->spec = path_join(j->dir, "spec");
    j->results = path_join(j->dir, "results");
    if (!j->spec || !j->results)
        return job_fail(j, MPIMAP_ENOMEM, "out of memory");
    struct mpimap_jobspec s;
    memset(&s, 0, sizeof s);
    char *error = NULL;
    int rc = mpimap_jobspec_read(&s, j->spec, &error);
    if (rc < 0) {
        job_fail(j, rc == MPIMAP_ENOTFOUND ? MPIMAP_EINVAL : rc,
                 "'%s' is not a job directory: %s", j->dir, error ? error : mpimap_strerror(rc));
        free(error);
        return j->rc;
    }
    if (mpimap_recovery_wait_unlocked(j->dir, 0) != 0) {
        fprintf(stderr, "mpimap: waiting for the job still running in %s to stop...\n", j->dir);
        if (mpimap_recovery_wait_unlocked(j->dir, 30) != 0) {
            mpimap_jobspec_free(&s);
            return job_fail(j, MPIMAP_EBUSY, "the job in %s is still running", j->dir);
        }
    }
    if (o->output && !(j->output = absolute(o->output)))
        rc = MPIMAP_ENOMEM;
    if (rc == 0 && s.joblog && !(j->joblog = strdup(s.joblog)))
        rc = MPIMAP_ENOMEM;
    char *st = path_join(j->dir, "status");
    j->done_before = st && access(st, F_OK) == 0 && !x->retry_failed;
    free(st);
    if (rc == 0 && !j->done_before) {
        char *what = NULL;
        int blamed = mpimap_recovery_blame(j->dir, &what);
        free(what);
        if (blamed < 0)
            rc = job_fail(j, blamed, "cannot update the journal in %s: %s", j->dir,
                          mpimap_strerror(blamed));
        char *gone[] = {path_join(j->dir, "error"), path_join(j->dir, "status")};
        for (size_t i = 0; i < 2; i++) {
            if (gone[i])
                unlink(gone[i]);
            free(gone[i]);
        }
        char host[256];
        s.retry_failed = x->retry_failed;
        char *own = s.driver_host;
        set_driver(&s, batch || x->dry_run, host, sizeof host);
        if (rc == 0 && (rc = mpimap_jobspec_write(&s, j->spec)) < 0)
            job_fail(j, rc, "cannot write the job spec '%s': %s", j->spec,
                     mpimap_strerror(rc));
        s.driver_host = own;
    }
    mpimap_jobspec_free(&s);
    return rc;
}

int mpimap_driver_start(const mpimap_ezmap_options *req,
                        const struct mpimap_driver_extra *x, const mpimap_item *items,
                        size_t nitems, mpimap_job **out)
{
    *out = NULL;
    if (!req)
        return MPIMAP_EINVAL;
    mpimap_job *j = calloc(1, sizeof *j);
    if (!j)
        return MPIMAP_ENOMEM;
    *out = j;
    mpimap_ezmap_options eo;
    const mpimap_ezmap_options *o = &eo;
    if (site_defaults(j, req, &eo) < 0)
        return j->rc;
    j->output_fd = x ? x->output_fd : -1;
    j->nitems = nitems;
    int framing = o->input ? o->framing : MPIMAP_FRAME_BINARY;
    int np = o->np > 0 ? o->np : cpu_count();
    if (framing < MPIMAP_FRAME_LINE || framing > MPIMAP_FRAME_BINARY)
        return job_fail(j, MPIMAP_EINVAL, "unknown framing %d", framing);
    if (!o->input && nitems && !items)
        return job_fail(j, MPIMAP_EINVAL, "no items given");
    j->in_memory = !o->output && j->output_fd < 0;
    if (j->in_memory && o->input)
        return job_fail(j, MPIMAP_EINVAL,
                        "results in memory need the items in memory: give an output file");

    int rc = check_handler(j, o, framing);
    if (rc < 0)
        return rc;

    mpimap_registry *reg = NULL;
    const struct mpimap_plugin *strategy = NULL, *launcher = NULL, *inner = NULL;
    char *error = NULL;
    if ((rc = mpimap_registry_open(&reg)) < 0)
        return job_fail(j, rc, "cannot read the plugin directories: %s", mpimap_strerror(rc));
    rc = mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY, o->strategy ? o->strategy : "pool",
                              &strategy, &error);
    if (rc < 0) {
        rc = job_fail(j, rc == MPIMAP_ENOTFOUND ? MPIMAP_EINVAL : rc, "%s",
                      error ? error : mpimap_strerror(rc));
        free(error);
        goto out;
    }
    if ((rc = pick_launcher(j, reg, o, x && x->detach, &launcher, &inner)) < 0)
        goto out;
    /* The site's extra mpirun arguments go first, wherever mpirun runs. */
    if (j->cfg_largs.n && !strcmp((inner ? inner : launcher)->name, "mpirun")) {
        for (size_t i = 0; o->launcher_args && o->launcher_args[i]; i++)
            if ((rc = mpimap_strv_push(&j->cfg_largs, o->launcher_args[i])) < 0)
                goto out;
        eo.launcher_args = (const char *const *)j->cfg_largs.v;
    }

    j->max_restarts = o->max_restarts < 0 ? 0 : o->max_restarts ? o->max_restarts : 2;
    int batch = (((const struct mpimap_launcher_ops *)launcher->ops)->flags &
                 MPIMAP_LAUNCHER_BATCH) != 0;
    if (x && x->resume_dir)
        rc = reopen_dir(j, o, x, batch);
    else
        rc = new_dir(j, o, x, strategy, framing, items, nitems, batch);
    if (rc < 0)
        goto out;
    {   /* progress: for the caller (o->progress), and the watchdog line */
        char *p = path_join(j->dir, "progress");
        int fd = p ? open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) : -1;
        if (fd >= 0)
            close(fd);
        free(p);
    }

    if ((rc = render(j, launcher, inner, o, np)) < 0)
        goto out;
    if (x && x->dry_run) {
        j->keep_dir = 1;
        j->finished = 1;
        goto out;
    }
    j->lplugin = launcher;
    if (j->done_before) {
        j->running = 1; /* the first poll collects it */
        goto out;
    }
    j->journals = mpimap_recovery_journals(j->dir);
    rc = spawn(j, launcher);
out:
    if (rc < 0 && j->dir)
        j->keep_dir = j->resumed; /* a new directory goes; the user's job stays */
    j->reg = reg; /* the launcher plugin stays loaded while the job lives */
    if (rc < 0 && !j->error)
        job_fail(j, rc, "%s", mpimap_strerror(rc));
    return rc;
}

/* ---- collecting -------------------------------------------------------- */

static int read_status(mpimap_job *j)
{
    char *p = path_join(j->dir, "status");
    FILE *f = p ? fopen(p, "r") : NULL;
    free(p);
    if (!f)
        return MPIMAP_ENOTFOUND;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        uint64_t idx;
        int rank, off = 0;
        if (sscanf(line, "items %" SCNu64, &j->items) == 1)
            continue;
        if (sscanf(line, "failed %" SCNu64, &j->failed) == 1)
            continue;
        if (sscanf(line, "failure %" SCNu64 " %d %n", &idx, &rank, &off) == 2 && off > 0 &&
            j->nfailures < MAX_FAILURES) {
            struct failure *fl = &j->failures[j->nfailures];
            if ((fl->reason = strdup(line + off))) {
                fl->index = idx;
                fl->rank = rank;
                j->nfailures++;
            }
        }
    }
    free(line);
    fclose(f);
    return 0;
}

/* The crash reports the ranks left, joined with "; ", or NULL. */
static char *crash_reports(mpimap_job *j)
{
    DIR *d = opendir(j->dir);
    if (!d)
        return NULL;
    char *all = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "crash.", 6) != 0)
            continue;
        char *p = path_join(j->dir, de->d_name);
        FILE *f = p ? fopen(p, "r") : NULL;
        free(p);
        if (!f)
            continue;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, f);
        fclose(f);
        if (n > 0) {
            if (line[n - 1] == '\n')
                line[n - 1] = '\0';
            char *joined = NULL;
            if (asprintf(&joined, "%s%s%s", all ? all : "", all ? "; " : "", line) >= 0) {
                free(all);
                all = joined;
            }
        }
        free(line);
    }
    closedir(d);
    return all;
}

/* After a failed job: keep the finished results as results.partial. */
static void keep_partial(mpimap_job *j)
{
    DIR *d = opendir(j->dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "results.tmp.", 12) != 0)
            continue;
        char *from = path_join(j->dir, de->d_name), *to = path_join(j->dir, "results.partial");
        if (from && to)
            rename(from, to);
        free(from);
        free(to);
        break;
    }
    closedir(d);
}

static int read_outcomes(mpimap_job *j)
{
    mpimap_outcome *out = calloc(j->nitems ? j->nitems : 1, sizeof *out);
    if (!out)
        return MPIMAP_ENOMEM;
    mpimap_reader *r = NULL;
    int rc = mpimap_reader_open(&r, j->results, MPIMAP_FRAME_BINARY);
    const void *data;
    size_t len, i = 0;
    while (rc >= 0 && (rc = mpimap_reader_next(r, &data, &len)) > 0 && i < j->nitems) {
        if (len && !(out[i].data = malloc(len))) {
            rc = MPIMAP_ENOMEM;
            break;
        }
        if (len)
            memcpy(out[i].data, data, len);
        out[i++].len = len;
    }
    mpimap_reader_close(r);
    if (rc == 0 && i != j->nitems)
        rc = MPIMAP_EIO;
    /* The joblog has every failure and its reason. */
    FILE *f = rc == 0 ? fopen(j->joblog, "r") : NULL;
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
            if (line[n - 1] == '\n')
                line[--n] = '\0';
            uint64_t idx;
            char status[16];
            int off = 0;
            /* A line per attempt, in order (retries, restarts): the last
             * one of an item says how it ended. */
            if (sscanf(line, "%" SCNu64 "\t%*d\t%*f\t%*f\t%15[a-z]\t%n", &idx, status, &off) ==
                    2 &&
                off > 0 && idx < j->nitems) {
                int ok = strcmp(status, "ok") == 0;
                out[idx].status = ok ? 0 : MPIMAP_EITEMS;
                free(out[idx].reason);
                out[idx].reason = ok ? NULL : strdup(line + off);
            }
        }
        free(line);
        fclose(f);
    }
    if (rc < 0) {
        mpimap_outcomes_free(out, j->nitems);
        return rc;
    }
    j->outcomes = out;
    return 0;
}

/* How the job ended, for a message: "mpirun: exit status 1",
 * "slurm job 42: killed at its walltime". */
static char *ending(mpimap_job *j, int wstatus)
{
    char *how = NULL;
    int n;
    if (j->batch)
        n = asprintf(&how, "%s job %s: %s%s%s", j->launcher, j->jobid,
                     mpimap_job_state_name(j->state), j->state_detail ? ", " : "",
                     j->state_detail ? j->state_detail : "");
    else if (WIFSIGNALED(wstatus))
        n = asprintf(&how, "%s: killed by signal %d", j->launcher, WTERMSIG(wstatus));
    else
        n = asprintf(&how, "%s: exit status %d", j->launcher, WEXITSTATUS(wstatus));
    return n < 0 ? NULL : how;
}

/* buf = "; resume with: mpimap run --resume DIR" when the job left a
 * journal, else "". Returns buf. */
static const char *resume_hint(mpimap_job *j, char *buf, size_t len)
{
    *buf = '\0';
    if (mpimap_recovery_journals(j->dir) == 0)
        return buf;
    snprintf(buf, len, "; resume with: mpimap run --resume %s", j->dir);
    return buf;
}

/* "; resume with: mpimap run --resume DIR --walltime 0:25:00" for a job
 * killed at its walltime: the time the items left need at the rate this
 * job ran them (from when it was first seen running to now), a quarter
 * more and a minute to start, in whole minutes; twice the walltime (asked
 * for, or the scheduler's) when it finished none. */
static const char *resume_walltime_hint(mpimap_job *j, char *buf, size_t len)
{
    resume_hint(j, buf, len);
    double walltime = j->ls.walltime > 0 ? (double)j->ls.walltime : j->end_time - j->run_start;
    if (!*buf || j->run_start <= 0 || walltime <= 0)
        return buf;
    uint64_t done = 0, failed, total = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double ran = (double)ts.tv_sec - j->run_start;
    double need = 2.0 * walltime;
    if (mpimap_ezmap_progress(j, &done, &failed, &total) == 0 && total > done &&
        done > j->done_at_start && ran > 0)
        need = (double)(total - done) * ran / (double)(done - j->done_at_start) * 1.25 + 60;
    if (need > 365.0 * 86400)
        need = 365.0 * 86400;
    long m = (long)(need / 60) + 1;
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, " --walltime %ld:%02ld:00", m / 60, m % 60);
    return buf;
}

static int file_in_dir(mpimap_job *j, const char *name)
{
    char *p = path_join(j->dir, name);
    int there = p && access(p, F_OK) == 0;
    free(p);
    return there;
}

/* A run that ended without finishing the map, and not for a reason of its
 * own (bad input, say: it leaves "error"): a rank died. Blame the items
 * that were running on dead ranks, and start the job again for the items
 * left. MPIMAP_EBUSY when restarted. */
static int restart(mpimap_job *j)
{
    if (j->restarts >= j->max_restarts || file_in_dir(j, "error") ||
        mpimap_recovery_journals(j->dir) <= j->journals ||
        (j->batch && (j->state == MPIMAP_JOB_TIMEOUT || j->state == MPIMAP_JOB_CANCELLED)))
        return 0;
    char *what = NULL;
    int blamed = mpimap_recovery_blame(j->dir, &what);
    if (blamed < 0) {
        free(what);
        return 0;
    }
    /* (what the ranks said of their deaths is on standard error already) */
    free(what);
    j->restarts++;
    fprintf(stderr, "mpimap: the job stopped before the end; starting it again for the items "
                    "left (restart %d of %d)\n",
            j->restarts, j->max_restarts);
    if (mpimap_recovery_wait_unlocked(j->dir, 30) != 0)
        return 0;
    j->journals = mpimap_recovery_journals(j->dir);
    j->finished = 0;
    free(j->error);
    j->error = NULL;
    j->rc = 0;
    if (spawn(j, j->lplugin) < 0)
        return 0;
    return MPIMAP_EBUSY;
}

static int collect(mpimap_job *j, int wstatus)
{
    j->running = 0;
    j->finished = 1;
    char hint[PATH_MAX + 64];
    if (j->cancelled) {
        keep_partial(j);
        j->keep_dir = 1;
        return job_fail(j, MPIMAP_ECANCELED, "cancelled; every finished result is kept in %s%s",
                        j->dir, resume_hint(j, hint, sizeof hint));
    }
    if (read_status(j) < 0) {
        char *crash = crash_reports(j);
        if (restart(j) == MPIMAP_EBUSY) {
            free(crash);
            return MPIMAP_EBUSY;
        }
        keep_partial(j);
        j->keep_dir = 1;
        char *how = ending(j, wstatus);
        const char *log = j->batch ? "; the job's output is in " : "";
        int rc;
        resume_hint(j, hint, sizeof hint);
        if (crash)
            rc = job_fail(j, MPIMAP_ECRASH, "%s; the job was stopped (%s)%s%s%s", crash,
                          how ? how : "?", log, j->batch ? j->log_path : "",
                          *hint ? hint : "");
        else if (j->batch && j->state == MPIMAP_JOB_TIMEOUT)
            rc = job_fail(j, MPIMAP_ECRASH, "the job was killed at its walltime (%s)%s",
                          how ? how : "?", resume_walltime_hint(j, hint, sizeof hint));
        else if (!file_in_dir(j, "error") && mpimap_recovery_journals(j->dir) > j->journals)
            /* The map had started, and did not stop for a reason of its own. */
            rc = job_fail(j, MPIMAP_ECRASH, "the job died before the end (%s)%s%s%s", how ? how : "?",
                          log, j->batch ? j->log_path : "", *hint ? hint : "");
        else
            rc = job_fail(j, MPIMAP_ELAUNCH,
                          "the job ended without finishing the map (%s); job directory "
                          "kept: %s%s%s%s",
                          how ? how : "?", j->dir, log, j->batch ? j->log_path : "",
                          *hint ? hint : "");
        free(how);
        free(crash);
        return rc;
    }
    int rc = 0;
    if (j->output) {
        if (move_file(j->results, j->output) != 0)
            rc = job_fail(j, MPIMAP_EIO, "cannot write the results to '%s': %s", j->output,
                          strerror(errno));
    } else if (j->output_fd >= 0) {
        int fd = open(j->results, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || copy_fd(fd, j->output_fd) != 0)
            rc = job_fail(j, MPIMAP_EIO, "cannot write the results: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
    } else if (j->in_memory) {
        if ((rc = read_outcomes(j)) < 0)
            job_fail(j, rc, "cannot read the results back from %s: %s", j->results,
                     mpimap_strerror(rc));
    }
    if (rc < 0) {
        j->keep_dir = 1;
        return rc;
    }
    j->keep_dir = 0; /* the results are delivered: the directory can go */
    return j->rc = j->failed ? MPIMAP_EITEMS : 0;
}

/* ---- the public calls ---------------------------------------------------- */

int mpimap_ezmap_start(const mpimap_ezmap_options *opts, const mpimap_item *items,
                       size_t nitems, mpimap_job **job)
{
    int rc = mpimap_driver_start(opts, NULL, items, nitems, job);
    if (rc < 0 && *job && mpimap_job_error(*job))
        fprintf(stderr, "mpimap: %s\n", mpimap_job_error(*job));
    return rc;
}

/* The job is running: when did it start, and when will the scheduler kill
 * it (end: what the scheduler said, 0 when it did not; the walltime asked
 * for, counted from now, in its place)? */
static void note_running(mpimap_job *j, int64_t end)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    if (j->run_start == 0) {
        uint64_t done = 0, failed, total;
        j->run_start = now;
        j->done_at_start = mpimap_ezmap_progress(j, &done, &failed, &total) == 0 ? done : 0;
        if (!end && j->ls.walltime > 0)
            j->end_time = now + (double)j->ls.walltime;
    }
    if (end)
        j->end_time = (double)end;
}

int mpimap_job_end_time(const mpimap_job *j, double *end, double *run_start,
                        uint64_t *done_at_start)
{
    if (!j || !j->batch || !j->running || j->state != MPIMAP_JOB_RUNNING || j->end_time <= 0)
        return 0;
    *end = j->end_time;
    *run_start = j->run_start;
    *done_at_start = j->done_at_start;
    return 1;
}

/* A scheduler's job: ask for its state (at most every half second). */
static int poll_batch(mpimap_job *j)
{
    double now = mpimap_now();
    if (now < j->next_query)
        return MPIMAP_EBUSY;
    j->next_query = now + 0.5;
    char *detail = NULL, *error = NULL;
    int state = 0;
    int64_t end = 0;
    int rc = mpimap_batch_state(j->batch, j->jobid, &state, &detail, &end, &error);
    if (rc < 0) {
        /* A scheduler that does not answer once is not a failed job. */
        free(detail);
        free(error);
        return MPIMAP_EBUSY;
    }
    free(j->state_detail);
    j->state_detail = detail;
    j->state = state;
    free(error);
    if (state == MPIMAP_JOB_RUNNING)
        note_running(j, end);
    if (state == MPIMAP_JOB_QUEUED || state == MPIMAP_JOB_RUNNING || j->peek)
        return MPIMAP_EBUSY;
    return collect(j, 0);
}

int mpimap_ezmap_poll(mpimap_job *j)
{
    if (!j)
        return MPIMAP_EINVAL;
    if (j->finished || !j->running)
        return j->rc;
    if (j->done_before) {
        j->done_before = 0;
        return collect(j, 0);
    }
    if (j->batch)
        return poll_batch(j);
    int st;
    pid_t p = waitpid(j->pid, &st, WNOHANG);
    if (p == 0)
        return MPIMAP_EBUSY;
    if (p < 0)
        return job_fail(j, MPIMAP_ELAUNCH, "waitpid: %s", strerror(errno));
    return collect(j, st);
}

int mpimap_ezmap_wait(mpimap_job *j)
{
    if (!j)
        return MPIMAP_EINVAL;
    int rc;
    while ((rc = mpimap_ezmap_poll(j)) == MPIMAP_EBUSY) {
        if (j->batch || !j->running) {
            usleep(100000);
            continue;
        }
        int st;
        pid_t p;
        while ((p = waitpid(j->pid, &st, 0)) < 0 && errno == EINTR)
            ;
        if (p < 0)
            return job_fail(j, MPIMAP_ELAUNCH, "waitpid: %s", strerror(errno));
        if ((rc = collect(j, st)) != MPIMAP_EBUSY)
            return rc;
    }
    return rc;
}

int mpimap_ezmap_cancel(mpimap_job *j)
{
    if (!j)
        return MPIMAP_EINVAL;
    if (!j->running)
        return 0;
    j->cancelled = 1;
    if (j->batch) {
        char *error = NULL;
        int rc = mpimap_batch_cancel(j->batch, j->jobid, &error);
        if (rc < 0) {
            job_fail(j, rc, "cannot cancel %s job %s: %s", j->launcher, j->jobid,
                     error ? error : mpimap_strerror(rc));
            free(error);
            j->cancelled = 0;
            return j->rc;
        }
        /* Wait (up to 30 s) until the scheduler says the job is over. */
        for (int i = 0; i < 300 && j->running; i++) {
            j->next_query = 0;
            if (poll_batch(j) == MPIMAP_EBUSY)
                usleep(100000);
        }
        if (j->running)
            collect(j, 0);
        return 0;
    }
    kill(-j->pid, SIGTERM);
    for (int i = 0; i < 50; i++) { /* up to 5 s to stop cleanly */
        int st;
        pid_t p = waitpid(j->pid, &st, WNOHANG);
        if (p == j->pid)
            return collect(j, st), 0;
        usleep(100000);
    }
    kill(-j->pid, SIGKILL);
    int st;
    if (waitpid(j->pid, &st, 0) == j->pid)
        collect(j, st);
    return 0;
}

int mpimap_job_open(const char *dir, const struct mpimap_driver_extra *x,
                    const char *output, int peek, mpimap_job **out)
{
    mpimap_job *j = calloc(1, sizeof *j);
    *out = j;
    if (!j)
        return MPIMAP_ENOMEM;
    j->output_fd = x ? x->output_fd : -1;
    j->keep_dir = 1;
    j->peek = peek;
    if (!(j->dir = realpath(dir, NULL)))
        return job_fail(j, MPIMAP_ENOTFOUND, "no job directory '%s': %s", dir, strerror(errno));
    char *bpath = path_join(j->dir, "batch");
    FILE *f = bpath ? fopen(bpath, "r") : NULL;
    free(bpath);
    if (!f)
        return job_fail(j, MPIMAP_ENOTFOUND,
                        "'%s' is not the directory of a job submitted to a scheduler "
                        "(it has no 'batch' file)",
                        j->dir);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        if (!strncmp(line, "launcher ", 9) && !j->launcher)
            j->launcher = strdup(line + 9);
        else if (!strncmp(line, "jobid ", 6) && !j->jobid)
            j->jobid = strdup(line + 6);
    }
    free(line);
    fclose(f);
    if (!j->launcher || !j->jobid)
        return job_fail(j, MPIMAP_EINVAL, "%s/batch: no launcher or job id in it", j->dir);
    if (!(j->spec = path_join(j->dir, "spec")) || !(j->results = path_join(j->dir, "results")) ||
        !(j->log_path = path_join(j->dir, "job.log")) ||
        (output && !(j->output = absolute(output))))
        return job_fail(j, MPIMAP_ENOMEM, "out of memory");
    int rc = mpimap_registry_open(&j->reg);
    const struct mpimap_plugin *p = NULL;
    if (rc == 0 && (rc = find_launcher(j, j->reg, j->launcher, &p)) < 0)
        return rc;
    if (rc < 0)
        return job_fail(j, rc, "cannot read the plugin directories");
    if (!(((const struct mpimap_launcher_ops *)p->ops)->flags & MPIMAP_LAUNCHER_BATCH))
        return job_fail(j, MPIMAP_EINVAL, "launcher '%s' of %s is not a scheduler",
                        j->launcher, j->dir);
    j->batch = p;
    j->state = MPIMAP_JOB_QUEUED;
    j->running = 1;
    return 0;
}

/* Leave a scheduler's job running and keep its directory: mpimap status and
 * mpimap collect take it from there. */
void mpimap_job_detach(mpimap_job *j)
{
    if (!j)
        return;
    j->running = 0;
    j->keep_dir = 1;
}

const char *mpimap_job_id(const mpimap_job *j) { return j ? j->jobid : NULL; }

int mpimap_job_last_state(const mpimap_job *j, const char **detail)
{
    if (detail)
        *detail = j && j->batch ? j->state_detail : NULL;
    return j && j->batch ? j->state : 0;
}

int mpimap_job_state(mpimap_job *j, int *state, const char **detail)
{
    if (!j || !j->batch)
        return MPIMAP_EINVAL;
    int rc = j->finished ? 0 : (j->next_query = 0, poll_batch(j));
    *state = j->state;
    *detail = j->state_detail;
    return rc == MPIMAP_EBUSY ? 0 : rc;
}

int mpimap_job_straggler(const mpimap_job *j, double floor, uint64_t *index, int *rank,
                         char **host, double *seconds, double *median)
{
    *host = NULL;
    if (!j || !j->dir || !j->running)
        return 0;
    return mpimap_recovery_straggler(j->dir, floor, index, rank, host, seconds, median);
}

int mpimap_ezmap_progress(mpimap_job *j, uint64_t *done, uint64_t *failed, uint64_t *total)
{
    if (!j || !j->dir)
        return MPIMAP_EINVAL;
    char *p = path_join(j->dir, "progress");
    FILE *f = p ? fopen(p, "r") : NULL;
    free(p);
    if (!f)
        return MPIMAP_ENOTFOUND;
    uint64_t d = 0, fl = 0, t = 0;
    int n = fscanf(f, "%" SCNu64 " %" SCNu64 " %" SCNu64, &d, &fl, &t);
    fclose(f);
    if (n != 3)
        return MPIMAP_EBUSY; /* not written yet */
    *done = d;
    *failed = fl;
    *total = t;
    return 0;
}

int mpimap_ezmap_results(mpimap_job *j, mpimap_outcome **outcomes, size_t *n)
{
    if (!j || !j->finished || !j->outcomes)
        return MPIMAP_EINVAL;
    *outcomes = j->outcomes;
    *n = j->nitems;
    j->outcomes = NULL;
    return 0;
}

void mpimap_ezmap_free(mpimap_job *j)
{
    if (!j)
        return;
    if (j->running && !j->peek) /* mpimap status only looked at it */
        mpimap_ezmap_cancel(j);
    if (j->dir && !j->keep_dir)
        remove_tree(j->dir);
    free(j->dir);
    free(j->spec);
    free(j->results);
    free(j->joblog);
    free(j->output);
    free(j->command);
    free(j->launcher);
    free(j->jobid);
    free(j->state_detail);
    free(j->worker);
    free(j->script_path);
    free(j->log_path);
    free(j->inner_command);
    mpimap_strv_free(&j->env);
    mpimap_strv_free(&j->exports);
    mpimap_strv_free(&j->cfg_largs);
    mpimap_strv_free(&j->cfg_sched);
    mpimap_config_free(&j->cfg);
    mpimap_registry_close(j->reg);
    free(j->error);
    mpimap_strv_free(&j->argv);
    for (size_t i = 0; i < j->nfailures; i++)
        free(j->failures[i].reason);
    mpimap_outcomes_free(j->outcomes, j->nitems);
    free(j);
}

int mpimap_ezmap(const mpimap_ezmap_options *opts, const mpimap_item *items,
                 size_t nitems, mpimap_outcome **outcomes, size_t *noutcomes)
{
    mpimap_job *j = NULL;
    if (outcomes)
        *outcomes = NULL;
    if (noutcomes)
        *noutcomes = 0;
    int rc = mpimap_ezmap_start(opts, items, nitems, &j);
    if (rc == 0) {
        rc = mpimap_ezmap_wait(j);
        if (rc < 0 && rc != MPIMAP_EITEMS && mpimap_job_error(j))
            fprintf(stderr, "mpimap: %s\n", mpimap_job_error(j));
        if ((rc == 0 || rc == MPIMAP_EITEMS) && outcomes && noutcomes && j->outcomes)
            mpimap_ezmap_results(j, outcomes, noutcomes);
    }
    mpimap_ezmap_free(j);
    return rc;
}

/* ---- details for the command --------------------------------------------- */

const char *mpimap_job_error(const mpimap_job *j) { return j ? j->error : NULL; }
const char *mpimap_job_dir(const mpimap_job *j) { return j ? j->dir : NULL; }
const char *mpimap_job_command(const mpimap_job *j) { return j ? j->command : NULL; }
const char *mpimap_job_launcher(const mpimap_job *j) { return j ? j->launcher : NULL; }

void mpimap_job_counts(const mpimap_job *j, uint64_t *items, uint64_t *failed)
{
    *items = j->items;
    *failed = j->failed;
}

size_t mpimap_job_nfailures(const mpimap_job *j) { return j->nfailures; }

void mpimap_job_failure(const mpimap_job *j, size_t i, uint64_t *index, int *rank,
                        const char **reason)
{
    *index = j->failures[i].index;
    *rank = j->failures[i].rank;
    *reason = j->failures[i].reason;
}

int mpimap_job_report(const mpimap_job *j, mpimap_report *report)
{
    memset(report, 0, sizeof *report);
    if (!j || !j->dir || !j->finished)
        return MPIMAP_EINVAL;
    char *p = path_join(j->dir, "report");
    if (!p)
        return MPIMAP_ENOMEM;
    int rc = mpimap_report_load(report, p);
    free(p);
    return rc;
}
