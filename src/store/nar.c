/* nar.c - Nix Archive serialization: dumping a tree (byte-identical to `nix-store --dump`,
 * optionally copying it into the store at the same time) and restoring one, strictly.
 * Streams everything: file contents never sit whole in memory. Never registers anything. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/strbuf.h"
#include "store/store_int.h"

#define FRAME_BUF (64 * 1024)
#define IO_BUF (1024 * 1024)
#define MAX_DEPTH 1024
#define NO_MIRROR (-1) /* AT_FDCWD is negative too */

static const struct timespec store_times[2] = {{0, UTIME_OMIT}, {1, 0}};

/* ---- sinks ------------------------------------------------------------------------------ */

int fl_hash_sink_write(void *ctx, const void *data, size_t len, fl_error *err) {
    fl_hash_sink *h = ctx;
    (void)err;
    fl_sha256_update(&h->sha, data, len);
    h->size += len;
    return FL_OK;
}

int fl_fd_write_all(int fd, const void *data, size_t len, fl_error *err) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fl_error_errno(err, "cannot write the output");
        }
        p += n;
        len -= (size_t)n;
    }
    return FL_OK;
}

int fl_fd_sink_write(void *ctx, const void *data, size_t len, fl_error *err) {
    return fl_fd_write_all(*(int *)ctx, data, len, err);
}

/* ---- dumping ---------------------------------------------------------------------------- */

typedef struct dumper {
    fl_nar_write_fn sink;
    void *ctx;
    unsigned char *frame;
    size_t flen;
    unsigned char *io;
    int flags;
    fl_store_filter_fn filter;
    void *filter_ctx;
    fl_error *err;
} dumper;

static int flush_frame(dumper *d) {
    if (d->flen == 0)
        return FL_OK;
    size_t n = d->flen;
    d->flen = 0;
    return d->sink(d->ctx, d->frame, n, d->err);
}

static int emit(dumper *d, const void *p, size_t n) {
    if (d->flen + n > FRAME_BUF) {
        int rc = flush_frame(d);
        if (rc)
            return rc;
        if (n > FRAME_BUF)
            return d->sink(d->ctx, p, n, d->err);
    }
    memcpy(d->frame + d->flen, p, n);
    d->flen += n;
    return FL_OK;
}

static int emit_u64(dumper *d, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return emit(d, b, 8);
}

static int emit_pad(dumper *d, uint64_t len) {
    static const unsigned char zeros[8];
    return len % 8 ? emit(d, zeros, 8 - len % 8) : FL_OK;
}

static int emit_bytes(dumper *d, const char *s, size_t n) {
    int rc = emit_u64(d, n);
    if (!rc)
        rc = emit(d, s, n);
    if (!rc)
        rc = emit_pad(d, n);
    return rc;
}

static int emit_str(dumper *d, const char *s) {
    return emit_bytes(d, s, strlen(s));
}

static int emit_strs(dumper *d, const char *const *ss) {
    for (; *ss; ss++) {
        int rc = emit_str(d, *ss);
        if (rc)
            return rc;
    }
    return FL_OK;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether a relative symlink target, seen from a link `depth` directories below the root,
 * stays inside the root (lexically). */
static int target_contained(const char *target, int depth) {
    if (target[0] == '/')
        return 0;
    const char *s = target;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (--depth < 0)
                return 0;
        } else if (n > 0 && !(n == 1 && s[0] == '.')) {
            depth++;
        }
        s += n;
        if (*s == '/')
            s++;
    }
    return 1;
}

static int dump_node(dumper *d, int pfd, const char *name, const char *shown, int mdirfd,
                     const char *mname, int depth);

