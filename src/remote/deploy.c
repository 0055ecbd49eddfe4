/* deploy.c - one host's deployment from the deployer's side: connect once, check the target
 * (flakectl present, same store directory), copy the closure (copy.c), run
 * `flakectl deploy-agent activate` there with its output streamed back prefixed, and for
 * magic rollback confirm over a second, new connection. With a build host: ship the plan's
 * inputs there, have `flakectl deploy-agent build` replay the plan, and relay the result to
 * the target. It never activates or builds anything itself: the agents do, and the target's
 * alone decides about rollbacks. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flakectl/deploy_protocol.h"
#include "flakectl/remote.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"
#include "remote/internal.h"

/* Passes output lines to a prefixer, keeping the agent's report line for the deployer. */
typedef struct agent_out {
    fl_remote_prefixer pre;
    fl_strbuf line;
    json_t *report;
} agent_out;

static int agent_write(void *ctx, const char *data, size_t len, fl_error *err) {
    agent_out *a = ctx;
    for (size_t i = 0; i < len; i++) {
        fl_strbuf_addch(&a->line, data[i]);
        if (data[i] != '\n')
            continue;
        size_t ml = strlen(FL_DEPLOY_REPORT_MARK);
        if (a->line.len > ml && !memcmp(a->line.buf, FL_DEPLOY_REPORT_MARK, ml)) {
            json_decref(a->report);
            a->report = json_loads(a->line.buf + ml, 0, NULL);
        } else if (fl_remote_prefix_write(&a->pre, a->line.buf, a->line.len, err) < 0) {
            return -1;
        }
        fl_strbuf_reset(&a->line);
    }
    return 0;
}

static void agent_out_init(agent_out *a, int fd, const char *label) {
    fl_remote_prefixer_init(&a->pre, fd, label);
    fl_strbuf_init(&a->line, 256);
    a->report = NULL;
}

static void agent_out_finish(agent_out *a) {
    if (a->line.len)
        fl_remote_prefix_write(&a->pre, a->line.buf, a->line.len, NULL);
    fl_remote_prefixer_finish(&a->pre);
    fl_strbuf_release(&a->line);
}

/* Runs cmd with both outputs prefixed (report lines caught); *status its exit status. in:
 * the command's stdin (NULL = none). */
static int run_agent_in(fl_remote *r, const char *cmd, fl_remote_mem_in *in,
                        const fl_deploy_opts *o, json_t **report, int *status, fl_error *err) {
    agent_out out, eout;
    agent_out_init(&out, o->out_fd, fl_remote_label(r));
    agent_out_init(&eout, o->err_fd, fl_remote_label(r));
    fl_remote_io io = FL_REMOTE_IO_INIT;
    if (in) {
        io.stdin_cb = fl_remote_mem_read;
        io.stdin_ctx = in;
    }
    io.stdout_cb = agent_write;
    io.stdout_ctx = &out;
    io.stderr_cb = agent_write;
    io.stderr_ctx = &eout;
    fl_remote_status st;
    int rc = fl_remote_exec(r, cmd, &io, &st, err);
    agent_out_finish(&out);
    agent_out_finish(&eout);
    if (report)
        *report = out.report;
    else
        json_decref(out.report);
    json_decref(eout.report);
    if (rc < 0)
        return rc;
    if (st.exit_signal || st.exit_status == 127) {
        rc = fl_remote_explain_status(r, cmd, &st, err);
        fl_remote_status_release(&st);
        return rc;
    }
    *status = st.exit_status;
    fl_remote_status_release(&st);
    return 0;
}

static int run_agent(fl_remote *r, const char *cmd, const fl_deploy_opts *o, json_t **report,
                     int *status, fl_error *err) {
    return run_agent_in(r, cmd, NULL, o, report, status, err);
}

static int connect_target(const char *target, const char *label, const fl_deploy_opts *o,
                          int retry_ms, fl_remote **r, fl_error *err) {
    fl_remote_target t;
    int rc = fl_remote_target_parse(target, &t, err);
    if (rc < 0)
        return rc;
    fl_remote_opts ro = o->ssh;
    ro.label = label;
    rc = retry_ms > 0 ? fl_remote_connect_retry(&t, &ro, retry_ms, r, err)
                      : fl_remote_connect(&t, &ro, r, err);
    fl_remote_target_release(&t);
    if (rc < 0)
        return rc;
    if (fl_remote_added_host_key(*r)) {
        char *note = fl_xasprintf("note: permanently added the host key of %s (%s) to %s\n",
                                  fl_remote_label(*r), fl_remote_added_host_key(*r),
                                  fl_remote_known_hosts(*r));
        ssize_t w = write(o->err_fd, note, strlen(note));
        (void)w;
        free(note);
    }
    if (o->sudo && (rc = fl_remote_enable_sudo(*r, o->sudo_pass, err)) < 0) {
        fl_remote_close(*r);
        *r = NULL;
    }
    return rc;
}

