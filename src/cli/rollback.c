/* rollback.c - `flakectl rollback [--to N]`: activates the previous default generation (or
 * N) in switch mode and makes it the default, without creating a new generation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/activate.h"
#include "flakectl/cli.h"
#include "flakectl/options.h"

int cmd_rollback(int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    int to = 0;
    const char *backup = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            puts("usage: flakectl rollback [--to N] [--backup-ext EXT]\n"
                 "  activates the generation before the default one (or N) and makes it the "
                 "default");
            return FL_EXIT_OK;
        } else if (!strcmp(argv[i], "--to") && i + 1 < argc) {
            to = atoi(argv[++i]);
            if (to <= 0) {
                fl_error_set(&err, FL_EUSAGE, "--to '%s': expected a generation number", argv[i]);
                return fl_cli_report(&err);
            }
        } else if (!strcmp(argv[i], "--backup-ext") && i + 1 < argc) {
            backup = argv[++i];
        } else {
            fl_error_set(&err, FL_EUSAGE, "rollback: unexpected '%s'", argv[i]);
            return fl_cli_report(&err);
        }
    }
    if (!to) {
        fl_generation *g;
        size_t n;
        if (fl_gen_list(fl_opts.state_dir, fl_opts.root, &g, &n, &err))
            return fl_cli_report(&err);
        int dflt = fl_gen_default(fl_opts.state_dir);
        for (size_t i = 0; i < n; i++)
            if (g[i].number < dflt)
                to = g[i].number;
        fl_gen_list_free(g, n);
        if (!to) {
            fl_error_set(&err, FL_ENOTFOUND,
                         "no generation before the default one (%d) to roll "
                         "back to",
                         dflt);
            fl_error_set_hint(&err, "'flakectl generations' lists them");
            return fl_cli_report(&err);
        }
    }
    char *top = fl_gen_toplevel(fl_opts.state_dir, to);
    if (!top) {
        fl_error_set(&err, FL_ENOTFOUND, "generation %d does not exist (or its toplevel is gone)",
                     to);
        fl_error_set_hint(&err, "'flakectl generations' lists them");
        return fl_cli_report(&err);
    }
    char *root = NULL, *state = NULL;
    if (fl_activate_paths(&root, &state, &err)) {
        free(top);
        return fl_cli_report(&err);
    }
    printf("rolling back to generation %d\n", to);
    fl_act_options o = {FL_ACT_SWITCH, root, state, backup, to, stdout};
    int rc = fl_activate(&o, top, &err);
    free(top);
    free(root);
    free(state);
    return rc ? fl_cli_report(&err) : FL_EXIT_OK;
}
