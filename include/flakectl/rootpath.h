/* rootpath.h - paths and account ids beneath --root (src/util/rootpath.c), shared by
 * activation and the secrets installer. */
#ifndef FLAKECTL_ROOTPATH_H
#define FLAKECTL_ROOTPATH_H

#include <sys/types.h>

#include "flakectl/error.h"

/* root + abs ("/" or NULL root gives abs itself). Owned. */
char *fl_act_root_path(const char *root, const char *abs);
/* Opens root ("/" when NULL) as a directory descriptor; -1 with err. */
int fl_act_root_open(const char *root, fl_error *err);
/* Reads path beneath root without following any symlink (fl_beneath_read); *mode may be
 * NULL. */
int fl_act_root_read(const char *root, const char *path, char **data, size_t *len, mode_t *mode,
                     fl_error *err);
/* Field `field` (2 = uid/gid, 3 = a user's primary gid) of `name` in <root>/etc/<db>
 * (db is "passwd" or "group"); -1 when unknown. */
long fl_act_lookup_id(const char *root, const char *db, const char *name, int field);

#endif
