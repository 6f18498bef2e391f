/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lsf.c - the IBM Spectrum LSF launcher (bsub): renders a job script with
 * #BSUB directives, and the bsub, bjobs and bkill commands.
 *
 * bsub reads #BSUB directives only from a script on its standard input
 * (`bsub < script`; `bsub script` runs the file as a command and parses it
 * only where lsf.conf sets LSB_BSUB_PARSE_SCRIPT=Y), so this launcher asks
 * the driver to feed the script on standard input
 * (MPIMAP_LAUNCHER_SCRIPT_ON_STDIN) and submits with a bare "bsub".
 *
 * Directives:
 *   -n NP*C                slots: one per cpu of every rank
 *   -R "span[ptile=P*C]"   slots per host, when nodes or ranks per node are
 *                          given (nodes alone: ptile = NP/nodes x C)
 *   -R "... rusage[mem=SIZE/host]"  --mem per node (units in requirement
 *                          strings: LSF 10.1.0.2; /host: 10.1.0.9)
 *   -W H:MM                walltime, in minutes, rounded up
 *   -J name  -q queue  -P project (--account)  -U reservation
 *   -o LOG                 without -e, LSF appends standard error to it
 * --qos has no LSF equivalent (service classes are --sched-arg '-sla NAME'):
 * an error. VARs exported without a value need no directive: bsub copies the
 * whole submission environment into the job.
 *
 * State: bjobs -l ID, standard error merged, continuation lines joined.
 * "Status <X>": PEND, PSUSP, WAIT queued; RUN, USUSP, SSUSP, PROV running
 * (UNKWN too: LSF lost the host, the job may come back); DONE done; EXIT
 * done, except TERM_RUNLIMIT (killed at its walltime), TERM_OWNER /
 * TERM_ADMIN / TERM_FORCE_* (cancelled) and other TERM_* reasons (failed);
 * ZOMBI failed. "is not found" means LSF has forgotten the job: done.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>

#include "batchscript.h"

#define NAME "lsf"
#define PREFIX "#BSUB"

static int lsf_query(void)
{
    return -1; /* a scheduler is named by the user, never picked by itself */
}

static int lsf_script(const struct mpimap_launch_spec *spec, char **text, char **error)
{
    if (!text)
        return bs_fail(error, NAME ": no place for the script");
    *text = NULL;
    int rc = bs_check_spec(NAME, spec, error);
    if (rc < 0)
        return rc;
    if (spec->qos)
        return bs_fail(error, NAME ": --qos has no equivalent in LSF (for a service class, "
                                   "use --sched-arg '-sla NAME')");
    if (spec->job_name && strchr(spec->job_name, '['))
        return bs_fail(error, NAME ": the job name '%s' holds '[', which makes an LSF job "
                                   "array",
                       spec->job_name);
    if (spec->log_path && strchr(spec->log_path, '%'))
        return bs_fail(error, NAME ": the log path '%s' holds '%%', which bsub -o expands "
                                   "(%%J, %%I)",
                       spec->log_path);
    struct bs_shape sh;
    if ((rc = bs_shape_of(NAME, spec, &sh, error)) < 0)
        return rc;
    unsigned long long mem = 0;
    if (spec->mem && (rc = bs_parse_mem(NAME, spec->mem, &mem, error)) < 0)
        return rc;

    struct bs_text t = {0};
    bs_add(&t, "#!/bin/bash\n# mpimap job for LSF: submit with bsub < this file\n");
    if (spec->job_name)
        bs_directive(&t, PREFIX, "-J", spec->job_name);
    bs_addf(&t, PREFIX " -n %d\n", spec->np * sh.cpus);
    if (sh.given || spec->mem) {
        /* One requirement string: both sections are ours (numbers). */
        bs_add(&t, PREFIX " -R \"");
        if (sh.given)
            bs_addf(&t, "span[ptile=%d]", sh.ppn * sh.cpus);
        if (spec->mem) {
            char *m = bs_format_mem(mem, 0);
            bs_add(&t, sh.given ? " rusage[mem=" : "rusage[mem=");
            bs_add(&t, m);
            bs_add(&t, "/host]");
            free(m);
        }
        bs_add(&t, "\"\n");
    }
    if (spec->walltime > 0) {
        long minutes = spec->walltime / 60 + (spec->walltime % 60 != 0);
        bs_addf(&t, PREFIX " -W %ld:%02ld\n", minutes / 60, minutes % 60);
    }
    if (spec->queue)
        bs_directive(&t, PREFIX, "-q", spec->queue);
    if (spec->account)
        bs_directive(&t, PREFIX, "-P", spec->account);
    if (spec->reservation)
        bs_directive(&t, PREFIX, "-U", spec->reservation);
    if (spec->log_path)
        bs_directive(&t, PREFIX, "-o", spec->log_path);
    for (size_t i = 0; spec->sched_args && spec->sched_args[i]; i++)
        bs_directive(&t, PREFIX, spec->sched_args[i], NULL);
    bs_body(&t, spec, "LS_SUBCWD");
    *text = bs_take(&t);
    return *text ? 0 : MPIMAP_ENOMEM;
}

