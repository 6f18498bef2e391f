/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sge.c - the Grid Engine launcher (SGE, Son of Grid Engine, OGS, Univa:
 * qsub with a parallel environment): renders a job script with "#$"
 * directives, and the qsub, qstat and qdel commands.
 *
 * Directives:
 *   -S /bin/bash           (queues default to csh and ignore the shebang)
 *   -pe PE NP*C            slots: one per cpu of every rank; PE is "mpi"
 *                          unless a --sched-arg '-pe NAME' names another
 *                          (the slot count always comes from -np)
 *   -l h_rt=H:MM:SS        walltime
 *   -N name  -q queue  -A account  -ar reservation (advance reservation id)
 *   -v VAR,...             VARs exported without a value (from qsub's
 *                          environment)
 *   -j y -o LOG
 * Not mapped, so errors: --nodes and --ppn (the PE's allocation_rule places
 * the slots; choose a PE with a fixed rule), --mem (per node; Grid Engine
 * limits memory per slot: --sched-arg '-l h_vmem=SIZE'), --qos.
 *
 * State: qstat -j ID, standard error merged. "job_state N: X" lines (X: r,
 * t, R*, s, S, T, d* running; E* failed: the job waits in an error state
 * until deleted), none: queued (or failed when an "error reason" line is
 * there). "Following jobs do not exist" means the job is over: done. A job
 * killed at its h_rt leaves qstat like any ended job: qstat cannot tell a
 * walltime kill (qacct could, later), so it is reported as done, and the
 * job directory then says the map did not finish.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>

#include "batchscript.h"
#include "resources.h"

#define NAME "sge"
#define PREFIX "#$"
#define DEFAULT_PE "mpi"

static int sge_query(void)
{
    return -1; /* a scheduler is named by the user, never picked by itself */
}

/* Is arg "-pe ..."? Then *pe (malloc'd) is NAME from "-pe NAME"; any other
 * form is an error. 1 = it was a -pe, 0 = not, < 0 = error. */
static int pe_arg(const char *arg, char **pe, char **error)
{
    const char *p = arg;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, "-pe", 3) != 0 || (p[3] && p[3] != ' ' && p[3] != '\t'))
        return 0;
    p += 3;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = 0;
    while (p[n] && p[n] != ' ' && p[n] != '\t')
        n++;
    const char *rest = p + n;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    int ok = n > 0 && !*rest;
    for (size_t i = 0; ok && i < n; i++) {
        char c = p[i];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '.' || c == '-' || c == '*';
    }
    if (!ok)
        return bs_fail(error, NAME ": --sched-arg '%s': name the parallel environment as "
                                   "'-pe NAME' (letters, digits, _ . - *); the slot count "
                                   "comes from -np",
                       arg);
    free(*pe);
    *pe = strndup(p, n);
    return *pe ? 1 : MPIMAP_ENOMEM;
}

