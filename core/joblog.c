/* SPDX-License-Identifier: BSD-3-Clause */
/* joblog.c - the joblog's lines (joblog.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/mpimap.h>

#include "joblog.h"
#include "journal.h"

static const char header[] = "index\trank\tstart\tduration\tstatus\treason";

void mpimap_one_line(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
            s[i] = ' ';
}

int mpimap_joblog_open(mpimap_joblog *log, const char *path, char **error)
{
    memset(log, 0, sizeof *log);
    int rc = mpimap_writer_open(&log->w, path, MPIMAP_FRAME_LINE);
    if (rc == 0)
        rc = mpimap_writer_put(log->w, header, strlen(header));
    if (rc < 0 && error)
        *error = strdup(log->w && mpimap_writer_error(log->w) ? mpimap_writer_error(log->w)
                                                               : mpimap_strerror(rc));
    return rc;
}

int mpimap_joblog_put(mpimap_joblog *log, uint64_t index, int rank, double start,
                      double duration, int status, const void *reason, size_t len)
{
    static const char *const words[] = {"ok", "failed", "died"};
    size_t rlen = status == MPIMAP_JOURNAL_OK ? 0 : len;
    if (rlen > SIZE_MAX - 160)
        return MPIMAP_ENOMEM;
    size_t need = rlen + 160;
    if (need > log->cap) {
        char *p = realloc(log->line, need);
        if (!p)
            return MPIMAP_ENOMEM;
        log->line = p;
        log->cap = need;
    }
    int n = snprintf(log->line, log->cap, "%" PRIu64 "\t%d\t%.6f\t%.6f\t%s\t", index, rank,
                     start, duration, status >= 0 && status <= 2 ? words[status] : "?");
    if (n < 0 || (size_t)n >= log->cap)
        return MPIMAP_EIO;
    if (rlen)
        memcpy(log->line + n, reason, rlen);
    mpimap_one_line(log->line + n, rlen);
    return mpimap_writer_put(log->w, log->line, (size_t)n + rlen);
}

int mpimap_joblog_commit(mpimap_joblog *log) { return mpimap_writer_commit(log->w); }

const char *mpimap_joblog_error(const mpimap_joblog *log)
{
    return log->w ? mpimap_writer_error(log->w) : NULL;
}

void mpimap_joblog_close(mpimap_joblog *log)
{
    mpimap_writer_close(log->w);
    free(log->line);
    memset(log, 0, sizeof *log);
}
