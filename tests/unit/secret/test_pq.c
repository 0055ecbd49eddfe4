/* test_pq.c - the post-quantum recipient below the file format: ML-KEM-768's compression for
 * every input, an X-Wing known-answer vector (draft-connolly-cfrg-xwing-kem-10, appendix C:
 * key generation from a seed, encapsulation with a fixed eseed, decapsulation), implicit
 * rejection, the encapsulation key check and low-order X25519 shares; then age files to
 * age1pq1… keys through the library (round trip, wrong key, mixing refused, bad keys). */
/* cmocka needs these first, in this order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/secret.h"
#include "flakectl/strbuf.h"
#include "secret/internal.h"

static void hex(const char *h, unsigned char *out, size_t n) {
    size_t got = 0;
    assert_int_equal(sodium_hex2bin(out, n, h, strlen(h), NULL, &got, NULL), 0);
    assert_int_equal(got, n);
}

static void compress_exact(void **state) {
    (void)state;
    for (int d = 1; d <= 11; d++)
        for (uint32_t x = 0; x < 3329; x++) {
            /* round(2^d x / q) mod 2^d, with q odd so there are no ties */
            uint32_t want = (((x << d) * 2 + 3329) / (2 * 3329)) & ((1u << d) - 1);
            if (age_mlkem_compress((uint16_t)x, d) != want)
                fail_msg("Compress_%d(%u) = %u, expected %u", d, x,
                         age_mlkem_compress((uint16_t)x, d), want);
        }
}

/* The last vector of draft-connolly-cfrg-xwing-kem-10 appendix C (X-Wing is the KEM that
 * c2sp.org/hpke-hybrids calls MLKEM768-X25519). The shared secret covers the whole ML-KEM
 * encapsulation key (through H(ek)) and the X25519 halves; the key's and ciphertext's first
 * and last bytes pin the layout. */
static const char kat_seed[] = "ef58538b8d23f87732ea63b02b4fa0f4873360e2841928cd60dd4cee8cc0d4c9";
static const char kat_pk_head[] =
    "36244278824f77c621c660892c1c3886a9560caa52a97c461fd3958a598e749bbc8c7798";
static const char kat_pk_x[] = "d31ae3cbc1c013747dfee80fb35b5299f555dcc2b787ea4f6f16ffdf66952461";
static const char kat_eseed[] = "22a96188d032675c8ac850933c7aff1533b94c834adbb69c6115bad4692d8619"
                                "f90b0cdf8a7b9c264029ac185b70b83f2801f2f4b3f70c593ea3aeeb613a7f1b";
static const char kat_ct_head[] =
    "0d2e38cbf17a2e2e4e0c87a94ca1e7701ae1552e02509b3b00f9c82c39e3fd435b05b912";
static const char kat_ct_x[] = "fa64de6b6e1c3c8e03db5971a445992227c825590688d20352"
                               "3f527161137334";
static const char kat_ss[] = "953f7f4e8c5b5049bdc771d1dffada0dd961477d1a2ae0988baa7ea6898d893f";

static void xwing_kat(void **state) {
    (void)state;
    unsigned char seed[32], eseed[64], want[36], ss[32], ss2[32];
    unsigned char *pk = malloc(AGE_XWING_PK), *ct = malloc(AGE_XWING_CT);
    assert_int_equal(sodium_init() >= 0, 1);
    hex(kat_seed, seed, 32);
    hex(kat_eseed, eseed, 64);
    assert_int_equal(age_xwing_public(seed, pk), 0);
    hex(kat_pk_head, want, 36);
    assert_memory_equal(pk, want, 36);
    hex(kat_pk_x, want, 32);
    assert_memory_equal(pk + AGE_MLKEM_EK, want, 32);
    assert_int_equal(age_xwing_encaps(pk, eseed, ct, ss), 0);
    hex(kat_ct_head, want, 36);
    assert_memory_equal(ct, want, 36);
    hex(kat_ct_x, want, 32);
    assert_memory_equal(ct + AGE_MLKEM_CT, want, 32);
    hex(kat_ss, want, 32);
    assert_memory_equal(ss, want, 32);
    assert_int_equal(age_xwing_decaps(seed, ct, ss2), 0);
    assert_memory_equal(ss2, want, 32);
    free(pk);
    free(ct);
}

/* A ciphertext changed anywhere in its ML-KEM half decapsulates to J(z || c), FIPS 203's
 * implicit rejection, and never to the real key. */
