/* test_fetch.c - fl_fetch_url_to_fd over file:// (the HTTP side is tests/e2e/store_fetch.sh
 * with a real server): every byte arrives, the progress callback sees them and can stop the
 * transfer, a missing file and a protocol outside http/https/file are errors naming the URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

#define SIZE (3u * 1024 * 1024 + 17)

typedef struct fixture {
    char *dir, *src, *dst, *url;
    unsigned char *data;
} fixture;

static int setup(void **state) {
    fixture *f = fl_xcalloc(1, sizeof *f);
    fl_error err = FL_ERROR_INIT;
    f->dir = fl_make_temp_dir("/tmp", "fl-fetch-", &err);
    assert_non_null(f->dir);
    f->src = fl_path_join(f->dir, "src");
    f->dst = fl_path_join(f->dir, "dst");
    f->url = fl_xasprintf("file://%s", f->src);
    f->data = fl_xmalloc(SIZE);
    for (size_t i = 0; i < SIZE; i++)
        f->data[i] = (unsigned char)(i * 7 + i / 4096);
    assert_int_equal(fl_atomic_write_file(f->src, f->data, SIZE, 0644, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    fl_remove_tree(f->dir, &err);
    fl_error_clear(&err);
    free(f->dir);
    free(f->src);
    free(f->dst);
    free(f->url);
    free(f->data);
    free(f);
    return 0;
}

typedef struct progress {
    uint64_t last, calls, stop_after;
} progress;

static int on_progress(void *ctx, uint64_t received, uint64_t total) {
    progress *p = ctx;
    (void)total;
    assert_true(received >= p->last); /* never goes backwards */
    p->last = received;
    p->calls++;
    return p->stop_after && received >= p->stop_after;
}

/* Downloads url into a fresh f->dst; the fetch's result. */
static int fetch_to_dst(fixture *f, const char *url, progress *p, fl_error *err) {
    int fd = open(f->dst, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    int rc = fl_fetch_url_to_fd(url, fd, p ? on_progress : NULL, p, err);
    close(fd);
    return rc;
}

static void test_file_url_arrives_whole(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    progress p = {0, 0, 0};
    assert_int_equal(fetch_to_dst(f, f->url, &p, &err), 0);
    char *got = NULL;
    size_t len = 0;
    assert_int_equal(fl_read_file(f->dst, &got, &len, &err), 0);
    assert_int_equal(len, SIZE);
    assert_memory_equal(got, f->data, SIZE);
    free(got);
    assert_true(p.calls > 0);
    assert_int_equal(p.last, SIZE);
}

static void test_progress_can_stop_it(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    progress p = {0, 0, 1};
    assert_true(fetch_to_dst(f, f->url, &p, &err) < 0);
    assert_non_null(strstr(err.message, "interrupted"));
    assert_non_null(strstr(err.message, f->url));
    fl_error_clear(&err);
}

static void test_missing_file_and_other_protocols_refused(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *missing = fl_xasprintf("file://%s/nothing-here", f->dir);
    assert_true(fetch_to_dst(f, missing, NULL, &err) < 0);
    assert_non_null(strstr(err.message, missing));
    fl_error_clear(&err);
    free(missing);
    assert_true(fetch_to_dst(f, "dict://127.0.0.1/x", NULL, &err) < 0);
    assert_non_null(strstr(err.message, "cannot download dict://127.0.0.1/x"));
    fl_error_clear(&err);
    struct stat st;
    assert_int_equal(stat(f->dst, &st), 0);
    assert_int_equal(st.st_size, 0); /* nothing was written */
}

/* An empty file has no first byte: the end of the transfer starts the body, and the download
 * is an empty file, not an error. */
static void test_empty_file_arrives(void **state) {
    fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    char *empty = fl_path_join(f->dir, "empty");
    int fd = open(empty, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    close(fd);
    char *url = fl_xasprintf("file://%s", empty);
    assert_int_equal(fetch_to_dst(f, url, NULL, &err), 0);
    struct stat st;
    assert_int_equal(stat(f->dst, &st), 0);
    assert_int_equal(st.st_size, 0);
    unlink(empty);
    free(url);
    free(empty);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_url_arrives_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_can_stop_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file_arrives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_and_other_protocols_refused, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
