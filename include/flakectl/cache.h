/* cache.h - binary caches in Nix's format: signing keys (ed25519, Nix's "name:base64"),
 * .narinfo files and their signature fingerprint, pushing a closure into a cache, checking a
 * cache, and substitution (making a store path valid from a cache that a trusted key vouches
 * for). Depends on the store and util only. Formats and choices: docs/cache.md. */
#ifndef FLAKECTL_CACHE_H
#define FLAKECTL_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flakectl/error.h"
#include "flakectl/progress.h"
#include "flakectl/store.h"

/* ---- keys (keys.c) ---------------------------------------------------------------------- */

#define FL_CACHE_KEY_NAME_MAX 128

typedef struct fl_cache_secret_key {
    char name[FL_CACHE_KEY_NAME_MAX + 1];
    unsigned char sk[64]; /* libsodium's ed25519 secret key (seed then public key), as Nix's */
} fl_cache_secret_key;

typedef struct fl_cache_public_key {
    char name[FL_CACHE_KEY_NAME_MAX + 1];
    unsigned char pk[32];
} fl_cache_public_key;

/* A fresh key pair named name: *secret_text and *public_text ("name:base64") are owned. */
int fl_cache_keygen(const char *name, char **secret_text, char **public_text, fl_error *err);
/* Parses "name:base64" (surrounding white space allowed). where names the source in errors
 * (a file, an option). */
int fl_cache_secret_key_parse(const char *text, const char *where, fl_cache_secret_key *out,
                              fl_error *err);
int fl_cache_public_key_parse(const char *text, const char *where, fl_cache_public_key *out,
                              fl_error *err);
/* Parses every white-space separated key in texts[0..n) (each may hold several) into *keys
 * (owned array; *nkeys entries). where names them in errors. */
int fl_cache_public_keys_parse(const char *const *texts, size_t n, const char *where,
                               fl_cache_public_key **keys, size_t *nkeys, fl_error *err);
/* "name:base64" of the key's public half (owned). */
char *fl_cache_public_key_text(const fl_cache_secret_key *key);
/* Nix's signature of msg: "name:base64(ed25519 detached signature)" (owned). */
char *fl_cache_sign(const fl_cache_secret_key *key, const char *msg);
/* 1 when sig ("name:base64") is a valid signature of msg by one of keys, else 0. */
int fl_cache_sig_valid(const char *sig, const char *msg, const fl_cache_public_key *keys,
                       size_t nkeys);

/* ---- narinfo (narinfo.c) ---------------------------------------------------------------- */

typedef struct fl_narinfo {
    char *store_path;  /* full path */
    char *url;         /* relative to the cache, e.g. nar/<filehash>.nar.xz */
    char *compression; /* "xz", "zstd", "none", ... (Nix's default when absent: bzip2) */
    int has_file_hash;
    unsigned char file_hash[FL_SHA256_LEN];
    uint64_t file_size; /* 0 when absent */
    unsigned char nar_hash[FL_SHA256_LEN];
    uint64_t nar_size;
    char **refs; /* full store paths, sorted */
    size_t nrefs;
    char *deriver; /* full store path, or NULL */
    char **sigs;
    size_t nsigs;
    char *ca; /* content address as Nix writes it, or NULL */
} fl_narinfo;

/* Parses a .narinfo of a cache for store_dir; where (the narinfo's URL) names it in errors.
 * *out is owned (fl_narinfo_free). */
int fl_narinfo_parse(const char *text, size_t len, const char *store_dir, const char *where,
                     fl_narinfo **out, fl_error *err);
/* The text Nix writes, field for field (owned). */
char *fl_narinfo_format(const fl_narinfo *ni);
/* What a Sig signs: "1;<path>;sha256:<base32 nar hash>;<nar size>;<refs, comma-separated>". */
char *fl_narinfo_fingerprint(const fl_narinfo *ni);
/* 1 when one of ni's signatures is valid by one of keys. */
int fl_narinfo_trusted(const fl_narinfo *ni, const fl_cache_public_key *keys, size_t nkeys);
void fl_narinfo_free(fl_narinfo *ni);

/* ---- push (push.c) ---------------------------------------------------------------------- */

/* One host's pointer in a push of several hosts' toplevels at once (`cache push --host A
 * --host B`): written after the whole push, so after its own closure is complete in the
 * cache. The push fills counter (0 when not written) and err (why not). */
