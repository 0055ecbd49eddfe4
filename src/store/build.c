/* build.c - derivation builds: the drv fingerprint, running a builder in an empty directory
 * with a cleared environment, normalizing its output, scanning it for references and
 * registering it; fixed-output derivations (outputHash, Nix's builtin:fetchurl) verified
 * against their hash before they are registered. Also the reference scanner. Never
 * sandboxes beyond that: builders run as the calling user (docs/store.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/strbuf.h"
#include "store/store_int.h"

#define LOG_TAIL_LINES 25

/* ---- reference scanning ----------------------------------------------------------------- */

static unsigned char is_b32[256];
static pthread_once_t is_b32_once = PTHREAD_ONCE_INIT;

/* Once per process: several hosts' builds scan at the same time, and a table seen half
 * filled would miss references. */
static void is_b32_init(void) {
    for (int c = 0; c < 256; c++)
        is_b32[c] = (unsigned char)fl_base32_valid_char((char)c);
}

static int cmp_cand(const void *a, const void *b) {
    return memcmp(((const fl_ref_cand *)a)->hash, ((const fl_ref_cand *)b)->hash,
                  FL_STORE_HASH_LEN);
}

void fl_ref_scanner_init(fl_ref_scanner *sc, const fl_store *s, char *const *paths, size_t n) {
    pthread_once(&is_b32_once, is_b32_init);
    memset(sc, 0, sizeof *sc);
    sc->cands = fl_xcalloc(n + 1, sizeof *sc->cands);
    for (size_t i = 0; i < n; i++) {
        const char *hp = fl_store_hash_part(s, paths[i]);
        if (!hp)
            continue;
        memcpy(sc->cands[sc->n].hash, hp, FL_STORE_HASH_LEN);
        sc->cands[sc->n].path = fl_xstrdup(paths[i]);
        sc->n++;
    }
    qsort(sc->cands, sc->n, sizeof *sc->cands, cmp_cand);
    sc->found = fl_xcalloc(sc->n + 1, 1);
}

void fl_ref_scanner_release(fl_ref_scanner *sc) {
    for (size_t i = 0; i < sc->n; i++)
        free(sc->cands[i].path);
    free(sc->cands);
    free(sc->found);
    memset(sc, 0, sizeof *sc);
}

/* Checks windows starting at [0, limit) that fit in buf; skips ahead past any character
 * outside the alphabet, so most bytes are looked at once. */
static void scan(fl_ref_scanner *sc, const unsigned char *buf, size_t n, size_t limit) {
    size_t i = 0;
    while (i < limit && i + FL_STORE_HASH_LEN <= n) {
        int j;
        for (j = FL_STORE_HASH_LEN - 1; j >= 0; j--)
            if (!is_b32[buf[i + (size_t)j]])
                break;
        if (j >= 0) {
            i += (size_t)j + 1;
            continue;
        }
        fl_ref_cand key = {{0}, NULL};
        memcpy(key.hash, buf + i, FL_STORE_HASH_LEN);
        fl_ref_cand *hit = bsearch(&key, sc->cands, sc->n, sizeof key, cmp_cand);
        if (hit)
            sc->found[hit - sc->cands] = 1;
        i++;
    }
}

void fl_ref_scanner_feed(fl_ref_scanner *sc, const unsigned char *data, size_t len) {
    if (sc->n == 0)
        return;
    if (sc->tail_len > 0) {
        unsigned char edge[2 * FL_STORE_HASH_LEN];
        size_t take = len < FL_STORE_HASH_LEN - 1 ? len : FL_STORE_HASH_LEN - 1;
        memcpy(edge, sc->tail, sc->tail_len);
        memcpy(edge + sc->tail_len, data, take);
        scan(sc, edge, sc->tail_len + take, sc->tail_len);
    }
    scan(sc, data, len, len);
    /* Keep the last HASH_LEN-1 bytes of everything seen so far. */
    size_t keep = FL_STORE_HASH_LEN - 1;
    if (len >= keep) {
        memcpy(sc->tail, data + len - keep, keep);
        sc->tail_len = keep;
    } else {
        size_t total = sc->tail_len + len;
        size_t drop = total > keep ? total - keep : 0;
        memmove(sc->tail, sc->tail + drop, sc->tail_len - drop);
        memcpy(sc->tail + sc->tail_len - drop, data, len);
        sc->tail_len = total - drop;
    }
}

