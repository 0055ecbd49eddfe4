/* files.c - the managed files of a generation: /etc (through /etc/static), unit files and
 * home files. Computes what a toplevel wants, compares it with what flakectl installed last
 * time and with the disk, and applies the difference. Never overwrites a file flakectl did
 * not put there (that is a conflict, or a backup with --backup-ext) and never follows a
 * symlink on the way to a managed path: every path is resolved beneath a descriptor of the
 * root (util/beneath.c), changes are made with *at() calls in the directory so opened, and
 * owner and mode are set on a file's own descriptor before it is renamed into place (a home
 * belongs to its user, who can swap names in it at any moment). docs/security.md. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "activate/internal.h"
#include "flakectl/beneath.h"
#include "flakectl/fs.h"

/* ---- entries ---- */

void fl_act_entries_free(fl_act_entries *es) {
    for (size_t i = 0; i < es->n; i++) {
        fl_act_entry *e = &es->e[i];
        free(e->path);
        free(e->target);
        free(e->source);
        free(e->hash);
        free(e->owner);
        free(e->group);
        free(e->user);
        free(e->home);
        free(e->alt_target);
        free(e->alt_hash);
    }
    free(es->e);
    memset(es, 0, sizeof *es);
}

fl_act_entry *fl_act_entries_add(fl_act_entries *es) {
    if (es->n == es->cap) {
        es->cap = es->cap ? es->cap * 2 : 32;
        es->e = fl_xrealloc(es->e, es->cap * sizeof(fl_act_entry));
    }
    fl_act_entry *e = &es->e[es->n++];
    memset(e, 0, sizeof *e);
    return e;
}

const fl_act_entry *fl_act_entries_find(const fl_act_entries *es, const char *path) {
    for (size_t i = 0; i < es->n; i++)
        if (!strcmp(es->e[i].path, path))
            return &es->e[i];
    return NULL;
}

static char *dup_or_null(const char *s) {
    return s ? fl_xstrdup(s) : NULL;
}

/* A relative path without "..", "." or empty components: the only kind a toplevel may name
 * below /etc or a home. */
static int safe_rel(const char *p) {
    if (!p || !*p || *p == '/')
        return 0;
    const char *s = p;
    for (;;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return 0;
        if (!e)
            return 1;
        s = e + 1;
    }
}

static int parse_mode(const char *s, mode_t *out) {
    char *end;
    long v = strtol(s, &end, 8);
    if (!*s || *end || v < 0 || v > 07777)
        return -1;
    *out = (mode_t)v;
    return 0;
}

static int by_path(const void *a, const void *b) {
    const fl_act_entry *x = a, *y = b;
    /* /etc/static first: flipping it is what switches every linked file at once. */
    int xs = !strcmp(x->path, "/etc/static"), ys = !strcmp(y->path, "/etc/static");
    if (xs != ys)
        return ys - xs;
    return strcmp(x->path, y->path);
}

static int add_home_files(const json_t *p, fl_act_entries *out, fl_error *err) {
    const char *user;
    json_t *h;
    json_object_foreach(json_object_get(p, "home"), user, h) {
        const char *home = fl_act_jstr(h, "home", NULL);
        if (!home)
            home = fl_act_jstr(json_object_get(json_object_get(p, "users"), user), "home", NULL);
        char *dflt = fl_xasprintf("/home/%s", user);
        if (!home)
            home = dflt;
        if (home[0] != '/' || !safe_rel(home + 1)) {
            free(dflt);
            return fl_error_set(err, FL_EPARSE,
                                "profile.json: home.%s.home: '%s' is not a clean absolute path",
                                user, home);
        }
        const char *rel;
        json_t *f;
        json_object_foreach(json_object_get(h, "files"), rel, f) {
            if (!safe_rel(rel)) {
                free(dflt);
                return fl_error_set(err, FL_EPARSE,
                                    "profile.json: home.%s.files: '%s' must be a relative path "
                                    "without '..'",
                                    user, rel);
            }
            fl_act_entry *e = fl_act_entries_add(out);
            e->path = fl_path_join(home, rel);
            e->source = dup_or_null(fl_act_jstr(f, "source", NULL));
            e->user = fl_xstrdup(user);
            e->home = fl_xstrdup(home);
            e->owner = fl_xstrdup(user);
            if (json_is_true(json_object_get(f, "copy"))) {
                char hash[65];
                e->kind = FL_ENT_COPY;
                e->keep_edits = 1;
                e->mode = json_is_true(json_object_get(f, "executable")) ? 0755 : 0644;
                e->hash = fl_xstrdup(e->source && !fl_act_sha256_file(e->source, hash) ? hash : "");
            } else {
                e->kind = FL_ENT_LINK;
                e->target = dup_or_null(e->source);
            }
        }
        free(dflt);
    }
    return FL_OK;
}

