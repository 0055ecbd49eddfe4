/* host.c - evaluating one host of a flake: extracts the embedded Nix files, calls
 * nix/host.nix with the flake and the bundled modules, and offers lookups into the result.
 * Owns the C side of the module system's errors (__throwAt); never prints except warnings. */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/module.h"
#include "flakectl/strbuf.h"
#include "module/embedded.h"
#include "module/evalmodules.h"
#include "module/internal.h"

static char *cache_root(void) {
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg == '/')
        return fl_path_join(xdg, "flakectl");
    if (home && *home == '/' && access(home, W_OK) == 0)
        return fl_xasprintf("%s/.cache/flakectl", home);
    return fl_xasprintf("/tmp/flakectl-%ld", (long)getuid());
}

/* The bundle's directory name carries a hash of every embedded file, so a new binary never
 * reads an older binary's files and extraction happens once per content. */
static char *bundle_id(void) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (const struct fl_embedded_file *f = fl_embedded_files; f->name; f++) {
        EVP_DigestUpdate(ctx, f->name, strlen(f->name) + 1);
        EVP_DigestUpdate(ctx, f->data, f->len);
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    fl_strbuf sb;
    fl_strbuf_init(&sb, 40);
    fl_strbuf_adds(&sb, "modules-");
    for (unsigned i = 0; i < 10; i++)
        fl_strbuf_addf(&sb, "%02x", md[i]);
    return fl_strbuf_detach(&sb, NULL);
}

char *fl_module_bundle_dir(fl_error *err) {
    char *root = cache_root();
    char *id = bundle_id();
    char *final = fl_path_join(root, id);
    char *tmp = NULL;
    free(id);
    if (fl_is_dir(final))
        goto done;
    if (fl_mkdir_p(root, 0755, err) < 0)
        goto fail;
    tmp = fl_make_temp_dir(root, ".extract-", err);
    if (!tmp)
        goto fail;
    chmod(tmp, 0755);
    for (const struct fl_embedded_file *f = fl_embedded_files; f->name; f++) {
        char *path = fl_path_join(tmp, f->name);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        int rc = fl_mkdir_p(path, 0755, err);
        *slash = '/';
        if (rc == 0)
            rc = fl_atomic_write_file(path, f->data, f->len, 0444, err);
        free(path);
        if (rc < 0)
            goto fail;
    }
    if (fl_atomic_rename(tmp, final, err) < 0) {
        /* Another flakectl extracted the same bundle first: theirs is identical. */
        if (!fl_is_dir(final))
            goto fail;
        fl_error_clear(err);
        fl_remove_tree(tmp, NULL);
    }
done:
    free(tmp);
    free(root);
    return final;
fail:
    if (tmp)
        fl_remove_tree(tmp, NULL);
    fl_error_add_frame(err, "while unpacking the bundled modules into %s", root);
    free(tmp);
    free(root);
    free(final);
    return NULL;
}

/* builtins.__throwAt pos msg: an error located at a user's definition instead of at the
 * throw inside the bundled module system. */
static int prim_throw_at(fl_lang *L, void *ud, fl_value **args, fl_value **result, fl_error *err) {
    (void)ud;
    (void)result;
    int rc = fl_lang_force(L, args[1], err);
    if (rc < 0)
        return rc;
    if (fl_lang_type(args[1]) != FL_LANG_STRING)
        return fl_error_set(err, FL_EEVAL, "__throwAt: the message must be a string");
    fl_error_set(err, FL_EEVAL, "%s", fl_lang_get_string(args[1], NULL));
    if (fl_lang_force(L, args[0], NULL) == 0 && fl_lang_type(args[0]) == FL_LANG_ATTRS) {
        fl_value *file = NULL, *line = NULL, *col = NULL;
        if (fl_lang_attrs_get(L, args[0], "file", &file, NULL) == 0 &&
            fl_lang_attrs_get(L, args[0], "line", &line, NULL) == 0 &&
            fl_lang_attrs_get(L, args[0], "column", &col, NULL) == 0 &&
            fl_lang_force(L, file, NULL) == 0 && fl_lang_force(L, line, NULL) == 0 &&
            fl_lang_force(L, col, NULL) == 0 && fl_lang_type(line) == FL_LANG_INT &&
            fl_lang_type(col) == FL_LANG_INT &&
            (fl_lang_type(file) == FL_LANG_STRING || fl_lang_type(file) == FL_LANG_PATH))
            fl_error_set_loc(err, fl_lang_get_string(file, NULL), (int)fl_lang_get_int(line),
                             (int)fl_lang_get_int(col));
    }
    return FL_EEVAL;
}

