/* remote.h - SSH connections to target hosts (libssh2): one connection per host, many
 * commands over it as channels. The copy, activation and fleet layers ride on this. */
#ifndef FLAKECTL_REMOTE_H
#define FLAKECTL_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "flakectl/error.h"
#include "flakectl/knownhosts.h"
#include "flakectl/progress.h"

/* ---- targets: "user@host[:port]", "host", "[v6addr]:port" ---- */

typedef struct fl_remote_target {
    char *user; /* NULL = from ssh config, else the local user name */
    char *host; /* as written (an alias ssh config may rewrite), brackets removed */
    int port;   /* 0 = from ssh config, else 22 */
} fl_remote_target;

/* Parses spec into t (owned strings; release with fl_remote_target_release). */
int fl_remote_target_parse(const char *spec, fl_remote_target *t, fl_error *err);
void fl_remote_target_release(fl_remote_target *t);

/* ---- ~/.ssh/config (sshconfig.c) ---- */

/* What ssh config says for one host name; every field owned. */
typedef struct fl_ssh_host_config {
    char *hostname;        /* HostName (with %h expanded), NULL = none */
    char *user;            /* User */
    int port;              /* Port, 0 = none */
    char **identity_files; /* IdentityFile entries in order, ~ and %d/%u/%h/%r expanded */
    int nidentity_files;
    int identities_only;         /* IdentitiesOnly yes */
    int connect_timeout;         /* ConnectTimeout seconds, 0 = none */
    int server_alive_interval;   /* ServerAliveInterval seconds, 0 = none */
    char *user_known_hosts_file; /* first UserKnownHostsFile, ~ expanded */
    int hash_known_hosts;        /* HashKnownHosts yes */
} fl_ssh_host_config;

/* Reads path (NULL = $HOME/.ssh/config and then /etc/ssh/ssh_config, or
 * $FLAKECTL_SSH_SYSTEM_CONFIG, as ssh without -F; a missing file is an empty config) and
 * fills out with the values for host, first match winning per keyword as in OpenSSH. `Match`
 * blocks are not evaluated (treated as not matching). */
int fl_ssh_config_lookup(const char *path, const char *host, fl_ssh_host_config *out,
                         fl_error *err);
void fl_ssh_host_config_release(fl_ssh_host_config *c);
/* "~/x" -> "$HOME/x"; other paths copied. Owned result. */
char *fl_ssh_expand_home(const char *path);

/* ---- connections (ssh.c) ---- */

typedef struct fl_remote fl_remote;

typedef struct fl_remote_opts {
    const char *identity_file; /* -i KEY: tried first */
    const char *known_hosts;   /* NULL = UserKnownHostsFile from ssh config or ~/.ssh/known_hosts */
    const char *ssh_config;    /* NULL = ~/.ssh/config; "none" = do not read one */
    int accept_new_host_key;   /* trust an unknown host key on first use (never a changed one) */
    int connect_timeout_ms;    /* 0 = ConnectTimeout from config, else 10000 */
    int keepalive_s;           /* 0 = ServerAliveInterval from config, else 15; <0 = off */
    const char *label;         /* name for messages and output prefixes; NULL = host */
} fl_remote_opts;

/* Connects, checks the host key and authenticates (-i KEY, ssh-agent, ~/.ssh/id_ed25519,
 * ~/.ssh/id_rsa, IdentityFile entries). On failure *out is NULL and err says which of:
 * DNS failure, connection refused, unreachable/timeout, not an SSH server, host key unknown
 * or changed, authentication failed (with the keys tried). Free with fl_remote_close. */
int fl_remote_connect(const fl_remote_target *target, const fl_remote_opts *opts, fl_remote **out,
                      fl_error *err);
void fl_remote_close(fl_remote *r);
/* Keeps trying fl_remote_connect for up to within_ms (each try bounded by what is left),
 * while the failure is the network's or authentication's (FL_ENET): how a deployer reaches a
 * target again after activating it (magic rollback's confirmation). Host-key and usage
 * errors end it at once. */
