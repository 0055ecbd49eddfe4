/* error.c - fl_error: building error values and printing them with the user's source line.
 * Never exits; printing is for main() and the commands' top level. */
#include "flakectl/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/strbuf.h"

static char *vformat(const char *fmt, va_list ap) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    fl_strbuf_vaddf(&sb, fmt, ap);
    return fl_strbuf_detach(&sb, NULL);
}

int fl_error_setv(fl_error *err, int code, const char *fmt, va_list ap) {
    if (!err)
        return code;
    free(err->message);
    err->message = vformat(fmt, ap);
    err->code = code;
    err->sys_errno = 0;
    return code;
}

int fl_error_set(fl_error *err, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fl_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int fl_error_errno(fl_error *err, const char *fmt, ...) {
    int saved = errno;
    va_list ap;
    if (!err)
        return FL_EIO;
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    va_start(ap, fmt);
    fl_strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    fl_strbuf_addf(&sb, ": %s", strerror(saved));
    free(err->message);
    err->message = fl_strbuf_detach(&sb, NULL);
    err->code = FL_EIO;
    err->sys_errno = saved;
    errno = saved;
    return FL_EIO;
}

void fl_error_set_loc(fl_error *err, const char *file, int line, int col) {
    if (!err)
        return;
    free(err->file);
    err->file = file ? fl_xstrdup(file) : NULL;
    err->line = line;
    err->col = col;
}

void fl_error_set_hint(fl_error *err, const char *fmt, ...) {
    va_list ap;
    if (!err)
        return;
    free(err->hint);
    va_start(ap, fmt);
    err->hint = vformat(fmt, ap);
    va_end(ap);
}

void fl_error_add_frame(fl_error *err, const char *fmt, ...) {
    va_list ap;
    if (!err)
        return;
    err->frames = fl_xrealloc(err->frames, sizeof(char *) * (size_t)(err->nframes + 1));
    va_start(ap, fmt);
    err->frames[err->nframes++] = vformat(fmt, ap);
    va_end(ap);
}

/* Finds line `line` of a file without loading more than needed. Returns an owned string. */
static char *read_source_line(const char *file, int line) {
    FILE *f = fopen(file, "r");
    fl_strbuf sb;
    int cur = 1, c;
    if (!f)
        return NULL;
    fl_strbuf_init(&sb, 0);
    while ((c = fgetc(f)) != EOF) {
        if (c == '\n') {
            if (cur == line)
                break;
            cur++;
            continue;
        }
        if (cur == line)
            fl_strbuf_addch(&sb, (char)c);
    }
    fclose(f);
    if (cur != line) {
        fl_strbuf_release(&sb);
        return NULL;
    }
    return fl_strbuf_detach(&sb, NULL);
}

/* SGR sequences, or nothing when colour is off. */
#define STYLE(on, sgr) ((on) ? (sgr) : "")

static void print_source(FILE *out, const char *file, int line, int col, int color) {
    if (!file)
        return;
    if (line > 0)
        fprintf(out, "       at %s%s:%d:%d%s:\n", STYLE(color, "\033[1m"), file, line, col,
                STYLE(color, "\033[0m"));
    else
        fprintf(out, "       at %s%s%s\n", STYLE(color, "\033[1m"), file, STYLE(color, "\033[0m"));
    if (line <= 0)
        return;
    char *src = read_source_line(file, line);
    if (!src)
        return;
    fprintf(out, "\n%6d| %s\n", line, src);
    if (col > 0) {
        fprintf(out, "      | ");
        for (int i = 1; i < col && src[i - 1]; i++)
            fputc(src[i - 1] == '\t' ? '\t' : ' ', out);
        fprintf(out, "%s^%s\n", STYLE(color, "\033[1;31m"), STYLE(color, "\033[0m"));
    }
    fputc('\n', out);
    free(src);
}

void fl_error_print_source(FILE *out, const char *file, int line, int col) {
    print_source(out, file, line, col, 0);
}

void fl_error_print_color(const fl_error *err, FILE *out, int color) {
    fprintf(out, "%serror:%s %s\n", STYLE(color, "\033[1;31m"), STYLE(color, "\033[0m"),
            err->message ? err->message : "unknown error");
    if (err->file)
        print_source(out, err->file, err->line, err->col, color);
    for (int i = 0; i < err->nframes; i++)
        fprintf(out, "       … %s\n", err->frames[i]);
    if (err->hint)
        fprintf(out, "       %shint:%s %s\n", STYLE(color, "\033[1;36m"), STYLE(color, "\033[0m"),
                err->hint);
}

void fl_error_print(const fl_error *err, FILE *out) {
    fl_error_print_color(err, out, 0);
}

void fl_error_clear(fl_error *err) {
    if (!err)
        return;
    free(err->message);
    free(err->file);
    free(err->hint);
    for (int i = 0; i < err->nframes; i++)
        free(err->frames[i]);
    free(err->frames);
    memset(err, 0, sizeof(*err));
}

void fl_error_move(fl_error *dst, fl_error *src) {
    fl_error_clear(dst);
    *dst = *src;
    memset(src, 0, sizeof(*src));
}
