/* fetch.c - Git inputs: a bare clone per URL in the cache, fetched with libgit2 (local,
 * https, ssh with the user's agent/keys and known_hosts), and the tree of one commit exported
 * into the store. Never touches the flake or flake.lock. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flake/internal.h"
#include "flakectl/fs.h"
#include "flakectl/knownhosts.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

char *fl_flake_git_cache_dir(void) {
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg == '/')
        return fl_xasprintf("%s/flakectl/git", xdg);
    if (home && *home == '/' && access(home, W_OK) == 0)
        return fl_xasprintf("%s/.cache/flakectl/git", home);
    return fl_xasprintf("/tmp/flakectl-%ld/git", (long)getuid());
}

static int git_fail(fl_error *err, int code, const char *fmt, const char *arg) {
    const git_error *e = git_error_last();
    char *what = fl_xasprintf(fmt, arg);
    fl_error_set(err, code, "%s: %s", what, e && e->message ? e->message : "unknown error");
    free(what);
    git_error_clear();
    return code;
}

struct fetch_cb {
    const char *url;
    char *ssh_host;
    int ssh_port;
    int tries;
    char *known_hosts_error;
};

/* Credentials for ssh: the agent first, then the usual key files; libgit2 calls back again
 * after each refusal, so `tries` walks the list and finally gives up. */
static int cb_credentials(git_credential **out, const char *url, const char *user_from_url,
                          unsigned int allowed, void *payload) {
    struct fetch_cb *cb = payload;
    const char *user = user_from_url && *user_from_url ? user_from_url : getenv("USER");
    if (!user)
        user = "root";
    if (allowed & GIT_CREDENTIAL_USERNAME)
        return git_credential_username_new(out, user);
    if (!(allowed & GIT_CREDENTIAL_SSH_KEY))
        return GIT_PASSTHROUGH;
    static const char *const keys[] = {"id_ed25519", "id_ecdsa", "id_rsa"};
    const char *home = getenv("HOME");
    const char *explicit_key = getenv("FLAKECTL_SSH_KEY");
    for (;;) {
        int t = cb->tries++;
        if (t == 0 && getenv("SSH_AUTH_SOCK"))
            return git_credential_ssh_key_from_agent(out, user);
        if (t == 0)
            continue;
        if (t == 1) {
            if (explicit_key && fl_path_exists(explicit_key))
                return git_credential_ssh_key_new(out, user, NULL, explicit_key, NULL);
            continue;
        }
        size_t k = (size_t)t - 2;
        if (k >= sizeof keys / sizeof *keys || !home)
            break;
        char *priv = fl_xasprintf("%s/.ssh/%s", home, keys[k]);
        int rc = 1;
        if (fl_path_exists(priv))
            rc = git_credential_ssh_key_new(out, user, NULL, priv, NULL);
        free(priv);
        if (rc <= 0)
            return rc;
    }
    git_error_set_str(GIT_ERROR_SSH, "no SSH key was accepted (tried the agent and ~/.ssh/id_*)");
    (void)url;
    return GIT_EAUTH;
}

/* Host keys are checked against the user's known_hosts (FLAKECTL_KNOWN_HOSTS overrides the
 * file): an unknown or changed key refuses the connection. */
static int cb_certificate(git_cert *cert, int valid, const char *host, void *payload) {
    struct fetch_cb *cb = payload;
    if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
        return valid ? 0 : GIT_PASSTHROUGH;
    const git_cert_hostkey *hk = (const git_cert_hostkey *)cert;
    if (!(hk->type & GIT_CERT_SSH_RAW))
        return GIT_ECERTIFICATE;
    const char *env = getenv("FLAKECTL_KNOWN_HOSTS");
    const char *home = getenv("HOME");
    char *path =
        env && *env ? fl_xstrdup(env) : fl_xasprintf("%s/.ssh/known_hosts", home ? home : "/root");
    fl_known_host_check chk;
    fl_error e = FL_ERROR_INIT;
    memset(&chk, 0, sizeof chk);
    int rc = fl_known_hosts_check(path, cb->ssh_host ? cb->ssh_host : host, cb->ssh_port,
                                  (const unsigned char *)hk->hostkey, hk->hostkey_len, &chk, &e);
    int result = rc < 0 ? -1 : chk.result;
    fl_known_host_check_release(&chk);
    fl_error_clear(&e);
    if (result == FL_KNOWN_HOST_MATCH) {
        free(path);
        return 0;
    }
    char *name = fl_known_hosts_name(cb->ssh_host ? cb->ssh_host : host, cb->ssh_port);
    free(cb->known_hosts_error);
    cb->known_hosts_error =
        fl_xasprintf(result == FL_KNOWN_HOST_CHANGED
                         ? "the host key of %s differs from the one in %s (possible attack)"
                         : "the host key of %s is not in %s: connect once with ssh to check "
                           "and record it",
                     name, path);
    free(name);
    free(path);
    return GIT_ECERTIFICATE;
}

