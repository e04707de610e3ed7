/* SPDX-License-Identifier: MIT */
/*
 * users.c - dashboard users and sessions (see users.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "err.h"
#include "fs.h"
#include "hash.h"
#include "log.h"
#include "throttle.h"
#include "users.h"
#include "xalloc.h"

/* OWASP's argon2id minimum (m = 19 MiB, t = 2): a login costs ~20 MB for a
 * moment, not the 64 MB of libsodium's "interactive" setting. */
#define USERS_OPS 2
#define USERS_MEM (19u << 20)
#define USERS_BOOT_KEY "bootstrap_admin_hash"

struct user {
	char *name, *role, *hash;
};

struct session {
	char *sid, *csrf, *name, *role;
	int64_t last;           /* clock_mono_ms */
	struct session *next;
};

struct users {
	pthread_mutex_t mu;
	struct user *u;
	size_t n;
	int64_t ttl_ms;
	struct session *sessions;
	throttle *guard;        /* logins, before their hash (throttle.h) */
};

/* The hash of PASSWORD at OPS passes over MEM bytes, or NULL. */
static char *
hash_with(const char *password, unsigned long long ops, size_t mem)
{
	char out[crypto_pwhash_STRBYTES];
	if (sodium_init() < 0 ||
	    crypto_pwhash_str(out, password, strlen(password), ops, mem) != 0)
		return NULL;
	return xstrdup(out);
}

char *
users_hash(const char *password)
{
	return hash_with(password, USERS_OPS, USERS_MEM);
}

static void
add_user(users *u, const char *name, const char *role, const char *hash)
{
	u->u = xrealloc(u->u, (u->n + 1) * sizeof *u->u);
	u->u[u->n].name = xstrdup(name);
	u->u[u->n].role = xstrdup(role);
	u->u[u->n].hash = xstrdup(hash);
	u->n++;
}

int
users_open(const struct kiln_config *c, store *st, users **out, char **err)
{
	users *u = xcalloc(1, sizeof *u);
	pthread_mutex_init(&u->mu, NULL);
	struct throttle_conf tc = {
		.addr_rate = USERS_ADDR_RATE, .addr_burst = USERS_ADDR_BURST,
		.global_rate = USERS_GLOBAL_RATE,
		.global_burst = USERS_GLOBAL_BURST,
		.max_fails = USERS_MAX_FAILS,
		.fail_window_ms = USERS_FAIL_WINDOW_MS,
		.max_hashes = 0, .slots = USERS_ADDR_SLOTS,
	};
	u->guard = throttle_new(&tc);
	u->ttl_ms = c->auth.session_ttl_ms > 0 ? c->auth.session_ttl_ms :
	            12LL * 3600 * 1000;
	for (size_t i = 0; i < c->auth.nusers; i++)
		add_user(u, c->auth.users[i].name, c->auth.users[i].role,
		         c->auth.users[i].password_hash);
	if (u->n == 0) {
		/* No users: an admin with a random password, shown once. */
		char *hash = NULL;
		if (store_meta_get(st, USERS_BOOT_KEY, &hash, err) == -ENOENT) {
			free(*err);
			*err = NULL;
			char *pw = hash_random_hex(12);
			/* 96 random bits: no guessing reaches it, so a slow
			 * hash adds nothing but ~90 ms (and 19 MB) to the
			 * first start; argon2id at libsodium's minimum cost
			 * keeps the stored form the same. */
			hash = hash_with(pw, crypto_pwhash_OPSLIMIT_MIN,
			                 crypto_pwhash_MEMLIMIT_MIN);
			struct store_op op = { .kind = STORE_META,
			                       .task = USERS_BOOT_KEY, .result = hash };
			if (hash == NULL || store_apply(st, &op, 1, err) != 0) {
				free(pw);
				free(hash);
				users_close(u);
				return err_set(err, -EIO, "cannot create the admin user");
			}
			/* Into a file only its owner reads, never the log:
			 * logs end up in journals and CI output. */
			char *pwfile = xasprintf("%s/admin-password",
			                         c->master.data_dir);
			char *line = xasprintf("%s\n", pw);
			char *werr = NULL;
			if (fs_write_file(pwfile, line, strlen(line), 0600,
			                  &werr) == 0)
				log_warn("no users in cluster.yaml: created user "
				         "'admin'; its password is in %s (mode "
				         "0600; configure master.auth.users with "
				         "`kiln passwd` hashes to replace it)",
				         pwfile);
			else
				log_error("created user 'admin' but could not "
				          "write its password: %s", werr);
			sodium_memzero(line, strlen(line));
			free(line);
			free(pwfile);
			free(werr);
			sodium_memzero(pw, strlen(pw));
			free(pw);
		} else if (hash == NULL) {
			users_close(u);
			return -EIO;
		}
		add_user(u, "admin", "admin", hash);
		free(hash);
	}
	*out = u;
	return 0;
}

