/* encoding.c - Bech32, the other byte encoding age is strict about (base64 is
 * util's, flakectl/base64.h, with FL_BASE64_CANONICAL), and HKDF. Pure functions over buffers: no
 * I/O, no key handling. */
#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/strbuf.h"
#include "secret/internal.h"

static const char bech32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static unsigned bech32_polymod_step(unsigned chk, unsigned v) {
    static const unsigned gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    unsigned top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; i++)
        if ((top >> i) & 1)
            chk ^= gen[i];
    return chk;
}

static unsigned bech32_hrp_checksum(const char *hrp, size_t n) {
    unsigned chk = 1;
    for (size_t i = 0; i < n; i++)
        chk = bech32_polymod_step(chk, (unsigned)tolower((unsigned char)hrp[i]) >> 5);
    chk = bech32_polymod_step(chk, 0);
    for (size_t i = 0; i < n; i++)
        chk = bech32_polymod_step(chk, (unsigned)tolower((unsigned char)hrp[i]) & 31);
    return chk;
}

char *age_bech32_encode(const char *hrp, const unsigned char *data, size_t len) {
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    size_t hl = strlen(hrp);
    for (size_t i = 0; i < hl; i++)
        fl_strbuf_addch(&sb, (char)tolower((unsigned char)hrp[i]));
    fl_strbuf_addch(&sb, '1');
    unsigned chk = bech32_hrp_checksum(hrp, hl);
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len) {
            acc = (acc << 8) | data[i];
            bits += 8;
        } else if (bits > 0) {
            acc <<= 5 - bits;
            bits = 5;
        }
        while (bits >= 5) {
            bits -= 5;
            unsigned v = (acc >> bits) & 31;
            chk = bech32_polymod_step(chk, v);
            fl_strbuf_addch(&sb, bech32_charset[v]);
        }
        acc &= (1u << bits) - 1;
    }
    for (int i = 0; i < 6; i++)
        chk = bech32_polymod_step(chk, 0);
    chk ^= 1;
    for (int i = 0; i < 6; i++)
        fl_strbuf_addch(&sb, bech32_charset[(chk >> (5 * (5 - i))) & 31]);
    return fl_strbuf_detach(&sb, NULL);
}

int age_bech32_decode(const char *s, char *hrp, size_t hrp_cap, unsigned char *out, size_t out_cap,
                      size_t *outlen) {
    size_t n = strlen(s);
    int lower = 0, upper = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c > 126)
            return -1;
        lower |= islower(c) != 0;
        upper |= isupper(c) != 0;
    }
    if (lower && upper)
        return -1;
    const char *sep = strrchr(s, '1');
    if (!sep || sep == s || (size_t)(s + n - sep) < 7)
        return -1;
    size_t hl = (size_t)(sep - s);
    if (hl + 1 > hrp_cap)
        return -1;
    for (size_t i = 0; i < hl; i++)
        hrp[i] = (char)tolower((unsigned char)s[i]);
    hrp[hl] = '\0';
    unsigned chk = bech32_hrp_checksum(hrp, hl);
    const char *d = sep + 1;
    size_t dl = (size_t)(s + n - d);
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < dl; i++) {
        const char *p = strchr(bech32_charset, tolower((unsigned char)d[i]));
        if (!p || !*p)
            return -1;
        unsigned v = (unsigned)(p - bech32_charset);
        chk = bech32_polymod_step(chk, v);
        if (i >= dl - 6)
            continue; /* checksum characters carry no data */
        acc = (acc << 5) | v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (o >= out_cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (chk != 1 || bits >= 5 || acc != 0)
        return -1;
    *outlen = o;
    return 0;
}

void age_hkdf(const unsigned char *salt, size_t salt_len, const unsigned char *ikm, size_t ikm_len,
              const char *info, unsigned char *out, size_t out_len) {
    unsigned char prk[crypto_auth_hmacsha256_BYTES];
    unsigned char t[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    /* An absent salt is HashLen zero bytes; HMAC pads short keys with zeros anyway. */
    crypto_auth_hmacsha256_init(&st, salt_len ? salt : (const unsigned char *)"", salt_len);
    crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
    crypto_auth_hmacsha256_final(&st, prk);
    size_t done = 0, tlen = 0;
    for (unsigned char counter = 1; done < out_len; counter++) {
        crypto_auth_hmacsha256_init(&st, prk, sizeof prk);
        crypto_auth_hmacsha256_update(&st, t, tlen);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)info, strlen(info));
        crypto_auth_hmacsha256_update(&st, &counter, 1);
        crypto_auth_hmacsha256_final(&st, t);
        tlen = sizeof t;
        size_t take = out_len - done < tlen ? out_len - done : tlen;
        memcpy(out + done, t, take);
        done += take;
    }
    sodium_memzero(prk, sizeof prk);
    sodium_memzero(t, sizeof t);
    sodium_memzero(&st, sizeof st);
}

void age_sodium_init(void) {
    if (sodium_init() < 0)
        abort();
}
