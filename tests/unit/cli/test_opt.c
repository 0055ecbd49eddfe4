/* test_opt.c - the option parser (src/cli/opt.c) on a table of its own: values, strict
 * numbers and durations, repeatable and two-value options, "--", positionals, groups, and
 * walking the tables as man pages and completions will. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/opt.h"
#include "flakectl/cli.h"

typedef struct inner {
    const char *key;
    int flag;
} inner;

typedef struct t_opts {
    const char *name, *file;
    int verbose, jobs, no;
    long long age;
    fl_opt_list tags, pairs, rest;
    inner in;
} t_opts;

static const fl_opt_spec inner_spec[] = {
    FL_OPT_STR_("key", 'k', "KEY", "a key", inner, key, .flags = 0),
    FL_OPT_FLAG_("flag", 0, "a flag", inner, flag, .flags = 0),
    FL_OPT_END_,
};

static const fl_opt_spec spec[] = {
    FL_OPT_STR_("name", 'n', "N", "a name", t_opts, name, .flags = 0),
    FL_OPT_INT_(NULL, 'j', "N", "jobs", t_opts, jobs, 1, 64, .flags = 0),
    FL_OPT_DUR_("age", 0, "D", "an age", t_opts, age, .flags = 0),
    FL_OPT_LIST_("tag", 't', "T", "a tag", t_opts, tags, .flags = 0),
    {.kind = FL_OPT_PAIRS, .name = "pair", .value_name = "A B", .help = "a pair",
     .offset = offsetof(t_opts, pairs)},
    FL_OPT_FLAG_("yes", 0, "yes", t_opts, no, .ival = 7),
    FL_OPT_GROUP_(inner_spec, t_opts, in),
    FL_OPT_ARG_("FILE", "a file", t_opts, file, .flags = FL_OPT_REQUIRED),
    FL_OPT_REST_("REST", "the rest", t_opts, rest, .flags = 0),
    FL_OPT_END_,
};

static const fl_opt_cmd cmd = {"t", "a test command", NULL, NULL, spec, NULL, NULL};

static int parse(t_opts *o, int argc, const char **argv) {
    memset(o, 0, sizeof *o);
    return fl_opt_parse(&cmd, o, argc, (char **)argv);
}

static void test_values(void **state) {
    (void)state;
    t_opts o;
    const char *argv[] = {"t",      "--name", "-v",   "-j",    "8",   "--age=2w", "-t", "a",
                          "--tag",  "b",      "--pair", "x",   "y",   "--yes",    "-k", "K",
                          "--flag", "f.txt",  "cmd",  "--no", "-x",  NULL};
    assert_int_equal(parse(&o, 21, argv), FL_OPT_RUN);
    assert_string_equal(o.name, "-v"); /* a value, not the global -v */
    assert_int_equal(o.jobs, 8);
    assert_int_equal(o.age, 14 * 86400);
    assert_int_equal(o.tags.n, 2);
    assert_string_equal(o.tags.v[1], "b");
    assert_int_equal(o.pairs.n, 2);
    assert_string_equal(o.pairs.v[1], "y");
    assert_int_equal(o.no, 7);
    assert_string_equal(o.in.key, "K");
    assert_int_equal(o.in.flag, 1);
    assert_string_equal(o.file, "f.txt");
    /* the rest starts at its first word: options after it are its own */
    assert_int_equal(o.rest.n, 3);
    assert_string_equal(o.rest.v[1], "--no");
    fl_opt_release(&cmd, &o);
}

static void test_errors(void **state) {
    (void)state;
    t_opts o;
    const char *bad_int[] = {"t", "-j", "3x", "f", NULL};
    assert_int_equal(parse(&o, 4, bad_int), FL_EXIT_USAGE);
    const char *range[] = {"t", "-j", "65", "f", NULL};
    assert_int_equal(parse(&o, 4, range), FL_EXIT_USAGE);
    const char *bad_age[] = {"t", "--age", "7", "f", NULL}; /* a unit is required here */
    assert_int_equal(parse(&o, 4, bad_age), FL_EXIT_USAGE);
    const char *missing[] = {"t", "f", "--name", NULL};
    assert_int_equal(parse(&o, 3, missing), FL_EXIT_USAGE);
    const char *unknown[] = {"t", "--nmae", "x", "f", NULL};
    assert_int_equal(parse(&o, 4, unknown), FL_EXIT_USAGE);
    const char *no_file[] = {"t", "-j", "2", NULL};
    assert_int_equal(parse(&o, 3, no_file), FL_EXIT_USAGE);
    const char *flag_value[] = {"t", "--yes=1", "f", NULL};
    assert_int_equal(parse(&o, 3, flag_value), FL_EXIT_USAGE);
    const char *half_pair[] = {"t", "f", "--pair", "x", NULL};
    assert_int_equal(parse(&o, 4, half_pair), FL_EXIT_USAGE);
}

