/* flake.h - the flake as a source: its Git work tree (only tracked files are visible, the
 * commit and dirty flag), its inputs (git+file/https/ssh and path:, fetched with libgit2 into
 * a cache and copied into the store) and flake.lock (Nix's version 7 shape).
 * See docs/inputs.md. */
#ifndef FLAKECTL_FLAKE_H
#define FLAKECTL_FLAKE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flakectl/error.h"
#include "flakectl/lang.h"

struct fl_store;

/* ---- the flake's Git work tree (git.c) -------------------------------------------------- */

typedef struct fl_flake_tree fl_flake_tree;

/* Opens the Git work tree holding flake_dir. *out is NULL (and 0 returned) when flake_dir is
 * not inside a work tree. */
int fl_flake_tree_open(const char *flake_dir, fl_flake_tree **out, fl_error *err);
void fl_flake_tree_free(fl_flake_tree *t);
/* fl_lang_hooks.check_path: paths inside the work tree must be in the index (a directory
 * must hold a tracked file); others pass. */
int fl_flake_tree_check_path(void *tree, const char *path, fl_error *err);
/* The HEAD commit (40 hex) or NULL before the first commit; dirty when the index or a
 * tracked file differs from HEAD. */
/* Sets hooks (already holding the store's, see fl_module_store_hooks) for evaluating inside
 * t: check_path as above, and directories of the work tree copied to store hold only tracked
 * files. t must outlive the evaluator. No-op when t is NULL. */
void fl_flake_tree_hooks(fl_flake_tree *t, fl_lang_hooks *hooks, struct fl_store *store);
const char *fl_flake_tree_rev(const fl_flake_tree *t);
int fl_flake_tree_dirty(const fl_flake_tree *t);
int64_t fl_flake_tree_last_modified(const fl_flake_tree *t);
const char *fl_flake_tree_workdir(const fl_flake_tree *t);
/* Where a host's revision stands against the tree's HEAD (`flakectl status`). */
enum fl_rev_relation {
    FL_REV_UNKNOWN, /* no revision on one side, or a commit this repository lacks */
    FL_REV_SAME,
    FL_REV_BEHIND, /* an ancestor of HEAD */
    FL_REV_AHEAD,  /* a descendant of HEAD (this checkout is the older one) */
    FL_REV_OTHER,  /* neither: another branch */
};
int fl_flake_tree_compare_rev(const fl_flake_tree *t, const char *rev);

/* SSH signing keys allowed to sign what a host pulls from Git (sshsig.c; docs/pull.md,
 * "Signed commits"): ssh-ed25519 only. */
typedef struct fl_ssh_signer {
    unsigned char pk[32];
    char *text; /* the key as given ("ssh-ed25519 AAAA… comment") */
} fl_ssh_signer;
typedef struct fl_ssh_signers {
    fl_ssh_signer *v;
    size_t n;
} fl_ssh_signers;
/* Parses "ssh-ed25519 BASE64 [comment]" and appends it; where names the source in errors. */
int fl_ssh_signers_add(fl_ssh_signers *s, const char *text, const char *where, fl_error *err);
void fl_ssh_signers_release(fl_ssh_signers *s);
/* Checks an armored SSHSIG signature (ssh-keygen -Y sign, git's gpg.format=ssh) of msg in the
 * namespace ns: well formed, by one of allowed, valid. *signer gets that key's text (owned).
 * Errors (FL_ECRYPTO) name what (e.g. "commit 1a2b…") and the signing key's fingerprint. */
int fl_sshsig_verify(const char *armored, const void *msg, size_t len, const char *ns,
                     const fl_ssh_signers *allowed, const char *what, char **signer, fl_error *err);

/* Pull mode (docs/pull.md): makes dir a clean Git work tree of url (any libgit2 URL) at
 * want_rev (fetched only when missing here), else the tip of the branch or tag ref, else the
 * remote's HEAD: tracked files as committed, untracked ones removed, HEAD detached there.
 * applied_rev (may be NULL): the revision the host runs; a commit that is not it or a
 * descendant of it is refused (FL_ECONFLICT) before anything is checked out. With signers
 * (not NULL, n > 0) the commit must carry a valid SSH signature by one of them (FL_ECRYPTO
 * otherwise, before the ancestry check). rev_out gets the commit. */
