/* eval.c - `flakectl eval`: evaluate a Nix-syntax expression or file and print it exactly as
 * `nix-instantiate --eval [--strict] [--json]` does. Owns its option parsing and usage text;
 * the evaluation itself is src/lang/. Runs the evaluator on a thread with a large stack so
 * deep (but finite) recursion works; too deep recursion is an error, never a crash. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/cli.h"
#include "flakectl/lang.h"
#include "flakectl/module.h"
#include "opt.h"
#include "options.h"

#define EVAL_STACK (64u << 20) /* what Nix itself runs with */

struct job {
    const char *expr, *file, *attr;
    const char **includes; /* -I, in order */
    size_t nincludes;
    int strict, json;
    int rc;
    fl_error err;
    fl_strbuf out;
    fl_strbuf errtext; /* with --show-trace: the error as nix-instantiate prints it */
};

static void *run(void *arg) {
    struct job *j = arg;
    fl_lang_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_stack = EVAL_STACK - (4u << 20);
    cfg.frames = fl_opts.show_trace;
    cfg.frames_nix = fl_opts.show_trace;
    cfg.include_paths = j->includes;
    cfg.ninclude_paths = j->nincludes;
    cfg.nix_path = getenv("NIX_PATH");
    cfg.trace = fl_cli_trace;
    fl_fetch_store fetched = {fl_opts.state_dir, NULL};
    fl_module_fetch_hooks(&cfg, &fetched);
    /* Import from derivation builds only in a store the user named: like nix-instantiate
     * --eval (read-only without --read-write-mode), a plain eval writes nothing it need not
     * (docs/language.md) */
    if (!fl_opts.state_dir_given)
        cfg.hooks.realise = NULL;
    fl_lang *L = fl_lang_new(&cfg);
    fl_value *v = NULL;
    int rc;
    if (j->expr)
        rc = fl_lang_eval_string(L, j->expr, "«string»", NULL, &v, &j->err);
    else
        rc = fl_lang_eval_file(L, j->file, &v, &j->err);
    if (rc == 0 && j->attr)
        rc = fl_lang_select_path(L, v, j->attr, &v, &j->err);
    if (rc == 0) {
        if (j->json)
            rc = fl_lang_print_json(L, v, j->strict, &j->out, &j->err);
        else
            rc = fl_lang_print(L, v, j->strict, &j->out, &j->err);
    }
    j->rc = rc;
    if (rc < 0 && cfg.frames_nix)
        fl_lang_format_error(L, &j->err, &j->errtext);
    fl_lang_free(L);
    fl_module_fetch_store_close(&fetched);
    return NULL;
}

/* Like fl_error_print, but the source line of an --expr error comes from the expression
 * itself (there is no file to read it from). */
