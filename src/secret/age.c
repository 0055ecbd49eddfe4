/* age.c - the age v1 format: header parsing and writing, the X25519, ssh-ed25519 and scrypt
 * stanzas, the header MAC and the 64 KiB STREAM payload. Plaintext leaves only through the
 * caller's sink, and only one authenticated chunk at a time. Never opens files itself. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/strbuf.h"
#include "secret/internal.h"

#define AGE_INTRO "age-encryption.org/v1"
#define AGE_VERSION_PREFIX "age-encryption.org/"
#define CHUNK 65536
#define TAG crypto_aead_chacha20poly1305_ietf_ABYTES
#define ENC_CHUNK (CHUNK + TAG)
#define FILE_KEY_LEN 16
#define MAX_HEADER_LINE 16384
#define MAX_STANZAS 4096
#define COLUMNS 64
#define SCRYPT_MAX_LOG_N 22 /* age's default limit: 2^22 * 1 KiB = 4 GiB of memory */
#define IO_BUF (1u << 20)

static const char x25519_label[] = "age-encryption.org/v1/X25519";
static const char ssh_label[] = "age-encryption.org/v1/ssh-ed25519";
static const char scrypt_label[] = "age-encryption.org/v1/scrypt";
static const char pq_info[] = "age-encryption.org/mlkem768x25519";
#define PQ_STANZA "mlkem768x25519"

typedef struct stanza {
    char **args; /* args[0] is the type */
    int nargs;
    unsigned char *body;
    size_t body_len;
} stanza;

typedef struct header {
    stanza *v;
    size_t n;
    unsigned char mac[32];
    fl_strbuf raw; /* the bytes the MAC covers: everything up to and including "---" */
} header;

static void header_release(header *h) {
    for (size_t i = 0; i < h->n; i++) {
        for (int k = 0; k < h->v[i].nargs; k++)
            free(h->v[i].args[k]);
        free(h->v[i].args);
        free(h->v[i].body);
    }
    free(h->v);
    fl_strbuf_release(&h->raw);
}

