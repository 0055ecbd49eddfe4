/* gc.c - garbage collection (roots, liveness, deleting unreachable paths referrers first),
 * indirect roots for --out-link, and `store verify`. The only file that deletes registered
 * paths; it does so only under the store's exclusive lock. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/strbuf.h"
#include "store/store_int.h"

/* A sorted set of strings. */
typedef struct pset {
    char **v;
    size_t n, cap;
} pset;

static size_t pset_find(const pset *p, const char *s, int *found) {
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int k = strcmp(p->v[mid], s);
        if (k == 0) {
            *found = 1;
            return mid;
        }
        if (k < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static int pset_has(const pset *p, const char *s) {
    int f;
    pset_find(p, s, &f);
    return f;
}

static int pset_add(pset *p, const char *s) {
    int f;
    size_t at = pset_find(p, s, &f);
    if (f)
        return 0;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->v = fl_xrealloc(p->v, p->cap * sizeof *p->v);
    }
    memmove(p->v + at + 1, p->v + at, (p->n - at) * sizeof *p->v);
    p->v[at] = fl_xstrdup(s);
    p->n++;
    return 1;
}

static void pset_release(pset *p) {
    fl_store_free_paths(p->v, p->n);
    memset(p, 0, sizeof *p);
}

static void remove_quietly(const char *path) {
    fl_error e = FL_ERROR_INIT;
    fl_remove_tree(path, &e);
    fl_error_clear(&e);
}

/* Disk space used by a tree (st_blocks), never following symlinks. */
static uint64_t du_at(int pfd, const char *name) {
    struct stat st;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    uint64_t total = (uint64_t)st.st_blocks * 512;
    if (!S_ISDIR(st.st_mode))
        return total;
    int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return total;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            total += du_at(dirfd(d), de->d_name);
    closedir(d);
    return total;
}

int fl_store_add_indirect_root(fl_store *s, const char *link, fl_error *err) {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return fl_error_errno(err, "cannot find the current directory");
    char *abs = fl_canon_path(link, cwd);
    unsigned char h[FL_SHA256_LEN], c[20];
    fl_sha256_buf(abs, strlen(abs), h);
    fl_hash_compress(h, sizeof h, c, sizeof c);
    char b32[FL_STORE_HASH_LEN + 1];
    fl_base32_encode(c, sizeof c, b32);
    int rc = fl_store_add_named_root(s, "auto", b32, abs, err);
    free(abs);
    return rc;
}

/* ---- roots ------------------------------------------------------------------------------ */

/* The start time of a process (clock ticks since boot, /proc/PID/stat field 22), which with
 * the pid names it uniquely: a pid is reused, the pair is not. 0 when it is gone. */
static unsigned long long proc_start(long pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and ')': count from the last ')'. */
    char *p = strrchr(buf, ')');
    unsigned long long start = 0;
    for (int field = 2; p && *p; p++)
        if (*p == ' ' && ++field == 22) {
            start = strtoull(p + 1, NULL, 10);
            break;
        }
    return start;
}

/* gcroots/temp/<this name>: the process (pid and start time) and the path's hash. */
static char *temp_root_name(fl_store *s, const char *path) {
    const char *hp = fl_store_hash_part(s, path);
    long pid = (long)getpid();
    return fl_xasprintf("%ld-%llu-%.*s", pid, proc_start(pid), FL_STORE_HASH_LEN, hp ? hp : "none");
}

int fl_store_add_temp_root(fl_store *s, const char *path, fl_error *err) {
    char *name = temp_root_name(s, path);
    char *dir = fl_xasprintf("%s/gcroots/temp", fl_store_state_dir(s));
    char *link = fl_path_join(dir, name);
    /* No fsync: the root names this process (pid and start time) and means nothing once it
     * is gone, so a crash that loses it loses nothing; a collector in another process sees
     * it as soon as the rename is done. */
    int rc = fl_mkdir_p(dir, 0755, err);
    if (!rc)
        rc = fl_atomic_symlink_ex(path, link, FL_ATOMIC_NO_SYNC, err);
    free(dir);
    free(link);
    if (rc)
        fl_error_add_frame(err, "while rooting %s for as long as this command runs", path);
    free(name);
    return rc;
}

void fl_store_drop_temp_root(fl_store *s, const char *path) {
    char *name = temp_root_name(s, path);
    char *link = fl_xasprintf("%s/gcroots/temp/%s", fl_store_state_dir(s), name);
    unlink(link);
    free(link);
    free(name);
}

int fl_store_add_named_root(fl_store *s, const char *group, const char *name, const char *path,
                            fl_error *err) {
    char *dir = fl_xasprintf("%s/gcroots/%s", fl_store_state_dir(s), group);
    char *link = fl_path_join(dir, name);
    int rc = fl_mkdir_p(dir, 0755, err);
    if (!rc)
        rc = fl_atomic_symlink(path, link, err);
    free(dir);
    free(link);
    return rc;
}

void fl_store_drop_named_roots(fl_store *s, const char *group, const char *prefix) {
    char *dir = fl_xasprintf("%s/gcroots/%s", fl_store_state_dir(s), group);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && !strncmp(de->d_name, prefix, strlen(prefix)))
            unlinkat(dirfd(d), de->d_name, 0);
    if (d)
        closedir(d);
    else if (dfd >= 0)
        close(dfd);
    free(dir);
}

