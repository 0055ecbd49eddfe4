/* fuzz_formats.c - libFuzzer target for the input formats the evaluator reads from bytes
 * it does not control: builtins.fromJSON, builtins.fromTOML (dates included), the
 * .gitmodules of a fetchGit with submodules = true (libgit2's config parser, then the
 * submodule's URL resolved against its superproject's as git does) and the archive of a
 * fetchTarball (what tar makes of it, hashed and cleaned up). The first byte picks
 * the format; the rest is the input, raw (NUL bytes included). Every result that parses is
 * forced deeply and printed (nix, JSON and, through toXML, XML), so the printers see what
 * the parsers build. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/lang.h"
#include "flakectl/strbuf.h"
#include "../../src/lang/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet_trace(void *ctx, const char *line) {
    (void)ctx;
    (void)line;
}

static void print_all(fl_lang *L, fl_value *v) {
    fl_error err = FL_ERROR_INIT;
    fl_strbuf out;
    fl_strbuf_init(&out, 0);
    if (fl_lang_force_deep(L, v, &err) == 0 && fl_lang_print(L, v, 1, &out, &err) == 0) {
        fl_strbuf_reset(&out);
        fl_lang_print_json(L, v, 1, &out, &err);
        fl_value *to_xml = NULL, *xml = NULL;
        fl_error_clear(&err);
        if (fl_lang_eval_string(L, "builtins.toXML", "«fuzz»", "/", &to_xml, &err) == 0)
            fl_lang_call(L, to_xml, v, &xml, &err);
    }
    fl_error_clear(&err);
    fl_strbuf_release(&out);
}

/* builtins.<fn> applied to the bytes as a string (a Nix string ends at its first NUL, as
 * the bytes of a file read with readFile would). */
static void parse_with(fl_lang *L, const char *fn, const uint8_t *data, size_t size) {
    fl_error err = FL_ERROR_INIT;
    fl_value *f = NULL, *v = NULL;
    size_t n = strnlen((const char *)data, size);
    if (fl_lang_eval_string(L, fn, "«fuzz»", "/", &f, &err) == 0 &&
        fl_lang_call(L, f, fl_lang_mk_string(L, (const char *)data, n), &v, &err) == 0)
        print_all(L, v);
    fl_error_clear(&err);
}

/* "BASE\nPATH\n.gitmodules": the URL .gitmodules gives the submodule at PATH, relative to
 * the superproject's URL BASE. */
static void gitmodules(fl_lang *L, const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *base = buf, *path = strchr(base, '\n'), *text = NULL;
    if (path) {
        *path++ = '\0';
        text = strchr(path, '\n');
    }
    if (!text) {
        free(buf);
        return;
    }
    *text++ = '\0';
    char file[] = "/tmp/fuzz-gitmodules.XXXXXX";
    int fd = mkstemp(file);
    if (fd >= 0) {
        size_t len = size - (size_t)(text - buf);
        if (write(fd, text, len) == (ssize_t)len) {
            const char *url = NULL;
            const char *msg = lang_gitmodules_url((State *)L, file, path, base, &url);
            /* the answer is a string of the arena either way: read it all */
            if (!msg && url)
                msg = strlen(url) ? url : "";
            if (msg)
                (void)strlen(msg);
        }
        close(fd);
        unlink(file);
    }
    free(buf);
}

/* The bytes as the archive of a builtins.fetchTarball of a file:// URL: unpacked by tar(1)
 * into a temporary directory, its single top-level entry hashed as a NAR (whatever tar made
 * of it: symlinks, hard links, empty directories, odd modes), then the hash compared with a
 * pinned one that never matches. The temporary directories (TMPDIR is a private directory
 * of this process, mode 0700, so nothing tar creates as root is reachable by others) must
 * all be gone afterwards. */
static char tar_dir[64];

static void remove_tar_dir(void) {
    fl_remove_tree(tar_dir, NULL);
}

static void tarball(fl_lang *L, const uint8_t *data, size_t size) {
    if (!tar_dir[0]) {
        snprintf(tar_dir, sizeof tar_dir, "/tmp/flakectl-fuzz-tar.XXXXXX");
        char tmp[96];
        if (!mkdtemp(tar_dir) || snprintf(tmp, sizeof tmp, "%s/tmp", tar_dir) < 0 ||
            mkdir(tmp, 0700) < 0)
            abort();
        setenv("TMPDIR", tmp, 1);
        atexit(remove_tar_dir);
    }
    char archive[96], src[256];
    snprintf(archive, sizeof archive, "%s/archive", tar_dir);
    fl_error err = FL_ERROR_INIT;
    if (fl_atomic_write_file(archive, data, size, 0600, &err) == 0) {
        snprintf(src, sizeof src,
                 "builtins.fetchTarball { url = \"file://%s\"; sha256 = "
                 "\"0000000000000000000000000000000000000000000000000000\"; }",
                 archive);
        fl_value *v = NULL;
        if (fl_lang_eval_string(L, src, "«fuzz»", "/", &v, &err) == 0)
            print_all(L, v);
    }
    fl_error_clear(&err);
    unlink(archive);
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%s/tmp", tar_dir);
    if (rmdir(tmp) < 0 || mkdir(tmp, 0700) < 0) {
        fprintf(stderr, "fuzz_formats: fetchTarball left something in %s\n", tmp);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 8192)
        return 0;
    fl_lang_config cfg = {0};
    cfg.pure = 1;
    cfg.max_stack = 256 * 1024;
    cfg.max_memory = 256u << 20;
    cfg.trace = quiet_trace;
    fl_lang *L = fl_lang_new(&cfg);
    switch (data[0] % 4) {
    case 0:
        parse_with(L, "builtins.fromJSON", data + 1, size - 1);
        break;
    case 1:
        parse_with(L, "builtins.fromTOML", data + 1, size - 1);
        break;
    case 2:
        gitmodules(L, data + 1, size - 1);
        break;
    default:
        tarball(L, data + 1, size - 1);
        break;
    }
    fl_lang_free(L);
    return 0;
}