static int dump_regular(dumper *d, int pfd, const char *name, const char *shown,
                        const struct stat *st, int mdirfd, const char *mname) {
    int rc, fd, mfd = -1;
    int exec = (st->st_mode & S_IXUSR) != 0;
    fd = openat(pfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fl_error_errno(d->err, "cannot open %s", shown);
    if (mdirfd != NO_MIRROR) {
        mfd = openat(mdirfd, mname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (mfd < 0) {
            rc = fl_error_errno(d->err, "cannot create %s in the store", shown);
            goto out;
        }
    }
    if (st->st_size >= IO_BUF)
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    static const char *const head_exec[] = {"regular", "executable", "", "contents", NULL};
    static const char *const head[] = {"regular", "contents", NULL};
    rc = emit_strs(d, exec ? head_exec : head);
    if (!rc)
        rc = emit_u64(d, (uint64_t)st->st_size);
    /* Read exactly the size stat reported (as Nix does): no extra read() per file for EOF. */
    uint64_t total = 0, want = (uint64_t)st->st_size;
    while (!rc && total < want) {
        size_t chunk = want - total < IO_BUF ? (size_t)(want - total) : IO_BUF;
        ssize_t n = read(fd, d->io, chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = fl_error_errno(d->err, "cannot read %s", shown);
            break;
        }
        if (n == 0)
            break;
        total += (uint64_t)n;
        rc = emit(d, d->io, (size_t)n);
        if (!rc && mfd >= 0)
            rc = fl_fd_write_all(mfd, d->io, (size_t)n, d->err);
    }
    if (!rc && total != want)
        rc = fl_error_set(d->err, FL_ECONFLICT, "%s shrank while being read", shown);
    if (!rc)
        rc = emit_pad(d, want);
    if (!rc && mfd >= 0) {
        if (fchmod(mfd, exec ? 0555 : 0444) < 0 || futimens(mfd, store_times) < 0)
            rc = fl_error_errno(d->err, "cannot normalize the store copy of %s", shown);
    }
out:
    if (mfd >= 0 && close(mfd) < 0 && !rc)
        rc = fl_error_errno(d->err, "cannot write the store copy of %s", shown);
    close(fd);
    return rc;
}

static int dump_symlink(dumper *d, int pfd, const char *name, const char *shown,
                        const struct stat *st, int mdirfd, const char *mname, int depth) {
    size_t cap = (size_t)st->st_size + 1;
    if (cap < 64)
        cap = 64;
    char *target;
    for (;;) {
        target = fl_xmalloc(cap);
        ssize_t n = readlinkat(pfd, name, target, cap);
        if (n < 0) {
            free(target);
            return fl_error_errno(d->err, "cannot read the symlink %s", shown);
        }
        if ((size_t)n < cap) {
            target[n] = '\0';
            break;
        }
        free(target);
        cap *= 2;
    }
    int rc = FL_OK;
    if ((d->flags & FL_STORE_ADD_CONTAINED) && !target_contained(target, depth - 1)) {
        rc = fl_error_set(d->err, FL_ECONFLICT, "the symlink %s -> %s points outside the source",
                          shown, target);
        fl_error_set_hint(d->err, "make it relative and inside the directory, or copy the file");
    }
    static const char *const head[] = {"symlink", "target", NULL};
    if (!rc)
        rc = emit_strs(d, head);
    if (!rc)
        rc = emit_str(d, target);
    if (!rc && mdirfd != NO_MIRROR) {
        if (symlinkat(target, mdirfd, mname) < 0 ||
            utimensat(mdirfd, mname, store_times, AT_SYMLINK_NOFOLLOW) < 0)
            rc = fl_error_errno(d->err, "cannot create the store copy of %s", shown);
    }
    free(target);
    return rc;
}

static int dump_dir(dumper *d, int pfd, const char *name, const char *shown, int mdirfd,
                    const char *mname, int depth) {
    if (depth > MAX_DEPTH)
        return fl_error_set(d->err, FL_EIO, "%s: directories nested too deeply", shown);
    int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fl_error_errno(d->err, "cannot open the directory %s", shown);
    DIR *dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return fl_error_errno(d->err, "cannot open the directory %s", shown);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(dir)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = fl_xrealloc(names, cap * sizeof *names);
        }
        names[n++] = fl_xstrdup(de->d_name);
    }
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    int rc = FL_OK, mfd = -1;
    if (d->filter) {
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
            struct stat st;
            char *sub = fl_path_join(shown, names[i]);
            int keep = 1;
            if (!rc && fstatat(dirfd(dir), names[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
                const char *type = S_ISREG(st.st_mode)   ? "regular"
                                   : S_ISDIR(st.st_mode) ? "directory"
                                   : S_ISLNK(st.st_mode) ? "symlink"
                                                         : "unknown";
                keep = d->filter(d->filter_ctx, sub, type, d->err);
                if (keep < 0)
                    rc = keep;
            }
            free(sub);
            if (keep > 0 && !rc)
                names[kept++] = names[i];
            else
                free(names[i]);
        }
        n = kept;
    }
    if (mdirfd != NO_MIRROR) {
        if (mkdirat(mdirfd, mname, 0700) < 0 ||
            (mfd = openat(mdirfd, mname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
            rc = fl_error_errno(d->err, "cannot create the store copy of %s", shown);
    }
    if (!rc)
        rc = emit_str(d, "directory");
    for (size_t i = 0; i < n && !rc; i++) {
        static const char *const entry[] = {"entry", "(", "name", NULL};
        rc = emit_strs(d, entry);
        if (!rc)
            rc = emit_str(d, names[i]);
        if (!rc)
            rc = emit_str(d, "node");
        if (!rc) {
            char *sub = fl_path_join(shown, names[i]);
            rc = dump_node(d, dirfd(dir), names[i], sub, mfd, names[i], depth + 1);
            free(sub);
        }
        if (!rc)
            rc = emit_str(d, ")");
    }
    if (!rc && mfd >= 0 && (fchmod(mfd, 0555) < 0 || futimens(mfd, store_times) < 0))
        rc = fl_error_errno(d->err, "cannot normalize the store copy of %s", shown);
    if (mfd >= 0)
        close(mfd);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(dir);
    return rc;
}

static int dump_node(dumper *d, int pfd, const char *name, const char *shown, int mdirfd,
                     const char *mname, int depth) {
    struct stat st;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return fl_error_errno(d->err, "cannot stat %s", shown);
    static const char *const open_node[] = {"(", "type", NULL};
    int rc = emit_strs(d, open_node);
    if (rc)
        return rc;
    if (S_ISREG(st.st_mode))
        rc = dump_regular(d, pfd, name, shown, &st, mdirfd, mname);
    else if (S_ISLNK(st.st_mode))
        rc = dump_symlink(d, pfd, name, shown, &st, mdirfd, mname, depth);
    else if (S_ISDIR(st.st_mode))
        rc = dump_dir(d, pfd, name, shown, mdirfd, mname, depth);
    else
        rc = fl_error_set(d->err, FL_EIO,
                          "%s is a special file (device, FIFO or socket), which the store "
                          "cannot hold",
                          shown);
    return rc ? rc : emit_str(d, ")");
}

int fl_nar_dump_ex(const char *path, fl_nar_write_fn sink, void *ctx, const char *mirror, int flags,
                   fl_store_filter_fn filter, void *filter_ctx, fl_error *err) {
    dumper d = {sink,       ctx, fl_xmalloc(FRAME_BUF), 0, fl_xmalloc(IO_BUF), flags, filter,
                filter_ctx, err};
    int rc = emit_str(&d, "nix-archive-1");
    if (!rc)
        rc = dump_node(&d, AT_FDCWD, path, path, mirror ? AT_FDCWD : NO_MIRROR, mirror, 0);
    if (!rc)
        rc = flush_frame(&d);
    free(d.frame);
    free(d.io);
    return rc;
}

int fl_nar_dump(const char *path, fl_nar_write_fn sink, void *ctx, const char *mirror,
                fl_error *err) {
    return fl_nar_dump_ex(path, sink, ctx, mirror, 0, NULL, NULL, err);
}

int fl_nar_hash_path(const char *path, unsigned char hash[FL_SHA256_LEN], uint64_t *size,
                     fl_error *err) {
    fl_hash_sink h = {{0}, 0};
    fl_sha256_init(&h.sha);
    int rc = fl_nar_dump(path, fl_hash_sink_write, &h, NULL, err);
    fl_sha256_final(&h.sha, hash);
    if (size)
        *size = h.size;
    return rc;
}

int fl_nar_dump_fd(const char *path, int fd, fl_error *err) {
    return fl_nar_dump(path, fl_fd_sink_write, &fd, NULL, err);
}

/* ---- restoring -------------------------------------------------------------------------- */

typedef struct restorer {
    fl_nar_read_fn source;
    void *ctx;
    unsigned char *io;
    fl_error *err;
} restorer;

static int read_u64(restorer *r, uint64_t *v) {
    unsigned char b[8];
    int rc = r->source(r->ctx, b, 8, r->err);
    if (rc)
        return rc;
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)b[i] << (8 * i);
    return FL_OK;
}

static int read_pad(restorer *r, uint64_t len) {
    unsigned char b[8] = {0};
    if (len % 8 == 0)
        return FL_OK;
    size_t n = 8 - len % 8;
    int rc = r->source(r->ctx, b, n, r->err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return fl_error_set(r->err, FL_EPARSE, "bad archive: non-zero padding");
    return FL_OK;
}

/* Reads a string of at most max bytes; owned, NUL-terminated. */
static int read_str(restorer *r, size_t max, char **out) {
    uint64_t len;
    int rc = read_u64(r, &len);
    if (rc)
        return rc;
    if (len > max)
        return fl_error_set(r->err, FL_EPARSE, "bad archive: string of %llu bytes is too long",
                            (unsigned long long)len);
    char *s = fl_xmalloc((size_t)len + 1);
    rc = r->source(r->ctx, s, (size_t)len, r->err);
    if (!rc)
        rc = read_pad(r, len);
    if (rc) {
        free(s);
        return rc;
    }
    s[len] = '\0';
    if (memchr(s, '\0', (size_t)len)) {
        free(s);
        return fl_error_set(r->err, FL_EPARSE, "bad archive: NUL byte in a string");
    }
    *out = s;
    return FL_OK;
}

static int expect(restorer *r, const char *tag) {
    char *s = NULL;
    int rc = read_str(r, 64, &s);
    if (!rc && strcmp(s, tag) != 0)
        rc = fl_error_set(r->err, FL_EPARSE, "bad archive: expected '%s', got '%s'", tag, s);
    free(s);
    return rc;
}

static int restore_node(restorer *r, int pfd, const char *name, const char *shown, int depth);

static int restore_regular(restorer *r, int pfd, const char *name, const char *shown) {
    char *tag = NULL;
    int exec = 0, rc = read_str(r, 64, &tag);
    if (!rc && !strcmp(tag, "executable")) {
        exec = 1;
        rc = expect(r, "");
        free(tag);
        tag = NULL;
        if (!rc)
            rc = read_str(r, 64, &tag);
    }
    if (!rc && strcmp(tag, "contents") != 0)
        rc = fl_error_set(r->err, FL_EPARSE, "bad archive: expected 'contents', got '%s'", tag);
    free(tag);
    uint64_t size = 0;
    if (!rc)
        rc = read_u64(r, &size);
    if (rc)
        return rc;
    int fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return fl_error_errno(r->err, "cannot create %s", shown);
    uint64_t left = size;
    while (left > 0 && !rc) {
        size_t n = left > IO_BUF ? IO_BUF : (size_t)left;
        rc = r->source(r->ctx, r->io, n, r->err);
        if (!rc)
            rc = fl_fd_write_all(fd, r->io, n, r->err);
        left -= n;
    }
    if (!rc)
        rc = read_pad(r, size);
    if (!rc && (fchmod(fd, exec ? 0555 : 0444) < 0 || futimens(fd, store_times) < 0))
        rc = fl_error_errno(r->err, "cannot normalize %s", shown);
    if (close(fd) < 0 && !rc)
        rc = fl_error_errno(r->err, "cannot write %s", shown);
    return rc ? rc : expect(r, ")");
}

static int restore_symlink(restorer *r, int pfd, const char *name, const char *shown) {
    char *target = NULL;
    int rc = expect(r, "target");
    if (!rc)
        rc = read_str(r, PATH_MAX - 1, &target);
    if (!rc && !*target)
        rc = fl_error_set(r->err, FL_EPARSE, "bad archive: empty symlink target at %s", shown);
    if (!rc && (symlinkat(target, pfd, name) < 0 ||
                utimensat(pfd, name, store_times, AT_SYMLINK_NOFOLLOW) < 0))
        rc = fl_error_errno(r->err, "cannot create the symlink %s", shown);
    free(target);
    return rc ? rc : expect(r, ")");
}

static int restore_dir(restorer *r, int pfd, const char *name, const char *shown, int depth) {
    if (depth > MAX_DEPTH)
        return fl_error_set(r->err, FL_EPARSE, "bad archive: directories nested too deeply");
    if (mkdirat(pfd, name, 0700) < 0)
        return fl_error_errno(r->err, "cannot create the directory %s", shown);
    int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fl_error_errno(r->err, "cannot open the directory %s", shown);
    char *prev = NULL;
    int rc = FL_OK;
    for (;;) {
        char *tag = NULL;
        rc = read_str(r, 64, &tag);
        if (rc)
            break;
        if (!strcmp(tag, ")")) {
            free(tag);
            break;
        }
        if (strcmp(tag, "entry") != 0) {
            rc = fl_error_set(r->err, FL_EPARSE, "bad archive: expected 'entry', got '%s'", tag);
            free(tag);
            break;
        }
        free(tag);
        char *ename = NULL;
        rc = expect(r, "(");
        if (!rc)
            rc = expect(r, "name");
        if (!rc)
            rc = read_str(r, NAME_MAX, &ename);
        if (!rc && (!*ename || strchr(ename, '/') || !strcmp(ename, ".") || !strcmp(ename, "..")))
            rc = fl_error_set(r->err, FL_EPARSE, "bad archive: invalid file name '%s' in %s", ename,
                              shown);
        if (!rc && prev && strcmp(prev, ename) >= 0)
            rc = fl_error_set(r->err, FL_EPARSE,
                              "bad archive: entries of %s not sorted or duplicated ('%s')", shown,
                              ename);
        if (!rc)
            rc = expect(r, "node");
        if (!rc) {
            char *sub = fl_path_join(shown, ename);
            rc = restore_node(r, fd, ename, sub, depth + 1);
            free(sub);
        }
        if (!rc)
            rc = expect(r, ")");
        free(prev);
        prev = ename;
        if (rc)
            break;
    }
    free(prev);
    if (!rc && (fchmod(fd, 0555) < 0 || futimens(fd, store_times) < 0))
        rc = fl_error_errno(r->err, "cannot normalize %s", shown);
    close(fd);
    return rc;
}

static int restore_node(restorer *r, int pfd, const char *name, const char *shown, int depth) {
    char *type = NULL;
    int rc = expect(r, "(");
    if (!rc)
        rc = expect(r, "type");
    if (!rc)
        rc = read_str(r, 64, &type);
    if (rc)
        return rc;
    if (!strcmp(type, "regular"))
        rc = restore_regular(r, pfd, name, shown);
    else if (!strcmp(type, "symlink"))
        rc = restore_symlink(r, pfd, name, shown);
    else if (!strcmp(type, "directory"))
        rc = restore_dir(r, pfd, name, shown, depth);
    else
        rc = fl_error_set(r->err, FL_EPARSE, "bad archive: unknown node type '%s'", type);
    free(type);
    return rc;
}

int fl_nar_restore(fl_nar_read_fn source, void *ctx, const char *dest, fl_error *err) {
    restorer r = {source, ctx, fl_xmalloc(IO_BUF), err};
    int rc = expect(&r, "nix-archive-1");
    if (!rc)
        rc = restore_node(&r, AT_FDCWD, dest, dest, 0);
    free(r.io);
    return rc;
}
