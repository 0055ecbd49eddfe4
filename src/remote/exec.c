/* exec.c - running commands on a connected target, one channel per command over the one
 * connection: stdin streamed in while stdout and stderr stream out (non-blocking libssh2 and
 * poll on the socket, so no amount of data in either direction deadlocks), exit status and
 * signal, the "not installed" diagnosis, and the "[host] line" output prefixer. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>

#include "flakectl/clock.h"
#include "flakectl/strbuf.h"
#include "remote/internal.h"

#define CHUNK (64 * 1024)

static const char *ssh_msg(LIBSSH2_SESSION *s) {
    char *msg = NULL;
    libssh2_session_last_error(s, &msg, NULL, 0);
    return msg && *msg ? msg : "unknown libssh2 error";
}

/* Waits until the socket can move in the direction libssh2 is blocked on, or stdin_fd (if
 * >= 0) is readable, or timeout_ms passes. */
static int wait_io(fl_remote *r, int stdin_fd, int timeout_ms) {
    struct pollfd p[2];
    int dirs = libssh2_session_block_directions(r->session);
    p[0].fd = r->sock;
    p[0].events = 0;
    if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND)
        p[0].events |= POLLIN;
    if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
        p[0].events |= POLLOUT;
    if (!p[0].events)
        p[0].events = POLLIN;
    p[0].revents = 0;
    int n = 1;
    if (stdin_fd >= 0) {
        p[1].fd = stdin_fd;
        p[1].events = POLLIN;
        p[1].revents = 0;
        n = 2;
    }
    int rc = poll(p, (nfds_t)n, timeout_ms);
    return rc < 0 && errno != EINTR ? -1 : 0;
}

static int lost(fl_remote *r, const char *cmd, const char *what, fl_error *err) {
    int e = libssh2_session_last_errno(r->session);
    /* a refused channel (MaxSessions...) leaves the connection usable; a socket error or a
     * timeout does not */
    if (e == LIBSSH2_ERROR_SOCKET_SEND || e == LIBSSH2_ERROR_SOCKET_RECV ||
        e == LIBSSH2_ERROR_SOCKET_DISCONNECT || e == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
        e == LIBSSH2_ERROR_TIMEOUT || e == LIBSSH2_ERROR_SOCKET_NONE)
        fl_remote_mark_dead(r);
    return fl_error_set(err, FL_ENET, "lost the connection to %s while %s `%s`: %s", r->label, what,
                        cmd, ssh_msg(r->session));
}

/* Closes a channel in non-blocking mode, waiting on the socket while libssh2 says EAGAIN,
 * but not forever: a peer that vanished after the command's end must not hang us. */
static void close_channel(fl_remote *r, LIBSSH2_CHANNEL *ch) {
    long deadline = (long)fl_now_ms() + 10000;
    int rc;
    while ((rc = libssh2_channel_close(ch)) == LIBSSH2_ERROR_EAGAIN &&
           (long)fl_now_ms() < deadline)
        wait_io(r, -1, 1000);
    while (rc == 0 && (rc = libssh2_channel_wait_closed(ch)) == LIBSSH2_ERROR_EAGAIN &&
           (long)fl_now_ms() < deadline)
        wait_io(r, -1, 1000);
}

/* ---- --sudo ----
 * A non-root login runs each command as
 * `sudo -S -p PROMPT -- env [PATH=..] [FLAKECTL_*=..] sh -c 'say STARTED; CMD'`.
 * Until STARTED shows up on stderr the command's own stdin is held back: if sudo prints
 * PROMPT first, the password goes in (once; a second prompt means it was wrong); when sudo
 * needs none (NOPASSWD), nothing is sent that the command could read as input. Both markers
 * are removed from the stderr the caller sees. */
#define SUDO_PROMPT "[flakectl:sudo-password]"
#define SUDO_STARTED "[flakectl:sudo-started]"

