/* apt.c - the packages activation step (DESIGN §11): plans from dpkg's status file and the
 * ownership record, then runs apt once to install and once to remove, inside --root when it
 * holds a Debian-family root. Owns <state>/packages/. Never touches a package it did not
 * install, and never leaves a mount behind: apt runs in a child with its own mount namespace
 * (the kernel drops /proc, /sys and /dev of the root when that child ends, however it ends). */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/pkg.h"
#include "pkg/internal.h"

/* Lists older than this are refreshed before an install. */
#define LISTS_MAX_AGE (24 * 3600)

typedef struct runner {
    const char *root;
    FILE *out;      /* the manager's output, indented; NULL keeps it quiet */
    fl_strbuf tail; /* the whole output, for the error message */
    const fl_progress *progress;
    char current[256]; /* the message apt's status channel gave last */
} runner;

static int is_live(const char *root) {
    return !strcmp(root, "/");
}

static int run_checked(runner *r, char **argv, const char *host, fl_error *err) {
    return fl_pkg_run_checked(r->root, argv, r->out, &r->tail, host, err);
}

/* One line of apt's status channel (APT::Status-Fd): "pmstatus:PKG:PERCENT:MESSAGE" as dpkg
 * works on a package (the last one for a package is "Installed PKG"), "dlstatus:N:PERCENT:
 * MESSAGE" while it downloads. Reported as a step per new message and a count of the
 * packages installed. */
static void on_apt_status(void *ctx, const char *line) {
    runner *r = ctx;
    if (!line) { /* apt's own output is about to show: not inside the updating line */
        fl_progress_note(r->progress, NULL);
        return;
    }
    int pm = !strncmp(line, "pmstatus:", 9), dl = !strncmp(line, "dlstatus:", 9);
    const char *pkg = line + 9, *pct = (pm || dl) ? strchr(pkg, ':') : NULL;
    const char *msg = pct ? strchr(pct + 1, ':') : NULL;
    if (!msg || !strcmp(msg + 1, r->current))
        return; /* apt repeats a download's message as its bytes come */
    msg++;
    snprintf(r->current, sizeof r->current, "%s", msg);
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(pct - pkg), pkg);
    /* "dpkg-exec" is apt running dpkg, not a package */
    int real = pm && strcmp(name, "dpkg-exec");
    char *what = fl_xasprintf("apt: %s", msg);
    fl_progress_item_doing(r->progress, real ? name : NULL, what);
    free(what);
    if (real && !strncmp(msg, "Installed ", 10))
        fl_progress_advance(r->progress, name, 0);
}

/* How many packages an install unpacks, dependencies included: apt's simulation (no
 * download, no change) counts them, so that the progress says "n of m". 0 = not known. */
static size_t count_installs(const char *root, char *const *argv) {
    size_t n = 0;
    while (argv[n])
        n++;
    char **sim = fl_xcalloc(n + 2, sizeof *sim);
    sim[0] = argv[0];
    sim[1] = "-s";
    memcpy(sim + 2, argv + 1, (n - 1) * sizeof *sim);
    fl_strbuf out;
    fl_strbuf_init(&out, 0);
    int status = 1;
    fl_error e = FL_ERROR_INIT;
    size_t count = 0;
    if (fl_pkg_run(root, sim, NULL, &out, &status, &e) == 0 && status == 0)
        for (const char *l = out.buf; (l = strstr(l, "Inst ")); l += 5)
            count += l == out.buf || l[-1] == '\n';
    fl_error_clear(&e);
    fl_strbuf_release(&out);
    free(sim);
    return count;
}

/* Whether apt's package lists are missing or older than a day. */
static int lists_stale(const char *root) {
    char *dir = fl_path_join(root, "var/lib/apt/lists");
    DIR *d = opendir(dir);
    time_t newest = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strstr(e->d_name, "_Packages"))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) == 0 && st.st_mtime > newest)
            newest = st.st_mtime;
    }
    if (d)
        closedir(d);
    free(dir);
    return !newest || time(NULL) - newest > LISTS_MAX_AGE;
}

static int apt_update(runner *r, const char *host, fl_error *err) {
    char *argv[] = {"apt-get", "-q", "update", NULL};
    if (r->out)
        fprintf(r->out, "    refreshing apt's package lists\n");
    return run_checked(r, argv, host, err);
}

/* One apt-get install of the plan's installs: simulated (sim: quiet, the candidates'
 * versions go into the plan, apt's verdict on every name before anything changes) or real. */
