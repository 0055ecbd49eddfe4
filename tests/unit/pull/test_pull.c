/* test_pull.c - pull mode's rule for a cache pointer against what the host applied: older is
 * refused (replay), the same counter with another toplevel is refused, the same one is
 * "already applied", a newer one is applied; the refusals name the pointer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "flakectl/pull.h"

static const char A[] = "/var/lib/flakectl/store/aaaa-flakectl-system-web1";
static const char B[] = "/var/lib/flakectl/store/bbbb-flakectl-system-web1";

static void test_pointer_decide(void **state) {
    (void)state;
    fl_error err = FL_ERROR_INIT;
    /* nothing applied yet: any pointer is newer */
    assert_int_equal(fl_pull_pointer_decide(5, A, 0, NULL, "c/hosts/web1", &err), 0);
    assert_int_equal(fl_pull_pointer_decide(6, B, 5, A, "c/hosts/web1", &err), 0);
    assert_int_equal(fl_pull_pointer_decide(5, A, 5, A, "c/hosts/web1", &err), 1);
    /* an older pointer: a replay */
    assert_int_equal(fl_pull_pointer_decide(4, B, 5, A, "c/hosts/web1", &err), FL_ECONFLICT);
    assert_non_null(strstr(err.message, "c/hosts/web1 has counter 4, older than the pointer "
                                        "this host applied (counter 5)"));
    assert_non_null(err.hint);
    fl_error_clear(&err);
    /* one counter, two toplevels */
    assert_int_equal(fl_pull_pointer_decide(5, B, 5, A, "c/hosts/web1", &err), FL_ECONFLICT);
    assert_non_null(strstr(err.message, "names another toplevel"));
    fl_error_clear(&err);
}

/* Per-key marks: the floor is the highest mark among the keys trusted now; a record from
 * before marks counts whatever the keys. */
static void test_applied_floor(void **state) {
    (void)state;
    json_error_t je;
    json_t *rec = json_loads("{\"pointer\": {\"counter\": 9, \"toplevel\": \"/s/b\", "
                             "\"signers\": [\"k2:B\"]}, \"pointerMarks\": {"
                             "\"k1:A\": {\"counter\": 20, \"toplevel\": \"/s/a\"}, "
                             "\"k2:B\": {\"counter\": 9, \"toplevel\": \"/s/b\"}}}",
                             0, &je);
    assert_non_null(rec);
    const char *top = NULL;
    char *both[] = {"k1:A", "k2:B"}, *k2[] = {"k2:B"}, *k3[] = {"k3:C"};
    /* both trusted: k2 cannot go below what k1 put there */
    assert_int_equal(fl_pull_applied_floor(rec, both, 2, &top), 20);
    assert_string_equal(top, "/s/a");
    /* moved to k2 alone: k1's mark holds nothing back */
    assert_int_equal(fl_pull_applied_floor(rec, k2, 1, &top), 9);
    assert_string_equal(top, "/s/b");
    /* a key never applied starts from nothing */
    assert_int_equal(fl_pull_applied_floor(rec, k3, 1, &top), 0);
    assert_null(top);
    json_decref(rec);
    /* a record written before per-key marks: its counter binds every key */
    rec = json_loads("{\"pointer\": {\"counter\": 7, \"toplevel\": \"/s/c\"}}", 0, &je);
    assert_int_equal(fl_pull_applied_floor(rec, k3, 1, &top), 7);
    assert_string_equal(top, "/s/c");
    json_decref(rec);
    assert_int_equal(fl_pull_applied_floor(NULL, k3, 1, &top), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pointer_decide),
        cmocka_unit_test(test_applied_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
