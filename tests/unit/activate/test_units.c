/* test_units.c - the unit plan's rules between two generations' profile.json "units"
 * (switch-to-configuration's flags), and which managed entries are unit files. */
/* cmocka needs these three before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "activate/internal.h"

/* A unit record: restartHash R, reloadHash L, plus extra JSON fields. */
static json_t *unit(const char *r, const char *l, const char *extra) {
    json_error_t e;
    char buf[512];
    snprintf(buf, sizeof buf, "{\"restartHash\": \"%s\", \"reloadHash\": \"%s\"%s%s}", r, l,
             extra ? ", " : "", extra ? extra : "");
    json_t *u = json_loads(buf, 0, &e);
    assert_non_null(u);
    return u;
}

/* The planned action of name, or -1. */
static int action_of(const fl_act_unitplan *p, const char *name) {
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->a[i].name, name))
            return p->a[i].action;
    return -1;
}

/* One unit "u.service" changed from (r0, l0, extra0) to (r1, l1, extra1); extra NULL fields,
 * a missing side when r is NULL. */
static int plan_one(const char *r0, const char *l0, const char *x0, const char *r1, const char *l1,
                    const char *x1, int *reload) {
    json_t *old = json_object(), *new = json_object();
    if (r0)
        json_object_set_new(old, "u.service", unit(r0, l0, x0));
    if (r1)
        json_object_set_new(new, "u.service", unit(r1, l1, x1));
    fl_act_unitplan p;
    fl_act_units_plan(old, new, &p);
    int a = action_of(&p, "u.service");
    if (reload)
        *reload = p.daemon_reload;
    free(p.a);
    json_decref(old);
    json_decref(new);
    return a;
}

static void test_changed_is_restarted(void **state) {
    int reload = 0;
    assert_int_equal(plan_one("a", "x", NULL, "b", "x", NULL, &reload), FL_U_RESTART);
    assert_true(reload);
    assert_int_equal(plan_one("a", "x", NULL, "a", "y", NULL, NULL), FL_U_RELOAD);
    assert_int_equal(plan_one("a", "x", NULL, "a", "x", NULL, NULL), -1);
}

static void test_reload_if_changed(void **state) {
    int reload = 0;
    assert_int_equal(plan_one("a", "x", NULL, "b", "x", "\"reloadIfChanged\": true", &reload),
                     FL_U_RELOAD);
    assert_true(reload); /* the new ExecReload must be loaded first */
    /* It wins over the flags that skip a unit, as switch-to-configuration checks it first. */
    assert_int_equal(plan_one("a", "x", NULL, "b", "x",
                              "\"reloadIfChanged\": true, \"restartIfChanged\": false", NULL),
                     FL_U_RELOAD);
}

static void test_flags_that_skip_a_changed_unit(void **state) {
    assert_int_equal(plan_one("a", "x", NULL, "b", "x", "\"restartIfChanged\": false", NULL),
                     FL_U_KEEP);
    assert_int_equal(plan_one("a", "x", NULL, "b", "x", "\"refuseManualStop\": true", NULL),
                     FL_U_KEEP);
    assert_int_equal(plan_one("a", "x", NULL, "b", "x", "\"onlyManualStart\": true", NULL),
                     FL_U_KEEP);
    /* RefuseManualStart does not skip: the apply starts it through its targets. */
    assert_int_equal(plan_one("a", "x", NULL, "b", "x", "\"refuseManualStart\": true", NULL),
                     FL_U_RESTART);
}

static void test_removal_reads_the_old_unit(void **state) {
    assert_int_equal(plan_one("a", "x", NULL, NULL, NULL, NULL, NULL), FL_U_STOP);
    assert_int_equal(plan_one("a", "x", "\"stopOnRemoval\": false", NULL, NULL, NULL, NULL),
                     FL_U_KEEP);
    assert_int_equal(plan_one("a", "x", "\"refuseManualStop\": true", NULL, NULL, NULL, NULL),
                     FL_U_KEEP);
}

static void test_unit_of_entry(void **state) {
    fl_act_entry sys = {.path = "/etc/systemd/system/web.service"};
    assert_string_equal(fl_act_unit_of_entry(&sys), "web.service");
    fl_act_entry wants = {.path = "/etc/systemd/system/multi-user.target.wants/web.service"};
    assert_null(fl_act_unit_of_entry(&wants));
    fl_act_entry usr = {.path = "/home/alice/.config/systemd/user/hello.service",
                        .user = "alice",
                        .home = "/home/alice"};
    assert_string_equal(fl_act_unit_of_entry(&usr), "hello.service");
    fl_act_entry uw = {.path =
                           "/home/alice/.config/systemd/user/default.target.wants/hello.service",
                       .user = "alice",
                       .home = "/home/alice"};
    assert_null(fl_act_unit_of_entry(&uw));
    /* A home file elsewhere, or the system's directory under a home entry, is no unit. */
    fl_act_entry other = {
        .path = "/home/alice/.config/git/config", .user = "alice", .home = "/home/alice"};
    assert_null(fl_act_unit_of_entry(&other));
    fl_act_entry sysdir = {
        .path = "/etc/systemd/system/x.service", .user = "alice", .home = "/home/alice"};
    assert_null(fl_act_unit_of_entry(&sysdir));
    fl_act_entry bare = {
        .path = "/home/alice/.config/systemd/user/", .user = "alice", .home = "/home/alice"};
    assert_null(fl_act_unit_of_entry(&bare));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changed_is_restarted),
        cmocka_unit_test(test_reload_if_changed),
        cmocka_unit_test(test_flags_that_skip_a_changed_unit),
        cmocka_unit_test(test_removal_reads_the_old_unit),
        cmocka_unit_test(test_unit_of_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
