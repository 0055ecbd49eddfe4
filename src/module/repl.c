/* repl.c - what `flakectl repl` evaluates: expressions with config, lib, pkgs and host in
 * scope (lib and builtins only without a host), the names that complete a partial
 * `a.b.c<TAB>`, an option's type and description (:t), and documentation (:doc). Never reads
 * a terminal or prints: src/cli/repl.c does the line editing and the output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/fs.h"
#include "flakectl/module.h"
#include "flakectl/strbuf.h"
#include "module/internal.h"

#define REPL_NAME "«repl»"

struct fl_repl {
    fl_lang *L;
    fl_host *host;      /* NULL: no host */
    fl_value *scope;    /* { config; lib; pkgs; host; } or { lib; } */
    fl_value *describe; /* host.nix's describe, NULL without a host */
};

static int attr(fl_lang *L, fl_value *set, const char *name, fl_value **out, fl_error *err) {
    if (fl_lang_attrs_get(L, set, name, out, NULL) != 0)
        return fl_error_set(err, FL_EEVAL, "internal: no '%s' in the host's evaluation", name);
    return fl_lang_force(L, *out, err);
}

int fl_repl_new(fl_lang *L, fl_host *host, fl_repl **out, fl_error *err) {
    fl_repl *r = fl_xcalloc(1, sizeof *r);
    r->L = L;
    r->host = host;
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(L, 4);
    int rc = 0;
    if (host) {
        const char *names[] = {"config", "lib", "pkgs", "host"};
        for (size_t i = 0; i < 4 && rc == 0; i++) {
            fl_value *v = NULL;
            if (fl_lang_attrs_get(L, host->result, names[i], &v, NULL) != 0)
                rc = fl_error_set(err, FL_EEVAL, "internal: host.nix has no '%s'", names[i]);
            else
                fl_lang_attrs_add(b, names[i], v, NULL);
        }
        if (rc == 0)
            rc = attr(L, host->result, "describe", &r->describe, err);
    } else {
        char *dir = fl_module_bundle_dir(err);
        fl_value *lib = NULL;
        if (!dir)
            rc = -1;
        else {
            char *p = fl_path_join(dir, "nix/lib.nix");
            rc = fl_lang_eval_file(L, p, &lib, err);
            free(p);
            free(dir);
        }
        if (rc == 0)
            fl_lang_attrs_add(b, "lib", lib, NULL);
    }
    r->scope = fl_lang_attrs_end(b);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void fl_repl_free(fl_repl *r) {
    free(r);
}

/* Evaluates expr in the scope; an error's column on the first line is the user's own. The
 * scope is bound by a lambda's formals (lexical, like a `let`), so code parsed later by the
 * host's own evaluation never sees these names. */
static int eval_in_scope(fl_repl *r, const char *expr, fl_value **out, fl_error *err) {
    fl_strbuf src;
    fl_strbuf_init(&src, 0);
    fl_strbuf_adds(&src, "{ ");
    for (size_t i = 0; i < fl_lang_attrs_size(r->scope); i++) {
        const char *name;
        fl_lang_attrs_at(r->L, r->scope, i, &name, NULL, NULL);
        fl_strbuf_addf(&src, "%s, ", name);
    }
    fl_strbuf_adds(&src, "... }: ");
    int head = (int)src.len;
    fl_strbuf_adds(&src, expr);
    fl_value *fn = NULL;
    int rc = fl_lang_eval_string(r->L, src.buf, REPL_NAME, NULL, &fn, err);
    fl_strbuf_release(&src);
    if (rc == 0)
        rc = fl_lang_call(r->L, fn, r->scope, out, err);
    if (rc == 0)
        rc = fl_lang_force(r->L, *out, err);
    if (rc < 0 && err && err->file && !strcmp(err->file, REPL_NAME) && err->line == 1 &&
        err->col > head)
        err->col -= head;
    return rc;
}

/* `name = expr`: the length of "name" when line is a binding (an identifier, then one `=`
 * that is not `==`), else 0. */
static size_t binding_name(const char *line, const char **rhs) {
    const char *p = line;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'))
        return 0;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '_' || *p == '-' || *p == '\'')
        p++;
    size_t n = (size_t)(p - line);
    while (*p == ' ' || *p == '\t')
        p++;
    if (p[0] != '=' || p[1] == '=')
        return 0;
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    *rhs = p;
    return n;
}

/* Binds name to rhs's value for the inputs that follow (replacing an earlier binding or a
 * name of the scope, as `nix repl` does). */
