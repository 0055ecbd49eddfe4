/* sudo.c - getting the --sudo password once per run: from an askpass program or from the
 * terminal with echo off. It never stores the password anywhere but the caller's memory and
 * never echoes it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "flakectl/remote.h"
#include "flakectl/strbuf.h"

/* Clears a secret in a way the compiler may not drop as a dead store before free(). */
static void wipe(void *p, size_t n) {
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

static void chomp(fl_strbuf *sb) {
    char *nl = memchr(sb->buf, '\n', sb->len);
    if (nl) {
        sb->len = (size_t)(nl - sb->buf);
        sb->buf[sb->len] = '\0';
    }
    if (sb->len && sb->buf[sb->len - 1] == '\r')
        sb->buf[--sb->len] = '\0';
}

static int from_askpass(const char *prog, const char *prompt, char **out, fl_error *err) {
    int fds[2];
    if (pipe(fds) < 0)
        return fl_error_errno(err, "cannot run the askpass program %s", prog);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return fl_error_errno(err, "cannot run the askpass program %s", prog);
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(prog, prog, prompt, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    fl_strbuf sb;
    fl_strbuf_init(&sb, 64);
    char buf[256];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        fl_strbuf_add(&sb, buf, (size_t)n);
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        wipe(sb.buf, sb.len);
        fl_strbuf_release(&sb);
        fl_error_set(err, FL_EUSAGE, "the askpass program %s failed (%s %d)", prog,
                     WIFEXITED(status) ? "exit status" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        fl_error_set_hint(err, "it must print the password on its first output line and exit 0");
        return FL_EUSAGE;
    }
    chomp(&sb);
    *out = fl_strbuf_detach(&sb, NULL);
    return 0;
}

static int from_tty(const char *prompt, char **out, fl_error *err) {
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fl_error_set(err, FL_EUSAGE, "--sudo needs a password and there is no terminal to ask on");
        fl_error_set_hint(err, "give an askpass program with --askpass PROGRAM or SUDO_ASKPASS, "
                               "or allow the login NOPASSWD in the target's sudoers");
        return FL_EUSAGE;
    }
    struct termios old, quiet;
    int have_tc = tcgetattr(fd, &old) == 0;
    if (have_tc) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    (void)!write(fd, prompt, strlen(prompt));
    fl_strbuf sb;
    fl_strbuf_init(&sb, 64);
    char c;
    ssize_t n;
    while ((n = read(fd, &c, 1)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || c == '\n')
            break;
        fl_strbuf_addch(&sb, c);
    }
    if (have_tc)
        tcsetattr(fd, TCSAFLUSH, &old);
    (void)!write(fd, "\n", 1);
    close(fd);
    chomp(&sb);
    *out = fl_strbuf_detach(&sb, NULL);
    return 0;
}

int fl_remote_ask_sudo_password(const char *askpass, const char *user, const char *host, char **out,
                                fl_error *err) {
    *out = NULL;
    if (!askpass || !*askpass)
        askpass = getenv("SUDO_ASKPASS");
    char *prompt = fl_xasprintf("[sudo] password for %s on %s: ", user, host);
    int rc =
        askpass && *askpass ? from_askpass(askpass, prompt, out, err) : from_tty(prompt, out, err);
    free(prompt);
    return rc;
}

static int collect(void *ctx, const char *data, size_t len, fl_error *err) {
    (void)err;
    fl_strbuf_add(ctx, data, len);
    return 0;
}

struct fl_remote_sudo_pass {
    pthread_mutex_t lock;
    char *askpass;  /* owned, may be NULL */
    char *password; /* owned once asked */
};

fl_remote_sudo_pass *fl_remote_sudo_pass_new(const char *askpass) {
    fl_remote_sudo_pass *p = fl_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    p->askpass = askpass ? fl_xstrdup(askpass) : NULL;
    return p;
}

void fl_remote_sudo_pass_free(fl_remote_sudo_pass *p) {
    if (!p)
        return;
    if (p->password) {
        wipe(p->password, strlen(p->password));
        free(p->password);
    }
    free(p->askpass);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int fl_remote_enable_sudo(fl_remote *r, fl_remote_sudo_pass *pass, fl_error *err) {
    if (!strcmp(fl_remote_user(r), "root"))
        return 0; /* root needs no sudo */
    fl_remote_status st;
    int rc = fl_remote_exec(r, "sudo -n true", NULL, &st, err);
    if (rc < 0)
        return rc;
    int status = st.exit_status;
    fl_remote_status_release(&st);
    if (status == 127) {
        fl_error_set(err, FL_ENOTFOUND, "--sudo: sudo is not installed on %s", fl_remote_label(r));
        fl_error_set_hint(err, "install sudo there, or log in as root (--target-host root@%s)",
                          fl_remote_hostname(r));
        return FL_ENOTFOUND;
    }
    if (status == 0) {
        fl_remote_set_sudo(r, 1, NULL); /* NOPASSWD: nothing to ask */
        return 0;
    }
    /* the first host that needs it asks (hosts of a fleet wait here meanwhile) */
    pthread_mutex_lock(&pass->lock);
    if (!pass->password)
        rc = fl_remote_ask_sudo_password(pass->askpass, fl_remote_user(r), fl_remote_hostname(r),
                                         &pass->password, err);
    if (rc == 0 && pass->password)
        fl_remote_set_sudo(r, 1, pass->password);
    pthread_mutex_unlock(&pass->lock);
    if (rc < 0)
        return rc;
    /* try it now, so a wrong password stops the run before its first real step; what sudo
     * says on failure ("not in the sudoers file") goes into the error */
    fl_strbuf said;
    fl_strbuf_init(&said, 128);
    fl_remote_io io = FL_REMOTE_IO_INIT;
    io.stderr_cb = collect;
    io.stderr_ctx = &said;
    rc = fl_remote_exec(r, "true", &io, &st, err);
    int ran = rc == 0;
    if (ran && (st.exit_status != 0 || st.exit_signal)) {
        while (said.len && said.buf[said.len - 1] == '\n')
            said.buf[--said.len] = '\0';
        rc = fl_error_set(err, FL_EUSAGE,
                          "--sudo: sudo on %s refused to run commands as root "
                          "for %s%s%s",
                          fl_remote_label(r), fl_remote_user(r), said.len ? ": " : "",
                          said.len ? said.buf : "");
        fl_error_set_hint(err, "allow %s in the sudoers of %s, or log in as root",
                          fl_remote_user(r), fl_remote_hostname(r));
    }
    if (ran)
        fl_remote_status_release(&st);
    fl_strbuf_release(&said);
    if (rc < 0)
        fl_remote_set_sudo(r, 0, NULL);
    return rc;
}
