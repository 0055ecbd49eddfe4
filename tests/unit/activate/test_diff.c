/* test_diff.c - the unified diff used in plans: exact hunks for known cases, and the same
 * output as GNU `diff -u` (the real tool) on generated edits, headers aside. */
/* cmocka needs these three before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/activate.h"
#include "flakectl/fs.h"

static char *diff_of(const char *a, const char *b) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    fl_text_diff(a, strlen(a), b, strlen(b), "a/f", "b/f", &sb);
    return fl_strbuf_detach(&sb, NULL);
}

static void test_equal_is_empty(void **state) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    assert_int_equal(fl_text_diff("x\ny\n", 4, "x\ny\n", 4, "a", "b", &sb), 0);
    assert_int_equal(sb.len, 0);
    fl_strbuf_release(&sb);
}

static void test_one_change_with_context(void **state) {
    char *d = diff_of("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n");
    assert_string_equal(d, "--- a/f\n+++ b/f\n"
                           "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
    free(d);
}

static void test_new_and_emptied_files(void **state) {
    char *d = diff_of("", "a\nb\n");
    assert_string_equal(d, "--- a/f\n+++ b/f\n@@ -0,0 +1,2 @@\n+a\n+b\n");
    free(d);
    d = diff_of("a\nb\n", "");
    assert_string_equal(d, "--- a/f\n+++ b/f\n@@ -1,2 +0,0 @@\n-a\n-b\n");
    free(d);
}

static void test_missing_final_newline(void **state) {
    char *d = diff_of("a\nb", "a\nb\n");
    assert_string_equal(d, "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n"
                           "\\ No newline at end of file\n+b\n");
    free(d);
}

static void test_binary(void **state) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    assert_int_equal(fl_text_diff("a\0b", 3, "a\0c", 3, "x", "y", &sb), 1);
    assert_string_equal(sb.buf, "Binary files x and y differ\n");
    fl_strbuf_release(&sb);
}

/* Random edits of a numbered file, compared hunk for hunk with diff -u. Myers finds a
 * shortest script, as GNU diff does, but ties may be broken differently; the texts here
 * have unique lines, where the shortest script is unique up to order within a change,
 * and both print deletions before insertions. */
static void test_matches_gnu_diff(void **state) {
    if (system("diff --version >/dev/null 2>&1") != 0)
        fail_msg("GNU diff is needed for this test");
    srand(42);
    char dir[] = "/tmp/fl-diff-XXXXXX";
    assert_non_null(mkdtemp(dir));
    for (int round = 0; round < 60; round++) {
        fl_strbuf a, b;
        fl_strbuf_init(&a, 0);
        fl_strbuf_init(&b, 0);
        int n = 5 + rand() % 60;
        for (int i = 0; i < n; i++) {
            fl_strbuf_addf(&a, "line %d\n", i);
            int r = rand() % 10;
            if (r == 0)
                continue; /* deleted */
            if (r == 1)
                fl_strbuf_addf(&b, "changed %d.%d\n", round, i);
            else
                fl_strbuf_addf(&b, "line %d\n", i);
            if (r == 2)
                fl_strbuf_addf(&b, "inserted %d.%d\n", round, i);
        }
        char *pa = fl_path_join(dir, "a"), *pb = fl_path_join(dir, "b");
        assert_int_equal(fl_atomic_write_file(pa, a.buf, a.len, 0644, NULL), 0);
        assert_int_equal(fl_atomic_write_file(pb, b.buf, b.len, 0644, NULL), 0);
        char *cmd = fl_xasprintf("diff -u --label a/f --label b/f %s %s", pa, pb);
        FILE *p = popen(cmd, "r");
        fl_strbuf want;
        fl_strbuf_init(&want, 0);
        char buf[4096];
        size_t k;
        while ((k = fread(buf, 1, sizeof buf, p)) > 0)
            fl_strbuf_add(&want, buf, k);
        pclose(p);
        fl_strbuf got;
        fl_strbuf_init(&got, 0);
        fl_text_diff(a.buf, a.len, b.buf, b.len, "a/f", "b/f", &got);
        assert_string_equal(got.buf, want.buf);
        fl_strbuf_release(&got);
        fl_strbuf_release(&want);
        fl_strbuf_release(&a);
        fl_strbuf_release(&b);
        free(cmd);
        free(pa);
        free(pb);
    }
    fl_remove_tree(dir, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_is_empty),
        cmocka_unit_test(test_one_change_with_context),
        cmocka_unit_test(test_new_and_emptied_files),
        cmocka_unit_test(test_missing_final_newline),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_matches_gnu_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
