/* substitute.c - making store paths valid from binary caches: look up <hash>.narinfo in each
 * cache in order, accept it only with a signature by a trusted key, substitute its
 * references, then fetch, decompress and stage every NAR at once through fl_store_stage_nar
 * (which checks the NAR hash) and register them together after one sync
 * (fl_store_commit_staged). Never writes to a cache. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/cache_int.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

struct fl_substituter {
    fl_cache_conn *caches;
    unsigned char *dead; /* per cache: it could not be read once; not asked again */
    size_t ncaches;
    fl_cache_public_key *keys;
    size_t nkeys;
    FILE *log;
};

/* Calls fn for each white-space separated word of each string. */
static int each_word(const char *const *v, size_t n, int (*fn)(void *, const char *, fl_error *),
                     void *ctx, fl_error *err) {
    for (size_t i = 0; i < n; i++) {
        for (const char *p = v[i]; *p;) {
            p += strspn(p, " \t\n");
            size_t k = strcspn(p, " \t\n");
            if (!k)
                break;
            char *w = fl_xstrndup(p, k);
            int rc = fn(ctx, w, err);
            free(w);
            if (rc)
                return rc;
            p += k;
        }
    }
    return FL_OK;
}

static int add_cache(void *p, const char *url, fl_error *err) {
    fl_substituter *sub = p;
    for (size_t i = 0; i < sub->ncaches; i++) {
        fl_cache_conn c;
        if (fl_cache_conn_open(url, &c, NULL) == 0) {
            int same = !strcmp(c.url, sub->caches[i].url);
            fl_cache_conn_close(&c);
            if (same)
                return FL_OK;
        }
    }
    sub->caches = fl_xrealloc(sub->caches, (sub->ncaches + 1) * sizeof *sub->caches);
    sub->dead = fl_xrealloc(sub->dead, sub->ncaches + 1);
    sub->dead[sub->ncaches] = 0;
    int rc = fl_cache_conn_open(url, &sub->caches[sub->ncaches], err);
    if (!rc)
        sub->ncaches++;
    return rc;
}

int fl_substituter_new(const char *const *urls, size_t nurls, const char *const *keys, size_t nkeys,
                       FILE *log, fl_substituter **out, fl_error *err) {
    fl_substituter *sub = fl_xcalloc(1, sizeof *sub);
    sub->log = log;
    int rc = each_word(urls, nurls, add_cache, sub, err);
    if (!rc)
        rc = fl_cache_public_keys_parse(keys, nkeys, "trusted public key", &sub->keys, &sub->nkeys,
                                        err);
    if (rc) {
        fl_substituter_free(sub);
        return rc;
    }
    *out = sub;
    return FL_OK;
}

void fl_substituter_free(fl_substituter *sub) {
    if (!sub)
        return;
    for (size_t i = 0; i < sub->ncaches; i++)
        fl_cache_conn_close(&sub->caches[i]);
    free(sub->caches);
    free(sub->dead);
    free(sub->keys);
    free(sub);
}

size_t fl_substituter_count(const fl_substituter *sub) {
    return sub ? sub->ncaches : 0;
}

