/* SPDX-License-Identifier: BSD-3-Clause */
/* serial.c - the in-process launcher: the driver runs the map itself, one
 * rank, no MPI job. Always usable, lowest priority for auto-selection. */
#include <stddef.h>

#include <mpimap/launcher.h>
#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>

static int serial_query(void)
{
    return 0;
}

static const struct mpimap_launcher_ops serial_ops = {
    .size = (uint32_t)sizeof(struct mpimap_launcher_ops),
    .flags = MPIMAP_LAUNCHER_INPROCESS,
    .program = NULL,
    .render = NULL,
};

MPIMAP_PLUGIN_DEFINE(MPIMAP_KIND_LAUNCHER, "serial", MPIMAP_VERSION_STRING,
                     "in-process, no MPI (one rank)", NULL, NULL,
                     serial_query, &serial_ops);