int fl_remote_connect_retry(const fl_remote_target *target, const fl_remote_opts *opts,
                            int within_ms, fl_remote **out, fl_error *err);
/* The name used in messages: the label, else "user@host:port". Borrowed. */
const char *fl_remote_label(const fl_remote *r);
/* Renames the connection in messages and prefixes (one connection serving two roles). */
void fl_remote_set_label(fl_remote *r, const char *label);
/* What the connection resolved to (after ssh config). Borrowed. */
const char *fl_remote_user(const fl_remote *r);
const char *fl_remote_hostname(const fl_remote *r);
int fl_remote_port(const fl_remote *r);
/* "type SHA256:..." of the host key accept_new_host_key just added to known_hosts, else NULL
 * (the caller tells the user, as ssh's "Permanently added" warning does). Borrowed. */
const char *fl_remote_added_host_key(const fl_remote *r);
/* The known_hosts file this connection checked. Borrowed. */
const char *fl_remote_known_hosts(const fl_remote *r);

/* ---- running commands (exec.c) ---- */

/* A stdin source: fills buf with up to cap bytes; returns the count, 0 at end of input,
 * negative after filling err to abort the command. */
typedef ssize_t (*fl_remote_read_fn)(void *ctx, char *buf, size_t cap, fl_error *err);
/* An output sink: consumes len bytes; returns 0, or negative after filling err to abort. */
typedef int (*fl_remote_write_fn)(void *ctx, const char *data, size_t len, fl_error *err);

typedef struct fl_remote_io {
    int stdin_fd;               /* read to EOF and sent; -1 = none (see stdin_cb) */
    fl_remote_read_fn stdin_cb; /* used when stdin_fd < 0; NULL = empty stdin */
    void *stdin_ctx;
    fl_remote_write_fn stdout_cb; /* NULL = discard */
    void *stdout_ctx;
    fl_remote_write_fn stderr_cb; /* NULL = discard */
    void *stderr_ctx;
    /* Told the bytes of stdin sent and of output received so far, at most about 5 times a
     * second and once at the end (done=1). NULL = none. */
    void (*progress_cb)(void *ctx, unsigned long long sent, unsigned long long received, int done);
    void *progress_ctx;
} fl_remote_io;

#define FL_REMOTE_IO_INIT                                                                          \
    { -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL }

/* A progress line for a stream: "[label] sent 12.0 MiB, 40.1 MiB/s" redrawn in place on a
 * terminal; elsewhere only the final line. Use fl_remote_progress_show as progress_cb. */
typedef struct fl_remote_progress {
    int fd, tty;
    char *label; /* owned */
    double start;
} fl_remote_progress;

void fl_remote_progress_init(fl_remote_progress *p, int fd, const char *label);
void fl_remote_progress_show(void *ctx, unsigned long long sent, unsigned long long received,
                             int done);
void fl_remote_progress_release(fl_remote_progress *p);

typedef struct fl_remote_status {
    int exit_status;   /* the command's exit status; -1 when it died of a signal */
    char *exit_signal; /* owned: signal name without "SIG" ("KILL"), NULL when none */
} fl_remote_status;

/* Runs cmd (a shell command line, as ssh would) in a new channel on r, streaming stdin and
 * both outputs concurrently so no amount of data deadlocks. Returns 0 when the command ran
 * to its end (whatever its status; read st), negative when the connection or a callback
 * failed. Release st with fl_remote_status_release. */
int fl_remote_exec(fl_remote *r, const char *cmd, const fl_remote_io *io, fl_remote_status *st,
                   fl_error *err);
void fl_remote_status_release(fl_remote_status *st);
/* Runs cmd and succeeds only on exit status 0; otherwise err names the host, the command and
 * the status, and for status 127 says the program is not installed on the host. */
int fl_remote_run(fl_remote *r, const char *cmd, const fl_remote_io *io, fl_error *err);
/* Fills err with what a failed status means (signal, exit status; 127: not installed, with
 * the hint) and returns its negative code. */
int fl_remote_explain_status(fl_remote *r, const char *cmd, const fl_remote_status *st,
                             fl_error *err);
