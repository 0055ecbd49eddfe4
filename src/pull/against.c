/* against.c - what `flakectl status` compares a pull host with: the pointer hosts/<H> its
 * cache holds now (read here, checked with the keys the host itself applied), not the flake
 * in the current directory, because that pointer is what the host's next pull converges on.
 * Decides the state word only; printing is the CLI's. */
#include <stdlib.h>
#include <string.h>

#include "flakectl/cache.h"
#include "flakectl/pull.h"
#include "flakectl/strbuf.h"

void fl_pull_against_release(fl_pull_against *a) {
    free(a->url);
    free(a->toplevel);
    free(a->error);
    memset(a, 0, sizeof *a);
}

static const char *str(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *fl_pull_against_state(const char *running, uint64_t applied, const char *pointed,
                                  uint64_t counter) {
    if (running && !strcmp(running, pointed))
        return "current";
    /* the same counter but not running it (a manual rollback): the next pull applies it */
    return counter >= applied ? "behind" : "ahead";
}

int fl_pull_against_cache(const json_t *rec, const char *host, const char *const *keys,
                          size_t nkeys, fl_pull_against *out) {
    memset(out, 0, sizeof *out);
    const json_t *ap = json_object_get(rec, "pointer");
    const char *url = str(ap, "url"), *applied_top = str(ap, "toplevel");
    if (!url || !applied_top || !host)
        return 0;
    out->url = fl_xstrdup(url);
    out->state = "unknown";
    /* the host's store directory, as its paths name it (it may differ from this machine's) */
    const char *slash = strrchr(applied_top, '/');
    char *store_dir = fl_xstrndup(applied_top, slash ? (size_t)(slash - applied_top) : 0);
    const json_t *signers = json_object_get(ap, "signers");
    size_t ntexts = nkeys + json_array_size(signers);
    const char **texts = fl_xcalloc(ntexts + 1, sizeof *texts);
    for (size_t i = 0; i < nkeys; i++)
        texts[i] = keys[i];
    for (size_t i = 0; i < json_array_size(signers); i++)
        texts[nkeys + i] = json_string_value(json_array_get(signers, i));
    fl_cache_public_key *pk = NULL;
    size_t npk = 0;
    fl_error err = FL_ERROR_INIT;
    fl_host_pointer *p = NULL;
    int rc = 0;
    for (size_t i = 0; i < ntexts && !rc; i++)
        if (!texts[i])
            rc =
                fl_error_set(&err, FL_EPARSE, "the record's pointer.signers is not a list of keys");
    if (!rc)
        rc = fl_cache_public_keys_parse(texts, ntexts,
                                        "the host's signers and "
                                        "--trusted-public-key",
                                        &pk, &npk, &err);
    if (!rc && !npk)
        rc = fl_error_set(&err, FL_EUSAGE,
                          "no key to check %s/hosts/%s with (the host's record "
                          "names none): give --trusted-public-key",
                          url, host);
    if (!rc)
        rc = fl_host_pointer_fetch(url, host, store_dir, pk, npk, &p, &err);
    if (rc) {
        out->error = fl_xstrdup(err.message ? err.message : "failed");
    } else {
        out->counter = p->counter;
        out->toplevel = fl_xstrdup(p->store_path);
        out->state = fl_pull_against_state(str(rec, "toplevel"), fl_act_record_pointer_counter(rec),
                                           p->store_path, p->counter);
    }
    fl_error_clear(&err);
    fl_host_pointer_free(p);
    free(pk);
    free(texts);
    free(store_dir);
    return 1;
}
