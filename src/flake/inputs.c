/* inputs.c - the flake's inputs: reads `inputs` from flake.nix, parses their URLs, resolves
 * each against flake.lock (locking what is missing, relocking what `update` names, checking
 * every locked narHash), writes flake.lock back, and builds the values the flake's outputs
 * receive. The only place that decides when flake.lock changes. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flake/internal.h"
#include "flake/lock.h"
#include "flakectl/flake.h"
#include "flakectl/fs.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

enum { KIND_GIT, KIND_PATH };

typedef struct spec {
    char *name;
    char *url; /* as written (or as overridden) */
    int flake;
    int overridden;
    int kind;
    char *git_url;   /* KIND_GIT: what libgit2 fetches (no "git+", no query) */
    char *ref, *rev; /* from ?ref= / ?rev= */
    char *path;      /* KIND_PATH: as written */
    char *abs_path;  /* KIND_PATH: resolved against the flake */
    fl_lang_pos pos;
} spec;

typedef struct resolved {
    char *store_path;
    char rev[41];
    int has_rev;
    int64_t last_modified;
    unsigned char nar[32];
    json_t *node; /* the lock node (new reference) */
} resolved;

static void spec_free(spec *s) {
    free(s->name);
    free(s->url);
    free(s->git_url);
    free(s->ref);
    free(s->rev);
    free(s->path);
    free(s->abs_path);
}

static int url_error(fl_error *err, const spec *s, const char *why) {
    fl_error_set(err, FL_EPARSE, "input '%s': unsupported URL '%s': %s", s->name, s->url, why);
    fl_lang_error_at(err, &s->pos);
    fl_error_set_hint(err, "use git+file:///abs/path, git+https://host/repo, "
                           "git+ssh://[user@]host[:port]/repo or path:./dir "
                           "(with ?ref=BRANCH or ?rev=COMMIT for git)");
    return FL_EPARSE;
}

/* Splits "git+https://h/r?ref=main&rev=abc" and "path:./x" into the spec's fields. */
static int parse_url(spec *s, const char *flake_dir, const char *cwd_for_relative, fl_error *err) {
    const char *u = s->url;
    if (!strncmp(u, "git+", 4)) {
        s->kind = KIND_GIT;
        const char *q = strchr(u, '?');
        s->git_url = q ? fl_xstrndup(u + 4, (size_t)(q - u - 4)) : fl_xstrdup(u + 4);
        if (strncmp(s->git_url, "file://", 7) && strncmp(s->git_url, "https://", 8) &&
            strncmp(s->git_url, "http://", 7) && strncmp(s->git_url, "ssh://", 6))
            return url_error(err, s, "git+ takes file://, https://, http:// or ssh://");
        if (!strncmp(s->git_url, "file://", 7) && s->git_url[7] != '/')
            return url_error(err, s, "git+file:// needs an absolute path (git+file:///srv/x)");
        for (const char *p = q ? q + 1 : NULL; p && *p;) {
            const char *amp = strchr(p, '&');
            size_t len = amp ? (size_t)(amp - p) : strlen(p);
            if (len > 4 && !strncmp(p, "ref=", 4))
                s->ref = fl_xstrndup(p + 4, len - 4);
            else if (len > 4 && !strncmp(p, "rev=", 4))
                s->rev = fl_xstrndup(p + 4, len - 4);
            else {
                char *param = fl_xstrndup(p, len);
                char *why = fl_xasprintf("unknown parameter '%s' (only ref and rev)", param);
                url_error(err, s, why);
                free(why);
                free(param);
                return FL_EPARSE;
            }
            p = amp ? amp + 1 : p + len;
        }
        if (s->rev && (strlen(s->rev) != 40 || strspn(s->rev, "0123456789abcdef") != 40))
            return url_error(err, s, "rev must be a full commit hash (40 lower-case hex digits)");
        return FL_OK;
    }
    const char *p = NULL;
    if (!strncmp(u, "path:", 5))
        p = u + 5;
    else if (u[0] == '/' || !strncmp(u, "./", 2) || !strncmp(u, "../", 3))
        p = u;
    if (!p || !*p || strchr(p, '?'))
        return url_error(err, s,
                         strchr(u, ':') && strncmp(u, "path:", 5)
                             ? "this kind of input is not supported"
                             : "expected path:DIR");
    s->kind = KIND_PATH;
    s->path = fl_xstrdup(p);
    s->abs_path = fl_canon_path(p, cwd_for_relative ? cwd_for_relative : flake_dir);
    return FL_OK;
}

