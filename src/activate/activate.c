/* activate.c - the activation engine: the DESIGN §5 steps in order (closure, users and
 * groups, /etc, home files, secrets, units, scripts, current), the modes (switch, test, boot,
 * dry-activate) and putting the previous generation back when a step fails. Everything
 * happens beneath opts->root; the real system is touched only when the root is "/".
 * Owns <state>/activation/{managed,ids}.json. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "activate/internal.h"
#include "flakectl/fs.h"

typedef struct run {
    const fl_act_options *o;
    FILE *out;
    const char *step; /* the step in progress, for errors */
    char step_buf[256];
    int generation; /* the generation being activated (the packages record names it) */
} run;

static char *state_file(const fl_act_options *o, const char *name) {
    return fl_xasprintf("%s/activation/%s", o->state_dir, name);
}

static int load_managed(const fl_act_options *o, json_t **out, fl_error *err) {
    char *path = state_file(o, "managed.json");
    int rc = fl_act_load_json(path, out, err);
    free(path);
    if (!rc && !*out) {
        *out = json_object();
        json_object_set_new(*out, "entries", json_array());
        json_object_set_new(*out, "created", json_object());
    }
    return rc;
}

static int save_managed(const fl_act_options *o, const char *toplevel, json_t *entries,
                        json_t *created, const char *in_flight, fl_error *err) {
    json_t *m = json_object();
    if (in_flight)
        json_object_set_new(m, "inFlight", json_string(in_flight));
    json_object_set_new(m, "version", json_integer(1));
    json_object_set_new(m, "root", json_string(o->root));
    json_object_set_new(m, "toplevel", toplevel ? json_string(toplevel) : json_null());
    json_object_set(m, "entries", entries);
    json_object_set(m, "created", created);
    char *path = state_file(o, "managed.json");
    int rc = fl_act_save_json_ex(path, m, FL_ATOMIC_NO_DIRSYNC, err);
    free(path);
    json_decref(m);
    return rc;
}

/* What flakectl manages while a switch is in flight: the old and the new entries, so a
 * crash or a failure midway never leaves a file nobody knows to remove. */
static json_t *union_entries(const json_t *a, const json_t *b) {
    json_t *out = json_deep_copy(b);
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)a, i, v) {
        const char *path = fl_act_jstr(v, "path", "");
        int found = 0;
        size_t k;
        json_t *w;
        json_array_foreach(out, k, w) {
            if (strcmp(fl_act_jstr(w, "path", ""), path))
                continue;
            found = 1;
            /* Either version may be on disk until the activation completes. */
            json_t *alt = json_object();
            const char *t = fl_act_jstr(v, "target", NULL), *h = fl_act_jstr(v, "hash", NULL);
            if (t && strcmp(t, fl_act_jstr(w, "target", "")))
                json_object_set_new(alt, "target", json_string(t));
            if (h && strcmp(h, fl_act_jstr(w, "hash", "")))
                json_object_set_new(alt, "hash", json_string(h));
            if (json_object_size(alt))
                json_object_set_new(w, "alt", alt);
            else
                json_decref(alt);
        }
        if (!found)
            json_array_append(out, v);
    }
    return out;
}

static json_t *union_created(const json_t *a, const json_t *b) {
    json_t *out = json_object();
    const char *kinds[] = {"users", "groups"};
    for (int k = 0; k < 2; k++) {
        json_t *arr = json_array();
        const json_t *srcs[] = {json_object_get(a, kinds[k]), json_object_get(b, kinds[k])};
        for (int s = 0; s < 2; s++) {
            size_t i;
            json_t *v;
            json_array_foreach((json_t *)srcs[s], i, v) {
                int dup = 0;
                size_t j;
                json_t *w;
                json_array_foreach(arr, j, w) {
                    dup |= json_equal(v, w);
                }
                if (!dup)
                    json_array_append(arr, v);
            }
        }
        json_object_set_new(out, kinds[k], arr);
    }
    return out;
}

/* ---- steps ---- */

static int write_db(const char *root, const char *name, const char *old, const char *new,
                    mode_t dflt_mode, fl_error *err) {
    if (!strcmp(old, new))
        return FL_OK;
    char *rel = fl_xasprintf("/etc/%s", name);
    /* Nothing left (every line was flakectl's): the file goes, as before the first switch. */
    int rc = *new ? fl_act_root_write(root, rel, new, strlen(new), dflt_mode, 1, err)
                  : fl_act_root_unlink(root, rel, err);
    free(rel);
    return rc;
}

