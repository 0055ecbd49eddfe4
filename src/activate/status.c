/* status.c - what a target tells a deployer before a deployment: its default and active
 * generation and whether an activation was interrupted (activation's own bookkeeping,
 * <state>/activation/managed.json, is read here and nowhere outside activate/). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "flakectl/activate.h"
#include "flakectl/strbuf.h"

void fl_activate_status(const char *root, const char *state, fl_act_status *st) {
    memset(st, 0, sizeof *st);
    st->default_gen = fl_gen_default(state);
    st->current = fl_gen_current(root);
    st->default_toplevel = fl_gen_toplevel(state, st->default_gen);
    char *managed = fl_xasprintf("%s/activation/managed.json", state);
    json_t *m = json_load_file(managed, 0, NULL);
    struct stat mst;
    /* an unreadable record counts as interrupted: the next activation repairs it */
    st->in_flight = m ? json_is_string(json_object_get(m, "inFlight")) : lstat(managed, &mst) == 0;
    json_decref(m);
    free(managed);
}

void fl_act_status_release(fl_act_status *st) {
    free(st->current);
    free(st->default_toplevel);
    memset(st, 0, sizeof *st);
}
