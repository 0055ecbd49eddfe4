/* sshwire.h - reading OpenSSH's binary encodings (RFC 4251 §5: uint32, string), the one
 * reader behind age's ssh-ed25519 keys and the SSHSIG signatures of Git commits, and the
 * base64 with line breaks that OpenSSH's armors and key files use. */
#ifndef FLAKECTL_SSHWIRE_H
#define FLAKECTL_SSHWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "flakectl/strbuf.h"

/* What is left to read: p[0..n). */
typedef struct fl_sshwire {
    const unsigned char *p;
    size_t n;
} fl_sshwire;

/* Each takes one item from the front of w; -1 (w unchanged) when w is too short. */
int fl_sshwire_u32(fl_sshwire *w, uint32_t *v);
int fl_sshwire_string(fl_sshwire *w, fl_sshwire *out);
/* 1 when w holds exactly the bytes of s. */
int fl_sshwire_is(const fl_sshwire *w, const char *s);
/* Appends string(p[0..n)). */
void fl_sshwire_put_string(fl_strbuf *sb, const void *p, size_t n);
/* base64 of s[0..n) with white space skipped, decoded with flags (FL_BASE64_*) into *out
 * (owned, *outlen bytes); -1 (nothing owned) when it does not decode. */
int fl_sshwire_unbase64(const char *s, size_t n, unsigned flags, unsigned char **out,
                        size_t *outlen);
/* The key of "ssh-ed25519 BASE64 [comment]" (as in a .pub file; text starts with the type):
 * 0, -1 when BASE64 does not decode, -2 when it is not an ed25519 key blob. */
int fl_sshwire_ed25519_public(const char *text, unsigned char pk[32]);

#endif
