/* scripts.c - running a toplevel's activation scripts, in the order profile.json lists them
 * (already sorted by deps). They run under --root too: they are the user's own snippets and
 * see FLAKECTL_ROOT to know where to act. Never decides order itself. */
#include <stdlib.h>
#include <string.h>

#include "activate/internal.h"
#include "flakectl/fs.h"

int fl_act_scripts_run(const char *root, const fl_toplevel *t, FILE *out, fl_error *err) {
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(t->profile, "activationScripts"), i, s) {
        const char *name = fl_act_jstr(s, "name", "?");
        const char *file = fl_act_jstr(s, "file", NULL);
        if (!file)
            return fl_error_set(err, FL_EPARSE, "activation script '%s' has no \"file\"", name);
        char *path = fl_path_join(t->path, file);
        char *env_root = fl_xasprintf("FLAKECTL_ROOT=%s", root);
        char *env_top = fl_xasprintf("FLAKECTL_TOPLEVEL=%s", t->path);
        char *env[] = {env_root, env_top, NULL};
        char *argv[] = {"/bin/sh", "-e", path, NULL};
        fprintf(out, "  running activation script %s\n", name);
        int status = 0;
        int rc = fl_act_run(argv, env, root, &status, err);
        free(env_root);
        free(env_top);
        free(path);
        if (rc)
            return rc;
        if (status != 0)
            return fl_error_set(err, FL_EGENERIC, "activation script '%s' exited with status %d",
                                name, status);
    }
    return FL_OK;
}
