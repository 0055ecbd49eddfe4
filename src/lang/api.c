/* api.c - the public face of the language (lang.h): creating and freeing evaluator states,
 * entering the evaluator with a catch point, converting its errors into fl_error with
 * positions and frames, building values from C and registering native primops. Never
 * prints to stdout. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "lang/internal.h"

uint32_t lang_add_source(State *S, const char *name, const char *dir);

#define BASE_CAP 2048

static size_t default_stack_limit(void) {
    struct rlimit rl;
    size_t lim = 8u << 20;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        lim = (size_t)rl.rlim_cur;
    else if (getrlimit(RLIMIT_STACK, &rl) == 0)
        lim = 64u << 20;
    /* keep room for what lies above the entry point and for signal handlers */
    return lim > (2u << 20) ? lim - (1u << 20) : lim / 2;
}

void lang_add_base(State *S, const char *name, Value *v) {
    Sym s = lang_sym_intern(S, name, strlen(name));
    for (uint32_t i = 0; i < S->nbase; i++)
        if (S->base_names[i] == s) {
            S->base_env->v[i] = v;
            return;
        }
    if (S->nbase >= BASE_CAP)
        return;
    S->base_names[S->nbase] = s;
    S->base_env->v[S->nbase] = v;
    S->nbase++;
    S->base_env->n = S->nbase;
}

Value *lang_lookup_base(State *S, const char *name) {
    Sym s = lang_sym_intern(S, name, strlen(name));
    for (uint32_t i = 0; i < S->nbase; i++)
        if (S->base_names[i] == s)
            return S->base_env->v[i];
    return NULL;
}

/* FLAKECTL_MAX_MEMORY: bytes with an optional K, M, G or T; 0 or "none" for no limit.
 * Unset or unreadable: half of the machine's memory, so a runaway evaluation is an error
 * with a location rather than the kernel's OOM killer or an abort. */
