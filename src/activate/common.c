/* common.c - loading toplevels, the closure check and the small helpers the activation steps
 * share (hashing, JSON state files, running a program, the root's own files resolved
 * beneath it). Never follows a link in the root: every path there goes through
 * util/beneath.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "activate/internal.h"
#include "flakectl/beneath.h"
#include "flakectl/fs.h"
#include "flakectl/store.h"

extern char **environ;

const char *fl_act_jstr(const json_t *o, const char *key, const char *dflt) {
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

static void hex(const unsigned char *d, unsigned n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void fl_act_sha256_mem(const void *data, size_t len, char out[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    hex(md, n, out);
}

int fl_act_sha256_file(const char *path, char out[65]) {
    char *data;
    size_t len;
    if (fl_read_file(path, &data, &len, NULL))
        return -1;
    fl_act_sha256_mem(data, len, out);
    free(data);
    return 0;
}

int fl_act_load_json(const char *path, json_t **out, fl_error *err) {
    *out = NULL;
    if (!fl_path_exists(path))
        return FL_OK;
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        fl_error_set(err, FL_EPARSE, "%s", je.text);
        fl_error_set_loc(err, path, je.line, je.column);
        return FL_EPARSE;
    }
    *out = j;
    return FL_OK;
}

int fl_act_save_json(const char *path, const json_t *j, fl_error *err) {
    return fl_act_save_json_ex(path, j, 0, err);
}

int fl_act_save_json_ex(const char *path, const json_t *j, int flags, fl_error *err) {
    char *s = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
    char *dir = fl_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    int rc = fl_mkdir_p(dir, 0755, err);
    if (!rc)
        rc = fl_atomic_write_file_ex(path, s, strlen(s), 0644, flags, err);
    free(dir);
    free(s);
    return rc;
}

int fl_act_run(char *const argv[], char *const env_extra[], const char *cwd, int *status,
               fl_error *err) {
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    while (env_extra && env_extra[k])
        k++;
    char **env = fl_xcalloc(n + k + 1, sizeof(char *));
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        env[m++] = env_extra[i];
    /* Our entries win: drop inherited ones with the same name. */
    for (size_t i = 0; i < n; i++) {
        int shadowed = 0;
        for (size_t j = 0; j < k && !shadowed; j++) {
            const char *eq = strchr(env_extra[j], '=');
            size_t len = eq ? (size_t)(eq - env_extra[j]) + 1 : strlen(env_extra[j]);
            shadowed = !strncmp(environ[i], env_extra[j], len);
        }
        if (!shadowed)
            env[m++] = environ[i];
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        free(env);
        return fl_error_errno(err, "cannot start %s", argv[0]);
    }
    if (pid == 0) {
        /* The child's stdout goes to stderr so plans on stdout stay machine-readable. */
        dup2(2, 1);
        if (cwd && chdir(cwd) < 0)
            _exit(127);
        execvpe(argv[0], argv, env);
        _exit(127);
    }
    free(env);
    int ws;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR)
            return fl_error_errno(err, "cannot wait for %s", argv[0]);
    }
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    return FL_OK;
}

