/* ssh.c - one authenticated libssh2 connection to a target: target parsing, ssh config,
 * TCP connect with a timeout, host-key verification against known_hosts, and public-key
 * authentication. It never trusts a host key the user has not trusted (or opted in to with
 * accept_new), never asks for passwords, and never prints: errors go into fl_error. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>

#include "flakectl/clock.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"
#include "remote/internal.h"

/* ---- targets ---- */

static int parse_port(const char *s, int *port) {
    char *end;
    errno = 0;
    long p = strtol(s, &end, 10);
    if (!*s || *end || errno || p < 1 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

int fl_remote_target_parse(const char *spec, fl_remote_target *t, fl_error *err) {
    memset(t, 0, sizeof *t);
    const char *at = strrchr(spec, '@');
    const char *hp = spec;
    if (at) {
        if (at == spec)
            goto bad;
        t->user = fl_xstrndup(spec, (size_t)(at - spec));
        hp = at + 1;
    }
    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        if (!close || close == hp + 1)
            goto bad;
        t->host = fl_xstrndup(hp + 1, (size_t)(close - hp - 1));
        if (close[1] == ':') {
            if (parse_port(close + 2, &t->port) < 0)
                goto badport;
        } else if (close[1]) {
            goto bad;
        }
    } else {
        const char *colon = strchr(hp, ':');
        if (colon && strchr(colon + 1, ':')) {
            t->host = fl_xstrdup(hp); /* a bare IPv6 address: no port */
        } else if (colon) {
            t->host = fl_xstrndup(hp, (size_t)(colon - hp));
            if (parse_port(colon + 1, &t->port) < 0)
                goto badport;
        } else {
            t->host = fl_xstrdup(hp);
        }
    }
    if (!t->host[0] || strpbrk(t->host, " \t/"))
        goto bad;
    return 0;
badport:
    fl_remote_target_release(t);
    fl_error_set(err, FL_EUSAGE, "bad port in target '%s'", spec);
    fl_error_set_hint(err, "a port is a number from 1 to 65535, e.g. root@node1:2222");
    return FL_EUSAGE;
bad:
    fl_remote_target_release(t);
    fl_error_set(err, FL_EUSAGE, "bad target '%s'", spec);
    fl_error_set_hint(err, "write user@host, user@host:port or user@[v6addr]:port");
    return FL_EUSAGE;
}

void fl_remote_target_release(fl_remote_target *t) {
    free(t->user);
    free(t->host);
    memset(t, 0, sizeof *t);
}

/* ---- libssh2 process state ---- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;
static void do_init(void) {
    init_rc = libssh2_init(0);
}

static const char *ssh_msg(LIBSSH2_SESSION *s) {
    char *msg = NULL;
    libssh2_session_last_error(s, &msg, NULL, 0);
    return msg && *msg ? msg : "unknown libssh2 error";
}

const char *fl_remote_label(const fl_remote *r) {
    return r->label;
}

void fl_remote_set_label(fl_remote *r, const char *label) {
    char *l = fl_xstrdup(label);
    free(r->label);
    r->label = l;
}
const char *fl_remote_user(const fl_remote *r) {
    return r->user;
}
const char *fl_remote_hostname(const fl_remote *r) {
    return r->hostname;
}
int fl_remote_port(const fl_remote *r) {
    return r->port;
}
const char *fl_remote_added_host_key(const fl_remote *r) {
    return r->added_key_fp;
}

void fl_remote_mark_dead(fl_remote *r) {
    /* libssh2 would wait for close replies that never come, and give up with the session
     * half freed; a shut socket makes every such wait fail at once */
    if (!r->dead && r->sock >= 0)
        shutdown(r->sock, SHUT_RDWR);
    r->dead = 1;
}

void fl_remote_close(fl_remote *r) {
    if (!r)
        return;
    if (r->session) {
        libssh2_session_set_blocking(r->session, 1);
        /* a short timeout: a dead peer must not hold up the exit */
        libssh2_session_set_timeout(r->session, 2000);
        if (r->handshaken && !r->dead)
            libssh2_session_disconnect(r->session, "flakectl done");
        libssh2_session_free(r->session);
    }
    if (r->sock >= 0)
        close(r->sock);
    free(r->user);
    free(r->hostname);
    free(r->label);
    free(r->known_hosts);
    free(r->added_key_fp);
    fl_remote_set_sudo(r, 0, NULL);
    free(r);
}

