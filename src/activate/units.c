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
            else if (json_is_true(json_object_get(o, "refuseManualStop")))
                add(p, FL_U_KEEP, name,
                    "removed from the configuration, but RefuseManualStop = true (systemd "
                    "refuses 'systemctl stop'): left running");
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
            /* switch-to-configuration's order: X-ReloadIfChanged first, then the flags that
             * skip the unit; restartIfChanged defaults to true, as in NixOS. */
            if (json_is_true(json_object_get(n, "reloadIfChanged")))
                add(p, FL_U_RELOAD, name,
                    "restartHash changed; reloadIfChanged = true: reloaded, not restarted");
            else if (json_is_false(json_object_get(n, "restartIfChanged")))
                add(p, FL_U_KEEP, name, "restartHash changed, but restartIfChanged = false");
            else if (json_is_true(json_object_get(n, "refuseManualStop")))
                add(p, FL_U_KEEP, name,
                    "restartHash changed, but RefuseManualStop = true: not restarted");
            else if (json_is_true(json_object_get(n, "onlyManualStart")))
                add(p, FL_U_KEEP, name,
                    "restartHash changed, but X-OnlyManualStart = true: not restarted");
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

const char *fl_act_unit_of_entry(const fl_act_entry *e) {
    if (!e->user)
        return fl_act_system_unit_of(e->path);
    static const char dir[] = "/.config/systemd/user/";
    size_t h = e->home ? strlen(e->home) : 0;
    const char *rest = e->path + h;
    if (!h || strncmp(e->path, e->home, h) || strncmp(rest, dir, sizeof dir - 1))
        return NULL;
    rest += sizeof dir - 1;
    return *rest && !strchr(rest, '/') ? rest : NULL;
}

void fl_act_units_reinstalled(fl_act_unitplan *p, const fl_act_fileplan *files, const char *user) {
    size_t before = p->n;
    for (size_t i = 0; i < files->n; i++) {
        const fl_act_change *c = &files->c[i];
        const fl_act_entry *w = c->want;
        if (!w || (user ? !w->user || strcmp(w->user, user) : !!w->user))
            continue;
        const char *name = fl_act_unit_of_entry(w);
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

static int links_in_place(const char *root, const char *dir, const json_t *units) {
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)units, name, v) {
        char *path = fl_xasprintf("%s/%s", dir, name);
        char *link = fl_act_root_readlink(root, path);
        free(path);
        if (!link)
            return 0;
        free(link);
    }
    return 1;
}

int fl_act_units_in_place(const char *root, const fl_toplevel *t) {
    if (!links_in_place(root, "/etc/systemd/system", json_object_get(t->profile, "units")))
        return 0;
    const char *user;
    json_t *h;
    json_object_foreach(json_object_get(t->profile, "home"), user, h) {
        const char *home = fl_act_jstr(h, "home", NULL);
        if (!home || !json_object_size(json_object_get(h, "units")))
            continue;
        char *dir = fl_path_join(home, ".config/systemd/user");
        int ok = links_in_place(root, dir, json_object_get(h, "units"));
        free(dir);
        if (!ok)
            return 0;
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
    char *triggered_by, *triggers; /* space-separated unit names (sockets, timers, services) */
    char *type;                    /* a service's Type= ("" for other units) */
    char *started;                 /* ExecMainStartTimestampMonotonic, in µs ("0": none) */
} ustate;

/* The properties asked (in `systemctl show` order), each with the value it has when systemd
 * says nothing of it, and where it goes. */
#define NPROPS 9
static const char *const prop_keys[NPROPS] = {
    "LoadState", "ActiveState",   "SubState",
    "Result",    "UnitFileState", "TriggeredBy",
    "Triggers",  "Type",          "ExecMainStartTimestampMonotonic"};
static const char *const prop_defaults[NPROPS] = {"not-found", "inactive", "dead", "success", "",
                                                  "",          "",         "",     "0"};

static void slots_of(ustate *u, char **slots[NPROPS]) {
    char **all[NPROPS] = {&u->load,         &u->active,   &u->sub,  &u->result, &u->file,
                          &u->triggered_by, &u->triggers, &u->type, &u->started};
    memcpy(slots, all, sizeof all);
}

static void ustates_free(ustate *st, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char **slots[NPROPS];
        slots_of(&st[i], slots);
        for (int k = 0; k < NPROPS; k++)
            free(*slots[k]);
    }
    free(st);
}

