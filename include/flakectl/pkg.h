/* pkg.h - native packages (DESIGN §11, docs/packages.md): what a toplevel declares for the
 * host's own package manager, what that manager has installed, the plan between the two
 * (install, remove, keep; with versions) and applying it with one manager call.
 *
 * Ownership: flakectl removes only what it installed. <state>/packages/owned.json records
 * those packages (and an install in flight, so a killed run is reconciled by the next one);
 * <state>/packages/generation-N.json keeps the record as it stood after generation N was
 * activated. Everything returned is owned by the caller and released with the matching
 * fl_pkg_*_release / free. */
#ifndef FLAKECTL_PKG_H
#define FLAKECTL_PKG_H

#include <stdio.h>

#include <jansson.h>

#include "flakectl/error.h"
#include "flakectl/progress.h"
#include "flakectl/strbuf.h"

typedef enum fl_pkg_manager {
    FL_PKG_NONE = 0,
    FL_PKG_APT,
    FL_PKG_DNF,
    FL_PKG_PACMAN,
    FL_PKG_BREW,
} fl_pkg_manager;

/* "apt", "dnf", "pacman", "brew"; "none" for FL_PKG_NONE. */
const char *fl_pkg_manager_name(fl_pkg_manager m);
/* The manager of that name, FL_PKG_NONE when unknown. */
fl_pkg_manager fl_pkg_manager_parse(const char *name);
/* The manager whose database the root holds: var/lib/dpkg/status (apt), var/lib/rpm (dnf),
 * var/lib/pacman/local (pacman); FL_PKG_NONE when none. */
fl_pkg_manager fl_pkg_detect(const char *root);
/* The manager a profile uses: its packageManager, else detected in root (root NULL: apt, the
 * assumption `flakectl check` makes; see docs/packages.md). */
fl_pkg_manager fl_pkg_profile_manager(const json_t *profile, const char *root);

/* A name a manager is given: one word, no leading '-', from [A-Za-z0-9@+._:=~/<>-]. */
int fl_pkg_name_valid(const char *name);

/* ---- what a profile declares ---- */

typedef struct fl_pkg_decl {
    char *attr;        /* the index's attribute (or pkgs.native's name) */
    char *spec;        /* what the manager is given, version syntax included ("nodejs=18.1") */
    char *name;        /* the package's name alone ("nodejs") */
    char *declared_at; /* file:line:col of the declaration */
} fl_pkg_decl;

typedef struct fl_pkg_decls {
    fl_pkg_decl *d;
    size_t n;
} fl_pkg_decls;

/* The profile's nativePackages for manager m. Packages with no name for m are not added to
 * out; each gives a line "ATTR (declared at FILE:L:C) has no MANAGER package" in
 * unavailable (may be NULL) and counts in *nunavailable. A name that is not valid is an
 * error naming it. */
int fl_pkg_decls_from_profile(const json_t *profile, fl_pkg_manager m, fl_pkg_decls *out,
                              fl_strbuf *unavailable, int *nunavailable, fl_error *err);
void fl_pkg_decls_release(fl_pkg_decls *ds);

/* ---- what is installed ---- */

typedef struct fl_pkg_installed {
    char *name;
    char *version;
    int broken; /* dpkg: not "install ok installed" (half-installed, unpacked, ...) */
} fl_pkg_installed;

typedef struct fl_pkg_db {
    fl_pkg_installed *p; /* sorted by name */
    size_t n;
    int nbroken;
    int interrupted; /* dpkg's journal (updates/) holds entries a killed dpkg left: apt
                        refuses to run until `dpkg --configure -a` */
} fl_pkg_db;

/* Reads root/var/lib/dpkg/status in one pass (no dpkg process), then the entries of dpkg's
 * journal (root/var/lib/dpkg/updates/<number>, in order), each overriding what came before
 * for its package. A missing file is an empty database. */
int fl_pkg_dpkg_read(const char *root, fl_pkg_db *db, fl_error *err);
/* The same, from the status file's text (for tests). */
int fl_pkg_dpkg_parse(const char *text, size_t len, fl_pkg_db *db, fl_error *err);
const fl_pkg_installed *fl_pkg_db_find(const fl_pkg_db *db, const char *name);
void fl_pkg_db_release(fl_pkg_db *db);

/* ---- the plan ---- */

enum { FL_PKG_INSTALL, FL_PKG_REMOVE, FL_PKG_KEEP_OURS, FL_PKG_KEEP_FOREIGN };

