/* compress.c - streaming xz (liblzma) and zstd (libzstd) for NAR files in a cache: a
 * compressor that pushes into a sink, a decompressor that is pulled from a file descriptor.
 * Never buffers a whole NAR. */
#include <errno.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "cache/cache_int.h"
#include "flakectl/strbuf.h"

#define BUF_SIZE (256 * 1024)

int fl_compression_parse(const char *name, int *out) {
    if (!strcmp(name, "none"))
        *out = FL_COMP_NONE;
    else if (!strcmp(name, "xz"))
        *out = FL_COMP_XZ;
    else if (!strcmp(name, "zstd"))
        *out = FL_COMP_ZSTD;
    else
        return -1;
    return 0;
}

const char *fl_compression_ext(int kind) {
    return kind == FL_COMP_XZ ? ".xz" : kind == FL_COMP_ZSTD ? ".zst" : "";
}

/* ---- compressing ------------------------------------------------------------------------ */

struct fl_compressor {
    int kind;
    fl_nar_write_fn sink;
    void *ctx;
    lzma_stream lz;
    ZSTD_CCtx *zc;
    unsigned char *out;
};

fl_compressor *fl_compressor_new(int kind, fl_nar_write_fn sink, void *ctx) {
    fl_compressor *c = fl_xcalloc(1, sizeof *c);
    c->kind = kind;
    c->sink = sink;
    c->ctx = ctx;
    c->out = fl_xmalloc(BUF_SIZE);
    if (kind == FL_COMP_XZ) {
        lzma_stream init = LZMA_STREAM_INIT;
        c->lz = init;
        /* preset 6, check CRC64: what Nix's xz sink writes */
        if (lzma_easy_encoder(&c->lz, 6, LZMA_CHECK_CRC64) != LZMA_OK)
            abort(); /* only on allocation failure */
    } else if (kind == FL_COMP_ZSTD) {
        c->zc = ZSTD_createCCtx();
        if (!c->zc)
            abort();
        ZSTD_CCtx_setParameter(c->zc, ZSTD_c_compressionLevel, 3);
        ZSTD_CCtx_setParameter(c->zc, ZSTD_c_checksumFlag, 1);
    }
    return c;
}

void fl_compressor_restart(fl_compressor *c, fl_nar_write_fn sink, void *ctx) {
    c->sink = sink;
    c->ctx = ctx;
    if (c->kind == FL_COMP_XZ) {
        /* the same filters again: liblzma keeps the encoder's memory */
        if (lzma_easy_encoder(&c->lz, 6, LZMA_CHECK_CRC64) != LZMA_OK)
            abort();
    } else if (c->kind == FL_COMP_ZSTD) {
        ZSTD_CCtx_reset(c->zc, ZSTD_reset_session_only); /* parameters and tables kept */
    }
}

static int xz_step(fl_compressor *c, const void *data, size_t len, lzma_action act, fl_error *err) {
    c->lz.next_in = data;
    c->lz.avail_in = len;
    for (;;) {
        c->lz.next_out = c->out;
        c->lz.avail_out = BUF_SIZE;
        lzma_ret r = lzma_code(&c->lz, act);
        if (r != LZMA_OK && r != LZMA_STREAM_END)
            return fl_error_set(err, FL_EGENERIC, "xz compression failed (liblzma error %d)",
                                (int)r);
        size_t n = BUF_SIZE - c->lz.avail_out;
        if (n) {
            int rc = c->sink(c->ctx, c->out, n, err);
            if (rc)
                return rc;
        }
        if (act == LZMA_RUN ? c->lz.avail_in == 0 && c->lz.avail_out != 0 : r == LZMA_STREAM_END)
            return FL_OK;
    }
}

static int zstd_step(fl_compressor *c, const void *data, size_t len, ZSTD_EndDirective mode,
                     fl_error *err) {
    ZSTD_inBuffer in = {data, len, 0};
    for (;;) {
        ZSTD_outBuffer out = {c->out, BUF_SIZE, 0};
        size_t left = ZSTD_compressStream2(c->zc, &out, &in, mode);
        if (ZSTD_isError(left))
            return fl_error_set(err, FL_EGENERIC, "zstd compression failed: %s",
                                ZSTD_getErrorName(left));
        if (out.pos) {
            int rc = c->sink(c->ctx, c->out, out.pos, err);
            if (rc)
                return rc;
        }
        if (mode == ZSTD_e_continue ? in.pos == in.size : left == 0)
            return FL_OK;
    }
}

