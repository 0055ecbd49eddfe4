/* units.c - which systemd units to stop, start, restart or reload between two generations,
 * and doing it. The rules compare profile.json's restartHash/reloadHash (docs/toplevel.md);
 * what runs decides the rest, as switch-to-configuration does (docs/services.md): only a
 * running unit is restarted or reloaded, a stopped one starts only when a target wants it,
 * a masked one is left alone. A unit that does not come up fails the step with its journal.
 * Executes systemctl only when systemd runs and the root is "/"; under --root (or without
 * systemd) the plan is printed and nothing is executed. */
#define _GNU_SOURCE
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activate/internal.h"
#include "flakectl/fs.h"

static void add(fl_act_unitplan *p, int action, const char *name, const char *rule) {
    p->a = fl_xrealloc(p->a, (p->n + 1) * sizeof(fl_act_unit_action));
    p->a[p->n++] = (fl_act_unit_action){action, name, rule};
}

static int cmp_action(const void *a, const void *b) {
    const fl_act_unit_action *x = a, *y = b;
    if (x->action != y->action)
        return x->action - y->action;
    return strcmp(x->name, y->name);
}

static int str_eq(const char *a, const char *b) {
    return (!a && !b) || (a && b && !strcmp(a, b));
}

void fl_act_units_plan(const json_t *old_units, const json_t *new_units, fl_act_unitplan *p) {
    memset(p, 0, sizeof *p);
    p->units = new_units;
    const char *name;
    json_t *o, *n;
    json_object_foreach((json_t *)old_units, name, o) {
        if (!json_object_get(new_units, name)) {
            /* X-StopOnRemoval=false, as switch-to-configuration reads it from the old unit. */
            if (json_is_false(json_object_get(o, "stopOnRemoval")))
                add(p, FL_U_KEEP, name,
                    "removed from the configuration, but X-StopOnRemoval = false: left running");
            else
                add(p, FL_U_STOP, name, "removed from the configuration");
            p->daemon_reload = 1;
        }
    }
    json_object_foreach((json_t *)new_units, name, n) {
        o = json_object_get(old_units, name);
        if (!o) {
            add(p, FL_U_START, name, "added to the configuration");
            p->daemon_reload = 1;
            continue;
        }
        const char *orh = fl_act_jstr(o, "restartHash", NULL);
        const char *nrh = fl_act_jstr(n, "restartHash", NULL);
        const char *olh = fl_act_jstr(o, "reloadHash", NULL);
        const char *nlh = fl_act_jstr(n, "reloadHash", NULL);
        if (!str_eq(orh, nrh)) {
            p->daemon_reload = 1;
            /* restartIfChanged defaults to true, as in NixOS. */
            if (json_is_false(json_object_get(n, "restartIfChanged")))
                add(p, FL_U_KEEP, name, "restartHash changed, but restartIfChanged = false");
            else if (json_is_false(json_object_get(n, "stopIfChanged")))
                add(p, FL_U_RESTART, name,
                    "restartHash changed; stopIfChanged = false: restarted once the new unit "
                    "is loaded");
            else
                add(p, FL_U_RESTART, name, "restartHash changed (unit text or restartTriggers)");
        } else if (!str_eq(olh, nlh)) {
            add(p, FL_U_RELOAD, name, "only reloadHash changed (reloadTriggers)");
        }
    }
    if (p->n)
        qsort(p->a, p->n, sizeof *p->a, cmp_action);
}

const char *fl_act_system_unit_of(const char *path) {
    static const char prefix[] = "/etc/systemd/system/";
    size_t n = sizeof prefix - 1;
    if (strncmp(path, prefix, n) || !path[n] || strchr(path + n, '/'))
        return NULL;
    return path + n;
}

void fl_act_units_reinstalled(fl_act_unitplan *p, const fl_act_fileplan *files) {
    size_t before = p->n;
    for (size_t i = 0; i < files->n; i++) {
        const fl_act_change *c = &files->c[i];
        const char *name = c->want ? fl_act_system_unit_of(c->want->path) : NULL;
        if (c->action != FL_CH_ADD || !c->had || !name || c->conflicted)
            continue;
        void *it = json_object_iter_at((json_t *)p->units, name);
        int planned = 0;
        for (size_t k = 0; k < p->n; k++)
            planned |= !strcmp(p->a[k].name, name);
        if (!it || planned)
            continue;
        /* The name must outlive the plan: the new units' own key. */
        add(p, FL_U_START, json_object_iter_key(it),
            "its unit file was missing (unmasked or deleted since) and is installed again");
        p->daemon_reload = 1;
    }
    if (p->n != before)
        qsort(p->a, p->n, sizeof *p->a, cmp_action);
}

