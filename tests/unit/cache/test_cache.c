/* test_cache.c - binary cache formats against vectors made by Nix 2.8 (`nix key
 * generate-secret`, `nix copy --to file://...?secret-key=...`): narinfo parse/format round
 * trip, the signature fingerprint, ed25519 signatures byte-identical to Nix's, and the
 * compression streams (round trip, truncation, trailing data). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/cache_int.h"
#include "flakectl/cache.h"

/* `nix key generate-secret --key-name test1` and its convert-secret-to-public. */
static const char nix_secret[] =
    "test1:Xe/VbejntMAMxRZPB63bb8Mnr5qAeKpDzTEQrFhYxTGJDYWqCLjpzzmfFy6/"
    "3RSsacM5FKSThqVv92raUxYECw==";
static const char nix_public[] = "test1:iQ2Fqgi46c85nxcuv90UrGnDORSkk4alb/dq2lMWBAs=";

/* What `nix copy --to 'file://...?secret-key=sk&compression=none'` wrote for a toFile text
 * with two references, in a store at /tmp/nixt/state/store. */
static const char nix_narinfo[] =
    "StorePath: /tmp/nixt/state/store/r8b8m1bbgm78ja7wi6c61di18anhzbhd-t\n"
    "URL: nar/01h32fn4h0165fqz60b15msjp5w1hsfyvlfsflxdihxaw03lf8cm.nar\n"
    "Compression: none\n"
    "FileHash: sha256:01h32fn4h0165fqz60b15msjp5w1hsfyvlfsflxdihxaw03lf8cm\n"
    "FileSize: 232\n"
    "NarHash: sha256:01h32fn4h0165fqz60b15msjp5w1hsfyvlfsflxdihxaw03lf8cm\n"
    "NarSize: 232\n"
    "References: dz8c686vhayfacbhw2xb61jc658q0y3x-s3 np6d1mil50qxlww1l5fr34r5vwlb88ap-s2\n"
    "Sig: "
    "test1:bQJNhICnKcp97fVyDdscCXf2/"
    "Vox8mKkpKRO3hYbWpSBCqEs8HpElUvXC39dz4e3xkH+UUkrQbveFv7qcK6pBA==\n"
    "CA: text:sha256:0y62q5kg6yjz506bfk4nvnhczq9cx47ckk571dl7h3dva77lwzf2\n";
static const char store_dir[] = "/tmp/nixt/state/store";

static fl_narinfo *parse_ok(const char *text) {
    fl_narinfo *ni = NULL;
    fl_error err = FL_ERROR_INIT;
    int rc = fl_narinfo_parse(text, strlen(text), store_dir, "test.narinfo", &ni, &err);
    if (rc)
        fail_msg("parse: %s", err.message);
    return ni;
}

static void test_narinfo_round_trip_is_nix_text(void **state) {
    fl_narinfo *ni = parse_ok(nix_narinfo);
    assert_int_equal(ni->nrefs, 2);
    assert_string_equal(ni->refs[0], "/tmp/nixt/state/store/dz8c686vhayfacbhw2xb61jc658q0y3x-s3");
    assert_int_equal(ni->nar_size, 232);
    assert_string_equal(ni->compression, "none");
    char *text = fl_narinfo_format(ni);
    assert_string_equal(text, nix_narinfo);
    free(text);
    fl_narinfo_free(ni);
}

