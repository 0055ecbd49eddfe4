/* rollback.c - `rollback`: re-activates an earlier generation (by default the one before the
 * default) in switch mode and makes it the default again, without a new generation. Used
 * by `flakectl rollback` and, through it, by a fleet rolling back its succeeded hosts. */
#include <stdio.h>
#include <stdlib.h>

#include "flakectl/activate.h"

int fl_activate_rollback(const char *root, const char *state, int to, const char *backup_ext,
                         FILE *out, fl_error *err) {
    if (!to) {
        fl_generation *g;
        size_t n;
        if (fl_gen_list(state, root, &g, &n, err))
            return err->code ? err->code : FL_EGENERIC;
        int dflt = fl_gen_default(state);
        for (size_t i = 0; i < n; i++)
            if (g[i].number < dflt)
                to = g[i].number;
        fl_gen_list_free(g, n);
        if (!to) {
            fl_error_set(err, FL_ENOTFOUND,
                         "no generation before the default one (%d) to roll back to", dflt);
            fl_error_set_hint(err, "'flakectl generations' lists them");
            return FL_ENOTFOUND;
        }
    }
    char *top = fl_gen_toplevel(state, to);
    if (!top) {
        fl_error_set(err, FL_ENOTFOUND, "generation %d does not exist (or its toplevel is gone)",
                     to);
        fl_error_set_hint(err, "'flakectl generations' lists them");
        return FL_ENOTFOUND;
    }
    fprintf(out, "rolling back to generation %d\n", to);
    fl_act_options o = {FL_ACT_SWITCH, root, state, backup_ext, to, out, "rollback", NULL, NULL,
                        NULL};
    int rc = fl_activate(&o, top, err);
    free(top);
    return rc;
}
