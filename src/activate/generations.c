/* generations.c - the generation links: <state>/profiles/system-<N>-link -> toplevel,
 * <state>/profiles/system -> system-<N>-link (the default) and <root>/run/flakectl/current ->
 * toplevel (what is active). Every link change goes through fl_atomic_symlink, so a link is
 * never missing. Never deletes the default or the current generation. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "activate/internal.h"
#include "flakectl/fs.h"

static char *profiles_dir(const char *state_dir) {
    return fl_path_join(state_dir, "profiles");
}

static char *gen_link(const char *state_dir, int n) {
    return fl_xasprintf("%s/profiles/system-%d-link", state_dir, n);
}

static int parse_gen_name(const char *name) {
    int n = 0;
    if (strncmp(name, "system-", 7))
        return 0;
    const char *s = name + 7;
    if (*s < '1' || *s > '9')
        return 0;
    while (*s >= '0' && *s <= '9') {
        if (n > 100000000)
            return 0;
        n = n * 10 + (*s++ - '0');
    }
    return strcmp(s, "-link") ? 0 : n;
}

static char *read_link(const char *path) {
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0)
        return NULL;
    return fl_xstrndup(buf, (size_t)n);
}

int fl_gen_default(const char *state_dir) {
    char *link = fl_xasprintf("%s/profiles/system", state_dir);
    char *t = read_link(link);
    free(link);
    if (!t)
        return 0;
    const char *base = strrchr(t, '/');
    int n = parse_gen_name(base ? base + 1 : t);
    free(t);
    return n;
}

char *fl_gen_current(const char *root) {
    char *t = fl_act_root_readlink(root, "/run/flakectl/current");
    if (!t)
        return NULL;
    char *real = realpath(t, NULL);
    free(t);
    return real;
}

char *fl_gen_toplevel(const char *state_dir, int number) {
    if (number <= 0)
        return NULL;
    char *link = gen_link(state_dir, number);
    char *real = realpath(link, NULL);
    free(link);
    return real;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The generation numbers present, ascending. */
static int *numbers(const char *state_dir, size_t *n) {
    *n = 0;
    char *dir = profiles_dir(state_dir);
    DIR *d = opendir(dir);
    free(dir);
    if (!d)
        return NULL;
    int *out = NULL;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int g = parse_gen_name(de->d_name);
        if (g > 0) {
            out = fl_xrealloc(out, (*n + 1) * sizeof(int));
            out[(*n)++] = g;
        }
    }
    closedir(d);
    if (*n)
        qsort(out, *n, sizeof(int), cmp_int);
    return out;
}

int fl_gen_list(const char *state_dir, const char *root, fl_generation **gens, size_t *count,
                fl_error *err) {
    size_t n;
    int *nums = numbers(state_dir, &n);
    int dflt = fl_gen_default(state_dir);
    char *current = fl_gen_current(root);
    fl_generation *g = fl_xcalloc(n ? n : 1, sizeof(fl_generation));
    for (size_t i = 0; i < n; i++) {
        char *link = gen_link(state_dir, nums[i]);
        struct stat st;
        g[i].number = nums[i];
        g[i].toplevel = read_link(link);
        g[i].date = lstat(link, &st) == 0 ? st.st_mtime : 0;
        g[i].dirty = -1;
        g[i].is_default = nums[i] == dflt;
        char *real = realpath(link, NULL);
        g[i].is_current = current && real && !strcmp(real, current);
        /* The revision is a nicety: a toplevel whose profile.json is unreadable still lists. */
        if (real) {
            char *pj = fl_path_join(real, "profile.json");
            json_t *p = json_load_file(pj, 0, NULL);
            json_t *flake = json_object_get(p, "flake");
            const char *rev = fl_act_jstr(flake, "rev", NULL);
            g[i].rev = rev ? fl_xstrdup(rev) : NULL;
            if (json_is_boolean(json_object_get(flake, "dirty")))
                g[i].dirty = json_is_true(json_object_get(flake, "dirty"));
            json_decref(p);
            free(pj);
        }
        free(real);
        free(link);
    }
    free(nums);
    free(current);
    *gens = g;
    *count = n;
    (void)err;
    return FL_OK;
}

