/* SPDX-License-Identifier: BSD-3-Clause */
/* cmd_run.c - `mpimap run`: map a command or a function over a work list
 * across MPI ranks, with no MPI code written by the user. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>

#include "commands.h"
#include "driver.h"
#include "report.h"
#include "resources.h"

static const char usage[] =
    "usage: mpimap run [OPTIONS] -- COMMAND [ARG...]\n"
    "       mpimap run [OPTIONS] --function LIB.so:SYMBOL\n"
    "\n"
    "Run COMMAND (or a function) once per work item, across MPI ranks, and\n"
    "write the results in input order. Work items are read from standard\n"
    "input (or --input), one per line by default.\n"
    "\n"
    "In COMMAND's arguments {} stands for the item, and with --colsep {1} {2} ...\n"
    "for its fields; without any placeholder the item is added as the last\n"
    "argument. No shell is involved unless --shell is given. An item's result\n"
    "is the command's standard output (one trailing newline dropped in line\n"
    "mode); a non-zero exit marks the item failed.\n"
    "\n";

/* The rest of --help (one string literal may not exceed 4095 bytes). */
static const char usage_options[] =
    "Handlers:\n"
    "  -f, --function LIB:SYM   call SYM(item, result, arg) from the shared object LIB\n"
    "                           (see <mpimap/mpimap.h>) instead of a command\n"
    "      --function-init SYM  call SYM(&arg) once per rank first\n"
    "      --shell              run COMMAND as one /bin/sh script, the item as $1\n"
    "                           (with --colsep, the fields as $1 $2 ...)\n"
    "      --colsep SEP         split each item at the string SEP into {1} {2} ...\n"
    "Work:\n"
    "  -n, --np N               number of ranks (default: the CPUs here)\n"
    "  -s, --strategy NAME      how items are dealt: pool (default), scatter, ...\n"
    "      --chunk K            items per deal (default: automatic)\n"
    "  -l, --launcher NAME      how the job starts: mpirun, serial, ... (default: the\n"
    "                           best found here; `mpimap plugins` lists them)\n"
    "      --launcher-arg ARG   pass ARG to the launcher (repeatable)\n"
    "      --hostfile FILE      hosts for launchers that take a host file\n"
    "Resources and schedulers (for launchers that take them):\n"
    "      --nodes N|N:ppn=P[:cpp=C]  nodes (or pyina's node string)\n"
    "      --ppn P              ranks per node\n"
    "      --cpus-per-rank C    CPUs for each rank\n"
    "      --walltime T         [[H:]M:]S or D-H:M:S\n"
    "      --queue Q            queue or partition\n"
    "      --qos Q, --account A, --job-name NAME, --reservation R, --mem M (per node)\n"
    "      --export VAR[=VALUE] export to the job (repeatable)\n"
    "      --sched-arg ARG      pass ARG to the scheduler as a directive (repeatable)\n"
    "      --via NAME           the launcher inside a scheduler's job (default: srun\n"
    "                           for slurm, mpirun for the others)\n"
    "      --detach             submit, print the job directory, and return; finish\n"
    "                           with `mpimap status DIR` and `mpimap collect DIR`\n"
    "Input and output:\n"
    "  -i, --input FILE         read items from FILE (default: standard input)\n"
    "  -o, --output FILE        write results to FILE (default: standard output);\n"
    "                           written under a temporary name, renamed when done\n"
    "  -0, --null               items and results end with NUL, not newline\n"
    "      --binary             items and results are binary records: a little-endian\n"
    "                           64-bit length, then that many bytes\n"
    "      --unordered          write results as they complete, each prefixed by its\n"
    "                           item index: \"INDEX<TAB>RESULT\" (line, NUL) or\n"
    "                           le64 index + record (binary)\n"
    "      --joblog FILE        a tab-separated line per item: index, rank, start,\n"
    "                           duration, status, reason\n"
    "      --workdir DIR        where the job directory is made (default: $TMPDIR)\n"
    ;

