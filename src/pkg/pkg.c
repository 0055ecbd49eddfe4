/* pkg.c - the package managers by name, what a profile declares for one of them, the plan
 * (declared vs installed vs owned) and the ownership record. Pure apart from the record's
 * files and the detection's stat calls; never runs a manager (apt.c and cmdline.c do). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/pkg.h"

static const char *const manager_names[] = {"none", "apt", "dnf", "pacman", "brew"};

const char *fl_pkg_manager_name(fl_pkg_manager m) {
    return (unsigned)m < sizeof manager_names / sizeof *manager_names ? manager_names[m] : "none";
}

fl_pkg_manager fl_pkg_manager_parse(const char *name) {
    for (int m = FL_PKG_APT; name && m <= FL_PKG_BREW; m++)
        if (!strcmp(name, manager_names[m]))
            return (fl_pkg_manager)m;
    return FL_PKG_NONE;
}

static int root_has(const char *root, const char *rel) {
    char *p = fl_path_join(root, rel);
    int r = fl_path_exists(p);
    free(p);
    return r;
}

fl_pkg_manager fl_pkg_detect(const char *root) {
    if (root_has(root, "var/lib/dpkg/status"))
        return FL_PKG_APT;
    if (root_has(root, "var/lib/rpm") || root_has(root, "usr/lib/sysimage/rpm"))
        return FL_PKG_DNF;
    if (root_has(root, "var/lib/pacman/local"))
        return FL_PKG_PACMAN;
    return FL_PKG_NONE;
}

fl_pkg_manager fl_pkg_profile_manager(const json_t *profile, const char *root) {
    const json_t *pm = json_object_get(profile, "packageManager");
    if (json_is_string(pm))
        return fl_pkg_manager_parse(json_string_value(pm));
    if (!root)
        return FL_PKG_APT;
    return fl_pkg_detect(root);
}

int fl_pkg_name_valid(const char *name) {
    if (!name || !*name || *name == '-')
        return 0;
    for (const char *c = name; *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@+._:=~/<>-",
                    *c))
            return 0;
    return 1;
}

/* The package's name alone: what precedes each manager's version syntax (apt "=", pacman's
 * comparisons; brew's "@" and dnf's "-1.2" are part of the name they know it by). */
static char *base_name(fl_pkg_manager m, const char *spec) {
    size_t n = strlen(spec);
    if (m == FL_PKG_APT)
        n = strcspn(spec, "=");
    else if (m == FL_PKG_PACMAN)
        n = strcspn(spec, "<>=");
    /* apt's "name:arch" stays: dpkg lists foreign-architecture packages that way. */
    return fl_xstrndup(spec, n);
}

int fl_pkg_decls_from_profile(const json_t *profile, fl_pkg_manager m, fl_pkg_decls *out,
                              fl_strbuf *unavailable, int *nunavailable, fl_error *err) {
    memset(out, 0, sizeof *out);
    if (nunavailable)
        *nunavailable = 0;
    const json_t *list = json_object_get(profile, "nativePackages");
    size_t i;
    json_t *v;
    out->d = fl_xcalloc(json_array_size(list) + 1, sizeof *out->d);
    json_array_foreach((json_t *)list, i, v) {
        const char *attr = json_string_value(json_object_get(v, "name"));
        const char *at = json_string_value(json_object_get(v, "declaredAt"));
        const char *spec = json_string_value(json_object_get(v, fl_pkg_manager_name(m)));
        if (!attr)
            attr = "?";
        if (!spec) {
            if (unavailable)
                fl_strbuf_addf(unavailable, "  %s (declared at %s) has no %s package\n", attr,
                               at ? at : "?", fl_pkg_manager_name(m));
            if (nunavailable)
                (*nunavailable)++;
            continue;
        }
        if (!fl_pkg_name_valid(spec)) {
            fl_pkg_decls_release(out);
            return fl_error_set(err, FL_EPARSE,
                                "package %s (declared at %s): %s name '%s' is not a package "
                                "name",
                                attr, at ? at : "?", fl_pkg_manager_name(m), spec);
        }
        int dup = 0;
        for (size_t k = 0; k < out->n && !dup; k++)
            dup = !strcmp(out->d[k].spec, spec);
        if (dup)
            continue;
        fl_pkg_decl *d = &out->d[out->n++];
        d->attr = fl_xstrdup(attr);
        d->spec = fl_xstrdup(spec);
        d->name = base_name(m, spec);
        d->declared_at = fl_xstrdup(at ? at : "?");
    }
    return FL_OK;
}

void fl_pkg_decls_release(fl_pkg_decls *ds) {
    for (size_t i = 0; i < ds->n; i++) {
        free(ds->d[i].attr);
        free(ds->d[i].spec);
        free(ds->d[i].name);
        free(ds->d[i].declared_at);
    }
    free(ds->d);
    memset(ds, 0, sizeof *ds);
}

/* ---- the plan ---- */

static fl_pkg_action *add_action(fl_pkg_plan *p, int action, const char *name, const char *spec,
                                 const char *version, int since) {
    p->a = fl_xrealloc(p->a, (p->n + 1) * sizeof *p->a);
    fl_pkg_action *a = &p->a[p->n++];
    a->action = action;
    a->name = fl_xstrdup(name);
    a->spec = fl_xstrdup(spec);
    a->version = version ? fl_xstrdup(version) : NULL;
    a->since = since;
    if (action == FL_PKG_INSTALL)
        p->ninstall++;
    else if (action == FL_PKG_REMOVE)
        p->nremove++;
    return a;
}