typedef struct fl_pkg_action {
    int action;
    char *name, *spec; /* spec: what the manager is given */
    char *version;     /* installed version (remove/keep) or candidate (install), may be NULL */
    int since;         /* remove/keep ours: the generation that installed it (0 unknown) */
} fl_pkg_action;

typedef struct fl_pkg_plan {
    fl_pkg_manager manager;
    fl_pkg_action *a;
    size_t n;
    int ninstall, nremove;
    json_t *owned; /* the ownership record this plan starts from ({name: {generation}}) */
} fl_pkg_plan;

/* Compares declared with installed and the ownership record: declared and missing is
 * installed; owned and no longer declared is removed if installed; declared and present
 * but not owned is kept and stays foreign. */
void fl_pkg_plan_make(fl_pkg_plan *p, fl_pkg_manager m, const fl_pkg_decls *want,
                      const fl_pkg_db *db, const json_t *owned);
void fl_pkg_plan_release(fl_pkg_plan *p);
/* "    + hello 2.10-3 (apt)", "    - sl (installed by flakectl in generation 3)",
 * "    = git (already installed, not ours)"; only changes unless all. */
void fl_pkg_plan_print(const fl_pkg_plan *p, FILE *out, int all);

/* ---- the ownership record ---- */

/* <state>/packages/owned.json; a missing file is an empty record. Owned by the caller. */
int fl_pkg_record_load(const char *state_dir, json_t **rec, fl_error *err);
int fl_pkg_record_save(const char *state_dir, const json_t *rec, fl_error *err);

/* ---- manager command lines (one call each) ---- */

/* The argv (NULL-terminated, owned: fl_pkg_argv_free) that installs or removes the specs
 * with manager m, as root inside the target. apt: apt-get -y --no-install-recommends;
 * dnf: dnf -y --setopt=install_weak_deps=False; pacman: pacman -S --needed --noconfirm;
 * brew: see fl_pkg_brew_bundle_argv. */
char **fl_pkg_install_argv(fl_pkg_manager m, char *const *specs, size_t n);
char **fl_pkg_remove_argv(fl_pkg_manager m, char *const *names, size_t n);
/* brew bundle for a Brewfile, run as the console user (never root): sudo -u USER -H -- BREW
 * bundle --file=F --no-lock [--cleanup [--zap]]. BREW: brew's absolute path (sudo's
 * secure_path does not hold Homebrew's prefix). cleanup: "none", "uninstall", "zap". */
char **fl_pkg_brew_bundle_argv(const char *user, const char *brew, const char *brewfile,
                               const char *cleanup);
void fl_pkg_argv_free(char **argv);
/* One shell-quoted line for argv (for plans and docs). Owned. */
char *fl_pkg_argv_show(char *const *argv);

/* ---- flakectl check ---- */

/* Every native package of the built toplevel has a name for its host's manager (apt when
 * system.packageManager is null); with apt_lists, every apt name is also in this machine's
 * apt lists (one apt-cache call). The error lists each offender with its file:line:col and
 * is located at the first. */
int fl_pkg_check_toplevel(const char *toplevel, int apt_lists, fl_error *err);

/* ---- the activation step ---- */

typedef struct fl_pkg_step {
    const char *root;      /* "/" or --root */
    const char *state_dir; /* where packages/ lives */
    const char *host;      /* for messages */
    const json_t *profile; /* the toplevel being activated */
    const char *toplevel;  /* its path (the Brewfile is activation/Brewfile in it) */
    int generation;        /* the generation being activated (for the record) */
    int dry;               /* only print the plan */
    FILE *out;
    /* apt's install: a step per package and the count done of those it unpacks (progress.h);
     * NULL = none */
    const fl_progress *progress;
} fl_pkg_step;

/* Plans (and unless dry, applies) the packages of s->profile: reconciles an interrupted run
 * first (dpkg --configure -a when dpkg says so), installs in one call, removes in one call,
 * and writes the record. Without a manager to run (no Debian root under --root, a manager
 * other than apt on this machine) the plan is listed and nothing is installed. */
int fl_pkg_activate(const fl_pkg_step *s, fl_error *err);
/* macOS's packages step as the plan's JSON (docs/json.md "homebrew"): the Brewfile, the brew
 * names, the cleanup and the `brew bundle` command; null when there is nothing for Homebrew. */
json_t *fl_pkg_brew_plan_json(const json_t *profile, const char *toplevel);
/* Whether every declared package is installed and nothing owned is left to remove (the
 * no-op switch's check: one read of the manager's database). 1 yes, 0 no. */
int fl_pkg_satisfied(const fl_pkg_step *s);

#endif
