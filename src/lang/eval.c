/* eval.c - the lazy evaluator: forcing thunks in place (blackholing), environments, function
 * calls, operators, string coercion, equality and ordering, errors with positions and
 * frames (longjmp to the innermost catch point), and file imports with their cache.
 * Never prints values (print.c) and holds no builtin (builtins.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "lang/internal.h"

/* ---- errors ---- */

/* Deep recursion is located at the recursive call: the outermost function application on
 * the call stack whose position recurs deeper in it (in mutual recursion the first of the
 * calls, however deep the limit lets it go, so every build reports the same place). When no
 * call is active (recursion through attribute selections), the application evaluated last. */
static PosIdx recursive_call_pos(State *S) {
    size_t n = S->nframes, cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    PosIdx *seen = fl_xcalloc(cap, sizeof(PosIdx));
    PosIdx best = 0;
    for (size_t k = n; k-- > 0;) {
        if (S->frames[k].kind != FR_CALL || !S->frames[k].pos)
            continue;
        PosIdx p = S->frames[k].pos;
        size_t h = (p * 2654435761u) & (cap - 1);
        while (seen[h] && seen[h] != p)
            h = (h + 1) & (cap - 1);
        if (seen[h])
            best = p; /* already seen deeper: recurs; keep the outermost */
        else
            seen[h] = p;
    }
    free(seen);
    return best ? best : S->last_call_pos;
}

NORETURN static void stack_overflow(State *S, PosIdx pos) {
    PosIdx at = recursive_call_pos(S);
    lang_throw(S, at ? at : pos, "stack overflow (possible infinite recursion)");
}

void lang_stack_check(State *S, PosIdx pos) {
    if (UNLIKELY(stack_exceeded(S)))
        stack_overflow(S, pos);
}

static void capture_frames(State *S) {
    S->nerr_frames = 0;
    size_t n = S->nframes;
    /* a trace as deep as Nix would print it, up to a bound (frames only matter with them) */
    uint32_t cap = S->cfg.frames ? LANG_MAX_ERR_FRAMES : 64;
    for (size_t k = 0; k < n && S->nerr_frames < cap; k++)
        S->err_frames[S->nerr_frames++] = S->frames[n - 1 - k];
}

void lang_throw_kind(State *S, int kind, PosIdx pos, const char *fmt, ...) {
    va_list ap;
    fl_error_clear(&S->err);
    va_start(ap, fmt);
    fl_error_setv(&S->err, FL_EEVAL, fmt, ap);
    va_end(ap);
    lang_err_set_pos(S, &S->err, pos);
    S->errkind = kind;
    capture_frames(S);
    lang_rethrow(S);
}

void lang_arena_out_of_memory(Arena *a, size_t n) {
    State *S = (State *)((char *)a - offsetof(State, arena));
    if (!S->catch_)
        return; /* outside an evaluation (setting up): the caller aborts as before */
    /* The innermost frame with a position: the call or attribute that was growing. */
    PosIdx pos = S->last_call_pos;
    for (size_t k = S->nframes; k-- > 0;)
        if (S->frames[k].pos) {
            pos = S->frames[k].pos;
            break;
        }
    lang_out_of_memory(S, pos, n);
}

void lang_arena_abort(Arena *a, size_t n) {
    State *S = (State *)((char *)a - offsetof(State, arena));
    if (S->cfg.trace) {
        char line[96];
        snprintf(line, sizeof line, "flakectl: out of memory (%zu bytes)", n);
        S->cfg.trace(S->cfg.trace_ctx, line);
    }
    abort();
}

void lang_out_of_memory(State *S, PosIdx pos, size_t n) {
    fl_error_clear(&S->err);
    if (S->arena.limit)
        fl_error_set(&S->err, FL_EEVAL,
                     "out of memory: the evaluation would need more than its limit of %zu MiB "
                     "(%zu MiB in use, %zu MiB more asked for)",
                     S->arena.limit >> 20, S->arena.total >> 20, (n + (1u << 20) - 1) >> 20);
    else
        fl_error_set(&S->err, FL_EEVAL, "out of memory: the system refused %zu MiB more",
                     (n + (1u << 20) - 1) >> 20);
    lang_err_set_pos(S, &S->err, pos);
    fl_error_set_hint(&S->err, "set FLAKECTL_MAX_MEMORY (e.g. 8G, or 0 for no limit) to change "
                               "the limit, or look here for a value that grows without bound");
    S->errkind = ERR_OTHER;
    capture_frames(S);
    lang_rethrow(S);
}

void lang_rethrow(State *S) {
    if (!S->catch_)
        abort(); /* a bug: evaluation outside any API entry point */
    longjmp(S->catch_->jb, 1);
}

void lang_set_hint(State *S, const char *fmt, ...) {
    va_list ap;
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    va_start(ap, fmt);
    fl_strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    free(S->err.hint);
    S->err.hint = fl_strbuf_detach(&sb, NULL);
}

void lang_catch_end(State *S, Catch *c) {
    S->catch_ = c->prev;
}

void lang_catch_unwind(State *S, Catch *c) {
    /* Thunks left blackholed by the failed evaluation become thunks again, so forcing them
     * later re-raises the error instead of reporting infinite recursion. */
    while (S->nforcing > c->forcing_depth) {
        Value *v = S->forcing[--S->nforcing];
        if (v->type == V_BLACKHOLE)
            v->type = v->bh_from;
    }
    S->nframes = c->frame_depth;
    S->nregions = c->region_depth; /* regions the error left are kept, never released */
    lang_regions_recount(S);
    S->catch_ = c->prev;
}

static inline void push_frame(State *S, int kind, Sym sym, PosIdx pos) {
    if (UNLIKELY(S->nframes == S->capframes)) {
        S->capframes = S->capframes ? S->capframes * 2 : 256;
        S->frames = fl_xrealloc(S->frames, S->capframes * sizeof(Frame));
    }
    Frame *f = &S->frames[S->nframes++];
    f->kind = (uint8_t)kind;
    f->sym = sym;
    f->pos = pos;
    f->pos2 = 0;
    f->text = NULL;
}

void lang_push_text_frame(State *S, PosIdx pos, const char *text) {
    push_frame(S, FR_CTX, 0, pos);
    S->frames[S->nframes - 1].text = text;
}

/* ---- forcing ---- */

/* The blackholed cell keeps its thunk fields in a side record so a failed evaluation can
 * restore it even if the cell was partly overwritten. */
typedef struct Saved {
    Env *env;
    Expr *expr;
} Saved;

void lang_force_slow(State *S, Value *v, PosIdx pos) {
    if (v->type == V_READY) {
        v->type = V_INT; /* forcing it is all that was left (cheap_int) */
        return;
    }
    if (v->type == V_BLACKHOLE)
        lang_throw(S, pos, "infinite recursion encountered");
    lang_stack_check(S, pos);
    if (UNLIKELY(S->nforcing == S->capforcing)) {
        S->capforcing = S->capforcing ? S->capforcing * 2 : 1024;
        S->forcing = fl_xrealloc(S->forcing, S->capforcing * sizeof(Value *));
    }
    S->forcing[S->nforcing++] = v;
    if (v->type == V_THUNK) {
        Env *env = v->thunk.env;
        Expr *e = v->thunk.expr;
        v->type = V_BLACKHOLE;
        v->bh_from = V_THUNK;
        lang_eval(S, e, env, v);
        if (UNLIKELY(v->type == V_BLACKHOLE)) {
            /* cannot happen: eval always writes a value */
            v->type = V_THUNK;
        }
    } else {
        Value *l = v->app.left, *r = v->app.right;
        PosIdx at = v->n ? v->n : pos; /* where map/genList/... made this application */
        v->type = V_BLACKHOLE;
        v->bh_from = V_APP;
        Value tmp;
        push_frame(S, FR_APP, 0, at);
        lang_call_function(S, l, r, &tmp, at);
        S->nframes--;
        *v = tmp;
    }
    if (UNLIKELY(S->nregions))
        lang_region_barrier(S, v);
    S->nforcing--;
}

/* When an error unwinds through a blackholed cell whose fields were overwritten, the restore
 * in catch_unwind would produce garbage; eval never overwrites its destination before it is
 * done except through a final copy, so the fields survive. */

/* ---- variables ---- */

