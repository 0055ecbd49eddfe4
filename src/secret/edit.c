/* edit.c - `secret edit` and `secret rekey` file handling: decrypting into a private
 * temporary directory, running the editor, re-encrypting, and rekeying all-or-nothing. Takes
 * recipient lists as arguments; never decides who may read a file (secrets.nix does). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/strbuf.h"
#include "secret/internal.h"

static int is_armored(const char *path) {
    char head[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, head, sizeof head - 1);
    close(fd);
    if (n <= 0)
        return 0;
    head[n] = '\0';
    const char *p = head;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return !strncmp(p, "-----BEGIN", 10);
}

static const char *temp_parent(const char *given) {
    const char *c[] = {given, getenv("XDG_RUNTIME_DIR"), getenv("TMPDIR"), "/tmp"};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        if (c[i] && *c[i] && fl_is_dir(c[i]))
            return c[i];
    return "/tmp";
}

static int write_private(const char *path, const unsigned char *data, size_t len, fl_error *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return fl_error_errno(err, "cannot create %s", path);
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fl_error_errno(err, "cannot write %s", path);
            close(fd);
            return FL_EIO;
        }
        data += n;
        len -= (size_t)n;
    }
    return close(fd) == 0 ? 0 : fl_error_errno(err, "cannot write %s", path);
}

/* Overwrites a plaintext copy before it is unlinked (best effort: an editor that replaced
 * the file by renaming leaves the old blocks to the file system). */
static void shred_file(const char *path) {
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        static const unsigned char zeros[4096];
        off_t left = st.st_size;
        while (left > 0) {
            size_t n = left < (off_t)sizeof zeros ? (size_t)left : sizeof zeros;
            ssize_t w = write(fd, zeros, n);
            if (w <= 0)
                break;
            left -= w;
        }
        fsync(fd);
    }
    close(fd);
}

/* Runs `editor FILE` through /bin/sh (so EDITOR="code --wait" works) and waits, ignoring
 * SIGINT/SIGQUIT meanwhile, as system(3) does, so that the cleanup still runs. */
static int run_editor(const char *editor, const char *file, fl_error *err) {
    struct sigaction ign, old_int, old_quit;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    char *script = fl_xasprintf("%s \"$1\"", editor);
    pid_t pid = fork();
    if (pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        execl("/bin/sh", "sh", "-c", script, "sh", file, (char *)NULL);
        _exit(127);
    }
    int status = 0, rc = 0;
    if (pid < 0)
        rc = fl_error_errno(err, "cannot start the editor");
    else
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    free(script);
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        if (WIFEXITED(status))
            rc = fl_error_set(err, FL_EGENERIC, "the editor '%s' exited with status %d", editor,
                              WEXITSTATUS(status));
        else
            rc = fl_error_set(err, FL_EGENERIC, "the editor '%s' was killed by signal %d", editor,
                              WTERMSIG(status));
    }
    return rc;
}

static const char *default_editor(void) {
    const char *e = getenv("VISUAL");
    if (!e || !*e)
        e = getenv("EDITOR");
    return e && *e ? e : "vi";
}

