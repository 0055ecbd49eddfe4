/* test_context.c - what lang.h lets an embedder see and hand out: a string's context in Nix's
 * three kinds (fl_lang_string_context, fl_lang_mk_string_ctx, checked against what
 * builtins.getContext says of the same string), and the sink every line the evaluator has to
 * say goes through (trace, warnings, the out-of-memory notice): nothing on stderr without
 * one. Store paths and getContext's answers are nix-instantiate 2.8's. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static fl_value *eval_ok(fl_lang *L, const char *src) {
    fl_error err = FL_ERROR_INIT;
    fl_value *v = NULL;
    int rc = fl_lang_eval_string(L, src, "t.nix", "/", &v, &err);
    if (rc < 0)
        fail_msg("%s: %s", src, err.message);
    return v;
}

static char *print_ok(fl_lang *L, fl_value *v) {
    fl_error err = FL_ERROR_INIT;
    fl_strbuf out = FL_STRBUF_INIT;
    fl_strbuf_init(&out, 0);
    if (fl_lang_print(L, v, 1, &out, &err) < 0)
        fail_msg("print: %s", err.message);
    return out.buf;
}

static const char drv_src[] =
    "let d = derivation { name = \"d\"; system = \"x86_64-linux\"; builder = \"/bin/sh\"; "
    "outputs = [ \"out\" \"dev\" ]; }; ";

/* The three kinds, sorted by their encoding as Nix's std::set keeps them. */
static void test_context_kinds(void **state) {
    (void)state;
    fl_lang *L = fl_lang_new(NULL);
    char src[1024];
    snprintf(src, sizeof src,
             "%sin \"${d.dev} ${d.drvPath} ${builtins.toFile \"t\" \"x\"} ${d.dev}\"", drv_src);
    fl_value *v = eval_ok(L, src);
    const fl_lang_ctx_entry *e;
    size_t n = fl_lang_string_context(L, v, &e);
    assert_int_equal(n, 3);
    /* "!dev!/nix/store/…-d.drv" < "/nix/store/…-t" < "=/nix/store/…-d.drv" */
    assert_int_equal(e[0].kind, FL_LANG_CTX_OUTPUT);
    assert_string_equal(e[0].output, "dev");
    assert_string_equal(e[0].path, "/nix/store/hp4acm5j27vjrxkv7g67dwsiqrdn44jr-d.drv");
    assert_int_equal(e[1].kind, FL_LANG_CTX_PATH);
    assert_string_equal(e[1].path, "/nix/store/n67lcg14n0q7xc51d5sm6j6i40kpnvfk-t");
    assert_null(e[1].output);
    assert_int_equal(e[2].kind, FL_LANG_CTX_DRV_DEEP);
    assert_string_equal(e[2].path, e[0].path);

    /* discarded: none; not a string: none */
    v = eval_ok(L, "builtins.unsafeDiscardStringContext \"${builtins.toFile \"t\" \"x\"}\"");
    assert_int_equal(fl_lang_string_context(L, v, &e), 0);
    v = eval_ok(L, "1");
    assert_int_equal(fl_lang_string_context(L, v, &e), 0);
    /* a string without its path in the text still has the context */
    v = eval_ok(L, "builtins.substring 0 0 \"${builtins.toFile \"t\" \"x\"}\"");
    assert_int_equal(fl_lang_string_context(L, v, &e), 1);
    fl_lang_free(L);
}

/* A string made with a context carries it into the language: getContext reads it as Nix
 * would, and concatenation keeps it. */
static void test_mk_string_ctx(void **state) {
    (void)state;
    fl_lang *L = fl_lang_new(NULL);
    fl_lang_ctx_entry in[] = {
        {FL_LANG_CTX_PATH, "/nix/store/00000000000000000000000000000000-a", NULL},
        {FL_LANG_CTX_OUTPUT, "/nix/store/11111111111111111111111111111111-b.drv", "dev"},
        {FL_LANG_CTX_DRV_DEEP, "/nix/store/11111111111111111111111111111111-b.drv", NULL},
        {FL_LANG_CTX_PATH, "/nix/store/00000000000000000000000000000000-a", NULL},
    };
    fl_value *s = fl_lang_mk_string_ctx(L, "text", 4, in, 4);
    assert_string_equal(fl_lang_get_string(s, NULL), "text");
    const fl_lang_ctx_entry *e;
    assert_int_equal(fl_lang_string_context(L, s, &e), 3);
    assert_int_equal(e[0].kind, FL_LANG_CTX_OUTPUT);
    assert_int_equal(e[1].kind, FL_LANG_CTX_PATH);
    assert_int_equal(e[2].kind, FL_LANG_CTX_DRV_DEEP);

    fl_value *fn = eval_ok(L, "s: builtins.getContext (s + \"!\")"), *r = NULL;
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_lang_call(L, fn, s, &r, &err), 0);
    char *p = print_ok(L, r);
    assert_string_equal(p, "{ \"/nix/store/00000000000000000000000000000000-a\" = { path = true; "
                           "}; \"/nix/store/11111111111111111111111111111111-b.drv\" = { "
                           "allOutputs = true; outputs = [ \"dev\" ]; }; }");
    free(p);
    fl_lang_free(L);
}

