/* check.c - `flakectl check`: evaluates every host of the flake (or those named), assertions
 * and warnings included, one line per host and a summary; non-zero exit if any host failed.
 * Each host gets its own evaluator so one host's failure cannot leak into the next. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flakectl/cli.h"
#include "flakectl/lang.h"
#include "flakectl/module.h"
#include "flakectl/options.h"
#include "flakectl/strbuf.h"

static const char usage_text[] =
    "usage: flakectl check [--host H]... [--json]\n"
    "\n"
    "Evaluates and builds every host of the flake (or only the named ones): the module\n"
    "system, assertions, warnings and the toplevel. Prints a line per host and a summary; exits 1 if any\n"
    "host fails; every host is checked whatever the others do. Meant for CI on every\n"
    "push (see docs/ci/).\n";

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct check_job {
    const char *flake, *name;
    fl_error *err;
};

/* Evaluates one host completely and builds its toplevel; err describes the first failure. */
static int check_host_job(void *p) {
    struct check_job *j = p;
    fl_host_session sess;
    int rc = fl_host_session_open(&sess, j->flake, fl_opts.state_dir, j->name,
                                  fl_cli_eval_stack_limit(), fl_opts.show_trace, j->err);
    if (rc < 0)
        return rc;
    fl_value *config = NULL;
    char *toplevel = NULL;
    rc = fl_host_config(&sess.host, &config, j->err);
    if (rc == 0)
        rc = fl_lang_force_deep(sess.L, config, j->err);
    if (rc == 0)
        rc = fl_host_toplevel(&sess.host, &toplevel, j->err);
    if (rc == 0 && !fl_opts.quiet)
        rc = fl_host_print_warnings(&sess.host, j->err);
    free(toplevel);
    fl_host_session_close(&sess);
    return rc;
}

static int check_host(const char *flake, const char *name, fl_error *err) {
    struct check_job j = {flake, name, err};
    return fl_cli_with_big_stack(check_host_job, &j);
}

struct list_job {
    const char *flake;
    char ***names;
    size_t *n;
    fl_error *err;
};

static int list_hosts_job(void *p) {
    struct list_job *j = p;
    fl_host_session sess;
    int rc = fl_host_session_open(&sess, j->flake, fl_opts.state_dir, NULL,
                                  fl_cli_eval_stack_limit(), fl_opts.show_trace, j->err);
    if (rc == 0)
        rc = fl_module_host_names(sess.L, sess.flake, j->names, j->n, j->err);
    fl_host_session_close(&sess);
    return rc;
}

static int list_hosts(const char *flake, char ***names, size_t *n, fl_error *err) {
    struct list_job j = {flake, names, n, err};
    return fl_cli_with_big_stack(list_hosts_job, &j);
}

static void report_failure(json_t *entry, const fl_error *herr) {
    json_object_set_new(entry, "error", json_string(herr->message ? herr->message : ""));
    if (herr->file) {
        json_object_set_new(entry, "file", json_string(herr->file));
        json_object_set_new(entry, "line", json_integer(herr->line));
        json_object_set_new(entry, "column", json_integer(herr->col));
    }
}

int cmd_check(int argc, char **argv) {
    char **hosts = fl_xcalloc((size_t)argc, sizeof *hosts);
    size_t nhosts = 0;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            fl_module_free_names(hosts, nhosts);
            return FL_EXIT_OK;
        } else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
            hosts[nhosts++] = fl_xstrdup(argv[++i]);
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--keep-going")) {
            /* Already the behaviour: accepted so CI scripts can say it. */
        } else {
            fprintf(stderr, "error: unexpected argument '%s'\n%s", argv[i], usage_text);
            fl_module_free_names(hosts, nhosts);
            return FL_EXIT_USAGE;
        }
    }
    fl_error err = FL_ERROR_INIT;
    char *flake = fl_flake_find_dir(fl_opts.flake_dir, &err);
    if (!flake) {
        fl_module_free_names(hosts, nhosts);
        return fl_cli_report(&err);
    }
    if (nhosts == 0) {
        free(hosts);
        hosts = NULL;
        int rc = list_hosts(flake, &hosts, &nhosts, &err);
        if (rc < 0) {
            free(flake);
            return fl_cli_report(&err);
        }
    }
    json_t *report = json_array();
    size_t failed = 0;
    double total_start = now_ms();
    for (size_t i = 0; i < nhosts; i++) {
        double start = now_ms();
        fl_error herr = FL_ERROR_INIT;
        int rc = check_host(flake, hosts[i], &herr);
        double ms = now_ms() - start;
        json_t *entry = json_pack("{s:s, s:b, s:f}", "host", hosts[i], "ok", rc == 0, "ms", ms);
        if (rc < 0) {
            failed++;
            report_failure(entry, &herr);
            if (!json) {
                printf("FAIL %s (%.0f ms)\n", hosts[i], ms);
                fflush(stdout);
                fl_error_print(&herr, stderr);
            }
        } else if (!json) {
            printf("ok   %s (%.0f ms)\n", hosts[i], ms);
        }
        json_array_append_new(report, entry);
        fl_error_clear(&herr);
    }
    if (json) {
        json_t *top = json_pack("{s:s, s:o, s:i, s:i}", "flake", flake, "hosts", report,
                                "passed", (int)(nhosts - failed), "failed", (int)failed);
        char *s = json_dumps(top, JSON_INDENT(2) | JSON_SORT_KEYS);
        puts(s);
        free(s);
        json_decref(top);
    } else {
        json_decref(report);
        printf("%zu host%s checked in %.0f ms: %zu passed, %zu failed\n", nhosts,
               nhosts == 1 ? "" : "s", now_ms() - total_start, nhosts - failed, failed);
    }
    fl_module_free_names(hosts, nhosts);
    free(flake);
    return failed ? FL_EXIT_FAILURE : FL_EXIT_OK;
}
