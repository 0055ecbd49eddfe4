/* builtins.c - the builtins with Nix 2.8 semantics (`builtins.*` and the top-level ones),
 * the base scope (true, false, null, builtins, map, toString, ...) and the regex cache.
 * Never prints: trace goes to the configured sink (fl_lang_config.trace), or nowhere. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/store.h"
#include "lang/internal.h"
#include "lang/regex.h"

#define PRIM(name) static void prim_##name(State *S, Value **args, Value *out, PosIdx pos)

struct RegexCache {
    char *src;
    regex_t re;
    fl_lang_regex *fast; /* NULL: syntax regex.c leaves to glibc */
};

/* A run of quantifiers (`a++`, `a+*?`) means one quantifier: `+` when the run is all `+`,
   `?` when all `?`, `*` otherwise. glibc duplicates the operand for every `+` of a run, so
   `a` followed by 20 `+` took 9 s and 700 MB to compile, where Nix (libstdc++) answers at
   once. Escapes and bracket expressions are copied as they are. */
static char *collapse_quantifier_runs(const char *src) {
    size_t n = strlen(src);
    char *out = fl_xmalloc(n + 1);
    size_t o = 0;
    int in_bracket = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (in_bracket) {
            out[o++] = c;
            if (c == '[' && (src[i + 1] == ':' || src[i + 1] == '=' || src[i + 1] == '.')) {
                const char *close = strstr(src + i + 2, src[i + 1] == ':' ? ":]" : src[i + 1] == '=' ? "=]" : ".]");
                if (close) {
                    size_t end = (size_t)(close - src) + 2;
                    memcpy(out + o, src + i + 1, end - i - 1);
                    o += end - i - 1;
                    i = end - 1;
                }
            } else if (c == ']' && !(i > 0 && (src[i - 1] == '[' || (src[i - 1] == '^' && i > 1 && src[i - 2] == '[')))) {
                in_bracket = 0;
            }
            continue;
        }
        if (c == '\\' && i + 1 < n) {
            out[o++] = c;
            out[o++] = src[++i];
            continue;
        }
        if (c == '[') {
            in_bracket = 1;
            out[o++] = c;
            continue;
        }
        if ((c == '*' || c == '+' || c == '?') && o > 0 && i > 0 &&
            (src[i - 1] == '*' || src[i - 1] == '+' || src[i - 1] == '?') &&
            (i < 2 || src[i - 2] != '\\')) {
            char prev = out[o - 1];
            out[o - 1] = prev == c ? c : '*';
            continue;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

static struct RegexCache *get_regex(State *S, const char *src, PosIdx pos) {
    for (uint32_t i = 0; i < S->nregexes; i++)
        if (!strcmp(S->regexes[i].src, src))
            return &S->regexes[i];
    if (S->nregexes == S->capregexes) {
        S->capregexes = S->capregexes ? S->capregexes * 2 : 16;
        S->regexes = fl_xrealloc(S->regexes, S->capregexes * sizeof(struct RegexCache));
    }
    struct RegexCache *rc = &S->regexes[S->nregexes];
    char *collapsed = collapse_quantifier_runs(src);
    if (regcomp(&rc->re, collapsed, REG_EXTENDED) != 0) {
        free(collapsed);
        lang_throw(S, pos, "invalid regular expression '%s'", src);
    }
    rc->src = fl_xstrdup(src);
    rc->fast = fl_lang_regex_compile(collapsed, (int)rc->re.re_nsub);
    free(collapsed);
    S->nregexes++;
    return rc;
}

/* One std::regex_search as Nix's match and split run it: regex.c answers where it can
 * (libstdc++'s spans and groups differ from POSIX's leftmost-longest ones); glibc answers
 * for syntax regex.c leaves alone or when its search gives up. Offsets in g are absolute,
 * two per group, -1 for a group that took no part. */
static int rx_search(struct RegexCache *rc, const char *s, size_t len, size_t start, int flags,
                     size_t *ms, size_t *me, long *g, regmatch_t *m) {
    if (rc->fast) {
        int f = fl_lang_regex_exec(rc->fast, s, len, start, flags, ms, me, g);
        if (f >= 0)
            return f;
    }
    size_t ng = rc->re.re_nsub + 1;
    int ef = (flags & FL_RX_NOT_BOL) ? REG_NOTBOL : 0;
    /* the span alone first: glibc's submatch recovery is exponential on nested repeats */
    if (regexec(&rc->re, s + start, 1, m, ef) != 0)
        return 0;
    *ms = start + (size_t)m[0].rm_so;
    *me = start + (size_t)m[0].rm_eo;
    if (((flags & FL_RX_EXACT) && (*ms != start || *me != len)) ||
        ((flags & FL_RX_CONTINUOUS) && *ms != start) || ((flags & FL_RX_NOT_NULL) && *me == *ms))
        return 0;
    if (ng > 1)
        regexec(&rc->re, s + start, ng, m, ef);
    for (size_t i = 1; i < ng; i++) {
        g[2 * (i - 1)] = m[i].rm_so < 0 ? -1 : (long)start + m[i].rm_so;
        g[2 * (i - 1) + 1] = m[i].rm_so < 0 ? -1 : (long)start + m[i].rm_eo;
    }
    return 1;
}

void lang_builtins_release(State *S);
void lang_builtins_release(State *S) {
    void lang_derivation_release(State * S);
    lang_derivation_release(S);
    for (uint32_t i = 0; i < S->nregexes; i++) {
        regfree(&S->regexes[i].re);
        fl_lang_regex_free(S->regexes[i].fast);
        free(S->regexes[i].src);
    }
    free(S->regexes);
}

static Value *new_string(State *S, const char *s, size_t n) {
    Value *v = lang_alloc_value(S);
    lang_mk_string_copy(S, v, s, n, NULL);
    return v;
}

static void mk_attrs2(State *S, Value *out, Sym a, Value *va, Sym b, Value *vb) {
    Attrs *r = lang_alloc_attrs(S, 2);
    r->a[0] = (Attr){a, 0, va};
    r->a[1] = (Attr){b, 0, vb};
    r->n = 2;
    lang_attrs_sort(r);
    out->type = V_ATTRS;
    out->attrs = r;
}

static Value *bool_value(State *S, int b) {
    return b ? S->v_true : S->v_false;
}

/* ---- control ---- */

PRIM(throw) {
    AStr s;
    lang_astr_init(S, &s, 64);
    lang_coerce_to_string(S, args[0], pos, 0, 1, &s, NULL);
    lang_throw_kind(S, ERR_THROW, pos, "%s", s.buf);
}

PRIM(abort) {
    AStr s;
    lang_astr_init(S, &s, 64);
    lang_coerce_to_string(S, args[0], pos, 0, 1, &s, NULL);
    lang_throw_kind(S, ERR_ABORT, pos, "evaluation aborted with the following error message: '%s'",
                    s.buf);
}

PRIM(seq) {
    force(S, args[0], pos);
    force(S, args[1], pos);
    *out = *args[1];
}

PRIM(deepSeq) {
    lang_force_deep(S, args[0], pos);
    force(S, args[1], pos);
    *out = *args[1];
}

PRIM(tryEval) {
    Catch c;
    Value *volatile arg = args[0];
    catch_begin(S, &c);
    if (setjmp(c.jb) == 0) {
        force(S, arg, pos);
        lang_catch_end(S, &c);
        mk_attrs2(S, out, S->s_value, arg, S->s_success, S->v_true);
    } else {
        lang_catch_unwind(S, &c);
        if (S->errkind != ERR_THROW && S->errkind != ERR_ASSERT)
            lang_rethrow(S);
        fl_error_clear(&S->err);
        mk_attrs2(S, out, S->s_value, S->v_false, S->s_success, S->v_false);
    }
}

PRIM(trace) {
    force(S, args[0], pos);
    AStr s;
    lang_astr_init(S, &s, 64);
    astr_adds(S, &s, "trace: ");
    if (args[0]->type == V_STRING)
        lang_astr_add(S, &s, args[0]->str.s, args[0]->n);
    else
        lang_print_value(S, args[0], &s);
    if (S->cfg.trace)
        S->cfg.trace(S->cfg.trace_ctx, s.buf);
    force(S, args[1], pos);
    *out = *args[1];
}

/* addErrorContext's message as a string, NULL when coercing it fails too. */
static const char *context_message(State *S, Value *m, PosIdx pos) {
    Catch c;
    catch_begin(S, &c);
    if (setjmp(c.jb) == 0) {
        AStr s;
        lang_astr_init(S, &s, 64);
        lang_coerce_to_string(S, m, pos, 0, 1, &s, NULL);
        lang_catch_end(S, &c);
        return s.buf;
    }
    lang_catch_unwind(S, &c);
    fl_error_clear(&S->err);
    return NULL;
}

/* Nix adds the message (coerced to a string only when an error passes) to the trace of any
 * error raised while forcing the value; without --show-trace nothing is shown, so the frame is
 * only kept when frames are. */
PRIM(addErrorContext) {
    if (!S->cfg.frames) {
        force(S, args[1], pos);
        *out = *args[1];
        return;
    }
    char *mark = lang_arena_zalloc(&S->arena, 1);
    lang_push_text_frame(S, 0, mark);
    Catch c;
    Value *volatile val = args[1];
    catch_begin(S, &c);
    if (setjmp(c.jb) == 0) {
        force(S, val, pos);
        lang_catch_end(S, &c);
        S->nframes--;
        *out = *val;
        return;
    }
    lang_catch_unwind(S, &c);
    S->nframes--;
    /* The message is evaluated now, with the pending error put aside; if that fails too, the
     * original error goes on without it. */
    fl_error saved = FL_ERROR_INIT;
    fl_error_move(&saved, &S->err);
    int kind = S->errkind;
    uint32_t nf = S->nerr_frames;
    Frame *frames = arena_alloc(&S->arena, (nf + 1) * sizeof(Frame));
    memcpy(frames, S->err_frames, nf * sizeof(Frame));
    const char *msg = context_message(S, args[0], pos);
    fl_error_move(&S->err, &saved);
    S->errkind = kind;
    S->nerr_frames = nf;
    memcpy(S->err_frames, frames, nf * sizeof(Frame));
    for (uint32_t i = 0; i < nf; i++)
        if (S->err_frames[i].text == mark)
            S->err_frames[i].text = msg ? msg : "while evaluating the error context";
    lang_rethrow(S);
}

PRIM(import) {
    const char *p = lang_realise_path(S, args[0], pos);
    lang_eval_file(S, p, out, pos);
}

/* ---- the search path (<name>, builtins.nixPath, builtins.findFile) ---- */

static Attr *builtin_attr(State *S, Attrs *a, Sym name, const char *fname, PosIdx pos);

/* Nix's isUri: the entries of NIX_PATH that name something to download. */
static int is_uri(const char *s) {
    if (!strncmp(s, "channel:", 8))
        return 1;
    const char *p = strstr(s, "://");
    if (!p)
        return 0;
    static const char *const schemes[] = {"http", "https", "file", "channel", "git", "s3", "ssh"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if ((size_t)(p - s) == strlen(schemes[i]) && !strncmp(s, schemes[i], (size_t)(p - s)))
            return 1;
    return 0;
}

/* One entry "prefix=path" or "path" as the set { path; prefix; } of builtins.nixPath. */
static Value *search_entry(State *S, const char *e, size_t n) {
    const char *eq = memchr(e, '=', n);
    size_t pl = eq ? (size_t)(eq - e) : 0;
    const char *path = eq ? eq + 1 : e;
    Value *v = lang_alloc_value(S);
    mk_attrs2(S, v, S->s_path, new_string(S, path, n - (size_t)(path - e)), S->s_prefix,
              new_string(S, e, pl));
    return v;
}

/* builtins.nixPath: the -I entries, then NIX_PATH's, split at ':' as Nix 2.8 does (a ':' right
 * after a URI's scheme does not split). */
static void build_nix_path(State *S, Value *out) {
    size_t cap = S->cfg.ninclude_paths + 8, n = 0;
    Value **items = arena_alloc(&S->arena, cap * sizeof(Value *));
    for (size_t i = 0; i < S->cfg.ninclude_paths; i++)
        items[n++] = search_entry(S, S->cfg.include_paths[i], strlen(S->cfg.include_paths[i]));
    const char *s = S->cfg.nix_path ? S->cfg.nix_path : "";
    const char *p = s, *end = s + strlen(s);
    while (p != end) {
        const char *start = p, *start2 = p;
        while (p != end && *p != ':') {
            if (*p == '=')
                start2 = p + 1;
            p++;
        }
        if (p != end && is_uri(start2)) {
            p++;
            while (p != end && *p != ':')
                p++;
        }
        if (p != start || p != end) {
            if (n == cap) {
                Value **ni = arena_alloc(&S->arena, 2 * cap * sizeof(Value *));
                memcpy(ni, items, n * sizeof(Value *));
                items = ni;
                cap *= 2;
            }
            items[n++] = search_entry(S, start, (size_t)(p - start));
        }
        if (p == end)
            break;
        p++;
    }
    out->type = V_LIST;
    out->n = (uint32_t)n;
    out->elems = items;
}

/* Where a search path entry points, or NULL when it is to be skipped (with Nix's warning,
 * once per entry). Relative entries are relative to the working directory, as in Nix. */
static const char *resolve_search_entry(State *S, const char *path) {
    Sym key = lang_sym_intern(S, path, strlen(path));
    lang_regions_pin(S);
    int first = lang_ptrset_add(S, &S->warned_entries, sym_name(S, key));
    if (is_uri(path)) {
        if (first)
            lang_warn(S, "Nix search path entry '%s' cannot be downloaded, ignoring "
                         "(flakectl does not download search path entries)", path);
        return NULL;
    }
    char cwd[4096];
    char *abs = fl_canon_path(path, getcwd(cwd, sizeof cwd) ? cwd : "/");
    const char *r = lang_arena_strndup(&S->arena, abs, strlen(abs));
    free(abs);
    struct stat st;
    if (lstat(r, &st) != 0) {
        if (first)
            lang_warn(S, "Nix search path entry '%s' does not exist, ignoring", r);
        return NULL;
    }
    return r;
}

void lang_eval_file_scoped(State *S, const char *path, Attrs *scope, Value *out, PosIdx pos);
PRIM(scopedImport) {
    const char *p = lang_realise_path(S, args[1], pos);
    Attrs *scope = lang_force_attrs(S, args[0], pos);
    lang_eval_file_scoped(S, p, scope, out, pos);
}

PRIM(findFile) {
    lang_force_list(S, args[0], pos);
    uint32_t n = args[0]->n;
    const char **prefixes = arena_alloc(&S->arena, (n + 1) * sizeof(char *));
    const char **paths = arena_alloc(&S->arena, (n + 1) * sizeof(char *));
    for (uint32_t i = 0; i < n; i++) {
        Attrs *e = lang_force_attrs(S, args[0]->elems[i], pos);
        Attr *pa = lang_attrs_find(e, S->s_prefix);
        prefixes[i] = pa ? lang_force_string_noctx(S, pa->value, pos, NULL) : "";
        Attr *p = builtin_attr(S, e, S->s_path, "findFile", pos);
        AStr s;
        lang_astr_init(S, &s, 64);
        const StrCtx *ctx = NULL;
        lang_coerce_to_string(S, p->value, pos, 0, 0, &s, &ctx);
        const char *bad = lang_ctx_invalid_path(S, ctx);
        if (bad)
            lang_throw(S, pos, "cannot find '%s', since path '%s' is not valid", s.buf, bad);
        paths[i] = s.buf;
    }
    size_t nl;
    const char *name = lang_force_string_noctx(S, args[1], pos, &nl);
    for (uint32_t i = 0; i < n; i++) {
        const char *suffix;
        size_t pl = strlen(prefixes[i]);
        if (pl == 0) {
            suffix = NULL;
        } else {
            if (nl < pl || memcmp(name, prefixes[i], pl) || (nl > pl && name[pl] != '/'))
                continue;
            suffix = name + pl;
        }
        const char *dir = resolve_search_entry(S, paths[i]);
        if (!dir)
            continue;
        AStr r;
        lang_astr_init(S, &r, 128);
        astr_adds(S, &r, dir);
        if (!suffix) {
            lang_astr_addch(S, &r, '/');
            lang_astr_add(S, &r, name, nl);
        } else {
            astr_adds(S, &r, suffix);
        }
        struct stat st;
        if (lstat(r.buf, &st) == 0) {
            char *c = fl_canon_path(r.buf, "/");
            lang_check_path(S, c, pos);
            lang_mk_path(S, out, c);
            free(c);
            return;
        }
    }
    if (nl >= 4 && !memcmp(name, "nix/", 4)) {
        AStr r;
        lang_astr_init(S, &r, 64);
        lang_astr_addf(S, &r, "/__corepkgs__/%s", name + 4);
        lang_mk_path(S, out, r.buf);
        return;
    }
    lang_throw_kind(S, ERR_THROW, pos,
                    "file '%s' was not found in the Nix search path (add it using $NIX_PATH or -I)",
                    name);
}

/* ---- types ---- */

PRIM(typeOf) {
    force(S, args[0], pos);
    const char *t = lang_type_name(args[0]);
    lang_mk_string(S, out, t, strlen(t), NULL);
}
#define IS(name, cond)                                                                         \
    PRIM(name) {                                                                               \
        force(S, args[0], pos);                                                                \
        Value *v = args[0];                                                                    \
        mk_bool(out, cond);                                                                    \
    }
IS(isNull, v->type == V_NULL)
IS(isInt, v->type == V_INT)
IS(isFloat, v->type == V_FLOAT)
IS(isBool, v->type == V_BOOL)
IS(isString, v->type == V_STRING)
IS(isPath, v->type == V_PATH)
IS(isAttrs, v->type == V_ATTRS)
IS(isList, v->type == V_LIST)
IS(isFunction, v->type == V_LAMBDA || v->type == V_PRIMOP || v->type == V_PRIMOP_APP)

/* ---- arithmetic ---- */

static int is_num(Value *v) {
    return v->type == V_INT || v->type == V_FLOAT;
}

static void arith(State *S, Value **args, Value *out, PosIdx pos, int op) {
    force(S, args[0], pos);
    force(S, args[1], pos);
    Value *a = args[0], *b = args[1];
    if (a->type == V_FLOAT || b->type == V_FLOAT) {
        double x = lang_force_float(S, a, pos), y = lang_force_float(S, b, pos);
        switch (op) {
        case 0: mk_float(out, x + y); return;
        case 1: mk_float(out, x - y); return;
        case 2: mk_float(out, x * y); return;
        default:
            if (y == 0)
                lang_throw(S, pos, "division by zero");
            mk_float(out, x / y);
            return;
        }
    }
    uint64_t x = (uint64_t)lang_force_int(S, a, pos), y = (uint64_t)lang_force_int(S, b, pos);
    switch (op) {
    case 0: mk_int(out, (int64_t)(x + y)); return;
    case 1: mk_int(out, (int64_t)(x - y)); return;
    case 2: mk_int(out, (int64_t)(x * y)); return;
    default:
        if (y == 0)
            lang_throw(S, pos, "division by zero");
        if ((int64_t)y == -1 && (int64_t)x == INT64_MIN)
            lang_throw(S, pos, "overflow in integer division");
        if ((int64_t)y == -1)
            mk_int(out, (int64_t)(0 - x));
        else
            mk_int(out, (int64_t)x / (int64_t)y);
        return;
    }
}
PRIM(add) { arith(S, args, out, pos, 0); }
PRIM(sub) { arith(S, args, out, pos, 1); }
PRIM(mul) { arith(S, args, out, pos, 2); }
PRIM(div) { arith(S, args, out, pos, 3); }
PRIM(bitAnd) { mk_int(out, lang_force_int(S, args[0], pos) & lang_force_int(S, args[1], pos)); }
PRIM(bitOr) { mk_int(out, lang_force_int(S, args[0], pos) | lang_force_int(S, args[1], pos)); }
PRIM(bitXor) { mk_int(out, lang_force_int(S, args[0], pos) ^ lang_force_int(S, args[1], pos)); }
PRIM(lessThan) { mk_bool(out, lang_compare_values(S, args[0], args[1], pos) < 0); }
PRIM(floor) {
    force(S, args[0], pos);
    if (!is_num(args[0]))
        lang_throw(S, pos, "value is %s while a float was expected", lang_show_type(args[0]));
    mk_int(out, (int64_t)floor(lang_force_float(S, args[0], pos)));
}
PRIM(ceil) {
    force(S, args[0], pos);
    if (!is_num(args[0]))
        lang_throw(S, pos, "value is %s while a float was expected", lang_show_type(args[0]));
    mk_int(out, (int64_t)ceil(lang_force_float(S, args[0], pos)));
}

/* ---- attribute sets ---- */

PRIM(attrNames) {
    Attrs *a = lang_force_attrs(S, args[0], pos);
    Attr **sorted = lang_attrs_sorted_by_name(S, a);
    Value r;
    lang_mk_list(S, &r, a->n);
    for (uint32_t i = 0; i < a->n; i++) {
        Value *v = lang_alloc_value(S);
        lang_mk_string(S, v, sym_name(S, sorted[i]->name), sym_len(S, sorted[i]->name), NULL);
        r.elems[i] = v;
    }
    *out = r;
}

PRIM(attrValues) {
    Attrs *a = lang_force_attrs(S, args[0], pos);
    Attr **sorted = lang_attrs_sorted_by_name(S, a);
    Value r;
    lang_mk_list(S, &r, a->n);
    for (uint32_t i = 0; i < a->n; i++)
        r.elems[i] = sorted[i]->value;
    *out = r;
}

static Sym force_sym(State *S, Value *v, PosIdx pos) {
    size_t n;
    const char *s = lang_force_string_noctx(S, v, pos, &n);
    return lang_sym_intern_name(S, s, n, pos);
}

/* A required attribute of a builtin's set argument. Like Nix 2.8, a missing one is reported
 * at the `{` of the set literal that made the set; a set made otherwise (`//` of two non-empty
 * sets, a builtin, an attribute path) has no position, and then the call's position is used. */
static Attr *builtin_attr(State *S, Attrs *a, Sym name, const char *fname, PosIdx pos) {
    Attr *x = lang_attrs_find(a, name);
    if (!x)
        lang_throw(S, a->pos ? a->pos : pos, "attribute '%s' missing for call to '%s'",
                   sym_name(S, name), fname);
    return x;
}

PRIM(getAttr) {
    Sym name = force_sym(S, args[0], pos);
    Attrs *a = lang_force_attrs(S, args[1], pos);
    Attr *x = lang_attrs_find(a, name);
    if (!x) {
        const char **cands = arena_alloc(&S->arena, (a->n + 1) * sizeof(char *));
        for (uint32_t i = 0; i < a->n; i++)
            cands[i] = sym_name(S, a->a[i].name);
        const char *best = lang_closest_name(S, sym_name(S, name), cands, a->n);
        fl_error_clear(&S->err);
        fl_error_set(&S->err, FL_EEVAL, "attribute '%s' missing for call to 'getAttr'",
                     sym_name(S, name));
        lang_err_set_pos(S, &S->err, a->pos ? a->pos : pos);
        if (best)
            fl_error_set_hint(&S->err, "Did you mean %s?", best);
        S->errkind = ERR_OTHER;
        S->nerr_frames = 0;
        lang_rethrow(S);
    }
    force(S, x->value, pos);
    *out = *x->value;
}

PRIM(hasAttr) {
    Sym name = force_sym(S, args[0], pos);
    Attrs *a = lang_force_attrs(S, args[1], pos);
    mk_bool(out, lang_attrs_find(a, name) != NULL);
}

PRIM(unsafeGetAttrPos) {
    Sym name = force_sym(S, args[0], pos);
    Attrs *a = lang_force_attrs(S, args[1], pos);
    Attr *x = lang_attrs_find(a, name);
    fl_lang_pos p;
    if (!x || (lang_pos_get(S, x->pos, &p), !p.file)) {
        mk_null(out);
        return;
    }
    Attrs *r = lang_alloc_attrs(S, 3);
    const char *file = lang_pos_value_file(S, x->pos);
    Value *f = new_string(S, file, strlen(file));
    Value *l = lang_alloc_value(S), *c = lang_alloc_value(S);
    mk_int(l, p.line);
    mk_int(c, p.col);
    r->a[0] = (Attr){S->s_file, 0, f};
    r->a[1] = (Attr){S->s_line, 0, l};
    r->a[2] = (Attr){S->s_column, 0, c};
    r->n = 3;
    lang_attrs_sort(r);
    out->type = V_ATTRS;
    out->attrs = r;
}

PRIM(removeAttrs) {
    Attrs *a = lang_force_attrs(S, args[0], pos);
    lang_force_list(S, args[1], pos);
    Value *l = args[1];
    Sym *rm = arena_alloc(&S->arena, (l->n + 1) * sizeof(Sym));
    for (uint32_t i = 0; i < l->n; i++)
        rm[i] = force_sym(S, l->elems[i], pos);
    Attrs *r = lang_alloc_attrs(S, a->n);
    for (uint32_t i = 0; i < a->n; i++) {
        int drop = 0;
        for (uint32_t k = 0; k < l->n && !drop; k++)
            drop = rm[k] == a->a[i].name;
        if (!drop)
            r->a[r->n++] = a->a[i];
    }
    out->type = V_ATTRS;
    out->attrs = r;
}

typedef struct KeyIdx {
    Sym name;
    uint32_t idx;
    Value *value;
    PosIdx pos;
} KeyIdx;

/* Sorts k by name, keeping the order of equal names (the list order every caller made k
 * in): insertion sort for a few, else a radix sort on the symbol ids, 11 bits a pass and
 * only as many passes as the largest id needs. qsort with a comparison function was a tenth
 * of the module merges' time (zipAttrsWith and listToAttrs sort on every call). */
static void keyidx_sort(KeyIdx *k, uint32_t n) {
    if (n <= 32) {
        for (uint32_t i = 1; i < n; i++) {
            KeyIdx t = k[i];
            uint32_t j = i;
            while (j > 0 && k[j - 1].name > t.name) {
                k[j] = k[j - 1];
                j--;
            }
            k[j] = t;
        }
        return;
    }
    enum { BITS = 11, RADIX = 1 << BITS };
    uint32_t maxsym = 0;
    int sorted = 1;
    for (uint32_t i = 0; i < n; i++) {
        if (k[i].name > maxsym)
            maxsym = k[i].name;
        if (i && k[i - 1].name > k[i].name)
            sorted = 0;
    }
    if (sorted)
        return;
    KeyIdx *tmp = fl_xmalloc((size_t)n * sizeof(KeyIdx));
    uint32_t *count = fl_xmalloc(RADIX * sizeof(uint32_t));
    KeyIdx *from = k, *to = tmp;
    for (uint32_t shift = 0; shift < 32 && (maxsym >> shift); shift += BITS) {
        memset(count, 0, RADIX * sizeof(uint32_t));
        for (uint32_t i = 0; i < n; i++)
            count[(from[i].name >> shift) & (RADIX - 1)]++;
        uint32_t sum = 0;
        for (uint32_t d = 0; d < RADIX; d++) {
            uint32_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++)
            to[count[(from[i].name >> shift) & (RADIX - 1)]++] = from[i];
        KeyIdx *t = from;
        from = to;
        to = t;
    }
    if (from != k)
        memcpy(k, from, (size_t)n * sizeof(KeyIdx));
    free(count);
    free(tmp);
}

/* Sorted attrs from (name, value) pairs; the first of duplicate names wins. */
static Attrs *attrs_from_pairs(State *S, KeyIdx *k, uint32_t n) {
    keyidx_sort(k, n);
    Attrs *r = lang_alloc_attrs(S, n);
    for (uint32_t i = 0; i < n; i++) {
        if (i && k[i].name == k[i - 1].name)
            continue;
        r->a[r->n++] = (Attr){k[i].name, k[i].pos, k[i].value};
    }
    return r;
}

PRIM(listToAttrs) {
    lang_force_list(S, args[0], pos);
    Value *l = args[0];
    KeyIdx *k = arena_alloc(&S->arena, (l->n + 1) * sizeof(KeyIdx));
    for (uint32_t i = 0; i < l->n; i++) {
        Attrs *e = lang_force_attrs(S, l->elems[i], pos);
        Attr *nm = builtin_attr(S, e, S->s_name, "listToAttrs", pos);
        k[i].name = force_sym(S, nm->value, pos);
        Attr *val = builtin_attr(S, e, S->s_value, "listToAttrs", pos);
        k[i].value = val->value;
        k[i].idx = i;
        k[i].pos = val->pos; /* Nix 2.8 places the attribute at its value */
    }
    Attrs *r = attrs_from_pairs(S, k, l->n);
    out->type = V_ATTRS;
    out->attrs = r;
}

PRIM(intersectAttrs) {
    Attrs *a = lang_force_attrs(S, args[0], pos), *b = lang_force_attrs(S, args[1], pos);
    Attrs *r = lang_alloc_attrs(S, a->n < b->n ? a->n : b->n);
    for (uint32_t i = 0; i < b->n; i++)
        if (lang_attrs_find(a, b->a[i].name))
            r->a[r->n++] = b->a[i];
    out->type = V_ATTRS;
    out->attrs = r;
}

PRIM(catAttrs) {
    Sym name = force_sym(S, args[0], pos);
    lang_force_list(S, args[1], pos);
    Value *l = args[1];
    Value r;
    lang_mk_list(S, &r, l->n);
    uint32_t n = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        Attrs *a = lang_force_attrs(S, l->elems[i], pos);
        Attr *x = lang_attrs_find(a, name);
        if (x)
            r.elems[n++] = x->value;
    }
    r.n = n;
    *out = r;
}

PRIM(mapAttrs) {
    Attrs *a = lang_force_attrs(S, args[1], pos);
    Attrs *r = lang_alloc_attrs(S, a->n);
    for (uint32_t i = 0; i < a->n; i++) {
        Value *name = lang_alloc_value(S);
        lang_mk_string(S, name, sym_name(S, a->a[i].name), sym_len(S, a->a[i].name), NULL);
        Value *f1 = lang_alloc_value(S);
        f1->type = V_APP;
        f1->n = pos;
        f1->app.left = args[0];
        f1->app.right = name;
        Value *v = lang_alloc_value(S);
        v->type = V_APP;
        v->n = pos;
        v->app.left = f1;
        v->app.right = a->a[i].value;
        /* Nix 2.8 gives mapAttrs' attributes no position (unsafeGetAttrPos is null, and a
         * selection of one is not traced) */
        r->a[i] = (Attr){a->a[i].name, 0, v};
    }
    r->n = a->n;
    out->type = V_ATTRS;
    out->attrs = r;
}

PRIM(zipAttrsWith) {
    lang_force_list(S, args[1], pos);
    Value *l = args[1];
    /* collect (name, index, value) for every attribute of every set, in list order */
    uint32_t total = 0;
    for (uint32_t i = 0; i < l->n; i++)
        total += lang_force_attrs(S, l->elems[i], pos)->n;
    KeyIdx *k = arena_alloc(&S->arena, (total + 1) * sizeof(KeyIdx));
    uint32_t n = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        Attrs *a = l->elems[i]->attrs;
        for (uint32_t j = 0; j < a->n; j++, n++)
            k[n] = (KeyIdx){a->a[j].name, n, a->a[j].value, a->a[j].pos};
    }
    keyidx_sort(k, n);
    Attrs *r = lang_alloc_attrs(S, n);
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i;
        while (j < n && k[j].name == k[i].name)
            j++;
        Value *vals = lang_alloc_value(S);
        lang_mk_list(S, vals, j - i);
        for (uint32_t m = i; m < j; m++)
            vals->elems[m - i] = k[m].value;
        Value *name = lang_alloc_value(S);
        lang_mk_string(S, name, sym_name(S, k[i].name), sym_len(S, k[i].name), NULL);
        Value *f1 = lang_alloc_value(S);
        f1->type = V_APP;
        f1->n = pos;
        f1->app.left = args[0];
        f1->app.right = name;
        Value *v = lang_alloc_value(S);
        v->type = V_APP;
        v->n = pos;
        v->app.left = f1;
        v->app.right = vals;
        r->a[r->n++] = (Attr){k[i].name, 0, v};
        i = j;
    }
    out->type = V_ATTRS;
    out->attrs = r;
}

