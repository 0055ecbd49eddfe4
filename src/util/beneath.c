/* beneath.c - resolving paths beneath a root directory descriptor (include/flakectl/beneath.h):
 * openat2(2) where the kernel has it, the same rules by a component walk where it does not.
 * Never follows a symlink it was not asked to, never resolves a name twice, never leaves the
 * directory it started from. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "flakectl/beneath.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

/* Links followed in one FL_BENEATH_IN_ROOT resolution, as the kernel's MAXSYMLINKS. */
#define MAX_LINKS 40

static int forced_walk(int how) {
    return (how & FL_BENEATH_WALK) || getenv(FL_BENEATH_WALK_ENV) != NULL;
}

/* The next component of *s (skipping slashes), as [start, len); 0 when none is left. */
static size_t next_component(const char **s, const char **start) {
    while (**s == '/')
        (*s)++;
    *start = *s;
    while (**s && **s != '/')
        (*s)++;
    return (size_t)(*s - *start);
}

static int has_dotdot(const char *path) {
    const char *s = path, *c;
    size_t n;
    while ((n = next_component(&s, &c)) > 0)
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return 1;
    return 0;
}

static int try_openat2(int rootfd, const char *path, int oflags, mode_t mode, int how) {
    struct open_how h;
    memset(&h, 0, sizeof h);
    h.flags = (unsigned long long)oflags | O_CLOEXEC;
    if (oflags & (O_CREAT | O_TMPFILE))
        h.mode = mode;
    if (how & FL_BENEATH_IN_ROOT) {
        h.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    } else {
        h.flags |= O_NOFOLLOW;
        h.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    }
    while (*path == '/')
        path++;
    const char *p = *path ? path : ".";
    for (int attempt = 0; attempt < 4; attempt++) {
        long fd = syscall(SYS_openat2, rootfd, p, &h, sizeof h);
        if (fd >= 0)
            return (int)fd;
        /* EAGAIN: a rename raced the resolution; asked to retry. */
        if (errno != EAGAIN)
            return -1;
    }
    return -1;
}

/* The directories walked so far: v[0] is rootfd's own copy, each later one opened from the
 * one before it (so ".." pops instead of asking the file system, which could lead out). */
typedef struct dirstack {
    int *v;
    size_t n, cap;
} dirstack;

static void ds_push(dirstack *d, int fd) {
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->v = fl_xrealloc(d->v, d->cap * sizeof(int));
    }
    d->v[d->n++] = fd;
}

static void ds_release(dirstack *d) {
    for (size_t i = 0; i < d->n; i++)
        close(d->v[i]);
    free(d->v);
}

/* The symlink at dirfd/name (opened without following) read through its own descriptor. */
static char *read_link_at(int dirfd, const char *name) {
    int lfd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (lfd < 0)
        return NULL;
    char buf[4096];
    ssize_t n = readlinkat(lfd, "", buf, sizeof buf - 1);
    int e = errno;
    close(lfd);
    if (n < 0) {
        errno = e;
        return NULL;
    }
    return fl_xstrndup(buf, (size_t)n);
}