/* ---- the drv ---------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_field(fl_strbuf *sb, const char *key, const char *val) {
    fl_strbuf_addf(sb, "%s %zu:", key, strlen(val));
    fl_strbuf_adds(sb, val);
    fl_strbuf_addch(sb, '\n');
}

typedef struct drv_plan {
    char *text;     /* the canonical serialization (docs/store.md) */
    char *out;      /* output path */
    char *drv_name; /* "<name>.drv" */
    char **inputs;  /* sorted, unique, owned */
    size_t ninputs;
    /* fixed-output derivations (outputHash set): the declared hash decides the path */
    int fixed, recursive, executable;
    unsigned char fixed_hash[FL_SHA256_LEN];
    const char *url;  /* builtin:fetchurl's url (borrowed from the drv's env) */
    const char *urls; /* and its urls: space-separated, tried in order (may be NULL) */
} drv_plan;

#define BUILTIN_FETCHURL "builtin:fetchurl"

/* The value of NAME in a drv's env ("NAME=value"), or NULL. */
static const char *env_get(const fl_store_drv *drv, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < drv->nenv; i++)
        if (!strncmp(drv->env[i], name, n) && drv->env[i][n] == '=')
            return drv->env[i] + n + 1;
    return NULL;
}

/* Nix's fixed-output rules: outputHash (with outputHashAlgo unless it is SRI) fixes the
 * output path from the hash alone, flat (a single file's SHA-256) or recursive (the NAR's).
 * Its errors are the configuration's (exit 1), not the command line's. */
static int plan_fixed(fl_store *s, const fl_store_drv *drv, drv_plan *p, fl_error *err) {
    const char *hash = env_get(drv, "outputHash");
    int fetch = !strcmp(drv->builder, BUILTIN_FETCHURL);
    if (!hash) {
        if (!fetch)
            return FL_OK;
        int rc = fl_error_set(err, FL_EEVAL, "derivation '%s': %s needs outputHash", drv->name,
                              BUILTIN_FETCHURL);
        fl_error_set_hint(err, "a download is only trusted with its hash: pkgs.fetchurl { url = "
                               "\"...\"; hash = \"sha256-...\"; }");
        return rc;
    }
    const char *algo = env_get(drv, "outputHashAlgo");
    const char *mode = env_get(drv, "outputHashMode");
    if (fl_hash_parse_output(hash, algo, p->fixed_hash) < 0) {
        int rc = fl_error_set(err, FL_EEVAL,
                              "derivation '%s': outputHash '%s' (outputHashAlgo '%s') is not a "
                              "sha256 hash flakectl can read",
                              drv->name, hash, algo ? algo : "");
        fl_error_set_hint(err, "write it as SRI (hash = \"sha256-<base64>\") or as sha256 = "
                               "\"<64 hex or 52 base32 characters>\"; flakectl checks sha256 only");
        return rc;
    }
    if (mode && *mode && strcmp(mode, "flat") && strcmp(mode, "recursive"))
        return fl_error_set(err, FL_EEVAL,
                            "derivation '%s': outputHashMode must be \"flat\" or \"recursive\", "
                            "not \"%s\"",
                            drv->name, mode);
    p->fixed = 1;
    p->recursive = mode && !strcmp(mode, "recursive");
    if (fetch) {
        const char *unpack = env_get(drv, "unpack");
        const char *exe = env_get(drv, "executable");
        p->url = env_get(drv, "url");
        p->urls = env_get(drv, "urls");
        p->executable = exe && *exe;
        if (!p->url || !*p->url)
            return fl_error_set(err, FL_EEVAL, "derivation '%s': %s needs a url", drv->name,
                                BUILTIN_FETCHURL);
        if (unpack && *unpack)
            return fl_error_set(err, FL_EEVAL,
                                "derivation '%s': %s cannot unpack archives (unpack = true) in "
                                "flakectl; fetch the file and unpack it with runCommand",
                                drv->name, BUILTIN_FETCHURL);
        if (p->executable != p->recursive)
            return fl_error_set(err, FL_EEVAL,
                                "derivation '%s': %s hashes an executable download recursively "
                                "(outputHashMode = \"recursive\") and a plain one flat",
                                drv->name, BUILTIN_FETCHURL);
    }
    p->out = fl_store_make_fixed_path(fl_store_dir(s), p->recursive, p->fixed_hash, drv->name);
    return FL_OK;
}

