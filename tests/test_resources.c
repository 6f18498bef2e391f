/* SPDX-License-Identifier: BSD-3-Clause */
/* test_resources.c - the walltime parser and formatter and pyina's node
 * string: every accepted form, and every malformed one with its exact
 * message. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <mpimap/mpimap.h>

#include "resources.h"

/* ---- walltime: accepted ------------------------------------------------- */

static const struct {
    const char *text;
    long seconds;
} good_walltimes[] = {
    {"90", 90},
    {"1", 1},
    {"0:1", 1},
    {"5:00", 300},
    {"1:30", 90},
    {"90:00", 5400},     /* the first field is not bounded */
    {"1:00:00", 3600},
    {"01:02:03", 3723},
    {"0:59:59", 3599},
    {"100:00:00", 360000}, /* hours may exceed 24 */
    {"2-12:00:00", 216000}, /* 2.5 days */
    {"1-0", 86400},
    {"0-1", 3600},       /* D-H */
    {"1-2:3", 93780},    /* D-H:M */
    {"0-23:59:59", 86399},
    {"007", 7},
    {"3600", 3600},
    {"9223372036854775807", LONG_MAX},
};

START_TEST(walltime_good)
{
    long s = -1;
    char *error = (char *)"untouched";
    ck_assert_msg(mpimap_parse_walltime(good_walltimes[_i].text, &s, &error) == 0,
                  "'%s': %s", good_walltimes[_i].text, error ? error : "(no message)");
    ck_assert_ptr_null(error);
    ck_assert_int_eq(s, good_walltimes[_i].seconds);
}
END_TEST

/* ---- walltime: malformed ------------------------------------------------ */

#define FORMS " (forms: [[H:]M:]S or D-H:M:S)"

static const struct {
    const char *text;
    const char *error;
} bad_walltimes[] = {
    {"", "walltime '': is empty" FORMS},
    {"-5", "walltime '-5': must not be negative" FORMS},
    {"-1:00", "walltime '-1:00': must not be negative" FORMS},
    {"0", "walltime '0': must be at least 1 second" FORMS},
    {"0:00:00", "walltime '0:00:00': must be at least 1 second" FORMS},
    {"0-0", "walltime '0-0': must be at least 1 second" FORMS},
    {"1:75", "walltime '1:75': seconds must be 0 to 59" FORMS}, /* M:S */
    {"1:75:00", "walltime '1:75:00': minutes must be 0 to 59" FORMS},
    {"1:60", "walltime '1:60': seconds must be 0 to 59" FORMS},
    {"1:60:00", "walltime '1:60:00': minutes must be 0 to 59" FORMS},
    {"1:00:60", "walltime '1:00:60': seconds must be 0 to 59" FORMS},
    {"1-24", "walltime '1-24': hours must be 0 to 23" FORMS},
    {"1-0:60", "walltime '1-0:60': minutes must be 0 to 59" FORMS},
    {"1-0:0:99", "walltime '1-0:0:99': seconds must be 0 to 59" FORMS},
    {"1:2:3:4", "walltime '1:2:3:4': has too many fields" FORMS},
    {"1-2:3:4:5", "walltime '1-2:3:4:5': has too many fields" FORMS},
    {":30", "walltime ':30': has an empty field" FORMS},
    {"1::2", "walltime '1::2': has an empty field" FORMS},
    {"5:", "walltime '5:': has an empty field" FORMS},
    {"1-", "walltime '1-': has an empty field" FORMS},
    {"1-:00", "walltime '1-:00': has an empty field" FORMS},
    {"1h", "walltime '1h': has an unexpected character 'h'" FORMS},
    {"1.5", "walltime '1.5': has an unexpected character '.'" FORMS},
    {" 5", "walltime ' 5': has an unexpected character ' '" FORMS},
    {"5 ", "walltime '5 ': has an unexpected character ' '" FORMS},
    {"+5", "walltime '+5': has an unexpected character '+'" FORMS},
    {"abc", "walltime 'abc': has an unexpected character 'a'" FORMS},
    {"1-2-3", "walltime '1-2-3': has an unexpected character '-'" FORMS},
    {"1:2-3", "walltime '1:2-3': has an unexpected character '-'" FORMS},
    {"1\t", "walltime '1\t': has an unexpected character 0x09" FORMS},
    {"9223372036854775808", "walltime '9223372036854775808': is too large" FORMS},
    {"153722867280912931:00", "walltime '153722867280912931:00': is too large" FORMS},
    {"106751991167301-0", "walltime '106751991167301-0': is too large" FORMS},
    {"9223372036854775807:00", "walltime '9223372036854775807:00': is too large" FORMS},
};

