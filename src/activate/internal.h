/* internal.h - what the files of src/activate share and nobody else sees. */
#ifndef FLAKECTL_ACTIVATE_INTERNAL_H
#define FLAKECTL_ACTIVATE_INTERNAL_H

#include <sys/types.h>

#include "flakectl/activate.h"

/* ---- common.c ---- */
const char *fl_act_jstr(const json_t *o, const char *key, const char *dflt);
/* sha256 of a file's content (following symlinks: sources are store paths). 0 or -1. */
int fl_act_sha256_file(const char *path, char out[65]);
void fl_act_sha256_mem(const void *data, size_t len, char out[65]);
/* Reads a JSON file; a missing file gives *out = NULL and 0. */
int fl_act_load_json(const char *path, json_t **out, fl_error *err);
int fl_act_save_json(const char *path, const json_t *j, fl_error *err);
/* The same with fl_atomic_write_file_ex's flags (FL_ATOMIC_NO_DIRSYNC: the caller syncs the
 * directory once after staging several files). */
int fl_act_save_json_ex(const char *path, const json_t *j, int flags, fl_error *err);
/* Runs argv (PATH searched) with extra "K=V" environment entries, stdout to stderr's
 * stream is left as is. *status is the exit status (128+signal when killed). */
int fl_act_run(char *const argv[], char *const env_extra[], const char *cwd, int *status,
               fl_error *err);
/* Whom a command runs as: root when NULL or uid 0, else uid/gid dropped in the child (no
 * supplementary groups) and HOME set. */
typedef struct fl_act_runas {
    uid_t uid;
    gid_t gid;
    const char *home;
    const char *runtime_dir; /* XDG_RUNTIME_DIR, for `systemctl --user` */
} fl_act_runas;
/* Runs argv (PATH searched) as `as`; its stdout is captured into out when given, else sent
 * to stderr. stderr passes through. */
int fl_act_run_as(char *const argv[], const fl_act_runas *as, fl_strbuf *out, int *status,
                  fl_error *err);
int fl_act_systemd_live(const char *root);
/* The root's own files (passwd, shadow, /run/flakectl/...), resolved beneath root without
 * following any symlink (util/beneath.c): a link planted anywhere on the way is an error
 * naming it, never a write or a read elsewhere. path is absolute within the root. Reading
 * (fl_act_root_read) is in util's rootpath.h, shared with the secrets installer. */
/* Atomically replaces path (missing directories made 0755); keep_mode keeps the mode of the
 * regular file there, dflt_mode is used otherwise. */
int fl_act_root_write(const char *root, const char *path, const char *data, size_t len,
                      mode_t dflt_mode, int keep_mode, fl_error *err);
int fl_act_root_symlink(const char *root, const char *path, const char *target, fl_error *err);
/* A missing file (or directory on the way) is not an error. */
int fl_act_root_unlink(const char *root, const char *path, fl_error *err);
/* Moves from back to to (a file moved aside) unless something is at to already. */
int fl_act_root_move_back(const char *root, const char *from, const char *to, fl_error *err);
/* path, where it exists, is a real directory reached through real directories. */
int fl_act_root_check_dir(const char *root, const char *path, fl_error *err);
/* The content of the symlink at path, or NULL. Owned. */
char *fl_act_root_readlink(const char *root, const char *path);
/* generations.c: the number the next new generation gets. */
int fl_gen_next_number(const char *state_dir);
/* The toplevel being activated is a GC root (in its own store) from before the closure check
 * until the activation's record is clean again; a crash leaves it rooted. Release drops every
 * such root of this state dir. */
int fl_act_root_hold(const char *state_dir, const char *toplevel, fl_error *err);
void fl_act_root_release(const char *state_dir, const char *toplevel);

/* ---- files.c: managed files (/etc and home) ---- */
enum { FL_ENT_LINK, FL_ENT_COPY };

