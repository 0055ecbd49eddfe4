/* test_base64.c - the one base64 (flakectl/base64.h): RFC 4648's test vectors both ways,
 * and each reader's strictness: age (padded armor, unpadded stanzas, canonical), known_hosts
 * (padding optional), cache keys (padded, canonical, an exact size) and Nix's reader (newlines
 * skipped, the first '=' ends it, invalid characters located). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h> /* after the three it needs */
#include <stdlib.h>
#include <string.h>

#include "flakectl/base64.h"

static const struct {
    const char *plain, *padded, *unpadded;
} vectors[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static int decode(const char *in, unsigned flags, char *out, size_t cap, size_t *got) {
    return fl_base64_decode(in, strlen(in), (unsigned char *)out, cap, got, NULL, flags);
}

static void test_rfc4648_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
        const unsigned char *p = (const unsigned char *)vectors[i].plain;
        size_t n = strlen(vectors[i].plain);
        char *s = fl_base64_encode_str(p, n, 1);
        assert_string_equal(s, vectors[i].padded);
        free(s);
        s = fl_base64_encode_str(p, n, 0);
        assert_string_equal(s, vectors[i].unpadded);
        free(s);
        assert_int_equal(fl_base64_len(n, 1), strlen(vectors[i].padded));
        assert_int_equal(fl_base64_len(n, 0), strlen(vectors[i].unpadded));
        char out[16];
        size_t got = 99;
        static const unsigned padded_ok[] = {0, FL_BASE64_PAD, FL_BASE64_PAD | FL_BASE64_CANONICAL,
                                             FL_BASE64_NIX};
        for (size_t f = 0; f < sizeof padded_ok / sizeof *padded_ok; f++) {
            assert_int_equal(decode(vectors[i].padded, padded_ok[f], out, sizeof out, &got), 0);
            assert_int_equal(got, n);
            assert_memory_equal(out, vectors[i].plain, n);
        }
        static const unsigned unpadded_ok[] = {0, FL_BASE64_NOPAD | FL_BASE64_CANONICAL,
                                               FL_BASE64_NIX};
        for (size_t f = 0; f < sizeof unpadded_ok / sizeof *unpadded_ok; f++) {
            assert_int_equal(decode(vectors[i].unpadded, unpadded_ok[f], out, sizeof out, &got), 0);
            assert_int_equal(got, n);
            assert_memory_equal(out, vectors[i].plain, n);
        }
    }
}

static void test_strictness(void **state) {
    (void)state;
    char out[16];
    size_t got, bad = 0;
    /* padding: required, forbidden, or optional */
    assert_int_equal(decode("Zg", FL_BASE64_PAD, out, sizeof out, &got), FL_BASE64_EFORM);
    assert_int_equal(decode("Zg=", FL_BASE64_PAD, out, sizeof out, &got), FL_BASE64_EFORM);
    assert_int_equal(decode("Zg==", FL_BASE64_NOPAD, out, sizeof out, &got), FL_BASE64_EINVAL);
    assert_int_equal(decode("Zm8==", 0, out, sizeof out, &got), FL_BASE64_EFORM);
    assert_int_equal(decode("Zm9vY", 0, out, sizeof out, &got), FL_BASE64_EFORM);
    /* canonical: "Zh==" sets bits past the one byte it encodes ('f' is "Zg==") */
    assert_int_equal(decode("Zh==", FL_BASE64_PAD | FL_BASE64_CANONICAL, out, sizeof out, &got),
                     FL_BASE64_EFORM);
    assert_int_equal(decode("Zh==", FL_BASE64_PAD, out, sizeof out, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(out[0], 'f');
    /* an invalid character, wherever it is, and its index */
    assert_int_equal(
        fl_base64_decode("Zm9v!mFy", 8, (unsigned char *)out, sizeof out, &got, &bad, 0),
        FL_BASE64_EINVAL);
    assert_int_equal(bad, 4);
    assert_int_equal(decode("Zm=9v", 0, out, sizeof out, &got), FL_BASE64_EINVAL);
    /* room: more than cap bytes is refused, and says how many there were */
    assert_int_equal(decode("Zm9vYmFy", 0, out, 4, &got), FL_BASE64_ESPACE);
    assert_int_equal(got, 6);
    assert_memory_equal(out, "foob", 4);
}

/* Nix's base64Decode: newlines skipped, the first '=' ends the input, trailing bits ignored,
 * and an invalid character reported even after more than cap bytes. */
static void test_nix_reader(void **state) {
    (void)state;
    char out[8];
    size_t got, bad = 0;
    assert_int_equal(decode("Zm9v\nYmFy", FL_BASE64_NIX, out, sizeof out, &got), 0);
    assert_int_equal(got, 6);
    assert_memory_equal(out, "foobar", 6);
    assert_int_equal(decode("Zm8=ignored!", FL_BASE64_NIX, out, sizeof out, &got), 0);
    assert_int_equal(got, 2);
    assert_int_equal(decode("Zh", FL_BASE64_NIX, out, sizeof out, &got), 0);
    const char *long_bad = "Zm9vYmFyZm9vYmFyZm9v?";
    assert_int_equal(fl_base64_decode(long_bad, strlen(long_bad), (unsigned char *)out, 4, &got,
                                      &bad, FL_BASE64_NIX),
                     FL_BASE64_EINVAL);
    assert_int_equal(bad, 20);
    assert_int_equal(fl_base64_value('='), -1);
    assert_int_equal(fl_base64_value('/'), 63);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_strictness),
        cmocka_unit_test(test_nix_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
