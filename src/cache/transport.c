/* transport.c - reaching a cache's files by URL: file:///DIR reads the directory, http(s)://
 * goes through util's HTTP client (http.h). Also the cache's nix-cache-info (its StoreDir
 * must be ours: store paths contain the store directory). Never writes to a cache (push.c
 * does). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/cache_int.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

int fl_cache_conn_open(const char *url, fl_cache_conn *c, fl_error *err) {
    memset(c, 0, sizeof *c);
    size_t n = strlen(url);
    while (n > 1 && url[n - 1] == '/')
        n--;
    c->url = fl_xstrndup(url, n);
    if (!strncmp(c->url, "file://", 7)) {
        if (c->url[7] != '/') {
            int rc = fl_error_set(err, FL_EUSAGE,
                                  "cache URL '%s': a file:// URL needs an absolute path", url);
            fl_error_set_hint(err, "write file:///path/to/cache (three slashes)");
            fl_cache_conn_close(c);
            return rc;
        }
        c->dir = fl_xstrdup(c->url + 7);
        return FL_OK;
    }
    if (!strncmp(c->url, "http://", 7) || !strncmp(c->url, "https://", 8)) {
        c->http = 1;
        return FL_OK;
    }
    int rc = fl_error_set(err, FL_EUSAGE, "cache URL '%s': unsupported scheme", url);
    fl_error_set_hint(err, "use file:///DIR, http://HOST/PATH or https://HOST/PATH");
    fl_cache_conn_close(c);
    return rc;
}

void fl_cache_conn_close(fl_cache_conn *c) {
    free(c->url);
    free(c->dir);
    fl_http_free(c->client);
    memset(c, 0, sizeof *c);
}

static int not_found(fl_cache_conn *c, const char *rel, fl_error *err) {
    return fl_error_set(err, FL_ENOTFOUND, "%s/%s does not exist", c->url, rel);
}

int fl_cache_http_result(const fl_http_request *rq, int rc, fl_error *err) {
    if (rc != FL_ENOTFOUND)
        return rc;
    return fl_error_set(err, FL_ENOTFOUND, "%s does not exist (HTTP %ld)", rq->url, rq->status);
}

int fl_cache_open_file(fl_cache_conn *c, const char *rel, const char *tmpdir, int *fd,
                       fl_error *err) {
    if (c->dir) {
        char *path = fl_path_join(c->dir, rel);
        *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        int rc = FL_OK;
        if (*fd < 0)
            rc = errno == ENOENT ? not_found(c, rel, err)
                                 : fl_error_errno(err, "cannot open %s", path);
        free(path);
        return rc;
    }
    *fd = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (*fd < 0)
        return fl_error_errno(err, "cannot make a temporary file in %s", tmpdir);
    char *url = fl_xasprintf("%s/%s", c->url, rel);
    fl_http_request rq;
    memset(&rq, 0, sizeof rq);
    rq.url = url;
    int rc = fl_cache_http_result(&rq, fl_http_get_fd(&c->client, &rq, *fd, err), err);
    free(url);
    if (!rc && lseek(*fd, 0, SEEK_SET) < 0)
        rc = fl_error_errno(err, "cannot rewind a download");
    if (rc) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

int fl_cache_get(fl_cache_conn *c, const char *rel, char **data, size_t *len, fl_error *err) {
    int fd = -1;
    int rc = fl_cache_open_file(c, rel, "/tmp", &fd, err);
    if (rc)
        return rc;
    fl_strbuf sb;
    fl_strbuf_init(&sb, 1024);
    char buf[8192];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = fl_error_errno(err, "cannot read %s/%s", c->url, rel);
            break;
        }
        if (n == 0)
            break;
        if (sb.len + (size_t)n > 16 * 1024 * 1024) { /* no metadata file is this large */
            rc = fl_error_set(err, FL_EPARSE, "%s/%s is larger than 16 MiB", c->url, rel);
            break;
        }
        fl_strbuf_add(&sb, buf, (size_t)n);
    }
    close(fd);
    if (rc) {
        fl_strbuf_release(&sb);
        return rc;
    }
    *data = fl_strbuf_detach(&sb, len);
    return FL_OK;
}

int fl_cache_check_store_dir(fl_cache_conn *c, const char *store_dir, fl_error *err) {
    if (c->checked)
        return FL_OK;
    char *info = NULL;
    size_t len = 0;
    int rc = fl_cache_get(c, "nix-cache-info", &info, &len, err);
    if (rc) {
        if (rc == FL_ENOTFOUND) {
            fl_error_set(err, FL_ENOTFOUND, "%s is not a binary cache: it has no nix-cache-info",
                         c->url);
            fl_error_set_hint(err, "check the URL; 'flakectl cache push' and 'nix copy --to' "
                                   "write nix-cache-info first");
        }
        return rc;
    }
    rc = fl_cache_info_check(info, c->url, store_dir, err);
    free(info);
    if (!rc)
        c->checked = 1;
    return rc;
}

int fl_cache_info_check(const char *info, const char *url, const char *store_dir, fl_error *err) {
    const char *dir = NULL;
    size_t dlen = 0;
    for (const char *line = info; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t ll = eol ? (size_t)(eol - line) : strlen(line);
        if (ll > 10 && !strncmp(line, "StoreDir: ", 10)) {
            dir = line + 10;
            dlen = ll - 10;
        }
        line = eol ? eol + 1 : NULL;
    }
    if (dir && (dlen != strlen(store_dir) || memcmp(dir, store_dir, dlen) != 0)) {
        int rc = fl_error_set(err, FL_ECONFLICT,
                              "the binary cache %s is for the store %.*s, not %s: store paths "
                              "contain the store directory",
                              url, (int)dlen, dir, store_dir);
        fl_error_set_hint(err, "use a cache written from a store with the same directory (the "
                               "same --state-dir, or NIX_STORE_DIR for nix)");
        return rc;
    }
    return FL_OK;
}

char *fl_cache_narinfo_name(const char *store_path) {
    const char *b = strrchr(store_path, '/');
    b = b ? b + 1 : store_path;
    return fl_xasprintf("%.*s.narinfo", FL_STORE_HASH_LEN, b);
}
