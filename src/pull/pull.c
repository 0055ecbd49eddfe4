/* pull.c - pull mode: read what the fleet wants this host to run (a signed pointer in a
 * cache, or a commit of the flake's repository), refuse anything older than what the host
 * applied, make the toplevel valid here (substitution, or a build of the checkout), then
 * activate it as a push would and record the outcome. Holds <state>/host/pull.lock for the
 * whole run so two pulls (a timer and a person) never interleave. Owns the order of those
 * steps and the no-op rule; signatures are cache/'s, activation activate/'s. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "flakectl/base64.h"
#include "flakectl/cache.h"
#include "flakectl/flake.h"
#include "flakectl/fs.h"
#include "flakectl/pull.h"
#include "flakectl/store.h"
#include "flakectl/strbuf.h"

void fl_pull_result_release(fl_pull_result *r) {
    free(r->toplevel);
    memset(r, 0, sizeof *r);
}

int fl_pull_pointer_decide(uint64_t counter, const char *toplevel, uint64_t applied_counter,
                           const char *applied_toplevel, const char *where, fl_error *err) {
    if (counter < applied_counter) {
        int rc =
            fl_error_set(err, FL_ECONFLICT,
                         "%s has counter %llu, older than the pointer this host applied "
                         "(counter %llu): refusing to go back (a replayed or stale "
                         "pointer)",
                         where, (unsigned long long)counter, (unsigned long long)applied_counter);
        fl_error_set_hint(err, "push the host again ('flakectl cache push --host H --key KEY' "
                               "writes a newer pointer); to go back on purpose use 'flakectl "
                               "rollback' or pull --allow-downgrade");
        return rc;
    }
    if (counter == applied_counter) {
        if (applied_toplevel && strcmp(applied_toplevel, toplevel) != 0) {
            int rc = fl_error_set(err, FL_ECONFLICT,
                                  "%s has the counter of the pointer this host applied (%llu) "
                                  "but names another toplevel (%s, not %s): refused",
                                  where, (unsigned long long)counter, toplevel, applied_toplevel);
            fl_error_set_hint(err, "two pointers with one counter were signed: check who holds "
                                   "the cache's secret key");
            return rc;
        }
        return 1;
    }
    return 0;
}

/* "git+URL[?ref=R][&rev=X]" -> URL, ref, rev (owned); other schemes: 0 and nothing set. */
static int parse_git_from(const char *from, char **url, char **ref, char **rev, fl_error *err) {
    *url = *ref = *rev = NULL;
    if (strncmp(from, "git+", 4) != 0)
        return 0;
    const char *q = strchr(from, '?');
    *url = q ? fl_xstrndup(from + 4, (size_t)(q - from - 4)) : fl_xstrdup(from + 4);
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        size_t n = strcspn(p, "&");
        if (n > 4 && !strncmp(p, "ref=", 4)) {
            free(*ref);
            *ref = fl_xstrndup(p + 4, n - 4);
        } else if (n > 4 && !strncmp(p, "rev=", 4)) {
            free(*rev);
            *rev = fl_xstrndup(p + 4, n - 4);
        } else {
            int rc = fl_error_set(err, FL_EUSAGE, "--from %s: unknown parameter '%.*s'", from,
                                  (int)n, p);
            fl_error_set_hint(err, "a Git source takes ?ref=BRANCH and &rev=COMMIT");
            return rc;
        }
        p += n + (p[n] == '&');
    }
    return 1;
}

static int lock_pull(const char *state_dir, int *fd, fl_error *err) {
    char *dir = fl_path_join(state_dir, "host");
    char *path = fl_path_join(dir, "pull.lock");
    int rc = fl_mkdir_p(dir, 0755, err);
    *fd = -1;
    if (!rc) {
        *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (*fd < 0)
            rc = fl_error_errno(err, "cannot open %s", path);
        else if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
            rc = fl_error_set(err, FL_ECONFLICT, "another pull is running (it holds %s)", path);
            fl_error_set_hint(err, "wait for it to finish");
            close(*fd);
            *fd = -1;
        }
    }
    free(path);
    free(dir);
    return rc;
}

