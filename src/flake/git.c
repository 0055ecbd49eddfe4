/* git.c - the flake's own Git work tree: which files evaluation may see (those in the
 * index), the HEAD commit and whether the tree is dirty. Reads the repository only; never
 * changes the index, HEAD or any file. */
#define _GNU_SOURCE
#include <git2.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/flake.h"
#include "flakectl/fs.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

struct fl_flake_tree {
    fl_lang_hooks orig; /* the store's hooks, wrapped by fl_flake_tree_hooks */
    struct fl_store *store;
    char *flake_dir; /* as the evaluator spells it (lexical, canonical) */
    char *flake_real;
    char *workdir;   /* realpath of the work tree's top, no trailing '/' */
    char *flake_rel; /* flake_real relative to workdir: "" or "sub/dir" */
    char **tracked;  /* index paths, sorted bytewise */
    size_t ntracked;
    char rev[GIT_OID_HEXSZ + 1];
    int has_rev;
    int dirty;
    int64_t last_modified;
};

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int git_fail(fl_error *err, const char *what) {
    const git_error *e = git_error_last();
    return fl_error_set(err, FL_EIO, "%s: %s", what, e && e->message ? e->message : "unknown");
}

int fl_flake_tree_open(const char *flake_dir, fl_flake_tree **out, fl_error *err) {
    *out = NULL;
    git_libgit2_init();
    git_repository *repo = NULL;
    if (git_repository_open_ext(&repo, flake_dir, 0, NULL) < 0) {
        git_error_clear();
        return FL_OK;
    }
    const char *wd = git_repository_workdir(repo);
    if (!wd) { /* a bare repository has no work tree to read the flake from */
        git_repository_free(repo);
        return FL_OK;
    }
    fl_flake_tree *t = fl_xcalloc(1, sizeof *t);
    char buf[PATH_MAX];
    t->flake_dir = fl_canon_path(flake_dir, "/");
    t->flake_real = fl_xstrdup(realpath(flake_dir, buf) ? buf : t->flake_dir);
    t->workdir = fl_xstrdup(realpath(wd, buf) ? buf : wd);
    size_t wl = strlen(t->workdir);
    while (wl > 1 && t->workdir[wl - 1] == '/')
        t->workdir[--wl] = '\0';
    if (!strncmp(t->flake_real, t->workdir, wl) && t->flake_real[wl] == '/')
        t->flake_rel = fl_xstrdup(t->flake_real + wl + 1);
    else
        t->flake_rel = fl_xstrdup("");

    int rc = FL_OK;
    git_index *index = NULL;
    if (git_repository_index(&index, repo) < 0) {
        rc = git_fail(err, "cannot read the Git index");
        goto done;
    }
    size_t n = git_index_entrycount(index);
    t->tracked = fl_xcalloc(n ? n : 1, sizeof *t->tracked);
    for (size_t i = 0; i < n; i++) {
        const git_index_entry *e = git_index_get_byindex(index, i);
        if (e && git_index_entry_stage(e) == 0)
            t->tracked[t->ntracked++] = fl_xstrdup(e->path);
    }
    qsort(t->tracked, t->ntracked, sizeof *t->tracked, cmp_str);

    git_oid head;
    if (git_reference_name_to_id(&head, repo, "HEAD") == 0) {
        git_oid_tostr(t->rev, sizeof t->rev, &head);
        t->has_rev = 1;
        git_commit *c = NULL;
        if (git_commit_lookup(&c, repo, &head) == 0) {
            t->last_modified = (int64_t)git_commit_time(c);
            git_commit_free(c);
        }
    } else {
        git_error_clear();
    }
    /* Dirty as Nix means it: a tracked file or the index differs from HEAD; untracked files
     * do not count (evaluation cannot see them anyway). */
    git_status_options so;
    git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
    so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    so.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    git_status_list *st = NULL;
    if (git_status_list_new(&st, repo, &so) < 0) {
        rc = git_fail(err, "cannot read the Git status");
        goto done;
    }
    t->dirty = !t->has_rev || git_status_list_entrycount(st) > 0;
    git_status_list_free(st);
done:
    git_index_free(index);
    git_repository_free(repo);
    if (rc < 0) {
        fl_error_add_frame(err, "while reading the Git work tree %s", t->workdir);
        fl_flake_tree_free(t);
        return rc;
    }
    *out = t;
    return FL_OK;
}

void fl_flake_tree_free(fl_flake_tree *t) {
    if (!t)
        return;
    for (size_t i = 0; i < t->ntracked; i++)
        free(t->tracked[i]);
    free(t->tracked);
    free(t->flake_dir);
    free(t->flake_real);
    free(t->workdir);
    free(t->flake_rel);
    free(t);
}

const char *fl_flake_tree_rev(const fl_flake_tree *t) {
    return t->has_rev ? t->rev : NULL;
}
int fl_flake_tree_dirty(const fl_flake_tree *t) {
    return t->dirty;
}
int64_t fl_flake_tree_last_modified(const fl_flake_tree *t) {
    return t->last_modified;
}
const char *fl_flake_tree_workdir(const fl_flake_tree *t) {
    return t->workdir;
}

/* The path relative to the work tree's top, or NULL when it lies outside. Owned. */
static char *relative(const fl_flake_tree *t, const char *path) {
    size_t fl = strlen(t->flake_dir);
    if (!strncmp(path, t->flake_dir, fl) && (path[fl] == '/' || path[fl] == '\0')) {
        const char *rest = path[fl] ? path + fl + 1 : "";
        if (!*t->flake_rel)
            return fl_xstrdup(rest);
        return *rest ? fl_xasprintf("%s/%s", t->flake_rel, rest) : fl_xstrdup(t->flake_rel);
    }
    size_t wl = strlen(t->workdir);
    if (!strncmp(path, t->workdir, wl) && (path[wl] == '/' || path[wl] == '\0'))
        return fl_xstrdup(path[wl] ? path + wl + 1 : "");
    return NULL;
}

