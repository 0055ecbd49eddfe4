/* option.c - `flakectl option --host H NAME`: an option's value, type, default, description,
 * where it is declared and every place that defines it, like nixos-option. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"
#include "flakectl/cli.h"
#include "flakectl/lang.h"
#include "flakectl/module.h"
#include "options.h"
#include "flakectl/strbuf.h"

static int attr(fl_lang *L, fl_value *set, const char *name, fl_value **out, fl_error *err) {
    if (fl_lang_attrs_get(L, set, name, out, NULL) != 0)
        return fl_error_set(err, FL_EEVAL, "internal: option description lacks '%s'", name);
    return fl_lang_force(L, *out, err);
}

/* Prints a value the way `nix-instantiate --eval --strict` would, or the error it raises. */
static void print_value(fl_lang *L, fl_value *v, const char *indent) {
    fl_strbuf sb;
    fl_error err = FL_ERROR_INIT;
    fl_strbuf_init(&sb, 0);
    if (fl_lang_print(L, v, 1, &sb, &err) == 0)
        printf("%s%s\n", indent, sb.buf);
    else
        printf("%s(cannot be evaluated: %s)\n", indent, err.message ? err.message : "error");
    fl_error_clear(&err);
    fl_strbuf_release(&sb);
}

static fl_value *split_path(fl_lang *L, const char *dotted) {
    fl_value *elems[256];
    size_t n = 0;
    fl_strbuf cur;
    fl_strbuf_init(&cur, 0);
    int quoted = 0;
    for (const char *p = dotted;; p++) {
        if (*p == '"') {
            quoted = !quoted;
            continue;
        }
        if ((*p == '.' && !quoted) || *p == '\0') {
            if (n < 256)
                elems[n++] = fl_lang_mk_string(L, cur.buf, cur.len);
            fl_strbuf_reset(&cur);
            if (*p == '\0')
                break;
            continue;
        }
        fl_strbuf_addch(&cur, *p);
    }
    fl_strbuf_release(&cur);
    return fl_lang_mk_list(L, n, elems);
}

static int show_missing(fl_host *host, fl_value *info, const char *name, fl_error *err) {
    fl_lang *L = host->L;
    fl_value *children = NULL, *missing = NULL;
    int rc;
    if ((rc = attr(L, info, "children", &children, err)) < 0 ||
        (rc = attr(L, info, "missing", &missing, err)) < 0)
        return rc;
    size_t n = fl_lang_list_size(children);
    if (fl_lang_type(missing) == FL_LANG_NULL && n > 0) {
        printf("%s is a group of options:\n", name);
        for (size_t i = 0; i < n; i++) {
            fl_value *c = fl_lang_list_at(children, i);
            if ((rc = fl_lang_force(L, c, err)) < 0)
                return rc;
            printf("  %s.%s\n", name, fl_lang_get_string(c, NULL));
        }
        return FL_OK;
    }
    fl_error_set(err, FL_ENOTFOUND, "host '%s' has no option '%s'", host->name, name);
    if (n > 0) {
        fl_strbuf sb;
        fl_strbuf_init(&sb, 0);
        for (size_t i = 0; i < n; i++) {
            fl_value *c = fl_lang_list_at(children, i);
            if (fl_lang_force(L, c, NULL) == 0)
                fl_strbuf_addf(&sb, "%s%s", i ? ", " : "", fl_lang_get_string(c, NULL));
        }
        fl_error_set_hint(err, "at that level there are: %s", sb.buf);
        fl_strbuf_release(&sb);
    }
    return FL_ENOTFOUND;
}