static int attr_string(fl_lang *L, fl_value *set, const char *name, const char **out,
                       fl_error *err) {
    fl_value *v = NULL;
    fl_lang_pos pos = {0};
    *out = NULL;
    if (fl_lang_attrs_get(L, set, name, &v, &pos) != 0)
        return FL_OK;
    int rc = fl_lang_force(L, v, err);
    if (rc < 0)
        return rc;
    if (fl_lang_type(v) != FL_LANG_STRING) {
        fl_error_set(err, FL_EEVAL, "`%s` must be a string, not %s", name, fl_lang_type_name(v));
        fl_lang_error_at(err, &pos);
        return FL_EEVAL;
    }
    *out = fl_lang_get_string(v, NULL);
    return FL_OK;
}

/* The inputs flake.nix declares, in name order. */
static int read_specs(fl_lang *L, const char *flake_dir, spec **out, size_t *n, fl_error *err) {
    char *file = fl_path_join(flake_dir, "flake.nix");
    fl_value *top = NULL, *inputs = NULL;
    *out = NULL;
    *n = 0;
    int rc = fl_lang_eval_file(L, file, &top, err);
    if (rc == 0 && fl_lang_type(top) != FL_LANG_ATTRS) {
        rc = fl_error_set(err, FL_EEVAL, "flake.nix must evaluate to an attribute set, not %s",
                          fl_lang_type_name(top));
        fl_error_set_loc(err, file, 1, 1);
    }
    if (rc < 0 || fl_lang_attrs_get(L, top, "inputs", &inputs, NULL) != 0) {
        free(file);
        return rc;
    }
    rc = fl_lang_force(L, inputs, err);
    if (rc == 0 && fl_lang_type(inputs) != FL_LANG_ATTRS)
        rc = fl_error_set(err, FL_EEVAL, "`inputs` in %s must be an attribute set", file);
    free(file);
    if (rc < 0)
        return rc;
    size_t count = fl_lang_attrs_size(inputs);
    spec *specs = fl_xcalloc(count ? count : 1, sizeof *specs);
    for (size_t i = 0; i < count && rc == 0; i++) {
        const char *name;
        fl_value *v;
        spec *s = &specs[i];
        fl_lang_attrs_at(L, inputs, i, &name, &v, &s->pos);
        s->name = fl_xstrdup(name);
        s->flake = 1;
        *n = i + 1;
        if (!strcmp(name, "root") || !strcmp(name, "self")) {
            rc = fl_error_set(err, FL_EEVAL, "an input cannot be called '%s'", name);
            fl_lang_error_at(err, &s->pos);
            fl_error_set_hint(err, "'root' names flake.lock's root node and 'self' the flake "
                                   "itself: rename the input");
            break;
        }
        rc = fl_lang_force(L, v, err);
        if (rc < 0)
            break;
        const char *url = NULL;
        if (fl_lang_type(v) == FL_LANG_STRING) {
            url = fl_lang_get_string(v, NULL);
        } else if (fl_lang_type(v) == FL_LANG_ATTRS) {
            rc = attr_string(L, v, "url", &url, err);
            fl_value *fv = NULL, *follows = NULL;
            fl_lang_pos fpos = {0};
            if (rc == 0 && fl_lang_attrs_get(L, v, "follows", &follows, &fpos) == 0) {
                rc = fl_error_set(err, FL_EEVAL, "input '%s': `follows` is not supported", name);
                fl_lang_error_at(err, &fpos);
                fl_error_set_hint(err, "give the input its own url");
            }
            if (rc == 0 && fl_lang_attrs_get(L, v, "flake", &fv, &fpos) == 0) {
                rc = fl_lang_force(L, fv, err);
                if (rc == 0 && fl_lang_type(fv) != FL_LANG_BOOL) {
                    rc = fl_error_set(err, FL_EEVAL, "inputs.%s.flake must be true or false", name);
                    fl_lang_error_at(err, &fpos);
                }
                if (rc == 0)
                    s->flake = fl_lang_get_bool(fv);
            }
        }
        if (rc == 0 && !url) {
            rc = fl_error_set(err, FL_EEVAL, "input '%s' has no url", name);
            fl_lang_error_at(err, &s->pos);
            fl_error_set_hint(err, "write inputs.%s.url = \"git+https://...\";", name);
        }
        if (rc == 0)
            s->url = fl_xstrdup(url);
    }
    if (rc < 0)
        fl_error_add_frame(err, "while reading the inputs of %s/flake.nix", flake_dir);
    *out = specs;
    return rc;
}

