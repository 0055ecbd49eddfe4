/* push.c - writing a closure into a file:// binary cache as Nix lays one out: nix-cache-info,
 * nar/<filehash>.nar.<ext> and <hashpart>.narinfo (signed). Crash-safe by order: a NAR is
 * written under a temporary name, synced and renamed into place, and only then is its
 * .narinfo written (atomically); references are pushed before their referrers. So a reader
 * never finds a .narinfo whose NAR or references are missing. Never reads a cache's NARs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache_int.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

typedef struct file_sink {
    int fd;
    fl_sha256 sha;
    uint64_t size;
} file_sink;

static int write_all(int fd, const void *data, size_t len, fl_error *err) {
    const char *b = data;
    while (len) {
        ssize_t n = write(fd, b, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fl_error_errno(err, "cannot write a file of the cache");
        b += n;
        len -= (size_t)n;
    }
    return FL_OK;
}

static int file_sink_write(void *p, const void *data, size_t len, fl_error *err) {
    file_sink *f = p;
    fl_sha256_update(&f->sha, data, len);
    f->size += len;
    return write_all(f->fd, data, len, err);
}

typedef struct nar_tee {
    fl_sha256 sha;
    uint64_t size;
    fl_compressor *c;
} nar_tee;

static int nar_tee_write(void *p, const void *data, size_t len, fl_error *err) {
    nar_tee *t = p;
    fl_sha256_update(&t->sha, data, len);
    t->size += len;
    return fl_compressor_write(t->c, data, len, err);
}

static int ensure_cache_info(const fl_cache_writer *w, const char *store_dir, fl_error *err) {
    char *info = NULL;
    size_t len = 0;
    int rc = w->get(w->ctx, "nix-cache-info", &info, &len, err);
    if (rc == FL_ENOTFOUND) {
        fl_error_clear(err);
        char *text = fl_xasprintf("StoreDir: %s\n", store_dir);
        rc = w->put_data(w->ctx, "nix-cache-info", text, strlen(text), err);
        free(text);
        return rc;
    }
    if (!rc)
        rc = fl_cache_info_check(info, w->url, store_dir, err);
    free(info);
    return rc;
}

/* One path of the push: its NAR staged (tmp, put as nar_rel), its .narinfo (text; in
 * batched pushes staged as the file info_tmp too), and how it went. */
typedef struct push_job {
    fl_store_path_info *info;
    char *tmp, *nar_rel, *text, *info_tmp;
    uint64_t file_size;
    int done, rc;
    fl_error err;
} push_job;

static void job_release(push_job *j) {
    if (j->tmp)
        unlink(j->tmp);
    if (j->info_tmp)
        unlink(j->info_tmp);
    free(j->tmp);
    free(j->info_tmp);
    free(j->nar_rel);
    free(j->text);
    j->tmp = j->info_tmp = j->nar_rel = j->text = NULL;
}

/* Writes a .narinfo text beside the staged NARs (not synced: the batch's sync does it). */
static int stage_narinfo(const fl_cache_writer *w, push_job *j, fl_error *err) {
    j->info_tmp = fl_xasprintf("%s/.tmp-narinfo-XXXXXX", w->stage_dir);
    int fd = mkostemp(j->info_tmp, O_CLOEXEC);
    if (fd < 0) {
        free(j->info_tmp);
        j->info_tmp = NULL;
        return fl_error_errno(err, "cannot create a file in %s", w->stage_dir);
    }
    int rc = write_all(fd, j->text, strlen(j->text), err);
    if (!rc && fchmod(fd, 0644) < 0)
        rc = fl_error_errno(err, "cannot write %s", j->info_tmp);
    if (close(fd) < 0 && !rc)
        rc = fl_error_errno(err, "cannot write %s", j->info_tmp);
    return rc;
}

/* Stages one path: its NAR compressed into a file in w->stage_dir (synced unless the writer
 * syncs in batches), checked against the registered hash, and its signed .narinfo text. */
