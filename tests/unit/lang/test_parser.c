/* test_parser.c - grammar, precedence, attribute paths, indented strings, syntax errors.
 * Expected outputs were taken from nix-instantiate 2.8 --eval --strict. */
#include "helpers.h"

static void test_precedence(void **state) {
    (void)state;
    assert_eval("1 + 2 * 3 - 4 / 2", "5");
    assert_eval("false || true && false", "false");
    assert_eval("!true == false", "true");
    assert_eval("true -> false -> true", "true");
    assert_eval("[ 1 ] ++ [ 2 ] ++ [ 3 ]", "[ 1 2 3 ]");
    assert_eval("{ a = 1; } // { b = 2; } // { a = 3; }", "{ a = 3; b = 2; }");
    assert_eval("1 - 2 - 3", "-4");
    assert_eval("10 / 3 * 3", "9");
    assert_eval("5 - -2", "7");
    assert_eval("{ x = 1; } ? x", "true");
}

static void test_attr_paths_and_inherit(void **state) {
    (void)state;
    assert_eval("{ a.b.c = 1; a.d = [ { x = 1; } ]; }",
                "{ a = { b = { c = 1; }; d = [ { x = 1; } ]; }; }");
    assert_eval("{ a = { b = 1; }; a.c = 2; }", "{ a = { b = 1; c = 2; }; }");
    assert_eval("let a = { x = 1; y = 2; }; in { inherit (a) x y; }", "{ x = 1; y = 2; }");
    assert_eval("let x = 1; in rec { x = 2; y = x; }", "{ x = 2; y = 2; }");
    assert_eval("{ \"${\"a\" + \"b\"}\" = 1; c = 2; }", "{ ab = 1; c = 2; }");
    assert_eval("{ ${null} = 1; a = 2; }", "{ a = 2; }");
    assert_eval("let s = { a.b.c = 1; }; in s.a.x.c or 5", "5");
}

static void test_lambdas(void **state) {
    (void)state;
    assert_eval("let f = { a, b ? a + 1, ... }@args: [ a b args ]; in f { a = 1; c = 3; }",
                "[ 1 2 { a = 1; c = 3; } ]");
    assert_eval("let f = args@{ a, b ? 2 }: [ a b args ]; in f { a = 1; }",
                "[ 1 2 { a = 1; } ]");
    assert_eval("(x: y: x - y) 5 3", "2");
}

static void test_indented_strings(void **state) {
    (void)state;
    assert_eval("''\n  indented\n    more\n''", "\"indented\\n  more\\n\"");
    assert_eval("''\n  a\n    b\n  c\n''", "\"a\\n  b\\nc\\n\"");
    assert_eval("''  ''' ''$ ''\\t x''", "\"'' $ \\t x\"");
    assert_eval("''${\"a\"}  b''", "\"a  b\"");
    assert_eval("''\n   a\n  ''${b}\n''", "\" a\\n\\${b}\\n\"");
}

static void test_with_scoping(void **state) {
    (void)state;
    assert_eval("with { a = 1; }; with { a = 2; b = 3; }; [ a b ]", "[ 2 3 ]");
    assert_eval("let a = 5; in with { a = 1; }; a", "5");
    assert_eval("with { x = 1; }; with { y = x; }; y", "1");
}

static void test_syntax_errors_say_what_was_expected(void **state) {
    (void)state;
    assert_eval("(1", "error: syntax error, unexpected end of file, expecting ')' @1:2");
    assert_eval("if 1 then 2", "error: syntax error, unexpected end of file, expecting 'else' @1:11");
    assert_eval("1 == 2 == 3", "error: syntax error, unexpected '==' @1:8");
    assert_eval("{ a = 1; a = 2; }", "error: attribute 'a' already defined at test.nix:1:3 @1:10");
    assert_eval("{ a.b = 1; a.b = 2; }",
                "error: attribute 'a.b' already defined at test.nix:1:3 @1:12");
    assert_eval("let ${\"a\" + \"b\"} = 1; in 2",
                "error: dynamic attributes not allowed in let @1:1");
    assert_eval("{ a, a }: a", "error: duplicate formal function argument 'a' @1:6");
    assert_eval("let foo = 1; in fooo", "error: undefined variable 'fooo' @1:17");
}

/* Positions of syntax errors as Nix 2.8's flex/bison locate them (see docs/testing.md). */
static void test_syntax_error_positions(void **state) {
    (void)state;
    char *got = eval_strict("[ /nix/store/ ]");
    assert_non_null(strstr(got, "path has a trailing slash @1:14"));
    free(got);
    got = eval_strict("1 + /nix/store/");
    assert_non_null(strstr(got, "path has a trailing slash @1:5"));
    free(got);
    got = eval_strict("/a//b + 1");
    assert_non_null(strstr(got, "syntax error, unexpected end of path, expecting '${'"));
    assert_non_null(strstr(got, "@1:4"));
    free(got);
    assert_eval("/a//b${\"c\"}", "/a/bc");
    got = eval_strict("let x = ./a");
    assert_non_null(strstr(got, "@1:8"));
    free(got);
    got = eval_strict("1 /* never closed");
    assert_non_null(strstr(got, "syntax error, unexpected '*'"));
    assert_non_null(strstr(got, "@1:4"));
    free(got);
    assert_eval("let a = 1; ${toString 1} = 2; in a",
                "error: dynamic attributes not allowed in let @1:1");
    assert_eval("let a.${\"b\"} = 1; in a", "{ b = 1; }");
    got = eval_strict("let f = { a } a; in f");
    assert_non_null(strstr(got, "@1:15"));
    free(got);
    got = eval_strict("x@y: x");
    assert_non_null(strstr(got, "expecting '{' @1:3"));
    free(got);
    assert_eval("1 or 2 or", "error: undefined variable 'or' @1:1");
    assert_eval("let or = 1; f = x: x + 1; in f or", "2");
}

/* Nix orders formals, and attributes, by when their names were interned, which its parser
 * does for a formal after the formal's default and for a lambda's argument after the body. */
static void test_symbol_order_follows_nix_reductions(void **state) {
    (void)state;
    assert_eval("let f = { a ? b, b ? a }: a; in f { }",
                "error: infinite recursion encountered @1:22");
    assert_eval("({ b ? a, a ? b }: a) { }", "error: infinite recursion encountered @1:15");
    assert_eval("let f = q: f.p; g = { q = throw \"q\"; p = throw \"p\"; }; in g",
                "error: p @1:42");
    assert_eval("{ p, q, q, p }: 1", "error: duplicate formal function argument 'p' @1:12");
    char *got = eval_strict("{ a, a }: (");
    assert_non_null(strstr(got, "syntax error, unexpected end of file"));
    free(got);
    got = eval_strict("({ q ? r, p, r }: 1) { }");
    assert_non_null(strstr(got, "called without required argument 'r'"));
    free(got);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_attr_paths_and_inherit),
        cmocka_unit_test(test_lambdas),
        cmocka_unit_test(test_indented_strings),
        cmocka_unit_test(test_with_scoping),
        cmocka_unit_test(test_syntax_errors_say_what_was_expected),
        cmocka_unit_test(test_syntax_error_positions),
        cmocka_unit_test(test_symbol_order_follows_nix_reductions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