typedef struct sudo_gate {
    int waiting;    /* sudo has not started the command yet */
    int prompts;    /* password prompts seen */
    fl_strbuf held; /* stderr held while waiting */
    char *pw;       /* "password\n" to send, owned, wiped */
    size_t pwlen, pwoff;
} sudo_gate;

static void wipe(char *p, size_t n) {
    volatile char *v = p;
    while (n--)
        *v++ = 0;
}

char *fl_remote_sudo_wrap(const char *cmd) {
    fl_strbuf inner, out;
    fl_strbuf_init(&inner, strlen(cmd) + 64);
    fl_strbuf_adds(&inner, "printf '%s\\n' '" SUDO_STARTED "' >&2; ");
    fl_strbuf_adds(&inner, cmd);
    fl_strbuf_init(&out, inner.len + 96);
    /* sudo resets the environment (and Debian's secure_path replaces PATH), so root would
     * run another flakectl, or this one on the default state directory. The login's PATH and
     * flakectl's own variables are carried over when set: ${V+"V=$V"} is one word or none. */
    fl_strbuf_adds(&out, "sudo -S -p '" SUDO_PROMPT "' -- env");
    static const char *const keep[] = {"PATH", "FLAKECTL_STATE_DIR", "FLAKECTL_ROOT"};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        fl_strbuf_addf(&out, " ${%s+\"%s=$%s\"}", keep[i], keep[i], keep[i]);
    fl_strbuf_adds(&out, " sh -c ");
    fl_remote_shell_quote(&out, inner.buf);
    fl_strbuf_release(&inner);
    return fl_strbuf_detach(&out, NULL);
}

/* Looks at held stderr: answers a prompt, or ends the wait at STARTED and passes on what
 * came before it (sudo's lecture, say). Returns 0, or negative with err filled. */
static int sudo_scan(fl_remote *r, sudo_gate *g, const fl_remote_io *io, fl_error *err) {
    char *p;
    while ((p = strstr(g->held.buf, SUDO_PROMPT))) {
        size_t at = (size_t)(p - g->held.buf), n = strlen(SUDO_PROMPT);
        memmove(p, p + n, g->held.len - at - n + 1);
        g->held.len -= n;
        if (g->prompts++ > 0 || !r->sudo_password) {
            fl_error_set(err, FL_EUSAGE,
                         r->sudo_password ? "sudo on %s rejected the password for %s"
                                          : "sudo on %s wants a password for %s",
                         r->label, r->user);
            fl_error_set_hint(err,
                              r->sudo_password
                                  ? "run again and type %s's password on %s"
                                  : "give it with --sudo on a terminal or --askpass PROGRAM "
                                    "(%s's password on %s)",
                              r->user, r->hostname);
            return FL_EUSAGE;
        }
        g->pw = fl_xasprintf("%s\n", r->sudo_password);
        g->pwlen = strlen(g->pw);
        g->pwoff = 0;
    }
    p = strstr(g->held.buf, SUDO_STARTED "\n");
    if (!p)
        return 0;
    g->waiting = 0;
    size_t before = (size_t)(p - g->held.buf), n = strlen(SUDO_STARTED) + 1;
    /* what sudo said before the command started, minus the blank line it may leave */
    const char *b = g->held.buf;
    size_t blen = before;
    while (blen > 0 && (*b == '\n')) {
        b++;
        blen--;
    }
    if (blen && io->stderr_cb && io->stderr_cb(io->stderr_ctx, b, blen, err) < 0)
        return err && err->code ? err->code : FL_EIO;
    size_t rest = g->held.len - before - n;
    if (rest && io->stderr_cb && io->stderr_cb(io->stderr_ctx, p + n, rest, err) < 0)
        return err && err->code ? err->code : FL_EIO;
    fl_strbuf_reset(&g->held);
    return 0;
}

void fl_remote_set_sudo(fl_remote *r, int on, const char *password) {
    if (r->sudo_password) {
        wipe(r->sudo_password, strlen(r->sudo_password));
        free(r->sudo_password);
    }
    r->sudo = on;
    r->sudo_password = password ? fl_xstrdup(password) : NULL;
}

