/* plan.c - build plans for --build-host: an evaluation that records what it would build
 * (texts that mention unbuilt outputs, and derivations) instead of building it, the plan's
 * byte format, and running a received plan on the build host. The deployer's side never
 * runs a builder; the build host's side never evaluates anything: it only replays the
 * recorded steps and checks that every path comes out as the deployer computed it. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/module.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

enum { STEP_TEXT, STEP_DRV };

typedef struct plan_step {
    int kind;
    char *name, *path;
    char *data; /* text contents */
    size_t len;
    char *builder;
    char **args, **env;
    size_t nargs, nenv;
    char **refs; /* a text's references, a drv's inputs */
    size_t nrefs;
} plan_step;

struct fl_build_plan {
    struct fl_store *s;
    plan_step *steps;
    size_t n, cap;
};

static char **copy_strv(const char *const *v, size_t n) {
    char **out = fl_xcalloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = fl_xstrdup(v[i]);
    return out;
}

static void free_strv(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

fl_build_plan *fl_build_plan_new(struct fl_store *s) {
    fl_build_plan *p = fl_xcalloc(1, sizeof *p);
    p->s = s;
    return p;
}

void fl_build_plan_free(fl_build_plan *p) {
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        plan_step *st = &p->steps[i];
        free(st->name);
        free(st->path);
        free(st->data);
        free(st->builder);
        free_strv(st->args, st->nargs);
        free_strv(st->env, st->nenv);
        free_strv(st->refs, st->nrefs);
    }
    free(p->steps);
    free(p);
}

struct fl_store *fl_build_plan_store(fl_build_plan *p) {
    return p->s;
}

void fl_build_plan_detach_store(fl_build_plan *p) {
    p->s = NULL;
}

size_t fl_build_plan_steps(const fl_build_plan *p) {
    return p->n;
}

int fl_build_plan_has(const fl_build_plan *p, const char *path) {
    for (size_t i = p->n; i-- > 0;)
        if (!strcmp(p->steps[i].path, path))
            return 1;
    return 0;
}

static plan_step *push(fl_build_plan *p) {
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 32;
        p->steps = fl_xrealloc(p->steps, p->cap * sizeof *p->steps);
    }
    plan_step *st = &p->steps[p->n++];
    memset(st, 0, sizeof *st);
    return st;
}

int fl_build_plan_add_text(fl_build_plan *p, const char *name, const char *data, size_t len,
                           char *const *refs, size_t nrefs, char **out_path, fl_error *err) {
    int rc = fl_store_check_name(name, err);
    if (rc)
        return rc;
    unsigned char h[FL_SHA256_LEN];
    fl_sha256_buf(data, len, h);
    char *path = fl_store_make_text_path(fl_store_dir(p->s), h, name, refs, nrefs);
    if (!fl_build_plan_has(p, path)) {
        plan_step *st = push(p);
        st->kind = STEP_TEXT;
        st->name = fl_xstrdup(name);
        st->path = fl_xstrdup(path);
        st->data = fl_xmalloc(len + 1);
        memcpy(st->data, data, len);
        st->data[len] = '\0';
        st->len = len;
        st->refs = copy_strv((const char *const *)refs, nrefs);
        st->nrefs = nrefs;
    }
    *out_path = path;
    return FL_OK;
}

int fl_build_plan_add_drv(fl_build_plan *p, const fl_store_drv *drv, char **out_path,
                          fl_error *err) {
    char *out = NULL;
    int rc = fl_store_drv_output_planned(p->s, drv, &out, err);
    if (rc)
        return rc;
    if (!fl_build_plan_has(p, out)) {
        plan_step *st = push(p);
        st->kind = STEP_DRV;
        st->name = fl_xstrdup(drv->name);
        st->path = fl_xstrdup(out);
        st->builder = fl_xstrdup(drv->builder);
        st->args = copy_strv(drv->args, drv->nargs);
        st->nargs = drv->nargs;
        st->env = copy_strv(drv->env, drv->nenv);
        st->nenv = drv->nenv;
        st->refs = copy_strv(drv->inputs, drv->ninputs);
        st->nrefs = drv->ninputs;
    }
    *out_path = out;
    return FL_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int fl_build_plan_inputs(const fl_build_plan *p, char ***out, size_t *nout) {
    char **v = NULL;
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        for (size_t k = 0; k < p->steps[i].nrefs; k++) {
            const char *r = p->steps[i].refs[k];
            if (fl_build_plan_has(p, r))
                continue;
            v = fl_xrealloc(v, (n + 1) * sizeof *v);
            v[n++] = fl_xstrdup(r);
        }
    if (n)
        qsort(v, n, sizeof *v, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && !strcmp(v[k - 1], v[i]))
            free(v[i]);
        else
            v[k++] = v[i];
    }
    *out = v;
    *nout = k;
    return FL_OK;
}