static void plan_release(drv_plan *p) {
    free(p->text);
    free(p->out);
    free(p->drv_name);
    fl_store_free_paths(p->inputs, p->ninputs);
}

/* planned: the inputs may be outputs not built yet (a --build-host plan); they must still be
 * store paths of this store. */
static int make_plan(fl_store *s, const fl_store_drv *drv, drv_plan *p, int planned,
                     fl_error *err) {
    memset(p, 0, sizeof *p);
    if (!drv->name || !drv->builder)
        return fl_error_set(err, FL_EPARSE, "a derivation needs a name and a builder");
    int rc = fl_store_check_name(drv->name, err);
    if (rc)
        return rc;
    p->drv_name = fl_xasprintf("%s.drv", drv->name);
    if ((rc = fl_store_check_name(p->drv_name, err)) != 0)
        return rc;
    if (drv->builder[0] != '/' && strcmp(drv->builder, BUILTIN_FETCHURL) != 0) {
        rc = fl_error_set(err, FL_EPARSE,
                          "derivation '%s': the builder '%s' is not an absolute path", drv->name,
                          drv->builder);
        fl_error_set_hint(err, "use e.g. /bin/sh or a path inside an input");
        return rc;
    }
    char **env = fl_xcalloc(drv->nenv + 1, sizeof *env);
    for (size_t i = 0; i < drv->nenv; i++) {
        const char *eq = strchr(drv->env[i], '=');
        if (!eq || eq == drv->env[i]) {
            free(env);
            return fl_error_set(err, FL_EPARSE,
                                "derivation '%s': environment entry '%s' is not NAME=value",
                                drv->name, drv->env[i]);
        }
        if (eq - drv->env[i] == 3 && !strncmp(drv->env[i], "out", 3)) {
            free(env);
            return fl_error_set(err, FL_EPARSE,
                                "derivation '%s': 'out' is set by the store, not the derivation",
                                drv->name);
        }
        env[i] = (char *)drv->env[i];
    }
    qsort(env, drv->nenv, sizeof *env, cmp_str);
    for (size_t i = 1; i < drv->nenv; i++) {
        size_t n = (size_t)(strchr(env[i], '=') - env[i]);
        if (!strncmp(env[i], env[i - 1], n + 1)) {
            rc = fl_error_set(err, FL_EPARSE, "derivation '%s': '%.*s' is set twice", drv->name,
                              (int)n, env[i]);
            free(env);
            return rc;
        }
    }
    p->inputs = fl_xcalloc(drv->ninputs + 1, sizeof *p->inputs);
    for (size_t i = 0; i < drv->ninputs; i++) {
        if (planned ? !fl_store_is_store_path(s, drv->inputs[i])
                    : !fl_store_is_valid(s, drv->inputs[i])) {
            free(env);
            return fl_error_set(err, FL_ENOTFOUND, "derivation '%s': input %s is not valid",
                                drv->name, drv->inputs[i]);
        }
        p->inputs[p->ninputs++] = fl_xstrdup(drv->inputs[i]);
    }
    qsort(p->inputs, p->ninputs, sizeof *p->inputs, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < p->ninputs; i++) {
        if (k > 0 && !strcmp(p->inputs[k - 1], p->inputs[i]))
            free(p->inputs[i]);
        else
            p->inputs[k++] = p->inputs[i];
    }
    p->ninputs = k;
    fl_strbuf sb;
    fl_strbuf_init(&sb, 256);
    fl_strbuf_adds(&sb, "flakectl-drv 1\n");
    add_field(&sb, "name", drv->name);
    add_field(&sb, "builder", drv->builder);
    for (size_t i = 0; i < drv->nargs; i++)
        add_field(&sb, "arg", drv->args[i]);
    for (size_t i = 0; i < drv->nenv; i++)
        add_field(&sb, "env", env[i]);
    for (size_t i = 0; i < p->ninputs; i++)
        add_field(&sb, "input", p->inputs[i]);
    free(env);
    p->text = fl_strbuf_detach(&sb, NULL);
    if ((rc = plan_fixed(s, drv, p, err)) != 0 || p->fixed)
        return rc;
    unsigned char h[FL_SHA256_LEN];
    fl_sha256_buf(p->text, strlen(p->text), h);
    p->out = fl_store_make_path(fl_store_dir(s), "output:out", h, drv->name);
    return FL_OK;
}

