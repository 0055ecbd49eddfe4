/* install.c - secrets at activation: decrypts a toplevel's secrets.json entries with the
 * host's identities (in memory first, so an undecryptable secret stops an activation before
 * anything changes), writes them into <root>/run/flakectl/secrets.d/<N>/, links the
 * declared paths, flips <root>/run/flakectl/secrets and removes older generations'
 * plaintext. Owns those paths beneath the root. Never writes plaintext anywhere else (never
 * the store, the state dir or a message) and never prints a secret's content. Every path in
 * the root is resolved beneath it without following links (util/beneath.c): /run or a
 * declared path's directory planted as a link is an error naming it, never a write outside
 * the root. docs/security.md. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "flakectl/beneath.h"
#include "flakectl/fs.h"
#include "flakectl/rootpath.h"
#include "flakectl/secret.h"
#include "flakectl/strbuf.h"

#define SECRETS_LINK "/run/flakectl/secrets"
#define SECRETS_GENS "/run/flakectl/secrets.d"

static const char *jstr(const json_t *o, const char *key, const char *dflt) {
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

/* A name is one path component: it becomes a file name in the generation's directory. */
static int bad_name(const char *n) {
    return !*n || strchr(n, '/') || !strcmp(n, ".") || !strcmp(n, "..") ||
           !strcmp(n, FL_SECRET_RENDERED_DIR);
}

static int bad_path(const char *p) {
    if (p[0] != '/' || strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//"))
        return 1;
    size_t n = strlen(p);
    return (n >= 3 && !strcmp(p + n - 3, "/..")) || (n >= 2 && !strcmp(p + n - 2, "/."));
}

static int parse_mode(const char *s, mode_t *out) {
    char *end;
    long m = strtol(s, &end, 8);
    if (!*s || *end || m < 0 || m > 07777)
        return -1;
    *out = (mode_t)m;
    return 0;
}

static void sha256(const unsigned char *d, size_t n, unsigned char out[32]) {
    crypto_hash_sha256(out, d, n);
}

static int open_root(const char *root, fl_error *err) {
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        fl_error_errno(err, "cannot open the root %s", root);
    return fd;
}

/* The generation directory the secrets link names ("secrets.d/<N>"), or NULL. The link is
 * flakectl's own; its content is checked, never followed by the kernel. */
static char *current_generation(int rootfd) {
    int dfd =
        fl_beneath_open(rootfd, "/run/flakectl", O_RDONLY | O_DIRECTORY, 0, FL_BENEATH_NO_LINKS);
    if (dfd < 0)
        return NULL;
    char buf[64];
    ssize_t n = readlinkat(dfd, "secrets", buf, sizeof buf - 1);
    close(dfd);
    if (n <= 10)
        return NULL;
    buf[n] = '\0';
    if (strncmp(buf, "secrets.d/", 10) || strspn(buf + 10, "0123456789") != (size_t)n - 10)
        return NULL;
    return fl_xstrdup(buf + 10);
}

/* Hash of what the current generation installed for the item, or 0 when there is none.
 * Reads through the secrets link, never a path a declaration chose. */
static int installed_hash(const char *root, const fl_secret_item *it, unsigned char out[32]) {
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return 0;
    char *gen = current_generation(rootfd);
    int fd = -1;
    if (gen) {
        char *rel = fl_xasprintf(SECRETS_GENS "/%s/%s%s", gen,
                                 it->is_template ? FL_SECRET_RENDERED_DIR "/" : "", it->name);
        fd = fl_beneath_open(rootfd, rel, O_RDONLY, 0, FL_BENEATH_NO_LINKS);
        free(rel);
        free(gen);
    }
    close(rootfd);
    if (fd < 0)
        return 0;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[8192];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0)
        crypto_hash_sha256_update(&st, buf, (size_t)r);
    sodium_memzero(buf, sizeof buf);
    close(fd);
    if (r < 0)
        return 0;
    crypto_hash_sha256_final(&st, out);
    return 1;
}

