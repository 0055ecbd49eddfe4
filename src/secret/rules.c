/* rules.c - secrets/secrets.nix and the record of what each file was encrypted to.
 * secrets.nix (agenix's format) maps a file name relative to secrets/ to its publicKeys. An
 * X25519 stanza does not reveal its recipient, so which keys a file was last encrypted to is
 * recorded in secrets/.recipients.json ({"k3s-token.age": ["age1…", …]}, sorted, ssh keys
 * without their comment), written by edit and rekey; rekey without files compares it with
 * secrets.nix. */

#define _GNU_SOURCE
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/lang.h"
#include "flakectl/secret.h"
#include "flakectl/strbuf.h"

void fl_secret_rules_release(fl_secret_rules *ru) {
    free(ru->dir);
    json_decref(ru->keys);
    json_decref(ru->record);
    memset(ru, 0, sizeof *ru);
}

static int eval_json(const char *path, fl_lang_trace_fn trace, json_t **out, fl_error *err) {
    fl_lang_config cfg = {.trace = trace};
    fl_lang *L = fl_lang_new(&cfg);
    fl_value *v = NULL;
    fl_strbuf text = FL_STRBUF_INIT;
    int rc = fl_lang_eval_file(L, path, &v, err);
    if (!rc)
        rc = fl_lang_force_deep(L, v, err);
    if (!rc)
        rc = fl_lang_print_json(L, v, 1, &text, err);
    if (!rc) {
        json_error_t je;
        *out = json_loads(text.buf, 0, &je);
        if (!*out)
            rc = fl_error_set(err, FL_EPARSE, "%s: its value cannot be read as JSON (%s)", path,
                              je.text);
    }
    fl_strbuf_release(&text);
    fl_lang_free(L);
    return rc;
}

static char *record_path(const fl_secret_rules *ru) {
    return fl_path_join(ru->dir, ".recipients.json");
}

int fl_secret_rules_load(fl_secret_rules *ru, const char *flake, fl_lang_trace_fn trace,
                         fl_error *err) {
    memset(ru, 0, sizeof *ru);
    char *sdir = fl_path_join(flake, "secrets");
    char *nix = fl_path_join(sdir, "secrets.nix");
    int rc = FL_OK;
    if (!fl_path_exists(nix)) {
        rc = fl_error_set(err, FL_ENOTFOUND, "%s does not exist", nix);
        fl_error_set_hint(err, "write it (agenix's format: { \"x.age\".publicKeys = [ \"age1…\" "
                               "]; }) or give the recipients with -r/-R");
    }
    if (!rc) {
        ru->dir = realpath(sdir, NULL);
        rc = eval_json(nix, trace, &ru->keys, err);
    }
    if (!rc && !json_is_object(ru->keys))
        rc = fl_error_set(err, FL_EPARSE,
                          "%s must be an attribute set of { publicKeys = [ … ]; } by file name",
                          nix);
    if (!rc) {
        char *rp = record_path(ru);
        char *data = NULL;
        size_t len;
        if (!fl_read_file(rp, &data, &len, NULL)) {
            ru->record = json_loads(data, 0, NULL);
            free(data);
        }
        if (!json_is_object(ru->record)) {
            json_decref(ru->record);
            ru->record = json_object(); /* unreadable: everything counts as changed */
        }
        free(rp);
    }
    if (rc)
        fl_secret_rules_release(ru);
    free(nix);
    free(sdir);
    return rc;
}

/* The file's name in secrets.nix: its path relative to secrets/; NULL when outside it. */
char *fl_secret_rules_key(const fl_secret_rules *ru, const char *path) {
    char cwd[PATH_MAX];
    char *abs = fl_canon_path(path, getcwd(cwd, sizeof cwd) ? cwd : "/");
    char *slash = strrchr(abs, '/');
    *slash = '\0';
    char *dir = realpath(*abs ? abs : "/", NULL);
    char *key = NULL;
    size_t n = strlen(ru->dir);
    if (dir) {
        char *full = fl_xasprintf("%s/%s", dir, slash + 1);
        if (!strncmp(full, ru->dir, n) && full[n] == '/')
            key = fl_xstrdup(full + n + 1);
        free(full);
    }
    free(dir);
    free(abs);
    return key;
}

/* "ssh-ed25519 AAAA… comment" -> "ssh-ed25519 AAAA…"; "age1…" as is. Owned. */
static char *key_core(const char *t) {
    while (*t == ' ' || *t == '\t')
        t++;
    const char *e = t + strcspn(t, " \t");
    if (*e)
        e += strspn(e, " \t"), e += strcspn(e, " \t");
    return fl_xstrndup(t, (size_t)(e - t));
}

