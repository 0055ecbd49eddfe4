/* completion.c - `flakectl completion bash|zsh|fish`: prints a completion script whose
 * commands, options, choices and value kinds are generated from the option tables (opt.h)
 * in front of the shell's hand-written walk (src/cli/completion/), so the scripts cannot
 * drift from the parser. The scripts call the hidden `completion --values KIND` for what only
 * the flake or the state directory knows: host names, @tags, option paths, generations.
 * Prints only: the lookups are src/module's and src/activate's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "completion.h"
#include "flakectl/activate.h"
#include "flakectl/cli.h"
#include "flakectl/flake.h"
#include "flakectl/module.h"
#include "flakectl/strbuf.h"
#include "opt.h"
#include "needroot.h"
#include "options.h"

/* ---- the data: one line per subcommand, option and positional ----
 * PATH TAB TYPE TAB NAME TAB KIND TAB DESCRIPTION (src/cli/completion/ reads it). No field is
 * empty ("." is the top level, "-" a subcommand's kind): a shell's read collapses tabs. */

static const char *const kind_names[] = {
    [FL_OPT_V_NONE] = "none",
    [FL_OPT_V_FILE] = "file",
    [FL_OPT_V_DIR] = "dir",
    [FL_OPT_V_HOST] = "host",
    [FL_OPT_V_SELECTION] = "selection",
    [FL_OPT_V_OPTION] = "option",
    [FL_OPT_V_OPTION_OR_FILE] = "option_or_file",
    [FL_OPT_V_GENERATION] = "generation",
    [FL_OPT_V_SSH_HOST] = "ssh_host",
    [FL_OPT_V_COMMAND] = "command",
};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == FL_OPT_V_COMMAND + 1,
               "every fl_opt_value needs its name for the scripts");

/* The first line of a help text, without the characters a data line cannot hold. */
static void add_desc(fl_strbuf *d, const char *help) {
    for (const char *h = help ? help : ""; *h && *h != '\n'; h++)
        fl_strbuf_addch(d, *h == '\t' ? ' ' : *h);
}

static void add_line(fl_strbuf *d, const char *path, char type, const char *name, const char *kind,
                     const char *help) {
    fl_strbuf_addf(d, "%s\t%c\t%s\t%s\t", path, type, name, kind);
    add_desc(d, help);
    fl_strbuf_addch(d, '\n');
}

static void kind_of(const fl_opt_spec *o, fl_strbuf *k) {
    if (o->choices) {
        fl_strbuf_addch(k, '{');
        for (size_t i = 0; o->choices[i]; i++)
            fl_strbuf_addf(k, "%s%s", i ? "," : "", o->choices[i]);
        fl_strbuf_addch(k, '}');
    } else if (o->kind == FL_OPT_FLAG || o->kind == FL_OPT_COUNT) {
        fl_strbuf_adds(k, "flag");
    } else if (o->kind == FL_OPT_PAIRS) {
        fl_strbuf_adds(k, "pair");
    } else {
        fl_strbuf_adds(k, kind_names[o->complete]);
    }
}

typedef struct data_ctx {
    fl_strbuf *d;
    const char *path;
} data_ctx;

static int add_opt(const fl_opt_spec *o, const fl_opt_spec *group, void *p) {
    (void)group;
    data_ctx *c = p;
    if (o->flags & FL_OPT_HIDDEN)
        return 0;
    fl_strbuf k = FL_STRBUF_INIT;
    kind_of(o, &k);
    const char *kind = fl_strbuf_cstr(&k);
    if (o->kind == FL_OPT_ARG || o->kind == FL_OPT_ARGS || o->kind == FL_OPT_REST) {
        char type = o->kind == FL_OPT_ARG ? 'p' : o->kind == FL_OPT_ARGS ? 'P' : 'r';
        add_line(c->d, c->path, type, o->name, kind, o->help);
    } else {
        char spelling[64];
        if (o->name) {
            snprintf(spelling, sizeof spelling, "--%s", o->name);
            add_line(c->d, c->path, 'o', spelling, kind, o->help);
        }
        if (o->short_name) {
            snprintf(spelling, sizeof spelling, "-%c", o->short_name);
            add_line(c->d, c->path, 'o', spelling, kind, o->help);
        }
        if (o->alias)
            add_line(c->d, c->path, 'o', o->alias, kind, o->help);
    }
    fl_strbuf_release(&k);
    return 0;
}

