/* generations.c - `flakectl generations [list] [--json]` and
 * `flakectl generations delete N... | --older-than D`. Parses and prints only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flakectl/activate.h"
#include "opt.h"
#include "remote_args.h"
#include "flakectl/cli.h"
#include "options.h"
#include "flakectl/strbuf.h"

static void fmt_date(time_t t, char *buf, size_t n) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static int list(int json) {
    fl_generation *g;
    size_t n;
    fl_error err = FL_ERROR_INIT;
    if (fl_gen_list(fl_opts.state_dir, fl_opts.root, &g, &n, &err))
        return fl_cli_report(&err);
    char date[64];
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            fmt_date(g[i].date, date, sizeof date);
            json_t *o = json_object();
            json_object_set_new(o, "number", json_integer(g[i].number));
            json_object_set_new(o, "date", json_string(date));
            json_object_set_new(o, "toplevel",
                                g[i].toplevel ? json_string(g[i].toplevel) : json_null());
            json_object_set_new(o, "rev", g[i].rev ? json_string(g[i].rev) : json_null());
            json_object_set_new(o, "dirty",
                                g[i].dirty < 0 ? json_null() : json_boolean(g[i].dirty));
            json_object_set_new(o, "default", json_boolean(g[i].is_default));
            json_object_set_new(o, "current", json_boolean(g[i].is_current));
            json_array_append_new(arr, o);
        }
        char *s = json_dumps(arr, JSON_INDENT(2));
        puts(s);
        free(s);
        json_decref(arr);
    } else {
        if (!n)
            puts("no generations yet");
        for (size_t i = 0; i < n; i++) {
            fmt_date(g[i].date, date, sizeof date);
            char rev[64] = "rev unknown";
            if (g[i].rev)
                snprintf(rev, sizeof rev, "rev %.12s%s", g[i].rev, g[i].dirty == 1 ? "-dirty" : "");
            printf("%4d  %s UTC  %-22s %s%s%s\n", g[i].number, date, rev,
                   g[i].toplevel ? g[i].toplevel : "?", g[i].is_default ? "  (default)" : "",
                   g[i].is_current ? "  (current)" : "");
        }
    }
    /* After a `test` of a toplevel no generation names, say what is active. */
    int shown = 0;
    for (size_t i = 0; i < n; i++)
        shown |= g[i].is_current;
    char *cur = fl_gen_current(fl_opts.root);
    if (cur && !shown && !json)
        printf("current: %s (activated with test; not a generation)\n", cur);
    free(cur);
    fl_gen_list_free(g, n);
    return FL_EXIT_OK;
}

typedef struct gen_opts {
    int json;
    long long older;
    fl_opt_list nums;
    fl_cli_target_args remote;
} gen_opts;

static const fl_opt_spec list_spec[] = {
    FL_OPT_FLAG_("json", 0, "print JSON", gen_opts, json, .flags = 0),
    FL_OPT_GROUP_(fl_cli_target_spec, gen_opts, remote),
    FL_OPT_END_,
};

/* `generations` itself: list's options, and the words of a subcommand that came after an
 * option (generations --target-host H delete 3) */
static const fl_opt_spec generations_spec[] = {
    FL_OPT_FLAG_("json", 0, "print JSON", gen_opts, json, .flags = 0),
    FL_OPT_GROUP_(fl_cli_target_spec, gen_opts, remote),
    FL_OPT_ARGS_("WORDS", "list, or delete and its arguments", gen_opts, nums,
                 .flags = FL_OPT_HIDDEN),
    FL_OPT_END_,
};

static const fl_opt_spec delete_spec[] = {
    FL_OPT_DUR_("older-than", 0, "D", "every generation older than D (30d, 12h, 2w, 90m), except\n"
                                      "the default and the current one",
                gen_opts, older, .flags = 0),
    FL_OPT_ARGS_("N", "the generations to delete", gen_opts, nums,
                 .complete = FL_OPT_V_GENERATION, .flags = 0),
    FL_OPT_GROUP_(fl_cli_target_spec, gen_opts, remote),
    FL_OPT_END_,
};

static int cmd_generations(int argc, char **argv);
static int cmd_generations_list(int argc, char **argv);
static int cmd_generations_delete(int argc, char **argv);

static const fl_opt_cmd gen_list = {
    "generations list", "list the system generations (the default when no command is given)",
    "[--json] [--target-host U@H[:P]]", NULL, list_spec, NULL, cmd_generations_list,
};
static const fl_opt_cmd gen_delete = {
    "generations delete", "delete generations by number or age",
    "N... | --older-than D   (D: 30d, 12h, 2w, 90m)", NULL, delete_spec, NULL,
    cmd_generations_delete,
};
static const fl_opt_cmd *const gen_subs[] = {&gen_list, &gen_delete, NULL};

