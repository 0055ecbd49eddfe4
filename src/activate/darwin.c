/* darwin.c - macOS activation (nix-darwin's ground): users and groups through dscl (never by
 * writing /etc/passwd or /etc/group), system.defaults compared with `defaults read` and written
 * only where they differ (Dock, Finder or SystemUIServer restarted only when one of its own
 * keys changed), launchd jobs booted out and bootstrapped only when new, changed or removed
 * (daemons in /Library/LaunchDaemons, agents in the console user's ~/Library/LaunchAgents).
 * Homebrew is the packages step's (§11), not this file's.
 *
 * Everything is planned as a list of exact command lines first (dry-activate prints them);
 * they run only when the root is "/" and / is macOS. Under --root, or on Linux, the list is
 * printed and nothing runs. None of this has run on a Mac yet (docs/darwin.md): the tests
 * check the command lines with recorders standing in for launchctl, defaults, dscl and
 * killall, which cannot exist on Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "activate/internal.h"
#include "flakectl/fs.h"

/* What each command is for: how it runs and what its failure means. */
enum { C_RUN, C_RUN_MAY_FAIL, C_WRITE, C_REMOVE };

typedef struct dcmd {
    int kind;
    char **argv; /* C_RUN*: NULL-terminated, owned */
    uid_t as;    /* run (or write) as this user; 0 is root */
    gid_t gid;
    char *home;      /* HOME for a user's command */
    char *src, *dst; /* C_WRITE: store file -> path; C_REMOVE: dst */
} dcmd;

typedef struct dlist {
    dcmd *c;
    size_t n;
} dlist;

struct fl_act_darwin {
    int live;
    dlist users;     /* the users step */
    dlist apply;     /* defaults, restarts, launchd */
    fl_strbuf notes; /* lines for the plan: why something is left alone */
    char *console;   /* the console user, NULL when nobody is logged in */
};

int fl_act_is_darwin(const fl_toplevel *t) {
    return t && !strcmp(fl_act_jstr(t->profile, "platform", ""), "darwin");
}

int fl_act_darwin_live(const char *root) {
    return !strcmp(root, "/") && fl_path_exists("/System/Library/CoreServices/SystemVersion.plist");
}

int fl_act_platform_check(const char *root, const fl_toplevel *t, fl_error *err) {
    if (strcmp(root, "/"))
        return FL_OK;
    int mac = fl_act_darwin_live(root), darwin = fl_act_is_darwin(t);
    if (mac == darwin)
        return FL_OK;
    fl_error_set(err, FL_EGENERIC, "%s is a %s system, but this machine is %s", t->path,
                 darwin ? "darwin (macOS)" : fl_act_jstr(t->profile, "platform", "Linux"),
                 mac ? "macOS" : "not macOS (no /System/Library/CoreServices/SystemVersion.plist)");
    fl_error_set_hint(err,
                      "activate it on a %s machine, or pass --root DIR to lay it out in a "
                      "directory without running anything",
                      darwin ? "macOS" : "Linux");
    return FL_EGENERIC;
}

/* ---- commands ---- */

