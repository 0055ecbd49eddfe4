/* execfleet.c - `flakectl remote-exec`'s work: run one command on one target or on many
 * (fleet.c), through the SSH layer deployments use, with ssh's exit-status convention, the
 * output streamed (prefixed with the host for several), and the summary table. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Errors of parallel hosts are printed whole, one at a time. */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static void report(const fl_remote_exec_job *job, fl_error *err, fl_fleet_result *res) {
    if (res && err->message) {
        const char *nl = strchr(err->message, '\n');
        res->detail =
            nl ? fl_xstrndup(err->message, (size_t)(nl - err->message)) : fl_xstrdup(err->message);
    }
    pthread_mutex_lock(&report_lock);
    fl_error_print(err, job->err);
    fflush(job->err);
    fl_error_clear(err);
    pthread_mutex_unlock(&report_lock);
}

/* Everything remote-exec does for one host; returns 0 when its command exited 0. */
static int exec_one(void *ctx, int index, fl_fleet_result *res) {
    fl_remote_exec_job *job = ctx;
    fl_error err = FL_ERROR_INIT;
    fl_remote_opts opts = job->opts;
    int fleet = job->ntargets > 1;
    if (fleet && !opts.label)
        opts.label = job->targets[index];
    int *status = &job->status[index];
    fl_remote_target target;
    if (fl_remote_target_parse(job->targets[index], &target, &err) < 0) {
        *status = 2; /* a malformed target is a usage error */
        report(job, &err, res);
        return -1;
    }
    fl_remote *r = NULL;
    int rc = job->retry_ms ? fl_remote_connect_retry(&target, &opts, job->retry_ms, &r, &err)
                           : fl_remote_connect(&target, &opts, &r, &err);
    fl_remote_target_release(&target);
    if (rc < 0) {
        *status = EXIT_CONNECTION;
        report(job, &err, res);
        return -1;
    }
    if (fl_remote_added_host_key(r)) {
        pthread_mutex_lock(&report_lock);
        fprintf(job->err, "note: permanently added the host key of %s (%s) to %s\n",
                fl_remote_label(r), fl_remote_added_host_key(r), fl_remote_known_hosts(r));
        pthread_mutex_unlock(&report_lock);
    }
    *status = 0;
    int repeat = job->repeat;
    if (job->sudo && fl_remote_enable_sudo(r, job->sudo_pass, &err) < 0) {
        report(job, &err, res);
        *status = EXIT_CONNECTION;
        repeat = 0;
    } else if (job->require && fl_remote_require_flakectl(r, &err) < 0) {
        report(job, &err, res);
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
            report(job, &err, res);
            *status = EXIT_CONNECTION;
            break;
        }
        if (st.exit_signal) {
            fl_remote_explain_status(r, job->cmd, &st, &err);
            report(job, &err, res);
            int s = signal_number(st.exit_signal);
            *status = s ? 128 + s : EXIT_CONNECTION - 1;
        } else {
            *status = st.exit_status;
            if (*status == 127) {
                /* the remote shell already said "not found"; add what to do about it */
                fl_remote_explain_status(r, job->cmd, &st, &err);
                report(job, &err, res);
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

int fl_remote_exec_hosts(fl_remote_exec_job *job, const fl_fleet_opts *fopts) {
    job->status = fl_xcalloc((size_t)job->ntargets, sizeof(int));
    int rc;
    if (job->ntargets == 1) {
        exec_one(job, 0, NULL);
        rc = job->status[0];
    } else {
        fl_fleet_result *results = fl_xcalloc((size_t)job->ntargets, sizeof *results);
        int failed = fl_fleet_run(job->ntargets, exec_one, job, fopts, results);
        fflush(stdout);
        fl_fleet_print_summary(job->err, job->targets, results, job->ntargets);
        for (int k = 0; k < job->ntargets; k++)
            fl_fleet_result_release(&results[k]);
        free(results);
        rc = failed ? 1 : 0;
    }
    free(job->status);
    job->status = NULL;
    return rc;
}
