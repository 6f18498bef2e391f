/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * siteconfig.h - site and user defaults for mpimap run (internal).
 *
 * Read in order, later files overriding earlier ones key by key:
 * /etc/mpimap/mpimap.conf, then ~/.config/mpimap/mpimap.conf (or
 * $XDG_CONFIG_HOME/mpimap/mpimap.conf), then the file $MPIMAP_CONFIG names.
 * MPIMAP_CONFIG_SYSTEM replaces the /etc path (tests set it). The command
 * line wins over all of them. Format: "key = value" lines, '#' comments,
 * blank lines; values may be double-quoted. Keys: launcher, via, strategy,
 * np, queue, account, qos, walltime, mpirun_args (extra mpirun arguments,
 * split like a shell would without expansion), directive (repeatable:
 * an extra scheduler directive). A malformed line or unknown key is an
 * error naming the file and the line.
 *
 * Details: a comment is a line whose first non-blank character is '#'
 * (there are no comments after a value). Blanks around the key and the
 * value are dropped. A value that starts with '"' runs to the next '"'
 * not escaped by a backslash (\" and \\ are the only escapes) and
 * nothing but blanks may follow it; "" is an empty value, which clears
 * launcher, via, strategy, queue, account, qos and mpirun_args (callers
 * treat "" as not set). Values are checked as they are read: np is a whole
 * number from 1, walltime a walltime of resources.h, launcher, via and
 * strategy plugin names, mpirun_args must split, a directive must not be
 * empty. A key other than directive set twice in one file is an error.
 * MPIMAP_CONFIG_SYSTEM or MPIMAP_CONFIG set but empty means no such file;
 * a missing system or user file is skipped, a missing $MPIMAP_CONFIG file
 * is an error.
 */
#ifndef MPIMAP_CORE_SITECONFIG_H
#define MPIMAP_CORE_SITECONFIG_H

#include <stddef.h>

#include <mpimap/launcher.h> /* mpimap_strv */

struct mpimap_config_entry {
    char *key;
    char *value;
    char *source; /* "FILE:LINE" */
};

struct mpimap_config {
    struct mpimap_config_entry *v; /* in the order they were read */
    size_t n, cap;
};

/* Read every config file that exists. On a malformed file returns
 * MPIMAP_EINVAL with *error like "/etc/mpimap/mpimap.conf:7: unknown key
 * 'queu' (keys: launcher, via, ...)". */
int mpimap_config_load(struct mpimap_config *cfg, char **error);

/* The value in force for key (the last one read), or NULL; *source too. */
const char *mpimap_config_get(const struct mpimap_config *cfg, const char *key,
                              const char **source);

void mpimap_config_free(struct mpimap_config *cfg);

/* ---- additions ---------------------------------------------------------- */

/* The keys, NULL-terminated, in the order above. */
extern const char *const mpimap_config_keys[];

/* Is key repeatable (directive)? Every entry of a repeatable key is in
 * force, in the order read (site directives first, then the user's). */
int mpimap_config_repeatable(const char *key);

/* Is cfg->v[i] in force: repeatable, or the last entry of its key? */
int mpimap_config_in_force(const struct mpimap_config *cfg, size_t i);

/* Split text into words the way sh would, without any expansion: blanks
 * separate words; '...' is literal; in "..." a backslash escapes only
 * " \ $ ` and a newline; elsewhere a backslash escapes any character;
 * '$', '`', '*' and '#' are plain characters. "" is an empty word. Appends
 * to *words; on error (MPIMAP_EINVAL) appends nothing and sets *error
 * (malloc'd): "unterminated single quote", "unterminated double quote" or
 * "backslash at the end". */
int mpimap_config_split(const char *text, mpimap_strv *words, char **error);

#endif /* MPIMAP_CORE_SITECONFIG_H */