PRIM(functionArgs) {
    force(S, args[0], pos);
    Value *f = args[0];
    if (f->type == V_PRIMOP || f->type == V_PRIMOP_APP) {
        out->type = V_ATTRS;
        out->attrs = lang_alloc_attrs(S, 0);
        return;
    }
    if (f->type != V_LAMBDA)
        lang_throw(S, pos, "'functionArgs' requires a function");
    Expr *lam = f->lambda.fn;
    Attrs *r = lang_alloc_attrs(S, lam->lam.nformals);
    for (uint32_t i = 0; i < lam->lam.nformals; i++)
        r->a[r->n++] = (Attr){lam->lam.formals[i].name, lam->lam.formals[i].pos,
                              bool_value(S, lam->lam.formals[i].def != NULL)};
    lang_attrs_sort(r);
    out->type = V_ATTRS;
    out->attrs = r;
}

/* ---- lists ---- */

PRIM(length) {
    lang_force_list(S, args[0], pos);
    mk_int(out, args[0]->n);
}

static Value *elem_at(State *S, Value *l, int64_t i, PosIdx pos) {
    lang_force_list(S, l, pos);
    if (i < 0 || (uint64_t)i >= l->n)
        lang_throw(S, pos, "list index %lld is out of bounds", (long long)i);
    force(S, l->elems[i], pos);
    return l->elems[i];
}

