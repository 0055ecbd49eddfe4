/* test_beneath.c - util/beneath.c and the descriptor-based atomic replacements: every case
 * runs twice, once as the kernel resolves it (openat2 where it exists) and once through the
 * forced component walk, and both must give the same answers. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/beneath.h"
#include "flakectl/error.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

typedef struct tree {
    char *dir; /* the root */
    int rootfd;
    int how; /* 0 or FL_BENEATH_WALK */
} tree;

static void put(const char *dir, const char *rel, const char *text) {
    char *p = fl_path_join(dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static void mk(const char *dir, const char *rel) {
    char *p = fl_path_join(dir, rel);
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
}

static void ln(const char *dir, const char *target, const char *rel) {
    char *p = fl_path_join(dir, rel);
    assert_int_equal(symlink(target, p), 0);
    free(p);
}

/* root/a/b/file, root/etc/hostname, root/c (a file), and links: root/abs -> /etc (the
 * host's), root/a/up -> ../.., root/a/lnk -> b/file, root/a/out -> ../../.. */
static int setup(void **state, int how) {
    tree *t = calloc(1, sizeof *t);
    char tmpl[] = "/tmp/flakectl-beneath-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    t->dir = strdup(tmpl);
    t->how = how;
    mk(t->dir, "a");
    mk(t->dir, "a/b");
    mk(t->dir, "etc");
    put(t->dir, "a/b/file", "inside\n");
    put(t->dir, "etc/hostname", "the root's own\n");
    put(t->dir, "c", "a file\n");
    ln(t->dir, "/etc", "abs");
    ln(t->dir, "../..", "a/up");
    ln(t->dir, "b/file", "a/lnk");
    ln(t->dir, "../../..", "a/out");
    t->rootfd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(t->rootfd >= 0);
    *state = t;
    return 0;
}

static int setup_kernel(void **state) {
    return setup(state, 0);
}

static int setup_walk(void **state) {
    return setup(state, FL_BENEATH_WALK);
}

static int teardown(void **state) {
    tree *t = *state;
    close(t->rootfd);
    fl_error e = FL_ERROR_INIT;
    fl_remove_tree(t->dir, &e);
    fl_error_clear(&e);
    free(t->dir);
    free(t);
    return 0;
}

static char *read_fd(int fd) {
    char *data = NULL;
    size_t len;
    assert_int_equal(fl_read_fd(fd, "x", &data, &len, NULL), 0);
    close(fd);
    return data;
}

static int open_errno(tree *t, const char *path, int flags, int how) {
    errno = 0;
    int fd = fl_beneath_open(t->rootfd, path, flags, 0, t->how | how);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno;
}

static void test_plain_paths_open(void **state) {
    tree *t = *state;
    int fd = fl_beneath_open(t->rootfd, "a/b/file", O_RDONLY, 0, t->how);
    assert_true(fd >= 0);
    char *s = read_fd(fd);
    assert_string_equal(s, "inside\n");
    free(s);
    /* Absolute within the root, and the root itself. */
    assert_int_equal(open_errno(t, "/a/b/file", O_RDONLY, 0), 0);
    assert_int_equal(open_errno(t, "//a//b/./file", O_RDONLY, 0), 0);
    assert_int_equal(open_errno(t, "", O_RDONLY | O_DIRECTORY, 0), 0);
    assert_int_equal(open_errno(t, "/", O_RDONLY | O_DIRECTORY, 0), 0);
}

static void test_no_links_refuses_every_link(void **state) {
    tree *t = *state;
    assert_int_equal(open_errno(t, "abs/hostname", O_RDONLY, 0), ELOOP);
    assert_int_equal(open_errno(t, "a/up/etc/hostname", O_RDONLY, 0), ELOOP);
    assert_int_equal(open_errno(t, "a/lnk", O_RDONLY, 0), ELOOP);
    /* A last component that is a link, opened as a directory: ENOTDIR, as openat2 says. */
    assert_int_equal(open_errno(t, "a/out", O_RDONLY | O_DIRECTORY, 0), ENOTDIR);
    assert_int_equal(open_errno(t, "a/../a/b/file", O_RDONLY, 0), EXDEV);
    assert_int_equal(open_errno(t, "../x", O_RDONLY, 0), EXDEV);
    assert_int_equal(open_errno(t, "c/x", O_RDONLY, 0), ENOTDIR);
    assert_int_equal(open_errno(t, "missing/x", O_RDONLY, 0), ENOENT);
    /* O_PATH gets the link itself, as openat2 does with O_NOFOLLOW. */
    int fd = fl_beneath_open(t->rootfd, "a/lnk", O_PATH, 0, t->how);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    close(fd);
    /* Creating through a link is refused too; the link's target is untouched. */
    assert_int_equal(open_errno(t, "abs/flakectl-beneath-test", O_WRONLY | O_CREAT, 0), ELOOP);
}

static void test_in_root_follows_links_inside_only(void **state) {
    tree *t = *state;
    /* /etc here is the root's /etc, never the host's. */
    int fd = fl_beneath_open(t->rootfd, "abs/hostname", O_RDONLY, 0, t->how | FL_BENEATH_IN_ROOT);
    assert_true(fd >= 0);
    char *s = read_fd(fd);
    assert_string_equal(s, "the root's own\n");
    free(s);
    fd = fl_beneath_open(t->rootfd, "a/lnk", O_RDONLY, 0, t->how | FL_BENEATH_IN_ROOT);
    assert_true(fd >= 0);
    s = read_fd(fd);
    assert_string_equal(s, "inside\n");
    free(s);
    /* ".." and links upwards stop at the root. */
    assert_int_equal(open_errno(t, "../../../../a/b/file", O_RDONLY, FL_BENEATH_IN_ROOT), 0);
    assert_int_equal(open_errno(t, "a/out/a/b/file", O_RDONLY, FL_BENEATH_IN_ROOT), 0);
    assert_int_equal(open_errno(t, "a/up/etc/hostname", O_RDONLY, FL_BENEATH_IN_ROOT), 0);
    assert_int_equal(open_errno(t, "abs/passwd", O_RDONLY, FL_BENEATH_IN_ROOT), ENOENT);
    /* A loop ends. */
    ln(t->dir, "loop", "loop");
    assert_int_equal(open_errno(t, "loop", O_RDONLY, FL_BENEATH_IN_ROOT), ELOOP);
}

static void test_blocker_and_error_name_the_link(void **state) {
    tree *t = *state;
    int is_link = -1;
    char *b = fl_beneath_blocker(t->rootfd, "/a/up/etc/hostname", &is_link);
    assert_string_equal(b, "/a/up");
    assert_int_equal(is_link, 1);
    free(b);
    b = fl_beneath_blocker(t->rootfd, "c/x/y", &is_link);
    assert_string_equal(b, "/c");
    assert_int_equal(is_link, 0);
    free(b);
    assert_null(fl_beneath_blocker(t->rootfd, "/a/b/file", &is_link));
    fl_error e = FL_ERROR_INIT;
    const char *leaf;
    fl_beneath_made made = {0};
    int fd = fl_beneath_parent(t->rootfd, "/abs/new/x", 0755, &made, &leaf, "/R", t->how, &e);
    assert_int_equal(fd, -1);
    assert_int_equal(e.code, FL_ECONFLICT);
    assert_non_null(strstr(e.message, "/R/abs is a symlink"));
    assert_int_equal(made.n, 0);
    fl_error_clear(&e);
}

static void test_parent_makes_and_unmakes(void **state) {
    tree *t = *state;
    fl_error e = FL_ERROR_INIT;
    const char *leaf;
    fl_beneath_made made = {0};
    int fd = fl_beneath_parent(t->rootfd, "/a/n1/n2/leaf", 0750, &made, &leaf, NULL, t->how, &e);
    assert_true(fd >= 0);
    assert_string_equal(leaf, "leaf");
    assert_int_equal(made.n, 2);
    assert_string_equal(made.v[0], "/a/n1");
    assert_string_equal(made.v[1], "/a/n1/n2");
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
    close(fd);
    fl_beneath_unmake(t->rootfd, &made);
    assert_int_equal(made.n, 0);
    char *p = fl_path_join(t->dir, "a/n1");
    assert_int_equal(lstat(p, &st), -1);
    free(p);
    /* A directory that is no longer empty stays. */
    fd = fl_beneath_parent(t->rootfd, "/a/n1/leaf", 0755, &made, &leaf, NULL, t->how, &e);
    assert_true(fd >= 0);
    assert_int_equal(
        fl_atomic_write_at(fd, leaf, "/a/n1/leaf", "x", 1, 0644, (uid_t)-1, (gid_t)-1, 0, &e), 0);
    close(fd);
    fl_beneath_unmake(t->rootfd, &made);
    p = fl_path_join(t->dir, "a/n1/leaf");
    assert_int_equal(lstat(p, &st), 0);
    free(p);
}

static void test_atomic_at_sets_mode_and_owner_before_rename(void **state) {
    tree *t = *state;
    fl_error e = FL_ERROR_INIT;
    int dfd = fl_beneath_open(t->rootfd, "a/b", O_RDONLY | O_DIRECTORY, 0, t->how);
    assert_true(dfd >= 0);
    int as_root = geteuid() == 0;
    uid_t uid = as_root ? 4321 : (uid_t)-1;
    gid_t gid = as_root ? 4322 : (gid_t)-1;
    assert_int_equal(
        fl_atomic_write_at(dfd, "file", "/a/b/file", "new\n", 4, 04751, uid, gid, 0, &e), 0);
    struct stat st;
    assert_int_equal(fstatat(dfd, "file", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISREG(st.st_mode));
    if (as_root) {
        /* chown clears set-id bits: the mode set after it keeps them. */
        assert_int_equal(st.st_mode & 07777, 04751);
        assert_int_equal(st.st_uid, 4321);
        assert_int_equal(st.st_gid, 4322);
    }
    assert_int_equal(fl_atomic_symlink_at(dfd, "link", "/a/b/link", "file", uid, gid, 0, &e), 0);
    assert_int_equal(fstatat(dfd, "link", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISLNK(st.st_mode));
    if (as_root) {
        assert_int_equal(st.st_uid, 4321);
        assert_int_equal(st.st_gid, 4322);
    }
    /* A file in the way of the temp name never makes it write elsewhere; the error names
     * the path it was given, not a descriptor alias. */
    int ro = open(t->dir, O_RDONLY | O_DIRECTORY);
    close(dfd);
    dfd = fl_beneath_open(t->rootfd, "c", O_RDONLY, 0, t->how);
    assert_true(dfd >= 0);
    assert_int_not_equal(
        fl_atomic_write_at(dfd, "x", "/c/x", "y", 1, 0644, (uid_t)-1, (gid_t)-1, 0, &e), 0);
    assert_non_null(strstr(e.message, "/c/x"));
    assert_null(strstr(e.message, "/proc/"));
    fl_error_clear(&e);
    close(dfd);
    close(ro);
}

static void test_read_refuses_links_and_non_files(void **state) {
    tree *t = *state;
    fl_error e = FL_ERROR_INIT;
    char *data = NULL;
    size_t len;
    mode_t mode = 0;
    assert_int_equal(fl_beneath_read(t->rootfd, "/a/b/file", "/R", t->how, &data, &len, &mode, &e),
                     0);
    assert_string_equal(data, "inside\n");
    free(data);
    assert_int_equal(fl_beneath_read(t->rootfd, "/a/lnk", "/R", t->how, &data, &len, NULL, &e),
                     FL_ECONFLICT);
    assert_non_null(strstr(e.message, "/R/a/lnk is a symlink"));
    fl_error_clear(&e);
    assert_int_equal(fl_beneath_read(t->rootfd, "/a/b", "/R", t->how, &data, &len, NULL, &e),
                     FL_ECONFLICT);
    fl_error_clear(&e);
    assert_int_equal(fl_beneath_read(t->rootfd, "/nope", "/R", t->how, &data, &len, NULL, &e),
                     FL_ENOTFOUND);
    fl_error_clear(&e);
    /* A FIFO at the name is refused without blocking on it. */
    char *fifo = fl_path_join(t->dir, "a/fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    free(fifo);
    assert_int_equal(fl_beneath_read(t->rootfd, "/a/fifo", "/R", t->how, &data, &len, NULL, &e),
                     FL_ECONFLICT);
    fl_error_clear(&e);
}

#define BOTH(fn)                                                                                   \
    cmocka_unit_test_setup_teardown(fn, setup_kernel, teardown),                                   \
        cmocka_unit_test_setup_teardown(fn, setup_walk, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        BOTH(test_plain_paths_open),
        BOTH(test_no_links_refuses_every_link),
        BOTH(test_in_root_follows_links_inside_only),
        BOTH(test_blocker_and_error_name_the_link),
        BOTH(test_parent_makes_and_unmakes),
        BOTH(test_atomic_at_sets_mode_and_owner_before_rename),
        BOTH(test_read_refuses_links_and_non_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