typedef struct fl_cache_pointer_req {
    const char *host, *toplevel, *rev; /* rev may be NULL */
    uint64_t counter;
    fl_error err;
} fl_cache_pointer_req;

typedef struct fl_cache_push_opts {
    const char *compression;        /* "zstd" (default), "xz" or "none" */
    const fl_cache_secret_key *key; /* NULL = unsigned */
    FILE *log;                      /* a line per path copied; NULL = silent */
    /* with a key: after the closure, write the signed pointer hosts/<pointer_host> naming
     * paths[0] (the one path pushed), with the flake revision pointer_rev (may be NULL) */
    const char *pointer_host;
    const char *pointer_rev;
    const fl_progress *progress; /* BEGIN with the paths and NAR bytes to send, an ADVANCE
                                    per path written (from worker threads), END; or NULL */
    /* with a key: a pointer per entry once every path is pushed (one failing pointer does not
     * stop the others: see each entry's err); none when the push itself fails */
    fl_cache_pointer_req *pointers;
    size_t npointers;
} fl_cache_push_opts;

typedef struct fl_cache_push_result {
    size_t pushed, present; /* paths written; paths the cache already had */
    uint64_t nar_bytes, file_bytes;
    uint64_t pointer_counter; /* the host pointer's counter, 0 when none was written */
} fl_cache_push_result;

/* Where a push writes: a file:// directory (fl_cache_push), or anything else that can
 * store files by name (remote/ writes over SSH). Every function returns 0 or a negative
 * code with err filled. */
typedef struct fl_cache_writer {
    void *ctx;
    const char *url;       /* names the cache in messages */
    const char *stage_dir; /* a local directory for staging NAR files (for file://, inside the
                            * cache, so that put_file is a rename) */
    /* 1 when the cache has the file rel, 0 when not */
    int (*has)(void *ctx, const char *rel, fl_error *err);
    /* the whole file rel (owned, NUL-terminated); FL_ENOTFOUND when missing */
    int (*get)(void *ctx, const char *rel, char **data, size_t *len, fl_error *err);
    /* makes rel the complete, synced local file staged, atomically (the whole file or the old
     * state) and durably; staged is consumed (moved or deleted) either way */
    int (*put_file)(void *ctx, const char *staged, const char *rel, fl_error *err);
    /* makes rel hold data, atomically and durably */
    int (*put_data)(void *ctx, const char *rel, const void *data, size_t len, fl_error *err);
    /* how many paths may be pushed at once (the functions called from that many threads) */
    int jobs;
    /* Optional (NULL: every put is durable on its own). When set, put_file is atomic but
     * durable only once sync returns (renames made durable in the order made), and the
     * pusher stages every NAR and .narinfo of the closure as files, syncs, puts the NARs,
     * then the .narinfos references first, and syncs: two syncs for the push instead of
     * several per path. */
    int (*sync)(void *ctx, fl_error *err);
} fl_cache_writer;

/* Pushes the closure of paths (each valid in s) through w: nix-cache-info first (or its
 * StoreDir checked), then per path, references first, the NAR (staged, then put) and only
 * after it the .narinfo, so a .narinfo never names a missing or partial NAR or reference.
 * Paths whose .narinfo the cache has are skipped. Paths whose references are all in the
 * cache are compressed and written concurrently (up to w->jobs). */
int fl_cache_push_to(fl_store *s, const fl_cache_writer *w, char *const *paths, size_t npaths,
                     const fl_cache_push_opts *opts, fl_cache_push_result *res, fl_error *err);
/* The same to the cache at url (file:///DIR; other schemes: see fl_remote_cache_push). */
int fl_cache_push(fl_store *s, const char *url, char *const *paths, size_t npaths,
                  const fl_cache_push_opts *opts, fl_cache_push_result *res, fl_error *err);
/* Checks the StoreDir of a nix-cache-info text against store_dir (url names the cache). */
int fl_cache_info_check(const char *info, const char *url, const char *store_dir, fl_error *err);

/* ---- host pointers (pointer.c): hosts/<H> in a cache, for pull mode (docs/pull.md) ---- */

/* "Host H runs StorePath": Counter only grows (a later push has a larger one), Rev is the
 * flake's revision when known; Sig as a narinfo's, over fl_host_pointer_fingerprint. */
typedef struct fl_host_pointer {
    char *host;
    char *store_path;
    uint64_t counter;
    char *rev; /* 40 hex digits, or NULL */
    char **sigs;
    size_t nsigs;
} fl_host_pointer;

