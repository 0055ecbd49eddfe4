/* update.c - `flakectl update [INPUT...]`: relocks the named inputs (all when none is
 * named) to the newest commit of their branch, printing old -> new per input. */
#include <stdio.h>
#include <string.h>

#include "opt.h"
#include "flakectl/cli.h"
#include "flakectl/flake.h"
#include "flakectl/module.h"
#include "options.h"

typedef struct update_opts {
    fl_opt_list inputs;
} update_opts;

static const fl_opt_spec update_spec[] = {
    FL_OPT_ARGS_("INPUT", "the inputs to update (default: every input)", update_opts, inputs,
                 .flags = 0),
    FL_OPT_END_,
};

static int cmd_update(int argc, char **argv);

const fl_opt_cmd fl_cmd_update = {
    "update",
    "fetch the newest revision of inputs and record it in flake.lock",
    "[INPUT...]",
    "Fetches the named inputs (every input when none is named) and records their newest\n"
    "revision in flake.lock, printing 'name: old -> new' for each. See docs/inputs.md.\n",
    update_spec,
    NULL,
    cmd_update,
};

static int cmd_update(int argc, char **argv) {
    update_opts uo = {{NULL, 0}};
    int prc = fl_opt_parse(&fl_cmd_update, &uo, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    if (fl_opts.no_write_lock_file) {
        fl_opt_release(&fl_cmd_update, &uo);
        return fl_opt_usage(&fl_cmd_update,
                            "update writes flake.lock, so --no-write-lock-file makes no sense here");
    }
    fl_session_opts so;
    fl_cli_session_opts(&so);
    fl_flake_inputs_opts o;
    memset(&o, 0, sizeof o);
    o.mode = FL_FLAKE_UPDATE;
    o.update_names = (char *const *)uo.inputs.v;
    o.nupdate_names = uo.inputs.n;
    o.report = stdout;
    fl_error err = FL_ERROR_INIT;
    int rc = fl_module_lock_inputs(&so, &o, &err);
    fl_opt_release(&fl_cmd_update, &uo);
    return rc < 0 ? fl_cli_report(&err) : FL_EXIT_OK;
}