int fl_act_desired(const fl_toplevel *t, fl_act_entries *out, fl_error *err) {
    memset(out, 0, sizeof *out);
    if (!t->path)
        return FL_OK;
    const json_t *p = t->profile;
    fl_act_entry *st = fl_act_entries_add(out);
    st->path = fl_xstrdup("/etc/static");
    st->kind = FL_ENT_LINK;
    st->target = fl_path_join(t->path, "etc");

    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(p, "etc"), key, v) {
        if (!safe_rel(key) || !strcmp(key, "static")) {
            fl_act_entries_free(out);
            return fl_error_set(err, FL_EPARSE,
                                "%s/profile.json: etc.\"%s\": a target must be a relative path "
                                "without '..' (and not 'static')",
                                t->path, key);
        }
        fl_act_entry *e = fl_act_entries_add(out);
        e->path = fl_xasprintf("/etc/%s", key);
        e->source = dup_or_null(fl_act_jstr(v, "source", NULL));
        const char *mode = fl_act_jstr(v, "mode", "symlink");
        if (!strcmp(mode, "symlink")) {
            e->kind = FL_ENT_LINK;
            e->target = fl_xasprintf("/etc/static/%s", key);
        } else {
            char hash[65];
            e->kind = FL_ENT_COPY;
            if (parse_mode(mode, &e->mode)) {
                fl_act_entries_free(out);
                return fl_error_set(err, FL_EPARSE,
                                    "%s/profile.json: etc.\"%s\".mode: '%s' is neither "
                                    "\"symlink\" nor an octal mode",
                                    t->path, key, mode);
            }
            e->owner = fl_xstrdup(fl_act_jstr(v, "user", "root"));
            e->group = fl_xstrdup(fl_act_jstr(v, "group", "root"));
            e->hash = fl_xstrdup(e->source && !fl_act_sha256_file(e->source, hash) ? hash : "");
        }
    }
    json_object_foreach(json_object_get(p, "units"), key, v) {
        const char *file = fl_act_jstr(v, "file", NULL);
        if (!safe_rel(key) || strchr(key, '/') || !file || !safe_rel(file)) {
            fl_act_entries_free(out);
            return fl_error_set(err, FL_EPARSE,
                                "%s/profile.json: units.\"%s\": a unit needs a plain name and a "
                                "relative \"file\"",
                                t->path, key);
        }
        fl_act_entry *e = fl_act_entries_add(out);
        e->path = fl_xasprintf("/etc/systemd/system/%s", key);
        e->kind = FL_ENT_LINK;
        e->target = fl_path_join(t->path, file);
        e->source = fl_xstrdup(e->target);
        size_t i;
        json_t *w;
        json_array_foreach(json_object_get(v, "wantedBy"), i, w) {
            const char *tgt = json_string_value(w);
            if (!tgt || !safe_rel(tgt) || strchr(tgt, '/'))
                continue;
            fl_act_entry *l = fl_act_entries_add(out);
            l->path = fl_xasprintf("/etc/systemd/system/%s.wants/%s", tgt, key);
            l->kind = FL_ENT_LINK;
            l->target = fl_xasprintf("../%s", key);
        }
    }
    int rc = add_home_files(p, out, err);
    if (rc) {
        fl_act_entries_free(out);
        return rc;
    }
    qsort(out->e, out->n, sizeof(fl_act_entry), by_path);
    /* A path declared twice (an etc file under systemd/system and a unit) is ambiguous. */
    for (size_t i = 1; i < out->n; i++) {
        if (!strcmp(out->e[i].path, out->e[i - 1].path)) {
            rc = fl_error_set(err, FL_ECONFLICT, "%s/profile.json declares %s twice", t->path,
                              out->e[i].path);
            fl_act_entries_free(out);
            return rc;
        }
    }
    return FL_OK;
}

json_t *fl_act_entries_to_json(const fl_act_entries *es) {
    json_t *arr = json_array();
    for (size_t i = 0; i < es->n; i++) {
        const fl_act_entry *e = &es->e[i];
        json_t *o = json_object();
        json_object_set_new(o, "path", json_string(e->path));
        json_object_set_new(o, "kind", json_string(e->kind == FL_ENT_LINK ? "link" : "copy"));
        if (e->target)
            json_object_set_new(o, "target", json_string(e->target));
        if (e->source)
            json_object_set_new(o, "source", json_string(e->source));
        if (e->hash)
            json_object_set_new(o, "hash", json_string(e->hash));
        if (e->kind == FL_ENT_COPY)
            json_object_set_new(o, "mode", json_integer(e->mode));
        if (e->owner)
            json_object_set_new(o, "owner", json_string(e->owner));
        if (e->group)
            json_object_set_new(o, "group", json_string(e->group));
        if (e->user)
            json_object_set_new(o, "user", json_string(e->user));
        if (e->home)
            json_object_set_new(o, "home", json_string(e->home));
        if (e->keep_edits)
            json_object_set_new(o, "keepEdits", json_true());
        json_array_append_new(arr, o);
    }
    return arr;
}

void fl_act_entries_from_json(const json_t *arr, fl_act_entries *out) {
    memset(out, 0, sizeof *out);
    size_t i;
    json_t *o;
    json_array_foreach((json_t *)arr, i, o) {
        const char *path = fl_act_jstr(o, "path", NULL);
        if (!path || fl_act_entries_find(out, path))
            continue;
        fl_act_entry *e = fl_act_entries_add(out);
        e->path = fl_xstrdup(path);
        e->kind = !strcmp(fl_act_jstr(o, "kind", "link"), "copy") ? FL_ENT_COPY : FL_ENT_LINK;
        e->target = dup_or_null(fl_act_jstr(o, "target", NULL));
        e->source = dup_or_null(fl_act_jstr(o, "source", NULL));
        e->hash = dup_or_null(fl_act_jstr(o, "hash", NULL));
        e->mode = (mode_t)json_integer_value(json_object_get(o, "mode"));
        e->owner = dup_or_null(fl_act_jstr(o, "owner", NULL));
        e->group = dup_or_null(fl_act_jstr(o, "group", NULL));
        e->user = dup_or_null(fl_act_jstr(o, "user", NULL));
        e->home = dup_or_null(fl_act_jstr(o, "home", NULL));
        e->keep_edits = json_is_true(json_object_get(o, "keepEdits"));
        json_t *alt = json_object_get(o, "alt");
        e->alt_target = dup_or_null(fl_act_jstr(alt, "target", NULL));
        e->alt_hash = dup_or_null(fl_act_jstr(alt, "hash", NULL));
    }
}

