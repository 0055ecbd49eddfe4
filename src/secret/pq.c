/* pq.c - the post-quantum pieces of age's mlkem768x25519 recipient: the MLKEM768-X25519
 * (X-Wing) KEM built on mlkem.c and libsodium's X25519, and HPKE (RFC 9180) base mode with
 * HKDF-SHA256 and ChaCha20Poly1305 for a single message. Keys are byte strings in and out;
 * Bech32 and stanzas are age.c's and keys.c's business. Never prints, never keeps state. */
#include <sodium.h>
#include <string.h>

#include "secret/internal.h"

/* "\./" "/^\" */
static const unsigned char xwing_label[6] = {0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c};

typedef struct xwing_keys {
    unsigned char ek[AGE_MLKEM_EK], dk[AGE_MLKEM_DK], sk_x[32], pk_x[32];
} xwing_keys;

/* expandKey: SHAKE256(seed, 96) gives ML-KEM's (d, z) and the X25519 scalar. */
static int expand(const unsigned char seed[32], xwing_keys *k) {
    unsigned char full[96];
    int rc = age_shake256(seed, 32, full, sizeof full) == 0 &&
                     age_mlkem768_keygen(full, full + 32, k->ek, k->dk) == 0
                 ? 0
                 : -1;
    memcpy(k->sk_x, full + 64, 32);
    crypto_scalarmult_base(k->pk_x, k->sk_x);
    sodium_memzero(full, sizeof full);
    return rc;
}

static int combine(const unsigned char ss_m[32], const unsigned char ss_x[32],
                   const unsigned char ct_x[32], const unsigned char pk_x[32],
                   unsigned char ss[32]) {
    unsigned char in[32 * 4 + sizeof xwing_label];
    memcpy(in, ss_m, 32);
    memcpy(in + 32, ss_x, 32);
    memcpy(in + 64, ct_x, 32);
    memcpy(in + 96, pk_x, 32);
    memcpy(in + 128, xwing_label, sizeof xwing_label);
    int rc = age_sha3_256(in, sizeof in, NULL, 0, ss);
    sodium_memzero(in, sizeof in);
    return rc;
}

int age_xwing_public(const unsigned char seed[32], unsigned char pk[AGE_XWING_PK]) {
    xwing_keys *k = sodium_malloc(sizeof *k);
    if (!k)
        return -1;
    int rc = expand(seed, k);
    memcpy(pk, k->ek, AGE_MLKEM_EK);
    memcpy(pk + AGE_MLKEM_EK, k->pk_x, 32);
    sodium_free(k); /* wipes */
    return rc;
}

int age_xwing_encaps(const unsigned char pk[AGE_XWING_PK], const unsigned char eseed[64],
                     unsigned char ct[AGE_XWING_CT], unsigned char ss[32]) {
    unsigned char ss_m[32], ss_x[32];
    const unsigned char *pk_x = pk + AGE_MLKEM_EK;
    int rc = -1;
    if (age_mlkem768_encaps(pk, eseed, ct, ss_m) != 0)
        goto out;
    crypto_scalarmult_base(ct + AGE_MLKEM_CT, eseed + 32);
    if (crypto_scalarmult(ss_x, eseed + 32, pk_x) != 0)
        goto out;
    rc = combine(ss_m, ss_x, ct + AGE_MLKEM_CT, pk_x, ss);
out:
    sodium_memzero(ss_m, sizeof ss_m);
    sodium_memzero(ss_x, sizeof ss_x);
    return rc;
}

int age_xwing_decaps(const unsigned char seed[32], const unsigned char ct[AGE_XWING_CT],
                     unsigned char ss[32]) {
    unsigned char ss_m[32], ss_x[32];
    xwing_keys *k = sodium_malloc(sizeof *k);
    int rc = -1;
    if (!k)
        return -1;
    if (expand(seed, k) != 0)
        goto out;
    /* Like age (Go's crypto/ecdh), an all-zero X25519 secret is refused, not combined. */
    if (crypto_scalarmult(ss_x, k->sk_x, ct + AGE_MLKEM_CT) != 0)
        goto out;
    if (age_mlkem768_decaps(k->dk, ct, ss_m) != 0)
        goto out;
    rc = combine(ss_m, ss_x, ct + AGE_MLKEM_CT, k->pk_x, ss);
out:
    sodium_memzero(ss_m, sizeof ss_m);
    sodium_memzero(ss_x, sizeof ss_x);
    sodium_free(k);
    return rc;
}