static int lsf_submit(const struct mpimap_launch_spec *spec, const char *script_path,
                      mpimap_strv *argv, char **error)
{
    (void)spec;
    if (!argv || !script_path || !*script_path)
        return bs_fail(error, NAME ": no script path to submit");
    return mpimap_strv_push(argv, "bsub"); /* the script comes on standard input */
}

/* "Job <1234> is submitted to queue <normal>." (or "... to default queue
 * <normal>."), possibly after other lines. */
static int lsf_parse_jobid(const char *out, char **jobid, char **error)
{
    *jobid = NULL;
    const char *p = out ? strstr(out, "Job <") : NULL;
    const char *e = p ? strchr(p + 5, '>') : NULL;
    if (e && e > p + 5) {
        if (!(*jobid = strndup(p + 5, (size_t)(e - p - 5))))
            return MPIMAP_ENOMEM;
        if (bs_check_jobid(*jobid) == 0)
            return 0;
        free(*jobid);
        *jobid = NULL;
    }
    return bs_fail(error, NAME ": bsub printed no job id (it said: \"%.200s\")",
                   out ? out : "");
}

static int lsf_query_job(const char *jobid, mpimap_strv *argv)
{
    static const char *const words[] = {"bjobs", "-l", NULL};
    return bs_push_query(argv, words, jobid);
}

/* bjobs -l wraps its lines at 80 columns, continuing them after 21 blanks:
 * join them back. malloc'd, NULL when out of memory. */
static char *unwrap(const char *out)
{
    static const char cont[] = "\n                     ";
    size_t n = strlen(out);
    char *s = malloc(n + 1), *d = s;
    if (!s)
        return NULL;
    for (const char *p = out; *p;) {
        if (strncmp(p, cont, sizeof cont - 1) == 0) {
            p += sizeof cont - 1;
            continue;
        }
        *d++ = *p++;
    }
    *d = '\0';
    return s;
}

/* The "TERM_..." reason of an exited job, in its events ("Completed
 * <exit>; TERM_RUNLIMIT: job killed after reaching LSF run time limit."),
 * to the end of the line; its length in *len. */
