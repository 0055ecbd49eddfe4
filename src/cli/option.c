/* option.c - `flakectl option --host H NAME`: an option's value, type, default, description,
 * where it is declared and every place that defines it, like nixos-option. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "man.h"
#include <jansson.h>

#include "flakectl/cli.h"
#include "flakectl/flake.h"
#include "flakectl/lang.h"
#include "flakectl/module.h"
#include "flakectl/strbuf.h"
#include "opt.h"
#include "options.h"
#include "term.h"

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

/* What `option` shows of one option, as the describe function of the host returns it. */
typedef struct option_info {
    fl_value *type, *desc, *has_default, *def, *decl, *defined, *value;
} option_info;

/* 1 with *info filled when NAME is an option, 0 when it is not (a group or nothing). */
static int describe(fl_host *host, const char *name, fl_value **info_out, option_info *info,
                    fl_error *err) {
    fl_lang *L = host->L;
    fl_value *describe = NULL, *info_v = NULL, *v = NULL;
    if (fl_lang_attrs_get(L, host->result, "describe", &describe, NULL) != 0)
        return fl_error_set(err, FL_EEVAL, "internal: no describe in host evaluation");
    int rc = fl_lang_force(L, describe, err);
    if (rc == 0)
        rc = fl_lang_call(L, describe, fl_module_path_value(L, name), &info_v, err);
    if (rc == 0)
        rc = attr(L, info_v, "found", &v, err);
    if (rc < 0)
        return rc;
    *info_out = info_v;
    if (!fl_lang_get_bool(v))
        return 0;
    memset(info, 0, sizeof *info);
    if ((rc = attr(L, info_v, "type", &info->type, err)) < 0 ||
        (rc = attr(L, info_v, "description", &info->desc, err)) < 0 ||
        (rc = attr(L, info_v, "hasDefault", &info->has_default, err)) < 0 ||
        (rc = attr(L, info_v, "declaredIn", &info->decl, err)) < 0 ||
        (rc = attr(L, info_v, "definedIn", &info->defined, err)) < 0)
        return rc;
    fl_lang_attrs_get(L, info_v, "value", &info->value, NULL);
    fl_lang_attrs_get(L, info_v, "default", &info->def, NULL);
    return 1;
}

static int show_text(fl_host *host, const char *name, fl_value *info_v, const option_info *found,
                     fl_error *err) {
    fl_lang *L = host->L;
    if (!found)
        return show_missing(host, info_v, name, err);
    option_info in = *found;
    int rc;
    printf("Value:\n");
    print_value(L, in.value, "  ");
    printf("\nType:\n  %s\n", fl_lang_get_string(in.type, NULL));
    if (fl_lang_get_bool(in.has_default)) {
        printf("\nDefault:\n");
        print_value(L, in.def, "  ");
    }
    printf("\nDescription:\n  %s\n", fl_lang_get_string(in.desc, NULL));
    printf("\nDeclared in:\n  %s\n", fl_lang_get_string(in.decl, NULL));
    printf("\nDefined in:\n");
    size_t n = fl_lang_list_size(in.defined);
    if (n == 0)
        printf("  (not defined: the default applies)\n");
    for (size_t i = 0; i < n; i++) {
        fl_value *d = fl_lang_list_at(in.defined, i);
        if ((rc = fl_lang_force(L, d, err)) < 0)
            return rc;
        printf("  %s\n", fl_lang_get_string(d, NULL));
    }
    return FL_OK;
}

/* A value as JSON under key (null and "KEYError" when it has no JSON form, as a function),
 * and as the Nix text the plain output shows under "KEYText". */
static void set_value(fl_lang *L, json_t *o, const char *key, fl_value *v) {
    fl_strbuf sb = FL_STRBUF_INIT;
    fl_error err = FL_ERROR_INIT;
    char k[64];
    fl_strbuf_init(&sb, 0);
    json_t *j = NULL;
    if (fl_lang_print_json(L, v, 1, &sb, &err) == 0)
        j = json_loads(sb.buf, JSON_DECODE_ANY, NULL);
    snprintf(k, sizeof k, "%sError", key);
    if (!j && err.message)
        json_object_set_new(o, k, json_string(err.message));
    json_object_set_new(o, key, j ? j : json_null());
    fl_error_clear(&err);
    fl_strbuf_reset(&sb);
    snprintf(k, sizeof k, "%sText", key);
    if (fl_lang_print(L, v, 1, &sb, &err) == 0)
        json_object_set_new(o, k, json_string(sb.buf));
    else
        json_object_set_new(o, k, json_null());
    fl_error_clear(&err);
    fl_strbuf_release(&sb);
}

