/* print.c - values to text: the nix-instantiate printer (byte-exact, «repeated» by identity),
 * JSON out (toJSON and --json; json.c reads it), float formatting, and
 * expressions shown as Nix shows them in assertion messages. Never evaluates beyond forcing
 * what JSON conversion needs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "lang/internal.h"

void lang_format_float(char *buf, size_t n, double f) {
    snprintf(buf, n, "%g", f);
}

void lang_print_string_lit(State *S, AStr *out, const char *s, size_t len) {
    lang_astr_addch(S, out, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        const char *esc = NULL;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '$' && i + 1 < len && s[i + 1] == '{')
            esc = "\\$";
        if (esc) {
            lang_astr_add(S, out, s + run, i - run);
            astr_adds(S, out, esc);
            run = i + 1;
        }
    }
    lang_astr_add(S, out, s + run, len - run);
    lang_astr_addch(S, out, '"');
}

static void print_attr_name(State *S, AStr *out, const char *s, size_t len) {
    int bare = len > 0 && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
                           s[0] == '_');
    for (size_t i = 1; bare && i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '\'' || c == '-'))
            bare = 0;
    }
    if (bare && !(len == 2 && s[0] == 'i' && s[1] == 'f')) {
        lang_astr_add(S, out, s, len);
        return;
    }
    lang_astr_addch(S, out, '"');
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        switch (c) {
        case '"': astr_adds(S, out, "\\\""); break;
        case '\\': astr_adds(S, out, "\\\\"); break;
        case '\n': astr_adds(S, out, "\\n"); break;
        case '\r': astr_adds(S, out, "\\r"); break;
        case '\t': astr_adds(S, out, "\\t"); break;
        case '$': astr_adds(S, out, "\\$"); break;
        default: lang_astr_addch(S, out, c);
        }
    }
    lang_astr_addch(S, out, '"');
}

/* Numbers, booleans and null print the same in Nix syntax and in JSON. 1 when v was one. */
static int print_plain_scalar(State *S, const Value *v, AStr *out) {
    char buf[64];
    switch (v->type) {
    case V_INT:
        lang_format_int(buf, v->i);
        break;
    case V_FLOAT:
        lang_format_float(buf, sizeof buf, v->f);
        break;
    case V_BOOL:
        snprintf(buf, sizeof buf, "%s", v->b ? "true" : "false");
        break;
    case V_NULL:
        snprintf(buf, sizeof buf, "null");
        break;
    default:
        return 0;
    }
    astr_adds(S, out, buf);
    return 1;
}

static void print_rec(State *S, Value *v, AStr *out, PtrSet *seen) {
    lang_stack_check(S, 0);
    switch (v->type) {
    case V_INT:
    case V_FLOAT:
    case V_BOOL:
    case V_NULL:
        print_plain_scalar(S, v, out);
        return;
    case V_STRING:
        lang_print_string_lit(S, out, v->str.s, v->n);
        return;
    case V_PATH:
        lang_astr_add(S, out, v->str.s, v->n);
        return;
    case V_ATTRS: {
        Attrs *a = v->attrs;
        if (a->n && !lang_ptrset_add(S, seen, a)) {
            astr_adds(S, out, "«repeated»");
            return;
        }
        astr_adds(S, out, "{ ");
        Attr **sorted = lang_attrs_sorted_by_name(S, a);
        for (uint32_t i = 0; i < a->n; i++) {
            print_attr_name(S, out, sym_name(S, sorted[i]->name), sym_len(S, sorted[i]->name));
            astr_adds(S, out, " = ");
            print_rec(S, sorted[i]->value, out, seen);
            astr_adds(S, out, "; ");
        }
        lang_astr_addch(S, out, '}');
        return;
    }
    case V_LIST: {
        /* Nix keeps lists of one or two elements inside the value cell: their identity is the
         * cell, for longer lists it is the element array shared by copies. */
        const void *id = v->n <= 2 ? (const void *)v : (const void *)v->elems;
        if (v->n && !lang_ptrset_add(S, seen, id)) {
            astr_adds(S, out, "«repeated»");
            return;
        }
        astr_adds(S, out, "[ ");
        for (uint32_t i = 0; i < v->n; i++) {
            print_rec(S, v->elems[i], out, seen);
            lang_astr_addch(S, out, ' ');
        }
        lang_astr_addch(S, out, ']');
        return;
    }
    case V_THUNK:
    case V_READY:
    case V_APP:
        astr_adds(S, out, "<CODE>");
        return;
    case V_BLACKHOLE:
        astr_adds(S, out, "«potential infinite recursion»");
        return;
    case V_LAMBDA:
        astr_adds(S, out, "<LAMBDA>");
        return;
    case V_PRIMOP:
        astr_adds(S, out, "<PRIMOP>");
        return;
    case V_PRIMOP_APP:
        astr_adds(S, out, "<PRIMOP-APP>");
        return;
    }
}