static int step_users(run *r, fl_act_plan *p, fl_error *err) {
    r->step = "users and groups";
    const fl_act_options *o = r->o;
    int rc = FL_OK;
    if (p->dar) {
        return fl_act_darwin_users_apply(p, r->out, err);
    } else if (!strcmp(o->root, "/")) {
        /* The live system: its own tools know about nscd, gshadow and locking. */
        size_t i;
        json_t *argv;
        json_array_foreach(p->users.ops, i, argv) {
            size_t n = json_array_size(argv);
            char **av = fl_xcalloc(n + 1, sizeof(char *));
            for (size_t k = 0; k < n; k++)
                av[k] = (char *)json_string_value(json_array_get(argv, k));
            int status = 0;
            rc = fl_act_run(av, NULL, NULL, &status, err);
            if (!rc && status)
                rc = fl_error_set(err, FL_EGENERIC, "%s %s exited with status %d", av[0], av[n - 1],
                                  status);
            free(av);
            if (rc)
                return rc;
        }
    } else {
        rc = write_db(o->root, "group", p->group, p->users.new_group, 0644, err);
        if (!rc)
            rc = write_db(o->root, "passwd", p->passwd, p->users.new_passwd, 0644, err);
        if (!rc)
            rc = write_db(o->root, "shadow", p->shadow, p->users.new_shadow, 0640, err);
    }
    if (!rc && p->users.nchanges)
        fprintf(r->out, "  users and groups: %d change%s\n", p->users.nchanges,
                p->users.nchanges == 1 ? "" : "s");
    return rc;
}

static int step_files(run *r, fl_act_plan *p, int home, json_t *backups, fl_error *err) {
    r->step = home ? "home files" : "/etc";
    if (home) {
        int rc = fl_act_homes_create(r->o->root, p->homes, r->out, err);
        if (rc)
            return rc;
    }
    return fl_act_files_apply(r->o->root, &p->files, home, r->o->backup_ext, backups, r->out, err);
}

/* Decrypted during planning (fl_act_secrets_plan), so a secret nobody can decrypt stopped
 * the switch before the first change; here they are written and the link flipped. Runs
 * after users (owners exist) and before units (a unit restarts with its new secret). */
static int step_secrets(run *r, fl_act_plan *p, const fl_toplevel *t, fl_error *err) {
    r->step = "secrets";
    return fl_act_secrets_apply(p, r->o->root, t, r->out, err);
}

static int step_packages(run *r, const fl_toplevel *t, fl_error *err) {
    r->step = "packages";
    return fl_act_packages_apply(r->o, t, r->generation, 0, r->out, err);
}

static int step_units(run *r, fl_act_plan *p, fl_error *err) {
    if (p->dar) {
        r->step = "launchd jobs and defaults";
        return fl_act_darwin_apply(p, r->out, err);
    }
    r->step = "systemd units";
    int rc = fl_act_units_apply(r->o->root, &p->units, r->out, err);
    if (!rc) {
        r->step = "user units";
        rc = fl_act_user_units_apply(r->o->root, p->old, p->new, &p->units, &p->files, r->out,
                                     err);
    }
    return rc;
}

static int step_scripts(run *r, const fl_toplevel *t, fl_error *err) {
    r->step = "activation scripts";
    int rc = fl_act_scripts_run(r->o->root, t, r->out, err);
    /* Name the script: "activation script 'NAME'" is how its error starts. */
    const char *q = rc && err && err->message ? strchr(err->message, '\'') : NULL;
    const char *q2 = q ? strchr(q + 1, '\'') : NULL;
    if (q2 && !strncmp(err->message, "activation script '", 19)) {
        snprintf(r->step_buf, sizeof r->step_buf, "activation script %.*s", (int)(q2 - q - 1),
                 q + 1);
        r->step = r->step_buf;
    }
    return rc;
}

/* The steps from users to scripts, stopping at the first failure (r->step names it). */
static int apply_all(run *r, fl_act_plan *p, const fl_toplevel *t, json_t *backups, fl_error *err) {
    int rc = step_users(r, p, err);
    if (!rc)
        rc = step_files(r, p, 0, backups, err);
    if (!rc)
        rc = step_packages(r, t, err);
    if (!rc)
        rc = step_files(r, p, 1, backups, err);
    if (!rc)
        rc = step_secrets(r, p, t, err);
    if (!rc)
        rc = step_units(r, p, err);
    if (!rc && t->path)
        rc = step_scripts(r, t, err);
    return rc;
}

