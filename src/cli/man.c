/* man.c - the manual pages of section 1, written from the option parser's tables (opt.h):
 * flakectl(1) from the command list and the global options, flakectl-NAME(1) from each
 * command's synopsis, description and table, subcommands as sections. A command or option
 * without help text stops the generator: a page cannot say less than --help. Also the roff
 * escaping the configuration page (reference.c) shares. Prints only what it is given. */
#include <stdlib.h>
#include <string.h>

#include "flakectl/cli.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"
#include "man.h"

#define MAN_SOURCE "flakectl " FLAKECTL_VERSION
#define MAN_MANUAL "flakectl manual"

/* ---- roff ---- */

/* Where `cmake --install` puts docs/ (cmake/docs.cmake); the help texts name the source
 * tree's docs/X.md, which a reader of an installed page does not have. */
#ifndef FLAKECTL_DOCDIR
#define FLAKECTL_DOCDIR "/usr/local/share/doc/flakectl"
#endif

static int is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '/' || c == '.';
}

void fl_roff_escaped(FILE *out, const char *s, size_t n, int at_start) {
    if (at_start && n && (s[0] == '.' || s[0] == '\''))
        fputs("\\&", out);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == 'd' && n - i > 5 && !memcmp(s + i, "docs/", 5) &&
            (i == 0 || !is_word_char(s[i - 1]))) {
            fl_roff_escaped(out, FLAKECTL_DOCDIR "/", strlen(FLAKECTL_DOCDIR "/"), 0);
            i += 4;
        } else if (c == '\\')
            fputs("\\e", out);
        else if (c == '-')
            fputs("\\-", out);
        else
            fputc(c, out);
    }
}

/* A line of help text; `code` (a command, a path, an option's name, as the help texts write
 * them) is set in bold, backticks dropped, when its closing backtick is on the line. */
static void code_spans(FILE *out, const char *s, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '`')
            continue;
        const char *close = memchr(s + i + 1, '`', n - i - 1);
        if (!close)
            break;
        fl_roff_escaped(out, s + start, i - start, start == 0);
        fputs("\\fB", out);
        fl_roff_escaped(out, s + i + 1, (size_t)(close - s) - i - 1, 0);
        fputs("\\fR", out);
        i = (size_t)(close - s);
        start = i + 1;
    }
    fl_roff_escaped(out, s + start, n - start, start == 0);
}

void fl_roff_text(FILE *out, const char *s) {
    int blank_pending = 0;
    for (const char *p = s ? s : ""; *p;) {
        size_t n = strcspn(p, "\n");
        size_t lead = strspn(p, " \t");
        if (lead >= n) {
            blank_pending = 1;
        } else {
            if (blank_pending)
                fputs(".PP\n", out);
            blank_pending = 0;
            /* an indented line is a literal (an example, a table): kept as written */
            if (lead)
                fputs(".br\n", out);
            code_spans(out, p, n);
            fputc('\n', out);
        }
        p += n;
        if (*p)
            p++;
    }
}

/* Bold text on its own, inside a line ("\fB...\fR"). */
static void roff_bold(FILE *out, const char *s) {
    fputs("\\fB", out);
    fl_roff_escaped(out, s, strlen(s), 0);
    fputs("\\fR", out);
}

void fl_roff_th(FILE *out, const char *name, int section) {
    fputs(".TH \"", out);
    for (const char *p = name; *p; p++)
        fputc(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p, out);
    fprintf(out, "\" \"%d\" \"\" \"%s\" \"%s\"\n", section, MAN_SOURCE, MAN_MANUAL);
    /* names and paths must stay whole: no hyphenation, no stretched spaces */
    fputs(".nh\n.ad l\n", out);
}

/* ---- checking a command ---- */

static int is_positional(const fl_opt_spec *o) {
    return o->kind == FL_OPT_ARG || o->kind == FL_OPT_ARGS || o->kind == FL_OPT_REST;
}

static int takes_value(const fl_opt_spec *o) {
    return o->kind != FL_OPT_FLAG && o->kind != FL_OPT_COUNT && !is_positional(o);
}

typedef struct check_ctx {
    const fl_opt_cmd *cmd;
    fl_error *err;
} check_ctx;