/* ---- pending roots (a deployment's paths between the copy and the activation) ---------- */

int fl_store_pending_id_valid(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (const char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_'))
            return 0;
    return 1;
}

static char *pending_file(fl_store *s, const char *id) {
    return fl_xasprintf("%s/gcroots/pending/%s", fl_store_state_dir(s), id);
}

/* Adds the store paths of the record's text (one a line) to set. */
static void pending_parse(fl_store *s, char *text, pset *set) {
    for (char *line = text, *e; line && *line; line = e ? e + 1 : NULL) {
        e = strchr(line, '\n');
        if (e)
            *e = '\0';
        if (fl_store_is_store_path(s, line))
            pset_add(set, line);
        if (!e)
            break;
    }
}

int fl_store_pending_hold(fl_store *s, const char *id, const char *const *paths, size_t n,
                          fl_error *err) {
    if (!fl_store_pending_id_valid(id))
        return fl_error_set(err, FL_EUSAGE,
                            "pending root id '%s' is not 1 to 64 letters, digits, '-' or '_'",
                            id ? id : "");
    char *dir = fl_xasprintf("%s/gcroots/pending", fl_store_state_dir(s));
    char *file = pending_file(s, id);
    pset set = {0};
    char *old = NULL;
    size_t len = 0;
    fl_error rerr = FL_ERROR_INIT;
    if (fl_read_file(file, &old, &len, &rerr) == 0)
        pending_parse(s, old, &set);
    fl_error_clear(&rerr);
    free(old);
    for (size_t i = 0; i < n; i++)
        if (fl_store_is_store_path(s, paths[i]))
            pset_add(&set, paths[i]);
    fl_strbuf text;
    fl_strbuf_init(&text, 256);
    for (size_t i = 0; i < set.n; i++)
        fl_strbuf_addf(&text, "%s\n", set.v[i]);
    /* Rewritten even when nothing was added: its mtime is the renewal gc goes by. */
    int rc = fl_mkdir_p(dir, 0755, err);
    if (!rc)
        rc = fl_atomic_write_file(file, text.buf, text.len, 0644, err);
    if (rc)
        fl_error_add_frame(err, "while rooting the paths of deployment %s", id);
    fl_strbuf_release(&text);
    pset_release(&set);
    free(file);
    free(dir);
    return rc;
}

/* gcroots/pending/<id>.lock: share-locked by each process that claimed the record, for as
 * long as it lives (the kernel drops the lock with the process, however it ends). */
static char *pending_lock_name(const char *id) {
    return fl_xasprintf("%s.lock", id);
}

int fl_store_pending_claim(fl_store *s, const char *id, int *lockfd, fl_error *err) {
    *lockfd = -1;
    /* Renewed first: once the owner is gone, the record lasts FL_STORE_PENDING_MAX_AGE
     * from the claim, as a deployment stopped after its copy. */
    int rc = fl_store_pending_hold(s, id, NULL, 0, err);
    if (rc)
        return rc;
    char *dir = fl_xasprintf("%s/gcroots/pending", fl_store_state_dir(s));
    char *name = pending_lock_name(id);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int fd = dfd >= 0 ? openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
    /* The store's shared lock is held: gc, which takes the lock file exclusively, is out. */
    if (fd < 0 || flock(fd, LOCK_SH) < 0) {
        rc = fl_error_set(err, FL_EIO, "cannot lock %s/%s: %s", dir, name, strerror(errno));
        fl_error_add_frame(err, "while tying the pending root %s to this process", id);
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    if (dfd >= 0)
        close(dfd);
    *lockfd = fd;
    free(name);
    free(dir);
    return rc;
}

void fl_store_pending_drop(fl_store *s, const char *id) {
    if (!fl_store_pending_id_valid(id))
        return;
    char *file = pending_file(s, id);
    char *lock = fl_xasprintf("%s.lock", file);
    unlink(file);
    unlink(lock);
    free(lock);
    free(file);
}

/* Does a live process hold the record's lock file (fl_store_pending_claim)? 1 yes, 0 no
 * owner (none ever, or gone: -1 when a lock file says there was one). */
static int pending_owner(int dfd, const char *id) {
    char *name = pending_lock_name(id);
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    free(name);
    if (fd < 0)
        return 0;
    int held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    close(fd);
    return held ? 1 : -1;
}

/* gcroots/pending/<id>: roots while a live process holds its lock (the activation that names
 * it) or while renewed within FL_STORE_PENDING_MAX_AGE; otherwise a deployment that never
 * reached (or never finished) its activation, and they go. Temporaries of a killed write go
 * too, and lock files of no record that nobody holds: gc holds the store exclusively, so
 * nobody is writing or claiming them. */
static void scan_pending(fl_store *s, pset *roots, int dry_run, FILE *report) {
    char *dir = fl_xasprintf("%s/gcroots/pending", fl_store_state_dir(s));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d && dfd >= 0)
        close(dfd);
    struct dirent *de;
    int64_t now = fl_store_now();
    while (d && (de = readdir(d)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (!fl_store_pending_id_valid(de->d_name)) {
            size_t n = strlen(de->d_name);
            char *id = n > 5 && !strcmp(de->d_name + n - 5, ".lock")
                           ? fl_xstrndup(de->d_name, n - 5)
                           : NULL;
            struct stat rst;
            int orphan = id && fl_store_pending_id_valid(id) &&
                         fstatat(dirfd(d), id, &rst, AT_SYMLINK_NOFOLLOW) < 0 &&
                         pending_owner(dirfd(d), id) != 1;
            if ((strstr(de->d_name, ".tmp-") || orphan) && !dry_run)
                unlinkat(dirfd(d), de->d_name, 0);
            free(id);
            continue;
        }
        int64_t age = now - (int64_t)st.st_mtime;
        int owner = pending_owner(dirfd(d), de->d_name);
        if (owner != 1 && age > FL_STORE_PENDING_MAX_AGE) {
            if (report)
                fprintf(report, "%s stale pending root %s (%snot renewed for %lld min)\n",
                        dry_run ? "would drop" : "dropping", de->d_name,
                        owner ? "its activating process is gone; " : "deployment ",
                        (long long)(age / 60));
            if (!dry_run) {
                char *lock = pending_lock_name(de->d_name);
                unlinkat(dirfd(d), de->d_name, 0);
                unlinkat(dirfd(d), lock, 0);
                free(lock);
            }
            continue;
        }
        char *file = fl_path_join(dir, de->d_name);
        char *text = NULL;
        size_t len = 0;
        fl_error e = FL_ERROR_INIT;
        if (fl_read_file(file, &text, &len, &e) == 0)
            pending_parse(s, text, roots);
        fl_error_clear(&e);
        free(text);
        free(file);
    }
    if (d)
        closedir(d);
    free(dir);
}

/* Is the process that made temp root NAME (<pid>-<start>-<hash>) still running? */
static int temp_root_owner_alive(const char *name) {
    char *end;
    long pid = strtol(name, &end, 10);
    if (end == name || *end != '-' || pid <= 0)
        return 0;
    unsigned long long start = strtoull(end + 1, &end, 10);
    return *end == '-' && start && proc_start(pid) == start;
}

static void add_root_link(fl_store *s, const char *link, pset *roots) {
    fl_error e = FL_ERROR_INIT;
    char *p = fl_store_to_store_path(s, link, &e);
    fl_error_clear(&e);
    if (p)
        pset_add(roots, p);
    free(p);
}

/* kind 1: gcroots/auto (a root whose out-link is gone goes); 2: gcroots/temp (a root whose
 * process is gone goes). */
static void scan_root_dir(fl_store *s, const char *dir, int depth, pset *roots, int dry_run,
                          int kind) {
    DIR *d = opendir(dir);
    if (!d || depth > 8) {
        if (d)
            closedir(d);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *p = fl_path_join(dir, de->d_name);
        struct stat st;
        if (depth == 0 && !strcmp(de->d_name, "pending")) {
            /* records, not links: scan_pending */
        } else if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            scan_root_dir(s, p, depth + 1, roots, dry_run,
                          depth == 0 && !strcmp(de->d_name, "auto")   ? 1
                          : depth == 0 && !strcmp(de->d_name, "temp") ? 2
                                                                      : 0);
        } else if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode)) {
            struct stat t;
            if (kind == 2 && !temp_root_owner_alive(de->d_name)) {
                /* Its process is gone: whatever it worked on is rooted elsewhere by now. */
                if (!dry_run)
                    unlink(p);
            } else if (stat(p, &t) < 0 && kind == 1) {
                /* The --out-link this pointed to is gone: the root is stale. */
                if (!dry_run)
                    unlink(p);
            } else {
                add_root_link(s, p, roots);
            }
        }
        free(p);
    }
    closedir(d);
}

