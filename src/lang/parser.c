/* parser.c - tokens to an AST with a position on every node (Nix 2.8's grammar, operator
 * precedence and associativity), nested attribute paths merged at parse time, indented
 * strings stripped, then variables resolved to (level, slot) against the static scopes.
 * Never evaluates anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "lang/internal.h"

typedef struct Pending Pending;
typedef struct Parser {
    State *S;
    /* attribute sets whose binds are still being collected */
    Pending *pending;
    uint32_t npending, cappending;
    Token *t;
    size_t n, i;
    uint32_t file;
    const char *basedir;
    jmp_buf jb;
    int depth;
} Parser;

/* A growable array in the arena. */
#define VEC(T)                                                                                 \
    struct {                                                                                   \
        T *a;                                                                                  \
        uint32_t n, cap;                                                                       \
    }
#define VEC_PUSH(S, v, x)                                                                      \
    do {                                                                                       \
        if ((v).n == (v).cap) {                                                                \
            uint32_t nc_ = (v).cap ? (v).cap * 2 : 4;                                          \
            void *na_ = arena_alloc(&(S)->arena, nc_ * sizeof(*(v).a));                        \
            if ((v).n)                                                                         \
                memcpy(na_, (v).a, (v).n * sizeof(*(v).a));                                    \
            (v).a = na_;                                                                       \
            (v).cap = nc_;                                                                     \
        }                                                                                      \
        (v).a[(v).n++] = (x);                                                                  \
    } while (0)

static NORETURN void perr_at(Parser *P, const Token *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fl_error_setv(&P->S->err, FL_EPARSE, fmt, ap);
    va_end(ap);
    fl_error_set_loc(&P->S->err, P->S->files[P->file].path, (int)t->line, (int)t->col);
    longjmp(P->jb, 1);
}

static NORETURN void perr_pos(Parser *P, PosIdx pos, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fl_error_setv(&P->S->err, FL_EPARSE, fmt, ap);
    va_end(ap);
    fl_lang_pos p;
    lang_pos_get(P->S, pos, &p);
    if (p.file)
        fl_error_set_loc(&P->S->err, p.file, p.line, p.col);
    longjmp(P->jb, 1);
}

static NORETURN void unexpected(Parser *P, const char *expecting) {
    char buf[80];
    const Token *t = &P->t[P->i];
    const char *what = lang_tok_describe(P->S, t, buf, sizeof buf);
    if (expecting)
        perr_at(P, t, "syntax error, unexpected %s, expecting %s", what, expecting);
    perr_at(P, t, "syntax error, unexpected %s", what);
}

static inline Token *cur(Parser *P) {
    return &P->t[P->i];
}
static inline int peek(Parser *P, size_t k) {
    return P->i + k < P->n ? P->t[P->i + k].type : T_EOF;
}
static inline Token *next(Parser *P) {
    Token *t = &P->t[P->i];
    if (P->i + 1 < P->n)
        P->i++;
    return t;
}
static Token *expect(Parser *P, int type, const char *what) {
    if (cur(P)->type != type)
        unexpected(P, what);
    return next(P);
}

static PosIdx tpos(Parser *P, const Token *t) {
    return lang_pos_make(P->S, P->file, t->line, t->col);
}

static Expr *mk(Parser *P, int kind, PosIdx pos) {
    Expr *e = lang_arena_zalloc(&P->S->arena, sizeof(Expr));
    e->kind = (uint8_t)kind;
    e->pos = pos;
    return e;
}

static Expr *mk_str_const(Parser *P, const char *s, size_t len, PosIdx pos) {
    Expr *e = mk(P, E_CONST, pos);
    lang_mk_string(P->S, &e->cval, lang_arena_strndup(&P->S->arena, s, len), len, NULL);
    return e;
}

static Expr *mk_bin(Parser *P, int kind, Expr *a, Expr *b, PosIdx pos) {
    Expr *e = mk(P, kind, pos);
    e->op.a = a;
    e->op.b = b;
    return e;
}

static Expr *mk_var(Parser *P, Sym name, PosIdx pos) {
    Expr *e = mk(P, E_VAR, pos);
    e->var.name = name;
    return e;
}

static Expr *parse_expr(Parser *P);
static Expr *parse_select(Parser *P);

static void depth_in(Parser *P) {
    if (++P->depth > 1000000 || stack_exceeded(P->S))
        perr_at(P, cur(P), "expression nested too deeply");
}

/* ---- strings ---- */

typedef struct Part {
    Expr *e;       /* interpolation, or NULL */
    const char *s; /* literal */
    size_t len;
    int indent; /* literal whose leading blanks count for indentation */
    PosIdx pos;
} Part;
typedef VEC(Part) PartVec;

static Expr *parse_interp(Parser *P) {
    expect(P, T_DOLLAR_CURLY, "'${'");
    Expr *e = parse_expr(P);
    expect(P, T_RBRACE, "'}'");
    return e;
}

static Expr *concat_parts(Parser *P, PartVec *pv, PosIdx pos) {
    Expr *e = mk(P, E_CONCATSTRINGS, pos);
    e->flag = 1;
    e->cat.n = pv->n;
    e->cat.parts = arena_alloc(&P->S->arena, pv->n * sizeof(Expr *));
    e->cat.ppos = arena_alloc(&P->S->arena, pv->n * sizeof(PosIdx));
    for (uint32_t i = 0; i < pv->n; i++) {
        Part *p = &pv->a[i];
        e->cat.parts[i] = p->e ? p->e : mk_str_const(P, p->s, p->len, p->pos);
        e->cat.ppos[i] = p->pos;
    }
    return e;
}

