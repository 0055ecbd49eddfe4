/* secret.c - `flakectl secret`: encrypt, decrypt and keygen with the age tool's flags, and
 * edit/rekey with the recipients of the flake's secrets/secrets.nix (evaluated here) and the
 * secrets/.recipients.json record of what each file was last encrypted to. Owns the command
 * line only; the format lives in src/secret/. Never prints secret material except the key
 * keygen was asked to make. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <limits.h>
#include <sodium.h>

#include "flakectl/cli.h"
#include "flakectl/fs.h"
#include "flakectl/lang.h"
#include "flakectl/module.h"
#include "flakectl/options.h"
#include "flakectl/secret.h"
#include "flakectl/strbuf.h"

static const char usage_text[] =
    "usage: flakectl secret <command> [options]\n"
    "\n"
    "commands:\n"
    "  encrypt [-r RECIPIENT]... [-R RECIPIENTS_FILE]... [-a] [-o OUT] [FILE]\n"
    "  decrypt [-i IDENTITY]... [-o OUT] [FILE]\n"
    "  keygen [-pq] [-o OUT]      make an age X25519 key, or with -pq (also --pq) a\n"
    "                             post-quantum ML-KEM-768+X25519 one (public key on stderr)\n"
    "  keygen -y [-o OUT] [FILE]  print the recipient of an identity file\n"
    "  edit [-r R]... [-R F]... [-i ID]... FILE       edit a secret in $EDITOR\n"
    "  rekey [-r R]... [-R F]... [-i ID]... FILE...   re-encrypt files, all or none\n"
    "\n"
    "Recipients: age1… and ssh-ed25519 public keys. Identities: AGE-SECRET-KEY-1… files and\n"
    "unencrypted OpenSSH ed25519 private keys. See docs/secrets.md.\n";

static const char encrypt_usage[] =
    "usage: flakectl secret encrypt [-r RECIPIENT]... [-R RECIPIENTS_FILE]... [-a] [-o OUT] "
    "[FILE]\n"
    "\n"
    "Encrypts FILE (default: standard input) to every recipient given.\n"
    "  -r, --recipient RECIPIENT      an age1… or \"ssh-ed25519 AAAA…\" public key\n"
    "  -R, --recipients-file PATH     a file of recipients, one per line ('#' comments)\n"
    "  -a, --armor                    write the PEM-armored text form\n"
    "  -o, --output OUT               write to OUT (atomically) instead of standard output\n";

static const char decrypt_usage[] =
    "usage: flakectl secret decrypt [-i IDENTITY]... [-o OUT] [FILE]\n"
    "\n"
    "Decrypts FILE (default: standard input; binary or armored).\n"
    "  -i, --identity PATH   an AGE-SECRET-KEY-1… file or an unencrypted OpenSSH ed25519\n"
    "                        private key; may repeat\n"
    "  -o, --output OUT      write to OUT (mode 0600) only once the whole file authenticated;\n"
    "                        without -o each 64 KiB chunk is written once it authenticated\n";

static const char keygen_usage[] =
    "usage: flakectl secret keygen [-pq] [-o OUT]\n"
    "       flakectl secret keygen -y [-o OUT] [IDENTITY_FILE]\n"
    "\n"
    "Makes an age X25519 identity; writes it to OUT (created 0600, never overwritten) or\n"
    "standard output and prints the public key on standard error.\n"
    "  -y    print the recipients (public keys) of an identity file instead\n";

static const char edit_usage[] =
    "usage: flakectl secret edit [-r RECIPIENT]... [-R RECIPIENTS_FILE]... [-i IDENTITY]... "
    "FILE\n"
    "\n"
    "Decrypts FILE (a new file starts empty) into a private temporary directory, runs\n"
    "$VISUAL/$EDITOR on it, and re-encrypts it to the recipients if the content changed.\n"
    "The plaintext copy is removed on every exit path.\n"
    "  -r, -R   the recipients (default: FILE's publicKeys in the flake's secrets/secrets.nix)\n"
    "  -i       identities to decrypt with (default: ~/.ssh/id_ed25519)\n";

static const char rekey_usage[] =
    "usage: flakectl secret rekey [-r RECIPIENT]... [-R RECIPIENTS_FILE]... [-i IDENTITY]... "
    "[FILE...]\n"
    "\n"
    "Re-encrypts every FILE to its recipients; without FILE, every file of the flake's\n"
    "secrets/secrets.nix whose recipients changed since it was last encrypted (as recorded in\n"
    "secrets/.recipients.json). Every file is decrypted and re-encrypted to a temporary before\n"
    "the first is replaced: if any cannot be decrypted, none is changed.\n"
    "  -r, -R   the recipients for every FILE (default: secrets/secrets.nix)\n"
    "  -i       identities to decrypt with (default: ~/.ssh/id_ed25519)\n";

static int usage_error(const char *usage, const char *fmt, const char *arg) {
    fprintf(stderr, "error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage);
    return FL_EXIT_USAGE;
}

/* Matches "-x VALUE", "--long VALUE" and "--long=VALUE"; advances *i over the value. */
static int take_value(int argc, char **argv, int *i, const char *s, const char *l,
                      const char **value) {
    const char *a = argv[*i];
    size_t ll = strlen(l);
    if (!strncmp(a, l, ll) && a[ll] == '=') {
        *value = a + ll + 1;
        return 1;
    }
    if (strcmp(a, s) != 0 && strcmp(a, l) != 0)
        return 0;
    if (*i + 1 >= argc) {
        *value = NULL;
        return 1;
    }
    *value = argv[++*i];
    return 1;
}