int fl_act_units_in_place(const char *root, const fl_toplevel *t) {
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(t->profile, "units"), name, v) {
        char *path = fl_xasprintf("/etc/systemd/system/%s", name);
        char *link = fl_act_root_readlink(root, path);
        free(path);
        if (!link)
            return 0;
        free(link);
    }
    return 1;
}

static const char *verb(int action) {
    switch (action) {
    case FL_U_STOP:
        return "stop";
    case FL_U_START:
        return "start";
    case FL_U_RESTART:
        return "restart";
    case FL_U_RELOAD:
        return "reload";
    default:
        return "keep";
    }
}

json_t *fl_act_units_json(const fl_act_unitplan *p) {
    json_t *arr = json_array();
    for (size_t i = 0; i < p->n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "action", verb(p->a[i].action),
                                             "name", p->a[i].name, "reason", p->a[i].rule));
    return arr;
}

void fl_act_units_print(const fl_act_unitplan *p, FILE *out, const char *indent) {
    for (size_t i = 0; i < p->n; i++)
        fprintf(out, "%s%-8s %s  (%s)\n", indent, verb(p->a[i].action), p->a[i].name, p->a[i].rule);
    if (p->daemon_reload)
        fprintf(out, "%sdaemon-reload  (unit files changed)\n", indent);
}

/* What systemd says about one unit (systemctl show). */
typedef struct ustate {
    char *load, *active, *sub, *result, *file;
} ustate;

static void ustates_free(ustate *st, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(st[i].load);
        free(st[i].active);
        free(st[i].sub);
        free(st[i].result);
        free(st[i].file);
    }
    free(st);
}

static void set_prop(ustate *u, const char *line) {
    static const char *keys[] = {
        "LoadState=", "ActiveState=", "SubState=", "Result=", "UnitFileState="};
    char **slots[] = {&u->load, &u->active, &u->sub, &u->result, &u->file};
    for (int k = 0; k < 5; k++) {
        size_t kl = strlen(keys[k]);
        if (!strncmp(line, keys[k], kl) && !*slots[k])
            *slots[k] = fl_xstrdup(line + kl);
    }
}

/* systemctl with args (NULL-terminated), for the system or, with --user, as the plan's user. */
static int sctl(const fl_act_unitplan *p, char *const args[], fl_strbuf *out, int *status,
                fl_error *err) {
    size_t n = 0;
    while (args[n])
        n++;
    char **argv = fl_xcalloc(n + 3, sizeof(char *));
    size_t k = 0;
    argv[k++] = "systemctl";
    if (p->user)
        argv[k++] = "--user";
    for (size_t i = 0; i < n; i++)
        argv[k++] = args[i];
    int rc = fl_act_run_as(argv, p->user, out, status, err);
    free(argv);
    return rc;
}

/* One `systemctl show` for all names: blocks separated by an empty line, in argument order. */
static int query(const fl_act_unitplan *p, const char *const *names, size_t n, ustate **out,
                 fl_error *err) {
    *out = fl_xcalloc(n ? n : 1, sizeof(ustate));
    if (!n)
        return FL_OK;
    char **argv = fl_xcalloc(n + 5, sizeof(char *));
    size_t k = 0;
    argv[k++] = "show";
    argv[k++] = "--property=LoadState,ActiveState,SubState,Result,UnitFileState";
    argv[k++] = "--";
    for (size_t i = 0; i < n; i++)
        argv[k++] = (char *)names[i];
    fl_strbuf sb;
    fl_strbuf_init(&sb, 256);
    int status = 0;
    int rc = sctl(p, argv, &sb, &status, err);
    free(argv);
    if (!rc && status)
        rc = fl_error_set(err, FL_EGENERIC, "systemctl%s show exited with %d",
                          p->user ? " --user" : "", status);
    size_t idx = 0;
    char *line = sb.buf;
    while (!rc && line && *line && idx < n) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!*line)
            idx++;
        else
            set_prop(&(*out)[idx], line);
        line = nl ? nl + 1 : NULL;
    }
    for (size_t i = 0; i < n; i++) {
        ustate *u = &(*out)[i];
        if (!u->load)
            u->load = fl_xstrdup("not-found");
        if (!u->active)
            u->active = fl_xstrdup("inactive");
        if (!u->sub)
            u->sub = fl_xstrdup("dead");
        if (!u->result)
            u->result = fl_xstrdup("success");
        if (!u->file)
            u->file = fl_xstrdup("");
    }
    fl_strbuf_release(&sb);
    return rc;
}

