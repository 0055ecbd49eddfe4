/* opt.h - the command line as data: every command declares a table of its options and
 * arguments (fl_opt_spec) and one parser reads argv against it, prints --help from it and
 * reports every usage error the same way. The tables are walkable (fl_opt_commands,
 * fl_opt_foreach) so man pages and shell completions come from the same source. Private to
 * src/cli/; nothing below the command line sees these types. */
#ifndef FLAKECTL_CLI_OPT_H
#define FLAKECTL_CLI_OPT_H

#include <stddef.h>
#include <stdio.h>

#include "options.h"

typedef enum fl_opt_kind {
    FL_OPT_END = 0,
    FL_OPT_FLAG,     /* int: set to ival (1 when ival is 0) */
    FL_OPT_COUNT,    /* int: incremented per use (-v -v) */
    FL_OPT_STRING,   /* const char *: the last use wins */
    FL_OPT_CHOICE,   /* const char *: one of choices[] */
    FL_OPT_INT,      /* int: whole decimal number within [min, max] ("3x" is refused) */
    FL_OPT_DURATION, /* long long seconds: N followed by s, m, h, d or w (30d) */
    FL_OPT_LIST,     /* fl_opt_list: repeatable, every value in order */
    FL_OPT_PAIRS,    /* fl_opt_list: two values per use (NAME VALUE), flattened */
    FL_OPT_GROUP,    /* the options of another table, its fields at offset */
    FL_OPT_ARG,      /* positional const char * */
    FL_OPT_ARGS,     /* positional fl_opt_list: every further argument */
    FL_OPT_REST,     /* positional fl_opt_list: the first one ends option parsing */
} fl_opt_kind;

enum {
    FL_OPT_REQUIRED = 1u << 0, /* ARG/ARGS/REST: at least one must be given; named: given */
    FL_OPT_HIDDEN = 1u << 1,   /* accepted, not shown in --help */
    FL_OPT_BARE = 1u << 2,     /* DURATION: a bare number means seconds */
    FL_OPT_LOCAL = 1u << 3,    /* consumed here, never forwarded to a target (SSH options) */
};

/* What a value is, for shell completion (src/cli/completion.c): the scripts offer these
 * candidates for the option's value or the positional. 0: nothing to offer. */
typedef enum fl_opt_value {
    FL_OPT_V_NONE = 0,
    FL_OPT_V_FILE,           /* a path on this machine */
    FL_OPT_V_DIR,            /* a directory */
    FL_OPT_V_HOST,           /* a host of the current flake */
    FL_OPT_V_SELECTION,      /* --on: @tags and host names of the flake */
    FL_OPT_V_OPTION,         /* an option path of the host (--host on the line, or this machine) */
    FL_OPT_V_OPTION_OR_FILE, /* an option path when --host is on the line, else a file */
    FL_OPT_V_GENERATION,     /* a generation number of the state directory */
    FL_OPT_V_SSH_HOST,       /* [USER@]HOST of ~/.ssh/config and known_hosts */
    FL_OPT_V_COMMAND,        /* a program on PATH (then its arguments) */
} fl_opt_value;

typedef struct fl_opt_spec {
    fl_opt_kind kind;
    const char *name;       /* long name without "--"; the placeholder of a positional */
    char short_name;        /* 'j' for -j; 0 when none */
    const char *alias;      /* one more whole spelling ("-pq", "-E"), or NULL */
    const char *value_name; /* "DIR"; PAIRS: "NAME VALUE" */
    const char *help;
    size_t offset; /* of the field in the struct the table fills */
    unsigned flags;
    long long ival, min, max;   /* FLAG: the value stored; INT: the range */
    const char *const *choices; /* CHOICE: NULL-terminated */
    const struct fl_opt_spec *group;
    fl_opt_value complete; /* what the value is, for completion */
} fl_opt_spec;

/* A command, or a subcommand (name "store add"). synopsis: the usage lines after the
 * command's name, '\n' between lines; NULL = generated from the table. */
typedef struct fl_opt_cmd {
    const char *name;
    const char *summary;
    const char *synopsis;
    const char *description;
    const fl_opt_spec *opts;             /* NULL = no options besides the global ones */
    const struct fl_opt_cmd *const *subs; /* NULL-terminated, or NULL */
    int (*run)(int argc, char **argv);    /* argv[0] is the (sub)command's last word */
} fl_opt_cmd;

/* Table entries. T is the struct the table fills, F its field. */
#define FL_OPT_ENTRY_(k, l, s, v, f, T, F, ...)                                                \
    {.kind = (k), .name = (l), .short_name = (s), .value_name = (v), .help = (f),               \
     .offset = offsetof(T, F), __VA_ARGS__}