int fl_remote_exec(fl_remote *r, const char *cmd, const fl_remote_io *io, fl_remote_status *st,
                   fl_error *err) {
    static const fl_remote_io noio = FL_REMOTE_IO_INIT;
    if (!io)
        io = &noio;
    st->exit_status = -1;
    st->exit_signal = NULL;
    sudo_gate gate;
    memset(&gate, 0, sizeof gate);
    fl_strbuf_init(&gate.held, 0);
    gate.waiting = r->sudo && strcmp(r->user, "root") != 0;
    char *wrapped = gate.waiting ? fl_remote_sudo_wrap(cmd) : NULL;
    libssh2_session_set_blocking(r->session, 1);
    LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(r->session);
    if (!ch) {
        free(wrapped);
        fl_strbuf_release(&gate.held);
        return lost(r, cmd, "opening a channel for", err);
    }
    if (libssh2_channel_exec(ch, wrapped ? wrapped : cmd) != 0) {
        int rc = lost(r, cmd, "starting", err);
        libssh2_channel_free(ch);
        free(wrapped);
        fl_strbuf_release(&gate.held);
        return rc;
    }
    free(wrapped);
    libssh2_session_set_blocking(r->session, 0);

    char *inbuf = fl_xmalloc(CHUNK), *outbuf = fl_xmalloc(CHUNK);
    size_t inlen = 0, inoff = 0;
    int in_eof = io->stdin_fd < 0 && !io->stdin_cb, eof_sent = 0, rc = 0;
    int in_nonblock_fd = -1, in_fd_flags = 0;
    if (io->stdin_fd >= 0) {
        /* a pipe or terminal is read only when poll says so; make a stray read harmless */
        in_fd_flags = fcntl(io->stdin_fd, F_GETFL);
        if (in_fd_flags >= 0 && !(in_fd_flags & O_NONBLOCK)) {
            fcntl(io->stdin_fd, F_SETFL, in_fd_flags | O_NONBLOCK);
            in_nonblock_fd = io->stdin_fd;
        }
    }
    long keepalive_due = r->keepalive_s > 0 ? (long)fl_now_ms() + r->keepalive_s * 1000L : 0;
    /* silence from the peer for 3 keepalive intervals (OpenSSH's ServerAliveCountMax) and a
     * second of slack means it is gone, even if its kernel still acknowledges packets */
    long dead_after = r->keepalive_s > 0 ? r->keepalive_s * 3000L + 1000 : 0;
    r->last_rx_ms = (long)fl_now_ms();
    unsigned long long sent = 0, received = 0;
    long progress_due = 0;
    for (;;) {
        int progress = 0, want_stdin = 0;
        /* sudo's password goes first, and the command's input only once it runs */
        if (gate.pwoff < gate.pwlen) {
            ssize_t w = libssh2_channel_write(ch, gate.pw + gate.pwoff, gate.pwlen - gate.pwoff);
            if (w > 0) {
                gate.pwoff += (size_t)w;
                progress = 1;
            } else if (w != LIBSSH2_ERROR_EAGAIN && !libssh2_channel_eof(ch)) {
                rc = lost(r, cmd, "sending the sudo password to", err);
                break;
            }
        }
        /* stdin: refill, then push what the remote window takes */
        if (!gate.waiting && !in_eof && inoff == inlen) {
            inoff = inlen = 0;
            ssize_t n;
            if (io->stdin_fd >= 0) {
                n = read(io->stdin_fd, inbuf, CHUNK);
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                    want_stdin = 1;
                    n = -2;
                } else if (n < 0) {
                    rc = fl_error_errno(err, "cannot read the input for `%s` on %s", cmd, r->label);
                    break;
                }
            } else {
                n = io->stdin_cb(io->stdin_ctx, inbuf, CHUNK, err);
                if (n < 0) {
                    rc = err && err->code ? err->code : FL_EIO;
                    break;
                }
            }
            if (n == 0)
                in_eof = 1;
            else if (n > 0) {
                inlen = (size_t)n;
                progress = 1;
            }
        }
        if (!gate.waiting && inoff < inlen) {
            ssize_t w = libssh2_channel_write(ch, inbuf + inoff, inlen - inoff);
            if (w > 0) {
                inoff += (size_t)w;
                sent += (unsigned long long)w;
                progress = 1;
            } else if (w != LIBSSH2_ERROR_EAGAIN) {
                /* the command may have exited without reading all its input: not fatal,
                 * its status tells the story */
                if (libssh2_channel_eof(ch) || w == LIBSSH2_ERROR_CHANNEL_CLOSED ||
                    w == LIBSSH2_ERROR_CHANNEL_EOF_SENT) {
                    in_eof = 1;
                    inoff = inlen = 0;
                } else {
                    rc = lost(r, cmd, "sending input to", err);
                    break;
                }
            }
        }
        if (!gate.waiting && in_eof && inoff == inlen && !eof_sent) {
            int e = libssh2_channel_send_eof(ch);
            if (e == 0)
                eof_sent = 1;
            else if (e != LIBSSH2_ERROR_EAGAIN)
                eof_sent = 1; /* the channel is closing anyway */
        }
        /* outputs: drain both so neither window stalls the command */
        for (int stream = 0; stream < 2; stream++) {
            for (;;) {
                ssize_t n = libssh2_channel_read_ex(ch, stream == 0 ? 0 : SSH_EXTENDED_DATA_STDERR,
                                                    outbuf, CHUNK);
                if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
                    break;
                if (n < 0) {
                    rc = lost(r, cmd, "reading the output of", err);
                    goto done;
                }
                progress = 1;
                received += (unsigned long long)n;
                if (stream == 1 && gate.waiting) {
                    fl_strbuf_add(&gate.held, outbuf, (size_t)n);
                    if ((rc = sudo_scan(r, &gate, io, err)) < 0)
                        goto done;
                    continue;
                }
                fl_remote_write_fn cb = stream == 0 ? io->stdout_cb : io->stderr_cb;
                void *ctx = stream == 0 ? io->stdout_ctx : io->stderr_ctx;
                if (cb && cb(ctx, outbuf, (size_t)n, err) < 0) {
                    rc = err && err->code ? err->code : FL_EIO;
                    goto done;
                }
            }
        }
        if (io->progress_cb && (long)fl_now_ms() >= progress_due) {
            io->progress_cb(io->progress_ctx, sent, received, 0);
            progress_due = (long)fl_now_ms() + 200;
        }
        if (libssh2_channel_eof(ch)) {
            /* the remote closed its side: everything buffered has been read above */
            break;
        }
        if (progress)
            continue;
        int wait_ms = 1000;
        if (dead_after && (long)fl_now_ms() - r->last_rx_ms > dead_after) {
            fl_remote_mark_dead(r);
            rc = fl_error_set(err, FL_ENET,
                              "lost the connection to %s while running `%s`: no answer to "
                              "keepalives for %ld s",
                              r->label, cmd, ((long)fl_now_ms() - r->last_rx_ms) / 1000);
            fl_error_set_hint(err, "the host or its sshd stopped responding; check it, then run "
                                   "again (ServerAliveInterval in ~/.ssh/config sets the pace)");
            break;
        }
        if (keepalive_due) {
            int next = 0;
            if ((long)fl_now_ms() >= keepalive_due) {
                if (libssh2_keepalive_send(r->session, &next) == 0)
                    keepalive_due = (long)fl_now_ms() + (next > 0 ? next : r->keepalive_s) * 1000L;
            }
            long left = keepalive_due - (long)fl_now_ms();
            wait_ms = left < 0 ? 0 : left < wait_ms ? (int)left : wait_ms;
        }
        if (wait_io(r, want_stdin ? io->stdin_fd : -1, wait_ms) < 0) {
            rc = fl_error_errno(err, "poll failed while running `%s` on %s", cmd, r->label);
            break;
        }
    }