static int stage_one(const fl_cache_writer *w, push_job *j, int comp, fl_compressor **cp,
                     const fl_cache_push_opts *opts, fl_error *err) {
    const fl_store_path_info *info = j->info;
    j->tmp = fl_xasprintf("%s/.tmp-nar-XXXXXX", w->stage_dir);
    file_sink fs = {mkostemp(j->tmp, O_CLOEXEC), {0}, 0};
    if (fs.fd < 0) {
        int rc = fl_error_errno(err, "cannot create a file in %s", w->stage_dir);
        free(j->tmp);
        j->tmp = NULL;
        return rc;
    }
    fl_sha256_init(&fs.sha);
    if (*cp)
        fl_compressor_restart(*cp, file_sink_write, &fs);
    else
        *cp = fl_compressor_new(comp, file_sink_write, &fs);
    nar_tee tee = {{0}, 0, *cp};
    fl_sha256_init(&tee.sha);
    int rc = fl_nar_dump(info->path, nar_tee_write, &tee, NULL, err);
    if (!rc)
        rc = fl_compressor_finish(tee.c, err);
    unsigned char nar_hash[FL_SHA256_LEN], file_hash[FL_SHA256_LEN];
    fl_sha256_final(&tee.sha, nar_hash);
    fl_sha256_final(&fs.sha, file_hash);
    if (rc) { /* stopped halfway: not a stream to start the next one from */
        fl_compressor_free(*cp);
        *cp = NULL;
    }
    /* A signature vouches for the registered hash: never sign contents that differ from it. */
    if (!rc && (memcmp(nar_hash, info->nar_hash, sizeof nar_hash) || tee.size != info->nar_size)) {
        rc = fl_error_set(err, FL_ECONFLICT,
                          "%s was modified in the store: its contents no longer match its "
                          "registered hash",
                          info->path);
        fl_error_set_hint(err, "run 'flakectl store verify --check-contents --repair'");
    }
    if (!rc && (fchmod(fs.fd, 0644) < 0 || (!w->sync && fsync(fs.fd) < 0)))
        rc = fl_error_errno(err, "cannot write %s", j->tmp);
    close(fs.fd);
    if (rc)
        return rc;
    char fh32[FL_SHA256_BASE32_LEN + 1];
    fl_base32_encode(file_hash, sizeof file_hash, fh32);
    fl_narinfo ni;
    memset(&ni, 0, sizeof ni);
    j->nar_rel = fl_xasprintf("nar/%s.nar%s", fh32, fl_compression_ext(comp));
    j->file_size = fs.size;
    ni.url = j->nar_rel;
    ni.store_path = info->path;
    ni.compression = (char *)(comp == FL_COMP_XZ ? "xz" : comp == FL_COMP_ZSTD ? "zstd" : "none");
    ni.has_file_hash = 1;
    memcpy(ni.file_hash, file_hash, sizeof file_hash);
    ni.file_size = fs.size;
    memcpy(ni.nar_hash, info->nar_hash, sizeof ni.nar_hash);
    ni.nar_size = info->nar_size;
    ni.refs = info->refs;
    ni.nrefs = info->nrefs;
    ni.deriver = info->deriver;
    char *sig = NULL;
    if (opts->key) {
        char *fp = fl_narinfo_fingerprint(&ni);
        sig = fl_cache_sign(opts->key, fp);
        free(fp);
        ni.sigs = &sig;
        ni.nsigs = 1;
    }
    j->text = fl_narinfo_format(&ni);
    free(sig);
    return w->sync ? stage_narinfo(w, j, err) : FL_OK;
}

/* The path is in the cache now: counted and logged (its progress was reported by its
 * worker). */
static void pushed(const fl_cache_writer *w, const push_job *j, const fl_cache_push_opts *opts,
                   fl_cache_push_result *res) {
    res->pushed++;
    res->nar_bytes += j->info->nar_size;
    res->file_bytes += j->file_size;
    if (opts->log)
        fprintf(opts->log, "copied %s to %s (%llu bytes, %llu compressed)\n", j->info->path,
                w->url, (unsigned long long)j->info->nar_size, (unsigned long long)j->file_size);
}

/* Stages one path's NAR, puts it, then puts its .narinfo (a writer without batches). */
static int push_one(const fl_cache_writer *w, push_job *j, int comp, fl_compressor **cp,
                    const fl_cache_push_opts *opts, fl_error *err) {
    int rc = stage_one(w, j, comp, cp, opts, err);
    if (!rc) {
        rc = w->put_file(w->ctx, j->tmp, j->nar_rel, err);
        free(j->tmp); /* consumed either way */
        j->tmp = NULL;
    }
    if (!rc) {
        char *name = fl_cache_narinfo_name(j->info->path);
        rc = w->put_data(w->ctx, name, j->text, strlen(j->text), err);
        free(name);
    }
    return rc;
}

typedef struct push_wave {
    const fl_cache_writer *w;
    int comp;
    const fl_cache_push_opts *opts;
    push_job **items;
    size_t n, next;
    int stage_only; /* batched: stage, the caller puts */
    pthread_mutex_t mu;
} push_wave;

