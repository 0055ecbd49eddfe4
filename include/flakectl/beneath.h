/* beneath.h - opening paths beneath a root directory descriptor without following a link
 * someone else could have planted, and without ever leaving that directory.
 *
 * flakectl runs as root and writes into trees other users own (homes, a --root another
 * account prepared): a path string handed to open(2) or chmod(2) can be redirected by a
 * symlink swapped in at any component. Here every path is resolved from a directory
 * descriptor: openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it
 * (Linux 5.6+), a component-by-component O_NOFOLLOW walk otherwise. Callers then act on the
 * descriptor they got (fchmod, fchown, fstat, *at(dfd, leaf) within a directory they opened
 * this way). docs/security.md has the rule and the audit of every call site. */
#ifndef FLAKECTL_BENEATH_H
#define FLAKECTL_BENEATH_H

#include <sys/types.h>

#include "flakectl/error.h"

/* How a path is resolved (the "how" argument). */
enum {
    /* Symlinks never followed, at any component (the last one included: with O_PATH the
     * link itself is opened, without it the open fails with ELOOP). */
    FL_BENEATH_NO_LINKS = 0,
    /* Symlinks followed as if rootfd were "/" (RESOLVE_IN_ROOT): an absolute link or ".."
     * never leaves rootfd. For reading what the machine itself would read at that path
     * (a host key on an impermanent root is a link into /persist), never for writing. */
    FL_BENEATH_IN_ROOT = 1,
    /* Forces the component walk even where openat2 exists, so both are tested. */
    FL_BENEATH_WALK = 2,
};

/* Tests set this variable (to anything) to force the walk in a whole flakectl run. */
#define FL_BENEATH_WALK_ENV "FLAKECTL_TEST_BENEATH_WALK"

/* Opens path (leading '/' ignored: it is relative to rootfd) with openat(2)'s oflags and
 * mode; O_CLOEXEC is always added, O_NOFOLLOW too with FL_BENEATH_NO_LINKS, which also
 * refuses a ".." component (EXDEV). An empty path opens rootfd itself. Returns the descriptor
 * (the caller closes it) or -1 with errno: ELOOP (a component is a symlink), ENOTDIR (one is
 * not a directory), EXDEV (it would leave rootfd), ENOENT, or what openat(2) says. */
int fl_beneath_open(int rootfd, const char *path, int oflags, mode_t mode, int how);

/* The component of path that blocks a resolution beneath rootfd (a symlink or a
 * non-directory on the way), as an owned "/a/b" string, or NULL when none does. *is_link
 * says whether it is a symlink. Read-only: for messages after fl_beneath_open failed. */
char *fl_beneath_blocker(int rootfd, const char *path, int *is_link);

/* Sets err for a failed resolution of path beneath rootfd (errno e); paths are named to the
 * user joined to shown_root (the --root directory; NULL or "/" names them as they are). "What" is
 * the verb: "cannot <what> <shown>". Returns FL_ECONFLICT for a blocking symlink or non-directory,
 * FL_ENOTFOUND for ENOENT, FL_EIO otherwise. */
int fl_beneath_error(fl_error *err, int rootfd, const char *shown_root, const char *path, int e,
                     const char *what);

/* Directories fl_beneath_parent made, outermost first (paths as given, beneath rootfd). */
typedef struct fl_beneath_made {
    char **v;
    size_t n;
} fl_beneath_made;

/* Opens the directory holding path (the last component is *leaf, pointing into path)
 * beneath rootfd without following any symlink. With made non-NULL missing directories are
 * created with mode dirmode and recorded in made (so a failure after them can remove them
 * again: fl_beneath_unmake). shown_root prefixes path in messages (NULL: nothing). Returns
 * the descriptor or -1 with err set. */
int fl_beneath_parent(int rootfd, const char *path, mode_t dirmode, fl_beneath_made *made,
                      const char **leaf, const char *shown_root, int how, fl_error *err);
/* Removes the recorded directories, innermost first, each only while it is empty (rmdir
 * never deletes anything else), and empties the record. */
void fl_beneath_unmake(int rootfd, fl_beneath_made *made);
void fl_beneath_made_release(fl_beneath_made *made);

/* Reads the regular file at path beneath rootfd (NUL-terminated, owned by the caller);
 * *mode (optional) gets its permission bits. A missing file is FL_ENOTFOUND with err set. */
int fl_beneath_read(int rootfd, const char *path, const char *shown_root, int how, char **data,
                    size_t *len, mode_t *mode, fl_error *err);

#endif
