/* SPDX-License-Identifier: BSD-3-Clause */
/* cmd_plugins.c - `mpimap plugins`: the table of plugins the registry found. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>

#include "commands.h"
#include "config.h" /* MPIMAP_PLUGINDIR */
#include "registry.h"

static const char plugins_usage[] =
    "usage: mpimap plugins [--all] [--kind strategy|launcher]\n"
    "\n"
    "List the usable plugins, in search order, with their KIND, NAME,\n"
    "VERSION (the plugin's own), ABI (the plugin ABI it was built for),\n"
    "PATH and DESCRIPTION.\n"
    "\n"
    "Options:\n"
    "  --all        also list the files that are not used: STATUS is ok,\n"
    "               shadowed (an earlier file has the same kind and name) or\n"
    "               rejected, and DETAIL says why (or describes the plugin)\n"
    "  --kind KIND  list only plugins of KIND: strategy or launcher\n"
    "  -h, --help   show this help and exit\n"
    "\n"
    "Plugins are files named mpimap_<kind>_<name>.so, searched for in the\n"
    "directories of MPIMAP_PLUGIN_PATH (a ':' list) and then in the plugin\n"
    "directory (" MPIMAP_PLUGINDIR "),\n"
    "which MPIMAP_PLUGIN_SYSTEM_PATH replaces (empty: none). The first file\n"
    "of a kind and name wins.\n";

enum { COL_KIND, COL_NAME, COL_STATUS, COL_VERSION, COL_ABI, COL_PATH,
       COL_DETAIL, NCOLS };

static const char *const col_title[NCOLS] = {
    "KIND", "NAME", "STATUS", "VERSION", "ABI", "PATH", "DETAIL"};

struct row {
    const char *cell[NCOLS];
    char abi[24]; /* "major.minor" of two uint16_t */
};

/* Print s with control characters (a plugin's description, a loader's
 * message) shown as spaces, so a row stays one line. */
static void put_text(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        putchar(*p < 0x20 || *p == 0x7f ? ' ' : *p);
}

static void put_row(const char *const cell[NCOLS], const int show[NCOLS],
                    const size_t width[NCOLS])
{
    /* No padding after the last cell that has text. */
    int last = NCOLS - 1;
    while (last > 0 && (!show[last] || !*cell[last]))
        last--;
    for (int c = 0; c <= last; c++) {
        if (!show[c])
            continue;
        put_text(cell[c]);
        if (c == last)
            break;
        for (size_t n = strlen(cell[c]); n < width[c] + 2; n++)
            putchar(' ');
    }
    putchar('\n');
}

static const char *state_word(int state)
{
    switch (state) {
    case MPIMAP_PLUGIN_LOADED: return "ok";
    case MPIMAP_PLUGIN_SHADOWED: return "shadowed";
    case MPIMAP_PLUGIN_REJECTED: return "rejected";
    case MPIMAP_PLUGIN_FOUND: return "not loaded";
    default: return "unknown";
    }
}

static void fill_row(struct row *r, const mpimap_plugin_info *info)
{
    const struct mpimap_plugin *pl =
        info->state == MPIMAP_PLUGIN_LOADED ? info->plugin : NULL;
    const char *kind = mpimap_kind_name(info->kind);

    r->cell[COL_KIND] = kind ? kind : "?";
    r->cell[COL_NAME] = info->name ? info->name : "?";
    r->cell[COL_STATUS] = state_word(info->state);
    r->cell[COL_PATH] = info->path ? info->path : "?";
    r->cell[COL_VERSION] = pl && pl->version ? pl->version : "-";
    if (pl) {
        snprintf(r->abi, sizeof r->abi, "%u.%u", (unsigned)pl->abi_major,
                 (unsigned)pl->abi_minor);
        r->cell[COL_ABI] = r->abi;
    } else {
        r->cell[COL_ABI] = "-";
    }
    if (pl)
        r->cell[COL_DETAIL] = pl->description ? pl->description : "";
    else
        r->cell[COL_DETAIL] = info->reason ? info->reason : "";
}