static void random_token(char out[33]) {
    unsigned char b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, b, sizeof b) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)sizeof b) {
        /* unique enough for a file name when /dev/urandom is unavailable */
        unsigned long long x =
            (unsigned long long)getpid() * 2654435761ULL ^ (unsigned long long)time(NULL);
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(x >> ((i % 8) * 8)) ^ (unsigned char)i;
    }
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* What `deploy-agent info` said about the toplevel to deploy. */
typedef struct target_state {
    int running;    /* it is `current` there */
    int is_default; /* it is the default generation's toplevel */
    int idle;       /* no activation in flight (an older agent does not say: 0) */
    int generation; /* the default generation */
    int pending;    /* it keeps a copy's paths rooted under an id until the activation */
} target_state;

/* Checks that the target's store lives where ours does: store paths embed it. */
static int check_target(fl_remote *r, struct fl_store *s, const fl_deploy_opts *o,
                        const char *toplevel, target_state *ts, fl_error *err) {
    /* no separate `command -v flakectl`: exit status 127 of this first command already says
     * "flakectl is not installed" with the hint, and saves a round trip */
    json_t *info = NULL;
    int status = 0;
    int rc = run_agent(r, "flakectl deploy-agent info", o, &info, &status, err);
    if (rc == 0 && status == FL_DEPLOY_EXIT_NEEDS_ROOT) {
        rc = fl_error_set(err, FL_EIO,
                          "the deployment needs root on %s: the login there is not root and may "
                          "not write flakectl's state directory",
                          fl_remote_label(r));
        fl_error_set_hint(err, "deploy with --sudo (the login runs each step through sudo), or "
                               "log in as root (--target-host root@HOST)");
    } else if (rc == 0 && (status != 0 || !info)) {
        rc = fl_error_set(err, FL_EGENERIC,
                          "`flakectl deploy-agent info` failed on %s (exit status %d)",
                          fl_remote_label(r), status);
        fl_error_set_hint(err, "the target's flakectl may be older than this one; install "
                               "the same version on both sides");
    }
    if (rc == 0) {
        const char *dir = json_string_value(json_object_get(info, FL_DEPLOY_KEY_STORE_DIR));
        if (!dir || strcmp(dir, fl_store_dir(s)) != 0) {
            rc = fl_error_set(err, FL_ECONFLICT,
                              "the store on %s is %s, but this one is %s: store paths contain "
                              "the store directory, so both sides need the same one",
                              fl_remote_label(r), dir ? dir : "(unknown)", fl_store_dir(s));
            fl_error_set_hint(err, "give the target the same state directory (FLAKECTL_STATE_DIR "
                                   "in its environment, e.g. /var/lib/flakectl on both)");
        }
        const char *cur = json_string_value(json_object_get(info, FL_DEPLOY_KEY_CURRENT));
        const char *dtop = json_string_value(json_object_get(info, FL_DEPLOY_KEY_DEFAULT_TOPLEVEL));
        json_t *fl = json_object_get(info, FL_DEPLOY_KEY_IN_FLIGHT);
        ts->running = cur && toplevel && !strcmp(cur, toplevel);
        ts->is_default = dtop && toplevel && !strcmp(dtop, toplevel);
        ts->idle = json_is_boolean(fl) && !json_is_true(fl);
        ts->generation = (int)json_integer_value(json_object_get(info, FL_DEPLOY_KEY_DEFAULT));
        ts->pending = json_is_true(json_object_get(info, FL_DEPLOY_KEY_PENDING_ROOTS));
    }
    json_decref(info);
    return rc;
}

/* The build host's part: connect, check, ship the plan's inputs, replay the plan there.
 * On success *b is the open connection and closure/sizes the built toplevel's closure as
 * the build host reports it (references first). */
