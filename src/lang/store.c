/* store.c - store paths the way Nix computes them, for when no store is attached: source and
 * text store paths under /nix/store, with the store's own NAR hashing, base-32 and path
 * fingerprints (src/store, pure functions only: no store is ever opened here). Never writes
 * anything to the file system but toFile's texts, into the evaluation's own temporary
 * directory (lang_record_text), so that they can be read back as from a writable store.
 *
 * The one NAR walk of its own is the filtered one of builtins.path and filterSource: its
 * filter is a Nix function called for every entry, which may throw (longjmp) out of the walk,
 * so it cannot run inside the store's writer, which owns descriptors while it walks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/store.h"
#include "lang/internal.h"

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

/* builtins.path's and filterSource's filter: a Nix function of the path and its type. */
typedef struct NarFilter {
    Value *fn;
    PosIdx pos;
} NarFilter;

static int nar_keep(State *S, const NarFilter *f, const char *path, const struct stat *st) {
    if (!f)
        return 1;
    const char *type = S_ISREG(st->st_mode)   ? "regular"
                       : S_ISDIR(st->st_mode) ? "directory"
                       : S_ISLNK(st->st_mode) ? "symlink"
                                              : "unknown";
    Value *a1 = lang_alloc_value(S), *a2 = lang_alloc_value(S), r;
    lang_mk_string_copy(S, a1, path, strlen(path), NULL);
    lang_mk_string(S, a2, type, strlen(type), NULL);
    lang_call_function2(S, f->fn, a1, a2, &r, f->pos);
    return lang_force_bool(S, &r, f->pos);
}

/* Nix's NAR serialisation of path, hashed into md; entries the filter rejects are left out
 * (the root is never filtered). Allocates in the arena only, and holds no descriptor while
 * the filter runs: the filter may throw. */
static int nar_dump(State *S, EVP_MD_CTX *md, const char *path, const NarFilter *f) {
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
        const char **names = NULL;
        size_t nn = 0, cap = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            if (nn == cap) {
                cap = cap ? cap * 2 : 16;
                const char **nb = arena_alloc(&S->arena, cap * sizeof(char *));
                if (nn)
                    memcpy(nb, names, nn * sizeof(char *));
                names = nb;
            }
            names[nn++] = lang_arena_strndup(&S->arena, de->d_name, strlen(de->d_name));
        }
        closedir(d);
        if (nn)
            qsort(names, nn, sizeof(char *), cmp_names);
        for (size_t i = 0; i < nn; i++) {
            AStr sub;
            lang_astr_init(S, &sub, 256);
            astr_adds(S, &sub, path);
            if (sub.len == 0 || sub.buf[sub.len - 1] != '/')
                lang_astr_addch(S, &sub, '/');
            astr_adds(S, &sub, names[i]);
            struct stat cst;
            if (lstat(sub.buf, &cst) < 0)
                return -1;
            if (!nar_keep(S, f, sub.buf, &cst))
                continue;
            NS(md, "entry");
            NS(md, "(");
            NS(md, "name");
            nar_str(md, names[i], strlen(names[i]));
            NS(md, "node");
            if (nar_dump(S, md, sub.buf, f) < 0)
                return -1;
            NS(md, ")");
        }
    } else {
        return -1;
    }
    NS(md, ")");
    return 0;
}

/* The NAR hash of path (filtered), or -1 with errno's story left to the caller. The digest
 * context is freed even when the filter throws. */
static int nar_hash_at(State *S, const char *path, const NarFilter *f, unsigned char h[32]) {
    if (!f) {
        fl_error e = FL_ERROR_INIT;
        int rc = fl_nar_hash_path(path, h, NULL, &e);
        fl_error_clear(&e);
        return rc < 0 ? -1 : 0;
    }
    EVP_MD_CTX *volatile md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    NS(md, "nix-archive-1");
    Catch c;
    int rc;
    catch_begin(S, &c);
    if (setjmp(c.jb) == 0) {
        rc = nar_dump(S, md, path, f);
        lang_catch_end(S, &c);
    } else {
        lang_catch_unwind(S, &c);
        EVP_MD_CTX_free(md);
        lang_rethrow(S);
    }
    unsigned int hl = 0;
    EVP_DigestFinal_ex(md, h, &hl);
    EVP_MD_CTX_free(md);
    return rc;
}

/* A toFile result is read where it is kept: it is a file, so the filter never sees the path. */
static int nar_hash(State *S, const char *path, const NarFilter *f, unsigned char h[32]) {
    return nar_hash_at(S, lang_read_path(S, path), f, h);
}