/* ... and its end. */
static const char usage_failures[] =
    "Failures (a journal in the job directory keeps every finished result):\n"
    "      --retries N          run a failed item up to N more times (default 0)\n"
    "      --timeout SECONDS    stop an item that runs longer; it fails \"timed out\"\n"
    "      --max-restarts N     start the job again after a rank dies, up to N times\n"
    "                           (default 2); an item that kills its rank twice fails\n"
    "      --resume DIR         finish the job in DIR (after Ctrl-C, a kill, a walltime):\n"
    "                           only items without a result run; same options as before\n"
    "      --retry-failed       with --resume: run the failed items again too\n"
    "      --watchdog SECONDS   name an item that has run longer than this and 10x the\n"
    "                           median item (default 60)\n"
    "      --no-journal         keep no journal (nothing to resume; a little faster)\n"
    "Control:\n"
    "      --dry-run            print the command that would start the job; start nothing\n"
    "  -v, --verbose            say what is started, and a summary at the end\n"
    "  -q, --quiet              no progress line and no failure summary\n"
    "      --report             after the map, a table on standard error: items, busy\n"
    "                           and idle time per rank, load-balance efficiency (sum of\n"
    "                           item times / (ranks x makespan)), dispatch overhead\n"
    "                           and imbalance, the 5 slowest items\n"
    "      --report-json FILE   the same as a JSON object in FILE\n"
    "  -h, --help               this help\n"
    "\n"
    "A progress line is shown on standard error when it is a terminal.\n"
    "A failed item keeps its place: its output record is empty.\n"
    "\n"
    "Exit status: 0 every item succeeded; 1 some items failed (all other results\n"
    "are written; the failures are listed on standard error), or the report could\n"
    "not be written; 2 usage error;\n"
    "3 the job could not be set up or started; 4 the job died or was cancelled\n"
    "before the end (the results finished so far are kept in the job directory).\n"
    "\n"
    "Examples:\n"
    "  seq 100 | mpimap run -n 4 -- echo 'item {}'\n"
    "  mpimap run -n 8 -i files.txt -o sums.txt -- sha256sum {}\n"
    "  mpimap run -n 2 -i numbers.txt --function ./libsquare.so:square\n"
    "  mpimap run --resume /tmp/mpimap-Ab12Cd\n";

enum {
    OPT_CHUNK = 256, OPT_LAUNCHER_ARG, OPT_HOSTFILE, OPT_FUNCTION_INIT, OPT_SHELL,
    OPT_COLSEP, OPT_BINARY, OPT_UNORDERED, OPT_JOBLOG, OPT_WORKDIR, OPT_DRY_RUN
};

enum { OPT_REPORT = 512, OPT_REPORT_JSON };
enum {
    OPT_RETRIES = 1024, OPT_TIMEOUT, OPT_MAX_RESTARTS, OPT_RESUME, OPT_RETRY_FAILED,
    OPT_WATCHDOG, OPT_NO_JOURNAL
};
enum {
    OPT_NODES = 768, OPT_PPN, OPT_CPR, OPT_WALLTIME, OPT_QUEUE, OPT_QOS, OPT_ACCOUNT,
    OPT_JOB_NAME, OPT_RESERVATION, OPT_MEM, OPT_EXPORT, OPT_SCHED_ARG, OPT_VIA, OPT_DETACH
};

static const struct option options[] = {
    {"function", required_argument, NULL, 'f'},
    {"function-init", required_argument, NULL, OPT_FUNCTION_INIT},
    {"shell", no_argument, NULL, OPT_SHELL},
    {"colsep", required_argument, NULL, OPT_COLSEP},
    {"np", required_argument, NULL, 'n'},
    {"strategy", required_argument, NULL, 's'},
    {"chunk", required_argument, NULL, OPT_CHUNK},
    {"launcher", required_argument, NULL, 'l'},
    {"launcher-arg", required_argument, NULL, OPT_LAUNCHER_ARG},
    {"hostfile", required_argument, NULL, OPT_HOSTFILE},
    {"input", required_argument, NULL, 'i'},
    {"output", required_argument, NULL, 'o'},
    {"null", no_argument, NULL, '0'},
    {"binary", no_argument, NULL, OPT_BINARY},
    {"unordered", no_argument, NULL, OPT_UNORDERED},
    {"joblog", required_argument, NULL, OPT_JOBLOG},
    {"workdir", required_argument, NULL, OPT_WORKDIR},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"report", no_argument, NULL, OPT_REPORT},
    {"nodes", required_argument, NULL, OPT_NODES},
    {"ppn", required_argument, NULL, OPT_PPN},
    {"cpus-per-rank", required_argument, NULL, OPT_CPR},
    {"walltime", required_argument, NULL, OPT_WALLTIME},
    {"queue", required_argument, NULL, OPT_QUEUE},
    {"qos", required_argument, NULL, OPT_QOS},
    {"account", required_argument, NULL, OPT_ACCOUNT},
    {"job-name", required_argument, NULL, OPT_JOB_NAME},
    {"reservation", required_argument, NULL, OPT_RESERVATION},
    {"mem", required_argument, NULL, OPT_MEM},
    {"export", required_argument, NULL, OPT_EXPORT},
    {"sched-arg", required_argument, NULL, OPT_SCHED_ARG},
    {"via", required_argument, NULL, OPT_VIA},
    {"detach", no_argument, NULL, OPT_DETACH},
    {"report-json", required_argument, NULL, OPT_REPORT_JSON},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"max-restarts", required_argument, NULL, OPT_MAX_RESTARTS},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"retry-failed", no_argument, NULL, OPT_RETRY_FAILED},
    {"watchdog", required_argument, NULL, OPT_WATCHDOG},
    {"no-journal", no_argument, NULL, OPT_NO_JOURNAL},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_count(const char *opt, const char *s, unsigned long long max,
                       unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || v < 1 || v > max || s[0] == '-')
        return mpimap_cli_usage_error("run", usage, "%s: '%s' is not a whole number from 1 to %llu",
                                      opt, s, max);
    *out = v;
    return 0;
}

