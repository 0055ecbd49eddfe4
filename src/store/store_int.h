/* store_int.h - what the files of src/store share and nobody else needs. */
#ifndef FLAKECTL_STORE_INT_H
#define FLAKECTL_STORE_INT_H

#include "flakectl/store.h"

/* fl_nar_dump with flags: FL_STORE_ADD_CONTAINED refuses symlinks leaving the tree. */
int fl_nar_dump_ex(const char *path, fl_nar_write_fn sink, void *ctx, const char *mirror, int flags,
                   fl_store_filter_fn filter, void *filter_ctx, fl_error *err);

/* Sinks. */
typedef struct fl_hash_sink {
    fl_sha256 sha;
    uint64_t size;
} fl_hash_sink;
int fl_hash_sink_write(void *ctx, const void *data, size_t len, fl_error *err);
int fl_fd_write_all(int fd, const void *data, size_t len, fl_error *err);
int fl_fd_sink_write(void *ctx, const void *data, size_t len, fl_error *err); /* ctx: int* */

/* Normalizes a tree in place as the store requires (read-only, mtime 1, no setuid/setgid,
 * root-owned when running as root) and rejects special files. */
int fl_store_normalize_tree(const char *path, fl_error *err);
/* Flushes the file system holding path to disk. */
int fl_store_sync_fs(const char *path, fl_error *err);

/* Registry (registry.c). Entries live in <state>/db/<hashpart>.json. */
int fl_registry_read(fl_store *s, const char *path, fl_store_path_info **info, fl_error *err);
int fl_registry_write(fl_store *s, const fl_store_path_info *info, fl_error *err);
/* The same with fl_atomic_write_file_ex's flags (FL_ATOMIC_NO_SYNC: the caller syncs a
 * batch of entries at once). */
int fl_registry_write_ex(fl_store *s, const fl_store_path_info *info, int flags, fl_error *err);
int fl_registry_remove(fl_store *s, const char *path, fl_error *err);
/* All registered paths (owned array, sorted). */
int fl_registry_list(fl_store *s, char ***paths, size_t *n, fl_error *err);

/* store.c internals. */
const char *fl_store_db_dir(const fl_store *s);
/* Per-path lock (flock on <db>/locks/<hashpart>.lock); returns an fd to pass to unlock. */
int fl_store_lock_path(fl_store *s, const char *path, int *fd, fl_error *err);
void fl_store_unlock_path(int fd);
/* Takes the store-wide lock exclusively (GC, verify) / back to shared. */
int fl_store_lock_exclusive(fl_store *s, fl_error *err);
void fl_store_lock_shared(fl_store *s);
/* A fresh temp dir inside the store dir (".tmp-XXXXXX"); owned path. */
char *fl_store_temp_dir(fl_store *s, fl_error *err);
/* Moves tmp (a complete, normalized, synced tree) to path and registers info. Removes a
 * leftover unregistered path first. */
int fl_store_commit(fl_store *s, const char *tmp, const fl_store_path_info *info, fl_error *err);
/* The reporter fl_store_set_fetch_report installed (fn NULL when none). */
void fl_store_fetch_reporter(const fl_store *s, fl_store_fetch_report_fn *fn, void **ctx);
/* The 32-char hash part of a store path's base name, or NULL. */
const char *fl_store_hash_part(const fl_store *s, const char *path);

/* Reference scanning over a byte stream for the hash parts of candidate paths. */
typedef struct fl_ref_cand {
    char hash[FL_STORE_HASH_LEN + 1];
    char *path; /* owned */
} fl_ref_cand;
typedef struct fl_ref_scanner {
    fl_ref_cand *cands; /* sorted by hash */
    size_t n;
    unsigned char *found; /* n flags */
    char tail[FL_STORE_HASH_LEN];
    size_t tail_len;
} fl_ref_scanner;
void fl_ref_scanner_init(fl_ref_scanner *sc, const fl_store *s, char *const *paths, size_t n);
void fl_ref_scanner_feed(fl_ref_scanner *sc, const unsigned char *data, size_t len);
void fl_ref_scanner_release(fl_ref_scanner *sc);

int64_t fl_store_now(void);
/* SHA-256 of a regular file's contents (a flat fixed output), refusing anything else
 * (build.c). */
int fl_store_hash_flat(const char *path, unsigned char h[FL_SHA256_LEN], fl_error *err);

#endif
