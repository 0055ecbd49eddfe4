/* evalmodules.c - the module system's engine (DESIGN §3), native: collecting modules
 * (imports, dedup by key), the option-declaration tree, definitions pushed down through
 * mkIf/mkMerge/mkOverride/mkOrder, priorities and ordering, undeclared options with "did you
 * mean", type checks, merging by type (submodules and attrsOf submodules per key) and the
 * lazy `config` fixpoint. Exposed as the builtin __flakectlEvalModules, which nix/modules.nix
 * calls in place of its reference implementation written in the language.
 *
 * Types stay values of the language (lib.types: attrsets with name, check and merge kind); a
 * few common ones are checked here without calling their `check`. Everything allocated lives
 * in the evaluator's arena (fl_lang_alloc) because values handed out reference it; this file
 * never frees, never prints, and every error names the user's definition (file:line:col)
 * exactly as the reference implementation words it. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/lang.h"
#include "flakectl/module.h"
#include "flakectl/strbuf.h"
#include "module/evalmodules.h"

/* ---- small arena helpers ---- */

typedef struct em_ctx em_ctx;

static char *em_strdup(fl_lang *L, const char *s) {
    size_t n = strlen(s);
    char *p = fl_lang_alloc(L, n + 1);
    memcpy(p, s, n);
    return p;
}

/* A path: the option names from the root, shared prefixes never copied back. */
typedef struct em_path {
    const char **seg;
    size_t n;
} em_path;

static em_path path_child(fl_lang *L, em_path p, const char *name) {
    em_path r;
    r.n = p.n + 1;
    r.seg = fl_lang_alloc(L, r.n * sizeof *r.seg);
    if (p.n)
        memcpy(r.seg, p.seg, p.n * sizeof *r.seg);
    r.seg[p.n] = name;
    return r;
}

static int is_ident(const char *s) {
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '\'' || *s == '-'))
            return 0;
    return 1;
}

static void show_path(fl_strbuf *sb, em_path p) {
    for (size_t i = 0; i < p.n; i++) {
        if (i)
            fl_strbuf_addch(sb, '.');
        if (is_ident(p.seg[i]))
            fl_strbuf_adds(sb, p.seg[i]);
        else
            fl_strbuf_addf(sb, "\"%s\"", p.seg[i]);
    }
}

/* ---- definitions ---- */

enum { W_IF, W_OVERRIDE, W_ORDER };

/* mkIf/mkOverride/mkOrder met at a group of options, applied to every option below it;
 * `outer` is the enclosing one (the chain runs innermost first). */
typedef struct em_wrap {
    int kind;
    fl_value *v; /* condition or priority (unforced) */
    const struct em_wrap *outer;
} em_wrap;

typedef struct em_def {
    const char *file;
    fl_lang_pos pos; /* pos.file NULL: none (a whole module's config) */
    fl_value *value;
    const em_wrap *wrap;
    int prio, order; /* after discharge */
    int off;         /* kept under a false mkIf (only when explaining, see keep_off) */
    size_t index;    /* which definition handed in this came from (explaining) */
} em_def;

typedef struct em_defs {
    em_def *d;
    size_t n, cap;
} em_defs;

static void defs_push(fl_lang *L, em_defs *ds, const em_def *d) {
    if (ds->n == ds->cap) {
        size_t cap = ds->cap ? ds->cap * 2 : 4;
        em_def *nd = fl_lang_alloc(L, cap * sizeof *nd);
        if (ds->n)
            memcpy(nd, ds->d, ds->n * sizeof *nd);
        ds->d = nd;
        ds->cap = cap;
    }
    ds->d[ds->n++] = *d;
}

/* ---- the option tree of one evaluation ---- */

typedef struct em_node em_node;
typedef struct em_eval em_eval;

struct em_node {
    int leaf;
    em_path path;
    /* group: children sorted by name (bytewise, as attrNames) */
    size_t nkids;
    const char **names;
    em_node **kids;
    /* leaf: the declaration */
    fl_value *decl;
    const char *file;
    fl_lang_pos pos;
    /* definitions reaching this node, and what was made of them */
    em_defs defs;
    int state; /* group: 0 unprocessed, 1 processing, 2 done */
    fl_value *config_v, *tree_v, *value_v, *options_v;
    em_eval *ev;
};

/* Arguments handed to modules; `name` is set below attrsOf (the key). */
typedef struct em_args {
    fl_value *base;
    const char *name;
} em_args;

typedef struct em_module {
    const char *key, *file;
    fl_value *imports, *options, *config;
    fl_value *nix; /* built on demand for `modules` */
} em_module;

/* A module waiting to be loaded: a value, or an already normalized synthetic module. */
typedef struct em_item {
    fl_value *value;
    const char *parent_file, *key;
    em_module *ready;
} em_item;

struct em_eval {
    em_ctx *c;
    em_args args;
    em_path path;
    const char *root_file;
    em_item *items;
    size_t nitems;
    int state; /* 0 not collected, 1 collecting, 2 done */
    em_module *mods;
    size_t nmods;
    em_node *root;
    fl_value *all_args, *config_v, *options_v, *tree_v, *modules_v;
};

struct em_ctx {
    fl_lang *L;
    fl_value *lib, *import, *apply, *eq, *concat_sep, *mk_if, *mk_override, *mk_order;
    fl_value *attrs_of_anything;
    fl_value *lazy_prim; /* one primop behind every lazy value made here */
    fl_value *prio_default;
    int keep_off; /* discharge keeps definitions under a false mkIf, marked off (`why`) */
};

/* ---- lazy values: fl_lang_mk_app(lazy_prim, <int holding an em_lazy *>) ---- */

typedef struct em_lazy em_lazy;
typedef int (*em_lazy_fn)(em_lazy *z, fl_value **out, fl_error *err);
struct em_lazy {
    em_lazy_fn fn;
    em_ctx *c;
    void *a;
    void *b;
    em_path path;
    em_args args;
    fl_value *type;
    em_def *defs;
    size_t ndefs;
};

static int prim_lazy(fl_lang *L, void *ud, fl_value **args, fl_value **result, fl_error *err) {
    (void)ud;
    (void)L;
    em_lazy *z = (em_lazy *)(intptr_t)fl_lang_get_int(args[0]);
    return z->fn(z, result, err);
}

static em_lazy *lazy_new(em_ctx *c, em_lazy_fn fn) {
    em_lazy *z = fl_lang_alloc(c->L, sizeof *z);
    z->fn = fn;
    z->c = c;
    return z;
}

static fl_value *lazy_value(em_lazy *z) {
    fl_lang *L = z->c->L;
    return fl_lang_mk_app(L, z->c->lazy_prim, fl_lang_mk_int(L, (int64_t)(intptr_t)z));
}

/* ---- value helpers ---- */

static int force(em_ctx *c, fl_value *v, fl_error *err) {
    return fl_lang_force(c->L, v, err);
}

/* The attribute `name` of v forced, or NULL when v is no set or lacks it. */
static int get_forced(em_ctx *c, fl_value *set, const char *name, fl_value **out, fl_error *err) {
    *out = NULL;
    if (fl_lang_type(set) != FL_LANG_ATTRS)
        return 0;
    fl_value *v;
    if (fl_lang_attrs_get(c->L, set, name, &v, NULL) != 0)
        return 0;
    int rc = force(c, v, err);
    if (rc == 0)
        *out = v;
    return rc;
}

/* a_type: what the reference implementation's aType says. */
static const char *a_type(const fl_value *v) {
    switch (fl_lang_type(v)) {
    case FL_LANG_ATTRS:
        return "a set";
    case FL_LANG_INT:
        return "an integer";
    case FL_LANG_FUNCTION:
        return "a function";
    case FL_LANG_LIST:
        return "a list";
    case FL_LANG_NULL:
        return "null";
    case FL_LANG_BOOL:
        return "a bool";
    case FL_LANG_FLOAT:
        return "a float";
    case FL_LANG_STRING:
        return "a string";
    case FL_LANG_PATH:
        return "a path";
    default:
        return "a thunk";
    }
}

static void format_float(fl_strbuf *sb, double f) {
    /* toString of a float prints six decimals, as Nix does */
    fl_strbuf_addf(sb, "%f", f);
}

/* showValue of the reference implementation (v forced). */
static void show_value(em_ctx *c, fl_strbuf *sb, fl_value *v) {
    switch (fl_lang_type(v)) {
    case FL_LANG_STRING:
        fl_strbuf_addf(sb, "\"%s\"", fl_lang_get_string(v, NULL));
        break;
    case FL_LANG_INT:
        fl_strbuf_addf(sb, "%lld", (long long)fl_lang_get_int(v));
        break;
    case FL_LANG_FLOAT:
        format_float(sb, fl_lang_get_float(v));
        break;
    case FL_LANG_BOOL:
        fl_strbuf_adds(sb, fl_lang_get_bool(v) ? "true" : "false");
        break;
    case FL_LANG_NULL:
        fl_strbuf_adds(sb, "null");
        break;
    case FL_LANG_PATH:
        fl_strbuf_adds(sb, fl_lang_get_string(v, NULL));
        break;
    case FL_LANG_LIST:
        fl_strbuf_adds(sb, "a list");
        break;
    case FL_LANG_ATTRS:
        fl_strbuf_adds(sb, fl_lang_attrs_get(c->L, v, "outPath", NULL, NULL) == 0 ? "a package"
                                                                                  : "a set");
        break;
    case FL_LANG_FUNCTION:
        fl_strbuf_adds(sb, "a lambda");
        break;
    default:
        fl_strbuf_adds(sb, "a thunk");
        break;
    }
}

static void show_def(fl_strbuf *sb, const em_def *d) {
    if (d->pos.file)
        fl_strbuf_addf(sb, "%s:%d:%d", d->pos.file, d->pos.line, d->pos.col);
    else
        fl_strbuf_adds(sb, d->file);
}

/* Sets err to the message in sb, located at pos when there is one (throwAt). */
static int throw_at(fl_error *err, const fl_lang_pos *pos, fl_strbuf *sb) {
    fl_error_set(err, FL_EEVAL, "%s", sb->buf ? sb->buf : "");
    if (pos && pos->file)
        fl_error_set_loc(err, pos->file, pos->line, pos->col);
    fl_strbuf_release(sb);
    return FL_EEVAL;
}

/* A snapshot of a set's attributes in name order (iterating while forcing other sets would
 * otherwise re-sort). */
typedef struct em_attr {
    const char *name;
    fl_value *value;
    fl_lang_pos pos;
} em_attr;

