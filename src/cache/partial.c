/* partial.c - NAR downloads over HTTP that survive an interruption (a dropped connection, a
 * killed process). The bytes go to <state>/tmp/partial/<sha256 of the URL>.nar, the store's
 * own temporary area, and a small note beside it (.meta, renamed into place every MiB) says
 * how many bytes of it were checked, their SHA-256 and the validator (ETag or Last-Modified)
 * of the response they came from. The next download of that URL hashes the bytes the note
 * vouches for again; when they are intact it asks only for the rest (Range from there,
 * If-Range), and otherwise, or when the server sends the whole file instead (it ignores
 * ranges, or the file changed), it starts over. The finished file must have the narinfo's
 * FileSize and FileHash; a resumed one that does not is fetched once more from the start.
 * Nothing here registers anything: the caller unpacks the file and checks the NAR hash. No
 * sync either: the prefix is hashed again before it is trusted, so a note that outlived its
 * data (a power cut) only costs the download. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache_int.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

/* How often the note is brought up to date: what a kill can cost at most. */
#define NOTE_EVERY (1u << 20)
/* Attempts within one download when the connection drops after some progress. */
#define MAX_ATTEMPTS 3

typedef struct download {
    int fd;
    const char *url;
    char *meta;   /* the note's path; NULL: an anonymous file, nothing to resume */
    uint64_t pos; /* bytes held, all of them hashed into sha */
    fl_sha256 sha;
    uint64_t noted; /* pos when the note was last written */
    char validator[256];
    const fl_http_request *rq;
} download;

/* Writes the note for what is held now; best effort (without it the next run starts over). */
static void write_note(download *d) {
    if (!d->meta || d->pos == d->noted)
        return;
    fl_sha256 copy;
    fl_sha256_copy(&copy, &d->sha);
    unsigned char h[FL_SHA256_LEN];
    fl_sha256_final(&copy, h);
    char hex[2 * FL_SHA256_LEN + 1];
    fl_hex_encode(h, sizeof h, hex);
    char *text = fl_xasprintf("flakectl-partial 1\nurl %s\nvalidator %s\noffset %llu\nsha256 %s\n",
                              d->url, d->validator, (unsigned long long)d->pos, hex);
    fl_error e = FL_ERROR_INIT;
    if (fl_atomic_write_file_ex(d->meta, text, strlen(text), 0600, FL_ATOMIC_NO_SYNC, &e) == 0)
        d->noted = d->pos;
    fl_error_clear(&e);
    free(text);
}

static void restart(download *d) {
    unsigned char dummy[FL_SHA256_LEN];
    fl_sha256_final(&d->sha, dummy);
    fl_sha256_init(&d->sha);
    d->pos = d->noted = 0;
    d->validator[0] = '\0';
    if (ftruncate(d->fd, 0) < 0) {
        /* the next writes overwrite from 0 anyway; the size is checked at the end */
    }
    if (d->meta)
        unlink(d->meta);
}

/* The value of "key " in the note, or NULL. */
static const char *note_field(const char *text, const char *key, size_t *len) {
    size_t kl = strlen(key);
    for (const char *l = text; l && *l;) {
        const char *eol = strchr(l, '\n');
        size_t ll = eol ? (size_t)(eol - l) : strlen(l);
        if (ll > kl && !strncmp(l, key, kl) && l[kl] == ' ') {
            *len = ll - kl - 1;
            return l + kl + 1;
        }
        l = eol ? eol + 1 : NULL;
    }
    return NULL;
}

