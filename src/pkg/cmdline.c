/* cmdline.c - the one command line per manager that installs or removes a list of packages
 * (apt's is run by apt.c; dnf's, pacman's and brew's are what the plan prints and what those
 * machines run, checked as command lines by tests/unit/pkg since no such manager exists on
 * the build machine). Builds argv only; never runs anything. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "flakectl/pkg.h"

typedef struct argv_buf {
    char **v;
    size_t n;
} argv_buf;

static void push(argv_buf *a, const char *s) {
    a->v = fl_xrealloc(a->v, (a->n + 2) * sizeof *a->v);
    a->v[a->n++] = fl_xstrdup(s);
    a->v[a->n] = NULL;
}

static void push_all(argv_buf *a, const char *const *words) {
    for (; *words; words++)
        push(a, *words);
}

/* The manager's words, then the names; "--" ends the options first, so a name can never be
 * read as one (names are validated too). brew takes no "--" before formulae. */
static char **with_names(fl_pkg_manager m, const char *const *words, char *const *names, size_t n) {
    argv_buf a = {NULL, 0};
    push_all(&a, words);
    if (m != FL_PKG_BREW)
        push(&a, "--");
    for (size_t i = 0; i < n; i++)
        push(&a, names[i]);
    return a.v;
}

char **fl_pkg_install_argv(fl_pkg_manager m, char *const *specs, size_t n) {
    /* Lock::Timeout: wait for a dpkg already running (unattended-upgrades) instead of failing. */
    static const char *const apt[] = {"apt-get", "-y",
                                      "-q",      "--no-install-recommends",
                                      "-o",      "DPkg::Lock::Timeout=120",
                                      "-o",      "Dpkg::Options::=--force-confdef",
                                      "-o",      "Dpkg::Options::=--force-confold",
                                      "install", NULL};
    static const char *const dnf[] = {"dnf", "-y", "--setopt=install_weak_deps=False", "install",
                                      NULL};
    static const char *const pacman[] = {"pacman", "-S", "--needed", "--noconfirm", NULL};
    static const char *const brew[] = {"brew", "install", NULL};
    return with_names(m,
                      m == FL_PKG_APT      ? apt
                      : m == FL_PKG_DNF    ? dnf
                      : m == FL_PKG_PACMAN ? pacman
                                           : brew,
                      specs, n);
}

char **fl_pkg_remove_argv(fl_pkg_manager m, char *const *names, size_t n) {
    static const char *const apt[] = {"apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=120",
                                      "remove",  NULL};
    static const char *const dnf[] = {"dnf", "-y", "remove", NULL};
    static const char *const pacman[] = {"pacman", "-R", "--noconfirm", NULL};
    static const char *const brew[] = {"brew", "uninstall", NULL};
    return with_names(m,
                      m == FL_PKG_APT      ? apt
                      : m == FL_PKG_DNF    ? dnf
                      : m == FL_PKG_PACMAN ? pacman
                                           : brew,
                      names, n);
}

char **fl_pkg_brew_bundle_argv(const char *user, const char *brew, const char *brewfile,
                               const char *cleanup) {
    argv_buf a = {NULL, 0};
    /* Homebrew refuses to run as root: the console user runs it, with its own HOME. */
    const char *const head[] = {"sudo", "-u", user, "-H", "--", brew, "bundle", NULL};
    push_all(&a, head);
    char *file = fl_xasprintf("--file=%s", brewfile);
    push(&a, file);
    free(file);
    push(&a, "--no-lock");
    if (cleanup && strcmp(cleanup, "none")) {
        push(&a, "--cleanup");
        if (!strcmp(cleanup, "zap"))
            push(&a, "--zap");
    }
    return a.v;
}

void fl_pkg_argv_free(char **argv) {
    for (char **p = argv; p && *p; p++)
        free(*p);
    free(argv);
}

char *fl_pkg_argv_show(char *const *argv) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 64);
    for (char *const *p = argv; *p; p++) {
        if (p != argv)
            fl_strbuf_addch(&sb, ' ');
        if (**p && strspn(*p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                              "@%+=:,./_-") == strlen(*p)) {
            fl_strbuf_adds(&sb, *p);
            continue;
        }
        fl_strbuf_addch(&sb, '\'');
        for (const char *c = *p; *c; c++) {
            if (*c == '\'')
                fl_strbuf_adds(&sb, "'\\''");
            else
                fl_strbuf_addch(&sb, *c);
        }
        fl_strbuf_addch(&sb, '\'');
    }
    return fl_strbuf_detach(&sb, NULL);
}
