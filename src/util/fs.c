/* fs.c - reading files, creating and removing trees, path arithmetic. Never follows a
 * symlink while deleting. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

int fl_read_file(const char *path, char **data, size_t *len, fl_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fl_error_errno(err, "cannot read %s", path);
    int rc = fl_read_fd(fd, path, data, len, err);
    close(fd);
    return rc;
}

int fl_read_fd(int fd, const char *path, char **data, size_t *len, fl_error *err) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        fl_strbuf_grow(&sb, (size_t)st.st_size);
    for (;;) {
        fl_strbuf_grow(&sb, 65536);
        ssize_t n = read(fd, sb.buf + sb.len, sb.cap - sb.len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fl_error_errno(err, "cannot read %s", path);
            fl_strbuf_release(&sb);
            return FL_EIO;
        }
        if (n == 0)
            break;
        sb.len += (size_t)n;
        sb.buf[sb.len] = '\0';
    }
    *data = fl_strbuf_detach(&sb, len);
    return FL_OK;
}

int fl_mkdir_p(const char *path, mode_t mode, fl_error *err) {
    char *p = fl_xstrdup(path);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char saved = *s;
            *s = '\0';
            if (mkdir(p, mode) < 0 && errno != EEXIST) {
                fl_error_errno(err, "cannot create directory %s", p);
                free(p);
                return FL_EIO;
            }
            *s = saved;
            if (saved == '\0')
                break;
        }
    }
    free(p);
    if (!fl_is_dir(path))
        return fl_error_set(err, FL_EIO, "%s exists and is not a directory", path);
    return FL_OK;
}

static int remove_at(int parent_fd, const char *name, const char *shown, fl_error *err) {
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return FL_OK;
        return fl_error_errno(err, "cannot stat %s", shown);
    }
    if (S_ISDIR(st.st_mode)) {
        int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return fl_error_errno(err, "cannot open %s", shown);
        /* Store paths are read-only; make the directory writable so its entries can go. On
         * the descriptor: by name, a link swapped in after the fstatat would be followed. */
        fchmod(fd, 0700);
        DIR *d = fdopendir(fd);
        if (!d) {
            close(fd);
            return fl_error_errno(err, "cannot open %s", shown);
        }
        struct dirent *de;
        int rc = FL_OK;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char *sub = fl_path_join(shown, de->d_name);
            rc = remove_at(dirfd(d), de->d_name, sub, err);
            free(sub);
            if (rc)
                break;
        }
        closedir(d);
        if (rc)
            return rc;
        if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
            return fl_error_errno(err, "cannot remove %s", shown);
        return FL_OK;
    }
    if (unlinkat(parent_fd, name, 0) < 0 && errno != ENOENT)
        return fl_error_errno(err, "cannot remove %s", shown);
    return FL_OK;
}

int fl_remove_tree(const char *path, fl_error *err) {
    return remove_at(AT_FDCWD, path, path, err);
}

int fl_remove_tree_at(int dirfd, const char *name, const char *shown, fl_error *err) {
    return remove_at(dirfd, name, shown, err);
}

char *fl_make_temp_dir(const char *parent, const char *prefix, fl_error *err) {
    char *tmpl = fl_xasprintf("%s/%sXXXXXX", parent, prefix);
    if (!mkdtemp(tmpl)) {
        fl_error_errno(err, "cannot create a temporary directory in %s", parent);
        free(tmpl);
        return NULL;
    }
    return tmpl;
}

int fl_path_exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

int fl_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *fl_path_join(const char *a, const char *b) {
    size_t la = strlen(a);
    while (la > 0 && a[la - 1] == '/')
        la--;
    while (*b == '/')
        b++;
    return fl_xasprintf("%.*s/%s", (int)la, a, b);
}

char *fl_canon_path(const char *path, const char *cwd) {
    fl_strbuf out;
    fl_strbuf_init(&out, 0);
    char *full = path[0] == '/' ? fl_xstrdup(path) : fl_xasprintf("%s/%s", cwd ? cwd : "/", path);
    const char *s = full;
    while (*s) {
        while (*s == '/')
            s++;
        if (!*s)
            break;
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 1 && s[0] == '.') {
            /* nothing */
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (out.len > 0 && out.buf[out.len - 1] != '/')
                out.len--;
            if (out.len > 0)
                out.len--;
            out.buf[out.len] = '\0';
        } else {
            fl_strbuf_addch(&out, '/');
            fl_strbuf_add(&out, s, n);
        }
        s += n;
    }
    free(full);
    if (out.len == 0)
        fl_strbuf_addch(&out, '/');
    return fl_strbuf_detach(&out, NULL);
}

void fl_sweep_dir(const char *dir, const char *prefix, const char *infix, int depth) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, ".."))
            continue;
        char *p = fl_path_join(dir, n);
        if ((prefix && !strncmp(n, prefix, strlen(prefix))) || (infix && strstr(n, infix))) {
            fl_error e = FL_ERROR_INIT;
            fl_remove_tree(p, &e);
            fl_error_clear(&e);
        } else if (depth > 0 && de->d_type == DT_DIR) {
            fl_sweep_dir(p, prefix, infix, depth - 1);
        }
        free(p);
    }
    closedir(d);
}
