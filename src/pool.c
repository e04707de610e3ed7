/* SPDX-License-Identifier: MIT */
/*
 * pool.c - a fixed pool of threads (see pool.h).  One mutex-guarded FIFO;
 * threads sleep on a condition variable while it is empty.
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
	int nthreads;
	pthread_t *threads;
};

static void *
pool_main(void *arg)
{
	pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		struct pool_item *it = p->head;
		if (it == NULL)
			break;          /* stopping and drained */
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

int
pool_new(int nthreads, pool **out)
{
	pool *p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->threads = xcalloc((size_t)nthreads, sizeof *p->threads);
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0) {
			p->nthreads = i;
			pool_free(p);
			return -1;
		}
		p->nthreads = i + 1;
	}
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
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void
pool_grow(pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->threads = xrealloc(p->threads, (size_t)(p->nthreads + 1) * sizeof *p->threads);
	if (pthread_create(&p->threads[p->nthreads], NULL, pool_main, p) == 0)
		p->nthreads++;
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