static int cmp_json_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The recipients of key, added to r; *norm (may be NULL) gets the sorted set as recorded. */
int fl_secret_rules_recipients(const fl_secret_rules *ru, const char *key, fl_age_recipients *r, json_t **norm,
                            fl_error *err) {
    const json_t *pk = json_object_get(json_object_get(ru->keys, key), "publicKeys");
    if (!json_is_array(pk) || !json_array_size(pk)) {
        int rc = fl_error_set(err, FL_ENOTFOUND, "%s/secrets.nix has no publicKeys for \"%s\"",
                              ru->dir, key);
        fl_error_set_hint(err, "add \"%s\".publicKeys = [ … ]; there, or give -r/-R", key);
        return rc;
    }
    size_t n = json_array_size(pk);
    char **v = fl_xcalloc(n, sizeof(char *));
    int rc = FL_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *t = json_string_value(json_array_get(pk, i));
        char *where = fl_xasprintf("%s/secrets.nix \"%s\".publicKeys[%zu]", ru->dir, key, i);
        if (!t)
            rc = fl_error_set(err, FL_EPARSE, "%s is not a string", where);
        else
            rc = fl_age_recipient_add(r, t, where, err);
        free(where);
        if (!rc)
            v[i] = key_core(t); /* the comment of an ssh key is not part of the key */
    }
    if (!rc && norm) {
        qsort(v, n, sizeof *v, cmp_json_str);
        *norm = json_array();
        for (size_t i = 0; i < n; i++)
            if (!i || strcmp(v[i], v[i - 1]))
                json_array_append_new(*norm, json_string(v[i]));
    }
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    return rc;
}

int fl_secret_rules_save_record(const fl_secret_rules *ru, fl_error *err) {
    char *text = json_dumps(ru->record, JSON_INDENT(2) | JSON_SORT_KEYS);
    fl_strbuf b = FL_STRBUF_INIT;
    fl_strbuf_adds(&b, text);
    fl_strbuf_addch(&b, '\n');
    char *rp = record_path(ru);
    int rc = fl_atomic_write_file(rp, b.buf, b.len, 0644, err);
    free(rp);
    fl_strbuf_release(&b);
    free(text);
    return rc;
}

/* With -r/-R the file's recipients are not secrets.nix's: forget what the record says about
 * it, so the next rekey treats it as changed. Best effort: without a flake there is no record. */
void fl_secret_rules_forget(const char *flake, fl_lang_trace_fn trace, const char *const *files,
                            int n) {
    fl_secret_rules ru;
    fl_error e = FL_ERROR_INIT;
    if (!flake || fl_secret_rules_load(&ru, flake, trace, &e)) {
        fl_error_clear(&e);
        return;
    }
    int dirty = 0;
    for (int i = 0; i < n; i++) {
        char *key = fl_secret_rules_key(&ru, files[i]);
        if (key && json_object_get(ru.record, key)) {
            json_object_del(ru.record, key);
            dirty = 1;
        }
        free(key);
    }
    if (dirty)
        fl_secret_rules_save_record(&ru, &e);
    fl_error_clear(&e);
    fl_secret_rules_release(&ru);
}

int fl_secret_rules_check_host(const char *flake, fl_lang_trace_fn trace, const char *host_key,
                               const char *const *names, const char *const *files, size_t n,
                               fl_error *err) {
    if (!host_key || !n)
        return FL_OK;
    fl_secret_rules ru;
    int rc = fl_secret_rules_load(&ru, flake, trace, err);
    if (rc) {
        fl_error_add_frame(err, "while checking who can read the host's age.secrets");
        return rc;
    }
    char *mine = key_core(host_key);
    fl_strbuf bad = FL_STRBUF_INIT;
    size_t nbad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!files[i])
            continue;
        char *key = fl_secret_rules_key(&ru, files[i]);
        if (!key)
            continue; /* outside secrets/: secrets.nix says nothing about it */
        json_t *norm = NULL;
        fl_age_recipients r = {0};
        fl_error e = FL_ERROR_INIT;
        int listed = 0;
        if (!fl_secret_rules_recipients(&ru, key, &r, &norm, &e)) {
            size_t k;
            json_t *v;
            json_array_foreach(norm, k, v) {
                listed |= !strcmp(json_string_value(v), mine);
            }
        }
        if (!listed) {
            fl_strbuf_addf(&bad, "\n  age.secrets.%s.file = secrets/%s%s", names[i], key,
                           e.message ? " (not in secrets.nix)" : "");
            nbad++;
        }
        fl_error_clear(&e);
        fl_age_recipients_release(&r);
        json_decref(norm);
        free(key);
    }
    if (nbad) {
        rc = fl_error_set(err, FL_EGENERIC,
                          "%zu secret%s of this host cannot be decrypted by it: its "
                          "age.hostPublicKey %s is not among the publicKeys in %s/secrets.nix "
                          "of:%s",
                          nbad, nbad == 1 ? "" : "s", mine, ru.dir, bad.buf);
        fl_error_set_hint(err, "add the host's key to those files' publicKeys, then run "
                               "'flakectl secret rekey'");
    }
    fl_strbuf_release(&bad);
    free(mine);
    fl_secret_rules_release(&ru);
    return rc;
}