static size_t memory_limit(size_t configured) {
    if (configured)
        return configured;
    const char *e = getenv("FLAKECTL_MAX_MEMORY");
    if (e && *e) {
        if (!strcmp(e, "none"))
            return 0;
        char *end;
        unsigned long long v = strtoull(e, &end, 10);
        int shift = *end == 'K' || *end == 'k'   ? 10
                    : *end == 'M' || *end == 'm' ? 20
                    : *end == 'G' || *end == 'g' ? 30
                    : *end == 'T' || *end == 't' ? 40
                                                 : 0;
        if (end != e && (shift ? end[1] == '\0' || !strcmp(end + 1, "iB") || !strcmp(end + 1, "B")
                               : *end == '\0') &&
            v <= (SIZE_MAX >> shift))
            return (size_t)v << shift;
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (size_t)pages * (size_t)page / 2 : 0;
}

fl_lang *fl_lang_new(const fl_lang_config *cfg) {
    State *S = fl_xcalloc(1, sizeof(State));
    if (cfg)
        S->cfg = *cfg;
    lang_arena_init(&S->arena);
    S->arena.limit = memory_limit(S->cfg.max_memory);
    lang_pos_make(S, 0, 0, 0); /* index 0 = no position */
    S->stack_limit = S->cfg.max_stack ? S->cfg.max_stack : default_stack_limit();
    if (S->cfg.system)
        S->system = fl_xstrdup(S->cfg.system);
    else {
        struct utsname u;
        const char *m = "x86_64", *os = "linux";
        if (uname(&u) == 0) {
            m = u.machine;
            if (!strcmp(u.sysname, "Darwin"))
                os = "darwin";
        }
        if (!strcmp(m, "arm64"))
            m = "aarch64";
        S->system = fl_xasprintf("%s-%s", m, os);
    }
    S->err_frames = fl_xmalloc((S->cfg.frames ? LANG_MAX_ERR_FRAMES : 64) * sizeof(Frame));
#define SYM(field, str) S->field = lang_sym_intern(S, str, strlen(str))
    SYM(s_outPath, "outPath");
    SYM(s_toString, "__toString");
    SYM(s_functor, "__functor");
    SYM(s_type, "type");
    SYM(s_name, "name");
    SYM(s_value, "value");
    SYM(s_file, "file");
    SYM(s_line, "line");
    SYM(s_column, "column");
    SYM(s_derivation, "derivation");
    SYM(s_drvPath, "drvPath");
    SYM(s_key, "key");
    SYM(s_operator, "operator");
    SYM(s_startSet, "startSet");
    SYM(s_right, "right");
    SYM(s_wrong, "wrong");
    SYM(s_success, "success");
    SYM(s_or, "or");
    SYM(s_body, "body");
    SYM(s_ignoreNulls, "__ignoreNulls");
    SYM(s_outputs, "outputs");
    SYM(s_system, "system");
    SYM(s_builder, "builder");
    SYM(s_args, "args");
    SYM(s_drvAttrs, "drvAttrs");
    SYM(s_all, "all");
    SYM(s_out, "out");
    SYM(s_outputName, "outputName");
    SYM(s_prefix, "prefix");
    SYM(s_path, "path");
    SYM(s_sep, "sep");
#undef SYM
    S->base_names = fl_xmalloc(BASE_CAP * sizeof(Sym));
    S->base_env = lang_alloc_env(S, BASE_CAP);
    S->base_env->up = NULL;
    S->base_env->n = 0;
    char marker;
    S->stack_base = &marker;
    lang_builtins_init(S);
    return (fl_lang *)S;
}

void fl_lang_free(fl_lang *L) {
    State *S = (State *)L;
    if (!S)
        return;
    extern void lang_builtins_release(State * S);
    lang_builtins_release(S);
    for (uint32_t i = 0; i < S->nfiles; i++) {
        free(S->files[i].path);
        free(S->files[i].dir);
        free(S->files[i].src);
    }
    free(S->files);
    free(S->import_slots);
    free(S->poss);
    lang_symtab_release(&S->syms);
    free(S->base_names);
    free(S->forcing);
    free(S->regions);
    free(S->frames);
    free(S->err_frames);
    free(S->system);
    if (S->tofile_dir)
        fl_remove_tree(S->tofile_dir, NULL);
    free(S->tofile_dir);
    fl_error_clear(&S->err);
    lang_arena_release(&S->arena);
    free(S);
}

/* Converts the state's pending error into err, with frames when configured. */
static int take_error(State *S, fl_error *err) {
    if (!S->err.message)
        fl_error_set(&S->err, FL_EEVAL, "evaluation failed");
    if (S->cfg.frames)
        lang_trace_frames(S, &S->err, S->cfg.frames_nix);
    S->nerr_frames = 0;
    int code = S->err.code ? S->err.code : FL_EEVAL;
    if (err)
        fl_error_move(err, &S->err);
    else
        fl_error_clear(&S->err);
    return code;
}

/* Every entry point runs its body between ENTER and LEAVE; errors land in the else branch. */
#define ENTER(S)                                                                               \
    char marker_;                                                                              \
    int outer_ = S->catch_ == NULL;                                                            \
    if (outer_)                                                                                \
        S->stack_base = &marker_;                                                              \
    Catch c_;                                                                                  \
    catch_begin(S, &c_);                                                                       \
    if (setjmp(c_.jb) == 0) {
#define LEAVE(S, err)                                                                          \
    lang_catch_end(S, &c_);                                                                         \
    return 0;                                                                                  \
    }                                                                                          \
    else {                                                                                     \
        lang_catch_unwind(S, &c_);                                                                  \
        return take_error(S, err);                                                             \
    }

int fl_lang_eval_file(fl_lang *L, const char *path, fl_value **out, fl_error *err) {
    State *S = (State *)L;
    ENTER(S)
    char *cwd = getcwd(NULL, 0);
    char *canon = fl_canon_path(path, cwd ? cwd : "/");
    free(cwd);
    const char *p = lang_arena_strndup(&S->arena, canon, strlen(canon));
    free(canon);
    Value *v = lang_alloc_value(S);
    lang_eval_file(S, p, v, 0);
    *out = (fl_value *)v;
    LEAVE(S, err)
}

int fl_lang_eval_string(fl_lang *L, const char *src, const char *name, const char *base_dir,
                        fl_value **out, fl_error *err) {
    State *S = (State *)L;
    char *cwd = NULL;
    if (!base_dir)
        base_dir = cwd = getcwd(NULL, 0);
    uint32_t fid = lang_add_source(S, name ? name : "«string»", base_dir ? base_dir : "/");
    free(cwd);
    S->files[fid].src = fl_xstrdup(src);
    S->files[fid].srclen = strlen(src);
    S->files[fid].is_string = 1;
    ENTER(S)
    Expr *e = lang_parse_source(S, src, strlen(src), fid, S->files[fid].dir);
    if (!e) {
        lang_catch_end(S, &c_);
        return take_error(S, err);
    }
    Value *v = lang_alloc_value(S);
    lang_eval(S, e, S->base_env, v);
    *out = (fl_value *)v;
    LEAVE(S, err)
}

int fl_lang_force(fl_lang *L, fl_value *v, fl_error *err) {
    State *S = (State *)L;
    ENTER(S)
    force(S, &v->v, 0);
    LEAVE(S, err)
}

int fl_lang_force_deep(fl_lang *L, fl_value *v, fl_error *err) {
    State *S = (State *)L;
    ENTER(S)
    lang_force_deep(S, &v->v, 0);
    LEAVE(S, err)
}

/* nix-instantiate -A: Nix 2.8's findAlongAttrPath (without its auto-call of functions):
 * components split at dots outside double quotes, a number indexes a list, each value forced
 * on the way, errors unlocated and worded as Nix's. */
int fl_lang_select_path(fl_lang *L, fl_value *v, const char *path, fl_value **out,
                        fl_error *err) {
    State *S = (State *)L;
    Value *volatile cur = &v->v;
    ENTER(S)
    const char *p = path;
    while (*p) {
        AStr a;
        lang_astr_init(S, &a, 16);
        int quoted = 0;
        for (; *p && (quoted || *p != '.'); p++) {
            if (*p == '"')
                quoted = !quoted;
            else
                lang_astr_add(S, &a, p, 1);
        }
        if (*p == '.')
            p++;
        const char *name = a.buf ? a.buf : "";
        force(S, cur, 0);
        char *end;
        unsigned long idx = strtoul(name, &end, 10);
        if (*name >= '0' && *name <= '9' && !*end) {
            if (cur->type != V_LIST)
                lang_throw(S, 0, "the expression selected by the selection path '%s' should be "
                                 "a list but is %s", path, lang_show_type(cur));
            if (idx >= cur->n)
                lang_throw(S, 0, "list index %lu in selection path '%s' is out of range", idx,
                           path);
            cur = cur->elems[idx];
            continue;
        }
        if (cur->type != V_ATTRS)
            lang_throw(S, 0, "the expression selected by the selection path '%s' should be a "
                             "set but is %s", path, lang_show_type(cur));
        if (!*name)
            lang_throw(S, 0, "empty attribute name in selection path '%s'", path);
        Attr *at = lang_attrs_find(cur->attrs, lang_sym_intern(S, name, strlen(name)));
        if (!at) {
            const char **cands = arena_alloc(&S->arena, (cur->attrs->n + 1) * sizeof(char *));
            for (uint32_t i = 0; i < cur->attrs->n; i++)
                cands[i] = sym_name(S, cur->attrs->a[i].name);
            const char *best = lang_nix_suggestions(S, name, cands, cur->attrs->n);
            fl_error_clear(&S->err);
            fl_error_set(&S->err, FL_EEVAL, "attribute '%s' in selection path '%s' not found",
                         name, path);
            if (best)
                fl_error_set_hint(&S->err, "Did you mean %s?", best);
            S->errkind = ERR_OTHER;
            S->nerr_frames = 0;
            lang_rethrow(S);
        }
        cur = at->value;
    }
    force(S, cur, 0);
    *out = (fl_value *)cur;
    LEAVE(S, err)
}

enum fl_lang_type fl_lang_type(const fl_value *fv) {
    switch (fv->v.type) {
    case V_NULL: return FL_LANG_NULL;
    case V_BOOL: return FL_LANG_BOOL;
    case V_INT: return FL_LANG_INT;
    case V_FLOAT: return FL_LANG_FLOAT;
    case V_STRING: return FL_LANG_STRING;
    case V_PATH: return FL_LANG_PATH;
    case V_ATTRS: return FL_LANG_ATTRS;
    case V_LIST: return FL_LANG_LIST;
    case V_LAMBDA: case V_PRIMOP: case V_PRIMOP_APP: return FL_LANG_FUNCTION;
    default: return FL_LANG_THUNK;
    }
}

const char *fl_lang_type_name(const fl_value *v) {
    return lang_type_name(&v->v);
}
int64_t fl_lang_get_int(const fl_value *v) {
    return v->v.type == V_INT ? v->v.i : 0;
}
double fl_lang_get_float(const fl_value *v) {
    return v->v.type == V_FLOAT ? v->v.f : v->v.type == V_INT ? (double)v->v.i : 0;
}
int fl_lang_get_bool(const fl_value *v) {
    return v->v.type == V_BOOL && v->v.b;
}
const char *fl_lang_get_string(const fl_value *v, size_t *len) {
    if (v->v.type != V_STRING && v->v.type != V_PATH) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = v->v.n;
    /* a string another one was appended to in place gets its terminator back in a copy; the
     * value is the evaluator's (arena memory), so pointing it at the copy is allowed */
    return lang_string_cstr((Value *)&v->v);
}

int fl_lang_attrs_get(fl_lang *L, const fl_value *set, const char *name, fl_value **out,
                      fl_lang_pos *pos) {
    State *S = (State *)L;
    if (set->v.type != V_ATTRS)
        return FL_ENOTFOUND;
    Attr *a = lang_attrs_find(set->v.attrs, lang_sym_intern(S, name, strlen(name)));
    if (!a)
        return FL_ENOTFOUND;
    if (out)
        *out = (fl_value *)a->value;
    if (pos)
        lang_pos_get(S, a->pos, pos);
    return 0;
}

size_t fl_lang_attrs_size(const fl_value *set) {
    return set->v.type == V_ATTRS ? set->v.attrs->n : 0;
}

void fl_lang_attrs_at(fl_lang *L, const fl_value *set, size_t i, const char **name,
                      fl_value **val, fl_lang_pos *pos) {
    State *S = (State *)L;
    /* name order: the sorted order is remembered, so iterating i = 0..n-1 sorts once */
    Attr **sorted = lang_attrs_sorted_by_name_cached(S, set->v.attrs, 1);
    Attr *a = sorted[i];
    if (name)
        *name = sym_name(S, a->name);
    if (val)
        *val = (fl_value *)a->value;
    if (pos)
        lang_pos_get(S, a->pos, pos);
}

size_t fl_lang_list_size(const fl_value *list) {
    return list->v.type == V_LIST ? list->v.n : 0;
}
fl_value *fl_lang_list_at(const fl_value *list, size_t i) {
    return (fl_value *)list->v.elems[i];
}

int fl_lang_call(fl_lang *L, fl_value *fn, fl_value *arg, fl_value **out, fl_error *err) {
    State *S = (State *)L;
    ENTER(S)
    Value *v = lang_alloc_value(S);
    lang_call_function(S, &fn->v, &arg->v, v, 0);
    force(S, v, 0);
    *out = (fl_value *)v;
    LEAVE(S, err)
}

fl_value *fl_lang_mk_null(fl_lang *L) {
    Value *v = lang_alloc_value((State *)L);
    mk_null(v);
    return (fl_value *)v;
}
fl_value *fl_lang_mk_bool(fl_lang *L, int b) {
    Value *v = lang_alloc_value((State *)L);
    mk_bool(v, b != 0);
    return (fl_value *)v;
}
fl_value *fl_lang_mk_int(fl_lang *L, int64_t i) {
    Value *v = lang_alloc_value((State *)L);
    mk_int(v, i);
    return (fl_value *)v;
}
fl_value *fl_lang_mk_float(fl_lang *L, double f) {
    Value *v = lang_alloc_value((State *)L);
    mk_float(v, f);
    return (fl_value *)v;
}
fl_value *fl_lang_mk_string(fl_lang *L, const char *s, size_t len) {
    Value *v = lang_alloc_value((State *)L);
    lang_mk_string_copy((State *)L, v, s, len, NULL);
    return (fl_value *)v;
}
static int cmp_ctx_enc(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t fl_lang_string_context(fl_lang *L, const fl_value *fv, const fl_lang_ctx_entry **out) {
    State *S = (State *)L;
    const Value *v = &fv->v;
    *out = NULL;
    if (v->type != V_STRING || !v->str.ctx)
        return 0;
    size_t n = 0;
    for (const StrCtx *c = v->str.ctx; c; c = c->next)
        n++;
    const char **enc = arena_alloc(&S->arena, n * sizeof *enc);
    n = 0;
    for (const StrCtx *c = v->str.ctx; c; c = c->next)
        enc[n++] = c->path;
    qsort(enc, n, sizeof *enc, cmp_ctx_enc);
    fl_lang_ctx_entry *e = arena_alloc(&S->arena, n * sizeof *e);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && !strcmp(enc[i], enc[i - 1]))
            continue;
        const char *p = enc[i], *bang;
        if (p[0] == '=') {
            e[k] = (fl_lang_ctx_entry){FL_LANG_CTX_DRV_DEEP, p + 1, NULL};
        } else if (p[0] == '!' && (bang = strchr(p + 1, '!'))) {
            e[k] =
                (fl_lang_ctx_entry){FL_LANG_CTX_OUTPUT, bang + 1,
                                    lang_arena_strndup(&S->arena, p + 1, (size_t)(bang - p - 1))};
        } else {
            e[k] = (fl_lang_ctx_entry){FL_LANG_CTX_PATH, p, NULL};
        }
        k++;
    }
    *out = e;
    return k;
}

