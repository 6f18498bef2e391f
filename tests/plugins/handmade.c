/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handmade.c - a descriptor defined by hand (not with MPIMAP_PLUGIN_DEFINE)
 * so that the tests can break one field at a time. Built several times with
 * -D flags overriding the defaults below (see meson.build).
 */
#include <stddef.h>

#include <mpimap/plugin.h>

#ifndef T_NAME
#error "T_NAME must be defined"
#endif
#ifndef T_MAGIC
#define T_MAGIC MPIMAP_PLUGIN_MAGIC
#endif
#ifndef T_MAJOR
#define T_MAJOR MPIMAP_ABI_MAJOR
#endif
#ifndef T_MINOR
#define T_MINOR MPIMAP_ABI_MINOR
#endif
#ifndef T_SIZE
#define T_SIZE sizeof(struct mpimap_plugin)
#endif
#ifndef T_KIND
#define T_KIND MPIMAP_KIND_STRATEGY
#endif
#ifndef T_VERSION
#define T_VERSION "0.0.1"
#endif
#ifndef T_OPS
#define T_OPS (&ops)
#endif
#ifndef T_OPS_SIZE
#define T_OPS_SIZE sizeof(struct test_ops)
#endif

struct test_ops {
    uint32_t size;
    int (*ping)(void);
};

static int ping(void)
{
    return 7;
}

__attribute__((used)) static const struct test_ops ops = {
    (uint32_t)(T_OPS_SIZE), ping};

__attribute__((visibility("default")))
const struct mpimap_plugin mpimap_plugin_descriptor = {
    (uint32_t)(T_MAGIC),
    (uint16_t)(T_MAJOR),
    (uint16_t)(T_MINOR),
    (uint32_t)(T_SIZE),
    (uint32_t)(T_KIND),
    T_NAME,
    T_VERSION,
    "hand-made test descriptor",
    NULL,
    NULL,
    NULL,
    T_OPS};
