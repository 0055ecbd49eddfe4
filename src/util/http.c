/* http.c - the one HTTP client (include/flakectl/http.h): every libcurl option flakectl sets
 * is set here, for the store's downloads and the caches' GETs alike. Owns the protocols a
 * URL and a redirect may use, the CA file, the timeouts, Range/If-Range and the errors'
 * wording; never prints, never retries (partial.c and the mirror list decide that). Proxies
 * are libcurl's own reading of http_proxy, https_proxy, all_proxy and no_proxy. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "flakectl/http.h"
#include "flakectl/strbuf.h"

#define CONNECT_SECONDS 30L
/* a transfer slower than 1 byte/s for a minute is stalled */
#define STALL_SECONDS 60L
#define MAX_REDIRECTS 10L

struct fl_http {
    CURL *h;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void) {
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct get_ctx {
    CURL *h;
    fl_http_request *rq;
    int started;      /* rq->start was called for the final response */
    int skip;         /* the final response is not the file (an error page): dropped */
    long range_start; /* of the current response's Content-Range; -1 none */
    char etag[256], last_modified[128];
    int failed;  /* a sink call failed: err holds why */
    int aborted; /* rq->progress asked to stop */
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
    curl_easy_getinfo(g->h, CURLINFO_RESPONSE_CODE, &status);
    g->started = 1;
    /* file:// has no status; an HTTP error's body is not the file */
    if (status && (status < 200 || status >= 300)) {
        g->skip = 1;
        return 0;
    }
    fl_http_request *rq = g->rq;
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
        return 0; /* anything but n makes libcurl stop */
    if (g->skip)
        return n;
    if (g->rq->write(g->rq->ctx, ptr, n, &g->err) < 0) {
        g->failed = 1;
        return 0;
    }
    return n;
}

static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    (void)ultotal;
    (void)ulnow;
    get_ctx *g = p;
    if (g->rq->progress(g->rq->progress_ctx, dlnow > 0 ? (uint64_t)dlnow : 0,
                        dltotal > 0 ? (uint64_t)dltotal : 0)) {
        g->aborted = 1;
        return 1;
    }
    return 0;
}

/* Everything but the request's own URL, range and sinks. */
static void set_common(CURL *h, int allow_file) {
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* A URL in a config must not reach arbitrary protocols (scp:, dict:, ...), and a
     * redirect must never lead to the local file system. */
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, allow_file ? "http,https,file" : "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS,
                     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS | (allow_file ? CURLPROTO_FILE : 0)));
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_SECONDS);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, STALL_SECONDS);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "flakectl/" FLAKECTL_VERSION);
    /* A private CA (a cache or mirror behind an internal TLS endpoint): the variables Nix
     * (NIX_SSL_CERT_FILE) and OpenSSL's tools read; otherwise libcurl's system bundle. */
    const char *ca = getenv("NIX_SSL_CERT_FILE");
    if (!ca || !*ca)
        ca = getenv("SSL_CERT_FILE");
    if (ca && *ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
}

static int transfer_error(fl_error *err, const char *url, const char *msg) {
    int rc = fl_error_set(err, FL_ENET, "cannot download %s: %s", url, msg);
    fl_error_set_hint(err, "check the URL and that this machine can reach it (http_proxy and "
                           "https_proxy are honoured)");
    return rc;
}

/* The request's outcome, once the transfer is over (g->h still open: an empty body's start
 * reads the status from it). */
static int finish(get_ctx *g, CURLcode r, const char *msg, long status, fl_error *err) {
    fl_http_request *rq = g->rq;
    if (g->failed) {
        fl_error_move(err, &g->err);
        return err->code ? err->code : FL_EIO;
    }
    fl_error_clear(&g->err);
    if (g->aborted)
        return fl_error_set(err, FL_ENET, "download of %s interrupted", rq->url);
    if (r != CURLE_OK)
        return transfer_error(err, rq->url, *msg ? msg : curl_easy_strerror(r));
    /* S3 answers 403 for a missing object when listing is not allowed; Nix reads it as absent */
    if (status == 404 || status == 403 || status == 410)
        return fl_error_set(err, FL_ENOTFOUND, "cannot download %s: the server answered HTTP %ld",
                            rq->url, status);
    if (status >= 400)
        return fl_error_set(err, FL_ENET, "cannot download %s: the server answered HTTP %ld",
                            rq->url, status);
    /* an empty file has no first byte */
    if (!g->started && body_start(g) < 0) {
        fl_error_move(err, &g->err);
        return err->code ? err->code : FL_EIO;
    }
    return FL_OK;
}

int fl_http_get(fl_http **conn, fl_http_request *rq, fl_error *err) {
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return fl_error_set(err, FL_ENET, "cannot download %s: libcurl failed to start: %s",
                            rq->url, curl_easy_strerror(curl_init_rc));
    CURL *h = conn && *conn ? (*conn)->h : curl_easy_init();
    if (!h)
        return fl_error_set(err, FL_ENET, "cannot download %s: libcurl failed to start", rq->url);
    if (conn && !*conn) {
        *conn = fl_xmalloc(sizeof **conn);
        (*conn)->h = h;
    } else if (conn) {
        curl_easy_reset(h);
    }
    get_ctx g;
    memset(&g, 0, sizeof g);
    g.h = h;
    g.rq = rq;
    g.range_start = -1;
    g.err = (fl_error)FL_ERROR_INIT;
    rq->status = 0;
    rq->validator[0] = '\0';
    char msg[CURL_ERROR_SIZE] = "";
    char range[48];
    struct curl_slist *headers = NULL;
    set_common(h, rq->allow_file);
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    if (rq->from) {
        snprintf(range, sizeof range, "%llu-", (unsigned long long)rq->from);
        curl_easy_setopt(h, CURLOPT_RANGE, range);
        /* the bytes held are only continued when the file is still the one they came from */
        if (rq->if_range && *rq->if_range) {
            char *hd = fl_xasprintf("If-Range: %s", rq->if_range);
            headers = curl_slist_append(headers, hd);
            free(hd);
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        }
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &g);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &g);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, msg);
    if (rq->progress) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &g);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    CURLcode r = curl_easy_perform(h);
    curl_slist_free_all(headers);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    rq->status = status;
    int rc = finish(&g, r, msg, status, err);
    if (!conn)
        curl_easy_cleanup(h);
    return rc;
}

typedef struct fd_sink {
    int fd;
    const char *url;
} fd_sink;

static int fd_write(void *ctx, const void *data, size_t len, fl_error *err) {
    fd_sink *f = ctx;
    const char *p = data;
    while (len) {
        ssize_t w = write(f->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return fl_error_errno(err, "cannot download %s: writing the download failed", f->url);
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int fl_http_get_fd(fl_http **conn, fl_http_request *rq, int fd, fl_error *err) {
    fd_sink f = {fd, rq->url};
    rq->write = fd_write;
    rq->ctx = &f;
    return fl_http_get(conn, rq, err);
}

void fl_http_free(fl_http *conn) {
    if (!conn)
        return;
    curl_easy_cleanup(conn->h);
    free(conn);
}
