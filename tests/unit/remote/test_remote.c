/* test_remote.c - src/remote/: target parsing, ssh config (checked against `ssh -G`),
 * known_hosts (checked against `ssh-keygen -F`/`-H`/`-l`), output prefixing, shell quoting,
 * and the exec API with callbacks against a real sshd started by tests/e2e/lib/sshd.sh. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "flakectl/fs.h"
#include "flakectl/remote.h"
#include "flakectl/strbuf.h"

static char *tmp;

static char *sh_out(const char *fmt, ...) {
    va_list ap;
    fl_strbuf cmd;
    fl_strbuf_init(&cmd, 128);
    va_start(ap, fmt);
    fl_strbuf_vaddf(&cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd.buf, "r");
    assert_non_null(p);
    fl_strbuf out;
    fl_strbuf_init(&out, 256);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        fl_strbuf_add(&out, buf, n);
    pclose(p);
    fl_strbuf_release(&cmd);
    while (out.len && out.buf[out.len - 1] == '\n')
        out.buf[--out.len] = '\0';
    return fl_strbuf_detach(&out, NULL);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- targets ---- */

static void test_target_parse(void **state) {
    (void)state;
    static const struct {
        const char *spec, *user, *host;
        int port;
    } ok[] = {
        {"root@node1", "root", "node1", 0},
        {"node1", NULL, "node1", 0},
        {"deploy@10.0.0.5:2222", "deploy", "10.0.0.5", 2222},
        {"root@[::1]:22", "root", "::1", 22},
        {"[fe80::1]", NULL, "fe80::1", 0},
        {"root@fe80::1", "root", "fe80::1", 0},
        {"a@b@host:1", "a@b", "host", 1},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        fl_remote_target t;
        fl_error err = FL_ERROR_INIT;
        assert_int_equal(fl_remote_target_parse(ok[i].spec, &t, &err), 0);
        if (ok[i].user)
            assert_string_equal(t.user, ok[i].user);
        else
            assert_null(t.user);
        assert_string_equal(t.host, ok[i].host);
        assert_int_equal(t.port, ok[i].port);
        fl_remote_target_release(&t);
    }
    static const char *const bad[] = {"",     "root@", "@h",    "h:",     "h:0", "h:65536",
                                      "h:2x", "[::1",  "[]:22", "[::1]x", "a b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_remote_target t;
        fl_error err = FL_ERROR_INIT;
        assert_int_equal(fl_remote_target_parse(bad[i], &t, &err), FL_EUSAGE);
        assert_non_null(strstr(err.message, "target"));
        assert_non_null(err.hint);
        fl_error_clear(&err);
    }
}

/* ---- ssh config ---- */

/* The value `ssh -G` gives keyword kw for host under config path. */
static char *ssh_g(const char *path, const char *host, const char *kw) {
    return sh_out("ssh -T -G -F '%s' '%s' </dev/null 2>/dev/null | sed -n 's/^%s //p' | head -1",
                  path, host, kw);
}

static void test_ssh_config_matches_openssh(void **state) {
    (void)state;
    char *path = fl_path_join(tmp, "ssh_config");
    char *text = fl_xasprintf("# global part applies to all\n"
                              "ConnectTimeout 7\n"
                              "\n"
                              "Host web-? !web-9\n"
                              "    HostName 10.1.1.%%h\n"
                              "    port=2201\n"
                              "Host db \"db2\"\n"
                              "    HOSTNAME db.internal\n"
                              "    User dbadmin\n"
                              "    IdentityFile %s/keys/db\n"
                              "Host *.example.org\n"
                              "    User = ops\n"
                              "    Port 2022\n"
                              "Host *\n"
                              "    User fallback\n"
                              "    Port 2200\n"
                              "    IdentityFile %s/keys/all\n",
                              tmp, tmp);
    write_file(path, text);
    free(text);
    static const char *const hosts[] = {"web-1", "web-9", "db", "a.example.org", "other", "db2"};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        fl_ssh_host_config c;
        fl_error err = FL_ERROR_INIT;
        assert_int_equal(fl_ssh_config_lookup(path, hosts[i], &c, &err), 0);
        char *hn = ssh_g(path, hosts[i], "hostname");
        char *user = ssh_g(path, hosts[i], "user");
        char *port = ssh_g(path, hosts[i], "port");
        assert_string_equal(c.hostname ? c.hostname : hosts[i], hn);
        assert_non_null(c.user);
        assert_string_equal(c.user, user);
        assert_int_equal(c.port, atoi(port));
        assert_int_equal(c.connect_timeout, 7);
        /* the identity files, in ssh -G's order */
        char *ids = sh_out("ssh -T -G -F '%s' '%s' </dev/null 2>/dev/null | sed -n "
                           "'s/^identityfile //p' | paste -sd' '",
                           path, hosts[i]);
        fl_strbuf mine;
        fl_strbuf_init(&mine, 64);
        for (int k = 0; k < c.nidentity_files; k++)
            fl_strbuf_addf(&mine, "%s%s", k ? " " : "", c.identity_files[k]);
        assert_string_equal(mine.buf, ids);
        fl_strbuf_release(&mine);
        free(ids);
        free(hn);
        free(user);
        free(port);
        fl_ssh_host_config_release(&c);
    }
    free(path);
}

