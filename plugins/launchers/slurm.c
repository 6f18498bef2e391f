/* SPDX-License-Identifier: BSD-3-Clause */
/* slurm.c - the Slurm batch launcher: renders the sbatch job script around
 * the inner launcher's command (srun by default), and the sbatch, scontrol
 * and scancel commands that submit, query and cancel the job, and reads
 * their output. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>

#include "batchscript.h"

#include "shellquote.h"

#define SLURM_PROGRAM "sbatch"
#define SLURM_INNER "srun"
/* Never picked over a launcher that runs the job from here: submitting
 * changes what `mpimap run` means, so a scheduler is asked for by name
 * (--launcher slurm). 0 ties with serial, which sorts first and wins. */
#define SLURM_PRIORITY 0

/* The smallest spec this plugin understands: every field of ABI 1.1. */
#define SPEC_MIN_SIZE \
    (offsetof(struct mpimap_launch_spec, log_path) + sizeof(const char *))

/* Is name an executable on PATH? */
static int on_path(const char *name)
{
    char *found = mpimap_which(name);
    free(found);
    return found != NULL;
}

static int slurm_query(void)
{
    return on_path(SLURM_PROGRAM) ? SLURM_PRIORITY : -1;
}

/* ---- the job script ------------------------------------------------------ */

/*
 * An #SBATCH line is a shell comment that sbatch reads with rules of its
 * own (src/sbatch/opt.c, _get_argument): words split at blanks, '...' and
 * "..." group, a backslash escapes the next character even inside quotes,
 * an unquoted # ends the line, and nothing continues past a newline. The
 * shell quoting routine's single-quoted form ('it'\''s') reads back exactly
 * under those rules for every character but the backslash and the line
 * breaks, so a value holding those (or any other control character) is
 * refused rather than rendered into something else.
 */
static int directive_safe(const char *what, const char *value, char **error)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p == '\\')
            return bs_fail(error,
                        "slurm: %s \"%s\": a backslash cannot pass through an #SBATCH "
                        "directive",
                        what, value);
        if (*p < 0x20 || *p == 0x7f)
            return bs_fail(error,
                        "slurm: %s: control characters (newlines, tabs, ...) cannot pass "
                        "through an #SBATCH directive",
                        what);
    }
    return 0;
}

/* A filename pattern of sbatch (--output): % starts a replacement
 * (%j = job id, ...), %% is a literal %. */
static char *escape_percent(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += *p == '%' ? 2 : 1;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    char *q = out;
    for (const char *p = s; *p; p++) {
        *q++ = *p;
        if (*p == '%')
            *q++ = '%';
    }
    *q = '\0';
    return out;
}

/* Is opt one of the names scontrol prints as a field of its own? */
static int name_field(const char *opt)
{
    static const char *const names[] = {"--job-name", "--partition", "--qos", "--account",
                                        "--reservation", NULL};
    for (size_t i = 0; names[i]; i++)
        if (strcmp(opt, names[i]) == 0)
            return 1;
    return 0;
}

/* "#SBATCH --opt=VALUE" with VALUE quoted; what names the mpimap option
 * for messages. 0, MPIMAP_EINVAL or MPIMAP_ENOMEM. */
static int directive(FILE *f, const char *opt, const char *what, const char *value,
                     char **error)
{
    if (!*value)
        return bs_fail(error, "slurm: %s must not be empty", what);
    int rc = directive_safe(what, value, error);
    if (rc < 0)
        return rc;
    /* The names come back in `scontrol show job -o`, a line of Key=Value
     * fields before JobState= (JobName=, Account=, QOS=): with no '=' in
     * them, the first JobState= field is the job's state, whatever else
     * the names hold. */
    if (name_field(opt) && strchr(value, '='))
        return bs_fail(error, "slurm: %s \"%s\": a name must not hold '='", what, value);
    char *q = mpimap_shell_quote(value);
    if (!q)
        return MPIMAP_ENOMEM;
    fprintf(f, "#SBATCH %s=%s\n", opt, q);
    free(q);
    return 0;
}

