/* test_hash.c - SHA-256, Nix base32, hash compression and store path computation, against
 * vectors taken from the real nix-hash / nix-store / nix-instantiate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "flakectl/store.h"

static void test_sha256_of_empty_string(void **state) {
    unsigned char h[FL_SHA256_LEN];
    char hex[65], b32[FL_SHA256_BASE32_LEN + 1];
    fl_sha256_buf("", 0, h);
    fl_hex_encode(h, sizeof h, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* nix-hash --flat --base32 --type sha256 of an empty file */
    fl_base32_encode(h, sizeof h, b32);
    assert_string_equal(b32, "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73");
}

static void test_sha256_streaming_equals_one_shot(void **state) {
    unsigned char a[FL_SHA256_LEN], b[FL_SHA256_LEN];
    const char *text = "the quick brown fox jumps over the lazy dog";
    fl_sha256_buf(text, strlen(text), a);
    fl_sha256 h;
    fl_sha256_init(&h);
    for (const char *p = text; *p; p++)
        fl_sha256_update(&h, p, 1);
    fl_sha256_final(&h, b);
    assert_memory_equal(a, b, sizeof a);
}

static void test_base32_round_trip_and_lengths(void **state) {
    assert_int_equal(fl_base32_len(20), 32);
    assert_int_equal(fl_base32_len(32), 52);
    assert_int_equal(fl_base32_len(1), 2);
    unsigned char in[32], out[32];
    for (int i = 0; i < 32; i++)
        in[i] = (unsigned char)(i * 37 + 11);
    char s[60];
    for (size_t n = 1; n <= 32; n++) {
        fl_base32_encode(in, n, s);
        assert_int_equal(strlen(s), fl_base32_len(n));
        assert_int_equal(fl_base32_decode(s, strlen(s), out, n), 0);
        assert_memory_equal(in, out, n);
    }
}

static void test_base32_known_vector_and_bad_input(void **state) {
    /* `nix-hash --type sha256` of a file holding "hi\n": hex and base32 forms */
    unsigned char h[32];
    const char *b32 = "1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h";
    assert_int_equal(fl_base32_decode(b32, strlen(b32), h, 32), 0);
    char hex[65];
    fl_hex_encode(h, 32, hex);
    assert_string_equal(hex, "10551daed7fa467d0b58826e7eb9a0f2af7d693de319f2ef775fffcda244b9f6");
    /* 'e', 'o', 'u', 't' are not in Nix's alphabet */
    assert_int_equal(fl_base32_decode("e", 1, h, 1), -1);
    assert_int_equal(
        fl_base32_decode("0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7t", 52, h, 32), -1);
    /* wrong length */
    assert_int_equal(fl_base32_decode("00", 2, h, 32), -1);
    /* a first digit too large for 32 bytes overflows */
    assert_int_equal(
        fl_base32_decode("zmdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73", 52, h, 32), -1);
    assert_false(fl_base32_valid_char('e'));
    assert_true(fl_base32_valid_char('z'));
    assert_false(fl_base32_valid_char('\0'));
}

static void test_hash_format_parse(void **state) {
    unsigned char h[32], g[32];
    fl_sha256_buf("x", 1, h);
    char *s = fl_hash_format(h);
    assert_int_equal(strncmp(s, "sha256:", 7), 0);
    assert_int_equal(fl_hash_parse(s, g), 0);
    assert_memory_equal(h, g, 32);
    free(s);
    assert_int_equal(fl_hash_parse("md5:abc", g), -1);
}

static void test_compress_xor_folds(void **state) {
    unsigned char in[32], out[20];
    memset(in, 0, sizeof in);
    in[0] = 0x0f;
    in[20] = 0xf0;
    in[31] = 0x01;
    fl_hash_compress(in, 32, out, 20);
    assert_int_equal(out[0], 0xff);
    assert_int_equal(out[11], 0x01);
    assert_int_equal(out[1], 0);
}

static void test_store_paths_match_nix(void **state) {
    unsigned char h[32];
    const char *b32 = "1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h";
    fl_base32_decode(b32, strlen(b32), h, 32);
    /* NIX_STORE_DIR=/x/store nix-store --print-fixed-path --recursive sha256 <b32> hello */
    char *p = fl_store_make_source_path("/x/store", h, "hello");
    assert_string_equal(p, "/x/store/1gfn45h63kp3k5vll58a6ddj7r8fxcph-hello");
    free(p);
    /* NIX_STORE_DIR=/x/store nix-instantiate --eval -E 'builtins.toFile "foo" "bar"' */
    fl_sha256_buf("bar", 3, h);
    p = fl_store_make_text_path("/x/store", h, "foo", NULL, 0);
    assert_string_equal(p, "/x/store/lwl4vjzp4cqbr2snzpl6ccnpzq5inn5r-foo");
    free(p);
}

