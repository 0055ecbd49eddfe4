/* internal.h - what the files of src/pkg share and nobody else sees. */
#ifndef FLAKECTL_PKG_INTERNAL_H
#define FLAKECTL_PKG_INTERNAL_H

#include <stdio.h>

#include "flakectl/error.h"
#include "flakectl/strbuf.h"

/* Runs argv inside root ("/": no chroot; else a private mount namespace with the root's
 * /proc, /sys and /dev, then chroot) with apt's non-interactive environment. The output is
 * appended to output and, indented, to out (NULL: not shown). *status: the exit status,
 * 128+signal when killed, 127 when the program cannot run. (run.c) */
int fl_pkg_run(const char *root, char *const argv[], FILE *out, fl_strbuf *output, int *status,
               fl_error *err);

/* fl_pkg_run, and a non-zero exit becomes the error "host H: `CMD` failed (exit status N):"
 * with the last lines of the output (output is reset first). (run.c) */
int fl_pkg_run_checked(const char *root, char *const argv[], FILE *out, fl_strbuf *output,
                       const char *host, fl_error *err);

/* The step on macOS (brew.c). */
struct fl_pkg_step;
int fl_pkg_brew_activate(const struct fl_pkg_step *s, fl_error *err);

#endif
