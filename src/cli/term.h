/* term.h - what the command line does differently on a terminal: whether a stream gets
 * colour (--color, NO_COLOR, isatty), and a stream that colours the lines of plans and diffs
 * as they pass. Private to src/cli/: the library prints plain text to the FILE it is given
 * and never learns whether that is a terminal. */
#ifndef FLAKECTL_CLI_TERM_H
#define FLAKECTL_CLI_TERM_H

#include <stdio.h>

#include "flakectl/strbuf.h"

/* 1 when output to stream should be coloured: --color always; never with --color never;
 * with auto (the default), when stream is a terminal, NO_COLOR is unset or empty and TERM
 * is not "dumb". */
int fl_term_color(FILE *stream);

/* 1 when stream is a terminal (for updating lines, not for colour). */
int fl_term_is_tty(FILE *stream);

/* A stream for a plan, a diff or an activation's report: every complete line written to it
 * goes to real, coloured by its shape ("    + x" green, "    - x" red, "    ~ x" yellow, a
 * diff's "+"/"-"/"@@" lines, section headings bold) when color is 1. Returns real itself
 * when color is 0 (or the platform cannot wrap a stream); close it with fl_term_plan_close,
 * which writes out any unfinished line. */
FILE *fl_term_plan_open(FILE *real, int color);
void fl_term_plan_close(FILE *plan, FILE *real);

/* Prints j (taken: decref'd here) on stdout as indented JSON and a newline, in the order its
 * keys were added ("version" first). Returns the exit status: FL_EXIT_OK, or
 * FL_EXIT_FAILURE when stdout cannot be written. */
typedef struct json_t json_t;
int fl_cli_print_json(json_t *j);

/* Colours one line (without its newline) the way the plan stream does, into out. */
void fl_term_color_line(const char *line, size_t len, fl_strbuf *out);

#endif
