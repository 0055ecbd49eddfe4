/* module.h - evaluating a flake's hosts: the flake's outputs, the module system over the
 * bundled and the host's modules, and the resolved config/profile/toplevel of one host. */
#ifndef FLAKECTL_MODULE_H
#define FLAKECTL_MODULE_H

#include <stddef.h>
#include <stdio.h>

#include <stdio.h>

#include "flakectl/error.h"
#include "flakectl/flake.h"
#include "flakectl/lang.h"

/* One evaluated host. `result` is host.nix's attrset (config, profile, toplevel, secrets,
 * warnings, hostNames, ev, modules); everything belongs to L. */
typedef struct fl_host {
    fl_lang *L;
    char *flake_dir; /* owned */
    char *name;      /* owned */
    fl_value *result;
} fl_host;

/* Extracts the embedded module files (once per content) and returns the directory holding
 * nix/ and bundled/. The string is owned by the caller. */
char *fl_module_bundle_dir(fl_error *err);

/* Sets up L for host evaluation: registers flakectl's own builtins (__throwAt). */
void fl_module_prepare(fl_lang *L);

/* Lists the flake's host names (sorted). *names is an owned array of owned strings. */
int fl_module_host_names(fl_lang *L, const char *flake_dir, char ***names, size_t *n,
                         fl_error *err);
void fl_module_free_names(char **names, size_t n);

/* Evaluates host `name` of the flake in flake_dir. A missing host is an error that lists the
 * flake's hosts. On success *host is filled; release it with fl_host_release (L stays the
 * caller's). */
int fl_host_open(fl_lang *L, const char *flake_dir, const char *name, fl_host *host,
                 fl_error *err);
void fl_host_release(fl_host *host);
/* The flake's outputs the host was evaluated from (for fl_host_flake_args.outputs), or NULL. */
fl_value *fl_host_flake_outputs(fl_host *host);

/* What the flake layer (src/flake/) hands to nix/host.nix: the resolved `inputs` set and
 * `flakeInfo` (path, rev, dirty; it lands in profile.json). NULL fields: {} and { path; }. */
typedef struct fl_host_flake_args {
    fl_value *inputs;
    fl_value *info;
    fl_value *outputs; /* the flake's outputs as another host evaluated them, or NULL */
} fl_host_flake_args;
int fl_host_open_args(fl_lang *L, const char *flake_dir, const char *name,
                      const fl_host_flake_args *fa, fl_host *host, fl_error *err);
int fl_module_host_names_args(fl_lang *L, const char *flake_dir, const fl_host_flake_args *fa,
                              char ***names, size_t *n, fl_error *err);

/* The host's merged config with assertions checked (weak head normal form). */
int fl_host_config(fl_host *host, fl_value **config, fl_error *err);
/* Looks up a dotted option path ("networking.hostName", "environment.etc.\"a b\".text")
 * below v; errors name the missing attribute and suggest close names. */
int fl_host_select(fl_host *host, fl_value *v, const char *dotted, fl_value **out, fl_error *err);
/* The names one level below the dotted option path (\"\" = the top): what completion offers.
 * Below an option whose value is an attribute set (an attrsOf: users.users, environment.etc)
 * the names the configuration defines, and below such a name the submodule's options. Any
 * other option (a leaf) or a missing path has none. *names owned (fl_module_free_names). */
int fl_host_option_children(fl_host *host, const char *dotted, char ***names, size_t *n,
                            fl_error *err);
/* Prints the host's warnings to stderr ("warning: ..."). */
int fl_host_print_warnings(fl_host *host, FILE *out, fl_error *err);


/* Builds the host's toplevel (store attached with the functions below); *path is owned. */
int fl_host_toplevel(fl_host *host, char **path, fl_error *err);

/* Host builds: sets the hooks in cfg (before fl_lang_new) so path literals and toFile go into
 * store, and after fl_lang_new makes `derivation` build through the store. */
struct fl_store;
void fl_module_store_hooks(fl_lang_config *cfg, struct fl_store *store);
/* `flakectl eval`'s fetchers: http(s):// through the store's downloader, and what
 * builtins.fetchurl/fetchTarball fetch into the store of state_dir, as nix-instantiate adds
 * it to /nix/store. The store is opened on the first fetch (an evaluation that fetches
 * nothing never touches it) and closed by fl_module_fetch_store_close. */