/* Slurm's own time form: D-HH:MM:SS from a day on, else H:MM:SS. */
static void walltime(FILE *f, long s)
{
    long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
    if (d > 0)
        fprintf(f, "#SBATCH --time=%ld-%02ld:%02ld:%02ld\n", d, h, m, sec);
    else
        fprintf(f, "#SBATCH --time=%ld:%02ld:%02ld\n", h, m, sec);
}

static int validate(const struct mpimap_launch_spec *spec, char **error)
{
    if (!spec || spec->size < SPEC_MIN_SIZE)
        return bs_fail(error, "slurm: launch spec is missing or too old");
    if (spec->np < 1)
        return bs_fail(error, "slurm: the number of ranks must be at least 1");
    if (spec->nodes < 0)
        return bs_fail(error, "slurm: the number of nodes must not be negative (got %d)",
                    spec->nodes);
    if (spec->ppn < 0)
        return bs_fail(error, "slurm: ranks per node must not be negative (got %d)", spec->ppn);
    if (spec->cpus_per_rank < 0)
        return bs_fail(error, "slurm: cpus per rank must not be negative (got %d)",
                    spec->cpus_per_rank);
    if (spec->nodes > 0 && spec->ppn > 0 &&
        (long long)spec->nodes * spec->ppn != spec->np)
        return bs_fail(error,
                    "slurm: %d nodes x %d ranks per node = %lld ranks, but -n is %d",
                    spec->nodes, spec->ppn, (long long)spec->nodes * spec->ppn, spec->np);
    if (spec->nodes > spec->np)
        return bs_fail(error, "slurm: %d nodes for %d ranks leaves nodes without a rank",
                    spec->nodes, spec->np);
    if (spec->walltime < 0)
        return bs_fail(error, "slurm: the walltime must not be negative (got %ld s)",
                    spec->walltime);
    if (!spec->jobdir || spec->jobdir[0] != '/')
        return bs_fail(error, "slurm: the job directory must be an absolute path");
    if (!spec->inner_command || !*spec->inner_command)
        return bs_fail(error, "slurm: no command to run inside the job");
    if (!spec->log_path || !*spec->log_path)
        return bs_fail(error, "slurm: no log file for the job's output");
    for (size_t i = 0; spec->exports && spec->exports[i]; i++)
        if (bs_var_len(spec->exports[i]) == 0)
            return bs_fail(error, "slurm: --export: not a variable name or NAME=VALUE: \"%s\"",
                        spec->exports[i]);
    for (size_t i = 0; spec->sched_args && spec->sched_args[i]; i++) {
        const char *a = spec->sched_args[i];
        if (a[0] != '-')
            return bs_fail(error,
                        "slurm: --sched-arg \"%s\" is not an sbatch option (one option "
                        "a --sched-arg, e.g. --sched-arg=--constraint=haswell)",
                        a);
    }
    return 0;
}