static int fail(fl_age_failure *failure, fl_age_failure kind, fl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(fl_age_failure *failure, fl_age_failure kind, fl_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fl_error_setv(err, FL_ECRYPTO, fmt, ap);
    va_end(ap);
    if (failure)
        *failure = kind;
    return FL_ECRYPTO;
}

#define HEADER_FAIL(...) fail(failure, FL_AGE_HEADER, err, __VA_ARGS__)

/* ---- header parsing ---------------------------------------------------------------- */

static int header_line(age_buf *b, const char *name, const unsigned char **line, size_t *len,
                       fl_age_failure *failure, fl_error *err) {
    int eol;
    int rc = age_buf_line(b, MAX_HEADER_LINE, line, len, &eol, failure, err);
    if (rc == 1)
        return HEADER_FAIL("%s: a header line is longer than %d bytes", name, MAX_HEADER_LINE);
    if (rc)
        return rc;
    if (!eol)
        return HEADER_FAIL("%s: the header is truncated", name);
    return 0;
}

static int parse_args(const unsigned char *line, size_t len, stanza *s, const char *name,
                      fl_age_failure *failure, fl_error *err) {
    size_t i = 3; /* after "-> " */
    while (i <= len) {
        size_t start = i;
        while (i < len && line[i] != ' ')
            i++;
        if (i == start)
            return HEADER_FAIL("%s: a stanza has an empty argument", name);
        for (size_t k = start; k < i; k++)
            if (line[k] < 33 || line[k] > 126)
                return HEADER_FAIL("%s: a stanza argument has an invalid character", name);
        s->args = fl_xrealloc(s->args, sizeof(char *) * (size_t)(s->nargs + 1));
        s->args[s->nargs++] = fl_xstrndup((const char *)line + start, i - start);
        i++;
    }
    return 0;
}

static int parse_body(age_buf *b, stanza *s, fl_strbuf *raw, const char *name,
                      fl_age_failure *failure, fl_error *err) {
    fl_strbuf text;
    fl_strbuf_init(&text, 0);
    int rc = 0;
    for (;;) {
        const unsigned char *line;
        size_t len;
        if ((rc = header_line(b, name, &line, &len, failure, err)) != 0)
            break;
        if (len > COLUMNS) {
            rc = HEADER_FAIL("%s: a stanza body line is longer than 64 columns", name);
            break;
        }
        for (size_t i = 0; i < len && !rc; i++)
            if (!(fl_base64_value((unsigned char)line[i]) >= 0))
                rc = HEADER_FAIL("%s: a stanza body is not canonical unpadded base64 (or a "
                                 "stanza has no body line)",
                                 name);
        if (rc)
            break;
        fl_strbuf_add(&text, line, len);
        fl_strbuf_add(raw, line, len);
        fl_strbuf_addch(raw, '\n');
        age_buf_skip(b, len + 1);
        if (len < COLUMNS)
            break;
    }
    if (!rc) {
        size_t cap = text.len / 4 * 3 + 3;
        s->body = fl_xmalloc(cap);
        if (fl_base64_decode(text.buf, text.len, s->body, cap, &s->body_len, NULL,
                             AGE_B64_UNPADDED) != 0)
            rc = HEADER_FAIL("%s: a stanza body is not canonical base64", name);
    }
    fl_strbuf_release(&text);
    return rc;
}

static int parse_header(age_buf *b, const char *name, header *h, fl_age_failure *failure,
                        fl_error *err) {
    const unsigned char *line;
    size_t len;
    int eol, rc;
    rc = age_buf_line(b, MAX_HEADER_LINE, &line, &len, &eol, failure, err);
    if (rc < 0)
        return rc;
    if (rc == 0 && eol && len == strlen(AGE_INTRO) && !memcmp(line, AGE_INTRO, len)) {
        /* the expected version line */
    } else if (rc == 0 && len == strlen(AGE_INTRO) + 1 && !memcmp(line, AGE_INTRO, len - 1) &&
               line[len - 1] == '\r') {
        return HEADER_FAIL("%s: the header has CRLF line endings (the file went through a text "
                           "conversion and is damaged)",
                           name);
    } else if (rc == 0 && len >= strlen(AGE_VERSION_PREFIX) &&
               !memcmp(line, AGE_VERSION_PREFIX, strlen(AGE_VERSION_PREFIX))) {
        return HEADER_FAIL("%s: unsupported age format version (only v1 is known)", name);
    } else {
        return HEADER_FAIL("%s: not an age file (no \"" AGE_INTRO "\" header)", name);
    }
    fl_strbuf_add(&h->raw, line, len);
    fl_strbuf_addch(&h->raw, '\n');
    age_buf_skip(b, len + 1);
    for (;;) {
        if ((rc = header_line(b, name, &line, &len, failure, err)) != 0)
            return rc;
        if (len >= 3 && !memcmp(line, "-> ", 3)) {
            if (h->n >= MAX_STANZAS)
                return HEADER_FAIL("%s: more than %d stanzas", name, MAX_STANZAS);
            h->v = fl_xrealloc(h->v, sizeof(stanza) * (h->n + 1));
            stanza *s = &h->v[h->n++];
            memset(s, 0, sizeof *s);
            if ((rc = parse_args(line, len, s, name, failure, err)) != 0)
                return rc;
            fl_strbuf_add(&h->raw, line, len);
            fl_strbuf_addch(&h->raw, '\n');
            age_buf_skip(b, len + 1);
            if ((rc = parse_body(b, s, &h->raw, name, failure, err)) != 0)
                return rc;
            continue;
        }
        if (len >= 3 && !memcmp(line, "---", 3)) {
            size_t mac_len = 0;
            if (len != 4 + 43 || line[3] != ' ' ||
                fl_base64_decode((const char *)line + 4, 43, h->mac, sizeof h->mac, &mac_len, NULL,
                                 AGE_B64_UNPADDED) != 0 ||
                mac_len != 32)
                return HEADER_FAIL("%s: the header MAC line is malformed", name);
            fl_strbuf_add(&h->raw, "---", 3);
            age_buf_skip(b, len + 1);
            break;
        }
        return HEADER_FAIL("%s: a header line is neither a stanza (\"-> \") nor the MAC "
                           "(\"--- \")",
                           name);
    }
    if (h->n == 0)
        return HEADER_FAIL("%s: the header has no recipient stanzas", name);
    for (size_t i = 0; i < h->n; i++)
        if (!strcmp(h->v[i].args[0], "scrypt") && h->n != 1)
            return HEADER_FAIL("%s: a passphrase (scrypt) stanza must be the only one", name);
    return 0;
}

/* ---- stanzas ------------------------------------------------------------------------ */

static const unsigned char zero_nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

/* Returns 0 with the file key, 1 when the key does not open the body. */
static int open_body(const unsigned char key[32], const stanza *s,
                     unsigned char file_key[FILE_KEY_LEN]) {
    unsigned long long n = 0;
    int rc = crypto_aead_chacha20poly1305_ietf_decrypt(file_key, &n, NULL, s->body, s->body_len,
                                                       NULL, 0, zero_nonce, key);
    return rc == 0 && n == FILE_KEY_LEN ? 0 : 1;
}

static int decode_arg(const char *arg, unsigned char *out, size_t want) {
    unsigned char tmp[64];
    size_t n = strlen(arg), got = 0;
    if (n > sizeof tmp * 4 / 3 ||
        fl_base64_decode(arg, n, tmp, sizeof tmp, &got, NULL, AGE_B64_UNPADDED) != 0 || got != want)
        return -1;
    memcpy(out, tmp, want);
    return 0;
}

/* The identity tries one stanza of its own type: 0 = opened, 1 = not ours, <0 = malformed. */
static int unwrap_x25519(const fl_age_identity *id, const stanza *s, unsigned char *fk,
                         const char *name, fl_age_failure *failure, fl_error *err) {
    unsigned char share[32], shared[32], salt[64], key[32];
    if (s->nargs != 2 || decode_arg(s->args[1], share, 32) != 0)
        return HEADER_FAIL("%s: malformed X25519 stanza (it needs one 32-byte share)", name);
    if (s->body_len != 32)
        return HEADER_FAIL("%s: malformed X25519 stanza (the wrapped file key is not 16 bytes)",
                           name);
    if (crypto_scalarmult(shared, id->secret, share) != 0)
        return HEADER_FAIL("%s: X25519 stanza with a low-order share", name);
    memcpy(salt, share, 32);
    memcpy(salt + 32, id->x25519, 32);
    age_hkdf(salt, 64, shared, 32, x25519_label, key, 32);
    int rc = open_body(key, s, fk);
    sodium_memzero(shared, sizeof shared);
    sodium_memzero(key, sizeof key);
    return rc;
}

static void ssh_tag(const unsigned char wire[FL_AGE_SSH_WIRE_LEN], unsigned char tag[4]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, wire, FL_AGE_SSH_WIRE_LEN);
    memcpy(tag, h, 4);
}

