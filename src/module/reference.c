/* reference.c - the declared options as plain data (fl_option_doc): runs nix/reference.nix
 * over a host's evaluation or over the bundled modules alone, and turns each entry's
 * default and example into text. What the options reference, the configuration man page and
 * `flakectl option --search` print; never prints anything itself. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flakectl/fs.h"
#include "flakectl/module.h"
#include "flakectl/strbuf.h"
#include "module/embedded.h"

/* A string field of an entry (forced); NULL when it is missing or not a string. */
static const char *str_field(fl_lang *L, fl_value *set, const char *name, fl_error *err, int *rc) {
    fl_value *v = NULL;
    if (fl_lang_attrs_get(L, set, name, &v, NULL) != 0)
        return NULL;
    if ((*rc = fl_lang_force(L, v, err)) < 0)
        return NULL;
    return fl_lang_type(v) == FL_LANG_STRING ? fl_lang_get_string(v, NULL) : NULL;
}

/* s with every occurrence of from replaced by to (the bundle's cache directory is no
 * reader's business, and must not make the checked-in reference differ per machine). */
static char *replace_all(const char *s, const char *from, const char *to) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, strlen(s));
    size_t flen = strlen(from);
    for (const char *p = s; *p;) {
        const char *hit = flen ? strstr(p, from) : NULL;
        if (!hit) {
            fl_strbuf_adds(&sb, p);
            break;
        }
        fl_strbuf_add(&sb, p, (size_t)(hit - p));
        fl_strbuf_adds(&sb, to);
        p = hit + flen;
    }
    return fl_strbuf_detach(&sb, NULL);
}

/* A default or example as text: literalExpression's text, a string defaultText as written,
 * anything else printed in the language's syntax. A value that needs a configuration (or
 * fails) is said to be computed, never an error. */
static char *value_text(fl_lang *L, fl_value *v, int is_text, const char *bundle) {
    fl_error err = FL_ERROR_INIT;
    char *out = NULL;
    if (fl_lang_force(L, v, &err) < 0)
        goto computed;
    if (fl_lang_type(v) == FL_LANG_ATTRS) {
        fl_value *t = NULL, *text = NULL;
        if (fl_lang_attrs_get(L, v, "_type", &t, NULL) == 0 && fl_lang_force(L, t, NULL) == 0 &&
            fl_lang_type(t) == FL_LANG_STRING &&
            !strcmp(fl_lang_get_string(t, NULL), "literalExpression") &&
            fl_lang_attrs_get(L, v, "text", &text, NULL) == 0 &&
            fl_lang_force(L, text, NULL) == 0 && fl_lang_type(text) == FL_LANG_STRING)
            return fl_xstrdup(fl_lang_get_string(text, NULL));
    }
    if (fl_lang_type(v) == FL_LANG_ATTRS && (fl_lang_attrs_get(L, v, "outPath", NULL, NULL) == 0 ||
                                             fl_lang_attrs_get(L, v, "native", NULL, NULL) == 0)) {
        /* a package: its name, never its outPath (forcing that would build it) */
        fl_value *name = NULL;
        if (fl_lang_attrs_get(L, v, "name", &name, NULL) == 0 &&
            fl_lang_force(L, name, NULL) == 0 && fl_lang_type(name) == FL_LANG_STRING)
            return fl_xasprintf("«package %s»", fl_lang_get_string(name, NULL));
        return fl_xstrdup("«package»");
    }
    if (is_text && fl_lang_type(v) == FL_LANG_STRING)
        return fl_xstrdup(fl_lang_get_string(v, NULL));
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    if (fl_lang_print(L, v, 1, &sb, &err) == 0) {
        out = replace_all(sb.buf, bundle, "<flakectl>");
        fl_strbuf_release(&sb);
        return out;
    }
    fl_strbuf_release(&sb);
computed:
    fl_error_clear(&err);
    return fl_xstrdup("(computed from the configuration)");
}

static int bool_field(fl_lang *L, fl_value *set, const char *name) {
    fl_value *v = NULL;
    return fl_lang_attrs_get(L, set, name, &v, NULL) == 0 && fl_lang_force(L, v, NULL) == 0 &&
           fl_lang_type(v) == FL_LANG_BOOL && fl_lang_get_bool(v);
}

/* Where an option is declared, as the reader should see it: relative to the bundle for
 * flakectl's own modules, relative to the flake for the flake's. */
