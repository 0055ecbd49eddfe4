/* armor.c - age's ASCII armor ("-----BEGIN AGE ENCRYPTED FILE-----"), read and written as a
 * stream. Strict as the spec asks: 64-column lines, canonical padded base64, no headers, LF
 * or CRLF, whitespace only around the armor. Knows nothing of what the bytes mean. */
#include <stdlib.h>
#include <string.h>

#include "flakectl/strbuf.h"
#include "secret/internal.h"

#define ARMOR_COLUMNS 64

void age_armor_reader_init(age_armor_reader *a, age_buf *raw, const char *name) {
    memset(a, 0, sizeof *a);
    a->raw = raw;
    a->name = name;
}

static int armor_fail(fl_age_failure *failure, fl_error *err, const char *name, const char *what) {
    if (failure)
        *failure = FL_AGE_ARMOR;
    fl_error_set(err, FL_ECRYPTO, "%s: invalid ASCII armor: %s", name, what);
    fl_error_set_hint(err, "the file is corrupt or was changed after it was written");
    return FL_ECRYPTO;
}

static int is_space(int c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Reads one armor line without its LF or CRLF. */
static int armor_line(age_armor_reader *a, const unsigned char **line, size_t *len, int *eol,
                      fl_age_failure *failure, fl_error *err) {
    int rc = age_buf_line(a->raw, ARMOR_COLUMNS + 2, line, len, eol, failure, err);
    if (rc == 1)
        return armor_fail(failure, err, a->name, "a line is longer than 64 columns");
    if (rc)
        return rc;
    age_buf_skip(a->raw, *len + (*eol ? 1 : 0));
    if (*len > 0 && (*line)[*len - 1] == '\r' && *eol)
        (*len)--;
    return 0;
}

static int line_is(const unsigned char *line, size_t len, const char *want) {
    return len == strlen(want) && memcmp(line, want, len) == 0;
}

static int armor_begin(age_armor_reader *a, fl_age_failure *failure, fl_error *err) {
    for (;;) {
        int rc = age_buf_fill(a->raw, 1, failure, err);
        if (rc)
            return rc;
        if (age_buf_avail(a->raw) == 0)
            return armor_fail(failure, err, a->name, "no \"" AGE_ARMOR_BEGIN "\" line");
        if (!is_space(a->raw->data[a->raw->start]))
            break;
        age_buf_skip(a->raw, 1);
    }
    const unsigned char *line;
    size_t len;
    int eol;
    int rc = armor_line(a, &line, &len, &eol, failure, err);
    if (rc)
        return rc;
    if (!eol || !line_is(line, len, AGE_ARMOR_BEGIN))
        return armor_fail(failure, err, a->name, "the first line is not \"" AGE_ARMOR_BEGIN "\"");
    a->started = 1;
    return 0;
}

/* After the END line only whitespace may follow. */
static int armor_trailer(age_armor_reader *a, fl_age_failure *failure, fl_error *err) {
    for (;;) {
        int rc = age_buf_fill(a->raw, 1, failure, err);
        if (rc)
            return rc;
        size_t n = age_buf_avail(a->raw);
        if (n == 0)
            return 0;
        const unsigned char *p = a->raw->data + a->raw->start;
        for (size_t i = 0; i < n; i++)
            if (!is_space(p[i]))
                return armor_fail(failure, err, a->name, "data after the END line");
        age_buf_skip(a->raw, n);
    }
}

static int armor_next_line(age_armor_reader *a, fl_age_failure *failure, fl_error *err) {
    const unsigned char *line;
    size_t len;
    int eol;
    int rc = armor_line(a, &line, &len, &eol, failure, err);
    if (rc)
        return rc;
    if (line_is(line, len, AGE_ARMOR_END)) {
        a->done = 1;
        return armor_trailer(a, failure, err);
    }
    if (!eol)
        return armor_fail(failure, err, a->name, "no \"" AGE_ARMOR_END "\" line");
    if (a->need_end)
        return armor_fail(failure, err, a->name, "a short or padded line is not the last one");
    if (len == 0)
        return armor_fail(failure, err, a->name, "an empty line");
    if (len > ARMOR_COLUMNS)
        return armor_fail(failure, err, a->name, "a line is longer than 64 columns");
    if (len % 4 != 0)
        return armor_fail(failure, err, a->name,
                          "a line is not a whole number of base64 groups (missing padding?)");
    if (len < ARMOR_COLUMNS || line[len - 1] == '=')
        a->need_end = 1;
    if (fl_base64_decode((const char *)line, len, a->out, sizeof a->out, &a->out_len, NULL,
                         AGE_B64_PADDED) != 0)
        return armor_fail(failure, err, a->name, "invalid or non-canonical base64");
    a->out_pos = 0;
    return 0;
}

int age_armor_read(void *ctx, unsigned char *buf, size_t cap, size_t *got, fl_age_failure *failure,
                   fl_error *err) {
    age_armor_reader *a = ctx;
    int rc;
    if (!a->started && (rc = armor_begin(a, failure, err)) != 0)
        return rc;
    size_t n = 0;
    while (n < cap) {
        if (a->out_pos == a->out_len) {
            if (a->done)
                break;
            if ((rc = armor_next_line(a, failure, err)) != 0)
                return rc;
            continue;
        }
        size_t take = a->out_len - a->out_pos;
        if (take > cap - n)
            take = cap - n;
        memcpy(buf + n, a->out + a->out_pos, take);
        a->out_pos += take;
        n += take;
    }
    *got = n;
    return 0;
}

void age_armor_writer_init(age_armor_writer *w, fl_age_sink sink, void *ctx) {
    memset(w, 0, sizeof *w);
    w->sink = sink;
    w->ctx = ctx;
    w->line_cap = 1 << 16;
    w->line = fl_xmalloc(w->line_cap);
    memcpy(w->line, AGE_ARMOR_BEGIN "\n", sizeof AGE_ARMOR_BEGIN);
    w->line_len = sizeof AGE_ARMOR_BEGIN;
}

void age_armor_writer_release(age_armor_writer *w) {
    free(w->line);
    w->line = NULL;
}

static int armor_flush(age_armor_writer *w, fl_error *err) {
    int rc = w->sink(w->ctx, (const unsigned char *)w->line, w->line_len, err);
    w->line_len = 0;
    return rc;
}

static int armor_emit(age_armor_writer *w, const unsigned char *group, size_t n, fl_error *err) {
    if (w->line_cap - w->line_len < ARMOR_COLUMNS + 1) {
        int rc = armor_flush(w, err);
        if (rc)
            return rc;
    }
    size_t chars = fl_base64_len(n, 1);
    fl_base64_encode(group, n, w->line + w->line_len, 1);
    w->line_len += chars;
    w->line[w->line_len++] = '\n';
    return 0;
}

int age_armor_write(void *ctx, const unsigned char *data, size_t len, fl_error *err) {
    age_armor_writer *w = ctx;
    int rc;
    while (len > 0) {
        if (w->npending == 0 && len >= 48) {
            if ((rc = armor_emit(w, data, 48, err)) != 0)
                return rc;
            data += 48;
            len -= 48;
            continue;
        }
        size_t take = 48 - w->npending < len ? 48 - w->npending : len;
        memcpy(w->pending + w->npending, data, take);
        w->npending += take;
        data += take;
        len -= take;
        if (w->npending == 48) {
            if ((rc = armor_emit(w, w->pending, 48, err)) != 0)
                return rc;
            w->npending = 0;
        }
    }
    return 0;
}

int age_armor_finish(age_armor_writer *w, fl_error *err) {
    int rc;
    if (w->npending > 0 && (rc = armor_emit(w, w->pending, w->npending, err)) != 0)
        return rc;
    w->npending = 0;
    if (w->line_cap - w->line_len < sizeof AGE_ARMOR_END && (rc = armor_flush(w, err)) != 0)
        return rc;
    memcpy(w->line + w->line_len, AGE_ARMOR_END "\n", sizeof AGE_ARMOR_END);
    w->line_len += sizeof AGE_ARMOR_END;
    return armor_flush(w, err);
}
