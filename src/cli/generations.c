/* generations.c - `flakectl generations [list] [--json]` and
 * `flakectl generations delete N... | --older-than D`. Parses and prints only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flakectl/activate.h"
#include "flakectl/cli.h"
#include "flakectl/options.h"

static const char usage[] =
    "usage: flakectl generations [list] [--json]\n"
    "       flakectl generations delete N... | --older-than D   (D: 30d, 12h, 2w, 90m)\n";

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

static long parse_age(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0)
        return -1;
    if (!strcmp(end, "d"))
        return v * 86400;
    if (!strcmp(end, "h"))
        return v * 3600;
    if (!strcmp(end, "m"))
        return v * 60;
    if (!strcmp(end, "w"))
        return v * 7 * 86400;
    if (!strcmp(end, "s"))
        return v;
    return -1;
}

static int delete (int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    int *nums = calloc((size_t)argc + 1, sizeof(int));
    size_t n = 0;
    const char *older = NULL;
    int rc = FL_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--older-than") && i + 1 < argc) {
            older = argv[++i];
            continue;
        }
        char *end;
        long v = strtol(argv[i], &end, 10);
        if (*end || v <= 0) {
            fl_error_set(&err, FL_EUSAGE, "generations delete: '%s' is not a generation number",
                         argv[i]);
            free(nums);
            return fl_cli_report(&err);
        }
        nums[n++] = (int)v;
    }
    if ((older && n) || (!older && !n)) {
        fl_error_set(&err, FL_EUSAGE,
                     "generations delete: give generation numbers or "
                     "--older-than D");
        free(nums);
        return fl_cli_report(&err);
    }
    if (older) {
        long age = parse_age(older);
        if (age < 0) {
            fl_error_set(&err, FL_EUSAGE,
                         "--older-than '%s': expected a number and d, h, m, w "
                         "or s (30d)",
                         older);
            rc = fl_cli_report(&err);
        } else if (fl_gen_delete_older(fl_opts.state_dir, fl_opts.root, time(NULL) - age, stdout,
                                       &err)) {
            rc = fl_cli_report(&err);
        }
    } else if (fl_gen_delete(fl_opts.state_dir, fl_opts.root, nums, n, stdout, &err)) {
        rc = fl_cli_report(&err);
    }
    free(nums);
    return rc;
}

int cmd_generations(int argc, char **argv) {
    int json = 0;
    if (argc > 1 && !strcmp(argv[1], "delete"))
        return delete (argc - 1, argv + 1);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return FL_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (strcmp(argv[i], "list") || i != 1) {
            fl_error err = FL_ERROR_INIT;
            fl_error_set(&err, FL_EUSAGE, "generations: unexpected '%s'", argv[i]);
            fl_error_set_hint(&err, "see 'flakectl generations --help'");
            return fl_cli_report(&err);
        }
    }
    return list(json);
}