/* ssh://[user@]host[:port]/path: the host and port known_hosts is asked about. */
static void parse_ssh(const char *url, struct fetch_cb *cb) {
    cb->ssh_port = 22;
    if (strncmp(url, "ssh://", 6))
        return;
    const char *h = url + 6;
    const char *slash = strchr(h, '/');
    size_t len = slash ? (size_t)(slash - h) : strlen(h);
    const char *at = memchr(h, '@', len);
    if (at) {
        len -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    const char *colon = memchr(h, ':', len);
    if (colon) {
        cb->ssh_port = atoi(colon + 1);
        len = (size_t)(colon - h);
    }
    cb->ssh_host = fl_xstrndup(h, len);
}

static char *cache_path_for(const char *url) {
    unsigned char h[32];
    char hex[65];
    fl_sha256_buf(url, strlen(url), h);
    fl_hex_encode(h, 16, hex);
    char *root = fl_flake_git_cache_dir();
    char *p = fl_path_join(root, hex);
    free(root);
    return p;
}

/* Takes the cache repository's lock (<dir>.lock, kept): two evaluations fetching the same URL
 * at once (a fleet's hosts built in parallel, or two commands) would otherwise race on its
 * refs and its creation. *fd is owned; close it to unlock. */
static int lock_cache(const char *url, int *fd, fl_error *err) {
    char *dir = cache_path_for(url);
    char *lock = fl_xasprintf("%s.lock", dir);
    *strrchr(dir, '/') = '\0';
    int rc = fl_mkdir_p(dir, 0755, err);
    *fd = rc < 0 ? -1 : open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (rc == 0 && *fd < 0)
        rc = fl_error_errno(err, "cannot open the Git cache's lock %s", lock);
    while (rc == 0 && flock(*fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            rc = fl_error_errno(err, "cannot lock %s", lock);
            close(*fd);
            *fd = -1;
        }
    }
    free(dir);
    free(lock);
    return rc;
}

static int open_cache(const char *url, git_repository **repo, char **dir_out, fl_error *err) {
    char *dir = cache_path_for(url);
    *dir_out = dir;
    if (fl_is_dir(dir) && git_repository_open_bare(repo, dir) == 0)
        return FL_OK;
    git_error_clear();
    char *parent = fl_xstrdup(dir);
    *strrchr(parent, '/') = '\0';
    int rc = fl_mkdir_p(parent, 0755, err);
    free(parent);
    if (rc < 0)
        return rc;
    if (git_repository_init(repo, dir, 1) < 0)
        return git_fail(err, FL_EIO, "cannot create the Git cache %s", dir);
    return FL_OK;
}

/* Fetches every branch and tag (and records the remote's HEAD commit in *head when not
 * NULL). */
static int do_fetch(git_repository *repo, const char *url, git_oid *head, int *has_head,
                    fl_error *err) {
    git_remote *remote = NULL;
    struct fetch_cb cb;
    memset(&cb, 0, sizeof cb);
    cb.url = url;
    parse_ssh(url, &cb);
    /* Anonymous, and without url.*.insteadOf rewriting: the cache's config has none, and
     * libgit2 1.5 leaks the regex match data of that config lookup. */
    git_remote_create_options ro;
    git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    ro.repository = repo;
    ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    if (git_remote_create_with_opts(&remote, url, &ro) < 0) {
        free(cb.ssh_host);
        return git_fail(err, FL_ENET, "bad Git URL '%s'", url);
    }
    char *specs[] = {"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"};
    git_strarray refspecs = {specs, 2};
    git_fetch_options fo;
    git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
    fo.callbacks.credentials = cb_credentials;
    fo.callbacks.certificate_check = cb_certificate;
    fo.callbacks.payload = &cb;
    fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    int rc = FL_OK;
    if (git_remote_fetch(remote, &refspecs, &fo, NULL) < 0) {
        if (cb.known_hosts_error) {
            git_error_clear();
            rc = fl_error_set(err, FL_ENET, "cannot fetch %s: %s", url, cb.known_hosts_error);
        } else {
            rc = git_fail(err, FL_ENET, "cannot fetch %s", url);
        }
    } else if (head) {
        const git_remote_head **heads = NULL;
        size_t n = 0;
        *has_head = 0;
        if (git_remote_ls(&heads, &n, remote) == 0)
            for (size_t i = 0; i < n; i++)
                if (!strcmp(heads[i]->name, "HEAD")) {
                    git_oid_cpy(head, &heads[i]->oid);
                    *has_head = 1;
                }
        git_error_clear();
    }
    git_remote_free(remote);
    free(cb.ssh_host);
    free(cb.known_hosts_error);
    return rc;
}

static int resolve_ref(git_repository *repo, const char *ref, git_oid *oid) {
    const char *forms[] = {"refs/heads/%s", "refs/tags/%s", "%s"};
    for (size_t i = 0; i < 3; i++) {
        char *name = fl_xasprintf(forms[i], ref);
        git_reference *r = NULL;
        int ok = git_reference_lookup(&r, repo, name) == 0;
        free(name);
        if (ok) {
            git_object *obj = NULL;
            ok = git_reference_peel(&obj, r, GIT_OBJECT_COMMIT) == 0;
            if (ok)
                git_oid_cpy(oid, git_object_id(obj));
            git_object_free(obj);
            git_reference_free(r);
            if (ok)
                return 0;
        }
    }
    git_error_clear();
    return -1;
}

struct export_ctx {
    git_repository *repo;
    const char *root;
    int rc;
    fl_error *err;
};

static int export_entry(const char *dir, const git_tree_entry *e, void *payload) {
    struct export_ctx *x = payload;
    char *path = fl_xasprintf("%s/%s%s", x->root, dir, git_tree_entry_name(e));
    git_filemode_t mode = git_tree_entry_filemode(e);
    int rc = 0;
    if (mode == GIT_FILEMODE_TREE) {
        if (mkdir(path, 0755) < 0)
            rc = fl_error_errno(x->err, "cannot create %s", path);
    } else if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE ||
               mode == GIT_FILEMODE_LINK) {
        git_blob *blob = NULL;
        if (git_blob_lookup(&blob, x->repo, git_tree_entry_id(e)) < 0) {
            rc = git_fail(x->err, FL_EIO, "missing object for %s", path);
        } else if (mode == GIT_FILEMODE_LINK) {
            char *target = fl_xstrndup(git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
            if (symlink(target, path) < 0)
                rc = fl_error_errno(x->err, "cannot create %s", path);
            free(target);
        } else {
            FILE *f = fopen(path, "wbx");
            size_t len = (size_t)git_blob_rawsize(blob);
            if (!f || fwrite(git_blob_rawcontent(blob), 1, len, f) != len)
                rc = fl_error_errno(x->err, "cannot write %s", path);
            if (f && fclose(f) != 0 && rc == 0)
                rc = fl_error_errno(x->err, "cannot write %s", path);
            if (rc == 0)
                chmod(path, mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644);
        }
        git_blob_free(blob);
    }
    /* Submodules (GIT_FILEMODE_COMMIT) are not fetched, as Nix without submodules=1. */
    free(path);
    if (rc < 0) {
        x->rc = rc;
        return -1;
    }
    return 0;
}

/* Writes commit's tree to a temp dir and adds it to the store as "source". */
static int export_commit(git_repository *repo, git_commit *commit, fl_store *store,
                         char **store_path, unsigned char nar_hash[32], fl_error *err) {
    char *cache = fl_flake_git_cache_dir();
    int rc = fl_mkdir_p(cache, 0755, err);
    char *tmp = rc < 0 ? NULL : fl_make_temp_dir(cache, ".export-", err);
    free(cache);
    if (!tmp)
        return err->code ? err->code : FL_EIO;
    char *root = fl_path_join(tmp, "source");
    git_tree *tree = NULL;
    struct export_ctx x = {repo, root, 0, err};
    if (mkdir(root, 0755) < 0) {
        rc = fl_error_errno(err, "cannot create %s", root);
    } else if (git_commit_tree(&tree, commit) < 0) {
        rc = git_fail(err, FL_EIO, "cannot read the tree of %s", "the commit");
    } else {
        /* git_tree_walk's dir argument is relative with a trailing '/' ("" at the top). */
        if (git_tree_walk(tree, GIT_TREEWALK_PRE, export_entry, &x) < 0)
            rc = x.rc ? x.rc : git_fail(err, FL_EIO, "cannot export %s", "the tree");
    }
    git_tree_free(tree);
    if (rc == 0)
        rc = fl_store_add_path(store, root, "source", 0, store_path, err);
    if (rc == 0) {
        fl_store_path_info *info = NULL;
        rc = fl_store_query_info(store, *store_path, &info, err);
        if (rc == 0)
            memcpy(nar_hash, info->nar_hash, 32);
        fl_store_path_info_free(info);
    }
    fl_remove_tree(tmp, NULL);
    free(root);
    free(tmp);
    return rc;
}

/* The commit to use: want_rev when given (fetching only when repo lacks it), else the tip
 * of the branch or tag ref, else the remote's HEAD (both after a fetch). *commit owned. */
static int find_commit(git_repository *repo, const char *url, const char *ref, const char *want_rev,
                       git_oid *oid, git_commit **commit, fl_error *err) {
    *commit = NULL;
    if (want_rev) {
        if (git_oid_fromstr(oid, want_rev) < 0)
            return fl_error_set(err, FL_EPARSE, "'%s' is not a full Git revision (40 hex digits)",
                                want_rev);
        /* A commit already here needs no network: that is what makes a second evaluation
         * (or a re-run of the same pull) work offline. */
        if (git_commit_lookup(commit, repo, oid) == 0)
            return FL_OK;
        git_error_clear();
        int rc = do_fetch(repo, url, NULL, NULL, err);
        if (rc < 0)
            return rc;
        if (git_commit_lookup(commit, repo, oid) < 0) {
            git_error_clear();
            return fl_error_set(err, FL_ENOTFOUND, "revision %s is not in %s", want_rev, url);
        }
        return FL_OK;
    }
    git_oid head;
    int has_head = 0;
    int rc = do_fetch(repo, url, &head, &has_head, err);
    if (rc < 0)
        return rc;
    if (ref) {
        if (resolve_ref(repo, ref, oid) < 0)
            return fl_error_set(err, FL_ENOTFOUND, "%s has no branch or tag '%s'", url, ref);
    } else if (has_head) {
        *oid = head;
    } else {
        return fl_error_set(err, FL_ENOTFOUND, "%s has no HEAD (an empty repository?)", url);
    }
    if (git_commit_lookup(commit, repo, oid) < 0)
        return git_fail(err, FL_ENOTFOUND, "the commit %s was not fetched", url);
    return FL_OK;
}

int fl_flake_fetch_git(fl_store *store, const char *url, const char *ref, const char *want_rev,
                       fl_flake_fetched *out, fl_error *err) {
    git_libgit2_init();
    memset(out, 0, sizeof *out);
    git_repository *repo = NULL;
    char *dir = NULL;
    int lockfd = -1;
    int rc = lock_cache(url, &lockfd, err);
    if (rc == 0)
        rc = open_cache(url, &repo, &dir, err);
    if (rc < 0) {
        if (lockfd >= 0)
            close(lockfd);
        free(dir);
        return rc;
    }
    git_oid oid;
    git_commit *commit = NULL;
    rc = find_commit(repo, url, ref, want_rev, &oid, &commit, err);
    if (rc < 0)
        goto done;
    git_oid_tostr(out->rev, sizeof out->rev, &oid);
    out->last_modified = (int64_t)git_commit_time(commit);
    rc = export_commit(repo, commit, store, &out->store_path, out->nar_hash, err);
done:
    if (rc < 0)
        fl_error_add_frame(err, "while fetching %s (cached in %s)", url, dir);
    git_commit_free(commit);
    git_repository_free(repo);
    close(lockfd);
    free(dir);
    return rc;
}
/* ---- pull mode: a clean work tree of one commit ---- */

static int open_work_tree(const char *dir, git_repository **repo, fl_error *err) {
    char *dotgit = fl_path_join(dir, ".git");
    int exists = fl_is_dir(dotgit);
    free(dotgit);
    if (exists && git_repository_open_ext(repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) == 0)
        return FL_OK;
    git_error_clear();
    int rc = fl_mkdir_p(dir, 0755, err);
    if (rc < 0)
        return rc;
    if (git_repository_init(repo, dir, 0) < 0)
        return git_fail(err, FL_EIO, "cannot create the Git work tree %s", dir);
    return FL_OK;
}

/* The commit's "gpgsig" header must be an SSH signature, in git's namespace, over the commit
 * without that header, by one of signers. */
static int check_commit_signature(git_repository *repo, const git_oid *oid, const char *rev,
                                  const fl_ssh_signers *signers, fl_error *err) {
    git_buf sig = {0}, data = {0};
    char *what = fl_xasprintf("commit %s", rev);
    int rc = 0;
    if (git_commit_extract_signature(&sig, &data, repo, (git_oid *)oid, NULL) < 0) {
        git_error_clear();
        rc = fl_error_set(err, FL_ECRYPTO,
                          "%s is not signed, and this host pulls only commits signed by one of "
                          "%zu allowed signer%s: refused",
                          what, signers->n, signers->n == 1 ? "" : "s");
        fl_error_set_hint(err, "sign it with an allowed SSH key (git config gpg.format ssh; "
                               "git config user.signingkey KEY.pub; git commit -S)");
    } else {
        char *signer = NULL;
        rc = fl_sshsig_verify(sig.ptr, data.ptr, data.size, "git", signers, what, &signer, err);
        free(signer);
    }
    git_buf_dispose(&sig);
    git_buf_dispose(&data);
    free(what);
    return rc;
}

int fl_flake_checkout(const char *url, const char *ref, const char *want_rev,
                      const char *applied_rev, const fl_ssh_signers *signers, const char *dir,
                      char rev_out[41], fl_error *err) {
    git_libgit2_init();
    rev_out[0] = '\0';
    git_repository *repo = NULL;
    git_commit *commit = NULL;
    git_oid oid;
    int rc = open_work_tree(dir, &repo, err);
    if (rc < 0)
        goto done;
    rc = find_commit(repo, url, ref, want_rev, &oid, &commit, err);
    if (rc < 0)
        goto done;
    git_oid_tostr(rev_out, 41, &oid);
    if (signers && signers->n) {
        rc = check_commit_signature(repo, &oid, rev_out, signers, err);
        if (rc < 0)
            goto done;
    }
    /* Never back: the applied commit must be this one or one of its ancestors, so a branch
     * reset to an older commit (or a replayed rev) is refused rather than deployed. */
    git_oid applied;
    if (applied_rev && git_oid_fromstr(&applied, applied_rev) == 0 &&
        !git_oid_equal(&applied, &oid) && git_graph_descendant_of(repo, &oid, &applied) != 1) {
        git_error_clear();
        rc = fl_error_set(err, FL_ECONFLICT,
                          "%s is not a descendant of %s, the revision this host runs: refusing "
                          "to go back",
                          rev_out, applied_rev);
        fl_error_set_hint(err, "pull a newer revision; to go back on purpose, use 'flakectl "
                               "rollback' or --allow-downgrade");
        goto done;
    }
    git_checkout_options co;
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED;
    if (git_checkout_tree(repo, (const git_object *)commit, &co) < 0 ||
        git_repository_set_head_detached(repo, &oid) < 0) {
        rc = git_fail(err, FL_EIO, "cannot check out %s", rev_out);
        goto done;
    }
done:
    if (rc < 0)
        fl_error_add_frame(err, "while fetching %s into %s", url, dir);
    git_commit_free(commit);
    git_repository_free(repo);
    return rc;
}
