/* update.c - `flakectl update [INPUT...]`: relocks the named inputs (all when none is
 * named) to the newest commit of their branch, printing old -> new per input. */
#include <stdio.h>
#include <string.h>

#include "flakectl/cli.h"
#include "flakectl/flake.h"
#include "flakectl/options.h"

static const char usage_text[] =
    "usage: flakectl update [INPUT...]\n"
    "\n"
    "Fetches the named inputs (every input when none is named) and records their newest\n"
    "revision in flake.lock, printing 'name: old -> new' for each. See docs/inputs.md.\n";

int cmd_update(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return FL_EXIT_OK;
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "error: unexpected option '%s'\n%s", argv[i], usage_text);
            return FL_EXIT_USAGE;
        }
    }
    if (fl_opts.no_write_lock_file) {
        fprintf(stderr, "error: update writes flake.lock, so --no-write-lock-file makes no sense "
                        "here\n");
        return FL_EXIT_USAGE;
    }
    fl_flake_inputs_opts o;
    memset(&o, 0, sizeof o);
    o.mode = FL_FLAKE_UPDATE;
    o.update_names = argv + 1;
    o.nupdate_names = (size_t)(argc - 1);
    o.report = stdout;
    fl_error err = FL_ERROR_INIT;
    if (fl_flake_lock_run(fl_opts.flake_dir, fl_opts.state_dir, &o, &err) < 0)
        return fl_cli_report(&err);
    return FL_EXIT_OK;
}