static void implicit_rejection(void **state) {
    (void)state;
    unsigned char d[32], z[32], m[32], ss[32], bad_ss[32], j[32];
    unsigned char *ek = malloc(AGE_MLKEM_EK), *dk = malloc(AGE_MLKEM_DK);
    unsigned char *ct = malloc(AGE_MLKEM_CT), *zc = malloc(32 + AGE_MLKEM_CT);
    randombytes_buf(d, 32);
    randombytes_buf(z, 32);
    randombytes_buf(m, 32);
    assert_int_equal(age_mlkem768_keygen(d, z, ek, dk), 0);
    assert_int_equal(age_mlkem768_check_ek(ek), 0);
    assert_int_equal(age_mlkem768_encaps(ek, m, ct, ss), 0);
    assert_int_equal(age_mlkem768_decaps(dk, ct, bad_ss), 0);
    assert_memory_equal(ss, bad_ss, 32);
    static const size_t offsets[] = {0, 1, 319, 320, 959, 960, 1000, AGE_MLKEM_CT - 1};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        ct[offsets[i]] ^= 0x01;
        assert_int_equal(age_mlkem768_decaps(dk, ct, bad_ss), 0);
        memcpy(zc, z, 32);
        memcpy(zc + 32, ct, AGE_MLKEM_CT);
        assert_int_equal(age_shake256(zc, 32 + AGE_MLKEM_CT, j, 32), 0);
        assert_memory_equal(bad_ss, j, 32);
        assert_memory_not_equal(bad_ss, ss, 32);
        ct[offsets[i]] ^= 0x01;
    }
    /* The modulus check: a 12-bit value of q or more is not a key. */
    ek[0] = 0xff;
    ek[1] |= 0x0f;
    assert_int_equal(age_mlkem768_check_ek(ek), -1);
    assert_int_equal(age_mlkem768_encaps(ek, m, ct, ss), -1);
    free(ek);
    free(dk);
    free(ct);
    free(zc);
}

static void low_order_share(void **state) {
    (void)state;
    unsigned char seed[32], eseed[64], ss[32];
    unsigned char *pk = malloc(AGE_XWING_PK), *ct = malloc(AGE_XWING_CT);
    randombytes_buf(seed, 32);
    randombytes_buf(eseed, 64);
    assert_int_equal(age_xwing_public(seed, pk), 0);
    assert_int_equal(age_xwing_encaps(pk, eseed, ct, ss), 0);
    memset(ct + AGE_MLKEM_CT, 0, 32); /* the identity point */
    assert_int_equal(age_xwing_decaps(seed, ct, ss), -1);
    ct[AGE_MLKEM_CT] = 1; /* u = 1, order 1 */
    assert_int_equal(age_xwing_decaps(seed, ct, ss), -1);
    /* A recipient whose X25519 half is low order cannot be encrypted to. */
    memset(pk + AGE_MLKEM_EK, 0, 32);
    assert_int_equal(age_xwing_encaps(pk, eseed, ct, ss), -1);
    free(pk);
    free(ct);
}

/* ---- through the age format ------------------------------------------------------------ */

typedef struct membuf {
    fl_strbuf sb;
} membuf;

static int mem_sink(void *ctx, const unsigned char *data, size_t len, fl_error *err) {
    (void)err;
    fl_strbuf_add(&((membuf *)ctx)->sb, data, len);
    return 0;
}

static int encrypt_mem(const fl_age_recipients *r, const char *plain, int armor, membuf *out,
                       fl_error *err) {
    age_mem_source src = {(const unsigned char *)plain, strlen(plain), 0};
    fl_strbuf_init(&out->sb, 0);
    return age_encrypt_source(age_mem_read, &src, "plain", r, armor, mem_sink, out, err);
}

static int decrypt_mem(const fl_age_identities *ids, const membuf *in, membuf *out,
                       fl_age_failure *failure, fl_error *err) {
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(in->sb.buf, 1, in->sb.len, f), in->sb.len);
    fflush(f);
    rewind(f);
    fl_strbuf_init(&out->sb, 0);
    int rc =
        fl_age_decrypt_fd(fileno(f), "cipher", ids, FL_AGE_ARMOR_AUTO, mem_sink, out, failure, err);
    fclose(f);
    return rc;
}