static int running(const ustate *u, int restore) {
    return !strcmp(u->active, "active") || !strcmp(u->active, "activating") ||
           !strcmp(u->active, "reloading") || (restore && !strcmp(u->active, "failed"));
}

static int failed(const ustate *u) {
    return !strcmp(u->active, "failed") ||
           (!strcmp(u->active, "activating") && !strcmp(u->sub, "auto-restart"));
}

/* A changed service stops with its old unit (its old ExecStop) before daemon-reload loads the
 * new one, and starts after: switch-to-configuration's default (stopIfChanged). Timers,
 * sockets and queued boot-time jobs are restarted instead. */
static int stops_first(const fl_act_unitplan *p, const char *name) {
    size_t n = strlen(name);
    const json_t *u = json_object_get(p->units, name);
    return !p->no_block && n > 8 && !strcmp(name + n - 8, ".service") &&
           !json_is_false(json_object_get(u, "stopIfChanged"));
}

static int is_masked(const ustate *u) {
    /* A running unit masked since keeps LoadState=loaded; its unit file state says it. */
    return !strcmp(u->load, "masked") || !strncmp(u->file, "masked", 6);
}

static int wanted(const fl_act_unitplan *p, const char *name) {
    const json_t *u = json_object_get(p->units, name);
    return json_array_size(json_object_get(u, "wantedBy")) > 0;
}

/* "  journalctl -u U -n 20" lines, indented, appended to sb (a user unit's from the
 * user's entries). */
static void journal_tail(const fl_act_unitplan *p, const char *name, fl_strbuf *sb) {
    /* A user unit's lines: its own output (_SYSTEMD_USER_UNIT) and its manager's about it
     * (USER_UNIT), both from the user's uid. */
    char uid[48], own[300], mgr[300];
    snprintf(uid, sizeof uid, "_UID=%u", p->user ? (unsigned)p->user->uid : 0u);
    snprintf(own, sizeof own, "_SYSTEMD_USER_UNIT=%s", name);
    snprintf(mgr, sizeof mgr, "USER_UNIT=%s", name);
    char *sys_argv[] = {"journalctl", "--no-pager", "-o",         "short", "-n",
                        "20",         "-u",         (char *)name, NULL};
    char *user_argv[] = {"journalctl", "--no-pager", "-o", "short", "-n", "20",
                         uid,          own,          "+",  uid,     mgr,  NULL};
    char **argv = p->user ? user_argv : sys_argv;
    /* What journald has received but not written yet is part of the unit's last lines. */
    char *sync_argv[] = {"journalctl", "--sync", NULL};
    int sync_status = 0;
    fl_error se = FL_ERROR_INIT;
    fl_act_run_as(sync_argv, NULL, NULL, &sync_status, &se);
    fl_error_clear(&se);
    fl_strbuf j;
    fl_strbuf_init(&j, 1024);
    int status = 0;
    fl_error e = FL_ERROR_INIT;
    if (fl_act_run_as(argv, NULL, &j, &status, &e) || status || !j.len)
        fl_strbuf_addf(sb, "    (the journal has no lines of %s)\n", name);
    for (char *line = j.buf; !e.message && line && *line;) {
        char *nl = strchr(line, '\n');
        fl_strbuf_addf(sb, "    %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
        line = nl ? nl + 1 : NULL;
    }
    fl_error_clear(&e);
    fl_strbuf_release(&j);
}

static int systemctl(const fl_act_unitplan *p, const char *what, const char *name, FILE *out,
                     fl_error *err) {
    char *argv[] = {(char *)what, (char *)name, NULL, NULL};
    if (name && p->no_block && strcmp(what, "daemon-reload"))
        argv[1] = "--no-block", argv[2] = (char *)name;
    int status;
    int rc = sctl(p, argv, NULL, &status, err);
    if (rc)
        return rc;
    const char *scope = p->user ? " --user" : "";
    fprintf(out, "  systemctl%s %s%s %s\n", scope, what, argv[2] ? " --no-block" : "",
            name ? name : "");
    if (status != 0)
        return fl_error_set(err, FL_EGENERIC, "systemctl%s %s %s exited with %d", scope, what,
                            name ? name : "", status);
    return FL_OK;
}

/* Names every unit in names[] that failed, each with its journal's last lines. */
static int report_failed(const fl_act_unitplan *p, const char *const *names, size_t n,
                         const ustate *st, fl_error *err) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 1024);
    size_t nf = 0;
    const char *first = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!failed(&st[i]))
            continue;
        if (!nf++)
            first = names[i];
        fl_strbuf_addf(&sb, "unit %s failed (%s/%s, result %s); journalctl %s %s -n 20:\n",
                       names[i], st[i].active, st[i].sub, st[i].result,
                       p->user ? "--user-unit" : "-u", names[i]);
        journal_tail(p, names[i], &sb);
    }
    int rc = FL_OK;
    if (nf) {
        if (sb.len && sb.buf[sb.len - 1] == '\n')
            sb.buf[--sb.len] = '\0';
        rc = fl_error_set(err, FL_EGENERIC, "%s", sb.buf);
        fl_error_set_hint(err, "fix the unit and switch again; 'systemctl%s status %s' shows more",
                          p->user ? " --user" : "", first);
    }
    fl_strbuf_release(&sb);
    return rc;
}