/* Checks that `flakectl` is on the target's PATH; else "flakectl is not installed on HOST"
 * with an install hint. */
int fl_remote_require_flakectl(fl_remote *r, fl_error *err);
/* ---- --sudo (exec.c, sudo.c) ---- */

/* From now on every command of a non-root login runs as root through `sudo -S`, and sudo's
 * password prompt (if it shows one) is answered with password (copied; NULL when sudo should
 * need none). The command's stdin is held back until sudo has started it, so the password
 * never reaches the command. A login as root runs commands directly. on=0 turns it off. */
void fl_remote_set_sudo(fl_remote *r, int on, const char *password);
/* The sudo password of one run, shared by every host and step of it (thread-safe): asked
 * the first time a host needs it, then reused. askpass: a program (NULL = $SUDO_ASKPASS,
 * else the terminal). Free with fl_remote_sudo_pass_free (wipes it). */
typedef struct fl_remote_sudo_pass fl_remote_sudo_pass;
fl_remote_sudo_pass *fl_remote_sudo_pass_new(const char *askpass);
void fl_remote_sudo_pass_free(fl_remote_sudo_pass *p);
/* What --sudo does: nothing for a root login; else `sudo -n true` on the target tells whether
 * a password is needed, and only then is it taken from pass (asked there once per run) and
 * tried, so a wrong one fails before any real step. */
int fl_remote_enable_sudo(fl_remote *r, fl_remote_sudo_pass *pass, fl_error *err);
/* The command line fl_remote_exec runs for cmd under --sudo. Owned. */
char *fl_remote_sudo_wrap(const char *cmd);
/* Asks once for the sudo password of user on host: from the askpass program if given (else
 * $SUDO_ASKPASS), whose first output line is the password; else from the terminal with echo
 * off. *out is owned (wipe and free it); err when neither is possible. */
int fl_remote_ask_sudo_password(const char *askpass, const char *user, const char *host, char **out,
                                fl_error *err);

/* ---- binary caches over SSH (cachepush.c) ---- */

/* Pushes the closure of paths to a binary cache directory on a host reached over SSH
 * (url "ssh://[USER@]HOST[:PORT]/DIR"), written with plain commands there (mkdir, cat, sync,
 * mv): the host needs no flakectl. Same order and crash safety as fl_cache_push. */
struct fl_store;
struct fl_cache_push_opts;
struct fl_cache_push_result;
int fl_remote_cache_push(const char *url, const fl_remote_opts *ro, struct fl_store *s,
                         char *const *paths, size_t npaths, const struct fl_cache_push_opts *opts,
                         struct fl_cache_push_result *res, fl_error *err);

/* Quotes s for a POSIX shell ('...'), appended to out. */
struct fl_strbuf;
void fl_remote_shell_quote(struct fl_strbuf *out, const char *s);

/* A sink that writes whole lines as "[label] line\n" to fd (a partial last line is completed
 * at flush). Use fl_remote_prefix_write as the write_fn and the struct as its ctx. */
typedef struct fl_remote_prefixer {
    int fd;
    char *label;   /* owned */
    char *pending; /* owned partial line */
    size_t npending;
} fl_remote_prefixer;

void fl_remote_prefixer_init(fl_remote_prefixer *p, int fd, const char *label);
int fl_remote_prefix_write(void *ctx, const char *data, size_t len, fl_error *err);
/* Writes out a partial last line and frees the buffers. */
void fl_remote_prefixer_finish(fl_remote_prefixer *p);

/* ---- fleets: one job per host, N at a time (fleet.c) ---- */

typedef struct fl_fleet_result {
    int state;    /* enum fl_fleet_state */
    char *detail; /* owned: a short word on the outcome, or the first line of the error */
    double seconds;
} fl_fleet_result;

enum fl_fleet_state { FL_FLEET_PENDING = 0, FL_FLEET_OK, FL_FLEET_FAILED, FL_FLEET_SKIPPED };

/* One host's job: fills res->detail (optional) and returns 0 on success, negative on
 * failure. Runs on a worker thread: it must touch only its own host's state. */
typedef int (*fl_fleet_fn)(void *ctx, int index, fl_fleet_result *res);