/* Hashes the first n bytes of the file into sha; 0 when they were all there. */
static int hash_prefix(int fd, uint64_t n, fl_sha256 *sha) {
    char buf[1 << 16];
    uint64_t off = 0;
    while (off < n) {
        size_t want = n - off < sizeof buf ? (size_t)(n - off) : sizeof buf;
        ssize_t r = pread(fd, buf, want, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        fl_sha256_update(sha, buf, (size_t)r);
        off += (uint64_t)r;
    }
    return 0;
}

/* Takes up what an earlier download of the same URL left, when its note vouches for it and
 * the bytes still hash to what the note says: d->pos is then where to go on from. */
static void take_up(download *d, uint64_t size) {
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    if (!d->meta || fl_read_file(d->meta, &text, &len, NULL) != 0 || fstat(d->fd, &st) < 0) {
        free(text);
        return;
    }
    size_t ul = 0, vl = 0, ol = 0, hl = 0;
    const char *u = note_field(text, "url", &ul), *v = note_field(text, "validator", &vl);
    const char *o = note_field(text, "offset", &ol), *h = note_field(text, "sha256", &hl);
    unsigned long long off = 0;
    char hex[2 * FL_SHA256_LEN + 1];
    int ok = !strncmp(text, "flakectl-partial 1\n", 19) && u && v && o && h &&
             ul == strlen(d->url) && !memcmp(u, d->url, ul) && vl < sizeof d->validator &&
             hl == 2 * FL_SHA256_LEN && sscanf(o, "%llu", &off) == 1 && off > 0 &&
             off <= (unsigned long long)st.st_size && (!size || off <= size);
    if (ok) {
        fl_sha256 sha;
        fl_sha256_init(&sha);
        ok = hash_prefix(d->fd, off, &sha) == 0;
        fl_sha256 copy;
        fl_sha256_copy(&copy, &sha);
        unsigned char got[FL_SHA256_LEN];
        fl_sha256_final(&copy, got);
        fl_hex_encode(got, sizeof got, hex);
        ok = ok && !memcmp(hex, h, hl);
        if (ok) {
            unsigned char dummy[FL_SHA256_LEN];
            fl_sha256_final(&d->sha, dummy);
            d->sha = sha;
            d->pos = d->noted = off;
            memcpy(d->validator, v, vl);
            d->validator[vl] = '\0';
        } else {
            unsigned char dummy[FL_SHA256_LEN];
            fl_sha256_final(&sha, dummy);
        }
    }
    free(text);
    /* bytes past what the note vouches for were written after it: not trusted */
    if (ftruncate(d->fd, (off_t)d->pos) < 0)
        d->pos = 0;
    if (!d->pos && d->meta)
        unlink(d->meta);
}

static int on_start(void *ctx, uint64_t at, fl_error *err) {
    download *d = ctx;
    if (at != d->pos) {
        if (at != 0)
            return fl_error_set(err, FL_ENET,
                                "%s: the server sent the bytes from %llu on, not "
                                "from %llu",
                                d->url, (unsigned long long)at, (unsigned long long)d->pos);
        restart(d); /* the whole file came: what was held goes */
    }
    snprintf(d->validator, sizeof d->validator, "%s", d->rq->validator);
    return 0;
}

static int on_write(void *ctx, const void *data, size_t len, fl_error *err) {
    download *d = ctx;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = pwrite(d->fd, p, left, (off_t)d->pos);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return fl_error_errno(err, "cannot store the download of %s", d->url);
        fl_sha256_update(&d->sha, p, (size_t)w);
        d->pos += (uint64_t)w;
        p += w;
        left -= (size_t)w;
    }
    if (d->pos - d->noted >= NOTE_EVERY)
        write_note(d);
    return 0;
}

/* Does the file held match what the narinfo says? 0, or an error naming what. */
static int check_file(download *d, const char *what, uint64_t size, const unsigned char *hash,
                      fl_error *err) {
    fl_sha256 copy;
    fl_sha256_copy(&copy, &d->sha);
    unsigned char got[FL_SHA256_LEN];
    fl_sha256_final(&copy, got);
    if ((size && d->pos != size) || (hash && memcmp(got, hash, sizeof got))) {
        char *g = fl_hash_format(got), *w = hash ? fl_hash_format(hash) : NULL;
        int rc = fl_error_set(err, FL_ECRYPTO,
                              "hash mismatch for %s: %s is not the file its narinfo names "
                              "(FileHash %s, FileSize %llu; the download is %s, %llu bytes)",
                              what, d->url, w ? w : "(none)", (unsigned long long)size, g,
                              (unsigned long long)d->pos);
        free(g);
        free(w);
        return rc;
    }
    return 0;
}

/* Opens the partial file for url in dir, locked; when another download holds it, an
 * anonymous file instead (*meta NULL). */
