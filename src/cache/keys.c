/* keys.c - binary cache signing keys in Nix's text form "name:base64" (an ed25519 key pair
 * from libsodium; the secret half is libsodium's 64-byte seed+public key, as Nix stores it),
 * signing and checking signatures of the same form. Never touches files. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/base64.h"
#include "flakectl/cache.h"
#include "flakectl/strbuf.h"

static int sodium_ready(fl_error *err) {
    if (sodium_init() < 0)
        return fl_error_set(err, FL_ECRYPTO, "libsodium failed to initialise");
    return FL_OK;
}

static int key_name_ok(const char *name, size_t n) {
    if (n == 0 || n > FL_CACHE_KEY_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (name[i] == ':' || (unsigned char)name[i] <= ' ')
            return 0;
    return 1;
}

int fl_cache_keygen(const char *name, char **secret_text, char **public_text, fl_error *err) {
    if (!key_name_ok(name, strlen(name))) {
        int rc = fl_error_set(err, FL_EUSAGE, "invalid key name '%s'", name);
        fl_error_set_hint(err,
                          "use 1 to %d characters without ':' or white space, e.g. "
                          "cache.example.org-1",
                          FL_CACHE_KEY_NAME_MAX);
        return rc;
    }
    int rc = sodium_ready(err);
    if (rc)
        return rc;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    char *s = fl_base64_encode_str(sk, sizeof sk, 1), *p = fl_base64_encode_str(pk, sizeof pk, 1);
    sodium_memzero(sk, sizeof sk);
    *secret_text = fl_xasprintf("%s:%s", name, s);
    *public_text = fl_xasprintf("%s:%s", name, p);
    sodium_memzero(s, strlen(s));
    free(s);
    free(p);
    return FL_OK;
}

/* Splits "name:base64" and decodes exactly n bytes into out. */
static int parse_key(const char *text, const char *where, const char *what, char *name,
                     unsigned char *out, size_t n, fl_error *err) {
    while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
        text++;
    size_t len = strlen(text);
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\n' ||
                   text[len - 1] == '\r'))
        len--;
    const char *colon = memchr(text, ':', len);
    size_t got = 0;
    if (colon && key_name_ok(text, (size_t)(colon - text)) &&
        fl_base64_decode(colon + 1, len - (size_t)(colon - text) - 1, out, n, &got, NULL,
                         FL_BASE64_PAD | FL_BASE64_CANONICAL) == 0 &&
        got == n) {
        memcpy(name, text, (size_t)(colon - text));
        name[colon - text] = '\0';
        return FL_OK;
    }
    int rc = fl_error_set(err, FL_EPARSE, "%s: not a %s in Nix's form name:base64 (%zu bytes)",
                          where, what, n);
    fl_error_set_hint(err, "'flakectl cache keygen NAME -o FILE' writes a secret key and prints "
                           "its public key");
    return rc;
}

int fl_cache_secret_key_parse(const char *text, const char *where, fl_cache_secret_key *out,
                              fl_error *err) {
    int rc = sodium_ready(err);
    if (!rc)
        rc = parse_key(text, where, "secret signing key", out->name, out->sk, sizeof out->sk, err);
    return rc;
}

int fl_cache_public_key_parse(const char *text, const char *where, fl_cache_public_key *out,
                              fl_error *err) {
    int rc = sodium_ready(err);
    if (!rc)
        rc = parse_key(text, where, "public key", out->name, out->pk, sizeof out->pk, err);
    return rc;
}

int fl_cache_public_keys_parse(const char *const *texts, size_t n, const char *where,
                               fl_cache_public_key **keys, size_t *nkeys, fl_error *err) {
    *keys = NULL;
    *nkeys = 0;
    for (size_t i = 0; i < n; i++) {
        for (const char *p = texts[i]; *p;) {
            p += strspn(p, " \t\n");
            size_t k = strcspn(p, " \t\n");
            if (!k)
                break;
            char *word = fl_xstrndup(p, k);
            *keys = fl_xrealloc(*keys, (*nkeys + 1) * sizeof **keys);
            int rc = fl_cache_public_key_parse(word, where, &(*keys)[*nkeys], err);
            free(word);
            if (rc) {
                free(*keys);
                *keys = NULL;
                *nkeys = 0;
                return rc;
            }
            (*nkeys)++;
            p += k;
        }
    }
    return FL_OK;
}

char *fl_cache_public_key_text(const fl_cache_secret_key *key) {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_ed25519_sk_to_pk(pk, key->sk);
    char *p = fl_base64_encode_str(pk, sizeof pk, 1);
    char *out = fl_xasprintf("%s:%s", key->name, p);
    free(p);
    return out;
}

char *fl_cache_sign(const fl_cache_secret_key *key, const char *msg) {
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const unsigned char *)msg, strlen(msg), key->sk);
    char *s = fl_base64_encode_str(sig, sizeof sig, 1);
    char *out = fl_xasprintf("%s:%s", key->name, s);
    free(s);
    return out;
}

int fl_cache_sig_valid(const char *sig, const char *msg, const fl_cache_public_key *keys,
                       size_t nkeys) {
    const char *colon = strchr(sig, ':');
    if (!colon || sodium_init() < 0)
        return 0;
    size_t nlen = (size_t)(colon - sig);
    unsigned char bin[crypto_sign_BYTES];
    size_t got = 0;
    if (fl_base64_decode(colon + 1, strlen(colon + 1), bin, sizeof bin, &got, NULL,
                         FL_BASE64_PAD | FL_BASE64_CANONICAL) != 0 ||
        got != sizeof bin)
        return 0;
    /* Several trusted keys may share a name (a rotation): any of them may vouch. */
    for (size_t i = 0; i < nkeys; i++)
        if (strlen(keys[i].name) == nlen && !memcmp(keys[i].name, sig, nlen) &&
            crypto_sign_verify_detached(bin, (const unsigned char *)msg, strlen(msg), keys[i].pk) ==
                0)
            return 1;
    return 0;
}
