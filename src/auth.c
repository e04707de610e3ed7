/* SPDX-License-Identifier: MIT */
/*
 * auth.c - request signing, reply signing and API tokens (see auth.h), on
 * libsodium.
 *
 * The master, its workers and the CLI share one cluster secret.  Instead
 * of sending it, a caller signs each request: the HMAC covers the method,
 * the Host, the path with its query, a timestamp, a nonce, the caller's
 * name and a hash of the body, so a captured header is useless for any
 * other request or master, stops working after AUTH_SKEW_MS, and is taken
 * once within it (the master remembers nonces: replay.c).  The master
 * signs its replies with the same key, over the request's nonce.  The
 * HMAC key is SHA-256(secret), which gives a fixed 32-byte key whatever
 * the secret's length.
 *
 * auth_verify() parses the header strictly and with bounded lengths: it
 * faces the network, so every field is checked before anything is hashed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth.h"
#include "err.h"
#include "hash.h"
#include "log.h"
#include "xalloc.h"

#define AUTH_SCHEME     "Kiln-HMAC "
#define AUTH_TS_MAX     18      /* digits; ms since 1970 needs 13 today */
#define AUTH_SESSION_HEX 16
#define AUTH_COUNTER_MAX 19     /* digits: below 10^19, within 64 bits */
#define AUTH_SIG_HEX    (2 * crypto_auth_hmacsha256_BYTES)
#define AUTH_HEADER_MAX 256     /* far above the longest valid header */

_Static_assert(AUTH_NONCE_MAX == AUTH_SESSION_HEX + 1 + AUTH_COUNTER_MAX,
               "AUTH_NONCE_MAX does not fit the nonce's fields");
_Static_assert(AUTH_REPLY_SIG_HEX == AUTH_SIG_HEX,
               "AUTH_REPLY_SIG_HEX is not an HMAC-SHA-256 in hex");

int
auth_init(void)
{
	/* sodium_init() is thread-safe and returns 1 when already done. */
	return sodium_init() < 0 ? -EIO : 0;
}

uint64_t
auth_session_new(void)
{
	uint64_t s;

	randombytes_buf(&s, sizeof s);
	return s;
}

void
auth_nonce(char buf[AUTH_NONCE_MAX + 1], uint64_t session, uint64_t counter)
{
	snprintf(buf, AUTH_NONCE_MAX + 1, "%016llx.%llu",
	         (unsigned long long)session, (unsigned long long)counter);
}

/* SHA-256 of LEN bytes at DATA as 64 lowercase hex chars into HEX: by
 * hash_hex(), on the CPU's SHA extensions where it has them (a signed
 * upload of a 65 MB partition is hashed here on both sides). */
static void
auth_sha256_hex(const void *data, size_t len, char hex[2 * crypto_hash_sha256_BYTES + 1])
{
	char *h = hash_hex(data, len);

	memcpy(hex, h, 2 * crypto_hash_sha256_BYTES + 1);
	free(h);
}

/*
 * The string a request's signature covers, malloc()ed.  TS and NONCE are
 * as they appear in the header.
 */
static char *
auth_message(const struct auth_req *q, const char *ts, const char *nonce,
             const char *id)
{
	char bodyhash[2 * crypto_hash_sha256_BYTES + 1];

	if (q->body_sha != NULL)
		snprintf(bodyhash, sizeof bodyhash, "%s", q->body_sha);
	else
		auth_sha256_hex(q->body != NULL ? q->body : "",
		                q->body != NULL ? q->len : 0, bodyhash);
	return xasprintf("%s\n%s\n%s\n%s\n%s\n%s\n%s",
	                 q->method != NULL ? q->method : "",
	                 q->host != NULL ? q->host : "",
	                 q->path != NULL ? q->path : "", ts, nonce, id,
	                 bodyhash);
}

static void
auth_key(const char *secret, unsigned char key[crypto_auth_hmacsha256_KEYBYTES])
{
	/* crypto_hash_sha256_BYTES == crypto_auth_hmacsha256_KEYBYTES (32). */
	if (secret == NULL)
		secret = "";
	crypto_hash_sha256(key, (const unsigned char *)secret, strlen(secret));
}

/* HMAC of MSG under the key of SECRET into MAC. */
static void
auth_mac(const char *secret, const char *msg,
         unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	unsigned char key[crypto_auth_hmacsha256_KEYBYTES];

	auth_key(secret, key);
	crypto_auth_hmacsha256(mac, (const unsigned char *)msg, strlen(msg), key);
	sodium_memzero(key, sizeof key);
}

/* Is the HMAC of MSG under SECRET's key MAC?  0 or -1, in constant time. */
static int
auth_mac_check(const char *secret, const char *msg,
               const unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	unsigned char key[crypto_auth_hmacsha256_KEYBYTES];

	auth_key(secret, key);
	int rc = crypto_auth_hmacsha256_verify(mac, (const unsigned char *)msg,
	                                       strlen(msg), key);
	sodium_memzero(key, sizeof key);
	return rc;
}

