/* store.c - opening a store, store path arithmetic, adding sources and texts, validity,
 * closures, locking and the commit step (move in, then register). Never runs builders
 * (build.c) and never deletes valid paths (gc.c). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/strbuf.h"
#include "store/store_int.h"

struct fl_store {
    char *state_dir;
    char *store_dir;
    char *db_dir;
    int lock_fd; /* <db>/gc.lock, shared while open, exclusive during GC/verify */
    fl_store_substitute_fn substitute;
    void *substitute_ctx;
    fl_store_fetch_report_fn fetch_report; /* NULL: downloads are silent */
    void *fetch_report_ctx;
    const fl_progress *progress; /* builds, as they start and finish; NULL: nobody listens */
};

void fl_store_set_substituter(fl_store *s, fl_store_substitute_fn fn, void *ctx) {
    s->substitute = fn;
    s->substitute_ctx = ctx;
}

int fl_store_substitute(fl_store *s, const char *path, fl_error *err) {
    return s->substitute ? s->substitute(s->substitute_ctx, s, path, err) : 0;
}

void fl_store_set_fetch_report(fl_store *s, fl_store_fetch_report_fn fn, void *ctx) {
    s->fetch_report = fn;
    s->fetch_report_ctx = ctx;
}

void fl_store_set_progress(fl_store *s, const fl_progress *progress) {
    s->progress = progress;
}

const fl_progress *fl_store_progress(const fl_store *s) {
    return s->progress;
}

void fl_store_fetch_reporter(const fl_store *s, fl_store_fetch_report_fn *fn, void **ctx) {
    *fn = s->fetch_report;
    *ctx = s->fetch_report_ctx;
}

int64_t fl_store_now(void) {
    return (int64_t)time(NULL);
}

const char *fl_store_dir(const fl_store *s) {
    return s->store_dir;
}
const char *fl_store_state_dir(const fl_store *s) {
    return s->state_dir;
}
const char *fl_store_db_dir(const fl_store *s) {
    return s->db_dir;
}

static void remove_quietly(const char *path);

/* Outputs a killed build left at their final name (builders write there), which nothing
 * registered: a store path is valid exactly when its registry entry exists. */
static void sweep_unregistered(fl_store *s) {
    DIR *d = opendir(s->store_dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strlen(n) <= FL_STORE_HASH_LEN + 1 || n[FL_STORE_HASH_LEN] != '-' || n[0] == '.')
            continue;
        char *entry = fl_xasprintf("%s/%.*s.json", s->db_dir, FL_STORE_HASH_LEN, n);
        if (access(entry, F_OK) < 0 && errno == ENOENT) {
            char *p = fl_path_join(s->store_dir, n);
            remove_quietly(p);
            free(p);
        }
        free(entry);
    }
    if (d)
        closedir(d);
}

/* Temporary files and directories of store writers that were killed: build directories,
 * half-copied paths, registry and root files that never got renamed. Every store writer
 * holds the store lock (shared) while it works, so whoever gets it exclusively at once may
 * remove them all; when another process holds it, its temporaries may be live and the
 * sweep waits for a later command. */
static void sweep_temps(fl_store *s) {
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0)
        return;
    char *tmp = fl_path_join(s->state_dir, "tmp");
    char *gcroots = fl_path_join(s->state_dir, "gcroots");
    fl_sweep_dir(tmp, "build-", NULL, 0);
    /* the notes of partial downloads that never got renamed; the downloads themselves wait
     * to be resumed (gc removes stale ones) */
    char *partial = fl_path_join(tmp, FL_STORE_PARTIAL_DIR);
    fl_sweep_dir(partial, NULL, ".tmp-", 0);
    free(partial);
    sweep_unregistered(s);
    fl_sweep_dir(s->store_dir, ".tmp-", NULL, 0);
    fl_sweep_dir(s->db_dir, NULL, ".tmp-", 0);
    fl_sweep_dir(gcroots, NULL, ".tmp-", 2);
    free(tmp);
    free(gcroots);
}

