/* test_lexer.c - tokens, their positions, and Nix's longest-match traps. */
#include "helpers.h"
#include "lang/internal.h"

static int lex(fl_lang *L, const char *src, Token **t, size_t *n) {
    State *S = (State *)L;
    extern uint32_t lang_add_source(State * S, const char *name, const char *dir);
    uint32_t fid = lang_add_source(S, "lex.nix", "/tmp");
    return lang_lex_all(S, src, strlen(src), fid, t, n);
}

static void test_tokens_have_positions(void **state) {
    (void)state;
    fl_lang *L = fl_lang_new(NULL);
    Token *t;
    size_t n;
    assert_int_equal(lex(L, "let\n  x = 1.5;\nin x", &t, &n), 0);
    assert_int_equal(t[0].type, T_LET);
    assert_int_equal(t[1].type, T_ID);
    assert_int_equal(t[1].line, 2);
    assert_int_equal(t[1].col, 3);
    assert_int_equal(t[3].type, T_FLOAT);
    assert_true(t[3].f == 1.5);
    assert_int_equal(t[5].type, T_IN);
    assert_int_equal(t[5].line, 3);
    free(t);
    fl_lang_free(L);
}

static void test_longest_match_traps(void **state) {
    (void)state;
    fl_lang *L = fl_lang_new(NULL);
    Token *t;
    size_t n;
    /* 1.0/3 is a path, x:x a URI, a-b an identifier, 1e6 is 1 then e6 */
    assert_int_equal(lex(L, "1.0/3 x:x a-b 1e6", &t, &n), 0);
    assert_int_equal(t[0].type, T_PATH);
    assert_int_equal(t[1].type, T_PATH_END);
    assert_int_equal(t[2].type, T_URI);
    assert_int_equal(t[3].type, T_ID);
    assert_int_equal(t[3].len, 3);
    assert_int_equal(t[4].type, T_INT);
    assert_int_equal(t[5].type, T_ID);
    free(t);
    fl_lang_free(L);
}

static void test_string_escapes(void **state) {
    (void)state;
    fl_lang *L = fl_lang_new(NULL);
    Token *t;
    size_t n;
    assert_int_equal(lex(L, "\"a\\nb\\$c$${x}\"", &t, &n), 0);
    assert_int_equal(t[0].type, T_DQUOTE);
    assert_int_equal(t[1].type, T_STR);
    assert_int_equal(t[1].len, strlen("a\nb$c$${x}"));
    assert_memory_equal(t[1].s, "a\nb$c$${x}", t[1].len);
    assert_int_equal(t[2].type, T_DQUOTE_END);
    free(t);
    fl_lang_free(L);
}

static void test_lex_errors_are_located(void **state) {
    (void)state;
    assert_eval("1 + /nix/store/", "error: path has a trailing slash @1:5");
    assert_eval("\"abc", "error: syntax error, unexpected end of file, expecting '\"' @1:2");
    assert_eval("1 /* x", "error: syntax error, unexpected '*' @1:4"); /* as Nix 2.8 */
    assert_eval("1 ` 2", "error: syntax error, unexpected character '`' @1:3");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_have_positions),
        cmocka_unit_test(test_longest_match_traps),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_lex_errors_are_located),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
