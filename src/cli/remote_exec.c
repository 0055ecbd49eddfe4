/* remote_exec.c - `flakectl remote-exec`: a diagnostic that runs a command on a target
 * through flakectl's own SSH layer (the one deployments use), so connection, host-key and
 * authentication problems can be seen in isolation and the layer tested end to end. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opt.h"
#include "remote_args.h"
#include "flakectl/cli.h"
#include "flakectl/remote.h"
#include "flakectl/strbuf.h"

/* ssh's convention: 255 means the connection itself failed, any other code is the remote
 * command's. */
#define EXIT_CONNECTION 255

static int write_fd(void *ctx, const char *data, size_t len, fl_error *err) {
    int fd = *(int *)ctx;
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0)
            return fl_error_errno(err, "cannot write output");
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

static int signal_number(const char *name) {
    static const struct {
        const char *n;
        int s;
    } sigs[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},
                {"ABRT", SIGABRT}, {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"SEGV", SIGSEGV},
                {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"USR1", SIGUSR1},
                {"USR2", SIGUSR2}};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (!strcmp(sigs[i].n, name))
            return sigs[i].s;
    return 0;
}

typedef struct exec_job {
    fl_remote_opts opts;
    fl_remote_sudo_pass *sudo_pass;
    const char **targets;
    int ntargets;
    int prefix, no_stdin, repeat, require, sudo, retry_ms, progress;
    const char *cmd;
    int *status; /* per host: what remote-exec exits with for it */
} exec_job;

/* Errors of parallel hosts are printed whole, one at a time. */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static void report(fl_error *err, fl_fleet_result *res) {
    if (res && err->message) {
        const char *nl = strchr(err->message, '\n');
        res->detail =
            nl ? fl_xstrndup(err->message, (size_t)(nl - err->message)) : fl_xstrdup(err->message);
    }
    pthread_mutex_lock(&report_lock);
    fl_cli_report(err);
    pthread_mutex_unlock(&report_lock);
}

