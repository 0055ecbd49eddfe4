/* users.c - computing the new passwd, group and shadow for the declared users and groups,
 * and the equivalent useradd/groupmod calls for a live system. Pure text in, text out: it
 * never touches the file system (the activation engine writes the results). Foreign lines
 * (users and groups flakectl did not create or was not asked about) are kept byte for byte
 * and in their order; a line is never dropped unless flakectl created it and it is no longer
 * declared. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/activate.h"
#include "flakectl/strbuf.h"
#include "activate/internal.h"

/* One line of a colon-separated database. raw is kept for foreign lines; f[] is set once a
 * managed line is rewritten (then raw is regenerated). */
typedef struct dbline {
    char *raw;
    char **f;
    int nf;
    int deleted;
    int dirty;
} dbline;

typedef struct db {
    dbline *l;
    size_t n, cap;
} db;

static void split_fields(dbline *d) {
    int nf = 1;
    for (const char *p = d->raw; *p; p++)
        nf += *p == ':';
    d->f = fl_xcalloc((size_t)nf, sizeof(char *));
    d->nf = 0;
    const char *s = d->raw;
    for (;;) {
        const char *e = strchr(s, ':');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        d->f[d->nf++] = fl_xstrndup(s, n);
        if (!e)
            break;
        s = e + 1;
    }
}

static void db_parse(db *d, const char *text) {
    memset(d, 0, sizeof *d);
    const char *s = text ? text : "";
    while (*s) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (d->n == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 16;
            d->l = fl_xrealloc(d->l, d->cap * sizeof(dbline));
        }
        dbline *l = &d->l[d->n++];
        memset(l, 0, sizeof *l);
        l->raw = fl_xstrndup(s, n);
        split_fields(l);
        s += n;
        if (*s == '\n')
            s++;
    }
}

static void db_free(db *d) {
    for (size_t i = 0; i < d->n; i++) {
        for (int k = 0; k < d->l[i].nf; k++)
            free(d->l[i].f[k]);
        free(d->l[i].f);
        free(d->l[i].raw);
    }
    free(d->l);
}

/* Comments and blank lines are never entries. */
static int is_entry(const dbline *l) {
    return !l->deleted && l->nf > 0 && l->f[0][0] && l->f[0][0] != '#';
}

static long db_find(const db *d, const char *name) {
    for (size_t i = 0; i < d->n; i++)
        if (is_entry(&d->l[i]) && !strcmp(d->l[i].f[0], name))
            return (long)i;
    return -1;
}

static dbline *db_append(db *d, int nf) {
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->l = fl_xrealloc(d->l, d->cap * sizeof(dbline));
    }
    dbline *l = &d->l[d->n++];
    memset(l, 0, sizeof *l);
    l->raw = fl_xstrdup("");
    l->f = fl_xcalloc((size_t)nf, sizeof(char *));
    l->nf = nf;
    for (int k = 0; k < nf; k++)
        l->f[k] = fl_xstrdup("");
    l->dirty = 1;
    return l;
}

/* Makes sure the line has at least nf fields (short foreign lines are padded when managed). */
static void ensure_fields(dbline *l, int nf) {
    if (l->nf >= nf)
        return;
    l->f = fl_xrealloc(l->f, (size_t)nf * sizeof(char *));
    for (int k = l->nf; k < nf; k++)
        l->f[k] = fl_xstrdup("");
    l->nf = nf;
}

static void set_field(dbline *l, int k, const char *v) {
    if (!strcmp(l->f[k], v))
        return;
    free(l->f[k]);
    l->f[k] = fl_xstrdup(v);
    l->dirty = 1;
}

