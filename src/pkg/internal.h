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

/* fl_pkg_run where the program also reports its status on descriptor 3 (apt's
 * APT::Status-Fd=3): each whole line written there goes to on_status(ctx, line) as it comes,
 * interleaved with the output in the order they arrive; on_status(ctx, NULL) just before
 * a chunk of output is shown on out. (run.c) */
typedef void (*fl_pkg_status_fn)(void *ctx, const char *line);
int fl_pkg_run_status(const char *root, char *const argv[], FILE *out, fl_strbuf *output,
                      fl_pkg_status_fn on_status, void *ctx, int *status, fl_error *err);
/* fl_pkg_run_status, and a non-zero exit becomes the error of fl_pkg_run_checked. */
int fl_pkg_run_checked_status(const char *root, char *const argv[], FILE *out,
                              fl_strbuf *output, fl_pkg_status_fn on_status, void *ctx,
                              const char *host, fl_error *err);

/* fl_pkg_run, and a non-zero exit becomes the error "host H: `CMD` failed (exit status N):"
 * with the last lines of the output (output is reset first). (run.c) */
int fl_pkg_run_checked(const char *root, char *const argv[], FILE *out, fl_strbuf *output,
                       const char *host, fl_error *err);

/* The step on macOS (brew.c). */
struct fl_pkg_step;
int fl_pkg_brew_activate(const struct fl_pkg_step *s, fl_error *err);

#endif
