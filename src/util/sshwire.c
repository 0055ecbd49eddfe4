/* sshwire.c - OpenSSH's uint32 and string encodings, and its line-broken base64. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/base64.h"
#include "flakectl/sshwire.h"

int fl_sshwire_u32(fl_sshwire *w, uint32_t *v) {
    if (w->n < 4)
        return -1;
    *v = (uint32_t)w->p[0] << 24 | (uint32_t)w->p[1] << 16 | (uint32_t)w->p[2] << 8 | w->p[3];
    w->p += 4;
    w->n -= 4;
    return 0;
}

int fl_sshwire_string(fl_sshwire *w, fl_sshwire *out) {
    fl_sshwire t = *w;
    uint32_t len;
    if (fl_sshwire_u32(&t, &len) != 0 || len > t.n)
        return -1;
    out->p = t.p;
    out->n = len;
    w->p = t.p + len;
    w->n = t.n - len;
    return 0;
}

int fl_sshwire_is(const fl_sshwire *w, const char *s) {
    return w->n == strlen(s) && !memcmp(w->p, s, w->n);
}

void fl_sshwire_put_string(fl_strbuf *sb, const void *p, size_t n) {
    unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 8), (unsigned char)n};
    fl_strbuf_add(sb, len, 4);
    fl_strbuf_add(sb, p, n);
}

int fl_sshwire_unbase64(const char *s, size_t n, unsigned flags, unsigned char **out,
                        size_t *outlen) {
    fl_strbuf clean;
    fl_strbuf_init(&clean, n);
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            fl_strbuf_addch(&clean, s[i]);
    size_t cap = clean.len / 4 * 3 + 3;
    *out = fl_xmalloc(cap);
    int rc = fl_base64_decode(clean.buf, clean.len, *out, cap, outlen, NULL, flags);
    fl_strbuf_release(&clean);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int fl_sshwire_ed25519_public(const char *text, unsigned char pk[32]) {
    static const char type[] = "ssh-ed25519";
    if (strncmp(text, type, sizeof type - 1) != 0)
        return -2;
    const char *blob = text + sizeof type - 1;
    while (*blob == ' ' || *blob == '\t')
        blob++;
    size_t bl = strcspn(blob, " \t\r\n");
    unsigned char *raw = NULL;
    size_t rl = 0;
    if (bl == 0 || fl_sshwire_unbase64(blob, bl, FL_BASE64_PAD | FL_BASE64_CANONICAL, &raw, &rl))
        return -1;
    fl_sshwire w = {raw, rl}, t, k;
    int ok = fl_sshwire_string(&w, &t) == 0 && fl_sshwire_is(&t, type) &&
             fl_sshwire_string(&w, &k) == 0 && k.n == 32 && w.n == 0;
    if (ok)
        memcpy(pk, k.p, 32);
    free(raw);
    return ok ? 0 : -2;
}