static int bind(fl_repl *r, const char *line, size_t nlen, const char *rhs, fl_error *err) {
    fl_value *v = NULL;
    int rc = eval_in_scope(r, rhs, &v, err);
    if (rc < 0) {
        if (err && err->file && !strcmp(err->file, REPL_NAME) && err->line == 1)
            err->col += (int)(rhs - line);
        return rc;
    }
    char *name = fl_xstrndup(line, nlen);
    size_t n = fl_lang_attrs_size(r->scope);
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(r->L, n + 1);
    for (size_t i = 0; i < n; i++) {
        const char *k;
        fl_value *x;
        fl_lang_attrs_at(r->L, r->scope, i, &k, &x, NULL);
        if (strcmp(k, name) != 0)
            fl_lang_attrs_add(b, k, x, NULL);
    }
    fl_lang_attrs_add(b, name, v, NULL);
    r->scope = fl_lang_attrs_end(b);
    free(name);
    return 0;
}

/* One element shown inside a set or list: scalars in full, the rest by their shape. */
static void print_shallow(fl_repl *r, fl_value *v, fl_strbuf *out) {
    fl_error e = FL_ERROR_INIT;
    if (fl_lang_force(r->L, v, &e) < 0) {
        fl_strbuf_addf(out, "«error: %s»", e.message ? e.message : "?");
        fl_error_clear(&e);
        return;
    }
    switch (fl_lang_type(v)) {
    case FL_LANG_ATTRS:
        fl_strbuf_adds(out, fl_lang_attrs_size(v) ? "{ ... }" : "{ }");
        return;
    case FL_LANG_LIST:
        fl_strbuf_adds(out, fl_lang_list_size(v) ? "[ ... ]" : "[ ]");
        return;
    default:
        if (fl_lang_print(r->L, v, 0, out, &e) < 0) {
            fl_strbuf_adds(out, "«?»");
            fl_error_clear(&e);
        }
    }
}

/* The input stops before its expression does (what more lines may complete): the parser
 * met the end of the text. */
static int incomplete(const fl_error *err) {
    return err && err->code == FL_EPARSE && err->message &&
           strstr(err->message, "unexpected end of file");
}

