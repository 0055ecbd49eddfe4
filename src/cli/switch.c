/* switch.c - `flakectl switch|test|boot|dry-activate [--host H]`: build the host from the
 * flake, then activate the result in that mode (the same words as nixos-rebuild). Only
 * option parsing lives here: building is src/module, activating src/activate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/activate.h"
#include "flakectl/cli.h"
#include "flakectl/options.h"

static void usage(FILE *out, const char *verb) {
    fprintf(out,
            "usage: flakectl [--flake DIR] [--root DIR] [--state-dir DIR] %s [--host H]\n"
            "                [--backup-ext EXT]\n"
            "\n"
            "Builds host H of the flake (default: this machine's host name) and then\n"
            "  switch        activates it now and makes it the default generation\n"
            "  test          activates it now; the default generation stays\n"
            "  boot          makes it the default, activated at the next boot\n"
            "  dry-activate  prints everything that would change and changes nothing\n"
            "--backup-ext moves unmanaged files in the way to NAME.EXT instead of stopping.\n"
            "\n"
            "Remote (see docs/remote.md):\n"
            "  --target-host U@H[:P]   build here, copy what the target lacks, activate there\n"
            "  --build-host U@H[:P]    evaluate here, build there, copy from there to the target\n"
            "  --on @TAG|a,b,c|'*'      every chosen host of the flake, to its deploy.targetHost\n"
            "  -j N                    hosts at once (default 1)\n"
            "  --fail-fast             start no more hosts after a failure (default: keep going)\n"
            "  --rollback-succeeded    when a host fails, roll back the hosts that succeeded\n"
            "  --no-magic-rollback     do not arm the target's watchdog\n"
            "  --confirm-timeout S     confirm over a new connection within S s (default 30)\n"
            "  -i KEY, --accept-new-host-key, --known-hosts F, --ssh-config F|none,\n"
            "  --connect-timeout S, --sudo, --askpass PROG   as for remote-exec\n",
            verb);
}

static int build_and_activate(int argc, char **argv, fl_act_mode mode) {
    const char *verb = argv[0], *host = NULL, *backup = NULL;
    fl_error err = FL_ERROR_INIT;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--target-host") || !strcmp(argv[i], "--on") ||
            !strcmp(argv[i], "--build-host"))
            return fl_cli_deploy(argc, argv, mode == FL_ACT_SWITCH ? "switch"
                                             : mode == FL_ACT_TEST ? "test"
                                             : mode == FL_ACT_BOOT ? "boot"
                                                                   : "dry-activate");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout, verb);
            return FL_EXIT_OK;
        } else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
            host = argv[++i];
        } else if (!strcmp(argv[i], "--backup-ext") && i + 1 < argc) {
            backup = argv[++i];
        } else {
            fl_error_set(&err, FL_EUSAGE, "%s: unexpected argument '%s'", verb, argv[i]);
            fl_error_set_hint(&err, "see 'flakectl %s --help'", verb);
            return fl_cli_report(&err);
        }
    }
    if (backup && (!*backup || strchr(backup, '/'))) {
        fl_error_set(&err, FL_EUSAGE, "--backup-ext '%s': give a plain suffix such as 'bak'",
                     backup);
        return fl_cli_report(&err);
    }
    char *root = NULL, *state = NULL, *toplevel = NULL;
    /* Resolve --root first: a missing root should stop us before a long build. */
    if (fl_activate_paths(&root, &state, &err) < 0)
        return fl_cli_report(&err);
    int rc = fl_cli_build_host(host, &toplevel, &err);
    if (rc == 0) {
        if (!fl_opts.quiet)
            printf("built %s\n", toplevel);
        fl_act_options o = {0};
        o.mode = mode;
        o.root = root;
        o.state_dir = state;
        o.backup_ext = backup;
        o.out = stdout;
        fflush(stdout);
        rc = fl_activate(&o, toplevel, &err);
    }
    free(toplevel);
    free(root);
    free(state);
    return rc < 0 ? fl_cli_report(&err) : FL_EXIT_OK;
}

int cmd_switch(int argc, char **argv) {
    return build_and_activate(argc, argv, FL_ACT_SWITCH);
}

int cmd_test(int argc, char **argv) {
    return build_and_activate(argc, argv, FL_ACT_TEST);
}

int cmd_boot(int argc, char **argv) {
    return build_and_activate(argc, argv, FL_ACT_BOOT);
}

int cmd_dry_activate(int argc, char **argv) {
    return build_and_activate(argc, argv, FL_ACT_DRY);
}
