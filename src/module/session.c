/* session.c - everything one command needs to work on one host: the flake directory, the
 * store (so derivations and sources can be built), an evaluator wired to both, and the
 * evaluated host. One open, one close, for every command that evaluates hosts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/cache.h"
#include "flakectl/flake.h"
#include "flakectl/module.h"
#include "flakectl/store.h"

#define MIB (1024u * 1024u)

/* Downloads (pkgs.fetchurl) where the command's messages go (fl_session_opts.warnings): a
 * line when one starts and one when it is done; on a terminal, the MiB received so far in
 * between, redrawn in place. The session must stay where it was opened (the store keeps a
 * pointer to it). */
static void report_fetch(void *ctx, const char *url, int event, uint64_t received, uint64_t total) {
    fl_host_session *s = ctx;
    FILE *out = s->notices;
    int tty = isatty(fileno(out));
    if (event == FL_FETCH_START) {
        s->fetch_shown = 0;
        fprintf(out, "downloading %s\n", url);
    } else if (event == FL_FETCH_PROGRESS) {
        if (!tty || received / MIB == s->fetch_shown)
            return;
        s->fetch_shown = received / MIB;
        if (total)
            fprintf(out, "\r  %llu of %llu MiB", (unsigned long long)(received / MIB),
                    (unsigned long long)(total / MIB));
        else
            fprintf(out, "\r  %llu MiB", (unsigned long long)(received / MIB));
    } else {
        fprintf(out, "%sdownloaded %s (%llu bytes)\n", tty ? "\r\033[K" : "", url,
                (unsigned long long)received);
    }
}

static int session_open(fl_host_session *s, const fl_session_opts *o, const char *host_name,
                        int plan, fl_error *err) {
    const char *state_dir = o->state_dir;
    memset(s, 0, sizeof *s);
    s->flake = fl_flake_find_dir(o->flake_flag, err);
    if (!s->flake)
        return err->code ? err->code : FL_ENOTFOUND;
    int rc = fl_store_open(state_dir, &s->store, err);
    if (rc < 0) {
        fl_error_add_frame(err, "while opening the store in %s (set --state-dir to move it)",
                           state_dir);
        fl_host_session_close(s);
        return rc;
    }
    s->notices = o->warnings;
    if (s->notices)
        fl_store_set_fetch_report(s->store, report_fetch, s);
    fl_lang_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_stack = o->max_stack;
    cfg.frames = o->frames;
    cfg.trace = o->trace;
    cfg.trace_ctx = o->trace_ctx;
    if (plan) {
        s->plan = fl_build_plan_new(s->store);
        fl_module_plan_hooks(&cfg, s->plan);
    } else {
        fl_module_store_hooks(&cfg, s->store);
    }
    rc = fl_flake_tree_open(s->flake, &s->tree, err);
    if (rc < 0) {
        fl_host_session_close(s);
        return rc;
    }
    fl_flake_tree_hooks(s->tree, &cfg.hooks, s->store);
    fl_flake_warn_dirty(s->tree, o->warnings);
    s->L = fl_lang_new(&cfg);
    fl_module_prepare(s->L);
    rc = plan ? fl_module_attach_plan(s->L, s->plan, err)
              : fl_module_attach_builds(s->L, s->store, err);
    if (rc == 0)
        rc = fl_flake_inputs_for_eval(s->L, s->store, s->flake, o->no_write_lock, o->overrides,
                                      o->noverrides, &s->args.inputs, err);
    s->args.info = fl_flake_info(s->L, s->flake, s->tree);
    if (rc == 0 && host_name) {
        rc = fl_host_open_args(s->L, s->flake, host_name, &s->args, &s->host, err);
        s->host_open = rc == 0;
    }
    if (rc < 0)
        fl_host_session_close(s);
    return rc;
}

int fl_host_session_open(fl_host_session *s, const fl_session_opts *o, const char *host_name,
                         fl_error *err) {
    return session_open(s, o, host_name, 0, err);
}

int fl_host_session_open_plan(fl_host_session *s, const fl_session_opts *o, const char *host_name,
                              fl_error *err) {
    return session_open(s, o, host_name, 1, err);
}

void fl_host_session_close(fl_host_session *s) {
    if (s->host_open)
        fl_host_release(&s->host);
    if (s->L)
        fl_lang_free(s->L);
    if (s->store)
        fl_store_close(s->store);
    fl_substituter_free(s->substituter);
    fl_store_free_paths(s->subst_urls, s->nsubst_urls);
    fl_store_free_paths(s->subst_keys, s->nsubst_keys);
    fl_flake_tree_free(s->tree);
    fl_build_plan_free(s->plan);
    free(s->flake);
    memset(s, 0, sizeof *s);
}

