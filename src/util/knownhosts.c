/* knownhosts.c - OpenSSH known_hosts: checking a server's key (plain, hashed "|1|" and
 * "[host]:port" entries, with the line number for messages), appending a trusted key, and
 * fingerprints. It never removes or rewrites an existing entry: that is the user's call. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "flakectl/base64.h"
#include "flakectl/fs.h"
#include "flakectl/knownhosts.h"
#include "flakectl/strbuf.h"

static int match_here(const char *p, const char *s) {
    for (;; p++, s++) {
        if (*p == '\0')
            return *s == '\0';
        if (*p == '*') {
            while (p[1] == '*')
                p++;
            if (p[1] == '\0')
                return 1;
            for (; *s; s++)
                if (match_here(p + 1, s))
                    return 1;
            return match_here(p + 1, s);
        }
        if (*s == '\0')
            return 0;
        if (*p != '?' && tolower((unsigned char)*p) != tolower((unsigned char)*s))
            return 0;
    }
}

int fl_ssh_pattern_match(const char *pattern, const char *s) {
    return match_here(pattern, s);
}

/* Standard base64, padding optional (OpenSSH writes it; hand-edited files may not): an
 * owned buffer, or NULL. */
static unsigned char *b64_decode(const char *s, size_t slen, size_t *outlen) {
    size_t cap = slen / 4 * 3 + 3;
    unsigned char *out = fl_xmalloc(cap);
    if (fl_base64_decode(s, slen, out, cap, outlen, NULL, 0) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

char *fl_ssh_fingerprint(const unsigned char *key, size_t keylen) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(key, keylen, md, &mdlen, EVP_sha256(), NULL);
    char *b = fl_base64_encode_str(md, mdlen, 0);
    char *fp = fl_xasprintf("SHA256:%s", b);
    free(b);
    return fp;
}

char *fl_ssh_key_type(const unsigned char *key, size_t keylen) {
    if (keylen < 4)
        return NULL;
    size_t n = (size_t)key[0] << 24 | (size_t)key[1] << 16 | (size_t)key[2] << 8 | key[3];
    if (n == 0 || n > keylen - 4 || n > 64)
        return NULL;
    return fl_xstrndup((const char *)key + 4, n);
}

char *fl_known_hosts_name(const char *host, int port) {
    if (port == 0 || port == 22)
        return fl_xstrdup(host);
    return fl_xasprintf("[%s]:%d", host, port);
}

/* "|1|salt|hash": HMAC-SHA1 keyed with the salt over the host name. */
static int hashed_matches(const char *field, const char *name) {
    const char *salt = field + 3;
    const char *bar = strchr(salt, '|');
    if (!bar)
        return 0;
    size_t saltlen, hashlen;
    unsigned char *rawsalt = b64_decode(salt, (size_t)(bar - salt), &saltlen);
    unsigned char *rawhash = b64_decode(bar + 1, strlen(bar + 1), &hashlen);
    int ok = 0;
    if (rawsalt && rawhash) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        HMAC(EVP_sha1(), rawsalt, (int)saltlen, (const unsigned char *)name, strlen(name), md,
             &mdlen);
        ok = mdlen == hashlen && memcmp(md, rawhash, mdlen) == 0;
    }
    free(rawsalt);
    free(rawhash);
    return ok;
}

/* A comma list of patterns: some positive one matches and no negated one does. */
static int patterns_match(const char *field, const char *name) {
    int hit = 0;
    char *copy = fl_xstrdup(field);
    for (char *p = copy, *next; p; p = next) {
        next = strchr(p, ',');
        if (next)
            *next++ = '\0';
        if (p[0] == '!') {
            if (fl_ssh_pattern_match(p + 1, name)) {
                hit = 0;
                break;
            }
        } else if (fl_ssh_pattern_match(p, name)) {
            hit = 1;
        }
    }
    free(copy);
    return hit;
}

static void add_type(fl_known_host_check *c, const char *type) {
    for (int i = 0; i < c->ntypes; i++)
        if (!strcmp(c->types[i], type))
            return;
    c->types = fl_xrealloc(c->types, sizeof(char *) * (size_t)(c->ntypes + 1));
    c->types[c->ntypes++] = fl_xstrdup(type);
}

static char *next_field(char **s) {
    char *p = *s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return NULL;
    char *start = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    if (*p)
        *p++ = '\0';
    *s = p;
    return start;
}

