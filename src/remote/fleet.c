/* fleet.c - running one job per host with N hosts at a time on worker threads, keeping
 * going past failures (or not, with fail_fast), and the one summary table (remote-exec and
 * deployments). It knows nothing of
 * what a job does; each job owns its own connection, so no SSH state is shared. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flakectl/clock.h"
#include "flakectl/remote.h"
#include "flakectl/strbuf.h"

typedef struct fleet {
    pthread_mutex_t lock;
    int next, n, failed;
    const fl_fleet_opts *opts;
    fl_fleet_fn fn;
    void *ctx;
    fl_fleet_result *results;
} fleet;

static void *worker(void *arg) {
    fleet *f = arg;
    for (;;) {
        pthread_mutex_lock(&f->lock);
        int i = f->next < f->n ? f->next++ : -1;
        int stop = f->opts->fail_fast && f->failed;
        if (i >= 0 && stop)
            f->results[i].state = FL_FLEET_SKIPPED;
        pthread_mutex_unlock(&f->lock);
        if (i < 0)
            return NULL;
        if (stop)
            continue;
        double t0 = fl_now_s();
        int rc = f->fn(f->ctx, i, &f->results[i]);
        f->results[i].seconds = fl_now_s() - t0;
        f->results[i].state = rc < 0 ? FL_FLEET_FAILED : FL_FLEET_OK;
        if (rc < 0) {
            pthread_mutex_lock(&f->lock);
            f->failed++;
            pthread_mutex_unlock(&f->lock);
        }
    }
}

int fl_fleet_run(int n, fl_fleet_fn fn, void *ctx, const fl_fleet_opts *opts,
                 fl_fleet_result *results) {
    static const fl_fleet_opts defaults = {1, 0};
    if (!opts)
        opts = &defaults;
    memset(results, 0, sizeof *results * (size_t)n);
    fleet f = {PTHREAD_MUTEX_INITIALIZER, 0, n, 0, opts, fn, ctx, results};
    int jobs = opts->jobs < 1 ? 1 : opts->jobs > n ? n : opts->jobs;
    pthread_t *threads = fl_xcalloc((size_t)(jobs > 0 ? jobs : 1), sizeof *threads);
    int started = 0;
    for (int t = 0; t < jobs; t++) {
        if (pthread_create(&threads[t], NULL, worker, &f) != 0)
            break;
        started++;
    }
    if (started == 0 && n > 0)
        worker(&f); /* no threads to be had: do it all here */
    for (int t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    free(threads);
    pthread_mutex_destroy(&f.lock);
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += results[i].state != FL_FLEET_OK;
    return bad;
}

void fl_fleet_result_release(fl_fleet_result *r) {
    free(r->detail);
    r->detail = NULL;
}

void fl_fleet_print_summary(FILE *out, const char *const *names, const fl_fleet_result *results,
                            int n) {
    fl_fleet_print_table(out, names, results, NULL, n);
}

void fl_fleet_print_table(FILE *out, const char *const *names, const fl_fleet_result *results,
                          const fl_fleet_target *targets, int n) {
    /* a deployment's rows keep fixed columns (20, 26, 12) wide enough for the usual names;
     * remote-exec's fit the longest host */
    int w = targets ? 20 : 4, tw = 26, rw = targets ? 12 : 7;
    const char *sep = targets ? " " : "  ";
    for (int i = 0; i < n && !targets; i++) {
        int len = (int)strlen(names[i]);
        w = len > w ? len : w;
    }
    int ok = 0;
    fprintf(out, "\n%-*s%s", w, "host", sep);
    if (targets)
        fprintf(out, "%-*s%s", tw, "target", sep);
    fprintf(out, "%-*s%s", rw, "result", sep);
    if (targets)
        fprintf(out, "%4s%s", "gen", sep);
    fprintf(out, "%8s  %s\n", "time", "detail");
    for (int i = 0; i < n; i++) {
        const fl_fleet_result *r = &results[i];
        const char *what = r->state == FL_FLEET_OK        ? "ok"
                           : r->state == FL_FLEET_SKIPPED ? "skipped"
                           : r->state != FL_FLEET_FAILED  ? "-"
                           : targets && targets[i].rolled_back ? "ROLLED BACK"
                                                               : "FAILED";
        ok += r->state == FL_FLEET_OK;
        fprintf(out, "%-*s%s", w, names[i], sep);
        if (targets)
            fprintf(out, "%-*s%s", tw, targets[i].target ? targets[i].target : "-", sep);
        fprintf(out, "%-*s%s", rw, what, sep);
        if (targets) {
            char gen[16] = "-";
            if (targets[i].generation > 0)
                snprintf(gen, sizeof gen, "%d", targets[i].generation);
            fprintf(out, "%4s%s", gen, sep);
        }
        if (r->state == FL_FLEET_SKIPPED)
            fprintf(out, "%8s  %s\n", "-", r->detail ? r->detail : "not started (--fail-fast)");
        else
            fprintf(out, "%7.2fs  %s\n", r->seconds, r->detail ? r->detail : "");
    }
    fprintf(out, "%d of %d hosts succeeded\n", ok, n);
}