int fl_cli_report_source(fl_error *err, const char *expr) {
    fprintf(stderr, "error: %s\n", err->message ? err->message : "unknown error");
    fprintf(stderr, "       at %s:%d:%d:\n", err->file, err->line, err->col);
    const char *p = expr;
    for (int l = 1; l < err->line && p; l++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (p && err->line > 0) {
        size_t n = strcspn(p, "\n");
        fprintf(stderr, "\n%6d| %.*s\n", err->line, (int)n, p);
        if (err->col > 0) {
            fputs("      | ", stderr);
            for (int i = 1; i < err->col && (size_t)(i - 1) < n; i++)
                fputc(p[i - 1] == '\t' ? '\t' : ' ', stderr);
            fputs("^\n", stderr);
        }
        fputc('\n', stderr);
    }
    for (int i = 0; i < err->nframes; i++)
        fprintf(stderr, "       … %s\n", err->frames[i]);
    if (err->hint)
        fprintf(stderr, "       hint: %s\n", err->hint);
    fl_error_clear(err);
    return FL_EXIT_FAILURE;
}

typedef struct eval_opts {
    const char *expr, *file, *host, *arg, *attr;
    int strict, json;
    fl_opt_list includes;
} eval_opts;

static const fl_opt_spec eval_spec[] = {
    FL_OPT_STR_("expr", 0, "EXPR", "evaluate EXPR", eval_opts, expr, .alias = "-E"),
    FL_OPT_STR_("file", 0, "FILE", "evaluate FILE", eval_opts, file,
                .complete = FL_OPT_V_FILE, .flags = 0),
    FL_OPT_STR_("host", 0, "H", "a value of host H's merged configuration", eval_opts, host,
                .complete = FL_OPT_V_HOST, .flags = 0),
    FL_OPT_STR_("attr", 'A', "PATH", "the value at attribute path PATH (a.b.0), as\n"
                                      "nix-instantiate -A selects it",
                eval_opts, attr, .flags = 0),
    FL_OPT_FLAG_("strict", 0, "force the value deeply first", eval_opts, strict, .flags = 0),
    FL_OPT_FLAG_("json", 0, "print JSON", eval_opts, json, .flags = 0),
    FL_OPT_LIST_("include", 'I', "PATH", "look <name> up in PATH (prefix=path or path) before\n"
                                        "$NIX_PATH; repeatable, first match wins",
                 eval_opts, includes, .complete = FL_OPT_V_DIR, .flags = 0),
    FL_OPT_ARG_("FILE|OPTION.PATH", "the file (or, with --host, the option path)", eval_opts, arg,
                .complete = FL_OPT_V_OPTION_OR_FILE, .flags = 0),
    FL_OPT_END_,
};

static int cmd_eval(int argc, char **argv);

const fl_opt_cmd fl_cmd_eval = {
    "eval",
    "evaluate an expression, a file, or a host's option (--host H PATH)",
    "(--expr EXPR | --file FILE) [-A PATH] [--strict] [--json] [-I PATH]...\n--host H [OPTION.PATH] [--json]",
    "With --host: a value of host H's merged configuration (e.g. networking.hostName);\n"
    "with --json and no path, the host's whole resolved profile.\n"
    "Evaluates a Nix-syntax expression and prints its value like\n"
    "`nix-instantiate --eval`: --strict forces the value deeply first, --json prints JSON.\n"
    "<name> is looked up in the -I entries (prefix=path or path), then in $NIX_PATH.\n",
    eval_spec,
    NULL,
    cmd_eval,
};

/* A usage error after parsing: the parsed options go first. */
static int eval_usage(eval_opts *eo, const char *fmt, const char *arg) {
    int rc = arg ? fl_opt_usage(&fl_cmd_eval, fmt, arg) : fl_opt_usage(&fl_cmd_eval, "%s", fmt);
    fl_opt_release(&fl_cmd_eval, eo);
    return rc;
}

static int cmd_eval(int argc, char **argv) {
    struct job j;
    eval_opts eo;
    memset(&j, 0, sizeof j);
    memset(&eo, 0, sizeof eo);
    int prc = fl_opt_parse(&fl_cmd_eval, &eo, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    const char *host = eo.host;
    int with_host = host != NULL;
    j.expr = eo.expr;
    j.strict = eo.strict;
    j.json = eo.json;
    j.file = eo.file;
    j.attr = eo.attr;
    j.includes = eo.includes.v;
    j.nincludes = eo.includes.n;
    if (eo.arg && !j.file && !j.expr)
        j.file = eo.arg;
    else if (eo.arg)
        return eval_usage(&eo, "unexpected argument '%s'", eo.arg);
    if (with_host) {
        if (j.expr)
            return eval_usage(&eo, "--host and --expr do not go together", NULL);
        /* The positional argument is an option path here, not a file. */
        int hrc = fl_cli_eval_host(host, j.file, j.json);
        fl_opt_release(&fl_cmd_eval, &eo);
        return hrc;
    }
    if (!j.expr == !j.file)
        return eval_usage(&eo, "give exactly one of --expr EXPR or --file FILE", NULL);
    fl_strbuf_init(&j.out, 0);
    fl_strbuf_init(&j.errtext, 0);
    pthread_attr_t attr;
    pthread_t th;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, EVAL_STACK);
    if (pthread_create(&th, &attr, run, &j) != 0) {
        pthread_attr_destroy(&attr);
        run(&j);
    } else {
        pthread_join(th, NULL);
        pthread_attr_destroy(&attr);
    }
    fl_opt_release(&fl_cmd_eval, &eo);
    if (j.rc < 0) {
        fl_strbuf_release(&j.out);
        if (j.errtext.len) {
            fwrite(j.errtext.buf, 1, j.errtext.len, stderr);
            fl_strbuf_release(&j.errtext);
            fl_error_clear(&j.err);
            return FL_EXIT_FAILURE;
        }
        if (j.expr && j.err.file && !strcmp(j.err.file, "«string»"))
            return fl_cli_report_source(&j.err, j.expr);
        return fl_cli_report(&j.err);
    }
    fl_strbuf_release(&j.errtext);
    /* nix-instantiate ends a value with a newline, but not JSON. */
    if (!j.json)
        fl_strbuf_addch(&j.out, '\n');
    fwrite(j.out.buf, 1, j.out.len, stdout);
    fl_strbuf_release(&j.out);
    return fflush(stdout) == 0 ? FL_EXIT_OK : FL_EXIT_FAILURE;
}
