/* internal.h - helpers shared by the files of src/secret/ only: base64 in age's strict
 * flavours, Bech32, HKDF-SHA-256 and the buffered reader the parsers sit on. */
#ifndef FLAKECTL_SECRET_INTERNAL_H
#define FLAKECTL_SECRET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "flakectl/base64.h"
#include "flakectl/error.h"
#include "flakectl/secret.h"

/* age's base64: standard alphabet, canonical, padded only in the armor (flakectl/base64.h) */
#define AGE_B64_PADDED (FL_BASE64_PAD | FL_BASE64_CANONICAL)
#define AGE_B64_UNPADDED (FL_BASE64_NOPAD | FL_BASE64_CANONICAL)

/* Bech32 (BIP 173, no length limit). Encode returns an owned lowercase string. Decode
 * checks the checksum and case, lowercases the HRP into hrp (cap bytes), and converts the
 * data to 8-bit bytes. Returns 0 or -1. */
char *age_bech32_encode(const char *hrp, const unsigned char *data, size_t len);
int age_bech32_decode(const char *s, char *hrp, size_t hrp_cap, unsigned char *out, size_t out_cap,
                      size_t *outlen);

/* HKDF-SHA-256 (RFC 5869) built from libsodium's HMAC-SHA-256 (1.0.18 has no HKDF). */
void age_hkdf(const unsigned char *salt, size_t salt_len, const unsigned char *ikm, size_t ikm_len,
              const char *info, unsigned char *out, size_t out_len);

/* A byte source: returns 0 and *got (0 at end of input), or a negative code with err and
 * *failure set. */
typedef int (*age_read_fn)(void *ctx, unsigned char *buf, size_t cap, size_t *got,
                           fl_age_failure *failure, fl_error *err);

typedef struct age_buf {
    age_read_fn read;
    void *ctx;
    unsigned char *data;
    size_t start, end, cap;
    int eof;
} age_buf;

void age_buf_init(age_buf *b, age_read_fn read, void *ctx, size_t cap);
void age_buf_release(age_buf *b);
/* Makes at least `want` bytes available (fewer only at end of input). */
int age_buf_fill(age_buf *b, size_t want, fl_age_failure *failure, fl_error *err);
/* Finds the next line: *line points into the buffer (valid until the next fill), *len
 * excludes the '\n', *eol says whether one was found (0 at end of input). The caller
 * consumes with age_buf_skip. Returns 1 when no '\n' appears within max bytes. */
int age_buf_line(age_buf *b, size_t max, const unsigned char **line, size_t *len, int *eol,
                 fl_age_failure *failure, fl_error *err);
static inline void age_buf_skip(age_buf *b, size_t n) {
    b->start += n;
}
static inline size_t age_buf_avail(const age_buf *b) {
    return b->end - b->start;
}

/* Reads from a file descriptor (ctx: int * fd, name in the following string). */
typedef struct age_fd_source {
    int fd;
    const char *name;
} age_fd_source;
int age_fd_read(void *ctx, unsigned char *buf, size_t cap, size_t *got, fl_age_failure *failure,
                fl_error *err);

/* STREAM chunk AEAD (stream.c): ChaCha20-Poly1305 with the 11-byte counter and last flag
 * as nonce. seal writes n + AGE_TAG bytes; open writes clen - AGE_TAG bytes, and returns -1
 * (output wiped) when the tag does not verify. */
#define AGE_TAG 16
typedef struct age_stream {
    void *ctx; /* EVP_CIPHER_CTX */
    int encrypt;
} age_stream;
void age_stream_nonce(unsigned char nonce[12], uint64_t counter, int last);
int age_stream_init(age_stream *s, const unsigned char key[32], int encrypt);
void age_stream_release(age_stream *s);
int age_stream_seal(age_stream *s, unsigned char *out, const unsigned char *in, size_t n,
                    uint64_t counter, int last);
int age_stream_open(age_stream *s, unsigned char *out, const unsigned char *in, size_t clen,
                    uint64_t counter, int last);

/* Encrypts whatever `read` yields (age.c). */
int age_encrypt_source(age_read_fn read, void *read_ctx, const char *in_name,
                       const fl_age_recipients *r, int armor, fl_age_sink sink, void *sink_ctx,
                       fl_error *err);
/* A source over a buffer in memory (ctx: age_mem_source). */
typedef struct age_mem_source {
    const unsigned char *data;
    size_t len, pos;
} age_mem_source;
int age_mem_read(void *ctx, unsigned char *buf, size_t cap, size_t *got, fl_age_failure *failure,
                 fl_error *err);
/* Encrypts a buffer into a fsynced temporary sibling of out_path (file.c); *tmp_path (owned)
 * is then the caller's to move into place with fl_atomic_rename or to unlink. */
