/* SPDX-License-Identifier: MIT */
/*
 * users.h - dashboard users and their browser sessions.
 *
 * Users come from master.auth.users in cluster.yaml (argon2id hashes made
 * by `kiln passwd`).  With none configured, the master makes one `admin`
 * with a random password, prints the password once in its log, and keeps
 * only the hash in the store.  Sessions live in the master's memory (a
 * restart logs everyone out) and expire after a period of inactivity.
 * Logins are throttled before their hash (throttle.h): per client
 * address and overall, with at most half the CPUs hashing at once; an
 * address with too many failures waits (the address, not the user).
 */
#ifndef KILN_USERS_H
#define KILN_USERS_H

#include <stdint.h>

#include "config.h"
#include "store.h"

typedef struct users users;

#define USERS_MAX_FAILS 5               /* per address ... */
#define USERS_FAIL_WINDOW_MS (5 * 60 * 1000)  /* ... in this window */
#define USERS_ADDR_RATE 1.0             /* logins/s per address, */
#define USERS_ADDR_BURST 10.0           /* in bursts of this many */
#define USERS_GLOBAL_RATE 10.0          /* logins/s, all addresses */
#define USERS_GLOBAL_BURST 20.0
#define USERS_ADDR_SLOTS 4096           /* addresses remembered */

int users_open(const struct kiln_config *c, store *st, users **out, char **err);
void users_close(users *u);

/* Check NAME/PASSWORD from ADDR.  0 and a new session (*sid and *csrf,
 * malloc()ed; *role points into the users table), -EACCES wrong user or
 * password, -EAGAIN throttled or locked out, -EBUSY too many hashes at
 * once (the last two with *RETRY_S, seconds to wait). */
int users_login(users *u, const char *name, const char *password,
                const char *addr, char **sid, char **csrf, const char **role,
                int *retry_s, char **err);
/* The session SID if it is live (and refresh it): 0 with *name, *role and
 * *csrf malloc()ed; -ENOENT otherwise. */
int users_session(users *u, const char *sid, char **name, char **role,
                  char **csrf);
void users_logout(users *u, const char *sid);

/* An argon2id hash of PASSWORD (as `kiln passwd` prints); malloc()ed, or
 * NULL if out of memory. */
char *users_hash(const char *password);

#endif