static void *push_worker(void *arg) {
    push_wave *pw = arg;
    fl_compressor *c = NULL; /* this worker's, for all its paths */
    for (;;) {
        pthread_mutex_lock(&pw->mu);
        push_job *j = pw->next < pw->n ? pw->items[pw->next++] : NULL;
        pthread_mutex_unlock(&pw->mu);
        if (!j)
            break;
        j->rc = pw->stage_only ? stage_one(pw->w, j, pw->comp, &c, pw->opts, &j->err)
                               : push_one(pw->w, j, pw->comp, &c, pw->opts, &j->err);
        /* as each path is done (batched: staged; the puts follow in a moment) */
        if (!j->rc)
            fl_progress_advance(pw->opts->progress, j->info->path, j->info->nar_size);
    }
    fl_compressor_free(c);
    return NULL;
}

/* Runs pw's items on up to maxj threads (this one included). */
static void run_wave(push_wave *pw, int maxj) {
    pthread_t th[16];
    size_t started = 0, want = pw->n < (size_t)maxj ? pw->n : (size_t)maxj;
    for (size_t t = 1; t < want; t++)
        if (pthread_create(&th[started], NULL, push_worker, pw) == 0)
            started++;
    push_worker(pw);
    for (size_t t = 0; t < started; t++)
        pthread_join(th[t], NULL);
}

static int cmp_job(const void *a, const void *b) {
    return strcmp((*(push_job *const *)a)->info->path, (*(push_job *const *)b)->info->path);
}

/* A path may go once none of its references (but itself) is still waiting: their .narinfo
 * files are in the cache before its own. */
static int job_ready(push_job **sorted, size_t n, const push_job *j) {
    for (size_t r = 0; r < j->info->nrefs; r++) {
        const char *ref = j->info->refs[r];
        if (!strcmp(ref, j->info->path))
            continue;
        fl_store_path_info key_info = {.path = (char *)ref};
        push_job key = {.info = &key_info}, *kp = &key;
        push_job **hit = bsearch(&kp, sorted, n, sizeof *sorted, cmp_job);
        if (hit && !(*hit)->done)
            return 0;
    }
    return 1;
}

/* The next wave: the jobs not done whose references are all done (or not jobs). */
static size_t next_wave(push_job *jobs, size_t n, push_job **sorted, push_job **items) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].done && job_ready(sorted, n, &jobs[i]))
            items[k++] = &jobs[i];
    return k;
}

static int cycle(push_job *jobs, fl_error *err) {
    return fl_error_set(err, FL_ECONFLICT, "the references of %s form a cycle", jobs[0].info->path);
}

/* Keeps the first failure of a job in (rc, err). */
static void first_error(push_job *j, int *rc, fl_error *err) {
    if (j->rc && !*rc) {
        *rc = j->rc;
        fl_error_move(err, &j->err);
    }
}

static int sync_writer(const fl_cache_writer *w, int *rc, fl_error *err) {
    if (*rc)
        return *rc;
    *rc = w->sync(w->ctx, err);
    return *rc;
}

/* A writer with batches: every NAR and .narinfo staged at once (in any order: nothing is
 * visible yet), one sync, so that both are complete and durable under their temporary names;
 * then the NARs put, and the .narinfos put wave by wave, references first; one sync. The
 * puts are renames made in that order, and a journaling file system makes renames durable
 * in the order made (the store's batched registrations rely on the same): so a .narinfo
 * never appears, not even after a crash, before its NAR or the .narinfos of its references.
 * A path that failed to stage takes its referrers along; every other path is pushed. */