int fl_compressor_write(void *cp, const void *data, size_t len, fl_error *err) {
    fl_compressor *c = cp;
    if (c->kind == FL_COMP_XZ)
        return xz_step(c, data, len, LZMA_RUN, err);
    if (c->kind == FL_COMP_ZSTD)
        return zstd_step(c, data, len, ZSTD_e_continue, err);
    return c->sink(c->ctx, data, len, err);
}

int fl_compressor_finish(fl_compressor *c, fl_error *err) {
    if (c->kind == FL_COMP_XZ)
        return xz_step(c, NULL, 0, LZMA_FINISH, err);
    if (c->kind == FL_COMP_ZSTD)
        return zstd_step(c, NULL, 0, ZSTD_e_end, err);
    return FL_OK;
}

void fl_compressor_free(fl_compressor *c) {
    if (!c)
        return;
    if (c->kind == FL_COMP_XZ)
        lzma_end(&c->lz);
    ZSTD_freeCCtx(c->zc);
    free(c->out);
    free(c);
}

/* ---- decompressing ---------------------------------------------------------------------- */

struct fl_decompressor {
    int kind;
    int fd;
    char *where;
    lzma_stream lz;
    ZSTD_DCtx *zd;
    unsigned char *in;
    size_t in_pos, in_len;
    int in_eof;
    int ended; /* the compressed stream said it is complete */
};

fl_decompressor *fl_decompressor_new(int kind, int fd, const char *where) {
    fl_decompressor *d = fl_xcalloc(1, sizeof *d);
    d->kind = kind;
    d->fd = fd;
    d->where = fl_xstrdup(where);
    d->in = fl_xmalloc(BUF_SIZE);
    if (kind == FL_COMP_XZ) {
        lzma_stream init = LZMA_STREAM_INIT;
        d->lz = init;
        if (lzma_stream_decoder(&d->lz, UINT64_MAX, 0) != LZMA_OK)
            abort();
    } else if (kind == FL_COMP_ZSTD) {
        d->zd = ZSTD_createDCtx();
        if (!d->zd)
            abort();
    }
    return d;
}

void fl_decompressor_restart(fl_decompressor *d, int fd, const char *where) {
    d->fd = fd;
    free(d->where);
    d->where = fl_xstrdup(where);
    d->in_pos = d->in_len = 0;
    d->in_eof = d->ended = 0;
    if (d->kind == FL_COMP_XZ) {
        if (lzma_stream_decoder(&d->lz, UINT64_MAX, 0) != LZMA_OK)
            abort();
    } else if (d->kind == FL_COMP_ZSTD) {
        ZSTD_DCtx_reset(d->zd, ZSTD_reset_session_only);
    }
}

int fl_decompressor_kind(const fl_decompressor *d) {
    return d->kind;
}