/* --report and --report-json FILE: the map report the job left. Returns
 * MPIMAP_CLI_FAILURE when it cannot be read or written, else rc. */
static int show_report(mpimap_job *job, int table, const char *json, int rc)
{
    mpimap_report rep;
    int r = mpimap_job_report(job, &rep);
    if (r < 0) {
        mpimap_report_free(&rep);
        return mpimap_cli_fail("run", "no report in %s: %s", mpimap_job_dir(job),
                               mpimap_strerror(r));
    }
    if (table)
        mpimap_report_print(stderr, &rep);
    if (json && (r = mpimap_report_json_file(&rep, json)) < 0)
        rc = mpimap_cli_fail("run", "cannot write the report to '%s': %s", json,
                             r == MPIMAP_EIO ? strerror(errno) : mpimap_strerror(r));
    mpimap_report_free(&rep);
    return rc;
}

/* Everything the command line says. */
struct run_args {
    mpimap_ezmap_options o;
    struct mpimap_driver_extra x;
    mpimap_strv largs, exports, sched_args;
    int verbose, quiet, report, help;
    const char *report_json, *output;
    const char *resume;
    double watchdog;
    char *error;
};

/* A positive number of seconds, as for --timeout 2.5. */
static int parse_seconds(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v > 0) || v > 1e9)
        return mpimap_cli_usage_error("run", usage, "%s: '%s' is not a number of seconds",
                                      opt, s);
    *out = v;
    return 0;
}