static em_attr *attrs_list(em_ctx *c, fl_value *set, size_t *n) {
    size_t k = fl_lang_attrs_size(set);
    em_attr *a = fl_lang_alloc(c->L, (k ? k : 1) * sizeof *a);
    for (size_t i = 0; i < k; i++)
        fl_lang_attrs_at(c->L, set, i, &a[i].name, &a[i].value, &a[i].pos);
    *n = k;
    return a;
}

static fl_value *mk_str(em_ctx *c, const char *s) {
    return fl_lang_mk_string(c->L, s, strlen(s));
}

static fl_value *pos_value(em_ctx *c, const fl_lang_pos *pos) {
    if (!pos->file)
        return fl_lang_mk_null(c->L);
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(c->L, 3);
    fl_lang_attrs_add(b, "column", fl_lang_mk_int(c->L, pos->col), NULL);
    fl_lang_attrs_add(b, "file", mk_str(c, pos->file), NULL);
    fl_lang_attrs_add(b, "line", fl_lang_mk_int(c->L, pos->line), NULL);
    return fl_lang_attrs_end(b);
}

static fl_value *path_value(em_ctx *c, em_path p) {
    fl_value **e = fl_lang_alloc(c->L, (p.n ? p.n : 1) * sizeof *e);
    for (size_t i = 0; i < p.n; i++)
        e[i] = mk_str(c, p.seg[i]);
    return fl_lang_mk_list(c->L, p.n, e);
}

/* The `_type` of a forced value when it is a set with a string `_type`, else NULL. */
static int type_tag(em_ctx *c, fl_value *v, const char **tag, fl_error *err) {
    *tag = NULL;
    if (fl_lang_type(v) != FL_LANG_ATTRS)
        return 0;
    fl_value *t;
    int rc = get_forced(c, v, "_type", &t, err);
    if (rc == 0 && t && fl_lang_type(t) == FL_LANG_STRING)
        *tag = fl_lang_get_string(t, NULL);
    return rc;
}

/* ---- "did you mean" ---- */

/* The closest candidate within the reference implementation's limits (ties: name order). */
static void suggest(fl_strbuf *sb, const char *name, const char **cands, size_t n) {
    size_t len = strlen(name);
    size_t limit = len < 4 ? 1 : len < 8 ? 2 : 3;
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = fl_edit_distance(name, cands[i]);
        if (d <= limit && d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    if (best)
        fl_strbuf_addf(sb, "; did you mean '%s'?", best);
}

/* ---- collecting modules ---- */

static int call2(em_ctx *c, fl_value *f, fl_value *a, fl_value *b, fl_value **out, fl_error *err) {
    fl_value *g;
    int rc = fl_lang_call(c->L, f, a, &g, err);
    if (rc == 0)
        rc = fl_lang_call(c->L, g, b, out, err);
    return rc;
}

static const char *const known_top[] = {"imports", "options", "config",         "_file",
                                        "key",     "meta",    "disabledModules"};

static int is_known_top(const char *n) {
    for (size_t i = 0; i < sizeof known_top / sizeof *known_top; i++)
        if (!strcmp(n, known_top[i]))
            return 1;
    return 0;
}

static int normalize(em_ctx *c, const char *file, const char *key, fl_value *m, em_module *out,
                     fl_error *err) {
    int rc = force(c, m, err);
    if (rc < 0)
        return rc;
    if (fl_lang_type(m) != FL_LANG_ATTRS) {
        fl_strbuf sb;
        fl_strbuf_init(&sb, 0);
        fl_strbuf_addf(&sb,
                       "module %s is %s, but a module must be an attribute set or a function "
                       "returning one",
                       file, a_type(m));
        return throw_at(err, NULL, &sb);
    }
    const char *file2 = file;
    fl_value *f;
    if ((rc = get_forced(c, m, "_file", &f, err)) < 0)
        return rc;
    if (f && (fl_lang_type(f) == FL_LANG_STRING || fl_lang_type(f) == FL_LANG_PATH))
        file2 = em_strdup(c->L, fl_lang_get_string(f, NULL));
    int structured = fl_lang_attrs_get(c->L, m, "config", NULL, NULL) == 0 ||
                     fl_lang_attrs_get(c->L, m, "options", NULL, NULL) == 0;
    size_t n;
    em_attr *as = attrs_list(c, m, &n);
    size_t nextra = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_known_top(as[i].name))
            continue;
        if (structured) {
            fl_strbuf sb;
            fl_strbuf_init(&sb, 0);
            fl_strbuf_addf(&sb,
                           "module %s has both `config'/`options' and the top-level attribute "
                           "`%s'; move `%s' under `config'",
                           file2, as[i].name, as[i].name);
            return throw_at(err, &as[i].pos, &sb);
        }
        nextra++;
    }
    out->key = key;
    out->file = file2;
    fl_lang_attrs_get(c->L, m, "imports", &out->imports, NULL);
    fl_lang_attrs_get(c->L, m, "options", &out->options, NULL);
    if (structured)
        fl_lang_attrs_get(c->L, m, "config", &out->config, NULL);
    else if (nextra == n)
        out->config = m;
    else {
        fl_lang_attrs_builder *b = fl_lang_attrs_begin(c->L, nextra);
        for (size_t i = 0; i < n; i++)
            if (!is_known_top(as[i].name))
                fl_lang_attrs_add(b, as[i].name, as[i].value, NULL);
        out->config = fl_lang_attrs_end(b);
    }
    return 0;
}

static int load_module(em_eval *ev, em_item *it, em_module *out, fl_error *err) {
    em_ctx *c = ev->c;
    fl_value *m = it->value;
    int rc = force(c, m, err);
    if (rc < 0)
        return rc;
    enum fl_lang_type t = fl_lang_type(m);
    if (t == FL_LANG_PATH || t == FL_LANG_STRING) {
        const char *file = em_strdup(c->L, fl_lang_get_string(m, NULL));
        fl_value *imported;
        if ((rc = fl_lang_call(c->L, c->import, m, &imported, err)) < 0)
            return rc;
        if (fl_lang_type(imported) == FL_LANG_FUNCTION &&
            (rc = call2(c, c->apply, ev->all_args, imported, &imported, err)) < 0)
            return rc;
        return normalize(c, file, file, imported, out, err);
    }
    if (t == FL_LANG_FUNCTION) {
        fl_value *r;
        if ((rc = call2(c, c->apply, ev->all_args, m, &r, err)) < 0)
            return rc;
        return normalize(c, it->parent_file, it->key, r, out, err);
    }
    return normalize(c, it->parent_file, it->key, m, out, err);
}

/* A module's key: its file for paths, else the parent's key and the index. */
static int item_key(em_ctx *c, const char *parent_key, size_t i, fl_value *m, const char **key,
                    fl_error *err) {
    int rc = force(c, m, err);
    if (rc < 0)
        return rc;
    if (fl_lang_type(m) == FL_LANG_PATH || fl_lang_type(m) == FL_LANG_STRING)
        *key = em_strdup(c->L, fl_lang_get_string(m, NULL));
    else {
        char *k = fl_xasprintf("%s#%zu", parent_key, i);
        *key = em_strdup(c->L, k);
        free(k);
    }
    return 0;
}

/* Keys already loaded: open addressing over the key strings. */
typedef struct em_keyset {
    const char **slot;
    size_t cap, n;
} em_keyset;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Adds key; returns 0 when it was there already. */
static int keyset_add(em_keyset *ks, const char *key) {
    if (2 * (ks->n + 1) > ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 64;
        const char **ns = fl_xcalloc(cap, sizeof *ns);
        for (size_t i = 0; i < ks->cap; i++)
            if (ks->slot[i]) {
                size_t j = hash_str(ks->slot[i]) & (cap - 1);
                while (ns[j])
                    j = (j + 1) & (cap - 1);
                ns[j] = ks->slot[i];
            }
        free(ks->slot);
        ks->slot = ns;
        ks->cap = cap;
    }
    size_t j = hash_str(key) & (ks->cap - 1);
    while (ks->slot[j]) {
        if (!strcmp(ks->slot[j], key))
            return 0;
        j = (j + 1) & (ks->cap - 1);
    }
    ks->slot[j] = key;
    ks->n++;
    return 1;
}

static int build_decls(em_eval *ev, fl_error *err);

/* Breadth first, like genericClosure: the first module with a key wins. */
static int collect(em_eval *ev, fl_error *err) {
    em_ctx *c = ev->c;
    if (ev->state == 2)
        return 0;
    if (ev->state == 1)
        return fl_error_set(err, FL_EEVAL, "infinite recursion encountered");
    ev->state = 1;
    size_t qcap = ev->nitems + 16, qn = 0, qhead = 0;
    em_item *q = malloc(qcap * sizeof *q);
    for (size_t i = 0; i < ev->nitems; i++)
        q[qn++] = ev->items[i];
    em_keyset ks = {0};
    size_t mcap = 16;
    em_module *mods = fl_lang_alloc(c->L, mcap * sizeof *mods);
    size_t nm = 0;
    int rc = 0;
    while (qhead < qn) {
        em_item it = q[qhead++];
        if (!keyset_add(&ks, it.key))
            continue;
        em_module m;
        memset(&m, 0, sizeof m);
        if (it.ready)
            m = *it.ready;
        else if ((rc = load_module(ev, &it, &m, err)) < 0)
            break;
        if (nm == mcap) {
            em_module *nmods = fl_lang_alloc(c->L, mcap * 2 * sizeof *nmods);
            memcpy(nmods, mods, nm * sizeof *mods);
            mods = nmods;
            mcap *= 2;
        }
        mods[nm++] = m;
        if (!m.imports)
            continue;
        if ((rc = force(c, m.imports, err)) < 0)
            break;
        if (fl_lang_type(m.imports) != FL_LANG_LIST) {
            fl_strbuf sb;
            fl_strbuf_init(&sb, 0);
            fl_strbuf_addf(&sb, "`imports' of module %s is %s, not a list", m.file,
                           a_type(m.imports));
            rc = throw_at(err, NULL, &sb);
            break;
        }
        size_t ni = fl_lang_list_size(m.imports);
        for (size_t i = 0; i < ni; i++) {
            em_item sub = {fl_lang_list_at(m.imports, i), m.file, NULL, NULL};
            if ((rc = item_key(c, it.key, i, sub.value, &sub.key, err)) < 0)
                break;
            if (qn == qcap) {
                qcap *= 2;
                q = fl_xrealloc(q, qcap * sizeof *q);
            }
            q[qn++] = sub;
        }
        if (rc < 0)
            break;
    }
    free(q);
    free(ks.slot);
    if (rc < 0) {
        ev->state = 0;
        return rc;
    }
    ev->mods = mods;
    ev->nmods = nm;
    rc = build_decls(ev, err);
    if (rc < 0) {
        ev->state = 0;
        return rc;
    }
    ev->state = 2;
    return 0;
}