int fl_flake_checkout(const char *url, const char *ref, const char *want_rev,
                      const char *applied_rev, const fl_ssh_signers *signers, const char *dir,
                      char rev_out[41], fl_error *err);

/* ---- inputs and flake.lock (inputs.c, lock.c, fetch.c) ---------------------------------- */

typedef struct fl_flake_override {
    const char *name;
    const char *url; /* a URL or a path (absolute, or relative to the current directory) */
} fl_flake_override;

enum fl_flake_mode {
    FL_FLAKE_USE,    /* evaluate: lock what is missing, use what is locked */
    FL_FLAKE_LOCK,   /* `flakectl lock`: the same, without building values */
    FL_FLAKE_UPDATE, /* `flakectl update`: relock the named inputs (all when none named) */
};

typedef struct fl_flake_inputs_opts {
    int mode;          /* enum fl_flake_mode */
    int no_write_lock; /* refuse to lock anything (--no-write-lock-file) */
    const fl_flake_override *overrides;
    size_t noverrides;
    char *const *update_names; /* FL_FLAKE_UPDATE: the inputs to update; none = all */
    size_t nupdate_names;
    FILE *report; /* where "flakectl: locked input ..." and update lines go (NULL = stderr) */
} fl_flake_inputs_opts;

/* Reads flake_dir/flake.nix's inputs, resolves each against flake.lock (fetching and
 * locking as opts say), copies every input into store and, when inputs_out is not NULL,
 * builds the set passed to the flake's outputs (`outPath`, `rev`, `shortRev`,
 * `lastModified`, `narHash`, and a flake input's outputs). flake.lock is rewritten (atomically)
 * only when its content changes. */
int fl_flake_inputs(fl_lang *L, struct fl_store *store, const char *flake_dir,
                    const fl_flake_inputs_opts *opts, fl_value **inputs_out, fl_error *err);

/* fl_flake_inputs for commands that evaluate: mode USE, flake.lock written unless
 * no_write_lock, overrides (--override-input NAME URL pairs, flattened; at most 32). */
int fl_flake_inputs_for_eval(fl_lang *L, struct fl_store *store, const char *flake_dir,
                             int no_write_lock, const char *const *overrides, size_t noverrides,
                             fl_value **inputs_out, fl_error *err);
/* "warning: Git tree '<dir>' is dirty" on out (NULL: nowhere), once per process. */
void fl_flake_warn_dirty(const fl_flake_tree *t, FILE *out);

/* The flake directory: `flag` when given (--flake), else the nearest directory upward from
 * the current one holding flake.nix. Owned by the caller. */
char *fl_flake_find_dir(const char *flag, fl_error *err);
/* This machine's host name (the default for --host). Owned by the caller. */
char *fl_host_default_name(void);

/* flakeInfo for host.nix/profile.json: { path; } plus { rev; shortRev; dirty; lastModified; }
 * when the flake is in a Git work tree (rev null before the first commit). */
fl_value *fl_flake_info(fl_lang *L, const char *flake_dir, const fl_flake_tree *tree);

/* Where fetched repositories are cached: $XDG_CACHE_HOME/flakectl/git, else
 * ~/.cache/flakectl/git, else /tmp/flakectl-<uid>/git. Owned. */
char *fl_flake_git_cache_dir(void);

/* `flakectl init` (init.c): writes template "seed" (the example's layout: hosts/, modules/,
 * home/, secrets/) or "minimal" (one host, this machine) into dir (made when missing) and
 * stages the files in Git, in a new repository unless dir is inside one. Refuses, naming it,
 * when any file of the template exists; a failure removes everything this run made. */
typedef struct fl_flake_init_opts {
    const char *dir;
    const char *template_name; /* NULL = "seed" */
    const char *host;          /* minimal: the host's name; NULL = this machine's */
    const char *user;          /* the admin account; NULL = the invoking user (or "admin") */
} fl_flake_init_opts;
typedef struct fl_flake_init_result {
    char **files; /* written, relative to dir, in order */
    size_t nfiles;
    int made_repo; /* 1: a new Git repository at dir; 0: staged in the enclosing one */
    char *host, *user;
} fl_flake_init_result;
int fl_flake_init(const fl_flake_init_opts *o, fl_flake_init_result *res, fl_error *err);
void fl_flake_init_result_release(fl_flake_init_result *res);

#endif