/* ---- TCP ---- */

static int connect_one(const struct addrinfo *ai, int timeout_ms, int *err_out) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        *err_out = errno;
        return -1;
    }
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) {
            *err_out = errno;
            close(fd);
            return -1;
        }
        struct pollfd p = {fd, POLLOUT, 0};
        int n;
        do
            n = poll(&p, 1, timeout_ms);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
            *err_out = ETIMEDOUT;
            close(fd);
            return -1;
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr) {
            *err_out = soerr;
            close(fd);
            return -1;
        }
    }
    fcntl(fd, F_SETFL, flags);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    return fd;
}

static int tcp_connect(fl_remote *r, const char *via, int timeout_ms, fl_error *err) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", r->port);
    int gai = getaddrinfo(r->hostname, portstr, &hints, &res);
    if (gai != 0) {
        fl_error_set(err, FL_ENET, "cannot resolve host name '%s'%s%s%s: %s", r->hostname,
                     via ? " (HostName of '" : "", via ? via : "", via ? "' in ssh config)" : "",
                     gai_strerror(gai));
        fl_error_set_hint(err, "check the spelling, your DNS, or give an address "
                               "(user@192.0.2.10) or a HostName in ~/.ssh/config");
        return FL_ENET;
    }
    int last = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int e = 0;
        r->sock = connect_one(ai, timeout_ms, &e);
        if (r->sock >= 0)
            break;
        /* refused beats timeout beats the rest: it is the most telling */
        if (!last || e == ECONNREFUSED || (e == ETIMEDOUT && last != ECONNREFUSED))
            last = e;
    }
    freeaddrinfo(res);
    if (r->sock >= 0)
        return 0;
    if (last == ECONNREFUSED) {
        fl_error_set(err, FL_ENET, "connection refused by %s port %d", r->hostname, r->port);
        fl_error_set_hint(err,
                          "is sshd running on %s and listening on port %d? (a wrong port "
                          "in the target or in ~/.ssh/config gives this too)",
                          r->hostname, r->port);
    } else if (last == ETIMEDOUT) {
        fl_error_set(err, FL_ENET, "no answer from %s port %d within %d s (connect timeout)",
                     r->hostname, r->port, (timeout_ms + 999) / 1000);
        fl_error_set_hint(err,
                          "is the host up and reachable from here? a firewall dropping "
                          "port %d looks the same",
                          r->port);
    } else if (last == ENETUNREACH || last == EHOSTUNREACH) {
        fl_error_set(err, FL_ENET, "%s is unreachable (%s)", r->hostname, strerror(last));
        fl_error_set_hint(err, "check the network path to %s (routes, VPN)", r->hostname);
    } else {
        fl_error_set(err, FL_ENET, "cannot connect to %s port %d: %s", r->hostname, r->port,
                     strerror(last));
    }
    return FL_ENET;
}

/* ---- host keys ---- */

/* Host-key algorithms, the ones known_hosts already holds for this host first (as OpenSSH
 * does), so a server with several host keys is checked against the one the user trusts. */