static Expr *parse_string(Parser *P) {
    Token *open = expect(P, T_DQUOTE, "'\"'");
    PosIdx pos = tpos(P, open);
    PartVec pv = {0};
    for (;;) {
        Token *t = cur(P);
        if (t->type == T_DQUOTE_END) {
            next(P);
            break;
        }
        Part part = {0};
        part.pos = tpos(P, t);
        if (t->type == T_STR) {
            part.s = t->s;
            part.len = t->len;
            next(P);
        } else if (t->type == T_DOLLAR_CURLY) {
            part.e = parse_interp(P);
        } else {
            unexpected(P, "'\"'");
        }
        VEC_PUSH(P->S, pv, part);
    }
    if (pv.n == 0)
        return mk_str_const(P, "", 0, pos);
    if (pv.n == 1 && !pv.a[0].e)
        return mk_str_const(P, pv.a[0].s, pv.a[0].len, pos);
    return concat_parts(P, &pv, pos);
}

/* Nix's stripIndentation, including its quirks (escapes end a line's indentation, a last
 * line of blanks is dropped). */
static Expr *parse_ind_string(Parser *P) {
    Token *open = expect(P, T_IND_OPEN, "''");
    PosIdx pos = tpos(P, open);
    PartVec es = {0};
    for (;;) {
        Token *t = cur(P);
        if (t->type == T_IND_CLOSE) {
            next(P);
            break;
        }
        Part part = {0};
        part.pos = tpos(P, t);
        if (t->type == T_IND_STR) {
            part.s = t->s;
            part.len = t->len;
            part.indent = t->flag;
            next(P);
        } else if (t->type == T_DOLLAR_CURLY) {
            part.e = parse_interp(P);
        } else {
            unexpected(P, "''");
        }
        VEC_PUSH(P->S, es, part);
    }
    if (es.n == 0)
        return mk_str_const(P, "", 0, pos);
    int at_start = 1;
    size_t min_indent = 1000000, cur_indent = 0;
    for (uint32_t k = 0; k < es.n; k++) {
        Part *p = &es.a[k];
        if (p->e || !p->indent) {
            if (at_start) {
                at_start = 0;
                if (cur_indent < min_indent)
                    min_indent = cur_indent;
            }
            continue;
        }
        for (size_t j = 0; j < p->len; j++) {
            if (at_start) {
                if (p->s[j] == ' ')
                    cur_indent++;
                else if (p->s[j] == '\n')
                    cur_indent = 0;
                else {
                    at_start = 0;
                    if (cur_indent < min_indent)
                        min_indent = cur_indent;
                }
            } else if (p->s[j] == '\n') {
                at_start = 1;
                cur_indent = 0;
            }
        }
    }
    PartVec es2 = {0};
    at_start = 1;
    size_t dropped = 0;
    for (uint32_t k = 0; k < es.n; k++) {
        Part *p = &es.a[k];
        if (p->e) {
            at_start = 0;
            dropped = 0;
            VEC_PUSH(P->S, es2, *p);
            continue;
        }
        AStr s2;
        lang_astr_init(P->S, &s2, p->len + 1);
        for (size_t j = 0; j < p->len; j++) {
            char c = p->s[j];
            if (at_start) {
                if (c == ' ') {
                    if (dropped++ >= min_indent)
                        lang_astr_addch(P->S, &s2, c);
                } else if (c == '\n') {
                    dropped = 0;
                    lang_astr_addch(P->S, &s2, c);
                } else {
                    at_start = 0;
                    dropped = 0;
                    lang_astr_addch(P->S, &s2, c);
                }
            } else {
                lang_astr_addch(P->S, &s2, c);
                if (c == '\n')
                    at_start = 1;
            }
        }
        if (k == es.n - 1) {
            char *nl = NULL;
            for (size_t j = s2.len; j > 0; j--)
                if (s2.buf[j - 1] == '\n') {
                    nl = s2.buf + j - 1;
                    break;
                }
            if (nl) {
                int blank = 1;
                for (char *q = nl + 1; *q; q++)
                    if (*q != ' ')
                        blank = 0;
                if (blank) {
                    s2.len = (size_t)(nl + 1 - s2.buf);
                    s2.buf[s2.len] = '\0';
                }
            }
        }
        Part np = *p;
        np.s = s2.buf;
        np.len = s2.len;
        VEC_PUSH(P->S, es2, np);
    }
    if (es2.n == 1 && !es2.a[0].e)
        return mk_str_const(P, es2.a[0].s, es2.a[0].len, pos);
    return concat_parts(P, &es2, pos);
}

static const char *home_dir(void) {
    const char *h = getenv("HOME");
    return h ? h : "/";
}

static Expr *parse_path(Parser *P) {
    Token *t = next(P);
    PosIdx pos = tpos(P, t);
    State *S = P->S;
    char *path;
    if (t->type == T_HPATH) {
        char *raw = fl_xasprintf("%s%.*s", home_dir(), (int)t->len - 1, t->s + 1);
        path = fl_canon_path(raw, "/");
        free(raw);
    } else {
        char *raw = lang_arena_strndup(&S->arena, t->s, t->len);
        path = fl_canon_path(raw, P->basedir);
    }
    int trailing = t->s[t->len - 1] == '/' && t->len > 1;
    AStr ps;
    lang_astr_init(S, &ps, strlen(path) + 2);
    astr_adds(S, &ps, path);
    free(path);
    if (trailing && !(ps.len == 1 && ps.buf[0] == '/'))
        lang_astr_addch(S, &ps, '/');
    Expr *first = mk(P, E_CONST, pos);
    first->cval.type = V_PATH;
    first->cval.n = (uint32_t)ps.len;
    first->cval.str.s = ps.buf;
    first->cval.str.ctx = NULL;
    if (cur(P)->type == T_PATH_END) {
        next(P);
        return first;
    }
    PartVec pv = {0};
    Part p0 = {first, NULL, 0, 0, pos};
    VEC_PUSH(S, pv, p0);
    int interp = 0;
    while (cur(P)->type != T_PATH_END) {
        Token *u = cur(P);
        Part part = {0};
        part.pos = tpos(P, u);
        if (u->type == T_STR) {
            part.s = u->s;
            part.len = u->len;
            next(P);
            /* Nix's grammar: a string part right after the path's first segment must be
             * followed by an interpolation (`/a//b${c}`), else the next token is wrong */
            if (!interp && cur(P)->type != T_DOLLAR_CURLY)
                perr_at(P, cur(P), "syntax error, unexpected end of path, expecting '${'");
        } else if (u->type == T_DOLLAR_CURLY) {
            part.e = parse_interp(P);
            interp = 1;
        } else {
            unexpected(P, "end of path");
        }
        VEC_PUSH(S, pv, part);
    }
    next(P);
    Expr *e = concat_parts(P, &pv, pos);
    e->flag = 0; /* a path plus strings: the path decides the type */
    return e;
}

