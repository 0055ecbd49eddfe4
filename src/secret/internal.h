/* internal.h - helpers shared by the files of src/secret/ only: base64 in age's strict
 * flavours, Bech32, HKDF-SHA-256 and the buffered reader the parsers sit on. */
#ifndef FLAKECTL_SECRET_INTERNAL_H
#define FLAKECTL_SECRET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "flakectl/error.h"
#include "flakectl/secret.h"

/* Base64, standard alphabet. Encoding writes exactly age_b64_len(n, pad) chars, no NUL. */
size_t age_b64_len(size_t n, int pad);
void age_b64_encode(const unsigned char *in, size_t n, char *out, int pad);
/* Strict decoding: only alphabet characters, canonical (unused bits zero), padding required
 * when pad is set and forbidden otherwise. out needs room for n * 3 / 4 bytes. Returns 0 or
 * -1. */
int age_b64_decode(const char *in, size_t n, unsigned char *out, size_t *outlen, int pad);
int age_b64_char(int c); /* 1 when c is in the alphabet */

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

#endif