/* Fetches ni's NAR from c and stages it in s (*st), checked, not registered yet. */
static int fetch_nar(fl_substituter *sub, fl_store *s, fl_cache_conn *c, const fl_narinfo *ni,
                     fl_store_staged **st, fl_error *err) {
    int comp;
    if (fl_compression_parse(ni->compression, &comp) < 0) {
        int rc = fl_error_set(err, FL_EPARSE, "%s/%s: unsupported compression '%s'", c->url,
                              ni->url, ni->compression);
        fl_error_set_hint(err, "flakectl reads NARs compressed with xz, zstd or none");
        return rc;
    }
    int fd = -1, rc;
    if (c->http) {
        /* over the network, an interrupted download is taken up again by the next one */
        char *dir = fl_store_partial_dir(s, err);
        rc = dir ? fl_cache_fetch_resumable(c, ni->url, dir, ni->file_size,
                                            ni->has_file_hash ? ni->file_hash : NULL,
                                            ni->store_path, sub->log, &fd, err)
                 : FL_EIO;
        free(dir);
    } else {
        rc = fl_cache_open_file(c, ni->url, NULL, &fd, err);
    }
    if (rc)
        return rc;
    /* the store's reporter (a build's, a realise's) shows the step; without one, the log */
    const fl_progress *progress = fl_store_progress(s);
    char *doing = fl_xasprintf("copying path '%s' from '%s'...", ni->store_path, c->url);
    if (progress)
        fl_progress_item_doing(progress, ni->store_path, doing);
    else if (sub->log)
        fprintf(sub->log, "%s\n", doing);
    free(doing);
    char *where = fl_xasprintf("%s/%s", c->url, ni->url);
    fl_decompressor *d = fl_decompressor_new(comp, fd, where);
    fl_store_path_info info;
    memset(&info, 0, sizeof info);
    info.path = ni->store_path;
    memcpy(info.nar_hash, ni->nar_hash, sizeof info.nar_hash);
    info.nar_size = ni->nar_size;
    info.refs = ni->refs;
    info.nrefs = ni->nrefs;
    info.deriver = ni->deriver;
    rc = fl_store_stage_nar(s, &info, fl_decompressor_read, d, st, err);
    fl_decompressor_free(d);
    close(fd);
    if (rc)
        fl_error_add_frame(err, "while substituting %s from %s", ni->store_path, where);
    else
        fl_progress_advance_substituted(progress, ni->store_path, ni->nar_size);
    free(where);
    return rc;
}

/* Looks path up in cache c: 1 with *out (a trusted narinfo for path), 0 when c does not
 * have it, <0 when c has it but it is refused (or c cannot be read). */
static int lookup_in(fl_substituter *sub, fl_store *s, fl_cache_conn *c, const char *path,
                     fl_narinfo **out, fl_error *err) {
    int rc = fl_cache_check_store_dir(c, fl_store_dir(s), err);
    if (rc)
        return rc;
    char *name = fl_cache_narinfo_name(path);
    char *text = NULL;
    size_t len = 0;
    rc = fl_cache_get(c, name, &text, &len, err);
    if (rc == FL_ENOTFOUND) {
        fl_error_clear(err);
        free(name);
        return 0;
    }
    fl_narinfo *ni = NULL;
    if (!rc) {
        char *where = fl_xasprintf("%s/%s", c->url, name);
        rc = fl_narinfo_parse(text, len, fl_store_dir(s), where, &ni, err);
        free(where);
    }
    free(text);
    if (!rc && strcmp(ni->store_path, path) != 0)
        rc = fl_error_set(err, FL_ECONFLICT, "%s/%s describes %s, not %s", c->url, name,
                          ni->store_path, path);
    if (!rc && !fl_narinfo_trusted(ni, sub->keys, sub->nkeys)) {
        rc = fl_error_set(err, FL_ECRYPTO, "%s/%s: %s is %s", c->url, name, path,
                          !ni->nsigs ? "not signed"
                                     : "not signed by any trusted key (or its signature is bad)");
        fl_error_set_hint(err, "trust the cache's public key with --trusted-public-key KEY or "
                               "store.trustedPublicKeys");
    }
    free(name);
    if (rc) {
        fl_narinfo_free(ni);
        return rc;
    }
    *out = ni;
    return 1;
}

/* The first cache with a trusted narinfo for path: 1 (*ni, *ci), 0 none has it, <0 the first
 * refusal when no cache had it acceptably. */
