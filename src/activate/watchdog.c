/* watchdog.c - magic rollback on the target: a detached watchdog process that puts the
 * previous generation back unless the deployer confirms in time, and the confirmation that
 * races it (one rename decides). State lives in <state>/deploy/<token>.{armed,confirmed,
 * expired,rolledback,log}. Never talks to the network. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "flakectl/activate.h"
#include "flakectl/clock.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

int fl_act_watch_token_valid(const char *t) {
    size_t n = strlen(t);
    if (n < 8 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
            return 0;
    return 1;
}

static char *token_file(const char *state, const char *token, const char *suffix) {
    return fl_xasprintf("%s/deploy/%s.%s", state, token, suffix);
}

static int file_exists(const char *p) {
    struct stat st;
    return lstat(p, &st) == 0;
}

static void stamp(FILE *log, const char *fmt, const char *arg) {
    time_t t = time(NULL);
    struct tm tm;
    char when[32];
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(log, "%s UTC  ", when);
    fprintf(log, fmt, arg);
    fputc('\n', log);
    fflush(log);
}

/* Puts back what was active before the deployment. */
static int restore_previous(const fl_act_watch *w, FILE *log, fl_error *err) {
    int rc = 0;
    if (!w->mode_test && w->prev_default > 0) {
        fl_act_options o = {FL_ACT_SWITCH, w->root,          w->state, NULL, w->prev_default,
                            log,           "magic rollback", NULL,     NULL, NULL};
        rc = fl_activate(&o, w->prev_dflt_top, err);
        if (rc == 0 && w->prev_current && strcmp(w->prev_current, w->prev_dflt_top) != 0) {
            fl_act_options t = {FL_ACT_TEST, w->root,          w->state, NULL, 0,
                                log,         "magic rollback", NULL,     NULL, NULL};
            rc = fl_activate(&t, w->prev_current, err);
        }
    } else if (w->prev_current) {
        fl_act_options t = {FL_ACT_TEST, w->root,          w->state, NULL, 0,
                            log,         "magic rollback", NULL,     NULL, NULL};
        rc = fl_activate(&t, w->prev_current, err);
    }
    return rc;
}

/* The watchdog's life: learn from the pipe how the activation went, then wait for the
 * confirmation, and roll back when it does not come. Never returns. */
static void watchdog_main(const fl_act_watch *w, int pipe_rd) {
    char *armed = token_file(w->state, w->token, "armed");
    char *confirmed = token_file(w->state, w->token, "confirmed");
    char *expired = token_file(w->state, w->token, "expired");
    char *done = token_file(w->state, w->token, "rolledback");
    char *logp = token_file(w->state, w->token, "log");
    FILE *log = fopen(logp, "a");
    if (!log)
        log = fopen("/dev/null", "w");
    if (!log)
        _exit(1);
    stamp(log, "watchdog started for deployment %s", w->token);
    char what = 0;
    ssize_t n;
    do
        n = read(pipe_rd, &what, 1);
    while (n < 0 && errno == EINTR);
    close(pipe_rd);
    if (n == 1 && what != 'C') {
        /* failed (activation restored the previous generation itself) or nothing changed */
        stamp(log, "%s: nothing to watch", what == 'F' ? "activation failed" : "no change");
        unlink(armed);
        _exit(0);
    }
    int confirmed_in_time = 0;
    if (n == 1) {
        char secs[32];
        snprintf(secs, sizeof secs, "%d", w->timeout_s);
        stamp(log, "activation done; waiting for the confirmation (%s s)", secs);
        double deadline = fl_now_s() + w->timeout_s;
        while (fl_now_s() < deadline) {
            if (file_exists(confirmed)) {
                confirmed_in_time = 1;
                break;
            }
            usleep(100 * 1000);
        }
    } else {
        stamp(log, "%s", "the activation process ended without a result: rolling back now");
    }
    fl_error err = FL_ERROR_INIT;
    /* One rename decides between a late confirmation and the rollback: whoever moves the
     * armed file first wins. */
    if (!confirmed_in_time && fl_atomic_rename(armed, expired, &err) == 0) {
        stamp(log, "%s", "no confirmation in time: re-activating the previous generation");
        int rc = restore_previous(w, log, &err);
        char *text = rc == 0 ? fl_xasprintf("rolled back to generation %d\n", w->prev_default)
                             : fl_xasprintf("rollback FAILED: %s\n", err.message);
        stamp(log, "%s", text);
        fl_error e2 = FL_ERROR_INIT;
        fl_atomic_write_file(done, text, strlen(text), 0644, &e2);
        fl_error_clear(&e2);
    } else {
        stamp(log, "%s", "confirmed: keeping the new generation");
    }
    fl_error_clear(&err);
    fclose(log);
    _exit(0);
}