static int unwrap_ssh(const fl_age_identity *id, const stanza *s, unsigned char *fk,
                      const char *name, fl_age_failure *failure, fl_error *err) {
    unsigned char tag[4], want[4], share[32], shared[32], tweak[32], salt[64], key[32];
    if (s->nargs != 3 || decode_arg(s->args[1], tag, 4) != 0 ||
        decode_arg(s->args[2], share, 32) != 0)
        return HEADER_FAIL("%s: malformed ssh-ed25519 stanza", name);
    if (s->body_len != 32)
        return HEADER_FAIL("%s: malformed ssh-ed25519 stanza (the wrapped file key is not 16 "
                           "bytes)",
                           name);
    ssh_tag(id->ssh_wire, want);
    if (memcmp(tag, want, 4) != 0)
        return 1;
    if (crypto_scalarmult(shared, id->secret, share) != 0)
        return HEADER_FAIL("%s: ssh-ed25519 stanza with a low-order share", name);
    age_hkdf(id->ssh_wire, FL_AGE_SSH_WIRE_LEN, (const unsigned char *)"", 0, ssh_label, tweak, 32);
    /* libsodium writes the clamped scalar into the output before reading the point:
     * the output must not alias the input. */
    unsigned char dh[32];
    memcpy(dh, shared, 32);
    if (crypto_scalarmult(shared, tweak, dh) != 0)
        return HEADER_FAIL("%s: ssh-ed25519 stanza with a low-order share", name);
    sodium_memzero(dh, sizeof dh);
    memcpy(salt, share, 32);
    memcpy(salt + 32, id->x25519, 32);
    age_hkdf(salt, 64, shared, 32, ssh_label, key, 32);
    int rc = open_body(key, s, fk);
    sodium_memzero(shared, sizeof shared);
    sodium_memzero(key, sizeof key);
    return rc;
}

