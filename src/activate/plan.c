/* plan.c - what an activation would change, computed without changing anything: files,
 * users and groups, units, secrets, packages and scripts; printed the way dry-activate and
 * `flakectl diff` show it. Reads the root and the state dir; never writes either. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activate/internal.h"
#include "flakectl/pkg.h"
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
        fl_act_units_reinstalled(&p->units, &p->files, NULL);
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

static json_t *package_entry(const char *change, const char *name, int native) {
    json_t *o = json_object();
    json_object_set_new(o, "change", json_string(change));
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "native", json_boolean(native));
    return o;
}

/* native: also compare native packages by name (`diff`; with a root the packages step prints
 * the manager's own plan instead). */
static json_t *packages_json(const fl_toplevel *a, const fl_toplevel *b, int native) {
    const json_t *pa = json_object_get(a->profile, "packages");
    const json_t *pb = json_object_get(b->profile, "packages");
    json_t *arr = json_array();
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)pb, i, v) {
        if (json_is_string(v) && !in_list(pa, json_string_value(v)))
            json_array_append_new(arr, package_entry("add", json_string_value(v), 0));
    }
    json_array_foreach((json_t *)pa, i, v) {
        if (json_is_string(v) && !in_list(pb, json_string_value(v)))
            json_array_append_new(arr, package_entry("remove", json_string_value(v), 0));
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
            if (!found)
                json_array_append_new(arr, package_entry(pass ? "remove" : "add", name, 1));
        }
    }
    return arr;
}

static void print_packages(const json_t *arr, FILE *out) {
    fputs("  packages:\n", out);
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)arr, i, v) {
        fprintf(out, "    %c %s%s\n", strcmp(fl_act_jstr(v, "change", ""), "add") ? '-' : '+',
                fl_act_jstr(v, "name", "?"),
                json_is_true(json_object_get(v, "native")) ? " (native package)" : "");
    }
    if (!json_array_size(arr))
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
static json_t *secrets_json(const fl_toplevel *a, const fl_toplevel *b) {
    json_t *arr = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(b->secrets, i, v) {
        const char *n = fl_act_jstr(v, "name", "?");
        const json_t *o = secret_named(a->secrets, n);
        if (o && json_equal((json_t *)o, v))
            continue;
        json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:s}", "change", o ? "update" : "add",
                                             "name", n, "template", 0, "path",
                                             fl_act_jstr(v, "path", "?")));
    }
    json_array_foreach(a->secrets, i, v) {
        const char *n = fl_act_jstr(v, "name", "?");
        if (!secret_named(b->secrets, n))
            json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:n}", "change", "remove",
                                                 "name", n, "template", 0, "path"));
    }
    return arr;
}

/* One line of the account plan ("+ user bob (uid 1001, ...)") as {change, text}. */
static void add_account_line(json_t *arr, const char *line, size_t n) {
    const char *change = "warning";
    if (n >= 2 && line[1] == ' ') {
        change = line[0] == '+' ? "add" : line[0] == '-' ? "remove" : line[0] == '~' ? "update"
                                                                                    : change;
        line += 2;
        n -= 2;
    }
    json_t *o = json_object();
    json_object_set_new(o, "change", json_string(change));
    json_object_set_new(o, "text", json_stringn(line, n));
    json_array_append_new(arr, o);
}

/* Users and groups between two profiles, field by field (diff and pure plans). */
static void accounts_between(const char *kind, const json_t *a, const json_t *b, json_t *arr) {
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)b, name, v) {
        const json_t *o = json_object_get(a, name);
        if (!o) {
            char *l = fl_xasprintf("+ %s %s", kind, name);
            add_account_line(arr, l, strlen(l));
            free(l);
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
            char *l = !strcmp(field, "hashedPassword")
                          ? fl_xasprintf("~ %s %s: hashedPassword changed", kind, name)
                          : fl_xasprintf("~ %s %s: %s %s -> %s", kind, name, field, os, ns);
            add_account_line(arr, l, strlen(l));
            free(l);
            free(os);
            free(ns);
        }
    }
    json_object_foreach((json_t *)a, name, v) {
        if (!json_object_get(b, name)) {
            char *l = fl_xasprintf("- %s %s", kind, name);
            add_account_line(arr, l, strlen(l));
            free(l);
        }
    }
}

/* The account changes of a plan (not macOS's, which dscl plans): the root's computed edit
 * when there is a root, else the comparison of the two profiles. */
static json_t *accounts_json(const fl_act_plan *p) {
    json_t *arr = json_array();
    if (p->users_done) {
        const char *s = p->users.changes.buf;
        while (s && *s) {
            const char *e = strchr(s, '\n');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            add_account_line(arr, s, n);
            s += n + (e ? 1 : 0);
        }
    } else {
        accounts_between("user", json_object_get(p->old->profile, "users"),
                         json_object_get(p->new->profile, "users"), arr);
        accounts_between("group", json_object_get(p->old->profile, "groups"),
                         json_object_get(p->new->profile, "groups"), arr);
    }
    return arr;
}

