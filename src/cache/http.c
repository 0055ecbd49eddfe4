/* http.c - the cache's own small use of libcurl: GET a URL (or the rest of it from a byte
 * offset, for a resumed download) into a sink, one reused handle per cache (keep-alive). Kept
 * behind a few functions so that it can later be folded into one shared download layer with
 * the store's fixed-output fetcher. Never follows a redirect to anything but http(s). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cache/cache_int.h"
#include "flakectl/libcurl.h"
#include "flakectl/strbuf.h"

typedef struct get_ctx {
    const fl_libcurl *cu;
    CURL *h;
    fl_cache_http_request *rq;
    int started;      /* rq->start was called for the final response */
    int skip;         /* the final response is not the file (an error page): dropped */
    long range_start; /* of the current response's Content-Range; -1 none */
    char etag[256], last_modified[128];
    int failed; /* a sink call failed: err holds why */
    fl_error err;
} get_ctx;

/* Copies a header's value (after "Name:"), trimmed, into out. */
static void header_value(const char *line, size_t len, size_t name_len, char *out, size_t cap) {
    const char *v = line + name_len;
    size_t n = len - name_len;
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= cap)
        n = 0; /* too long to be used as a validator: as if absent */
    memcpy(out, v, n);
    out[n] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *p) {
    get_ctx *g = p;
    size_t n = size * nmemb;
    if (n >= 5 && !strncmp(line, "HTTP/", 5)) { /* a new response (after a redirect, ...) */
        g->range_start = -1;
        g->etag[0] = g->last_modified[0] = '\0';
    } else if (n > 14 && !strncasecmp(line, "Content-Range:", 14)) {
        char v[128];
        header_value(line, n, 14, v, sizeof v);
        unsigned long long a = 0;
        g->range_start = sscanf(v, "bytes %llu-", &a) == 1 ? (long)a : -1;
    } else if (n > 5 && !strncasecmp(line, "ETag:", 5)) {
        header_value(line, n, 5, g->etag, sizeof g->etag);
    } else if (n > 14 && !strncasecmp(line, "Last-Modified:", 14)) {
        header_value(line, n, 14, g->last_modified, sizeof g->last_modified);
    }
    return n;
}

/* Before the first byte of the final response: where in the file it starts. */
static int body_start(get_ctx *g) {
    long status = 0;
    g->cu->easy_getinfo(g->h, CURLINFO_RESPONSE_CODE, &status);
    g->started = 1;
    if (status < 200 || status >= 300) {
        g->skip = 1;
        return 0;
    }
    fl_cache_http_request *rq = g->rq;
    /* a weak ETag cannot be used in If-Range (RFC 9110, 13.1.5): the date then */
    const char *v = g->etag[0] && strncmp(g->etag, "W/", 2) ? g->etag : g->last_modified;
    snprintf(rq->validator, sizeof rq->validator, "%s", v);
    uint64_t at = 0;
    if (status == 206) {
        if (g->range_start < 0 || (uint64_t)g->range_start != rq->from) {
            g->failed = 1;
            fl_error_set(&g->err, FL_ENET,
                         "%s answered a request for the bytes from %llu on with the bytes from "
                         "%ld on",
                         rq->url, (unsigned long long)rq->from, g->range_start);
            return -1;
        }
        at = rq->from;
    }
    if (rq->start && rq->start(rq->ctx, at, &g->err) < 0) {
        g->failed = 1;
        return -1;
    }
    return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *p) {
    get_ctx *g = p;
    size_t n = size * nmemb;
    if (!g->started && body_start(g) < 0)
        return 0; /* aborts the transfer */
    if (g->skip)
        return n;
    if (g->rq->write(g->rq->ctx, ptr, n, &g->err) < 0) {
        g->failed = 1;
        return 0;
    }
    return n;
}