static int drv_output(fl_store *s, const fl_store_drv *drv, int planned, char **out_path,
                      fl_error *err) {
    drv_plan p;
    int rc = make_plan(s, drv, &p, planned, err);
    if (!rc) {
        *out_path = p.out;
        p.out = NULL;
    }
    plan_release(&p);
    return rc;
}

int fl_store_drv_output(fl_store *s, const fl_store_drv *drv, char **out_path, fl_error *err) {
    return drv_output(s, drv, 0, out_path, err);
}

int fl_store_drv_output_planned(fl_store *s, const fl_store_drv *drv, char **out_path,
                                fl_error *err) {
    return drv_output(s, drv, 1, out_path, err);
}

/* ---- running the builder ---------------------------------------------------------------- */

static char **make_env(fl_store *s, const fl_store_drv *drv, const drv_plan *p, const char *top) {
    fl_strbuf path;
    fl_strbuf_init(&path, 0);
    for (size_t i = 0; i < p->ninputs; i++) {
        char *bin = fl_path_join(p->inputs[i], "bin");
        if (fl_is_dir(bin)) {
            if (path.len)
                fl_strbuf_addch(&path, ':');
            fl_strbuf_adds(&path, bin);
        }
        free(bin);
    }
    if (!path.len)
        fl_strbuf_adds(&path, "/path-not-set");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char **env = fl_xcalloc(16 + drv->nenv, sizeof *env);
    size_t n = 0;
    env[n++] = fl_xasprintf("out=%s", p->out);
    env[n++] = fl_xasprintf("PATH=%s", path.buf);
    env[n++] = fl_xstrdup("HOME=/homeless-shelter");
    env[n++] = fl_xasprintf("NIX_BUILD_CORES=%ld", cores > 0 ? cores : 1);
    env[n++] = fl_xasprintf("NIX_BUILD_TOP=%s", top);
    env[n++] = fl_xasprintf("NIX_STORE=%s", fl_store_dir(s));
    env[n++] = fl_xasprintf("TMPDIR=%s", top);
    env[n++] = fl_xasprintf("TMP=%s", top);
    env[n++] = fl_xasprintf("TEMP=%s", top);
    env[n++] = fl_xasprintf("TEMPDIR=%s", top);
    env[n++] = fl_xasprintf("PWD=%s", top);
    fl_strbuf_release(&path);
    /* The drv's own settings win over the defaults above (but never over out). */
    for (size_t i = 0; i < drv->nenv; i++) {
        size_t klen = (size_t)(strchr(drv->env[i], '=') - drv->env[i]);
        for (size_t k = 1; k < n; k++) {
            if (!strncmp(env[k], drv->env[i], klen + 1)) {
                free(env[k]);
                env[k] = env[--n];
                break;
            }
        }
        env[n++] = fl_xstrdup(drv->env[i]);
    }
    env[n] = NULL;
    return env;
}