static int is_help(const char *a) {
    return !strcmp(a, "--help") || !strcmp(a, "-h");
}

static int secret_encrypt(int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    fl_age_recipients r = {NULL, 0};
    const char *out = NULL, *in = NULL, *v;
    int armor = 0, rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            fputs(encrypt_usage, stdout);
            fl_age_recipients_release(&r);
            return FL_EXIT_OK;
        } else if (take_value(argc, argv, &i, "-r", "--recipient", &v)) {
            if (!v)
                return usage_error(encrypt_usage, "%s needs a value", a);
            char *where = fl_xasprintf("recipient '%s'", v);
            rc = fl_age_recipient_add(&r, v, where, &err);
            free(where);
        } else if (take_value(argc, argv, &i, "-R", "--recipients-file", &v)) {
            if (!v)
                return usage_error(encrypt_usage, "%s needs a value", a);
            rc = fl_age_recipients_add_file(&r, v, &err);
        } else if (take_value(argc, argv, &i, "-o", "--output", &v)) {
            if (!v)
                return usage_error(encrypt_usage, "%s needs a value", a);
            out = v;
        } else if (!strcmp(a, "-a") || !strcmp(a, "--armor")) {
            armor = 1;
        } else if (!strcmp(a, "-e") || !strcmp(a, "--encrypt")) {
            /* age's explicit mode flag: accepted for familiarity. */
        } else if (a[0] == '-' && a[1] != '\0') {
            fl_age_recipients_release(&r);
            return usage_error(encrypt_usage, "unknown option '%s'", a);
        } else if (in) {
            fl_age_recipients_release(&r);
            return usage_error(encrypt_usage, "only one input file, got also '%s'", a);
        } else {
            in = a;
        }
    }
    if (rc) {
        fl_age_recipients_release(&r);
        return fl_cli_report(&err);
    }
    if (r.n == 0) {
        fl_age_recipients_release(&r);
        return usage_error(encrypt_usage, "%s", "no recipients: give at least one -r or -R");
    }
    if (!armor && (!out || !strcmp(out, "-")) && isatty(1)) {
        fl_age_recipients_release(&r);
        fl_error_set(&err, FL_EUSAGE, "refusing to write binary ciphertext to a terminal");
        fl_error_set_hint(&err, "use -a for text output or -o FILE");
        return fl_cli_report(&err);
    }
    rc = fl_age_encrypt_file(in, out, &r, armor, &err);
    fl_age_recipients_release(&r);
    return rc ? fl_cli_report(&err) : FL_EXIT_OK;
}