/* `option --json`: docs/json.md's shape; a group lists its children, a missing name is the
 * same error as without --json. */
static int show_json(fl_host *host, const char *name, fl_value *info_v, const option_info *found,
                     fl_error *err) {
    fl_lang *L = host->L;
    int rc = 0;
    json_t *o = json_pack("{s:i, s:s, s:s}", "version", 1, "host", host->name, "name", name);
    if (!found) {
        fl_value *children = NULL, *missing = NULL;
        if ((rc = attr(L, info_v, "children", &children, err)) < 0 ||
            (rc = attr(L, info_v, "missing", &missing, err)) < 0 ||
            fl_lang_type(missing) != FL_LANG_NULL || fl_lang_list_size(children) == 0) {
            json_decref(o);
            return rc < 0 ? rc : show_missing(host, info_v, name, err);
        }
        json_t *kids = json_array();
        for (size_t i = 0; i < fl_lang_list_size(children); i++) {
            fl_value *c = fl_lang_list_at(children, i);
            if ((rc = fl_lang_force(L, c, err)) < 0) {
                json_decref(kids);
                json_decref(o);
                return rc;
            }
            json_array_append_new(kids, json_string(fl_lang_get_string(c, NULL)));
        }
        json_object_set_new(o, "group", json_true());
        json_object_set_new(o, "children", kids);
        return fl_cli_print_json(o) == FL_EXIT_OK ? FL_OK : FL_EIO;
    }
    option_info in = *found;
    json_object_set_new(o, "group", json_false());
    set_value(L, o, "value", in.value);
    json_object_set_new(o, "type", json_string(fl_lang_get_string(in.type, NULL)));
    if (fl_lang_get_bool(in.has_default))
        set_value(L, o, "default", in.def);
    json_object_set_new(o, "description", json_string(fl_lang_get_string(in.desc, NULL)));
    json_object_set_new(o, "declaredIn", json_string(fl_lang_get_string(in.decl, NULL)));
    json_t *defs = json_array();
    for (size_t i = 0; i < fl_lang_list_size(in.defined); i++) {
        fl_value *d = fl_lang_list_at(in.defined, i);
        if ((rc = fl_lang_force(L, d, err)) < 0) {
            json_decref(defs);
            json_decref(o);
            return rc;
        }
        json_array_append_new(defs, json_string(fl_lang_get_string(d, NULL)));
    }
    json_object_set_new(o, "definedIn", defs);
    return fl_cli_print_json(o) == FL_EXIT_OK ? FL_OK : FL_EIO;
}

/* One option of the host, as text or (json) as docs/json.md's document. */
static int show(fl_host *host, const char *name, int json, fl_error *err) {
    fl_value *info_v = NULL;
    option_info in;
    int rc = describe(host, name, &info_v, &in, err);
    if (rc < 0)
        return rc;
    return json ? show_json(host, name, info_v, rc ? &in : NULL, err)
                : show_text(host, name, info_v, rc ? &in : NULL, err);
}

struct option_job {
    const char *host_name, *name;
    fl_error err;
    int json;
};

static int option_job_run(void *p) {
    struct option_job *j = p;
    char *default_host = j->host_name ? NULL : fl_host_default_name();
    fl_host_session sess;
    fl_session_opts so;
    fl_cli_session_opts(&so);
    /* plan mode, as dry-activate: a value that names a package's store path is computed,
     * never built */
    int rc = fl_host_session_open_plan(&sess, &so, j->host_name ? j->host_name : default_host,
                                       &j->err);
    free(default_host);
    if (rc < 0)
        return rc;
    rc = show(&sess.host, j->name, j->json, &j->err);
    fl_host_session_close(&sess);
    return rc;
}

/* ---- --search and --reference: the declared options, with no host's values ---- */