/* "strategy, launcher", from the registry's own kind names (malloc'd). */
static char *valid_kinds(void)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f)
        return NULL;
    for (int k = 1; mpimap_kind_name(k); k++)
        fprintf(f, "%s%s", k > 1 ? ", " : "", mpimap_kind_name(k));
    if (fclose(f) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

static void report_empty(int all, int kind)
{
    const char *path = getenv("MPIMAP_PLUGIN_PATH");
    const char *sys = getenv("MPIMAP_PLUGIN_SYSTEM_PATH");
    const char *kname = kind ? mpimap_kind_name(kind) : NULL;

    fprintf(stderr,
            "mpimap plugins: no %s%s%splugin%s found (MPIMAP_PLUGIN_PATH: %s; "
            "plugin directory: %s)\n",
            all ? "" : "usable ", kname ? kname : "", kname ? " " : "",
            all ? " files" : "s",
            path && *path ? path : "unset",
            sys ? (*sys ? sys : "none, MPIMAP_PLUGIN_SYSTEM_PATH is empty")
                : MPIMAP_PLUGINDIR);
}

static int list_plugins(mpimap_registry *reg, int all, int kind)
{
    size_t n = mpimap_registry_count(reg);
    struct row *rows = calloc(n ? n : 1, sizeof *rows);
    if (!rows)
        return mpimap_cli_fail("plugins", "%s", mpimap_strerror(MPIMAP_ENOMEM));

    size_t nrows = 0, hidden = 0;
    for (size_t i = 0; i < n; i++) {
        mpimap_plugin_info info;
        if (mpimap_registry_info(reg, i, &info) != 0)
            continue;
        if (kind && info.kind != kind)
            continue;
        if (!all && info.state != MPIMAP_PLUGIN_LOADED) {
            if (info.state == MPIMAP_PLUGIN_REJECTED)
                hidden++;
            continue;
        }
        fill_row(&rows[nrows++], &info);
    }

    int show[NCOLS] = {1, 1, all, 1, 1, 1, 1};
    const char *titles[NCOLS];
    size_t width[NCOLS];
    for (int c = 0; c < NCOLS; c++) {
        titles[c] = c == COL_DETAIL && !all ? "DESCRIPTION" : col_title[c];
        width[c] = strlen(titles[c]);
        for (size_t r = 0; r < nrows; r++) {
            size_t w = strlen(rows[r].cell[c]);
            if (w > width[c])
                width[c] = w;
        }
    }

    if (nrows == 0) {
        report_empty(all, kind);
    } else {
        put_row(titles, show, width);
        for (size_t r = 0; r < nrows; r++)
            put_row(rows[r].cell, show, width);
    }
    if (hidden)
        fprintf(stderr,
                "mpimap plugins: %zu file%s rejected; "
                "'mpimap plugins --all' shows why\n",
                hidden, hidden == 1 ? " was" : "s were");
    free(rows);
    return MPIMAP_CLI_OK;
}

int mpimap_cli_cmd_plugins(int argc, char **argv)
{
    int all = 0;
    const char *kind_word = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (mpimap_cli_is_help(a)) {
            fputs(plugins_usage, stdout);
            return MPIMAP_CLI_OK;
        } else if (strcmp(a, "--all") == 0) {
            all = 1;
        } else if (strcmp(a, "--kind") == 0) {
            if (i + 1 >= argc)
                return mpimap_cli_usage_error(
                    "plugins", plugins_usage,
                    "option '--kind' needs a value (strategy or launcher)");
            kind_word = argv[++i];
        } else if (strncmp(a, "--kind=", 7) == 0) {
            kind_word = a + 7;
        } else if (a[0] == '-' && a[1] != '\0') {
            return mpimap_cli_usage_error("plugins", plugins_usage,
                                          "unknown option '%s'", a);
        } else {
            return mpimap_cli_usage_error("plugins", plugins_usage,
                                          "unexpected argument '%s'", a);
        }
    }

    int kind = 0;
    if (kind_word) {
        kind = mpimap_kind_from_name(kind_word);
        if (kind == 0) {
            char *kinds = valid_kinds();
            int rc = mpimap_cli_usage_error(
                "plugins", NULL, "unknown kind '%s'; valid kinds: %s",
                kind_word, kinds ? kinds : "strategy, launcher");
            free(kinds);
            return rc;
        }
    }

    mpimap_registry *reg = NULL;
    int rc = mpimap_registry_open(&reg);
    if (rc < 0)
        return mpimap_cli_fail("plugins", "cannot search for plugins: %s",
                               mpimap_strerror(rc));
    /* A broken plugin is not an error here: it stays in the registry as
     * rejected, with its reason. Only running out of memory is. */
    rc = mpimap_registry_load_all(reg);
    if (rc == MPIMAP_ENOMEM) {
        mpimap_registry_close(reg);
        return mpimap_cli_fail("plugins", "%s", mpimap_strerror(rc));
    }
    rc = list_plugins(reg, all, kind);
    mpimap_registry_close(reg);
    return rc;
}
