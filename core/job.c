/* SPDX-License-Identifier: BSD-3-Clause */
/* job.c - run the map a job directory describes: set up the handler, the
 * strategy, the input, the output, the journal and the joblog on every
 * rank, run the engine (again for retries), and leave the status for the
 * driver. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "assemble.h"
#include "crash.h"
#include "engine.h"
#include "handler_cmd.h"
#include "handler_fn.h"
#include "job.h"
#include "joblog.h"
#include "jobspec.h"
#include "journal.h"
#include "ledger.h"
#include "records.h"
#include "registry.h"
#include "report.h"
#include "watchdog.h"

#define MAX_LISTED_FAILURES 100
#define PROGRESS_INTERVAL 0.25
#define JOURNAL_INTERVAL 0.1
/* Item durations, for the median the driver's watchdog line compares with:
 * buckets a quarter of an octave wide from 1 us. */
#define NBUCKETS 160

struct failure {
    uint64_t index;
    int rank;
    char *reason;
};

/* Which items a pass over the input runs. */
enum pass_mode {
    PASS_ALL,     /* the first run: every item, results streamed out */
    PASS_RESUME,  /* those without an outcome (and the failed, with retry_failed) */
    PASS_RETRY,   /* those that failed and have retries left */
};

struct job {
    struct mpimap_jobspec spec;
    char *dir;                 /* the job directory */
    int rank;
    /* root only */
    mpimap_reader *in;
    mpimap_writer *out;        /* streamed results (PASS_ALL) */
    mpimap_joblog log;         /* streamed joblog (PASS_ALL) */
    int have_log;
    mpimap_journal *journal;
    mpimap_ledger ledger;
    int lock_fd;
    /* the pass being run */
    enum pass_mode mode;
    mpimap_index_runs runs;    /* the items of the pass (not PASS_ALL) */
    size_t cap_runs;
    uint64_t npass;            /* items in the pass (UINT64_MAX: to the end) */
    uint64_t pos;              /* pass index of the next item read (root) */
    size_t rk;                 /* the run it is in */
    uint64_t nitems;           /* items in the input (after the first pass) */
    int assemble;              /* results come from the journals at the end */
    uint64_t prior;            /* items with an outcome before this run */
    uint64_t reopened;         /* of the outcomes since, those retried (progress) */
    uint64_t done, failed, total;
    struct failure failures[MAX_LISTED_FAILURES];
    size_t nfailures;
    uint32_t buckets[NBUCKETS];
    int progress_fd;
    double t0, last_tick;
    double unclocked; /* item time since the clock was last read in sink_put_set */
    /* The progress file is written by the map thread (every
     * PROGRESS_INTERVAL) and by the journal's flusher (as results become
     * durable, which a long item's result does only after the map thread
     * has passed): the lock and what the map thread saw last. */
    pthread_mutex_t progress_lock;
    uint64_t seen_failed;
    double seen_median;
    mpimap_report report;      /* per rank counts, the slowest items */
    /* handlers */
    mpimap_fn_handler fn;
    mpimap_cmd *cmd;
};

/* ---- source: the input, less what is done ------------------------------- */

static int pass_runs(const struct job *j, uint64_t idx)
{
    const mpimap_ledger *L = &j->ledger;
    switch (j->mode) {
    case PASS_ALL:
        return 1;
    case PASS_RESUME: {
        int o = mpimap_ledger_outcome(L, idx);
        return o == MPIMAP_LEDGER_NONE || (o == MPIMAP_LEDGER_FAILED && j->spec.retry_failed);
    }
    case PASS_RETRY:
        return idx < L->n && (L->st[idx] & 3) == MPIMAP_LEDGER_FAILED &&
               mpimap_ledger_failures(L, idx) <= j->spec.retries;
    }
    return 0;
}

