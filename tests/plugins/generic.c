/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * generic.c - a valid test plugin, built several times with different
 * -D flags (see meson.build):
 *   T_KIND       MPIMAP_KIND_STRATEGY or MPIMAP_KIND_LAUNCHER (required)
 *   T_NAME       its name, a string literal (required)
 *   T_QUERY      when defined, query() returns it; else there is no query
 *   T_DECLINE    when defined, init() declines with a reason
 *   T_UNDEFINED  when defined, calls a function nobody defines (the module
 *                is then linked without -Wl,--no-undefined)
 * Its fini hook appends "<name>\n" to $MPIMAP_TEST_FINI_FILE when set.
 */
#include <stdio.h>
#include <stdlib.h>

#include <mpimap/plugin.h>

#if !defined(T_KIND) || !defined(T_NAME)
#error "T_KIND and T_NAME must be defined"
#endif

#define T_DECLINE_REASON "no widget attached"

struct test_ops {
    uint32_t size;
    int (*ping)(void);
};

#ifdef T_UNDEFINED
int mpimap_test_undefined_function(void); /* defined nowhere, on purpose */
static int ping(void)
{
    return mpimap_test_undefined_function();
}
#else
static int ping(void)
{
    return 42;
}
#endif

static const struct test_ops ops = {(uint32_t)sizeof(struct test_ops), ping};

static int init(const char **reason)
{
#ifdef T_DECLINE
    *reason = T_DECLINE_REASON;
    return 1;
#else
    (void)reason;
    return 0;
#endif
}

static void fini(void)
{
    const char *file = getenv("MPIMAP_TEST_FINI_FILE");
    if (!file || !*file)
        return;
    FILE *fp = fopen(file, "a");
    if (!fp)
        return;
    fprintf(fp, "%s\n", T_NAME);
    fclose(fp);
}

#ifdef T_QUERY
static int query(void)
{
    return T_QUERY;
}
#define T_QUERY_FN query
#else
#define T_QUERY_FN NULL
#endif

MPIMAP_PLUGIN_DEFINE(T_KIND, T_NAME, "1.2.3", "test plugin " T_NAME, init,
                     fini, T_QUERY_FN, &ops);