static int read_item(fl_secret_item *it, const json_t *e, size_t i, int is_template,
                     fl_error *err) {
    const char *kind = is_template ? "template" : "secret";
    const char *name = jstr(e, "name", NULL);
    if (!json_is_object(e) || !name)
        return fl_error_set(err, FL_EPARSE, "%s entry %zu has no \"name\"", kind, i);
    if (bad_name(name))
        return fl_error_set(err, FL_EPARSE,
                            "%s name \"%s\" cannot be a file name (no '/', '.', '..' or \"%s\")",
                            kind, name, FL_SECRET_RENDERED_DIR);
    it->name = fl_xstrdup(name);
    it->is_template = is_template;
    const char *file = jstr(e, is_template ? "source" : "file", NULL);
    if (!file)
        return fl_error_set(err, FL_EPARSE, "%s \"%s\" has no \"%s\"", kind, name,
                            is_template ? "source" : "file");
    it->file = fl_xstrdup(file);
    char *dflt = is_template ? fl_xasprintf(SECRETS_LINK "/" FL_SECRET_RENDERED_DIR "/%s", name)
                             : fl_xasprintf(SECRETS_LINK "/%s", name);
    it->path = fl_xstrdup(jstr(e, "path", dflt));
    it->linked = strcmp(it->path, dflt) != 0;
    free(dflt);
    if (bad_path(it->path) || (it->linked && !strncmp(it->path, "/run/flakectl/secrets", 21)))
        return fl_error_set(err, FL_EPARSE,
                            "%s \"%s\": path \"%s\" must be absolute, without '.' or '..', and "
                            "not inside /run/flakectl/secrets*",
                            kind, name, it->path);
    it->owner = fl_xstrdup(jstr(e, "owner", "root"));
    it->group = fl_xstrdup(jstr(e, "group", "root"));
    if (parse_mode(jstr(e, "mode", "0400"), &it->mode))
        return fl_error_set(err, FL_EPARSE, "%s \"%s\": mode \"%s\" is not an octal mode", kind,
                            name, jstr(e, "mode", ""));
    return FL_OK;
}

/* Reads one identity file beneath the root as the machine itself would see it: links are
 * followed with the root as "/" (RESOLVE_IN_ROOT: a host key on an impermanent root is a
 * link into /persist), so neither a link nor ".." ever reads a file outside the root.
 * Returns 1 when the file is missing. */
static int add_identity(fl_age_identities *ids, int rootfd, const char *path, const char *shown,
                        fl_error *err) {
    int fd = fl_beneath_open(rootfd, path, O_RDONLY, 0, FL_BENEATH_IN_ROOT);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        return fl_error_errno(err, "cannot read %s", shown);
    }
    char *data = NULL;
    size_t len = 0;
    int rc = fl_read_fd(fd, shown, &data, &len, err);
    close(fd);
    if (!rc)
        rc = fl_age_identities_add_data(ids, data, shown, err);
    if (data)
        sodium_memzero(data, len);
    free(data);
    return rc;
}

/* Loads every identity file that exists beneath the root; unreadable or unsupported ones
 * are named in *tried so the "cannot decrypt" error can say what was attempted. */
static void load_identities(fl_secret_set *s, const json_t *paths, fl_age_identities *ids) {
    fl_strbuf tried = FL_STRBUF_INIT, denied = FL_STRBUF_INIT;
    json_t *dflt = NULL;
    if (!json_is_array(paths))
        paths = dflt = json_pack("[s]", "/etc/ssh/ssh_host_ed25519_key");
    int rootfd = open_root(s->root, NULL);
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)paths, i, v) {
        if (!json_is_string(v))
            continue;
        /* Named as the machine sees it: ".." stops at the root, as it does for the read. */
        char *canon = fl_canon_path(json_string_value(v), "/");
        char *p = fl_act_root_path(s->root, canon);
        fl_error e = FL_ERROR_INIT;
        int r = rootfd < 0 ? fl_error_errno(&e, "cannot open the root %s", s->root)
                           : add_identity(ids, rootfd, json_string_value(v), p, &e);
        if (r == 1)
            fl_strbuf_addf(&tried, "%s%s (missing)", tried.len ? ", " : "", p);
        else if (r)
            fl_strbuf_addf(&tried, "%s%s (%s)", tried.len ? ", " : "", p, e.message);
        if (r < 0 && (e.sys_errno == EACCES || e.sys_errno == EPERM))
            fl_strbuf_addf(&denied, "%s%s", denied.len ? ", " : "", p);
        else
            fl_strbuf_addf(&tried, "%s%s", tried.len ? ", " : "", p);
        fl_error_clear(&e);
        free(p);
        free(canon);
    }
    if (rootfd >= 0)
        close(rootfd);
    json_decref(dflt);
    s->tried = fl_strbuf_detach(&tried, NULL);
    if (denied.len)
        s->unreadable = fl_strbuf_detach(&denied, NULL);
    fl_strbuf_release(&denied);
}

