/* activate.c - the activation engine: the DESIGN §5 steps in order (closure, users and
 * groups, /etc, home files, secrets, units, scripts, current), the modes (switch, test, boot,
 * dry-activate) and putting the previous generation back when a step fails. Everything
 * happens beneath opts->root; the real system is touched only when the root is "/".
 * Owns <state>/activation/{managed,ids}.json. */
#define _GNU_SOURCE
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
#include "flakectl/options.h"

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
    int rc = fl_act_save_json(path, m, err);
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
    char *path = fl_act_root_path(root, rel);
    struct stat st;
    mode_t mode = lstat(path, &st) == 0 ? (st.st_mode & 07777) : dflt_mode;
    char *dir = fl_act_root_path(root, "/etc");
    int rc = FL_OK;
    /* Nothing left (every line was flakectl's): the file goes, as before the first switch. */
    if (!*new) {
        if (unlink(path) < 0 && errno != ENOENT)
            rc = fl_error_errno(err, "cannot remove %s", path);
    } else {
        rc = fl_mkdir_p(dir, 0755, err);
        if (!rc)
            rc = fl_atomic_write_file(path, new, strlen(new), mode, err);
    }
    free(dir);
    free(path);
    free(rel);
    return rc;
}

static int step_users(run *r, fl_act_plan *p, fl_error *err) {
    r->step = "users and groups";
    const fl_act_options *o = r->o;
    int rc = FL_OK;
    if (!strcmp(o->root, "/")) {
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
    /* Ids only ever grow, so a user removed and re-added gets its old uid back. */
    if (!rc) {
        char *ids = state_file(o, "ids.json");
        rc = fl_act_save_json(ids, p->ids, err);
        free(ids);
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
    r->step = "systemd units";
    return fl_act_units_apply(r->o->root, &p->units, r->out, err);
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
 * their places. */
static int restore(run *r, const fl_toplevel *failed, const fl_toplevel *old,
                   const json_t *pending_entries, const json_t *pending_created,
                   const json_t *backups, fl_error *err) {
    fl_act_plan p;
    int rc = fl_act_plan_make(&p, r->o->root, r->o->state_dir, failed, old, pending_entries,
                              pending_created, NULL, err);
    json_t *ignored = json_array();
    if (!rc)
        rc = apply_all(r, &p, old, ignored, err);
    json_decref(ignored);
    size_t i;
    json_t *pair;
    json_array_foreach((json_t *)backups, i, pair) {
        const char *orig = json_string_value(json_array_get(pair, 0));
        const char *moved = json_string_value(json_array_get(pair, 1));
        char *o = fl_act_root_path(r->o->root, orig), *m = fl_act_root_path(r->o->root, moved);
        if (!rc && !fl_path_exists(o))
            rc = fl_atomic_rename(m, o, err);
        free(o);
        free(m);
    }
    if (!rc) {
        json_t *entries = fl_act_entries_to_json(&p.want);
        rc = save_managed(r->o, old->path, entries, p.users.new_created, NULL, err);
        json_decref(entries);
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
        "ExecStart=%s --state-dir %s activate %s/profiles/system --mode test\n"
        "\n"
        "[Install]\n"
        "WantedBy=sysinit.target\n",
        state, exe, state, state);
    char *dir = fl_act_root_path(o->root, "/etc/systemd/system");
    char *wants = fl_path_join(dir, "sysinit.target.wants");
    char *unit = fl_path_join(dir, "flakectl-boot.service");
    char *link = fl_path_join(wants, "flakectl-boot.service");
    int rc = fl_mkdir_p(wants, 0755, err);
    if (!rc)
        rc = fl_atomic_write_file(unit, text, strlen(text), 0644, err);
    if (!rc)
        rc = fl_atomic_symlink("../flakectl-boot.service", link, err);
    if (!rc)
        fprintf(out, "installed %s\n", unit);
    free(exe);
    free(text);
    free(dir);
    free(wants);
    free(unit);
    free(link);
    return rc;
}

/* ---- the modes ---- */

static int same_path(const char *a, const char *b) {
    return a && b && !strcmp(a, b);
}

/* Makes the toplevel the default: an existing generation (rollback) or a new one unless the
 * default already points at it. */
static int make_default(const fl_act_options *o, const char *toplevel, FILE *out, fl_error *err) {
    int n = o->use_generation;
    if (!n) {
        int d = fl_gen_default(o->state_dir);
        char *dt = fl_gen_toplevel(o->state_dir, d);
        if (same_path(dt, toplevel))
            n = d;
        free(dt);
    }
    int rc = FL_OK;
    if (!n)
        rc = fl_gen_create(o->state_dir, toplevel, &n, err);
    if (!rc)
        rc = fl_gen_set_default(o->state_dir, n, err);
    if (!rc)
        fprintf(out, "generation %d is the default\n", n);
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

static int activate_now(const fl_act_options *o, fl_toplevel *t, const char *current, FILE *out,
                        fl_error *err) {
    run r = {o, out, "closure check", {0}, fl_act_next_generation(o, t->path)};
    fl_toplevel old;
    json_t *managed = NULL;
    fl_act_plan p;
    memset(&p, 0, sizeof p);
    int rc = fl_activate_check_closure(t, err);
    if (rc)
        goto stopped;
    load_old(current, &old, out);
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
    if (rc) {
        fl_toplevel_release(&old);
        json_decref(managed);
        fl_act_plan_release(&p);
        goto stopped;
    }
    if (interrupted && o->mode != FL_ACT_DRY)
        fl_act_files_sweep_temps(o->root, &p.had, out);
    if (o->mode == FL_ACT_DRY) {
        fprintf(out, "dry-activate %s%s%s (nothing is changed)\n", t->path,
                strcmp(o->root, "/") ? " in " : "", strcmp(o->root, "/") ? o->root : "");
        fprintf(out, "  current: %s\n", current ? current : "(nothing active)");
        fl_act_plan_print(&p, out, 1);
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
    r.step = "recording state";
    rc = save_managed(o, current, pending, pending_created, t->path, err);
    if (!rc)
        rc = apply_all(&r, &p, t, backups, err);
    if (!rc) {
        r.step = "current link";
        rc = fl_gen_set_current(o->root, t->path, err);
    }
    if (rc) {
        /* Put the previous generation back, then say what failed and what is there now. */
        char *failed = fl_xstrdup(r.step);
        fl_error rerr = FL_ERROR_INIT;
        char *msg = fl_xstrdup(err->message ? err->message : "failed");
        run rr = {o, out, "restore", {0}, fl_gen_default(o->state_dir)};
        fprintf(out, "step '%s' failed: %s\nrestoring the previous generation\n", failed, msg);
        int rrc = restore(&rr, t, &old, pending, pending_created, backups, &rerr);
        const char *what = old.path ? old.path : "the state before the first activation";
        if (!rrc)
            fl_error_set(err, rc,
                         "activation failed at step '%s': %s\nrestored %s (users, "
                         "/etc, home files and units as before; current link "
                         "unchanged)",
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
    } else {
        r.step = "recording state";
        rc = save_managed(o, t->path, want_json, p.users.new_created, NULL, err);
    }
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

int fl_activate_paths(char **root, char **state_dir, fl_error *err) {
    *root = realpath(fl_opts.root, NULL);
    if (!*root)
        return fl_error_errno(err, "--root %s", fl_opts.root);
    char cwd[PATH_MAX];
    *state_dir = fl_canon_path(fl_opts.state_dir, getcwd(cwd, sizeof cwd) ? cwd : "/");
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
               (o->mode == FL_ACT_TEST || is_default) && fl_act_packages_satisfied(o, &t)) {
        fprintf(out, "nothing to do: %s is already active%s\n", t.path,
                o->mode == FL_ACT_SWITCH ? " and the default" : "");
    } else if (o->mode == FL_ACT_SWITCH && !interrupted && same_path(current, t.path)) {
        /* Active after a `test`: only the default changes. */
        fprintf(out, "%s is already active\n", t.path);
        rc = make_default(o, t.path, out, err);
    } else {
        rc = activate_now(o, &t, current, out, err);
        if (!rc && o->mode == FL_ACT_SWITCH)
            rc = make_default(o, t.path, out, err);
        if (!rc && o->mode != FL_ACT_DRY)
            fprintf(out, "activated %s\n", t.path);
    }
    free(current);
    free(dflt_top);
    fl_toplevel_release(&t);
    if (lockfd >= 0)
        close(lockfd);
    return rc;
}