static int src_next(void *self, const void **data, size_t *len)
{
    struct job *j = self;
    if (j->mode == PASS_ALL)
        return mpimap_reader_next(j->in, data, len);
    const mpimap_index_runs *r = &j->runs;
    for (;;) {
        if (j->pos >= j->npass || !r->n)
            return 0;
        while (j->rk + 1 < r->n && r->first[j->rk + 1] <= j->pos)
            j->rk++;
        uint64_t want = r->start[j->rk] + (j->pos - r->first[j->rk]);
        uint64_t idx = mpimap_reader_index(j->in);
        int rc = mpimap_reader_next(j->in, data, len);
        if (rc <= 0)
            return rc;
        if (idx == want) {
            j->pos++;
            return 1;
        }
    }
}

/* The whole input is read: items straight from the reader's buffer. */
static int src_peek(void *self, const unsigned char **data, size_t *len, int *sep)
{
    struct job *j = self;
    return j->mode == PASS_ALL && mpimap_reader_peek(j->in, data, len, sep);
}

static void src_consume(void *self, size_t nbytes, uint64_t nitems)
{
    struct job *j = self;
    mpimap_reader_consume(j->in, nbytes, nitems);
}

static int src_rewind(void *self)
{
    struct job *j = self;
    j->pos = 0;
    j->rk = 0;
    return mpimap_reader_rewind(j->in);
}

static const char *src_error(void *self) { return mpimap_reader_error(((struct job *)self)->in); }

/* The runs of the items the pass runs (root), from the ledger. */
static int push_run(struct job *j, uint64_t start, uint64_t first)
{
    mpimap_index_runs *r = &j->runs;
    if (r->n == j->cap_runs) {
        size_t ncap = j->cap_runs ? j->cap_runs * 2 : 64;
        uint64_t *s = realloc(r->start, ncap * sizeof *s);
        if (!s)
            return MPIMAP_ENOMEM;
        r->start = s;
        uint64_t *f = realloc(r->first, ncap * sizeof *f);
        if (!f)
            return MPIMAP_ENOMEM;
        r->first = f;
        j->cap_runs = ncap;
    }
    r->start[r->n] = start;
    r->first[r->n] = first;
    r->n++;
    return 0;
}

static int build_runs(struct job *j)
{
    mpimap_index_runs *r = &j->runs;
    r->n = 0;
    uint64_t pos = 0;
    int rc = 0;
    for (uint64_t i = 0; rc == 0 && i < j->ledger.n; i++) {
        if (!pass_runs(j, i))
            continue;
        if (!r->n || r->start[r->n - 1] + (pos - r->first[r->n - 1]) != i)
            rc = push_run(j, i, pos);
        pos++;
    }
    j->npass = pos;
    if (rc == 0 && j->mode == PASS_RESUME) {
        /* And every item past what the journals know. */
        if (!r->n || r->start[r->n - 1] + (pos - r->first[r->n - 1]) != j->ledger.n)
            rc = push_run(j, j->ledger.n, pos);
        j->npass = UINT64_MAX;
    }
    return rc;
}

/* Every rank gets the root's runs. */
static int share_runs(struct job *j, MPI_Comm comm)
{
    if (comm == MPI_COMM_NULL)
        return 0;
    uint64_t hdr[2] = {j->runs.n, j->npass};
    MPI_Bcast(hdr, 2, MPI_UINT64_T, 0, comm);
    if (j->rank != 0) {
        free(j->runs.start);
        free(j->runs.first);
        j->runs.n = (size_t)hdr[0];
        j->npass = hdr[1];
        j->runs.start = malloc((j->runs.n ? j->runs.n : 1) * sizeof(uint64_t));
        j->runs.first = malloc((j->runs.n ? j->runs.n : 1) * sizeof(uint64_t));
        if (!j->runs.start || !j->runs.first)
            MPI_Abort(comm, 1);
    }
    for (uint64_t off = 0; off < hdr[0];) {
        int n = hdr[0] - off > (1u << 26) ? 1 << 26 : (int)(hdr[0] - off);
        MPI_Bcast(j->runs.start + off, n, MPI_UINT64_T, 0, comm);
        MPI_Bcast(j->runs.first + off, n, MPI_UINT64_T, 0, comm);
        off += (uint64_t)n;
    }
    return 0;
}

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

