/*
 * api.h - the JSON API under /api/v1/ and the static web files: turns
 * HTTP requests into calls on the scheduler and the store (http -> api ->
 * sched/store), and checks who is asking.
 */
#ifndef KILN_API_H
#define KILN_API_H

#include "http.h"

struct master;
/* The http_handler for the master; UD is the struct master. */
void api_handle(http_req *r, void *ud);

#endif