/* ---- the disk, read without following symlinks ---- */

enum { D_MISSING, D_LINK, D_FILE, D_DIR, D_OTHER, D_BLOCKED };

typedef struct disk {
    int kind;
    char *link;    /* D_LINK: its content */
    char *blocker; /* D_BLOCKED: the directory on the way that is not a real directory */
    int blocker_is_link;
    mode_t mode; /* permission bits of what is there */
    uid_t uid;
    gid_t gid;
} disk;

static void disk_free(disk *d) {
    free(d->link);
    free(d->blocker);
}

/* What is at path beneath root. Each directory on the way must be a real directory, so the
 * answer never depends on where a symlink points. */
static void disk_look(const char *root, const char *path, disk *d) {
    memset(d, 0, sizeof *d);
    d->kind = D_MISSING;
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return;
    const char *leaf;
    fl_error ignored = FL_ERROR_INIT;
    int dfd = fl_beneath_parent(rootfd, path, 0, NULL, &leaf, NULL, FL_BENEATH_NO_LINKS, &ignored);
    int blocked = dfd < 0 && ignored.code == FL_ECONFLICT;
    fl_error_clear(&ignored);
    struct stat st;
    if (blocked) {
        d->blocker = fl_beneath_blocker(rootfd, path, &d->blocker_is_link);
        if (d->blocker)
            d->kind = D_BLOCKED;
    } else if (dfd >= 0 && fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        d->mode = st.st_mode & 07777;
        d->uid = st.st_uid;
        d->gid = st.st_gid;
        if (S_ISLNK(st.st_mode)) {
            d->kind = D_LINK;
            char buf[4096];
            ssize_t n = readlinkat(dfd, leaf, buf, sizeof buf - 1);
            d->link = fl_xstrndup(buf, n < 0 ? 0 : (size_t)n);
        } else if (S_ISREG(st.st_mode)) {
            d->kind = D_FILE;
        } else if (S_ISDIR(st.st_mode)) {
            d->kind = D_DIR;
        } else {
            d->kind = D_OTHER;
        }
    }
    if (dfd >= 0)
        close(dfd);
    close(rootfd);
}

/* A regular file beneath root, read without following any symlink; NULL when unreadable. */
static char *disk_read(const char *root, const char *path, size_t *len) {
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return NULL;
    char *data = NULL;
    fl_error ignored = FL_ERROR_INIT;
    if (fl_beneath_read(rootfd, path, root, FL_BENEATH_NO_LINKS, &data, len, NULL, &ignored))
        data = NULL;
    fl_error_clear(&ignored);
    close(rootfd);
    return data;
}

/* sha256 of a regular file beneath root; "" when unreadable. */
static char *disk_hash(const char *root, const char *path) {
    size_t len = 0;
    char *data = disk_read(root, path, &len);
    if (!data)
        return fl_xstrdup("");
    char hash[65];
    fl_act_sha256_mem(data, len, hash);
    free(data);
    return fl_xstrdup(hash);
}

static int same_content(const char *a, const char *b) {
    if (!a || !b)
        return a == b;
    if (!strcmp(a, b))
        return 1;
    char ha[65], hb[65];
    if (fl_act_sha256_file(a, ha) || fl_act_sha256_file(b, hb))
        return 0;
    return !strcmp(ha, hb);
}

/* ---- planning ---- */

static int ids_for(const char *root, const fl_act_entry *e, uid_t *uid, gid_t *gid);

/* Ownership and mode are part of "as wanted" (a kill between writing and chown leaves the
 * content right and the owner wrong). Only checked when flakectl could set them. */
static int attrs_differ(const char *root, const disk *d, const fl_act_entry *w) {
    if (w->kind == FL_ENT_COPY && d->kind == D_FILE && d->mode != w->mode)
        return 1;
    if (geteuid() != 0 || (!w->owner && !w->group) || (w->kind == FL_ENT_LINK && !w->user))
        return 0;
    uid_t uid;
    gid_t gid;
    if (!ids_for(root, w, &uid, &gid))
        return 0; /* the account comes with this activation */
    return d->uid != uid || d->gid != gid;
}

static fl_act_change *new_change(fl_act_fileplan *p, size_t *cap) {
    if (p->n == *cap) {
        *cap = *cap ? *cap * 2 : 32;
        p->c = fl_xrealloc(p->c, *cap * sizeof(fl_act_change));
    }
    fl_act_change *c = &p->c[p->n++];
    memset(c, 0, sizeof *c);
    return c;
}

