/* deploy.c (cli) - the remote half of switch/test/boot/dry-activate (`--target-host`, and
 * fleets with `--on`), and `--target-host` for rollback and generations. Owns option
 * parsing, choosing hosts from the flake's `deploy` attributes, building them here (or, with
 * --build-host, evaluating them into a build plan), and the fleet's summary table; the SSH
 * work is src/remote (deploy.c, copy.c, fleet.c). */
#define _GNU_SOURCE
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/remote_args.h"
#include "flakectl/cli.h"
#include "flakectl/lang.h"
#include "flakectl/module.h"
#include "flakectl/options.h"
#include "flakectl/remote.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

/* ---- the option groups of every remote command ---- */

const fl_opt_spec fl_cli_ssh_spec[] = {
    FL_OPT_STR_("identity", 'i', "KEY", "try this private key first", fl_cli_ssh_args, identity,
                .flags = FL_OPT_LOCAL),
    FL_OPT_FLAG_("accept-new-host-key", 0, "trust an unknown host key and add it to known_hosts",
                 fl_cli_ssh_args, accept_new_host_key, .flags = FL_OPT_LOCAL),
    FL_OPT_STR_("known-hosts", 0, "FILE", "check host keys against FILE (default\n"
                                          "~/.ssh/known_hosts)",
                fl_cli_ssh_args, known_hosts, .flags = FL_OPT_LOCAL),
    FL_OPT_STR_("ssh-config", 0, "FILE|none", "read FILE instead of ~/.ssh/config",
                fl_cli_ssh_args, ssh_config, .flags = FL_OPT_LOCAL),
    FL_OPT_INT_("connect-timeout", 0, "S", "give up connecting after S seconds (default 10)",
                fl_cli_ssh_args, connect_timeout_s, 1, 1000000, .flags = FL_OPT_LOCAL),
    FL_OPT_FLAG_("sudo", 0, "a non-root login: run every step as root through sudo",
                 fl_cli_ssh_args, sudo, .flags = FL_OPT_LOCAL),
    FL_OPT_STR_("askpass", 0, "PROGRAM", "take the sudo password from PROGRAM's output\n"
                                         "(also $SUDO_ASKPASS) instead of the terminal",
                fl_cli_ssh_args, askpass, .flags = FL_OPT_LOCAL),
    FL_OPT_END_,
};

const fl_opt_spec fl_cli_target_spec[] = {
    FL_OPT_STR_("target-host", 0, "U@H[:P]", "run it on that target over SSH (an ~/.ssh/config\n"
                                             "Host alias works)",
                fl_cli_target_args, target_host, .flags = FL_OPT_LOCAL),
    FL_OPT_GROUP_(fl_cli_ssh_spec, fl_cli_target_args, ssh),
    FL_OPT_END_,
};