void fl_module_prepare(fl_lang *L) {
    fl_lang_add_builtin(L, "__throwAt", fl_lang_mk_primop(L, "__throwAt", 2, prim_throw_at, NULL),
                        0);
    fl_module_register_native(L);
}

static int get_attr(fl_lang *L, fl_value *set, const char *name, fl_value **out, fl_error *err) {
    int rc = fl_lang_force(L, set, err);
    if (rc < 0)
        return rc;
    if (fl_lang_type(set) != FL_LANG_ATTRS || fl_lang_attrs_get(L, set, name, out, NULL) != 0)
        return fl_error_set(err, FL_EEVAL, "internal: host evaluation has no '%s'", name);
    return fl_lang_force(L, *out, err);
}

fl_value *fl_module_bundled_list(fl_lang *L, const char *bundle) {
    size_t nbundled = 0;
    for (const struct fl_embedded_file *f = fl_embedded_files; f->name; f++)
        if (!strncmp(f->name, "bundled/", 8))
            nbundled++;
    fl_value **mods = fl_xcalloc(nbundled ? nbundled : 1, sizeof *mods);
    size_t i = 0;
    for (const struct fl_embedded_file *f = fl_embedded_files; f->name; f++) {
        if (strncmp(f->name, "bundled/", 8))
            continue;
        char *p = fl_path_join(bundle, f->name);
        mods[i++] = fl_lang_mk_path(L, p);
        free(p);
    }
    fl_value *list = fl_lang_mk_list(L, nbundled, mods);
    free(mods);
    return list;
}

/* Calls nix/host.nix for `name`; nothing is forced beyond the result set itself. */
static int call_host_nix(fl_lang *L, const char *flake_dir, const char *name,
                         const fl_host_flake_args *fa, fl_value **out, fl_error *err) {
    char *bundle = fl_module_bundle_dir(err);
    if (!bundle)
        return err->code ? err->code : FL_EIO;
    char *host_nix = fl_path_join(bundle, "nix/host.nix");
    fl_value *fn = NULL;
    int rc = fl_lang_eval_file(L, host_nix, &fn, err);
    free(host_nix);
    if (rc < 0) {
        free(bundle);
        return rc;
    }
    fl_value *info = fa ? fa->info : NULL;
    if (!info) {
        fl_lang_attrs_builder *ib = fl_lang_attrs_begin(L, 1);
        fl_lang_attrs_add(ib, "path", fl_lang_mk_string(L, flake_dir, strlen(flake_dir)), NULL);
        info = fl_lang_attrs_end(ib);
    }
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(L, 7);
    fl_lang_attrs_add(b, "flakeDir", fl_lang_mk_path(L, flake_dir), NULL);
    fl_lang_attrs_add(b, "hostName", fl_lang_mk_string(L, name, strlen(name)), NULL);
    fl_lang_attrs_add(b, "bundledModules", fl_module_bundled_list(L, bundle), NULL);
    fl_lang_attrs_add(b, "flakeInfo", info, NULL);
    if (fa && fa->inputs)
        fl_lang_attrs_add(b, "inputs", fa->inputs, NULL);
    if (fa && fa->outputs)
        fl_lang_attrs_add(b, "flakeOutputs", fa->outputs, NULL);
    /* The toplevel is laid out by this very binary (flakectl link-farm). */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        fl_lang_attrs_add(b, "flakectl", fl_lang_mk_string(L, self, (size_t)n), NULL);
    }
    fl_value *args = fl_lang_attrs_end(b);
    free(bundle);
    return fl_lang_call(L, fn, args, out, err);
}

