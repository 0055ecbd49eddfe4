/* derivation.c - builtins.derivationStrict: turns a derivation's attributes into its ATerm
 * form and computes drvPath and output paths the way Nix does (input-addressed outputs via
 * hashDerivationModulo, fixed-output hashes), without writing anything. String context
 * entries follow Nix's encoding: "/nix/store/p" (a source), "!out!/nix/store/d.drv" (an
 * output of a derivation), "=/nix/store/d.drv" (the derivation file itself). */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#include "flakectl/store.h" /* the pure hash helpers only: the language never opens a store */
#include "lang/internal.h"

/* drvPath -> hashDerivationModulo (hex) of every derivation this state produced */
typedef struct DrvHash {
    const char *drv;
    char hash[65];
    /* Import from derivation: what the embedder's realise hook builds (NULL when the
     * derivation is not one flakectl's store can build: see lang_realise_output), its output
     * path as the evaluation names it, and the path the store built it at once it has. */
    fl_store_drv *build;
    const char *out_path, *built;
    const char *why_not;
} DrvHash;
static const char *drv_hash_of(State *S, const char *drv) {
    for (size_t i = 0; i < S->ndrvh; i++)
        if (!strcmp(S->drvh[i].drv, drv))
            return S->drvh[i].hash;
    return NULL;
}

static DrvHash *drv_hash_add(State *S, const char *drv, const char *hex) {
    if (S->ndrvh == S->capdrvh) {
        S->capdrvh = S->capdrvh ? S->capdrvh * 2 : 16;
        S->drvh = fl_xrealloc(S->drvh, S->capdrvh * sizeof(DrvHash));
    }
    lang_regions_pin(S);
    DrvHash *h = &S->drvh[S->ndrvh++];
    memset(h, 0, sizeof *h);
    h->drv = drv;
    memcpy(h->hash, hex, 65);
    return h;
}

void lang_derivation_release(State *S);
void lang_derivation_release(State *S) {
    free(S->drvh);
    S->drvh = NULL;
    S->ndrvh = S->capdrvh = 0;
}

static void sha256_hex(const char *data, size_t len, char *hex) {
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_Digest(data, len, h, &hl, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
}

static void aterm_str(State *S, AStr *o, const char *s) {
    lang_astr_addch(S, o, '"');
    for (; *s; s++) {
        switch (*s) {
        case '"': astr_adds(S, o, "\\\""); break;
        case '\\': astr_adds(S, o, "\\\\"); break;
        case '\n': astr_adds(S, o, "\\n"); break;
        case '\r': astr_adds(S, o, "\\r"); break;
        case '\t': astr_adds(S, o, "\\t"); break;
        default: lang_astr_addch(S, o, *s);
        }
    }
    lang_astr_addch(S, o, '"');
}

/* The items of an ATerm list of strings, without the brackets. */
static void aterm_str_items(State *S, AStr *o, const char *const *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (i)
            lang_astr_addch(S, o, ',');
        aterm_str(S, o, v[i]);
    }
}

typedef struct KV {
    const char *k, *v;
} KV;

static int kv_cmp(const void *a, const void *b) {
    return strcmp(((const KV *)a)->k, ((const KV *)b)->k);
}
static int str_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct Drv {
    const char *name;
    /* outputs, sorted by name */
    const char **outs;
    const char **out_paths;
    const char *fixed_algo, *fixed_hash; /* fixed-output "out" */
    size_t nouts;
    /* input derivations: path and the outputs used (sorted) */
    const char **in_drvs;
    const char ***in_outs;
    size_t *nin_outs;
    size_t nin_drvs;
    const char **srcs;
    size_t nsrcs;
    const char *platform, *builder;
    const char **args;
    size_t nargs;
    KV *env;
    size_t nenv;
} Drv;

