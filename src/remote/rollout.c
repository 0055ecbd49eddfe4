/* rollout.c - a deployment of one host or a fleet. A fleet is pipelined: N hosts at a time
 * (fleet.c), each built (through the caller's build function: evaluating is not remote's
 * business; at most one build per core at once) and deployed as soon as its own build is
 * done, so copies and activations overlap the other hosts' builds. Then it rolls back the
 * hosts that succeeded when asked to and another failed, and prints the summary table. One
 * host's failure never stops the others unless fail_fast. Prints only to the streams it is
 * given. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/remote.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

/* A counting semaphore bounding the builds running at once. */
typedef struct build_slots {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int free;
} build_slots;

typedef struct rollout_ctx {
    fl_rollout_host *hosts;
    const fl_rollout_opts *o;
    int single;
    pthread_mutex_t *report_lock;
    build_slots *slots; /* fleet: the builds' bound */
} rollout_ctx;

/* The first line of err's message, owned. */
static char *first_line(const fl_error *err, const char *dflt) {
    const char *m = err->message ? err->message : dflt;
    const char *nl = strchr(m, '\n');
    return nl ? fl_xstrndup(m, (size_t)(nl - m)) : fl_xstrdup(m);
}

/* A fleet host's builds and copies report into the fleet's line: their counts and notes go
 * up, their own tasks (BEGIN/END) and running byte counts (several hosts copy at once) do
 * not; a step's line names the host. */
typedef struct host_relay {
    fl_progress self;
    const fl_progress *up;
    const char *host;
} host_relay;

static void relay_event(void *ctx, const fl_progress_event *ev) {
    host_relay *r = ctx;
    switch (ev->kind) {
    case FL_PROGRESS_ITEM: {
        char *what = fl_xasprintf("[%s] %s", r->host, ev->task ? ev->task : ev->item);
        fl_progress_item_doing(r->up, ev->item, what);
        free(what);
        break;
    }
    case FL_PROGRESS_ADVANCE:
        fl_progress_advance(r->up, NULL, ev->bytes);
        break;
    case FL_PROGRESS_STAGE:
    case FL_PROGRESS_NOTE:
        r->up->fn(r->up->ctx, ev);
        break;
    default:
        break;
    }
}

static void report(const rollout_ctx *c, const char *host, fl_error *err) {
    pthread_mutex_lock(c->report_lock);
    fl_progress_note(c->o->progress, NULL);
    if (!c->single)
        fprintf(c->o->err, "[%s] ", host);
    fl_error_print(err, c->o->err);
    fflush(c->o->err);
    fl_error_clear(err);
    pthread_mutex_unlock(c->report_lock);
}

/* pre: the connection to the target started before the build (consumed), or NULL. */
static int deploy_one(rollout_ctx *c, int index, fl_deploy_pending *pre, fl_fleet_result *res) {
    fl_rollout_host *h = &c->hosts[index];
    fl_error err = FL_ERROR_INIT;
    fl_store *s = NULL;
    int rc = fl_store_open(c->o->state_dir, &s, &err);
    if (rc == 0) {
        fl_deploy_build b = {c->o->build_host, h->plan, h->plan_len, h->inputs, h->ninputs};
        fl_deploy_opts d = c->o->d;
        d.caches = (fl_deploy_caches){h->substituters, h->nsubstituters, h->trusted_keys,
                                      h->ntrusted_keys};
        rc = fl_deploy_host_via(s, h->target, h->name, h->toplevel, h->plan ? &b : NULL, pre, &d,
                                &h->res, &err);
        pre = NULL;
        fl_store_close(s);
    }
    fl_deploy_connect_abandon(pre); /* the store did not open */
    if (!c->single)
        fl_progress_stage(c->o->d.progress, h->name, rc < 0 ? "failed" : "activated");
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
        fl_progress_note(o->progress, NULL);
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

/* Marks h built and says so. */
static void say_built(const fl_rollout_opts *o, fl_rollout_host *h) {
    h->built = 1;
    if (o->quiet)
        return;
    fl_progress_note(o->progress, NULL);
    if (o->build_host)
        fprintf(o->out, "[%s] evaluated %s (%zu steps for the build host %s)\n", h->name,
                h->toplevel, h->plan_steps, o->build_host);
    else
        fprintf(o->out, "[%s] built %s\n", h->name, h->toplevel);
    fflush(o->out);
}

/* Builds one host of a fleet (waiting for a free build slot); 0 or <0 with the error
 * printed and the table's detail set. */
static int build_in_fleet(rollout_ctx *c, int index, fl_fleet_result *res) {
    fl_rollout_host *h = &c->hosts[index];
    const fl_rollout_opts *o = c->o;
    build_slots *b = c->slots;
    pthread_mutex_lock(&b->mu);
    while (b->free == 0)
        pthread_cond_wait(&b->cv, &b->mu);
    b->free--;
    pthread_mutex_unlock(&b->mu);
    fl_error berr = FL_ERROR_INIT;
    int rc = o->build(o->build_ctx, h, &berr);
    pthread_mutex_lock(&b->mu);
    b->free++;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (rc < 0) {
        fl_progress_stage(o->progress, h->name, "failed");
        char *first = first_line(&berr, "build failed");
        res->detail = fl_xasprintf("build: %s", first);
        free(first);
        report(c, h->name, &berr);
        return rc;
    }
    pthread_mutex_lock(c->report_lock);
    say_built(o, h);
    pthread_mutex_unlock(c->report_lock);
    fl_progress_stage(o->progress, h->name, "built");
    return 0;
}

/* A fleet worker's job: connect to the target while the host waits for a build slot and
 * builds (not with a build host, where the target waits for the remote build), then deploy
 * it at once. */
static int build_and_deploy(void *p, int index, fl_fleet_result *res) {
    rollout_ctx *c = p;
    fl_rollout_host *h = &c->hosts[index];
    host_relay relay = {{relay_event, &relay}, c->o->progress, h->name};
    if (c->o->progress)
        h->progress = &relay.self;
    fl_rollout_opts o = *c->o;
    o.d.progress = h->progress;
    rollout_ctx hc = *c;
    hc.o = &o;
    fl_deploy_pending *pre =
        o.build_host ? NULL : fl_deploy_connect_start(h->target, h->name, &o.d);
    int rc = build_in_fleet(&hc, index, res);
    if (rc == 0)
        rc = deploy_one(&hc, index, pre, res);
    else
        fl_deploy_connect_abandon(pre);
    h->progress = NULL;
    return rc;
}

/* At most one build per core (and never more than the hosts at once): evaluation is CPU
 * work, while copies and activations mostly wait on the network and the targets. */
static int build_slot_count(int jobs) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cores > 0 ? (int)cores : 1;
    return jobs < n ? (jobs > 0 ? jobs : 1) : n;
}