static void test_ssh_config_tokens_and_errors(void **state) {
    (void)state;
    char *path = fl_path_join(tmp, "ssh_config2");
    setenv("HOME", tmp, 1);
    setenv("USER", "alice", 1);
    write_file(path, "Host n1\n  HostName real-%h\n  User bob\n  Port 2\n"
                     "  IdentityFile ~/.ssh/k_%h_%r_%p_%u\n  IdentityFile %d/x%%\n"
                     "  IdentitiesOnly yes\n  UserKnownHostsFile ~/kh\n  Match all\n  Port 9\n");
    fl_ssh_host_config c;
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_ssh_config_lookup(path, "n1", &c, &err), 0);
    assert_string_equal(c.hostname, "real-n1");
    assert_int_equal(c.port, 2);
    assert_int_equal(c.nidentity_files, 2);
    char *want = fl_xasprintf("%s/.ssh/k_real-n1_bob_2_alice", tmp);
    assert_string_equal(c.identity_files[0], want);
    free(want);
    want = fl_xasprintf("%s/x%%", tmp);
    assert_string_equal(c.identity_files[1], want);
    free(want);
    want = fl_xasprintf("%s/kh", tmp);
    assert_string_equal(c.user_known_hosts_file, want);
    free(want);
    assert_int_equal(c.identities_only, 1);
    fl_ssh_host_config_release(&c);

    /* a missing file is an empty config */
    assert_int_equal(fl_ssh_config_lookup("/nonexistent/config", "x", &c, &err), 0);
    assert_null(c.hostname);
    fl_ssh_host_config_release(&c);

    /* a bad port names the file and line */
    write_file(path, "Host *\n\n  Port 70000\n");
    assert_int_equal(fl_ssh_config_lookup(path, "x", &c, &err), FL_EPARSE);
    assert_string_equal(err.file, path);
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(err.message, "70000"));
    fl_error_clear(&err);
    free(path);
}

static void test_ssh_pattern(void **state) {
    (void)state;
    assert_true(fl_ssh_pattern_match("*", "anything"));
    assert_true(fl_ssh_pattern_match("web-?", "WEB-1"));
    assert_false(fl_ssh_pattern_match("web-?", "web-10"));
    assert_true(fl_ssh_pattern_match("*.example.org", "a.b.example.org"));
    assert_false(fl_ssh_pattern_match("*.example.org", "example.org"));
    assert_true(fl_ssh_pattern_match("[127.0.0.?]:22??", "[127.0.0.1]:2222"));
}

/* ---- known_hosts ---- */

/* Decodes the key blob of a .pub file. */
static unsigned char *pub_blob(const char *pubpath, size_t *len) {
    char *b64 = sh_out("cut -d' ' -f2 '%s'", pubpath);
    unsigned char *out = fl_xmalloc(strlen(b64));
    int n = EVP_DecodeBlock(out, (unsigned char *)b64, (int)strlen(b64));
    assert_true(n > 0);
    size_t pad = 0;
    for (size_t i = strlen(b64); i > 0 && b64[i - 1] == '='; i--)
        pad++;
    *len = (size_t)n - pad;
    free(b64);
    return out;
}

static char *keygen(const char *name, const char *type) {
    char *path = fl_path_join(tmp, name);
    char *o = sh_out("rm -f '%s' '%s.pub'; ssh-keygen -q -t %s -N '' -f '%s' && echo ok", path,
                     path, type, path);
    assert_string_equal(o, "ok");
    free(o);
    return path;
}

