/* push.c - writing a closure into a file:// binary cache as Nix lays one out: nix-cache-info,
 * nar/<filehash>.nar.<ext> and <hashpart>.narinfo (signed). Crash-safe by order: a NAR is
 * written under a temporary name, synced and renamed into place, and only then is its
 * .narinfo written (atomically); references are pushed before their referrers. So a reader
 * never finds a .narinfo whose NAR or references are missing. Never reads a cache's NARs. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache_int.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

typedef struct file_sink {
    int fd;
    fl_sha256 sha;
    uint64_t size;
} file_sink;

static int file_sink_write(void *p, const void *data, size_t len, fl_error *err) {
    file_sink *f = p;
    fl_sha256_update(&f->sha, data, len);
    f->size += len;
    const char *b = data;
    while (len) {
        ssize_t n = write(f->fd, b, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fl_error_errno(err, "cannot write a NAR file");
        b += n;
        len -= (size_t)n;
    }
    return FL_OK;
}

typedef struct nar_tee {
    fl_sha256 sha;
    uint64_t size;
    fl_compressor *c;
} nar_tee;

static int nar_tee_write(void *p, const void *data, size_t len, fl_error *err) {
    nar_tee *t = p;
    fl_sha256_update(&t->sha, data, len);
    t->size += len;
    return fl_compressor_write(t->c, data, len, err);
}

static int ensure_cache_info(fl_cache_conn *conn, const char *store_dir, fl_error *err) {
    char *nar_dir = fl_path_join(conn->dir, "nar");
    int rc = fl_mkdir_p(nar_dir, 0755, err);
    free(nar_dir);
    if (rc)
        return rc;
    char *info = fl_path_join(conn->dir, "nix-cache-info");
    if (!fl_path_exists(info)) {
        char *text = fl_xasprintf("StoreDir: %s\n", store_dir);
        rc = fl_atomic_write_file(info, text, strlen(text), 0644, err);
        free(text);
    }
    free(info);
    return rc ? rc : fl_cache_check_store_dir(conn, store_dir, err);
}

/* Writes one path's NAR and then its .narinfo. */
static int push_one(fl_store *s, fl_cache_conn *conn, const fl_store_path_info *info, int comp,
                    const fl_cache_push_opts *opts, fl_cache_push_result *res, fl_error *err) {
    char *tmp = fl_xasprintf("%s/nar/.tmp-XXXXXX", conn->dir);
    file_sink fs = {mkstemp(tmp), {0}, 0};
    if (fs.fd < 0) {
        int rc = fl_error_errno(err, "cannot create a file in %s/nar", conn->dir);
        free(tmp);
        return rc;
    }
    fl_sha256_init(&fs.sha);
    nar_tee tee = {{0}, 0, fl_compressor_new(comp, file_sink_write, &fs)};
    fl_sha256_init(&tee.sha);
    int rc = fl_nar_dump(info->path, nar_tee_write, &tee, NULL, err);
    if (!rc)
        rc = fl_compressor_finish(tee.c, err);
    unsigned char nar_hash[FL_SHA256_LEN], file_hash[FL_SHA256_LEN];
    fl_sha256_final(&tee.sha, nar_hash);
    fl_sha256_final(&fs.sha, file_hash);
    fl_compressor_free(tee.c);
    /* A signature vouches for the registered hash: never sign contents that differ from it. */
    if (!rc && (memcmp(nar_hash, info->nar_hash, sizeof nar_hash) || tee.size != info->nar_size)) {
        rc = fl_error_set(err, FL_ECONFLICT,
                          "%s was modified in the store: its contents no longer match its "
                          "registered hash",
                          info->path);
        fl_error_set_hint(err, "run 'flakectl store verify --check-contents --repair'");
    }
    if (!rc && (fchmod(fs.fd, 0644) < 0 || fsync(fs.fd) < 0))
        rc = fl_error_errno(err, "cannot write %s", tmp);
    close(fs.fd);
    char fh32[FL_SHA256_BASE32_LEN + 1];
    fl_base32_encode(file_hash, sizeof file_hash, fh32);
    fl_narinfo ni;
    memset(&ni, 0, sizeof ni);
    ni.url = fl_xasprintf("nar/%s.nar%s", fh32, fl_compression_ext(comp));
    if (!rc) {
        char *dest = fl_path_join(conn->dir, ni.url);
        rc = fl_atomic_rename(tmp, dest, err);
        free(dest);
    }
    if (rc) {
        unlink(tmp);
        free(tmp);
        free(ni.url);
        return rc;
    }
    free(tmp);
    ni.store_path = info->path;
    ni.compression = (char *)(comp == FL_COMP_XZ ? "xz" : comp == FL_COMP_ZSTD ? "zstd" : "none");
    ni.has_file_hash = 1;
    memcpy(ni.file_hash, file_hash, sizeof file_hash);
    ni.file_size = fs.size;
    memcpy(ni.nar_hash, info->nar_hash, sizeof ni.nar_hash);
    ni.nar_size = info->nar_size;
    ni.refs = info->refs;
    ni.nrefs = info->nrefs;
    ni.deriver = info->deriver;
    char *sig = NULL;
    if (opts->key) {
        char *fp = fl_narinfo_fingerprint(&ni);
        sig = fl_cache_sign(opts->key, fp);
        free(fp);
        ni.sigs = &sig;
        ni.nsigs = 1;
    }
    char *text = fl_narinfo_format(&ni);
    char *name = fl_cache_narinfo_name(info->path);
    char *file = fl_path_join(conn->dir, name);
    rc = fl_atomic_write_file(file, text, strlen(text), 0644, err);
    if (!rc) {
        res->pushed++;
        res->nar_bytes += info->nar_size;
        res->file_bytes += fs.size;
        if (opts->log)
            fprintf(opts->log, "copied %s to %s (%llu bytes, %llu compressed)\n", info->path,
                    conn->url, (unsigned long long)info->nar_size, (unsigned long long)fs.size);
    }
    free(file);
    free(name);
    free(text);
    free(sig);
    free(ni.url);
    (void)s;
    return rc;
}