int fl_cache_http_request_run(void **handle, fl_cache_http_request *rq, fl_error *err) {
    const fl_libcurl *cu = fl_libcurl_get(err);
    if (!cu)
        return err->code;
    CURL *h = *handle;
    if (!h) {
        h = cu->easy_init();
        if (!h)
            return fl_error_set(err, FL_ENET, "cannot start libcurl");
        *handle = h;
    }
    cu->easy_reset(h);
    get_ctx g;
    memset(&g, 0, sizeof g);
    g.cu = cu;
    g.h = h;
    g.rq = rq;
    g.range_start = -1;
    g.err = (fl_error)FL_ERROR_INIT;
    rq->status = 0;
    rq->validator[0] = '\0';
    char msg[CURL_ERROR_SIZE] = "";
    char range[48];
    struct curl_slist *headers = NULL;
    cu->easy_setopt(h, CURLOPT_URL, rq->url);
    if (rq->from) {
        snprintf(range, sizeof range, "%llu-", (unsigned long long)rq->from);
        cu->easy_setopt(h, CURLOPT_RANGE, range);
        /* the bytes held are only continued when the file is still the one they came from */
        if (rq->if_range && *rq->if_range) {
            char *hd = fl_xasprintf("If-Range: %s", rq->if_range);
            headers = cu->slist_append(headers, hd);
            free(hd);
            cu->easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        }
    }
    cu->easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    cu->easy_setopt(h, CURLOPT_HEADERDATA, &g);
    cu->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    cu->easy_setopt(h, CURLOPT_WRITEDATA, &g);
    cu->easy_setopt(h, CURLOPT_ERRORBUFFER, msg);
    cu->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    cu->easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
    cu->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    cu->easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    cu->easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    /* a transfer slower than 1 byte/s for a minute is stalled */
    cu->easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    cu->easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(h, CURLOPT_USERAGENT, "flakectl/" FLAKECTL_VERSION);
    /* A private CA (a cache behind an internal TLS endpoint): the variable OpenSSL's tools and
     * Nix (NIX_SSL_CERT_FILE) read; otherwise libcurl's system bundle. */
    const char *ca = getenv("NIX_SSL_CERT_FILE");
    if (!ca || !*ca)
        ca = getenv("SSL_CERT_FILE");
    if (ca && *ca)
        cu->easy_setopt(h, CURLOPT_CAINFO, ca);
    CURLcode r = cu->easy_perform(h);
    cu->slist_free_all(headers);
    cu->easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    long status = 0;
    cu->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    rq->status = status;
    if (g.failed) {
        fl_error_move(err, &g.err);
        return err->code ? err->code : FL_EIO;
    }
    fl_error_clear(&g.err);
    if (r != CURLE_OK)
        return fl_error_set(err, FL_ENET, "cannot download %s: %s", rq->url,
                            *msg ? msg : cu->easy_strerror(r));
    /* S3 answers 403 for a missing object when listing is not allowed; Nix reads it as absent */
    if (status == 404 || status == 403 || status == 410)
        return fl_error_set(err, FL_ENOTFOUND, "%s does not exist (HTTP %ld)", rq->url, status);
    if (status >= 400)
        return fl_error_set(err, FL_ENET, "cannot download %s: HTTP status %ld", rq->url, status);
    /* an empty file has no first byte */
    if (!g.started && body_start(&g) < 0) {
        fl_error_move(err, &g.err);
        return err->code ? err->code : FL_EIO;
    }
    return FL_OK;
}

typedef struct fd_sink {
    int fd;
} fd_sink;

static int fd_write(void *ctx, const void *data, size_t len, fl_error *err) {
    fd_sink *f = ctx;
    const char *p = data;
    while (len) {
        ssize_t w = write(f->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return fl_error_errno(err, "cannot store a download");
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int fl_cache_http_get_fd(void **handle, const char *url, int fd, fl_error *err) {
    fd_sink f = {fd};
    fl_cache_http_request rq;
    memset(&rq, 0, sizeof rq);
    rq.url = url;
    rq.write = fd_write;
    rq.ctx = &f;
    return fl_cache_http_request_run(handle, &rq, err);
}

void fl_cache_http_free(void *handle) {
    /* a handle exists only once libcurl was loaded */
    if (handle)
        fl_libcurl_get(NULL)->easy_cleanup(handle);
}