static dcmd *push(dlist *l, int kind) {
    l->c = fl_xrealloc(l->c, (l->n + 1) * sizeof *l->c);
    dcmd *c = &l->c[l->n++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    return c;
}

/* A command from a NULL-terminated list of strings. */
static dcmd *cmd(dlist *l, int kind, const char *first, ...) {
    dcmd *c = push(l, kind);
    va_list ap;
    size_t n = 1;
    va_start(ap, first);
    while (va_arg(ap, const char *))
        n++;
    va_end(ap);
    c->argv = fl_xcalloc(n + 1, sizeof(char *));
    c->argv[0] = fl_xstrdup(first);
    va_start(ap, first);
    for (size_t i = 1; i < n; i++)
        c->argv[i] = fl_xstrdup(va_arg(ap, const char *));
    va_end(ap);
    return c;
}

static void as_user(dcmd *c, const struct passwd *pw) {
    if (!pw)
        return;
    c->as = pw->pw_uid;
    c->gid = pw->pw_gid;
    c->home = fl_xstrdup(pw->pw_dir);
}

static void list_free(dlist *l) {
    for (size_t i = 0; i < l->n; i++) {
        for (char **a = l->c[i].argv; a && *a; a++)
            free(*a);
        free(l->c[i].argv);
        free(l->c[i].home);
        free(l->c[i].src);
        free(l->c[i].dst);
    }
    free(l->c);
    l->c = NULL;
    l->n = 0;
}

void fl_act_darwin_free(fl_act_darwin *d) {
    if (!d)
        return;
    list_free(&d->users);
    list_free(&d->apply);
    fl_strbuf_release(&d->notes);
    free(d->console);
    free(d);
}

static int run(const dcmd *c, char *const argv[], fl_strbuf *out, int *status, fl_error *err) {
    fl_act_runas as = {c->as, c->gid, c->home, NULL};
    return fl_act_run_as(argv, &as, out, status, err);
}

/* Reads one line of a command's output (trailing newline dropped); NULL when it failed. */
static char *read_cmd(const struct passwd *pw, const char *const *argv) {
    dcmd c = {0};
    as_user(&c, pw);
    fl_strbuf sb;
    fl_strbuf_init(&sb, 64);
    int status = 1;
    fl_error e = FL_ERROR_INIT;
    int rc = run(&c, (char *const *)argv, &sb, &status, &e);
    fl_error_clear(&e);
    free(c.home);
    if (rc || status) {
        fl_strbuf_release(&sb);
        return NULL;
    }
    while (sb.len && sb.buf[sb.len - 1] == '\n')
        sb.buf[--sb.len] = '\0';
    return fl_strbuf_detach(&sb, NULL);
}

/* Writes src's content to dst as the command's user: a user's own process cannot be led by
 * a link it planted to a file it could not write itself. */
static int write_as(const dcmd *c, fl_error *err) {
    char *data = NULL;
    size_t len;
    int rc = fl_read_file(c->src, &data, &len, err);
    if (rc)
        return rc;
    if (!c->as) {
        /* A daemon's plist: written by root beneath "/", no link followed on the way. */
        rc = fl_act_root_write("/", c->dst, data, len, 0644, 0, err);
        free(data);
        return rc;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        free(data);
        return fl_error_errno(err, "cannot write %s", c->dst);
    }
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setgid(c->gid) < 0 || setuid(c->as) < 0)
            _exit(126);
        char *dir = fl_xstrdup(c->dst);
        *strrchr(dir, '/') = '\0';
        fl_error e = FL_ERROR_INIT;
        int r = fl_mkdir_p(dir, 0755, &e);
        if (!r)
            r = fl_atomic_write_file(c->dst, data, len, 0644, &e);
        if (r)
            fprintf(stderr, "%s\n", e.message);
        _exit(r ? 1 : 0);
    }
    free(data);
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR)
            return fl_error_errno(err, "cannot wait for the writer of %s", c->dst);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws))
        return fl_error_set(err, FL_EGENERIC, "cannot write %s", c->dst);
    return FL_OK;
}

static void print_cmd(const dcmd *c, FILE *out, const char *indent) {
    fputs(indent, out);
    if (c->kind == C_WRITE)
        fprintf(out, "install -m 0644 %s %s", c->src, c->dst);
    else if (c->kind == C_REMOVE)
        fprintf(out, "rm %s", c->dst);
    for (char **a = c->argv; a && *a; a++) {
        int plain = **a && strcspn(*a, " \t\n'\"\\$`") == strlen(*a);
        fprintf(out, plain ? "%s%s" : "%s'%s'", a == c->argv ? "" : " ", *a);
    }
    if (c->as)
        fprintf(out, "  (as uid %u)", (unsigned)c->as);
    fputc('\n', out);
}

static int exec_list(const dlist *l, FILE *out, fl_error *err) {
    for (size_t i = 0; i < l->n; i++) {
        const dcmd *c = &l->c[i];
        int rc = FL_OK, status = 0;
        print_cmd(c, out, "  ");
        if (c->kind == C_WRITE) {
            rc = write_as(c, err);
        } else if (c->kind == C_REMOVE) {
            rc = fl_act_root_unlink("/", c->dst, err);
        } else {
            rc = run(c, c->argv, NULL, &status, err);
            if (!rc && status && c->kind == C_RUN)
                rc = fl_error_set(err, FL_EGENERIC, "%s %s exited with status %d", c->argv[0],
                                  c->argv[1] ? c->argv[1] : "", status);
        }
        if (rc)
            return rc;
    }
    return FL_OK;
}

/* ---- validation: every field reaches a command line or a path ---- */

static int valid_name(const char *s) {
    if (!s || !*s || strlen(s) > 64 || *s == '-' || *s == '.')
        return 0;
    for (const char *p = s; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            *p != '_' && *p != '-' && *p != '.')
            return 0;
    return 1;
}

static int valid_path(const char *s) {
    return s && *s == '/' && !strstr(s, "/../") && !strchr(s, '\n') &&
           strcmp(s + strlen(s) - (strlen(s) >= 3 ? 3 : 0), "/..");
}