PRIM(head) {
    lang_force_list(S, args[0], pos);
    if (args[0]->n == 0)
        lang_throw(S, pos, "list index 0 is out of bounds");
    *out = *elem_at(S, args[0], 0, pos);
}

PRIM(tail) {
    lang_force_list(S, args[0], pos);
    Value *l = args[0];
    if (l->n == 0)
        lang_throw(S, pos, "'tail' called on an empty list");
    Value r;
    lang_mk_list(S, &r, l->n - 1);
    memcpy(r.elems, l->elems + 1, (l->n - 1) * sizeof(Value *));
    *out = r;
}

PRIM(elemAt) {
    int64_t i = lang_force_int(S, args[1], pos);
    *out = *elem_at(S, args[0], i, pos);
}

PRIM(map) {
    lang_force_list(S, args[1], pos);
    Value *l = args[1];
    Value r;
    lang_mk_list(S, &r, l->n);
    Value *cells = arena_alloc(&S->arena, (l->n ? l->n : 1) * sizeof(Value));
    for (uint32_t i = 0; i < l->n; i++) {
        Value *v = &cells[i];
        v->type = V_APP;
        v->n = pos;
        v->app.left = args[0];
        v->app.right = l->elems[i];
        r.elems[i] = v;
    }
    *out = r;
}

PRIM(genList) {
    int64_t n = lang_force_int(S, args[1], pos);
    if (n < 0)
        lang_throw(S, pos, "cannot create list of size %lld", (long long)n);
    /* Nix 2.8 does not check the function here: the elements are lazy applications and a
     * non-function fails as "attempt to call" when one is forced */
    Value r;
    lang_mk_list(S, &r, (uint32_t)n);
    Value *cells = arena_alloc(&S->arena, (size_t)(n ? n : 1) * 2 * sizeof(Value));
    for (int64_t i = 0; i < n; i++) {
        Value *iv = &cells[2 * i], *v = &cells[2 * i + 1];
        mk_int(iv, i);
        v->type = V_APP;
        v->n = pos;
        v->app.left = args[0];
        v->app.right = iv;
        r.elems[i] = v;
    }
    *out = r;
}

/* A predicate's answer for x (filter, partition, any, all): the memory of the call goes
 * when it is done, as a step of foldl''s does. */
static int call_predicate(State *S, Value *f, Value *x, PosIdx pos, int site) {
    lang_region_begin(S);
    Value res;
    if (site)
        lang_call_function(S, f, x, &res, pos);
    else
        lang_call_function_nosite(S, f, x, &res, pos);
    force(S, &res, pos);
    lang_region_end(S, res.type == V_BOOL);
    return lang_force_bool(S, &res, pos);
}

PRIM(filter) {
    lang_force_list(S, args[1], pos);
    Value *l = args[1];
    Value **keep = lang_alloc_elems(S, l->n);
    uint32_t n = 0;
    int same = 1;
    for (uint32_t i = 0; i < l->n; i++) {
        if (call_predicate(S, args[0], l->elems[i], pos, 0))
            keep[n++] = l->elems[i];
        else
            same = 0;
    }
    if (same) {
        *out = *l;
        return;
    }
    out->type = V_LIST;
    out->n = n;
    out->elems = keep;
}

PRIM(elem) {
    lang_force_list(S, args[1], pos);
    for (uint32_t i = 0; i < args[1]->n; i++)
        if (lang_values_equal(S, args[0], args[1]->elems[i], pos)) {
            mk_bool(out, 1);
            return;
        }
    mk_bool(out, 0);
}

