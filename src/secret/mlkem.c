/* mlkem.c - ML-KEM-768 (FIPS 203): key generation from (d, z), encapsulation with a given
 * message, decapsulation with implicit rejection, and the encapsulation key's modulus check.
 * Written from the standard's algorithms; SHA3-256/512 and SHAKE128/256 are OpenSSL's EVP.
 * Coefficients always stay fully reduced in [0, q). Anything that depends on a secret
 * (reduction, compression, the re-encryption compare and key selection) is branch-free and
 * division-free; only public data (the encapsulation key, the ciphertext) decides loops.
 * Never keeps state between calls and never prints. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#include "secret/internal.h"

#define N 256
#define Q 3329
#define K 3
#define ETA 2
#define DU 10
#define DV 4
#define POLY_BYTES 384 /* ByteEncode_12 */

typedef struct poly {
    uint16_t c[N];
} poly;

/* ---- hashes (FIPS 203 section 4.1) ----------------------------------------------------- */

static int digest(const EVP_MD *md, const unsigned char *a, size_t alen, const unsigned char *b,
                  size_t blen, unsigned char *out, size_t outlen) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, a, alen) == 1 &&
             (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1);
    if (ok) {
        if (EVP_MD_flags(md) & EVP_MD_FLAG_XOF) {
            ok = EVP_DigestFinalXOF(ctx, out, outlen) == 1;
        } else {
            unsigned int n = 0;
            ok = EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == outlen;
        }
    }
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

int age_sha3_256(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen,
                 unsigned char out[32]) {
    return digest(EVP_sha3_256(), a, alen, b, blen, out, 32);
}

int age_shake256(const unsigned char *a, size_t alen, unsigned char *out, size_t outlen) {
    return digest(EVP_shake256(), a, alen, NULL, 0, out, outlen);
}

/* ---- arithmetic mod q ------------------------------------------------------------------- */

/* a mod q for any 32-bit a: Barrett with m = floor(2^32 / q) leaves r in [0, 2q), then one
 * masked subtraction. No division, no branch. */
static uint16_t reduce(uint32_t a) {
    uint32_t t = (uint32_t)(((uint64_t)a * 1290167u) >> 32);
    uint32_t r = a - t * Q;
    r -= Q;
    r += Q & (0u - (r >> 31));
    return (uint16_t)r;
}

/* Compress_d(x) = round(2^d x / q) mod 2^d for x in [0, q), d <= 11. The division by q is a
 * multiplication by ceil(2^36 / q): exact for every numerator below 2^26 (checked for all
 * inputs by the unit test). */
uint16_t age_mlkem_compress(uint16_t x, int d) {
    uint64_t a = ((uint64_t)x << d) + (Q - 1) / 2;
    return (uint16_t)(((a * 20642680u) >> 36) & ((1u << d) - 1));
}

static uint16_t decompress(uint16_t y, int d) {
    return (uint16_t)(((uint32_t)y * Q + (1u << (d - 1))) >> d);
}

/* zeta^k for k in [0, 256), zeta = 17 the 256th root of unity mod q. */
static uint16_t pow17[256];
static int tables_ready;

static void tables(void) {
    if (tables_ready)
        return;
    uint32_t v = 1;
    for (int k = 0; k < 256; k++) {
        pow17[k] = (uint16_t)v;
        v = reduce(v * 17);
    }
    tables_ready = 1;
}

static unsigned bitrev7(unsigned i) {
    unsigned r = 0;
    for (int b = 0; b < 7; b++)
        r |= ((i >> b) & 1u) << (6 - b);
    return r;
}

/* Algorithm 9. */
static void ntt(poly *f) {
    unsigned k = 1;
    for (unsigned len = 128; len >= 2; len >>= 1)
        for (unsigned start = 0; start < N; start += 2 * len) {
            uint32_t z = pow17[bitrev7(k++)];
            for (unsigned j = start; j < start + len; j++) {
                uint16_t t = reduce(z * f->c[j + len]);
                f->c[j + len] = reduce((uint32_t)f->c[j] + Q - t);
                f->c[j] = reduce((uint32_t)f->c[j] + t);
            }
        }
}

/* Algorithm 10; 3303 = 128^-1 mod q. */
static void ntt_inverse(poly *f) {
    unsigned k = 127;
    for (unsigned len = 2; len <= 128; len <<= 1)
        for (unsigned start = 0; start < N; start += 2 * len) {
            uint32_t z = pow17[bitrev7(k--)];
            for (unsigned j = start; j < start + len; j++) {
                uint16_t t = f->c[j];
                f->c[j] = reduce((uint32_t)t + f->c[j + len]);
                f->c[j + len] = reduce(z * reduce((uint32_t)f->c[j + len] + Q - t));
            }
        }
    for (int i = 0; i < N; i++)
        f->c[i] = reduce((uint32_t)f->c[i] * 3303);
}