char *
auth_sign(const char *secret, const char *id, const char *nonce,
          const struct auth_req *q, int64_t now)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char sig[AUTH_SIG_HEX + 1];
	char ts[32];

	snprintf(ts, sizeof ts, "%lld", (long long)now);
	char *msg = auth_message(q, ts, nonce, id);
	auth_mac(secret, msg, mac);
	sodium_bin2hex(sig, sizeof sig, mac, sizeof mac);
	free(msg);
	return xasprintf(AUTH_SCHEME "id=%s,ts=%s,nonce=%s,sig=%s", id, ts,
	                 nonce, sig);
}

static int
auth_is_id_char(int ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
}

static int
auth_is_hex(int ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
	       (ch >= 'A' && ch <= 'F');
}

static int
auth_is_lower_hex(int ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

/* "%s" of a header that failed to parse: one format for every message. */
#define AUTH_BAD "malformed Kiln-HMAC header: "

/*
 * Up to MAX decimal digits at P, one spelling per value (no leading
 * zero): their count, with the value in *V; 0 if there are none, or too
 * many, or a leading zero.
 */
static size_t
auth_digits(const char *p, size_t max, uint64_t *v)
{
	size_t n;

	*v = 0;
	for (n = 0; p[n] >= '0' && p[n] <= '9'; n++) {
		if (n == max)
			return 0;
		*v = *v * 10 + (uint64_t)(p[n] - '0');
	}
	if (n > 1 && p[0] == '0')
		return 0;
	return n;
}

/* The nonce at *P, up to the next field: SESSION "." COUNTER into W. */
static int
auth_parse_nonce(const char **pp, struct auth_signer *w, char **err)
{
	const char *p = *pp;
	size_t n;

	for (n = 0; n < AUTH_SESSION_HEX && auth_is_lower_hex((unsigned char)p[n]); n++)
		;
	if (n != AUTH_SESSION_HEX || p[n] != '.')
		return err_set(err, -EINVAL, AUTH_BAD "nonce must be %d lowercase "
		              "hex digits, '.' and a counter", AUTH_SESSION_HEX);
	w->session = strtoull(p, NULL, 16);
	n = auth_digits(p + AUTH_SESSION_HEX + 1, AUTH_COUNTER_MAX, &w->counter);
	if (n == 0)
		return err_set(err, -EINVAL, AUTH_BAD "the nonce's counter must be "
		              "a decimal number of at most %d digits",
		              AUTH_COUNTER_MAX);
	n += AUTH_SESSION_HEX + 1;
	memcpy(w->nonce, p, n);
	w->nonce[n] = '\0';
	*pp = p + n;
	return 0;
}

/*
 * Parse "id=NAME,ts=DIGITS,nonce=NONCE,sig=HEX" (fields in that order,
 * nothing else) into *W, the ts as sent into TS and the sig into MAC.
 * Returns 0 or -EINVAL with *err.
 */
static int
auth_parse(const char *p, struct auth_signer *w, char ts[AUTH_TS_MAX + 1],
           unsigned char mac[crypto_auth_hmacsha256_BYTES], char **err)
{
	size_t n;

	if (strncmp(p, "id=", 3) != 0)
		return err_set(err, -EINVAL, AUTH_BAD "expected id= first");
	p += 3;
	for (n = 0; auth_is_id_char((unsigned char)p[n]); n++)
		if (n == AUTH_ID_MAX)
			return err_set(err, -EINVAL, AUTH_BAD "id longer than %d "
			              "characters", AUTH_ID_MAX);
	if (n == 0)
		return err_set(err, -EINVAL, AUTH_BAD "empty or invalid id");
	memcpy(w->id, p, n);
	w->id[n] = '\0';
	p += n;

	if (strncmp(p, ",ts=", 4) != 0)
		return err_set(err, -EINVAL, AUTH_BAD "id has invalid characters "
		              "or ts= is missing");
	p += 4;
	uint64_t v;
	/* One spelling per value: the signer prints ts with "%lld". */
	if ((n = auth_digits(p, AUTH_TS_MAX, &v)) == 0)
		return err_set(err, -EINVAL, AUTH_BAD "ts must be a decimal "
		              "number of milliseconds");
	memcpy(ts, p, n);
	ts[n] = '\0';
	w->ts = (int64_t)v;
	p += n;

	if (strncmp(p, ",nonce=", 7) != 0)
		return err_set(err, -EINVAL, AUTH_BAD "ts is not a number or "
		              "nonce= is missing");
	p += 7;
	int rc = auth_parse_nonce(&p, w, err);
	if (rc < 0)
		return rc;

	if (strncmp(p, ",sig=", 5) != 0)
		return err_set(err, -EINVAL, AUTH_BAD "nonce too long or sig= "
		              "is missing");
	p += 5;
	for (n = 0; n < AUTH_SIG_HEX && auth_is_hex((unsigned char)p[n]); n++)
		;
	if (n != AUTH_SIG_HEX || p[n] != '\0')
		return err_set(err, -EINVAL, AUTH_BAD "sig must be exactly %d hex "
		              "characters", AUTH_SIG_HEX);
	if (sodium_hex2bin(mac, crypto_auth_hmacsha256_BYTES, p, n, NULL,
	                   NULL, NULL) != 0)
		return err_set(err, -EINVAL, AUTH_BAD "bad sig");
	return 0;
}

/* Is HOST one a request may carry: bounded, printable, no spaces? */
static int
auth_host_ok(const char *host)
{
	size_t n;

	if (host == NULL)
		return 1;
	for (n = 0; host[n] != '\0'; n++)
		if (n == AUTH_HOST_MAX || (unsigned char)host[n] <= ' ' ||
		    (unsigned char)host[n] >= 0x7f)
			return 0;
	return 1;
}

/* The checks of HEADER that need no body: its syntax into *W, TS and MAC,
 * HOST, and the timestamp window at NOW.  0, or negative with *err. */
static int
auth_head(const char *header, const char *host, int64_t now,
          struct auth_signer *w, char ts[AUTH_TS_MAX + 1],
          unsigned char mac[crypto_auth_hmacsha256_BYTES], char **err)
{
	int rc;

	if (header == NULL || header[0] == '\0')
		return err_set(err, -EACCES, "missing Authorization header");
	if (strnlen(header, AUTH_HEADER_MAX + 1) > AUTH_HEADER_MAX)
		return err_set(err, -EINVAL, AUTH_BAD "longer than %d bytes",
		              AUTH_HEADER_MAX);
	if (strncmp(header, AUTH_SCHEME, strlen(AUTH_SCHEME)) != 0)
		return err_set(err, -EINVAL, "not a Kiln-HMAC Authorization "
		              "header");
	if (!auth_host_ok(host))
		return err_set(err, -EINVAL, "the Host header of a signed request "
		              "must be at most %d printable characters",
		              AUTH_HOST_MAX);
	memset(w, 0, sizeof *w);
	rc = auth_parse(header + strlen(AUTH_SCHEME), w, ts, mac, err);
	if (rc < 0)
		return rc;
	int64_t skew = now - w->ts;
	if (skew > AUTH_SKEW_MS || skew < -AUTH_SKEW_MS)
		return err_set(err, -EACCES, "Kiln-HMAC timestamp is %lld ms "
		              "off the master's clock (limit %d ms): check "
		              "the clocks", (long long)skew, AUTH_SKEW_MS);
	return 0;
}

int
auth_precheck(const char *header, const char *host, int64_t now,
              char **err)
{
	char ts[AUTH_TS_MAX + 1];
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	struct auth_signer w;

	return auth_head(header, host, now, &w, ts, mac, err);
}

int
auth_verify(const char *secret, const char *header, const struct auth_req *q,
            int64_t now, struct auth_signer *who, char **err)
{
	char ts[AUTH_TS_MAX + 1];
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	struct auth_signer w;
	int rc;

	memset(who, 0, sizeof *who);
	if ((rc = auth_head(header, q->host, now, &w, ts, mac, err)) < 0)
		return rc;
	char *msg = auth_message(q, ts, w.nonce, w.id);
	rc = auth_mac_check(secret, msg, mac);
	free(msg);
	if (rc != 0)
		return err_set(err, -EACCES, "bad Kiln-HMAC signature for '%s' "
		              "(wrong cluster secret, or signed for another "
		              "host than '%s'?)", w.id,
		              q->host != NULL ? q->host : "");
	*who = w;
	return 0;
}

/* The string a reply's signature covers, malloc()ed. */
static char *
auth_reply_message(const char *nonce, int status, const char *body_sha)
{
	return xasprintf("reply\n%s\n%d\n%s", nonce != NULL ? nonce : "",
	                 status, body_sha != NULL ? body_sha : "");
}

char *
auth_reply_sign(const char *secret, const char *nonce, int status,
                const char *body_sha)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char *sig = xmalloc(AUTH_SIG_HEX + 1);

	char *msg = auth_reply_message(nonce, status, body_sha);
	auth_mac(secret, msg, mac);
	free(msg);
	sodium_bin2hex(sig, AUTH_SIG_HEX + 1, mac, sizeof mac);
	return sig;
}

int
auth_reply_verify(const char *secret, const char *sig, const char *nonce,
                  int status, const char *body_sha)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	size_t n;

	if (sig == NULL)
		return -EACCES;
	for (n = 0; n < AUTH_SIG_HEX && auth_is_hex((unsigned char)sig[n]); n++)
		;
	if (n != AUTH_SIG_HEX || sig[n] != '\0' ||
	    sodium_hex2bin(mac, sizeof mac, sig, n, NULL, NULL, NULL) != 0)
		return -EACCES;
	char *msg = auth_reply_message(nonce, status, body_sha);
	int rc = auth_mac_check(secret, msg, mac);
	free(msg);
	return rc == 0 ? 0 : -EACCES;
}

char *
auth_token_hash(const char *token)
{
	return hash_hex(token, strlen(token));
}

void
auth_token_new(char **token, char **hash_hex)
{
	*token = hash_random_hex(32);
	*hash_hex = auth_token_hash(*token);
}