static int unwrap_scrypt(const fl_age_identity *id, const stanza *s, unsigned char *fk,
                         const char *name, fl_age_failure *failure, fl_error *err) {
    unsigned char salt[sizeof scrypt_label - 1 + 16], key[32];
    memcpy(salt, scrypt_label, sizeof scrypt_label - 1);
    if (s->nargs != 3 || decode_arg(s->args[1], salt + sizeof scrypt_label - 1, 16) != 0)
        return HEADER_FAIL("%s: malformed scrypt stanza (it needs a 16-byte salt)", name);
    const char *w = s->args[2];
    size_t wl = strlen(w);
    int ok = wl >= 1 && wl <= 2 && w[0] >= '1' && w[0] <= '9';
    for (size_t i = 1; ok && i < wl; i++)
        ok = w[i] >= '0' && w[i] <= '9';
    int log_n = ok ? atoi(w) : 0;
    if (!ok || log_n < 1)
        return HEADER_FAIL("%s: malformed scrypt work factor '%s'", name, w);
    if (log_n > SCRYPT_MAX_LOG_N)
        return HEADER_FAIL("%s: scrypt work factor %d is above the limit of %d", name, log_n,
                           SCRYPT_MAX_LOG_N);
    if (s->body_len != 32)
        return HEADER_FAIL("%s: malformed scrypt stanza (the wrapped file key is not 16 bytes)",
                           name);
    if (crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *)id->passphrase,
                                              strlen(id->passphrase), salt, sizeof salt,
                                              (uint64_t)1 << log_n, 8, 1, key, sizeof key) != 0)
        return HEADER_FAIL("%s: scrypt failed (out of memory?)", name);
    int rc = open_body(key, s, fk);
    sodium_memzero(key, sizeof key);
    return rc;
}

/* The enc argument: canonical unpadded base64 of exactly AGE_XWING_CT bytes. */
static int decode_enc(const char *arg, unsigned char enc[AGE_XWING_CT]) {
    size_t n = strlen(arg), got = 0;
    if (n != fl_base64_len(AGE_XWING_CT, 0))
        return -1;
    unsigned char *tmp = fl_xmalloc(n);
    int rc =
        fl_base64_decode(arg, n, tmp, n, &got, NULL, AGE_B64_UNPADDED) == 0 && got == AGE_XWING_CT
            ? 0
            : -1;
    if (rc == 0)
        memcpy(enc, tmp, AGE_XWING_CT);
    free(tmp);
    return rc;
}

static int unwrap_pq(const fl_age_identity *id, const stanza *s, unsigned char *fk,
                     const char *name, fl_age_failure *failure, fl_error *err) {
    unsigned char enc[AGE_XWING_CT];
    if (s->nargs != 2 || decode_enc(s->args[1], enc) != 0)
        return HEADER_FAIL("%s: malformed " PQ_STANZA " stanza (it needs one %d-byte "
                           "encapsulated key)",
                           name, AGE_XWING_CT);
    if (s->body_len != 32)
        return HEADER_FAIL("%s: malformed " PQ_STANZA " stanza (the wrapped file key is not 16 "
                           "bytes)",
                           name);
    int rc = age_hpke_open(id->secret, pq_info, enc, s->body, s->body_len, fk);
    if (rc < 0)
        return HEADER_FAIL("%s: " PQ_STANZA " stanza with a low-order X25519 share", name);
    return rc;
}

static const char *type_name(fl_age_key_type t) {
    return t == FL_AGE_X25519        ? "X25519"
           : t == FL_AGE_SSH_ED25519 ? "ssh-ed25519"
           : t == FL_AGE_PQ          ? PQ_STANZA
                                     : "scrypt";
}

static void describe_identities(fl_strbuf *sb, const fl_age_identities *ids) {
    for (size_t i = 0; i < ids->n; i++) {
        const fl_age_identity *id = &ids->v[i];
        fl_strbuf_addf(sb, "%s%s key", i ? ", " : "", type_name(id->type));
        if (id->type == FL_AGE_X25519) {
            /* (an age1pq1… recipient is some 1,950 characters: not worth printing) */
            char *r = fl_age_identity_recipient(id);
            fl_strbuf_addf(sb, " %s", r);
            free(r);
        }
        if (id->source)
            fl_strbuf_addf(sb, " from %s", id->source);
    }
}

