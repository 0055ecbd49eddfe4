/* keys.c - reading and making keys: age1…/AGE-SECRET-KEY-1… and the post-quantum
 * age1pq1…/AGE-SECRET-KEY-PQ-1… (Bech32), ssh-ed25519 public keys and unencrypted OpenSSH
 * ed25519 private keys. Refuses every other kind by name.
 * Never prints or logs secret key material, not even in errors. */
#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flakectl/fs.h"
#include "flakectl/sshwire.h"
#include "flakectl/strbuf.h"
#include "secret/internal.h"

#define SSH_ED25519 "ssh-ed25519"

void fl_age_recipients_release(fl_age_recipients *r) {
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].label);
        free(r->v[i].pq);
    }
    free(r->v);
    r->v = NULL;
    r->n = 0;
}

void fl_age_identities_release(fl_age_identities *ids) {
    for (size_t i = 0; i < ids->n; i++) {
        if (ids->v[i].passphrase) {
            sodium_memzero(ids->v[i].passphrase, strlen(ids->v[i].passphrase));
            free(ids->v[i].passphrase);
        }
        free(ids->v[i].source);
    }
    if (ids->v)
        sodium_memzero(ids->v, sizeof(fl_age_identity) * ids->n);
    free(ids->v);
    ids->v = NULL;
    ids->n = 0;
}

static fl_age_identity *identity_new(fl_age_identities *ids) {
    ids->v = fl_xrealloc(ids->v, sizeof(fl_age_identity) * (ids->n + 1));
    fl_age_identity *id = &ids->v[ids->n++];
    memset(id, 0, sizeof *id);
    return id;
}

static void ssh_wire_of(const unsigned char pk[32], unsigned char wire[FL_AGE_SSH_WIRE_LEN]) {
    memcpy(wire, "\0\0\0\x0b" SSH_ED25519 "\0\0\0\x20", 4 + 11 + 4);
    memcpy(wire + 19, pk, 32);
}

/* ---- recipients --------------------------------------------------------------------- */

static int refuse(fl_error *err, const char *where, const char *what, const char *hint) {
    fl_error_set(err, FL_ECRYPTO, "%s: %s", where, what);
    if (hint)
        fl_error_set_hint(err, "%s", hint);
    return FL_ECRYPTO;
}

static const char supported_hint[] =
    "flakectl supports age X25519 keys (age1…, from 'flakectl secret keygen' or age-keygen), "
    "post-quantum age keys (age1pq1…, from 'flakectl secret keygen --pq' or age-keygen -pq) and "
    "ssh-ed25519 keys";

static int ssh_public(fl_age_recipient *out, const char *text, const char *where, fl_error *err) {
    unsigned char pk[32];
    int r = fl_sshwire_ed25519_public(text, pk);
    if (r == -1)
        return refuse(err, where, "malformed ssh-ed25519 public key (bad base64)", NULL);
    int ok = r == 0;
    if (ok) {
        ssh_wire_of(pk, out->ssh_wire);
        ok = crypto_sign_ed25519_pk_to_curve25519(out->x25519, pk) == 0;
    }
    if (!ok)
        return refuse(err, where, "malformed ssh-ed25519 public key", NULL);
    out->type = FL_AGE_SSH_ED25519;
    return 0;
}