/* ---- the byte format: "key <len>:<bytes>\n" fields, as the drv serialization ---- */

static void field(fl_strbuf *sb, const char *key, const char *val, size_t len) {
    fl_strbuf_addf(sb, "%s %zu:", key, len);
    fl_strbuf_add(sb, val, len);
    fl_strbuf_addch(sb, '\n');
}

static void fields(fl_strbuf *sb, const char *key, char *const *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        field(sb, key, v[i], strlen(v[i]));
}

void fl_build_plan_serialize(const fl_build_plan *p, const char *store_dir, const char *self,
                             const char *toplevel, fl_strbuf *out) {
    fl_strbuf_adds(out, "flakectl-build-plan 1\n");
    field(out, "store", store_dir, strlen(store_dir));
    field(out, "self", self ? self : "", self ? strlen(self) : 0);
    field(out, "toplevel", toplevel, strlen(toplevel));
    for (size_t i = 0; i < p->n; i++) {
        const plan_step *st = &p->steps[i];
        field(out, st->kind == STEP_TEXT ? "text" : "drv", st->name, strlen(st->name));
        field(out, "path", st->path, strlen(st->path));
        if (st->kind == STEP_TEXT) {
            field(out, "data", st->data, st->len);
            fields(out, "ref", st->refs, st->nrefs);
        } else {
            field(out, "builder", st->builder, strlen(st->builder));
            fields(out, "arg", st->args, st->nargs);
            fields(out, "env", st->env, st->nenv);
            fields(out, "input", st->refs, st->nrefs);
        }
    }
    field(out, "end", "", 0);
}

typedef struct reader {
    const char *buf;
    size_t len, off;
} reader;

/* Reads the next field; key and val point into the buffer (val is not terminated). */
static int next_field(reader *r, char *key, size_t keycap, const char **val, size_t *vlen,
                      fl_error *err) {
    size_t k = 0;
    while (r->off < r->len && r->buf[r->off] != ' ' && k + 1 < keycap)
        key[k++] = r->buf[r->off++];
    key[k] = '\0';
    if (r->off >= r->len || r->buf[r->off] != ' ')
        goto bad;
    r->off++;
    size_t n = 0;
    int digits = 0;
    while (r->off < r->len && r->buf[r->off] >= '0' && r->buf[r->off] <= '9') {
        if (n > r->len)
            goto bad;
        n = n * 10 + (size_t)(r->buf[r->off++] - '0');
        digits++;
    }
    if (!digits || r->off >= r->len || r->buf[r->off] != ':' || r->len - r->off - 1 < n + 1)
        goto bad;
    r->off++;
    *val = r->buf + r->off;
    *vlen = n;
    r->off += n;
    if (r->buf[r->off] != '\n')
        goto bad;
    r->off++;
    return FL_OK;
bad:
    return fl_error_set(err, FL_EPARSE, "the build plan is malformed at byte %zu", r->off);
}

typedef struct vec {
    char **v;
    size_t n;
} vec;

static void vec_push(vec *v, const char *s, size_t n) {
    v->v = fl_xrealloc(v->v, (v->n + 2) * sizeof *v->v);
    v->v[v->n++] = fl_xstrndup(s, n);
    v->v[v->n] = NULL;
}

static void vec_free(vec *v) {
    free_strv(v->v, v->n);
    memset(v, 0, sizeof *v);
}

typedef struct step_buf {
    int kind; /* -1 = none */
    char *name, *path, *builder;
    char *data;
    size_t len;
    vec args, env, refs;
} step_buf;

static void step_buf_reset(step_buf *b) {
    free(b->name);
    free(b->path);
    free(b->builder);
    free(b->data);
    vec_free(&b->args);
    vec_free(&b->env);
    vec_free(&b->refs);
    memset(b, 0, sizeof *b);
    b->kind = -1;
}

