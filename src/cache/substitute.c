/* substitute.c - making store paths valid from binary caches: look up <hash>.narinfo in each
 * cache in order, accept it only with a signature by a trusted key, substitute its
 * references first, then fetch, decompress and add the NAR through fl_store_add_nar (which
 * checks the NAR hash before registering anything). Never writes to a cache. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/cache_int.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

struct fl_substituter {
    fl_cache_conn *caches;
    size_t ncaches;
    fl_cache_public_key *keys;
    size_t nkeys;
    FILE *log;
};

/* Calls fn for each white-space separated word of each string. */
static int each_word(const char *const *v, size_t n, int (*fn)(void *, const char *, fl_error *),
                     void *ctx, fl_error *err) {
    for (size_t i = 0; i < n; i++) {
        for (const char *p = v[i]; *p;) {
            p += strspn(p, " \t\n");
            size_t k = strcspn(p, " \t\n");
            if (!k)
                break;
            char *w = fl_xstrndup(p, k);
            int rc = fn(ctx, w, err);
            free(w);
            if (rc)
                return rc;
            p += k;
        }
    }
    return FL_OK;
}

static int add_cache(void *p, const char *url, fl_error *err) {
    fl_substituter *sub = p;
    for (size_t i = 0; i < sub->ncaches; i++) {
        fl_cache_conn c;
        if (fl_cache_conn_open(url, &c, NULL) == 0) {
            int same = !strcmp(c.url, sub->caches[i].url);
            fl_cache_conn_close(&c);
            if (same)
                return FL_OK;
        }
    }
    sub->caches = fl_xrealloc(sub->caches, (sub->ncaches + 1) * sizeof *sub->caches);
    int rc = fl_cache_conn_open(url, &sub->caches[sub->ncaches], err);
    if (!rc)
        sub->ncaches++;
    return rc;
}

int fl_substituter_new(const char *const *urls, size_t nurls, const char *const *keys, size_t nkeys,
                       FILE *log, fl_substituter **out, fl_error *err) {
    fl_substituter *sub = fl_xcalloc(1, sizeof *sub);
    sub->log = log;
    int rc = each_word(urls, nurls, add_cache, sub, err);
    if (!rc)
        rc = fl_cache_public_keys_parse(keys, nkeys, "trusted public key", &sub->keys, &sub->nkeys,
                                        err);
    if (rc) {
        fl_substituter_free(sub);
        return rc;
    }
    *out = sub;
    return FL_OK;
}

void fl_substituter_free(fl_substituter *sub) {
    if (!sub)
        return;
    for (size_t i = 0; i < sub->ncaches; i++)
        fl_cache_conn_close(&sub->caches[i]);
    free(sub->caches);
    free(sub->keys);
    free(sub);
}

size_t fl_substituter_count(const fl_substituter *sub) {
    return sub ? sub->ncaches : 0;
}

/* Fetches ni's NAR from c and adds it to s. */
static int fetch_nar(fl_substituter *sub, fl_store *s, fl_cache_conn *c, const fl_narinfo *ni,
                     fl_error *err) {
    int comp;
    if (fl_compression_parse(ni->compression, &comp) < 0) {
        int rc = fl_error_set(err, FL_EPARSE, "%s/%s: unsupported compression '%s'", c->url,
                              ni->url, ni->compression);
        fl_error_set_hint(err, "flakectl reads NARs compressed with xz, zstd or none");
        return rc;
    }
    char *tmpdir = fl_path_join(fl_store_state_dir(s), "tmp");
    int fd = -1;
    int rc = fl_mkdir_p(tmpdir, 0755, err);
    if (!rc)
        rc = fl_cache_open_file(c, ni->url, tmpdir, &fd, err);
    free(tmpdir);
    if (rc)
        return rc;
    if (sub->log)
        fprintf(sub->log, "copying path '%s' from '%s'...\n", ni->store_path, c->url);
    char *where = fl_xasprintf("%s/%s", c->url, ni->url);
    fl_decompressor *d = fl_decompressor_new(comp, fd, where);
    fl_store_path_info info;
    memset(&info, 0, sizeof info);
    info.path = ni->store_path;
    memcpy(info.nar_hash, ni->nar_hash, sizeof info.nar_hash);
    info.nar_size = ni->nar_size;
    info.refs = ni->refs;
    info.nrefs = ni->nrefs;
    info.deriver = ni->deriver;
    rc = fl_store_add_nar(s, &info, fl_decompressor_read, d, err);
    fl_decompressor_free(d);
    close(fd);
    if (rc)
        fl_error_add_frame(err, "while substituting %s from %s", ni->store_path, where);
    free(where);
    return rc;
}

