/* pointer.c - a cache's signed host pointers (hosts/<H>): which toplevel host H should run,
 * with a counter that only grows, signed with the cache's key. Parsing, writing and
 * checking the text, reading one from a cache, and writing one after a push. A pointer is
 * what pull mode trusts instead of a flake, so every field is checked here and nothing else
 * decides whether one is acceptable. Never activates or records anything (activate/ does). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/cache_int.h"
#include "flakectl/strbuf.h"

/* Covered by the signature; the prefix keeps a narinfo signature (or anything else signed
 * with the same key) from ever passing as a pointer's. */
#define POINTER_DOMAIN "flakectl-host-pointer-1"

int fl_host_name_valid(const char *h) {
    size_t n = h ? strlen(h) : 0;
    if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

void fl_host_pointer_free(fl_host_pointer *p) {
    if (!p)
        return;
    free(p->host);
    free(p->store_path);
    free(p->rev);
    fl_store_free_paths(p->sigs, p->nsigs);
    free(p);
}

static int rev_ok(const char *r) {
    size_t n = strlen(r);
    if (n != 40)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((r[i] >= '0' && r[i] <= '9') || (r[i] >= 'a' && r[i] <= 'f')))
            return 0;
    return 1;
}

static int store_path_ok(const char *p, const char *store_dir) {
    size_t sd = strlen(store_dir);
    if (strncmp(p, store_dir, sd) || p[sd] != '/')
        return 0;
    const char *b = p + sd + 1;
    if (strlen(b) < FL_STORE_HASH_LEN + 2 || b[FL_STORE_HASH_LEN] != '-' || strchr(b, '/'))
        return 0;
    for (size_t i = 0; i < FL_STORE_HASH_LEN; i++)
        if (!fl_base32_valid_char(b[i]))
            return 0;
    return fl_store_check_name(b + FL_STORE_HASH_LEN + 1, NULL) == FL_OK;
}

int fl_host_pointer_parse(const char *text, size_t len, const char *store_dir, const char *where,
                          fl_host_pointer **out, fl_error *err) {
    *out = NULL;
    fl_host_pointer *p = fl_xcalloc(1, sizeof *p);
    const char *bad = NULL;
    int lineno = 0, have_counter = 0;
    char *line = NULL;
    for (size_t pos = 0; pos < len && !bad;) {
        const char *start = text + pos;
        const char *eol = memchr(start, '\n', len - pos);
        size_t llen = eol ? (size_t)(eol - start) : len - pos;
        pos += llen + 1;
        lineno++;
        if (memchr(start, '\0', llen)) {
            bad = "a NUL byte";
            break;
        }
        free(line);
        line = fl_xstrndup(start, llen);
        if (llen == 0)
            continue;
        char *sep = strstr(line, ": ");
        if (!sep) {
            bad = "a line without 'Key: value'";
            break;
        }
        *sep = '\0';
        const char *key = line, *val = sep + 2;
        if (!strcmp(key, "Host")) {
            if (!fl_host_name_valid(val))
                bad = "Host is not a host name";
            free(p->host);
            p->host = fl_xstrdup(val);
        } else if (!strcmp(key, "StorePath")) {
            if (!store_path_ok(val, store_dir))
                bad = "StorePath is not a path of this store directory";
            free(p->store_path);
            p->store_path = fl_xstrdup(val);
        } else if (!strcmp(key, "Counter")) {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(val, &end, 10);
            if (!*val || *val < '0' || *val > '9' || errno || *end || v == 0)
                bad = "Counter is not a positive number";
            p->counter = v;
            have_counter = 1;
        } else if (!strcmp(key, "Rev")) {
            if (*val && !rev_ok(val))
                bad = "Rev is not a 40-digit Git revision";
            free(p->rev);
            p->rev = *val ? fl_xstrdup(val) : NULL;
        } else if (!strcmp(key, "Sig")) {
            p->sigs = fl_xrealloc(p->sigs, (p->nsigs + 2) * sizeof *p->sigs);
            p->sigs[p->nsigs++] = fl_xstrdup(val);
            p->sigs[p->nsigs] = NULL;
        }
        /* other keys are a later version's additions: ignored, and not signed */
    }
    if (!bad && !p->host)
        bad = "no Host", lineno = 0;
    else if (!bad && !p->store_path)
        bad = "no StorePath", lineno = 0;
    else if (!bad && !have_counter)
        bad = "no Counter", lineno = 0;
    free(line);
    if (bad) {
        fl_host_pointer_free(p);
        int rc = fl_error_set(err, FL_EPARSE, "%s: not a host pointer: %s", where, bad);
        if (lineno)
            fl_error_set_loc(err, where, lineno, 1);
        fl_error_set_hint(err, "host pointers are written by 'flakectl cache push --host H "
                               "--key KEY' (docs/pull.md)");
        return rc;
    }
    *out = p;
    return FL_OK;
}

char *fl_host_pointer_fingerprint(const fl_host_pointer *p) {
    return fl_xasprintf(POINTER_DOMAIN ";%s;%s;%llu;%s", p->host, p->store_path,
                        (unsigned long long)p->counter, p->rev ? p->rev : "");
}

char *fl_host_pointer_format(const fl_host_pointer *p) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 512);
    fl_strbuf_addf(&sb, "Host: %s\nStorePath: %s\nCounter: %llu\n", p->host, p->store_path,
                   (unsigned long long)p->counter);
    if (p->rev)
        fl_strbuf_addf(&sb, "Rev: %s\n", p->rev);
    for (size_t i = 0; i < p->nsigs; i++)
        fl_strbuf_addf(&sb, "Sig: %s\n", p->sigs[i]);
    return fl_strbuf_detach(&sb, NULL);
}

