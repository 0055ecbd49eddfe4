/* copy.c - copying a closure to a target over one SSH connection: ask which paths it has,
 * stream only the missing ones as export streams into `flakectl store import` there, in
 * batches so that a copy cut off keeps what was finished. The stream comes from the local
 * store, or (--build-host) from `flakectl store export` on another connection, relayed
 * through this process. Reports through progress.h; what a terminal shows is the cli's
 * business. It never writes the local store and never registers anything on the target
 * itself: the target's import verifies and registers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flakectl/clock.h"
#include "flakectl/remote.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"
#include "remote/internal.h"

#define DEFAULT_BATCH (16ULL << 20)
/* The exec request carries the command line in one SSH packet (OpenSSH allows 256 KiB). */
#define MAX_ARGS_BYTES (96 * 1024)

static int collect(void *ctx, const char *data, size_t len, fl_error *err) {
    (void)err;
    fl_strbuf_add(ctx, data, len);
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs `store query-valid`, its stdout collected into out, its stderr prefixed to err_fd;
 * fails unless it exits 0 (every path valid) or 1 (some are not: out lists the valid ones;
 * a flakectl older than that exit status always says 0). */
static int run_collect(fl_remote *r, const char *cmd, fl_strbuf *out, int err_fd, fl_error *err) {
    fl_remote_prefixer perr;
    fl_remote_prefixer_init(&perr, err_fd, fl_remote_label(r));
    fl_remote_io io = FL_REMOTE_IO_INIT;
    io.stdout_cb = collect;
    io.stdout_ctx = out;
    io.stderr_cb = fl_remote_prefix_write;
    io.stderr_ctx = &perr;
    fl_remote_status st;
    int rc = fl_remote_exec(r, cmd, &io, &st, err);
    if (rc == 0) {
        if ((st.exit_status != 0 && st.exit_status != 1) || st.exit_signal)
            rc = fl_remote_explain_status(r, cmd, &st, err);
        fl_remote_status_release(&st);
    }
    fl_remote_prefixer_finish(&perr);
    return rc;
}

/* Sets have[k] = 1 for each paths[k] that is a line of answer (a subset of paths, one a line;
 * cut in place). */
static void mark_listed(char *answer, char **paths, size_t n, char *have) {
    char **lines = NULL;
    size_t nl = 0;
    for (char *p = answer, *e; p && *p; p = e ? e + 1 : NULL) {
        e = strchr(p, '\n');
        if (e)
            *e = '\0';
        if (*p) {
            lines = fl_xrealloc(lines, (nl + 1) * sizeof *lines);
            lines[nl++] = p;
        }
    }
    if (nl)
        qsort(lines, nl, sizeof *lines, cmp_str);
    for (size_t k = 0; k < n; k++)
        if (nl && bsearch(&paths[k], lines, nl, sizeof *lines, cmp_str))
            have[k] = 1;
    free(lines);
}

/* Marks have[i] = 1 for each closure path the target reports valid. */
static int query_valid(fl_remote *r, char **paths, size_t n, const char *pending, char *have,
                       int err_fd, fl_error *err) {
    size_t i = 0;
    while (i < n) {
        fl_strbuf cmd, out;
        fl_strbuf_init(&cmd, 4096);
        fl_strbuf_init(&out, 4096);
        fl_strbuf_adds(&cmd, "flakectl store query-valid");
        if (pending)
            fl_strbuf_addf(&cmd, " --pending %s", pending);
        size_t first = i;
        while (i < n && (i == first || cmd.len + strlen(paths[i]) + 4 < MAX_ARGS_BYTES)) {
            fl_strbuf_addch(&cmd, ' ');
            fl_remote_shell_quote(&cmd, paths[i]);
            i++;
        }
        int rc = run_collect(r, cmd.buf, &out, err_fd, err);
        fl_strbuf_release(&cmd);
        if (rc < 0) {
            fl_strbuf_release(&out);
            fl_error_add_frame(err, "while asking %s which store paths it has", fl_remote_label(r));
            return rc;
        }
        for (size_t k = first; k < i; k++)
            have[k] = 0;
        mark_listed(out.buf, paths + first, i - first, have + first);
        fl_strbuf_release(&out);
    }
    return 0;
}

void fl_deploy_caches_args(fl_strbuf *cmd, const fl_deploy_caches *caches) {
    for (size_t i = 0; caches && i < caches->nurls; i++) {
        fl_strbuf_adds(cmd, " --substituters ");
        fl_remote_shell_quote(cmd, caches->urls[i]);
    }
    for (size_t i = 0; caches && i < caches->nkeys; i++) {
        fl_strbuf_adds(cmd, " --trusted-public-key ");
        fl_remote_shell_quote(cmd, caches->keys[i]);
    }
}

/* Has the target fetch the paths it lacks (have[k] == 0) from the caches itself; marks
 * have[] for what it then has. A target that fails at it (cannot reach the caches, an older
 * flakectl) only gets a note: the copy sends everything. <0 only when the connection fails. */
static int substitute_on_target(fl_remote *r, const fl_deploy_caches *caches, char **paths,
                                size_t n, char *have, int err_fd, fl_error *err) {
    fl_strbuf cmd, in, out;
    fl_strbuf_init(&cmd, 256);
    fl_strbuf_init(&in, 4096);
    fl_strbuf_init(&out, 4096);
    fl_strbuf_adds(&cmd, "flakectl deploy-agent substitute");
    fl_deploy_caches_args(&cmd, caches);
    for (size_t k = 0; k < n; k++)
        if (!have[k]) {
            fl_strbuf_adds(&in, paths[k]);
            fl_strbuf_addch(&in, '\n');
        }
    fl_remote_prefixer perr;
    fl_remote_prefixer_init(&perr, err_fd, fl_remote_label(r));
    fl_remote_mem_in min = {in.buf, in.len, 0};
    fl_remote_io io = FL_REMOTE_IO_INIT;
    io.stdin_cb = fl_remote_mem_read;
    io.stdin_ctx = &min;
    io.stdout_cb = collect;
    io.stdout_ctx = &out;
    io.stderr_cb = fl_remote_prefix_write;
    io.stderr_ctx = &perr;
    fl_remote_status st;
    int rc = fl_remote_exec(r, cmd.buf, &io, &st, err);
    fl_remote_prefixer_finish(&perr);
    if (rc == 0) {
        if (st.exit_signal || st.exit_status != 0) {
            char *line = fl_xasprintf("[%s] the target could not substitute from the caches "
                                      "(exit status %d): copying everything over SSH\n",
                                      fl_remote_label(r), st.exit_status);
            ssize_t w = write(err_fd, line, strlen(line));
            (void)w;
            free(line);
        } else {
            mark_listed(out.buf, paths, n, have);
        }
        fl_remote_status_release(&st);
    } else {
        fl_error_add_frame(err, "while %s fetched from the binary caches", fl_remote_label(r));
    }
    fl_strbuf_release(&cmd);
    fl_strbuf_release(&in);
    fl_strbuf_release(&out);
    return rc;
}

/* Writes a batch's export stream into fd: from the local store, or relayed from
 * `flakectl store export` on another host (from != NULL). */
typedef struct exporter {
    struct fl_store *s;
    fl_remote *from;
    int err_fd;
    char **paths;
    size_t n;
    int fd;
    int rc;
    fl_error err;
} exporter;

static int pipe_write(void *ctx, const char *data, size_t len, fl_error *err) {
    int fd = *(int *)ctx;
    while (len) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return fl_error_errno(err, "the receiving side stopped reading");
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

static int remote_export(exporter *e) {
    fl_strbuf cmd;
    fl_strbuf_init(&cmd, 4096);
    fl_strbuf_adds(&cmd, "flakectl store export");
    for (size_t i = 0; i < e->n; i++) {
        fl_strbuf_addch(&cmd, ' ');
        fl_remote_shell_quote(&cmd, e->paths[i]);
    }
    fl_remote_prefixer perr;
    fl_remote_prefixer_init(&perr, e->err_fd, fl_remote_label(e->from));
    fl_remote_io io = FL_REMOTE_IO_INIT;
    io.stdout_cb = pipe_write;
    io.stdout_ctx = &e->fd;
    io.stderr_cb = fl_remote_prefix_write;
    io.stderr_ctx = &perr;
    fl_remote_status st;
    int rc = fl_remote_exec(e->from, cmd.buf, &io, &st, &e->err);
    fl_remote_prefixer_finish(&perr);
    if (rc == 0) {
        if (st.exit_signal || st.exit_status != 0)
            rc = fl_remote_explain_status(e->from, "flakectl store export", &st, &e->err);
        fl_remote_status_release(&st);
    }
    fl_strbuf_release(&cmd);
    return rc;
}

static void *export_main(void *p) {
    exporter *e = p;
    e->rc = e->from ? remote_export(e) : fl_store_export(e->s, e->paths, e->n, e->fd, &e->err);
    close(e->fd);
    return NULL;
}

/* The copy's side of progress.h: the label, the counts of the closing line. */
typedef struct copy_progress {
    const fl_progress *to;
    const char *label;
    double start;
    unsigned long long base; /* bytes of finished batches */
    size_t done, missing, closure;
    size_t substituted; /* by the target, from caches */
    unsigned long long substituted_bytes;
    unsigned long long last_sent; /* of the batch in flight */
} copy_progress;

/* The closing line: what was sent, what was there, what the target fetched itself. */
static void progress_result(copy_progress *p) {
    double el = fl_now_s() - p->start;
    char a[32], rate[32], fetched[128] = "";
    fl_human_bytes((double)p->base, a, sizeof a);
    fl_human_bytes(el > 0 ? (double)p->base / el : 0, rate, sizeof rate);
    if (p->substituted) {
        char sb[32];
        fl_human_bytes((double)p->substituted_bytes, sb, sizeof sb);
        snprintf(fetched, sizeof fetched, "; the target fetched %zu (%s) from caches",
                 p->substituted, sb);
    }
    char *line = fl_xasprintf("[%s] copied %zu paths (%s) in %.2f s, %s/s; %zu of %zu were "
                              "there%s",
                              p->label, p->done, a, el, rate,
                              p->closure - p->missing - p->substituted, p->closure, fetched);
    fl_progress_note(p->to, line);
    free(line);
}

static void progress_cb(void *ctx, unsigned long long sent, unsigned long long received, int done) {
    (void)received;
    (void)done;
    copy_progress *p = ctx;
    p->last_sent = sent;
    fl_progress_bytes(p->to, sent);
}

static int count_lines(void *ctx, const char *data, size_t len, fl_error *err) {
    (void)err;
    size_t *n = ctx;
    for (size_t i = 0; i < len; i++)
        *n += data[i] == '\n';
    return 0;
}

/* Sends one batch as an export stream into `flakectl store import` on the target. */
static int send_batch(fl_remote *r, struct fl_store *s, fl_remote *from, char **paths, size_t n,
                      const char *pending, copy_progress *pg, int err_fd, unsigned long long *sent,
                      size_t *imported, fl_error *err) {
    fl_progress_item(pg->to, paths[0]);
    int p[2];
    /* close-on-exec: a builder forked by another host's build meanwhile must not hold the
     * write end open, or the import never sees the end of the stream */
    if (pipe2(p, O_CLOEXEC) < 0)
        return fl_error_errno(err, "cannot make a pipe for the export stream");
    exporter e = {s, from, err_fd, paths, n, p[1], 0, FL_ERROR_INIT};
    pthread_t th;
    if (pthread_create(&th, NULL, export_main, &e) != 0) {
        close(p[0]);
        close(p[1]);
        return fl_error_set(err, FL_EIO, "cannot start the export thread");
    }
    fl_remote_prefixer perr;
    fl_remote_prefixer_init(&perr, err_fd, fl_remote_label(r));
    fl_remote_io io = FL_REMOTE_IO_INIT;
    io.stdin_fd = p[0];
    io.stdout_cb = count_lines;
    io.stdout_ctx = imported;
    io.stderr_cb = fl_remote_prefix_write;
    io.stderr_ctx = &perr;
    io.progress_cb = progress_cb;
    io.progress_ctx = pg;
    pg->last_sent = 0;
    char *cmd = pending ? fl_xasprintf("flakectl store import --pending %s", pending)
                        : fl_xstrdup("flakectl store import");
    fl_remote_status st;
    int rc = fl_remote_exec(r, cmd, &io, &st, err);
    fl_remote_prefixer_finish(&perr);
    /* a writer blocked on a full pipe gets EPIPE once nobody reads */
    close(p[0]);
    pthread_join(th, NULL);
    *sent = pg->last_sent;
    if (e.rc < 0) {
        if (rc == 0)
            fl_remote_status_release(&st);
        fl_error_move(err, &e.err);
        free(cmd);
        return e.rc;
    }
    fl_error_clear(&e.err);
    if (rc == 0) {
        if (st.exit_signal || st.exit_status != 0)
            rc = fl_remote_explain_status(r, cmd, &st, err);
        fl_remote_status_release(&st);
    }
    free(cmd);
    return rc;
}

/* The copy itself: closure[n] in references-first order; sizes[] their NAR sizes, or NULL to
 * read them from the local store s; from != NULL relays the stream from that host. */
static int copy_closure(fl_remote *r, struct fl_store *s, fl_remote *from, char **closure,
                        const uint64_t *csizes, size_t n, const char *pending,
                        const fl_deploy_caches *caches, unsigned long long batch_bytes,
                        int err_fd, const fl_progress *progress, fl_deploy_copy_stats *st,
                        fl_error *err) {
    double t0 = fl_now_s();
    if (!batch_bytes)
        batch_bytes = DEFAULT_BATCH;
    st->paths_total = n;
    char *have = fl_xcalloc(n ? n : 1, 1);
    int rc = query_valid(r, closure, n, pending, have, err_fd, err);
    char *had = NULL;
    size_t lacking = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        lacking += !have[i];
    if (rc == 0 && lacking && caches && caches->nurls) {
        had = fl_xcalloc(n, 1);
        memcpy(had, have, n);
        rc = substitute_on_target(r, caches, closure, n, have, err_fd, err);
    }
    char **missing = fl_xcalloc(n ? n : 1, sizeof *missing);
    uint64_t *sizes = fl_xcalloc(n ? n : 1, sizeof *sizes);
    size_t nm = 0;
    unsigned long long total = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (have[i] && !(had && !had[i]))
            continue;
        if (csizes) {
            sizes[nm] = csizes[i];
        } else {
            fl_store_path_info *info = NULL;
            rc = fl_store_query_info(s, closure[i], &info, err);
            if (rc < 0)
                break;
            sizes[nm] = info->nar_size;
            fl_store_path_info_free(info);
        }
        if (have[i]) { /* substituted by the target */
            st->paths_substituted++;
            st->bytes_substituted += sizes[nm];
            continue;
        }
        total += sizes[nm];
        missing[nm++] = closure[i];
    }
    free(had);
    st->paths_missing = nm;
    copy_progress pg;
    memset(&pg, 0, sizeof pg);
    pg.to = progress;
    pg.label = fl_remote_label(r);
    pg.start = fl_now_s();
    pg.missing = nm;
    pg.closure = n;
    pg.substituted = st->paths_substituted;
    pg.substituted_bytes = st->bytes_substituted;
    if (rc == 0 && nm > 0 && from == r)
        rc = fl_error_set(err, FL_EGENERIC, "internal: %s lacks %zu paths it has just built",
                          fl_remote_label(r), nm);
    char *task = fl_xasprintf("copying to %s", pg.label);
    if (rc == 0 && nm > 0)
        fl_progress_begin(progress, task, nm, total);
    free(task);
    /* references come first in the closure order, so each batch's references are either
     * valid on the target already or in this batch */
    size_t i = 0;
    while (rc == 0 && i < nm) {
        size_t first = i;
        unsigned long long bytes = 0;
        size_t args = 0; /* a relayed batch's paths go on the export command line */
        while (i < nm &&
               (i == first || (bytes < batch_bytes &&
                               (!from || args + strlen(missing[i]) + 4 < MAX_ARGS_BYTES)))) {
            args += strlen(missing[i]) + 4;
            bytes += sizes[i++];
        }
        unsigned long long sent = 0;
        size_t imported = 0;
        rc = send_batch(r, s, from, missing + first, i - first, pending, &pg, err_fd, &sent,
                        &imported, err);
        st->bytes_sent += sent;
        pg.base += sent;
        if (rc < 0) {
            fl_error_add_frame(err,
                               "while copying %zu store paths to %s%s%s (%zu were copied "
                               "before; the next run sends only what is missing)",
                               nm - st->paths_sent, fl_remote_label(r), from ? " from " : "",
                               from ? fl_remote_label(from) : "", st->paths_sent);
            break;
        }
        st->paths_sent += i - first;
        pg.done = st->paths_sent;
        for (size_t k = first; k < i; k++)
            fl_progress_advance(progress, missing[k], sizes[k]);
    }
    st->seconds = fl_now_s() - t0;
    if (nm > 0)
        fl_progress_end(progress, rc != 0);
    if (rc == 0 && nm > 0)
        progress_result(&pg);
    if (rc == 0 && nm == 0) {
        char sb[32];
        fl_human_bytes((double)pg.substituted_bytes, sb, sizeof sb);
        char *line =
            pg.substituted
                ? fl_xasprintf("[%s] nothing to copy: the target fetched %zu paths (%s) "
                               "from caches, the other %zu were there",
                               pg.label, pg.substituted, sb, n - pg.substituted)
                : fl_xasprintf("[%s] nothing to copy: all %zu paths are there", pg.label, n);
        fl_progress_note(progress, line);
        free(line);
    }
    free(sizes);
    free(missing);
    free(have);
    return rc;
}

/* The closure of roots from the local store, the target substituting first from caches
 * (NULL = none); pending names the target's pending gc root (NULL = none). */
static int copy_roots(fl_remote *r, struct fl_store *s, char *const *roots, size_t nroots,
                      const char *pending, const fl_deploy_caches *caches,
                      unsigned long long batch_bytes, int err_fd, const fl_progress *progress,
                      fl_deploy_copy_stats *st, fl_error *err) {
    memset(st, 0, sizeof *st);
    char **closure = NULL;
    size_t n = 0;
    int rc = fl_store_closure(s, roots, nroots, &closure, &n, err);
    if (rc < 0)
        return rc;
    rc = copy_closure(r, s, NULL, closure, NULL, n, pending, caches, batch_bytes, err_fd, progress,
                      st, err);
    fl_store_free_paths(closure, n);
    return rc;
}

int fl_deploy_copy_paths(fl_remote *r, struct fl_store *s, char *const *roots, size_t nroots,
                         const fl_deploy_caches *caches, unsigned long long batch_bytes,
                         int err_fd, const fl_progress *progress, fl_deploy_copy_stats *st,
                         fl_error *err) {
    return copy_roots(r, s, roots, nroots, NULL, caches, batch_bytes, err_fd, progress, st, err);
}

int fl_deploy_copy_via_caches(fl_remote *r, struct fl_store *s, const char *toplevel,
                              const char *pending, const fl_deploy_caches *caches, int err_fd,
                              const fl_progress *progress, fl_deploy_copy_stats *st,
                              fl_error *err) {
    char *top = fl_xstrdup(toplevel);
    int rc = copy_roots(r, s, &top, 1, pending, caches, 0, err_fd, progress, st, err);
    free(top);
    return rc;
}

int fl_deploy_copy(fl_remote *r, struct fl_store *s, const char *toplevel, const char *pending,
                   unsigned long long batch_bytes, int err_fd, const fl_progress *progress,
                   fl_deploy_copy_stats *st, fl_error *err) {
    char *top = fl_xstrdup(toplevel);
    int rc = copy_roots(r, s, &top, 1, pending, NULL, batch_bytes, err_fd, progress, st, err);
    free(top);
    return rc;
}

int fl_deploy_relay(fl_remote *r, fl_remote *from, char **closure, const uint64_t *sizes, size_t n,
                    const char *pending, const fl_deploy_caches *caches,
                    unsigned long long batch_bytes, int err_fd, const fl_progress *progress,
                    fl_deploy_copy_stats *st, fl_error *err) {
    memset(st, 0, sizeof *st);
    return copy_closure(r, NULL, from, closure, sizes, n, pending, caches, batch_bytes, err_fd,
                        progress, st, err);
}
