/* plan.c - what an activation would change, computed without changing anything: files,
 * users and groups, units, secrets, packages and scripts; printed the way dry-activate and
 * `flakectl diff` show it. Reads the root and the state dir; never writes either. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activate/internal.h"
#include "flakectl/fs.h"

/* The root's passwd, group or shadow ("" when absent), read without following a link: one
 * planted there (shadow -> a file elsewhere) stops the plan instead of being read. */
static int read_or_empty(const char *root, const char *rel, char **out, fl_error *err) {
    size_t len;
    fl_error e = FL_ERROR_INIT;
    int rc = fl_act_root_read(root, rel, out, &len, NULL, &e);
    if (rc == FL_ENOTFOUND) {
        *out = fl_xstrdup("");
        rc = FL_OK;
    } else if (rc) {
        *out = NULL;
        fl_error_move(err, &e);
    }
    fl_error_clear(&e);
    return rc;
}

int fl_act_plan_make(fl_act_plan *p, const char *root, const char *state_dir,
                     const fl_toplevel *old, const fl_toplevel *new, const json_t *had_json,
                     const json_t *created, const char *backup_ext, fl_error *err) {
    memset(p, 0, sizeof *p);
    p->root = root;
    p->old = old;
    p->new = new;
    int rc = fl_act_desired(new, &p->want, err);
    if (rc)
        return rc;
    if (had_json) {
        fl_act_entries_from_json(had_json, &p->had);
    } else {
        rc = fl_act_desired(old, &p->had, err);
        if (rc)
            return rc;
    }
    fl_act_files_plan(root, &p->want, &p->had, backup_ext, &p->files);
    fl_act_units_plan(json_object_get(old->profile, "units"),
                      json_object_get(new->profile, "units"), &p->units);
    if (root)
        fl_act_units_reinstalled(&p->units, &p->files);
    if (fl_act_is_darwin(new)) {
        /* macOS keeps accounts in its directory service: dscl, never /etc/passwd. */
        rc = fl_act_darwin_plan(p, err);
        if (rc)
            return rc;
    }
    if (!root)
        return FL_OK;
    p->homes = fl_act_homes_plan(root, json_object_get(new->profile, "users"), &p->files);
    rc = read_or_empty(root, "/etc/passwd", &p->passwd, err);
    if (!rc)
        rc = read_or_empty(root, "/etc/group", &p->group, err);
    if (!rc)
        rc = read_or_empty(root, "/etc/shadow", &p->shadow, err);
    /* Where `current` and the secrets go: a link planted there stops the plan, before
     * anything changes, instead of the step that would write through it. */
    if (!rc)
        rc = fl_act_root_check_dir(root, "/run/flakectl/secrets.d", err);
    if (rc)
        return rc;
    char *ids_path = fl_path_join(state_dir, "activation/ids.json");
    rc = fl_act_load_json(ids_path, &p->ids, err);
    free(ids_path);
    if (rc)
        return rc;
    if (!p->ids)
        p->ids = json_object();
    p->created = created ? json_deep_copy(created) : json_object();
    if (p->dar) {
        /* dscl did the accounts (darwin.c): /etc/passwd is never edited, the record kept. */
        p->users.new_created = json_incref(p->created);
        return FL_OK;
    }
    p->users.users = json_object_get(new->profile, "users");
    p->users.groups = json_object_get(new->profile, "groups");
    p->users.passwd = p->passwd;
    p->users.group = p->group;
    p->users.shadow = p->shadow;
    p->users.ids = p->ids;
    p->users.created = p->created;
    p->users.today = (long)(time(NULL) / 86400);
    rc = fl_users_compute(&p->users, err);
    if (rc) {
        fl_error_add_frame(err, "while planning users and groups of %s", new->path);
        return rc;
    }
    p->users_done = 1;
    return FL_OK;
}

void fl_act_plan_release(fl_act_plan *p) {
    fl_act_entries_free(&p->want);
    fl_act_entries_free(&p->had);
    fl_act_fileplan_free(&p->files);
    if (p->users_done || p->users.ops)
        fl_users_edit_release(&p->users);
    else
        json_decref(p->users.new_created);
    free(p->passwd);
    free(p->group);
    free(p->shadow);
    json_decref(p->ids);
    json_decref(p->created);
    json_decref(p->homes);
    free(p->units.a);
    fl_act_secrets_free(p->sec);
    fl_act_darwin_free(p->dar);
    memset(p, 0, sizeof *p);
}

