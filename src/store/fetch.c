/* fetch.c - the store's downloads: one URL (http, https or file) to a file descriptor, through
 * the one HTTP client (util's http.h, which owns every transfer option and error wording).
 * Knows nothing about hashes or store paths: fixed-output builds (build.c) and the
 * evaluator's fetchers verify what it wrote. Never prints: progress goes to the caller's
 * callback. */
#include <string.h>

#include "flakectl/http.h"
#include "flakectl/store.h"

int fl_fetch_url_to_fd(const char *url, int fd, fl_fetch_progress_fn progress, void *ctx,
                       fl_error *err) {
    fl_http_request rq;
    memset(&rq, 0, sizeof rq);
    rq.url = url;
    rq.allow_file = 1;
    rq.progress = progress;
    rq.progress_ctx = ctx;
    int rc = fl_http_get_fd(NULL, &rq, fd, err);
    if (rc == FL_ENOTFOUND)
        rc = err->code = FL_ENET; /* to the store, a missing file is a failed download */
    /* the server's refusal or an unreachable server (not an abort, not a failed write) */
    if (rc == FL_ENET && (rq.status >= 400 || err->hint))
        fl_error_set_hint(err, "check the URL and that this machine can reach it (http_proxy "
                               "and https_proxy are honoured); nothing was added to the store");
    return rc;
}
