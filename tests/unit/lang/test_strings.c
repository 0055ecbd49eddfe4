/* test_strings.c - strings grown by `+` share one buffer (docs/language.md, "String
 * storage"): every value keeps its own bytes, C strings handed out stay NUL-terminated, and a
 * long chain of appends takes memory in proportion to its result. Expected values come from
 * nix-instantiate 2.8. */
#include "helpers.h"

/* y is not a literal, so "x" + y is a concatenation's result, and a + ... the second link of a
 * chain: the one that gets a buffer with room. */
static void test_shared_prefix_values_stay_distinct(void **state) {
    (void)state;
    assert_eval("let y = toString 5; a = \"x\" + y; b = a + \"1\"; c = a + \"2\"; in [ b c ]",
                "[ \"x51\" \"x52\" ]");
    assert_eval("let y = toString 5; a = \"x\" + y; a2 = a + \"0\"; b = a2 + \"1\"; "
                "c = a2 + \"2\"; d = b + \"3\"; e = a2 + \"\"; f = e + \"q\"; in [ b c d a a2 e f ]",
                "[ \"x501\" \"x502\" \"x5013\" \"x5\" \"x50\" \"x50\" \"x50q\" ]");
    /* the same, interpolated, with the prefix printed after its extensions were made */
    assert_eval("let y = toString 5; a = \"x${y}\"; b = \"${a}!\"; c = \"${b}1\"; d = \"${b}2\"; "
                "in builtins.seq c (builtins.seq d [ a b c d ])",
                "[ \"x5\" \"x5!\" \"x5!1\" \"x5!2\" ]");
    /* a string appended to itself, and a part that extends the first part's buffer while the
     * outer concatenation is being evaluated */
    assert_eval("let y = toString 5; a = (\"x\" + y) + \"z\"; in [ (a + a) (a + (a + \"q\")) a ]",
                "[ \"x5zx5z\" \"x5zx5zq\" \"x5z\" ]");
    assert_eval("let s = builtins.foldl' (s: i: s + toString i) \"\" (builtins.genList (i: i) 12); "
                "in [ s (s + \"!\") (s + \"?\") (builtins.substring 0 3 (s + \"x\")) "
                "(builtins.stringLength s) (s == \"01234567891011\") ]",
                "[ \"01234567891011\" \"01234567891011!\" \"01234567891011?\" \"012\" 14 true ]");
}

/* Contexts belong to values, not to the buffer they share */
static void test_shared_prefix_keeps_contexts(void **state) {
    (void)state;
    assert_eval("let y = toString 5; a = (\"x\" + y) + \"z\"; p = \"${builtins.toFile \"f\" \"t\"}\"; "
                "b = a + p; c = a + \"!\"; in [ (builtins.hasContext a) (builtins.hasContext b) "
                "(builtins.hasContext c) (builtins.getContext c) ]",
                "[ false true false { } ]");
}

/* A value whose buffer was extended after it has no NUL at its end in the buffer: whatever
 * reads it as a C string (regular expressions, derivation names, toXML) must see only it. */
static void test_prefix_read_as_c_string(void **state) {
    (void)state;
    assert_eval("let y = toString 1; n = (\"pkg\" + y) + \"x\"; in builtins.seq (n + \"-s\") "
                "[ (builtins.match n \"pkg1x\") (builtins.toXML n) ]",
                "[ [ ] \"<?xml version='1.0' encoding='utf-8'?>\\n<expr>\\n  <string "
                "value=\\\"pkg1x\\\" />\\n</expr>\\n\" ]");
    /* the name is read as a C string before the arguments append to it */
    assert_eval("let y = toString 1; n = (\"pkg\" + y) + \"x\"; d = derivation { name = n; "
                "system = \"x86_64-linux\"; builder = \"/bin/sh\"; args = [ (n + \"-suffix\") ]; }; "
                "in [ d.drvPath d.name ]",
                "[ \"/nix/store/7rx6mqxwng7g6faqb8ld3396w7dxgfc5-pkg1x.drv\" \"pkg1x\" ]");
    assert_eval("let y = toString 1; n = (\"pkg\" + y) + \"x\"; in builtins.seq (n + \"-s\") "
                "(derivation { name = n; system = \"x86_64-linux\"; builder = \"/bin/sh\"; "
                "args = [ (n + \"-suffix\") ]; }).drvPath",
                "\"/nix/store/7rx6mqxwng7g6faqb8ld3396w7dxgfc5-pkg1x.drv\"");
}