static int show(fl_host *host, const char *name, fl_error *err) {
    fl_lang *L = host->L;
    fl_value *describe = NULL, *info = NULL, *v = NULL;
    if (fl_lang_attrs_get(L, host->result, "describe", &describe, NULL) != 0)
        return fl_error_set(err, FL_EEVAL, "internal: no describe in host evaluation");
    int rc = fl_lang_force(L, describe, err);
    if (rc == 0)
        rc = fl_lang_call(L, describe, split_path(L, name), &info, err);
    if (rc == 0)
        rc = attr(L, info, "found", &v, err);
    if (rc < 0)
        return rc;
    if (!fl_lang_get_bool(v))
        return show_missing(host, info, name, err);
    fl_value *type = NULL, *desc = NULL, *has_default = NULL, *def = NULL, *decl = NULL,
             *defined = NULL, *value = NULL;
    if ((rc = attr(L, info, "type", &type, err)) < 0 ||
        (rc = attr(L, info, "description", &desc, err)) < 0 ||
        (rc = attr(L, info, "hasDefault", &has_default, err)) < 0 ||
        (rc = attr(L, info, "declaredIn", &decl, err)) < 0 ||
        (rc = attr(L, info, "definedIn", &defined, err)) < 0)
        return rc;
    fl_lang_attrs_get(L, info, "value", &value, NULL);
    fl_lang_attrs_get(L, info, "default", &def, NULL);
    printf("Value:\n");
    print_value(L, value, "  ");
    printf("\nType:\n  %s\n", fl_lang_get_string(type, NULL));
    if (fl_lang_get_bool(has_default)) {
        printf("\nDefault:\n");
        print_value(L, def, "  ");
    }
    printf("\nDescription:\n  %s\n", fl_lang_get_string(desc, NULL));
    printf("\nDeclared in:\n  %s\n", fl_lang_get_string(decl, NULL));
    printf("\nDefined in:\n");
    size_t n = fl_lang_list_size(defined);
    if (n == 0)
        printf("  (not defined: the default applies)\n");
    for (size_t i = 0; i < n; i++) {
        fl_value *d = fl_lang_list_at(defined, i);
        if ((rc = fl_lang_force(L, d, err)) < 0)
            return rc;
        printf("  %s\n", fl_lang_get_string(d, NULL));
    }
    return FL_OK;
}

struct option_job {
    const char *host_name, *name;
    fl_error err;
};

static int option_job_run(void *p) {
    struct option_job *j = p;
    char *default_host = j->host_name ? NULL : fl_host_default_name();
    fl_host_session sess;
    fl_session_opts so;
    fl_cli_session_opts(&so);
    int rc = fl_host_session_open(&sess, &so, j->host_name ? j->host_name : default_host, &j->err);
    free(default_host);
    if (rc < 0)
        return rc;
    rc = show(&sess.host, j->name, &j->err);
    fl_host_session_close(&sess);
    return rc;
}

typedef struct option_opts {
    const char *host, *name;
} option_opts;

static const fl_opt_spec option_spec[] = {
    FL_OPT_STR_("host", 0, "H", "the host of the flake (default: this machine's host name)",
                option_opts, host, .complete = FL_OPT_V_HOST, .flags = 0),
    FL_OPT_ARG_("NAME", "the option, e.g. networking.hostName", option_opts, name,
                .complete = FL_OPT_V_OPTION, .flags = FL_OPT_REQUIRED),
    FL_OPT_END_,
};

static int cmd_option(int argc, char **argv);

const fl_opt_cmd fl_cmd_option = {
    "option",
    "show an option: value, type, default, description, declared and defined in",
    "[--host H] NAME",
    "Shows option NAME (e.g. networking.hostName or\n"
    "home-manager.users.alice.programs.git.userName) of host H: its value, type,\n"
    "default, description, the file:line declaring it and every file:line defining it.\n",
    option_spec,
    NULL,
    cmd_option,
};

static int cmd_option(int argc, char **argv) {
    option_opts oo = {NULL, NULL};
    int prc = fl_opt_parse(&fl_cmd_option, &oo, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    const char *host_name = oo.host, *name = oo.name;
    struct option_job j = {host_name, name, FL_ERROR_INIT};
    int rc = fl_cli_with_big_stack(option_job_run, &j);
    return rc < 0 ? fl_cli_report(&j.err) : FL_EXIT_OK;
}
