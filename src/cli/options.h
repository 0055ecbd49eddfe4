/* options.h - the process's global options (the only process-wide mutable state). */
#ifndef FLAKECTL_OPTIONS_H
#define FLAKECTL_OPTIONS_H

#include <stddef.h>

/* Values of a repeatable option, in order; v[n] is NULL. */
typedef struct fl_opt_list {
    const char **v;
    size_t n;
} fl_opt_list;

typedef struct fl_global_options {
    const char *flake_dir;  /* --flake, NULL = search upward */
    const char *state_dir;  /* --state-dir / FLAKECTL_STATE_DIR, default /var/lib/flakectl */
    const char *root;       /* --root / FLAKECTL_ROOT, default "/" */
    int state_dir_given;    /* --state-dir or FLAKECTL_STATE_DIR was set, not the default */
    int show_trace;
    int verbose;
    int quiet;
    int color; /* 1 when colour output is wanted */
    /* Inputs (docs/inputs.md), for every command that evaluates the flake. */
    int no_write_lock_file;       /* --no-write-lock-file */
    const char **override_inputs; /* --override-input NAME URL: name, url, name, url, ... */
    int noverride_inputs;         /* pairs */
    /* as parsed, before main() resolves them into the fields above */
    const char *color_mode; /* --color auto|always|never */
    fl_opt_list override_list;
    /* Binary caches (docs/cache.md), for every command that builds or substitutes:
     * --substituters URLS and --trusted-public-key KEY, repeatable, each value possibly
     * several words; added to the host's store.substituters / store.trustedPublicKeys. */
    fl_opt_list substituters;
    fl_opt_list trusted_keys;
    /* The command line as typed and the command it runs ("switch", "deploy-agent"), for
     * hints that repeat it (sudo flakectl ...). */
    int argc;
    char **argv;
    const char *command;
} fl_global_options;

/* Filled by main() before a command runs; commands read it, never write it. */
extern fl_global_options fl_opts;

#endif