static int deploy_fleet(const fl_rollout_opts *o, fl_rollout_host *hosts, size_t n,
                        pthread_mutex_t *lock) {
    fl_fleet_result *results = fl_xcalloc(n, sizeof *results);
    build_slots slots = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                         build_slot_count(o->fleet.jobs)};
    rollout_ctx c = {hosts, o, 0, lock, &slots};
    fl_progress_begin_of(o->progress, "deploying", n, 0, "hosts");
    fl_fleet_run((int)n, build_and_deploy, &c, &o->fleet, results);
    fl_progress_end(o->progress, 0);
    pthread_cond_destroy(&slots.cv);
    pthread_mutex_destroy(&slots.mu);
    int failed = 0;
    for (size_t i = 0; i < n; i++)
        failed |= results[i].state != FL_FLEET_OK;
    if (failed && o->rollback_succeeded)
        rollback_succeeded(o, hosts, results, n);
    fflush(o->out);
    print_table(o, hosts, results, n);
    for (size_t i = 0; i < n; i++)
        fl_fleet_result_release(&results[i]);
    free(results);
    return failed;
}

/* One host: connect while it builds, then deploy it, with no table. */
static int rollout_one(fl_rollout_opts *o, fl_rollout_host *h, pthread_mutex_t *lock) {
    /* Connect meanwhile (the handshake costs about as much as the evaluation). Not with a
     * build host, where the target waits for the remote build. */
    fl_deploy_pending *pre = NULL;
    o->d.sudo_pass = o->d.sudo ? fl_remote_sudo_pass_new(o->askpass) : NULL;
    o->d.progress = o->progress;
    if (!o->build_host)
        pre = fl_deploy_connect_start(h->target, h->name, &o->d);
    fl_error berr = FL_ERROR_INIT;
    if (o->build(o->build_ctx, h, &berr) < 0) {
        fl_error_print(&berr, o->err);
        fl_error_clear(&berr);
        fl_deploy_connect_abandon(pre);
        return 1;
    }
    say_built(o, h);
    rollout_ctx c = {h, o, 1, lock, NULL};
    int failed = deploy_one(&c, 0, pre, NULL) < 0;
    if (!failed && !o->quiet) {
        fl_deploy_result *r = &h->res;
        fprintf(o->out, "[%s] %s: generation %d%s\n", h->name,
                r->unchanged ? "unchanged" : "deployed", r->generation,
                r->confirmed ? " (confirmed)" : "");
    }
    return failed;
}

int fl_rollout(const fl_rollout_opts *opts, fl_rollout_host *hosts, size_t n) {
    fl_rollout_opts o = *opts;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    /* a target that vanishes mid-stream must be an error, not a signal */
    signal(SIGPIPE, SIG_IGN);
    int failed;
    if (n == 1) {
        failed = rollout_one(&o, &hosts[0], &lock);
    } else {
        o.d.sudo_pass = o.d.sudo ? fl_remote_sudo_pass_new(o.askpass) : NULL;
        failed = deploy_fleet(&o, hosts, n, &lock);
    }
    fl_remote_sudo_pass_free(o.d.sudo_pass);
    return failed ? FL_EGENERIC : FL_OK;
}

void fl_rollout_host_release(fl_rollout_host *h) {
    free(h->name);
    free(h->target);
    free(h->toplevel);
    free(h->plan);
    fl_store_free_paths(h->inputs, h->ninputs);
    fl_store_free_paths(h->substituters, h->nsubstituters);
    fl_store_free_paths(h->trusted_keys, h->ntrusted_keys);
    memset(h, 0, sizeof *h);
}
