/* SPDX-License-Identifier: BSD-3-Clause */
/* cmd_config.c - `mpimap config`: the site and user defaults in force, and
 * the file and line each one comes from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/mpimap.h>

#include "commands.h"
#include "siteconfig.h"

static const char config_usage[] =
    "usage: mpimap config\n"
    "\n"
    "Print each setting of the mpimap config files in force: its KEY, its\n"
    "VALUE, and its SOURCE, the FILE:LINE it comes from, or \"default\" when\n"
    "no file sets it (the VALUE in parentheses then says what happens).\n"
    "A directive is listed once per line that adds one.\n"
    "\n"
    "Files, read in this order, a later one overriding an earlier one key\n"
    "by key (the options of `mpimap run` override them all):\n"
    "  /etc/mpimap/mpimap.conf (or $MPIMAP_CONFIG_SYSTEM; empty: none)\n"
    "  $XDG_CONFIG_HOME/mpimap/mpimap.conf, or ~/.config/mpimap/mpimap.conf\n"
    "  $MPIMAP_CONFIG (must exist when set)\n"
    "\n"
    "Format: \"key = value\" lines, blank lines and lines starting with '#';\n"
    "a value may be double-quoted (\\\" and \\\\ escape in it). Keys:\n"
    "  launcher     the launcher of mpimap run (a plugin name)\n"
    "  via          the direct launcher inside a batch job\n"
    "  strategy     the strategy (a plugin name)\n"
    "  np           the number of ranks\n"
    "  queue, account, qos, walltime    scheduler resources\n"
    "  mpirun_args  extra launcher arguments, split like sh (no expansion)\n"
    "  directive    an extra scheduler directive (repeatable)\n"
    "\n"
    "Options:\n"
    "  -h, --help   show this help and exit\n"
    "\n"
    "Exit status: 0, or 2 when a config file is malformed or cannot be read\n"
    "(the message names the file and line).\n";

/* What happens when no file sets a key. */
static const char *default_of(const char *key)
{
    static const struct {
        const char *key, *text;
    } d[] = {
        {"launcher", "(auto: the best launcher found here)"},
        {"via", "(the scheduler's: srun for slurm, else mpirun)"},
        {"strategy", "pool"},
        {"np", "(the CPUs here)"},
        {"queue", "(the scheduler's default)"},
        {"account", "(the scheduler's default)"},
        {"qos", "(the scheduler's default)"},
        {"walltime", "(the scheduler's default)"},
        {"mpirun_args", "(none)"},
        {"directive", "(none)"},
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (strcmp(d[i].key, key) == 0)
            return d[i].text;
    return "(unset)";
}

/* A value as it would be written in a config file: bare, or double-quoted
 * when empty, blank at either end or starting with '"' (malloc'd). */
static char *shown(const char *v)
{
    size_t n = strlen(v);
    int quote = n == 0 || v[0] == '"' || v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' ||
                v[n - 1] == '\t';
    if (!quote)
        return strdup(v);
    char *s = malloc(2 * n + 3);
    if (!s)
        return NULL;
    char *w = s;
    *w++ = '"';
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            *w++ = '\\';
        *w++ = *v;
    }
    *w++ = '"';
    *w = '\0';
    return s;
}

struct row {
    const char *key, *source;
    char *value;
};

int mpimap_cli_cmd_config(int argc, char **argv)
{
    int rc = mpimap_cli_no_args(argc, argv, config_usage);
    if (rc >= 0)
        return rc;

    struct mpimap_config cfg = {0};
    char *error = NULL;
    rc = mpimap_config_load(&cfg, &error);
    if (rc < 0) {
        mpimap_cli_fail("config", "%s", error ? error : mpimap_strerror(rc));
        free(error);
        return rc == MPIMAP_ENOMEM ? MPIMAP_CLI_FAILURE : MPIMAP_CLI_USAGE;
    }

    size_t nkeys = 0;
    while (mpimap_config_keys[nkeys])
        nkeys++;
    struct row *rows = calloc(cfg.n + nkeys, sizeof *rows);
    size_t nrows = 0;
    rc = rows ? MPIMAP_CLI_OK : MPIMAP_CLI_FAILURE;
    /* In key order; a key's entries in the order read. */
    for (size_t k = 0; rows && k < nkeys; k++) {
        const char *key = mpimap_config_keys[k];
        size_t before = nrows;
        for (size_t i = 0; i < cfg.n; i++) {
            if (strcmp(cfg.v[i].key, key) != 0 || !mpimap_config_in_force(&cfg, i))
                continue;
            rows[nrows].key = key;
            rows[nrows].source = cfg.v[i].source;
            if (!(rows[nrows++].value = shown(cfg.v[i].value)))
                rc = MPIMAP_CLI_FAILURE;
        }
        if (nrows == before) {
            rows[nrows].key = key;
            rows[nrows].source = "default";
            if (!(rows[nrows++].value = strdup(default_of(key))))
                rc = MPIMAP_CLI_FAILURE;
        }
    }
    if (rc != MPIMAP_CLI_OK) {
        mpimap_cli_fail("config", "%s", mpimap_strerror(MPIMAP_ENOMEM));
    } else {
        int wk = (int)strlen("KEY"), wv = (int)strlen("VALUE");
        for (size_t r = 0; r < nrows; r++) {
            if ((int)strlen(rows[r].key) > wk)
                wk = (int)strlen(rows[r].key);
            if ((int)strlen(rows[r].value) > wv)
                wv = (int)strlen(rows[r].value);
        }
        printf("%-*s  %-*s  %s\n", wk, "KEY", wv, "VALUE", "SOURCE");
        for (size_t r = 0; r < nrows; r++)
            printf("%-*s  %-*s  %s\n", wk, rows[r].key, wv, rows[r].value, rows[r].source);
    }
    for (size_t r = 0; rows && r < nrows; r++)
        free(rows[r].value);
    free(rows);
    mpimap_config_free(&cfg);
    return rc;
}