static int in_list(const json_t *arr, const char *s) {
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)arr, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), s))
            return 1;
    }
    return 0;
}

/* native: also compare native packages by name (`diff`; with a root the packages step prints
 * the manager's own plan instead). */
static void print_packages(const fl_toplevel *a, const fl_toplevel *b, int native, FILE *out) {
    const json_t *pa = json_object_get(a->profile, "packages");
    const json_t *pb = json_object_get(b->profile, "packages");
    int any = 0;
    size_t i;
    json_t *v;
    fputs("  packages:\n", out);
    json_array_foreach((json_t *)pb, i, v) {
        if (json_is_string(v) && !in_list(pa, json_string_value(v))) {
            fprintf(out, "    + %s\n", json_string_value(v));
            any = 1;
        }
    }
    json_array_foreach((json_t *)pa, i, v) {
        if (json_is_string(v) && !in_list(pb, json_string_value(v))) {
            fprintf(out, "    - %s\n", json_string_value(v));
            any = 1;
        }
    }
    /* Native packages by their index name; the manager's plan with versions comes from the
     * packages step (dry-activate), this is the pure comparison `diff` can make. */
    const json_t *na = json_object_get(a->profile, "nativePackages");
    const json_t *nb = json_object_get(b->profile, "nativePackages");
    for (int pass = 0; native && pass < 2; pass++) {
        const json_t *from = pass ? na : nb, *other = pass ? nb : na;
        json_array_foreach((json_t *)from, i, v) {
            const char *name = fl_act_jstr(v, "name", "?");
            int found = 0;
            size_t k;
            json_t *w;
            json_array_foreach((json_t *)other, k, w) {
                found |= json_equal(v, w) || !strcmp(name, fl_act_jstr(w, "name", ""));
            }
            if (!found) {
                fprintf(out, "    %c %s (native package)\n", pass ? '-' : '+', name);
                any = 1;
            }
        }
    }
    if (!any)
        fputs("    (no change)\n", out);
}

static const json_t *secret_named(const json_t *arr, const char *name) {
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)arr, i, v) {
        const char *n = fl_act_jstr(v, "name", NULL);
        if (n && !strcmp(n, name))
            return v;
    }
    return NULL;
}

/* Names and targets only: a plan never shows secret content (decryption is issue 6's). */
static void print_secrets(const fl_toplevel *a, const fl_toplevel *b, FILE *out) {
    int any = 0;
    size_t i;
    json_t *v;
    fputs("  secrets (names only):\n", out);
    json_array_foreach(b->secrets, i, v) {
        const char *n = fl_act_jstr(v, "name", "?");
        const json_t *o = secret_named(a->secrets, n);
        if (!o)
            fprintf(out, "    + %s -> %s\n", n, fl_act_jstr(v, "path", "?"));
        else if (!json_equal((json_t *)o, v))
            fprintf(out, "    ~ %s -> %s\n", n, fl_act_jstr(v, "path", "?"));
        else
            continue;
        any = 1;
    }
    json_array_foreach(a->secrets, i, v) {
        const char *n = fl_act_jstr(v, "name", "?");
        if (!secret_named(b->secrets, n)) {
            fprintf(out, "    - %s\n", n);
            any = 1;
        }
    }
    if (!any)
        fputs("    (no change)\n", out);
}

/* Users and groups between two profiles, field by field (diff and pure plans). */
static void print_accounts(const char *kind, const json_t *a, const json_t *b, FILE *out) {
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)b, name, v) {
        const json_t *o = json_object_get(a, name);
        if (!o) {
            fprintf(out, "    + %s %s\n", kind, name);
            continue;
        }
        const char *field;
        json_t *fv;
        json_object_foreach(v, field, fv) {
            json_t *ov = json_object_get(o, field);
            if (ov && json_equal(ov, fv))
                continue;
            char *os = ov ? json_dumps(ov, JSON_ENCODE_ANY | JSON_COMPACT) : fl_xstrdup("unset");
            char *ns = json_dumps(fv, JSON_ENCODE_ANY | JSON_COMPACT);
            /* A password hash is a secret of sorts: say it changed, not what to. */
            if (!strcmp(field, "hashedPassword"))
                fprintf(out, "    ~ %s %s: hashedPassword changed\n", kind, name);
            else
                fprintf(out, "    ~ %s %s: %s %s -> %s\n", kind, name, field, os, ns);
            free(os);
            free(ns);
        }
    }
    json_object_foreach((json_t *)a, name, v) {
        if (!json_object_get(b, name))
            fprintf(out, "    - %s %s\n", kind, name);
    }
}

