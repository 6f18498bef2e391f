/* SPDX-License-Identifier: BSD-3-Clause */
/* cmd_info.c - `mpimap version`, `mpimap license` and `mpimap cite`. */
#include <stdio.h>

#include <mpimap/mpimap.h>
#include <mpimap/plugin.h>

#include "commands.h"
#include "license.h" /* MPIMAP_LICENSE_TEXT, generated from LICENSE */

static const char version_usage[] =
    "usage: mpimap version\n"
    "\n"
    "Print the version of mpimap and of the plugin ABI it accepts\n"
    "(plugins built for ABI major M, minor <= N load into ABI M.N).\n";

static const char license_usage[] =
    "usage: mpimap license\n"
    "\n"
    "Print the license of mpimap (BSD-3-Clause).\n";

static const char cite_usage[] =
    "usage: mpimap cite\n"
    "\n"
    "Print how to cite mpimap, and the pyina/pathos work it succeeds,\n"
    "with BibTeX entries.\n";

int mpimap_cli_cmd_version(int argc, char **argv)
{
    int rc = mpimap_cli_no_args(argc, argv, version_usage);
    if (rc >= 0)
        return rc;
    printf("mpimap %s (plugin ABI %d.%d)\n", mpimap_version(), MPIMAP_ABI_MAJOR,
           MPIMAP_ABI_MINOR);
    return MPIMAP_CLI_OK;
}

int mpimap_cli_cmd_license(int argc, char **argv)
{
    int rc = mpimap_cli_no_args(argc, argv, license_usage);
    if (rc >= 0)
        return rc;
    fputs(MPIMAP_LICENSE_TEXT, stdout);
    return MPIMAP_CLI_OK;
}

int mpimap_cli_cmd_cite(int argc, char **argv)
{
    int rc = mpimap_cli_no_args(argc, argv, cite_usage);
    if (rc >= 0)
        return rc;
    const char *v = mpimap_version();
    printf("If you use mpimap in published work, please cite it as:\n"
           "\n"
           "  The mpimap developers, \"mpimap: an MPI parallel map runtime\n"
           "  with pluggable strategies and launchers\", version %s, 2026.\n"
           "\n"
           "mpimap is the C successor of pyina, part of pathos. Please also\n"
           "cite the work it builds on:\n"
           "\n"
           "  M.M. McKerns, L. Strand, T. Sullivan, A. Fang, M.A.G. Aivazis,\n"
           "  \"Building a framework for predictive science\", Proceedings of\n"
           "  the 10th Python in Science Conference, 2011;\n"
           "  http://arxiv.org/pdf/1202.1056\n"
           "\n"
           "  M.M. McKerns and M.A.G. Aivazis,\n"
           "  \"pathos: a framework for heterogeneous computing\", 2010- ;\n"
           "  https://uqfoundation.github.io/project/pathos\n"
           "\n"
           "BibTeX:\n"
           "\n"
           "@software{mpimap,\n"
           "  author  = {{The mpimap developers}},\n"
           "  title   = {mpimap: an {MPI} parallel map runtime with pluggable\n"
           "             strategies and launchers},\n"
           "  version = {%s},\n"
           "  year    = {2026},\n"
           "  license = {BSD-3-Clause},\n"
           "  note    = {C successor of pyina, part of pathos}\n"
           "}\n",
           v, v);
    /* The entries pathos and its siblings give for themselves. */
    fputs("\n"
          "@inproceedings{McKerns_1,\n"
          "  author    = {Michael M. McKerns and Leif Strand and Tim Sullivan and\n"
          "               Alta Fang and Michael A. G. Aivazis},\n"
          "  title     = {Building a Framework for Predictive Science},\n"
          "  booktitle = {10th Python in Science Conference},\n"
          "  year      = {2011},\n"
          "  url       = {http://arxiv.org/pdf/1202.1056}\n"
          "}\n"
          "\n"
          "@misc{McKerns_2,\n"
          "  author    = {Michael M. McKerns and Michael A. G. Aivazis},\n"
          "  title     = {pathos: a framework for heterogeneous computing},\n"
          "  year      = {2010},\n"
          "  url       = {https://uqfoundation.github.io/project/pathos}\n"
          "}\n",
          stdout);
    return MPIMAP_CLI_OK;
}
