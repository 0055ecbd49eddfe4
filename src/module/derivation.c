/* derivation.c - connects the evaluator to the store for host builds: path coercion and
 * toFile copy into the store, and `derivation` builds through fl_store_build (or, in plan
 * mode for --build-host, is recorded into a fl_build_plan without building). Builds happen
 * when a derivation's outPath is first needed. A build's inputs are its attributes' string
 * contexts (fl_lang_string_context), as Nix takes them, never store paths found in the text;
 * the outPaths made here carry themselves as context. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "flakectl/lang.h"
#include "flakectl/module.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

/* In plan mode (plan != NULL) a path inside an output that is only planned cannot be read:
 * nothing is built here. */
static int path_to_store(fl_store *s, fl_build_plan *plan, const char *path, fl_strbuf *out,
                         fl_error *err) {
    const char *dir = fl_store_dir(s);
    size_t dlen = strlen(dir);
    if (plan && !strncmp(path, dir, dlen) && path[dlen] == '/') {
        const char *slash = strchr(path + dlen + 1, '/');
        char *sp = slash ? fl_xstrndup(path, (size_t)(slash - path)) : fl_xstrdup(path);
        int planned = fl_build_plan_has(plan, sp);
        free(sp);
        if (planned) {
            /* in the message, not a hint: the evaluator's wrapping keeps only the message */
            return fl_error_set(err, FL_EEVAL,
                                "the evaluation reads %s, an output that is not built yet: "
                                "with --build-host nothing is built on this machine, and "
                                "reading build outputs during evaluation (import from "
                                "derivation) needs a local build (deploy without --build-host)",
                                path);
        }
    }
    char *p = NULL;
    int rc = fl_store_add_path(s, path, NULL, 0, &p, err);
    if (rc < 0)
        return rc;
    fl_strbuf_adds(out, p);
    free(p);
    return FL_OK;
}

static int hook_path_to_store(void *ctx, const char *path, fl_strbuf *out, fl_error *err) {
    return path_to_store(ctx, NULL, path, out, err);
}

static int hook_plan_path_to_store(void *ctx, const char *path, fl_strbuf *out, fl_error *err) {
    return path_to_store(fl_build_plan_store(ctx), ctx, path, out, err);
}

/* The store paths a text or a build depends on, deduplicated: of the entries of its strings'
 * contexts, those that are store paths of s and valid (in plan mode also the planned outputs,
 * which a local build would have made valid by now). Anything else in a context (the
 * /nix/store paths the evaluator computes without a store, for builtins.derivationStrict and
 * the fetchers) is nothing this store could build with, as the text scan it replaces found. */
typedef struct refset {
    char **paths;
    size_t n;
} refset;

static void refs_add(fl_store *s, fl_build_plan *plan, refset *r, const char *path) {
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->paths[i], path))
            return;
    if (!fl_store_is_store_path(s, path) ||
        !(fl_store_is_valid(s, path) || (plan && fl_build_plan_has(plan, path))))
        return;
    r->paths = fl_xrealloc(r->paths, sizeof *r->paths * (r->n + 1));
    r->paths[r->n++] = fl_xstrdup(path);
}

static void refs_add_context(fl_lang *L, fl_store *s, fl_build_plan *plan, refset *r,
                             const fl_value *str) {
    const fl_lang_ctx_entry *ctx;
    size_t n = fl_lang_string_context(L, str, &ctx);
    for (size_t i = 0; i < n; i++)
        refs_add(s, plan, r, ctx[i].path);
}

static void refs_release(refset *r) {
    fl_store_free_paths(r->paths, r->n);
    memset(r, 0, sizeof *r);
}

/* A text into the store with the references refs. In plan mode a text that mentions a
 * planned output cannot be written here (its reference is not valid): it is planned too. */
static int add_text(fl_store *s, fl_build_plan *plan, const char *name, const char *data,
                    size_t len, const refset *refs, char **path, fl_error *err) {
    int planned = 0;
    for (size_t i = 0; plan && i < refs->n && !planned; i++)
        planned = fl_build_plan_has(plan, refs->paths[i]);
    return planned ? fl_build_plan_add_text(plan, name, data, len, refs->paths, refs->n, path, err)
                   : fl_store_add_text(s, name, data, len, refs->paths, refs->n, path, err);
}

