/* addnar.c - adding one path from a NAR whose metadata comes from elsewhere (a binary
 * cache's .narinfo): restore into a temporary directory, check the NAR hash and size, check
 * the references are valid, then commit. A batch of paths (a substitution) is staged first and
 * committed together after one sync. Never registers anything it has not checked, and never
 * trusts the metadata beyond what it can check (signatures are the caller's). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/strbuf.h"
#include "store/store_int.h"

typedef struct hashing_source {
    fl_nar_read_fn source;
    void *ctx;
    fl_sha256 sha;
    uint64_t size;
} hashing_source;

static int hashing_read(void *p, void *buf, size_t len, fl_error *err) {
    hashing_source *h = p;
    int rc = h->source(h->ctx, buf, len, err);
    if (!rc) {
        fl_sha256_update(&h->sha, buf, len);
        h->size += len;
    }
    return rc;
}

/* What a path's metadata must be before its NAR is even read: store paths of this store. */
static int check_names(fl_store *s, const fl_store_path_info *info, fl_error *err) {
    if (!fl_store_is_store_path(s, info->path))
        return fl_error_set(err, FL_EPARSE, "'%s' is not a path of the store %s", info->path,
                            fl_store_dir(s));
    for (size_t i = 0; i < info->nrefs; i++)
        if (strcmp(info->refs[i], info->path) && !fl_store_is_store_path(s, info->refs[i]))
            return fl_error_set(err, FL_EPARSE, "%s: the reference '%s' is not a store path",
                                info->path, info->refs[i]);
    if (info->deriver && !fl_store_is_store_path(s, info->deriver))
        return fl_error_set(err, FL_EPARSE, "%s: the deriver '%s' is not a store path", info->path,
                            info->deriver);
    return FL_OK;
}

/* What must hold when the path is registered: every reference (but itself) valid. */
static int check_refs(fl_store *s, const fl_store_path_info *info, fl_error *err) {
    for (size_t i = 0; i < info->nrefs; i++)
        if (strcmp(info->refs[i], info->path) && !fl_store_is_valid(s, info->refs[i]))
            return fl_error_set(err, FL_ENOTFOUND,
                                "cannot add %s: its reference %s is not valid here", info->path,
                                info->refs[i]);
    return FL_OK;
}

struct fl_store_staged {
    /* the restored path under a temporary name in the store directory itself (not in a
     * directory of its own: removing that directory again would cost a synchronous discard
     * on a file system mounted with `discard`); NULL: nothing staged (valid already) */
    char *tmp;
    fl_store_path_info info;
};

/* A fresh "<store>/.tmp-<hash part>-<pid>-<random>": the sweep of an interrupted writer
 * removes ".tmp-" names, and nothing else in the store starts with a dot. */
static char *stage_name(fl_store *s, const char *path) {
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint32_t)rand();
    const char *hp = fl_store_hash_part(s, path);
    return fl_xasprintf("%s/.tmp-%.*s-%ld-%08x", fl_store_dir(s), FL_STORE_HASH_LEN,
                        hp ? hp : "x", (long)getpid(), (unsigned)r);
}

static void staged_release(fl_store_staged *st) {
    if (st->tmp) {
        fl_error e = FL_ERROR_INIT;
        fl_remove_tree(st->tmp, &e);
        fl_error_clear(&e);
        free(st->tmp);
        st->tmp = NULL;
    }
}

void fl_store_staged_free(fl_store_staged *st) {
    if (!st)
        return;
    staged_release(st);
    free(st->info.path);
    fl_store_free_paths(st->info.refs, st->info.nrefs);
    free(st->info.deriver);
    free(st);
}

int fl_store_stage_nar(fl_store *s, const fl_store_path_info *info, fl_nar_read_fn source,
                       void *ctx, fl_store_staged **out, fl_error *err) {
    *out = NULL;
    int rc = check_names(s, info, err);
    if (rc)
        return rc;
    fl_store_staged *st = fl_xcalloc(1, sizeof *st);
    st->info.path = fl_xstrdup(info->path);
    memcpy(st->info.nar_hash, info->nar_hash, sizeof st->info.nar_hash);
    st->info.nar_size = info->nar_size;
    st->info.refs = fl_xcalloc(info->nrefs + 1, sizeof *st->info.refs);
    for (size_t i = 0; i < info->nrefs; i++)
        st->info.refs[i] = fl_xstrdup(info->refs[i]);
    st->info.nrefs = info->nrefs;
    st->info.deriver = info->deriver ? fl_xstrdup(info->deriver) : NULL;
    if (fl_store_is_valid(s, info->path)) {
        *out = st;
        return FL_OK;
    }
    st->tmp = stage_name(s, info->path);
    hashing_source hs = {source, ctx, {0}, 0};
    fl_sha256_init(&hs.sha);
    rc = fl_nar_restore(hashing_read, &hs, st->tmp, err);
    unsigned char got[FL_SHA256_LEN];
    fl_sha256_final(&hs.sha, got);
    if (!rc && (memcmp(got, info->nar_hash, sizeof got) || hs.size != info->nar_size)) {
        char *g = fl_hash_format(got), *w = fl_hash_format(info->nar_hash);
        rc = fl_error_set(err, FL_ECRYPTO,
                          "hash mismatch for %s: expected %s (%llu bytes), the NAR is %s (%llu "
                          "bytes)",
                          info->path, w, (unsigned long long)info->nar_size, g,
                          (unsigned long long)hs.size);
        free(g);
        free(w);
    }
    if (rc) {
        fl_store_staged_free(st);
        return rc;
    }
    *out = st;
    return FL_OK;
}