PRIM(concatLists) {
    lang_force_list(S, args[0], pos);
    Value *l = args[0];
    size_t total = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        lang_force_list(S, l->elems[i], pos);
        total += l->elems[i]->n;
    }
    Value r;
    lang_mk_list(S, &r, (uint32_t)total);
    size_t k = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        memcpy(r.elems + k, l->elems[i]->elems, l->elems[i]->n * sizeof(Value *));
        k += l->elems[i]->n;
    }
    *out = r;
}

PRIM(concatMap) {
    lang_force_list(S, args[1], pos);
    Value *l = args[1];
    Value *res = arena_alloc(&S->arena, (l->n ? l->n : 1) * sizeof(Value));
    size_t total = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        lang_call_function(S, args[0], l->elems[i], &res[i], pos);
        lang_force_list(S, &res[i], pos);
        total += res[i].n;
    }
    Value r;
    lang_mk_list(S, &r, (uint32_t)total);
    size_t k = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        memcpy(r.elems + k, res[i].elems, res[i].n * sizeof(Value *));
        k += res[i].n;
    }
    *out = r;
}

/* The block a set or list accumulator made in the step just run, when it can outlive the
 * step's region by itself: the region is clean and every value the block refers to is older
 * than the region and not foldl''s own cell (which is about to be overwritten). NULL
 * otherwise. *size is the block's size in bytes. */
static void *movable_block(State *S, const Value *v, const Value *own, size_t *size) {
    if (S->regions[S->nregions - 1].dirty)
        return NULL;
    const char *lo, *hi;
    int range = lang_region_range(S, &lo, &hi);
#define NEW(p) (range ? (const char *)(p) >= lo && (const char *)(p) < hi : lang_region_owns(S, (p)))
    if (v->type == V_ATTRS && NEW(v->attrs)) {
        for (uint32_t i = 0; i < v->attrs->n; i++)
            if (v->attrs->a[i].value == own || NEW(v->attrs->a[i].value))
                return NULL;
        *size = sizeof(Attrs) + v->attrs->n * sizeof(Attr);
        return v->attrs;
    }
    if (v->type == V_LIST && v->n && NEW(v->elems)) {
        for (uint32_t i = 0; i < v->n; i++)
            if (v->elems[i] == own || NEW(v->elems[i]))
                return NULL;
        *size = v->n * sizeof(Value *);
        return v->elems;
    }
#undef NEW
    return NULL;
}

/* Each step runs in a region (docs/language.md, "Memory"). When the new accumulator is a
 * number, Boolean or null, or a set or list whose own block is all the step made that it
 * needs (acc // { k = x; }, acc ++ [ x ]), everything else the step allocated (environments,
 * thunks, the previous accumulator's block) is given back before the next step: the block is
 * moved to the start of the next step's region, so the fold runs in the memory of one step
 * and one accumulator. The accumulator then lives in a cell of foldl''s own that only
 * released memory referred to; a step that keeps its memory may refer to it, and the fold
 * takes a new cell. */
PRIM(foldlStrict) {
    lang_force_list(S, args[2], pos);
    Value *l = args[2];
    if (l->n == 0) {
        force(S, args[1], pos);
        *out = *args[1];
        return;
    }
    lang_force_function(S, args[0], pos);
    Value *acc = args[1];
    Value *own = lang_alloc_value(S);
    lang_region_begin(S);
    for (uint32_t i = 0; i < l->n; i++) {
        Value next;
        lang_call_function2(S, args[0], acc, l->elems[i], &next, pos);
        force(S, &next, pos);
        int scalar = next.type >= V_NULL && next.type <= V_FLOAT;
        size_t size = 0;
        void *block = scalar ? NULL : movable_block(S, &next, own, &size);
        if (scalar || block) {
            void *saved = block ? fl_xmalloc(size) : NULL;
            if (block)
                memcpy(saved, block, size);
            if (lang_region_end(S, 1)) {
                lang_region_begin(S);
                if (block) {
                    void *moved = arena_alloc(&S->arena, size);
                    memcpy(moved, saved, size);
                    free(saved);
                    if (next.type == V_ATTRS) {
                        next.attrs = moved;
                        next.attrs->cap = next.attrs->n;
                    } else {
                        next.elems = moved;
                    }
                }
                *own = next;
                acc = own;
                continue;
            }
            free(saved); /* dirty after all: kept below */
        } else {
            lang_region_end(S, 0);
        }
        if (acc == own)
            own = lang_alloc_value(S); /* what the step kept may refer to the old one */
        acc = lang_alloc_value(S);
        *acc = next;
        lang_region_begin(S);
    }
    lang_region_end(S, 0);
    *out = *acc;
}

static void any_all(State *S, Value **args, Value *out, PosIdx pos, int any) {
    lang_force_list(S, args[1], pos);
    for (uint32_t i = 0; i < args[1]->n; i++) {
        if (call_predicate(S, args[0], args[1]->elems[i], pos, 1) == any) {
            mk_bool(out, any);
            return;
        }
    }
    mk_bool(out, !any);
}
PRIM(any) { any_all(S, args, out, pos, 1); }
PRIM(all) { any_all(S, args, out, pos, 0); }

/* Which comparison a comparator is when it is `x: y: x < y` or the like (`>`, `<=`, `>=`,
 * either operand either argument): bit 0 and 1 the E_LT node's flag (swap, negate), bit 2
 * and 3 whether its left and right operands are the second argument. -1 for anything else. */
static int lt_shape(const Value *cmp) {
    if (cmp->type != V_LAMBDA)
        return -1;
    const Expr *outer = cmp->lambda.fn, *inner = outer->lam.body;
    if (outer->flag || inner->kind != E_LAMBDA || inner->flag || inner->lam.body->kind != E_LT)
        return -1;
    const Expr *lt = inner->lam.body;
    int shape = lt->flag & 3;
    const Expr *ops[2] = {lt->op.a, lt->op.b};
    for (int i = 0; i < 2; i++) {
        const Expr *o = ops[i];
        /* the first argument is one environment up, the second in the inner call's */
        if (o->kind != E_VAR || o->flag || o->var.displ != 0 || o->var.level > 1)
            return -1;
        if (o->var.level == 0)
            shape |= 4 << i;
    }
    return shape;
}

/* shape: lt_shape(cmp). Two numbers, or two strings, compared by such a comparator cannot
 * fail: the answer is the comparison itself, without the call (the sorts of names and
 * versions). Anything else goes through the call, errors and traces as before. */
static int sort_less(State *S, Value *cmp, int shape, Value *a, Value *b, PosIdx pos) {
    if (cmp->type == V_PRIMOP && cmp->primop->fn == prim_lessThan)
        return lang_compare_values(S, a, b, pos) < 0;
    if (shape >= 0) {
        Value *x = (shape & 4) ? b : a, *y = (shape & 8) ? b : a;
        int nx = x->type == V_INT || x->type == V_FLOAT, ny = y->type == V_INT || y->type == V_FLOAT;
        if ((nx && ny) || (x->type == V_STRING && y->type == V_STRING)) {
            int c = (shape & 1) ? lang_compare_values(S, y, x, pos) < 0
                                : lang_compare_values(S, x, y, pos) < 0;
            return (shape & 2) ? !c : c;
        }
    }
    /* a comparison's memory goes when it is done, as in call_predicate */
    lang_region_begin(S);
    Value r;
    lang_call_function2(S, cmp, a, b, &r, pos);
    force(S, &r, pos);
    lang_region_end(S, r.type == V_BOOL);
    return lang_force_bool(S, &r, pos);
}

static void merge_sort(State *S, Value *cmp, int shape, Value **a, Value **tmp, size_t n,
                       PosIdx pos) {
    if (n < 2)
        return;
    if (n <= 8) {
        for (size_t i = 1; i < n; i++) {
            Value *x = a[i];
            size_t j = i;
            while (j > 0 && sort_less(S, cmp, shape, x, a[j - 1], pos)) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    merge_sort(S, cmp, shape, a, tmp, h, pos);
    merge_sort(S, cmp, shape, a + h, tmp, n - h, pos);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        if (sort_less(S, cmp, shape, a[j], a[i], pos))
            tmp[k++] = a[j++];
        else
            tmp[k++] = a[i++];
    }
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof(Value *));
}

PRIM(sort) {
    lang_force_list(S, args[1], pos);
    Value *l = args[1];
    if (l->n)
        lang_force_function(S, args[0], pos);
    else
        force(S, args[0], pos);
    Value r;
    lang_mk_list(S, &r, l->n);
    memcpy(r.elems, l->elems, l->n * sizeof(Value *));
    for (uint32_t i = 0; i < l->n; i++)
        force(S, r.elems[i], pos);
    Value **tmp = lang_alloc_elems(S, l->n);
    merge_sort(S, args[0], lt_shape(args[0]), r.elems, tmp, l->n, pos);
    *out = r;
}

PRIM(partition) {
    lang_force_list(S, args[1], pos);
    Value *l = args[1];
    Value **yes = lang_alloc_elems(S, l->n), **no = lang_alloc_elems(S, l->n);
    uint32_t ny = 0, nn = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        if (call_predicate(S, args[0], l->elems[i], pos, 1))
            yes[ny++] = l->elems[i];
        else
            no[nn++] = l->elems[i];
    }
    Value *right = lang_alloc_value(S), *wrong = lang_alloc_value(S);
    right->type = V_LIST;
    right->n = ny;
    right->elems = yes;
    wrong->type = V_LIST;
    wrong->n = nn;
    wrong->elems = no;
    mk_attrs2(S, out, S->s_right, right, S->s_wrong, wrong);
}

/* Groups by a hash of the names (few groups of many elements is the usual shape), each
 * group's elements in list order, then the groups sorted by name. */
PRIM(groupBy) {
    lang_force_list(S, args[1], pos);
    Value *l = args[1];
    uint32_t n = l->n;
    Sym *key = arena_alloc(&S->arena, (n + 1) * sizeof(Sym));
    uint32_t *grp = arena_alloc(&S->arena, (n + 1) * sizeof(uint32_t));
    uint32_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *slots = lang_arena_zalloc(&S->arena, cap * sizeof(uint32_t)); /* group + 1 */
    KeyIdx *groups = arena_alloc(&S->arena, (n + 1) * sizeof(KeyIdx));     /* name, count */
    uint32_t ng = 0;
    for (uint32_t i = 0; i < n; i++) {
        Value res;
        lang_call_function(S, args[0], l->elems[i], &res, pos);
        key[i] = force_sym(S, &res, pos);
        uint32_t h = (key[i] * 2654435761u) & (cap - 1);
        while (slots[h] && groups[slots[h] - 1].name != key[i])
            h = (h + 1) & (cap - 1);
        if (!slots[h]) {
            groups[ng] = (KeyIdx){key[i], ng, NULL, 0};
            groups[ng].value = lang_alloc_value(S);
            groups[ng].value->n = 0;
            slots[h] = ++ng;
        }
        grp[i] = slots[h] - 1;
        groups[grp[i]].value->n++;
    }
    for (uint32_t g = 0; g < ng; g++) {
        uint32_t cnt = groups[g].value->n;
        lang_mk_list(S, groups[g].value, cnt);
        groups[g].value->n = 0; /* filled below */
    }
    for (uint32_t i = 0; i < n; i++) {
        Value *v = groups[grp[i]].value;
        v->elems[v->n++] = l->elems[i];
    }
    keyidx_sort(groups, ng);
    Attrs *r = lang_alloc_attrs(S, ng);
    for (uint32_t g = 0; g < ng; g++)
        r->a[r->n++] = (Attr){groups[g].name, 0, groups[g].value};
    out->type = V_ATTRS;
    out->attrs = r;
}

