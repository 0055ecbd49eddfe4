/* store.h - the content-addressed store: hashing (SHA-256, Nix base32), NAR serialization,
 * store paths, the registry of valid paths, derivation builds, export/import and GC.
 * See docs/store.md for the on-disk layout and the exact formats. */
#ifndef FLAKECTL_STORE_H
#define FLAKECTL_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "flakectl/error.h"
#include "flakectl/progress.h"

/* ---- hashing ---------------------------------------------------------------------------- */

#define FL_SHA256_LEN 32
#define FL_SHA256_BASE32_LEN 52 /* Nix base32 of 32 bytes */
#define FL_STORE_HASH_LEN 32    /* base32 chars of the 20-byte hash part of a store path */

/* Streaming SHA-256 over OpenSSL's EVP. init allocates, final frees. */
typedef struct fl_sha256 {
    void *ctx;
} fl_sha256;
void fl_sha256_init(fl_sha256 *h);
void fl_sha256_update(fl_sha256 *h, const void *data, size_t len);
void fl_sha256_final(fl_sha256 *h, unsigned char out[FL_SHA256_LEN]);
/* dst (uninitialized) becomes a copy of src's state: the hash of a prefix, src going on. */
void fl_sha256_copy(fl_sha256 *dst, const fl_sha256 *src);
void fl_sha256_buf(const void *data, size_t len, unsigned char out[FL_SHA256_LEN]);

/* Nix's base32 ("0123456789abcdfghijklmnpqrsvwxyz", least significant bits last). */
size_t fl_base32_len(size_t nbytes);
/* Writes fl_base32_len(n) chars and a NUL to out. */
void fl_base32_encode(const unsigned char *in, size_t n, char *out);
/* Decodes exactly slen chars into n bytes; -1 on a bad character or overflow. */
int fl_base32_decode(const char *s, size_t slen, unsigned char *out, size_t n);
int fl_base32_valid_char(char c);
/* Lower-case hex: writes 2n chars and a NUL. */
void fl_hex_encode(const unsigned char *in, size_t n, char *out);
/* Nix's compressHash: XOR-folds in[n] into out[outlen]. */
void fl_hash_compress(const unsigned char *in, size_t n, unsigned char *out, size_t outlen);
/* "sha256:<base32>" (owned). */
char *fl_hash_format(const unsigned char h[FL_SHA256_LEN]);
/* SRI form "sha256-<base64>", as flake.lock's narHash (owned). */
char *fl_hash_format_sri(const unsigned char h[FL_SHA256_LEN]);
/* Parses "sha256:<base32>", "sha256:<hex>" or "sha256-<base64>"; 0 or -1. */
int fl_hash_parse(const char *s, unsigned char h[FL_SHA256_LEN]);
/* A SHA-256 hash in any form Nix 2.8 reads (Hash::parseAny, or Hash::parseAnyPrefixed when
 * prefixed is set): an optional "sha256:" or SRI "sha256-" prefix, then base-16, Nix base-32
 * or base-64 chosen by the length. 0, or FL_EPARSE with Nix's own message in err ("hash 'x' has
 * wrong length for hash type 'sha256'", "invalid character in Base64 string: '!'", ...). */
int fl_hash_parse_nix(const char *s, int prefixed, unsigned char h[FL_SHA256_LEN], fl_error *err);
/* A derivation's outputHash as Nix reads it: with algo "sha256" any form above, without an
 * algo ("" or NULL) only a prefixed one. 0, or -1 when the form is unknown or the algorithm
 * is not sha256. */
int fl_hash_parse_output(const char *hash, const char *algo, unsigned char h[FL_SHA256_LEN]);

/* ---- NAR -------------------------------------------------------------------------------- */

/* A byte sink: returns 0 or a negative FL_E code with err filled. */
typedef int (*fl_nar_write_fn)(void *ctx, const void *data, size_t len, fl_error *err);
/* A byte source: reads exactly len bytes (a short read is an error). */
typedef int (*fl_nar_read_fn)(void *ctx, void *buf, size_t len, fl_error *err);

