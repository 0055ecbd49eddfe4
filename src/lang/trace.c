/* trace.c - the frames of an evaluation error ("while evaluating ..."), worded and ordered as
 * Nix 2.8 traces them, and the whole error laid out as nix-instantiate 2.8 prints it with
 * --show-trace (fl_lang_format_error). Reads the evaluator's frames and sources; never
 * evaluates anything but a selection's dynamic attribute names, and prints nothing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/fs.h"
#include "lang/internal.h"

/* Nix's code block: the line before, the line, a caret under the column, the line after,
 * each line number right-aligned in five columns. Unindented; no trailing newline. */
static void code_lines(fl_strbuf *out, const char *src, size_t len, int line, int col) {
    if (!src || line < 1)
        return;
    const char *lines[3] = {NULL, NULL, NULL};
    size_t lens[3] = {0, 0, 0};
    const char *p = src, *end = src + len;
    for (int l = 1; p < end && l <= line + 1; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l >= line - 1) {
            lines[l - line + 1] = p;
            lens[l - line + 1] = n;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    if (!lines[1])
        return;
    int first = 1;
    for (int k = 0; k < 3; k++) {
        if (!lines[k])
            continue;
        if (!first)
            fl_strbuf_addch(out, '\n');
        first = 0;
        fl_strbuf_addf(out, " %5d| %.*s", line - 1 + k, (int)lens[k], lines[k]);
        if (k == 1 && col > 0) {
            fl_strbuf_adds(out, "\n      |");
            for (int i = 0; i < col; i++)
                fl_strbuf_addch(out, ' ');
            fl_strbuf_addch(out, '^');
        }
    }
}

static FileEntry *file_of(State *S, PosIdx pos) {
    if (!pos || pos >= S->nposs)
        return NULL;
    return &S->files[S->poss[pos].file];
}

/* "at FILE:LINE:COL:" and the code block, as a frame's or the error's location. */
static void at_block(fl_strbuf *out, const char *file, int line, int col, const char *src,
                     size_t len) {
    fl_strbuf_addf(out, "\nat %s:%d:%d:", file, line, col);
    fl_strbuf code;
    fl_strbuf_init(&code, 0);
    code_lines(&code, src, len, line, col);
    if (code.len) {
        fl_strbuf_adds(out, "\n\n");
        fl_strbuf_add(out, code.buf, code.len);
    }
    fl_strbuf_release(&code);
}

/* One frame: its message, then (nix layout) its location block or (one line) " at F:L:C". */
static void add_frame(State *S, fl_error *err, int nix, PosIdx pos, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void add_frame(State *S, fl_error *err, int nix, PosIdx pos, const char *fmt, ...) {
    fl_strbuf b;
    fl_strbuf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    fl_strbuf_vaddf(&b, fmt, ap);
    va_end(ap);
    fl_lang_pos p;
    lang_pos_get(S, pos, &p);
    if (p.file) {
        if (nix) {
            FileEntry *f = file_of(S, pos);
            fl_strbuf_addch(&b, '\n');
            at_block(&b, p.file, p.line, p.col, f ? f->src : NULL, f ? f->srclen : 0);
        } else {
            fl_strbuf_addf(&b, " at %s:%d:%d", p.file, p.line, p.col);
        }
    }
    fl_error_add_frame(err, "%s", b.buf);
    fl_strbuf_release(&b);
}

static void dynamic_name(State *S, const AttrName *an, Env *env, PosIdx pos, fl_strbuf *out) {
    Catch c;
    catch_begin(S, &c);
    if (setjmp(c.jb) == 0) {
        Value v;
        lang_eval(S, an->expr, env, &v);
        size_t len;
        const char *s = lang_force_string_noctx(S, &v, pos, &len);
        lang_catch_end(S, &c);
        fl_strbuf_add(out, s, len);
    } else {
        lang_catch_unwind(S, &c);
        fl_error_clear(&S->err);
        fl_strbuf_adds(out, "\"${...}\"");
    }
}

/* A selection's attribute path as Nix's showAttrPath shows it: dynamic names evaluated
 * again, and shown as "${...}" when that fails. */
static void sel_path(State *S, const Frame *f, fl_strbuf *out) {
    const Expr *e = f->sel;
    for (uint32_t i = 0; i < e->sel.n; i++) {
        if (i)
            fl_strbuf_addch(out, '.');
        const AttrName *an = &e->sel.path[i];
        if (!an->expr) {
            fl_strbuf_adds(out, sym_name(S, an->sym));
            continue;
        }
        dynamic_name(S, an, f->env, e->pos, out);
    }
}

typedef struct Suggestion {
    size_t d;
    const char *name;
} Suggestion;

static int suggestion_cmp(const void *x, const void *y) {
    const Suggestion *a = x, *b = y;
    if (a->d != b->d)
        return a->d < b->d ? -1 : 1;
    return strcmp(a->name, b->name);
}

const char *lang_nix_suggestions(State *S, const char *name, const char **cands, size_t n) {
    Suggestion *all = fl_xmalloc((n ? n : 1) * sizeof(Suggestion));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t d = fl_edit_distance(name, cands[i]);
        if (d <= 2)
            all[k++] = (Suggestion){d, cands[i]};
    }
    qsort(all, k, sizeof(Suggestion), suggestion_cmp);
    /* a set of (distance, name): the same name twice counts once */
    size_t m = 0;
    for (size_t i = 0; i < k && m < 5; i++)
        if (!m || strcmp(all[m - 1].name, all[i].name))
            all[m++] = all[i];
    const char *res = NULL;
    if (m == 1) {
        res = all[0].name;
    } else if (m > 1) {
        fl_strbuf b;
        fl_strbuf_init(&b, 0);
        fl_strbuf_addf(&b, "one of %s", all[0].name);
        for (size_t i = 1; i < m; i++)
            fl_strbuf_addf(&b, "%s%s", i + 1 == m ? " or " : ", ", all[i].name);
        char *a = arena_alloc(&S->arena, b.len + 1);
        memcpy(a, b.buf, b.len + 1);
        res = a;
        fl_strbuf_release(&b);
    }
    free(all);
    return res;
}

void lang_trace_frames(State *S, fl_error *err, int nix) {
    /* the name evaluation in sel_path may throw and capture frames of its own */
    uint32_t n = S->nerr_frames;
    Frame *frames = fl_xmalloc((n ? n : 1) * sizeof(Frame));
    memcpy(frames, S->err_frames, n * sizeof(Frame));
    for (uint32_t i = 0; i < n; i++) {
        const Frame *f = &frames[i];
        switch (f->kind) {
        case FR_CALL:
            if (f->sym)
                add_frame(S, err, nix, f->pos2, "while evaluating '%s'", sym_name(S, f->sym));
            else
                add_frame(S, err, nix, f->pos2, "while evaluating anonymous lambda");
            /* a builtin's lazy application is forced without a call site */
            add_frame(S, err, nix, i + 1 < n && frames[i + 1].kind == FR_APP ? 0 : f->pos,
                      "from call site");
            break;
        case FR_SEL:
            if (f->pos2) {
                fl_strbuf path;
                fl_strbuf_init(&path, 0);
                sel_path(S, f, &path);
                add_frame(S, err, nix, f->pos2, "while evaluating the attribute '%s'", path.buf);
                fl_strbuf_release(&path);
            }
            break;
        case FR_ATTR:
            add_frame(S, err, nix, f->pos, "while evaluating the attribute '%s'",
                      f->sym ? sym_name(S, f->sym) : "?");
            break;
        case FR_IMPORT:
            /* the file the evaluation started with is not one Nix traces */
            if (f->pos)
                add_frame(S, err, nix, 0, "while evaluating the file '%s':",
                          f->text ? f->text : "?");
            break;
        case FR_CTX:
            add_frame(S, err, nix, f->pos, "%s", f->text ? f->text : "while evaluating");
            break;
        default:
            break;
        }
    }
    free(frames);
}

/* The source an error's location names: the evaluator's copy of the file or string, else
 * the file as it is now. Owned by the caller (free). */
static char *error_source(State *S, const char *file, size_t *len) {
    for (uint32_t i = S->nfiles; i-- > 0;) {
        FileEntry *f = &S->files[i];
        if (f->src && f->path && !strcmp(f->path, file)) {
            char *c = fl_xmalloc(f->srclen + 1);
            memcpy(c, f->src, f->srclen);
            c[f->srclen] = 0;
            *len = f->srclen;
            return c;
        }
    }
    char *data = NULL;
    if (fl_read_file(file, &data, len, NULL) < 0)
        return NULL;
    return data;
}

/* Every non-empty line indented by seven spaces, as Nix indents what follows "error:". */
static void add_indented(fl_strbuf *out, const char *s) {
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        if (n)
            fl_strbuf_adds(out, "       ");
        fl_strbuf_add(out, s, n);
        fl_strbuf_addch(out, '\n');
        s += n + (nl ? 1 : 0);
    }
}

