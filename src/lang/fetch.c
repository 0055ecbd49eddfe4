/* fetch.c - builtins.fetchGit (libgit2: local, file://, http(s):// repositories, dirty
 * trees, submodules) with the attributes Nix 2.8 gives (outPath, narHash, rev, shortRev,
 * revCount, lastModified, lastModifiedDate, submodules), and builtins.fetchurl and
 * fetchTarball of file:// and http(s):// URLs (the tarball unpacked by tar(1)). Downloads
 * go through the embedder's download hook and what is fetched into its store through
 * add_fixed; without them the paths are computed as Nix computes them and nothing is
 * copied (docs/language.md). Never opens a network connection of its own but libgit2's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "flakectl/fs.h"

#include "flakectl/store.h"
#include "lang/internal.h"

static void nar_u64(EVP_MD_CTX *md, uint64_t n) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((n >> (8 * i)) & 0xff);
    EVP_DigestUpdate(md, b, 8);
}

static void nar_bytes(EVP_MD_CTX *md, const void *s, size_t n) {
    static const char zeros[8] = {0};
    nar_u64(md, n);
    EVP_DigestUpdate(md, s, n);
    if (n % 8)
        EVP_DigestUpdate(md, zeros, 8 - n % 8);
}
#define NS(md, lit) nar_bytes(md, lit, sizeof(lit) - 1)

static int cmp_entry_names(const void *a, const void *b) {
    return strcmp(git_tree_entry_name(*(const git_tree_entry *const *)a),
                  git_tree_entry_name(*(const git_tree_entry *const *)b));
}

/* The NAR of a Git tree, as `git archive` would check it out: NAR entries are ordered by
 * name bytes, Git's are not (a directory sorts as "name/"). A submodule is an empty
 * directory, as in an archive. */
static int nar_tree(State *S, git_repository *repo, git_tree *tree, EVP_MD_CTX *md) {
    size_t n = git_tree_entrycount(tree);
    const git_tree_entry **es = arena_alloc(&S->arena, (n + 1) * sizeof(*es));
    for (size_t i = 0; i < n; i++)
        es[i] = git_tree_entry_byindex(tree, i);
    qsort(es, n, sizeof(*es), cmp_entry_names);
    NS(md, "(");
    NS(md, "type");
    NS(md, "directory");
    for (size_t i = 0; i < n; i++) {
        const char *name = git_tree_entry_name(es[i]);
        NS(md, "entry");
        NS(md, "(");
        NS(md, "name");
        nar_bytes(md, name, strlen(name));
        NS(md, "node");
        git_filemode_t mode = git_tree_entry_filemode(es[i]);
        if (mode == GIT_FILEMODE_TREE) {
            git_tree *sub = NULL;
            if (git_tree_lookup(&sub, repo, git_tree_entry_id(es[i])) < 0)
                return -1;
            int rc = nar_tree(S, repo, sub, md);
            git_tree_free(sub);
            if (rc < 0)
                return -1;
        } else if (mode == GIT_FILEMODE_COMMIT) {
            NS(md, "(");
            NS(md, "type");
            NS(md, "directory");
            NS(md, ")");
        } else {
            git_blob *blob = NULL;
            if (git_blob_lookup(&blob, repo, git_tree_entry_id(es[i])) < 0)
                return -1;
            const void *data = git_blob_rawcontent(blob);
            size_t len = (size_t)git_blob_rawsize(blob);
            NS(md, "(");
            NS(md, "type");
            if (mode == GIT_FILEMODE_LINK) {
                NS(md, "symlink");
                NS(md, "target");
                nar_bytes(md, data, len);
            } else {
                NS(md, "regular");
                if (mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
                    NS(md, "executable");
                    NS(md, "");
                }
                NS(md, "contents");
                nar_bytes(md, data, len);
            }
            NS(md, ")");
            git_blob_free(blob);
        }
        NS(md, ")");
    }
    NS(md, ")");
    return 0;
}

static Value *str_value(State *S, const char *s) {
    Value *v = lang_alloc_value(S);
    lang_mk_string_copy(S, v, s, strlen(s), NULL);
    return v;
}

static Value *int_value(State *S, int64_t i) {
    Value *v = lang_alloc_value(S);
    mk_int(v, i);
    return v;
}

typedef struct GitFetch {
    git_repository *repo;
    git_commit *commit;
    git_revwalk *walk;
    EVP_MD_CTX *md;
    git_tree *tree;
} GitFetch;

static void git_fetch_free(GitFetch *g) {
    git_tree_free(g->tree);
    git_revwalk_free(g->walk);
    git_commit_free(g->commit);
    git_repository_free(g->repo);
    if (g->md)
        EVP_MD_CTX_free(g->md);
}