static char *log_tail(const char *log) {
    char *data = NULL;
    size_t len = 0;
    fl_error e = FL_ERROR_INIT;
    if (fl_read_file(log, &data, &len, &e)) {
        fl_error_clear(&e);
        return fl_xstrdup("(no log)");
    }
    while (len > 0 && data[len - 1] == '\n')
        data[--len] = '\0';
    size_t start = len;
    int lines = 0;
    while (start > 0 && lines < LOG_TAIL_LINES) {
        start--;
        if (data[start] == '\n')
            lines++;
    }
    if (data[start] == '\n')
        start++;
    char *out = len == 0 ? fl_xstrdup("(the log is empty)") : fl_xstrdup(data + start);
    free(data);
    return out;
}

static int run_builder(fl_store *s, const fl_store_drv *drv, const drv_plan *p, const char *top,
                       const char *log, fl_error *err) {
    int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (logfd < 0)
        return fl_error_errno(err, "cannot create the build log %s", log);
    char **env = make_env(s, drv, p, top);
    const char **argv = fl_xcalloc(drv->nargs + 2, sizeof *argv);
    const char *prog = drv->run ? drv->run : drv->builder;
    argv[0] = drv->builder;
    for (size_t i = 0; i < drv->nargs; i++)
        argv[i + 1] = drv->args[i];
    pid_t pid = fork();
    if (pid == 0) {
        /* Child: only async-signal-safe calls from here on. */
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
            chdir(top) < 0)
            _exit(126);
        setpgid(0, 0);
        /* A builder must not outlive a killed flakectl and write into a path that the next
         * build is about to clean up. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(126);
        umask(022);
        execve(prog, (char *const *)argv, env);
        static const char msg[] = "flakectl: cannot execute the builder: ";
        const char *why = strerror(errno);
        if (write(2, msg, sizeof msg - 1) < 0 || write(2, why, strlen(why)) < 0 ||
            write(2, "\n", 1) < 0)
            _exit(127);
        _exit(127);
    }
    int saved = errno;
    close(logfd);
    for (char **e = env; *e; e++)
        free(*e);
    free(env);
    free(argv);
    if (pid < 0) {
        errno = saved;
        return fl_error_errno(err, "cannot start the builder of '%s'", drv->name);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return fl_error_errno(err, "cannot wait for the builder of '%s'", drv->name);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        struct stat st;
        if (lstat(p->out, &st) == 0)
            return FL_OK;
        char *tail = log_tail(log);
        int rc = fl_error_set(err, FL_EGENERIC,
                              "builder for '%s' succeeded but did not create $out (%s); last "
                              "lines of its log:\n%s",
                              drv->name, p->out, tail);
        free(tail);
        fl_error_set_hint(err, "the builder must write its result to the path in $out");
        return rc;
    }
    char *tail = log_tail(log);
    char how[64];
    if (WIFEXITED(status))
        snprintf(how, sizeof how, "exit code %d", WEXITSTATUS(status));
    else
        snprintf(how, sizeof how, "signal %d", WTERMSIG(status));
    int rc = fl_error_set(err, FL_EGENERIC,
                          "builder for '%s' failed with %s; last lines of its log:\n%s", drv->name,
                          how, tail);
    fl_error_set_hint(err, "full log: %s", log);
    free(tail);
    return rc;
}

typedef struct scan_sink {
    fl_hash_sink h;
    fl_ref_scanner sc;
} scan_sink;

static int scan_sink_write(void *ctx, const void *data, size_t len, fl_error *err) {
    scan_sink *ss = ctx;
    fl_ref_scanner_feed(&ss->sc, data, len);
    return fl_hash_sink_write(&ss->h, data, len, err);
}

static void remove_quietly(const char *path) {
    fl_error e = FL_ERROR_INIT;
    fl_remove_tree(path, &e);
    fl_error_clear(&e);
}

/* ---- fixed outputs ---------------------------------------------------------------------- */

/* SHA-256 of a regular file's contents (a flat fixed output must be exactly one file). */
int fl_store_hash_flat(const char *path, unsigned char h[FL_SHA256_LEN], fl_error *err) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fl_error_errno(err, "cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fl_error_set(err, FL_EGENERIC,
                            "%s is not a regular file: a flat fixed output (outputHashMode = "
                            "\"flat\") must be exactly one file",
                            path);
    }
    fl_sha256 sha;
    fl_sha256_init(&sha);
    unsigned char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int rc = fl_error_errno(err, "cannot read %s", path);
            fl_sha256_final(&sha, h);
            close(fd);
            return rc;
        }
        fl_sha256_update(&sha, buf, (size_t)n);
    }
    fl_sha256_final(&sha, h);
    close(fd);
    return FL_OK;
}