/* ---- attribute sets ---- */

typedef VEC(AttrDef) DefVec;
typedef VEC(DynAttr) DynVec;
typedef VEC(AttrName) NameVec;

typedef struct Binds {
    DefVec defs;
    DynVec dyn;
} Binds;

/* Attribute sets under construction keep their binds here until finished. */
typedef struct Building {
    Expr *e;
    Binds b;
} Building;

static AttrName parse_attr(Parser *P, int *is_static, Token **tok) {
    AttrName an = {0};
    Token *t = cur(P);
    *tok = t;
    if (t->type == T_ID || t->type == T_OR_KW) {
        an.sym = lang_sym_intern(P->S, t->s, t->len);
        next(P);
        *is_static = 1;
        return an;
    }
    if (t->type == T_DQUOTE) {
        Expr *e = parse_string(P);
        if (e->kind == E_CONST) {
            an.sym = lang_sym_intern(P->S, e->cval.str.s, e->cval.n);
            *is_static = 1;
        } else {
            an.expr = e;
            *is_static = 0;
        }
        return an;
    }
    if (t->type == T_DOLLAR_CURLY) {
        Expr *e = parse_interp(P);
        if (e->kind == E_CONST && e->cval.type == V_STRING) {
            an.sym = lang_sym_intern(P->S, e->cval.str.s, e->cval.n);
            *is_static = 1;
        } else {
            an.expr = e;
            *is_static = 0;
        }
        return an;
    }
    unexpected(P, "an attribute name");
}

static NameVec parse_attrpath(Parser *P, PosIdx *first_pos) {
    NameVec v = {0};
    for (;;) {
        int st;
        Token *t;
        AttrName an = parse_attr(P, &st, &t);
        if (first_pos && v.n == 0)
            *first_pos = tpos(P, t);
        VEC_PUSH(P->S, v, an);
        if (cur(P)->type != T_DOT)
            break;
        next(P);
    }
    return v;
}

/* Each Building-attrs Expr keeps its Binds in a side table while parsing. */
struct Pending {
    Expr *e;
    Binds *b;
};

static Binds *binds_of(Parser *P, Expr *e) {
    /* While parsing, an attrs node's defs field holds its Binds. */
    if (e->attrs.defs)
        return (Binds *)(void *)e->attrs.defs;
    Binds *b = lang_arena_zalloc(&P->S->arena, sizeof(Binds));
    if (P->npending == P->cappending) {
        uint32_t nc = P->cappending ? P->cappending * 2 : 64;
        Pending *np = arena_alloc(&P->S->arena, nc * sizeof(Pending));
        if (P->npending)
            memcpy(np, P->pending, P->npending * sizeof(Pending));
        P->pending = np;
        P->cappending = nc;
    }
    P->pending[P->npending].e = e;
    P->pending[P->npending].b = b;
    P->npending++;
    e->attrs.defs = (AttrDef *)(void *)b;
    return b;
}

static AttrDef *find_def(Binds *b, Sym name) {
    for (uint32_t i = 0; i < b->defs.n; i++)
        if (b->defs.a[i].name == name)
            return &b->defs.a[i];
    return NULL;
}

static NORETURN void dup_attr_path(Parser *P, const char *name, PosIdx newpos, PosIdx oldpos) {
    fl_lang_pos op;
    lang_pos_get(P->S, oldpos, &op);
    const char *file = op.file ? op.file : "?";
    if (!strcmp(file, "«string»"))
        file = "(string)";
    perr_pos(P, newpos, "attribute '%s' already defined at %s:%d:%d", name, file, op.line,
             op.col);
}

static NORETURN void dup_attr(Parser *P, Sym name, PosIdx newpos, PosIdx oldpos) {
    dup_attr_path(P, sym_name(P->S, name), newpos, oldpos);
}

static const char *path_upto(Parser *P, NameVec *path, uint32_t k) {
    AStr s;
    lang_astr_init(P->S, &s, 32);
    for (uint32_t i = 0; i <= k && i < path->n; i++) {
        if (i)
            lang_astr_addch(P->S, &s, '.');
        astr_adds(P->S, &s, path->a[i].expr ? "\"${...}\"" : sym_name(P->S, path->a[i].sym));
    }
    return s.buf;
}

