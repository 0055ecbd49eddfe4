/* secret.c - `flakectl secret`: encrypt, decrypt and keygen with the age tool's flags, and
 * edit/rekey with the recipients of the flake's secrets/secrets.nix and the record of what
 * each file was last encrypted to (both src/secret/rules.c). Owns the command line only; the
 * format and the rules live in src/secret/. Never prints secret material except the key
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

#include "opt.h"
#include "flakectl/cli.h"
#include "flakectl/fs.h"
#include "flakectl/lang.h"
#include "flakectl/module.h"
#include "options.h"
#include "flakectl/secret.h"
#include "flakectl/strbuf.h"

typedef struct secret_opts {
    fl_opt_list recipients, recipient_files, identities, files;
    const char *out, *in;
    int armor, mode_flag, convert, pq;
} secret_opts;

#define SO secret_opts
#define RECIPIENT_OPTS(r_help)                                                                 \
    FL_OPT_LIST_("recipient", 'r', "RECIPIENT", r_help, SO, recipients, .flags = 0),           \
        FL_OPT_LIST_("recipients-file", 'R', "PATH",                                           \
                     "a file of recipients, one per line ('#' comments)", SO, recipient_files, \
                     .complete = FL_OPT_V_FILE, .flags = 0)
static const fl_opt_spec encrypt_spec[] = {
    RECIPIENT_OPTS("an age1… or \"ssh-ed25519 AAAA…\" public key"),
    FL_OPT_FLAG_("armor", 'a', "write the PEM-armored text form", SO, armor, .flags = 0),
    FL_OPT_STR_("output", 'o', "OUT", "write to OUT (atomically) instead of standard output", SO,
                out, .complete = FL_OPT_V_FILE, .flags = 0),
    FL_OPT_FLAG_("encrypt", 'e', "age's explicit mode flag, accepted for familiarity", SO,
                 mode_flag, .flags = FL_OPT_HIDDEN),
    FL_OPT_ARG_("FILE", "the plaintext (default: standard input)", SO, in,
                .complete = FL_OPT_V_FILE, .flags = 0),
    FL_OPT_END_,
};
static const fl_opt_spec decrypt_spec[] = {
    FL_OPT_LIST_("identity", 'i', "PATH", "an AGE-SECRET-KEY-1… file or an unencrypted OpenSSH\n"
                                          "ed25519 private key",
                 SO, identities, .complete = FL_OPT_V_FILE, .flags = 0),
    FL_OPT_STR_("output", 'o', "OUT", "write to OUT (mode 0600) only once the whole file\n"
                                      "authenticated; without -o each 64 KiB chunk is written\n"
                                      "once it authenticated",
                SO, out, .complete = FL_OPT_V_FILE, .flags = 0),
    FL_OPT_FLAG_("decrypt", 'd', "age's explicit mode flag, accepted for familiarity", SO,
                 mode_flag, .flags = FL_OPT_HIDDEN),
    FL_OPT_ARG_("FILE", "the ciphertext, binary or armored (default: standard input)", SO, in,
                .complete = FL_OPT_V_FILE, .flags = 0),
    FL_OPT_END_,
};
static const fl_opt_spec keygen_spec[] = {
    FL_OPT_STR_("output", 'o', "OUT", "write to OUT (created 0600, never overwritten)", SO, out,
                .complete = FL_OPT_V_FILE, .flags = 0),
    FL_OPT_FLAG_(NULL, 'y', "print the recipients (public keys) of an identity file instead", SO,
                 convert, .flags = 0),
    FL_OPT_FLAG_("pq", 0, "a post-quantum ML-KEM-768+X25519 key (age-keygen's -pq)", SO, pq,
                 .alias = "-pq"),
    FL_OPT_ARG_("IDENTITY_FILE", "with -y: the identity file (default: standard input)", SO, in,
                .complete = FL_OPT_V_FILE, .flags = 0),
    FL_OPT_END_,
};
#define KEYED_OPTS                                                                             \
    RECIPIENT_OPTS("the recipients (default: the file's publicKeys in the flake's\n"           \
                   "secrets/secrets.nix)"),                                                    \
        FL_OPT_LIST_("identity", 'i', "PATH", "identities to decrypt with (default:\n"         \
                                              "~/.ssh/id_ed25519)",                            \
                     SO, identities, .complete = FL_OPT_V_FILE, .flags = 0)
static const fl_opt_spec edit_spec[] = {
    KEYED_OPTS,
    FL_OPT_ARGS_("FILE", "the secret to edit", SO, files,
                 .complete = FL_OPT_V_FILE, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};
static const fl_opt_spec rekey_spec[] = {
    KEYED_OPTS,
    FL_OPT_ARGS_("FILE", "the files to re-encrypt (default: every file whose recipients\n"
                         "changed)",
                 SO, files, .complete = FL_OPT_V_FILE, .flags = 0),
    FL_OPT_END_,
};
#undef SO

static int secret_encrypt(int argc, char **argv);
static int secret_decrypt(int argc, char **argv);
static int secret_keygen(int argc, char **argv);
static int secret_edit(int argc, char **argv);
static int secret_rekey(int argc, char **argv);

static const fl_opt_cmd encrypt_cmd = {
    "secret encrypt", "encrypt a file to age recipients",
    "[-r RECIPIENT]... [-R RECIPIENTS_FILE]... [-a] [-o OUT] [FILE]",
    "Encrypts FILE (default: standard input) to every recipient given.\n", encrypt_spec, NULL,
    secret_encrypt};
static const fl_opt_cmd decrypt_cmd = {
    "secret decrypt", "decrypt an age file", "[-i IDENTITY]... [-o OUT] [FILE]",
    "Decrypts FILE (default: standard input; binary or armored).\n", decrypt_spec, NULL,
    secret_decrypt};
static const fl_opt_cmd keygen_cmd = {
    "secret keygen", "make an age identity, or print an identity's recipient",
    "[-pq] [-o OUT]\n-y [-o OUT] [IDENTITY_FILE]",
    "Makes an age X25519 identity (with -pq a post-quantum ML-KEM-768+X25519 one); writes it\n"
    "to OUT (created 0600, never overwritten) or standard output and prints the public key\n"
    "on standard error.\n",
    keygen_spec, NULL, secret_keygen};
static const fl_opt_cmd edit_cmd = {
    "secret edit", "edit a secret in $EDITOR",
    "[-r RECIPIENT]... [-R RECIPIENTS_FILE]... [-i IDENTITY]... FILE",
    "Decrypts FILE (a new file starts empty) into a private temporary directory, runs\n"
    "$VISUAL/$EDITOR on it, and re-encrypts it to the recipients if the content changed.\n"
    "The plaintext copy is removed on every exit path.\n",
    edit_spec, NULL, secret_edit};
static const fl_opt_cmd rekey_cmd = {
    "secret rekey", "re-encrypt files to their current recipients, all or none",
    "[-r RECIPIENT]... [-R RECIPIENTS_FILE]... [-i IDENTITY]... [FILE...]",
    "Re-encrypts every FILE to its recipients; without FILE, every file of the flake's\n"
    "secrets/secrets.nix whose recipients changed since it was last encrypted (as recorded in\n"
    "secrets/.recipients.json). Every file is decrypted and re-encrypted to a temporary before\n"
    "the first is replaced: if any cannot be decrypted, none is changed.\n",
    rekey_spec, NULL, secret_rekey};
static const fl_opt_cmd *const secret_subs[] = {&encrypt_cmd, &decrypt_cmd, &keygen_cmd,
                                                &edit_cmd, &rekey_cmd, NULL};

extern const fl_opt_cmd fl_cmd_secret;

static int cmd_secret(int argc, char **argv) {
    return fl_opt_dispatch(&fl_cmd_secret, argc, argv);
}

const fl_opt_cmd fl_cmd_secret = {
    "secret",
    "age-encrypted secrets: encrypt, decrypt, edit, rekey, keygen",
    NULL,
    "Recipients: age1… and ssh-ed25519 public keys. Identities: AGE-SECRET-KEY-1… files and\n"
    "unencrypted OpenSSH ed25519 private keys. See docs/secrets.md.\n",
    NULL,
    secret_subs,
    cmd_secret,
};

/* -r and -R into r, each error naming the key or file. */
static int add_recipients(const secret_opts *o, fl_age_recipients *r, fl_error *err) {
    int rc = 0;
    for (size_t i = 0; !rc && i < o->recipients.n; i++) {
        char *where = fl_xasprintf("recipient '%s'", o->recipients.v[i]);
        rc = fl_age_recipient_add(r, o->recipients.v[i], where, err);
        free(where);
    }
    for (size_t i = 0; !rc && i < o->recipient_files.n; i++)
        rc = fl_age_recipients_add_file(r, o->recipient_files.v[i], err);
    return rc;
}