/* Puts back the previous generation after a failure: plans from the in-flight state
 * (old + new entries) to the old toplevel and applies it, then returns moved-aside files to
 * their places. The record is put back by the caller (books_revert). */
static int restore(run *r, const fl_toplevel *failed, const fl_toplevel *old,
                   const json_t *pending_entries, const json_t *pending_created,
                   const json_t *backups, fl_error *err) {
    fl_act_plan p;
    int rc = fl_act_plan_make(&p, r->o->root, r->o->state_dir, failed, old, pending_entries,
                              pending_created, NULL, err);
    /* Units that were running before the failed attempt come back, even if it left them
     * failed. */
    p.units.restore = 1;
    p.units.no_block = r->o->mode == FL_ACT_BOOT_TIME;
    json_t *ignored = json_array();
    if (!rc)
        rc = fl_act_files_remove_only(r->o->root, &p.files, err);
    if (!rc)
        rc = apply_all(r, &p, old, ignored, err);
    json_decref(ignored);
    size_t i;
    json_t *pair;
    json_array_foreach((json_t *)backups, i, pair) {
        const char *orig = json_string_value(json_array_get(pair, 0));
        const char *moved = json_string_value(json_array_get(pair, 1));
        if (!rc && orig && moved)
            rc = fl_act_root_move_back(r->o->root, moved, orig, err);
    }
    fl_act_plan_release(&p);
    return rc;
}

/* ---- boot ---- */

static char *self_exe(void) {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? fl_xstrndup(buf, (size_t)n) : fl_xstrdup("flakectl");
}

/* The unit runs at boot on the machine itself, where the root is "/": a state dir given
 * beneath --root is written as the machine will see it. */
static int install_boot_unit(const fl_act_options *o, FILE *out, fl_error *err) {
    const char *state = o->state_dir;
    size_t rl = strlen(o->root);
    if (strcmp(o->root, "/") && !strncmp(state, o->root, rl) && state[rl] == '/')
        state += rl;
    char *exe = self_exe();
    char *text = fl_xasprintf(
        "# Installed by 'flakectl boot': re-activates the default generation at boot.\n"
        "[Unit]\n"
        "Description=flakectl: activate the default generation\n"
        "DefaultDependencies=no\n"
        "After=local-fs.target\n"
        "Before=sysinit.target\n"
        "ConditionPathExists=%s/profiles/system\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        "RemainAfterExit=yes\n"
        "ExecStart=%s --state-dir %s activate %s/profiles/system --mode boot-time\n"
        "\n"
        "[Install]\n"
        "WantedBy=sysinit.target\n",
        state, exe, state, state);
    const char *unit = "/etc/systemd/system/flakectl-boot.service";
    const char *link = "/etc/systemd/system/sysinit.target.wants/flakectl-boot.service";
    /* Installed by every live switch: rewritten (and said) only when it differs. */
    char *shown = fl_act_root_path(o->root, unit), *shown_link = fl_act_root_path(o->root, link);
    char *have = NULL;
    size_t hl = 0;
    int same = !fl_read_file(shown, &have, &hl, NULL) && hl == strlen(text) &&
               !memcmp(have, text, hl) && fl_path_exists(shown_link);
    free(have);
    int rc = same ? FL_OK : fl_act_root_write(o->root, unit, text, strlen(text), 0644, 0, err);
    if (!rc && !same)
        rc = fl_act_root_symlink(o->root, link, "../flakectl-boot.service", err);
    if (!rc && !same)
        fprintf(out, "installed %s\n", shown);
    free(shown);
    free(shown_link);
    free(exe);
    free(text);
    return rc;
}

/* ---- the modes ---- */

static int same_path(const char *a, const char *b) {
    return a && b && !strcmp(a, b);
}

/* The generation that holds toplevel: an existing one (rollback, or the default already
 * points at it) or a new link (*made = 1). */
static int generation_for(const fl_act_options *o, const char *toplevel, int *n, int *made,
                          int staged, fl_error *err) {
    *n = o->use_generation;
    *made = 0;
    if (!*n) {
        int d = fl_gen_default(o->state_dir);
        char *dt = fl_gen_toplevel(o->state_dir, d);
        if (same_path(dt, toplevel))
            *n = d;
        free(dt);
    }
    if (*n)
        return FL_OK;
    if (staged) {
        /* Made by books_generation under a name that is a GC root but no generation yet. */
        *n = fl_gen_next_number(o->state_dir);
        *made = 1;
        return FL_OK;
    }
    int rc = fl_gen_create(o->state_dir, toplevel, n, err);
    *made = !rc;
    return rc;
}