/* If p lies in the store (under dir, its spelling, or real, the resolved one), adds the
 * store path holding it. */
static void root_if_inside(fl_store *s, const char *real, const char *p, pset *roots) {
    const char *dirs[] = {fl_store_dir(s), real};
    for (int k = 0; k < 2; k++) {
        size_t n = dirs[k] ? strlen(dirs[k]) : 0;
        if (!n || strncmp(p, dirs[k], n) != 0 || p[n] != '/')
            continue;
        const char *b = p + n + 1;
        size_t len = strcspn(b, "/ \n");
        char *sp = fl_xasprintf("%s/%.*s", fl_store_dir(s), (int)len, b);
        if (fl_store_is_store_path(s, sp))
            pset_add(roots, sp);
        free(sp);
    }
}

static void root_if_link_inside(fl_store *s, const char *real, const char *link, pset *roots) {
    char target[PATH_MAX];
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n > 0) {
        target[n] = '\0';
        root_if_inside(s, real, target, roots);
    }
}

/* Paths in use by running processes (executables, working directories, open files, mapped
 * libraries) are roots too: never delete what something runs from. Processes we may not
 * inspect are skipped silently. */
static void add_runtime_roots(fl_store *s, pset *roots) {
    char *real = realpath(fl_store_dir(s), NULL);
    DIR *proc = opendir("/proc");
    struct dirent *pe;
    while (proc && (pe = readdir(proc)) != NULL) {
        if (pe->d_name[0] < '0' || pe->d_name[0] > '9')
            continue;
        char *base = fl_xasprintf("/proc/%s", pe->d_name);
        const char *links[] = {"exe", "cwd", "root"};
        for (int i = 0; i < 3; i++) {
            char *l = fl_path_join(base, links[i]);
            root_if_link_inside(s, real, l, roots);
            free(l);
        }
        char *fddir = fl_path_join(base, "fd");
        DIR *fds = opendir(fddir);
        struct dirent *fe;
        while (fds && (fe = readdir(fds)) != NULL) {
            if (fe->d_name[0] == '.')
                continue;
            char *l = fl_path_join(fddir, fe->d_name);
            root_if_link_inside(s, real, l, roots);
            free(l);
        }
        if (fds)
            closedir(fds);
        free(fddir);
        char *maps = fl_path_join(base, "maps");
        FILE *m = fopen(maps, "r");
        char line[PATH_MAX + 256];
        while (m && fgets(line, sizeof line, m)) {
            char *slash = strchr(line, '/');
            if (slash)
                root_if_inside(s, real, slash, roots);
        }
        if (m)
            fclose(m);
        free(maps);
        free(base);
    }
    if (proc)
        closedir(proc);
    free(real);
}

