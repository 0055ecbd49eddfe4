/* check.c - `flakectl check`: evaluates every host of the flake (or those named), assertions
 * and warnings included, one line per host and a summary; non-zero exit if any host failed.
 * Each host gets its own evaluator so one host's failure cannot leak into the next. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opt.h"
#include "term.h"
#include "flakectl/clock.h"
#include "flakectl/cli.h"
#include "flakectl/fs.h"
#include "flakectl/lang.h"
#include "flakectl/module.h"
#include "needroot.h"
#include "options.h"
#include "flakectl/pkg.h"
#include "flakectl/secret.h"
#include "flakectl/strbuf.h"

struct check_job {
    const char *flake, *name;
    const char *state_dir; /* a store of the user's own, NULL = --state-dir's */
    int apt_lists;
    fl_error *err;
};

/* Evaluates one host completely and builds its toplevel; err describes the first failure. */
static int check_host_job(void *p) {
    struct check_job *j = p;
    fl_host_session sess;
    fl_session_opts so;
    fl_cli_session_opts(&so);
    so.flake_flag = j->flake;
    if (j->state_dir)
        so.state_dir = j->state_dir;
    int rc = fl_host_session_open(&sess, &so, j->name, j->err);
    if (rc < 0)
        return rc;
    fl_value *config = NULL;
    char *toplevel = NULL;
    rc = fl_host_config(&sess.host, &config, j->err);
    if (rc == 0)
        rc = fl_lang_force_deep(sess.L, config, j->err);
    if (rc == 0) {
        char *key = NULL, **names = NULL, **files = NULL;
        size_t n = 0;
        rc = fl_host_age_secrets(&sess.host, config, &key, &names, &files, &n, j->err);
        if (rc == 0)
            rc = fl_secret_rules_check_host(sess.flake, fl_cli_trace, key,
                                            (const char *const *)names, (const char *const *)files,
                                            n, j->err);
        fl_host_age_secrets_free(key, names, files, n);
    }
    if (rc == 0)
        rc = fl_host_toplevel(&sess.host, &toplevel, j->err);
    if (rc == 0)
        rc = fl_pkg_check_toplevel(toplevel, j->apt_lists, j->err);
    if (rc == 0 && !fl_opts.quiet)
        rc = fl_host_print_warnings(&sess.host, stderr, j->err);
    free(toplevel);
    fl_host_session_close(&sess);
    return rc;
}

static int check_host(const char *flake, const char *name, const char *state_dir, int apt_lists,
                      fl_error *err) {
    struct check_job j = {flake, name, state_dir, apt_lists, err};
    return fl_cli_with_big_stack(check_host_job, &j);
}

struct list_job {
    const char *flake, *state_dir;
    char ***names;
    size_t *n;
    fl_error *err;
};

static int list_hosts_job(void *p) {
    struct list_job *j = p;
    fl_host_session sess;
    fl_session_opts so;
    fl_cli_session_opts(&so);
    so.flake_flag = j->flake;
    if (j->state_dir)
        so.state_dir = j->state_dir;
    int rc = fl_host_session_open(&sess, &so, NULL, j->err);
    if (rc == 0)
        rc = fl_module_host_names_args(sess.L, sess.flake, &sess.args, j->names, j->n, j->err);
    fl_host_session_close(&sess);
    return rc;
}

static int list_hosts(const char *flake, const char *state_dir, char ***names, size_t *n,
                      fl_error *err) {
    struct list_job j = {flake, state_dir, names, n, err};
    return fl_cli_with_big_stack(list_hosts_job, &j);
}

/* Every file secrets/secrets.nix lists must exist next to it (a missing one would only fail
 * at activation). *missing gets the absent names; a broken secrets.nix is an error. */
static int check_secrets(const char *flake, json_t *missing, int *present, fl_error *err) {
    char *dir = fl_path_join(flake, "secrets");
    char *file = fl_path_join(dir, "secrets.nix");
    *present = fl_path_exists(file);
    int rc = FL_OK;
    if (*present) {
        fl_lang_config cfg = {.trace = fl_cli_trace};
        fl_lang *L = fl_lang_new(&cfg);
        fl_value *v = NULL;
        rc = fl_lang_eval_file(L, file, &v, err);
        if (rc == 0 && fl_lang_type(v) != FL_LANG_ATTRS) {
            rc = fl_error_set(err, FL_EEVAL, "secrets.nix must be an attribute set of "
                                             "\"name.age\".publicKeys, not %s",
                              fl_lang_type_name(v));
            fl_error_set_loc(err, file, 1, 1);
        }
        for (size_t i = 0; rc == 0 && i < fl_lang_attrs_size(v); i++) {
            const char *name;
            fl_lang_attrs_at(L, v, i, &name, NULL, NULL);
            char *p = fl_path_join(dir, name);
            if (!fl_path_exists(p))
                json_array_append_new(missing, json_string(name));
            free(p);
        }
        fl_lang_free(L);
    }
    free(file);
    free(dir);
    return rc;
}

static void report_failure(json_t *entry, const fl_error *herr) {
    json_object_set_new(entry, "error", json_string(herr->message ? herr->message : ""));
    if (herr->file) {
        json_object_set_new(entry, "file", json_string(herr->file));
        json_object_set_new(entry, "line", json_integer(herr->line));
        json_object_set_new(entry, "column", json_integer(herr->col));
    }
}

typedef struct check_opts {
    fl_opt_list hosts;
    int json, keep_going, apt_lists;
} check_opts;