/* The last word of a (sub)command's name: "add" of "store add". */
static const char *word_of(const fl_opt_cmd *c) {
    const char *w = strrchr(c->name, ' ');
    return w ? w + 1 : c->name;
}

static void add_cmds(fl_strbuf *d, const char *path, const fl_opt_cmd *const *cmds) {
    for (size_t i = 0; cmds && cmds[i]; i++) {
        const fl_opt_cmd *c = cmds[i];
        add_line(d, path, 'c', word_of(c), "-", c->summary);
        data_ctx ctx = {d, c->name};
        fl_opt_foreach(c->opts, add_opt, &ctx);
        add_cmds(d, c->name, c->subs);
    }
}

static void build_data(fl_strbuf *d) {
    add_cmds(d, ".", fl_opt_commands());
    add_line(d, ".", 'c', "help", "-", "describe a command (help CMD [SUB])");
    data_ctx ctx = {d, "*"};
    fl_opt_foreach(fl_opt_global_spec, add_opt, &ctx);
    add_line(d, "*", 'o', "--help", "flag", "show the command's help");
    add_line(d, "*", 'o', "-h", "flag", "show the command's help");
    add_line(d, ".", 'o', "--version", "flag", "print the version");
}

/* ---- the scripts ---- */

static const struct fl_cli_file *script_half(const char *name) {
    for (const struct fl_cli_file *f = fl_cli_completion_files; f->name; f++)
        if (!strcmp(f->name, name))
            return f;
    return NULL;
}

/* Writes s as one single-quoted shell word: POSIX shells close the quote around a quote,
 * fish escapes it. */
static void put_quoted(FILE *out, const char *s, int fish) {
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'')
            fputs(fish ? "\\'" : "'\\''", out);
        else if (fish && *s == '\\')
            fputs("\\\\", out);
        else
            fputc(*s, out);
    }
    fputc('\'', out);
}

static int print_script(const char *shell) {
    static const struct {
        const char *shell, *file, *head;
    } shells[] = {
        {"bash", "flakectl.bash",
         "# bash completion for flakectl, generated by `flakectl completion bash` from its option\n"
         "# tables. Installed as share/bash-completion/completions/flakectl; or put\n"
         "# 'source <(flakectl completion bash)' in ~/.bashrc.\n"},
        {"zsh", "_flakectl.zsh",
         "#compdef flakectl\n"
         "# zsh completion for flakectl, generated by `flakectl completion zsh` from its option\n"
         "# tables. Installed as share/zsh/site-functions/_flakectl (a directory in $fpath); or\n"
         "# put 'source <(flakectl completion zsh)' after compinit in ~/.zshrc.\n"},
        {"fish", "flakectl.fish",
         "# fish completion for flakectl, generated by `flakectl completion fish` from its option\n"
         "# tables. Installed as share/fish/vendor_completions.d/flakectl.fish; or save it as\n"
         "# ~/.config/fish/completions/flakectl.fish.\n"},
    };
    for (size_t i = 0; i < sizeof shells / sizeof shells[0]; i++) {
        if (strcmp(shells[i].shell, shell))
            continue;
        const struct fl_cli_file *half = script_half(shells[i].file);
        fl_strbuf d = FL_STRBUF_INIT;
        build_data(&d);
        fputs(shells[i].head, stdout);
        int fish = !strcmp(shell, "fish");
        if (fish) {
            /* a list, one element a line */
            fputs("set -g __flakectl_data", stdout);
            for (char *line = d.buf, *nl; line && *line; line = nl + 1) {
                nl = strchr(line, '\n');
                *nl = '\0';
                fputs(" \\\n    ", stdout);
                put_quoted(stdout, line, 1);
            }
            fputs("\n\n", stdout);
        } else {
            fputs("_flakectl_data=", stdout);
            put_quoted(stdout, d.buf ? d.buf : "", 0);
            fputs("\n\n", stdout);
        }
        fl_strbuf_release(&d);
        if (!fish) {
            /* the lookups bash and zsh share, in the syntax both read */
            const struct fl_cli_file *common = script_half("common.sh");
            fwrite(common->data, 1, common->len, stdout);
            fputc('\n', stdout);
        }
        fwrite(half->data, 1, half->len, stdout);
        return FL_EXIT_OK;
    }
    return -1;
}

