/* SPDX-License-Identifier: MIT */
/*
 * clock.h - the two clocks kiln reads, in milliseconds.
 *
 * clock_now_ms() is wall-clock time: use it for what is stored or shown
 * (timestamps, signatures).  clock_mono_ms() never jumps: use it for
 * deadlines, timeouts and durations.
 */
#ifndef KILN_CLOCK_H
#define KILN_CLOCK_H

#include <stdint.h>

/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t clock_now_ms(void);
/* Milliseconds on a clock that only moves forward (CLOCK_MONOTONIC);
 * its zero is arbitrary, so compare it only with itself. */
int64_t clock_mono_ms(void);

#endif