/* ---- progress ------------------------------------------------------------ */

static void note_duration(struct job *j, double d)
{
    int b = 0;
    if (d > 1e-6) {
        double x = d / 1e-6;
        while (x >= 1.189207115 && b < NBUCKETS - 1) { /* 2^(1/4) */
            x /= 1.189207115;
            b++;
        }
    }
    j->buckets[b]++;
}

static double median_duration(const struct job *j)
{
    uint64_t n = 0, seen = 0;
    for (int b = 0; b < NBUCKETS; b++)
        n += j->buckets[b];
    if (!n)
        return 0;
    double upper = 1e-6;
    for (int b = 0; b < NBUCKETS; b++, upper *= 1.189207115)
        if ((seen += j->buckets[b]) * 2 >= n)
            return upper;
    return upper;
}

/* "done failed total elapsed median\n" (job.h), progress_lock held. */
static void put_progress(struct job *j, uint64_t done, double now)
{
    char buf[160];
    int n = snprintf(buf, sizeof buf, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %.3f %.6f\n", done,
                     j->seen_failed, j->total, now - j->t0, j->seen_median);
    if (n > 0 && pwrite(j->progress_fd, buf, (size_t)n, 0) == n) {
        if (ftruncate(j->progress_fd, n) != 0) {
            /* progress is best effort */
        }
    }
}

/* The map thread: what it has seen, and the items durable (or done). */
static void write_progress(struct job *j, double now)
{
    if (j->progress_fd < 0)
        return;
    pthread_mutex_lock(&j->progress_lock);
    j->seen_failed = j->failed;
    j->seen_median = median_duration(j);
    put_progress(j, j->prior + (j->journal ? mpimap_journal_durable(j->journal) : j->done) -
                        j->reopened,
                 now);
    pthread_mutex_unlock(&j->progress_lock);
}

/* The journal's flusher: more items are durable. */
static void durable_progress(void *arg, uint64_t durable)
{
    struct job *j = arg;
    pthread_mutex_lock(&j->progress_lock);
    put_progress(j, j->prior + durable - j->reopened, mpimap_now());
    pthread_mutex_unlock(&j->progress_lock);
}

/* A retry round runs n failed items again: until they end anew, they are
 * neither done nor failed (each of their attempts is durable in the journal,
 * and counting them all took the progress past the total). */
static void reopen(struct job *j, uint64_t n)
{
    pthread_mutex_lock(&j->progress_lock);
    j->reopened += n;
    j->failed -= n < j->failed ? n : j->failed;
    j->seen_failed = j->failed;
    pthread_mutex_unlock(&j->progress_lock);
}

/* ---- sink: journal, output, joblog, failures, progress -------------------- */

static int note_failure(struct job *j, uint64_t index, int rank, const void *why, size_t len)
{
    if (j->nfailures >= MAX_LISTED_FAILURES)
        return 0;
    struct failure *f = &j->failures[j->nfailures];
    f->reason = strndup(why, len);
    if (!f->reason)
        return MPIMAP_ENOMEM;
    mpimap_one_line(f->reason, strlen(f->reason));
    f->index = index;
    f->rank = rank;
    j->nfailures++;
    return 0;
}

static int assembled_failure(void *ctx, uint64_t index, int rank, const void *why, size_t len)
{
    return note_failure(ctx, index, rank, why, len);
}

/* A result reaches the root, in a pass over part of the input: into the
 * journal and the ledger. */
static int sink_arrive(void *self, const mpimap_done *d)
{
    struct job *j = self;
    uint64_t idx = d->index;
    int st = d->status == MPIMAP_ITEM_OK ? MPIMAP_JOURNAL_OK : MPIMAP_JOURNAL_FAILED;
    int rc = 0;
    if (st != MPIMAP_JOURNAL_OK || idx < j->ledger.n)
        rc = mpimap_ledger_note(&j->ledger, idx, st);
    if (rc == 0)
        rc = mpimap_journal_add(j->journal, idx, st, d->rank, d->start, d->duration, d->data,
                                d->len);
    return rc;
}