done:
    if (rc == 0 && gate.waiting && gate.held.len && io->stderr_cb) {
        /* sudo never started the command: what it said is the story */
        rc = io->stderr_cb(io->stderr_ctx, gate.held.buf, gate.held.len, err);
    }
    if (rc == 0 && io->progress_cb)
        io->progress_cb(io->progress_ctx, sent, received, 1);
    fl_strbuf_release(&gate.held);
    if (gate.pw) {
        wipe(gate.pw, gate.pwlen);
        free(gate.pw);
    }
    if (in_nonblock_fd >= 0)
        fcntl(in_nonblock_fd, F_SETFL, in_fd_flags);
    free(inbuf);
    free(outbuf);
    if (rc == 0) {
        close_channel(r, ch);
        st->exit_status = libssh2_channel_get_exit_status(ch);
        char *sig = NULL;
        size_t siglen = 0;
        libssh2_channel_get_exit_signal(ch, &sig, &siglen, NULL, NULL, NULL, NULL);
        if (sig && siglen) {
            st->exit_signal = fl_xstrndup(sig, siglen);
            st->exit_status = -1;
        }
        /* libssh2 allocated sig with the session's allocator (malloc by default) */
        free(sig);
    }
    /* blocking again before the free: an aborted channel is closed there, and a
     * non-blocking free could give up halfway and leave it open on the connection */
    libssh2_session_set_blocking(r->session, 1);
    libssh2_channel_free(ch);
    return rc;
}