static int push_batched(const fl_cache_writer *w, push_job *jobs, size_t n, push_job **sorted,
                        push_job **items, int comp, const fl_cache_push_opts *opts,
                        fl_cache_push_result *res, int maxj, fl_error *err) {
    push_wave pw = {w, comp, opts, items, n, 0, 1, PTHREAD_MUTEX_INITIALIZER};
    for (size_t i = 0; i < n; i++)
        items[i] = &jobs[i];
    run_wave(&pw, maxj);
    pthread_mutex_destroy(&pw.mu);
    int rc = FL_OK;
    for (size_t i = 0; i < n; i++)
        first_error(&jobs[i], &rc, err);
    fl_error serr = FL_ERROR_INIT;
    int src = FL_OK;
    sync_writer(w, &src, &serr);
    for (size_t i = 0; i < n && !src; i++) {
        push_job *j = &jobs[i];
        if (j->rc)
            continue;
        j->rc = w->put_file(w->ctx, j->tmp, j->nar_rel, &j->err);
        free(j->tmp); /* consumed either way */
        j->tmp = NULL;
        first_error(j, &rc, err);
    }
    size_t left = n;
    while (left && !src) {
        size_t k = next_wave(jobs, n, sorted, items);
        if (!k) {
            if (!rc)
                rc = cycle(jobs, err);
            break;
        }
        for (size_t i = 0; i < k; i++) {
            push_job *j = items[i];
            j->done = 1; /* settled, pushed or not */
            int refs_ok = 1;
            for (size_t r = 0; r < j->info->nrefs && refs_ok; r++) {
                fl_store_path_info key_info = {.path = j->info->refs[r]};
                push_job key = {.info = &key_info}, *kp = &key;
                push_job **hit = bsearch(&kp, sorted, n, sizeof *sorted, cmp_job);
                refs_ok = !hit || *hit == j || !(*hit)->rc;
            }
            if (!refs_ok && !j->rc)
                j->rc = FL_ENOTFOUND; /* a reference is not in the cache: nor is it */
            if (j->rc)
                continue;
            char *name = fl_cache_narinfo_name(j->info->path);
            j->rc = w->put_file(w->ctx, j->info_tmp, name, &j->err);
            free(name);
            free(j->info_tmp);
            j->info_tmp = NULL;
            first_error(j, &rc, err);
        }
        left -= k;
    }
    sync_writer(w, &src, &serr);
    if (src && !rc) {
        rc = src;
        fl_error_move(err, &serr);
    }
    fl_error_clear(&serr);
    for (size_t i = 0; i < n && !src; i++)
        if (!jobs[i].rc && jobs[i].done)
            pushed(w, &jobs[i], opts, res);
    return rc;
}

static int push_jobs(const fl_cache_writer *w, push_job *jobs, size_t n, int comp,
                     const fl_cache_push_opts *opts, fl_cache_push_result *res, fl_error *err) {
    push_job **sorted = fl_xcalloc(n + 1, sizeof *sorted),
             **items = fl_xcalloc(n + 1, sizeof *items);
    for (size_t i = 0; i < n; i++)
        sorted[i] = &jobs[i];
    qsort(sorted, n, sizeof *sorted, cmp_job);
    int rc = FL_OK;
    int maxj = w->jobs > 1 ? (w->jobs > 16 ? 16 : w->jobs) : 1;
    if (w->sync) {
        rc = push_batched(w, jobs, n, sorted, items, comp, opts, res, maxj, err);
        free(sorted);
        free(items);
        return rc;
    }
    size_t left = n;
    while (left && !rc) {
        push_wave pw = {w, comp, opts, items, 0, 0, 0, PTHREAD_MUTEX_INITIALIZER};
        pw.n = next_wave(jobs, n, sorted, items);
        if (!pw.n) {
            rc = cycle(jobs, err);
            break;
        }
        run_wave(&pw, maxj);
        pthread_mutex_destroy(&pw.mu);
        for (size_t i = 0; i < pw.n; i++) {
            push_job *j = pw.items[i];
            j->done = 1;
            if (!j->rc)
                pushed(w, j, opts, res);
            first_error(j, &rc, err);
        }
        left -= pw.n;
    }
    free(sorted);
    free(items);
    return rc;
}

