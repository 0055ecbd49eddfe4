/* gc.c (cli) - `flakectl gc [--dry-run] [--older-than D]`: parses the options and prints what
 * fl_store_gc freed. Owns no GC logic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/cli.h"
#include "flakectl/options.h"
#include "flakectl/store.h"

static const char usage_text[] =
    "usage: flakectl gc [--dry-run] [--older-than D]\n"
    "\n"
    "Deletes every store path not reachable from a GC root: profile generations\n"
    "(<state>/profiles/*), <state>/gcroots/ (including --out-link roots in gcroots/auto/),\n"
    "<root>/run/flakectl/current and whatever running processes use. Unregistered\n"
    "leftovers of crashes go too.\n"
    "\n"
    "  --dry-run        print what would be deleted, delete nothing\n"
    "  --older-than D   only delete unreachable paths registered more than D ago\n"
    "                   (D = N followed by s, m, h, d or w; e.g. 30d)\n";

/* Parses "30d" and friends into seconds; -1 when malformed. */
static long long parse_duration(const char *s) {
    char *end;
    long long n = strtoll(s, &end, 10);
    if (end == s || n < 0)
        return -1;
    long long mult = 1;
    if (!strcmp(end, "s") || !*end)
        mult = 1;
    else if (!strcmp(end, "m"))
        mult = 60;
    else if (!strcmp(end, "h"))
        mult = 3600;
    else if (!strcmp(end, "d"))
        mult = 86400;
    else if (!strcmp(end, "w"))
        mult = 7 * 86400;
    else
        return -1;
    return n * mult;
}

int cmd_gc(int argc, char **argv) {
    int dry_run = 0;
    long long older = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return FL_EXIT_OK;
        } else if (!strcmp(argv[i], "--dry-run")) {
            dry_run = 1;
        } else if (!strcmp(argv[i], "--older-than") && i + 1 < argc) {
            older = parse_duration(argv[++i]);
            if (older < 0) {
                fprintf(stderr,
                        "error: --older-than: '%s' is not a duration\n"
                        "       hint: write e.g. 30d, 12h, 90m or 3600s\n",
                        argv[i]);
                return FL_EXIT_USAGE;
            }
        } else {
            fprintf(stderr,
                    "error: gc: unexpected argument '%s'\n"
                    "       hint: run 'flakectl gc --help'\n",
                    argv[i]);
            return FL_EXIT_USAGE;
        }
    }
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