/* Everything remote-exec does for one host; returns 0 when its command exited 0. */
static int exec_one(void *ctx, int index, fl_fleet_result *res) {
    exec_job *job = ctx;
    fl_error err = FL_ERROR_INIT;
    fl_remote_opts opts = job->opts;
    int fleet = job->ntargets > 1;
    if (fleet && !opts.label)
        opts.label = job->targets[index];
    int *status = &job->status[index];
    fl_remote_target target;
    if (fl_remote_target_parse(job->targets[index], &target, &err) < 0) {
        *status = FL_EXIT_USAGE;
        report(&err, res);
        return -1;
    }
    fl_remote *r = NULL;
    int rc = job->retry_ms ? fl_remote_connect_retry(&target, &opts, job->retry_ms, &r, &err)
                           : fl_remote_connect(&target, &opts, &r, &err);
    fl_remote_target_release(&target);
    if (rc < 0) {
        *status = EXIT_CONNECTION;
        report(&err, res);
        return -1;
    }
    if (fl_remote_added_host_key(r)) {
        pthread_mutex_lock(&report_lock);
        fprintf(stderr, "note: permanently added the host key of %s (%s) to %s\n",
                fl_remote_label(r), fl_remote_added_host_key(r), fl_remote_known_hosts(r));
        pthread_mutex_unlock(&report_lock);
    }
    *status = 0;
    int repeat = job->repeat;
    if (job->sudo && fl_remote_enable_sudo(r, job->sudo_pass, &err) < 0) {
        report(&err, res);
        *status = EXIT_CONNECTION;
        repeat = 0;
    } else if (job->require && fl_remote_require_flakectl(r, &err) < 0) {
        report(&err, res);
        *status = 127;
        repeat = 0;
    }
    int out_fd = 1, err_fd = 2;
    for (int n = 0; n < repeat; n++) {
        fl_remote_prefixer pout, perr;
        fl_remote_io io = FL_REMOTE_IO_INIT;
        io.stdin_fd = job->no_stdin || fleet || n > 0 ? -1 : 0;
        if (job->prefix || fleet) {
            fl_remote_prefixer_init(&pout, 1, fl_remote_label(r));
            fl_remote_prefixer_init(&perr, 2, fl_remote_label(r));
            io.stdout_cb = fl_remote_prefix_write;
            io.stdout_ctx = &pout;
            io.stderr_cb = fl_remote_prefix_write;
            io.stderr_ctx = &perr;
        } else {
            io.stdout_cb = write_fd;
            io.stdout_ctx = &out_fd;
            io.stderr_cb = write_fd;
            io.stderr_ctx = &err_fd;
        }
        fl_remote_progress prog;
        if (job->progress) {
            fl_remote_progress_init(&prog, 2, fl_remote_label(r));
            io.progress_cb = fl_remote_progress_show;
            io.progress_ctx = &prog;
        }
        fl_remote_status st;
        rc = fl_remote_exec(r, job->cmd, &io, &st, &err);
        if (job->progress)
            fl_remote_progress_release(&prog);
        if (job->prefix || fleet) {
            fl_remote_prefixer_finish(&pout);
            fl_remote_prefixer_finish(&perr);
        }
        if (rc < 0) {
            report(&err, res);
            *status = EXIT_CONNECTION;
            break;
        }
        if (st.exit_signal) {
            fl_remote_explain_status(r, job->cmd, &st, &err);
            report(&err, res);
            int s = signal_number(st.exit_signal);
            *status = s ? 128 + s : EXIT_CONNECTION - 1;
        } else {
            *status = st.exit_status;
            if (*status == 127) {
                /* the remote shell already said "not found"; add what to do about it */
                fl_remote_explain_status(r, job->cmd, &st, &err);
                report(&err, res);
            } else if (*status != 0 && res) {
                res->detail = fl_xasprintf("exit status %d", *status);
            }
        }
        fl_remote_status_release(&st);
        if (*status != 0)
            break;
    }
    if (*status == 0 && res)
        res->detail = fl_xasprintf("exit status 0");
    fl_remote_close(r);
    return *status == 0 ? 0 : -1;
}

typedef struct rexec_opts {
    fl_opt_list targets, command;
    fl_cli_ssh_args ssh;
    const char *label;
    int prefix, no_stdin, repeat, require, progress, retry_for, jobs, fail_fast;
} rexec_opts;

static const fl_opt_spec rexec_spec[] = {
    FL_OPT_LIST_("target-host", 0, "U@H[:P]", "the target (an ~/.ssh/config Host alias works)",
                 rexec_opts, targets, .flags = 0),
    FL_OPT_GROUP_(fl_cli_ssh_spec, rexec_opts, ssh),
    FL_OPT_INT_("retry-for", 0, "S", "keep trying to connect for S seconds (refused, timeouts,\n"
                                     "authentication), as magic rollback's confirmation does",
                rexec_opts, retry_for, 1, 1000000, .flags = 0),
    FL_OPT_FLAG_("prefix", 0, "prefix every output line with [LABEL]", rexec_opts, prefix,
                 .flags = 0),
    FL_OPT_STR_("label", 0, "NAME", "the name for messages and prefixes (default USER@HOST)",
                rexec_opts, label, .flags = 0),
    FL_OPT_FLAG_(NULL, 'n', "do not send standard input", rexec_opts, no_stdin, .flags = 0),
    FL_OPT_INT_("repeat", 0, "N", "run COMMAND N times over the one connection", rexec_opts,
                repeat, 1, 1000000, .flags = 0),
    FL_OPT_FLAG_("require-flakectl", 0, "first check that flakectl is installed on the target",
                 rexec_opts, require, .flags = 0),
    FL_OPT_FLAG_("progress", 0, "show the bytes sent (and rate) on stderr", rexec_opts, progress,
                 .flags = 0),
    FL_OPT_INT_(NULL, 'j', "N", "hosts at once, with several --target-host (default 1)",
                rexec_opts, jobs, 1, 1000000, .flags = 0),
    FL_OPT_FLAG_("fail-fast", 0, "start no more hosts after a failure", rexec_opts, fail_fast,
                 .flags = 0),
    FL_OPT_REST_("COMMAND", "the command and its arguments (the remote shell splits them)",
                 rexec_opts, command, .flags = 0),
    FL_OPT_END_,
};

