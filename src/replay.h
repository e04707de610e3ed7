/* SPDX-License-Identifier: MIT */
/*
 * replay.h - the master's memory of the signed requests it has taken, so
 * that a captured request cannot be sent to it again: anti-replay as
 * IPsec ESP (RFC 4303, 3.4.3) and DTLS (RFC 6347, 4.1.2.6) do it.
 *
 * Each client object signs with a nonce SESSION.COUNTER (auth.h): a
 * random 64-bit session picked when the client is made, and a counter
 * that goes up by one with each request it signs.  Per session the table
 * keeps the highest counter taken and a bitmap of the REPLAY_WINDOW
 * counters up to it.  A counter above the highest slides the window up;
 * one inside the window is taken once; a counter seen before, or one
 * below the window (the table can no longer tell), is a replay.  A
 * client's requests go out one at a time, in counter order, so a window
 * that wide is far more than the reordering it ever needs to absorb.
 *
 * Memory.  The caller checks the signature first (auth_verify), so only
 * a request signed with the cluster secret can cost an entry (about 180
 * bytes).  The table holds at most MAX sessions, and forgets a session
 * FORGET_MS after it last took one of its requests.  With FORGET_MS >=
 * 2 * AUTH_SKEW_MS forgetting is safe: every request of the session was
 * taken at most AUTH_SKEW_MS after its own timestamp, so by then all of
 * them are more than AUTH_SKEW_MS old and auth_verify() refuses them
 * before they get here.  Sessions are kept in the order they last took a
 * request, so the ones to forget are found at the front in O(1).  When
 * the table is full of sessions that may not be forgotten yet, a new
 * session is refused (-ENOSPC: the master answers 503) and the first
 * refusal is logged; sessions already held go on.
 *
 * Thread-safe: one mutex, held for O(1) work per request.
 */
#ifndef KILN_REPLAY_H
#define KILN_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* Counters remembered below a session's highest, as in RFC 6479's
 * larger windows. */
#define REPLAY_WINDOW 1024
/* What the master holds (api.c): 65,536 sessions, about 12 MB at most. */
#define REPLAY_MAX_SESSIONS 65536

typedef struct replay replay;

/* A table of at most MAX_SESSIONS (>= 1) sessions, each forgotten
 * FORGET_MS (> 0) after it last took a request.  Free with
 * replay_free(). */
replay *replay_new(size_t max_sessions, int64_t forget_ms);
void replay_free(replay *rp);

/*
 * Take request COUNTER of SESSION, at NOW_MS (the wall clock the
 * signature's timestamp was checked against, clock_now_ms()):
 *   0           new: taken, and remembered;
 *   -EALREADY   taken before: a replay;
 *   -ESTALE     below the session's window: refused as a replay;
 *   -ENOSPC     a session the table does not hold, and it is full.
 * Only a taken request changes the table.
 */
int replay_check(replay *rp, uint64_t session, uint64_t counter,
                 int64_t now_ms);

/* How many sessions RP holds (forgetting those due at NOW_MS first). */
size_t replay_sessions(replay *rp, int64_t now_ms);

#endif