static const char *jstr(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Is the toplevel where the mode puts it (active; the default; both for switch), with
 * nothing left half-done? */
static int already_running(const fl_pull_opts *o, const char *toplevel) {
    fl_act_status st;
    fl_activate_status(o->root, o->state_dir, &st);
    int active = st.current && !strcmp(st.current, toplevel);
    int dflt = st.default_toplevel && !strcmp(st.default_toplevel, toplevel);
    int yes = !st.in_flight && (o->mode == FL_ACT_TEST   ? active
                                : o->mode == FL_ACT_BOOT ? dflt
                                                         : active && dflt);
    fl_act_status_release(&st);
    return yes;
}

static int activate_top(const fl_pull_opts *o, const char *toplevel, fl_error *err) {
    fl_act_options ao;
    memset(&ao, 0, sizeof ao);
    ao.mode = o->mode;
    ao.root = o->root;
    ao.state_dir = o->state_dir;
    ao.out = o->out ? o->out : stdout;
    fflush(ao.out);
    return fl_activate(&ao, toplevel, err);
}

uint64_t fl_pull_applied_floor(const json_t *rec, char *const *ids, size_t nids,
                               const char **toplevel) {
    uint64_t floor = 0;
    *toplevel = NULL;
    const json_t *ap = json_object_get(rec, "pointer");
    const json_t *marks = json_object_get(rec, "pointerMarks");
    if (!json_is_array(json_object_get(ap, "signers"))) {
        floor = fl_act_record_pointer_counter(rec);
        *toplevel = floor ? jstr(ap, "toplevel") : NULL;
    }
    for (size_t i = 0; i < nids; i++) {
        const json_t *m = json_object_get(marks, ids[i]);
        const json_t *c = json_object_get(m, "counter");
        if (json_is_integer(c) && json_integer_value(c) > 0 &&
            (uint64_t)json_integer_value(c) > floor) {
            floor = (uint64_t)json_integer_value(c);
            *toplevel = jstr(m, "toplevel");
        }
    }
    return floor;
}

/* "name:base64", as `cache keygen` prints it: how the record names a key */
static char *key_id(const fl_cache_public_key *k) {
    char *b = fl_base64_encode_str(k->pk, sizeof k->pk, 1);
    char *id = fl_xasprintf("%s:%s", k->name, b);
    free(b);
    return id;
}

static int from_cache(const fl_pull_opts *o, const json_t *rec, fl_pull_result *res,
                      fl_error *err) {
    FILE *out = o->out ? o->out : stdout;
    fl_cache_public_key *keys = NULL;
    size_t nkeys = 0;
    int rc =
        fl_cache_public_keys_parse(o->keys, o->nkeys, "--trusted-public-key", &keys, &nkeys, err);
    if (!rc && !nkeys) {
        rc = fl_error_set(err, FL_EUSAGE,
                          "pulling from the cache %s needs the cache's public "
                          "key: a pointer is only trusted when signed",
                          o->from);
        fl_error_set_hint(err, "give --trusted-public-key KEY (services.flakectl.pull."
                               "trustedPublicKeys)");
    }
    char *store_dir = fl_path_join(o->state_dir, "store");
    fl_host_pointer *p = NULL;
    if (!rc)
        rc = fl_host_pointer_fetch(o->from, o->host, store_dir, keys, nkeys, &p, err);
    free(store_dir);
    char *where = fl_xasprintf("%s/hosts/%s", o->from, o->host);
    char **ids = NULL;
    const char **signers = fl_xcalloc(nkeys + 1, sizeof *signers);
    size_t nsigners = 0;
    int decided = 0;
    if (!rc) {
        res->toplevel = fl_xstrdup(p->store_path);
        res->counter = p->counter;
        if (p->rev)
            snprintf(res->rev, sizeof res->rev, "%s", p->rev);
        /* whatever URL it came through (a mirror, http or https): counters are the signers',
         * compared with every key trusted now, so a second trusted key cannot take the
         * host back, and a key no longer trusted holds nothing back */
        ids = fl_xcalloc(nkeys, sizeof *ids);
        for (size_t i = 0; i < nkeys; i++) {
            ids[i] = key_id(&keys[i]);
            if (fl_host_pointer_trusted(p, &keys[i], 1))
                signers[nsigners++] = ids[i];
        }
        const char *applied_top = NULL;
        uint64_t applied = fl_pull_applied_floor(rec, ids, nkeys, &applied_top);
        decided =
            fl_pull_pointer_decide(p->counter, p->store_path, applied, applied_top, where, err);
        if (decided < 0 && o->allow_downgrade) {
            fprintf(out, "warning: %s (going on: --allow-downgrade)\n", err->message);
            fl_error_clear(err);
            decided = 0;
        }
        if (decided < 0)
            rc = decided;
    }
    if (!rc && decided == 1 && already_running(o, p->store_path)) {
        res->noop = 1;
        fprintf(out, "nothing to do: %s (counter %llu) is already active\n", p->store_path,
                (unsigned long long)p->counter);
    } else if (!rc) {
        fl_store *s = NULL;
        fl_substituter *sub = NULL;
        const char **urls = fl_xcalloc(o->nsubstituters + 2, sizeof *urls);
        urls[0] = o->from;
        for (size_t i = 0; i < o->nsubstituters; i++)
            urls[i + 1] = o->substituters[i];
        rc = fl_store_open(o->state_dir, &s, err);
        if (!rc)
            rc = fl_substituter_new(urls, o->nsubstituters + 1, o->keys, o->nkeys, out, &sub, err);
        if (!rc) {
            int got = fl_substituter_realise(sub, s, p->store_path, err);
            if (got == 0) {
                rc = fl_error_set(err, FL_ENOTFOUND, "%s names %s, which no cache has", where,
                                  p->store_path);
                fl_error_set_hint(err,
                                  "push the host's closure again with 'flakectl cache push "
                                  "--host %s'",
                                  o->host);
            } else if (got < 0) {
                rc = got;
            }
        }
        /* rooted until the activation holds it */
        if (!rc)
            rc = fl_store_add_temp_root(s, p->store_path, err);
        if (!rc) {
            fprintf(out, "pulled %s (counter %llu) from %s\n", p->store_path,
                    (unsigned long long)p->counter, o->from);
            rc = activate_top(o, p->store_path, err);
        }
        fl_substituter_free(sub);
        if (s)
            fl_store_close(s);
        free(urls);
    }
    /* the record: the pointer counts as applied once its toplevel runs */
    if (!rc && !(res->noop && !json_is_string(json_object_get(rec, "lastError")))) {
        fl_act_record_event ev = {.via = "pull",
                                  .host = o->host,
                                  .pointer_url = o->from,
                                  .pointer_toplevel = p->store_path,
                                  .pointer_counter = p->counter,
                                  .pointer_signers = signers,
                                  .pointer_nsigners = nsigners};
        rc = fl_act_record(o->root, o->state_dir, &ev, err);
    }
    free(where);
    fl_host_pointer_free(p);
    for (size_t i = 0; ids && i < nkeys; i++)
        free(ids[i]);
    free(ids);
    free(signers);
    free(keys);
    return rc;
}

static int from_git(const fl_pull_opts *o, const json_t *rec, fl_pull_result *res, fl_error *err) {
    char *url = NULL, *ref = NULL, *rev = NULL;
    int rc = parse_git_from(o->from, &url, &ref, &rev, err);
    if (rc < 0)
        return rc;
    rc = o->build ? 0 : fl_error_set(err, FL_EUSAGE, "pulling from Git needs a build");
    char *dir = fl_path_join(o->state_dir, "host/flake");
    const char *applied = o->allow_downgrade ? NULL : jstr(rec, "rev");
    fl_ssh_signers signers = {0};
    for (size_t i = 0; !rc && i < o->nallowed_signers; i++)
        rc = fl_ssh_signers_add(&signers, o->allowed_signers[i], "--allowed-signer", err);
    if (!rc)
        rc = fl_flake_checkout(url, o->ref ? o->ref : ref, o->rev ? o->rev : rev, applied, &signers,
                               dir, res->rev, err);
    if (!rc && signers.n)
        fprintf(o->out ? o->out : stdout, "commit %s: SSH signature by an allowed signer\n",
                res->rev);
    fl_ssh_signers_release(&signers);
    if (!rc)
        rc = o->build(o->build_ctx, dir, o->host, &res->toplevel, err);
    if (!rc) {
        fprintf(o->out ? o->out : stdout, "built %s from %s at %s\n", res->toplevel, url, res->rev);
        rc = activate_top(o, res->toplevel, err);
    }
    if (!rc) {
        fl_act_record_event ev = {.via = "pull", .host = o->host};
        rc = fl_act_record(o->root, o->state_dir, &ev, err);
    }
    free(dir);
    free(url);
    free(ref);
    free(rev);
    return rc;
}

int fl_pull(const fl_pull_opts *o, fl_pull_result *res, fl_error *err) {
    memset(res, 0, sizeof *res);
    if (!o->host || !fl_host_name_valid(o->host))
        return fl_error_set(err, FL_EUSAGE,
                            "pull needs the host's name (--host H), '%s' is not "
                            "one",
                            o->host ? o->host : "");
    int lockfd = -1;
    int rc = lock_pull(o->state_dir, &lockfd, err);
    if (rc)
        return rc;
    fl_error lerr = FL_ERROR_INIT;
    json_t *rec = fl_act_record_load(o->state_dir, &lerr);
    if (!rec && lerr.code) {
        /* without the record the applied counter is unknown: refuse rather than guess */
        fl_error_move(err, &lerr);
        fl_error_set_hint(err, "move the damaged record aside; the next pull then accepts the "
                               "cache's newest pointer");
        close(lockfd);
        return FL_EPARSE;
    }
    if (!strncmp(o->from, "git+", 4))
        rc = from_git(o, rec, res, err);
    else
        rc = from_cache(o, rec, res, err);
    if (rc) {
        fl_error_add_frame(err, "while pulling host %s from %s", o->host, o->from);
        fl_act_record_event ev = {.via = "pull", .host = o->host, .error = err->message};
        fl_error rerr = FL_ERROR_INIT;
        if (fl_act_record(o->root, o->state_dir, &ev, &rerr) < 0)
            fl_error_clear(&rerr);
    }
    json_decref(rec);
    close(lockfd);
    return rc;
}