static const char *term_reason(const char *text, size_t *len)
{
    const char *p = strstr(text, "TERM_");
    if (!p)
        return NULL;
    const char *e = strchr(p, '\n');
    *len = e ? (size_t)(e - p) : strlen(p);
    return p;
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The state from the word in "Status <WORD>" and the events after the
 * first line. */
static int state_of(const char *status, size_t n, const char *text, int *state, char **detail)
{
    static const char *const queued[] = {"PEND", "PSUSP", "WAIT", NULL};
    static const char *const running[] = {"RUN", "USUSP", "SSUSP", "PROV", NULL};
    for (size_t i = 0; queued[i]; i++)
        if (strlen(queued[i]) == n && strncmp(status, queued[i], n) == 0) {
            *state = MPIMAP_JOB_QUEUED;
            return 0;
        }
    for (size_t i = 0; running[i]; i++)
        if (strlen(running[i]) == n && strncmp(status, running[i], n) == 0) {
            *state = MPIMAP_JOB_RUNNING;
            return 0;
        }
    if (n == 5 && strncmp(status, "UNKWN", 5) == 0) {
        *state = MPIMAP_JOB_RUNNING;
        return bs_detail(detail, "LSF lost contact with the job's host (UNKWN)");
    }
    if (n == 5 && strncmp(status, "ZOMBI", 5) == 0) {
        *state = MPIMAP_JOB_FAILED;
        return bs_detail(detail, "LSF lost the job (ZOMBI)");
    }
    if (n == 4 && strncmp(status, "DONE", 4) == 0) {
        *state = MPIMAP_JOB_DONE;
        return 0;
    }
    if (!(n == 4 && strncmp(status, "EXIT", 4) == 0))
        return MPIMAP_EINVAL;
    size_t rn = 0;
    const char *r = term_reason(text, &rn);
    if (!r) {
        /* The job's own exit status: the job directory tells the rest. */
        *state = MPIMAP_JOB_DONE;
        const char *x = strstr(text, "Exited with exit code ");
        if (x) {
            const char *e = strchr(x, '\n');
            return bs_detail_part(detail, "", x, e ? (size_t)(e - x) : strlen(x));
        }
        return 0;
    }
    if (starts(r, "TERM_RUNLIMIT"))
        *state = MPIMAP_JOB_TIMEOUT;
    else if (starts(r, "TERM_OWNER") || starts(r, "TERM_ADMIN") ||
             starts(r, "TERM_FORCE_OWNER") || starts(r, "TERM_FORCE_ADMIN") ||
             starts(r, "TERM_REQUEUE_OWNER") || starts(r, "TERM_REQUEUE_ADMIN"))
        *state = MPIMAP_JOB_CANCELLED;
    else
        *state = MPIMAP_JOB_FAILED;
    return bs_detail_part(detail, "", r, rn);
}

static int lsf_parse_state(int exit_status, const char *out, int *state, char **detail)
{
    *detail = NULL;
    char *text = unwrap(out ? out : "");
    if (!text)
        return MPIMAP_ENOMEM;
    int rc;
    /* "Job <1>, Job Name <x>, User <u>, Project <p>, Status <RUN>, ...,
     * Command <...>" is the first line; the events (and the reason an
     * exited job ended) follow it. */
    const char *p = strstr(text, ", Status <");
    const char *e = p ? strchr(p + 10, '>') : NULL;
    const char *events = e ? strchr(e, '\n') : NULL;
    if (e)
        rc = state_of(p + 10, (size_t)(e - p - 10), events ? events : "", state, detail);
    else if (bs_contains(text, "is not found")) {
        *state = MPIMAP_JOB_DONE;
        rc = 0;
    } else {
        rc = exit_status != 0 ? MPIMAP_EIO : MPIMAP_EINVAL;
    }
    free(text);
    return rc;
}

static int lsf_cancel(const char *jobid, mpimap_strv *argv)
{
    static const char *const words[] = {"bkill", NULL};
    return bs_push_command(argv, words, jobid);
}

static const struct mpimap_launcher_ops lsf_ops = {
    .size = (uint32_t)sizeof(struct mpimap_launcher_ops),
    .flags = MPIMAP_LAUNCHER_BATCH | MPIMAP_LAUNCHER_SCRIPT_ON_STDIN,
    .program = "bsub",
    .render = NULL,
    .inner = "mpirun",
    .script = lsf_script,
    .submit = lsf_submit,
    .parse_jobid = lsf_parse_jobid,
    .query_job = lsf_query_job,
    .parse_state = lsf_parse_state,
    .cancel = lsf_cancel,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_LAUNCHER, NAME, MPIMAP_VERSION_STRING,
                     "IBM Spectrum LSF batch jobs (bsub)", NULL, NULL, lsf_query, &lsf_ops);
