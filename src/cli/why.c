/* why.c - `flakectl why --host H PATH|UNIT|PACKAGE|OPTION`: prints what fl_host_why found
 * (every definition with its place, priority, order and whether it won; the options that
 * produced the target), as text or as JSON. Only parsing and printing live here. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/cli.h"
#include "flakectl/module.h"
#include "opt.h"

static const char *status_word(const fl_why_def *d) {
    return !d->enabled ? "off " : d->won ? "won " : "lost";
}

static void print_defs(const fl_why_option *o, const char *indent) {
    char pb[32], ob[32];
    for (size_t i = 0; i < o->ndefs; i++) {
        const fl_why_def *d = &o->defs[i];
        printf("%s%s  %s", indent, status_word(d), d->file);
        if (d->line)
            printf(":%d:%d", d->line, d->col);
        printf("  %s (%d)", fl_why_priority_name(d->priority, d->is_default, pb, sizeof pb),
               d->priority);
        if (d->order != 1000)
            printf(", %s (%d)", fl_why_order_name(d->order, ob, sizeof ob), d->order);
        if (!d->enabled)
            printf(", under a false mkIf");
        printf("  %s\n", d->value);
    }
}

static void print_option(const fl_why_option *o, const char *indent) {
    printf("%s%s = %s\n", indent, o->option, o->value);
    printf("%s  type %s; declared in %s\n", indent, o->type, o->declared);
    fl_strbuf in;
    fl_strbuf_init(&in, 0);
    fl_strbuf_addf(&in, "%s  ", indent);
    print_defs(o, in.buf);
    fl_strbuf_release(&in);
}

static void print_text(const fl_why *w) {
    printf("%s: %s%s\n", w->target, w->kind, w->present ? "" : " (defined, but not enabled)");
    if (w->entry) {
        printf("\n%s is defined by:\n", w->entry->option);
        print_defs(w->entry, "  ");
    }
    for (size_t i = 0; i < w->noptions; i++) {
        printf("\n");
        print_option(&w->options[i], "");
    }
    for (size_t i = 0; i < w->nproducers; i++) {
        const fl_why_producer *p = &w->producers[i];
        printf("\nmade by %s, from %s:\n", p->module, p->options);
        for (size_t k = 0; k < p->ndefined; k++)
            print_option(&p->defined[k], "  ");
    }
}

static json_t *defs_json(const fl_why_option *o) {
    json_t *a = json_array();
    for (size_t i = 0; i < o->ndefs; i++) {
        const fl_why_def *d = &o->defs[i];
        char pb[32], ob[32];
        json_t *j = json_object();
        json_object_set_new(j, "file", json_string(d->file));
        json_object_set_new(j, "line", json_integer(d->line));
        json_object_set_new(j, "column", json_integer(d->col));
        json_object_set_new(j, "priority", json_integer(d->priority));
        json_object_set_new(
            j, "priorityName",
            json_string(fl_why_priority_name(d->priority, d->is_default, pb, sizeof pb)));
        json_object_set_new(j, "order", json_integer(d->order));
        json_object_set_new(j, "orderName",
                            json_string(fl_why_order_name(d->order, ob, sizeof ob)));
        json_object_set_new(j, "enabled", json_boolean(d->enabled));
        json_object_set_new(j, "won", json_boolean(d->won));
        json_object_set_new(j, "isDefault", json_boolean(d->is_default));
        json_object_set_new(j, "value", json_string(d->value));
        json_array_append_new(a, j);
    }
    return a;
}

static json_t *option_json(const fl_why_option *o) {
    json_t *j = json_object();
    json_object_set_new(j, "option", json_string(o->option));
    json_object_set_new(j, "type", json_string(o->type));
    json_object_set_new(j, "declared", json_string(o->declared));
    json_object_set_new(j, "value", json_string(o->value));
    json_object_set_new(j, "definitions", defs_json(o));
    return j;
}

static json_t *options_json(const fl_why_option *o, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, option_json(&o[i]));
    return a;
}

static void print_json(const char *host, const fl_why *w) {
    json_t *j = json_object();
    json_object_set_new(j, "version", json_integer(1));
    json_object_set_new(j, "host", json_string(host));
    json_object_set_new(j, "target", json_string(w->target));
    json_object_set_new(j, "kind", json_string(w->kind));
    json_object_set_new(j, "present", json_boolean(w->present));
    json_object_set_new(j, "entry", w->entry ? option_json(w->entry) : json_null());
    json_object_set_new(j, "options", options_json(w->options, w->noptions));
    json_t *ps = json_array();
    for (size_t i = 0; i < w->nproducers; i++) {
        const fl_why_producer *p = &w->producers[i];
        json_t *pj = json_object();
        json_object_set_new(pj, "module", json_string(p->module));
        json_object_set_new(pj, "options", json_string(p->options));
        json_object_set_new(pj, "defined", options_json(p->defined, p->ndefined));
        json_array_append_new(ps, pj);
    }
    json_object_set_new(j, "producers", ps);
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s)
        puts(s);
    free(s);
    json_decref(j);
}

typedef struct why_opts {
    const char *host, *target;
    int json;
} why_opts;

struct why_job {
    why_opts o;
    fl_error err;
};

static int why_job_run(void *p) {
    struct why_job *j = p;
    char *default_host = j->o.host ? NULL : fl_host_default_name();
    fl_host_session sess;
    fl_session_opts so;
    fl_cli_session_opts(&so);
    /* plan mode: values print the store paths they would have; nothing is built */
    int rc = fl_host_session_open_plan(&sess, &so, j->o.host ? j->o.host : default_host, &j->err);
    free(default_host);
    if (rc < 0)
        return rc;
    fl_why w;
    rc = fl_host_why(&sess.host, j->o.target, &w, &j->err);
    if (rc == 0) {
        if (j->o.json)
            print_json(sess.host.name, &w);
        else
            print_text(&w);
        fl_why_release(&w);
    }
    fl_host_session_close(&sess);
    return rc;
}

static const fl_opt_spec why_spec[] = {
    FL_OPT_STR_("host", 0, "H", "the host of the flake (default: this machine's host name)",
                why_opts, host, .flags = 0),
    FL_OPT_FLAG_("json", 0, "print JSON (docs/why.md describes its shape)", why_opts, json,
                 .flags = 0),
    FL_OPT_ARG_("TARGET",
                "a path (/etc/..., ~user/...), a unit (NAME.service), a package or an "
                "option",
                why_opts, target, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};

static int cmd_why(int argc, char **argv);

const fl_opt_cmd fl_cmd_why = {
    "why",
    "show why a file, unit, package or option value is on a host",
    "[--host H] [--json] PATH|UNIT|PACKAGE|OPTION",
    "Shows every definition that put TARGET on host H: a file (/etc/ssh/sshd_config,\n"
    "~alice/.gitconfig), a unit (nginx.service), a package (htop) or an option\n"
    "(services.openssh.enable). Each definition is listed with its file:line:col, its\n"
    "priority (mkForce, mkDefault, mkOverride N), its order (mkBefore, mkAfter) and\n"
    "whether it won; for files, units and packages, the options that produced them.\n",
    why_spec,
    NULL,
    cmd_why,
};

static int cmd_why(int argc, char **argv) {
    struct why_job j = {{NULL, NULL, 0}, FL_ERROR_INIT};
    int prc = fl_opt_parse(&fl_cmd_why, &j.o, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    int rc = fl_cli_with_big_stack(why_job_run, &j);
    return rc < 0 ? fl_cli_report(&j.err) : FL_EXIT_OK;
}