void fl_remote_status_release(fl_remote_status *st) {
    free(st->exit_signal);
    st->exit_signal = NULL;
}

static int first_word_is(const char *cmd, const char *word) {
    while (*cmd == ' ')
        cmd++;
    size_t n = strlen(word);
    return !strncmp(cmd, word, n) && (cmd[n] == ' ' || cmd[n] == '\0');
}

static void not_installed(fl_remote *r, fl_error *err) {
    fl_error_set(err, FL_ENOTFOUND, "flakectl is not installed on %s", r->label);
    fl_error_set_hint(err,
                      "install flakectl on %s (build it with `make` and copy build/flakectl "
                      "to /usr/local/bin there), or put it on the PATH that non-interactive "
                      "SSH sessions of %s get",
                      r->hostname, r->user);
}

int fl_remote_explain_status(fl_remote *r, const char *cmd, const fl_remote_status *st,
                             fl_error *err) {
    if (st->exit_signal)
        return fl_error_set(err, FL_EGENERIC, "`%s` on %s was killed by signal %s", cmd, r->label,
                            st->exit_signal);
    if (st->exit_status == 127 && first_word_is(cmd, "flakectl")) {
        not_installed(r, err);
        return FL_ENOTFOUND;
    }
    if (st->exit_status == 127) {
        fl_error_set(err, FL_ENOTFOUND, "`%s` on %s: command not found (exit status 127)", cmd,
                     r->label);
        fl_error_set_hint(err, "install the program on %s or check the PATH of its SSH sessions",
                          r->hostname);
        return FL_ENOTFOUND;
    }
    return fl_error_set(err, FL_EGENERIC, "`%s` on %s failed with exit status %d", cmd, r->label,
                        st->exit_status);
}

int fl_remote_run(fl_remote *r, const char *cmd, const fl_remote_io *io, fl_error *err) {
    fl_remote_status st;
    int rc = fl_remote_exec(r, cmd, io, &st, err);
    if (rc < 0)
        return rc;
    if (st.exit_status != 0 || st.exit_signal)
        rc = fl_remote_explain_status(r, cmd, &st, err);
    fl_remote_status_release(&st);
    return rc;
}

int fl_remote_require_flakectl(fl_remote *r, fl_error *err) {
    fl_remote_status st;
    int rc = fl_remote_exec(r, "command -v flakectl", NULL, &st, err);
    if (rc < 0)
        return rc;
    if (st.exit_status != 0) {
        not_installed(r, err);
        rc = FL_ENOTFOUND;
    }
    fl_remote_status_release(&st);
    return rc;
}