/* What Nix's terminal filter makes of the text: trailing white space of every line dropped
 * (its code lines are trimmed), and a tab expanded to the next multiple of eight characters
 * counted from the start of the whole message, newlines included, as filterANSIEscapes
 * counts them (one per UTF-8 character). */
static void nix_filter(const char *s, fl_strbuf *out) {
    size_t w = 0;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '\t') {
                do {
                    fl_strbuf_addch(out, ' ');
                    w++;
                } while (w % 8);
                continue;
            }
            fl_strbuf_addch(out, (char)c);
            if ((c & 0xc0) != 0x80)
                w++;
        }
        if (!nl)
            break;
        fl_strbuf_addch(out, '\n');
        w++;
        s = nl + 1;
    }
}

void fl_lang_format_error(fl_lang *L, const fl_error *err, fl_strbuf *out) {
    State *S = (State *)L;
    fl_strbuf body;
    fl_strbuf_init(&body, 0);
    if (err->file && err->line > 0) {
        size_t len = 0;
        char *src = error_source(S, err->file, &len);
        at_block(&body, err->file, err->line, err->col, src, len);
        free(src);
        fl_strbuf_addch(&body, '\n');
    }
    const char *hint = err->hint;
    if (hint && !strncmp(hint, "Did you mean ", 13)) {
        fl_strbuf_addf(&body, "%s\n", hint);
        hint = NULL;
    }
    for (int i = 0; i < err->nframes; i++)
        fl_strbuf_addf(&body, "\n\xe2\x80\xa6 %s\n", err->frames[i]);
    if (hint)
        fl_strbuf_addf(&body, "\nhint: %s\n", hint);
    /* Nix trims the trailing white space of everything after the message */
    while (body.len && (body.buf[body.len - 1] == '\n' || body.buf[body.len - 1] == ' '))
        body.buf[--body.len] = 0;
    fl_strbuf text;
    fl_strbuf_init(&text, 0);
    /* a message of several lines continues indented, as the rest */
    const char *msg = err->message ? err->message : "unknown error";
    size_t first = strcspn(msg, "\n");
    fl_strbuf_addf(&text, "error: %.*s\n", (int)first, msg);
    if (msg[first])
        add_indented(&text, msg + first + 1);
    /* Nix ends the message with a newline of its own after the message's */
    if (first && msg[strlen(msg) - 1] == '\n')
        fl_strbuf_addch(&text, '\n');
    add_indented(&text, body.buf ? body.buf : "");
    fl_strbuf_release(&body);
    nix_filter(text.buf, out);
    fl_strbuf_release(&text);
}