int fl_repl_eval(fl_repl *r, const char *expr, int flags, fl_strbuf *out, fl_error *err) {
    int deep = flags & FL_REPL_DEEP;
    const char *rhs = NULL;
    size_t nlen = deep ? 0 : binding_name(expr, &rhs);
    fl_value *v = NULL;
    int rc = nlen ? bind(r, expr, nlen, rhs, err) : eval_in_scope(r, expr, &v, err);
    if (rc < 0 && (flags & FL_REPL_PARTIAL) && incomplete(err)) {
        fl_error_clear(err);
        return FL_REPL_MORE;
    }
    if (rc < 0 || nlen)
        return rc;
    if (deep)
        return fl_lang_print(r->L, v, 1, out, err);
    /* like `nix repl`: one level of a set or list, each member forced on its own so one
     * failing attribute does not hide the others */
    if (fl_lang_type(v) == FL_LANG_ATTRS) {
        fl_strbuf_adds(out, "{");
        for (size_t i = 0; i < fl_lang_attrs_size(v); i++) {
            const char *name;
            fl_value *x;
            fl_lang_attrs_at(r->L, v, i, &name, &x, NULL);
            fl_strbuf_addf(out, " %s = ", name);
            print_shallow(r, x, out);
            fl_strbuf_adds(out, ";");
        }
        fl_strbuf_adds(out, " }");
        return 0;
    }
    if (fl_lang_type(v) == FL_LANG_LIST) {
        fl_strbuf_adds(out, "[");
        for (size_t i = 0; i < fl_lang_list_size(v); i++) {
            fl_strbuf_adds(out, " ");
            print_shallow(r, fl_lang_list_at(v, i), out);
        }
        fl_strbuf_adds(out, " ]");
        return 0;
    }
    print_shallow(r, v, out);
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int fl_repl_complete(fl_repl *r, const char *word, char ***out, size_t *nout) {
    *out = NULL;
    *nout = 0;
    const char *dot = strrchr(word, '.');
    fl_value *set = NULL;
    fl_error e = FL_ERROR_INIT;
    char *base = NULL;
    if (dot) {
        base = fl_xstrndup(word, (size_t)(dot - word));
        if (eval_in_scope(r, base, &set, &e) < 0 || fl_lang_type(set) != FL_LANG_ATTRS) {
            fl_error_clear(&e);
            free(base);
            return 0;
        }
    }
    const char *prefix = dot ? dot + 1 : word;
    size_t plen = strlen(prefix), n = 0, cap = 16;
    char **c = fl_xcalloc(cap, sizeof *c);
    if (set) {
        for (size_t i = 0; i < fl_lang_attrs_size(set); i++) {
            const char *name;
            fl_lang_attrs_at(r->L, set, i, &name, NULL, NULL);
            if (strncmp(name, prefix, plen) != 0)
                continue;
            if (n == cap)
                c = fl_xrealloc(c, (cap *= 2) * sizeof *c);
            c[n++] = fl_xasprintf("%s.%s", base, name);
        }
    } else {
        /* the scope's names and the builtins reachable without `builtins.` */
        static const char *const top[] = {
            "builtins",   "import", "map",    "toString",    "throw",      "abort",
            "baseNameOf", "dirOf",  "isNull", "removeAttrs", "derivation", "true",
            "false",      "null",   "let",    "in",          "with",       "inherit",
            "rec",        "if",     "then",   "else",        "assert",     "or"};
        for (size_t i = 0; i < fl_lang_attrs_size(r->scope) + sizeof top / sizeof *top; i++) {
            const char *name;
            if (i < fl_lang_attrs_size(r->scope))
                fl_lang_attrs_at(r->L, r->scope, i, &name, NULL, NULL);
            else
                name = top[i - fl_lang_attrs_size(r->scope)];
            if (strncmp(name, prefix, plen) != 0)
                continue;
            if (n == cap)
                c = fl_xrealloc(c, (cap *= 2) * sizeof *c);
            c[n++] = fl_xstrdup(name);
        }
    }
    free(base);
    qsort(c, n, sizeof *c, cmp_str);
    *out = c;
    *nout = n;
    return 0;
}

/* config.a.b.c -> "a.b.c" when expr is a plain option path below config, else NULL. */
static char *option_path(const char *expr) {
    while (*expr == ' ')
        expr++;
    if (strncmp(expr, "config.", 7) != 0)
        return NULL;
    char *p = fl_xstrdup(expr + 7);
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\n'))
        p[--n] = '\0';
    for (const char *q = p; *q; q++)
        if (!(*q == '.' || *q == '"' || *q == '-' || *q == '_' || *q == '\'' || *q == '/' ||
              (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z'))) {
            free(p);
            return NULL;
        }
    return p;
}

/* host.nix's describe for an option path: NULL info when it names no option. */
static int describe(fl_repl *r, const char *dotted, fl_value **info, fl_error *err) {
    fl_lang *L = r->L;
    fl_value *found = NULL;
    int rc = fl_lang_call(L, r->describe, fl_module_path_value(L, dotted), info, err);
    if (rc == 0)
        rc = fl_lang_force(L, *info, err);
    if (rc == 0)
        rc = attr(L, *info, "found", &found, err);
    if (rc == 0 && !fl_lang_get_bool(found))
        *info = NULL;
    return rc;
}

static void add_field(fl_repl *r, fl_value *info, const char *name, const char *label,
                      fl_strbuf *out) {
    fl_value *v;
    fl_error e = FL_ERROR_INIT;
    if (attr(r->L, info, name, &v, &e) == 0 && fl_lang_type(v) == FL_LANG_STRING)
        fl_strbuf_addf(out, "%s%s\n", label, fl_lang_get_string(v, NULL));
    fl_error_clear(&e);
}

int fl_repl_type(fl_repl *r, const char *expr, int doc, fl_strbuf *out, fl_error *err) {
    char *opt = r->host ? option_path(expr) : NULL;
    if (opt) {
        fl_value *info = NULL;
        int rc = describe(r, opt, &info, err);
        if (rc == 0 && info) {
            fl_strbuf_addf(out, "option config.%s\n", opt);
            add_field(r, info, "type", "type: ", out);
            add_field(r, info, "description", "description: ", out);
            if (doc) {
                fl_value *hd = NULL, *d = NULL;
                fl_error e = FL_ERROR_INIT;
                if (attr(r->L, info, "hasDefault", &hd, &e) == 0 && fl_lang_get_bool(hd) &&
                    fl_lang_attrs_get(r->L, info, "default", &d, NULL) == 0) {
                    fl_strbuf_adds(out, "default: ");
                    print_shallow(r, d, out);
                    fl_strbuf_adds(out, "\n");
                }
                fl_error_clear(&e);
                add_field(r, info, "declaredIn", "declared in: ", out);
            }
            free(opt);
            return 0;
        }
        free(opt);
        if (rc < 0)
            return rc;
    }
    fl_value *v = NULL;
    int rc = eval_in_scope(r, expr, &v, err);
    if (rc < 0)
        return rc;
    fl_strbuf_addf(out, "a value of type %s\n", fl_lang_type_name(v));
    fl_lang_pos pos;
    if (fl_lang_type(v) == FL_LANG_FUNCTION && fl_lang_lambda_pos(r->L, v, &pos) == 0 && pos.file)
        fl_strbuf_addf(out, "defined at %s:%d:%d\n", pos.file, pos.line, pos.col);
    else if (doc && fl_lang_type(v) == FL_LANG_ATTRS)
        fl_strbuf_addf(out, "%zu attributes\n", fl_lang_attrs_size(v));
    return 0;
}