static int is_link_at(int dirfd, const char *name) {
    struct stat st;
    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

static int walk(int rootfd, const char *path, int oflags, mode_t mode, int how) {
    int in_root = how & FL_BENEATH_IN_ROOT;
    dirstack ds = {0};
    int start = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (start < 0)
        return -1;
    ds_push(&ds, start);
    char *rest = fl_xstrdup(path);
    const char *s = rest;
    int links = 0, result = -1, err = 0;
    for (;;) {
        const char *c;
        size_t n = next_component(&s, &c);
        if (n == 0) {
            /* Nothing left (an empty path or one ending in "/" or ".."): the directory. */
            result = openat(ds.v[ds.n - 1], ".", (oflags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC);
            err = errno;
            break;
        }
        char *name = fl_xstrndup(c, n);
        const char *after = s;
        while (*after == '/')
            after++;
        int last = *after == '\0';
        if (!strcmp(name, ".")) {
            free(name);
            continue;
        }
        if (!strcmp(name, "..")) {
            free(name);
            if (!in_root) {
                err = EXDEV;
                break;
            }
            if (ds.n > 1)
                close(ds.v[--ds.n]);
            continue;
        }
        int top = ds.v[ds.n - 1];
        int fd;
        if (last)
            fd = openat(top, name, oflags | O_NOFOLLOW | O_CLOEXEC, mode);
        else
            fd = openat(top, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        if (fd < 0 && (e == ELOOP || e == ENOTDIR) && is_link_at(top, name)) {
            /* On the way, O_PATH|O_NOFOLLOW|O_DIRECTORY on a link says ENOTDIR where
             * openat2 says ELOOP; the last component answers as openat2 does. */
            if (!last)
                e = ELOOP;
            if (in_root && (oflags & O_NOFOLLOW) == 0) {
                if (++links > MAX_LINKS) {
                    free(name);
                    err = ELOOP;
                    break;
                }
                char *target = read_link_at(top, name);
                free(name);
                if (!target) {
                    err = errno;
                    break;
                }
                /* Absolute targets start again at the root, never at the real "/". */
                if (target[0] == '/')
                    while (ds.n > 1)
                        close(ds.v[--ds.n]);
                char *spliced = fl_xasprintf("%s/%s", target, after);
                free(target);
                free(rest);
                rest = spliced;
                s = rest;
                continue;
            }
        }
        free(name);
        if (fd < 0) {
            err = e;
            break;
        }
        if (last) {
            result = fd;
            break;
        }
        ds_push(&ds, fd);
    }
    free(rest);
    ds_release(&ds);
    if (result < 0)
        errno = err;
    return result;
}

int fl_beneath_open(int rootfd, const char *path, int oflags, mode_t mode, int how) {
    if (!(how & FL_BENEATH_IN_ROOT) && has_dotdot(path)) {
        errno = EXDEV;
        return -1;
    }
    if (!forced_walk(how)) {
        int fd = try_openat2(rootfd, path, oflags, mode, how);
        if (fd >= 0)
            return fd;
        /* ENOSYS: a kernel before 5.6; EPERM: a seccomp filter that does not know the call;
         * E2BIG: a kernel that does not know this struct's size. Anything else is the answer. */
        if (errno != ENOSYS && errno != EPERM && errno != E2BIG && errno != EAGAIN)
            return -1;
    }
    return walk(rootfd, path, oflags, mode, how);
}

/* "/" and path[0, end) with its leading slashes dropped: how a prefix of path is named. */
static char *prefix_of(const char *path, const char *end) {
    while (*path == '/')
        path++;
    return fl_xasprintf("/%.*s", (int)(end - path), path);
}

char *fl_beneath_blocker(int rootfd, const char *path, int *is_link) {
    *is_link = 0;
    int cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return NULL;
    const char *s = path, *c;
    size_t n;
    char *found = NULL;
    while (!found && (n = next_component(&s, &c)) > 0) {
        char *name = fl_xstrndup(c, n);
        struct stat st;
        int r = fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW);
        const char *after = s;
        while (*after == '/')
            after++;
        if (r == 0 && (S_ISLNK(st.st_mode) || (*after && !S_ISDIR(st.st_mode)))) {
            *is_link = S_ISLNK(st.st_mode);
            found = prefix_of(path, s);
        } else if (r == 0 && *after) {
            int next = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            close(cur);
            cur = next;
        } else {
            free(name);
            break;
        }
        free(name);
        if (cur < 0)
            return found;
    }
    close(cur);
    return found;
}

static char *shown_path(const char *shown_root, const char *path) {
    if (!shown_root || !strcmp(shown_root, "/"))
        return fl_xstrdup(path);
    return fl_path_join(shown_root, path);
}

int fl_beneath_error(fl_error *err, int rootfd, const char *shown_root, const char *path, int e,
                     const char *what) {
    char *shown = shown_path(shown_root, path);
    int rc;
    if (e == ELOOP || e == ENOTDIR) {
        int is_link = 0;
        char *b = fl_beneath_blocker(rootfd, path, &is_link);
        char *bs = b ? shown_path(shown_root, b) : NULL;
        if (bs && is_link) {
            rc = fl_error_set(err, FL_ECONFLICT,
                              "cannot %s %s: %s is a symlink; flakectl never follows symlinks "
                              "beneath the root",
                              what, shown, bs);
            fl_error_set_hint(err, "a link there could lead anywhere (out of the root, into "
                                   "another user's files): replace it by a real directory or "
                                   "file, or remove it");
        } else if (bs) {
            rc = fl_error_set(err, FL_ECONFLICT, "cannot %s %s: %s is not a directory", what, shown,
                              bs);
        } else {
            errno = e;
            rc = fl_error_errno(err, "cannot %s %s", what, shown);
        }
        free(bs);
        free(b);
    } else if (e == EXDEV) {
        rc = fl_error_set(err, FL_ECONFLICT, "cannot %s %s: the path leads out of the root ('..')",
                          what, shown);
    } else {
        errno = e;
        rc = fl_error_errno(err, "cannot %s %s", what, shown);
        if (e == ENOENT) {
            rc = FL_ENOTFOUND;
            if (err)
                err->code = rc;
        }
    }
    free(shown);
    return rc;
}

void fl_beneath_made_release(fl_beneath_made *made) {
    for (size_t i = 0; i < made->n; i++)
        free(made->v[i]);
    free(made->v);
    made->v = NULL;
    made->n = 0;
}

void fl_beneath_unmake(int rootfd, fl_beneath_made *made) {
    for (size_t i = made->n; i-- > 0;) {
        const char *leaf;
        fl_error ignored = FL_ERROR_INIT;
        int dfd = fl_beneath_parent(rootfd, made->v[i], 0, NULL, &leaf, NULL, 0, &ignored);
        fl_error_clear(&ignored);
        if (dfd < 0)
            continue;
        unlinkat(dfd, leaf, AT_REMOVEDIR);
        close(dfd);
    }
    fl_beneath_made_release(made);
}

/* The directory dir beneath rootfd, made (and recorded) where missing, one component at a
 * time: mkdirat then an O_NOFOLLOW open, so a link swapped in between is refused. */
static int make_dirs(int rootfd, const char *dir, mode_t dirmode, fl_beneath_made *made) {
    int cur = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return -1;
    const char *s = dir, *c;
    size_t n;
    while ((n = next_component(&s, &c)) > 0) {
        char *name = fl_xstrndup(c, n);
        int sub = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0 && errno == ENOENT) {
            if (mkdirat(cur, name, dirmode) == 0) {
                made->v = fl_xrealloc(made->v, (made->n + 1) * sizeof(char *));
                made->v[made->n++] = prefix_of(dir, s);
                sub = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                /* The mode asked for, whatever the umask (on the descriptor, not the name). */
                if (sub >= 0 && fchmod(sub, dirmode) < 0) {
                    int e = errno;
                    close(sub);
                    sub = -1;
                    errno = e;
                }
            } else if (errno == EEXIST) {
                sub = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            }
        }
        if (sub < 0 && (errno == ENOTDIR || errno == ELOOP) && is_link_at(cur, name))
            errno = ELOOP;
        int e = errno;
        free(name);
        close(cur);
        if (sub < 0) {
            errno = e;
            return -1;
        }
        cur = sub;
    }
    return cur;
}

int fl_beneath_parent(int rootfd, const char *path, mode_t dirmode, fl_beneath_made *made,
                      const char **leaf, const char *shown_root, int how, fl_error *err) {
    const char *slash = strrchr(path, '/');
    const char *l = slash ? slash + 1 : path;
    if (!*l || !strcmp(l, ".") || !strcmp(l, "..")) {
        char *shown = shown_path(shown_root, path);
        fl_error_set(err, FL_EPARSE, "%s does not name a file beneath the root", shown);
        free(shown);
        return -1;
    }
    char *dir = fl_xstrndup(path, slash ? (size_t)(slash - path) : 0);
    int fd = fl_beneath_open(rootfd, dir, O_RDONLY | O_DIRECTORY, 0, how & ~FL_BENEATH_IN_ROOT);
    int e = errno;
    if (fd < 0 && e == ENOENT && made && !has_dotdot(dir)) {
        fd = make_dirs(rootfd, dir, dirmode, made);
        e = errno;
    }
    if (fd < 0)
        fl_beneath_error(err, rootfd, shown_root, *dir ? dir : "/", e,
                         made ? "create the directory" : "open the directory");
    free(dir);
    *leaf = l;
    return fd;
}

int fl_beneath_read(int rootfd, const char *path, const char *shown_root, int how, char **data,
                    size_t *len, mode_t *mode, fl_error *err) {
    /* O_NONBLOCK: a FIFO swapped in at the name must not hang the open; it is refused
     * below as not a regular file (regular files ignore the flag). */
    int fd = fl_beneath_open(rootfd, path, O_RDONLY | O_NONBLOCK, 0, how);
    if (fd < 0)
        return fl_beneath_error(err, rootfd, shown_root, path, errno, "read");
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        char *shown = shown_path(shown_root, path);
        int rc = fl_error_set(err, FL_ECONFLICT, "cannot read %s: not a regular file", shown);
        free(shown);
        return rc;
    }
    if (mode)
        *mode = st.st_mode & 07777;
    char *shown = shown_path(shown_root, path);
    int rc = fl_read_fd(fd, shown, data, len, err);
    free(shown);
    close(fd);
    return rc;
}
