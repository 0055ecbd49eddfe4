/* file.c - age operations on paths: stdin/stdout, and output files written to a temporary
 * sibling that replaces the target (fl_atomic_rename) only after the whole operation
 * succeeded; on any failure the temporary is removed and the target is untouched. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/strbuf.h"
#include "secret/internal.h"

static int is_std(const char *path) {
    return !path || !strcmp(path, "-");
}

static int open_input(const char *path, int *fd, fl_error *err) {
    if (is_std(path)) {
        *fd = 0;
        return 0;
    }
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return fl_error_errno(err, "cannot open %s", path);
    return 0;
}

static const char *in_name(const char *path) {
    return is_std(path) ? "standard input" : path;
}

/* The temporary output next to `out`; created 0600 so plaintext is never world-readable. */
typedef struct tmp_out {
    char *path;
    int fd;
    fl_age_fd_sink sink;
    off_t written, flushed;
} tmp_out;

#define WRITEBACK_STEP (8 << 20)

/* Writes through to the temporary and starts the kernel's writeback every 8 MiB, so the
 * fsync before the rename finds little left to do (large files are not slowed by it). */
static int tmp_write(void *ctx, const unsigned char *data, size_t len, fl_error *err) {
    tmp_out *t = ctx;
    int rc = fl_age_fd_sink_write(&t->sink, data, len, err);
    if (rc)
        return rc;
    t->written += (off_t)len;
    if (t->written - t->flushed >= WRITEBACK_STEP) {
        sync_file_range(t->fd, t->flushed, t->written - t->flushed, SYNC_FILE_RANGE_WRITE);
        t->flushed = t->written;
    }
    return 0;
}

static int tmp_open(tmp_out *t, const char *out, fl_error *err) {
    t->path = fl_xasprintf("%s.tmp-XXXXXX", out);
    t->fd = mkostemp(t->path, O_CLOEXEC);
    if (t->fd < 0) {
        fl_error_errno(err, "cannot create a temporary file next to %s", out);
        free(t->path);
        t->path = NULL;
        return FL_EIO;
    }
    t->sink.fd = t->fd;
    t->sink.name = out;
    t->written = t->flushed = 0;
    return 0;
}

/* Finishes (rc == 0: fsync, chmod, rename over out) or abandons (rc != 0: unlink). */
static int tmp_close(tmp_out *t, const char *out, mode_t mode, int rc, fl_error *err) {
    if (rc == 0 && (fchmod(t->fd, mode) < 0 || fsync(t->fd) < 0))
        rc = fl_error_errno(err, "cannot write %s", out);
    if (close(t->fd) < 0 && rc == 0)
        rc = fl_error_errno(err, "cannot write %s", out);
    if (rc == 0)
        rc = fl_atomic_rename(t->path, out, err);
    if (rc != 0)
        unlink(t->path);
    free(t->path);
    return rc;
}

static mode_t public_mode(void) {
    mode_t m = umask(0);
    umask(m);
    return 0666 & ~m;
}

int fl_age_encrypt_file(const char *in_path, const char *out_path, const fl_age_recipients *r,
                        int armor, fl_error *err) {
    int in_fd, rc;
    if ((rc = open_input(in_path, &in_fd, err)) != 0)
        return rc;
    if (is_std(out_path)) {
        fl_age_fd_sink s = {1, "standard output"};
        rc = fl_age_encrypt_fd(in_fd, in_name(in_path), r, armor, fl_age_fd_sink_write, &s, err);
    } else {
        tmp_out t;
        if ((rc = tmp_open(&t, out_path, err)) == 0) {
            rc = fl_age_encrypt_fd(in_fd, in_name(in_path), r, armor, tmp_write, &t, err);
            rc = tmp_close(&t, out_path, public_mode(), rc, err);
        }
    }
    if (in_fd != 0)
        close(in_fd);
    return rc;
}

