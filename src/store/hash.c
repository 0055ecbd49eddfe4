/* hash.c - SHA-256 (OpenSSL EVP), Nix's base32, hex, and Nix's hash compression.
 * Pure functions over bytes: never touches the file system. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/base64.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

/* Nix drops e, o, u and t from the alphabet to avoid accidental words. */
static const char base32_chars[] = "0123456789abcdfghijklmnpqrsvwxyz";

void fl_sha256_init(fl_sha256 *h) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        abort(); /* only on allocation failure, like fl_xmalloc */
    h->ctx = ctx;
}

void fl_sha256_update(fl_sha256 *h, const void *data, size_t len) {
    if (len)
        EVP_DigestUpdate((EVP_MD_CTX *)h->ctx, data, len);
}

void fl_sha256_final(fl_sha256 *h, unsigned char out[FL_SHA256_LEN]) {
    unsigned int n = 0;
    EVP_DigestFinal_ex((EVP_MD_CTX *)h->ctx, out, &n);
    EVP_MD_CTX_free((EVP_MD_CTX *)h->ctx);
    h->ctx = NULL;
}

void fl_sha256_copy(fl_sha256 *dst, const fl_sha256 *src) {
    fl_sha256_init(dst);
    if (EVP_MD_CTX_copy_ex((EVP_MD_CTX *)dst->ctx, (const EVP_MD_CTX *)src->ctx) != 1)
        abort(); /* only on allocation failure */
}

void fl_sha256_buf(const void *data, size_t len, unsigned char out[FL_SHA256_LEN]) {
    fl_sha256 h;
    fl_sha256_init(&h);
    fl_sha256_update(&h, data, len);
    fl_sha256_final(&h, out);
}

size_t fl_base32_len(size_t nbytes) {
    return nbytes == 0 ? 0 : (nbytes * 8 - 1) / 5 + 1;
}

void fl_base32_encode(const unsigned char *in, size_t n, char *out) {
    size_t len = fl_base32_len(n);
    /* Nix emits the most significant 5-bit group first, reading the bytes little-endian. */
    for (size_t k = 0; k < len; k++) {
        size_t idx = len - 1 - k;
        size_t b = idx * 5, i = b / 8, j = b % 8;
        unsigned c = (unsigned)in[i] >> j;
        if (i + 1 < n)
            c |= (unsigned)in[i + 1] << (8 - j);
        out[k] = base32_chars[c & 0x1f];
    }
    out[len] = '\0';
}

int fl_base32_valid_char(char c) {
    return c && strchr(base32_chars, c) != NULL;
}

int fl_base32_decode(const char *s, size_t slen, unsigned char *out, size_t n) {
    if (slen != fl_base32_len(n))
        return -1;
    memset(out, 0, n);
    for (size_t k = 0; k < slen; k++) {
        char c = s[slen - 1 - k];
        const char *p = c ? strchr(base32_chars, c) : NULL;
        if (!p)
            return -1;
        unsigned digit = (unsigned)(p - base32_chars);
        size_t b = k * 5, i = b / 8, j = b % 8;
        out[i] |= (unsigned char)(digit << j);
        unsigned carry = digit >> (8 - j);
        if (i + 1 < n)
            out[i + 1] |= (unsigned char)carry;
        else if (carry)
            return -1;
    }
    return 0;
}

void fl_hex_encode(const unsigned char *in, size_t n, char *out) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void fl_hash_compress(const unsigned char *in, size_t n, unsigned char *out, size_t outlen) {
    memset(out, 0, outlen);
    for (size_t i = 0; i < n; i++)
        out[i % outlen] ^= in[i];
}

char *fl_hash_format(const unsigned char h[FL_SHA256_LEN]) {
    char b32[FL_SHA256_BASE32_LEN + 1];
    fl_base32_encode(h, FL_SHA256_LEN, b32);
    return fl_xasprintf("sha256:%s", b32);
}