/* ---- option declarations ---- */

typedef struct em_decl {
    const char *file;
    fl_lang_pos pos;
    fl_value *options;
    const char *name; /* while zipping: the attribute it came from */
    size_t seq;
} em_decl;

static int is_option(em_ctx *c, fl_value *v, int *yes, fl_error *err) {
    int rc = force(c, v, err);
    if (rc < 0)
        return rc;
    const char *tag;
    rc = type_tag(c, v, &tag, err);
    *yes = tag && !strcmp(tag, "option");
    return rc;
}

static int decl_cmp(const void *a, const void *b) {
    const em_decl *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    if (r)
        return r;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int merge_decls(em_eval *ev, em_path path, em_decl *ds, size_t n, em_node **out,
                       fl_error *err) {
    em_ctx *c = ev->c;
    em_node *node = fl_lang_alloc(c->L, sizeof *node);
    node->path = path;
    node->ev = ev;
    size_t nleaves = 0, first_leaf = 0, first_group = 0;
    int have_group = 0;
    for (size_t i = 0; i < n; i++) {
        int yes;
        int rc = is_option(c, ds[i].options, &yes, err);
        if (rc < 0)
            return rc;
        if (yes) {
            if (!nleaves++)
                first_leaf = i;
        } else if (!have_group) {
            have_group = 1;
            first_group = i;
        }
    }
    if (nleaves) {
        fl_strbuf sb;
        fl_strbuf_init(&sb, 0);
        if (nleaves > 1) {
            fl_strbuf_adds(&sb, "the option `");
            show_path(&sb, path);
            fl_strbuf_adds(&sb, "' is declared more than once: in ");
            size_t k = 0;
            for (size_t i = 0; i < n; i++) {
                int yes = 0;
                is_option(c, ds[i].options, &yes, NULL);
                if (yes)
                    fl_strbuf_addf(&sb, "%s%s", k++ ? " and " : "", ds[i].file);
            }
            return throw_at(err, &ds[first_leaf].pos, &sb);
        }
        if (have_group) {
            fl_strbuf_adds(&sb, "the option `");
            show_path(&sb, path);
            fl_strbuf_addf(&sb, "' declared in %s is also used as a group of options in %s",
                           ds[first_leaf].file, ds[first_group].file);
            return throw_at(err, NULL, &sb);
        }
        node->leaf = 1;
        node->decl = ds[first_leaf].options;
        node->file = ds[first_leaf].file;
        node->pos = ds[first_leaf].pos;
        *out = node;
        return 0;
    }
    /* zip the groups' attributes by name, keeping declaration order per name */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (fl_lang_type(ds[i].options) != FL_LANG_ATTRS) {
            fl_strbuf sb;
            fl_strbuf_init(&sb, 0);
            fl_strbuf_adds(&sb, "`options.");
            show_path(&sb, path);
            fl_strbuf_addf(&sb,
                           "' in %s must be an attribute set of options (made with "
                           "lib.mkOption), not %s",
                           ds[i].file, a_type(ds[i].options));
            return throw_at(err, &ds[i].pos, &sb);
        }
        total += fl_lang_attrs_size(ds[i].options);
    }
    em_decl *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t na;
        em_attr *as = attrs_list(c, ds[i].options, &na);
        for (size_t j = 0; j < na; j++) {
            all[k] = (em_decl){ds[i].file, as[j].pos, as[j].value, as[j].name, k};
            k++;
        }
    }
    qsort(all, total, sizeof *all, decl_cmp);
    size_t ngroups = 0;
    for (size_t i = 0; i < total; i++)
        if (i == 0 || strcmp(all[i].name, all[i - 1].name))
            ngroups++;
    node->nkids = ngroups;
    node->names = fl_lang_alloc(c->L, (ngroups ? ngroups : 1) * sizeof *node->names);
    node->kids = fl_lang_alloc(c->L, (ngroups ? ngroups : 1) * sizeof *node->kids);
    size_t g = 0;
    int rc = 0;
    for (size_t i = 0; i < total && rc == 0;) {
        size_t j = i + 1;
        while (j < total && !strcmp(all[j].name, all[i].name))
            j++;
        const char *name = em_strdup(c->L, all[i].name);
        node->names[g] = name;
        rc = merge_decls(ev, path_child(c->L, path, name), all + i, j - i, &node->kids[g], err);
        g++;
        i = j;
    }
    free(all);
    if (rc < 0)
        return rc;
    *out = node;
    return 0;
}

static int build_decls(em_eval *ev, fl_error *err) {
    em_ctx *c = ev->c;
    em_decl *ds = malloc((ev->nmods ? ev->nmods : 1) * sizeof *ds);
    size_t n = 0;
    for (size_t i = 0; i < ev->nmods; i++) {
        fl_value *opts = ev->mods[i].options;
        if (!opts) {
            /* `options' absent: the empty set contributes nothing */
            continue;
        }
        ds[n] = (em_decl){ev->mods[i].file, {NULL, 0, 0}, opts, "", n};
        n++;
    }
    int rc = merge_decls(ev, ev->path, ds, n, &ev->root, err);
    free(ds);
    if (rc < 0)
        return rc;
    if (ev->root->leaf) {
        /* a module declaring `options = mkOption ...' at the root: the reference
         * implementation makes that the whole config; not supported here */
        return fl_error_set(err, FL_EEVAL, "`options' of a module must be a set of options");
    }
    for (size_t i = 0; i < ev->nmods; i++) {
        em_def d;
        memset(&d, 0, sizeof d);
        d.file = ev->mods[i].file;
        d.value = ev->mods[i].config;
        if (d.value)
            defs_push(c->L, &ev->root->defs, &d);
    }
    return 0;
}

/* ---- discharging: mkIf/mkMerge removed, priority and order recorded ---- */

static int path_err(fl_error *err, const em_def *d, em_path path, const char *pre, const char *mid,
                    const char *post) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    fl_strbuf_adds(&sb, pre);
    show_path(&sb, path);
    fl_strbuf_adds(&sb, mid);
    show_def(&sb, d);
    fl_strbuf_adds(&sb, post);
    return throw_at(err, &d->pos, &sb);
}

static int int_of(em_ctx *c, fl_value *v, const em_def *d, em_path path, int *out, fl_error *err) {
    int rc = force(c, v, err);
    if (rc < 0)
        return rc;
    if (fl_lang_type(v) != FL_LANG_INT)
        return path_err(err, d, path, "a priority in the definition of `", "' at ",
                        " is not an integer");
    *out = (int)fl_lang_get_int(v);
    return 0;
}

static int cond_of(em_ctx *c, fl_value *v, const em_def *d, em_path path, int *out, fl_error *err) {
    int rc = force(c, v, err);
    if (rc < 0)
        return rc;
    if (fl_lang_type(v) != FL_LANG_BOOL) {
        fl_strbuf sb;
        fl_strbuf_init(&sb, 0);
        fl_strbuf_adds(&sb, "mkIf's condition in the definition of `");
        show_path(&sb, path);
        fl_strbuf_adds(&sb, "' at ");
        show_def(&sb, d);
        fl_strbuf_addf(&sb, " is %s, not a Boolean", a_type(v));
        return throw_at(err, &d->pos, &sb);
    }
    *out = fl_lang_get_bool(v);
    return 0;
}

/* prio/order: -1 = not set yet (the outermost one wins). */
static int discharge_value(em_ctx *c, em_path path, int prio, int order, const em_def *d,
                           fl_value *v, em_defs *out, fl_error *err) {
    for (;;) {
        int rc = force(c, v, err);
        if (rc < 0)
            return rc;
        const char *tag;
        if ((rc = type_tag(c, v, &tag, err)) < 0)
            return rc;
        fl_value *x;
        if (tag && !strcmp(tag, "merge")) {
            if ((rc = get_forced(c, v, "contents", &x, err)) < 0)
                return rc;
            if (!x || fl_lang_type(x) != FL_LANG_LIST)
                return path_err(err, d, path, "mkMerge needs a list (in the definition of `",
                                "' at ", ")");
            for (size_t i = 0; i < fl_lang_list_size(x); i++)
                if ((rc = discharge_value(c, path, prio, order, d, fl_lang_list_at(x, i), out,
                                          err)) < 0)
                    return rc;
            return 0;
        }
        if (tag && !strcmp(tag, "if")) {
            int yes;
            fl_value *cond = NULL;
            fl_lang_attrs_get(c->L, v, "condition", &cond, NULL);
            if ((rc = cond_of(c, cond ? cond : fl_lang_mk_null(c->L), d, path, &yes, err)) < 0)
                return rc;
            fl_lang_attrs_get(c->L, v, "content", &v, NULL);
            if (!yes) {
                if (!c->keep_off)
                    return 0;
                em_def off = *d;
                off.off = 1;
                return discharge_value(c, path, prio, order, &off, v, out, err);
            }
            continue;
        }
        if (tag && (!strcmp(tag, "override") || !strcmp(tag, "order"))) {
            int is_over = tag[1] == 'v';
            if ((is_over ? prio : order) < 0) {
                fl_value *p = NULL;
                fl_lang_attrs_get(c->L, v, "priority", &p, NULL);
                int n;
                if ((rc = int_of(c, p ? p : fl_lang_mk_null(c->L), d, path, &n, err)) < 0)
                    return rc;
                if (is_over)
                    prio = n;
                else
                    order = n;
            }
            fl_lang_attrs_get(c->L, v, "content", &v, NULL);
            continue;
        }
        em_def r = *d;
        r.wrap = NULL;
        r.value = v;
        r.prio = prio < 0 ? 100 : prio;
        r.order = order < 0 ? 1000 : order;
        defs_push(c->L, out, &r);
        return 0;
    }
}

static int discharge(em_ctx *c, em_path path, const em_def *d, em_defs *out, fl_error *err) {
    int prio = -1, order = -1, off = 0;
    const em_wrap *chain[64];
    size_t nw = 0;
    for (const em_wrap *w = d->wrap; w && nw < 64; w = w->outer)
        chain[nw++] = w;
    for (size_t i = nw; i-- > 0;) {
        const em_wrap *w = chain[i];
        int rc, n;
        if (w->kind == W_IF) {
            if ((rc = cond_of(c, w->v, d, path, &n, err)) < 0)
                return rc;
            if (!n && !c->keep_off)
                return 0;
            off |= !n;
        } else if (w->kind == W_OVERRIDE) {
            if (prio < 0) {
                if ((rc = int_of(c, w->v, d, path, &n, err)) < 0)
                    return rc;
                prio = n;
            }
        } else if (order < 0) {
            if ((rc = int_of(c, w->v, d, path, &n, err)) < 0)
                return rc;
            order = n;
        }
    }
    if (!off)
        return discharge_value(c, path, prio, order, d, d->value, out, err);
    em_def o = *d;
    o.off = 1;
    return discharge_value(c, path, prio, order, &o, d->value, out, err);
}