/* The line ssh-keygen -F reports for name in file, 0 when none. */
static int keygen_find_line(const char *file, const char *name) {
    char *o = sh_out(
        "ssh-keygen -F '%s' -f '%s' 2>/dev/null | sed -n 's/.*found: line \\([0-9]*\\).*/\\1/p' "
        "| head -1",
        name, file);
    int line = atoi(o);
    free(o);
    return line;
}

static void test_fingerprint_and_type(void **state) {
    (void)state;
    static const char *const types[] = {"ed25519", "ecdsa", "rsa"};
    for (size_t i = 0; i < 3; i++) {
        char *key = keygen("fpkey", types[i]);
        char *pub = fl_xasprintf("%s.pub", key);
        size_t len;
        unsigned char *blob = pub_blob(pub, &len);
        char *fp = fl_ssh_fingerprint(blob, len);
        char *want = sh_out("ssh-keygen -lf '%s' | cut -d' ' -f2", pub);
        assert_string_equal(fp, want);
        char *type = fl_ssh_key_type(blob, len);
        char *wtype = sh_out("cut -d' ' -f1 '%s'", pub);
        assert_string_equal(type, wtype);
        free(type);
        free(wtype);
        free(fp);
        free(want);
        free(blob);
        free(pub);
        free(key);
    }
}

static void test_known_hosts_against_ssh_keygen(void **state) {
    (void)state;
    char *k1 = keygen("hk1", "ed25519"), *k2 = keygen("hk2", "ed25519"),
         *k3 = keygen("hk3", "ecdsa");
    char *p1 = fl_xasprintf("%s.pub", k1), *p2 = fl_xasprintf("%s.pub", k2),
         *p3 = fl_xasprintf("%s.pub", k3);
    char *kh = fl_path_join(tmp, "known_hosts");
    char *cmd = fl_xasprintf("{ echo '# comment'; echo; "
                             "echo \"alpha,beta $(cut -d' ' -f1,2 %s)\"; "
                             "echo \"[gamma]:2222 $(cut -d' ' -f1,2 %s)\"; "
                             "echo \"*.wild.test,!no.wild.test $(cut -d' ' -f1,2 %s)\"; "
                             "echo \"delta $(cut -d' ' -f1,2 %s)\"; "
                             "echo \"@cert-authority * $(cut -d' ' -f1,2 %s)\"; "
                             "echo \"hashme $(cut -d' ' -f1,2 %s)\"; } > '%s' && "
                             "ssh-keygen -H -f '%s' >/dev/null 2>&1; rm -f '%s.old'; "
                             "echo \"[gamma]:2222 $(cut -d' ' -f1,2 %s)\" >> '%s'; echo ok",
                             p1, p1, p2, p3, p2, p2, kh, kh, kh, p3, kh);
    char *o = sh_out("%s", cmd);
    assert_string_equal(o, "ok");
    free(o);
    free(cmd);
    size_t l1, l2, l3;
    unsigned char *b1 = pub_blob(p1, &l1), *b2 = pub_blob(p2, &l2), *b3 = pub_blob(p3, &l3);
    static const struct {
        const char *host;
        int port;
        int key; /* 1..3 */
        int want;
    } cases[] = {
        {"alpha", 22, 1, FL_KNOWN_HOST_MATCH},          {"beta", 0, 1, FL_KNOWN_HOST_MATCH},
        {"alpha", 22, 2, FL_KNOWN_HOST_CHANGED},        {"alpha", 22, 3, FL_KNOWN_HOST_UNKNOWN},
        {"gamma", 2222, 1, FL_KNOWN_HOST_MATCH},        {"gamma", 22, 1, FL_KNOWN_HOST_UNKNOWN},
        {"gamma", 2222, 3, FL_KNOWN_HOST_MATCH},        {"x.wild.test", 22, 2, FL_KNOWN_HOST_MATCH},
        {"no.wild.test", 22, 2, FL_KNOWN_HOST_UNKNOWN}, {"delta", 22, 3, FL_KNOWN_HOST_MATCH},
        {"hashme", 22, 2, FL_KNOWN_HOST_MATCH},         {"hashme", 22, 1, FL_KNOWN_HOST_CHANGED},
        {"other", 22, 2, FL_KNOWN_HOST_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const unsigned char *b = cases[i].key == 1 ? b1 : cases[i].key == 2 ? b2 : b3;
        size_t l = cases[i].key == 1 ? l1 : cases[i].key == 2 ? l2 : l3;
        fl_known_host_check c;
        fl_error err = FL_ERROR_INIT;
        assert_int_equal(fl_known_hosts_check(kh, cases[i].host, cases[i].port, b, l, &c, &err), 0);
        if (c.result != cases[i].want)
            fail_msg("%s:%d key %d: got %d want %d", cases[i].host, cases[i].port, cases[i].key,
                     c.result, cases[i].want);
        if (c.result == FL_KNOWN_HOST_MATCH || c.result == FL_KNOWN_HOST_CHANGED) {
            /* the line we name is a line ssh-keygen -F names for this host */
            char *name = fl_known_hosts_name(cases[i].host, cases[i].port);
            char *lines =
                sh_out("ssh-keygen -F '%s' -f '%s' | sed -n 's/.*found: line //p'", name, kh);
            char want[16];
            snprintf(want, sizeof want, "%d", c.line);
            int found = 0;
            for (char *tok = strtok(lines, "\n "); tok; tok = strtok(NULL, "\n "))
                found = found || !strcmp(tok, want);
            if (!found)
                fail_msg("%s: line %d is not among ssh-keygen -F's lines", name, c.line);
            free(lines);
            free(name);
        }
        fl_known_host_check_release(&c);
    }
    free(b1);
    free(b2);
    free(b3);
    free(kh);
    free(p1);
    free(p2);
    free(p3);
    free(k1);
    free(k2);
    free(k3);
}

static void test_known_hosts_add(void **state) {
    (void)state;
    char *k = keygen("addkey", "ed25519");
    char *p = fl_xasprintf("%s.pub", k);
    size_t len;
    unsigned char *b = pub_blob(p, &len);
    char *kh = fl_path_join(tmp, "sub/dir/known_hosts_add");
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_known_hosts_add(kh, "plain.test", 22, b, len, 0, &err), 0);
    assert_int_equal(fl_known_hosts_add(kh, "10.0.0.1", 2222, b, len, 1, &err), 0);
    assert_int_equal(keygen_find_line(kh, "plain.test"), 1);
    assert_int_equal(keygen_find_line(kh, "[10.0.0.1]:2222"), 2);
    assert_int_equal(keygen_find_line(kh, "10.0.0.1"), 0);
    char *mode = sh_out("stat -c %%a '%s'", kh);
    assert_string_equal(mode, "600");
    free(mode);
    fl_known_host_check c;
    assert_int_equal(fl_known_hosts_check(kh, "10.0.0.1", 2222, b, len, &c, &err), 0);
    assert_int_equal(c.result, FL_KNOWN_HOST_MATCH);
    assert_int_equal(c.line, 2);
    fl_known_host_check_release(&c);
    free(kh);
    free(b);
    free(p);
    free(k);
}