/* Checks the output at path against the declared hash and fills info's NAR hash and size.
 * A mismatch names both hashes in SRI form, as Nix does, and where the content came from. */
static int verify_fixed(const drv_plan *p, const char *path, const char *from,
                        fl_store_path_info *info, fl_error *err) {
    unsigned char got[FL_SHA256_LEN];
    int rc = fl_nar_hash_path(path, info->nar_hash, &info->nar_size, err);
    if (!rc) {
        if (p->recursive)
            memcpy(got, info->nar_hash, sizeof got);
        else
            rc = fl_store_hash_flat(path, got, err);
    }
    if (rc || !memcmp(got, p->fixed_hash, sizeof got))
        return rc;
    char *want_s = fl_hash_format_sri(p->fixed_hash), *got_s = fl_hash_format_sri(got);
    rc = fl_error_set(err, FL_ECONFLICT,
                      "hash mismatch in fixed-output derivation '%s'%s%s:\n  specified: %s\n  "
                      "got:       %s",
                      p->out, from ? " downloaded from " : "", from ? from : "", want_s, got_s);
    fl_error_set_hint(err,
                      "nothing was added to the store; if the new content is the one you "
                      "want, declare the hash after 'got:' (hash = \"%s\")",
                      got_s);
    free(want_s);
    free(got_s);
    return rc;
}

/* libcurl's progress, passed on to the store's reporter with the URL. */
typedef struct report_ctx {
    fl_store_fetch_report_fn fn;
    void *ctx;
    const char *url;
} report_ctx;

static int on_fetch_progress(void *p, uint64_t received, uint64_t total) {
    report_ctx *r = p;
    r->fn(r->ctx, r->url, FL_FETCH_PROGRESS, received, total);
    return 0;
}

/* Downloads the first of p's URLs that answers into fd (truncated before each attempt), like
 * Nix's builtin:fetchurl with a list of mirrors; *from is the URL used. When none answers,
 * the error names each URL with its reason. */