/* A started service may still die a moment after systemctl returned (Type=simple returns
 * once the process is forked), so the units touched are watched for a short while. */
#define SETTLE_MS 300
#define POLL_MS 30

static int settle(const fl_act_unitplan *p, const char *const *names, size_t n, fl_error *err) {
    if (!n)
        return FL_OK;
    struct timespec t0, now, nap = {0, POLL_MS * 1000000L};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        ustate *st;
        int rc = query(p, names, n, &st, err);
        if (!rc)
            rc = report_failed(p, names, n, st, err);
        ustates_free(st, n);
        if (rc)
            return rc;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= SETTLE_MS)
            return FL_OK;
        nanosleep(&nap, NULL);
    }
}

/* The verb a planned action becomes given what runs now, or NULL (with why) to leave it. */
static const char *live_verb(const fl_act_unitplan *p, const fl_act_unit_action *a, const ustate *u,
                             const char **why) {
    *why = NULL;
    if (is_masked(u)) {
        *why = "masked: left alone ('systemctl unmask' it to let flakectl manage it)";
        return NULL;
    }
    int is_running = running(u, p->restore);
    switch (a->action) {
    case FL_U_START:
        if (is_running)
            return "restart";
        if (wanted(p, a->name))
            return "start";
        *why = "nothing wants it (no wantedBy): not started";
        return NULL;
    case FL_U_RESTART:
    case FL_U_RELOAD:
        if (is_running)
            return a->action == FL_U_RESTART ? "restart" : "reload";
        if (wanted(p, a->name))
            return "start";
        *why = "not running and nothing wants it: left stopped";
        return NULL;
    default:
        return NULL;
    }
}

static int is_template(const char *name) {
    const char *at = strchr(name, '@');
    return at && at[1] == '.';
}

/* The plan with each template (name@.service, which never runs itself) replaced by its
 * running instances; instance names are appended to owned. */
