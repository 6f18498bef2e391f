/* SPDX-License-Identifier: BSD-3-Clause */
/* errors.c - names of the MPIMAP_E* codes, and the library's version. */
#include <mpimap/mpimap.h>

#include "config.h"

const char *mpimap_strerror(int code)
{
    switch (code) {
    case MPIMAP_OK: return "success";
    case MPIMAP_ENOMEM: return "out of memory";
    case MPIMAP_EINVAL: return "invalid argument or malformed input";
    case MPIMAP_ENOTFOUND: return "not found";
    case MPIMAP_EABI: return "incompatible plugin ABI";
    case MPIMAP_ELOAD: return "shared object could not be loaded";
    case MPIMAP_EIO: return "input/output error";
    case MPIMAP_EMPI: return "MPI error";
    case MPIMAP_ELAUNCH: return "the job could not be started";
    case MPIMAP_EITEMS: return "some items failed";
    case MPIMAP_ECRASH: return "a rank died during the map";
    case MPIMAP_EDECLINED: return "plugin declined to load";
    case MPIMAP_ECANCELED: return "cancelled";
    case MPIMAP_EBUSY: return "not finished yet";
    default: return "unknown error";
    }
}

const char *mpimap_version(void)
{
    return MPIMAP_VERSION;
}