/* A result set reaches the root, in the first pass (PASS_ALL): into the
 * journal whole (sink_put() notes its results in the ledger). */
static int sink_arrive_set(void *self, uint64_t index, const void *set, size_t len)
{
    struct job *j = self;
    return mpimap_journal_add_set(j->journal, index, set, len);
}

static int journal_failed(struct job *j)
{
    fprintf(stderr, "mpimap: cannot write the journal in %s: %s\n", j->dir, strerror(errno));
    return MPIMAP_EIO;
}

/* After a result set's arrivals: make the journal durable when it is time. */
static int sink_arrived(void *self)
{
    struct job *j = self;
    return mpimap_journal_sync(j->journal, 0) < 0 ? journal_failed(j) : 0;
}

/* A result in input order: the output (first pass), the report, progress. */
static int sink_put(void *self, const mpimap_done *d)
{
    struct job *j = self;
    uint64_t idx = d->index;
    int ok = d->status == MPIMAP_ITEM_OK;
    int rc = 0;
    if (j->mode == PASS_ALL) {
        const void *data = ok ? d->data : "";
        size_t len = ok ? d->len : 0;
        rc = j->spec.unordered ? mpimap_writer_put_indexed(j->out, idx, data, len)
                               : mpimap_writer_put(j->out, data, len);
        if (rc < 0) {
            fprintf(stderr, "mpimap: %s\n", mpimap_writer_error(j->out));
            return rc;
        }
        if (j->have_log &&
            (rc = mpimap_joblog_put(&j->log, idx, d->rank, d->start, d->duration,
                                    ok ? MPIMAP_JOURNAL_OK : MPIMAP_JOURNAL_FAILED, d->data,
                                    d->len)) < 0) {
            fprintf(stderr, "mpimap: joblog: %s\n", mpimap_joblog_error(&j->log)
                                                      ? mpimap_joblog_error(&j->log)
                                                      : mpimap_strerror(rc));
            return rc;
        }
    }
    /* The first pass's results went to the journal a set at a time
     * (sink_arrive_set()): to the ledger here, as sink_arrive() does. */
    if (j->journal && j->mode == PASS_ALL && (!ok || idx < j->ledger.n) &&
        (rc = mpimap_ledger_note(&j->ledger, idx,
                                 ok ? MPIMAP_JOURNAL_OK : MPIMAP_JOURNAL_FAILED)) < 0)
        return rc;
    j->done++;
    note_duration(j, d->duration);
    mpimap_report_note_slow(&j->report, d->rank, idx, d->duration);
    if (!ok) {
        j->failed++;
        j->report.failed++;
        if (!j->assemble && (rc = note_failure(j, idx, d->rank, d->data, d->len)) < 0)
            return rc;
    }
    return 0;
}

/* A result set's results have all been put: the report's spans, progress. */
static int sink_put_set(void *self, const mpimap_set_done *s)
{
    struct job *j = self;
    mpimap_report_add_span(&j->report, s->rank, s->count, s->start, s->end, s->busy);
    /* The clock once a millisecond of item time (the items' durations and
     * 100 ns of handling each) has passed: a read costs more than a
     * trivial item. */
    j->unclocked += s->busy + 1e-7 * (double)s->count;
    if (j->unclocked < 1e-3)
        return 0;
    j->unclocked = 0;
    double now = mpimap_now();
    if (now - j->last_tick >= PROGRESS_INTERVAL) {
        j->last_tick = now;
        if (!j->journal && j->out) {
            /* No journal (benchmarks): keep what is done on disk. */
            mpimap_writer_flush(j->out);
            if (j->have_log)
                mpimap_writer_flush(j->log.w);
        }
        write_progress(j, now);
    }
    return 0;
}

/* ---- the end -------------------------------------------------------------- */

static char *in_dir(const struct job *j, const char *name)
{
    char *p = NULL;
    return asprintf(&p, "%s/%s", j->dir, name) < 0 ? NULL : p;
}