const fl_opt_cmd fl_cmd_generations = {
    "generations",
    "list or delete system generations",
    "[list] [--json]\ndelete N... | --older-than D   (D: 30d, 12h, 2w, 90m)",
    "Lists the system generations (number, date, the flake's revision, toplevel) or\n"
    "deletes some. With --target-host, on that target.\n",
    generations_spec,
    gen_subs,
    cmd_generations,
};

/* Parses with cmd's table; a --target-host runs the whole command line there instead. */
static int parse_gen(const fl_opt_cmd *cmd, gen_opts *g, int argc, char **argv, int skip) {
    memset(g, 0, sizeof *g);
    g->older = -1;
    unsigned char *local = fl_xcalloc((size_t)argc + 1, 1);
    int rc = fl_opt_parse_marked(cmd, g, argc - skip, argv + skip, local + skip);
    if (rc == FL_OPT_RUN && g->remote.target_host)
        rc = fl_cli_remote_passthrough(&g->remote, argc, argv, local);
    free(local);
    if (rc != FL_OPT_RUN)
        fl_opt_release(cmd, g);
    return rc;
}

static int delete (int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    gen_opts g;
    int prc = parse_gen(&gen_delete, &g, argc + 1, argv - 1, 1);
    if (prc != FL_OPT_RUN)
        return prc;
    int *nums = calloc(g.nums.n + 1, sizeof(int));
    size_t n = 0;
    int older = g.older >= 0;
    int rc = FL_EXIT_OK;
    for (size_t i = 0; i < g.nums.n; i++) {
        char *end;
        long v = strtol(g.nums.v[i], &end, 10);
        if (*end || v <= 0) {
            free(nums);
            rc = fl_opt_usage(&gen_delete, "'%s' is not a generation number", g.nums.v[i]);
            fl_opt_release(&gen_delete, &g);
            return rc;
        }
        nums[n++] = (int)v;
    }
    fl_opt_release(&gen_delete, &g);
    if ((older && n) || (!older && !n)) {
        free(nums);
        return fl_opt_usage(&gen_delete, "give generation numbers or --older-than D");
    }
    if (older) {
        if (fl_gen_delete_older(fl_opts.state_dir, fl_opts.root, time(NULL) - g.older, stdout,
                                &err)) {
            rc = fl_cli_report(&err);
        }
    } else if (fl_gen_delete(fl_opts.state_dir, fl_opts.root, nums, n, stdout, &err)) {
        rc = fl_cli_report(&err);
    }
    free(nums);
    return rc;
}

static int cmd_generations_delete(int argc, char **argv) {
    return delete (argc, argv);
}

static int cmd_generations_list(int argc, char **argv) {
    gen_opts g;
    int prc = parse_gen(&gen_list, &g, argc, argv, 0);
    if (prc != FL_OPT_RUN)
        return prc;
    return list(g.json);
}

static int cmd_generations(int argc, char **argv) {
    /* `generations delete` and `generations list`; no word at all means list */
    if (argc > 1 && !strcmp(argv[1], "delete"))
        return delete (argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "help"))
        return fl_opt_dispatch(&fl_cmd_generations, argc, argv);
    gen_opts g;
    int skip = argc > 1 && !strcmp(argv[1], "list");
    int prc = parse_gen(&fl_cmd_generations, &g, argc, argv, skip);
    if (prc != FL_OPT_RUN)
        return prc;
    int json = g.json;
    const char *word = g.nums.n ? g.nums.v[0] : NULL;
    fl_opt_release(&fl_cmd_generations, &g);
    if (word && !skip && !strcmp(word, "delete")) {
        /* options came first: the same command line with "delete" moved to the front */
        char **v = fl_xcalloc((size_t)argc + 1, sizeof *v);
        int n = 0, moved = 0;
        v[n++] = argv[0];
        v[n++] = (char *)"delete";
        for (int i = 1; i < argc; i++) {
            if (!moved && !strcmp(argv[i], "delete")) {
                moved = 1;
                continue;
            }
            v[n++] = argv[i];
        }
        int rc = delete (n - 1, v + 1);
        free(v);
        return rc;
    }
    if (word && (skip || strcmp(word, "list")))
        return fl_opt_usage(&fl_cmd_generations, "unexpected argument '%s'", word);
    return list(json);
}