static void conflict(fl_act_fileplan *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void conflict(fl_act_fileplan *p, const char *fmt, ...) {
    va_list ap;
    p->c[p->n - 1].conflicted = 1;
    va_start(ap, fmt);
    fl_strbuf_adds(&p->conflicts, "  ");
    fl_strbuf_vaddf(&p->conflicts, fmt, ap);
    fl_strbuf_addch(&p->conflicts, '\n');
    va_end(ap);
    p->nconflicts++;
}

/* The blocking directory is fine when it is a managed path that is going away anyway (a
 * stale file that becomes a directory in the new generation). */
static int blocker_goes_away(const char *blocker, const fl_act_entries *want,
                             const fl_act_entries *had) {
    return fl_act_entries_find(had, blocker) && !fl_act_entries_find(want, blocker);
}

/* A unit masked by hand (`systemctl mask`: a link to /dev/null in /etc/systemd/system). As
 * under NixOS, where systemd never starts a masked unit and switch-to-configuration never
 * unmasks one, the admin's mask wins over the configuration until they lift it. */
static int masked_unit(const char *path, const disk *d) {
    return fl_act_system_unit_of(path) && d->kind == D_LINK && !strcmp(d->link, "/dev/null");
}

static int disk_is(const disk *d, const fl_act_entry *e) {
    if (d->kind == D_LINK && e->alt_target && !strcmp(d->link, e->alt_target))
        return 1;
    if (d->kind == D_FILE && e->alt_hash)
        return 1;
    if (e->kind == FL_ENT_LINK)
        return d->kind == D_LINK && e->target && !strcmp(d->link, e->target);
    return d->kind == D_FILE;
}

/* The content on disk is one flakectl wrote (this record's, or its in-flight alternative). */
static int hash_is_ours(const fl_act_entry *h, const char *dh) {
    return (h->hash && !strcmp(dh, h->hash)) || (h->alt_hash && !strcmp(dh, h->alt_hash));
}

void fl_act_files_plan(const char *root, const fl_act_entries *want, const fl_act_entries *had,
                       const char *backup_ext, fl_act_fileplan *p) {
    memset(p, 0, sizeof *p);
    p->root = root;
    fl_strbuf_init(&p->conflicts, 0);
    size_t cap = 0;
    for (size_t i = 0; i < want->n; i++) {
        const fl_act_entry *w = &want->e[i];
        const fl_act_entry *h = fl_act_entries_find(had, w->path);
        fl_act_change *c = new_change(p, &cap);
        c->want = w;
        c->had = h;
        c->content_changed = !h || !same_content(h->source, w->source);
        if (!root) {
            /* Pure comparison: the disk holds exactly what was installed. */
            if (!h)
                c->action = FL_CH_ADD;
            else if (h->kind != w->kind ||
                     (w->target && strcmp(h->target ? h->target : "", w->target)) ||
                     (w->kind == FL_ENT_COPY && strcmp(h->hash ? h->hash : "", w->hash)))
                c->action = FL_CH_UPDATE;
            else
                c->action = FL_CH_NONE;
            continue;
        }
        disk d;
        disk_look(root, w->path, &d);
        if (d.kind == D_BLOCKED && blocker_goes_away(d.blocker, want, had))
            d.kind = D_MISSING;
        if (d.kind == D_BLOCKED) {
            c->action = FL_CH_ADD;
            if (d.blocker_is_link) {
                /* Never resolvable by a backup: following it could leave the root or home. */
                conflict(p,
                         "%s: %s is a symlink; flakectl never follows symlinks on the way to "
                         "a managed path%s",
                         w->path, d.blocker, w->user ? " (it would lead out of the home)" : "");
            } else if (backup_ext) {
                c->backup_of = fl_xstrdup(d.blocker);
            } else {
                conflict(p, "%s: %s is in the way (not a directory)", w->path, d.blocker);
            }
        } else if (masked_unit(w->path, &d)) {
            c->action = FL_CH_MASKED;
        } else if (d.kind == D_MISSING) {
            c->action = FL_CH_ADD;
        } else if (disk_is(&d, w) && w->kind == FL_ENT_LINK) {
            c->action = FL_CH_NONE; /* already exactly as wanted (adopted when unmanaged) */
        } else if (disk_is(&d, w) && (h || w->kind == FL_ENT_COPY)) {
            char *dh = disk_hash(root, w->path);
            int edited = h && (h->hash || h->alt_hash) && !hash_is_ours(h, dh);
            if (!h) {
                /* An unmanaged regular file: ours only if it already has exactly our content. */
                if (strcmp(dh, w->hash)) {
                    if (backup_ext) {
                        c->action = FL_CH_ADD;
                        c->backup_of = fl_xstrdup(w->path);
                    } else {
                        c->action = FL_CH_ADD;
                        conflict(p, "%s: exists and is not managed by flakectl", w->path);
                    }
                }
            } else if (h->kind == FL_ENT_LINK && !h->alt_hash) {
                c->action = FL_CH_UPDATE; /* a managed link becomes a copy */
            } else if (w->keep_edits) {
                /* Re-copy only when the declared content changed; after an interrupted
                 * activation the disk may still hold the previous declared content (alt). */
                int old_declared = h->alt_hash && !strcmp(dh, h->alt_hash);
                if (!strcmp(dh, w->hash)) {
                    c->action = FL_CH_NONE;
                } else if (h->hash && !strcmp(h->hash, w->hash) && !old_declared) {
                    c->action = edited ? FL_CH_KEEP_EDITED : FL_CH_NONE;
                    c->edited = edited;
                } else {
                    c->action = FL_CH_UPDATE;
                    c->edited = edited;
                }
            } else {
                c->action = strcmp(dh, w->hash) ? FL_CH_UPDATE : FL_CH_NONE;
                c->edited = edited;
            }
            /* A new owner or group (recorded) is a change even with equal content. */
            if (h && c->action == FL_CH_NONE && !w->keep_edits &&
                (strcmp(h->owner ? h->owner : "", w->owner ? w->owner : "") ||
                 strcmp(h->group ? h->group : "", w->group ? w->group : "")))
                c->action = FL_CH_UPDATE;
            if (c->edited || c->action == FL_CH_UPDATE)
                c->disk = fl_xstrdup(w->path);
            free(dh);
        } else if (h && disk_is(&d, h)) {
            c->action = FL_CH_UPDATE;
        } else {
            c->action = FL_CH_ADD;
            if (backup_ext)
                c->backup_of = fl_xstrdup(w->path);
            else
                conflict(p, "%s: exists%s and is not managed by flakectl", w->path,
                         d.kind == D_DIR    ? " (a directory)"
                         : d.kind == D_LINK ? " (a symlink)"
                                            : "");
        }
        if (c->action == FL_CH_NONE && !c->conflicted && d.kind != D_MISSING &&
            attrs_differ(root, &d, w))
            c->action = FL_CH_UPDATE;
        disk_free(&d);
    }
    for (size_t i = 0; i < had->n; i++) {
        const fl_act_entry *h = &had->e[i];
        if (fl_act_entries_find(want, h->path))
            continue;
        fl_act_change *c = new_change(p, &cap);
        c->had = h;
        c->content_changed = 1;
        if (!root) {
            c->action = FL_CH_REMOVE;
            continue;
        }
        disk d;
        disk_look(root, h->path, &d);
        if (d.kind == D_MISSING || d.kind == D_BLOCKED) {
            c->action = FL_CH_NONE;
        } else if (masked_unit(h->path, &d)) {
            c->action = FL_CH_MASKED;
        } else if (disk_is(&d, h)) {
            c->action = FL_CH_REMOVE;
            if (h->kind == FL_ENT_COPY) {
                char *dh = disk_hash(root, h->path);
                if ((h->hash || h->alt_hash) && !hash_is_ours(h, dh))
                    c->action = FL_CH_LEAVE;
                free(dh);
            }
        } else {
            c->action = FL_CH_LEAVE;
        }
        disk_free(&d);
    }
}

void fl_act_fileplan_free(fl_act_fileplan *p) {
    for (size_t i = 0; i < p->n; i++) {
        free(p->c[i].backup_of);
        free(p->c[i].disk);
    }
    free(p->c);
    fl_strbuf_release(&p->conflicts);
    memset(p, 0, sizeof *p);
}

/* ---- applying ---- */

static const fl_act_entry *entry_of(const fl_act_change *c) {
    return c->want ? c->want : c->had;
}

/* The code to return after open_parent failed: the one it set (a conflict stays a conflict),
 * FL_EIO when it set none. */
static int parent_failed(const fl_error *err) {
    return err && err->code ? err->code : FL_EIO;
}

/* Opens the directory that holds path (beneath rootfd) without following any symlink.
 * With made non-NULL missing directories are created (and recorded there, so a failure can
 * take them away again); those at or below chown_from are given uid/gid (a user's home),
 * through their own descriptors. *leaf points into path. Returns the fd or -1 with err. */
static int open_parent(int rootfd, const char *path, fl_beneath_made *made, const char *chown_from,
                       uid_t uid, gid_t gid, const char **leaf, fl_error *err) {
    size_t before = made ? made->n : 0;
    int dfd = fl_beneath_parent(rootfd, path, 0755, made, leaf, NULL, FL_BENEATH_NO_LINKS, err);
    if (dfd < 0 || !made || !chown_from || geteuid() != 0)
        return dfd;
    for (size_t i = before; i < made->n; i++) {
        if (strlen(made->v[i]) < strlen(chown_from))
            continue;
        int fd =
            fl_beneath_open(rootfd, made->v[i], O_RDONLY | O_DIRECTORY, 0, FL_BENEATH_NO_LINKS);
        if (fd < 0 || fchown(fd, uid, gid) < 0) {
            fl_error_errno(err, "cannot give %s to its user", made->v[i]);
            if (fd >= 0)
                close(fd);
            close(dfd);
            return -1;
        }
        close(fd);
    }
    return dfd;
}

static int ids_for(const char *root, const fl_act_entry *e, uid_t *uid, gid_t *gid) {
    long u = e->owner ? fl_act_lookup_id(root, "passwd", e->owner, 2) : 0;
    long g = -1;
    if (e->group)
        g = fl_act_lookup_id(root, "group", e->group, 2);
    else if (e->owner)
        g = fl_act_lookup_id(root, "passwd", e->owner, 3);
    *uid = u < 0 ? 0 : (uid_t)u;
    *gid = g < 0 ? 0 : (gid_t)g;
    return u >= 0 && g >= 0;
}

static int do_backup(int rootfd, const char *path, const char *ext, json_t *backups, FILE *out,
                     fl_error *err) {
    const char *leaf;
    int dfd = open_parent(rootfd, path, NULL, NULL, 0, 0, &leaf, err);
    if (dfd < 0)
        return parent_failed(err);
    struct stat st;
    if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        close(dfd);
        return FL_OK; /* already moved for another entry */
    }
    /* Never clobber an earlier backup: name.EXT, then name.EXT.1, .2, ... */
    char *name = fl_xasprintf("%s.%s", leaf, ext);
    for (int k = 1; fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0; k++) {
        free(name);
        name = fl_xasprintf("%s.%s.%d", leaf, ext, k);
    }
    char *shown = fl_xasprintf("%.*s%s", (int)(leaf - path), path, name);
    int rc = fl_atomic_rename_at(dfd, leaf, dfd, name, path, shown, err);
    if (!rc) {
        fprintf(out, "  moved %s aside to %s\n", path, shown);
        json_t *pair = json_array();
        json_array_append_new(pair, json_string(path));
        json_array_append_new(pair, json_string(shown));
        json_array_append_new(backups, pair);
    }
    free(shown);
    free(name);
    close(dfd);
    return rc;
}

