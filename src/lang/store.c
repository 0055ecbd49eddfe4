/* store.c - store paths the way Nix computes them, for when no store is attached: NAR
 * serialisation hashed with SHA-256, Nix's base-32, source and text store paths. Never writes
 * anything to the file system. */
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "lang/internal.h"

static const char b32chars[] = "0123456789abcdfghijklmnpqrsvwxyz";

void nix_base32(const unsigned char *h, size_t n, char *out) {
    size_t len = (n * 8 - 1) / 5 + 1;
    for (size_t k = 0; k < len; k++) {
        size_t idx = len - 1 - k;
        size_t b = idx * 5, i = b / 8, j = b % 8;
        unsigned c = (unsigned)(h[i] >> j);
        if (i + 1 < n)
            c |= (unsigned)(h[i + 1] << (8 - j));
        out[k] = b32chars[c & 0x1f];
    }
    out[len] = '\0';
}

static void nar_str(EVP_MD_CTX *md, const char *s, size_t n) {
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(((uint64_t)n >> (8 * i)) & 0xff);
    EVP_DigestUpdate(md, len, 8);
    EVP_DigestUpdate(md, s, n);
    static const char zeros[8] = {0};
    if (n % 8)
        EVP_DigestUpdate(md, zeros, 8 - n % 8);
}
#define NS(md, lit) nar_str(md, lit, sizeof(lit) - 1)

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int nar_dump(EVP_MD_CTX *md, const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0)
        return -1;
    NS(md, "(");
    if (S_ISREG(st.st_mode)) {
        NS(md, "type");
        NS(md, "regular");
        if (st.st_mode & S_IXUSR) {
            NS(md, "executable");
            NS(md, "");
        }
        NS(md, "contents");
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        uint64_t n = (uint64_t)st.st_size;
        unsigned char len[8];
        for (int i = 0; i < 8; i++)
            len[i] = (unsigned char)((n >> (8 * i)) & 0xff);
        EVP_DigestUpdate(md, len, 8);
        char buf[65536];
        uint64_t total = 0;
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0) {
            EVP_DigestUpdate(md, buf, (size_t)r);
            total += (uint64_t)r;
        }
        close(fd);
        if (r < 0 || total != n)
            return -1;
        static const char zeros[8] = {0};
        if (n % 8)
            EVP_DigestUpdate(md, zeros, 8 - n % 8);
    } else if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = readlink(path, target, sizeof target);
        if (n < 0)
            return -1;
        NS(md, "type");
        NS(md, "symlink");
        NS(md, "target");
        nar_str(md, target, (size_t)n);
    } else if (S_ISDIR(st.st_mode)) {
        NS(md, "type");
        NS(md, "directory");
        DIR *d = opendir(path);
        if (!d)
            return -1;
        char **names = NULL;
        size_t nn = 0, cap = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            if (nn == cap) {
                cap = cap ? cap * 2 : 16;
                names = fl_xrealloc(names, cap * sizeof(char *));
            }
            names[nn++] = fl_xstrdup(de->d_name);
        }
        closedir(d);
        if (nn)
            qsort(names, nn, sizeof(char *), cmp_names);
        int rc = 0;
        for (size_t i = 0; i < nn; i++) {
            if (rc == 0) {
                NS(md, "entry");
                NS(md, "(");
                NS(md, "name");
                nar_str(md, names[i], strlen(names[i]));
                NS(md, "node");
                char *sub = fl_path_join(path, names[i]);
                rc = nar_dump(md, sub);
                free(sub);
                NS(md, ")");
            }
            free(names[i]);
        }
        free(names);
        if (rc < 0)
            return -1;
    } else {
        return -1;
    }
    NS(md, ")");
    return 0;
}

static void sha256_hex(const unsigned char *h, char *hex) {
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
}

const char *make_store_path(State *S, const char *type, const char *hexhash, const char *name,
                            PosIdx pos) {
    char *fp = fl_xasprintf("%s:sha256:%s:/nix/store:%s", type, hexhash, name);
    unsigned char h[32], c[20];
    unsigned int hl = 0;
    EVP_Digest(fp, strlen(fp), h, &hl, EVP_sha256(), NULL);
    free(fp);
    memset(c, 0, sizeof c);
    for (int i = 0; i < 32; i++)
        c[i % 20] ^= h[i];
    char b32[40];
    nix_base32(c, 20, b32);
    AStr out;
    astr_init(S, &out, 64);
    astr_addf(S, &out, "/nix/store/%s-%s", b32, name);
    /* Nix checks the name once the path is made, so its messages show the hash part too. */
    const char *base = out.buf + 11;
    size_t nl = strlen(name);
    if (nl == 0)
        lang_throw(S, pos, "store path '%s' has an empty name", base);
    if (nl > 211)
        lang_throw(S, pos, "store path '%s' has a name longer than 211 characters", base);
    for (const char *q = name; *q; q++) {
        char c = *q;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("+-._?=", c)))
            lang_throw(S, pos, "store path '%s' contains illegal character '%c'", base, c);
    }
    return out.buf;
}