/* Everything libgit2 can fail at, done before anything may throw; NULL or a message. */
static const char *git_fetch_run(State *S, GitFetch *g, const char *dir, const char *ref,
                                 const char *rev, const char *url, unsigned char nar[32],
                                 int64_t *count) {
    AStr m;
    lang_astr_init(S, &m, 128);
    if (git_repository_open_ext(&g->repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        lang_astr_addf(S, &m, "'%s' is not a Git repository", dir);
        return m.buf;
    }
    git_oid oid;
    if (rev) {
        if (git_oid_fromstr(&oid, rev) < 0 || git_commit_lookup(&g->commit, g->repo, &oid) < 0) {
            git_reference *head = NULL;
            const char *on = ref;
            if (!on && git_repository_head(&head, g->repo) == 0)
                on = git_reference_shorthand(head);
            lang_astr_addf(S, &m,
                      "Cannot find Git revision '%s' in ref '%s' of repository '%s'! Please make "
                      "sure that the rev exists on the ref you've specified or add allRefs = "
                      "true; to fetchGit.",
                      rev, on ? on : "HEAD", url);
            git_reference_free(head);
            return m.buf;
        }
    } else {
        git_object *obj = NULL;
        if (git_revparse_single(&obj, g->repo, ref ? ref : "HEAD") < 0) {
            lang_astr_addf(S, &m, "Git repository '%s' has no revision '%s'", url, ref ? ref : "HEAD");
            return m.buf;
        }
        git_object *c = NULL;
        int ok = git_object_peel(&c, obj, GIT_OBJECT_COMMIT) == 0;
        git_object_free(obj);
        if (!ok) {
            lang_astr_addf(S, &m, "'%s' in '%s' is not a commit", ref ? ref : "HEAD", url);
            return m.buf;
        }
        g->commit = (git_commit *)c;
        git_oid_cpy(&oid, git_commit_id(g->commit));
    }
    if (git_commit_tree(&g->tree, g->commit) < 0) {
        lang_astr_addf(S, &m, "cannot read the tree of %s", rev ? rev : "HEAD");
        return m.buf;
    }
    g->md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(g->md, EVP_sha256(), NULL);
    NS(g->md, "nix-archive-1");
    if (nar_tree(S, g->repo, g->tree, g->md) < 0) {
        lang_astr_addf(S, &m, "cannot read the objects of %s", url);
        return m.buf;
    }
    unsigned int hl = 0;
    EVP_DigestFinal_ex(g->md, nar, &hl);
    *count = 0;
    if (git_revwalk_new(&g->walk, g->repo) < 0 || git_revwalk_push(g->walk, &oid) < 0)
        return "cannot walk the history";
    git_oid o;
    while (git_revwalk_next(&o, g->walk) == 0)
        (*count)++;
    return NULL;
}

static char *sri(State *S, const unsigned char h[32]) {
    char *s = fl_hash_format_sri(h);
    char *r = lang_arena_strndup(&S->arena, s, strlen(s));
    free(s);
    return r;
}

/* Nix's `git diff-index --quiet HEAD --`: a tracked file changed, staged or not (untracked
 * files do not count). */
static int git_tree_dirty(git_repository *repo) {
    if (git_repository_is_bare(repo))
        return 0;
    git_status_options so;
    git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
    so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    so.flags = 0;
    git_status_list *st = NULL;
    if (git_status_list_new(&st, repo, &so) < 0)
        return 0;
    int dirty = git_status_list_entrycount(st) > 0;
    git_status_list_free(st);
    return dirty;
}

/* The index's files as the working tree has them (a deleted one left out), into dir, with
 * their executable bits and symlinks; NULL or a message. */
static const char *copy_tracked(State *S, git_repository *repo, const char *dir) {
    git_index *idx = NULL;
    const char *work = git_repository_workdir(repo);
    if (!work || git_repository_index(&idx, repo) < 0)
        return "cannot read the Git index of the working tree";
    const char *msg = NULL;
    fl_error e = FL_ERROR_INIT;
    for (size_t i = 0; !msg && i < git_index_entrycount(idx); i++) {
        const git_index_entry *ie = git_index_get_byindex(idx, i);
        char *src = fl_path_join(work, ie->path), *dst = fl_path_join(dir, ie->path);
        char *parent = fl_xstrdup(dst);
        *strrchr(parent, '/') = '\0';
        struct stat st;
        int rc = 0;
        if (lstat(src, &st) < 0) {
            rc = 0; /* deleted in the working tree */
        } else if (fl_mkdir_p(parent, 0755, &e) < 0) {
            rc = -1;
        } else if (ie->mode == GIT_FILEMODE_COMMIT || S_ISDIR(st.st_mode)) {
            rc = mkdir(dst, 0755);
        } else if (S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t n = readlink(src, target, sizeof target - 1);
            if (n >= 0)
                target[n] = '\0';
            rc = n < 0 ? -1 : symlink(target, dst);
        } else {
            FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
            char buf[65536];
            size_t r;
            rc = in && out ? 0 : -1;
            while (!rc && (r = fread(buf, 1, sizeof buf, in)) > 0)
                rc = fwrite(buf, 1, r, out) == r ? 0 : -1;
            if (in && ferror(in))
                rc = -1;
            if (in)
                fclose(in);
            if (out && fclose(out) != 0)
                rc = -1;
            if (!rc)
                rc = chmod(dst, st.st_mode & S_IXUSR ? 0755 : 0644);
        }
        if (rc < 0) {
            msg = lang_arena_printf(S, "cannot copy '%s' from the working tree: %s", ie->path,
                                    e.message ? e.message : strerror(errno));
        }
        free(parent);
        free(src);
        free(dst);
    }
    fl_error_clear(&e);
    git_index_free(idx);
    return msg;
}

/* Every ref of the remote under its own name (git clone --mirror), so `ref` and `rev`
 * resolve as in the remote itself. */
static int mirror_remote(git_remote **out, git_repository *repo, const char *name, const char *url,
                         void *payload) {
    (void)name;
    (void)payload;
    return git_remote_create_with_fetchspec(out, repo, "origin", url, "+refs/*:refs/*");
}

/* A bare mirror of the repository at url (http:// or https://, libgit2's smart protocol) in
 * dir; NULL or a message. */
static const char *git_clone_mirror(State *S, const char *url, const char *dir) {
    git_clone_options o;
    git_clone_options_init(&o, GIT_CLONE_OPTIONS_VERSION);
    o.bare = 1;
    o.remote_cb = mirror_remote;
    git_repository *r = NULL;
    if (git_clone(&r, url, dir, &o) == 0) {
        git_repository_free(r);
        return NULL;
    }
    const git_error *e = git_error_last();
    return lang_arena_printf(S, "cannot fetch Git repository '%s': %s", url,
                             e ? e->message : "failed");
}

/* A submodule's URL, resolved against its superproject's when relative ("../sub.git"), as
 * git resolves it; in the arena (url may be freed). */
static const char *submodule_url(State *S, const char *base, const char *url) {
    if (strncmp(url, "./", 2) && strncmp(url, "../", 3))
        return lang_arena_strndup(&S->arena, url, strlen(url));
    AStr b;
    lang_astr_init(S, &b, 128);
    astr_adds(S, &b, base);
    while (b.len && b.buf[b.len - 1] == '/')
        b.buf[--b.len] = '\0';
    for (;;) {
        if (!strncmp(url, "./", 2)) {
            url += 2;
        } else if (!strncmp(url, "../", 3)) {
            url += 3;
            char *slash = strrchr(b.buf, '/');
            if (slash && slash > b.buf) {
                b.len = (size_t)(slash - b.buf);
                b.buf[b.len] = '\0';
            }
        } else {
            break;
        }
    }
    lang_astr_addch(S, &b, '/');
    astr_adds(S, &b, url);
    return b.buf;
}

typedef struct Gitlink {
    const char *path;
    git_oid id;
} Gitlink;

typedef struct GitlinkList {
    State *S;
    Gitlink *v;
    size_t n, cap;
} GitlinkList;

static int collect_gitlink(const char *root, const git_tree_entry *e, void *payload) {
    GitlinkList *l = payload;
    if (git_tree_entry_filemode(e) != GIT_FILEMODE_COMMIT)
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        Gitlink *nv = arena_alloc(&l->S->arena, l->cap * sizeof *nv);
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
    }
    AStr p;
    lang_astr_init(l->S, &p, 64);
    astr_adds(l->S, &p, root);
    astr_adds(l->S, &p, git_tree_entry_name(e));
    l->v[l->n].path = p.buf;
    git_oid_cpy(&l->v[l->n].id, git_tree_entry_id(e));
    l->n++;
    return 0;
}

