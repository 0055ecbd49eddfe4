/* options.h - the process's global options (the only process-wide mutable state). */
#ifndef FLAKECTL_OPTIONS_H
#define FLAKECTL_OPTIONS_H

typedef struct fl_global_options {
    const char *flake_dir;  /* --flake, NULL = search upward */
    const char *state_dir;  /* --state-dir / FLAKECTL_STATE_DIR, default /var/lib/flakectl */
    const char *root;       /* --root / FLAKECTL_ROOT, default "/" */
    int show_trace;
    int verbose;
    int quiet;
    int color; /* 1 when colour output is wanted */
    /* Inputs (docs/inputs.md), for every command that evaluates the flake. */
    int no_write_lock_file;       /* --no-write-lock-file */
    const char **override_inputs; /* --override-input NAME URL: name, url, name, url, ... */
    int noverride_inputs;         /* pairs */
    /* Binary caches (docs/cache.md): --substituters URLS and --trusted-public-key KEY, each
     * repeatable and each value possibly several words; added to store.substituters and
     * store.trustedPublicKeys. */
    const char **substituters;
    int nsubstituters;
    const char **trusted_keys;
    int ntrusted_keys;
} fl_global_options;

/* Filled by main() before a command runs; commands read it, never write it. */
extern fl_global_options fl_opts;

#endif
