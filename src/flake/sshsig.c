/* sshsig.c - the SSH signatures Git makes with gpg.format=ssh (`git commit -S`), in OpenSSH's
 * SSHSIG form: an armored blob holding "SSHSIG", version 1, the signer's public key, the
 * namespace ("git"), a reserved string, the hash algorithm and the signature, which covers
 * "SSHSIG" string(namespace) string(reserved) string(hash algorithm) string(H(message)).
 * Verified here with libsodium, for ssh-ed25519 keys only (what `ssh-keygen -t ed25519`
 * makes, and what the allowed signers name); every other key type is refused by name rather
 * than passed. Checking natively keeps ssh-keygen off the host and its allowed_signers file
 * format (principals, options) out of the trust decision. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/base64.h"
#include "flakectl/flake.h"
#include "flakectl/knownhosts.h"
#include "flakectl/sshwire.h"
#include "flakectl/strbuf.h"

#define ARMOR_BEGIN "-----BEGIN SSH SIGNATURE-----"
#define ARMOR_END "-----END SSH SIGNATURE-----"
#define ED25519 "ssh-ed25519"

void fl_ssh_signers_release(fl_ssh_signers *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].text);
    free(s->v);
    memset(s, 0, sizeof *s);
}

int fl_ssh_signers_add(fl_ssh_signers *s, const char *text, const char *where, fl_error *err) {
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t tl = strcspn(p, " \t");
    if (tl != strlen(ED25519) || strncmp(p, ED25519, tl) != 0) {
        int rc = fl_error_set(err, FL_EUSAGE, "%s: '%.*s' is not an ssh-ed25519 public key", where,
                              (int)(tl > 40 ? 40 : tl), p);
        fl_error_set_hint(err, "give the signer's key as in its .pub file ('ssh-ed25519 "
                               "AAAA… comment'); only ed25519 signing keys are verified");
        return rc;
    }
    unsigned char pk[32];
    if (fl_sshwire_ed25519_public(p, pk) != 0)
        return fl_error_set(err, FL_EPARSE, "%s: malformed ssh-ed25519 public key", where);
    s->v = fl_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    fl_ssh_signer *k = &s->v[s->n++];
    memcpy(k->pk, pk, 32);
    k->text = fl_xstrndup(text, strcspn(text, "\r\n"));
    return 0;
}

/* "ssh-ed25519 SHA256:…" of a public key blob, for errors. */
static char *describe(const fl_sshwire *blob) {
    char *type = fl_ssh_key_type(blob->p, blob->n);
    char *fp = fl_ssh_fingerprint(blob->p, blob->n);
    char *s = fl_xasprintf("%s %s", type ? type : "(unknown key type)", fp);
    free(type);
    free(fp);
    return s;
}

