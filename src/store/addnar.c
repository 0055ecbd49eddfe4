/* addnar.c - adding one path from a NAR whose metadata comes from elsewhere (a binary
 * cache's .narinfo): restore into a temporary directory, check the NAR hash and size, check
 * the references are valid, then commit. Never registers anything it has not checked, and
 * never trusts the metadata beyond what it can check (signatures are the caller's). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

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

static int check_info(fl_store *s, const fl_store_path_info *info, fl_error *err) {
    if (!fl_store_is_store_path(s, info->path))
        return fl_error_set(err, FL_EPARSE, "'%s' is not a path of the store %s", info->path,
                            fl_store_dir(s));
    for (size_t i = 0; i < info->nrefs; i++) {
        if (!strcmp(info->refs[i], info->path))
            continue;
        if (!fl_store_is_store_path(s, info->refs[i]))
            return fl_error_set(err, FL_EPARSE, "%s: the reference '%s' is not a store path",
                                info->path, info->refs[i]);
        if (!fl_store_is_valid(s, info->refs[i]))
            return fl_error_set(err, FL_ENOTFOUND,
                                "cannot add %s: its reference %s is not valid here", info->path,
                                info->refs[i]);
    }
    if (info->deriver && !fl_store_is_store_path(s, info->deriver))
        return fl_error_set(err, FL_EPARSE, "%s: the deriver '%s' is not a store path", info->path,
                            info->deriver);
    return FL_OK;
}

int fl_store_add_nar(fl_store *s, const fl_store_path_info *info, fl_nar_read_fn source, void *ctx,
                     fl_error *err) {
    if (fl_store_is_valid(s, info->path))
        return FL_OK;
    int rc = check_info(s, info, err);
    if (rc)
        return rc;
    char *tmp = fl_store_temp_dir(s, err);
    if (!tmp)
        return FL_EIO;
    char *x = fl_path_join(tmp, "x");
    hashing_source hs = {source, ctx, {0}, 0};
    fl_sha256_init(&hs.sha);
    rc = fl_nar_restore(hashing_read, &hs, x, err);
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
    if (!rc)
        rc = fl_store_sync_fs(x, err);
    int lock = -1;
    if (!rc)
        rc = fl_store_lock_path(s, info->path, &lock, err);
    if (!rc && !fl_store_is_valid(s, info->path)) {
        fl_store_path_info copy = *info;
        copy.registration_time = fl_store_now();
        rc = fl_store_commit(s, x, &copy, err);
    }
    fl_store_unlock_path(lock);
    fl_error e = FL_ERROR_INIT;
    fl_remove_tree(tmp, &e);
    fl_error_clear(&e);
    free(x);
    free(tmp);
    return rc;
}