static int download_any(fl_store *s, const drv_plan *p, int fd, const char **from, char **owned,
                        fl_error *err) {
    report_ctx r = {NULL, NULL, NULL};
    fl_store_fetch_reporter(s, &r.fn, &r.ctx);
    char *list = fl_xstrdup(p->urls && *p->urls ? p->urls : p->url);
    fl_strbuf why;
    fl_strbuf_init(&why, 0);
    int rc = FL_ENET, tried = 0;
    char *save = NULL;
    for (char *u = strtok_r(list, " ", &save); u; u = strtok_r(NULL, " ", &save)) {
        if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
            rc = fl_error_errno(err, "cannot reset the download file");
            break;
        }
        fl_error_clear(err);
        tried++;
        r.url = u;
        if (r.fn)
            r.fn(r.ctx, u, FL_FETCH_START, 0, 0);
        rc = fl_fetch_url_to_fd(u, fd, r.fn ? on_fetch_progress : NULL, &r, err);
        if (!rc) {
            if (r.fn)
                r.fn(r.ctx, u, FL_FETCH_DONE, (uint64_t)lseek(fd, 0, SEEK_CUR), 0);
            *owned = fl_xstrdup(u);
            *from = *owned;
            break;
        }
        fl_strbuf_addf(&why, "\n  %s", err->message ? err->message : u);
    }
    if (rc && tried > 1)
        rc = fl_error_set(err, FL_ENET, "cannot download any of the %d URLs of '%s':%s", tried,
                          p->out, why.buf);
    if (rc && tried > 0)
        fl_error_set_hint(err, "check the URL and that this machine can reach it (http_proxy and "
                               "https_proxy are honoured); nothing was added to the store. Without "
                               "network, a fetchurl of a copy (file://) with the same name and "
                               "hash makes this very path valid (docs/packages-upstream.md)");
    fl_strbuf_release(&why);
    free(list);
    return rc;
}

/* builtin:fetchurl under the output's lock: download into a temp dir inside the store, sync,
 * verify, and only then move into place and register. A kill at any point leaves at most an
 * unregistered temp dir (garbage for gc and store verify --repair). */
