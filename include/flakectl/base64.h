/* base64.h - standard base64 (RFC 4648 §4: A-Z a-z 0-9 + /, '=' padding), the one
 * implementation behind age's armor and stanzas, OpenSSH's known_hosts, Nix's SRI hashes and
 * binary cache keys. Each reader is strict or lenient in its own way; the flags say which. */
#ifndef FLAKECTL_BASE64_H
#define FLAKECTL_BASE64_H

#include <stddef.h>

enum {
    FL_BASE64_PAD = 1,       /* '=' padding to a multiple of 4 characters is required */
    FL_BASE64_NOPAD = 2,     /* no '=' at all (age's stanzas); neither flag: padding optional */
    FL_BASE64_CANONICAL = 4, /* the bits past the last byte must be zero (age, libsodium) */
    FL_BASE64_NIX = 8,       /* Nix's reader: newlines skipped, the first '=' ends the input */
};

/* Decoding results besides 0. */
enum {
    FL_BASE64_EINVAL = -1, /* a character outside the alphabet (its index in *bad) */
    FL_BASE64_EFORM = -2,  /* a length, padding or trailing bits the flags refuse */
    FL_BASE64_ESPACE = -3, /* more than cap bytes (*outlen says how many) */
};

/* The characters that encode n bytes, with or without padding (no NUL counted). */
size_t fl_base64_len(size_t n, int pad);
/* Writes exactly fl_base64_len(n, pad) characters to out, no NUL. */
void fl_base64_encode(const unsigned char *in, size_t n, char *out, int pad);
/* The same as an owned NUL-terminated string. */
char *fl_base64_encode_str(const unsigned char *in, size_t n, int pad);
/* The value (0-63) of an alphabet character, -1 for anything else. */
int fl_base64_value(int c);
/* Decodes n characters into out (room for cap bytes); *outlen gets the number of bytes the
 * input encodes, also when that exceeds cap (bytes past cap are not written). Every
 * character is checked before the form, so an invalid one is reported wherever it is.
 * Returns 0 or one of the FL_BASE64_E* codes; bad (may be NULL) gets the index of an
 * invalid character. */
int fl_base64_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen,
                     size_t *bad, unsigned flags);

#endif