/* ---- output ---- */

static void test_prefixer(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fl_remote_prefixer p;
    fl_error err = FL_ERROR_INIT;
    fl_remote_prefixer_init(&p, fds[1], "node1");
    assert_int_equal(fl_remote_prefix_write(&p, "a\nb", 3, &err), 0);
    assert_int_equal(fl_remote_prefix_write(&p, "c\n\nd", 4, &err), 0);
    fl_remote_prefixer_finish(&p);
    close(fds[1]);
    char buf[256];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "[node1] a\n[node1] bc\n[node1] \n[node1] d\n");
}

static void test_shell_quote(void **state) {
    (void)state;
    static const char *const words[] = {"plain", "it's", "$(rm -rf /)", "a b\tc\n", "", "'\""};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        fl_strbuf q;
        fl_strbuf_init(&q, 32);
        fl_strbuf_adds(&q, "printf %s ");
        fl_remote_shell_quote(&q, words[i]);
        fl_strbuf cmd;
        fl_strbuf_init(&cmd, 64);
        fl_strbuf_adds(&cmd, "sh -c ");
        fl_remote_shell_quote(&cmd, q.buf);
        fl_strbuf_adds(&cmd, "; echo .");
        char *o = sh_out("%s", cmd.buf);
        size_t ol = strlen(o);
        assert_true(ol >= 1 && o[ol - 1] == '.');
        o[ol - 1] = '\0';
        assert_string_equal(o, words[i]);
        free(o);
        fl_strbuf_release(&q);
        fl_strbuf_release(&cmd);
    }
}

/* ---- fleets ---- */

typedef struct fleet_ctx {
    pthread_mutex_t lock;
    int running, max_running, calls;
} fleet_ctx;

