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
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpimap/launcher.h>

#include "config.h"
#include "driver.h"
#include "handler_cmd.h"
#include "handler_fn.h"
#include "job.h"
#include "jobspec.h"
#include "records.h"
#include "registry.h"
#include "shellquote.h"

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
    char *command;              /* argv as shell text */
    char *launcher;
    pid_t pid;
    int running, finished, cancelled, keep_dir;
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

/* Find program on PATH; malloc'd full path or NULL. */
static char *which(const char *program)
{
    if (strchr(program, '/'))
        return access(program, X_OK) == 0 ? strdup(program) : NULL;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char *dir = n ? strndup(path, n) : strdup(".");
        char *full = dir ? path_join(dir, program) : NULL;
        free(dir);
        if (full && access(full, X_OK) == 0)
            return full;
        free(full);
        path += n;
        if (*path == ':')
            path++;
    }
    return NULL;
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

static int pick_launcher(mpimap_job *j, mpimap_registry *reg, const char *name,
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
    const struct mpimap_launcher_ops *ops = (*out)->ops;
    if (ops->size < offsetof(struct mpimap_launcher_ops, render) + sizeof ops->render)
        return job_fail(j, MPIMAP_EABI, "launcher '%s' has an ops table too small for ABI 1.0",
                        (*out)->name);
    if (!(ops->flags & (MPIMAP_LAUNCHER_DIRECT | MPIMAP_LAUNCHER_INPROCESS)))
        return job_fail(j, MPIMAP_EINVAL,
                        "launcher '%s' cannot start a job directly (flags 0x%x)",
                        (*out)->name, (unsigned)ops->flags);
    if ((ops->flags & MPIMAP_LAUNCHER_DIRECT) && !ops->render)
        return job_fail(j, MPIMAP_EABI, "launcher '%s' is direct but has no render()",
                        (*out)->name);
    if ((ops->flags & MPIMAP_LAUNCHER_DIRECT) && ops->program) {
        char *found = which(ops->program);
        if (!found)
            return job_fail(j, MPIMAP_ELAUNCH,
                            "%s not found on PATH (launcher %s): is it installed? "
                            "Use --launcher serial to run without MPI.",
                            ops->program, (*out)->name);
        free(found);
    }
    j->launcher = strdup((*out)->name);
    return j->launcher ? 0 : MPIMAP_ENOMEM;
}

/* The variables a job's ranks need, for launchers that export them. */
static const char *const exported[] = {"MPIMAP_PLUGIN_PATH", "MPIMAP_PLUGIN_SYSTEM_PATH",
                                       "LD_LIBRARY_PATH", NULL};

static int render(mpimap_job *j, const struct mpimap_plugin *launcher,
                  const mpimap_ezmap_options *o, int np)
{
    const struct mpimap_launcher_ops *ops = launcher->ops;
    const char *env_worker = getenv("MPIMAP_WORKER");
    char *worker = env_worker && *env_worker ? strdup(env_worker)
                                             : strdup(MPIMAP_LIBEXECDIR "/mpimap-worker");
    if (!worker)
        return MPIMAP_ENOMEM;
    const char *wargv[] = {worker, j->spec, NULL};
    mpimap_strv env = {0};
    int rc = 0;
    for (size_t i = 0; exported[i] && rc == 0; i++) {
        const char *v = getenv(exported[i]);
        if (v)
            rc = mpimap_strv_pushf(&env, "%s=%s", exported[i], v);
    }
    const char *const noenv[] = {NULL};
    struct mpimap_launch_spec ls = {
        sizeof ls, np, 0, 0, 0, cpu_count(), o->hostfile, j->dir, wargv,
        env.v ? (const char *const *)env.v : noenv,
        o->launcher_args ? o->launcher_args : noenv};
    char *error = NULL;
    if (rc == 0) {
        if (ops->flags & MPIMAP_LAUNCHER_DIRECT) {
            rc = ops->render(&ls, &j->argv, &error);
            if (rc < 0)
                job_fail(j, rc, "%s", error ? error : "the launcher could not render a command");
        } else {
            /* In-process: what runs is the worker's map, without MPI. */
            rc = mpimap_strv_push(&j->argv, worker);
            if (rc == 0)
                rc = mpimap_strv_push(&j->argv, j->spec);
        }
    }
    if (rc == 0 && !(j->command = mpimap_shell_join((const char *const *)j->argv.v)))
        rc = MPIMAP_ENOMEM;
    free(error);
    free(worker);
    mpimap_strv_free(&env);
    return rc;
}