typedef struct SubmoduleFind {
    const char *path;
    char *name; /* owned */
} SubmoduleFind;

/* Every entry, matched here: libgit2 1.5's regex matching (git_config_foreach_match) leaks
 * its match data for each entry that does not match (found by fuzz_formats). */
static int find_submodule(const git_config_entry *e, void *payload) {
    SubmoduleFind *f = payload;
    /* "submodule.<name>.path" */
    size_t n = strlen(e->name);
    if (n < 15 || strncmp(e->name, "submodule.", 10) || strcmp(e->name + n - 5, ".path") ||
        strcmp(e->value, f->path))
        return 0;
    f->name = fl_xstrndup(e->name + 10, n - 10 - 5);
    return 1;
}

/* Writes tree's files into dir, the repository untouched (no index written). A gitlink in
 * the tree makes libgit2 look its submodule up, which a bare repository (a remote's mirror,
 * a bare file:// one) cannot answer ("cannot get submodules without a working tree"): dir
 * stands in for its working tree, in memory only. 0 or -1 (git_error_last says why). */
static int checkout_tree_to(git_repository *repo, git_tree *tree, const char *dir) {
    if (git_repository_is_bare(repo) && git_repository_set_workdir(repo, dir, 0) < 0)
        return -1;
    git_checkout_options co;
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX;
    co.target_directory = dir;
    co.disable_filters = 1;
    return git_checkout_tree(repo, (git_object *)tree, &co);
}

static int is_http_url(const char *url) {
    return !strncmp(url, "http://", 7) || !strncmp(url, "https://", 8);
}

/* NULL when the submodule at sub_path may be cloned from url, else why not. A remote
 * superproject cannot name a repository of this machine (git's protocol.file.allow=user
 * since 2.38.1: its files would end up in the world-readable store), and an evaluation
 * without network access clones nothing over http(s). */
