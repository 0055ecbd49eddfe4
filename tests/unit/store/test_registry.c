/* test_registry.c - the registry's crash safety: a path without its entry is invalid and
 * is replaced by the next add; stray temp files and corrupt entries never count as valid;
 * texts, closures and builds register what they should. */
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

typedef store_fixture fixture;

static char *entry_of(fixture *f, const char *path) {
    const char *hp = fl_store_hash_part(f->s, path);
    return fl_xasprintf("%s/state/db/%.32s.json", f->dir, hp);
}

static void test_unregistered_leftover_is_invalid_and_replaced(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *out = NULL;
    assert_int_equal(fl_store_add_path(f->s, f->src, NULL, 0, &out, &err), 0);
    assert_true(fl_store_is_valid(f->s, out));
    /* Simulate a crash between the rename and the registration: contents present, no entry,
     * and the contents even damaged. */
    char *entry = entry_of(f, out);
    assert_int_equal(unlink(entry), 0);
    assert_false(fl_store_is_valid(f->s, out));
    chmod(out, 0644);
    FILE *fp = fopen(out, "w");
    fputs("half-writ", fp);
    fclose(fp);
    char *again = NULL;
    assert_int_equal(fl_store_add_path(f->s, f->src, NULL, 0, &again, &err), 0);
    assert_string_equal(out, again);
    assert_true(fl_store_is_valid(f->s, out));
    unsigned char h[32];
    fl_store_path_info *info = NULL;
    assert_int_equal(fl_store_query_info(f->s, out, &info, &err), 0);
    assert_int_equal(fl_nar_hash_path(out, h, NULL, &err), 0);
    assert_memory_equal(h, info->nar_hash, 32);
    fl_store_path_info_free(info);
    free(entry);
    free(out);
    free(again);
}

static void test_temp_and_corrupt_entries_are_not_valid(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *out = NULL;
    assert_int_equal(fl_store_add_path(f->s, f->src, "named", 0, &out, &err), 0);
    char *entry = entry_of(f, out);
    /* A registration that died before its rename leaves only the temp file. */
    char *data = NULL;
    size_t len;
    assert_int_equal(fl_read_file(entry, &data, &len, &err), 0);
    char *tmp = fl_xasprintf("%s.tmp-AbCdEf", entry);
    FILE *fp = fopen(tmp, "w");
    fwrite(data, 1, len / 2, fp);
    fclose(fp);
    assert_int_equal(unlink(entry), 0);
    assert_false(fl_store_is_valid(f->s, out));
    char **all = NULL;
    size_t n = 0;
    assert_int_equal(fl_registry_list(f->s, &all, &n, &err), 0);
    assert_int_equal(n, 0);
    /* A corrupt entry is an error naming the file and a fix, never valid. */
    fp = fopen(entry, "w");
    fwrite(data, 1, len / 2, fp);
    fclose(fp);
    assert_false(fl_store_is_valid(f->s, out));
    fl_store_path_info *info = NULL;
    assert_int_not_equal(fl_store_query_info(f->s, out, &info, &err), 0);
    assert_non_null(strstr(err.message, "corrupt registry entry"));
    assert_non_null(err.hint);
    /* verify --repair cleans both up and the store is consistent again */
    fl_store_verify_result res;
    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(fl_store_verify(f->s, 1, 1, devnull, &res, &err), 0);
    assert_true(res.garbage >= 3); /* temp entry, corrupt entry, unregistered path */
    assert_int_equal(fl_store_verify(f->s, 1, 0, devnull, &res, &err), 0);
    assert_int_equal(res.garbage + res.missing + res.corrupt + res.dangling, 0);
    fclose(devnull);
    assert_false(fl_path_exists(out));
    fl_error_clear(&err);
    free(data);
    free(tmp);
    free(entry);
    free(out);
}