static int to_file(fl_store *s, fl_build_plan *plan, const char *name, const char *data, size_t len,
                   const char *const *ctx_paths, size_t nctx, fl_strbuf *out, fl_error *err) {
    refset refs = {0};
    for (size_t i = 0; i < nctx; i++)
        refs_add(s, plan, &refs, ctx_paths[i]);
    char *p = NULL;
    int rc = add_text(s, plan, name, data, len, &refs, &p, err);
    refs_release(&refs);
    if (rc < 0)
        return rc;
    fl_strbuf_adds(out, p);
    free(p);
    return FL_OK;
}

static int hook_to_file(void *ctx, const char *name, const char *data, size_t len,
                        const char *const *refs, size_t nrefs, fl_strbuf *out, fl_error *err) {
    return to_file(ctx, NULL, name, data, len, refs, nrefs, out, err);
}

static int hook_plan_to_file(void *ctx, const char *name, const char *data, size_t len,
                             const char *const *refs, size_t nrefs, fl_strbuf *out, fl_error *err) {
    return to_file(fl_build_plan_store(ctx), ctx, name, data, len, refs, nrefs, out, err);
}

/* builtins.fetchurl/fetchTarball: the store's own downloader, and the fetched content into
 * the store, as nix-instantiate puts it into /nix/store. A plan adds them here too: they are
 * sources, like the flake's files. */
static int hook_download(void *ctx, const char *url, int fd, fl_error *err) {
    (void)ctx;
    return fl_fetch_url_to_fd(url, fd, NULL, NULL, err);
}

static int hook_add_fixed(void *ctx, const char *path, int recursive, const char *name,
                          fl_strbuf *out, fl_error *err) {
    char *p = NULL;
    int rc = fl_store_add_fixed(ctx, path, recursive, name, &p, err);
    if (rc == 0)
        fl_strbuf_adds(out, p);
    free(p);
    return rc;
}

static int hook_plan_add_fixed(void *ctx, const char *path, int recursive, const char *name,
                               fl_strbuf *out, fl_error *err) {
    return hook_add_fixed(fl_build_plan_store(ctx), path, recursive, name, out, err);
}

/* Import from derivation: the evaluation reads a derivation's output, so it is built here
 * (fl_store_build substitutes it first when a cache has it). */
static int hook_realise(void *ctx, const fl_store_drv *drv, fl_strbuf *out, fl_error *err) {
    char *p = NULL;
    int rc = fl_store_build(ctx, drv, &p, err);
    if (rc == 0)
        fl_strbuf_adds(out, p);
    free(p);
    return rc;
}

static int hook_plan_realise(void *ctx, const fl_store_drv *drv, fl_strbuf *out, fl_error *err) {
    return hook_realise(fl_build_plan_store(ctx), drv, out, err);
}

void fl_module_store_hooks(fl_lang_config *cfg, fl_store *store) {
    cfg->hooks.ctx = store;
    cfg->hooks.path_to_store = hook_path_to_store;
    cfg->hooks.to_file = hook_to_file;
    cfg->hooks.download = hook_download;
    cfg->hooks.add_fixed = hook_add_fixed;
    cfg->hooks.realise = hook_realise;
}

static int lazy_open(fl_fetch_store *fs, const char *what, fl_error *err) {
    if (!fs->store && fl_store_open(fs->state_dir, &fs->store, err) < 0) {
        fl_error_add_frame(err, "while opening the store in %s for %s (set --state-dir to move it)",
                           fs->state_dir, what);
        return err->code ? err->code : FL_EIO;
    }
    return FL_OK;
}

static int hook_lazy_add_fixed(void *ctx, const char *path, int recursive, const char *name,
                               fl_strbuf *out, fl_error *err) {
    fl_fetch_store *fs = ctx;
    int rc = lazy_open(fs, "a fetched path", err);
    return rc < 0 ? rc : hook_add_fixed(fs->store, path, recursive, name, out, err);
}

static int hook_lazy_realise(void *ctx, const fl_store_drv *drv, fl_strbuf *out, fl_error *err) {
    fl_fetch_store *fs = ctx;
    int rc = lazy_open(fs, "a derivation the evaluation reads", err);
    return rc < 0 ? rc : hook_realise(fs->store, drv, out, err);
}