int fl_sshsig_verify(const char *armored, const void *msg, size_t len, const char *ns,
                     const fl_ssh_signers *allowed, const char *what, char **signer,
                     fl_error *err) {
    *signer = NULL;
    const char *b = strstr(armored, ARMOR_BEGIN);
    const char *e = b ? strstr(b, ARMOR_END) : NULL;
    unsigned char *raw = NULL;
    size_t rl = 0;
    if (!b || !e ||
        fl_sshwire_unbase64(b + strlen(ARMOR_BEGIN), (size_t)(e - b - strlen(ARMOR_BEGIN)),
                            FL_BASE64_PAD, &raw, &rl) != 0) {
        int rc = fl_error_set(err, FL_ECRYPTO,
                              "%s carries a signature that is not an SSH signature "
                              "(%s): refused",
                              what,
                              strstr(armored, "BEGIN PGP") ? "an OpenPGP one" : "unreadable armor");
        fl_error_set_hint(err, "sign with an SSH key: git config gpg.format ssh, "
                               "user.signingkey ~/.ssh/id_ed25519.pub, git commit -S");
        return rc;
    }
    fl_sshwire w = {raw, rl}, pub, sns, reserved, halg, sig, stype, sbytes, ktype, kbytes;
    int rc = 0;
    uint32_t version = rl >= 10 ? (uint32_t)raw[6] << 24 | (uint32_t)raw[7] << 16 |
                                      (uint32_t)raw[8] << 8 | (uint32_t)raw[9]
                                : 0;
    if (rl < 10 || memcmp(raw, "SSHSIG", 6) != 0 || version != 1) {
        rc = fl_error_set(err, FL_ECRYPTO, "%s: malformed SSH signature (no SSHSIG version 1)",
                          what);
        goto done;
    }
    w.p += 10;
    w.n -= 10;
    if (fl_sshwire_string(&w, &pub) || fl_sshwire_string(&w, &sns) ||
        fl_sshwire_string(&w, &reserved) || fl_sshwire_string(&w, &halg) ||
        fl_sshwire_string(&w, &sig) || w.n != 0) {
        rc = fl_error_set(err, FL_ECRYPTO, "%s: malformed SSH signature", what);
        goto done;
    }
    char *who = describe(&pub);
    fl_sshwire kw = pub, sw = sig;
    if (fl_sshwire_string(&kw, &ktype) || !fl_sshwire_is(&ktype, ED25519) ||
        fl_sshwire_string(&kw, &kbytes) || kbytes.n != 32 || kw.n != 0) {
        rc = fl_error_set(err, FL_ECRYPTO,
                          "%s is signed by %s: only ssh-ed25519 signatures are verified, refused",
                          what, who);
    } else if (!fl_sshwire_is(&sns, ns)) {
        rc = fl_error_set(err, FL_ECRYPTO,
                          "%s: the SSH signature by %s is for the namespace '%.*s', not '%s': "
                          "refused",
                          what, who, (int)(sns.n > 40 ? 40 : sns.n), (const char *)sns.p, ns);
    } else if (!fl_sshwire_is(&halg, "sha512") && !fl_sshwire_is(&halg, "sha256")) {
        rc = fl_error_set(err, FL_ECRYPTO,
                          "%s: the SSH signature by %s uses an unknown hash algorithm: refused",
                          what, who);
    } else if (fl_sshwire_string(&sw, &stype) || !fl_sshwire_is(&stype, ED25519) ||
               fl_sshwire_string(&sw, &sbytes) || sbytes.n != crypto_sign_BYTES || sw.n != 0) {
        rc = fl_error_set(err, FL_ECRYPTO, "%s: the SSH signature by %s is malformed: refused",
                          what, who);
    }
    size_t idx = allowed->n;
    for (size_t i = 0; !rc && i < allowed->n && idx == allowed->n; i++)
        if (!memcmp(allowed->v[i].pk, kbytes.p, 32))
            idx = i;
    if (!rc && idx == allowed->n) {
        rc = fl_error_set(err, FL_ECRYPTO,
                          "%s is signed by %s, which is not an allowed signer: "
                          "refused",
                          what, who);
        fl_error_set_hint(err, "add the key to services.flakectl.pull.allowedSigners "
                               "(--allowed-signer) if it may deploy to this host");
    }
    if (!rc) {
        unsigned char digest[crypto_hash_sha512_BYTES];
        size_t dl =
            fl_sshwire_is(&halg, "sha512") ? crypto_hash_sha512_BYTES : crypto_hash_sha256_BYTES;
        if (dl == crypto_hash_sha512_BYTES)
            crypto_hash_sha512(digest, msg, len);
        else
            crypto_hash_sha256(digest, msg, len);
        fl_strbuf sb = FL_STRBUF_INIT;
        fl_strbuf_add(&sb, "SSHSIG", 6);
        fl_sshwire_put_string(&sb, sns.p, sns.n);
        fl_sshwire_put_string(&sb, reserved.p, reserved.n);
        fl_sshwire_put_string(&sb, halg.p, halg.n);
        fl_sshwire_put_string(&sb, digest, dl);
        size_t sl = 0;
        char *signed_data = fl_strbuf_detach(&sb, &sl);
        if (sodium_init() < 0 ||
            crypto_sign_verify_detached(sbytes.p, (const unsigned char *)signed_data, sl,
                                        kbytes.p) != 0) {
            rc = fl_error_set(err, FL_ECRYPTO,
                              "%s has an SSH signature by %s that does not verify (the commit "
                              "was changed after it was signed): refused",
                              what, who);
        } else {
            *signer = fl_xstrdup(allowed->v[idx].text);
        }
        free(signed_data);
    }
    free(who);
done:
    free(raw);
    return rc;
}