/* ATerm; with hashes, input derivation paths are replaced by their modulo hashes. */
static void unparse(State *S, Drv *d, AStr *o, int mask_outputs, int with_hashes) {
    astr_adds(S, o, "Derive([");
    for (size_t i = 0; i < d->nouts; i++) {
        if (i)
            lang_astr_addch(S, o, ',');
        lang_astr_addch(S, o, '(');
        aterm_str(S, o, d->outs[i]);
        lang_astr_addch(S, o, ',');
        aterm_str(S, o, mask_outputs ? "" : d->out_paths[i]);
        lang_astr_addch(S, o, ',');
        aterm_str(S, o, d->fixed_algo ? d->fixed_algo : "");
        lang_astr_addch(S, o, ',');
        aterm_str(S, o, d->fixed_hash ? d->fixed_hash : "");
        lang_astr_addch(S, o, ')');
    }
    astr_adds(S, o, "],[");
    /* input derivations, sorted by the key written */
    KV *keys = arena_alloc(&S->arena, (d->nin_drvs + 1) * sizeof(KV));
    for (size_t i = 0; i < d->nin_drvs; i++) {
        keys[i].k = with_hashes ? drv_hash_of(S, d->in_drvs[i]) : d->in_drvs[i];
        if (!keys[i].k)
            keys[i].k = d->in_drvs[i];
        keys[i].v = (const char *)(uintptr_t)i;
    }
    qsort(keys, d->nin_drvs, sizeof(KV), kv_cmp);
    for (size_t k = 0; k < d->nin_drvs; k++) {
        size_t i = (size_t)(uintptr_t)keys[k].v;
        if (k)
            lang_astr_addch(S, o, ',');
        lang_astr_addch(S, o, '(');
        aterm_str(S, o, keys[k].k);
        astr_adds(S, o, ",[");
        aterm_str_items(S, o, d->in_outs[i], d->nin_outs[i]);
        astr_adds(S, o, "])");
    }
    astr_adds(S, o, "],[");
    aterm_str_items(S, o, d->srcs, d->nsrcs);
    astr_adds(S, o, "],");
    aterm_str(S, o, d->platform);
    lang_astr_addch(S, o, ',');
    aterm_str(S, o, d->builder);
    astr_adds(S, o, ",[");
    aterm_str_items(S, o, d->args, d->nargs);
    astr_adds(S, o, "],[");
    for (size_t i = 0; i < d->nenv; i++) {
        if (i)
            lang_astr_addch(S, o, ',');
        lang_astr_addch(S, o, '(');
        aterm_str(S, o, d->env[i].k);
        lang_astr_addch(S, o, ',');
        int is_out = 0;
        for (size_t j = 0; j < d->nouts && mask_outputs; j++)
            if (!strcmp(d->outs[j], d->env[i].k))
                is_out = 1;
        aterm_str(S, o, is_out ? "" : d->env[i].v);
        lang_astr_addch(S, o, ')');
    }
    astr_adds(S, o, "])");
}

static void add_unique(State *S, const char ***arr, size_t *n, size_t *cap, const char *s) {
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*arr)[i], s))
            return;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        const char **na = arena_alloc(&S->arena, nc * sizeof(char *));
        if (*n)
            memcpy(na, *arr, *n * sizeof(char *));
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = s;
}