#define FL_OPT_FLAG_(l, s, h, T, F, ...) FL_OPT_ENTRY_(FL_OPT_FLAG, l, s, NULL, h, T, F, __VA_ARGS__)
#define FL_OPT_COUNT_(l, s, h, T, F) FL_OPT_ENTRY_(FL_OPT_COUNT, l, s, NULL, h, T, F, .flags = 0)
#define FL_OPT_STR_(l, s, v, h, T, F, ...)                                                     \
    FL_OPT_ENTRY_(FL_OPT_STRING, l, s, v, h, T, F, __VA_ARGS__)
#define FL_OPT_INT_(l, s, v, h, T, F, lo, hi, ...)                                             \
    FL_OPT_ENTRY_(FL_OPT_INT, l, s, v, h, T, F, .min = (lo), .max = (hi), __VA_ARGS__)
#define FL_OPT_DUR_(l, s, v, h, T, F, ...)                                                     \
    FL_OPT_ENTRY_(FL_OPT_DURATION, l, s, v, h, T, F, __VA_ARGS__)
#define FL_OPT_LIST_(l, s, v, h, T, F, ...) FL_OPT_ENTRY_(FL_OPT_LIST, l, s, v, h, T, F, __VA_ARGS__)
#define FL_OPT_CHOICE_(l, s, v, h, T, F, c, ...)                                               \
    FL_OPT_ENTRY_(FL_OPT_CHOICE, l, s, v, h, T, F, .choices = (c), __VA_ARGS__)
#define FL_OPT_GROUP_(g, T, F)                                                                 \
    {.kind = FL_OPT_GROUP, .offset = offsetof(T, F), .group = (g)}
#define FL_OPT_ARG_(name, h, T, F, ...) FL_OPT_ENTRY_(FL_OPT_ARG, name, 0, NULL, h, T, F, __VA_ARGS__)
#define FL_OPT_ARGS_(name, h, T, F, ...)                                                       \
    FL_OPT_ENTRY_(FL_OPT_ARGS, name, 0, NULL, h, T, F, __VA_ARGS__)
#define FL_OPT_REST_(name, h, T, F, ...)                                                       \
    FL_OPT_ENTRY_(FL_OPT_REST, name, 0, NULL, h, T, F, __VA_ARGS__)
#define FL_OPT_END_ {.kind = FL_OPT_END}

/* fl_opt_parse's answer when the command should go on; anything else is the exit status
 * to return at once (0 after --help, FL_EXIT_USAGE after a reported usage error). */
#define FL_OPT_RUN (-1)

/* Parses argv (argv[0] the command's word) into base through cmd's table; the global
 * options (--flake, --root, -v, ...) are accepted anywhere before "--" and go to fl_opts.
 * An option's value is always the next argument, whatever it looks like. */
int fl_opt_parse(const fl_opt_cmd *cmd, void *base, int argc, char **argv);
/* Same; local[i] is set for every argv[i] that a global option or an FL_OPT_LOCAL option
 * consumed (what a command forwarded to a target must leave out). local has argc bytes. */
int fl_opt_parse_marked(const fl_opt_cmd *cmd, void *base, int argc, char **argv,
                        unsigned char *local);
/* Frees the lists a parse allocated in base. */
void fl_opt_release(const fl_opt_cmd *cmd, void *base);

/* The one usage-error reporter: "error: <cmd>: MSG", a hint (did you mean / see --help),
 * on stderr. Returns FL_EXIT_USAGE. */
int fl_opt_usage(const fl_opt_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For a command with subcommands: finds argv[1] among cmd->subs (global options may come
 * first) and runs it; --help, "help", unknown words and their suggestions handled here. */
int fl_opt_dispatch(const fl_opt_cmd *cmd, int argc, char **argv);

/* --help text, generated from the table. */
void fl_opt_print_help(const fl_opt_cmd *cmd, FILE *out);

/* ---- walking the tables (man pages, completions) ---- */

/* Every top-level command, NULL-terminated (src/cli/commands.c). */
const fl_opt_cmd *const *fl_opt_commands(void);
/* The global options' table. */
extern const fl_opt_spec fl_opt_global_spec[];
/* Finds a command by its words ("store", "add"); NULL when there is none. */
const fl_opt_cmd *fl_opt_find(const char *const *words, size_t nwords);
/* Calls fn for every option and positional of table, groups expanded in place (group is the
 * GROUP entry an option came through, NULL at the top); stops when fn returns non-zero. */
typedef int (*fl_opt_visit_fn)(const fl_opt_spec *opt, const fl_opt_spec *group, void *ctx);
int fl_opt_foreach(const fl_opt_spec *table, fl_opt_visit_fn fn, void *ctx);
/* "--name", or "-n" when the option has only a short name; into buf. */
const char *fl_opt_spelling(const fl_opt_spec *opt, char *buf, size_t n);

/* The entry point main() calls: global options, the command word, dispatch. */
int fl_cli_main(int argc, char **argv);

#endif
