/* switch.c - `flakectl switch|test|boot|dry-activate [--host H]`: build the host from the
 * flake, then activate the result in that mode (the same words as nixos-rebuild). Only
 * option parsing lives here: building is src/module, activating src/activate, deploying
 * src/remote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "needroot.h"
#include "opt.h"
#include "term.h"
#include "remote_args.h"
#include "flakectl/activate.h"
#include "flakectl/cli.h"
#include "options.h"
#include "progress.h"

typedef struct switch_opts {
    const char *host, *backup;
    fl_cli_deploy_args deploy;
    int json;
} switch_opts;

static const fl_opt_spec switch_spec[] = {
    FL_OPT_STR_("host", 0, "H", "the host of the flake (default: this machine's host name)",
                switch_opts, host, .complete = FL_OPT_V_HOST, .flags = 0),
    FL_OPT_STR_("backup-ext", 0, "EXT", "move unmanaged files in the way to NAME.EXT instead of\n"
                                        "stopping",
                switch_opts, backup, .flags = 0),
    FL_OPT_GROUP_(fl_cli_deploy_spec, switch_opts, deploy),
    FL_OPT_END_,
};

/* dry-activate's: the same, and the plan as data */
static const fl_opt_spec dry_spec[] = {
    FL_OPT_FLAG_("json", 0, "print the plan as JSON (docs/json.md); notes go to stderr",
                 switch_opts, json, .flags = 0),
    /* host is switch_opts's first field: the group's offsets are switch_opts's own */
    FL_OPT_GROUP_(switch_spec, switch_opts, host),
    FL_OPT_END_,
};

#define SWITCH_SYNOPSIS "[--host H] [--backup-ext EXT] [--target-host U@H | --on @TAG] [options]"
#define SWITCH_TAIL                                                                            \
    "--backup-ext moves unmanaged files in the way to NAME.EXT instead of stopping.\n"       \
    "With --target-host (or --on, --build-host) the host is deployed over SSH; see\n"        \
    "docs/remote.md.\n"

static int cmd_switch(int argc, char **argv);
static int cmd_test(int argc, char **argv);
static int cmd_boot(int argc, char **argv);
static int cmd_dry_activate(int argc, char **argv);

const fl_opt_cmd fl_cmd_switch = {
    "switch", "build the host, activate it and make it the default generation", SWITCH_SYNOPSIS,
    "Builds host H of the flake (default: this machine's host name), activates it now\n"
    "and makes it the default generation.\n" SWITCH_TAIL,
    switch_spec, NULL, cmd_switch,
};
const fl_opt_cmd fl_cmd_test = {
    "test", "build the host and activate it without making it the default", SWITCH_SYNOPSIS,
    "Builds host H of the flake and activates it now; the default generation stays.\n" SWITCH_TAIL,
    switch_spec, NULL, cmd_test,
};
const fl_opt_cmd fl_cmd_boot = {
    "boot", "build the host and make it the default for the next boot", SWITCH_SYNOPSIS,
    "Builds host H of the flake and makes it the default generation, activated at the\n"
    "next boot.\n" SWITCH_TAIL,
    switch_spec, NULL, cmd_boot,
};
const fl_opt_cmd fl_cmd_dry_activate = {
    "dry-activate", "build the host and print everything activation would change",
    SWITCH_SYNOPSIS,
    "Builds host H of the flake and prints everything activating it would change;\n"
    "changes nothing. --json prints the plan as data (docs/json.md).\n" SWITCH_TAIL,
    dry_spec, NULL, cmd_dry_activate,
};

static int build_and_activate(const fl_opt_cmd *cmd, int argc, char **argv, fl_act_mode mode) {
    switch_opts so = {NULL, NULL, FL_CLI_DEPLOY_ARGS_INIT, 0};
    int rc = fl_opt_parse(cmd, &so, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    const char *host = so.host, *backup = so.backup;
    fl_error err = FL_ERROR_INIT;
    if (backup && (!*backup || strchr(backup, '/')))
        return fl_opt_usage(cmd, "--backup-ext '%s': give a plain suffix such as 'bak'", backup);
    if (so.json && (so.deploy.t.target_host || so.deploy.on || so.deploy.build_host))
        return fl_opt_usage(cmd, "--json plans this machine only; drop --target-host, --on and "
                                 "--build-host, or --json");
    if (so.deploy.t.target_host || so.deploy.on || so.deploy.build_host)
        return fl_cli_deploy(cmd, &so.deploy, host, backup, cmd->name);
    char *root = NULL, *state = NULL, *toplevel = NULL;
    /* Resolve --root first: a missing root should stop us before a long build, and so
     * should a user without the right to write the store or the root. */
    if (fl_cli_need_root(mode != FL_ACT_DRY, &err) < 0 ||
        fl_activate_paths(fl_opts.root, fl_opts.state_dir, &root, &state, &err) < 0)
        return fl_cli_report(&err);
    rc = fl_cli_build_host(host, &toplevel, &err);
    json_t *plan = so.json ? json_object() : NULL;
    if (rc == 0) {
        if (!fl_opts.quiet)
            fprintf(plan ? stderr : stdout, "built %s\n", toplevel);
        fl_act_options o = {0};
        o.mode = mode;
        o.root = root;
        o.state_dir = state;
        o.backup_ext = backup;
        o.out = stdout;
        o.record_via = "switch";
        o.record_host = host;
        o.plan_json = plan;
        fflush(stdout);
        /* with --json, stdout is the plan alone: notes and the manager's plan to stderr;
         * with --quiet, a change's report is dropped and one line of result stays (the
         * plan of dry-activate is its result) */
        FILE *real = plan ? stderr : stdout;
        FILE *sink = fl_opts.quiet && mode != FL_ACT_DRY ? fopen("/dev/null", "w") : NULL;
        o.out = sink ? sink : fl_term_plan_open(real, fl_term_color(real));
        fl_cli_progress pr;
        fl_cli_progress_init(&pr, stderr, "installing packages", NULL);
        o.progress = &pr.progress;
        rc = fl_activate(&o, toplevel, &err);
        fl_cli_progress_release(&pr);
        if (sink)
            fclose(sink);
        else
            fl_term_plan_close(o.out, real);
        if (sink && rc == 0)
            printf(mode == FL_ACT_BOOT ? "%s is the default from the next boot\n"
                                       : "%s is active\n",
                   toplevel);
    }
    /* a plan with conflicts is still printed: it is what says what is in the way */
    if (plan && json_object_size(plan))
        fl_cli_print_json(json_incref(plan));
    json_decref(plan);
    free(toplevel);
    free(root);
    free(state);
    return rc < 0 ? fl_cli_report(&err) : FL_EXIT_OK;
}

static int cmd_switch(int argc, char **argv) {
    return build_and_activate(&fl_cmd_switch, argc, argv, FL_ACT_SWITCH);
}

static int cmd_test(int argc, char **argv) {
    return build_and_activate(&fl_cmd_test, argc, argv, FL_ACT_TEST);
}

static int cmd_boot(int argc, char **argv) {
    return build_and_activate(&fl_cmd_boot, argc, argv, FL_ACT_BOOT);
}

static int cmd_dry_activate(int argc, char **argv) {
    return build_and_activate(&fl_cmd_dry_activate, argc, argv, FL_ACT_DRY);
}