/* Not lexically bound and in no enclosing `with` set: suggest a close name from those sets. */
static NORETURN void undefined_with_var(State *S, Expr *e, Env *env) {
    const char *name = sym_name(S, e->var.name);
    const char *best = NULL;
    const char *label = NULL; /* the innermost labelled `with` set speaks for the error */
    Env *w = env;
    for (uint32_t l = e->var.level; l; l--)
        w = w->up;
    for (;;) {
        Value *v = w->v[0];
        if (v->type == V_ATTRS && (!best || (!label && v->attrs->label))) {
            Attrs *a = v->attrs;
            const char **cands = arena_alloc(&S->arena, (a->n + 1) * sizeof(char *));
            for (uint32_t i = 0; i < a->n; i++)
                cands[i] = sym_name(S, a->a[i].name);
            const char *b = lang_closest_name(S, name, cands, a->n);
            if (a->label && !label) {
                label = sym_name(S, a->label - 1);
                best = b;
            } else if (!best) {
                best = b;
            }
        }
        if (!w->prev_with)
            break;
        for (uint32_t l = w->prev_with; l; l--)
            w = w->up;
    }
    fl_error_clear(&S->err);
    if (label) {
        const char *sp = strchr(label, ' ');
        fl_error_set(&S->err, FL_EEVAL, "no %.*s '%s' in %s", (int)(sp - label), label, name,
                     sp + 1);
    } else {
        fl_error_set(&S->err, FL_EEVAL, "undefined variable '%s'", name);
    }
    lang_err_set_pos(S, &S->err, e->pos);
    if (best)
        fl_error_set_hint(&S->err, "did you mean '%s'?", best);
    S->errkind = ERR_OTHER;
    capture_frames(S);
    lang_rethrow(S);
}

/* A variable bound by a `with`: the sets of the enclosing with-envs, innermost first. */
static NOINLINE Value *lookup_with_var(State *S, Expr *e, Env *start, Env *env, int noeval) {
    for (;;) {
        Value *w = env->v[0];
        if (noeval && w->type != V_ATTRS)
            return NULL;
        force(S, w, e->pos);
        /* Nix 2.8 gives no position; docs/testing.md's rule puts it at the `with` keyword */
        if (w->type != V_ATTRS)
            lang_throw(S, (PosIdx)env->n, "value is %s while a set was expected",
                       lang_show_type(w));
        Attr *a = attrs_find_hinted(w->attrs, e->var.name, &e->var.displ);
        if (a)
            return a->value;
        if (!env->prev_with)
            undefined_with_var(S, e, start);
        for (uint32_t l = env->prev_with; l; l--)
            env = env->up;
    }
}

static inline Value *lookup_var(State *S, Expr *e, Env *env, int noeval) {
    Env *start = env;
    for (uint32_t l = e->var.level; l; l--)
        env = env->up;
    if (LIKELY(!e->flag))
        return env->v[e->var.displ];
    return lookup_with_var(S, e, start, env, noeval);
}

/* lang_eval of an operand: a constant or a lexically bound variable (most operands) is read
 * here instead of through a call. */
static inline void eval_operand(State *S, Expr *e, Env *env, Value *out) {
    if (e->kind == E_CONST) {
        *out = e->cval;
        return;
    }
    if (e->kind == E_VAR && !e->flag) {
        for (uint32_t l = e->var.level; l; l--)
            env = env->up;
        Value *v = env->v[e->var.displ];
        force(S, v, e->pos);
        *out = *v;
        return;
    }
    lang_eval(S, e, env, out);
}

/* The integer e denotes, when finding it forces nothing and cannot fail: integer constants,
 * variables bound to forced integers, and `-`, `*`, `/`, `+` of those (operators nested
 * depth levels below e). Such an expression is computed at once into a V_READY cell instead of a thunk
 * (lang_maybe_thunk): no error, non-termination or other effect can tell, and the cell still
 * prints as a thunk until something forces it, as Nix's would. That saves the evaluation
 * through a thunk and the environment it keeps alive: the `n - 1` of every recursive call.
 * Returns 0 when e is anything else or would fail (a division by zero stays a thunk that
 * fails when forced, as in Nix). */
static int cheap_int(Expr *e, Env *env, int depth, int64_t *out);

static inline int cheap_operand(Expr *e, Env *env, int depth, int64_t *out) {
    if (e->kind == E_CONST) {
        *out = e->cval.i;
        return e->cval.type == V_INT;
    }
    if (e->kind == E_VAR) {
        if (e->flag)
            return 0;
        for (uint32_t l = e->var.level; l; l--)
            env = env->up;
        const Value *v = env->v[e->var.displ]; /* NULL: a let or rec slot not yet made */
        if (!v || v->type != V_INT) /* not V_READY: forcing ours would force that one */
            return 0;
        *out = v->i;
        return 1;
    }
    return depth && cheap_int(e, env, depth - 1, out);
}

static int cheap_int(Expr *e, Env *env, int depth, int64_t *out) {
    Expr *ea, *eb;
    if (e->kind == E_CONCATSTRINGS) {
        if (e->cat.n != 2 || e->flag)
            return 0;
        ea = e->cat.parts[0];
        eb = e->cat.parts[1];
    } else if (e->kind == E_SUB || e->kind == E_MUL || e->kind == E_DIV) {
        ea = e->op.a;
        eb = e->op.b;
    } else {
        return 0;
    }
    int64_t a, b;
    if (!cheap_operand(ea, env, depth, &a) || !cheap_operand(eb, env, depth, &b))
        return 0;
    uint64_t x = (uint64_t)a, y = (uint64_t)b;
    switch (e->kind) {
    case E_SUB: *out = (int64_t)(x - y); return 1;
    case E_MUL: *out = (int64_t)(x * y); return 1;
    case E_CONCATSTRINGS: *out = (int64_t)(x + y); return 1;
    default:
        if (b == 0 || (b == -1 && a == INT64_MIN))
            return 0;
        *out = b == -1 ? (int64_t)(0 - x) : a / b;
        return 1;
    }
}

Value *lang_maybe_thunk(State *S, Expr *e, Env *env) {
    switch (e->kind) {
    case E_CONST:
        return &e->cval;
    case E_VAR: {
        Value *v = lookup_var(S, e, env, 1);
        if (v)
            return v;
        break;
    }
    case E_SUB:
    case E_MUL:
    case E_DIV:
    case E_CONCATSTRINGS: {
        int64_t i;
        if (cheap_int(e, env, 1, &i)) {
            Value *v = lang_alloc_value(S);
            v->type = V_READY;
            v->i = i;
            return v;
        }
        break;
    }
    default:
        break;
    }
    Value *t = lang_alloc_value(S);
    t->type = V_THUNK;
    t->thunk.env = env;
    t->thunk.expr = e;
    return t;
}

/* ---- typed forcing ---- */

int64_t lang_force_int(State *S, Value *v, PosIdx pos) {
    force(S, v, pos);
    if (v->type != V_INT)
        lang_throw(S, pos, "value is %s while an integer was expected", lang_show_type(v));
    return v->i;
}

double lang_force_float(State *S, Value *v, PosIdx pos) {
    force(S, v, pos);
    if (v->type == V_INT)
        return (double)v->i;
    if (v->type != V_FLOAT)
        lang_throw(S, pos, "value is %s while a float was expected", lang_show_type(v));
    return v->f;
}

int lang_force_bool(State *S, Value *v, PosIdx pos) {
    force(S, v, pos);
    if (v->type != V_BOOL)
        lang_throw(S, pos, "value is %s while a Boolean was expected", lang_show_type(v));
    return v->b;
}

Attrs *lang_force_attrs(State *S, Value *v, PosIdx pos) {
    force(S, v, pos);
    if (v->type != V_ATTRS)
        lang_throw(S, pos, "value is %s while a set was expected", lang_show_type(v));
    return v->attrs;
}

void lang_force_list(State *S, Value *v, PosIdx pos) {
    force(S, v, pos);
    if (v->type != V_LIST)
        lang_throw(S, pos, "value is %s while a list was expected", lang_show_type(v));
}

void lang_force_function(State *S, Value *v, PosIdx pos) {
    force(S, v, pos);
    if (v->type != V_LAMBDA && v->type != V_PRIMOP && v->type != V_PRIMOP_APP &&
        !(v->type == V_ATTRS && lang_attrs_find(v->attrs, S->s_functor)))
        lang_throw(S, pos, "value is %s while a function was expected", lang_show_type(v));
}

const char *lang_force_string(State *S, Value *v, PosIdx pos, size_t *len, const StrCtx **ctx) {
    force(S, v, pos);
    if (v->type != V_STRING)
        lang_throw(S, pos, "value is %s while a string was expected", lang_show_type(v));
    if (len)
        *len = v->n;
    if (ctx)
        *ctx = v->str.ctx;
    return lang_string_cstr(v);
}

const char *lang_force_string_noctx(State *S, Value *v, PosIdx pos, size_t *len) {
    const StrCtx *ctx;
    const char *s = lang_force_string(S, v, pos, len, &ctx);
    if (ctx)
        lang_throw(S, pos, "the string '%s' is not allowed to refer to a store path (such as '%s')",
                   s, lang_ctx_first(ctx));
    return s;
}

/* Nix keeps a string's context in a std::set: its messages name the smallest element. */
const char *lang_ctx_first(const StrCtx *ctx) {
    const char *m = ctx ? ctx->path : NULL;
    for (const StrCtx *c = ctx; c; c = c->next)
        if (strcmp(c->path, m) < 0)
            m = c->path;
    return m;
}

int lang_is_derivation(State *S, Value *v) {
    if (v->type != V_ATTRS)
        return 0;
    Attr *a = lang_attrs_find(v->attrs, S->s_type);
    if (!a)
        return 0;
    force(S, a->value, a->pos);
    return a->value->type == V_STRING && a->value->n == 10 &&
           !memcmp(a->value->str.s, "derivation", 10);
}