static int secret_decrypt(int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    fl_age_identities ids = {NULL, 0};
    const char *out = NULL, *in = NULL, *v;
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            fputs(decrypt_usage, stdout);
            fl_age_identities_release(&ids);
            return FL_EXIT_OK;
        } else if (take_value(argc, argv, &i, "-i", "--identity", &v)) {
            if (!v)
                return usage_error(decrypt_usage, "%s needs a value", a);
            rc = fl_age_identities_add_file(&ids, v, &err);
        } else if (take_value(argc, argv, &i, "-o", "--output", &v)) {
            if (!v)
                return usage_error(decrypt_usage, "%s needs a value", a);
            out = v;
        } else if (!strcmp(a, "-d") || !strcmp(a, "--decrypt")) {
            /* age's explicit mode flag: accepted for familiarity. */
        } else if (a[0] == '-' && a[1] != '\0') {
            fl_age_identities_release(&ids);
            return usage_error(decrypt_usage, "unknown option '%s'", a);
        } else if (in) {
            fl_age_identities_release(&ids);
            return usage_error(decrypt_usage, "only one input file, got also '%s'", a);
        } else {
            in = a;
        }
    }
    if (rc) {
        fl_age_identities_release(&ids);
        return fl_cli_report(&err);
    }
    if (ids.n == 0) {
        fl_age_identities_release(&ids);
        return usage_error(decrypt_usage, "%s", "no identities: give at least one -i");
    }
    rc = fl_age_decrypt_file(in, out, &ids, &err);
    fl_age_identities_release(&ids);
    return rc ? fl_cli_report(&err) : FL_EXIT_OK;
}

/* Writes text to out (NULL or "-": stdout); a file is created 0600 and never replaced, as
 * age-keygen does, so an existing key cannot be lost. */
static int write_new(const char *out, const char *text, fl_error *err) {
    if (!out || !strcmp(out, "-")) {
        fputs(text, stdout);
        return fflush(stdout) == 0 ? 0 : fl_error_errno(err, "cannot write standard output");
    }
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) {
            fl_error_set(err, FL_ECONFLICT, "%s already exists; not overwriting it", out);
            fl_error_set_hint(err, "choose another path or remove the old key first");
            return FL_ECONFLICT;
        }
        return fl_error_errno(err, "cannot create %s", out);
    }
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    if (n < 0 || (size_t)n != len || fsync(fd) < 0) {
        fl_error_errno(err, "cannot write %s", out);
        close(fd);
        unlink(out);
        return FL_EIO;
    }
    close(fd);
    return 0;
}

static int secret_keygen(int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    const char *out = NULL, *in = NULL, *v;
    int convert = 0, pq = 0, rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            fputs(keygen_usage, stdout);
            return FL_EXIT_OK;
        } else if (take_value(argc, argv, &i, "-o", "--output", &v)) {
            if (!v)
                return usage_error(keygen_usage, "%s needs a value", a);
            out = v;
        } else if (!strcmp(a, "-y")) {
            convert = 1;
        } else if (!strcmp(a, "-pq") || !strcmp(a, "--pq")) {
            pq = 1; /* age-keygen's flag; Go's flag package takes it with one dash or two */
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error(keygen_usage, "unknown option '%s'", a);
        } else if (convert && !in) {
            in = a;
        } else {
            return usage_error(keygen_usage, "unexpected argument '%s'", a);
        }
    }
    if (pq && convert)
        return usage_error(keygen_usage, "%s: -pq makes a new key, -y reads an existing one",
                           "-pq");
    fl_strbuf text;
    fl_strbuf_init(&text, 0);
    if (convert) {
        fl_age_identities ids = {NULL, 0};
        rc = fl_age_identities_add_file(&ids, in ? in : "/dev/stdin", &err);
        for (size_t k = 0; !rc && k < ids.n; k++) {
            char *pub = fl_age_identity_recipient(&ids.v[k]);
            fl_strbuf_addf(&text, "%s\n", pub);
            free(pub);
        }
        fl_age_identities_release(&ids);
        if (!rc)
            rc = out && strcmp(out, "-") ? fl_atomic_write_file(out, text.buf, text.len, 0644, &err)
                                         : write_new(NULL, text.buf, &err);
        fl_strbuf_release(&text);
        return rc ? fl_cli_report(&err) : FL_EXIT_OK;
    }
    char *secret, *pub, stamp[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!pq) {
        fl_age_keygen(&secret, &pub);
    } else if ((rc = fl_age_keygen_pq(&secret, &pub, &err)) != 0) {
        fl_strbuf_release(&text);
        return fl_cli_report(&err);
    }
    fl_strbuf_addf(&text, "# created: %s\n# public key: %s\n%s\n", stamp, pub, secret);
    rc = write_new(out, text.buf, &err);
    if (!rc && ((out && strcmp(out, "-")) || !isatty(1)))
        fprintf(stderr, "Public key: %s\n", pub);
    sodium_memzero(secret, strlen(secret));
    sodium_memzero(text.buf, text.len);
    free(secret);
    free(pub);
    fl_strbuf_release(&text);
    return rc ? fl_cli_report(&err) : FL_EXIT_OK;
}

