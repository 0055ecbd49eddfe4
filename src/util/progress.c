/* progress.c - the calls library code makes to report progress (progress.h): each builds an
 * event and hands it to the caller's reporter, or does nothing without one. Prints nothing. */
#include "flakectl/progress.h"

#include <stddef.h>

static void send(const fl_progress *p, fl_progress_event ev) {
    if (p && p->fn)
        p->fn(p->ctx, &ev);
}

void fl_progress_begin_of(const fl_progress *p, const char *task, uint64_t total,
                          uint64_t total_bytes, const char *noun) {
    send(p, (fl_progress_event){.kind = FL_PROGRESS_BEGIN, .task = task, .total = total,
                                .total_bytes = total_bytes, .noun = noun});
}

void fl_progress_begin(const fl_progress *p, const char *task, uint64_t total,
                       uint64_t total_bytes) {
    fl_progress_begin_of(p, task, total, total_bytes, NULL);
}

void fl_progress_item_doing(const fl_progress *p, const char *item, const char *what) {
    send(p, (fl_progress_event){.kind = FL_PROGRESS_ITEM, .task = what, .item = item});
}

void fl_progress_item(const fl_progress *p, const char *item) {
    fl_progress_item_doing(p, item, NULL);
}

void fl_progress_advance(const fl_progress *p, const char *item, uint64_t bytes) {
    send(p, (fl_progress_event){.kind = FL_PROGRESS_ADVANCE, .item = item, .bytes = bytes});
}

void fl_progress_advance_substituted(const fl_progress *p, const char *item, uint64_t bytes) {
    send(p, (fl_progress_event){.kind = FL_PROGRESS_ADVANCE, .task = "substituted", .item = item,
                                .bytes = bytes});
}

void fl_progress_bytes(const fl_progress *p, uint64_t bytes_in_flight) {
    send(p, (fl_progress_event){.kind = FL_PROGRESS_BYTES, .bytes = bytes_in_flight});
}

void fl_progress_stage(const fl_progress *p, const char *host, const char *stage) {
    send(p, (fl_progress_event){.kind = FL_PROGRESS_STAGE, .task = stage, .item = host});
}

void fl_progress_note(const fl_progress *p, const char *line) {
    send(p, (fl_progress_event){.kind = FL_PROGRESS_NOTE, .item = line});
}

void fl_progress_end(const fl_progress *p, int failed) {
    send(p, (fl_progress_event){.kind = FL_PROGRESS_END, .failed = failed});
}
