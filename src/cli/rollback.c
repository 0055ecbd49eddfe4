/* rollback.c - `flakectl rollback [--to N]`: activates the previous default generation (or
 * N) in switch mode and makes it the default, without creating a new generation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/activate.h"
#include "needroot.h"
#include "opt.h"
#include "term.h"
#include "remote_args.h"
#include "flakectl/cli.h"
#include "options.h"
#include "flakectl/strbuf.h"

typedef struct rollback_opts {
    int to;
    const char *backup;
    fl_cli_target_args remote;
} rollback_opts;

static const fl_opt_spec rollback_spec[] = {
    FL_OPT_INT_("to", 0, "N", "activate generation N instead of the one before the default",
                rollback_opts, to, 1, 1000000000, .complete = FL_OPT_V_GENERATION, .flags = 0),
    FL_OPT_STR_("backup-ext", 0, "EXT", "move unmanaged files in the way to NAME.EXT instead of\n"
                                        "stopping",
                rollback_opts, backup, .flags = 0),
    FL_OPT_GROUP_(fl_cli_target_spec, rollback_opts, remote),
    FL_OPT_END_,
};

static int cmd_rollback(int argc, char **argv);

const fl_opt_cmd fl_cmd_rollback = {
    "rollback",
    "activate the previous default generation (or --to N)",
    "[--to N] [--backup-ext EXT] [--target-host U@H[:P]]",
    "Activates the generation before the default one (or N) and makes it the default,\n"
    "without creating a new generation. With --target-host, on that target.\n",
    rollback_spec,
    NULL,
    cmd_rollback,
};

static int cmd_rollback(int argc, char **argv) {
    rollback_opts ro;
    memset(&ro, 0, sizeof ro);
    unsigned char *local = fl_xcalloc((size_t)argc + 1, 1);
    int prc = fl_opt_parse_marked(&fl_cmd_rollback, &ro, argc, argv, local);
    if (prc == FL_OPT_RUN && ro.remote.target_host)
        prc = fl_cli_remote_passthrough(&ro.remote, argc, argv, local);
    free(local);
    if (prc != FL_OPT_RUN)
        return prc;
    fl_error err = FL_ERROR_INIT;
    char *root = NULL, *state = NULL;
    if (fl_cli_need_root(1, &err) < 0 ||
        fl_activate_paths(fl_opts.root, fl_opts.state_dir, &root, &state, &err))
        return fl_cli_report(&err);
    FILE *out = fl_term_plan_open(stdout, fl_term_color(stdout));
    int rc = fl_activate_rollback(root, state, ro.to, ro.backup, out, &err);
    fl_term_plan_close(out, stdout);
    free(root);
    free(state);
    return rc ? fl_cli_report(&err) : FL_EXIT_OK;
}
