/* test_eval.c - laziness, builtins, errors with locations, recursion limits, and the
 * embedding API (builders, native primops, attribute positions). Expected values come from
 * nix-instantiate 2.8. */
#include "helpers.h"

static void test_laziness_and_thunks(void **state) {
    (void)state;
    assert_eval("let x = throw \"never\"; in 1", "1");
    assert_eval("builtins.length [ (throw \"a\") (throw \"b\") ]", "2");
    assert_eval("builtins.seq [ (throw \"deep\") ] 1", "1");
    assert_eval("builtins.deepSeq [ (throw \"deep\") ] 1", "error: deep @1:21");
    assert_eval_mode("{ a = 1 + 1; b = [ (1 + 1) 2 ]; }", 0, 0, "{ a = <CODE>; b = <CODE>; }");
    assert_eval_mode("[ (1+1) 3 \"s\" ]", 0, 0, "[ <CODE> 3 \"s\" ]");
}

static void test_errors_are_located(void **state) {
    (void)state;
    assert_eval("let x = x; in x", "error: infinite recursion encountered @1:9");
    assert_eval("{ abc = 1; }.abd", "error: attribute 'abd' missing @1:1");
    assert_eval("1 + \"a\"", "error: cannot add a string to an integer @1:5");
    assert_eval("\"${1}\"", "error: cannot coerce an integer to a string @1:2");
    assert_eval("assert 1 == 2; 3", "error: assertion '(1 == 2)' failed @1:1");
    assert_eval("\n  throw \"boom\"", "error: boom @2:3");
    assert_eval("abort \"no\"",
                "error: evaluation aborted with the following error message: 'no' @1:1");
    assert_eval("let f = { a }: a; in f { }",
                "error: 'f' at test.nix:1:9 called without required argument 'a' @1:22");
    assert_eval("builtins.fromJSON \"{bad\"",
                "error: [json.exception.parse_error.101] parse error at line 1, column 2: syntax "
                "error while parsing object key - invalid literal; last read: '{b'; expected "
                "string literal @1:1");
    assert_eval("let f = x: f x; in f 1", "error: stack overflow (possible infinite recursion) @1:12");
    assert_eval("import /nonexistent/x.nix",
                "error: getting status of '/nonexistent/x.nix': No such file or directory @1:1");
}

/* Nix 2.8 places inherited attributes just after the `{`/`let`, a builtin's missing required
 * attribute at the `{` of the set literal (else at the call); `with` on a non-set at `with`. */
static void test_inherit_getattr_with_locations(void **state) {
    (void)state;
    assert_eval("let s = { }; in { a = 1; inherit (s) x; }", "error: attribute 'x' missing @1:18");
    assert_eval("let p = 1; in { inherit p q; }", "error: undefined variable 'q' @1:16");
    assert_eval("let a = 1; inherit ({ }) q; in q", "error: attribute 'q' missing @1:4");
    assert_eval("builtins.getAttr \"q\" (rec { p = 1; })",
                "error: attribute 'q' missing for call to 'getAttr' @1:27");
    assert_eval("builtins.getAttr \"q\" ({ p = 1; } // { x = 1; })",
                "error: attribute 'q' missing for call to 'getAttr' @1:1");
    assert_eval("builtins.getAttr \"q\" ({ } // { x = 1; })",
                "error: attribute 'q' missing for call to 'getAttr' @1:30");
    assert_eval("builtins.listToAttrs [ { name = \"a\"; } ]",
                "error: attribute 'value' missing for call to 'listToAttrs' @1:24");
    assert_eval("with { }; with 1; a",
                "error: value is an integer while a set was expected @1:11");
    assert_eval("with 1; 2", "2");
}

/* Infinite recursion through a selection is at the attribute's definition; deep recursion at
 * the outermost recurring call, the same in every build (docs/testing.md). */