/* Replaces each placeholder of a declared secret by its plaintext. A placeholder of a secret
 * that could not be decrypted leaves the template undecryptable too. */
static void render(fl_secret_set *s, fl_secret_item *t) {
    char *text = NULL;
    size_t len = 0;
    fl_error e = FL_ERROR_INIT;
    if (fl_read_file(t->file, &text, &len, &e)) {
        t->error = fl_xstrdup(e.message);
        fl_error_clear(&e);
        return;
    }
    fl_strbuf out = FL_STRBUF_INIT;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *hit = memmem(p, (size_t)(end - p), FL_SECRET_PLACEHOLDER_PREFIX,
                                 strlen(FL_SECRET_PLACEHOLDER_PREFIX));
        if (!hit) {
            fl_strbuf_add(&out, p, (size_t)(end - p));
            break;
        }
        fl_strbuf_add(&out, p, (size_t)(hit - p));
        const char *nstart = hit + strlen(FL_SECRET_PLACEHOLDER_PREFIX);
        const char *close = memchr(nstart, '>', (size_t)(end - nstart));
        fl_secret_item *src = NULL;
        for (size_t i = 0; close && i < s->n; i++)
            if (!s->v[i].is_template && strlen(s->v[i].name) == (size_t)(close - nstart) &&
                !memcmp(s->v[i].name, nstart, (size_t)(close - nstart)))
                src = &s->v[i];
        if (!src) {
            /* Not one of ours: kept as written. */
            fl_strbuf_add(&out, hit, strlen(FL_SECRET_PLACEHOLDER_PREFIX));
            p = nstart;
            continue;
        }
        if (!src->plain) {
            t->error = fl_xasprintf("it uses secret \"%s\", which cannot be decrypted", src->name);
            break;
        }
        fl_strbuf_add(&out, (const char *)src->plain, src->len);
        p = close + 1;
    }
    free(text);
    if (t->error) {
        if (out.buf)
            sodium_memzero(out.buf, out.len);
        fl_strbuf_release(&out);
        return;
    }
    t->len = out.len;
    t->plain = (unsigned char *)fl_strbuf_detach(&out, NULL);
}

int fl_secret_set_declare(fl_secret_set *s, const char *root, const json_t *secrets,
                          const json_t *templates, fl_error *err) {
    memset(s, 0, sizeof *s);
    s->root = fl_xstrdup(root);
    size_t ns = json_array_size(secrets), nt = json_array_size(templates);
    s->v = fl_xcalloc(ns + nt + 1, sizeof *s->v);
    int rc = FL_OK;
    for (size_t i = 0; !rc && i < ns + nt; i++) {
        int tmpl = i >= ns;
        rc = read_item(&s->v[i], json_array_get(tmpl ? templates : secrets, tmpl ? i - ns : i),
                       tmpl ? i - ns : i, tmpl, err);
        s->n = i + 1;
        for (size_t k = 0; !rc && k < i; k++)
            if (s->v[k].is_template == tmpl && !strcmp(s->v[k].name, s->v[i].name))
                rc = fl_error_set(err, FL_EPARSE, "%s \"%s\" is declared twice",
                                  tmpl ? "template" : "secret", s->v[i].name);
    }
    return rc;
}