int fl_known_hosts_check(const char *path, const char *host, int port, const unsigned char *key,
                         size_t keylen, fl_known_host_check *out, fl_error *err) {
    memset(out, 0, sizeof *out);
    out->result = FL_KNOWN_HOST_UNKNOWN;
    /* without a key, only the known types are collected (for algorithm preference) */
    char *keytype = key ? fl_ssh_key_type(key, keylen) : fl_xstrdup("");
    if (!keytype)
        return fl_error_set(err, FL_ECRYPTO, "the server sent a malformed host key");
    if (access(path, F_OK) < 0 && errno == ENOENT) {
        free(keytype);
        return 0;
    }
    char *data = NULL;
    size_t len = 0;
    if (fl_read_file(path, &data, &len, err) < 0) {
        free(keytype);
        return FL_EIO;
    }
    char *name = fl_known_hosts_name(host, port);
    int match_line = 0, changed_line = 0, revoked_line = 0, lineno = 0;
    for (char *line = data, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r')
            line[ll - 1] = '\0'; /* a file edited on Windows */
        char *s = line;
        char *f = next_field(&s);
        if (!f || f[0] == '#')
            continue;
        int revoked = 0;
        if (f[0] == '@') {
            if (!strcmp(f, "@revoked"))
                revoked = 1;
            else
                continue; /* @cert-authority: certificates are not used */
            f = next_field(&s);
            if (!f)
                continue;
        }
        char *hosts = f;
        char *type = next_field(&s);
        char *b64 = next_field(&s);
        if (!type || !b64)
            continue;
        int named = strncmp(hosts, "|1|", 3) == 0 ? hashed_matches(hosts, name)
                                                  : patterns_match(hosts, name);
        if (!named)
            continue;
        size_t bloblen = 0;
        unsigned char *blob = b64_decode(b64, strlen(b64), &bloblen);
        if (!blob)
            continue;
        char *btype = fl_ssh_key_type(blob, bloblen);
        int same = key && bloblen == keylen && memcmp(blob, key, keylen) == 0;
        if (revoked) {
            if (same && !revoked_line)
                revoked_line = lineno;
        } else if (btype) {
            add_type(out, btype);
            if (same && !match_line)
                match_line = lineno;
            else if (key && !same && !strcmp(btype, keytype) && !changed_line)
                changed_line = lineno;
        }
        free(btype);
        free(blob);
    }
    if (revoked_line) {
        out->result = FL_KNOWN_HOST_REVOKED;
        out->line = revoked_line;
    } else if (match_line) {
        out->result = FL_KNOWN_HOST_MATCH;
        out->line = match_line;
    } else if (changed_line) {
        out->result = FL_KNOWN_HOST_CHANGED;
        out->line = changed_line;
    }
    free(name);
    free(data);
    free(keytype);
    return 0;
}

void fl_known_host_check_release(fl_known_host_check *c) {
    for (int i = 0; i < c->ntypes; i++)
        free(c->types[i]);
    free(c->types);
    memset(c, 0, sizeof *c);
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        return fl_xstrdup(".");
    return fl_xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* Read-modify-write of the file: hosts of a fleet accepted in parallel must not drop each
 * other's lines. */
static pthread_mutex_t add_lock = PTHREAD_MUTEX_INITIALIZER;

static int add_locked(const char *path, const char *host, int port, const unsigned char *key,
                      size_t keylen, int hashed, fl_error *err);

int fl_known_hosts_add(const char *path, const char *host, int port, const unsigned char *key,
                       size_t keylen, int hashed, fl_error *err) {
    pthread_mutex_lock(&add_lock);
    int rc = add_locked(path, host, port, key, keylen, hashed, err);
    pthread_mutex_unlock(&add_lock);
    return rc;
}

static int add_locked(const char *path, const char *host, int port, const unsigned char *key,
                      size_t keylen, int hashed, fl_error *err) {
    char *type = fl_ssh_key_type(key, keylen);
    if (!type)
        return fl_error_set(err, FL_ECRYPTO, "the server sent a malformed host key");
    char *dir = dir_of(path);
    int rc = fl_mkdir_p(dir, 0700, err);
    free(dir);
    if (rc < 0) {
        free(type);
        return rc;
    }
    fl_strbuf sb;
    fl_strbuf_init(&sb, 4096);
    mode_t mode = 0600;
    struct stat st;
    if (stat(path, &st) == 0) {
        char *old = NULL;
        size_t oldlen = 0;
        if (fl_read_file(path, &old, &oldlen, err) < 0) {
            free(type);
            fl_strbuf_release(&sb);
            return FL_EIO;
        }
        fl_strbuf_add(&sb, old, oldlen);
        if (oldlen > 0 && old[oldlen - 1] != '\n')
            fl_strbuf_addch(&sb, '\n');
        free(old);
        mode = st.st_mode & 07777;
    }
    char *name = fl_known_hosts_name(host, port);
    if (hashed) {
        unsigned char salt[20], md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        RAND_bytes(salt, sizeof salt);
        HMAC(EVP_sha1(), salt, sizeof salt, (const unsigned char *)name, strlen(name), md, &mdlen);
        char *s64 = fl_base64_encode_str(salt, sizeof salt, 1);
        char *h64 = fl_base64_encode_str(md, mdlen, 1);
        fl_strbuf_addf(&sb, "|1|%s|%s", s64, h64);
        free(s64);
        free(h64);
    } else {
        fl_strbuf_adds(&sb, name);
    }
    char *k64 = fl_base64_encode_str(key, keylen, 1);
    fl_strbuf_addf(&sb, " %s %s\n", type, k64);
    free(k64);
    rc = fl_atomic_write_file(path, sb.buf, sb.len, mode, err);
    if (rc < 0)
        fl_error_add_frame(err, "while adding the host key of %s to %s", name, path);
    free(name);
    free(type);
    fl_strbuf_release(&sb);
    return rc;
}