static void test_fingerprint_and_nix_signature(void **state) {
    fl_narinfo *ni = parse_ok(nix_narinfo);
    char *fp = fl_narinfo_fingerprint(ni);
    assert_string_equal(fp, "1;/tmp/nixt/state/store/r8b8m1bbgm78ja7wi6c61di18anhzbhd-t;"
                            "sha256:01h32fn4h0165fqz60b15msjp5w1hsfyvlfsflxdihxaw03lf8cm;232;"
                            "/tmp/nixt/state/store/dz8c686vhayfacbhw2xb61jc658q0y3x-s3,"
                            "/tmp/nixt/state/store/np6d1mil50qxlww1l5fr34r5vwlb88ap-s2");
    fl_error err = FL_ERROR_INIT;
    fl_cache_secret_key sk;
    fl_cache_public_key pk;
    assert_int_equal(fl_cache_secret_key_parse(nix_secret, "sk", &sk, &err), 0);
    assert_int_equal(fl_cache_public_key_parse(nix_public, "pk", &pk, &err), 0);
    char *pub = fl_cache_public_key_text(&sk);
    assert_string_equal(pub, nix_public);
    free(pub);
    /* ed25519 is deterministic: our signature is Nix's, byte for byte */
    char *sig = fl_cache_sign(&sk, fp);
    assert_string_equal(sig, ni->sigs[0]);
    free(sig);
    assert_true(fl_narinfo_trusted(ni, &pk, 1));
    /* another key of the same name, or any change to what is signed, is refused */
    fl_cache_public_key other = pk;
    other.pk[0] ^= 1;
    assert_false(fl_narinfo_trusted(ni, &other, 1));
    ni->nar_size++;
    assert_false(fl_narinfo_trusted(ni, &pk, 1));
    ni->nar_size--;
    free(ni->refs[1]);
    ni->refs[1] = strdup("/tmp/nixt/state/store/np6d1mil50qxlww1l5fr34r5vwlb88aq-s2");
    assert_false(fl_narinfo_trusted(ni, &pk, 1));
    assert_false(fl_narinfo_trusted(ni, NULL, 0));
    free(fp);
    fl_narinfo_free(ni);
}

static void test_narinfo_rejects_bad_input(void **state) {
    static const char *bad[] = {
        "StorePath: /elsewhere/r8b8m1bbgm78ja7wi6c61di18anhzbhd-t\nURL: nar/x.nar\nNarHash: "
        "sha256:01h32fn4h0165fqz60b15msjp5w1hsfyvlfsflxdihxaw03lf8cm\nNarSize: 1\n",
        "StorePath: /tmp/nixt/state/store/r8b8m1bbgm78ja7wi6c61di18anhzbhd-t\nURL: ../../etc/x\n"
        "NarHash: sha256:01h32fn4h0165fqz60b15msjp5w1hsfyvlfsflxdihxaw03lf8cm\nNarSize: 1\n",
        "StorePath: /tmp/nixt/state/store/r8b8m1bbgm78ja7wi6c61di18anhzbhd-t\nURL: nar/x.nar\n"
        "NarSize: 1\n",
        "StorePath: /tmp/nixt/state/store/r8b8m1bbgm78ja7wi6c61di18anhzbhd-t\nURL: nar/x.nar\n"
        "NarHash: sha256:01h32fn4h0165fqz60b15msjp5w1hsfyvlfsflxdihxaw03lf8cm\nNarSize: -1\n",
        "StorePath: /tmp/nixt/state/store/r8b8m1bbgm78ja7wi6c61di18anhzbhd-t\nURL: nar/x.nar\n"
        "NarHash: sha256:01h32fn4h0165fqz60b15msjp5w1hsfyvlfsflxdihxaw03lf8cm\nNarSize: 1\n"
        "References: ../../etc\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_narinfo *ni = NULL;
        fl_error err = FL_ERROR_INIT;
        assert_int_not_equal(
            fl_narinfo_parse(bad[i], strlen(bad[i]), store_dir, "x.narinfo", &ni, &err), 0);
        assert_non_null(strstr(err.message, "x.narinfo"));
        fl_error_clear(&err);
    }
    /* no Compression: Nix's default, bzip2 */
    fl_narinfo *ni =
        parse_ok("StorePath: /tmp/nixt/state/store/r8b8m1bbgm78ja7wi6c61di18anhzbhd-t\n"
                 "URL: nar/x.nar\nNarHash: "
                 "sha256:01h32fn4h0165fqz60b15msjp5w1hsfyvlfsflxdihxaw03lf8cm\n"
                 "NarSize: 1\nDeriver: unknown-deriver\n");
    assert_string_equal(ni->compression, "bzip2");
    assert_null(ni->deriver);
    fl_narinfo_free(ni);
}

