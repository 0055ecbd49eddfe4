/* test_age.c - the age format through the library: round trips at the chunk boundaries, a
 * flipped byte anywhere and a truncation anywhere must fail with nothing written, key parsing
 * refuses what is not supported, Bech32 and the armor writer's shape. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/secret.h"
#include "flakectl/strbuf.h"

typedef struct fixture {
    char *dir;
    fl_age_recipients r;
    fl_age_identities ids;
} fixture;

static int setup(void **state) {
    fixture *f = fl_xcalloc(1, sizeof *f);
    fl_error err = FL_ERROR_INIT;
    f->dir = fl_make_temp_dir("/tmp", "fl-age-test-", &err);
    assert_non_null(f->dir);
    char *secret, *pub;
    fl_age_keygen(&secret, &pub);
    assert_int_equal(fl_age_recipient_add(&f->r, pub, "test", &err), 0);
    assert_int_equal(fl_age_identity_add_string(&f->ids, secret, "test", &err), 0);
    free(secret);
    free(pub);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    fl_remove_tree(f->dir, NULL);
    free(f->dir);
    fl_age_recipients_release(&f->r);
    fl_age_identities_release(&f->ids);
    free(f);
    return 0;
}

typedef struct collect {
    fl_strbuf sb;
} collect;

static int collect_sink(void *ctx, const unsigned char *data, size_t len, fl_error *err) {
    fl_strbuf_add(&((collect *)ctx)->sb, data, len);
    return 0;
}

static unsigned char *pattern(size_t n) {
    unsigned char *p = fl_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 7 + i / 251);
    return p;
}

/* Decrypts the bytes in `file` content; returns the failure kind, output in *out. */
static fl_age_failure decrypt_bytes(fixture *f, const char *content, size_t len, collect *out) {
    char *path = fl_path_join(f->dir, "in.age");
    fl_error err = FL_ERROR_INIT;
    /* Plain write, no fsync: this runs thousands of times. */
    FILE *w = fopen(path, "wb");
    assert_non_null(w);
    assert_int_equal(fwrite(content, 1, len, w), len);
    fclose(w);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    fl_age_failure kind = FL_AGE_IO;
    fl_strbuf_init(&out->sb, 0);
    int rc =
        fl_age_decrypt_fd(fd, path, &f->ids, FL_AGE_ARMOR_AUTO, collect_sink, out, &kind, &err);
    close(fd);
    assert_true((rc == 0) == (kind == FL_AGE_OK));
    if (rc) {
        assert_non_null(err.message);
        assert_non_null(strstr(err.message, path));
    }
    fl_error_clear(&err);
    free(path);
    return kind;
}

static char *encrypt_bytes(fixture *f, const unsigned char *data, size_t n, int armor,
                           size_t *len) {
    char *path = fl_path_join(f->dir, "out.age");
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_age_encrypt_memory_to_file(data, n, path, &f->r, armor, &err), 0);
    char *content;
    assert_int_equal(fl_read_file(path, &content, len, &err), 0);
    free(path);
    return content;
}

static void test_round_trip_at_chunk_boundaries(void **state) {
    fixture *f = *state;
    const size_t sizes[] = {0, 1, 65535, 65536, 65537, 2 * 65536, 200 * 1024 + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int armor = 0; armor <= 1; armor++) {
            unsigned char *plain = pattern(sizes[i]);
            size_t len;
            char *c = encrypt_bytes(f, plain, sizes[i], armor, &len);
            size_t chunks = sizes[i] == 0 ? 1 : (sizes[i] + 65535) / 65536;
            if (!armor) {
                const char *body = strstr(c, "\n--- ");
                assert_non_null(body);
                body = strchr(body + 1, '\n') + 1;
                /* header + 16-byte nonce + every chunk's 16-byte tag, nothing else */
                assert_int_equal(len - (size_t)(body - c), 16 + sizes[i] + 16 * chunks);
            } else {
                assert_memory_equal(c, "-----BEGIN AGE ENCRYPTED FILE-----\n", 35);
            }
            collect out;
            assert_int_equal(decrypt_bytes(f, c, len, &out), FL_AGE_OK);
            assert_int_equal(out.sb.len, sizes[i]);
            if (sizes[i])
                assert_memory_equal(out.sb.buf, plain, sizes[i]);
            fl_strbuf_release(&out.sb);
            free(c);
            free(plain);
        }
    }
}

