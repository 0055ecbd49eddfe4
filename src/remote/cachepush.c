/* cachepush.c - a binary cache directory on a host reached over SSH (ssh://[user@]host[:port]
 * /DIR) as an fl_cache_writer: files are written with plain POSIX commands there (cat into a
 * temporary name, sync, mv, sync the directory), so the host needs no flakectl and a
 * half-written file never has its final name. The push order (NAR, then .narinfo) is
 * src/cache/push.c's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/cache.h"
#include "flakectl/fs.h"
#include "flakectl/remote.h"
#include "flakectl/strbuf.h"
#include "remote/internal.h"

typedef struct ssh_cache {
    fl_remote *r;
    char *dir;    /* absolute, on the host */
    char *url;    /* for messages */
    char **names; /* what DIR held when the push began, sorted */
    size_t nnames;
} ssh_cache;

static int collect(void *ctx, const char *data, size_t len, fl_error *err) {
    fl_strbuf_add(ctx, data, len);
    (void)err;
    return FL_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "<dir>/<rel>", shell-quoted, appended to sb. */
static void add_path(fl_strbuf *sb, const ssh_cache *c, const char *rel) {
    char *p = fl_path_join(c->dir, rel);
    fl_remote_shell_quote(sb, p);
    free(p);
}

static int ssh_has(void *ctx, const char *rel, fl_error *err) {
    ssh_cache *c = ctx;
    const char *key = rel;
    (void)err;
    return c->nnames && bsearch(&key, c->names, c->nnames, sizeof *c->names, cmp_str) != NULL;
}

static int ssh_get(void *ctx, const char *rel, char **data, size_t *len, fl_error *err) {
    ssh_cache *c = ctx;
    if (!ssh_has(ctx, rel, err))
        return fl_error_set(err, FL_ENOTFOUND, "%s/%s does not exist", c->url, rel);
    fl_strbuf cmd, out;
    fl_strbuf_init(&cmd, 256);
    fl_strbuf_init(&out, 256);
    fl_strbuf_adds(&cmd, "cat ");
    add_path(&cmd, c, rel);
    fl_remote_io io = FL_REMOTE_IO_INIT;
    io.stdout_cb = collect;
    io.stdout_ctx = &out;
    int rc = fl_remote_run(c->r, cmd.buf, &io, err);
    fl_strbuf_release(&cmd);
    if (rc) {
        fl_strbuf_release(&out);
        return rc;
    }
    *data = fl_strbuf_detach(&out, len);
    return FL_OK;
}

/* The command that makes rel the bytes on stdin: its directory made when missing (hosts/),
 * into a temporary name next to it, synced, renamed, the directory synced; the temporary file
 * removed on failure. */
static char *put_command(const ssh_cache *c, const char *rel) {
    fl_strbuf cmd;
    fl_strbuf_init(&cmd, 512);
    char *dest = fl_path_join(c->dir, rel);
    char *slash = strrchr(dest, '/');
    char *parent = fl_xstrndup(dest, (size_t)(slash - dest));
    fl_strbuf_adds(&cmd, "d=");
    fl_remote_shell_quote(&cmd, parent);
    fl_strbuf_adds(&cmd, "; t=\"$d\"/.tmp-flakectl-$$; if mkdir -p \"$d\" && cat > \"$t\" && "
                         "sync \"$t\" && mv -f \"$t\" ");
    fl_remote_shell_quote(&cmd, dest);
    fl_strbuf_adds(&cmd, " && sync ");
    fl_remote_shell_quote(&cmd, parent);
    fl_strbuf_adds(&cmd, "; then exit 0; else rm -f \"$t\"; exit 1; fi");
    free(parent);
    free(dest);
    return fl_strbuf_detach(&cmd, NULL);
}

static int ssh_put_file(void *ctx, const char *staged, const char *rel, fl_error *err) {
    ssh_cache *c = ctx;
    int fd = open(staged, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = fl_error_errno(err, "cannot open %s", staged);
        unlink(staged);
        return rc;
    }
    char *cmd = put_command(c, rel);
    fl_remote_io io = FL_REMOTE_IO_INIT;
    io.stdin_fd = fd;
    int rc = fl_remote_run(c->r, cmd, &io, err);
    free(cmd);
    close(fd);
    unlink(staged);
    if (rc)
        fl_error_add_frame(err, "while writing %s/%s", c->url, rel);
    return rc;
}

static int ssh_put_data(void *ctx, const char *rel, const void *data, size_t len, fl_error *err) {
    ssh_cache *c = ctx;
    char *cmd = put_command(c, rel);
    fl_remote_mem_in m = {data, len, 0};
    fl_remote_io io = FL_REMOTE_IO_INIT;
    io.stdin_cb = fl_remote_mem_read;
    io.stdin_ctx = &m;
    int rc = fl_remote_run(c->r, cmd, &io, err);
    free(cmd);
    if (rc)
        fl_error_add_frame(err, "while writing %s/%s", c->url, rel);
    return rc;
}

/* Makes DIR and DIR/nar and lists DIR and DIR/hosts (when there is one) once: what the push
 * skips (and the pointers a push replaces). hosts/ is made only by the first pointer written
 * (put_command), as a file:// push does: a cache without pointers has no hosts/. */
static int ssh_open_dir(ssh_cache *c, fl_error *err) {
    fl_strbuf cmd, out;
    fl_strbuf_init(&cmd, 256);
    fl_strbuf_init(&out, 4096);
    fl_strbuf_adds(&cmd, "mkdir -p ");
    add_path(&cmd, c, "nar");
    fl_strbuf_adds(&cmd, " && ls -1a ");
    fl_remote_shell_quote(&cmd, c->dir);
    /* the host pointers too: a new pointer's counter must exceed the one it replaces */
    fl_strbuf_adds(&cmd, " && if [ -d ");
    add_path(&cmd, c, "hosts");
    fl_strbuf_adds(&cmd, " ]; then cd ");
    add_path(&cmd, c, "hosts");
    fl_strbuf_adds(&cmd, " && ls -1a | sed 's|^|hosts/|'; fi");
    fl_remote_io io = FL_REMOTE_IO_INIT;
    io.stdout_cb = collect;
    io.stdout_ctx = &out;
    int rc = fl_remote_run(c->r, cmd.buf, &io, err);
    fl_strbuf_release(&cmd);
    for (char *line = out.buf; !rc && line && *line;) {
        char *eol = strchr(line, '\n');
        size_t n = eol ? (size_t)(eol - line) : strlen(line);
        if (n) {
            c->names = fl_xrealloc(c->names, (c->nnames + 1) * sizeof *c->names);
            c->names[c->nnames++] = fl_xstrndup(line, n);
        }
        line = eol ? eol + 1 : NULL;
    }
    fl_strbuf_release(&out);
    if (c->nnames)
        qsort(c->names, c->nnames, sizeof *c->names, cmp_str);
    return rc;
}

int fl_remote_cache_push(const char *url, const fl_remote_opts *ro, fl_store *s, char *const *paths,
                         size_t npaths, const fl_cache_push_opts *opts, fl_cache_push_result *res,
                         fl_error *err) {
    memset(res, 0, sizeof *res);
    const char *rest = !strncmp(url, "ssh://", 6) ? url + 6 : NULL;
    const char *slash = rest ? strchr(rest, '/') : NULL;
    if (!slash || slash == rest || !slash[1]) {
        int rc = fl_error_set(err, FL_EUSAGE,
                              "cache URL '%s': expected ssh://[USER@]HOST[:PORT]/DIR", url);
        fl_error_set_hint(err, "DIR is an absolute path on the host, e.g. "
                               "ssh://root@cache.example.org/srv/cache");
        return rc;
    }
    char *spec = fl_xstrndup(rest, (size_t)(slash - rest));
    fl_remote_target t;
    memset(&t, 0, sizeof t);
    ssh_cache c;
    memset(&c, 0, sizeof c);
    c.url = fl_xstrdup(url);
    size_t dl = strlen(slash);
    while (dl > 1 && slash[dl - 1] == '/')
        dl--;
    c.dir = fl_xstrndup(slash, dl);
    char *stage = NULL;
    int rc = fl_remote_target_parse(spec, &t, err);
    if (!rc)
        rc = fl_remote_connect(&t, ro, &c.r, err);
    if (!rc)
        rc = ssh_open_dir(&c, err);
    if (!rc) {
        const char *tmp = getenv("TMPDIR");
        stage = fl_make_temp_dir(tmp && *tmp ? tmp : "/tmp", "flakectl-push-", err);
        if (!stage)
            rc = FL_EIO;
    }
    if (!rc) {
        /* one SSH connection: one file at a time */
        fl_cache_writer w = {&c, c.url, stage, ssh_has, ssh_get, ssh_put_file, ssh_put_data, 1, NULL};
        rc = fl_cache_push_to(s, &w, paths, npaths, opts, res, err);
    }
    if (stage) {
        fl_error e = FL_ERROR_INIT;
        fl_remove_tree(stage, &e);
        fl_error_clear(&e);
        free(stage);
    }
    fl_store_free_paths(c.names, c.nnames);
    fl_remote_close(c.r);
    fl_remote_target_release(&t);
    free(c.dir);
    free(c.url);
    free(spec);
    return rc;
}