static int do_remove(int rootfd, const fl_act_entry *e, fl_error *err) {
    const char *leaf;
    fl_error perr = FL_ERROR_INIT;
    int dfd = open_parent(rootfd, e->path, NULL, NULL, 0, 0, &leaf, &perr);
    if (dfd < 0) {
        /* Its directory is gone already (removed, and left empty, by an earlier pass). */
        int rc = perr.code == FL_ENOTFOUND ? FL_OK : perr.code ? perr.code : FL_EIO;
        if (rc)
            fl_error_move(err, &perr);
        fl_error_clear(&perr);
        return rc;
    }
    int rc = FL_OK;
    if (unlinkat(dfd, leaf, 0) < 0 && errno != ENOENT)
        rc = fl_error_errno(err, "cannot remove %s", e->path);
    close(dfd);
    if (rc)
        return rc;
    /* Directories left empty go too, up to /etc or the home. */
    char *stop = fl_xstrdup(e->home ? e->home : "/etc");
    char *dir = fl_xstrdup(e->path);
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            break;
        *slash = '\0';
        if (!stop || strlen(dir) <= strlen(stop))
            break;
        int pfd = open_parent(rootfd, dir, NULL, NULL, 0, 0, &leaf, NULL);
        if (pfd < 0)
            break;
        int r = unlinkat(pfd, leaf, AT_REMOVEDIR);
        close(pfd);
        if (r < 0)
            break;
    }
    free(dir);
    free(stop);
    return FL_OK;
}