/* Shared by edit and rekey: -r/-R/-i and the files. Returns -1 when parsed, else an exit
 * status to return at once. */
typedef struct keyed_args {
    fl_age_recipients r;
    fl_age_identities ids;
    const char **files;
    int nfiles;
} keyed_args;

static void keyed_release(keyed_args *k) {
    fl_age_recipients_release(&k->r);
    fl_age_identities_release(&k->ids);
    free(k->files);
}

static int parse_keyed(int argc, char **argv, const char *usage, keyed_args *k) {
    fl_error err = FL_ERROR_INIT;
    const char *v;
    int rc = 0;
    memset(k, 0, sizeof *k);
    k->files = fl_xcalloc((size_t)argc, sizeof(char *));
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            fputs(usage, stdout);
            return FL_EXIT_OK;
        } else if (take_value(argc, argv, &i, "-r", "--recipient", &v)) {
            if (!v)
                return usage_error(usage, "%s needs a value", a);
            char *where = fl_xasprintf("recipient '%s'", v);
            rc = fl_age_recipient_add(&k->r, v, where, &err);
            free(where);
        } else if (take_value(argc, argv, &i, "-R", "--recipients-file", &v)) {
            if (!v)
                return usage_error(usage, "%s needs a value", a);
            rc = fl_age_recipients_add_file(&k->r, v, &err);
        } else if (take_value(argc, argv, &i, "-i", "--identity", &v)) {
            if (!v)
                return usage_error(usage, "%s needs a value", a);
            rc = fl_age_identities_add_file(&k->ids, v, &err);
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error(usage, "unknown option '%s'", a);
        } else {
            k->files[k->nfiles++] = a;
        }
    }
    if (rc)
        return fl_cli_report(&err);
    if (k->nfiles == 0 && usage == edit_usage)
        return usage_error(usage, "%s", "no file given");
    if (k->ids.n == 0) {
        const char *home = getenv("HOME");
        char *def = home ? fl_xasprintf("%s/.ssh/id_ed25519", home) : NULL;
        if (def && access(def, R_OK) == 0)
            rc = fl_age_identities_add_file(&k->ids, def, &err);
        free(def);
        if (rc)
            return fl_cli_report(&err);
    }
    return -1;
}

/* ---- secrets/secrets.nix and the record of what each file was encrypted to ----
 * secrets.nix (agenix's format) maps a file name relative to secrets/ to its publicKeys. An
 * X25519 stanza does not reveal its recipient, so which keys a file was last encrypted to is
 * recorded in secrets/.recipients.json ({"k3s-token.age": ["age1…", …]}, sorted, ssh keys
 * without their comment), written by edit and rekey; rekey without files compares it with
 * secrets.nix. */
typedef struct rules {
    char *dir;      /* realpath of <flake>/secrets */
    json_t *keys;   /* secrets.nix, evaluated */
    json_t *record; /* .recipients.json, {} when absent */
} rules;

static void rules_release(rules *ru) {
    free(ru->dir);
    json_decref(ru->keys);
    json_decref(ru->record);
    memset(ru, 0, sizeof *ru);
}