static int lookup(fl_substituter *sub, fl_store *s, const char *path, fl_narinfo **ni, size_t *ci,
                  fl_error *err) {
    fl_error first = FL_ERROR_INIT;
    int first_rc = 0;
    for (size_t i = 0; i < sub->ncaches; i++) {
        if (sub->dead[i])
            continue;
        fl_error e = FL_ERROR_INIT;
        int rc = lookup_in(sub, s, &sub->caches[i], path, ni, &e);
        if (rc < 0 && (rc == FL_ENET || !sub->caches[i].checked)) {
            /* unreachable, or not a cache for this store: asking it for every other path
             * would cost a timeout (or the same refusal) each time */
            sub->dead[i] = 1;
            if (sub->log)
                fprintf(sub->log,
                        "warning: not using the cache %s for the rest of this "
                        "command: %s\n",
                        sub->caches[i].url, e.message ? e.message : "it cannot be read");
        }
        if (rc == 1) {
            *ci = i;
            fl_error_clear(&first);
            return 1;
        }
        if (rc < 0 && !first_rc) { /* keep the first refusal; another cache may still have it */
            first_rc = rc;
            fl_error_move(&first, &e);
        }
        fl_error_clear(&e);
    }
    if (first_rc)
        fl_error_move(err, &first);
    return first_rc;
}

/* One path to substitute. */
typedef struct want {
    fl_narinfo *ni;
    size_t cache;
    int rc;
    fl_error err;
    fl_store_staged *staged;
    int mark; /* ordering: 0 new, 1 on the stack, 2 placed */
} want;

typedef struct plan {
    want *w;
    size_t n;
} plan;

static void plan_release(plan *p) {
    for (size_t i = 0; i < p->n; i++) {
        fl_narinfo_free(p->w[i].ni);
        fl_error_clear(&p->w[i].err);
        fl_store_staged_free(p->w[i].staged);
    }
    free(p->w);
}

static int planned(const plan *p, const char *path) {
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->w[i].ni->store_path, path))
            return 1;
    return 0;
}

/* Every path of root's closure that is not valid yet, each with its narinfo. 0 when no cache
 * has root itself. */
static int make_plan(fl_substituter *sub, fl_store *s, const char *root, plan *p, fl_error *err) {
    fl_narinfo *ni = NULL;
    size_t ci = 0;
    int rc = lookup(sub, s, root, &ni, &ci, err);
    if (rc <= 0)
        return rc;
    p->w = fl_xcalloc(1, sizeof *p->w);
    p->w[0].ni = ni;
    p->w[0].cache = ci;
    p->n = 1;
    for (size_t k = 0; k < p->n; k++) { /* breadth first over references */
        for (size_t r = 0; r < p->w[k].ni->nrefs; r++) {
            const char *ref = p->w[k].ni->refs[r];
            if (fl_store_is_valid(s, ref) || planned(p, ref))
                continue;
            rc = lookup(sub, s, ref, &ni, &ci, err);
            if (rc == 0)
                rc = fl_error_set(err, FL_ENOTFOUND, "%s has %s but no cache has its reference %s",
                                  sub->caches[p->w[k].cache].url, p->w[k].ni->store_path, ref);
            if (rc < 0)
                return rc;
            p->w = fl_xrealloc(p->w, (p->n + 1) * sizeof *p->w);
            memset(&p->w[p->n], 0, sizeof p->w[p->n]);
            p->w[p->n].ni = ni;
            p->w[p->n].cache = ci;
            p->n++;
        }
    }
    return 1;
}

typedef struct stager {
    fl_substituter *sub;
    fl_store *s;
    plan *p;
    size_t next;
    pthread_mutex_t mu;
} stager;

/* A worker: takes the plan's next path and fetches and stages it over its own connection
 * (libcurl handles are not shared between threads). */
static void *stage_worker(void *arg) {
    stager *sg = arg;
    for (;;) {
        pthread_mutex_lock(&sg->mu);
        want *w = sg->next < sg->p->n ? &sg->p->w[sg->next++] : NULL;
        pthread_mutex_unlock(&sg->mu);
        if (!w)
            return NULL;
        fl_cache_conn c;
        w->rc = fl_cache_conn_open(sg->sub->caches[w->cache].url, &c, &w->err);
        if (!w->rc) {
            c.checked = 1;
            w->rc = fetch_nar(sg->sub, sg->s, &c, w->ni, &w->staged, &w->err);
            fl_cache_conn_close(&c);
        }
    }
}

