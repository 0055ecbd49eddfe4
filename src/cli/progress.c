/* progress.c (cli) - draws what the library reports through progress.h: the updating line on
 * a terminal, plain lines in a pipe, a line per step with -v, nothing with --quiet. The only
 * place that decides how progress looks; writes to the one stream it is given. */
#define _GNU_SOURCE /* memrchr, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "flakectl/clock.h"
#include "flakectl/strbuf.h"
#include "options.h"
#include "progress.h"
#include "term.h"

static int columns(FILE *out) {
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

/* Whether the task is substituting as such (store realise): every path it does is one. */
static int substituting(const fl_cli_progress *p) {
    return p->summary && !strcmp(p->summary, "substituted");
}

/* "pushing to file:///srv/c: 3/10 paths, 1.2 MiB of 4.0 MiB, 2.1 MiB/s  hello-2.12", or
 * without a total "building: 3 paths done  hello-2.12", or for a fleet "deploying: 3 hosts:
 * 2 built, 1 copied, 0 activated; 14 paths, 3.0 MiB, 1.1 MiB/s  web1" */
static void status_text(const fl_cli_progress *p, char *buf, size_t n) {
    int k;
    if (p->fleet) {
        k = snprintf(buf, n, "%s: %llu hosts: %llu built, %llu copied, %llu activated", p->task,
                     (unsigned long long)p->total, (unsigned long long)p->built,
                     (unsigned long long)p->copied, (unsigned long long)p->activated);
        if (p->failed && (size_t)k < n)
            k += snprintf(buf + k, n - (size_t)k, ", %llu failed", (unsigned long long)p->failed);
        if (p->done && (size_t)k < n)
            k += snprintf(buf + k, n - (size_t)k, "; %llu paths", (unsigned long long)p->done);
    } else if (p->substituted && !p->total && !substituting(p)) {
        /* a build that substitutes some paths: the two counts apart */
        k = snprintf(buf, n, "%s: %llu built, %llu substituted", p->task,
                     (unsigned long long)(p->done - p->substituted),
                     (unsigned long long)p->substituted);
    } else {
        k = snprintf(buf, n, "%s: %llu", p->task, (unsigned long long)p->done);
        if (p->total)
            k += snprintf(buf + k, n - (size_t)k, "/%llu %s", (unsigned long long)p->total,
                          p->noun);
        else
            k += snprintf(buf + k, n - (size_t)k, " %s done",
                          p->done == 1 && !strcmp(p->noun, "paths") ? "path" : p->noun);
    }
    uint64_t moved = p->bytes + p->inflight;
    if ((moved || p->total_bytes) && (size_t)k < n) {
        char a[32], b[32], r[32];
        double el = fl_now_s() - p->start;
        fl_human_bytes((double)moved, a, sizeof a);
        fl_human_bytes((double)p->total_bytes, b, sizeof b);
        fl_human_bytes(el > 0.05 ? (double)moved / el : 0, r, sizeof r);
        if (p->total_bytes)
            k += snprintf(buf + k, n - (size_t)k, ", %s of %s, %s/s", a, b, r);
        else
            k += snprintf(buf + k, n - (size_t)k, ", %s, %s/s", a, r);
    }
    if (p->item[0] && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, "  %s", p->item);
}

static void clear_line(fl_cli_progress *p) {
    if (p->drawn) {
        fputs("\r\033[K", p->out);
        p->drawn = 0;
    }
}

static void draw(fl_cli_progress *p, int force) {
    double now = fl_now_s();
    if (!force && now - p->last_draw < 0.1)
        return;
    p->last_draw = now;
    char line[512];
    status_text(p, line, sizeof line);
    /* never wrap: a wrapped line cannot be redrawn in place */
    int w = columns(p->out) - 1;
    if ((int)strlen(line) > w)
        line[w] = '\0';
    fprintf(p->out, "\r\033[K%s", line);
    fflush(p->out);
    p->drawn = 1;
}

/* A plain line for one step (a pipe, or -v), above the updating line on a terminal. */
static void step_line(fl_cli_progress *p, const char *what, const char *item, uint64_t bytes) {
    clear_line(p);
    fprintf(p->out, "%s: %s%s", p->task, what, item);
    if (bytes) {
        char b[32];
        fl_human_bytes((double)bytes, b, sizeof b);
        fprintf(p->out, " (%s)", b);
    }
    fputc('\n', p->out);
}

/* A store path's name without the directory and the hash: what a reader recognises. */
static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    s = s ? s + 1 : path;
    const char *dash = strchr(s, '-');
    return dash && dash - s == 32 ? dash + 1 : s;
}

/* A plain line as it is (a note, a step described by the library). */
static void text_line(fl_cli_progress *p, const char *text) {
    clear_line(p);
    fprintf(p->out, "%s\n", text);
}

