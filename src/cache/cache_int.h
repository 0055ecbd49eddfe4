/* cache_int.h - what the files of src/cache share and nobody else needs: compression
 * streams, the transport to a cache (file://, http(s)://) and its nix-cache-info. */
#ifndef FLAKECTL_CACHE_INT_H
#define FLAKECTL_CACHE_INT_H

#include <stdint.h>
#include <stdio.h>

#include "flakectl/cache.h"
#include "flakectl/http.h"

/* ---- compression (compress.c) ---- */

enum fl_compression { FL_COMP_NONE, FL_COMP_XZ, FL_COMP_ZSTD };
/* "none", "xz", "zstd" -> 0 and *out; anything else (bzip2, br, ...) -1. */
int fl_compression_parse(const char *name, int *out);
/* The file name extension Nix uses (".xz", ".zst", ""). */
const char *fl_compression_ext(int kind);

/* A compressor pushing its output to sink. */
typedef struct fl_compressor fl_compressor;
fl_compressor *fl_compressor_new(int kind, fl_nar_write_fn sink, void *ctx);
int fl_compressor_write(void *c, const void *data, size_t len, fl_error *err); /* a sink */
int fl_compressor_finish(fl_compressor *c, fl_error *err);
void fl_compressor_free(fl_compressor *c);

/* A decompressor pulling from fd; fl_decompressor_read is an fl_nar_read_fn. where names
 * the stream in errors. */
typedef struct fl_decompressor fl_decompressor;
fl_decompressor *fl_decompressor_new(int kind, int fd, const char *where);
int fl_decompressor_read(void *d, void *buf, size_t len, fl_error *err);
/* Reads what comes next, up to cap bytes; *got = 0 at the stream's (checked) end. */
int fl_decompressor_read_some(fl_decompressor *d, void *buf, size_t cap, size_t *got,
                              fl_error *err);
/* Checks that the compressed stream ends here (nothing follows what was read). */
int fl_decompressor_finish(fl_decompressor *d, fl_error *err);
void fl_decompressor_free(fl_decompressor *d);

/* ---- transport (transport.c; http(s) through util's http.h) ---- */

typedef struct fl_cache_conn {
    char *url;       /* as given, without a trailing '/' */
    char *dir;       /* file://: the directory; NULL otherwise */
    int http;        /* http:// or https:// */
    fl_http *client; /* http: a reused connection (keep-alive) */
    int checked;     /* nix-cache-info read and its StoreDir matched */
} fl_cache_conn;

/* Parses url (file:///DIR, http://..., https://...). */
int fl_cache_conn_open(const char *url, fl_cache_conn *c, fl_error *err);
void fl_cache_conn_close(fl_cache_conn *c);
/* Reads the file rel of the cache into memory (owned, NUL-terminated). FL_ENOTFOUND (with
 * err filled) when the cache has no such file. */
int fl_cache_get(fl_cache_conn *c, const char *rel, char **data, size_t *len, fl_error *err);
/* Opens the file rel for reading: file:// opens it, http downloads it to an unlinked temp
 * file in tmpdir first. *fd is owned. FL_ENOTFOUND when missing. */
int fl_cache_open_file(fl_cache_conn *c, const char *rel, const char *tmpdir, int *fd,
                       fl_error *err);
/* Checks the cache's nix-cache-info names store_dir (once per connection). A cache without
 * one is refused: Nix writes it first. */
int fl_cache_check_store_dir(fl_cache_conn *c, const char *store_dir, fl_error *err);

/* rc of a GET of a cache's file: a missing file (FL_ENOTFOUND) said as the caches say it,
 * "URL does not exist (HTTP 404)" (the HTTP client's words are a download's); else rc. */
int fl_cache_http_result(const fl_http_request *rq, int rc, fl_error *err);

/* partial.c: downloads the file rel of an http(s) cache into dir (the store's partial
 * area), going on from what an interrupted download of the same URL left there when that
 * can be trusted, and checks it against size and hash (the narinfo's FileSize and FileHash;
 * 0 / NULL when unknown). what names the store path in errors; log (may be NULL) gets a line
 * when a download resumes or starts over. *fd, rewound, is owned; the partial file is gone
 * once it succeeded. FL_ECRYPTO when the file is not the one the narinfo names. */
int fl_cache_fetch_resumable(fl_cache_conn *c, const char *rel, const char *dir, uint64_t size,
                             const unsigned char *hash, const char *what, FILE *log, int *fd,
                             fl_error *err);

/* The "<hashpart>.narinfo" name of a store path. Owned. */
char *fl_cache_narinfo_name(const char *store_path);

#endif