static int do_install(const char *root, int rootfd, const fl_act_entry *e, fl_error *err) {
    uid_t uid = 0;
    gid_t gid = 0;
    int have_ids = ids_for(root, e, &uid, &gid);
    const char *leaf;
    fl_beneath_made made = {0};
    int dfd = open_parent(rootfd, e->path, &made, e->home, uid, gid, &leaf, err);
    int rc = dfd < 0 ? parent_failed(err) : FL_OK;
    struct stat st;
    /* A managed path that was a directory (say a unit .wants dir) cannot be renamed over. */
    if (!rc && fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
        rc = fl_error_set(err, FL_ECONFLICT, "%s is a directory", e->path);
    int as_root = geteuid() == 0;
    if (!rc && e->kind == FL_ENT_LINK) {
        /* Synced once for the whole step in fl_act_files_apply. */
        int give = e->user && have_ids && as_root;
        rc = fl_atomic_symlink_at(dfd, leaf, e->path, e->target, give ? uid : (uid_t)-1,
                                  give ? gid : (gid_t)-1, FL_ATOMIC_NO_SYNC, err);
    } else if (!rc) {
        char *data = NULL;
        size_t len = 0;
        rc = e->source ? fl_read_file(e->source, &data, &len, err)
                       : fl_error_set(err, FL_ENOTFOUND, "%s has no source", e->path);
        /* Owner and mode are set on the new file's descriptor before it takes the name: a
         * home's user could otherwise put a link there between the rename and a chmod. */
        if (!rc)
            rc = fl_atomic_write_at(dfd, leaf, e->path, data, len,
                                    as_root ? e->mode : e->mode & 0777, as_root ? uid : (uid_t)-1,
                                    as_root ? gid : (gid_t)-1, FL_ATOMIC_NO_SYNC, err);
        free(data);
    }
    if (dfd >= 0)
        close(dfd);
    /* Directories made for this file and left empty by the failure go again (a full disk
     * must leave the tree as it was). */
    if (rc)
        fl_beneath_unmake(rootfd, &made);
    fl_beneath_made_release(&made);
    return rc;
}

/* The root's directory descriptor: every path of this step is resolved beneath it. */
int fl_act_files_apply(const char *root, const fl_act_fileplan *p, int home, const char *backup_ext,
                       json_t *backups, FILE *out, fl_error *err) {
    int rootfd = fl_act_root_open(root, err);
    if (rootfd < 0)
        return FL_EIO;
    int rc = FL_OK;
    int any = 0; /* a step with nothing to do syncs nothing */
    for (size_t i = 0; i < p->n && !any; i++) {
        const fl_act_change *c = &p->c[i];
        any = !!entry_of(c)->user == home && !c->conflicted &&
              (c->action == FL_CH_ADD || c->action == FL_CH_UPDATE || c->action == FL_CH_REMOVE ||
               c->backup_of);
    }
    /* Moves aside first, then /etc/static (every linked file switches in one rename), then
     * stale files, then the rest. */
    for (size_t i = 0; !rc && i < p->n; i++) {
        const fl_act_change *c = &p->c[i];
        if (!!entry_of(c)->user != home || !c->backup_of || c->conflicted)
            continue;
        rc = do_backup(rootfd, c->backup_of, backup_ext, backups, out, err);
    }
    for (int pass = 0; pass < 3 && !rc; pass++) {
        for (size_t i = 0; !rc && i < p->n; i++) {
            const fl_act_change *c = &p->c[i];
            const fl_act_entry *e = entry_of(c);
            if (!!e->user != home || c->conflicted)
                continue;
            int is_static = !strcmp(e->path, "/etc/static");
            if (pass == 0 && is_static && (c->action == FL_CH_ADD || c->action == FL_CH_UPDATE))
                rc = do_install(root, rootfd, e, err);
            else if (pass == 1 && c->action == FL_CH_REMOVE)
                rc = do_remove(rootfd, e, err);
            else if (pass == 2 && !is_static &&
                     (c->action == FL_CH_ADD || c->action == FL_CH_UPDATE))
                rc = do_install(root, rootfd, e, err);
        }
    }
    for (size_t i = 0; !rc && i < p->n; i++) {
        const fl_act_change *c = &p->c[i];
        if (c->action == FL_CH_LEAVE && !!entry_of(c)->user == home)
            fprintf(out,
                    "  warning: %s is no longer declared but was changed since flakectl "
                    "installed it; left in place\n",
                    c->had->path);
    }
    /* Files were replaced without a sync each; one syncfs makes the step durable before the
     * next step (and the final flip of `current`) builds on it. */
    if (any && syncfs(rootfd) < 0 && !rc)
        rc = fl_error_errno(err, "cannot sync the file system of %s", root);
    close(rootfd);
    return rc;
}

int fl_act_files_remove_only(const char *root, const fl_act_fileplan *p, fl_error *err) {
    int rootfd = fl_act_root_open(root, err);
    if (rootfd < 0)
        return FL_EIO;
    int rc = FL_OK;
    for (size_t i = 0; !rc && i < p->n; i++) {
        const fl_act_change *c = &p->c[i];
        if (c->action == FL_CH_REMOVE && !c->conflicted)
            rc = do_remove(rootfd, entry_of(c), err);
    }
    close(rootfd);
    return rc;
}

/* ---- printing ---- */

/* One side of a diff: a path beneath root (read without following links) when root is
 * given, a store path otherwise. NULL when unreadable. */
static char *diff_side(const char *root, const char *path, size_t *len) {
    char *data = NULL;
    if (!path)
        return NULL;
    if (root)
        return disk_read(root, path, len);
    if (fl_read_file(path, &data, len, NULL))
        return NULL;
    return data;
}

/* The unified diff of one change (labels a/PATH, b/PATH), owned; NULL when equal. */
static char *diff_text(const char *old_root, const char *old_path, const char *new_root,
                       const char *new_path, const char *label) {
    size_t al = 0, bl = 0;
    char *a = diff_side(old_root, old_path, &al);
    char *b = diff_side(new_root, new_path, &bl);
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    char *la = fl_xasprintf("a%s", label), *lb = fl_xasprintf("b%s", label);
    int differ = fl_text_diff(a ? a : "", a ? al : 0, b ? b : "", b ? bl : 0, la, lb, &sb);
    free(la);
    free(lb);
    free(a);
    free(b);
    if (!differ) {
        fl_strbuf_release(&sb);
        return NULL;
    }
    return fl_strbuf_detach(&sb, NULL);
}

static const char *change_name(int action) {
    switch (action) {
    case FL_CH_ADD:
        return "add";
    case FL_CH_REMOVE:
        return "remove";
    case FL_CH_KEEP_EDITED:
        return "keep-edited";
    case FL_CH_LEAVE:
        return "leave";
    case FL_CH_MASKED:
        return "masked";
    default:
        return "update";
    }
}

/* The changes of the plan (home: the home files, else the others) as docs/json.md's "files"
 * entries; the text plan is printed from the same entries. */
json_t *fl_act_files_json(const fl_act_fileplan *p, int home, int diffs) {
    json_t *arr = json_array();
    for (size_t i = 0; i < p->n; i++) {
        const fl_act_change *c = &p->c[i];
        const fl_act_entry *e = entry_of(c);
        if (!!e->user != home)
            continue;
        if (c->action == FL_CH_NONE && (!c->content_changed || !c->want))
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "path", json_string(e->path));
        json_object_set_new(o, "change", json_string(change_name(c->action)));
        json_object_set_new(o, "copied", json_boolean(e->kind != FL_ENT_LINK));
        json_object_set_new(o, "user", e->user ? json_string(e->user) : json_null());
        if (c->action == FL_CH_ADD && c->backup_of)
            json_object_set_new(o, "backupOf", json_string(c->backup_of));
        char *diff = NULL;
        if (c->action == FL_CH_UPDATE || c->action == FL_CH_NONE) {
            json_object_set_new(o, "edited", json_boolean(c->edited));
            if (c->want && c->had && c->want->kind == FL_ENT_COPY && c->had->kind == FL_ENT_COPY &&
                c->want->mode != c->had->mode) {
                json_object_set_new(o, "modeFrom", json_integer(c->had->mode));
                json_object_set_new(o, "modeTo", json_integer(c->want->mode));
            }
            if (diffs && c->want && c->want->source)
                diff = diff_text(c->disk ? p->root : NULL,
                                 c->disk  ? c->disk
                                 : c->had ? c->had->source
                                          : NULL,
                                 NULL, c->want->source, e->path);
        } else if (c->action == FL_CH_KEEP_EDITED && diffs && c->disk) {
            diff = diff_text(NULL, c->want->source, p->root, c->disk, e->path);
        }
        if (diff)
            json_object_set_new(o, "diff", json_string(diff));
        free(diff);
        json_array_append_new(arr, o);
    }
    return arr;
}

