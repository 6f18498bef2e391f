/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mpimap/plugin.h - the one descriptor every mpimap plugin exports.
 *
 * A plugin is a shared object named mpimap_<kind>_<name>.so that exports a
 * single data symbol, MPIMAP_PLUGIN_SYMBOL, of type struct mpimap_plugin.
 * Fill it with MPIMAP_PLUGIN_DEFINE(); never define it by hand.
 *
 * ABI rule (checked by the registry before anything else is read):
 *   - magic must equal MPIMAP_PLUGIN_MAGIC;
 *   - abi_major must equal the runtime's MPIMAP_ABI_MAJOR;
 *   - abi_minor must not be newer than the runtime's MPIMAP_ABI_MINOR;
 *   - size must cover at least the fields of ABI 1.0 (MPIMAP_PLUGIN_MIN_SIZE);
 *     the runtime never reads past the plugin's own size.
 * Appending a field to the descriptor or to an ops table bumps the minor;
 * any other change (reordering, removing, changing a type) bumps the major.
 */
#ifndef MPIMAP_PLUGIN_H
#define MPIMAP_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPIMAP_PLUGIN_MAGIC 0x4d50504cu /* "MPPL" */
#define MPIMAP_ABI_MAJOR 1
#define MPIMAP_ABI_MINOR 2
#define MPIMAP_PLUGIN_SYMBOL "mpimap_plugin_descriptor"
#define MPIMAP_PLUGIN_SYMBOL_ID mpimap_plugin_descriptor

/* The kinds of plugin, as they appear in the file name. */
enum mpimap_plugin_kind {
    MPIMAP_KIND_STRATEGY = 1, /* "strategy": how items are dealt to ranks */
    MPIMAP_KIND_LAUNCHER = 2  /* "launcher": how the MPI job is started */
};

struct mpimap_plugin {
    uint32_t magic;     /* MPIMAP_PLUGIN_MAGIC */
    uint16_t abi_major; /* MPIMAP_ABI_MAJOR the plugin was built against */
    uint16_t abi_minor; /* MPIMAP_ABI_MINOR the plugin was built against */
    uint32_t size;      /* sizeof(struct mpimap_plugin) as the plugin saw it */
    uint32_t kind;      /* enum mpimap_plugin_kind */
    const char *name;        /* must equal <name> in the file name */
    const char *version;     /* the plugin's own version, free text */
    const char *description; /* one line, shown by `mpimap plugins` */
    /* Optional hooks (NULL when absent). */
    /* init: called once after validation. Return 0 to accept; anything else
     * declines the plugin, and *reason (a static string the plugin owns) is
     * shown by `mpimap plugins --all`. */
    int (*init)(const char **reason);
    /* fini: called once before the plugin is unloaded. */
    void (*fini)(void);
    /* query: a priority from the environment for auto-selection; negative
     * means "not usable here". Higher wins. */
    int (*query)(void);
    /* The kind's ops table (struct mpimap_strategy_ops or
     * struct mpimap_launcher_ops); its first field is its own size. */
    const void *ops;
};

/* The size of a descriptor of ABI 1.0: anything smaller is malformed. */
#define MPIMAP_PLUGIN_MIN_SIZE \
    (offsetof(struct mpimap_plugin, ops) + sizeof(const void *))

#if defined(__GNUC__)
#define MPIMAP_PLUGIN_EXPORT __attribute__((visibility("default"))) __attribute__((used))
#else
#define MPIMAP_PLUGIN_EXPORT
#endif

/*
 * MPIMAP_PLUGIN_DEFINE(kind, name, version, description, init, fini, query, ops)
 *
 *   MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_STRATEGY, "pool", "1.0.0",
 *                        "card dealer", NULL, NULL, NULL, &pool_ops);
 */
#define MPIMAP_PLUGIN_DEFINE(kind_, name_, version_, description_, init_, \
                             fini_, query_, ops_)                         \
    MPIMAP_PLUGIN_EXPORT const struct mpimap_plugin                       \
        MPIMAP_PLUGIN_SYMBOL_ID = {                                       \
            MPIMAP_PLUGIN_MAGIC,                                          \
            MPIMAP_ABI_MAJOR,                                             \
            MPIMAP_ABI_MINOR,                                             \
            (uint32_t)sizeof(struct mpimap_plugin),                       \
            (uint32_t)(kind_),                                            \
            (name_),                                                      \
            (version_),                                                   \
            (description_),                                               \
            (init_),                                                      \
            (fini_),                                                      \
            (query_),                                                     \
            (ops_)}

#ifdef __cplusplus
}
#endif

#endif /* MPIMAP_PLUGIN_H */