int fl_cache_push_to(fl_store *s, const fl_cache_writer *w, char *const *paths, size_t npaths,
                     const fl_cache_push_opts *opts, fl_cache_push_result *res, fl_error *err) {
    memset(res, 0, sizeof *res);
    int comp = FL_COMP_ZSTD;
    if (opts->compression && fl_compression_parse(opts->compression, &comp) < 0) {
        int rc = fl_error_set(err, FL_EUSAGE, "unknown compression '%s'", opts->compression);
        fl_error_set_hint(err, "use zstd, xz or none");
        return rc;
    }
    char **cl = NULL;
    size_t ncl = 0;
    int rc = ensure_cache_info(w, fl_store_dir(s), err);
    if (!rc)
        rc = fl_store_closure(s, paths, npaths, &cl, &ncl, err);
    push_job *jobs = fl_xcalloc(ncl + 1, sizeof *jobs);
    size_t n = 0;
    for (size_t i = 0; i < ncl && !rc; i++) {
        char *name = fl_cache_narinfo_name(cl[i]);
        int have = w->has(w->ctx, name, err);
        free(name);
        if (have < 0) {
            rc = have;
            break;
        }
        if (have) {
            res->present++;
            continue;
        }
        rc = fl_store_query_info(s, cl[i], &jobs[n].info, err);
        if (!rc)
            n++;
    }
    if (!rc && n) {
        uint64_t bytes = 0;
        for (size_t i = 0; i < n; i++)
            bytes += jobs[i].info->nar_size;
        char *task = fl_xasprintf("pushing to %s", w->url);
        fl_progress_begin(opts->progress, task, n, bytes);
        free(task);
        rc = push_jobs(w, jobs, n, comp, opts, res, err);
        fl_progress_end(opts->progress, rc != 0);
    }
    /* last: the pointer names a closure that is complete in the cache */
    if (!rc && opts->pointer_host && opts->key && npaths == 1)
        rc = fl_cache_write_host_pointer(w, fl_store_dir(s), opts->pointer_host, paths[0],
                                         opts->pointer_rev, opts->key, &res->pointer_counter,
                                         err);
    for (size_t i = 0; !rc && opts->key && i < opts->npointers; i++) {
        fl_cache_pointer_req *q = &opts->pointers[i];
        if (fl_cache_write_host_pointer(w, fl_store_dir(s), q->host, q->toplevel, q->rev,
                                        opts->key, &q->counter, &q->err) < 0)
            q->counter = 0;
    }
    for (size_t i = 0; i < n; i++) {
        job_release(&jobs[i]);
        fl_store_path_info_free(jobs[i].info);
        fl_error_clear(&jobs[i].err);
    }
    free(jobs);
    if (rc)
        fl_error_add_frame(err, "while pushing to %s", w->url);
    fl_store_free_paths(cl, ncl);
    return rc;
}

/* ---- file:// ---------------------------------------------------------------------------- */

static int dir_has(void *ctx, const char *rel, fl_error *err) {
    fl_cache_conn *c = ctx;
    char *p = fl_path_join(c->dir, rel);
    int yes = fl_path_exists(p);
    free(p);
    (void)err;
    return yes;
}

static int dir_get(void *ctx, const char *rel, char **data, size_t *len, fl_error *err) {
    return fl_cache_get(ctx, rel, data, len, err);
}

/* Durable at the next dir_sync (the writer batches). */
static int dir_put_file(void *ctx, const char *staged, const char *rel, fl_error *err) {
    fl_cache_conn *c = ctx;
    char *dest = fl_path_join(c->dir, rel);
    int rc = fl_atomic_rename_ex(staged, dest, FL_ATOMIC_NO_SYNC, err);
    if (rc)
        unlink(staged);
    free(dest);
    return rc;
}

static int dir_put_data(void *ctx, const char *rel, const void *data, size_t len, fl_error *err) {
    fl_cache_conn *c = ctx;
    char *dest = fl_path_join(c->dir, rel);
    int rc = fl_atomic_write_file(dest, data, len, 0644, err);
    free(dest);
    return rc;
}

/* One syncfs of the cache's file system: the data and renames of every put before it. */
static int dir_sync(void *ctx, fl_error *err) {
    fl_cache_conn *c = ctx;
    return fl_sync_fs(c->dir, err);
}

int fl_cache_push(fl_store *s, const char *url, char *const *paths, size_t npaths,
                  const fl_cache_push_opts *opts, fl_cache_push_result *res, fl_error *err) {
    memset(res, 0, sizeof *res);
    fl_cache_conn conn;
    int rc = fl_cache_conn_open(url, &conn, err);
    if (rc)
        return rc;
    if (!conn.dir) {
        rc = fl_error_set(err, FL_EUSAGE,
                          "cannot push to %s: caches are written over file:// "
                          "or ssh://",
                          url);
        fl_error_set_hint(err, "push to a directory (file:///DIR, or ssh://HOST/DIR) and serve "
                               "it over HTTP with any static file server");
        fl_cache_conn_close(&conn);
        return rc;
    }
    /* NARs are staged in nar/ itself so that putting one is a rename */
    char *nar_dir = fl_path_join(conn.dir, "nar");
    char *hosts_dir = fl_path_join(conn.dir, "hosts");
    rc = fl_mkdir_p(nar_dir, 0755, err);
    if (!rc && (opts->pointer_host || opts->npointers))
        rc = fl_mkdir_p(hosts_dir, 0755, err);
    free(hosts_dir);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    fl_cache_writer w = {&conn,        conn.url,     nar_dir,
                         dir_has,      dir_get,      dir_put_file,
                         dir_put_data, cores > 0 ? (int)cores : 1, dir_sync};
    if (!rc)
        rc = fl_cache_push_to(s, &w, paths, npaths, opts, res, err);
    free(nar_dir);
    fl_cache_conn_close(&conn);
    return rc;
}