static int build_remotely(struct fl_store *s, const fl_deploy_build *build, const char *label,
                          const char *toplevel, const fl_deploy_opts *o, fl_remote **b,
                          char ***closure, uint64_t **sizes, size_t *ncl, fl_deploy_result *res,
                          fl_error *err) {
    char *blabel = fl_xasprintf("build host %s", build->host);
    int rc = connect_target(build->host, blabel, o, 0, b, err);
    free(blabel);
    if (rc < 0)
        return rc;
    target_state bts;
    rc = check_target(*b, s, o, NULL, &bts, err);
    if (rc == 0 && build->ninputs)
        rc = fl_deploy_copy_paths(*b, s, build->inputs, build->ninputs, &o->caches, 0, o->err_fd,
                                  o->progress, &res->build_inputs, err);
    json_t *report = NULL;
    int status = 0;
    if (rc == 0) {
        fl_strbuf cmd;
        fl_strbuf_init(&cmd, 64);
        fl_strbuf_adds(&cmd, "flakectl deploy-agent build --gc-root ");
        fl_remote_shell_quote(&cmd, label);
        /* the build host takes from the caches what they have instead of building it */
        fl_deploy_caches_args(&cmd, &o->caches);
        fl_remote_mem_in in = {build->plan, build->plan_len, 0};
        rc = run_agent_in(*b, cmd.buf, &in, o, &report, &status, err);
        fl_strbuf_release(&cmd);
    }
    const char *top = json_string_value(json_object_get(report, FL_DEPLOY_KEY_TOPLEVEL));
    if (rc == 0 && (status != 0 || !top))
        rc = fl_error_set(err, FL_EGENERIC, "the build on %s failed (exit status %d)",
                          fl_remote_label(*b), status);
    else if (rc == 0 && strcmp(top, toplevel) != 0)
        rc = fl_error_set(err, FL_ECONFLICT, "%s built %s, but the plan's toplevel is %s",
                          fl_remote_label(*b), top, toplevel);
    json_t *cl = json_object_get(report, FL_DEPLOY_KEY_CLOSURE), *e;
    size_t i;
    if (rc == 0) {
        *ncl = json_array_size(cl);
        *closure = fl_xcalloc(*ncl + 1, sizeof **closure);
        *sizes = fl_xcalloc(*ncl + 1, sizeof **sizes);
        json_array_foreach(cl, i, e) {
            const char *p = json_string_value(json_array_get(e, 0));
            (*closure)[i] = fl_xstrdup(p ? p : "");
            (*sizes)[i] = (uint64_t)json_integer_value(json_array_get(e, 1));
        }
        res->built = (size_t)json_integer_value(json_object_get(report, FL_DEPLOY_KEY_BUILT));
        char *line = fl_xasprintf("[%s] built %s (%zu outputs built, %zu paths in its closure)\n",
                                  fl_remote_label(*b), top, res->built, *ncl);
        ssize_t w = write(o->err_fd, line, strlen(line));
        (void)w;
        free(line);
    }
    json_decref(report);
    if (rc < 0) {
        fl_remote_close(*b);
        *b = NULL;
    }
    return rc;
}

/* ---- connecting while the deployer evaluates ---- */

struct fl_deploy_pending {
    pthread_t th;
    char *target, *label;
    const fl_deploy_opts *o;
    fl_remote *r;
    int rc;
    fl_error err;
};

static void *pending_main(void *p) {
    fl_deploy_pending *d = p;
    d->rc = connect_target(d->target, d->label, d->o, 0, &d->r, &d->err);
    return NULL;
}

fl_deploy_pending *fl_deploy_connect_start(const char *target, const char *label,
                                           const fl_deploy_opts *o) {
    fl_deploy_pending *d = fl_xcalloc(1, sizeof *d);
    d->target = fl_xstrdup(target);
    d->label = fl_xstrdup(label);
    d->o = o;
    d->err = (fl_error)FL_ERROR_INIT;
    if (pthread_create(&d->th, NULL, pending_main, d) != 0) {
        free(d->target);
        free(d->label);
        free(d);
        return NULL; /* the deploy connects itself */
    }
    return d;
}

/* Waits for the connection; *r is it, or err says why there is none. Frees d. */
static int pending_take(fl_deploy_pending *d, fl_remote **r, fl_error *err) {
    pthread_join(d->th, NULL);
    int rc = d->rc;
    *r = d->r;
    if (rc < 0)
        fl_error_move(err, &d->err);
    else
        fl_error_clear(&d->err);
    free(d->target);
    free(d->label);
    free(d);
    return rc;
}

void fl_deploy_connect_abandon(fl_deploy_pending *d) {
    if (!d)
        return;
    fl_remote *r = NULL;
    fl_error e = FL_ERROR_INIT;
    pending_take(d, &r, &e);
    fl_remote_close(r);
    fl_error_clear(&e);
}