static void add_attr(Parser *P, Expr *attrs, NameVec *path, Expr *e, PosIdx pos) {
    Binds *b = binds_of(P, attrs);
    for (uint32_t k = 0; k + 1 < path->n; k++) {
        AttrName *an = &path->a[k];
        if (an->expr) {
            /* a dynamic component: the rest becomes a nested set under a dynamic name
             * (made by an attribute path, not by a `{`: no position, as in Nix) */
            Expr *nested = mk(P, E_ATTRS, 0);
            NameVec rest = {path->a + k + 1, path->n - k - 1, path->n - k - 1};
            add_attr(P, nested, &rest, e, pos);
            DynAttr d = {an->expr, nested, pos};
            VEC_PUSH(P->S, b->dyn, d);
            return;
        }
        AttrDef *d = find_def(b, an->sym);
        if (d) {
            if (d->inherited || d->e->kind != E_ATTRS)
                dup_attr_path(P, path_upto(P, path, path->n - 1), pos, d->pos);
            attrs = d->e;
        } else {
            Expr *nested = mk(P, E_ATTRS, 0);
            AttrDef nd = {0};
            nd.name = an->sym;
            nd.pos = pos;
            nd.e = nested;
            VEC_PUSH(P->S, b->defs, nd);
            attrs = nested;
        }
        b = binds_of(P, attrs);
    }
    AttrName *last = &path->a[path->n - 1];
    if (last->expr) {
        DynAttr d = {last->expr, e, pos};
        VEC_PUSH(P->S, b->dyn, d);
        return;
    }
    AttrDef *d = find_def(b, last->sym);
    if (d) {
        if (!d->inherited && d->e->kind == E_ATTRS && e->kind == E_ATTRS) {
            Binds *from = binds_of(P, e);
            Binds *into = binds_of(P, d->e);
            for (uint32_t i = 0; i < from->defs.n; i++) {
                AttrDef *x = find_def(into, from->defs.a[i].name);
                if (x)
                    dup_attr(P, from->defs.a[i].name, from->defs.a[i].pos, x->pos);
                VEC_PUSH(P->S, into->defs, from->defs.a[i]);
            }
            for (uint32_t i = 0; i < from->dyn.n; i++)
                VEC_PUSH(P->S, into->dyn, from->dyn.a[i]);
            return;
        }
        dup_attr_path(P, path_upto(P, path, path->n - 1), pos, d->pos);
    }
    AttrDef nd = {0};
    nd.name = last->sym;
    nd.pos = pos;
    nd.e = e;
    VEC_PUSH(P->S, b->defs, nd);
}

/* binds until `until` (T_RBRACE or T_IN), called just after the `{` or `let` */
static void parse_binds(Parser *P, Expr *attrs, int until, int allow_dyn, int *dyn_in_let) {
    /* Nix 2.8 places every inherited attribute (the variable of `inherit x`, the selection
     * of `inherit (s) x`) at its grammar's left-recursive `binds`, which begins where the
     * token before the bindings ends: the column just after `{` or `let`. */
    const Token *opener = &P->t[P->i - 1];
    PosIdx bpos = lang_pos_make(P->S, P->file, opener->line,
                           opener->col + (opener->type == T_LET ? 3 : 1));
    while (cur(P)->type != until) {
        Token *t = cur(P);
        if (t->type == T_INHERIT) {
            next(P);
            Expr *from = NULL;
            if (cur(P)->type == T_LPAREN) {
                next(P);
                from = parse_expr(P);
                expect(P, T_RPAREN, "')'");
            }
            /* Nix's position of each inherited attribute: where its name list begins, just
             * after `inherit` or `)` (the list is left-recursive from empty) */
            const Token *before = &P->t[P->i - 1];
            PosIdx listpos = lang_pos_make(P->S, P->file, before->line,
                                      before->col + (before->type == T_INHERIT ? 7 : 1));
            while (cur(P)->type != T_SEMI) {
                int st;
                Token *at;
                AttrName an = parse_attr(P, &st, &at);
                if (!st)
                    perr_at(P, at, "dynamic attributes not allowed in inherit");
                PosIdx ap = tpos(P, at);
                Binds *b = binds_of(P, attrs);
                AttrDef *old = find_def(b, an.sym);
                if (old)
                    dup_attr(P, an.sym, ap, old->pos);
                AttrDef nd = {0};
                nd.name = an.sym;
                nd.pos = listpos;
                if (from) {
                    Expr *sel = mk(P, E_SELECT, bpos);
                    sel->sel.e = from;
                    sel->sel.n = 1;
                    sel->sel.path = arena_alloc(&P->S->arena, sizeof(AttrName));
                    sel->sel.path[0] = an;
                    nd.e = sel;
                } else {
                    nd.e = mk_var(P, an.sym, bpos);
                    nd.inherited = 1;
                }
                VEC_PUSH(P->S, b->defs, nd);
            }
            next(P);
            continue;
        }
        PosIdx ppos = tpos(P, t);
        NameVec path = parse_attrpath(P, NULL);
        /* only a dynamic first name is one of the let's own (`a.${x}` is nested); Nix checks
         * that once the whole `let ... in body` is parsed, at the `let` */
        if (!allow_dyn && path.a[0].expr && !*dyn_in_let)
            *dyn_in_let = 1;
        expect(P, T_ASSIGN, "'='");
        Expr *e = parse_expr(P);
        expect(P, T_SEMI, "';'");
        add_attr(P, attrs, &path, e, ppos);
    }
}

/* Moves the pending binds into the Expr nodes (recursively for nested sets). */
static void finish_attrs(Parser *P) {
    for (uint32_t i = 0; i < P->npending; i++) {
        Expr *e = P->pending[i].e;
        Binds *b = P->pending[i].b;
        e->attrs.defs = b->defs.a;
        e->attrs.ndefs = b->defs.n;
        e->attrs.dyn = b->dyn.a;
        e->attrs.ndyn = b->dyn.n;
        for (uint32_t k = 0; k < e->attrs.ndefs; k++) {
            /* Nix 2.8 names a curried function's inner lambdas after it as well */
            for (Expr *v = e->attrs.defs[k].e; v->kind == E_LAMBDA && !v->lam.name;
                 v = v->lam.body)
                v->lam.name = e->attrs.defs[k].name;
        }
    }
    P->npending = 0;
}

/* ---- lambdas ---- */

