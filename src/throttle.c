/* SPDX-License-Identifier: MIT */
/*
 * throttle.c - the login throttle: lockouts and token buckets per
 * address, one global bucket, and a cap on hashes at once (see
 * throttle.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "throttle.h"
#include "xalloc.h"

#define THROTTLE_KEY_MAX 64     /* an address as text, INET6_ADDRSTRLEN+ */

/* One address, or an IPv6 /64. */
struct tslot {
	char key[THROTTLE_KEY_MAX];     /* "" if the slot is free */
	double tokens;
	int64_t refilled_ms;
	int fails;                      /* in the window from first_fail_ms */
	int64_t first_fail_ms;
	int64_t locked_until_ms;
	int64_t seen_ms;                /* for giving way: least recent */
};

struct throttle {
	pthread_mutex_t mu;             /* guards all below */
	struct throttle_conf c;
	struct tslot *slots;
	double tokens;                  /* the global bucket */
	int64_t refilled_ms;
	int hashing;                    /* hashes running */
};

throttle *
throttle_new(const struct throttle_conf *c)
{
	throttle *t = xcalloc(1, sizeof *t);

	pthread_mutex_init(&t->mu, NULL);
	t->c = *c;
	if (t->c.max_hashes <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		t->c.max_hashes = n >= 4 ? (int)(n / 2) : 1;
	}
	if (t->c.slots == 0)
		t->c.slots = 1;
	t->slots = xcalloc(t->c.slots, sizeof *t->slots);
	t->tokens = t->c.global_burst;
	t->refilled_ms = -1;
	return t;
}

void
throttle_free(throttle *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t->slots);
	free(t);
}

/* ADDR as the key it counts under: an IPv6 address by its /64. */
static void
throttle_key(const char *addr, char key[THROTTLE_KEY_MAX])
{
	unsigned char a6[16];

	if (addr == NULL)
		addr = "";
	if (strchr(addr, ':') != NULL && inet_pton(AF_INET6, addr, a6) == 1 &&
	    !(memcmp(a6, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)) {
		memset(a6 + 8, 0, 8);
		if (inet_ntop(AF_INET6, a6, key, THROTTLE_KEY_MAX) != NULL) {
			strncat(key, "/64", THROTTLE_KEY_MAX - strlen(key) - 1);
			return;
		}
	}
	snprintf(key, THROTTLE_KEY_MAX, "%s", addr);
}

/* Add what RATE per second has earned since *REFILLED, up to BURST. */
static void
throttle_refill(double *tokens, int64_t *refilled, double rate, double burst,
                int64_t now)
{
	if (*refilled >= 0 && now > *refilled)
		*tokens += rate * (double)(now - *refilled) / 1000.0;
	if (*tokens > burst)
		*tokens = burst;
	*refilled = now;
}

/* Seconds until a bucket at TOKENS filling at RATE holds one token. */
static int
throttle_wait_s(double tokens, double rate)
{
	if (rate <= 0)
		return 60;
	double s = (1.0 - tokens) / rate;
	int w = (int)s;
	if (w < s)
		w++;                    /* rounded up */
	return w < 1 ? 1 : w;
}

/* The slot of KEY; with MAKE, a new one (taking the least recently seen
 * slot if none is free), else NULL if it has none.  Locked. */
static struct tslot *
throttle_slot(throttle *t, const char *key, int make, int64_t now)
{
	struct tslot *oldest = NULL;

	for (size_t i = 0; i < t->c.slots; i++) {
		struct tslot *s = &t->slots[i];
		if (s->key[0] != '\0' && strcmp(s->key, key) == 0)
			return s;
		if (oldest == NULL || (oldest->key[0] != '\0' &&
		    (s->key[0] == '\0' || s->seen_ms < oldest->seen_ms)))
			oldest = s;
	}
	if (!make || oldest == NULL)    /* (never NULL: slots >= 1) */
		return NULL;
	memset(oldest, 0, sizeof *oldest);
	snprintf(oldest->key, sizeof oldest->key, "%s", key);
	oldest->tokens = t->c.addr_burst;
	oldest->refilled_ms = now;
	return oldest;
}

int
throttle_begin(throttle *t, const char *addr, int64_t now, int *retry_s,
               char **err)
{
	char key[THROTTLE_KEY_MAX];
	int rc = 0;

	throttle_key(addr, key);
	pthread_mutex_lock(&t->mu);
	struct tslot *s = throttle_slot(t, key, 1, now);
	s->seen_ms = now;
	throttle_refill(&s->tokens, &s->refilled_ms, t->c.addr_rate,
	                t->c.addr_burst, now);
	throttle_refill(&t->tokens, &t->refilled_ms, t->c.global_rate,
	                t->c.global_burst, now);
	if (s->locked_until_ms > now) {
		*retry_s = (int)((s->locked_until_ms - now + 999) / 1000);
		rc = err_set(err, -EAGAIN, "too many failed logins from this "
		            "address; try again in %d s", *retry_s);
	} else if (s->tokens < 1) {
		*retry_s = throttle_wait_s(s->tokens, t->c.addr_rate);
		rc = err_set(err, -EAGAIN, "too many logins from this address; "
		            "try again in %d s", *retry_s);
	} else if (t->tokens < 1) {
		*retry_s = throttle_wait_s(t->tokens, t->c.global_rate);
		rc = err_set(err, -EAGAIN, "too many logins at once; try again "
		            "in %d s", *retry_s);
	} else if (t->hashing >= t->c.max_hashes) {
		*retry_s = 1;
		rc = err_set(err, -EBUSY, "the master is busy checking other "
		            "logins; try again in 1 s");
	} else {
		s->tokens -= 1;
		t->tokens -= 1;
		t->hashing++;
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void
throttle_end(throttle *t, const char *addr, int ok, int64_t now)
{
	char key[THROTTLE_KEY_MAX];

	throttle_key(addr, key);
	pthread_mutex_lock(&t->mu);
	t->hashing--;
	if (!ok) {
		struct tslot *s = throttle_slot(t, key, 1, now);
		s->seen_ms = now;
		if (s->fails == 0 || now - s->first_fail_ms > t->c.fail_window_ms) {
			s->fails = 0;
			s->first_fail_ms = now;
		}
		if (++s->fails >= t->c.max_fails && s->locked_until_ms <= now) {
			s->locked_until_ms = now + t->c.fail_window_ms;
			log_warn("login: %d failures from %s in %lld s: that "
			         "address waits %lld s", s->fails, key,
			         (long long)(now - s->first_fail_ms) / 1000,
			         (long long)t->c.fail_window_ms / 1000);
		}
	}
	pthread_mutex_unlock(&t->mu);
}
