/* why.c - `flakectl why`: asks nix/why.nix (through host.nix's `why`) which definitions put
 * a file, unit, package or option value on a host and hands the answer over as plain C data
 * (fl_why); unknown targets become errors with "did you mean" and what exists. Never prints:
 * the command line decides how the answer looks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/module.h"
#include "flakectl/strbuf.h"
#include "module/internal.h"

static int get(fl_lang *L, fl_value *set, const char *name, fl_value **out, fl_error *err) {
    if (fl_lang_type(set) != FL_LANG_ATTRS || fl_lang_attrs_get(L, set, name, out, NULL) != 0)
        return fl_error_set(err, FL_EEVAL, "internal: why.nix's answer lacks '%s'", name);
    return fl_lang_force(L, *out, err);
}

static int get_str(fl_lang *L, fl_value *set, const char *name, char **out, fl_error *err) {
    fl_value *v;
    int rc = get(L, set, name, &v, err);
    if (rc < 0)
        return rc;
    if (fl_lang_type(v) != FL_LANG_STRING)
        return fl_error_set(err, FL_EEVAL, "internal: why.nix's '%s' is %s, not a string", name,
                            fl_lang_type_name(v));
    *out = fl_xstrdup(fl_lang_get_string(v, NULL));
    return 0;
}

static int get_int(fl_lang *L, fl_value *set, const char *name, int *out, fl_error *err) {
    fl_value *v;
    int rc = get(L, set, name, &v, err);
    if (rc < 0)
        return rc;
    if (fl_lang_type(v) == FL_LANG_BOOL)
        *out = fl_lang_get_bool(v);
    else if (fl_lang_type(v) == FL_LANG_INT)
        *out = (int)fl_lang_get_int(v);
    else
        return fl_error_set(err, FL_EEVAL, "internal: why.nix's '%s' is %s", name,
                            fl_lang_type_name(v));
    return 0;
}

static int get_list(fl_lang *L, fl_value *set, const char *name, fl_value **out, size_t *n,
                    fl_error *err) {
    int rc = get(L, set, name, out, err);
    if (rc < 0)
        return rc;
    if (fl_lang_type(*out) != FL_LANG_LIST)
        return fl_error_set(err, FL_EEVAL, "internal: why.nix's '%s' is no list", name);
    *n = fl_lang_list_size(*out);
    return 0;
}

static int read_def(fl_lang *L, fl_value *v, fl_why_def *d, fl_error *err) {
    int rc = fl_lang_force(L, v, err);
    if (rc == 0)
        rc = get_str(L, v, "file", &d->file, err);
    if (rc == 0)
        rc = get_int(L, v, "line", &d->line, err);
    if (rc == 0)
        rc = get_int(L, v, "column", &d->col, err);
    if (rc == 0)
        rc = get_int(L, v, "priority", &d->priority, err);
    if (rc == 0)
        rc = get_int(L, v, "order", &d->order, err);
    if (rc == 0)
        rc = get_int(L, v, "enabled", &d->enabled, err);
    if (rc == 0)
        rc = get_int(L, v, "active", &d->won, err);
    if (rc == 0)
        rc = get_int(L, v, "isDefault", &d->is_default, err);
    if (rc == 0)
        rc = get_str(L, v, "value", &d->value, err);
    return rc;
}

static void option_release(fl_why_option *o) {
    for (size_t i = 0; i < o->ndefs; i++) {
        free(o->defs[i].file);
        free(o->defs[i].value);
    }
    free(o->defs);
    free(o->option);
    free(o->type);
    free(o->declared);
    free(o->value);
    memset(o, 0, sizeof *o);
}

static int read_option(fl_lang *L, fl_value *v, fl_why_option *o, fl_error *err) {
    fl_value *defs;
    size_t n = 0;
    int rc = fl_lang_force(L, v, err);
    if (rc == 0)
        rc = get_str(L, v, "option", &o->option, err);
    if (rc == 0)
        rc = get_str(L, v, "type", &o->type, err);
    if (rc == 0)
        rc = get_str(L, v, "declared", &o->declared, err);
    if (rc == 0)
        rc = get_str(L, v, "value", &o->value, err);
    if (rc == 0)
        rc = get_list(L, v, "defs", &defs, &n, err);
    if (rc < 0)
        return rc;
    o->defs = fl_xcalloc(n ? n : 1, sizeof *o->defs);
    for (size_t i = 0; i < n && rc == 0; i++, o->ndefs++)
        rc = read_def(L, fl_lang_list_at(defs, i), &o->defs[i], err);
    return rc;
}

static int read_options(fl_lang *L, fl_value *set, const char *name, fl_why_option **out,
                        size_t *nout, fl_error *err) {
    fl_value *list;
    size_t n = 0;
    int rc = get_list(L, set, name, &list, &n, err);
    if (rc < 0)
        return rc;
    *out = fl_xcalloc(n ? n : 1, sizeof **out);
    for (size_t i = 0; i < n && rc == 0; i++, (*nout)++)
        rc = read_option(L, fl_lang_list_at(list, i), &(*out)[i], err);
    return rc;
}

static int read_producer(fl_lang *L, fl_value *v, fl_why_producer *p, fl_error *err) {
    int rc = fl_lang_force(L, v, err);
    if (rc == 0)
        rc = get_str(L, v, "module", &p->module, err);
    if (rc == 0)
        rc = get_str(L, v, "options", &p->options, err);
    if (rc == 0)
        rc = read_options(L, v, "defined", &p->defined, &p->ndefined, err);
    return rc;
}

void fl_why_release(fl_why *w) {
    if (w->entry) {
        option_release(w->entry);
        free(w->entry);
    }
    for (size_t i = 0; i < w->noptions; i++)
        option_release(&w->options[i]);
    free(w->options);
    for (size_t i = 0; i < w->nproducers; i++) {
        fl_why_producer *p = &w->producers[i];
        for (size_t k = 0; k < p->ndefined; k++)
            option_release(&p->defined[k]);
        free(p->defined);
        free(p->module);
        free(p->options);
    }
    free(w->producers);
    free(w->kind);
    free(w->target);
    memset(w, 0, sizeof *w);
}

/* { error; candidates; what; } from why.nix: the closest candidate as "did you mean", else
 * the first few that exist. */
