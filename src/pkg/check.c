/* check.c - what `flakectl check` asks of the packages: every native package a host declares
 * has a name for the host's manager, and (opt-in) that name is in this machine's apt lists.
 * Reads the built toplevel's profile.json; runs apt-cache only when asked. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "flakectl/fs.h"
#include "flakectl/pkg.h"
#include "pkg/internal.h"

/* Points err at "FILE:LINE:COL" (the first offender) so the report shows the user's line. */
static void locate(fl_error *err, const char *at) {
    char *copy = fl_xstrdup(at ? at : "");
    char *c2 = strrchr(copy, ':');
    char *c1 = c2 ? memrchr(copy, ':', (size_t)(c2 - copy)) : NULL;
    if (c1 && c2) {
        *c1 = *c2 = '\0';
        fl_error_set_loc(err, copy, atoi(c1 + 1), atoi(c2 + 1));
    }
    free(copy);
}

/* Names of specs apt-cache knows with a candidate; the others are appended to missing. */
static int apt_lists_missing(const fl_pkg_decls *ds, fl_strbuf *missing, int *nmissing,
                             fl_error *err) {
    char **argv = fl_xcalloc(ds->n + 3, sizeof *argv);
    argv[0] = "apt-cache";
    argv[1] = "policy";
    for (size_t i = 0; i < ds->n; i++)
        argv[i + 2] = ds->d[i].name;
    fl_strbuf outp;
    fl_strbuf_init(&outp, 4096);
    int status = 0;
    int rc = fl_pkg_run("/", argv, NULL, &outp, &status, err);
    free(argv);
    if (rc) {
        fl_strbuf_release(&outp);
        return rc;
    }
    if (status == 127) {
        rc = fl_error_set(err, FL_ENOTFOUND, "--apt-lists: apt-cache cannot run on this machine");
    } else {
        /* "NAME:\n  Installed: ...\n  Candidate: VERSION|(none)" per known name. */
        for (size_t i = 0; i < ds->n; i++) {
            char *head = fl_xasprintf("%s:\n", ds->d[i].name);
            size_t hl = strlen(head);
            const char *hit = NULL;
            for (const char *l = outp.buf; l && *l && !hit;) {
                if (!strncmp(l, head, hl))
                    hit = l;
                l = strchr(l, '\n');
                l = l ? l + 1 : NULL;
            }
            const char *cand = hit ? strstr(hit + hl, "Candidate: ") : NULL;
            if (!hit || (cand && !strncmp(cand + 11, "(none)", 6))) {
                fl_strbuf_addf(missing,
                               "  %s: apt name '%s' is not in this machine's apt lists "
                               "(declared at %s)\n",
                               ds->d[i].attr, ds->d[i].name, ds->d[i].declared_at);
                (*nmissing)++;
            }
            free(head);
        }
    }
    fl_strbuf_release(&outp);
    return rc;
}

int fl_pkg_check_toplevel(const char *toplevel, int apt_lists, fl_error *err) {
    char *path = fl_path_join(toplevel, "profile.json");
    char *data = NULL;
    size_t len = 0;
    json_t *profile = NULL;
    fl_pkg_decls ds = {0};
    fl_strbuf bad;
    fl_strbuf_init(&bad, 0);
    int nbad = 0;
    int rc = fl_read_file(path, &data, &len, err);
    if (!rc && !(profile = json_loadb(data, len, 0, NULL)))
        rc = fl_error_set(err, FL_EPARSE, "%s is not JSON", path);
    fl_pkg_manager m = fl_pkg_profile_manager(profile, NULL);
    if (!rc)
        rc = fl_pkg_decls_from_profile(profile, m, &ds, &bad, &nbad, err);
    char *first = NULL;
    if (!rc && nbad) {
        /* The first line's "(declared at X)" locates the error. */
        const char *at = strstr(bad.buf, "(declared at ");
        const char *end = at ? strchr(at, ')') : NULL;
        if (at && end)
            first = fl_xstrndup(at + 13, (size_t)(end - at - 13));
    }
    if (!rc && apt_lists && m == FL_PKG_APT && ds.n) {
        fl_strbuf missing;
        fl_strbuf_init(&missing, 0);
        int nmissing = 0;
        rc = apt_lists_missing(&ds, &missing, &nmissing, err);
        if (!rc && nmissing) {
            fl_strbuf_add(&bad, missing.buf, missing.len);
            nbad += nmissing;
            if (!first) {
                const char *at = strstr(missing.buf, "(declared at ");
                const char *end = at ? strchr(at, ')') : NULL;
                if (at && end)
                    first = fl_xstrndup(at + 13, (size_t)(end - at - 13));
            }
        }
        fl_strbuf_release(&missing);
    }
    if (!rc && nbad) {
        if (bad.len && bad.buf[bad.len - 1] == '\n')
            bad.buf[--bad.len] = '\0';
        rc = fl_error_set(err, FL_ENOTFOUND, "%d package%s cannot be installed with %s:\n%s", nbad,
                          nbad == 1 ? "" : "s", fl_pkg_manager_name(m), bad.buf);
        locate(err, first);
        fl_error_set_hint(err,
                          "name the package for %s with pkgs.native { %s = \"…\"; }, set "
                          "system.packageManager, or drop it for this host",
                          fl_pkg_manager_name(m), fl_pkg_manager_name(m));
    }
    free(first);
    fl_strbuf_release(&bad);
    fl_pkg_decls_release(&ds);
    json_decref(profile);
    free(data);
    free(path);
    return rc;
}