static void test_keys_reject_malformed(void **state) {
    fl_error err = FL_ERROR_INIT;
    fl_cache_public_key pk;
    fl_cache_secret_key sk;
    assert_int_not_equal(fl_cache_public_key_parse("nocolon", "k", &pk, &err), 0);
    fl_error_clear(&err);
    assert_int_not_equal(fl_cache_public_key_parse(nix_secret, "k", &pk, &err), 0); /* 64 bytes */
    fl_error_clear(&err);
    assert_int_not_equal(fl_cache_secret_key_parse(nix_public, "k", &sk, &err), 0); /* 32 bytes */
    fl_error_clear(&err);
    assert_int_not_equal(
        fl_cache_public_key_parse(":iQ2Fqgi46c85nxcuv90UrGnDORSkk4alb/dq2lMWBAs=", "k", &pk, &err),
        0);
    fl_error_clear(&err);
    char *s = NULL, *p = NULL;
    assert_int_not_equal(fl_cache_keygen("bad name", &s, &p, &err), 0);
    fl_error_clear(&err);
    assert_int_equal(fl_cache_keygen("good-1", &s, &p, &err), 0);
    assert_int_equal(fl_cache_secret_key_parse(s, "s", &sk, &err), 0);
    char *again = fl_cache_public_key_text(&sk);
    assert_string_equal(again, p);
    free(again);
    free(s);
    free(p);
}

typedef struct membuf {
    unsigned char *data;
    size_t len;
} membuf;

static int mem_sink(void *ctx, const void *data, size_t len, fl_error *err) {
    membuf *m = ctx;
    m->data = realloc(m->data, m->len + len);
    memcpy(m->data + m->len, data, len);
    m->len += len;
    return 0;
}

/* A pipe-less fd holding bytes: a temp file rewound. */
static int fd_of(const unsigned char *data, size_t len) {
    char path[] = "/tmp/test_cache.XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static void test_compression_round_trip_and_damage(void **state) {
    size_t n = 3 * 1000 * 1000;
    unsigned char *plain = malloc(n);
    for (size_t i = 0; i < n; i++) /* half compressible, half not */
        plain[i] = i < n / 2 ? (unsigned char)(i % 7) : (unsigned char)(rand() & 0xff);
    for (int kind = FL_COMP_NONE; kind <= FL_COMP_ZSTD; kind++) {
        membuf m = {NULL, 0};
        fl_error err = FL_ERROR_INIT;
        fl_compressor *c = fl_compressor_new(kind, mem_sink, &m);
        for (size_t off = 0; off < n; off += 12345)
            assert_int_equal(
                fl_compressor_write(c, plain + off, off + 12345 < n ? 12345 : n - off, &err), 0);
        assert_int_equal(fl_compressor_finish(c, &err), 0);
        fl_compressor_free(c);
        /* whole */
        int fd = fd_of(m.data, m.len);
        fl_decompressor *d = fl_decompressor_new(kind, fd, "mem");
        unsigned char *back = malloc(n);
        assert_int_equal(fl_decompressor_read(d, back, n, &err), 0);
        assert_memory_equal(back, plain, n);
        assert_int_equal(fl_decompressor_finish(d, &err), 0);
        fl_decompressor_free(d);
        close(fd);
        /* read_some to the end gives the same bytes */
        fd = fd_of(m.data, m.len);
        d = fl_decompressor_new(kind, fd, "mem");
        size_t total = 0, got = 0;
        unsigned char chunk[4096];
        while (fl_decompressor_read_some(d, chunk, sizeof chunk, &got, &err) == 0 && got) {
            assert_true(total + got <= n);
            assert_memory_equal(chunk, plain + total, got);
            total += got;
        }
        assert_null(err.message);
        assert_int_equal(total, n);
        fl_decompressor_free(d);
        close(fd);
        /* truncated: reading the whole is an error */
        fd = fd_of(m.data, m.len - m.len / 3);
        d = fl_decompressor_new(kind, fd, "mem");
        assert_int_not_equal(fl_decompressor_read(d, back, n, &err), 0);
        assert_non_null(strstr(err.message, "mem"));
        fl_error_clear(&err);
        fl_decompressor_free(d);
        close(fd);
        /* one byte more than the stream holds: trailing data */
        unsigned char *more = malloc(m.len + 1);
        memcpy(more, m.data, m.len);
        more[m.len] = kind == FL_COMP_NONE ? 'x' : 0x42;
        fd = fd_of(more, m.len + 1);
        d = fl_decompressor_new(kind, fd, "mem");
        assert_int_equal(fl_decompressor_read(d, back, n, &err), 0);
        assert_int_not_equal(fl_decompressor_finish(d, &err), 0);
        fl_error_clear(&err);
        fl_decompressor_free(d);
        close(fd);
        free(more);
        free(back);
        free(m.data);
    }
    free(plain);
}