static int eval_json(const char *path, json_t **out, fl_error *err) {
    fl_lang *L = fl_lang_new(NULL);
    fl_value *v = NULL;
    fl_strbuf text = FL_STRBUF_INIT;
    int rc = fl_lang_eval_file(L, path, &v, err);
    if (!rc)
        rc = fl_lang_force_deep(L, v, err);
    if (!rc)
        rc = fl_lang_print_json(L, v, 1, &text, err);
    if (!rc) {
        json_error_t je;
        *out = json_loads(text.buf, 0, &je);
        if (!*out)
            rc = fl_error_set(err, FL_EPARSE, "%s: its value cannot be read as JSON (%s)", path,
                              je.text);
    }
    fl_strbuf_release(&text);
    fl_lang_free(L);
    return rc;
}

static char *record_path(const rules *ru) {
    return fl_path_join(ru->dir, ".recipients.json");
}

static int rules_load_dir(rules *ru, const char *flake, fl_error *err);

static int rules_load(rules *ru, fl_error *err) {
    memset(ru, 0, sizeof *ru);
    char *flake = fl_flake_find_dir(fl_opts.flake_dir, err);
    if (!flake) {
        fl_error_set_hint(err, "edit and rekey take the recipients from the flake's "
                               "secrets/secrets.nix; outside a flake give -r/-R");
        return FL_ENOTFOUND;
    }
    int rc = rules_load_dir(ru, flake, err);
    free(flake);
    return rc;
}

static int rules_load_dir(rules *ru, const char *flake, fl_error *err) {
    memset(ru, 0, sizeof *ru);
    char *sdir = fl_path_join(flake, "secrets");
    char *nix = fl_path_join(sdir, "secrets.nix");
    int rc = FL_OK;
    if (!fl_path_exists(nix)) {
        rc = fl_error_set(err, FL_ENOTFOUND, "%s does not exist", nix);
        fl_error_set_hint(err, "write it (agenix's format: { \"x.age\".publicKeys = [ \"age1…\" "
                               "]; }) or give the recipients with -r/-R");
    }
    if (!rc) {
        ru->dir = realpath(sdir, NULL);
        rc = eval_json(nix, &ru->keys, err);
    }
    if (!rc && !json_is_object(ru->keys))
        rc = fl_error_set(err, FL_EPARSE,
                          "%s must be an attribute set of { publicKeys = [ … ]; } by file name",
                          nix);
    if (!rc) {
        char *rp = record_path(ru);
        char *data = NULL;
        size_t len;
        if (!fl_read_file(rp, &data, &len, NULL)) {
            ru->record = json_loads(data, 0, NULL);
            free(data);
        }
        if (!json_is_object(ru->record)) {
            json_decref(ru->record);
            ru->record = json_object(); /* unreadable: everything counts as changed */
        }
        free(rp);
    }
    if (rc)
        rules_release(ru);
    free(nix);
    free(sdir);
    return rc;
}

/* The file's name in secrets.nix: its path relative to secrets/; NULL when outside it. */
static char *rules_key(const rules *ru, const char *path) {
    char cwd[PATH_MAX];
    char *abs = fl_canon_path(path, getcwd(cwd, sizeof cwd) ? cwd : "/");
    char *slash = strrchr(abs, '/');
    *slash = '\0';
    char *dir = realpath(*abs ? abs : "/", NULL);
    char *key = NULL;
    size_t n = strlen(ru->dir);
    if (dir) {
        char *full = fl_xasprintf("%s/%s", dir, slash + 1);
        if (!strncmp(full, ru->dir, n) && full[n] == '/')
            key = fl_xstrdup(full + n + 1);
        free(full);
    }
    free(dir);
    free(abs);
    return key;
}

/* "ssh-ed25519 AAAA… comment" -> "ssh-ed25519 AAAA…"; "age1…" as is. Owned. */
static char *key_core(const char *t) {
    while (*t == ' ' || *t == '\t')
        t++;
    const char *e = t + strcspn(t, " \t");
    if (*e)
        e += strspn(e, " \t"), e += strcspn(e, " \t");
    return fl_xstrndup(t, (size_t)(e - t));
}