/* Parse argv into a (later options win); MPIMAP_CLI_OK or an exit status. */
static int parse_args(struct run_args *a, int argc, char **argv)
{
    mpimap_ezmap_options *o = &a->o;
    unsigned long long num = 0;
    int c, rc;
    opterr = 0;
    optind = 0; /* glibc: start afresh (parse_args runs twice for --resume) */
    while ((c = getopt_long(argc, argv, "+:f:n:s:l:i:o:0vqh", options, NULL)) != -1) {
        switch (c) {
        case 'f': o->function = optarg; break;
        case OPT_FUNCTION_INIT: o->function_init = optarg; break;
        case OPT_SHELL: o->shell = 1; break;
        case OPT_COLSEP:
            if (!*optarg)
                return mpimap_cli_usage_error("run", usage, "--colsep: the separator is empty");
            o->colsep = optarg;
            break;
        case 'n':
            if ((rc = parse_count("--np", optarg, 1000000, &num)) != 0)
                return rc;
            o->np = (int)num;
            break;
        case 's': o->strategy = optarg; break;
        case OPT_CHUNK:
            if ((rc = parse_count("--chunk", optarg, (unsigned long long)1 << 40, &num)) != 0)
                return rc;
            o->chunk = (size_t)num;
            break;
        case 'l': o->launcher = optarg; break;
        case OPT_LAUNCHER_ARG:
            if (mpimap_strv_push(&a->largs, optarg) < 0)
                return mpimap_cli_fail("run", "out of memory");
            break;
        case OPT_HOSTFILE: o->hostfile = optarg; break;
        case 'i': o->input = optarg; break;
        case 'o': a->output = optarg; break;
        case '0': o->framing = MPIMAP_FRAME_NUL; break;
        case OPT_BINARY: o->framing = MPIMAP_FRAME_BINARY; break;
        case OPT_UNORDERED: o->unordered = 1; break;
        case OPT_JOBLOG: o->joblog = optarg; break;
        case OPT_WORKDIR: o->workdir = optarg; break;
        case OPT_DRY_RUN: a->x.dry_run = 1; break;
        case OPT_REPORT: a->report = 1; break;
        case OPT_REPORT_JSON: a->report_json = optarg; break;
        case 'v': a->verbose = 1; break;
        case 'q': a->quiet = 1; break;
        case OPT_NODES:
            free(a->error);
            a->error = NULL;
            if (mpimap_parse_nodestring(optarg, &o->nodes, &o->ppn, &o->cpus_per_rank,
                                        &a->error) < 0)
                return mpimap_cli_usage_error("run", usage, "--nodes: %s", a->error);
            break;
        case OPT_PPN:
        case OPT_CPR:
            if ((rc = parse_count(c == OPT_PPN ? "--ppn" : "--cpus-per-rank", optarg, 1000000,
                                  &num)) != 0)
                return rc;
            *(c == OPT_PPN ? &o->ppn : &o->cpus_per_rank) = (int)num;
            break;
        case OPT_WALLTIME:
            free(a->error);
            a->error = NULL;
            if (mpimap_parse_walltime(optarg, &o->walltime, &a->error) < 0)
                return mpimap_cli_usage_error("run", usage, "--walltime: %s", a->error);
            break;
        case OPT_QUEUE: o->queue = optarg; break;
        case OPT_QOS: o->qos = optarg; break;
        case OPT_ACCOUNT: o->account = optarg; break;
        case OPT_JOB_NAME: o->job_name = optarg; break;
        case OPT_RESERVATION: o->reservation = optarg; break;
        case OPT_MEM: o->mem = optarg; break;
        case OPT_EXPORT:
        case OPT_SCHED_ARG:
            if (mpimap_strv_push(c == OPT_EXPORT ? &a->exports : &a->sched_args, optarg) < 0)
                return mpimap_cli_fail("run", "out of memory");
            break;
        case OPT_VIA: o->via = optarg; break;
        case OPT_DETACH: a->x.detach = 1; break;
        case OPT_RETRIES:
            if (strcmp(optarg, "0") == 0) {
                o->retries = 0;
                break;
            }
            if ((rc = parse_count("--retries", optarg, 14, &num)) != 0)
                return rc;
            o->retries = (int)num;
            break;
        case OPT_MAX_RESTARTS:
            if (strcmp(optarg, "0") == 0) {
                o->max_restarts = -1;
                break;
            }
            if ((rc = parse_count("--max-restarts", optarg, 1000, &num)) != 0)
                return rc;
            o->max_restarts = (int)num;
            break;
        case OPT_TIMEOUT:
            if ((rc = parse_seconds("--timeout", optarg, &o->timeout)) != 0)
                return rc;
            break;
        case OPT_WATCHDOG:
            if ((rc = parse_seconds("--watchdog", optarg, &a->watchdog)) != 0)
                return rc;
            break;
        case OPT_RESUME: a->resume = optarg; break;
        case OPT_RETRY_FAILED: a->x.retry_failed = 1; break;
        case OPT_NO_JOURNAL: o->no_journal = 1; break;
        case 'h': a->help = 1; return MPIMAP_CLI_OK;
        case ':':
            return mpimap_cli_usage_error("run", usage, "option '%s' needs a value",
                                          argv[optind - 1]);
        default:
            if (optopt)
                return mpimap_cli_usage_error("run", usage, "unknown option '-%c'", optopt);
            return mpimap_cli_usage_error("run", usage, "unknown option '%s'",
                                          argv[optind - 1]);
        }
    }
    if (optind < argc)
        o->command = (const char *const *)(argv + optind);
    return MPIMAP_CLI_OK;
}

/* An absolute path for a path given relative to the directory we are in
 * (for --resume, which changes to the first run's directory). */
static char *absolute_here(const char *path)
{
    if (!path || path[0] == '/' || !strcmp(path, "-"))
        return path ? strdup(path) : NULL;
    char *cwd = getcwd(NULL, 0), *p = NULL;
    if (cwd && asprintf(&p, "%s/%s", cwd, path) < 0)
        p = NULL;
    free(cwd);
    return p;
}

/* --resume DIR: the command line of DIR's first run (DIR/cmdline), parsed
 * in that run's directory; then the options given now, on top. */
