/* test_flake.c - the flake layer's pure parts: SRI hashes, flake.lock reading and its stable
 * text, and which paths a Git work tree lets evaluation see (against a real `git` repo). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flake/lock.h"
#include "flakectl/flake.h"
#include "flakectl/fs.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

static void test_sri(void **state) {
    (void)state;
    unsigned char h[32], back[32];
    fl_sha256_buf("", 0, h);
    char *sri = fl_hash_format_sri(h);
    /* nix hash to-sri sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73 */
    assert_string_equal(sri, "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    assert_int_equal(fl_hash_parse(sri, back), 0);
    assert_memory_equal(h, back, 32);
    free(sri);
    char *b32 = fl_hash_format(h);
    memset(back, 0, 32);
    assert_int_equal(fl_hash_parse(b32, back), 0);
    assert_memory_equal(h, back, 32);
    free(b32);
    assert_int_equal(fl_hash_parse("sha256-short", back), -1);
    assert_int_equal(fl_hash_parse("md5-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", back), -1);
    assert_int_equal(fl_hash_parse("", back), -1);
}

static char *tmpdir(void) {
    fl_error err = FL_ERROR_INIT;
    char *d = fl_make_temp_dir("/tmp", "flakectl-unit-", &err);
    assert_non_null(d);
    return d;
}

static void write(const char *dir, const char *name, const char *text) {
    char *p = fl_path_join(dir, name);
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_atomic_write_file(p, text, strlen(text), 0644, &err), 0);
    free(p);
}

static void test_lock_text(void **state) {
    (void)state;
    json_t *lock = json_pack("{s:i, s:s, s:{s:{s:{s:s}}, s:{s:{s:s}}}}", "version", 7, "root",
                             "root", "nodes", "root", "inputs", "b", "b", "b", "locked", "type",
                             "git");
    char *text = fl_lock_dump(lock);
    /* keys sorted at every level, two-space indent, one trailing newline */
    assert_string_equal(text, "{\n  \"nodes\": {\n    \"b\": {\n      \"locked\": {\n        "
                              "\"type\": \"git\"\n      }\n    },\n    \"root\": {\n      "
                              "\"inputs\": {\n        \"b\": \"b\"\n      }\n    }\n  },\n  "
                              "\"root\": \"root\",\n  \"version\": 7\n}\n");
    char *dir = tmpdir();
    char *path = fl_path_join(dir, "flake.lock");
    fl_error err = FL_ERROR_INIT;
    int written = 0;
    assert_int_equal(fl_lock_write_if_changed(path, lock, &written, &err), 0);
    assert_int_equal(written, 1);
    assert_int_equal(fl_lock_write_if_changed(path, lock, &written, &err), 0);
    assert_int_equal(written, 0); /* same text: not rewritten */
    json_t *back = NULL;
    assert_int_equal(fl_lock_read(path, &back, &err), 0);
    assert_true(json_equal(back, lock));
    assert_null(fl_lock_node(back, "b")); /* no `original`: not a usable node */
    json_decref(back);
    json_decref(lock);
    free(text);

    write(dir, "flake.lock", "{ \"version\": 7, ");
    assert_int_equal(fl_lock_read(path, &back, &err), FL_EPARSE);
    assert_non_null(err.file);
    assert_string_equal(err.file, path);
    assert_int_equal(err.line, 1);
    fl_error_clear(&err);
    write(dir, "flake.lock", "{ \"version\": 99, \"root\": \"root\", \"nodes\": {\"root\": {}} }");
    assert_int_equal(fl_lock_read(path, &back, &err), FL_EPARSE);
    assert_non_null(strstr(err.message, "version 5 to 7"));
    fl_error_clear(&err);
    char *missing = fl_path_join(dir, "none.lock");
    assert_int_equal(fl_lock_read(missing, &back, &err), 0);
    assert_null(back);
    free(missing);
    fl_remove_tree(dir, NULL);
    free(path);
    free(dir);
}

static void test_tree_visibility(void **state) {
    (void)state;
    char *dir = tmpdir();
    char *cmd = fl_xasprintf(
        "cd %s && mkdir -p sub/a sub/a-b && echo x > sub/a/y && echo x > sub/a-b/x && "
        "echo x > sub/untracked && echo '{}' > sub/flake.nix && git init -q && "
        "git add sub/a/y sub/a-b/x sub/flake.nix",
        dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    char *flake = fl_path_join(dir, "sub");
    fl_flake_tree *t = NULL;
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_flake_tree_open(flake, &t, &err), 0);
    assert_non_null(t);
    assert_null(fl_flake_tree_rev(t)); /* no commit yet */
    assert_true(fl_flake_tree_dirty(t));
    const char *ok[] = {"sub", "sub/a", "sub/a/y", "sub/a-b", "sub/a-b/x", "sub/flake.nix",
                        "sub/nonexistent"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char *p = fl_path_join(dir, ok[i]);
        assert_int_equal(fl_flake_tree_check_path(t, p, &err), 0);
        free(p);
    }
    char *p = fl_path_join(dir, "sub/untracked");
    assert_int_equal(fl_flake_tree_check_path(t, p, &err), FL_ENOTFOUND);
    assert_non_null(strstr(err.message, "git add sub/untracked"));
    fl_error_clear(&err);
    free(p);
    assert_int_equal(fl_flake_tree_check_path(t, "/etc/hostname", &err), 0);
    fl_flake_tree_free(t);
    fl_remove_tree(dir, NULL);
    free(flake);
    free(dir);

    /* outside any work tree: no tree, no error */
    dir = tmpdir();
    assert_int_equal(fl_flake_tree_open(dir, &t, &err), 0);
    assert_null(t);
    fl_remove_tree(dir, NULL);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sri),
        cmocka_unit_test(test_lock_text),
        cmocka_unit_test(test_tree_visibility),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
