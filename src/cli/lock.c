/* lock.c - `flakectl lock`: locks the inputs flake.lock is missing (or whose URL changed in
 * flake.nix), leaving every locked one as it is. */
#include <stdio.h>
#include <string.h>

#include "flakectl/cli.h"
#include "flakectl/flake.h"
#include "flakectl/options.h"

static const char usage_text[] =
    "usage: flakectl lock\n"
    "\n"
    "Locks every input of flake.nix that flake.lock does not pin yet (or whose URL changed),\n"
    "without touching the pinned ones; `flakectl update` moves those. See docs/inputs.md.\n";

int cmd_lock(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return FL_EXIT_OK;
        }
        fprintf(stderr, "error: unexpected argument '%s'\n%s", argv[i], usage_text);
        return FL_EXIT_USAGE;
    }
    fl_flake_inputs_opts o;
    memset(&o, 0, sizeof o);
    o.mode = FL_FLAKE_LOCK;
    o.no_write_lock = fl_opts.no_write_lock_file;
    fl_error err = FL_ERROR_INIT;
    if (fl_flake_lock_run(fl_opts.flake_dir, fl_opts.state_dir, &o, &err) < 0)
        return fl_cli_report(&err);
    return FL_EXIT_OK;
}
