/* secret.h - the age v1 file format (X25519, post-quantum ML-KEM-768+X25519 and ssh-ed25519
 * recipients, scrypt for reading the conformance vectors), key files, and the file-level
 * operations behind `flakectl secret`. libsodium and OpenSSL underneath (ML-KEM is our own);
 * no plaintext ever goes to a log. */
#ifndef FLAKECTL_SECRET_H
#define FLAKECTL_SECRET_H

#include <stddef.h>
#include <sys/types.h>

#include <stdio.h>

#include <jansson.h>

#include "flakectl/error.h"

#define FL_AGE_SSH_WIRE_LEN 51 /* string "ssh-ed25519" + string <32-byte key> */

typedef enum fl_age_key_type {
    FL_AGE_X25519 = 1,  /* age1… / AGE-SECRET-KEY-1… */
    FL_AGE_SSH_ED25519, /* ssh-ed25519 public key / OpenSSH private key */
    FL_AGE_SCRYPT,      /* passphrase: decryption only, library level (test vectors) */
    FL_AGE_PQ,          /* age1pq1… / AGE-SECRET-KEY-PQ-1…: ML-KEM-768 + X25519 (X-Wing) */
} fl_age_key_type;

/* Why a decryption failed, in the words of the C2SP vectors. */
typedef enum fl_age_failure {
    FL_AGE_OK = 0,
    FL_AGE_NO_MATCH,    /* no identity opened any stanza */
    FL_AGE_HMAC,        /* the header MAC is wrong */
    FL_AGE_HEADER,      /* malformed header or stanza, missing nonce */
    FL_AGE_PAYLOAD,     /* a chunk failed to authenticate, truncation, trailing data */
    FL_AGE_ARMOR,       /* malformed ASCII armor */
    FL_AGE_UNSUPPORTED, /* well-formed but not supported here (passphrase files in the CLI) */
    FL_AGE_IO,          /* reading or writing failed */
} fl_age_failure;

typedef struct fl_age_recipient {
    fl_age_key_type type;
    unsigned char x25519[32];                    /* X25519 public key (ssh: converted) */
    unsigned char ssh_wire[FL_AGE_SSH_WIRE_LEN]; /* ssh-ed25519 only */
    unsigned char *pq; /* owned, FL_AGE_PQ only: the 1216-byte MLKEM768-X25519 public key */
    char *label; /* owned: where it came from, for messages ("-r age1…", "keys.txt:3") */
} fl_age_recipient;

typedef struct fl_age_identity {
    fl_age_key_type type;
    unsigned char secret[32]; /* X25519 scalar (ssh: converted from the Ed25519 seed; pq: the
                                 MLKEM768-X25519 seed) */
    unsigned char x25519[32]; /* its public key */
    unsigned char ssh_wire[FL_AGE_SSH_WIRE_LEN];
    char *passphrase; /* owned, scrypt only */
    char *source;     /* owned: the file it was read from, for messages */
} fl_age_identity;

/* A growable list of keys; release with the matching _release (secrets are wiped). */
typedef struct fl_age_recipients {
    fl_age_recipient *v;
    size_t n;
} fl_age_recipients;
typedef struct fl_age_identities {
    fl_age_identity *v;
    size_t n;
} fl_age_identities;

void fl_age_recipients_release(fl_age_recipients *r);
void fl_age_identities_release(fl_age_identities *ids);

/* Parses one recipient ("age1…" or "ssh-ed25519 AAAA… [comment]") and appends it. `where`
 * names its origin in errors (a file:line or "-r"). RSA and other key types are refused. */
int fl_age_recipient_add(fl_age_recipients *r, const char *text, const char *where, fl_error *err);
/* Appends every recipient of a recipients file (one per line, '#' comments, blank lines). */
int fl_age_recipients_add_file(fl_age_recipients *r, const char *path, fl_error *err);
/* Appends the identities of a file: AGE-SECRET-KEY-1… / AGE-SECRET-KEY-PQ-1… lines, or one
 * unencrypted OpenSSH ed25519 private key. Passphrase-protected, RSA and PEM keys are
 * refused by name. */
int fl_age_identities_add_file(fl_age_identities *ids, const char *path, fl_error *err);
/* The same for a file's content already read (NUL-terminated; split into lines in place,
 * the caller wipes and frees it); path names it in errors. */
int fl_age_identities_add_data(fl_age_identities *ids, char *data, const char *path, fl_error *err);
/* Appends one AGE-SECRET-KEY-1… or AGE-SECRET-KEY-PQ-1… string (`source` names it in
 * errors). */
int fl_age_identity_add_string(fl_age_identities *ids, const char *text, const char *source,
                               fl_error *err);
/* Appends a passphrase identity (decrypts scrypt stanzas; library use only). */
void fl_age_identity_add_passphrase(fl_age_identities *ids, const char *passphrase);
/* The recipient string ("age1…" or "ssh-ed25519 AAAA…") that an identity opens; owned. */
char *fl_age_identity_recipient(const fl_age_identity *id);

