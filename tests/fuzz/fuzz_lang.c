/* fuzz_lang.c - libFuzzer target for the parser and evaluator: every input is parsed,
 * evaluated deeply and printed (nix format and JSON) in a fresh evaluator. Inputs that touch
 * the file system (import, readFile, ...) are skipped so a run cannot wander into /dev or
 * /proc; everything else in the language is fair game. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/lang.h"
#include "flakectl/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int touches_files(const char *src) {
    static const char *const words[] = {"import", "readFile", "readDir", "pathExists",
                                        "hashFile", "getEnv", "toFile", "/dev", "/proc",
                                        "/sys", "scopedImport", "path", "filterSource",
                                        "fetch", "storePath", "findFile"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(src, words[i]))
            return 1;
    return 0;
}

static void quiet_trace(void *ctx, const char *line) {
    (void)ctx;
    (void)line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096)
        return 0;
    char *src = malloc(size + 1);
    memcpy(src, data, size);
    src[size] = '\0';
    if (strlen(src) != size || touches_files(src)) {
        free(src);
        return 0;
    }
    fl_lang_config cfg = {0};
    cfg.pure = 1;
    cfg.max_stack = 256 * 1024;
    cfg.trace = quiet_trace;
    fl_lang *L = fl_lang_new(&cfg);
    fl_error err = FL_ERROR_INIT;
    fl_value *v = NULL;
    if (fl_lang_eval_string(L, src, "«fuzz»", "/", &v, &err) == 0) {
        fl_strbuf out;
        fl_strbuf_init(&out, 0);
        if (fl_lang_print(L, v, 1, &out, &err) == 0) {
            fl_strbuf_reset(&out);
            fl_lang_print_json(L, v, 1, &out, &err);
        }
        fl_strbuf_release(&out);
    }
    fl_error_clear(&err);
    fl_lang_free(L);
    free(src);
    return 0;
}
