/* SPDX-License-Identifier: BSD-3-Clause */
/* job.c - run the map a job directory describes: set up the handler, the
 * strategy, the input, the output and the joblog on every rank, run the
 * engine, and leave the status for the driver. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash.h"
#include "engine.h"
#include "handler_cmd.h"
#include "handler_fn.h"
#include "job.h"
#include "jobspec.h"
#include "records.h"
#include "registry.h"
#include "report.h"

#define MAX_LISTED_FAILURES 100
#define PROGRESS_INTERVAL 0.25

struct failure {
    uint64_t index;
    int rank;
    char *reason;
};

struct job {
    struct mpimap_jobspec spec;
    char *dir;                 /* the job directory */
    int rank;
    /* root only */
    mpimap_reader *in;
    mpimap_writer *out;
    mpimap_writer *log;
    char *line;                /* joblog line buffer */
    size_t linecap;
    uint64_t done, failed, total;
    struct failure failures[MAX_LISTED_FAILURES];
    size_t nfailures;
    int progress_fd;
    double t0, last_tick;
    mpimap_report report;      /* per rank counts, the slowest items */
    /* handlers */
    mpimap_fn_handler fn;
    mpimap_cmd *cmd;
};

/* ---- source: the records reader ---------------------------------------- */

static int src_next(void *self, const void **data, size_t *len)
{
    return mpimap_reader_next(self, data, len);
}
static int src_rewind(void *self) { return mpimap_reader_rewind(self); }
static const char *src_error(void *self) { return mpimap_reader_error(self); }

/* ---- handler: command -------------------------------------------------- */

static int cmd_run(void *self, const mpimap_item *item, mpimap_result *res)
{
    char *reason = NULL;
    int rc = mpimap_cmd_run(self, item->data, item->len, res->buf, &reason);
    if (rc < 0) {
        res->oom = 1;
        free(reason);
        return rc;
    }
    if (rc > 0) {
        res->failed = 1;
        res->reason = reason;
    }
    return rc;
}

/* ---- sink: output, joblog, failures, progress ---------------------------- */

/* A reason on one line, tabs and newlines as spaces. */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t')
            *s = ' ';
}

static void write_progress(struct job *j, double now)
{
    if (j->progress_fd < 0)
        return;
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %.3f\n",
                     j->done, j->failed, j->total, now - j->t0);
    if (n > 0 && pwrite(j->progress_fd, buf, (size_t)n, 0) == n) {
        if (ftruncate(j->progress_fd, n) != 0) {
            /* progress is best effort */
        }
    }
}

static int joblog_put(struct job *j, const mpimap_done *d)
{
    const char *status = d->status == MPIMAP_ITEM_OK ? "ok" : "failed";
    size_t rlen = d->status == MPIMAP_ITEM_OK ? 0 : d->len;
    size_t need = rlen + 128;
    if (need > j->linecap) {
        char *p = realloc(j->line, need);
        if (!p)
            return MPIMAP_ENOMEM;
        j->line = p;
        j->linecap = need;
    }
    int n = snprintf(j->line, j->linecap, "%" PRIu64 "\t%d\t%.6f\t%.6f\t%s\t", d->index,
                     d->rank, d->start, d->duration, status);
    if (n < 0)
        return MPIMAP_EIO;
    memcpy(j->line + n, d->data, rlen);
    j->line[n + rlen] = '\0';
    one_line(j->line + n);
    return mpimap_writer_put(j->log, j->line, (size_t)n + rlen);
}

static int sink_put(void *self, const mpimap_done *d)
{
    struct job *j = self;
    int ok = d->status == MPIMAP_ITEM_OK;
    const void *data = ok ? d->data : "";
    size_t len = ok ? d->len : 0;
    int rc = j->spec.unordered ? mpimap_writer_put_indexed(j->out, d->index, data, len)
                               : mpimap_writer_put(j->out, data, len);
    if (rc < 0) {
        fprintf(stderr, "mpimap: %s\n", mpimap_writer_error(j->out));
        return rc;
    }
    if (j->log && (rc = joblog_put(j, d)) < 0) {
        fprintf(stderr, "mpimap: joblog: %s\n", mpimap_writer_error(j->log)
                                                    ? mpimap_writer_error(j->log)
                                                    : mpimap_strerror(rc));
        return rc;
    }
    j->done++;
    mpimap_report_add(&j->report, d->rank, d->index, d->start, d->duration);
    if (!ok) {
        j->failed++;
        j->report.failed++;
        if (j->nfailures < MAX_LISTED_FAILURES) {
            struct failure *f = &j->failures[j->nfailures];
            f->reason = strndup(d->data, d->len);
            if (!f->reason)
                return MPIMAP_ENOMEM;
            one_line(f->reason);
            f->index = d->index;
            f->rank = d->rank;
            j->nfailures++;
        }
    }
    double now = mpimap_now();
    if (now - j->last_tick >= PROGRESS_INTERVAL) {
        j->last_tick = now;
        /* Keep what is done on disk, so a crash loses little. */
        mpimap_writer_flush(j->out);
        if (j->log)
            mpimap_writer_flush(j->log);
        write_progress(j, now);
    }
    return 0;
}

