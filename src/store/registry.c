/* registry.c - the database of valid paths: one JSON file per path, <state>/db/<hash>.json,
 * written atomically. A store path is valid exactly when its entry exists (and the path is
 * present). Never touches the store's contents. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/strbuf.h"
#include "store/store_int.h"

static char *entry_file(fl_store *s, const char *hash_part) {
    return fl_xasprintf("%s/%.*s.json", fl_store_db_dir(s), FL_STORE_HASH_LEN, hash_part);
}

void fl_store_path_info_free(fl_store_path_info *info) {
    if (!info)
        return;
    free(info->path);
    fl_store_free_paths(info->refs, info->nrefs);
    free(info->deriver);
    free(info);
}

static int bad_entry(fl_error *err, const char *file, const char *what) {
    int rc = fl_error_set(err, FL_EPARSE, "corrupt registry entry %s: %s", file, what);
    fl_error_set_hint(err, "run 'flakectl store verify --repair'");
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int fl_registry_read(fl_store *s, const char *path, fl_store_path_info **out, fl_error *err) {
    const char *hp = fl_store_hash_part(s, path);
    if (!hp)
        return fl_error_set(err, FL_ENOTFOUND, "%s is not a path in the store %s", path,
                            fl_store_dir(s));
    char *file = entry_file(s, hp);
    json_error_t jerr;
    json_t *root = json_load_file(file, 0, &jerr);
    if (!root) {
        int rc;
        struct stat st;
        /* An empty entry is a registration a power cut interrupted: batches rename their
         * entries before the one sync that makes the data durable, and an entry is never
         * written empty. So it counts as no entry (the path is moved-in but unregistered,
         * which the next add replaces and gc sweeps), not as damage needing a repair. */
        int found = stat(file, &st) == 0;
        if ((!found && errno == ENOENT) || (found && S_ISREG(st.st_mode) && st.st_size == 0))
            rc = fl_error_set(err, FL_ENOTFOUND, "%s is not valid (not registered)", path);
        else
            rc = bad_entry(err, file, jerr.text);
        free(file);
        return rc;
    }
    int rc = FL_OK;
    fl_store_path_info *info = fl_xcalloc(1, sizeof *info);
    const char *p = json_string_value(json_object_get(root, "path"));
    const char *h = json_string_value(json_object_get(root, "narHash"));
    json_t *size = json_object_get(root, "narSize");
    json_t *time = json_object_get(root, "registrationTime");
    json_t *refs = json_object_get(root, "references");
    json_t *drv = json_object_get(root, "deriver");
    if (!p || !h || !json_is_integer(size) || !json_is_integer(time) || !json_is_array(refs) ||
        (drv && !json_is_null(drv) && !json_is_string(drv))) {
        rc = bad_entry(err, file, "missing or mistyped fields");
        goto out;
    }
    if (strcmp(p, path) != 0) {
        rc = fl_error_set(err, FL_ENOTFOUND, "%s is not valid (not registered)", path);
        goto out;
    }
    if (fl_hash_parse(h, info->nar_hash) < 0) {
        rc = bad_entry(err, file, "bad narHash");
        goto out;
    }
    info->path = fl_xstrdup(p);
    info->nar_size = (uint64_t)json_integer_value(size);
    info->registration_time = (int64_t)json_integer_value(time);
    info->deriver = json_is_string(drv) ? fl_xstrdup(json_string_value(drv)) : NULL;
    info->nrefs = json_array_size(refs);
    info->refs = fl_xcalloc(info->nrefs + 1, sizeof *info->refs);
    for (size_t i = 0; i < info->nrefs; i++) {
        const char *r = json_string_value(json_array_get(refs, i));
        if (!r) {
            rc = bad_entry(err, file, "a reference is not a string");
            goto out;
        }
        info->refs[i] = fl_xstrdup(r);
    }
out:
    json_decref(root);
    free(file);
    if (rc) {
        fl_store_path_info_free(info);
        return rc;
    }
    *out = info;
    return FL_OK;
}

int fl_registry_write(fl_store *s, const fl_store_path_info *info, fl_error *err) {
    return fl_registry_write_ex(s, info, 0, err);
}

int fl_registry_write_ex(fl_store *s, const fl_store_path_info *info, int flags, fl_error *err) {
    const char *hp = fl_store_hash_part(s, info->path);
    if (!hp)
        return fl_error_set(err, FL_EGENERIC, "cannot register %s: not a store path", info->path);
    char **refs = fl_xcalloc(info->nrefs + 1, sizeof *refs);
    if (info->nrefs)
        memcpy(refs, info->refs, info->nrefs * sizeof *refs);
    qsort(refs, info->nrefs, sizeof *refs, cmp_str);
    json_t *jrefs = json_array();
    for (size_t i = 0; i < info->nrefs; i++)
        json_array_append_new(jrefs, json_string(refs[i]));
    free(refs);
    char *hash = fl_hash_format(info->nar_hash);
    json_t *root =
        json_pack("{s:i, s:s, s:s, s:I, s:o, s:o, s:I}", "version", 1, "path", info->path,
                  "narHash", hash, "narSize", (json_int_t)info->nar_size, "references", jrefs,
                  "deriver", info->deriver ? json_string(info->deriver) : json_null(),
                  "registrationTime", (json_int_t)info->registration_time);
    free(hash);
    if (!root) /* jansson refuses strings that are not UTF-8 */
        return fl_error_set(err, FL_EGENERIC, "cannot register %s: the path is not valid UTF-8",
                            info->path);
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(root);
    char *file = entry_file(s, hp);
    fl_strbuf sb;
    fl_strbuf_init(&sb, 0);
    fl_strbuf_adds(&sb, text);
    fl_strbuf_addch(&sb, '\n');
    free(text);
    int rc = fl_atomic_write_file_ex(file, sb.buf, sb.len, 0644, flags, err);
    if (rc)
        fl_error_add_frame(err, "while registering %s", info->path);
    fl_strbuf_release(&sb);
    free(file);
    return rc;
}

int fl_registry_remove(fl_store *s, const char *path, fl_error *err) {
    const char *hp = fl_store_hash_part(s, path);
    if (!hp)
        return FL_OK;
    char *file = entry_file(s, hp);
    int rc = FL_OK;
    if (unlink(file) < 0 && errno != ENOENT)
        rc = fl_error_errno(err, "cannot unregister %s", path);
    free(file);
    return rc;
}

int fl_registry_list(fl_store *s, char ***paths, size_t *n, fl_error *err) {
    DIR *d = opendir(fl_store_db_dir(s));
    if (!d)
        return fl_error_errno(err, "cannot read the registry %s", fl_store_db_dir(s));
    char **out = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len != FL_STORE_HASH_LEN + 5 || strcmp(de->d_name + FL_STORE_HASH_LEN, ".json"))
            continue;
        char *file = fl_path_join(fl_store_db_dir(s), de->d_name);
        json_t *root = json_load_file(file, 0, NULL);
        free(file);
        const char *p = root ? json_string_value(json_object_get(root, "path")) : NULL;
        if (p) {
            if (cnt == cap) {
                cap = cap ? cap * 2 : 64;
                out = fl_xrealloc(out, cap * sizeof *out);
            }
            out[cnt++] = fl_xstrdup(p);
        }
        json_decref(root);
    }
    closedir(d);
    if (cnt)
        qsort(out, cnt, sizeof *out, cmp_str);
    *paths = out;
    *n = cnt;
    return FL_OK;
}