static void test_fixed_paths_and_sri_match_nix(void **state) {
    unsigned char h[32], g[32];
    /* nix-hash --flat --type sha256 --base32 of "hi\n" */
    const char *flat = "1r3v22qkypccqifzbww5lrn6hf1chi23m6zzkyvb8bvg457nxslq";
    assert_int_equal(fl_base32_decode(flat, strlen(flat), h, 32), 0);
    /* NIX_STORE_DIR=/x/store nix-store --print-fixed-path sha256 <flat> f */
    char *p = fl_store_make_fixed_path("/x/store", 0, h, "f");
    assert_string_equal(p, "/x/store/1b5aakj5bph3l9shn9572h5nwjvrg7jm-f");
    free(p);
    /* nix hash to-sri of the NAR hash of "hi\n" */
    const char *nar = "1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h";
    assert_int_equal(fl_base32_decode(nar, strlen(nar), h, 32), 0);
    char *sri = fl_hash_format_sri(h);
    assert_string_equal(sri, "sha256-EFUdrtf6Rn0LWIJufrmg8q99aT3jGfLvd1//zaJEufY=");
    assert_int_equal(fl_hash_parse(sri, g), 0);
    assert_memory_equal(h, g, 32);
    free(sri);
    assert_int_equal(
        fl_hash_parse("sha256:10551daed7fa467d0b58826e7eb9a0f2af7d693de319f2ef775fffcda244b9f6", g),
        0);
    assert_memory_equal(h, g, 32);
    assert_int_equal(fl_hash_parse("sha256-EFUdrtf6Rn0LWIJufrmg8q99aT3jGfLvd1//zaJEuf=", g), -1);
    assert_int_equal(
        fl_hash_parse("sha256:10551daed7fa467d0b58826e7eb9a0f2af7d693de319f2ef775fffcda244b9fg", g),
        -1);
    p = fl_store_make_fixed_path("/x/store", 1, h, "hello");
    assert_string_equal(p, "/x/store/1gfn45h63kp3k5vll58a6ddj7r8fxcph-hello");
    free(p);
}

/* outputHash in every form Nix reads; the digest is SHA-256 of the empty string. */
static void test_output_hash_forms(void **state) {
    (void)state;
    unsigned char want[FL_SHA256_LEN], g[FL_SHA256_LEN];
    fl_sha256_buf("", 0, want);
    static const struct {
        const char *hash, *algo;
    } ok[] = {
        {"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", NULL},
        {"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", ""},
        {"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "sha256"},
        {"sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73", ""},
        {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", ""},
        {"sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", ""},
        {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256"},
        {"0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73", "sha256"},
        {"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "sha256"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        memset(g, 0, sizeof g);
        assert_int_equal(fl_hash_parse_output(ok[i].hash, ok[i].algo, g), 0);
        assert_memory_equal(g, want, sizeof want);
    }
    /* a bare digest needs its algorithm; only sha256; wrong lengths and characters */
    assert_int_equal(fl_hash_parse_output(
                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "", g),
                     -1);
    assert_int_equal(fl_hash_parse_output("sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=", "", g), -1);
    assert_int_equal(fl_hash_parse_output("da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha1", g),
                     -1);
    assert_int_equal(fl_hash_parse_output("e3b0", "sha256", g), -1);
    assert_int_equal(
        fl_hash_parse_output("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
                             "sha256", g),
        -1);
    assert_int_equal(fl_hash_parse_output(NULL, "sha256", g), -1);
}

static void test_names_validated_like_nix(void **state) {
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_store_check_name("hello-1.0_x+y?=z", &err), 0);
    assert_int_not_equal(fl_store_check_name("", &err), 0);
    assert_int_not_equal(fl_store_check_name(".hidden", &err), 0);
    assert_int_not_equal(fl_store_check_name("a/b", &err), 0);
    assert_non_null(strstr(err.message, "'/'"));
    assert_int_not_equal(fl_store_check_name("sp ace", &err), 0);
    char longname[213];
    memset(longname, 'a', 212);
    longname[212] = '\0';
    assert_int_not_equal(fl_store_check_name(longname, &err), 0);
    longname[211] = '\0';
    assert_int_equal(fl_store_check_name(longname, &err), 0);
    fl_error_clear(&err);
}

/* Hash::parseAny(sha256)'s forms and messages (Nix 2.8's wording, as builtins.path's and the
 * fetchers' sha256 report them), and parseAnyPrefixed's demand for a type. */
static void test_parse_nix_forms_and_messages(void **state) {
    (void)state;
    unsigned char want[32], g[32];
    fl_sha256_buf("", 0, want);
    static const char *const ok[] = {
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
        "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        fl_error err = FL_ERROR_INIT;
        memset(g, 0, sizeof g);
        assert_int_equal(fl_hash_parse_nix(ok[i], 0, g, &err), 0);
        assert_memory_equal(g, want, 32);
    }
    static const struct {
        const char *in;
        int prefixed;
        const char *msg;
    } bad[] = {
        {"md5:d41d8cd98f00b204e9800998ecf8427e", 0,
         "hash 'md5:d41d8cd98f00b204e9800998ecf8427e' "
         "should have type 'sha256'"},
        {"abc", 0, "hash 'abc' has wrong length for hash type 'sha256'"},
        {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85z", 0,
         "invalid base-16 hash 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85z'"},
        {"0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7e", 0,
         "invalid base-32 hash '0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7e'"},
        {"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu!U=", 0,
         "invalid character in Base64 string: '!'"},
        {"sha256-47DEQpj8", 0, "invalid SRI hash '47DEQpj8'"},
        {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 1,
         "hash 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' does not "
         "include a type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fl_error err = FL_ERROR_INIT;
        assert_int_equal(fl_hash_parse_nix(bad[i].in, bad[i].prefixed, g, &err), FL_EPARSE);
        assert_string_equal(err.message, bad[i].msg);
        fl_error_clear(&err);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_of_empty_string),
        cmocka_unit_test(test_sha256_streaming_equals_one_shot),
        cmocka_unit_test(test_base32_round_trip_and_lengths),
        cmocka_unit_test(test_base32_known_vector_and_bad_input),
        cmocka_unit_test(test_hash_format_parse),
        cmocka_unit_test(test_compress_xor_folds),
        cmocka_unit_test(test_store_paths_match_nix),
        cmocka_unit_test(test_fixed_paths_and_sri_match_nix),
        cmocka_unit_test(test_output_hash_forms),
        cmocka_unit_test(test_names_validated_like_nix),
        cmocka_unit_test(test_parse_nix_forms_and_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