static char *db_render(const db *d) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    for (size_t i = 0; i < d->n; i++) {
        const dbline *l = &d->l[i];
        if (l->deleted)
            continue;
        if (l->dirty) {
            for (int k = 0; k < l->nf; k++) {
                if (k)
                    fl_strbuf_addch(&sb, ':');
                fl_strbuf_adds(&sb, l->f[k]);
            }
        } else {
            fl_strbuf_adds(&sb, l->raw);
        }
        fl_strbuf_addch(&sb, '\n');
    }
    return fl_strbuf_detach(&sb, NULL);
}

static long parse_id(const char *s) {
    if (!s || !*s)
        return -1;
    char *end;
    long v = strtol(s, &end, 10);
    return *end ? -1 : v;
}

static int id_used(const db *d, int field, long id) {
    for (size_t i = 0; i < d->n; i++)
        if (is_entry(&d->l[i]) && d->l[i].nf > field && parse_id(d->l[i].f[field]) == id)
            return 1;
    return 0;
}

static int id_in_map(const json_t *map, long id) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)map, k, v) {
        if (json_integer_value(v) == id)
            return 1;
    }
    return 0;
}

/* Normal users count up from 1000, system users and groups down from 999 (as NixOS does),
 * skipping ids in the file or remembered for another name. */
static long allocate(const db *d, int field, const json_t *map, int normal) {
    if (normal) {
        for (long id = 1000; id < 60000; id++)
            if (!id_used(d, field, id) && !id_in_map(map, id))
                return id;
    } else {
        for (long id = 999; id >= 400; id--)
            if (!id_used(d, field, id) && !id_in_map(map, id))
                return id;
    }
    return -1;
}

static int jbool(const json_t *o, const char *key) {
    return json_is_true(json_object_get(o, key));
}

static int in_array(const json_t *arr, const char *s) {
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)arr, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), s))
            return 1;
    }
    return 0;
}

static void change(fl_users_edit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void change(fl_users_edit *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fl_strbuf_vaddf(&e->changes, fmt, ap);
    va_end(ap);
    fl_strbuf_addch(&e->changes, '\n');
    e->nchanges++;
}

static void op(fl_users_edit *e, const char *first, ...) {
    json_t *argv = json_array();
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        json_array_append_new(argv, json_string(a));
    va_end(ap);
    json_array_append_new(e->ops, argv);
}

/* groupdel refuses a group that is still some user's primary group, and the users that
 * went away with it are removed by userdel ops computed after the groups: every groupdel
 * runs last, in its order. */
static void groupdels_last(json_t *ops) {
    json_t *late = json_array();
    for (size_t i = 0; i < json_array_size(ops);) {
        json_t *argv = json_array_get(ops, i);
        const char *cmd = json_string_value(json_array_get(argv, 0));
        if (cmd && !strcmp(cmd, "groupdel")) {
            json_array_append(late, argv);
            json_array_remove(ops, i);
        } else {
            i++;
        }
    }
    json_array_extend(ops, late);
    json_decref(late);
}

/* The primary group of a declared user: given, or "users" for normal users, or a group named
 * after a system user. */
static const char *primary_group(const char *name, const json_t *u) {
    const char *g = fl_act_jstr(u, "group", NULL);
    if (g && *g)
        return g;
    return jbool(u, "isNormalUser") ? "users" : name;
}

/* Sets or checks a remembered id; a remembered id always wins over allocation so numbers
 * stay stable across generations. */
static long pick_id(const char *kind, const char *name, const json_t *declared, json_t *map,
                    const db *d, int field, long existing, int normal, fl_error *err) {
    long id = -1;
    /* "users" is gid 100 on every distribution; keep that when it is free. */
    if (!strcmp(kind, "gid") && !strcmp(name, "users") && existing < 0 &&
        !json_is_integer(declared) && !json_object_get(map, name) && !id_used(d, field, 100) &&
        !id_in_map(map, 100))
        existing = 100;
    if (json_is_integer(declared))
        id = (long)json_integer_value(declared);
    else if (json_is_integer(json_object_get(map, name)))
        id = (long)json_integer_value(json_object_get(map, name));
    else if (existing >= 0)
        id = existing;
    else
        id = allocate(d, field, map, normal);
    if (id < 0) {
        fl_error_set(err, FL_ECONFLICT, "no free %s left for '%s'", kind, name);
        return -1;
    }
    /* Another entry already owns this id: two names on one number is never what was meant. */
    for (size_t i = 0; i < d->n; i++) {
        const dbline *l = &d->l[i];
        if (is_entry(l) && l->nf > field && parse_id(l->f[field]) == id && strcmp(l->f[0], name)) {
            fl_error_set(err, FL_ECONFLICT, "%s %ld for '%s' is already used by '%s'", kind, id,
                         name, l->f[0]);
            fl_error_set_hint(err, "pick another %s for '%s' or remove '%s'", kind, name, l->f[0]);
            return -1;
        }
    }
    json_object_set_new(map, name, json_integer(id));
    return id;
}

static void list_members(const dbline *l, json_t *out) {
    if (l->nf < 4 || !*l->f[3])
        return;
    const char *s = l->f[3];
    for (;;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n)
            json_array_append_new(out, json_stringn(s, n));
        if (!e)
            break;
        s = e + 1;
    }
}

