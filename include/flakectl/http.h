/* http.h - flakectl's one HTTP client (src/util/http.c, over libcurl): the store's fixed-output
 * downloads (builtin:fetchurl, builtins.fetchurl/fetchTarball through the evaluator's hooks)
 * and the binary caches' GETs both go through it, so TLS and CA files, timeouts, redirects,
 * resuming (Range/If-Range), proxies and the wording of errors live in one place. It lives
 * in util because store and cache both need it. Never prints; knows nothing of hashes. */
#ifndef FLAKECTL_HTTP_H
#define FLAKECTL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "flakectl/error.h"

/* A connection that can be reused for several requests to keep the server's connection
 * alive (a cache's many narinfos). One per thread. */
typedef struct fl_http fl_http;

/* One GET whose body goes to a sink, optionally only the bytes from `from` on (Range, with
 * If-Range when a validator of the bytes held is known). start (may be NULL) is called once
 * before the body's first byte (or at the end of an empty body) with the offset in the file
 * where the body begins: `from` when the server sent the range (206), 0 when it sent the
 * whole file (200: a server without ranges, or a file that changed). The body of an error
 * response never reaches the sink. */
typedef struct fl_http_request {
    const char *url;
    int allow_file; /* file:// too (a download from a local copy); else http(s) only */
    uint64_t from;
    const char *if_range; /* ETag or Last-Modified of the bytes held, or NULL */
    int (*start)(void *ctx, uint64_t at, fl_error *err);
    int (*write)(void *ctx, const void *data, size_t len, fl_error *err);
    /* bytes received so far and the total (0 while unknown); non-zero aborts. May be NULL. */
    int (*progress)(void *progress_ctx, uint64_t received, uint64_t total);
    void *ctx;           /* start's and write's */
    void *progress_ctx;  /* progress's */
    long status;         /* out: the final response's status (0 for file://) */
    char validator[256]; /* out: its strong ETag, else its Last-Modified, else "" */
} fl_http_request;

/* Runs rq. conn: a connection to reuse (*conn NULL: one is made, and is the caller's to
 * free with fl_http_free), or NULL for a one-off. Errors name the URL: FL_ENOTFOUND on HTTP
 * 404, 403 (S3's answer for a missing object) and 410; FL_ENET on other HTTP errors (416
 * included: rq->status says which), transfer errors (unreachable, TLS, stalled for a minute)
 * and an abort by progress; a sink's error as it returned it. */
int fl_http_get(fl_http **conn, fl_http_request *rq, fl_error *err);
/* The same with the body written to fd at its offset (rq->write and rq->ctx are set here). */
int fl_http_get_fd(fl_http **conn, fl_http_request *rq, int fd, fl_error *err);
void fl_http_free(fl_http *conn);

#endif