static int order_cmp(const void *a, const void *b) {
    const em_def *x = a, *y = b;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return x < y ? -1 : x > y; /* stable: definition order */
}

/* The definitions that count: the best (lowest) priority, sorted by mkOrder. */
static int active_defs(em_ctx *c, em_path path, const em_def *defs, size_t n, em_defs *out,
                       fl_error *err) {
    em_defs flat = {0};
    for (size_t i = 0; i < n; i++) {
        int rc = discharge(c, path, &defs[i], &flat, err);
        if (rc < 0)
            return rc;
    }
    int best = 100000;
    for (size_t i = 0; i < flat.n; i++)
        if (flat.d[i].prio < best)
            best = flat.d[i].prio;
    size_t k = 0;
    int sorted = 1;
    for (size_t i = 0; i < flat.n; i++)
        if (flat.d[i].prio == best) {
            if (k && flat.d[i].order < flat.d[k - 1].order)
                sorted = 0;
            flat.d[k++] = flat.d[i];
        }
    flat.n = k;
    if (!sorted)
        qsort(flat.d, flat.n, sizeof *flat.d, order_cmp);
    *out = flat;
    return 0;
}

/* ---- types ---- */

typedef struct em_type {
    fl_value *v;
    const char *name, *merge, *description;
    fl_value *nested;
} em_type;

static int type_get(em_ctx *c, fl_value *tv, em_type *t, fl_error *err) {
    memset(t, 0, sizeof *t);
    t->v = tv;
    int rc = force(c, tv, err);
    fl_value *x;
    if (rc == 0 && fl_lang_type(tv) != FL_LANG_ATTRS)
        return fl_error_set(err, FL_EEVAL, "an option's type is %s, not a type from lib.types",
                            a_type(tv));
    if (rc == 0 && (rc = get_forced(c, tv, "name", &x, err)) == 0 && x &&
        fl_lang_type(x) == FL_LANG_STRING)
        t->name = fl_lang_get_string(x, NULL);
    if (rc == 0 && (rc = get_forced(c, tv, "merge", &x, err)) == 0 && x &&
        fl_lang_type(x) == FL_LANG_STRING)
        t->merge = fl_lang_get_string(x, NULL);
    if (rc == 0 && fl_lang_attrs_get(c->L, tv, "nested", &x, NULL) == 0)
        t->nested = x;
    if (!t->name)
        t->name = "";
    if (!t->merge)
        t->merge = "equal";
    return rc;
}

static int type_description(em_ctx *c, em_type *t, const char **out, fl_error *err) {
    fl_value *x;
    int rc = get_forced(c, t->v, "description", &x, err);
    if (rc < 0)
        return rc;
    if (x && fl_lang_type(x) == FL_LANG_STRING)
        *out = fl_lang_get_string(x, NULL);
    else
        *out = t->name;
    return 0;
}

static int nested_type(em_ctx *c, em_type *t, const char *field, em_type *out, fl_error *err) {
    int rc = t->nested ? force(c, t->nested, err) : 0;
    fl_value *x = NULL;
    if (rc == 0 && t->nested)
        fl_lang_attrs_get(c->L, t->nested, field, &x, NULL);
    if (rc < 0)
        return rc;
    if (!x)
        return fl_error_set(err, FL_EEVAL, "the type %s has no nested %s", t->name, field);
    return type_get(c, x, out, err);
}

/* Valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF) without NUL. */
static int utf8_clean(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 4;
        if (!c || k == 4 || k >= n - i)
            return 0;
        unsigned cp = k ? c & (0x3Fu >> k) : c;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* The account and /etc name types of lib.nix, natively: the language's strings carry a
 * length, so a NUL (which the reference engine under Nix never sees) is caught here. */
static int account_check(const char *n, fl_value *v, enum fl_lang_type vt, int *ok) {
    size_t len = 0;
    const char *s = vt == FL_LANG_STRING ? fl_lang_get_string(v, &len) : NULL;
    if (!strcmp(n, "passwdName")) {
        *ok = s && len >= 1 && len <= 32 && ((*s >= 'a' && *s <= 'z') || *s == '_');
        for (size_t i = 1; *ok && i < len; i++)
            *ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
                  s[i] == '-' || (s[i] == '$' && i == len - 1);
        return 1;
    }
    if (!strcmp(n, "passwdEntry") || !strcmp(n, "singleLine")) {
        const char *bad = n[0] == 'p' ? ":\n" : "\n\r";
        *ok = s != NULL && memchr(s, '\0', len) == NULL && strcspn(s, bad) == len;
        return 1;
    }
    if (!strcmp(n, "accountId")) {
        int64_t x = vt == FL_LANG_INT ? fl_lang_get_int(v) : -1;
        *ok = x >= 0 && x <= 4294967294LL && x != 65535;
        return 1;
    }
    if (!strcmp(n, "etcName")) {
        *ok = s && len && utf8_clean((const unsigned char *)s, len);
        return 1;
    }
    return 0;
}

/* The type's check, done here for the common types (same predicates as lib.nix). */
static int type_check(em_ctx *c, em_type *t, fl_value *v, int *ok, fl_error *err) {
    int rc = force(c, v, err);
    if (rc < 0)
        return rc;
    enum fl_lang_type vt = fl_lang_type(v);
    const char *n = t->name;
    if (!strcmp(n, "str") || !strcmp(n, "lines") || !strcmp(n, "commas")) {
        *ok = vt == FL_LANG_STRING;
        return 0;
    }
    if (!strcmp(n, "bool")) {
        *ok = vt == FL_LANG_BOOL;
        return 0;
    }
    if (!strcmp(n, "int")) {
        *ok = vt == FL_LANG_INT;
        return 0;
    }
    if (!strcmp(n, "port")) {
        *ok = vt == FL_LANG_INT && fl_lang_get_int(v) >= 0 && fl_lang_get_int(v) <= 65535;
        return 0;
    }
    if (!strcmp(n, "listOf")) {
        *ok = vt == FL_LANG_LIST;
        return 0;
    }
    if (!strcmp(n, "attrsOf") || !strcmp(n, "attrs")) {
        *ok = vt == FL_LANG_ATTRS;
        return 0;
    }
    if (!strcmp(n, "anything") || !strcmp(n, "unspecified") || !strcmp(n, "raw")) {
        *ok = 1;
        return 0;
    }
    if (!strcmp(n, "submodule")) {
        *ok = vt == FL_LANG_ATTRS || vt == FL_LANG_FUNCTION || vt == FL_LANG_PATH;
        return 0;
    }
    if (!strcmp(n, "nullOr") && vt == FL_LANG_NULL) {
        *ok = 1;
        return 0;
    }
    if (account_check(n, v, vt, ok))
        return 0;
    fl_value *check, *r;
    if ((rc = get_forced(c, t->v, "check", &check, err)) < 0)
        return rc;
    if (!check) {
        *ok = 1;
        return 0;
    }
    if ((rc = fl_lang_call(c->L, check, v, &r, err)) < 0)
        return rc;
    *ok = fl_lang_type(r) == FL_LANG_BOOL && fl_lang_get_bool(r);
    return 0;
}

static int type_error(em_ctx *c, em_path path, em_type *t, const em_def *d, fl_error *err) {
    const char *desc;
    int rc = type_description(c, t, &desc, err);
    if (rc < 0)
        return rc;
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    fl_strbuf_adds(&sb, "the option `");
    show_path(&sb, path);
    fl_strbuf_addf(&sb, "' is of type %s, but ", desc);
    show_def(&sb, d);
    fl_strbuf_addf(&sb, " defines it as %s: ", a_type(d->value));
    show_value(c, &sb, d->value);
    fl_value *explain = NULL;
    if ((rc = get_forced(c, t->v, "explain", &explain, err)) < 0) {
        fl_strbuf_release(&sb);
        return rc;
    }
    if (explain && fl_lang_type(explain) == FL_LANG_STRING)
        fl_strbuf_addf(&sb, "\n       %s", fl_lang_get_string(explain, NULL));
    return throw_at(err, &d->pos, &sb);
}

/* An attribute name of an attrsNamed option that its keyType refuses, at the name. */
static int key_check(em_ctx *c, em_path path, em_type *kt, const em_def *d, fl_error *err) {
    int ok, rc = type_check(c, kt, d->value, &ok, err);
    const char *desc;
    if (rc < 0 || ok || (rc = type_description(c, kt, &desc, err)) < 0)
        return rc;
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    fl_strbuf_adds(&sb, "the name ");
    show_value(c, &sb, d->value);
    fl_strbuf_adds(&sb, " under `");
    show_path(&sb, path);
    fl_strbuf_addf(&sb, "' is not a valid %s (defined in ", desc);
    show_def(&sb, d);
    fl_strbuf_addch(&sb, ')');
    return throw_at(err, &d->pos, &sb);
}

static int checked(em_ctx *c, em_path path, em_type *t, const em_def *defs, size_t n,
                   fl_error *err) {
    for (size_t i = 0; i < n; i++) {
        int ok, rc = type_check(c, t, defs[i].value, &ok, err);
        if (rc < 0)
            return rc;
        if (!ok)
            return type_error(c, path, t, &defs[i], err);
    }
    return 0;
}

static int conflict(em_ctx *c, em_path path, const em_def *defs, size_t n, fl_error *err) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    fl_strbuf_adds(&sb, "the option `");
    show_path(&sb, path);
    fl_strbuf_adds(&sb, "' has conflicting definitions:");
    for (size_t i = 0; i < n; i++) {
        fl_strbuf_adds(&sb, "\n         - ");
        force(c, defs[i].value, NULL);
        show_value(c, &sb, defs[i].value);
        fl_strbuf_adds(&sb, " at ");
        show_def(&sb, &defs[i]);
    }
    fl_strbuf_adds(&sb, "\n       give one of them a higher priority with lib.mkForce, or "
                        "lib.mkDefault on the other");
    return throw_at(err, &defs[0].pos, &sb);
}

