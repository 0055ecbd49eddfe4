/* activate.c - `flakectl activate TOPLEVEL --mode switch|test|boot|dry-activate`: the
 * low-level verb that switch/test/boot and remote targets use. Parses options only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/activate.h"
#include "flakectl/cli.h"
#include "flakectl/options.h"

static const char usage[] =
    "usage: flakectl [--root DIR] [--state-dir DIR] activate TOPLEVEL\n"
    "                --mode switch|test|boot|dry-activate [--backup-ext EXT]\n"
    "\n"
    "  switch        activate now and make it the default generation\n"
    "  test          activate now; the default generation stays\n"
    "  boot          make it the default and activate it at the next boot\n"
    "  dry-activate  print everything that would change; change nothing\n"
    "  --backup-ext  move unmanaged files in the way to NAME.EXT instead of stopping\n";

int cmd_activate(int argc, char **argv) {
    const char *toplevel = NULL, *mode = NULL, *backup = NULL;
    fl_error err = FL_ERROR_INIT;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return FL_EXIT_OK;
        } else if ((!strcmp(argv[i], "--mode") || !strcmp(argv[i], "--backup-ext")) &&
                   i + 1 < argc) {
            *(argv[i][2] == 'm' ? &mode : &backup) = argv[i + 1];
            i++;
        } else if (argv[i][0] == '-') {
            fl_error_set(&err, FL_EUSAGE, "activate: unknown option '%s'", argv[i]);
            fl_error_set_hint(&err, "see 'flakectl activate --help'");
            return fl_cli_report(&err);
        } else if (!toplevel) {
            toplevel = argv[i];
        } else {
            fl_error_set(&err, FL_EUSAGE, "activate: one TOPLEVEL only ('%s' is extra)", argv[i]);
            return fl_cli_report(&err);
        }
    }
    fl_act_options o = {0};
    if (!mode || !toplevel) {
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
    if (backup && (!*backup || strchr(backup, '/'))) {
        fl_error_set(&err, FL_EUSAGE, "--backup-ext '%s': give a plain suffix such as 'bak'",
                     backup);
        return fl_cli_report(&err);
    }
    char *root = NULL, *state = NULL;
    if (fl_activate_paths(&root, &state, &err))
        return fl_cli_report(&err);
    o.root = root;
    o.state_dir = state;
    o.backup_ext = backup;
    o.out = stdout;
    int rc = fl_activate(&o, toplevel, &err);
    free(root);
    free(state);
    return rc ? fl_cli_report(&err) : FL_EXIT_OK;
}
