/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * moab.c - the Moab launcher (msub): renders a job script with #MSUB
 * directives, and the msub, checkjob and mjobctl commands.
 *
 * Directives (msub takes the PBS resource syntax, plus Moab's extensions):
 *   -l nodes=N:ppn=P*C     as the pbs launcher (only -np: nodes=1:ppn=NP*C)
 *   -l walltime=H:MM:SS    -l mem=SIZE (job total: nodes x per-node --mem)
 *   -l qos=QOS             -l advres=RESERVATION
 *   -N name  -q queue (class)  -A account  -v VAR,...
 *   -j oe -o LOG
 *
 * State: checkjob ID, standard error merged. "State: X" gives it: Idle,
 * Hold, Deferred, *Hold, NotQueued, Staged, Staging, Blocked, Migrated are
 * queued; Starting, Running, Suspended, Canceling are running; Completed
 * is done ("Completion Code: -11" from a Torque resource manager: killed at
 * its walltime); Removed is cancelled (or, when Moab says the job exceeded
 * its wallclock limit, killed at its walltime); Vacated failed. "invalid
 * job" / "cannot locate job" mean Moab has forgotten the job: done.
 * Cancel: mjobctl -c ID.
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

#define NAME "moab"
#define PREFIX "#MSUB"

static int moab_query(void)
{
    return -1; /* a scheduler is named by the user, never picked by itself */
}

/* "-l KEY=VALUE" with the whole KEY=VALUE word quoted. */
static void resource(struct bs_text *t, const char *key, const char *value)
{
    char *word = NULL;
    if (asprintf(&word, "%s=%s", key, value) < 0) {
        t->oom = 1;
        return;
    }
    bs_directive(t, PREFIX, "-l", word);
    free(word);
}

static int moab_script(const struct mpimap_launch_spec *spec, char **text, char **error)
{
    if (!text)
        return bs_fail(error, NAME ": no place for the script");
    *text = NULL;
    int rc = bs_check_spec(NAME, spec, error);
    if (rc < 0)
        return rc;
    if (spec->log_path && strchr(spec->log_path, ':'))
        return bs_fail(error, NAME ": the log path '%s' holds ':', which msub -o reads as "
                                   "HOST:PATH",
                       spec->log_path);
    struct bs_shape sh;
    if ((rc = bs_shape_of(NAME, spec, &sh, error)) < 0)
        return rc;
    unsigned long long mem = 0;
    if (spec->mem) {
        if ((rc = bs_parse_mem(NAME, spec->mem, &mem, error)) < 0)
            return rc;
        if (mem > ~0ULL / (unsigned)sh.nodes)
            return bs_fail(error, NAME ": --mem '%s' x %d nodes is too large", spec->mem,
                           sh.nodes);
        mem *= (unsigned)sh.nodes;
    }

    struct bs_text t = {0};
    bs_add(&t, "#!/bin/bash\n# mpimap job for Moab: submit with msub\n");
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
    if (spec->qos)
        resource(&t, "qos", spec->qos);
    if (spec->reservation)
        resource(&t, "advres", spec->reservation);
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

static int moab_submit(const struct mpimap_launch_spec *spec, const char *script_path,
                       mpimap_strv *argv, char **error)
{
    (void)spec;
    if (!argv || !script_path || !*script_path || *script_path == '-')
        return bs_fail(error, NAME ": no script path to submit (or one starting with '-')");
    size_t n0 = argv->n;
    int rc = mpimap_strv_push(argv, "msub");
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

/* msub prints the job id alone on its last line, often after an empty
 * one: "\n1234\n" or "\nMoab.1234\n" (warnings, when any, come first). */
static int moab_parse_jobid(const char *out, char **jobid, char **error)
{
    *jobid = NULL;
    const char *last = out, *line = out;
    for (const char *p = out; p && *p; p++) {
        if (*p == '\n')
            line = p + 1;
        else if (*p != ' ' && *p != '\t' && *p != '\r')
            last = line;
    }
    int rc = bs_first_word(last, jobid);
    if (rc < 0)
        return rc;
    if (!*jobid || bs_check_jobid(*jobid) < 0) {
        free(*jobid);
        *jobid = NULL;
        return bs_fail(error, NAME ": msub printed no job id (it said: \"%.200s\")",
                       out ? out : "");
    }
    return 0;
}

static int moab_query_job(const char *jobid, mpimap_strv *argv)
{
    static const char *const words[] = {"checkjob", NULL};
    return bs_push_query(argv, words, jobid);
}

static int word_is(const char *v, size_t n, const char *word)
{
    return strlen(word) == n && strncmp(v, word, n) == 0;
}

static int word_in(const char *v, size_t n, const char *const *words)
{
    for (size_t i = 0; words[i]; i++)
        if (word_is(v, n, words[i]))
            return 1;
    return 0;
}

static int moab_parse_state(int exit_status, const char *out, int *state, char **detail)
{
    static const char *const queued[] = {"Idle",      "Hold",     "Deferred", "SystemHold",
                                         "UserHold",  "BatchHold", "NotQueued", "Staged",
                                         "Staging",   "Blocked",  "Migrated", NULL};
    static const char *const running[] = {"Starting", "Running", "Suspended", "Canceling",
                                          NULL};
    *detail = NULL;
    if (!out)
        out = "";
    size_t n = 0;
    const char *st = bs_field(out, "State", ':', &n);
    if (!st || n == 0) {
        if (bs_contains(out, "invalid job") || bs_contains(out, "cannot locate job")) {
            *state = MPIMAP_JOB_DONE;
            return 0;
        }
        return exit_status != 0 ? MPIMAP_EIO : MPIMAP_EINVAL;
    }
    /* "Running" or "Running (...)": the first word */
    size_t w = 0;
    while (w < n && st[w] != ' ' && st[w] != '\t')
        w++;
    size_t vn = 0;
    const char *v;
    if (word_in(st, w, queued)) {
        *state = MPIMAP_JOB_QUEUED;
        return 0;
    }
    if (word_in(st, w, running)) {
        *state = MPIMAP_JOB_RUNNING;
        return 0;
    }
    int wallclock = bs_contains(out, "wallclock limit");
    if (word_is(st, w, "Completed")) {
        long code = 0;
        int have = 0;
        if ((v = bs_field(out, "Completion Code", ':', &vn))) {
            char *end = NULL;
            code = strtol(v, &end, 10);
            have = end != v;
        }
        if ((have && code == -11) || wallclock) {
            *state = MPIMAP_JOB_TIMEOUT;
            return bs_detail(detail, "killed at its walltime");
        }
        *state = have && code < 0 ? MPIMAP_JOB_FAILED : MPIMAP_JOB_DONE;
        return have ? bs_detail(detail, "completion code %ld", code) : 0;
    }
    if (word_is(st, w, "Removed")) {
        *state = wallclock ? MPIMAP_JOB_TIMEOUT : MPIMAP_JOB_CANCELLED;
        return wallclock ? bs_detail(detail, "killed at its walltime") : 0;
    }
    if (word_is(st, w, "Vacated")) {
        *state = MPIMAP_JOB_FAILED;
        return bs_detail(detail, "vacated: the job's nodes were lost");
    }
    return MPIMAP_EINVAL;
}

static int moab_cancel(const char *jobid, mpimap_strv *argv)
{
    static const char *const words[] = {"mjobctl", "-c", NULL};
    return bs_push_command(argv, words, jobid);
}

static const struct mpimap_launcher_ops moab_ops = {
    .size = (uint32_t)sizeof(struct mpimap_launcher_ops),
    .flags = MPIMAP_LAUNCHER_BATCH,
    .program = "msub",
    .render = NULL,
    .inner = "mpirun",
    .script = moab_script,
    .submit = moab_submit,
    .parse_jobid = moab_parse_jobid,
    .query_job = moab_query_job,
    .parse_state = moab_parse_state,
    .cancel = moab_cancel,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_LAUNCHER, NAME, MPIMAP_VERSION_STRING,
                     "Moab batch jobs (msub)", NULL, NULL, moab_query, &moab_ops);