static const char *submodule_allowed(State *S, const char *base_url, const char *sub_path,
                                     const char *url) {
    AStr m;
    if (is_http_url(url)) {
        if (S->cfg.hooks.download)
            return NULL;
        lang_astr_init(S, &m, 128);
        lang_astr_addf(S, &m,
                       "the submodule '%s' (%s) cannot be fetched: this evaluation has no "
                       "network access",
                       sub_path, url);
        return m.buf;
    }
    lang_astr_init(S, &m, 128);
    if (url[0] != '/' && strncmp(url, "file://", 7)) {
        lang_astr_addf(S, &m,
                       "the submodule '%s' has the unsupported URL '%s' (local paths, file://, "
                       "http:// and https:// are)",
                       sub_path, url);
        return m.buf;
    }
    if (!is_http_url(base_url))
        return NULL;
    lang_astr_addf(S, &m,
                   "the submodule '%s' of the remote repository '%s' has the URL '%s', which is "
                   "not http(s): refused, as git refuses the file transport in submodules",
                   sub_path, base_url, url);
    return m.buf;
}

const char *lang_gitmodules_url(State *S, const char *gitmodules, const char *sub_path,
                                const char *base_url, const char **url) {
    git_libgit2_init();
    git_config *cfg = NULL;
    if (git_config_open_ondisk(&cfg, gitmodules) < 0) {
        git_libgit2_shutdown();
        return "cannot read .gitmodules";
    }
    SubmoduleFind f = {sub_path, NULL};
    git_config_foreach(cfg, find_submodule, &f);
    git_buf u = {0};
    char *key = f.name ? fl_xasprintf("submodule.%s.url", f.name) : NULL;
    const char *msg = NULL;
    if (!key || git_config_get_string_buf(&u, cfg, key) < 0) {
        msg = lang_arena_printf(S, "no URL in .gitmodules for the submodule at '%s'", sub_path);
    } else {
        *url = submodule_url(S, base_url, u.ptr);
    }
    git_buf_dispose(&u);
    free(key);
    free(f.name);
    git_config_free(cfg);
    git_libgit2_shutdown();
    return msg;
}

static const char *git_clone_mirror(State *S, const char *url, const char *dir);
static char *fetch_temp_dir(State *S, const char **msg);

/* Fills in the submodules of the tree checked out in dir, recursively, as `git submodule
 * update --init --recursive` in Nix 2.8's checkout: each gitlink's commit from the URL
 * .gitmodules gives it (relative to base_url), without any .git; NULL or a message. */
static const char *checkout_submodules(State *S, git_tree *tree, const char *base_url,
                                       const char *dir, int depth) {
    if (depth > 16)
        return "submodules nested too deeply";
    GitlinkList links = {S, NULL, 0, 0};
    git_tree_walk(tree, GIT_TREEWALK_PRE, collect_gitlink, &links);
    if (!links.n)
        return NULL;
    char *gm = fl_path_join(dir, ".gitmodules");
    const char *msg = NULL;
    for (size_t i = 0; !msg && i < links.n; i++) {
        const char *url = NULL;
        msg = lang_gitmodules_url(S, gm, links.v[i].path, base_url, &url);
        if (!msg)
            msg = submodule_allowed(S, base_url, links.v[i].path, url);
        if (msg)
            break;
        char *clone = fetch_temp_dir(S, &msg);
        git_repository *sub = NULL;
        git_commit *c = NULL;
        git_tree *t = NULL;
        if (clone)
            msg = git_clone_mirror(S, url, clone);
        if (!msg &&
            (git_repository_open_bare(&sub, clone) < 0 ||
             git_commit_lookup(&c, sub, &links.v[i].id) < 0 || git_commit_tree(&t, c) < 0)) {
            msg = lang_arena_printf(S, "the submodule '%s' (%s) has no commit %s", links.v[i].path,
                                    url, git_oid_tostr_s(&links.v[i].id));
        }
        if (!msg) {
            char *target = fl_path_join(dir, links.v[i].path);
            if (checkout_tree_to(sub, t, target) < 0)
                msg = "cannot check out a submodule";
            if (!msg)
                msg = checkout_submodules(S, t, url, target, depth + 1);
            free(target);
        }
        git_tree_free(t);
        git_commit_free(c);
        git_repository_free(sub);
        if (clone) {
            fl_remove_tree(clone, NULL);
            free(clone);
        }
    }
    free(gm);
    return msg;
}

/* A local repository: a path, or a file:// URL. */
static const char *local_dir(State *S, const char *url, PosIdx pos) {
    if (url[0] == '/')
        return url;
    if (!strncmp(url, "file://", 7))
        return url + 7;
    lang_throw(S, pos,
               "builtins.fetchGit: unsupported URL '%s' (local paths, file://, http:// and "
               "https:// are)",
               url);
}

/* ---- fetchurl and fetchTarball (Nix's `fetch` of primops/fetchTree.cc) ---- */

typedef struct FetchArgs {
    const char *url, *name;
    int have_hash;
    unsigned char hash[32];
} FetchArgs;

/* A temporary directory for a download or an unpacked archive, or NULL with *msg. */
static char *fetch_temp_dir(State *S, const char **msg) {
    const char *tmpdir = getenv("TMPDIR");
    fl_error e = FL_ERROR_INIT;
    char *tmp = fl_make_temp_dir(tmpdir && *tmpdir ? tmpdir : "/tmp", "flakectl-fetch.", &e);
    if (!tmp) {
        const char *m = e.message ? e.message : "cannot create a temporary directory";
        *msg = lang_arena_strndup(&S->arena, m, strlen(m));
    }
    fl_error_clear(&e);
    return tmp;
}

