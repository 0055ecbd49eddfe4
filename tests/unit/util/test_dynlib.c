/* test_dynlib.c - libraries opened on first use (flakectl/dynlib.h): a library that is
 * there gives working functions, a missing library or function is an error naming it and the
 * package to install, and libcurl's table (flakectl/libcurl.h) loads as the fetchers use it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h> /* after the three it needs */
#include <stdlib.h>
#include <string.h>

#include "flakectl/dynlib.h"
#include "flakectl/libcurl.h"

static void test_loads_functions(void **state) {
    (void)state;
    const char *const names[] = {"strlen", "abs"};
    fl_dynlib_fn fns[2] = {NULL, NULL};
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_dynlib_load("libc.so.6", "libc6", names, fns, 2, &err), FL_OK);
    size_t (*my_strlen)(const char *) = (size_t(*)(const char *))fns[0];
    int (*my_abs)(int) = (int (*)(int))fns[1];
    assert_int_equal(my_strlen("four"), 4);
    assert_int_equal(my_abs(-7), 7);
}

static void test_missing_library_names_package(void **state) {
    (void)state;
    const char *const names[] = {"strlen"};
    fl_dynlib_fn fns[1] = {NULL};
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_dynlib_load("libflakectl-absent.so.9", "flakectl-absent", names, fns, 1,
                                    &err),
                     FL_EGENERIC);
    assert_non_null(strstr(err.message, "cannot load libflakectl-absent.so.9 ("));
    assert_non_null(strstr(err.message, "): install the Debian package flakectl-absent"));
    assert_null(fns[0]);
    fl_error_clear(&err);
}

static void test_missing_function_is_named(void **state) {
    (void)state;
    const char *const names[] = {"strlen", "flakectl_no_such_function"};
    fl_dynlib_fn fns[2] = {NULL, NULL};
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_dynlib_load("libc.so.6", "libc6", names, fns, 2, &err), FL_EGENERIC);
    assert_non_null(strstr(err.message, "libc.so.6 has no function flakectl_no_such_function"));
    assert_non_null(strstr(err.message, "install the Debian package libc6"));
    /* nothing half-filled is left for a caller to call */
    assert_null(fns[0]);
    assert_null(fns[1]);
    fl_error_clear(&err);
}

static void test_libcurl_table(void **state) {
    (void)state;
    fl_error err = FL_ERROR_INIT;
    const fl_libcurl *cu = fl_libcurl_get(&err);
    assert_non_null(cu);
    /* the same table every time, and its functions are libcurl's */
    assert_ptr_equal(fl_libcurl_get(&err), cu);
    assert_string_equal(cu->easy_strerror(CURLE_OK), "No error");
    CURL *h = cu->easy_init();
    assert_non_null(h);
    assert_int_equal(cu->easy_setopt(h, CURLOPT_URL, "file:///dev/null"), CURLE_OK);
    assert_int_equal(cu->easy_perform(h), CURLE_OK);
    cu->easy_cleanup(h);
    fl_error_clear(&err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_functions),
        cmocka_unit_test(test_missing_library_names_package),
        cmocka_unit_test(test_missing_function_is_named),
        cmocka_unit_test(test_libcurl_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
