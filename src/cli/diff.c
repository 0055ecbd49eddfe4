/* diff.c - `flakectl diff A B`: what changes between two toplevels or generation numbers
 * (files, units, packages, users, groups, secrets). With one argument, A is the current
 * generation. Reads only the two toplevels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/activate.h"
#include "opt.h"
#include "term.h"
#include "flakectl/cli.h"
#include "options.h"

/* A generation number or a toplevel directory. */
static int resolve(const char *arg, fl_toplevel *t, fl_error *err) {
    char *end;
    long n = strtol(arg, &end, 10);
    if (*arg && !*end && n > 0) {
        char *top = fl_gen_toplevel(fl_opts.state_dir, (int)n);
        if (!top) {
            fl_error_set(err, FL_ENOTFOUND, "generation %ld does not exist", n);
            fl_error_set_hint(err, "'flakectl generations' lists them");
            return FL_ENOTFOUND;
        }
        int rc = fl_toplevel_load(t, top, err);
        free(top);
        return rc;
    }
    return fl_toplevel_load(t, arg, err);
}

typedef struct diff_opts {
    const char *a, *b;
    int json;
} diff_opts;

static const fl_opt_spec diff_spec[] = {
    FL_OPT_FLAG_("json", 0, "print the changes as JSON (docs/json.md)", diff_opts, json,
                 .flags = 0),
    FL_OPT_ARG_("A", "a toplevel path or generation number (default: the current one)", diff_opts,
                a, .complete = FL_OPT_V_GENERATION, .flags = FL_OPT_REQUIRED),
    FL_OPT_ARG_("B", "a toplevel path or generation number", diff_opts, b,
                .complete = FL_OPT_V_GENERATION, .flags = 0),
    FL_OPT_END_,
};

static int cmd_diff(int argc, char **argv);

const fl_opt_cmd fl_cmd_diff = {
    "diff",
    "what changes between two toplevels or generations",
    "[A] B [--json]",
    "Lists what changes from A to B (toplevel paths or generation numbers): files, units,\n"
    "packages, users, groups, secrets and the closure size. A defaults to the current\n"
    "generation.\n",
    diff_spec,
    NULL,
    cmd_diff,
};

static int cmd_diff(int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    diff_opts d = {NULL, NULL, 0};
    int prc = fl_opt_parse(&fl_cmd_diff, &d, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    const char *bb = d.b ? d.b : d.a;
    fl_toplevel a, b;
    const char *aa = d.b ? d.a : NULL;
    char *cur = NULL;
    if (!aa) {
        cur = fl_gen_current(fl_opts.root);
        if (!cur) {
            fl_error_set(&err, FL_ENOTFOUND, "nothing is active to compare with");
            fl_error_set_hint(&err, "give two toplevels: flakectl diff A B");
            return fl_cli_report(&err);
        }
        aa = cur;
    }
    int rc = resolve(aa, &a, &err);
    free(cur);
    if (rc)
        return fl_cli_report(&err);
    if (resolve(bb, &b, &err)) {
        fl_toplevel_release(&a);
        return fl_cli_report(&err);
    }
    if (d.json) {
        json_t *j = fl_activate_diff_json(&a, &b, &err);
        fl_toplevel_release(&a);
        fl_toplevel_release(&b);
        if (!j)
            return fl_cli_report(&err);
        return fl_cli_print_json(j);
    }
    FILE *out = fl_term_plan_open(stdout, fl_term_color(stdout));
    fprintf(out, "diff %s -> %s\n", a.path, b.path);
    fl_activate_print_diff(&a, &b, out);
    fl_term_plan_close(out, stdout);
    fl_toplevel_release(&a);
    fl_toplevel_release(&b);
    return FL_EXIT_OK;
}