static int cmp_json_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The recipients of key, added to r; *norm (may be NULL) gets the sorted set as recorded. */
static int rules_recipients(const rules *ru, const char *key, fl_age_recipients *r, json_t **norm,
                            fl_error *err) {
    const json_t *pk = json_object_get(json_object_get(ru->keys, key), "publicKeys");
    if (!json_is_array(pk) || !json_array_size(pk)) {
        int rc = fl_error_set(err, FL_ENOTFOUND, "%s/secrets.nix has no publicKeys for \"%s\"",
                              ru->dir, key);
        fl_error_set_hint(err, "add \"%s\".publicKeys = [ … ]; there, or give -r/-R", key);
        return rc;
    }
    size_t n = json_array_size(pk);
    char **v = fl_xcalloc(n, sizeof(char *));
    int rc = FL_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *t = json_string_value(json_array_get(pk, i));
        char *where = fl_xasprintf("%s/secrets.nix \"%s\".publicKeys[%zu]", ru->dir, key, i);
        if (!t)
            rc = fl_error_set(err, FL_EPARSE, "%s is not a string", where);
        else
            rc = fl_age_recipient_add(r, t, where, err);
        free(where);
        if (!rc)
            v[i] = key_core(t); /* the comment of an ssh key is not part of the key */
    }
    if (!rc && norm) {
        qsort(v, n, sizeof *v, cmp_json_str);
        *norm = json_array();
        for (size_t i = 0; i < n; i++)
            if (!i || strcmp(v[i], v[i - 1]))
                json_array_append_new(*norm, json_string(v[i]));
    }
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    return rc;
}

static int rules_save_record(const rules *ru, fl_error *err) {
    char *text = json_dumps(ru->record, JSON_INDENT(2) | JSON_SORT_KEYS);
    fl_strbuf b = FL_STRBUF_INIT;
    fl_strbuf_adds(&b, text);
    fl_strbuf_addch(&b, '\n');
    char *rp = record_path(ru);
    int rc = fl_atomic_write_file(rp, b.buf, b.len, 0644, err);
    free(rp);
    fl_strbuf_release(&b);
    free(text);
    return rc;
}

/* With -r/-R the file's recipients are not secrets.nix's: forget what the record says about
 * it, so the next rekey treats it as changed. Best effort: without a flake there is no record. */
static void forget_recorded(const char *const *files, int n) {
    rules ru;
    fl_error e = FL_ERROR_INIT;
    if (rules_load(&ru, &e)) {
        fl_error_clear(&e);
        return;
    }
    int dirty = 0;
    for (int i = 0; i < n; i++) {
        char *key = rules_key(&ru, files[i]);
        if (key && json_object_get(ru.record, key)) {
            json_object_del(ru.record, key);
            dirty = 1;
        }
        free(key);
    }
    if (dirty)
        rules_save_record(&ru, &e);
    fl_error_clear(&e);
    rules_release(&ru);
}

int fl_cli_check_secret_recipients(const char *flake, struct fl_lang *L, struct fl_host *host,
                                   struct fl_value *config, fl_error *err) {
    fl_value *hk = NULL, *secrets = NULL;
    int rc = fl_host_select(host, config, "age.hostPublicKey", &hk, err);
    if (rc || fl_lang_type(hk) != FL_LANG_STRING)
        return rc;
    rc = fl_host_select(host, config, "age.secrets", &secrets, err);
    if (rc || !fl_lang_attrs_size(secrets))
        return rc;
    rules ru;
    rc = rules_load_dir(&ru, flake, err);
    if (rc) {
        fl_error_add_frame(err, "while checking who can read the host's age.secrets");
        return rc;
    }
    char *mine = key_core(fl_lang_get_string(hk, NULL));
    fl_strbuf bad = FL_STRBUF_INIT;
    size_t nbad = 0;
    for (size_t i = 0; !rc && i < fl_lang_attrs_size(secrets); i++) {
        const char *name;
        fl_value *s, *file = NULL;
        fl_lang_attrs_at(L, secrets, i, &name, &s, NULL);
        if (fl_lang_attrs_get(L, s, "file", &file, NULL) ||
            (fl_lang_type(file) != FL_LANG_PATH && fl_lang_type(file) != FL_LANG_STRING))
            continue;
        char *key = rules_key(&ru, fl_lang_get_string(file, NULL));
        if (!key)
            continue; /* outside secrets/: secrets.nix says nothing about it */
        json_t *norm = NULL;
        fl_age_recipients r = {0};
        fl_error e = FL_ERROR_INIT;
        int listed = 0;
        if (!rules_recipients(&ru, key, &r, &norm, &e)) {
            size_t k;
            json_t *v;
            json_array_foreach(norm, k, v) {
                listed |= !strcmp(json_string_value(v), mine);
            }
        }
        if (!listed) {
            fl_strbuf_addf(&bad, "\n  age.secrets.%s.file = secrets/%s%s", name, key,
                           e.message ? " (not in secrets.nix)" : "");
            nbad++;
        }
        fl_error_clear(&e);
        fl_age_recipients_release(&r);
        json_decref(norm);
        free(key);
    }
    if (nbad) {
        rc = fl_error_set(err, FL_EGENERIC,
                          "%zu secret%s of this host cannot be decrypted by it: its "
                          "age.hostPublicKey %s is not among the publicKeys in %s/secrets.nix "
                          "of:%s",
                          nbad, nbad == 1 ? "" : "s", mine, ru.dir, bad.buf);
        fl_error_set_hint(err, "add the host's key to those files' publicKeys, then run "
                               "'flakectl secret rekey'");
    }
    fl_strbuf_release(&bad);
    free(mine);
    rules_release(&ru);
    return rc;
}

