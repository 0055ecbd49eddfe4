/* diff.c - `flakectl diff A B`: what changes between two toplevels or generation numbers
 * (files, units, packages, users, groups, secrets). With one argument, A is the current
 * generation. Reads only the two toplevels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/activate.h"
#include "flakectl/cli.h"
#include "flakectl/options.h"

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

int cmd_diff(int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("usage: flakectl diff [A] B   (toplevel paths or generation numbers; A defaults "
             "to the current generation)");
        return FL_EXIT_OK;
    }
    if (argc < 2 || argc > 3) {
        fl_error_set(&err, FL_EUSAGE, "diff takes one or two toplevels or generation numbers");
        return fl_cli_report(&err);
    }
    fl_toplevel a, b;
    const char *aa = argc == 3 ? argv[1] : NULL;
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
    if (resolve(argv[argc - 1], &b, &err)) {
        fl_toplevel_release(&a);
        return fl_cli_report(&err);
    }
    printf("diff %s -> %s\n", a.path, b.path);
    fl_activate_print_diff(&a, &b, stdout);
    fl_toplevel_release(&a);
    fl_toplevel_release(&b);
    return FL_EXIT_OK;
}