void lang_check_path(State *S, const char *path, PosIdx pos) {
    if (!S->cfg.hooks.check_path)
        return;
    fl_error e = FL_ERROR_INIT;
    if (S->cfg.hooks.check_path(S->cfg.hooks.check_ctx, path, &e) < 0) {
        const char *m = e.message ? e.message : "refused";
        char *msg = arena_strndup(&S->arena, m, strlen(m));
        fl_error_clear(&e);
        lang_throw(S, pos, "%s", msg);
    }
}

int lang_path_visible(State *S, const char *path) {
    fl_error e = FL_ERROR_INIT;
    int ok = !S->cfg.hooks.check_path ||
             S->cfg.hooks.check_path(S->cfg.hooks.check_ctx, path, &e) == 0;
    fl_error_clear(&e);
    return ok;
}

const char *path_to_store(State *S, const char *path, PosIdx pos) {
    return path_to_store_named(S, path, NULL, pos);
}

const char *path_to_store_named(State *S, const char *path, const char *name, PosIdx pos) {
    lang_check_path(S, path, pos);
    if (S->cfg.hooks.path_to_store && !name) {
        fl_strbuf sb = FL_STRBUF_INIT;
        fl_error e = FL_ERROR_INIT;
        fl_strbuf_init(&sb, 0);
        int rc = S->cfg.hooks.path_to_store(S->cfg.hooks.ctx, path, &sb, &e);
        if (rc < 0) {
            fl_strbuf_release(&sb);
            char *msg = arena_strndup(&S->arena, e.message ? e.message : "failed",
                                      strlen(e.message ? e.message : "failed"));
            fl_error_clear(&e);
            lang_throw(S, pos, "cannot copy '%s' to the store: %s", path, msg);
        }
        const char *r = arena_strndup(&S->arena, sb.buf, sb.len);
        fl_strbuf_release(&sb);
        return r;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (name)
        base = name;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    NS(md, "nix-archive-1");
    int rc = nar_dump(md, path);
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_DigestFinal_ex(md, h, &hl);
    EVP_MD_CTX_free(md);
    if (rc < 0) {
        struct stat st;
        if (lstat(path, &st) == 0)
            lang_throw(S, pos, "file '%s' has an unsupported type", path);
        lang_throw(S, pos, "getting status of '%s': No such file or directory", path);
    }
    char hex[65];
    sha256_hex(h, hex);
    return make_store_path(S, "source", hex, base, pos);
}

const char *store_path_for_text(State *S, const char *name, const char *data, size_t len,
                                const StrCtx *refs, PosIdx pos) {
    unsigned char h[32];
    unsigned int hl = 0;
    EVP_Digest(data, len, h, &hl, EVP_sha256(), NULL);
    char hex[65];
    sha256_hex(h, hex);
    /* references, sorted */
    size_t n = 0;
    for (const StrCtx *c = refs; c; c = c->next)
        n++;
    const char **r = arena_alloc(&S->arena, (n + 1) * sizeof(char *));
    n = 0;
    for (const StrCtx *c = refs; c; c = c->next) {
        /* "!out!/nix/store/x.drv" and "=/nix/store/x.drv" refer to the derivation file */
        const char *p = c->path;
        if (p[0] == '=')
            p++;
        else if (p[0] == '!')
            p = strchr(p + 1, '!') ? strchr(p + 1, '!') + 1 : p;
        r[n++] = p;
    }
    qsort(r, n, sizeof(char *), cmp_names);
    AStr type;
    astr_init(S, &type, 64);
    astr_adds(S, &type, "text");
    for (size_t i = 0; i < n; i++) {
        if (i && !strcmp(r[i], r[i - 1]))
            continue;
        astr_addch(S, &type, ':');
        astr_adds(S, &type, r[i]);
    }
    return make_store_path(S, type.buf, hex, name, pos);
}