/* Through the embedding API: a string extended in place after it was forced still reads as
 * itself, NUL-terminated at its length, and one handed out stays so when extended later. */
static void test_api_strings_stay_terminated(void **state) {
    (void)state;
    fl_lang *L = fl_lang_new(NULL);
    fl_error err = FL_ERROR_INIT;
    fl_value *v = NULL;
    assert_int_equal(fl_lang_eval_string(L,
                                         "let y = toString 7; a = (\"ab\" + y) + \"c\"; "
                                         "in [ a (a + \"-more\") ]",
                                         "test.nix", "/tmp", &v, &err),
                     0);
    assert_int_equal(fl_lang_force_deep(L, v, &err), 0);
    size_t len = 0;
    const char *s = fl_lang_get_string(fl_lang_list_at(v, 0), &len);
    assert_int_equal(len, 4);
    assert_int_equal(strlen(s), 4);
    assert_string_equal(s, "ab7c");
    s = fl_lang_get_string(fl_lang_list_at(v, 1), &len);
    assert_int_equal(len, 9);
    assert_string_equal(s, "ab7c-more");

    /* handed out first, extended after: the extension must not write over its NUL */
    fl_value *f = NULL, *r = NULL;
    assert_int_equal(fl_lang_eval_string(L, "let y = toString 7; a = (\"ab\" + y) + \"c\"; "
                                            "in { inherit a; f = x: a + x; }",
                                         "test.nix", "/tmp", &v, &err),
                     0);
    fl_value *a = NULL;
    assert_int_equal(fl_lang_attrs_get(L, v, "a", &a, NULL), 0);
    assert_int_equal(fl_lang_force(L, a, &err), 0);
    const char *held = fl_lang_get_string(a, &len);
    assert_int_equal(fl_lang_attrs_get(L, v, "f", &f, NULL), 0);
    assert_int_equal(fl_lang_force(L, f, &err), 0);
    assert_int_equal(fl_lang_call(L, f, fl_lang_mk_string(L, "xyz", 3), &r, &err), 0);
    assert_string_equal(fl_lang_get_string(r, NULL), "ab7cxyz");
    assert_string_equal(held, "ab7c");
    fl_lang_free(L);
}

/* 20000 appends to a string of 100 KiB: copied whole each time that would be 1 GiB; with a
 * shared buffer growing by half it is a few hundred KiB. */
static void test_append_chain_memory_is_linear(void **state) {
    (void)state;
    fl_lang_config cfg = {0};
    cfg.max_memory = (size_t)64 << 20;
    fl_lang *L = fl_lang_new(&cfg);
    fl_error err = FL_ERROR_INIT;
    fl_value *v = NULL;
    fl_strbuf out;
    fl_strbuf_init(&out, 0);
    int rc = fl_lang_eval_string(L,
                                 "builtins.stringLength (builtins.foldl' (s: i: s + \"${toString "
                                 "i},\") \"\" (builtins.genList (i: i) 20000))",
                                 "test.nix", "/tmp", &v, &err);
    if (rc == 0)
        rc = fl_lang_print(L, v, 1, &out, &err);
    if (rc < 0)
        print_error("%s\n", err.message);
    assert_int_equal(rc, 0);
    assert_string_equal(out.buf, "108890");
    fl_strbuf_release(&out);
    fl_lang_free(L);
}

/* replaceStrings copies runs of bytes no pattern starts with; the first pattern in list order
 * wins, an empty one matches before every byte and at the end, and a replacement's context
 * joins the result's once it is used */