int fl_store_open(const char *state_dir, fl_store **out, fl_error *err) {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        strcpy(cwd, "/");
    fl_store *s = fl_xcalloc(1, sizeof *s);
    s->lock_fd = -1;
    s->state_dir = fl_canon_path(state_dir, cwd);
    s->store_dir = fl_path_join(s->state_dir, "store");
    s->db_dir = fl_path_join(s->state_dir, "db");
    char *locks = fl_path_join(s->db_dir, "locks");
    char *lock = fl_path_join(s->db_dir, "gc.lock");
    int rc = fl_mkdir_p(s->store_dir, 0755, err);
    if (!rc)
        rc = fl_mkdir_p(locks, 0755, err);
    if (!rc) {
        s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (s->lock_fd < 0)
            rc = fl_error_errno(err, "cannot open the store lock %s", lock);
    }
    if (!rc)
        sweep_temps(s);
    while (!rc && flock(s->lock_fd, LOCK_SH) < 0) {
        if (errno != EINTR)
            rc = fl_error_errno(err, "cannot lock %s", lock);
    }
    free(locks);
    free(lock);
    if (rc) {
        fl_error_add_frame(err, "while opening the store in %s", s->state_dir);
        if (!err || !err->hint)
            fl_error_set_hint(err, "pass --state-dir DIR (or set FLAKECTL_STATE_DIR) to use a "
                                   "store you can write");
        fl_store_close(s);
        return rc;
    }
    *out = s;
    return FL_OK;
}

void fl_store_close(fl_store *s) {
    if (!s)
        return;
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->state_dir);
    free(s->store_dir);
    free(s->db_dir);
    free(s);
}

int fl_store_lock_exclusive(fl_store *s, fl_error *err) {
    while (flock(s->lock_fd, LOCK_EX) < 0)
        if (errno != EINTR)
            return fl_error_errno(err, "cannot lock the store exclusively");
    return FL_OK;
}

void fl_store_lock_shared(fl_store *s) {
    while (flock(s->lock_fd, LOCK_SH) < 0 && errno == EINTR) {
    }
}

int fl_store_lock_path(fl_store *s, const char *path, int *fd, fl_error *err) {
    const char *hp = fl_store_hash_part(s, path);
    char *file = fl_xasprintf("%s/locks/%.*s.lock", s->db_dir, FL_STORE_HASH_LEN, hp ? hp : "x");
    *fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    int rc = FL_OK;
    if (*fd < 0)
        rc = fl_error_errno(err, "cannot open the lock %s", file);
    while (!rc && flock(*fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            rc = fl_error_errno(err, "cannot lock %s", file);
            close(*fd);
            *fd = -1;
        }
    }
    free(file);
    return rc;
}

void fl_store_unlock_path(int fd) {
    /* The lock file stays: unlinking it would race with a process about to lock it. */
    if (fd >= 0)
        close(fd);
}

/* ---- names and paths -------------------------------------------------------------------- */

int fl_store_check_name(const char *name, fl_error *err) {
    size_t n = strlen(name);
    if (n == 0)
        return fl_error_set(err, FL_EPARSE, "invalid store path name: it is empty");
    if (n > 211)
        return fl_error_set(err, FL_EPARSE,
                            "invalid store path name '%.40s...': %zu characters, at most 211", name,
                            n);
    if (name[0] == '.') {
        int rc =
            fl_error_set(err, FL_EPARSE, "invalid store path name '%s': it starts with '.'", name);
        fl_error_set_hint(err, "give the path another name (e.g. builtins.path { name = ...; })");
        return rc;
    }
    for (const char *c = name; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            strchr("+-._?=", *c))
            continue;
        int rc =
            fl_error_set(err, FL_EPARSE,
                         "invalid store path name '%s': character '%c' is not allowed", name, *c);
        fl_error_set_hint(err, "names may hold only letters, digits and + - . _ ? =");
        return rc;
    }
    return FL_OK;
}

char *fl_store_make_path(const char *store_dir, const char *type,
                         const unsigned char hash[FL_SHA256_LEN], const char *name) {
    char hex[2 * FL_SHA256_LEN + 1];
    fl_hex_encode(hash, FL_SHA256_LEN, hex);
    char *fp = fl_xasprintf("%s:sha256:%s:%s:%s", type, hex, store_dir, name);
    unsigned char h[FL_SHA256_LEN], c[20];
    fl_sha256_buf(fp, strlen(fp), h);
    free(fp);
    fl_hash_compress(h, sizeof h, c, sizeof c);
    char b32[FL_STORE_HASH_LEN + 1];
    fl_base32_encode(c, sizeof c, b32);
    return fl_xasprintf("%s/%s-%s", store_dir, b32, name);
}