static json_t *original_json(const spec *s) {
    if (s->kind == KIND_PATH)
        return json_pack("{s:s, s:s}", "type", "path", "path", s->path);
    json_t *o = json_pack("{s:s, s:s}", "type", "git", "url", s->git_url);
    if (s->ref)
        json_object_set_new(o, "ref", json_string(s->ref));
    if (s->rev)
        json_object_set_new(o, "rev", json_string(s->rev));
    return o;
}

static json_t *locked_json(const spec *s, const resolved *r) {
    char *sri = fl_hash_format_sri(r->nar);
    json_t *l =
        json_pack("{s:s, s:I}", "narHash", sri, "lastModified", (json_int_t)r->last_modified);
    free(sri);
    if (s->kind == KIND_PATH) {
        json_object_set_new(l, "type", json_string("path"));
        json_object_set_new(l, "path", json_string(s->path));
    } else {
        json_object_set_new(l, "type", json_string("git"));
        json_object_set_new(l, "url", json_string(s->git_url));
        json_object_set_new(l, "rev", json_string(r->rev));
        if (s->ref)
            json_object_set_new(l, "ref", json_string(s->ref));
    }
    return l;
}

static int hash_mismatch(fl_error *err, const spec *s, const unsigned char want[32],
                         const unsigned char got[32]) {
    char *a = fl_hash_format_sri(want), *b = fl_hash_format_sri(got);
    fl_error_set(err, FL_ECONFLICT,
                 "input '%s': NAR hash mismatch: flake.lock says %s, the fetched content has %s",
                 s->name, a, b);
    fl_error_set_hint(err,
                      s->kind == KIND_PATH
                          ? "the directory changed since it was locked: run `flakectl update %s` "
                            "to accept the new content"
                          : "the cache or the source was tampered with, or flake.lock is wrong; "
                            "`flakectl update %s` relocks it from the source",
                      s->name);
    free(a);
    free(b);
    return FL_ECONFLICT;
}

/* A path input: hashed every time (its content can change under the same name). */
static int resolve_path(fl_store *store, const spec *s, const unsigned char *want, resolved *r,
                        fl_error *err) {
    struct stat st;
    if (stat(s->abs_path, &st) < 0)
        return fl_error_errno(err, "input '%s': cannot read %s", s->name, s->abs_path);
    uint64_t size;
    int rc = fl_nar_hash_path(s->abs_path, r->nar, &size, err);
    if (rc < 0)
        return rc;
    if (want && memcmp(want, r->nar, 32))
        return hash_mismatch(err, s, want, r->nar);
    r->last_modified = (int64_t)st.st_mtime;
    char *p = fl_store_make_source_path(fl_store_dir(store), r->nar, "source");
    if (fl_store_is_valid(store, p)) {
        r->store_path = p;
        return FL_OK;
    }
    free(p);
    return fl_store_add_path(store, s->abs_path, "source", 0, &r->store_path, err);
}

/* A git input at a locked revision: the store path follows from the narHash, so when it is
 * valid nothing else is read (no cache, no network). */
