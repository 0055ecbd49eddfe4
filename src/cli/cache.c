/* cache.c (cli) - `flakectl cache keygen|push|verify` and `flakectl store realise`: argument
 * parsing, output and exit codes over include/flakectl/cache.h. Owns no cache logic. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/opt.h"
#include "cli/progress.h"
#include "cli/remote_args.h"
#include "flakectl/activate.h"
#include "flakectl/cache.h"
#include "flakectl/cli.h"
#include "flakectl/fs.h"
#include "flakectl/module.h"
#include "flakectl/remote.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"
#include "options.h"

typedef struct cache_opts {
    const char *out, *to, *key, *on, *compression;
    fl_opt_list args, hosts;
    fl_cli_ssh_args ssh; /* push --to ssh://... */
} cache_opts;

static const char *const compressions[] = {"zstd", "xz", "none", NULL};

#define CO cache_opts
static const fl_opt_spec keygen_spec[] = {
    FL_OPT_STR_("out", 'o', "SECRETFILE", "where to write the secret key (mode 0600)", CO, out,
                .complete = FL_OPT_V_FILE, .flags = 0),
    FL_OPT_ARGS_("NAME", "the key's name, e.g. cache.example.org-1", CO, args,
                 .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};
static const fl_opt_spec push_spec[] = {
    FL_OPT_STR_("to", 0, "URL", "the cache: file:///DIR or ssh://[USER@]HOST[:PORT]/DIR", CO, to,
                .flags = 0),
    FL_OPT_STR_("key", 0, "SECRETFILE", "sign each .narinfo with this key", CO, key,
                .complete = FL_OPT_V_FILE, .flags = 0),
    FL_OPT_LIST_("host", 0, "H",
                 "push host H's toplevel (built first) and, with --key, its\n"
                 "pointer hosts/H (repeatable: one evaluation, shared paths once)",
                 CO, hosts, .complete = FL_OPT_V_HOST, .flags = 0),
    FL_OPT_STR_("on", 0, "SELECTOR",
                "the hosts as 'switch --on' selects them (@tag, a,b, '*'),\n"
                "each pushed as with --host",
                CO, on, .flags = 0),
    FL_OPT_CHOICE_("compression", 0, "C", "zstd (default), xz or none", CO, compression,
                   compressions, .flags = 0),
    FL_OPT_ARGS_("PATH", "store paths whose closure to push", CO, args, .complete = FL_OPT_V_FILE,
                 .flags = 0),
    FL_OPT_GROUP_(fl_cli_ssh_spec, CO, ssh),
    FL_OPT_END_,
};
static const fl_opt_spec verify_spec[] = {
    FL_OPT_ARGS_("URL [PATH...]", "the cache, and the paths to check (default: all, file://)", CO,
                 args, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};
static const fl_opt_spec realise_spec[] = {
    FL_OPT_ARGS_("PATH", "store paths to make valid from the --substituters", CO, args,
                 .complete = FL_OPT_V_FILE, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};
#undef CO

static int cache_keygen(int argc, char **argv);
static int cache_push(int argc, char **argv);
static int cache_verify(int argc, char **argv);
static int store_realise(int argc, char **argv);

static const fl_opt_cmd keygen_cmd = {
    "cache keygen",       "make a signing key pair: writes the secret key, prints the public key",
    "NAME -o SECRETFILE", NULL,
    keygen_spec,          NULL,
    cache_keygen};
static const fl_opt_cmd push_cmd = {
    "cache push",
    "copy the closure of PATH... (or of host H) into a binary cache, signed",
    "--to file:///DIR|ssh://HOST/DIR [--key SECRETFILE] [--compression zstd|xz|none] (PATH... | "
    "--host H... | --on SELECTOR)",
    NULL,
    push_spec,
    NULL,
    cache_push};
static const fl_opt_cmd verify_cmd = {
    "cache verify",
    "check a cache's narinfos, NARs, hashes, references and (with keys) signatures",
    "URL [--trusted-public-key K]... [PATH...]",
    NULL,
    verify_spec,
    NULL,
    cache_verify};
const fl_opt_cmd fl_cmd_store_realise = {
    "store realise",
    "make PATH... valid from binary caches (signature and NAR hash checked)",
    "[--substituters URLS] [--trusted-public-key K]... PATH...",
    NULL,
    realise_spec,
    NULL,
    store_realise};
static const fl_opt_cmd *const cache_subs[] = {&keygen_cmd, &push_cmd, &verify_cmd, NULL};

extern const fl_opt_cmd fl_cmd_cache;

static int cmd_cache(int argc, char **argv) {
    return fl_opt_dispatch(&fl_cmd_cache, argc, argv);
}

const fl_opt_cmd fl_cmd_cache = {
    "cache",
    "binary caches in Nix's format: keygen, push, verify",
    NULL,
    "Caches are directories in Nix's format (docs/cache.md): nix copy --from reads what push\n"
    "writes. Builds fetch from them with --substituters and --trusted-public-key.\n",
    NULL,
    cache_subs,
    cmd_cache,
};

static int cache_keygen(int argc, char **argv) {
    cache_opts o;
    memset(&o, 0, sizeof o);
    int rc = fl_opt_parse(&keygen_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    if (o.args.n != 1 || !o.out) {
        fl_opt_release(&keygen_cmd, &o);
        return fl_opt_usage(&keygen_cmd, "give one NAME and -o SECRETFILE");
    }
    fl_error err = FL_ERROR_INIT;
    char *secret = NULL, *public = NULL;
    if (fl_path_exists(o.out)) {
        rc = fl_error_set(&err, FL_ECONFLICT, "%s exists: refusing to overwrite a key", o.out);
        fl_error_set_hint(&err, "remove it first, or write the new key elsewhere");
    } else {
        rc = fl_cache_keygen(o.args.v[0], &secret, &public, &err);
    }
    if (!rc)
        rc = fl_atomic_write_file(o.out, secret, strlen(secret), 0600, &err);
    if (secret)
        memset(secret, 0, strlen(secret));
    free(secret);
    fl_opt_release(&keygen_cmd, &o);
    if (rc) {
        free(public);
        return fl_cli_report(&err);
    }
    puts(public);
    free(public);
    return FL_EXIT_OK;
}

static int read_secret_key(const char *file, fl_cache_secret_key *key, fl_error *err) {
    char *text = NULL;
    size_t len = 0;
    int rc = fl_read_file(file, &text, &len, err);
    if (!rc)
        rc = fl_cache_secret_key_parse(text, file, key, err);
    if (text)
        memset(text, 0, len);
    free(text);
    return rc;
}

/* The flake revision a built toplevel records (profile.json), NULL when none (owned). */
static char *toplevel_rev(const char *toplevel) {
    fl_toplevel t;
    fl_error e = FL_ERROR_INIT;
    char *rev = NULL;
    if (fl_toplevel_load(&t, toplevel, &e) == 0) {
        json_t *r = json_object_get(json_object_get(t.profile, "flake"), "rev");
        json_t *dirty = json_object_get(json_object_get(t.profile, "flake"), "dirty");
        if (json_is_string(r) && !json_is_true(dirty))
            rev = fl_xstrdup(json_string_value(r));
        fl_toplevel_release(&t);
    }
    fl_error_clear(&e);
    return rev;
}

/* Sends paths' closure to o->to (file:// or ssh://) with po. */
static int push_paths(const cache_opts *o, fl_store *s, char *const *paths, size_t n,
                      const fl_cache_push_opts *po, fl_cache_push_result *res, fl_error *err) {
    if (!strncmp(o->to, "ssh://", 6) && (o->ssh.sudo || o->ssh.askpass)) {
        int rc = fl_error_set(err, FL_EUSAGE,
                              "cache push over SSH writes as the login user: "
                              "--sudo is not supported");
        fl_error_set_hint(err, "log in as a user who may write the cache directory");
        return rc;
    }
    if (!strncmp(o->to, "ssh://", 6)) {
        fl_remote_opts ro;
        memset(&ro, 0, sizeof ro);
        fl_cli_ssh_apply(&o->ssh, &ro);
        return fl_remote_cache_push(o->to, &ro, s, paths, n, po, res, err);
    }
    return fl_cache_push(s, o->to, paths, n, po, res, err);
}

static void say_pushed(const fl_cache_push_result *res) {
    if (!fl_opts.quiet)
        fprintf(stderr, "%zu paths pushed (%llu bytes of NAR, %llu written), %zu already there\n",
                res->pushed, (unsigned long long)res->nar_bytes,
                (unsigned long long)res->file_bytes, res->present);
}

/* The hosts named by --host (repeatable) or --on (owned; each freed with free). */
static int push_host_names(const cache_opts *o, char ***names, size_t *n, fl_error *err) {
    *names = NULL;
    *n = 0;
    if (!o->on) {
        *names = fl_xcalloc(o->hosts.n + 1, sizeof **names);
        for (size_t i = 0; i < o->hosts.n; i++)
            (*names)[i] = fl_xstrdup(o->hosts.v[i]);
        *n = o->hosts.n;
        return FL_OK;
    }
    fl_host_deploy *sel = NULL;
    size_t nsel = 0;
    int rc = fl_cli_select_hosts(o->on, &sel, &nsel, err);
    if (!rc && !nsel)
        rc = fl_error_set(err, FL_ENOTFOUND, "--on %s selects no host", o->on);
    if (!rc) {
        *names = fl_xcalloc(nsel + 1, sizeof **names);
        for (size_t i = 0; i < nsel; i++)
            (*names)[i] = fl_xstrdup(sel[i].name);
        *n = nsel;
    }
    fl_host_deploy_free(sel, nsel);
    return rc;
}

/* `cache push --host H...|--on SEL`: every host built by one evaluator, the closures pushed
 * together (a path they share once), then each built host's signed pointer. A host that does
 * not build, or whose pointer cannot be written, is reported by name and the others go on;
 * the exit status is then 1. */
static int push_hosts(const cache_opts *o, const fl_cache_secret_key *key) {
    fl_error err = FL_ERROR_INIT;
    char **names = NULL;
    size_t n = 0;
    int rc = push_host_names(o, &names, &n, &err);
    if (rc) {
        fl_store_free_paths(names, n);
        return fl_cli_report(&err);
    }
    char **tops = fl_xcalloc(n + 1, sizeof *tops), **paths = fl_xcalloc(n + 1, sizeof *paths);
    fl_error *errs = fl_xcalloc(n + 1, sizeof *errs);
    fl_cache_pointer_req *ptrs = fl_xcalloc(n + 1, sizeof *ptrs);
    char **revs = fl_xcalloc(n + 1, sizeof *revs);
    int failed = fl_cli_build_hosts(names, n, tops, errs, &err);
    fl_store *s = NULL;
    size_t np = 0;
    if (failed >= 0)
        rc = fl_store_open(fl_opts.state_dir, &s, &err);
    else
        rc = failed;
    for (size_t i = 0; !rc && i < n; i++) {
        if (!tops[i])
            continue;
        paths[np] = fl_store_to_store_path(s, tops[i], &errs[i]);
        if (!paths[np]) {
            failed++;
            continue;
        }
        revs[i] = key ? toplevel_rev(tops[i]) : NULL;
        ptrs[np] = (fl_cache_pointer_req){names[i], paths[np], revs[i], 0, FL_ERROR_INIT};
        np++;
    }
    fl_cache_push_result res;
    memset(&res, 0, sizeof res);
    fl_cli_progress pr;
    fl_cli_progress_init(&pr, stderr, "pushing", NULL);
    if (!rc && np) {
        fl_cache_push_opts po = {.compression = o->compression,
                                 .key = key,
                                 .progress = &pr.progress,
                                 .pointers = key ? ptrs : NULL,
                                 .npointers = key ? np : 0};
        rc = push_paths(o, s, paths, np, &po, &res, &err);
    }
    fl_cli_progress_release(&pr);
    if (!rc && np)
        say_pushed(&res);
    for (size_t i = 0, k = 0; i < n; i++) {
        if (errs[i].code) {
            fprintf(stderr, "[%s] ", names[i]);
            fl_error_print(&errs[i], stderr);
            continue;
        }
        fl_cache_pointer_req *q = &ptrs[k++];
        if (rc)
            continue;
        if (q->err.code) {
            fprintf(stderr, "[%s] ", names[i]);
            fl_error_print(&q->err, stderr);
            failed++;
        } else if (!fl_opts.quiet && q->counter) {
            fprintf(stderr, "pointer hosts/%s written (counter %llu)\n", names[i],
                    (unsigned long long)q->counter);
        } else if (!fl_opts.quiet && !key) {
            fprintf(stderr,
                    "note: no pointer hosts/%s written: pull mode needs one signed "
                    "(give --key)\n",
                    names[i]);
        }
    }
    if (!rc && failed > 0 && !fl_opts.quiet)
        fprintf(stderr, "%zu of %zu hosts pushed; %d failed\n", n - (size_t)failed, n, failed);
    for (size_t i = 0; i < n; i++) {
        fl_error_clear(&errs[i]);
        fl_error_clear(&ptrs[i].err);
        free(revs[i]);
    }
    free(errs);
    free(ptrs);
    free(revs);
    fl_store_free_paths(paths, np);
    fl_store_free_paths(tops, n);
    fl_store_free_paths(names, n);
    fl_store_close(s);
    if (rc)
        return fl_cli_report(&err);
    return failed ? FL_EXIT_FAILURE : FL_EXIT_OK;
}

static int cache_push(int argc, char **argv) {
    cache_opts o;
    memset(&o, 0, sizeof o);
    int rc = fl_opt_parse(&push_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    int kinds = (o.args.n > 0) + (o.hosts.n > 0) + (o.on != NULL);
    if (!o.to || kinds != 1) {
        fl_opt_release(&push_cmd, &o);
        return fl_opt_usage(&push_cmd,
                            "give --to URL and one of: store PATHs, --host H..., --on SELECTOR");
    }
    fl_error err = FL_ERROR_INIT;
    fl_cache_secret_key key;
    memset(&key, 0, sizeof key);
    rc = o.key ? read_secret_key(o.key, &key, &err) : 0;
    if (rc) {
        fl_opt_release(&push_cmd, &o);
        return fl_cli_report(&err);
    }
    if (!o.args.n) {
        rc = push_hosts(&o, o.key ? &key : NULL);
        memset(&key, 0, sizeof key);
        fl_opt_release(&push_cmd, &o);
        return rc;
    }
    fl_store *s = NULL;
    rc = fl_store_open(fl_opts.state_dir, &s, &err);
    size_t n = o.args.n;
    char **paths = fl_xcalloc(n + 1, sizeof *paths);
    for (size_t i = 0; i < n && !rc; i++) {
        paths[i] = fl_store_to_store_path(s, o.args.v[i], &err);
        if (!paths[i])
            rc = FL_ENOTFOUND;
        else if (!fl_store_is_valid(s, paths[i]))
            rc = fl_error_set(&err, FL_ENOTFOUND, "%s is not valid in the store", paths[i]);
    }
    fl_cache_push_result res;
    memset(&res, 0, sizeof res);
    fl_cli_progress pr;
    fl_cli_progress_init(&pr, stderr, "pushing", NULL);
    if (!rc) {
        /* the progress reporter prints the per-path lines (a pipe, -v) and the moving line */
        fl_cache_push_opts po = {.compression = o.compression,
                                 .key = o.key ? &key : NULL,
                                 .progress = &pr.progress};
        rc = push_paths(&o, s, paths, n, &po, &res, &err);
    }
    fl_cli_progress_release(&pr);
    memset(&key, 0, sizeof key);
    fl_store_free_paths(paths, n);
    fl_store_close(s);
    fl_opt_release(&push_cmd, &o);
    if (rc)
        return fl_cli_report(&err);
    say_pushed(&res);
    return FL_EXIT_OK;
}

static int cache_verify(int argc, char **argv) {
    cache_opts o;
    memset(&o, 0, sizeof o);
    int rc = fl_opt_parse(&verify_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    fl_error err = FL_ERROR_INIT;
    fl_cache_public_key *keys = NULL;
    size_t nkeys = 0;
    fl_store *s = NULL;
    rc = fl_cache_public_keys_parse(fl_opts.trusted_keys.v, fl_opts.trusted_keys.n,
                                    "--trusted-public-key", &keys, &nkeys, &err);
    if (!rc)
        rc = fl_store_open(fl_opts.state_dir, &s, &err);
    fl_cache_verify_result res;
    memset(&res, 0, sizeof res);
    if (!rc)
        rc = fl_cache_verify(o.args.v[0], fl_store_dir(s), (char *const *)o.args.v + 1,
                             o.args.n - 1, keys, nkeys, stdout, &res, &err);
    fl_store_close(s);
    free(keys);
    fl_opt_release(&verify_cmd, &o);
    if (rc)
        return fl_cli_report(&err);
    printf("%zu paths checked, %zu problems%s\n", res.checked, res.bad,
           nkeys ? "" : " (signatures not checked: no --trusted-public-key)");
    return res.bad ? FL_EXIT_FAILURE : FL_EXIT_OK;
}

static int store_realise(int argc, char **argv) {
    cache_opts o;
    memset(&o, 0, sizeof o);
    int rc = fl_opt_parse(&fl_cmd_store_realise, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    fl_error err = FL_ERROR_INIT;
    fl_store *s = NULL;
    fl_substituter *sub = NULL;
    fl_cli_progress pr;
    fl_cli_progress_init(&pr, stderr, "substituting", "substituted");
    rc = fl_store_open(fl_opts.state_dir, &s, &err);
    if (!rc)
        fl_store_set_progress(s, &pr.progress);
    if (!rc)
        rc = fl_substituter_new(fl_opts.substituters.v, fl_opts.substituters.n,
                                fl_opts.trusted_keys.v, fl_opts.trusted_keys.n,
                                fl_opts.quiet ? NULL : stderr, &sub, &err);
    for (size_t i = 0; i < o.args.n && !rc; i++) {
        const char *p = o.args.v[i];
        int r = fl_substituter_realise(sub, s, p, &err);
        if (r == 0) {
            rc = fl_error_set(&err, FL_ENOTFOUND, "%s is not valid and no substituter has it", p);
            if (!fl_substituter_count(sub))
                fl_error_set_hint(&err, "name caches with --substituters URL");
        } else if (r < 0) {
            rc = r;
        } else {
            puts(p);
        }
    }
    fl_substituter_free(sub);
    fl_store_close(s);
    fl_cli_progress_release(&pr);
    fl_opt_release(&fl_cmd_store_realise, &o);
    return rc ? fl_cli_report(&err) : FL_EXIT_OK;
}
