/* packages.c - the packages step of activation (after /etc, before units: a service needs its
 * binary before it starts). The work is src/pkg/: this file only says which root, state dir,
 * host and generation, and whether the no-op switch may skip it. */
#include <stdlib.h>
#include <string.h>

#include "activate/internal.h"
#include "flakectl/pkg.h"

static void step_of(fl_pkg_step *s, const fl_act_options *o, const fl_toplevel *t, int generation,
                    int dry, FILE *out) {
    memset(s, 0, sizeof *s);
    s->root = o->root;
    s->state_dir = o->state_dir;
    s->host = fl_act_jstr(t->profile, "host", "?");
    s->profile = t->profile;
    s->toplevel = t->path;
    s->generation = generation;
    s->dry = dry;
    s->out = out;
    s->progress = o->progress;
}

int fl_act_packages_apply(const fl_act_options *o, const fl_toplevel *t, int generation, int dry,
                          FILE *out, fl_error *err) {
    fl_pkg_step s;
    step_of(&s, o, t, generation, dry, out);
    return fl_pkg_activate(&s, err);
}

int fl_act_packages_satisfied(const fl_act_options *o, const fl_toplevel *t) {
    fl_pkg_step s;
    step_of(&s, o, t, 0, 1, NULL);
    return fl_pkg_satisfied(&s);
}

int fl_act_next_generation(const fl_act_options *o, const char *toplevel) {
    if (o->use_generation)
        return o->use_generation;
    if (o->mode != FL_ACT_SWITCH)
        return 0;
    int d = fl_gen_default(o->state_dir);
    char *dt = fl_gen_toplevel(o->state_dir, d);
    int same = dt && toplevel && !strcmp(dt, toplevel);
    free(dt);
    if (same)
        return d;
    fl_generation *gens = NULL;
    size_t n = 0;
    fl_error e = FL_ERROR_INIT;
    int max = 0;
    if (fl_gen_list(o->state_dir, o->root, &gens, &n, &e) == 0 && n)
        max = gens[n - 1].number;
    fl_gen_list_free(gens, n);
    fl_error_clear(&e);
    return max + 1;
}
