/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pbs.c - the PBS launcher (Torque and PBS Professional/OpenPBS qsub):
 * renders a job script whose #PBS directives both accept, and the qsub,
 * qstat and qdel commands. Built twice: as "pbs" and as "torque" (the same
 * behaviour; LAUNCHER_NAME is set by the build).
 *
 * Directives (one syntax for both: Torque's old-style node request, which
 * PBS Pro converts to select/place, e.g. nodes=2:ppn=4 becomes
 * select=2:ncpus=4:mpiprocs=4 with place=scatter):
 *   -l nodes=N:ppn=P*C     N nodes, P ranks per node, C cpus per rank
 *                          (ppn counts processors in both); only -np given:
 *                          nodes=1:ppn=NP*C (one node: give --nodes or --ppn
 *                          to spread a larger job)
 *   -l walltime=H:MM:SS    -l mem=SIZE (job total: nodes x the per-node --mem,
 *                          as both PBS flavours read a job-wide mem)
 *   -N name  -q queue  -A account  -v VAR,...  (VARs exported without a value,
 *                          taken from qsub's environment)
 *   -j oe -o LOG           standard output and error joined in the log
 * --qos and --reservation have no PBS/Torque directive (Torque leaves both
 * to Moab: use the moab launcher; PBS Pro runs a reservation as a queue:
 * give it with --queue): they are errors, never dropped.
 *
 * State: qstat -f -x ID, standard error merged (PBS Pro: -x adds finished
 * jobs, shown as job_state F with Exit_status; Torque: -x prints the same
 * fields as XML, finished jobs stay as job_state C with exit_status while
 * the server keeps them). Walltime kills: Torque exit_status -11
 * (JOB_EXEC_OVERLIMIT_WT), PBS Pro Exit_status -29 (JOB_EXEC_KILL_WALLTIME).
 * "Unknown Job Id" (qstat's exit status 153, PBSE_UNKJOBID) and "Job has
 * finished" (35, PBSE_HISTJOBID) mean the job is over. A running job ends
 * at Resource_List.walltime less resources_used.walltime from now.
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

#ifndef LAUNCHER_NAME
#define LAUNCHER_NAME "pbs"
#endif

#define PREFIX "#PBS"

static int pbs_query(void)
{
    return -1; /* a scheduler is named by the user, never picked by itself */
}

static int pbs_script(const struct mpimap_launch_spec *spec, char **text, char **error)
{
    if (!text)
        return bs_fail(error, LAUNCHER_NAME ": no place for the script");
    *text = NULL;
    int rc = bs_check_spec(LAUNCHER_NAME, spec, error);
    if (rc < 0)
        return rc;
    if (spec->qos)
        return bs_fail(error, LAUNCHER_NAME ": --qos has no equivalent in PBS/Torque "
                              "(under Moab, use --launcher moab)");
    if (spec->reservation)
        return bs_fail(error, LAUNCHER_NAME ": --reservation has no equivalent in "
                              "PBS/Torque (PBS Pro: give the reservation's queue with "
                              "--queue; under Moab, use --launcher moab)");
    if (spec->log_path && strchr(spec->log_path, ':'))
        return bs_fail(error,
                       LAUNCHER_NAME ": the log path '%s' holds ':', which qsub -o reads "
                                     "as HOST:PATH",
                       spec->log_path);
    struct bs_shape sh;
    if ((rc = bs_shape_of(LAUNCHER_NAME, spec, &sh, error)) < 0)
        return rc;
    unsigned long long mem = 0;
    if (spec->mem) {
        if ((rc = bs_parse_mem(LAUNCHER_NAME, spec->mem, &mem, error)) < 0)
            return rc;
        if (mem > ~0ULL / (unsigned)sh.nodes)
            return bs_fail(error, LAUNCHER_NAME ": --mem '%s' x %d nodes is too large",
                           spec->mem, sh.nodes);
        mem *= (unsigned)sh.nodes;
    }

    struct bs_text t = {0};
    bs_add(&t, "#!/bin/bash\n# mpimap job for PBS/Torque: submit with qsub\n");
    if (spec->job_name)
        bs_directive(&t, PREFIX, "-N", spec->job_name);
    bs_addf(&t, PREFIX " -l nodes=%d:ppn=%d\n", sh.nodes, sh.ppn * sh.cpus);
    if (spec->walltime > 0) {
        char *w = mpimap_format_walltime(spec->walltime);
        bs_add(&t, PREFIX " -l walltime=");
        bs_add(&t, w);
        bs_add(&t, "\n");
        free(w);
    }
    if (spec->mem) {
        char *m = bs_format_mem(mem, 1);
        bs_add(&t, PREFIX " -l mem=");
        bs_add(&t, m);
        bs_add(&t, "\n");
        free(m);
    }
    if (spec->queue)
        bs_directive(&t, PREFIX, "-q", spec->queue);
    if (spec->account)
        bs_directive(&t, PREFIX, "-A", spec->account);
    int oom = 0;
    char *vars = bs_bare_exports(spec, &oom);
    if (oom)
        t.oom = 1;
    if (vars)
        bs_directive(&t, PREFIX, "-v", vars);
    free(vars);
    if (spec->log_path) {
        bs_directive(&t, PREFIX, "-j", "oe");
        bs_directive(&t, PREFIX, "-o", spec->log_path);
    }
    for (size_t i = 0; spec->sched_args && spec->sched_args[i]; i++)
        bs_directive(&t, PREFIX, spec->sched_args[i], NULL);
    bs_body(&t, spec, "PBS_O_WORKDIR");
    *text = bs_take(&t);
    return *text ? 0 : MPIMAP_ENOMEM;
}

static int pbs_submit(const struct mpimap_launch_spec *spec, const char *script_path,
                      mpimap_strv *argv, char **error)
{
    (void)spec;
    if (!argv || !script_path || !*script_path || *script_path == '-')
        return bs_fail(error, LAUNCHER_NAME ": no script path to submit (or one starting "
                              "with '-')");
    size_t n0 = argv->n;
    int rc = mpimap_strv_push(argv, "qsub");
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

/* qsub prints the job id ("123.server", or "123[].server" for an array). */
static int pbs_parse_jobid(const char *out, char **jobid, char **error)
{
    *jobid = NULL;
    int rc = bs_first_word(out, jobid);
    if (rc < 0)
        return rc;
    if (!*jobid || bs_check_jobid(*jobid) < 0) {
        free(*jobid);
        *jobid = NULL;
        return bs_fail(error, LAUNCHER_NAME ": qsub printed no job id (it said: \"%.200s\")",
                       out ? out : "");
    }
    return 0;
}

static int pbs_query_job(const char *jobid, mpimap_strv *argv)
{
    static const char *const words[] = {"qstat", "-f", "-x", NULL};
    return bs_push_query(argv, words, jobid);
}

/* The value of an attribute in qstat -f's text ("key = value") or in
 * Torque's XML ("<key>value</key>"); NULL when absent. */
static const char *attribute(const char *out, const char *key, size_t *len)
{
    const char *v = bs_field(out, key, '=', len);
    if (v)
        return v;
    size_t k = strlen(key);
    for (const char *p = strstr(out, key); p; p = strstr(p + 1, key)) {
        if (p == out || p[-1] != '<' || p[k] != '>')
            continue;
        v = p + k + 1;
        const char *e = strchr(v, '<');
        if (!e || e[1] != '/' || strncmp(e + 2, key, k) != 0 || e[2 + k] != '>')
            continue;
        *len = (size_t)(e - v);
        return v;
    }
    return NULL;
}

static int pbs_parse_state(int exit_status, const char *out, int *state, char **detail)
{
    *detail = NULL;
    if (!out)
        out = "";
    size_t n = 0;
    const char *js = attribute(out, "job_state", &n);
    if (!js || n == 0) {
        if (bs_contains(out, "Unknown Job Id") || bs_contains(out, "Job has finished") ||
            exit_status == 153 || exit_status == 35) {
            *state = MPIMAP_JOB_DONE;
            return 0;
        }
        /* qstat could not ask the server: not an answer about the job. */
        return exit_status != 0 ? MPIMAP_EIO : MPIMAP_EINVAL;
    }
    size_t vn = 0;
    const char *v;
    switch (js[0]) {
    case 'Q': case 'H': case 'W': case 'T': case 'M':
        *state = MPIMAP_JOB_QUEUED;
        if ((v = attribute(out, "comment", &vn)) && vn)
            return bs_detail_part(detail, "", v, vn);
        return 0;
    case 'R': case 'E': case 'S': case 'U': case 'B':
        *state = MPIMAP_JOB_RUNNING;
        if ((v = attribute(out, "exec_host", &vn)) && vn)
            return bs_detail_part(detail, "on ", v, vn);
        return 0;
    case 'C': case 'F': case 'X':
        break;
    default:
        return MPIMAP_EINVAL;
    }
    /* Finished: Torque says exit_status, PBS Pro Exit_status. */
    int torque = 1;
    if (!(v = attribute(out, "exit_status", &vn))) {
        torque = 0;
        v = bs_field(out, "Exit_status", '=', &vn);
    }
    if (!v) {
        *state = MPIMAP_JOB_CANCELLED; /* deleted before it ran */
        return 0;
    }
    char *num = bs_trimmed(v, vn), *end = NULL;
    if (!num)
        return MPIMAP_ENOMEM;
    long code = strtol(num, &end, 10);
    int bad = end == num || *end;
    free(num);
    if (bad)
        return MPIMAP_EINVAL;
    if ((torque && code == -11) || (!torque && code == -29)) {
        *state = MPIMAP_JOB_TIMEOUT;
        return bs_detail(detail, "exit status %ld: killed at its walltime", code);
    }
    *state = code < 0 ? MPIMAP_JOB_FAILED : MPIMAP_JOB_DONE;
    return code < 0 ? bs_detail(detail, "exit status %ld: PBS could not run the job", code)
                    : bs_detail(detail, "exit status %ld", code);
}

static int pbs_cancel(const char *jobid, mpimap_strv *argv)
{
    static const char *const words[] = {"qdel", NULL};
    return bs_push_command(argv, words, jobid);
}

/* The value of <outer>...<key>value</key>...</outer> in Torque's XML, or
 * of "outer.key = value" in qstat -f's text; NULL when absent. */
static const char *nested(const char *out, const char *outer, const char *key, size_t *len)
{
    char dotted[64], open[64], close[64];
    snprintf(dotted, sizeof dotted, "%s.%s", outer, key);
    const char *v = bs_field(out, dotted, '=', len);
    if (v)
        return v;
    snprintf(open, sizeof open, "<%s>", outer);
    snprintf(close, sizeof close, "</%s>", outer);
    const char *o = strstr(out, open);
    const char *c = o ? strstr(o, close) : NULL;
    if (!c)
        return NULL;
    v = attribute(o + strlen(open), key, len);
    return v && v < c ? v : NULL;
}

/* The end of a running job (job_state R): now plus what is left of
 * Resource_List.walltime after resources_used.walltime (both flavours
 * print both, as H:MM:SS; Torque's XML nests them). No end when either is
 * missing: no limit asked for, or the server has not counted the time
 * used yet. */
static int pbs_parse_end_time(int exit_status, const char *out, int64_t now, int64_t *end)
{
    (void)exit_status;
    if (!end)
        return MPIMAP_EINVAL;
    *end = 0;
    if (!out)
        return 0;
    size_t n = 0, ln = 0, un = 0;
    const char *js = attribute(out, "job_state", &n);
    if (!js || n != 1 || js[0] != 'R')
        return 0;
    const char *lv = nested(out, "Resource_List", "walltime", &ln);
    const char *uv = nested(out, "resources_used", "walltime", &un);
    int64_t limit, used;
    if (!lv || !uv || bs_parse_duration(lv, ln, &limit) < 0)
        return 0;
    if (bs_parse_duration(uv, un, &used) < 0)
        return MPIMAP_EINVAL;
    *end = now + (limit > used ? limit - used : 0);
    return 0;
}

static const struct mpimap_launcher_ops pbs_ops = {
    .size = (uint32_t)sizeof(struct mpimap_launcher_ops),
    .flags = MPIMAP_LAUNCHER_BATCH,
    .program = "qsub",
    .render = NULL,
    .inner = "mpirun",
    .script = pbs_script,
    .submit = pbs_submit,
    .parse_jobid = pbs_parse_jobid,
    .query_job = pbs_query_job,
    .parse_state = pbs_parse_state,
    .cancel = pbs_cancel,
    .parse_end_time = pbs_parse_end_time,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_LAUNCHER, LAUNCHER_NAME, MPIMAP_VERSION_STRING,
                     "PBS Pro / Torque batch jobs (qsub)", NULL, NULL, pbs_query, &pbs_ops);
