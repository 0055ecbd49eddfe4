/* activate.c - `flakectl activate TOPLEVEL --mode switch|test|boot|dry-activate`: the
 * low-level verb that switch/test/boot and remote targets use. Parses options only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/activate.h"
#include "needroot.h"
#include "opt.h"
#include "term.h"
#include "flakectl/cli.h"
#include "options.h"

typedef struct activate_opts {
    const char *toplevel, *mode, *backup;
} activate_opts;

static const fl_opt_spec activate_spec[] = {
    FL_OPT_STR_("mode", 0, "MODE", "switch: activate now and make it the default generation\n"
                                      "test: activate now; the default generation stays\n"
                                      "boot: make it the default, activate it at the next boot\n"
                                      "dry-activate: print everything that would change",
                activate_opts, mode, .flags = 0),
    FL_OPT_STR_("backup-ext", 0, "EXT", "move unmanaged files in the way to NAME.EXT instead of\n"
                                        "stopping",
                activate_opts, backup, .flags = 0),
    FL_OPT_ARG_("TOPLEVEL", "a built toplevel (a store path or a link to one)", activate_opts,
                toplevel, .complete = FL_OPT_V_FILE, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};

static int cmd_activate(int argc, char **argv);

const fl_opt_cmd fl_cmd_activate = {
    "activate",
    "activate a built toplevel: --mode switch|test|boot|dry-activate",
    "TOPLEVEL --mode switch|test|boot|dry-activate [--backup-ext EXT]",
    "The low-level verb that switch/test/boot and remote targets use.\n",
    activate_spec,
    NULL,
    cmd_activate,
};

static int cmd_activate(int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    activate_opts ao = {NULL, NULL, NULL};
    int prc = fl_opt_parse(&fl_cmd_activate, &ao, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    const char *toplevel = ao.toplevel, *mode = ao.mode, *backup = ao.backup;
    fl_act_options o = {0};
    o.record_via = "activate";
    if (!mode) {
        fl_error_set(&err, FL_EUSAGE, "activate needs a TOPLEVEL and --mode");
        fl_error_set_hint(&err, "flakectl activate ./result --mode switch");
        return fl_cli_report(&err);
    }
    if (!strcmp(mode, "switch"))
        o.mode = FL_ACT_SWITCH;
    else if (!strcmp(mode, "test"))
        o.mode = FL_ACT_TEST;
    else if (!strcmp(mode, "boot"))
        o.mode = FL_ACT_BOOT;
    else if (!strcmp(mode, "dry-activate") || !strcmp(mode, "dry"))
        o.mode = FL_ACT_DRY;
    else if (!strcmp(mode, "boot-time"))
        o.mode = FL_ACT_BOOT_TIME;
    else {
        fl_error_set(&err, FL_EUSAGE, "activate: unknown mode '%s'", mode);
        fl_error_set_hint(&err, "use switch, test, boot or dry-activate");
        return fl_cli_report(&err);
    }
    if (backup && (!*backup || strchr(backup, '/')))
        return fl_opt_usage(&fl_cmd_activate, "--backup-ext '%s': give a plain suffix such as 'bak'",
                            backup);
    char *root = NULL, *state = NULL;
    if ((o.mode != FL_ACT_DRY && fl_cli_need_root(1, &err) < 0) ||
        fl_activate_paths(fl_opts.root, fl_opts.state_dir, &root, &state, &err))
        return fl_cli_report(&err);
    o.root = root;
    o.state_dir = state;
    o.backup_ext = backup;
    o.out = fl_term_plan_open(stdout, fl_term_color(stdout));
    int rc = fl_activate(&o, toplevel, &err);
    fl_term_plan_close(o.out, stdout);
    free(root);
    free(state);
    return rc ? fl_cli_report(&err) : FL_EXIT_OK;
}
