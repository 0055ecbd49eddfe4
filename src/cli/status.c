/* status.c - `flakectl status [--on SEL] [--json]`: every chosen host's own record
 * (generation, flake revision, last error; src/activate/record.c), gathered over SSH
 * (`deploy-agent state`, -j at a time), set against the flake's revision here, printed as
 * one table or JSON. An unreachable host is a row with its error. Gathers and prints only. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/activate.h"
#include "flakectl/cli.h"
#include "flakectl/flake.h"
#include "flakectl/module.h"
#include "flakectl/pull.h"
#include "flakectl/remote.h"
#include "flakectl/strbuf.h"
#include "opt.h"
#include "options.h"
#include "remote_args.h"

typedef struct status_opts {
    const char *on;
    int json, jobs;
    fl_cli_ssh_args ssh;
} status_opts;

static const fl_opt_spec status_spec[] = {
    FL_OPT_STR_("on", 0, "@TAG|a,b|'*'",
                "ask these hosts of the flake, at their\n"
                "deploy.targetHost (default: this machine)",
                status_opts, on, .complete = FL_OPT_V_SELECTION, .flags = 0),
    FL_OPT_FLAG_("json", 0, "print a JSON array instead of the table", status_opts, json,
                 .flags = 0),
    FL_OPT_INT_(NULL, 'j', "N", "hosts asked at once (default 8)", status_opts, jobs, 1, 1000000,
                .flags = 0),
    FL_OPT_GROUP_(fl_cli_ssh_spec, status_opts, ssh),
    FL_OPT_END_,
};

static int cmd_status(int argc, char **argv);

const fl_opt_cmd fl_cmd_status = {
    "status",
    "what each host runs: generation, flake revision, current or behind, last error",
    "[--on @TAG|a,b|'*'] [--json] [-j N] [SSH options]",
    "Each host records its state at every switch, push and pull (docs/pull.md). Without\n"
    "--on, this machine's record; with --on, every chosen host's, over SSH. 'current'\n"
    "and 'behind' compare a host that pulls from a cache with the cache's pointer for it\n"
    "(read from here), any other host's revision with the flake's here (AGAINST says\n"
    "which). Exit status 1 when a host is unreachable or its last switch or pull failed.\n",
    status_spec,
    NULL,
    cmd_status,
};

typedef struct row {
    const char *name, *target;
    json_t *rec; /* owned, NULL when unreachable */
    char *error; /* owned: why there is no record */
    int pulls;   /* compared with its cache's pointer (against), not the flake */
    fl_pull_against against;
} row;

typedef struct gather {
    row *rows;
    fl_deploy_opts d;
} gather;

static const char *jstr(const json_t *o, const char *k);

/* A host that pulls from a cache is compared with that cache's pointer for it. */
static void compare_cache(row *r) {
    const char *h = jstr(r->rec, "host");
    r->pulls = r->rec && fl_pull_against_cache(r->rec, h ? h : r->name, fl_opts.trusted_keys.v,
                                               fl_opts.trusted_keys.n, &r->against);
}

static int gather_one(void *ctx, int i, fl_fleet_result *res) {
    gather *g = ctx;
    row *r = &g->rows[i];
    fl_error err = FL_ERROR_INIT;
    int rc = fl_deploy_host_state(r->target, r->name, &g->d, &r->rec, &err);
    if (rc < 0) {
        r->error = fl_xstrdup(err.message ? err.message : "failed");
        res->detail = fl_xstrdup(r->error);
        fl_error_clear(&err);
    }
    compare_cache(r);
    return rc;
}

static const char *relation_word(int rel) {
    switch (rel) {
    case FL_REV_SAME:
        return "current";
    case FL_REV_BEHIND:
        return "behind";
    case FL_REV_AHEAD:
        return "ahead";
    case FL_REV_OTHER:
        return "other";
    default:
        return "unknown";
    }
}

static const char *jstr(const json_t *o, const char *k) {
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The state word: against the cache's pointer for a host that pulls from one, else against
 * the flake's revision, where a dirty build is never "current". */
static const char *state_of(const row *r, const fl_flake_tree *tree) {
    if (!r->rec)
        return "unreachable";
    if (r->pulls)
        return r->against.state;
    if (json_is_true(json_object_get(r->rec, "dirty")))
        return "dirty";
    return relation_word(fl_flake_tree_compare_rev(tree, jstr(r->rec, "rev")));
}

/* One line of a message, at most max bytes (with "..." when cut). Owned. */
static char *one_line(const char *s, size_t max) {
    size_t n = strcspn(s, "\n");
    if (n <= max)
        return fl_xstrndup(s, n);
    char *cut = fl_xstrndup(s, max - 3);
    char *out = fl_xasprintf("%s...", cut);
    free(cut);
    return out;
}

static void print_table(const row *rows, size_t n, const fl_flake_tree *tree) {
    size_t w = 4;
    for (size_t i = 0; i < n; i++)
        if (strlen(rows[i].name) > w)
            w = strlen(rows[i].name);
    printf("%-*s  %-4s  %-12s  %-11s  %-7s  %-20s  %s\n", (int)w, "HOST", "GEN", "REV", "STATE",
           "AGAINST", "UPDATED", "LAST ERROR");
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        const json_t *gen = json_object_get(r->rec, "generation");
        char gbuf[24] = "-";
        if (json_integer_value(gen) > 0)
            snprintf(gbuf, sizeof gbuf, "%lld", (long long)json_integer_value(gen));
        const char *rev = jstr(r->rec, "rev");
        const char *time = jstr(r->rec, "time");
        const char *e = r->error ? r->error : jstr(r->rec, "lastError");
        /* the host's own error first; else why its cache could not be compared */
        if (!e && r->pulls)
            e = r->against.error;
        char *msg = e ? one_line(e, 100) : fl_xstrdup("-");
        printf("%-*s  %-4s  %-12.12s  %-11s  %-7s  %-20s  %s\n", (int)w, r->name, gbuf,
               rev ? rev : "-", state_of(r, tree),
               !r->rec    ? "-"
               : r->pulls ? "cache"
                          : "flake",
               time ? time : "-", msg);
        free(msg);
    }
}

