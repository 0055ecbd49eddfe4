/* cli.h - the subcommands. Each src/cli/<name>.c exports cmd_<name>(argc, argv), owns its
 * usage text and option parsing, and returns the process exit status. argv[0] is the
 * subcommand's name; global options have already been removed by main(). */
#ifndef FLAKECTL_CLI_H
#define FLAKECTL_CLI_H

#include "flakectl/error.h"

typedef int (*fl_cmd_fn)(int argc, char **argv);

struct fl_command {
    const char *name;
    fl_cmd_fn fn;
    const char *summary;
};

/* Exit codes (documented in docs/exit-codes.md). */
enum {
    FL_EXIT_OK = 0,
    FL_EXIT_FAILURE = 1, /* the operation failed (evaluation error, build failure, ...) */
    FL_EXIT_USAGE = 2,   /* bad command line */
};

/* Prints err to stderr the one way every command does and returns FL_EXIT_FAILURE (or
 * FL_EXIT_USAGE for FL_EUSAGE). */
int fl_cli_report(fl_error *err);

#include <stddef.h>

/* Runs fn(arg) on a thread with a 256 MiB stack and returns its result; evaluators created
 * inside should set fl_lang_config.max_stack to fl_cli_eval_stack_limit(). */
int fl_cli_with_big_stack(int (*fn)(void *), void *arg);
size_t fl_cli_eval_stack_limit(void);

/* `flakectl eval --host H [PATH] [--json]` (src/cli/eval_host.c). */
int fl_cli_eval_host(const char *host, const char *path, int json);

/* Evaluates and builds a host of the flake (--flake/--state-dir from fl_opts); *toplevel is
 * the owned store path. host_name NULL = this machine's name. Shared by build, switch, ... */
int fl_cli_build_host(const char *host_name, char **toplevel, fl_error *err);

/* `flakectl check`'s secrets rule (src/cli/secret.c): every age.secrets.<n>.file under the
 * flake's secrets/ must list the host's age.hostPublicKey among its publicKeys in
 * secrets/secrets.nix. Hosts without age.hostPublicKey are not checked. config is the host's
 * forced config; flake the flake directory. */
struct fl_lang;
struct fl_host;
struct fl_value;
int fl_cli_check_secret_recipients(const char *flake, struct fl_lang *L, struct fl_host *host,
                                   struct fl_value *config, fl_error *err);

/* `flakectl store realise PATH...` (src/cli/cache.c). */
int fl_cli_store_realise(int argc, char **argv);

/* Remote deployments (src/cli/deploy.c): switch/test/boot/dry-activate with --target-host or
 * --on; argv as the command got it, mode the agent's word ("switch", "dry-activate"). */
int fl_cli_deploy(int argc, char **argv, const char *mode);
/* Is --target-host among argv? */
int fl_cli_has_target(int argc, char **argv);
/* Runs argv (the command and its options, without the SSH ones) on --target-host with
 * flakectl there, the output streamed back; returns its exit status. */
int fl_cli_remote_passthrough(int argc, char **argv);

#endif
