/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * render_batch.c - print the job script a scheduler launcher plugin renders,
 * outside the driver: dlopen the plugin and call its script() hook with a
 * launch spec built from the command line.
 *
 *   render_batch PLUGIN.so --inner 'mpirun -np 2 ...' [--np N] [--nodes N]
 *       [--ppn P] [--cpus C] [--walltime SECONDS] [--queue Q] [--qos Q]
 *       [--account A] [--job-name NAME] [--reservation R] [--mem M]
 *       [--export VAR[=VALUE]]... [--sched-arg ARG]... [--jobdir DIR]
 *       [--log FILE]
 *
 * Exit status: 0 with the script on standard output; 1 when script() says
 * no (its message on standard error); 2 on a usage or loading error.
 */
#include <dlfcn.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>

static int usage(const char *why)
{
    fprintf(stderr, "render_batch: %s\nusage: render_batch PLUGIN.so --inner CMD [options]\n",
            why);
    return 2;
}

static int to_int(const char *s, int *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < -1000000 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    enum { O_NP = 256, O_NODES, O_PPN, O_CPUS, O_WALL, O_QUEUE, O_QOS, O_ACCOUNT, O_NAME,
           O_RES, O_MEM, O_EXPORT, O_SARG, O_JOBDIR, O_LOG, O_INNER };
    static const struct option opts[] = {
        {"np", required_argument, NULL, O_NP},
        {"nodes", required_argument, NULL, O_NODES},
        {"ppn", required_argument, NULL, O_PPN},
        {"cpus", required_argument, NULL, O_CPUS},
        {"walltime", required_argument, NULL, O_WALL},
        {"queue", required_argument, NULL, O_QUEUE},
        {"qos", required_argument, NULL, O_QOS},
        {"account", required_argument, NULL, O_ACCOUNT},
        {"job-name", required_argument, NULL, O_NAME},
        {"reservation", required_argument, NULL, O_RES},
        {"mem", required_argument, NULL, O_MEM},
        {"export", required_argument, NULL, O_EXPORT},
        {"sched-arg", required_argument, NULL, O_SARG},
        {"jobdir", required_argument, NULL, O_JOBDIR},
        {"log", required_argument, NULL, O_LOG},
        {"inner", required_argument, NULL, O_INNER},
        {NULL, 0, NULL, 0}};
    struct mpimap_launch_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.size = (uint32_t)sizeof spec;
    spec.np = 1;
    mpimap_strv exports = {0}, sargs = {0};
    static const char *const none[] = {NULL};
    int rc = 0, c;
    while (rc == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_NP: rc = to_int(optarg, &spec.np); break;
        case O_NODES: rc = to_int(optarg, &spec.nodes); break;
        case O_PPN: rc = to_int(optarg, &spec.ppn); break;
        case O_CPUS: rc = to_int(optarg, &spec.cpus_per_rank); break;
        case O_WALL: {
            int w = 0;
            rc = to_int(optarg, &w);
            spec.walltime = w;
            break;
        }
        case O_QUEUE: spec.queue = optarg; break;
        case O_QOS: spec.qos = optarg; break;
        case O_ACCOUNT: spec.account = optarg; break;
        case O_NAME: spec.job_name = optarg; break;
        case O_RES: spec.reservation = optarg; break;
        case O_MEM: spec.mem = optarg; break;
        case O_EXPORT: rc = mpimap_strv_push(&exports, optarg) < 0 ? -1 : 0; break;
        case O_SARG: rc = mpimap_strv_push(&sargs, optarg) < 0 ? -1 : 0; break;
        case O_JOBDIR: spec.jobdir = optarg; break;
        case O_LOG: spec.log_path = optarg; break;
        case O_INNER: spec.inner_command = optarg; break;
        default: rc = -1; break;
        }
    }
    if (rc != 0 || optind != argc - 1) {
        mpimap_strv_free(&exports);
        mpimap_strv_free(&sargs);
        return usage("bad arguments");
    }
    spec.exports = exports.v ? (const char *const *)exports.v : none;
    spec.sched_args = sargs.v ? (const char *const *)sargs.v : none;
    spec.env = none;
    spec.launcher_args = none;

    int status = 2;
    void *h = dlopen(argv[optind], RTLD_NOW | RTLD_LOCAL);
    const struct mpimap_plugin *p = h ? dlsym(h, MPIMAP_PLUGIN_SYMBOL) : NULL;
    const struct mpimap_launcher_ops *ops = p ? p->ops : NULL;
    if (!h) {
        fprintf(stderr, "render_batch: %s\n", dlerror());
    } else if (!ops || p->kind != MPIMAP_KIND_LAUNCHER ||
               !(ops->flags & MPIMAP_LAUNCHER_BATCH) || !ops->script) {
        fprintf(stderr, "render_batch: %s is not a scheduler launcher\n", argv[optind]);
    } else {
        char *text = NULL, *error = NULL;
        int r = ops->script(&spec, &text, &error);
        if (r == 0) {
            fputs(text, stdout);
            status = fflush(stdout) == 0 ? 0 : 2;
        } else {
            fprintf(stderr, "%s\n", error ? error : mpimap_strerror(r));
            status = 1;
        }
        free(text);
        free(error);
    }
    if (h)
        dlclose(h);
    mpimap_strv_free(&exports);
    mpimap_strv_free(&sargs);
    return status;
}
