/* store.c (cli) - `flakectl store <add|dump|path-info|query-valid|verify|export|import|build>`:
 * argument parsing, output formatting and exit codes over include/flakectl/store.h. Owns no
 * store logic of its own. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flakectl/cli.h"
#include "flakectl/fs.h"
#include "flakectl/options.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

static const char usage_text[] =
    "usage: flakectl store <subcommand> [options]\n"
    "\n"
    "  add [--name N] [--contained] PATH...   copy files/directories into the store by content;\n"
    "                                         prints each store path\n"
    "  dump PATH                              write PATH as a NAR (nix-store --dump) to stdout\n"
    "  hash [--base32] PATH...                NAR SHA-256 of each PATH, as nix-hash --type sha256\n"
    "  path-info [--closure] [--json] PATH... show NAR hash, size, references, deriver, time\n"
    "  query-valid PATH...                    print those of PATH... that are valid\n"
    "  verify [--check-contents] [--repair]   check the store against its registry\n"
    "  export [--closure] PATH...             write an export stream (see docs/store.md)\n"
    "  import                                 read an export stream from stdin; prints paths\n"
    "  realise [--substituters URLS] [--trusted-public-key K] PATH...\n"
    "                                         make PATH... valid from binary caches\n"
    "  build --name N --builder B [--arg A]... [--env K=V]... [--input P]... [--out-link L]\n"
    "                                         build a derivation; prints its output path\n"
    "\n"
    "The store is <state-dir>/store (--state-dir, FLAKECTL_STATE_DIR). See docs/store.md.\n";

static int usage_error(const char *fmt, const char *arg) {
    fputs("error: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n       hint: run 'flakectl store --help'\n", stderr);
    return FL_EXIT_USAGE;
}

static int wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    }
    return 0;
}

/* Reads the on/off switches `names` (NULL-terminated) that come before the PATH arguments,
 * setting on[k] for names[k]; *first is the index of the first PATH. 0, or the usage exit code
 * when a switch is unknown or no PATH follows. */
static int parse_switches(int argc, char **argv, const char *sub, const char *const *names,
                          int *on, int *first) {
    *first = argc;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-') {
            *first = i;
            break;
        }
        int k = 0;
        while (names[k] && strcmp(argv[i], names[k]))
            k++;
        if (!names[k]) {
            fprintf(stderr, "error: store %s: unknown option '%s'\n", sub, argv[i]);
            fputs("       hint: run 'flakectl store --help'\n", stderr);
            return FL_EXIT_USAGE;
        }
        on[k] = 1;
    }
    if (*first >= argc) {
        fprintf(stderr, "error: store %s: which PATH?\n", sub);
        fputs("       hint: run 'flakectl store --help'\n", stderr);
        return FL_EXIT_USAGE;
    }
    return 0;
}

static int open_store(fl_store **s) {
    fl_error err = FL_ERROR_INIT;
    if (fl_store_open(fl_opts.state_dir, s, &err))
        return fl_cli_report(&err);
    return FL_EXIT_OK;
}

/* Resolves each argument (a store path, a path inside one, or a link to one). */
static int resolve_args(fl_store *s, char **args, int n, char ***out) {
    fl_error err = FL_ERROR_INIT;
    char **paths = fl_xcalloc((size_t)n + 1, sizeof *paths);
    for (int i = 0; i < n; i++) {
        paths[i] = fl_store_to_store_path(s, args[i], &err);
        if (!paths[i]) {
            fl_store_free_paths(paths, (size_t)i);
            return fl_cli_report(&err);
        }
    }
    *out = paths;
    return FL_EXIT_OK;
}

static int store_add(int argc, char **argv) {
    const char *name = NULL;
    int flags = 0, first = argc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--name") && i + 1 < argc)
            name = argv[++i];
        else if (!strcmp(argv[i], "--contained"))
            flags |= FL_STORE_ADD_CONTAINED;
        else if (!strcmp(argv[i], "--")) {
            first = i + 1;
            break;
        } else if (argv[i][0] == '-')
            return usage_error("store add: unknown option '%s'", argv[i]);
        else {
            first = i;
            break;
        }
    }
    if (first >= argc)
        return usage_error("%s", "store add: which PATH?");
    fl_store *s;
    int rc = open_store(&s);
    if (rc)
        return rc;
    for (int i = first; i < argc && !rc; i++) {
        fl_error err = FL_ERROR_INIT;
        char *out = NULL;
        if (fl_store_add_path(s, argv[i], name, flags, &out, &err))
            rc = fl_cli_report(&err);
        else
            printf("%s\n", out);
        free(out);
    }
    fl_store_close(s);
    return rc;
}

static int store_dump(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-')
        return usage_error("%s", "store dump takes exactly one PATH");
    if (isatty(1))
        return usage_error("%s", "store dump: refusing to write a NAR to a terminal");
    fl_error err = FL_ERROR_INIT;
    if (fl_nar_dump_fd(argv[1], 1, &err))
        return fl_cli_report(&err);
    return FL_EXIT_OK;
}