static int load_resume(struct run_args *a, int argc, char **argv, char **buf,
                       char ***sargv, char **keep)
{
    char *path = NULL;
    if (asprintf(&path, "%s/cmdline", a->resume) < 0)
        return mpimap_cli_fail("run", "out of memory");
    FILE *f = fopen(path, "r");
    if (!f) {
        int rc = mpimap_cli_fail("run", "--resume: cannot read '%s': %s (is '%s' the job "
                                        "directory of an `mpimap run`?)",
                                 path, strerror(errno), a->resume);
        free(path);
        return rc;
    }
    size_t cap = 0, len = 0;
    ssize_t n;
    char chunk[4096];
    while ((n = (ssize_t)fread(chunk, 1, sizeof chunk, f)) > 0) {
        char *p = realloc(*buf, len + (size_t)n + 1);
        if (!p) {
            fclose(f);
            free(path);
            return mpimap_cli_fail("run", "out of memory");
        }
        *buf = p;
        memcpy(*buf + len, chunk, (size_t)n);
        len += (size_t)n;
        cap = len;
    }
    fclose(f);
    (void)cap;
    size_t nargs = 0;
    for (size_t i = 0; i < len; i++)
        nargs += (*buf)[i] == '\0';
    if (nargs < 1 || (*buf)[len - 1] != '\0') {
        int rc = mpimap_cli_fail("run", "--resume: '%s' is damaged", path);
        free(path);
        return rc;
    }
    free(path);
    /* The paths given now stay where they are meant. */
    const char **fix[] = {&a->output, &a->report_json, &a->o.joblog, &a->o.hostfile};
    for (size_t i = 0; i < sizeof fix / sizeof fix[0]; i++) {
        if (!*fix[i])
            continue;
        char *abs = absolute_here(*fix[i]);
        if (!abs)
            return mpimap_cli_fail("run", "out of memory");
        keep[i] = abs;
        *fix[i] = abs;
    }
    *sargv = calloc(nargs + 1, sizeof **sargv);
    if (!*sargv)
        return mpimap_cli_fail("run", "out of memory");
    (*sargv)[0] = "run";
    char *at = *buf + strlen(*buf) + 1; /* after the directory */
    for (size_t i = 1; i < nargs; i++) {
        (*sargv)[i] = at;
        at += strlen(at) + 1;
    }
    if (chdir(*buf) != 0)
        return mpimap_cli_fail("run", "--resume: cannot change to '%s', where the job was "
                                      "started: %s",
                               *buf, strerror(errno));
    /* The first run's options, then today's on top (with their paths made
     * absolute above). */
    struct run_args now = *a;
    memset(&a->o, 0, sizeof a->o);
    a->o.input = "-";
    a->output = a->report_json = NULL;
    mpimap_strv_free(&a->largs);
    mpimap_strv_free(&a->exports);
    mpimap_strv_free(&a->sched_args);
    int rc = parse_args(a, (int)nargs, *sargv);
    const char *const *command = a->o.command;
    if (rc == MPIMAP_CLI_OK)
        rc = parse_args(a, argc, argv);
    if (rc != MPIMAP_CLI_OK)
        return rc;
    a->o.command = command;
    if (now.output)
        a->output = now.output;
    if (now.report_json)
        a->report_json = now.report_json;
    if (now.o.joblog)
        a->o.joblog = now.o.joblog;
    if (now.o.hostfile)
        a->o.hostfile = now.o.hostfile;
    return MPIMAP_CLI_OK;
}

