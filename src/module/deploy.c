/* deploy.c (module) - which hosts a deployment targets: each host's `deploy` attribute
 * (targetHost, tags) read through the evaluator, and the `--on` selection (@tag, a,b,c or
 * '*'). Evaluates only; connects to nothing. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/lang.h"
#include "flakectl/module.h"
#include "flakectl/strbuf.h"

static int has_tag(const fl_host_deploy *h, const char *tag) {
    for (size_t i = 0; i < h->ntags; i++)
        if (!strcmp(h->tags[i], tag))
            return 1;
    return 0;
}

/* Reads hosts.<name>.deploy of one host into h (as JSON, through the evaluator). */
static int read_deploy(fl_lang *L, const char *flake, fl_host_deploy *h, fl_error *err) {
    fl_host host;
    int rc = fl_host_open(L, flake, h->name, &host, err);
    if (rc < 0)
        return rc;
    fl_value *hv = NULL, *dv = NULL;
    fl_strbuf js;
    fl_strbuf_init(&js, 128);
    rc = fl_lang_attrs_get(L, host.result, "host", &hv, NULL);
    if (rc == 0)
        rc = fl_lang_force(L, hv, err);
    else
        rc = fl_error_set(err, FL_EEVAL, "internal: no `host' in the host's evaluation");
    if (rc == 0 && fl_lang_attrs_get(L, hv, "deploy", &dv, NULL) != 0)
        rc = fl_error_set(err, FL_EEVAL, "internal: no `host.deploy' in the evaluation");
    if (rc == 0)
        rc = fl_lang_print_json(L, dv, 1, &js, err);
    fl_host_release(&host);
    if (rc < 0) {
        fl_strbuf_release(&js);
        fl_error_add_frame(err, "while reading hosts.%s.deploy", h->name);
        return rc;
    }
    json_t *d = json_loads(js.buf, 0, NULL);
    fl_strbuf_release(&js);
    json_t *t = json_object_get(d, "targetHost");
    if (json_is_string(t))
        h->target = fl_xstrdup(json_string_value(t));
    json_t *tags = json_object_get(d, "tags"), *tag;
    size_t i;
    json_array_foreach(tags, i, tag) {
        if (!json_is_string(tag))
            continue;
        h->tags = fl_xrealloc(h->tags, (h->ntags + 1) * sizeof *h->tags);
        h->tags[h->ntags++] = fl_xstrdup(json_string_value(tag));
    }
    json_decref(d);
    return 0;
}

/* Opens a session on the flake alone and lists its hosts; on failure nothing stays open. */
static int open_hosts(fl_host_session *s, const fl_session_opts *o, char ***names, size_t *n,
                      fl_error *err) {
    int rc = fl_host_session_open(s, o, NULL, err);
    if (rc == 0 && (rc = fl_module_host_names(s->L, s->flake, names, n, err)) < 0)
        fl_host_session_close(s);
    return rc;
}

int fl_module_select_deploy(const fl_session_opts *o, const char *sel, fl_host_deploy **out,
                            size_t *nout, fl_error *err) {
    struct {
        const char *sel;
        fl_host_deploy *hosts;
        size_t nhosts;
    } jj = {sel, NULL, 0}, *j = &jj;
    fl_host_session s;
    char **names = NULL;
    size_t n = 0;
    int rc = open_hosts(&s, o, &names, &n, err);
    if (rc < 0)
        return rc;
    int all = !strcmp(j->sel, "*"), tag = j->sel[0] == '@';
    /* a list of names: each must exist */
    if (rc == 0 && !all && !tag) {
        char *copy = fl_xstrdup(j->sel), *save = NULL;
        for (char *w = strtok_r(copy, ",", &save); w && rc == 0; w = strtok_r(NULL, ",", &save)) {
            int found = 0;
            for (size_t i = 0; i < n; i++)
                found |= !strcmp(names[i], w);
            if (!found) {
                fl_strbuf list;
                fl_strbuf_init(&list, 64);
                for (size_t i = 0; i < n; i++)
                    fl_strbuf_addf(&list, "%s%s", i ? ", " : "", names[i]);
                rc = fl_error_set(err, FL_ENOTFOUND,
                                  "--on: the flake has no host '%s' (it has: %s)", w, list.buf);
                fl_strbuf_release(&list);
            }
        }
        free(copy);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!all && !tag) {
            int named = 0;
            char *copy = fl_xstrdup(j->sel), *save = NULL;
            for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save))
                named |= !strcmp(w, names[i]);
            free(copy);
            if (!named)
                continue;
        }
        fl_host_deploy h;
        memset(&h, 0, sizeof h);
        h.name = fl_xstrdup(names[i]);
        rc = read_deploy(s.L, s.flake, &h, err);
        int keep = rc == 0 && (!tag || has_tag(&h, j->sel + 1)) && (!all || h.target);
        if (keep && !h.target)
            rc = fl_error_set(err, FL_ENOTFOUND, "host %s has no deploy.targetHost", h.name);
        if (keep && rc == 0) {
            j->hosts = fl_xrealloc(j->hosts, (j->nhosts + 1) * sizeof *j->hosts);
            j->hosts[j->nhosts++] = h;
        } else {
            free(h.name);
            free(h.target);
            for (size_t k = 0; k < h.ntags; k++)
                free(h.tags[k]);
            free(h.tags);
        }
    }
    if (rc == 0 && j->nhosts == 0)
        rc = fl_error_set(err, FL_ENOTFOUND, "--on %s selects no host with a deploy.targetHost",
                          j->sel);
    fl_module_free_names(names, n);
    fl_host_session_close(&s);
    *out = j->hosts;
    *nout = j->nhosts;
    return rc;
}

int fl_module_list_deploy(const fl_session_opts *o, fl_host_deploy **out, size_t *nout,
                          fl_error *err) {
    fl_host_session s;
    char **names = NULL;
    size_t n = 0;
    *out = NULL;
    *nout = 0;
    int rc = open_hosts(&s, o, &names, &n, err);
    if (rc < 0)
        return rc;
    *out = fl_xcalloc(n + 1, sizeof **out);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        fl_host_deploy *h = &(*out)[(*nout)++];
        h->name = fl_xstrdup(names[i]);
        rc = read_deploy(s.L, s.flake, h, err);
    }
    fl_module_free_names(names, n);
    fl_host_session_close(&s);
    if (rc < 0) {
        fl_host_deploy_free(*out, *nout);
        *out = NULL;
        *nout = 0;
    }
    return rc;
}

void fl_host_deploy_free(fl_host_deploy *hosts, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(hosts[i].name);
        free(hosts[i].target);
        for (size_t k = 0; k < hosts[i].ntags; k++)
            free(hosts[i].tags[k]);
        free(hosts[i].tags);
    }
    free(hosts);
}