START_TEST(walltime_bad)
{
    long s = 12345;
    char *error = NULL;
    ck_assert_int_eq(mpimap_parse_walltime(bad_walltimes[_i].text, &s, &error), MPIMAP_EINVAL);
    ck_assert_ptr_nonnull(error);
    ck_assert_str_eq(error, bad_walltimes[_i].error);
    ck_assert_int_eq(s, 12345); /* untouched */
    free(error);
}
END_TEST

START_TEST(walltime_null)
{
    long s = 7;
    char *error = NULL;
    ck_assert_int_eq(mpimap_parse_walltime(NULL, &s, &error), MPIMAP_EINVAL);
    ck_assert_str_eq(error, "walltime '': is empty" FORMS);
    free(error);
    /* error may be NULL */
    ck_assert_int_eq(mpimap_parse_walltime("1:75", &s, NULL), MPIMAP_EINVAL);
    ck_assert_int_eq(mpimap_parse_walltime("75", &s, NULL), 0);
    ck_assert_int_eq(s, 75);
}
END_TEST

/* ---- walltime: formatting ----------------------------------------------- */

static const struct {
    long seconds;
    const char *text;
} formats[] = {
    {0, "0:00:00"},       {1, "0:00:01"},          {59, "0:00:59"},
    {60, "0:01:00"},      {3599, "0:59:59"},       {3600, "1:00:00"},
    {3723, "1:02:03"},    {86400, "24:00:00"},     {216000, "60:00:00"},
    {360000, "100:00:00"}, {LONG_MAX, "2562047788015215:30:07"},
};

START_TEST(walltime_format)
{
    char *s = mpimap_format_walltime(formats[_i].seconds);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, formats[_i].text);
    /* and it parses back (0 is not a walltime) */
    if (formats[_i].seconds > 0) {
        long back = 0;
        char *error = NULL;
        ck_assert_int_eq(mpimap_parse_walltime(s, &back, &error), 0);
        ck_assert_int_eq(back, formats[_i].seconds);
    }
    free(s);
}
END_TEST

START_TEST(walltime_format_negative)
{
    ck_assert_ptr_null(mpimap_format_walltime(-1));
    ck_assert_ptr_null(mpimap_format_walltime(LONG_MIN));
}
END_TEST

/* ---- node strings ------------------------------------------------------- */

static const struct {
    const char *text;
    int nodes, ppn, cpp;
} good_nodes[] = {
    {"1", 1, 0, 0},
    {"4", 4, 0, 0},
    {"4:ppn=2", 4, 2, 0},
    {"4:ppn=2:cpp=3", 4, 2, 3},
    {"2:cpp=8", 2, 0, 8},
    {"2:cpp=8:ppn=1", 2, 1, 8},
    {"010:ppn=01", 10, 1, 0},
    {"2147483647", INT_MAX, 0, 0},
};

START_TEST(nodes_good)
{
    int n = -1, p = -1, c = -1;
    char *error = (char *)"untouched";
    ck_assert_msg(mpimap_parse_nodestring(good_nodes[_i].text, &n, &p, &c, &error) == 0,
                  "'%s': %s", good_nodes[_i].text, error ? error : "(no message)");
    ck_assert_ptr_null(error);
    ck_assert_int_eq(n, good_nodes[_i].nodes);
    ck_assert_int_eq(p, good_nodes[_i].ppn);
    ck_assert_int_eq(c, good_nodes[_i].cpp);
}
END_TEST

#define NFORM " (form: N[:ppn=P][:cpp=C])"

