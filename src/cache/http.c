/* http.c - the cache's own small use of libcurl: GET a URL into a file descriptor, one
 * reused handle per cache (keep-alive). Kept behind two functions so that it can later be
 * folded into one shared download layer with the store's fixed-output fetcher. Never follows
 * a redirect to anything but http(s). */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "cache/cache_int.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct get_ctx {
    int fd;
    int write_errno;
} get_ctx;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *p) {
    get_ctx *g = p;
    size_t n = size * nmemb, done = 0;
    while (done < n) {
        ssize_t w = write(g->fd, ptr + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            g->write_errno = errno;
            return 0; /* aborts the transfer */
        }
        done += (size_t)w;
    }
    return n;
}

int fl_cache_http_get_fd(void **handle, const char *url, int fd, fl_error *err) {
    pthread_once(&curl_once, curl_init_once);
    CURL *h = *handle;
    if (!h) {
        h = curl_easy_init();
        if (!h)
            return fl_error_set(err, FL_ENET, "cannot start libcurl");
        *handle = h;
    }
    curl_easy_reset(h);
    get_ctx g = {fd, 0};
    char msg[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &g);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, msg);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    /* a transfer slower than 1 byte/s for a minute is stalled */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "flakectl/" FLAKECTL_VERSION);
    /* A private CA (a cache behind an internal TLS endpoint): the variable OpenSSL's tools and
     * Nix (NIX_SSL_CERT_FILE) read; otherwise libcurl's system bundle. */
    const char *ca = getenv("NIX_SSL_CERT_FILE");
    if (!ca || !*ca)
        ca = getenv("SSL_CERT_FILE");
    if (ca && *ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    CURLcode r = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (r == CURLE_WRITE_ERROR && g.write_errno) {
        errno = g.write_errno;
        return fl_error_errno(err, "cannot store the download of %s", url);
    }
    if (r != CURLE_OK)
        return fl_error_set(err, FL_ENET, "cannot download %s: %s", url,
                            *msg ? msg : curl_easy_strerror(r));
    /* S3 answers 403 for a missing object when listing is not allowed; Nix reads it as absent */
    if (status == 404 || status == 403 || status == 410)
        return fl_error_set(err, FL_ENOTFOUND, "%s does not exist (HTTP %ld)", url, status);
    if (status >= 400)
        return fl_error_set(err, FL_ENET, "cannot download %s: HTTP status %ld", url, status);
    return FL_OK;
}

void fl_cache_http_free(void *handle) {
    if (handle)
        curl_easy_cleanup(handle);
}