static int not_found(fl_host *host, const char *query, fl_value *ans, fl_error *err) {
    fl_lang *L = host->L;
    char *msg = NULL, *what = NULL;
    fl_value *cands;
    size_t n = 0;
    int rc = get_str(L, ans, "error", &msg, err);
    if (rc == 0)
        rc = get_str(L, ans, "what", &what, err);
    if (rc == 0)
        rc = get_list(L, ans, "candidates", &cands, &n, err);
    if (rc < 0) {
        free(msg);
        free(what);
        return rc;
    }
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    fl_strbuf some;
    fl_strbuf_init(&some, 0);
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        fl_value *c = fl_lang_list_at(cands, i);
        if (fl_lang_force(L, c, NULL) != 0 || fl_lang_type(c) != FL_LANG_STRING)
            continue;
        const char *s = fl_lang_get_string(c, NULL);
        size_t d = fl_edit_distance(query, s);
        if (d < bestd) {
            bestd = d;
            best = s;
        }
        if (shown < 12)
            fl_strbuf_addf(&some, "%s%s", shown++ ? ", " : "", s);
    }
    fl_error_set(err, FL_ENOTFOUND, "host '%s': %s", host->name, msg);
    /* as far off as a third of the name still reads as a typo of it */
    fl_value *group;
    /* a group's options are all "near" it: listing them says more than picking one */
    int is_group = fl_lang_attrs_get(L, ans, "group", &group, NULL) == 0;
    if (best && !is_group && bestd <= strlen(query) / 3 + 1)
        fl_error_set_hint(err, "did you mean '%s'? (%s: %s%s)", best, what, some.buf,
                          n > shown ? ", ..." : "");
    else
        fl_error_set_hint(err, "%s: %s%s", what, shown ? some.buf : "(none)",
                          n > shown ? ", ..." : "");
    fl_strbuf_release(&some);
    free(msg);
    free(what);
    return FL_ENOTFOUND;
}

int fl_host_why(fl_host *host, const char *query, fl_why *out, fl_error *err) {
    fl_lang *L = host->L;
    memset(out, 0, sizeof *out);
    fl_value *why = NULL, *ans = NULL, *x = NULL;
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(L, 2);
    fl_lang_attrs_add(b, "query", fl_lang_mk_string(L, query, strlen(query)), NULL);
    fl_lang_attrs_add(b, "path", fl_module_path_value(L, query), NULL);
    int rc = get(L, host->result, "why", &why, err);
    if (rc == 0)
        rc = fl_lang_call(L, why, fl_lang_attrs_end(b), &ans, err);
    if (rc == 0)
        rc = fl_lang_force(L, ans, err);
    if (rc < 0)
        goto fail;
    if (fl_lang_attrs_get(L, ans, "error", &x, NULL) == 0)
        return not_found(host, query, ans, err);
    if ((rc = get_str(L, ans, "kind", &out->kind, err)) < 0 ||
        (rc = get_str(L, ans, "target", &out->target, err)) < 0 ||
        (rc = get_int(L, ans, "present", &out->present, err)) < 0 ||
        (rc = get(L, ans, "entry", &x, err)) < 0)
        goto fail;
    if (fl_lang_type(x) != FL_LANG_NULL) {
        out->entry = fl_xcalloc(1, sizeof *out->entry);
        if ((rc = read_option(L, x, out->entry, err)) < 0)
            goto fail;
    }
    if ((rc = read_options(L, ans, "options", &out->options, &out->noptions, err)) < 0)
        goto fail;
    size_t np = 0;
    if ((rc = get_list(L, ans, "producers", &x, &np, err)) < 0)
        goto fail;
    out->producers = fl_xcalloc(np ? np : 1, sizeof *out->producers);
    for (size_t i = 0; i < np && rc == 0; i++, out->nproducers++)
        rc = read_producer(L, fl_lang_list_at(x, i), &out->producers[i], err);
    if (rc < 0)
        goto fail;
    return FL_OK;
fail:
    fl_why_release(out);
    fl_error_add_frame(err, "while explaining '%s' on host '%s'", query, host->name);
    return rc;
}

const char *fl_why_priority_name(int priority, int is_default, char *buf, size_t n) {
    if (is_default)
        snprintf(buf, n, "option default");
    else if (priority == 50)
        snprintf(buf, n, "mkForce");
    else if (priority == 100)
        snprintf(buf, n, "plain");
    else if (priority == 1000)
        snprintf(buf, n, "mkDefault");
    else if (priority == 1500)
        snprintf(buf, n, "mkOptionDefault");
    else
        snprintf(buf, n, "mkOverride %d", priority);
    return buf;
}

const char *fl_why_order_name(int order, char *buf, size_t n) {
    if (order == 500)
        snprintf(buf, n, "mkBefore");
    else if (order == 1000)
        snprintf(buf, n, "plain");
    else if (order == 1500)
        snprintf(buf, n, "mkAfter");
    else
        snprintf(buf, n, "mkOrder %d", order);
    return buf;
}