static int resolve_git_locked(fl_store *store, const spec *s, json_t *locked,
                              const unsigned char want[32], resolved *r, fl_error *err) {
    const char *rev = json_string_value(json_object_get(locked, "rev"));
    json_t *lm = json_object_get(locked, "lastModified");
    if (!rev || strlen(rev) != 40)
        return fl_error_set(err, FL_EPARSE, "flake.lock: input '%s' has no rev", s->name);
    char *p = fl_store_make_source_path(fl_store_dir(store), want, "source");
    if (fl_store_is_valid(store, p)) {
        r->store_path = p;
        memcpy(r->rev, rev, 41);
        r->has_rev = 1;
        memcpy(r->nar, want, 32);
        r->last_modified = json_is_integer(lm) ? (int64_t)json_integer_value(lm) : 0;
        return FL_OK;
    }
    free(p);
    fl_flake_fetched f;
    int rc = fl_flake_fetch_git(store, s->git_url, s->ref, rev, &f, err);
    if (rc < 0)
        return rc;
    if (memcmp(f.nar_hash, want, 32)) {
        free(f.store_path);
        return hash_mismatch(err, s, want, f.nar_hash);
    }
    r->store_path = f.store_path;
    memcpy(r->rev, f.rev, 41);
    r->has_rev = 1;
    memcpy(r->nar, f.nar_hash, 32);
    r->last_modified = f.last_modified;
    return FL_OK;
}

static int resolve_fresh(fl_store *store, const spec *s, resolved *r, fl_error *err) {
    if (s->kind == KIND_PATH)
        return resolve_path(store, s, NULL, r, err);
    fl_flake_fetched f;
    int rc = fl_flake_fetch_git(store, s->git_url, s->ref, s->rev, &f, err);
    if (rc < 0)
        return rc;
    r->store_path = f.store_path;
    memcpy(r->rev, f.rev, 41);
    r->has_rev = 1;
    memcpy(r->nar, f.nar_hash, 32);
    r->last_modified = f.last_modified;
    return FL_OK;
}

/* locked.type and its path or url must be what flake.nix declares: the lock pins a version
 * of that source, it never names another one (a hand-edited "path": "/etc" was ignored
 * before, and the lock kept claiming it). */
static int check_locked_source(const spec *s, json_t *lock, json_t *node, const char *lock_path,
                               fl_error *err) {
    json_t *locked = json_object_get(node, "locked");
    const char *type = json_string_value(json_object_get(locked, "type"));
    const char *want_type = s->kind == KIND_PATH ? "path" : "git";
    const char *field = s->kind == KIND_PATH ? "path" : "url";
    const char *want = s->kind == KIND_PATH ? s->path : s->git_url;
    const char *got = json_string_value(json_object_get(locked, field));
    const char *bad = !type || strcmp(type, want_type) ? "type" : !got || strcmp(got, want) ? field : NULL;
    if (!bad)
        return FL_OK;
    const char *name = s->name;
    json_t *rnode = json_object_get(json_object_get(lock, "nodes"),
                                    json_string_value(json_object_get(lock, "root")));
    const char *nodename =
        json_string_value(json_object_get(json_object_get(rnode, "inputs"), name));
    fl_error_set(err, FL_EPARSE,
                 "flake.lock: input '%s' is locked with %s %s%s%s, but flake.nix declares a %s "
                 "input with %s \"%s\"",
                 name, bad, json_is_string(json_object_get(locked, bad)) ? "\"" : "",
                 json_is_string(json_object_get(locked, bad))
                     ? json_string_value(json_object_get(locked, bad))
                     : "(missing)",
                 json_is_string(json_object_get(locked, bad)) ? "\"" : "", want_type, field,
                 want);
    int line, col;
    if (nodename && fl_lock_locate(lock_path, nodename, bad, &line, &col))
        fl_error_set_loc(err, lock_path, line, col);
    fl_error_set_hint(err, "flake.lock was edited or belongs to another flake: run `flakectl "
                           "update %s` to lock the input flake.nix declares",
                      name);
    return FL_EPARSE;
}

