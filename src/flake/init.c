/* init.c - `flakectl init`: writes one of the templates compiled into the binary
 * (templates.h) into a directory and stages it in Git (a new repository unless the directory
 * is already inside one), so evaluation, which sees only the index, finds every file at once.
 * Never overwrites: every path is checked first, files are created O_EXCL | O_NOFOLLOW beneath
 * the directory's descriptor, and a failure removes what this run created. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "flakectl/flake.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"
#include "templates.h"

/* One file to write: its path below the directory and its text, placeholders replaced. */
typedef struct init_file {
    char *rel;
    fl_strbuf text;
} init_file;

/* What this run created, to remove on failure (in reverse). */
typedef struct created {
    char **paths; /* below the directory; directories flagged by a trailing '/' */
    size_t n;
} created;

static int valid_name(const char *s, const char *first, const char *rest) {
    return s && *s && strchr(first, *s) && strspn(s + 1, rest) == strlen(s + 1) && strlen(s) <= 63;
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGITS "0123456789"
static const char host_first[] = LOWER UPPER DIGITS, host_rest[] = LOWER UPPER DIGITS "-_";
static const char user_first[] = LOWER "_", user_rest[] = LOWER DIGITS "-_";

/* The account the flake's admin user is named after: whoever ran sudo, else the caller;
 * root and names the template could not hold become "admin". */
static char *default_user(void) {
    const char *s = getenv("SUDO_USER");
    if (valid_name(s, user_first, user_rest) && strcmp(s, "root"))
        return fl_xstrdup(s);
    struct passwd *pw = getpwuid(getuid());
    if (pw && valid_name(pw->pw_name, user_first, user_rest) && strcmp(pw->pw_name, "root"))
        return fl_xstrdup(pw->pw_name);
    return fl_xstrdup("admin");
}

static char *default_host(void) {
    char *h = fl_host_default_name();
    if (!valid_name(h, host_first, host_rest)) {
        free(h);
        h = fl_xstrdup("my-machine");
    }
    return h;
}

/* This machine's system double and platform, for the minimal template's one host. */
static void this_machine(char **system, const char **platform) {
    struct utsname u;
    const char *m = "x86_64", *os = "linux";
    *platform = "nixos";
    if (uname(&u) == 0) {
        m = !strcmp(u.machine, "arm64") ? "aarch64" : u.machine;
        if (!strcmp(u.sysname, "Darwin")) {
            os = "darwin";
            *platform = "darwin";
        } else if (strcasestr(u.release, "microsoft")) {
            *platform = "wsl";
        }
    }
    *system = fl_xasprintf("%s-%s", m, os);
}

/* Appends s to out with every @KEY@ of vars (pairs: key, value, ..., NULL) replaced. */
static void substitute(fl_strbuf *out, const char *s, size_t len, const char *const *vars) {
    for (size_t i = 0; i < len;) {
        int done = 0;
        for (size_t v = 0; s[i] == '@' && vars[v]; v += 2) {
            size_t k = strlen(vars[v]);
            if (i + k + 2 <= len && !strncmp(s + i + 1, vars[v], k) && s[i + k + 1] == '@') {
                fl_strbuf_adds(out, vars[v + 1]);
                i += k + 2;
                done = 1;
                break;
            }
        }
        if (!done)
            fl_strbuf_addch(out, s[i++]);
    }
}

static void remember(created *c, const char *rel, int is_dir) {
    c->paths = fl_xrealloc(c->paths, (c->n + 1) * sizeof *c->paths);
    c->paths[c->n++] = fl_xasprintf("%s%s", rel, is_dir ? "/" : "");
}

static void undo(int dirfd, created *c) {
    for (size_t i = c->n; i-- > 0;) {
        size_t len = strlen(c->paths[i]);
        int is_dir = c->paths[i][len - 1] == '/';
        if (is_dir)
            c->paths[i][len - 1] = '\0';
        unlinkat(dirfd, c->paths[i], is_dir ? AT_REMOVEDIR : 0);
    }
}

/* The first path of rel's (itself, or a component that is a file or a link) that exists;
 * NULL when rel is free. Owned. */
static char *in_the_way(int dirfd, const char *rel) {
    char *copy = fl_xstrdup(rel);
    for (char *slash = copy;; slash++) {
        slash = strchr(slash, '/');
        if (slash)
            *slash = '\0';
        struct stat st;
        int exists = fstatat(dirfd, copy, &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (exists && (!slash || !S_ISDIR(st.st_mode)))
            return copy;
        if (!slash || !exists)
            break;
        *slash = '/';
    }
    free(copy);
    return NULL;
}

/* dir (NULL: the current one) and a '/', for "%s%s%s" with a path below it */
#define SHOWN(dir) (dir) ? (dir) : "", (dir) ? "/" : ""

/* Creates rel's directories and the file itself beneath dirfd, never through a link. */
static int write_one(int dirfd, const char *dir, const init_file *f, created *c, fl_error *err) {
    char *copy = fl_xstrdup(f->rel);
    int fd = dup(dirfd), rc = FL_OK;
    char *name = copy;
    for (char *slash; fd >= 0 && (slash = strchr(name, '/')); name = slash + 1) {
        *slash = '\0';
        if (mkdirat(fd, name, 0755) == 0) {
            remember(c, copy, 1);
        } else if (errno != EEXIST) {
            rc = fl_error_set(err, FL_EIO, "cannot create %s%s%s: %s", SHOWN(dir), copy,
                              strerror(errno));
            break;
        }
        int next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0)
            rc = fl_error_set(err, FL_EIO, "cannot open %s%s%s: %s", SHOWN(dir), copy,
                              strerror(errno));
        close(fd);
        fd = next;
        *slash = '/';
        if (rc < 0)
            break;
    }
    if (fd < 0 && rc == FL_OK)
        rc = fl_error_set(err, FL_EIO, "cannot open the directory: %s", strerror(errno));
    if (rc == FL_OK) {
        int out = openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (out < 0) {
            rc = fl_error_set(err, errno == EEXIST ? FL_ECONFLICT : FL_EIO,
                              "cannot create %s%s%s: %s", SHOWN(dir), f->rel, strerror(errno));
        } else {
            remember(c, f->rel, 0);
            size_t off = 0;
            while (rc == FL_OK && off < f->text.len) {
                ssize_t w = write(out, f->text.buf + off, f->text.len - off);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0)
                    rc = fl_error_set(err, FL_EIO, "cannot write %s%s%s: %s", SHOWN(dir), f->rel,
                                      strerror(errno));
                else
                    off += (size_t)w;
            }
            close(out);
        }
    }
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

static int git_fail(fl_error *err, const char *what, const char *dir) {
    const git_error *e = git_error_last();
    return fl_error_set(err, FL_EIO, "%s %s: %s", what, dir,
                        e && e->message ? e->message : "unknown error");
}

/* Stages the files in the repository dir is in, or in a new one at dir (*made = 1). */
static int stage(const char *dir, const init_file *files, size_t n, int *made, fl_error *err) {
    git_libgit2_init();
    git_repository *repo = NULL;
    git_index *index = NULL;
    char *real = realpath(dir, NULL);
    int rc = FL_OK;
    *made = 0;
    if (!real) {
        rc = fl_error_set(err, FL_EIO, "cannot resolve %s: %s", dir, strerror(errno));
    } else {
        /* discovery does not check the owner, opening does: a repository libgit2 will not
         * open (another user's, under sudo) must not get a second one nested inside it */
        git_buf found = {0};
        if (git_repository_discover(&found, real, 0, NULL) != 0) {
            if (git_repository_init(&repo, real, 0) != 0)
                rc = git_fail(err, "cannot create a Git repository in", dir);
            else
                *made = 1;
        } else {
            /* as git's safe.directory rule, whatever this libgit2's version checks: files of
             * another user's repository are not staged by this one */
            struct stat st;
            int theirs = stat(found.ptr, &st) == 0 && st.st_uid != geteuid();
            if (theirs || git_repository_open_ext(&repo, real, 0, NULL) != 0) {
                rc = fl_error_set(err, FL_ECONFLICT,
                                  "%s is inside the Git repository %s, which %s", dir, found.ptr,
                                  theirs ? "belongs to another user" : "cannot be opened");
                fl_error_set_hint(err, "run flakectl init as the repository's owner (without "
                                       "sudo), or give it a directory outside that repository");
            }
        }
        git_buf_dispose(&found);
    }
    const char *top = rc == FL_OK ? git_repository_workdir(repo) : NULL;
    if (rc == FL_OK && !top)
        rc = fl_error_set(err, FL_ECONFLICT, "%s is inside a bare Git repository", dir);
    if (rc == FL_OK && git_repository_index(&index, repo) != 0)
        rc = git_fail(err, "cannot read the Git index of", dir);
    /* paths relative to the work tree's top (workdir ends with '/') */
    char *top_real = top ? realpath(top, NULL) : NULL;
    size_t skip = top_real ? strlen(top_real) : 0;
    for (size_t i = 0; rc == FL_OK && i < n; i++) {
        char *abs = fl_xasprintf("%s/%s", real, files[i].rel);
        const char *rel = abs + skip + (abs[skip] == '/');
        if (git_index_add_bypath(index, rel) != 0)
            rc = git_fail(err, "cannot stage the new files in", dir);
        free(abs);
    }
    if (rc == FL_OK && git_index_write(index) != 0)
        rc = git_fail(err, "cannot write the Git index of", dir);
    git_index_free(index);
    git_repository_free(repo);
    free(top_real);
    free(real);
    return rc;
}

int fl_flake_init(const fl_flake_init_opts *o, fl_flake_init_result *res, fl_error *err) {
    memset(res, 0, sizeof *res);
    const char *tpl = o->template_name ? o->template_name : "seed";
    size_t tlen = strlen(tpl);
    if (o->host && !valid_name(o->host, host_first, host_rest))
        return fl_error_set(err, FL_EUSAGE,
                            "--host '%s': a host name is letters, digits, '-' "
                            "and '_' (at most 63), starting with a letter or digit",
                            o->host);
    if (o->user && !valid_name(o->user, user_first, user_rest))
        return fl_error_set(err, FL_EUSAGE,
                            "--user '%s': an account name is lower-case letters, "
                            "digits, '-' and '_' (at most 63)",
                            o->user);
    char *user = o->user ? fl_xstrdup(o->user) : default_user();
    char *host = o->host ? fl_xstrdup(o->host) : default_host();
    char *system = NULL;
    const char *platform = NULL;
    this_machine(&system, &platform);
    const char *const vars[] = {"USER", user,       "HOST",   host, "SYSTEM",
                                system, "PLATFORM", platform, NULL};
    init_file *files = NULL;
    size_t n = 0;
    for (const struct fl_flake_template_file *t = fl_flake_template_files; t->name; t++) {
        if (strncmp(t->name, tpl, tlen) || t->name[tlen] != '/')
            continue;
        files = fl_xrealloc(files, (n + 1) * sizeof *files);
        fl_strbuf rel = FL_STRBUF_INIT;
        substitute(&rel, t->name + tlen + 1, strlen(t->name + tlen + 1), vars);
        files[n].rel = fl_strbuf_detach(&rel, NULL);
        fl_strbuf_init(&files[n].text, t->len);
        substitute(&files[n].text, (const char *)t->data, t->len, vars);
        n++;
    }
    /* flake.nix first: it is what a reader looks for, in the list and in a refusal */
    for (size_t i = 1; i < n; i++)
        if (!strcmp(files[i].rel, "flake.nix")) {
            init_file f = files[i];
            memmove(files + 1, files, i * sizeof *files);
            files[0] = f;
        }
    /* messages name files as the user would type them */
    const char *shown = strcmp(o->dir, ".") ? o->dir : NULL;
    int rc = FL_OK, made_dir = 0, dirfd = -1, made_repo = 0;
    created c = {NULL, 0};
    if (n == 0) {
        rc = fl_error_set(err, FL_EUSAGE, "unknown template '%s'", tpl);
        fl_error_set_hint(err, "the templates are seed (the example's layout: hosts, roles, home, "
                               "secrets) and minimal (one host)");
    }
    if (rc == FL_OK) {
        struct stat st;
        if (lstat(o->dir, &st) != 0 && errno == ENOENT) {
            rc = fl_mkdir_p(o->dir, 0755, err);
            made_dir = rc == FL_OK;
        } else if (stat(o->dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
            rc = fl_error_set(err, FL_ECONFLICT, "%s exists and is not a directory", o->dir);
        }
    }
    if (rc == FL_OK && (dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = fl_error_set(err, FL_EIO, "cannot open %s: %s", o->dir, strerror(errno));
    /* every path is checked before anything is written; the first in the way is named */
    size_t in_way = 0;
    char *first = NULL;
    for (size_t i = 0; rc == FL_OK && i < n; i++) {
        char *p = in_the_way(dirfd, files[i].rel);
        if (p && !first)
            first = p;
        else
            free(p);
        in_way += p != NULL;
    }
    if (first) {
        rc = fl_error_set(err, FL_ECONFLICT,
                          "%s%s%s already exists; flakectl init never "
                          "overwrites a file",
                          SHOWN(shown), first);
        if (in_way > 1)
            fl_error_set_hint(err,
                              "%zu of the template's %zu files are in the way: run it in an "
                              "empty directory (flakectl init DIR)",
                              in_way, n);
        else
            fl_error_set_hint(err, "move it away, or run it in an empty directory "
                                   "(flakectl init DIR)");
        free(first);
    }
    /* flake.nix (files[0]) last: until it is there, a directory left by a crash is no flake */
    for (size_t i = 1; rc == FL_OK && i <= n; i++)
        rc = write_one(dirfd, shown, &files[i % n], &c, err);
    if (rc == FL_OK)
        rc = fl_sync_fs(o->dir, err);
    if (rc == FL_OK)
        rc = stage(o->dir, files, n, &made_repo, err);
    if (rc < 0 && dirfd >= 0) {
        /* leave the directory as it was */
        if (made_repo)
            fl_remove_tree_at(dirfd, ".git", ".git", NULL);
        undo(dirfd, &c);
    }
    if (dirfd >= 0)
        close(dirfd);
    if (rc < 0 && made_dir)
        rmdir(o->dir);
    if (rc == FL_OK) {
        res->made_repo = made_repo;
        res->host = host;
        res->user = user;
        host = user = NULL;
        res->files = fl_xcalloc(n + 1, sizeof *res->files);
        for (size_t i = 0; i < n; i++) {
            res->files[i] = files[i].rel;
            files[i].rel = NULL;
        }
        res->nfiles = n;
    }
    for (size_t i = 0; i < c.n; i++)
        free(c.paths[i]);
    free(c.paths);
    for (size_t i = 0; i < n; i++) {
        free(files[i].rel);
        fl_strbuf_release(&files[i].text);
    }
    free(files);
    free(system);
    free(host);
    free(user);
    return rc;
}

void fl_flake_init_result_release(fl_flake_init_result *res) {
    for (size_t i = 0; i < res->nfiles; i++)
        free(res->files[i]);
    free(res->files);
    free(res->host);
    free(res->user);
    memset(res, 0, sizeof *res);
}