static int open_partial(const char *dir, const char *url, int *fd, char **part, char **meta,
                        fl_error *err) {
    unsigned char h[FL_SHA256_LEN];
    fl_sha256_buf(url, strlen(url), h);
    char hex[2 * FL_SHA256_LEN + 1];
    fl_hex_encode(h, sizeof h, hex);
    *part = fl_xasprintf("%s/%s.nar", dir, hex);
    *meta = fl_xasprintf("%s/%s.meta", dir, hex);
    *fd = open(*part, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat st;
    if (*fd >= 0 && (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
                     st.st_uid != geteuid())) {
        close(*fd);
        *fd = -1;
        errno = EEXIST;
    }
    if (*fd >= 0 && flock(*fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    /* in use by another download of the same file (or not a file we made): this one goes to
     * an anonymous file and cannot be resumed */
    if (*fd >= 0)
        close(*fd);
    free(*part);
    free(*meta);
    *part = *meta = NULL;
    *fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (*fd < 0)
        return fl_error_errno(err, "cannot make a temporary file in %s", dir);
    return 0;
}

int fl_cache_fetch_resumable(fl_cache_conn *c, const char *rel, const char *dir, uint64_t size,
                             const unsigned char *hash, const char *what, FILE *log, int *out,
                             fl_error *err) {
    *out = -1;
    download d;
    memset(&d, 0, sizeof d);
    char *url = fl_xasprintf("%s/%s", c->url, rel);
    char *part = NULL;
    d.url = url;
    fl_sha256_init(&d.sha);
    int rc = open_partial(dir, url, &d.fd, &part, &d.meta, err);
    if (rc) {
        unsigned char dummy[FL_SHA256_LEN];
        fl_sha256_final(&d.sha, dummy);
        free(url);
        return rc;
    }
    take_up(&d, size);
    if (d.pos && log)
        fprintf(log, "resuming the download of %s at byte %llu\n", url, (unsigned long long)d.pos);
    int attempts = 0, whole_again = 0;
    uint64_t taken_up = d.pos; /* bytes not from this attempt's response: not yet checked */
    for (;;) {
        fl_http_request rq;
        memset(&rq, 0, sizeof rq);
        rq.url = url;
        rq.from = d.pos;
        rq.if_range = d.pos ? d.validator : NULL;
        rq.start = on_start;
        rq.write = on_write;
        rq.ctx = &d;
        d.rq = &rq;
        uint64_t before = d.pos;
        /* complete already (killed between the download and its use): nothing to ask */
        rc = size && d.pos == size
                 ? 0
                 : fl_cache_http_result(&rq, fl_http_get(&c->client, &rq, err), err);
        attempts++;
        if (rc && rq.status == 416 && before) {
            /* the server has fewer bytes than we hold: not the same file */
            fl_error_clear(err);
            restart(&d);
            taken_up = 0;
            continue;
        }
        if (rc == FL_ENET && rq.status < 400 && d.pos > before && attempts < MAX_ATTEMPTS) {
            /* the connection dropped after some progress: go on from there at once */
            write_note(&d);
            if (log)
                fprintf(log, "the download of %s stopped at byte %llu (%s): resuming\n", url,
                        (unsigned long long)d.pos, err->message ? err->message : "?");
            fl_error_clear(err);
            taken_up = d.pos;
            continue;
        }
        if (rc && rq.status == 206 && d.pos == before && before && !whole_again) {
            /* a range that does not start where asked: take the whole file instead */
            fl_error_clear(err);
            restart(&d);
            taken_up = 0;
            whole_again = 1;
            continue;
        }
        if (rc) {
            write_note(&d); /* the next download goes on from here */
            break;
        }
        rc = check_file(&d, what, size, hash, err);
        if (rc && taken_up && !whole_again) {
            /* bytes kept from before did not make the file: fetch all of it once more */
            if (log)
                fprintf(log,
                        "the resumed download of %s is not the file its narinfo names: "
                        "downloading it again\n",
                        url);
            fl_error_clear(err);
            restart(&d);
            taken_up = 0;
            whole_again = 1;
            continue;
        }
        break;
    }
    if (rc == 0 && lseek(d.fd, 0, SEEK_SET) < 0)
        rc = fl_error_errno(err, "cannot rewind the download of %s", url);
    if (rc == 0 || rc == FL_ECRYPTO || rc == FL_ENOTFOUND) {
        /* used now (the open descriptor keeps the bytes), or worthless */
        if (part)
            unlink(part);
        if (d.meta)
            unlink(d.meta);
    }
    unsigned char dummy[FL_SHA256_LEN];
    fl_sha256_final(&d.sha, dummy);
    if (rc == 0) {
        *out = d.fd;
    } else {
        close(d.fd);
    }
    free(part);
    free(d.meta);
    free(url);
    return rc;
}