/* Makes the toplevel the default at once (boot, or a switch to what `test` activated). */
static int make_default(const fl_act_options *o, const char *toplevel, FILE *out, fl_error *err) {
    int n, made;
    int rc = generation_for(o, toplevel, &n, &made, 0, err);
    if (!rc)
        rc = fl_gen_set_default(o->state_dir, n, err);
    if (!rc)
        fprintf(out, "generation %d is the default\n", n);
    return rc;
}

/* Everything activation records, written before the first change so that a full disk stops
 * a switch while nothing is changed yet: the in-flight record (managed.json), the ids, the
 * record as it will be after success (managed.json.next) and, for switch, the generation and
 * the default to be (profiles/system.next). Success commits them by rename, which needs no
 * room; failure (before or after a restore) puts back the record as it was, kept as a hard
 * link (managed.json.prev), which needs none either. */
typedef struct books {
    char *managed, *prev, *next, *dflt, *dflt_next, *new_gen, *new_gen_next;
    int had_record, generation;
} books;

static void books_init(books *b, const fl_act_options *o) {
    memset(b, 0, sizeof *b);
    b->managed = state_file(o, "managed.json");
    b->prev = state_file(o, "managed.json.prev");
    b->next = state_file(o, "managed.json.next");
    b->dflt = fl_xasprintf("%s/profiles/system", o->state_dir);
    b->dflt_next = fl_xasprintf("%s/profiles/system.next", o->state_dir);
}

static void books_release(books *b) {
    free(b->managed);
    free(b->prev);
    free(b->next);
    free(b->dflt);
    free(b->dflt_next);
    free(b->new_gen);
    free(b->new_gen_next);
}

/* books_prepare's part for switch: the generation (a new one as system-N-link.next, a GC
 * root that `generations` does not list) and profiles/system.next pointing at it. */
static int books_generation(books *b, const fl_act_options *o, const char *toplevel,
                            fl_error *err) {
    int made = 0;
    int rc = generation_for(o, toplevel, &b->generation, &made, 1, err);
    if (!rc && made) {
        b->new_gen = fl_xasprintf("%s/profiles/system-%d-link", o->state_dir, b->generation);
        b->new_gen_next = fl_xasprintf("%s.next", b->new_gen);
        rc = fl_atomic_symlink_ex(toplevel, b->new_gen_next, FL_ATOMIC_NO_DIRSYNC, err);
    }
    if (!rc) {
        char *target = fl_xasprintf("system-%d-link", b->generation);
        rc = fl_atomic_symlink_ex(target, b->dflt_next, FL_ATOMIC_NO_DIRSYNC, err);
        free(target);
    }
    /* one directory sync for both: nothing names the .next links until the commit */
    if (!rc) {
        char *profiles = fl_xasprintf("%s/profiles", o->state_dir);
        rc = fl_sync_dir(profiles, err);
        free(profiles);
    }
    return rc;
}

/* Does path hold j already? Then rewriting it (a new file, two fsyncs) changes nothing. */
static int same_json_file(const char *path, const json_t *j) {
    json_t *old = NULL;
    fl_error e = FL_ERROR_INIT;
    int same = fl_act_load_json(path, &old, &e) == 0 && old && json_equal(old, (json_t *)j);
    fl_error_clear(&e);
    json_decref(old);
    return same;
}

