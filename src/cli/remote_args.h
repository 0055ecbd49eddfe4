/* remote_args.h - the option groups every remote command shares (SSH; --target-host; the
 * deploy options of switch/test/boot/dry-activate) and the calls that take them. Private to
 * src/cli/. The tables are in cli/deploy.c. */
#ifndef FLAKECTL_CLI_REMOTE_ARGS_H
#define FLAKECTL_CLI_REMOTE_ARGS_H

#include "opt.h"
#include "flakectl/remote.h"

/* -i, --known-hosts, --ssh-config, --accept-new-host-key, --connect-timeout, --sudo,
 * --askpass */
typedef struct fl_cli_ssh_args {
    const char *identity, *known_hosts, *ssh_config, *askpass;
    int accept_new_host_key, sudo, connect_timeout_s;
} fl_cli_ssh_args;
extern const fl_opt_spec fl_cli_ssh_spec[];
void fl_cli_ssh_apply(const fl_cli_ssh_args *a, fl_remote_opts *o);

/* --target-host and the SSH group: what rollback and generations forward to a target. */
typedef struct fl_cli_target_args {
    const char *target_host;
    fl_cli_ssh_args ssh;
} fl_cli_target_args;
extern const fl_opt_spec fl_cli_target_spec[];

/* Everything switch/test/boot/dry-activate take for a remote deployment. */
typedef struct fl_cli_deploy_args {
    fl_cli_target_args t;
    const char *build_host, *on;
    int jobs, fail_fast, rollback_succeeded, no_magic_rollback, confirm_timeout_s;
} fl_cli_deploy_args;
extern const fl_opt_spec fl_cli_deploy_spec[];
#define FL_CLI_DEPLOY_ARGS_INIT {{NULL, {NULL, NULL, NULL, NULL, 0, 0, 0}}, NULL, NULL, 1, 0, 0, 0, 30}

/* A remote deployment of host (NULL: this machine's name) or of the --on selection; mode
 * is the agent's word ("switch", "dry-activate"). Returns the exit status. */
int fl_cli_deploy(const fl_opt_cmd *cmd, const fl_cli_deploy_args *a, const char *host,
                  const char *backup_ext, const char *mode);
/* The hosts `--on sel` chooses, with their deploy.targetHost (evaluated on a big stack).
 * *hosts owned (fl_host_deploy_free). */
struct fl_host_deploy;
int fl_cli_select_hosts(const char *sel, struct fl_host_deploy **hosts, size_t *n, fl_error *err);
/* Runs argv (less what local[] marks: SSH and global options) on a->target_host with
 * flakectl there, the output streamed back; returns its exit status. */
int fl_cli_remote_passthrough(const fl_cli_target_args *a, int argc, char **argv,
                              const unsigned char *local);

#endif
