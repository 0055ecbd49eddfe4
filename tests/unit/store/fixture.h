/* fixture.h - shared by the store's unit tests: a fresh store in a temporary directory (with a
 * small file to add), and a NAR or export stream held in memory. */
#ifndef FLAKECTL_TEST_STORE_FIXTURE_H
#define FLAKECTL_TEST_STORE_FIXTURE_H

#include <cmocka.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/fs.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

/* dir: the temporary directory; state: dir/state, the store's state directory; src:
 * dir/hello.txt ("hello\n"). */
typedef struct store_fixture {
    char *dir, *state, *src;
    fl_store *s;
} store_fixture;

/* cmocka group/test set-up: *state becomes a store_fixture; store_fixture_teardown frees it
 * and removes the directory. */
static inline int store_fixture_setup(void **state) {
    store_fixture *f = fl_xcalloc(1, sizeof *f);
    fl_error err = FL_ERROR_INIT;
    f->dir = fl_make_temp_dir("/tmp", "fl-store-", &err);
    if (!f->dir) {
        fl_error_clear(&err);
        free(f);
        return -1;
    }
    f->state = fl_path_join(f->dir, "state");
    f->src = fl_path_join(f->dir, "hello.txt");
    *state = f;
    if (fl_store_open(f->state, &f->s, &err)) {
        fl_error_clear(&err);
        return -1;
    }
    FILE *fp = fopen(f->src, "w");
    if (!fp)
        return -1;
    fputs("hello\n", fp);
    fclose(fp);
    return 0;
}

static inline int store_fixture_teardown(void **state) {
    store_fixture *f = *state;
    fl_error err = FL_ERROR_INIT;
    if (f->s)
        fl_store_close(f->s);
    fl_remove_tree(f->dir, &err);
    fl_error_clear(&err);
    free(f->dir);
    free(f->state);
    free(f->src);
    free(f);
    return 0;
}

/* A sink appending to the fl_strbuf ctx. */
static inline int mem_sink(void *ctx, const void *data, size_t len, fl_error *err) {
    (void)err;
    fl_strbuf_add(ctx, data, len);
    return 0;
}

/* A source reading the next bytes of p; asking for more than is left is an error, as a
 * stream cut short is. */
typedef struct mem_src {
    const char *p;
    size_t left;
} mem_src;

static inline int mem_read(void *ctx, void *buf, size_t len, fl_error *err) {
    mem_src *m = ctx;
    if (len > m->left)
        return fl_error_set(err, FL_EPARSE, "the stream ends early");
    memcpy(buf, m->p, len);
    m->p += len;
    m->left -= len;
    return 0;
}

#endif