static char *join_members(const json_t *arr) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)arr, i, v) {
        if (i)
            fl_strbuf_addch(&sb, ',');
        fl_strbuf_adds(&sb, json_string_value(v));
    }
    return fl_strbuf_detach(&sb, NULL);
}

static int compute_groups(fl_users_edit *e, db *grp, json_t *gids, const json_t *created_groups,
                          json_t *new_created_groups, fl_error *err) {
    /* Declared groups, plus the primary groups of declared users that exist nowhere. */
    json_t *want = json_object();
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)e->groups, name, v) {
        json_object_set(want, name, v);
    }
    json_object_foreach((json_t *)e->users, name, v) {
        const char *g = primary_group(name, v);
        if (!json_object_get(want, g) && db_find(grp, g) < 0)
            json_object_set_new(want, g, json_object());
    }
    json_object_foreach(want, name, v) {
        long at = db_find(grp, name);
        long existing = at >= 0 && grp->l[at].nf > 2 ? parse_id(grp->l[at].f[2]) : -1;
        long gid = pick_id("gid", name, json_object_get(v, "gid"), gids, grp, 2, existing, 0, err);
        if (gid < 0) {
            json_decref(want);
            return FL_ECONFLICT;
        }
        char num[32];
        snprintf(num, sizeof num, "%ld", gid);
        if (at < 0) {
            dbline *l = db_append(grp, 4);
            set_field(l, 0, name);
            set_field(l, 1, "x");
            set_field(l, 2, num);
            change(e, "+ group %s (gid %ld)", name, gid);
            op(e, "groupadd", "-g", num, name, NULL);
            json_array_append_new(new_created_groups, json_string(name));
        } else {
            dbline *l = &grp->l[at];
            ensure_fields(l, 4);
            if (existing != gid) {
                change(e, "~ group %s: gid %s -> %ld", name, l->f[2], gid);
                op(e, "groupmod", "-g", num, name, NULL);
            }
            set_field(l, 2, num);
            if (in_array(created_groups, name))
                json_array_append_new(new_created_groups, json_string(name));
        }
    }
    /* Groups flakectl made earlier and nobody declares any more go away. */
    size_t i;
    json_array_foreach((json_t *)created_groups, i, v) {
        const char *g = json_string_value(v);
        if (!g || json_object_get(want, g))
            continue;
        long at = db_find(grp, g);
        if (at >= 0) {
            grp->l[at].deleted = 1;
            change(e, "- group %s", g);
            op(e, "groupdel", g, NULL);
        }
    }
    json_decref(want);
    return FL_OK;
}

