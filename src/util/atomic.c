/* atomic.c - crash-safe replacement of files, symlinks and directories: write a temporary
 * sibling, fsync, rename, fsync the directory. The only caller of rename(2) in flakectl. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        return fl_xstrdup(".");
    if (slash == path)
        return fl_xstrdup("/");
    return fl_xstrndup(path, (size_t)(slash - path));
}

static void fsync_dir(const char *path) {
    char *dir = dir_of(path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Writes all of data to fd (retrying short writes and EINTR); 0 or -1 with errno. */
static int write_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fl_atomic_write_file(const char *path, const void *data, size_t len, mode_t mode,
                         fl_error *err) {
    return fl_atomic_write_file_ex(path, data, len, mode, 0, err);
}

int fl_atomic_write_file_ex(const char *path, const void *data, size_t len, mode_t mode, int flags,
                            fl_error *err) {
    char *tmp = fl_xasprintf("%s.tmp-XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        fl_error_errno(err, "cannot create a temporary file next to %s", path);
        free(tmp);
        return FL_EIO;
    }
    if (write_all(fd, data, len) < 0)
        goto fail;
    if (fchmod(fd, mode) < 0 || (!(flags & FL_ATOMIC_NO_SYNC) && fsync(fd) < 0))
        goto fail;
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0)
        goto fail;
    if (!(flags & FL_ATOMIC_NO_SYNC))
        fsync_dir(path);
    free(tmp);
    return FL_OK;
fail:
    fl_error_errno(err, "cannot write %s", path);
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return FL_EIO;
}

int fl_atomic_symlink(const char *target, const char *linkpath, fl_error *err) {
    return fl_atomic_symlink_ex(target, linkpath, 0, err);
}

int fl_atomic_symlink_ex(const char *target, const char *linkpath, int flags, fl_error *err) {
    for (int attempt = 0; attempt < 100; attempt++) {
        char *tmp = fl_xasprintf("%s.tmp-%ld-%d", linkpath, (long)getpid(), attempt);
        if (symlink(target, tmp) < 0) {
            int e = errno;
            free(tmp);
            if (e == EEXIST)
                continue;
            errno = e;
            return fl_error_errno(err, "cannot create symlink %s", linkpath);
        }
        if (rename(tmp, linkpath) < 0) {
            fl_error_errno(err, "cannot replace %s", linkpath);
            unlink(tmp);
            free(tmp);
            return FL_EIO;
        }
        free(tmp);
        if (!(flags & FL_ATOMIC_NO_SYNC))
            fsync_dir(linkpath);
        return FL_OK;
    }
    return fl_error_set(err, FL_EIO, "cannot create a temporary symlink next to %s", linkpath);
}

int fl_atomic_rename(const char *tmp, const char *dest, fl_error *err) {
    return fl_atomic_rename_ex(tmp, dest, 0, err);
}

int fl_atomic_rename_ex(const char *tmp, const char *dest, int flags, fl_error *err) {
    if (rename(tmp, dest) < 0)
        return fl_error_errno(err, "cannot move %s to %s", tmp, dest);
    if (!(flags & FL_ATOMIC_NO_SYNC))
        fsync_dir(dest);
    return FL_OK;
}

/* ---- the same within a directory descriptor ---- */

/* A fresh temporary name beside name: "<name>.tmp-<pid>-<random>" (the sweep of an
 * interrupted activation looks for ".tmp-"). Owned by the caller. */
static char *temp_name(const char *name) {
    unsigned r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (unsigned)rand();
    return fl_xasprintf("%s.tmp-%ld-%08x", name, (long)getpid(), r);
}

int fl_atomic_write_at(int dirfd, const char *name, const char *shown, const void *data, size_t len,
                       mode_t mode, uid_t uid, gid_t gid, int flags, fl_error *err) {
    char *tmp = NULL;
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
        free(tmp);
        tmp = temp_name(name);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        fl_error_errno(err, "cannot create a temporary file next to %s", shown);
        free(tmp);
        return FL_EIO;
    }
    const char *what = "write";
    if (write_all(fd, data, len) < 0)
        goto fail;
    /* chown clears set-id bits: the mode goes after the owner. */
    what = "change the owner of";
    if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0)
        goto fail;
    what = "change the mode of";
    if (fchmod(fd, mode) < 0)
        goto fail;
    what = "write";
    if (!(flags & FL_ATOMIC_NO_SYNC) && fsync(fd) < 0)
        goto fail;
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (renameat(dirfd, tmp, dirfd, name) < 0)
        goto fail;
    if (!(flags & FL_ATOMIC_NO_SYNC))
        fsync(dirfd);
    free(tmp);
    return FL_OK;
fail:
    fl_error_errno(err, "cannot %s %s", what, shown);
    if (fd >= 0)
        close(fd);
    unlinkat(dirfd, tmp, 0);
    free(tmp);
    return FL_EIO;
}

/* Gives the just-made link dirfd/tmp to uid:gid through its own O_PATH descriptor, after
 * checking that what is there now is still that link (ours, one name, the right target):
 * the directory's owner may have replaced it by a hard link to something else. */
static int chown_new_link(int dirfd, const char *tmp, const char *target, uid_t uid, gid_t gid) {
    int lfd = openat(dirfd, tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (lfd < 0)
        return -1;
    struct stat st;
    char buf[4096];
    ssize_t n = -1;
    int ok = fstat(lfd, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid == geteuid() &&
             st.st_nlink == 1 && (n = readlinkat(lfd, "", buf, sizeof buf - 1)) >= 0 &&
             (size_t)n == strlen(target) && !memcmp(buf, target, (size_t)n);
    int rc = -1;
    if (!ok)
        errno = EPERM;
    else
        rc = fchownat(lfd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    int e = errno;
    close(lfd);
    errno = e;
    return rc;
}

int fl_atomic_symlink_at(int dirfd, const char *name, const char *shown, const char *target,
                         uid_t uid, gid_t gid, int flags, fl_error *err) {
    for (int attempt = 0; attempt < 100; attempt++) {
        char *tmp = temp_name(name);
        if (symlinkat(target, dirfd, tmp) < 0) {
            int e = errno;
            free(tmp);
            if (e == EEXIST)
                continue;
            errno = e;
            return fl_error_errno(err, "cannot create symlink %s", shown);
        }
        if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
            chown_new_link(dirfd, tmp, target, uid, gid) < 0) {
            fl_error_errno(err, "cannot change the owner of %s", shown);
            unlinkat(dirfd, tmp, 0);
            free(tmp);
            return FL_EIO;
        }
        if (renameat(dirfd, tmp, dirfd, name) < 0) {
            fl_error_errno(err, "cannot replace %s", shown);
            unlinkat(dirfd, tmp, 0);
            free(tmp);
            return FL_EIO;
        }
        free(tmp);
        if (!(flags & FL_ATOMIC_NO_SYNC))
            fsync(dirfd);
        return FL_OK;
    }
    return fl_error_set(err, FL_EIO, "cannot create a temporary symlink next to %s", shown);
}

int fl_atomic_rename_at(int fromdir, const char *from, int todir, const char *to,
                        const char *shown_from, const char *shown_to, fl_error *err) {
    if (renameat(fromdir, from, todir, to) < 0)
        return fl_error_errno(err, "cannot move %s to %s", shown_from, shown_to);
    fsync(todir);
    return FL_OK;
}

int fl_sync_fs(const char *path, fl_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fl_error_errno(err, "cannot open %s", path);
    int rc = syncfs(fd) < 0 ? fl_error_errno(err, "cannot sync the file system of %s", path) : 0;
    close(fd);
    return rc;
}
