/* test_users.c - editing passwd, group and shadow for declared users: foreign lines kept byte
 * for byte and in order, ids allocated in the right ranges and stable across generations,
 * users flakectl made removed when undeclared, membership declarative. */
/* cmocka needs these three before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "flakectl/activate.h"

static const char *PASSWD = "root:x:0:0:root:/root:/bin/bash\n"
                            "# a comment the admin wrote\n"
                            "\n"
                            "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                            "carol:x:1000:100:Carol (by hand):/home/carol:/bin/zsh\n"
                            "weird:x:5000:5000:short line\n";
static const char *GROUP = "root:x:0:\nwheel:x:10:root,carol\nusers:x:100:\n";
static const char *SHADOW = "root:$6$salt$hash:19000:0:99999:7:::\ncarol:$6$c$c:19001::::::\n";

static json_t *J(const char *text) {
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s", e.text);
    return j;
}

typedef struct fixture {
    json_t *users, *groups, *ids, *created;
    fl_users_edit e;
} fixture;

static int run(fixture *f, const char *users, const char *groups, const char *passwd,
               const char *group, const char *shadow, fl_error *err) {
    json_decref(f->users);
    json_decref(f->groups);
    f->users = J(users);
    f->groups = J(groups);
    memset(&f->e, 0, sizeof f->e);
    f->e.users = f->users;
    f->e.groups = f->groups;
    f->e.passwd = passwd;
    f->e.group = group;
    f->e.shadow = shadow;
    f->e.ids = f->ids;
    f->e.created = f->created;
    f->e.today = 20000;
    return fl_users_compute(&f->e, err);
}

/* Feeds one generation's result into the next, as the state files do. */
static void next_generation(fixture *f) {
    json_decref(f->created);
    f->created = json_deep_copy(f->e.new_created);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->ids = json_object();
    f->created = json_object();
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    json_decref(f->users);
    json_decref(f->groups);
    json_decref(f->ids);
    json_decref(f->created);
    free(f);
    return 0;
}

static void test_foreign_lines_kept_and_new_users_appended(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(run(f,
                         "{\"alice\": {\"isNormalUser\": true, \"group\": \"users\","
                         " \"extraGroups\": [\"wheel\"], \"shell\": \"/bin/bash\","
                         " \"description\": \"Alice\"},"
                         " \"svc\": {\"isSystemUser\": true, \"group\": \"svc\"}}",
                         "{\"admins\": {\"gid\": 1500, \"members\": [\"alice\"]}}", PASSWD, GROUP,
                         SHADOW, &err),
                     0);
    /* Every original line, byte for byte and in order, then the new ones. */
    size_t n = strlen(PASSWD);
    assert_memory_equal(f->e.new_passwd, PASSWD, n);
    /* carol holds 1000, so alice gets the next free normal uid; svc counts down from 999. */
    assert_string_equal(f->e.new_passwd + n, "alice:x:1001:100:Alice:/home/alice:/bin/bash\n"
                                             "svc:x:999:999::/var/empty:/usr/sbin/nologin\n");
    assert_string_equal(f->e.new_group, "root:x:0:\n"
                                        "wheel:x:10:root,carol,alice\n"
                                        "users:x:100:\n"
                                        "admins:x:1500:alice\n"
                                        "svc:x:999:\n");
    assert_string_equal(f->e.new_shadow, "root:$6$salt$hash:19000:0:99999:7:::\n"
                                         "carol:$6$c$c:19001::::::\n"
                                         "alice:!:20000::::::\n"
                                         "svc:!:20000::::::\n");
    assert_non_null(strstr(f->e.changes.buf, "+ user alice (uid 1001"));
    assert_non_null(strstr(f->e.changes.buf, "~ group wheel: members [root,carol] -> "
                                             "[root,carol,alice]"));
    /* The same changes as tool calls, for a live system: groups, users, then membership. */
    char *ops = json_dumps(f->e.ops, JSON_COMPACT);
    assert_string_equal(ops, "[[\"groupadd\",\"-g\",\"1500\",\"admins\"],"
                             "[\"groupadd\",\"-g\",\"999\",\"svc\"],"
                             "[\"useradd\",\"-u\",\"1001\",\"-g\",\"100\",\"-d\","
                             "\"/home/alice\",\"-s\",\"/bin/bash\",\"-c\",\"Alice\","
                             "\"-M\",\"alice\"],"
                             "[\"useradd\",\"-u\",\"999\",\"-g\",\"999\",\"-d\","
                             "\"/var/empty\",\"-s\",\"/usr/sbin/nologin\",\"-c\",\"\","
                             "\"-M\",\"svc\"],"
                             "[\"gpasswd\",\"-M\",\"root,carol,alice\",\"wheel\"],"
                             "[\"gpasswd\",\"-M\",\"alice\",\"admins\"]]");
    free(ops);
    json_t *cu = json_object_get(f->e.new_created, "users");
    assert_int_equal(json_array_size(cu), 2);
    fl_users_edit_release(&f->e);
}

