/* secrets.c - the secrets step of activation: plans it (decrypts in memory, before anything
 * changes, so an undecryptable secret stops the switch), folds the restartUnits/reloadUnits
 * of changed secrets into the unit plan, prints it (names only, never content) and applies
 * it through src/secret/install.c. Never writes or prints plaintext itself. */
#include <stdlib.h>
#include <string.h>

#include "activate/internal.h"
#include "flakectl/secret.h"

typedef struct fl_act_secrets {
    fl_secret_set now, old;
    char **rules; /* owned rule texts the unit plan points at */
    size_t nrules;
} fl_act_secrets;

void fl_act_secrets_free(fl_act_secrets *s) {
    if (!s)
        return;
    fl_secret_set_release(&s->now);
    fl_secret_set_release(&s->old);
    for (size_t i = 0; i < s->nrules; i++)
        free(s->rules[i]);
    free(s->rules);
    free(s);
}

static const json_t *entry_of(const fl_toplevel *t, size_t i) {
    size_t ns = json_array_size(t->secrets);
    return i < ns ? json_array_get(t->secrets, i)
                  : json_array_get(json_object_get(t->profile, "secretTemplates"), i - ns);
}

static const fl_secret_item *old_named(const fl_secret_set *s, const fl_secret_item *it) {
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].is_template == it->is_template && !strcmp(s->v[i].name, it->name))
            return &s->v[i];
    return NULL;
}

/* Why a unit acts because of this secret, or NULL when its plaintext is the same. Without
 * the plaintext (dry-activate where the keys are unreadable) the encrypted file decides. */
static const char *why(const fl_act_secrets *s, const fl_secret_item *it) {
    if (it->state == FL_SECRET_CHANGED || it->state == FL_SECRET_ADDED)
        return "changed";
    if (it->state == FL_SECRET_UNKNOWN) {
        const fl_secret_item *o = old_named(&s->old, it);
        if (!o || strcmp(o->file, it->file))
            return "may have changed (not decrypted here)";
    }
    return NULL;
}

static fl_act_unit_action *find_unit(fl_act_unitplan *u, const char *name) {
    for (size_t i = 0; i < u->n; i++)
        if (!strcmp(u->a[i].name, name))
            return &u->a[i];
    return NULL;
}

static int owned_rule(const fl_act_secrets *s, const char *rule) {
    for (size_t i = 0; i < s->nrules; i++)
        if (s->rules[i] == rule)
            return 1;
    return 0;
}

static int cmp_action(const void *a, const void *b) {
    const fl_act_unit_action *x = a, *y = b;
    return x->action != y->action ? x->action - y->action : strcmp(x->name, y->name);
}

/* Why a unit asked to restart by a secret is not, as switch-to-configuration treats the units
 * an activation asks it to restart (sops-nix's restartUnits) and a changed unit alike:
 * restartIfChanged = false (X-RestartIfChanged), RefuseManualStop (systemd refuses the stop)
 * and X-OnlyManualStart leave it running. NULL: it may be restarted. */
static const char *restart_refused(const json_t *unit) {
    if (json_is_false(json_object_get(unit, "restartIfChanged")))
        return "restartIfChanged = false";
    if (json_is_true(json_object_get(unit, "refuseManualStop")))
        return "RefuseManualStop = true";
    if (json_is_true(json_object_get(unit, "onlyManualStart")))
        return "X-OnlyManualStart = true";
    return NULL;
}

/* Every secret is swapped before any unit is touched (the secrets step runs before the
 * units step), so each unit appears once: a unit that restarts anyway keeps its own rule;
 * one listed by several changed secrets names them all. A restart asked of a unit with
 * reloadIfChanged = true is a reload; of one that refuses restarts (restart_refused), none. */