/* A fresh X25519 key pair: *secret gets "AGE-SECRET-KEY-1…", *public "age1…" (both owned). */
void fl_age_keygen(char **secret, char **public_key);
/* A fresh post-quantum hybrid pair: "AGE-SECRET-KEY-PQ-1…" and "age1pq1…" (both owned).
 * Fails only when OpenSSL's SHA-3 does. */
int fl_age_keygen_pq(char **secret, char **public_key, fl_error *err);

/* Receives output bytes; returns 0 or a negative FL_E* code with err filled. */
typedef int (*fl_age_sink)(void *ctx, const unsigned char *data, size_t len, fl_error *err);

/* A sink writing to a file descriptor; ctx points at an fl_age_fd_sink. */
typedef struct fl_age_fd_sink {
    int fd;
    const char *name; /* for messages */
} fl_age_fd_sink;
int fl_age_fd_sink_write(void *ctx, const unsigned char *data, size_t len, fl_error *err);

enum { FL_AGE_ARMOR_AUTO = 0, FL_AGE_ARMOR_NO, FL_AGE_ARMOR_YES };

/* Encrypts everything readable from in_fd to the recipients; the age file goes to sink,
 * ASCII-armored when armor is set. in_name names the input in errors. */
int fl_age_encrypt_fd(int in_fd, const char *in_name, const fl_age_recipients *r, int armor,
                      fl_age_sink sink, void *sink_ctx, fl_error *err);

/* Decrypts the age file readable from in_fd. Plaintext goes to sink one authenticated
 * 64 KiB chunk at a time (never a byte before its chunk authenticated); on failure some
 * authenticated chunks may already have been passed, and *failure (may be NULL) says why.
 * armor_mode: FL_AGE_ARMOR_AUTO detects "-----BEGIN", _YES insists, _NO refuses. */
int fl_age_decrypt_fd(int in_fd, const char *in_name, const fl_age_identities *ids, int armor_mode,
                      fl_age_sink sink, void *sink_ctx, fl_age_failure *failure, fl_error *err);

/* File level. A path of NULL or "-" is stdin/stdout. A file output is written to a temporary
 * sibling and moved into place (fl_atomic_rename) only when everything succeeded, so a
 * failure leaves out_path as it was. Decrypted files are created 0600, encrypted ones
 * 0666 & ~umask. */
int fl_age_encrypt_file(const char *in_path, const char *out_path, const fl_age_recipients *r,
                        int armor, fl_error *err);
int fl_age_decrypt_file(const char *in_path, const char *out_path, const fl_age_identities *ids,
                        fl_error *err);
/* Decrypts in_path into memory (caller frees with fl_age_plaintext_free, which wipes). */
int fl_age_decrypt_to_memory(const char *in_path, const fl_age_identities *ids,
                             unsigned char **data, size_t *len, fl_error *err);
void fl_age_plaintext_free(unsigned char *data, size_t len);
/* Encrypts a buffer to out_path atomically (same file modes as fl_age_encrypt_file). */
int fl_age_encrypt_memory_to_file(const unsigned char *data, size_t len, const char *out_path,
                                  const fl_age_recipients *r, int armor, fl_error *err);

/* ---- edit and rekey --------------------------------------------------------------------
 * The recipients are the caller's (the command layer reads them from secrets/secrets.nix or
 * the command line); these functions own only the file handling. */

/* Opens path for editing: decrypts it with ids (a missing file starts empty) into a fresh
 * private directory (0700, under tmp_parent, NULL = $XDG_RUNTIME_DIR, $TMPDIR or /tmp), runs
 * editor (NULL = $VISUAL, $EDITOR, vi; run by /bin/sh with the file as its last argument),
 * and when the content changed re-encrypts it to r atomically, keeping the file's armor.
 * Unchanged content (or an empty new file) leaves path untouched. The plaintext copy is
 * overwritten and its directory removed on every path out, errors included. *changed (may
 * be NULL) says whether path was written. */
int fl_secret_edit(const char *path, const fl_age_recipients *r, const fl_age_identities *ids,
                   const char *editor, const char *tmp_parent, int *changed, fl_error *err);

typedef struct fl_secret_rekey_file {
    const char *path;
    const fl_age_recipients *recipients;
} fl_secret_rekey_file;

/* Re-encrypts each file to its recipients, never half-way: every file is decrypted first and
 * every new ciphertext written to a temporary sibling before the first one replaces its
 * file; if any step before that fails, no file is changed. */
int fl_secret_rekey(const fl_secret_rekey_file *files, size_t n, const fl_age_identities *ids,
                    fl_error *err);

/* ---- secrets at activation (install.c) -------------------------------------------------
 * A toplevel's secrets.json entries (and profile.json secretTemplates) decrypted with the
 * host's identities, beneath a root. Plaintext stays in memory (wiped on release) until
 * fl_secret_set_install writes it into <root>/run/flakectl/secrets.d/<N>/. */