/* The embedder's error e as a message that outlives it, prefixed as Nix words it. */
static const char *hook_message(State *S, const char *what, const char *url, fl_error *e) {
    char *msg = lang_arena_printf(S, "%s '%s': %s", what, url, e->message ? e->message : "failed");
    fl_error_clear(e);
    return msg;
}

/* The store path of fetched content: the embedder's store holds it (add_fixed), else the
 * path Nix would compute. NULL with *msg when the store refused it. */
static const char *fetch_store(State *S, const char *path, int recursive, const unsigned char h[32],
                               const FetchArgs *fa, const char **msg, PosIdx pos) {
    if (!S->cfg.hooks.add_fixed)
        return lang_fixed_output_path(S, recursive, h, fa->name, pos);
    fl_strbuf sb = FL_STRBUF_INIT;
    fl_strbuf_init(&sb, 0);
    fl_error e = FL_ERROR_INIT;
    const char *sp = NULL;
    if (S->cfg.hooks.add_fixed(S->cfg.hooks.ctx, path, recursive, fa->name, &sb, &e) < 0)
        *msg = hook_message(S, "cannot add the download of", fa->url, &e);
    else
        sp = lang_arena_strndup(&S->arena, sb.buf, sb.len);
    fl_strbuf_release(&sb);
    return sp;
}

/* Removes the temporary directory, then raises msg (when set) at pos. */
static void fetch_end(State *S, char *tmp, const char *msg, PosIdx pos) {
    if (tmp) {
        fl_remove_tree(tmp, NULL);
        free(tmp);
    }
    if (msg)
        lang_throw(S, pos, "%s", msg);
}

/* Writes the fetched commit's files into dir (libgit2's checkout into a target directory,
 * the repository untouched); NULL or a message. */
static const char *git_checkout_to(State *S, GitFetch *g, const char *dir) {
    if (checkout_tree_to(g->repo, g->tree, dir) == 0)
        return NULL;
    const git_error *e = git_error_last();
    return lang_arena_printf(S, "cannot check out the fetched commit: %s",
                             e ? e->message : "failed");
}