static int names_of(fl_lang *L, fl_value *list, char ***names, size_t *n, fl_error *err) {
    int rc = fl_lang_force(L, list, err);
    if (rc < 0)
        return rc;
    size_t count = fl_lang_list_size(list);
    char **out = fl_xcalloc(count ? count : 1, sizeof *out);
    for (size_t i = 0; i < count; i++) {
        fl_value *v = fl_lang_list_at(list, i);
        rc = fl_lang_force(L, v, err);
        if (rc < 0) {
            fl_module_free_names(out, i);
            return rc;
        }
        out[i] = fl_xstrdup(fl_lang_get_string(v, NULL));
    }
    *names = out;
    *n = count;
    return FL_OK;
}

void fl_module_free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int fl_module_host_names(fl_lang *L, const char *flake_dir, char ***names, size_t *n,
                         fl_error *err) {
    return fl_module_host_names_args(L, flake_dir, NULL, names, n, err);
}

int fl_module_host_names_args(fl_lang *L, const char *flake_dir, const fl_host_flake_args *fa,
                              char ***names, size_t *n, fl_error *err) {
    fl_value *res = NULL, *list = NULL;
    int rc = call_host_nix(L, flake_dir, "", fa, &res, err);
    if (rc == 0)
        rc = get_attr(L, res, "hostNames", &list, err);
    if (rc == 0)
        rc = names_of(L, list, names, n, err);
    if (rc < 0)
        fl_error_add_frame(err, "while reading the hosts of the flake in %s", flake_dir);
    return rc;
}

int fl_host_open(fl_lang *L, const char *flake_dir, const char *name, fl_host *host,
                 fl_error *err) {
    return fl_host_open_args(L, flake_dir, name, NULL, host, err);
}

int fl_host_open_args(fl_lang *L, const char *flake_dir, const char *name,
                      const fl_host_flake_args *fa, fl_host *host, fl_error *err) {
    fl_value *res = NULL, *list = NULL;
    char **names = NULL;
    size_t n = 0;
    memset(host, 0, sizeof *host);
    int rc = call_host_nix(L, flake_dir, name, fa, &res, err);
    if (rc == 0)
        rc = get_attr(L, res, "hostNames", &list, err);
    if (rc == 0)
        rc = names_of(L, list, &names, &n, err);
    if (rc < 0) {
        fl_error_add_frame(err, "while reading the hosts of the flake in %s", flake_dir);
        return rc;
    }
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found |= !strcmp(names[i], name);
    if (!found) {
        fl_strbuf sb;
        fl_strbuf_init(&sb, 0);
        for (size_t i = 0; i < n; i++)
            fl_strbuf_addf(&sb, "%s%s", i ? ", " : "", names[i]);
        const char *best = NULL;
        size_t bestd = (size_t)-1;
        for (size_t i = 0; i < n; i++) {
            size_t d = fl_edit_distance(name, names[i]);
            if (d < bestd) {
                bestd = d;
                best = names[i];
            }
        }
        fl_error_set(err, FL_ENOTFOUND, "the flake in %s has no host '%s'", flake_dir, name);
        if (best && bestd <= strlen(name) / 3 + 1)
            fl_error_set_hint(err, "did you mean '%s'? (hosts: %s)", best, sb.buf);
        else
            fl_error_set_hint(err, "pass --host with one of: %s", n ? sb.buf : "(none defined)");
        fl_strbuf_release(&sb);
        fl_module_free_names(names, n);
        return FL_ENOTFOUND;
    }
    fl_module_free_names(names, n);
    host->L = L;
    host->flake_dir = fl_xstrdup(flake_dir);
    host->name = fl_xstrdup(name);
    host->result = res;
    return FL_OK;
}

fl_value *fl_host_flake_outputs(fl_host *host) {
    fl_value *v = NULL;
    fl_error e = FL_ERROR_INIT;
    if (get_attr(host->L, host->result, "outputs", &v, &e) < 0)
        v = NULL;
    fl_error_clear(&e);
    return v;
}

