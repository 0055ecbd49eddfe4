/* opt.c - the one command-line parser: reads argv against a command's table (opt.h), prints
 * --help from the same table, and reports every usage error through fl_opt_usage with a
 * "did you mean" from the table's own spellings. Knows nothing of what the options mean. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "man.h"
#include "opt.h"
#include "term.h"
#include "flakectl/cli.h"
#include "flakectl/error.h"
#include "flakectl/strbuf.h"

static const char *const color_choices[] = {"auto", "always", "never", NULL};

const fl_opt_spec fl_opt_global_spec[] = {
    FL_OPT_STR_("flake", 0, "DIR", "the flake (default: the nearest flake.nix upward)",
                fl_global_options, flake_dir, .complete = FL_OPT_V_DIR, .flags = 0),
    FL_OPT_STR_("state-dir", 0, "DIR", "the store and generations (default /var/lib/flakectl;\n"
                                       "FLAKECTL_STATE_DIR)",
                fl_global_options, state_dir, .complete = FL_OPT_V_DIR, .flags = 0),
    FL_OPT_STR_("root", 0, "DIR", "apply beneath DIR instead of / (FLAKECTL_ROOT)",
                fl_global_options, root, .complete = FL_OPT_V_DIR, .flags = 0),
    FL_OPT_FLAG_("show-trace", 0, "show every frame of an evaluation error", fl_global_options,
                 show_trace, .flags = 0),
    FL_OPT_COUNT_("verbose", 'v', "say more", fl_global_options, verbose),
    FL_OPT_FLAG_("quiet", 0, "say only what went wrong", fl_global_options, quiet, .flags = 0),
    FL_OPT_CHOICE_("color", 0, "WHEN", "auto, always or never (NO_COLOR is honoured)",
                   fl_global_options, color_mode, color_choices, .flags = 0),
    FL_OPT_FLAG_("no-write-lock-file", 0, "never write flake.lock", fl_global_options,
                 no_write_lock_file, .flags = 0),
    {.kind = FL_OPT_PAIRS,
     .name = "override-input",
     .value_name = "NAME PATH|URL",
     .help = "use PATH or URL for input NAME (not written to flake.lock)",
     .offset = offsetof(fl_global_options, override_list)},
    FL_OPT_LIST_("substituters", 0, "URLS", "binary caches to fetch from before building\n"
                                            "(docs/cache.md)",
                 fl_global_options, substituters, .flags = 0),
    FL_OPT_LIST_("trusted-public-key", 0, "KEY", "a key whose signatures those caches need",
                 fl_global_options, trusted_keys, .flags = 0),
    FL_OPT_END_,
};

/* ---- walking ---- */

