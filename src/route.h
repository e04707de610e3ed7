/* SPDX-License-Identifier: MIT */
/*
 * route.h - path patterns for the master's route table (src/api.c): a
 * pattern such as "/api/v1/jobs/:id" is matched against a request's path,
 * and its parameters are parsed there, once and strictly, so that a
 * handler receives them ready to use and never parses a path itself.
 *
 * A pattern is "/" and segments separated by "/".  A literal segment
 * matches itself.  A parameter ":NAME" matches one non-empty segment, and
 * its name says what it accepts:
 *   :id, :stage  a positive decimal integer that fits int64_t, digits only
 *                (no sign, no spaces, no leading zero);
 *   :sha         an artifact name, 64 lowercase hex digits;
 *   any other    a segment of at most ROUTE_TEXT_MAX bytes.
 * A last segment "*" matches the rest of the path, even nothing, so that
 * one row answers every path under a prefix.  A parameter never matches
 * an empty segment and a literal only itself, so "/api/v1/jobs/" (a
 * trailing slash) does not match "/api/v1/jobs".
 */
#ifndef KILN_ROUTE_H
#define KILN_ROUTE_H

#include <stdint.h>

#define ROUTE_PARAMS_MAX 4      /* parameters in one pattern */
#define ROUTE_NAME_MAX 15       /* bytes of a parameter's name */
#define ROUTE_TEXT_MAX 255      /* bytes of a text parameter */

struct route_param {
	char name[ROUTE_NAME_MAX + 1];  /* "id", without the ':' */
	char text[ROUTE_TEXT_MAX + 1];  /* the segment as sent */
	int64_t num;                    /* :id and :stage: the value; else 0 */
};

/* The parameters of one match, in the pattern's order. */
struct route_params {
	int n;
	struct route_param p[ROUTE_PARAMS_MAX];
};

/* 1 if PATH (without the query) matches PATTERN, with its parameters in
 * *OUT; 0 if it does not (a parameter that is not what its name asks for,
 * an id that overflows, a missing or extra segment). */
int route_match(const char *pattern, const char *path, struct route_params *out);

/* Parameter NAME of a match: its text ("" if the pattern has none) and its
 * number (0 if none, or not a number). */
const char *route_text(const struct route_params *m, const char *name);
int64_t route_num(const struct route_params *m, const char *name);

#endif
