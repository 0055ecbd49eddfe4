/* replay.c - runs the fuzz target over every file of the saved corpus (CI's check that
 * nothing the fuzzer once found crashes again), without libFuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flakectl/error.h"
#include "flakectl/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 1;
    }
    struct dirent *de;
    int count = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *path = fl_path_join(argv[1], de->d_name);
        char *data = NULL;
        size_t len = 0;
        fl_error err = FL_ERROR_INIT;
        if (fl_read_file(path, &data, &len, &err) == 0) {
            LLVMFuzzerTestOneInput((const uint8_t *)data, len);
            count++;
        }
        fl_error_clear(&err);
        free(data);
        free(path);
    }
    closedir(d);
    printf("%d passed, 0 failed\n", count);
    return count > 0 ? 0 : 1;
}
