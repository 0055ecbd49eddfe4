/* racer.c - the attacker of tests/security/chmod_race.sh: the owner of a directory who swaps
 * a symlink in the moment a file lands there. Polls DIR/NAME; whenever a regular file with a
 * new inode appears, renames a prepared symlink to TARGET over it. Runs at most SECONDS
 * (bounded, so a broken test cannot hang) or until SIGTERM; prints how often it swapped. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig) {
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: racer DIR NAME TARGET SECONDS\n");
        return 2;
    }
    int dfd = open(argv[1], O_RDONLY | O_DIRECTORY);
    if (dfd < 0) {
        perror(argv[1]);
        return 2;
    }
    signal(SIGTERM, on_term);
    const char *name = argv[2], *target = argv[3], *spare = ".racer-link";
    time_t end = time(NULL) + atol(argv[4]);
    unsigned long swaps = 0, polls = 0;
    ino_t last = 0;
    unlinkat(dfd, spare, 0);
    if (symlinkat(target, dfd, spare) < 0) {
        perror("symlink");
        return 2;
    }
    while (!stop) {
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            st.st_ino != last) {
            last = st.st_ino;
            if (renameat(dfd, spare, dfd, name) == 0) {
                swaps++;
                symlinkat(target, dfd, spare);
            }
        }
        if ((++polls & 0xffff) == 0 && time(NULL) >= end)
            break;
    }
    unlinkat(dfd, spare, 0);
    printf("racer: %lu swaps\n", swaps);
    return 0;
}
