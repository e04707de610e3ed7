/* SPDX-License-Identifier: MIT */
/*
 * pool.c - a pool of at most N threads (see pool.h).  One mutex-guarded
 * FIFO; threads sleep on a condition variable while it is empty.
 *
 * Threads start as work comes, not all at pool_new(): a worker of 5,000
 * slots (sleep tasks, bench/workers_bench.py --running) would otherwise
 * hold 10,000 threads, its stage pool's among them, from its start.  A
 * started thread stays until pool_free().
 */
#include <pthread.h>
#include <stdlib.h>

#include "pool.h"
#include "xalloc.h"

struct pool_item {
	pool_fn fn;
	void *arg;
	struct pool_item *next;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pool_item *head, *tail;
	int stopping;
	int nthreads;           /* started */
	int max;                /* most that may start */
	int idle;               /* started threads waiting for work */
	int queued;             /* items in the FIFO */
	pthread_t *threads;     /* room for max */
};

static void *
pool_main(void *arg)
{
	pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		p->idle++;
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		p->idle--;
		struct pool_item *it = p->head;
		if (it == NULL)
			break;          /* stopping and drained */
		p->queued--;
		p->head = it->next;
		if (p->head == NULL)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		it->fn(it->arg);
		free(it);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Start a thread if the queue holds more than the idle threads will
 * take and the pool may grow.  p->mu held.  -1 if none could start. */
static int
pool_spawn_locked(pool *p)
{
	if (p->queued <= p->idle || p->nthreads >= p->max)
		return 0;
	if (pthread_create(&p->threads[p->nthreads], NULL, pool_main, p) != 0)
		return -1;
	p->nthreads++;
	return 0;
}

int
pool_new(int nthreads, pool **out)
{
	pool *p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->max = nthreads > 0 ? nthreads : 1;
	p->threads = xcalloc((size_t)p->max, sizeof *p->threads);
	/* One now: a pool that cannot start a thread fails here, where
	 * its owner can say so, rather than at its first task. */
	if (pthread_create(&p->threads[0], NULL, pool_main, p) != 0) {
		pool_free(p);
		return -1;
	}
	p->nthreads = 1;
	*out = p;
	return 0;
}

void
pool_submit(pool *p, pool_fn fn, void *arg)
{
	struct pool_item *it = xmalloc(sizeof *it);
	it->fn = fn;
	it->arg = arg;
	it->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->tail != NULL)
		p->tail->next = it;
	else
		p->head = it;
	p->tail = it;
	p->queued++;
	/* Should no thread start (out of threads), the item waits for one
	 * of those running to be free. */
	pool_spawn_locked(p);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void
pool_grow(pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->max++;
	p->threads = xrealloc(p->threads, (size_t)p->max * sizeof *p->threads);
	/* The stuck task's slot is taken by a new thread at once if work
	 * waits, else when work comes. */
	pool_spawn_locked(p);
	pthread_mutex_unlock(&p->mu);
}

void
pool_free(pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
