/* export.c - the export stream (versioned, length-prefixed NARs with their metadata) and its
 * import, which verifies every NAR before anything is registered and registers nothing
 * unless the whole stream checked out. Format: docs/store.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/strbuf.h"
#include "store/store_int.h"

#define EXPORT_MAGIC "flakectl-export-1"
#define MAX_REFS 100000

/* ---- writing ---------------------------------------------------------------------------- */

typedef struct out_stream {
    int fd;
    fl_strbuf buf;
} out_stream;

static void put_u64(fl_strbuf *b, uint64_t v) {
    for (int i = 0; i < 8; i++)
        fl_strbuf_addch(b, (char)(v >> (8 * i)));
}

static void put_str(fl_strbuf *b, const char *s) {
    size_t n = strlen(s);
    put_u64(b, n);
    fl_strbuf_add(b, s, n);
    while (b->len % 8)
        fl_strbuf_addch(b, '\0');
}

typedef struct export_sink {
    fl_nar_write_fn sink;
    void *ctx;
    fl_hash_sink h;
} export_sink;

static int export_sink_write(void *ctx, const void *data, size_t len, fl_error *err) {
    export_sink *es = ctx;
    fl_hash_sink_write(&es->h, data, len, err);
    return es->sink(es->ctx, data, len, err);
}

int fl_store_export(fl_store *s, char *const *paths, size_t npaths, int fd, fl_error *err) {
    return fl_store_export_to(s, paths, npaths, fl_fd_sink_write, &fd, err);
}

static int in_list(char *const *paths, size_t n, const char *p) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(paths[i], p))
            return 1;
    return 0;
}

int fl_store_export_to(fl_store *s, char *const *given, size_t ngiven, fl_nar_write_fn sink,
                       void *ctx, fl_error *err) {
    /* Put references before referrers among the given paths, so the stream imports in one
     * pass whatever order the caller named them in. */
    char **cl = NULL;
    size_t ncl = 0;
    int rc0 = fl_store_closure(s, given, ngiven, &cl, &ncl, err);
    if (rc0) {
        fl_error_add_frame(err, "while exporting");
        return rc0;
    }
    char **paths = fl_xcalloc(ngiven + 1, sizeof *paths);
    size_t npaths = 0;
    for (size_t i = 0; i < ncl; i++)
        if (in_list(given, ngiven, cl[i]) && !in_list(paths, npaths, cl[i]))
            paths[npaths++] = cl[i];
    fl_strbuf b;
    fl_strbuf_init(&b, 4096);
    put_str(&b, EXPORT_MAGIC);
    int rc = FL_OK;
    for (size_t i = 0; i < npaths && !rc; i++) {
        fl_store_path_info *info = NULL;
        rc = fl_store_query_info(s, paths[i], &info, err);
        if (rc)
            break;
        char *hash = fl_hash_format(info->nar_hash);
        put_u64(&b, 1);
        put_str(&b, info->path);
        put_str(&b, hash);
        put_u64(&b, info->nar_size);
        put_u64(&b, info->nrefs);
        for (size_t k = 0; k < info->nrefs; k++)
            put_str(&b, info->refs[k]);
        put_str(&b, info->deriver ? info->deriver : "");
        free(hash);
        rc = sink(ctx, b.buf, b.len, err);
        fl_strbuf_reset(&b);
        export_sink es = {sink, ctx, {{0}, 0}};
        fl_sha256_init(&es.h.sha);
        if (!rc)
            rc = fl_nar_dump(info->path, export_sink_write, &es, NULL, err);
        unsigned char h[FL_SHA256_LEN];
        fl_sha256_final(&es.h.sha, h);
        if (!rc && (memcmp(h, info->nar_hash, sizeof h) || es.h.size != info->nar_size)) {
            rc = fl_error_set(err, FL_ECONFLICT,
                              "%s was modified in the store: its contents no longer match "
                              "its registered hash",
                              info->path);
            fl_error_set_hint(err, "run 'flakectl store verify --check-contents --repair'");
        }
        fl_store_path_info_free(info);
    }
    if (!rc) {
        put_u64(&b, 0);
        rc = sink(ctx, b.buf, b.len, err);
    }
    if (rc)
        fl_error_add_frame(err, "while exporting");
    fl_strbuf_release(&b);
    free(paths);
    fl_store_free_paths(cl, ncl);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------------- */

typedef struct in_stream {
    fl_nar_read_fn source; /* when set, used instead of fd */
    void *source_ctx;
    int fd;
    unsigned char buf[65536];
    size_t pos, len;
    uint64_t offset;
    fl_sha256 *hash; /* when set, everything read goes into it */
    uint64_t hashed;
} in_stream;

static int in_read(void *ctx, void *out, size_t len, fl_error *err) {
    in_stream *in = ctx;
    unsigned char *o = out;
    if (in->source) {
        int rc = in->source(in->source_ctx, out, len, err);
        if (rc)
            return rc;
        if (in->hash) {
            fl_sha256_update(in->hash, out, len);
            in->hashed += len;
        }
        in->offset += len;
        return FL_OK;
    }
    while (len > 0) {
        if (in->pos == in->len) {
            ssize_t n = read(in->fd, in->buf, sizeof in->buf);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return fl_error_errno(err, "cannot read the import stream");
            }
            if (n == 0)
                return fl_error_set(err, FL_EPARSE,
                                    "the import stream ends early, at byte %llu (truncated?)",
                                    (unsigned long long)in->offset);
            in->pos = 0;
            in->len = (size_t)n;
        }
        size_t k = in->len - in->pos < len ? in->len - in->pos : len;
        memcpy(o, in->buf + in->pos, k);
        if (in->hash) {
            fl_sha256_update(in->hash, o, k);
            in->hashed += k;
        }
        in->pos += k;
        in->offset += k;
        o += k;
        len -= k;
    }
    return FL_OK;
}