/* Serializes the file, symlink or directory at path (never following a top-level symlink)
 * to sink, streaming (file contents are never loaded whole). When mirror is not NULL, the
 * tree is also copied there, normalized (read-only, mtime 1, no setuid/setgid); mirror must
 * not exist. */
int fl_nar_dump(const char *path, fl_nar_write_fn sink, void *ctx, const char *mirror,
                fl_error *err);
/* NAR hash and size of a path (equals `nix-hash --type sha256`). */
int fl_nar_hash_path(const char *path, unsigned char hash[FL_SHA256_LEN], uint64_t *size,
                     fl_error *err);
/* Dumps path as a NAR to fd. */
int fl_nar_dump_fd(const char *path, int fd, fl_error *err);
/* Reads one NAR from source and recreates it at dest (which must not exist), normalized.
 * Strict: rejects bad padding, unsorted or duplicate entries and names with '/', "." or "..".
 * On error, whatever was created is left for the caller to remove. */
int fl_nar_restore(fl_nar_read_fn source, void *ctx, const char *dest, fl_error *err);

/* ---- store paths ------------------------------------------------------------------------ */

/* Nix's name rules: 1..211 chars of [A-Za-z0-9+-._?=], not starting with '.'. */
int fl_store_check_name(const char *name, fl_error *err);
/* makeStorePath:
 * "<store_dir>/<base32(compress(sha256("<type>:sha256:<hex>:<store_dir>:<name>")))>-<name>".
 * Returns an owned string. */
char *fl_store_make_path(const char *store_dir, const char *type,
                         const unsigned char hash[FL_SHA256_LEN], const char *name);
/* The path of a NAR-hashed source (Nix's makeFixedOutputPath, recursive sha256, no refs). */
char *fl_store_make_source_path(const char *store_dir, const unsigned char nar_hash[32],
                                const char *name);
/* Nix's makeFixedOutputPath: recursive = the NAR hash (same as make_source_path), flat = the
 * SHA-256 of a single file's contents (builtins.path { recursive = false; }, fetchurl). */
char *fl_store_make_fixed_path(const char *store_dir, int recursive,
                               const unsigned char hash[FL_SHA256_LEN], const char *name);
/* The path of a text (Nix's makeTextPath): hash = sha256 of the text, type "text:<refs...>". */
char *fl_store_make_text_path(const char *store_dir, const unsigned char text_hash[32],
                              const char *name, char *const *refs, size_t nrefs);

/* ---- the store -------------------------------------------------------------------------- */

typedef struct fl_store fl_store;

/* What the registry knows about a valid path. Freed by fl_store_path_info_free. */
typedef struct fl_store_path_info {
    char *path;
    unsigned char nar_hash[FL_SHA256_LEN];
    uint64_t nar_size;
    char **refs; /* full store paths, sorted */
    size_t nrefs;
    char *deriver; /* full store path of the .drv, or NULL */
    int64_t registration_time;
} fl_store_path_info;
void fl_store_path_info_free(fl_store_path_info *info);

/* Opens (creating when missing) <state_dir>/store and <state_dir>/db and holds a shared lock
 * on <state_dir>/db/gc.lock until closed, so GC never runs under an open store. */
int fl_store_open(const char *state_dir, fl_store **out, fl_error *err);
void fl_store_close(fl_store *s);
const char *fl_store_dir(const fl_store *s);
const char *fl_store_state_dir(const fl_store *s);

/* Is path a syntactically valid store path of this store ("<dir>/<32 base32>-<name>")? */
int fl_store_is_store_path(const fl_store *s, const char *path);
/* Maps any path inside the store (or a symlink chain leading there) to its store path;
 * NULL with err filled when it does not lead into the store. Owned. */
char *fl_store_to_store_path(const fl_store *s, const char *path, fl_error *err);

/* 1 when path is registered and present, 0 otherwise. */
int fl_store_is_valid(fl_store *s, const char *path);
int fl_store_query_info(fl_store *s, const char *path, fl_store_path_info **info, fl_error *err);

