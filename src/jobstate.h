/* SPDX-License-Identifier: MIT */
/*
 * jobstate.h - the states of a job, shared by the master (store, scheduler,
 * API) and the worker (the state of a finished attempt it reports), so
 * that the worker needs none of the master's headers.
 */
#ifndef KILN_JOBSTATE_H
#define KILN_JOBSTATE_H

#include <stdint.h>

enum job_state {
	JOB_QUEUED = 0,
	JOB_RUNNING,
	JOB_SUCCEEDED,
	JOB_FAILED,
	JOB_CANCELLED,
	JOB_NSTATES
};

/* A poke of a sensor whose condition does not hold yet (the plugin
 * returned KILN_NOT_YET) ends its attempt as succeeded with a result that
 * starts with this, followed by ',"reason":"..."}' or '}': the master
 * then puts the task instance up for reschedule (src/sensor.c) rather
 * than marking it a success. */
#define JOB_NOT_YET_MARK "{\"kiln_not_yet\":true"
/* The parameter that marks a job as a sensor's poke (true): only then
 * is a plugin's KILN_NOT_YET read as "not yet". */
#define JOB_SENSOR_PARAM "__sensor"
/* 1 if RESULT (may be NULL) is such a result. */
int job_result_not_yet(const char *result);

/* "queued", "running", ...; "unknown" for a value out of range. */
const char *job_state_name(int state);
/* The state named NAME, or -1 if unknown (or NULL). */
int job_state_parse(const char *name);

/* How logs and messages name a task: "job ID", or "stage STAGE task
 * INDEX" for a map task (STAGE > 0), whose negative id means nothing to
 * a reader.  Written into BUF (JOB_NAME_MAX bytes); returns BUF. */
#define JOB_NAME_MAX 64
char *job_name(char *buf, int64_t id, int64_t stage, int64_t index);

#endif