static int owned_since(const json_t *owned, const char *name) {
    const json_t *o = json_object_get(owned, name);
    return o ? (int)json_integer_value(json_object_get(o, "generation")) : -1;
}

void fl_pkg_plan_make(fl_pkg_plan *p, fl_pkg_manager m, const fl_pkg_decls *want,
                      const fl_pkg_db *db, const json_t *owned) {
    memset(p, 0, sizeof *p);
    p->manager = m;
    p->owned = owned ? json_deep_copy(owned) : json_object();
    for (size_t i = 0; i < want->n; i++) {
        const fl_pkg_decl *d = &want->d[i];
        const fl_pkg_installed *have = fl_pkg_db_find(db, d->name);
        int since = owned_since(owned, d->name);
        /* A pinned version that differs from the installed one is an install too. */
        const char *eq = m == FL_PKG_APT ? strchr(d->spec, '=') : NULL;
        int pinned_other = have && eq && strcmp(eq + 1, have->version ? have->version : "");
        if (!have || have->broken || pinned_other)
            add_action(p, FL_PKG_INSTALL, d->name, d->spec, have ? have->version : NULL,
                       since > 0 ? since : 0);
        else
            add_action(p, since >= 0 ? FL_PKG_KEEP_OURS : FL_PKG_KEEP_FOREIGN, d->name, d->spec,
                       have->version, since > 0 ? since : 0);
    }
    const char *name;
    json_t *o;
    json_object_foreach((json_t *)owned, name, o) {
        int declared = 0;
        for (size_t i = 0; i < want->n && !declared; i++)
            declared = !strcmp(want->d[i].name, name);
        const fl_pkg_installed *have = fl_pkg_db_find(db, name);
        if (!declared && have)
            add_action(p, FL_PKG_REMOVE, name, name, have->version,
                       (int)json_integer_value(json_object_get(o, "generation")));
    }
}

void fl_pkg_plan_release(fl_pkg_plan *p) {
    for (size_t i = 0; i < p->n; i++) {
        free(p->a[i].name);
        free(p->a[i].spec);
        free(p->a[i].version);
    }
    free(p->a);
    json_decref(p->owned);
    memset(p, 0, sizeof *p);
}

void fl_pkg_plan_print(const fl_pkg_plan *p, FILE *out, int all) {
    const char *mgr = fl_pkg_manager_name(p->manager);
    for (size_t i = 0; i < p->n; i++) {
        const fl_pkg_action *a = &p->a[i];
        switch (a->action) {
        case FL_PKG_INSTALL:
            fprintf(out, "    + %s%s%s (%s)\n", a->spec, a->version ? " " : "",
                    a->version ? a->version : "", mgr);
            break;
        case FL_PKG_REMOVE:
            if (a->since > 0)
                fprintf(out, "    - %s %s (installed by flakectl in generation %d)\n", a->name,
                        a->version ? a->version : "", a->since);
            else
                fprintf(out, "    - %s %s (installed by flakectl)\n", a->name,
                        a->version ? a->version : "");
            break;
        case FL_PKG_KEEP_OURS:
            if (all)
                fprintf(out, "    = %s %s (installed by flakectl)\n", a->name,
                        a->version ? a->version : "");
            break;
        default:
            if (all)
                fprintf(out, "    = %s %s (already installed, not ours)\n", a->name,
                        a->version ? a->version : "");
        }
    }
}

/* ---- the ownership record ---- */

static char *record_path(const char *state_dir, const char *file) {
    return fl_xasprintf("%s/packages/%s", state_dir, file);
}

int fl_pkg_record_load(const char *state_dir, json_t **rec, fl_error *err) {
    char *path = record_path(state_dir, "owned.json");
    char *data = NULL;
    size_t len = 0;
    *rec = NULL;
    int rc = FL_OK;
    if (fl_path_exists(path)) {
        rc = fl_read_file(path, &data, &len, err);
        if (!rc) {
            json_error_t je;
            *rec = json_loadb(data, len, 0, &je);
            if (!json_is_object(*rec)) {
                json_decref(*rec);
                *rec = NULL;
                rc = fl_error_set(err, FL_EPARSE, "%s: %s", path,
                                  je.text[0] ? je.text : "not a JSON object");
                fl_error_set_hint(err, "it records the packages flakectl installed; restore "
                                       "it from packages/generation-N.json");
            }
        }
    }
    if (!rc && !*rec)
        *rec = json_pack("{s:i, s:{}}", "version", 1, "owned");
    if (!rc && !json_is_object(json_object_get(*rec, "owned")))
        json_object_set_new(*rec, "owned", json_object());
    free(data);
    free(path);
    return rc;
}

int fl_pkg_record_save(const char *state_dir, const json_t *rec, fl_error *err) {
    char *dir = fl_xasprintf("%s/packages", state_dir);
    char *path = record_path(state_dir, "owned.json");
    char *text = json_dumps(rec, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc = fl_mkdir_p(dir, 0755, err);
    if (!rc)
        rc = fl_atomic_write_file(path, text, strlen(text), 0644, err);
    free(text);
    free(path);
    free(dir);
    return rc;
}
