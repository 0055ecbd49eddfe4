/* module.h - evaluating a flake's hosts: the flake's outputs, the module system over the
 * bundled and the host's modules, and the resolved config/profile/toplevel of one host. */
#ifndef FLAKECTL_MODULE_H
#define FLAKECTL_MODULE_H

#include <stddef.h>

#include "flakectl/error.h"
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

/* The host's merged config with assertions checked (weak head normal form). */
int fl_host_config(fl_host *host, fl_value **config, fl_error *err);
/* Looks up a dotted option path ("networking.hostName", "environment.etc.\"a b\".text")
 * below v; errors name the missing attribute and suggest close names. */
int fl_host_select(fl_host *host, fl_value *v, const char *dotted, fl_value **out, fl_error *err);
/* Prints the host's warnings to stderr ("warning: ..."). */
int fl_host_print_warnings(fl_host *host, fl_error *err);

/* The flake directory: `flag` when given (--flake), else the nearest directory upward from
 * the current one holding flake.nix. Owned by the caller. */
char *fl_flake_find_dir(const char *flag, fl_error *err);
/* This machine's host name (the default for --host). Owned by the caller. */
char *fl_host_default_name(void);

/* Builds the host's toplevel (store attached with the functions below); *path is owned. */
int fl_host_toplevel(fl_host *host, char **path, fl_error *err);

/* Host builds: sets the hooks in cfg (before fl_lang_new) so path literals and toFile go into
 * store, and after fl_lang_new makes `derivation` build through the store. */
struct fl_store;
void fl_module_store_hooks(fl_lang_config *cfg, struct fl_store *store);
int fl_module_attach_builds(fl_lang *L, struct fl_store *store, fl_error *err);

/* One host's evaluation with the store attached (see session.c). host_name NULL: open only
 * the flake, store and evaluator (e.g. to list hosts). */
typedef struct fl_host_session {
    char *flake;
    struct fl_store *store;
    fl_lang *L;
    fl_host host;
    int host_open;
} fl_host_session;
int fl_host_session_open(fl_host_session *s, const char *flake_flag, const char *state_dir,
                         const char *host_name, size_t max_stack, int frames, fl_error *err);
void fl_host_session_close(fl_host_session *s);

#endif