static int write_status(struct job *j)
{
    char *path = in_dir(j, "status"), *tmp = in_dir(j, "status.tmp");
    int rc = 0;
    FILE *f = path && tmp ? fopen(tmp, "w") : NULL;
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
        fprintf(stderr, "mpimap: cannot write '%s': %s\n", path ? path : "status",
                strerror(errno));
        if (tmp)
            unlink(tmp);
    }
    free(tmp);
    free(path);
    return rc;
}

/* The report, for `mpimap run --report` (report.h). */
static int write_report(struct job *j)
{
    char *path = in_dir(j, "report");
    if (!path)
        return MPIMAP_ENOMEM;
    int rc = mpimap_report_save(&j->report, path);
    if (rc < 0)
        fprintf(stderr, "mpimap: cannot write '%s': %s\n", path,
                rc == MPIMAP_EIO ? strerror(errno) : mpimap_strerror(rc));
    free(path);
    return rc;
}

/* The map failed for a reason of its own (not a dead rank): tell the
 * driver not to restart it. */
static void write_error(struct job *j, int rc)
{
    char *path = in_dir(j, "error");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) {
        fprintf(f, "%s\n", mpimap_strerror(rc));
        fclose(f);
    }
    free(path);
}

/* The results and the joblog from the journals (after a resume or retries). */
static int assemble_results(struct job *j)
{
    mpimap_writer_close(j->out);
    j->out = NULL;
    if (j->have_log)
        mpimap_joblog_close(&j->log);
    for (size_t i = 0; i < j->nfailures; i++)
        free(j->failures[i].reason);
    j->nfailures = 0;
    char *error = NULL;
    int rc = mpimap_writer_open(&j->out, j->spec.output, j->spec.framing);
    if (rc < 0)
        error = strdup(j->out ? mpimap_writer_error(j->out) : mpimap_strerror(rc));
    if (rc == 0 && j->have_log)
        rc = mpimap_joblog_open(&j->log, j->spec.joblog, &error);
    uint64_t failed = 0;
    if (rc == 0)
        rc = mpimap_assemble(j->dir, j->nitems, j->spec.unordered, j->out,
                             j->have_log ? &j->log : NULL, assembled_failure, j, &failed,
                             &error);
    if (rc < 0) {
        fprintf(stderr, "mpimap: %s\n", error ? error : mpimap_strerror(rc));
        free(error);
        return rc;
    }
    j->done = j->nitems; /* every item, those of earlier runs too */
    j->failed = failed;
    j->prior = j->reopened = 0;
    return 0;
}

