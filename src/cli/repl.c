/* repl.c - `flakectl repl [--host H]`: reads expressions and commands (:t, :doc, :p, :q,
 * :?) and prints what the module layer's fl_repl answers. On a terminal the line editor is
 * libedit (history in $XDG_STATE_HOME/flakectl/repl-history, TAB completes attribute names);
 * otherwise stdin is read line by line, so the repl is scriptable. Evaluation lives in
 * src/module/repl.c, never here. */
#include <histedit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/cli.h"
#include "flakectl/fs.h"
#include "flakectl/module.h"
#include "opt.h"

#define PROMPT "flakectl> "
#define PROMPT_MORE "        > "
#define HISTORY_MAX 1000

static const char help_text[] =
    "  EXPR        evaluate EXPR (config, lib, pkgs and host in scope with --host)\n"
    "  NAME = EXPR bind NAME to EXPR's value for the inputs that follow\n"
    "  :p EXPR     evaluate EXPR and print all of it\n"
    "  :t EXPR     for config.OPTION its type and description, else the value's type\n"
    "  :doc EXPR   as :t, with an option's default and declaration, a function's place\n"
    "  :?          this help\n"
    "  :q          quit (also Ctrl-D)\n"
    "  TAB completes attribute names: config.services.<TAB>\n";

/* What one session keeps between lines: an expression that is still open (multi-line input,
 * as `nix repl`: a line that ends inside an expression waits for the next). */
struct repl_in {
    fl_repl *r;
    fl_strbuf pending;
};

enum { LINE_OK = 0, LINE_QUIT = 1, LINE_MORE = 2, LINE_FAILED = -1 };

/* Prints a result (a binding's is empty) or the error, located in the input when it is there. */
static int show(fl_strbuf *out, fl_error *err, int rc, const char *src) {
    if (rc == 0) {
        fputs(out->buf, stdout);
        if (out->len && out->buf[out->len - 1] != '\n')
            fputc('\n', stdout);
    } else if (err->file && !strcmp(err->file, "«repl»"))
        fl_cli_report_source(err, src);
    else
        fl_cli_report(err);
    fl_strbuf_release(out);
    return rc == 0 ? LINE_OK : LINE_FAILED;
}

/* A command line (":t x"): runs it; returns a LINE_ code. */
static int run_command(fl_repl *r, const char *text) {
    size_t w = strcspn(text, " \t");
    const char *arg = text + w + strspn(text + w, " \t");
    int mode = 0;
    if (!strncmp(text, ":q", w) || !strncmp(text, ":quit", w))
        return LINE_QUIT;
    if (!strncmp(text, ":?", w) || !strncmp(text, ":help", w)) {
        fputs(help_text, stdout);
        return LINE_OK;
    }
    if (w == 2 && (text[1] == 't' || text[1] == 'p'))
        mode = text[1];
    else if (w == 4 && !strncmp(text, ":doc", 4))
        mode = 'd';
    else {
        fprintf(stderr, "error: unknown command '%.*s'\n       hint: :? lists the commands\n",
                (int)w, text);
        return LINE_FAILED;
    }
    if (!*arg) {
        fprintf(stderr, "error: %.*s needs an expression, e.g. %.*s config.networking.hostName\n",
                (int)w, text, (int)w, text);
        return LINE_FAILED;
    }
    fl_strbuf out;
    fl_strbuf_init(&out, 0);
    fl_error err = FL_ERROR_INIT;
    int rc = mode == 'p' ? fl_repl_eval(r, arg, FL_REPL_DEEP, &out, &err)
                         : fl_repl_type(r, arg, mode == 'd', &out, &err);
    return show(&out, &err, rc, arg);
}

/* Runs one input line; last: no more lines will come (an open expression is an error). */
static int run_line(struct repl_in *in, const char *line, int last) {
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (in->pending.len)
        fl_strbuf_addch(&in->pending, '\n');
    else {
        while (n && (*line == ' ' || *line == '\t'))
            line++, n--;
        if (n == 0 || line[0] == '#')
            return LINE_OK;
    }
    fl_strbuf_add(&in->pending, line, n);
    char *text = fl_strbuf_detach(&in->pending, NULL);
    fl_strbuf_init(&in->pending, 0);
    int rc;
    if (text[0] == ':')
        rc = run_command(in->r, text);
    else {
        fl_strbuf out;
        fl_strbuf_init(&out, 0);
        fl_error err = FL_ERROR_INIT;
        int erc = fl_repl_eval(in->r, text, last ? 0 : FL_REPL_PARTIAL, &out, &err);
        if (erc == FL_REPL_MORE) {
            fl_strbuf_release(&out);
            fl_strbuf_adds(&in->pending, text);
            rc = LINE_MORE;
        } else
            rc = show(&out, &err, erc, text);
    }
    fflush(stdout);
    free(text);
    return rc;
}