static int sge_script(const struct mpimap_launch_spec *spec, char **text, char **error)
{
    if (!text)
        return bs_fail(error, NAME ": no place for the script");
    *text = NULL;
    int rc = bs_check_spec(NAME, spec, error);
    if (rc < 0)
        return rc;
    if (spec->nodes > 0)
        return bs_fail(error, NAME ": --nodes has no equivalent in Grid Engine (the "
                                   "parallel environment's allocation_rule places the "
                                   "slots: choose one with --sched-arg '-pe NAME')");
    if (spec->ppn > 0)
        return bs_fail(error, NAME ": --ppn has no equivalent in Grid Engine (the parallel "
                                   "environment's allocation_rule places the slots: choose "
                                   "one with --sched-arg '-pe NAME')");
    if (spec->mem)
        return bs_fail(error, NAME ": --mem (per node) has no equivalent in Grid Engine, "
                                   "which limits memory per slot (use --sched-arg "
                                   "'-l h_vmem=SIZE')");
    if (spec->qos)
        return bs_fail(error, NAME ": --qos has no equivalent in Grid Engine");
    if (spec->log_path && strpbrk(spec->log_path, ":$"))
        return bs_fail(error, NAME ": the log path '%s' holds ':' or '$', which qsub -o "
                                   "reads as HOST:PATH or a variable",
                       spec->log_path);
    char *pe = NULL;
    for (size_t i = 0; spec->sched_args && spec->sched_args[i]; i++)
        if ((rc = pe_arg(spec->sched_args[i], &pe, error)) < 0) {
            free(pe);
            return rc;
        }
    int cpus = spec->cpus_per_rank > 0 ? spec->cpus_per_rank : 1;
    if ((long long)spec->np * cpus > 0x7fffffff) {
        free(pe);
        return bs_fail(error, NAME ": %d ranks x %d cpus per rank is too many", spec->np,
                       cpus);
    }

    struct bs_text t = {0};
    bs_add(&t, "#!/bin/bash\n# mpimap job for Grid Engine: submit with qsub\n");
    bs_add(&t, PREFIX " -S /bin/bash\n");
    if (spec->job_name)
        bs_directive(&t, PREFIX, "-N", spec->job_name);
    bs_addf(&t, PREFIX " -pe %s %d\n", pe ? pe : DEFAULT_PE, spec->np * cpus);
    free(pe);
    if (spec->walltime > 0) {
        char *w = mpimap_format_walltime(spec->walltime);
        bs_add(&t, PREFIX " -l h_rt=");
        bs_add(&t, w);
        bs_add(&t, "\n");
        free(w);
    }
    if (spec->queue)
        bs_directive(&t, PREFIX, "-q", spec->queue);
    if (spec->account)
        bs_directive(&t, PREFIX, "-A", spec->account);
    if (spec->reservation)
        bs_directive(&t, PREFIX, "-ar", spec->reservation);
    int oom = 0;
    char *vars = bs_bare_exports(spec, &oom);
    if (oom)
        t.oom = 1;
    if (vars)
        bs_directive(&t, PREFIX, "-v", vars);
    free(vars);
    if (spec->log_path) {
        bs_directive(&t, PREFIX, "-j", "y");
        bs_directive(&t, PREFIX, "-o", spec->log_path);
    }
    for (size_t i = 0; spec->sched_args && spec->sched_args[i]; i++) {
        char *ignored = NULL;
        int is_pe = pe_arg(spec->sched_args[i], &ignored, NULL);
        free(ignored);
        if (is_pe < 0)
            t.oom = 1; /* checked above: only allocation can fail now */
        else if (!is_pe)
            bs_directive(&t, PREFIX, spec->sched_args[i], NULL);
    }
    bs_body(&t, spec, "SGE_O_WORKDIR");
    *text = bs_take(&t);
    return *text ? 0 : MPIMAP_ENOMEM;
}

static int sge_submit(const struct mpimap_launch_spec *spec, const char *script_path,
                      mpimap_strv *argv, char **error)
{
    (void)spec;
    if (!argv || !script_path || !*script_path || *script_path == '-')
        return bs_fail(error, NAME ": no script path to submit (or one starting with '-')");
    size_t n0 = argv->n;
    int rc = mpimap_strv_push(argv, "qsub");
    if (rc == 0)
        rc = mpimap_strv_push(argv, "-terse");
    if (rc == 0)
        rc = mpimap_strv_push(argv, script_path);
    if (rc < 0) {
        for (size_t i = n0; i < argv->n; i++) {
            free(argv->v[i]);
            argv->v[i] = NULL;
        }
        argv->n = n0;
    }
    return rc;
}

/* qsub -terse prints "1234" ("1234.1-10:1" for an array); without -terse
 * 'Your job 1234 ("name") has been submitted'. The id is the number. */
static int sge_parse_jobid(const char *out, char **jobid, char **error)
{
    *jobid = NULL;
    const char *p = out ? out : "";
    const char *your = strstr(p, "Your job ");
    if (your)
        p = your + 9;
    else
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
    size_t n = 0;
    while (p[n] >= '0' && p[n] <= '9')
        n++;
    if (n == 0)
        return bs_fail(error, NAME ": qsub printed no job id (it said: \"%.200s\")",
                       out ? out : "");
    *jobid = strndup(p, n);
    return *jobid ? 0 : MPIMAP_ENOMEM;
}