static void expand_templates(const fl_act_unitplan *p, fl_act_unitplan *c, json_t *owned,
                             FILE *out) {
    *c = *p;
    c->a = fl_xcalloc(p->n ? p->n : 1, sizeof *c->a);
    c->n = 0;
    for (size_t i = 0; i < p->n; i++) {
        const fl_act_unit_action *a = &p->a[i];
        if (!is_template(a->name)) {
            c->a[c->n++] = *a;
            continue;
        }
        const char *at = strchr(a->name, '@');
        char *pattern = fl_xasprintf("%.*s@*%s", (int)(at - a->name), a->name, at + 1);
        char *argv[] = {
            "list-units", "--plain", "--no-legend", "--full", "--state=active,activating,reloading",
            "--",         pattern,   NULL};
        fl_strbuf sb;
        fl_strbuf_init(&sb, 256);
        int status = 0;
        fl_error e = FL_ERROR_INIT;
        size_t found = 0;
        if (a->action != FL_U_START && a->action != FL_U_KEEP && !sctl(p, argv, &sb, &status, &e) &&
            !status) {
            for (char *line = sb.buf; line && *line;) {
                char *nl = strchr(line, '\n');
                size_t n = strcspn(line, " \n");
                if (n) {
                    json_array_append_new(owned, json_stringn(line, n));
                    c->a = fl_xrealloc(c->a, (c->n + p->n + 1) * sizeof *c->a);
                    c->a[c->n++] = (fl_act_unit_action){
                        a->action,
                        json_string_value(json_array_get(owned, json_array_size(owned) - 1)),
                        a->rule};
                    found++;
                }
                line = nl ? nl + 1 : NULL;
            }
        }
        if (!found)
            fprintf(out, "  %s: a template; its next instances use the new unit\n", a->name);
        fl_error_clear(&e);
        fl_strbuf_release(&sb);
        free(pattern);
    }
}

int fl_act_units_apply(const char *root, const fl_act_unitplan *plan, FILE *out, fl_error *err) {
    if (!plan->n && !plan->daemon_reload)
        return FL_OK;
    if (!fl_act_systemd_live(root)) {
        fprintf(out, "  units (not executed: %s):\n",
                strcmp(root, "/") ? "the root is not /" : "systemd is not running");
        fl_act_units_print(plan, out, "    ");
        return FL_OK;
    }
    json_t *owned = json_array();
    fl_act_unitplan concrete;
    expand_templates(plan, &concrete, owned, out);
    const fl_act_unitplan *p = &concrete;
    const char **names = fl_xcalloc(p->n ? p->n : 1, sizeof(char *));
    for (size_t i = 0; i < p->n; i++)
        names[i] = p->a[i].name;
    ustate *st = NULL;
    int rc = query(p, names, p->n, &st, err);
    /* Removed units stop before daemon-reload forgets them, and changed services that stop
     * first with their old unit; the rest after it. */
    char *stopped = fl_xcalloc(p->n ? p->n : 1, 1);
    for (size_t i = 0; !rc && i < p->n; i++) {
        if (p->a[i].action == FL_U_RESTART && stops_first(p, p->a[i].name) &&
            !is_masked(&st[i]) && running(&st[i], p->restore)) {
            rc = systemctl(p, "stop", p->a[i].name, out, err);
            stopped[i] = 1;
        }
        if (p->a[i].action != FL_U_STOP)
            continue;
        if (running(&st[i], 0))
            rc = systemctl(p, "stop", p->a[i].name, out, err);
        else if (!strcmp(st[i].active, "failed"))
            rc = systemctl(p, "reset-failed", p->a[i].name, out, err);
    }
    if (!rc && p->daemon_reload)
        rc = systemctl(p, "daemon-reload", NULL, out, err);
    const char **touched = fl_xcalloc(p->n ? p->n : 1, sizeof(char *));
    size_t nt = 0;
    for (size_t i = 0; !rc && i < p->n; i++) {
        const char *why = NULL;
        const char *v = stopped[i] ? "start" : live_verb(p, &p->a[i], &st[i], &why);
        if (!stopped[i] && why)
            fprintf(out, "  %s: %s\n", p->a[i].name, why);
        if (!v)
            continue;
        touched[nt++] = p->a[i].name;
        rc = systemctl(p, v, p->a[i].name, out, err);
        if (rc && !p->no_block) {
            /* systemctl names the job, not the cause: the journal does. */
            fl_error e = FL_ERROR_INIT;
            ustate *now;
            if (!query(p, &p->a[i].name, 1, &now, &e) && failed(&now[0])) {
                fl_error_clear(err);
                rc = report_failed(p, &p->a[i].name, 1, now, err);
            }
            ustates_free(now, 1);
            fl_error_clear(&e);
        }
    }
    if (!rc && !p->no_block)
        rc = settle(p, touched, nt, err);
    ustates_free(st, p->n);
    free(stopped);
    free(touched);
    free(names);
    free(concrete.a);
    json_decref(owned);
    return rc;
}

