/* strbuf.c - growable strings and the aborting allocators. Owns no global state. */
#include "flakectl/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char empty_buf[1];

void *fl_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("flakectl: out of memory\n", stderr);
        abort();
    }
    return p;
}

void *fl_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fputs("flakectl: out of memory\n", stderr);
        abort();
    }
    return p;
}

void *fl_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("flakectl: out of memory\n", stderr);
        abort();
    }
    return q;
}

char *fl_xstrdup(const char *s) {
    return fl_xstrndup(s, strlen(s));
}

char *fl_xstrndup(const char *s, size_t n) {
    char *p = fl_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *fl_xasprintf(const char *fmt, ...) {
    fl_strbuf sb;
    va_list ap;
    fl_strbuf_init(&sb, 0);
    va_start(ap, fmt);
    fl_strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    return fl_strbuf_detach(&sb, NULL);
}

void fl_strbuf_init(fl_strbuf *sb, size_t hint) {
    sb->buf = empty_buf;
    sb->len = 0;
    sb->cap = 0;
    if (hint)
        fl_strbuf_grow(sb, hint);
}

void fl_strbuf_release(fl_strbuf *sb) {
    if (sb->cap)
        free(sb->buf);
    fl_strbuf_init(sb, 0);
}

char *fl_strbuf_detach(fl_strbuf *sb, size_t *len) {
    char *res;
    if (!sb->cap)
        fl_strbuf_grow(sb, 1);
    res = sb->buf;
    if (len)
        *len = sb->len;
    fl_strbuf_init(sb, 0);
    return res;
}

void fl_strbuf_grow(fl_strbuf *sb, size_t extra) {
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 32;
    while (cap < need)
        cap *= 2;
    if (sb->cap) {
        sb->buf = fl_xrealloc(sb->buf, cap);
    } else {
        sb->buf = fl_xmalloc(cap);
        sb->buf[0] = '\0';
    }
    sb->cap = cap;
}

void fl_strbuf_add(fl_strbuf *sb, const void *data, size_t len) {
    fl_strbuf_grow(sb, len);
    memcpy(sb->buf + sb->len, data, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
}

void fl_strbuf_adds(fl_strbuf *sb, const char *s) {
    fl_strbuf_add(sb, s, strlen(s));
}

void fl_strbuf_addch(fl_strbuf *sb, char c) {
    fl_strbuf_grow(sb, 1);
    sb->buf[sb->len++] = c;
    sb->buf[sb->len] = '\0';
}

void fl_strbuf_vaddf(fl_strbuf *sb, const char *fmt, va_list ap) {
    va_list cp;
    int n;
    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    fl_strbuf_grow(sb, (size_t)n);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void fl_strbuf_addf(fl_strbuf *sb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fl_strbuf_vaddf(sb, fmt, ap);
    va_end(ap);
}

void fl_strbuf_reset(fl_strbuf *sb) {
    sb->len = 0;
    if (sb->cap)
        sb->buf[0] = '\0';
}

const char *fl_strbuf_cstr(fl_strbuf *sb) {
    return sb->buf;
}

/* One row of the dynamic-programming table suffices: each cell needs only its left, upper and
 * upper-left neighbours. */
size_t fl_edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = fl_xcalloc(lb + 1, sizeof *row);
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

void fl_human_bytes(double b, char *buf, size_t n) {
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (b < 1024.0) {
        snprintf(buf, n, "%.0f B", b);
        return;
    }
    size_t u = 0;
    for (b /= 1024.0; b >= 1024.0 && u + 1 < sizeof units / sizeof units[0]; u++)
        b /= 1024.0;
    snprintf(buf, n, "%.1f %s", b, units[u]);
}
