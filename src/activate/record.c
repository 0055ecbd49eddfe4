/* record.c - the host's own account of its state, <state>/host/status.json: which generation and
 * toplevel it runs, the flake revision they came from, when and how (push, pull, switch) it
 * last changed, the last error, and the host pointer pull mode applied (its counter is what
 * refuses a replayed or older pointer). Written after every activation and pull, always
 * through the atomic-write helper, so a reader (`flakectl status` over SSH) sees the old
 * record or the new one, never half. Decides nothing: it only records. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activate/internal.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

#define RECORD_VERSION 1

/* In a directory of its own: rewriting it leaves the state directory itself unchanged. */
static char *record_path(const char *state_dir) {
    return fl_path_join(state_dir, "host/status.json");
}

static json_t *iso_now(void) {
    char buf[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

json_t *fl_act_record_load(const char *state_dir, fl_error *err) {
    char *path = record_path(state_dir);
    json_t *j = NULL;
    int rc = fl_act_load_json(path, &j, err);
    if (!rc && j && !json_is_object(j)) {
        rc = fl_error_set(err, FL_EPARSE, "%s: expected a JSON object", path);
        json_decref(j);
        j = NULL;
    }
    free(path);
    if (rc)
        return NULL;
    if (!j)
        fl_error_clear(err);
    return j;
}

/* The record with what is active now filled in: generation, toplevel, revision. */
static void fill_live(json_t *rec, const char *root, const char *state_dir) {
    int dflt = fl_gen_default(state_dir);
    char *current = fl_gen_current(root);
    char *top = current ? current : fl_gen_toplevel(state_dir, dflt);
    json_object_set_new(rec, "generation", json_integer(dflt));
    json_object_set_new(rec, "toplevel", top ? json_string(top) : json_null());
    json_t *rev = json_null(), *dirty = json_null();
    if (top) {
        fl_toplevel t;
        fl_error e = FL_ERROR_INIT;
        if (fl_toplevel_load(&t, top, &e) == 0) {
            json_t *flake = json_object_get(t.profile, "flake");
            if (json_is_string(json_object_get(flake, "rev")))
                rev = json_incref(json_object_get(flake, "rev"));
            if (json_is_boolean(json_object_get(flake, "dirty")))
                dirty = json_incref(json_object_get(flake, "dirty"));
            fl_toplevel_release(&t);
        }
        fl_error_clear(&e);
    }
    json_object_set_new(rec, "rev", rev);
    json_object_set_new(rec, "dirty", dirty);
    free(top);
}

int fl_act_record(const char *root, const char *state_dir, const fl_act_record_event *ev,
                  fl_error *err) {
    fl_error lerr = FL_ERROR_INIT;
    /* an unreadable record is replaced: it is an account, not a source of truth (except the
     * pointer, whose loss lets pull re-apply the cache's newest pointer, never an older one
     * than the cache holds) */
    json_t *rec = fl_act_record_load(state_dir, &lerr);
    fl_error_clear(&lerr);
    if (!rec)
        rec = json_object();
    json_object_set_new(rec, "version", json_integer(RECORD_VERSION));
    if (ev->host)
        json_object_set_new(rec, "host", json_string(ev->host));
    fill_live(rec, root, state_dir);
    json_t *now = iso_now();
    json_object_set(rec, "time", now);
    if (ev->via)
        json_object_set_new(rec, "via", json_string(ev->via));
    if (ev->error) {
        json_object_set_new(rec, "lastError", json_string(ev->error));
        json_object_set(rec, "lastErrorTime", now);
    } else {
        json_object_set_new(rec, "lastError", json_null());
        json_object_set(rec, "lastSuccessTime", now);
    }
    json_decref(now);
    if (ev->pointer_url) {
        json_t *p = json_object();
        json_object_set_new(p, "url", json_string(ev->pointer_url));
        json_object_set_new(p, "counter", json_integer((json_int_t)ev->pointer_counter));
        json_object_set_new(p, "toplevel", json_string(ev->pointer_toplevel));
        json_t *signers = json_array();
        json_t *marks = json_object_get(rec, "pointerMarks");
        if (!json_is_object(marks)) {
            marks = json_object();
            json_object_set_new(rec, "pointerMarks", marks);
        }
        /* set, not raised: only a pointer at or above the marks gets here, or one taken
         * back on purpose (--allow-downgrade), which lowers the mark with it */
        for (size_t i = 0; i < ev->pointer_nsigners; i++) {
            json_array_append_new(signers, json_string(ev->pointer_signers[i]));
            json_object_set_new(marks, ev->pointer_signers[i],
                                json_pack("{s:I,s:s}", "counter", (json_int_t)ev->pointer_counter,
                                          "toplevel", ev->pointer_toplevel));
        }
        json_object_set_new(p, "signers", signers);
        json_object_set_new(rec, "pointer", p);
    }
    char *path = record_path(state_dir);
    int rc = fl_act_save_json(path, rec, err);
    if (rc)
        fl_error_add_frame(err, "while recording the host's state in %s", path);
    free(path);
    json_decref(rec);
    return rc;
}

uint64_t fl_act_record_pointer_counter(const json_t *rec) {
    json_t *c = json_object_get(json_object_get(rec, "pointer"), "counter");
    return json_is_integer(c) && json_integer_value(c) > 0 ? (uint64_t)json_integer_value(c) : 0;
}

json_t *fl_act_record_read_live(const char *root, const char *state_dir, fl_error *err) {
    json_t *rec = fl_act_record_load(state_dir, err);
    if (!rec && err->code)
        return NULL;
    if (!rec)
        rec = json_object();
    fill_live(rec, root, state_dir);
    return rec;
}