/* Copies a file or directory into the store by content (NAR hash; Nix's "source" paths).
 * name NULL = the source's base name. Symlinks are copied as they are, unless
 * FL_STORE_ADD_CONTAINED is given: then absolute symlinks and relative ones leaving the
 * source are refused. *out_path is owned by the caller. */
enum { FL_STORE_ADD_CONTAINED = 1 };
int fl_store_add_path(fl_store *s, const char *src, const char *name, int flags, char **out_path,
                      fl_error *err);
/* builtins.path's filter: called for every entry below src (never src itself) with its full
 * path and Nix's type name ("regular", "directory", "symlink"); return 1 to keep it, 0 to
 * leave it (and, for a directory, everything in it) out, or a negative FL_E code with err
 * filled to abort. */
typedef int (*fl_store_filter_fn)(void *ctx, const char *path, const char *type, fl_error *err);
int fl_store_add_path_filtered(fl_store *s, const char *src, const char *name, int flags,
                               fl_store_filter_fn filter, void *filter_ctx, char **out_path,
                               fl_error *err);
/* A fetched file (recursive 0: builtins.fetchurl) or tree (1: fetchTarball, fetchGit) at the
 * fixed-output path Nix gives it under name: flat, from the file's SHA-256; recursive, from
 * its NAR's (Nix's "source" paths, as fl_store_add_path). Copied, normalized, synced and
 * registered without references; already valid, nothing is written. *out_path is owned. */
int fl_store_add_fixed(fl_store *s, const char *src, int recursive, const char *name,
                       char **out_path, fl_error *err);
/* builtins.toFile: a text file with the given references (valid store paths). */
int fl_store_add_text(fl_store *s, const char *name, const char *text, size_t len,
                      char *const *refs, size_t nrefs, char **out_path, fl_error *err);

/* The closure of paths (each must be valid), sorted so that references come before their
 * referrers. *out is an owned array of owned strings. */
int fl_store_closure(fl_store *s, char *const *paths, size_t npaths, char ***out, size_t *nout,
                     fl_error *err);
void fl_store_free_paths(char **paths, size_t n);

/* A derivation: every string is borrowed. env entries are "NAME=value". */
typedef struct fl_store_drv {
    const char *name;
    const char *builder;
    const char *const *args;
    size_t nargs;
    const char *const *env;
    size_t nenv;
    const char *const *inputs; /* store paths the build may use (must be valid) */
    size_t ninputs;
    /* The program actually executed, NULL = builder. Not part of the drv (nor its hash): a
     * build host runs its own flakectl for a drv naming the deployer's (docs/remote.md). */
    const char *run;
} fl_store_drv;

/* The output path the drv would build to, without building (owned). */
int fl_store_drv_output(fl_store *s, const fl_store_drv *drv, char **out_path, fl_error *err);
/* The same for a build plan: the inputs need only be store paths of this store (outputs
 * other planned drvs will build), not valid ones. */
int fl_store_drv_output_planned(fl_store *s, const fl_store_drv *drv, char **out_path,
                                fl_error *err);
/* Builds drv unless its output is valid already. See docs/store.md for the environment. */
int fl_store_build(fl_store *s, const fl_store_drv *drv, char **out_path, fl_error *err);

/* Writes the versioned export stream of paths (each valid; in the order given, which should
 * put references first, e.g. fl_store_closure's) to fd. */
int fl_store_export(fl_store *s, char *const *paths, size_t npaths, int fd, fl_error *err);
/* The same over any byte sink (an SSH channel, a buffer). */
int fl_store_export_to(fl_store *s, char *const *paths, size_t npaths, fl_nar_write_fn sink,
                       void *ctx, fl_error *err);
/* Reads an export stream from fd; verifies every NAR's hash and size, and registers nothing
 * unless the whole stream was read and checked. Already valid paths are skipped. The imported
 * (or already valid) paths are returned in *out (owned) when out is not NULL. */