static int secret_edit(int argc, char **argv) {
    keyed_args k;
    int rc = parse_keyed(argc, argv, edit_usage, &k);
    if (rc >= 0) {
        keyed_release(&k);
        return rc;
    }
    if (k.nfiles != 1) {
        keyed_release(&k);
        return usage_error(edit_usage, "%s", "edit takes exactly one file");
    }
    fl_error err = FL_ERROR_INIT;
    rc = FL_OK;
    rules ru = {0};
    char *key = NULL;
    json_t *norm = NULL;
    int from_rules = k.r.n == 0;
    if (from_rules) {
        rc = rules_load(&ru, &err);
        if (!rc && !(key = rules_key(&ru, k.files[0]))) {
            rc = fl_error_set(&err, FL_ENOTFOUND, "%s is not inside %s", k.files[0], ru.dir);
            fl_error_set_hint(&err, "secrets.nix names files relative to its directory; give "
                                    "-r/-R for a file elsewhere");
        }
        if (!rc)
            rc = rules_recipients(&ru, key, &k.r, &norm, &err);
    }
    int changed = 0;
    if (!rc)
        rc = fl_secret_edit(k.files[0], &k.r, &k.ids, NULL, NULL, &changed, &err);
    if (!rc && changed && from_rules) {
        json_object_set(ru.record, key, norm);
        rc = rules_save_record(&ru, &err);
    } else if (!rc && changed) {
        forget_recorded(k.files, 1);
    }
    if (rc == 0 && !fl_opts.quiet)
        fprintf(stderr, "%s: %s\n", k.files[0], changed ? "saved" : "unchanged, not rewritten");
    json_decref(norm);
    free(key);
    rules_release(&ru);
    keyed_release(&k);
    return rc ? fl_cli_report(&err) : FL_EXIT_OK;
}

