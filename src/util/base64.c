/* base64.c - standard base64, encoding and decoding with the strictness each format asks
 * for (include/flakectl/base64.h). Pure functions over buffers. */
#include <stdlib.h>

#include "flakectl/base64.h"
#include "flakectl/strbuf.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int fl_base64_value(int c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

size_t fl_base64_len(size_t n, int pad) {
    if (pad)
        return (n + 2) / 3 * 4;
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

void fl_base64_encode(const unsigned char *in, size_t n, char *out, int pad) {
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = alphabet[(v >> 6) & 63];
        *out++ = alphabet[v & 63];
    }
    if (n - i == 0)
        return;
    unsigned v = (unsigned)in[i] << 16 | (n - i == 2 ? (unsigned)in[i + 1] << 8 : 0);
    *out++ = alphabet[v >> 18];
    *out++ = alphabet[(v >> 12) & 63];
    if (n - i == 2)
        *out++ = alphabet[(v >> 6) & 63];
    else if (pad)
        *out++ = '=';
    if (pad)
        *out++ = '=';
}

char *fl_base64_encode_str(const unsigned char *in, size_t n, int pad) {
    size_t len = fl_base64_len(n, pad);
    char *s = fl_xmalloc(len + 1);
    fl_base64_encode(in, n, s, pad);
    s[len] = '\0';
    return s;
}

int fl_base64_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen,
                     size_t *bad, unsigned flags) {
    size_t end = n, npad = 0;
    if (flags & FL_BASE64_NIX) {
        for (end = 0; end < n && in[end] != '='; end++)
            ;
    } else if (!(flags & FL_BASE64_NOPAD)) {
        while (npad < 2 && end > 0 && in[end - 1] == '=') {
            end--;
            npad++;
        }
    }
    size_t o = 0, chars = 0;
    unsigned acc = 0;
    int bits = 0, invalid = 0;
    for (size_t i = 0; i < end; i++) {
        if ((flags & FL_BASE64_NIX) && in[i] == '\n')
            continue;
        int v = fl_base64_value((unsigned char)in[i]);
        if (v < 0) {
            if (bad)
                *bad = i;
            invalid = 1;
            break;
        }
        chars++;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o < cap)
                out[o] = (unsigned char)(acc >> bits);
            o++;
            acc &= (1u << bits) - 1;
        }
    }
    *outlen = o;
    if (invalid)
        return FL_BASE64_EINVAL;
    if (!(flags & FL_BASE64_NIX)) {
        if (chars % 4 == 1)
            return FL_BASE64_EFORM;
        if ((flags & FL_BASE64_PAD) && (chars + npad) % 4 != 0)
            return FL_BASE64_EFORM;
        if (npad && npad != (4 - chars % 4) % 4)
            return FL_BASE64_EFORM;
    }
    if ((flags & FL_BASE64_CANONICAL) && acc != 0)
        return FL_BASE64_EFORM;
    return o > cap ? FL_BASE64_ESPACE : 0;
}