static int want_cmp(const void *a, const void *b) {
    const want *x = *(want *const *)a, *y = *(want *const *)b;
    return strcmp(x->ni->store_path, y->ni->store_path);
}

static want *find_want(want **sorted, size_t n, const char *path) {
    fl_narinfo key_ni;
    memset(&key_ni, 0, sizeof key_ni);
    key_ni.store_path = (char *)path;
    want key = {.ni = &key_ni};
    const want *kp = &key;
    want **hit = bsearch(&kp, sorted, n, sizeof *sorted, want_cmp);
    return hit ? *hit : NULL;
}

/* Appends w to order after its planned references (depth first; a reference cycle, which a
 * closure's narinfos cannot have, is cut where it closes). */
static void place(want *w, want **sorted, size_t n, want **order, size_t *norder) {
    if (w->mark)
        return;
    w->mark = 1;
    for (size_t r = 0; r < w->ni->nrefs; r++) {
        want *ref = find_want(sorted, n, w->ni->refs[r]);
        if (ref && ref != w)
            place(ref, sorted, n, order, norder);
    }
    w->mark = 2;
    order[(*norder)++] = w;
}

/* Can w be registered once the paths before it in the order are? Its staging worked and each
 * reference is valid or a planned path that can be registered itself. */
static int committable(fl_store *s, want *w, want **sorted, size_t n) {
    if (w->rc || !w->staged)
        return 0;
    for (size_t r = 0; r < w->ni->nrefs; r++) {
        const char *ref = w->ni->refs[r];
        if (!strcmp(ref, w->ni->store_path) || fl_store_is_valid(s, ref))
            continue;
        want *x = find_want(sorted, n, ref);
        if (!x || x->mark != 3)
            return 0;
    }
    return 1;
}

/* Fetches and stages every planned path at once (up to FL_SUBSTITUTE_JOBS at a time: staging
 * needs no reference to be valid), then registers them, references first, after one sync of
 * the store (fl_store_commit_staged). When some path fails, the others whose references are
 * all there are still registered: the next attempt fetches only the rest. */
#define FL_SUBSTITUTE_JOBS 4
static int run_plan(fl_substituter *sub, fl_store *s, plan *p, fl_error *err) {
    stager sg = {sub, s, p, 0, PTHREAD_MUTEX_INITIALIZER};
    size_t nthreads = p->n < FL_SUBSTITUTE_JOBS ? p->n : FL_SUBSTITUTE_JOBS;
    pthread_t th[FL_SUBSTITUTE_JOBS];
    size_t started = 0;
    for (size_t t = 1; t < nthreads; t++)
        if (pthread_create(&th[started], NULL, stage_worker, &sg) == 0)
            started++;
    stage_worker(&sg); /* this thread works too */
    for (size_t t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&sg.mu);

    want **sorted = fl_xcalloc(p->n + 1, sizeof *sorted);
    want **order = fl_xcalloc(p->n + 1, sizeof *order);
    for (size_t i = 0; i < p->n; i++)
        sorted[i] = &p->w[i];
    qsort(sorted, p->n, sizeof *sorted, want_cmp);
    size_t norder = 0;
    for (size_t i = 0; i < p->n; i++)
        place(&p->w[i], sorted, p->n, order, &norder);
    fl_store_staged **batch = fl_xcalloc(p->n + 1, sizeof *batch);
    size_t nbatch = 0;
    int rc = FL_OK;
    for (size_t i = 0; i < norder; i++) {
        if (committable(s, order[i], sorted, p->n)) {
            order[i]->mark = 3;
            batch[nbatch++] = order[i]->staged;
        } else if (order[i]->rc && !rc) {
            rc = order[i]->rc;
            fl_error_move(err, &order[i]->err);
        }
    }
    fl_error cerr = FL_ERROR_INIT;
    int crc = fl_store_commit_staged(s, batch, nbatch, &cerr);
    if (!rc && crc) {
        rc = crc;
        fl_error_move(err, &cerr);
    }
    fl_error_clear(&cerr);
    if (!rc && nbatch < p->n) /* cannot happen with a closure's narinfos: a reference cycle */
        rc = fl_error_set(err, FL_ECONFLICT, "the references of %s form a cycle",
                          p->w[0].ni->store_path);
    free(batch);
    free(order);
    free(sorted);
    return rc;
}