static void on_stage(fl_cli_progress *p, const fl_progress_event *ev, int plain) {
    const char *st = ev->task ? ev->task : "";
    uint64_t *count = !strcmp(st, "built")       ? &p->built
                      : !strcmp(st, "copied")    ? &p->copied
                      : !strcmp(st, "activated") ? &p->activated
                      : !strcmp(st, "failed")    ? &p->failed
                                                 : NULL;
    if (!p->fleet)
        return; /* one host's deployment: its copy's own line says it all */
    if (count)
        ++*count;
    snprintf(p->item, sizeof p->item, "%s", ev->item ? ev->item : "");
    if (plain) {
        clear_line(p);
        fprintf(p->out, "%s: [%s] %s", p->task, ev->item ? ev->item : "?", st);
        if (count)
            fprintf(p->out, " (%llu of %llu hosts)", (unsigned long long)*count,
                    (unsigned long long)p->total);
        fputc('\n', p->out);
    }
}

static void on_event(void *ctx, const fl_progress_event *ev) {
    fl_cli_progress *p = ctx;
    if (p->quiet)
        return;
    pthread_mutex_lock(&p->lock);
    int plain = !p->tty || p->verbose;
    switch (ev->kind) {
    case FL_PROGRESS_BEGIN:
        clear_line(p);
        snprintf(p->task, sizeof p->task, "%s", ev->task ? ev->task : p->task);
        snprintf(p->noun, sizeof p->noun, "%s", ev->noun ? ev->noun : "paths");
        p->total = ev->total;
        p->total_bytes = ev->total_bytes;
        p->done = p->bytes = p->inflight = p->substituted = 0;
        p->built = p->copied = p->activated = p->failed = 0;
        p->fleet = !strcmp(p->noun, "hosts");
        p->item[0] = '\0';
        p->start = fl_now_s();
        if (p->tty)
            draw(p, 1);
        break;
    case FL_PROGRESS_ITEM:
        if (!p->fleet)
            snprintf(p->item, sizeof p->item, "%s", ev->item ? base_name(ev->item) : "");
        if (plain && ev->task)
            text_line(p, ev->task);
        else if (plain && ev->item)
            step_line(p, "", ev->item, 0);
        if (p->tty)
            draw(p, 1);
        break;
    case FL_PROGRESS_ADVANCE: {
        p->done++;
        if (ev->task && !strcmp(ev->task, "substituted"))
            p->substituted++;
        p->bytes += ev->bytes;
        p->inflight = p->inflight > ev->bytes ? p->inflight - ev->bytes : 0;
        if (plain && ev->item) {
            char what[48];
            if (p->total)
                snprintf(what, sizeof what, "[%llu/%llu] ", (unsigned long long)p->done,
                         (unsigned long long)p->total);
            else
                snprintf(what, sizeof what, "[%llu] ", (unsigned long long)p->done);
            step_line(p, what, ev->item, ev->bytes);
        }
        /* the last step is always drawn: the line ends on "N/N", not on a stale count */
        if (p->tty)
            draw(p, plain || (p->total && p->done == p->total));
        break;
    }
    case FL_PROGRESS_BYTES:
        p->inflight = ev->bytes;
        if (p->tty)
            draw(p, 0);
        break;
    case FL_PROGRESS_STAGE:
        on_stage(p, ev, plain);
        if (p->tty)
            draw(p, 1);
        break;
    case FL_PROGRESS_NOTE:
        if (ev->item)
            text_line(p, ev->item);
        else
            clear_line(p);
        fflush(p->out);
        break;
    case FL_PROGRESS_END:
        clear_line(p);
        fflush(p->out);
        break;
    }
    pthread_mutex_unlock(&p->lock);
}

void fl_cli_progress_init(fl_cli_progress *p, FILE *out, const char *task, const char *summary) {
    memset(p, 0, sizeof *p);
    p->progress.fn = on_event;
    p->progress.ctx = p;
    p->out = out;
    p->tty = fl_term_is_tty(out) && !(getenv("TERM") && !strcmp(getenv("TERM"), "dumb"));
    p->quiet = fl_opts.quiet;
    p->verbose = fl_opts.verbose;
    snprintf(p->noun, sizeof p->noun, "paths");
    p->summary = summary;
    snprintf(p->task, sizeof p->task, "%s", task);
    p->start = fl_now_s();
    pthread_mutex_init(&p->lock, NULL);
}