void fl_host_release(fl_host *host) {
    free(host->flake_dir);
    free(host->name);
    memset(host, 0, sizeof *host);
}

int fl_host_config(fl_host *host, fl_value **config, fl_error *err) {
    int rc = get_attr(host->L, host->result, "config", config, err);
    if (rc < 0)
        fl_error_add_frame(err, "while evaluating the configuration of host '%s'", host->name);
    return rc;
}

size_t fl_module_split_dotted(const char *s, char ***out) {
    size_t n = 0;
    char **segs = NULL;
    fl_strbuf cur;
    fl_strbuf_init(&cur, 0);
    int quoted = 0;
    for (const char *p = s;; p++) {
        if (*p == '"') {
            quoted = !quoted;
            continue;
        }
        if ((*p == '.' && !quoted) || *p == '\0') {
            segs = fl_xrealloc(segs, sizeof *segs * (n + 1));
            segs[n++] = fl_strbuf_detach(&cur, NULL);
            if (*p == '\0')
                break;
            continue;
        }
        fl_strbuf_addch(&cur, *p);
    }
    fl_strbuf_release(&cur);
    *out = segs;
    return n;
}

fl_value *fl_module_path_value(fl_lang *L, const char *dotted) {
    char **segs;
    size_t n = fl_module_split_dotted(dotted, &segs);
    fl_value **e = fl_lang_alloc(L, (n ? n : 1) * sizeof *e);
    for (size_t i = 0; i < n; i++) {
        e[i] = fl_lang_mk_string(L, segs[i], strlen(segs[i]));
        free(segs[i]);
    }
    free(segs);
    return fl_lang_mk_list(L, n, e);
}

int fl_host_select(fl_host *host, fl_value *v, const char *dotted, fl_value **out, fl_error *err) {
    fl_lang *L = host->L;
    char **segs;
    size_t n = fl_module_split_dotted(dotted, &segs);
    int rc = FL_OK;
    fl_strbuf done;
    fl_strbuf_init(&done, 0);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = fl_lang_force(L, v, err);
        if (rc < 0)
            break;
        if (fl_lang_type(v) != FL_LANG_ATTRS) {
            rc = fl_error_set(err, FL_ENOTFOUND, "'%s' is %s, so it has no attribute '%s'",
                              done.len ? done.buf : "the configuration", fl_lang_type_name(v),
                              segs[i]);
            break;
        }
        fl_value *next = NULL;
        if (fl_lang_attrs_get(L, v, segs[i], &next, NULL) != 0) {
            const char *best = NULL;
            size_t bestd = (size_t)-1;
            for (size_t k = 0; k < fl_lang_attrs_size(v); k++) {
                const char *name;
                fl_lang_attrs_at(L, v, k, &name, NULL, NULL);
                size_t d = fl_edit_distance(segs[i], name);
                if (d < bestd) {
                    bestd = d;
                    best = name;
                }
            }
            rc = fl_error_set(err, FL_ENOTFOUND, "host '%s' has no option '%s%s%s'", host->name,
                              done.buf, done.len ? "." : "", segs[i]);
            if (best && bestd <= (strlen(segs[i]) < 5 ? 1u : 3u))
                fl_error_set_hint(err, "did you mean '%s%s%s'?", done.buf, done.len ? "." : "",
                                  best);
            break;
        }
        fl_strbuf_addf(&done, "%s%s", done.len ? "." : "", segs[i]);
        v = next;
    }
    for (size_t i = 0; i < n; i++)
        free(segs[i]);
    free(segs);
    fl_strbuf_release(&done);
    if (rc == 0)
        *out = v;
    return rc;
}

/* The attribute names of the configuration's value at dotted, when it is an attribute set;
 * none when it is not or cannot be evaluated (completion offers nothing rather than fail). */