char *fl_store_make_source_path(const char *store_dir, const unsigned char nar_hash[32],
                                const char *name) {
    return fl_store_make_path(store_dir, "source", nar_hash, name);
}

char *fl_store_make_fixed_path(const char *store_dir, int recursive,
                               const unsigned char hash[FL_SHA256_LEN], const char *name) {
    if (recursive)
        return fl_store_make_source_path(store_dir, hash, name);
    char hex[2 * FL_SHA256_LEN + 1];
    fl_hex_encode(hash, FL_SHA256_LEN, hex);
    char *inner = fl_xasprintf("fixed:out:sha256:%s:", hex);
    unsigned char h[FL_SHA256_LEN];
    fl_sha256_buf(inner, strlen(inner), h);
    free(inner);
    return fl_store_make_path(store_dir, "output:out", h, name);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *fl_store_make_text_path(const char *store_dir, const unsigned char text_hash[32],
                              const char *name, char *const *refs, size_t nrefs) {
    char **sorted = fl_xcalloc(nrefs + 1, sizeof *sorted);
    if (nrefs)
        memcpy(sorted, refs, nrefs * sizeof *sorted);
    qsort(sorted, nrefs, sizeof *sorted, cmp_str);
    fl_strbuf type;
    fl_strbuf_init(&type, 0);
    fl_strbuf_adds(&type, "text");
    for (size_t i = 0; i < nrefs; i++)
        if (i == 0 || strcmp(sorted[i], sorted[i - 1]))
            fl_strbuf_addf(&type, ":%s", sorted[i]);
    free(sorted);
    char *p = fl_store_make_path(store_dir, type.buf, text_hash, name);
    fl_strbuf_release(&type);
    return p;
}

const char *fl_store_hash_part(const fl_store *s, const char *path) {
    size_t n = strlen(s->store_dir);
    if (strncmp(path, s->store_dir, n) != 0 || path[n] != '/')
        return NULL;
    const char *b = path + n + 1;
    for (int i = 0; i < FL_STORE_HASH_LEN; i++)
        if (!fl_base32_valid_char(b[i]))
            return NULL;
    if (b[FL_STORE_HASH_LEN] != '-')
        return NULL;
    return b;
}

int fl_store_is_store_path(const fl_store *s, const char *path) {
    const char *hp = fl_store_hash_part(s, path);
    if (!hp)
        return 0;
    const char *name = hp + FL_STORE_HASH_LEN + 1;
    return !strchr(name, '/') && fl_store_check_name(name, NULL) == 0;
}

char *fl_store_to_store_path(const fl_store *s, const char *path, fl_error *err) {
    if (fl_store_is_store_path(s, path))
        return fl_xstrdup(path);
    char *real = realpath(path, NULL);
    if (!real) {
        fl_error_errno(err, "cannot resolve %s", path);
        return NULL;
    }
    char *real_store = realpath(s->store_dir, NULL);
    char *out = NULL;
    size_t n = real_store ? strlen(real_store) : 0;
    if (real_store && !strncmp(real, real_store, n) && real[n] == '/') {
        const char *b = real + n + 1;
        const char *e = strchr(b, '/');
        out = fl_xasprintf("%s/%.*s", s->store_dir, (int)(e ? (size_t)(e - b) : strlen(b)), b);
        if (!fl_store_is_store_path(s, out)) {
            free(out);
            out = NULL;
        }
    }
    if (!out)
        fl_error_set(err, FL_ENOTFOUND, "%s is not in the store %s", path, s->store_dir);
    free(real);
    free(real_store);
    return out;
}

int fl_store_is_valid(fl_store *s, const char *path) {
    fl_store_path_info *info = NULL;
    if (!fl_store_is_store_path(s, path) || fl_registry_read(s, path, &info, NULL) != 0)
        return 0;
    fl_store_path_info_free(info);
    return fl_path_exists(path);
}

int fl_store_query_info(fl_store *s, const char *path, fl_store_path_info **info, fl_error *err) {
    if (!fl_store_is_store_path(s, path))
        return fl_error_set(err, FL_ENOTFOUND, "%s is not a path in the store %s", path,
                            s->store_dir);
    int rc = fl_registry_read(s, path, info, err);
    if (rc)
        return rc;
    if (!fl_path_exists(path)) {
        fl_store_path_info_free(*info);
        *info = NULL;
        int rc2 = fl_error_set(err, FL_ENOTFOUND, "%s is registered but missing", path);
        fl_error_set_hint(err, "run 'flakectl store verify --repair'");
        return rc2;
    }
    return FL_OK;
}

void fl_store_free_paths(char **paths, size_t n) {
    if (!paths)
        return;
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

/* ---- normalizing and syncing ------------------------------------------------------------ */

static int normalize_at(int pfd, const char *name, const char *shown, int is_root, fl_error *err) {
    static const struct timespec times[2] = {{0, UTIME_OMIT}, {1, 0}};
    struct stat st;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return fl_error_errno(err, "cannot stat %s", shown);
    if (is_root && fchownat(pfd, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
        return fl_error_errno(err, "cannot chown %s", shown);
    if (S_ISLNK(st.st_mode)) {
        if (utimensat(pfd, name, times, AT_SYMLINK_NOFOLLOW) < 0)
            return fl_error_errno(err, "cannot set the time of %s", shown);
        return FL_OK;
    }
    if (S_ISREG(st.st_mode)) {
        mode_t m = (st.st_mode & S_IXUSR) ? 0555 : 0444;
        if (fchmodat(pfd, name, m, 0) < 0 || utimensat(pfd, name, times, 0) < 0)
            return fl_error_errno(err, "cannot normalize %s", shown);
        return FL_OK;
    }
    if (!S_ISDIR(st.st_mode))
        return fl_error_set(err, FL_EIO,
                            "%s is a special file (device, FIFO or socket), which the store "
                            "cannot hold",
                            shown);
    /* Writable while we walk it (a builder may have left it read-only). */
    if (fchmodat(pfd, name, 0700, 0) < 0)
        return fl_error_errno(err, "cannot normalize %s", shown);
    int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fl_error_errno(err, "cannot open %s", shown);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return fl_error_errno(err, "cannot open %s", shown);
    }
    int rc = FL_OK;
    struct dirent *de;
    while (!rc && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *sub = fl_path_join(shown, de->d_name);
        rc = normalize_at(dirfd(d), de->d_name, sub, is_root, err);
        free(sub);
    }
    if (!rc && (fchmod(dirfd(d), 0555) < 0 || futimens(dirfd(d), times) < 0))
        rc = fl_error_errno(err, "cannot normalize %s", shown);
    closedir(d);
    return rc;
}

int fl_store_normalize_tree(const char *path, fl_error *err) {
    return normalize_at(AT_FDCWD, path, path, geteuid() == 0, err);
}

int fl_store_sync_fs(const char *path, fl_error *err) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ELOOP)
        return FL_OK; /* a symlink: its directory is synced by the rename */
    if (fd < 0)
        return fl_error_errno(err, "cannot open %s", path);
    /* One syncfs beats an fsync per file for trees of thousands of files. */
    int rc = syncfs(fd) < 0 ? fl_error_errno(err, "cannot sync %s to disk", path) : FL_OK;
    close(fd);
    return rc;
}

char *fl_store_partial_dir(fl_store *s, fl_error *err) {
    char *tmp = fl_path_join(s->state_dir, "tmp");
    char *dir = fl_path_join(tmp, FL_STORE_PARTIAL_DIR);
    /* tmp as every other writer makes it; the partial area 0700: what is in it is not
     * checked yet, and only this store's writers may touch it */
    int rc = fl_mkdir_p(tmp, 0755, err);
    if (!rc && mkdir(dir, 0700) < 0 && errno != EEXIST)
        rc = fl_error_errno(err, "cannot make %s", dir);
    free(tmp);
    if (rc) {
        free(dir);
        return NULL;
    }
    return dir;
}

/* ---- adding ----------------------------------------------------------------------------- */

char *fl_store_temp_dir(fl_store *s, fl_error *err) {
    return fl_make_temp_dir(s->store_dir, ".tmp-", err);
}

int fl_store_commit(fl_store *s, const char *tmp, const fl_store_path_info *info, fl_error *err) {
    int rc;
    if (fl_path_exists(info->path)) {
        /* Unregistered (the caller checked under the path lock): a crash leftover. */
        rc = fl_remove_tree(info->path, err);
        if (rc)
            return rc;
    }
    rc = fl_atomic_rename(tmp, info->path, err);
    if (!rc) {
        rc = fl_registry_write(s, info, err);
        if (rc) {
            fl_error dummy = FL_ERROR_INIT;
            fl_remove_tree(info->path, &dummy);
            fl_error_clear(&dummy);
        }
    }
    return rc;
}

static char *base_name(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    const char *b = path + n;
    while (b > path && b[-1] != '/')
        b--;
    return fl_xstrndup(b, (size_t)(path + n - b));
}

static void remove_quietly(const char *path) {
    fl_error e = FL_ERROR_INIT;
    fl_remove_tree(path, &e);
    fl_error_clear(&e);
}

/* Shared tail of add_path and add_text: lock, re-check, sync, commit. */
static int finish_add(fl_store *s, const char *mirror, fl_store_path_info *info, fl_error *err) {
    int lock = -1;
    int rc = fl_store_lock_path(s, info->path, &lock, err);
    if (rc)
        return rc;
    if (!fl_store_is_valid(s, info->path)) {
        rc = fl_store_sync_fs(mirror, err);
        if (!rc) {
            info->registration_time = fl_store_now();
            rc = fl_store_commit(s, mirror, info, err);
        }
    }
    fl_store_unlock_path(lock);
    return rc;
}

int fl_store_add_path(fl_store *s, const char *src, const char *name, int flags, char **out_path,
                      fl_error *err) {
    return fl_store_add_path_filtered(s, src, name, flags, NULL, NULL, out_path, err);
}

/* Copies the regular file src to dst (created, 0600); 0 or an error naming both. */
static int copy_regular(const char *src, const char *dst, fl_error *err) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return fl_error_errno(err, "cannot open %s", src);
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return fl_error_errno(err, "cannot create %s", dst);
    }
    char buf[65536];
    ssize_t r;
    int rc = FL_OK;
    while (!rc && (r = read(in, buf, sizeof buf)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        rc = r < 0 ? fl_error_errno(err, "cannot read %s", src)
                   : fl_fd_write_all(out, buf, (size_t)r, err);
    }
    if (!rc && fsync(out) < 0)
        rc = fl_error_errno(err, "cannot sync %s", dst);
    close(in);
    if (close(out) < 0 && !rc)
        rc = fl_error_errno(err, "cannot write %s", dst);
    return rc;
}