/* 1 when h is usable as a host's name in a cache (hosts/<h>) and on a command line. */
int fl_host_name_valid(const char *h);
/* Parses a pointer of a cache for store_dir (where names it in errors). *out owned. */
int fl_host_pointer_parse(const char *text, size_t len, const char *store_dir, const char *where,
                          fl_host_pointer **out, fl_error *err);
char *fl_host_pointer_format(const fl_host_pointer *p);
/* "flakectl-host-pointer-1;<host>;<store path>;<counter>;<rev or empty>" (owned). */
char *fl_host_pointer_fingerprint(const fl_host_pointer *p);
int fl_host_pointer_trusted(const fl_host_pointer *p, const fl_cache_public_key *keys,
                            size_t nkeys);
void fl_host_pointer_free(fl_host_pointer *p);
/* Reads url's hosts/<host> (one request over HTTP) and accepts it only when it parses, names
 * host and a path of store_dir, and carries a valid signature by one of keys; otherwise an
 * error naming the pointer's URL. FL_ENOTFOUND when the cache has no pointer for host. */
int fl_host_pointer_fetch(const char *url, const char *host, const char *store_dir,
                          const fl_cache_public_key *keys, size_t nkeys, fl_host_pointer **out,
                          fl_error *err);
/* Writes hosts/<host> through w naming toplevel (rev may be NULL), signed with key, with a
 * counter above the pointer it replaces (*counter receives it; may be NULL). Call after the
 * closure is in the cache: the pointer must never name what is not there yet. */
struct fl_cache_writer;
int fl_cache_write_host_pointer(const struct fl_cache_writer *w, const char *store_dir,
                                const char *host, const char *toplevel, const char *rev,
                                const fl_cache_secret_key *key, uint64_t *counter, fl_error *err);

/* ---- verify (verify.c) ------------------------------------------------------------------ */

typedef struct fl_cache_verify_result {
    size_t checked, bad;
} fl_cache_verify_result;
/* Checks every .narinfo of the cache (file://) or those of paths (any cache): parses, the
 * NAR is there with its FileSize/FileHash, decompresses to NarSize/NarHash, every reference
 * has its .narinfo, and, when keys are given, a signature by one of them. A line per
 * problem goes to report. */
int fl_cache_verify(const char *url, const char *store_dir, char *const *paths, size_t npaths,
                    const fl_cache_public_key *keys, size_t nkeys, FILE *report,
                    fl_cache_verify_result *res, fl_error *err);

/* ---- substitution (substitute.c) -------------------------------------------------------- */

typedef struct fl_substituter fl_substituter;

/* Substituters from URLs (file://, http://, https://) and trusted keys ("name:base64"); each
 * urls[i]/keys[i] may hold several, separated by white space. log gets the progress and
 * warnings (NULL = silent). *out is owned (fl_substituter_free). */
int fl_substituter_new(const char *const *urls, size_t nurls, const char *const *keys, size_t nkeys,
                       FILE *log, fl_substituter **out, fl_error *err);
void fl_substituter_free(fl_substituter *sub);
size_t fl_substituter_count(const fl_substituter *sub);

/* Makes path valid in s from the first cache that has it with a trusted signature, its
 * references first. 1 = valid now, 0 = no cache has it. An entry that is unsigned, signed by
 * no trusted key, or whose NAR does not match its hash is an error naming the path and the
 * cache (when no other cache has the path); nothing half-downloaded is ever registered. */
int fl_substituter_realise(fl_substituter *sub, fl_store *s, const char *path, fl_error *err);

/* Makes valid what the caches have of paths[0..n) (a closure, references first) and leaves
 * the rest: it tries the paths from the last to the first, so that one plan fetches a whole
 * sub-closure at once. A path no cache has stays invalid; an entry that is refused (the
 * same checks as fl_substituter_realise) is a warning in the log and stays invalid too.
 * valid[i] is 1 for each path valid afterwards, else 0. Never fails: whatever is not
 * substituted is left to the caller's other means (a build, a copy). */
void fl_substituter_realise_available(fl_substituter *sub, fl_store *s, char *const *paths,
                                      size_t n, unsigned char *valid);

/* Lets builds in s substitute (fl_store_set_substituter): an output a cache has is fetched,
 * not built; a refused entry is a warning and the output is built. sub must outlive s's use. */
void fl_substituter_attach(fl_substituter *sub, fl_store *s);

#endif
