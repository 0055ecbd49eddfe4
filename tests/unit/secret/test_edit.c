/* test_edit.c - fl_secret_edit and fl_secret_rekey with real editors (shell commands): the
 * private temporary is 0700/0600 and always removed, unchanged content leaves the file as it
 * was, a failing editor or key changes nothing, rekey is all or nothing. */
/* cmocka needs these first, in this order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/secret.h"
#include "flakectl/strbuf.h"

typedef struct fixture {
    char *dir, *tmp; /* tmp: where the edit copies go */
    fl_age_recipients r, r2;
    fl_age_identities ids, ids2, both;
} fixture;

static void add_key(fl_age_recipients *r, fl_age_identities *ids, fl_age_identities *both) {
    fl_error err = FL_ERROR_INIT;
    char *secret, *pub;
    fl_age_keygen(&secret, &pub);
    assert_int_equal(fl_age_recipient_add(r, pub, "test", &err), 0);
    assert_int_equal(fl_age_identity_add_string(ids, secret, "test-key", &err), 0);
    assert_int_equal(fl_age_identity_add_string(both, secret, "test-key", &err), 0);
    free(secret);
    free(pub);
}

static int setup(void **state) {
    fixture *f = fl_xcalloc(1, sizeof *f);
    f->dir = fl_make_temp_dir("/tmp", "fl-edit-test-", NULL);
    assert_non_null(f->dir);
    f->tmp = fl_path_join(f->dir, "tmp");
    assert_int_equal(fl_mkdir_p(f->tmp, 0755, NULL), 0);
    add_key(&f->r, &f->ids, &f->both);
    add_key(&f->r2, &f->ids2, &f->both);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    fl_remove_tree(f->dir, NULL);
    free(f->dir);
    free(f->tmp);
    fl_age_recipients_release(&f->r);
    fl_age_recipients_release(&f->r2);
    fl_age_identities_release(&f->ids);
    fl_age_identities_release(&f->ids2);
    fl_age_identities_release(&f->both);
    free(f);
    return 0;
}

static int dir_is_empty(const char *path) {
    DIR *d = opendir(path);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n == 0;
}

static char *plaintext(const char *path, const fl_age_identities *ids) {
    unsigned char *data;
    size_t len;
    fl_error err = FL_ERROR_INIT;
    if (fl_age_decrypt_to_memory(path, ids, &data, &len, &err) != 0) {
        fl_error_clear(&err);
        return NULL;
    }
    char *s = fl_xstrndup((const char *)data, len);
    fl_age_plaintext_free(data, len);
    return s;
}

static char *slurp(const char *path) {
    char *d;
    size_t l;
    assert_int_equal(fl_read_file(path, &d, &l, NULL), 0);
    return d;
}

static void test_edit_creates_then_changes(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *path = fl_path_join(f->dir, "db.age");
    char *perms = fl_path_join(f->dir, "perms");
    char *editor = fl_xasprintf("stat -c %%a \"$(dirname \"$1\")\" > %s; stat -c %%a \"$1\" >> "
                                "%s; printf 'pw=1' >",
                                perms, perms);
    int changed = -1;
    assert_int_equal(fl_secret_edit(path, &f->r, &f->ids, editor, f->tmp, &changed, &err), 0);
    assert_int_equal(changed, 1);
    char *p = plaintext(path, &f->ids), *pm = slurp(perms);
    assert_string_equal(p, "pw=1");
    assert_string_equal(pm, "700\n600\n");
    assert_true(dir_is_empty(f->tmp));
    free(p);
    free(pm);
    /* The editor sees the current plaintext and its change is saved. */
    assert_int_equal(fl_secret_edit(path, &f->r, &f->ids, "sed -i s/1/2/", f->tmp, &changed, &err),
                     0);
    assert_int_equal(changed, 1);
    p = plaintext(path, &f->ids);
    assert_string_equal(p, "pw=2");
    assert_true(dir_is_empty(f->tmp));
    free(p);
    free(editor);
    free(perms);
    free(path);
}

