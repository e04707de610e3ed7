/* SPDX-License-Identifier: MIT */
/*
 * cert.c - the cluster CA derived from the secret, and the master's
 * server certificate (see cert.h).  GnuTLS does the X.509; nettle does
 * the one thing GnuTLS will not, the public point of a given private
 * scalar.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "cert.h"
#include "err.h"
#include "fs.h"
#include "tlslib.h"
#include "xalloc.h"

#define CERT_FILE_MAX (64u << 10)
#define CERT_DAY (24 * 60 * 60)
/* The CA's fixed start of validity (2024-01-01): every node must make
 * the same certificate, so nothing in it may depend on the clock. */
#define CERT_CA_EPOCH ((time_t)1704067200)
/* Domain separation for what is derived from the secret. */
#define CERT_CA_LABEL "kiln cluster CA key v1"
#define CERT_SERIAL_LABEL "kiln cluster CA serial v1"

static int
cert_gnutls_err(char **err, int rc, const char *what)
{
	return err_set(err, -EIO, "%s: %s", what, tl.gnutls_strerror(rc));
}

static void
cert_hmac(const char *secret, const char *label, unsigned char out[32])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret,
	                            strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)label,
	                              strlen(label));
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof st);
}

/* Big-endian bytes of Z into OUT[32], left-padded with zeros. */
static void
cert_mpz_bytes(const mpz_t z, unsigned char out[32])
{
	unsigned char buf[33];
	size_t n = 0;

	tl.__gmpz_export(buf, &n, 1, 1, 1, 0, z);
	memset(out, 0, 32);
	if (n <= 32)
		memcpy(out + 32 - n, buf, n);
}

/*
 * The CA's private key: the scalar HMAC(secret, label), and again with a
 * counter in the label in the (2^-32) case that it is not below the
 * curve's order.  nettle gives its public point; GnuTLS takes all three.
 */
static int
cert_ca_key(const char *secret, gnutls_x509_privkey_t *out, char **err)
{
	const struct ecc_curve *curve = tl.nettle_get_secp_256r1();
	unsigned char k[32], x[32], y[32];
	struct ecc_scalar s;
	struct ecc_point p;
	mpz_t z, px, py;
	int ok = 0, rc;

	tl.__gmpz_init(z);
	tl.__gmpz_init(px);
	tl.__gmpz_init(py);
	tl.nettle_ecc_scalar_init(&s, curve);
	tl.nettle_ecc_point_init(&p, curve);
	for (int i = 0; !ok && i < 16; i++) {
		char label[64];
		snprintf(label, sizeof label, i ? CERT_CA_LABEL " #%d" :
		         CERT_CA_LABEL, i);
		cert_hmac(secret, label, k);
		tl.__gmpz_import(z, 32, 1, 1, 1, 0, k);
		ok = tl.nettle_ecc_scalar_set(&s, z);
	}
	if (ok) {
		tl.nettle_ecc_point_mul_g(&p, &s);
		tl.nettle_ecc_point_get(&p, px, py);
		cert_mpz_bytes(px, x);
		cert_mpz_bytes(py, y);
	}
	tl.nettle_ecc_point_clear(&p);
	tl.nettle_ecc_scalar_clear(&s);
	tl.__gmpz_clear(z);
	tl.__gmpz_clear(px);
	tl.__gmpz_clear(py);
	if (!ok) {
		sodium_memzero(k, sizeof k);
		return err_set(err, -EINVAL, "cannot derive the cluster CA key");
	}
	gnutls_datum_t dx = { x, 32 }, dy = { y, 32 }, dk = { k, 32 };
	gnutls_x509_privkey_t key;
	tl.gnutls_x509_privkey_init(&key);
	rc = tl.gnutls_x509_privkey_import_ecc_raw(key, GNUTLS_ECC_CURVE_SECP256R1,
	                                           &dx, &dy, &dk);
	sodium_memzero(k, sizeof k);
	if (rc < 0) {
		tl.gnutls_x509_privkey_deinit(key);
		return cert_gnutls_err(err, rc, "cannot make the cluster CA key");
	}
	*out = key;
	return 0;
}

/* An abstract private key over X509KEY (which it then owns), signing
 * reproducibly if asked: RFC 6979 ECDSA, same input, same bytes. */