int fl_module_lock_inputs(const fl_session_opts *o, const fl_flake_inputs_opts *opts,
                          fl_error *err) {
    const char *state_dir = o->state_dir;
    char *flake = fl_flake_find_dir(o->flake_flag, err);
    if (!flake)
        return err->code ? err->code : FL_ENOTFOUND;
    fl_store *store = NULL;
    fl_flake_tree *tree = NULL;
    int rc = fl_store_open(state_dir, &store, err);
    if (rc == 0)
        rc = fl_flake_tree_open(flake, &tree, err);
    if (rc == 0) {
        fl_lang_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.trace = o->trace;
        cfg.trace_ctx = o->trace_ctx;
        fl_module_store_hooks(&cfg, store);
        fl_flake_tree_hooks(tree, &cfg.hooks, store);
        fl_lang *L = fl_lang_new(&cfg);
        rc = fl_flake_inputs(L, store, flake, opts, NULL, err);
        fl_lang_free(L);
    }
    fl_flake_tree_free(tree);
    if (store)
        fl_store_close(store);
    free(flake);
    return rc;
}

/* Appends the strings of the host's list option `dotted` to *v. */
static int list_option(fl_host_session *s, fl_value *config, const char *dotted,
                       const char ***v, size_t *n, fl_error *err) {
    fl_value *list = NULL;
    int rc = fl_host_select(&s->host, config, dotted, &list, err);
    if (!rc)
        rc = fl_lang_force(s->L, list, err);
    if (!rc && fl_lang_type(list) != FL_LANG_LIST)
        rc = fl_error_set(err, FL_EEVAL, "%s: expected a list of strings", dotted);
    for (size_t i = 0; !rc && i < fl_lang_list_size(list); i++) {
        fl_value *e = fl_lang_list_at(list, i);
        rc = fl_lang_force(s->L, e, err);
        if (!rc && fl_lang_type(e) != FL_LANG_STRING)
            rc = fl_error_set(err, FL_EEVAL, "%s: element %zu is not a string", dotted, i);
        if (!rc) {
            *v = fl_xrealloc(*v, (*n + 1) * sizeof **v);
            (*v)[(*n)++] = fl_lang_get_string(e, NULL);
        }
    }
    return rc;
}

/* A malformed cache URL or key is a bad command line (exit 2) only when the command line
 * gave it: when those given there are fine, the bad one is the host's store.substituters or
 * store.trustedPublicKeys, an error in the configuration (exit 1, docs/exit-codes.md). */
static int config_value_error(const char *const *urls, size_t nurls, const char *const *keys,
                              size_t nkeys, fl_error *err) {
    fl_substituter *probe = NULL;
    fl_error perr = FL_ERROR_INIT;
    int given_ok = fl_substituter_new(urls, nurls, keys, nkeys, NULL, &probe, &perr) == 0;
    fl_substituter_free(probe);
    fl_error_clear(&perr);
    if (!given_ok)
        return err->code;
    err->code = FL_EEVAL;
    fl_error_add_frame(err, "in the host's store.substituters");
    return err->code;
}

int fl_host_session_substitute(fl_host_session *s, const char *const *urls, size_t nurls,
                               const char *const *keys, size_t nkeys, FILE *log, fl_error *err) {
    const char **u = NULL, **k = NULL;
    size_t nu = 0, nk = 0;
    for (size_t i = 0; i < nurls; i++) {
        u = fl_xrealloc(u, (nu + 1) * sizeof *u);
        u[nu++] = urls[i];
    }
    for (size_t i = 0; i < nkeys; i++) {
        k = fl_xrealloc(k, (nk + 1) * sizeof *k);
        k[nk++] = keys[i];
    }
    fl_value *config = NULL;
    fl_error cerr = FL_ERROR_INIT;
    /* A configuration that does not evaluate (a failed assertion, ...) is reported by the
     * build itself, with its usual context: here it only means no substituters of its own. */
    int rc = fl_host_config(&s->host, &config, &cerr) ? 1 : 0;
    fl_error_clear(&cerr);
    if (rc == 1) {
        rc = 0;
        config = NULL;
    }
    if (!rc && config)
        rc = list_option(s, config, "store.substituters", &u, &nu, err);
    if (!rc && config)
        rc = list_option(s, config, "store.trustedPublicKeys", &k, &nk, err);
    if (!rc && nu) {
        fl_store_free_paths(s->subst_urls, s->nsubst_urls);
        fl_store_free_paths(s->subst_keys, s->nsubst_keys);
        s->subst_urls = fl_xcalloc(nu + 1, sizeof *s->subst_urls);
        s->subst_keys = fl_xcalloc(nk + 1, sizeof *s->subst_keys);
        for (size_t i = 0; i < nu; i++)
            s->subst_urls[i] = fl_xstrdup(u[i]);
        for (size_t i = 0; i < nk; i++)
            s->subst_keys[i] = fl_xstrdup(k[i]);
        s->nsubst_urls = nu;
        s->nsubst_keys = nk;
        fl_substituter_free(s->substituter);
        s->substituter = NULL;
        rc = fl_substituter_new(u, nu, k, nk, log, &s->substituter, err);
        if (!rc)
            fl_substituter_attach(s->substituter, s->store);
        else if (rc == FL_EUSAGE && (nu > nurls || nk > nkeys))
            rc = config_value_error(urls, nurls, keys, nkeys, err);
    }
    if (rc)
        fl_error_add_frame(err, "while setting up the substituters of host '%s'", s->host.name);
    free(u);
    free(k);
    return rc;
}
