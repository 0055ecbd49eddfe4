/* secret.c - `flakectl secret`: encrypt, decrypt and keygen with the age tool's flags. Owns
 * the command line only; the format lives in src/secret/. Never prints secret material
 * except the key keygen was asked to make. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "flakectl/cli.h"
#include "flakectl/fs.h"
#include "flakectl/options.h"
#include "flakectl/secret.h"
#include "flakectl/strbuf.h"

static const char usage_text[] =
    "usage: flakectl secret <command> [options]\n"
    "\n"
    "commands:\n"
    "  encrypt [-r RECIPIENT]... [-R RECIPIENTS_FILE]... [-a] [-o OUT] [FILE]\n"
    "  decrypt [-i IDENTITY]... [-o OUT] [FILE]\n"
    "  keygen [-o OUT]            make an age X25519 key (public key on stderr)\n"
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
    "usage: flakectl secret keygen [-o OUT]\n"
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
    "  -r, -R   the recipients (required until secrets/secrets.nix is read by this command)\n"
    "  -i       identities to decrypt with (default: ~/.ssh/id_ed25519)\n";

static const char rekey_usage[] =
    "usage: flakectl secret rekey [-r RECIPIENT]... [-R RECIPIENTS_FILE]... [-i IDENTITY]... "
    "FILE...\n"
    "\n"
    "Re-encrypts every FILE to the recipients. Every file is decrypted and re-encrypted to a\n"
    "temporary before the first is replaced: if any cannot be decrypted, none is changed.\n"
    "  -r, -R   the recipients (required until secrets/secrets.nix is read by this command)\n"
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
    int convert = 0, rc = 0;
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
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error(keygen_usage, "unknown option '%s'", a);
        } else if (convert && !in) {
            in = a;
        } else {
            return usage_error(keygen_usage, "unexpected argument '%s'", a);
        }
    }
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
    fl_age_keygen(&secret, &pub);
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
    if (k->nfiles == 0)
        return usage_error(usage, "%s", "no file given");
    if (k->r.n == 0) {
        fl_error_set(&err, FL_EUSAGE, "no recipients given");
        fl_error_set_hint(&err, "pass -r or -R; reading them from secrets/secrets.nix needs the "
                                "evaluator, which this command does not use yet");
        return fl_cli_report(&err);
    }
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
    int changed = 0;
    rc = fl_secret_edit(k.files[0], &k.r, &k.ids, NULL, NULL, &changed, &err);
    if (rc == 0 && !fl_opts.quiet)
        fprintf(stderr, "%s: %s\n", k.files[0], changed ? "saved" : "unchanged, not rewritten");
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
    fl_secret_rekey_file *files = fl_xcalloc((size_t)k.nfiles, sizeof *files);
    for (int i = 0; i < k.nfiles; i++) {
        files[i].path = k.files[i];
        files[i].recipients = &k.r;
    }
    rc = fl_secret_rekey(files, (size_t)k.nfiles, &k.ids, &err);
    if (rc == 0 && !fl_opts.quiet)
        fprintf(stderr, "re-encrypted %d file(s)\n", k.nfiles);
    free(files);
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