/* ---- users and groups (dscl) ---- */

/* "Key: value" (or "Key:\n value") lines of `dscl . -read`, as a JSON object. */
static json_t *parse_dscl(const char *text) {
    json_t *o = json_object();
    const char *s = text;
    while (s && *s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        const char *colon = memchr(s, ':', n);
        if (colon && *s != ' ') {
            char *key = fl_xstrndup(s, (size_t)(colon - s));
            const char *v = colon + 1;
            size_t vn = n - (size_t)(v - s);
            if (!vn && nl && nl[1] == ' ') { /* the value is on the next line */
                const char *v2 = nl + 2, *nl2 = strchr(v2, '\n');
                json_object_set_new(o, key,
                                    json_stringn(v2, nl2 ? (size_t)(nl2 - v2) : strlen(v2)));
                nl = nl2;
            } else {
                while (vn && *v == ' ')
                    v++, vn--;
                json_object_set_new(o, key, json_stringn(v, vn));
            }
            free(key);
        }
        s = nl ? nl + 1 : NULL;
    }
    return o;
}

static json_t *dscl_read(const char *kind, const char *name) {
    char *rec = fl_xasprintf("/%s/%s", kind, name);
    const char *argv[] = {"dscl", ".", "-read", rec, NULL};
    char *text = read_cmd(NULL, argv);
    free(rec);
    json_t *o = text ? parse_dscl(text) : NULL;
    free(text);
    return o;
}

/* Sets attribute key to want unless the record already has that value. */
static void dscl_set(dlist *l, const char *rec, const json_t *have, const char *key,
                     const char *want) {
    if (!want || !*want)
        return;
    if (have && !strcmp(fl_act_jstr(have, key, ""), want))
        return;
    cmd(l, C_RUN, "dscl", ".", "-create", rec, key, want, NULL);
}

static int in_members(const json_t *have, const char *user) {
    const char *m = fl_act_jstr(have, "GroupMembership", "");
    size_t ul = strlen(user);
    for (const char *p = m; *p;) {
        size_t n = strcspn(p, " ");
        if (n == ul && !strncmp(p, user, n))
            return 1;
        p += n;
        while (*p == ' ')
            p++;
    }
    return 0;
}

/* A group's members as t declares them: its own list, then every user naming it in
 * extraGroups. */
static json_t *declared_members(const fl_toplevel *t, const char *group) {
    json_t *members = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(json_object_get(json_object_get(t->profile, "groups"), group),
                                       "members"),
                       i, m) json_array_append(members, m);
    const char *un;
    json_t *u;
    json_object_foreach(json_object_get(t->profile, "users"), un, u) {
        json_array_foreach(json_object_get(u, "extraGroups"), i, m) {
            if (json_is_string(m) && !strcmp(json_string_value(m), group))
                json_array_append_new(members, json_string(un));
        }
    }
    return members;
}

static int json_in(const json_t *arr, const char *s) {
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m) {
        if (json_is_string(m) && !strcmp(json_string_value(m), s))
            return 1;
    }
    return 0;
}

/* Accounts the previous generation declared and this one does not go (`dscl . -delete`), as
 * nix-darwin deletes its knownUsers/knownGroups, with its guard: only an id above 501 (never
 * a system account or the first admin), and never the console user. Off the Mac the record
 * cannot be read: the command is listed with the guard noted. Homes stay. */
static void plan_deletions(fl_act_darwin *d, const fl_toplevel *old, const fl_toplevel *t,
                           const char *kind) {
    int users = !strcmp(kind, "Users");
    const char *key = users ? "users" : "groups";
    const char *idkey = users ? "UniqueID" : "PrimaryGroupID";
    const json_t *now = json_object_get(t->profile, key);
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(old ? old->profile : NULL, key), name, v) {
        if (json_object_get(now, name) || !valid_name(name))
            continue;
        char *rec = fl_xasprintf("/%s/%s", kind, name);
        json_t *have = d->live ? dscl_read(kind, name) : NULL;
        long long id = have ? strtoll(fl_act_jstr(have, idkey, "0"), NULL, 10) : 0;
        if (d->live && !have) {
            /* already gone */
        } else if (d->live && id <= 501) {
            fl_strbuf_addf(&d->notes,
                           "%s %s is no longer declared but has %s %lld (501 or below: a system "
                           "account or the first admin); not deleted\n",
                           users ? "user" : "group", name, idkey, id);
        } else if (users && d->console && !strcmp(d->console, name)) {
            fl_strbuf_addf(&d->notes,
                           "user %s is no longer declared but is logged in at the console; not "
                           "deleted\n",
                           name);
        } else {
            cmd(&d->users, C_RUN, "dscl", ".", "-delete", rec, NULL);
            if (!d->live)
                fl_strbuf_addf(&d->notes,
                               "%s %s is no longer declared: deleted on the Mac only when its %s "
                               "is above 501 (its home stays)\n",
                               users ? "user" : "group", name, idkey);
        }
        json_decref(have);
        free(rec);
    }
}

