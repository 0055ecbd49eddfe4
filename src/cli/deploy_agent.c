/* deploy_agent.c - `flakectl deploy-agent`: the target's half of a remote deployment, run by
 * the deployer over SSH. It owns the magic-rollback watchdog (a detached process that puts
 * the previous generation back unless the deployer confirms in time) and the one-line
 * machine-readable reports the deployer parses, and on a build host (`build`) the replay of
 * the deployer's build plan. It never talks to the network itself and never evaluates a
 * flake: it only builds recorded plans and activates toplevels already in this store. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "flakectl/activate.h"
#include "cli/opt.h"
#include "flakectl/cli.h"
#include "flakectl/fs.h"
#include "flakectl/module.h"
#include "flakectl/options.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

/* Lines starting with this are for the deployer, which strips them from what it shows. */
#define REPORT_MARK "@@flakectl-deploy "

/* The deployer learns the outcome from the report line; these exit codes say it too. */
enum { EXIT_TOO_LATE = 3 };

static void report_json(json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s%s\n", REPORT_MARK, s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

static int agent_info(int argc, char **argv);
static int agent_activate(int argc, char **argv);
static int agent_confirm(int argc, char **argv);
static int agent_build(int argc, char **argv);

typedef struct agent_opts {
    const char *top, *mode, *backup, *token, *gc_root;
    int timeout;
} agent_opts;

static const char *const agent_modes[] = {"switch", "test", "boot", "dry-activate", NULL};

static const fl_opt_spec activate_spec[] = {
    FL_OPT_CHOICE_("mode", 0, "MODE", "switch, test, boot or dry-activate", agent_opts, mode,
                   agent_modes, .flags = 0),
    FL_OPT_STR_("backup-ext", 0, "EXT", "move unmanaged files in the way to NAME.EXT", agent_opts,
                backup, .flags = 0),
    FL_OPT_STR_("magic-rollback", 0, "TOKEN", "arm the watchdog for this deployment", agent_opts,
                token, .flags = 0),
    FL_OPT_INT_("confirm-timeout", 0, "S", "seconds the deployer has to confirm (default 30)",
                agent_opts, timeout, 1, 1000000, .flags = 0),
    FL_OPT_ARG_("TOPLEVEL", "the toplevel, already in this store", agent_opts, top,
                .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};

static const fl_opt_spec confirm_spec[] = {
    FL_OPT_ARG_("TOKEN", "the deployment's token", agent_opts, token, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};

static const fl_opt_spec build_spec[] = {
    FL_OPT_STR_("gc-root", 0, "NAME", "keep the result as gcroots/build-host-NAME (default deploy)",
                agent_opts, gc_root, .flags = 0),
    FL_OPT_END_,
};

static const fl_opt_cmd agent_info_cmd = {
    "deploy-agent info", "report this target's store, state and active generation as JSON", "",
    NULL, NULL, NULL, agent_info,
};
static const fl_opt_cmd agent_activate_cmd = {
    "deploy-agent activate", "activate a toplevel, with the magic-rollback watchdog",
    "TOPLEVEL --mode M [--backup-ext EXT] [--magic-rollback TOKEN --confirm-timeout S]",
    "Activates TOPLEVEL; --magic-rollback first starts a watchdog that re-activates the\n"
    "previous generation unless `confirm TOKEN` runs within S seconds of the end.\n",
    activate_spec, NULL, agent_activate,
};
static const fl_opt_cmd agent_confirm_cmd = {
    "deploy-agent confirm", "confirm a deployment before its watchdog rolls it back", "TOKEN",
    NULL, confirm_spec, NULL, agent_confirm,
};
static const fl_opt_cmd agent_build_cmd = {
    "deploy-agent build", "replay the deployer's build plan (stdin) on a build host",
    "[--gc-root NAME] < PLAN", NULL, build_spec, NULL, agent_build,
};
static const fl_opt_cmd *const agent_subs[] = {&agent_info_cmd, &agent_activate_cmd,
                                               &agent_confirm_cmd, &agent_build_cmd, NULL};

static int cmd_deploy_agent(int argc, char **argv);

const fl_opt_cmd fl_cmd_deploy_agent = {
    "deploy-agent",
    "the target side of remote deployments (run by the deployer over SSH)",
    NULL,
    "The target's side of `flakectl switch --target-host` (run by the deployer over SSH;\n"
    "see docs/remote.md). `build` (on a --build-host) replays the deployer's build\n"
    "plan from stdin and reports the toplevel and its closure.\n",
    NULL,
    agent_subs,
    cmd_deploy_agent,
};

static int agent_info(int argc, char **argv) {
    int prc = fl_opt_parse(&agent_info_cmd, NULL, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    fl_error err = FL_ERROR_INIT;
    char *root = NULL, *state = NULL;
    if (fl_activate_paths(&root, &state, &err))
        return fl_cli_report(&err);
    char *current = fl_gen_current(root);
    json_t *o = json_object();
    char *store_dir = fl_path_join(state, "store");
    json_object_set_new(o, "storeDir", json_string(store_dir));
    json_object_set_new(o, "stateDir", json_string(state));
    json_object_set_new(o, "root", json_string(root));
    json_object_set_new(o, "default", json_integer(fl_gen_default(state)));
    json_object_set_new(o, "current", current ? json_string(current) : json_null());
    /* what the deployer needs to know that activating would change nothing (the engine's
     * own no-op rule: current and default are the toplevel, nothing left in flight), so a
     * no-op redeploy spares the activation's round trip */
    char *dtop = fl_gen_toplevel(state, fl_gen_default(state));
    json_object_set_new(o, "defaultToplevel", dtop ? json_string(dtop) : json_null());
    free(dtop);
    char *managed = fl_xasprintf("%s/activation/managed.json", state);
    json_t *m = json_load_file(managed, 0, NULL);
    struct stat mst;
    int in_flight = m ? json_is_string(json_object_get(m, "inFlight")) : lstat(managed, &mst) == 0;
    json_object_set_new(o, "inFlight", json_boolean(in_flight));
    json_decref(m);
    free(managed);
    report_json(o);
    free(store_dir);
    free(current);
    free(root);
    free(state);
    return FL_EXIT_OK;
}

static int valid_token(const char *t) {
    size_t n = strlen(t);
    if (n < 8 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
            return 0;
    return 1;
}

static char *token_file(const char *state, const char *token, const char *suffix) {
    return fl_xasprintf("%s/deploy/%s.%s", state, token, suffix);
}

static int file_exists(const char *p) {
    struct stat st;
    return lstat(p, &st) == 0;
}

typedef struct watch {
    const char *root, *state, *token;
    int mode_test;       /* the deployment was `test`: put the previous current back */
    int prev_default;    /* 0 = none */
    char *prev_current;  /* NULL = nothing was active */
    char *prev_dflt_top; /* toplevel of prev_default */
    int timeout_s;
} watch;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void stamp(FILE *log, const char *fmt, const char *arg) {
    time_t t = time(NULL);
    struct tm tm;
    char when[32];
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(log, "%s UTC  ", when);
    fprintf(log, fmt, arg);
    fputc('\n', log);
    fflush(log);
}

/* Puts back what was active before the deployment. */
static int restore_previous(const watch *w, FILE *log, fl_error *err) {
    int rc = 0;
    if (!w->mode_test && w->prev_default > 0) {
        fl_act_options o = {FL_ACT_SWITCH, w->root, w->state, NULL, w->prev_default, log};
        rc = fl_activate(&o, w->prev_dflt_top, err);
        if (rc == 0 && w->prev_current && strcmp(w->prev_current, w->prev_dflt_top) != 0) {
            fl_act_options t = {FL_ACT_TEST, w->root, w->state, NULL, 0, log};
            rc = fl_activate(&t, w->prev_current, err);
        }
    } else if (w->prev_current) {
        fl_act_options t = {FL_ACT_TEST, w->root, w->state, NULL, 0, log};
        rc = fl_activate(&t, w->prev_current, err);
    }
    return rc;
}

/* The watchdog's life: learn from the pipe how the activation went, then wait for the
 * confirmation, and roll back when it does not come. Never returns. */
static void watchdog_main(const watch *w, int pipe_rd) {
    char *armed = token_file(w->state, w->token, "armed");
    char *confirmed = token_file(w->state, w->token, "confirmed");
    char *expired = token_file(w->state, w->token, "expired");
    char *done = token_file(w->state, w->token, "rolledback");
    char *logp = token_file(w->state, w->token, "log");
    FILE *log = fopen(logp, "a");
    if (!log)
        log = fopen("/dev/null", "w");
    if (!log)
        _exit(1);
    stamp(log, "watchdog started for deployment %s", w->token);
    char what = 0;
    ssize_t n;
    do
        n = read(pipe_rd, &what, 1);
    while (n < 0 && errno == EINTR);
    close(pipe_rd);
    if (n == 1 && what != 'C') {
        /* failed (activation restored the previous generation itself) or nothing changed */
        stamp(log, "%s: nothing to watch", what == 'F' ? "activation failed" : "no change");
        unlink(armed);
        _exit(0);
    }
    int confirmed_in_time = 0;
    if (n == 1) {
        char secs[32];
        snprintf(secs, sizeof secs, "%d", w->timeout_s);
        stamp(log, "activation done; waiting for the confirmation (%s s)", secs);
        double deadline = now_s() + w->timeout_s;
        while (now_s() < deadline) {
            if (file_exists(confirmed)) {
                confirmed_in_time = 1;
                break;
            }
            usleep(100 * 1000);
        }
    } else {
        stamp(log, "%s", "the activation process ended without a result: rolling back now");
    }
    fl_error err = FL_ERROR_INIT;
    /* One rename decides between a late confirmation and the rollback: whoever moves the
     * armed file first wins. */
    if (!confirmed_in_time && fl_atomic_rename(armed, expired, &err) == 0) {
        stamp(log, "%s", "no confirmation in time: re-activating the previous generation");
        int rc = restore_previous(w, log, &err);
        char *text = rc == 0 ? fl_xasprintf("rolled back to generation %d\n", w->prev_default)
                             : fl_xasprintf("rollback FAILED: %s\n", err.message);
        stamp(log, "%s", text);
        fl_error e2 = FL_ERROR_INIT;
        fl_atomic_write_file(done, text, strlen(text), 0644, &e2);
        fl_error_clear(&e2);
    } else {
        stamp(log, "%s", "confirmed: keeping the new generation");
    }
    fl_error_clear(&err);
    fclose(log);
    _exit(0);
}

/* Starts the watchdog as a grandchild in its own session (it outlives the SSH session that
 * started it) and returns the write end of the pipe it listens on. */
static int start_watchdog(const watch *w, fl_error *err) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return fl_error_errno(err, "cannot make a pipe for the watchdog");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return fl_error_errno(err, "cannot start the magic-rollback watchdog");
    }
    if (pid == 0) {
        close(p[1]);
        setsid();
        signal(SIGHUP, SIG_IGN);
        if (fork() != 0)
            _exit(0);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
            if (devnull > 2)
                close(devnull);
        }
        watchdog_main(w, p[0]);
    }
    close(p[0]);
    waitpid(pid, NULL, 0);
    return p[1];
}

static int parse_mode(const char *m, fl_act_mode *out) {
    static const struct {
        const char *n;
        fl_act_mode m;
    } modes[] = {{"switch", FL_ACT_SWITCH},
                 {"test", FL_ACT_TEST},
                 {"boot", FL_ACT_BOOT},
                 {"dry-activate", FL_ACT_DRY}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (!strcmp(m, modes[i].n)) {
            *out = modes[i].m;
            return 0;
        }
    return -1;
}

static int agent_activate(int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    agent_opts ao = {NULL, NULL, NULL, NULL, NULL, 30};
    int prc = fl_opt_parse(&agent_activate_cmd, &ao, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    const char *top = ao.top, *mode_s = ao.mode, *backup = ao.backup, *token = ao.token;
    int timeout = ao.timeout;
    fl_act_mode mode;
    if (!top || !mode_s || parse_mode(mode_s, &mode) < 0) {
        fl_error_set(&err, FL_EUSAGE,
                     "deploy-agent activate needs TOPLEVEL and --mode "
                     "switch|test|boot|dry-activate");
        return fl_cli_report(&err);
    }
    if (token && (!valid_token(token) || timeout < 1)) {
        fl_error_set(&err, FL_EUSAGE,
                     "--magic-rollback takes a hex token and "
                     "--confirm-timeout a positive number of seconds");
        return fl_cli_report(&err);
    }
    char *root = NULL, *state = NULL;
    if (fl_activate_paths(&root, &state, &err))
        return fl_cli_report(&err);
    /* The deployer may vanish mid-activation (that is what magic rollback is for): its
     * going away must not kill the activation halfway. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    watch w = {0};
    w.root = root;
    w.state = state;
    w.token = token;
    w.timeout_s = timeout;
    w.mode_test = mode == FL_ACT_TEST;
    w.prev_default = fl_gen_default(state);
    w.prev_current = fl_gen_current(root);
    w.prev_dflt_top = w.prev_default > 0 ? fl_gen_toplevel(state, w.prev_default) : NULL;
    int pipe_wr = -1, rc = 0;
    int watched = token && (mode == FL_ACT_SWITCH || mode == FL_ACT_TEST);
    if (watched && !w.prev_current && !(w.prev_default > 0 && w.prev_dflt_top)) {
        printf("note: nothing was active here before; magic rollback has nothing to go "
               "back to\n");
        watched = 0;
    }
    if (watched) {
        char *dir = fl_path_join(state, "deploy");
        char *armed = token_file(state, token, "armed");
        rc = fl_mkdir_p(dir, 0755, &err);
        if (rc == 0)
            rc = fl_atomic_write_file(armed, "armed\n", 6, 0644, &err);
        if (rc == 0) {
            pipe_wr = start_watchdog(&w, &err);
            rc = pipe_wr < 0 ? pipe_wr : 0;
        }
        free(dir);
        free(armed);
        if (rc == 0)
            printf("magic rollback armed: generation %d comes back unless the deployer "
                   "confirms within %d s\n",
                   w.prev_default, timeout);
    }
    if (rc == 0) {
        fflush(stdout);
        fl_act_options o = {mode, root, state, backup, 0, stdout};
        rc = fl_activate(&o, top, &err);
    }
    char *cur = fl_gen_current(root);
    int dflt = fl_gen_default(state);
    int changed = rc == 0 && (dflt != w.prev_default || !cur || !w.prev_current ||
                              strcmp(cur, w.prev_current) != 0);
    if (pipe_wr >= 0) {
        char what = rc < 0 ? 'F' : changed ? 'C' : 'N';
        ssize_t wr = write(pipe_wr, &what, 1);
        (void)wr;
        close(pipe_wr);
    }
    int status = FL_EXIT_OK;
    json_t *o = json_object();
    if (rc < 0) {
        json_object_set_new(o, "error", json_string(err.message ? err.message : "failed"));
        status = fl_cli_report(&err);
    }
    fflush(stderr);
    json_object_set_new(o, "status", json_integer(status));
    json_object_set_new(o, "generation", json_integer(dflt));
    json_object_set_new(o, "changed", json_boolean(changed));
    json_object_set_new(o, "watched", json_boolean(pipe_wr >= 0 && changed));
    json_object_set_new(o, "previous", json_integer(w.prev_default));
    report_json(o);
    free(cur);
    free(w.prev_current);
    free(w.prev_dflt_top);
    free(root);
    free(state);
    return status;
}

static int agent_confirm(int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    agent_opts ao = {NULL, NULL, NULL, NULL, NULL, 30};
    int prc = fl_opt_parse(&agent_confirm_cmd, &ao, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    if (!valid_token(ao.token))
        return fl_opt_usage(&agent_confirm_cmd, "takes the deployment's token");
    const char *token = ao.token;
    char *root = NULL, *state = NULL;
    if (fl_activate_paths(&root, &state, &err))
        return fl_cli_report(&err);
    char *armed = token_file(state, token, "armed");
    char *confirmed = token_file(state, token, "confirmed");
    char *done = token_file(state, token, "rolledback");
    char *expired = token_file(state, token, "expired");
    int status = FL_EXIT_OK;
    if (fl_atomic_rename(armed, confirmed, &err) == 0) {
        printf("confirmed\n");
    } else if (file_exists(expired)) {
        fl_error_clear(&err);
        /* the watchdog won: wait (briefly) for it to say how the rollback went */
        for (int i = 0; i < 600 && !file_exists(done); i++)
            usleep(100 * 1000);
        char *text = NULL;
        size_t len = 0;
        fl_error e2 = FL_ERROR_INIT;
        if (fl_read_file(done, &text, &len, &e2) == 0)
            printf("too late: the watchdog already %s", text);
        else
            printf("too late: the watchdog is rolling back\n");
        fl_error_clear(&e2);
        free(text);
        status = EXIT_TOO_LATE;
    } else {
        fl_error_clear(&err);
        fl_error_set(&err, FL_ENOTFOUND, "no deployment %s is waiting for a confirmation here",
                     token);
        status = fl_cli_report(&err);
    }
    free(armed);
    free(confirmed);
    free(done);
    free(expired);
    free(root);
    free(state);
    return status;
}

static void say_building(void *ctx, const char *path) {
    (void)ctx;
    fprintf(stderr, "building %s\n", path);
}

/* gcroots/NAME keeps what was built until the next build for the same name: the deployer
 * copies it from here after this command has ended. */
static int keep_root(const char *state, const char *name, const char *top, fl_error *err) {
    fl_strbuf n;
    fl_strbuf_init(&n, 64);
    fl_strbuf_adds(&n, "build-host-");
    for (const char *c = name; *c; c++)
        fl_strbuf_addch(&n, (isalnum((unsigned char)*c) || strchr("._-", *c)) ? *c : '_');
    char *dir = fl_path_join(state, "gcroots");
    char *link = fl_path_join(dir, n.buf);
    int rc = fl_mkdir_p(dir, 0755, err);
    if (rc == 0)
        rc = fl_atomic_symlink(top, link, err);
    free(link);
    free(dir);
    fl_strbuf_release(&n);
    return rc;
}

static int agent_build(int argc, char **argv) {
    agent_opts ao = {NULL, NULL, NULL, NULL, "deploy", 30};
    int prc = fl_opt_parse(&agent_build_cmd, &ao, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    const char *root_name = ao.gc_root;
    fl_error err = FL_ERROR_INIT;
    char *root = NULL, *state = NULL;
    if (fl_activate_paths(&root, &state, &err))
        return fl_cli_report(&err);
    fl_strbuf plan;
    fl_strbuf_init(&plan, 1 << 16);
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        fl_strbuf_add(&plan, buf, (size_t)n);
    }
    fl_store *s = NULL;
    char *top = NULL;
    size_t built = 0;
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    self[sl > 0 ? sl : 0] = '\0';
    int rc = n < 0 ? fl_error_errno(&err, "cannot read the build plan from stdin") : 0;
    if (rc == 0)
        rc = fl_store_open(state, &s, &err);
    if (rc == 0)
        rc = fl_build_plan_run(s, plan.buf, plan.len, sl > 0 ? self : NULL, say_building, NULL,
                               &top, &built, &err);
    if (rc == 0)
        rc = keep_root(state, root_name, top, &err);
    char **closure = NULL;
    size_t ncl = 0;
    if (rc == 0)
        rc = fl_store_closure(s, &top, 1, &closure, &ncl, &err);
    json_t *cl = json_array();
    for (size_t i = 0; rc == 0 && i < ncl; i++) {
        fl_store_path_info *info = NULL;
        if ((rc = fl_store_query_info(s, closure[i], &info, &err)) < 0)
            break;
        json_array_append_new(cl, json_pack("[sI]", closure[i], (json_int_t)info->nar_size));
        fl_store_path_info_free(info);
    }
    if (rc == 0) {
        json_t *o = json_object();
        json_object_set_new(o, "toplevel", json_string(top));
        json_object_set_new(o, "built", json_integer((json_int_t)built));
        json_object_set_new(o, "closure", cl);
        report_json(o);
    } else {
        json_decref(cl);
    }
    fl_store_free_paths(closure, ncl);
    if (s)
        fl_store_close(s);
    free(top);
    fl_strbuf_release(&plan);
    free(root);
    free(state);
    return rc < 0 ? fl_cli_report(&err) : FL_EXIT_OK;
}

extern const fl_opt_cmd fl_cmd_deploy_agent;

static int cmd_deploy_agent(int argc, char **argv) {
    return fl_opt_dispatch(&fl_cmd_deploy_agent, argc, argv);
}
