/* progress.h - how long work (builds, pushes to a cache) tells the command line how far it
 * is. Library code calls fl_progress_* with the reporter the caller passed (NULL: nobody
 * listens) and never draws progress itself; src/cli/progress.c decides what a terminal, a
 * pipe, --quiet and -v get. A reporter may be called from several threads at once. */
#ifndef FLAKECTL_PROGRESS_H
#define FLAKECTL_PROGRESS_H

#include <stdint.h>

typedef enum fl_progress_kind {
    FL_PROGRESS_BEGIN,   /* a task starts: task, total items and bytes (0 = not known) */
    FL_PROGRESS_ITEM,    /* an item starts: item */
    FL_PROGRESS_ADVANCE, /* an item is done: bytes it moved (0 = not counted), item or NULL */
    FL_PROGRESS_END,     /* the task is over; failed says how */
} fl_progress_kind;

typedef struct fl_progress_event {
    fl_progress_kind kind;
    const char *task; /* BEGIN: "pushing to file:///srv/cache" */
    const char *item; /* ITEM, ADVANCE: a store path, a host */
    uint64_t total, total_bytes;
    uint64_t bytes;
    int failed;
} fl_progress_event;

typedef struct fl_progress {
    void (*fn)(void *ctx, const fl_progress_event *ev);
    void *ctx;
} fl_progress;

void fl_progress_begin(const fl_progress *p, const char *task, uint64_t total,
                       uint64_t total_bytes);
void fl_progress_item(const fl_progress *p, const char *item);
void fl_progress_advance(const fl_progress *p, const char *item, uint64_t bytes);
void fl_progress_end(const fl_progress *p, int failed);

#endif