static int unwrap_file_key(const header *h, const fl_age_identities *ids, const char *name,
                           unsigned char *fk, fl_age_failure *failure, fl_error *err) {
    int has_scrypt = 0, have_pass = 0;
    for (size_t i = 0; i < ids->n; i++) {
        const fl_age_identity *id = &ids->v[i];
        have_pass |= id->type == FL_AGE_SCRYPT;
        for (size_t k = 0; k < h->n; k++) {
            const stanza *s = &h->v[k];
            int rc = 1;
            if (strcmp(s->args[0], type_name(id->type)) != 0)
                continue;
            if (id->type == FL_AGE_X25519)
                rc = unwrap_x25519(id, s, fk, name, failure, err);
            else if (id->type == FL_AGE_SSH_ED25519)
                rc = unwrap_ssh(id, s, fk, name, failure, err);
            else if (id->type == FL_AGE_PQ)
                rc = unwrap_pq(id, s, fk, name, failure, err);
            else
                rc = unwrap_scrypt(id, s, fk, name, failure, err);
            if (rc <= 0)
                return rc;
        }
    }
    for (size_t k = 0; k < h->n; k++)
        has_scrypt |= !strcmp(h->v[k].args[0], "scrypt");
    if (has_scrypt && !have_pass) {
        fail(failure, FL_AGE_UNSUPPORTED, err, "%s: passphrase-encrypted files are not supported",
             name);
        fl_error_set_hint(err, "decrypt it with 'age -d' and re-encrypt it to age or ssh keys");
        return FL_ECRYPTO;
    }
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    describe_identities(&sb, ids);
    fail(failure, FL_AGE_NO_MATCH, err, "%s: none of the identities can decrypt it (tried %s)",
         name, ids->n ? sb.buf : "no identities");
    fl_strbuf_reset(&sb);
    for (size_t k = 0; k < h->n; k++)
        fl_strbuf_addf(&sb, "%s%s", k ? ", " : "", h->v[k].args[0]);
    fl_error_set_hint(err,
                      "the file is encrypted to %zu recipient(s) (%s); pass the matching "
                      "key with -i",
                      h->n, sb.buf);
    fl_strbuf_release(&sb);
    return FL_ECRYPTO;
}

/* ---- STREAM ------------------------------------------------------------------------- */

/* Like age: a full-size chunk is first tried as a middle chunk, then as the final one, and
 * released once it authenticates; only then is what follows checked (a final chunk must be
 * the end of the file, a middle chunk must be followed by another). */
static int decrypt_payload(age_buf *b, const unsigned char key[32], const char *name,
                           fl_age_sink sink, void *ctx, fl_age_failure *failure, fl_error *err) {
    age_stream st;
    if (age_stream_init(&st, key, 0) != 0)
        return fail(failure, FL_AGE_IO, err, "%s: cannot set up ChaCha20-Poly1305", name);
    unsigned char *plain = fl_xmalloc(CHUNK);
    uint64_t counter = 0;
    int rc = 0;
    for (;;) {
        if ((rc = age_buf_fill(b, ENC_CHUNK, failure, err)) != 0)
            break;
        size_t clen = age_buf_avail(b) < ENC_CHUNK ? age_buf_avail(b) : ENC_CHUNK;
        const unsigned char *c = b->data + b->start;
        if (clen < TAG) {
            rc = fail(failure, FL_AGE_PAYLOAD, err,
                      clen > 0       ? "%s: the file is truncated (a chunk shorter than its tag)"
                      : counter == 0 ? "%s: the file is truncated (no payload after the header)"
                                     : "%s: the file is truncated (the final chunk is missing)",
                      name);
            break;
        }
        size_t mlen = clen - TAG;
        int last = 0;
        if (clen < ENC_CHUNK || age_stream_open(&st, plain, c, clen, counter, 0) != 0) {
            last = 1;
            if (age_stream_open(&st, plain, c, clen, counter, 1) != 0) {
                rc = fail(failure, FL_AGE_PAYLOAD, err,
                          "%s: chunk #%llu does not authenticate: the file is truncated or "
                          "corrupt",
                          name, (unsigned long long)counter);
                break;
            }
        }
        if (last && mlen == 0 && counter > 0) {
            rc = fail(failure, FL_AGE_PAYLOAD, err,
                      "%s: the final chunk is empty (not allowed after a full chunk)", name);
            break;
        }
        if (mlen > 0 && (rc = sink(ctx, plain, mlen, err)) != 0) {
            if (failure)
                *failure = FL_AGE_IO;
            break;
        }
        age_buf_skip(b, clen);
        if (last) {
            if ((rc = age_buf_fill(b, 1, failure, err)) == 0 && age_buf_avail(b) > 0)
                rc = fail(failure, FL_AGE_PAYLOAD, err,
                          "%s: data after the final chunk (the file was tampered with or "
                          "concatenated)",
                          name);
            break;
        }
        counter++;
    }
    sodium_memzero(plain, CHUNK);
    free(plain);
    age_stream_release(&st);
    return rc;
}