void lang_prim_derivation_strict(State *S, Value **args, Value *out, PosIdx pos);
void lang_prim_derivation_strict(State *S, Value **args, Value *out, PosIdx pos) {
    Attrs *a = lang_force_attrs(S, args[0], pos);
    Drv d;
    memset(&d, 0, sizeof d);
    Attr *nm = lang_attrs_find(a, S->s_name);
    if (!nm)
        lang_throw(S, pos, "required attribute 'name' missing");
    d.name = lang_force_string_noctx(S, nm->value, nm->pos, NULL);
    int ignore_nulls = 0;
    Attr *ig = lang_attrs_find(a, S->s_ignoreNulls);
    if (ig)
        ignore_nulls = lang_force_bool(S, ig->value, ig->pos);
    Attr **sorted = lang_attrs_sorted_by_name(S, a);
    const StrCtx *ctx = NULL;
    size_t envcap = a->n + 8;
    d.env = arena_alloc(&S->arena, envcap * sizeof(KV));
    size_t outcap = 0;
    const char *hash_algo = NULL, *hash_val = NULL, *hash_mode = "flat";
    for (uint32_t i = 0; i < a->n; i++) {
        Attr *at = sorted[i];
        const char *key = sym_name(S, at->name);
        if (at->name == S->s_ignoreNulls)
            continue;
        force(S, at->value, at->pos);
        if (ignore_nulls && at->value->type == V_NULL)
            continue;
        if (at->name == S->s_args) {
            lang_force_list(S, at->value, at->pos);
            d.args = arena_alloc(&S->arena, (at->value->n + 1) * sizeof(char *));
            for (uint32_t k = 0; k < at->value->n; k++) {
                AStr s;
                lang_astr_init(S, &s, 64);
                lang_coerce_to_string(S, at->value->elems[k], at->pos, 1, 1, &s, &ctx);
                d.args[d.nargs++] = s.buf;
            }
            continue;
        }
        AStr s;
        lang_astr_init(S, &s, 64);
        if (at->name == S->s_outputs) {
            lang_force_list(S, at->value, at->pos);
            for (uint32_t k = 0; k < at->value->n; k++) {
                const char *o = lang_force_string_noctx(S, at->value->elems[k], at->pos, NULL);
                if (!strcmp(o, "drv"))
                    lang_throw(S, at->pos, "invalid derivation output name 'drv'");
                for (size_t j = 0; j < d.nouts; j++)
                    if (!strcmp(d.outs[j], o))
                        lang_throw(S, at->pos, "duplicate derivation output '%s'", o);
                add_unique(S, &d.outs, &d.nouts, &outcap, o);
            }
            lang_coerce_to_string(S, at->value, at->pos, 1, 1, &s, &ctx);
        } else {
            lang_coerce_to_string(S, at->value, at->pos, 1, 1, &s, &ctx);
        }
        d.env[d.nenv].k = key;
        d.env[d.nenv].v = s.buf;
        d.nenv++;
        if (at->name == S->s_builder)
            d.builder = s.buf;
        else if (at->name == S->s_system)
            d.platform = s.buf;
        else if (!strcmp(key, "outputHash"))
            hash_val = s.buf;
        else if (!strcmp(key, "outputHashAlgo"))
            hash_algo = s.buf;
        else if (!strcmp(key, "outputHashMode"))
            hash_mode = s.buf;
    }
    /* like Nix, report problems of the whole derivation where its name is defined */
    if (!d.builder || !*d.builder)
        lang_throw(S, nm->pos, "required attribute 'builder' missing");
    if (!d.platform || !*d.platform)
        lang_throw(S, nm->pos, "required attribute 'system' missing");
    if (d.nouts == 0)
        add_unique(S, &d.outs, &d.nouts, &outcap, "out");
    qsort(d.outs, d.nouts, sizeof(char *), str_cmp);
    if (!d.args)
        d.args = arena_alloc(&S->arena, sizeof(char *));
    /* inputs from the context */
    size_t srccap = 0, drvcap = 0;
    for (const StrCtx *c = ctx; c; c = c->next) {
        const char *p = c->path;
        if (p[0] == '=') {
            add_unique(S, &d.srcs, &d.nsrcs, &srccap, p + 1);
        } else if (p[0] == '!') {
            const char *bang = strchr(p + 1, '!');
            if (!bang)
                continue;
            const char *outname = lang_arena_strndup(&S->arena, p + 1, (size_t)(bang - p - 1));
            const char *drv = bang + 1;
            size_t idx = d.nin_drvs;
            for (size_t i = 0; i < d.nin_drvs; i++)
                if (!strcmp(d.in_drvs[i], drv))
                    idx = i;
            if (idx == d.nin_drvs) {
                if (d.nin_drvs == drvcap) {
                    size_t nc = drvcap ? drvcap * 2 : 8;
                    const char **nd = arena_alloc(&S->arena, nc * sizeof(char *));
                    const char ***no = arena_alloc(&S->arena, nc * sizeof(char **));
                    size_t *nn = arena_alloc(&S->arena, nc * sizeof(size_t));
                    if (d.nin_drvs) {
                        memcpy(nd, d.in_drvs, d.nin_drvs * sizeof(char *));
                        memcpy(no, d.in_outs, d.nin_drvs * sizeof(char **));
                        memcpy(nn, d.nin_outs, d.nin_drvs * sizeof(size_t));
                    }
                    d.in_drvs = nd;
                    d.in_outs = no;
                    d.nin_outs = nn;
                    drvcap = nc;
                }
                d.in_drvs[idx] = drv;
                d.in_outs[idx] = arena_alloc(&S->arena, 16 * sizeof(char *));
                d.nin_outs[idx] = 0;
                d.nin_drvs++;
            }
            int dup = 0;
            for (size_t j = 0; j < d.nin_outs[idx]; j++)
                dup |= !strcmp(d.in_outs[idx][j], outname);
            if (!dup && d.nin_outs[idx] < 16)
                d.in_outs[idx][d.nin_outs[idx]++] = outname;
        } else {
            add_unique(S, &d.srcs, &d.nsrcs, &srccap, p);
        }
    }
    if (d.nsrcs)
        qsort(d.srcs, d.nsrcs, sizeof(char *), str_cmp);
    for (size_t i = 0; i < d.nin_drvs; i++)
        qsort(d.in_outs[i], d.nin_outs[i], sizeof(char *), str_cmp);
    /* outputs appear in the environment (empty while hashing) */
    for (size_t i = 0; i < d.nouts; i++) {
        int found = 0;
        for (size_t k = 0; k < d.nenv; k++)
            if (!strcmp(d.env[k].k, d.outs[i])) {
                d.env[k].v = "";
                found = 1;
            }
        if (!found) {
            if (d.nenv == envcap)
                lang_throw(S, pos, "internal error: derivation environment");
            d.env[d.nenv].k = d.outs[i];
            d.env[d.nenv].v = "";
            d.nenv++;
        }
    }
    qsort(d.env, d.nenv, sizeof(KV), kv_cmp);
    d.out_paths = arena_alloc(&S->arena, d.nouts * sizeof(char *));
    char hex[65];
    if (hash_val) {
        /* fixed-output derivation: the output path follows from the declared hash */
        if (d.nouts != 1 || strcmp(d.outs[0], "out"))
            lang_throw(S, pos, "multiple outputs are not supported in fixed-output derivations");
        /* Nix accepts SRI, "sha256:..." and bare hex, base32 or base64; the drv holds hex */
        unsigned char raw[FL_SHA256_LEN];
        if (fl_hash_parse_output(hash_val, hash_algo, raw) < 0)
            lang_throw(S, pos,
                       "outputHash '%s' is not a sha256 hash flakectl can read: write "
                       "it as SRI (\"sha256-<base64>\") or give outputHashAlgo = "
                       "\"sha256\" with 64 hex or 52 base32 characters",
                       hash_val);
        if (strcmp(hash_mode, "flat") && strcmp(hash_mode, "recursive"))
            lang_throw(S, pos, "invalid value '%s' for 'outputHashMode' attribute", hash_mode);
        char *hexbuf = arena_alloc(&S->arena, 2 * FL_SHA256_LEN + 1);
        fl_hex_encode(raw, FL_SHA256_LEN, hexbuf);
        hash_val = hexbuf;
        int recursive = !strcmp(hash_mode, "recursive");
        AStr fa;
        lang_astr_init(S, &fa, 16);
        astr_adds(S, &fa, recursive ? "r:sha256" : "sha256");
        d.fixed_algo = fa.buf;
        d.fixed_hash = hash_val;
        const char *op;
        if (recursive)
            op = lang_make_store_path(S, "source", hash_val, d.name, pos);
        else {
            char *inner = fl_xasprintf("fixed:out:sha256:%s:", hash_val);
            char ih[65];
            sha256_hex(inner, strlen(inner), ih);
            free(inner);
            op = lang_make_store_path(S, "output:out", ih, d.name, pos);
        }
        d.out_paths[0] = op;
    } else {
        AStr masked;
        lang_astr_init(S, &masked, 1024);
        unparse(S, &d, &masked, 1, 1);
        sha256_hex(masked.buf, masked.len, hex);
        for (size_t i = 0; i < d.nouts; i++) {
            AStr nm2;
            lang_astr_init(S, &nm2, 64);
            astr_adds(S, &nm2, d.name);
            if (strcmp(d.outs[i], "out")) {
                lang_astr_addch(S, &nm2, '-');
                astr_adds(S, &nm2, d.outs[i]);
            }
            AStr type;
            lang_astr_init(S, &type, 64);
            lang_astr_addf(S, &type, "output:%s", d.outs[i]);
            d.out_paths[i] = lang_make_store_path(S, type.buf, hex, nm2.buf, pos);
        }
    }
    for (size_t i = 0; i < d.nouts; i++)
        for (size_t k = 0; k < d.nenv; k++)
            if (!strcmp(d.env[k].k, d.outs[i]))
                d.env[k].v = d.out_paths[i];
    AStr full;
    lang_astr_init(S, &full, 1024);
    unparse(S, &d, &full, 0, 0);
    /* the .drv refers to its sources and input derivations */
    StrCtx *refs = NULL;
    for (size_t i = 0; i < d.nsrcs; i++) {
        StrCtx *c = arena_alloc(&S->arena, sizeof(StrCtx));
        c->path = d.srcs[i];
        c->next = refs;
        refs = c;
    }
    for (size_t i = 0; i < d.nin_drvs; i++) {
        StrCtx *c = arena_alloc(&S->arena, sizeof(StrCtx));
        c->path = d.in_drvs[i];
        c->next = refs;
        refs = c;
    }
    AStr drvname;
    lang_astr_init(S, &drvname, 64);
    lang_astr_addf(S, &drvname, "%s.drv", d.name);
    const char *drv_path = lang_store_path_for_text(S, drvname.buf, full.buf, full.len, refs, pos);
    /* remember hashDerivationModulo for derivations that use this one */
    if (hash_val) {
        char *inner = fl_xasprintf("fixed:out:%s:%s:%s", d.fixed_algo, hash_val, d.out_paths[0]);
        sha256_hex(inner, strlen(inner), hex);
        free(inner);
    } else {
        AStr mod;
        lang_astr_init(S, &mod, 1024);
        unparse(S, &d, &mod, 0, 1);
        sha256_hex(mod.buf, mod.len, hex);
    }
    DrvHash *dh = drv_hash_add(S, drv_path, hex);
    dh->out_path = d.out_paths[0];
    if (d.nouts != 1)
        dh->why_not = "it has more than one output";
    else if (d.nin_drvs || d.nsrcs)
        dh->why_not = "it has inputs (other derivations or store paths)";
    else {
        fl_store_drv *b = arena_alloc(&S->arena, sizeof *b);
        memset(b, 0, sizeof *b);
        b->name = d.name;
        b->builder = d.builder;
        b->args = d.args;
        b->nargs = d.nargs;
        const char **env = arena_alloc(&S->arena, (d.nenv + 1) * sizeof(char *));
        for (size_t k = 0; k < d.nenv; k++) {
            if (!strcmp(d.env[k].k, "out"))
                continue; /* the store sets $out to the path it builds at */
            AStr e;
            lang_astr_init(S, &e, 64);
            lang_astr_addf(S, &e, "%s=%s", d.env[k].k, d.env[k].v);
            env[b->nenv++] = e.buf;
        }
        b->env = env;
        dh->build = b;
    }
    /* result: { drvPath = ...; <output> = ...; } with contexts */
    Attrs *r = lang_alloc_attrs(S, (uint32_t)d.nouts + 1);
    Value *dv = lang_alloc_value(S);
    StrCtx *dc = arena_alloc(&S->arena, sizeof(StrCtx));
    AStr dcs;
    lang_astr_init(S, &dcs, 64);
    lang_astr_addf(S, &dcs, "=%s", drv_path);
    dc->path = dcs.buf;
    dc->next = NULL;
    lang_mk_string(S, dv, drv_path, strlen(drv_path), dc);
    r->a[r->n++] = (Attr){S->s_drvPath, pos, dv};
    for (size_t i = 0; i < d.nouts; i++) {
        Value *ov = lang_alloc_value(S);
        StrCtx *oc = arena_alloc(&S->arena, sizeof(StrCtx));
        AStr ocs;
        lang_astr_init(S, &ocs, 64);
        lang_astr_addf(S, &ocs, "!%s!%s", d.outs[i], drv_path);
        oc->path = ocs.buf;
        oc->next = NULL;
        lang_mk_string(S, ov, d.out_paths[i], strlen(d.out_paths[i]), oc);
        r->a[r->n++] = (Attr){lang_sym_intern(S, d.outs[i], strlen(d.outs[i])), pos, ov};
    }
    lang_attrs_sort(r);
    out->type = V_ATTRS;
    out->attrs = r;
}