typedef struct fl_fetch_store {
    const char *state_dir;
    struct fl_store *store;
} fl_fetch_store;
void fl_module_fetch_hooks(fl_lang_config *cfg, fl_fetch_store *fs);
void fl_module_fetch_store_close(fl_fetch_store *fs);
int fl_module_attach_builds(fl_lang *L, struct fl_store *store, fl_error *err);

/* ---- build plans for --build-host (plan.c) ----
 * An evaluation in plan mode builds nothing: sources still go into the local store (they
 * are this machine's files), but every derivation, and every text that mentions an output
 * not built, is recorded with the path it will have; the toplevel's outPath is that path.
 * The plan is sent to a build host, which replays it (fl_build_plan_run). Reading a
 * planned output during evaluation (import from derivation) is refused. */
struct fl_store;
struct fl_store_drv;
struct fl_strbuf;
typedef struct fl_build_plan fl_build_plan;
fl_build_plan *fl_build_plan_new(struct fl_store *s);
void fl_build_plan_free(fl_build_plan *p);
struct fl_store *fl_build_plan_store(fl_build_plan *p);
/* After the evaluation: the store the plan was made with is closed. */
void fl_build_plan_detach_store(fl_build_plan *p);
size_t fl_build_plan_steps(const fl_build_plan *p);
/* Is path the output of a recorded step? */
int fl_build_plan_has(const fl_build_plan *p, const char *path);
int fl_build_plan_add_text(fl_build_plan *p, const char *name, const char *data, size_t len,
                           char *const *refs, size_t nrefs, char **out_path, fl_error *err);
int fl_build_plan_add_drv(fl_build_plan *p, const struct fl_store_drv *drv, char **out_path,
                          fl_error *err);
/* The local store paths the steps use that no step produces (sorted, owned): with their
 * closure, what the build host needs before it can run the plan. */
int fl_build_plan_inputs(const fl_build_plan *p, char ***out, size_t *nout);
/* The plan's bytes (docs/remote.md): store directory, self (this flakectl's path, the
 * toplevel's builder), the toplevel, then the steps in evaluation order. */
void fl_build_plan_serialize(const fl_build_plan *p, const char *store_dir, const char *self,
                             const char *toplevel, struct fl_strbuf *out);
/* Replays a plan into s: each step must produce the path the plan names; self_exe runs a
 * drv whose builder is the plan's `self` when that path is no program here. progress (may be
 * NULL) is told each output about to be built. *toplevel owned; *nbuilt = outputs built. */
typedef void (*fl_build_plan_progress_fn)(void *ctx, const char *path);
int fl_build_plan_run(struct fl_store *s, const char *buf, size_t len, const char *self_exe,
                      fl_build_plan_progress_fn progress, void *pctx, char **toplevel,
                      size_t *nbuilt, fl_error *err);
/* Plan-mode hooks and `derivation` (instead of fl_module_store_hooks/attach_builds). */
void fl_module_plan_hooks(fl_lang_config *cfg, fl_build_plan *plan);
int fl_module_attach_plan(fl_lang *L, fl_build_plan *plan, fl_error *err);

/* An option path "a.b.\"c.d\"" as a list of strings of the language (the names split at
 * the dots outside quotes; what the modules' describe and lookups take), owned by L. */
fl_value *fl_module_path_value(fl_lang *L, const char *dotted);

/* One host's evaluation with the store attached (see session.c). host_name NULL: open only
 * the flake, store and evaluator (e.g. to list hosts). */
struct fl_flake_tree;
typedef struct fl_host_session {
    char *flake;
    struct fl_store *store;
    fl_lang *L;
    fl_host host;
    int host_open;
    struct fl_flake_tree *tree; /* the flake's Git work tree, NULL when not in one */
    fl_host_flake_args args;    /* inputs and flakeInfo, as resolved at open */
    fl_build_plan *plan;        /* plan mode (fl_host_session_open_plan); freed at close */
    struct fl_substituter *substituter; /* fl_host_session_substitute; freed at close */
    /* the caches and keys it was made from (owned copies, freed at close) */
    char **subst_urls, **subst_keys;
    size_t nsubst_urls, nsubst_keys;
    FILE *notices;              /* where downloads are announced (NULL: --quiet) */
    uint64_t fetch_shown;       /* MiB of the running download last shown on a terminal */
} fl_host_session;
/* What the command line decides for every session (nothing is read from globals). */
typedef struct fl_session_opts {
    const char *flake_flag; /* --flake, NULL = the nearest flake.nix upward */
    const char *state_dir;  /* the store's state directory */
    size_t max_stack;       /* the evaluator's stack limit (see fl_lang_config) */
    int frames;             /* --show-trace */
    int no_write_lock;      /* --no-write-lock-file */
    const char *const *overrides; /* --override-input NAME URL, flattened pairs */
    size_t noverrides;            /* pairs */
    FILE *warnings;               /* the dirty-tree warning; NULL = say nothing (--quiet) */
    fl_lang_trace_fn trace;       /* the evaluator's sink (fl_lang_config.trace) */
    void *trace_ctx;
} fl_session_opts;
int fl_host_session_open(fl_host_session *s, const fl_session_opts *o, const char *host_name,
                         fl_error *err);