static char *show_file(const char *file, const char *bundle, const char *flake_dir, int *bundled) {
    size_t bl = strlen(bundle), fl = flake_dir ? strlen(flake_dir) : 0;
    *bundled = 0;
    if (!strncmp(file, bundle, bl) && file[bl] == '/') {
        *bundled = 1;
        return fl_xstrdup(file + bl + 1);
    }
    if (fl && !strncmp(file, flake_dir, fl) && file[fl] == '/')
        return fl_xstrdup(file + fl + 1);
    return fl_xstrdup(file);
}

static int fill(fl_lang *L, fl_value *e, const char *bundle, const char *flake_dir,
                fl_option_doc *d, fl_error *err) {
    int rc = 0;
    const char *name = str_field(L, e, "name", err, &rc);
    const char *type = rc == 0 ? str_field(L, e, "type", err, &rc) : NULL;
    const char *desc = rc == 0 ? str_field(L, e, "description", err, &rc) : NULL;
    const char *file = rc == 0 ? str_field(L, e, "file", err, &rc) : NULL;
    if (rc < 0)
        return rc;
    d->name = fl_xstrdup(name ? name : "?");
    d->type = fl_xstrdup(type ? type : "unspecified");
    d->description = fl_xstrdup(desc ? desc : "");
    for (size_t k = strlen(d->description); k && strchr(" \t\n", d->description[k - 1]); k--)
        d->description[k - 1] = '\0';
    d->file = show_file(file ? file : "?", bundle, flake_dir, &d->bundled);
    fl_value *v = NULL;
    if (fl_lang_attrs_get(L, e, "line", &v, NULL) == 0 && fl_lang_force(L, v, NULL) == 0 &&
        fl_lang_type(v) == FL_LANG_INT)
        d->line = (int)fl_lang_get_int(v);
    if (bool_field(L, e, "hasDefault")) {
        fl_value *t = NULL;
        fl_lang_attrs_get(L, e, "defaultText", &t, NULL);
        if (t && fl_lang_force(L, t, NULL) == 0 && fl_lang_type(t) != FL_LANG_NULL)
            d->default_text = value_text(L, t, 1, bundle);
        else if (fl_lang_attrs_get(L, e, "default", &v, NULL) == 0)
            d->default_text = value_text(L, v, 0, bundle);
    }
    if (bool_field(L, e, "hasExample") && fl_lang_attrs_get(L, e, "example", &v, NULL) == 0)
        d->example_text = value_text(L, v, 0, bundle);
    return 0;
}

/* The entries of reference.nix for host, or for the bundled modules on platform. */
static int docs_for(fl_lang *L, fl_host *host, const char *platform, const char *bundle,
                    fl_option_doc **docs, size_t *n, fl_error *err) {
    char *ref_nix = fl_path_join(bundle, "nix/reference.nix");
    fl_value *fn = NULL, *list = NULL;
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(L, 2);
    int rc = 0;
    if (host) {
        fl_value *ev = NULL;
        if (fl_lang_attrs_get(L, host->result, "ev", &ev, NULL) != 0)
            rc = fl_error_set(err, FL_EEVAL, "internal: host evaluation has no 'ev'");
        else
            fl_lang_attrs_add(b, "ev", ev, NULL);
    } else {
        fl_lang_attrs_add(b, "bundledModules", fl_module_bundled_list(L, bundle), NULL);
        fl_lang_attrs_add(b, "platform", fl_lang_mk_string(L, platform, strlen(platform)), NULL);
    }
    fl_value *args = fl_lang_attrs_end(b);
    if (rc == 0)
        rc = fl_lang_eval_file(L, ref_nix, &fn, err);
    if (rc == 0)
        rc = fl_lang_call(L, fn, args, &list, err);
    free(ref_nix);
    if (rc < 0)
        return rc;
    size_t count = fl_lang_list_size(list), k = 0;
    fl_option_doc *out = fl_xcalloc(count ? count : 1, sizeof *out);
    for (size_t i = 0; i < count; i++) {
        fl_value *e = fl_lang_list_at(list, i);
        if ((rc = fl_lang_force(L, e, err)) < 0)
            break;
        if (bool_field(L, e, "hidden"))
            continue;
        if ((rc = fill(L, e, bundle, host ? host->flake_dir : NULL, &out[k], err)) < 0)
            break;
        k++;
    }
    if (rc < 0) {
        fl_option_docs_free(out, k);
        return rc;
    }
    *docs = out;
    *n = k;
    return 0;
}