int age_encrypt_memory_to_temp(const unsigned char *data, size_t len, const char *out_path,
                               const fl_age_recipients *r, int armor, char **tmp_path,
                               fl_error *err);
/* sodium_init() once; aborts if libsodium cannot start (no randomness: nothing is safe). */
void age_sodium_init(void);

/* The ASCII armor (armor.c). The decoder reads from a buffered raw source. */
#define AGE_ARMOR_BEGIN "-----BEGIN AGE ENCRYPTED FILE-----"
#define AGE_ARMOR_END "-----END AGE ENCRYPTED FILE-----"
typedef struct age_armor_reader {
    age_buf *raw;
    const char *name;
    unsigned char out[48];
    size_t out_pos, out_len;
    int started, done, need_end;
} age_armor_reader;
void age_armor_reader_init(age_armor_reader *a, age_buf *raw, const char *name);
int age_armor_read(void *ctx, unsigned char *buf, size_t cap, size_t *got, fl_age_failure *failure,
                   fl_error *err);

typedef struct age_armor_writer {
    fl_age_sink sink;
    void *ctx;
    unsigned char pending[48];
    size_t npending;
    char *line; /* staging for encoded output */
    size_t line_len, line_cap;
} age_armor_writer;
void age_armor_writer_init(age_armor_writer *w, fl_age_sink sink, void *ctx);
int age_armor_write(void *ctx, const unsigned char *data, size_t len, fl_error *err);
int age_armor_finish(age_armor_writer *w, fl_error *err);
void age_armor_writer_release(age_armor_writer *w);

/* ML-KEM-768 (mlkem.c, FIPS 203). Functions return 0, or -1 when OpenSSL's hashes fail or
 * (encaps) the encapsulation key fails its modulus check. */
#define AGE_MLKEM_EK 1184
#define AGE_MLKEM_DK 2400
#define AGE_MLKEM_CT 1088
int age_mlkem768_keygen(const unsigned char d[32], const unsigned char z[32],
                        unsigned char ek[AGE_MLKEM_EK], unsigned char dk[AGE_MLKEM_DK]);
int age_mlkem768_check_ek(const unsigned char ek[AGE_MLKEM_EK]);
int age_mlkem768_encaps(const unsigned char ek[AGE_MLKEM_EK], const unsigned char m[32],
                        unsigned char ct[AGE_MLKEM_CT], unsigned char ss[32]);
int age_mlkem768_decaps(const unsigned char dk[AGE_MLKEM_DK], const unsigned char ct[AGE_MLKEM_CT],
                        unsigned char ss[32]);
uint16_t age_mlkem_compress(uint16_t x, int d); /* exposed for its exhaustive test */
/* SHA3-256(a || b) and SHAKE256(a, outlen) through OpenSSL. */
int age_sha3_256(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen,
                 unsigned char out[32]);
int age_shake256(const unsigned char *a, size_t alen, unsigned char *out, size_t outlen);

/* MLKEM768-X25519, a.k.a. X-Wing (pq.c; c2sp.org/hpke-hybrids, draft-connolly-cfrg-xwing-kem):
 * the 32-byte seed is the private key, public keys are 1216 bytes, ciphertexts 1120. */
#define AGE_XWING_PK (AGE_MLKEM_EK + 32)
#define AGE_XWING_CT (AGE_MLKEM_CT + 32)
int age_xwing_public(const unsigned char seed[32], unsigned char pk[AGE_XWING_PK]);
/* eseed: 32 bytes of ML-KEM message then 32 of X25519 ephemeral secret. Returns -1 when pk
 * is not a valid key (modulus check, or an X25519 share giving the all-zero secret). */
int age_xwing_encaps(const unsigned char pk[AGE_XWING_PK], const unsigned char eseed[64],
                     unsigned char ct[AGE_XWING_CT], unsigned char ss[32]);
/* Returns -1 when the X25519 half of ct is a low-order point (all-zero shared secret). A
 * wrong ML-KEM half is not detected here: implicit rejection yields an unrelated secret. */
int age_xwing_decaps(const unsigned char seed[32], const unsigned char ct[AGE_XWING_CT],
                     unsigned char ss[32]);
/* HPKE (RFC 9180) base mode, KEM MLKEM768-X25519, HKDF-SHA256, ChaCha20Poly1305, empty aad,
 * one message: what age's mlkem768x25519 stanza wraps the file key with. open returns 1
 * when the ciphertext does not authenticate, -1 for a low-order X25519 share. */
int age_hpke_seal(const unsigned char pk[AGE_XWING_PK], const char *info, const unsigned char *pt,
                  size_t len, unsigned char enc[AGE_XWING_CT], unsigned char *ct);
int age_hpke_open(const unsigned char seed[32], const char *info,
                  const unsigned char enc[AGE_XWING_CT], const unsigned char *ct, size_t ct_len,
                  unsigned char *pt);

#endif