/* a == b as the language compares (both forced). */
static int values_equal(em_ctx *c, fl_value *a, fl_value *b, int *eq, fl_error *err) {
    enum fl_lang_type ta = fl_lang_type(a), tb = fl_lang_type(b);
    if (a == b) {
        *eq = 1;
        return 0;
    }
    if (ta == tb) {
        switch (ta) {
        case FL_LANG_NULL:
            *eq = 1;
            return 0;
        case FL_LANG_BOOL:
            *eq = fl_lang_get_bool(a) == fl_lang_get_bool(b);
            return 0;
        case FL_LANG_INT:
            *eq = fl_lang_get_int(a) == fl_lang_get_int(b);
            return 0;
        case FL_LANG_STRING:
        case FL_LANG_PATH: {
            size_t la, lb;
            const char *sa = fl_lang_get_string(a, &la), *sb = fl_lang_get_string(b, &lb);
            *eq = la == lb && !memcmp(sa, sb, la);
            return 0;
        }
        default:
            break;
        }
    }
    fl_value *r;
    int rc = call2(c, c->eq, a, b, &r, err);
    if (rc == 0)
        *eq = fl_lang_get_bool(r);
    return rc;
}

/* ---- merging ---- */

static int eval_submodule(em_ctx *c, em_args args, em_path path, em_type *t, const em_def *defs,
                          size_t n, fl_value **out, fl_error *err);
static int merge_value(em_ctx *c, em_args args, em_path path, em_type *t, const em_def *defs,
                       size_t n, fl_value **out, fl_error *err);

static int lazy_merge(em_lazy *z, fl_value **out, fl_error *err) {
    em_type t;
    int rc = type_get(z->c, z->type, &t, err);
    if (rc == 0)
        rc = merge_value(z->c, z->args, z->path, &t, z->defs, z->ndefs, out, err);
    if (rc == 0)
        rc = force(z->c, *out, err);
    return rc;
}

static fl_value *lazy_merge_value(em_ctx *c, em_args args, em_path path, fl_value *type,
                                  em_def *defs, size_t n) {
    em_lazy *z = lazy_new(c, lazy_merge);
    z->args = args;
    z->path = path;
    z->type = type;
    z->defs = defs;
    z->ndefs = n;
    return lazy_value(z);
}

static int is_simple_scalar_type(const char *n) {
    return !strcmp(n, "str") || !strcmp(n, "bool") || !strcmp(n, "int") || !strcmp(n, "port");
}

static int merge_list(em_ctx *c, em_args args, em_path path, em_type *t, const em_def *defs,
                      size_t n, fl_value **out, fl_error *err) {
    int rc = checked(c, path, t, defs, n, err);
    if (rc < 0)
        return rc;
    em_type et;
    if ((rc = nested_type(c, t, "elemType", &et, err)) < 0)
        return rc;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += fl_lang_list_size(defs[i].value);
    fl_value **elems = fl_lang_alloc(c->L, (total ? total : 1) * sizeof *elems);
    int simple = is_simple_scalar_type(et.name);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t ln = fl_lang_list_size(defs[i].value);
        for (size_t j = 0; j < ln; j++) {
            fl_value *x = fl_lang_list_at(defs[i].value, j);
            char *idx = fl_xasprintf("[%zu]", j);
            em_def *d = fl_lang_alloc(c->L, sizeof *d);
            *d = defs[i];
            d->value = x;
            em_path ep = path_child(c->L, path, em_strdup(c->L, idx));
            free(idx);
            if (simple && fl_lang_type(x) != FL_LANG_THUNK) {
                /* already a value: check it now instead of making a thunk */
                int ok;
                if ((rc = type_check(c, &et, x, &ok, err)) < 0)
                    return rc;
                if (!ok)
                    return type_error(c, ep, &et, d, err);
                elems[k++] = x;
                continue;
            }
            elems[k++] = lazy_merge_value(c, args, ep, et.v, d, 1);
        }
    }
    *out = fl_lang_mk_list(c->L, k, elems);
    return 0;
}

typedef struct em_keyed {
    const char *name;
    size_t seq;
    em_def def;
} em_keyed;

