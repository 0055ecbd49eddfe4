/* dpkg.c - what dpkg has installed, read from its status file in one pass, with the entries
 * of its journal (updates/) that a killed dpkg left unmerged (the no-op switch pays for this
 * read and nothing else). Never runs dpkg and never writes its database. */
#define _GNU_SOURCE
#include <dirent.h>
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

/* One paragraph, in reading order (the status file first, then each journal entry). */
typedef struct para {
    fl_pkg_installed p;
    int gone; /* config-files or not-installed */
    size_t seq;
} para;

typedef struct paras {
    para *v;
    size_t n, cap;
} paras;

static void add(paras *ps, const char *name, size_t nlen, const char *ver, size_t vlen,
                const char *status, size_t slen) {
    /* "want flag state": only the state matters; config-files and not-installed mean gone. */
    const char *state = status ? memrchr(status, ' ', slen) : NULL;
    size_t stlen = state ? slen - (size_t)(state + 1 - status) : 0;
    if (!name || !state)
        return;
    state++;
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 256;
        ps->v = fl_xrealloc(ps->v, ps->cap * sizeof *ps->v);
    }
    para *e = &ps->v[ps->n];
    e->seq = ps->n++;
    e->gone = (stlen == 12 && !memcmp(state, "config-files", 12)) ||
              (stlen == 13 && !memcmp(state, "not-installed", 13));
    e->p.name = fl_xstrndup(name, nlen);
    e->p.version = ver ? fl_xstrndup(ver, vlen) : NULL;
    e->p.broken = !(stlen == 9 && !memcmp(state, "installed", 9));
}

static void parse_text(const char *text, size_t len, paras *ps) {
    const char *name = NULL, *ver = NULL, *status = NULL;
    size_t nlen = 0, vlen = 0, slen = 0;
    const char *p = text, *end = text + len;
    while (p <= end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if (eol == p) {
            /* A blank line ends the paragraph. */
            add(ps, name, nlen, ver, vlen, status, slen);
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
    add(ps, name, nlen, ver, vlen, status, slen);
}

static int by_name_seq(const void *a, const void *b) {
    const para *x = a, *y = b;
    int c = strcmp(x->p.name, y->p.name);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* The last word on each package wins; what it says is gone leaves the database. */
static void finish(paras *ps, fl_pkg_db *db) {
    if (ps->n)
        qsort(ps->v, ps->n, sizeof *ps->v, by_name_seq);
    db->p = fl_xcalloc(ps->n ? ps->n : 1, sizeof *db->p);
    for (size_t i = 0; i < ps->n; i++) {
        para *e = &ps->v[i];
        int later = i + 1 < ps->n && !strcmp(ps->v[i + 1].p.name, e->p.name);
        if (later || e->gone) {
            free(e->p.name);
            free(e->p.version);
            continue;
        }
        db->p[db->n++] = e->p;
        db->nbroken += e->p.broken;
    }
    free(ps->v);
    memset(ps, 0, sizeof *ps);
}

int fl_pkg_dpkg_parse(const char *text, size_t len, fl_pkg_db *db, fl_error *err) {
    (void)err;
    memset(db, 0, sizeof *db);
    paras ps = {0};
    parse_text(text, len, &ps);
    finish(&ps, db);
    return FL_OK;
}

static int journal_name(const char *n) {
    return *n && strspn(n, "0123456789") == strlen(n);
}

static int by_number(const void *a, const void *b) {
    unsigned long x = strtoul(*(char *const *)a, NULL, 10);
    unsigned long y = strtoul(*(char *const *)b, NULL, 10);
    return (x > y) - (x < y);
}

int fl_pkg_dpkg_read(const char *root, fl_pkg_db *db, fl_error *err) {
    char *path = fl_path_join(root, "var/lib/dpkg/status");
    char *updates = fl_path_join(root, "var/lib/dpkg/updates");
    char *data = NULL;
    size_t len = 0;
    int rc = FL_OK;
    paras ps = {0};
    memset(db, 0, sizeof *db);
    if (fl_path_exists(path)) {
        rc = fl_read_file(path, &data, &len, err);
        if (!rc)
            parse_text(data, len, &ps);
        free(data);
    }
    /* dpkg notes each change in updates/<number> before it merges them into status: a
     * killed dpkg leaves them there, and until `dpkg --configure -a` they are the truth
     * (and apt refuses to run). */
    char **names = NULL;
    size_t nn = 0;
    DIR *d = rc ? NULL : opendir(updates);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (journal_name(de->d_name)) {
            names = fl_xrealloc(names, (nn + 1) * sizeof *names);
            names[nn++] = fl_xstrdup(de->d_name);
        }
    if (d)
        closedir(d);
    if (nn)
        qsort(names, nn, sizeof *names, by_number);
    for (size_t i = 0; i < nn; i++) {
        char *f = fl_path_join(updates, names[i]);
        fl_error e = FL_ERROR_INIT;
        /* One written while dpkg died may be gone or cut short: what it holds counts. */
        if (fl_read_file(f, &data, &len, &e) == 0) {
            parse_text(data, len, &ps);
            free(data);
        }
        fl_error_clear(&e);
        free(f);
        free(names[i]);
    }
    free(names);
    finish(&ps, db);
    db->interrupted = nn > 0;
    free(updates);
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
