/* error.h - errors as values: a message, where it happened, and a chain of "while ..." frames.
 * Library code fills an fl_error and returns a negative code; only main() prints and exits. */
#ifndef FLAKECTL_ERROR_H
#define FLAKECTL_ERROR_H

#include <stdarg.h>
#include <stdio.h>

enum fl_code {
    FL_OK = 0,
    FL_EGENERIC = -1, /* anything not listed */
    FL_EUSAGE = -2,   /* bad command line */
    FL_EIO = -3,      /* a system call failed */
    FL_EPARSE = -4,   /* syntax error in user input */
    FL_EEVAL = -5,    /* evaluation error (throw, type error, ...) */
    FL_ENOTFOUND = -6,
    FL_ECONFLICT = -7, /* refusing to overwrite / inconsistent state */
    FL_ECRYPTO = -8,
    FL_ENET = -9,
};

/* A source position; file NULL when unknown. The file string is not owned by the error
 * unless copied in through fl_error_set_loc. */
typedef struct fl_error {
    int code;
    char *message; /* owned */
    char *file;    /* owned, may be NULL */
    int line, col; /* 1-based, 0 when unknown */
    char *hint;    /* owned, may be NULL: what the user should do */
    char **frames; /* owned, "while ..." context, innermost first */
    int nframes;
    int sys_errno; /* errno of the failed call (fl_error_errno); 0 for other errors */
} fl_error;

#define FL_ERROR_INIT {0, NULL, NULL, 0, 0, NULL, NULL, 0, 0}

/* Sets code and message (printf-style), replacing any earlier message. Returns code so
 * callers can `return fl_error_set(err, FL_EIO, "...")`. err may be NULL. */
int fl_error_set(fl_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int fl_error_setv(fl_error *err, int code, const char *fmt, va_list ap);
/* Same, with errno's text appended as ": <strerror>" and errno kept in sys_errno (so the
 * command line can tell a missing privilege from other failures). */
int fl_error_errno(fl_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Attaches a location (copied). */
void fl_error_set_loc(fl_error *err, const char *file, int line, int col);
void fl_error_set_hint(fl_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds a context frame, printed after the message ("while evaluating ..."). */
void fl_error_add_frame(fl_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "error: message", the location with the source line and a caret when the file can
 * be read, the frames and the hint. */
void fl_error_print(const fl_error *err, FILE *out);
/* Same; color 1 styles "error:", the location, the caret and "hint:" with ANSI SGR codes
 * (the caller decides: the command line's --color / NO_COLOR / isatty). */
void fl_error_print_color(const fl_error *err, FILE *out, int color);
/* Prints the location block only (used for frames with their own positions). */
void fl_error_print_source(FILE *out, const char *file, int line, int col);
void fl_error_clear(fl_error *err);
/* Moves src into dst (dst cleared first), leaving src empty. */
void fl_error_move(fl_error *dst, fl_error *src);

#endif
