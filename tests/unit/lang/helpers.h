/* helpers.h - shared by the language's unit tests: evaluate and print, capture errors. */
#ifndef FLAKECTL_TEST_LANG_HELPERS_H
#define FLAKECTL_TEST_LANG_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/lang.h"

/* Evaluates src (base dir /tmp) with cfg (NULL: the defaults) and prints it like
 * nix-instantiate --eval [--strict]; returns the output or, on error,
 * "error: <message> @<line>:<col>". Caller frees. */
static inline char *eval_print_cfg(const fl_lang_config *cfg, const char *src, int strict,
                                   int json) {
    fl_lang *L = fl_lang_new(cfg);
    fl_error err = FL_ERROR_INIT;
    fl_value *v = NULL;
    fl_strbuf out;
    fl_strbuf_init(&out, 0);
    int rc = fl_lang_eval_string(L, src, "test.nix", "/tmp", &v, &err);
    if (rc == 0)
        rc = json ? fl_lang_print_json(L, v, strict, &out, &err)
                  : fl_lang_print(L, v, strict, &out, &err);
    char *res;
    if (rc < 0) {
        res = fl_xasprintf("error: %s @%d:%d", err.message, err.line, err.col);
        fl_error_clear(&err);
    } else {
        res = fl_xstrdup(out.buf);
    }
    fl_strbuf_release(&out);
    fl_lang_free(L);
    return res;
}

static inline char *eval_print_mode(const char *src, int strict, int json) {
    return eval_print_cfg(NULL, src, strict, json);
}

static inline char *eval_strict(const char *src) {
    return eval_print_mode(src, 1, 0);
}

#define assert_eval(src, expected)                                                             \
    do {                                                                                       \
        char *got_ = eval_strict(src);                                                         \
        if (strcmp(got_, expected) != 0)                                                       \
            print_error("for %s\n  expected: %s\n  got:      %s\n", src, expected, got_);      \
        assert_string_equal(got_, expected);                                                   \
        free(got_);                                                                            \
    } while (0)

#define assert_eval_mode(src, strict, json, expected)                                          \
    do {                                                                                       \
        char *got_ = eval_print_mode(src, strict, json);                                       \
        if (strcmp(got_, expected) != 0)                                                       \
            print_error("for %s\n  expected: %s\n  got:      %s\n", src, expected, got_);      \
        assert_string_equal(got_, expected);                                                   \
        free(got_);                                                                            \
    } while (0)

#endif