static int cmd_remote_exec(int argc, char **argv);

const fl_opt_cmd fl_cmd_remote_exec = {
    "remote-exec",
    "diagnostic: run a command on a target over flakectl's SSH layer",
    "--target-host USER@HOST[:PORT] [options] -- COMMAND...",
    "Runs COMMAND on the target over flakectl's SSH connection (a diagnostic: it is how\n"
    "deployments connect) and exits with its exit status; 255 when the connection fails.\n"
    "\n"
    "Several --target-host options run COMMAND on every host, -j N at a time (default 1),\n"
    "each output line prefixed with its host, a summary table at the end; exit 1 if any\n"
    "host failed. --fail-fast starts no more hosts after a failure. No stdin is sent.\n",
    rexec_spec,
    NULL,
    cmd_remote_exec,
};

static int cmd_remote_exec(int argc, char **argv) {
    exec_job job;
    memset(&job, 0, sizeof job);
    rexec_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.repeat = 1;
    ro.jobs = 1;
    int prc = fl_opt_parse(&fl_cmd_remote_exec, &ro, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    fl_cli_ssh_apply(&ro.ssh, &job.opts);
    job.opts.label = ro.label;
    job.targets = ro.targets.v;
    job.ntargets = (int)ro.targets.n;
    job.prefix = ro.prefix;
    job.no_stdin = ro.no_stdin;
    job.repeat = ro.repeat;
    job.require = ro.require;
    job.progress = ro.progress;
    job.sudo = ro.ssh.sudo;
    job.retry_ms = ro.retry_for * 1000;
    fl_fleet_opts fopts = {ro.jobs, ro.fail_fast};
    const char *askpass = ro.ssh.askpass;
    if (!job.ntargets || !ro.command.n) {
        fl_error err = FL_ERROR_INIT;
        fl_error_set(&err, FL_EUSAGE, "%s",
                     !job.ntargets ? "remote-exec needs --target-host USER@HOST[:PORT]"
                                   : "remote-exec needs a command to run");
        fl_error_set_hint(&err, "flakectl remote-exec --target-host root@node1 -- uname -a");
        fl_opt_release(&fl_cmd_remote_exec, &ro);
        return fl_cli_report(&err);
    }
    int i = 0;
    argc = (int)ro.command.n;
    argv = (char **)ro.command.v;
    fl_strbuf cmd;
    fl_strbuf_init(&cmd, 64);
    /* like ssh: the words are joined by spaces and the remote shell splits them again */
    for (int k = i; k < argc; k++) {
        if (k > i)
            fl_strbuf_addch(&cmd, ' ');
        fl_strbuf_adds(&cmd, argv[k]);
    }
    job.cmd = cmd.buf;
    job.sudo_pass = job.sudo ? fl_remote_sudo_pass_new(askpass) : NULL;
    job.status = fl_xcalloc((size_t)job.ntargets, sizeof(int));
    int rc;
    if (job.ntargets == 1) {
        exec_one(&job, 0, NULL);
        rc = job.status[0];
    } else {
        fl_fleet_result *results = fl_xcalloc((size_t)job.ntargets, sizeof *results);
        int failed = fl_fleet_run(job.ntargets, exec_one, &job, &fopts, results);
        fflush(stdout);
        fl_fleet_print_summary(stderr, job.targets, results, job.ntargets);
        for (int k = 0; k < job.ntargets; k++)
            fl_fleet_result_release(&results[k]);
        free(results);
        rc = failed ? FL_EXIT_FAILURE : FL_EXIT_OK;
    }
    fl_remote_sudo_pass_free(job.sudo_pass);
    free(job.status);
    fl_opt_release(&fl_cmd_remote_exec, &ro);
    fl_strbuf_release(&cmd);
    return rc;
}