static int fleet_job(void *ctx, int index, fl_fleet_result *res) {
    fleet_ctx *c = ctx;
    pthread_mutex_lock(&c->lock);
    c->calls++;
    c->running++;
    if (c->running > c->max_running)
        c->max_running = c->running;
    pthread_mutex_unlock(&c->lock);
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&c->lock);
    c->running--;
    pthread_mutex_unlock(&c->lock);
    res->detail = fl_xasprintf("job %d", index);
    return index % 3 == 1 ? -1 : 0;
}

static void test_fleet_run(void **state) {
    (void)state;
    fl_fleet_result res[7];
    fleet_ctx c = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    fl_fleet_opts o = {3, 0};
    /* hosts 1 and 4 fail; the others still run; never more than 3 at once */
    assert_int_equal(fl_fleet_run(7, fleet_job, &c, &o, res), 2);
    assert_int_equal(c.calls, 7);
    assert_true(c.max_running <= 3);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(res[i].state, i % 3 == 1 ? FL_FLEET_FAILED : FL_FLEET_OK);
        fl_fleet_result_release(&res[i]);
    }
    /* fail-fast with one job at a time: host 1 fails, 2..6 are skipped */
    fleet_ctx c2 = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    o.jobs = 1;
    o.fail_fast = 1;
    assert_int_equal(fl_fleet_run(7, fleet_job, &c2, &o, res), 6);
    assert_int_equal(c2.calls, 2);
    assert_int_equal(res[0].state, FL_FLEET_OK);
    assert_int_equal(res[1].state, FL_FLEET_FAILED);
    for (int i = 2; i < 7; i++)
        assert_int_equal(res[i].state, FL_FLEET_SKIPPED);
    /* the table */
    FILE *f = tmpfile();
    const char *names[7] = {"a", "bb", "c", "d", "e", "f", "g"};
    fl_fleet_print_summary(f, names, res, 7);
    rewind(f);
    char buf[2048];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "bb    FAILED"));
    assert_non_null(strstr(buf, "job 1"));
    assert_non_null(strstr(buf, "1 of 7 hosts succeeded"));
    for (int i = 0; i < 7; i++)
        fl_fleet_result_release(&res[i]);
}

/* ---- exec API against a real sshd ---- */

static char *sshd_dir;
static int sshd_port;

static int start_sshd(void **state) {
    (void)state;
    const char *src = getenv("FLAKECTL_SRC");
    if (!src)
        return 0; /* the exec tests fail loudly below */
    sshd_dir = fl_path_join(tmp, "sshd");
    mkdir(sshd_dir, 0700);
    char *o = sh_out("bash '%s/tests/e2e/lib/sshd.sh' start '%s'", src, sshd_dir);
    sshd_port = atoi(o);
    free(o);
    return 0;
}

static int stop_sshd(void **state) {
    (void)state;
    const char *src = getenv("FLAKECTL_SRC");
    if (src && sshd_dir) {
        char *o = sh_out("bash '%s/tests/e2e/lib/sshd.sh' stop '%s'", src, sshd_dir);
        free(o);
    }
    free(sshd_dir);
    return 0;
}

static fl_remote *connect_test(void) {
    assert_true(sshd_port > 0);
    fl_remote_target t;
    fl_error err = FL_ERROR_INIT;
    char *spec = fl_xasprintf("root@127.0.0.1:%d", sshd_port);
    assert_int_equal(fl_remote_target_parse(spec, &t, &err), 0);
    free(spec);
    char *key = fl_path_join(sshd_dir, "client_ed25519");
    char *kh = fl_path_join(sshd_dir, "known_hosts");
    fl_remote_opts o = {0};
    o.identity_file = key;
    o.known_hosts = kh;
    o.ssh_config = "none";
    o.accept_new_host_key = 1;
    o.label = "test-node";
    fl_remote *r = NULL;
    int rc = fl_remote_connect(&t, &o, &r, &err);
    if (rc < 0)
        fail_msg("connect: %s", err.message);
    fl_remote_target_release(&t);
    free(key);
    free(kh);
    return r;
}

typedef struct pattern_src {
    size_t total, sent;
} pattern_src;

static unsigned char pattern_byte(size_t i) {
    return (unsigned char)((i * 2654435761u) >> 13);
}

static ssize_t pattern_read(void *ctx, char *buf, size_t cap, fl_error *err) {
    (void)err;
    pattern_src *s = ctx;
    size_t n = s->total - s->sent < cap ? s->total - s->sent : cap;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)pattern_byte(s->sent + i);
    s->sent += n;
    return (ssize_t)n;
}

