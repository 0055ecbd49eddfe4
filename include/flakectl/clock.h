/* clock.h - the monotonic clock, for durations and deadlines (never the wall clock). */
#ifndef FLAKECTL_CLOCK_H
#define FLAKECTL_CLOCK_H

/* Seconds, and milliseconds, since an arbitrary fixed point (CLOCK_MONOTONIC). */
double fl_now_s(void);
double fl_now_ms(void);

#endif