typedef struct fl_fleet_opts {
    int jobs;      /* hosts at once; <1 = 1 */
    int fail_fast; /* after a failure start no more hosts (they are SKIPPED) */
} fl_fleet_opts;

/* Runs fn for hosts 0..n-1, at most opts->jobs at a time; one host's failure does not stop
 * the others unless fail_fast. results[n] is filled (release each with
 * fl_fleet_result_release). Returns the number of hosts that did not succeed. */
int fl_fleet_run(int n, fl_fleet_fn fn, void *ctx, const fl_fleet_opts *opts,
                 fl_fleet_result *results);
void fl_fleet_result_release(fl_fleet_result *r);
/* What a deployment adds to a host's row: its target, generation and whether it was rolled
 * back. */
typedef struct fl_fleet_target {
    const char *target;
    int generation; /* 0 = unknown */
    int rolled_back;
} fl_fleet_target;
/* The table printed at the end: host, [target,] result, [gen,] time, detail; targets NULL
 * leaves out the deployment's columns (that is fl_fleet_print_summary). */
void fl_fleet_print_table(FILE *out, const char *const *names, const fl_fleet_result *results,
                          const fl_fleet_target *targets, int n);
void fl_fleet_print_summary(FILE *out, const char *const *names, const fl_fleet_result *results,
                            int n);

/* ---- deployments: copy a closure, activate, confirm (copy.c, deploy.c) ---- */

struct fl_store;

typedef struct fl_deploy_copy_stats {
    size_t paths_total;                   /* the closure */
    size_t paths_missing;                 /* what the target lacked */
    size_t paths_sent;                    /* imported and registered on the target */
    unsigned long long bytes_sent;        /* export-stream bytes written to the target */
    size_t paths_substituted;             /* fetched by the target from the caches itself */
    unsigned long long bytes_substituted; /* their NAR bytes */
    double seconds;
} fl_deploy_copy_stats;

/* Binary caches the target may fetch from itself before the copy: URLs and trusted public
 * keys ("name:base64"), each entry possibly several, separated by white space. */
typedef struct fl_deploy_caches {
    char *const *urls;
    size_t nurls;
    char *const *keys;
    size_t nkeys;
} fl_deploy_caches;

/* Copies the closure of toplevel (valid in s) to the target over r: asks it which paths it
 * has (`flakectl store query-valid`), then streams the missing ones, references first, in
 * batches of about batch_bytes (0 = 16 MiB), each batch one `flakectl store import` that
 * registers it only once all of it arrived and verified. A copy cut off keeps the finished
 * batches and the next run sends only what is still missing. The target's messages go to
 * err_fd prefixed with the connection's label; progress (NULL = none) gets the copy's task
 * ("copying to LABEL": paths and NAR bytes), the bytes as they go, and a NOTE with the
 * closing line ("[LABEL] copied N paths …" or "[LABEL] nothing to copy …"). pending (NULL = none): the
 * target roots the whole closure under that pending root from the first question on, and
 * keeps it until the activation given the same id ends (docs/security.md). */
int fl_deploy_copy(fl_remote *r, struct fl_store *s, const char *toplevel, const char *pending,
                   unsigned long long batch_bytes, int err_fd, const fl_progress *progress,
                   fl_deploy_copy_stats *st, fl_error *err);

/* fl_deploy_copy where the target first fetches what it lacks from caches itself
 * (`flakectl deploy-agent substitute`, signatures checked there with caches->keys) and only
 * what no cache has is streamed over SSH. A target that cannot reach a cache, or fails to
 * substitute, gets everything over SSH (with a note on err_fd). caches NULL or empty =
 * fl_deploy_copy. */
int fl_deploy_copy_via_caches(fl_remote *r, struct fl_store *s, const char *toplevel,
                              const char *pending, const fl_deploy_caches *caches, int err_fd,
                              const fl_progress *progress, fl_deploy_copy_stats *st,
                              fl_error *err);

/* The same for the closure of several roots (e.g. the inputs a build host needs), the
 * receiving host fetching from caches first (NULL or empty: none). */