static void test_recursion_locations(void **state) {
    (void)state;
    assert_eval("let x = { y = x.y; }; in x.y", "error: infinite recursion encountered @1:11");
    assert_eval("let s = { inherit (s) x; }; in s.x",
                "error: infinite recursion encountered @1:22");
    assert_eval("let f = n: 1 + f (n + 1); in f 0",
                "error: stack overflow (possible infinite recursion) @1:16");
    assert_eval("let even = n: 1 + (odd (n + 1)); odd = n: 1 + (even (n + 1)); in even 0",
                "error: stack overflow (possible infinite recursion) @1:20");
    assert_eval("let f = n: { next = (f (n + 1)).next; }; in (f 0).next",
                "error: stack overflow (possible infinite recursion) @1:22");
}

/* builtins.match groups as libstdc++ (Nix 2.8) fills them, not POSIX leftmost-longest */
static void test_regex_groups_like_libstdcxx(void **state) {
    (void)state;
    assert_eval("builtins.match \"(a*)*\" \"aa\"", "[ \"\" ]");
    assert_eval("builtins.match \"(a|ab)(c|bcd)(d*)\" \"abcd\"", "[ \"a\" \"bcd\" \"\" ]");
    assert_eval("builtins.match \"((a)|b)*\" \"ab\"", "[ \"b\" \"a\" ]");
    assert_eval("builtins.match \"(a?)(ab)?b?\" \"ab\"", "[ \"a\" null ]");
}

static void test_did_you_mean(void **state) {
    (void)state;
    fl_lang *L = fl_lang_new(NULL);
    fl_error err = FL_ERROR_INIT;
    fl_value *v;
    assert_true(fl_lang_eval_string(L, "let foo = 1; in fooo", "t.nix", "/", &v, &err) < 0);
    assert_string_equal(err.hint, "did you mean 'foo'?");
    fl_error_clear(&err);
    assert_true(fl_lang_eval_string(L, "{ enable = 1; }.enabel", "t.nix", "/", &v, &err) < 0);
    assert_string_equal(err.hint, "Did you mean enable?");
    fl_error_clear(&err);
    fl_lang_free(L);
}

static void test_try_eval_restores_thunks(void **state) {
    (void)state;
    assert_eval("let y = throw \"b\"; in [ (builtins.tryEval y).success (builtins.tryEval y).success ]",
                "[ false false ]");
    assert_eval("builtins.tryEval (assert false; 1)", "{ success = false; value = false; }");
    assert_eval("builtins.tryEval (abort \"x\")",
                "error: evaluation aborted with the following error message: 'x' @1:19");
}

