/* SPDX-License-Identifier: MIT */
/*
 * api.h - the JSON API under /api/v1/, /metrics and the static web files:
 * turns HTTP requests into calls on the scheduler and the store
 * (http -> api -> sched/store), and checks who is asking.
 */
#ifndef KILN_API_H
#define KILN_API_H

#include <stdint.h>

#include "config.h"
#include "http.h"
#include "pipeline.h"
#include "replay.h"
#include "sched.h"
#include "store.h"
#include "users.h"

/* What the API works on; owned by the master, outlives the server. */
struct api_ctx {
	const struct kiln_config *cfg;
	store *st;
	sched *sc;
	http_server *http;
	pipeline *pl;
	users *users;
	const char *secret;
	replay *replay;         /* nonces of signed requests taken; without
	                         * it every signed request is refused (503) */
	int64_t started_mono;   /* clock_clock_mono_ms() at start */
	int uploads;            /* artifact uploads in progress (atomic),
	                         * at most cfg->master.max_uploads */
};

/* How long an API token lives unless it is made with an expiry of its
 * own: master.auth.token_ttl, else KILN_TOKEN_TTL_DEFAULT_MS. */
int64_t api_token_ttl_ms(const struct kiln_config *c);

/* The http_handler of the master; UD is a struct api_ctx. */
void api_handle(http_req *r, void *ud);
/* The http_gate of the master (see api_gate_routes in api_int.h). */
int api_gate(http_req *r, void *ud);

/* The label /metrics counts a request METHOD PATH (no query) under: the
 * pattern of the route that answers it ("/api/v1/jobs/:id"), "static" for
 * the dashboard's files, "other" for anything else.  A string constant;
 * api_handle() sets it on each request with http_set_route(). */
const char *api_route_label(const char *method, const char *path);

#endif