/* ---- the terminal: libedit ---- */

static char *prompt(EditLine *el) {
    struct repl_in *in = NULL;
    el_get(el, EL_CLIENTDATA, &in);
    return (char *)(in && in->pending.len ? PROMPT_MORE : PROMPT);
}

static int is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '\'' || c == '.' || c == ':';
}

/* TAB: the longest common completion is inserted; several candidates are listed. */
static unsigned char complete(EditLine *el, int ch) {
    (void)ch;
    struct repl_in *in = NULL;
    el_get(el, EL_CLIENTDATA, &in);
    fl_repl *r = in->r;
    const LineInfo *li = el_line(el);
    const char *start = li->cursor;
    while (start > li->buffer && is_word_char(start[-1]))
        start--;
    char *word = fl_xstrndup(start, (size_t)(li->cursor - start));
    char **c = NULL;
    size_t n = 0;
    fl_repl_complete(r, word, &c, &n);
    unsigned char res = CC_REFRESH_BEEP;
    if (n > 0) {
        size_t common = strlen(c[0]);
        for (size_t i = 1; i < n; i++) {
            size_t k = 0;
            while (k < common && c[i][k] == c[0][k])
                k++;
            common = k;
        }
        size_t have = strlen(word);
        if (common > have) {
            char *ins = fl_xstrndup(c[0] + have, common - have);
            el_insertstr(el, ins);
            free(ins);
            res = CC_REFRESH;
        }
        if (common <= have && !(n == 1 && common == strlen(c[0]))) {
            fputc('\n', stdout);
            for (size_t i = 0; i < n && i < 200; i++) {
                const char *shown = strrchr(c[i], '.');
                printf("%s%s", i ? "  " : "", shown ? shown + 1 : c[i]);
            }
            printf("%s\n", n > 200 ? "  ..." : "");
            fflush(stdout);
            res = CC_REDISPLAY;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(c[i]);
    free(c);
    free(word);
    return res;
}

static char *history_path(void) {
    const char *state = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    if (state && *state == '/')
        return fl_xasprintf("%s/flakectl/repl-history", state);
    if (home && *home)
        return fl_xasprintf("%s/.local/state/flakectl/repl-history", home);
    return NULL;
}

/* History is written whole to a fresh temporary file beside it and renamed over it: a crash
 * never leaves half a file. (libedit writes only to a named file, not to a stream.) */
static void save_history(History *h, const char *path) {
    fl_error err = FL_ERROR_INIT;
    HistEvent ev;
    char *dir = fl_xstrdup(path);
    *strrchr(dir, '/') = '\0';
    char *tmp = fl_xasprintf("%s.tmp-XXXXXX", path);
    int fd = -1;
    if (fl_mkdir_p(dir, 0700, &err) < 0)
        goto out;
    if ((fd = mkstemp(tmp)) < 0) {
        fl_error_errno(&err, "cannot create %s", tmp);
        goto out;
    }
    close(fd);
    if (history(h, &ev, H_SAVE, tmp) < 0) {
        fl_error_set(&err, FL_EIO, "cannot write %s", tmp);
        unlink(tmp);
        goto out;
    }
    if (fl_atomic_rename(tmp, path, &err) < 0)
        unlink(tmp);
out:
    if (err.message)
        fprintf(stderr, "warning: the repl's history was not saved: %s\n", err.message);
    fl_error_clear(&err);
    free(tmp);
    free(dir);
}

static int interactive(struct repl_in *in, const char *argv0) {
    EditLine *el = el_init(argv0, stdin, stdout, stderr);
    History *h = history_init();
    HistEvent ev;
    char *hpath = history_path();
    history(h, &ev, H_SETSIZE, HISTORY_MAX);
    history(h, &ev, H_SETUNIQUE, 1);
    if (hpath)
        history(h, &ev, H_LOAD, hpath);
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_SIGNAL, 1);
    el_set(el, EL_PROMPT, prompt);
    el_set(el, EL_HIST, history, h);
    el_set(el, EL_CLIENTDATA, in);
    el_set(el, EL_ADDFN, "flakectl-complete", "complete an attribute name", complete);
    el_set(el, EL_BIND, "^I", "flakectl-complete", NULL);
    el_source(el, NULL);
    printf("flakectl repl: :? for help, :q to quit\n");
    for (;;) {
        int count = 0;
        const char *line = el_gets(el, &count);
        if (!line || count <= 0) {
            fputc('\n', stdout);
            break;
        }
        if (strspn(line, " \t\n") != strlen(line))
            history(h, &ev, H_ENTER, line);
        if (run_line(in, line, 0) == LINE_QUIT)
            break;
    }
    if (hpath)
        save_history(h, hpath);
    free(hpath);
    history_end(h);
    el_end(el);
    return 0;
}

/* Not a terminal: one input a line (an open expression goes on on the next line); the exit
 * status says whether any failed. */
static int piped(struct repl_in *in) {
    char *line = NULL;
    size_t cap = 0;
    int failed = 0, rc = LINE_OK;
    while (getline(&line, &cap, stdin) >= 0) {
        rc = run_line(in, line, 0);
        if (rc == LINE_QUIT)
            break;
        failed |= rc == LINE_FAILED;
    }
    /* the input ended inside an expression: say so, located */
    if (rc == LINE_MORE)
        failed |= run_line(in, "", 1) == LINE_FAILED;
    free(line);
    return failed;
}

typedef struct repl_opts {
    const char *host;
} repl_opts;

struct repl_job {
    repl_opts o;
    int failed;
    fl_error err;
};

static int repl_job_run(void *p) {
    struct repl_job *j = p;
    fl_host_session sess;
    fl_session_opts so;
    fl_cli_session_opts(&so);
    fl_lang *bare = NULL;
    fl_host *host = NULL;
    int rc;
    if (j->o.host) {
        /* plan mode: a package prints the store path it would have; nothing is built */
        rc = fl_host_session_open_plan(&sess, &so, j->o.host, &j->err);
        if (rc < 0)
            return rc;
        host = &sess.host;
    } else {
        fl_lang_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.max_stack = so.max_stack;
        cfg.frames = so.frames;
        cfg.nix_path = getenv("NIX_PATH");
        bare = fl_lang_new(&cfg);
    }
    fl_repl *r = NULL;
    rc = fl_repl_new(host ? host->L : bare, host, &r, &j->err);
    if (rc == 0) {
        struct repl_in in = {r, {0}};
        fl_strbuf_init(&in.pending, 0);
        if (isatty(STDIN_FILENO))
            j->failed = interactive(&in, "flakectl");
        else
            j->failed = piped(&in);
        fl_strbuf_release(&in.pending);
        fl_repl_free(r);
    }
    if (host)
        fl_host_session_close(&sess);
    else
        fl_lang_free(bare);
    return rc;
}

static const fl_opt_spec repl_spec[] = {
    FL_OPT_STR_("host", 0, "H", "put host H's config, pkgs and host in scope", repl_opts, host,
                .flags = 0),
    FL_OPT_END_,
};

static int cmd_repl(int argc, char **argv);

const fl_opt_cmd fl_cmd_repl = {
    "repl",
    "evaluate expressions interactively (config, lib, pkgs, host in scope)",
    "[--host H]",
    "Reads expressions and prints their values. With --host H, config, lib, pkgs and host\n"
    "of host H are in scope; without it, builtins and lib. TAB completes attribute names\n"
    "(config.services.<TAB>); :t config.OPTION shows an option's type and description, :doc\n"
    "more, :p prints a value whole, :q quits, :? helps. History is kept in\n"
    "$XDG_STATE_HOME/flakectl/repl-history (~/.local/state when unset). When stdin is not a\n"
    "terminal, each line is one input and the exit status is 1 if any failed.\n",
    repl_spec,
    NULL,
    cmd_repl,
};

static int cmd_repl(int argc, char **argv) {
    struct repl_job j = {{NULL}, 0, FL_ERROR_INIT};
    int prc = fl_opt_parse(&fl_cmd_repl, &j.o, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    int rc = fl_cli_with_big_stack(repl_job_run, &j);
    if (rc < 0)
        return fl_cli_report(&j.err);
    return j.failed ? FL_EXIT_FAILURE : FL_EXIT_OK;
}