static int fill(fl_decompressor *d, fl_error *err) {
    if (d->in_pos < d->in_len || d->in_eof)
        return FL_OK;
    for (;;) {
        ssize_t n = read(d->fd, d->in, BUF_SIZE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fl_error_errno(err, "cannot read %s", d->where);
        d->in_pos = 0;
        d->in_len = (size_t)n;
        d->in_eof = n == 0;
        return FL_OK;
    }
}

static int truncated(fl_decompressor *d, fl_error *err) {
    return fl_error_set(err, FL_EPARSE, "%s ends early (a truncated or corrupt NAR file)",
                        d->where);
}

/* One decoder step from the buffered input into out[cap]; *made = bytes produced. */
static int step(fl_decompressor *d, unsigned char *out, size_t cap, size_t *made, fl_error *err) {
    if (d->kind == FL_COMP_XZ) {
        d->lz.next_in = d->in + d->in_pos;
        d->lz.avail_in = d->in_len - d->in_pos;
        d->lz.next_out = out;
        d->lz.avail_out = cap;
        lzma_ret r = lzma_code(&d->lz, LZMA_RUN);
        d->in_pos = d->in_len - d->lz.avail_in;
        *made = cap - d->lz.avail_out;
        if (r == LZMA_STREAM_END)
            d->ended = 1;
        else if (r == LZMA_BUF_ERROR)
            *made = 0; /* no progress possible: the caller sees the end of input */
        else if (r != LZMA_OK)
            return fl_error_set(err, FL_EPARSE, "%s is not valid xz data (liblzma error %d)",
                                d->where, (int)r);
        return FL_OK;
    }
    ZSTD_inBuffer in = {d->in + d->in_pos, d->in_len - d->in_pos, 0};
    ZSTD_outBuffer o = {out, cap, 0};
    size_t r = ZSTD_decompressStream(d->zd, &o, &in);
    if (ZSTD_isError(r))
        return fl_error_set(err, FL_EPARSE, "%s is not valid zstd data: %s", d->where,
                            ZSTD_getErrorName(r));
    d->in_pos += in.pos;
    *made = o.pos;
    d->ended = r == 0;
    return FL_OK;
}

int fl_decompressor_read(void *dp, void *buf, size_t len, fl_error *err) {
    fl_decompressor *d = dp;
    unsigned char *o = buf;
    while (len > 0) {
        int rc = fill(d, err);
        if (rc)
            return rc;
        int no_input = d->in_pos == d->in_len && d->in_eof;
        if (d->kind == FL_COMP_NONE) {
            if (no_input)
                return truncated(d, err);
            size_t k = d->in_len - d->in_pos < len ? d->in_len - d->in_pos : len;
            memcpy(o, d->in + d->in_pos, k);
            d->in_pos += k;
            o += k;
            len -= k;
            continue;
        }
        if (d->kind == FL_COMP_XZ && d->ended)
            return truncated(d, err); /* one xz stream, and it is over */
        size_t before = d->in_pos, made = 0;
        rc = step(d, o, len, &made, err);
        if (rc)
            return rc;
        o += made;
        len -= made;
        if (!made && d->in_pos == before && no_input)
            return truncated(d, err);
    }
    return FL_OK;
}

int fl_decompressor_read_some(fl_decompressor *d, void *buf, size_t cap, size_t *got,
                              fl_error *err) {
    *got = 0;
    while (*got == 0) {
        int rc = fill(d, err);
        if (rc)
            return rc;
        int no_input = d->in_pos == d->in_len && d->in_eof;
        if (d->kind == FL_COMP_NONE) {
            if (no_input)
                return FL_OK;
            size_t k = d->in_len - d->in_pos < cap ? d->in_len - d->in_pos : cap;
            memcpy(buf, d->in + d->in_pos, k);
            d->in_pos += k;
            *got = k;
            continue;
        }
        if (d->ended && (d->kind == FL_COMP_XZ || no_input))
            return fl_decompressor_finish(d, err);
        size_t before = d->in_pos;
        rc = step(d, buf, cap, got, err);
        if (rc)
            return rc;
        if (!*got && d->in_pos == before && no_input && !d->ended)
            return truncated(d, err);
    }
    return FL_OK;
}

int fl_decompressor_finish(fl_decompressor *d, fl_error *err) {
    /* The NAR has been read whole; the compressed stream must end here, its trailer (sizes,
     * checksum) checked, with nothing after it. */
    unsigned char extra[64];
    for (;;) {
        int rc = fill(d, err);
        if (rc)
            return rc;
        int more = d->in_pos < d->in_len;
        if (d->kind == FL_COMP_NONE || d->ended) {
            if (more)
                break;
            if (d->in_eof)
                return FL_OK;
            continue;
        }
        if (!more && d->in_eof)
            return truncated(d, err);
        size_t made = 0;
        rc = step(d, extra, sizeof extra, &made, err);
        if (rc)
            return rc;
        if (made)
            break;
    }
    return fl_error_set(err, FL_EPARSE, "%s holds data after the end of its NAR", d->where);
}

void fl_decompressor_free(fl_decompressor *d) {
    if (!d)
        return;
    if (d->kind == FL_COMP_XZ)
        lzma_end(&d->lz);
    ZSTD_freeDCtx(d->zd);
    free(d->in);
    free(d->where);
    free(d);
}