int fl_store_add_fixed(fl_store *s, const char *src, int recursive, const char *name,
                       char **out_path, fl_error *err) {
    if (recursive)
        return fl_store_add_path(s, src, name, 0, out_path, err);
    int rc = fl_store_check_name(name, err);
    unsigned char h[FL_SHA256_LEN];
    if (!rc)
        rc = fl_store_hash_flat(src, h, err);
    if (rc) {
        fl_error_add_frame(err, "while adding %s to the store", src);
        return rc;
    }
    char *path = fl_store_make_fixed_path(s->store_dir, 0, h, name);
    int lock = -1;
    rc = fl_store_lock_path(s, path, &lock, err);
    if (!rc && fl_store_is_valid(s, path)) {
        fl_store_unlock_path(lock);
        *out_path = path;
        return FL_OK;
    }
    /* copied into the store's own temp dir first: only a complete, synced file is committed */
    char *tmp = rc ? NULL : fl_store_temp_dir(s, err);
    char *file = tmp ? fl_path_join(tmp, "x") : NULL;
    fl_store_path_info info = {0};
    if (!rc && !tmp)
        rc = FL_EIO;
    if (!rc)
        rc = copy_regular(src, file, err);
    if (!rc)
        rc = fl_store_normalize_tree(file, err);
    if (!rc)
        rc = fl_nar_hash_path(file, info.nar_hash, &info.nar_size, err);
    if (!rc)
        rc = fl_store_sync_fs(file, err);
    if (!rc) {
        info.path = path;
        info.registration_time = fl_store_now();
        rc = fl_store_commit(s, file, &info, err);
    }
    if (tmp) {
        fl_remove_tree(tmp, NULL);
        free(tmp);
    }
    free(file);
    if (lock >= 0)
        fl_store_unlock_path(lock);
    if (rc) {
        fl_error_add_frame(err, "while adding %s to the store", src);
        free(path);
        return rc;
    }
    *out_path = path;
    return FL_OK;
}