static void fold_units(fl_act_plan *p, fl_act_secrets *s) {
    fl_act_unitplan *u = &p->units;
    const json_t *units = json_object_get(p->new->profile, "units");
    for (int pass = 0; pass < 2; pass++) {
        const char *key = pass ? "reloadUnits" : "restartUnits";
        for (size_t i = 0; i < s->now.n; i++) {
            const fl_secret_item *it = &s->now.v[i];
            const char *w = why(s, it);
            if (!w)
                continue;
            const char *kind = it->is_template ? "template" : "secret";
            size_t k;
            json_t *v;
            json_array_foreach(json_object_get(entry_of(p->new, i), key), k, v) {
                if (!json_is_string(v))
                    continue;
                const char *unit = json_string_value(v);
                const json_t *decl = json_object_get(units, unit);
                int action = pass ? FL_U_RELOAD : FL_U_RESTART;
                const char *note = "";
                if (action == FL_U_RESTART &&
                    json_is_true(json_object_get(decl, "reloadIfChanged"))) {
                    action = FL_U_RELOAD;
                    note = "; reloadIfChanged = true: reloaded, not restarted";
                }
                const char *refused = action == FL_U_RESTART ? restart_refused(decl) : NULL;
                fl_act_unit_action *a = find_unit(u, unit);
                char *rule;
                if (refused && a) {
                    continue; /* its own rule stands */
                } else if (refused) {
                    u->a = fl_xrealloc(u->a, (u->n + 1) * sizeof *u->a);
                    a = &u->a[u->n++];
                    a->action = FL_U_KEEP;
                    a->name = unit;
                    rule =
                        fl_xasprintf("%s %s %s, but %s: not restarted", kind, it->name, w, refused);
                } else if (a && owned_rule(s, a->rule)) {
                    /* Already acted on for another secret: name this one too. */
                    if (a->action == FL_U_RELOAD && action == FL_U_RESTART)
                        a->action = FL_U_RESTART;
                    rule = fl_xasprintf("%s; %s %s %s%s", a->rule, kind, it->name, w, note);
                } else if (a && (a->action == FL_U_RELOAD || a->action == FL_U_KEEP) &&
                           action == FL_U_RESTART) {
                    a->action = FL_U_RESTART;
                    rule = fl_xasprintf("%s %s %s", kind, it->name, w);
                } else if (a) {
                    continue; /* stops, starts or restarts anyway: once is enough */
                } else {
                    u->a = fl_xrealloc(u->a, (u->n + 1) * sizeof *u->a);
                    a = &u->a[u->n++];
                    a->action = action;
                    a->name = unit;
                    rule = fl_xasprintf("%s %s %s%s", kind, it->name, w, note);
                }
                s->rules = fl_xrealloc(s->rules, (s->nrules + 1) * sizeof(char *));
                s->rules[s->nrules++] = rule;
                a->rule = rule;
            }
        }
    }
    if (u->n)
        qsort(u->a, u->n, sizeof *u->a, cmp_action);
}

static int plan_sets(fl_act_secrets *s, const char *root, const fl_toplevel *old,
                     const fl_toplevel *t, fl_error *err) {
    int rc = fl_secret_set_prepare(&s->now, root, t->secrets,
                                   json_object_get(t->profile, "secretTemplates"),
                                   json_object_get(t->profile, "identityPaths"), err);
    if (rc) {
        fl_error_add_frame(err, "while reading the secrets of %s", t->path);
        return rc;
    }
    /* The previous generation's declarations only: which links it made. */
    fl_error e = FL_ERROR_INIT;
    if (old && fl_secret_set_declare(&s->old, root, old->secrets,
                                     json_object_get(old->profile, "secretTemplates"), &e))
        fl_secret_set_release(&s->old);
    fl_error_clear(&e);
    return FL_OK;
}

int fl_act_secrets_plan(fl_act_plan *p, int dry, fl_error *err) {
    fl_act_secrets *s = fl_xcalloc(1, sizeof *s);
    p->sec = s;
    int rc = plan_sets(s, p->root, p->old, p->new, err);
    if (!rc && !dry)
        rc = fl_secret_set_require(&s->now, err);
    if (!rc && !dry)
        rc = fl_secret_set_check_paths(&s->now, err);
    if (!rc)
        fold_units(p, s);
    return rc;
}