static int realise(fl_substituter *sub, fl_store *s, const char *path, fl_error *err) {
    if (fl_store_is_valid(s, path))
        return 1;
    plan p = {NULL, 0};
    int rc = make_plan(sub, s, path, &p, err);
    if (rc == 1) {
        uint64_t bytes = 0;
        for (size_t i = 0; i < p.n; i++)
            bytes += p.w[i].ni->nar_size;
        rc = run_plan(sub, s, &p, err);
        if (!rc && sub->log && p.n > 1 && !fl_store_progress(s))
            fprintf(sub->log, "substituted %zu paths (%.1f MiB unpacked) for %s\n", p.n,
                    (double)bytes / 1048576.0, path);
        rc = rc ? rc : 1;
    }
    plan_release(&p);
    return rc;
}

int fl_substituter_realise(fl_substituter *sub, fl_store *s, const char *path, fl_error *err) {
    if (!fl_store_is_store_path(s, path))
        return fl_error_set(err, FL_EUSAGE, "'%s' is not a path of the store %s", path,
                            fl_store_dir(s));
    return realise(sub, s, path, err);
}

static size_t dead_caches(const fl_substituter *sub) {
    size_t n = 0;
    for (size_t i = 0; i < sub->ncaches; i++)
        n += sub->dead[i];
    return n;
}

void fl_substituter_realise_available(fl_substituter *sub, fl_store *s, char *const *paths,
                                      size_t n, unsigned char *valid) {
    for (size_t k = n; k-- > 0;) {
        if (fl_store_is_valid(s, paths[k])) {
            valid[k] = 1;
            continue;
        }
        if (!fl_store_is_store_path(s, paths[k]))
            continue;
        size_t dead = dead_caches(sub);
        fl_error e = FL_ERROR_INIT;
        int rc = realise(sub, s, paths[k], &e);
        /* a cache given up just now has said why already */
        if (rc < 0 && sub->log && dead_caches(sub) == dead)
            fprintf(sub->log, "warning: not substituting %s: %s\n", paths[k], e.message);
        fl_error_clear(&e);
        valid[k] = rc == 1;
    }
    /* a path realised as another's reference became valid after its own turn */
    for (size_t k = 0; k < n; k++)
        valid[k] = valid[k] || fl_store_is_valid(s, paths[k]);
}

static int substitute_hook(void *ctx, fl_store *s, const char *path, fl_error *err) {
    fl_substituter *sub = ctx;
    fl_error e = FL_ERROR_INIT;
    int rc = realise(sub, s, path, &e);
    if (rc < 0) {
        /* a refused or broken cache entry is never used; the build makes the path instead */
        if (sub->log) {
            fprintf(sub->log, "warning: not substituting %s: %s\n", path, e.message);
            for (int i = 0; i < e.nframes; i++)
                fprintf(sub->log, "         %s\n", e.frames[i]);
            fprintf(sub->log, "         building it instead\n");
        }
        rc = 0;
    }
    fl_error_clear(&e);
    (void)err;
    return rc;
}

void fl_substituter_attach(fl_substituter *sub, fl_store *s) {
    if (sub && sub->ncaches)
        fl_store_set_substituter(s, substitute_hook, sub);
}