static void find_roots(fl_store *s, const char *root_dir, pset *roots, int dry_run, FILE *report) {
    add_runtime_roots(s, roots);
    scan_pending(s, roots, dry_run, report);
    char *profiles = fl_path_join(fl_store_state_dir(s), "profiles");
    DIR *d = opendir(profiles);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.')
                continue;
            char *p = fl_path_join(profiles, de->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode))
                add_root_link(s, p, roots);
            free(p);
        }
        closedir(d);
    }
    free(profiles);
    char *gcroots = fl_path_join(fl_store_state_dir(s), "gcroots");
    scan_root_dir(s, gcroots, 0, roots, dry_run, 0);
    free(gcroots);
    char *current = fl_path_join(root_dir ? root_dir : "/", "run/flakectl/current");
    add_root_link(s, current, roots);
    free(current);
}

/* Adds the closure of p to live, tolerating missing registry entries. */
static void mark_live(fl_store *s, const char *p, pset *live) {
    if (!pset_add(live, p))
        return;
    fl_store_path_info *info = NULL;
    if (fl_registry_read(s, p, &info, NULL) != 0)
        return;
    for (size_t i = 0; i < info->nrefs; i++)
        mark_live(s, info->refs[i], live);
    fl_store_path_info_free(info);
}

/* Post-order over the dead set: references before referrers. */
static void topo_dead(fl_store *s, const char *p, const pset *dead, pset *done, char ***order,
                      size_t *n) {
    if (!pset_has(dead, p) || !pset_add(done, p))
        return;
    fl_store_path_info *info = NULL;
    if (fl_registry_read(s, p, &info, NULL) == 0) {
        for (size_t i = 0; i < info->nrefs; i++)
            topo_dead(s, info->refs[i], dead, done, order, n);
        fl_store_path_info_free(info);
    }
    *order = fl_xrealloc(*order, (*n + 1) * sizeof **order);
    (*order)[(*n)++] = fl_xstrdup(p);
}

