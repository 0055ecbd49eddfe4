/* io.c - the buffered reader under the age parsers and the file-descriptor source and sink.
 * Moves bytes only; never interprets them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/strbuf.h"
#include "secret/internal.h"

void age_buf_init(age_buf *b, age_read_fn read, void *ctx, size_t cap) {
    memset(b, 0, sizeof *b);
    b->read = read;
    b->ctx = ctx;
    b->cap = cap;
    b->data = fl_xmalloc(cap);
}

void age_buf_release(age_buf *b) {
    free(b->data);
    b->data = NULL;
}

int age_buf_fill(age_buf *b, size_t want, fl_age_failure *failure, fl_error *err) {
    if (want > b->cap) {
        b->data = fl_xrealloc(b->data, want);
        b->cap = want;
    }
    while (age_buf_avail(b) < want && !b->eof) {
        if (b->cap - b->start < want) {
            memmove(b->data, b->data + b->start, age_buf_avail(b));
            b->end -= b->start;
            b->start = 0;
        }
        size_t got = 0;
        int rc = b->read(b->ctx, b->data + b->end, b->cap - b->end, &got, failure, err);
        if (rc)
            return rc;
        if (got == 0)
            b->eof = 1;
        b->end += got;
    }
    return 0;
}

int age_fd_read(void *ctx, unsigned char *buf, size_t cap, size_t *got, fl_age_failure *failure,
                fl_error *err) {
    age_fd_source *src = ctx;
    for (;;) {
        ssize_t n = read(src->fd, buf, cap);
        if (n >= 0) {
            *got = (size_t)n;
            return 0;
        }
        if (errno != EINTR) {
            if (failure)
                *failure = FL_AGE_IO;
            return fl_error_errno(err, "cannot read %s", src->name);
        }
    }
}

int fl_age_fd_sink_write(void *ctx, const unsigned char *data, size_t len, fl_error *err) {
    fl_age_fd_sink *s = ctx;
    while (len > 0) {
        ssize_t n = write(s->fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fl_error_errno(err, "cannot write %s", s->name);
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int age_buf_line(age_buf *b, size_t max, const unsigned char **line, size_t *len, int *eol,
                 fl_age_failure *failure, fl_error *err) {
    size_t scanned = 0;
    for (;;) {
        size_t avail = age_buf_avail(b);
        const unsigned char *base = b->data + b->start;
        const unsigned char *nl = memchr(base + scanned, '\n', avail - scanned);
        if (nl && (size_t)(nl - base) <= max) {
            *line = base;
            *len = (size_t)(nl - base);
            *eol = 1;
            return 0;
        }
        if (avail > max)
            return 1;
        if (b->eof) {
            *line = base;
            *len = avail;
            *eol = 0;
            return 0;
        }
        scanned = avail;
        int rc = age_buf_fill(b, avail + 1, failure, err);
        if (rc)
            return rc;
    }
}

int age_mem_read(void *ctx, unsigned char *buf, size_t cap, size_t *got, fl_age_failure *failure,
                 fl_error *err) {
    age_mem_source *m = ctx;
    size_t n = m->len - m->pos < cap ? m->len - m->pos : cap;
    if (n)
        memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    *got = n;
    return 0;
}