static int compute_users(fl_users_edit *e, db *pw, db *sh, db *grp, json_t *uids,
                         const json_t *created_users, json_t *new_created_users, fl_error *err) {
    const char *name;
    json_t *u;
    json_object_foreach((json_t *)e->users, name, u) {
        int normal = jbool(u, "isNormalUser");
        long at = db_find(pw, name);
        long existing = at >= 0 && pw->l[at].nf > 2 ? parse_id(pw->l[at].f[2]) : -1;
        long uid =
            pick_id("uid", name, json_object_get(u, "uid"), uids, pw, 2, existing, normal, err);
        if (uid < 0)
            return FL_ECONFLICT;
        const char *gname = primary_group(name, u);
        long gat = db_find(grp, gname);
        if (gat < 0 || grp->l[gat].nf < 3) {
            return fl_error_set(err, FL_ENOTFOUND, "user '%s': group '%s' does not exist", name,
                                gname);
        }
        const char *gid = grp->l[gat].f[2];
        const char *home = fl_act_jstr(u, "home", NULL);
        char *dflt_home = normal ? fl_xasprintf("/home/%s", name) : fl_xstrdup("/var/empty");
        if (!home || !*home)
            home = dflt_home;
        const char *shell = fl_act_jstr(u, "shell", NULL);
        if (!shell || !*shell)
            shell = normal ? "/bin/sh" : "/usr/sbin/nologin";
        const char *gecos = fl_act_jstr(u, "description", "");
        const char *hash = fl_act_jstr(u, "hashedPassword", NULL);
        char num[32];
        snprintf(num, sizeof num, "%ld", uid);
        const char *labels[7] = {"name", "password", "uid", "gid", "description", "home", "shell"};
        const char *vals[7] = {name, "x", num, gid, gecos, home, shell};
        /* extraGroups that do not exist are reported, never invented. */
        json_t *extra = json_object_get(u, "extraGroups");
        size_t i;
        json_t *g;
        json_array_foreach(extra, i, g) {
            const char *gn = json_string_value(g);
            if (!gn)
                continue;
            if (db_find(grp, gn) < 0)
                change(e, "! user %s: extra group '%s' does not exist (not added)", name, gn);
        }
        if (at < 0) {
            dbline *l = db_append(pw, 7);
            for (int k = 0; k < 7; k++)
                set_field(l, k, vals[k]);
            change(e, "+ user %s (uid %ld, group %s, home %s)", name, uid, gname, home);
            json_array_append_new(new_created_users, json_string(name));
            /* useradd -M: activation makes homes itself; extra groups follow as gpasswd -M
             * from the membership pass. */
            if (hash)
                op(e, "useradd", "-u", num, "-g", gid, "-d", home, "-s", shell, "-c", gecos, "-M",
                   "-p", hash, name, NULL);
            else
                op(e, "useradd", "-u", num, "-g", gid, "-d", home, "-s", shell, "-c", gecos, "-M",
                   name, NULL);
        } else {
            dbline *l = &pw->l[at];
            ensure_fields(l, 7);
            int changed = 0;
            for (int k = 2; k < 7; k++) {
                if (strcmp(l->f[k], vals[k])) {
                    change(e, "~ user %s: %s %s -> %s", name, labels[k], l->f[k], vals[k]);
                    set_field(l, k, vals[k]);
                    changed = 1;
                }
            }
            if (changed)
                op(e, "usermod", "-u", num, "-g", gid, "-d", home, "-s", shell, "-c", gecos, name,
                   NULL);
            if (in_array(created_users, name))
                json_array_append_new(new_created_users, json_string(name));
        }
        /* shadow: a new user is locked ("!") until a hash is declared; an existing hash is
         * kept unless one is declared, so `passwd` changes survive activation. */
        long sat = db_find(sh, name);
        if (sat < 0) {
            dbline *l = db_append(sh, 9);
            char days[32];
            snprintf(days, sizeof days, "%ld", e->today);
            set_field(l, 0, name);
            set_field(l, 1, hash ? hash : "!");
            set_field(l, 2, days);
        } else if (hash) {
            dbline *l = &sh->l[sat];
            ensure_fields(l, 2);
            if (strcmp(l->f[1], hash)) {
                set_field(l, 1, hash);
                change(e, "~ user %s: password hash changed", name);
                op(e, "usermod", "-p", hash, name, NULL);
            }
        }
        free(dflt_home);
    }
    /* Users flakectl made earlier and nobody declares any more. */
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)created_users, i, v) {
        const char *n = json_string_value(v);
        if (!n || json_object_get(e->users, n))
            continue;
        long at = db_find(pw, n);
        if (at >= 0) {
            pw->l[at].deleted = 1;
            change(e, "- user %s", n);
            op(e, "userdel", n, NULL);
        }
        long sat = db_find(sh, n);
        if (sat >= 0)
            sh->l[sat].deleted = 1;
    }
    return FL_OK;
}