static void test_edit_unchanged_or_failed_leaves_file(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *path = fl_path_join(f->dir, "x.age");
    const unsigned char secret[] = "s3cret";
    assert_int_equal(fl_age_encrypt_memory_to_file(secret, 6, path, &f->r, 1, &err), 0);
    char *before = slurp(path);
    struct stat st1, st2;
    assert_int_equal(stat(path, &st1), 0);
    int changed = -1;
    /* No change: not rewritten (same inode, same bytes). */
    assert_int_equal(fl_secret_edit(path, &f->r, &f->ids, "true", f->tmp, &changed, &err), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(stat(path, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);
    char *after = slurp(path);
    assert_string_equal(before, after);
    free(after);
    /* A failing editor: error, file untouched, no plaintext left. */
    assert_int_not_equal(
        fl_secret_edit(path, &f->r, &f->ids, "echo junk >> \"$1\"; false", f->tmp, &changed, &err),
        0);
    assert_non_null(strstr(err.message, "exited with status 1"));
    fl_error_clear(&err);
    after = slurp(path);
    assert_string_equal(before, after);
    assert_true(dir_is_empty(f->tmp));
    free(after);
    /* The wrong key: error naming the file, nothing created. */
    assert_int_not_equal(fl_secret_edit(path, &f->r, &f->ids2, "true", f->tmp, &changed, &err), 0);
    assert_non_null(strstr(err.message, path));
    fl_error_clear(&err);
    assert_true(dir_is_empty(f->tmp));
    /* A real change keeps the armored form. */
    assert_int_equal(fl_secret_edit(path, &f->r, &f->ids, "printf new >", f->tmp, &changed, &err),
                     0);
    after = slurp(path);
    assert_memory_equal(after, "-----BEGIN AGE ENCRYPTED FILE-----", 34);
    free(after);
    /* An empty new file is not created. */
    char *fresh = fl_path_join(f->dir, "fresh.age");
    assert_int_equal(fl_secret_edit(fresh, &f->r, &f->ids, "true", f->tmp, &changed, &err), 0);
    assert_false(fl_path_exists(fresh));
    free(fresh);
    free(before);
    free(path);
}

static void test_rekey_all_or_nothing(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *paths[3];
    fl_secret_rekey_file files[3];
    char *before[3];
    for (int i = 0; i < 3; i++) {
        paths[i] = fl_xasprintf("%s/s%d.age", f->dir, i);
        char content[16];
        snprintf(content, sizeof content, "secret %d", i);
        /* The last file is readable only by the second key. */
        assert_int_equal(fl_age_encrypt_memory_to_file((unsigned char *)content, strlen(content),
                                                       paths[i], i == 2 ? &f->r2 : &f->r, 0, &err),
                         0);
        before[i] = slurp(paths[i]);
        files[i].path = paths[i];
        files[i].recipients = &f->r2;
    }
    /* With only the first key, the third file cannot be opened: nothing changes. */
    assert_int_not_equal(fl_secret_rekey(files, 3, &f->ids, &err), 0);
    assert_non_null(strstr(err.message, paths[2]));
    fl_error_clear(&err);
    for (int i = 0; i < 3; i++) {
        char *now = slurp(paths[i]);
        assert_string_equal(now, before[i]);
        free(now);
    }
    assert_true(dir_is_empty(f->tmp));
    /* With both keys all three move to the second key only. */
    assert_int_equal(fl_secret_rekey(files, 3, &f->both, &err), 0);
    for (int i = 0; i < 3; i++) {
        char want[16];
        snprintf(want, sizeof want, "secret %d", i);
        char *p = plaintext(paths[i], &f->ids2);
        assert_non_null(p);
        assert_string_equal(p, want);
        free(p);
        if (i < 2)
            assert_null(plaintext(paths[i], &f->ids));
        free(paths[i]);
        free(before[i]);
    }
    char *cmd = fl_xasprintf("ls -a %s | grep -q tmp-", f->dir);
    assert_int_not_equal(system(cmd), 0);
    free(cmd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_edit_creates_then_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit_unchanged_or_failed_leaves_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rekey_all_or_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
