/* gc.c (cli) - `flakectl gc [--dry-run] [--older-than D]`: parses the options and prints what
 * fl_store_gc freed. Owns no GC logic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"
#include "flakectl/cli.h"
#include "options.h"
#include "flakectl/store.h"

typedef struct gc_opts {
    int dry_run;
    long long older;
} gc_opts;

static const fl_opt_spec gc_spec[] = {
    FL_OPT_FLAG_("dry-run", 0, "print what would be deleted, delete nothing", gc_opts, dry_run,
                 .flags = 0),
    FL_OPT_DUR_("older-than", 0, "D", "only delete unreachable paths registered more than D ago\n"
                                      "(D = N followed by s, m, h, d or w; e.g. 30d)",
                gc_opts, older, .flags = FL_OPT_BARE),
    FL_OPT_END_,
};

static int cmd_gc(int argc, char **argv);

const fl_opt_cmd fl_cmd_gc = {
    "gc",
    "delete store paths no GC root reaches",
    "[--dry-run] [--older-than D]",
    "Deletes every store path not reachable from a GC root: profile generations\n"
    "(<state>/profiles/*), <state>/gcroots/ (including --out-link roots in gcroots/auto/),\n"
    "<root>/run/flakectl/current, whatever running processes use, and the paths of a\n"
    "deployment between its copy and its activation (gcroots/pending/, dropped once not\n"
    "renewed for an hour). Unregistered leftovers of crashes go too.\n",
    gc_spec,
    NULL,
    cmd_gc,
};

static int cmd_gc(int argc, char **argv) {
    gc_opts g = {0, 0};
    int prc = fl_opt_parse(&fl_cmd_gc, &g, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    int dry_run = g.dry_run;
    long long older = g.older;
    fl_error err = FL_ERROR_INIT;
    fl_store *s;
    if (fl_store_open(fl_opts.state_dir, &s, &err))
        return fl_cli_report(&err);
    fl_store_gc_result res;
    int rc = fl_store_gc(s, fl_opts.root, older, dry_run, stdout, &res, &err);
    fl_store_close(s);
    if (rc)
        return fl_cli_report(&err);
    return FL_EXIT_OK;
}