/* Import from derivation: path names output out_path of drv, which is not present. Builds the
 * derivation in the embedder's store through the realise hook and returns path with that
 * output replaced by where the store built it; NULL when there is no hook or drv is not one
 * this evaluation made (the caller reports the path as not valid). Throws at pos when the
 * build fails. */
const char *lang_realise_output(State *S, const char *drv, const char *path, PosIdx pos) {
    if (!S->cfg.hooks.realise)
        return NULL;
    DrvHash *h = NULL;
    for (size_t i = 0; i < S->ndrvh; i++)
        if (!strcmp(S->drvh[i].drv, drv))
            h = &S->drvh[i];
    if (!h)
        return NULL;
    size_t n = strlen(h->out_path);
    if (strncmp(path, h->out_path, n) || (path[n] && path[n] != '/'))
        return NULL;
    if (!h->build)
        lang_throw(S, pos,
                   "cannot build '%s' to read '%s' during evaluation: %s, which flakectl "
                   "only builds with `flakectl build`",
                   drv, path, h->why_not);
    if (!h->built) {
        fl_strbuf sb;
        fl_strbuf_init(&sb, 0);
        fl_error e = FL_ERROR_INIT;
        if (S->cfg.hooks.realise(S->cfg.hooks.ctx, h->build, &sb, &e) < 0) {
            const char *m = lang_arena_strndup(&S->arena, e.message ? e.message : "failed",
                                               strlen(e.message ? e.message : "failed"));
            fl_error_clear(&e);
            fl_strbuf_release(&sb);
            lang_throw(S, pos, "cannot build '%s' to read '%s' during evaluation: %s", drv, path,
                       m);
        }
        lang_regions_pin(S); /* the state keeps the path: no open region may free it */
        h->built = lang_arena_strndup(&S->arena, sb.buf, sb.len);
        fl_strbuf_release(&sb);
    }
    AStr r;
    lang_astr_init(S, &r, 64);
    astr_adds(S, &r, h->built);
    astr_adds(S, &r, path + n);
    return r.buf;
}