int fl_act_run_as(char *const argv[], const fl_act_runas *as, fl_strbuf *out, int *status,
                  fl_error *err) {
    int fds[2] = {-1, -1};
    if (out && pipe2(fds, O_CLOEXEC) < 0)
        return fl_error_errno(err, "cannot start %s", argv[0]);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        if (out) {
            close(fds[0]);
            close(fds[1]);
        }
        return fl_error_errno(err, "cannot start %s", argv[0]);
    }
    if (pid == 0) {
        /* Without a capture the child's stdout goes to stderr, as fl_act_run's does. */
        dup2(out ? fds[1] : 2, 1);
        if (as && as->uid &&
            (setgroups(0, NULL) < 0 || setgid(as->gid) < 0 || setuid(as->uid) < 0))
            _exit(126);
        if (as && as->home)
            setenv("HOME", as->home, 1);
        if (as && as->runtime_dir)
            setenv("XDG_RUNTIME_DIR", as->runtime_dir, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (out) {
        close(fds[1]);
        char buf[4096];
        for (;;) {
            ssize_t n = read(fds[0], buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            fl_strbuf_add(out, buf, (size_t)n);
        }
        close(fds[0]);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR)
            return fl_error_errno(err, "cannot wait for %s", argv[0]);
    }
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    return FL_OK;
}

/* ---- the root's own files ---- */

/* Replaces path beneath root by a symlink to target (target non-NULL) or a file holding
 * data; directories made for it are removed again when the replacement fails. */
static int root_replace(const char *root, const char *path, const char *target, const char *data,
                        size_t len, mode_t dflt_mode, int keep_mode, fl_error *err) {
    int rootfd = fl_act_root_open(root, err);
    if (rootfd < 0)
        return FL_EIO;
    const char *leaf;
    fl_beneath_made made = {0};
    int dfd = fl_beneath_parent(rootfd, path, 0755, &made, &leaf, root, FL_BENEATH_NO_LINKS, err);
    int rc = dfd < 0 ? FL_EIO : FL_OK;
    char *shown = fl_act_root_path(root, path);
    if (!rc && target) {
        rc = fl_atomic_symlink_at(dfd, leaf, shown, target, (uid_t)-1, (gid_t)-1, 0, err);
    } else if (!rc) {
        struct stat st;
        mode_t mode = dflt_mode;
        if (keep_mode && fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            mode = st.st_mode & 07777;
        rc = fl_atomic_write_at(dfd, leaf, shown, data, len, mode, (uid_t)-1, (gid_t)-1, 0, err);
    }
    free(shown);
    if (dfd >= 0)
        close(dfd);
    if (rc)
        fl_beneath_unmake(rootfd, &made);
    fl_beneath_made_release(&made);
    close(rootfd);
    return rc;
}

int fl_act_root_write(const char *root, const char *path, const char *data, size_t len,
                      mode_t dflt_mode, int keep_mode, fl_error *err) {
    return root_replace(root, path, NULL, data, len, dflt_mode, keep_mode, err);
}

int fl_act_root_symlink(const char *root, const char *path, const char *target, fl_error *err) {
    return root_replace(root, path, target, NULL, 0, 0, 0, err);
}

int fl_act_root_unlink(const char *root, const char *path, fl_error *err) {
    int rootfd = fl_act_root_open(root, err);
    if (rootfd < 0)
        return FL_EIO;
    const char *leaf;
    fl_error e = FL_ERROR_INIT;
    int dfd = fl_beneath_parent(rootfd, path, 0, NULL, &leaf, root, FL_BENEATH_NO_LINKS, &e);
    int rc = FL_OK;
    if (dfd < 0) {
        /* A missing directory holds nothing to remove. */
        if (e.code != FL_ENOTFOUND) {
            rc = e.code;
            fl_error_move(err, &e);
        }
    } else if (unlinkat(dfd, leaf, 0) < 0 && errno != ENOENT) {
        char *shown = fl_act_root_path(root, path);
        rc = fl_error_errno(err, "cannot remove %s", shown);
        free(shown);
    }
    fl_error_clear(&e);
    if (dfd >= 0)
        close(dfd);
    close(rootfd);
    return rc;
}

int fl_act_root_move_back(const char *root, const char *from, const char *to, fl_error *err) {
    int rootfd = fl_act_root_open(root, err);
    if (rootfd < 0)
        return FL_EIO;
    const char *fleaf, *tleaf;
    int fdir = fl_beneath_parent(rootfd, from, 0, NULL, &fleaf, root, FL_BENEATH_NO_LINKS, err);
    int tdir = fdir < 0
                   ? -1
                   : fl_beneath_parent(rootfd, to, 0, NULL, &tleaf, root, FL_BENEATH_NO_LINKS, err);
    int rc = tdir < 0 ? FL_EIO : FL_OK;
    struct stat st;
    if (!rc && fstatat(tdir, tleaf, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
        char *sf = fl_act_root_path(root, from), *st_ = fl_act_root_path(root, to);
        rc = fl_atomic_rename_at(fdir, fleaf, tdir, tleaf, sf, st_, err);
        free(sf);
        free(st_);
    }
    if (fdir >= 0)
        close(fdir);
    if (tdir >= 0)
        close(tdir);
    close(rootfd);
    return rc;
}

int fl_act_root_check_dir(const char *root, const char *path, fl_error *err) {
    int rootfd = fl_act_root_open(root, err);
    if (rootfd < 0)
        return FL_EIO;
    int rc = FL_OK;
    int fd = fl_beneath_open(rootfd, path, O_PATH | O_DIRECTORY, 0, FL_BENEATH_NO_LINKS);
    if (fd >= 0)
        close(fd);
    else if (errno != ENOENT)
        rc = fl_beneath_error(err, rootfd, root, path, errno, "use");
    close(rootfd);
    return rc;
}

char *fl_act_root_readlink(const char *root, const char *path) {
    int rootfd = fl_act_root_open(root, NULL);
    if (rootfd < 0)
        return NULL;
    const char *leaf;
    char *out = NULL;
    int dfd = fl_beneath_parent(rootfd, path, 0, NULL, &leaf, root, FL_BENEATH_NO_LINKS, NULL);
    if (dfd >= 0) {
        char buf[PATH_MAX];
        ssize_t n = readlinkat(dfd, leaf, buf, sizeof buf - 1);
        if (n >= 0)
            out = fl_xstrndup(buf, (size_t)n);
        close(dfd);
    }
    close(rootfd);
    return out;
}

int fl_act_systemd_live(const char *root) {
    return !strcmp(root, "/") && fl_is_dir("/run/systemd/system");
}

/* ---- toplevels ---- */

void fl_toplevel_empty(fl_toplevel *t) {
    t->path = NULL;
    t->profile = json_object();
    t->secrets = json_array();
}

void fl_toplevel_release(fl_toplevel *t) {
    free(t->path);
    json_decref(t->profile);
    json_decref(t->secrets);
    t->path = NULL;
    t->profile = t->secrets = NULL;
}

int fl_toplevel_load(fl_toplevel *t, const char *dir, fl_error *err) {
    memset(t, 0, sizeof *t);
    char *real = realpath(dir, NULL);
    if (!real)
        return fl_error_errno(err, "cannot open toplevel %s", dir);
    char *pj = fl_path_join(real, "profile.json");
    char *sj = fl_path_join(real, "secrets.json");
    json_t *profile = NULL, *secrets = NULL;
    int rc = fl_act_load_json(pj, &profile, err);
    if (!rc && !profile) {
        rc = fl_error_set(err, FL_ENOTFOUND, "%s has no profile.json: not a toplevel", real);
        fl_error_set_hint(err, "build one with 'flakectl build --host H' (docs/toplevel.md)");
    }
    if (!rc && !json_is_object(profile)) {
        rc = fl_error_set(err, FL_EPARSE, "%s: expected a JSON object", pj);
    }
    if (!rc && json_integer_value(json_object_get(profile, "version")) != 1) {
        rc =
            fl_error_set(err, FL_EPARSE, "%s: unsupported \"version\" (this flakectl reads 1)", pj);
    }
    if (!rc)
        rc = fl_act_load_json(sj, &secrets, err);
    if (!rc && secrets && !json_is_array(secrets))
        rc = fl_error_set(err, FL_EPARSE, "%s: expected a JSON array", sj);
    free(pj);
    free(sj);
    if (rc) {
        json_decref(profile);
        json_decref(secrets);
        free(real);
        return rc;
    }
    t->path = real;
    t->profile = profile;
    t->secrets = secrets ? secrets : json_array();
    return FL_OK;
}

static void need(fl_strbuf *missing, int *count, const char *what, const char *path) {
    struct stat st;
    if (path && stat(path, &st) == 0)
        return;
    fl_strbuf_addf(missing, "\n  %s: %s", what, path ? path : "(no path given)");
    (*count)++;
}

/* When the toplevel lives in a store (<state>/store/<hash>-<name>), every path of its closure
 * must also be registered there: present is not enough, a crash may have left a half-written
 * path behind. Toplevels outside a store (hand-made ones) get the existence check only. */
static fl_store *store_of(const char *toplevel, char **state) {
    const char *store_marker = strstr(toplevel, "/store/");
    *state = NULL;
    if (!store_marker || strchr(store_marker + 7, '/'))
        return NULL;
    *state = fl_xstrndup(toplevel, (size_t)(store_marker - toplevel));
    fl_store *s = NULL;
    fl_error serr = FL_ERROR_INIT;
    if (fl_store_open(*state, &s, &serr) == 0 && !fl_store_is_store_path(s, toplevel)) {
        fl_store_close(s);
        s = NULL;
    }
    fl_error_clear(&serr);
    return s;
}

/* gcroots/activation/<state dir's tag>-<hash> in the toplevel's own store: one activation
 * runs per state dir, and what it left rooted is its to clear. */
static char *root_tag(const char *state_dir) {
    char h[65];
    fl_act_sha256_mem(state_dir, strlen(state_dir), h);
    return fl_xasprintf("%.16s-", h);
}

int fl_act_root_hold(const char *state_dir, const char *toplevel, fl_error *err) {
    char *state;
    fl_store *s = store_of(toplevel, &state);
    int rc = FL_OK;
    if (s) {
        char *tag = root_tag(state_dir);
        const char *base = strrchr(toplevel, '/') + 1;
        char *name = fl_xasprintf("%s%.32s", tag, base);
        /* Under the store's shared lock: a gc either ran before (then the closure check
         * finds what it took) or sees this root. */
        rc = fl_store_add_named_root(s, "activation", name, toplevel, err);
        if (!rc)
            fl_store_drop_temp_root(s, toplevel);
        free(name);
        free(tag);
        fl_store_close(s);
    }
    free(state);
    return rc;
}

void fl_act_root_release(const char *state_dir, const char *toplevel) {
    char *state;
    fl_store *s = store_of(toplevel, &state);
    if (s) {
        char *tag = root_tag(state_dir);
        fl_store_drop_named_roots(s, "activation", tag);
        free(tag);
        fl_store_close(s);
    }
    free(state);
}

static void need_registered(const fl_toplevel *t, fl_strbuf *missing, int *count) {
    char *state;
    fl_store *s = store_of(t->path, &state);
    fl_error serr = FL_ERROR_INIT;
    if (s) {
        char **closure = NULL;
        size_t n = 0;
        char *top = t->path;
        if (!fl_store_is_valid(s, t->path)) {
            fl_strbuf_addf(missing, "\n  the toplevel itself is not registered in %s", state);
            (*count)++;
        } else if (fl_store_closure(s, &top, 1, &closure, &n, &serr) < 0) {
            fl_strbuf_addf(missing, "\n  %s", serr.message ? serr.message : "closure unknown");
            (*count)++;
        }
        fl_store_free_paths(closure, n);
    }
    if (s)
        fl_store_close(s);
    fl_error_clear(&serr);
    free(state);
}

int fl_activate_check_closure(const fl_toplevel *t, fl_error *err) {
    fl_strbuf missing;
    fl_strbuf_init(&missing, 0);
    int count = 0;
    const json_t *p = t->profile;
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(p, "etc"), key, v) {
        char *what = fl_xasprintf("etc.\"%s\".source", key);
        need(&missing, &count, what, fl_act_jstr(v, "source", NULL));
        free(what);
    }
    const char *user;
    json_t *h;
    json_object_foreach(json_object_get(p, "home"), user, h) {
        json_object_foreach(json_object_get(h, "files"), key, v) {
            char *what = fl_xasprintf("home.%s.files.\"%s\".source", user, key);
            need(&missing, &count, what, fl_act_jstr(v, "source", NULL));
            free(what);
        }
    }
    size_t i;
    json_array_foreach(json_object_get(p, "packages"), i, v) {
        char *what = fl_xasprintf("packages[%zu]", i);
        need(&missing, &count, what, json_string_value(v));
        free(what);
    }
    json_array_foreach(t->secrets, i, v) {
        char *what = fl_xasprintf("secrets.json \"%s\".file", fl_act_jstr(v, "name", "?"));
        need(&missing, &count, what, fl_act_jstr(v, "file", NULL));
        free(what);
    }
    json_object_foreach(json_object_get(p, "units"), key, v) {
        char *what = fl_xasprintf("units.\"%s\".file", key);
        const char *f = fl_act_jstr(v, "file", NULL);
        char *full = f ? fl_path_join(t->path, f) : NULL;
        need(&missing, &count, what, full);
        free(full);
        free(what);
    }
    json_array_foreach(json_object_get(p, "activationScripts"), i, v) {
        char *what = fl_xasprintf("activationScripts \"%s\".file", fl_act_jstr(v, "name", "?"));
        const char *f = fl_act_jstr(v, "file", NULL);
        char *full = f ? fl_path_join(t->path, f) : NULL;
        need(&missing, &count, what, full);
        free(full);
        free(what);
    }
    need_registered(t, &missing, &count);
    int rc = FL_OK;
    if (count) {
        rc =
            fl_error_set(err, FL_ENOTFOUND, "the closure of %s is incomplete: %d path%s missing:%s",
                         t->path, count, count == 1 ? "" : "s", missing.buf);
        fl_error_set_hint(err, "rebuild the host, or copy its closure here before activating");
    }
    fl_strbuf_release(&missing);
    return rc;
}
