/* deploy.c (cli) - the option groups every remote command shares (SSH, --target-host, the
 * deploy options) and the remote half of switch/test/boot/dry-activate: it chooses the hosts
 * (src/module/deploy.c), hands src/remote/rollout.c a build function, and forwards
 * rollback/generations to a --target-host. Evaluating is src/module, SSH work src/remote. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "remote_args.h"
#include "flakectl/cli.h"
#include "flakectl/module.h"
#include "options.h"
#include "progress.h"
#include "flakectl/remote.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

/* ---- the option groups of every remote command ---- */

const fl_opt_spec fl_cli_ssh_spec[] = {
    FL_OPT_STR_("identity", 'i', "KEY", "try this private key first", fl_cli_ssh_args, identity,
                .complete = FL_OPT_V_FILE, .flags = FL_OPT_LOCAL),
    FL_OPT_FLAG_("accept-new-host-key", 0, "trust an unknown host key and add it to known_hosts",
                 fl_cli_ssh_args, accept_new_host_key, .flags = FL_OPT_LOCAL),
    FL_OPT_STR_("known-hosts", 0, "FILE", "check host keys against FILE (default\n"
                                          "~/.ssh/known_hosts)",
                fl_cli_ssh_args, known_hosts, .complete = FL_OPT_V_FILE, .flags = FL_OPT_LOCAL),
    FL_OPT_STR_("ssh-config", 0, "FILE|none", "read FILE instead of ~/.ssh/config",
                fl_cli_ssh_args, ssh_config, .complete = FL_OPT_V_FILE, .flags = FL_OPT_LOCAL),
    FL_OPT_INT_("connect-timeout", 0, "S", "give up connecting after S seconds (default 10)",
                fl_cli_ssh_args, connect_timeout_s, 1, 1000000, .flags = FL_OPT_LOCAL),
    FL_OPT_FLAG_("sudo", 0, "a non-root login: run every step as root through sudo",
                 fl_cli_ssh_args, sudo, .flags = FL_OPT_LOCAL),
    FL_OPT_STR_("askpass", 0, "PROGRAM", "take the sudo password from PROGRAM's output\n"
                                         "(also $SUDO_ASKPASS) instead of the terminal",
                fl_cli_ssh_args, askpass, .complete = FL_OPT_V_COMMAND, .flags = FL_OPT_LOCAL),
    FL_OPT_END_,
};

const fl_opt_spec fl_cli_target_spec[] = {
    FL_OPT_STR_("target-host", 0, "U@H[:P]", "run it on that target over SSH (an ~/.ssh/config\n"
                                             "Host alias works)",
                fl_cli_target_args, target_host,
                .complete = FL_OPT_V_SSH_HOST, .flags = FL_OPT_LOCAL),
    FL_OPT_GROUP_(fl_cli_ssh_spec, fl_cli_target_args, ssh),
    FL_OPT_END_,
};

const fl_opt_spec fl_cli_deploy_spec[] = {
    {.kind = FL_OPT_STRING,
     .name = "target-host",
     .value_name = "U@H[:P]",
     .help = "build here, copy what the target lacks, activate there",
     .offset = offsetof(fl_cli_deploy_args, t.target_host),
     .complete = FL_OPT_V_SSH_HOST},
    FL_OPT_STR_("build-host", 0, "U@H[:P]", "evaluate here, build there, copy from there to the\n"
                                            "target",
                fl_cli_deploy_args, build_host, .complete = FL_OPT_V_SSH_HOST, .flags = 0),
    FL_OPT_STR_("on", 0, "@TAG|a,b|'*'", "every chosen host of the flake, to its\n"
                                         "deploy.targetHost",
                fl_cli_deploy_args, on, .complete = FL_OPT_V_SELECTION, .flags = 0),
    FL_OPT_INT_(NULL, 'j', "N", "hosts at once (default 1)", fl_cli_deploy_args, jobs, 1, 1000000,
                .flags = 0),
    FL_OPT_FLAG_("fail-fast", 0, "start no more hosts after a failure", fl_cli_deploy_args,
                 fail_fast, .flags = 0),
    FL_OPT_FLAG_("keep-going", 0, "keep deploying after a failure (the default)",
                 fl_cli_deploy_args, fail_fast, .ival = -1),
    FL_OPT_FLAG_("rollback-succeeded", 0, "when a host fails, roll back the hosts that\n"
                                          "succeeded",
                 fl_cli_deploy_args, rollback_succeeded, .flags = 0),
    FL_OPT_FLAG_("no-magic-rollback", 0, "do not arm the target's watchdog", fl_cli_deploy_args,
                 no_magic_rollback, .flags = 0),
    FL_OPT_INT_("confirm-timeout", 0, "S", "confirm over a new connection within S s\n"
                                           "(default 30)",
                fl_cli_deploy_args, confirm_timeout_s, 1, 1000000, .flags = 0),
    {.kind = FL_OPT_GROUP, .offset = offsetof(fl_cli_deploy_args, t.ssh), .group = fl_cli_ssh_spec},
    FL_OPT_END_,
};