/* At '{': is this a function's argument pattern rather than a set? */
static int formals_ahead(Parser *P) {
    int t1 = peek(P, 1);
    if (t1 == T_RBRACE) {
        int t2 = peek(P, 2);
        return t2 == T_COLON || t2 == T_AT;
    }
    if (t1 == T_ELLIPSIS)
        return 1;
    if (t1 == T_ID) {
        int t2 = peek(P, 2);
        if (t2 == T_COMMA || t2 == T_QUESTION)
            return 1;
        /* `{ a }` can only be formals in Nix's grammar (a binding needs `=`), so what
         * follows it must be `:` or `@` */
        if (t2 == T_RBRACE)
            return 1;
    }
    return 0;
}

/* Symbols are numbered in the order they are interned, and Nix 2.8 orders symbols by the
   address of their interned string, which for the names of one file grows in the order
   its bison parser reduces them. A formal with a default is reduced after its default, so
   its name is interned after the default's names; that order decides which default a
   cycle between defaults reports, and which attribute a strict evaluation forces first. */
static void parse_formals(Parser *P, Expr *lam) {
    expect(P, T_LBRACE, "'{'");
    VEC(Formal) fv = {0};
    lam->flag = 1;
    for (;;) {
        Token *t = cur(P);
        if (t->type == T_RBRACE)
            break;
        if (t->type == T_ELLIPSIS) {
            next(P);
            lam->lam.ellipsis = 1;
            if (cur(P)->type != T_RBRACE)
                unexpected(P, "'}'");
            break;
        }
        if (t->type != T_ID)
            unexpected(P, "an argument name");
        Formal f = {0};
        f.pos = tpos(P, t);
        next(P);
        if (cur(P)->type == T_QUESTION) {
            next(P);
            f.def = parse_expr(P);
        }
        f.name = lang_sym_intern(P->S, t->s, t->len);
        VEC_PUSH(P->S, fv, f);
        if (cur(P)->type == T_COMMA) {
            next(P);
            continue;
        }
        if (cur(P)->type != T_RBRACE)
            unexpected(P, "',' or '}'");
    }
    next(P);
    lam->lam.formals = fv.a;
    lam->lam.nformals = fv.n;
}