static void print_scripts(const fl_toplevel *t, FILE *out) {
    const json_t *s = json_object_get(t->profile, "activationScripts");
    fputs("  activation scripts that would run, in order:\n", out);
    if (!json_array_size(s))
        fputs("    (none)\n", out);
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)s, i, v) {
        fprintf(out, "    %zu. %s (%s)\n", i + 1, fl_act_jstr(v, "name", "?"),
                fl_act_jstr(v, "file", "?"));
    }
}

static int has_file_changes(const fl_act_fileplan *fp, int home) {
    for (size_t i = 0; i < fp->n; i++) {
        const fl_act_change *c = &fp->c[i];
        const fl_act_entry *e = c->want ? c->want : c->had;
        if (!!e->user != home)
            continue;
        if (c->action != FL_CH_NONE || (c->want && c->content_changed))
            return 1;
    }
    return 0;
}

void fl_act_plan_print(const fl_act_plan *p, FILE *out, int diffs) {
    fputs("  users and groups:\n", out);
    if (p->dar && p->root) {
        fl_act_darwin_print_users(p, out);
    } else if (p->users_done) {
        if (!p->users.nchanges)
            fputs("    (no change)\n", out);
        const char *s = p->users.changes.buf;
        while (s && *s) {
            const char *e = strchr(s, '\n');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            fprintf(out, "    %.*s\n", (int)n, s);
            s += n + (e ? 1 : 0);
        }
    } else {
        print_accounts("user", json_object_get(p->old->profile, "users"),
                       json_object_get(p->new->profile, "users"), out);
        print_accounts("group", json_object_get(p->old->profile, "groups"),
                       json_object_get(p->new->profile, "groups"), out);
    }
    fputs(p->dar ? "  /etc and launchd files:\n" : "  /etc and unit files:\n", out);
    if (!has_file_changes(&p->files, 0))
        fputs("    (no change)\n", out);
    fl_act_files_print(&p->files, 0, diffs, out);
    fputs("  home files:\n", out);
    if (!has_file_changes(&p->files, 1) && !json_array_size(p->homes))
        fputs("    (no change)\n", out);
    size_t hi;
    json_t *hv;
    json_array_foreach(p->homes, hi, hv) {
        fprintf(out, "    + %s/ (home of %s)\n", fl_act_jstr(hv, "home", "?"),
                fl_act_jstr(hv, "user", "?"));
    }
    fl_act_files_print(&p->files, 1, diffs, out);
    if (p->sec)
        fl_act_secrets_print(p, out);
    else
        print_secrets(p->old, p->new, out);
    if (p->dar) {
        fl_act_darwin_print(p, out);
        goto packages;
    }
    fputs("  systemd units", out);
    if (p->root)
        fprintf(out, " (%s)",
                fl_act_systemd_live(p->root) ? "would be executed"
                : strcmp(p->root, "/")       ? "not executed: the root is not /"
                                             : "not executed: systemd is not running");
    fputs(":\n", out);
    if (!p->units.n && !p->units.daemon_reload)
        fputs("    (no change)\n", out);
    fl_act_units_print(&p->units, out, "    ");
    fl_act_user_units_print(p->old, p->new, out);
packages:
    print_packages(p->old, p->new, p->root == NULL, out);
    fl_act_wsl_print(p, out);
    if (p->root)
        print_scripts(p->new, out);
    if (p->files.nconflicts) {
        fprintf(out, "  conflicts (%d): activation would stop before changing anything:\n%s",
                p->files.nconflicts, p->files.conflicts.buf);
    }
}

void fl_activate_print_diff(const fl_toplevel *a, const fl_toplevel *b, FILE *out) {
    fl_act_plan p;
    fl_error err = FL_ERROR_INIT;
    if (fl_act_plan_make(&p, NULL, NULL, a, b, NULL, NULL, NULL, &err)) {
        fl_error_print(&err, out);
        fl_error_clear(&err);
        fl_act_plan_release(&p);
        return;
    }
    fl_act_plan_print(&p, out, 1);
    fputs("  closure size: not compared yet (needs the store registry)\n", out);
    fl_act_plan_release(&p);
}
