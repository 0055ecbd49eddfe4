/* narinfo.c - the .narinfo text of a binary cache (parse and write, field for field as Nix
 * 2.8 does) and the fingerprint its signatures cover. Pure: never touches files or the
 * network. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/cache.h"
#include "flakectl/strbuf.h"

void fl_narinfo_free(fl_narinfo *ni) {
    if (!ni)
        return;
    free(ni->store_path);
    free(ni->url);
    free(ni->compression);
    fl_store_free_paths(ni->refs, ni->nrefs);
    free(ni->deriver);
    fl_store_free_paths(ni->sigs, ni->nsigs);
    free(ni->ca);
    free(ni);
}

/* "<32 base32>-<name>", the base name of a store path. */
static int base_name_ok(const char *b) {
    size_t n = strlen(b);
    if (n < FL_STORE_HASH_LEN + 2 || b[FL_STORE_HASH_LEN] != '-' || strchr(b, '/'))
        return 0;
    for (size_t i = 0; i < FL_STORE_HASH_LEN; i++)
        if (!fl_base32_valid_char(b[i]))
            return 0;
    return fl_store_check_name(b + FL_STORE_HASH_LEN + 1, NULL) == FL_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_u64(const char *s, uint64_t *out) {
    if (!*s || *s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static void push(char ***v, size_t *n, char *s) {
    *v = fl_xrealloc(*v, (*n + 2) * sizeof **v);
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

int fl_narinfo_parse(const char *text, size_t len, const char *store_dir, const char *where,
                     fl_narinfo **out, fl_error *err) {
    fl_narinfo *ni = fl_xcalloc(1, sizeof *ni);
    size_t sdlen = strlen(store_dir);
    int have_nar_hash = 0, have_nar_size = 0, lineno = 0, rc = FL_OK;
    const char *bad = NULL;
    char *line = NULL;
    for (size_t pos = 0; pos < len && !bad;) {
        const char *eol = memchr(text + pos, '\n', len - pos);
        size_t llen = eol ? (size_t)(eol - (text + pos)) : len - pos;
        free(line);
        line = fl_xstrndup(text + pos, llen);
        pos += llen + 1;
        lineno++;
        if (memchr(line, '\0', llen)) {
            bad = "a NUL byte";
            break;
        }
        char *sep = strstr(line, ": ");
        if (!sep) {
            if (llen == 0)
                continue;
            bad = "a line without 'Key: value'";
            break;
        }
        *sep = '\0';
        const char *key = line, *val = sep + 2;
        if (!strcmp(key, "StorePath")) {
            if (strncmp(val, store_dir, sdlen) || val[sdlen] != '/' ||
                !base_name_ok(val + sdlen + 1))
                bad = "StorePath is not a path of this store directory";
            else {
                free(ni->store_path);
                ni->store_path = fl_xstrdup(val);
            }
        } else if (!strcmp(key, "URL")) {
            /* relative to the cache, and never leaving it */
            if (!*val || val[0] == '/' || strstr(val, "..") || strchr(val, '?'))
                bad = "URL is not a relative file name in the cache";
            else {
                free(ni->url);
                ni->url = fl_xstrdup(val);
            }
        } else if (!strcmp(key, "Compression")) {
            free(ni->compression);
            ni->compression = fl_xstrdup(val);
        } else if (!strcmp(key, "FileHash")) {
            if (fl_hash_parse(val, ni->file_hash) < 0)
                bad = "FileHash is not a sha256 hash";
            ni->has_file_hash = 1;
        } else if (!strcmp(key, "FileSize")) {
            if (parse_u64(val, &ni->file_size) < 0)
                bad = "FileSize is not a number";
        } else if (!strcmp(key, "NarHash")) {
            if (fl_hash_parse(val, ni->nar_hash) < 0)
                bad = "NarHash is not a sha256 hash";
            have_nar_hash = 1;
        } else if (!strcmp(key, "NarSize")) {
            if (parse_u64(val, &ni->nar_size) < 0)
                bad = "NarSize is not a number";
            have_nar_size = 1;
        } else if (!strcmp(key, "References")) {
            fl_store_free_paths(ni->refs, ni->nrefs);
            ni->refs = NULL;
            ni->nrefs = 0;
            const char *p = val;
            while (*p && !bad) {
                while (*p == ' ')
                    p++;
                size_t n = strcspn(p, " ");
                if (!n)
                    break;
                char *b = fl_xstrndup(p, n);
                if (!base_name_ok(b))
                    bad = "a reference is not a store path's base name";
                push(&ni->refs, &ni->nrefs, fl_xasprintf("%s/%s", store_dir, b));
                free(b);
                p += n;
            }
        } else if (!strcmp(key, "Deriver")) {
            if (strcmp(val, "unknown-deriver") != 0) {
                if (!base_name_ok(val))
                    bad = "Deriver is not a store path's base name";
                free(ni->deriver);
                ni->deriver = fl_xasprintf("%s/%s", store_dir, val);
            }
        } else if (!strcmp(key, "Sig")) {
            push(&ni->sigs, &ni->nsigs, fl_xstrdup(val));
        } else if (!strcmp(key, "CA")) {
            free(ni->ca);
            ni->ca = fl_xstrdup(val);
        }
        /* other fields (System, ...) carry nothing flakectl uses */
    }
    free(line);
    if (!bad && (!ni->store_path || !ni->url || !have_nar_hash || !have_nar_size)) {
        bad = "one of StorePath, URL, NarHash and NarSize is missing";
        lineno = 0;
    }
    if (bad) {
        rc = fl_error_set(err, FL_EPARSE, "%s%s%.0d: corrupt narinfo: %s", where, lineno ? ":" : "",
                          lineno, bad);
        fl_narinfo_free(ni);
        return rc;
    }
    if (!ni->compression) /* what Nix assumes of a narinfo that does not say */
        ni->compression = fl_xstrdup("bzip2");
    if (ni->nrefs)
        qsort(ni->refs, ni->nrefs, sizeof *ni->refs, cmp_str);
    *out = ni;
    return FL_OK;
}

static const char *base_of(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

char *fl_narinfo_format(const fl_narinfo *ni) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 512);
    fl_strbuf_addf(&sb, "StorePath: %s\nURL: %s\nCompression: %s\n", ni->store_path, ni->url,
                   ni->compression);
    if (ni->has_file_hash) {
        char *fh = fl_hash_format(ni->file_hash);
        fl_strbuf_addf(&sb, "FileHash: %s\nFileSize: %llu\n", fh,
                       (unsigned long long)ni->file_size);
        free(fh);
    }
    char *nh = fl_hash_format(ni->nar_hash);
    fl_strbuf_addf(&sb, "NarHash: %s\nNarSize: %llu\nReferences:", nh,
                   (unsigned long long)ni->nar_size);
    free(nh);
    /* Nix writes "References: " with its space even when there are none. */
    fl_strbuf_addch(&sb, ' ');
    for (size_t i = 0; i < ni->nrefs; i++)
        fl_strbuf_addf(&sb, "%s%s", i ? " " : "", base_of(ni->refs[i]));
    fl_strbuf_addch(&sb, '\n');
    if (ni->deriver)
        fl_strbuf_addf(&sb, "Deriver: %s\n", base_of(ni->deriver));
    for (size_t i = 0; i < ni->nsigs; i++)
        fl_strbuf_addf(&sb, "Sig: %s\n", ni->sigs[i]);
    if (ni->ca)
        fl_strbuf_addf(&sb, "CA: %s\n", ni->ca);
    return fl_strbuf_detach(&sb, NULL);
}

char *fl_narinfo_fingerprint(const fl_narinfo *ni) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 256);
    char *nh = fl_hash_format(ni->nar_hash);
    fl_strbuf_addf(&sb, "1;%s;%s;%llu;", ni->store_path, nh, (unsigned long long)ni->nar_size);
    free(nh);
    for (size_t i = 0; i < ni->nrefs; i++)
        fl_strbuf_addf(&sb, "%s%s", i ? "," : "", ni->refs[i]);
    return fl_strbuf_detach(&sb, NULL);
}

int fl_narinfo_trusted(const fl_narinfo *ni, const fl_cache_public_key *keys, size_t nkeys) {
    if (!ni->nsigs || !nkeys)
        return 0;
    char *fp = fl_narinfo_fingerprint(ni);
    int ok = 0;
    for (size_t i = 0; i < ni->nsigs && !ok; i++)
        ok = fl_cache_sig_valid(ni->sigs[i], fp, keys, nkeys);
    free(fp);
    return ok;
}