void fl_cli_progress_release(fl_cli_progress *p) {
    clear_line(p);
    if (!p->quiet && p->summary && p->done) {
        char b[32] = "";
        if (p->bytes) {
            char h[24];
            fl_human_bytes((double)p->bytes, h, sizeof h);
            snprintf(b, sizeof b, ", %s", h);
        }
        uint64_t made = substituting(p) ? p->done : p->done - p->substituted;
        int paths = !strcmp(p->noun, "paths");
        if (made)
            fprintf(p->out, "%s %llu %s", p->summary, (unsigned long long)made,
                    made == 1 && paths ? "path" : p->noun);
        if (made < p->done)
            fprintf(p->out, "%ssubstituted %llu %s", made ? ", " : "",
                    (unsigned long long)(p->done - made), p->done - made == 1 ? "path" : "paths");
        fprintf(p->out, "%s in %.1f s\n", b, fl_now_s() - p->start);
    }
    fflush(p->out);
    pthread_mutex_destroy(&p->lock);
}

/* ---- the line relay ---- */

static void write_fully(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Puts text (whole lines, or a prompt's unfinished line) on the terminal on its own row. */
static void relay_out(fl_cli_line_relay *r, int fd, const char *text, size_t n) {
    fl_cli_progress *p = r->p;
    pthread_mutex_lock(&p->lock);
    int was = p->drawn;
    clear_line(p);
    fflush(p->out);
    write_fully(fd, text, n);
    /* the updating line again below it, unless the text left the cursor mid-row */
    if (was && n && text[n - 1] == '\n')
        draw(p, 1);
    pthread_mutex_unlock(&p->lock);
}

static void *relay_run(void *arg) {
    fl_cli_line_relay *r = arg;
    fl_strbuf pending[2];
    fl_strbuf_init(&pending[0], 256);
    fl_strbuf_init(&pending[1], 256);
    int open_ends = 2;
    char buf[8192];
    while (open_ends) {
        struct pollfd pf[2] = {{r->rd[0], POLLIN, 0}, {r->rd[1], POLLIN, 0}};
        /* an unfinished line (a prompt) is shown after a moment without its end */
        int k = poll(pf, 2, pending[0].len || pending[1].len ? 200 : -1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (k == 0 && pending[i].len) {
                relay_out(r, i + 1, pending[i].buf, pending[i].len);
                fl_strbuf_reset(&pending[i]);
            }
            if (k <= 0 || r->rd[i] < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t got = read(r->rd[i], buf, sizeof buf);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                if (pending[i].len)
                    relay_out(r, i + 1, pending[i].buf, pending[i].len);
                fl_strbuf_reset(&pending[i]);
                close(r->rd[i]);
                r->rd[i] = -1;
                pf[i].fd = -1;
                open_ends--;
                continue;
            }
            fl_strbuf_add(&pending[i], buf, (size_t)got);
            char *last = memrchr(pending[i].buf, '\n', pending[i].len);
            if (last) {
                size_t n = (size_t)(last - pending[i].buf) + 1;
                relay_out(r, i + 1, pending[i].buf, n);
                memmove(pending[i].buf, pending[i].buf + n, pending[i].len - n);
                pending[i].len -= n;
                pending[i].buf[pending[i].len] = '\0';
            }
        }
    }
    fl_strbuf_release(&pending[0]);
    fl_strbuf_release(&pending[1]);
    return NULL;
}

void fl_cli_line_relay_start(fl_cli_line_relay *r, fl_cli_progress *p) {
    memset(r, 0, sizeof *r);
    r->p = p;
    r->fd[0] = 1;
    r->fd[1] = 2;
    r->out = stdout;
    r->err = stderr;
    r->rd[0] = r->rd[1] = -1;
    if (!p->tty || p->quiet)
        return;
    int a[2], b[2];
    if (pipe2(a, O_CLOEXEC) < 0)
        return;
    if (pipe2(b, O_CLOEXEC) < 0) {
        close(a[0]);
        close(a[1]);
        return;
    }
    FILE *out = fdopen(a[1], "w"), *err = out ? fdopen(b[1], "w") : NULL;
    r->rd[0] = a[0];
    r->rd[1] = b[0];
    if (!out || !err || pthread_create(&r->thread, NULL, relay_run, r) != 0) {
        if (out)
            fclose(out);
        else
            close(a[1]);
        if (err)
            fclose(err);
        else
            close(b[1]);
        close(a[0]);
        close(b[0]);
        r->rd[0] = r->rd[1] = -1;
        return;
    }
    setvbuf(out, NULL, _IOLBF, 0);
    setvbuf(err, NULL, _IOLBF, 0);
    fflush(stdout);
    r->out = out;
    r->err = err;
    r->fd[0] = a[1];
    r->fd[1] = b[1];
}

void fl_cli_line_relay_stop(fl_cli_line_relay *r) {
    if (r->out == stdout)
        return;
    /* closing the write ends (the FILEs own them) is the reader's end of input */
    fclose(r->out);
    fclose(r->err);
    pthread_join(r->thread, NULL);
    r->out = stdout;
    r->err = stderr;
    r->fd[0] = 1;
    r->fd[1] = 2;
}
