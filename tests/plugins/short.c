/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * short.c - a descriptor that really is shorter than struct mpimap_plugin
 * (it stops after description). Its size field tells the truth, or, with
 * -DT_LIE, claims today's full size (the registry must not read past the
 * real object).
 */
#include <stdint.h>

#include <mpimap/plugin.h>

#ifndef T_NAME
#error "T_NAME must be defined"
#endif

struct short_descriptor {
    uint32_t magic;
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t size;
    uint32_t kind;
    const char *name;
    const char *version;
    const char *description;
};

#ifdef T_LIE
#define T_SIZE sizeof(struct mpimap_plugin)
#else
#define T_SIZE sizeof(struct short_descriptor)
#endif

__attribute__((visibility("default")))
const struct short_descriptor mpimap_plugin_descriptor = {
    MPIMAP_PLUGIN_MAGIC,
    MPIMAP_ABI_MAJOR,
    MPIMAP_ABI_MINOR,
    (uint32_t)(T_SIZE),
    MPIMAP_KIND_STRATEGY,
    T_NAME,
    "0.0.1",
    "a descriptor shorter than ABI 1.0's"};