/* Starts the watchdog as a grandchild in its own session (it outlives the SSH session that
 * started it) and returns the write end of the pipe it listens on. */
static int start_watchdog(const fl_act_watch *w, fl_error *err) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return fl_error_errno(err, "cannot make a pipe for the watchdog");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return fl_error_errno(err, "cannot start the magic-rollback watchdog");
    }
    if (pid == 0) {
        close(p[1]);
        setsid();
        signal(SIGHUP, SIG_IGN);
        if (fork() != 0)
            _exit(0);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
            if (devnull > 2)
                close(devnull);
        }
        watchdog_main(w, p[0]);
    }
    close(p[0]);
    waitpid(pid, NULL, 0);
    return p[1];
}

void fl_act_watch_init(fl_act_watch *w, const char *root, const char *state, const char *token,
                       int timeout_s, fl_act_mode mode) {
    memset(w, 0, sizeof *w);
    w->root = root;
    w->state = state;
    w->token = token;
    w->timeout_s = timeout_s;
    w->mode_test = mode == FL_ACT_TEST;
    w->prev_default = fl_gen_default(state);
    w->prev_current = fl_gen_current(root);
    w->prev_dflt_top = w->prev_default > 0 ? fl_gen_toplevel(state, w->prev_default) : NULL;
    w->pipe_wr = -1;
}

int fl_act_watch_has_previous(const fl_act_watch *w) {
    return w->prev_current || (w->prev_default > 0 && w->prev_dflt_top);
}

int fl_act_watch_arm(fl_act_watch *w, fl_error *err) {
    char *dir = fl_path_join(w->state, "deploy");
    char *armed = token_file(w->state, w->token, "armed");
    int rc = fl_mkdir_p(dir, 0755, err);
    if (rc == 0)
        rc = fl_atomic_write_file(armed, "armed\n", 6, 0644, err);
    if (rc == 0) {
        w->pipe_wr = start_watchdog(w, err);
        rc = w->pipe_wr < 0 ? w->pipe_wr : 0;
    }
    free(dir);
    free(armed);
    return rc;
}

int fl_act_watch_changed(const fl_act_watch *w) {
    char *cur = fl_gen_current(w->root);
    int dflt = fl_gen_default(w->state);
    int changed =
        dflt != w->prev_default || !cur || !w->prev_current || strcmp(cur, w->prev_current) != 0;
    free(cur);
    return changed;
}

void fl_act_watch_finish(fl_act_watch *w, fl_act_watch_outcome outcome) {
    if (w->pipe_wr >= 0) {
        char what = outcome == FL_ACT_WATCH_FAILED    ? 'F'
                    : outcome == FL_ACT_WATCH_CHANGED ? 'C'
                                                      : 'N';
        ssize_t wr = write(w->pipe_wr, &what, 1);
        (void)wr;
        close(w->pipe_wr);
        w->pipe_wr = -1;
    }
}

void fl_act_watch_release(fl_act_watch *w) {
    fl_act_watch_finish(w, FL_ACT_WATCH_FAILED);
    free(w->prev_current);
    free(w->prev_dflt_top);
    w->prev_current = w->prev_dflt_top = NULL;
}

int fl_act_watch_confirm(const char *state, const char *token, char **late, fl_error *err) {
    char *armed = token_file(state, token, "armed");
    char *confirmed = token_file(state, token, "confirmed");
    char *done = token_file(state, token, "rolledback");
    char *expired = token_file(state, token, "expired");
    int rc = 0;
    *late = NULL;
    if (fl_atomic_rename(armed, confirmed, err) == 0) {
        rc = 0;
    } else if (file_exists(expired)) {
        fl_error_clear(err);
        /* the watchdog won: wait (briefly) for it to say how the rollback went */
        for (int i = 0; i < 600 && !file_exists(done); i++)
            usleep(100 * 1000);
        size_t len = 0;
        fl_error e2 = FL_ERROR_INIT;
        if (fl_read_file(done, late, &len, &e2) != 0)
            *late = NULL;
        fl_error_clear(&e2);
        rc = 1;
    } else {
        fl_error_clear(err);
        rc = fl_error_set(err, FL_ENOTFOUND, "no deployment %s is waiting for a confirmation here",
                          token);
    }
    free(armed);
    free(confirmed);
    free(done);
    free(expired);
    return rc;
}
