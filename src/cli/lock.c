/* lock.c - `flakectl lock`: locks the inputs flake.lock is missing (or whose URL changed in
 * flake.nix), leaving every locked one as it is. */
#include <stdio.h>
#include <string.h>

#include "opt.h"
#include "flakectl/cli.h"
#include "flakectl/flake.h"
#include "flakectl/module.h"
#include "options.h"

static int cmd_lock(int argc, char **argv);

const fl_opt_cmd fl_cmd_lock = {
    "lock",
    "lock the inputs flake.lock does not pin yet",
    "",
    "Locks every input of flake.nix that flake.lock does not pin yet (or whose URL changed),\n"
    "without touching the pinned ones; `flakectl update` moves those. See docs/inputs.md.\n",
    NULL,
    NULL,
    cmd_lock,
};

static int cmd_lock(int argc, char **argv) {
    int prc = fl_opt_parse(&fl_cmd_lock, NULL, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    fl_session_opts so;
    fl_cli_session_opts(&so);
    fl_flake_inputs_opts o;
    memset(&o, 0, sizeof o);
    o.mode = FL_FLAKE_LOCK;
    o.no_write_lock = fl_opts.no_write_lock_file;
    fl_error err = FL_ERROR_INIT;
    if (fl_module_lock_inputs(&so, &o, &err) < 0)
        return fl_cli_report(&err);
    return FL_EXIT_OK;
}