static void human(uint64_t b, char *out, size_t n) {
    if (b >= 1024 * 1024)
        snprintf(out, n, "%.1f MiB", (double)b / (1024.0 * 1024.0));
    else
        snprintf(out, n, "%.1f KiB", (double)b / 1024.0);
}

/* Partial downloads (binary-cache NARs waiting to be resumed) that nothing wrote to for a
 * day: a resumed download would rather start over than trust a file that old, and the
 * space is wanted back. gc holds the store exclusively, so none of them is being written. */
static void sweep_partials(fl_store *s, int dry_run, FILE *report, fl_store_gc_result *res) {
    char *dir = fl_xasprintf("%s/tmp/%s", fl_store_state_dir(s), FL_STORE_PARTIAL_DIR);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d && dfd >= 0)
        close(dfd);
    int64_t now = fl_store_now();
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            now - (int64_t)st.st_mtime < FL_STORE_PARTIAL_MAX_AGE)
            continue;
        if (report)
            fprintf(report, "%s stale partial download %s/%s\n",
                    dry_run ? "would delete" : "deleting", dir, de->d_name);
        if (!dry_run && unlinkat(dirfd(d), de->d_name, 0) < 0)
            continue;
        res->partials++;
        res->bytes += (uint64_t)st.st_size;
    }
    if (d)
        closedir(d);
    free(dir);
}