static void print_json(const row *rows, size_t n, const fl_flake_tree *tree) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        json_t *o = r->rec ? json_deep_copy(r->rec) : json_object();
        json_object_set_new(o, "name", json_string(r->name));
        json_object_set_new(o, "target", r->target ? json_string(r->target) : json_null());
        json_object_set_new(o, "reachable", json_boolean(r->rec != NULL));
        json_object_set_new(o, "state", json_string(state_of(r, tree)));
        json_t *a = json_object();
        if (r->pulls) {
            json_object_set_new(a, "source", json_string("cache"));
            json_object_set_new(a, "url", json_string(r->against.url));
            json_object_set_new(a, "counter",
                                r->against.toplevel ? json_integer((json_int_t)r->against.counter)
                                                    : json_null());
            json_object_set_new(a, "toplevel",
                                r->against.toplevel ? json_string(r->against.toplevel)
                                                    : json_null());
            if (r->against.error)
                json_object_set_new(a, "error", json_string(r->against.error));
        } else {
            json_object_set_new(a, "source", json_string("flake"));
        }
        json_object_set_new(o, "against", a);
        if (r->error)
            json_object_set_new(o, "error", json_string(r->error));
        json_array_append_new(arr, o);
    }
    char *s = json_dumps(arr, JSON_INDENT(1));
    puts(s);
    free(s);
    json_decref(arr);
}

static int cmd_status(int argc, char **argv) {
    status_opts so;
    memset(&so, 0, sizeof so);
    so.jobs = 8;
    int rc = fl_opt_parse(&fl_cmd_status, &so, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    fl_error err = FL_ERROR_INIT;
    fl_host_deploy *hosts = NULL;
    size_t n = 0;
    row *rows = NULL;
    char *self = NULL;
    if (so.on) {
        if (fl_cli_select_hosts(so.on, &hosts, &n, &err) < 0)
            return fl_cli_report(&err);
        rows = fl_xcalloc(n, sizeof *rows);
        gather g;
        memset(&g, 0, sizeof g);
        g.rows = rows;
        fl_cli_ssh_apply(&so.ssh, &g.d.ssh);
        g.d.out_fd = 2;
        g.d.err_fd = 2;
        for (size_t i = 0; i < n; i++) {
            rows[i].name = hosts[i].name;
            rows[i].target = hosts[i].target;
        }
        fl_fleet_result *res = fl_xcalloc(n, sizeof *res);
        fl_fleet_opts fo = {so.jobs, 0};
        fl_fleet_run((int)n, gather_one, &g, &fo, res);
        for (size_t i = 0; i < n; i++)
            fl_fleet_result_release(&res[i]);
        free(res);
    } else {
        char *root = NULL, *state = NULL;
        if (fl_activate_paths(fl_opts.root, fl_opts.state_dir, &root, &state, &err) < 0)
            return fl_cli_report(&err);
        n = 1;
        rows = fl_xcalloc(1, sizeof *rows);
        rows[0].rec = fl_act_record_read_live(root, state, &err);
        if (!rows[0].rec) {
            rows[0].error = fl_xstrdup(err.message);
            fl_error_clear(&err);
        }
        const char *h = jstr(rows[0].rec, "host");
        self = h ? fl_xstrdup(h) : fl_host_default_name();
        rows[0].name = self;
        compare_cache(&rows[0]);
        free(root);
        free(state);
    }
    /* the flake here is optional: without one every state is "unknown" */
    fl_flake_tree *tree = NULL;
    char *dir = fl_flake_find_dir(fl_opts.flake_dir, &err);
    if (dir && fl_flake_tree_open(dir, &tree, &err) < 0)
        tree = NULL;
    fl_error_clear(&err);
    free(dir);
    if (so.json)
        print_json(rows, n, tree);
    else
        print_table(rows, n, tree);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad |= !rows[i].rec || json_is_string(json_object_get(rows[i].rec, "lastError"));
        json_decref(rows[i].rec);
        free(rows[i].error);
        fl_pull_against_release(&rows[i].against);
    }
    fl_flake_tree_free(tree);
    free(rows);
    free(self);
    fl_host_deploy_free(hosts, n * (hosts != NULL));
    return bad ? FL_EXIT_FAILURE : FL_EXIT_OK;
}