int fl_age_decrypt_file(const char *in_path, const char *out_path, const fl_age_identities *ids,
                        fl_error *err) {
    int in_fd, rc;
    if ((rc = open_input(in_path, &in_fd, err)) != 0)
        return rc;
    if (is_std(out_path)) {
        /* Like age: each chunk is written once it authenticated; a later failure stops
         * the output there and the exit status says so. */
        fl_age_fd_sink s = {1, "standard output"};
        rc = fl_age_decrypt_fd(in_fd, in_name(in_path), ids, FL_AGE_ARMOR_AUTO,
                               fl_age_fd_sink_write, &s, NULL, err);
    } else {
        tmp_out t;
        if ((rc = tmp_open(&t, out_path, err)) == 0) {
            rc = fl_age_decrypt_fd(in_fd, in_name(in_path), ids, FL_AGE_ARMOR_AUTO, tmp_write, &t,
                                   NULL, err);
            rc = tmp_close(&t, out_path, 0600, rc, err);
        }
    }
    if (in_fd != 0)
        close(in_fd);
    return rc;
}

typedef struct mem_sink {
    unsigned char *data;
    size_t len, cap;
} mem_sink;

static int mem_sink_write(void *ctx, const unsigned char *data, size_t len, fl_error *err) {
    mem_sink *m = ctx;
    if (m->len + len > m->cap) {
        /* Grow by copying into a fresh buffer so the old one can be wiped first. */
        size_t cap = (m->len + len) * 2;
        unsigned char *p = fl_xmalloc(cap);
        if (m->len)
            memcpy(p, m->data, m->len);
        if (m->data) {
            sodium_memzero(m->data, m->cap);
            free(m->data);
        }
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->len, data, len);
    m->len += len;
    return 0;
}

void fl_age_plaintext_free(unsigned char *data, size_t len) {
    if (!data)
        return;
    sodium_memzero(data, len);
    free(data);
}

int fl_age_decrypt_to_memory(const char *in_path, const fl_age_identities *ids,
                             unsigned char **data, size_t *len, fl_error *err) {
    int in_fd, rc;
    mem_sink m = {NULL, 0, 0};
    struct stat st;
    if ((rc = open_input(in_path, &in_fd, err)) != 0)
        return rc;
    if (fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        m.cap = (size_t)st.st_size;
        m.data = fl_xmalloc(m.cap);
    }
    rc = fl_age_decrypt_fd(in_fd, in_name(in_path), ids, FL_AGE_ARMOR_AUTO, mem_sink_write, &m,
                           NULL, err);
    if (in_fd != 0)
        close(in_fd);
    if (rc) {
        fl_age_plaintext_free(m.data, m.cap);
        return rc;
    }
    if (!m.data)
        m.data = fl_xmalloc(1);
    *data = m.data;
    *len = m.len;
    return 0;
}

int age_encrypt_memory_to_temp(const unsigned char *data, size_t len, const char *out_path,
                               const fl_age_recipients *r, int armor, char **tmp_path,
                               fl_error *err) {
    age_mem_source src = {data, len, 0};
    tmp_out t;
    int rc = tmp_open(&t, out_path, err);
    if (rc)
        return rc;
    rc = age_encrypt_source(age_mem_read, &src, out_path, r, armor, tmp_write, &t, err);
    if (rc == 0 && (fchmod(t.fd, public_mode()) < 0 || fsync(t.fd) < 0))
        rc = fl_error_errno(err, "cannot write %s", t.path);
    if (close(t.fd) < 0 && rc == 0)
        rc = fl_error_errno(err, "cannot write %s", t.path);
    if (rc) {
        unlink(t.path);
        free(t.path);
        return rc;
    }
    *tmp_path = t.path;
    return 0;
}

int fl_age_encrypt_memory_to_file(const unsigned char *data, size_t len, const char *out_path,
                                  const fl_age_recipients *r, int armor, fl_error *err) {
    char *tmp;
    int rc = age_encrypt_memory_to_temp(data, len, out_path, r, armor, &tmp, err);
    if (rc)
        return rc;
    rc = fl_atomic_rename(tmp, out_path, err);
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}