int fl_deploy_copy_paths(fl_remote *r, struct fl_store *s, char *const *roots, size_t nroots,
                         const fl_deploy_caches *caches, unsigned long long batch_bytes,
                         int err_fd, const fl_progress *progress, fl_deploy_copy_stats *st,
                         fl_error *err);
/* Copies closure[n] (references first; sizes = their NAR sizes) from the host `from` to r
 * without touching the local store: r first fetches what it lacks from caches itself (NULL
 * or empty: none), then each batch of the rest is `flakectl store export` on `from`,
 * relayed through this process into `flakectl store import` on r. from may be r itself
 * only when r has every path already. */
int fl_deploy_relay(fl_remote *r, fl_remote *from, char **closure, const uint64_t *sizes, size_t n,
                    const char *pending, const fl_deploy_caches *caches,
                    unsigned long long batch_bytes, int err_fd, const fl_progress *progress,
                    fl_deploy_copy_stats *st, fl_error *err);

typedef struct fl_deploy_opts {
    fl_remote_opts ssh;
    const char *mode;       /* "switch", "test", "boot", "dry-activate" */
    const char *backup_ext; /* NULL = none */
    int magic_rollback;     /* switch/test: watchdog on the target, confirm over a new
                               connection */
    int confirm_timeout_s;  /* default 30 */
    int sudo;               /* a non-root login: every step through sudo */
    fl_remote_sudo_pass *sudo_pass;
    int out_fd, err_fd;      /* where the prefixed output goes (1, 2) */
    const fl_progress *progress; /* the copies (progress.h); NULL = none */
    fl_deploy_caches caches; /* the target substitutes from these first (none: all by SSH) */
} fl_deploy_opts;

typedef struct fl_deploy_result {
    fl_deploy_copy_stats copy;
    fl_deploy_copy_stats build_inputs; /* --build-host: what was shipped there */
    size_t built;                      /* --build-host: outputs it built */
    int generation;  /* the target's default generation afterwards (0 = unknown) */
    int rolled_back; /* magic rollback undid (or will undo) the deployment */
    int unchanged;   /* the target already ran this toplevel */
    int confirmed;   /* magic rollback: confirmed over a new connection */
    int connect_failed;
} fl_deploy_result;

/* Deploys the built toplevel (valid in s) to target: one connection for the checks, the
 * copy and `flakectl deploy-agent activate`, whose output streams back prefixed with
 * label; with magic rollback a second, new connection confirms. 0 when the target runs the
 * toplevel and (if asked) confirmed it; else err says which step failed. */
int fl_deploy_host(struct fl_store *s, const char *target, const char *label, const char *toplevel,
                   const fl_deploy_opts *o, fl_deploy_result *res, fl_error *err);
/* --build-host: where and what to build instead of using a local build. */
typedef struct fl_deploy_build {
    const char *host; /* U@H[:P] of the build host */
    const char *plan; /* the serialized build plan (fl_build_plan_serialize) */
    size_t plan_len;
    char *const *inputs; /* local store paths the plan needs there (with their closure) */
    size_t ninputs;
} fl_deploy_build;

/* fl_deploy_host with a build host (build may be NULL): the plan's inputs go there, it
 * builds the toplevel, which must come out as `toplevel`, and its closure is relayed
 * from there to the target through this process (the local store never receives it).
 * A build host equal to the target (same string) uses one connection for both. */
typedef struct fl_deploy_pending fl_deploy_pending;
/* Starts connecting to target (with --sudo's check) on a thread, so that the SSH handshake
 * overlaps the local evaluation. NULL when no thread could start. Hand it to
 * fl_deploy_host_via, or drop it with fl_deploy_connect_abandon. */
fl_deploy_pending *fl_deploy_connect_start(const char *target, const char *label,
                                           const fl_deploy_opts *o);
void fl_deploy_connect_abandon(fl_deploy_pending *p);
/* pre: a connection to target started with fl_deploy_connect_start (consumed), or NULL. */
int fl_deploy_host_via(struct fl_store *s, const char *target, const char *label,
                       const char *toplevel, const fl_deploy_build *build, fl_deploy_pending *pre,
                       const fl_deploy_opts *o, fl_deploy_result *res, fl_error *err);