static int realise(fl_substituter *sub, fl_store *s, const char *path, int depth, fl_error *err);

/* Tries path in cache c: 1 added, 0 the cache does not have it, <0 refused or failed. */
static int try_cache(fl_substituter *sub, fl_store *s, fl_cache_conn *c, const char *path,
                     int depth, fl_error *err) {
    int rc = fl_cache_check_store_dir(c, fl_store_dir(s), err);
    if (rc)
        return rc;
    char *name = fl_cache_narinfo_name(path);
    char *text = NULL;
    size_t len = 0;
    rc = fl_cache_get(c, name, &text, &len, err);
    if (rc == FL_ENOTFOUND) {
        fl_error_clear(err);
        free(name);
        return 0;
    }
    fl_narinfo *ni = NULL;
    if (!rc) {
        char *where = fl_xasprintf("%s/%s", c->url, name);
        rc = fl_narinfo_parse(text, len, fl_store_dir(s), where, &ni, err);
        free(where);
    }
    free(text);
    if (!rc && strcmp(ni->store_path, path) != 0)
        rc = fl_error_set(err, FL_ECONFLICT, "%s/%s describes %s, not %s", c->url, name,
                          ni->store_path, path);
    if (!rc && !fl_narinfo_trusted(ni, sub->keys, sub->nkeys)) {
        rc = fl_error_set(err, FL_ECRYPTO, "%s/%s: %s is %s", c->url, name, path,
                          !ni->nsigs ? "not signed"
                                     : "not signed by any trusted key (or its signature is bad)");
        fl_error_set_hint(err, "trust the cache's public key with --trusted-public-key KEY or "
                               "store.trustedPublicKeys");
    }
    free(name);
    for (size_t i = 0; !rc && i < ni->nrefs; i++) {
        if (!strcmp(ni->refs[i], path))
            continue;
        int r = realise(sub, s, ni->refs[i], depth + 1, err);
        if (r == 0)
            rc = fl_error_set(err, FL_ENOTFOUND, "%s has %s but no cache has its reference %s",
                              c->url, path, ni->refs[i]);
        else if (r < 0)
            rc = r;
    }
    if (!rc)
        rc = fetch_nar(sub, s, c, ni, err);
    fl_narinfo_free(ni);
    return rc ? rc : 1;
}

static int realise(fl_substituter *sub, fl_store *s, const char *path, int depth, fl_error *err) {
    if (fl_store_is_valid(s, path))
        return 1;
    if (depth > 10000)
        return fl_error_set(err, FL_ECONFLICT, "the references of %s form a cycle", path);
    fl_error first = FL_ERROR_INIT;
    int first_rc = 0;
    for (size_t i = 0; i < sub->ncaches; i++) {
        fl_error e = FL_ERROR_INIT;
        int rc = try_cache(sub, s, &sub->caches[i], path, depth, &e);
        if (rc == 1) {
            fl_error_clear(&first);
            fl_error_clear(&e);
            return 1;
        }
        if (rc < 0 && !first_rc) { /* keep the first refusal; another cache may still have it */
            first_rc = rc;
            fl_error_move(&first, &e);
        }
        fl_error_clear(&e);
    }
    if (first_rc) {
        fl_error_move(err, &first);
        return first_rc;
    }
    return 0;
}

int fl_substituter_realise(fl_substituter *sub, fl_store *s, const char *path, fl_error *err) {
    if (!fl_store_is_store_path(s, path))
        return fl_error_set(err, FL_EUSAGE, "'%s' is not a path of the store %s", path,
                            fl_store_dir(s));
    return realise(sub, s, path, 0, err);
}

static int substitute_hook(void *ctx, fl_store *s, const char *path, fl_error *err) {
    fl_substituter *sub = ctx;
    fl_error e = FL_ERROR_INIT;
    int rc = realise(sub, s, path, 0, &e);
    if (rc < 0) {
        /* a refused or broken cache entry is never used; the build makes the path instead */
        if (sub->log) {
            fprintf(sub->log, "warning: not substituting %s: %s\n", path, e.message);
            for (int i = 0; i < e.nframes; i++)
                fprintf(sub->log, "         %s\n", e.frames[i]);
            fprintf(sub->log, "         building it instead\n");
        }
        rc = 0;
    }
    fl_error_clear(&e);
    (void)err;
    return rc;
}

void fl_substituter_attach(fl_substituter *sub, fl_store *s) {
    if (sub && sub->ncaches)
        fl_store_set_substituter(s, substitute_hook, sub);
}