static int resolve_locked(fl_store *store, const spec *s, json_t *node, resolved *r,
                          fl_error *err) {
    json_t *locked = json_object_get(node, "locked");
    const char *nh = json_string_value(json_object_get(locked, "narHash"));
    unsigned char want[32];
    if (!nh || fl_hash_parse(nh, want) < 0)
        return fl_error_set(err, FL_EPARSE,
                            "flake.lock: input '%s' has no valid narHash (run `flakectl update "
                            "%s`)",
                            s->name, s->name);
    if (s->kind == KIND_PATH)
        return resolve_path(store, s, want, r, err);
    return resolve_git_locked(store, s, locked, want, r, err);
}

/* What `update` prints for an input: its rev, or its narHash for path inputs. */
static const char *node_version(json_t *node) {
    json_t *locked = json_object_get(node, "locked");
    const char *rev = json_string_value(json_object_get(locked, "rev"));
    return rev ? rev : json_string_value(json_object_get(locked, "narHash"));
}

static int wanted_update(const fl_flake_inputs_opts *o, const char *name) {
    if (o->mode != FL_FLAKE_UPDATE)
        return 0;
    if (o->nupdate_names == 0)
        return 1;
    for (size_t i = 0; i < o->nupdate_names; i++)
        if (!strcmp(o->update_names[i], name))
            return 1;
    return 0;
}

/* Checked before flake.lock is written, so a wrong `flake` flag leaves the lock alone. */
static int check_is_flake(const spec *s, const resolved *r, fl_error *err) {
    if (!s->flake)
        return FL_OK;
    char *nix = fl_path_join(r->store_path, "flake.nix");
    int has = fl_path_exists(nix);
    free(nix);
    if (has)
        return FL_OK;
    fl_error_set(err, FL_ENOTFOUND, "input '%s' (%s) has no flake.nix", s->name, s->url);
    fl_lang_error_at(err, &s->pos);
    fl_error_set_hint(err, "if it is plain source, say `inputs.%s.flake = false;`", s->name);
    return FL_ENOTFOUND;
}

/* The value an input gives the flake's outputs. A flake input's outputs are evaluated with
 * its own `self` only: its own inputs are not fetched (see docs/inputs.md). */
static int input_value(fl_lang *L, const spec *s, const resolved *r, fl_value **out,
                       fl_error *err) {
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(L, 6);
    const char *rev = r->has_rev ? r->rev : "0000000000000000000000000000000000000000";
    char *sri = fl_hash_format_sri(r->nar);
    /* with itself as context, as Nix's: a build using the input depends on its tree */
    fl_lang_ctx_entry self = {FL_LANG_CTX_PATH, r->store_path, NULL};
    fl_lang_attrs_add(b, "outPath",
                      fl_lang_mk_string_ctx(L, r->store_path, strlen(r->store_path), &self, 1),
                      NULL);
    fl_lang_attrs_add(b, "rev", fl_lang_mk_string(L, rev, 40), NULL);
    fl_lang_attrs_add(b, "shortRev", fl_lang_mk_string(L, rev, 7), NULL);
    fl_lang_attrs_add(b, "lastModified", fl_lang_mk_int(L, r->last_modified), NULL);
    fl_lang_attrs_add(b, "narHash", fl_lang_mk_string(L, sri, strlen(sri)), NULL);
    free(sri);
    fl_value *src = fl_lang_attrs_end(b);
    if (!s->flake) {
        *out = src;
        return FL_OK;
    }
    static const char wrap[] =
        "src: let\n"
        "  flake = import (src.outPath + \"/flake.nix\");\n"
        "  outputs = flake.outputs { self = result; };\n"
        "  result = outputs // src // { inherit outputs; sourceInfo = src; _type = \"flake\"; };\n"
        "in result";
    fl_value *fn = NULL;
    int rc = fl_lang_eval_string(L, wrap, "«flakectl input»", NULL, &fn, err);
    if (rc == 0)
        rc = fl_lang_call(L, fn, src, out, err);
    return rc;
}

