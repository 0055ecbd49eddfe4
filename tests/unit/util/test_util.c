/* test_util.c - strbuf, error values, atomic writes and path canonicalisation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/error.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

static void test_strbuf_grows_and_formats(void **state) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    assert_string_equal(sb.buf, "");
    for (int i = 0; i < 1000; i++)
        fl_strbuf_addf(&sb, "%d,", i % 10);
    assert_int_equal(sb.len, 2000);
    assert_memory_equal(sb.buf, "0,1,2,", 6);
    size_t len;
    char *s = fl_strbuf_detach(&sb, &len);
    assert_int_equal(len, 2000);
    assert_int_equal(s[2000], '\0');
    assert_int_equal(sb.len, 0);
    free(s);
}

static void test_error_carries_location_and_frames(void **state) {
    fl_error err = FL_ERROR_INIT;
    int rc = fl_error_set(&err, FL_EPARSE, "unexpected %s", "'}'");
    assert_int_equal(rc, FL_EPARSE);
    fl_error_set_loc(&err, "/x/flake.nix", 3, 7);
    fl_error_add_frame(&err, "while evaluating %s", "outputs");
    assert_string_equal(err.message, "unexpected '}'");
    assert_string_equal(err.file, "/x/flake.nix");
    assert_int_equal(err.line, 3);
    assert_int_equal(err.nframes, 1);
    fl_error_clear(&err);
    assert_null(err.message);
}

static void test_atomic_write_replaces_whole_file(void **state) {
    fl_error err = FL_ERROR_INIT;
    char *dir = fl_make_temp_dir("/tmp", "fl-util-", &err);
    assert_non_null(dir);
    char *path = fl_path_join(dir, "f");
    assert_int_equal(fl_atomic_write_file(path, "old", 3, 0644, &err), 0);
    assert_int_equal(fl_atomic_write_file(path, "newer", 5, 0600, &err), 0);
    char *data;
    size_t len;
    assert_int_equal(fl_read_file(path, &data, &len, &err), 0);
    assert_int_equal(len, 5);
    assert_string_equal(data, "newer");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(data);
    /* A write into a missing directory fails and leaves nothing behind. */
    char *bad = fl_path_join(dir, "missing/f");
    assert_int_equal(fl_atomic_write_file(bad, "x", 1, 0644, &err), FL_EIO);
    assert_non_null(strstr(err.message, "missing/f"));
    fl_error_clear(&err);
    assert_int_equal(fl_atomic_symlink("target-a", path, &err), 0);
    char buf[64];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "target-a");
    assert_int_equal(fl_remove_tree(dir, &err), 0);
    assert_false(fl_path_exists(dir));
    free(bad);
    free(path);
    free(dir);
}

static void test_canon_path(void **state) {
    const char *cases[][3] = {
        {"/a/b/./c", "/", "/a/b/c"}, {"/a/b/..", "/", "/a"},  {"./foo/../bar", "/tmp/pf", "/tmp/pf/bar"},
        {"//a//b/", "/", "/a/b"},    {"/..", "/", "/"},       {".", "/tmp/pf", "/tmp/pf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = fl_canon_path(cases[i][0], cases[i][1]);
        assert_string_equal(got, cases[i][2]);
        free(got);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strbuf_grows_and_formats),
        cmocka_unit_test(test_error_carries_location_and_frames),
        cmocka_unit_test(test_atomic_write_replaces_whole_file),
        cmocka_unit_test(test_canon_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