typedef struct fl_act_entry {
    char *path; /* absolute, inside the root */
    int kind;
    char *target;        /* LINK: the symlink's content */
    char *source;        /* the content (a host path), NULL when none */
    char *hash;          /* COPY: sha256 of the declared content */
    mode_t mode;         /* COPY */
    char *owner, *group; /* COPY (etc) and home files: names resolved in the root */
    char *user;          /* home files: whose; NULL for system files */
    char *home;          /* home files: the home directory (inside the root) */
    int keep_edits;      /* home copy = true: an app may rewrite it */
    /* While an activation is in flight a path may hold the old or the new generation's
     * version: the record accepts both (managed.json "alt"). */
    char *alt_target, *alt_hash;
} fl_act_entry;

typedef struct fl_act_entries {
    fl_act_entry *e;
    size_t n, cap;
} fl_act_entries;

void fl_act_entries_free(fl_act_entries *es);
fl_act_entry *fl_act_entries_add(fl_act_entries *es);
const fl_act_entry *fl_act_entries_find(const fl_act_entries *es, const char *path);
/* The files a toplevel wants (etc/static, /etc, unit files, home files). */
int fl_act_desired(const fl_toplevel *t, fl_act_entries *out, fl_error *err);
json_t *fl_act_entries_to_json(const fl_act_entries *es);
void fl_act_entries_from_json(const json_t *arr, fl_act_entries *out);

enum {
    FL_CH_NONE, /* already as wanted */
    FL_CH_ADD,
    FL_CH_UPDATE,
    FL_CH_REMOVE,
    FL_CH_KEEP_EDITED, /* home copy: an app changed it, declared content did not */
    FL_CH_LEAVE,       /* stale but changed by someone since: left in place */
    FL_CH_MASKED,      /* a unit file the admin masked (a link to /dev/null): left alone */
};

typedef struct fl_act_change {
    int action;
    const fl_act_entry *want; /* NULL for REMOVE/LEAVE */
    const fl_act_entry *had;  /* the managed record, NULL when new */
    int content_changed;      /* the content a reader sees changes */
    int edited;               /* a copy was edited on disk since flakectl wrote it */
    char *backup_of;          /* the path in the way that --backup-ext moves aside */
    char *disk;               /* path beneath the plan's root whose content is the "before" */
    int conflicted;           /* listed as a conflict: never applied */
} fl_act_change;

typedef struct fl_act_fileplan {
    const char *root; /* the root the disk was compared in (NULL: a pure comparison) */
    fl_act_change *c;
    size_t n;
    fl_strbuf conflicts; /* one path per line (with why) */
    int nconflicts;
} fl_act_fileplan;

/* Compares the wanted entries with the managed ones and the disk beneath root. root NULL:
 * a pure comparison (the disk is assumed to hold exactly the managed entries). */
void fl_act_files_plan(const char *root, const fl_act_entries *want, const fl_act_entries *had,
                       const char *backup_ext, fl_act_fileplan *p);
void fl_act_fileplan_free(fl_act_fileplan *p);
/* Applies the plan beneath root. home selects the home entries (1) or the others (0).
 * Backups made are appended to backups as [from, to] pairs. */
int fl_act_files_apply(const char *root, const fl_act_fileplan *p, int home, const char *backup_ext,
                       json_t *backups, FILE *out, fl_error *err);
/* Only the removals of the plan (home and system files alike). A restore runs them before
 * anything else: on a full disk, the space the failed generation's new files took is what
 * putting back the previous passwd or files needs. */
int fl_act_files_remove_only(const char *root, const fl_act_fileplan *p, fl_error *err);
void fl_act_files_sweep_temps(const char *root, const fl_act_entries *es, FILE *out);
void fl_act_files_print(const fl_act_fileplan *p, int home, int diffs, FILE *out);
/* The same changes as JSON (docs/json.md "files"); the printer renders these. */
json_t *fl_act_files_json(const fl_act_fileplan *p, int home, int diffs);
/* Homes of createHome users that do not exist yet ([{user, home}]); conflicts go into p. */
json_t *fl_act_homes_plan(const char *root, const json_t *users, fl_act_fileplan *p);
int fl_act_homes_create(const char *root, const json_t *homes, FILE *out, fl_error *err);

