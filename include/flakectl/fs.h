/* fs.h - file-system helpers and the one place that makes replacements atomic.
 * Nobody outside src/util/atomic.c calls rename(2): use fl_atomic_* instead. */
#ifndef FLAKECTL_FS_H
#define FLAKECTL_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "flakectl/error.h"

/* Writes data to path via "path.tmp-XXXXXX" in the same directory, fsync, rename, fsync
 * of the directory. On any error the temp file is removed and path is untouched. */
int fl_atomic_write_file(const char *path, const void *data, size_t len, mode_t mode,
                         fl_error *err);
/* Points linkpath at target: symlink to a temp name, then rename over linkpath. linkpath is
 * never missing, even if the process dies halfway. */
int fl_atomic_symlink(const char *target, const char *linkpath, fl_error *err);
/* Moves an already complete file or directory from tmp to dest (same file system) and
 * fsyncs dest's directory. dest must not exist when it is a directory. */
int fl_atomic_rename(const char *tmp, const char *dest, fl_error *err);

/* Batch variants for callers that replace many files and then call fl_sync_fs once (one
 * syncfs costs what a handful of fsyncs do): with FL_ATOMIC_NO_SYNC the data and directory
 * fsyncs are skipped; the replacement itself is still a rename, never a partial file. */
enum { FL_ATOMIC_NO_SYNC = 1 };
/* For callers that stage several files in one directory and then call fl_sync_dir once:
 * each file's data is synced, its directory is not. */
enum { FL_ATOMIC_NO_DIRSYNC = 2 };
int fl_atomic_write_file_ex(const char *path, const void *data, size_t len, mode_t mode,
                            int flags, fl_error *err);
int fl_atomic_symlink_ex(const char *target, const char *linkpath, int flags, fl_error *err);
int fl_atomic_rename_ex(const char *tmp, const char *dest, int flags, fl_error *err);
/* The same within a directory descriptor (opened beneath a root, flakectl/beneath.h): name
 * is one component, shown names it in messages. The temporary sibling is created O_EXCL |
 * O_NOFOLLOW, and its owner (uid/gid; (uid_t)-1 keeps root's) and mode are set on its
 * descriptor before the rename: nothing is changed by name after the file is in place,
 * where the owner of the directory could have swapped in a link. */
int fl_atomic_write_at(int dirfd, const char *name, const char *shown, const void *data, size_t len,
                       mode_t mode, uid_t uid, gid_t gid, int flags, fl_error *err);
/* The link's owner is set through an O_PATH descriptor of the temporary link, checked to
 * be the link just made, before the rename. */
int fl_atomic_symlink_at(int dirfd, const char *name, const char *shown, const char *target,
                         uid_t uid, gid_t gid, int flags, fl_error *err);
/* renameat(2) between two directory descriptors, then an fsync of the destination's. */
int fl_atomic_rename_at(int fromdir, const char *from, int todir, const char *to,
                        const char *shown_from, const char *shown_to, fl_error *err);
/* fsync of the directory dir (its entries: what renames into it did). */
int fl_sync_dir(const char *dir, fl_error *err);
/* Flushes the file system holding path (syncfs). */
int fl_sync_fs(const char *path, fl_error *err);

/* Reads a whole file; *data is NUL-terminated and owned by the caller. */
int fl_read_file(const char *path, char **data, size_t *len, fl_error *err);
/* The same from an open descriptor (left open); path names it in messages. */
int fl_read_fd(int fd, const char *path, char **data, size_t *len, fl_error *err);
/* mkdir -p with the given mode for created directories. */
int fl_mkdir_p(const char *path, mode_t mode, fl_error *err);
/* rm -rf that never follows symlinks; a missing path is not an error. */
int fl_remove_tree(const char *path, fl_error *err);
/* The same for dirfd/name (a single component; shown names it in messages). */
int fl_remove_tree_at(int dirfd, const char *name, const char *shown, fl_error *err);
/* Makes a fresh directory "<parent>/<prefix>XXXXXX" (mode 0700); returns the owned path. */
char *fl_make_temp_dir(const char *parent, const char *prefix, fl_error *err);
/* Removes (recursively) every dir/NAME whose name starts with prefix or contains infix
 * (either may be NULL), looking depth levels of subdirectories deep; never follows a link.
 * For crash leftovers: the caller holds the lock that makes them nobody's. */
void fl_sweep_dir(const char *dir, const char *prefix, const char *infix, int depth);
int fl_path_exists(const char *path);
int fl_is_dir(const char *path);
/* Joins two path parts with exactly one '/' between them; the result is owned by the caller. */
char *fl_path_join(const char *a, const char *b);
/* Makes a path absolute and drops ".", ".." and duplicate slashes, without touching the
 * file system (like Nix's canonPath). Returns an owned string. */
char *fl_canon_path(const char *path, const char *cwd);

#endif
