/* test_pending.c - a deployment's pending root (gcroots/pending/<id>): gc keeps every path
 * it names, valid or not yet, while it is fresh; drops it (and so the paths) once it has gone
 * FL_STORE_PENDING_MAX_AGE without renewal, but not with --dry-run; a hold renews it; ids that
 * could form a path are refused; a killed write's temporary goes with the next gc. A record
 * claimed by a live process (an activation, here a forked child paused on a pipe) is kept
 * however old; once that process is killed, the age rule drops it again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

#include "fixture.h"

typedef store_fixture fixture;

static void gc(fixture *f, int dry_run, char **report) {
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    fl_store_gc_result res;
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_store_gc(f->s, f->dir, 0, dry_run, out, &res, &err), 0);
    fclose(out);
    if (report)
        *report = buf;
    else
        free(buf);
}

/* A gc (dry_run or not) whose report says needle. */
static void gc_says(fixture *f, int dry_run, const char *needle) {
    char *report = NULL;
    gc(f, dry_run, &report);
    assert_non_null(strstr(report, needle));
    free(report);
}

static char *record(fixture *f, const char *id) {
    return fl_xasprintf("%s/gcroots/pending/%s", f->state, id);
}

static void age(const char *file, time_t seconds) {
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= seconds;
    t[1] = t[0];
    assert_int_equal(utimensat(AT_FDCWD, file, t, 0), 0);
}

static void test_fresh_keeps_stale_drops(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *a = NULL, *b = NULL;
    assert_int_equal(fl_store_add_text(f->s, "a", "A", 1, NULL, 0, &a, &err), 0);
    assert_int_equal(fl_store_add_text(f->s, "b", "B", 1, NULL, 0, &b, &err), 0);
    /* b is held later, by an import: first only a and a path not there yet. */
    char *later = fl_xasprintf("%s/00000000000000000000000000000000-later", fl_store_dir(f->s));
    const char *first[] = {a, later, "/elsewhere/not-a-store-path"};
    assert_int_equal(fl_store_pending_hold(f->s, "dep1", first, 3, &err), 0);
    const char *second[] = {b};
    assert_int_equal(fl_store_pending_hold(f->s, "dep1", second, 1, &err), 0);
    char *rec = record(f, "dep1"), *text = NULL;
    size_t len = 0;
    assert_int_equal(fl_read_file(rec, &text, &len, &err), 0);
    assert_non_null(strstr(text, a));
    assert_non_null(strstr(text, b));
    assert_non_null(strstr(text, later));
    assert_null(strstr(text, "/elsewhere"));
    free(text);
    gc(f, 0, NULL);
    assert_true(fl_store_is_valid(f->s, a));
    assert_true(fl_store_is_valid(f->s, b));
    /* Stale: a dry run says so and keeps everything; a gc drops the record and the paths. */
    age(rec, FL_STORE_PENDING_MAX_AGE + 60);
    gc_says(f, 1, "would drop stale pending root dep1");
    assert_true(fl_path_exists(rec));
    assert_true(fl_store_is_valid(f->s, a));
    gc_says(f, 0, "dropping stale pending root dep1");
    assert_false(fl_path_exists(rec));
    assert_false(fl_store_is_valid(f->s, a));
    assert_false(fl_store_is_valid(f->s, b));
    free(rec);
    free(later);
    free(a);
    free(b);
}

/* A new store path that only the record id holds. */
static char *held_path(fixture *f, const char *id) {
    fl_error err = FL_ERROR_INIT;
    char *a = NULL;
    assert_int_equal(fl_store_add_text(f->s, "a", "A", 1, NULL, 0, &a, &err), 0);
    const char *paths[] = {a};
    assert_int_equal(fl_store_pending_hold(f->s, id, paths, 1, &err), 0);
    return a;
}