int fl_store_gc(fl_store *s, const char *root_dir, int64_t older_than, int dry_run, FILE *report,
                fl_store_gc_result *res, fl_error *err) {
    memset(res, 0, sizeof *res);
    int rc = fl_store_lock_exclusive(s, err);
    if (rc)
        return rc;
    pset roots = {0}, live = {0}, dead = {0}, done = {0};
    char **all = NULL, **order = NULL;
    size_t nall = 0, norder = 0;
    find_roots(s, root_dir, &roots, dry_run, report);
    rc = fl_registry_list(s, &all, &nall, err);
    if (rc)
        goto out;
    for (size_t i = 0; i < roots.n; i++)
        mark_live(s, roots.v[i], &live);
    /* Young unreachable paths are kept, and so is everything they reference. */
    int64_t cutoff = fl_store_now() - older_than;
    if (older_than > 0) {
        for (size_t i = 0; i < nall; i++) {
            if (pset_has(&live, all[i]))
                continue;
            fl_store_path_info *info = NULL;
            if (fl_registry_read(s, all[i], &info, NULL) == 0 && info->registration_time > cutoff) {
                res->kept_young++;
                mark_live(s, all[i], &live);
            }
            fl_store_path_info_free(info);
        }
    }
    for (size_t i = 0; i < nall; i++)
        if (!pset_has(&live, all[i]))
            pset_add(&dead, all[i]);
    for (size_t i = 0; i < dead.n; i++)
        topo_dead(s, dead.v[i], &dead, &done, &order, &norder);
    for (size_t k = norder; k-- > 0 && !rc;) {
        const char *p = order[k];
        uint64_t bytes = du_at(AT_FDCWD, p);
        if (report)
            fprintf(report, "%s %s\n", dry_run ? "would delete" : "deleting", p);
        if (!dry_run) {
            /* Unregister first: a crash in between leaves unregistered garbage, never a
             * registered path with missing contents. */
            rc = fl_registry_remove(s, p, err);
            if (!rc)
                rc = fl_remove_tree(p, err);
        }
        res->deleted++;
        res->bytes += bytes;
    }
    /* Leftovers: unregistered entries of the store dir (crashed adds and builds). */
    DIR *d = rc ? NULL : opendir(fl_store_dir(s));
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL && !rc) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char *p = fl_path_join(fl_store_dir(s), de->d_name);
            fl_store_path_info *info = NULL;
            if (fl_registry_read(s, p, &info, NULL) != 0) {
                uint64_t bytes = du_at(AT_FDCWD, p);
                if (report)
                    fprintf(report, "%s leftover %s\n", dry_run ? "would delete" : "deleting", p);
                if (!dry_run)
                    rc = fl_remove_tree(p, err);
                res->deleted++;
                res->bytes += bytes;
            }
            fl_store_path_info_free(info);
            free(p);
        }
        closedir(d);
    }
    if (!rc)
        sweep_partials(s, dry_run, report, res);
    if (report) {
        char h[32];
        human(res->bytes, h, sizeof h);
        fprintf(report, "%s %zu store paths, %llu bytes (%s)", dry_run ? "would free" : "freed",
                res->deleted, (unsigned long long)res->bytes, h);
        if (res->partials)
            fprintf(report, "; %zu stale partial download%s", res->partials,
                    res->partials == 1 ? "" : "s");
        if (res->kept_young)
            fprintf(report, "; kept %zu unreachable paths younger than the cutoff",
                    res->kept_young);
        fputc('\n', report);
    }
out:
    fl_store_free_paths(all, nall);
    fl_store_free_paths(order, norder);
    pset_release(&roots);
    pset_release(&live);
    pset_release(&dead);
    pset_release(&done);
    fl_store_lock_shared(s);
    return rc;
}

/* ---- verify ----------------------------------------------------------------------------- */

static int verify_db_files(fl_store *s, int repair, FILE *report, fl_store_verify_result *res,
                           fl_error *err) {
    DIR *d = opendir(fl_store_db_dir(s));
    if (!d)
        return fl_error_errno(err, "cannot read %s", fl_store_db_dir(s));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        int entry = strlen(nm) == FL_STORE_HASH_LEN + 5 && !strcmp(nm + FL_STORE_HASH_LEN, ".json");
        char *p = fl_path_join(fl_store_db_dir(s), nm);
        if (strstr(nm, ".tmp-")) {
            fprintf(report, "leftover temporary registry file %s\n", p);
            res->garbage++;
            if (repair && unlink(p) == 0)
                res->repaired++;
        } else if (entry) {
            json_t *root = json_load_file(p, 0, NULL);
            if (!json_is_string(json_object_get(root, "path"))) {
                fprintf(report, "corrupt registry entry %s\n", p);
                res->garbage++;
                if (repair && unlink(p) == 0)
                    res->repaired++;
            }
            json_decref(root);
        }
        free(p);
    }
    closedir(d);
    return FL_OK;
}