int fl_store_add_path_filtered(fl_store *s, const char *src, const char *name, int flags,
                               fl_store_filter_fn filter, void *filter_ctx, char **out_path,
                               fl_error *err) {
    char *own_name = name ? fl_xstrdup(name) : base_name(src);
    int rc = fl_store_check_name(own_name, err);
    if (rc) {
        fl_error_add_frame(err, "while adding %s to the store", src);
        free(own_name);
        return rc;
    }
    /* Copying a tree that holds the store would copy the copy being made. */
    char *real_src = realpath(src, NULL), *real_store = realpath(s->store_dir, NULL);
    size_t n = real_src ? strlen(real_src) : 0;
    int holds = real_src && real_store && !strncmp(real_store, real_src, n) &&
                (real_store[n] == '/' || real_store[n] == '\0' || n == 1);
    free(real_src);
    free(real_store);
    if (holds) {
        free(own_name);
        return fl_error_set(err, FL_EGENERIC, "cannot add %s to the store: it contains the store %s",
                            src, s->store_dir);
    }
    /* Hash first, reading only: re-adding an unchanged source (every evaluation does) then
     * writes nothing at all. */
    unsigned char first[FL_SHA256_LEN];
    fl_hash_sink h0 = {{0}, 0};
    fl_sha256_init(&h0.sha);
    rc = fl_nar_dump_ex(src, fl_hash_sink_write, &h0, NULL, flags, filter, filter_ctx, err);
    fl_sha256_final(&h0.sha, first);
    if (rc) {
        fl_error_add_frame(err, "while adding %s to the store", src);
        free(own_name);
        return rc;
    }
    char *known = fl_store_make_source_path(s->store_dir, first, own_name);
    if (fl_store_is_valid(s, known)) {
        free(own_name);
        *out_path = known;
        return FL_OK;
    }
    free(known);
    char *tmp = fl_store_temp_dir(s, err);
    if (!tmp) {
        free(own_name);
        return FL_EIO;
    }
    char *mirror = fl_path_join(tmp, "x");
    fl_hash_sink h = {{0}, 0};
    fl_sha256_init(&h.sha);
    rc = fl_nar_dump_ex(src, fl_hash_sink_write, &h, mirror, flags, filter, filter_ctx, err);
    unsigned char hash[FL_SHA256_LEN];
    fl_sha256_final(&h.sha, hash);
    fl_store_path_info info = {0};
    if (!rc && memcmp(hash, first, sizeof hash) != 0) {
        rc = fl_error_set(err, FL_ECONFLICT, "%s changed while it was being added", src);
        fl_error_set_hint(err, "add it again once nothing is writing to it");
    }
    if (!rc) {
        info.path = fl_store_make_source_path(s->store_dir, hash, own_name);
        memcpy(info.nar_hash, hash, sizeof hash);
        info.nar_size = h.size;
        if (!fl_store_is_valid(s, info.path))
            rc = finish_add(s, mirror, &info, err);
    }
    if (rc)
        fl_error_add_frame(err, "while adding %s to the store", src);
    remove_quietly(tmp);
    free(tmp);
    free(mirror);
    free(own_name);
    if (rc) {
        free(info.path);
        return rc;
    }
    *out_path = info.path;
    return FL_OK;
}