static void test_renewal_and_drop(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *a = held_path(f, "dep2");
    char *rec = record(f, "dep2");
    age(rec, FL_STORE_PENDING_MAX_AGE + 60);
    /* A hold with nothing new (an import starting) renews it. */
    assert_int_equal(fl_store_pending_hold(f->s, "dep2", NULL, 0, &err), 0);
    gc(f, 0, NULL);
    assert_true(fl_store_is_valid(f->s, a));
    fl_store_pending_drop(f->s, "dep2");
    assert_false(fl_path_exists(rec));
    fl_store_pending_drop(f->s, "dep2"); /* nothing there: nothing happens */
    gc(f, 0, NULL);
    assert_false(fl_store_is_valid(f->s, a));
    free(rec);
    free(a);
}

static void test_ids_and_temporaries(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    const char *bad[] = {"",
                         "..",
                         "a/b",
                         "../x",
                         ".hidden",
                         "a b",
                         "0123456789012345678901234567890123456789012345678901234567890123x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_false(fl_store_pending_id_valid(bad[i]));
        assert_int_equal(fl_store_pending_hold(f->s, bad[i], NULL, 0, &err), FL_EUSAGE);
        assert_non_null(strstr(err.message, "pending root id"));
        fl_error_clear(&err);
    }
    assert_true(fl_store_pending_id_valid("0123456789abcdef0123456789abcdef"));
    assert_true(fl_store_pending_id_valid("deploy_web-1"));
    assert_int_equal(fl_store_pending_hold(f->s, "dep3", NULL, 0, &err), 0);
    char *tmp = fl_xasprintf("%s/gcroots/pending/dep3.tmp-1-2", f->state);
    FILE *t = fopen(tmp, "w");
    assert_non_null(t);
    fclose(t);
    gc(f, 0, NULL);
    assert_false(fl_path_exists(tmp));
    char *rec = record(f, "dep3");
    assert_true(fl_path_exists(rec));
    free(rec);
    free(tmp);
}

static void test_claimed_while_owner_lives(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *a = held_path(f, "dep4");
    int ready[2], hold[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(hold), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* The activating process: claims, says so, then waits (paused) until killed. */
        int fd = -1;
        char c = fl_store_pending_claim(f->s, "dep4", &fd, &err) == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1)
            _exit(2);
        while (read(hold[0], &c, 1) < 0)
            ;
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    char *rec = record(f, "dep4");
    char *lock = fl_xasprintf("%s.lock", rec);
    assert_true(fl_path_exists(lock));
    /* Older than the limit, but its owner lives: kept, and so is the path. */
    age(rec, FL_STORE_PENDING_MAX_AGE + 600);
    char *report = NULL;
    gc(f, 0, &report);
    assert_null(strstr(report, "dep4"));
    free(report);
    assert_true(fl_path_exists(rec));
    assert_true(fl_store_is_valid(f->s, a));
    /* Killed: no owner any more, and the record is stale. */
    kill(child, SIGKILL);
    assert_int_equal(waitpid(child, NULL, 0), child);
    gc_says(f, 1,
            "would drop stale pending root dep4 (its activating process "
            "is gone;");
    assert_true(fl_store_is_valid(f->s, a));
    gc_says(f, 0, "dropping stale pending root dep4");
    assert_false(fl_path_exists(rec));
    assert_false(fl_path_exists(lock));
    assert_false(fl_store_is_valid(f->s, a));
    /* A lock file nobody holds, of no record (a drop killed halfway), goes too. */
    FILE *t = fopen(lock, "w");
    assert_non_null(t);
    fclose(t);
    gc(f, 0, NULL);
    assert_false(fl_path_exists(lock));
    close(ready[0]);
    close(ready[1]);
    close(hold[0]);
    close(hold[1]);
    free(lock);
    free(rec);
    free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_keeps_stale_drops, store_fixture_setup,
                                        store_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_renewal_and_drop, store_fixture_setup,
                                        store_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ids_and_temporaries, store_fixture_setup,
                                        store_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_claimed_while_owner_lives, store_fixture_setup,
                                        store_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
