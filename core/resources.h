/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * resources.h - the one resource vocabulary of every launcher (internal):
 * parsers for what users type.
 */
#ifndef MPIMAP_CORE_RESOURCES_H
#define MPIMAP_CORE_RESOURCES_H

/* A walltime: "[[H:]M:]S" or "D-H[:M[:S]]" (Slurm's forms), into seconds.
 * "90" = 90 s, "5:00" = 5 min, "1:00:00" = 1 h, "2-12:00:00" = 2.5 days.
 * Fields after the first are 0-59. On error returns MPIMAP_EINVAL and sets
 * *error (malloc'd) to a message that quotes the text, e.g.
 *   "walltime '1:75:00': minutes must be 0 to 59 (forms: [[H:]M:]S or D-H:M:S)" */
int mpimap_parse_walltime(const char *text, long *seconds, char **error);

/* Seconds back to the form schedulers take: "H:MM:SS" (H may exceed 24),
 * malloc'd; NULL when seconds < 0 or out of memory. */
char *mpimap_format_walltime(long seconds);

/* pyina's node string "N:ppn=P[:cpp=C]" (also just "N"): nodes, ranks per
 * node, CPUs per rank; absent parts are left 0. Errors as above. */
int mpimap_parse_nodestring(const char *text, int *nodes, int *ppn, int *cpus_per_rank,
                            char **error);

#endif /* MPIMAP_CORE_RESOURCES_H */