static int fetch_locked(fl_store *s, const drv_plan *p, const char *drv_path, fl_error *err) {
    char *tmp = fl_store_temp_dir(s, err);
    if (!tmp)
        return FL_EIO;
    char *file = fl_path_join(tmp, "x"), *owned = NULL;
    const char *from = p->url;
    fl_store_path_info info = {0};
    int rc = FL_OK;
    int fd = open(file, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        rc = fl_error_errno(err, "cannot create %s", file);
    if (!rc)
        rc = download_any(s, p, fd, &from, &owned, err);
    if (!rc && fsync(fd) < 0)
        rc = fl_error_errno(err, "cannot sync the download of %s", from);
    if (fd >= 0 && close(fd) < 0 && !rc)
        rc = fl_error_errno(err, "cannot write the download of %s", from);
    if (!rc && p->executable && chmod(file, 0755) < 0)
        rc = fl_error_errno(err, "cannot make %s executable", file);
    if (!rc)
        rc = fl_store_normalize_tree(file, err);
    if (!rc)
        rc = verify_fixed(p, file, from, &info, err);
    if (!rc)
        rc = fl_store_sync_fs(file, err);
    if (!rc) {
        info.path = p->out;
        info.deriver = (char *)drv_path;
        info.registration_time = fl_store_now();
        rc = fl_store_commit(s, file, &info, err);
    }
    remove_quietly(tmp);
    free(tmp);
    free(file);
    free(owned);
    return rc;
}

/* The NAR hash and size of a built output and its references: the hash parts of every path
 * in the inputs' closure, and its own, found in its bytes. info->refs is owned (sorted). */
static int scan_output(fl_store *s, const drv_plan *p, fl_store_path_info *info, fl_error *err) {
    char **cl = NULL;
    size_t ncl = 0;
    int rc = fl_store_closure(s, p->inputs, p->ninputs, &cl, &ncl, err);
    if (rc)
        return rc;
    cl = fl_xrealloc(cl, (ncl + 1) * sizeof *cl);
    cl[ncl++] = fl_xstrdup(p->out); /* self-references are references too */
    scan_sink ss;
    memset(&ss, 0, sizeof ss);
    fl_sha256_init(&ss.h.sha);
    fl_ref_scanner_init(&ss.sc, s, cl, ncl);
    rc = fl_nar_dump(p->out, scan_sink_write, &ss, NULL, err);
    fl_sha256_final(&ss.h.sha, info->nar_hash);
    info->nar_size = ss.h.size;
    info->refs = fl_xcalloc(ss.sc.n + 1, sizeof *info->refs);
    for (size_t i = 0; i < ss.sc.n; i++)
        if (ss.sc.found[i])
            info->refs[info->nrefs++] = fl_xstrdup(ss.sc.cands[i].path);
    fl_ref_scanner_release(&ss.sc);
    fl_store_free_paths(cl, ncl);
    return rc;
}

/* Runs the builder under the output's lock and registers the result. */
static int build_locked(fl_store *s, const fl_store_drv *drv, const drv_plan *p,
                        const char *drv_path, fl_error *err) {
    if (fl_path_exists(p->out)) {
        int rc = fl_remove_tree(p->out, err); /* unregistered: a leftover of a crash */
        if (rc)
            return rc;
    }
    char *tmproot = fl_path_join(fl_store_state_dir(s), "tmp");
    char *logdir = fl_path_join(fl_store_state_dir(s), "log");
    char *log = fl_xasprintf("%s/%s.log", logdir, p->out + strlen(fl_store_dir(s)) + 1);
    char *top = NULL;
    int rc = fl_mkdir_p(tmproot, 0755, err);
    if (!rc)
        rc = fl_mkdir_p(logdir, 0755, err);
    if (!rc && !(top = fl_make_temp_dir(tmproot, "build-", err)))
        rc = FL_EIO;
    if (!rc)
        rc = run_builder(s, drv, p, top, log, err);
    if (!rc)
        rc = fl_store_normalize_tree(p->out, err);
    /* A fixed output is trusted for its hash alone, so it has no references to scan. */
    fl_store_path_info info = {0};
    if (!rc)
        rc = p->fixed ? verify_fixed(p, p->out, NULL, &info, err) : scan_output(s, p, &info, err);
    if (!rc) {
        info.path = p->out;
        info.deriver = (char *)drv_path;
        info.registration_time = fl_store_now();
        rc = fl_store_sync_fs(p->out, err);
    }
    if (!rc)
        rc = fl_registry_write(s, &info, err);
    fl_store_free_paths(info.refs, info.nrefs);
    if (rc)
        remove_quietly(p->out);
    if (top)
        remove_quietly(top);
    free(top);
    free(tmproot);
    free(logdir);
    free(log);
    return rc;
}

int fl_store_build(fl_store *s, const fl_store_drv *drv, char **out_path, fl_error *err) {
    drv_plan p;
    int rc = make_plan(s, drv, &p, 0, err);
    if (rc) {
        plan_release(&p);
        return rc;
    }
    if (fl_store_is_valid(s, p.out)) {
        *out_path = p.out;
        p.out = NULL;
        plan_release(&p);
        return FL_OK;
    }
    /* A cache that has the output saves the build (and the .drv: the output names it). */
    rc = fl_store_substitute(s, p.out, err);
    if (rc == 1) {
        *out_path = p.out;
        p.out = NULL;
        plan_release(&p);
        return FL_OK;
    }
    if (rc < 0) {
        fl_error_add_frame(err, "while substituting %s", p.out);
        plan_release(&p);
        return rc;
    }
    char *drv_path = NULL;
    rc = fl_store_add_text(s, p.drv_name, p.text, strlen(p.text), p.inputs, p.ninputs, &drv_path,
                           err);
    int lock = -1;
    if (!rc)
        rc = fl_store_lock_path(s, p.out, &lock, err);
    if (!rc && !fl_store_is_valid(s, p.out)) {
        if (!p.url)
            fl_progress_item(fl_store_progress(s), p.out);
        rc = p.url ? fetch_locked(s, &p, drv_path, err) : build_locked(s, drv, &p, drv_path, err);
        if (!rc && !p.url)
            fl_progress_advance(fl_store_progress(s), NULL, 0);
    }
    fl_store_unlock_path(lock);
    free(drv_path);
    if (rc) {
        fl_error_add_frame(err, "while building %s", p.out);
        plan_release(&p);
        return rc;
    }
    *out_path = p.out;
    p.out = NULL;
    plan_release(&p);
    return FL_OK;
}
