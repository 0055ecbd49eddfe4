/* eval_host.c - `flakectl eval --host H [OPTION.PATH] [--json]`: a value of a host's merged
 * configuration, printed like `nix-instantiate --eval --strict` (or JSON). With --json and no
 * path it prints the resolved profile. Evaluating never builds: the session is opened in plan
 * mode, so a derivation's outPath is the path its build would make (as `nix eval` prints it)
 * and nothing is built or downloaded for it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/cli.h"
#include "flakectl/lang.h"
#include "flakectl/module.h"
#include "options.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

struct eval_host_job {
    const char *host, *path;
    int json;
    fl_error err;
    fl_strbuf out;
};

static int eval_host(void *p) {
    struct eval_host_job *j = p;
    fl_error *err = &j->err;
    char *default_host = j->host ? NULL : fl_host_default_name();
    fl_host_session sess;
    fl_session_opts so;
    fl_cli_session_opts(&so);
    int rc = fl_host_session_open_plan(&sess, &so, j->host ? j->host : default_host, err);
    free(default_host);
    if (rc < 0)
        return rc;
    fl_lang *L = sess.L;
    fl_value *v = NULL;
    if (j->json && !j->path) {
        if (fl_lang_attrs_get(L, sess.host.result, "profile", &v, NULL) != 0)
            rc = fl_error_set(err, FL_EEVAL, "internal: no profile in host evaluation");
    } else {
        rc = fl_host_config(&sess.host, &v, err);
        if (rc == 0 && j->path)
            rc = fl_host_select(&sess.host, v, j->path, &v, err);
    }
    if (rc == 0)
        rc = j->json ? fl_lang_print_json(L, v, 1, &j->out, err) : fl_lang_print(L, v, 1, &j->out, err);
    if (rc == 0 && !fl_opts.quiet)
        rc = fl_host_print_warnings(&sess.host, stderr, err);
    fl_host_session_close(&sess);
    return rc;
}

int fl_cli_eval_host(const char *host, const char *path, int json) {
    struct eval_host_job j;
    memset(&j, 0, sizeof j);
    j.host = host;
    j.path = path;
    j.json = json;
    fl_strbuf_init(&j.out, 0);
    int rc = fl_cli_with_big_stack(eval_host, &j);
    if (rc < 0) {
        fl_strbuf_release(&j.out);
        return fl_cli_report(&j.err);
    }
    fl_strbuf_addch(&j.out, '\n');
    fwrite(j.out.buf, 1, j.out.len, stdout);
    fl_strbuf_release(&j.out);
    return fflush(stdout) == 0 ? FL_EXIT_OK : FL_EXIT_FAILURE;
}