int fl_opt_foreach(const fl_opt_spec *table, fl_opt_visit_fn fn, void *ctx) {
    for (const fl_opt_spec *o = table; o && o->kind != FL_OPT_END; o++) {
        if (o->kind == FL_OPT_GROUP) {
            for (const fl_opt_spec *g = o->group; g->kind != FL_OPT_END; g++) {
                int rc = g->kind == FL_OPT_GROUP ? fl_opt_foreach(g, fn, ctx) : fn(g, o, ctx);
                if (rc)
                    return rc;
            }
            continue;
        }
        int rc = fn(o, NULL, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

static int is_positional(const fl_opt_spec *o) {
    return o->kind == FL_OPT_ARG || o->kind == FL_OPT_ARGS || o->kind == FL_OPT_REST;
}

const char *fl_opt_spelling(const fl_opt_spec *o, char *buf, size_t n) {
    if (o->name)
        snprintf(buf, n, "--%s", o->name);
    else if (o->short_name)
        snprintf(buf, n, "-%c", o->short_name);
    else
        snprintf(buf, n, "%s", o->alias ? o->alias : "?");
    return buf;
}

/* Finds the option a token names, with the base its fields live in. Groups nest. */
typedef struct found {
    const fl_opt_spec *o;
    char *base;
} found;

static int lookup(const fl_opt_spec *table, char *base, const char *name, size_t len, int is_long,
                  found *out) {
    for (const fl_opt_spec *o = table; o && o->kind != FL_OPT_END; o++) {
        if (o->kind == FL_OPT_GROUP) {
            if (lookup(o->group, base + o->offset, name, len, is_long, out))
                return 1;
            continue;
        }
        if (is_positional(o))
            continue;
        int hit;
        if (is_long)
            hit = o->name && strlen(o->name) == len && !strncmp(o->name, name, len);
        else
            hit = (len == 1 && o->short_name == name[0]);
        /* the alias is a whole spelling, dashes included */
        if (!hit && o->alias) {
            const char *a = o->alias;
            size_t skip = is_long ? 2 : 1;
            hit = strlen(a) == len + skip && !strncmp(a + skip, name, len) &&
                  (is_long ? !strncmp(a, "--", 2) : a[0] == '-' && a[1] != '-');
        }
        if (hit) {
            out->o = o;
            out->base = base;
            return 1;
        }
    }
    return 0;
}

/* ---- did you mean ---- */

typedef struct suggest {
    const char *typed;
    char best[64];
    size_t dist;
} suggest;

static void consider(suggest *s, const char *cand) {
    size_t d = fl_edit_distance(s->typed, cand);
    if (d < s->dist) {
        s->dist = d;
        snprintf(s->best, sizeof s->best, "%s", cand);
    }
}

static int consider_opt(const fl_opt_spec *o, const fl_opt_spec *group, void *ctx) {
    (void)group;
    suggest *s = ctx;
    char buf[64];
    if (is_positional(o) || (o->flags & FL_OPT_HIDDEN))
        return 0;
    if (o->name) {
        snprintf(buf, sizeof buf, "--%s", o->name);
        consider(s, buf);
    }
    if (o->short_name) {
        snprintf(buf, sizeof buf, "-%c", o->short_name);
        consider(s, buf);
    }
    if (o->alias)
        consider(s, o->alias);
    return 0;
}

/* Close enough to be a typo: at most a third of the word, and at least one edit allowed. */
static int close_enough(const suggest *s) {
    size_t len = strlen(s->typed);
    size_t limit = len / 3 > 2 ? len / 3 : 2;
    return s->best[0] && s->dist <= limit && s->dist < len;
}

static int suggest_option(const fl_opt_cmd *cmd, const char *typed, char *out, size_t n) {
    suggest s = {typed, "", (size_t)-1};
    static const fl_opt_spec help[] = {
        {.kind = FL_OPT_FLAG, .name = "help", .short_name = 'h'},
        FL_OPT_END_,
    };
    fl_opt_foreach(cmd ? cmd->opts : NULL, consider_opt, &s);
    fl_opt_foreach(fl_opt_global_spec, consider_opt, &s);
    fl_opt_foreach(help, consider_opt, &s);
    if (!close_enough(&s))
        return 0;
    snprintf(out, n, "%s", s.best);
    return 1;
}

static int suggest_word(const char *typed, const fl_opt_cmd *const *cmds, char *out, size_t n) {
    suggest s = {typed, "", (size_t)-1};
    for (size_t i = 0; cmds && cmds[i]; i++) {
        const char *w = strrchr(cmds[i]->name, ' ');
        consider(&s, w ? w + 1 : cmds[i]->name);
    }
    if (!close_enough(&s))
        return 0;
    snprintf(out, n, "%s", s.best);
    return 1;
}

/* ---- the reporter ---- */

/* Every usage error ends with where to read on: the hint (if any), then the command's help,
 * or the command list when there is no command. */
static void set_usage_hint(fl_error *err, const char *hint, const char *name) {
    if (hint && name)
        fl_error_set_hint(err, "%s (see 'flakectl %s --help')", hint, name);
    else if (hint)
        fl_error_set_hint(err, "%s", hint);
    else if (name)
        fl_error_set_hint(err, "see 'flakectl %s --help'", name);
    else
        fl_error_set_hint(err, "run 'flakectl --help' for the list");
}

static int usage_v(const fl_opt_cmd *cmd, const char *hint, const char *fmt, va_list ap) {
    fl_error err = FL_ERROR_INIT;
    fl_strbuf msg = FL_STRBUF_INIT;
    if (cmd && cmd->name)
        fl_strbuf_addf(&msg, "%s: ", cmd->name);
    fl_strbuf_vaddf(&msg, fmt, ap);
    fl_error_set(&err, FL_EUSAGE, "%s", msg.buf);
    fl_strbuf_release(&msg);
    set_usage_hint(&err, hint, cmd && cmd->name ? cmd->name : NULL);
    return fl_cli_report(&err);
}

int fl_opt_usage(const fl_opt_cmd *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = usage_v(cmd, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

static int usage_hint(const fl_opt_cmd *cmd, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int usage_hint(const fl_opt_cmd *cmd, const char *hint, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = usage_v(cmd, hint, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- values ---- */

static void list_push(fl_opt_list *l, const char *v) {
    l->v = fl_xrealloc(l->v, (l->n + 2) * sizeof *l->v);
    l->v[l->n++] = v;
    l->v[l->n] = NULL;
}

static int parse_int(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    if (!*s || *s == ' ' || *s == '+')
        return -1;
    long long v = strtoll(s, &end, 10);
    if (*end || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_duration(const char *s, int bare, long long *out) {
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -1;
    long long n = strtoll(s, &end, 10);
    if (errno)
        return -1;
    static const struct {
        const char *u;
        long long mult;
    } units[] = {{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 7 * 86400}};
    long long mult = 0;
    if (!*end && bare)
        mult = 1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].u))
            mult = units[i].mult;
    if (!mult || n > LLONG_MAX / mult)
        return -1;
    *out = n * mult;
    return 0;
}

/* Stores value (and, for PAIRS, value2) through o into base; a usage error otherwise. */
static int apply(const fl_opt_cmd *cmd, const fl_opt_spec *o, char *base, const char *typed,
                 const char *value, const char *value2) {
    void *field = base + o->offset;
    long long n;
    switch (o->kind) {
    case FL_OPT_FLAG:
        *(int *)field = o->ival ? (int)o->ival : 1;
        return 0;
    case FL_OPT_COUNT:
        ++*(int *)field;
        return 0;
    case FL_OPT_STRING:
        *(const char **)field = value;
        return 0;
    case FL_OPT_CHOICE:
        for (size_t i = 0; o->choices[i]; i++)
            if (!strcmp(o->choices[i], value)) {
                *(const char **)field = value;
                return 0;
            }
        {
            fl_strbuf list = FL_STRBUF_INIT;
            for (size_t i = 0; o->choices[i]; i++)
                fl_strbuf_addf(&list, "%s%s", i ? (o->choices[i + 1] ? ", " : " or ") : "",
                               o->choices[i]);
            int rc = fl_opt_usage(cmd, "%s takes %s, not '%s'", typed, list.buf, value);
            fl_strbuf_release(&list);
            return rc;
        }
    case FL_OPT_INT:
        if (parse_int(value, o->min, o->max, &n) < 0) {
            if (o->min == 1 && o->max >= INT_MAX / 1000)
                return fl_opt_usage(cmd, "%s takes a positive number, not '%s'", typed, value);
            return fl_opt_usage(cmd, "%s takes a whole number from %lld to %lld, not '%s'", typed,
                                o->min, o->max, value);
        }
        *(int *)field = (int)n;
        return 0;
    case FL_OPT_DURATION:
        if (parse_duration(value, (o->flags & FL_OPT_BARE) != 0, &n) < 0)
            return usage_hint(cmd, "write e.g. 30d, 12h, 90m or 3600s",
                              "%s '%s' is not a duration", typed, value);
        *(long long *)field = n;
        return 0;
    case FL_OPT_LIST:
    case FL_OPT_ARGS:
    case FL_OPT_REST:
        list_push(field, value);
        return 0;
    case FL_OPT_PAIRS:
        list_push(field, value);
        list_push(field, value2);
        return 0;
    case FL_OPT_ARG:
        *(const char **)field = value;
        return 0;
    default:
        return fl_opt_usage(cmd, "internal: option %s has no kind", typed);
    }
}

static int takes_value(const fl_opt_spec *o) {
    return o->kind != FL_OPT_FLAG && o->kind != FL_OPT_COUNT;
}

/* ---- parsing ---- */

static const char default_state_dir[] = "/var/lib/flakectl";

static void resolve_globals(void) {
    fl_global_options *g = &fl_opts;
    g->color = fl_term_color(stderr);
    g->override_inputs = g->override_list.v;
    g->noverride_inputs = (int)(g->override_list.n / 2);
    /* called again after a command's own options: the default must not count as given */
    if (!g->state_dir || !*g->state_dir) {
        g->state_dir_given = 0;
        g->state_dir = default_state_dir;
    } else if (g->state_dir != default_state_dir) {
        g->state_dir_given = 1;
    }
    if (!g->root || !*g->root)
        g->root = "/";
}

/* The positionals of cmd's table, in order (groups hold none). */
static size_t positionals(const fl_opt_cmd *cmd, const fl_opt_spec **out, size_t max) {
    size_t n = 0;
    for (const fl_opt_spec *o = cmd->opts; o && o->kind != FL_OPT_END; o++)
        if (is_positional(o) && n < max)
            out[n++] = o;
    return n;
}

/* The named options given so far, for the check of the FL_OPT_REQUIRED ones. */
typedef struct seen_opts {
    const fl_opt_spec **v;
    size_t n;
    const fl_opt_spec *missing; /* the first required option not given */
} seen_opts;

static int find_missing(const fl_opt_spec *o, const fl_opt_spec *group, void *ctx) {
    (void)group;
    seen_opts *s = ctx;
    if (is_positional(o) || !(o->flags & FL_OPT_REQUIRED))
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == o)
            return 0;
    s->missing = o;
    return 1;
}

static int parse(const fl_opt_cmd *cmd, void *vbase, int argc, char **argv,
                 unsigned char *local) {
    char *base = vbase;
    const fl_opt_spec *pos[8];
    size_t npos = positionals(cmd, pos, 8), p = 0;
    size_t *filled = fl_xcalloc(npos + 1, sizeof *filled);
    seen_opts seen = {fl_xcalloc((size_t)argc + 1, sizeof *seen.v), 0, NULL};
    int only_args = 0, rc = FL_OPT_RUN;
    for (int i = 1; i < argc && rc == FL_OPT_RUN; i++) {
        const char *a = argv[i];
        if (!only_args && !strcmp(a, "--")) {
            only_args = 1;
            continue;
        }
        if (!only_args && a[0] == '-' && a[1]) {
            if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
                fl_opt_print_help(cmd, stdout);
                rc = FL_EXIT_OK;
                break;
            }
            int is_long = a[1] == '-';
            const char *name = a + (is_long ? 2 : 1);
            const char *eq = is_long ? strchr(name, '=') : NULL;
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            found f = {NULL, NULL};
            int global = 0;
            if (!lookup(cmd->opts, base, name, len, is_long, &f)) {
                global = lookup(fl_opt_global_spec, (char *)&fl_opts, name, len, is_long, &f);
            }
            char typed[128];
            snprintf(typed, sizeof typed, "%.*s", (int)(len + (is_long ? 2 : 1)), a);
            if (!f.o) {
                char hint[96], best[64];
                if (suggest_option(cmd, typed, best, sizeof best)) {
                    snprintf(hint, sizeof hint, "did you mean '%s'?", best);
                    rc = usage_hint(cmd, hint, "unknown option '%s'", typed);
                } else {
                    rc = fl_opt_usage(cmd, "unknown option '%s'", typed);
                }
                break;
            }
            if (local && (global || (f.o->flags & FL_OPT_LOCAL)))
                local[i] = 1;
            seen.v[seen.n++] = f.o;
            if (!takes_value(f.o)) {
                if (eq) {
                    rc = fl_opt_usage(cmd, "%s takes no value", typed);
                    break;
                }
                rc = apply(cmd, f.o, f.base, typed, NULL, NULL);
                if (rc == 0)
                    rc = FL_OPT_RUN;
                continue;
            }
            const char *value = eq ? eq + 1 : NULL, *value2 = NULL;
            if (!value) {
                if (i + 1 >= argc) {
                    rc = fl_opt_usage(cmd, "%s needs a value (%s)", typed,
                                      f.o->value_name ? f.o->value_name : "VALUE");
                    break;
                }
                value = argv[++i];
                if (local && (global || (f.o->flags & FL_OPT_LOCAL)))
                    local[i] = 1;
            }
            if (f.o->kind == FL_OPT_PAIRS) {
                if (i + 1 >= argc) {
                    rc = fl_opt_usage(cmd, "%s needs two values (%s)", typed, f.o->value_name);
                    break;
                }
                value2 = argv[++i];
                if (local)
                    local[i] = local[i - 1];
            }
            rc = apply(cmd, f.o, f.base, typed, value, value2);
            if (rc == 0)
                rc = FL_OPT_RUN;
            continue;
        }
        /* a positional */
        while (p < npos && pos[p]->kind == FL_OPT_ARG && filled[p])
            p++;
        if (p >= npos) {
            rc = fl_opt_usage(cmd, "unexpected argument '%s'", a);
            break;
        }
        apply(cmd, pos[p], base, a, a, NULL);
        filled[p]++;
        if (pos[p]->kind == FL_OPT_REST)
            only_args = 1;
    }
    for (size_t k = 0; rc == FL_OPT_RUN && k < npos; k++)
        if ((pos[k]->flags & FL_OPT_REQUIRED) && !filled[k])
            rc = fl_opt_usage(cmd, "needs %s%s", pos[k]->name,
                              pos[k]->kind == FL_OPT_ARG ? "" : "...");
    if (rc == FL_OPT_RUN && fl_opt_foreach(cmd->opts, find_missing, &seen)) {
        char spelled[64];
        fl_opt_spelling(seen.missing, spelled, sizeof spelled);
        if (takes_value(seen.missing))
            rc = fl_opt_usage(cmd, "needs %s %s", spelled,
                              seen.missing->value_name ? seen.missing->value_name : "VALUE");
        else
            rc = fl_opt_usage(cmd, "needs %s", spelled);
    }
    free(seen.v);
    free(filled);
    resolve_globals();
    if (rc != FL_OPT_RUN)
        fl_opt_release(cmd, vbase);
    return rc;
}

int fl_opt_parse(const fl_opt_cmd *cmd, void *base, int argc, char **argv) {
    return parse(cmd, base, argc, argv, NULL);
}

int fl_opt_parse_marked(const fl_opt_cmd *cmd, void *base, int argc, char **argv,
                        unsigned char *local) {
    return parse(cmd, base, argc, argv, local);
}

static void release_table(const fl_opt_spec *table, char *base) {
    for (const fl_opt_spec *o = table; o && o->kind != FL_OPT_END; o++) {
        if (o->kind == FL_OPT_GROUP) {
            release_table(o->group, base + o->offset);
        } else if (o->kind == FL_OPT_LIST || o->kind == FL_OPT_PAIRS || o->kind == FL_OPT_ARGS ||
                   o->kind == FL_OPT_REST) {
            fl_opt_list *l = (fl_opt_list *)(base + o->offset);
            free(l->v);
            l->v = NULL;
            l->n = 0;
        }
    }
}

void fl_opt_release(const fl_opt_cmd *cmd, void *base) {
    release_table(cmd->opts, base);
}

/* ---- help ---- */

static void print_entry(FILE *out, const char *left, const char *help) {
    fprintf(out, "  %s", left);
    size_t w = strlen(left) + 2;
    if (w > 26) {
        fputc('\n', out);
        w = 0;
    }
    for (const char *h = help ? help : ""; *h;) {
        size_t n = strcspn(h, "\n");
        fprintf(out, "%*s%.*s\n", (int)(28 - w), "", (int)n, h);
        w = 0;
        h += n;
        if (*h)
            h++;
    }
    if (!help || !*help)
        fputc('\n', out);
}

static void option_left(const fl_opt_spec *o, char *buf, size_t n) {
    fl_strbuf b = FL_STRBUF_INIT;
    if (o->short_name)
        fl_strbuf_addf(&b, "-%c", o->short_name);
    if (o->alias)
        fl_strbuf_addf(&b, "%s%s", b.len ? ", " : "", o->alias);
    if (o->name)
        fl_strbuf_addf(&b, "%s--%s", b.len ? ", " : "", o->name);
    if (takes_value(o))
        fl_strbuf_addf(&b, " %s", o->value_name ? o->value_name : "VALUE");
    snprintf(buf, n, "%s", b.buf ? b.buf : "");
    fl_strbuf_release(&b);
}

typedef struct help_ctx {
    FILE *out;
    int positional;
    int shown;
} help_ctx;

static int print_opt(const fl_opt_spec *o, const fl_opt_spec *group, void *ctx) {
    (void)group;
    help_ctx *h = ctx;
    if ((o->flags & FL_OPT_HIDDEN) || is_positional(o) != h->positional)
        return 0;
    char left[96];
    if (h->positional)
        snprintf(left, sizeof left, "%s%s", o->name, o->kind == FL_OPT_ARG ? "" : "...");
    else
        option_left(o, left, sizeof left);
    if (o->kind == FL_OPT_LIST || o->kind == FL_OPT_PAIRS) {
        char more[160];
        snprintf(more, sizeof more, "%s (may repeat)", o->help ? o->help : "");
        print_entry(h->out, left, more);
    } else {
        print_entry(h->out, left, o->help);
    }
    h->shown++;
    return 0;
}

/* A required named option belongs in the synopsis: " --name VALUE". */
static int print_required(const fl_opt_spec *o, const fl_opt_spec *group, void *ctx) {
    (void)group;
    if (is_positional(o) || !(o->flags & FL_OPT_REQUIRED))
        return 0;
    char spelled[64];
    fprintf(ctx, " %s", fl_opt_spelling(o, spelled, sizeof spelled));
    if (takes_value(o))
        fprintf(ctx, " %s", o->value_name ? o->value_name : "VALUE");
    return 0;
}

static void print_synopsis(const fl_opt_cmd *cmd, FILE *out) {
    if (!cmd->synopsis) {
        fprintf(out, "usage: flakectl %s%s", cmd->name, cmd->opts || cmd->subs ? " [options]" : "");
        for (const fl_opt_spec *o = cmd->opts; o && o->kind != FL_OPT_END; o++) {
            if (!is_positional(o))
                continue;
            int req = (o->flags & FL_OPT_REQUIRED) != 0;
            fprintf(out, " %s%s%s%s", req ? "" : "[", o->name, o->kind == FL_OPT_ARG ? "" : "...",
                    req ? "" : "]");
        }
        fl_opt_foreach(cmd->opts, print_required, out);
        if (cmd->subs)
            fputs(" <command> [args]", out);
        fputc('\n', out);
        return;
    }
    const char *s = cmd->synopsis;
    if (!*s)
        fprintf(out, "usage: flakectl %s\n", cmd->name);
    for (int first = 1; *s; first = 0) {
        size_t n = strcspn(s, "\n");
        fprintf(out, "%s flakectl %s %.*s\n", first ? "usage:" : "      ", cmd->name, (int)n, s);
        s += n;
        if (*s)
            s++;
    }
}

void fl_opt_print_help(const fl_opt_cmd *cmd, FILE *out) {
    print_synopsis(cmd, out);
    if (cmd->description)
        fprintf(out, "\n%s", cmd->description);
    else if (cmd->summary)
        fprintf(out, "\n%s.\n", cmd->summary);
    help_ctx h = {out, 1, 0};
    fputc('\n', out);
    fl_opt_foreach(cmd->opts, print_opt, &h);
    if (h.shown)
        fputc('\n', out);
    if (cmd->subs) {
        fputs("commands:\n", out);
        for (size_t i = 0; cmd->subs[i]; i++) {
            const char *w = strrchr(cmd->subs[i]->name, ' ');
            fprintf(out, "  %-14s %s\n", w ? w + 1 : cmd->subs[i]->name, cmd->subs[i]->summary);
        }
        fprintf(out, "\n'flakectl %s COMMAND --help' describes each.\n\n", cmd->name);
    }
    h.positional = 0;
    h.shown = 0;
    fputs("options:\n", out);
    fl_opt_foreach(cmd->opts, print_opt, &h);
    print_entry(out, "-h, --help", "show this help");
    fputs("\nglobal options (before or after the command): --flake DIR, --state-dir DIR,\n"
          "  --root DIR, --show-trace, -v/--verbose, --quiet, --color WHEN,\n"
          "  --no-write-lock-file, --override-input NAME PATH|URL, --substituters URLS,\n"
          "  --trusted-public-key KEY (see 'flakectl --help')\n",
          out);
}

/* ---- subcommands ---- */

static const fl_opt_cmd *find_sub(const fl_opt_cmd *const *cmds, const char *word) {
    for (size_t i = 0; cmds && cmds[i]; i++) {
        const char *w = strrchr(cmds[i]->name, ' ');
        if (!strcmp(w ? w + 1 : cmds[i]->name, word))
            return cmds[i];
    }
    return NULL;
}

static int unknown_word(const fl_opt_cmd *parent, const fl_opt_cmd *const *cmds,
                        const char *word) {
    char best[64];
    fl_error err = FL_ERROR_INIT;
    const char *name = parent ? parent->name : NULL;
    fl_error_set(&err, FL_EUSAGE, "unknown %s%scommand '%s'", name ? name : "",
                 name ? " sub" : "", word);
    char hint[96];
    int close = suggest_word(word, cmds, best, sizeof best);
    if (close)
        snprintf(hint, sizeof hint, "did you mean '%s'?", best);
    set_usage_hint(&err, close ? hint : NULL, name);
    return fl_cli_report(&err);
}

const fl_opt_cmd *fl_opt_find(const char *const *words, size_t nwords) {
    const fl_opt_cmd *const *cmds = fl_opt_commands();
    const fl_opt_cmd *c = NULL;
    for (size_t i = 0; i < nwords; i++) {
        c = find_sub(cmds, words[i]);
        if (!c)
            return NULL;
        cmds = c->subs;
    }
    return c;
}

/* `help [WORD...]` below parent (NULL: the top level). */
static int help_for(const fl_opt_cmd *parent, const fl_opt_cmd *const *cmds, int n,
                    char **words) {
    const fl_opt_cmd *c = parent;
    /* `help switch --host x`: the help of what the words before the options name */
    for (int i = 0; i < n; i++)
        if (words[i][0] == '-')
            n = i;
    for (int i = 0; i < n; i++) {
        const fl_opt_cmd *next = find_sub(cmds, words[i]);
        if (!next)
            return unknown_word(c, cmds, words[i]);
        c = next;
        cmds = c->subs;
    }
    fl_opt_print_help(c, stdout);
    return FL_EXIT_OK;
}

int fl_opt_dispatch(const fl_opt_cmd *cmd, int argc, char **argv) {
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fl_opt_print_help(cmd, stdout);
            return FL_EXIT_OK;
        }
        if (a[0] != '-' || !a[1])
            break;
        /* global options may come before the subcommand's word */
        int is_long = a[1] == '-';
        const char *name = a + (is_long ? 2 : 1);
        const char *eq = is_long ? strchr(name, '=') : NULL;
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        found f = {NULL, NULL};
        char typed[128];
        snprintf(typed, sizeof typed, "%.*s", (int)(len + (is_long ? 2 : 1)), a);
        if (!lookup(fl_opt_global_spec, (char *)&fl_opts, name, len, is_long, &f)) {
            char best[64], hint[96];
            if (suggest_option(NULL, typed, best, sizeof best)) {
                snprintf(hint, sizeof hint, "did you mean '%s'?", best);
                return usage_hint(cmd, hint, "unknown option '%s'", typed);
            }
            return usage_hint(cmd, "give the command first", "unknown option '%s'", typed);
        }
        const char *v = eq ? eq + 1 : NULL, *v2 = NULL;
        if (takes_value(f.o) && !v) {
            if (i + 1 >= argc)
                return fl_opt_usage(cmd, "%s needs a value (%s)", typed, f.o->value_name);
            v = argv[++i];
        }
        if (f.o->kind == FL_OPT_PAIRS) {
            if (i + 1 >= argc)
                return fl_opt_usage(cmd, "%s needs two values (%s)", typed, f.o->value_name);
            v2 = argv[++i];
        }
        int rc = apply(cmd, f.o, f.base, typed, v, v2);
        if (rc)
            return rc;
    }
    resolve_globals();
    if (i >= argc) {
        fl_opt_print_help(cmd, stderr);
        return FL_EXIT_USAGE;
    }
    if (!strcmp(argv[i], "help"))
        return help_for(cmd, cmd->subs, argc - i - 1, argv + i + 1);
    const fl_opt_cmd *sub = find_sub(cmd->subs, argv[i]);
    if (!sub)
        return unknown_word(cmd, cmd->subs, argv[i]);
    return sub->run(argc - i, argv + i);
}

/* ---- the top level ---- */

typedef struct top_opts {
    int version;
    fl_opt_list rest;
} top_opts;

static const fl_opt_spec top_spec[] = {
    FL_OPT_FLAG_("version", 0, "print the version", top_opts, version, .flags = 0),
    FL_OPT_REST_("COMMAND", "the command and its arguments", top_opts, rest, .flags = 0),
    FL_OPT_END_,
};

static void print_top(FILE *out) {
    fputs("usage: flakectl [global options] <command> [args]\n\ncommands:\n", out);
    const fl_opt_cmd *const *cmds = fl_opt_commands();
    for (size_t i = 0; cmds[i]; i++)
        fprintf(out, "  %-14s %s\n", cmds[i]->name, cmds[i]->summary);
    fputs("\n'flakectl help COMMAND' or 'flakectl COMMAND --help' describes each.\n"
          "\nglobal options (before or after the command):\n",
          out);
    help_ctx h = {out, 0, 0};
    fl_opt_foreach(fl_opt_global_spec, print_opt, &h);
    print_entry(out, "--version", "print the version");
}

static const fl_opt_cmd top_cmd = {NULL, "flakectl", NULL, NULL, top_spec, NULL, NULL};

int fl_cli_main(int argc, char **argv) {
    const char *s = getenv("FLAKECTL_STATE_DIR"), *r = getenv("FLAKECTL_ROOT");
    fl_opts.state_dir = s;
    fl_opts.root = r;
    fl_opts.argc = argc;
    fl_opts.argv = argv;
    top_opts t;
    memset(&t, 0, sizeof t);
    /* the top level's --help is the list of commands, not a table's; global options and
     * their values may come first (--state-dir X --help) */
    for (int i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            /* `flakectl --help switch` is `flakectl help switch` */
            int n = 0;
            while (i + 1 + n < argc && argv[i + 1 + n][0] != '-')
                n++;
            if (n)
                return help_for(NULL, fl_opt_commands(), n, argv + i + 1);
            print_top(stdout);
            return FL_EXIT_OK;
        }
        int is_long = argv[i][1] == '-';
        const char *name = argv[i] + (is_long ? 2 : 1);
        found f = {NULL, NULL};
        if (!strchr(name, '=') &&
            lookup(fl_opt_global_spec, (char *)&fl_opts, name, strlen(name), is_long, &f) &&
            takes_value(f.o))
            i += f.o->kind == FL_OPT_PAIRS ? 2 : 1;
    }
    int rc = fl_opt_parse(&top_cmd, &t, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    if (t.version) {
        fl_opt_release(&top_cmd, &t);
        puts("flakectl " FLAKECTL_VERSION);
        return FL_EXIT_OK;
    }
    if (t.rest.n == 0) {
        print_top(stderr);
        return FL_EXIT_USAGE;
    }
    char **words = (char **)t.rest.v;
    int n = (int)t.rest.n;
    const fl_opt_cmd *const *cmds = fl_opt_commands();
    if (!strcmp(words[0], "help")) {
        if (n == 1) {
            print_top(stdout);
            rc = FL_EXIT_OK;
        } else if (!strcmp(words[1], "--man")) {
            rc = fl_man_command(n - 1, words + 1);
        } else {
            rc = help_for(NULL, cmds, n - 1, words + 1);
        }
    } else {
        const fl_opt_cmd *c = find_sub(cmds, words[0]);
        if (!c) {
            /* C-style spellings of the hyphenated names keep working */
            char w[64];
            snprintf(w, sizeof w, "%s", words[0]);
            for (char *p = w; *p; p++)
                if (*p == '_')
                    *p = '-';
            c = find_sub(cmds, w);
        }
        if (c)
            fl_opts.command = c->name;
        rc = c ? c->run(n, words) : unknown_word(NULL, cmds, words[0]);
    }
    fl_opt_release(&top_cmd, &t);
    return rc;
}