static int plan_users(fl_act_darwin *d, const fl_toplevel *old, const fl_toplevel *t,
                      fl_error *err) {
    const json_t *users = json_object_get(t->profile, "users");
    const json_t *groups = json_object_get(t->profile, "groups");
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)groups, name, v) {
        if (!valid_name(name))
            return fl_error_set(err, FL_EPARSE, "users.groups.\"%s\": not a valid group name",
                                name);
        char *rec = fl_xasprintf("/Groups/%s", name);
        json_t *have = d->live ? dscl_read("Groups", name) : NULL;
        if (!have) {
            cmd(&d->users, C_RUN, "dscl", ".", "-create", rec, NULL);
            cmd(&d->users, C_RUN, "dscl", ".", "-create", rec, "RealName", name, NULL);
        }
        json_t *gid = json_object_get(v, "gid");
        if (json_is_integer(gid) && !have) {
            char num[32];
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(gid));
            dscl_set(&d->users, rec, have, "PrimaryGroupID", num);
        } else if (!json_is_integer(gid) && !have) {
            json_decref(have);
            free(rec);
            return fl_error_set(err, FL_EPARSE,
                                "users.groups.%s.gid: macOS needs an explicit gid for a new group",
                                name);
        }
        json_t *members = declared_members(t, name);
        size_t i;
        json_t *m;
        json_array_foreach(members, i, m) {
            const char *mn = json_string_value(m);
            if (mn && valid_name(mn) && !in_members(have, mn))
                cmd(&d->users, C_RUN, "dscl", ".", "-append", rec, "GroupMembership", mn, NULL);
        }
        /* A member the previous generation declared and this one does not leaves the group
         * (where the record still lists it); members added by hand stay. */
        json_t *before = old && json_object_get(json_object_get(old->profile, "groups"), name)
                             ? declared_members(old, name)
                             : json_array();
        json_array_foreach(before, i, m) {
            const char *mn = json_string_value(m);
            if (mn && valid_name(mn) && !json_in(members, mn) && (!d->live || in_members(have, mn)))
                cmd(&d->users, C_RUN, "dscl", ".", "-delete", rec, "GroupMembership", mn, NULL);
        }
        json_decref(before);
        json_decref(members);
        json_decref(have);
        free(rec);
    }
    json_object_foreach((json_t *)users, name, v) {
        if (!valid_name(name))
            return fl_error_set(err, FL_EPARSE, "users.users.\"%s\": not a valid user name", name);
        const char *home = fl_act_jstr(v, "home", NULL), *shell = fl_act_jstr(v, "shell", NULL);
        const char *real = fl_act_jstr(v, "description", "");
        if ((home && !valid_path(home)) || (shell && !valid_path(shell)) || strchr(real, '\n'))
            return fl_error_set(err, FL_EPARSE,
                                "users.users.%s: home and shell must be absolute paths and the "
                                "description one line",
                                name);
        char *rec = fl_xasprintf("/Users/%s", name);
        json_t *have = d->live ? dscl_read("Users", name) : NULL;
        json_t *uid = json_object_get(v, "uid");
        if (!have) {
            if (!json_is_integer(uid)) {
                free(rec);
                return fl_error_set(err, FL_EPARSE,
                                    "users.users.%s.uid: macOS needs an explicit uid for a new "
                                    "user",
                                    name);
            }
            char num[32];
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(uid));
            cmd(&d->users, C_RUN, "dscl", ".", "-create", rec, NULL);
            cmd(&d->users, C_RUN, "dscl", ".", "-create", rec, "UniqueID", num, NULL);
        } else if (json_is_integer(uid) && strtoll(fl_act_jstr(have, "UniqueID", "-1"), NULL, 10) !=
                                               json_integer_value(uid)) {
            /* Renumbering an account orphans its files: say so, change nothing. */
            fl_strbuf_addf(&d->notes, "user %s keeps UniqueID %s (declared %lld): not renumbered\n",
                           name, fl_act_jstr(have, "UniqueID", "?"),
                           (long long)json_integer_value(uid));
        }
        const char *gname = fl_act_jstr(v, "group", NULL);
        json_t *g = gname ? json_object_get(groups, gname) : NULL;
        json_t *gid = json_object_get(g, "gid");
        if (json_is_integer(gid)) {
            char num[32];
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(gid));
            dscl_set(&d->users, rec, have, "PrimaryGroupID", num);
        }
        dscl_set(&d->users, rec, have, "NFSHomeDirectory", home);
        dscl_set(&d->users, rec, have, "UserShell", shell);
        dscl_set(&d->users, rec, have, "RealName", real);
        if (!have && json_is_true(json_object_get(v, "createHome")))
            cmd(&d->users, C_RUN, "createhomedir", "-c", "-u", name, NULL);
        json_decref(have);
        free(rec);
    }
    /* Users before groups: a group may be a dropped user's primary one. */
    plan_deletions(d, old, t, "Users");
    plan_deletions(d, old, t, "Groups");
    return FL_OK;
}

