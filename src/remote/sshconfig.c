/* sshconfig.c - reads OpenSSH client config (~/.ssh/config) for the few keywords flakectl
 * honours, with OpenSSH's rules: Host patterns, the first value obtained wins, IdentityFile
 * accumulates. It only reads; it never writes a user's ssh files. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/remote.h"
#include "flakectl/strbuf.h"

#define MAX_INCLUDE_DEPTH 16

static const char *home_dir(void) {
    const char *h = getenv("HOME");
    if (h && *h)
        return h;
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_dir : "/";
}

static const char *local_user(void) {
    const char *u = getenv("USER");
    if (u && *u)
        return u;
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_name : "root";
}

char *fl_ssh_expand_home(const char *path) {
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0'))
        return fl_xasprintf("%s%s", home_dir(), path + 1);
    return fl_xstrdup(path);
}

/* A Host line matches when some positive pattern matches and no negated one does. */
static int host_line_matches(char **args, int nargs, const char *host) {
    int hit = 0;
    for (int i = 0; i < nargs; i++) {
        if (args[i][0] == '!') {
            if (fl_ssh_pattern_match(args[i] + 1, host))
                return 0;
        } else if (fl_ssh_pattern_match(args[i], host)) {
            hit = 1;
        }
    }
    return hit;
}

/* Splits a line's arguments: whitespace separated, "double quotes" group. Returns the count;
 * args are owned by the caller (free_args). */
static int split_args(const char *s, char ***out) {
    char **args = NULL;
    int n = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        fl_strbuf sb;
        fl_strbuf_init(&sb, 16);
        if (*s == '"') {
            s++;
            while (*s && *s != '"')
                fl_strbuf_addch(&sb, *s++);
            if (*s == '"')
                s++;
        } else {
            while (*s && *s != ' ' && *s != '\t')
                fl_strbuf_addch(&sb, *s++);
        }
        args = fl_xrealloc(args, sizeof(char *) * (size_t)(n + 1));
        args[n++] = fl_strbuf_detach(&sb, NULL);
    }
    *out = args;
    return n;
}

static void free_args(char **args, int n) {
    for (int i = 0; i < n; i++)
        free(args[i]);
    free(args);
}

static int yes(const char *v) {
    return !strcasecmp(v, "yes") || !strcasecmp(v, "true");
}

typedef struct lookup {
    const char *host;
    fl_ssh_host_config *c;
    char **raw_ids; /* IdentityFile values before % expansion */
    int nraw;
    int depth;
    const char *include_base; /* where a relative Include points: ~/.ssh or /etc/ssh */
} lookup;

static int read_config(lookup *lk, const char *path, int *active, fl_error *err);

static int apply_keyword(lookup *lk, const char *path, int lineno, const char *kw, char **args,
                         int nargs, int *active, fl_error *err) {
    fl_ssh_host_config *c = lk->c;
    if (!strcasecmp(kw, "Host")) {
        *active = host_line_matches(args, nargs, lk->host);
        return 0;
    }
    if (!strcasecmp(kw, "Match")) {
        /* Match criteria (exec, canonical, ...) are not evaluated: such a block never
         * applies. Documented in docs/remote.md. */
        *active = 0;
        return 0;
    }
    if (!strcasecmp(kw, "Include")) {
        if (!*active)
            return 0;
        if (lk->depth >= MAX_INCLUDE_DEPTH) {
            fl_error_set(err, FL_EPARSE, "ssh config Include nested too deeply");
            fl_error_set_loc(err, path, lineno, 0);
            return FL_EPARSE;
        }
        for (int i = 0; i < nargs; i++) {
            char *pat = args[i][0] == '/' || args[i][0] == '~'
                            ? fl_ssh_expand_home(args[i])
                            : fl_xasprintf("%s/%s", lk->include_base, args[i]);
            glob_t g;
            if (glob(pat, 0, NULL, &g) == 0) {
                for (size_t k = 0; k < g.gl_pathc; k++) {
                    /* an included file's Host lines do not leak out of it */
                    int inner = 1;
                    lk->depth++;
                    int rc = read_config(lk, g.gl_pathv[k], &inner, err);
                    lk->depth--;
                    if (rc < 0) {
                        globfree(&g);
                        free(pat);
                        return rc;
                    }
                }
                globfree(&g);
            }
            free(pat);
        }
        return 0;
    }
    if (!*active || nargs < 1)
        return 0;
    if (!strcasecmp(kw, "HostName")) {
        if (!c->hostname)
            c->hostname = fl_xstrdup(args[0]);
    } else if (!strcasecmp(kw, "User")) {
        if (!c->user)
            c->user = fl_xstrdup(args[0]);
    } else if (!strcasecmp(kw, "Port")) {
        if (!c->port) {
            char *end;
            long p = strtol(args[0], &end, 10);
            if (*end || p < 1 || p > 65535) {
                fl_error_set(err, FL_EPARSE, "bad Port '%s' in ssh config", args[0]);
                fl_error_set_loc(err, path, lineno, 0);
                fl_error_set_hint(err, "a port is a number from 1 to 65535");
                return FL_EPARSE;
            }
            c->port = (int)p;
        }
    } else if (!strcasecmp(kw, "IdentityFile")) {
        lk->raw_ids = fl_xrealloc(lk->raw_ids, sizeof(char *) * (size_t)(lk->nraw + 1));
        lk->raw_ids[lk->nraw++] = fl_xstrdup(args[0]);
    } else if (!strcasecmp(kw, "IdentitiesOnly")) {
        if (c->identities_only < 0)
            c->identities_only = yes(args[0]);
    } else if (!strcasecmp(kw, "HashKnownHosts")) {
        if (c->hash_known_hosts < 0)
            c->hash_known_hosts = yes(args[0]);
    } else if (!strcasecmp(kw, "ConnectTimeout")) {
        if (!c->connect_timeout)
            c->connect_timeout = atoi(args[0]) > 0 ? atoi(args[0]) : 0;
    } else if (!strcasecmp(kw, "ServerAliveInterval")) {
        if (!c->server_alive_interval)
            c->server_alive_interval = atoi(args[0]) > 0 ? atoi(args[0]) : 0;
    } else if (!strcasecmp(kw, "UserKnownHostsFile")) {
        if (!c->user_known_hosts_file)
            c->user_known_hosts_file = fl_ssh_expand_home(args[0]);
    }
    return 0;
}

