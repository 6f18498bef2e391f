/* SPDX-License-Identifier: BSD-3-Clause */
/* report.c - the map report: its file in the job directory (save, load),
 * the figures derived from it, and its table and JSON (format: report.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mpimap/mpimap.h>

#include "report.h"

#define MAX_RANKS (1 << 24)

int mpimap_report_init(mpimap_report *r, int ranks, const char *strategy)
{
    memset(r, 0, sizeof *r);
    if (ranks < 1 || ranks > MAX_RANKS)
        return MPIMAP_EINVAL;
    r->rank = calloc((size_t)ranks, sizeof *r->rank);
    r->strategy = strdup(strategy ? strategy : "");
    if (!r->rank || !r->strategy) {
        mpimap_report_free(r);
        return MPIMAP_ENOMEM;
    }
    r->ranks = ranks;
    return 0;
}

void mpimap_report_free(mpimap_report *r)
{
    free(r->rank);
    free(r->strategy);
    memset(r, 0, sizeof *r);
}

/* ---- the file ---------------------------------------------------------- */

static void save_to(FILE *f, const mpimap_report *r)
{
    fprintf(f, "mpimap-report 1\nstrategy %s\nranks %d\nitems %" PRIu64 "\nfailed %" PRIu64
               "\nspan %.6f %.6f\n",
            r->strategy ? r->strategy : "", r->ranks, r->items, r->failed, r->first, r->last);
    for (int k = 0; k < r->ranks; k++)
        fprintf(f, "rank %d %" PRIu64 " %.9f %.6f %.6f\n", k, r->rank[k].items, r->rank[k].busy,
                r->rank[k].first, r->rank[k].last);
    for (size_t i = 0; i < r->nslowest; i++)
        fprintf(f, "slowest %" PRIu64 " %d %.9f\n", r->slowest[i].index, r->slowest[i].rank,
                r->slowest[i].duration);
}

int mpimap_report_save(const mpimap_report *r, const char *path)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp", path) < 0)
        return MPIMAP_ENOMEM;
    int rc = 0;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        rc = MPIMAP_EIO;
    } else {
        save_to(f, r);
        if (fflush(f) != 0 || ferror(f))
            rc = MPIMAP_EIO;
        if (fclose(f) != 0)
            rc = MPIMAP_EIO;
        if (rc == 0 && rename(tmp, path) != 0)
            rc = MPIMAP_EIO;
        if (rc < 0) {
            int e = errno;
            unlink(tmp);
            errno = e;
        }
    }
    free(tmp);
    return rc;
}

/* One line of a report file; 0 or MPIMAP_EINVAL / MPIMAP_ENOMEM. */
static int load_line(mpimap_report *r, char *line)
{
    int k;
    uint64_t a;
    double b, c, d;
    if (!strncmp(line, "strategy ", 9)) {
        char *s = strdup(line + 9);
        if (!s)
            return MPIMAP_ENOMEM;
        free(r->strategy);
        r->strategy = s;
        return 0;
    }
    if (sscanf(line, "ranks %d", &k) == 1) {
        if (r->rank || k < 1 || k > MAX_RANKS)
            return MPIMAP_EINVAL;
        if (!(r->rank = calloc((size_t)k, sizeof *r->rank)))
            return MPIMAP_ENOMEM;
        r->ranks = k;
        return 0;
    }
    if (sscanf(line, "items %" SCNu64, &r->items) == 1 ||
        sscanf(line, "failed %" SCNu64, &r->failed) == 1 ||
        sscanf(line, "span %lf %lf", &r->first, &r->last) == 2)
        return 0;
    if (!strncmp(line, "rank ", 5)) {
        if (sscanf(line, "rank %d %" SCNu64 " %lf %lf %lf", &k, &a, &b, &c, &d) != 5 || k < 0 ||
            k >= r->ranks)
            return MPIMAP_EINVAL;
        r->rank[k] = (struct mpimap_report_rank){a, b, c, d};
        return 0;
    }
    if (!strncmp(line, "slowest ", 8)) {
        if (sscanf(line, "slowest %" SCNu64 " %d %lf", &a, &k, &b) != 3)
            return MPIMAP_EINVAL;
        if (r->nslowest < MPIMAP_REPORT_SLOWEST)
            r->slowest[r->nslowest++] = (struct mpimap_report_item){a, k, b};
        return 0;
    }
    return 0; /* a line of a later version */
}

int mpimap_report_load(mpimap_report *r, const char *path)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? MPIMAP_ENOTFOUND : MPIMAP_EIO;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0, lineno = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        if (lineno++ == 0)
            rc = !strcmp(line, "mpimap-report 1") ? 0 : MPIMAP_EINVAL;
        else
            rc = load_line(r, line);
    }
    if (rc == 0 && ferror(f))
        rc = MPIMAP_EIO;
    if (rc == 0 && (!r->rank || !r->strategy))
        rc = MPIMAP_EINVAL;
    free(line);
    fclose(f);
    return rc;
}

/* ---- figures ------------------------------------------------------------ */

void mpimap_report_figures(const mpimap_report *r, struct mpimap_report_figures *f)
{
    memset(f, 0, sizeof *f);
    f->makespan = r->items && r->last > r->first ? r->last - r->first : 0;
    for (int k = 0; k < r->ranks; k++) {
        const struct mpimap_report_rank *rk = &r->rank[k];
        f->busy += rk->busy;
        double gaps = rk->items ? rk->last - rk->first - rk->busy : 0;
        if (gaps > 0)
            f->dispatch += gaps;
    }
    double capacity = (double)r->ranks * f->makespan;
    f->idle = capacity > f->busy ? capacity - f->busy : 0;
    f->efficiency = capacity > 0 ? f->busy / capacity : -1;
    if (f->efficiency > 1) /* clock rounding on a map of one item */
        f->efficiency = 1;
    if (f->dispatch > f->idle)
        f->dispatch = f->idle;
    f->imbalance = f->idle - f->dispatch;
    f->dispatch_per_item = r->items ? f->dispatch / (double)r->items : 0;
}