/* ---- --values: what only the flake or the state directory knows ---- */

typedef struct values_job {
    const char *kind, *host, *word;
    fl_error err;
} values_job;

/* The session for listing: no lock file written, no warnings. A user who cannot write the
 * state directory (TAB comes before sudo), or anyone before the state directory exists,
 * evaluates with a store of their own under the cache directory: listing names builds
 * nothing that matters, and a TAB must not create the machine's state. *scratch owned. */
static void listing_opts(fl_session_opts *so, char **scratch) {
    fl_cli_session_opts(so);
    so->no_write_lock = 1;
    so->warnings = NULL;
    *scratch = fl_cli_listing_state_dir("completion-state");
    if (*scratch)
        so->state_dir = *scratch;
}

/* Whether name is one of the comma-separated elements of list[0..len). */
static int listed(const char *list, size_t len, const char *name) {
    size_t nl = strlen(name);
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && list[e] != ',')
            e++;
        if (e - i == nl && !strncmp(list + i, name, nl))
            return 1;
        i = e + 1;
    }
    return 0;
}

/* One candidate: the word's elements before its last comma, then name, unless name is one
 * of them already (--on a,b: each element after the last comma). */
static void put_element(const char *word, size_t head, const char *prefix, const char *name) {
    char *el = fl_xasprintf("%s%s", prefix, name);
    if (!listed(word, head ? head - 1 : 0, el))
        printf("%.*s%s\n", (int)head, word, el);
    free(el);
}

/* Host names; with tags, every @tag too (--on's selection, a comma list: the candidates
 * complete the element after the word's last comma). */
static int print_hosts(values_job *j, int tags) {
    fl_session_opts so;
    char *scratch;
    listing_opts(&so, &scratch);
    const char *word = j->word ? j->word : "";
    const char *comma = tags ? strrchr(word, ',') : NULL;
    size_t head = comma ? (size_t)(comma - word) + 1 : 0;
    fl_host_deploy *hosts = NULL;
    size_t n = 0;
    int rc = fl_module_list_deploy(&so, &hosts, &n, &j->err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        put_element(word, head, "", hosts[i].name);
    if (rc == 0 && tags) {
        /* each tag once, in the order first seen */
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < hosts[i].ntags; t++) {
                int seen = 0;
                for (size_t k = 0; k <= i && !seen; k++)
                    for (size_t u = 0; u < hosts[k].ntags && !seen; u++)
                        seen = (k < i || u < t) && !strcmp(hosts[k].tags[u], hosts[i].tags[t]);
                if (!seen)
                    put_element(word, head, "@", hosts[i].tags[t]);
            }
    }
    fl_host_deploy_free(hosts, n);
    free(scratch);
    return rc;
}