static void collect_line(void *ctx, const char *line) {
    fl_strbuf_addf(ctx, "%s\n", line);
}

/* stderr into a temporary file while fn runs; returns what was written there. */
static char *capture_stderr(void (*fn)(void)) {
    char path[] = "/tmp/flakectl-test-stderr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *buf = calloc(1, 4096);
    ssize_t n = pread(fd, buf, 4095, 0);
    assert_true(n >= 0);
    close(fd);
    return buf;
}

static void trace_without_sink(void) {
    fl_lang *L = fl_lang_new(NULL);
    fl_value *v = eval_ok(L, "builtins.trace \"quiet\" (builtins.trace { a = 1; } 2)");
    assert_int_equal(fl_lang_get_int(v), 2);
    fl_lang_free(L);
}

static void test_trace_sink(void **state) {
    (void)state;
    fl_strbuf lines;
    fl_strbuf_init(&lines, 0);
    fl_lang_config cfg = {.trace = collect_line, .trace_ctx = &lines};
    fl_lang *L = fl_lang_new(&cfg);
    fl_value *v = eval_ok(L, "builtins.trace \"hi\" (builtins.trace { a = 1; } 2)");
    assert_int_equal(fl_lang_get_int(v), 2);
    assert_string_equal(lines.buf, "trace: hi\ntrace: { a = 1; }\n");
    fl_lang_free(L);
    fl_strbuf_release(&lines);
    /* the library prints nothing of its own */
    char *err = capture_stderr(trace_without_sink);
    assert_string_equal(err, "");
    free(err);
}

static int oom_fd = -1;
static void oom_line(void *ctx, const char *line) {
    (void)ctx;
    dprintf(oom_fd, "%s\n", line);
}

/* Memory the system refuses outside an evaluation (a builder's copy): the sink hears it, then
 * the process aborts; nothing reaches stderr. RLIMIT_AS makes the refusal real. */
static void test_out_of_memory_sink(void **state) {
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* ASan's shadow memory does not live under an address-space limit */
#endif
    int msg[2], errp[2];
    assert_int_equal(pipe(msg), 0);
    assert_int_equal(pipe(errp), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(msg[0]);
        close(errp[0]);
        dup2(errp[1], 2);
        oom_fd = msg[1];
        fl_lang_config cfg = {.trace = oom_line};
        fl_lang *L = fl_lang_new(&cfg);
        size_t big = 64u << 20;
        char *data = malloc(big);
        if (!L || !data)
            _exit(3);
        memset(data, 'x', big);
        unsigned long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%lu", &pages) != 1)
            _exit(4);
        fclose(f);
        size_t now = pages * (size_t)sysconf(_SC_PAGESIZE);
        struct rlimit rl = {now + (8u << 20), now + (8u << 20)};
        if (setrlimit(RLIMIT_AS, &rl) < 0)
            _exit(5);
        fl_lang_mk_string(L, data, big); /* needs 64 MiB more: refused */
        _exit(6);
    }
    close(msg[1]);
    close(errp[1]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    char said[256] = {0}, errs[256] = {0};
    ssize_t n = read(msg[0], said, sizeof said - 1);
    ssize_t m = read(errp[0], errs, sizeof errs - 1);
    close(msg[0]);
    close(errp[0]);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_true(n > 0);
    assert_non_null(strstr(said, "flakectl: out of memory ("));
    assert_int_equal(m, 0);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Without store hooks toFile's texts are kept for the evaluation in a directory of its own
 * under TMPDIR, read back from there, and gone with the evaluator. */
static void test_to_file_read_back(void **state) {
    (void)state;
    char tmpl[] = "/tmp/test-tofile.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", tmpl, 1);
    fl_lang *L = fl_lang_new(NULL);
    char *s = print_ok(L, eval_ok(L, "let a = builtins.toFile \"a.nix\" \"40\"; "
                                     "b = builtins.toFile \"b.nix\" \"(import ${a}) + 2\"; in "
                                     "[ (import \"${a}\") (builtins.readFile b) "
                                     "(builtins.pathExists \"${b}/x\") ]"));
    assert_string_equal(s, "[ 40 \"(import /nix/store/zhsgxrg9fivjlr86nfs0xjh0g8blbj5z-a.nix) "
                           "+ 2\" false ]");
    free(s);
    assert_int_equal(count_entries(tmpl), 1);
    fl_lang_free(L);
    assert_int_equal(count_entries(tmpl), 0);
    if (old)
        setenv("TMPDIR", old, 1);
    else
        unsetenv("TMPDIR");
    free(old);
    rmdir(tmpl);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_context_kinds),
        cmocka_unit_test(test_to_file_read_back),
        cmocka_unit_test(test_mk_string_ctx),
        cmocka_unit_test(test_trace_sink),
        cmocka_unit_test(test_out_of_memory_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