/* ---- home-manager users' units (`systemctl --user`) ---- */

static const json_t *user_units(const fl_toplevel *t, const char *user) {
    return json_object_get(json_object_get(json_object_get(t->profile, "home"), user), "units");
}

/* Every user with units in either generation, in name order (old's first, then new ones). */
static json_t *users_with_units(const fl_toplevel *old, const fl_toplevel *new) {
    json_t *names = json_object();
    const fl_toplevel *ts[] = {old, new};
    for (int k = 0; k < 2; k++) {
        const char *user;
        json_t *h;
        json_object_foreach(json_object_get(ts[k]->profile, "home"), user, h) {
            if (json_object_size(json_object_get(h, "units")))
                json_object_set_new(names, user, json_true());
        }
    }
    return names;
}

void fl_act_user_units_print(const fl_toplevel *old, const fl_toplevel *new, FILE *out) {
    json_t *users = users_with_units(old, new);
    const char *user;
    json_t *v;
    json_object_foreach(users, user, v) {
        fl_act_unitplan up;
        fl_act_units_plan(user_units(old, user), user_units(new, user), &up);
        if (up.n || up.daemon_reload) {
            fprintf(out, "  user units of %s (systemctl --user, where their manager runs):\n",
                    user);
            fl_act_units_print(&up, out, "    ");
        }
        free(up.a);
    }
    json_decref(users);
}

json_t *fl_act_user_units_json(const fl_toplevel *old, const fl_toplevel *new) {
    json_t *users = users_with_units(old, new), *arr = json_array();
    const char *user;
    json_t *v;
    json_object_foreach(users, user, v) {
        fl_act_unitplan up;
        fl_act_units_plan(user_units(old, user), user_units(new, user), &up);
        if (up.n || up.daemon_reload)
            json_array_append_new(arr, json_pack("{s:s, s:o, s:b}", "user", user, "units",
                                                 fl_act_units_json(&up), "daemonReload",
                                                 up.daemon_reload));
        free(up.a);
    }
    json_decref(users);
    return arr;
}

int fl_act_user_units_apply(const char *root, const fl_toplevel *old, const fl_toplevel *new,
                            const fl_act_unitplan *sys, FILE *out, fl_error *err) {
    json_t *users = users_with_units(old, new);
    int rc = FL_OK;
    const char *user;
    json_t *v;
    json_object_foreach(users, user, v) {
        fl_act_unitplan up;
        fl_act_units_plan(user_units(old, user), user_units(new, user), &up);
        up.restore = sys->restore;
        up.no_block = sys->no_block;
        struct passwd *pw = NULL;
        char *rundir = NULL;
        if (fl_act_systemd_live(root) && (up.n || up.daemon_reload)) {
            pw = getpwnam(user);
            rundir = pw ? fl_xasprintf("/run/user/%u", (unsigned)pw->pw_uid) : NULL;
        }
        char *private = rundir ? fl_path_join(rundir, "systemd/private") : NULL;
        if (!up.n && !up.daemon_reload) {
            /* nothing for this user */
        } else if (!fl_act_systemd_live(root)) {
            fprintf(out, "  user units of %s (not executed: %s):\n", user,
                    strcmp(root, "/") ? "the root is not /" : "systemd is not running");
            fl_act_units_print(&up, out, "    ");
        } else if (!private || !fl_path_exists(private)) {
            /* The files are in place: the manager picks them up when it starts. */
            fprintf(out,
                    "  user units of %s: no user manager runs (log in, or 'loginctl "
                    "enable-linger %s'); they start with it\n",
                    user, user);
        } else {
            fl_act_runas as = {pw->pw_uid, pw->pw_gid, pw->pw_dir, rundir};
            up.user = &as;
            fprintf(out, "  user units of %s:\n", user);
            rc = fl_act_units_apply(root, &up, out, err);
            if (rc)
                fl_error_add_frame(err, "while switching the user units of %s", user);
        }
        free(private);
        free(rundir);
        free(up.a);
        if (rc)
            break;
    }
    json_decref(users);
    return rc;
}