const fl_opt_spec fl_cli_deploy_spec[] = {
    {.kind = FL_OPT_STRING,
     .name = "target-host",
     .value_name = "U@H[:P]",
     .help = "build here, copy what the target lacks, activate there",
     .offset = offsetof(fl_cli_deploy_args, t.target_host)},
    FL_OPT_STR_("build-host", 0, "U@H[:P]", "evaluate here, build there, copy from there to the\n"
                                            "target",
                fl_cli_deploy_args, build_host, .flags = 0),
    FL_OPT_STR_("on", 0, "@TAG|a,b|'*'", "every chosen host of the flake, to its\n"
                                         "deploy.targetHost",
                fl_cli_deploy_args, on, .flags = 0),
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

typedef struct ssh_args {
    fl_deploy_opts d;
    const char *askpass;
    const char *build_host; /* --build-host */
} ssh_args;

static void ssh_args_init(ssh_args *a, const fl_cli_ssh_args *s) {
    memset(a, 0, sizeof *a);
    a->d.out_fd = 1;
    a->d.err_fd = 2;
    a->d.magic_rollback = 1;
    a->d.confirm_timeout_s = 30;
    fl_cli_ssh_apply(s, &a->d.ssh);
    a->d.sudo = s->sudo;
    a->askpass = s->askpass;
    /* a target that vanishes mid-stream must be an error, not a signal */
    signal(SIGPIPE, SIG_IGN);
}

/* ---- rollback/generations --target-host ---- */

int fl_cli_remote_passthrough(const fl_cli_target_args *t, int argc, char **argv,
                              const unsigned char *local) {
    ssh_args a;
    ssh_args_init(&a, &t->ssh);
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
    a.d.sudo_pass = a.d.sudo ? fl_remote_sudo_pass_new(a.askpass) : NULL;
    int status = 0;
    int rc = fl_deploy_remote_command(t->target_host, t->target_host, args.buf, &a.d, &status,
                                      &err);
    fl_strbuf_release(&args);
    fl_remote_sudo_pass_free(a.d.sudo_pass);
    if (rc < 0)
        return fl_cli_report(&err);
    return status;
}

/* ---- choosing hosts ---- */

typedef struct host_entry {
    char *name;
    char *target; /* deploy.targetHost, or --target-host */
    char **tags;
    size_t ntags;
    char *toplevel;
    int built;
    /* --build-host: the serialized plan and the local paths it needs */
    char *plan;
    size_t plan_len, plan_steps;
    char **inputs;
    size_t ninputs;
    fl_deploy_result res;
    double seconds;
} host_entry;

typedef struct select_job {
    const char *sel;
    host_entry *hosts;
    size_t nhosts;
    fl_error err;
} select_job;

static int has_tag(const host_entry *h, const char *tag) {
    for (size_t i = 0; i < h->ntags; i++)
        if (!strcmp(h->tags[i], tag))
            return 1;
    return 0;
}

/* Reads hosts.<name>.deploy of one host into h (as JSON, through the evaluator). */
static int read_deploy(fl_lang *L, const char *flake, host_entry *h, fl_error *err) {
    fl_host host;
    int rc = fl_host_open(L, flake, h->name, &host, err);
    if (rc < 0)
        return rc;
    fl_value *hv = NULL, *dv = NULL;
    fl_strbuf js;
    fl_strbuf_init(&js, 128);
    rc = fl_lang_attrs_get(L, host.result, "host", &hv, NULL);
    if (rc == 0)
        rc = fl_lang_force(L, hv, err);
    else
        rc = fl_error_set(err, FL_EEVAL, "internal: no `host' in the host's evaluation");
    if (rc == 0 && fl_lang_attrs_get(L, hv, "deploy", &dv, NULL) != 0)
        rc = fl_error_set(err, FL_EEVAL, "internal: no `host.deploy' in the evaluation");
    if (rc == 0)
        rc = fl_lang_print_json(L, dv, 1, &js, err);
    fl_host_release(&host);
    if (rc < 0) {
        fl_strbuf_release(&js);
        fl_error_add_frame(err, "while reading hosts.%s.deploy", h->name);
        return rc;
    }
    json_t *d = json_loads(js.buf, 0, NULL);
    fl_strbuf_release(&js);
    json_t *t = json_object_get(d, "targetHost");
    if (json_is_string(t))
        h->target = fl_xstrdup(json_string_value(t));
    json_t *tags = json_object_get(d, "tags"), *tag;
    size_t i;
    json_array_foreach(tags, i, tag) {
        if (!json_is_string(tag))
            continue;
        h->tags = fl_xrealloc(h->tags, (h->ntags + 1) * sizeof *h->tags);
        h->tags[h->ntags++] = fl_xstrdup(json_string_value(tag));
    }
    json_decref(d);
    return 0;
}

static int select_run(void *p) {
    select_job *j = p;
    fl_error *err = &j->err;
    fl_host_session s;
    int rc = fl_host_session_open(&s, fl_opts.flake_dir, fl_opts.state_dir, NULL,
                                  fl_cli_eval_stack_limit(), fl_opts.show_trace, err);
    if (rc < 0)
        return rc;
    char **names = NULL;
    size_t n = 0;
    rc = fl_module_host_names(s.L, s.flake, &names, &n, err);
    int all = !strcmp(j->sel, "*"), tag = j->sel[0] == '@';
    /* a list of names: each must exist */
    if (rc == 0 && !all && !tag) {
        char *copy = fl_xstrdup(j->sel), *save = NULL;
        for (char *w = strtok_r(copy, ",", &save); w && rc == 0; w = strtok_r(NULL, ",", &save)) {
            int found = 0;
            for (size_t i = 0; i < n; i++)
                found |= !strcmp(names[i], w);
            if (!found) {
                fl_strbuf list;
                fl_strbuf_init(&list, 64);
                for (size_t i = 0; i < n; i++)
                    fl_strbuf_addf(&list, "%s%s", i ? ", " : "", names[i]);
                rc = fl_error_set(err, FL_ENOTFOUND,
                                  "--on: the flake has no host '%s' (it has: %s)", w, list.buf);
                fl_strbuf_release(&list);
            }
        }
        free(copy);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!all && !tag) {
            int named = 0;
            char *copy = fl_xstrdup(j->sel), *save = NULL;
            for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save))
                named |= !strcmp(w, names[i]);
            free(copy);
            if (!named)
                continue;
        }
        host_entry h;
        memset(&h, 0, sizeof h);
        h.name = fl_xstrdup(names[i]);
        rc = read_deploy(s.L, s.flake, &h, err);
        int keep = rc == 0 && (!tag || has_tag(&h, j->sel + 1)) && (!all || h.target);
        if (keep && !h.target)
            rc = fl_error_set(err, FL_ENOTFOUND, "host %s has no deploy.targetHost", h.name);
        if (keep && rc == 0) {
            j->hosts = fl_xrealloc(j->hosts, (j->nhosts + 1) * sizeof *j->hosts);
            j->hosts[j->nhosts++] = h;
        } else {
            free(h.name);
            free(h.target);
            for (size_t k = 0; k < h.ntags; k++)
                free(h.tags[k]);
            free(h.tags);
        }
    }
    if (rc == 0 && j->nhosts == 0)
        rc = fl_error_set(err, FL_ENOTFOUND, "--on %s selects no host with a deploy.targetHost",
                          j->sel);
    fl_module_free_names(names, n);
    fl_host_session_close(&s);
    return rc;
}

