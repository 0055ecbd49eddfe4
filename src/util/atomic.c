/* atomic.c - crash-safe replacement of files, symlinks and directories: write a temporary
 * sibling, fsync, rename, fsync the directory. The only caller of rename(2) in flakectl. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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

int fl_atomic_write_file(const char *path, const void *data, size_t len, mode_t mode,
                         fl_error *err) {
    return fl_atomic_write_file_ex(path, data, len, mode, 0, err);
}

int fl_atomic_write_file_ex(const char *path, const void *data, size_t len, mode_t mode,
                            int flags, fl_error *err) {
    char *tmp = fl_xasprintf("%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    const char *p = data;
    size_t left = len;
    if (fd < 0) {
        fl_error_errno(err, "cannot create a temporary file next to %s", path);
        free(tmp);
        return FL_EIO;
    }
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        p += n;
        left -= (size_t)n;
    }
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
    if (rename(tmp, dest) < 0)
        return fl_error_errno(err, "cannot move %s to %s", tmp, dest);
    fsync_dir(dest);
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