/* ---- system.defaults ---- */

/* The process to restart when a key of this domain changed, or NULL. */
static const char *owner_process(const char *domain) {
    static const struct {
        const char *domain, *process;
    } map[] = {
        {"com.apple.dock", "Dock"},
        {"com.apple.finder", "Finder"},
        {"com.apple.menuextra.clock", "SystemUIServer"},
        {"com.apple.menuextra.battery", "SystemUIServer"},
        {"com.apple.screencapture", "SystemUIServer"},
        {"com.apple.systemuiserver", "SystemUIServer"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(domain, map[i].domain))
            return map[i].process;
    return NULL;
}

/* The `defaults write` type flag and value text of a JSON value. */
static int value_arg(const json_t *v, const char **flag, char *buf, size_t n) {
    if (json_is_boolean(v)) {
        *flag = "-bool";
        snprintf(buf, n, "%s", json_is_true(v) ? "true" : "false");
    } else if (json_is_integer(v)) {
        *flag = "-int";
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        *flag = "-float";
        snprintf(buf, n, "%.17g", json_real_value(v));
    } else if (json_is_string(v)) {
        *flag = "-string";
        snprintf(buf, n, "%s", json_string_value(v));
    } else {
        return -1;
    }
    return 0;
}

/* Whether `defaults read` (value, read-type) already says v. */
static int same_value(const json_t *v, const char *val, const char *type) {
    if (!val || !type)
        return 0;
    if (json_is_boolean(v))
        return !strcmp(type, "Type is boolean") && !strcmp(val, json_is_true(v) ? "1" : "0");
    if (json_is_integer(v))
        return !strcmp(type, "Type is integer") && strtoll(val, NULL, 10) == json_integer_value(v);
    if (json_is_real(v))
        return !strcmp(type, "Type is float") &&
               fabs(strtod(val, NULL) - json_real_value(v)) < 1e-9;
    return !strcmp(type, "Type is string") && !strcmp(val, json_string_value(v));
}

static int system_domain(const char *domain) {
    return domain[0] == '/';
}

/* Whether `defaults read`/`read-type` of domain's key (as pw for a user domain) say v;
 * *present: whether the key is there at all. */
static int reads_as(const char *domain, const char *key, const json_t *v, const struct passwd *pw,
                    int *present) {
    int system = system_domain(domain);
    const char *rd[] = {"defaults", "read", domain, key, NULL};
    const char *rt[] = {"defaults", "read-type", domain, key, NULL};
    char *have = read_cmd(system ? NULL : pw, rd);
    char *type = have ? read_cmd(system ? NULL : pw, rt) : NULL;
    int same = same_value(v, have, type);
    if (present)
        *present = type != NULL;
    free(have);
    free(type);
    return same;
}

/* Keys of domain the previous generation declared and this one does not (keys NULL: the
 * whole domain went): `defaults delete`, but only where `defaults read` still says what was
 * declared (a value someone changed since is theirs, like an edited file). Returns whether a
 * key goes. */
static int plan_dropped_keys(fl_act_darwin *d, const char *domain, const json_t *was,
                             const json_t *keys, const struct passwd *pw) {
    int system = system_domain(domain), changed = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)was, key, v) {
        if (json_object_get(keys, key))
            continue;
        int present = 0;
        if (d->live && !reads_as(domain, key, v, pw, &present)) {
            if (present)
                fl_strbuf_addf(&d->notes,
                               "defaults %s %s: no longer declared but changed since; left in "
                               "place\n",
                               domain, key);
            continue;
        }
        dcmd *c = cmd(&d->apply, C_RUN, "defaults", "delete", domain, key, NULL);
        if (!system)
            as_user(c, pw);
        changed = 1;
    }
    return changed;
}