struct docs_job {
    const char *host_name; /* --host, or NULL: every host of the flake */
    int with_flake;        /* evaluate the flake's hosts too */
    fl_option_doc *docs;
    size_t n;
    fl_error err;
    fl_error flake_err; /* why the flake's own options are missing (the bundled still are) */
};

static void docs_append(struct docs_job *j, fl_option_doc *more, size_t n) {
    j->docs = fl_xrealloc(j->docs, (j->n + n + 1) * sizeof *j->docs);
    memcpy(j->docs + j->n, more, n * sizeof *more);
    j->n += n;
    free(more);
}

/* The options of the flake's hosts (one host with --host), the flake's own among them. */
static int flake_docs(struct docs_job *j, fl_error *err) {
    fl_host_session sess;
    fl_session_opts so;
    fl_cli_session_opts(&so);
    int rc = fl_host_session_open(&sess, &so, NULL, err);
    if (rc < 0)
        return rc;
    char **names = NULL;
    size_t nnames = 0;
    if (j->host_name) {
        names = fl_xcalloc(1, sizeof *names);
        names[0] = fl_xstrdup(j->host_name);
        nnames = 1;
    } else {
        rc = fl_module_host_names_args(sess.L, sess.flake, &sess.args, &names, &nnames, err);
    }
    for (size_t i = 0; rc == 0 && i < nnames; i++) {
        fl_host host;
        rc = fl_host_open_args(sess.L, sess.flake, names[i], &sess.args, &host, err);
        if (rc < 0)
            break;
        fl_option_doc *docs = NULL;
        size_t n = 0;
        rc = fl_module_option_docs(sess.L, &host, &docs, &n, err);
        if (rc == 0)
            docs_append(j, docs, n);
        fl_host_release(&host);
    }
    fl_module_free_names(names, nnames);
    fl_host_session_close(&sess);
    return rc;
}

static int docs_job_run(void *p) {
    struct docs_job *j = p;
    if (j->with_flake && flake_docs(j, &j->flake_err) == 0)
        return 0;
    /* what some hosts gave before another failed is not the flake's whole answer */
    fl_option_docs_free(j->docs, j->n);
    j->docs = NULL;
    j->n = 0;
    /* no flake (or it failed): the bundled modules alone, read from this binary */
    fl_lang_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_stack = fl_cli_eval_stack_limit();
    cfg.frames = fl_opts.show_trace;
    fl_lang *L = fl_lang_new(&cfg);
    fl_module_prepare(L);
    fl_option_doc *docs = NULL;
    size_t n = 0;
    int rc = fl_module_option_docs(L, NULL, &docs, &n, &j->err);
    if (rc == 0)
        docs_append(j, docs, n);
    fl_lang_free(L);
    return rc;
}

static void print_doc(const fl_option_doc *d) {
    printf("%s (%s)\n", d->name, d->type);
    for (const char *p = d->description; *p;) {
        size_t k = strcspn(p, "\n");
        printf("    %.*s\n", (int)k, p);
        p += k;
        if (*p)
            p++;
    }
    if (d->default_text && !strchr(d->default_text, '\n'))
        printf("    default: %s\n", d->default_text);
    if (d->line)
        printf("    declared in %s:%d\n", d->file, d->line);
    else
        printf("    declared in %s\n", d->file);
}