static int
cert_signer(gnutls_x509_privkey_t x509key, int reproducible,
            gnutls_privkey_t *out, char **err)
{
	gnutls_privkey_t pk;
	int rc;

	tl.gnutls_privkey_init(&pk);
	rc = tl.gnutls_privkey_import_x509(pk, x509key,
	                                   GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE);
	if (rc < 0) {
		tl.gnutls_privkey_deinit(pk);
		tl.gnutls_x509_privkey_deinit(x509key);
		return cert_gnutls_err(err, rc, "cannot use a private key");
	}
	if (reproducible)
		tl.gnutls_privkey_set_flags(pk, GNUTLS_PRIVKEY_FLAG_REPRODUCIBLE);
	*out = pk;
	return 0;
}

/* The CA certificate and its signing key, for SECRET. */
static int
cert_ca(const char *secret, gnutls_x509_crt_t *crt_out,
        gnutls_privkey_t *key_out, char **err)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_privkey_t pk = NULL;
	gnutls_x509_crt_t crt;
	unsigned char serial[32], id[64];
	size_t idlen = sizeof id;
	char dn[96];
	int rc;

	if ((rc = tlslib_load(err)) < 0 || (rc = cert_ca_key(secret, &key,
	                                                     err)) < 0)
		return rc;
	tl.gnutls_x509_crt_init(&crt);
	cert_hmac(secret, CERT_SERIAL_LABEL, serial);
	serial[0] &= 0x7f;      /* a positive INTEGER */
	serial[0] |= 0x01;      /* and never zero */
	if ((rc = tl.gnutls_x509_privkey_get_key_id(key, 0, id, &idlen)) < 0)
		goto bad;
	/* Named by its key, so two clusters' CAs are told apart. */
	snprintf(dn, sizeof dn, "O=kiln,CN=kiln cluster CA %02x%02x%02x%02x",
	         id[0], id[1], id[2], id[3]);
	if ((rc = tl.gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_serial(crt, serial, 16)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_activation_time(crt,
	                                                 CERT_CA_EPOCH)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_expiration_time(crt,
	                                                 (time_t)-1)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_dn(crt, dn, NULL)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_basic_constraints(crt, 1, 0)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_key_usage(crt,
	            GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_subject_key_id(crt, id, idlen)) < 0)
		goto bad;
	if ((rc = cert_signer(key, 1, &pk, err)) < 0) {
		tl.gnutls_x509_crt_deinit(crt);
		return rc;
	}
	if ((rc = tl.gnutls_x509_crt_privkey_sign(crt, crt, pk,
	                                          GNUTLS_DIG_SHA256,
	                                          GNUTLS_PRIVKEY_FLAG_REPRODUCIBLE)) < 0) {
		tl.gnutls_privkey_deinit(pk);
		tl.gnutls_x509_crt_deinit(crt);
		return cert_gnutls_err(err, rc, "cannot sign the cluster CA");
	}
	/* A certificate just signed is checked against its old encoding by
	 * some GnuTLS calls: hand out one read back from its bytes. */
	gnutls_datum_t der = { NULL, 0 };
	gnutls_x509_crt_t fresh;
	tl.gnutls_x509_crt_init(&fresh);
	if ((rc = tl.gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER,
	                                     &der)) < 0 ||
	    (rc = tl.gnutls_x509_crt_import(fresh, &der,
	                                    GNUTLS_X509_FMT_DER)) < 0) {
		tl_free(der.data);
		tl.gnutls_x509_crt_deinit(fresh);
		tl.gnutls_privkey_deinit(pk);
		tl.gnutls_x509_crt_deinit(crt);
		return cert_gnutls_err(err, rc, "cannot read the cluster CA");
	}
	tl_free(der.data);
	tl.gnutls_x509_crt_deinit(crt);
	*crt_out = fresh;
	if (key_out != NULL)
		*key_out = pk;
	else
		tl.gnutls_privkey_deinit(pk);
	return 0;
bad:
	tl.gnutls_x509_privkey_deinit(key);
	tl.gnutls_x509_crt_deinit(crt);
	return cert_gnutls_err(err, rc, "cannot make the cluster CA");
}