static const fl_opt_spec check_spec[] = {
    FL_OPT_LIST_("host", 0, "H", "check only host H", check_opts, hosts,
                 .complete = FL_OPT_V_HOST, .flags = 0),
    FL_OPT_FLAG_("json", 0, "print a JSON report", check_opts, json, .flags = 0),
    FL_OPT_FLAG_("keep-going", 0, "accepted for CI scripts: checking every host is already the\n"
                                  "behaviour",
                 check_opts, keep_going, .flags = 0),
    FL_OPT_FLAG_("apt-lists", 0, "also look each apt package name up in this machine's apt lists",
                 check_opts, apt_lists, .flags = 0),
    FL_OPT_END_,
};

static int cmd_check(int argc, char **argv);

const fl_opt_cmd fl_cmd_check = {
    "check",
    "evaluate and build every host of the flake (CI)",
    "[--host H]... [--json] [--apt-lists]",
    "Evaluates and builds every host of the flake (or only the named ones): the module\n"
    "system, assertions, warnings and the toplevel. Prints a line per host and a summary;\n"
    "exits 1 if any host fails; every host is checked whatever the others do. Meant for CI\n"
    "on every push (see docs/ci/). Also checks that every file secrets/secrets.nix lists\n"
    "exists, and that every native package (pkgs.<name>, pkgs.native) has a name for the\n"
    "host's package manager.\n",
    check_spec,
    NULL,
    cmd_check,
};

static int cmd_check(int argc, char **argv) {
    check_opts co;
    memset(&co, 0, sizeof co);
    int prc = fl_opt_parse(&fl_cmd_check, &co, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    char **hosts = fl_xcalloc(co.hosts.n + 1, sizeof *hosts);
    size_t nhosts = 0;
    int json = co.json, apt_lists = co.apt_lists;
    for (size_t i = 0; i < co.hosts.n; i++)
        hosts[nhosts++] = fl_xstrdup(co.hosts.v[i]);
    fl_opt_release(&fl_cmd_check, &co);
    fl_error err = FL_ERROR_INIT;
    char *flake = fl_flake_find_dir(fl_opts.flake_dir, &err);
    if (!flake) {
        fl_module_free_names(hosts, nhosts);
        return fl_cli_report(&err);
    }
    /* check changes nothing but a store: a user without root (a new user trying a flake, a
     * CI job) checks with a store of their own rather than being sent to sudo */
    char *own = fl_cli_own_state_dir("check-state", 0);
    if (own) {
        if (!fl_opts.quiet)
            fprintf(stderr,
                    "note: %s is not writable by you: checking with a store of your own in %s\n",
                    "/var/lib/flakectl", own);
    }
    if (nhosts == 0) {
        free(hosts);
        hosts = NULL;
        int rc = list_hosts(flake, own, &hosts, &nhosts, &err);
        if (rc < 0) {
            free(flake);
            free(own);
            return fl_cli_report(&err);
        }
    }
    json_t *report = json_array();
    size_t failed = 0;
    double total_start = fl_now_ms();
    json_t *missing = json_array();
    int has_secrets = 0;
    fl_error serr = FL_ERROR_INIT;
    int src = check_secrets(flake, missing, &has_secrets, &serr);
    int secrets_ok = src == 0 && json_array_size(missing) == 0;
    json_t *secrets = json_pack("{s:b, s:b, s:O}", "checked", has_secrets, "ok", secrets_ok,
                                "missing", missing);
    if (src < 0)
        report_failure(secrets, &serr);
    if (has_secrets && !json) {
        if (secrets_ok) {
            printf("ok   secrets (secrets/secrets.nix: every listed file exists)\n");
        } else {
            printf("FAIL secrets\n");
            fflush(stdout);
            if (src < 0)
                fl_error_print_color(&serr, stderr, fl_term_color(stderr));
            for (size_t i = 0; i < json_array_size(missing); i++)
                fprintf(stderr,
                        "error: secrets/%s is listed in secrets/secrets.nix but does not exist\n"
                        "       hint: create it with `flakectl secret edit secrets/%s`, or drop "
                        "its entry\n",
                        json_string_value(json_array_get(missing, i)),
                        json_string_value(json_array_get(missing, i)));
        }
    }
    fl_error_clear(&serr);
    json_decref(missing);
    for (size_t i = 0; i < nhosts; i++) {
        double start = fl_now_ms();
        fl_error herr = FL_ERROR_INIT;
        int rc = check_host(flake, hosts[i], own, apt_lists, &herr);
        double ms = fl_now_ms() - start;
        json_t *entry = json_pack("{s:s, s:b, s:f}", "host", hosts[i], "ok", rc == 0, "ms", ms);
        if (rc < 0) {
            failed++;
            report_failure(entry, &herr);
            if (!json) {
                printf("FAIL %s (%.0f ms)\n", hosts[i], ms);
                fflush(stdout);
                fl_error_print_color(&herr, stderr, fl_term_color(stderr));
            }
        } else if (!json) {
            printf("ok   %s (%.0f ms)\n", hosts[i], ms);
        }
        json_array_append_new(report, entry);
        fl_error_clear(&herr);
    }
    if (json) {
        json_t *top = json_pack("{s:s, s:o, s:i, s:i, s:o}", "flake", flake, "hosts", report,
                                "passed", (int)(nhosts - failed), "failed", (int)failed,
                                "secrets", secrets);
        char *s = json_dumps(top, JSON_INDENT(2) | JSON_SORT_KEYS);
        puts(s);
        free(s);
        json_decref(top);
    } else {
        json_decref(report);
        json_decref(secrets);
        printf("%zu host%s checked in %.0f ms: %zu passed, %zu failed\n", nhosts,
               nhosts == 1 ? "" : "s", fl_now_ms() - total_start, nhosts - failed, failed);
    }
    fl_module_free_names(hosts, nhosts);
    free(flake);
    free(own);
    return failed || !secrets_ok ? FL_EXIT_FAILURE : FL_EXIT_OK;
}
