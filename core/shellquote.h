/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shellquote.h - the one routine through which user-given strings reach
 * shell text (printed commands, job scripts).
 */
#ifndef MPIMAP_SHELLQUOTE_H
#define MPIMAP_SHELLQUOTE_H

/*
 * mpimap_shell_quote - s as one POSIX sh word that expands to exactly s.
 *
 * Bare when s is non-empty and made only of [A-Za-z0-9_@%+=:,./-];
 * otherwise single-quoted, each ' rendered as '\''. The empty string
 * gives ''. Returns a malloc'd string, or NULL when out of memory (or
 * when s is NULL).
 */
char *mpimap_shell_quote(const char *s);

/*
 * mpimap_shell_join - the words of the NULL-terminated argv, each quoted
 * with mpimap_shell_quote(), joined by single spaces. The first word is
 * also quoted when it holds '=' (so it names a command, never an
 * assignment). An empty argv (or NULL) gives "". Returns a malloc'd string, or NULL when out of memory.
 */
char *mpimap_shell_join(const char *const *argv);

#endif /* MPIMAP_SHELLQUOTE_H */