void fl_gen_list_free(fl_generation *gens, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(gens[i].toplevel);
        free(gens[i].rev);
    }
    free(gens);
}

int fl_gen_next_number(const char *state_dir) {
    size_t n;
    int *nums = numbers(state_dir, &n);
    int next = n ? nums[n - 1] + 1 : 1;
    free(nums);
    return next;
}

int fl_gen_create(const char *state_dir, const char *toplevel, int *number, fl_error *err) {
    char *dir = profiles_dir(state_dir);
    int rc = fl_mkdir_p(dir, 0755, err);
    free(dir);
    if (rc)
        return rc;
    int next = fl_gen_next_number(state_dir);
    char *link = gen_link(state_dir, next);
    rc = fl_atomic_symlink(toplevel, link, err);
    free(link);
    if (!rc)
        *number = next;
    return rc;
}

int fl_gen_set_default(const char *state_dir, int number, fl_error *err) {
    char *link = fl_xasprintf("%s/profiles/system", state_dir);
    char *target = fl_xasprintf("system-%d-link", number);
    int rc = fl_atomic_symlink(target, link, err);
    free(link);
    free(target);
    return rc;
}

int fl_gen_set_current(const char *root, const char *toplevel, fl_error *err) {
    /* Beneath the root without following links: /run or /run/flakectl planted as a link
     * must not carry `current` out of it. */
    return fl_act_root_symlink(root, "/run/flakectl/current", toplevel, err);
}

/* Why generation g may not go, or NULL. */
static const char *protected_reason(const fl_generation *g) {
    if (g->is_current && g->is_default)
        return "it is the current and the default generation";
    if (g->is_current)
        return "it is the current generation (active now)";
    if (g->is_default)
        return "it is the default generation (booted next)";
    return NULL;
}

static int remove_gen(const char *state_dir, int number, FILE *out, fl_error *err) {
    char *link = gen_link(state_dir, number);
    int rc = FL_OK;
    if (unlink(link) < 0 && errno != ENOENT)
        rc = fl_error_errno(err, "cannot delete generation %d (%s)", number, link);
    else
        fprintf(out, "deleted generation %d\n", number);
    free(link);
    return rc;
}

int fl_gen_delete(const char *state_dir, const char *root, const int *nums, size_t count, FILE *out,
                  fl_error *err) {
    fl_generation *g;
    size_t n;
    int rc = fl_gen_list(state_dir, root, &g, &n, err);
    if (rc)
        return rc;
    /* All or none: check every number before deleting any. */
    for (size_t k = 0; !rc && k < count; k++) {
        const fl_generation *found = NULL;
        for (size_t i = 0; i < n; i++)
            if (g[i].number == nums[k])
                found = &g[i];
        if (!found) {
            rc = fl_error_set(err, FL_ENOTFOUND, "generation %d does not exist", nums[k]);
            fl_error_set_hint(err, "'flakectl generations' lists them");
        } else if (protected_reason(found)) {
            rc = fl_error_set(err, FL_ECONFLICT, "refusing to delete generation %d: %s", nums[k],
                              protected_reason(found));
            fl_error_set_hint(err, "switch or roll back to another generation first");
        }
    }
    for (size_t k = 0; !rc && k < count; k++)
        rc = remove_gen(state_dir, nums[k], out, err);
    fl_gen_list_free(g, n);
    return rc;
}

int fl_gen_delete_older(const char *state_dir, const char *root, time_t cutoff, FILE *out,
                        fl_error *err) {
    fl_generation *g;
    size_t n;
    int rc = fl_gen_list(state_dir, root, &g, &n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        if (g[i].date >= cutoff)
            continue;
        if (protected_reason(&g[i])) {
            fprintf(out, "kept generation %d: %s\n", g[i].number, protected_reason(&g[i]));
            continue;
        }
        rc = remove_gen(state_dir, g[i].number, out, err);
    }
    fl_gen_list_free(g, n);
    return rc;
}
