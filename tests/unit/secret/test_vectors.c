/* test_vectors.c - every C2SP age test vector in $FLAKECTL_SHARED/testvectors/age, read in
 * place, as its own test: the failure kind and the SHA-256 of all released plaintext must be
 * exactly the expected ones, the hybrid (ML-KEM-768 + X25519) ones included. Nothing is
 * skipped: a vector that cannot run fails. */
/* cmocka needs these first, in this order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "flakectl/fs.h"
#include "flakectl/secret.h"
#include "flakectl/strbuf.h"

typedef struct vector {
    char *name;
    char *path;
} vector;

static fl_age_failure expect_kind(const char *s) {
    if (!strcmp(s, "success"))
        return FL_AGE_OK;
    if (!strcmp(s, "no match"))
        return FL_AGE_NO_MATCH;
    if (!strcmp(s, "HMAC failure"))
        return FL_AGE_HMAC;
    if (!strcmp(s, "header failure"))
        return FL_AGE_HEADER;
    if (!strcmp(s, "payload failure"))
        return FL_AGE_PAYLOAD;
    if (!strcmp(s, "armor failure"))
        return FL_AGE_ARMOR;
    fail_msg("unknown expectation '%s'", s);
    return FL_AGE_IO;
}

static const char *kind_name(fl_age_failure f) {
    static const char *names[] = {"success",        "no match",        "HMAC failure",
                                  "header failure", "payload failure", "armor failure",
                                  "unsupported",    "I/O error"};
    return names[f];
}

static unsigned char *inflate_all(const unsigned char *in, size_t n, size_t *out_len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit(&z), Z_OK);
    size_t cap = n * 4 + 1024, len = 0;
    unsigned char *out = fl_xmalloc(cap);
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)n;
    int rc;
    do {
        if (cap - len < 65536) {
            cap *= 2;
            out = fl_xrealloc(out, cap);
        }
        z.next_out = out + len;
        z.avail_out = (uInt)(cap - len);
        rc = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
        assert_true(rc == Z_OK || rc == Z_STREAM_END);
    } while (rc != Z_STREAM_END);
    inflateEnd(&z);
    *out_len = len;
    return out;
}

static int hash_sink(void *ctx, const unsigned char *data, size_t len, fl_error *err) {
    crypto_hash_sha256_update(ctx, data, len);
    return 0;
}

static void run_vector(void **state) {
    const vector *v = *state;
    fl_error err = FL_ERROR_INIT;
    char *data;
    size_t len;
    assert_int_equal(fl_read_file(v->path, &data, &len, &err), 0);
    fl_age_identities ids = {NULL, 0};
    const char *expect = NULL, *payload = NULL;
    int armored = 0, compressed = 0;
    char *p = data;
    for (;;) {
        char *nl = memchr(p, '\n', len - (size_t)(p - data));
        assert_non_null(nl);
        *nl = '\0';
        if (*p == '\0') {
            p = nl + 1;
            break;
        }
        char *colon = strstr(p, ": ");
        assert_non_null(colon);
        *colon = '\0';
        const char *val = colon + 2;
        if (!strcmp(p, "expect"))
            expect = val;
        else if (!strcmp(p, "payload"))
            payload = val;
        else if (!strcmp(p, "armored"))
            armored = !strcmp(val, "yes");
        else if (!strcmp(p, "compressed"))
            compressed = !strcmp(val, "zlib");
        else if (!strcmp(p, "passphrase"))
            fl_age_identity_add_passphrase(&ids, val);
        else if (!strcmp(p, "identity"))
            assert_int_equal(fl_age_identity_add_string(&ids, val, "vector", &err), 0);
        p = nl + 1;
    }
    assert_non_null(expect);
    size_t body_len = len - (size_t)(p - data);
    unsigned char *body = (unsigned char *)p, *inflated = NULL;
    if (compressed)
        body = inflated = inflate_all(body, body_len, &body_len);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(body, 1, body_len, f), body_len);
    fflush(f);
    rewind(f);
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    fl_age_failure got = FL_AGE_IO;
    int rc =
        fl_age_decrypt_fd(fileno(f), v->name, &ids, armored ? FL_AGE_ARMOR_YES : FL_AGE_ARMOR_NO,
                          hash_sink, &h, &got, &err);
    fclose(f);
    if ((rc == 0) != (got == FL_AGE_OK))
        fail_msg("%s: return code %d disagrees with failure kind %s", v->name, rc, kind_name(got));
    if (got != expect_kind(expect))
        fail_msg("%s: expected %s, got %s (%s)", v->name, expect, kind_name(got),
                 err.message ? err.message : "no message");
    if (rc != 0 && (!err.message || !strstr(err.message, v->name)))
        fail_msg("%s: the error does not name the file: %s", v->name, err.message);
    if (payload) {
        unsigned char digest[32];
        char hex[65];
        crypto_hash_sha256_final(&h, digest);
        sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
        if (strcmp(hex, payload) != 0)
            fail_msg("%s: released plaintext hash %s, expected %s", v->name, hex, payload);
    }
    fl_error_clear(&err);
    fl_age_identities_release(&ids);
    free(inflated);
    free(data);
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const vector *)a)->name, ((const vector *)b)->name);
}

int main(void) {
    const char *shared = getenv("FLAKECTL_SHARED");
    if (!shared) {
        fprintf(stderr, "FLAKECTL_SHARED is not set (run through ctest)\n");
        return 1;
    }
    char *dir = fl_path_join(shared, "testvectors/age");
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return 1;
    }
    vector *vs = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "README.md"))
            continue;
        vs = fl_xrealloc(vs, sizeof(vector) * (n + 1));
        vs[n].name = fl_xstrdup(de->d_name);
        vs[n].path = fl_path_join(dir, de->d_name);
        n++;
    }
    closedir(d);
    qsort(vs, n, sizeof(vector), by_name);
    if (n < 100) {
        fprintf(stderr, "only %zu vectors found in %s\n", n, dir);
        return 1;
    }
    struct CMUnitTest *tests = fl_xcalloc(n, sizeof *tests);
    for (size_t i = 0; i < n; i++) {
        tests[i].name = vs[i].name;
        tests[i].test_func = run_vector;
        tests[i].initial_state = &vs[i];
    }
    int failed = _cmocka_run_group_tests("age_vectors", tests, n, NULL, NULL);
    printf("age vectors: %zu total, %zu run, %zu passed, %d failed\n", n, n, n - (size_t)failed,
           failed);
    for (size_t i = 0; i < n; i++) {
        free(vs[i].name);
        free(vs[i].path);
    }
    free(vs);
    free(tests);
    free(dir);
    return failed ? 1 : 0;
}
