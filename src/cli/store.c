/* store.c (cli) - `flakectl store <add|dump|path-info|query-valid|verify|export|import|build>`
 * (and realise, from cache.c):
 * argument parsing, output formatting and exit codes over include/flakectl/store.h. Owns no
 * store logic of its own. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "opt.h"
#include "flakectl/cli.h"
#include "flakectl/fs.h"
#include "options.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

typedef struct store_opts {
    const char *name, *builder, *out_link, *pending;
    int contained, base32, closure, json, check, repair;
    fl_opt_list paths, args, env, inputs;
} store_opts;

#define SO store_opts
static const fl_opt_spec add_spec[] = {
    FL_OPT_STR_("name", 0, "N", "the store path's name (default: the file's)", SO, name, .flags = 0),
    FL_OPT_FLAG_("contained", 0, "refuse symlinks that leave PATH", SO, contained, .flags = 0),
    FL_OPT_ARGS_("PATH", "files or directories to add", SO, paths,
                 .complete = FL_OPT_V_FILE, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};
static const fl_opt_spec dump_spec[] = {
    FL_OPT_ARGS_("PATH", "the path to serialize", SO, paths,
                 .complete = FL_OPT_V_FILE, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};
static const fl_opt_spec hash_spec[] = {
    FL_OPT_FLAG_("base32", 0, "print Nix's base32 instead of hex", SO, base32, .flags = 0),
    FL_OPT_ARGS_("PATH", "the paths to hash", SO, paths,
                 .complete = FL_OPT_V_FILE, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};
static const fl_opt_spec path_info_spec[] = {
    FL_OPT_FLAG_("closure", 0, "every path the given ones reference, recursively", SO, closure,
                 .flags = 0),
    FL_OPT_FLAG_("json", 0, "print JSON", SO, json, .flags = 0),
    FL_OPT_ARGS_("PATH", "store paths, paths inside them or links to them", SO, paths,
                 .complete = FL_OPT_V_FILE, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};
static const fl_opt_spec query_valid_spec[] = {
    FL_OPT_STR_("pending", 0, "ID",
                "first root every PATH (valid or not) for deployment ID until its activation\n"
                "ends (docs/security.md)",
                SO, pending, .flags = 0),
    FL_OPT_ARGS_("PATH", "the store paths to check", SO, paths,
                 .complete = FL_OPT_V_FILE, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};
static const fl_opt_spec import_spec[] = {
    FL_OPT_STR_("pending", 0, "ID", "add the imported paths to deployment ID's pending root", SO,
                pending, .flags = 0),
    FL_OPT_END_,
};
static const fl_opt_spec verify_spec[] = {
    FL_OPT_FLAG_("check-contents", 0, "re-hash every path's contents", SO, check, .flags = 0),
    FL_OPT_FLAG_("repair", 0, "remove what is corrupt or unregistered", SO, repair, .flags = 0),
    FL_OPT_END_,
};
static const fl_opt_spec export_spec[] = {
    FL_OPT_FLAG_("closure", 0, "export the closure of the paths", SO, closure, .flags = 0),
    FL_OPT_ARGS_("PATH", "the store paths to export", SO, paths,
                 .complete = FL_OPT_V_FILE, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};
static const fl_opt_spec build_spec[] = {
    FL_OPT_STR_("name", 0, "N", "the output's name", SO, name, .flags = FL_OPT_REQUIRED),
    FL_OPT_STR_("builder", 0, "B", "the program that builds $out", SO, builder,
                .complete = FL_OPT_V_COMMAND, .flags = FL_OPT_REQUIRED),
    FL_OPT_LIST_("arg", 0, "A", "an argument of the builder", SO, args, .flags = 0),
    FL_OPT_LIST_("env", 0, "K=V", "an environment variable of the build", SO, env, .flags = 0),
    FL_OPT_LIST_("input", 0, "P", "a store path the build uses", SO, inputs, .flags = 0),
    FL_OPT_STR_("out-link", 0, "L", "a GC root link to the output", SO, out_link,
                .complete = FL_OPT_V_FILE, .flags = 0),
    FL_OPT_END_,
};
#undef SO

static int store_add(int argc, char **argv);
static int store_dump(int argc, char **argv);
static int store_hash(int argc, char **argv);
static int store_path_info(int argc, char **argv);
static int store_query_valid(int argc, char **argv);
static int store_verify(int argc, char **argv);
static int store_export(int argc, char **argv);
static int store_import(int argc, char **argv);
static int store_build(int argc, char **argv);

static const fl_opt_cmd add_cmd = {
    "store add", "copy files/directories into the store by content; prints each store path",
    "[--name N] [--contained] PATH...", NULL, add_spec, NULL, store_add};
static const fl_opt_cmd dump_cmd = {
    "store dump", "write PATH as a NAR (nix-store --dump) to stdout", "PATH", NULL, dump_spec,
    NULL, store_dump};
static const fl_opt_cmd hash_cmd = {
    "store hash", "NAR SHA-256 of each PATH, as nix-hash --type sha256", "[--base32] PATH...",
    NULL, hash_spec, NULL, store_hash};
static const fl_opt_cmd path_info_cmd = {
    "store path-info", "show NAR hash, size, references, deriver, registration time",
    "[--closure] [--json] PATH...", NULL, path_info_spec, NULL, store_path_info};
static const fl_opt_cmd query_valid_cmd = {
    "store query-valid", "print those of PATH... that are valid", "[--pending ID] PATH...", NULL,
    query_valid_spec, NULL, store_query_valid};
static const fl_opt_cmd verify_cmd = {
    "store verify", "check the store against its registry", "[--check-contents] [--repair]", NULL,
    verify_spec, NULL, store_verify};
static const fl_opt_cmd export_cmd = {
    "store export", "write an export stream (see docs/store.md)", "[--closure] PATH...", NULL,
    export_spec, NULL, store_export};
static const fl_opt_cmd import_cmd = {
    "store import", "read an export stream from stdin; prints paths", "[--pending ID]", NULL,
    import_spec, NULL, store_import};
static const fl_opt_cmd build_cmd = {
    "store build", "build a derivation; prints its output path",
    "--name N --builder B [--arg A]... [--env K=V]... [--input P]... [--out-link L]", NULL,
    build_spec, NULL, store_build};
extern const fl_opt_cmd fl_cmd_store_realise; /* src/cli/cache.c */
static const fl_opt_cmd *const store_subs[] = {&add_cmd,    &dump_cmd,   &hash_cmd,
                                               &path_info_cmd, &query_valid_cmd, &verify_cmd,
                                               &export_cmd, &import_cmd, &build_cmd,
                                               &fl_cmd_store_realise, NULL};