static int store_hash(int argc, char **argv) {
    int on[1] = {0}, first;
    static const char *const names[] = {"--base32", NULL};
    int urc = parse_switches(argc, argv, "hash", names, on, &first);
    if (urc)
        return urc;
    int b32 = on[0];
    for (int i = first; i < argc; i++) {
        fl_error err = FL_ERROR_INIT;
        unsigned char h[FL_SHA256_LEN];
        char text[2 * FL_SHA256_LEN + 1];
        if (fl_nar_hash_path(argv[i], h, NULL, &err))
            return fl_cli_report(&err);
        if (b32)
            fl_base32_encode(h, sizeof h, text);
        else
            fl_hex_encode(h, sizeof h, text);
        printf("%s\n", text);
    }
    return FL_EXIT_OK;
}

static void print_time(int64_t t, char *buf, size_t n) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int store_path_info(int argc, char **argv) {
    int on[2] = {0}, first;
    static const char *const names[] = {"--closure", "--json", NULL};
    int urc = parse_switches(argc, argv, "path-info", names, on, &first);
    if (urc)
        return urc;
    int closure = on[0];
    int json = on[1];
    fl_store *s;
    int rc = open_store(&s);
    if (rc)
        return rc;
    char **paths = NULL;
    size_t n = (size_t)(argc - first);
    rc = resolve_args(s, argv + first, argc - first, &paths);
    fl_error err = FL_ERROR_INIT;
    if (!rc && closure) {
        char **cl = NULL;
        size_t ncl = 0;
        if (fl_store_closure(s, paths, n, &cl, &ncl, &err))
            rc = fl_cli_report(&err);
        fl_store_free_paths(paths, n);
        paths = cl;
        n = ncl;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && !rc; i++) {
        fl_store_path_info *info = NULL;
        if (fl_store_query_info(s, paths[i], &info, &err)) {
            rc = fl_cli_report(&err);
            break;
        }
        char *hash = fl_hash_format(info->nar_hash);
        char when[32];
        print_time(info->registration_time, when, sizeof when);
        if (json) {
            json_t *refs = json_array();
            for (size_t k = 0; k < info->nrefs; k++)
                json_array_append_new(refs, json_string(info->refs[k]));
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:I, s:o, s:o, s:I}", "path", info->path, "narHash",
                               hash, "narSize", (json_int_t)info->nar_size, "references", refs,
                               "deriver", info->deriver ? json_string(info->deriver) : json_null(),
                               "registrationTime", (json_int_t)info->registration_time));
        } else {
            printf("%s\n  narHash: %s\n  narSize: %llu\n  references:", info->path, hash,
                   (unsigned long long)info->nar_size);
            for (size_t k = 0; k < info->nrefs; k++)
                printf(" %s", info->refs[k]);
            printf("\n  deriver: %s\n  registered: %s\n", info->deriver ? info->deriver : "(none)",
                   when);
        }
        free(hash);
        fl_store_path_info_free(info);
    }
    if (!rc && json) {
        char *text = json_dumps(arr, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
    }
    json_decref(arr);
    fl_store_free_paths(paths, n);
    fl_store_close(s);
    return rc;
}

static int store_query_valid(int argc, char **argv) {
    if (argc < 2)
        return usage_error("%s", "store query-valid: which PATH?");
    fl_store *s;
    int rc = open_store(&s);
    if (rc)
        return rc;
    for (int i = 1; i < argc; i++)
        if (fl_store_is_valid(s, argv[i]))
            printf("%s\n", argv[i]);
    fl_store_close(s);
    return FL_EXIT_OK;
}

static int store_verify(int argc, char **argv) {
    int check = 0, repair = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check-contents"))
            check = 1;
        else if (!strcmp(argv[i], "--repair"))
            repair = 1;
        else
            return usage_error("store verify: unexpected argument '%s'", argv[i]);
    }
    fl_store *s;
    int rc = open_store(&s);
    if (rc)
        return rc;
    fl_error err = FL_ERROR_INIT;
    fl_store_verify_result res = {0};
    if (fl_store_verify(s, check, repair, stdout, &res, &err)) {
        fl_store_close(s);
        return fl_cli_report(&err);
    }
    fl_store_close(s);
    size_t problems = res.missing + res.garbage + res.corrupt + res.dangling;
    if (problems == 0) {
        printf("store is consistent\n");
        return FL_EXIT_OK;
    }
    printf("%zu problem(s): %zu missing, %zu unregistered, %zu corrupt, %zu dangling; %zu "
           "repaired\n",
           problems, res.missing, res.garbage, res.corrupt, res.dangling, res.repaired);
    if (res.repaired >= problems)
        return FL_EXIT_OK;
    if (!repair)
        fprintf(stderr, "hint: run 'flakectl store verify --repair' to clean up\n");
    return FL_EXIT_FAILURE;
}

