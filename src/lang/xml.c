/* xml.c - builtins.toXML: a value as Nix 2.8 writes it, byte for byte (an XML declaration,
 * two-space indentation, attributes of an element sorted by name, derivations shown once). */
#include <stdio.h>

#include "lang/internal.h"

void lang_format_float(char *buf, size_t n, double f);

typedef struct XmlOut {
    AStr *out;
    int depth;
    PtrSet drvs_seen; /* drvPath strings (interned), as Nix's drvsSeen */
} XmlOut;

static void indent(State *S, XmlOut *x) {
    for (int i = 0; i < x->depth; i++)
        astr_adds(S, x->out, "  ");
}

static void attr_val(State *S, XmlOut *x, const char *name, const char *v) {
    lang_astr_addch(S, x->out, ' ');
    astr_adds(S, x->out, name);
    astr_adds(S, x->out, "=\"");
    for (const char *p = v; *p; p++) {
        switch (*p) {
        case '"': astr_adds(S, x->out, "&quot;"); break;
        case '<': astr_adds(S, x->out, "&lt;"); break;
        case '>': astr_adds(S, x->out, "&gt;"); break;
        case '&': astr_adds(S, x->out, "&amp;"); break;
        /* so that an XML reader does not normalise it; Nix 2.8 leaves \t and \r alone */
        case '\n': astr_adds(S, x->out, "&#xA;"); break;
        default: lang_astr_addch(S, x->out, *p);
        }
    }
    lang_astr_addch(S, x->out, '"');
}

/* <name attr="value" /> with at most one attribute (name NULL: none). */
static void empty1(State *S, XmlOut *x, const char *elem, const char *an, const char *av) {
    indent(S, x);
    lang_astr_addch(S, x->out, '<');
    astr_adds(S, x->out, elem);
    if (an)
        attr_val(S, x, an, av);
    astr_adds(S, x->out, " />\n");
}

static void open_tag_end(State *S, XmlOut *x) {
    astr_adds(S, x->out, ">\n");
    x->depth++;
}

static void close_tag(State *S, XmlOut *x, const char *elem) {
    x->depth--;
    indent(S, x);
    astr_adds(S, x->out, "</");
    astr_adds(S, x->out, elem);
    astr_adds(S, x->out, ">\n");
}

static void xml_value(State *S, XmlOut *x, Value *v, PosIdx pos, const StrCtx **ctx);

static void xml_attrs(State *S, XmlOut *x, Attrs *a, const StrCtx **ctx) {
    Attr **sorted = lang_attrs_sorted_by_name(S, a);
    for (uint32_t i = 0; i < a->n; i++) {
        indent(S, x);
        astr_adds(S, x->out, "<attr");
        attr_val(S, x, "name", sym_name(S, sorted[i]->name));
        open_tag_end(S, x);
        xml_value(S, x, sorted[i]->value, sorted[i]->pos, ctx);
        close_tag(S, x, "attr");
    }
}

/* The string value of attribute name of a derivation, NULL when it is not a string. */
static const char *drv_string(State *S, Attrs *a, Sym name) {
    Attr *at = lang_attrs_find(a, name);
    if (!at)
        return NULL;
    force(S, at->value, at->pos);
    return at->value->type == V_STRING ? lang_string_cstr(at->value) : NULL;
}

static void xml_value(State *S, XmlOut *x, Value *v, PosIdx pos, const StrCtx **ctx) {
    lang_stack_check(S, pos);
    force(S, v, pos);
    char buf[64];
    switch (v->type) {
    case V_INT:
        snprintf(buf, sizeof buf, "%lld", (long long)v->i);
        empty1(S, x, "int", "value", buf);
        return;
    case V_FLOAT:
        lang_format_float(buf, sizeof buf, v->f);
        empty1(S, x, "float", "value", buf);
        return;
    case V_BOOL:
        empty1(S, x, "bool", "value", v->b ? "true" : "false");
        return;
    case V_STRING:
        *ctx = lang_ctx_merge(S, *ctx, v->str.ctx);
        empty1(S, x, "string", "value", lang_string_cstr(v));
        return;
    case V_PATH:
        empty1(S, x, "path", "value", v->str.s);
        return;
    case V_NULL:
        empty1(S, x, "null", NULL, NULL);
        return;
    case V_LIST:
        indent(S, x);
        astr_adds(S, x->out, "<list");
        open_tag_end(S, x);
        for (uint32_t i = 0; i < v->n; i++)
            xml_value(S, x, v->elems[i], pos, ctx);
        close_tag(S, x, "list");
        return;
    case V_ATTRS: {
        if (!lang_is_derivation(S, v)) {
            indent(S, x);
            astr_adds(S, x->out, "<attrs");
            open_tag_end(S, x);
            xml_attrs(S, x, v->attrs, ctx);
            close_tag(S, x, "attrs");
            return;
        }
        const char *drv = drv_string(S, v->attrs, S->s_drvPath);
        const char *outp = drv_string(S, v->attrs, S->s_outPath);
        indent(S, x);
        astr_adds(S, x->out, "<derivation");
        if (drv)
            attr_val(S, x, "drvPath", drv);
        if (outp)
            attr_val(S, x, "outPath", outp);
        open_tag_end(S, x);
        if (drv && *drv && lang_ptrset_add(S, &x->drvs_seen, sym_name(S, lang_sym_intern(S, drv, strlen(drv)))))
            xml_attrs(S, x, v->attrs, ctx);
        else
            empty1(S, x, "repeated", NULL, NULL);
        close_tag(S, x, "derivation");
        return;
    }
    case V_LAMBDA: {
        Expr *f = v->lambda.fn;
        indent(S, x);
        astr_adds(S, x->out, "<function");
        open_tag_end(S, x);
        if (f->flag) {
            indent(S, x);
            astr_adds(S, x->out, "<attrspat");
            if (f->lam.ellipsis)
                attr_val(S, x, "ellipsis", "1");
            if (f->lam.arg)
                attr_val(S, x, "name", sym_name(S, f->lam.arg));
            open_tag_end(S, x);
            Sym *names = arena_alloc(&S->arena, (f->lam.nformals + 1) * sizeof(Sym));
            for (uint32_t i = 0; i < f->lam.nformals; i++)
                names[i] = f->lam.formals[i].name;
            for (uint32_t i = 1; i < f->lam.nformals; i++)
                for (uint32_t j = i; j > 0 && strcmp(sym_name(S, names[j - 1]),
                                                     sym_name(S, names[j])) > 0; j--) {
                    Sym t = names[j];
                    names[j] = names[j - 1];
                    names[j - 1] = t;
                }
            for (uint32_t i = 0; i < f->lam.nformals; i++)
                empty1(S, x, "attr", "name", sym_name(S, names[i]));
            close_tag(S, x, "attrspat");
        } else {
            empty1(S, x, "varpat", "name", sym_name(S, f->lam.arg));
        }
        close_tag(S, x, "function");
        return;
    }
    default:
        /* primops and their partial applications: Nix 2.8 does not show them */
        empty1(S, x, "unevaluated", NULL, NULL);
        return;
    }
}

void lang_to_xml(State *S, Value *v, AStr *out, PosIdx pos, const StrCtx **ctx) {
    XmlOut x = {out, 0, {NULL, 0, 0}};
    astr_adds(S, out, "<?xml version='1.0' encoding='utf-8'?>\n<expr>\n");
    x.depth = 1;
    xml_value(S, &x, v, pos, ctx);
    astr_adds(S, out, "</expr>\n");
}