/* ---- units.c ---- */
enum { FL_U_STOP, FL_U_START, FL_U_RESTART, FL_U_RELOAD, FL_U_KEEP };
typedef struct fl_act_unit_action {
    int action;
    const char *name;
    const char *rule;
} fl_act_unit_action;
typedef struct fl_act_unitplan {
    fl_act_unit_action *a;
    size_t n;
    int daemon_reload;
    const json_t *units; /* the new generation's profile.json "units" (wantedBy), borrowed */
    int no_block;        /* at boot: queue the jobs (systemctl --no-block), wait for none */
    int restore;         /* putting a generation back: a unit that failed counts as running */
    const fl_act_runas *user; /* NULL: the system manager; else `systemctl --user` as them */
} fl_act_unitplan;
void fl_act_units_plan(const json_t *old_units, const json_t *new_units, fl_act_unitplan *p);
void fl_act_units_print(const fl_act_unitplan *p, FILE *out, const char *indent);
/* Units whose file flakectl managed but which was missing on disk (unmasked by hand since,
 * or deleted) and is installed again by files: started, as a unit new to the system. user:
 * that user's units (~/.config/systemd/user), NULL: the system's. */
void fl_act_units_reinstalled(fl_act_unitplan *p, const fl_act_fileplan *files, const char *user);
/* 1 when every unit file of t is on disk beneath root (flakectl's link, or the admin's
 * mask): otherwise a switch to the same toplevel is not a no-op. */
int fl_act_units_in_place(const char *root, const fl_toplevel *t);
/* "/etc/systemd/system/<unit>" (no deeper): the name, else NULL. */
const char *fl_act_system_unit_of(const char *path);
/* The unit an entry is the file of: a system unit's, or a home entry's
 * "<home>/.config/systemd/user/<unit>" (no deeper); else NULL. */
const char *fl_act_unit_of_entry(const fl_act_entry *e);
/* [{action, name, reason}], the plan's unit actions in the printed order. */
json_t *fl_act_units_json(const fl_act_unitplan *p);
/* Executes the plan when systemd runs and root is "/", otherwise prints it. */
int fl_act_units_apply(const char *root, const fl_act_unitplan *p, FILE *out, fl_error *err);
/* The home-manager users' units (profile.json home.<user>.units), each user's plan from old
 * to new: executed with `systemctl --user` as the user where their manager runs, else
 * listed. restore/no_block as in the system plan. */
int fl_act_user_units_apply(const char *root, const fl_toplevel *old, const fl_toplevel *new,
                            const fl_act_unitplan *sys, const fl_act_fileplan *files, FILE *out,
                            fl_error *err);
void fl_act_user_units_print(const fl_toplevel *old, const fl_toplevel *new,
                             const fl_act_fileplan *files, FILE *out);
/* The same as JSON: [{"user", "units": [as fl_act_units_json], "daemonReload"}] for each user
 * with a change. */
json_t *fl_act_user_units_json(const fl_toplevel *old, const fl_toplevel *new,
                               const fl_act_fileplan *files);

/* ---- packages.c: the packages step (the work is src/pkg/) ---- */
int fl_act_packages_apply(const fl_act_options *o, const fl_toplevel *t, int generation, int dry,
                          FILE *out, fl_error *err);
/* 1 when every native package is installed and nothing of ours is left to remove. */
int fl_act_packages_satisfied(const fl_act_options *o, const fl_toplevel *t);
/* The generation number a switch of toplevel will make the default (0 for test/dry). */
int fl_act_next_generation(const fl_act_options *o, const char *toplevel);

/* ---- scripts.c ---- */
/* Runs the toplevel's activation scripts in order; the error names the failing one. */
int fl_act_scripts_run(const char *root, const fl_toplevel *t, FILE *out, fl_error *err);