void fl_remote_shell_quote(fl_strbuf *out, const char *s) {
    fl_strbuf_addch(out, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            fl_strbuf_adds(out, "'\\''");
        else
            fl_strbuf_addch(out, *s);
    }
    fl_strbuf_addch(out, '\'');
}

/* ---- "[host] line" output ---- */

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void fl_remote_prefixer_init(fl_remote_prefixer *p, int fd, const char *label) {
    p->fd = fd;
    p->label = fl_xasprintf("[%s] ", label);
    p->pending = NULL;
    p->npending = 0;
}

int fl_remote_prefix_write(void *ctx, const char *data, size_t len, fl_error *err) {
    fl_remote_prefixer *p = ctx;
    fl_strbuf out;
    fl_strbuf_init(&out, len + 64);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (data[i] != '\n')
            continue;
        /* one write per line keeps lines of parallel hosts from interleaving mid-line */
        fl_strbuf_reset(&out);
        fl_strbuf_adds(&out, p->label);
        if (p->npending)
            fl_strbuf_add(&out, p->pending, p->npending);
        fl_strbuf_add(&out, data + start, i + 1 - start);
        free(p->pending);
        p->pending = NULL;
        p->npending = 0;
        start = i + 1;
        if (write_all(p->fd, out.buf, out.len) < 0) {
            fl_strbuf_release(&out);
            return fl_error_errno(err, "cannot write the output of %s", p->label);
        }
    }
    fl_strbuf_release(&out);
    if (start < len) {
        p->pending = fl_xrealloc(p->pending, p->npending + len - start);
        memcpy(p->pending + p->npending, data + start, len - start);
        p->npending += len - start;
    }
    return 0;
}

void fl_remote_prefixer_finish(fl_remote_prefixer *p) {
    if (p->npending) {
        fl_strbuf out;
        fl_strbuf_init(&out, p->npending + 64);
        fl_strbuf_adds(&out, p->label);
        fl_strbuf_add(&out, p->pending, p->npending);
        fl_strbuf_addch(&out, '\n');
        (void)write_all(p->fd, out.buf, out.len);
        fl_strbuf_release(&out);
    }
    free(p->pending);
    free(p->label);
    p->pending = NULL;
    p->label = NULL;
    p->npending = 0;
}

/* ---- progress line ---- */

void fl_remote_progress_init(fl_remote_progress *p, int fd, const char *label) {
    p->fd = fd;
    p->tty = isatty(fd);
    p->label = fl_xstrdup(label);
    p->start = fl_now_s();
}

void fl_remote_progress_show(void *ctx, unsigned long long sent, unsigned long long received,
                             int done) {
    fl_remote_progress *p = ctx;
    if (!done && !p->tty)
        return;
    double secs = fl_now_s() - p->start;
    double mib = (double)sent / (1024.0 * 1024.0);
    fl_strbuf line;
    fl_strbuf_init(&line, 96);
    fl_strbuf_addf(&line, "%s[%s] sent %.1f MiB", p->tty ? "\r\033[K" : "", p->label, mib);
    if (received)
        fl_strbuf_addf(&line, ", received %.1f MiB", (double)received / (1024.0 * 1024.0));
    if (secs > 0.05)
        fl_strbuf_addf(&line, ", %.1f MiB/s", mib / secs);
    if (done)
        fl_strbuf_addf(&line, " in %.1f s\n", secs);
    (void)write_all(p->fd, line.buf, line.len);
    fl_strbuf_release(&line);
}

void fl_remote_progress_release(fl_remote_progress *p) {
    free(p->label);
    p->label = NULL;
}

ssize_t fl_remote_mem_read(void *ctx, char *buf, size_t cap, fl_error *err) {
    (void)err;
    fl_remote_mem_in *m = ctx;
    size_t k = m->len - m->off < cap ? m->len - m->off : cap;
    memcpy(buf, m->data + m->off, k);
    m->off += k;
    return (ssize_t)k;
}