/* The same in plan mode: derivations are recorded into s->plan, not built. */
int fl_host_session_open_plan(fl_host_session *s, const fl_session_opts *o,
                              const char *host_name, fl_error *err);

/* `flakectl lock` / `flakectl update`: finds the flake, opens the store and runs
 * fl_flake_inputs (with this module system's store hooks) without building values. */
struct fl_flake_inputs_opts;
int fl_module_lock_inputs(const fl_session_opts *o, const struct fl_flake_inputs_opts *opts,
                          fl_error *err);
/* Makes host_name the session's host (releasing the one open before): several hosts
 * evaluated by one evaluator, which keeps what they share (the flake, its inputs, the
 * modules) evaluated once. Open the session with host_name NULL first. */
int fl_host_session_select(fl_host_session *s, const char *host_name, fl_error *err);
void fl_host_session_close(fl_host_session *s);
/* Lets the session's builds fetch from binary caches: the host's store.substituters and
 * store.trustedPublicKeys plus urls and keys (command-line additions). No caches, no change.
 * log gets progress and warnings (NULL = silent). */
int fl_host_session_substitute(fl_host_session *s, const char *const *urls, size_t nurls,
                               const char *const *keys, size_t nkeys, FILE *log, fl_error *err);

/* ---- the options reference (reference.c) ---- */

/* One declared option, as the reference and `flakectl option --search` show it. Options in
 * submodules are named with `<name>` for an attribute name and `*` for a list element. */
typedef struct fl_option_doc {
    char *name;
    char *type;         /* "list of string" */
    char *description;
    char *default_text; /* in the language's syntax, or defaultText; NULL: no default */
    char *example_text; /* NULL: no example */
    char *file;         /* "bundled/users.nix" for flakectl's own, else the declaring file */
    int line;           /* of the declaration in file; 0 when unknown */
    int bundled;
} fl_option_doc;

/* Every visible option declared for host (its flake's own included), or, with host NULL,
 * by the bundled modules alone over a placeholder host (L prepared with
 * fl_module_prepare; nothing is read but the bundle). Sorted by name. A default that cannot
 * be computed without a configuration is described as such, never an error. *docs is owned:
 * fl_option_docs_free. */
int fl_module_option_docs(fl_lang *L, fl_host *host, fl_option_doc **docs, size_t *n,
                          fl_error *err);
void fl_option_docs_free(fl_option_doc *docs, size_t n);
/* Does word occur (ASCII case ignored) in the option's name or description? */
int fl_option_doc_matches(const fl_option_doc *doc, const char *word);
/* Sorts docs by name and keeps the first of each name (options gathered from several
 * hosts); *n is updated. */
void fl_option_docs_unique(fl_option_doc *docs, size_t *n);

/* ---- deployments (deploy.c) ---- */

/* One host's `deploy` attribute. */
typedef struct fl_host_deploy {
    char *name;
    char *target; /* deploy.targetHost, NULL when unset */
    char **tags;
    size_t ntags;
} fl_host_deploy;

/* The hosts `--on sel` chooses ("@tag", "a,b,c" or "*"), each with its deploy.targetHost;
 * a named host that does not exist, a chosen host without a target or an empty selection
 * is an error. *out is owned (fl_host_deploy_free). Evaluates on the calling thread: run it
 * with a stack of max_stack. */
int fl_module_select_deploy(const fl_session_opts *o, const char *sel, fl_host_deploy **out,
                            size_t *n, fl_error *err);
void fl_host_deploy_free(fl_host_deploy *hosts, size_t n);
/* Every host of the flake with its deploy attribute (target or not), in name order; what
 * completion offers for --on. Owned as fl_module_select_deploy's. */
int fl_module_list_deploy(const fl_session_opts *o, fl_host_deploy **out, size_t *n, fl_error *err);

/* What a host's age options say, as plain data for src/secret/: age.hostPublicKey (owned,
 * NULL when unset) and each age.secrets.<name>.file (names and files owned, a file NULL when
 * not a path or string). Free with fl_host_age_secrets_free. */