static int keyed_cmp(const void *a, const void *b) {
    const em_keyed *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    if (r)
        return r;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int merge_attrs_of(em_ctx *c, em_args args, em_path path, em_type *t, const em_def *defs,
                          size_t n, fl_value **out, fl_error *err) {
    int rc = checked(c, path, t, defs, n, err);
    if (rc < 0)
        return rc;
    em_type et, kt;
    if ((rc = nested_type(c, t, "elemType", &et, err)) < 0)
        return rc;
    fl_value *ktv = NULL;
    fl_lang_attrs_get(c->L, t->nested, "keyType", &ktv, NULL);
    if (ktv && (rc = type_get(c, ktv, &kt, err)) < 0)
        return rc;
    for (size_t i = 0; ktv && i < n; i++) {
        size_t na;
        em_attr *as = attrs_list(c, defs[i].value, &na);
        for (size_t j = 0; j < na; j++) {
            em_def kd = defs[i];
            kd.pos = as[j].pos.file ? as[j].pos : defs[i].pos;
            kd.value = mk_str(c, as[j].name);
            if ((rc = key_check(c, path, &kt, &kd, err)) < 0)
                return rc;
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += fl_lang_attrs_size(defs[i].value);
    em_keyed *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t na;
        em_attr *as = attrs_list(c, defs[i].value, &na);
        for (size_t j = 0; j < na; j++) {
            all[k].name = as[j].name;
            all[k].seq = k;
            all[k].def = defs[i];
            all[k].def.pos = as[j].pos;
            all[k].def.value = as[j].value;
            all[k].def.wrap = NULL;
            k++;
        }
    }
    qsort(all, total, sizeof *all, keyed_cmp);
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(c->L, total);
    for (size_t i = 0; i < total;) {
        size_t j = i + 1;
        while (j < total && !strcmp(all[j].name, all[i].name))
            j++;
        em_def *kd = fl_lang_alloc(c->L, (j - i) * sizeof *kd);
        for (size_t x = i; x < j; x++)
            kd[x - i] = all[x].def;
        const char *name = em_strdup(c->L, all[i].name);
        em_path kp = path_child(c->L, path, name);
        em_defs act;
        if ((rc = active_defs(c, kp, kd, j - i, &act, err)) < 0)
            break;
        if (act.n) {
            em_args ka = {args.base, name};
            fl_lang_attrs_add(b, name, lazy_merge_value(c, ka, kp, et.v, act.d, act.n), NULL);
        }
        i = j;
    }
    free(all);
    if (rc < 0)
        return rc;
    *out = fl_lang_attrs_end(b);
    return 0;
}

static int merge_value(em_ctx *c, em_args args, em_path path, em_type *t, const em_def *defs,
                       size_t n, fl_value **out, fl_error *err) {
    const char *m = t->merge;
    int rc;
    if (!strcmp(m, "list"))
        return merge_list(c, args, path, t, defs, n, out, err);
    if (!strcmp(m, "attrsOf"))
        return merge_attrs_of(c, args, path, t, defs, n, out, err);
    if (!strcmp(m, "submodule"))
        return eval_submodule(c, args, path, t, defs, n, out, err);
    if (!strcmp(m, "nullOr")) {
        size_t nulls = 0;
        for (size_t i = 0; i < n; i++) {
            if ((rc = force(c, defs[i].value, err)) < 0)
                return rc;
            nulls += fl_lang_type(defs[i].value) == FL_LANG_NULL;
        }
        if (nulls == n) {
            *out = fl_lang_mk_null(c->L);
            return 0;
        }
        if (nulls)
            return conflict(c, path, defs, n, err);
        em_type et;
        if ((rc = nested_type(c, t, "elemType", &et, err)) < 0)
            return rc;
        return merge_value(c, args, path, &et, defs, n, out, err);
    }
    if (!strcmp(m, "either")) {
        em_type lt, rt;
        if ((rc = nested_type(c, t, "left", &lt, err)) < 0 ||
            (rc = nested_type(c, t, "right", &rt, err)) < 0)
            return rc;
        int all_l = 1, all_r = 1, ok;
        for (size_t i = 0; i < n && all_l; i++) {
            if ((rc = type_check(c, &lt, defs[i].value, &ok, err)) < 0)
                return rc;
            all_l = ok;
        }
        if (all_l)
            return merge_value(c, args, path, &lt, defs, n, out, err);
        for (size_t i = 0; i < n && all_r; i++) {
            if ((rc = type_check(c, &rt, defs[i].value, &ok, err)) < 0)
                return rc;
            all_r = ok;
        }
        if (all_r)
            return merge_value(c, args, path, &rt, defs, n, out, err);
        for (size_t i = 0; i < n; i++) {
            int okl, okr;
            if ((rc = type_check(c, &lt, defs[i].value, &okl, err)) < 0 ||
                (rc = type_check(c, &rt, defs[i].value, &okr, err)) < 0)
                return rc;
            if (!okl && !okr)
                return type_error(c, path, t, &defs[i], err);
        }
        return type_error(c, path, t, &defs[0], err);
    }
    if (!strcmp(m, "coercedTo")) {
        em_type from, to;
        fl_value *coerce = NULL;
        if ((rc = nested_type(c, t, "from", &from, err)) < 0 ||
            (rc = nested_type(c, t, "to", &to, err)) < 0)
            return rc;
        fl_lang_attrs_get(c->L, t->nested, "coerce", &coerce, NULL);
        em_def *nd = fl_lang_alloc(c->L, (n ? n : 1) * sizeof *nd);
        for (size_t i = 0; i < n; i++) {
            int ok;
            nd[i] = defs[i];
            if ((rc = type_check(c, &to, defs[i].value, &ok, err)) < 0)
                return rc;
            if (ok)
                continue;
            if ((rc = type_check(c, &from, defs[i].value, &ok, err)) < 0)
                return rc;
            if (!ok)
                return type_error(c, path, t, &defs[i], err);
            nd[i].value = fl_lang_mk_app(c->L, coerce, defs[i].value);
        }
        return merge_value(c, args, path, &to, nd, n, out, err);
    }
    if (!strcmp(m, "lines") || !strcmp(m, "commas")) {
        if ((rc = checked(c, path, t, defs, n, err)) < 0)
            return rc;
        fl_value **parts = fl_lang_alloc(c->L, (n ? n : 1) * sizeof *parts);
        for (size_t i = 0; i < n; i++)
            parts[i] = defs[i].value;
        if (n == 1) {
            *out = parts[0];
            return 0;
        }
        /* through concatStringsSep so the strings' store references survive */
        return call2(c, c->concat_sep, mk_str(c, m[0] == 'l' ? "\n" : ","),
                     fl_lang_mk_list(c->L, n, parts), out, err);
    }
    if (!strcmp(m, "attrs")) {
        if ((rc = checked(c, path, t, defs, n, err)) < 0)
            return rc;
        if (n == 1) {
            *out = defs[0].value;
            return 0;
        }
        size_t total = 0;
        for (size_t i = 0; i < n; i++)
            total += fl_lang_attrs_size(defs[i].value);
        fl_lang_attrs_builder *b = fl_lang_attrs_begin(c->L, total);
        for (size_t i = 0; i < n; i++) {
            size_t na;
            em_attr *as = attrs_list(c, defs[i].value, &na);
            for (size_t j = 0; j < na; j++)
                fl_lang_attrs_add(b, as[j].name, as[j].value, NULL);
        }
        *out = fl_lang_attrs_end(b);
        return 0;
    }
    if (!strcmp(m, "anything")) {
        int all_attrs = 1, all_lists = 1;
        for (size_t i = 0; i < n; i++) {
            if ((rc = force(c, defs[i].value, err)) < 0)
                return rc;
            enum fl_lang_type vt = fl_lang_type(defs[i].value);
            if (vt != FL_LANG_ATTRS ||
                fl_lang_attrs_get(c->L, defs[i].value, "outPath", NULL, NULL) == 0)
                all_attrs = 0;
            if (vt != FL_LANG_LIST)
                all_lists = 0;
        }
        if (all_attrs) {
            em_type at;
            if ((rc = type_get(c, c->attrs_of_anything, &at, err)) < 0)
                return rc;
            return merge_value(c, args, path, &at, defs, n, out, err);
        }
        if (all_lists) {
            size_t total = 0;
            for (size_t i = 0; i < n; i++)
                total += fl_lang_list_size(defs[i].value);
            fl_value **e = fl_lang_alloc(c->L, (total ? total : 1) * sizeof *e);
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < fl_lang_list_size(defs[i].value); j++)
                    e[k++] = fl_lang_list_at(defs[i].value, j);
            *out = fl_lang_mk_list(c->L, k, e);
            return 0;
        }
        for (size_t i = 1; i < n; i++) {
            int eq;
            if ((rc = values_equal(c, defs[i].value, defs[0].value, &eq, err)) < 0)
                return rc;
            if (!eq)
                return conflict(c, path, defs, n, err);
        }
        *out = defs[0].value;
        return 0;
    }
    if ((rc = checked(c, path, t, defs, n, err)) < 0)
        return rc;
    if (!strcmp(m, "unique")) {
        if (n != 1)
            return conflict(c, path, defs, n, err);
        *out = defs[0].value;
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        int eq;
        if ((rc = values_equal(c, defs[i].value, defs[0].value, &eq, err)) < 0)
            return rc;
        if (!eq)
            return conflict(c, path, defs, n, err);
    }
    *out = defs[0].value;
    return 0;
}

/* ---- one level of config: definitions pushed down to the options below a group ---- */

typedef struct em_pushed {
    const char *file;
    fl_value *attrs;
    const em_wrap *wrap;
} em_pushed;

typedef struct em_pushv {
    em_pushed *p;
    size_t n, cap;
} em_pushv;

static void pushv_add(em_pushv *pv, em_pushed p) {
    if (pv->n == pv->cap) {
        pv->cap = pv->cap ? pv->cap * 2 : 16;
        pv->p = fl_xrealloc(pv->p, pv->cap * sizeof *pv->p);
    }
    pv->p[pv->n++] = p;
}

static int push_down(em_ctx *c, em_path path, const em_def *d, fl_value *v, const em_wrap *w,
                     em_pushv *out, fl_error *err) {
    int rc = force(c, v, err);
    if (rc < 0)
        return rc;
    const char *tag;
    if ((rc = type_tag(c, v, &tag, err)) < 0)
        return rc;
    if (tag && !strcmp(tag, "merge")) {
        fl_value *x;
        if ((rc = get_forced(c, v, "contents", &x, err)) < 0)
            return rc;
        if (!x || fl_lang_type(x) != FL_LANG_LIST)
            return path_err(err, d, path, "mkMerge needs a list (in the definition of `", "' at ",
                            ")");
        for (size_t i = 0; i < fl_lang_list_size(x); i++)
            if ((rc = push_down(c, path, d, fl_lang_list_at(x, i), w, out, err)) < 0)
                return rc;
        return 0;
    }
    int kind = -1;
    const char *field = NULL;
    if (tag && !strcmp(tag, "if"))
        kind = W_IF, field = "condition";
    else if (tag && !strcmp(tag, "override"))
        kind = W_OVERRIDE, field = "priority";
    else if (tag && !strcmp(tag, "order"))
        kind = W_ORDER, field = "priority";
    if (kind >= 0) {
        em_wrap *nw = fl_lang_alloc(c->L, sizeof *nw);
        nw->kind = kind;
        nw->outer = w;
        if (fl_lang_attrs_get(c->L, v, field, &nw->v, NULL) != 0)
            nw->v = fl_lang_mk_null(c->L);
        fl_value *content = NULL;
        if (fl_lang_attrs_get(c->L, v, "content", &content, NULL) != 0)
            content = fl_lang_mk_null(c->L);
        return push_down(c, path, d, content, nw, out, err);
    }
    if (fl_lang_type(v) == FL_LANG_ATTRS) {
        pushv_add(out, (em_pushed){d->file, v, w});
        return 0;
    }
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    fl_strbuf_adds(&sb, "`");
    show_path(&sb, path);
    fl_strbuf_adds(&sb, "' is a group of options, but ");
    show_def(&sb, d);
    fl_strbuf_addf(&sb, " defines it as %s", a_type(v));
    return throw_at(err, &d->pos, &sb);
}

static long find_kid(const em_node *node, const char *name) {
    size_t lo = 0, hi = node->nkids;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strcmp(node->names[mid], name);
        if (!r)
            return (long)mid;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static fl_value *leaf_value(em_node *leaf);

static int process_level(em_node *node, fl_error *err) {
    em_eval *ev = node->ev;
    em_ctx *c = ev->c;
    if (node->state == 2)
        return 0;
    if (node->state == 1)
        return fl_error_set(err, FL_EEVAL, "infinite recursion encountered");
    node->state = 1;
    em_pushv pv = {0};
    int rc = 0;
    for (size_t i = 0; i < node->defs.n && rc == 0; i++) {
        em_def *d = &node->defs.d[i];
        rc = push_down(c, node->path, d, d->value, d->wrap, &pv, err);
    }
    const char *bad = NULL;
    em_def bad_def;
    for (size_t i = 0; i < pv.n && rc == 0; i++) {
        size_t na;
        em_attr *as = attrs_list(c, pv.p[i].attrs, &na);
        for (size_t j = 0; j < na; j++) {
            em_def d = {pv.p[i].file, as[j].pos, as[j].value, pv.p[i].wrap, 0, 0, 0, 0};
            long k = find_kid(node, as[j].name);
            if (k < 0) {
                if (!bad || strcmp(as[j].name, bad) < 0) {
                    bad = as[j].name;
                    bad_def = d;
                }
                continue;
            }
            defs_push(c->L, &node->kids[k]->defs, &d);
        }
    }
    free(pv.p);
    if (rc == 0 && bad) {
        fl_strbuf sb;
        fl_strbuf_init(&sb, 0);
        fl_strbuf_adds(&sb, "the option `");
        show_path(&sb, path_child(c->L, node->path, bad));
        fl_strbuf_adds(&sb, "' does not exist (defined at ");
        show_def(&sb, &bad_def);
        fl_strbuf_adds(&sb, ")");
        suggest(&sb, bad, node->names, node->nkids);
        rc = throw_at(err, &bad_def.pos, &sb);
    }
    if (rc < 0) {
        /* leave the level as it was so a retry reports the same error */
        for (size_t k = 0; k < node->nkids; k++)
            node->kids[k]->defs.n = 0;
        node->state = 0;
        return rc;
    }
    node->state = 2;
    return 0;
}

static int lazy_level_config(em_lazy *z, fl_value **out, fl_error *err);
static int lazy_level_tree(em_lazy *z, fl_value **out, fl_error *err);

static fl_value *level_lazy(em_node *node, em_lazy_fn fn) {
    em_lazy *z = lazy_new(node->ev->c, fn);
    z->a = node;
    return lazy_value(z);
}

/* ---- one option's value ---- */

static int merge_option(em_node *leaf, fl_value **out, fl_error *err) {
    em_ctx *c = leaf->ev->c;
    int rc = force(c, leaf->decl, err);
    if (rc < 0)
        return rc;
    em_def *all = fl_lang_alloc(c->L, (leaf->defs.n + 1) * sizeof *all);
    if (leaf->defs.n)
        memcpy(all, leaf->defs.d, leaf->defs.n * sizeof *all);
    size_t n = leaf->defs.n;
    fl_value *dflt;
    if (fl_lang_attrs_get(c->L, leaf->decl, "default", &dflt, NULL) == 0) {
        em_wrap *w = fl_lang_alloc(c->L, sizeof *w);
        w->kind = W_OVERRIDE;
        w->v = c->prio_default;
        all[n++] = (em_def){leaf->file, leaf->pos, dflt, w, 0, 0, 0, 0};
    }
    em_defs act;
    if ((rc = active_defs(c, leaf->path, all, n, &act, err)) < 0)
        return rc;
    if (!act.n) {
        fl_strbuf sb;
        fl_strbuf_init(&sb, 0);
        fl_strbuf_adds(&sb, "the option `");
        show_path(&sb, leaf->path);
        fl_strbuf_adds(&sb, "' is used but not defined; define it in a module, or give it a "
                            "default");
        return throw_at(err, &leaf->pos, &sb);
    }
    fl_value *tv;
    if (fl_lang_attrs_get(c->L, leaf->decl, "type", &tv, NULL) != 0) {
        /* lib.mkOption always sets one; an option attrset made by hand may not */
        fl_strbuf sb;
        fl_strbuf_init(&sb, 0);
        fl_strbuf_adds(&sb, "the option `");
        show_path(&sb, leaf->path);
        fl_strbuf_adds(&sb, "' has no type; declare it with lib.mkOption { type = ...; }");
        return throw_at(err, &leaf->pos, &sb);
    }
    em_type t;
    if ((rc = type_get(c, tv, &t, err)) < 0)
        return rc;
    if ((rc = merge_value(c, leaf->ev->args, leaf->path, &t, act.d, act.n, out, err)) < 0)
        return rc;
    return force(c, *out, err);
}

static int lazy_leaf(em_lazy *z, fl_value **out, fl_error *err) {
    return merge_option(z->a, out, err);
}

static fl_value *leaf_value(em_node *leaf) {
    if (!leaf->value_v) {
        em_lazy *z = lazy_new(leaf->ev->c, lazy_leaf);
        z->a = leaf;
        leaf->value_v = lazy_value(z);
    }
    return leaf->value_v;
}

/* ---- the tree (what `flakectl option` and the assertions read) ---- */

/* A definition as the reference implementation keeps it: the group-level mkIf/mkOverride/
 * mkOrder re-applied around the value. */
static fl_value *def_value_wrapped(em_ctx *c, const em_def *d) {
    fl_value *v = d->value;
    for (const em_wrap *w = d->wrap; w; w = w->outer) {
        fl_value *f = w->kind == W_IF         ? c->mk_if
                      : w->kind == W_OVERRIDE ? c->mk_override
                                              : c->mk_order;
        v = fl_lang_mk_app(c->L, fl_lang_mk_app(c->L, f, w->v), v);
    }
    return v;
}

static int lazy_leaf_defs(em_lazy *z, fl_value **out, fl_error *err) {
    (void)err;
    em_node *leaf = z->a;
    em_ctx *c = z->c;
    size_t n = leaf->defs.n;
    fl_value **e = fl_lang_alloc(c->L, (n ? n : 1) * sizeof *e);
    for (size_t i = 0; i < n; i++) {
        const em_def *d = &leaf->defs.d[i];
        fl_lang_attrs_builder *b = fl_lang_attrs_begin(c->L, 3);
        fl_lang_attrs_add(b, "file", mk_str(c, d->file), NULL);
        fl_lang_attrs_add(b, "pos", pos_value(c, &d->pos), NULL);
        fl_lang_attrs_add(b, "value", def_value_wrapped(c, d), NULL);
        e[i] = fl_lang_attrs_end(b);
    }
    *out = fl_lang_mk_list(c->L, n, e);
    return 0;
}

static fl_value *leaf_info(em_node *leaf, int with_value) {
    em_ctx *c = leaf->ev->c;
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(c->L, 7);
    fl_lang_attrs_add(b, "__flakectlOption", fl_lang_mk_bool(c->L, 1), NULL);
    fl_lang_attrs_add(b, "decl", leaf->decl, NULL);
    fl_lang_attrs_add(b, "file", mk_str(c, leaf->file), NULL);
    fl_lang_attrs_add(b, "pos", pos_value(c, &leaf->pos), NULL);
    fl_lang_attrs_add(b, "path", path_value(c, leaf->path), NULL);
    if (with_value) {
        em_lazy *z = lazy_new(c, lazy_leaf_defs);
        z->a = leaf;
        fl_lang_attrs_add(b, "defs", lazy_value(z), NULL);
        fl_lang_attrs_add(b, "value", leaf_value(leaf), NULL);
    }
    return fl_lang_attrs_end(b);
}

/* A group of options seen as `config` (each option's merged value) or as the tree the
 * language-side lookups read (each option's declaration, definitions and value). Both views
 * are built once per group, lazily per subgroup. */
static int level_view(em_node *node, int tree, fl_value **out, fl_error *err) {
    fl_value **cache = tree ? &node->tree_v : &node->config_v;
    if (*cache) {
        *out = *cache;
        return 0;
    }
    int rc = process_level(node, err);
    if (rc < 0)
        return rc;
    em_ctx *c = node->ev->c;
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(c->L, node->nkids);
    for (size_t k = 0; k < node->nkids; k++) {
        em_node *kid = node->kids[k];
        fl_value *v;
        if (kid->leaf)
            v = tree ? leaf_info(kid, 1) : leaf_value(kid);
        else
            v = level_lazy(kid, tree ? lazy_level_tree : lazy_level_config);
        fl_lang_attrs_add(b, node->names[k], v, NULL);
    }
    *cache = fl_lang_attrs_end(b);
    *out = *cache;
    return 0;
}

static int lazy_level_config(em_lazy *z, fl_value **out, fl_error *err) {
    return level_view(z->a, 0, out, err);
}

static int lazy_level_tree(em_lazy *z, fl_value **out, fl_error *err) {
    return level_view(z->a, 1, out, err);
}

static fl_value *options_value(em_node *node) {
    if (node->options_v)
        return node->options_v;
    if (node->leaf)
        return node->options_v = leaf_info(node, 0);
    em_ctx *c = node->ev->c;
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(c->L, node->nkids);
    for (size_t k = 0; k < node->nkids; k++)
        fl_lang_attrs_add(b, node->names[k], options_value(node->kids[k]), NULL);
    return node->options_v = fl_lang_attrs_end(b);
}

/* ---- an evaluation ---- */

static int ev_config(em_lazy *z, fl_value **out, fl_error *err) {
    em_eval *ev = z->a;
    int rc = collect(ev, err);
    return rc < 0 ? rc : level_view(ev->root, 0, out, err);
}

static int ev_tree(em_lazy *z, fl_value **out, fl_error *err) {
    em_eval *ev = z->a;
    int rc = collect(ev, err);
    return rc < 0 ? rc : level_view(ev->root, 1, out, err);
}

static int ev_options(em_lazy *z, fl_value **out, fl_error *err) {
    em_eval *ev = z->a;
    int rc = collect(ev, err);
    if (rc == 0)
        *out = options_value(ev->root);
    return rc;
}

static int ev_modules(em_lazy *z, fl_value **out, fl_error *err) {
    em_eval *ev = z->a;
    em_ctx *c = z->c;
    int rc = collect(ev, err);
    if (rc < 0)
        return rc;
    fl_value **e = fl_lang_alloc(c->L, (ev->nmods ? ev->nmods : 1) * sizeof *e);
    for (size_t i = 0; i < ev->nmods; i++) {
        em_module *m = &ev->mods[i];
        fl_lang_attrs_builder *b = fl_lang_attrs_begin(c->L, 5);
        fl_lang_attrs_add(b, "key", mk_str(c, m->key), NULL);
        fl_lang_attrs_add(b, "file", mk_str(c, m->file), NULL);
        fl_lang_attrs_add(b, "imports", m->imports ? m->imports : fl_lang_mk_list(c->L, 0, NULL),
                          NULL);
        fl_lang_attrs_add(b, "options",
                          m->options ? m->options : fl_lang_attrs_end(fl_lang_attrs_begin(c->L, 0)),
                          NULL);
        fl_lang_attrs_add(b, "config",
                          m->config ? m->config : fl_lang_attrs_end(fl_lang_attrs_begin(c->L, 0)),
                          NULL);
        e[i] = fl_lang_attrs_end(b);
    }
    *out = fl_lang_mk_list(c->L, ev->nmods, e);
    return 0;
}

/* args // { name? ; config; options; lib; } for the modules' functions. */
static fl_value *module_args(em_eval *ev) {
    em_ctx *c = ev->c;
    fl_value *base = ev->args.base;
    size_t n = base && fl_lang_type(base) == FL_LANG_ATTRS ? fl_lang_attrs_size(base) : 0;
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(c->L, n + 4);
    for (size_t i = 0; i < n; i++) {
        const char *name;
        fl_value *v;
        fl_lang_attrs_at(c->L, base, i, &name, &v, NULL);
        fl_lang_attrs_add(b, name, v, NULL);
    }
    if (ev->args.name)
        fl_lang_attrs_add(b, "name", mk_str(c, ev->args.name), NULL);
    fl_lang_attrs_add(b, "config", ev->config_v, NULL);
    fl_lang_attrs_add(b, "options", ev->options_v, NULL);
    fl_lang_attrs_add(b, "lib", c->lib, NULL);
    return fl_lang_attrs_end(b);
}

static em_eval *eval_new(em_ctx *c, em_args args, em_path path, const char *root_file) {
    em_eval *ev = fl_lang_alloc(c->L, sizeof *ev);
    ev->c = c;
    ev->args = args;
    ev->path = path;
    ev->root_file = root_file;
    em_lazy *z;
    z = lazy_new(c, ev_config);
    z->a = ev;
    ev->config_v = lazy_value(z);
    z = lazy_new(c, ev_options);
    z->a = ev;
    ev->options_v = lazy_value(z);
    z = lazy_new(c, ev_tree);
    z->a = ev;
    ev->tree_v = lazy_value(z);
    z = lazy_new(c, ev_modules);
    z->a = ev;
    ev->modules_v = lazy_value(z);
    ev->all_args = module_args(ev);
    return ev;
}

static int eval_submodule(em_ctx *c, em_args args, em_path path, em_type *t, const em_def *defs,
                          size_t n, fl_value **out, fl_error *err) {
    fl_value *mods = NULL;
    int rc = t->nested ? force(c, t->nested, err) : 0;
    if (rc == 0 && t->nested && fl_lang_attrs_get(c->L, t->nested, "modules", &mods, NULL) == 0)
        rc = force(c, mods, err);
    if (rc < 0)
        return rc;
    size_t nm = mods && fl_lang_type(mods) == FL_LANG_LIST ? fl_lang_list_size(mods) : 0;
    em_eval *ev = eval_new(c, args, path, "<flake>");
    ev->nitems = nm + n;
    ev->items = fl_lang_alloc(c->L, (ev->nitems ? ev->nitems : 1) * sizeof *ev->items);
    size_t k = 0;
    for (size_t i = 0; i < nm; i++, k++) {
        ev->items[k].value = fl_lang_list_at(mods, i);
        ev->items[k].parent_file = ev->root_file;
        if ((rc = item_key(c, ev->root_file, k, ev->items[k].value, &ev->items[k].key, err)) < 0)
            return rc;
    }
    for (size_t i = 0; i < n; i++, k++) {
        /* each definition is a module of its own: { _file = d.file; imports = [ d.value ]; } */
        em_module *m = fl_lang_alloc(c->L, sizeof *m);
        char *key = fl_xasprintf("%s#%zu", ev->root_file, k);
        m->key = em_strdup(c->L, key);
        free(key);
        m->file = defs[i].file;
        m->imports = fl_lang_mk_list(c->L, 1, (fl_value *const *)&defs[i].value);
        ev->items[k] = (em_item){NULL, ev->root_file, m->key, m};
    }
    return ev_config(&(em_lazy){.a = ev, .c = c}, out, err);
}

/* __flakectlEvalModules helpers { modules; args; path ? []; rootFile ? "<flake>"; } */
static int prim_eval_modules(fl_lang *L, void *ud, fl_value **argv, fl_value **result,
                             fl_error *err) {
    (void)ud;
    fl_value *h = argv[0], *a = argv[1];
    int rc = fl_lang_force(L, h, err);
    if (rc == 0)
        rc = fl_lang_force(L, a, err);
    if (rc < 0)
        return rc;
    if (fl_lang_type(h) != FL_LANG_ATTRS || fl_lang_type(a) != FL_LANG_ATTRS)
        return fl_error_set(err, FL_EEVAL, "__flakectlEvalModules: expected two sets");
    em_ctx *c = fl_lang_alloc(L, sizeof *c);
    c->L = L;
    struct {
        const char *name;
        fl_value **slot;
    } need[] = {{"lib", &c->lib},
                {"import", &c->import},
                {"apply", &c->apply},
                {"eq", &c->eq},
                {"concatSep", &c->concat_sep},
                {"mkIf", &c->mk_if},
                {"mkOverride", &c->mk_override},
                {"mkOrder", &c->mk_order},
                {"attrsOfAnything", &c->attrs_of_anything}};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        if (fl_lang_attrs_get(L, h, need[i].name, need[i].slot, NULL) != 0)
            return fl_error_set(err, FL_EEVAL, "__flakectlEvalModules: no helper '%s'",
                                need[i].name);
    c->lazy_prim = fl_lang_mk_primop(L, "flakectlModuleValue", 1, prim_lazy, NULL);
    c->prio_default = fl_lang_mk_int(L, 1500);

    fl_value *mods, *args, *path = NULL, *root = NULL;
    if ((rc = get_forced(c, a, "modules", &mods, err)) < 0 ||
        (rc = get_forced(c, a, "args", &args, err)) < 0 ||
        (rc = get_forced(c, a, "path", &path, err)) < 0 ||
        (rc = get_forced(c, a, "rootFile", &root, err)) < 0)
        return rc;
    if (!mods || fl_lang_type(mods) != FL_LANG_LIST)
        return fl_error_set(err, FL_EEVAL, "evalModules: `modules' must be a list");
    em_path p = {NULL, 0};
    if (path && fl_lang_type(path) == FL_LANG_LIST) {
        for (size_t i = 0; i < fl_lang_list_size(path); i++) {
            fl_value *s = fl_lang_list_at(path, i);
            if ((rc = force(c, s, err)) < 0)
                return rc;
            p = path_child(L, p, em_strdup(L, fl_lang_get_string(s, NULL)));
        }
    }
    const char *root_file = root && fl_lang_type(root) != FL_LANG_NULL
                                ? em_strdup(L, fl_lang_get_string(root, NULL))
                                : "<flake>";
    em_args ea = {args, NULL};
    em_eval *ev = eval_new(c, ea, p, root_file);
    ev->nitems = fl_lang_list_size(mods);
    ev->items = fl_lang_alloc(L, (ev->nitems ? ev->nitems : 1) * sizeof *ev->items);
    for (size_t i = 0; i < ev->nitems; i++) {
        ev->items[i].value = fl_lang_list_at(mods, i);
        ev->items[i].parent_file = root_file;
        if ((rc = item_key(c, root_file, i, ev->items[i].value, &ev->items[i].key, err)) < 0)
            return rc;
    }
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(L, 4);
    fl_lang_attrs_add(b, "config", ev->config_v, NULL);
    fl_lang_attrs_add(b, "options", ev->options_v, NULL);
    fl_lang_attrs_add(b, "tree", ev->tree_v, NULL);
    fl_lang_attrs_add(b, "modules", ev->modules_v, NULL);
    *result = fl_lang_attrs_end(b);
    return 0;
}

/* The arguments of __flakectlActiveDefs and __flakectlExplainDefs: an option path (a list
 * of names) and definitions as the language-side lookups hold them ({ file; pos; value; }). */
static int defs_args(em_ctx *c, fl_value *pl, fl_value *dl, const char *who, em_path *path,
                     em_def **out, size_t *nout, fl_error *err) {
    fl_lang *L = c->L;
    int rc = force(c, pl, err);
    if (rc == 0)
        rc = force(c, dl, err);
    if (rc < 0)
        return rc;
    if (fl_lang_type(pl) != FL_LANG_LIST || fl_lang_type(dl) != FL_LANG_LIST)
        return fl_error_set(err, FL_EEVAL, "%s: expected two lists", who);
    em_path p = {NULL, 0};
    for (size_t i = 0; i < fl_lang_list_size(pl); i++) {
        fl_value *s = fl_lang_list_at(pl, i);
        if ((rc = force(c, s, err)) < 0)
            return rc;
        p = path_child(L, p, em_strdup(L, fl_lang_get_string(s, NULL)));
    }
    size_t n = fl_lang_list_size(dl);
    em_def *defs = fl_lang_alloc(L, (n ? n : 1) * sizeof *defs);
    for (size_t i = 0; i < n; i++) {
        fl_value *d = fl_lang_list_at(dl, i), *f, *pos, *x;
        if ((rc = force(c, d, err)) < 0 || (rc = get_forced(c, d, "file", &f, err)) < 0 ||
            (rc = get_forced(c, d, "pos", &pos, err)) < 0)
            return rc;
        defs[i].index = i;
        defs[i].file =
            f && fl_lang_type(f) == FL_LANG_STRING ? fl_lang_get_string(f, NULL) : "<unknown>";
        if (pos && fl_lang_type(pos) == FL_LANG_ATTRS) {
            if ((rc = get_forced(c, pos, "file", &x, err)) < 0)
                return rc;
            defs[i].pos.file = x ? fl_lang_get_string(x, NULL) : NULL;
            if ((rc = get_forced(c, pos, "line", &x, err)) < 0)
                return rc;
            defs[i].pos.line = x && fl_lang_type(x) == FL_LANG_INT ? (int)fl_lang_get_int(x) : 0;
            if ((rc = get_forced(c, pos, "column", &x, err)) < 0)
                return rc;
            defs[i].pos.col = x && fl_lang_type(x) == FL_LANG_INT ? (int)fl_lang_get_int(x) : 0;
        }
        if (fl_lang_attrs_get(L, d, "value", &defs[i].value, NULL) != 0)
            defs[i].value = fl_lang_mk_null(L);
    }
    *path = p;
    *out = defs;
    *nout = n;
    return 0;
}

/* One discharged definition as the language sees it; `extra` adds index, enabled, active. */
static fl_value *def_out(em_ctx *c, const em_def *d, int extra, int active) {
    fl_lang *L = c->L;
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(L, 8);
    fl_lang_attrs_add(b, "file", mk_str(c, d->file), NULL);
    fl_lang_attrs_add(b, "pos", pos_value(c, &d->pos), NULL);
    fl_lang_attrs_add(b, "value", d->value, NULL);
    fl_lang_attrs_add(b, "priority", fl_lang_mk_int(L, d->prio), NULL);
    fl_lang_attrs_add(b, "order", fl_lang_mk_int(L, d->order), NULL);
    if (extra) {
        fl_lang_attrs_add(b, "index", fl_lang_mk_int(L, (int64_t)d->index), NULL);
        fl_lang_attrs_add(b, "enabled", fl_lang_mk_bool(L, !d->off), NULL);
        fl_lang_attrs_add(b, "active", fl_lang_mk_bool(L, active), NULL);
    }
    return fl_lang_attrs_end(b);
}

/* __flakectlActiveDefs path defs: the definitions that count (as activeDefs in
 * modules.nix), for the lookups written in the language (assertions, `flakectl option`). */
static int prim_active_defs(fl_lang *L, void *ud, fl_value **argv, fl_value **result,
                            fl_error *err) {
    (void)ud;
    em_ctx *c = fl_lang_alloc(L, sizeof *c);
    c->L = L;
    em_path p;
    em_def *defs;
    size_t n;
    int rc = defs_args(c, argv[0], argv[1], "__flakectlActiveDefs", &p, &defs, &n, err);
    em_defs act;
    if (rc < 0 || (rc = active_defs(c, p, defs, n, &act, err)) < 0)
        return rc;
    fl_value **e = fl_lang_alloc(L, (act.n ? act.n : 1) * sizeof *e);
    for (size_t i = 0; i < act.n; i++)
        e[i] = def_out(c, &act.d[i], 0, 1);
    *result = fl_lang_mk_list(L, act.n, e);
    return 0;
}

/* __flakectlExplainDefs path defs: every definition after mkMerge/mkIf/mkOverride/mkOrder
 * were taken apart, in definition order, each with its priority and order, `enabled` (false
 * under a false mkIf), `active` (it counts: enabled and of the best priority) and `index`
 * (which of the definitions handed in it came from). What `flakectl why` shows. */
static int prim_explain_defs(fl_lang *L, void *ud, fl_value **argv, fl_value **result,
                             fl_error *err) {
    (void)ud;
    em_ctx *c = fl_lang_alloc(L, sizeof *c);
    c->L = L;
    c->keep_off = 1;
    em_path p;
    em_def *defs;
    size_t n;
    int rc = defs_args(c, argv[0], argv[1], "__flakectlExplainDefs", &p, &defs, &n, err);
    if (rc < 0)
        return rc;
    em_defs flat = {0};
    for (size_t i = 0; i < n; i++)
        if ((rc = discharge(c, p, &defs[i], &flat, err)) < 0)
            return rc;
    int best = 100000;
    for (size_t i = 0; i < flat.n; i++)
        if (!flat.d[i].off && flat.d[i].prio < best)
            best = flat.d[i].prio;
    fl_value **e = fl_lang_alloc(L, (flat.n ? flat.n : 1) * sizeof *e);
    for (size_t i = 0; i < flat.n; i++)
        e[i] = def_out(c, &flat.d[i], 1, !flat.d[i].off && flat.d[i].prio == best);
    *result = fl_lang_mk_list(L, flat.n, e);
    return 0;
}

/* __flakectlLabel noun in set: the set, labelled so a missing name reads "no NOUN 'x' in IN"
 * (nix/pkgs.nix labels pkgs: "no package 'ripgrp' in pkgs"). */
static int prim_label(fl_lang *L, void *ud, fl_value **args, fl_value **result, fl_error *err) {
    (void)ud;
    for (int i = 0; i < 3; i++)
        if (fl_lang_force(L, args[i], err) < 0)
            return -1;
    if (fl_lang_type(args[0]) != FL_LANG_STRING || fl_lang_type(args[1]) != FL_LANG_STRING ||
        fl_lang_type(args[2]) != FL_LANG_ATTRS || strchr(fl_lang_get_string(args[0], NULL), ' '))
        return fl_error_set(err, FL_EEVAL, "__flakectlLabel takes a noun, a name and a set");
    *result = fl_lang_label_set(L, args[2], fl_lang_get_string(args[0], NULL),
                                fl_lang_get_string(args[1], NULL));
    return 0;
}

void fl_module_register_native(fl_lang *L) {
    fl_lang_add_builtin(L, "__flakectlLabel",
                        fl_lang_mk_primop(L, "__flakectlLabel", 3, prim_label, NULL), 0);
    fl_lang_add_builtin(L, "__flakectlActiveDefs",
                        fl_lang_mk_primop(L, "__flakectlActiveDefs", 2, prim_active_defs, NULL), 0);
    fl_lang_add_builtin(L, "__flakectlExplainDefs",
                        fl_lang_mk_primop(L, "__flakectlExplainDefs", 2, prim_explain_defs, NULL),
                        0);
    fl_lang_add_builtin(L, "__flakectlEvalModules",
                        fl_lang_mk_primop(L, "__flakectlEvalModules", 2, prim_eval_modules, NULL),
                        0);
}