static int
cert_export(gnutls_x509_crt_t crt, char **pem, char **err)
{
	gnutls_datum_t d = { NULL, 0 };
	int rc = tl.gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d);

	if (rc < 0)
		return cert_gnutls_err(err, rc, "cannot write a certificate");
	*pem = xstrndup((const char *)d.data, d.size);
	tl_free(d.data);
	return 0;
}

int
cert_ca_pem(const char *secret, char **pem, char **err)
{
	gnutls_x509_crt_t crt;
	int rc;

	*pem = NULL;
	if ((rc = cert_ca(secret, &crt, NULL, err)) < 0)
		return rc;
	rc = cert_export(crt, pem, err);
	tl.gnutls_x509_crt_deinit(crt);
	return rc;
}

/* ------------------------------------------------------- the server's */

/* Does CRT name NAME (a DNS name or an IP address) among its SANs? */
static int
cert_has_name(gnutls_x509_crt_t crt, const char *name)
{
	unsigned char ip[16];
	size_t iplen = 0;

	if (inet_pton(AF_INET, name, ip) == 1)
		iplen = 4;
	else if (inet_pton(AF_INET6, name, ip) == 1)
		iplen = 16;
	for (unsigned i = 0;; i++) {
		char buf[512];
		size_t len = sizeof buf;
		int t = tl.gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &len,
		                                                NULL);
		if (t == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return 0;
		if (t < 0)
			continue;
		if (iplen && t == GNUTLS_SAN_IPADDRESS && len == iplen &&
		    memcmp(buf, ip, iplen) == 0)
			return 1;
		if (!iplen && t == GNUTLS_SAN_DNSNAME && len == strlen(name) &&
		    strncasecmp(buf, name, len) == 0)
			return 1;
	}
}

/* Why the certificate PEM will not do for KEY, CA and NAMES, or NULL if it
 * will. */
static const char *
cert_stale(const char *pem, gnutls_x509_privkey_t key,
           gnutls_x509_crt_t ca, const char *const *names, size_t n)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)strlen(pem) };
	unsigned char a[64], b[64];
	size_t alen = sizeof a, blen = sizeof b;
	unsigned status = 0;
	const char *why = NULL;

	tl.gnutls_x509_crt_init(&crt);
	if (tl.gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) < 0)
		why = "the old one did not parse";
	else if (tl.gnutls_x509_crt_verify(crt, &ca, 1, 0, &status) < 0 ||
	         status != 0)
		why = "the old one is not from this cluster's CA (the secret "
		      "changed?)";
	else if (tl.gnutls_x509_crt_get_expiration_time(crt) <
	         time(NULL) + CERT_RENEW_DAYS * CERT_DAY)
		why = "the old one is near its end";
	else if (tl.gnutls_x509_crt_get_key_id(crt, 0, a, &alen) < 0 ||
	         tl.gnutls_x509_privkey_get_key_id(key, 0, b, &blen) < 0 ||
	         alen != blen || memcmp(a, b, alen) != 0)
		why = "the old one is for another key";
	for (size_t i = 0; why == NULL && i < n; i++)
		if (!cert_has_name(crt, names[i]))
			why = "the old one lacks a name now wanted";
	tl.gnutls_x509_crt_deinit(crt);
	return why;
}