static int check_opt(const fl_opt_spec *o, const fl_opt_spec *group, void *ctx) {
    (void)group;
    check_ctx *c = ctx;
    if (o->flags & FL_OPT_HIDDEN)
        return 0;
    if (o->help && *o->help)
        return 0;
    char sp[96];
    fl_error_set(c->err, FL_EGENERIC, "the %s '%s' of 'flakectl %s' has no help text",
                 is_positional(o) ? "argument" : "option",
                 is_positional(o) ? o->name : fl_opt_spelling(o, sp, sizeof sp), c->cmd->name);
    fl_error_set_hint(c->err, "give its table entry a help string (src/cli/), or mark it "
                              "FL_OPT_HIDDEN if users should not see it");
    return -1;
}

int fl_man_check_command(const fl_opt_cmd *cmd, fl_error *err) {
    if (!cmd->name || !*cmd->name)
        return fl_error_set(err, FL_EGENERIC, "a command in the table has no name");
    if (!cmd->summary || !*cmd->summary) {
        fl_error_set(err, FL_EGENERIC, "the command 'flakectl %s' has no summary", cmd->name);
        fl_error_set_hint(err, "fill in the summary of its fl_opt_cmd (src/cli/): the one line "
                               "'flakectl --help' and its man page show");
        return FL_EGENERIC;
    }
    check_ctx c = {cmd, err};
    if (fl_opt_foreach(cmd->opts, check_opt, &c))
        return FL_EGENERIC;
    for (size_t i = 0; cmd->subs && cmd->subs[i]; i++) {
        int rc = fl_man_check_command(cmd->subs[i], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- a command's page ---- */

static void synopsis(const fl_opt_cmd *cmd, FILE *out) {
    fputs(".nf\n", out);
    const char *s = cmd->synopsis;
    if (!s || !*s) {
        /* what --help prints, without its "usage: " */
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        fl_opt_print_help(cmd, m);
        fclose(m);
        size_t n = strcspn(buf, "\n");
        const char *line = !strncmp(buf, "usage: ", 7) ? buf + 7 : buf;
        fl_roff_escaped(out, line, n - (size_t)(line - buf), 1);
        fputc('\n', out);
        free(buf);
    } else {
        while (*s) {
            size_t n = strcspn(s, "\n");
            roff_bold(out, "flakectl ");
            roff_bold(out, cmd->name);
            fputc(' ', out);
            fl_roff_escaped(out, s, n, 0);
            fputc('\n', out);
            s += n;
            if (*s)
                s++;
        }
    }
    fputs(".fi\n", out);
}

typedef struct opts_ctx {
    FILE *out;
    int positional;
    int shown;
} opts_ctx;

static int write_opt(const fl_opt_spec *o, const fl_opt_spec *group, void *ctx) {
    (void)group;
    opts_ctx *c = ctx;
    if ((o->flags & FL_OPT_HIDDEN) || is_positional(o) != c->positional)
        return 0;
    fputs(".TP\n", c->out);
    if (c->positional) {
        fputs("\\fI", c->out);
        fl_roff_escaped(c->out, o->name, strlen(o->name), 0);
        fputs(o->kind == FL_OPT_ARG ? "\\fR\n" : "\\fR...\n", c->out);
    } else {
        int first = 1;
        char buf[80];
        if (o->short_name) {
            snprintf(buf, sizeof buf, "-%c", o->short_name);
            roff_bold(c->out, buf);
            first = 0;
        }
        if (o->alias) {
            fputs(first ? "" : ", ", c->out);
            roff_bold(c->out, o->alias);
            first = 0;
        }
        if (o->name) {
            snprintf(buf, sizeof buf, "--%s", o->name);
            fputs(first ? "" : ", ", c->out);
            roff_bold(c->out, buf);
        }
        if (takes_value(o)) {
            fputs(" \\fI", c->out);
            const char *v = o->value_name ? o->value_name : "VALUE";
            fl_roff_escaped(c->out, v, strlen(v), 0);
            fputs("\\fR", c->out);
        }
        fputc('\n', c->out);
    }
    fl_roff_text(c->out, o->help);
    if (o->kind == FL_OPT_LIST || o->kind == FL_OPT_PAIRS)
        fputs("(may be given more than once)\n", c->out);
    c->shown++;
    return 0;
}

/* The options and arguments of one table, under the section headings given; help: the
 * -h/--help entry ends the options (a command's page always has them). */
static void options_sections(const fl_opt_spec *table, FILE *out, const char *args_head,
                             const char *opts_head, const char *help) {
    for (int positional = 1; positional >= 0; positional--) {
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        opts_ctx c = {m, positional, 0};
        fl_opt_foreach(table, write_opt, &c);
        if (!positional && help) {
            fprintf(m, ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\n%s\n", help);
            c.shown++;
        }
        fclose(m);
        if (c.shown)
            fprintf(out, "%s\n%s", positional ? args_head : opts_head, buf);
        free(buf);
    }
}

static void description(const fl_opt_cmd *cmd, FILE *out) {
    if (cmd->description) {
        fl_roff_text(out, cmd->description);
    } else {
        /* the summary, as a sentence */
        char first = cmd->summary[0];
        fputc(first >= 'a' && first <= 'z' ? first - 'a' + 'A' : first, out);
        fl_roff_escaped(out, cmd->summary + 1, strlen(cmd->summary + 1), 0);
        fputs(".\n", out);
    }
}

static void page_name(const fl_opt_cmd *cmd, char *buf, size_t n) {
    snprintf(buf, n, "flakectl-%s", cmd->name);
    for (char *p = buf; *p; p++)
        if (*p == ' ')
            *p = '-';
}

static void global_options_note(FILE *out) {
    fputs(".SH GLOBAL OPTIONS\nThe options of \\fBflakectl\\fR(1) are accepted before or "
          "after the command:\n",
          out);
    int first = 1;
    for (const fl_opt_spec *o = fl_opt_global_spec; o->kind != FL_OPT_END; o++) {
        if (o->flags & FL_OPT_HIDDEN)
            continue;
        char sp[96];
        fputs(first ? "" : ",\n", out);
        roff_bold(out, fl_opt_spelling(o, sp, sizeof sp));
        first = 0;
    }
    fputs(".\n", out);
}

static void exit_status(FILE *out) {
    fputs(".SH EXIT STATUS\n.TP\n0\nSuccess.\n.TP\n1\nThe operation failed (an evaluation "
          "error, a failed build or activation, ...); the message says what and where.\n"
          ".TP\n2\nThe command line is wrong (an unknown option, a missing argument).\n",
          out);
}

int fl_man_write_command(const fl_opt_cmd *cmd, FILE *out, fl_error *err) {
    int rc = fl_man_check_command(cmd, err);
    if (rc < 0)
        return rc;
    char name[128];
    page_name(cmd, name, sizeof name);
    fl_roff_th(out, name, 1);
    fputs(".SH NAME\n", out);
    fl_roff_escaped(out, name, strlen(name), 1);
    fputs(" \\- ", out);
    fl_roff_escaped(out, cmd->summary, strlen(cmd->summary), 0);
    fputs("\n.SH SYNOPSIS\n", out);
    synopsis(cmd, out);
    fputs(".SH DESCRIPTION\n", out);
    description(cmd, out);
    options_sections(cmd->opts, out, ".SH ARGUMENTS", ".SH OPTIONS",
                     "Show the command's help and exit.");
    if (cmd->subs) {
        fputs(".SH COMMANDS\n", out);
        for (size_t i = 0; cmd->subs[i]; i++) {
            const fl_opt_cmd *s = cmd->subs[i];
            fputs(".SS \"", out);
            fl_roff_escaped(out, "flakectl ", 9, 0);
            fl_roff_escaped(out, s->name, strlen(s->name), 0);
            fputs("\"\n", out);
            synopsis(s, out);
            fputs(".PP\n", out);
            description(s, out);
            options_sections(s->opts, out, ".PP\nArguments:", ".PP\nOptions:", NULL);
        }
    }
    global_options_note(out);
    exit_status(out);
    fputs(".SH SEE ALSO\n\\fBflakectl\\fR(1), \\fBflakectl\\-configuration\\fR(5)\n", out);
    return 0;
}

int fl_man_write_top(const fl_opt_cmd *const *cmds, FILE *out, fl_error *err) {
    for (size_t i = 0; cmds[i]; i++) {
        int rc = fl_man_check_command(cmds[i], err);
        if (rc < 0)
            return rc;
    }
    fl_roff_th(out, "flakectl", 1);
    fputs(".SH NAME\nflakectl \\- build, switch and deploy machines from a Nix\\-syntax "
          "flake\n.SH SYNOPSIS\n.nf\n\\fBflakectl\\fR [\\fIglobal options\\fR] \\fIcommand\\fR "
          "[\\fIargs\\fR]\n\\fBflakectl help\\fR \\fIcommand\\fR\n.fi\n",
          out);
    fputs(".SH DESCRIPTION\nflakectl evaluates a flake (a directory with \\fIflake.nix\\fR "
          "declaring \\fIhosts\\fR) with a module system like NixOS's, builds each host's "
          "configuration into a content\\-addressed store and activates it as a numbered "
          "generation, here or over SSH.\n.PP\nThe options a host's configuration can set "
          "are listed in \\fBflakectl\\-configuration\\fR(5); \\fBflakectl option \\-\\-search\\fR "
          "\\fIWORD\\fR searches them.\n",
          out);
    fputs(".SH COMMANDS\n", out);
    for (size_t i = 0; cmds[i]; i++) {
        char name[128];
        page_name(cmds[i], name, sizeof name);
        fputs(".TP\n", out);
        roff_bold(out, cmds[i]->name);
        fputc('\n', out);
        fl_roff_escaped(out, cmds[i]->summary, strlen(cmds[i]->summary), 1);
        fputs(" (\\fB", out);
        fl_roff_escaped(out, name, strlen(name), 0);
        fputs("\\fR(1))\n", out);
    }
    options_sections(fl_opt_global_spec, out, ".SH ARGUMENTS", ".SH GLOBAL OPTIONS",
                     "List the commands and exit.");
    fputs(".TP\n\\fB\\-\\-version\\fR\nPrint the version and exit.\n", out);
    fputs(".SH ENVIRONMENT\n"
          ".TP\n\\fBFLAKECTL_STATE_DIR\\fR\nThe state directory when \\fB\\-\\-state\\-dir\\fR "
          "is not given (default \\fI/var/lib/flakectl\\fR).\n"
          ".TP\n\\fBFLAKECTL_ROOT\\fR\nThe root to apply beneath when \\fB\\-\\-root\\fR is "
          "not given (default \\fI/\\fR).\n"
          ".TP\n\\fBNO_COLOR\\fR\nWhen set, no colour unless \\fB\\-\\-color always\\fR.\n"
          ".TP\n\\fBXDG_CACHE_HOME\\fR\nWhere the bundled modules are unpacked "
          "(\\fI$XDG_CACHE_HOME/flakectl\\fR, else \\fI~/.cache/flakectl\\fR).\n",
          out);
    fputs(".SH FILES\n.TP\n\\fI/var/lib/flakectl/store\\fR\nThe store.\n"
          ".TP\n\\fI/var/lib/flakectl/profiles/system\\-N\\-link\\fR\nThe generations.\n",
          out);
    exit_status(out);
    fputs(".SH SEE ALSO\n", out);
    for (size_t i = 0; cmds[i]; i++) {
        char name[128];
        page_name(cmds[i], name, sizeof name);
        fputs("\\fB", out);
        fl_roff_escaped(out, name, strlen(name), 0);
        fputs("\\fR(1), ", out);
    }
    fputs("\\fBflakectl\\-configuration\\fR(5)\n", out);
    return 0;
}

/* Renders a page into memory, then replaces the file at once. */
static int write_page(const char *dir, const char *file, const fl_opt_cmd *cmd, fl_error *err) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int rc = cmd ? fl_man_write_command(cmd, m, err) : fl_man_write_top(fl_opt_commands(), m, err);
    fclose(m);
    if (rc == 0) {
        char *path = fl_path_join(dir, file);
        rc = fl_atomic_write_file(path, buf, len, 0644, err);
        free(path);
    }
    free(buf);
    return rc;
}

int fl_man_write_all(const char *dir, fl_error *err) {
    const fl_opt_cmd *const *cmds = fl_opt_commands();
    for (size_t i = 0; cmds[i]; i++) {
        int rc = fl_man_check_command(cmds[i], err);
        if (rc < 0)
            return rc;
    }
    int rc = fl_mkdir_p(dir, 0755, err);
    if (rc == 0)
        rc = write_page(dir, "flakectl.1", NULL, err);
    for (size_t i = 0; rc == 0 && cmds[i]; i++) {
        char name[128], file[140];
        page_name(cmds[i], name, sizeof name);
        snprintf(file, sizeof file, "%s.1", name);
        rc = write_page(dir, file, cmds[i], err);
    }
    return rc;
}

int fl_man_command(int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    if (argc != 2 || !*argv[1]) {
        fl_error_set(&err, FL_EUSAGE, "help --man needs one directory");
        fl_error_set_hint(&err, "flakectl help --man DIR writes flakectl.1 and a "
                                "flakectl-COMMAND.1 per command into DIR");
        return fl_cli_report(&err);
    }
    if (fl_man_write_all(argv[1], &err) < 0)
        return fl_cli_report(&err);
    return FL_EXIT_OK;
}