/* h += f * g in the NTT domain (Algorithms 11 and 12). */
static void mul_acc(poly *h, const poly *f, const poly *g) {
    for (unsigned i = 0; i < N / 2; i++) {
        uint32_t gamma = pow17[2 * bitrev7(i) + 1];
        uint32_t a0 = f->c[2 * i], a1 = f->c[2 * i + 1], b0 = g->c[2 * i], b1 = g->c[2 * i + 1];
        uint32_t c0 = reduce(a0 * b0 + reduce(a1 * b1) * gamma);
        uint32_t c1 = reduce(a0 * b1 + a1 * b0);
        h->c[2 * i] = reduce(h->c[2 * i] + c0);
        h->c[2 * i + 1] = reduce(h->c[2 * i + 1] + c1);
    }
}

static void poly_add(poly *f, const poly *g) {
    for (int i = 0; i < N; i++)
        f->c[i] = reduce((uint32_t)f->c[i] + g->c[i]);
}

/* ---- encodings (Algorithms 5 and 6) ----------------------------------------------------- */

static void byte_encode(const poly *f, int d, unsigned char *out) {
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (int i = 0; i < N; i++) {
        acc |= (uint32_t)f->c[i] << bits;
        bits += d;
        while (bits >= 8) {
            out[o++] = (unsigned char)acc;
            acc >>= 8;
            bits -= 8;
        }
    }
}

/* Decodes d-bit values; for d = 12 they are reduced mod q, as the standard says (the
 * encapsulation key check catches values >= q beforehand). */
static void byte_decode(poly *f, int d, const unsigned char *in) {
    uint32_t acc = 0;
    int bits = 0, i = 0;
    size_t p = 0;
    while (i < N) {
        acc |= (uint32_t)in[p++] << bits;
        bits += 8;
        while (bits >= d && i < N) {
            uint16_t v = (uint16_t)(acc & ((1u << d) - 1));
            f->c[i++] = d == 12 ? reduce(v) : v;
            acc >>= d;
            bits -= d;
        }
    }
}

/* ---- sampling (Algorithms 7 and 8) ------------------------------------------------------ */

/* SampleNTT(rho || a || b). OpenSSL 3.0 squeezes a SHAKE128 only once, so ask for enough
 * bytes for all but astronomically unlucky seeds, and ask again for more when it was not. */
static int sample_ntt(poly *f, const unsigned char rho[32], unsigned char a, unsigned char b) {
    unsigned char seed[34];
    memcpy(seed, rho, 32);
    seed[32] = a;
    seed[33] = b;
    for (size_t len = 168 * 5; len <= 168 * 40; len *= 2) {
        unsigned char buf[168 * 40];
        if (digest(EVP_shake128(), seed, sizeof seed, NULL, 0, buf, len) != 0)
            return -1;
        int j = 0;
        for (size_t p = 0; p + 3 <= len && j < N; p += 3) {
            uint16_t d1 = (uint16_t)(buf[p] | (buf[p + 1] & 0x0f) << 8);
            uint16_t d2 = (uint16_t)(buf[p + 1] >> 4 | buf[p + 2] << 4);
            if (d1 < Q)
                f->c[j++] = d1;
            if (d2 < Q && j < N)
                f->c[j++] = d2;
        }
        if (j == N)
            return 0;
    }
    return -1;
}

/* SamplePolyCBD_2(PRF_2(s, nonce)). */
static int sample_cbd(poly *f, const unsigned char s[32], unsigned char nonce) {
    unsigned char in[33], buf[64 * ETA];
    memcpy(in, s, 32);
    in[32] = nonce;
    if (digest(EVP_shake256(), in, sizeof in, NULL, 0, buf, sizeof buf) != 0)
        return -1;
    for (int i = 0; i < N; i++) {
        unsigned nib = (buf[i / 2] >> (4 * (i & 1))) & 0xf;
        uint32_t x = (nib & 1) + ((nib >> 1) & 1), y = ((nib >> 2) & 1) + ((nib >> 3) & 1);
        f->c[i] = reduce(x + Q - y);
    }
    OPENSSL_cleanse(buf, sizeof buf);
    OPENSSL_cleanse(in, sizeof in);
    return 0;
}

/* A-hat[i][j] = SampleNTT(rho || j || i); transposed gives A-hat^T. */
static int matrix(poly a[K][K], const unsigned char rho[32], int transposed) {
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++)
            if (sample_ntt(&a[i][j], rho, (unsigned char)(transposed ? i : j),
                           (unsigned char)(transposed ? j : i)) != 0)
                return -1;
    return 0;
}

