/* test_addnar.c - adding paths from NARs in a batch (a substitution): staging registers
 * nothing and needs no reference to be valid, the commit registers references first and
 * refuses a path whose reference is still missing, a bad NAR hash stages nothing, and what
 * is staged but never committed leaves nothing in the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <dirent.h>

#include "fixture.h"

static size_t store_entries(fl_store *s) {
    DIR *d = opendir(fl_store_dir(s));
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += de->d_name[0] != '.' || strncmp(de->d_name, ".tmp-", 5) == 0;
    if (d)
        closedir(d);
    return n;
}

static void info_of(fl_store *s, const char *path, fl_store_path_info **info) {
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_store_query_info(s, path, info, &err), 0);
}

static void test_stage_then_commit_references_first(void **state) {
    store_fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    /* one store: the paths are made, their NARs dumped, then the paths deleted by a gc so
     * that the same store directory receives them back through staging */
    fl_store *s = f->s;
    char *a = NULL, *b = NULL;
    assert_int_equal(fl_store_add_text(s, "b", "bee\n", 4, NULL, 0, &b, &err), 0);
    assert_int_equal(fl_store_add_text(s, "a", b, strlen(b), &b, 1, &a, &err), 0);
    fl_strbuf nar_a, nar_b;
    fl_strbuf_init(&nar_a, 256);
    fl_strbuf_init(&nar_b, 256);
    assert_int_equal(fl_nar_dump(a, mem_sink, &nar_a, NULL, &err), 0);
    assert_int_equal(fl_nar_dump(b, mem_sink, &nar_b, NULL, &err), 0);
    fl_store_path_info *ia = NULL, *ib = NULL;
    info_of(s, a, &ia);
    info_of(s, b, &ib);
    fl_store_gc_result res;
    assert_int_equal(fl_store_gc(s, f->dir, 0, 0, NULL, &res, &err), 0);
    assert_false(fl_store_is_valid(s, a));
    assert_false(fl_store_is_valid(s, b));
    assert_int_equal(store_entries(s), 0);

    /* staged in the "wrong" order, a before its reference b: nothing registered yet */
    fl_store_staged *sa = NULL, *sb = NULL;
    mem_src ma = {nar_a.buf, nar_a.len}, mb = {nar_b.buf, nar_b.len};
    assert_int_equal(fl_store_stage_nar(s, ia, mem_read, &ma, &sa, &err), 0);
    assert_int_equal(fl_store_stage_nar(s, ib, mem_read, &mb, &sb, &err), 0);
    assert_false(fl_store_is_valid(s, a));
    assert_false(fl_store_is_valid(s, b));
    assert_false(fl_path_exists(a));

    /* a alone cannot be registered: b is not valid */
    assert_int_not_equal(fl_store_commit_staged(s, &sa, 1, &err), 0);
    assert_non_null(strstr(err.message, "is not valid here"));
    fl_error_clear(&err);
    assert_false(fl_store_is_valid(s, a));
    fl_store_staged_free(sa);
    assert_int_equal(store_entries(s), 1); /* b's staging directory only */

    /* again, committed together, references first */
    ma = (mem_src){nar_a.buf, nar_a.len};
    assert_int_equal(fl_store_stage_nar(s, ia, mem_read, &ma, &sa, &err), 0);
    fl_store_staged *batch[2] = {sb, sa};
    assert_int_equal(fl_store_commit_staged(s, batch, 2, &err), 0);
    assert_true(fl_store_is_valid(s, a));
    assert_true(fl_store_is_valid(s, b));
    fl_store_staged_free(sa);
    fl_store_staged_free(sb);
    assert_int_equal(store_entries(s), 2); /* the two paths, no staging directory left */
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(fl_read_file(a, &text, &len, &err), 0);
    assert_string_equal(text, b);
    free(text);

    /* valid already: stages as nothing, commits as nothing */
    ma = (mem_src){nar_a.buf, nar_a.len};
    assert_int_equal(fl_store_stage_nar(s, ia, mem_read, &ma, &sa, &err), 0);
    assert_int_equal(ma.left, nar_a.len); /* nothing read */
    assert_int_equal(fl_store_commit_staged(s, &sa, 1, &err), 0);
    fl_store_staged_free(sa);
    fl_store_path_info_free(ia);
    fl_store_path_info_free(ib);
    fl_strbuf_release(&nar_a);
    fl_strbuf_release(&nar_b);
    free(a);
    free(b);
}

static void test_bad_hash_stages_nothing(void **state) {
    store_fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    fl_store *s = f->s;
    char *b = NULL;
    assert_int_equal(fl_store_add_text(s, "b", "bee\n", 4, NULL, 0, &b, &err), 0);
    fl_strbuf nar;
    fl_strbuf_init(&nar, 256);
    assert_int_equal(fl_nar_dump(b, mem_sink, &nar, NULL, &err), 0);
    fl_store_path_info *ib = NULL;
    info_of(s, b, &ib);
    fl_store_gc_result res;
    assert_int_equal(fl_store_gc(s, f->dir, 0, 0, NULL, &res, &err), 0);
    ib->nar_hash[0] ^= 1;
    mem_src mb = {nar.buf, nar.len};
    fl_store_staged *sb = NULL;
    assert_int_equal(fl_store_stage_nar(s, ib, mem_read, &mb, &sb, &err), FL_ECRYPTO);
    assert_non_null(strstr(err.message, "hash mismatch for"));
    fl_error_clear(&err);
    assert_null(sb);
    assert_false(fl_store_is_valid(s, b));
    assert_int_equal(store_entries(s), 0);
    fl_store_path_info_free(ib);
    fl_strbuf_release(&nar);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stage_then_commit_references_first, store_fixture_setup, store_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad_hash_stages_nothing, store_fixture_setup, store_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
