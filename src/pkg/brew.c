/* brew.c - the packages step on macOS: the toplevel's Brewfile (the index's brew names and
 * homebrew.brews/casks/masApps) applied by `brew bundle` as the console user, never as root
 * (Homebrew refuses it). Homebrew keeps its own record, so flakectl keeps none. Not run on a
 * Mac yet (docs/packages.md): elsewhere it prints the command and installs nothing. */
#define _GNU_SOURCE
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/pkg.h"
#include "pkg/internal.h"

/* The user logged in at the console (owner of /dev/console): Homebrew's owner on a Mac. */
static char *console_user(void) {
    struct stat st;
    struct passwd *pw = stat("/dev/console", &st) == 0 ? getpwuid(st.st_uid) : NULL;
    return pw && st.st_uid != 0 ? fl_xstrdup(pw->pw_name) : NULL;
}

/* `brew bundle` of the toplevel's Brewfile as the console user (*user, owned, NULL when
 * nobody is logged in: the command then names CONSOLE-USER). */
static char **bundle_argv(const json_t *profile, const char *toplevel, char **user) {
    const json_t *hb = json_object_get(profile, "homebrew");
    const char *cleanup = json_string_value(json_object_get(hb, "cleanup"));
    char *brewfile = fl_xasprintf("%s/activation/Brewfile", toplevel ? toplevel : ".");
    *user = console_user();
    /* Apple silicon's prefix, else Intel's. */
    const char *brew = access("/opt/homebrew/bin/brew", X_OK) == 0 ? "/opt/homebrew/bin/brew"
                                                                   : "/usr/local/bin/brew";
    char **argv = fl_pkg_brew_bundle_argv(*user ? *user : "CONSOLE-USER", brew, brewfile,
                                          cleanup ? cleanup : "none");
    free(brewfile);
    return argv;
}

json_t *fl_pkg_brew_plan_json(const json_t *profile, const char *toplevel) {
    const json_t *hb = json_object_get(profile, "homebrew");
    json_t *brews = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(profile, "nativePackages"), i, v) {
        const char *b = json_string_value(json_object_get(v, "brew"));
        if (b)
            json_array_append_new(brews, json_string(b));
    }
    if (!json_is_true(json_object_get(hb, "enable")) && !json_array_size(brews)) {
        json_decref(brews);
        return json_null();
    }
    char *user = NULL;
    char **argv = bundle_argv(profile, toplevel, &user);
    json_t *cmd = json_array();
    for (char **a = argv; *a; a++)
        json_array_append_new(cmd, json_string(*a));
    const char *cleanup = json_string_value(json_object_get(hb, "cleanup"));
    char *brewfile = fl_xasprintf("%s/activation/Brewfile", toplevel ? toplevel : ".");
    json_t *o = json_pack("{s:s, s:o, s:s, s:o, s:o}", "brewfile", brewfile, "brews", brews,
                          "cleanup", cleanup ? cleanup : "none", "user",
                          user ? json_string(user) : json_null(), "command", cmd);
    free(brewfile);
    free(user);
    fl_pkg_argv_free(argv);
    return o;
}

/* macOS: the Brewfile in the toplevel (index names + homebrew.*) applied by `brew bundle` as
 * the console user; Homebrew keeps its own record, so flakectl keeps none. */
int fl_pkg_brew_activate(const fl_pkg_step *s, fl_error *err) {
    char *user = NULL;
    char **argv = bundle_argv(s->profile, s->toplevel, &user);
    char *cmd = fl_pkg_argv_show(argv);
    fprintf(s->out, "  packages (brew):\n");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(s->profile, "nativePackages"), i, v) {
        const char *b = json_string_value(json_object_get(v, "brew"));
        if (b)
            fprintf(s->out, "    + %s (brew bundle)\n", b);
    }
    int rc = FL_OK;
    struct stat st;
    const char *why = strcmp(s->root, "/")                 ? "the root is not /"
                      : stat("/usr/bin/sw_vers", &st) != 0 ? "this is not macOS"
                      : !user                              ? "nobody is logged in at the console"
                                                           : NULL;
    if (why || s->dry) {
        fprintf(s->out, "    %s: %s\n", why ? "would run" : "will run", cmd);
        if (why)
            fprintf(s->out, "    nothing was installed: %s\n", why);
    } else {
        fprintf(s->out, "    %s\n", cmd);
        fl_strbuf output;
        fl_strbuf_init(&output, 0);
        rc = fl_pkg_run_checked("/", argv, s->out, &output, s->host, err);
        fl_strbuf_release(&output);
    }
    free(cmd);
    fl_pkg_argv_free(argv);
    free(user);
    return rc;
}