void fl_cli_ssh_apply(const fl_cli_ssh_args *a, fl_remote_opts *o) {
    o->identity_file = a->identity;
    o->known_hosts = a->known_hosts;
    o->ssh_config = a->ssh_config;
    o->accept_new_host_key = a->accept_new_host_key;
    if (a->connect_timeout_s)
        o->connect_timeout_ms = a->connect_timeout_s * 1000;
}

/* ---- rollback/generations --target-host ---- */

int fl_cli_remote_passthrough(const fl_cli_target_args *t, int argc, char **argv,
                              const unsigned char *local) {
    fl_deploy_opts d;
    memset(&d, 0, sizeof d);
    d.out_fd = 1;
    d.err_fd = 2;
    fl_cli_ssh_apply(&t->ssh, &d.ssh);
    d.sudo = t->ssh.sudo;
    /* a target that vanishes mid-stream must be an error, not a signal */
    signal(SIGPIPE, SIG_IGN);
    fl_error err = FL_ERROR_INIT;
    fl_strbuf args;
    fl_strbuf_init(&args, 64);
    fl_strbuf_adds(&args, argv[0]);
    for (int i = 1; i < argc; i++) {
        if (local[i])
            continue;
        fl_strbuf_addch(&args, ' ');
        fl_remote_shell_quote(&args, argv[i]);
    }
    d.sudo_pass = d.sudo ? fl_remote_sudo_pass_new(t->ssh.askpass) : NULL;
    int status = 0;
    int rc = fl_deploy_remote_command(t->target_host, t->target_host, args.buf, &d, &status,
                                      &err);
    fl_strbuf_release(&args);
    fl_remote_sudo_pass_free(d.sudo_pass);
    if (rc < 0)
        return fl_cli_report(&err);
    return status;
}

/* ---- building: here, or a plan for --build-host ---- */

typedef struct build_ctx {
    int plan; /* --build-host: evaluate into a plan instead of building */
} build_ctx;

typedef struct plan_job {
    fl_rollout_host *h;
    fl_error *err;
} plan_job;

static int plan_job_run(void *p) {
    plan_job *j = p;
    fl_rollout_host *h = j->h;
    fl_host_session sess;
    fl_session_opts so;
    fl_cli_session_opts(&so);
    int rc = fl_host_session_open_plan(&sess, &so, h->name, j->err);
    if (rc < 0)
        return rc;
    /* the caches the build host and the target fetch from (flags and the host's store.*
     * options), as a local build would use them */
    fl_cli_caches c;
    memset(&c, 0, sizeof c);
    rc = fl_cli_session_substitute(&sess, &c, j->err);
    h->substituters = c.urls;
    h->nsubstituters = c.nurls;
    h->trusted_keys = c.keys;
    h->ntrusted_keys = c.nkeys;
    if (rc == 0)
        rc = fl_host_toplevel(&sess.host, &h->toplevel, j->err);
    if (rc == 0 && !fl_opts.quiet)
        rc = fl_host_print_warnings(&sess.host, stderr, j->err);
    if (rc == 0) {
        /* the toplevel's builder is this binary (link-farm): the build host learns its path */
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = '\0';
        fl_strbuf buf;
        fl_strbuf_init(&buf, 1 << 16);
        fl_build_plan_serialize(sess.plan, fl_store_dir(sess.store), self, h->toplevel, &buf);
        h->plan = fl_strbuf_detach(&buf, &h->plan_len);
        h->plan_steps = fl_build_plan_steps(sess.plan);
        fl_build_plan_inputs(sess.plan, &h->inputs, &h->ninputs);
    }
    fl_host_session_close(&sess);
    return rc;
}