/* Adds the process owning domain to restart[] (once). */
static void restart_owner(const char *domain, const char **restart, size_t *nr) {
    const char *proc = owner_process(domain);
    int seen = 0;
    for (size_t i = 0; i < *nr; i++)
        seen |= proc && !strcmp(restart[i], proc);
    if (proc && !seen && *nr < 8)
        restart[(*nr)++] = proc;
}

static int plan_defaults(fl_act_darwin *d, const fl_toplevel *old, const fl_toplevel *t,
                         const struct passwd *pw, fl_error *err) {
    const json_t *all = json_object_get(json_object_get(t->profile, "darwin"), "defaults");
    const json_t *was_all =
        json_object_get(json_object_get(old ? old->profile : NULL, "darwin"), "defaults");
    const char *restart[8];
    size_t nr = 0;
    const char *domain;
    json_t *keys;
    json_object_foreach((json_t *)all, domain, keys) {
        /* A path domain is the machine's (/Library/Preferences/...), written as root;
         * a name is the console user's. */
        int system = system_domain(domain);
        if (system ? !valid_path(domain) : (!*domain || strchr(domain, '/')))
            return fl_error_set(err, FL_EPARSE, "system.defaults.\"%s\": not a defaults domain",
                                domain);
        if (!system && !pw) {
            fl_strbuf_addf(&d->notes,
                           "defaults of %s: nobody is logged in at the console; not written\n",
                           domain);
            continue;
        }
        const char *key;
        json_t *v;
        int changed = 0;
        json_object_foreach(keys, key, v) {
            const char *flag;
            char val[1024];
            if (value_arg(v, &flag, val, sizeof val))
                return fl_error_set(err, FL_EPARSE,
                                    "system.defaults.\"%s\".\"%s\": a bool, int, float or string",
                                    domain, key);
            if (d->live && reads_as(domain, key, v, pw, NULL))
                continue;
            dcmd *c = cmd(&d->apply, C_RUN, "defaults", "write", domain, key, flag, val, NULL);
            if (!system)
                as_user(c, pw);
            changed = 1;
        }
        changed |= plan_dropped_keys(d, domain, json_object_get(was_all, domain), keys, pw);
        if (changed)
            restart_owner(domain, restart, &nr);
    }
    /* Domains the previous generation declared and this one has none of. */
    json_object_foreach((json_t *)was_all, domain, keys) {
        int system = system_domain(domain);
        if (json_object_get(all, domain) ||
            (system ? !valid_path(domain) : (!*domain || strchr(domain, '/'))) ||
            (!system && !pw))
            continue;
        if (plan_dropped_keys(d, domain, keys, NULL, pw))
            restart_owner(domain, restart, &nr);
    }
    for (size_t i = 0; i < nr; i++) {
        /* The process may not run (Finder quit by the user): nothing to restart then. */
        dcmd *c = cmd(&d->apply, C_RUN_MAY_FAIL, "killall", restart[i], NULL);
        as_user(c, pw);
    }
    return FL_OK;
}

/* ---- launchd ---- */

static int same_content(const char *a, const char *b) {
    char ha[65], hb[65];
    return fl_act_sha256_file(a, ha) == 0 && fl_act_sha256_file(b, hb) == 0 && !strcmp(ha, hb);
}

/* One kind of job (daemons or agents): bootout of removed and changed ones, then their files,
 * then bootstrap of new and changed ones; unchanged jobs are not touched. */