extern const fl_opt_cmd fl_cmd_store;

static int cmd_store(int argc, char **argv) {
    return fl_opt_dispatch(&fl_cmd_store, argc, argv);
}

const fl_opt_cmd fl_cmd_store = {
    "store",
    "add, dump, inspect, verify, export, import and realise store paths",
    NULL,
    "The store is <state-dir>/store (--state-dir, FLAKECTL_STATE_DIR). See docs/store.md.\n",
    NULL,
    store_subs,
    cmd_store,
};

/* Parses a store subcommand's options; FL_OPT_RUN or the exit status. */
static int parse_sub(const fl_opt_cmd *cmd, store_opts *o, int argc, char **argv) {
    memset(o, 0, sizeof *o);
    return fl_opt_parse(cmd, o, argc, argv);
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

/* --name is a value of the command line: a name the store refuses is a usage error (2), as
 * docs/exit-codes.md has it; the same name from an evaluation is an evaluation error (1). */
static int check_name_opt(const char *name) {
    fl_error err = FL_ERROR_INIT;
    if (!name || fl_store_check_name(name, &err) == 0)
        return FL_EXIT_OK;
    err.code = FL_EUSAGE;
    return fl_cli_report(&err);
}

static int store_add(int argc, char **argv) {
    store_opts o;
    int rc = parse_sub(&add_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    const char *name = o.name;
    int flags = o.contained ? FL_STORE_ADD_CONTAINED : 0;
    argc = (int)o.paths.n;
    argv = (char **)o.paths.v;
    fl_store *s;
    rc = check_name_opt(name);
    if (!rc)
        rc = open_store(&s);
    if (rc) {
        fl_opt_release(&add_cmd, &o);
        return rc;
    }
    for (int i = 0; i < argc && !rc; i++) {
        fl_error err = FL_ERROR_INIT;
        char *out = NULL;
        if (fl_store_add_path(s, argv[i], name, flags, &out, &err))
            rc = fl_cli_report(&err);
        else
            printf("%s\n", out);
        free(out);
    }
    fl_store_close(s);
    fl_opt_release(&add_cmd, &o);
    return rc;
}

static int store_dump(int argc, char **argv) {
    store_opts o;
    int rc = parse_sub(&dump_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    const char *path = o.paths.v[0];
    size_t n = o.paths.n;
    fl_opt_release(&dump_cmd, &o);
    if (n != 1)
        return fl_opt_usage(&dump_cmd, "takes exactly one PATH");
    if (isatty(1))
        return fl_opt_usage(&dump_cmd, "refusing to write a NAR to a terminal");
    fl_error err = FL_ERROR_INIT;
    if (fl_nar_dump_fd(path, 1, &err))
        return fl_cli_report(&err);
    return FL_EXIT_OK;
}

static int store_hash(int argc, char **argv) {
    store_opts o;
    int rc = parse_sub(&hash_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    int b32 = o.base32;
    for (size_t i = 0; i < o.paths.n; i++) {
        fl_error err = FL_ERROR_INIT;
        unsigned char h[FL_SHA256_LEN];
        char text[2 * FL_SHA256_LEN + 1];
        if (fl_nar_hash_path(o.paths.v[i], h, NULL, &err)) {
            fl_opt_release(&hash_cmd, &o);
            return fl_cli_report(&err);
        }
        if (b32)
            fl_base32_encode(h, sizeof h, text);
        else
            fl_hex_encode(h, sizeof h, text);
        printf("%s\n", text);
    }
    fl_opt_release(&hash_cmd, &o);
    return FL_EXIT_OK;
}

static void print_time(int64_t t, char *buf, size_t n) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int store_path_info(int argc, char **argv) {
    store_opts o;
    int rc = parse_sub(&path_info_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    int closure = o.closure;
    int json = o.json;
    fl_store *s;
    rc = open_store(&s);
    if (rc) {
        fl_opt_release(&path_info_cmd, &o);
        return rc;
    }
    char **paths = NULL;
    size_t n = o.paths.n;
    rc = resolve_args(s, (char **)o.paths.v, (int)n, &paths);
    fl_opt_release(&path_info_cmd, &o);
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
    store_opts o;
    int rc = parse_sub(&query_valid_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    fl_store *s;
    rc = open_store(&s);
    if (rc) {
        fl_opt_release(&query_valid_cmd, &o);
        return rc;
    }
    /* Rooted before answering, under the store's shared lock: a gc either ran before (and
     * the answer says what it left) or sees the record, so what is reported valid stays. */
    fl_error err = FL_ERROR_INIT;
    if (o.pending &&
        fl_store_pending_hold(s, o.pending, (const char *const *)o.paths.v, o.paths.n, &err))
        rc = fl_cli_report(&err);
    /* like grep: 1 says some PATH is not valid (the deployer reads the list, a script the
     * status); nothing on stderr, the answer is not an error */
    int all_valid = 1;
    for (size_t i = 0; !rc && i < o.paths.n; i++) {
        if (fl_store_is_valid(s, o.paths.v[i]))
            printf("%s\n", o.paths.v[i]);
        else
            all_valid = 0;
    }
    fl_store_close(s);
    fl_opt_release(&query_valid_cmd, &o);
    return rc ? rc : all_valid ? FL_EXIT_OK : FL_EXIT_FAILURE;
}

static int store_verify(int argc, char **argv) {
    store_opts o;
    int rc = parse_sub(&verify_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    int check = o.check, repair = o.repair;
    fl_store *s;
    rc = open_store(&s);
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
    store_opts o;
    int rc = parse_sub(&export_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    int closure = o.closure;
    if (isatty(1)) {
        fl_opt_release(&export_cmd, &o);
        return fl_opt_usage(&export_cmd, "refusing to write to a terminal");
    }
    fl_store *s;
    rc = open_store(&s);
    if (rc) {
        fl_opt_release(&export_cmd, &o);
        return rc;
    }
    char **paths = NULL;
    size_t n = o.paths.n;
    rc = resolve_args(s, (char **)o.paths.v, (int)n, &paths);
    fl_opt_release(&export_cmd, &o);
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
    store_opts o;
    int rc = parse_sub(&import_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    fl_store *s;
    rc = open_store(&s);
    if (rc) {
        fl_opt_release(&import_cmd, &o);
        return rc;
    }
    fl_error err = FL_ERROR_INIT;
    char **paths = NULL;
    size_t n = 0;
    /* Renewed (and the id checked) before the stream is read, which may take long. */
    if (o.pending && fl_store_pending_hold(s, o.pending, NULL, 0, &err))
        rc = fl_cli_report(&err);
    if (!rc && fl_store_import(s, 0, &paths, &n, &err))
        rc = fl_cli_report(&err);
    /* Still under the shared lock the import held: gc cannot run between the two. */
    if (!rc && o.pending &&
        fl_store_pending_hold(s, o.pending, (const char *const *)paths, n, &err))
        rc = fl_cli_report(&err);
    for (size_t i = 0; i < n; i++)
        printf("%s\n", paths[i]);
    fl_store_free_paths(paths, n);
    fl_store_close(s);
    fl_opt_release(&import_cmd, &o);
    return rc;
}

static int store_build(int argc, char **argv) {
    fl_store_drv drv = {0};
    store_opts o;
    int rc = parse_sub(&build_cmd, &o, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    rc = FL_EXIT_OK;
    const char *out_link = o.out_link;
    drv.name = o.name;
    drv.builder = o.builder;
    rc = check_name_opt(drv.name);
    fl_store *s = NULL;
    if (!rc)
        rc = open_store(&s);
    if (!rc) {
        drv.args = o.args.v;
        drv.nargs = o.args.n;
        drv.env = o.env.v;
        drv.nenv = o.env.n;
        drv.inputs = o.inputs.v;
        drv.ninputs = o.inputs.n;
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
    fl_opt_release(&build_cmd, &o);
    return rc;
}