int fl_flake_inputs(fl_lang *L, fl_store *store, const char *flake_dir,
                    const fl_flake_inputs_opts *o, fl_value **inputs_out, fl_error *err) {
    FILE *report = o->report ? o->report : stderr;
    spec *specs = NULL;
    size_t n = 0;
    json_t *lock = NULL, *newlock = NULL;
    resolved *res = NULL;
    char *lock_path = fl_path_join(flake_dir, "flake.lock");
    char cwd[4096];
    int rc = read_specs(L, flake_dir, &specs, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        for (size_t k = 0; k < o->noverrides; k++)
            if (!strcmp(o->overrides[k].name, specs[i].name)) {
                free(specs[i].url);
                specs[i].url = fl_xstrdup(o->overrides[k].url);
                specs[i].overridden = 1;
            }
        /* An override's relative path is relative to where the command runs, as typed. */
        const char *base = specs[i].overridden && getcwd(cwd, sizeof cwd) ? cwd : NULL;
        if (specs[i].overridden && specs[i].url[0] != '/' && !strstr(specs[i].url, ":")) {
            char *u = fl_xasprintf("path:%s", specs[i].url);
            free(specs[i].url);
            specs[i].url = u;
        }
        rc = parse_url(&specs[i], flake_dir, base, err);
    }
    for (size_t k = 0; rc == 0 && k < o->noverrides; k++) {
        int found = 0;
        for (size_t i = 0; i < n; i++)
            found |= !strcmp(o->overrides[k].name, specs[i].name);
        if (!found)
            rc = fl_error_set(err, FL_EUSAGE, "--override-input: the flake has no input '%s'",
                              o->overrides[k].name);
    }
    for (size_t k = 0; rc == 0 && o->mode == FL_FLAKE_UPDATE && k < o->nupdate_names; k++) {
        int found = 0;
        for (size_t i = 0; i < n; i++)
            found |= !strcmp(o->update_names[k], specs[i].name);
        if (!found)
            rc = fl_error_set(err, FL_EUSAGE, "the flake in %s has no input '%s'", flake_dir,
                              o->update_names[k]);
    }
    if (rc == 0)
        rc = fl_lock_read(lock_path, &lock, err);
    if (rc < 0)
        goto done;

    res = fl_xcalloc(n ? n : 1, sizeof *res);
    json_t *rinputs = json_object();
    newlock = json_pack("{s:{s:{s:o}}, s:s, s:i}", "nodes", "root", "inputs", rinputs, "root",
                        "root", "version", 7);
    json_t *nodes = json_object_get(newlock, "nodes");
    int changed = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        spec *s = &specs[i];
        json_t *orig = original_json(s);
        json_t *old = fl_lock_node(lock, s->name);
        int matches = old && json_equal(json_object_get(old, "original"), orig) &&
                      json_is_false(json_object_get(old, "flake")) == !s->flake;
        if (s->overridden) {
            rc = resolve_fresh(store, s, &res[i], err);
            if (old) /* the lock keeps what it had: an override is for this run only */
                res[i].node = json_incref(old);
        } else if (matches && !wanted_update(o, s->name)) {
            rc = check_locked_source(s, lock, old, lock_path, err);
            if (rc == 0)
                rc = resolve_locked(store, s, old, &res[i], err);
            if (rc == 0)
                res[i].node = json_incref(old);
        } else if (o->no_write_lock && o->mode != FL_FLAKE_UPDATE) {
            rc = fl_error_set(err, FL_ECONFLICT,
                              old ? "input '%s' changed in flake.nix since it was locked, and "
                                    "--no-write-lock-file forbids relocking it"
                                  : "input '%s' is not locked in flake.lock, and "
                                    "--no-write-lock-file forbids locking it",
                              s->name);
            fl_error_set_hint(err, "run `flakectl lock` (and commit flake.lock) first");
        } else {
            rc = resolve_fresh(store, s, &res[i], err);
            if (rc == 0) {
                res[i].node = json_pack("{s:o, s:o}", "locked", locked_json(s, &res[i]), "original",
                                        json_incref(orig));
                if (!s->flake)
                    json_object_set_new(res[i].node, "flake", json_false());
                const char *now = node_version(res[i].node);
                if (o->mode == FL_FLAKE_UPDATE) {
                    const char *was = old ? node_version(old) : NULL;
                    if (was && !strcmp(was, now))
                        fprintf(report, "%s: %s (unchanged)\n", s->name, now);
                    else
                        fprintf(report, "%s: %s \u2192 %s\n", s->name, was ? was : "(none)", now);
                } else {
                    fprintf(report, "flakectl: locked input '%s' at %s\n", s->name, now);
                }
                changed = 1;
            }
        }
        json_decref(orig);
        if (rc == 0)
            rc = check_is_flake(s, &res[i], err);
        if (rc < 0) {
            fl_error_add_frame(err, "while resolving input '%s' (%s)", s->name, s->url);
            break;
        }
        if (res[i].node) {
            json_object_set_new(rinputs, s->name, json_string(s->name));
            json_object_set(nodes, s->name, res[i].node);
        }
    }
    if (rc < 0)
        goto done;
    /* No inputs and no lock file: nothing to record, so no file appears. */
    if (!o->no_write_lock && (lock || changed)) {
        int written = 0;
        rc = fl_lock_write_if_changed(lock_path, newlock, &written, err);
        if (rc < 0)
            goto done;
    }
    if (inputs_out) {
        fl_lang_attrs_builder *b = fl_lang_attrs_begin(L, n);
        for (size_t i = 0; i < n && rc == 0; i++) {
            fl_value *v = NULL;
            rc = input_value(L, &specs[i], &res[i], &v, err);
            if (rc == 0)
                fl_lang_attrs_add(b, specs[i].name, v, NULL);
        }
        fl_value *set = fl_lang_attrs_end(b);
        if (rc == 0)
            *inputs_out = set;
    }
