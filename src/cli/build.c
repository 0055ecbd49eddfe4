/* build.c - `flakectl build --host H`: evaluates the host and builds its toplevel into the
 * store, leaving a `result` link (a GC root) unless --no-link. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "flakectl/cli.h"
#include "flakectl/fs.h"
#include "flakectl/lang.h"
#include "flakectl/module.h"
#include "flakectl/store.h"
#include "opt.h"
#include "options.h"
#include "progress.h"
#include "term.h"

struct build_job {
    const char *host_name;
    char **toplevel;
    fl_cli_caches *caches; /* NULL: not wanted */
    fl_error *err;
    const char *flake_dir;       /* NULL: --flake or the nearest flake.nix */
    const fl_progress *progress; /* the builds, as they run */
};

static char **dup_strings(char *const *v, size_t n) {
    char **out = fl_xcalloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = fl_xstrdup(v[i]);
    return out;
}

int fl_cli_session_substitute(fl_host_session *sess, fl_cli_caches *caches, fl_error *err) {
    int rc = fl_host_session_substitute(sess, fl_opts.substituters.v, fl_opts.substituters.n,
                                        fl_opts.trusted_keys.v, fl_opts.trusted_keys.n,
                                        fl_opts.quiet ? NULL : stderr, err);
    if (rc == 0 && caches && sess->nsubst_urls) {
        caches->urls = dup_strings(sess->subst_urls, sess->nsubst_urls);
        caches->nurls = sess->nsubst_urls;
        caches->keys = dup_strings(sess->subst_keys, sess->nsubst_keys);
        caches->nkeys = sess->nsubst_keys;
    }
    return rc;
}

/* The session's selected host built (or substituted from caches), its toplevel rooted
 * before the store's lock goes, until an out-link, a push or the activation roots it. */
static int build_selected(fl_host_session *sess, fl_cli_caches *caches, char **toplevel,
                          fl_error *err) {
    int rc = fl_cli_session_substitute(sess, caches, err);
    if (rc == 0)
        rc = fl_host_toplevel(&sess->host, toplevel, err);
    if (rc == 0)
        rc = fl_store_add_temp_root(sess->store, *toplevel, err);
    if (rc == 0 && !fl_opts.quiet)
        rc = fl_host_print_warnings(&sess->host, stderr, err);
    return rc;
}

static int build_job_run(void *p) {
    struct build_job *j = p;
    char *default_host = j->host_name ? NULL : fl_host_default_name();
    fl_host_session sess;
    fl_session_opts so;
    fl_cli_session_opts(&so);
    if (j->flake_dir) {
        /* a checkout that must stay as committed (pull mode) */
        so.flake_flag = j->flake_dir;
        so.no_write_lock = 1;
    }
    int rc = fl_host_session_open(&sess, &so, j->host_name ? j->host_name : default_host, j->err);
    free(default_host);
    if (rc < 0)
        return rc;
    fl_store_set_progress(sess.store, j->progress);
    rc = build_selected(&sess, j->caches, j->toplevel, j->err);
    fl_host_session_close(&sess);
    return rc;
}

struct hosts_job {
    char *const *names;
    size_t n;
    char **toplevels;
    fl_error *errs, *err;
    const fl_progress *progress;
    int failed;
};

static int hosts_job_run(void *p) {
    struct hosts_job *j = p;
    fl_host_session sess;
    fl_session_opts so;
    fl_cli_session_opts(&so);
    int rc = fl_host_session_open(&sess, &so, NULL, j->err);
    if (rc < 0)
        return rc;
    fl_store_set_progress(sess.store, j->progress);
    for (size_t i = 0; i < j->n; i++) {
        fl_error *e = &j->errs[i];
        int hrc = fl_host_session_select(&sess, j->names[i], e);
        if (hrc == 0)
            hrc = build_selected(&sess, NULL, &j->toplevels[i], e);
        if (hrc < 0) {
            free(j->toplevels[i]);
            j->toplevels[i] = NULL;
            j->failed++;
        }
    }
    fl_host_session_close(&sess);
    return 0;
}

int fl_cli_build_hosts(char *const *names, size_t n, char **toplevels, fl_error *errs,
                       fl_error *err) {
    fl_cli_progress pr;
    fl_cli_progress_init(&pr, stderr, "building", "built");
    struct hosts_job j = {names, n, toplevels, errs, err, &pr.progress, 0};
    int rc = fl_cli_with_big_stack(hosts_job_run, &j);
    fl_cli_progress_release(&pr);
    return rc < 0 ? rc : j.failed;
}