/* The directives, in a fixed order (see tests/golden/slurm/). */
static int directives(FILE *f, const struct mpimap_launch_spec *spec, char **error)
{
    int rc = directive(f, "--job-name", "--job-name",
                       spec->job_name ? spec->job_name : "mpimap", error);
    if (rc < 0)
        return rc;
    fprintf(f, "#SBATCH --ntasks=%d\n", spec->np);
    if (spec->nodes > 0)
        fprintf(f, "#SBATCH --nodes=%d\n", spec->nodes);
    if (spec->ppn > 0)
        fprintf(f, "#SBATCH --ntasks-per-node=%d\n", spec->ppn);
    if (spec->cpus_per_rank > 0)
        fprintf(f, "#SBATCH --cpus-per-task=%d\n", spec->cpus_per_rank);
    if (spec->walltime > 0)
        walltime(f, spec->walltime);
    const struct {
        const char *opt, *what, *value;
    } named[] = {
        {"--partition", "--queue", spec->queue},
        {"--qos", "--qos", spec->qos},
        {"--account", "--account", spec->account},
        {"--reservation", "--reservation", spec->reservation},
        {"--mem", "--mem", spec->mem},
    };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (named[i].value &&
            (rc = directive(f, named[i].opt, named[i].what, named[i].value, error)) < 0)
            return rc;
    /* Standard output and error of the job script into one log file. */
    char *log = escape_percent(spec->log_path);
    if (!log)
        return MPIMAP_ENOMEM;
    if ((rc = directive(f, "--output", "the log file", log, error)) == 0)
        rc = directive(f, "--error", "the log file", log, error);
    free(log);
    if (rc < 0)
        return rc;
    /* The job runs in the environment it was submitted from (srun, mpirun
     * and the worker are found on its PATH), plus the exports below. */
    fputs("#SBATCH --export=ALL\n", f);
    for (size_t i = 0; spec->sched_args && spec->sched_args[i]; i++) {
        const char *a = spec->sched_args[i];
        if ((rc = directive_safe("--sched-arg", a, error)) < 0)
            return rc;
        char *q = mpimap_shell_quote(a);
        if (!q)
            return MPIMAP_ENOMEM;
        fprintf(f, "#SBATCH %s\n", q);
        free(q);
    }
    return 0;
}

/* The exports, the yield setting, the cd and the command: shell text. */
static int body(FILE *f, const struct mpimap_launch_spec *spec)
{
    for (size_t i = 0; spec->exports && spec->exports[i]; i++) {
        const char *e = spec->exports[i];
        size_t n = bs_var_len(e);
        if (e[n] == '\0') { /* a bare NAME: its value where the job runs */
            fprintf(f, "export %s\n", e);
            continue;
        }
        char *q = mpimap_shell_quote(e + n + 1);
        if (!q)
            return MPIMAP_ENOMEM;
        fprintf(f, "export %.*s=%s\n", (int)n, e, q);
        free(q);
    }
    /* The ranks one node runs: Open MPI busy-polls unless told that it
     * has more ranks than cores, which it cannot see inside a job. */
    int per_node = spec->ppn > 0     ? spec->ppn
                   : spec->nodes > 0 ? (spec->np + spec->nodes - 1) / spec->nodes
                                     : spec->np;
    fputs("# More ranks on this node than cores: idle ranks must yield the CPU.\n", f);
    fprintf(f,
            "[ %d -le \"$(nproc)\" ] || export "
            "OMPI_MCA_mpi_yield_when_idle=\"${OMPI_MCA_mpi_yield_when_idle:-1}\"\n",
            per_node);
    char *dir = mpimap_shell_quote(spec->jobdir);
    if (!dir)
        return MPIMAP_ENOMEM;
    fprintf(f, "cd %s || exit 1\n", dir);
    free(dir);
    fprintf(f, "%s\n", spec->inner_command);
    return 0;
}

static int slurm_script(const struct mpimap_launch_spec *spec, char **text, char **error)
{
    if (!text)
        return bs_fail(error, "slurm: no place for the script");
    *text = NULL;
    int rc = validate(spec, error);
    if (rc < 0)
        return rc;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return MPIMAP_ENOMEM;
    fputs("#!/bin/bash\n"
          "# An mpimap job for Slurm: submit with sbatch (mpimap run --launcher slurm).\n",
          f);
    rc = directives(f, spec, error);
    if (rc == 0)
        rc = body(f, spec);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        if (rc == 0)
            rc = MPIMAP_ENOMEM;
    }
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *text = buf;
    return 0;
}

/* ---- the scheduler's commands ------------------------------------------- */

/* A Slurm job id as sbatch gives it: digits (an array task is 12_3, a
 * heterogeneous component 12+1). */
static int valid_jobid(const char *id)
{
    if (!id || !(*id >= '0' && *id <= '9'))
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '_' || *p == '+'))
            return 0;
    return 1;
}

