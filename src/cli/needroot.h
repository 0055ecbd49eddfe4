/* needroot.h - the one answer to "permission denied" when the cause is running without root
 * (needroot.c). Private to src/cli/. */
#ifndef FLAKECTL_CLI_NEEDROOT_H
#define FLAKECTL_CLI_NEEDROOT_H

#include "flakectl/error.h"

/* When err is a refused system call (EACCES, EPERM), the process is not root and the state
 * directory (or, for a command that writes the root, the root) is not writable by it, err
 * is replaced by one error saying that the command needs root and how to run it (sudo with
 * the same arguments; --sudo on a deployment's target). Returns 1 when it did. */
int fl_cli_root_error(fl_error *err);
/* Before a command changes anything: the same error, in err, when the process is not root
 * and the state directory (and, with root_too, the root) is not writable; 0 otherwise. So
 * nothing is printed or done before the refusal. */
int fl_cli_need_root(int root_too, fl_error *err);
/* A store of the user's own, <cache>/flakectl/NAME (owned), for work that changes nothing
 * but a store (check, completion's listings): when the process is not root and the state
 * directory is not writable, and (unless even_if_given) it is the default one, not one that
 * --state-dir or FLAKECTL_STATE_DIR named. NULL otherwise: the configured one is used (and
 * refused as usual). */
char *fl_cli_own_state_dir(const char *name, int even_if_given);
/* <cache>/flakectl/NAME (owned), whoever runs. */
char *fl_cli_cache_state_dir(const char *name);
/* For listings that must leave the machine as they found it (completion's TAB): as
 * fl_cli_own_state_dir(name, 1), and also when the state directory does not exist yet, so a
 * TAB on a fresh machine, even root's, never creates /var/lib/flakectl. */
char *fl_cli_listing_state_dir(const char *name);

#endif