static int run_step(struct fl_store *s, step_buf *b, const char *self, const char *self_exe,
                    fl_build_plan_progress_fn progress, void *pctx, size_t *nbuilt, fl_error *err) {
    if (!b->name || !b->path || (b->kind == STEP_DRV && !b->builder))
        return fl_error_set(err, FL_EPARSE, "the build plan has an incomplete step");
    int was_valid = fl_store_is_valid(s, b->path);
    char *out = NULL;
    int rc;
    if (b->kind == STEP_TEXT) {
        rc = fl_store_add_text(s, b->name, b->data ? b->data : "", b->len, b->refs.v, b->refs.n,
                               &out, err);
    } else {
        if (!was_valid && progress)
            progress(pctx, b->path);
        fl_store_drv drv = {
            .name = b->name,
            .builder = b->builder,
            .args = (const char *const *)b->args.v,
            .nargs = b->args.n,
            .env = (const char *const *)b->env.v,
            .nenv = b->env.n,
            .inputs = (const char *const *)b->refs.v,
            .ninputs = b->refs.n,
        };
        /* the toplevel's builder is the deployer's flakectl (link-farm): where that path
         * is not a program here, this flakectl does the same work */
        if (self && *self && self_exe && !strcmp(b->builder, self) && access(self, X_OK) != 0)
            drv.run = self_exe;
        rc = fl_store_build(s, &drv, &out, err);
        if (rc == 0 && !was_valid)
            (*nbuilt)++;
    }
    if (rc == 0 && strcmp(out, b->path) != 0)
        rc = fl_error_set(err, FL_ECONFLICT,
                          "the build plan says '%s' becomes %s, but here it is %s", b->name,
                          b->path, out);
    if (rc == 0)
        fl_error_clear(err);
    free(out);
    return rc;
}

int fl_build_plan_run(struct fl_store *s, const char *buf, size_t len, const char *self_exe,
                      fl_build_plan_progress_fn progress, void *pctx, char **toplevel,
                      size_t *nbuilt, fl_error *err) {
    *toplevel = NULL;
    *nbuilt = 0;
    static const char magic[] = "flakectl-build-plan 1\n";
    if (len < sizeof magic - 1 || memcmp(buf, magic, sizeof magic - 1) != 0)
        return fl_error_set(err, FL_EPARSE,
                            "this is not a build plan of version 1 (is the flakectl on both "
                            "sides the same version?)");
    reader r = {buf, len, sizeof magic - 1};
    step_buf b;
    memset(&b, 0, sizeof b);
    b.kind = -1;
    char *self = NULL, *top = NULL;
    int rc = FL_OK, ended = 0;
    while (rc == 0 && !ended) {
        char key[16];
        const char *val = NULL;
        size_t vlen = 0;
        if ((rc = next_field(&r, key, sizeof key, &val, &vlen, err)) < 0)
            break;
        int is_step = !strcmp(key, "text") || !strcmp(key, "drv");
        if ((is_step || !strcmp(key, "end")) && b.kind >= 0) {
            rc = run_step(s, &b, self, self_exe, progress, pctx, nbuilt, err);
            step_buf_reset(&b);
            if (rc < 0)
                break;
        }
        if (is_step) {
            b.kind = !strcmp(key, "text") ? STEP_TEXT : STEP_DRV;
            b.name = fl_xstrndup(val, vlen);
        } else if (!strcmp(key, "end")) {
            ended = 1;
        } else if (!strcmp(key, "store")) {
            if (vlen != strlen(fl_store_dir(s)) || memcmp(val, fl_store_dir(s), vlen) != 0) {
                rc = fl_error_set(err, FL_ECONFLICT,
                                  "the build plan is for the store %.*s, but this one is %s: "
                                  "store paths contain the store directory, so both sides "
                                  "need the same one",
                                  (int)vlen, val, fl_store_dir(s));
            }
        } else if (!strcmp(key, "self")) {
            free(self);
            self = fl_xstrndup(val, vlen);
        } else if (!strcmp(key, "toplevel")) {
            free(top);
            top = fl_xstrndup(val, vlen);
        } else if (b.kind < 0) {
            rc = fl_error_set(err, FL_EPARSE, "the build plan has '%s' outside a step", key);
        } else if (!strcmp(key, "path")) {
            free(b.path);
            b.path = fl_xstrndup(val, vlen);
        } else if (!strcmp(key, "data")) {
            free(b.data);
            b.data = fl_xstrndup(val, vlen);
            b.len = vlen;
        } else if (!strcmp(key, "builder")) {
            free(b.builder);
            b.builder = fl_xstrndup(val, vlen);
        } else if (!strcmp(key, "arg")) {
            vec_push(&b.args, val, vlen);
        } else if (!strcmp(key, "env")) {
            vec_push(&b.env, val, vlen);
        } else if (!strcmp(key, "ref") || !strcmp(key, "input")) {
            vec_push(&b.refs, val, vlen);
        } else {
            rc = fl_error_set(err, FL_EPARSE, "the build plan has an unknown field '%s'", key);
        }
    }
    step_buf_reset(&b);
    free(self);
    if (rc == 0 && (!top || !fl_store_is_valid(s, top)))
        rc = fl_error_set(err, FL_ECONFLICT, "the build plan did not produce its toplevel %s",
                          top ? top : "(none named)");
    if (rc < 0) {
        free(top);
        return rc;
    }
    *toplevel = top;
    return FL_OK;
}
