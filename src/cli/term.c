/* term.c - colour decisions and the colouring plan stream (term.h). The plans and diffs the
 * library prints have a fixed shape (docs/activation.md): a marker after exactly four spaces
 * for a change, a unified diff indented by six, headings indented by two and ending in ':'.
 * Colour follows that shape line by line, so the library never knows about terminals and a
 * pipe gets the same bytes as before. Writes only to the FILE it wraps. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>

#include "flakectl/cli.h"
#include "options.h"
#include "term.h"

#define SGR_RESET "\033[0m"
#define SGR_BOLD "\033[1m"
#define SGR_RED "\033[31m"
#define SGR_GREEN "\033[32m"
#define SGR_YELLOW "\033[33m"
#define SGR_CYAN "\033[36m"

int fl_term_is_tty(FILE *stream) {
    int fd = stream ? fileno(stream) : -1;
    return fd >= 0 && isatty(fd);
}

int fl_term_color(FILE *stream) {
    const char *mode = fl_opts.color_mode ? fl_opts.color_mode : "auto";
    if (!strcmp(mode, "always"))
        return 1;
    if (!strcmp(mode, "never"))
        return 0;
    /* no-color.org: any non-empty value; an explicit --color always still wins */
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    if (nc && *nc)
        return 0;
    if (term && !strcmp(term, "dumb"))
        return 0;
    return fl_term_is_tty(stream);
}

static size_t leading_spaces(const char *s, size_t len) {
    size_t i = 0;
    while (i < len && s[i] == ' ')
        i++;
    return i;
}

static int starts(const char *s, size_t len, const char *prefix) {
    size_t n = strlen(prefix);
    return len >= n && !memcmp(s, prefix, n);
}

/* The SGR sequence for a line of a plan or diff, NULL to leave it plain. */
static const char *style_of(const char *line, size_t len) {
    size_t ind = leading_spaces(line, len);
    const char *r = line + ind;
    size_t rl = len - ind;
    if (rl == 0)
        return NULL;
    if (ind == 4 && rl >= 2 && r[1] == ' ') {
        switch (r[0]) {
        case '+':
            return SGR_GREEN;
        case '-':
            return SGR_RED;
        case '~':
            return SGR_YELLOW;
        case '!':
            return SGR_BOLD SGR_YELLOW;
        }
    }
    if (ind == 4) {
        /* the unit plan: "stop     x.service  (why)" */
        if (starts(r, rl, "stop "))
            return SGR_RED;
        if (starts(r, rl, "start "))
            return SGR_GREEN;
        if (starts(r, rl, "restart ") || starts(r, rl, "reload "))
            return SGR_YELLOW;
    }
    if (ind == 6) {
        if (starts(r, rl, "--- ") || starts(r, rl, "+++ "))
            return SGR_BOLD;
        if (starts(r, rl, "@@ "))
            return SGR_CYAN;
        if (r[0] == '+')
            return SGR_GREEN;
        if (r[0] == '-')
            return SGR_RED;
    }
    if (ind == 2 && starts(r, rl, "conflicts"))
        return SGR_BOLD SGR_RED;
    if (ind == 2 && r[rl - 1] == ':')
        return SGR_BOLD;
    if (ind == 0 &&
        (starts(r, rl, "diff ") || starts(r, rl, "dry-activate ") || starts(r, rl, "activating ")))
        return SGR_BOLD;
    return NULL;
}

void fl_term_color_line(const char *line, size_t len, fl_strbuf *out) {
    const char *sgr = style_of(line, len);
    if (sgr)
        fl_strbuf_adds(out, sgr);
    fl_strbuf_add(out, line, len);
    if (sgr)
        fl_strbuf_adds(out, SGR_RESET);
}

#if defined(__linux__)
typedef struct plan_stream {
    FILE *real;
    fl_strbuf pending; /* the unfinished line */
} plan_stream;

static void emit_line(plan_stream *ps, const char *line, size_t len, int nl) {
    fl_strbuf b = FL_STRBUF_INIT;
    fl_term_color_line(line, len, &b);
    if (nl)
        fl_strbuf_addch(&b, '\n');
    fwrite(b.buf, 1, b.len, ps->real);
    fl_strbuf_release(&b);
}

static ssize_t plan_write(void *cookie, const char *buf, size_t size) {
    plan_stream *ps = cookie;
    fl_strbuf_add(&ps->pending, buf, size);
    size_t start = 0;
    for (size_t i = 0; i < ps->pending.len; i++) {
        if (ps->pending.buf[i] != '\n')
            continue;
        emit_line(ps, ps->pending.buf + start, i - start, 1);
        start = i + 1;
    }
    if (start) {
        size_t rest = ps->pending.len - start;
        memmove(ps->pending.buf, ps->pending.buf + start, rest);
        ps->pending.len = rest;
        ps->pending.buf[rest] = '\0';
        /* a plan interleaves with errors on stderr: keep the order a reader sees */
        fflush(ps->real);
    }
    return (ssize_t)size;
}

static int plan_close(void *cookie) {
    plan_stream *ps = cookie;
    if (ps->pending.len)
        emit_line(ps, ps->pending.buf, ps->pending.len, 0);
    fflush(ps->real);
    fl_strbuf_release(&ps->pending);
    free(ps);
    return 0;
}

FILE *fl_term_plan_open(FILE *real, int color) {
    if (!color)
        return real;
    fflush(real);
    plan_stream *ps = fl_xcalloc(1, sizeof *ps);
    ps->real = real;
    fl_strbuf_init(&ps->pending, 0);
    cookie_io_functions_t io = {
        .read = NULL, .write = plan_write, .seek = NULL, .close = plan_close};
    FILE *f = fopencookie(ps, "w", io);
    if (!f) {
        fl_strbuf_release(&ps->pending);
        free(ps);
        return real;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    return f;
}
#else
/* No portable way to wrap a stream: plans stay plain there (docs/cli.md). */
FILE *fl_term_plan_open(FILE *real, int color) {
    (void)color;
    return real;
}
#endif

void fl_term_plan_close(FILE *plan, FILE *real) {
    if (plan && plan != real)
        fclose(plan);
    else if (real)
        fflush(real);
}

int fl_cli_print_json(json_t *j) {
    char *s = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    int ok = s && fputs(s, stdout) >= 0 && fputc('\n', stdout) != EOF && fflush(stdout) == 0;
    free(s);
    return ok ? FL_EXIT_OK : FL_EXIT_FAILURE;
}