int fl_host_age_secrets(fl_host *host, fl_value *config, char **host_key, char ***names,
                        char ***files, size_t *n, fl_error *err);
void fl_host_age_secrets_free(char *host_key, char **names, char **files, size_t n);

/* ---- why a file, unit, package or value is on a host (why.c) ---- */

/* One definition of an option, after mkIf/mkMerge/mkOverride/mkOrder were taken apart. */
typedef struct fl_why_def {
    char *file;     /* owned */
    int line, col;  /* 0 when the definition has no position (a whole module) */
    int priority;   /* mkOverride's number: 50 mkForce, 100 plain, 1000 mkDefault, 1500 default */
    int order;      /* mkOrder's number: 500 mkBefore, 1000 plain, 1500 mkAfter */
    int enabled;    /* 0: under a false mkIf (it never counted) */
    int won;        /* it counts in the value (enabled and of the best priority) */
    int is_default; /* the declaration's default */
    char *value;    /* a short printed form, owned */
} fl_why_def;

typedef struct fl_why_option {
    char *option;   /* the option path as written, e.g. environment.etc."ssh/sshd_config".text */
    char *type;     /* the type's description */
    char *declared; /* file:line:col of the declaration */
    char *value;    /* a short printed form of the merged value */
    fl_why_def *defs;
    size_t ndefs;
} fl_why_option;

/* The module (file) whose definitions made the target and the options it declares that
 * something sets; for files flakectl generates, module is "(generated by flakectl)". */
typedef struct fl_why_producer {
    char *module;
    char *options; /* "services.openssh.*" */
    fl_why_option *defined;
    size_t ndefined;
} fl_why_producer;

typedef struct fl_why {
    char *kind;   /* "file", "unit", "package" or "option" */
    char *target; /* what was asked */
    int present;  /* on the machine (0: defined but disabled) */
    fl_why_option *entry; /* the element of an attribute set of submodules, or NULL */
    fl_why_option *options;
    size_t noptions;
    fl_why_producer *producers;
    size_t nproducers;
} fl_why;

/* Explains query on host: a path (/etc/..., ~user/..., or under a home directory), a unit
 * (NAME.service|.timer|.socket), a package name or an option path. Unknown targets are
 * FL_ENOTFOUND errors with "did you mean" and what exists. Release *out with
 * fl_why_release. */
int fl_host_why(fl_host *host, const char *query, fl_why *out, fl_error *err);
void fl_why_release(fl_why *w);
/* "mkForce", "mkDefault", "plain", "option default", "mkOverride N"; "mkBefore",
 * "mkAfter", "plain", "mkOrder N": into buf. */
const char *fl_why_priority_name(int priority, int is_default, char *buf, size_t n);
const char *fl_why_order_name(int order, char *buf, size_t n);

/* ---- the interactive evaluator's engine (repl.c) ---- */

/* Evaluates expressions with config, lib, pkgs and host of an open host in scope, or with
 * lib only (host NULL). Both L and host stay the caller's and must outlive the repl. */
typedef struct fl_repl fl_repl;
int fl_repl_new(fl_lang *L, fl_host *host, fl_repl **out, fl_error *err);
void fl_repl_free(fl_repl *r);
/* Appends expr's value to out: one level of a set or list (like `nix repl`), or all of it
 * forced (FL_REPL_DEEP, `:p`); `NAME = EXPR` binds NAME for later inputs and appends
 * nothing. Errors carry the position in expr ("«repl»", line 1 = its first). With
 * FL_REPL_PARTIAL, an input that ends before its expression does returns FL_REPL_MORE
 * (no error): the caller reads another line and tries the whole again. */
enum { FL_REPL_DEEP = 1, FL_REPL_PARTIAL = 2, FL_REPL_MORE = 1 };
int fl_repl_eval(fl_repl *r, const char *expr, int flags, fl_strbuf *out, fl_error *err);
/* The completions of a partial word: "config.serv" -> "config.services", ...; a word without
 * a dot completes the scope's names. Sorted; *out and each string owned by the caller. */
int fl_repl_complete(fl_repl *r, const char *word, char ***out, size_t *n);
/* :t (doc 0) and :doc (doc 1): for config.OPTION the option's type and description (with
 * doc: default and where it is declared); for anything else the value's type (and where a
 * function is defined). */
int fl_repl_type(fl_repl *r, const char *expr, int doc, fl_strbuf *out, fl_error *err);

#endif