int fl_act_secrets_apply(fl_act_plan *p, const char *root, const fl_toplevel *t, FILE *out,
                         fl_error *err) {
    int rc = FL_OK;
    if (!p->sec) {
        /* A restore: the plan was made without secrets; decrypt the generation put back. */
        p->sec = fl_xcalloc(1, sizeof *p->sec);
        rc = plan_sets(p->sec, root, p->old, t, err);
    }
    if (!rc)
        rc = fl_secret_set_install(&p->sec->now, &p->sec->old, out, err);
    return rc;
}

static const json_t *json_named(const json_t *arr, const char *name) {
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)arr, i, v) {
        const json_t *n = json_object_get(v, "name");
        if (json_is_string(n) && !strcmp(json_string_value(n), name))
            return v;
    }
    return NULL;
}

static json_t *secret_entry(const char *change, const fl_secret_item *it, const char *path) {
    json_t *o = json_object();
    json_object_set_new(o, "change", json_string(change));
    json_object_set_new(o, "name", json_string(it->name));
    json_object_set_new(o, "template", json_boolean(it->is_template));
    json_object_set_new(o, "path", path ? json_string(path) : json_null());
    return o;
}

json_t *fl_act_secrets_json(const fl_act_plan *p) {
    const fl_act_secrets *s = p->sec;
    json_t *arr = json_array();
    for (size_t i = 0; i < s->now.n; i++) {
        const fl_secret_item *it = &s->now.v[i];
        const json_t *o = json_named(
            it->is_template ? json_object_get(p->old->profile, "secretTemplates") : p->old->secrets,
            it->name);
        const json_t *n = entry_of(p->new, i);
        json_t *e;
        if (it->error) {
            e = secret_entry(o ? "update" : "add", it, it->path);
            json_object_set_new(e, "error", json_string(it->error));
        } else if (it->state == FL_SECRET_ADDED) {
            e = secret_entry("add", it, it->path);
        } else if (it->state == FL_SECRET_CHANGED) {
            e = secret_entry("update", it, it->path);
            json_object_set_new(e, "content", json_string("changed"));
        } else if (o && !json_equal((json_t *)o, (json_t *)n)) {
            e = secret_entry("update", it, it->path);
            json_object_set_new(e, "content", json_string("unchanged"));
        } else {
            continue;
        }
        json_array_append_new(arr, e);
    }
    for (size_t i = 0; i < s->old.n; i++) {
        const fl_secret_item *it = &s->old.v[i];
        if (!old_named(&s->now, it))
            json_array_append_new(arr, secret_entry("remove", it, NULL));
    }
    return arr;
}

void fl_act_secrets_print_entries(const json_t *arr, FILE *out) {
    size_t i;
    json_t *e;
    json_array_foreach((json_t *)arr, i, e) {
        const char *change = fl_act_jstr(e, "change", ""), *name = fl_act_jstr(e, "name", "?");
        const char *path = fl_act_jstr(e, "path", "?"), *content = fl_act_jstr(e, "content", NULL);
        const char *kind = json_is_true(json_object_get(e, "template")) ? "template " : "";
        if (json_object_get(e, "error"))
            fprintf(out, "    %c %s%s -> %s: cannot be decrypted here (%s); a switch would stop\n",
                    strcmp(change, "add") ? '!' : '+', kind, name, path,
                    fl_act_jstr(e, "error", ""));
        else if (!strcmp(change, "add"))
            fprintf(out, "    + %s%s -> %s\n", kind, name, path);
        else if (!strcmp(change, "update"))
            fprintf(out, "    ~ %s%s -> %s%s%s%s\n", kind, name, path, content ? " (content " : "",
                    content ? content : "", content ? ")" : "");
        else
            fprintf(out, "    - %s%s\n", kind, name);
    }
    if (!json_array_size(arr))
        fputs("    (no change)\n", out);
}

void fl_act_secrets_print(const fl_act_plan *p, FILE *out) {
    fputs("  secrets (names only, never content):\n", out);
    json_t *arr = fl_act_secrets_json(p);
    fl_act_secrets_print_entries(arr, out);
    json_decref(arr);
}