/* The option paths one level below the word's last dot that start like its last part. */
static int print_options(values_job *j) {
    const char *word = j->word ? j->word : "";
    /* the parent ends at the last dot outside quotes */
    size_t cut = 0;
    int quoted = 0;
    for (size_t i = 0; word[i]; i++) {
        if (word[i] == '"')
            quoted = !quoted;
        else if (word[i] == '.' && !quoted)
            cut = i + 1;
    }
    char *parent = fl_xstrndup(word, cut ? cut - 1 : 0);
    const char *last = word + cut;
    char *default_host = j->host ? NULL : fl_host_default_name();
    fl_session_opts so;
    char *scratch;
    listing_opts(&so, &scratch);
    fl_host_session sess;
    int rc = fl_host_session_open(&sess, &so, j->host ? j->host : default_host, &j->err);
    free(default_host);
    if (rc == 0) {
        char **names = NULL;
        size_t n = 0;
        rc = fl_host_option_children(&sess.host, parent, &names, &n, &j->err);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            /* a name that is no plain identifier is written quoted, as the path syntax wants */
            int plain =
                names[i][0] != '\0' && strspn(names[i], "abcdefghijklmnopqrstuvwxyz"
                                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                        "0123456789_-'") == strlen(names[i]);
            fl_strbuf w = FL_STRBUF_INIT;
            fl_strbuf_addf(&w, plain ? "%s" : "\"%s\"", names[i]);
            if (!strncmp(w.buf, last, strlen(last)))
                printf("%s%s%s\n", parent, cut ? "." : "", w.buf);
            fl_strbuf_release(&w);
        }
        fl_module_free_names(names, n);
        fl_host_session_close(&sess);
    }
    free(parent);
    free(scratch);
    return rc;
}

static int values_run(void *p) {
    values_job *j = p;
    if (!strcmp(j->kind, "host"))
        return print_hosts(j, 0);
    if (!strcmp(j->kind, "selection"))
        return print_hosts(j, 1);
    if (!strcmp(j->kind, "options"))
        return print_options(j);
    /* generation */
    fl_generation *g = NULL;
    size_t n = 0;
    if (fl_gen_list(fl_opts.state_dir, fl_opts.root, &g, &n, &j->err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        printf("%d\n", g[i].number);
    fl_gen_list_free(g, n);
    return 0;
}

/* ---- the command ---- */

typedef struct completion_opts {
    const char *values, *host, *arg;
} completion_opts;

static const char *const shell_choices[] = {"bash", "zsh", "fish", NULL};
static const char *const value_choices[] = {"host", "selection", "options", "generation", NULL};

static const fl_opt_spec completion_spec[] = {
    FL_OPT_CHOICE_("values", 0, "KIND", "print the candidates for a value (the scripts' helper)",
                   completion_opts, values, value_choices, .flags = FL_OPT_HIDDEN),
    FL_OPT_STR_("host", 0, "H", "with --values options: the host", completion_opts, host,
                .flags = FL_OPT_HIDDEN),
    FL_OPT_ARG_("SHELL", "bash, zsh or fish", completion_opts, arg, .choices = shell_choices,
                .flags = 0),
    FL_OPT_END_,
};

static int cmd_completion(int argc, char **argv);

const fl_opt_cmd fl_cmd_completion = {
    "completion",
    "print the shell completion script for bash, zsh or fish",
    "bash|zsh|fish",
    "Prints the completion script for SHELL: commands, options and their choices, host\n"
    "names and @tags of the current flake, option paths for eval and option, generation\n"
    "numbers for rollback --to. `cmake --install` puts the scripts where each shell looks;\n"
    "by hand: 'source <(flakectl completion bash)' in ~/.bashrc, the same with zsh after\n"
    "compinit in ~/.zshrc, or 'flakectl completion fish > ~/.config/fish/completions/\n"
    "flakectl.fish'.\n",
    completion_spec,
    NULL,
    cmd_completion,
};

static int cmd_completion(int argc, char **argv) {
    completion_opts co = {NULL, NULL, NULL};
    int rc = fl_opt_parse(&fl_cmd_completion, &co, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    if (co.values) {
        values_job j = {co.values, co.host, co.arg, FL_ERROR_INIT};
        fflush(stdout);
        rc = fl_cli_with_big_stack(values_run, &j);
        fflush(stdout);
        return rc < 0 ? fl_cli_report(&j.err) : FL_EXIT_OK;
    }
    if (!co.arg)
        return fl_opt_usage(&fl_cmd_completion, "needs SHELL (bash, zsh or fish)");
    if (print_script(co.arg) < 0)
        return fl_opt_usage(&fl_cmd_completion, "unknown shell '%s'", co.arg);
    return FL_EXIT_OK;
}
