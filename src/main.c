/* main.c - argv to the command table; global options; nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/cli.h"
#include "flakectl/options.h"

fl_global_options fl_opts;

/* Subcommands register here: one line each, implemented in src/cli/<name>.c. */
#define FL_COMMANDS(X)                                                                         \
    X(eval, "evaluate an expression, a file, or a host's option (--host H PATH)")              \
    X(option, "show an option: value, type, default, description, declared and defined in")    \
    X(check, "evaluate and build every host of the flake (CI)")                                \
    X(build, "evaluate a host and build its toplevel into the store")                          \
    X(switch, "build the host, activate it and make it the default generation")                \
    X(test, "build the host and activate it without making it the default")                    \
    X(boot, "build the host and make it the default for the next boot")                        \
    X(dry_activate, "build the host and print everything activation would change")             \
    X(update, "fetch the newest revision of inputs and record it in flake.lock")               \
    X(lock, "lock the inputs flake.lock does not pin yet")                                     \
    X(store, "add, dump, inspect, verify, export and import store paths")                      \
    X(gc, "delete store paths no GC root reaches")                                             \
    X(cache, "binary caches in Nix's format: keygen, push, verify")                                             \
    X(secret, "age-encrypted secrets: encrypt, decrypt, edit, rekey, keygen")                  \
    X(link_farm, "internal: lay out a host's toplevel from a manifest (a store builder)")       \
    X(remote_exec, "diagnostic: run a command on a target over flakectl's SSH layer")          \
    X(version, "print the version")                                                            \
    X(activate, "activate a built toplevel: --mode switch|test|boot|dry-activate")             \
    X(generations, "list or delete system generations")                                        \
    X(rollback, "activate the previous default generation (or --to N)")                        \
    X(diff, "what changes between two toplevels or generations")                          \
    X(deploy_agent, "the target side of remote deployments (run by the deployer over SSH)")

#define DECLARE(name, summary) int cmd_##name(int argc, char **argv);
FL_COMMANDS(DECLARE)
#undef DECLARE

static const struct fl_command commands[] = {
#define ENTRY(name, summary) {#name, cmd_##name, summary},
    FL_COMMANDS(ENTRY)
#undef ENTRY
};

int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    puts("flakectl " FLAKECTL_VERSION);
    return FL_EXIT_OK;
}

int fl_cli_report(fl_error *err) {
    fl_error_print(err, stderr);
    int rc = err->code == FL_EUSAGE ? FL_EXIT_USAGE : FL_EXIT_FAILURE;
    fl_error_clear(err);
    return rc;
}

static void usage(FILE *out) {
    fputs("usage: flakectl [global options] <command> [args]\n\ncommands:\n", out);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        /* C identifiers cannot hold '-': dry_activate is spelled dry-activate. */
        char name[32];
        snprintf(name, sizeof name, "%s", commands[i].name);
        for (char *c = name; *c; c++)
            if (*c == '_')
                *c = '-';
        fprintf(out, "  %-14s %s\n", name, commands[i].summary);
    }
    fputs("\nglobal options: --flake DIR --state-dir DIR --root DIR --show-trace -v/--verbose\n"
          "                --quiet --color auto|always|never\n"
          "                --no-write-lock-file --override-input NAME PATH|URL\n"
          "                --substituters URLS --trusted-public-key KEY\n",
          out);
}

/* Takes global options out of argv (anywhere before "--"); returns the new argc, or -1 after
 * printing a usage error. */
static int take_global_options(int argc, char **argv) {
    const char *color = "auto";
    int out = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dest = NULL;
        if (!strcmp(a, "--")) {
            while (i < argc)
                argv[out++] = argv[i++];
            break;
        }
        if (!strcmp(a, "--flake"))
            dest = &fl_opts.flake_dir;
        else if (!strcmp(a, "--state-dir"))
            dest = &fl_opts.state_dir;
        else if (!strcmp(a, "--root"))
            dest = &fl_opts.root;
        else if (!strcmp(a, "--color"))
            dest = &color;
        if (dest) {
            if (i + 1 >= argc) {
                fprintf(stderr, "error: %s needs a value\n", a);
                return -1;
            }
            *dest = argv[++i];
            continue;
        }
        if (!strcmp(a, "--override-input")) {
            if (i + 2 >= argc) {
                fprintf(stderr, "error: --override-input needs NAME and a PATH or URL\n");
                return -1;
            }
            /* argv outlives the command, so the pairs point into it */
            static const char *pairs[64];
            if (fl_opts.noverride_inputs >= 32) {
                fprintf(stderr, "error: too many --override-input options\n");
                return -1;
            }
            pairs[2 * fl_opts.noverride_inputs] = argv[i + 1];
            pairs[2 * fl_opts.noverride_inputs + 1] = argv[i + 2];
            fl_opts.noverride_inputs++;
            fl_opts.override_inputs = pairs;
            i += 2;
            continue;
        }
        if (!strcmp(a, "--substituters") || !strcmp(a, "--trusted-public-key")) {
            /* argv outlives the command, so the lists point into it */
            static const char *subs[32], *keys[32];
            int is_sub = a[2] == 's';
            int *n = is_sub ? &fl_opts.nsubstituters : &fl_opts.ntrusted_keys;
            if (i + 1 >= argc || *n >= 32) {
                fprintf(stderr, "error: %s needs a value (at most 32 times)\n", a);
                return -1;
            }
            (is_sub ? subs : keys)[(*n)++] = argv[++i];
            fl_opts.substituters = subs;
            fl_opts.trusted_keys = keys;
            continue;
        }
        if (!strcmp(a, "--no-write-lock-file"))
            fl_opts.no_write_lock_file = 1;
        else if (!strcmp(a, "--show-trace"))
            fl_opts.show_trace = 1;
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
            fl_opts.verbose++;
        else if (!strcmp(a, "--quiet"))
            fl_opts.quiet = 1;
        else
            argv[out++] = argv[i];
    }
    argv[out] = NULL;
    if (!strcmp(color, "always"))
        fl_opts.color = 1;
    else if (!strcmp(color, "never"))
        fl_opts.color = 0;
    else if (!strcmp(color, "auto"))
        fl_opts.color = isatty(2) && !getenv("NO_COLOR");
    else {
        fprintf(stderr, "error: --color takes auto, always or never, not '%s'\n", color);
        return -1;
    }
    return out;
}

int main(int argc, char **argv) {
    fl_opts.state_dir = getenv("FLAKECTL_STATE_DIR");
    fl_opts.root = getenv("FLAKECTL_ROOT");
    argc = take_global_options(argc, argv);
    if (argc < 0)
        return FL_EXIT_USAGE;
    if (!fl_opts.state_dir || !*fl_opts.state_dir)
        fl_opts.state_dir = "/var/lib/flakectl";
    if (!fl_opts.root || !*fl_opts.root)
        fl_opts.root = "/";
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FL_EXIT_USAGE : FL_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version"))
        return cmd_version(0, NULL);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const char *name = commands[i].name;
        size_t n = strlen(name);
        int match = strlen(argv[1]) == n;
        for (size_t k = 0; match && k < n; k++)
            match = argv[1][k] == name[k] || (argv[1][k] == '-' && name[k] == '_');
        if (match)
            return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "error: unknown command '%s'\n       hint: run 'flakectl --help' for the list\n",
            argv[1]);
    return FL_EXIT_USAGE;
}
