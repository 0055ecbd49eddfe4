/* units.c - which systemd units to stop, start, restart or reload between two generations,
 * and doing it. The rules compare profile.json's restartHash/reloadHash (docs/toplevel.md).
 * Executes systemctl only when systemd runs and the root is "/"; under --root (or without
 * systemd) the plan is printed and nothing is executed. */
#include <stdlib.h>
#include <string.h>

#include "activate/internal.h"

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
    const char *name;
    json_t *o, *n;
    json_object_foreach((json_t *)old_units, name, o) {
        if (!json_object_get(new_units, name)) {
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
            else
                add(p, FL_U_RESTART, name, "restartHash changed (unit text or restartTriggers)");
        } else if (!str_eq(olh, nlh)) {
            add(p, FL_U_RELOAD, name, "only reloadHash changed (reloadTriggers)");
        }
    }
    if (p->n)
        qsort(p->a, p->n, sizeof *p->a, cmp_action);
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

void fl_act_units_print(const fl_act_unitplan *p, FILE *out, const char *indent) {
    for (size_t i = 0; i < p->n; i++)
        fprintf(out, "%s%-8s %s  (%s)\n", indent, verb(p->a[i].action), p->a[i].name, p->a[i].rule);
    if (p->daemon_reload)
        fprintf(out, "%sdaemon-reload  (unit files changed)\n", indent);
}

static int systemctl(const char *what, const char *name, FILE *out, fl_error *err) {
    char *argv[] = {"systemctl", (char *)what, (char *)name, NULL};
    if (!name)
        argv[2] = NULL;
    int status;
    int rc = fl_act_run(argv, NULL, NULL, &status, err);
    if (rc)
        return rc;
    if (status != 0)
        return fl_error_set(err, FL_EGENERIC, "systemctl %s %s exited with %d", what,
                            name ? name : "", status);
    fprintf(out, "  systemctl %s %s\n", what, name ? name : "");
    return FL_OK;
}

int fl_act_units_apply(const char *root, const fl_act_unitplan *p, FILE *out, fl_error *err) {
    if (!p->n && !p->daemon_reload)
        return FL_OK;
    if (!fl_act_systemd_live(root)) {
        fprintf(out, "  units (not executed: %s):\n",
                strcmp(root, "/") ? "the root is not /" : "systemd is not running");
        fl_act_units_print(p, out, "    ");
        return FL_OK;
    }
    /* Removed units stop before daemon-reload forgets them; the rest after it. */
    int rc = FL_OK;
    for (size_t i = 0; !rc && i < p->n; i++)
        if (p->a[i].action == FL_U_STOP)
            rc = systemctl("stop", p->a[i].name, out, err);
    if (!rc && p->daemon_reload)
        rc = systemctl("daemon-reload", NULL, out, err);
    for (size_t i = 0; !rc && i < p->n; i++) {
        int a = p->a[i].action;
        if (a == FL_U_RELOAD)
            rc = systemctl("reload", p->a[i].name, out, err);
        else if (a == FL_U_RESTART)
            rc = systemctl("restart", p->a[i].name, out, err);
        else if (a == FL_U_START)
            rc = systemctl("start", p->a[i].name, out, err);
    }
    return rc;
}
