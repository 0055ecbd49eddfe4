/* test_man.c - the man page generator (src/cli/man.c): a command or option added to a table
 * without help text stops it, naming what lacks text; a complete table becomes a page with
 * every option shown in --help; roff's control characters in help text stay text; and the
 * real command table is complete (every command has its page). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/man.h"
#include "cli/opt.h"
#include "flakectl/cli.h"

typedef struct t_opts {
    const char *name, *secret, *file;
    int flag;
} t_opts;

static const fl_opt_spec good_spec[] = {
    FL_OPT_STR_("name", 'n', "N", "the name-to-use", t_opts, name, .flags = 0),
    FL_OPT_FLAG_("flag", 0, "a flag\n.with a dot line", t_opts, flag, .flags = 0),
    FL_OPT_STR_("secret", 0, "S", NULL, t_opts, secret, .flags = FL_OPT_HIDDEN),
    FL_OPT_ARG_("FILE", "the file", t_opts, file, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};

static const fl_opt_spec bare_spec[] = {
    FL_OPT_STR_("name", 'n', "N", "the name", t_opts, name, .flags = 0),
    FL_OPT_FLAG_("bare", 0, NULL, t_opts, flag, .flags = 0),
    FL_OPT_END_,
};

static const fl_opt_spec bare_arg_spec[] = {
    FL_OPT_ARG_("FILE", "", t_opts, file, .flags = 0),
    FL_OPT_END_,
};

static const fl_opt_cmd good = {
    "t", "a test command", NULL, "Does a `test-run`.\n\nTwice, `unclosed.\n", good_spec, NULL,
    NULL};

static char *render(const fl_opt_cmd *cmd, int *rc, fl_error *err) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    *rc = fl_man_write_command(cmd, m, err);
    fclose(m);
    return buf;
}

static void test_missing_help_fails(void **state) {
    (void)state;
    fl_error err = FL_ERROR_INIT;
    /* a command without a summary */
    const fl_opt_cmd no_summary = {"t", NULL, NULL, NULL, good_spec, NULL, NULL};
    assert_true(fl_man_check_command(&no_summary, &err) < 0);
    assert_non_null(strstr(err.message, "'flakectl t' has no summary"));
    fl_error_clear(&err);
    const fl_opt_cmd empty_summary = {"t", "", NULL, NULL, good_spec, NULL, NULL};
    assert_true(fl_man_check_command(&empty_summary, &err) < 0);
    fl_error_clear(&err);
    /* an option without help text: named with its spelling */
    const fl_opt_cmd bare = {"t", "a test command", NULL, NULL, bare_spec, NULL, NULL};
    int rc;
    char *page = render(&bare, &rc, &err);
    assert_true(rc < 0);
    assert_non_null(strstr(err.message, "option '--bare'"));
    assert_non_null(err.hint);
    assert_int_equal(strlen(page), 0); /* nothing half-written */
    free(page);
    fl_error_clear(&err);
    /* an argument with empty help text */
    const fl_opt_cmd bare_arg = {"t", "a test command", NULL, NULL, bare_arg_spec, NULL, NULL};
    assert_true(fl_man_check_command(&bare_arg, &err) < 0);
    assert_non_null(strstr(err.message, "argument 'FILE'"));
    fl_error_clear(&err);
    /* a subcommand without a summary fails its parent */
    const fl_opt_cmd sub = {"t sub", NULL, NULL, NULL, NULL, NULL, NULL};
    const fl_opt_cmd *const subs[] = {&sub, NULL};
    const fl_opt_cmd parent = {"t", "a test command", NULL, NULL, NULL, subs, NULL};
    assert_true(fl_man_check_command(&parent, &err) < 0);
    assert_non_null(strstr(err.message, "'flakectl t sub' has no summary"));
    fl_error_clear(&err);
}

static void test_page(void **state) {
    (void)state;
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_man_check_command(&good, &err), 0); /* a hidden option needs no text */
    int rc;
    char *page = render(&good, &rc, &err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(page, ".TH \"FLAKECTL-T\" \"1\""));
    assert_non_null(strstr(page, "flakectl\\-t \\- a test command"));
    assert_non_null(strstr(page, "\\fB\\-n\\fR, \\fB\\-\\-name\\fR \\fIN\\fR"));
    assert_non_null(strstr(page, "the name\\-to\\-use"));
    assert_non_null(strstr(page, "\\fIFILE\\fR"));
    assert_null(strstr(page, "secret")); /* hidden stays hidden */
    /* a help line starting with '.' is text, not a request */
    assert_non_null(strstr(page, "\n\\&.with a dot line\n"));
    assert_null(strstr(page, "\n.with"));
    /* a blank line of the description is a paragraph break */
    assert_non_null(strstr(page, "Does a \\fBtest\\-run\\fR.\n.PP\nTwice, `unclosed.\n"));
    free(page);
}

static void test_real_table_complete(void **state) {
    (void)state;
    fl_error err = FL_ERROR_INIT;
    const fl_opt_cmd *const *cmds = fl_opt_commands();
    for (size_t i = 0; cmds[i]; i++) {
        if (fl_man_check_command(cmds[i], &err) < 0)
            fail_msg("%s", err.message);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_int_equal(fl_man_write_top(cmds, m, &err), 0);
    fclose(m);
    for (size_t i = 0; cmds[i]; i++) {
        char ref[128];
        snprintf(ref, sizeof ref, "\\fB%s\\fR", cmds[i]->name);
        /* hyphens in names are escaped */
        char esc[128];
        size_t k = 0;
        for (const char *p = ref; *p && k + 2 < sizeof esc; p++) {
            if (*p == '-')
                esc[k++] = '\\';
            esc[k++] = *p;
        }
        esc[k] = '\0';
        if (!strstr(buf, esc))
            fail_msg("flakectl(1) does not list '%s'", cmds[i]->name);
    }
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_help_fails),
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_real_table_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
