/* internal.h - what the files of src/flake/ share and nobody else sees. */
#ifndef FLAKECTL_FLAKE_INTERNAL_H
#define FLAKECTL_FLAKE_INTERNAL_H

#include <stdint.h>

#include "flakectl/flake.h"
#include "flakectl/store.h"

typedef struct fl_flake_fetched {
    char rev[41];
    int64_t last_modified;
    char *store_path; /* owned */
    unsigned char nar_hash[32];
} fl_flake_fetched;

/* Fetches url (a libgit2 URL: file://, https://, ssh://, or a path) into the cache and
 * exports the commit into store: want_rev when given (fetching only when the cache lacks
 * it), else the tip of ref, else the remote's HEAD. */
int fl_flake_fetch_git(fl_store *store, const char *url, const char *ref, const char *want_rev,
                       fl_flake_fetched *out, fl_error *err);

#endif