int fl_store_import(fl_store *s, int fd, char ***out, size_t *nout, fl_error *err);
/* The same over any byte source (reads exactly the length asked for, or fails). */
int fl_store_import_from(fl_store *s, fl_nar_read_fn source, void *ctx, char ***out, size_t *nout,
                         fl_error *err);

/* ---- downloads (fetch.c) ------------------------------------------------------------- */

/* Called while a download runs: bytes received so far and the total (0 while unknown).
 * Returning non-zero aborts the download. */
typedef int (*fl_fetch_progress_fn)(void *ctx, uint64_t received, uint64_t total);
/* Downloads url (http://, https://, file://; redirects followed, never to file://) and writes
 * the body to fd at its current offset. An HTTP error status, an unreachable host, a transfer
 * stalled for a minute or a failed write is an error naming the URL. progress may be NULL.
 * The caller owns fd and decides what a partial download becomes (fixed-output builds
 * delete it). */
int fl_fetch_url_to_fd(const char *url, int fd, fl_fetch_progress_fn progress, void *ctx,
                       fl_error *err);

/* Adds path from a NAR read from source (a substitution): info names the path, its NAR hash
 * and size, references and deriver. The NAR is restored into a temporary directory and its
 * hash and size checked before anything is registered; every reference (other than the path
 * itself) must be valid already. Nothing is left behind on any error. Already valid: 0,
 * nothing read. */
int fl_store_add_nar(fl_store *s, const fl_store_path_info *info, fl_nar_read_fn source,
                     void *ctx, fl_error *err);

/* Where downloads that may be resumed after an interruption wait (binary-cache NARs):
 * <state>/tmp/partial, made (0700) when missing. Owned. Nothing in it is ever registered;
 * gc removes what was not written to for FL_STORE_PARTIAL_MAX_AGE seconds. */
#define FL_STORE_PARTIAL_DIR "partial"
#define FL_STORE_PARTIAL_MAX_AGE (24 * 3600)
char *fl_store_partial_dir(fl_store *s, fl_error *err);

/* The same in two steps, for a batch of paths (a substitution of a closure): stage restores
 * and checks each NAR into a temporary directory of the store (the references need not be
 * valid yet; several may stage at once), commit_staged syncs the file system once and then
 * registers each staged path in the order given (references first): a path is registered
 * only after its data is durable, and only when its references are valid by then. A path
 * valid already stages as nothing. fl_store_staged_free removes what was not committed. */
typedef struct fl_store_staged fl_store_staged;
int fl_store_stage_nar(fl_store *s, const fl_store_path_info *info, fl_nar_read_fn source,
                       void *ctx, fl_store_staged **out, fl_error *err);
int fl_store_commit_staged(fl_store *s, fl_store_staged *const *staged, size_t n, fl_error *err);
void fl_store_staged_free(fl_store_staged *staged);

/* Substitution: a function that tries to make path valid from elsewhere (a binary cache).
 * Returns 1 when path is valid now, 0 when it could not, or a negative code with err filled.
 * fl_store_build asks it before running a builder. */
typedef int (*fl_store_substitute_fn)(void *ctx, fl_store *s, const char *path, fl_error *err);
void fl_store_set_substituter(fl_store *s, fl_store_substitute_fn fn, void *ctx);
/* Asks the substituter, if any, for path (0 when there is none). */
int fl_store_substitute(fl_store *s, const char *path, fl_error *err);

/* What a store reports while builtin:fetchurl downloads: the URL, and FL_FETCH_START, then
 * FL_FETCH_PROGRESS (bytes so far, total or 0 while unknown) as bytes arrive, then
 * FL_FETCH_DONE on success. The store itself never prints; with no reporter set (the
 * default) downloads are silent. */
enum { FL_FETCH_START, FL_FETCH_PROGRESS, FL_FETCH_DONE };
typedef void (*fl_store_fetch_report_fn)(void *ctx, const char *url, int event, uint64_t received,
                                         uint64_t total);
void fl_store_set_fetch_report(fl_store *s, fl_store_fetch_report_fn fn, void *ctx);
/* Reports each build (fl_store_build that runs a builder) as an ITEM when it starts and an
 * ADVANCE when it succeeds; progress (borrowed) must outlive its use; NULL stops it. */
