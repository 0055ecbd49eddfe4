/* rollout.c - a deployment of one host or a fleet: build each host first (through the
 * caller's build function: evaluating is not remote's business), then deploy the built ones
 * N at a time (fleet.c), roll back the hosts that succeeded when asked to and another
 * failed, and print the summary table. One host's failure never stops the others unless
 * fail_fast. Prints only to the streams it is given. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/remote.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"
#include "flakectl/clock.h"

typedef struct rollout_ctx {
    fl_rollout_host *hosts;
    const fl_rollout_opts *o;
    int single;
    fl_deploy_pending *pre; /* single host: the connection started before the build */
    pthread_mutex_t *report_lock;
} rollout_ctx;

/* The first line of err's message, owned. */
static char *first_line(const fl_error *err, const char *dflt) {
    const char *m = err->message ? err->message : dflt;
    const char *nl = strchr(m, '\n');
    return nl ? fl_xstrndup(m, (size_t)(nl - m)) : fl_xstrdup(m);
}

static void report(const rollout_ctx *c, const char *host, fl_error *err) {
    pthread_mutex_lock(c->report_lock);
    if (!c->single)
        fprintf(c->o->err, "[%s] ", host);
    fl_error_print(err, c->o->err);
    fflush(c->o->err);
    fl_error_clear(err);
    pthread_mutex_unlock(c->report_lock);
}

static int deploy_one(void *p, int index, fl_fleet_result *res) {
    rollout_ctx *c = p;
    fl_rollout_host *h = &c->hosts[index];
    fl_error err = FL_ERROR_INIT;
    fl_store *s = NULL;
    int rc = fl_store_open(c->o->state_dir, &s, &err);
    if (rc == 0) {
        fl_deploy_build b = {c->o->build_host, h->plan, h->plan_len, h->inputs, h->ninputs};
        rc = fl_deploy_host_via(s, h->target, h->name, h->toplevel, h->plan ? &b : NULL, c->pre,
                                &c->o->d, &h->res, &err);
        c->pre = NULL;
        fl_store_close(s);
    }
    fl_deploy_connect_abandon(c->pre); /* the store did not open */
    c->pre = NULL;
    if (rc < 0) {
        if (res)
            res->detail = first_line(&err, "failed");
        report(c, h->name, &err);
        return rc;
    }
    if (res)
        res->detail = fl_xstrdup(h->res.unchanged   ? "unchanged"
                                 : h->res.confirmed ? "activated, confirmed"
                                                    : "activated");
    return 0;
}

/* Every host that succeeded and changed goes back to what it ran before. */
static void rollback_succeeded(const fl_rollout_opts *o, fl_rollout_host *hosts,
                               fl_fleet_result *results, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (results[i].state != FL_FLEET_OK || hosts[i].res.unchanged)
            continue;
        int status = 0;
        fl_error rerr = FL_ERROR_INIT;
        fprintf(o->err, "[%s] another host failed: rolling back\n", hosts[i].name);
        free(results[i].detail);
        if (fl_deploy_remote_command(hosts[i].target, hosts[i].name, "rollback", &o->d, &status,
                                     &rerr) < 0 ||
            status != 0) {
            if (rerr.message)
                fl_error_print(&rerr, o->err);
            results[i].detail = fl_xstrdup("rollback after the failure FAILED");
        } else {
            results[i].detail = fl_xstrdup("rolled back (another host failed)");
            hosts[i].res.generation = 0;
        }
        fl_error_clear(&rerr);
        results[i].state = FL_FLEET_FAILED;
    }
}

static void print_table(const fl_rollout_opts *o, fl_rollout_host *hosts,
                        fl_fleet_result *results, size_t n) {
    const char **names = fl_xcalloc(n + 1, sizeof *names);
    fl_fleet_target *t = fl_xcalloc(n + 1, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        names[i] = hosts[i].name;
        t[i].target = hosts[i].target;
        t[i].generation = hosts[i].res.generation;
        t[i].rolled_back = hosts[i].res.rolled_back;
    }
    fl_fleet_print_table(o->err, names, results, t, (int)n);
    free(names);
    free(t);
}