/* Membership is declarative for managed users: they are in exactly the groups they declare
 * (extraGroups, or a group's members list); everyone else's membership is left as found. */
static void compute_members(fl_users_edit *e, db *grp, const json_t *created_users) {
    for (size_t i = 0; i < grp->n; i++) {
        dbline *l = &grp->l[i];
        if (!is_entry(l) || l->nf < 3)
            continue;
        const char *gname = l->f[0];
        json_t *old = json_array();
        list_members(l, old);
        json_t *neu = json_array();
        size_t k;
        json_t *m;
        json_array_foreach(old, k, m) {
            const char *mn = json_string_value(m);
            if (!json_object_get(e->users, mn) && !in_array(created_users, mn))
                json_array_append(neu, m);
        }
        const char *un;
        json_t *u;
        json_object_foreach((json_t *)e->users, un, u) {
            if (in_array(json_object_get(u, "extraGroups"), gname) && !in_array(neu, un))
                json_array_append_new(neu, json_string(un));
        }
        json_t *decl = json_object_get(json_object_get(e->groups, gname), "members");
        json_array_foreach(decl, k, m) {
            if (json_is_string(m) && !in_array(neu, json_string_value(m)))
                json_array_append(neu, m);
        }
        char *os = join_members(old), *ns = join_members(neu);
        if (strcmp(os, ns)) {
            ensure_fields(l, 4);
            change(e, "~ group %s: members [%s] -> [%s]", gname, os, ns);
            set_field(l, 3, ns);
            op(e, "gpasswd", "-M", ns, gname, NULL);
        }
        free(os);
        free(ns);
        json_decref(old);
        json_decref(neu);
    }
}

/* The module types refuse these at evaluation with the user's file:line; a toplevel made by
 * hand (or by an older flakectl) reaches here unchecked, and one stray ':' or newline would
 * add an account. Same rules as lib.nix's passwdName / passwdEntry / accountId. */
