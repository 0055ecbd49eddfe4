/* progress.h - how long work (builds, copies, substitutions, package installs, fleets) tells
 * the command line how far it is. Library code calls fl_progress_* with the reporter the
 * caller passed (NULL: nobody listens) and never draws progress itself; src/cli/progress.c
 * decides what a terminal, a pipe, --quiet and -v get. A reporter may be called from several
 * threads at once. */
#ifndef FLAKECTL_PROGRESS_H
#define FLAKECTL_PROGRESS_H

#include <stdint.h>

typedef enum fl_progress_kind {
    FL_PROGRESS_BEGIN,   /* a task starts: task, total items and bytes (0 = not known), noun */
    FL_PROGRESS_ITEM,    /* an item starts: item; task, when set, says what happens to it
                            ("copying path '/nix/store/…' from 'file:///c'") */
    FL_PROGRESS_ADVANCE, /* an item is done: bytes it moved (0 = not counted), item or NULL;
                            task "substituted" when it came from a cache rather than being
                            made (a build counts it apart) */
    FL_PROGRESS_BYTES,   /* bytes moved so far for the items in flight (a running count that
                            the next ADVANCEs' bytes take over) */
    FL_PROGRESS_STAGE,   /* item (a host) reached the stage task ("built", "copied",
                            "activated", "failed"): a fleet's counts */
    FL_PROGRESS_NOTE,    /* a line for the reader (item), e.g. a copy's result; NULL item: the
                            caller is about to print on its own, clear the updating line */
    FL_PROGRESS_END,     /* the task is over; failed says how */
} fl_progress_kind;

typedef struct fl_progress_event {
    fl_progress_kind kind;
    const char *task; /* BEGIN: "copying to web1"; ITEM: what happens; STAGE: the stage */
    const char *item; /* ITEM, ADVANCE: a store path, a package; STAGE: a host; NOTE: a line */
    uint64_t total, total_bytes;
    uint64_t bytes;
    int failed;
    const char *noun; /* BEGIN: what total counts ("paths", "packages", "hosts"); NULL: paths */
} fl_progress_event;

typedef struct fl_progress {
    void (*fn)(void *ctx, const fl_progress_event *ev);
    void *ctx;
} fl_progress;

void fl_progress_begin(const fl_progress *p, const char *task, uint64_t total,
                       uint64_t total_bytes);
/* fl_progress_begin counting noun ("packages") rather than paths. */
void fl_progress_begin_of(const fl_progress *p, const char *task, uint64_t total,
                          uint64_t total_bytes, const char *noun);
void fl_progress_item(const fl_progress *p, const char *item);
/* An item starting, with what happens to it (what NULL: fl_progress_item). */
void fl_progress_item_doing(const fl_progress *p, const char *item, const char *what);
void fl_progress_advance(const fl_progress *p, const char *item, uint64_t bytes);
/* An item done by fetching it from a binary cache (a substitution), not by making it. */
void fl_progress_advance_substituted(const fl_progress *p, const char *item, uint64_t bytes);
void fl_progress_bytes(const fl_progress *p, uint64_t bytes_in_flight);
void fl_progress_stage(const fl_progress *p, const char *host, const char *stage);
void fl_progress_note(const fl_progress *p, const char *line);
void fl_progress_end(const fl_progress *p, int failed);

#endif