void lang_print_value(State *S, Value *v, AStr *out) {
    PtrSet seen = {0};
    print_rec(S, v, out, &seen);
}

/* ---- JSON ---- */

static void json_str(State *S, AStr *out, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    lang_astr_addch(S, out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            lang_astr_addch(S, out, '\\');
            lang_astr_addch(S, out, (char)c);
        } else if (c == '\n')
            astr_adds(S, out, "\\n");
        else if (c == '\r')
            astr_adds(S, out, "\\r");
        else if (c == '\t')
            astr_adds(S, out, "\\t");
        else if (c < 32) {
            char b[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            astr_adds(S, out, b);
        } else
            lang_astr_addch(S, out, (char)c);
    }
    lang_astr_addch(S, out, '"');
}

void lang_to_json(State *S, Value *v, int strict, AStr *out, PosIdx pos, const StrCtx **ctx) {
    lang_stack_check(S, pos);
    if (strict)
        force(S, v, pos);
    switch (v->type) {
    case V_INT:
    case V_FLOAT:
    case V_BOOL:
    case V_NULL:
        print_plain_scalar(S, v, out);
        return;
    case V_STRING:
        if (ctx)
            *ctx = lang_ctx_merge(S, *ctx, v->str.ctx);
        json_str(S, out, v->str.s, v->n);
        return;
    case V_PATH: {
        const char *sp = lang_path_to_store(S, v->str.s, pos);
        if (ctx) {
            StrCtx *c = arena_alloc(&S->arena, sizeof(StrCtx));
            c->path = sp;
            c->next = NULL;
            *ctx = lang_ctx_merge(S, *ctx, c);
        }
        json_str(S, out, sp, strlen(sp));
        return;
    }
    case V_ATTRS: {
        Attrs *a = v->attrs;
        Attr *ts = lang_attrs_find(a, S->s_toString);
        if (ts) {
            AStr s;
            lang_astr_init(S, &s, 64);
            lang_coerce_to_string(S, v, pos, 0, 0, &s, ctx);
            json_str(S, out, s.buf, s.len);
            return;
        }
        Attr *op = lang_attrs_find(a, S->s_outPath);
        if (op) {
            lang_to_json(S, op->value, strict, out, op->pos, ctx);
            return;
        }
        lang_astr_addch(S, out, '{');
        Attr **sorted = lang_attrs_sorted_by_name(S, a);
        for (uint32_t i = 0; i < a->n; i++) {
            if (i)
                lang_astr_addch(S, out, ',');
            json_str(S, out, sym_name(S, sorted[i]->name), sym_len(S, sorted[i]->name));
            lang_astr_addch(S, out, ':');
            lang_to_json(S, sorted[i]->value, strict, out, sorted[i]->pos, ctx);
        }
        lang_astr_addch(S, out, '}');
        return;
    }
    case V_LIST:
        lang_astr_addch(S, out, '[');
        for (uint32_t i = 0; i < v->n; i++) {
            if (i)
                lang_astr_addch(S, out, ',');
            lang_to_json(S, v->elems[i], strict, out, pos, ctx);
        }
        lang_astr_addch(S, out, ']');
        return;
    case V_LAMBDA:
        /* Nix points at the function itself, not at where it sits */
        lang_throw(S, v->lambda.fn->pos, "cannot convert a function to JSON");
    case V_PRIMOP:
        lang_throw(S, pos, "cannot convert the built-in function '%s' to JSON",
                   v->primop->name);
    default:
        lang_throw(S, pos, "cannot convert %s to JSON", lang_show_type(v));
    }
}

/* ---- expressions as Nix shows them ---- */

static void show_attrpath(State *S, AttrName *p, uint32_t n, AStr *out) {
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            lang_astr_addch(S, out, '.');
        if (p[i].expr) {
            astr_adds(S, out, "\"${");
            lang_show_expr(S, p[i].expr, out);
            astr_adds(S, out, "}\"");
        } else {
            astr_adds(S, out, sym_name(S, p[i].sym));
        }
    }
}

