/* test_nar.c - NAR dumping (known hashes), restoring (round trip) and the restorer's
 * strictness against malformed archives; the reference scanner across chunk boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"
#include "store/store_int.h"

#include "fixture.h"

static void write_file(const char *path, const char *text, mode_t mode) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void test_single_file_hash_matches_nix_hash(void **state) {
    fl_error err = FL_ERROR_INIT;
    char *dir = fl_make_temp_dir("/tmp", "fl-nar-", &err);
    char *f = fl_path_join(dir, "f");
    write_file(f, "hi\n", 0644);
    unsigned char h[32];
    uint64_t size;
    assert_int_equal(fl_nar_hash_path(f, h, &size, &err), 0);
    char b32[60];
    fl_base32_encode(h, 32, b32);
    /* nix-hash --type sha256 --base32 of that file */
    assert_string_equal(b32, "1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h");
    assert_int_equal(size, 120);
    fl_remove_tree(dir, &err);
    free(f);
    free(dir);
}

static void test_round_trip_restores_identical_tree(void **state) {
    fl_error err = FL_ERROR_INIT;
    char *dir = fl_make_temp_dir("/tmp", "fl-nar-", &err);
    char *src = fl_path_join(dir, "src");
    char *p;
    mkdir(src, 0755);
    p = fl_path_join(src, "sub");
    mkdir(p, 0755);
    free(p);
    p = fl_path_join(src, "empty");
    mkdir(p, 0755);
    free(p);
    p = fl_path_join(src, "sub/run");
    write_file(p, "#!/bin/sh\n", 0755);
    free(p);
    p = fl_path_join(src, "zero");
    write_file(p, "", 0644);
    free(p);
    p = fl_path_join(src, "link");
    assert_int_equal(symlink("sub/run", p), 0);
    free(p);
    fl_strbuf nar;
    fl_strbuf_init(&nar, 0);
    assert_int_equal(fl_nar_dump(src, mem_sink, &nar, NULL, &err), 0);
    char *dest = fl_path_join(dir, "dest");
    mem_src m = {nar.buf, nar.len};
    assert_int_equal(fl_nar_restore(mem_read, &m, dest, &err), 0);
    assert_int_equal(m.left, 0);
    fl_strbuf again;
    fl_strbuf_init(&again, 0);
    assert_int_equal(fl_nar_dump(dest, mem_sink, &again, NULL, &err), 0);
    assert_int_equal(nar.len, again.len);
    assert_memory_equal(nar.buf, again.buf, nar.len);
    /* restored contents are normalized: read-only, mtime 1 */
    struct stat st;
    p = fl_path_join(dest, "sub/run");
    assert_int_equal(lstat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0555);
    assert_int_equal(st.st_mtime, 1);
    free(p);
    /* the mirror copy made while dumping is the same tree */
    char *mirror = fl_path_join(dir, "mirror");
    fl_strbuf_reset(&again);
    assert_int_equal(fl_nar_dump(src, mem_sink, &again, mirror, &err), 0);
    fl_strbuf_reset(&again);
    assert_int_equal(fl_nar_dump(mirror, mem_sink, &again, NULL, &err), 0);
    assert_memory_equal(nar.buf, again.buf, nar.len);
    fl_strbuf_release(&nar);
    fl_strbuf_release(&again);
    fl_remove_tree(dir, &err);
    fl_error_clear(&err);
    free(src);
    free(dest);
    free(mirror);
    free(dir);
}

/* Builds a NAR by hand so malformed variants can be made. */
static void put_str(fl_strbuf *b, const char *s) {
    uint64_t n = strlen(s);
    for (int i = 0; i < 8; i++)
        fl_strbuf_addch(b, (char)(n >> (8 * i)));
    fl_strbuf_add(b, s, n);
    while (b->len % 8)
        fl_strbuf_addch(b, '\0');
}

static void dir_nar(fl_strbuf *b, const char *n1, const char *n2) {
    const char *head[] = {"nix-archive-1", "(", "type", "directory", NULL};
    for (const char **h = head; *h; h++)
        put_str(b, *h);
    const char *names[] = {n1, n2};
    for (int i = 0; i < 2; i++) {
        const char *e[] = {"entry",   "(",      "name", names[i], "node", "(", "type",
                           "symlink", "target", "x",    ")",      ")",    NULL};
        for (const char **h = e; *h; h++)
            put_str(b, *h);
    }
    put_str(b, ")");
}