/* ---- plan.c ---- */
typedef struct fl_act_plan {
    const char *root; /* NULL: a pure comparison of two toplevels */
    const fl_toplevel *old, *new;
    fl_act_entries want, had;
    fl_act_fileplan files;
    int users_done; /* users is filled (root given) */
    fl_users_edit users;
    char *passwd, *group, *shadow; /* the root's current files ("" when absent) */
    json_t *ids;                   /* ids.json, extended by the users step */
    json_t *created;               /* users/groups flakectl made (managed.json) */
    fl_act_unitplan units;
    json_t *homes; /* homes to create (root given) */
    struct fl_act_secrets *sec; /* secrets.c: decrypted secrets (NULL until planned) */
    struct fl_act_darwin *dar;  /* darwin.c: a darwin toplevel's commands (NULL otherwise) */
} fl_act_plan;

/* had_json: the managed entries (managed.json "entries"); NULL means "what old wants". */
int fl_act_plan_make(fl_act_plan *p, const char *root, const char *state_dir,
                     const fl_toplevel *old, const fl_toplevel *new, const json_t *had_json,
                     const json_t *created, const char *backup_ext, fl_error *err);
void fl_act_plan_release(fl_act_plan *p);
/* The full plan, as dry-activate shows it (diffs: unified diffs of changed text files). */
void fl_act_plan_print(const fl_act_plan *p, FILE *out, int diffs);
/* The plan as docs/json.md's object (version 1); diffs: with each file's unified diff. */
json_t *fl_act_plan_json(const fl_act_plan *p, int diffs);

/* ---- secrets.c: the secrets step (the age work is src/secret/install.c) ---- */
/* Decrypts new's secrets in memory and compares them with what is installed; adds the
 * restartUnits/reloadUnits of changed secrets to p->units (one action per unit). Unless dry,
 * a secret that cannot be decrypted or a declared path in the way is an error here, before
 * anything changes. */
int fl_act_secrets_plan(fl_act_plan *p, int dry, fl_error *err);
/* Installs the planned secrets (planning them first when p has none, as a restore does). */
int fl_act_secrets_apply(fl_act_plan *p, const char *root, const fl_toplevel *t, FILE *out,
                         fl_error *err);
void fl_act_secrets_print(const fl_act_plan *p, FILE *out);
/* The secret changes as docs/json.md's "secrets" entries, and the lines printed from such
 * entries (shared with the pure comparison of plan.c). */
json_t *fl_act_secrets_json(const fl_act_plan *p);
void fl_act_secrets_print_entries(const json_t *arr, FILE *out);
void fl_act_secrets_free(struct fl_act_secrets *s);

/* ---- wsl.c ---- */
/* The /etc/wsl.conf settings that change, and that `wsl --shutdown` applies them. */
void fl_act_wsl_print(const fl_act_plan *p, FILE *out);
/* The same as JSON (docs/json.md "wsl"); null when neither generation has a wsl.conf. */
json_t *fl_act_wsl_json(const fl_act_plan *p);

/* ---- darwin.c: macOS (dscl, defaults, launchctl) ---- */
typedef struct fl_act_darwin fl_act_darwin;
int fl_act_is_darwin(const fl_toplevel *t);
/* The root is "/" and it is macOS: commands run; otherwise they are listed. */
int fl_act_darwin_live(const char *root);
/* On the live root, a darwin toplevel needs macOS and any other one needs a system that is
 * not macOS; under --root anything goes (it is laid out, not run). */
int fl_act_platform_check(const char *root, const fl_toplevel *t, fl_error *err);
/* Plans p->new's users, defaults and launchd jobs (reading what is there when live). */
int fl_act_darwin_plan(fl_act_plan *p, fl_error *err);
void fl_act_darwin_print_users(const fl_act_plan *p, FILE *out);
void fl_act_darwin_print(const fl_act_plan *p, FILE *out);
/* The same commands as JSON (docs/json.md "darwin"); null for a plan that is not macOS's. */
json_t *fl_act_darwin_json(const fl_act_plan *p);
int fl_act_darwin_users_apply(fl_act_plan *p, FILE *out, fl_error *err);
int fl_act_darwin_apply(fl_act_plan *p, FILE *out, fl_error *err);
void fl_act_darwin_free(fl_act_darwin *d);

#endif