/* Where templates render, inside the generation's directory (so no secret may be named so). */
#define FL_SECRET_RENDERED_DIR "rendered"
/* config.age.placeholder.<n> is "<flakectl-age:n>": what templates replace. */
#define FL_SECRET_PLACEHOLDER_PREFIX "<flakectl-age:"

enum { FL_SECRET_UNKNOWN, FL_SECRET_ADDED, FL_SECRET_CHANGED, FL_SECRET_UNCHANGED };

typedef struct fl_secret_item {
    char *name, *file, *path, *owner, *group; /* file: the .age (or template) store path */
    mode_t mode;
    int is_template;
    int linked;           /* path is not the default one: a symlink is made there */
    unsigned char *plain; /* NULL until decrypted (never printed) */
    size_t len;
    char *error; /* why it could not be decrypted or rendered; NULL when it was */
    int state;   /* FL_SECRET_*: compared with the plaintext installed now (by hash) */
} fl_secret_item;

typedef struct fl_secret_set {
    char *root;
    fl_secret_item *v;
    size_t n;
    size_t nfailed;
    char *tried; /* the identity files tried, for messages */
    char *unreadable; /* identity files this process may not read (", "-separated), or NULL:
                         then the fix is a permission, not a recipient */
} fl_secret_set;

/* Reads the declarations only (names, paths, modes); errors name the bad entry. Release
 * with fl_secret_set_release. */
int fl_secret_set_declare(fl_secret_set *s, const char *root, const json_t *secrets,
                          const json_t *templates, fl_error *err);
/* Declares, then decrypts every secret into memory with the identities at identity_paths
 * (profile.json identityPaths, beneath root; NULL = the ssh host key) and renders templates.
 * A secret that cannot be decrypted is not an error here: its item has error set and
 * nfailed counts it (fl_secret_set_require turns that into one error naming them all). */
int fl_secret_set_prepare(fl_secret_set *s, const char *root, const json_t *secrets,
                          const json_t *templates, const json_t *identity_paths, fl_error *err);
int fl_secret_set_require(const fl_secret_set *s, fl_error *err);
/* Declared paths that hold something other than flakectl's link: FL_ECONFLICT naming them. */
int fl_secret_set_check_paths(const fl_secret_set *s, fl_error *err);
/* Writes the plaintext into a new secrets.d/<N> (files with their owner, group and mode;
 * owner and group resolved in <root>/etc/passwd and group), flips <root>/run/flakectl/secrets
 * to it, links declared paths, and removes older generations' directories and the links old
 * declared that s does not. On failure before the flip, the new directory is removed and
 * nothing else changed. old may be NULL. */
int fl_secret_set_install(const fl_secret_set *s, const fl_secret_set *old, FILE *out,
                          fl_error *err);
void fl_secret_set_release(fl_secret_set *s);

/* ---- the flake's secrets rules (rules.c) ----
 * secrets/secrets.nix (agenix's format) maps a file name relative to secrets/ to the public
 * keys that may read it; secrets/.recipients.json records what each file was last encrypted
 * to (an X25519 stanza does not reveal its recipient), so rekey knows what changed. */
typedef struct fl_secret_rules {
    char *dir;      /* realpath of <flake>/secrets */
    json_t *keys;   /* secrets.nix, evaluated */
    json_t *record; /* .recipients.json, {} when absent */
} fl_secret_rules;

/* Evaluates <flake>/secrets/secrets.nix (its trace lines to trace, NULL = nowhere) and reads
 * the record; a missing or malformed secrets.nix is an error naming it. Release with
 * fl_secret_rules_release. */
int fl_secret_rules_load(fl_secret_rules *ru, const char *flake,
                         void (*trace)(void *ctx, const char *line), fl_error *err);
void fl_secret_rules_release(fl_secret_rules *ru);
/* The file's name in secrets.nix: its path relative to secrets/ (owned); NULL outside it. */
char *fl_secret_rules_key(const fl_secret_rules *ru, const char *path);
/* The recipients of key, added to r; *norm (may be NULL) gets the sorted set as recorded. */
int fl_secret_rules_recipients(const fl_secret_rules *ru, const char *key, fl_age_recipients *r,
                               json_t **norm, fl_error *err);
int fl_secret_rules_save_record(const fl_secret_rules *ru, fl_error *err);
/* Drops files from the record (they were encrypted to other recipients); best effort, and
 * nothing without a flake (NULL). */
void fl_secret_rules_forget(const char *flake, void (*trace)(void *ctx, const char *line),
                            const char *const *files, int n);
/* `flakectl check`'s rule: every secret files[i] (age.secrets.<names[i]>.file; NULL entries
 * skipped) under <flake>/secrets must list host_key among its publicKeys. No host key: no
 * check. */
int fl_secret_rules_check_host(const char *flake, void (*trace)(void *ctx, const char *line),
                               const char *host_key, const char *const *names,
                               const char *const *files, size_t n, fl_error *err);

#endif