static int read_config(lookup *lk, const char *path, int *active, fl_error *err) {
    char *data = NULL;
    size_t len = 0;
    /* a missing config is an empty one; an unreadable one is an error */
    if (access(path, F_OK) < 0 && errno == ENOENT)
        return 0;
    if (fl_read_file(path, &data, &len, err) < 0)
        return FL_EIO;
    int lineno = 0, rc = 0;
    for (char *line = data, *next; line && rc == 0; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            line[--n] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            continue;
        char *kw = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '=')
            s++;
        char kwbuf[64];
        size_t kwlen = (size_t)(s - kw);
        if (kwlen >= sizeof kwbuf)
            continue;
        memcpy(kwbuf, kw, kwlen);
        kwbuf[kwlen] = '\0';
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '=')
            s++;
        char **args;
        int nargs = split_args(s, &args);
        rc = apply_keyword(lk, path, lineno, kwbuf, args, nargs, active, err);
        free_args(args, nargs);
    }
    free(data);
    return rc;
}

/* Expands %% %d %u %h %r %p in an IdentityFile value, as ssh does after reading the config. */
static char *expand_tokens(const char *v, const fl_ssh_host_config *c, const char *host) {
    char *tilde = fl_ssh_expand_home(v);
    fl_strbuf sb;
    fl_strbuf_init(&sb, strlen(tilde) + 16);
    for (const char *s = tilde; *s; s++) {
        if (*s != '%' || !s[1]) {
            fl_strbuf_addch(&sb, *s);
            continue;
        }
        s++;
        switch (*s) {
        case '%':
            fl_strbuf_addch(&sb, '%');
            break;
        case 'd':
            fl_strbuf_adds(&sb, home_dir());
            break;
        case 'u':
            fl_strbuf_adds(&sb, local_user());
            break;
        case 'h':
            fl_strbuf_adds(&sb, c->hostname ? c->hostname : host);
            break;
        case 'r':
            fl_strbuf_adds(&sb, c->user ? c->user : local_user());
            break;
        case 'p':
            fl_strbuf_addf(&sb, "%d", c->port ? c->port : 22);
            break;
        default:
            fl_strbuf_addch(&sb, '%');
            fl_strbuf_addch(&sb, *s);
        }
    }
    free(tilde);
    return fl_strbuf_detach(&sb, NULL);
}

int fl_ssh_config_lookup(const char *path, const char *host, fl_ssh_host_config *out,
                         fl_error *err) {
    memset(out, 0, sizeof *out);
    out->identities_only = -1;
    out->hash_known_hosts = -1;
    char *user_dir = fl_xasprintf("%s/.ssh", home_dir());
    lookup lk = {host, out, NULL, 0, 0, user_dir};
    char *own = path ? NULL : fl_xasprintf("%s/config", user_dir);
    int active = 1; /* lines before any Host apply to every host */
    int rc = read_config(&lk, path ? path : own, &active, err);
    if (rc == 0 && !path) {
        /* as ssh without -F: the system-wide file after the user's (first value wins) */
        const char *sys = getenv("FLAKECTL_SSH_SYSTEM_CONFIG");
        lk.include_base = "/etc/ssh";
        active = 1;
        rc = read_config(&lk, sys ? sys : "/etc/ssh/ssh_config", &active, err);
    }
    free(own);
    free(user_dir);
    if (rc == 0 && out->hostname) {
        /* HostName may say %h for the name given */
        char *h = out->hostname;
        fl_strbuf sb;
        fl_strbuf_init(&sb, strlen(h));
        for (const char *s = h; *s; s++) {
            if (s[0] == '%' && s[1] == 'h') {
                fl_strbuf_adds(&sb, host);
                s++;
            } else if (s[0] == '%' && s[1] == '%') {
                fl_strbuf_addch(&sb, '%');
                s++;
            } else {
                fl_strbuf_addch(&sb, *s);
            }
        }
        free(h);
        out->hostname = fl_strbuf_detach(&sb, NULL);
    }
    if (rc == 0) {
        out->identity_files = lk.nraw ? fl_xcalloc((size_t)lk.nraw, sizeof(char *)) : NULL;
        for (int i = 0; i < lk.nraw; i++)
            out->identity_files[i] = expand_tokens(lk.raw_ids[i], out, host);
        out->nidentity_files = lk.nraw;
    }
    for (int i = 0; i < lk.nraw; i++)
        free(lk.raw_ids[i]);
    free(lk.raw_ids);
    if (out->identities_only < 0)
        out->identities_only = 0;
    if (out->hash_known_hosts < 0)
        out->hash_known_hosts = 0;
    if (rc < 0)
        fl_ssh_host_config_release(out);
    return rc;
}

void fl_ssh_host_config_release(fl_ssh_host_config *c) {
    free(c->hostname);
    free(c->user);
    for (int i = 0; i < c->nidentity_files; i++)
        free(c->identity_files[i]);
    free(c->identity_files);
    free(c->user_known_hosts_file);
    memset(c, 0, sizeof *c);
}