static int plan_jobs(fl_act_darwin *d, const char *root, const fl_toplevel *old,
                     const fl_toplevel *t, int agents, const struct passwd *pw, fl_error *err) {
    const char *kind = agents ? "agents" : "daemons";
    const json_t *now =
        json_object_get(json_object_get(json_object_get(t->profile, "darwin"), "launchd"), kind);
    const json_t *was =
        json_object_get(json_object_get(json_object_get(old->profile, "darwin"), "launchd"), kind);
    if (agents && !pw) {
        if (json_object_size(now) || json_object_size(was))
            fl_strbuf_addf(&d->notes,
                           "launchd agents: nobody is logged in at the console; not loaded\n");
        return FL_OK;
    }
    char uidbuf[32];
    if (pw->pw_uid)
        snprintf(uidbuf, sizeof uidbuf, "gui/%u", (unsigned)pw->pw_uid);
    else
        snprintf(uidbuf, sizeof uidbuf, "gui/CONSOLE_UID");
    const char *domain = agents ? uidbuf : "system";
    char *dir = agents ? fl_path_join(pw->pw_dir, "Library/LaunchAgents")
                       : fl_act_root_path(root, "/Library/LaunchDaemons");
    dlist boot = {0};
    const char *label;
    json_t *v;
    int rc = FL_OK;
    json_object_foreach((json_t *)was, label, v) {
        if (json_object_get(now, label) || !valid_name(label))
            continue;
        char *target = fl_xasprintf("%s/%s", domain, label);
        char *file = fl_xasprintf("%s/%s.plist", dir, label);
        cmd(&d->apply, C_RUN_MAY_FAIL, "launchctl", "bootout", target, NULL);
        dcmd *c = push(&d->apply, C_REMOVE);
        c->dst = file;
        free(target);
    }
    json_object_foreach((json_t *)now, label, v) {
        if (!valid_name(label)) {
            rc = fl_error_set(err, FL_EPARSE,
                              "launchd.%s: label \"%s\" is not a plain name ([A-Za-z0-9._-])", kind,
                              label);
            break;
        }
        const char *src = fl_act_jstr(v, "source", NULL);
        if (!src)
            continue;
        char *file = fl_xasprintf("%s/%s.plist", dir, label);
        int exists = fl_path_exists(file);
        if (exists && same_content(file, src)) {
            free(file);
            continue;
        }
        char *target = fl_xasprintf("%s/%s", domain, label);
        if (exists)
            cmd(&d->apply, C_RUN_MAY_FAIL, "launchctl", "bootout", target, NULL);
        dcmd *w = push(&d->apply, C_WRITE);
        w->src = fl_xstrdup(src);
        w->dst = fl_xstrdup(file);
        if (agents)
            as_user(w, pw);
        cmd(&boot, C_RUN, "launchctl", "bootstrap", domain, file, NULL);
        free(target);
        free(file);
    }
    /* Every file is in place before the first bootstrap. */
    for (size_t i = 0; i < boot.n; i++) {
        dcmd *slot = push(&d->apply, C_RUN);
        *slot = boot.c[i];
    }
    free(boot.c);
    free(dir);
    return rc;
}

/* ---- the plan and its steps ---- */

static struct passwd *console_user(const char *root, int live) {
    struct stat st;
    if (!live || strcmp(root, "/") || stat("/dev/console", &st) < 0 || st.st_uid == 0)
        return NULL;
    return getpwuid(st.st_uid);
}

int fl_act_darwin_plan(fl_act_plan *p, fl_error *err) {
    fl_act_darwin *d = fl_xcalloc(1, sizeof *d);
    fl_strbuf_init(&d->notes, 0);
    p->dar = d;
    d->live = p->root && fl_act_darwin_live(p->root);
    const struct passwd *pw = console_user(p->root ? p->root : "/", d->live);
    if (pw)
        d->console = fl_xstrdup(pw->pw_name);
    /* getpwuid's buffer is reused by later lookups: keep a copy. Off the Mac the listing
     * names the console user's home as "~" and runs nothing. */
    struct passwd copy = {.pw_name = "console-user", .pw_dir = "~"};
    if (pw) {
        copy = *pw;
        copy.pw_dir = fl_xstrdup(pw->pw_dir);
    }
    if (pw || !d->live)
        pw = &copy;
    int rc = plan_users(d, p->old, p->new, err);
    if (!rc)
        rc = plan_defaults(d, p->old, p->new, pw, err);
    if (!rc)
        rc = plan_jobs(d, p->root ? p->root : "/", p->old, p->new, 0, pw, err);
    if (!rc)
        rc = plan_jobs(d, p->root ? p->root : "/", p->old, p->new, 1, pw, err);
    if (d->console)
        free(copy.pw_dir);
    return rc;
}

static const char *not_live_reason(const char *root) {
    return strcmp(root, "/") ? "not executed: the root is not /"
                             : "not executed: this is not macOS";
}

void fl_act_darwin_print_users(const fl_act_plan *p, FILE *out) {
    const fl_act_darwin *d = p->dar;
    if (!d->live && p->root)
        fprintf(out, "    (%s; each record is checked with `dscl . -read` first on the Mac)\n",
                not_live_reason(p->root));
    if (!d->users.n)
        fputs("    (no change)\n", out);
    for (size_t i = 0; i < d->users.n; i++)
        print_cmd(&d->users.c[i], out, "    ");
}