/* Every truncation fails, and what was released is a whole-chunk prefix of the plaintext. */
static void test_truncation_anywhere_fails(void **state) {
    fixture *f = *state;
    size_t n = 2 * 65536 + 100, len;
    unsigned char *plain = pattern(n);
    char *c = encrypt_bytes(f, plain, n, 0, &len);
    for (size_t cut = 0; cut < len; cut += (cut < 400 || len - cut < 400) ? 1 : 509) {
        collect out;
        fl_age_failure k = decrypt_bytes(f, c, cut, &out);
        assert_true(k == FL_AGE_HEADER || k == FL_AGE_PAYLOAD);
        assert_true(out.sb.len % 65536 == 0 && out.sb.len < n);
        if (out.sb.len)
            assert_memory_equal(out.sb.buf, plain, out.sb.len);
        fl_strbuf_release(&out.sb);
    }
    free(c);
    free(plain);
}

static void test_flipped_byte_anywhere_fails(void **state) {
    fixture *f = *state;
    size_t n = 65536 + 10, len;
    unsigned char *plain = pattern(n);
    for (int armor = 0; armor <= 1; armor++) {
        char *c = encrypt_bytes(f, plain, n, armor, &len);
        for (size_t i = 0; i < len; i += (i < 600 || len - i < 600) ? 1 : 331) {
            collect out;
            c[i] ^= 0x01;
            fl_age_failure k = decrypt_bytes(f, c, len, &out);
            c[i] ^= 0x01;
            if (k == FL_AGE_OK)
                fail_msg("flipping byte %zu of %zu (armor %d) went unnoticed", i, len, armor);
            fl_strbuf_release(&out.sb);
        }
        free(c);
    }
    free(plain);
}

static void test_trailing_data_fails(void **state) {
    fixture *f = *state;
    size_t len;
    unsigned char *plain = pattern(100);
    char *c = encrypt_bytes(f, plain, 100, 0, &len);
    char *longer = fl_xmalloc(len + 1);
    memcpy(longer, c, len);
    longer[len] = 'x';
    collect out;
    assert_int_equal(decrypt_bytes(f, longer, len + 1, &out), FL_AGE_PAYLOAD);
    fl_strbuf_release(&out.sb);
    free(longer);
    free(c);
    free(plain);
}

static void test_wrong_key_is_no_match(void **state) {
    fixture *f = *state;
    void *p;
    setup(&p);
    fixture *o = p;
    size_t len;
    unsigned char *plain = pattern(10);
    char *c = encrypt_bytes(o, plain, 10, 0, &len);
    collect out;
    assert_int_equal(decrypt_bytes(f, c, len, &out), FL_AGE_NO_MATCH);
    assert_int_equal(out.sb.len, 0);
    fl_strbuf_release(&out.sb);
    free(c);
    free(plain);
    teardown(&p);
}

