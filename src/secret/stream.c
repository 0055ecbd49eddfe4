/* stream.c - the ChaCha20-Poly1305 of age's STREAM payload chunks, through OpenSSL's EVP:
 * its AVX2/AVX-512 code runs the bulk of the file about three times faster than libsodium
 * 1.0.18 here, which is what keeps flakectl level with age. Everything else (X25519, HKDF,
 * stanza wrapping, the header MAC) stays with libsodium. Only seals and opens single chunks;
 * never hands out plaintext whose tag did not verify. */
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#include "secret/internal.h"

void age_stream_nonce(unsigned char nonce[12], uint64_t counter, int last) {
    memset(nonce, 0, 12);
    for (int i = 0; i < 8; i++)
        nonce[10 - i] = (unsigned char)(counter >> (8 * i));
    nonce[11] = last ? 1 : 0;
}

int age_stream_init(age_stream *s, const unsigned char key[32], int encrypt) {
    s->ctx = EVP_CIPHER_CTX_new();
    s->encrypt = encrypt;
    if (!s->ctx)
        return -1;
    if (EVP_CipherInit_ex(s->ctx, EVP_chacha20_poly1305(), NULL, key, NULL, encrypt) != 1) {
        EVP_CIPHER_CTX_free(s->ctx);
        s->ctx = NULL;
        return -1;
    }
    return 0;
}

void age_stream_release(age_stream *s) {
    /* EVP_CIPHER_CTX_free cleanses the key schedule. */
    EVP_CIPHER_CTX_free(s->ctx);
    s->ctx = NULL;
}

int age_stream_seal(age_stream *s, unsigned char *out, const unsigned char *in, size_t n,
                    uint64_t counter, int last) {
    unsigned char nonce[12];
    int len = 0, fin = 0;
    age_stream_nonce(nonce, counter, last);
    if (EVP_CipherInit_ex(s->ctx, NULL, NULL, NULL, nonce, 1) != 1 ||
        (n > 0 && EVP_CipherUpdate(s->ctx, out, &len, in, (int)n) != 1) ||
        EVP_CipherFinal_ex(s->ctx, out + len, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_AEAD_GET_TAG, AGE_TAG, out + n) != 1)
        return -1;
    return 0;
}

int age_stream_open(age_stream *s, unsigned char *out, const unsigned char *in, size_t clen,
                    uint64_t counter, int last) {
    unsigned char nonce[12], tag[AGE_TAG];
    int len = 0, fin = 0;
    if (clen < AGE_TAG)
        return -1;
    size_t n = clen - AGE_TAG;
    memcpy(tag, in + n, AGE_TAG);
    age_stream_nonce(nonce, counter, last);
    if (EVP_CipherInit_ex(s->ctx, NULL, NULL, NULL, nonce, 0) != 1 ||
        (n > 0 && EVP_CipherUpdate(s->ctx, out, &len, in, (int)n) != 1) ||
        EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_AEAD_SET_TAG, AGE_TAG, tag) != 1 ||
        EVP_CipherFinal_ex(s->ctx, out + len, &fin) != 1) {
        /* OpenSSL decrypts before it verifies: wipe what it wrote. */
        OPENSSL_cleanse(out, n);
        return -1;
    }
    return 0;
}