int fl_age_decrypt_fd(int in_fd, const char *in_name, const fl_age_identities *ids, int armor_mode,
                      fl_age_sink sink, void *sink_ctx, fl_age_failure *failure, fl_error *err) {
    age_fd_source src = {in_fd, in_name};
    age_buf raw, armored, *b = &raw;
    age_armor_reader ar;
    header h;
    unsigned char fk[FILE_KEY_LEN], key[32], mac[32], nonce[16];
    int rc;
    if (failure)
        *failure = FL_AGE_OK;
    age_sodium_init();
    memset(&h, 0, sizeof h);
    fl_strbuf_init(&h.raw, 0);
    age_buf_init(&raw, age_fd_read, &src, IO_BUF);
    memset(&armored, 0, sizeof armored);
    int armor = armor_mode == FL_AGE_ARMOR_YES;
    if (armor_mode == FL_AGE_ARMOR_AUTO) {
        /* Whitespace may precede the armor; a binary file starts with the version line. */
        if ((rc = age_buf_fill(&raw, 1024, failure, err)) != 0)
            goto out;
        size_t i = raw.start;
        while (i < raw.end && strchr(" \t\r\n", raw.data[i]))
            i++;
        armor = raw.end - i >= 10 && !memcmp(raw.data + i, "-----BEGIN", 10);
    }
    if (armor) {
        age_armor_reader_init(&ar, &raw, in_name);
        age_buf_init(&armored, age_armor_read, &ar, IO_BUF);
        b = &armored;
    }
    if ((rc = parse_header(b, in_name, &h, failure, err)) != 0)
        goto out;
    if ((rc = unwrap_file_key(&h, ids, in_name, fk, failure, err)) != 0)
        goto out;
    age_hkdf(NULL, 0, fk, FILE_KEY_LEN, "header", key, 32);
    crypto_auth_hmacsha256(mac, (const unsigned char *)h.raw.buf, h.raw.len, key);
    if (sodium_memcmp(mac, h.mac, 32) != 0) {
        rc = fail(failure, FL_AGE_HMAC, err,
                  "%s: the header MAC does not match: the header was changed or is corrupt",
                  in_name);
        goto out;
    }
    if ((rc = age_buf_fill(b, 16, failure, err)) != 0)
        goto out;
    if (age_buf_avail(b) < 16) {
        rc = HEADER_FAIL("%s: the file is truncated (no payload nonce after the header)", in_name);
        goto out;
    }
    memcpy(nonce, b->data + b->start, 16);
    age_buf_skip(b, 16);
    age_hkdf(nonce, 16, fk, FILE_KEY_LEN, "payload", key, 32);
    rc = decrypt_payload(b, key, in_name, sink, sink_ctx, failure, err);
out:
    sodium_memzero(fk, sizeof fk);
    sodium_memzero(key, sizeof key);
    header_release(&h);
    if (armor)
        age_buf_release(&armored);
    age_buf_release(&raw);
    return rc;
}

/* ---- encryption --------------------------------------------------------------------- */

static void write_stanza(fl_strbuf *raw, const char *args, const unsigned char *body,
                         size_t body_len) {
    char text[128];
    size_t n = fl_base64_len(body_len, 0);
    fl_base64_encode(body, body_len, text, 0);
    fl_strbuf_addf(raw, "-> %s\n", args);
    /* Every body ends with a line shorter than 64 columns, empty if need be. */
    for (size_t i = 0;; i += COLUMNS) {
        size_t take = n - i < COLUMNS ? n - i : COLUMNS;
        fl_strbuf_add(raw, text + i, take);
        fl_strbuf_addch(raw, '\n');
        if (take < COLUMNS)
            break;
    }
}