static int install_call(const fl_pkg_step *s, runner *r, fl_pkg_plan *p, int sim, int *unknown,
                        fl_error *err) {
    const char *host = s->host;
    char **specs = fl_xcalloc(p->n + 1, sizeof *specs);
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->a[i].action == FL_PKG_INSTALL)
            specs[k++] = p->a[i].spec;
    char **argv = fl_pkg_install_argv(FL_PKG_APT, specs, k);
    free(specs);
    size_t n = 0;
    while (argv[n])
        n++;
    if (sim) {
        /* -s after the program name: the same command, simulated. */
        argv = fl_xrealloc(argv, (n + 2) * sizeof *argv);
        memmove(argv + 2, argv + 1, n * sizeof *argv);
        argv[1] = fl_xstrdup("-s");
    } else {
        char *cmd = fl_pkg_argv_show(argv);
        fprintf(s->out, "    %s\n", cmd);
        free(cmd);
    }
    FILE *shown = r->out;
    if (sim)
        r->out = NULL;
    int rc;
    if (sim || !r->progress) {
        rc = run_checked(r, argv, host, err);
    } else {
        size_t total = count_installs(r->root, argv);
        /* apt reports each package on descriptor 3 as it goes */
        argv = fl_xrealloc(argv, (n + 3) * sizeof *argv);
        memmove(argv + 3, argv + 1, n * sizeof *argv);
        argv[1] = fl_xstrdup("-o");
        argv[2] = fl_xstrdup("APT::Status-Fd=3");
        r->current[0] = '\0';
        fl_progress_begin_of(r->progress, "installing packages (apt)", total, 0, "packages");
        rc = fl_pkg_run_checked_status(r->root, argv, r->out, &r->tail, on_apt_status, r, host,
                                       err);
        fl_progress_end(r->progress, rc != 0);
    }
    r->out = shown;
    fl_pkg_argv_free(argv);
    *unknown = rc && (strstr(r->tail.buf ? r->tail.buf : "", "Unable to locate package") ||
                      strstr(r->tail.buf ? r->tail.buf : "", "has no installation candidate"));
    if (rc || !sim)
        return rc;
    for (const char *l = r->tail.buf; l && *l;) {
        const char *eol = strchr(l, '\n');
        size_t len = eol ? (size_t)(eol - l) : strlen(l);
        if (len > 5 && !strncmp(l, "Inst ", 5)) {
            const char *name = l + 5, *sp = memchr(name, ' ', len - 5);
            if (sp && sp[1] == '(') {
                const char *ver = sp + 2, *vend = ver;
                while (vend < l + len && *vend != ' ' && *vend != ')')
                    vend++;
                for (size_t i = 0; i < p->n; i++) {
                    fl_pkg_action *a = &p->a[i];
                    if (a->action == FL_PKG_INSTALL && strlen(a->name) == (size_t)(sp - name) &&
                        !strncmp(a->name, name, (size_t)(sp - name))) {
                        free(a->version);
                        a->version = fl_xstrndup(ver, (size_t)(vend - ver));
                    }
                }
            }
        }
        l = eol ? eol + 1 : NULL;
    }
    return FL_OK;
}

/* apt's "Version 'V' for 'NAME' was not found": drops the pin of NAME's install (saying so)
 * and returns 1; 0 when the failure is something else. */
static int unpin_missing_version(runner *r, fl_pkg_plan *p, FILE *out) {
    const char *m = r->tail.buf ? strstr(r->tail.buf, "Version '") : NULL;
    const char *ve = m ? strchr(m + 9, '\'') : NULL;
    if (!ve || strncmp(ve, "' for '", 7))
        return 0;
    const char *name = ve + 7, *ne = strchr(name, '\'');
    for (size_t i = 0; ne && i < p->n; i++) {
        fl_pkg_action *a = &p->a[i];
        if (a->action != FL_PKG_INSTALL || strlen(a->name) != (size_t)(ne - name) ||
            strncmp(a->name, name, (size_t)(ne - name)) || !strchr(a->spec, '='))
            continue;
        fprintf(out, "    %s is no longer available; installing the candidate\n", a->spec);
        free(a->spec);
        a->spec = fl_xstrdup(a->name);
        return 1;
    }
    return 0;
}

/* install_call, refreshing the lists once when apt does not know a name and installing the
 * candidate where a pinned version is gone. */