int fl_age_recipient_add(fl_age_recipients *r, const char *text, const char *where, fl_error *err) {
    fl_age_recipient rec;
    memset(&rec, 0, sizeof rec);
    while (isspace((unsigned char)*text))
        text++;
    size_t n = strlen(text);
    while (n > 0 && isspace((unsigned char)text[n - 1]))
        n--;
    char *s = fl_xstrndup(text, n);
    int rc = 0;
    if (!strncmp(s, "age1", 4)) {
        char hrp[64];
        size_t cap = strlen(s), dl = 0;
        unsigned char *data = fl_xmalloc(cap);
        if (age_bech32_decode(s, hrp, sizeof hrp, data, cap, &dl) != 0)
            rc = refuse(err, where, "malformed age recipient (bad Bech32 encoding)", NULL);
        else if (!strcmp(hrp, "age1pq") && dl != AGE_XWING_PK)
            rc =
                refuse(err, where, "malformed post-quantum age recipient (wrong key length)", NULL);
        else if (!strcmp(hrp, "age1pq") && age_mlkem768_check_ek(data) != 0)
            rc = refuse(err, where,
                        "malformed post-quantum age recipient (its ML-KEM key is not canonical)",
                        NULL);
        else if (!strcmp(hrp, "age1pq")) {
            rec.type = FL_AGE_PQ;
            rec.pq = fl_xmalloc(AGE_XWING_PK);
            memcpy(rec.pq, data, AGE_XWING_PK);
        } else if (strcmp(hrp, "age") != 0)
            rc = refuse(err, where, "age plugin recipients are not supported", supported_hint);
        else if (dl != 32)
            rc = refuse(err, where, "malformed age recipient (wrong key length)", NULL);
        else {
            rec.type = FL_AGE_X25519;
            memcpy(rec.x25519, data, 32);
        }
        free(data);
    } else if (!strncmp(s, SSH_ED25519 " ", 12) || !strncmp(s, SSH_ED25519 "\t", 12)) {
        rc = ssh_public(&rec, s, where, err);
    } else if (!strncmp(s, "ssh-rsa ", 8)) {
        rc = refuse(err, where, "RSA ssh keys are not supported", supported_hint);
    } else if (!strncmp(s, "ssh-", 4) || !strncmp(s, "ecdsa-", 6) || !strncmp(s, "sk-", 3)) {
        size_t tl = strcspn(s, " \t");
        char *t = fl_xstrndup(s, tl);
        char *msg = fl_xasprintf("%s keys are not supported", t);
        rc = refuse(err, where, msg, supported_hint);
        free(msg);
        free(t);
    } else if (!strncmp(s, "AGE-SECRET-KEY-", 15)) {
        rc = refuse(err, where, "this is a secret key (an identity), not a recipient",
                    "give its public key (age-keygen -y / flakectl secret keygen -y) with -r, "
                    "or use it with 'secret decrypt -i'");
    } else {
        rc = refuse(err, where, "unknown recipient type (expected age1… or ssh-ed25519 …)",
                    supported_hint);
    }
    if (rc == 0) {
        rec.label = fl_xstrdup(where);
        r->v = fl_xrealloc(r->v, sizeof(fl_age_recipient) * (r->n + 1));
        r->v[r->n++] = rec;
    }
    free(s);
    return rc;
}