/* A diff indented so it reads as part of its entry. */
static void print_indented(FILE *out, const char *s) {
    while (s && *s) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        fprintf(out, "      %.*s\n", (int)n, s);
        s += n + (e ? 1 : 0);
    }
}

void fl_act_files_print(const fl_act_fileplan *p, int home, int diffs, FILE *out) {
    json_t *arr = fl_act_files_json(p, home, diffs);
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        const char *path = fl_act_jstr(o, "path", "?"), *change = fl_act_jstr(o, "change", "");
        const char *kind = json_is_true(json_object_get(o, "copied")) ? " (copied)" : "";
        if (!strcmp(change, "add")) {
            fprintf(out, "    + %s%s", path, kind);
            if (json_object_get(o, "backupOf"))
                fprintf(out, "  [%s moved aside]", fl_act_jstr(o, "backupOf", ""));
            fputc('\n', out);
        } else if (!strcmp(change, "update")) {
            fprintf(out, "    ~ %s%s%s", path, kind,
                    json_is_true(json_object_get(o, "edited"))
                        ? " (edited on disk since flakectl wrote it; replaced)"
                        : "");
            if (json_object_get(o, "modeTo"))
                fprintf(out, " (mode %04o -> %04o)",
                        (unsigned)json_integer_value(json_object_get(o, "modeFrom")),
                        (unsigned)json_integer_value(json_object_get(o, "modeTo")));
            fputc('\n', out);
        } else if (!strcmp(change, "remove")) {
            fprintf(out, "    - %s%s\n", path, kind);
        } else if (!strcmp(change, "keep-edited")) {
            fprintf(out,
                    "    ! %s: edited since flakectl copied it; kept (declared content "
                    "unchanged)\n",
                    path);
        } else if (!strcmp(change, "masked")) {
            fprintf(out,
                    "    ! %s: masked by hand (a link to /dev/null); left alone, the unit "
                    "stays masked ('systemctl unmask %s', then switch, to have it)\n",
                    path, fl_act_system_unit_of(path));
        } else {
            fprintf(out,
                    "    ! %s: no longer declared but changed since flakectl installed it; "
                    "left in place\n",
                    path);
        }
        print_indented(out, fl_act_jstr(o, "diff", NULL));
    }
    json_decref(arr);
}