PRIM(genericClosure) {
    Attrs *a = lang_force_attrs(S, args[0], pos);
    Attr *ss = builtin_attr(S, a, S->s_startSet, "genericClosure", pos);
    Attr *op = builtin_attr(S, a, S->s_operator, "genericClosure", pos);
    lang_force_list(S, ss->value, pos);
    size_t qcap = ss->value->n + 16, qn = 0, qh = 0;
    Value **queue = arena_alloc(&S->arena, qcap * sizeof(Value *));
    for (uint32_t i = 0; i < ss->value->n; i++)
        queue[qn++] = ss->value->elems[i];
    size_t rcap = 16, rn = 0;
    Value **res = arena_alloc(&S->arena, rcap * sizeof(Value *));
    Value **keys = arena_alloc(&S->arena, rcap * sizeof(Value *));
    while (qh < qn) {
        Value *e = queue[qh++];
        Attrs *ea = lang_force_attrs(S, e, pos);
        Attr *key = lang_attrs_find(ea, S->s_key);
        if (!key)
            lang_throw(S, pos, "attribute 'key' required");
        force(S, key->value, pos);
        int seen = 0;
        for (size_t i = 0; i < rn && !seen; i++)
            seen = lang_compare_values(S, keys[i], key->value, pos) == 0;
        if (seen)
            continue;
        if (rn == rcap) {
            Value **nr = arena_alloc(&S->arena, rcap * 2 * sizeof(Value *));
            Value **nk = arena_alloc(&S->arena, rcap * 2 * sizeof(Value *));
            memcpy(nr, res, rn * sizeof(Value *));
            memcpy(nk, keys, rn * sizeof(Value *));
            res = nr;
            keys = nk;
            rcap *= 2;
        }
        res[rn] = e;
        keys[rn++] = key->value;
        Value more;
        lang_call_function_nosite(S, op->value, e, &more, pos);
        lang_force_list(S, &more, pos);
        if (qn + more.n > qcap) {
            size_t nc = (qn + more.n) * 2;
            Value **nq = arena_alloc(&S->arena, nc * sizeof(Value *));
            memcpy(nq, queue, qn * sizeof(Value *));
            queue = nq;
            qcap = nc;
        }
        for (uint32_t i = 0; i < more.n; i++)
            queue[qn++] = more.elems[i];
    }
    out->type = V_LIST;
    out->n = (uint32_t)rn;
    out->elems = res;
}

/* ---- strings ---- */

PRIM(toString) {
    force(S, args[0], pos);
    if (args[0]->type == V_INT) {
        char buf[LANG_INT_CHARS];
        size_t n = lang_format_int(buf, args[0]->i);
        lang_mk_string(S, out, lang_arena_strndup(&S->arena, buf, n), n, NULL);
        return;
    }
    if (args[0]->type == V_STRING) {
        *out = *args[0];
        return;
    }
    AStr s;
    lang_astr_init(S, &s, 64);
    const StrCtx *ctx = NULL;
    lang_coerce_to_string(S, args[0], pos, 1, 0, &s, &ctx);
    lang_mk_string(S, out, s.buf, s.len, ctx);
}

PRIM(stringLength) {
    AStr s;
    lang_astr_init(S, &s, 64);
    const StrCtx *ctx = NULL;
    lang_coerce_to_string(S, args[0], pos, 0, 1, &s, &ctx);
    mk_int(out, (int64_t)s.len);
}

PRIM(substring) {
    int64_t start = lang_force_int(S, args[0], pos);
    int64_t len = lang_force_int(S, args[1], pos);
    AStr s;
    lang_astr_init(S, &s, 64);
    const StrCtx *ctx = NULL;
    lang_coerce_to_string(S, args[2], pos, 0, 1, &s, &ctx);
    if (start < 0)
        lang_throw(S, pos, "negative start position in 'substring'");
    if ((uint64_t)start >= s.len) {
        lang_mk_string(S, out, "", 0, ctx);
        return;
    }
    size_t avail = s.len - (size_t)start;
    size_t n = (len < 0 || (uint64_t)len > avail) ? avail : (size_t)len;
    lang_mk_string(S, out, lang_arena_strndup(&S->arena, s.buf + start, n), n, ctx);
}

PRIM(concatStringsSep) {
    size_t seplen;
    /* the separator's context is the result's even when no separator is written (Nix 2.8) */
    const StrCtx *ctx = NULL;
    const char *sep = lang_force_string(S, args[0], pos, &seplen, &ctx);
    lang_force_list(S, args[1], pos);
    /* All strings (the usual case): one allocation of the exact size. Forcing stops at the
     * first other value, which the general loop then coerces in the same order. */
    uint32_t n = args[1]->n;
    Value **el = args[1]->elems;
    size_t total = n ? (size_t)(n - 1) * seplen : 0;
    uint32_t k = 0;
    for (; k < n; k++) {
        force(S, el[k], pos);
        if (el[k]->type != V_STRING)
            break;
        total += el[k]->n;
    }
    if (k == n) {
        if (total >= UINT32_MAX)
            lang_out_of_memory(S, pos, total);
        char *buf = arena_alloc(&S->arena, total + 1), *w = buf;
        for (uint32_t i = 0; i < n; i++) {
            if (i) {
                memcpy(w, sep, seplen);
                w += seplen;
            }
            memcpy(w, el[i]->str.s, el[i]->n);
            w += el[i]->n;
            if (el[i]->str.ctx)
                ctx = lang_ctx_merge(S, ctx, el[i]->str.ctx);
        }
        *w = '\0';
        lang_mk_string(S, out, buf, total, ctx);
        out->sbuf = SBUF_CAT;
        return;
    }
    AStr s;
    lang_astr_init(S, &s, 64);
    for (uint32_t i = 0; i < args[1]->n; i++) {
        if (i)
            lang_astr_add(S, &s, sep, seplen);
        lang_coerce_to_string(S, args[1]->elems[i], pos, 0, 1, &s, &ctx);
    }
    lang_mk_string(S, out, s.buf, s.len, ctx);
    out->sbuf = SBUF_CAT;
}

PRIM(replaceStrings) {
    lang_force_list(S, args[0], pos);
    lang_force_list(S, args[1], pos);
    Value *from = args[0], *to = args[1];
    if (from->n != to->n)
        lang_throw(S, pos, "'from' and 'to' arguments to 'replaceStrings' have different lengths");
    uint32_t n = from->n;
    const char **fs = arena_alloc(&S->arena, (n + 1) * sizeof(char *));
    size_t *fl = arena_alloc(&S->arena, (n + 1) * sizeof(size_t));
    const char **ts = arena_alloc(&S->arena, (n + 1) * sizeof(char *));
    size_t *tl = arena_alloc(&S->arena, (n + 1) * sizeof(size_t));
    const StrCtx **tc = arena_alloc(&S->arena, (n + 1) * sizeof(StrCtx *));
    for (uint32_t i = 0; i < n; i++)
        fs[i] = lang_force_string(S, from->elems[i], pos, &fl[i], NULL);
    for (uint32_t i = 0; i < n; i++)
        ts[i] = lang_force_string(S, to->elems[i], pos, &tl[i], &tc[i]);
    size_t len;
    const StrCtx *ctx;
    const char *s = lang_force_string(S, args[2], pos, &len, &ctx);
    /* Bytes no pattern starts with are copied in runs; an empty pattern matches everywhere,
     * so then every position is tried. A replacement's context joins once, as Nix's does. */
    unsigned char starts[256] = {0};
    int any_empty = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (fl[i] == 0)
            any_empty = 1;
        else
            starts[(unsigned char)fs[i][0]] = 1;
    }
    uint8_t *merged = arena_alloc(&S->arena, n + 1);
    memset(merged, 0, n + 1);
    AStr r;
    lang_astr_init(S, &r, len + 16);
    size_t p = 0;
    while (p <= len) {
        if (!any_empty) {
            size_t q = p;
            while (q < len && !starts[(unsigned char)s[q]])
                q++;
            lang_astr_add(S, &r, s + p, q - p);
            p = q;
            if (p == len)
                break;
        }
        uint32_t i = 0;
        while (i < n && !(fl[i] <= len - p && !memcmp(s + p, fs[i], fl[i])))
            i++;
        if (i < n) {
            lang_astr_add(S, &r, ts[i], tl[i]);
            if (!merged[i]) {
                ctx = lang_ctx_merge(S, ctx, tc[i]);
                merged[i] = 1;
            }
            if (fl[i] != 0) {
                p += fl[i];
                continue;
            }
        }
        if (p < len)
            lang_astr_addch(S, &r, s[p]);
        p++;
    }
    lang_mk_string(S, out, r.buf, r.len, ctx);
}

static Value *groups_list(State *S, const char *s, const long *g, size_t ngroups) {
    Value *r = lang_alloc_value(S);
    lang_mk_list(S, r, (uint32_t)ngroups);
    for (size_t i = 0; i < ngroups; i++)
        r->elems[i] = g[2 * i] < 0 ? S->v_null
                                   : new_string(S, s + g[2 * i], (size_t)(g[2 * i + 1] - g[2 * i]));
    return r;
}

PRIM(match) {
    const char *re = lang_force_string_noctx(S, args[0], pos, NULL);
    size_t len;
    const char *s = lang_force_string(S, args[1], pos, &len, NULL);
    struct RegexCache *rc = get_regex(S, re, pos);
    size_t ng = rc->re.re_nsub + 1, ms, me;
    regmatch_t *m = arena_alloc(&S->arena, ng * sizeof(regmatch_t));
    long *g = arena_alloc(&S->arena, 2 * ng * sizeof(long));
    if (!rx_search(rc, s, len, 0, FL_RX_EXACT, &ms, &me, g, m)) {
        mk_null(out);
        return;
    }
    *out = *groups_list(S, s, g, ng - 1);
}

/* Nix walks std::sregex_iterator: after an empty match it first retries at the same place
 * for a non-empty one, then moves on a character; every search after the first sees the
 * text before it (`^` no longer holds). */
PRIM(split) {
    const char *re = lang_force_string_noctx(S, args[0], pos, NULL);
    size_t len;
    const char *s = lang_force_string(S, args[1], pos, &len, NULL);
    struct RegexCache *rc = get_regex(S, re, pos);
    size_t ng = rc->re.re_nsub + 1;
    regmatch_t *m = arena_alloc(&S->arena, ng * sizeof(regmatch_t));
    long *g = arena_alloc(&S->arena, 2 * ng * sizeof(long));
    size_t cap = 16, n = 0;
    Value **items = arena_alloc(&S->arena, cap * sizeof(Value *));
#define ITEM(v)                                                                                \
    do {                                                                                       \
        if (n == cap) {                                                                        \
            Value **ni = arena_alloc(&S->arena, cap * 2 * sizeof(Value *));                    \
            memcpy(ni, items, n * sizeof(Value *));                                            \
            items = ni;                                                                        \
            cap *= 2;                                                                          \
        }                                                                                      \
        items[n++] = (v);                                                                      \
    } while (0)
    size_t prev = 0, ms, me;
    int found = rx_search(rc, s, len, 0, 0, &ms, &me, g, m);
    while (found) {
        ITEM(new_string(S, s + prev, ms - prev));
        ITEM(groups_list(S, s, g, ng - 1));
        prev = me;
        size_t start = me;
        if (ms == me) {
            if (start == len)
                break;
            found = rx_search(rc, s, len, start,
                              FL_RX_NOT_NULL | FL_RX_CONTINUOUS | FL_RX_NOT_BOL, &ms, &me, g, m);
            if (found)
                continue;
            start++;
        }
        found = rx_search(rc, s, len, start, FL_RX_NOT_BOL, &ms, &me, g, m);
    }
    ITEM(new_string(S, s + prev, len - prev));
#undef ITEM
    out->type = V_LIST;
    out->n = (uint32_t)n;
    out->elems = items;
}

static int next_component(const char **p, const char *end, const char **cs, size_t *cl) {
    while (*p < end && (**p == '.' || **p == '-'))
        (*p)++;
    if (*p >= end) {
        *cs = *p;
        *cl = 0;
        return 0;
    }
    const char *s = *p;
    if (isdigit((unsigned char)**p))
        while (*p < end && isdigit((unsigned char)**p))
            (*p)++;
    else
        while (*p < end && !isdigit((unsigned char)**p) && **p != '.' && **p != '-')
            (*p)++;
    *cs = s;
    *cl = (size_t)(*p - s);
    return 1;
}

static int as_num(const char *s, size_t n, long long *out) {
    if (n == 0 || n > 18)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    long long v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    *out = v;
    return 1;
}

static int comp_lt(const char *a, size_t al, const char *b, size_t bl) {
    long long na, nb;
    int ia = as_num(a, al, &na), ib = as_num(b, bl, &nb);
    if (ia && ib)
        return na < nb;
    if (al == 0 && ib)
        return 1;
    int apre = al == 3 && !memcmp(a, "pre", 3), bpre = bl == 3 && !memcmp(b, "pre", 3);
    if (apre && !bpre)
        return 1;
    if (bpre)
        return 0;
    if (ib)
        return 1;
    if (ia)
        return 0;
    size_t m = al < bl ? al : bl;
    int c = memcmp(a, b, m);
    return c < 0 || (c == 0 && al < bl);
}