int fl_secret_set_prepare(fl_secret_set *s, const char *root, const json_t *secrets,
                          const json_t *templates, const json_t *identity_paths, fl_error *err) {
    int rc = fl_secret_set_declare(s, root, secrets, templates, err);
    if (rc || !s->n)
        return rc;
    fl_age_identities ids = {0};
    if (json_array_size(secrets))
        load_identities(s, identity_paths, &ids);
    for (size_t i = 0; i < s->n; i++) {
        fl_secret_item *it = &s->v[i];
        if (it->is_template) {
            render(s, it);
        } else {
            fl_error e = FL_ERROR_INIT;
            if (!ids.n)
                it->error = fl_xasprintf("no identity could be read (tried %s)", s->tried);
            else if (fl_age_decrypt_to_memory(it->file, &ids, &it->plain, &it->len, &e))
                it->error = fl_xstrdup(e.message ? e.message : "decryption failed");
            fl_error_clear(&e);
        }
        if (it->error) {
            s->nfailed++;
            it->state = FL_SECRET_UNKNOWN;
            continue;
        }
        unsigned char now[32], was[32];
        sha256(it->plain, it->len, now);
        if (!installed_hash(root, it, was))
            it->state = FL_SECRET_ADDED;
        else
            it->state = sodium_memcmp(now, was, 32) ? FL_SECRET_CHANGED : FL_SECRET_UNCHANGED;
    }
    fl_age_identities_release(&ids);
    return FL_OK;
}

int fl_secret_set_require(const fl_secret_set *s, fl_error *err) {
    if (!s->nfailed)
        return FL_OK;
    fl_strbuf b = FL_STRBUF_INIT;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].error)
            fl_strbuf_addf(&b, "\n  %s \"%s\" (%s): %s",
                           s->v[i].is_template ? "template" : "secret", s->v[i].name, s->v[i].file,
                           s->v[i].error);
    int rc =
        fl_error_set(err, FL_EGENERIC,
                     "%zu secret%s cannot be decrypted with this host's "
                     "identities (%s):%s",
                     s->nfailed, s->nfailed == 1 ? "" : "s", s->tried ? s->tried : "none", b.buf);
    if (s->unreadable)
        /* the key is there but this process may not read it: a recipient list is not
         * what is wrong */
        fl_error_set_hint(err, "%s cannot be read by this user: run flakectl as root (sudo), "
                               "or point age.identityPaths at a key it can read",
                          s->unreadable);
    else
        fl_error_set_hint(err, "add the host's public key to the file's recipients in "
                               "secrets/secrets.nix and run 'flakectl secret rekey', or set "
                               "age.identityPaths");
    fl_strbuf_release(&b);
    return rc;
}

void fl_secret_set_release(fl_secret_set *s) {
    for (size_t i = 0; i < s->n; i++) {
        fl_secret_item *it = &s->v[i];
        fl_age_plaintext_free(it->plain, it->len);
        free(it->name);
        free(it->file);
        free(it->path);
        free(it->owner);
        free(it->group);
        free(it->error);
    }
    free(s->v);
    free(s->root);
    free(s->tried);
    free(s->unreadable);
    memset(s, 0, sizeof *s);
}

/* ---- installing ---- */

static long lookup_id(const char *root, const char *db, const char *name) {
    long id = fl_act_lookup_id(root, db, name, 2);
    /* A bare root (a fresh --root) may have no passwd yet; root is 0 everywhere. */
    if (id < 0 && !strcmp(name, "root"))
        id = 0;
    return id;
}

