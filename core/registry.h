/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * registry.h - plugin discovery, validation, look-up and listing (internal).
 *
 * The registry walks MPIMAP_PLUGIN_PATH (a ':' list) and then the compiled-in
 * plugin directory (replaced by MPIMAP_PLUGIN_SYSTEM_PATH when that is set;
 * empty means none). Only files named mpimap_<kind>_<name>.so are
 * considered; the first file of a kind/name wins and later ones are kept as
 * shadowed. Files are loaded lazily (on look-up, or all at once for
 * listing) and validated against the ABI rule of <mpimap/plugin.h>; every
 * rejected file stays in the registry with its path and the reason.
 * All functions are safe to call from several threads.
 */
#ifndef MPIMAP_CORE_REGISTRY_H
#define MPIMAP_CORE_REGISTRY_H

#include <stddef.h>

#include <mpimap/plugin.h>

typedef struct mpimap_registry mpimap_registry;

enum mpimap_plugin_state {
    MPIMAP_PLUGIN_FOUND,    /* file found, not loaded yet */
    MPIMAP_PLUGIN_LOADED,   /* loaded and valid */
    MPIMAP_PLUGIN_SHADOWED, /* an earlier file has the same kind/name */
    MPIMAP_PLUGIN_REJECTED  /* loading or validation failed: see reason */
};

/* One file the registry knows about. Strings live as long as the registry. */
typedef struct mpimap_plugin_info {
    int kind;                 /* enum mpimap_plugin_kind */
    const char *name;         /* from the file name */
    const char *path;         /* absolute path */
    int state;                /* enum mpimap_plugin_state */
    const char *reason;       /* REJECTED: why; SHADOWED: "shadowed by PATH" */
    const struct mpimap_plugin *plugin; /* LOADED only, else NULL */
} mpimap_plugin_info;

/* Scan the plugin directories (no file is loaded yet). */
int mpimap_registry_open(mpimap_registry **out);

/* Run every loaded plugin's fini hook, unload, free. NULL is fine. */
void mpimap_registry_close(mpimap_registry *reg);

/* Load and validate every file not loaded yet (for listing). */
int mpimap_registry_load_all(mpimap_registry *reg);

/* The files known, in search order: first-hit winners and shadowed and
 * rejected files alike. */
size_t mpimap_registry_count(const mpimap_registry *reg);
int mpimap_registry_info(const mpimap_registry *reg, size_t i,
                         mpimap_plugin_info *out);

/*
 * Look up a plugin of a kind by name, loading it if needed. On success
 * *out is the validated descriptor (valid until mpimap_registry_close()).
 * On failure returns MPIMAP_ENOTFOUND (no such name), MPIMAP_EABI,
 * MPIMAP_ELOAD or MPIMAP_EDECLINED, and, when error is not NULL, sets
 * *error to a malloc'd message for the user, such as
 *   "no strategy 'pol'; available: pool, scatter"
 *   "strategy 'pool' (/path/mpimap_strategy_pool.so) was rejected: ..."
 */
int mpimap_registry_find(mpimap_registry *reg, int kind, const char *name,
                         const struct mpimap_plugin **out, char **error);

/* The names of the usable plugins of a kind, loading them, as
 * "pool, scatter" (malloc'd; "(none)" when there is none). */
char *mpimap_registry_names(mpimap_registry *reg, int kind);

/* Auto-selection: load every plugin of the kind, call each query hook,
 * and return the one with the highest non-negative priority. */
int mpimap_registry_best(mpimap_registry *reg, int kind,
                         const struct mpimap_plugin **out, char **error);

/* "strategy" / "launcher", or NULL for an unknown kind; and the reverse
 * (0 for an unknown word). */
const char *mpimap_kind_name(int kind);
int mpimap_kind_from_name(const char *word);

#endif /* MPIMAP_CORE_REGISTRY_H */