typedef struct pattern_sink {
    size_t got;
    int bad;
} pattern_sink;

static int pattern_check(void *ctx, const char *data, size_t len, fl_error *err) {
    (void)err;
    pattern_sink *s = ctx;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)data[i] != pattern_byte(s->got + i))
            s->bad = 1;
    s->got += len;
    return 0;
}

static int abort_after_first(void *ctx, const char *data, size_t len, fl_error *err) {
    (void)data;
    (void)len;
    int *calls = ctx;
    if ((*calls)++ > 0)
        return fl_error_set(err, FL_EIO, "sink full");
    return 0;
}

static int collect(void *ctx, const char *data, size_t len, fl_error *err) {
    (void)err;
    fl_strbuf_add(ctx, data, len);
    return 0;
}

static void test_exec_streams_callbacks(void **state) {
    (void)state;
    fl_remote *r = connect_test();
    assert_string_equal(fl_remote_label(r), "test-node");
    /* 12 MiB through cat via callbacks, byte for byte */
    pattern_src src = {12u << 20, 0};
    pattern_sink sink = {0, 0};
    fl_remote_io io = FL_REMOTE_IO_INIT;
    io.stdin_cb = pattern_read;
    io.stdin_ctx = &src;
    io.stdout_cb = pattern_check;
    io.stdout_ctx = &sink;
    fl_remote_status st;
    fl_error err = FL_ERROR_INIT;
    assert_int_equal(fl_remote_exec(r, "cat", &io, &st, &err), 0);
    assert_int_equal(st.exit_status, 0);
    assert_null(st.exit_signal);
    assert_int_equal(sink.got, 12u << 20);
    assert_int_equal(sink.bad, 0);

    /* a sink that gives up aborts the command with its error... */
    int calls = 0;
    fl_remote_io io2 = FL_REMOTE_IO_INIT;
    io2.stdout_cb = abort_after_first;
    io2.stdout_ctx = &calls;
    assert_int_equal(fl_remote_exec(r, "head -c 50000000 /dev/zero", &io2, &st, &err), FL_EIO);
    assert_string_equal(err.message, "sink full");
    fl_error_clear(&err);

    /* ...and the connection still serves the next command */
    fl_strbuf out;
    fl_strbuf_init(&out, 16);
    fl_remote_io io3 = FL_REMOTE_IO_INIT;
    io3.stdout_cb = collect;
    io3.stdout_ctx = &out;
    assert_int_equal(fl_remote_exec(r, "echo still here", &io3, &st, &err), 0);
    assert_string_equal(out.buf, "still here\n");
    fl_strbuf_release(&out);

    /* fl_remote_run turns statuses into errors */
    assert_int_equal(fl_remote_run(r, "exit 3", NULL, &err), FL_EGENERIC);
    assert_non_null(strstr(err.message, "exit status 3"));
    assert_non_null(strstr(err.message, "test-node"));
    fl_error_clear(&err);
    assert_int_equal(fl_remote_run(r, "flakectl activate x", NULL, &err), FL_ENOTFOUND);
    assert_string_equal(err.message, "flakectl is not installed on test-node");
    fl_error_clear(&err);
    assert_int_equal(fl_remote_require_flakectl(r, &err), FL_ENOTFOUND);
    fl_error_clear(&err);
    assert_int_equal(fl_remote_run(r, "true", NULL, &err), 0);
    fl_remote_close(r);
}

int main(void) {
    fl_error err = FL_ERROR_INIT;
    tmp = fl_make_temp_dir("/tmp", "flakectl-remote-test.", &err);
    if (!tmp) {
        fl_error_print(&err, stderr);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_parse),
        cmocka_unit_test(test_ssh_pattern),
        cmocka_unit_test(test_ssh_config_matches_openssh),
        cmocka_unit_test(test_ssh_config_tokens_and_errors),
        cmocka_unit_test(test_fingerprint_and_type),
        cmocka_unit_test(test_known_hosts_against_ssh_keygen),
        cmocka_unit_test(test_known_hosts_add),
        cmocka_unit_test(test_prefixer),
        cmocka_unit_test(test_shell_quote),
        cmocka_unit_test(test_fleet_run),
        cmocka_unit_test_setup_teardown(test_exec_streams_callbacks, start_sshd, stop_sshd),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    fl_remove_tree(tmp, &err);
    free(tmp);
    return failed;
}
