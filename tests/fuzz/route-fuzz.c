/* SPDX-License-Identifier: MIT */
/*
 * route-fuzz.c - libFuzzer target: route_match() on request paths, against
 * the patterns of the master's route table and, when the input holds a
 * newline, against the pattern before it.  A match must keep route.h's
 * promises: parameters non-empty and within their sizes, :id and :stage
 * canonical positive integers, :sha 64 lowercase hex digits, and the
 * pattern with its parameters filled in gives the path back.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "route.h"

/* The patterns of src/api.c's api_routes (a copy: api.c brings the whole
 * master with it). */
static const char *const patterns[] = {
	"/api/v1/health", "/api/v1/jobs", "/api/v1/jobs/batch",
	"/api/v1/jobs/:id", "/api/v1/jobs/:id/cancel", "/api/v1/jobs/:id/log",
	"/api/v1/artifacts/:sha", "/api/v1/cluster/register",
	"/api/v1/cluster/stages/:stage", "/api/v1/dags/:dag/runs",
	"/api/v1/runs/:run/tasks/:task/log", "/api/v1/cluster/*", "/api/*",
	"/*", "/metrics",
};

static void
check_match(const char *pattern, const char *path,
            const struct route_params *m)
{
	char rebuilt[8192];
	size_t n = 0;
	int k = 0;

	FZ_CHECK(m->n >= 0 && m->n <= ROUTE_PARAMS_MAX);
	for (int i = 0; i < m->n; i++) {
		const struct route_param *p = &m->p[i];
		size_t len = strlen(p->text);
		FZ_CHECK(len >= 1 && len <= ROUTE_TEXT_MAX);
		FZ_CHECK(strchr(p->text, '/') == NULL);
		FZ_CHECK(strcmp(route_text(m, p->name), "") != 0);
		if (strcmp(p->name, "id") == 0 || strcmp(p->name, "stage") == 0) {
			char num[32];
			snprintf(num, sizeof num, "%" PRId64, p->num);
			FZ_CHECK(p->num > 0 && strcmp(num, p->text) == 0);
		} else if (strcmp(p->name, "sha") == 0) {
			FZ_CHECK(len == 64);
			for (size_t j = 0; j < len; j++)
				FZ_CHECK(isxdigit((unsigned char)p->text[j]) &&
				         !isupper((unsigned char)p->text[j]));
		}
	}
	/* The pattern with its parameters in place is the path, up to a
	 * final "*", which matches the rest. */
	for (const char *t = pattern; *t != '\0' && n < sizeof rebuilt - 300;) {
		if (strcmp(t, "*") == 0) {
			rebuilt[n] = '\0';
			FZ_CHECK(strncmp(path, rebuilt, n) == 0);
			return;
		}
		size_t seg = strcspn(t, "/");
		if (t[0] == ':' && seg > 0) {
			FZ_CHECK(k < m->n);
			n += (size_t)snprintf(rebuilt + n, sizeof rebuilt - n,
			                      "%s", m->p[k++].text);
		} else {
			memcpy(rebuilt + n, t, seg);
			n += seg;
		}
		t += seg;
		if (*t == '/')
			rebuilt[n++] = *t++;
	}
	rebuilt[n] = '\0';
	FZ_CHECK(k == m->n);
	FZ_CHECK(strcmp(rebuilt, path) == 0);
}

static void
try_match(const char *pattern, const char *path)
{
	struct route_params m;
	if (route_match(pattern, path, &m) == 1)
		check_match(pattern, path, &m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = fz_str(data, size);
	char *nl = strchr(s, '\n');
	if (nl != NULL) {
		*nl = '\0';
		try_match(s, nl + 1);
	} else {
		for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++)
			try_match(patterns[i], s);
	}
	free(s);
	return 0;
}
