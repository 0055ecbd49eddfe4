/* clock.c - the one reading of CLOCK_MONOTONIC: timings, timeouts and deadlines. */
#include <time.h>

#include "flakectl/clock.h"

double fl_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double fl_now_ms(void) {
    return fl_now_s() * 1e3;
}
