/* needroot.c - "needs root" instead of the failed system call: a user who runs a command that
 * writes the store or the machine without root gets one error naming the directory and the
 * command line to run instead, not a chain of "Permission denied" frames and hints about
 * moving the store. Decides from the process's privileges and the directories' modes, never
 * from an error's text. Reads only fl_opts. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/flake.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"
#include "needroot.h"
#include "options.h"

/* Can this process create or replace entries in path (or, when path does not exist yet, in
 * the nearest directory above it that does)? */
static int writable(const char *path) {
    char *p = fl_xstrdup(path && *path ? path : ".");
    int ok;
    for (;;) {
        if (faccessat(AT_FDCWD, p, W_OK, AT_EACCESS) == 0) {
            ok = 1;
            break;
        }
        char *slash = strrchr(p, '/');
        if (errno != ENOENT || !slash) {
            ok = errno == ENOENT && faccessat(AT_FDCWD, ".", W_OK, AT_EACCESS) == 0;
            break;
        }
        if (slash == p)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
    free(p);
    return ok;
}

/* The commands that write beneath --root (activation), besides the store and state. */
static int writes_root(const char *cmd) {
    static const char *const names[] = {"switch",   "test",         "boot", "activate",
                                        "rollback", "deploy-agent", NULL};
    for (size_t i = 0; cmd && names[i]; i++)
        if (!strcmp(cmd, names[i]))
            return 1;
    return 0;
}

/* A word as a POSIX shell reads it back. */
static void add_quoted(fl_strbuf *b, const char *w) {
    int plain = *w != '\0';
    for (const char *c = w; *c && plain; c++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-",
                       *c) != NULL;
    if (plain) {
        fl_strbuf_adds(b, w);
        return;
    }
    fl_strbuf_addch(b, '\'');
    for (const char *c = w; *c; c++) {
        if (*c == '\'')
            fl_strbuf_adds(b, "'\\''");
        else
            fl_strbuf_addch(b, *c);
    }
    fl_strbuf_addch(b, '\'');
}

static void add_command_line(fl_strbuf *b) {
    const char *self = fl_opts.argv && fl_opts.argv[0] && strchr(fl_opts.argv[0], '/')
                           ? fl_opts.argv[0]
                           : "flakectl";
    add_quoted(b, self);
    for (int i = 1; i < fl_opts.argc; i++) {
        fl_strbuf_addch(b, ' ');
        add_quoted(b, fl_opts.argv[i]);
    }
}

/* Commands that work in the state directory: for the others (secret, lock, ...) a refused
 * call is about the file they name, and the error says which. */
static int uses_state(const char *cmd) {
    static const char *const names[] = {
        "build", "check",        "eval",     "option",      "dry-activate", "switch", "test",
        "boot",  "activate",     "rollback", "generations", "gc",           "store",  "diff",
        "cache", "deploy-agent", NULL};
    for (size_t i = 0; cmd && names[i]; i++)
        if (!strcmp(cmd, names[i]))
            return 1;
    return 0;
}

/* Commands that only build or read the store, which a directory of the user's own can hold. */
static int store_only(const char *cmd) {
    static const char *const names[] = {"build", "check", "eval", "option", "dry-activate", NULL};
    for (size_t i = 0; cmd && names[i]; i++)
        if (!strcmp(cmd, names[i]))
            return 1;
    return 0;
}

/* Replaces err by "needs root": dir (the state directory or the root) is not writable. */
static void set_needs_root(fl_error *err, const char *dir, const char *what) {
    const char *cmd = fl_opts.command ? fl_opts.command : "flakectl";
    const struct passwd *pw = getpwuid(geteuid());
    char who[64];
    if (pw)
        snprintf(who, sizeof who, "%s", pw->pw_name);
    else
        snprintf(who, sizeof who, "uid %u", (unsigned)geteuid());
    fl_error n = FL_ERROR_INIT;
    fl_strbuf line = FL_STRBUF_INIT;
    add_command_line(&line);
    if (!strcmp(cmd, "deploy-agent")) {
        /* the target side of a deployment: the deployer's login is not root there */
        fl_error_set(&n, FL_EIO,
                     "the deployment needs root on this target: %s (%s) is not "
                     "writable by %s",
                     dir, what, who);
        fl_error_set_hint(&n, "deploy with --sudo (the login runs each step through sudo), or "
                              "log in as root (--target-host root@HOST)");
    } else {
        fl_error_set(&n, FL_EIO, "'flakectl %s' needs root: %s (%s) is not writable by %s", cmd,
                     dir, what, who);
        fl_error_set_hint(&n, "run it as root: sudo %s%s", line.buf,
                          store_only(cmd) ? " (or give --state-dir DIR for a store of your own)"
                                          : "");
    }
    fl_strbuf_release(&line);
    fl_error_move(err, &n);
}

static const char *state_dir(void) {
    return fl_opts.state_dir ? fl_opts.state_dir : "/var/lib/flakectl";
}

static const char *root_dir(void) {
    return fl_opts.root ? fl_opts.root : "/";
}

int fl_cli_root_error(fl_error *err) {
    const char *cmd = fl_opts.command;
    if (!err || (err->sys_errno != EACCES && err->sys_errno != EPERM) || geteuid() == 0 ||
        !uses_state(cmd))
        return 0;
    if (!writable(state_dir()))
        set_needs_root(err, state_dir(), "the state directory");
    else if (writes_root(cmd) && !writable(root_dir()))
        set_needs_root(err, root_dir(), "the root");
    else
        return 0;
    return 1;
}

int fl_cli_need_root(int root_too, fl_error *err) {
    if (geteuid() == 0)
        return 0;
    if (!writable(state_dir()))
        set_needs_root(err, state_dir(), "the state directory");
    else if (root_too && !writable(root_dir()))
        set_needs_root(err, root_dir(), "the root");
    else
        return 0;
    return FL_EIO;
}

char *fl_cli_own_state_dir(const char *name, int even_if_given) {
    /* a directory the user named is theirs to fix; only the default is replaced */
    int named = strcmp(state_dir(), "/var/lib/flakectl") != 0;
    if (geteuid() == 0 || (named && !even_if_given) || writable(state_dir()))
        return NULL;
    return fl_cli_cache_state_dir(name);
}

char *fl_cli_listing_state_dir(const char *name) {
    char *own = fl_cli_own_state_dir(name, 1);
    if (!own && !fl_path_exists(state_dir()))
        own = fl_cli_cache_state_dir(name);
    return own;
}

char *fl_cli_cache_state_dir(const char *name) {
    char *git = fl_flake_git_cache_dir(); /* <cache>/flakectl/git */
    char *slash = strrchr(git, '/');
    *slash = '\0';
    char *own = fl_xasprintf("%s/%s", git, name);
    free(git);
    return own;
}