static void print_accounts(const json_t *arr, FILE *out) {
    static const struct {
        const char *change;
        char mark;
    } marks[] = {{"add", '+'}, {"remove", '-'}, {"update", '~'}};
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)arr, i, v) {
        char mark = '!';
        for (size_t k = 0; k < 3; k++)
            if (!strcmp(fl_act_jstr(v, "change", ""), marks[k].change))
                mark = marks[k].mark;
        fprintf(out, "    %c %s\n", mark, fl_act_jstr(v, "text", ""));
    }
    if (!json_array_size(arr))
        fputs("    (no change)\n", out);
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
    } else {
        json_t *acc = accounts_json(p);
        print_accounts(acc, out);
        json_decref(acc);
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
    if (p->sec) {
        fl_act_secrets_print(p, out);
    } else {
        fputs("  secrets (names only):\n", out);
        json_t *sec = secrets_json(p->old, p->new);
        fl_act_secrets_print_entries(sec, out);
        json_decref(sec);
    }
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
    fl_act_user_units_print(p->old, p->new, p->root ? &p->files : NULL, out);
packages:;
    json_t *pk = packages_json(p->old, p->new, p->root == NULL);
    print_packages(pk, out);
    json_decref(pk);
    fl_act_wsl_print(p, out);
    if (p->root)
        print_scripts(p->new, out);
    if (p->files.nconflicts) {
        fprintf(out, "  conflicts (%d): activation would stop before changing anything:\n%s",
                p->files.nconflicts, p->files.conflicts.buf);
    }
}

/* Conflicts are kept as the lines the text plan shows ("PATH: why"). */
static json_t *conflicts_json(const fl_act_fileplan *fp) {
    json_t *arr = json_array();
    const char *s = fp->conflicts.buf;
    while (s && *s) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        while (n && *s == ' ') {
            s++;
            n--;
        }
        if (n)
            json_array_append_new(arr, json_stringn(s, n));
        s += n + (e ? 1 : 0);
    }
    return arr;
}

json_t *fl_act_plan_json(const fl_act_plan *p, int diffs) {
    json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "from", p->old->path ? json_string(p->old->path) : json_null());
    json_object_set_new(o, "to", json_string(p->new->path));
    json_object_set_new(o, "root", p->root ? json_string(p->root) : json_null());
    json_object_set_new(o, "accounts", p->dar && p->root ? json_null() : accounts_json(p));
    json_t *files = fl_act_files_json(&p->files, 0, diffs);
    json_t *home_files = fl_act_files_json(&p->files, 1, diffs);
    json_array_extend(files, home_files);
    json_decref(home_files);
    json_object_set_new(o, "files", files);
    json_object_set_new(o, "homes", p->homes ? json_deep_copy(p->homes) : json_array());
    json_object_set_new(o, "secrets", p->sec ? fl_act_secrets_json(p) : secrets_json(p->old, p->new));
    if (p->dar) {
        json_object_set_new(o, "units", json_null());
        json_object_set_new(o, "daemonReload", json_false());
    } else {
        json_object_set_new(o, "units", fl_act_units_json(&p->units));
        json_object_set_new(o, "daemonReload", json_boolean(p->units.daemon_reload));
    }
    json_object_set_new(o, "packages", packages_json(p->old, p->new, p->root == NULL));
    json_t *scripts = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(p->root ? json_object_get(p->new->profile, "activationScripts") : NULL, i, v)
        json_array_append_new(scripts, json_pack("{s:s, s:s}", "name", fl_act_jstr(v, "name", "?"),
                                                 "file", fl_act_jstr(v, "file", "?")));
    json_object_set_new(o, "scripts", scripts);
    json_object_set_new(o, "conflicts", conflicts_json(&p->files));
    json_object_set_new(o, "userUnits", fl_act_user_units_json(p->old, p->new, p->root ? &p->files : NULL));
    json_object_set_new(o, "darwin", fl_act_darwin_json(p));
    json_object_set_new(o, "homebrew", fl_act_is_darwin(p->new)
                                           ? fl_pkg_brew_plan_json(p->new->profile, p->new->path)
                                           : json_null());
    json_object_set_new(o, "wsl", fl_act_wsl_json(p));
    return o;
}

json_t *fl_activate_diff_json(const fl_toplevel *a, const fl_toplevel *b, fl_error *err) {
    fl_act_plan p;
    if (fl_act_plan_make(&p, NULL, NULL, a, b, NULL, NULL, NULL, err)) {
        fl_act_plan_release(&p);
        return NULL;
    }
    json_t *o = fl_act_plan_json(&p, 1);
    fl_act_plan_release(&p);
    return o;
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
