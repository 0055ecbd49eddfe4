/* init.c - `flakectl init [--template seed|minimal] [DIR]`: writes a new flake from a template
 * compiled into the binary (src/flake/init.c does the work) and says what to run next. */
#include <stdio.h>
#include <string.h>

#include "flakectl/cli.h"
#include "flakectl/flake.h"
#include "opt.h"

typedef struct init_opts {
    const char *template_name, *host, *user, *dir;
} init_opts;

static const char *const template_choices[] = {"seed", "minimal", NULL};

static const fl_opt_spec init_spec[] = {
    FL_OPT_CHOICE_("template", 't', "NAME",
                   "seed (default: hosts, roles, home, secrets) or\n"
                   "minimal (this machine only)",
                   init_opts, template_name, template_choices, .flags = 0),
    FL_OPT_STR_("host", 0, "H", "minimal: the host's name (default: this machine's)", init_opts,
                host, .flags = 0),
    FL_OPT_STR_("user", 0, "NAME", "the admin account (default: the user running it)", init_opts,
                user, .flags = 0),
    FL_OPT_ARG_("DIR", "where to write it (default: the current directory; made if missing)",
                init_opts, dir, .complete = FL_OPT_V_DIR, .flags = 0),
    FL_OPT_END_,
};

static int cmd_init(int argc, char **argv);

const fl_opt_cmd fl_cmd_init = {
    "init",
    "write a new flake from a template",
    "[--template seed|minimal] [--host H] [--user NAME] [DIR]",
    "Writes a working flake into DIR (default: the current directory) and stages it in\n"
    "Git: a new repository, unless DIR is already inside one. `flakectl check` passes on\n"
    "it at once. seed has the example's layout: hosts/ (homelab, macbook, wsl),\n"
    "modules/common|server|desktop, home/ and secrets/ with a README on keys; minimal has\n"
    "one host, named and set up for this machine. Nothing is ever overwritten: when a\n"
    "file of the template exists, init names it and writes nothing.\n",
    init_spec,
    NULL,
    cmd_init,
};

/* One line of the next steps: the command, then what it does, in a column. */
static void step(const char *cmd, const char *what) {
    printf("  %-46s %s\n", cmd, what);
}

static int cmd_init(int argc, char **argv) {
    init_opts io = {NULL, NULL, NULL, NULL};
    int rc = fl_opt_parse(&fl_cmd_init, &io, argc, argv);
    if (rc != FL_OPT_RUN)
        return rc;
    const char *tpl = io.template_name ? io.template_name : "seed";
    if (io.host && strcmp(tpl, "minimal"))
        return fl_opt_usage(&fl_cmd_init, "--host names the minimal template's host; seed's are "
                                          "homelab, macbook and wsl");
    fl_flake_init_opts o = {io.dir ? io.dir : ".", tpl, io.host, io.user};
    fl_flake_init_result res;
    fl_error err = FL_ERROR_INIT;
    if (fl_flake_init(&o, &res, &err) < 0)
        return fl_cli_report(&err);
    printf("wrote the %s template to %s (%s):\n", tpl, o.dir,
           res.made_repo ? "a new Git repository, files staged"
                         : "staged in the Git repository it is in");
    for (size_t i = 0; i < res.nfiles; i++)
        printf("  %s\n", res.files[i]);
    printf("\nnext:\n");
    char cmd[160];
    if (io.dir)
        printf("  cd %s\n", io.dir);
    step("flakectl check", "evaluate and build every host (offline)");
    if (!strcmp(tpl, "minimal")) {
        snprintf(cmd, sizeof cmd, "flakectl option --host %s networking.hostName", res.host);
        step(cmd, "an option's value, type and description");
        snprintf(cmd, sizeof cmd, "sudo flakectl switch --host %s", res.host);
        step(cmd, "apply it to this machine");
    } else {
        step("sudo flakectl switch --host homelab", "apply a host to this machine");
        step("flakectl switch --on @server", "deploy over SSH to each deploy.targetHost");
        step("less secrets/README.md", "keys and secrets");
    }
    step("git commit -m 'flakectl init'", "each generation records the commit");
    fl_flake_init_result_release(&res);
    return FL_EXIT_OK;
}
