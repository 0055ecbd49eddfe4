/* fuzz_fs.c - libFuzzer target for the builtins that read files, in a sandbox directory
 * made once per process: import and scopedImport, readFile/readDir/pathExists/hashFile,
 * filterSource and builtins.path (filter, name, recursive, sha256), fetchGit of a local
 * repository and of a superproject whose submodule has a relative URL (submodules = true),
 * fetchurl and fetchTarball of file:// URLs, storePath, and <name> lookups through an -I
 * entry pointing at the sandbox. Every input is evaluated with the sandbox as its directory,
 * forced deeply and printed.
 *
 * The evaluator's check_path hook (the one the flake layer uses to hide untracked files)
 * confines the run: a path whose real location is outside the sandbox is refused, so the
 * fuzzer cannot read /dev/zero or wander through /. An oracle besides the sanitizers: the
 * fetchers' temporary directories (TMPDIR is the sandbox's tmp/) must all be gone after
 * every input, whether it failed or not. The sandbox is removed at exit. */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/error.h"
#include "flakectl/fs.h"
#include "flakectl/lang.h"
#include "flakectl/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char sandbox[PATH_MAX]; /* the real path, no trailing slash */
static char tmpdir[PATH_MAX + 8];
static char include_entry[PATH_MAX + 8];

static void quiet_trace(void *ctx, const char *line) {
    (void)ctx;
    (void)line;
}

static int inside(const char *real) {
    size_t n = strlen(sandbox);
    return !strncmp(real, sandbox, n) && (real[n] == '/' || real[n] == '\0');
}

/* Refuses every path whose real location (or, for one that does not exist, its nearest
 * existing parent's) is outside the sandbox. */
static int check_path(void *ctx, const char *path, fl_error *err) {
    (void)ctx;
    char probe[PATH_MAX], real[PATH_MAX];
    snprintf(probe, sizeof probe, "%s", path);
    for (;;) {
        if (realpath(probe, real))
            break;
        char *slash = strrchr(probe, '/');
        if (!slash || slash == probe) {
            snprintf(real, sizeof real, "/");
            break;
        }
        *slash = '\0';
    }
    if (inside(real))
        return 0;
    return fl_error_set(err, FL_ENOTFOUND, "fuzz sandbox: '%s' is outside it", path);
}

static int run(const char *cmd) {
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "fuzz_fs: set-up failed: %s\n", cmd);
        abort();
    }
    return rc;
}

static void remove_sandbox(void) {
    fl_remove_tree(sandbox, NULL);
}

/* The sandbox: plain files and a tree, a Git repository, a bare repository and a
 * superproject using it as a submodule through "../sub.git", a tarball. */
static void make_sandbox(void) {
    char tmpl[] = "/tmp/flakectl-fuzz-fs.XXXXXX";
    if (!mkdtemp(tmpl) || !realpath(tmpl, sandbox))
        abort();
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", sandbox);
    snprintf(include_entry, sizeof include_entry, "sb=%s", sandbox);
    char *cmd = NULL;
    if (asprintf(&cmd,
                 "set -e; cd '%s'; mkdir tmp d d/e; echo hello > f.txt; printf 'x' > d/e/g;"
                 " echo '{ x = 1; y = ./f.txt; }' > a.nix; echo 'z: z + 1' > d/default.nix;"
                 " echo '__curPos' > pos.nix; ln -s f.txt link;"
                 " export GIT_AUTHOR_DATE=2022-05-01T00:00:00Z"
                 " GIT_COMMITTER_DATE=2022-05-01T00:00:00Z HOME=\"$PWD/tmp\";"
                 " g() { git -c user.name=t -c user.email=t@e -c init.defaultBranch=master"
                 " -c protocol.file.allow=always \"$@\" > /dev/null 2>&1; };"
                 " mkdir repo && (cd repo && g init && echo r > r && ln -s r l && g add -A &&"
                 " g commit -m one && g checkout -b other && echo o > o && g add o &&"
                 " g commit -m two && g checkout master);"
                 " mkdir sub && (cd sub && g init && echo s > s && g add s && g commit -m s);"
                 " g clone --bare sub sub.git; rm -rf sub;"
                 " mkdir super && (cd super && g init && echo t > t && g add t &&"
                 " g submodule add ../sub.git sub && g commit -m super);"
                 " mkdir top && echo in-tar > top/file && tar -czf t.tar.gz top && rm -rf top;"
                 " rm -rf tmp/*",
                 sandbox) < 0)
        abort();
    run(cmd);
    free(cmd);
    atexit(remove_sandbox);
    setenv("TMPDIR", tmpdir, 1);
    setenv("HOME", tmpdir, 1);
}

static int tmp_is_empty(void) {
    DIR *d = opendir(tmpdir);
    if (!d)
        return 0;
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096)
        return 0;
    if (!sandbox[0])
        make_sandbox();
    char *src = malloc(size + 1);
    memcpy(src, data, size);
    src[size] = '\0';
    /* a path of the input is checked by the hook; a string spelled to reach a device is
     * not worth an execution */
    if (strlen(src) != size || strstr(src, "/dev") || strstr(src, "/proc") ||
        strstr(src, "/sys")) {
        free(src);
        return 0;
    }
    const char *includes[] = {include_entry, sandbox};
    fl_lang_config cfg = {0};
    cfg.pure = 1;
    cfg.max_stack = 256 * 1024;
    cfg.max_memory = 256u << 20;
    cfg.trace = quiet_trace;
    cfg.hooks.check_path = check_path;
    cfg.include_paths = includes;
    cfg.ninclude_paths = 2;
    fl_lang *L = fl_lang_new(&cfg);
    fl_error err = FL_ERROR_INIT;
    fl_value *v = NULL;
    /* FUZZ_VERBOSE=1: each value or error on stderr, to read what a corpus does */
    const char *verbose = getenv("FUZZ_VERBOSE");
    if (fl_lang_eval_string(L, src, "«fuzz»", sandbox, &v, &err) == 0) {
        fl_strbuf out;
        fl_strbuf_init(&out, 0);
        if (fl_lang_print(L, v, 1, &out, &err) == 0) {
            if (verbose)
                fprintf(stderr, "value: %s\n", out.buf);
            fl_strbuf_reset(&out);
            fl_lang_print_json(L, v, 1, &out, &err);
        }
        fl_strbuf_release(&out);
    }
    if (verbose && err.message)
        fprintf(stderr, "error: %s\n", err.message);
    fl_error_clear(&err);
    fl_lang_free(L);
    free(src);
    if (!tmp_is_empty()) {
        fprintf(stderr, "fuzz_fs: a temporary directory of a fetch was left in %s\n", tmpdir);
        abort();
    }
    return 0;
}