int mpimap_cli_cmd_run(int argc, char **argv)
{
    struct run_args a;
    memset(&a, 0, sizeof a);
    a.o.input = "-";
    a.x.output_fd = STDOUT_FILENO;
    a.watchdog = 60;
    mpimap_ezmap_options *o = &a.o;
    struct mpimap_driver_extra *x = &a.x;
    char *resume_buf = NULL, **resume_argv = NULL, *keep[4] = {NULL, NULL, NULL, NULL};
    int rc = parse_args(&a, argc, argv);
    if (rc != MPIMAP_CLI_OK)
        goto out;
    if (a.help) {
        fputs(usage, stdout);
        fputs(usage_options, stdout);
        fputs(usage_failures, stdout);
        goto out;
    }
    if (a.x.retry_failed && !a.resume) {
        rc = mpimap_cli_usage_error("run", usage, "--retry-failed goes with --resume DIR");
        goto out;
    }
    if (a.resume) {
        if (o->command || o->function) {
            rc = mpimap_cli_usage_error("run", usage,
                                        "--resume runs the job as it was started: give no "
                                        "COMMAND or --function with it");
            goto out;
        }
        if ((rc = load_resume(&a, argc, argv, &resume_buf, &resume_argv, keep)) != 0)
            goto out;
        x->resume_dir = a.resume;
    } else {
        x->argv = (const char *const *)(argv + 1);
    }
    if (!o->function && !o->command) {
        rc = mpimap_cli_usage_error("run", usage,
                                    "nothing to run: give a COMMAND after -- or --function LIB:SYMBOL");
        goto out;
    }
    if (o->function && o->command) {
        rc = mpimap_cli_usage_error("run", usage, "give --function or a COMMAND, not both");
        goto out;
    }
    if (o->shell && (!o->command || o->command[1])) {
        rc = mpimap_cli_usage_error("run", usage,
                                    "--shell takes exactly one script after -- (the item is $1)");
        goto out;
    }
    if (a.output && strcmp(a.output, "-") != 0) {
        o->output = a.output;
        x->output_fd = -1;
    }
    if (a.largs.n)
        o->launcher_args = (const char *const *)a.largs.v;
    if (a.exports.n)
        o->exports = (const char *const *)a.exports.v;
    if (a.sched_args.n)
        o->sched_args = (const char *const *)a.sched_args.v;
    int tty = isatty(STDERR_FILENO);
    o->progress = tty && !a.quiet;

    mpimap_job *job = NULL;
    int r = mpimap_driver_start(o, x, NULL, 0, &job);
    if (r < 0) {
        rc = mpimap_cli_fail("run", "%s", mpimap_job_error(job) ? mpimap_job_error(job)
                                                                : mpimap_strerror(r));
        rc = r == MPIMAP_EINVAL && !mpimap_job_dir(job) ? MPIMAP_CLI_USAGE : MPIMAP_CLI_LAUNCH;
        mpimap_ezmap_free(job);
        goto out;
    }
    if (x->dry_run) {
        printf("%s\n", mpimap_job_command(job));
        if (!a.quiet)
            fprintf(stderr, "mpimap: dry run (launcher %s): nothing started; job directory "
                            "kept: %s\n",
                    mpimap_job_launcher(job), mpimap_job_dir(job));
        mpimap_ezmap_free(job);
        goto out;
    }
    if (mpimap_job_id(job) && (!a.quiet || x->detach))
        fprintf(stderr, "mpimap: submitted %s job %s; job directory %s\n",
                mpimap_job_launcher(job), mpimap_job_id(job), mpimap_job_dir(job));
    if (x->detach) {
        printf("%s\n", mpimap_job_dir(job)); /* for scripts: DIR=$(mpimap run --detach ...) */
        fprintf(stderr, "mpimap: detached; `mpimap status %s` tells how it goes and "
                        "`mpimap collect %s` writes the results\n",
                mpimap_job_dir(job), mpimap_job_dir(job));
        mpimap_job_detach(job);
        mpimap_ezmap_free(job);
        goto out;
    }
    if (a.verbose)
        fprintf(stderr, "mpimap: launcher %s: %s\nmpimap: job directory %s\n",
                mpimap_job_launcher(job), mpimap_job_command(job), mpimap_job_dir(job));
    r = mpimap_cli_wait(job, tty && !a.quiet, !a.quiet, a.quiet ? 0 : a.watchdog);
    if (r == 0 || r == MPIMAP_EITEMS) {
        if (!a.quiet)
            mpimap_cli_summary(job, r, a.verbose);
        rc = r == 0 ? MPIMAP_CLI_OK : MPIMAP_CLI_FAILURE;
        if (a.report || a.report_json)
            rc = show_report(job, a.report, a.report_json, rc);
    } else {
        mpimap_cli_fail("run", "%s", mpimap_job_error(job) ? mpimap_job_error(job)
                                                           : mpimap_strerror(r));
        rc = r == MPIMAP_ECRASH || r == MPIMAP_ECANCELED ? MPIMAP_CLI_DIED : MPIMAP_CLI_LAUNCH;
    }
    mpimap_ezmap_free(job);
out:
    free(a.error);
    free(resume_buf);
    free(resume_argv);
    for (size_t i = 0; i < 4; i++)
        free(keep[i]);
    mpimap_strv_free(&a.exports);
    mpimap_strv_free(&a.sched_args);
    mpimap_strv_free(&a.largs);
    return rc;
}