void fl_act_darwin_print(const fl_act_plan *p, FILE *out) {
    const fl_act_darwin *d = p->dar;
    fputs("  launchd jobs and defaults", out);
    if (p->root)
        fprintf(out, " (%s)", d->live ? "would be executed" : not_live_reason(p->root));
    fputs(":\n", out);
    if (!d->apply.n)
        fputs("    (no change)\n", out);
    for (size_t i = 0; i < d->apply.n; i++)
        print_cmd(&d->apply.c[i], out, "    ");
    const char *s = d->notes.buf;
    while (s && *s) {
        const char *e = strchr(s, '\n');
        fprintf(out, "    note: %.*s\n", (int)(e ? e - s : (long)strlen(s)), s);
        s = e ? e + 1 : NULL;
    }
}

/* ---- the plan as JSON (docs/json.md "darwin"), in the order the commands would run ---- */

static json_t *argv_json(char *const *argv) {
    json_t *a = json_array();
    for (char *const *p = argv; p && *p; p++)
        json_array_append_new(a, json_string(*p));
    return a;
}

static json_t *step_json(const dcmd *c) {
    json_t *o = json_object();
    json_t *uid = c->as ? json_integer((json_int_t)c->as) : json_null();
    if (c->kind == C_WRITE || c->kind == C_REMOVE) {
        json_object_set_new(o, "kind", json_string("plist"));
        json_object_set_new(o, "change", json_string(c->kind == C_WRITE ? "add" : "remove"));
        json_object_set_new(o, "path", json_string(c->dst));
        json_object_set_new(o, "source", c->src ? json_string(c->src) : json_null());
        json_object_set_new(o, "uid", uid);
        return o;
    }
    const char *prog = c->argv[0];
    const char *kind = !strcmp(prog, "launchctl") ? "launchd"
                       : !strcmp(prog, "defaults") ? "defaults"
                       : !strcmp(prog, "killall")  ? "restart"
                                                   : "command";
    json_object_set_new(o, "kind", json_string(kind));
    if (strcmp(kind, "restart") && strcmp(kind, "command") && c->argv[1])
        json_object_set_new(o, "action", json_string(c->argv[1]));
    /* launchctl bootout DOMAIN/LABEL; launchctl bootstrap DOMAIN PLIST */
    if (!strcmp(kind, "launchd") && c->argv[1] && c->argv[2]) {
        int boot = c->argv[3] != NULL;
        json_object_set_new(o, boot ? "domain" : "target", json_string(c->argv[2]));
        if (boot)
            json_object_set_new(o, "path", json_string(c->argv[3]));
    }
    if (!strcmp(kind, "defaults") && c->argv[1] && c->argv[2] && c->argv[3]) {
        json_object_set_new(o, "domain", json_string(c->argv[2]));
        json_object_set_new(o, "key", json_string(c->argv[3]));
    }
    if (!strcmp(kind, "restart") && c->argv[1])
        json_object_set_new(o, "process", json_string(c->argv[1]));
    json_object_set_new(o, "command", argv_json(c->argv));
    json_object_set_new(o, "uid", uid);
    return o;
}

json_t *fl_act_darwin_json(const fl_act_plan *p) {
    const fl_act_darwin *d = p->dar;
    if (!d)
        return json_null();
    json_t *accounts = json_array(), *steps = json_array(), *notes = json_array();
    for (size_t i = 0; i < d->users.n; i++)
        json_array_append_new(accounts, json_pack("{s:o}", "command", argv_json(d->users.c[i].argv)));
    for (size_t i = 0; i < d->apply.n; i++)
        json_array_append_new(steps, step_json(&d->apply.c[i]));
    for (const char *s = d->notes.buf; s && *s;) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        json_array_append_new(notes, json_stringn(s, n));
        s = e ? e + 1 : NULL;
    }
    return json_pack("{s:b, s:o, s:o, s:o}", "executed", d->live, "accounts", accounts, "steps",
                     steps, "notes", notes);
}

int fl_act_darwin_users_apply(fl_act_plan *p, FILE *out, fl_error *err) {
    if (!p->dar->live)
        return FL_OK;
    return exec_list(&p->dar->users, out, err);
}

int fl_act_darwin_apply(fl_act_plan *p, FILE *out, fl_error *err) {
    if (!p->dar->live) {
        if (p->dar->apply.n) {
            fprintf(out, "  launchd jobs and defaults (%s):\n", not_live_reason(p->root));
            for (size_t i = 0; i < p->dar->apply.n; i++)
                print_cmd(&p->dar->apply.c[i], out, "    ");
        }
        return FL_OK;
    }
    return exec_list(&p->dar->apply, out, err);
}