static int install_with_fixes(const fl_pkg_step *s, runner *r, fl_pkg_plan *p, int sim,
                              fl_error *err) {
    int unknown = 0;
    int rc = install_call(s, r, p, sim, &unknown, err);
    if (rc && unknown && !s->dry) {
        fl_error e2 = FL_ERROR_INIT;
        if (apt_update(r, s->host, &e2) == 0) {
            fl_error_clear(err);
            rc = install_call(s, r, p, sim, &unknown, err);
        }
        fl_error_clear(&e2);
    }
    while (rc && unpin_missing_version(r, p, s->out)) {
        fl_error_clear(err);
        rc = install_call(s, r, p, sim, &unknown, err);
    }
    return rc;
}

/* ---- the record ---- */

static void record_generation(const fl_pkg_step *s, json_t *rec, const fl_pkg_decls *want) {
    if (s->generation <= 0)
        return;
    json_t *snap = json_deep_copy(rec);
    json_object_del(snap, "inFlight");
    json_t *declared = json_array();
    for (size_t i = 0; i < want->n; i++)
        json_array_append_new(declared, json_string(want->d[i].spec));
    json_object_set_new(snap, "declared", declared);
    json_object_set_new(snap, "generation", json_integer(s->generation));
    char *path = fl_xasprintf("%s/packages/generation-%d.json", s->state_dir, s->generation);
    char *text = json_dumps(snap, JSON_INDENT(2) | JSON_SORT_KEYS);
    fl_error e = FL_ERROR_INIT;
    /* A snapshot for people and rollbacks to read; owned.json is the truth. */
    fl_atomic_write_file(path, text, strlen(text), 0644, &e);
    fl_error_clear(&e);
    free(text);
    free(path);
    json_decref(snap);
}

/* An interrupted run left inFlight: finish dpkg's work, then believe the database. */
static int reconcile(const fl_pkg_step *s, runner *r, json_t *rec, fl_pkg_db *db, fl_error *err) {
    json_t *fl = json_object_get(rec, "inFlight");
    int rc = FL_OK;
    if (db->nbroken || db->interrupted || fl) {
        fprintf(s->out, "    %s; running dpkg --configure -a\n",
                fl                ? "an earlier package run was interrupted"
                : db->interrupted ? "dpkg was interrupted (its journal holds changes)"
                                  : "dpkg lists half-installed packages");
        char *argv[] = {"dpkg", "--configure", "-a", NULL};
        rc = run_checked(r, argv, s->host, err);
        if (!rc) {
            fl_pkg_db_release(db);
            rc = fl_pkg_dpkg_read(s->root, db, err);
        }
        if (rc)
            return rc;
    }
    if (fl) {
        json_t *owned = json_object_get(rec, "owned");
        int gen = (int)json_integer_value(json_object_get(fl, "generation"));
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(fl, "install"), i, v) {
            const fl_pkg_installed *have = fl_pkg_db_find(db, json_string_value(v));
            if (have && !have->broken)
                json_object_set_new(owned, json_string_value(v),
                                    json_pack("{s:i}", "generation", gen));
        }
        json_object_del(rec, "inFlight");
        fprintf(s->out, "    the ownership record is reconciled with dpkg's database\n");
    }
    return FL_OK;
}

/* Owned packages that are gone (removed by hand) leave the record. */
static void forget_absent(json_t *owned, const fl_pkg_db *db) {
    const char *name;
    json_t *v, *tmp;
    json_object_foreach_safe(owned, tmp, name, v) {
        if (!fl_pkg_db_find(db, name))
            json_object_del(owned, name);
    }
}

/* After a manager call, whatever it did: dpkg's database again into *db (the record follows
 * the database). Returns whether the read worked. */
static int reread_db(const fl_pkg_step *s, fl_pkg_db *db) {
    fl_error e = FL_ERROR_INIT;
    fl_pkg_db after;
    int ok = fl_pkg_dpkg_read(s->root, &after, &e) == 0;
    if (ok) {
        fl_pkg_db_release(db);
        *db = after;
    }
    fl_error_clear(&e);
    return ok;
}

/* Saves the record after a call; a save failure matters only when the call worked. */
static int save_after(const fl_pkg_step *s, const json_t *rec, int rc, fl_error *err) {
    fl_error e2 = FL_ERROR_INIT;
    int src = fl_pkg_record_save(s->state_dir, rec, rc ? &e2 : err);
    fl_error_clear(&e2);
    return rc ? rc : src;
}