static void test_ids_stable_and_removed_users_dropped(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    const char *two = "{\"alice\": {\"isNormalUser\": true}, \"bob\": {\"isNormalUser\": true}}";
    assert_int_equal(run(f, two, "{}", PASSWD, GROUP, SHADOW, &err), 0);
    char *p1 = strdup(f->e.new_passwd), *g1 = strdup(f->e.new_group), *s1 = strdup(f->e.new_shadow);
    assert_non_null(strstr(p1, "alice:x:1001:"));
    assert_non_null(strstr(p1, "bob:x:1002:"));
    next_generation(f);
    fl_users_edit_release(&f->e);

    /* Generation 2 drops alice: her lines go (flakectl made them), bob keeps 1002. */
    assert_int_equal(run(f, "{\"bob\": {\"isNormalUser\": true}}", "{}", p1, g1, s1, &err), 0);
    assert_null(strstr(f->e.new_passwd, "alice"));
    assert_null(strstr(f->e.new_shadow, "alice"));
    assert_non_null(strstr(f->e.new_passwd, "bob:x:1002:"));
    assert_non_null(strstr(f->e.new_passwd, "carol:x:1000:100:Carol (by hand)"));
    assert_non_null(strstr(f->e.changes.buf, "- user alice"));
    char *p2 = strdup(f->e.new_passwd), *g2 = strdup(f->e.new_group), *s2 = strdup(f->e.new_shadow);
    next_generation(f);
    fl_users_edit_release(&f->e);

    /* Generation 3 brings alice back and adds dave: alice gets 1001 again, dave does not
     * take it. */
    assert_int_equal(run(f,
                         "{\"bob\": {\"isNormalUser\": true}, \"dave\": {\"isNormalUser\": true},"
                         " \"alice\": {\"isNormalUser\": true}}",
                         "{}", p2, g2, s2, &err),
                     0);
    assert_non_null(strstr(f->e.new_passwd, "alice:x:1001:"));
    assert_non_null(strstr(f->e.new_passwd, "dave:x:1003:"));
    fl_users_edit_release(&f->e);
    free(p1);
    free(g1);
    free(s1);
    free(p2);
    free(g2);
    free(s2);
}

/* A system user made with a group of its own, then dropped with it: on a live root the
 * commands run in order, and groupdel refuses a group that is still a user's primary group
 * (exit 8), so userdel must come first. */