static int spawn(mpimap_job *j, const struct mpimap_plugin *launcher)
{
    const struct mpimap_launcher_ops *ops = launcher->ops;
    fflush(NULL);
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
    int e = posix_spawnp(&j->pid, j->argv.v[0], &fa, &at, j->argv.v, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (e != 0)
        return job_fail(j, MPIMAP_ELAUNCH, "cannot start %s: %s", j->argv.v[0], strerror(e));
    j->running = 1;
    return 0;
}

int mpimap_driver_start(const mpimap_ezmap_options *o,
                        const struct mpimap_driver_extra *x, const mpimap_item *items,
                        size_t nitems, mpimap_job **out)
{
    *out = NULL;
    if (!o)
        return MPIMAP_EINVAL;
    mpimap_job *j = calloc(1, sizeof *j);
    if (!j)
        return MPIMAP_ENOMEM;
    *out = j;
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
    const struct mpimap_plugin *strategy = NULL, *launcher = NULL;
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
    if ((rc = pick_launcher(j, reg, o->launcher, &launcher)) < 0)
        goto out;

    /* The job directory. */
    const char *base = o->workdir;
    if (!base || !*base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    char *abase = absolute(base);
    if (!abase || asprintf(&j->dir, "%s/mpimap-XXXXXX", abase) < 0) {
        free(abase);
        j->dir = NULL;
        rc = job_fail(j, MPIMAP_ENOMEM, "out of memory");
        goto out;
    }
    free(abase);
    if (!mkdtemp(j->dir)) {
        rc = job_fail(j, MPIMAP_EIO, "cannot create a job directory in '%s': %s", base,
                      strerror(errno));
        free(j->dir);
        j->dir = NULL;
        goto out;
    }
    j->spec = path_join(j->dir, "spec");
    j->results = path_join(j->dir, "results");
    if (!j->spec || !j->results) {
        rc = job_fail(j, MPIMAP_ENOMEM, "out of memory");
        goto out;
    }

    /* The spec. */
    struct mpimap_jobspec s;
    memset(&s, 0, sizeof s);
    char *input = NULL;
    if (o->input && strcmp(o->input, "-") != 0) {
        input = realpath(o->input, NULL);
        if (!input) {
            rc = job_fail(j, MPIMAP_ENOTFOUND, "cannot open input '%s': %s", o->input,
                          strerror(errno));
            goto out;
        }
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
            goto out;
        }
    }
    if (o->output && !(j->output = absolute(o->output)))
        rc = MPIMAP_ENOMEM;
    if (o->joblog)
        j->joblog = absolute(o->joblog);
    else if (j->in_memory)
        j->joblog = path_join(j->dir, "joblog");
    char *cwd = getcwd(NULL, 0);
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
    if (rc < 0)
        goto out;
    if (o->progress) {
        char *p = path_join(j->dir, "progress");
        int fd = p ? open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) : -1;
        if (fd >= 0)
            close(fd);
        free(p);
    }

    if ((rc = render(j, launcher, o, np)) < 0)
        goto out;
    if (x && x->dry_run) {
        j->keep_dir = 1;
        j->finished = 1;
        goto out;
    }
    rc = spawn(j, launcher);
out:
    if (rc < 0 && j->dir)
        j->keep_dir = 0;
    mpimap_registry_close(reg);
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
            if (sscanf(line, "%" SCNu64 "\t%*d\t%*f\t%*f\t%15[a-z]\t%n", &idx, status, &off) ==
                    2 &&
                off > 0 && strcmp(status, "failed") == 0 && idx < j->nitems) {
                out[idx].status = MPIMAP_EITEMS;
                free(out[idx].reason);
                out[idx].reason = strdup(line + off);
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

static int collect(mpimap_job *j, int wstatus)
{
    j->running = 0;
    j->finished = 1;
    if (j->cancelled) {
        keep_partial(j);
        j->keep_dir = 1;
        return job_fail(j, MPIMAP_ECANCELED,
                        "cancelled; results finished so far are in %s/results.partial", j->dir);
    }
    if (read_status(j) < 0) {
        keep_partial(j);
        j->keep_dir = 1;
        char how[64];
        if (WIFSIGNALED(wstatus))
            snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(wstatus));
        else
            snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(wstatus));
        char *crash = crash_reports(j);
        int rc;
        if (crash)
            rc = job_fail(j, MPIMAP_ECRASH,
                          "%s; the job was stopped (%s: %s). Results finished before "
                          "are in %s/results.partial",
                          crash, j->launcher, how, j->dir);
        else
            rc = job_fail(j, MPIMAP_ELAUNCH,
                          "the job ended without finishing the map (%s: %s); job "
                          "directory kept: %s",
                          j->launcher, how, j->dir);
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

int mpimap_ezmap_poll(mpimap_job *j)
{
    if (!j)
        return MPIMAP_EINVAL;
    if (j->finished || !j->running)
        return j->rc;
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
    if (j->finished || !j->running)
        return j->rc;
    int st;
    pid_t p;
    while ((p = waitpid(j->pid, &st, 0)) < 0 && errno == EINTR)
        ;
    if (p < 0)
        return job_fail(j, MPIMAP_ELAUNCH, "waitpid: %s", strerror(errno));
    return collect(j, st);
}

int mpimap_ezmap_cancel(mpimap_job *j)
{
    if (!j)
        return MPIMAP_EINVAL;
    if (!j->running)
        return 0;
    j->cancelled = 1;
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
    if (j->running)
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
