/* deploy_agent.c - `flakectl deploy-agent`: the target's half of a remote deployment, run by
 * the deployer over SSH. Parses, calls activate/ (the magic-rollback watchdog, the target's
 * status) and store/ (a build host's replay of the deployer's build plan), and prints the
 * one-line machine-readable reports of deploy_protocol.h. It never evaluates a flake: it
 * only builds recorded plans, activates toplevels already in this store, and (substitute)
 * fetches the paths the deployer names from the binary caches it names, through cache/. */
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
#include "flakectl/cache.h"
#include "flakectl/cli.h"
#include "flakectl/deploy_protocol.h"
#include "flakectl/fs.h"
#include "flakectl/module.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"
#include "needroot.h"
#include "opt.h"
#include "options.h"
#include "progress.h"

static void report_json(json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s%s\n", FL_DEPLOY_REPORT_MARK, s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

static int agent_info(int argc, char **argv);
static int agent_activate(int argc, char **argv);
static int agent_confirm(int argc, char **argv);
static int agent_build(int argc, char **argv);
static int agent_substitute(int argc, char **argv);
static int agent_state(int argc, char **argv);

typedef struct agent_opts {
    const char *top, *mode, *backup, *token, *gc_root, *pending;
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
    FL_OPT_STR_("pending", 0, "ID",
                "the copy's pending root (store query-valid --pending), kept by gc\n"
                "while this process lives and dropped once the activation has ended",
                agent_opts, pending, .flags = 0),
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
    "deploy-agent info",
    "report this target's store, state and active generation as JSON",
    "",
    NULL,
    NULL,
    NULL,
    agent_info,
};
static const fl_opt_cmd agent_activate_cmd = {
    "deploy-agent activate",
    "activate a toplevel, with the magic-rollback watchdog",
    "TOPLEVEL --mode M [--backup-ext EXT] [--magic-rollback TOKEN --confirm-timeout S]\n"
    "[--pending ID]",
    "Activates TOPLEVEL; --magic-rollback first starts a watchdog that re-activates the\n"
    "previous generation unless `confirm TOKEN` runs within S seconds of the end.\n",
    activate_spec,
    NULL,
    agent_activate,
};
static const fl_opt_cmd agent_confirm_cmd = {
    "deploy-agent confirm",
    "confirm a deployment before its watchdog rolls it back",
    "TOKEN",
    NULL,
    confirm_spec,
    NULL,
    agent_confirm,
};
static const fl_opt_cmd agent_build_cmd = {
    "deploy-agent build",
    "replay the deployer's build plan (stdin) on a build host",
    "[--gc-root NAME] < PLAN",
    NULL,
    build_spec,
    NULL,
    agent_build,
};
static const fl_opt_cmd agent_substitute_cmd = {
    "deploy-agent substitute",
    "fetch what the --substituters have of the store paths on stdin",
    "--substituters URLS [--trusted-public-key K]... < PATHS",
    "Reads store paths, one a line, references first (the missing part of a closure the\n"
    "deployer is about to copy), makes valid what the caches have with a trusted\n"
    "signature (NAR hashes checked), and prints every one of them that is valid now. A\n"
    "cache that cannot be reached leaves its paths to the deployer's copy over SSH.\n",
    NULL,
    NULL,
    agent_substitute,
};
static const fl_opt_cmd agent_state_cmd = {
    "deploy-agent state",
    "report this host's record (generation, rev, last error) as JSON",
    "",
    NULL,
    NULL,
    NULL,
    agent_state,
};
static const fl_opt_cmd *const agent_subs[] = {&agent_info_cmd,
                                               &agent_activate_cmd,
                                               &agent_confirm_cmd,
                                               &agent_build_cmd,
                                               &agent_substitute_cmd,
                                               &agent_state_cmd,
                                               NULL};

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

/* Parses a subcommand without options of its own and finds this target's root and state
 * directory: FL_OPT_RUN, or the exit code to return. */
static int agent_start(const fl_opt_cmd *cmd, int argc, char **argv, char **root, char **state) {
    int prc = fl_opt_parse(cmd, NULL, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    fl_error err = FL_ERROR_INIT;
    if (fl_activate_paths(fl_opts.root, fl_opts.state_dir, root, state, &err))
        return fl_cli_report(&err);
    return FL_OPT_RUN;
}

static int agent_info(int argc, char **argv) {
    char *root = NULL, *state = NULL;
    int prc = agent_start(&agent_info_cmd, argc, argv, &root, &state);
    if (prc != FL_OPT_RUN)
        return prc;
    fl_act_status st;
    fl_activate_status(root, state, &st);
    json_t *o = json_object();
    char *store_dir = fl_path_join(state, "store");
    json_object_set_new(o, FL_DEPLOY_KEY_STORE_DIR, json_string(store_dir));
    json_object_set_new(o, FL_DEPLOY_KEY_STATE_DIR, json_string(state));
    json_object_set_new(o, FL_DEPLOY_KEY_ROOT, json_string(root));
    json_object_set_new(o, FL_DEPLOY_KEY_DEFAULT, json_integer(st.default_gen));
    json_object_set_new(o, FL_DEPLOY_KEY_CURRENT,
                        st.current ? json_string(st.current) : json_null());
    /* what the deployer needs to know that activating would change nothing (the engine's
     * own no-op rule: current and default are the toplevel, nothing left in flight), so a
     * no-op redeploy spares the activation's round trip */
    json_object_set_new(o, FL_DEPLOY_KEY_DEFAULT_TOPLEVEL,
                        st.default_toplevel ? json_string(st.default_toplevel) : json_null());
    json_object_set_new(o, FL_DEPLOY_KEY_IN_FLIGHT, json_boolean(st.in_flight));
    json_object_set_new(o, FL_DEPLOY_KEY_PENDING_ROOTS, json_true());
    report_json(o);
    fl_act_status_release(&st);
    free(store_dir);
    free(root);
    free(state);
    return FL_EXIT_OK;
}

/* For `flakectl status` on the deployer: reads, never writes. */
static int agent_state(int argc, char **argv) {
    int prc = fl_opt_parse(&agent_state_cmd, NULL, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    fl_error err = FL_ERROR_INIT;
    char *root = NULL, *state = NULL;
    if (fl_activate_paths(fl_opts.root, fl_opts.state_dir, &root, &state, &err))
        return fl_cli_report(&err);
    json_t *rec = fl_act_record_read_live(root, state, &err);
    free(root);
    free(state);
    if (!rec)
        return fl_cli_report(&err);
    report_json(rec);
    return FL_EXIT_OK;
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

/* Ties the copy's pending root to this process for the activation's whole length: gc keeps
 * it while we live, however long the activation takes (docs/security.md). */
static int claim_pending(const char *state, const char *id, int *lockfd, fl_error *err) {
    fl_store *s = NULL;
    int rc = fl_store_open(state, &s, err);
    if (!rc) {
        rc = fl_store_pending_claim(s, id, lockfd, err);
        fl_store_close(s);
    }
    return rc;
}

static void drop_pending(const char *state, const char *id) {
    fl_store *s = NULL;
    fl_error e = FL_ERROR_INIT;
    if (fl_store_open(state, &s, &e) == 0) {
        fl_store_pending_drop(s, id);
        fl_store_close(s);
    }
    fl_error_clear(&e);
}

static int agent_activate(int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    agent_opts ao = {NULL, NULL, NULL, NULL, NULL, NULL, 30};
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
    if (ao.pending && !fl_store_pending_id_valid(ao.pending)) {
        fl_error_set(&err, FL_EUSAGE, "--pending takes the id given to store query-valid");
        return fl_cli_report(&err);
    }
    if (token && (!fl_act_watch_token_valid(token) || timeout < 1)) {
        fl_error_set(&err, FL_EUSAGE,
                     "--magic-rollback takes a hex token and "
                     "--confirm-timeout a positive number of seconds");
        return fl_cli_report(&err);
    }
    char *root = NULL, *state = NULL;
    if ((mode != FL_ACT_DRY && fl_cli_need_root(1, &err) < 0) ||
        fl_activate_paths(fl_opts.root, fl_opts.state_dir, &root, &state, &err))
        return fl_cli_report(&err);
    int pending_fd = -1;
    if (ao.pending && mode != FL_ACT_DRY && claim_pending(state, ao.pending, &pending_fd, &err)) {
        free(root);
        free(state);
        return fl_cli_report(&err);
    }
    /* The deployer may vanish mid-activation (that is what magic rollback is for): its
     * going away must not kill the activation halfway. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    fl_act_watch w;
    fl_act_watch_init(&w, root, state, token, timeout, mode);
    int rc = 0;
    int watched = token && (mode == FL_ACT_SWITCH || mode == FL_ACT_TEST);
    if (watched && !fl_act_watch_has_previous(&w)) {
        printf("note: nothing was active here before; magic rollback has nothing to go "
               "back to\n");
        watched = 0;
    }
    if (watched) {
        rc = fl_act_watch_arm(&w, &err);
        if (rc == 0)
            printf("magic rollback armed: generation %d comes back unless the deployer "
                   "confirms within %d s\n",
                   w.prev_default, timeout);
    }
    if (rc == 0) {
        fflush(stdout);
        /* stderr is the deployer's channel: plain lines, relayed with the host's label */
        fl_cli_progress pr;
        fl_cli_progress_init(&pr, stderr, "installing packages", NULL);
        fl_act_options o = {mode, root, state, backup, 0, stdout, "push", NULL, NULL,
                            &pr.progress};
        rc = fl_activate(&o, top, &err);
        fl_cli_progress_release(&pr);
    }
    /* The activation rooted the toplevel itself while it ran; now a generation, `current`
     * or an interrupted activation's record does (or, after a failure, nothing should). */
    if (ao.pending)
        drop_pending(state, ao.pending);
    if (pending_fd >= 0)
        close(pending_fd);
    int dflt = fl_gen_default(state);
    int changed = rc == 0 && fl_act_watch_changed(&w);
    int armed = w.pipe_wr >= 0;
    fl_act_watch_finish(&w, rc < 0    ? FL_ACT_WATCH_FAILED
                            : changed ? FL_ACT_WATCH_CHANGED
                                      : FL_ACT_WATCH_UNCHANGED);
    int status = FL_EXIT_OK;
    json_t *o = json_object();
    if (rc < 0) {
        json_object_set_new(o, FL_DEPLOY_KEY_ERROR,
                            json_string(err.message ? err.message : "failed"));
        status = fl_cli_report(&err);
    }
    fflush(stderr);
    json_object_set_new(o, FL_DEPLOY_KEY_STATUS, json_integer(status));
    json_object_set_new(o, FL_DEPLOY_KEY_GENERATION, json_integer(dflt));
    json_object_set_new(o, FL_DEPLOY_KEY_CHANGED, json_boolean(changed));
    json_object_set_new(o, FL_DEPLOY_KEY_WATCHED, json_boolean(armed && changed));
    json_object_set_new(o, FL_DEPLOY_KEY_PREVIOUS, json_integer(w.prev_default));
    report_json(o);
    fl_act_watch_release(&w);
    free(root);
    free(state);
    return status;
}

static int agent_confirm(int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    agent_opts ao = {NULL, NULL, NULL, NULL, NULL, NULL, 30};
    int prc = fl_opt_parse(&agent_confirm_cmd, &ao, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    if (!fl_act_watch_token_valid(ao.token))
        return fl_opt_usage(&agent_confirm_cmd, "takes the deployment's token");
    const char *token = ao.token;
    char *root = NULL, *state = NULL;
    if (fl_activate_paths(fl_opts.root, fl_opts.state_dir, &root, &state, &err))
        return fl_cli_report(&err);
    char *late = NULL;
    int status = FL_EXIT_OK;
    int rc = fl_act_watch_confirm(state, token, &late, &err);
    if (rc == 0) {
        printf("confirmed\n");
    } else if (rc == 1) {
        if (late)
            printf("too late: the watchdog already %s", late);
        else
            printf("too late: the watchdog is rolling back\n");
        status = FL_DEPLOY_EXIT_TOO_LATE;
    } else {
        status = fl_cli_report(&err);
    }
    free(late);
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

/* Reads all of stdin into sb; <0 (errno set) on a read error. */
static ssize_t read_stdin(fl_strbuf *sb) {
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        fl_strbuf_add(sb, buf, (size_t)n);
    }
    return n;
}

static int agent_build(int argc, char **argv) {
    agent_opts ao = {NULL, NULL, NULL, NULL, "deploy", NULL, 30};
    int prc = fl_opt_parse(&agent_build_cmd, &ao, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    const char *root_name = ao.gc_root;
    fl_error err = FL_ERROR_INIT;
    char *root = NULL, *state = NULL;
    if (fl_activate_paths(fl_opts.root, fl_opts.state_dir, &root, &state, &err))
        return fl_cli_report(&err);
    fl_strbuf plan;
    fl_strbuf_init(&plan, 1 << 16);
    ssize_t n = read_stdin(&plan);
    fl_store *s = NULL;
    char *top = NULL;
    size_t built = 0;
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    self[sl > 0 ? sl : 0] = '\0';
    int rc = n < 0 ? fl_error_errno(&err, "cannot read the build plan from stdin") : 0;
    fl_substituter *sub = NULL;
    if (rc == 0)
        rc = fl_store_open(state, &s, &err);
    /* the deployer's caches (--substituters): what they have is fetched, not built */
    if (rc == 0 && fl_opts.substituters.n)
        rc = fl_substituter_new(fl_opts.substituters.v, fl_opts.substituters.n,
                                fl_opts.trusted_keys.v, fl_opts.trusted_keys.n,
                                fl_opts.quiet ? NULL : stderr, &sub, &err);
    if (rc == 0)
        fl_substituter_attach(sub, s);
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
        json_object_set_new(o, FL_DEPLOY_KEY_TOPLEVEL, json_string(top));
        json_object_set_new(o, FL_DEPLOY_KEY_BUILT, json_integer((json_int_t)built));
        json_object_set_new(o, FL_DEPLOY_KEY_CLOSURE, cl);
        report_json(o);
    } else {
        json_decref(cl);
    }
    fl_store_free_paths(closure, ncl);
    if (s)
        fl_store_close(s);
    fl_substituter_free(sub);
    free(top);
    fl_strbuf_release(&plan);
    free(root);
    free(state);
    return rc < 0 ? fl_cli_report(&err) : FL_EXIT_OK;
}

/* Paths one a line: each line is cut at its newline in place; *n entries, pointing into buf. */
static char **split_lines(char *buf, size_t *n) {
    char **v = NULL;
    *n = 0;
    for (char *p = buf, *e; p && *p; p = e ? e + 1 : NULL) {
        e = strchr(p, '\n');
        if (e)
            *e = '\0';
        if (*p) {
            v = fl_xrealloc(v, (*n + 1) * sizeof *v);
            v[(*n)++] = p;
        }
    }
    return v;
}

static int agent_substitute(int argc, char **argv) {
    char *root = NULL, *state = NULL;
    int prc = agent_start(&agent_substitute_cmd, argc, argv, &root, &state);
    if (prc != FL_OPT_RUN)
        return prc;
    fl_error err = FL_ERROR_INIT;
    fl_strbuf in;
    fl_strbuf_init(&in, 1 << 16);
    int rc = read_stdin(&in) < 0 ? fl_error_errno(&err, "cannot read the paths from stdin") : 0;
    size_t n = 0;
    char **paths = rc == 0 ? split_lines(in.buf, &n) : NULL;
    fl_store *s = NULL;
    fl_substituter *sub = NULL;
    /* stderr is the deployer's channel: plain lines, relayed there with the host's label */
    fl_cli_progress pr;
    fl_cli_progress_init(&pr, stderr, "substituting", "substituted");
    if (rc == 0)
        rc = fl_store_open(state, &s, &err);
    if (rc == 0)
        fl_store_set_progress(s, &pr.progress);
    if (rc == 0)
        rc = fl_substituter_new(fl_opts.substituters.v, fl_opts.substituters.n,
                                fl_opts.trusted_keys.v, fl_opts.trusted_keys.n,
                                fl_opts.quiet ? NULL : stderr, &sub, &err);
    if (rc == 0) {
        unsigned char *valid = fl_xcalloc(n ? n : 1, 1);
        fl_substituter_realise_available(sub, s, paths, n, valid);
        for (size_t i = 0; i < n; i++)
            if (valid[i])
                puts(paths[i]);
        fflush(stdout);
        free(valid);
    }
    fl_substituter_free(sub);
    if (s)
        fl_store_close(s);
    fl_cli_progress_release(&pr);
    free(paths);
    fl_strbuf_release(&in);
    free(root);
    free(state);
    return rc < 0 ? fl_cli_report(&err) : FL_EXIT_OK;
}

extern const fl_opt_cmd fl_cmd_deploy_agent;

static int cmd_deploy_agent(int argc, char **argv) {
    return fl_opt_dispatch(&fl_cmd_deploy_agent, argc, argv);
}
