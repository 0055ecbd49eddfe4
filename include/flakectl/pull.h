/* pull.h - pull mode (docs/pull.md): the host brings itself to the state its fleet wants,
 * from a signed host pointer in a binary cache or from the flake's Git repository, with the
 * guarantees of a push (plan, restore on failure) and never backwards. Depends on cache,
 * activate, flake and store; the build of a flake is the caller's (a callback), because
 * evaluating hosts is the module system's, above this layer. */
#ifndef FLAKECTL_PULL_H
#define FLAKECTL_PULL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flakectl/activate.h"
#include "flakectl/error.h"

/* Builds host of the flake checked out in flake_dir; *toplevel owned. */
typedef int (*fl_pull_build_fn)(void *ctx, const char *flake_dir, const char *host, char **toplevel,
                                fl_error *err);

typedef struct fl_pull_opts {
    const char *host; /* the flake's name for this host: hosts/<host> in a cache */
    /* git+file://…, git+https://…, git+ssh://… (?ref=BRANCH, ?rev=COMMIT), or a cache:
     * file:///DIR, http://…, https://… */
    const char *from;
    const char *ref, *rev;   /* git: override the URL's */
    const char *const *keys; /* trusted public keys (each may hold several) */
    size_t nkeys;
    /* git: SSH keys ("ssh-ed25519 AAAA… comment") one of which must have signed the commit;
     * none = commit signatures are not checked */
    const char *const *allowed_signers;
    size_t nallowed_signers;
    const char *const *substituters; /* further caches for the closure */
    size_t nsubstituters;
    const char *root, *state_dir;
    fl_act_mode mode;    /* FL_ACT_SWITCH, FL_ACT_TEST or FL_ACT_BOOT */
    int allow_downgrade; /* accept an older pointer or a non-descendant commit */
    fl_pull_build_fn build;
    void *build_ctx;
    FILE *out; /* progress, and activation's plan; NULL = stdout */
} fl_pull_opts;

typedef struct fl_pull_result {
    int noop;         /* already there: only the pointer was read */
    char *toplevel;   /* owned; NULL when nothing was resolved */
    char rev[41];     /* the flake revision, "" when unknown */
    uint64_t counter; /* the pointer's, 0 for git */
} fl_pull_result;

/* One pull; every outcome (success, no-op after an error, failure) lands in the host's
 * record (fl_act_record, via "pull"). A pointer whose counter is below the applied one, or a
 * commit that does not descend from the one running, is refused unless allow_downgrade. */
int fl_pull(const fl_pull_opts *o, fl_pull_result *res, fl_error *err);
void fl_pull_result_release(fl_pull_result *r);

/* The checks of a pointer against what the host applied (pure, for the tests): 1 = already
 * applied (same counter and toplevel), 0 = newer (apply it), <0 with err = refused. */
int fl_pull_pointer_decide(uint64_t counter, const char *toplevel, uint64_t applied_counter,
                           const char *applied_toplevel, const char *where, fl_error *err);

/* The counter a cache pointer must reach (docs/pull.md, "Counters are per key"): the highest
 * one this host applied from any of the keys it trusts now (ids "name:base64"), *toplevel the
 * path that pointer named (borrowed from rec). A record from before per-key marks (a pointer
 * without signers) counts whatever the keys. 0 and NULL when nothing was applied. */
uint64_t fl_pull_applied_floor(const json_t *rec, char *const *ids, size_t nids,
                               const char **toplevel);

/* `flakectl status` for a host that pulls from a cache (against.c). */
typedef struct fl_pull_against {
    const char *state; /* "current", "behind", "ahead" or "unknown" (static) */
    char *url;         /* the cache (owned) */
    uint64_t counter;  /* its pointer's, 0 when unread */
    char *toplevel;    /* its pointer's (owned), NULL when unread */
    char *error;       /* why "unknown" (owned), else NULL */
} fl_pull_against;
/* When the host's record (rec) names a cache pointer it applied (pointer.url), reads that
 * cache's hosts/<host> from here, checks its signature with the keys the host applied
 * (pointer.signers) and keys, and compares: 1 and out filled (state "unknown" and error when
 * it could not be read or trusted); 0 when the host does not pull from a cache. */
int fl_pull_against_cache(const json_t *rec, const char *host, const char *const *keys,
                          size_t nkeys, fl_pull_against *out);
void fl_pull_against_release(fl_pull_against *a);
/* The state word of a host running `running` (the record's toplevel) with `applied` the
 * counter it applied, against a pointer naming `pointed` with `counter` (pure). */
const char *fl_pull_against_state(const char *running, uint64_t applied, const char *pointed,
                                  uint64_t counter);

#endif