static int get_u64(in_stream *in, uint64_t *v, fl_error *err) {
    unsigned char b[8];
    int rc = in_read(in, b, 8, err);
    if (rc)
        return rc;
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)b[i] << (8 * i);
    return FL_OK;
}

static int get_str(in_stream *in, size_t max, char **out, fl_error *err) {
    uint64_t n;
    int rc = get_u64(in, &n, err);
    if (rc)
        return rc;
    if (n > max)
        return fl_error_set(err, FL_EPARSE, "bad import stream: a %llu-byte string at byte %llu",
                            (unsigned long long)n, (unsigned long long)in->offset);
    size_t padded = (size_t)((n + 7) & ~(uint64_t)7);
    char *s = fl_xmalloc(padded + 1);
    rc = in_read(in, s, padded, err);
    if (rc) {
        free(s);
        return rc;
    }
    s[n] = '\0';
    if (memchr(s, '\0', (size_t)n)) {
        free(s);
        return fl_error_set(err, FL_EPARSE, "bad import stream: NUL in a string");
    }
    *out = s;
    return FL_OK;
}

typedef struct pending {
    fl_store_path_info info;
    char *tmp; /* temp dir holding "x" */
    int skip;  /* already valid */
} pending;

static void pending_release(pending *p) {
    free(p->info.path);
    fl_store_free_paths(p->info.refs, p->info.nrefs);
    free(p->info.deriver);
    if (p->tmp) {
        fl_error e = FL_ERROR_INIT;
        fl_remove_tree(p->tmp, &e);
        fl_error_clear(&e);
        free(p->tmp);
    }
}

static int not_ours(fl_store *s, const char *what, const char *p, fl_error *err) {
    int rc =
        fl_error_set(err, FL_EPARSE, "bad import stream: %s '%s' is not a path of the store %s",
                     what, p, fl_store_dir(s));
    fl_error_set_hint(err, "stores only exchange paths when they have the same store directory "
                           "(the same --state-dir)");
    return rc;
}

static int read_record(fl_store *s, in_stream *in, pending *p, fl_error *err) {
    char *hash = NULL;
    int rc = get_str(in, 4096, &p->info.path, err);
    if (!rc && !fl_store_is_store_path(s, p->info.path))
        rc = not_ours(s, "path", p->info.path, err);
    if (!rc)
        rc = get_str(in, 128, &hash, err);
    if (!rc && fl_hash_parse(hash, p->info.nar_hash) < 0)
        rc = fl_error_set(err, FL_EPARSE, "bad import stream: bad hash '%s' for %s", hash,
                          p->info.path);
    free(hash);
    uint64_t nrefs = 0;
    if (!rc)
        rc = get_u64(in, &p->info.nar_size, err);
    if (!rc)
        rc = get_u64(in, &nrefs, err);
    if (!rc && nrefs > MAX_REFS)
        rc = fl_error_set(err, FL_EPARSE, "bad import stream: %llu references",
                          (unsigned long long)nrefs);
    if (!rc)
        p->info.refs = fl_xcalloc((size_t)nrefs + 1, sizeof *p->info.refs);
    for (uint64_t i = 0; i < nrefs && !rc; i++) {
        rc = get_str(in, 4096, &p->info.refs[i], err);
        if (!rc) {
            p->info.nrefs++;
            if (!fl_store_is_store_path(s, p->info.refs[i]))
                rc = not_ours(s, "reference", p->info.refs[i], err);
        }
    }
    char *deriver = NULL;
    if (!rc)
        rc = get_str(in, 4096, &deriver, err);
    if (!rc && *deriver) {
        if (!fl_store_is_store_path(s, deriver))
            rc = not_ours(s, "deriver", deriver, err);
        p->info.deriver = deriver;
        deriver = NULL;
    }
    free(deriver);
    if (rc)
        return rc;
    p->skip = fl_store_is_valid(s, p->info.path);
    p->tmp = fl_store_temp_dir(s, err);
    if (!p->tmp)
        return FL_EIO;
    char *dest = fl_path_join(p->tmp, "x");
    fl_sha256 sha;
    fl_sha256_init(&sha);
    in->hash = &sha;
    in->hashed = 0;
    rc = fl_nar_restore(in_read, in, dest, err);
    in->hash = NULL;
    unsigned char h[FL_SHA256_LEN];
    fl_sha256_final(&sha, h);
    free(dest);
    if (!rc && (memcmp(h, p->info.nar_hash, sizeof h) || in->hashed != p->info.nar_size)) {
        char *got = fl_hash_format(h), *want = fl_hash_format(p->info.nar_hash);
        rc = fl_error_set(err, FL_ECRYPTO,
                          "hash mismatch importing %s: the stream claims %s (%llu bytes), the "
                          "contents are %s (%llu bytes)",
                          p->info.path, want, (unsigned long long)p->info.nar_size, got,
                          (unsigned long long)in->hashed);
        free(got);
        free(want);
    }
    if (rc)
        fl_error_add_frame(err, "while importing %s", p->info.path);
    return rc;
}