void lang_prim_fetch_git(State *S, Value **args, Value *out, PosIdx pos);
void lang_prim_fetch_git(State *S, Value **args, Value *out, PosIdx pos) {
    force(S, args[0], pos);
    const char *url = NULL, *ref = NULL, *rev = NULL, *name = "source";
    int submodules = 0;
    if (args[0]->type == V_ATTRS) {
        Attrs *a = args[0]->attrs;
        for (uint32_t i = 0; i < a->n; i++) {
            Attr *at = &a->a[i];
            const char *k = sym_name(S, at->name);
            if (!strcmp(k, "url")) {
                AStr s;
                lang_astr_init(S, &s, 64);
                lang_coerce_to_string(S, at->value, at->pos, 0, 0, &s, NULL);
                url = s.buf;
            } else if (!strcmp(k, "ref")) {
                ref = lang_force_string_noctx(S, at->value, at->pos, NULL);
            } else if (!strcmp(k, "rev")) {
                rev = lang_force_string_noctx(S, at->value, at->pos, NULL);
            } else if (!strcmp(k, "name")) {
                name = lang_force_string_noctx(S, at->value, at->pos, NULL);
            } else if (!strcmp(k, "submodules")) {
                submodules = lang_force_bool(S, at->value, at->pos);
            } else if (!strcmp(k, "allRefs")) {
                lang_force_bool(S, at->value, at->pos);
            } else {
                lang_throw(S, at->pos, "unsupported Git input attribute '%s'", k);
            }
        }
        if (!url)
            lang_throw(S, pos, "'url' argument required");
    } else {
        AStr s;
        lang_astr_init(S, &s, 64);
        lang_coerce_to_string(S, args[0], pos, 0, 0, &s, NULL);
        url = s.buf;
    }
    if (rev && (strlen(rev) != 40 || strspn(rev, "0123456789abcdef") != 40))
        lang_throw(S, pos, "hash '%s' has wrong length for hash type 'sha1'", rev);
    int remote = is_http_url(url);
    if (remote && !S->cfg.hooks.download)
        lang_throw(S, pos,
                   "builtins.fetchGit: '%s' cannot be fetched: this evaluation has no network "
                   "access (local and file:// repositories work)",
                   url);
    const char *dir = remote ? NULL : local_dir(S, url, pos);
    if (dir)
        lang_check_path(S, dir, pos);
    git_libgit2_init();
    GitFetch g;
    memset(&g, 0, sizeof g);
    unsigned char nar[32];
    int64_t count = 0;
    const char *err = NULL;
    char *clone = NULL;
    /* Nix 2.8 takes a remote repository's "master" when no ref is given, never its HEAD */
    if (remote && !ref)
        ref = "master";
    if (remote && (clone = fetch_temp_dir(S, &err)))
        err = git_clone_mirror(S, url, clone);
    if (!err)
        err = git_fetch_run(S, &g, clone ? clone : dir, ref, rev, url, nar, &count);
    char revhex[GIT_OID_HEXSZ + 1] = "";
    int64_t when = 0;
    if (!err) {
        git_oid_tostr(revhex, sizeof revhex, git_commit_id(g.commit));
        when = (int64_t)git_commit_time(g.commit);
    }
    /* With a store, the commit's files go into it (as Nix copies them): checked out into a
     * temporary directory, then added under the same NAR hash. A local tree with changes
     * to tracked files, fetched without ref or rev, is Nix 2.8's "dirty" case: its tracked
     * files as they are in the working tree, revision all zeros, and a warning. */
    const char *sp = NULL;
    char *tmp = NULL;
    if (!err && !remote && !ref && !rev && git_tree_dirty(g.repo)) {
        lang_warn(S, "Git tree '%s' is dirty", dir);
        memset(revhex, '0', GIT_OID_HEXSZ);
        count = 0;
        if ((tmp = fetch_temp_dir(S, &err)))
            err = copy_tracked(S, g.repo, tmp);
        if (!err && lang_nar_hash_path(S, tmp, nar) < 0)
            err = "cannot read the copy of the working tree";
        if (!err && S->cfg.hooks.add_fixed) {
            FetchArgs fa = {url, name, 0, {0}};
            sp = fetch_store(S, tmp, 1, nar, &fa, &err, pos);
        }
    } else if (!err && (S->cfg.hooks.add_fixed || submodules)) {
        /* with submodules the NAR is of the checkout, which holds their files too */
        tmp = fetch_temp_dir(S, &err);
        if (tmp)
            err = git_checkout_to(S, &g, tmp);
        if (!err && submodules) {
            err = checkout_submodules(S, g.tree, url, tmp, 0);
            if (!err && lang_nar_hash_path(S, tmp, nar) < 0)
                err = "cannot read the checkout";
        }
        if (!err && S->cfg.hooks.add_fixed) {
            FetchArgs fa = {url, name, 0, {0}};
            sp = fetch_store(S, tmp, 1, nar, &fa, &err, pos);
        }
    }
    git_fetch_free(&g);
    if (clone) {
        fl_remove_tree(clone, NULL);
        free(clone);
    }
    git_libgit2_shutdown();
    fetch_end(S, tmp, err, pos);
    if (!sp) {
        char hex[65];
        fl_hex_encode(nar, 32, hex);
        sp = lang_make_store_path(S, "source", hex, name, pos);
    }
    time_t t = (time_t)when;
    struct tm tm;
    char date[32];
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y%m%d%H%M%S", &tm);
    char shortrev[8];
    memcpy(shortrev, revhex, 7);
    shortrev[7] = '\0';
    Attrs *r = lang_alloc_attrs(S, 8);
    Value *outp = lang_alloc_value(S);
    StrCtx *c = arena_alloc(&S->arena, sizeof(StrCtx));
    c->path = sp;
    c->next = NULL;
    lang_mk_string(S, outp, sp, strlen(sp), c);
    Value *sub = lang_alloc_value(S);
    mk_bool(sub, submodules);
    struct {
        const char *k;
        Value *v;
    } kv[] = {
        {"outPath", outp},
        {"narHash", str_value(S, sri(S, nar))},
        {"submodules", sub},
        {"rev", str_value(S, revhex)},
        {"shortRev", str_value(S, shortrev)},
        {"revCount", int_value(S, count)},
        {"lastModified", int_value(S, when)},
        {"lastModifiedDate", str_value(S, date)},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        r->a[r->n++] = (Attr){lang_sym_intern(S, kv[i].k, strlen(kv[i].k)), 0, kv[i].v};
    lang_attrs_sort(r);
    out->type = V_ATTRS;
    out->attrs = r;
}

static void fetch_args(State *S, Value *arg, const char *who, FetchArgs *fa, PosIdx pos) {
    force(S, arg, pos);
    if (arg->type == V_ATTRS) {
        for (uint32_t i = 0; i < arg->attrs->n; i++) {
            Attr *at = &arg->attrs->a[i];
            const char *k = sym_name(S, at->name);
            if (!strcmp(k, "url")) {
                fa->url = lang_force_string_noctx(S, at->value, at->pos, NULL);
            } else if (!strcmp(k, "sha256")) {
                const char *h = lang_force_string_noctx(S, at->value, at->pos, NULL);
                if (*h)
                    lang_parse_sha256(S, h, fa->hash, at->pos);
                else
                    lang_warn(S, "found empty hash, assuming "
                                 "'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='");
                fa->have_hash = 1;
            } else if (!strcmp(k, "name")) {
                fa->name = lang_force_string_noctx(S, at->value, at->pos, NULL);
            } else {
                lang_throw(S, at->pos, "unsupported argument '%s' to '%s'", k, who);
            }
        }
        if (!fa->url)
            lang_throw(S, pos, "'url' argument required");
    } else {
        fa->url = lang_force_string_noctx(S, arg, pos, NULL);
    }
    if (S->cfg.pure && !fa->have_hash)
        lang_throw(S, pos, "in pure evaluation mode, '%s' requires a 'sha256' argument", who);
    int http = !strncmp(fa->url, "http://", 7) || !strncmp(fa->url, "https://", 8);
    if (http && !S->cfg.hooks.download)
        lang_throw(S, pos,
                   "builtins.%s: '%s' cannot be downloaded: this evaluation has no network "
                   "access (file:// URLs work)",
                   who, fa->url);
    if (!http && strncmp(fa->url, "file://", 7))
        lang_throw(S, pos, "builtins.%s: unsupported URL '%s' (http://, https:// and file:// are)",
                   who, fa->url);
    if (!*fa->name) {
        const char *b = strrchr(fa->url, '/');
        fa->name = b ? b + 1 : fa->url;
    }
}

static void store_path_string(State *S, Value *out, const char *sp) {
    StrCtx *c = arena_alloc(&S->arena, sizeof(StrCtx));
    c->path = sp;
    c->next = NULL;
    lang_mk_string(S, out, sp, strlen(sp), c);
}

/* Nix's message for fetched content whose hash is not the pinned one. */
static const char *hash_mismatch(State *S, const char *url, const unsigned char want[32],
                                 const unsigned char got[32]) {
    char w[64], g[64];
    fl_base32_encode(want, 32, w);
    fl_base32_encode(got, 32, g);
    return lang_arena_printf(
        S,
        "hash mismatch in file downloaded from '%s':\n         specified: sha256:%s\n"
        "         got:       sha256:%s",
        url, w, g);
}

/* The arguments, then the local file holding the URL's bytes: a file:// URL names it, an
 * http(s):// one is downloaded by the embedder's hook into a new temporary directory
 * (*tmp, which the caller removes, also after an error: nothing here throws once it
 * exists). NULL when a pinned path already present was the answer (Nix uses it without
 * reading the URL; only without a store hook, whose paths are its own), or with *msg. */
static const char *fetch_begin(State *S, Value *arg, const char *who, int recursive, FetchArgs *fa,
                               Value *out, char **tmp, const char **msg, PosIdx pos) {
    fetch_args(S, arg, who, fa, pos);
    if (fa->have_hash && !S->cfg.hooks.add_fixed) {
        const char *want = lang_fixed_output_path(S, recursive, fa->hash, fa->name, pos);
        struct stat st;
        if (lstat(want, &st) == 0) {
            store_path_string(S, out, want);
            return NULL;
        }
    }
    if (!strncmp(fa->url, "file://", 7)) {
        lang_check_path(S, fa->url + 7, pos);
        return fa->url + 7;
    }
    if (!(*tmp = fetch_temp_dir(S, msg)))
        return NULL;
    char *file = fl_path_join(*tmp, "download");
    const char *local = lang_arena_strndup(&S->arena, file, strlen(file));
    free(file);
    int fd = open(local, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    fl_error e = FL_ERROR_INIT;
    int rc = fd < 0 ? fl_error_errno(&e, "cannot create %s", local)
                    : S->cfg.hooks.download(S->cfg.hooks.ctx, fa->url, fd, &e);
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = fl_error_errno(&e, "cannot write %s", local);
    if (rc < 0) {
        *msg = hook_message(S, "unable to download", fa->url, &e);
        return NULL;
    }
    return local;
}

/* The SHA-256 of a file's bytes; -1 when it cannot be read. */
static int file_sha256(const char *path, unsigned char h[32]) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fl_sha256 sha;
    fl_sha256_init(&sha);
    char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, f)) > 0)
        fl_sha256_update(&sha, buf, r);
    int bad = ferror(f);
    fclose(f);
    fl_sha256_final(&sha, h);
    return bad ? -1 : 0;
}