int fl_deploy_host(struct fl_store *s, const char *target, const char *label, const char *toplevel,
                   const fl_deploy_opts *o, fl_deploy_result *res, fl_error *err) {
    return fl_deploy_host_via(s, target, label, toplevel, NULL, NULL, o, res, err);
}

int fl_deploy_host_via(struct fl_store *s, const char *target, const char *label,
                       const char *toplevel, const fl_deploy_build *build, fl_deploy_pending *pre,
                       const fl_deploy_opts *o, fl_deploy_result *res, fl_error *err) {
    memset(res, 0, sizeof *res);
    fl_remote *r = NULL, *b = NULL;
    char **closure = NULL;
    uint64_t *sizes = NULL;
    size_t ncl = 0;
    int rc = 0;
    if (build) {
        rc = build_remotely(s, build, label, toplevel, o, &b, &closure, &sizes, &ncl, res, err);
        if (rc < 0) {
            fl_deploy_connect_abandon(pre);
            fl_error_add_frame(err, "while building %s on the build host %s", label, build->host);
            return rc;
        }
    }
    if (pre) {
        rc = pending_take(pre, &r, err);
    } else if (build && !strcmp(build->host, target)) {
        r = b; /* the build host is the target: one connection serves both */
        b = NULL;
        fl_remote_set_label(r, label);
    } else {
        rc = connect_target(target, label, o, 0, &r, err);
    }
    if (rc < 0) {
        res->connect_failed = 1;
        fl_remote_close(b);
        fl_store_free_paths(closure, ncl);
        free(sizes);
        return rc;
    }
    target_state ts = {0, 0, 0, 0, 0};
    rc = check_target(r, s, o, toplevel, &ts, err);
    int running = ts.running;
    /* the activation engine's own no-op rule, known from info already: skip its round trip */
    int noop = ts.idle && ((!strcmp(o->mode, "switch") && ts.running && ts.is_default) ||
                           (!strcmp(o->mode, "test") && ts.running) ||
                           (!strcmp(o->mode, "boot") && ts.is_default));
    /* Between the copy and the activation nothing else roots the new toplevel there: the
     * target keeps what this copy asks about under this id until the activation ends. A
     * no-op's toplevel is rooted already (current, or the default generation). */
    char pending[33] = "";
    if (ts.pending && !noop && !running)
        random_token(pending);
    if (rc == 0 && running) {
        /* what runs there has its closure there: `current` is a GC root of the target */
        char *line = fl_xasprintf("[%s] nothing to copy: it runs this toplevel already", label);
        fl_progress_note(o->progress, line);
        free(line);
    } else if (rc == 0 && build) {
        /* the target fetches from the caches what they have, as on the direct path: the
         * deployer relays only what no cache has */
        rc = fl_deploy_relay(r, b ? b : r, closure, sizes, ncl, *pending ? pending : NULL,
                             &o->caches, 0, o->err_fd, o->progress, &res->copy, err);
    } else if (rc == 0) {
        rc = fl_deploy_copy_via_caches(r, s, toplevel, *pending ? pending : NULL, &o->caches,
                                       o->err_fd, o->progress, &res->copy, err);
    }
    if (rc == 0)
        fl_progress_stage(o->progress, label, "copied");
    fl_remote_close(b);
    fl_store_free_paths(closure, ncl);
    free(sizes);
    int magic = o->magic_rollback && (!strcmp(o->mode, "switch") || !strcmp(o->mode, "test"));
    char token[33] = "";
    json_t *report = NULL;
    int status = 0;
    if (rc == 0 && noop) {
        char *line = fl_xasprintf("[%s] nothing to do: it runs this toplevel already%s\n", label,
                                  ts.is_default ? " as the default generation" : "");
        ssize_t w = write(o->out_fd, line, strlen(line));
        (void)w;
        free(line);
        fl_remote_close(r);
        res->unchanged = 1;
        res->generation = ts.generation;
        return 0;
    }
    if (rc == 0) {
        fl_strbuf cmd;
        fl_strbuf_init(&cmd, 256);
        fl_strbuf_adds(&cmd, "flakectl deploy-agent activate ");
        fl_remote_shell_quote(&cmd, toplevel);
        fl_strbuf_addf(&cmd, " --mode %s", o->mode);
        if (*pending)
            fl_strbuf_addf(&cmd, " --pending %s", pending);
        if (o->backup_ext) {
            fl_strbuf_adds(&cmd, " --backup-ext ");
            fl_remote_shell_quote(&cmd, o->backup_ext);
        }
        if (magic) {
            random_token(token);
            fl_strbuf_addf(&cmd, " --magic-rollback %s --confirm-timeout %d", token,
                           o->confirm_timeout_s > 0 ? o->confirm_timeout_s : 30);
        }
        rc = run_agent(r, cmd.buf, o, &report, &status, err);
        fl_strbuf_release(&cmd);
        if (rc < 0)
            fl_error_add_frame(err, "while activating %s on %s", toplevel, label);
    }
    fl_remote_close(r);
    r = NULL;
    if (rc < 0) {
        json_decref(report);
        return rc;
    }
    res->generation = (int)json_integer_value(json_object_get(report, FL_DEPLOY_KEY_GENERATION));
    res->unchanged = report && !json_is_true(json_object_get(report, FL_DEPLOY_KEY_CHANGED));
    int watched = json_is_true(json_object_get(report, FL_DEPLOY_KEY_WATCHED));
    int previous = (int)json_integer_value(json_object_get(report, FL_DEPLOY_KEY_PREVIOUS));
    if (status != 0 || !report) {
        json_decref(report);
        return fl_error_set(err, FL_EGENERIC, "activation on %s failed (exit status %d)%s", label,
                            status, status ? "; it put the previous generation back" : "");
    }
    json_decref(report);
    if (!watched)
        return 0;
    /* Confirm over a new connection: proof that the new configuration still lets us in. */
    int timeout = o->confirm_timeout_s > 0 ? o->confirm_timeout_s : 30;
    fl_error cerr = FL_ERROR_INIT;
    rc = connect_target(target, label, o, timeout * 1000, &r, &cerr);
    if (rc < 0) {
        res->rolled_back = 1;
        res->generation = previous;
        fl_error_set(err, FL_ENET,
                     "could not reach %s again within %d s to confirm the deployment (%s); "
                     "it rolls back to generation %d by itself",
                     label, timeout, cerr.message ? cerr.message : "?", previous);
        fl_error_set_hint(err, "the new configuration probably cuts off SSH access (sshd, "
                               "firewall, keys); fix it and deploy again");
        fl_error_clear(&cerr);
        return FL_ENET;
    }
    fl_strbuf cmd;
    fl_strbuf_init(&cmd, 64);
    fl_strbuf_addf(&cmd, "flakectl deploy-agent confirm %s", token);
    rc = run_agent(r, cmd.buf, o, NULL, &status, err);
    fl_strbuf_release(&cmd);
    fl_remote_close(r);
    if (rc < 0)
        return rc;
    if (status == FL_DEPLOY_EXIT_TOO_LATE) {
        res->rolled_back = 1;
        res->generation = previous;
        return fl_error_set(err, FL_EGENERIC,
                            "%s rolled back to generation %d: the confirmation came after the "
                            "%d s timeout",
                            label, previous, timeout);
    }
    if (status != 0)
        return fl_error_set(err, FL_EGENERIC,
                            "confirming the deployment on %s failed (exit "
                            "status %d)",
                            label, status);
    res->confirmed = 1;
    return 0;
}

int fl_deploy_remote_command(const char *target, const char *label, const char *args,
                             const fl_deploy_opts *o, int *status, fl_error *err) {
    fl_remote *r = NULL;
    int rc = connect_target(target, label, o, 0, &r, err);
    if (rc < 0)
        return rc;
    char *cmd = fl_xasprintf("flakectl %s", args);
    rc = run_agent(r, cmd, o, NULL, status, err);
    free(cmd);
    fl_remote_close(r);
    return rc;
}

int fl_deploy_host_state(const char *target, const char *label, const fl_deploy_opts *o,
                         json_t **record, fl_error *err) {
    *record = NULL;
    fl_remote *r = NULL;
    int rc = connect_target(target, label, o, 0, &r, err);
    if (rc < 0)
        return rc;
    int status = 0;
    rc = run_agent(r, "flakectl deploy-agent state", o, record, &status, err);
    if (rc == 0 && (status != 0 || !json_is_object(*record))) {
        rc = fl_error_set(err, FL_EGENERIC,
                          "%s: 'flakectl deploy-agent state' %s", fl_remote_label(r),
                          status ? "failed" : "reported nothing (an older flakectl?)");
        json_decref(*record);
        *record = NULL;
    }
    fl_remote_close(r);
    return rc;
}