static void test_dropped_user_removed_before_its_group(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(run(f, "{\"deploy\": {\"group\": \"deploy\"}}", "{\"deploy\": {}}", PASSWD,
                         GROUP, SHADOW, &err),
                     0);
    char *p1 = strdup(f->e.new_passwd), *g1 = strdup(f->e.new_group), *s1 = strdup(f->e.new_shadow);
    next_generation(f);
    fl_users_edit_release(&f->e);

    assert_int_equal(run(f, "{}", "{}", p1, g1, s1, &err), 0);
    long userdel = -1, groupdel = -1;
    for (size_t i = 0; i < json_array_size(f->e.ops); i++) {
        const char *cmd = json_string_value(json_array_get(json_array_get(f->e.ops, i), 0));
        if (!strcmp(cmd, "userdel"))
            userdel = (long)i;
        if (!strcmp(cmd, "groupdel"))
            groupdel = (long)i;
    }
    assert_true(userdel >= 0);
    assert_true(groupdel >= 0);
    assert_true(userdel < groupdel);
    fl_users_edit_release(&f->e);
    free(p1);
    free(g1);
    free(s1);
}

static void test_adopted_user_updated_in_place_never_removed(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    /* carol existed before flakectl: declaring her updates her line in place and keeps her
     * password hash. */
    assert_int_equal(run(f, "{\"carol\": {\"isNormalUser\": true, \"shell\": \"/bin/bash\"}}", "{}",
                         PASSWD, GROUP, SHADOW, &err),
                     0);
    assert_non_null(strstr(f->e.new_passwd, "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                                            "carol:x:1000:100::/home/carol:/bin/bash\n"
                                            "weird:x:5000:5000:short line\n"));
    assert_string_equal(f->e.new_shadow, SHADOW);
    assert_non_null(strstr(f->e.changes.buf, "~ user carol: shell /bin/zsh -> /bin/bash"));
    /* Membership is declarative: carol declares no wheel, so she leaves it. */
    assert_non_null(strstr(f->e.new_group, "wheel:x:10:root\n"));
    char *p = strdup(f->e.new_passwd), *g = strdup(f->e.new_group), *s = strdup(f->e.new_shadow);
    next_generation(f);
    fl_users_edit_release(&f->e);
    /* Undeclared again: she was not created by flakectl, so she stays. */
    assert_int_equal(run(f, "{}", "{}", p, g, s, &err), 0);
    assert_non_null(strstr(f->e.new_passwd, "carol:x:1000:"));
    assert_int_equal(f->e.nchanges, 0);
    fl_users_edit_release(&f->e);
    free(p);
    free(g);
    free(s);
}

static void test_declared_hash_and_taken_uid(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(run(f, "{\"alice\": {\"isNormalUser\": true, \"hashedPassword\": \"$y$j\"}}",
                         "{}", "", "", "", &err),
                     0);
    assert_string_equal(f->e.new_passwd, "alice:x:1000:100::/home/alice:/bin/sh\n");
    /* A primary group that exists nowhere is made; "users" gets its usual gid 100. */
    assert_string_equal(f->e.new_group, "users:x:100:\n");
    assert_non_null(strstr(f->e.new_shadow, "alice:$y$j:20000"));
    fl_users_edit_release(&f->e);
    /* A declared uid owned by another name is an error naming both. */
    int rc = run(f, "{\"eve\": {\"isNormalUser\": true, \"uid\": 1000}}", "{}", PASSWD, GROUP,
                 SHADOW, &err);
    assert_int_equal(rc, FL_ECONFLICT);
    assert_non_null(strstr(err.message, "uid 1000 for 'eve' is already used by 'carol'"));
    fl_users_edit_release(&f->e);
    fl_error_clear(&err);
}

static void test_missing_extra_group_reported(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(run(f, "{\"alice\": {\"isNormalUser\": true, \"extraGroups\": [\"nope\"]}}",
                         "{}", PASSWD, GROUP, SHADOW, &err),
                     0);
    assert_non_null(strstr(f->e.changes.buf, "extra group 'nope' does not exist"));
    assert_null(strstr(f->e.new_group, "nope"));
    fl_users_edit_release(&f->e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_foreign_lines_kept_and_new_users_appended, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ids_stable_and_removed_users_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adopted_user_updated_in_place_never_removed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_declared_hash_and_taken_uid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_user_removed_before_its_group, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_extra_group_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