void lang_prim_fetch_url(State *S, Value **args, Value *out, PosIdx pos);
void lang_prim_fetch_url(State *S, Value **args, Value *out, PosIdx pos) {
    FetchArgs fa = {NULL, "", 0, {0}};
    char *tmp = NULL;
    const char *msg = NULL;
    const char *path = fetch_begin(S, args[0], "fetchurl", 0, &fa, out, &tmp, &msg, pos);
    if (!path) {
        fetch_end(S, tmp, msg, pos);
        return;
    }
    unsigned char h[32];
    const char *sp = NULL;
    if (file_sha256(path, h) < 0) {
        msg = lang_arena_printf(S, "unable to download '%s': Couldn't read a file:// file (37)",
                                fa.url);
    } else if (fa.have_hash && memcmp(h, fa.hash, 32)) {
        msg = hash_mismatch(S, fa.url, fa.hash, h);
    } else {
        sp = fetch_store(S, path, 0, h, &fa, &msg, pos);
    }
    fetch_end(S, tmp, msg, pos);
    store_path_string(S, out, sp);
}

/* Runs tar(1) (which recognises the compression) on archive: with dir, unpacks into it;
 * without, lists the member names, one a line, on out_fd. 0 or -1. */
static int run_tar(const char *archive, const char *dir, int out_fd) {
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(out_fd >= 0 ? out_fd : nul, 1);
            dup2(nul, 2);
        }
        if (dir)
            execlp("tar", "tar", "--no-same-owner", "-xf", archive, "-C", dir, (char *)NULL);
        else
            execlp("tar", "tar", "-tf", archive, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Whether a member name has a ".." component. */
static int escapes(const char *name, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t k = i;
        while (k < n && name[k] != '/')
            k++;
        if (k - i == 2 && name[i] == '.' && name[i + 1] == '.')
            return 1;
        i = k + 1;
    }
    return 0;
}

