/* progress.h (cli) - the command line's side of progress.h: what a terminal, a pipe, --quiet
 * and -v get while a build or a push runs. Private to src/cli/. */
#ifndef FLAKECTL_CLI_PROGRESS_H
#define FLAKECTL_CLI_PROGRESS_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "flakectl/progress.h"

typedef struct fl_cli_progress {
    fl_progress progress; /* hand &this->progress to the library */
    FILE *out;
    int tty, quiet, verbose, drawn;
    char noun[24];       /* "paths", or BEGIN's noun */
    const char *summary; /* the verb of the closing line ("built"), NULL for none */
    char task[160], item[256];
    uint64_t total, total_bytes, done, bytes;
    uint64_t substituted; /* of done: fetched from a cache, not made */
    uint64_t inflight;    /* BYTES: of the items not yet done */
    /* a fleet (STAGE events): hosts per stage, of total */
    int fleet;
    uint64_t built, copied, activated, failed;
    double start, last_draw;
    pthread_mutex_t lock;
} fl_cli_progress;

/* On out (stderr): on a terminal one line redrawn in place (task, done of total, bytes, rate,
 * the current item); elsewhere a plain line per item; -v: a line per item on a terminal too;
 * --quiet: nothing. task names the work until the library's BEGIN renames it; summary, when
 * not NULL, is the verb of one closing line ("built 3 paths in 1.2 s") unless --quiet; paths
 * substituted from a cache are counted apart from those built ("built 2 paths, substituted
 * 3 paths, 1.1 MiB in 1.2 s"). */
void fl_cli_progress_init(fl_cli_progress *p, FILE *out, const char *task, const char *summary);
/* Clears a line still drawn and prints the closing line. */
void fl_cli_progress_release(fl_cli_progress *p);

/* While a progress line is drawn on a terminal, other writers (a fleet's threads, the lines
 * its targets send back) must not write into its row: they write to fd[0] / fd[1] (or out /
 * err), pipes read by a thread that puts each whole line on a row of its own above the
 * updating line (which it clears first and redraws after). Without a terminal, or with
 * --quiet, fd and the FILEs are simply stdout and stderr. */
typedef struct fl_cli_line_relay {
    fl_cli_progress *p;
    int fd[2];       /* write here: [0] for stdout, [1] for stderr */
    FILE *out, *err; /* the same as FILEs (line-buffered) */
    int rd[2];       /* the pipes' read ends; -1 when not relaying */
    pthread_t thread;
} fl_cli_line_relay;
void fl_cli_line_relay_start(fl_cli_line_relay *r, fl_cli_progress *p);
/* Closes the write ends, waits for every line to be out, releases the relay. */
void fl_cli_line_relay_stop(fl_cli_line_relay *r);

#endif