int fl_host_pointer_trusted(const fl_host_pointer *p, const fl_cache_public_key *keys,
                            size_t nkeys) {
    char *fp = fl_host_pointer_fingerprint(p);
    int ok = 0;
    for (size_t i = 0; i < p->nsigs && !ok; i++)
        ok = fl_cache_sig_valid(p->sigs[i], fp, keys, nkeys);
    free(fp);
    return ok;
}

int fl_host_pointer_fetch(const char *url, const char *host, const char *store_dir,
                          const fl_cache_public_key *keys, size_t nkeys, fl_host_pointer **out,
                          fl_error *err) {
    *out = NULL;
    if (!fl_host_name_valid(host))
        return fl_error_set(err, FL_EUSAGE,
                            "'%s' is not a host name (letters, digits, '.', "
                            "'-', '_')",
                            host);
    fl_cache_conn c;
    int rc = fl_cache_conn_open(url, &c, err);
    if (rc)
        return rc;
    char *rel = fl_xasprintf("hosts/%s", host);
    char *where = fl_xasprintf("%s/%s", c.url, rel);
    char *text = NULL;
    size_t len = 0;
    fl_host_pointer *p = NULL;
    rc = fl_cache_get(&c, rel, &text, &len, err);
    if (rc == FL_ENOTFOUND)
        fl_error_set_hint(err,
                          "push the host's toplevel with 'flakectl cache push --to URL "
                          "--host %s --key KEY'",
                          host);
    if (!rc)
        rc = fl_host_pointer_parse(text, len, store_dir, where, &p, err);
    if (!rc && strcmp(p->host, host) != 0) {
        rc = fl_error_set(err, FL_ECRYPTO, "%s names host '%s', not '%s': refused", where, p->host,
                          host);
    } else if (!rc && !p->nsigs) {
        rc = fl_error_set(err, FL_ECRYPTO, "%s is not signed: refused", where);
        fl_error_set_hint(err, "push with --key KEY, and trust its public key here");
    } else if (!rc && !fl_host_pointer_trusted(p, keys, nkeys)) {
        rc = fl_error_set(err, FL_ECRYPTO,
                          "%s has no valid signature by a trusted key (%zu signature%s, %zu "
                          "trusted key%s): refused",
                          where, p->nsigs, p->nsigs == 1 ? "" : "s", nkeys, nkeys == 1 ? "" : "s");
        fl_error_set_hint(err, nkeys ? "the pointer was changed or signed by another key: check "
                                       "--trusted-public-key / services.flakectl.pull."
                                       "trustedPublicKeys"
                                     : "name the cache's public key with --trusted-public-key");
    }
    if (rc) {
        fl_host_pointer_free(p);
        p = NULL;
    }
    *out = p;
    free(text);
    free(where);
    free(rel);
    fl_cache_conn_close(&c);
    return rc;
}

static uint64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int fl_cache_write_host_pointer(const fl_cache_writer *w, const char *store_dir, const char *host,
                                const char *toplevel, const char *rev,
                                const fl_cache_secret_key *key, uint64_t *counter, fl_error *err) {
    if (!fl_host_name_valid(host))
        return fl_error_set(err, FL_EUSAGE,
                            "'%s' is not a host name (letters, digits, '.', "
                            "'-', '_')",
                            host);
    if (rev && !rev_ok(rev))
        rev = NULL; /* a dirty tree or no Git: the pointer says nothing about a revision */
    char *rel = fl_xasprintf("hosts/%s", host);
    char *old_text = NULL;
    size_t old_len = 0;
    /* The counter is the push's wall-clock time in ms, but always above the pointer it
     * replaces: a wiped cache still gets counters above what hosts applied (clocks permitting)
     * and a clock that stepped back still moves forward. */
    uint64_t next = wall_ms();
    int rc = w->get(w->ctx, rel, &old_text, &old_len, err);
    if (rc == FL_ENOTFOUND) {
        fl_error_clear(err);
        rc = FL_OK;
    } else if (!rc) {
        fl_host_pointer *old = NULL;
        char *where = fl_xasprintf("%s/%s", w->url, rel);
        if (fl_host_pointer_parse(old_text, old_len, store_dir, where, &old, err) == 0 &&
            old->counter >= next)
            next = old->counter + 1;
        /* an unreadable old pointer is simply replaced */
        fl_error_clear(err);
        fl_host_pointer_free(old);
        free(where);
    }
    free(old_text);
    if (rc) {
        free(rel);
        return rc;
    }
    fl_host_pointer p;
    memset(&p, 0, sizeof p);
    p.host = (char *)host;
    p.store_path = (char *)toplevel;
    p.counter = next;
    p.rev = (char *)rev;
    char *fp = fl_host_pointer_fingerprint(&p);
    char *sig = fl_cache_sign(key, fp);
    char *sigs[2] = {sig, NULL};
    p.sigs = sigs;
    p.nsigs = 1;
    char *text = fl_host_pointer_format(&p);
    rc = w->put_data(w->ctx, rel, text, strlen(text), err);
    if (rc)
        fl_error_add_frame(err, "while writing the pointer %s/%s", w->url, rel);
    else if (counter)
        *counter = next;
    free(text);
    free(sig);
    free(fp);
    free(rel);
    return rc;
}
