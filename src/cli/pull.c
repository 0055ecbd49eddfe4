/* pull.c (cli) - `flakectl pull --host H --from URL`: the options and the output of pull
 * mode over include/flakectl/pull.h; the build of a Git checkout is build.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/cli.h"
#include "flakectl/flake.h"
#include "flakectl/pull.h"
#include "opt.h"
#include "options.h"

typedef struct pull_opts {
    const char *host, *from, *ref, *rev, *mode;
    int allow_downgrade;
    fl_opt_list signers;
} pull_opts;

static const char *const pull_modes[] = {"switch", "test", "boot", NULL};

static const fl_opt_spec pull_spec[] = {
    FL_OPT_STR_("host", 0, "H",
                "this host's name in the flake and the cache (default: the\n"
                "machine's host name)",
                pull_opts, host, .flags = 0),
    FL_OPT_STR_("from", 0, "URL",
                "git+https://…|git+ssh://…|git+file://… (?ref=, &rev=), or a\n"
                "cache: https://…|http://…|file:///DIR",
                pull_opts, from, .flags = 0),
    FL_OPT_STR_("ref", 0, "BRANCH", "Git: the branch or tag to follow", pull_opts, ref, .flags = 0),
    FL_OPT_STR_("rev", 0, "COMMIT", "Git: this commit (40 hex digits)", pull_opts, rev, .flags = 0),
    FL_OPT_CHOICE_("mode", 0, "MODE", "switch (default), test or boot", pull_opts, mode, pull_modes,
                   .flags = 0),
    FL_OPT_FLAG_("allow-downgrade", 0,
                 "accept an older pointer or a commit that does not\n"
                 "descend from the running one",
                 pull_opts, allow_downgrade, .flags = 0),
    FL_OPT_LIST_("allowed-signer", 0, "KEY",
                 "Git: the commit must carry an SSH signature by this\n"
                 "key ('ssh-ed25519 AAAA…'; repeatable)",
                 pull_opts, signers, .flags = 0),
    FL_OPT_END_,
};

static int cmd_pull(int argc, char **argv);

const fl_opt_cmd fl_cmd_pull = {
    "pull",
    "bring this host to what its fleet wants: a signed cache pointer or a Git flake",
    "--from URL [--host H] [--trusted-public-key K]... [--mode switch|test|boot]",
    "Run on the host itself (services.flakectl.pull runs it on a timer; docs/pull.md).\n"
    "From a cache: reads the signed pointer hosts/H that 'cache push --host H --key KEY'\n"
    "wrote, substitutes its closure and activates it; a pointer older than the one\n"
    "applied is refused. From Git (git+URL): fetches the branch or commit, builds host H\n"
    "and activates it; a commit that does not descend from the running one is refused.\n"
    "Activation is a switch's: planned, and the previous generation restored on failure.\n"
    "Every pull's outcome is recorded for 'flakectl status'.\n",
    pull_spec,
    NULL,
    cmd_pull,
};

static int build_checkout(void *ctx, const char *flake_dir, const char *host, char **toplevel,
                          fl_error *err) {
    (void)ctx;
    return fl_cli_build_host_in(flake_dir, host, toplevel, err);
}

static int cmd_pull(int argc, char **argv) {
    pull_opts po;
    memset(&po, 0, sizeof po);
    int rc = fl_opt_parse(&fl_cmd_pull, &po, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    const char *usage = NULL;
    if (!po.from)
        usage = "give --from URL: a cache (https://…, file:///DIR) or a Git repository "
                "(git+https://…)";
    else if ((po.ref || po.rev || po.signers.n) && strncmp(po.from, "git+", 4) != 0)
        usage = "--ref, --rev and --allowed-signer are for a Git source (git+URL); a cache's "
                "pointers are checked with --trusted-public-key";
    if (usage) {
        fl_opt_release(&fl_cmd_pull, &po);
        return fl_opt_usage(&fl_cmd_pull, "%s", usage);
    }
    fl_error err = FL_ERROR_INIT;
    char *root = NULL, *state = NULL;
    if (fl_activate_paths(fl_opts.root, fl_opts.state_dir, &root, &state, &err) < 0) {
        fl_opt_release(&fl_cmd_pull, &po);
        return fl_cli_report(&err);
    }
    char *default_host = po.host ? NULL : fl_host_default_name();
    fl_pull_opts o;
    memset(&o, 0, sizeof o);
    o.host = po.host ? po.host : default_host;
    o.from = po.from;
    o.ref = po.ref;
    o.rev = po.rev;
    o.keys = fl_opts.trusted_keys.v;
    o.nkeys = fl_opts.trusted_keys.n;
    o.substituters = fl_opts.substituters.v;
    o.nsubstituters = fl_opts.substituters.n;
    o.root = root;
    o.state_dir = state;
    o.mode = !po.mode || !strcmp(po.mode, "switch") ? FL_ACT_SWITCH
             : !strcmp(po.mode, "test")             ? FL_ACT_TEST
                                                    : FL_ACT_BOOT;
    o.allow_downgrade = po.allow_downgrade;
    o.allowed_signers = po.signers.v;
    o.nallowed_signers = po.signers.n;
    o.build = build_checkout;
    o.out = stdout;
    fl_pull_result res;
    rc = fl_pull(&o, &res, &err);
    fl_pull_result_release(&res);
    fl_opt_release(&fl_cmd_pull, &po);
    free(default_host);
    free(root);
    free(state);
    return rc < 0 ? fl_cli_report(&err) : FL_EXIT_OK;
}
