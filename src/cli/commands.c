/* commands.c - the table of top-level commands (one line each, implemented in
 * src/cli/<name>.c) and the shared reporting helper. Walked by help, "did you mean" and
 * whatever generates man pages and completions (cli/opt.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/cli.h"
#include "flakectl/deploy_protocol.h"
#include "needroot.h"
#include "opt.h"
#include "term.h"

fl_global_options fl_opts;

#define FL_COMMANDS(X)                                                                             \
    X(eval)                                                                                        \
    X(option) X(check) X(build) X(switch) X(test) X(boot) X(dry_activate) X(update) X(lock)        \
        X(store) X(gc) X(secret) X(link_farm) X(remote_exec) X(version) X(activate) X(generations) \
            X(rollback) X(diff) X(deploy_agent) X(cache) X(pull) X(status) X(completion) X(init)   \
                X(why) X(repl)

#define DECLARE(name) extern const fl_opt_cmd fl_cmd_##name;
FL_COMMANDS(DECLARE)
#undef DECLARE

static const fl_opt_cmd *const commands[] = {
#define ENTRY(name) &fl_cmd_##name,
    FL_COMMANDS(ENTRY)
#undef ENTRY
        NULL,
};

const fl_opt_cmd *const *fl_opt_commands(void) {
    return commands;
}

static int cmd_version(int argc, char **argv) {
    int rc = fl_opt_parse(&fl_cmd_version, NULL, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    puts("flakectl " FLAKECTL_VERSION);
    return FL_EXIT_OK;
}

const fl_opt_cmd fl_cmd_version = {"version", "print the version", "", NULL, NULL,
                                   NULL,      cmd_version};

int fl_cli_report(fl_error *err) {
    if (fl_cli_root_error(err) && fl_opts.command && !strcmp(fl_opts.command, "deploy-agent") &&
        !isatty(2)) {
        /* over SSH: the deployer tells its user, once, with the --sudo that fixes it */
        fl_error_clear(err);
        return FL_DEPLOY_EXIT_NEEDS_ROOT;
    }
    fl_error_print_color(err, stderr, fl_term_color(stderr));
    int rc = err->code == FL_EUSAGE ? FL_EXIT_USAGE : FL_EXIT_FAILURE;
    fl_error_clear(err);
    return rc;
}
