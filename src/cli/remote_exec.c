/* remote_exec.c - `flakectl remote-exec`: a diagnostic that runs a command on a target
 * through flakectl's own SSH layer (the one deployments use), so connection, host-key and
 * authentication problems can be seen in isolation and the layer tested end to end. Parses;
 * the work is src/remote/execfleet.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"
#include "remote_args.h"
#include "flakectl/cli.h"
#include "flakectl/remote.h"
#include "flakectl/strbuf.h"

typedef struct rexec_opts {
    fl_opt_list targets, command;
    fl_cli_ssh_args ssh;
    const char *label;
    int prefix, no_stdin, repeat, require, progress, retry_for, jobs, fail_fast;
} rexec_opts;

static const fl_opt_spec rexec_spec[] = {
    FL_OPT_LIST_("target-host", 0, "U@H[:P]", "the target (an ~/.ssh/config Host alias works)",
                 rexec_opts, targets, .complete = FL_OPT_V_SSH_HOST, .flags = 0),
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
                 rexec_opts, command, .complete = FL_OPT_V_COMMAND, .flags = 0),
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
    fl_remote_exec_job job;
    memset(&job, 0, sizeof job);
    job.err = stderr;
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
    int rc = fl_remote_exec_hosts(&job, &fopts);
    fl_remote_sudo_pass_free(job.sudo_pass);
    fl_opt_release(&fl_cmd_remote_exec, &ro);
    fl_strbuf_release(&cmd);
    return rc;
}
