/* SPDX-License-Identifier: MIT */
/*
 * pool.h - a pool of threads running queued jobs (the worker's slots).
 *
 * pool_submit() queues a function; one of at most N threads runs it, started
 * when the work comes (one at pool_new()).  Completion is
 * the function's business (the worker's task function queues its result
 * back to the exchange loop, as nginx's thread pool hands results to its
 * event loop).
 */
#ifndef KILN_POOL_H
#define KILN_POOL_H

typedef struct pool pool;
typedef void (*pool_fn)(void *arg);

int pool_new(int nthreads, pool **out);
void pool_submit(pool *p, pool_fn fn, void *arg);
/* Add a thread: a task that will not stop (it ignores cancellation) no
 * longer holds a slot. */
void pool_grow(pool *p);
/* Wait for queued and running functions, then stop the threads. */
void pool_free(pool *p);

#endif
