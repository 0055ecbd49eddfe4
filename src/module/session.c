/* session.c - everything one command needs to work on one host: the flake directory, the
 * store (so derivations and sources can be built), an evaluator wired to both, and the
 * evaluated host. One open, one close, for every command that evaluates hosts. */
#include <stdlib.h>
#include <string.h>

#include "flakectl/module.h"
#include "flakectl/store.h"

int fl_host_session_open(fl_host_session *s, const char *flake_flag, const char *state_dir,
                         const char *host_name, size_t max_stack, int frames, fl_error *err) {
    memset(s, 0, sizeof *s);
    s->flake = fl_flake_find_dir(flake_flag, err);
    if (!s->flake)
        return err->code ? err->code : FL_ENOTFOUND;
    int rc = fl_store_open(state_dir, &s->store, err);
    if (rc < 0) {
        fl_error_add_frame(err, "while opening the store in %s (set --state-dir to move it)",
                           state_dir);
        fl_host_session_close(s);
        return rc;
    }
    fl_lang_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_stack = max_stack;
    cfg.frames = frames;
    fl_module_store_hooks(&cfg, s->store);
    s->L = fl_lang_new(&cfg);
    fl_module_prepare(s->L);
    rc = fl_module_attach_builds(s->L, s->store, err);
    if (rc == 0 && host_name) {
        rc = fl_host_open(s->L, s->flake, host_name, &s->host, err);
        s->host_open = rc == 0;
    }
    if (rc < 0)
        fl_host_session_close(s);
    return rc;
}

void fl_host_session_close(fl_host_session *s) {
    if (s->host_open)
        fl_host_release(&s->host);
    if (s->L)
        fl_lang_free(s->L);
    if (s->store)
        fl_store_close(s->store);
    free(s->flake);
    memset(s, 0, sizeof *s);
}