static int books_prepare(books *b, const fl_act_options *o, const fl_act_plan *p,
                         const char *current, const char *toplevel, json_t *pending,
                         json_t *pending_created, json_t *want, fl_error *err) {
    char *profiles = fl_path_join(o->state_dir, "profiles");
    int rc = fl_mkdir_p(profiles, 0755, err);
    free(profiles);
    if (rc)
        return rc;
    unlink(b->prev);
    b->had_record = link(b->managed, b->prev) == 0;
    if (!b->had_record && errno != ENOENT)
        return fl_error_errno(err, "cannot keep %s as %s", b->managed, b->prev);
    rc = save_managed(o, current, pending, pending_created, toplevel, err);
    /* Ids only ever grow, so a user removed and re-added gets its old uid back. */
    char *ids = state_file(o, "ids.json");
    if (!rc && !same_json_file(ids, p->ids))
        rc = fl_act_save_json_ex(ids, p->ids, FL_ATOMIC_NO_DIRSYNC, err);
    free(ids);
    if (!rc) {
        json_t *m = json_object();
        json_object_set_new(m, "version", json_integer(1));
        json_object_set_new(m, "root", json_string(o->root));
        json_object_set_new(m, "toplevel", json_string(toplevel));
        json_object_set(m, "entries", want);
        json_object_set(m, "created", p->users.new_created);
        rc = fl_act_save_json_ex(b->next, m, FL_ATOMIC_NO_DIRSYNC, err);
        json_decref(m);
    }
    /* the three files above are in one directory: one sync makes their renames durable, all
     * before the first change to the root */
    if (!rc) {
        char *dir = state_file(o, "");
        rc = fl_sync_dir(dir, err);
        free(dir);
    }
    if (!rc && o->mode == FL_ACT_SWITCH)
        rc = books_generation(b, o, toplevel, err);
    return rc;
}

/* Back to the record as it was before this activation (nothing changed, or restored). */
static int books_revert(books *b, fl_error *err) {
    int rc = FL_OK;
    if (b->had_record)
        rc = fl_atomic_rename(b->prev, b->managed, err);
    else if (unlink(b->managed) < 0 && errno != ENOENT)
        rc = fl_error_errno(err, "cannot remove %s", b->managed);
    unlink(b->next);
    unlink(b->dflt_next);
    if (b->new_gen_next)
        unlink(b->new_gen_next);
    return rc;
}

/* What a killed switch staged and never committed (profiles/system*.next, the records' .next
 * and .prev): swept once the record is clean, i.e. nothing refers to them any more. */
static void sweep_staged(const fl_act_options *o) {
    books b;
    books_init(&b, o);
    unlink(b.next);
    unlink(b.prev);
    unlink(b.dflt_next);
    char *dir = fl_xasprintf("%s/profiles", o->state_dir);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (!strncmp(de->d_name, "system-", 7) && n > 10 && !strcmp(de->d_name + n - 10, "-link.next"))
            unlinkat(dirfd(d), de->d_name, 0);
    }
    if (d)
        closedir(d);
    free(dir);
    books_release(&b);
}

static int books_commit(books *b, const fl_act_options *o, FILE *out, run *r, fl_error *err) {
    r->step = "recording state";
    int rc = fl_atomic_rename(b->next, b->managed, err);
    if (!rc && o->mode == FL_ACT_SWITCH) {
        r->step = "default generation";
        if (b->new_gen_next)
            rc = fl_atomic_rename(b->new_gen_next, b->new_gen, err);
        if (!rc)
            rc = fl_atomic_rename(b->dflt_next, b->dflt, err);
        if (!rc)
            fprintf(out, "generation %d is the default\n", b->generation);
    }
    if (!rc)
        unlink(b->prev);
    return rc;
}

static void load_old(const char *current, fl_toplevel *old, FILE *out) {
    fl_error e = FL_ERROR_INIT;
    if (!current || fl_toplevel_load(old, current, &e)) {
        if (current)
            fprintf(out,
                    "warning: the current generation %s cannot be read (%s); treating the "
                    "root as empty apart from what flakectl recorded\n",
                    current, e.message);
        fl_error_clear(&e);
        fl_toplevel_empty(old);
    }
}

/* /run/flakectl/current is gone after a reboot (/run is a tmpfs), but /etc and the unit files
 * still hold the generation activated last: managed.json records it. */
static char *recorded_toplevel(const fl_act_options *o) {
    json_t *m = NULL;
    fl_error e = FL_ERROR_INIT;
    load_managed(o, &m, &e);
    fl_error_clear(&e);
    const char *t = fl_act_jstr(m, "toplevel", NULL);
    char *out = t ? fl_xstrdup(t) : NULL;
    json_decref(m);
    return out;
}