static int same_text(const char *a, const char *b) {
    return a == b || (a && b && !strcmp(a, b));
}

/* The platforms a placeholder host can have (host.nix's `platform`). */
static const char *const platforms[] = {"nixos", "darwin", "wsl"};
#define NPLATFORMS (sizeof platforms / sizeof *platforms)

/* A default that differs between the platforms becomes one line per value, each with the
 * platforms it applies to as a comment ("/Users/<name>" # darwin). */
static void merge_platform_defaults(fl_option_doc *base, fl_option_doc *const *other,
                                    const size_t *nother, size_t n) {
    for (size_t p = 1; p < NPLATFORMS; p++)
        if (nother[p] != n)
            return; /* declarations that differ by platform: keep the first's */
    for (size_t i = 0; i < n; i++) {
        const char *texts[NPLATFORMS];
        int differ = 0;
        texts[0] = base[i].default_text;
        for (size_t p = 1; p < NPLATFORMS; p++) {
            if (strcmp(other[p][i].name, base[i].name))
                return;
            texts[p] = other[p][i].default_text;
            differ |= !same_text(texts[p], texts[0]);
        }
        if (!differ)
            continue;
        fl_strbuf sb;
        fl_strbuf_init(&sb, 0);
        for (size_t p = 0; p < NPLATFORMS; p++) {
            int seen = 0;
            for (size_t q = 0; q < p; q++)
                seen |= same_text(texts[q], texts[p]);
            if (seen)
                continue;
            fl_strbuf_addf(&sb, "%s%s #", sb.len ? "\n" : "", texts[p] ? texts[p] : "(none)");
            for (size_t q = p; q < NPLATFORMS; q++)
                if (same_text(texts[q], texts[p]))
                    fl_strbuf_addf(&sb, "%s %s", q == p ? "" : ",", platforms[q]);
        }
        free(base[i].default_text);
        base[i].default_text = fl_strbuf_detach(&sb, NULL);
    }
}

int fl_module_option_docs(fl_lang *L, fl_host *host, fl_option_doc **docs, size_t *n,
                          fl_error *err) {
    *docs = NULL;
    *n = 0;
    char *bundle = fl_module_bundle_dir(err);
    if (!bundle)
        return err->code ? err->code : FL_EIO;
    fl_option_doc *per[NPLATFORMS] = {NULL};
    size_t nper[NPLATFORMS] = {0};
    int rc = docs_for(L, host, platforms[0], bundle, &per[0], &nper[0], err);
    for (size_t p = 1; rc == 0 && !host && p < NPLATFORMS; p++)
        rc = docs_for(L, NULL, platforms[p], bundle, &per[p], &nper[p], err);
    if (rc == 0 && !host)
        merge_platform_defaults(per[0], per, nper, nper[0]);
    for (size_t p = 1; p < NPLATFORMS; p++)
        fl_option_docs_free(per[p], nper[p]);
    free(bundle);
    if (rc < 0) {
        fl_option_docs_free(per[0], nper[0]);
        fl_error_add_frame(err, "while listing the declared options");
        return rc;
    }
    *docs = per[0];
    *n = nper[0];
    return 0;
}

static void doc_release(fl_option_doc *d) {
    free(d->name);
    free(d->type);
    free(d->description);
    free(d->default_text);
    free(d->example_text);
    free(d->file);
}

void fl_option_docs_free(fl_option_doc *docs, size_t n) {
    for (size_t i = 0; docs && i < n; i++)
        doc_release(&docs[i]);
    free(docs);
}

static int contains_nocase(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (!strncasecmp(p, needle, n))
            return 1;
    return n == 0;
}

int fl_option_doc_matches(const fl_option_doc *doc, const char *word) {
    return contains_nocase(doc->name, word) || contains_nocase(doc->description, word);
}

static int by_name(const void *a, const void *b) {
    const fl_option_doc *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    /* the bundled declaration first, so a tie keeps flakectl's own */
    return c ? c : y->bundled - x->bundled;
}

void fl_option_docs_unique(fl_option_doc *docs, size_t *n) {
    if (*n == 0)
        return;
    qsort(docs, *n, sizeof *docs, by_name);
    size_t k = 1;
    for (size_t i = 1; i < *n; i++) {
        if (!strcmp(docs[i].name, docs[k - 1].name)) {
            doc_release(&docs[i]);
            continue;
        }
        docs[k++] = docs[i];
    }
    *n = k;
}