fl_value *fl_lang_mk_string_ctx(fl_lang *L, const char *s, size_t len, const fl_lang_ctx_entry *ctx,
                                size_t nctx) {
    State *S = (State *)L;
    const StrCtx *head = NULL;
    for (size_t i = nctx; i-- > 0;) {
        AStr enc;
        lang_astr_init(S, &enc, 64);
        if (ctx[i].kind == FL_LANG_CTX_DRV_DEEP) {
            lang_astr_addch(S, &enc, '=');
        } else if (ctx[i].kind == FL_LANG_CTX_OUTPUT) {
            lang_astr_addch(S, &enc, '!');
            astr_adds(S, &enc, ctx[i].output ? ctx[i].output : "out");
            lang_astr_addch(S, &enc, '!');
        }
        astr_adds(S, &enc, ctx[i].path);
        StrCtx *c = arena_alloc(&S->arena, sizeof *c);
        c->path = enc.buf;
        c->next = NULL;
        head = lang_ctx_merge(S, head, c);
    }
    Value *v = lang_alloc_value(S);
    lang_mk_string_copy(S, v, s, len, head);
    return (fl_value *)v;
}

fl_value *fl_lang_mk_path(fl_lang *L, const char *p) {
    Value *v = lang_alloc_value((State *)L);
    lang_mk_path((State *)L, v, p);
    return (fl_value *)v;
}
fl_value *fl_lang_mk_list(fl_lang *L, size_t n, fl_value *const *elems) {
    State *S = (State *)L;
    Value *v = lang_alloc_value(S);
    lang_mk_list(S, v, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        v->elems[i] = &elems[i]->v;
    return (fl_value *)v;
}

struct fl_lang_attrs_builder {
    State *S;
    Attrs *a;
};

fl_lang_attrs_builder *fl_lang_attrs_begin(fl_lang *L, size_t hint) {
    State *S = (State *)L;
    fl_lang_attrs_builder *b = arena_alloc(&S->arena, sizeof(*b));
    b->S = S;
    b->a = lang_alloc_attrs(S, (uint32_t)(hint ? hint : 4));
    return b;
}

void fl_lang_attrs_add(fl_lang_attrs_builder *b, const char *name, fl_value *v,
                       const fl_lang_pos *pos) {
    State *S = b->S;
    Sym s = lang_sym_intern(S, name, strlen(name));
    PosIdx p = 0;
    if (pos && pos->file) {
        uint32_t fid = UINT32_MAX;
        for (uint32_t i = 0; i < S->nfiles; i++)
            if (!strcmp(S->files[i].path, pos->file))
                fid = i;
        if (fid == UINT32_MAX)
            fid = lang_add_source(S, pos->file, "/");
        p = lang_pos_make(S, fid, (uint32_t)pos->line, (uint32_t)pos->col);
    }
    for (uint32_t i = 0; i < b->a->n; i++)
        if (b->a->a[i].name == s) {
            b->a->a[i].value = &v->v;
            b->a->a[i].pos = p;
            return;
        }
    if (b->a->n == b->a->cap) {
        Attrs *na = lang_alloc_attrs(S, b->a->cap * 2);
        memcpy(na->a, b->a->a, b->a->n * sizeof(Attr));
        na->n = b->a->n;
        b->a = na;
    }
    b->a->a[b->a->n++] = (Attr){s, p, &v->v};
}

fl_value *fl_lang_attrs_end(fl_lang_attrs_builder *b) {
    Value *v = lang_alloc_value(b->S);
    lang_attrs_sort(b->a);
    v->type = V_ATTRS;
    v->attrs = b->a;
    return (fl_value *)v;
}

fl_value *fl_lang_mk_primop(fl_lang *L, const char *name, int arity, fl_lang_primop_fn fn,
                            void *ud) {
    State *S = (State *)L;
    PrimOp *op = lang_arena_zalloc(&S->arena, sizeof(PrimOp));
    op->name = lang_arena_strndup(&S->arena, name, strlen(name));
    op->arity = arity < 1 ? 1 : arity > 7 ? 7 : arity;
    op->ext = fn;
    op->ud = ud;
    Value *v = lang_alloc_value(S);
    v->type = V_PRIMOP;
    v->primop = op;
    return (fl_value *)v;
}

void fl_lang_add_builtin(fl_lang *L, const char *name, fl_value *v, int top_level) {
    State *S = (State *)L;
    Sym s = lang_sym_intern(S, name, strlen(name));
    Attrs *old = S->builtins->attrs;
    Attrs *na = lang_alloc_attrs(S, old->n + 1);
    memcpy(na->a, old->a, old->n * sizeof(Attr));
    na->n = old->n;
    Attr *ex = lang_attrs_find(na, s);
    if (ex)
        ex->value = &v->v;
    else {
        na->a[na->n++] = (Attr){s, 0, &v->v};
        lang_attrs_sort(na);
    }
    S->builtins->attrs = na;
    char *under = fl_xasprintf("__%s", name);
    lang_add_base(S, under, &v->v);
    free(under);
    if (top_level)
        lang_add_base(S, name, &v->v);
}

int fl_lang_print(fl_lang *L, fl_value *v, int strict, fl_strbuf *out, fl_error *err) {
    State *S = (State *)L;
    ENTER(S)
    if (strict)
        lang_force_deep(S, &v->v, 0);
    AStr s;
    lang_astr_init(S, &s, 256);
    lang_print_value(S, &v->v, &s);
    fl_strbuf_add(out, s.buf, s.len);
    LEAVE(S, err)
}

int fl_lang_print_json(fl_lang *L, fl_value *v, int strict, fl_strbuf *out, fl_error *err) {
    State *S = (State *)L;
    ENTER(S)
    AStr s;
    lang_astr_init(S, &s, 256);
    lang_to_json(S, &v->v, strict, &s, 0, NULL);
    fl_strbuf_add(out, s.buf, s.len);
    LEAVE(S, err)
}

int fl_lang_lambda_pos(fl_lang *L, const fl_value *fn, fl_lang_pos *pos) {
    if (fn->v.type != V_LAMBDA)
        return FL_ENOTFOUND;
    lang_pos_get((State *)L, fn->v.lambda.fn->pos, pos);
    return 0;
}

void fl_lang_error_at(fl_error *err, const fl_lang_pos *pos) {
    if (pos && pos->file)
        fl_error_set_loc(err, pos->file, pos->line, pos->col);
}

fl_value *fl_lang_mk_app(fl_lang *L, fl_value *fn, fl_value *arg) {
    Value *v = lang_alloc_value((State *)L);
    v->type = V_APP;
    v->n = 0;
    v->app.left = &fn->v;
    v->app.right = &arg->v;
    return (fl_value *)v;
}

void *fl_lang_alloc(fl_lang *L, size_t n) {
    return lang_arena_zalloc(&((State *)L)->arena, n);
}

fl_value *fl_lang_label_set(fl_lang *L, fl_value *set, const char *noun, const char *in) {
    State *S = (State *)L;
    Value *v = &set->v;
    if (v->type != V_ATTRS)
        return set;
    Attrs *old = v->attrs;
    Attrs *na = lang_alloc_attrs(S, old->n ? old->n : 1);
    memcpy(na->a, old->a, old->n * sizeof(Attr));
    na->n = old->n;
    na->pos = old->pos;
    size_t nl = strlen(noun), il = strlen(in);
    char *text = arena_alloc(&S->arena, nl + il + 2);
    memcpy(text, noun, nl);
    text[nl] = ' ';
    memcpy(text + nl + 1, in, il + 1);
    na->label = lang_sym_intern(S, text, nl + il + 1) + 1;
    Value *r = lang_alloc_value(S);
    r->type = V_ATTRS;
    r->attrs = na;
    return (fl_value *)r;
}