static int activate_now(const fl_act_options *o, fl_toplevel *t, const char *current, FILE *out,
                        fl_error *err) {
    run r = {o, out, "closure check", {0}, fl_act_next_generation(o, t->path)};
    fl_toplevel old;
    json_t *managed = NULL;
    fl_act_plan p;
    memset(&p, 0, sizeof p);
    int rc = fl_activate_check_closure(t, err);
    if (!rc && o->mode != FL_ACT_DRY)
        rc = fl_act_platform_check(o->root, t, err);
    if (rc)
        goto stopped;
    char *recorded = current ? NULL : recorded_toplevel(o);
    if (recorded)
        fprintf(out,
                "note: %s/run/flakectl/current is missing (the machine rebooted); comparing "
                "with %s, the generation activated last\n",
                strcmp(o->root, "/") ? o->root : "", recorded);
    load_old(current ? current : recorded, &old, out);
    free(recorded);
    r.step = "planning";
    rc = load_managed(o, &managed, err);
    int interrupted = !rc && json_is_string(json_object_get(managed, "inFlight"));
    if (interrupted)
        fprintf(out,
                "note: the activation of %s was interrupted; continuing from what it "
                "recorded\n",
                json_string_value(json_object_get(managed, "inFlight")));
    if (!rc)
        rc = fl_act_plan_make(&p, o->root, o->state_dir, &old, t,
                              json_object_get(managed, "entries"),
                              json_object_get(managed, "created"), o->backup_ext, err);
    if (!rc)
        rc = fl_act_secrets_plan(&p, o->mode == FL_ACT_DRY, err);
    p.units.no_block = o->mode == FL_ACT_BOOT_TIME;
    if (rc) {
        fl_toplevel_release(&old);
        json_decref(managed);
        fl_act_plan_release(&p);
        goto stopped;
    }
    if (interrupted && o->mode != FL_ACT_DRY)
        fl_act_files_sweep_temps(o->root, &p.had, out);
    if (o->mode == FL_ACT_DRY) {
        if (o->plan_json) {
            json_t *plan = fl_act_plan_json(&p, 1);
            json_object_set_new(o->plan_json, "version", json_integer(1));
            json_object_set_new(o->plan_json, "current",
                                current ? json_string(current) : json_null());
            json_object_update(o->plan_json, plan);
            json_decref(plan);
        } else {
            fprintf(out, "dry-activate %s%s%s (nothing is changed)\n", t->path,
                    strcmp(o->root, "/") ? " in " : "", strcmp(o->root, "/") ? o->root : "");
            fprintf(out, "  current: %s\n", current ? current : "(nothing active)");
            fl_act_plan_print(&p, out, 1);
        }
        rc = fl_act_packages_apply(o, t, 0, 1, out, err);
        if (!rc && p.files.nconflicts) {
            rc = fl_error_set(err, FL_ECONFLICT, "activation would stop: %d path%s in the way",
                              p.files.nconflicts, p.files.nconflicts == 1 ? " is" : "s are");
            fl_error_set_hint(err, "move them away, or pass --backup-ext EXT");
        }
        goto done;
    }
    if (p.files.nconflicts) {
        rc = fl_error_set(err, FL_ECONFLICT,
                          "activation stopped before changing anything: %d path%s in the "
                          "way:\n%.*s",
                          p.files.nconflicts, p.files.nconflicts == 1 ? " is" : "s are",
                          (int)p.files.conflicts.len - 1, p.files.conflicts.buf);
        fl_error_set_hint(err, "move them away, or pass --backup-ext EXT to have flakectl move "
                               "each aside");
        goto done;
    }
    fprintf(out, "activating %s%s%s\n", t->path, strcmp(o->root, "/") ? " in " : "",
            strcmp(o->root, "/") ? o->root : "");
    fl_act_plan_print(&p, out, 0);

    /* From here on the root changes: record the in-flight state first. */
    json_t *want_json = fl_act_entries_to_json(&p.want);
    json_t *pending = union_entries(json_object_get(managed, "entries"), want_json);
    json_t *pending_created =
        union_created(json_object_get(managed, "created"), p.users.new_created);
    json_t *backups = json_array();
    books bk;
    books_init(&bk, o);
    r.step = "recording state";
    rc = books_prepare(&bk, o, &p, current, t->path, pending, pending_created, want_json, err);
    if (rc) {
        fl_error e2 = FL_ERROR_INIT;
        if (books_revert(&bk, &e2))
            fl_error_add_frame(err, "and putting back the record failed too: %s", e2.message);
        fl_error_clear(&e2);
        json_decref(want_json);
        json_decref(pending);
        json_decref(pending_created);
        json_decref(backups);
        books_release(&bk);
        fl_toplevel_release(&old);
        json_decref(managed);
        fl_act_plan_release(&p);
        goto stopped;
    }
    rc = apply_all(&r, &p, t, backups, err);
    int flipped = 0;
    if (!rc) {
        r.step = "current link";
        rc = fl_gen_set_current(o->root, t->path, err);
        flipped = !rc;
    }
    if (!rc)
        rc = books_commit(&bk, o, out, &r, err);
    if (rc) {
        /* Put the previous generation back, then say what failed and what is there now. */
        char *failed = fl_xstrdup(r.step);
        fl_error rerr = FL_ERROR_INIT;
        char *msg = fl_xstrdup(err->message ? err->message : "failed");
        run rr = {o, out, "restore", {0}, fl_gen_default(o->state_dir)};
        fprintf(out, "step '%s' failed: %s\nrestoring the previous generation\n", failed, msg);
        int rrc = restore(&rr, t, &old, pending, pending_created, backups, &rerr);
        if (!rrc && flipped) {
            rr.step = "current link";
            char *cur = fl_act_root_path(o->root, "/run/flakectl/current");
            if (old.path)
                rrc = fl_gen_set_current(o->root, old.path, &rerr);
            else if (unlink(cur) < 0 && errno != ENOENT)
                rrc = fl_error_errno(&rerr, "cannot remove %s", cur);
            free(cur);
        }
        if (!rrc) {
            rr.step = "recording state";
            rrc = books_revert(&bk, &rerr);
        }
        const char *what = old.path ? old.path : "the state before the first activation";
        if (!rrc)
            fl_error_set(err, rc,
                         "activation failed at step '%s': %s\nrestored %s (users, "
                         "/etc, home files, units, the current link and the default as "
                         "before)",
                         failed, msg, what);
        else
            fl_error_set(err, rc,
                         "activation failed at step '%s': %s\nrestoring %s failed too "
                         "at step '%s': %s",
                         failed, msg, what, rr.step, rerr.message);
        if (rrc)
            fl_error_set_hint(err,
                              "%s/activation/managed.json lists every path flakectl "
                              "manages; fix the cause and run 'flakectl rollback'",
                              o->state_dir);
        fl_error_clear(&rerr);
        free(msg);
        free(failed);
    }
    books_release(&bk);
    json_decref(want_json);
    json_decref(pending);
    json_decref(pending_created);
    json_decref(backups);
done:
    fl_toplevel_release(&old);
    json_decref(managed);
    fl_act_plan_release(&p);
    return rc;
stopped:
    fl_error_add_frame(err, "while activating %s (step '%s'; nothing was changed)", t->path,
                       r.step);
    return rc;
}

