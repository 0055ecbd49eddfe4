/* cache.c (cli) - `flakectl cache keygen|push|verify` and `flakectl store realise`: argument
 * parsing, output and exit codes over include/flakectl/cache.h. Owns no cache logic. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/cache.h"
#include "flakectl/cli.h"
#include "flakectl/fs.h"
#include "flakectl/options.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

static const char usage_text[] =
    "usage: flakectl cache <subcommand> [options]\n"
    "\n"
    "  keygen NAME -o SECRETFILE     make a signing key pair; writes the secret key (mode 0600)\n"
    "                                and prints the public key (name:base64, as Nix's)\n"
    "  push --to file:///DIR [--key SECRETFILE] [--compression zstd|xz|none]\n"
    "       (PATH... | --host H)     copy the closure of PATH... (or of host H's toplevel,\n"
    "                                built first) into the binary cache DIR, each .narinfo\n"
    "                                signed with the key\n"
    "  verify URL [--trusted-public-key K]... [PATH...]\n"
    "                                check every .narinfo of the cache (or those of PATH...):\n"
    "                                its NAR, hashes, references and, with keys, signatures\n"
    "\n"
    "Caches are in Nix's format (docs/cache.md): nix copy --from reads them.\n";

static int usage_error(const char *fmt, const char *arg) {
    fputs("error: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n       hint: run 'flakectl cache --help'\n", stderr);
    return FL_EXIT_USAGE;
}

static int cache_keygen(int argc, char **argv) {
    const char *name = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--out")) && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] == '-')
            return usage_error("cache keygen: unknown option '%s'", argv[i]);
        else if (!name)
            name = argv[i];
        else
            return usage_error("cache keygen: unexpected argument '%s'", argv[i]);
    }
    if (!name || !out)
        return usage_error("cache keygen: %s", "usage: flakectl cache keygen NAME -o SECRETFILE");
    fl_error err = FL_ERROR_INIT;
    if (fl_path_exists(out)) {
        fl_error_set(&err, FL_ECONFLICT, "%s exists: refusing to overwrite a key", out);
        fl_error_set_hint(&err, "remove it first, or write the new key elsewhere");
        return fl_cli_report(&err);
    }
    char *secret = NULL, *public = NULL;
    int rc = fl_cache_keygen(name, &secret, &public, &err);
    if (!rc) {
        fl_strbuf sb;
        fl_strbuf_init(&sb, 0);
        fl_strbuf_adds(&sb, secret);
        rc = fl_atomic_write_file(out, sb.buf, sb.len, 0600, &err);
        fl_strbuf_release(&sb);
    }
    if (secret)
        memset(secret, 0, strlen(secret));
    free(secret);
    if (rc) {
        free(public);
        return fl_cli_report(&err);
    }
    puts(public);
    free(public);
    return FL_EXIT_OK;
}

static int read_secret_key(const char *file, fl_cache_secret_key *key, fl_error *err) {
    char *text = NULL;
    size_t len = 0;
    int rc = fl_read_file(file, &text, &len, err);
    if (!rc)
        rc = fl_cache_secret_key_parse(text, file, key, err);
    if (text)
        memset(text, 0, len);
    free(text);
    return rc;
}

static int cache_push(int argc, char **argv) {
    const char *to = NULL, *keyfile = NULL, *host = NULL, *comp = NULL;
    char **paths = fl_xcalloc((size_t)argc + 1, sizeof *paths);
    size_t npaths = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--to") && i + 1 < argc)
            to = argv[++i];
        else if (!strcmp(a, "--key") && i + 1 < argc)
            keyfile = argv[++i];
        else if (!strcmp(a, "--host") && i + 1 < argc)
            host = argv[++i];
        else if (!strcmp(a, "--compression") && i + 1 < argc)
            comp = argv[++i];
        else if (a[0] == '-') {
            free(paths);
            return usage_error("cache push: unknown option or missing value '%s'", a);
        } else
            paths[npaths++] = argv[i];
    }
    if (!to || (!npaths && !host) || (npaths && host)) {
        free(paths);
        return usage_error("cache push: %s", "give --to URL and either store PATHs or --host H");
    }
    fl_error err = FL_ERROR_INIT;
    fl_cache_secret_key key;
    char *toplevel = NULL;
    fl_store *s = NULL;
    int rc = keyfile ? read_secret_key(keyfile, &key, &err) : 0;
    if (!rc && host && (rc = fl_cli_build_host(host, &toplevel, &err)) == 0)
        paths[npaths++] = toplevel;
    if (!rc)
        rc = fl_store_open(fl_opts.state_dir, &s, &err);
    char **resolved = fl_xcalloc(npaths + 1, sizeof *resolved);
    for (size_t i = 0; i < npaths && !rc; i++) {
        resolved[i] = fl_store_to_store_path(s, paths[i], &err);
        if (!resolved[i])
            rc = FL_ENOTFOUND;
        else if (!fl_store_is_valid(s, resolved[i]))
            rc = fl_error_set(&err, FL_ENOTFOUND, "%s is not valid in the store", resolved[i]);
    }
    fl_cache_push_result res;
    memset(&res, 0, sizeof res);
    if (!rc) {
        fl_cache_push_opts o = {comp, keyfile ? &key : NULL, fl_opts.quiet ? NULL : stderr};
        rc = fl_cache_push(s, to, resolved, npaths, &o, &res, &err);
    }
    memset(&key, 0, sizeof key);
    fl_store_free_paths(resolved, npaths);
    free(paths);
    free(toplevel);
    fl_store_close(s);
    if (rc)
        return fl_cli_report(&err);
    if (!fl_opts.quiet)
        fprintf(stderr, "%zu paths pushed (%llu bytes of NAR, %llu written), %zu already there\n",
                res.pushed, (unsigned long long)res.nar_bytes, (unsigned long long)res.file_bytes,
                res.present);
    return FL_EXIT_OK;
}

static int parse_keys(fl_cache_public_key **keys, size_t *n, fl_error *err) {
    *keys = NULL;
    *n = 0;
    for (int i = 0; i < fl_opts.ntrusted_keys; i++) {
        const char *p = fl_opts.trusted_keys[i];
        while (*p) {
            p += strspn(p, " \t\n");
            size_t k = strcspn(p, " \t\n");
            if (!k)
                break;
            char *w = fl_xstrndup(p, k);
            *keys = fl_xrealloc(*keys, (*n + 1) * sizeof **keys);
            int rc = fl_cache_public_key_parse(w, "--trusted-public-key", &(*keys)[*n], err);
            free(w);
            if (rc)
                return rc;
            (*n)++;
            p += k;
        }
    }
    return FL_OK;
}

static int cache_verify(int argc, char **argv) {
    const char *url = NULL;
    char **paths = fl_xcalloc((size_t)argc + 1, sizeof *paths);
    size_t npaths = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            free(paths);
            return usage_error("cache verify: unknown option '%s'", argv[i]);
        }
        if (!url)
            url = argv[i];
        else
            paths[npaths++] = argv[i];
    }
    if (!url) {
        free(paths);
        return usage_error("cache verify: %s", "which cache URL?");
    }
    fl_error err = FL_ERROR_INIT;
    fl_cache_public_key *keys = NULL;
    size_t nkeys = 0;
    fl_store *s = NULL;
    int rc = parse_keys(&keys, &nkeys, &err);
    if (!rc)
        rc = fl_store_open(fl_opts.state_dir, &s, &err);
    fl_cache_verify_result res;
    memset(&res, 0, sizeof res);
    if (!rc)
        rc = fl_cache_verify(url, fl_store_dir(s), paths, npaths, keys, nkeys, stdout, &res, &err);
    fl_store_close(s);
    free(keys);
    free(paths);
    if (rc)
        return fl_cli_report(&err);
    printf("%zu paths checked, %zu problems%s\n", res.checked, res.bad,
           nkeys ? "" : " (signatures not checked: no --trusted-public-key)");
    return res.bad ? FL_EXIT_FAILURE : FL_EXIT_OK;
}

int cmd_cache(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? FL_EXIT_USAGE : FL_EXIT_OK;
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return FL_EXIT_OK;
        }
    if (!strcmp(argv[1], "keygen"))
        return cache_keygen(argc - 1, argv + 1);
    if (!strcmp(argv[1], "push"))
        return cache_push(argc - 1, argv + 1);
    if (!strcmp(argv[1], "verify"))
        return cache_verify(argc - 1, argv + 1);
    return usage_error("unknown cache subcommand '%s'", argv[1]);
}

int fl_cli_store_realise(int argc, char **argv) {
    if (argc < 2)
        return usage_error("store realise: %s", "which PATH?");
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-')
            return usage_error("store realise: unknown option '%s'", argv[i]);
    fl_error err = FL_ERROR_INIT;
    fl_store *s = NULL;
    fl_substituter *sub = NULL;
    int rc = fl_store_open(fl_opts.state_dir, &s, &err);
    if (!rc)
        rc = fl_substituter_new(fl_opts.substituters, (size_t)fl_opts.nsubstituters,
                                fl_opts.trusted_keys, (size_t)fl_opts.ntrusted_keys,
                                fl_opts.quiet ? NULL : stderr, &sub, &err);
    for (int i = 1; i < argc && !rc; i++) {
        char *sp = fl_store_is_store_path(s, argv[i]) ? fl_xstrdup(argv[i]) : NULL;
        if (!sp)
            rc = fl_error_set(&err, FL_EUSAGE, "'%s' is not a path of the store %s", argv[i],
                              fl_store_dir(s));
        int r = rc ? rc : fl_substituter_realise(sub, s, sp, &err);
        if (r == 0) {
            rc = fl_error_set(&err, FL_ENOTFOUND, "%s is not valid and no substituter has it", sp);
            if (!fl_substituter_count(sub))
                fl_error_set_hint(&err, "name caches with --substituters URL");
        } else if (r < 0) {
            rc = r;
        } else {
            puts(sp);
        }
        free(sp);
    }
    fl_substituter_free(sub);
    fl_store_close(s);
    return rc ? fl_cli_report(&err) : FL_EXIT_OK;
}