static int deploy_fleet(const fl_rollout_opts *o, fl_rollout_host *hosts, size_t n,
                        fl_fleet_result *results, int nbuilt, pthread_mutex_t *lock) {
    /* deploy only the built hosts, keeping their indexes for the table */
    fl_rollout_host *built = fl_xcalloc(n, sizeof *built);
    int *map = fl_xcalloc(n, sizeof *map);
    int nb = 0;
    for (size_t i = 0; i < n; i++)
        if (hosts[i].built) {
            built[nb] = hosts[i];
            map[nb++] = (int)i;
        }
    fl_fleet_result *bres = fl_xcalloc((size_t)nb ? (size_t)nb : 1, sizeof *bres);
    rollout_ctx c = {built, o, 0, NULL, lock};
    fl_fleet_opts fo = o->fleet;
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
    if (failed && o->rollback_succeeded)
        rollback_succeeded(o, hosts, results, n);
    fflush(o->out);
    print_table(o, hosts, results, n);
    free(bres);
    free(built);
    free(map);
    return failed;
}

int fl_rollout(const fl_rollout_opts *opts, fl_rollout_host *hosts, size_t n) {
    fl_rollout_opts o = *opts;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    /* a target that vanishes mid-stream must be an error, not a signal */
    signal(SIGPIPE, SIG_IGN);
    /* One host built here: connect meanwhile (the handshake costs about as much as the
     * evaluation). Not with a build host, where the target waits for the remote build. */
    fl_deploy_pending *pre = NULL;
    if (n == 1 && !o.build_host) {
        o.d.sudo_pass = o.d.sudo ? fl_remote_sudo_pass_new(o.askpass) : NULL;
        pre = fl_deploy_connect_start(hosts[0].target, hosts[0].name, &o.d);
    }
    /* Build every host here first (one evaluator at a time); a host that does not build
     * fails alone. */
    fl_fleet_result *results = fl_xcalloc(n, sizeof *results);
    int nbuilt = 0;
    for (size_t i = 0; i < n; i++) {
        double t0 = fl_now_s();
        fl_error berr = FL_ERROR_INIT;
        if (o.build(o.build_ctx, &hosts[i], &berr) < 0) {
            if (n > 1)
                fprintf(o.err, "[%s] ", hosts[i].name);
            char *first = first_line(&berr, "build failed");
            results[i].detail = fl_xasprintf("build: %s", first);
            free(first);
            results[i].state = FL_FLEET_FAILED;
            fl_error_print(&berr, o.err);
            fl_error_clear(&berr);
            if (n == 1)
                break;
        } else {
            hosts[i].built = 1;
            nbuilt++;
            if (!o.quiet && o.build_host)
                fprintf(o.out, "[%s] evaluated %s (%zu steps for the build host %s)\n",
                        hosts[i].name, hosts[i].toplevel, hosts[i].plan_steps, o.build_host);
            else if (!o.quiet)
                fprintf(o.out, "[%s] built %s\n", hosts[i].name, hosts[i].toplevel);
        }
        results[i].seconds = fl_now_s() - t0;
    }
    fflush(o.out);
    int failed = 0;
    if (n == 1) {
        if (hosts[0].built) {
            rollout_ctx c = {hosts, &o, 1, pre, &lock};
            if (!o.d.sudo_pass && o.d.sudo)
                o.d.sudo_pass = fl_remote_sudo_pass_new(o.askpass);
            failed = deploy_one(&c, 0, NULL) < 0;
            if (!failed && !o.quiet) {
                fl_deploy_result *r = &hosts[0].res;
                fprintf(o.out, "[%s] %s: generation %d%s\n", hosts[0].name,
                        r->unchanged ? "unchanged" : "deployed", r->generation,
                        r->confirmed ? " (confirmed)" : "");
            }
        } else {
            fl_deploy_connect_abandon(pre);
            failed = 1;
        }
    } else {
        o.d.sudo_pass = o.d.sudo ? fl_remote_sudo_pass_new(o.askpass) : NULL;
        failed = deploy_fleet(&o, hosts, n, results, nbuilt, &lock);
    }
    fl_remote_sudo_pass_free(o.d.sudo_pass);
    for (size_t i = 0; i < n; i++)
        fl_fleet_result_release(&results[i]);
    free(results);
    return failed ? FL_EGENERIC : FL_OK;
}

void fl_rollout_host_release(fl_rollout_host *h) {
    free(h->name);
    free(h->target);
    free(h->toplevel);
    free(h->plan);
    fl_store_free_paths(h->inputs, h->ninputs);
    memset(h, 0, sizeof *h);
}
