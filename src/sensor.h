/* SPDX-License-Identifier: MIT */
/*
 * sensor.h - sensor tasks (a DAG task with `sensor:`, dag.h): when a
 * sensor is poked, whether it timed out, and the pokes the master makes
 * itself.  A sensor between pokes is a task instance up for reschedule
 * (TI_UP_FOR_RESCHEDULE): no job, no worker slot, no pool slot; its last
 * poke (finished_ms) and first (sensor_since_ms) are in the store, so a
 * restarted master pokes it again when it was due.  dag_run and artifact
 * sensors are poked by the master (sensor_poke_master()); file, http and
 * plugin sensors by a job on a worker per poke, whose plugin answers
 * KILN_NOT_YET (kiln/plugin.h) while the condition does not hold.
 */
#ifndef KILN_SENSOR_H
#define KILN_SENSOR_H

#include <stdint.h>

#include <jansson.h>

#include "dag.h"
#include "store.h"

/* 1 if S is poked by the master itself, with no job. */
int sensor_on_master(const struct dag_sensor *s);
/* When a sensor last poked at LAST_MS is poked again (unix ms). */
int64_t sensor_next_ms(const struct dag_sensor *s, int64_t last_ms);
/* 1 if a sensor first poked at SINCE_MS has waited past its timeout at
 * NOW_MS; then *why (malloc()ed, caller frees) says for how long. */
int sensor_timed_out(const struct dag_sensor *s, int64_t since_ms,
                     int64_t now_ms, char **why);
/*
 * One poke by the master of sensor S with its rendered PARAMS, for the
 * run of logical date LOGICAL (unix s) created at CREATED_MS.  RET 1 the
 * condition holds, 0 not yet (*why says what is missing), SENSOR_FAILED
 * it never will (a dag_run sensor's run ended in one of its
 * failed_states: the task fails without waiting for its timeout), or a
 * negative code (*why): the store failed, try again later.  *why is
 * malloc()ed, the caller frees it.
 */
#define SENSOR_FAILED 2
int sensor_poke_master(store *st, const struct dag_sensor *s,
                       const json_t *params, int64_t logical,
                       int64_t created_ms, char **why);
/* The reason a worker's poke gave, from its job's RESULT (new string, or
 * NULL). */
char *sensor_reason(const char *result);

#endif
