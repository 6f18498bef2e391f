/* SPDX-License-Identifier: BSD-3-Clause */
/* nodesc.c - a well-formed shared object that exports no descriptor. */
__attribute__((visibility("default"))) int mpimap_test_nodesc(void);

int mpimap_test_nodesc(void)
{
    return 1;
}
