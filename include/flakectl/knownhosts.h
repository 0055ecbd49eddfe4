/* knownhosts.h - OpenSSH's known_hosts file and host patterns (src/util/knownhosts.c): used
 * by the SSH layer (src/remote) and by git fetches over SSH (src/flake), so it lives below
 * both. Needs no connection. */
#ifndef FLAKECTL_KNOWNHOSTS_H
#define FLAKECTL_KNOWNHOSTS_H

#include <stddef.h>

#include "flakectl/error.h"

/* OpenSSH pattern matching for one pattern: '*' and '?' wildcards, case-insensitive. */
int fl_ssh_pattern_match(const char *pattern, const char *s);

enum fl_known_host_result {
    FL_KNOWN_HOST_MATCH = 0,   /* a line names the host with this very key */
    FL_KNOWN_HOST_UNKNOWN = 1, /* no line names the host with a key of this type */
    FL_KNOWN_HOST_CHANGED = 2, /* a line names the host with another key of this type */
    FL_KNOWN_HOST_REVOKED = 3, /* the key is listed under @revoked */
};

typedef struct fl_known_host_check {
    int result;   /* enum fl_known_host_result */
    int line;     /* the line that matched or conflicts (1-based), 0 when none */
    char **types; /* key types known for the host (for host-key algorithm preference) */
    int ntypes;
} fl_known_host_check;

/* The name known_hosts uses: "host" for port 22, "[host]:port" otherwise. Owned. */
char *fl_known_hosts_name(const char *host, int port);
/* Checks key (the raw SSH blob, whose type is its first string) for host/port against the
 * OpenSSH known_hosts file at path (plain, hashed "|1|" and "[host]:port" entries, comma
 * lists, wildcards and negations, @revoked). A missing file means every key is unknown.
 * key may be NULL to collect only the key types known for the host. */
int fl_known_hosts_check(const char *path, const char *host, int port, const unsigned char *key,
                         size_t keylen, fl_known_host_check *out, fl_error *err);
void fl_known_host_check_release(fl_known_host_check *c);
/* Appends "name type base64" for key to path, rewriting the whole file atomically (mode
 * 0600 when new; the directory is created 0700). hashed: write a "|1|salt|hash" name. */
int fl_known_hosts_add(const char *path, const char *host, int port, const unsigned char *key,
                       size_t keylen, int hashed, fl_error *err);
/* "SHA256:<base64 without padding>" of a key blob, as ssh-keygen -l prints. Owned. */
char *fl_ssh_fingerprint(const unsigned char *key, size_t keylen);
/* The key type named inside a key blob ("ssh-ed25519"...). Owned; NULL if malformed. */
char *fl_ssh_key_type(const unsigned char *key, size_t keylen);

#endif