/* ---- K-PKE (Algorithms 13 to 15) -------------------------------------------------------- */

typedef struct pke_work {
    poly a[K][K], s[K], e[K], t[K], u[K], v, w;
} pke_work;

static int pke_encrypt(pke_work *W, const unsigned char ek[AGE_MLKEM_EK], const unsigned char m[32],
                       const unsigned char r[32], unsigned char c[AGE_MLKEM_CT]) {
    unsigned char nonce = 0;
    for (int i = 0; i < K; i++)
        byte_decode(&W->t[i], 12, ek + POLY_BYTES * i);
    if (matrix(W->a, ek + POLY_BYTES * K, 1) != 0)
        return -1;
    for (int i = 0; i < K; i++)
        if (sample_cbd(&W->s[i], r, nonce++) != 0) /* y */
            return -1;
    for (int i = 0; i < K; i++)
        if (sample_cbd(&W->e[i], r, nonce++) != 0) /* e1 */
            return -1;
    if (sample_cbd(&W->w, r, nonce++) != 0) /* e2 */
        return -1;
    for (int i = 0; i < K; i++)
        ntt(&W->s[i]);
    for (int i = 0; i < K; i++) {
        memset(&W->u[i], 0, sizeof(poly));
        for (int j = 0; j < K; j++)
            mul_acc(&W->u[i], &W->a[i][j], &W->s[j]);
        ntt_inverse(&W->u[i]);
        poly_add(&W->u[i], &W->e[i]);
    }
    memset(&W->v, 0, sizeof(poly));
    for (int j = 0; j < K; j++)
        mul_acc(&W->v, &W->t[j], &W->s[j]);
    ntt_inverse(&W->v);
    poly_add(&W->v, &W->w);
    for (int i = 0; i < N; i++) {
        /* Decompress_1(bit) = 1665 * bit, without a branch on the message. */
        uint32_t bit = (m[i / 8] >> (i % 8)) & 1u;
        W->v.c[i] = reduce(W->v.c[i] + (1665u & (0u - bit)));
    }
    for (int i = 0; i < K; i++) {
        for (int k = 0; k < N; k++)
            W->u[i].c[k] = age_mlkem_compress(W->u[i].c[k], DU);
        byte_encode(&W->u[i], DU, c + 320 * i);
    }
    for (int k = 0; k < N; k++)
        W->v.c[k] = age_mlkem_compress(W->v.c[k], DV);
    byte_encode(&W->v, DV, c + 320 * K);
    return 0;
}

static void pke_decrypt(pke_work *W, const unsigned char *dk_pke, const unsigned char *c,
                        unsigned char m[32]) {
    memset(&W->w, 0, sizeof(poly));
    for (int i = 0; i < K; i++) {
        byte_decode(&W->u[i], DU, c + 320 * i);
        for (int k = 0; k < N; k++)
            W->u[i].c[k] = decompress(W->u[i].c[k], DU);
        ntt(&W->u[i]);
        byte_decode(&W->s[i], 12, dk_pke + POLY_BYTES * i);
        mul_acc(&W->w, &W->s[i], &W->u[i]);
    }
    ntt_inverse(&W->w);
    byte_decode(&W->v, DV, c + 320 * K);
    for (int k = 0; k < N; k++) {
        uint16_t v = decompress(W->v.c[k], DV);
        W->w.c[k] = age_mlkem_compress(reduce((uint32_t)v + Q - W->w.c[k]), 1);
    }
    memset(m, 0, 32);
    for (int k = 0; k < N; k++)
        m[k / 8] |= (unsigned char)(W->w.c[k] << (k % 8));
}

static pke_work *work_new(void) {
    pke_work *W = OPENSSL_zalloc(sizeof *W);
    return W;
}

static void work_free(pke_work *W) {
    OPENSSL_clear_free(W, sizeof *W);
}

/* ---- ML-KEM (Algorithms 16 to 18) ------------------------------------------------------- */

