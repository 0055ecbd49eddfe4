/* activate.h - generations and activation: making a machine (or a --root directory) match a
 * built toplevel (docs/toplevel.md), atomically, and taking it back. See docs/activation.md. */
#ifndef FLAKECTL_ACTIVATE_H
#define FLAKECTL_ACTIVATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "flakectl/error.h"
#include "flakectl/progress.h"
#include "flakectl/rootpath.h"
#include "flakectl/strbuf.h"

/* ---- toplevels ---------------------------------------------------------------------- */

/* A loaded toplevel: its real path and its parsed profile.json / secrets.json. */
typedef struct fl_toplevel {
    char *path;      /* realpath of the toplevel directory */
    json_t *profile; /* profile.json (an object) */
    json_t *secrets; /* secrets.json (an array; empty when the file is absent) */
} fl_toplevel;

/* Loads dir/profile.json and dir/secrets.json. Errors name the file and what is wrong.
 * Release with fl_toplevel_release. */
int fl_toplevel_load(fl_toplevel *t, const char *dir, fl_error *err);
void fl_toplevel_release(fl_toplevel *t);
/* The empty toplevel (no files, users, units): what "nothing activated yet" looks like. */
void fl_toplevel_empty(fl_toplevel *t);

/* Every store path the toplevel names (profile.json sources and packages, secrets.json
 * files, and the unit/script files relative to the toplevel) must exist. Lists all missing
 * ones at once. Until the store registry merges this is an existence check; the coordinator
 * swaps in the registry's validity query here. */
int fl_activate_check_closure(const fl_toplevel *t, fl_error *err);

/* ---- activation --------------------------------------------------------------------- */

typedef enum fl_act_mode {
    FL_ACT_SWITCH,
    FL_ACT_TEST,
    FL_ACT_BOOT,
    FL_ACT_DRY,
    FL_ACT_BOOT_TIME, /* run by the boot-time unit: re-creates what /run held, units queued */
} fl_act_mode;

typedef struct fl_act_options {
    fl_act_mode mode;
    const char *root;       /* "/" or the directory everything is applied beneath */
    const char *state_dir;  /* profiles/ and activation/ live here */
    const char *backup_ext; /* NULL: unmanaged files in the way are an error */
    int use_generation;     /* > 0: make this existing generation the default (rollback)
                               instead of creating a new one */
    FILE *out;              /* progress and plans */
    /* switch/test/boot: record the outcome in <state>/host/status.json (fl_act_record) as done
     * by record_via ("switch", "push", "pull"); NULL records nothing. record_host names the
     * flake's host (NULL keeps the recorded one). */
    const char *record_via;
    const char *record_host;
    json_t *plan_json; /* dry-activate: when an object, the plan is added to it as
                          docs/json.md describes instead of printed (notes still go
                          to out) */
    const fl_progress *progress; /* long steps (apt's installs) report here; NULL = none */
} fl_act_options;

/* The global --root (which must exist) and --state-dir as absolute, canonical paths, so
 * links and the boot unit never hold relative ones. Both owned by the caller. */
int fl_activate_paths(const char *root_flag, const char *state_flag, char **root, char **state_dir,
                      fl_error *err);

/* Activates the toplevel at dir in the given mode. Returns 0, or a negative code with err
 * naming the failed step (and, after a failure midway, what was restored). */
int fl_activate(const fl_act_options *o, const char *dir, fl_error *err);

/* Prints what changes between two toplevels (either may be the empty one): files, units,
 * packages, users, groups, secrets. Pure: looks at nothing but the two toplevels. */
void fl_activate_print_diff(const fl_toplevel *a, const fl_toplevel *b, FILE *out);
/* The same comparison as a JSON object (docs/json.md, "version": 1); NULL with err set when
 * the toplevels cannot be compared. Owned by the caller (json_decref). */
json_t *fl_activate_diff_json(const fl_toplevel *a, const fl_toplevel *b, fl_error *err);

/* ---- generations -------------------------------------------------------------------- */

typedef struct fl_generation {
    int number;
    char *toplevel; /* the link's target */
    time_t date;    /* when the link was made */
    char *rev;      /* flake revision from profile.json, NULL when unknown */
    int dirty;      /* 1/0, -1 when unknown */
    int is_default;
    int is_current;
} fl_generation;