/* A file output appears only when the whole file authenticated; no temporaries stay. */
static void test_failed_decrypt_writes_nothing(void **state) {
    fixture *f = *state;
    size_t len;
    fl_error err = FL_ERROR_INIT;
    unsigned char *plain = pattern(3 * 65536);
    char *c = encrypt_bytes(f, plain, 3 * 65536, 0, &len);
    char *in = fl_path_join(f->dir, "bad.age");
    char *out = fl_path_join(f->dir, "plain");
    c[len - 5] ^= 0x40;
    assert_int_equal(fl_atomic_write_file(in, c, len, 0600, &err), 0);
    assert_int_not_equal(fl_age_decrypt_file(in, out, &f->ids, &err), 0);
    assert_non_null(strstr(err.message, "bad.age"));
    fl_error_clear(&err);
    assert_false(fl_path_exists(out));
    /* An existing output survives a failed decryption unchanged. */
    assert_int_equal(fl_atomic_write_file(out, "old", 3, 0644, &err), 0);
    assert_int_not_equal(fl_age_decrypt_file(in, out, &f->ids, &err), 0);
    fl_error_clear(&err);
    char *kept;
    size_t kept_len;
    assert_int_equal(fl_read_file(out, &kept, &kept_len, &err), 0);
    assert_string_equal(kept, "old");
    free(kept);
    c[len - 5] ^= 0x40;
    assert_int_equal(fl_atomic_write_file(in, c, len, 0600, &err), 0);
    assert_int_equal(fl_age_decrypt_file(in, out, &f->ids, &err), 0);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 3 * 65536);
    char *listing = fl_xasprintf("ls -a %s | grep -c tmp- >/dev/null", f->dir);
    assert_int_not_equal(system(listing), 0);
    free(listing);
    free(in);
    free(out);
    free(c);
    free(plain);
}

static void expect_refused(const char *text, const char *needle) {
    fl_age_recipients r = {NULL, 0};
    fl_error err = FL_ERROR_INIT;
    assert_int_not_equal(fl_age_recipient_add(&r, text, "keys.txt:3", &err), 0);
    assert_int_equal(r.n, 0);
    if (!strstr(err.message, needle) || !strstr(err.message, "keys.txt:3"))
        fail_msg("'%s' gave '%s', wanted '%s'", text, err.message, needle);
    fl_error_clear(&err);
}

static void test_recipient_parsing(void **state) {
    expect_refused("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 me@host", "RSA ssh keys are not");
    expect_refused("ecdsa-sha2-nistp256 AAAAE2VjZHNh", "not supported");
    expect_refused("age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", "Bech32");
    expect_refused("AGE-SECRET-KEY-1QQQQ", "secret key");
    expect_refused("hello", "unknown recipient");
    expect_refused("ssh-ed25519 AAAA!!", "malformed");
    /* A real pair: the age1 form of a key round-trips through Bech32. */
    char *secret, *pub;
    fl_age_keygen(&secret, &pub);
    fl_age_recipients r = {NULL, 0};
    fl_age_identities ids = {NULL, 0};
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_age_recipient_add(&r, pub, "x", &err), 0);
    assert_int_equal(fl_age_identity_add_string(&ids, secret, "x", &err), 0);
    char *again = fl_age_identity_recipient(&ids.v[0]);
    assert_string_equal(again, pub);
    assert_memory_equal(r.v[0].x25519, ids.v[0].x25519, 32);
    /* One changed character breaks the checksum. */
    pub[10] = pub[10] == 'q' ? 'p' : 'q';
    assert_int_not_equal(fl_age_recipient_add(&r, pub, "x", &err), 0);
    fl_error_clear(&err);
    free(again);
    free(secret);
    free(pub);
    fl_age_recipients_release(&r);
    fl_age_identities_release(&ids);
}

static void test_armor_lines_are_64_columns(void **state) {
    fixture *f = *state;
    size_t len;
    unsigned char *plain = pattern(5000);
    char *c = encrypt_bytes(f, plain, 5000, 1, &len);
    char *line = c;
    int nlines = 0;
    while (*line) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        size_t l = (size_t)(nl - line);
        if (nlines > 0 && strncmp(line, "-----END", 8) != 0) {
            char *next = nl + 1;
            if (strncmp(next, "-----END", 8) != 0)
                assert_int_equal(l, 64);
            else
                assert_true(l > 0 && l <= 64);
        }
        nlines++;
        line = nl + 1;
    }
    assert_string_equal(c + len - 33, "-----END AGE ENCRYPTED FILE-----\n");
    free(c);
    free(plain);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_at_chunk_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_anywhere_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte_anywhere_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_data_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_is_no_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_decrypt_writes_nothing, setup, teardown),
        cmocka_unit_test(test_recipient_parsing),
        cmocka_unit_test_setup_teardown(test_armor_lines_are_64_columns, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
