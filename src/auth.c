/* SPDX-License-Identifier: MIT */
/*
 * auth.c - request signing and API tokens (see auth.h), on libsodium.
 *
 * The master, its workers and the CLI share one cluster secret.  Instead
 * of sending it, a caller signs each request: the HMAC covers the method,
 * the path with its query, a timestamp, the caller's name and a hash of
 * the body, so a captured header is useless for any other request and
 * stops working after AUTH_SKEW_MS.  The HMAC key is SHA-256(secret), which
 * gives a fixed 32-byte key whatever the secret's length.
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
#include "hash.h"
#include "log.h"
#include "xalloc.h"

#define AUTH_SCHEME     "Kiln-HMAC "
#define AUTH_ID_MAX     64
#define AUTH_TS_MAX     18      /* digits; ms since 1970 needs 13 today */
#define AUTH_SIG_HEX    (2 * crypto_auth_hmacsha256_BYTES)
#define AUTH_HEADER_MAX 256     /* far above the longest valid header */

int
auth_init(void)
{
	/* sodium_init() is thread-safe and returns 1 when already done. */
	return sodium_init() < 0 ? -EIO : 0;
}

/* SHA-256 of LEN bytes at DATA as 64 lowercase hex chars into HEX. */
static void
auth_sha256_hex(const void *data, size_t len, char hex[2 * crypto_hash_sha256_BYTES + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(hex, 2 * crypto_hash_sha256_BYTES + 1, h, sizeof h);
	sodium_memzero(h, sizeof h);
}

/*
 * The string that is signed, malloc()ed.  TS is the decimal timestamp as
 * it appears in the header.
 */
static char *
auth_message(const char *method, const char *path, const char *ts,
             const char *id, const void *body, size_t len)
{
	char bodyhash[2 * crypto_hash_sha256_BYTES + 1];

	auth_sha256_hex(body != NULL ? body : "", body != NULL ? len : 0,
	                bodyhash);
	return xasprintf("%s\n%s\n%s\n%s\n%s", method, path, ts, id, bodyhash);
}

static void
auth_key(const char *secret, unsigned char key[crypto_auth_hmacsha256_KEYBYTES])
{
	/* crypto_hash_sha256_BYTES == crypto_auth_hmacsha256_KEYBYTES (32). */
	if (secret == NULL)
		secret = "";
	crypto_hash_sha256(key, (const unsigned char *)secret, strlen(secret));
}

char *
auth_sign(const char *secret, const char *id, const char *method,
          const char *path, const void *body, size_t len, int64_t now)
{
	unsigned char key[crypto_auth_hmacsha256_KEYBYTES];
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char sig[AUTH_SIG_HEX + 1];
	char ts[32];

	snprintf(ts, sizeof ts, "%lld", (long long)now);
	char *msg = auth_message(method, path, ts, id, body, len);
	auth_key(secret, key);
	crypto_auth_hmacsha256(mac, (const unsigned char *)msg, strlen(msg), key);
	sodium_bin2hex(sig, sizeof sig, mac, sizeof mac);
	sodium_memzero(key, sizeof key);
	free(msg);
	return xasprintf(AUTH_SCHEME "id=%s,ts=%s,sig=%s", id, ts, sig);
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

/*
 * Parse "id=NAME,ts=DIGITS,sig=HEX" (fields in that order, nothing else)
 * into the caller's buffers.  Returns 0 or -EINVAL with *err.
 */
static int
auth_parse(const char *p, char id[AUTH_ID_MAX + 1], char ts[AUTH_TS_MAX + 1],
           int64_t *tsval, unsigned char mac[crypto_auth_hmacsha256_BYTES],
           char **err)
{
	size_t n;

	if (strncmp(p, "id=", 3) != 0)
		return seterr(err, -EINVAL, "malformed Kiln-HMAC header: "
		              "expected id= first");
	p += 3;
	for (n = 0; auth_is_id_char((unsigned char)p[n]); n++)
		if (n == AUTH_ID_MAX)
			return seterr(err, -EINVAL, "malformed Kiln-HMAC "
			              "header: id longer than %d characters",
			              AUTH_ID_MAX);
	if (n == 0)
		return seterr(err, -EINVAL, "malformed Kiln-HMAC header: "
		              "empty or invalid id");
	memcpy(id, p, n);
	id[n] = '\0';
	p += n;

	if (strncmp(p, ",ts=", 4) != 0)
		return seterr(err, -EINVAL, "malformed Kiln-HMAC header: "
		              "id has invalid characters or ts= is missing");
	p += 4;
	int64_t v = 0;
	for (n = 0; p[n] >= '0' && p[n] <= '9'; n++) {
		if (n == AUTH_TS_MAX)
			return seterr(err, -EINVAL, "malformed Kiln-HMAC "
			              "header: ts too long");
		v = v * 10 + (p[n] - '0');
	}
	/* One spelling per value: the signer prints ts with "%lld". */
	if (n == 0 || (n > 1 && p[0] == '0'))
		return seterr(err, -EINVAL, "malformed Kiln-HMAC header: "
		              "ts must be a decimal number of milliseconds");
	memcpy(ts, p, n);
	ts[n] = '\0';
	*tsval = v;
	p += n;

	if (strncmp(p, ",sig=", 5) != 0)
		return seterr(err, -EINVAL, "malformed Kiln-HMAC header: "
		              "ts is not a number or sig= is missing");
	p += 5;
	for (n = 0; n < AUTH_SIG_HEX && auth_is_hex((unsigned char)p[n]); n++)
		;
	if (n != AUTH_SIG_HEX || p[n] != '\0')
		return seterr(err, -EINVAL, "malformed Kiln-HMAC header: "
		              "sig must be exactly %d hex characters",
		              AUTH_SIG_HEX);
	if (sodium_hex2bin(mac, crypto_auth_hmacsha256_BYTES, p, n, NULL,
	                   NULL, NULL) != 0)
		return seterr(err, -EINVAL, "malformed Kiln-HMAC header: "
		              "bad sig");
	return 0;
}

int
auth_verify(const char *secret, const char *header, const char *method,
            const char *path, const void *body, size_t len, int64_t now,
            char **id, char **err)
{
	char name[AUTH_ID_MAX + 1], ts[AUTH_TS_MAX + 1];
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	unsigned char key[crypto_auth_hmacsha256_KEYBYTES];
	int64_t tsval = 0;
	int rc;

	*id = NULL;
	if (header == NULL || header[0] == '\0')
		return seterr(err, -EACCES, "missing Authorization header");
	if (strnlen(header, AUTH_HEADER_MAX + 1) > AUTH_HEADER_MAX)
		return seterr(err, -EINVAL, "malformed Kiln-HMAC header: "
		              "longer than %d bytes", AUTH_HEADER_MAX);
	if (strncmp(header, AUTH_SCHEME, strlen(AUTH_SCHEME)) != 0)
		return seterr(err, -EINVAL, "not a Kiln-HMAC Authorization "
		              "header");
	rc = auth_parse(header + strlen(AUTH_SCHEME), name, ts, &tsval, mac,
	                err);
	if (rc < 0)
		return rc;
	int64_t skew = now - tsval;
	if (skew > AUTH_SKEW_MS || skew < -AUTH_SKEW_MS)
		return seterr(err, -EACCES, "Kiln-HMAC timestamp is %lld ms "
		              "off the master's clock (limit %d ms): check "
		              "the clocks", (long long)skew, AUTH_SKEW_MS);

	char *msg = auth_message(method != NULL ? method : "",
	                         path != NULL ? path : "", ts, name, body, len);
	auth_key(secret, key);
	rc = crypto_auth_hmacsha256_verify(mac, (const unsigned char *)msg,
	                                   strlen(msg), key);
	sodium_memzero(key, sizeof key);
	free(msg);
	if (rc != 0)
		return seterr(err, -EACCES, "bad Kiln-HMAC signature for '%s' "
		              "(wrong cluster secret?)", name);
	*id = xstrdup(name);
	return 0;
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