static int finish(struct job *j)
{
    int rc = 0;
    if (j->journal) {
        rc = mpimap_journal_close(j->journal);
        j->journal = NULL;
        if (rc < 0)
            return journal_failed(j);
    }
    if (j->assemble && (rc = assemble_results(j)) < 0)
        return rc;
    write_progress(j, mpimap_now());
    if ((rc = mpimap_writer_commit(j->out)) < 0) {
        fprintf(stderr, "mpimap: %s\n", mpimap_writer_error(j->out));
        return rc;
    }
    if (j->have_log && (rc = mpimap_joblog_commit(&j->log)) < 0) {
        fprintf(stderr, "mpimap: %s\n", mpimap_joblog_error(&j->log));
        return rc;
    }
    if ((rc = write_report(j)) == 0)
        rc = write_status(j);
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

/* One run of a job at a time: the root holds JOBDIR/lock while it runs. */
static int take_lock(struct job *j, char **error)
{
    char *path = in_dir(j, "lock");
    if (!path)
        return MPIMAP_ENOMEM;
    j->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int rc = 0;
    if (j->lock_fd < 0 || flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = MPIMAP_EBUSY;
        if (asprintf(error, "the job in %s is already running", j->dir) < 0)
            *error = NULL;
    }
    free(path);
    return rc;
}

/* The journal this run writes: the next free journal.K. */
static int open_journal(struct job *j, char **error)
{
    double interval = j->spec.journal_ms ? (double)j->spec.journal_ms / 1000 : JOURNAL_INTERVAL;
    for (int k = j->ledger.njournals;; k++) {
        char *path = mpimap_journal_path(j->dir, k);
        if (!path)
            return MPIMAP_ENOMEM;
        int rc = mpimap_journal_create(&j->journal, path, interval);
        int e = errno;
        if (rc < 0 && e == EEXIST) {
            free(path);
            continue;
        }
        if (rc < 0 && asprintf(error, "cannot create the journal '%s': %s", path,
                               strerror(e)) < 0)
            *error = NULL;
        free(path);
        return rc;
    }
}

static int setup_root(struct job *j, char **error)
{
    struct mpimap_jobspec *s = &j->spec;
    int rc = take_lock(j, error);
    if (rc < 0)
        return rc;
    if ((rc = mpimap_ledger_load(&j->ledger, j->dir, error)) < 0)
        return rc;
    if (j->ledger.njournals) {
        j->mode = PASS_RESUME;
        j->assemble = 1;
        for (uint64_t i = 0; i < j->ledger.n; i++)
            j->prior += mpimap_ledger_outcome(&j->ledger, i) != MPIMAP_LEDGER_NONE &&
                        !(s->retry_failed &&
                          mpimap_ledger_outcome(&j->ledger, i) == MPIMAP_LEDGER_FAILED);
    }
    if (!s->no_journal && (rc = open_journal(j, error)) < 0)
        return rc;
    rc = mpimap_reader_open(&j->in, s->input, s->framing);
    if (rc < 0) {
        *error = strdup(j->in ? mpimap_reader_error(j->in) : mpimap_strerror(rc));
        return rc;
    }
    if (j->mode == PASS_ALL) {
        rc = mpimap_writer_open(&j->out, s->output, s->framing);
        if (rc < 0) {
            *error = strdup(j->out ? mpimap_writer_error(j->out) : mpimap_strerror(rc));
            return rc;
        }
        if (s->joblog && (rc = mpimap_joblog_open(&j->log, s->joblog, error)) < 0)
            return rc;
    }
    j->have_log = s->joblog != NULL;
    j->progress_fd = -1;
    char *ppath = in_dir(j, "progress");
    if (!ppath)
        return MPIMAP_ENOMEM;
    if (access(ppath, F_OK) == 0)
        j->progress_fd = open(ppath, O_WRONLY | O_CLOEXEC);
    if (j->progress_fd >= 0 && s->count) {
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
    if (j->progress_fd >= 0 && j->journal)
        mpimap_journal_on_durable(j->journal, durable_progress, j);
    return 0;
}

static void job_free(struct job *j)
{
    mpimap_journal_close(j->journal);
    mpimap_ledger_free(&j->ledger);
    free(j->runs.start);
    free(j->runs.first);
    mpimap_reader_close(j->in);
    mpimap_writer_close(j->out);
    mpimap_joblog_close(&j->log);
    if (j->progress_fd >= 0)
        close(j->progress_fd);
    if (j->lock_fd >= 0)
        close(j->lock_fd);
    mpimap_report_free(&j->report);
    for (size_t i = 0; i < j->nfailures; i++)
        free(j->failures[i].reason);
    mpimap_fn_handler_close(&j->fn);
    mpimap_cmd_free(j->cmd);
    mpimap_jobspec_free(&j->spec);
    free(j->dir);
    pthread_mutex_destroy(&j->progress_lock);
}

/* ---- the passes ------------------------------------------------------------ */

/* Are there failed items with retries left? (root) */
static int retries_left(const struct job *j)
{
    if (!j->journal || j->spec.retries <= 0)
        return 0;
    for (uint64_t i = 0; i < j->ledger.n; i++)
        if ((j->ledger.st[i] & 3) == MPIMAP_LEDGER_FAILED &&
            mpimap_ledger_failures(&j->ledger, i) <= j->spec.retries)
            return 1;
    return 0;
}

/* Run the passes: the first (or the resumed) one, then retry rounds while
 * failed items have retries left. Collective. */
static int run_passes(struct job *j, MPI_Comm comm, const struct mpimap_plugin *strategy,
                      mpimap_handler *handler)
{
    /* The driver is watched from its own host only (a pid means nothing
     * elsewhere). */
    pid_t driver = 0;
    char host[256] = "";
    if (j->spec.driver_pid && j->spec.driver_host && gethostname(host, sizeof host - 1) == 0 &&
        strcmp(host, j->spec.driver_host) == 0)
        driver = (pid_t)j->spec.driver_pid;
    double timeout = j->spec.function_path ? (double)j->spec.timeout_ms / 1000 : 0;
    for (int pass = 0;; pass++) {
        int rc = 0;
        if (j->rank == 0) {
            j->runs.n = 0;
            j->pos = 0;
            j->rk = 0;
            if (j->mode != PASS_ALL && (rc = build_runs(j)) < 0)
                j->runs.n = 0;
            if (rc == 0 && j->mode == PASS_RETRY)
                reopen(j, j->npass);
            if (rc == 0 && pass > 0 && (rc = mpimap_reader_rewind(j->in)) < 0)
                fprintf(stderr, "mpimap: retries need a seekable input: %s\n",
                        mpimap_reader_error(j->in));
        }
        share_runs(j, comm);
        mpimap_engine e;
        mpimap_source src = {j, src_next, src_rewind, src_error, src_peek, src_consume};
        mpimap_sink sink = {j, sink_put, j->journal ? sink_arrive : NULL,
                            j->journal ? sink_arrived : NULL,
                            j->journal && j->mode == PASS_ALL ? sink_arrive_set : NULL,
                            sink_put_set};
        int irc = mpimap_engine_init(&e, comm, 0, j->spec.chunk, j->spec.unordered, &src,
                                     handler, &sink);
        if (rc == 0)
            rc = irc;
        e.runs = j->runs.n ? &j->runs : NULL;
        mpimap_watchdog *wd = NULL;
        if (rc == 0 && (rc = mpimap_watchdog_start(&wd, j->dir, j->rank, &e, timeout, driver)) == 0) {
            mpimap_crash_arm(j->dir, j->rank, &e.current);
            rc = mpimap_engine_execute(&e, strategy);
            mpimap_crash_disarm();
            mpimap_watchdog_stop(wd);
        }
        if (j->rank == 0 && pass == 0)
            j->nitems = mpimap_reader_index(j->in);
        mpimap_engine_destroy(&e);
        if (j->spec.retries <= 0)
            return rc;
        /* Another round? The root decides; everyone follows. */
        int again = rc == 0 && j->rank == 0 && retries_left(j);
        if (comm != MPI_COMM_NULL) {
            int worst = rc;
            MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, comm);
            MPI_Bcast(&again, 1, MPI_INT, 0, comm);
            rc = worst;
        }
        if (rc < 0 || !again)
            return rc;
        if (j->rank == 0) {
            if (mpimap_journal_sync(j->journal, 1) < 0)
                return journal_failed(j);
            j->mode = PASS_RETRY;
            j->assemble = 1;
        }
    }
}

int mpimap_job_run(const char *spec_path, MPI_Comm comm)
{
    struct job j;
    memset(&j, 0, sizeof j);
    j.progress_fd = -1;
    j.lock_fd = -1;
    pthread_mutex_init(&j.progress_lock, NULL);
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
    if (rc == 0 && j.spec.timeout_ms && j.cmd)
        mpimap_cmd_set_timeout(j.cmd, (double)j.spec.timeout_ms / 1000);
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
        j.t0 = j.last_tick = mpimap_now();
        rc = run_passes(&j, comm, strategy, &handler);
        if (j.rank == 0) {
            if (rc == 0)
                rc = finish(&j);
            if (rc == 0 && j.failed)
                rc = MPIMAP_EITEMS;
        }
    } else if (rc == 0) {
        rc = worst;
    }
    if (j.rank == 0 && rc < 0 && rc != MPIMAP_EITEMS)
        write_error(&j, rc);
    job_free(&j);
    mpimap_registry_close(reg);
    return rc;
}