void fl_module_fetch_hooks(fl_lang_config *cfg, fl_fetch_store *fs) {
    cfg->hooks.ctx = fs;
    cfg->hooks.download = hook_download;
    cfg->hooks.add_fixed = hook_lazy_add_fixed;
    cfg->hooks.realise = hook_lazy_realise;
}

void fl_module_fetch_store_close(fl_fetch_store *fs) {
    if (fs->store)
        fl_store_close(fs->store);
    fs->store = NULL;
}

void fl_module_plan_hooks(fl_lang_config *cfg, fl_build_plan *plan) {
    cfg->hooks.ctx = plan;
    cfg->hooks.path_to_store = hook_plan_path_to_store;
    cfg->hooks.to_file = hook_plan_to_file;
    cfg->hooks.download = hook_download;
    cfg->hooks.add_fixed = hook_plan_add_fixed;
    cfg->hooks.realise = hook_plan_realise;
}

/* Coerces a derivation attribute to its environment string, as Nix does: strings as they
 * are, paths copied into the store, numbers in decimal, true as "1", false and null as "",
 * lists space-separated, derivations (sets with outPath) as their outPath. What the string
 * refers to (its context, the paths copied) goes into refs. */
static int coerce(fl_lang *L, fl_store *s, fl_build_plan *plan, fl_value *v, fl_strbuf *out,
                  refset *refs, int depth, fl_error *err) {
    int rc = fl_lang_force(L, v, err);
    if (rc < 0)
        return rc;
    switch (fl_lang_type(v)) {
    case FL_LANG_STRING:
        fl_strbuf_adds(out, fl_lang_get_string(v, NULL));
        refs_add_context(L, s, plan, refs, v);
        return FL_OK;
    case FL_LANG_PATH: {
        size_t at = out->len;
        if ((rc = path_to_store(s, plan, fl_lang_get_string(v, NULL), out, err)) < 0)
            return rc;
        refs_add(s, plan, refs, out->buf + at);
        return FL_OK;
    }
    case FL_LANG_INT:
        fl_strbuf_addf(out, "%lld", (long long)fl_lang_get_int(v));
        return FL_OK;
    case FL_LANG_BOOL:
        if (fl_lang_get_bool(v))
            fl_strbuf_addch(out, '1');
        return FL_OK;
    case FL_LANG_NULL:
        return FL_OK;
    case FL_LANG_LIST:
        if (depth > 0)
            break;
        for (size_t i = 0; i < fl_lang_list_size(v); i++) {
            if (i)
                fl_strbuf_addch(out, ' ');
            if ((rc = coerce(L, s, plan, fl_lang_list_at(v, i), out, refs, depth + 1, err)) < 0)
                return rc;
        }
        return FL_OK;
    case FL_LANG_ATTRS: {
        fl_value *o = NULL;
        if (fl_lang_attrs_get(L, v, "outPath", &o, NULL) == 0)
            return coerce(L, s, plan, o, out, refs, depth, err);
        break;
    }
    default:
        break;
    }
    return fl_error_set(err, FL_EEVAL, "cannot pass %s to a derivation's environment",
                        fl_lang_type_name(v));
}

struct strlist {
    char **items;
    size_t n;
};

static void strlist_push(struct strlist *l, char *s) {
    l->items = fl_xrealloc(l->items, sizeof *l->items * (l->n + 1));
    l->items[l->n++] = s;
}

static void strlist_free(struct strlist *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
}

static int is_in(fl_lang *L, fl_value *list, const char *name) {
    if (!list || fl_lang_force(L, list, NULL) < 0 || fl_lang_type(list) != FL_LANG_LIST)
        return 0;
    for (size_t i = 0; i < fl_lang_list_size(list); i++) {
        fl_value *e = fl_lang_list_at(list, i);
        if (fl_lang_force(L, e, NULL) == 0 && fl_lang_type(e) == FL_LANG_STRING &&
            !strcmp(fl_lang_get_string(e, NULL), name))
            return 1;
    }
    return 0;
}

/* builtins.__flakectlBuild attrs: builds the derivation (plan mode: records it), returns its
 * output path. */