static int docs_command(const char *host, const char *search, const char *reference) {
    struct docs_job j;
    memset(&j, 0, sizeof j);
    j.host_name = host;
    /* the reference is flakectl's own options, whatever directory it is made in */
    if (!reference) {
        fl_error probe = FL_ERROR_INIT;
        char *dir = fl_flake_find_dir(fl_opts.flake_dir, &probe);
        j.with_flake = dir != NULL || fl_opts.flake_dir || host;
        free(dir);
        fl_error_clear(&probe);
    }
    int rc = fl_cli_with_big_stack(docs_job_run, &j);
    if (rc < 0) {
        fl_error_clear(&j.flake_err);
        fl_option_docs_free(j.docs, j.n);
        return fl_cli_report(&j.err);
    }
    if (j.flake_err.code) {
        if (host || fl_opts.flake_dir) {
            /* asked for by name: the flake's options are what the user wants */
            fl_option_docs_free(j.docs, j.n);
            return fl_cli_report(&j.flake_err);
        }
        if (!fl_opts.quiet) {
            fprintf(stderr, "warning: only flakectl's own options are searched; the flake's "
                            "could not be read:\n");
            fl_error_print(&j.flake_err, stderr);
        }
        fl_error_clear(&j.flake_err);
    }
    fl_option_docs_unique(j.docs, &j.n);
    int exit_rc = FL_EXIT_OK;
    if (reference && !strcmp(reference, "man")) {
        fl_man_write_options(j.docs, j.n, stdout);
    } else if (reference) {
        fl_md_write_options(j.docs, j.n, stdout);
    } else {
        size_t shown = 0;
        for (size_t i = 0; i < j.n; i++) {
            if (!fl_option_doc_matches(&j.docs[i], search))
                continue;
            if (shown++)
                putchar('\n');
            print_doc(&j.docs[i]);
        }
        if (!shown) {
            fl_error err = FL_ERROR_INIT;
            fl_error_set(&err, FL_ENOTFOUND, "no option's name or description contains '%s'",
                         search);
            fl_error_set_hint(&err, "try a shorter or another word; 'man 5 "
                                    "flakectl-configuration' lists every option");
            exit_rc = fl_cli_report(&err);
        }
    }
    fl_option_docs_free(j.docs, j.n);
    return exit_rc;
}

typedef struct option_opts {
    const char *host, *name, *search, *reference;
    int json;
} option_opts;

static const char *const reference_formats[] = {"markdown", "man", NULL};

static const fl_opt_spec option_spec[] = {
    FL_OPT_STR_("host", 0, "H", "the host of the flake (default: this machine's host name)",
                option_opts, host, .complete = FL_OPT_V_HOST, .flags = 0),
    FL_OPT_STR_("search", 0, "WORD",
                "list the options whose name or description contains WORD\n"
                "(offline; in a flake, with the options it declares)",
                option_opts, search, .flags = 0),
    /* how docs/options.md and flakectl-configuration(5) are made (cmake/docs.cmake) */
    FL_OPT_CHOICE_("reference", 0, "FORMAT", "print every bundled option as markdown or man",
                   option_opts, reference, reference_formats, .flags = FL_OPT_HIDDEN),
    FL_OPT_FLAG_("json", 0, "print it as JSON (docs/json.md)", option_opts, json, .flags = 0),
    FL_OPT_ARG_("NAME", "the option, e.g. networking.hostName", option_opts, name,
                .complete = FL_OPT_V_OPTION, .flags = 0),
    FL_OPT_END_,
};

static int cmd_option(int argc, char **argv);

const fl_opt_cmd fl_cmd_option = {
    "option",
    "show an option (value, type, default, description, declared and defined in), or --search them",
    "[--host H] [--json] NAME\n--search WORD [--host H]",
    "Shows option NAME (e.g. networking.hostName or\n"
    "home-manager.users.alice.programs.git.userName) of host H: its value, type,\n"
    "default, description, the file:line declaring it and every file:line defining it.\n"
    "\n"
    "--search WORD lists every option whose name or description contains WORD (case\n"
    "ignored), without building anything: flakectl's own options, and inside a flake\n"
    "the options its modules declare (of host H, or of every host), each with the\n"
    "file:line declaring it. 'man 5 flakectl-configuration' lists them all.\n",
    option_spec,
    NULL,
    cmd_option,
};

static int cmd_option(int argc, char **argv) {
    option_opts oo = {NULL, NULL, NULL, NULL, 0};
    int prc = fl_opt_parse(&fl_cmd_option, &oo, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    if (oo.search || oo.reference) {
        if (oo.name)
            return fl_opt_usage(&fl_cmd_option, "give NAME or --search WORD, not both");
        return docs_command(oo.host, oo.search, oo.reference);
    }
    if (!oo.name)
        return fl_opt_usage(&fl_cmd_option, "needs NAME (or --search WORD)");
    struct option_job j = {oo.host, oo.name, FL_ERROR_INIT, oo.json};
    int rc = fl_cli_with_big_stack(option_job_run, &j);
    return rc < 0 ? fl_cli_report(&j.err) : FL_EXIT_OK;
}
