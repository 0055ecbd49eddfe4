/* test_pull.c - pull mode's rule for a cache pointer against what the host applied: older is
 * refused (replay), the same counter with another toplevel is refused, the same one is
 * "already applied", a newer one is applied; the refusals name the pointer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pointer_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
