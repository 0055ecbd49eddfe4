/* test_print.c - the printer's exact bytes (NIX-PRINT-FORMAT.md): floats, strings, attribute
 * names, «repeated» by identity including Nix's inline small lists, functions, JSON. */
#include "helpers.h"

static void test_scalars(void **state) {
    (void)state;
    assert_eval("9223372036854775807 + 1", "-9223372036854775808");
    assert_eval("(-7) / 2", "-3");
    assert_eval("[ 1.0 2.5 (0.1 + 0.2) (1.0 / 3) 123456.0 1234567.0 9999995.0 0.00001 ]",
                "[ 1 2.5 0.3 0.333333 123456 1.23457e+06 1e+07 1e-05 ]");
    assert_eval("[ (1.0e300 * 1.0e300) (-(1.0e300 * 1.0e300)) ]", "[ inf -inf ]");
    assert_eval("toString 1.0", "\"1.000000\"");
    assert_eval("1 / 0", "error: division by zero @1:1");
}

static void test_strings(void **state) {
    (void)state;
    assert_eval("\"a\\\"b\\\\c\\nd\\re\\tf\"", "\"a\\\"b\\\\c\\nd\\re\\tf\"");
    assert_eval("\"${\"$\"}{x} $x $$ ${\"$\"}\"", "\"\\${x} $x $$ $\"");
    assert_eval("\"$${x}\"", "\"$\\${x}\"");
    assert_eval("\"\\u00e9\"", "\"u00e9\"");
}

static void test_attr_names(void **state) {
    (void)state;
    assert_eval("{ B = 1; _a = 2; b = 3; \"1\" = 4; \"\" = 5; \"a b\" = 6; \"if\" = 7; "
                "\"then\" = 8; \"a$b\" = 9; \"a-b'\" = 10; \"a.b\" = 12; \"let\" = 15; }",
                "{ \"\" = 5; \"1\" = 4; B = 1; _a = 2; \"a b\" = 6; \"a\\$b\" = 9; a-b' = 10; "
                "\"a.b\" = 12; b = 3; \"if\" = 7; let = 15; then = 8; }");
}

static void test_repeated(void **state) {
    (void)state;
    assert_eval("let x = { a = 1; }; in [ x x ]", "[ { a = 1; } «repeated» ]");
    assert_eval("let x = { a = 1; }; in [ x (x // {}) ]", "[ { a = 1; } «repeated» ]");
    assert_eval("let x = { a.b = 1; }; in [ x.a x.a.b x ]", "[ { b = 1; } 1 { a = «repeated»; } ]");
    assert_eval("[ [1 2] [1 2] ]", "[ [ 1 2 ] [ 1 2 ] ]");
    assert_eval("let x = { }; in [ x x ]", "[ { } { } ]");
    assert_eval("let x = [ x 1 2 ]; in x", "[ «repeated» 1 2 ]");
    assert_eval("rec { a = { inherit b; }; b = { inherit a; }; }",
                "{ a = { b = { a = «repeated»; }; }; b = «repeated»; }");
    /* the trap: 1- and 2-element lists live in the value cell, copies are new lists */
    assert_eval("let x = [ 1 2 ]; in [ x x ]", "[ [ 1 2 ] «repeated» ]");
    assert_eval("let x = [ 1 2 ]; in [ x (builtins.seq 0 x) ]", "[ [ 1 2 ] [ 1 2 ] ]");
    assert_eval("let x = [ 1 2 ]; in [ x (if true then x else 0) ]", "[ [ 1 2 ] [ 1 2 ] ]");
    assert_eval("let x = [ 1 ]; in { a = x; b = (y: y) x; }", "{ a = [ 1 ]; b = [ 1 ]; }");
    assert_eval("let x = [ 1 2 3 ]; in [ x (builtins.seq 0 x) ]", "[ [ 1 2 3 ] «repeated» ]");
}

static void test_functions_and_json(void **state) {
    (void)state;
    assert_eval("[ (x: x) ({ a, ... }: a) map (map (x: x)) builtins.add (builtins.add 1) ]",
                "[ <LAMBDA> <LAMBDA> <PRIMOP> <PRIMOP-APP> <PRIMOP> <PRIMOP-APP> ]");
    assert_eval_mode("{ b = [ 1.0 \"\\u0001\" ]; a = null; }", 1, 1, "{\"a\":null,\"b\":[1,\"u0001\"]}");
    assert_eval_mode("{ a = 1 + 1; }", 0, 1, "error: cannot convert a thunk to JSON @1:3");
    assert_eval_mode("{ f = x: x; }", 1, 1, "error: cannot convert a function to JSON @1:7");
}

static void test_derivation(void **state) {
    (void)state;
    assert_eval("derivation { name = \"x\"; system = \"x86_64-linux\"; builder = \"/bin/sh\"; }",
                "{ all = [ «repeated» ]; builder = \"/bin/sh\"; drvAttrs = { builder = "
                "\"/bin/sh\"; name = \"x\"; system = \"x86_64-linux\"; }; drvPath = "
                "\"/nix/store/97qlv6h78lxlm9zc8849ahsbcklhsi2y-x.drv\"; name = \"x\"; out = "
                "«repeated»; outPath = \"/nix/store/s668cfx1vrqfjryf96jj8wfhg7f67dhj-x\"; "
                "outputName = \"out\"; system = \"x86_64-linux\"; type = \"derivation\"; }");
    /* an input derivation and a fixed-output one, checked against nix-instantiate */
    assert_eval("let a = derivation { name = \"a\"; system = \"x\"; builder = \"/bin/sh\"; "
                "outputHash = \"0000000000000000000000000000000000000000000000000000000000000000\"; "
                "outputHashAlgo = \"sha256\"; }; b = derivation { name = \"b\"; system = \"x\"; "
                "builder = \"${a}/bin/sh\"; }; in [ a.outPath b.drvPath ]",
                "[ \"/nix/store/19k94y693b5mi3rbb0f3y9c4zq1jc3z0-a\" "
                "\"/nix/store/05z563ljch70552lsj4rdbwcqp22kf03-b.drv\" ]");
    assert_eval("derivation { name = \"x\"; builder = \"/bin/sh\"; }",
                "error: required attribute 'system' missing @1:14");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_attr_names),
        cmocka_unit_test(test_repeated),
        cmocka_unit_test(test_functions_and_json),
        cmocka_unit_test(test_derivation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