static void show_bin(State *S, Expr *e, const char *op, AStr *out) {
    lang_astr_addch(S, out, '(');
    lang_show_expr(S, e->op.a, out);
    lang_astr_addf(S, out, " %s ", op);
    lang_show_expr(S, e->op.b, out);
    lang_astr_addch(S, out, ')');
}

void lang_show_expr(State *S, Expr *e, AStr *out) {
    char buf[64];
    switch (e->kind) {
    case E_CONST:
        switch (e->cval.type) {
        case V_INT: lang_astr_addf(S, out, "%lld", (long long)e->cval.i); return;
        case V_FLOAT: lang_format_float(buf, sizeof buf, e->cval.f); astr_adds(S, out, buf); return;
        case V_STRING: lang_print_string_lit(S, out, e->cval.str.s, e->cval.n); return;
        case V_PATH: lang_astr_add(S, out, e->cval.str.s, e->cval.n); return;
        default: return;
        }
    case E_VAR: astr_adds(S, out, sym_name(S, e->var.name)); return;
    case E_SELECT:
        lang_astr_addch(S, out, '(');
        lang_show_expr(S, e->sel.e, out);
        astr_adds(S, out, ").");
        show_attrpath(S, e->sel.path, e->sel.n, out);
        if (e->sel.def) {
            astr_adds(S, out, " or (");
            lang_show_expr(S, e->sel.def, out);
            lang_astr_addch(S, out, ')');
        }
        return;
    case E_HASATTR:
        astr_adds(S, out, "((");
        lang_show_expr(S, e->sel.e, out);
        astr_adds(S, out, ") ? ");
        show_attrpath(S, e->sel.path, e->sel.n, out);
        lang_astr_addch(S, out, ')');
        return;
    case E_ATTRS: {
        /* Nix 2.8 shows a set's definitions sorted by name (a let's in symbol order), with
           its odd "inherit x ;", and the dynamic ones after them. */
        if (e->flag)
            astr_adds(S, out, "rec ");
        lang_astr_addch(S, out, '{');
        uint32_t n = e->attrs.ndefs;
        const AttrDef **sorted = arena_alloc(&S->arena, (n + 1) * sizeof *sorted);
        for (uint32_t i = 0; i < n; i++)
            sorted[i] = &e->attrs.defs[i];
        for (uint32_t i = 1; i < n; i++)
            for (uint32_t j = i; j > 0 && strcmp(sym_name(S, sorted[j - 1]->name),
                                                 sym_name(S, sorted[j]->name)) > 0; j--) {
                const AttrDef *t = sorted[j];
                sorted[j] = sorted[j - 1];
                sorted[j - 1] = t;
            }
        for (uint32_t i = 0; i < n; i++) {
            const AttrDef *d = sorted[i];
            if (d->inherited)
                lang_astr_addf(S, out, " inherit %s ;", sym_name(S, d->name));
            else {
                lang_astr_addf(S, out, " %s = ", sym_name(S, d->name));
                lang_show_expr(S, d->e, out);
                lang_astr_addch(S, out, ';');
            }
        }
        for (uint32_t i = 0; i < e->attrs.ndyn; i++) {
            astr_adds(S, out, " \"${");
            lang_show_expr(S, e->attrs.dyn[i].name, out);
            astr_adds(S, out, "}\" = ");
            lang_show_expr(S, e->attrs.dyn[i].value, out);
            lang_astr_addch(S, out, ';');
        }
        astr_adds(S, out, " }");
        return;
    }
    case E_LIST:
        lang_astr_addch(S, out, '[');
        for (uint32_t i = 0; i < e->list.n; i++) {
            lang_astr_addch(S, out, ' ');
            lang_show_expr(S, e->list.elems[i], out);
        }
        astr_adds(S, out, " ]");
        return;
    case E_LAMBDA:
        lang_astr_addch(S, out, '(');
        if (e->flag) {
            lang_astr_addch(S, out, '{');
            for (uint32_t i = 0; i < e->lam.nformals; i++) {
                astr_adds(S, out, i ? ", " : " ");
                astr_adds(S, out, sym_name(S, e->lam.formals[i].name));
                if (e->lam.formals[i].def) {
                    astr_adds(S, out, " ? ");
                    lang_show_expr(S, e->lam.formals[i].def, out);
                }
            }
            if (e->lam.ellipsis)
                astr_adds(S, out, e->lam.nformals ? ", ..." : " ...");
            astr_adds(S, out, " }");
            if (e->lam.arg)
                lang_astr_addf(S, out, " @ %s", sym_name(S, e->lam.arg));
        } else {
            astr_adds(S, out, sym_name(S, e->lam.arg));
        }
        astr_adds(S, out, ": ");
        lang_show_expr(S, e->lam.body, out);
        lang_astr_addch(S, out, ')');
        return;
    case E_CALL: {
        /* Nix collects curried arguments into one call */
        Expr *args[64];
        int n = 0;
        Expr *f = e;
        while (f->kind == E_CALL && n < 64) {
            args[n++] = f->op.b;
            f = f->op.a;
        }
        lang_astr_addch(S, out, '(');
        lang_show_expr(S, f, out);
        for (int i = n - 1; i >= 0; i--) {
            lang_astr_addch(S, out, ' ');
            lang_show_expr(S, args[i], out);
        }
        lang_astr_addch(S, out, ')');
        return;
    }
    case E_LET:
        astr_adds(S, out, "(let ");
        for (uint32_t i = 0; i < e->attrs.ndefs; i++) {
            AttrDef *d = &e->attrs.defs[i];
            if (d->inherited)
                lang_astr_addf(S, out, "inherit %s; ", sym_name(S, d->name));
            else {
                lang_astr_addf(S, out, "%s = ", sym_name(S, d->name));
                lang_show_expr(S, d->e, out);
                astr_adds(S, out, "; ");
            }
        }
        astr_adds(S, out, "in ");
        lang_show_expr(S, e->attrs.body, out);
        lang_astr_addch(S, out, ')');
        return;
    case E_WITH:
        astr_adds(S, out, "(with ");
        lang_show_expr(S, e->op.a, out);
        astr_adds(S, out, "; ");
        lang_show_expr(S, e->op.b, out);
        lang_astr_addch(S, out, ')');
        return;
    case E_IF:
        astr_adds(S, out, "(if ");
        lang_show_expr(S, e->op.a, out);
        astr_adds(S, out, " then ");
        lang_show_expr(S, e->op.b, out);
        astr_adds(S, out, " else ");
        lang_show_expr(S, e->op.c, out);
        lang_astr_addch(S, out, ')');
        return;
    case E_ASSERT:
        astr_adds(S, out, "assert ");
        lang_show_expr(S, e->op.a, out);
        astr_adds(S, out, "; ");
        lang_show_expr(S, e->op.b, out);
        return;
    case E_NOT:
        astr_adds(S, out, "(! ");
        lang_show_expr(S, e->op.a, out);
        lang_astr_addch(S, out, ')');
        return;
    case E_EQ: show_bin(S, e, "==", out); return;
    case E_NEQ: show_bin(S, e, "!=", out); return;
    case E_AND: show_bin(S, e, "&&", out); return;
    case E_OR: show_bin(S, e, "||", out); return;
    case E_IMPL: show_bin(S, e, "->", out); return;
    case E_UPDATE: show_bin(S, e, "//", out); return;
    case E_CONCATLISTS: show_bin(S, e, "++", out); return;
    case E_LT: {
        Expr *a = (e->flag & 1) ? e->op.b : e->op.a, *b = (e->flag & 1) ? e->op.a : e->op.b;
        if (e->flag & 2)
            astr_adds(S, out, "(! ");
        astr_adds(S, out, "(__lessThan ");
        lang_show_expr(S, a, out);
        lang_astr_addch(S, out, ' ');
        lang_show_expr(S, b, out);
        lang_astr_addch(S, out, ')');
        if (e->flag & 2)
            lang_astr_addch(S, out, ')');
        return;
    }
    case E_SUB:
    case E_MUL:
    case E_DIV:
        lang_astr_addf(S, out, "(__%s ", e->kind == E_SUB ? "sub" : e->kind == E_MUL ? "mul" : "div");
        lang_show_expr(S, e->op.a, out);
        lang_astr_addch(S, out, ' ');
        lang_show_expr(S, e->op.b, out);
        lang_astr_addch(S, out, ')');
        return;
    case E_CONCATSTRINGS:
        lang_astr_addch(S, out, '(');
        for (uint32_t i = 0; i < e->cat.n; i++) {
            if (i)
                astr_adds(S, out, " + ");
            lang_show_expr(S, e->cat.parts[i], out);
        }
        lang_astr_addch(S, out, ')');
        return;
    case E_CURPOS:
        astr_adds(S, out, "__curPos");
        return;
    }
}
