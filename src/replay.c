/* SPDX-License-Identifier: MIT */
/*
 * replay.c - the sliding anti-replay window per signing session (see
 * replay.h).
 *
 * Sessions live in a hash table (chained, with as many buckets as the
 * table may hold sessions) and on a list in the order they last took a
 * request: the front of the list is the first to forget.  A session's
 * window is REPLAY_WINDOW bits in 64-bit words; bit K stands for counter
 * TOP - K, so bit 0 is the highest counter taken.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "replay.h"
#include "xalloc.h"

#define RP_WORDS (REPLAY_WINDOW / 64)

_Static_assert(REPLAY_WINDOW % 64 == 0 && REPLAY_WINDOW >= 64,
               "REPLAY_WINDOW must be a multiple of 64");

struct rp_sess {
	uint64_t id;
	uint64_t top;                   /* highest counter taken */
	int64_t last_ms;                /* when it last took one */
	struct rp_sess *hnext;          /* bucket chain */
	struct rp_sess *prev, *next;    /* by last_ms: older first */
	uint64_t seen[RP_WORDS];        /* bit K: counter TOP - K taken */
};

struct replay {
	pthread_mutex_t mu;             /* guards everything below */
	struct rp_sess **bucket;
	size_t mask;                    /* buckets - 1 (a power of two) */
	size_t n, max;
	int64_t forget_ms;
	uint64_t seed;                  /* so sessions do not pick buckets */
	struct rp_sess *oldest, *newest;
	int full_said;                  /* refusing new sessions: logged */
};

replay *
replay_new(size_t max_sessions, int64_t forget_ms)
{
	replay *rp = xcalloc(1, sizeof *rp);
	size_t nb = 16;

	if (max_sessions < 1)
		max_sessions = 1;
	while (nb < max_sessions)
		nb *= 2;
	rp->bucket = xcalloc(nb, sizeof *rp->bucket);
	rp->mask = nb - 1;
	rp->max = max_sessions;
	rp->forget_ms = forget_ms > 0 ? forget_ms : 1;
	/* Only signers choose sessions; a seed still keeps them from
	 * making one bucket's chain long on purpose. */
	if (getrandom(&rp->seed, sizeof rp->seed, 0) != (ssize_t)sizeof rp->seed)
		rp->seed = (uint64_t)(uintptr_t)rp * 0x9e3779b97f4a7c15ull;
	pthread_mutex_init(&rp->mu, NULL);
	return rp;
}

void
replay_free(replay *rp)
{
	if (rp == NULL)
		return;
	struct rp_sess *s, *next;
	for (s = rp->oldest; s != NULL; s = next) {
		next = s->next;
		free(s);
	}
	pthread_mutex_destroy(&rp->mu);
	free(rp->bucket);
	free(rp);
}

/* The bucket of SESSION: splitmix64's finaliser over it and the seed. */
static size_t
rp_bucket(const replay *rp, uint64_t session)
{
	uint64_t z = session ^ rp->seed;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (size_t)z & rp->mask;
}

static struct rp_sess *
rp_find(const replay *rp, uint64_t session)
{
	struct rp_sess *s = rp->bucket[rp_bucket(rp, session)];
	while (s != NULL && s->id != session)
		s = s->hnext;
	return s;
}

static void
rp_unlink(replay *rp, struct rp_sess *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		rp->oldest = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		rp->newest = s->prev;
	s->prev = s->next = NULL;
}

static void
rp_append(replay *rp, struct rp_sess *s)
{
	s->prev = rp->newest;
	s->next = NULL;
	if (rp->newest != NULL)
		rp->newest->next = s;
	else
		rp->oldest = s;
	rp->newest = s;
}

/* Forget the sessions at the front that took nothing for forget_ms.  (A
 * wall clock stepped back may leave one out of order behind the front:
 * it is forgotten later, never sooner, which is the safe side.) */
static void
rp_expire(replay *rp, int64_t now)
{
	struct rp_sess *s;

	while ((s = rp->oldest) != NULL && now - s->last_ms > rp->forget_ms) {
		struct rp_sess **pp = &rp->bucket[rp_bucket(rp, s->id)];
		while (*pp != s)
			pp = &(*pp)->hnext;
		*pp = s->hnext;
		rp_unlink(rp, s);
		free(s);
		rp->n--;
	}
}

/* Slide S's window up by D counters. */
static void
rp_slide(struct rp_sess *s, uint64_t d)
{
	if (d >= REPLAY_WINDOW) {
		memset(s->seen, 0, sizeof s->seen);
		return;
	}
	size_t q = (size_t)(d / 64);
	unsigned r = (unsigned)(d % 64);
	for (size_t i = RP_WORDS; i-- > 0;) {
		uint64_t w = 0;
		if (i >= q) {
			w = s->seen[i - q] << r;
			if (r != 0 && i > q)
				w |= s->seen[i - q - 1] >> (64 - r);
		}
		s->seen[i] = w;
	}
}

/* Take COUNTER in S's window: 0, -EALREADY or -ESTALE. */
static int
rp_take(struct rp_sess *s, uint64_t counter)
{
	if (counter > s->top) {
		rp_slide(s, counter - s->top);
		s->top = counter;
		s->seen[0] |= 1;
		return 0;
	}
	uint64_t k = s->top - counter;
	if (k >= REPLAY_WINDOW)
		return -ESTALE;
	uint64_t bit = (uint64_t)1 << (k % 64);
	if (s->seen[k / 64] & bit)
		return -EALREADY;
	s->seen[k / 64] |= bit;
	return 0;
}

/* A new session that has taken COUNTER, or -ENOSPC with the table full. */
static int
rp_add(replay *rp, uint64_t session, uint64_t counter, int64_t now)
{
	if (rp->n >= rp->max) {
		if (!rp->full_said)
			log_warn("replay: %zu signing sessions in the last %lld s "
			         "fill the table: new ones are refused (503) "
			         "until some have been idle that long", rp->n,
			         (long long)(rp->forget_ms / 1000));
		rp->full_said = 1;
		return -ENOSPC;
	}
	rp->full_said = 0;
	struct rp_sess *s = xcalloc(1, sizeof *s);
	s->id = session;
	s->top = counter;
	s->seen[0] = 1;
	s->last_ms = now;
	size_t b = rp_bucket(rp, session);
	s->hnext = rp->bucket[b];
	rp->bucket[b] = s;
	rp_append(rp, s);
	rp->n++;
	return 0;
}

int
replay_check(replay *rp, uint64_t session, uint64_t counter, int64_t now_ms)
{
	int rc;

	pthread_mutex_lock(&rp->mu);
	rp_expire(rp, now_ms);
	struct rp_sess *s = rp_find(rp, session);
	if (s == NULL) {
		rc = rp_add(rp, session, counter, now_ms);
	} else if ((rc = rp_take(s, counter)) == 0) {
		/* Never back in time: the list stays ordered. */
		if (now_ms > s->last_ms)
			s->last_ms = now_ms;
		rp_unlink(rp, s);
		rp_append(rp, s);
	}
	pthread_mutex_unlock(&rp->mu);
	return rc;
}

size_t
replay_sessions(replay *rp, int64_t now_ms)
{
	pthread_mutex_lock(&rp->mu);
	rp_expire(rp, now_ms);
	size_t n = rp->n;
	pthread_mutex_unlock(&rp->mu);
	return n;
}