static void test_builtins(void **state) {
    (void)state;
    assert_eval("builtins.foldl' (a: b: a + b) 0 [ 1 2 3 ]", "6");
    assert_eval("builtins.sort (a: b: a.k < b.k) [ { k = 2; v = 1; } { k = 1; v = 2; } "
                "{ k = 2; v = 3; } { k = 1; v = 4; } ]",
                "[ { k = 1; v = 2; } { k = 1; v = 4; } { k = 2; v = 1; } { k = 2; v = 3; } ]");
    assert_eval("builtins.match \"a(b)?c\" \"ac\"", "[ null ]");
    assert_eval("builtins.match \"ab\" \"abc\"", "null");
    assert_eval("builtins.split \"(a)|b\" \"abc\"", "[ \"\" [ \"a\" ] \"\" [ null ] \"c\" ]");
    assert_eval("builtins.replaceStrings [ \"\" ] [ \"-\" ] \"abc\"", "\"-a-b-c-\"");
    assert_eval("builtins.hashString \"sha256\" \"abc\"",
                "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"");
    assert_eval("builtins.hashString \"md5\" \"abc\"", "\"900150983cd24fb0d6963f7d28e17f72\"");
    assert_eval("builtins.compareVersions \"1.0pre1\" \"1.0\"", "-1");
    assert_eval("builtins.splitVersion \"1.2.3pre-4\"", "[ \"1\" \"2\" \"3\" \"pre\" \"4\" ]");
    assert_eval("builtins.parseDrvName \"nix-2.8.0\"", "{ name = \"nix\"; version = \"2.8.0\"; }");
    assert_eval("builtins.functionArgs ({ a, b ? 1 }: a)", "{ a = false; b = true; }");
    assert_eval("builtins.toJSON { a = [ 1 \"x\" null true ]; b = 1.5; c = \"\\n\"; }",
                "\"{\\\"a\\\":[1,\\\"x\\\",null,true],\\\"b\\\":1.5,\\\"c\\\":\\\"\\\\n\\\"}\"");
    assert_eval("builtins.fromJSON ''{\"a\": [1, 2.5, \"x\", null, true], \"b\": {}}''",
                "{ a = [ 1 2.5 \"x\" null true ]; b = { }; }");
    assert_eval("builtins.fromTOML \"a = 1\\n[t]\\nc = [1, 2]\\n[[arr]]\\nx = 1\\n[[arr]]\\nx = 2\\n\"",
                "{ a = 1; arr = [ { x = 1; } { x = 2; } ]; t = { c = [ 1 2 ]; }; }");
    assert_eval("builtins.toFile \"foo\" \"bar\"",
                "\"/nix/store/vxjiwkjkn7x4079qvh1jkl5pn05j2aw0-foo\"");
    assert_eval("builtins.genericClosure { startSet = [ { key = 1; } ]; operator = x: if x.key "
                "< 3 then [ { key = x.key + 1; } ] else [ ]; }",
                "[ { key = 1; } { key = 2; } { key = 3; } ]");
    assert_eval("builtins.zipAttrsWith (n: v: v) [ { a = 1; } { a = 2; b = 3; } ]",
                "{ a = [ 1 2 ]; b = [ 3 ]; }");
    assert_eval("toString [ 1 [ ] 2 null true false \"x\" ]", "\"1 2  1  x\"");
}

static int native_double(fl_lang *L, void *ud, fl_value **args, fl_value **result,
                         fl_error *err) {
    (void)ud;
    if (fl_lang_force(L, args[0], err) < 0)
        return -1;
    if (fl_lang_type(args[0]) != FL_LANG_INT)
        return fl_error_set(err, FL_EEVAL, "double: expected an integer, got %s",
                            fl_lang_type_name(args[0]));
    *result = fl_lang_mk_int(L, 2 * fl_lang_get_int(args[0]));
    return 0;
}

static void test_embedding_api(void **state) {
    (void)state;
    fl_lang *L = fl_lang_new(NULL);
    fl_error err = FL_ERROR_INIT;
    fl_lang_add_builtin(L, "double", fl_lang_mk_primop(L, "double", 1, native_double, NULL), 1);
    fl_lang_attrs_builder *b = fl_lang_attrs_begin(L, 2);
    fl_lang_attrs_add(b, "port", fl_lang_mk_int(L, 22), NULL);
    fl_lang_attrs_add(b, "name", fl_lang_mk_string(L, "ssh", 3), NULL);
    fl_lang_add_builtin(L, "svc", fl_lang_attrs_end(b), 0);
    fl_value *v;
    assert_int_equal(fl_lang_eval_string(L, "{\n  x = double builtins.svc.port;\n  f = a: a;\n}",
                                         "cfg.nix", "/", &v, &err),
                     0);
    fl_value *x;
    fl_lang_pos pos;
    assert_int_equal(fl_lang_attrs_get(L, v, "x", &x, &pos), 0);
    assert_string_equal(pos.file, "cfg.nix");
    assert_int_equal(pos.line, 2);
    assert_int_equal(pos.col, 3);
    assert_int_equal(fl_lang_force(L, x, &err), 0);
    assert_int_equal(fl_lang_get_int(x), 44);
    assert_int_equal(fl_lang_attrs_get(L, v, "missing", &x, NULL), FL_ENOTFOUND);
    fl_value *f;
    assert_int_equal(fl_lang_attrs_get(L, v, "f", &f, NULL), 0);
    assert_int_equal(fl_lang_force(L, f, &err), 0);
    assert_int_equal(fl_lang_lambda_pos(L, f, &pos), 0);
    assert_int_equal(pos.line, 3);
    fl_value *r;
    assert_int_equal(fl_lang_call(L, f, fl_lang_mk_string(L, "hi", 2), &r, &err), 0);
    size_t len;
    assert_string_equal(fl_lang_get_string(r, &len), "hi");
    const char *name;
    fl_lang_attrs_at(L, v, 0, &name, NULL, NULL);
    assert_string_equal(name, "f");
    /* a native error is located at the call */
    assert_true(fl_lang_eval_string(L, "\n double \"x\"", "e.nix", "/", &v, &err) < 0);
    assert_string_equal(err.message, "double: expected an integer, got string");
    assert_int_equal(err.line, 2);
    fl_error_clear(&err);
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    fl_value *elems[2] = {fl_lang_mk_int(L, 1), fl_lang_mk_null(L)};
    assert_int_equal(fl_lang_print_json(L, fl_lang_mk_list(L, 2, elems), 1, &sb, &err), 0);
    assert_string_equal(sb.buf, "[1,null]");
    fl_strbuf_release(&sb);
    fl_lang_free(L);
}

static int fake_store(void *ctx, const char *path, fl_strbuf *out, fl_error *err) {
    (void)err;
    (*(int *)ctx)++;
    const char *base = strrchr(path, '/');
    fl_strbuf_addf(out, "/nix/store/00000000000000000000000000000000-%s", base ? base + 1 : path);
    return 0;
}

static void test_store_hook(void **state) {
    (void)state;
    int calls = 0;
    fl_lang_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.hooks.ctx = &calls;
    cfg.hooks.path_to_store = fake_store;
    fl_lang *L = fl_lang_new(&cfg);
    fl_error err = FL_ERROR_INIT;
    fl_value *v;
    assert_int_equal(fl_lang_eval_string(L, "\"${/etc/hostname}\"", "t.nix", "/", &v, &err), 0);
    size_t len;
    assert_string_equal(fl_lang_get_string(v, &len),
                        "/nix/store/00000000000000000000000000000000-hostname");
    assert_int_equal(calls, 1);
    fl_lang_free(L);
    /* without a hook the path Nix would use is computed from the file's NAR hash */
    assert_eval("builtins.path { path = /dev/null; name = \"x\"; }",
                "error: file '/dev/null' has an unsupported type @1:1");
    assert_eval("\"${/nonexistent/f}\"",
                "error: getting status of '/nonexistent/f': No such file or directory @1:2");
}

static void collect_line(void *ctx, const char *line) {
    fl_strbuf_addf(ctx, "%s\n", line);
}

/* The embedder's -I entries come first, then NIX_PATH's; a missing entry is skipped with
 * Nix's warning, said once. */
static void test_search_path(void **state) {
    (void)state;
    const char *inc[] = {"sys=/", "/nonexistent-flakectl-entry"};
    fl_strbuf lines;
    fl_strbuf_init(&lines, 0);
    fl_lang_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.include_paths = inc;
    cfg.ninclude_paths = 2;
    cfg.nix_path = "/:u=http://example.invalid/x.tar.gz";
    cfg.trace = collect_line;
    cfg.trace_ctx = &lines;
    fl_lang *L = fl_lang_new(&cfg);
    fl_error err = FL_ERROR_INIT;
    fl_value *v;
    fl_strbuf out;
    fl_strbuf_init(&out, 0);
    assert_int_equal(fl_lang_eval_string(L, "[ builtins.nixPath <sys/etc> <etc> <etc> ]", "t.nix",
                                         "/", &v, &err),
                     0);
    assert_int_equal(fl_lang_print(L, v, 1, &out, &err), 0);
    assert_string_equal(out.buf, "[ [ { path = \"/\"; prefix = \"sys\"; } { path = "
                                 "\"/nonexistent-flakectl-entry\"; prefix = \"\"; } { path = "
                                 "\"/\"; prefix = \"\"; } { path = "
                                 "\"http://example.invalid/x.tar.gz\"; prefix = \"u\"; } ] "
                                 "/etc /etc /etc ]");
    assert_string_equal(lines.buf, "warning: Nix search path entry "
                                   "'/nonexistent-flakectl-entry' does not exist, ignoring\n");
    fl_strbuf_release(&out);
    fl_strbuf_release(&lines);
    fl_lang_free(L);
    /* without entries (host evaluation) nothing is found, and tryEval catches that */
    assert_eval("builtins.tryEval <nixpkgs>", "{ success = false; value = false; }");
    assert_eval("builtins.nixPath", "[ ]");
}

/* Evaluates src strictly under an evaluator memory limit (caller frees). */
static char *eval_limited(const char *src, size_t limit) {
    fl_lang_config cfg = {.max_memory = limit};
    return eval_print_cfg(&cfg, src, 1, 0);
}

/* foldl', sort, filter, any and all give back the memory of a step whose answer is a number,
 * Boolean or null, and foldl' that of a step growing a set or list (docs/language.md,
 * "Memory"): 400k steps of about 100 bytes each run in a 40 MiB limit that the list (22 MB)
 * nearly fills; a fold keeping every accumulator alive is out of memory there, which shows
 * the limit is tight enough to tell. */
static void test_steps_give_back_memory(void **state) {
    (void)state;
    size_t limit = 40u << 20;
    char *r = eval_limited("builtins.foldl' (acc: x: acc + x * 2 - 1) 0 (builtins.genList (x: x) 400000)", limit);
    assert_string_equal(r, "159999200000");
    free(r);
    r = eval_limited("let xs = builtins.genList (x: 400000 - x) 400000; in builtins.length "
                     "(builtins.filter (x: builtins.any (y: x + y == 7) [ 1 2 ]) xs) + "
                     "builtins.head (builtins.sort (a: b: a < b) xs)",
                     limit);
    assert_string_equal(r, "3");
    free(r);
    /* sets and lists grown step by step: every intermediate block is dead (3000 steps copying
     * 1500 attributes on average would take 72 MB, 4000 list appends 64 MB) */
    r = eval_limited("let s = builtins.foldl' (acc: i: acc // { \"k${toString i}\" = i; }) { } "
                     "(builtins.genList (i: i) 3000); l = builtins.foldl' (acc: x: acc ++ [ x ]) [ ] "
                     "(builtins.genList (i: i) 4000); in [ (builtins.length (builtins.attrNames s)) "
                     "s.k2999 (builtins.length l) (builtins.elemAt l 3999) ]",
                     limit);
    assert_string_equal(r, "[ 3000 2999 4000 3999 ]");
    free(r);
    r = eval_limited("builtins.length (builtins.foldl' (acc: x: [ acc x ]) [ ] (builtins.genList (x: x) 400000))", limit);
    assert_non_null(strstr(r, "out of memory"));
    free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_path),
        cmocka_unit_test(test_laziness_and_thunks),
        cmocka_unit_test(test_errors_are_located),
        cmocka_unit_test(test_inherit_getattr_with_locations),
        cmocka_unit_test(test_recursion_locations),
        cmocka_unit_test(test_regex_groups_like_libstdcxx),
        cmocka_unit_test(test_did_you_mean),
        cmocka_unit_test(test_try_eval_restores_thunks),
        cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_embedding_api),
        cmocka_unit_test(test_store_hook),
        cmocka_unit_test(test_steps_give_back_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
