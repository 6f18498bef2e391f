/* SPDX-License-Identifier: BSD-3-Clause */
/* tap_main.c - the main() of every Check unit test: runs the file's suite
 * and reports TAP on stdout for `meson test`. */
#include <stdlib.h>

#include <check.h>

Suite *test_suite(void); /* each test file defines it */

int main(void)
{
    SRunner *sr = srunner_create(test_suite());
    srunner_set_tap(sr, "-");
    srunner_run_all(sr, CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