static void test_empty_entry_is_unregistered_and_replaced(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *out = NULL;
    assert_int_equal(fl_store_add_path(f->s, f->src, "cut", 0, &out, &err), 0);
    /* What a power cut between a batch's renames and its sync can leave: the entry's name
     * with no data written behind it. */
    char *entry = entry_of(f, out);
    int fd = open(entry, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    close(fd);
    assert_false(fl_store_is_valid(f->s, out));
    fl_store_path_info *info = NULL;
    assert_int_not_equal(fl_store_query_info(f->s, out, &info, &err), 0);
    assert_int_equal(err.code, FL_ENOTFOUND);
    assert_non_null(strstr(err.message, "not registered"));
    fl_error_clear(&err);
    /* the next add registers it again, with no repair asked of the user */
    char *again = NULL;
    assert_int_equal(fl_store_add_path(f->s, f->src, "cut", 0, &again, &err), 0);
    assert_string_equal(again, out);
    assert_true(fl_store_is_valid(f->s, out));
    assert_int_equal(fl_store_query_info(f->s, out, &info, &err), 0);
    fl_store_path_info_free(info);
    free(again);
    free(entry);
    free(out);
}

static void test_text_references_and_closure(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(fl_store_add_text(f->s, "a", "A", 1, NULL, 0, &a, &err), 0);
    char *refs_b[] = {a};
    assert_int_equal(fl_store_add_text(f->s, "b", "B", 1, refs_b, 1, &b, &err), 0);
    char *refs_c[] = {b};
    assert_int_equal(fl_store_add_text(f->s, "c", "C", 1, refs_c, 1, &c, &err), 0);
    char **cl = NULL;
    size_t n = 0;
    assert_int_equal(fl_store_closure(f->s, &c, 1, &cl, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(cl[0], a); /* references first */
    assert_string_equal(cl[1], b);
    assert_string_equal(cl[2], c);
    fl_store_free_paths(cl, n);
    /* A reference that is not valid is refused. */
    char *bogus = fl_xasprintf("%s/00000000000000000000000000000000-x", fl_store_dir(f->s));
    char *refs_d[] = {bogus};
    char *d = NULL;
    assert_int_not_equal(fl_store_add_text(f->s, "d", "D", 1, refs_d, 1, &d, &err), 0);
    assert_non_null(strstr(err.message, "not valid"));
    fl_error_clear(&err);
    free(bogus);
    free(a);
    free(b);
    free(c);
}

static void test_build_registers_references_and_deriver(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *dep = NULL;
    assert_int_equal(fl_store_add_path(f->s, f->src, NULL, 0, &dep, &err), 0);
    char *script = fl_xasprintf("PATH=/usr/bin:/bin; mkdir $out; echo %s > $out/ref; "
                                "echo $HOME $NIX_BUILD_CORES > $out/env; pwd > $out/pwd; "
                                "ls -A > $out/ls",
                                dep);
    const char *args[] = {"-c", script};
    const char *env[] = {"GREETING=hi"};
    const char *inputs[] = {dep};
    fl_store_drv drv = {"thing", "/bin/sh", args, 2, env, 1, inputs, 1, NULL};
    char *out = NULL, *planned = NULL;
    assert_int_equal(fl_store_drv_output(f->s, &drv, &planned, &err), 0);
    assert_int_equal(fl_store_build(f->s, &drv, &out, &err), 0);
    assert_string_equal(out, planned);
    fl_store_path_info *info = NULL;
    assert_int_equal(fl_store_query_info(f->s, out, &info, &err), 0);
    assert_int_equal(info->nrefs, 1);
    assert_string_equal(info->refs[0], dep);
    assert_non_null(info->deriver);
    assert_true(fl_store_is_valid(f->s, info->deriver));
    fl_store_path_info_free(info);
    char *envf = fl_path_join(out, "env"), *data = NULL;
    size_t len;
    assert_int_equal(fl_read_file(envf, &data, &len, &err), 0);
    assert_int_equal(strncmp(data, "/homeless-shelter ", 18), 0);
    free(data);
    free(envf);
    /* the build directory started empty */
    char *lsf = fl_path_join(out, "ls");
    assert_int_equal(fl_read_file(lsf, &data, &len, &err), 0);
    assert_int_equal(len, 0);
    free(data);
    free(lsf);
    /* changing the environment changes the output path */
    const char *env2[] = {"GREETING=hello"};
    drv.env = env2;
    char *other = NULL;
    assert_int_equal(fl_store_drv_output(f->s, &drv, &other, &err), 0);
    assert_string_not_equal(other, out);
    /* `out` cannot be set by the derivation; duplicate names are refused */
    const char *env3[] = {"out=/tmp/x"};
    drv.env = env3;
    assert_int_not_equal(fl_store_drv_output(f->s, &drv, &other, &err), 0);
    const char *env4[] = {"A=1", "A=2"};
    drv.env = env4;
    drv.nenv = 2;
    assert_int_not_equal(fl_store_drv_output(f->s, &drv, &other, &err), 0);
    assert_non_null(strstr(err.message, "set twice"));
    fl_error_clear(&err);
    free(other);
    free(script);
    free(out);
    free(planned);
    free(dep);
}

static int skip_txt_and_drop(void *ctx, const char *path, const char *type, fl_error *err) {
    (void)ctx;
    size_t n = strlen(path);
    if (n > 4 && !strcmp(path + n - 4, ".txt"))
        return 0;
    if (!strcmp(type, "directory") && n > 5 && !strcmp(path + n - 5, "/drop"))
        return 0;
    if (strstr(path, "poison"))
        return fl_error_set(err, FL_EEVAL, "filter failed on %s", path);
    return 1;
}

static void test_filtered_add(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *tree = fl_path_join(f->dir, "tree");
    char *p;
    mkdir(tree, 0755);
    const char *files[] = {"keep", "skip.txt", "drop/inner"};
    p = fl_path_join(tree, "drop");
    mkdir(p, 0755);
    free(p);
    for (int i = 0; i < 3; i++) {
        p = fl_path_join(tree, files[i]);
        FILE *fp = fopen(p, "w");
        fputs("x\n", fp);
        fclose(fp);
        free(p);
    }
    char *out = NULL;
    assert_int_equal(
        fl_store_add_path_filtered(f->s, tree, "src", 0, skip_txt_and_drop, NULL, &out, &err), 0);
    p = fl_path_join(out, "keep");
    assert_true(fl_path_exists(p));
    free(p);
    p = fl_path_join(out, "skip.txt");
    assert_false(fl_path_exists(p));
    free(p);
    p = fl_path_join(out, "drop");
    assert_false(fl_path_exists(p));
    free(p);
    /* the hash covers what was kept: the stored copy hashes to its registered hash */
    fl_store_path_info *info = NULL;
    unsigned char h[32];
    assert_int_equal(fl_store_query_info(f->s, out, &info, &err), 0);
    assert_int_equal(fl_nar_hash_path(out, h, NULL, &err), 0);
    assert_memory_equal(h, info->nar_hash, 32);
    fl_store_path_info_free(info);
    /* a failing filter aborts and adds nothing */
    p = fl_path_join(tree, "poison");
    FILE *fp = fopen(p, "w");
    fclose(fp);
    free(p);
    char *bad = NULL;
    assert_int_equal(
        fl_store_add_path_filtered(f->s, tree, "src", 0, skip_txt_and_drop, NULL, &bad, &err),
        FL_EEVAL);
    assert_non_null(strstr(err.message, "filter failed"));
    fl_error_clear(&err);
    free(out);
    free(tree);
}

static void test_export_import_over_callbacks(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *a = NULL, *b = NULL;
    assert_int_equal(fl_store_add_path(f->s, f->src, NULL, 0, &a, &err), 0);
    char *refs[] = {a};
    assert_int_equal(fl_store_add_text(f->s, "b", a, strlen(a), refs, 1, &b, &err), 0);
    char **cl = NULL;
    size_t n = 0;
    assert_int_equal(fl_store_closure(f->s, &b, 1, &cl, &n, &err), 0);
    fl_strbuf stream;
    fl_strbuf_init(&stream, 0);
    assert_int_equal(fl_store_export_to(f->s, cl, n, mem_sink, &stream, &err), 0);
    fl_store_free_paths(cl, n);
    /* A fresh store at the same place. */
    fl_store_close(f->s);
    char *st = fl_path_join(f->dir, "state"), *old = fl_path_join(f->dir, "state.old");
    assert_int_equal(fl_atomic_rename(st, old, &err), 0);
    assert_int_equal(fl_store_open(st, &f->s, &err), 0);
    /* Truncated: nothing registered. */
    mem_src m = {stream.buf, stream.len - 8};
    assert_int_not_equal(fl_store_import_from(f->s, mem_read, &m, NULL, NULL, &err), 0);
    assert_false(fl_store_is_valid(f->s, a));
    assert_false(fl_store_is_valid(f->s, b));
    m.p = stream.buf;
    m.left = stream.len;
    char **got = NULL;
    size_t ngot = 0;
    assert_int_equal(fl_store_import_from(f->s, mem_read, &m, &got, &ngot, &err), 0);
    assert_int_equal(ngot, 2);
    assert_int_equal(m.left, 0);
    assert_true(fl_store_is_valid(f->s, a));
    assert_true(fl_store_is_valid(f->s, b));
    fl_store_free_paths(got, ngot);
    fl_strbuf_release(&stream);
    fl_error_clear(&err);
    free(st);
    free(old);
    free(a);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unregistered_leftover_is_invalid_and_replaced,
                                        store_fixture_setup, store_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_temp_and_corrupt_entries_are_not_valid,
                                        store_fixture_setup, store_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_empty_entry_is_unregistered_and_replaced,
                                        store_fixture_setup, store_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_text_references_and_closure, store_fixture_setup,
                                        store_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_build_registers_references_and_deriver,
                                        store_fixture_setup, store_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_filtered_add, store_fixture_setup,
                                        store_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_export_import_over_callbacks, store_fixture_setup,
                                        store_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