static double rank_idle(const struct mpimap_report_figures *f,
                        const struct mpimap_report_rank *rk)
{
    return f->makespan > rk->busy ? f->makespan - rk->busy : 0;
}

/* ---- the table ---------------------------------------------------------- */

void mpimap_report_print(FILE *out, const mpimap_report *r)
{
    struct mpimap_report_figures f;
    mpimap_report_figures(r, &f);
    fprintf(out,
            "mpimap report: %" PRIu64 " items (%" PRIu64 " failed) on %d ranks, strategy %s\n"
            "  makespan %.6f s (first item's start to last item's end)\n"
            "  %6s %10s %12s %12s %7s\n",
            r->items, r->failed, r->ranks, r->strategy, f.makespan, "rank", "items", "busy s",
            "idle s", "busy %");
    for (int k = 0; k < r->ranks; k++) {
        const struct mpimap_report_rank *rk = &r->rank[k];
        fprintf(out, "  %6d %10" PRIu64 " %12.6f %12.6f", k, rk->items, rk->busy,
                rank_idle(&f, rk));
        if (f.makespan > 0)
            fprintf(out, " %7.1f\n", 100 * rk->busy / f.makespan);
        else
            fprintf(out, " %7s\n", "-");
    }
    if (f.efficiency >= 0)
        fprintf(out, "  efficiency  %.4f  (sum of item times / (ranks x makespan))\n",
                f.efficiency);
    else
        fprintf(out, "  efficiency  -  (no makespan)\n");
    fprintf(out,
            "  overhead    %.6f s = ranks x makespan - sum of item times:\n"
            "    dispatch  %.6f s, %.3f us per item (gaps between a rank's items)\n"
            "    imbalance %.6f s (ranks idle before their first or after their last item)\n",
            f.idle, f.dispatch, f.dispatch_per_item * 1e6, f.imbalance);
    if (r->nslowest) {
        fprintf(out, "  slowest items:\n  %12s %6s %12s\n", "index", "rank", "duration s");
        for (size_t i = 0; i < r->nslowest; i++)
            fprintf(out, "  %12" PRIu64 " %6d %12.6f\n", r->slowest[i].index,
                    r->slowest[i].rank, r->slowest[i].duration);
    }
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* Keys: version, strategy, ranks, items, failed, start, end (wall clock),
 * makespan, busy, idle, efficiency (null without a makespan), dispatch,
 * dispatch_per_item, imbalance (seconds), per_rank [{rank, items, busy,
 * idle}], slowest [{index, rank, duration}]. */
void mpimap_report_json(FILE *out, const mpimap_report *r)
{
    struct mpimap_report_figures f;
    mpimap_report_figures(r, &f);
    fputs("{\n  \"version\": 1,\n  \"strategy\": ", out);
    json_string(out, r->strategy);
    fprintf(out,
            ",\n  \"ranks\": %d,\n  \"items\": %" PRIu64 ",\n  \"failed\": %" PRIu64
            ",\n  \"start\": %.6f,\n  \"end\": %.6f,\n  \"makespan\": %.9g,\n"
            "  \"busy\": %.9g,\n  \"idle\": %.9g,\n",
            r->ranks, r->items, r->failed, r->first, r->last, f.makespan, f.busy, f.idle);
    if (f.efficiency >= 0)
        fprintf(out, "  \"efficiency\": %.6f,\n", f.efficiency);
    else
        fputs("  \"efficiency\": null,\n", out);
    fprintf(out,
            "  \"dispatch\": %.9g,\n  \"dispatch_per_item\": %.9g,\n  \"imbalance\": %.9g,\n"
            "  \"per_rank\": [",
            f.dispatch, f.dispatch_per_item, f.imbalance);
    for (int k = 0; k < r->ranks; k++) {
        const struct mpimap_report_rank *rk = &r->rank[k];
        fprintf(out, "%s\n    {\"rank\": %d, \"items\": %" PRIu64 ", \"busy\": %.9g, \"idle\": %.9g}",
                k ? "," : "", k, rk->items, rk->busy, rank_idle(&f, rk));
    }
    fputs("\n  ],\n  \"slowest\": [", out);
    for (size_t i = 0; i < r->nslowest; i++)
        fprintf(out, "%s\n    {\"index\": %" PRIu64 ", \"rank\": %d, \"duration\": %.9g}",
                i ? "," : "", r->slowest[i].index, r->slowest[i].rank, r->slowest[i].duration);
    fputs(r->nslowest ? "\n  ]\n}\n" : "]\n}\n", out);
}

int mpimap_report_json_file(const mpimap_report *r, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        FILE *f = fopen(path, "w");
        if (!f)
            return MPIMAP_EIO;
        mpimap_report_json(f, r);
        int bad = fflush(f) != 0 || ferror(f);
        int e = errno;
        if (fclose(f) != 0 && !bad) {
            bad = 1;
            e = errno;
        }
        errno = e;
        return bad ? MPIMAP_EIO : 0;
    }
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
        return MPIMAP_ENOMEM;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        errno = e;
        return MPIMAP_EIO;
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "w");
    int bad = !f;
    if (f) {
        mpimap_report_json(f, r);
        bad = fflush(f) != 0 || ferror(f);
    }
    int e = errno;
    if ((f ? fclose(f) : close(fd)) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (!bad && rename(tmp, path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad)
        unlink(tmp);
    free(tmp);
    errno = e;
    return bad ? MPIMAP_EIO : 0;
}