static void sha256_hex(const unsigned char *h, char *hex) {
    fl_hex_encode(h, FL_SHA256_LEN, hex);
}

const char *lang_make_store_path(State *S, const char *type, const char *hexhash, const char *name,
                            PosIdx pos) {
    /* hexhash is 64 hex digits made by this file or derivation.c */
    unsigned char h[FL_SHA256_LEN];
    char *spec = fl_xasprintf("sha256:%s", hexhash);
    int ok = fl_hash_parse(spec, h) == 0;
    free(spec);
    if (!ok)
        abort();
    char *p = fl_store_make_path("/nix/store", type, h, name);
    AStr out;
    lang_astr_init(S, &out, 64);
    astr_adds(S, &out, p);
    free(p);
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

/* The "source" store path of a path's (filtered) NAR under name, or Nix's error. */
static const char *nar_source_path(State *S, const char *path, const NarFilter *f,
                                   const char *name, PosIdx pos) {
    unsigned char h[32];
    if (nar_hash(S, path, f, h) < 0) {
        struct stat st;
        if (lstat(path, &st) == 0)
            lang_throw(S, pos, "file '%s' has an unsupported type", path);
        lang_throw(S, pos, "getting status of '%s': No such file or directory", path);
    }
    char hex[65];
    sha256_hex(h, hex);
    return lang_make_store_path(S, "source", hex, name, pos);
}

void lang_check_path(State *S, const char *path, PosIdx pos) {
    if (!S->cfg.hooks.check_path)
        return;
    fl_error e = FL_ERROR_INIT;
    if (S->cfg.hooks.check_path(S->cfg.hooks.check_ctx, path, &e) < 0) {
        const char *m = e.message ? e.message : "refused";
        char *msg = lang_arena_strndup(&S->arena, m, strlen(m));
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

const char *lang_path_to_store(State *S, const char *path, PosIdx pos) {
    return lang_path_to_store_named(S, path, NULL, pos);
}

const char *lang_path_to_store_named(State *S, const char *path, const char *name, PosIdx pos) {
    lang_check_path(S, path, pos);
    if (S->cfg.hooks.path_to_store && !name) {
        fl_strbuf sb = FL_STRBUF_INIT;
        fl_error e = FL_ERROR_INIT;
        fl_strbuf_init(&sb, 0);
        int rc = S->cfg.hooks.path_to_store(S->cfg.hooks.ctx, path, &sb, &e);
        if (rc < 0) {
            fl_strbuf_release(&sb);
            char *msg = lang_arena_strndup(&S->arena, e.message ? e.message : "failed",
                                      strlen(e.message ? e.message : "failed"));
            fl_error_clear(&e);
            lang_throw(S, pos, "cannot copy '%s' to the store: %s", path, msg);
        }
        const char *r = lang_arena_strndup(&S->arena, sb.buf, sb.len);
        fl_strbuf_release(&sb);
        return r;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (name)
        base = name;
    return nar_source_path(S, path, NULL, base, pos);
}

const char *lang_store_path_for_text(State *S, const char *name, const char *data, size_t len,
                                const StrCtx *refs, PosIdx pos) {
    unsigned char h[FL_SHA256_LEN];
    fl_sha256_buf(data, len, h);
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
    lang_astr_init(S, &type, 64);
    astr_adds(S, &type, "text");
    for (size_t i = 0; i < n; i++) {
        if (i && !strcmp(r[i], r[i - 1]))
            continue;
        lang_astr_addch(S, &type, ':');
        astr_adds(S, &type, r[i]);
    }
    return lang_make_store_path(S, type.buf, hex, name, pos);
}

/* A sha256 hash as Nix's Hash::parseAny(s, sha256) reads it, or Nix's message at pos. */
void lang_parse_sha256(State *S, const char *orig, unsigned char h[32], PosIdx pos) {
    fl_error e = FL_ERROR_INIT;
    if (fl_hash_parse_nix(orig, 0, h, &e) < 0) {
        const char *m = lang_arena_strndup(&S->arena, e.message, strlen(e.message));
        fl_error_clear(&e);
        lang_throw(S, pos, "%s", m);
    }
}

static const char *fixed_flat_path(State *S, const unsigned char h[32], const char *name,
                                   PosIdx pos) {
    char hex[65], inner_hex[65];
    sha256_hex(h, hex);
    char *inner = fl_xasprintf("fixed:out:sha256:%s:", hex);
    unsigned char ih[FL_SHA256_LEN];
    fl_sha256_buf(inner, strlen(inner), ih);
    free(inner);
    sha256_hex(ih, inner_hex);
    return lang_make_store_path(S, "output:out", inner_hex, name, pos);
}

const char *lang_fixed_output_path(State *S, int recursive, const unsigned char h[32],
                                   const char *name, PosIdx pos) {
    if (!recursive)
        return fixed_flat_path(S, h, name, pos);
    char hex[65];
    sha256_hex(h, hex);
    return lang_make_store_path(S, "source", hex, name, pos);
}

/* Nix's addPath (builtins.path, filterSource): path's NAR (recursive) or contents (flat),
 * filtered, under name; with an expected hash the result must be the path it gives, and a
 * path already present is taken as it is. Computed, not copied: see docs/lang-builtins.md. */
const char *lang_path_add(State *S, const char *path, const char *name, int recursive, Value *filter,
                     const unsigned char *expected, PosIdx pos) {
    if (!(S->cfg.pure && expected))
        lang_check_path(S, path, pos);
    const char *want = NULL;
    if (expected) {
        want = lang_fixed_output_path(S, recursive, expected, name, pos);
        struct stat st;
        if (lstat(want, &st) == 0)
            return want;
    }
    if (S->cfg.hooks.path_to_store && recursive && !filter && !expected) {
        const char *base = strrchr(path, '/');
        if (!strcmp(base ? base + 1 : path, name))
            return lang_path_to_store_named(S, path, NULL, pos);
    }
    unsigned char h[32];
    const char *got;
    if (recursive) {
        NarFilter nf = {filter, pos};
        got = nar_source_path(S, path, filter ? &nf : NULL, name, pos);
    } else {
        int fd = open(lang_read_path(S, path), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            lang_throw(S, pos, "opening file '%s': %s", path, strerror(errno));
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        char buf[65536];
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0)
            EVP_DigestUpdate(md, buf, (size_t)r);
        int err = errno;
        close(fd);
        unsigned int hl = 0;
        EVP_DigestFinal_ex(md, h, &hl);
        EVP_MD_CTX_free(md);
        if (r < 0)
            lang_throw(S, pos, "reading from file: %s", strerror(err));
        got = fixed_flat_path(S, h, name, pos);
    }
    if (want && strcmp(want, got))
        lang_throw(S, pos, "store path mismatch in (possibly filtered) path added from '%s'", path);
    return got;
}

/* The NAR hash of a path; -1 when it cannot be read. */
int lang_nar_hash_path(State *S, const char *path, unsigned char h[32]) {
    return nar_hash(S, path, NULL, h);
}

/* Nix 2.8 with a writable store can read back what toFile wrote (import, readFile, ...);
 * without a store flakectl keeps the text in a private directory instead and reads it from
 * there. Only a path that is a toFile result itself maps there: its text is one regular file,
 * nothing is inside it, and no other name can reach outside the directory. */
void lang_record_text(State *S, const char *sp, const char *data, size_t len) {
    const char *base = sp + 11;
    if (strncmp(sp, "/nix/store/", 11) != 0 || strchr(base, '/'))
        return;
    fl_error e = FL_ERROR_INIT;
    if (!S->tofile_dir) {
        const char *tmp = getenv("TMPDIR");
        S->tofile_dir = fl_make_temp_dir(tmp && *tmp ? tmp : "/tmp", "flakectl-tofile.", &e);
        /* then reading it back says "path '…' is not valid", as Nix without a store does */
        fl_error_clear(&e);
        if (!S->tofile_dir)
            return;
    }
    char *f = fl_path_join(S->tofile_dir, base);
    struct stat st;
    /* the same store path is the same text: written once */
    if (lstat(f, &st) != 0)
        (void)fl_atomic_write_file_ex(f, data, len, 0444,
                                      FL_ATOMIC_NO_SYNC | FL_ATOMIC_NO_DIRSYNC, &e);
    fl_error_clear(&e);
    free(f);
}

const char *lang_read_path(State *S, const char *path) {
    struct stat st;
    if (!S->tofile_dir || strncmp(path, "/nix/store/", 11) != 0 || strchr(path + 11, '/') ||
        !path[11] || lstat(path, &st) == 0)
        return path;
    char *f = fl_path_join(S->tofile_dir, path + 11);
    const char *r = lstat(f, &st) == 0 ? lang_arena_strndup(&S->arena, f, strlen(f)) : path;
    free(f);
    return r;
}