static int apply_plan(const fl_pkg_step *s, runner *r, fl_pkg_plan *p, json_t *rec, fl_pkg_db *db,
                      fl_error *err) {
    json_t *owned = json_object_get(rec, "owned");
    int rc = FL_OK;
    if (p->ninstall) {
        json_t *fresh = json_array();
        for (size_t i = 0; i < p->n; i++) {
            const fl_pkg_action *a = &p->a[i];
            /* Only what is absent now becomes ours. */
            if (a->action == FL_PKG_INSTALL && !fl_pkg_db_find(db, a->name))
                json_array_append_new(fresh, json_string(a->name));
        }
        json_object_set_new(rec, "inFlight",
                            json_pack("{s:i, s:o}", "generation", s->generation, "install", fresh));
        rc = fl_pkg_record_save(s->state_dir, rec, err);
        if (!rc)
            rc = install_with_fixes(s, r, p, 0, err);
        int reread = reread_db(s, db);
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(json_object_get(rec, "inFlight"), "install"), i, v) {
            const fl_pkg_installed *have = reread ? fl_pkg_db_find(db, json_string_value(v)) : NULL;
            if (have && !have->broken)
                json_object_set_new(owned, json_string_value(v),
                                    json_pack("{s:i}", "generation", s->generation));
        }
        json_object_del(rec, "inFlight");
        rc = save_after(s, rec, rc, err);
    }
    if (!rc && p->nremove) {
        char **names = fl_xcalloc(p->n + 1, sizeof *names);
        size_t k = 0;
        for (size_t i = 0; i < p->n; i++)
            if (p->a[i].action == FL_PKG_REMOVE)
                names[k++] = p->a[i].name;
        char **argv = fl_pkg_remove_argv(FL_PKG_APT, names, k);
        char *cmd = fl_pkg_argv_show(argv);
        fprintf(s->out, "    %s\n", cmd);
        free(cmd);
        rc = run_checked(r, argv, s->host, err);
        fl_pkg_argv_free(argv);
        free(names);
        if (reread_db(s, db))
            forget_absent(owned, db);
        rc = save_after(s, rec, rc, err);
    }
    return rc;
}

/* Why packages cannot be applied here (NULL: they can). */
static const char *cannot_apply(const fl_pkg_step *s, fl_pkg_manager m) {
    if (m == FL_PKG_NONE)
        return is_live(s->root) ? "no package manager found (set system.packageManager)"
                                : "the root holds no package database (var/lib/dpkg/status)";
    if (m != FL_PKG_APT)
        return "flakectl runs apt only so far; the command line above is what it would run";
    char *status = fl_path_join(s->root, "var/lib/dpkg/status");
    int have = fl_path_exists(status);
    free(status);
    if (!have)
        return "the root holds no dpkg database (var/lib/dpkg/status)";
    if (geteuid() != 0)
        return "apt needs root";
    return NULL;
}

static void print_commands(FILE *out, const fl_pkg_plan *p) {
    char **specs = fl_xcalloc(p->n + 1, sizeof *specs),
         **names = fl_xcalloc(p->n + 1, sizeof *names);
    size_t ni = 0, nr = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->a[i].action == FL_PKG_INSTALL)
            specs[ni++] = p->a[i].spec;
        else if (p->a[i].action == FL_PKG_REMOVE)
            names[nr++] = p->a[i].name;
    }
    for (int pass = 0; pass < 2; pass++) {
        if (!(pass ? nr : ni))
            continue;
        char **argv = pass ? fl_pkg_remove_argv(p->manager, names, nr)
                           : fl_pkg_install_argv(p->manager, specs, ni);
        char *cmd = fl_pkg_argv_show(argv);
        fprintf(out, "    would run: %s\n", cmd);
        free(cmd);
        fl_pkg_argv_free(argv);
    }
    free(specs);
    free(names);
}