PRIM(compareVersions) {
    size_t l1, l2;
    const char *v1 = lang_force_string_noctx(S, args[0], pos, &l1);
    const char *v2 = lang_force_string_noctx(S, args[1], pos, &l2);
    const char *p1 = v1, *p2 = v2, *e1 = v1 + l1, *e2 = v2 + l2;
    while (p1 < e1 || p2 < e2) {
        const char *c1, *c2;
        size_t n1, n2;
        next_component(&p1, e1, &c1, &n1);
        next_component(&p2, e2, &c2, &n2);
        if (comp_lt(c1, n1, c2, n2)) {
            mk_int(out, -1);
            return;
        }
        if (comp_lt(c2, n2, c1, n1)) {
            mk_int(out, 1);
            return;
        }
    }
    mk_int(out, 0);
}

PRIM(splitVersion) {
    size_t l;
    const char *v = lang_force_string_noctx(S, args[0], pos, &l);
    const char *p = v, *e = v + l;
    Value **items = lang_alloc_elems(S, (uint32_t)l + 1);
    uint32_t n = 0;
    for (;;) {
        const char *c;
        size_t cl;
        if (!next_component(&p, e, &c, &cl))
            break;
        items[n++] = new_string(S, c, cl);
    }
    out->type = V_LIST;
    out->n = n;
    out->elems = items;
}

PRIM(parseDrvName) {
    size_t l;
    const char *s = lang_force_string_noctx(S, args[0], pos, &l);
    size_t split = l;
    for (size_t i = 0; i < l; i++)
        if (s[i] == '-' && i + 1 < l && !isalpha((unsigned char)s[i + 1])) {
            split = i;
            break;
        }
    Value *name = new_string(S, s, split);
    Value *ver = split < l ? new_string(S, s + split + 1, l - split - 1) : new_string(S, "", 0);
    mk_attrs2(S, out, S->s_name, name, lang_sym_intern(S, "version", 7), ver);
}

/* ---- hashes ---- */

static const EVP_MD *hash_algo(State *S, Value *v, PosIdx pos) {
    const char *t = lang_force_string_noctx(S, v, pos, NULL);
    if (!strcmp(t, "md5"))
        return EVP_md5();
    if (!strcmp(t, "sha1"))
        return EVP_sha1();
    if (!strcmp(t, "sha256"))
        return EVP_sha256();
    if (!strcmp(t, "sha512"))
        return EVP_sha512();
    lang_throw(S, pos, "unknown hash algorithm '%s'", t);
}

static void hex_digest(State *S, const EVP_MD *md, const char *data, size_t len, Value *out) {
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    EVP_Digest(data, len, h, &hl, md, NULL);
    char *hex = arena_alloc(&S->arena, hl * 2 + 1);
    for (unsigned i = 0; i < hl; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    lang_mk_string(S, out, hex, hl * 2, NULL);
}

PRIM(hashString) {
    const EVP_MD *md = hash_algo(S, args[0], pos);
    size_t len;
    const char *s = lang_force_string(S, args[1], pos, &len, NULL);
    hex_digest(S, md, s, len, out);
}

/* Reads a file into the arena, never past the memory limit: /dev/zero or a FIFO that never
 * ends is the located "out of memory" error, not an abort. */
static char *read_whole(State *S, const char *path, size_t *len, PosIdx pos) {
    lang_check_path(S, path, pos);
    int fd = open(lang_read_path(S, path), O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        lang_throw(S, pos, "opening file '%s': No such file or directory", path);
    }
    size_t budget = lang_arena_budget(&S->arena) / 2; /* the copy into the arena needs as much */
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536, n = 0;
    char *buf = cap <= budget ? malloc(cap) : NULL;
    for (;;) {
        if (!buf) {
            close(fd);
            lang_out_of_memory(S, pos, cap);
        }
        if (n == cap) {
            size_t ncap = cap * 2;
            char *nb = ncap <= budget ? realloc(buf, ncap) : NULL;
            if (!nb)
                free(buf);
            buf = nb;
            cap = ncap;
            continue;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            lang_throw(S, pos, "reading file '%s': %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    char *out = lang_arena_strndup(&S->arena, buf, n);
    free(buf);
    *len = n;
    return out;
}

PRIM(hashFile) {
    const EVP_MD *md = hash_algo(S, args[0], pos);
    const char *p = lang_realise_path(S, args[1], pos);
    size_t len;
    char *data = read_whole(S, p, &len, pos);
    hex_digest(S, md, data, len, out);
}

/* ---- files ---- */

PRIM(readFile) {
    const char *p = lang_realise_path(S, args[0], pos);
    size_t len;
    char *data = read_whole(S, p, &len, pos);
    lang_mk_string(S, out, data, len, NULL);
}

PRIM(pathExists) {
    const char *p = lang_realise_path(S, args[0], pos);
    struct stat st;
    mk_bool(out, lstat(lang_read_path(S, p), &st) == 0 && lang_path_visible(S, p));
}

PRIM(readDir) {
    const char *p = lang_realise_path(S, args[0], pos);
    lang_check_path(S, p, pos);
    DIR *d = opendir(lang_read_path(S, p));
    if (!d)
        lang_throw(S, pos, "opening directory '%s': %s", p,
                   errno == ENOTDIR ? "Not a directory" : "No such file or directory");
    size_t cap = 16, n = 0;
    KeyIdx *k = arena_alloc(&S->arena, cap * sizeof(KeyIdx));
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        const char *t = "unknown";
        struct stat st;
        char *full = fl_path_join(p, de->d_name);
        if (!lang_path_visible(S, full)) {
            free(full);
            continue;
        }
        if (lstat(full, &st) == 0)
            t = S_ISREG(st.st_mode) ? "regular" : S_ISDIR(st.st_mode) ? "directory"
                : S_ISLNK(st.st_mode) ? "symlink" : "unknown";
        free(full);
        if (n == cap) {
            KeyIdx *nk = arena_alloc(&S->arena, cap * 2 * sizeof(KeyIdx));
            memcpy(nk, k, n * sizeof(KeyIdx));
            k = nk;
            cap *= 2;
        }
        k[n] = (KeyIdx){lang_sym_intern(S, de->d_name, strlen(de->d_name)), (uint32_t)n,
                        new_string(S, t, strlen(t)), 0};
        n++;
    }
    closedir(d);
    Attrs *r = attrs_from_pairs(S, k, (uint32_t)n);
    out->type = V_ATTRS;
    out->attrs = r;
}

PRIM(toFile) {
    size_t nl, len;
    const char *name = lang_force_string_noctx(S, args[0], pos, &nl);
    const StrCtx *ctx;
    const char *s = lang_force_string(S, args[1], pos, &len, &ctx);
    const char *drvref = NULL;
    for (const StrCtx *c = ctx; c; c = c->next)
        if (c->path[0] != '/' && (!drvref || strcmp(c->path, drvref) < 0))
            drvref = c->path;
    if (drvref)
        lang_throw(S, pos,
                   "in 'toFile': the file named '%s' must not contain a reference to a derivation "
                   "but contains (%s)",
                   name, drvref);
    /* computed first in any case: it checks the name as Nix does */
    const char *sp = lang_store_path_for_text(S, name, s, len, ctx, pos);
    if (S->cfg.hooks.to_file) {
        fl_strbuf sb = FL_STRBUF_INIT;
        fl_error e = FL_ERROR_INIT;
        fl_strbuf_init(&sb, 0);
        const fl_lang_ctx_entry *refs;
        size_t nrefs = fl_lang_string_context((fl_lang *)S, (const fl_value *)args[1], &refs);
        const char **paths = arena_alloc(&S->arena, (nrefs + 1) * sizeof *paths);
        for (size_t i = 0; i < nrefs; i++)
            paths[i] = refs[i].path;
        if (S->cfg.hooks.to_file(S->cfg.hooks.ctx, name, s, len, paths, nrefs, &sb, &e) < 0) {
            fl_strbuf_release(&sb);
            char *msg = lang_arena_strndup(&S->arena, e.message ? e.message : "failed",
                                      strlen(e.message ? e.message : "failed"));
            fl_error_clear(&e);
            lang_throw(S, pos, "builtins.toFile '%s': %s", name, msg);
        }
        sp = lang_arena_strndup(&S->arena, sb.buf, sb.len);
        fl_strbuf_release(&sb);
    } else {
        lang_record_text(S, sp, s, len);
    }
    StrCtx *c = arena_alloc(&S->arena, sizeof(StrCtx));
    c->path = sp;
    c->next = NULL;
    lang_mk_string(S, out, sp, strlen(sp), c);
}

PRIM(baseNameOf) {
    AStr s;
    lang_astr_init(S, &s, 64);
    const StrCtx *ctx = NULL;
    lang_coerce_to_string(S, args[0], pos, 0, 0, &s, &ctx);
    size_t len = s.len;
    if (len == 0) {
        lang_mk_string(S, out, "", 0, ctx);
        return;
    }
    size_t last = len - 1;
    if (s.buf[last] == '/' && last > 0)
        last--;
    size_t start = 0;
    for (size_t i = last + 1; i > 0; i--)
        if (s.buf[i - 1] == '/') {
            start = i;
            break;
        }
    lang_mk_string(S, out, lang_arena_strndup(&S->arena, s.buf + start, last + 1 - start), last + 1 - start,
              ctx);
}

PRIM(dirOf) {
    force(S, args[0], pos);
    int is_path = args[0]->type == V_PATH;
    AStr s;
    lang_astr_init(S, &s, 64);
    const StrCtx *ctx = NULL;
    lang_coerce_to_string(S, args[0], pos, 0, 0, &s, &ctx);
    const char *slash = strrchr(s.buf, '/');
    const char *r;
    size_t rl;
    if (!slash) {
        r = ".";
        rl = 1;
    } else if (slash == s.buf) {
        r = "/";
        rl = 1;
    } else {
        r = s.buf;
        rl = (size_t)(slash - s.buf);
    }
    if (is_path) {
        char *tmp = lang_arena_strndup(&S->arena, r, rl);
        char *c = fl_canon_path(tmp, "/");
        lang_mk_path(S, out, c);
        free(c);
    } else {
        lang_mk_string(S, out, lang_arena_strndup(&S->arena, r, rl), rl, ctx);
    }
}

PRIM(toPath) {
    const char *p = lang_coerce_to_path(S, args[0], pos);
    char *c = fl_canon_path(p, "/");
    lang_mk_string_copy(S, out, c, strlen(c), NULL);
    free(c);
}

/* The string of a store path the evaluation made: its own context. */
static void mk_store_path_string(State *S, Value *out, const char *sp) {
    StrCtx *c = arena_alloc(&S->arena, sizeof(StrCtx));
    c->path = sp;
    c->next = NULL;
    lang_mk_string(S, out, sp, strlen(sp), c);
}

/* coerce_to_path keeping the context, which addPath realises before reading. */
static const char *path_arg(State *S, Value *v, PosIdx pos) {
    AStr s;
    lang_astr_init(S, &s, 64);
    const StrCtx *ctx = NULL;
    lang_coerce_to_string(S, v, pos, 0, 0, &s, &ctx);
    if (s.len == 0 || s.buf[0] != '/')
        lang_throw(S, pos, "string '%s' doesn't represent an absolute path", s.buf);
    const char *bad = lang_ctx_invalid_path(S, ctx);
    if (bad)
        lang_throw_unrealised(S, pos, s.buf, bad);
    return s.buf;
}

PRIM(path) {
    Attrs *a = lang_force_attrs(S, args[0], pos);
    const char *path = NULL, *name = NULL;
    Value *filter = NULL;
    int recursive = 1, have_hash = 0;
    unsigned char hash[32];
    /* in the set's own (symbol) order, as Nix: it decides which error comes first */
    for (uint32_t i = 0; i < a->n; i++) {
        Attr *at = &a->a[i];
        const char *k = sym_name(S, at->name);
        if (!strcmp(k, "path")) {
            path = path_arg(S, at->value, at->pos);
        } else if (at->name == S->s_name) {
            name = lang_force_string_noctx(S, at->value, at->pos, NULL);
        } else if (!strcmp(k, "filter")) {
            force(S, at->value, pos);
            filter = at->value;
        } else if (!strcmp(k, "recursive")) {
            recursive = lang_force_bool(S, at->value, at->pos);
        } else if (!strcmp(k, "sha256")) {
            const char *h = lang_force_string_noctx(S, at->value, at->pos, NULL);
            if (*h) {
                lang_parse_sha256(S, h, hash, at->pos);
            } else {
                memset(hash, 0, sizeof hash);
                lang_warn(S, "found empty hash, assuming "
                             "'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='");
            }
            have_hash = 1;
        } else {
            lang_throw(S, at->pos, "unsupported argument '%s' to 'addPath'", k);
        }
    }
    if (!path)
        lang_throw(S, pos, "'path' required");
    if (!name || !*name) {
        const char *b = strrchr(path, '/');
        name = b ? b + 1 : path;
    }
    mk_store_path_string(S, out, lang_path_add(S, path, name, recursive, filter,
                                          have_hash ? hash : NULL, pos));
}

PRIM(filterSource) {
    const char *path = path_arg(S, args[1], pos);
    force(S, args[0], pos);
    if (args[0]->type != V_LAMBDA && args[0]->type != V_PRIMOP && args[0]->type != V_PRIMOP_APP)
        lang_throw(S, pos, "first argument in call to 'filterSource' is not a function but %s",
                   lang_show_type(args[0]));
    const char *b = strrchr(path, '/');
    mk_store_path_string(S, out, lang_path_add(S, path, b ? b + 1 : path, 1, args[0], NULL, pos));
}

PRIM(getEnv) {
    const char *name = lang_force_string_noctx(S, args[0], pos, NULL);
    const char *v = S->cfg.pure ? NULL : getenv(name);
    if (!v)
        v = "";
    lang_mk_string_copy(S, out, v, strlen(v), NULL);
}

PRIM(unsafeDiscardStringContext) {
    AStr s;
    lang_astr_init(S, &s, 64);
    lang_coerce_to_string(S, args[0], pos, 0, 1, &s, NULL);
    lang_mk_string(S, out, s.buf, s.len, NULL);
}

PRIM(hasContext) {
    const StrCtx *ctx;
    lang_force_string(S, args[0], pos, NULL, &ctx);
    mk_bool(out, ctx != NULL);
}

PRIM(placeholder) {
    const char *o = lang_force_string_noctx(S, args[0], pos, NULL);
    char *in = fl_xasprintf("nix-output:%s", o);
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_Digest(in, strlen(in), h, &hl, EVP_sha256(), NULL);
    free(in);
    char b32[64];
    fl_base32_encode(h, 32, b32);
    AStr s;
    lang_astr_init(S, &s, 64);
    lang_astr_addch(S, &s, '/');
    astr_adds(S, &s, b32);
    lang_mk_string(S, out, s.buf, s.len, NULL);
}

PRIM(unsafeDiscardOutputDependency) {
    AStr s;
    lang_astr_init(S, &s, 64);
    const StrCtx *ctx = NULL;
    lang_coerce_to_string(S, args[0], pos, 0, 1, &s, &ctx);
    StrCtx *r = NULL;
    for (const StrCtx *c = ctx; c; c = c->next) {
        StrCtx *n = arena_alloc(&S->arena, sizeof(StrCtx));
        n->path = c->path[0] == '=' ? c->path + 1 : c->path;
        n->next = r;
        r = n;
    }
    lang_mk_string(S, out, s.buf, s.len, r);
}

/* { "<path>" = { path = true; } | { allOutputs = true; } | { outputs = [ ... ]; }; } */
PRIM(getContext) {
    const StrCtx *ctx;
    lang_force_string(S, args[0], pos, NULL, &ctx);
    uint32_t n = 0;
    for (const StrCtx *c = ctx; c; c = c->next)
        n++;
    KeyIdx *k = arena_alloc(&S->arena, (n + 1) * sizeof(KeyIdx));
    uint32_t m = 0;
    Sym s_path = lang_sym_intern(S, "path", 4), s_all = lang_sym_intern(S, "allOutputs", 10),
        s_outs = lang_sym_intern(S, "outputs", 7);
    for (const StrCtx *c = ctx; c; c = c->next) {
        const char *p = c->path, *outname = NULL;
        size_t outlen = 0;
        Sym kind = s_path;
        if (p[0] == '=') {
            p++;
            kind = s_all;
        } else if (p[0] == '!' && strchr(p + 1, '!')) {
            outname = p + 1;
            outlen = (size_t)(strchr(p + 1, '!') - outname);
            p = strchr(p + 1, '!') + 1;
            kind = s_outs;
        }
        Sym ps = lang_sym_intern(S, p, strlen(p));
        /* merge with an earlier entry for the same path */
        Attrs *info = NULL;
        for (uint32_t i = 0; i < m; i++)
            if (k[i].name == ps)
                info = k[i].value->attrs;
        if (!info) {
            Value *iv = lang_alloc_value(S);
            iv->type = V_ATTRS;
            iv->attrs = info = lang_alloc_attrs(S, 3);
            k[m] = (KeyIdx){ps, m, iv, 0};
            m++;
        }
        Attr *ex = lang_attrs_find(info, kind);
        if (kind == s_outs) {
            Value *name = new_string(S, outname, outlen);
            Value *l = lang_alloc_value(S);
            if (ex) {
                lang_mk_list(S, l, ex->value->n + 1);
                memcpy(l->elems, ex->value->elems, ex->value->n * sizeof(Value *));
                l->elems[ex->value->n] = name;
                ex->value = l;
            } else {
                lang_mk_list(S, l, 1);
                l->elems[0] = name;
                info->a[info->n++] = (Attr){kind, 0, l};
            }
        } else if (!ex) {
            info->a[info->n++] = (Attr){kind, 0, S->v_true};
        }
        lang_attrs_sort(info);
    }
    Attrs *r = attrs_from_pairs(S, k, m);
    out->type = V_ATTRS;
    out->attrs = r;
}

/* A store path itself (/nix/store/HASH-NAME, nothing below it), as Nix's isStorePath. */
static int is_store_path(const char *p) {
    static const char b32[] = "0123456789abcdfghijklmnpqrsvwxyz";
    if (strncmp(p, "/nix/store/", 11))
        return 0;
    const char *b = p + 11;
    for (int i = 0; i < 32; i++)
        if (!b[i] || !strchr(b32, b[i]))
            return 0;
    if (b[32] != '-' || !b[33] || strlen(b + 33) > 211)
        return 0;
    for (const char *q = b + 33; *q; q++)
        if (!isalnum((unsigned char)*q) && !strchr("+-._?=", *q))
            return 0;
    return 1;
}

/* Nix's canonPath(path, resolveSymlinks = true): "." and ".." removed, every symbolic link
 * followed; a missing component is an error naming the prefix that is missing. */
static const char *canon_resolving(State *S, const char *path, PosIdx pos) {
    AStr todo;
    lang_astr_init(S, &todo, 256);
    astr_adds(S, &todo, path);
    int links = 0;
restart:;
    AStr res;
    lang_astr_init(S, &res, 256);
    const char *p = todo.buf;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, "/");
        if (n == 1 && p[0] == '.') {
            p += n;
            continue;
        }
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (res.len > 0 && res.buf[res.len - 1] != '/')
                res.len--;
            if (res.len > 0)
                res.len--;
            res.buf[res.len] = '\0';
            p += n;
            continue;
        }
        lang_astr_addch(S, &res, '/');
        lang_astr_add(S, &res, p, n);
        p += n;
        struct stat st;
        if (lstat(res.buf, &st) != 0)
            lang_throw(S, pos, "getting status of '%s': %s", res.buf, strerror(errno));
        if (S_ISLNK(st.st_mode)) {
            if (++links > 1024)
                lang_throw(S, pos, "infinite symlink recursion in path '%s'", path);
            char target[4096];
            ssize_t tl = readlink(res.buf, target, sizeof target - 1);
            if (tl < 0)
                lang_throw(S, pos, "reading symbolic link '%s': %s", res.buf, strerror(errno));
            target[tl] = '\0';
            AStr next;
            lang_astr_init(S, &next, 256);
            if (target[0] != '/') {
                while (res.len > 0 && res.buf[res.len - 1] != '/')
                    res.len--;
                lang_astr_add(S, &next, res.buf, res.len);
            }
            astr_adds(S, &next, target);
            astr_adds(S, &next, p);
            todo = next;
            goto restart;
        }
    }
    if (res.len == 0)
        lang_astr_addch(S, &res, '/');
    return res.buf;
}