static int restore_buf(fl_strbuf *b, fl_error *err) {
    char *dir = fl_make_temp_dir("/tmp", "fl-nar-", err);
    char *dest = fl_path_join(dir, "d");
    mem_src m = {b->buf, b->len};
    int rc = fl_nar_restore(mem_read, &m, dest, err);
    fl_error e = FL_ERROR_INIT;
    fl_remove_tree(dir, &e);
    free(dest);
    free(dir);
    return rc;
}

static void test_restore_rejects_malformed_archives(void **state) {
    fl_error err = FL_ERROR_INIT;
    fl_strbuf b;
    fl_strbuf_init(&b, 0);
    dir_nar(&b, "a", "b");
    assert_int_equal(restore_buf(&b, &err), 0);
    fl_strbuf_reset(&b);
    dir_nar(&b, "b", "a");
    assert_int_not_equal(restore_buf(&b, &err), 0);
    assert_non_null(strstr(err.message, "not sorted"));
    fl_strbuf_reset(&b);
    dir_nar(&b, "a", "a");
    assert_int_not_equal(restore_buf(&b, &err), 0);
    fl_strbuf_reset(&b);
    dir_nar(&b, "..", "a");
    assert_int_not_equal(restore_buf(&b, &err), 0);
    assert_non_null(strstr(err.message, "invalid file name"));
    fl_strbuf_reset(&b);
    dir_nar(&b, "a/b", "c");
    assert_int_not_equal(restore_buf(&b, &err), 0);
    /* truncated */
    fl_strbuf_reset(&b);
    dir_nar(&b, "a", "b");
    b.len -= 8;
    assert_int_not_equal(restore_buf(&b, &err), 0);
    /* non-zero padding */
    fl_strbuf_reset(&b);
    dir_nar(&b, "a", "b");
    b.buf[8 + 13] = 'X'; /* inside the padding of "nix-archive-1" */
    assert_int_not_equal(restore_buf(&b, &err), 0);
    assert_non_null(strstr(err.message, "padding"));
    /* wrong magic */
    fl_strbuf_reset(&b);
    put_str(&b, "nix-archive-2");
    assert_int_not_equal(restore_buf(&b, &err), 0);
    fl_strbuf_release(&b);
    fl_error_clear(&err);
}

static void test_scanner_finds_hashes_split_across_chunks(void **state) {
    fl_store *s = ((store_fixture *)*state)->s;
    char *a = fl_xasprintf("%s/00000000000000000000000000000000-a", fl_store_dir(s));
    char *b = fl_xasprintf("%s/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-b", fl_store_dir(s));
    char *paths[] = {a, b};
    const char *text = "xx/00000000000000000000000000000000-a/bin yy";
    size_t len = strlen(text);
    for (size_t split = 0; split <= len; split++) {
        fl_ref_scanner sc;
        fl_ref_scanner_init(&sc, s, paths, 2);
        fl_ref_scanner_feed(&sc, (const unsigned char *)text, split);
        fl_ref_scanner_feed(&sc, (const unsigned char *)text + split, len - split);
        size_t ia = strcmp(sc.cands[0].path, a) == 0 ? 0 : 1;
        assert_true(sc.found[ia]);
        assert_false(sc.found[1 - ia]);
        fl_ref_scanner_release(&sc);
    }
    /* byte by byte */
    fl_ref_scanner sc;
    fl_ref_scanner_init(&sc, s, paths, 2);
    for (size_t i = 0; i < len; i++)
        fl_ref_scanner_feed(&sc, (const unsigned char *)text + i, 1);
    assert_true(sc.found[0] || sc.found[1]);
    fl_ref_scanner_release(&sc);
    free(a);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_file_hash_matches_nix_hash),
        cmocka_unit_test(test_round_trip_restores_identical_tree),
        cmocka_unit_test(test_restore_rejects_malformed_archives),
        cmocka_unit_test_setup_teardown(test_scanner_finds_hashes_split_across_chunks,
                                        store_fixture_setup, store_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
