/* SPDX-License-Identifier: MIT */
/*
 * jobstate.c - names of job states (see jobstate.h): the words the API,
 * the store and the worker protocol use for them.
 */
#include <stdio.h>
#include <string.h>

#include "jobstate.h"

const char *
job_state_name(int state)
{
	static const char *const names[JOB_NSTATES] = {
		"queued", "running", "succeeded", "failed", "cancelled",
	};
	if (state < 0 || state >= JOB_NSTATES)
		return "unknown";
	return names[state];
}

int
job_state_parse(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < JOB_NSTATES; i++)
		if (strcmp(name, job_state_name(i)) == 0)
			return i;
	return -1;
}

char *
job_name(char *buf, int64_t id, int64_t stage, int64_t index)
{
	if (stage > 0)
		snprintf(buf, JOB_NAME_MAX, "stage %lld task %lld",
		         (long long)stage, (long long)index);
	else
		snprintf(buf, JOB_NAME_MAX, "job %lld", (long long)id);
	return buf;
}

int
job_result_not_yet(const char *result)
{
	return result != NULL && strncmp(result, JOB_NOT_YET_MARK,
	                                 sizeof JOB_NOT_YET_MARK - 1) == 0;
}