static int in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p && (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

/* Adds each name of the comma list `names` that libssh2 supports and `sb` lacks: libssh2
 * 1.10 removes unsupported names itself with an overlapping memcpy, so it must never see
 * one. */
static void add_methods(fl_strbuf *sb, const char *names, const char **supported, int nsupported) {
    char *copy = fl_xstrdup(names);
    for (char *p = copy, *next; p; p = next) {
        next = strchr(p, ',');
        if (next)
            *next++ = '\0';
        int ok = 0;
        for (int i = 0; i < nsupported; i++)
            ok = ok || !strcmp(supported[i], p);
        if (!ok || in_list(sb->buf, p))
            continue;
        if (sb->len)
            fl_strbuf_addch(sb, ',');
        fl_strbuf_adds(sb, p);
    }
    free(copy);
}

static char *hostkey_prefs(LIBSSH2_SESSION *session, const fl_known_host_check *known) {
    static const char *const defaults[] = {
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "rsa-sha2-512",
        "rsa-sha2-256",
        "ssh-rsa",
    };
    const char **supported = NULL;
    int nsupported = libssh2_session_supported_algs(session, LIBSSH2_METHOD_HOSTKEY, &supported);
    if (nsupported <= 0)
        return NULL;
    fl_strbuf sb;
    fl_strbuf_init(&sb, 128);
    for (int i = 0; i < known->ntypes; i++) {
        const char *t = known->types[i];
        add_methods(&sb, !strcmp(t, "ssh-rsa") ? "rsa-sha2-512,rsa-sha2-256,ssh-rsa" : t, supported,
                    nsupported);
    }
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        add_methods(&sb, defaults[i], supported, nsupported);
    libssh2_free(session, supported);
    return fl_strbuf_detach(&sb, NULL);
}

static int check_host_key(fl_remote *r, int accept_new, int hashed, fl_error *err) {
    size_t keylen = 0;
    int type = 0;
    const char *key = libssh2_session_hostkey(r->session, &keylen, &type);
    if (!key)
        return fl_error_set(err, FL_ECRYPTO, "%s sent no host key: %s", r->label,
                            ssh_msg(r->session));
    const unsigned char *k = (const unsigned char *)key;
    fl_known_host_check c;
    int rc = fl_known_hosts_check(r->known_hosts, r->hostname, r->port, k, keylen, &c, err);
    if (rc < 0)
        return rc;
    char *fp = fl_ssh_fingerprint(k, keylen);
    char *ktype = fl_ssh_key_type(k, keylen);
    char *name = fl_known_hosts_name(r->hostname, r->port);
    switch (c.result) {
    case FL_KNOWN_HOST_MATCH:
        break;
    case FL_KNOWN_HOST_UNKNOWN:
        if (accept_new) {
            rc = fl_known_hosts_add(r->known_hosts, r->hostname, r->port, k, keylen, hashed, err);
            if (rc == 0)
                r->added_key_fp = fl_xasprintf("%s %s", ktype, fp);
            break;
        }
        rc = fl_error_set(err, FL_ECRYPTO, "the host key of %s is not known: %s %s (not in %s)",
                          name, ktype, fp, r->known_hosts);
        fl_error_set_hint(err,
                          "compare the fingerprint with the host's own (on the host: ssh-keygen "
                          "-lf /etc/ssh/ssh_host_%s_key.pub); if it is the same, run again with "
                          "--accept-new-host-key to add it to %s",
                          !strncmp(ktype, "ssh-", 4)    ? ktype + 4
                          : !strncmp(ktype, "ecdsa", 5) ? "ecdsa"
                                                        : ktype,
                          r->known_hosts);
        break;
    case FL_KNOWN_HOST_CHANGED:
        rc = fl_error_set(err, FL_ECRYPTO,
                          "THE HOST KEY OF %s HAS CHANGED: it now sends %s %s, but %s line %d "
                          "holds another %s key for it. Someone may be intercepting the "
                          "connection, or the host was reinstalled. Refusing to connect.",
                          name, ktype, fp, r->known_hosts, c.line, ktype);
        fl_error_set_loc(err, r->known_hosts, c.line, 0);
        fl_error_set_hint(err,
                          "if you know the host was reinstalled, delete line %d of %s (or run "
                          "ssh-keygen -R '%s' -f %s) and connect again with "
                          "--accept-new-host-key",
                          c.line, r->known_hosts, name, r->known_hosts);
        break;
    case FL_KNOWN_HOST_REVOKED:
        rc = fl_error_set(err, FL_ECRYPTO, "the host key of %s (%s %s) is marked @revoked in %s",
                          name, ktype, fp, r->known_hosts);
        fl_error_set_loc(err, r->known_hosts, c.line, 0);
        fl_error_set_hint(err, "this key must not be trusted; ask the host's administrator");
        break;
    }
    free(fp);
    free(ktype);
    free(name);
    fl_known_host_check_release(&c);
    return rc;
}

/* ---- authentication ---- */

typedef struct auth_log {
    fl_strbuf tried; /* "  - what: result\n" lines for the error */
    fl_strbuf files; /* "\n"-separated key files already tried (no key twice) */
} auth_log;

static void note(auth_log *log, const char *what, const char *result) {
    fl_strbuf_addf(&log->tried, "\n         - %s: %s", what, result);
}

/* 1 = authenticated, 0 = not (go on), <0 = the session is gone. */
static int try_key_file(fl_remote *r, const char *path, const char *why, auth_log *log) {
    char *line = fl_xasprintf("\n%s\n", path);
    int seen = log->files.len && strstr(log->files.buf, line);
    free(line);
    if (seen)
        return 0;
    fl_strbuf_addf(&log->files, "\n%s\n", path);
    char *what = fl_xasprintf("%s %s", why, path);
    if (access(path, R_OK) < 0) {
        note(log, what, errno == ENOENT ? "no such file" : strerror(errno));
        free(what);
        return 0;
    }
    char *pub = fl_xasprintf("%s.pub", path);
    int rc =
        libssh2_userauth_publickey_fromfile_ex(r->session, r->user, (unsigned int)strlen(r->user),
                                               access(pub, R_OK) == 0 ? pub : NULL, path, NULL);
    free(pub);
    if (rc == 0) {
        free(what);
        return 1;
    }
    if (rc == LIBSSH2_ERROR_FILE)
        note(log, what,
             "cannot load it (passphrase-protected or an unsupported format; load "
             "it into ssh-agent instead)");
    else if (rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED || rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED)
        note(log, what, "rejected by the server");
    else
        note(log, what, ssh_msg(r->session));
    free(what);
    if (rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_SEND ||
        rc == LIBSSH2_ERROR_SOCKET_RECV || rc == LIBSSH2_ERROR_TIMEOUT)
        return -1;
    return 0;
}

static int try_agent(fl_remote *r, auth_log *log) {
    const char *sock = getenv("SSH_AUTH_SOCK");
    if (!sock || !*sock) {
        note(log, "ssh-agent", "not used (SSH_AUTH_SOCK is not set)");
        return 0;
    }
    LIBSSH2_AGENT *agent = libssh2_agent_init(r->session);
    if (!agent)
        return 0;
    int result = 0, nkeys = 0;
    if (libssh2_agent_connect(agent) != 0) {
        char *m = fl_xasprintf("cannot connect to %s", sock);
        note(log, "ssh-agent", m);
        free(m);
    } else if (libssh2_agent_list_identities(agent) != 0) {
        note(log, "ssh-agent", "cannot list its keys");
    } else {
        struct libssh2_agent_publickey *id = NULL, *prev = NULL;
        while (libssh2_agent_get_identity(agent, &id, prev) == 0) {
            nkeys++;
            int rc = libssh2_agent_userauth(agent, r->user, id);
            if (rc == 0) {
                result = 1;
                break;
            }
            char *what = fl_xasprintf("ssh-agent key %s",
                                      id->comment && *id->comment ? id->comment : "(no comment)");
            note(log, what, "rejected by the server");
            free(what);
            if (rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_SEND ||
                rc == LIBSSH2_ERROR_SOCKET_RECV) {
                result = -1;
                break;
            }
            prev = id;
        }
        if (nkeys == 0)
            note(log, "ssh-agent", "holds no keys");
        libssh2_agent_disconnect(agent);
    }
    libssh2_agent_free(agent);
    return result;
}

static int authenticate(fl_remote *r, const fl_remote_opts *opts, const fl_ssh_host_config *cfg,
                        fl_error *err) {
    char *methods = libssh2_userauth_list(r->session, r->user, (unsigned int)strlen(r->user));
    if (!methods) {
        if (libssh2_userauth_authenticated(r->session))
            return 0; /* "none" authentication was accepted */
        return fl_error_set(err, FL_ENET, "%s closed the connection during authentication: %s",
                            r->label, ssh_msg(r->session));
    }
    if (!strstr(methods, "publickey")) {
        fl_error_set(err, FL_ENET, "%s does not accept public keys for %s (it offers: %s)",
                     r->label, r->user, methods);
        fl_error_set_hint(err, "flakectl authenticates with keys only; enable PubkeyAuthentication "
                               "in the host's sshd_config");
        return FL_ENET;
    }
    auth_log log;
    fl_strbuf_init(&log.tried, 256);
    fl_strbuf_init(&log.files, 256);
    int ok = 0;
    if (opts->identity_file) {
        char *p = fl_ssh_expand_home(opts->identity_file);
        ok = try_key_file(r, p, "-i", &log);
        free(p);
    }
    /* IdentitiesOnly: the agent's keys are skipped, as OpenSSH does (it would offer only
     * agent keys that match an IdentityFile; we try those files directly) */
    if (ok == 0 && !cfg->identities_only)
        ok = try_agent(r, &log);
    for (int i = 0; ok == 0 && i < cfg->nidentity_files; i++)
        ok = try_key_file(r, cfg->identity_files[i], "IdentityFile", &log);
    static const char *const defaults[] = {"~/.ssh/id_ed25519", "~/.ssh/id_rsa", "~/.ssh/id_ecdsa"};
    for (size_t i = 0; ok == 0 && i < sizeof defaults / sizeof defaults[0]; i++) {
        char *p = fl_ssh_expand_home(defaults[i]);
        ok = try_key_file(r, p, "default key", &log);
        free(p);
    }
    if (ok != 1) {
        fl_error_set(err, FL_ENET, "authentication as %s on %s failed; tried:%s", r->user, r->label,
                     log.tried.len ? log.tried.buf : "\n         - nothing: no key found");
        fl_error_set_hint(err,
                          "add your public key to ~%s/.ssh/authorized_keys on the host, "
                          "or name the right key with -i KEY (or ssh-add it)",
                          r->user);
    }
    fl_strbuf_release(&log.tried);
    fl_strbuf_release(&log.files);
    return ok == 1 ? 0 : FL_ENET;
}

/* ---- connect ---- */

static ssize_t counting_recv(libssh2_socket_t fd, void *buf, size_t len, int flags,
                             void **abstract) {
    fl_remote *r = *abstract;
    ssize_t n = recv(fd, buf, len, flags);
    if (n < 0)
        return -errno; /* what libssh2's own receive function returns */
    if (n > 0)
        r->last_rx_ms = (long)fl_now_ms();
    return n;
}

static char *local_user_name(void) {
    const char *u = getenv("USER");
    if (u && *u)
        return fl_xstrdup(u);
    struct passwd *pw = getpwuid(getuid());
    return fl_xstrdup(pw ? pw->pw_name : "root");
}

int fl_remote_connect(const fl_remote_target *target, const fl_remote_opts *opts, fl_remote **out,
                      fl_error *err) {
    static const fl_remote_opts none = {0};
    if (!opts)
        opts = &none;
    *out = NULL;
    pthread_once(&init_once, do_init);
    if (init_rc != 0)
        return fl_error_set(err, FL_ECRYPTO, "libssh2 failed to initialise");

    fl_ssh_host_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (!opts->ssh_config || strcmp(opts->ssh_config, "none") != 0) {
        int rc = fl_ssh_config_lookup(opts->ssh_config, target->host, &cfg, err);
        if (rc < 0)
            return rc;
    }
    fl_remote *r = fl_xcalloc(1, sizeof *r);
    r->sock = -1;
    r->hostname = fl_xstrdup(cfg.hostname ? cfg.hostname : target->host);
    r->user = target->user ? fl_xstrdup(target->user)
              : cfg.user   ? fl_xstrdup(cfg.user)
                           : local_user_name();
    r->port = target->port ? target->port : cfg.port ? cfg.port : 22;
    r->label = opts->label     ? fl_xstrdup(opts->label)
               : r->port == 22 ? fl_xasprintf("%s@%s", r->user, target->host)
                               : fl_xasprintf("%s@%s:%d", r->user, target->host, r->port);
    r->known_hosts = opts->known_hosts           ? fl_ssh_expand_home(opts->known_hosts)
                     : cfg.user_known_hosts_file ? fl_xstrdup(cfg.user_known_hosts_file)
                                                 : fl_ssh_expand_home("~/.ssh/known_hosts");
    int timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
                     : cfg.connect_timeout > 0    ? cfg.connect_timeout * 1000
                                                  : 10000;
    r->keepalive_s = opts->keepalive_s < 0           ? 0
                     : opts->keepalive_s > 0         ? opts->keepalive_s
                     : cfg.server_alive_interval > 0 ? cfg.server_alive_interval
                                                     : 15;
    int rc = tcp_connect(r, cfg.hostname ? target->host : NULL, timeout_ms, err);
    if (rc < 0)
        goto fail;
    if (r->keepalive_s > 0) {
        /* a peer that stops acknowledging our keepalives is declared dead after 3 intervals
         * (OpenSSH's ServerAliveCountMax default) instead of TCP's many minutes */
        unsigned int ut = (unsigned int)r->keepalive_s * 3000u;
        setsockopt(r->sock, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof ut);
    }

    r->session = libssh2_session_init_ex(NULL, NULL, NULL, r);
    if (!r->session) {
        rc = fl_error_set(err, FL_ENET, "cannot create an SSH session");
        goto fail;
    }
    /* every byte from the peer passes here, so exec can tell a peer that stopped answering
     * keepalives (libssh2 sends them but does not watch the replies) */
    libssh2_session_callback_set(r->session, LIBSSH2_CALLBACK_RECV, (void *)counting_recv);
    libssh2_session_set_blocking(r->session, 1);
    libssh2_session_set_timeout(r->session, (long)timeout_ms);
    fl_known_host_check known;
    rc = fl_known_hosts_check(r->known_hosts, r->hostname, r->port, NULL, 0, &known, err);
    if (rc < 0)
        goto fail;
    char *prefs = hostkey_prefs(r->session, &known);
    fl_known_host_check_release(&known);
    if (prefs && *prefs)
        libssh2_session_method_pref(r->session, LIBSSH2_METHOD_HOSTKEY, prefs);
    free(prefs);
    if (libssh2_session_handshake(r->session, r->sock) != 0) {
        int e = libssh2_session_last_errno(r->session);
        if (e == LIBSSH2_ERROR_TIMEOUT)
            rc = fl_error_set(err, FL_ENET,
                              "%s port %d accepted the connection but did not complete the SSH "
                              "handshake within %d s",
                              r->hostname, r->port, (timeout_ms + 999) / 1000);
        else
            rc = fl_error_set(err, FL_ENET, "SSH handshake with %s port %d failed: %s", r->hostname,
                              r->port, ssh_msg(r->session));
        fl_error_set_hint(err, "is an SSH server listening on port %d of %s?", r->port,
                          r->hostname);
        goto fail;
    }
    r->handshaken = 1;
    rc = check_host_key(r, opts->accept_new_host_key, cfg.hash_known_hosts, err);
    if (rc < 0)
        goto fail;
    rc = authenticate(r, opts, &cfg, err);
    if (rc < 0)
        goto fail;
    if (r->keepalive_s > 0)
        libssh2_keepalive_config(r->session, 1, (unsigned int)r->keepalive_s);
    fl_ssh_host_config_release(&cfg);
    *out = r;
    return 0;
fail:
    fl_error_add_frame(err, "while connecting to %s", r->label);
    fl_ssh_host_config_release(&cfg);
    fl_remote_close(r);
    return rc;
}

const char *fl_remote_known_hosts(const fl_remote *r) {
    return r->known_hosts;
}

#define mono_ms() ((long)fl_now_ms())

int fl_remote_connect_retry(const fl_remote_target *target, const fl_remote_opts *opts,
                            int within_ms, fl_remote **out, fl_error *err) {
    static const fl_remote_opts none = {0};
    if (!opts)
        opts = &none;
    long deadline = mono_ms() + within_ms;
    int attempts = 0;
    for (;;) {
        long left = deadline - mono_ms();
        fl_remote_opts o = *opts;
        int per_try = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000;
        o.connect_timeout_ms = left < per_try ? (int)(left > 100 ? left : 100) : per_try;
        fl_error_clear(err);
        attempts++;
        int rc = fl_remote_connect(target, &o, out, err);
        if (rc == 0)
            return 0;
        /* host-key trouble, a bad config or target: waiting does not help */
        if (rc != FL_ENET)
            return rc;
        left = deadline - mono_ms();
        if (left <= 0) {
            fl_error_add_frame(err, "gave up after %d attempt%s in %.1f s", attempts,
                               attempts == 1 ? "" : "s", within_ms / 1000.0);
            return rc;
        }
        struct timespec pause = {0, (left < 500 ? left : 500) * 1000000L};
        nanosleep(&pause, NULL);
    }
}