static int build_attrs(fl_lang *L, fl_store *s, fl_build_plan *plan, fl_value **args,
                       fl_value **result, fl_error *err) {
    fl_value *attrs = args[0];
    int rc = fl_lang_force(L, attrs, err);
    if (rc < 0)
        return rc;
    if (fl_lang_type(attrs) != FL_LANG_ATTRS)
        return fl_error_set(err, FL_EEVAL, "derivation takes a set, not %s",
                            fl_lang_type_name(attrs));
    fl_value *pass_as_file = NULL;
    fl_lang_attrs_get(L, attrs, "passAsFile", &pass_as_file, NULL);
    struct strlist env = {0}, argv = {0};
    refset inputs = {0};
    char *name = NULL, *builder = NULL, *out = NULL;
    fl_strbuf val;
    fl_strbuf_init(&val, 0);
    /* The name first: passAsFile files are named after it, whatever the attribute order. */
    fl_value *name_v = NULL;
    if (fl_lang_attrs_get(L, attrs, "name", &name_v, NULL) == 0) {
        rc = coerce(L, s, plan, name_v, &val, &inputs, 0, err);
        if (rc == 0)
            name = fl_xstrdup(val.buf);
    }
    for (size_t i = 0; i < fl_lang_attrs_size(attrs) && rc == 0; i++) {
        const char *key;
        fl_value *v;
        fl_lang_attrs_at(L, attrs, i, &key, &v, NULL);
        if (!strcmp(key, "passAsFile"))
            continue;
        fl_strbuf_reset(&val);
        if (!strcmp(key, "args")) {
            if ((rc = fl_lang_force(L, v, err)) < 0)
                break;
            if (fl_lang_type(v) != FL_LANG_LIST) {
                rc = fl_error_set(err, FL_EEVAL, "derivation: args must be a list of strings");
                break;
            }
            for (size_t k = 0; k < fl_lang_list_size(v) && rc == 0; k++) {
                fl_strbuf_reset(&val);
                rc = coerce(L, s, plan, fl_lang_list_at(v, k), &val, &inputs, 1, err);
                if (rc == 0)
                    strlist_push(&argv, fl_xstrdup(val.buf));
            }
            continue;
        }
        refset vrefs = {0};
        if ((rc = coerce(L, s, plan, v, &val, &vrefs, 0, err)) < 0) {
            refs_release(&vrefs);
            fl_error_add_frame(err, "while passing attribute '%s' to the derivation", key);
            break;
        }
        if (!strcmp(key, "builder"))
            builder = fl_xstrdup(val.buf);
        if (is_in(L, pass_as_file, key)) {
            /* Big values (profile.json, scripts) go through a store text file instead of
             * the environment, which the kernel limits to 128 KiB per variable. */
            char *p = NULL;
            char *fname = fl_xasprintf("%s-%s", name ? name : "drv", key);
            /* the value's references become the file's; the build depends on the file */
            rc = add_text(s, plan, fname, val.buf, val.len, &vrefs, &p, err);
            free(fname);
            refs_release(&vrefs);
            if (rc < 0)
                break;
            strlist_push(&env, fl_xasprintf("%sPath=%s", key, p));
            refs_add(s, plan, &inputs, p);
            free(p);
            continue;
        }
        for (size_t k = 0; k < vrefs.n; k++)
            refs_add(s, plan, &inputs, vrefs.paths[k]);
        refs_release(&vrefs);
        strlist_push(&env, fl_xasprintf("%s=%s", key, val.buf));
    }
    if (rc == 0 && (!name || !builder))
        rc = fl_error_set(err, FL_EEVAL, "derivation: the required attribute '%s' is missing",
                          name ? "builder" : "name");
    if (rc == 0) {
        fl_store_drv drv = {
            .name = name,
            .builder = builder,
            .args = (const char *const *)argv.items,
            .nargs = argv.n,
            .env = (const char *const *)env.items,
            .nenv = env.n,
            .inputs = (const char *const *)inputs.paths,
            .ninputs = inputs.n,
        };
        rc = plan ? fl_build_plan_add_drv(plan, &drv, &out, err)
                  : fl_store_build(s, &drv, &out, err);
        if (rc < 0)
            fl_error_add_frame(
                err, plan ? "while planning the build of '%s'" : "while building '%s'", name);
    }
    if (rc == 0) {
        /* the output refers to itself: whatever is made of it depends on this build */
        fl_lang_ctx_entry self = {FL_LANG_CTX_PATH, out, NULL};
        *result = fl_lang_mk_string_ctx(L, out, strlen(out), &self, 1);
    }
    free(out);
    free(name);
    free(builder);
    fl_strbuf_release(&val);
    strlist_free(&env);
    strlist_free(&argv);
    refs_release(&inputs);
    return rc;
}