int age_mlkem768_keygen(const unsigned char d[32], const unsigned char z[32],
                        unsigned char ek[AGE_MLKEM_EK], unsigned char dk[AGE_MLKEM_DK]) {
    unsigned char kd[33], rs[64], nonce = 0;
    const unsigned char *rho = rs, *sigma = rs + 32;
    pke_work *W = work_new();
    int rc = -1;
    tables();
    memcpy(kd, d, 32);
    kd[32] = K;
    if (!W || digest(EVP_sha3_512(), kd, sizeof kd, NULL, 0, rs, 64) != 0 ||
        matrix(W->a, rho, 0) != 0)
        goto out;
    for (int i = 0; i < K; i++)
        if (sample_cbd(&W->s[i], sigma, nonce++) != 0)
            goto out;
    for (int i = 0; i < K; i++)
        if (sample_cbd(&W->e[i], sigma, nonce++) != 0)
            goto out;
    for (int i = 0; i < K; i++) {
        ntt(&W->s[i]);
        ntt(&W->e[i]);
    }
    for (int i = 0; i < K; i++) {
        W->t[i] = W->e[i];
        for (int j = 0; j < K; j++)
            mul_acc(&W->t[i], &W->a[i][j], &W->s[j]);
        byte_encode(&W->t[i], 12, ek + POLY_BYTES * i);
        byte_encode(&W->s[i], 12, dk + POLY_BYTES * i);
    }
    memcpy(ek + POLY_BYTES * K, rho, 32);
    memcpy(dk + POLY_BYTES * K, ek, AGE_MLKEM_EK);
    if (age_sha3_256(ek, AGE_MLKEM_EK, NULL, 0, dk + POLY_BYTES * K + AGE_MLKEM_EK) != 0)
        goto out;
    memcpy(dk + POLY_BYTES * K + AGE_MLKEM_EK + 32, z, 32);
    rc = 0;
out:
    OPENSSL_cleanse(kd, sizeof kd);
    OPENSSL_cleanse(rs, sizeof rs);
    if (W)
        work_free(W);
    return rc;
}

int age_mlkem768_check_ek(const unsigned char ek[AGE_MLKEM_EK]) {
    /* ByteEncode_12(ByteDecode_12(ek)) == ek exactly when every 12-bit value is below q. */
    for (size_t p = 0; p < POLY_BYTES * K; p += 3) {
        unsigned d1 = ek[p] | (ek[p + 1] & 0x0fu) << 8,
                 d2 = ek[p + 1] >> 4 | (unsigned)ek[p + 2] << 4;
        if (d1 >= Q || d2 >= Q)
            return -1;
    }
    return 0;
}

int age_mlkem768_encaps(const unsigned char ek[AGE_MLKEM_EK], const unsigned char m[32],
                        unsigned char ct[AGE_MLKEM_CT], unsigned char ss[32]) {
    unsigned char h[32], kr[64];
    pke_work *W = NULL;
    int rc = -1;
    tables();
    if (age_mlkem768_check_ek(ek) != 0 || age_sha3_256(ek, AGE_MLKEM_EK, NULL, 0, h) != 0 ||
        digest(EVP_sha3_512(), m, 32, h, 32, kr, 64) != 0 || !(W = work_new()) ||
        pke_encrypt(W, ek, m, kr + 32, ct) != 0)
        goto out;
    memcpy(ss, kr, 32);
    rc = 0;
out:
    OPENSSL_cleanse(kr, sizeof kr);
    if (W)
        work_free(W);
    return rc;
}

int age_mlkem768_decaps(const unsigned char dk[AGE_MLKEM_DK], const unsigned char ct[AGE_MLKEM_CT],
                        unsigned char ss[32]) {
    const unsigned char *dk_pke = dk, *ek = dk + POLY_BYTES * K, *h = ek + AGE_MLKEM_EK,
                        *z = h + 32;
    unsigned char m[32], kr[64], reject[32], again[AGE_MLKEM_CT];
    pke_work *W = work_new();
    int rc = -1;
    tables();
    if (!W)
        return -1;
    pke_decrypt(W, dk_pke, ct, m);
    if (digest(EVP_sha3_512(), m, 32, h, 32, kr, 64) != 0 ||
        digest(EVP_shake256(), z, 32, ct, AGE_MLKEM_CT, reject, 32) != 0 ||
        pke_encrypt(W, ek, m, kr + 32, again) != 0)
        goto out;
    /* Implicit rejection: the whole ciphertext is compared and the key chosen with masks,
     * so neither the time taken nor the memory touched says whether it matched. */
    uint32_t diff = 0;
    for (size_t i = 0; i < AGE_MLKEM_CT; i++)
        diff |= (uint32_t)(ct[i] ^ again[i]);
    unsigned char keep = (unsigned char)(0u - ((diff - 1u) >> 31)); /* 0xff when equal */
    for (int i = 0; i < 32; i++)
        ss[i] = (unsigned char)((kr[i] & keep) | (reject[i] & (unsigned char)~keep));
    rc = 0;
out:
    OPENSSL_cleanse(m, sizeof m);
    OPENSSL_cleanse(kr, sizeof kr);
    OPENSSL_cleanse(reject, sizeof reject);
    OPENSSL_cleanse(again, sizeof again);
    work_free(W);
    return rc;
}
