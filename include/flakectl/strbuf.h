/* strbuf.h - growable, always NUL-terminated byte strings; every built string goes through it. */
#ifndef FLAKECTL_STRBUF_H
#define FLAKECTL_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct fl_strbuf {
    char *buf; /* never NULL after init; NUL at buf[len] */
    size_t len;
    size_t cap;
} fl_strbuf;

#define FL_STRBUF_INIT {NULL, 0, 0}

void fl_strbuf_init(fl_strbuf *sb, size_t hint);
void fl_strbuf_release(fl_strbuf *sb);
/* Returns the buffer (caller frees) and leaves sb empty and initialised. */
char *fl_strbuf_detach(fl_strbuf *sb, size_t *len);
void fl_strbuf_grow(fl_strbuf *sb, size_t extra);
void fl_strbuf_add(fl_strbuf *sb, const void *data, size_t len);
void fl_strbuf_adds(fl_strbuf *sb, const char *s);
void fl_strbuf_addch(fl_strbuf *sb, char c);
void fl_strbuf_addf(fl_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fl_strbuf_vaddf(fl_strbuf *sb, const char *fmt, va_list ap);
void fl_strbuf_reset(fl_strbuf *sb);
const char *fl_strbuf_cstr(fl_strbuf *sb);

/* Allocation that aborts on exhaustion: the only response a CLI tool has. */
void *fl_xmalloc(size_t n);
void *fl_xcalloc(size_t n, size_t size);
void *fl_xrealloc(void *p, size_t n);
char *fl_xstrdup(const char *s);
char *fl_xstrndup(const char *s, size_t n);
char *fl_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A byte count for people: "512 B", "1.5 KiB", "12.0 MiB", "1.1 GiB", into buf. */
void fl_human_bytes(double bytes, char *buf, size_t n);

/* Levenshtein distance between two C strings, for every "did you mean" suggestion. */
size_t fl_edit_distance(const char *a, const char *b);

#endif
