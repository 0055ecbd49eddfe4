/* lock.h - flake.lock as JSON (lock.c); private to src/flake/. */
#ifndef FLAKECTL_FLAKE_LOCK_H
#define FLAKECTL_FLAKE_LOCK_H

#include <jansson.h>

#include "flakectl/error.h"

/* Reads path; *out NULL (and 0) when the file does not exist. */
int fl_lock_read(const char *path, json_t **out, fl_error *err);
/* The node the root's input `name` points at (borrowed), or NULL. */
json_t *fl_lock_node(json_t *lock, const char *name);
/* Line and column of field in nodes.<node>.locked in the file at path; 0 when not found. */
int fl_lock_locate(const char *path, const char *node, const char *field, int *line, int *col);
/* The file's text: sorted keys, 2-space indent, trailing newline. Owned. */
char *fl_lock_dump(json_t *lock);
/* Writes lock to path atomically unless the file already holds exactly that text. */
int fl_lock_write_if_changed(const char *path, json_t *lock, int *written, fl_error *err);

#endif