static int is_known(fl_store *s, pending *ps, size_t n, const char *ref) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ps[i].info.path, ref))
            return 1;
    return fl_store_is_valid(s, ref);
}

static int import_stream(fl_store *s, in_stream *in, char ***out, size_t *nout, fl_error *err);

int fl_store_import(fl_store *s, int fd, char ***out, size_t *nout, fl_error *err) {
    in_stream *in = fl_xcalloc(1, sizeof *in);
    in->fd = fd;
    int rc = import_stream(s, in, out, nout, err);
    free(in);
    return rc;
}

int fl_store_import_from(fl_store *s, fl_nar_read_fn source, void *ctx, char ***out, size_t *nout,
                         fl_error *err) {
    in_stream *in = fl_xcalloc(1, sizeof *in);
    in->source = source;
    in->source_ctx = ctx;
    int rc = import_stream(s, in, out, nout, err);
    free(in);
    return rc;
}

static int import_stream(fl_store *s, in_stream *in, char ***out, size_t *nout, fl_error *err) {
    pending *ps = NULL;
    size_t n = 0;
    char *magic = NULL;
    uint64_t mlen = 0;
    int rc = get_u64(in, &mlen, err);
    if (!rc && mlen != strlen(EXPORT_MAGIC))
        rc = fl_error_set(err, FL_EPARSE, "not a flakectl export stream (bad header)");
    if (!rc) {
        magic = fl_xmalloc(24 + 1);
        rc = in_read(in, magic, 24, err);
        if (!rc)
            magic[mlen] = '\0';
    }
    if (!rc && strcmp(magic, EXPORT_MAGIC) != 0)
        rc = fl_error_set(err, FL_EPARSE,
                          "not a flakectl export stream, or an unsupported version ('%s')", magic);
    free(magic);
    for (;;) {
        uint64_t more = 0;
        if (!rc)
            rc = get_u64(in, &more, err);
        if (rc || more == 0)
            break;
        if (more != 1) {
            rc = fl_error_set(err, FL_EPARSE, "bad import stream: bad record marker at byte %llu",
                              (unsigned long long)in->offset);
            break;
        }
        ps = fl_xrealloc(ps, (n + 1) * sizeof *ps);
        memset(&ps[n], 0, sizeof ps[n]);
        n++;
        rc = read_record(s, in, &ps[n - 1], err);
    }
    /* Every reference must be valid already or come earlier in the stream. */
    for (size_t i = 0; i < n && !rc; i++)
        for (size_t k = 0; k < ps[i].info.nrefs && !rc; k++)
            if (strcmp(ps[i].info.refs[k], ps[i].info.path) &&
                !is_known(s, ps, i, ps[i].info.refs[k]))
                rc = fl_error_set(err, FL_ENOTFOUND,
                                  "cannot import %s: its reference %s is neither valid here nor "
                                  "earlier in the stream",
                                  ps[i].info.path, ps[i].info.refs[k]);
    if (!rc && n > 0)
        rc = fl_store_sync_fs(fl_store_dir(s), err);
    for (size_t i = 0; i < n && !rc; i++) {
        if (ps[i].skip)
            continue;
        int lock = -1;
        rc = fl_store_lock_path(s, ps[i].info.path, &lock, err);
        if (!rc && !fl_store_is_valid(s, ps[i].info.path)) {
            char *x = fl_path_join(ps[i].tmp, "x");
            ps[i].info.registration_time = fl_store_now();
            rc = fl_store_commit(s, x, &ps[i].info, err);
            free(x);
        }
        fl_store_unlock_path(lock);
    }
    if (!rc && out) {
        *out = fl_xcalloc(n + 1, sizeof **out);
        for (size_t i = 0; i < n; i++)
            (*out)[i] = fl_xstrdup(ps[i].info.path);
        *nout = n;
    }
    for (size_t i = 0; i < n; i++)
        pending_release(&ps[i]);
    free(ps);
    return rc;
}