static int bad_name(const char *s, size_t len) {
    if (len < 1 || len > 32 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 1;
    for (size_t i = 1; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-' || (s[i] == '$' && i == len - 1)))
            return 1;
    return 0;
}

static int bad_field(const json_t *v) {
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    return memchr(s, '\0', len) || strcspn(s, ":\n") != len;
}

static int refuse(fl_error *err, const char *kind, const char *name, const char *field,
                  const char *why) {
    fl_error_set(err, FL_EPARSE, "%s '%s': %s %s; refusing to write it to /etc/passwd, "
                 "/etc/shadow or /etc/group", kind, name, field, why);
    fl_error_set_hint(err, "rebuild the toplevel with this flakectl: its module types report "
                           "the definition's file and line");
    return FL_EPARSE;
}

static int check_id(fl_error *err, const char *kind, const char *name, const json_t *id) {
    if (!id || json_is_null(id))
        return FL_OK;
    json_int_t x = json_is_integer(id) ? json_integer_value(id) : -1;
    if (x < 0 || x > 4294967294LL || x == 65535)
        return refuse(err, kind, name, kind[0] == 'u' ? "uid" : "gid",
                      "is not an id between 0 and 4294967294 (and not 65535)");
    return FL_OK;
}

static int check_accounts(const fl_users_edit *e, fl_error *err) {
    const char *name, *key;
    json_t *u, *v;
    json_object_foreach((json_t *)e->users, name, u) {
        if (bad_name(name, strlen(name)))
            return refuse(err, "user", name, "the name", "is not a valid account name");
        if (check_id(err, "user", name, json_object_get(u, "uid")))
            return FL_EPARSE;
        json_object_foreach(u, key, v) {
            int is_name = !strcmp(key, "group");
            if (json_is_string(v) && (is_name ? bad_name(json_string_value(v), json_string_length(v))
                                              : bad_field(v)))
                return refuse(err, "user", name, key, "holds a ':', a newline or a NUL");
        }
        size_t i;
        json_array_foreach(json_object_get(u, "extraGroups"), i, v) {
            if (!json_is_string(v) || bad_name(json_string_value(v), json_string_length(v)))
                return refuse(err, "user", name, "extraGroups", "names an invalid group");
        }
    }
    json_object_foreach((json_t *)e->groups, name, u) {
        if (bad_name(name, strlen(name)))
            return refuse(err, "group", name, "the name", "is not a valid account name");
        if (check_id(err, "group", name, json_object_get(u, "gid")))
            return FL_EPARSE;
        size_t i;
        json_array_foreach(json_object_get(u, "members"), i, v) {
            if (!json_is_string(v) || bad_name(json_string_value(v), json_string_length(v)))
                return refuse(err, "group", name, "members", "names an invalid user");
        }
    }
    return FL_OK;
}

int fl_users_compute(fl_users_edit *e, fl_error *err) {
    json_t *empty = json_object();
    if (!e->users)
        e->users = empty;
    if (!e->groups)
        e->groups = empty;
    fl_strbuf_init(&e->changes, 0);
    e->nchanges = 0;
    e->ops = json_array();
    e->new_created = json_object();
    json_t *ncu = json_array(), *ncg = json_array();
    json_object_set_new(e->new_created, "users", ncu);
    json_object_set_new(e->new_created, "groups", ncg);
    if (!json_is_object(json_object_get(e->ids, "uids")))
        json_object_set_new(e->ids, "uids", json_object());
    if (!json_is_object(json_object_get(e->ids, "gids")))
        json_object_set_new(e->ids, "gids", json_object());
    const json_t *cu = json_object_get(e->created, "users");
    const json_t *cg = json_object_get(e->created, "groups");

    int rc = check_accounts(e, err);
    if (!rc) {
        db pw, grp, sh;
        db_parse(&pw, e->passwd);
        db_parse(&grp, e->group);
        db_parse(&sh, e->shadow);
        rc = compute_groups(e, &grp, json_object_get(e->ids, "gids"), cg, ncg, err);
        if (!rc)
            rc = compute_users(e, &pw, &sh, &grp, json_object_get(e->ids, "uids"), cu, ncu, err);
        if (!rc)
            compute_members(e, &grp, cu);
        if (!rc)
            groupdels_last(e->ops);
        if (!rc) {
            e->new_passwd = db_render(&pw);
            e->new_group = db_render(&grp);
            e->new_shadow = db_render(&sh);
        }
        db_free(&pw);
        db_free(&grp);
        db_free(&sh);
    }
    if (e->users == empty)
        e->users = NULL;
    if (e->groups == empty)
        e->groups = NULL;
    json_decref(empty);
    return rc;
}

void fl_users_edit_release(fl_users_edit *e) {
    free(e->new_passwd);
    free(e->new_group);
    free(e->new_shadow);
    json_decref(e->new_created);
    json_decref(e->ops);
    fl_strbuf_release(&e->changes);
    e->new_passwd = e->new_group = e->new_shadow = NULL;
    e->new_created = e->ops = NULL;
}