static int add_identities(const secret_opts *o, fl_age_identities *ids, fl_error *err) {
    int rc = 0;
    for (size_t i = 0; !rc && i < o->identities.n; i++)
        rc = fl_age_identities_add_file(ids, o->identities.v[i], err);
    return rc;
}

static int secret_encrypt(int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    fl_age_recipients r = {NULL, 0};
    secret_opts o;
    memset(&o, 0, sizeof o);
    int rc = fl_opt_parse(&encrypt_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    const char *out = o.out, *in = o.in;
    int armor = o.armor;
    rc = add_recipients(&o, &r, &err);
    fl_opt_release(&encrypt_cmd, &o);
    if (rc) {
        fl_age_recipients_release(&r);
        return fl_cli_report(&err);
    }
    if (r.n == 0) {
        fl_age_recipients_release(&r);
        return fl_opt_usage(&encrypt_cmd, "no recipients: give at least one -r or -R");
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
    secret_opts o;
    memset(&o, 0, sizeof o);
    int rc = fl_opt_parse(&decrypt_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    const char *out = o.out, *in = o.in;
    rc = add_identities(&o, &ids, &err);
    fl_opt_release(&decrypt_cmd, &o);
    if (rc) {
        fl_age_identities_release(&ids);
        return fl_cli_report(&err);
    }
    if (ids.n == 0) {
        fl_age_identities_release(&ids);
        return fl_opt_usage(&decrypt_cmd, "no identities: give at least one -i");
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
        if (errno == ENOENT) {
            /* as age-keygen: a key goes only where the user made room for it (a mistyped
             * directory created by root, with whatever mode, is worse than an error) */
            char *dir = fl_xstrdup(out);
            char *slash = strrchr(dir, '/');
            if (slash)
                *(slash == dir ? slash + 1 : slash) = '\0';
            fl_error_set(err, FL_ENOTFOUND, "cannot create %s: the directory %s does not exist",
                         out, slash ? dir : ".");
            fl_error_set_hint(err, "create it first (mkdir -p -m 0700 %s)", slash ? dir : ".");
            free(dir);
            return FL_ENOTFOUND;
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
    secret_opts o;
    memset(&o, 0, sizeof o);
    int rc = fl_opt_parse(&keygen_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    const char *out = o.out, *in = o.in;
    int convert = o.convert, pq = o.pq;
    if (in && !convert)
        return fl_opt_usage(&keygen_cmd, "unexpected argument '%s'", in);
    if (pq && convert)
        return fl_opt_usage(&keygen_cmd, "-pq makes a new key, -y reads an existing one");
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

/* Shared by edit and rekey: -r/-R/-i and the files. */
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

/* Returns -1 when parsed (k to be released), else an exit status to return at once. */
static int parse_keyed(const fl_opt_cmd *cmd, int argc, char **argv, keyed_args *k) {
    fl_error err = FL_ERROR_INIT;
    secret_opts o;
    memset(&o, 0, sizeof o);
    memset(k, 0, sizeof *k);
    int rc = fl_opt_parse(cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    rc = add_recipients(&o, &k->r, &err);
    if (!rc)
        rc = add_identities(&o, &k->ids, &err);
    /* the files stay: they point into argv, the list itself is handed over */
    k->files = o.files.v;
    k->nfiles = (int)o.files.n;
    o.files.v = NULL;
    o.files.n = 0;
    fl_opt_release(cmd, &o);
    if (rc)
        return fl_cli_report(&err);
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

/* The flake's secrets rules (--flake or the nearest flake.nix upward). */
static int rules_load(fl_secret_rules *ru, char **flake_out, fl_error *err) {
    memset(ru, 0, sizeof *ru);
    char *flake = fl_flake_find_dir(fl_opts.flake_dir, err);
    if (!flake) {
        fl_error_set_hint(err, "edit and rekey take the recipients from the flake's "
                               "secrets/secrets.nix; outside a flake give -r/-R");
        return FL_ENOTFOUND;
    }
    int rc = fl_secret_rules_load(ru, flake, fl_cli_trace, err);
    if (flake_out)
        *flake_out = flake;
    else
        free(flake);
    return rc;
}

/* With -r/-R the file's recipients are not secrets.nix's: forget what the record says about
 * it, so the next rekey treats it as changed. Best effort: without a flake there is no record. */
static void forget_recorded(const char *const *files, int n) {
    fl_error e = FL_ERROR_INIT;
    char *flake = fl_flake_find_dir(fl_opts.flake_dir, &e);
    fl_error_clear(&e);
    fl_secret_rules_forget(flake, fl_cli_trace, files, n);
    free(flake);
}

static int secret_edit(int argc, char **argv) {
    keyed_args k;
    int rc = parse_keyed(&edit_cmd, argc, argv, &k);
    if (rc >= 0) {
        keyed_release(&k);
        return rc;
    }
    if (k.nfiles != 1) {
        keyed_release(&k);
        return fl_opt_usage(&edit_cmd, "edit takes exactly one file");
    }
    fl_error err = FL_ERROR_INIT;
    rc = FL_OK;
    fl_secret_rules ru = {0};
    char *key = NULL;
    json_t *norm = NULL;
    int from_rules = k.r.n == 0;
    if (from_rules) {
        rc = rules_load(&ru, NULL, &err);
        if (!rc && !(key = fl_secret_rules_key(&ru, k.files[0]))) {
            rc = fl_error_set(&err, FL_ENOTFOUND, "%s is not inside %s", k.files[0], ru.dir);
            fl_error_set_hint(&err, "secrets.nix names files relative to its directory; give "
                                    "-r/-R for a file elsewhere");
        }
        if (!rc)
            rc = fl_secret_rules_recipients(&ru, key, &k.r, &norm, &err);
    }
    int changed = 0;
    if (!rc)
        rc = fl_secret_edit(k.files[0], &k.r, &k.ids, NULL, NULL, &changed, &err);
    if (!rc && changed && from_rules) {
        json_object_set(ru.record, key, norm);
        rc = fl_secret_rules_save_record(&ru, &err);
    } else if (!rc && changed) {
        forget_recorded(k.files, 1);
    }
    if (rc == 0 && !fl_opts.quiet)
        fprintf(stderr, "%s: %s\n", k.files[0], changed ? "saved" : "unchanged, not rewritten");
    json_decref(norm);
    free(key);
    fl_secret_rules_release(&ru);
    keyed_release(&k);
    return rc ? fl_cli_report(&err) : FL_EXIT_OK;
}

static int secret_rekey(int argc, char **argv) {
    keyed_args k;
    int rc = parse_keyed(&rekey_cmd, argc, argv, &k);
    if (rc >= 0) {
        keyed_release(&k);
        return rc;
    }
    fl_error err = FL_ERROR_INIT;
    if (k.r.n) {
        if (!k.nfiles) {
            keyed_release(&k);
            return fl_opt_usage(&rekey_cmd, "-r/-R need the files to re-encrypt");
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
    fl_secret_rules ru;
    rc = rules_load(&ru, NULL, &err);
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
            keys[n] = fl_secret_rules_key(&ru, k.files[i]);
            paths[n] = fl_xstrdup(k.files[i]);
            if (!keys[n]) {
                rc = fl_error_set(&err, FL_ENOTFOUND, "%s is not inside %s", k.files[i], ru.dir);
                fl_error_set_hint(&err, "give -r/-R for a file elsewhere");
            } else {
                rc = fl_secret_rules_recipients(&ru, keys[n], &rs[n], &norms[n], &err);
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
            rc = fl_secret_rules_recipients(&ru, name, &r, &norm, &err);
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
            rc = fl_secret_rules_save_record(&ru, &err);
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
    fl_secret_rules_release(&ru);
    keyed_release(&k);
    return rc ? fl_cli_report(&err) : FL_EXIT_OK;
}