static int secret_rekey(int argc, char **argv) {
    keyed_args k;
    int rc = parse_keyed(argc, argv, rekey_usage, &k);
    if (rc >= 0) {
        keyed_release(&k);
        return rc;
    }
    fl_error err = FL_ERROR_INIT;
    if (k.r.n) {
        if (!k.nfiles) {
            keyed_release(&k);
            return usage_error(rekey_usage, "%s", "-r/-R need the files to re-encrypt");
        }
        fl_secret_rekey_file *files = fl_xcalloc((size_t)k.nfiles, sizeof *files);
        for (int i = 0; i < k.nfiles; i++) {
            files[i].path = k.files[i];
            files[i].recipients = &k.r;
        }
        rc = fl_secret_rekey(files, (size_t)k.nfiles, &k.ids, &err);
        if (!rc)
            forget_recorded(k.files, k.nfiles);
        if (rc == 0 && !fl_opts.quiet)
            fprintf(stderr, "re-encrypted %d file(s)\n", k.nfiles);
        free(files);
        keyed_release(&k);
        return rc ? fl_cli_report(&err) : FL_EXIT_OK;
    }
    /* Recipients from secrets.nix: the named files, or every listed file whose recorded
     * recipient set differs from secrets.nix's. */
    rules ru;
    rc = rules_load(&ru, &err);
    if (rc) {
        keyed_release(&k);
        return fl_cli_report(&err);
    }
    size_t cap = k.nfiles ? (size_t)k.nfiles : json_object_size(ru.keys);
    char **keys = fl_xcalloc(cap + 1, sizeof(char *));
    char **paths = fl_xcalloc(cap + 1, sizeof(char *));
    json_t **norms = fl_xcalloc(cap + 1, sizeof(json_t *));
    fl_age_recipients *rs = fl_xcalloc(cap + 1, sizeof *rs);
    size_t n = 0;
    if (k.nfiles) {
        for (int i = 0; !rc && i < k.nfiles; i++) {
            keys[n] = rules_key(&ru, k.files[i]);
            paths[n] = fl_xstrdup(k.files[i]);
            if (!keys[n]) {
                rc = fl_error_set(&err, FL_ENOTFOUND, "%s is not inside %s", k.files[i], ru.dir);
                fl_error_set_hint(&err, "give -r/-R for a file elsewhere");
            } else {
                rc = rules_recipients(&ru, keys[n], &rs[n], &norms[n], &err);
            }
            n++;
        }
    } else {
        const char *name;
        json_t *v;
        json_object_foreach(ru.keys, name, v) {
            if (rc)
                break;
            json_t *norm = NULL;
            fl_age_recipients r = {0};
            rc = rules_recipients(&ru, name, &r, &norm, &err);
            char *path = fl_path_join(ru.dir, name);
            if (!rc && !json_equal(norm, json_object_get(ru.record, name)) &&
                fl_path_exists(path)) {
                keys[n] = fl_xstrdup(name);
                paths[n] = path;
                norms[n] = norm;
                rs[n++] = r;
                continue;
            }
            if (!rc && !fl_path_exists(path) && !fl_opts.quiet)
                fprintf(stderr, "%s: listed in secrets.nix but not created yet (skipped)\n", path);
            free(path);
            json_decref(norm);
            fl_age_recipients_release(&r);
        }
    }
    if (!rc && n) {
        fl_secret_rekey_file *files = fl_xcalloc(n, sizeof *files);
        for (size_t i = 0; i < n; i++) {
            files[i].path = paths[i];
            files[i].recipients = &rs[i];
        }
        rc = fl_secret_rekey(files, n, &k.ids, &err);
        free(files);
        for (size_t i = 0; !rc && i < n; i++)
            json_object_set(ru.record, keys[i], norms[i]);
        if (!rc)
            rc = rules_save_record(&ru, &err);
    }
    if (!rc && !fl_opts.quiet) {
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "re-encrypted %s\n", paths[i]);
        if (!n)
            fprintf(stderr, "nothing to re-encrypt: every file's recipients match secrets.nix\n");
    }
    for (size_t i = 0; i < cap; i++) {
        free(keys[i]);
        free(paths[i]);
        json_decref(norms[i]);
        fl_age_recipients_release(&rs[i]);
    }
    free(keys);
    free(paths);
    free(norms);
    free(rs);
    rules_release(&ru);
    keyed_release(&k);
    return rc ? fl_cli_report(&err) : FL_EXIT_OK;
}

int cmd_secret(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage_text, stderr);
        return FL_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (is_help(sub) || !strcmp(sub, "help")) {
        fputs(usage_text, stdout);
        return FL_EXIT_OK;
    }
    if (!strcmp(sub, "encrypt"))
        return secret_encrypt(argc - 1, argv + 1);
    if (!strcmp(sub, "decrypt"))
        return secret_decrypt(argc - 1, argv + 1);
    if (!strcmp(sub, "keygen"))
        return secret_keygen(argc - 1, argv + 1);
    if (!strcmp(sub, "edit"))
        return secret_edit(argc - 1, argv + 1);
    if (!strcmp(sub, "rekey"))
        return secret_rekey(argc - 1, argv + 1);
    fprintf(stderr, "error: unknown secret command '%s'\n\n%s", sub, usage_text);
    return FL_EXIT_USAGE;
}