static int slurm_submit(const struct mpimap_launch_spec *spec, const char *script_path,
                        mpimap_strv *argv, char **error)
{
    (void)spec;
    if (!argv || !script_path || !*script_path)
        return bs_fail(error, "slurm: no job script to submit");
    int rc;
    size_t n0 = argv->n;
    if ((rc = mpimap_strv_push(argv, SLURM_PROGRAM)) < 0 ||
        (rc = mpimap_strv_push(argv, "--parsable")) < 0 ||
        (rc = mpimap_strv_push(argv, script_path)) < 0) {
        for (size_t i = n0; i < argv->n; i++) {
            free(argv->v[i]);
            argv->v[i] = NULL;
        }
        argv->n = n0;
    }
    return rc;
}

/* sbatch --parsable prints "ID" or "ID;CLUSTER" on its last line. */
static int slurm_parse_jobid(const char *out, char **jobid, char **error)
{
    if (!jobid)
        return bs_fail(error, "slurm: no place for the job id");
    *jobid = NULL;
    if (!out)
        out = "";
    /* The last non-blank line. */
    const char *end = out + strlen(out);
    while (end > out && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        end--;
    const char *start = end;
    while (start > out && start[-1] != '\n')
        start--;
    while (start < end && *start == ' ')
        start++;
    const char *semi = memchr(start, ';', (size_t)(end - start));
    size_t n = (size_t)((semi ? semi : end) - start);
    char *id = strndup(start, n);
    if (!id)
        return MPIMAP_ENOMEM;
    if (!valid_jobid(id)) {
        free(id);
        return bs_fail(error, "slurm: no job id in what sbatch printed: \"%.*s\"",
                    (int)(end - out > 200 ? 200 : end - out), out);
    }
    *jobid = id;
    return 0;
}

static int push_id_command(mpimap_strv *argv, const char *const *words, const char *jobid)
{
    if (!argv || !valid_jobid(jobid))
        return MPIMAP_EINVAL;
    size_t n0 = argv->n;
    int rc = 0;
    for (size_t i = 0; words[i] && rc == 0; i++)
        rc = mpimap_strv_push(argv, words[i]);
    if (rc == 0)
        rc = mpimap_strv_push(argv, jobid);
    if (rc < 0) {
        for (size_t i = n0; i < argv->n; i++) {
            free(argv->v[i]);
            argv->v[i] = NULL;
        }
        argv->n = n0;
    }
    return rc;
}

/* scontrol says "Invalid job id specified" (the job has left the
 * controller) and "Unable to contact slurm controller" (ask again later)
 * on its standard error, with exit status 1 both times, and parse_state()
 * sees standard output only: a shell that only redirects (the job id is
 * an argument, never shell text) puts both on standard output. */
static int slurm_query_job(const char *jobid, mpimap_strv *argv)
{
    static const char *const words[] = {"/bin/sh", "-c",  "exec \"$@\" 2>&1", "sh",
                                        "scontrol", "show", "job", "-o", NULL};
    return push_id_command(argv, words, jobid);
}

static int slurm_cancel(const char *jobid, mpimap_strv *argv)
{
    static const char *const words[] = {"scancel", NULL};
    return push_id_command(argv, words, jobid);
}

/* Is p (inside line) the start of a " Key=" field: after a blank or at the
 * start, a key of [A-Za-z][A-Za-z0-9_:/]* and '='? */
static int field_start(const char *line, const char *p)
{
    if (p != line && p[-1] != ' ')
        return 0;
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
        return 0;
    for (; *p && *p != '=' && *p != ' ' && *p != '\n'; p++)
        ;
    return *p == '=';
}

/* The value of the field named key (with its '=') in the one-line record
 * [line, eol): up to the next field (a value may hold blanks, as Reason's
 * "(ReqNodeNotAvail, UnavailableNodes:n1)" does). NULL when absent; *len
 * its length. */
static const char *field(const char *line, const char *eol, const char *key, size_t *len)
{
    size_t klen = strlen(key);
    for (const char *p = line; p + klen <= eol; p++) {
        if ((p == line || p[-1] == ' ') && strncmp(p, key, klen) == 0) {
            const char *v = p + klen, *e = v;
            while (e < eol && !(e[0] == ' ' && e + 1 < eol && field_start(line, e + 1)))
                e++;
            while (e > v && e[-1] == ' ')
                e--;
            *len = (size_t)(e - v);
            return v;
        }
    }
    return NULL;
}

static const struct {
    const char *name;
    int state;
} states[] = {
    {"PENDING", MPIMAP_JOB_QUEUED},       {"CONFIGURING", MPIMAP_JOB_QUEUED},
    {"REQUEUED", MPIMAP_JOB_QUEUED},      {"REQUEUE_HOLD", MPIMAP_JOB_QUEUED},
    {"REQUEUE_FED", MPIMAP_JOB_QUEUED},   {"RESV_DEL_HOLD", MPIMAP_JOB_QUEUED},
    {"SPECIAL_EXIT", MPIMAP_JOB_QUEUED},  {"POWER_UP_NODE", MPIMAP_JOB_QUEUED},
    {"RUNNING", MPIMAP_JOB_RUNNING},      {"COMPLETING", MPIMAP_JOB_RUNNING},
    {"SUSPENDED", MPIMAP_JOB_RUNNING},    {"STOPPED", MPIMAP_JOB_RUNNING},
    {"SIGNALING", MPIMAP_JOB_RUNNING},    {"STAGE_OUT", MPIMAP_JOB_RUNNING},
    {"RESIZING", MPIMAP_JOB_RUNNING},     {"UPDATE_DB", MPIMAP_JOB_RUNNING},
    {"COMPLETED", MPIMAP_JOB_DONE},       {"REVOKED", MPIMAP_JOB_DONE},
    {"FAILED", MPIMAP_JOB_FAILED},        {"NODE_FAIL", MPIMAP_JOB_FAILED},
    {"OUT_OF_MEMORY", MPIMAP_JOB_FAILED}, {"BOOT_FAIL", MPIMAP_JOB_FAILED},
    {"PREEMPTED", MPIMAP_JOB_FAILED},     {"CANCELLED", MPIMAP_JOB_CANCELLED},
    {"TIMEOUT", MPIMAP_JOB_TIMEOUT},      {"DEADLINE", MPIMAP_JOB_TIMEOUT},
};

static int state_of(const char *v, size_t n)
{
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        if (strlen(states[i].name) == n && strncmp(states[i].name, v, n) == 0)
            return states[i].state;
    return 0;
}

/* "reason: Priority; nodes: vm" from the record's Reason and NodeList
 * (each left out when it says nothing). NULL with *rc = 0 when both do. */
static char *detail_of(const char *line, const char *eol, int *rc)
{
    size_t rlen = 0, nlen = 0;
    const char *r = field(line, eol, "Reason=", &rlen);
    const char *n = field(line, eol, "NodeList=", &nlen);
    if (r && ((rlen == 4 && strncmp(r, "None", 4) == 0) || rlen == 0))
        r = NULL;
    if (n && ((nlen == 6 && strncmp(n, "(null)", 6) == 0) || nlen == 0))
        n = NULL;
    *rc = 0;
    if (!r && !n)
        return NULL;
    char *d = NULL;
    int k = asprintf(&d, "%s%.*s%s%s%.*s", r ? "reason: " : "", r ? (int)rlen : 0,
                     r ? r : "", r && n ? "; " : "", n ? "nodes: " : "", n ? (int)nlen : 0,
                     n ? n : "");
    if (k < 0) {
        *rc = MPIMAP_ENOMEM;
        return NULL;
    }
    return d;
}

/* `scontrol show job -o ID` (standard error included): one line "JobId=ID
 * JobName=... JobState=S Reason=R ... NodeList=N ..." (one per component
 * of an array or a heterogeneous job: the first one counts). A job the
 * controller no longer knows (it ended more than MinJobAge ago) is
 * "slurm_load_jobs error: Invalid job id specified" with exit status 1:
 * done, and the job directory tells how the map went. Any other failure
 * (the controller did not answer) is MPIMAP_EINVAL: no state, ask again. */
static int slurm_parse_state(int exit_status, const char *out, int *state, char **detail)
{
    if (!state)
        return MPIMAP_EINVAL;
    if (detail)
        *detail = NULL;
    if (!out)
        out = "";
    if (strstr(out, "Invalid job id")) {
        *state = MPIMAP_JOB_DONE;
        return 0;
    }
    if (exit_status != 0)
        return MPIMAP_EINVAL;
    const char *line = out;
    const char *eol = strchr(line, '\n');
    if (!eol)
        eol = line + strlen(line);
    /* The first JobState= field (the names before it hold no '=': see
     * directive()). */
    size_t slen = 0;
    const char *sv = field(line, eol, "JobState=", &slen);
    int s = sv ? state_of(sv, slen) : 0;
    if (!s)
        return MPIMAP_EINVAL;
    /* A job script that ended with a non-zero status ended by itself, not
     * by the scheduler: the job directory tells what went wrong (a rank
     * that crashed, a launch that failed). */
    size_t rlen = 0;
    const char *r = field(line, eol, "Reason=", &rlen);
    if (s == MPIMAP_JOB_FAILED && r && rlen == 15 && strncmp(r, "NonZeroExitCode", 15) == 0)
        s = MPIMAP_JOB_DONE;
    *state = s;
    if (detail) {
        int rc;
        *detail = detail_of(line, eol, &rc);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The end of a running job from the same record: now plus what is left
 * of its TimeLimit after its RunTime (both "[D-]H:MM:SS"; no clock time
 * to read, so the controller's time zone does not matter). No end for a
 * job not running (a queued job's EndTime is an estimate) or without a
 * limit (TimeLimit=UNLIMITED). */
static int slurm_parse_end_time(int exit_status, const char *out, int64_t now, int64_t *end)
{
    if (!end)
        return MPIMAP_EINVAL;
    *end = 0;
    if (exit_status != 0 || !out)
        return 0;
    const char *eol = strchr(out, '\n');
    if (!eol)
        eol = out + strlen(out);
    size_t slen = 0, llen = 0, rlen = 0;
    const char *sv = field(out, eol, "JobState=", &slen);
    if (!sv || slen != 7 || strncmp(sv, "RUNNING", 7) != 0)
        return 0;
    const char *lv = field(out, eol, "TimeLimit=", &llen);
    const char *rv = field(out, eol, "RunTime=", &rlen);
    int64_t limit, run;
    if (!lv || bs_parse_duration(lv, llen, &limit) < 0)
        return 0; /* UNLIMITED, Partition_Limit, absent */
    if (!rv || bs_parse_duration(rv, rlen, &run) < 0)
        return MPIMAP_EINVAL;
    *end = now + (limit > run ? limit - run : 0);
    return 0;
}

static const struct mpimap_launcher_ops slurm_ops = {
    .size = (uint32_t)sizeof(struct mpimap_launcher_ops),
    .flags = MPIMAP_LAUNCHER_BATCH,
    .program = SLURM_PROGRAM,
    .render = NULL,
    .inner = SLURM_INNER,
    .script = slurm_script,
    .submit = slurm_submit,
    .parse_jobid = slurm_parse_jobid,
    .query_job = slurm_query_job,
    .parse_state = slurm_parse_state,
    .cancel = slurm_cancel,
    .parse_end_time = slurm_parse_end_time,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_LAUNCHER, "slurm", MPIMAP_VERSION_STRING,
                     "Slurm batch jobs (sbatch)", NULL, NULL, slurm_query, &slurm_ops);
