/* lock.c - flake.lock on disk: reading Nix's version 7 shape, and writing it back with stable
 * key order (sorted, 2-space indent, trailing newline) through fl_atomic_write_file, only when
 * the content changes. Knows nothing about fetching. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "flake/lock.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

int fl_lock_read(const char *path, json_t **out, fl_error *err) {
    *out = NULL;
    if (!fl_path_exists(path))
        return FL_OK;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        fl_error_set(err, FL_EPARSE, "flake.lock is not valid JSON: %s", je.text);
        fl_error_set_loc(err, path, je.line, je.column);
        fl_error_set_hint(err, "fix it, or delete it and run `flakectl lock`");
        return FL_EPARSE;
    }
    json_t *version = json_object_get(root, "version");
    json_t *nodes = json_object_get(root, "nodes");
    const char *rootname = json_string_value(json_object_get(root, "root"));
    json_t *rnode = rootname ? json_object_get(nodes, rootname) : NULL;
    if (!json_is_integer(version) || json_integer_value(version) < 5 ||
        json_integer_value(version) > 7 || !json_is_object(nodes) || !json_is_object(rnode)) {
        json_decref(root);
        fl_error_set(err, FL_EPARSE,
                     "%s is not a lock file of version 5 to 7 with `nodes` and `root`", path);
        fl_error_set_hint(err, "delete it and run `flakectl lock`");
        return FL_EPARSE;
    }
    *out = root;
    return FL_OK;
}

json_t *fl_lock_node(json_t *lock, const char *name) {
    if (!lock)
        return NULL;
    json_t *nodes = json_object_get(lock, "nodes");
    json_t *rnode = json_object_get(nodes, json_string_value(json_object_get(lock, "root")));
    json_t *ref = json_object_get(json_object_get(rnode, "inputs"), name);
    if (!ref)
        return NULL;
    /* A list is Nix's `follows`: not something flakectl writes, so it is relocked. */
    if (!json_is_string(ref))
        return NULL;
    json_t *node = json_object_get(nodes, json_string_value(ref));
    if (!json_is_object(json_object_get(node, "locked")) ||
        !json_is_object(json_object_get(node, "original")))
        return NULL;
    return node;
}

/* jansson keeps no positions: find `"node": { ... "locked": { ... "field"` in the text, the
 * shape every writer of flake.lock (Nix and flakectl) gives it. 0 when not found. */
int fl_lock_locate(const char *path, const char *node, const char *field, int *line, int *col) {
    char *text = NULL;
    size_t len = 0;
    *line = *col = 0;
    if (fl_read_file(path, &text, &len, NULL) < 0)
        return 0;
    char *nkey = fl_xasprintf("\"%s\"", node), *fkey = fl_xasprintf("\"%s\"", field);
    const char *n = strstr(text, "\"nodes\"");
    n = n ? strstr(n, nkey) : NULL;
    const char *l = n ? strstr(n, "\"locked\"") : NULL;
    const char *f = l ? strstr(l, fkey) : NULL;
    const char *end = l ? strchr(l, '}') : NULL;
    if (f && end && f < end) {
        *line = 1;
        const char *bol = text;
        for (const char *c = text; c < f; c++)
            if (*c == '\n') {
                (*line)++;
                bol = c + 1;
            }
        *col = (int)(f - bol) + 1;
    }
    free(nkey);
    free(fkey);
    free(text);
    return *line != 0;
}

char *fl_lock_dump(json_t *lock) {
    char *s = json_dumps(lock, JSON_INDENT(2) | JSON_SORT_KEYS);
    char *r = fl_xasprintf("%s\n", s);
    free(s);
    return r;
}

int fl_lock_write_if_changed(const char *path, json_t *lock, int *written, fl_error *err) {
    char *text = fl_lock_dump(lock);
    char *old = NULL;
    size_t oldlen = 0;
    *written = 0;
    int same = fl_path_exists(path) && fl_read_file(path, &old, &oldlen, NULL) == 0 &&
               oldlen == strlen(text) && !memcmp(old, text, oldlen);
    free(old);
    int rc = FL_OK;
    if (!same) {
        rc = fl_atomic_write_file(path, text, strlen(text), 0644, err);
        if (rc < 0)
            fl_error_add_frame(err, "while writing %s", path);
        else
            *written = 1;
    }
    free(text);
    return rc;
}