/* NAR of a single regular file held in memory (texts are small by nature). */
static void nar_of_text(fl_strbuf *nar, const char *text, size_t len) {
    static const char *const head[] = {"nix-archive-1", "(", "type", "regular", "contents", NULL};
    for (const char *const *h = head; *h; h++) {
        uint64_t n = strlen(*h);
        for (int i = 0; i < 8; i++)
            fl_strbuf_addch(nar, (char)(n >> (8 * i)));
        fl_strbuf_add(nar, *h, n);
        while (nar->len % 8)
            fl_strbuf_addch(nar, '\0');
    }
    for (int i = 0; i < 8; i++)
        fl_strbuf_addch(nar, (char)((uint64_t)len >> (8 * i)));
    fl_strbuf_add(nar, text, len);
    while (nar->len % 8)
        fl_strbuf_addch(nar, '\0');
    fl_strbuf_add(nar, "\1\0\0\0\0\0\0\0)\0\0\0\0\0\0\0", 16);
}

int fl_store_add_text(fl_store *s, const char *name, const char *text, size_t len,
                      char *const *refs, size_t nrefs, char **out_path, fl_error *err) {
    int rc = fl_store_check_name(name, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < nrefs; i++)
        if (!fl_store_is_valid(s, refs[i]))
            return fl_error_set(err, FL_ENOTFOUND,
                                "cannot add the text '%s': its reference %s is not valid", name,
                                refs[i]);
    unsigned char th[FL_SHA256_LEN];
    fl_sha256_buf(text, len, th);
    fl_store_path_info info = {0};
    info.path = fl_store_make_text_path(s->store_dir, th, name, refs, nrefs);
    if (fl_store_is_valid(s, info.path)) {
        *out_path = info.path;
        return FL_OK;
    }
    fl_strbuf nar;
    fl_strbuf_init(&nar, len + 128);
    nar_of_text(&nar, text, len);
    fl_sha256_buf(nar.buf, nar.len, info.nar_hash);
    info.nar_size = nar.len;
    fl_strbuf_release(&nar);
    info.refs = (char **)refs;
    info.nrefs = nrefs;
    char *tmp = fl_store_temp_dir(s, err);
    if (!tmp) {
        free(info.path);
        return FL_EIO;
    }
    char *file = fl_path_join(tmp, "x");
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        rc = fl_error_errno(err, "cannot create %s", file);
    if (!rc)
        rc = fl_fd_write_all(fd, text, len, err);
    if (fd >= 0)
        close(fd);
    if (!rc)
        rc = fl_store_normalize_tree(file, err);
    if (!rc)
        rc = finish_add(s, file, &info, err);
    if (rc)
        fl_error_add_frame(err, "while adding the text '%s' to the store", name);
    remove_quietly(tmp);
    free(tmp);
    free(file);
    if (rc) {
        free(info.path);
        return rc;
    }
    *out_path = info.path;
    return FL_OK;
}