/* Runs a flakectl command line (e.g. "rollback --to 3") on the target, output streamed back
 * prefixed with label; *status is its exit status. */
int fl_deploy_remote_command(const char *target, const char *label, const char *args,
                             const fl_deploy_opts *o, int *status, fl_error *err);

/* Asks target for the record it keeps of its state (`flakectl deploy-agent state`: the
 * activate/ record with the live generation), for `flakectl status`. *record owned. */
struct json_t;
int fl_deploy_host_state(const char *target, const char *label, const fl_deploy_opts *o,
                         struct json_t **record, fl_error *err);

/* ---- one command on one or many targets (execfleet.c, `remote-exec`) ---- */

typedef struct fl_remote_exec_job {
    fl_remote_opts opts;
    fl_remote_sudo_pass *sudo_pass; /* --sudo's password, NULL = none */
    const char *const *targets;
    int ntargets;
    int prefix, no_stdin, repeat, require, sudo, retry_ms, progress;
    const char *cmd; /* one shell command line */
    int *status;     /* per host, ssh's convention (255: the connection failed); internal */
    FILE *err;       /* errors, notes and the summary table */
} fl_remote_exec_job;

/* Runs job->cmd on every target, fopts->jobs at a time; one target's output streams as is,
 * several targets' prefixed, with the summary table after. Returns the process's exit
 * status: the command's (or 255) for one target, 0 or 1 for several. */
int fl_remote_exec_hosts(fl_remote_exec_job *job, const fl_fleet_opts *fopts);

/* ---- a deployment of one host or a fleet (rollout.c) ---- */

typedef struct fl_rollout_host {
    char *name;     /* owned */
    char *target;   /* owned: U@H[:P] */
    char *toplevel; /* owned, set by the build function */
    /* --build-host: the serialized plan and the local paths it needs (set by build) */
    char *plan;
    size_t plan_len, plan_steps;
    char **inputs;
    size_t ninputs;
    /* the binary caches and keys the build used (flags and the host's store.* options), set
     * by the build function; the target substitutes from them */
    char **substituters, **trusted_keys;
    size_t nsubstituters, ntrusted_keys;
    int built;
    fl_deploy_result res;
    /* set by fl_rollout for the build function: in a fleet, where the host's build reports
     * (into the fleet's line); NULL for one host, whose build reports on its own */
    const fl_progress *progress;
} fl_rollout_host;

/* Builds h here (sets h->toplevel), or with a build host records its plan; <0 with err. */
typedef int (*fl_rollout_build_fn)(void *ctx, fl_rollout_host *h, fl_error *err);

typedef struct fl_rollout_opts {
    fl_deploy_opts d;       /* each host's deployment (sudo_pass is made here) */
    const char *askpass;    /* --sudo's password program, NULL = terminal/$SUDO_ASKPASS */
    const char *build_host; /* U@H[:P], NULL = build here */
    fl_fleet_opts fleet;
    int rollback_succeeded; /* a host failed: roll back those that succeeded */
    int quiet;
    const char *state_dir; /* the local store's */
    fl_rollout_build_fn build;
    void *build_ctx;
    FILE *out, *err; /* progress lines; errors and the fleet's table */
    /* One host: its copy reports here (d.progress). A fleet: BEGIN "deploying" (n hosts),
     * a STAGE per host event ("built", "copied", "activated", "failed"), the hosts' build
     * and copy counts (no per-host BEGIN/END) and their NOTEs. NULL = none. */
    const fl_progress *progress;
} fl_rollout_opts;

/* Builds and deploys every host, o->fleet.jobs hosts at a time, each deployed as soon as its
 * own build is done (at most one build per core at once), and for more than one host prints
 * the summary table to o->err. Every host's error is printed
 * to o->err as it happens. 0 when every host succeeded, else FL_EGENERIC. */
int fl_rollout(const fl_rollout_opts *o, fl_rollout_host *hosts, size_t n);
void fl_rollout_host_release(fl_rollout_host *h);

#endif