static int formal_cmp(const void *a, const void *b) {
    const Formal *x = a, *y = b;
    if (x->name != y->name)
        return x->name < y->name ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Nix checks the formals only once the whole lambda is parsed, so a syntax error in the
   body wins. Of several duplicates it names the earliest-interned name, at its second
   occurrence. The formals stay in symbol order: that is the order Nix fills them in. */
static void check_formals(Parser *P, Expr *lam) {
    Formal *f = lam->lam.formals;
    uint32_t n = lam->lam.nformals;
    if (n > 1)
        qsort(f, n, sizeof *f, formal_cmp);
    for (uint32_t k = 0; k + 1 < n; k++)
        if (f[k].name == f[k + 1].name)
            perr_pos(P, f[k + 1].pos, "duplicate formal function argument '%s'",
                     sym_name(P->S, f[k].name));
    if (lam->lam.arg)
        for (uint32_t k = 0; k < n; k++)
            if (f[k].name == lam->lam.arg)
                perr_pos(P, lam->pos, "duplicate formal function argument '%s'",
                         sym_name(P->S, lam->lam.arg));
}

/* Nix interns a lambda's argument name when it reduces the whole lambda, after the body. */
static Expr *parse_lambda_body(Parser *P, Expr *lam, const Token *arg) {
    expect(P, T_COLON, "':'");
    lam->lam.body = parse_expr(P);
    if (arg)
        lam->lam.arg = lang_sym_intern(P->S, arg->s, arg->len);
    if (lam->flag)
        check_formals(P, lam);
    return lam;
}

/* ---- expressions ---- */

static Expr *parse_list(Parser *P) {
    Token *open = expect(P, T_LBRACK, "'['");
    Expr *e = mk(P, E_LIST, tpos(P, open));
    VEC(Expr *) v = {0};
    while (cur(P)->type != T_RBRACK) {
        if (cur(P)->type == T_EOF)
            unexpected(P, "']'");
        Expr *x = parse_select(P);
        VEC_PUSH(P->S, v, x);
    }
    next(P);
    e->list.elems = v.a;
    e->list.n = v.n;
    return e;
}

static int starts_simple(Parser *P) {
    switch (cur(P)->type) {
    case T_ID: case T_INT: case T_FLOAT: case T_DQUOTE: case T_IND_OPEN: case T_PATH:
    case T_HPATH: case T_SPATH: case T_URI: case T_LPAREN: case T_LBRACE: case T_LBRACK:
    case T_REC:
        return 1;
    case T_LET:
        return peek(P, 1) == T_LBRACE;
    default:
        return 0;
    }
}

static Expr *parse_simple(Parser *P) {
    Token *t = cur(P);
    PosIdx pos = tpos(P, t);
    State *S = P->S;
    switch (t->type) {
    case T_ID: {
        next(P);
        if (t->len == 8 && !memcmp(t->s, "__curPos", 8))
            return mk(P, E_CURPOS, pos);
        return mk_var(P, lang_sym_intern(S, t->s, t->len), pos);
    }
    case T_INT: {
        next(P);
        Expr *e = mk(P, E_CONST, pos);
        mk_int(&e->cval, t->i);
        return e;
    }
    case T_FLOAT: {
        next(P);
        Expr *e = mk(P, E_CONST, pos);
        mk_float(&e->cval, t->f);
        return e;
    }
    case T_DQUOTE:
        return parse_string(P);
    case T_IND_OPEN:
        return parse_ind_string(P);
    case T_PATH:
    case T_HPATH:
        return parse_path(P);
    case T_SPATH: {
        next(P);
        /* <name> is __findFile __nixPath "name" */
        Expr *call1 = mk(P, E_CALL, pos);
        call1->op.a = mk_var(P, lang_sym_intern(S, "__findFile", 10), pos);
        call1->op.b = mk_var(P, lang_sym_intern(S, "__nixPath", 9), pos);
        Expr *call2 = mk(P, E_CALL, pos);
        call2->op.a = call1;
        call2->op.b = mk_str_const(P, t->s + 1, t->len - 2, pos);
        return call2;
    }
    case T_URI:
        next(P);
        return mk_str_const(P, t->s, t->len, pos);
    case T_LPAREN: {
        next(P);
        Expr *e = parse_expr(P);
        expect(P, T_RPAREN, "')'");
        return e;
    }
    case T_REC:
    case T_LBRACE:
    case T_LET: {
        int rec = t->type == T_REC, let = t->type == T_LET;
        next(P);
        /* a set's position is its `{`, also after `rec` (Nix reports it in getAttr errors) */
        PosIdx bracepos = (rec || let) ? tpos(P, cur(P)) : pos;
        if (rec || let)
            expect(P, T_LBRACE, "'{'");
        Expr *e = mk(P, E_ATTRS, let ? pos : bracepos);
        e->flag = (uint8_t)(rec || let);
        binds_of(P, e);
        parse_binds(P, e, T_RBRACE, 1, NULL);
        next(P);
        if (let) {
            /* let { ... body = e; } is (rec { ... }).body */
            Expr *sel = mk(P, E_SELECT, pos);
            sel->sel.e = e;
            sel->sel.n = 1;
            sel->sel.path = arena_alloc(&S->arena, sizeof(AttrName));
            sel->sel.path[0].sym = S->s_body;
            sel->sel.path[0].hint = 0;
            sel->sel.path[0].expr = NULL;
            return sel;
        }
        return e;
    }
    case T_LBRACK:
        return parse_list(P);
    default:
        unexpected(P, NULL);
    }
}

static Expr *parse_select(Parser *P) {
    depth_in(P);
    Token *start = cur(P);
    Expr *e = parse_simple(P);
    if (cur(P)->type == T_DOT) {
        next(P);
        Expr *sel = mk(P, E_SELECT, tpos(P, start));
        NameVec path = parse_attrpath(P, NULL);
        sel->sel.e = e;
        sel->sel.path = path.a;
        sel->sel.n = path.n;
        if (cur(P)->type == T_OR_KW) {
            next(P);
            sel->sel.def = parse_select(P);
        }
        e = sel;
    } else if (cur(P)->type == T_OR_KW) {
        /* Nix's backwards-compatible `f or`: the simple expression applied to a variable
         * named `or`, both at the simple expression's position */
        next(P);
        PosIdx sp = tpos(P, start);
        Expr *call = mk(P, E_CALL, sp);
        call->op.a = e;
        call->op.b = mk_var(P, P->S->s_or, sp);
        e = call;
    }
    P->depth--;
    return e;
}

static Expr *parse_app(Parser *P) {
    Token *start = cur(P);
    Expr *e = parse_select(P);
    while (starts_simple(P)) {
        Expr *arg = parse_select(P);
        Expr *call = mk(P, E_CALL, tpos(P, start));
        call->op.a = e;
        call->op.b = arg;
        e = call;
    }
    return e;
}

static int binop_prec(int tok, int *right) {
    *right = 0;
    switch (tok) {
    case T_IMPL: *right = 1; return 1;
    case T_OR: return 2;
    case T_AND: return 3;
    case T_EQ: case T_NEQ: return 4;
    case T_LT: case T_GT: case T_LEQ: case T_GEQ: return 5;
    case T_UPDATE: *right = 1; return 6;
    case T_PLUS: case T_MINUS: return 8;
    case T_STAR: case T_SLASH: return 9;
    case T_CONCAT: *right = 1; return 10;
    case T_QUESTION: return 11;
    default: return -1;
    }
}

static Expr *parse_op(Parser *P, int minp) {
    depth_in(P);
    Token *t = cur(P);
    Expr *lhs;
    PosIdx lhs_start = tpos(P, t);
    if (t->type == T_NOT) {
        next(P);
        Expr *x = parse_op(P, 8);
        lhs = mk(P, E_NOT, tpos(P, t));
        lhs->op.a = x;
    } else if (t->type == T_MINUS) {
        next(P);
        Expr *x = parse_op(P, 12);
        Expr *zero = mk(P, E_CONST, tpos(P, t));
        mk_int(&zero->cval, 0);
        lhs = mk_bin(P, E_SUB, zero, x, tpos(P, t));
        lhs->flag = 1;
    } else {
        lhs = parse_app(P);
    }
    for (;;) {
        Token *op = cur(P);
        int right, p = binop_prec(op->type, &right);
        if (p < 0 || p < minp)
            break;
        /* Nix places a binary operation at the start of its left operand */
        PosIdx pos = op->type == T_QUESTION ? tpos(P, op) : lhs_start;
        /* Nix 2.8 gives these no position at all; the operator token is the most useful one
         * (docs/testing.md, errors not located by Nix) */
        if (op->type == T_LT || op->type == T_GT || op->type == T_LEQ || op->type == T_GEQ ||
            op->type == T_UPDATE)
            pos = tpos(P, op);
        next(P);
        if (op->type == T_QUESTION) {
            NameVec path = parse_attrpath(P, NULL);
            Expr *h = mk(P, E_HASATTR, pos);
            h->sel.e = lhs;
            h->sel.path = path.a;
            h->sel.n = path.n;
            lhs = h;
            continue;
        }
        PosIdx rhs_start = tpos(P, cur(P));
        Expr *rhs = parse_op(P, right ? p : p + 1);
        switch (op->type) {
        case T_IMPL: lhs = mk_bin(P, E_IMPL, lhs, rhs, pos); break;
        case T_OR: lhs = mk_bin(P, E_OR, lhs, rhs, pos); break;
        case T_AND: lhs = mk_bin(P, E_AND, lhs, rhs, pos); break;
        case T_EQ: lhs = mk_bin(P, E_EQ, lhs, rhs, pos); break;
        case T_NEQ: lhs = mk_bin(P, E_NEQ, lhs, rhs, pos); break;
        case T_LT: lhs = mk_bin(P, E_LT, lhs, rhs, pos); break;
        case T_GT: lhs = mk_bin(P, E_LT, lhs, rhs, pos); lhs->flag = 1; break;
        case T_LEQ: lhs = mk_bin(P, E_LT, lhs, rhs, pos); lhs->flag = 3; break;
        case T_GEQ: lhs = mk_bin(P, E_LT, lhs, rhs, pos); lhs->flag = 2; break;
        case T_UPDATE: lhs = mk_bin(P, E_UPDATE, lhs, rhs, pos); break;
        case T_MINUS: lhs = mk_bin(P, E_SUB, lhs, rhs, pos); break;
        case T_STAR: lhs = mk_bin(P, E_MUL, lhs, rhs, pos); break;
        case T_SLASH: lhs = mk_bin(P, E_DIV, lhs, rhs, pos); break;
        case T_CONCAT: lhs = mk_bin(P, E_CONCATLISTS, lhs, rhs, pos); break;
        case T_PLUS: {
            Expr *e = mk(P, E_CONCATSTRINGS, pos);
            e->cat.n = 2;
            e->cat.parts = arena_alloc(&P->S->arena, 2 * sizeof(Expr *));
            e->cat.ppos = arena_alloc(&P->S->arena, 2 * sizeof(PosIdx));
            e->cat.parts[0] = lhs;
            e->cat.parts[1] = rhs;
            e->cat.ppos[0] = lhs_start;
            e->cat.ppos[1] = rhs_start;
            lhs = e;
            break;
        }
        default: break;
        }
        if (p == 4 || p == 5) {
            int r2, p2 = binop_prec(cur(P)->type, &r2);
            if (p2 == p)
                unexpected(P, NULL);
        }
    }
    P->depth--;
    return lhs;
}

static Expr *parse_expr(Parser *P) {
    depth_in(P);
    Token *t = cur(P);
    PosIdx pos = tpos(P, t);
    Expr *e;
    if (t->type == T_ID && peek(P, 1) == T_COLON) {
        e = mk(P, E_LAMBDA, pos);
        next(P);
        e = parse_lambda_body(P, e, t);
    } else if (t->type == T_ID && peek(P, 1) == T_AT) {
        /* `x@` starts a pattern: anything but `{` after it is the syntax error */
        e = mk(P, E_LAMBDA, pos);
        next(P);
        next(P);
        parse_formals(P, e);
        e = parse_lambda_body(P, e, t);
    } else if (t->type == T_LBRACE && formals_ahead(P)) {
        e = mk(P, E_LAMBDA, pos);
        parse_formals(P, e);
        const Token *arg = NULL;
        if (cur(P)->type == T_AT) {
            next(P);
            arg = expect(P, T_ID, "an identifier");
        }
        e = parse_lambda_body(P, e, arg);
    } else if (t->type == T_ASSERT) {
        next(P);
        e = mk(P, E_ASSERT, pos);
        e->op.a = parse_expr(P);
        expect(P, T_SEMI, "';'");
        e->op.b = parse_expr(P);
    } else if (t->type == T_WITH) {
        next(P);
        e = mk(P, E_WITH, pos);
        e->op.a = parse_expr(P);
        expect(P, T_SEMI, "';'");
        e->op.b = parse_expr(P);
    } else if (t->type == T_LET && peek(P, 1) != T_LBRACE) {
        next(P);
        e = mk(P, E_LET, pos);
        binds_of(P, e);
        int dyn = 0;
        parse_binds(P, e, T_IN, 0, &dyn);
        next(P);
        e->attrs.body = parse_expr(P);
        if (dyn)
            perr_at(P, t, "dynamic attributes not allowed in let");
    } else if (t->type == T_IF) {
        next(P);
        e = mk(P, E_IF, pos);
        e->op.a = parse_expr(P);
        expect(P, T_THEN, "'then'");
        e->op.b = parse_expr(P);
        expect(P, T_ELSE, "'else'");
        e->op.c = parse_expr(P);
    } else {
        e = parse_op(P, 0);
    }
    P->depth--;
    return e;
}

/* ---- variable resolution ---- */

typedef struct Scope {
    const struct Scope *up;
    const Sym *names;
    uint32_t n;
    int is_with;
} Scope;

static NORETURN void undefined_var(Parser *P, Expr *e, const Scope *sc) {
    State *S = P->S;
    const char *name = sym_name(S, e->var.name);
    VEC(const char *) cands = {0};
    for (const Scope *s = sc; s; s = s->up)
        for (uint32_t i = 0; i < s->n; i++) {
            const char *c = sym_name(S, s->names[i]);
            if (c[0] != '_' || c[1] != '_')
                VEC_PUSH(S, cands, c);
        }
    fl_error_set(&S->err, FL_EEVAL, "undefined variable '%s'", name);
    lang_err_set_pos(S, &S->err, e->pos);
    const char *best = lang_closest_name(S, name, cands.a, cands.n);
    if (best)
        fl_error_set_hint(&S->err, "did you mean '%s'?", best);
    longjmp(P->jb, 1);
}

static int attrdef_cmp(const void *a, const void *b) {
    Sym x = ((const AttrDef *)a)->name, y = ((const AttrDef *)b)->name;
    return x < y ? -1 : x > y;
}

static void bind(Parser *P, Expr *e, const Scope *sc);

static void bind_names(Parser *P, AttrName *path, uint32_t n, const Scope *sc) {
    for (uint32_t i = 0; i < n; i++)
        if (path[i].expr)
            bind(P, path[i].expr, sc);
}

static void bind(Parser *P, Expr *e, const Scope *sc) {
    if (!e)
        return;
    State *S = P->S;
    if (stack_exceeded(S))
        perr_at(P, &P->t[0], "expression nested too deeply");
    switch (e->kind) {
    case E_CONST:
    case E_CURPOS:
        return;
    case E_VAR: {
        uint32_t level = 0;
        int with_level = -1;
        for (const Scope *s = sc; s; s = s->up, level++) {
            if (s->is_with) {
                if (with_level < 0)
                    with_level = (int)level;
                continue;
            }
            for (uint32_t i = 0; i < s->n; i++)
                if (s->names[i] == e->var.name) {
                    e->flag = 0;
                    e->var.level = level;
                    e->var.displ = i;
                    return;
                }
        }
        if (with_level < 0)
            undefined_var(P, e, sc);
        e->flag = 1;
        e->var.level = (uint32_t)with_level;
        e->var.displ = 0;
        return;
    }
    case E_SELECT:
    case E_HASATTR:
        bind(P, e->sel.e, sc);
        bind(P, e->sel.def, sc);
        bind_names(P, e->sel.path, e->sel.n, sc);
        return;
    case E_ATTRS:
    case E_LET: {
        /* Nix keeps a set's definitions in a map ordered by symbol: that order fills a
           let's or a rec set's slots (so a definition naming another one that is already
           filled shares its value cell, visible as «repeated»), binds the names (so it
           decides which undefined variable is reported) and shows the set. */
        if (e->attrs.ndefs > 1)
            qsort(e->attrs.defs, e->attrs.ndefs, sizeof(AttrDef), attrdef_cmp);
        int rec = e->kind == E_LET || e->flag;
        if (!rec) {
            for (uint32_t i = 0; i < e->attrs.ndefs; i++)
                bind(P, e->attrs.defs[i].e, sc);
            for (uint32_t i = 0; i < e->attrs.ndyn; i++) {
                bind(P, e->attrs.dyn[i].name, sc);
                bind(P, e->attrs.dyn[i].value, sc);
            }
            return;
        }
        Sym *names = arena_alloc(&S->arena, (e->attrs.ndefs + 1) * sizeof(Sym));
        Sym s_overrides = e->kind == E_ATTRS ? lang_sym_intern(S, "__overrides", 11) : 0;
        for (uint32_t i = 0; i < e->attrs.ndefs; i++) {
            names[i] = e->attrs.defs[i].name;
            e->attrs.defs[i].displ = i;
            /* bit 1 of a rec set's flag: it has the legacy __overrides attribute */
            if (names[i] == s_overrides && s_overrides)
                e->flag |= 2;
        }
        Scope inner = {sc, names, e->attrs.ndefs, 0};
        for (uint32_t i = 0; i < e->attrs.ndefs; i++)
            bind(P, e->attrs.defs[i].e, e->attrs.defs[i].inherited ? sc : &inner);
        for (uint32_t i = 0; i < e->attrs.ndyn; i++) {
            bind(P, e->attrs.dyn[i].name, &inner);
            bind(P, e->attrs.dyn[i].value, &inner);
        }
        if (e->kind == E_LET)
            bind(P, e->attrs.body, &inner);
        return;
    }
    case E_LIST:
        for (uint32_t i = 0; i < e->list.n; i++)
            bind(P, e->list.elems[i], sc);
        return;
    case E_LAMBDA: {
        uint32_t n = (e->lam.arg ? 1 : 0) + e->lam.nformals;
        Sym *names = arena_alloc(&S->arena, (n + 1) * sizeof(Sym));
        uint32_t k = 0;
        if (e->lam.arg)
            names[k++] = e->lam.arg;
        for (uint32_t i = 0; i < e->lam.nformals; i++)
            names[k++] = e->lam.formals[i].name;
        e->lam.envsize = n;
        Scope inner = {sc, names, n, 0};
        for (uint32_t i = 0; i < e->lam.nformals; i++)
            bind(P, e->lam.formals[i].def, &inner);
        bind(P, e->lam.body, &inner);
        return;
    }
    case E_WITH: {
        bind(P, e->op.a, sc);
        uint32_t level = 1;
        e->op.prev_with = 0;
        for (const Scope *s = sc; s; s = s->up, level++)
            if (s->is_with) {
                e->op.prev_with = level;
                break;
            }
        Scope inner = {sc, NULL, 0, 1};
        bind(P, e->op.b, &inner);
        return;
    }
    case E_CONCATSTRINGS:
        for (uint32_t i = 0; i < e->cat.n; i++)
            bind(P, e->cat.parts[i], sc);
        return;
    case E_ASSERT: {
        AStr s;
        lang_astr_init(S, &s, 64);
        lang_show_expr(S, e->op.a, &s);
        e->op.text = s.buf;
    }
        /* fallthrough */
    default:
        bind(P, e->op.a, sc);
        bind(P, e->op.b, sc);
        bind(P, e->op.c, sc);
        return;
    }
}

Expr *lang_parse_source(State *S, const char *src, size_t len, uint32_t file, const char *basedir) {
    return lang_parse_source_scoped(S, src, len, file, basedir, NULL, 0);
}

Expr *lang_parse_source_scoped(State *S, const char *src, size_t len, uint32_t file,
                          const char *basedir, const Sym *scope, uint32_t nscope) {
    Parser P;
    memset(&P, 0, sizeof P);
    P.S = S;
    P.file = file;
    P.basedir = basedir;
    if (lang_lex_all(S, src, len, file, &P.t, &P.n) < 0)
        return NULL;
    volatile Expr *result = NULL;
    if (setjmp(P.jb) == 0) {
        Expr *e = parse_expr(&P);
        if (cur(&P)->type != T_EOF)
            unexpected(&P, NULL);
        finish_attrs(&P);
        Scope base = {NULL, S->base_names, S->nbase, 0};
        Scope extra = {&base, scope, nscope, 0};
        bind(&P, e, nscope ? &extra : &base);
        result = e;
    }
    free(P.t);
    return (Expr *)result;
}