PRIM(storePath) {
    const char *p = lang_coerce_to_path(S, args[0], pos);
    lang_check_path(S, p, pos);
    if (!is_store_path(p))
        p = canon_resolving(S, p, pos);
    if (strncmp(p, "/nix/store/", 11) || !p[11])
        lang_throw(S, pos, "path '%s' is not in the Nix store", p);
    size_t n = 11 + strcspn(p + 11, "/");
    StrCtx *c = arena_alloc(&S->arena, sizeof(StrCtx));
    c->path = lang_arena_strndup(&S->arena, p, n);
    c->next = NULL;
    lang_mk_string_copy(S, out, p, strlen(p), c);
}

static void ctx_add(State *S, const StrCtx **ctx, const char *pre, const char *path) {
    AStr t;
    lang_astr_init(S, &t, 64);
    astr_adds(S, &t, pre);
    astr_adds(S, &t, path);
    StrCtx *c = arena_alloc(&S->arena, sizeof(StrCtx));
    c->path = t.buf;
    c->next = NULL;
    *ctx = lang_ctx_merge(S, *ctx, c);
}

/* builtins.appendContext STRING { "/nix/store/..." = { path = BOOL; allOutputs = BOOL;
 * outputs = [ NAME ... ]; }; }: the inverse of getContext. */
PRIM(appendContext) {
    size_t len;
    const StrCtx *ctx;
    const char *s = lang_force_string(S, args[0], pos, &len, &ctx);
    Attrs *a = lang_force_attrs(S, args[1], pos);
    Sym s_all = lang_sym_intern(S, "allOutputs", 10);
    Attr **sorted = lang_attrs_sorted_by_name(S, a);
    for (uint32_t i = 0; i < a->n; i++) {
        Attr *at = sorted[i];
        const char *key = sym_name(S, at->name);
        size_t kl = sym_len(S, at->name);
        int is_drv = kl >= 4 && !strcmp(key + kl - 4, ".drv");
        if (!is_store_path(key))
            lang_throw(S, at->pos, "Context key '%s' is not a store path", key);
        Attrs *info = lang_force_attrs(S, at->value, at->pos);
        Attr *x = lang_attrs_find(info, S->s_path);
        if (x && lang_force_bool(S, x->value, x->pos))
            ctx_add(S, &ctx, "", key);
        x = lang_attrs_find(info, s_all);
        if (x && lang_force_bool(S, x->value, x->pos)) {
            if (!is_drv)
                lang_throw(S, at->pos,
                           "Tried to add all-outputs context of %s, which is not a derivation, "
                           "to a string",
                           key);
            ctx_add(S, &ctx, "=", key);
        }
        x = lang_attrs_find(info, S->s_outputs);
        if (x) {
            lang_force_list(S, x->value, x->pos);
            if (x->value->n && !is_drv)
                lang_throw(S, at->pos,
                           "Tried to add derivation output context of %s, which is not a "
                           "derivation, to a string",
                           key);
            for (uint32_t k = 0; k < x->value->n; k++) {
                const char *o = lang_force_string_noctx(S, x->value->elems[k], x->pos, NULL);
                AStr pre;
                lang_astr_init(S, &pre, 32);
                lang_astr_addf(S, &pre, "!%s!", o);
                ctx_add(S, &ctx, pre.buf, key);
            }
        }
    }
    lang_mk_string(S, out, s, len, ctx);
}

/* Builtins Nix has and flakectl does not implement: present (so `builtins ? x` answers as
 * in Nix), with an error that says so. */
static void unsupported(State *S, PosIdx pos, const char *name) {
    lang_throw(S, pos, "builtins.%s is not supported by flakectl's evaluator", name);
}
void lang_prim_fetch_git(State *S, Value **args, Value *out, PosIdx pos);
PRIM(fetchGit) {
    lang_prim_fetch_git(S, args, out, pos);
}
PRIM(fetchMercurial) { (void)args; (void)out; unsupported(S, pos, "fetchMercurial"); }
void lang_prim_fetch_tarball(State *S, Value **args, Value *out, PosIdx pos);
PRIM(fetchTarball) {
    lang_prim_fetch_tarball(S, args, out, pos);
}
/* Nix 2.8 has fetchTree only with the experimental feature 'flakes' (nix-instantiate does not
 * enable it); without, it refuses before looking at its argument, and tryEval does not catch
 * that. flakectl has no experimental features: it always answers so. */