/* Lists <state>/profiles/system-<N>-link in ascending order. *gens owned by the caller:
 * free with fl_gen_list_free. */
int fl_gen_list(const char *state_dir, const char *root, fl_generation **gens, size_t *n,
                fl_error *err);
void fl_gen_list_free(fl_generation *gens, size_t n);
/* The number profiles/system points at, 0 when there is none. */
int fl_gen_default(const char *state_dir);
/* The realpath of <root>/run/flakectl/current (owned), NULL when nothing is active. */
char *fl_gen_current(const char *root);
/* The toplevel generation N points at (owned), NULL when it does not exist. */
char *fl_gen_toplevel(const char *state_dir, int number);
/* Creates system-<max+1>-link -> toplevel; *number receives N. */
int fl_gen_create(const char *state_dir, const char *toplevel, int *number, fl_error *err);
int fl_gen_set_default(const char *state_dir, int number, fl_error *err);
int fl_gen_set_current(const char *root, const char *toplevel, fl_error *err);
/* Deletes the listed generations, all or none: refuses (naming it) the default or current
 * one or a number that does not exist. */
int fl_gen_delete(const char *state_dir, const char *root, const int *numbers, size_t n, FILE *out,
                  fl_error *err);
/* Deletes generations made before cutoff, skipping (and saying so) the default and current. */
int fl_gen_delete_older(const char *state_dir, const char *root, time_t cutoff, FILE *out,
                        fl_error *err);

/* ---- pieces with their own unit tests ----------------------------------------------- */

/* Appends a unified diff (3 lines of context) of two texts to out, headed by the labels.
 * Returns 1 when they differ, 0 when equal. Binary content (a NUL byte) gives one line
 * "Binary files differ". */
int fl_text_diff(const char *a, size_t alen, const char *b, size_t blen, const char *label_a,
                 const char *label_b, fl_strbuf *out);

/* Inputs and outputs of editing passwd/group/shadow for the declared users and groups. */
typedef struct fl_users_edit {
    /* in */
    const json_t *users;  /* profile.json "users" (object, may be NULL) */
    const json_t *groups; /* profile.json "groups" (object, may be NULL) */
    const char *passwd;   /* current file contents ("" when absent) */
    const char *group;
    const char *shadow;
    json_t *ids;           /* {"uids":{name:n}, "gids":{name:n}}: read and extended */
    const json_t *created; /* {"users":[...], "groups":[...]} made by flakectl earlier */
    long today;            /* days since the epoch, for new shadow entries */
    /* out (owned; release with fl_users_edit_release) */
    char *new_passwd, *new_group, *new_shadow;
    json_t *new_created; /* same shape as created */
    json_t *ops;         /* [[argv...], ...]: the useradd/groupmod/... calls for root "/" */
    fl_strbuf changes;   /* one line per change ("+ user alice (uid 1000, ...)") */
    int nchanges;
} fl_users_edit;

/* Computes the new files. Foreign lines are kept byte for byte and in order; managed lines
 * are updated in place, new ones appended. Errors (e.g. a uid already taken by another
 * name) name the user and the field. */
int fl_users_compute(fl_users_edit *e, fl_error *err);
void fl_users_edit_release(fl_users_edit *e);

/* fl_act_root_path and fl_act_lookup_id live in util (rootpath.h), shared with the secrets
 * installer. */

/* ---- magic rollback on the target (watchdog.c) ---- */

/* A deployment's watch: what was active before it, and the watchdog once armed. */
typedef struct fl_act_watch {
    const char *root, *state, *token; /* borrowed */
    int timeout_s;
    int mode_test;       /* the deployment was `test`: put the previous current back */
    int prev_default;    /* 0 = none */
    char *prev_current;  /* NULL = nothing was active */
    char *prev_dflt_top; /* toplevel of prev_default */
    int pipe_wr;         /* to the armed watchdog; -1 when not armed */
} fl_act_watch;