done:
    for (size_t i = 0; i < n; i++) {
        spec_free(&specs[i]);
        if (res) {
            free(res[i].store_path);
            json_decref(res[i].node);
        }
    }
    free(specs);
    free(res);
    json_decref(lock);
    json_decref(newlock);
    free(lock_path);
    return rc;
}

fl_value *fl_flake_info(fl_lang *L, const char *flake_dir, const fl_flake_tree *tree) {
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(L, 5);
    fl_lang_attrs_add(b, "path", fl_lang_mk_string(L, flake_dir, strlen(flake_dir)), NULL);
    if (tree) {
        const char *rev = fl_flake_tree_rev(tree);
        fl_lang_attrs_add(b, "rev", rev ? fl_lang_mk_string(L, rev, 40) : fl_lang_mk_null(L), NULL);
        fl_lang_attrs_add(b, "shortRev", rev ? fl_lang_mk_string(L, rev, 7) : fl_lang_mk_null(L),
                          NULL);
        fl_lang_attrs_add(b, "dirty", fl_lang_mk_bool(L, fl_flake_tree_dirty(tree)), NULL);
        fl_lang_attrs_add(b, "lastModified", fl_lang_mk_int(L, fl_flake_tree_last_modified(tree)),
                          NULL);
    }
    return fl_lang_attrs_end(b);
}

int fl_flake_inputs_for_eval(fl_lang *L, fl_store *store, const char *flake_dir,
                             int no_write_lock, const char *const *overrides, size_t noverrides,
                             fl_value **inputs_out, fl_error *err) {
    fl_flake_override ov[32];
    size_t nov = 0;
    for (size_t i = 0; i < noverrides && nov < 32; i++) {
        ov[nov].name = overrides[2 * i];
        ov[nov].url = overrides[2 * i + 1];
        nov++;
    }
    fl_flake_inputs_opts o;
    memset(&o, 0, sizeof o);
    o.mode = FL_FLAKE_USE;
    o.no_write_lock = no_write_lock;
    o.overrides = ov;
    o.noverrides = nov;
    return fl_flake_inputs(L, store, flake_dir, &o, inputs_out, err);
}

void fl_flake_warn_dirty(const fl_flake_tree *t, FILE *out) {
    /* check opens one session per host: one warning is enough */
    static atomic_int warned;
    if (!t || !out || !fl_flake_tree_dirty(t) || atomic_exchange(&warned, 1))
        return;
    fprintf(out, "warning: Git tree '%s' is dirty\n", fl_flake_tree_workdir(t));
}