int fl_store_verify(fl_store *s, int check_contents, int repair, FILE *report,
                    fl_store_verify_result *res, fl_error *err) {
    memset(res, 0, sizeof *res);
    int rc = fl_store_lock_exclusive(s, err);
    if (rc)
        return rc;
    char **all = NULL;
    size_t nall = 0;
    pset valid = {0}, dropped = {0};
    rc = verify_db_files(s, repair, report, res, err);
    if (!rc)
        rc = fl_registry_list(s, &all, &nall, err);
    for (size_t i = 0; i < nall && !rc; i++) {
        const char *p = all[i];
        if (!fl_path_exists(p)) {
            fprintf(report, "registered but missing: %s\n", p);
            res->missing++;
            pset_add(&dropped, p);
            if (repair && fl_registry_remove(s, p, err) == 0)
                res->repaired++;
            continue;
        }
        if (check_contents) {
            fl_store_path_info *info = NULL;
            unsigned char h[FL_SHA256_LEN];
            uint64_t size = 0;
            fl_error e = FL_ERROR_INIT;
            int bad = fl_registry_read(s, p, &info, &e) != 0 ||
                      fl_nar_hash_path(p, h, &size, &e) != 0 ||
                      memcmp(h, info->nar_hash, sizeof h) != 0 || size != info->nar_size;
            fl_error_clear(&e);
            fl_store_path_info_free(info);
            if (bad) {
                fprintf(report, "contents changed (hash mismatch): %s\n", p);
                res->corrupt++;
                pset_add(&dropped, p);
                if (repair && fl_registry_remove(s, p, err) == 0) {
                    remove_quietly(p);
                    res->repaired++;
                }
                continue;
            }
        }
        pset_add(&valid, p);
    }
    /* References to dropped or unregistered paths break the closure invariant. Repeat until
     * nothing changes, as dropping one referrer can break another. */
    for (int changed = 1; changed && !rc;) {
        changed = 0;
        for (size_t i = 0; i < valid.n; i++) {
            if (pset_has(&dropped, valid.v[i]))
                continue;
            fl_store_path_info *info = NULL;
            if (fl_registry_read(s, valid.v[i], &info, NULL) != 0)
                continue;
            for (size_t k = 0; k < info->nrefs; k++) {
                if (pset_has(&valid, info->refs[k]) && !pset_has(&dropped, info->refs[k]))
                    continue;
                fprintf(report, "dangling reference: %s -> %s\n", valid.v[i], info->refs[k]);
                res->dangling++;
                pset_add(&dropped, valid.v[i]);
                changed = 1;
                if (repair && fl_registry_remove(s, valid.v[i], err) == 0) {
                    remove_quietly(valid.v[i]);
                    res->repaired++;
                }
                break;
            }
            fl_store_path_info_free(info);
        }
    }
    /* Entries of the store dir without a registry entry. */
    DIR *d = rc ? NULL : opendir(fl_store_dir(s));
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char *p = fl_path_join(fl_store_dir(s), de->d_name);
            if (!pset_has(&valid, p) && !pset_has(&dropped, p)) {
                fprintf(report, "%s: %s\n",
                        !strncmp(de->d_name, ".tmp-", 5) ? "leftover temporary directory"
                                                         : "unregistered (invalid) path",
                        p);
                res->garbage++;
                fl_error e = FL_ERROR_INIT;
                if (repair && fl_remove_tree(p, &e) == 0)
                    res->repaired++;
                fl_error_clear(&e);
            }
            free(p);
        }
        closedir(d);
    }
    fl_store_free_paths(all, nall);
    pset_release(&valid);
    pset_release(&dropped);
    fl_store_lock_shared(s);
    return rc;
}