/* HPKE SealBase to the recipient's MLKEM768-X25519 key; the key passed its checks when it
 * was parsed, so sealing fails only if OpenSSL's hashes do. */
static int wrap_pq(const fl_age_recipient *r, const unsigned char fk[FILE_KEY_LEN], fl_strbuf *raw,
                   fl_error *err) {
    unsigned char enc[AGE_XWING_CT], body[FILE_KEY_LEN + TAG];
    if (age_hpke_seal(r->pq, pq_info, fk, FILE_KEY_LEN, enc, body) != 0)
        return fl_error_set(err, FL_ECRYPTO, "%s: cannot encrypt to this post-quantum recipient",
                            r->label);
    size_t n = fl_base64_len(AGE_XWING_CT, 0);
    char *args = fl_xmalloc(sizeof PQ_STANZA + 1 + n);
    memcpy(args, PQ_STANZA " ", sizeof PQ_STANZA);
    fl_base64_encode(enc, AGE_XWING_CT, args + sizeof PQ_STANZA, 0);
    args[sizeof PQ_STANZA + n] = '\0';
    write_stanza(raw, args, body, sizeof body);
    free(args);
    return 0;
}

/* age's rule: a file encrypted to a post-quantum recipient must not also be readable with
 * a key a quantum computer could break, so the two kinds are not mixed. */
static int check_mix(const fl_age_recipients *r, fl_error *err) {
    const fl_age_recipient *pq = NULL, *classic = NULL;
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].type == FL_AGE_PQ)
            pq = pq ? pq : &r->v[i];
        else
            classic = classic ? classic : &r->v[i];
    }
    if (!pq || !classic)
        return 0;
    fl_error_set(err, FL_EUSAGE,
                 "cannot encrypt to both a post-quantum recipient (%s) and a classic one (%s)",
                 pq->label, classic->label);
    fl_error_set_hint(err, "the classic key would undo the post-quantum protection; encrypt to "
                           "age1pq1… keys only, or to classic keys only (as age does)");
    return FL_EUSAGE;
}

static void wrap_for(const fl_age_recipient *r, const unsigned char fk[FILE_KEY_LEN],
                     fl_strbuf *raw) {
    unsigned char eph[32], share[32], shared[32], salt[64], key[32], body[FILE_KEY_LEN + TAG];
    char args[128], b64[64];
    randombytes_buf(eph, sizeof eph);
    crypto_scalarmult_base(share, eph);
    /* The recipient key was validated when parsed, so the product is never all-zero. */
    if (crypto_scalarmult(shared, eph, r->x25519) != 0)
        randombytes_buf(shared, sizeof shared);
    const char *label = x25519_label;
    fl_base64_encode(share, 32, b64, 0);
    b64[43] = '\0';
    if (r->type == FL_AGE_SSH_ED25519) {
        unsigned char tweak[32], tag[4];
        char tag64[8];
        age_hkdf(r->ssh_wire, FL_AGE_SSH_WIRE_LEN, (const unsigned char *)"", 0, ssh_label, tweak,
                 32);
        unsigned char dh[32];
        memcpy(dh, shared, 32);
        if (crypto_scalarmult(shared, tweak, dh) != 0)
            randombytes_buf(shared, sizeof shared);
        sodium_memzero(dh, sizeof dh);
        ssh_tag(r->ssh_wire, tag);
        fl_base64_encode(tag, 4, tag64, 0);
        tag64[6] = '\0';
        snprintf(args, sizeof args, "ssh-ed25519 %s %s", tag64, b64);
        label = ssh_label;
    } else {
        snprintf(args, sizeof args, "X25519 %s", b64);
    }
    memcpy(salt, share, 32);
    memcpy(salt + 32, r->x25519, 32);
    age_hkdf(salt, 64, shared, 32, label, key, 32);
    crypto_aead_chacha20poly1305_ietf_encrypt(body, NULL, fk, FILE_KEY_LEN, NULL, 0, NULL,
                                              zero_nonce, key);
    write_stanza(raw, args, body, sizeof body);
    sodium_memzero(eph, sizeof eph);
    sodium_memzero(shared, sizeof shared);
    sodium_memzero(key, sizeof key);
}

#define ENC_BATCH 16 /* chunks per write */