static int build_one(void *ctx, fl_rollout_host *h, fl_error *err) {
    build_ctx *b = ctx;
    if (!b->plan) {
        fl_cli_caches c;
        int rc = fl_cli_build_host_caches(h->name, &h->toplevel, &c, h->progress, err);
        h->substituters = c.urls;
        h->nsubstituters = c.nurls;
        h->trusted_keys = c.keys;
        h->ntrusted_keys = c.nkeys;
        return rc;
    }
    plan_job j = {h, err};
    return fl_cli_with_big_stack(plan_job_run, &j);
}

typedef struct select_job {
    const char *sel;
    fl_host_deploy *hosts;
    size_t n;
    fl_error err;
} select_job;

static int select_run(void *p) {
    select_job *j = p;
    fl_session_opts so;
    fl_cli_session_opts(&so);
    return fl_module_select_deploy(&so, j->sel, &j->hosts, &j->n, &j->err);
}

int fl_cli_select_hosts(const char *sel, fl_host_deploy **hosts, size_t *n, fl_error *err) {
    select_job j = {sel, NULL, 0, FL_ERROR_INIT};
    int rc = fl_cli_with_big_stack(select_run, &j);
    *hosts = j.hosts;
    *n = j.n;
    if (rc < 0)
        fl_error_move(err, &j.err);
    return rc;
}

int fl_cli_deploy(const fl_opt_cmd *cmd, const fl_cli_deploy_args *da, const char *host,
                  const char *backup_ext, const char *mode) {
    const char *target = da->t.target_host, *on = da->on;
    if (da->build_host && !on && !target)
        return fl_opt_usage(cmd, "--build-host needs --target-host or --on");
    if (on && (target || host))
        return fl_opt_usage(cmd, "--on chooses the hosts and their targets (deploy.targetHost);"
                                 " it does not combine with --host or --target-host");
    fl_rollout_opts o;
    memset(&o, 0, sizeof o);
    fl_cli_ssh_apply(&da->t.ssh, &o.d.ssh);
    o.d.sudo = da->t.ssh.sudo;
    o.d.mode = mode;
    o.d.backup_ext = backup_ext;
    o.d.magic_rollback = !da->no_magic_rollback;
    o.d.confirm_timeout_s = da->confirm_timeout_s;
    o.askpass = da->t.ssh.askpass;
    o.build_host = da->build_host;
    o.fleet.jobs = da->jobs;
    o.fleet.fail_fast = da->fail_fast > 0;
    o.rollback_succeeded = da->rollback_succeeded;
    o.quiet = fl_opts.quiet;
    o.state_dir = fl_opts.state_dir;
    build_ctx b = {da->build_host != NULL};
    o.build = build_one;
    o.build_ctx = &b;
    fl_cli_progress pr;
    fl_cli_progress_init(&pr, stderr, "copying", NULL);
    o.progress = &pr.progress;
    /* the hosts' lines (ours and their targets') each on a row of their own, never in the
     * updating line's */
    fl_cli_line_relay relay;
    fl_cli_line_relay_start(&relay, &pr);
    o.d.out_fd = relay.fd[0];
    o.d.err_fd = relay.fd[1];
    o.out = relay.out;
    o.err = relay.err;
    fl_rollout_host *hosts = NULL;
    size_t n = 0;
    if (on) {
        fl_host_deploy *sel = NULL;
        size_t nsel = 0;
        fl_error serr = FL_ERROR_INIT;
        int rc = fl_cli_select_hosts(on, &sel, &nsel, &serr);
        if (rc == 0) {
            n = nsel;
            hosts = fl_xcalloc(n, sizeof *hosts);
            for (size_t i = 0; i < n; i++) {
                hosts[i].name = fl_xstrdup(sel[i].name);
                hosts[i].target = fl_xstrdup(sel[i].target);
            }
        }
        fl_host_deploy_free(sel, nsel);
        if (rc < 0) {
            fl_cli_line_relay_stop(&relay);
            fl_cli_progress_release(&pr);
            return fl_cli_report(&serr);
        }
    } else {
        hosts = fl_xcalloc(1, sizeof *hosts);
        n = 1;
        hosts[0].name = host ? fl_xstrdup(host) : fl_host_default_name();
        hosts[0].target = fl_xstrdup(target);
    }
    int rc = fl_rollout(&o, hosts, n);
    fl_cli_line_relay_stop(&relay);
    fl_cli_progress_release(&pr);
    for (size_t i = 0; i < n; i++)
        fl_rollout_host_release(&hosts[i]);
    free(hosts);
    return rc < 0 ? FL_EXIT_FAILURE : FL_EXIT_OK;
}
