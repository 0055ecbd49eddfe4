/* rootpath.h - paths and account ids beneath --root (src/util/rootpath.c), shared by
 * activation and the secrets installer. */
#ifndef FLAKECTL_ROOTPATH_H
#define FLAKECTL_ROOTPATH_H

/* root + abs ("/" or NULL root gives abs itself). Owned. */
char *fl_act_root_path(const char *root, const char *abs);
/* Field `field` (2 = uid/gid, 3 = a user's primary gid) of `name` in <root>/etc/<db>
 * (db is "passwd" or "group"); -1 when unknown. */
long fl_act_lookup_id(const char *root, const char *db, const char *name, int field);

#endif
