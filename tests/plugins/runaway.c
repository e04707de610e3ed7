/* SPDX-License-Identifier: MIT */
/*
 * runaway.c - a test plugin that misbehaves as `mode` says, never looking
 * at cancelled(): "spin" loops forever on its thread and two threads of
 * its own; "alloc" allocates and touches 8 MiB more every 10 ms without
 * end; "segv" dereferences a null pointer.  Used by executors.sh to check
 * that a worker stops such tasks and survives them.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kiln/plugin.h"

static void *
spin_forever(void *arg)
{
	volatile unsigned long *n = arg;
	for (;;)
		(*n)++;
	return NULL;
}

static int
runaway_run(kiln_task *t, const struct kiln_host *host)
{
	const char *mode = host->param(t, "mode");
	static volatile unsigned long counter;
	if (mode != NULL && strcmp(mode, "alloc") == 0) {
		struct timespec ts = { 0, 10 * 1000000 };
		for (;;) {
			char *p = malloc(8 << 20);
			if (p != NULL)
				memset(p, 1, 8 << 20);
			nanosleep(&ts, NULL);
		}
	}
	if (mode != NULL && strcmp(mode, "segv") == 0) {
		/* A wild pointer, not NULL: UBSan would stop at a null one
		 * before the fault. */
		volatile uintptr_t addr = 64;  /* opaque to the compiler */
		volatile int *wild = (volatile int *)addr;
		return *wild;
	}
	if (mode != NULL && strcmp(mode, "spin") == 0) {
		pthread_t th;
		for (int i = 0; i < 2; i++)
			if (pthread_create(&th, NULL, spin_forever,
			                   (void *)&counter) == 0)
				pthread_detach(th);
		spin_forever((void *)&counter);
	}
	if (mode != NULL && strcmp(mode, "pid") == 0) {
		char pid[32];       /* which process runs the task */
		snprintf(pid, sizeof pid, "{\"pid\":%ld}", (long)getpid());
		return host->set_result(t, pid);
	}
	host->set_error(t, "mode must be spin, alloc, segv or pid");
	return KILN_EINVAL;
}

static const struct kiln_param runaway_params[] = {
	{ "mode", "string", NULL, "spin, alloc, segv or pid" },
	{ NULL, NULL, NULL, NULL },
};

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "runaway",
	.version = "1.0.0",
	.description = "Spins, allocates without end or crashes (tests only)",
	.params = runaway_params,
	.run = runaway_run,
};