/* A single host's build, with the builds' progress line on stderr. */
static int build_with_progress(struct build_job *j) {
    fl_cli_progress pr;
    fl_cli_progress_init(&pr, stderr, "building", "built");
    j->progress = &pr.progress;
    int rc = fl_cli_with_big_stack(build_job_run, j);
    fl_cli_progress_release(&pr);
    return rc;
}

int fl_cli_build_host(const char *host_name, char **toplevel, fl_error *err) {
    struct build_job j = {host_name, toplevel, NULL, err, NULL, NULL};
    return build_with_progress(&j);
}

/* A fleet's hosts build at once: their builds count in the fleet's one line (progress), not
 * in lines of their own that would fight over the terminal. */
int fl_cli_build_host_caches(const char *host_name, char **toplevel, fl_cli_caches *caches,
                             const fl_progress *progress, fl_error *err) {
    memset(caches, 0, sizeof *caches);
    struct build_job j = {host_name, toplevel, caches, err, NULL, progress};
    return progress ? fl_cli_with_big_stack(build_job_run, &j) : build_with_progress(&j);
}

int fl_cli_build_host_in(const char *flake_dir, const char *host_name, char **toplevel,
                         fl_error *err) {
    struct build_job j = {host_name, toplevel, NULL, err, flake_dir, NULL};
    return build_with_progress(&j);
}

typedef struct build_opts {
    const char *host, *out_link;
    int no_link, json;
} build_opts;

static const fl_opt_spec build_spec[] = {
    FL_OPT_STR_("host", 0, "H", "the host of the flake (default: this machine's host name)",
                build_opts, host, .complete = FL_OPT_V_HOST, .flags = 0),
    FL_OPT_STR_("out-link", 'o', "PATH", "the GC root link to the toplevel (default ./result)",
                build_opts, out_link, .complete = FL_OPT_V_FILE, .flags = 0),
    FL_OPT_FLAG_("no-link", 0, "leave no link (the toplevel may then be collected)", build_opts,
                 no_link, .flags = 0),
    FL_OPT_FLAG_("json", 0, "print the host, the toplevel and the link as JSON (docs/json.md)",
                 build_opts, json, .flags = 0),
    FL_OPT_END_,
};

static int cmd_build(int argc, char **argv);

const fl_opt_cmd fl_cmd_build = {
    "build",
    "evaluate a host and build its toplevel into the store",
    "[--host H] [--out-link PATH | --no-link] [--json]",
    "Evaluates host H of the flake and builds its toplevel (etc/, sw/, home/, units/,\n"
    "activation/, profile.json, secrets.json) into the store under --state-dir.\n"
    "Prints the toplevel's store path. A second build of an unchanged flake builds\n"
    "nothing and prints the same path. The out-link (default ./result) is a GC root.\n",
    build_spec,
    NULL,
    cmd_build,
};

static int cmd_build(int argc, char **argv) {
    build_opts bo = {NULL, "result", 0, 0};
    int prc = fl_opt_parse(&fl_cmd_build, &bo, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    const char *host_name = bo.host, *out_link = bo.no_link ? NULL : bo.out_link;
    fl_error err = FL_ERROR_INIT;
    char *toplevel = NULL;
    int rc = fl_cli_build_host(host_name, &toplevel, &err);
    if (rc == 0 && out_link) {
        rc = fl_atomic_symlink(toplevel, out_link, &err);
        fl_store *store = NULL;
        if (rc == 0 && (rc = fl_store_open(fl_opts.state_dir, &store, &err)) == 0) {
            rc = fl_store_add_indirect_root(store, out_link, &err);
            fl_store_close(store);
        }
    }
    if (rc < 0) {
        free(toplevel);
        return fl_cli_report(&err);
    }
    if (bo.json) {
        char *host = host_name ? fl_xstrdup(host_name) : fl_host_default_name();
        char cwd[4096];
        char *link = out_link ? fl_canon_path(out_link, getcwd(cwd, sizeof cwd) ? cwd : "/") : NULL;
        json_t *j =
            json_pack("{s:i, s:s, s:s, s:o}", "version", 1, "host", host ? host : "", "toplevel",
                      toplevel, "outLink", link ? json_string(link) : json_null());
        free(host);
        free(link);
        free(toplevel);
        return fl_cli_print_json(j);
    }
    puts(toplevel);
    free(toplevel);
    return FL_EXIT_OK;
}