int fl_pkg_activate(const fl_pkg_step *s, fl_error *err) {
    fl_pkg_manager m = fl_pkg_profile_manager(s->profile, s->root);
    if (m == FL_PKG_BREW && json_array_size(json_object_get(s->profile, "nativePackages")))
        return fl_pkg_brew_activate(s, err);
    /* No manager in the root: the plan is apt's, the Linux manager flakectl runs. */
    fl_pkg_manager shown = m == FL_PKG_NONE ? FL_PKG_APT : m;
    fl_pkg_decls want;
    fl_strbuf unavailable;
    fl_strbuf_init(&unavailable, 0);
    int nunavail = 0;
    json_t *rec = NULL;
    fl_pkg_db db = {0};
    fl_pkg_plan plan = {0};
    runner r = {s->root, s->out, {0}, s->progress, ""};
    fl_strbuf_init(&r.tail, 0);
    int rc = fl_pkg_decls_from_profile(s->profile, shown, &want, &unavailable, &nunavail, err);
    if (rc)
        goto out;
    if (nunavail) {
        rc = fl_error_set(err, FL_EPARSE, "host %s: %d declared package%s no %s name:\n%s", s->host,
                          nunavail, nunavail == 1 ? " has" : "s have", fl_pkg_manager_name(shown),
                          unavailable.buf);
        fl_error_set_hint(err,
                          "declare them with pkgs.native { %s = \"…\"; }, or drop them for "
                          "this host",
                          fl_pkg_manager_name(shown));
        goto out;
    }
    if ((rc = fl_pkg_record_load(s->state_dir, &rec, err)))
        goto out;
    if (!want.n && !json_object_size(json_object_get(rec, "owned")) &&
        !json_object_get(rec, "inFlight"))
        goto out; /* nothing declared, nothing of ours: the step has nothing to say */
    const char *why = cannot_apply(s, m);
    if (!why && (rc = fl_pkg_dpkg_read(s->root, &db, err)))
        goto out;
    if (!why && !s->dry && (rc = reconcile(s, &r, rec, &db, err)))
        goto out;
    fl_pkg_plan_make(&plan, shown, &want, &db, json_object_get(rec, "owned"));
    /* dry-activate asks apt for the versions; a switch lets the install itself speak, so it
     * costs one apt call, not two. */
    if (!why && plan.ninstall && s->dry) {
        rc = install_with_fixes(s, &r, &plan, 1, err);
        if (rc && s->dry) {
            fprintf(s->out, "    apt would refuse: %s\n", err->message);
            fl_error_clear(err);
            rc = FL_OK;
        }
        if (rc)
            goto out;
    }
    fprintf(s->out, "  packages (%s%s%s):\n", fl_pkg_manager_name(shown),
            is_live(s->root) ? "" : " in ", is_live(s->root) ? "" : s->root);
    fl_pkg_plan_print(&plan, s->out, 1);
    if (!plan.ninstall && !plan.nremove)
        fputs("    (no change)\n", s->out);
    if (why) {
        if (plan.ninstall || plan.nremove) {
            print_commands(s->out, &plan);
            fprintf(s->out, "    nothing was installed: %s\n", why);
        }
        goto out;
    }
    if (s->dry)
        goto out;
    if (!plan.ninstall && !plan.nremove) {
        forget_absent(json_object_get(rec, "owned"), &db);
        rc = fl_pkg_record_save(s->state_dir, rec, err);
    } else {
        if (plan.ninstall && lists_stale(s->root))
            rc = apt_update(&r, s->host, err);
        if (!rc)
            rc = apply_plan(s, &r, &plan, rec, &db, err);
    }
    if (!rc)
        record_generation(s, rec, &want);
out:
    fl_pkg_plan_release(&plan);
    fl_pkg_db_release(&db);
    json_decref(rec);
    fl_pkg_decls_release(&want);
    fl_strbuf_release(&unavailable);
    fl_strbuf_release(&r.tail);
    return rc;
}

int fl_pkg_satisfied(const fl_pkg_step *s) {
    fl_pkg_manager m = fl_pkg_profile_manager(s->profile, s->root);
    const json_t *np = json_object_get(s->profile, "nativePackages");
    fl_error e = FL_ERROR_INIT;
    json_t *rec = NULL;
    if (fl_pkg_record_load(s->state_dir, &rec, &e)) {
        fl_error_clear(&e);
        return 0;
    }
    int ok = !json_object_get(rec, "inFlight");
    if (ok && (json_array_size(np) || json_object_size(json_object_get(rec, "owned"))) &&
        !cannot_apply(s, m)) {
        fl_pkg_decls want;
        fl_pkg_db db;
        if (fl_pkg_decls_from_profile(s->profile, m, &want, NULL, NULL, &e) == 0) {
            if (fl_pkg_dpkg_read(s->root, &db, &e) == 0) {
                fl_pkg_plan p;
                fl_pkg_plan_make(&p, m, &want, &db, json_object_get(rec, "owned"));
                ok = !p.ninstall && !p.nremove && !db.nbroken && !db.interrupted;
                fl_pkg_plan_release(&p);
                fl_pkg_db_release(&db);
            } else {
                ok = 0;
            }
            fl_pkg_decls_release(&want);
        } else {
            ok = 0;
        }
    }
    fl_error_clear(&e);
    json_decref(rec);
    return ok;
}
