/* run.c - running a package manager: inside a --root (a child with its own mount namespace,
 * the root's /proc, /sys and /dev mounted as debootstrap does, then chroot; the kernel drops
 * those mounts when the child ends, however it ends) or on the live system, with apt's
 * non-interactive environment, its output shown as it comes and kept for the error. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/pkg.h"
#include "pkg/internal.h"

/* In the child: the root's /proc, /sys and /dev as debootstrap mounts them, then chroot. */
static int enter_root(const char *root) {
    if (!strcmp(root, "/"))
        return 0;
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return -1;
    char *proc = fl_path_join(root, "proc"), *sys = fl_path_join(root, "sys"),
         *dev = fl_path_join(root, "dev");
    int rc = mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
                     mount("sysfs", sys, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                           NULL) < 0 ||
                     mount("/dev", dev, NULL, MS_BIND | MS_REC, NULL) < 0
                 ? -1
                 : 0;
    free(proc);
    free(sys);
    free(dev);
    if (!rc && (chroot(root) < 0 || chdir("/") < 0))
        rc = -1;
    return rc;
}

/* Shows a chunk of the output, indented, and keeps it for the error message. */
static void show_output(const char *buf, size_t n, FILE *out, fl_strbuf *output, int *bol) {
    fl_strbuf_add(output, buf, n);
    for (size_t i = 0; out && i < n; i++) {
        if (*bol)
            fputs("      ", out);
        fputc(buf[i], out);
        *bol = buf[i] == '\n';
    }
    /* Progress shows as it happens, also when the output is a file or a pipe. */
    if (out)
        fflush(out);
}

/* Hands each whole line of the status channel to on_status; the rest waits in pending. */
static void status_lines(fl_strbuf *pending, const char *buf, size_t n, fl_pkg_status_fn on_status,
                         void *ctx) {
    fl_strbuf_add(pending, buf, n);
    size_t start = 0;
    for (size_t i = 0; i < pending->len; i++) {
        if (pending->buf[i] != '\n')
            continue;
        pending->buf[i] = '\0';
        on_status(ctx, pending->buf + start);
        start = i + 1;
    }
    if (start) {
        memmove(pending->buf, pending->buf + start, pending->len - start);
        pending->len -= start;
        pending->buf[pending->len] = '\0';
    }
}

int fl_pkg_run_status(const char *root, char *const argv[], FILE *out, fl_strbuf *output,
                      fl_pkg_status_fn on_status, void *ctx, int *status, fl_error *err) {
    int pfd[2], sfd[2] = {-1, -1};
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return fl_error_errno(err, "pipe");
    if (on_status && pipe2(sfd, O_CLOEXEC) < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return fl_error_errno(err, "pipe");
    }
    fflush(out ? out : stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        if (on_status) {
            close(sfd[0]);
            close(sfd[1]);
        }
        return fl_error_errno(err, "fork");
    }
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        if (on_status)
            dup2(sfd[1], 3); /* dup2 clears close-on-exec on the copy */
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        if (enter_root(root) < 0) {
            dprintf(2, "cannot enter %s (mounting /proc, /sys, /dev and chroot): %s\n", root,
                    strerror(errno));
            _exit(126);
        }
        static char *const env[] = {
            "DEBIAN_FRONTEND=noninteractive",
            "DEBCONF_NONINTERACTIVE_SEEN=true",
            "APT_LISTCHANGES_FRONTEND=none",
            "LC_ALL=C",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            NULL};
        execvpe(argv[0], argv, env);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    if (on_status)
        close(sfd[1]);
    struct pollfd fds[2] = {{pfd[0], POLLIN, 0}, {sfd[0], POLLIN, 0}};
    nfds_t nfds = on_status ? 2 : 1;
    fl_strbuf pending;
    fl_strbuf_init(&pending, 0);
    char buf[4096];
    int bol = 1, open_fds = (int)nfds;
    while (open_fds > 0) {
        if (poll(fds, nfds, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (nfds_t k = 0; k < nfds; k++) {
            if (fds[k].fd < 0 || !fds[k].revents)
                continue;
            ssize_t n = read(fds[k].fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(fds[k].fd);
                fds[k].fd = -1;
                open_fds--;
                continue;
            }
            if (k == 0 && on_status && out)
                on_status(ctx, NULL); /* the output is about to show */
            if (k == 0)
                show_output(buf, (size_t)n, out, output, &bol);
            else
                status_lines(&pending, buf, (size_t)n, on_status, ctx);
        }
    }
    for (nfds_t k = 0; k < nfds; k++)
        if (fds[k].fd >= 0)
            close(fds[k].fd);
    fl_strbuf_release(&pending);
    if (out && !bol)
        fputc('\n', out);
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR)
            return fl_error_errno(err, "waitpid");
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    return FL_OK;
}

int fl_pkg_run(const char *root, char *const argv[], FILE *out, fl_strbuf *output, int *status,
               fl_error *err) {
    return fl_pkg_run_status(root, argv, out, output, NULL, NULL, status, err);
}

/* The last lines of the manager's output: its own words for what went wrong. */
static const char *last_lines(const fl_strbuf *sb, int lines) {
    if (!sb->len)
        return "(no output)";
    size_t i = sb->len;
    while (i > 0 && sb->buf[i - 1] == '\n')
        i--;
    while (i > 0 && lines > 0)
        if (sb->buf[--i] == '\n')
            lines--;
    return sb->buf + i + (sb->buf[i] == '\n');
}

int fl_pkg_run_checked_status(const char *root, char *const argv[], FILE *out,
                              fl_strbuf *output, fl_pkg_status_fn on_status, void *ctx,
                              const char *host, fl_error *err) {
    int status = 0;
    fl_strbuf_reset(output);
    int rc = fl_pkg_run_status(root, argv, out, output, on_status, ctx, &status, err);
    if (!rc && status) {
        char *cmd = fl_pkg_argv_show(argv);
        rc = fl_error_set(err, FL_EGENERIC, "host %s: `%s` failed (exit status %d):\n%s", host, cmd,
                          status, last_lines(output, 12));
        free(cmd);
    }
    return rc;
}

int fl_pkg_run_checked(const char *root, char *const argv[], FILE *out, fl_strbuf *output,
                       const char *host, fl_error *err) {
    return fl_pkg_run_checked_status(root, argv, out, output, NULL, NULL, host, err);
}