static const struct {
    const char *text;
    const char *error;
} bad_nodes[] = {
    {"", "nodes '': is empty" NFORM},
    {"0", "nodes '0': the node count '0' is not a whole number from 1 to 2147483647" NFORM},
    {"-1", "nodes '-1': the node count '-1' is not a whole number from 1 to 2147483647" NFORM},
    {"x", "nodes 'x': the node count 'x' is not a whole number from 1 to 2147483647" NFORM},
    {"2147483648",
     "nodes '2147483648': the node count '2147483648' is not a whole number from 1 to "
     "2147483647" NFORM},
    {"ppn=2",
     "nodes 'ppn=2': the node count 'ppn=2' is not a whole number from 1 to 2147483647" NFORM},
    {":ppn=2",
     "nodes ':ppn=2': the node count '' is not a whole number from 1 to 2147483647" NFORM},
    {" 4", "nodes ' 4': the node count ' 4' is not a whole number from 1 to 2147483647" NFORM},
    {"4:", "nodes '4:': has an empty part" NFORM},
    {"4::ppn=2", "nodes '4::ppn=2': has an empty part" NFORM},
    {"4:ppn=2:", "nodes '4:ppn=2:': has an empty part" NFORM},
    {"4:mem=2", "nodes '4:mem=2': unknown part 'mem=2' (parts: ppn=P, cpp=C)" NFORM},
    {"4:PPN=2", "nodes '4:PPN=2': unknown part 'PPN=2' (parts: ppn=P, cpp=C)" NFORM},
    {"4:ppn =2", "nodes '4:ppn =2': unknown part 'ppn =2' (parts: ppn=P, cpp=C)" NFORM},
    {"4:ppn", "nodes '4:ppn': 'ppn' needs a value" NFORM},
    {"4:cpp", "nodes '4:cpp': 'cpp' needs a value" NFORM},
    {"4:ppn=", "nodes '4:ppn=': ppn '' is not a whole number from 1 to 2147483647" NFORM},
    {"4:ppn=0", "nodes '4:ppn=0': ppn '0' is not a whole number from 1 to 2147483647" NFORM},
    {"4:ppn=2x", "nodes '4:ppn=2x': ppn '2x' is not a whole number from 1 to 2147483647" NFORM},
    {"4:ppn=2=3",
     "nodes '4:ppn=2=3': ppn '2=3' is not a whole number from 1 to 2147483647" NFORM},
    {"4:cpp=-1", "nodes '4:cpp=-1': cpp '-1' is not a whole number from 1 to 2147483647" NFORM},
    {"4:cpp=99999999999",
     "nodes '4:cpp=99999999999': cpp '99999999999' is not a whole number from 1 to "
     "2147483647" NFORM},
    {"4:ppn=2:ppn=3", "nodes '4:ppn=2:ppn=3': 'ppn' is given twice" NFORM},
    {"4:cpp=1:cpp=1", "nodes '4:cpp=1:cpp=1': 'cpp' is given twice" NFORM},
};

START_TEST(nodes_bad)
{
    int n = 11, p = 12, c = 13;
    char *error = NULL;
    ck_assert_int_eq(mpimap_parse_nodestring(bad_nodes[_i].text, &n, &p, &c, &error),
                     MPIMAP_EINVAL);
    ck_assert_ptr_nonnull(error);
    ck_assert_str_eq(error, bad_nodes[_i].error);
    /* outputs untouched on error */
    ck_assert_int_eq(n, 11);
    ck_assert_int_eq(p, 12);
    ck_assert_int_eq(c, 13);
    free(error);
}
END_TEST

START_TEST(nodes_null)
{
    int n, p, c;
    char *error = NULL;
    ck_assert_int_eq(mpimap_parse_nodestring(NULL, &n, &p, &c, &error), MPIMAP_EINVAL);
    ck_assert_str_eq(error, "nodes '': is empty" NFORM);
    free(error);
    ck_assert_int_eq(mpimap_parse_nodestring("4:x", &n, &p, &c, NULL), MPIMAP_EINVAL);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *test_suite(void)
{
    Suite *s = suite_create("resources");
    TCase *tw = tcase_create("walltime");
    tcase_add_loop_test(tw, walltime_good, 0, N(good_walltimes));
    tcase_add_loop_test(tw, walltime_bad, 0, N(bad_walltimes));
    tcase_add_test(tw, walltime_null);
    tcase_add_loop_test(tw, walltime_format, 0, N(formats));
    tcase_add_test(tw, walltime_format_negative);
    suite_add_tcase(s, tw);
    TCase *tn = tcase_create("nodes");
    tcase_add_loop_test(tn, nodes_good, 0, N(good_nodes));
    tcase_add_loop_test(tn, nodes_bad, 0, N(bad_nodes));
    tcase_add_test(tn, nodes_null);
    suite_add_tcase(s, tn);
    return s;
}