static void test_replace_strings(void **state) {
    (void)state;
    assert_eval("builtins.replaceStrings [ \"a\" \"ab\" ] [ \"1\" \"2\" ] \"abcab\"", "\"1bc1b\"");
    assert_eval("builtins.replaceStrings [ \"ab\" \"a\" ] [ \"2\" \"1\" ] \"abcaba\"", "\"2c21\"");
    assert_eval("builtins.replaceStrings [ \"\" ] [ \"-\" ] \"abc\"", "\"-a-b-c-\"");
    assert_eval("builtins.replaceStrings [ \"b\" \"\" ] [ \"X\" \"-\" ] \"abc\"", "\"-aX-c-\"");
    assert_eval("builtins.replaceStrings [ \"\" ] [ \"y\" ] \"\"", "\"y\"");
    assert_eval("builtins.replaceStrings [ \"abc\" ] [ \"x\" ] \"ab\"", "\"ab\"");
    assert_eval("builtins.replaceStrings [ \"c\" ] [ \"\" ] \"ccc\"", "\"\"");
    assert_eval("builtins.replaceStrings [ \"even\" \"odd\" ] [ \"E\" \"O\" ] "
                "\"1 is odd, 4 is even: eveneveodd\"",
                "\"1 is O, 4 is E: EeveO\"");
    assert_eval("let f = \"${builtins.toFile \"f\" \"t\"}\"; in [ "
                "(builtins.getContext (builtins.replaceStrings [ \"a\" \"b\" ] [ f \"x\" ] \"aab\")) "
                "(builtins.getContext (builtins.replaceStrings [ \"q\" ] [ f ] \"aab\")) ]",
                "[ { \"/nix/store/ld47m7jj5603acdv6cd07r8602z7l3qz-f\" = { path = true; }; } { } ]");
}

/* concatStringsSep: the separator's context is the result's even when no separator is
 * written (Nix 2.8); non-strings are coerced in order */
static void test_concat_strings_sep(void **state) {
    (void)state;
    assert_eval("let f = \"${builtins.toFile \"f\" \"t\"}\"; in [ "
                "(builtins.getContext (builtins.concatStringsSep f [ \"a\" ])) "
                "(builtins.getContext (builtins.concatStringsSep f [ ])) "
                "(builtins.concatStringsSep \", \" [ \"a\" \"b\" \"c\" ]) "
                "(builtins.concatStringsSep \"-\" [ \"a\" { outPath = \"o\"; } ]) ]",
                "[ { \"/nix/store/ld47m7jj5603acdv6cd07r8602z7l3qz-f\" = { path = true; }; } "
                "{ \"/nix/store/ld47m7jj5603acdv6cd07r8602z7l3qz-f\" = { path = true; }; } "
                "\"a, b, c\" \"a-o\" ]");
    assert_eval("builtins.concatStringsSep \"-\" [ \"a\" (throw \"yes\") 1 ]", "error: yes @1:38");
    assert_eval("builtins.concatStringsSep \"-\" [ \"a\" 1 (throw \"no\") ]",
                "error: cannot coerce an integer to a string @1:1");
    assert_eval("let x = builtins.concatStringsSep \"-\" [ \"a\" \"b\" ]; y = x + \"c\"; "
                "in [ (y + \"1\") (y + \"2\") x y ]",
                "[ \"a-bc1\" \"a-bc2\" \"a-b\" \"a-bc\" ]");
    assert_eval("map toString [ 0 (-1) 9223372036854775807 (-9223372036854775807 - 1) 1234567890 ]",
                "[ \"0\" \"-1\" \"9223372036854775807\" \"-9223372036854775808\" \"1234567890\" ]");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_prefix_values_stay_distinct),
        cmocka_unit_test(test_shared_prefix_keeps_contexts),
        cmocka_unit_test(test_prefix_read_as_c_string),
        cmocka_unit_test(test_api_strings_stay_terminated),
        cmocka_unit_test(test_append_chain_memory_is_linear),
        cmocka_unit_test(test_replace_strings),
        cmocka_unit_test(test_concat_strings_sep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