/* Writes one plaintext into the generation directory dirfd (shown_dir names it). */
static int write_one(const fl_secret_set *s, const fl_secret_item *it, int dirfd,
                     const char *shown_dir, fl_error *err) {
    long uid = lookup_id(s->root, "passwd", it->owner);
    long gid = lookup_id(s->root, "group", it->group);
    if (uid < 0)
        return fl_error_set(err, FL_EPARSE, "secret \"%s\": owner \"%s\" is not in %s/etc/passwd",
                            it->name, it->owner, strcmp(s->root, "/") ? s->root : "");
    if (gid < 0)
        return fl_error_set(err, FL_EPARSE, "secret \"%s\": group \"%s\" is not in %s/etc/group",
                            it->name, it->group, strcmp(s->root, "/") ? s->root : "");
    char *path = fl_path_join(shown_dir, it->name);
    /* Created private, then given away: the file is never readable by others on the way. */
    int fd = openat(dirfd, it->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = FL_OK;
    if (fd < 0) {
        rc = fl_error_errno(err, "cannot create %s", path);
    } else {
        if (fchown(fd, (uid_t)uid, (gid_t)gid) < 0)
            rc = fl_error_errno(err, "cannot give %s to %s:%s", path, it->owner, it->group);
        else if (fchmod(fd, it->mode) < 0)
            rc = fl_error_errno(err, "cannot chmod %s", path);
        size_t off = 0;
        while (!rc && off < it->len) {
            ssize_t w = write(fd, it->plain + off, it->len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                rc = fl_error_errno(err, "cannot write %s", path);
            else
                off += (size_t)w;
        }
        if (!rc && fsync(fd) < 0)
            rc = fl_error_errno(err, "cannot write %s", path);
        close(fd);
    }
    free(path);
    return rc;
}

/* The next generation number: one more than any directory in secrets.d (gensfd). */
static long next_generation(int gensfd) {
    long max = 0;
    int fd = openat(gensfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* a dup shares the offset */
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d && fd >= 0)
        close(fd);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char *end;
        long n = strtol(de->d_name, &end, 10);
        if (!*end && n > max)
            max = n;
    }
    if (d)
        closedir(d);
    return max + 1;
}

/* Every generation directory in gensfd but keep (NULL: all of them) goes, with its
 * plaintext; nothing is followed (fl_remove_tree_at). */
static int remove_old(int gensfd, const char *shown, const char *keep, fl_error *err) {
    int fd = openat(gensfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* a dup shares the offset */
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0)
            close(fd);
        return FL_OK;
    }
    int rc = FL_OK;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            (keep && !strcmp(de->d_name, keep)))
            continue;
        char *p = fl_path_join(shown, de->d_name);
        rc = fl_remove_tree_at(gensfd, de->d_name, p, err);
        free(p);
    }
    closedir(d);
    return rc;
}

/* dirfd/leaf is a symlink whose content is target. */
static int is_link_to(int dirfd, const char *leaf, const char *target) {
    char buf[PATH_MAX];
    ssize_t n = readlinkat(dirfd, leaf, buf, sizeof buf - 1);
    if (n < 0)
        return 0;
    buf[n] = '\0';
    return !strcmp(buf, target);
}

static int in_set(const fl_secret_set *s, const char *path) {
    for (size_t i = 0; s && i < s->n; i++)
        if (s->v[i].linked && !strcmp(s->v[i].path, path))
            return 1;
    return 0;
}

static char *link_target(const fl_secret_item *it) {
    return it->is_template ? fl_xasprintf(SECRETS_LINK "/" FL_SECRET_RENDERED_DIR "/%s", it->name)
                           : fl_xasprintf(SECRETS_LINK "/%s", it->name);
}

int fl_secret_set_check_paths(const fl_secret_set *s, fl_error *err) {
    int rootfd = open_root(s->root, err);
    if (rootfd < 0)
        return FL_EIO;
    fl_strbuf b = FL_STRBUF_INIT;
    int n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const fl_secret_item *it = &s->v[i];
        if (!it->linked)
            continue;
        char *p = fl_act_root_path(s->root, it->path);
        char *t = link_target(it);
        const char *kind = it->is_template ? "template" : "secret";
        const char *leaf;
        fl_error e = FL_ERROR_INIT;
        int dfd =
            fl_beneath_parent(rootfd, it->path, 0, NULL, &leaf, s->root, FL_BENEATH_NO_LINKS, &e);
        if (dfd < 0 && e.code != FL_ENOTFOUND) {
            /* A directory on the way is a link (or not a directory): following it could put
             * the link, and what it reveals, anywhere. */
            fl_strbuf_addf(&b, "\n  %s (path of %s \"%s\"): %s", p, kind, it->name, e.message);
            n++;
        } else if (dfd >= 0) {
            struct stat st;
            if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && !is_link_to(dfd, leaf, t)) {
                fl_strbuf_addf(&b, "\n  %s (path of %s \"%s\")", p, kind, it->name);
                n++;
            }
            close(dfd);
        }
        fl_error_clear(&e);
        free(t);
        free(p);
    }
    close(rootfd);
    int rc = FL_OK;
    if (n) {
        rc = fl_error_set(err, FL_ECONFLICT,
                          "%d secret path%s already hold%s something flakectl did not put "
                          "there, or lead through a symlink:%s",
                          n, n == 1 ? "" : "s", n == 1 ? "s" : "", b.buf);
        fl_error_set_hint(err, "move them away (or make the directories on the way real "
                               "directories); flakectl never overwrites them and never "
                               "follows symlinks beneath the root");
    }
    fl_strbuf_release(&b);
    return rc;
}

