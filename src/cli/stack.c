/* stack.c - runs evaluation on a thread with a large stack, so deep (but finite) recursion
 * in user code works the same in every command; the evaluator's own depth limit turns
 * anything deeper into an error. */
#include <pthread.h>

#include <stdio.h>
#include <string.h>

#include "flakectl/cli.h"
#include "flakectl/module.h"
#include "opt.h"

#define FL_EVAL_STACK (256u << 20)

struct stack_job {
    int (*fn)(void *);
    void *arg;
    int rc;
};

static void *stack_trampoline(void *p) {
    struct stack_job *job = p;
    job->rc = job->fn(job->arg);
    return NULL;
}

size_t fl_cli_eval_stack_limit(void) {
    return FL_EVAL_STACK - (8u << 20);
}

int fl_cli_with_big_stack(int (*fn)(void *), void *arg) {
    struct stack_job job = {fn, arg, 0};
    pthread_attr_t attr;
    pthread_t th;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, FL_EVAL_STACK);
    if (pthread_create(&th, &attr, stack_trampoline, &job) != 0) {
        pthread_attr_destroy(&attr);
        return fn(arg);
    }
    pthread_join(th, NULL);
    pthread_attr_destroy(&attr);
    return job.rc;
}

void fl_cli_trace(void *ctx, const char *line) {
    (void)ctx;
    fputs(line, stderr);
    fputc('\n', stderr);
}

void fl_cli_session_opts(fl_session_opts *o) {
    memset(o, 0, sizeof *o);
    o->flake_flag = fl_opts.flake_dir;
    o->state_dir = fl_opts.state_dir;
    o->max_stack = fl_cli_eval_stack_limit();
    o->frames = fl_opts.show_trace;
    o->no_write_lock = fl_opts.no_write_lock_file;
    o->overrides = fl_opts.override_inputs;
    o->noverrides = (size_t)fl_opts.noverride_inputs;
    o->warnings = fl_opts.quiet ? NULL : stderr;
    o->trace = fl_cli_trace;
}