char *fl_hash_format_sri(const unsigned char h[FL_SHA256_LEN]) {
    char b64[4 * ((FL_SHA256_LEN + 2) / 3) + 1];
    fl_base64_encode(h, FL_SHA256_LEN, b64, 1);
    b64[sizeof b64 - 1] = '\0';
    return fl_xasprintf("sha256-%s", b64);
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int fl_hash_parse(const char *s, unsigned char h[FL_SHA256_LEN]) {
    if (!strncmp(s, "sha256-", 7)) {
        size_t got = 0;
        return fl_base64_decode(s + 7, strlen(s + 7), h, FL_SHA256_LEN, &got, NULL,
                                FL_BASE64_PAD) == 0 &&
                       got == FL_SHA256_LEN
                   ? 0
                   : -1;
    }
    if (strncmp(s, "sha256:", 7) != 0)
        return -1;
    s += 7;
    if (strlen(s) == 2 * FL_SHA256_LEN) {
        for (size_t i = 0; i < FL_SHA256_LEN; i++) {
            int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            h[i] = (unsigned char)(hi << 4 | lo);
        }
        return 0;
    }
    return fl_base32_decode(s, strlen(s), h, FL_SHA256_LEN);
}

int fl_hash_parse_nix(const char *orig, int prefixed, unsigned char h[FL_SHA256_LEN],
                      fl_error *err) {
    const char *rest = orig;
    int sri = 0;
    const char *colon = strchr(orig, ':'), *dash = strchr(orig, '-');
    const char *sep = colon ? colon : dash;
    if (sep) {
        sri = !colon;
        size_t tl = (size_t)(sep - orig);
        static const char *const known[] = {"md5", "sha1", "sha256", "sha512"};
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (strlen(known[i]) == tl && !strncmp(orig, known[i], tl))
                k = i;
        if (k >= 0 && k != 2)
            return fl_error_set(err, FL_EPARSE, "hash '%s' should have type 'sha256'", orig);
        rest = sep + 1;
    } else if (prefixed) {
        return fl_error_set(err, FL_EPARSE, "hash '%s' does not include a type", orig);
    }
    size_t n = strlen(rest);
    memset(h, 0, FL_SHA256_LEN);
    if (!sri && n == 2 * FL_SHA256_LEN) {
        for (size_t i = 0; i < FL_SHA256_LEN; i++) {
            int hi = hex_value(rest[2 * i]), lo = hex_value(rest[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return fl_error_set(err, FL_EPARSE, "invalid base-16 hash '%s'", rest);
            h[i] = (unsigned char)(hi << 4 | lo);
        }
        return 0;
    }
    if (!sri && n == FL_SHA256_BASE32_LEN) {
        if (fl_base32_decode(rest, n, h, FL_SHA256_LEN) < 0)
            return fl_error_set(err, FL_EPARSE, "invalid base-32 hash '%s'", rest);
        return 0;
    }
    if (sri || n == 44) {
        size_t got = 0, bad = 0;
        int rc = fl_base64_decode(rest, n, h, FL_SHA256_LEN, &got, &bad, FL_BASE64_NIX);
        if (rc == FL_BASE64_EINVAL)
            return fl_error_set(err, FL_EPARSE, "invalid character in Base64 string: '%c'",
                                rest[bad]);
        if (got != FL_SHA256_LEN)
            return fl_error_set(err, FL_EPARSE, "invalid %s hash '%s'", sri ? "SRI" : "base-64",
                                rest);
        return 0;
    }
    return fl_error_set(err, FL_EPARSE, "hash '%s' has wrong length for hash type 'sha256'", rest);
}

int fl_hash_parse_output(const char *hash, const char *algo, unsigned char h[FL_SHA256_LEN]) {
    if (!hash || (algo && *algo && strcmp(algo, "sha256") != 0))
        return -1;
    fl_error e = FL_ERROR_INIT;
    int rc = fl_hash_parse_nix(hash, !(algo && *algo), h, &e);
    fl_error_clear(&e);
    return rc < 0 ? -1 : 0;
}
