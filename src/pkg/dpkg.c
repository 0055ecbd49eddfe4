/* dpkg.c - what dpkg has installed, read from its status file in one pass (the no-op switch
 * pays for this read and nothing else). Never runs dpkg and never writes its database. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "flakectl/fs.h"
#include "flakectl/pkg.h"

static int by_name(const void *a, const void *b) {
    return strcmp(((const fl_pkg_installed *)a)->name, ((const fl_pkg_installed *)b)->name);
}

/* The value of a "Field: value" line (up to the end of the line). */
static const char *field(const char *line, const char *end, const char *name, size_t *vlen) {
    size_t n = strlen(name);
    if ((size_t)(end - line) <= n || memcmp(line, name, n) || line[n] != ':')
        return NULL;
    const char *v = line + n + 1;
    while (v < end && *v == ' ')
        v++;
    *vlen = (size_t)(end - v);
    return v;
}

static void add(fl_pkg_db *db, size_t *cap, const char *name, size_t nlen, const char *ver,
                size_t vlen, const char *status, size_t slen) {
    /* "want flag state": only the state matters; config-files and not-installed mean gone. */
    const char *state = status ? memrchr(status, ' ', slen) : NULL;
    size_t stlen = state ? slen - (size_t)(state + 1 - status) : 0;
    if (!name || !state)
        return;
    state++;
    if ((stlen == 12 && !memcmp(state, "config-files", 12)) ||
        (stlen == 13 && !memcmp(state, "not-installed", 13)))
        return;
    if (db->n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        db->p = fl_xrealloc(db->p, *cap * sizeof *db->p);
    }
    fl_pkg_installed *p = &db->p[db->n++];
    p->name = fl_xstrndup(name, nlen);
    p->version = ver ? fl_xstrndup(ver, vlen) : NULL;
    p->broken = !(stlen == 9 && !memcmp(state, "installed", 9));
    db->nbroken += p->broken;
}

int fl_pkg_dpkg_parse(const char *text, size_t len, fl_pkg_db *db, fl_error *err) {
    (void)err;
    memset(db, 0, sizeof *db);
    size_t cap = 0;
    const char *name = NULL, *ver = NULL, *status = NULL;
    size_t nlen = 0, vlen = 0, slen = 0;
    const char *p = text, *end = text + len;
    while (p <= end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if (eol == p) {
            /* A blank line ends the paragraph. */
            add(db, &cap, name, nlen, ver, vlen, status, slen);
            name = ver = status = NULL;
        } else if (*p != ' ' && *p != '\t') {
            const char *v;
            size_t l;
            if ((v = field(p, eol, "Package", &l)))
                name = v, nlen = l;
            else if ((v = field(p, eol, "Version", &l)))
                ver = v, vlen = l;
            else if ((v = field(p, eol, "Status", &l)))
                status = v, slen = l;
        }
        if (eol == end)
            break;
        p = eol + 1;
    }
    add(db, &cap, name, nlen, ver, vlen, status, slen);
    if (db->n)
        qsort(db->p, db->n, sizeof *db->p, by_name);
    return FL_OK;
}

int fl_pkg_dpkg_read(const char *root, fl_pkg_db *db, fl_error *err) {
    char *path = fl_path_join(root, "var/lib/dpkg/status");
    char *data = NULL;
    size_t len = 0;
    int rc = FL_OK;
    memset(db, 0, sizeof *db);
    if (fl_path_exists(path)) {
        rc = fl_read_file(path, &data, &len, err);
        if (!rc)
            rc = fl_pkg_dpkg_parse(data, len, db, err);
    }
    free(data);
    free(path);
    return rc;
}

const fl_pkg_installed *fl_pkg_db_find(const fl_pkg_db *db, const char *name) {
    if (!db->n)
        return NULL;
    fl_pkg_installed key = {(char *)name, NULL, 0};
    return bsearch(&key, db->p, db->n, sizeof *db->p, by_name);
}

void fl_pkg_db_release(fl_pkg_db *db) {
    for (size_t i = 0; i < db->n; i++) {
        free(db->p[i].name);
        free(db->p[i].version);
    }
    free(db->p);
    memset(db, 0, sizeof *db);
}
