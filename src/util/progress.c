/* progress.c - the calls library code makes to report progress (progress.h): each builds an
 * event and hands it to the caller's reporter, or does nothing without one. Prints nothing. */
#include "flakectl/progress.h"

#include <stddef.h>

static void send(const fl_progress *p, const fl_progress_event *ev) {
    if (p && p->fn)
        p->fn(p->ctx, ev);
}

void fl_progress_begin(const fl_progress *p, const char *task, uint64_t total,
                       uint64_t total_bytes) {
    fl_progress_event ev = {FL_PROGRESS_BEGIN, task, NULL, total, total_bytes, 0, 0};
    send(p, &ev);
}

void fl_progress_item(const fl_progress *p, const char *item) {
    fl_progress_event ev = {FL_PROGRESS_ITEM, NULL, item, 0, 0, 0, 0};
    send(p, &ev);
}

void fl_progress_advance(const fl_progress *p, const char *item, uint64_t bytes) {
    fl_progress_event ev = {FL_PROGRESS_ADVANCE, NULL, item, 0, 0, bytes, 0};
    send(p, &ev);
}

void fl_progress_end(const fl_progress *p, int failed) {
    fl_progress_event ev = {FL_PROGRESS_END, NULL, NULL, 0, 0, 0, failed};
    send(p, &ev);
}
