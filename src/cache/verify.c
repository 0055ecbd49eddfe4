/* verify.c - checking a binary cache end to end without a store: every .narinfo parses, its
 * NAR file is there with the size and hash it claims, decompresses to the NAR size and hash
 * it claims, every reference has a .narinfo, and (with keys) a trusted key signed it. Reads
 * only; reports a line per problem. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/cache_int.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

/* Reads the whole decompressed NAR, hashing it. */
static int hash_nar(fl_decompressor *d, unsigned char out[FL_SHA256_LEN], uint64_t *size,
                    fl_error *err) {
    fl_sha256 sha;
    fl_sha256_init(&sha);
    unsigned char *buf = fl_xmalloc(65536);
    *size = 0;
    int rc;
    size_t got;
    while ((rc = fl_decompressor_read_some(d, buf, 65536, &got, err)) == 0 && got) {
        fl_sha256_update(&sha, buf, got);
        *size += got;
    }
    fl_sha256_final(&sha, out);
    free(buf);
    return rc;
}

typedef struct checker {
    fl_cache_conn *c;
    const char *store_dir;
    const fl_cache_public_key *keys;
    size_t nkeys;
    FILE *report;
    fl_cache_verify_result *res;
} checker;

static void problem(checker *k, const char *fmt, const char *a, const char *b) {
    k->res->bad++;
    if (k->report) {
        fprintf(k->report, fmt, a, b);
        fputc('\n', k->report);
    }
}

static int has_narinfo(checker *k, const char *path) {
    char *name = fl_cache_narinfo_name(path);
    int fd = -1;
    fl_error e = FL_ERROR_INIT;
    int ok = fl_cache_open_file(k->c, name, "/tmp", &fd, &e) == 0;
    if (fd >= 0)
        close(fd);
    fl_error_clear(&e);
    free(name);
    return ok;
}

static int check_nar(checker *k, const fl_narinfo *ni, fl_error *err) {
    int comp;
    if (fl_compression_parse(ni->compression, &comp) < 0) {
        problem(k, "%s: unsupported compression %s", ni->store_path, ni->compression);
        return FL_OK;
    }
    int fd = -1;
    fl_error e = FL_ERROR_INIT;
    if (fl_cache_open_file(k->c, ni->url, "/tmp", &fd, &e) != 0) {
        problem(k, "%s: %s", ni->store_path, e.message);
        fl_error_clear(&e);
        return FL_OK;
    }
    /* the compressed file first: size and hash as the narinfo says */
    fl_sha256 sha;
    fl_sha256_init(&sha);
    unsigned char buf[65536];
    uint64_t fsize = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        fl_sha256_update(&sha, buf, (size_t)n);
        fsize += (uint64_t)n;
    }
    unsigned char fh[FL_SHA256_LEN];
    fl_sha256_final(&sha, fh);
    if (n < 0) {
        close(fd);
        return fl_error_errno(err, "cannot read %s/%s", k->c->url, ni->url);
    }
    if ((ni->file_size && fsize != ni->file_size) ||
        (ni->has_file_hash && memcmp(fh, ni->file_hash, sizeof fh))) {
        problem(k, "%s: the file %s does not have the FileSize/FileHash its narinfo claims",
                ni->store_path, ni->url);
        close(fd);
        return FL_OK;
    }
    lseek(fd, 0, SEEK_SET);
    char *where = fl_xasprintf("%s/%s", k->c->url, ni->url);
    fl_decompressor *d = fl_decompressor_new(comp, fd, where);
    unsigned char nh[FL_SHA256_LEN];
    uint64_t nsize = 0;
    int rc = hash_nar(d, nh, &nsize, &e);
    fl_decompressor_free(d);
    close(fd);
    free(where);
    if (rc) {
        problem(k, "%s: %s", ni->store_path, e.message);
        fl_error_clear(&e);
        return FL_OK;
    }
    if (nsize != ni->nar_size || memcmp(nh, ni->nar_hash, sizeof nh))
        problem(k, "%s: the NAR %s does not match the NarHash/NarSize its narinfo claims",
                ni->store_path, ni->url);
    return FL_OK;
}

static int check_one(checker *k, const char *name, fl_error *err) {
    char *text = NULL;
    size_t len = 0;
    fl_error e = FL_ERROR_INIT;
    k->res->checked++;
    if (fl_cache_get(k->c, name, &text, &len, &e) != 0) {
        problem(k, "%s: %s", name, e.message);
        fl_error_clear(&e);
        return FL_OK;
    }
    char *where = fl_xasprintf("%s/%s", k->c->url, name);
    fl_narinfo *ni = NULL;
    int prc = fl_narinfo_parse(text, len, k->store_dir, where, &ni, &e);
    free(text);
    free(where);
    if (prc) {
        problem(k, "%s%s", e.message, "");
        fl_error_clear(&e);
        return FL_OK;
    }
    char *expect = fl_cache_narinfo_name(ni->store_path);
    if (strcmp(expect, name) != 0)
        problem(k, "%s describes %s", name, ni->store_path);
    free(expect);
    if (k->nkeys && !fl_narinfo_trusted(ni, k->keys, k->nkeys))
        problem(k, "%s: %s", ni->store_path,
                ni->nsigs ? "no valid signature by a trusted key" : "not signed");
    for (size_t i = 0; i < ni->nrefs; i++)
        if (strcmp(ni->refs[i], ni->store_path) && !has_narinfo(k, ni->refs[i]))
            problem(k, "%s: the reference %s is not in the cache", ni->store_path, ni->refs[i]);
    int rc = check_nar(k, ni, err);
    fl_narinfo_free(ni);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int fl_cache_verify(const char *url, const char *store_dir, char *const *paths, size_t npaths,
                    const fl_cache_public_key *keys, size_t nkeys, FILE *report,
                    fl_cache_verify_result *res, fl_error *err) {
    memset(res, 0, sizeof *res);
    fl_cache_conn c;
    int rc = fl_cache_conn_open(url, &c, err);
    if (rc)
        return rc;
    rc = fl_cache_check_store_dir(&c, store_dir, err);
    checker k = {&c, store_dir, keys, nkeys, report, res};
    char **names = NULL;
    size_t n = 0;
    if (!rc && npaths) {
        names = fl_xcalloc(npaths + 1, sizeof *names);
        for (size_t i = 0; i < npaths; i++)
            names[n++] = fl_cache_narinfo_name(paths[i]);
    } else if (!rc && c.dir) {
        DIR *dir = opendir(c.dir);
        if (!dir)
            rc = fl_error_errno(err, "cannot list %s", c.dir);
        struct dirent *de;
        while (dir && (de = readdir(dir)) != NULL) {
            size_t l = strlen(de->d_name);
            if (l == FL_STORE_HASH_LEN + 8 && !strcmp(de->d_name + FL_STORE_HASH_LEN, ".narinfo")) {
                names = fl_xrealloc(names, (n + 1) * sizeof *names);
                names[n++] = fl_xstrdup(de->d_name);
            }
        }
        if (dir)
            closedir(dir);
        if (n)
            qsort(names, n, sizeof *names, cmp_str);
    } else if (!rc) {
        rc = fl_error_set(err, FL_EUSAGE, "cannot list the paths of %s over HTTP", url);
        fl_error_set_hint(err, "name the store paths to check after the URL");
    }
    for (size_t i = 0; i < n && !rc; i++)
        rc = check_one(&k, names[i], err);
    fl_store_free_paths(names, n);
    fl_cache_conn_close(&c);
    return rc;
}