int fl_secret_edit(const char *path, const fl_age_recipients *r, const fl_age_identities *ids,
                   const char *editor, const char *tmp_parent, int *changed, fl_error *err) {
    unsigned char *old = NULL, *cur = NULL;
    size_t old_len = 0, cur_len = 0;
    char *dir = NULL, *copy = NULL, *data = NULL;
    int exists = fl_path_exists(path), armor = 0, rc = 0;
    if (changed)
        *changed = 0;
    if (r->n == 0)
        return fl_error_set(err, FL_EUSAGE, "%s: no recipients to encrypt it to", path);
    if (!editor)
        editor = default_editor();
    if (exists) {
        armor = is_armored(path);
        if ((rc = fl_age_decrypt_to_memory(path, ids, &old, &old_len, err)) != 0) {
            fl_error_add_frame(err, "while opening %s for editing (it was not changed)", path);
            return rc;
        }
    }
    dir = fl_make_temp_dir(temp_parent(tmp_parent), "flakectl-edit-", err);
    if (!dir) {
        rc = FL_EIO;
        goto out;
    }
    /* mkdtemp makes it 0700 already; say so explicitly against odd umasks or libcs. */
    chmod(dir, 0700);
    const char *slash = strrchr(path, '/');
    char *base = fl_xstrdup(slash ? slash + 1 : path);
    size_t bl = strlen(base);
    if (bl > 4 && !strcmp(base + bl - 4, ".age"))
        base[bl - 4] = '\0';
    copy = fl_path_join(dir, base);
    free(base);
    if ((rc = write_private(copy, old ? old : (const unsigned char *)"", old_len, err)) != 0)
        goto out;
    if ((rc = run_editor(editor, copy, err)) != 0) {
        fl_error_add_frame(err, "while editing %s (it was not changed)", path);
        goto out;
    }
    if ((rc = fl_read_file(copy, &data, &cur_len, err)) != 0)
        goto out;
    cur = (unsigned char *)data;
    if ((exists && old && cur_len == old_len && (old_len == 0 || !memcmp(cur, old, old_len))) ||
        (!exists && cur_len == 0))
        goto out; /* nothing to write: the file stays as it was (or absent) */
    rc = fl_age_encrypt_memory_to_file(cur, cur_len, path, r, armor, err);
    if (rc == 0 && changed)
        *changed = 1;
out:
    if (copy)
        shred_file(copy);
    if (dir) {
        fl_error tmp_err = FL_ERROR_INIT;
        if (fl_remove_tree(dir, &tmp_err) != 0 && rc == 0) {
            fl_error_move(err, &tmp_err);
            rc = FL_EIO;
        }
        fl_error_clear(&tmp_err);
    }
    fl_age_plaintext_free(old, old_len);
    fl_age_plaintext_free(cur, cur_len);
    free(copy);
    free(dir);
    return rc;
}

int fl_secret_rekey(const fl_secret_rekey_file *files, size_t n, const fl_age_identities *ids,
                    fl_error *err) {
    unsigned char **plain = fl_xcalloc(n ? n : 1, sizeof *plain);
    size_t *lens = fl_xcalloc(n ? n : 1, sizeof *lens);
    char **tmps = fl_xcalloc(n ? n : 1, sizeof *tmps);
    int rc = 0;
    size_t i;
    for (i = 0; i < n && rc == 0; i++)
        if (files[i].recipients->n == 0)
            rc = fl_error_set(err, FL_EUSAGE, "%s: no recipients to encrypt it to", files[i].path);
    /* 1. Everything must decrypt before anything is written. */
    for (i = 0; i < n && rc == 0; i++) {
        rc = fl_age_decrypt_to_memory(files[i].path, ids, &plain[i], &lens[i], err);
        if (rc)
            fl_error_add_frame(err, "while checking that every file can be decrypted; no file "
                                    "was changed");
    }
    /* 2. Every new ciphertext is complete on disk before the first replacement. */
    for (i = 0; i < n && rc == 0; i++) {
        rc = age_encrypt_memory_to_temp(plain[i], lens[i], files[i].path, files[i].recipients,
                                        is_armored(files[i].path), &tmps[i], err);
        if (rc)
            fl_error_add_frame(err, "while re-encrypting %s; no file was changed", files[i].path);
    }
    /* 3. Replace. A rename within one directory fails only when the file system does. */
    size_t done = 0;
    for (i = 0; i < n && rc == 0; i++) {
        rc = fl_atomic_rename(tmps[i], files[i].path, err);
        if (rc == 0) {
            free(tmps[i]);
            tmps[i] = NULL;
            done++;
        } else if (done > 0) {
            fl_error_add_frame(err, "%zu of %zu files were already re-encrypted", done, n);
        }
    }
    for (i = 0; i < n; i++) {
        if (tmps[i]) {
            unlink(tmps[i]);
            free(tmps[i]);
        }
        fl_age_plaintext_free(plain[i], lens[i]);
    }
    free(plain);
    free(lens);
    free(tmps);
    return rc;
}
