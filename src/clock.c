/* SPDX-License-Identifier: MIT */
/*
 * clock.c - wall and monotonic clocks in milliseconds (see clock.h): one
 * place, so that no module writes its own and picks the wrong clock.
 */
#include <time.h>

#include "clock.h"

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t
clock_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}