/* After tar refused archive: the first member whose name climbs out of the directory it is
 * unpacked into (tar skips those and fails), arena-allocated, or NULL. */
static const char *escaping_member(State *S, const char *archive) {
    int fds[2];
    if (pipe(fds) < 0)
        return NULL;
    AStr list;
    lang_astr_init(S, &list, 256);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        _exit(run_tar(archive, NULL, fds[1]) == 0 ? 0 : 1);
    }
    close(fds[1]);
    char buf[4096];
    ssize_t r;
    while (pid > 0 && ((r = read(fds[0], buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            lang_astr_add(S, &list, buf, (size_t)r);
    close(fds[0]);
    int st;
    while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    for (const char *p = list.buf; p && *p;) {
        size_t n = strcspn(p, "\n");
        if (escapes(p, n))
            return lang_arena_strndup(&S->arena, p, n);
        p += n + (p[n] ? 1 : 0);
    }
    return NULL;
}

/* The first file under dir (rel names it from the unpacked directory) that a store path
 * cannot hold (a FIFO, a socket, a device), arena-allocated with what it is in *kind, or
 * NULL. */
static const char *special_file(State *S, const char *dir, const char *rel, const char **kind) {
    DIR *d = opendir(dir);
    struct dirent *de;
    const char *found = NULL;
    while (d && !found && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *p = fl_path_join(dir, de->d_name);
        AStr r;
        lang_astr_init(S, &r, 64);
        lang_astr_addf(S, &r, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                found = special_file(S, p, r.buf, kind);
            else if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
                *kind = S_ISFIFO(st.st_mode)   ? "a FIFO"
                        : S_ISSOCK(st.st_mode) ? "a socket"
                        : S_ISCHR(st.st_mode)  ? "a character device"
                        : S_ISBLK(st.st_mode)  ? "a block device"
                                               : "not a file, directory or symlink";
                found = r.buf;
            }
        }
        free(p);
    }
    if (d)
        closedir(d);
    return found;
}

void lang_prim_fetch_tarball(State *S, Value **args, Value *out, PosIdx pos);
void lang_prim_fetch_tarball(State *S, Value **args, Value *out, PosIdx pos) {
    FetchArgs fa = {NULL, "source", 0, {0}};
    char *tmp = NULL, *unpacked = NULL;
    const char *msg = NULL, *sp = NULL;
    const char *archive = fetch_begin(S, args[0], "fetchTarball", 1, &fa, out, &tmp, &msg, pos);
    if (!archive) {
        fetch_end(S, tmp, msg, pos);
        return;
    }
    /* Everything that can fail runs before the error is raised, so the temporary
     * directories are always removed. */
    struct stat st;
    unsigned char h[32];
    if (stat(archive, &st) != 0) {
        msg = lang_arena_printf(S, "unable to download '%s': Couldn't read a file:// file (37)",
                                fa.url);
    } else if (!(unpacked = fetch_temp_dir(S, &msg))) {
        /* msg set */
    } else if (run_tar(archive, unpacked, -1) < 0) {
        /* Nix's words for a member with "..", and the member, which Nix does not name */
        const char *bad = escaping_member(S, archive);
        if (bad) {
            msg = lang_arena_printf(
                S,
                "failed to extract archive (Path contains '..'): the entry '%s' of "
                "'%s' would be written outside the directory it is unpacked into",
                bad, fa.url);
        } else {
            msg = "failed to open archive: Unrecognized archive format";
        }
    } else {
        DIR *d = opendir(unpacked);
        const char *top = NULL;
        int members = 0;
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            members++;
            top = lang_arena_strndup(&S->arena, de->d_name, strlen(de->d_name));
        }
        if (d)
            closedir(d);
        if (members != 1) {
            msg = lang_arena_printf(
                S, "tarball '%s' contains an unexpected number of top-level files", fa.url);
        } else {
            char *p = fl_path_join(unpacked, top);
            const char *kind = NULL, *special = special_file(S, unpacked, "", &kind);
            if (special) {
                /* Nix's "file '…' has an unsupported type", naming the entry, not a temp dir */
                msg = lang_arena_printf(
                    S,
                    "file '%s' in the tarball '%s' has an unsupported type (%s; a "
                    "store path holds only regular files, directories and symlinks)",
                    special, fa.url, kind);
            } else if (lang_nar_hash_path(S, p, h) < 0)
                msg = "cannot read the unpacked tarball";
            else if (fa.have_hash && memcmp(h, fa.hash, 32))
                msg = hash_mismatch(S, fa.url, fa.hash, h);
            else
                sp = fetch_store(S, p, 1, h, &fa, &msg, pos);
            free(p);
        }
    }
    if (unpacked) {
        fl_remove_tree(unpacked, NULL);
        free(unpacked);
    }
    fetch_end(S, tmp, msg, pos);
    store_path_string(S, out, sp);
}