const StrCtx *lang_ctx_merge(State *S, const StrCtx *a, const StrCtx *b) {
    if (!a)
        return b;
    if (!b)
        return a;
    const StrCtx *r = b;
    for (const StrCtx *x = a; x; x = x->next) {
        int dup = 0;
        for (const StrCtx *y = b; y; y = y->next)
            if (!strcmp(x->path, y->path)) {
                dup = 1;
                break;
            }
        if (!dup) {
            StrCtx *n = arena_alloc(&S->arena, sizeof(StrCtx));
            n->path = x->path;
            n->next = r;
            r = n;
        }
    }
    return r;
}

size_t lang_format_int(char buf[LANG_INT_CHARS], int64_t i) {
    /* digits from the end; the magnitude as unsigned so INT64_MIN needs no special case */
    char tmp[LANG_INT_CHARS];
    uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    size_t k = sizeof tmp;
    do {
        tmp[--k] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (i < 0)
        tmp[--k] = '-';
    size_t n = sizeof tmp - k;
    memcpy(buf, tmp + k, n);
    buf[n] = '\0';
    return n;
}

static void fmt_float_tostring(char *buf, size_t n, double f) {
    snprintf(buf, n, "%f", f);
}

void lang_coerce_to_string(State *S, Value *v, PosIdx pos, int coerce_more, int copy_to_store,
                      AStr *out, const StrCtx **ctx) {
    force(S, v, pos);
    lang_stack_check(S, pos);
    switch (v->type) {
    case V_STRING:
        lang_astr_add(S, out, v->str.s, v->n);
        if (ctx)
            *ctx = lang_ctx_merge(S, *ctx, v->str.ctx);
        return;
    case V_PATH:
        if (copy_to_store) {
            const char *sp = lang_path_to_store(S, v->str.s, pos);
            astr_adds(S, out, sp);
            if (ctx) {
                StrCtx *c = arena_alloc(&S->arena, sizeof(StrCtx));
                c->path = sp;
                c->next = NULL;
                *ctx = lang_ctx_merge(S, *ctx, c);
            }
        } else {
            lang_astr_add(S, out, v->str.s, v->n);
        }
        return;
    case V_ATTRS: {
        Attr *a = lang_attrs_find(v->attrs, S->s_toString);
        if (a) {
            Value r;
            lang_call_function(S, a->value, v, &r, pos);
            lang_coerce_to_string(S, &r, pos, coerce_more, copy_to_store, out, ctx);
            return;
        }
        a = lang_attrs_find(v->attrs, S->s_outPath);
        if (a) {
            lang_coerce_to_string(S, a->value, pos, coerce_more, copy_to_store, out, ctx);
            return;
        }
        break;
    }
    default:
        break;
    }
    if (coerce_more) {
        char buf[64];
        switch (v->type) {
        case V_BOOL:
            if (v->b)
                lang_astr_addch(S, out, '1');
            return;
        case V_NULL:
            return;
        case V_INT:
            lang_astr_add(S, out, buf, lang_format_int(buf, v->i));
            return;
        case V_FLOAT:
            fmt_float_tostring(buf, sizeof buf, v->f);
            astr_adds(S, out, buf);
            return;
        case V_LIST:
            for (uint32_t i = 0; i < v->n; i++) {
                Value *e = v->elems[i];
                lang_coerce_to_string(S, e, pos, coerce_more, copy_to_store, out, ctx);
                if (i + 1 < v->n && !(e->type == V_LIST && e->n == 0))
                    lang_astr_addch(S, out, ' ');
            }
            return;
        default:
            break;
        }
    }
    lang_throw(S, pos, "cannot coerce %s to a string", lang_show_type(v));
}

static const char *coerce_to_path_ctx(State *S, Value *v, PosIdx pos, const StrCtx **ctx) {
    AStr s;
    lang_astr_init(S, &s, 64);
    lang_coerce_to_string(S, v, pos, 0, 0, &s, ctx);
    if (s.len == 0 || s.buf[0] != '/')
        lang_throw(S, pos, "string '%s' doesn't represent an absolute path", s.buf);
    return s.buf;
}

const char *lang_coerce_to_path(State *S, Value *v, PosIdx pos) {
    const StrCtx *ctx = NULL;
    return coerce_to_path_ctx(S, v, pos, &ctx);
}

/* The store path a context element refers to: a derivation's .drv for its outputs. */
static const char *ctx_store_path(const char *e) {
    if (e[0] == '=')
        return e + 1;
    if (e[0] == '!' && strchr(e + 1, '!'))
        return strchr(e + 1, '!') + 1;
    return e;
}

/* Nix realises a context before reading a path: every store path the string refers to must be
 * valid, the first invalid one (in its sorted order) is reported. Without a store, valid means
 * present. */
const char *lang_ctx_invalid_path(State *S, const StrCtx *ctx) {
    const char *bad = NULL;
    for (const StrCtx *c = ctx; c; c = c->next) {
        struct stat st;
        if (lstat(lang_read_path(S, ctx_store_path(c->path)), &st) != 0 &&
            (!bad || strcmp(c->path, bad) < 0))
            bad = c->path;
    }
    return bad ? ctx_store_path(bad) : NULL;
}

/* Nix 2.8 says where in its trace ("while realising the context of path ..." at the call)
 * and leaves the error itself unlocated; without frames the error is located there. */
NORETURN void lang_throw_unrealised(State *S, PosIdx pos, const char *path, const char *bad) {
    if (!S->cfg.frames)
        lang_throw(S, pos, "path '%s' is not valid", bad);
    char *text = arena_alloc(&S->arena, strlen(path) + 64);
    sprintf(text, "while realising the context of path '%s'", path);
    lang_push_text_frame(S, pos, text);
    lang_throw(S, 0, "path '%s' is not valid", bad);
}

const char *lang_realise_path(State *S, Value *v, PosIdx pos) {
    const StrCtx *ctx = NULL;
    const char *p = coerce_to_path_ctx(S, v, pos, &ctx);
    /* an output that is not there is built in the embedder's store (import from derivation);
     * the rest of the context must be valid as before */
    if (S->cfg.hooks.realise) {
        const StrCtx *rest = NULL;
        for (const StrCtx *c = ctx; c; c = c->next) {
            struct stat st;
            const char *drv = ctx_store_path(c->path);
            const char *real = NULL;
            if (c->path[0] == '!' && drv != c->path && lstat(p, &st) != 0)
                real = lang_realise_output(S, drv, p, pos);
            if (real) {
                p = real;
                continue;
            }
            StrCtx *k = arena_alloc(&S->arena, sizeof *k);
            k->path = c->path;
            k->next = rest;
            rest = k;
        }
        ctx = rest;
    }
    const char *bad = lang_ctx_invalid_path(S, ctx);
    if (bad)
        lang_throw_unrealised(S, pos, p, bad);
    return p;
}

void lang_warn(State *S, const char *fmt, ...) {
    AStr s;
    lang_astr_init(S, &s, 128);
    astr_adds(S, &s, "warning: ");
    char m[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    astr_adds(S, &s, m);
    if (S->cfg.trace)
        S->cfg.trace(S->cfg.trace_ctx, s.buf);
}

/* ---- equality and ordering ---- */

int lang_values_equal(State *S, Value *a, Value *b, PosIdx pos) {
    force(S, a, pos);
    force(S, b, pos);
    /* Nix treats one value cell as equal to itself, functions included */
    if (a == b)
        return 1;
    lang_stack_check(S, pos);
    if (a->type == V_INT && b->type == V_FLOAT)
        return (double)a->i == b->f;
    if (a->type == V_FLOAT && b->type == V_INT)
        return a->f == (double)b->i;
    if (a->type != b->type) {
        int fa = a->type >= V_LAMBDA, fb = b->type >= V_LAMBDA;
        if (!(fa && fb))
            return 0;
        return 0;
    }
    switch (a->type) {
    case V_INT: return a->i == b->i;
    case V_FLOAT: return a->f == b->f;
    case V_BOOL: return a->b == b->b;
    case V_NULL: return 1;
    case V_STRING:
    case V_PATH:
        return a->n == b->n && !memcmp(a->str.s, b->str.s, a->n);
    case V_LIST:
        if (a->n != b->n)
            return 0;
        for (uint32_t i = 0; i < a->n; i++)
            if (!lang_values_equal(S, a->elems[i], b->elems[i], pos))
                return 0;
        return 1;
    case V_ATTRS: {
        if (a->attrs == b->attrs)
            return 1;
        if (lang_is_derivation(S, a) && lang_is_derivation(S, b)) {
            Attr *x = lang_attrs_find(a->attrs, S->s_outPath), *y = lang_attrs_find(b->attrs, S->s_outPath);
            if (x && y)
                return lang_values_equal(S, x->value, y->value, pos);
        }
        if (a->attrs->n != b->attrs->n)
            return 0;
        for (uint32_t i = 0; i < a->attrs->n; i++) {
            if (a->attrs->a[i].name != b->attrs->a[i].name)
                return 0;
            if (!lang_values_equal(S, a->attrs->a[i].value, b->attrs->a[i].value, pos))
                return 0;
        }
        return 1;
    }
    default:
        return 0;
    }
}

int lang_compare_values(State *S, Value *a, Value *b, PosIdx pos) {
    force(S, a, pos);
    force(S, b, pos);
    lang_stack_check(S, pos);
    if (a->type == V_INT && b->type == V_INT)
        return a->i < b->i ? -1 : a->i > b->i;
    if ((a->type == V_INT || a->type == V_FLOAT) && (b->type == V_INT || b->type == V_FLOAT)) {
        double x = a->type == V_INT ? (double)a->i : a->f;
        double y = b->type == V_INT ? (double)b->i : b->f;
        return x < y ? -1 : x > y;
    }
    if (a->type != b->type)
        lang_throw(S, pos, "cannot compare %s with %s", lang_show_type(a), lang_show_type(b));
    if (a->type == V_STRING || a->type == V_PATH) {
        size_t n = a->n < b->n ? a->n : b->n;
        int c = memcmp(a->str.s, b->str.s, n);
        if (c)
            return c < 0 ? -1 : 1;
        return a->n < b->n ? -1 : a->n > b->n;
    }
    if (a->type == V_LIST) {
        for (uint32_t i = 0;; i++) {
            if (i == b->n)
                return i == a->n ? 0 : 1;
            if (i == a->n)
                return -1;
            if (!lang_values_equal(S, a->elems[i], b->elems[i], pos))
                return lang_compare_values(S, a->elems[i], b->elems[i], pos);
        }
    }
    lang_throw(S, pos, "cannot compare %s with %s", lang_show_type(a), lang_show_type(b));
}

/* ---- function calls ---- */

/* "'f' at file:1:9" or "anonymous function at file:1:2", as Nix names a lambda. */
static const char *lambda_desc(State *S, Expr *lam) {
    fl_lang_pos p;
    lang_pos_get(S, lam->pos, &p);
    AStr s;
    lang_astr_init(S, &s, 64);
    const char *file = p.file ? p.file : "?";
    if (!strcmp(file, "«string»"))
        file = "(string)";
    if (lam->lam.name)
        lang_astr_addf(S, &s, "'%s' at %s:%d:%d", sym_name(S, lam->lam.name), file, p.line, p.col);
    else
        lang_astr_addf(S, &s, "anonymous function at %s:%d:%d", file, p.line, p.col);
    return s.buf;
}

static NORETURN void bad_call_arg(State *S, Expr *lam, Attrs *args, PosIdx pos) {
    /* find the first argument the pattern does not name */
    for (uint32_t i = 0; i < args->n; i++) {
        int found = 0;
        for (uint32_t k = 0; k < lam->lam.nformals; k++)
            if (lam->lam.formals[k].name == args->a[i].name)
                found = 1;
        if (!found) {
            const char **cands = arena_alloc(&S->arena, (lam->lam.nformals + 1) * sizeof(char *));
            for (uint32_t k = 0; k < lam->lam.nformals; k++)
                cands[k] = sym_name(S, lam->lam.formals[k].name);
            const char *best =
                lang_nix_suggestions(S, sym_name(S, args->a[i].name), cands, lam->lam.nformals);
            fl_error_clear(&S->err);
            fl_error_set(&S->err, FL_EEVAL, "%s called with unexpected argument '%s'",
                         lambda_desc(S, lam), sym_name(S, args->a[i].name));
            lang_err_set_pos(S, &S->err, pos);
            if (best)
                fl_error_set_hint(&S->err, "Did you mean %s?", best);
            S->errkind = ERR_OTHER;
            capture_frames(S);
            lang_rethrow(S);
        }
    }
    lang_throw(S, pos, "internal error: argument check");
}

static void call_primop(State *S, const PrimOp *op, Value **args, Value *out, PosIdx pos) {
    Value tmp;
    if (op->ext) {
        /* native code may keep what it is given or makes (the module system's caches) */
        lang_regions_pin(S);
        fl_value *res = NULL;
        fl_error e = FL_ERROR_INIT;
        int rc = op->ext((fl_lang *)S, op->ud, (fl_value **)args, &res, &e);
        if (rc < 0 || !res) {
            fl_error_clear(&S->err);
            fl_error_move(&S->err, &e);
            if (!S->err.message)
                fl_error_set(&S->err, FL_EEVAL, "%s failed", op->name);
            if (!S->err.file)
                lang_err_set_pos(S, &S->err, pos);
            S->errkind = ERR_OTHER;
            capture_frames(S);
            lang_rethrow(S);
        }
        *out = res->v;
        return;
    }
    op->fn(S, args, &tmp, pos);
    *out = tmp;
}

/* The environment of a one-argument call (`x: body`), its slot filled at once: no clearing. */
static inline Env *alloc_env1(State *S, Env *up, Value *v0) {
    Env *e = arena_alloc(&S->arena, sizeof(Env) + sizeof(Value *));
    e->up = up;
    e->n = 1;
    e->is_with = 0;
    e->prev_with = 0;
    e->v[0] = v0;
    return e;
}

void lang_call_function(State *S, Value *fn, Value *arg, Value *out, PosIdx pos) {
    lang_stack_check(S, pos);
    force(S, fn, pos);
    switch (fn->type) {
    case V_LAMBDA: {
        Expr *lam = fn->lambda.fn;
        Env *env2;
        if (!lam->flag) {
            env2 = alloc_env1(S, fn->lambda.env, arg);
        } else {
            env2 = lang_alloc_env(S, lam->lam.envsize);
            env2->up = fn->lambda.env;
            uint32_t k = 0;
            force(S, arg, pos);
            if (arg->type != V_ATTRS)
                lang_throw(S, pos, "value is %s while a set was expected", lang_show_type(arg));
            Attrs *a = arg->attrs;
            if (lam->lam.arg)
                env2->v[k++] = arg;
            uint32_t matched = 0, from = 0;
            for (uint32_t i = 0; i < lam->lam.nformals; i++) {
                Formal *f = &lam->lam.formals[i];
                /* the formals are sorted by symbol as the set is: each search starts past
                 * where the last one ended */
                uint32_t lo = from, hi = a->n;
                while (lo < hi) {
                    uint32_t mid = (lo + hi) / 2;
                    if (a->a[mid].name < f->name)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                Attr *x = lo < a->n && a->a[lo].name == f->name ? &a->a[lo] : NULL;
                from = lo;
                if (x) {
                    env2->v[k++] = x->value;
                    matched++;
                } else if (f->def) {
                    env2->v[k++] = lang_maybe_thunk(S, f->def, env2);
                } else {
                    lang_throw(S, pos, "%s called without required argument '%s'",
                               lambda_desc(S, lam), sym_name(S, f->name));
                }
            }
            if (!lam->lam.ellipsis && matched < a->n)
                bad_call_arg(S, lam, a, pos);
        }
        push_frame(S, FR_CALL, lam->lam.name, pos);
        S->frames[S->nframes - 1].pos2 = lam->pos;
        lang_eval(S, lam->lam.body, env2, out);
        S->nframes--;
        return;
    }
    case V_PRIMOP: {
        const PrimOp *op = fn->primop;
        if (op->arity == 1) {
            call_primop(S, op, &arg, out, pos);
            return;
        }
        Value *f2 = lang_alloc_value(S);
        *f2 = *fn;
        out->type = V_PRIMOP_APP;
        out->app.left = f2;
        out->app.right = arg;
        return;
    }
    case V_PRIMOP_APP: {
        uint32_t have = 1;
        Value *p = fn->app.left;
        while (p->type == V_PRIMOP_APP) {
            have++;
            p = p->app.left;
        }
        const PrimOp *op = p->primop;
        if ((int)have + 1 < op->arity) {
            Value *f2 = lang_alloc_value(S);
            *f2 = *fn;
            out->type = V_PRIMOP_APP;
            out->app.left = f2;
            out->app.right = arg;
            return;
        }
        Value *args[8];
        args[have] = arg;
        p = fn;
        for (uint32_t i = have; i > 0; i--) {
            args[i - 1] = p->app.right;
            p = p->app.left;
        }
        call_primop(S, op, args, out, pos);
        return;
    }
    case V_ATTRS: {
        Attr *f = lang_attrs_find(fn->attrs, S->s_functor);
        if (f) {
            Value *self = lang_alloc_value(S);
            *self = *fn;
            Value tmp;
            lang_call_function(S, f->value, self, &tmp, pos);
            Value *t2 = lang_alloc_value(S);
            *t2 = tmp;
            lang_call_function(S, t2, arg, out, pos);
            return;
        }
        break;
    }
    default:
        break;
    }
    lang_throw(S, pos, "attempt to call something which is not a function but %s",
               lang_show_type(fn));
}

/* f a1 a2. The curried `a: b: body` (sort's and foldl''s usual functions) is entered in one
 * step: the two environments the two calls would make, the one frame the second call would
 * leave, and no closure value in between. Anything else is two calls; the partial result is
 * a temporary because no call keeps the function cell it is given (they copy it). */
/* A call Nix 2.8 makes without a call site (filter's predicate, genericClosure's operator):
 * its trace says "from call site" with no location. */
void lang_call_function_nosite(State *S, Value *fn, Value *arg, Value *out, PosIdx pos) {
    if (!S->cfg.frames) {
        lang_call_function(S, fn, arg, out, pos);
        return;
    }
    push_frame(S, FR_APP, 0, pos);
    lang_call_function(S, fn, arg, out, pos);
    S->nframes--;
}

void lang_call_function2(State *S, Value *fn, Value *a1, Value *a2, Value *out, PosIdx pos) {
    lang_stack_check(S, pos);
    force(S, fn, pos);
    if (fn->type == V_LAMBDA && !fn->lambda.fn->flag && fn->lambda.fn->lam.body->kind == E_LAMBDA &&
        !fn->lambda.fn->lam.body->flag) {
        Expr *outer = fn->lambda.fn, *inner = outer->lam.body;
        Env *e1 = alloc_env1(S, fn->lambda.env, a1);
        Env *e2 = alloc_env1(S, e1, a2);
        push_frame(S, FR_CALL, inner->lam.name, pos);
        S->frames[S->nframes - 1].pos2 = inner->pos;
        lang_eval(S, inner->lam.body, e2, out);
        S->nframes--;
        return;
    }
    Value tmp;
    lang_call_function(S, fn, a1, &tmp, pos);
    lang_call_function(S, &tmp, a2, out, pos);
}

/* ---- expressions ---- */

/* Names become C strings downstream (file names under /etc, account names), where a NUL
 * would cut them short: "a\0/../../x" would name /etc/a. */
Sym lang_sym_intern_name(State *S, const char *s, size_t len, PosIdx pos) {
    if (memchr(s, '\0', len))
        lang_throw(S, pos, "an attribute name contains a NUL byte");
    return lang_sym_intern(S, s, len);
}

static Sym attr_name_sym(State *S, AttrName *an, Env *env, PosIdx pos) {
    if (!an->expr)
        return an->sym;
    Value v;
    lang_eval(S, an->expr, env, &v);
    size_t len;
    const char *s = lang_force_string_noctx(S, &v, pos, &len);
    return lang_sym_intern_name(S, s, len, pos);
}

static NORETURN void missing_attr(State *S, Attrs *a, Sym name, PosIdx pos) {
    fl_error_clear(&S->err);
    const char *label = a->label ? sym_name(S, a->label - 1) : NULL;
    const char *sp = label ? strchr(label, ' ') : NULL;
    if (sp)
        fl_error_set(&S->err, FL_EEVAL, "no %.*s '%s' in %s", (int)(sp - label), label,
                     sym_name(S, name), sp + 1);
    else
        fl_error_set(&S->err, FL_EEVAL, "attribute '%s' missing", sym_name(S, name));
    lang_err_set_pos(S, &S->err, pos);
    const char **cands = arena_alloc(&S->arena, (a->n + 1) * sizeof(char *));
    for (uint32_t i = 0; i < a->n; i++)
        cands[i] = sym_name(S, a->a[i].name);
    /* a labelled set (a module's options, ...) gets flakectl's single closest name; any
     * other Nix 2.8's list */
    const char *best = label ? lang_closest_name(S, sym_name(S, name), cands, a->n)
                             : lang_nix_suggestions(S, sym_name(S, name), cands, a->n);
    if (best && label)
        fl_error_set_hint(&S->err, "did you mean '%s'?", best);
    else if (best)
        fl_error_set_hint(&S->err, "Did you mean %s?", best);
    S->errkind = ERR_OTHER;
    capture_frames(S);
    lang_rethrow(S);
}

static NOINLINE void push_sel_frame(State *S, Expr *e, Env *env) {
    push_frame(S, FR_SEL, 0, e->pos);
    S->frames[S->nframes - 1].sel = e;
    S->frames[S->nframes - 1].env = env;
}

static NOINLINE void eval_select(State *S, Expr *e, Env *env, Value *out) {
    Value tmp;
    Value *cur;
    PosIdx apos = 0;
    Expr *base = e->sel.e;
    if (base->kind == E_VAR) {
        cur = lookup_var(S, base, env, 0);
        if (!cur) {
            lang_eval(S, base, env, &tmp);
            cur = &tmp;
        }
    } else {
        lang_eval(S, base, env, &tmp);
        cur = &tmp;
    }
    /* With frames, one frame stands for the whole selection from the first attribute found
     * on, at the definition of the one reached last, as Nix 2.8 traces it. */
    size_t fi = SIZE_MAX;
    for (uint32_t i = 0; i < e->sel.n; i++) {
        AttrName *an = &e->sel.path[i];
        Sym name = attr_name_sym(S, an, env, e->pos);
        if (e->sel.def) {
            force(S, cur, e->pos);
            Attr *a;
            if (cur->type != V_ATTRS || !(a = attrs_find_hinted(cur->attrs, name, &an->hint))) {
                lang_eval(S, e->sel.def, env, out);
                if (fi != SIZE_MAX)
                    S->nframes--;
                return;
            }
            cur = a->value;
            apos = a->pos;
        } else {
            force(S, cur, e->pos);
            if (cur->type != V_ATTRS)
                lang_throw(S, e->pos, "value is %s while a set was expected", lang_show_type(cur));
            Attr *a = attrs_find_hinted(cur->attrs, name, &an->hint);
            if (!a)
                missing_attr(S, cur->attrs, name, e->pos);
            cur = a->value;
            apos = a->pos;
        }
        if (UNLIKELY(S->cfg.frames)) {
            if (fi == SIZE_MAX) {
                fi = S->nframes;
                push_sel_frame(S, e, env);
            }
            S->frames[fi].pos2 = apos;
        }
    }
    /* Nix forces the selected value at the attribute's own definition, so a cycle through
     * it is reported there */
    if (cur->type == V_BLACKHOLE && apos)
        lang_throw(S, apos, "infinite recursion encountered");
    if (cur->type <= V_BLACKHOLE) {
        if (fi == SIZE_MAX)
            push_frame(S, FR_ATTR,
                       e->sel.path[e->sel.n - 1].expr ? 0 : e->sel.path[e->sel.n - 1].sym, e->pos);
        lang_force_slow(S, cur, e->pos);
        if (fi == SIZE_MAX)
            S->nframes--;
    }
    if (fi != SIZE_MAX)
        S->nframes--;
    *out = *cur;
}

static NOINLINE void eval_hasattr(State *S, Expr *e, Env *env, Value *out) {
    Value tmp;
    lang_eval(S, e->sel.e, env, &tmp);
    Value *cur = &tmp;
    for (uint32_t i = 0; i < e->sel.n; i++) {
        AttrName *an = &e->sel.path[i];
        Sym name = attr_name_sym(S, an, env, e->pos);
        force(S, cur, e->pos);
        Attr *a;
        if (cur->type != V_ATTRS || !(a = attrs_find_hinted(cur->attrs, name, &an->hint))) {
            mk_bool(out, 0);
            return;
        }
        cur = a->value;
    }
    mk_bool(out, 1);
}

static void add_dynamic(State *S, Expr *e, Env *env, Attrs **ap) {
    Attrs *a = *ap;
    for (uint32_t i = 0; i < e->attrs.ndyn; i++) {
        DynAttr *d = &e->attrs.dyn[i];
        Value nv;
        lang_eval(S, d->name, env, &nv);
        force(S, &nv, d->pos);
        if (nv.type == V_NULL)
            continue;
        size_t len;
        const char *s = lang_force_string_noctx(S, &nv, d->pos, &len);
        Sym name = lang_sym_intern_name(S, s, len, d->pos);
        for (uint32_t k = 0; k < a->n; k++)
            if (a->a[k].name == name) {
                fl_lang_pos p;
                lang_pos_get(S, a->a[k].pos, &p);
                lang_throw(S, d->pos, "dynamic attribute '%s' already defined at %s:%d:%d", s,
                           p.file ? p.file : "?", p.line, p.col);
            }
        if (a->n == a->cap) {
            Attrs *na = lang_alloc_attrs(S, a->cap * 2 + 1);
            memcpy(na->a, a->a, a->n * sizeof(Attr));
            na->n = a->n;
            na->pos = a->pos;
            a = na;
        }
        a->a[a->n].name = name;
        a->a[a->n].pos = d->pos;
        a->a[a->n].value = lang_maybe_thunk(S, d->value, env);
        a->n++;
    }
    lang_attrs_sort(a);
    *ap = a;
}

/* The legacy `rec { __overrides = { ... }; }`: its attributes replace the set's own (also
 * where the other attributes refer to them) or join it. Like Nix, forced when the set is. */
static void apply_overrides(State *S, Expr *e, Env *inner, Attrs **ap) {
    Sym s_overrides = lang_sym_intern(S, "__overrides", 11);
    Attrs *a = *ap;
    AttrDef *od = NULL;
    for (uint32_t i = 0; i < e->attrs.ndefs && !od; i++)
        if (e->attrs.defs[i].name == s_overrides)
            od = &e->attrs.defs[i];
    Attrs *o = lang_force_attrs(S, inner->v[od->displ], od->pos);
    Attrs *r = lang_alloc_attrs(S, a->n + o->n + e->attrs.ndyn);
    memcpy(r->a, a->a, a->n * sizeof(Attr));
    r->n = a->n;
    r->pos = a->pos;
    for (uint32_t i = 0; i < o->n; i++) {
        AttrDef *d = NULL;
        for (uint32_t k = 0; k < e->attrs.ndefs && !d; k++)
            if (e->attrs.defs[k].name == o->a[i].name)
                d = &e->attrs.defs[k];
        if (d) {
            *lang_attrs_find(r, o->a[i].name) = o->a[i];
            inner->v[d->displ] = o->a[i].value;
        } else {
            r->a[r->n++] = o->a[i];
        }
    }
    lang_attrs_sort(r);
    *ap = r;
}

static NOINLINE void eval_attrs(State *S, Expr *e, Env *env, Value *out) {
    uint32_t n = e->attrs.ndefs;
    Attrs *a = lang_alloc_attrs(S, n + e->attrs.ndyn);
    a->n = n;
    a->pos = e->pos;
    Env *inner = env;
    if (e->flag) {
        inner = lang_alloc_env(S, n);
        inner->up = env;
    }
    for (uint32_t i = 0; i < n; i++) {
        AttrDef *d = &e->attrs.defs[i];
        Value *v;
        if (UNLIKELY(e->flag & 2) && !d->inherited) {
            /* with __overrides every own attribute is a thunk of its own (as in Nix): one
               naming another must see the other's override, not share its cell */
            v = lang_alloc_value(S);
            v->type = V_THUNK;
            v->thunk.env = inner;
            v->thunk.expr = d->e;
        } else {
            v = lang_maybe_thunk(S, d->e, (d->inherited || !e->flag) ? env : inner);
        }
        if (e->flag)
            inner->v[d->displ] = v;
        a->a[i].name = d->name;
        a->a[i].pos = d->pos;
        a->a[i].value = v;
    }
    lang_attrs_sort(a);
    if (UNLIKELY(e->flag & 2))
        apply_overrides(S, e, inner, &a);
    if (e->attrs.ndyn)
        add_dynamic(S, e, inner, &a);
    out->type = V_ATTRS;
    out->attrs = a;
}

/* The environment of a let's body. */
static Env *eval_let(State *S, Expr *e, Env *env) {
    uint32_t n = e->attrs.ndefs;
    Env *inner = lang_alloc_env(S, n);
    inner->up = env;
    for (uint32_t i = 0; i < n; i++) {
        AttrDef *d = &e->attrs.defs[i];
        inner->v[d->displ] = lang_maybe_thunk(S, d->e, d->inherited ? env : inner);
    }
    return inner;
}

static NOINLINE void eval_update(State *S, Value *a, Value *b, Value *out, PosIdx pos) {
    Attrs *x = lang_force_attrs(S, a, pos), *y = lang_force_attrs(S, b, pos);
    if (y->n == 0) {
        *out = *a;
        return;
    }
    if (x->n == 0) {
        *out = *b;
        return;
    }
    Attrs *r = lang_alloc_attrs(S, x->n + y->n);
    uint32_t i = 0, j = 0, k = 0;
    while (i < x->n && j < y->n) {
        if (x->a[i].name < y->a[j].name)
            r->a[k++] = x->a[i++];
        else if (x->a[i].name > y->a[j].name)
            r->a[k++] = y->a[j++];
        else {
            r->a[k++] = y->a[j++];
            i++;
        }
    }
    while (i < x->n)
        r->a[k++] = x->a[i++];
    while (j < y->n)
        r->a[k++] = y->a[j++];
    r->n = k;
    out->type = V_ATTRS;
    out->attrs = r;
}

static NOINLINE void eval_concat_lists(State *S, Value *a, Value *b, Value *out, PosIdx pos) {
    lang_force_list(S, a, pos);
    lang_force_list(S, b, pos);
    if (a->n == 0) {
        *out = *b;
        return;
    }
    if (b->n == 0) {
        *out = *a;
        return;
    }
    Value r;
    lang_mk_list(S, &r, a->n + b->n);
    memcpy(r.elems, a->elems, a->n * sizeof(Value *));
    memcpy(r.elems + a->n, b->elems, b->n * sizeof(Value *));
    *out = r;
}

/* pre: the first npre parts, already evaluated (lang_eval's integer fast path). */
static NOINLINE void eval_concat_strings(State *S, Expr *e, Env *env, Value *out, const Value *pre,
                                         uint32_t npre) {
    int first = !e->flag;
    int ftype = V_STRING;
    int64_t n = 0;
    double nf = 0;
    AStr s;
    s.buf = NULL;
    const StrCtx *ctx = NULL;
    /* Fast path: every part a string (the common "${a}-${b}" and a + b): one exact
     * allocation. Parts are evaluated in order either way, so errors come out the same. */
    Value small[8];
    uint32_t np = e->cat.n;
    uint32_t done = 0;
    for (uint32_t i = 0; i < npre; i++)
        small[i] = pre[i];
    if (np <= 8) {
        size_t total = 0;
        for (; done < np; done++) {
            if (done >= npre)
                lang_eval(S, e->cat.parts[done], env, &small[done]);
            if (small[done].type != V_STRING || (done == 0 && first && 0))
                break;
            total += small[done].n;
        }
        if (done == np) {
            if (total >= UINT32_MAX)
                lang_out_of_memory(S, e->pos, total);
            Value *a = &small[0];
            char *buf;
            uint32_t from = 0; /* parts before it are in buf already */
            if (a->sbuf == SBUF_HDR && strbuf_of(a->str.s)->used == a->n &&
                strbuf_of(a->str.s)->cap > total) {
                /* a ends its buffer: the rest goes after it, a's bytes are shared */
                buf = (char *)a->str.s;
                strbuf_of(buf)->used = (uint32_t)total;
                from = 1;
            } else if (a->sbuf != SBUF_NONE) {
                buf = lang_strbuf_new(S, total); /* a is grown again: room to grow */
            } else {
                buf = arena_alloc(&S->arena, total + 1);
            }
            size_t k = from ? a->n : 0;
            for (uint32_t i = from; i < np; i++) {
                memcpy(buf + k, small[i].str.s, small[i].n);
                k += small[i].n;
            }
            for (uint32_t i = 0; i < np; i++)
                if (small[i].str.ctx)
                    ctx = lang_ctx_merge(S, ctx, small[i].str.ctx);
            buf[k] = '\0';
            lang_mk_string(S, out, buf, k, ctx);
            out->sbuf = a->sbuf == SBUF_NONE ? SBUF_CAT : SBUF_HDR;
            return;
        }
        done++; /* small[0..done) are evaluated */
        if (done < npre)
            done = npre;
    }
    for (uint32_t i = 0; i < np; i++) {
        Value tmp;
        PosIdx ppos = e->cat.ppos[i];
        if (i < done)
            tmp = small[i];
        else
            lang_eval(S, e->cat.parts[i], env, &tmp);
        if (first)
            ftype = tmp.type;
        if (ftype == V_INT) {
            if (tmp.type == V_INT)
                n = (int64_t)((uint64_t)n + (uint64_t)tmp.i);
            else if (tmp.type == V_FLOAT) {
                ftype = V_FLOAT;
                nf = (double)n + tmp.f;
            } else
                lang_throw(S, ppos, "cannot add %s to an integer", lang_show_type(&tmp));
        } else if (ftype == V_FLOAT) {
            if (tmp.type == V_INT)
                nf += (double)tmp.i;
            else if (tmp.type == V_FLOAT)
                nf += tmp.f;
            else
                lang_throw(S, ppos, "cannot add %s to a float", lang_show_type(&tmp));
        } else {
            if (!s.buf)
                lang_astr_init(S, &s, 64);
            lang_coerce_to_string(S, &tmp, ppos, 0, ftype == V_STRING, &s, &ctx);
        }
        first = 0;
    }
    if (ftype == V_INT)
        mk_int(out, n);
    else if (ftype == V_FLOAT)
        mk_float(out, nf);
    else if (ftype == V_PATH) {
        if (ctx)
            lang_throw(S, e->pos, "a string that refers to a store path cannot be appended to a path");
        char *c = fl_canon_path(s.buf, "/");
        lang_mk_path(S, out, c);
        free(c);
    } else {
        lang_mk_string(S, out, s.buf, s.len, ctx);
        out->sbuf = SBUF_CAT;
    }
}

/* A chain of unary minus ("- - - x", 0 - (0 - (0 - x))): x is evaluated once and the
 * subtractions applied in a loop, so 100k of them need neither 100k C frames nor the stack
 * budget. Each step is exactly what eval_arith does for one of them. */
static void eval_negations(State *S, Expr *e, Env *env, Value *out) {
    size_t n = 0;
    Expr *inner = e, *x = e;
    while (x->kind == E_SUB && x->flag == 1) {
        inner = x;
        x = x->op.b;
        n++;
    }
    Value v;
    lang_eval(S, x, env, &v);
    if (v.type != V_INT && v.type != V_FLOAT)
        lang_throw(S, inner->pos, "value is %s while an integer was expected", lang_show_type(&v));
    for (size_t k = 0; k < n; k++) {
        if (v.type == V_INT)
            v.i = (int64_t)(0 - (uint64_t)v.i);
        else
            v.f = 0.0 - v.f;
    }
    *out = v;
}

static void eval_arith(State *S, Expr *e, Env *env, Value *out) {
    if (e->kind == E_SUB && e->flag == 1) {
        eval_negations(S, e, env, out);
        return;
    }
    Value a, b;
    eval_operand(S, e->op.a, env, &a);
    eval_operand(S, e->op.b, env, &b);
    /* like Nix: one float operand makes both operands expected to be floats */
    const char *want = (a.type == V_FLOAT || b.type == V_FLOAT) ? "a float" : "an integer";
    if (a.type != V_INT && a.type != V_FLOAT)
        lang_throw(S, e->pos, "value is %s while %s was expected", lang_show_type(&a), want);
    if (b.type != V_INT && b.type != V_FLOAT)
        lang_throw(S, e->pos, "value is %s while %s was expected", lang_show_type(&b), want);
    if (a.type == V_INT && b.type == V_INT) {
        uint64_t x = (uint64_t)a.i, y = (uint64_t)b.i;
        switch (e->kind) {
        case E_SUB: mk_int(out, (int64_t)(x - y)); return;
        case E_MUL: mk_int(out, (int64_t)(x * y)); return;
        default:
            if (b.i == 0)
                lang_throw(S, e->pos, "division by zero");
            if (b.i == -1 && a.i == INT64_MIN)
                lang_throw(S, e->pos, "overflow in integer division");
            if (b.i == -1)
                mk_int(out, (int64_t)(0 - x));
            else
                mk_int(out, a.i / b.i);
            return;
        }
    }
    double x = a.type == V_INT ? (double)a.i : a.f, y = b.type == V_INT ? (double)b.i : b.f;
    switch (e->kind) {
    case E_SUB: mk_float(out, x - y); return;
    case E_MUL: mk_float(out, x * y); return;
    default:
        if (y == 0)
            lang_throw(S, e->pos, "division by zero");
        mk_float(out, x / y);
        return;
    }
}

static int eval_bool(State *S, Expr *e, Env *env, PosIdx pos) {
    Value v;
    lang_eval(S, e, env, &v);
    if (v.type != V_BOOL)
        lang_throw(S, pos, "value is %s while a Boolean was expected", lang_show_type(&v));
    return v.b;
}

static NOINLINE void eval_curpos(State *S, Expr *e, Value *out) {
    fl_lang_pos p;
    lang_pos_get(S, e->pos, &p);
    const char *file = lang_pos_value_file(S, e->pos);
    Attrs *a = lang_alloc_attrs(S, 3);
    Value *f = lang_alloc_value(S), *l = lang_alloc_value(S), *c = lang_alloc_value(S);
    lang_mk_string_copy(S, f, file ? file : "", file ? strlen(file) : 0, NULL);
    mk_int(l, p.line);
    mk_int(c, p.col);
    a->a[0] = (Attr){S->s_file, e->pos, f};
    a->a[1] = (Attr){S->s_line, e->pos, l};
    a->a[2] = (Attr){S->s_column, e->pos, c};
    a->n = 3;
    lang_attrs_sort(a);
    out->type = V_ATTRS;
    out->attrs = a;
}

void lang_eval(State *S, Expr *e, Env *env, Value *out) {
    /* the operands of every case: one pair, so that a sanitizer build (which gives each
     * local its own slot and guard zones) keeps this recursive frame small */
    Value ab[2];
    Value *const a = &ab[0], *const b = &ab[1];
again:
    /* deeply nested expressions recurse here without forcing or calling anything */
    if (UNLIKELY(stack_exceeded(S)))
        stack_overflow(S, e->pos);
    switch (e->kind) {
    case E_CONST:
        *out = e->cval;
        return;
    case E_VAR: {
        Value *v = lookup_var(S, e, env, 0);
        force(S, v, e->pos);
        *out = *v;
        return;
    }
    case E_SELECT:
        eval_select(S, e, env, out);
        return;
    case E_HASATTR:
        eval_hasattr(S, e, env, out);
        return;
    case E_ATTRS:
        eval_attrs(S, e, env, out);
        return;
    case E_LET:
        env = eval_let(S, e, env);
        e = e->attrs.body;
        goto again;
    case E_LIST: {
        uint32_t n = e->list.n;
        Value **elems = lang_alloc_elems(S, n);
        for (uint32_t i = 0; i < n; i++)
            elems[i] = lang_maybe_thunk(S, e->list.elems[i], env);
        out->type = V_LIST;
        out->n = n;
        out->elems = elems;
        return;
    }
    case E_LAMBDA:
        out->type = V_LAMBDA;
        out->lambda.env = env;
        out->lambda.fn = e;
        return;
    case E_CALL: {
        Value *fn;
        Expr *f = e->op.a;
        S->last_call_pos = e->pos;
        if (f->kind == E_VAR && (fn = lookup_var(S, f, env, 0)) != NULL) {
            force(S, fn, f->pos);
        } else {
            lang_eval(S, f, env, a);
            fn = a;
        }
        lang_call_function(S, fn, lang_maybe_thunk(S, e->op.b, env), out, e->pos);
        return;
    }
    case E_WITH: {
        Env *inner = alloc_env1(S, env, lang_maybe_thunk(S, e->op.a, env));
        inner->is_with = 1;
        inner->n = e->pos;
        inner->prev_with = (uint16_t)e->op.prev_with;
        e = e->op.b;
        env = inner;
        goto again;
    }
    case E_IF:
        e = eval_bool(S, e->op.a, env, e->pos) ? e->op.b : e->op.c;
        goto again;
    case E_ASSERT:
        if (!eval_bool(S, e->op.a, env, e->pos))
            lang_throw_kind(S, ERR_ASSERT, e->pos, "assertion '%s' failed", e->op.text);
        e = e->op.b;
        goto again;
    case E_NOT:
        mk_bool(out, !eval_bool(S, e->op.a, env, e->pos));
        return;
    case E_EQ:
    case E_NEQ: {
        eval_operand(S, e->op.a, env, a);
        eval_operand(S, e->op.b, env, b);
        int eq = lang_values_equal(S, a, b, e->pos);
        mk_bool(out, e->kind == E_EQ ? eq : !eq);
        return;
    }
    case E_AND:
        mk_bool(out, eval_bool(S, e->op.a, env, e->pos) && eval_bool(S, e->op.b, env, e->pos));
        return;
    case E_OR:
        mk_bool(out, eval_bool(S, e->op.a, env, e->pos) || eval_bool(S, e->op.b, env, e->pos));
        return;
    case E_IMPL:
        mk_bool(out, !eval_bool(S, e->op.a, env, e->pos) || eval_bool(S, e->op.b, env, e->pos));
        return;
    case E_UPDATE: {
        lang_eval(S, e->op.a, env, a);
        lang_eval(S, e->op.b, env, b);
        eval_update(S, a, b, out, e->pos);
        return;
    }
    case E_CONCATLISTS: {
        lang_eval(S, e->op.a, env, a);
        lang_eval(S, e->op.b, env, b);
        eval_concat_lists(S, a, b, out, e->pos);
        return;
    }
    case E_LT: {
        eval_operand(S, e->op.a, env, a);
        eval_operand(S, e->op.b, env, b);
        int c;
        if (a->type == V_INT && b->type == V_INT)
            c = (e->flag & 1) ? b->i < a->i : a->i < b->i;
        else
            c = (e->flag & 1) ? lang_compare_values(S, b, a, e->pos) < 0
                              : lang_compare_values(S, a, b, e->pos) < 0;
        mk_bool(out, (e->flag & 2) ? !c : c);
        return;
    }
    case E_SUB:
    case E_MUL:
    case E_DIV:
        eval_arith(S, e, env, out);
        return;
    case E_CONCATSTRINGS:
        if (e->cat.n == 2 && !e->flag) {
            /* a + b on integers, the inner loop of every numeric fold */
            eval_operand(S, e->cat.parts[0], env, &ab[0]);
            if (ab[0].type != V_INT) {
                eval_concat_strings(S, e, env, out, ab, 1);
                return;
            }
            eval_operand(S, e->cat.parts[1], env, &ab[1]);
            if (ab[1].type != V_INT) {
                eval_concat_strings(S, e, env, out, ab, 2);
                return;
            }
            mk_int(out, (int64_t)((uint64_t)ab[0].i + (uint64_t)ab[1].i));
            return;
        }
        eval_concat_strings(S, e, env, out, NULL, 0);
        return;
    case E_CURPOS:
        eval_curpos(S, e, out);
        return;
    default:
        lang_throw(S, e->pos, "internal error: unknown expression kind %d", e->kind);
    }
}

/* ---- deep forcing ---- */

int lang_ptrset_add(State *S, PtrSet *ps, const void *p) {
    if (ps->n * 2 >= ps->cap) {
        size_t ncap = ps->cap ? ps->cap * 2 : 256;
        const void **ns = lang_arena_zalloc(&S->arena, ncap * sizeof(void *));
        for (size_t i = 0; i < ps->cap; i++)
            if (ps->slots[i]) {
                size_t h = ((uintptr_t)ps->slots[i] >> 3) * 0x9E3779B97F4A7C15ull & (ncap - 1);
                while (ns[h])
                    h = (h + 1) & (ncap - 1);
                ns[h] = ps->slots[i];
            }
        ps->slots = ns;
        ps->cap = ncap;
    }
    size_t h = ((uintptr_t)p >> 3) * 0x9E3779B97F4A7C15ull & (ps->cap - 1);
    while (ps->slots[h]) {
        if (ps->slots[h] == p)
            return 0;
        h = (h + 1) & (ps->cap - 1);
    }
    ps->slots[h] = p;
    ps->n++;
    return 1;
}

static void force_deep_rec(State *S, Value *v, PosIdx pos, PtrSet *seen) {
    force(S, v, pos);
    if (v->type != V_ATTRS && v->type != V_LIST)
        return;
    if (!lang_ptrset_add(S, seen, v))
        return;
    lang_stack_check(S, pos);
    if (v->type == V_ATTRS) {
        Attrs *a = v->attrs;
        for (uint32_t i = 0; i < a->n; i++) {
            /* Nix traces every attribute it recurses into, evaluated or not */
            if (a->a[i].value->type <= V_BLACKHOLE || S->cfg.frames) {
                push_frame(S, FR_ATTR, a->a[i].name, a->a[i].pos);
                force_deep_rec(S, a->a[i].value, a->a[i].pos, seen);
                S->nframes--;
            } else {
                force_deep_rec(S, a->a[i].value, a->a[i].pos, seen);
            }
        }
    } else {
        for (uint32_t i = 0; i < v->n; i++)
            force_deep_rec(S, v->elems[i], pos, seen);
    }
}

void lang_force_deep(State *S, Value *v, PosIdx pos) {
    PtrSet seen = {0};
    force_deep_rec(S, v, pos, &seen);
}

/* ---- imports ---- */

static uint32_t add_file(State *S, const char *path, const char *dir) {
    if (S->nfiles == S->capfiles) {
        S->capfiles = S->capfiles ? S->capfiles * 2 : 16;
        S->files = fl_xrealloc(S->files, S->capfiles * sizeof(FileEntry));
    }
    FileEntry *f = &S->files[S->nfiles];
    memset(f, 0, sizeof(*f));
    f->path = fl_xstrdup(path);
    f->dir = fl_xstrdup(dir);
    return S->nfiles++;
}

uint32_t lang_add_source(State *S, const char *name, const char *dir);
uint32_t lang_add_source(State *S, const char *name, const char *dir) {
    return add_file(S, name, dir);
}

/* The import cache is looked up by path for every import; a linear scan made evaluating
 * thousands of module files quadratic. */
static uint32_t path_hash(const char *s) {
    return lang_hash_bytes(s, strlen(s));
}

static uint32_t import_find(State *S, const char *canon) {
    if (!S->capimport)
        return 0;
    uint32_t mask = S->capimport - 1;
    for (uint32_t j = path_hash(canon) & mask;; j = (j + 1) & mask) {
        uint32_t slot = S->import_slots[j];
        if (!slot)
            return 0;
        if (!strcmp(S->files[slot - 1].path, canon))
            return slot;
    }
}

static void import_add(State *S, uint32_t fid) {
    if (2 * (S->nimport + 1) > S->capimport) {
        uint32_t cap = S->capimport ? S->capimport * 2 : 256;
        uint32_t *slots = fl_xcalloc(cap, sizeof *slots);
        for (uint32_t i = 0; i < S->capimport; i++) {
            uint32_t slot = S->import_slots[i];
            if (!slot)
                continue;
            uint32_t j = path_hash(S->files[slot - 1].path) & (cap - 1);
            while (slots[j])
                j = (j + 1) & (cap - 1);
            slots[j] = slot;
        }
        free(S->import_slots);
        S->import_slots = slots;
        S->capimport = cap;
    }
    uint32_t mask = S->capimport - 1;
    uint32_t j = path_hash(S->files[fid].path) & mask;
    while (S->import_slots[j])
        j = (j + 1) & mask;
    S->import_slots[j] = fid + 1;
    S->nimport++;
}

/* Reads a source file into a buffer of its exact size. fl_read_file reserves 64 KiB more
 * than the file for every read; with thousands of small modules kept for error positions that
 * was most of the evaluator's system time (heap growth and page faults), hence this. */
static int read_source(const char *path, char **data, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        fl_error e = FL_ERROR_INIT;
        int rc = fl_read_file(path, data, len, &e);
        fl_error_clear(&e);
        return rc;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = fl_xmalloc(cap);
    for (;;) {
        if (n + 1 == cap) {
            cap *= 2;
            buf = fl_xrealloc(buf, cap);
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

/* The file a path imports: itself, or its default.nix when it is a directory (malloc'd). */
static char *import_target(const char *path, int *in_dir) {
    char *canon = fl_canon_path(path, "/");
    *in_dir = fl_is_dir(canon);
    if (*in_dir) {
        char *d = fl_path_join(canon, "default.nix");
        free(canon);
        canon = d;
    }
    return canon;
}

/* Reads and parses a file (canon is consumed; in_dir: it is the default.nix of the directory
 * imported) into a new file entry; scope names the variables of scopedImport's extra scope
 * (nscope 0 = none). */
static Expr *load_file(State *S, char *canon, int in_dir, PosIdx pos, const Sym *scope,
                       uint32_t nscope, uint32_t *fid_out) {
    char *data = NULL;
    size_t len = 0;
    if (S->cfg.hooks.check_path && !lang_path_visible(S, canon)) {
        char *c = lang_arena_strndup(&S->arena, canon, strlen(canon));
        free(canon);
        lang_check_path(S, c, pos);
        lang_throw(S, pos, "cannot read '%s'", c); /* the hook changed its mind */
    }
    if (read_source(lang_read_path(S, canon), &data, &len) < 0) {
        char *msg = lang_arena_strndup(&S->arena, canon, strlen(canon));
        free(canon);
        /* Nix 2.8 stats the path it was given, then opens the default.nix of a directory */
        lang_throw(S, pos, "%s '%s': No such file or directory",
                   in_dir ? "opening file" : "getting status of", msg);
    }
    char *dir = fl_xstrdup(canon);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    else if (slash)
        slash[1] = '\0';
    uint32_t fid = add_file(S, canon, dir);
    free(canon);
    lang_regions_pin(S); /* the import cache keeps the file's syntax tree and value */
    S->files[fid].src = data;
    S->files[fid].srclen = len;
    Expr *ex = lang_parse_source_scoped(S, data, len, fid, dir, scope, nscope);
    free(dir);
    if (!ex) {
        S->errkind = ERR_OTHER;
        capture_frames(S);
        lang_rethrow(S);
    }
    *fid_out = fid;
    return ex;
}

void lang_eval_file(State *S, const char *path, Value *out, PosIdx pos) {
    int in_dir;
    char *canon = import_target(path, &in_dir);
    uint32_t cached = import_find(S, canon);
    if (cached) {
        free(canon);
        Value *v = S->files[cached - 1].value;
        force(S, v, pos);
        *out = *v;
        return;
    }
    uint32_t fid;
    Expr *ex = load_file(S, canon, in_dir, pos, NULL, 0, &fid);
    Value *v = lang_alloc_value(S);
    v->type = V_THUNK;
    v->thunk.env = S->base_env;
    v->thunk.expr = ex;
    S->files[fid].value = v;
    import_add(S, fid);
    push_frame(S, FR_IMPORT, 0, pos);
    S->frames[S->nframes - 1].text = S->files[fid].path;
    force(S, v, pos);
    S->nframes--;
    *out = *v;
}

/* scopedImport: the file evaluated (never cached) with the attributes of scope as variables
 * between it and the base scope, so they shadow builtins such as import. */
void lang_eval_file_scoped(State *S, const char *path, Attrs *scope, Value *out, PosIdx pos) {
    int in_dir;
    char *canon = import_target(path, &in_dir);
    Sym *names = arena_alloc(&S->arena, (scope->n + 1) * sizeof(Sym));
    Env *env = lang_alloc_env(S, scope->n);
    env->up = S->base_env;
    for (uint32_t i = 0; i < scope->n; i++) {
        names[i] = scope->a[i].name;
        env->v[i] = scope->a[i].value;
    }
    uint32_t fid;
    Expr *ex = load_file(S, canon, in_dir, pos, names, scope->n, &fid);
    push_frame(S, FR_SCOPED, 0, pos);
    S->frames[S->nframes - 1].text = S->files[fid].path;
    lang_eval(S, ex, env, out);
    S->nframes--;
}