/* A host pointer: written, parsed back, signed over its fingerprint (a narinfo's signature
 * never passes as a pointer's), every signed field covered, malformed text located. */
static void test_host_pointer(void **state) {
    (void)state;
    fl_error err = FL_ERROR_INIT;
    fl_cache_secret_key sk;
    fl_cache_public_key pk;
    assert_int_equal(fl_cache_secret_key_parse(nix_secret, "sk", &sk, &err), 0);
    assert_int_equal(fl_cache_public_key_parse(nix_public, "pk", &pk, &err), 0);
    fl_host_pointer p = {"web1", "/tmp/nixt/state/store/r8b8m1bbgm78ja7wi6c61di18anhzbhd-t", 42,
                         "0123456789abcdef0123456789abcdef01234567", NULL, 0};
    char *fp = fl_host_pointer_fingerprint(&p);
    assert_string_equal(fp, "flakectl-host-pointer-1;web1;/tmp/nixt/state/store/"
                            "r8b8m1bbgm78ja7wi6c61di18anhzbhd-t;42;"
                            "0123456789abcdef0123456789abcdef01234567");
    char *sig = fl_cache_sign(&sk, fp);
    char *sigs[] = {sig, NULL};
    p.sigs = sigs;
    p.nsigs = 1;
    char *text = fl_host_pointer_format(&p);
    fl_host_pointer *q = NULL;
    assert_int_equal(fl_host_pointer_parse(text, strlen(text), store_dir, "hosts/web1", &q, &err),
                     0);
    assert_string_equal(q->host, "web1");
    assert_int_equal(q->counter, 42);
    assert_string_equal(q->rev, p.rev);
    assert_true(fl_host_pointer_trusted(q, &pk, 1));
    /* each signed field changes the fingerprint */
    q->counter = 43;
    assert_false(fl_host_pointer_trusted(q, &pk, 1));
    q->counter = 42;
    q->host[0] = 'x';
    assert_false(fl_host_pointer_trusted(q, &pk, 1));
    fl_host_pointer_free(q);
    /* a narinfo's signature does not make a pointer */
    fl_narinfo *ni = NULL;
    assert_int_equal(fl_narinfo_parse(nix_narinfo, strlen(nix_narinfo), store_dir, "n", &ni, &err),
                     0);
    sigs[0] = ni->sigs[0];
    assert_false(fl_host_pointer_trusted(&p, &pk, 1));
    fl_narinfo_free(ni);
    free(text);
    free(sig);
    free(fp);
    static const char *const bad[] = {
        "Host: ../etc\nStorePath: /tmp/nixt/state/store/r8b8m1bbgm78ja7wi6c61di18anhzbhd-t\n"
        "Counter: 1\n",
        "Host: a\nStorePath: /elsewhere/store/r8b8m1bbgm78ja7wi6c61di18anhzbhd-t\nCounter: 1\n",
        "Host: a\nStorePath: /tmp/nixt/state/store/r8b8m1bbgm78ja7wi6c61di18anhzbhd-t\n"
        "Counter: -1\n",
        "Host: a\nStorePath: /tmp/nixt/state/store/r8b8m1bbgm78ja7wi6c61di18anhzbhd-t\n",
        "Host: a\nStorePath: /tmp/nixt/state/store/r8b8m1bbgm78ja7wi6c61di18anhzbhd-t\n"
        "Counter: 1\nRev: HEAD\n",
        "garbage\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        q = NULL;
        assert_int_equal(fl_host_pointer_parse(bad[i], strlen(bad[i]), store_dir, "hosts/a", &q,
                                               &err),
                         FL_EPARSE);
        assert_null(q);
        assert_non_null(strstr(err.message, "hosts/a"));
        fl_error_clear(&err);
    }
    assert_false(fl_host_name_valid(""));
    assert_false(fl_host_name_valid(".hidden"));
    assert_false(fl_host_name_valid("a/b"));
    assert_true(fl_host_name_valid("web-1.example_org"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_narinfo_round_trip_is_nix_text),
        cmocka_unit_test(test_fingerprint_and_nix_signature),
        cmocka_unit_test(test_narinfo_rejects_bad_input),
        cmocka_unit_test(test_keys_reject_malformed),
        cmocka_unit_test(test_compression_round_trip_and_damage),
        cmocka_unit_test(test_host_pointer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