/* A new server certificate for KEY and NAMES, signed by the CA. */
static int
cert_issue(gnutls_x509_privkey_t key, gnutls_x509_crt_t ca,
           gnutls_privkey_t cakey, const char *const *names, size_t n,
           char **pem, char **err)
{
	gnutls_x509_crt_t crt;
	unsigned char serial[16], id[64];
	size_t idlen = sizeof id;
	time_t now = time(NULL);
	char dn[300];
	int rc;

	tl.gnutls_x509_crt_init(&crt);
	randombytes_buf(serial, sizeof serial);
	serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x01);
	snprintf(dn, sizeof dn, "O=kiln,CN=%.250s", n > 0 ? names[0] :
	         "kiln master");
	if ((rc = tl.gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_serial(crt, serial,
	                                        sizeof serial)) < 0 ||
	    /* An hour back: a worker's clock may be a little behind. */
	    (rc = tl.gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_expiration_time(crt,
	            now + (time_t)CERT_SERVER_DAYS * CERT_DAY)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_dn(crt, dn, NULL)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_key_usage(crt,
	            GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_key_purpose_oid(crt,
	            GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
	    (rc = tl.gnutls_x509_crt_get_key_id(ca, 0, id, &idlen)) < 0 ||
	    (rc = tl.gnutls_x509_crt_set_authority_key_id(crt, id, idlen)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		unsigned char ip[16];
		if (inet_pton(AF_INET, names[i], ip) == 1)
			rc = tl.gnutls_x509_crt_set_subject_alt_name(crt,
			        GNUTLS_SAN_IPADDRESS, ip, 4, GNUTLS_FSAN_APPEND);
		else if (inet_pton(AF_INET6, names[i], ip) == 1)
			rc = tl.gnutls_x509_crt_set_subject_alt_name(crt,
			        GNUTLS_SAN_IPADDRESS, ip, 16, GNUTLS_FSAN_APPEND);
		else
			rc = tl.gnutls_x509_crt_set_subject_alt_name(crt,
			        GNUTLS_SAN_DNSNAME, names[i],
			        (unsigned)strlen(names[i]), GNUTLS_FSAN_APPEND);
		if (rc < 0)
			goto out;
	}
	if ((rc = tl.gnutls_x509_crt_privkey_sign(crt, ca, cakey,
	                                          GNUTLS_DIG_SHA256, 0)) < 0)
		goto out;
	rc = cert_export(crt, pem, err);
	tl.gnutls_x509_crt_deinit(crt);
	return rc;
out:
	tl.gnutls_x509_crt_deinit(crt);
	return cert_gnutls_err(err, rc, "cannot make the server certificate");
}

/* The server key at PATH, or a new one written there.  *MADE says which. */
static int
cert_server_key(const char *path, int rotate, gnutls_x509_privkey_t *out,
                char **pem, int *made, char **err)
{
	gnutls_x509_privkey_t key;
	size_t len;
	int rc;

	tl.gnutls_x509_privkey_init(&key);
	*made = 0;
	if (!rotate && (rc = fs_read_file(path, CERT_FILE_MAX, pem, &len,
	                                  err)) == 0) {
		gnutls_datum_t d = { (unsigned char *)*pem, (unsigned)len };
		if ((rc = tl.gnutls_x509_privkey_import(key, &d,
		                                        GNUTLS_X509_FMT_PEM)) < 0) {
			tl.gnutls_x509_privkey_deinit(key);
			free(*pem);
			*pem = NULL;
			return err_set(err, -EINVAL, "%s: not a PEM private key "
			              "(%s); remove it, or run `kiln cert "
			              "rotate`", path, tl.gnutls_strerror(rc));
		}
		*out = key;
		return 0;
	} else if (!rotate && rc != -ENOENT) {
		tl.gnutls_x509_privkey_deinit(key);
		return rc;
	}
	if (!rotate && err != NULL) {
		free(*err);
		*err = NULL;
	}
	gnutls_datum_t d = { NULL, 0 };
	if ((rc = tl.gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	        GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0 ||
	    (rc = tl.gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM,
	                                         &d)) < 0) {
		tl.gnutls_x509_privkey_deinit(key);
		return cert_gnutls_err(err, rc, "cannot make the server key");
	}
	*pem = xstrndup((const char *)d.data, d.size);
	sodium_memzero(d.data, d.size);
	tl_free(d.data);
	if ((rc = fs_write_file(path, *pem, strlen(*pem), 0600, err)) < 0) {
		tl.gnutls_x509_privkey_deinit(key);
		free(*pem);
		*pem = NULL;
		return rc;
	}
	*made = 1;
	*out = key;
	return 0;
}

int
cert_server(const char *dir, const char *secret, const char *const *names,
            size_t n, int rotate, char **chain, char **key_pem, char **what,
            char **err)
{
	gnutls_x509_crt_t ca = NULL;
	gnutls_privkey_t cakey = NULL;
	gnutls_x509_privkey_t key = NULL;
	char *kpath = xasprintf("%s/server.key", dir);
	char *cpath = xasprintf("%s/server.crt", dir);
	char *crt = NULL, *capem = NULL;
	const char *why = NULL;
	size_t len;
	int made = 0, rc;

	*chain = *key_pem = *what = NULL;
	if ((rc = fs_mkdir_p(dir, 0700, err)) < 0 ||
	    (rc = cert_ca(secret, &ca, &cakey, err)) < 0 ||
	    (rc = cert_export(ca, &capem, err)) < 0 ||
	    (rc = cert_server_key(kpath, rotate, &key, key_pem, &made,
	                          err)) < 0)
		goto out;
	if (made)
		why = rotate ? "rotated" : "first start";
	else if (fs_read_file(cpath, CERT_FILE_MAX, &crt, &len, NULL) < 0)
		why = "no certificate yet";
	else
		why = cert_stale(crt, key, ca, names, n);
	if (why != NULL) {
		free(crt);
		crt = NULL;
		if ((rc = cert_issue(key, ca, cakey, names, n, &crt, err)) < 0 ||
		    (rc = fs_write_file(cpath, crt, strlen(crt), 0644,
		                        err)) < 0)
			goto out;
		*what = xasprintf("made %s (%s)", cpath, why);
	} else {
		*what = xasprintf("loaded %s", cpath);
	}
	*chain = xasprintf("%s%s", crt, capem);
out:
	if (rc < 0 && *key_pem != NULL) {
		xfree_secret(*key_pem);
		*key_pem = NULL;
	}
	if (key != NULL)
		tl.gnutls_x509_privkey_deinit(key);
	if (cakey != NULL)
		tl.gnutls_privkey_deinit(cakey);
	if (ca != NULL)
		tl.gnutls_x509_crt_deinit(ca);
	free(crt);
	free(capem);
	free(kpath);
	free(cpath);
	return rc;
}

int
cert_describe(const char *pem, char **text, char **err)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)strlen(pem) };
	gnutls_datum_t dn = { NULL, 0 };
	unsigned char fp[32];
	size_t fplen = sizeof fp;
	char names[1024] = "", fphex[3 * 32 + 1] = "", until[64] = "never";
	int rc;

	*text = NULL;
	if ((rc = tlslib_load(err)) < 0)
		return rc;
	tl.gnutls_x509_crt_init(&crt);
	if ((rc = tl.gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM)) < 0 ||
	    (rc = tl.gnutls_x509_crt_get_dn3(crt, &dn, 0)) < 0 ||
	    (rc = tl.gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp,
	                                             &fplen)) < 0) {
		tl.gnutls_x509_crt_deinit(crt);
		return cert_gnutls_err(err, rc, "cannot read the certificate");
	}
	for (unsigned i = 0;; i++) {
		char buf[256], one[INET6_ADDRSTRLEN + 1];
		size_t len = sizeof buf - 1;
		int t = tl.gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &len,
		                                                NULL);
		if (t == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (t == GNUTLS_SAN_DNSNAME) {
			buf[len] = '\0';
			snprintf(one, sizeof one, "%.*s", (int)sizeof one - 1, buf);
		} else if (t == GNUTLS_SAN_IPADDRESS && (len == 4 || len == 16)) {
			inet_ntop(len == 4 ? AF_INET : AF_INET6, buf, one,
			          sizeof one);
		} else {
			continue;
		}
		size_t used = strlen(names);
		snprintf(names + used, sizeof names - used, "%s%s",
		         used ? ", " : "", one);
	}
	for (size_t i = 0; i < fplen; i++)
		snprintf(fphex + 3 * i, sizeof fphex - 3 * i, "%02X%s", fp[i],
		         i + 1 < fplen ? ":" : "");
	time_t end = tl.gnutls_x509_crt_get_expiration_time(crt);
	struct tm tm;
	if (end != (time_t)-1 && gmtime_r(&end, &tm) != NULL)
		strftime(until, sizeof until, "%Y-%m-%d %H:%M:%S UTC", &tm);
	*text = xasprintf("subject:     %s\nnames:       %s\nvalid until: "
	                  "%s\nsha256:      %s\n", (const char *)dn.data,
	                  names[0] ? names : "(none)", until, fphex);
	tl_free(dn.data);
	tl.gnutls_x509_crt_deinit(crt);
	return 0;
}