int fl_activate_paths(const char *root_flag, const char *state_flag, char **root,
                      char **state_dir, fl_error *err) {
    *root = realpath(root_flag, NULL);
    if (!*root)
        return fl_error_errno(err, "--root %s", root_flag);
    char cwd[PATH_MAX];
    *state_dir = fl_canon_path(state_flag, getcwd(cwd, sizeof cwd) ? cwd : "/");
    return FL_OK;
}

/* One activation at a time per state dir: flock on the directory itself (no lock file, so a
 * refused or no-op run leaves the state dir exactly as it was); the kernel releases it even
 * after kill -9. Returns the fd to close, or -1 with err. */
static int lock_state(const fl_act_options *o, fl_error *err) {
    if (fl_mkdir_p(o->state_dir, 0755, err))
        return -1;
    int fd = open(o->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        fl_error_errno(err, "cannot open %s", o->state_dir);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        fl_error_set(err, FL_ECONFLICT, "another activation is running (it holds a lock on %s)",
                     o->state_dir);
        fl_error_set_hint(err, "wait for it to finish");
        close(fd);
        return -1;
    }
    return fd;
}

/* What runs is what t says, beyond `current`: its packages are installed and its unit files
 * are in place (a unit unmasked by hand since has none until a switch installs it). */
static int settled(const fl_act_options *o, const fl_toplevel *t) {
    return fl_act_packages_satisfied(o, t) && fl_act_units_in_place(o->root, t);
}

/* The record is an account: failing to write it is a warning, never the activation's
 * outcome. Written under the activation's lock, so two activations never interleave it. */
static void record_outcome(const fl_act_options *o, const fl_error *failed, FILE *out) {
    fl_act_record_event ev = {.via = o->record_via, .host = o->record_host};
    if (failed)
        ev.error = failed->message ? failed->message : "activation failed";
    fl_error e = FL_ERROR_INIT;
    if (fl_act_record(o->root, o->state_dir, &ev, &e) < 0) {
        fprintf(out, "warning: %s\n", e.message);
        fl_error_clear(&e);
    }
}