static void defined_names(fl_host *host, const char *dotted, char ***names, size_t *n) {
    fl_lang *L = host->L;
    fl_error e = FL_ERROR_INIT;
    fl_value *config = NULL, *v = NULL;
    if (fl_host_config(host, &config, &e) == 0 && fl_host_select(host, config, dotted, &v, &e) == 0 &&
        fl_lang_force(L, v, &e) == 0 && fl_lang_type(v) == FL_LANG_ATTRS) {
        size_t k = fl_lang_attrs_size(v);
        *names = fl_xcalloc(k + 1, sizeof **names);
        for (size_t i = 0; i < k; i++) {
            const char *name;
            fl_lang_attrs_at(L, v, i, &name, NULL, NULL);
            (*names)[(*n)++] = fl_xstrdup(name);
        }
    }
    fl_error_clear(&e);
}

int fl_host_option_children(fl_host *host, const char *dotted, char ***names, size_t *n,
                            fl_error *err) {
    fl_lang *L = host->L;
    char **segs = NULL;
    size_t nsegs = *dotted ? fl_module_split_dotted(dotted, &segs) : 0;
    fl_value **elems = fl_xcalloc(nsegs + 1, sizeof *elems);
    for (size_t i = 0; i < nsegs; i++)
        elems[i] = fl_lang_mk_string(L, segs[i], strlen(segs[i]));
    fl_value *describe = NULL, *info = NULL, *found = NULL, *missing = NULL, *children = NULL;
    *names = NULL;
    *n = 0;
    int rc = get_attr(L, host->result, "describe", &describe, err);
    if (rc == 0)
        rc = fl_lang_call(L, describe, fl_lang_mk_list(L, nsegs, elems), &info, err);
    if (rc == 0)
        rc = fl_lang_force(L, info, err);
    if (rc == 0)
        rc = get_attr(L, info, "found", &found, err);
    /* an option's children are the names its value defines, when that is an attribute set
     * (users.users, environment.etc, any attrsOf): below them the submodule's options
     * follow; a missing name below the path has none */
    if (rc == 0 && fl_lang_get_bool(found))
        defined_names(host, dotted, names, n);
    if (rc == 0 && !fl_lang_get_bool(found) &&
        (rc = get_attr(L, info, "missing", &missing, err)) == 0 &&
        fl_lang_type(missing) == FL_LANG_NULL &&
        (rc = get_attr(L, info, "children", &children, err)) == 0) {
        size_t k = fl_lang_list_size(children);
        *names = fl_xcalloc(k + 1, sizeof **names);
        for (size_t i = 0; i < k && rc == 0; i++) {
            fl_value *c = fl_lang_list_at(children, i);
            if ((rc = fl_lang_force(L, c, err)) == 0)
                (*names)[(*n)++] = fl_xstrdup(fl_lang_get_string(c, NULL));
        }
    }
    for (size_t i = 0; i < nsegs; i++)
        free(segs[i]);
    free(segs);
    free(elems);
    if (rc < 0) {
        fl_module_free_names(*names, *n);
        *names = NULL;
        *n = 0;
    }
    return rc;
}

int fl_host_print_warnings(fl_host *host, FILE *out, fl_error *err) {
    fl_value *list = NULL;
    int rc = get_attr(host->L, host->result, "warnings", &list, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < fl_lang_list_size(list); i++) {
        fl_value *w = fl_lang_list_at(list, i);
        rc = fl_lang_force(host->L, w, err);
        if (rc < 0)
            return rc;
        if (fl_lang_type(w) == FL_LANG_STRING && out)
            fprintf(out, "warning: %s: %s\n", host->name, fl_lang_get_string(w, NULL));
    }
    return FL_OK;
}

int fl_host_toplevel(fl_host *host, char **path, fl_error *err) {
    fl_value *top = NULL, *out = NULL;
    int rc = get_attr(host->L, host->result, "toplevel", &top, err);
    if (rc == 0)
        rc = get_attr(host->L, top, "outPath", &out, err);
    if (rc == 0 && fl_lang_type(out) != FL_LANG_STRING)
        rc = fl_error_set(err, FL_EEVAL, "internal: the toplevel's outPath is not a string");
    if (rc < 0) {
        fl_error_add_frame(err, "while building host '%s'", host->name);
        return rc;
    }
    *path = fl_xstrdup(fl_lang_get_string(out, NULL));
    return FL_OK;
}