/* ---- after an interrupted activation ---- */

/* Removes "<name>.tmp-*" left by an atomic write or symlink that was killed halfway, for
 * every managed name (and passwd/group/shadow). Only such names, only beside managed paths. */
void fl_act_files_sweep_temps(const char *root, const fl_act_entries *es, FILE *out) {
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return;
    /* Group the leaves by directory: each directory is read once. */
    json_t *dirs = json_object();
    const char *dbs[] = {"/etc/passwd", "/etc/group", "/etc/shadow", "/run/flakectl/current"};
    for (size_t i = 0; i < es->n + 4; i++) {
        const char *path = i < es->n ? es->e[i].path : dbs[i - es->n];
        const char *slash = strrchr(path, '/');
        char *dir = fl_xstrndup(path, (size_t)(slash - path));
        json_t *set = json_object_get(dirs, dir);
        if (!set) {
            set = json_object();
            json_object_set_new(dirs, dir, set);
        }
        json_object_set_new(set, slash + 1, json_true());
        free(dir);
    }
    const char *dir;
    json_t *set;
    json_object_foreach(dirs, dir, set) {
        char *probe = fl_xasprintf("%s/x", dir);
        const char *leaf;
        int dfd = open_parent(rootfd, probe, NULL, NULL, 0, 0, &leaf, NULL);
        free(probe);
        if (dfd < 0)
            continue;
        int lfd = dup(dfd);
        DIR *d = fdopendir(lfd);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            char *tmp = strstr(de->d_name, ".tmp-");
            if (!tmp)
                continue;
            char *name = fl_xstrndup(de->d_name, (size_t)(tmp - de->d_name));
            if (json_object_get(set, name) && unlinkat(dfd, de->d_name, 0) == 0)
                fprintf(out, "  removed %s/%s left by the interrupted activation\n", dir,
                        de->d_name);
            free(name);
        }
        if (d)
            closedir(d);
        else
            close(lfd);
        close(dfd);
    }
    json_decref(dirs);
    close(rootfd);
}

/* ---- home directories ---- */

/* The declared users with createHome whose home does not exist yet, as [{user, home}]. A home
 * that is a symlink or not a directory is a conflict (never resolved by a backup). */
json_t *fl_act_homes_plan(const char *root, const json_t *users, fl_act_fileplan *p) {
    json_t *out = json_array();
    const char *name;
    json_t *u;
    json_object_foreach((json_t *)users, name, u) {
        /* The same default as the passwd line (users.c): /home/<name> for normal users. */
        char *dflt = json_is_true(json_object_get(u, "isNormalUser"))
                         ? fl_xasprintf("/home/%s", name)
                         : NULL;
        const char *home = fl_act_jstr(u, "home", NULL);
        if (!home || !*home)
            home = dflt;
        if (!json_is_true(json_object_get(u, "createHome")) || !home || home[0] != '/' ||
            !safe_rel(home + 1)) {
            free(dflt);
            continue;
        }
        char *probe = fl_path_join(home, ".probe");
        disk d;
        disk_look(root, probe, &d);
        if (d.kind == D_BLOCKED) {
            p->nconflicts++;
            fl_strbuf_addf(&p->conflicts, "  home of %s: %s is %s\n", name, d.blocker,
                           d.blocker_is_link ? "a symlink; flakectl never follows it"
                                             : "not a directory");
        } else if (d.kind == D_MISSING) {
            disk hd;
            disk_look(root, home, &hd);
            if (hd.kind == D_MISSING) {
                json_t *o = json_object();
                json_object_set_new(o, "user", json_string(name));
                json_object_set_new(o, "home", json_string(home));
                json_array_append_new(out, o);
            }
            disk_free(&hd);
        }
        disk_free(&d);
        free(probe);
        free(dflt);
    }
    return out;
}

/* Creates the planned homes, mode 0700, owned by their user. Homes are never removed: they
 * hold the user's data. */
int fl_act_homes_create(const char *root, const json_t *homes, FILE *out, fl_error *err) {
    int rootfd = fl_act_root_open(root, err);
    if (rootfd < 0)
        return FL_EIO;
    int rc = FL_OK;
    size_t i;
    json_t *h;
    json_array_foreach((json_t *)homes, i, h) {
        fl_act_entry e = {0};
        e.owner = (char *)fl_act_jstr(h, "user", "");
        e.home = (char *)fl_act_jstr(h, "home", "/");
        uid_t uid;
        gid_t gid;
        ids_for(root, &e, &uid, &gid);
        const char *leaf;
        char *probe = fl_path_join(e.home, ".probe");
        fl_beneath_made made = {0};
        int dfd = open_parent(rootfd, probe, &made, e.home, uid, gid, &leaf, err);
        free(probe);
        if (dfd < 0) {
            fl_beneath_unmake(rootfd, &made);
            rc = parent_failed(err);
            break;
        }
        fl_beneath_made_release(&made);
        /* open_parent made it 0755; a home is private. */
        if (fchmod(dfd, 0700) < 0) {
            rc = fl_error_errno(err, "cannot set the mode of %s", e.home);
            close(dfd);
            break;
        }
        close(dfd);
        fprintf(out, "  created home %s for %s\n", e.home, e.owner);
    }
    close(rootfd);
    return rc;
}
