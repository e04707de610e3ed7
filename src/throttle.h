/* SPDX-License-Identifier: MIT */
/*
 * throttle.h - who may have a password hashed now: the master's guard
 * against login floods, asked before every argon2id hash (users.c).
 *
 * A login costs ~55 ms of a CPU and ~19 MB for that moment; unthrottled,
 * a flood of logins with random user names fills every HTTP thread and
 * the cluster stalls.  So, before hashing, in this order:
 *   - an address locked out (max_fails failures in fail_window) waits out
 *     the window: the address, never the user, so that nobody can lock
 *     the admin out from elsewhere;
 *   - each address has a token bucket (addr_rate per second, addr_burst),
 *   - and all of them together one more (global_rate, global_burst),
 *     taken only by an address its own bucket let through, so that one
 *     flooding address cannot drain it for the others;
 *   - at most max_hashes hashes run at once; the others are refused at
 *     once (with a Retry-After) rather than queued on the HTTP threads.
 * Addresses live in a table of fixed size (the least recently seen one
 * gives way); IPv6 addresses count by their /64, which one host gets.
 * Thread-safe.
 */
#ifndef KILN_THROTTLE_H
#define KILN_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

struct throttle_conf {
	double addr_rate;       /* hashes per second per address */
	double addr_burst;
	double global_rate;     /* hashes per second, all addresses */
	double global_burst;
	int max_fails;          /* failures of one address in ... */
	int64_t fail_window_ms; /* ... this window lock it out that long */
	int max_hashes;         /* at once; <= 0: half the CPUs, at least 1 */
	size_t slots;           /* addresses remembered */
};

typedef struct throttle throttle;

/* A throttle with the limits of C (copied); never NULL. */
throttle *throttle_new(const struct throttle_conf *c);
void throttle_free(throttle *t);

/* May ADDR (text, as http_client_addr gives it) have a password hashed
 * at NOW_MS (clock_mono_ms)?  0: yes, and a hash slot is taken: call
 * throttle_end when the hash is done.  -EAGAIN: the address is locked out
 * or over its rate, or all addresses are (429); -EBUSY: max_hashes are
 * running (503).  Both with *RETRY_S (seconds, >= 1) and *ERR. */
int throttle_begin(throttle *t, const char *addr, int64_t now_ms,
                   int *retry_s, char **err);
/* The hash throttle_begin let ADDR have is done; OK: the password was
 * right.  A failure counts towards the address's lockout. */
void throttle_end(throttle *t, const char *addr, int ok, int64_t now_ms);

#endif