static void host_entry_release(host_entry *h) {
    free(h->name);
    free(h->target);
    for (size_t k = 0; k < h->ntags; k++)
        free(h->tags[k]);
    free(h->tags);
    free(h->toplevel);
    free(h->plan);
    fl_store_free_paths(h->inputs, h->ninputs);
}

/* ---- --build-host: evaluate into a plan instead of building ---- */

typedef struct plan_job {
    host_entry *h;
    fl_error *err;
} plan_job;

static int plan_job_run(void *p) {
    plan_job *j = p;
    host_entry *h = j->h;
    fl_host_session sess;
    int rc = fl_host_session_open_plan(&sess, fl_opts.flake_dir, fl_opts.state_dir, h->name,
                                       fl_cli_eval_stack_limit(), fl_opts.show_trace, j->err);
    if (rc < 0)
        return rc;
    rc = fl_host_toplevel(&sess.host, &h->toplevel, j->err);
    if (rc == 0 && !fl_opts.quiet)
        rc = fl_host_print_warnings(&sess.host, j->err);
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

static int plan_host(host_entry *h, fl_error *err) {
    plan_job j = {h, err};
    return fl_cli_with_big_stack(plan_job_run, &j);
}

/* ---- deploying ---- */

typedef struct fleet_ctx {
    host_entry *hosts;
    ssh_args *a;
    int single;
    fl_deploy_pending *pre; /* single host: the connection started before the build */
} fleet_ctx;

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int deploy_one(void *p, int index, fl_fleet_result *res) {
    fleet_ctx *c = p;
    host_entry *h = &c->hosts[index];
    fl_error err = FL_ERROR_INIT;
    double t0 = now_s();
    fl_store *s = NULL;
    int rc = fl_store_open(fl_opts.state_dir, &s, &err);
    if (rc == 0) {
        fl_deploy_build b = {c->a->build_host, h->plan, h->plan_len, h->inputs, h->ninputs};
        rc = fl_deploy_host_via(s, h->target, h->name, h->toplevel, h->plan ? &b : NULL, c->pre,
                                &c->a->d, &h->res, &err);
        c->pre = NULL;
        fl_store_close(s);
    }
    fl_deploy_connect_abandon(c->pre); /* the store did not open */
    c->pre = NULL;
    h->seconds = now_s() - t0;
    if (rc < 0) {
        if (res) {
            const char *m = err.message ? err.message : "failed";
            const char *nl = strchr(m, '\n');
            res->detail = nl ? fl_xstrndup(m, (size_t)(nl - m)) : fl_xstrdup(m);
        }
        pthread_mutex_lock(&report_lock);
        if (!c->single)
            fprintf(stderr, "[%s] ", h->name);
        fl_cli_report(&err);
        pthread_mutex_unlock(&report_lock);
        return rc;
    }
    if (res)
        res->detail = fl_xstrdup(h->res.unchanged   ? "unchanged"
                                 : h->res.confirmed ? "activated, confirmed"
                                                    : "activated");
    return 0;
}

static void print_table(FILE *out, host_entry *hosts, fl_fleet_result *res, size_t n) {
    size_t ok = 0;
    fprintf(out, "\n%-20s %-26s %-12s %4s %8s  %s\n", "host", "target", "result", "gen", "time",
            "detail");
    for (size_t i = 0; i < n; i++) {
        const char *state = res[i].state == FL_FLEET_OK        ? "ok"
                            : res[i].state == FL_FLEET_SKIPPED ? "skipped"
                            : hosts[i].res.rolled_back         ? "ROLLED BACK"
                                                               : "FAILED";
        ok += res[i].state == FL_FLEET_OK;
        char gen[16] = "-";
        if (hosts[i].res.generation > 0)
            snprintf(gen, sizeof gen, "%d", hosts[i].res.generation);
        fprintf(out, "%-20s %-26s %-12s %4s %7.2fs  %s\n", hosts[i].name,
                hosts[i].target ? hosts[i].target : "-", state, gen, res[i].seconds,
                res[i].detail ? res[i].detail : "");
    }
    fprintf(out, "%zu of %zu hosts succeeded\n", ok, n);
}

typedef struct build_all {
    host_entry *hosts;
    size_t n;
} build_all;

int fl_cli_deploy(const fl_opt_cmd *cmd, const fl_cli_deploy_args *da, const char *host,
                  const char *backup_ext, const char *mode) {
    const char *target = da->t.target_host, *on = da->on;
    ssh_args a;
    ssh_args_init(&a, &da->t.ssh);
    a.d.mode = mode;
    a.d.backup_ext = backup_ext;
    a.d.magic_rollback = !da->no_magic_rollback;
    a.d.confirm_timeout_s = da->confirm_timeout_s;
    a.build_host = da->build_host;
    fl_fleet_opts fopts = {da->jobs, da->fail_fast > 0};
    int rollback_succeeded = da->rollback_succeeded;
    if (a.build_host && !on && !target)
        return fl_opt_usage(cmd, "--build-host needs --target-host or --on");
    if (on && (target || host))
        return fl_opt_usage(cmd, "--on chooses the hosts and their targets (deploy.targetHost);"
                                 " it does not combine with --host or --target-host");
    host_entry *hosts = NULL;
    size_t n = 0;
    if (on) {
        select_job j = {on, NULL, 0, FL_ERROR_INIT};
        if (fl_cli_with_big_stack(select_run, &j) < 0) {
            for (size_t i = 0; i < j.nhosts; i++)
                host_entry_release(&j.hosts[i]);
            free(j.hosts);
            return fl_cli_report(&j.err);
        }
        hosts = j.hosts;
        n = j.nhosts;
    } else {
        hosts = fl_xcalloc(1, sizeof *hosts);
        n = 1;
        hosts[0].name = host ? fl_xstrdup(host) : fl_host_default_name();
        hosts[0].target = fl_xstrdup(target);
    }
    /* One host built here: connect meanwhile (the handshake costs about as much as the
     * evaluation). Not with a build host, where the target waits for the remote build. */
    fl_deploy_pending *pre = NULL;
    if (n == 1 && !a.build_host) {
        a.d.sudo_pass = a.d.sudo ? fl_remote_sudo_pass_new(a.askpass) : NULL;
        pre = fl_deploy_connect_start(hosts[0].target, hosts[0].name, &a.d);
    }
    /* Build every host here first (one evaluator at a time); a host that does not build
     * fails alone. */
    fl_fleet_result *results = fl_xcalloc(n, sizeof *results);
    int nbuilt = 0;
    for (size_t i = 0; i < n; i++) {
        double t0 = now_s();
        fl_error berr = FL_ERROR_INIT;
        int brc = a.build_host ? plan_host(&hosts[i], &berr)
                               : fl_cli_build_host(hosts[i].name, &hosts[i].toplevel, &berr);
        if (brc < 0) {
            if (n > 1)
                fprintf(stderr, "[%s] ", hosts[i].name);
            const char *m = berr.message ? berr.message : "build failed";
            const char *nl = strchr(m, '\n');
            char *first = nl ? fl_xstrndup(m, (size_t)(nl - m)) : fl_xstrdup(m);
            results[i].detail = fl_xasprintf("build: %s", first);
            free(first);
            results[i].state = FL_FLEET_FAILED;
            fl_cli_report(&berr);
            if (n == 1)
                break;
        } else {
            hosts[i].built = 1;
            nbuilt++;
            if (!fl_opts.quiet && a.build_host)
                printf("[%s] evaluated %s (%zu steps for the build host %s)\n", hosts[i].name,
                       hosts[i].toplevel, hosts[i].plan_steps, a.build_host);
            else if (!fl_opts.quiet)
                printf("[%s] built %s\n", hosts[i].name, hosts[i].toplevel);
        }
        results[i].seconds = now_s() - t0;
    }
    fflush(stdout);
    int rc = 0;
    if (n == 1) {
        if (hosts[0].built) {
            fleet_ctx c = {hosts, &a, 1, pre};
            if (!a.d.sudo_pass && a.d.sudo)
                a.d.sudo_pass = fl_remote_sudo_pass_new(a.askpass);
            rc = deploy_one(&c, 0, NULL) < 0 ? FL_EXIT_FAILURE : FL_EXIT_OK;
            if (rc == 0 && !fl_opts.quiet) {
                fl_deploy_result *r = &hosts[0].res;
                printf("[%s] %s: generation %d%s\n", hosts[0].name,
                       r->unchanged ? "unchanged" : "deployed", r->generation,
                       r->confirmed ? " (confirmed)" : "");
            }
        } else {
            fl_deploy_connect_abandon(pre);
            rc = FL_EXIT_FAILURE;
        }
    } else {
        a.d.sudo_pass = a.d.sudo ? fl_remote_sudo_pass_new(a.askpass) : NULL;
        /* deploy only the built hosts, keeping their indexes for the table */
        host_entry *built = fl_xcalloc(n, sizeof *built);
        int *map = fl_xcalloc(n, sizeof *map);
        int nb = 0;
        for (size_t i = 0; i < n; i++)
            if (hosts[i].built) {
                built[nb] = hosts[i];
                map[nb++] = (int)i;
            }
        fl_fleet_result *bres = fl_xcalloc((size_t)nb ? (size_t)nb : 1, sizeof *bres);
        fleet_ctx c = {built, &a, 0, NULL};
        fl_fleet_opts fo = fopts;
        if (fo.fail_fast && nbuilt < (int)n)
            nb = 0; /* a build already failed: start no host */
        fl_fleet_run(nb, deploy_one, &c, &fo, bres);
        for (int k = 0; k < nb; k++) {
            size_t i = (size_t)map[k];
            hosts[i].res = built[k].res;
            results[i].state = bres[k].state;
            results[i].detail = bres[k].detail;
            results[i].seconds += bres[k].seconds;
        }
        for (size_t i = 0; i < n; i++)
            if (hosts[i].built && results[i].state == FL_FLEET_PENDING)
                results[i].state = FL_FLEET_SKIPPED;
        int failed = 0;
        for (size_t i = 0; i < n; i++)
            failed |= results[i].state != FL_FLEET_OK;
        if (failed && rollback_succeeded) {
            for (size_t i = 0; i < n; i++) {
                if (results[i].state != FL_FLEET_OK || hosts[i].res.unchanged)
                    continue;
                int status = 0;
                fl_error rerr = FL_ERROR_INIT;
                fprintf(stderr, "[%s] another host failed: rolling back\n", hosts[i].name);
                if (fl_deploy_remote_command(hosts[i].target, hosts[i].name, "rollback", &a.d,
                                             &status, &rerr) < 0 ||
                    status != 0) {
                    if (rerr.message)
                        fl_cli_report(&rerr);
                    free(results[i].detail);
                    results[i].detail = fl_xstrdup("rollback after the failure FAILED");
                } else {
                    free(results[i].detail);
                    results[i].detail = fl_xstrdup("rolled back (another host failed)");
                    hosts[i].res.generation = 0;
                }
                results[i].state = FL_FLEET_FAILED;
            }
        }
        fflush(stdout);
        print_table(stderr, hosts, results, n);
        free(bres);
        free(built);
        free(map);
        rc = failed ? FL_EXIT_FAILURE : FL_EXIT_OK;
    }
    fl_remote_sudo_pass_free(a.d.sudo_pass);
    for (size_t i = 0; i < n; i++) {
        fl_fleet_result_release(&results[i]);
        host_entry_release(&hosts[i]);
    }
    free(results);
    free(hosts);
    return rc;
}