/* ---- closures --------------------------------------------------------------------------- */

typedef struct closure_state {
    fl_store *s;
    char **out;
    size_t n, cap;
    char **seen; /* sorted insert would be nicer; stores are small enough for a linear set */
    size_t nseen, capseen;
} closure_state;

static int seen_add(closure_state *c, const char *p) {
    /* binary search + insert to keep it O(n log n) on lookups */
    size_t lo = 0, hi = c->nseen;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int k = strcmp(c->seen[mid], p);
        if (k == 0)
            return 0;
        if (k < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (c->nseen == c->capseen) {
        c->capseen = c->capseen ? c->capseen * 2 : 64;
        c->seen = fl_xrealloc(c->seen, c->capseen * sizeof *c->seen);
    }
    memmove(c->seen + lo + 1, c->seen + lo, (c->nseen - lo) * sizeof *c->seen);
    c->seen[lo] = fl_xstrdup(p);
    c->nseen++;
    return 1;
}

static int closure_visit(closure_state *c, const char *p, fl_error *err) {
    if (!seen_add(c, p))
        return FL_OK;
    fl_store_path_info *info = NULL;
    int rc = fl_store_query_info(c->s, p, &info, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < info->nrefs && !rc; i++)
        if (strcmp(info->refs[i], p) != 0)
            rc = closure_visit(c, info->refs[i], err);
    fl_store_path_info_free(info);
    if (rc)
        return rc;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->out = fl_xrealloc(c->out, c->cap * sizeof *c->out);
    }
    c->out[c->n++] = fl_xstrdup(p);
    return FL_OK;
}

int fl_store_closure(fl_store *s, char *const *paths, size_t npaths, char ***out, size_t *nout,
                     fl_error *err) {
    closure_state c = {s, NULL, 0, 0, NULL, 0, 0};
    int rc = FL_OK;
    for (size_t i = 0; i < npaths && !rc; i++)
        rc = closure_visit(&c, paths[i], err);
    fl_store_free_paths(c.seen, c.nseen);
    if (rc) {
        fl_store_free_paths(c.out, c.n);
        return rc;
    }
    *out = c.out;
    *nout = c.n;
    return FL_OK;
}