void fl_store_set_progress(fl_store *s, const fl_progress *progress);
const fl_progress *fl_store_progress(const fl_store *s);

/* Makes link (an --out-link symlink, already pointing into the store) an indirect GC root. */
int fl_store_add_indirect_root(fl_store *s, const char *link, fl_error *err);

/* A GC root that lasts as long as this process: gcroots/temp/<pid>-<start time>-<hash>.
 * gc honours it while the process runs and removes it once the process is gone. Made with
 * the store open, whose shared lock keeps gc out, so a path built under that lock stays
 * rooted from the moment it exists (switch: until the activation roots it itself). */
int fl_store_add_temp_root(fl_store *s, const char *path, fl_error *err);
/* Removes this process's temp root for path (nothing when there is none). */
void fl_store_drop_temp_root(fl_store *s, const char *path);
/* A root named by its owner: gcroots/<group>/<name> -> path (atomic). */
int fl_store_add_named_root(fl_store *s, const char *group, const char *name, const char *path,
                            fl_error *err);
/* Removes gcroots/<group>/<prefix>* (all of the group when prefix is ""). */
void fl_store_drop_named_roots(fl_store *s, const char *group, const char *prefix);

/* A deployment's pending root: gcroots/pending/<id>, a record of store paths (one a line)
 * that gc keeps, whether or not they are valid yet, so that what a deployer copies stays
 * from the moment it asks the target which paths it has (query-valid) until the
 * activation that names the id ends (docs/security.md). hold adds paths (only store
 * paths) and renews the record; gc drops a record not renewed for FL_STORE_PENDING_MAX_AGE
 * seconds unless a live process claimed it (fl_store_pending_claim). The caller holds the
 * store open (its shared lock keeps gc out). id: 1 to 64 letters, digits, '-' or '_'. */
#define FL_STORE_PENDING_MAX_AGE (60 * 60)
int fl_store_pending_id_valid(const char *id);
int fl_store_pending_hold(fl_store *s, const char *id, const char *const *paths, size_t n,
                          fl_error *err);
/* Ties the record (made or renewed here) to this process: gc keeps a record whose owner
 * lives, whatever its age, so what an activation of any length works on stays rooted; once
 * the owner is gone (it ended, or was killed) the age rule above applies again, counted from
 * the claim. *lockfd (set, -1 on error) is the caller's: keep it open while working, close
 * it after fl_store_pending_drop (exit closes it too). The caller holds the store open. */
int fl_store_pending_claim(fl_store *s, const char *id, int *lockfd, fl_error *err);
/* Removes the record and its lock file (nothing when there is none). */
void fl_store_pending_drop(fl_store *s, const char *id);

/* Consistency check. Every problem is printed to report (one line each). */
typedef struct fl_store_verify_result {
    size_t missing;  /* registered but absent */
    size_t garbage;  /* present but unregistered (crash leftovers, temp dirs) */
    size_t corrupt;  /* content hash mismatch (only with check_contents) */
    size_t dangling; /* registered with an unregistered reference */
    size_t repaired;
} fl_store_verify_result;
int fl_store_verify(fl_store *s, int check_contents, int repair, FILE *report,
                    fl_store_verify_result *res, fl_error *err);

typedef struct fl_store_gc_result {
    size_t deleted;
    uint64_t bytes;
    size_t kept_young; /* unreachable but younger than older_than */
    size_t partials;   /* stale partial downloads removed (their bytes are in bytes) */
} fl_store_gc_result;
/* Deletes every unreachable path (and leftovers) registered more than older_than seconds
 * ago (0 = any age), and the partial downloads nothing wrote to for FL_STORE_PARTIAL_MAX_AGE. root_dir is where /run/flakectl/current is looked up. Each deleted (or,
 * when dry_run, deletable) path is printed to report when it is not NULL. */
int fl_store_gc(fl_store *s, const char *root_dir, int64_t older_than, int dry_run, FILE *report,
                fl_store_gc_result *res, fl_error *err);

#endif