static int write_status(struct job *j)
{
    char *path = NULL, *tmp = NULL;
    if (asprintf(&path, "%s/status", j->dir) < 0)
        return MPIMAP_ENOMEM;
    if (asprintf(&tmp, "%s/status.tmp", j->dir) < 0) {
        free(path);
        return MPIMAP_ENOMEM;
    }
    int rc = 0;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        rc = MPIMAP_EIO;
    } else {
        fprintf(f, "items %" PRIu64 "\nfailed %" PRIu64 "\n", j->done, j->failed);
        for (size_t i = 0; i < j->nfailures; i++)
            fprintf(f, "failure %" PRIu64 " %d %s\n", j->failures[i].index,
                    j->failures[i].rank, j->failures[i].reason);
        if (fflush(f) != 0 || fsync(fileno(f)) != 0)
            rc = MPIMAP_EIO;
        if (fclose(f) != 0)
            rc = MPIMAP_EIO;
        if (rc == 0 && rename(tmp, path) != 0)
            rc = MPIMAP_EIO;
    }
    if (rc < 0) {
        fprintf(stderr, "mpimap: cannot write '%s': %s\n", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    free(path);
    return rc;
}

/* The report, for `mpimap run --report` (report.h). */
static int write_report(struct job *j)
{
    char *path = NULL;
    if (asprintf(&path, "%s/report", j->dir) < 0)
        return MPIMAP_ENOMEM;
    int rc = mpimap_report_save(&j->report, path);
    if (rc < 0)
        fprintf(stderr, "mpimap: cannot write '%s': %s\n", path,
                rc == MPIMAP_EIO ? strerror(errno) : mpimap_strerror(rc));
    free(path);
    return rc;
}

/* ---- set-up -------------------------------------------------------------- */

static int setup_handler(struct job *j, mpimap_handler *h, char **error)
{
    struct mpimap_jobspec *s = &j->spec;
    if (s->function_path) {
        int rc = mpimap_fn_handler_open(&j->fn, s->function_path, s->function_symbol,
                                        s->function_init, error);
        if (rc < 0)
            return rc;
        *h = (mpimap_handler){&j->fn, mpimap_fn_handler_run};
        return 0;
    }
    if (s->command.n == 0) {
        *error = strdup("the job spec names neither a function nor a command");
        return MPIMAP_EINVAL;
    }
    int rc = mpimap_cmd_new(&j->cmd, (const char *const *)s->command.v, s->shell,
                            s->colsep, s->framing == MPIMAP_FRAME_LINE, error);
    if (rc < 0)
        return rc;
    *h = (mpimap_handler){j->cmd, cmd_run};
    return 0;
}

static int setup_root(struct job *j, char **error)
{
    struct mpimap_jobspec *s = &j->spec;
    int rc = mpimap_reader_open(&j->in, s->input, s->framing);
    if (rc < 0) {
        *error = strdup(j->in ? mpimap_reader_error(j->in) : mpimap_strerror(rc));
        return rc;
    }
    rc = mpimap_writer_open(&j->out, s->output, s->framing);
    if (rc < 0) {
        *error = strdup(j->out ? mpimap_writer_error(j->out) : mpimap_strerror(rc));
        return rc;
    }
    if (s->joblog) {
        rc = mpimap_writer_open(&j->log, s->joblog, MPIMAP_FRAME_LINE);
        if (rc == 0)
            rc = mpimap_writer_put(j->log, "index\trank\tstart\tduration\tstatus\treason",
                                   strlen("index\trank\tstart\tduration\tstatus\treason"));
        if (rc < 0) {
            *error = strdup(j->log ? mpimap_writer_error(j->log) : mpimap_strerror(rc));
            return rc;
        }
    }
    j->progress_fd = -1;
    char *ppath = NULL;
    if (asprintf(&ppath, "%s/progress", j->dir) < 0)
        return MPIMAP_ENOMEM;
    if (access(ppath, F_OK) == 0) {
        j->progress_fd = open(ppath, O_WRONLY | O_CLOEXEC);
        /* Counting costs one pass over the input; only for a progress line. */
        uint64_t n = 0;
        const void *d;
        size_t l;
        int r;
        while ((r = mpimap_reader_next(j->in, &d, &l)) > 0)
            n++;
        if (r == 0 && mpimap_reader_rewind(j->in) == 0)
            j->total = n;
        else
            mpimap_reader_rewind(j->in); /* a malformed input is reported by the map */
    }
    free(ppath);
    return 0;
}

static void job_free(struct job *j)
{
    mpimap_reader_close(j->in);
    mpimap_writer_close(j->out);
    mpimap_writer_close(j->log);
    if (j->progress_fd >= 0)
        close(j->progress_fd);
    free(j->line);
    mpimap_report_free(&j->report);
    for (size_t i = 0; i < j->nfailures; i++)
        free(j->failures[i].reason);
    mpimap_fn_handler_close(&j->fn);
    mpimap_cmd_free(j->cmd);
    mpimap_jobspec_free(&j->spec);
    free(j->dir);
}

int mpimap_job_run(const char *spec_path, MPI_Comm comm)
{
    struct job j;
    memset(&j, 0, sizeof j);
    j.progress_fd = -1;
    int size = 1;
    if (comm != MPI_COMM_NULL) {
        MPI_Comm_rank(comm, &j.rank);
        MPI_Comm_size(comm, &size);
    }
    char *error = NULL;
    mpimap_registry *reg = NULL;
    const struct mpimap_plugin *strategy = NULL;
    mpimap_handler handler = {0};

    int rc = mpimap_jobspec_read(&j.spec, spec_path, &error);
    if (rc == 0) {
        const char *slash = strrchr(spec_path, '/');
        j.dir = slash ? strndup(spec_path, (size_t)(slash - spec_path)) : strdup(".");
        if (!j.dir)
            rc = MPIMAP_ENOMEM;
    }
    if (rc == 0 && j.spec.workdir && chdir(j.spec.workdir) != 0) {
        rc = MPIMAP_EIO;
        if (asprintf(&error, "cannot change to directory '%s': %s", j.spec.workdir,
                     strerror(errno)) < 0)
            error = NULL;
    }
    if (rc == 0)
        rc = mpimap_registry_open(&reg);
    if (rc == 0)
        rc = mpimap_registry_find(reg, MPIMAP_KIND_STRATEGY,
                                  j.spec.strategy ? j.spec.strategy : "pool", &strategy,
                                  &error);
    if (rc == 0)
        rc = setup_handler(&j, &handler, &error);
    if (rc == 0 && j.rank == 0)
        rc = setup_root(&j, &error);
    if (rc == 0 && j.rank == 0)
        rc = mpimap_report_init(&j.report, size, j.spec.strategy ? j.spec.strategy : "pool");

    /* Every rank reports its own set-up failure once (the root's is the
     * usual one); then all agree before the first message of the map. */
    if (rc < 0 && (j.rank == 0 || size > 1))
        fprintf(stderr, "mpimap: %s%s\n", size > 1 && j.rank ? "a worker rank: " : "",
                error ? error : mpimap_strerror(rc));
    free(error);
    int worst = rc;
    if (comm != MPI_COMM_NULL)
        MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, comm);

    if (worst == 0) {
        mpimap_engine e;
        mpimap_source src = {j.in, src_next, src_rewind, src_error};
        mpimap_sink sink = {&j, sink_put};
        rc = mpimap_engine_init(&e, comm, 0, j.spec.chunk, j.spec.unordered, &src,
                                &handler, &sink);
        if (rc == 0) {
            j.t0 = j.last_tick = mpimap_now();
            mpimap_crash_arm(j.dir, j.rank, &e.current);
            rc = mpimap_engine_execute(&e, strategy);
            mpimap_crash_disarm();
            mpimap_engine_destroy(&e);
        }
        if (j.rank == 0) {
            write_progress(&j, mpimap_now());
            if (rc == 0) {
                rc = mpimap_writer_commit(j.out);
                if (rc < 0)
                    fprintf(stderr, "mpimap: %s\n", mpimap_writer_error(j.out));
            }
            if (rc == 0 && j.log && (rc = mpimap_writer_commit(j.log)) < 0)
                fprintf(stderr, "mpimap: %s\n", mpimap_writer_error(j.log));
            if (rc == 0)
                rc = write_report(&j);
            if (rc == 0)
                rc = write_status(&j);
            if (rc == 0 && j.failed)
                rc = MPIMAP_EITEMS;
        }
    } else if (rc == 0) {
        rc = worst;
    }
    job_free(&j);
    mpimap_registry_close(reg);
    return rc;
}