int fl_cache_push(fl_store *s, const char *url, char *const *paths, size_t npaths,
                  const fl_cache_push_opts *opts, fl_cache_push_result *res, fl_error *err) {
    memset(res, 0, sizeof *res);
    int comp = FL_COMP_ZSTD;
    if (opts->compression && fl_compression_parse(opts->compression, &comp) < 0) {
        int rc = fl_error_set(err, FL_EUSAGE, "unknown compression '%s'", opts->compression);
        fl_error_set_hint(err, "use zstd, xz or none");
        return rc;
    }
    fl_cache_conn conn;
    int rc = fl_cache_conn_open(url, &conn, err);
    if (rc)
        return rc;
    if (!conn.dir) {
        rc =
            fl_error_set(err, FL_EUSAGE, "cannot push to %s: only file:// caches are written", url);
        fl_error_set_hint(err, "push to a directory (file:///DIR) and serve it over HTTP with "
                               "any static file server");
        fl_cache_conn_close(&conn);
        return rc;
    }
    char **cl = NULL;
    size_t ncl = 0;
    rc = ensure_cache_info(&conn, fl_store_dir(s), err);
    if (!rc)
        rc = fl_store_closure(s, paths, npaths, &cl, &ncl, err);
    for (size_t i = 0; i < ncl && !rc; i++) {
        char *name = fl_cache_narinfo_name(cl[i]);
        char *file = fl_path_join(conn.dir, name);
        int have = fl_path_exists(file);
        free(file);
        free(name);
        if (have) {
            res->present++;
            continue;
        }
        fl_store_path_info *info = NULL;
        rc = fl_store_query_info(s, cl[i], &info, err);
        if (!rc)
            rc = push_one(s, &conn, info, comp, opts, res, err);
        fl_store_path_info_free(info);
    }
    if (rc)
        fl_error_add_frame(err, "while pushing to %s", url);
    fl_store_free_paths(cl, ncl);
    fl_cache_conn_close(&conn);
    return rc;
}
