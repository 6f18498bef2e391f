/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * world.c - mpimap-world, the MPI program behind `mpimap world` (pyina's
 * mpi_world): every rank reports where it runs, and rank 0 prints
 *
 *   # SCHEDULER job JOBID nodes NODES     (only inside a scheduler's job)
 *   RANK HOST PID CPUS                    (one line per rank, in rank order)
 *
 * CPUS is the rank's CPU affinity as ranges ("0-1,4"). NODES is the job's
 * node list as the scheduler gives it (SLURM_JOB_NODELIST), or the distinct
 * hosts of PBS_NODEFILE, LSB_HOSTS or PE_HOSTFILE, comma-separated, in
 * order; "?" when it cannot be read.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>

#ifndef HOST_NAME_MAX
#define HOST_NAME_MAX 255
#endif

static void die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mpimap-world: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

/* ---- a growable string -------------------------------------------------- */

struct str {
    char *s;
    size_t n, cap;
};

static void str_add(struct str *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void str_add(struct str *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            die("formatting failed");
        if (b->s && (size_t)n < b->cap - b->n) {
            b->n += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p)
            die("out of memory");
        b->s = p;
        b->cap = cap;
    }
}

/* ---- this rank ---------------------------------------------------------- */

/* The CPUs this process may run on, as ranges: "0-3,6". */
static void cpu_list(struct str *out)
{
    int ncpu = 1024;
    cpu_set_t *set = NULL;
    size_t size = 0;
    for (;;) {
        set = CPU_ALLOC((size_t)ncpu);
        if (!set)
            die("out of memory");
        size = CPU_ALLOC_SIZE((size_t)ncpu);
        CPU_ZERO_S(size, set);
        if (sched_getaffinity(0, size, set) == 0)
            break;
        CPU_FREE(set);
        if (errno != EINVAL || ncpu > (1 << 24)) {
            str_add(out, "?");
            return;
        }
        ncpu *= 2; /* the kernel's mask is larger */
    }
    int any = 0;
    for (int c = 0; c < ncpu; c++) {
        if (!CPU_ISSET_S((size_t)c, size, set))
            continue;
        int last = c;
        while (last + 1 < ncpu && CPU_ISSET_S((size_t)(last + 1), size, set))
            last++;
        if (last == c)
            str_add(out, "%s%d", any ? "," : "", c);
        else
            str_add(out, "%s%d-%d", any ? "," : "", c, last);
        any = 1;
        c = last;
    }
    if (!any)
        str_add(out, "?");
    CPU_FREE(set);
}

/* "RANK HOST PID CPUS\n" for this rank. */
static void my_line(int rank, struct str *out)
{
    char host[HOST_NAME_MAX + 1];
    if (gethostname(host, sizeof host) != 0)
        strcpy(host, "?");
    host[HOST_NAME_MAX] = '\0';
    for (char *p = host; *p; p++)
        if (*p == ' ' || *p == '\t' || *p == '\n')
            *p = '_'; /* one word, whatever the name */
    str_add(out, "%d %s %ld ", rank, host, (long)getpid());
    cpu_list(out);
    str_add(out, "\n");
}

/* ---- the scheduler's job ------------------------------------------------ */

/* Add host (length n) to the comma list out unless it is there already. */
static void add_host(struct str *out, const char *host, size_t n)
{
    if (n == 0)
        return;
    for (const char *p = out->s; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && memcmp(p, host, n) == 0)
            return;
        p += len;
        if (*p == ',')
            p++;
    }
    str_add(out, "%s%.*s", out->n ? "," : "", (int)n, host);
}

/* The distinct first words of the lines of the file named by variable
 * (PBS_NODEFILE: one host per slot; PE_HOSTFILE: "host slots queue ..."). */
static void hosts_of_file(const char *variable, struct str *out)
{
    const char *path = getenv(variable);
    FILE *f = path && *path ? fopen(path, "re") : NULL;
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0) {
        const char *h = line + strspn(line, " \t");
        add_host(out, h, strcspn(h, " \t\r\n"));
    }
    free(line);
    fclose(f);
}

/* The distinct words of a blank-separated list (LSB_HOSTS). */
static void hosts_of_words(const char *text, struct str *out)
{
    for (const char *p = text; p && *p;) {
        p += strspn(p, " \t\n");
        size_t n = strcspn(p, " \t\n");
        add_host(out, p, n);
        p += n;
    }
}

static int is_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

/* "# slurm job 42 nodes n[1-4]\n", or nothing outside a scheduler's job. */
static void job_line(struct str *out)
{
    const char *sched = NULL, *id = NULL;
    struct str nodes = {0};
    if (is_set("SLURM_JOB_ID")) {
        sched = "slurm";
        id = getenv("SLURM_JOB_ID");
        if (is_set("SLURM_JOB_NODELIST"))
            str_add(&nodes, "%s", getenv("SLURM_JOB_NODELIST"));
    } else if (is_set("PBS_JOBID")) {
        sched = "pbs";
        id = getenv("PBS_JOBID");
        hosts_of_file("PBS_NODEFILE", &nodes);
    } else if (is_set("LSB_JOBID")) {
        sched = "lsf";
        id = getenv("LSB_JOBID");
        hosts_of_words(getenv("LSB_HOSTS"), &nodes);
    } else if (is_set("JOB_ID") && is_set("SGE_ROOT")) {
        sched = "sge";
        id = getenv("JOB_ID");
        hosts_of_file("PE_HOSTFILE", &nodes);
    }
    if (sched)
        str_add(out, "# %s job %s nodes %s\n", sched, id, nodes.n ? nodes.s : "?");
    free(nodes.s);
}

int main(int argc, char **argv)
{
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fputs("mpimap-world: MPI_Init failed\n", stderr);
        return 1;
    }
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    struct str line = {0};
    my_line(rank, &line);
    if (line.n > INT_MAX)
        die("a line of %zu bytes is too long", line.n);
    int len = (int)line.n;

    /* Every rank's length, then every rank's line, at rank 0. */
    int *lens = NULL, *displs = NULL;
    char *all = NULL;
    if (rank == 0) {
        lens = calloc((size_t)size, sizeof *lens);
        displs = calloc((size_t)size, sizeof *displs);
        if (!lens || !displs)
            die("out of memory");
    }
    if (MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
        die("MPI_Gather failed");
    if (rank == 0) {
        long long total = 0;
        for (int r = 0; r < size; r++) {
            if (total + lens[r] > INT_MAX)
                die("the lines of %d ranks are too long", size);
            displs[r] = (int)total;
            total += lens[r];
        }
        if (!(all = malloc((size_t)total + 1)))
            die("out of memory");
    }
    if (MPI_Gatherv(line.s, len, MPI_CHAR, all, lens, displs, MPI_CHAR, 0,
                    MPI_COMM_WORLD) != MPI_SUCCESS)
        die("MPI_Gatherv failed");

    int rc = 0;
    if (rank == 0) {
        struct str head = {0};
        job_line(&head);
        if (head.n)
            fwrite(head.s, 1, head.n, stdout);
        free(head.s);
        fwrite(all, 1, (size_t)displs[size - 1] + (size_t)lens[size - 1], stdout);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "mpimap-world: write error on standard output: %s\n",
                    strerror(errno));
            rc = 1;
        }
    }
    free(lens);
    free(displs);
    free(all);
    free(line.s);
    MPI_Finalize();
    return rc;
}