static void file_round_trip(void **state) {
    (void)state;
    fl_error err = FL_ERROR_INIT;
    fl_age_recipients r = {NULL, 0};
    fl_age_identities ids = {NULL, 0}, other = {NULL, 0};
    char *s1, *p1, *s2, *p2;
    assert_int_equal(fl_age_keygen_pq(&s1, &p1, &err), 0);
    assert_int_equal(fl_age_keygen_pq(&s2, &p2, &err), 0);
    assert_true(!strncmp(s1, "AGE-SECRET-KEY-PQ-1", 19));
    assert_true(!strncmp(p1, "age1pq1", 7));
    assert_int_equal(fl_age_recipient_add(&r, p1, "test", &err), 0);
    assert_int_equal(fl_age_recipient_add(&r, p2, "test2", &err), 0);
    assert_int_equal(fl_age_identity_add_string(&ids, s1, "key1", &err), 0);
    assert_int_equal(fl_age_identity_add_string(&other, s2, "key2", &err), 0);
    char *back = fl_age_identity_recipient(&ids.v[0]);
    assert_string_equal(back, p1);
    free(back);
    for (int armor = 0; armor <= 1; armor++) {
        membuf c, p;
        fl_age_failure failure;
        assert_int_equal(encrypt_mem(&r, "hello, post-quantum world\n", armor, &c, &err), 0);
        assert_non_null(strstr(c.sb.buf, armor ? "BEGIN AGE" : "-> mlkem768x25519 "));
        assert_int_equal(decrypt_mem(&ids, &c, &p, &failure, &err), 0);
        assert_int_equal(p.sb.len, strlen("hello, post-quantum world\n"));
        assert_memory_equal(p.sb.buf, "hello, post-quantum world\n", p.sb.len);
        fl_strbuf_release(&p.sb);
        assert_int_equal(decrypt_mem(&other, &c, &p, &failure, &err), 0); /* second recipient */
        fl_strbuf_release(&p.sb);
        fl_strbuf_release(&c.sb);
    }
    /* Only the first recipient: the second key finds no stanza of its own. */
    fl_age_recipients one = {NULL, 0};
    assert_int_equal(fl_age_recipient_add(&one, p1, "test", &err), 0);
    membuf c, p;
    fl_age_failure failure = FL_AGE_OK;
    assert_int_equal(encrypt_mem(&one, "x", 0, &c, &err), 0);
    assert_int_not_equal(decrypt_mem(&other, &c, &p, &failure, &err), 0);
    assert_int_equal(failure, FL_AGE_NO_MATCH);
    assert_non_null(strstr(err.message, "mlkem768x25519 key from key2"));
    fl_error_clear(&err);
    fl_strbuf_release(&p.sb);
    fl_strbuf_release(&c.sb);
    /* age's rule: post-quantum and classic recipients are not mixed. */
    char *xs, *xp;
    fl_age_keygen(&xs, &xp);
    assert_int_equal(fl_age_recipient_add(&one, xp, "classic", &err), 0);
    assert_int_not_equal(encrypt_mem(&one, "x", 0, &c, &err), 0);
    assert_non_null(strstr(err.message, "post-quantum recipient (test)"));
    assert_non_null(strstr(err.message, "classic one (classic)"));
    assert_int_equal(c.sb.len, 0);
    fl_strbuf_release(&c.sb);
    fl_error_clear(&err);
    free(xs);
    free(xp);
    fl_age_recipients_release(&one);
    fl_age_recipients_release(&r);
    fl_age_identities_release(&ids);
    fl_age_identities_release(&other);
    free(s1);
    free(p1);
    free(s2);
    free(p2);
}

static void expect_refused(const char *text, const char *needle) {
    fl_error err = FL_ERROR_INIT;
    fl_age_recipients r = {NULL, 0};
    assert_int_not_equal(fl_age_recipient_add(&r, text, "where", &err), 0);
    assert_int_equal(r.n, 0);
    if (!strstr(err.message, needle))
        fail_msg("error '%s' lacks '%s'", err.message, needle);
    fl_error_clear(&err);
}

static void bad_keys(void **state) {
    (void)state;
    fl_error err = FL_ERROR_INIT;
    unsigned char *pk = calloc(1, AGE_XWING_PK + 1);
    char *s = age_bech32_encode("age1pq", pk, 32);
    expect_refused(s, "wrong key length");
    free(s);
    s = age_bech32_encode("age1pq", pk, AGE_XWING_PK + 1);
    expect_refused(s, "wrong key length");
    free(s);
    memset(pk, 0xff, AGE_XWING_PK);
    s = age_bech32_encode("age1pq", pk, AGE_XWING_PK);
    expect_refused(s, "not canonical");
    s[strlen(s) - 1] = s[strlen(s) - 1] == 'q' ? 'p' : 'q';
    expect_refused(s, "bad Bech32");
    free(s);
    free(pk);

    fl_age_identities ids = {NULL, 0};
    unsigned char seed[33] = {0};
    s = age_bech32_encode("AGE-SECRET-KEY-PQ-", seed, 33);
    for (char *c = s; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
    assert_int_not_equal(fl_age_identity_add_string(&ids, s, "keyfile:2", &err), 0);
    assert_non_null(strstr(err.message, "keyfile:2"));
    assert_non_null(strstr(err.message, "AGE-SECRET-KEY-PQ-1"));
    assert_int_equal(ids.n, 0);
    fl_error_clear(&err);
    free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compress_exact),     cmocka_unit_test(xwing_kat),
        cmocka_unit_test(implicit_rejection), cmocka_unit_test(low_order_share),
        cmocka_unit_test(file_round_trip),    cmocka_unit_test(bad_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