PRIM(fetchTree) {
    (void)args;
    (void)out;
    lang_throw(S, pos, "experimental Nix feature 'flakes' is disabled; use "
                       "'--extra-experimental-features flakes' to override");
}
void lang_prim_fetch_url(State *S, Value **args, Value *out, PosIdx pos);
PRIM(fetchurl) {
    lang_prim_fetch_url(S, args, out, pos);
}
void lang_to_xml(State *S, Value *v, AStr *out, PosIdx pos, const StrCtx **ctx);
PRIM(toXML) {
    AStr s;
    lang_astr_init(S, &s, 256);
    const StrCtx *ctx = NULL;
    lang_to_xml(S, args[0], &s, pos, &ctx);
    lang_mk_string(S, out, s.buf, s.len, ctx);
}

/* ---- JSON and TOML ---- */

PRIM(toJSON) {
    AStr s;
    lang_astr_init(S, &s, 64);
    const StrCtx *ctx = NULL;
    lang_to_json(S, args[0], 1, &s, pos, &ctx);
    lang_mk_string(S, out, s.buf, s.len, ctx);
}

PRIM(fromJSON) {
    size_t len;
    const char *s = lang_force_string_noctx(S, args[0], pos, &len);
    lang_push_text_frame(S, pos, "while decoding a JSON string");
    lang_json_to_value(S, s, len, out, pos);
    S->nframes--;
}

void lang_toml_to_value(State *S, const char *s, size_t len, Value *out, PosIdx pos);
PRIM(fromTOML) {
    size_t len;
    const char *s = lang_force_string_noctx(S, args[0], pos, &len);
    lang_toml_to_value(S, s, len, out, pos);
}

void lang_prim_derivation_strict(State *S, Value **args, Value *out, PosIdx pos);
PRIM(derivationStrict) {
    lang_prim_derivation_strict(S, args, out, pos);
}

/* ---- registration ---- */

static const struct {
    const char *name;
    int arity;
    PrimFn fn;
    int top; /* also visible without builtins. */
} prims[] = {
    {"abort", 1, prim_abort, 1},
    {"appendContext", 2, prim_appendContext, 0},
    {"fetchGit", 1, prim_fetchGit, 0},
    {"fetchMercurial", 1, prim_fetchMercurial, 0},
    {"fetchTarball", 1, prim_fetchTarball, 0},
    {"fetchTree", 1, prim_fetchTree, 0},
    {"fetchurl", 1, prim_fetchurl, 0},
    {"filterSource", 2, prim_filterSource, 0},
    {"getContext", 1, prim_getContext, 0},
    {"scopedImport", 2, prim_scopedImport, 1},
    {"storePath", 1, prim_storePath, 0},
    {"toXML", 1, prim_toXML, 0},
    {"unsafeDiscardOutputDependency", 1, prim_unsafeDiscardOutputDependency, 0},
    {"add", 2, prim_add, 0},
    {"addErrorContext", 2, prim_addErrorContext, 0},
    {"all", 2, prim_all, 0},
    {"any", 2, prim_any, 0},
    {"attrNames", 1, prim_attrNames, 0},
    {"attrValues", 1, prim_attrValues, 0},
    {"baseNameOf", 1, prim_baseNameOf, 1},
    {"bitAnd", 2, prim_bitAnd, 0},
    {"bitOr", 2, prim_bitOr, 0},
    {"bitXor", 2, prim_bitXor, 0},
    {"catAttrs", 2, prim_catAttrs, 0},
    {"ceil", 1, prim_ceil, 0},
    {"compareVersions", 2, prim_compareVersions, 0},
    {"concatLists", 1, prim_concatLists, 0},
    {"concatMap", 2, prim_concatMap, 0},
    {"concatStringsSep", 2, prim_concatStringsSep, 0},
    {"deepSeq", 2, prim_deepSeq, 0},
    {"derivationStrict", 1, prim_derivationStrict, 0},
    {"dirOf", 1, prim_dirOf, 1},
    {"div", 2, prim_div, 0},
    {"elem", 2, prim_elem, 0},
    {"elemAt", 2, prim_elemAt, 0},
    {"filter", 2, prim_filter, 0},
    {"findFile", 2, prim_findFile, 0},
    {"floor", 1, prim_floor, 0},
    {"foldl'", 3, prim_foldlStrict, 0},
    {"fromJSON", 1, prim_fromJSON, 0},
    {"fromTOML", 1, prim_fromTOML, 0},
    {"functionArgs", 1, prim_functionArgs, 0},
    {"genList", 2, prim_genList, 0},
    {"genericClosure", 1, prim_genericClosure, 0},
    {"getAttr", 2, prim_getAttr, 0},
    {"getEnv", 1, prim_getEnv, 0},
    {"groupBy", 2, prim_groupBy, 0},
    {"hasAttr", 2, prim_hasAttr, 0},
    {"hasContext", 1, prim_hasContext, 0},
    {"hashFile", 2, prim_hashFile, 0},
    {"hashString", 2, prim_hashString, 0},
    {"head", 1, prim_head, 0},
    {"import", 1, prim_import, 1},
    {"intersectAttrs", 2, prim_intersectAttrs, 0},
    {"isAttrs", 1, prim_isAttrs, 0},
    {"isBool", 1, prim_isBool, 0},
    {"isFloat", 1, prim_isFloat, 0},
    {"isFunction", 1, prim_isFunction, 0},
    {"isInt", 1, prim_isInt, 0},
    {"isList", 1, prim_isList, 0},
    {"isNull", 1, prim_isNull, 1},
    {"isPath", 1, prim_isPath, 0},
    {"isString", 1, prim_isString, 0},
    {"length", 1, prim_length, 0},
    {"lessThan", 2, prim_lessThan, 0},
    {"listToAttrs", 1, prim_listToAttrs, 0},
    {"map", 2, prim_map, 1},
    {"mapAttrs", 2, prim_mapAttrs, 0},
    {"match", 2, prim_match, 0},
    {"mul", 2, prim_mul, 0},
    {"parseDrvName", 1, prim_parseDrvName, 0},
    {"partition", 2, prim_partition, 0},
    {"path", 1, prim_path, 0},
    {"pathExists", 1, prim_pathExists, 0},
    {"placeholder", 1, prim_placeholder, 1},
    {"readDir", 1, prim_readDir, 0},
    {"readFile", 1, prim_readFile, 0},
    {"removeAttrs", 2, prim_removeAttrs, 1},
    {"replaceStrings", 3, prim_replaceStrings, 0},
    {"seq", 2, prim_seq, 0},
    {"sort", 2, prim_sort, 0},
    {"split", 2, prim_split, 0},
    {"splitVersion", 1, prim_splitVersion, 0},
    {"stringLength", 1, prim_stringLength, 0},
    {"sub", 2, prim_sub, 0},
    {"substring", 3, prim_substring, 0},
    {"tail", 1, prim_tail, 0},
    {"throw", 1, prim_throw, 1},
    {"toFile", 2, prim_toFile, 0},
    {"toJSON", 1, prim_toJSON, 0},
    {"toPath", 1, prim_toPath, 0},
    {"toString", 1, prim_toString, 1},
    {"trace", 2, prim_trace, 0},
    {"tryEval", 1, prim_tryEval, 0},
    {"typeOf", 1, prim_typeOf, 0},
    {"unsafeDiscardStringContext", 1, prim_unsafeDiscardStringContext, 0},
    {"unsafeGetAttrPos", 2, prim_unsafeGetAttrPos, 0},
    {"zipAttrsWith", 2, prim_zipAttrsWith, 0},
};

/* derivation: the attributes, one set per output (all pointing at each other), and the paths
 * derivationStrict computed. Written here in the language because its sharing is what
 * nix-instantiate prints («repeated»). */
static const char derivation_src[] =
    "attrs@{ outputs ? [ \"out\" ], ... }:\n"
    "let\n"
    "  paths = builtins.derivationStrict attrs;\n"
    "  shared = attrs // builtins.listToAttrs perOutput\n"
    "    // { all = map (o: o.value) perOutput; drvAttrs = attrs; };\n"
    "  forOutput = outputName: {\n"
    "    name = outputName;\n"
    "    value = shared // {\n"
    "      outPath = builtins.getAttr outputName paths;\n"
    "      drvPath = paths.drvPath;\n"
    "      type = \"derivation\";\n"
    "      inherit outputName;\n"
    "    };\n"
    "  };\n"
    "  perOutput = map forOutput outputs;\n"
    "in (builtins.head perOutput).value\n";

void lang_builtins_init(State *S) {
    size_t np = sizeof prims / sizeof prims[0];
    S->v_true = lang_alloc_value(S);
    mk_bool(S->v_true, 1);
    S->v_false = lang_alloc_value(S);
    mk_bool(S->v_false, 0);
    S->v_null = lang_alloc_value(S);
    mk_null(S->v_null);
    Attrs *b = lang_alloc_attrs(S, (uint32_t)np + 16);
    S->builtins = lang_alloc_value(S);
    S->builtins->type = V_ATTRS;
    S->builtins->attrs = b;
    for (size_t i = 0; i < np; i++) {
        PrimOp *op = lang_arena_zalloc(&S->arena, sizeof(PrimOp));
        op->name = prims[i].name;
        op->arity = prims[i].arity;
        op->fn = prims[i].fn;
        Value *v = lang_alloc_value(S);
        v->type = V_PRIMOP;
        v->primop = op;
        b->a[b->n++] = (Attr){lang_sym_intern(S, prims[i].name, strlen(prims[i].name)), 0, v};
        char name[64];
        snprintf(name, sizeof name, "__%s", prims[i].name);
        lang_add_base(S, name, v);
        if (prims[i].top)
            lang_add_base(S, prims[i].name, v);
    }
    /* constants */
    Value *sys = lang_alloc_value(S);
    lang_mk_string_copy(S, sys, S->system, strlen(S->system), NULL);
    Value *ver = lang_alloc_value(S);
    lang_mk_string(S, ver, "2.8.0", 5, NULL);
    Value *lv = lang_alloc_value(S);
    mk_int(lv, 6);
    Value *sd = lang_alloc_value(S);
    lang_mk_string(S, sd, "/nix/store", 10, NULL);
    Value *np_ = lang_alloc_value(S);
    build_nix_path(S, np_);
    Value *now = lang_alloc_value(S);
    mk_int(now, (int64_t)time(NULL));
    struct {
        const char *name;
        Value *v;
    } consts[] = {
        {"currentSystem", sys}, {"nixVersion", ver}, {"langVersion", lv}, {"currentTime", now},
        {"storeDir", sd},       {"nixPath", np_},    {"true", S->v_true},
        {"false", S->v_false},  {"null", S->v_null},
    };
    for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++) {
        const char *n = consts[i].name;
        int scalar = !strcmp(n, "true") || !strcmp(n, "false") || !strcmp(n, "null");
        if (!scalar) {
            b->a[b->n++] = (Attr){lang_sym_intern(S, n, strlen(n)), 0, consts[i].v};
            char name[64];
            snprintf(name, sizeof name, "__%s", n);
            lang_add_base(S, name, consts[i].v);
        } else {
            b->a[b->n++] = (Attr){lang_sym_intern(S, n, strlen(n)), 0, consts[i].v};
            lang_add_base(S, n, consts[i].v);
        }
    }
    b->a[b->n++] = (Attr){lang_sym_intern(S, "builtins", 8), 0, S->builtins};
    lang_add_base(S, "builtins", S->builtins);
    lang_attrs_sort(b);
    /* derivation is a lambda in Nix; keep it one so it prints <LAMBDA> */
    uint32_t lang_add_source(State * S, const char *name, const char *dir);
    uint32_t fid = lang_add_source(S, "«builtin derivation»", "/");
    Expr *de = lang_parse_source(S, derivation_src, sizeof derivation_src - 1, fid, "/");
    if (de) {
        Value *dv = lang_alloc_value(S);
        lang_eval(S, de, S->base_env, dv);
        b = lang_alloc_attrs(S, S->builtins->attrs->n + 1);
        memcpy(b->a, S->builtins->attrs->a, S->builtins->attrs->n * sizeof(Attr));
        b->n = S->builtins->attrs->n;
        b->a[b->n++] = (Attr){lang_sym_intern(S, "derivation", 10), 0, dv};
        lang_attrs_sort(b);
        S->builtins->attrs = b;
        lang_add_base(S, "derivation", dv);
    }
}