int fl_activate(const fl_act_options *o, const char *dir, fl_error *err) {
    FILE *out = o->out ? o->out : stdout;
    if (!fl_is_dir(o->root))
        return fl_error_set(err, FL_ENOTFOUND, "root %s is not a directory", o->root);
    fl_toplevel t;
    int rc = fl_toplevel_load(&t, dir, err);
    if (rc)
        return rc;
    /* dry-activate writes nothing, not even a lock file. */
    int lockfd = o->mode == FL_ACT_DRY ? -2 : lock_state(o, err);
    if (lockfd == -1) {
        fl_toplevel_release(&t);
        return FL_ECONFLICT;
    }
    if (lockfd >= 0) {
        /* Temporaries of a killed activation (records, links): only an activation writes
         * here, and it holds the lock we now hold. */
        char *act = fl_path_join(o->state_dir, "activation");
        char *prof = fl_path_join(o->state_dir, "profiles");
        fl_sweep_dir(act, NULL, ".tmp-", 0);
        fl_sweep_dir(prof, NULL, ".tmp-", 0);
        free(act);
        free(prof);
    }
    if (lockfd >= 0 && (rc = fl_act_root_hold(o->state_dir, t.path, err)) != 0) {
        fl_error_add_frame(err, "while rooting %s for the activation (nothing was changed)",
                           t.path);
        fl_toplevel_release(&t);
        close(lockfd);
        return rc;
    }
    char *current = fl_gen_current(o->root);
    int dflt = fl_gen_default(o->state_dir);
    char *dflt_top = fl_gen_toplevel(o->state_dir, dflt);
    int is_default = o->use_generation ? o->use_generation == dflt : same_path(dflt_top, t.path);
    /* An interrupted activation is finished (or undone) by the next one, never skipped as a
     * no-op. */
    json_t *managed = NULL;
    load_managed(o, &managed, NULL);
    int interrupted = json_is_string(json_object_get(managed, "inFlight"));
    json_decref(managed);
    if (o->mode == FL_ACT_BOOT) {
        if (is_default) {
            fprintf(out, "nothing to do: %s is already the default generation\n", t.path);
        } else {
            rc = fl_activate_check_closure(&t, err);
            if (!rc)
                rc = make_default(o, t.path, out, err);
            if (!rc)
                rc = install_boot_unit(o, out, err);
            if (!rc)
                fprintf(out, "it will be activated at the next boot; nothing was activated now\n");
        }
    } else if (o->mode != FL_ACT_DRY && !interrupted && same_path(current, t.path) &&
               (o->mode == FL_ACT_TEST || o->mode == FL_ACT_BOOT_TIME || is_default) &&
               settled(o, &t)) {
        fprintf(out, "nothing to do: %s is already active%s\n", t.path,
                o->mode == FL_ACT_SWITCH ? " and the default" : "");
    } else if (o->mode == FL_ACT_SWITCH && !interrupted && same_path(current, t.path) &&
               settled(o, &t)) {
        /* Active after a `test`: only the default changes. */
        fprintf(out, "%s is already active\n", t.path);
        rc = make_default(o, t.path, out, err);
    } else {
        rc = activate_now(o, &t, current, out, err);
        /* What /run held is re-created at every boot by the boot-time unit. */
        if (!rc && (o->mode == FL_ACT_SWITCH || o->mode == FL_ACT_TEST) &&
            fl_act_systemd_live(o->root))
            rc = install_boot_unit(o, out, err);
        if (!rc && o->mode != FL_ACT_DRY)
            fprintf(out, "activated %s\n", t.path);
    }
    /* A clean record: nothing under the root points into a toplevel that is neither current
     * nor a generation, so the activation's roots may go. */
    if (lockfd >= 0) {
        load_managed(o, &managed, NULL);
        if (!json_is_string(json_object_get(managed, "inFlight"))) {
            fl_act_root_release(o->state_dir, t.path);
            sweep_staged(o);
        }
        json_decref(managed);
    }
    if (lockfd >= 0 && o->record_via && o->mode != FL_ACT_BOOT_TIME)
        record_outcome(o, rc ? err : NULL, out);
    free(current);
    free(dflt_top);
    fl_toplevel_release(&t);
    if (lockfd >= 0)
        close(lockfd);
    return rc;
}