typedef enum fl_act_watch_outcome {
    FL_ACT_WATCH_FAILED,    /* the activation failed (and restored the previous state) */
    FL_ACT_WATCH_UNCHANGED, /* nothing changed: nothing to watch */
    FL_ACT_WATCH_CHANGED,   /* wait for the confirmation, else roll back */
} fl_act_watch_outcome;

/* A token names a deployment: 8 to 64 lowercase hex digits. */
int fl_act_watch_token_valid(const char *token);
/* Records what is active now (before the deployment). */
void fl_act_watch_init(fl_act_watch *w, const char *root, const char *state, const char *token,
                       int timeout_s, fl_act_mode mode);
/* Is there anything to go back to? */
int fl_act_watch_has_previous(const fl_act_watch *w);
/* Starts the watchdog: a process in its own session that outlives the caller, waits for
 * fl_act_watch_finish, then for `confirm` within timeout_s, and re-activates the previous
 * generation when it does not come. */
int fl_act_watch_arm(fl_act_watch *w, fl_error *err);
/* Does what is active now differ from what was before? */
int fl_act_watch_changed(const fl_act_watch *w);
/* Tells an armed watchdog how the activation went (no-op when not armed). */
void fl_act_watch_finish(fl_act_watch *w, fl_act_watch_outcome outcome);
void fl_act_watch_release(fl_act_watch *w);
/* The deployer's confirmation: 0 confirmed in time; 1 too late (the watchdog rolled back;
 * *late is its one-line account, owned, or NULL while it is still at it); <0 when no
 * deployment with that token waits here. */
int fl_act_watch_confirm(const char *state, const char *token, char **late, fl_error *err);

/* Activates generation `to` (0: the one before the default) in switch mode and makes it the
 * default again, without creating a generation; says which on out. */
int fl_activate_rollback(const char *root, const char *state, int to, const char *backup_ext,
                         FILE *out, fl_error *err);

/* ---- the host's record of its state (record.c), read by `flakectl status` ---- */

/* One event: an activation or a pull, succeeded (error NULL) or failed. */
typedef struct fl_act_record_event {
    const char *via;   /* "switch", "push", "pull", ... */
    const char *host;  /* the flake's name for this host; NULL keeps the recorded one */
    const char *error; /* the failure's message; NULL = success (clears lastError) */
    /* pull from a cache: the pointer now applied (NULL url: the recorded one stays) */
    const char *pointer_url, *pointer_toplevel;
    uint64_t pointer_counter;
    /* the trusted keys ("name:base64") whose signature on it was valid: each one's mark in
     * pointerMarks becomes this pointer (docs/pull.md, "Counters are per key") */
    const char *const *pointer_signers;
    size_t pointer_nsigners;
} fl_act_record_event;

/* Rewrites <state>/host/status.json (atomically): version, host, generation (the default),
 * toplevel (the active one), rev and dirty (its profile.json's flake), time, via,
 * lastError (+ lastErrorTime / lastSuccessTime), pointer {url, counter, toplevel, signers}
 * and pointerMarks {key: {counter, toplevel}} (the last pointer applied from each key). */
int fl_act_record(const char *root, const char *state_dir, const fl_act_record_event *ev,
                  fl_error *err);
/* The record (owned), or NULL with err clear when there is none, NULL with err set when it
 * cannot be read. */
json_t *fl_act_record_load(const char *state_dir, fl_error *err);
/* The record (an empty one when none was written) with generation, toplevel, rev and dirty
 * as they are now: what `deploy-agent state` reports. Owned; NULL with err when unreadable. */
json_t *fl_act_record_read_live(const char *root, const char *state_dir, fl_error *err);
/* The counter of the pointer the record says was applied, 0 when none. */
uint64_t fl_act_record_pointer_counter(const json_t *rec);

/* What a deployer wants to know about a target before it deploys (deploy-agent info). */
typedef struct fl_act_status {
    int default_gen;        /* 0 = none */
    char *current;          /* the active toplevel, NULL when nothing is */
    char *default_toplevel; /* NULL when no default */
    int in_flight;          /* an activation was interrupted halfway */
} fl_act_status;
void fl_activate_status(const char *root, const char *state, fl_act_status *st);
void fl_act_status_release(fl_act_status *st);

#endif