static int prim_build(fl_lang *L, void *ud, fl_value **args, fl_value **result, fl_error *err) {
    return build_attrs(L, ud, NULL, args, result, err);
}

static int prim_build_plan(fl_lang *L, void *ud, fl_value **args, fl_value **result,
                           fl_error *err) {
    return build_attrs(L, fl_build_plan_store(ud), ud, args, result, err);
}

#define WRAPPER_NAME "«flakectl derivation»"

static const char derivation_src[] =
    "attrs: let\n"
    "  drv = attrs // {\n"
    "    type = \"derivation\";\n"
    "    outPath = builtins.__flakectlAt (builtins.unsafeGetAttrPos \"name\" attrs) null\n"
    "      (builtins.__flakectlBuild attrs);\n"
    "    outputName = \"out\";\n"
    "    drvAttrs = attrs;\n"
    "    out = drv;\n"
    "    all = [ drv ];\n"
    "  };\n"
    "in drv\n";

/* builtins.__flakectlAt POS OWN v: v, forced. An error raised while forcing it that is
 * located nowhere, in the derivation wrapper (derivation_src), or in the file OWN (a string, or null)
 * is located at POS instead (an unsafeGetAttrPos answer; null changes nothing). The wrapper
 * passes the position of the derivation's `name`, so a build that fails points at the
 * user's derivation; pkgs.fetchurl passes its caller's `url` and its own file, so a download
 * that fails points at the user's fetchurl call rather than at library code. */
static int prim_at(fl_lang *L, void *ud, fl_value **args, fl_value **result, fl_error *err) {
    (void)ud;
    int rc = fl_lang_force(L, args[2], err);
    if (rc == 0) {
        *result = args[2];
        return 0;
    }
    fl_error perr = FL_ERROR_INIT;
    int own = 0;
    if (err->file && fl_lang_force(L, args[1], &perr) == 0 &&
        fl_lang_type(args[1]) == FL_LANG_STRING)
        own = !strcmp(err->file, fl_lang_get_string(args[1], NULL));
    if (err->file && strcmp(err->file, WRAPPER_NAME) != 0 && !own) {
        fl_error_clear(&perr);
        return rc;
    }
    fl_value *file = NULL, *line = NULL, *col = NULL;
    if (fl_lang_force(L, args[0], &perr) == 0 && fl_lang_type(args[0]) == FL_LANG_ATTRS &&
        fl_lang_attrs_get(L, args[0], "file", &file, NULL) == 0 &&
        fl_lang_attrs_get(L, args[0], "line", &line, NULL) == 0 &&
        fl_lang_attrs_get(L, args[0], "column", &col, NULL) == 0 &&
        fl_lang_force(L, file, &perr) == 0 && fl_lang_type(file) == FL_LANG_STRING &&
        fl_lang_force(L, line, &perr) == 0 && fl_lang_type(line) == FL_LANG_INT &&
        fl_lang_force(L, col, &perr) == 0 && fl_lang_type(col) == FL_LANG_INT)
        fl_error_set_loc(err, fl_lang_get_string(file, NULL), (int)fl_lang_get_int(line),
                         (int)fl_lang_get_int(col));
    fl_error_clear(&perr);
    return rc;
}

static int attach(fl_lang *L, fl_lang_primop_fn prim, void *ud, fl_error *err) {
    fl_lang_add_builtin(L, "__flakectlBuild",
                        fl_lang_mk_primop(L, "__flakectlBuild", 1, prim, ud), 0);
    fl_lang_add_builtin(L, "__flakectlAt", fl_lang_mk_primop(L, "__flakectlAt", 3, prim_at, NULL),
                        0);
    fl_value *fn = NULL;
    int rc = fl_lang_eval_string(L, derivation_src, WRAPPER_NAME, "/", &fn, err);
    if (rc < 0)
        return rc;
    fl_lang_add_builtin(L, "derivation", fn, 1);
    return FL_OK;
}

int fl_module_attach_builds(fl_lang *L, fl_store *store, fl_error *err) {
    return attach(L, prim_build, store, err);
}

int fl_module_attach_plan(fl_lang *L, fl_build_plan *plan, fl_error *err) {
    return attach(L, prim_build_plan, plan, err);
}
