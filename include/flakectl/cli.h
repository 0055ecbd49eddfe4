/* cli.h - what the subcommands share. Each src/cli/<name>.c exports its command's table
 * (fl_cmd_<name>, see src/cli/opt.h), parses argv through it and returns the process exit
 * status. */
#ifndef FLAKECTL_CLI_H
#define FLAKECTL_CLI_H

#include "flakectl/error.h"

/* Exit codes (documented in docs/exit-codes.md). */
enum {
    FL_EXIT_OK = 0,
    FL_EXIT_FAILURE = 1, /* the operation failed (evaluation error, build failure, ...) */
    FL_EXIT_USAGE = 2,   /* bad command line */
};

/* Prints err to stderr the one way every command does and returns FL_EXIT_FAILURE (or
 * FL_EXIT_USAGE for FL_EUSAGE). */
int fl_cli_report(fl_error *err);
/* The same for an error inside source text the user typed (--expr, the repl): the line and
 * caret come from src, not from a file. */
int fl_cli_report_source(fl_error *err, const char *src);

#include <stddef.h>

/* Runs fn(arg) on a thread with a 256 MiB stack and returns its result; evaluators created
 * inside should set fl_lang_config.max_stack to fl_cli_eval_stack_limit(). */
int fl_cli_with_big_stack(int (*fn)(void *), void *arg);
size_t fl_cli_eval_stack_limit(void);

/* The evaluator's sink (fl_lang_config.trace) of every command: the line and a newline to
 * stderr, where builtins.trace and Nix's warnings have always gone. ctx is unused. */
void fl_cli_trace(void *ctx, const char *line);

/* The session options the global ones mean (--flake, --state-dir, --show-trace, --quiet,
 * --no-write-lock-file, --override-input), with the evaluation stack limit. */
struct fl_session_opts;
void fl_cli_session_opts(struct fl_session_opts *o);

/* `flakectl eval --host H [PATH] [--json]` (src/cli/eval_host.c). */
int fl_cli_eval_host(const char *host, const char *path, int json);

/* Evaluates and builds a host of the flake (--flake/--state-dir from fl_opts); *toplevel is
 * the owned store path. host_name NULL = this machine's name. Shared by build, switch, ... */
int fl_cli_build_host(const char *host_name, char **toplevel, fl_error *err);
/* Builds several hosts with one evaluator (the flake and what the hosts share evaluated
 * once): toplevels[i] (owned) or errs[i] for each; one host's failure stops nothing else.
 * Returns how many failed, or <0 with err when the flake itself cannot be opened. */
int fl_cli_build_hosts(char *const *names, size_t n, char **toplevels, fl_error *errs,
                       fl_error *err);
/* The binary caches a build used: its URLs and trusted keys (owned string arrays; free each
 * with fl_store_free_paths). */
typedef struct fl_cli_caches {
    char **urls, **keys;
    size_t nurls, nkeys;
} fl_cli_caches;
/* fl_cli_build_host that also tells which caches (flags and the host's store.* options) the
 * build substituted from, for a deployment's target to use. progress: where the builds
 * report (a fleet's line), NULL = a line of their own on stderr. */
struct fl_progress;
int fl_cli_build_host_caches(const char *host_name, char **toplevel, fl_cli_caches *caches,
                             const struct fl_progress *progress, fl_error *err);
/* Sets up a host session's substitution from the global flags (--substituters,
 * --trusted-public-key) and the host's store.* options, and (caches != NULL, zeroed) says
 * which caches and keys those are. */
struct fl_host_session;
int fl_cli_session_substitute(struct fl_host_session *sess, fl_cli_caches *caches,
                              fl_error *err);
/* The same for the flake in flake_dir, which is left as it is (flake.lock never written). */
int fl_cli_build_host_in(const char *flake_dir, const char *host_name, char **toplevel,
                         fl_error *err);

#endif