int age_encrypt_source(age_read_fn read, void *read_ctx, const char *in_name,
                       const fl_age_recipients *r, int armor, fl_age_sink sink, void *sink_ctx,
                       fl_error *err) {
    unsigned char fk[FILE_KEY_LEN], key[32], mac[32], nonce[16];
    age_stream st;
    age_armor_writer aw;
    fl_age_sink out = sink;
    void *out_ctx = sink_ctx;
    fl_strbuf raw;
    int rc;
    if (r->n == 0)
        return fl_error_set(err, FL_EUSAGE, "no recipients to encrypt %s to", in_name);
    if ((rc = check_mix(r, err)) != 0)
        return rc;
    age_sodium_init();
    if (armor) {
        age_armor_writer_init(&aw, sink, sink_ctx);
        out = age_armor_write;
        out_ctx = &aw;
    }
    randombytes_buf(fk, sizeof fk);
    fl_strbuf_init(&raw, 512);
    fl_strbuf_adds(&raw, AGE_INTRO "\n");
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].type != FL_AGE_PQ) {
            wrap_for(&r->v[i], fk, &raw);
        } else if ((rc = wrap_pq(&r->v[i], fk, &raw, err)) != 0) {
            sodium_memzero(fk, sizeof fk);
            fl_strbuf_release(&raw);
            if (armor)
                age_armor_writer_release(&aw);
            return rc;
        }
    }
    fl_strbuf_adds(&raw, "---");
    age_hkdf(NULL, 0, fk, FILE_KEY_LEN, "header", key, 32);
    crypto_auth_hmacsha256(mac, (const unsigned char *)raw.buf, raw.len, key);
    char mac64[44];
    fl_base64_encode(mac, 32, mac64, 0);
    fl_strbuf_addch(&raw, ' ');
    fl_strbuf_add(&raw, mac64, 43);
    fl_strbuf_addch(&raw, '\n');
    randombytes_buf(nonce, sizeof nonce);
    fl_strbuf_add(&raw, nonce, sizeof nonce);
    rc = out(out_ctx, (const unsigned char *)raw.buf, raw.len, err);
    fl_strbuf_release(&raw);
    age_hkdf(nonce, 16, fk, FILE_KEY_LEN, "payload", key, 32);
    sodium_memzero(fk, sizeof fk);
    if (rc == 0 && age_stream_init(&st, key, 1) != 0)
        rc = fl_error_set(err, FL_ECRYPTO, "cannot set up ChaCha20-Poly1305");
    if (rc) {
        sodium_memzero(key, sizeof key);
        if (armor)
            age_armor_writer_release(&aw);
        return rc;
    }

    age_buf in;
    age_buf_init(&in, read, read_ctx, IO_BUF);
    unsigned char *batch = fl_xmalloc((size_t)ENC_BATCH * ENC_CHUNK);
    size_t used = 0;
    uint64_t counter = 0;
    while (rc == 0) {
        if ((rc = age_buf_fill(&in, CHUNK + 1, NULL, err)) != 0)
            break;
        size_t avail = age_buf_avail(&in);
        int last = avail <= CHUNK;
        size_t n = last ? avail : CHUNK;
        if (age_stream_seal(&st, batch + used, in.data + in.start, n, counter++, last) != 0) {
            rc = fl_error_set(err, FL_ECRYPTO, "ChaCha20-Poly1305 failed");
            break;
        }
        used += n + TAG;
        age_buf_skip(&in, n);
        if (last || used + ENC_CHUNK > (size_t)ENC_BATCH * ENC_CHUNK) {
            rc = out(out_ctx, batch, used, err);
            used = 0;
        }
        if (last)
            break;
    }
    /* The input buffer held plaintext. */
    sodium_memzero(in.data, in.cap);
    age_buf_release(&in);
    free(batch);
    age_stream_release(&st);
    sodium_memzero(key, sizeof key);
    if (armor) {
        if (rc == 0)
            rc = age_armor_finish(&aw, err);
        age_armor_writer_release(&aw);
    }
    return rc;
}

int fl_age_encrypt_fd(int in_fd, const char *in_name, const fl_age_recipients *r, int armor,
                      fl_age_sink sink, void *sink_ctx, fl_error *err) {
    age_fd_source src = {in_fd, in_name};
    return age_encrypt_source(age_fd_read, &src, in_name, r, armor, sink, sink_ctx, err);
}
