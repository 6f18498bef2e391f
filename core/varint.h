/* SPDX-License-Identifier: BSD-3-Clause */
/* varint.h - unsigned LEB128 integers (7 bits a byte, low bits first, at
 * most 10 bytes) and the zigzag mapping of signed ones (internal): the
 * journal's entries and the engine's result records. */
#ifndef MPIMAP_CORE_VARINT_H
#define MPIMAP_CORE_VARINT_H

#include <stdint.h>

/* The most bytes a varint takes. */
#define MPIMAP_VARINT_MAX 10u

/* Write v at p; returns the byte past it. */
static inline unsigned char *put_varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

/* A varint at *pp (before end) into *v, *pp past it: 0, or -1 when it runs
 * past end, is longer than 10 bytes or is past 2^64 - 1. */
static inline int get_varint_long(const unsigned char **pp, const unsigned char *end,
                                  uint64_t *v)
{
    const unsigned char *p = *pp;
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (p == end)
            return -1;
        unsigned b = *p++;
        if (shift == 63 && b > 1)
            return -1; /* past 64 bits, or an 11th byte */
        r |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = r;
            *pp = p;
            return 0;
        }
    }
    return -1; /* not reached */
}

/* get_varint_long() with the one-byte case inline. */
static inline int get_varint(const unsigned char **pp, const unsigned char *end, uint64_t *v)
{
    if (*pp < end && **pp < 0x80) {
        *v = *(*pp)++;
        return 0;
    }
    return get_varint_long(pp, end, v);
}

static inline uint64_t zigzag(int64_t x)
{
    uint64_t u = (uint64_t)x;
    return (u << 1) ^ (0 - (u >> 63));
}

static inline uint64_t unzigzag(uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }

#endif /* MPIMAP_CORE_VARINT_H */