/* Paths committed per round at most: each holds its lock until its registration is durable,
 * so a round takes a descriptor per path; it is also bounded by the descriptors this process
 * may open (round_size). */
#define COMMIT_CHUNK 4096

/* How many paths a round may commit: what the descriptor limit leaves after a margin for
 * everything else open (other threads' downloads, the store's own), at least 16. */
static size_t round_size(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 256;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > COMMIT_CHUNK + 128)
        return COMMIT_CHUNK;
    return rl.rlim_cur > 128 + 16 ? (size_t)rl.rlim_cur - 128 : 16;
}

/* Is ref valid, or one of the n paths moved in earlier in this round? */
static int ref_ready(fl_store *s, const char *ref, fl_store_staged *const *moved, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(moved[i]->info.path, ref))
            return 1;
    return fl_store_is_valid(s, ref);
}

/* Moves the staged paths v[0..n) in and registers them: every one is renamed to its final
 * name (unregistered yet: a crash leaves it for the sweep), one sync makes the data and the
 * renames durable, then the registry entries are written and synced together. A failure
 * stops at that path; the ones before it are registered. */
static int commit_round(fl_store *s, fl_store_staged *const *v, size_t n, fl_error *err) {
    int *locks = fl_xcalloc(n + 1, sizeof *locks);
    fl_store_staged **moved = fl_xcalloc(n + 1, sizeof *moved);
    size_t nlocks = 0, nmoved = 0;
    int rc = FL_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        fl_store_staged *st = v[i];
        if (!st->tmp)
            continue;
        for (size_t r = 0; r < st->info.nrefs && !rc; r++)
            if (strcmp(st->info.refs[r], st->info.path) &&
                !ref_ready(s, st->info.refs[r], moved, nmoved))
                rc = fl_error_set(err, FL_ENOTFOUND,
                                  "cannot add %s: its reference %s is not valid here",
                                  st->info.path, st->info.refs[r]);
        int lock = -1;
        if (!rc)
            rc = fl_store_lock_path(s, st->info.path, &lock, err);
        if (rc)
            break;
        locks[nlocks++] = lock;
        if (fl_store_is_valid(s, st->info.path)) { /* another process was faster */
            staged_release(st);
            continue;
        }
        /* Unregistered (checked under the path lock): a crash leftover. */
        if (fl_path_exists(st->info.path))
            rc = fl_remove_tree(st->info.path, err);
        if (!rc)
            rc = fl_atomic_rename_ex(st->tmp, st->info.path, FL_ATOMIC_NO_SYNC, err);
        if (!rc) {
            free(st->tmp); /* moved: nothing left to remove */
            st->tmp = NULL;
            moved[nmoved++] = st;
        }
    }
    /* data and names durable before any of them is registered */
    int src = nmoved ? fl_store_sync_fs(fl_store_dir(s), rc ? NULL : err) : FL_OK;
    size_t registered = 0;
    if (!src) {
        for (; registered < nmoved; registered++) {
            fl_store_staged *st = moved[registered];
            st->info.registration_time = fl_store_now();
            int wrc = fl_registry_write_ex(s, &st->info, FL_ATOMIC_NO_SYNC, rc ? NULL : err);
            if (wrc) {
                rc = rc ? rc : wrc;
                break;
            }
        }
    }
    if (registered && !src) {
        int yrc = fl_store_sync_fs(fl_store_db_dir(s), rc ? NULL : err);
        rc = rc ? rc : yrc;
    }
    rc = rc ? rc : src;
    /* moved in but not registered: gone again (the sweep would remove them anyway) */
    for (size_t i = src ? 0 : registered; i < nmoved; i++) {
        fl_error e = FL_ERROR_INIT;
        fl_remove_tree(moved[i]->info.path, &e);
        fl_error_clear(&e);
    }
    for (size_t i = 0; i < nlocks; i++)
        fl_store_unlock_path(locks[i]);
    for (size_t i = 0; i < n; i++)
        staged_release(v[i]);
    free(locks);
    free(moved);
    return rc;
}

int fl_store_commit_staged(fl_store *s, fl_store_staged *const *v, size_t n, fl_error *err) {
    /* A syncfs flushes every dirty page of the file system and an fsync each waits for a
     * journal commit: per path, either costs more than a small path's download. So a round
     * of paths (all of them, up to what the descriptor limit allows) costs two syncs in all. */
    int rc = FL_OK;
    size_t chunk = round_size();
    for (size_t i = 0; i < n && !rc; i += chunk)
        rc = commit_round(s, v + i, n - i < chunk ? n - i : chunk, err);
    return rc;
}

int fl_store_add_nar(fl_store *s, const fl_store_path_info *info, fl_nar_read_fn source, void *ctx,
                     fl_error *err) {
    if (fl_store_is_valid(s, info->path))
        return FL_OK;
    int rc = check_names(s, info, err);
    if (!rc)
        rc = check_refs(s, info, err);
    fl_store_staged *st = NULL;
    if (!rc)
        rc = fl_store_stage_nar(s, info, source, ctx, &st, err);
    if (!rc)
        rc = fl_store_commit_staged(s, &st, 1, err);
    fl_store_staged_free(st);
    return rc;
}
