/* fetch.c - downloads one URL (http, https or file) to a file descriptor with libcurl, the
 * well-kept HTTP client (redirects, TLS, proxies from the usual environment variables).
 * Knows nothing about hashes or store paths: fixed-output builds (build.c), and later binary
 * caches and builtins.fetchurl, verify what it wrote. Never prints: progress goes to the
 * caller's callback. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/libcurl.h"
#include "flakectl/store.h"

/* Seconds without a single byte before a transfer counts as stalled. */
#define STALL_SECONDS 60L
#define CONNECT_SECONDS 30L

typedef struct fetch_ctx {
    int fd;
    int write_errno; /* errno of a failed write(2), 0 otherwise */
    fl_fetch_progress_fn progress;
    void *progress_ctx;
    int aborted; /* the progress callback asked to stop */
} fetch_ctx;

static size_t on_data(char *data, size_t size, size_t n, void *p) {
    fetch_ctx *c = p;
    size_t len = size * n, done = 0;
    while (done < len) {
        ssize_t w = write(c->fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            c->write_errno = w < 0 ? errno : EIO;
            return 0; /* anything but len makes libcurl stop with CURLE_WRITE_ERROR */
        }
        done += (size_t)w;
    }
    return len;
}

static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    fetch_ctx *c = p;
    if (!c->progress)
        return 0;
    if (c->progress(c->progress_ctx, dlnow > 0 ? (uint64_t)dlnow : 0,
                    dltotal > 0 ? (uint64_t)dltotal : 0)) {
        c->aborted = 1;
        return 1;
    }
    return 0;
}

int fl_fetch_url_to_fd(const char *url, int fd, fl_fetch_progress_fn progress, void *ctx,
                       fl_error *err) {
    const fl_libcurl *cu = fl_libcurl_get(err);
    if (!cu) {
        fl_error_add_frame(err, "while downloading %s", url);
        return err->code;
    }
    CURL *h = cu->easy_init();
    if (!h)
        return fl_error_set(err, FL_ENET, "cannot download %s: libcurl failed to start", url);
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    fetch_ctx c = {fd, 0, progress, ctx, 0};
    cu->easy_setopt(h, CURLOPT_URL, url);
    cu->easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* A downloaded file is verified against its hash afterwards, but a URL in a config must
     * still not be able to read arbitrary protocols (scp:, dict:, ...), and a redirect must
     * never lead to the local file system. */
#if LIBCURL_VERSION_NUM >= 0x075500
    cu->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,file");
    cu->easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    cu->easy_setopt(h, CURLOPT_PROTOCOLS,
                     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE));
    cu->easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    cu->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    cu->easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    cu->easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    cu->easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_SECONDS);
    cu->easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    cu->easy_setopt(h, CURLOPT_LOW_SPEED_TIME, STALL_SECONDS);
    cu->easy_setopt(h, CURLOPT_USERAGENT, "flakectl/" FLAKECTL_VERSION);
    cu->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    cu->easy_setopt(h, CURLOPT_WRITEDATA, &c);
    cu->easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    cu->easy_setopt(h, CURLOPT_XFERINFODATA, &c);
    cu->easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    CURLcode rc = cu->easy_perform(h);
    long status = 0;
    cu->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    cu->easy_cleanup(h);
    if (rc == CURLE_OK)
        return FL_OK;
    if (rc == CURLE_WRITE_ERROR && c.write_errno) {
        errno = c.write_errno;
        return fl_error_errno(err, "cannot download %s: writing the download failed", url);
    }
    if (c.aborted)
        return fl_error_set(err, FL_ENET, "download of %s interrupted", url);
    int code;
    if (rc == CURLE_HTTP_RETURNED_ERROR)
        code = fl_error_set(err, FL_ENET, "cannot download %s: the server answered HTTP %ld", url,
                            status);
    else
        code = fl_error_set(err, FL_ENET, "cannot download %s: %s", url,
                            errbuf[0] ? errbuf : cu->easy_strerror(rc));
    fl_error_set_hint(err, "check the URL and that this machine can reach it (http_proxy and "
                           "https_proxy are honoured); nothing was added to the store");
    return code;
}
