/* internal.h - what the files of src/remote/ share and nobody else sees: the connection. */
#ifndef FLAKECTL_REMOTE_INTERNAL_H
#define FLAKECTL_REMOTE_INTERNAL_H

#include <libssh2.h>

#include "flakectl/remote.h"

struct fl_remote {
    int sock;
    LIBSSH2_SESSION *session;
    int handshaken;
    char *user;     /* the login name, after ssh config */
    char *hostname; /* what was connected to, after HostName */
    int port;
    char *label;         /* for messages and prefixes */
    char *known_hosts;   /* the known_hosts file checked (and appended to) */
    char *added_key_fp;  /* "type SHA256:..." when accept_new added the key, else NULL */
    int keepalive_s;     /* 0 = off */
    int dead;            /* the connection is known lost: no more waiting on it */
    long last_rx_ms;     /* monotonic ms of the last bytes received from the peer */
    int sudo;            /* --sudo: wrap commands of a non-root login in sudo */
    char *sudo_password; /* --sudo: asked once, fed to every step; NULL = none */
};

/* A command's stdin from memory: fl_remote_mem_read is an fl_remote_io stdin_cb. */
typedef struct fl_remote_mem_in {
    const char *data;
    size_t len, off;
} fl_remote_mem_in;
ssize_t fl_remote_mem_read(void *ctx, char *buf, size_t cap, fl_error *err);

/* Appends " --substituters URL ... --trusted-public-key KEY ..." (quoted) for a command run
 * on a target or build host; nothing when caches is NULL or empty. */
void fl_deploy_caches_args(struct fl_strbuf *cmd, const fl_deploy_caches *caches);

/* Marks the connection lost (and shuts its socket) so closing it never waits. */
void fl_remote_mark_dead(fl_remote *r);

#endif
