/* SPDX-License-Identifier: BSD-3-Clause */
/* wire.h - fixed-size fields in byte buffers, in the machine's byte order,
 * at any alignment (internal): the engine's wire formats and the journal. */
#ifndef MPIMAP_CORE_WIRE_H
#define MPIMAP_CORE_WIRE_H

#include <stdint.h>
#include <string.h>

static inline void put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, sizeof v); }
static inline void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, sizeof v); }
static inline void put_f64(unsigned char *p, double v) { memcpy(p, &v, sizeof v); }

static inline uint64_t get_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint32_t get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline double get_f64(const unsigned char *p)
{
    double v;
    memcpy(&v, p, sizeof v);
    return v;
}

#endif /* MPIMAP_CORE_WIRE_H */