void
users_close(users *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n; i++) {
		free(u->u[i].name);
		free(u->u[i].role);
		free(u->u[i].hash);
	}
	free(u->u);
	while (u->sessions) {
		struct session *s = u->sessions;
		u->sessions = s->next;
		free(s->sid);
		free(s->csrf);
		free(s->name);
		free(s->role);
		free(s);
	}
	throttle_free(u->guard);
	pthread_mutex_destroy(&u->mu);
	free(u);
}

/* Drop expired sessions (locked). */
static void
sweep(users *u, int64_t now)
{
	for (struct session **pp = &u->sessions; *pp;) {
		struct session *s = *pp;
		if (now - s->last > u->ttl_ms) {
			*pp = s->next;
			free(s->sid);
			free(s->csrf);
			free(s->name);
			free(s->role);
			free(s);
		} else {
			pp = &s->next;
		}
	}
}

/* A hash to verify against when the user does not exist, so that the
 * answer takes as long as for a real user. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void
dummy_init(void)
{
	if (crypto_pwhash_str(dummy_hash, "x", 1, USERS_OPS, USERS_MEM) != 0)
		dummy_hash[0] = '\0';
}

int
users_login(users *u, const char *name, const char *password,
            const char *addr, char **sid, char **csrf, const char **role,
            int *retry_s, char **err)
{
	int64_t now = clock_mono_ms();
	int rc;
	*retry_s = 0;
	/* Before the hash, not after: the hash is what a flood costs. */
	if ((rc = throttle_begin(u->guard, addr, now, retry_s, err)) < 0)
		return rc;
	const struct user *us = NULL;
	pthread_mutex_lock(&u->mu);
	sweep(u, now);
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->u[i].name, name) == 0)
			us = &u->u[i];
	pthread_mutex_unlock(&u->mu);

	/* The slow hash runs unlocked; an unknown user costs the same. */
	pthread_once(&dummy_once, dummy_init);
	int ok = crypto_pwhash_str_verify(us ? us->hash : dummy_hash, password,
	                                  strlen(password)) == 0 && us != NULL;
	throttle_end(u->guard, addr, ok, clock_mono_ms());
	if (!ok) {
		log_warn("failed login for '%s' from %s", name, addr ? addr : "?");
		return err_set(err, -EACCES, "wrong user or password");
	}
	pthread_mutex_lock(&u->mu);
	struct session *s = xcalloc(1, sizeof *s);
	s->sid = hash_random_hex(32);
	s->csrf = hash_random_hex(16);
	s->name = xstrdup(us->name);
	s->role = xstrdup(us->role);
	s->last = now;
	s->next = u->sessions;
	u->sessions = s;
	*sid = xstrdup(s->sid);
	*csrf = xstrdup(s->csrf);
	*role = us->role;
	pthread_mutex_unlock(&u->mu);
	return 0;
}

int
users_session(users *u, const char *sid, char **name, char **role, char **csrf)
{
	int64_t now = clock_mono_ms();
	int rc = -ENOENT;
	pthread_mutex_lock(&u->mu);
	for (struct session *s = u->sessions; s; s = s->next)
		if (strlen(sid) == 64 && sodium_memcmp(s->sid, sid, 64) == 0 &&
		    now - s->last <= u->ttl_ms) {
			s->last = now;
			*name = xstrdup(s->name);
			*role = xstrdup(s->role);
			*csrf = xstrdup(s->csrf);
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&u->mu);
	return rc;
}

void
users_logout(users *u, const char *sid)
{
	pthread_mutex_lock(&u->mu);
	for (struct session **pp = &u->sessions; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->sid, sid) == 0) {
			struct session *s = *pp;
			*pp = s->next;
			free(s->sid);
			free(s->csrf);
			free(s->name);
			free(s->role);
			free(s);
			break;
		}
	pthread_mutex_unlock(&u->mu);
}