/* ---- HPKE (RFC 9180 sections 4 and 5.1), base mode ----------------------------------- */

/* "HPKE" || kem_id 0x647a || kdf_id 0x0001 (HKDF-SHA256) || aead_id 0x0003 (ChaCha20Poly1305) */
static const unsigned char suite_id[10] = {'H', 'P', 'K', 'E', 0x64, 0x7a, 0x00, 0x01, 0x00, 0x03};

/* LabeledExtract(salt, label, ikm) = HMAC-SHA256(salt, "HPKE-v1" || suite_id || label || ikm) */
static void labeled_extract(const unsigned char *salt, size_t salt_len, const char *label,
                            const unsigned char *ikm, size_t ikm_len, unsigned char prk[32]) {
    static const unsigned char none[1];
    crypto_auth_hmacsha256_state st;
    salt = salt ? salt : none; /* libsodium wants pointers even for empty input */
    ikm = ikm ? ikm : none;
    crypto_auth_hmacsha256_init(&st, salt, salt_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"HPKE-v1", 7);
    crypto_auth_hmacsha256_update(&st, suite_id, sizeof suite_id);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, strlen(label));
    crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
    crypto_auth_hmacsha256_final(&st, prk);
    sodium_memzero(&st, sizeof st);
}

/* LabeledExpand(prk, label, info, L) for L <= 32: one HKDF-Expand block,
 * T(1) = HMAC(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info || 0x01). */
static void labeled_expand(const unsigned char prk[32], const char *label,
                           const unsigned char *info, size_t info_len, unsigned char *out,
                           size_t len) {
    unsigned char t[32], l2[2] = {(unsigned char)(len >> 8), (unsigned char)len}, one = 1;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, prk, 32);
    crypto_auth_hmacsha256_update(&st, l2, 2);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"HPKE-v1", 7);
    crypto_auth_hmacsha256_update(&st, suite_id, sizeof suite_id);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, strlen(label));
    crypto_auth_hmacsha256_update(&st, info, info_len);
    crypto_auth_hmacsha256_update(&st, &one, 1);
    crypto_auth_hmacsha256_final(&st, t);
    memcpy(out, t, len);
    sodium_memzero(t, sizeof t);
    sodium_memzero(&st, sizeof st);
}

/* KeySchedule(mode_base, shared_secret, info, psk = "", psk_id = ""): the AEAD key and the
 * base nonce (sequence number 0 is the only one used, so the nonce is the base nonce). */
static void key_schedule(const unsigned char ss[32], const char *info, unsigned char key[32],
                         unsigned char nonce[12]) {
    unsigned char ctx[1 + 32 + 32], secret[32];
    ctx[0] = 0x00;
    labeled_extract(NULL, 0, "psk_id_hash", NULL, 0, ctx + 1);
    labeled_extract(NULL, 0, "info_hash", (const unsigned char *)info, strlen(info), ctx + 33);
    labeled_extract(ss, 32, "secret", NULL, 0, secret);
    labeled_expand(secret, "key", ctx, sizeof ctx, key, 32);
    labeled_expand(secret, "base_nonce", ctx, sizeof ctx, nonce, 12);
    sodium_memzero(secret, sizeof secret);
}

int age_hpke_seal(const unsigned char pk[AGE_XWING_PK], const char *info, const unsigned char *pt,
                  size_t len, unsigned char enc[AGE_XWING_CT], unsigned char *ct) {
    unsigned char eseed[64], ss[32], key[32], nonce[12];
    randombytes_buf(eseed, sizeof eseed);
    int rc = age_xwing_encaps(pk, eseed, enc, ss);
    sodium_memzero(eseed, sizeof eseed);
    if (rc != 0)
        return -1;
    key_schedule(ss, info, key, nonce);
    crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, pt, len, NULL, 0, NULL, nonce, key);
    sodium_memzero(ss, sizeof ss);
    sodium_memzero(key, sizeof key);
    return 0;
}

int age_hpke_open(const unsigned char seed[32], const char *info,
                  const unsigned char enc[AGE_XWING_CT], const unsigned char *ct, size_t ct_len,
                  unsigned char *pt) {
    unsigned char ss[32], key[32], nonce[12];
    if (age_xwing_decaps(seed, enc, ss) != 0)
        return -1;
    key_schedule(ss, info, key, nonce);
    int rc = crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL, ct, ct_len, NULL, 0, nonce,
                                                       key) == 0
                 ? 0
                 : 1;
    sodium_memzero(ss, sizeof ss);
    sodium_memzero(key, sizeof key);
    return rc;
}