static void set_prop(ustate *u, const char *line) {
    char **slots[NPROPS];
    slots_of(u, slots);
    for (int k = 0; k < NPROPS; k++) {
        size_t kl = strlen(prop_keys[k]);
        if (!strncmp(line, prop_keys[k], kl) && line[kl] == '=' && !*slots[k])
            *slots[k] = fl_xstrdup(line + kl + 1);
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
    fl_strbuf props;
    fl_strbuf_init(&props, 256);
    fl_strbuf_addf(&props, "--property=");
    for (int i = 0; i < NPROPS; i++)
        fl_strbuf_addf(&props, "%s%s", i ? "," : "", prop_keys[i]);
    argv[k++] = props.buf;
    argv[k++] = "--";
    for (size_t i = 0; i < n; i++)
        argv[k++] = (char *)names[i];
    fl_strbuf sb;
    fl_strbuf_init(&sb, 256);
    int status = 0;
    int rc = sctl(p, argv, &sb, &status, err);
    free(argv);
    fl_strbuf_release(&props);
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
        char **slots[NPROPS];
        slots_of(&(*out)[i], slots);
        for (int k = 0; k < NPROPS; k++)
            if (!*slots[k])
                *slots[k] = fl_xstrdup(prop_defaults[k]);
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
    /* systemd refuses to restart a RefuseManualStart unit: stop it, its targets start it. */
    if (!p->no_block && json_is_true(json_object_get(u, "refuseManualStart")))
        return 1;
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

/* A started service may still die a moment after systemctl returned: for Type=simple (and
 * idle, exec) the start job is done once the process is forked (exec'd), so a service that
 * dies on a bad configuration is caught by watching it for a short while, counted from its
 * own main process's start. Every other kind of unit has finished starting (oneshot: exited;
 * forking, notify, dbus: ready; sockets, timers, targets: active) when systemctl returns, and
 * one look is enough. */
#define SETTLE_MS 300

static int needs_watch(const ustate *u) {
    return !strcmp(u->type, "simple") || !strcmp(u->type, "idle") || !strcmp(u->type, "exec");
}

static long long now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int settle(const fl_act_unitplan *p, const char *const *names, size_t n, long long since,
                  fl_error *err) {
    if (!n)
        return FL_OK;
    long long deadline = -1;
    for (;;) {
        ustate *st;
        int rc = query(p, names, n, &st, err);
        if (!rc)
            rc = report_failed(p, names, n, st, err);
        long long now = now_us();
        if (deadline < 0) {
            /* systemd's monotonic clock is the kernel's, the one this process reads too (a
             * container has no clock of its own). A main process not started since `since`
             * (a reloaded unit's) counts from now. */
            deadline = 0;
            for (size_t i = 0; !rc && i < n; i++) {
                long long t0 = strtoll(st[i].started, NULL, 10);
                if (!needs_watch(&st[i]))
                    continue;
                long long end = (t0 >= since && t0 <= now ? t0 : now) + SETTLE_MS * 1000LL;
                if (end > deadline)
                    deadline = end;
            }
        }
        ustates_free(st, n);
        if (rc || now >= deadline)
            return rc;
        /* One look at the end, not a poll: each look is a systemctl process, and on a busy
         * machine a handful of them cost more than the window itself. */
        long long left = deadline - now;
        struct timespec nap = {(time_t)(left / 1000000), (long)(left % 1000000) * 1000L};
        nanosleep(&nap, NULL);
    }
}

/* The verb a planned action becomes given what runs now, or NULL (with why) to leave it. */
static const char *live_verb(const fl_act_unitplan *p, const fl_act_unit_action *a, const ustate *u,
                             const char **why) {
    *why = NULL;
    if (is_masked(u)) {
        *why = p->user ? "masked: left alone ('systemctl --user unmask' it to let flakectl "
                         "manage it)"
                       : "masked: left alone ('systemctl unmask' it to let flakectl manage it)";
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

static int has_suffix(const char *name, const char *suffix) {
    size_t n = strlen(name), k = strlen(suffix);
    return n > k && !strcmp(name + n - k, suffix);
}

static long plan_index(const fl_act_unitplan *p, const char *name) {
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->a[i].name, name))
            return (long)i;
    return -1;
}

static int unit_flag(const fl_act_unitplan *p, const char *name, const char *flag) {
    return json_is_true(json_object_get(json_object_get(p->units, name), flag));
}

/* The units of a space-separated list (systemctl show's TriggeredBy=/Triggers=) that end in
 * suffix and run now, appended to out as strings. */
static int running_among(const fl_act_unitplan *p, const char *list, const char *suffix,
                         json_t *out, fl_error *err) {
    json_t *cand = json_array();
    for (const char *s = list; *s;) {
        size_t n = strcspn(s, " ");
        if (n) {
            json_t *name = json_stringn(s, n);
            if (has_suffix(json_string_value(name), suffix))
                json_array_append(cand, name);
            json_decref(name);
        }
        s += n + (s[n] == ' ');
    }
    size_t n = json_array_size(cand);
    const char **names = fl_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        names[i] = json_string_value(json_array_get(cand, i));
    ustate *st = NULL;
    int rc = n ? query(p, names, n, &st, err) : FL_OK;
    for (size_t i = 0; !rc && i < n; i++)
        if (running(&st[i], 0))
            json_array_append_new(out, json_string(names[i]));
    ustates_free(st, n);
    free(names);
    json_decref(cand);
    return rc;
}

/* What pre_reload_stops did with a planned unit. */
enum {
    DOWN_NONE,
    DOWN_START_AFTER,      /* stopped; started after daemon-reload */
    DOWN_SOCKET_ACTIVATED, /* stopped; its socket, started again, activates it */
    DOWN_STOPPED,          /* stopped for good (removed) */
};

/* A changed service stopped first whose socket runs: as switch-to-configuration, the socket
 * stops too and only the socket is started again, so the new service starts on the next
 * connection, never with the old unit's sockets. A socket leaving the configuration is not
 * started again; then the service is. Marks what it stopped in down (sockets outside the
 * plan go into extra). */
static int stop_with_sockets(const fl_act_unitplan *p, size_t i, const ustate *u, char *down,
                             json_t *extra, FILE *out, fl_error *err) {
    json_t *socks = json_array();
    int rc = running_among(p, u->triggered_by, ".socket", socks, err);
    size_t kept = 0, k;
    json_t *sock;
    json_array_foreach(socks, k, sock) {
        const char *sn = json_string_value(sock);
        long j = plan_index(p, sn);
        if (!rc && strchr(p->a[i].name, '@')) {
            /* An instance of an Accept=yes socket serves one connection: it ends with its
             * connection and the socket, which stays, spawns the new unit's next one. */
            kept++;
            continue;
        }
        if (rc)
            continue;
        if (j >= 0 && down[j]) {
            /* Stopped already (for another service it activates, or as a changed socket). */
            kept += down[j] == DOWN_START_AFTER;
            continue;
        }
        /* The socket first: a connection in between would activate the old service again. */
        rc = systemctl(p, "stop", sn, out, err);
        if (j >= 0 && p->a[j].action == FL_U_STOP) {
            down[j] = DOWN_STOPPED;
            continue;
        }
        kept++;
        if (j >= 0)
            down[j] = DOWN_START_AFTER;
        else
            json_object_set_new(extra, sn, json_true());
    }
    if (!rc)
        rc = systemctl(p, "stop", p->a[i].name, out, err);
    down[i] = kept ? DOWN_SOCKET_ACTIVATED : DOWN_START_AFTER;
    json_decref(socks);
    return rc;
}

/* A changed socket: the services it activated stop with it (an Accept=no service holds the
 * old listening sockets), and the socket is started again after daemon-reload; its service
 * starts on the next connection. */
static int stop_socket(const fl_act_unitplan *p, size_t i, const ustate *u, char *down, FILE *out,
                       fl_error *err) {
    json_t *svcs = json_array();
    int rc = running_among(p, u->triggers, ".service", svcs, err);
    if (!rc)
        rc = systemctl(p, "stop", p->a[i].name, out, err);
    size_t k;
    json_t *svc;
    json_array_foreach(svcs, k, svc) {
        long j = plan_index(p, json_string_value(svc));
        if (rc || (j >= 0 && down[j]))
            continue;
        rc = systemctl(p, "stop", json_string_value(svc), out, err);
        if (j >= 0 && p->a[j].action == FL_U_STOP)
            down[j] = DOWN_STOPPED;
        else if (j >= 0)
            down[j] = DOWN_SOCKET_ACTIVATED;
    }
    down[i] = DOWN_START_AFTER;
    json_decref(svcs);
    return rc;
}

/* Everything that stops before daemon-reload: changed services that stop first (with their
 * sockets), then changed sockets (with their services), then removed units. At boot
 * (no_block) nothing stops first: the queued restarts do it. */
static int pre_reload_stops(const fl_act_unitplan *p, const ustate *st, char *down, json_t *extra,
                            FILE *out, fl_error *err) {
    int rc = FL_OK;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; !rc && i < p->n; i++) {
            const fl_act_unit_action *a = &p->a[i];
            if (down[i] || a->action != FL_U_RESTART || is_masked(&st[i]) ||
                !running(&st[i], p->restore) || p->no_block)
                continue;
            if (pass == 0 && stops_first(p, a->name))
                rc = stop_with_sockets(p, i, &st[i], down, extra, out, err);
            else if (pass == 1 && has_suffix(a->name, ".socket"))
                rc = stop_socket(p, i, &st[i], down, out, err);
        }
    }
    /* Removed sockets and timers first: a service stopped while its socket still listens
     * is started again by the next (or an already queued) connection. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; !rc && i < p->n; i++) {
            const char *n = p->a[i].name;
            int trigger = has_suffix(n, ".socket") || has_suffix(n, ".timer");
            if (p->a[i].action != FL_U_STOP || down[i] || trigger != !pass)
                continue;
            if (running(&st[i], 0))
                rc = systemctl(p, "stop", n, out, err);
            else if (!strcmp(st[i].active, "failed"))
                rc = systemctl(p, "reset-failed", n, out, err);
            down[i] = DOWN_STOPPED;
        }
    }
    return rc;
}

/* systemctl VERB NAME, except that systemd refuses `systemctl start` (and restart) of a
 * unit with RefuseManualStart = true: the targets that want it start it instead, as
 * switch-to-configuration starts the active targets. */
static int start_or_act(const fl_act_unitplan *p, const char *verb, const char *name, FILE *out,
                        fl_error *err) {
    int is_start = !strcmp(verb, "start"), is_restart = !strcmp(verb, "restart");
    if (!(is_start || is_restart) || !unit_flag(p, name, "refuseManualStart"))
        return systemctl(p, verb, name, out, err);
    int rc = is_restart ? systemctl(p, "stop", name, out, err) : FL_OK;
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(json_object_get(p->units, name), "wantedBy"), k, t) {
        if (!rc)
            rc = systemctl(p, "start", json_string_value(t), out, err);
    }
    return rc;
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
    /* Before daemon-reload: removed units stop while systemd still knows them, and changed
     * services stop with their old unit (with their sockets, see pre_reload_stops); the
     * rest after it. down[i] says what became of p->a[i] here. */
    char *down = fl_xcalloc(p->n ? p->n : 1, 1);
    json_t *extra = json_object(); /* sockets outside the plan to start after daemon-reload */
    if (!rc)
        rc = pre_reload_stops(p, st, down, extra, out, err);
    if (!rc && p->daemon_reload)
        rc = systemctl(p, "daemon-reload", NULL, out, err);
    const char **touched = fl_xcalloc(p->n + json_object_size(extra) + 1, sizeof(char *));
    long long since = now_us();
    size_t nt = 0;
    const char *name;
    json_t *v0;
    json_object_foreach(extra, name, v0) {
        if (rc)
            break;
        touched[nt++] = name;
        rc = systemctl(p, "start", name, out, err);
    }
    for (size_t i = 0; !rc && i < p->n; i++) {
        const char *why = NULL;
        const char *v = NULL;
        if (down[i] == DOWN_START_AFTER)
            v = "start";
        else if (down[i] == DOWN_SOCKET_ACTIVATED)
            fprintf(out,
                    "  %s: socket-activated: its socket is listening again and starts it "
                    "on the next connection\n",
                    p->a[i].name);
        else if (!down[i])
            v = live_verb(p, &p->a[i], &st[i], &why);
        if (why)
            fprintf(out, "  %s: %s\n", p->a[i].name, why);
        if (!v)
            continue;
        touched[nt++] = p->a[i].name;
        rc = start_or_act(p, v, p->a[i].name, out, err);
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
        rc = settle(p, touched, nt, since, err);
    ustates_free(st, p->n);
    free(down);
    json_decref(extra);
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

/* One user's plan: their units' changes, and those whose files the file step rewrote. */
static void user_units_plan(const fl_toplevel *old, const fl_toplevel *new,
                            const fl_act_fileplan *files, const char *user, fl_act_unitplan *up) {
    fl_act_units_plan(user_units(old, user), user_units(new, user), up);
    if (files)
        fl_act_units_reinstalled(up, files, user);
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

void fl_act_user_units_print(const fl_toplevel *old, const fl_toplevel *new,
                             const fl_act_fileplan *files, FILE *out) {
    json_t *users = users_with_units(old, new);
    const char *user;
    json_t *v;
    json_object_foreach(users, user, v) {
        fl_act_unitplan up;
        user_units_plan(old, new, files, user, &up);
        if (up.n || up.daemon_reload) {
            fprintf(out, "  user units of %s (systemctl --user, where their manager runs):\n",
                    user);
            fl_act_units_print(&up, out, "    ");
        }
        free(up.a);
    }
    json_decref(users);
}

json_t *fl_act_user_units_json(const fl_toplevel *old, const fl_toplevel *new,
                               const fl_act_fileplan *files) {
    json_t *users = users_with_units(old, new), *arr = json_array();
    const char *user;
    json_t *v;
    json_object_foreach(users, user, v) {
        fl_act_unitplan up;
        user_units_plan(old, new, files, user, &up);
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
                            const fl_act_unitplan *sys, const fl_act_fileplan *files, FILE *out,
                            fl_error *err) {
    json_t *users = users_with_units(old, new);
    int rc = FL_OK;
    const char *user;
    json_t *v;
    json_object_foreach(users, user, v) {
        fl_act_unitplan up;
        user_units_plan(old, new, files, user, &up);
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