/* Writes the plaintexts into a new generation directory in gensfd and flips the secrets
 * link (in runfd) to it. *made_gen is the generation's name (owned) once it exists. */
static int install_generation(const fl_secret_set *s, int runfd, int gensfd, const char *shown_gens,
                              char **made_gen, FILE *out, fl_error *err) {
    char *name = fl_xasprintf("%ld", next_generation(gensfd));
    char *shown_dir = fl_path_join(shown_gens, name);
    int rc = FL_OK, dirfd = -1, rdirfd = -1;
    /* Built as a private directory, opened up (0751: traversable, not listable) only
     * when complete. */
    if (mkdirat(gensfd, name, 0700) < 0 ||
        (dirfd = openat(gensfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        rc = fl_error_errno(err, "cannot create %s", shown_dir);
        free(shown_dir);
        free(name);
        return rc;
    }
    *made_gen = name;
    int any_tmpl = 0;
    for (size_t i = 0; i < s->n; i++)
        any_tmpl |= s->v[i].is_template;
    char *rdir = fl_path_join(shown_dir, FL_SECRET_RENDERED_DIR);
    if (any_tmpl && (mkdirat(dirfd, FL_SECRET_RENDERED_DIR, 0700) < 0 ||
                     (rdirfd = openat(dirfd, FL_SECRET_RENDERED_DIR,
                                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
                     fchmod(rdirfd, 0751) < 0))
        rc = fl_error_errno(err, "cannot create %s", rdir);
    for (size_t i = 0; !rc && i < s->n; i++)
        rc = s->v[i].is_template ? write_one(s, &s->v[i], rdirfd, rdir, err)
                                 : write_one(s, &s->v[i], dirfd, shown_dir, err);
    free(rdir);
    if (!rc && fchmod(dirfd, 0751) < 0)
        rc = fl_error_errno(err, "cannot chmod %s", shown_dir);
    if (rdirfd >= 0)
        close(rdirfd);
    close(dirfd);
    if (!rc) {
        char *target = fl_xasprintf("secrets.d/%s", name);
        char *shown_link = fl_act_root_path(s->root, SECRETS_LINK);
        rc = fl_atomic_symlink_at(runfd, "secrets", shown_link, target, (uid_t)-1, (gid_t)-1, 0,
                                  err);
        free(shown_link);
        free(target);
    }
    if (!rc && out)
        fprintf(out, "  secrets: %zu installed in " SECRETS_GENS "/%s\n", s->n, name);
    free(shown_dir);
    return rc;
}

/* Declared paths link to the stable name, so they follow every later flip; links the
 * previous generation made that nobody declares now go. */
static int update_links(const fl_secret_set *s, const fl_secret_set *old, int rootfd,
                        fl_error *err) {
    int rc = FL_OK;
    for (size_t i = 0; !rc && i < s->n; i++) {
        const fl_secret_item *it = &s->v[i];
        if (!it->linked)
            continue;
        const char *leaf;
        fl_beneath_made made = {0};
        int dfd = fl_beneath_parent(rootfd, it->path, 0755, &made, &leaf, s->root,
                                    FL_BENEATH_NO_LINKS, err);
        char *t = link_target(it);
        char *shown = fl_act_root_path(s->root, it->path);
        if (dfd < 0)
            rc = FL_EIO;
        else if (!is_link_to(dfd, leaf, t))
            rc = fl_atomic_symlink_at(dfd, leaf, shown, t, (uid_t)-1, (gid_t)-1, 0, err);
        if (dfd >= 0)
            close(dfd);
        if (rc)
            fl_beneath_unmake(rootfd, &made);
        fl_beneath_made_release(&made);
        free(shown);
        free(t);
    }
    for (size_t i = 0; !rc && old && i < old->n; i++) {
        const fl_secret_item *it = &old->v[i];
        if (!it->linked || in_set(s, it->path))
            continue;
        const char *leaf;
        fl_error e = FL_ERROR_INIT;
        int dfd =
            fl_beneath_parent(rootfd, it->path, 0, NULL, &leaf, s->root, FL_BENEATH_NO_LINKS, &e);
        fl_error_clear(&e);
        if (dfd < 0)
            continue; /* gone, or now behind a link: nothing of ours to remove there */
        char *t = link_target(it);
        if (is_link_to(dfd, leaf, t) && unlinkat(dfd, leaf, 0) < 0) {
            char *shown = fl_act_root_path(s->root, it->path);
            rc = fl_error_errno(err, "cannot remove %s", shown);
            free(shown);
        }
        free(t);
        close(dfd);
    }
    return rc;
}

int fl_secret_set_install(const fl_secret_set *s, const fl_secret_set *old, FILE *out,
                          fl_error *err) {
    int rc = fl_secret_set_require(s, err);
    if (rc)
        return rc;
    int rootfd = open_root(s->root, err);
    if (rootfd < 0)
        return FL_EIO;
    char *shown_gens = fl_act_root_path(s->root, SECRETS_GENS);
    const char *leaf;
    int runfd = -1, gensfd = -1;
    char *gen = NULL;
    fl_beneath_made made = {0};
    if (!s->n) {
        /* Nothing declared: the link and every plaintext go. A /run/flakectl that is
         * missing, or is not a real directory beneath the root, holds nothing of ours. */
        fl_error e = FL_ERROR_INIT;
        runfd = fl_beneath_parent(rootfd, SECRETS_LINK, 0, NULL, &leaf, s->root,
                                  FL_BENEATH_NO_LINKS, &e);
        fl_error_clear(&e);
        if (runfd >= 0 && unlinkat(runfd, "secrets", 0) < 0 && errno != ENOENT) {
            char *shown = fl_act_root_path(s->root, SECRETS_LINK);
            rc = fl_error_errno(err, "cannot remove %s", shown);
            free(shown);
        }
        if (!rc && runfd >= 0) {
            gensfd = openat(runfd, "secrets.d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (gensfd >= 0) {
                rc = remove_old(gensfd, shown_gens, NULL, err);
                if (!rc)
                    unlinkat(runfd, "secrets.d", AT_REMOVEDIR);
            }
        }
    } else {
        /* secrets.d and the directories above it (0751: traversable, not listable), made
         * beneath the root with no link followed. */
        runfd = fl_beneath_parent(rootfd, SECRETS_GENS "/x", 0751, &made, &leaf, s->root,
                                  FL_BENEATH_NO_LINKS, err);
        if (runfd < 0) {
            rc = FL_EIO;
        } else {
            gensfd = runfd;
            runfd = fl_beneath_parent(rootfd, SECRETS_LINK, 0, NULL, &leaf, s->root,
                                      FL_BENEATH_NO_LINKS, err);
            if (runfd < 0)
                rc = FL_EIO;
        }
        if (!rc)
            rc = install_generation(s, runfd, gensfd, shown_gens, &gen, out, err);
        if (rc && gen) {
            char *p = fl_path_join(shown_gens, gen);
            fl_error e = FL_ERROR_INIT;
            fl_remove_tree_at(gensfd, gen, p, &e);
            fl_error_clear(&e);
            free(p);
        }
        if (rc)
            fl_beneath_unmake(rootfd, &made);
        if (!rc)
            rc = remove_old(gensfd, shown_gens, gen, err);
    }
    fl_beneath_made_release(&made);
    if (!rc)
        rc = update_links(s, old, rootfd, err);
    if (gensfd >= 0)
        close(gensfd);
    if (runfd >= 0)
        close(runfd);
    close(rootfd);
    free(gen);
    free(shown_gens);
    return rc;
}