static int sge_query_job(const char *jobid, mpimap_strv *argv)
{
    static const char *const words[] = {"qstat", "-j", NULL};
    return bs_push_query(argv, words, jobid);
}

/* The state letters of the first "job_state    1:    r" line. */
static const char *job_state(const char *out, size_t *len)
{
    for (const char *line = out; line && *line;) {
        const char *end = strchr(line, '\n');
        while (*line == ' ' || *line == '\t')
            line++;
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n > 9 && strncmp(line, "job_state", 9) == 0 && (line[9] == ' ' || line[9] == '\t')) {
            const char *colon = memchr(line, ':', n);
            if (colon) {
                const char *v = colon + 1;
                while (*v == ' ' || *v == '\t')
                    v++;
                size_t vn = 0;
                while (v + vn < line + n && v[vn] != ' ' && v[vn] != '\t' && v[vn] != '\r')
                    vn++;
                *len = vn;
                return vn ? v : NULL;
            }
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

/* The value of the first line starting with key, after its "N:" or ":". */
static const char *line_value(const char *out, const char *key, size_t *len)
{
    size_t klen = strlen(key);
    for (const char *line = out; line && *line;) {
        const char *end = strchr(line, '\n');
        while (*line == ' ' || *line == '\t')
            line++;
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n > klen && strncmp(line, key, klen) == 0) {
            const char *colon = memchr(line + klen, ':', n - klen);
            if (colon) {
                *len = (size_t)(line + n - colon - 1);
                return colon + 1;
            }
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

static int sge_parse_state(int exit_status, const char *out, int *state, char **detail)
{
    *detail = NULL;
    if (!out)
        out = "";
    if (!bs_contains(out, "job_number:")) {
        if (bs_contains(out, "Following jobs do not exist")) {
            *state = MPIMAP_JOB_DONE;
            return 0;
        }
        return exit_status != 0 ? MPIMAP_EIO : MPIMAP_EINVAL;
    }
    size_t n = 0, vn = 0;
    const char *v;
    const char *st = job_state(out, &n);
    int error_state = st ? memchr(st, 'E', n) != NULL : 0;
    if (error_state || (!st && (v = line_value(out, "error reason", &vn)))) {
        *state = MPIMAP_JOB_FAILED;
        if ((v = line_value(out, "error reason", &vn)))
            return bs_detail_part(detail, "error state: ", v, vn);
        return bs_detail(detail, "error state (qstat -j tells why; qdel the job)");
    }
    if (!st) {
        *state = MPIMAP_JOB_QUEUED;
        return 0;
    }
    int running = 0;
    for (size_t i = 0; i < n; i++)
        if (strchr("rtRsSTd", st[i]))
            running = 1;
    *state = running ? MPIMAP_JOB_RUNNING : MPIMAP_JOB_QUEUED;
    if (running && (v = line_value(out, "exec_host_list", &vn)))
        return bs_detail_part(detail, "on ", v, vn);
    return 0;
}

static int sge_cancel(const char *jobid, mpimap_strv *argv)
{
    static const char *const words[] = {"qdel", NULL};
    return bs_push_command(argv, words, jobid);
}

static const struct mpimap_launcher_ops sge_ops = {
    .size = (uint32_t)sizeof(struct mpimap_launcher_ops),
    .flags = MPIMAP_LAUNCHER_BATCH,
    .program = "qsub",
    .render = NULL,
    .inner = "mpirun",
    .script = sge_script,
    .submit = sge_submit,
    .parse_jobid = sge_parse_jobid,
    .query_job = sge_query_job,
    .parse_state = sge_parse_state,
    .cancel = sge_cancel,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_LAUNCHER, NAME, MPIMAP_VERSION_STRING,
                     "Grid Engine batch jobs (qsub -pe)", NULL, NULL, sge_query, &sge_ops);