static void test_dashdash(void **state) {
    (void)state;
    t_opts o;
    const char *argv[] = {"t", "--", "--name", NULL};
    assert_int_equal(parse(&o, 3, argv), FL_OPT_RUN);
    assert_string_equal(o.file, "--name");
    assert_null(o.name);
    fl_opt_release(&cmd, &o);
}

static int count(const fl_opt_spec *opt, const fl_opt_spec *group, void *ctx) {
    int *n = ctx;
    n[0]++;
    if (group)
        n[1]++;
    (void)opt;
    return 0;
}

static int find_switch(const fl_opt_spec *opt, const fl_opt_spec *group, void *ctx) {
    (void)group;
    return opt->name && !strcmp(opt->name, ctx);
}

static void test_walk(void **state) {
    (void)state;
    int n[2] = {0, 0};
    fl_opt_foreach(spec, count, n);
    assert_int_equal(n[0], 10); /* 8 entries of its own, the group's 2 in place of 1 */
    assert_int_equal(n[1], 2);
    /* every command is reachable, and switch takes the SSH group through deploy's */
    const fl_opt_cmd *const *cmds = fl_opt_commands();
    size_t k = 0;
    while (cmds[k])
        k++;
    assert_true(k >= 20);
    const char *words[] = {"switch"};
    const fl_opt_cmd *sw = fl_opt_find(words, 1);
    assert_non_null(sw);
    assert_int_equal(fl_opt_foreach(sw->opts, find_switch, "known-hosts"), 1);
    const char *sub[] = {"store", "add"};
    assert_non_null(fl_opt_find(sub, 2));
    const char *none[] = {"swtich"};
    assert_null(fl_opt_find(none, 1));
    char buf[32];
    assert_string_equal(fl_opt_spelling(&spec[1], buf, sizeof buf), "-j");
}

/* A named option marked FL_OPT_REQUIRED must be given, in a group too; the synopsis shows
 * it. */
typedef struct req_opts {
    const char *host;
    inner in;
} req_opts;

static const fl_opt_spec req_inner[] = {
    FL_OPT_FLAG_("confirm", 0, "confirm", inner, flag, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};

static const fl_opt_spec req_spec[] = {
    FL_OPT_STR_("host", 0, "H", "a host", req_opts, host, .flags = FL_OPT_REQUIRED),
    FL_OPT_GROUP_(req_inner, req_opts, in),
    FL_OPT_END_,
};

static const fl_opt_cmd req_cmd = {"r", "a command with required options", NULL, NULL, req_spec,
                                   NULL, NULL};

static void test_required_named(void **state) {
    (void)state;
    req_opts o;
    const char *none[] = {"r", NULL};
    memset(&o, 0, sizeof o);
    assert_int_equal(fl_opt_parse(&req_cmd, &o, 1, (char **)none), FL_EXIT_USAGE);
    const char *no_flag[] = {"r", "--host", "h", NULL};
    memset(&o, 0, sizeof o);
    assert_int_equal(fl_opt_parse(&req_cmd, &o, 3, (char **)no_flag), FL_EXIT_USAGE);
    const char *both[] = {"r", "--confirm", "--host=h", NULL};
    memset(&o, 0, sizeof o);
    assert_int_equal(fl_opt_parse(&req_cmd, &o, 3, (char **)both), FL_OPT_RUN);
    assert_string_equal(o.host, "h");
    assert_int_equal(o.in.flag, 1);
    fl_opt_release(&req_cmd, &o);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fl_opt_print_help(&req_cmd, f);
    fclose(f);
    assert_non_null(strstr(text, "usage: flakectl r [options] --host H --confirm\n"));
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_dashdash),
        cmocka_unit_test(test_walk),
        cmocka_unit_test(test_required_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