/* Is rel a tracked file, or a directory holding one? Binary search for the first entry
 * not below rel, then a prefix test. */
static int is_tracked(const fl_flake_tree *t, const char *rel) {
    if (!*rel)
        return 1;
    size_t rl = strlen(rel);
    size_t lo = 0, hi = t->ntracked;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(t->tracked[mid], rel) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < t->ntracked && !strncmp(t->tracked[i], rel, rl); i++) {
        char c = t->tracked[i][rl];
        if (c == '\0' || c == '/')
            return 1;
        /* "a-b" sorts between "a" and "a/x": keep looking past siblings sharing the prefix */
    }
    return 0;
}

int fl_flake_tree_check_path(void *ctx, const char *path, fl_error *err) {
    const fl_flake_tree *t = ctx;
    char *canon = fl_canon_path(path, "/");
    char *rel = relative(t, canon);
    int rc = FL_OK;
    /* A missing file is left to the evaluator, whose message says so. */
    if (rel && !is_tracked(t, rel) && fl_path_exists(canon))
        rc = fl_error_set(err, FL_ENOTFOUND,
                          "'%s' is not tracked by Git: run `git add %s` (in the Git work tree %s "
                          "only files in the index are visible to evaluation)",
                          rel, rel, t->workdir);
    free(rel);
    free(canon);
    return rc;
}

static int keep_tracked(void *ctx, const char *path, const char *type, fl_error *err) {
    (void)type;
    (void)err;
    const fl_flake_tree *t = ctx;
    char *canon = fl_canon_path(path, "/");
    char *rel = relative(t, canon);
    int keep = !rel || is_tracked(t, rel);
    free(rel);
    free(canon);
    return keep;
}

/* A directory of the work tree copied to the store takes only its tracked files, as Nix
 * copies a Git flake's source; everything else goes to the store's own hook. */
static int hook_path_to_store(void *ctx, const char *path, fl_strbuf *out, fl_error *err) {
    fl_flake_tree *t = ctx;
    char *canon = fl_canon_path(path, "/");
    char *rel = relative(t, canon);
    int rc;
    if (rel && fl_is_dir(canon)) {
        char *p = NULL;
        rc = fl_store_add_path_filtered(t->store, canon, NULL, 0, keep_tracked, t, &p, err);
        if (rc == 0)
            fl_strbuf_adds(out, p);
        free(p);
    } else {
        rc = t->orig.path_to_store(t->orig.ctx, path, out, err);
    }
    free(rel);
    free(canon);
    return rc;
}

static int hook_to_file(void *ctx, const char *name, const char *data, size_t len,
                        const char *const *refs, size_t nrefs, fl_strbuf *out, fl_error *err) {
    fl_flake_tree *t = ctx;
    return t->orig.to_file(t->orig.ctx, name, data, len, refs, nrefs, out, err);
}

/* Downloads and fetched trees are not the flake's files: straight to the store's hooks. */
static int hook_download(void *ctx, const char *url, int fd, fl_error *err) {
    fl_flake_tree *t = ctx;
    return t->orig.download(t->orig.ctx, url, fd, err);
}

static int hook_add_fixed(void *ctx, const char *path, int recursive, const char *name,
                          fl_strbuf *out, fl_error *err) {
    fl_flake_tree *t = ctx;
    return t->orig.add_fixed(t->orig.ctx, path, recursive, name, out, err);
}

static int hook_realise(void *ctx, const struct fl_store_drv *drv, fl_strbuf *out,
                        fl_error *err) {
    fl_flake_tree *t = ctx;
    return t->orig.realise(t->orig.ctx, drv, out, err);
}

void fl_flake_tree_hooks(fl_flake_tree *t, fl_lang_hooks *hooks, struct fl_store *store) {
    if (!t)
        return;
    t->orig = *hooks;
    t->store = store;
    hooks->check_path = fl_flake_tree_check_path;
    hooks->check_ctx = t;
    if (store && hooks->path_to_store && hooks->to_file) {
        hooks->ctx = t;
        hooks->path_to_store = hook_path_to_store;
        hooks->to_file = hook_to_file;
        if (hooks->download)
            hooks->download = hook_download;
        if (hooks->add_fixed)
            hooks->add_fixed = hook_add_fixed;
        if (hooks->realise)
            hooks->realise = hook_realise;
    }
}

int fl_flake_tree_compare_rev(const fl_flake_tree *t, const char *rev) {
    if (!t || !t->has_rev || !rev)
        return FL_REV_UNKNOWN;
    if (!strcmp(rev, t->rev))
        return FL_REV_SAME;
    git_repository *repo = NULL;
    git_oid head, other;
    int rel = FL_REV_UNKNOWN;
    if (git_oid_fromstr(&other, rev) == 0 && git_oid_fromstr(&head, t->rev) == 0 &&
        git_repository_open_ext(&repo, t->workdir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) == 0) {
        int d = git_graph_descendant_of(repo, &head, &other);
        if (d == 1)
            rel = FL_REV_BEHIND;
        else if (git_graph_descendant_of(repo, &other, &head) == 1)
            rel = FL_REV_AHEAD;
        else if (d == 0)
            rel = FL_REV_OTHER;
    }
    git_error_clear();
    git_repository_free(repo);
    return rel;
}