static int store_export(int argc, char **argv) {
    int on[1] = {0}, first;
    static const char *const names[] = {"--closure", NULL};
    int urc = parse_switches(argc, argv, "export", names, on, &first);
    if (urc)
        return urc;
    int closure = on[0];
    if (isatty(1))
        return usage_error("%s", "store export: refusing to write to a terminal");
    fl_store *s;
    int rc = open_store(&s);
    if (rc)
        return rc;
    char **paths = NULL;
    size_t n = (size_t)(argc - first);
    rc = resolve_args(s, argv + first, argc - first, &paths);
    fl_error err = FL_ERROR_INIT;
    if (!rc && closure) {
        char **cl = NULL;
        size_t ncl = 0;
        if (fl_store_closure(s, paths, n, &cl, &ncl, &err))
            rc = fl_cli_report(&err);
        fl_store_free_paths(paths, n);
        paths = cl;
        n = ncl;
    }
    if (!rc && fl_store_export(s, paths, n, 1, &err))
        rc = fl_cli_report(&err);
    fl_store_free_paths(paths, n);
    fl_store_close(s);
    return rc;
}

static int store_import(int argc, char **argv) {
    if (argc > 1)
        return usage_error("store import: unexpected argument '%s' (the stream is stdin)", argv[1]);
    fl_store *s;
    int rc = open_store(&s);
    if (rc)
        return rc;
    fl_error err = FL_ERROR_INIT;
    char **paths = NULL;
    size_t n = 0;
    if (fl_store_import(s, 0, &paths, &n, &err))
        rc = fl_cli_report(&err);
    for (size_t i = 0; i < n; i++)
        printf("%s\n", paths[i]);
    fl_store_free_paths(paths, n);
    fl_store_close(s);
    return rc;
}

typedef struct strvec {
    const char **v;
    size_t n;
} strvec;

static void strvec_push(strvec *sv, const char *s) {
    sv->v = fl_xrealloc(sv->v, (sv->n + 1) * sizeof *sv->v);
    sv->v[sv->n++] = s;
}

static int store_build(int argc, char **argv) {
    fl_store_drv drv = {0};
    strvec args = {0}, env = {0}, inputs = {0};
    const char *out_link = NULL;
    int rc = FL_EXIT_OK;
    for (int i = 1; i < argc && !rc; i++) {
        const char *o = argv[i];
        if (i + 1 >= argc) {
            rc = usage_error("store build: '%s' needs a value (or is unknown)", o);
            break;
        }
        const char *v = argv[++i];
        if (!strcmp(o, "--name"))
            drv.name = v;
        else if (!strcmp(o, "--builder"))
            drv.builder = v;
        else if (!strcmp(o, "--arg"))
            strvec_push(&args, v);
        else if (!strcmp(o, "--env"))
            strvec_push(&env, v);
        else if (!strcmp(o, "--input"))
            strvec_push(&inputs, v);
        else if (!strcmp(o, "--out-link"))
            out_link = v;
        else
            rc = usage_error("store build: unknown option '%s'", o);
    }
    if (!rc && (!drv.name || !drv.builder))
        rc = usage_error("%s", "store build needs --name and --builder");
    fl_store *s = NULL;
    if (!rc)
        rc = open_store(&s);
    if (!rc) {
        drv.args = args.v;
        drv.nargs = args.n;
        drv.env = env.v;
        drv.nenv = env.n;
        drv.inputs = inputs.v;
        drv.ninputs = inputs.n;
        fl_error err = FL_ERROR_INIT;
        char *out = NULL;
        if (fl_store_build(s, &drv, &out, &err)) {
            rc = fl_cli_report(&err);
        } else {
            if (out_link && (fl_atomic_symlink(out, out_link, &err) ||
                             fl_store_add_indirect_root(s, out_link, &err)))
                rc = fl_cli_report(&err);
            printf("%s\n", out);
        }
        free(out);
    }
    fl_store_close(s);
    free(args.v);
    free(env.v);
    free(inputs.v);
    return rc;
}

int cmd_store(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? FL_EXIT_USAGE : FL_EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } subs[] = {{"add", store_add},
                {"dump", store_dump},
                {"hash", store_hash},
                {"path-info", store_path_info},
                {"query-valid", store_query_valid},
                {"verify", store_verify},
                {"export", store_export},
                {"import", store_import},
                {"build", store_build},
                {"realise", fl_cli_store_realise}};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(argv[1], subs[i].name) != 0)
            continue;
        if (wants_help(argc - 1, argv + 1)) {
            fputs(usage_text, stdout);
            return FL_EXIT_OK;
        }
        return subs[i].fn(argc - 1, argv + 1);
    }
    return usage_error("unknown store subcommand '%s'", argv[1]);
}
