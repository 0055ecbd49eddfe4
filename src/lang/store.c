/* store.c - store paths the way Nix computes them, for when no store is attached: source and
 * text store paths under /nix/store, with the store's own NAR hashing, base-32 and path
 * fingerprints (src/store, pure functions only: no store is ever opened here). Never writes
 * anything to the file system. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/store.h"
#include "lang/internal.h"

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sha256_hex(const unsigned char *h, char *hex) {
    fl_hex_encode(h, FL_SHA256_LEN, hex);
}

const char *lang_make_store_path(State *S, const char *type, const char *hexhash,
                            const char *name) {
    /* hexhash is 64 hex digits made by this file or derivation.c */
    unsigned char h[FL_SHA256_LEN];
    char *spec = fl_xasprintf("sha256:%s", hexhash);
    int ok = fl_hash_parse(spec, h) == 0;
    free(spec);
    if (!ok)
        abort();
    char *p = fl_store_make_path("/nix/store", type, h, name);
    const char *out = lang_arena_strndup(&S->arena, p, strlen(p));
    free(p);
    return out;
}

static int valid_store_name(const char *name) {
    if (!*name || name[0] == '.')
        return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("+-._?=", c)))
            return 0;
    }
    return 1;
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
    if (!valid_store_name(base))
        lang_throw(S, pos, "invalid store path name '%s' for '%s'", base, path);
    unsigned char h[FL_SHA256_LEN];
    fl_error e = FL_ERROR_INIT;
    int rc = fl_nar_hash_path(path, h, NULL, &e);
    fl_error_clear(&e);
    if (rc < 0) {
        struct stat st;
        if (lstat(path, &st) == 0)
            lang_throw(S, pos, "file '%s' has an unsupported type", path);
        lang_throw(S, pos, "getting status of '%s': No such file or directory", path);
    }
    char hex[65];
    sha256_hex(h, hex);
    return lang_make_store_path(S, "source", hex, base);
}

const char *lang_store_path_for_text(State *S, const char *name, const char *data, size_t len,
                                const StrCtx *refs) {
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
    return lang_make_store_path(S, type.buf, hex, name);
}