int fl_age_recipients_add_file(fl_age_recipients *r, const char *path, fl_error *err) {
    char *data;
    size_t len;
    int rc = fl_read_file(path, &data, &len, err);
    if (rc)
        return rc;
    size_t before = r->n;
    int lineno = 0;
    for (char *line = data; line && *line && !rc;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        const char *t = line;
        while (isspace((unsigned char)*t))
            t++;
        if (*t && *t != '#') {
            char *where = fl_xasprintf("%s:%d", path, lineno);
            rc = fl_age_recipient_add(r, t, where, err);
            free(where);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(data);
    if (!rc && r->n == before)
        rc = fl_error_set(err, FL_EPARSE, "%s: no recipients in this file", path);
    return rc;
}

/* ---- identities --------------------------------------------------------------------- */

int fl_age_identity_add_string(fl_age_identities *ids, const char *text, const char *source,
                               fl_error *err) {
    char hrp[64];
    unsigned char data[64];
    size_t dl = 0;
    if (!strncmp(text, "AGE-PLUGIN-", 11))
        return refuse(err, source, "age plugin identities are not supported", supported_hint);
    int rc = age_bech32_decode(text, hrp, sizeof hrp, data, sizeof data, &dl);
    if (!strncmp(text, "AGE-SECRET-KEY-PQ-", 18)) {
        if (rc != 0 || strcmp(hrp, "age-secret-key-pq-") != 0 || dl != 32 ||
            strncmp(text, "AGE-SECRET-KEY-PQ-1", 19) != 0) {
            sodium_memzero(data, sizeof data);
            return refuse(err, source,
                          "malformed post-quantum age secret key (expected AGE-SECRET-KEY-PQ-1…)",
                          NULL);
        }
        fl_age_identity *id = identity_new(ids);
        id->type = FL_AGE_PQ;
        memcpy(id->secret, data, 32);
        id->source = fl_xstrdup(source);
        sodium_memzero(data, sizeof data);
        return 0;
    }
    if (rc != 0 || strcmp(hrp, "age-secret-key-") != 0 || dl != 32 ||
        strncmp(text, "AGE-SECRET-KEY-1", 16) != 0) {
        sodium_memzero(data, sizeof data);
        return refuse(err, source, "malformed age secret key (expected AGE-SECRET-KEY-1…)", NULL);
    }
    fl_age_identity *id = identity_new(ids);
    id->type = FL_AGE_X25519;
    memcpy(id->secret, data, 32);
    crypto_scalarmult_base(id->x25519, id->secret);
    id->source = fl_xstrdup(source);
    sodium_memzero(data, sizeof data);
    return 0;
}

void fl_age_identity_add_passphrase(fl_age_identities *ids, const char *passphrase) {
    fl_age_identity *id = identity_new(ids);
    id->type = FL_AGE_SCRYPT;
    id->passphrase = fl_xstrdup(passphrase);
    id->source = fl_xstrdup("passphrase");
}

#define OPENSSH_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define OPENSSH_END "-----END OPENSSH PRIVATE KEY-----"

static int openssh_private(fl_age_identities *ids, const char *text, const char *path,
                           fl_error *err) {
    const char *b = strstr(text, OPENSSH_BEGIN);
    const char *e = b ? strstr(b, OPENSSH_END) : NULL;
    if (!e)
        return refuse(err, path, "malformed OpenSSH private key (no END line)", NULL);
    b += strlen(OPENSSH_BEGIN);
    unsigned char *raw = NULL;
    size_t rl = 0;
    if (fl_sshwire_unbase64(b, (size_t)(e - b), AGE_B64_PADDED, &raw, &rl) != 0)
        return refuse(err, path, "malformed OpenSSH private key (bad base64)", NULL);
    static const char magic[] = "openssh-key-v1";
    fl_sshwire w = {raw, rl}, cipher, kdf, kdfopts, pub, priv, type, pk, sk, ptype;
    unsigned nkeys = 0, c1 = 0, c2 = 0;
    int rc = 0;
    if (rl < sizeof magic || memcmp(raw, magic, sizeof magic) != 0) {
        rc = refuse(err, path, "malformed OpenSSH private key (bad magic)", NULL);
        goto out;
    }
    w.p += sizeof magic;
    w.n -= sizeof magic;
    if (fl_sshwire_string(&w, &cipher) || fl_sshwire_string(&w, &kdf) ||
        fl_sshwire_string(&w, &kdfopts) || fl_sshwire_u32(&w, &nkeys) || nkeys != 1 ||
        fl_sshwire_string(&w, &pub)) {
        rc = refuse(err, path, "malformed OpenSSH private key", NULL);
        goto out;
    }
    fl_sshwire pw = pub;
    if (fl_sshwire_string(&pw, &ptype)) {
        rc = refuse(err, path, "malformed OpenSSH private key", NULL);
        goto out;
    }
    if (fl_sshwire_is(&ptype, "ssh-rsa")) {
        rc = refuse(err, path, "RSA ssh keys are not supported", supported_hint);
        goto out;
    }
    if (!fl_sshwire_is(&ptype, SSH_ED25519)) {
        char *t = fl_xasprintf("%.*s ssh keys are not supported", (int)ptype.n, ptype.p);
        rc = refuse(err, path, t, supported_hint);
        free(t);
        goto out;
    }
    if (!fl_sshwire_is(&cipher, "none")) {
        rc = refuse(err, path, "passphrase-protected ssh keys are not supported",
                    "use an unencrypted key (e.g. the host key), or decrypt with 'age -d'");
        goto out;
    }
    if (fl_sshwire_string(&w, &priv) || fl_sshwire_u32(&priv, &c1) || fl_sshwire_u32(&priv, &c2) ||
        c1 != c2 || fl_sshwire_string(&priv, &type) || !fl_sshwire_is(&type, SSH_ED25519) ||
        fl_sshwire_string(&priv, &pk) || pk.n != 32 || fl_sshwire_string(&priv, &sk) ||
        sk.n != 64 || memcmp(sk.p + 32, pk.p, 32) != 0) {
        rc = refuse(err, path, "malformed OpenSSH ed25519 private key", NULL);
        goto out;
    }
    fl_age_identity *id = identity_new(ids);
    id->type = FL_AGE_SSH_ED25519;
    ssh_wire_of(pk.p, id->ssh_wire);
    if (crypto_sign_ed25519_sk_to_curve25519(id->secret, sk.p) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(id->x25519, pk.p) != 0) {
        ids->n--;
        sodium_memzero(id, sizeof *id);
        rc = refuse(err, path, "invalid ed25519 key", NULL);
        goto out;
    }
    id->source = fl_xstrdup(path);
out:
    sodium_memzero(raw, rl);
    free(raw);
    return rc;
}

int fl_age_identities_add_file(fl_age_identities *ids, const char *path, fl_error *err) {
    char *data;
    size_t len;
    int rc = fl_read_file(path, &data, &len, err);
    if (rc)
        return rc;
    rc = fl_age_identities_add_data(ids, data, path, err);
    sodium_memzero(data, len);
    free(data);
    return rc;
}

int fl_age_identities_add_data(fl_age_identities *ids, char *data, const char *path,
                               fl_error *err) {
    int rc = FL_OK;
    const char *t = data;
    while (isspace((unsigned char)*t))
        t++;
    if (!strncmp(t, OPENSSH_BEGIN, strlen(OPENSSH_BEGIN))) {
        rc = openssh_private(ids, t, path, err);
    } else if (!strncmp(t, "-----BEGIN RSA PRIVATE KEY-----", 31)) {
        rc = refuse(err, path, "RSA ssh keys are not supported", supported_hint);
    } else if (!strncmp(t, "-----BEGIN AGE ENCRYPTED FILE-----", 34) ||
               !strncmp(t, "age-encryption.org/", 19)) {
        rc = refuse(err, path, "passphrase-encrypted identity files are not supported",
                    "decrypt it with 'age -d' into a private file first");
    } else if (!strncmp(t, "-----BEGIN ", 11)) {
        rc = refuse(err, path, "PEM private keys are not supported (only OpenSSH ed25519)",
                    supported_hint);
    } else if (!strncmp(t, "ssh-", 4) || !strncmp(t, "age1", 4)) {
        rc = refuse(err, path, "this is a public key (a recipient), not an identity",
                    "pass the private key file with -i");
    } else {
        size_t before = ids->n;
        int lineno = 0;
        for (char *line = data; line && *line && !rc;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            lineno++;
            char *s = line;
            while (isspace((unsigned char)*s))
                s++;
            size_t n = strlen(s);
            while (n > 0 && isspace((unsigned char)s[n - 1]))
                s[--n] = '\0';
            if (*s && *s != '#') {
                char *where = fl_xasprintf("%s:%d", path, lineno);
                rc = fl_age_identity_add_string(ids, s, where, err);
                free(where);
            }
            line = nl ? nl + 1 : NULL;
        }
        if (!rc && ids->n == before)
            rc = fl_error_set(err, FL_EPARSE, "%s: no identities in this file", path);
    }
    return rc;
}

char *fl_age_identity_recipient(const fl_age_identity *id) {
    if (id->type == FL_AGE_SSH_ED25519) {
        char b64[80];
        size_t n = fl_base64_len(FL_AGE_SSH_WIRE_LEN, 1);
        fl_base64_encode(id->ssh_wire, FL_AGE_SSH_WIRE_LEN, b64, 1);
        b64[n] = '\0';
        return fl_xasprintf(SSH_ED25519 " %s", b64);
    }
    if (id->type == FL_AGE_X25519)
        return age_bech32_encode("age", id->x25519, 32);
    if (id->type == FL_AGE_PQ) {
        unsigned char pk[AGE_XWING_PK];
        age_sodium_init();
        if (age_xwing_public(id->secret, pk) != 0)
            return fl_xstrdup("(post-quantum key: cannot compute its recipient)");
        return age_bech32_encode("age1pq", pk, sizeof pk);
    }
    return fl_xstrdup("(passphrase)");
}

void fl_age_keygen(char **secret, char **public_key) {
    unsigned char sk[32], pk[32];
    age_sodium_init();
    randombytes_buf(sk, sizeof sk);
    crypto_scalarmult_base(pk, sk);
    char *s = age_bech32_encode("AGE-SECRET-KEY-", sk, 32);
    for (char *c = s; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    *secret = s;
    *public_key = age_bech32_encode("age", pk, 32);
    sodium_memzero(sk, sizeof sk);
}

int fl_age_keygen_pq(char **secret, char **public_key, fl_error *err) {
    unsigned char seed[32], pk[AGE_XWING_PK];
    age_sodium_init();
    randombytes_buf(seed, sizeof seed);
    if (age_xwing_public(seed, pk) != 0) {
        sodium_memzero(seed, sizeof seed);
        return fl_error_set(err, FL_ECRYPTO,
                            "cannot make a post-quantum key: OpenSSL's SHA-3 failed");
    }
    char *s = age_bech32_encode("AGE-SECRET-KEY-PQ-", seed, 32);
    for (char *c = s; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    *secret = s;
    *public_key = age_bech32_encode("age1pq", pk, sizeof pk);
    sodium_memzero(seed, sizeof seed);
    return 0;
}
