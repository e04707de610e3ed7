/* SPDX-License-Identifier: MIT */
/*
 * tls.c - TLS client sessions over a socket (see tls.h).  GnuTLS checks
 * the chain against the trust given and the name against the host the
 * client dialled; a failure keeps GnuTLS's own words for why.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "tls.h"
#include "tlslib.h"
#include "xalloc.h"

struct tls_trust {
	gnutls_certificate_credentials_t cred;
};

struct tls_conn {
	gnutls_session_t s;
	char *host;
	char why[512];
};

int
tls_trust_new(const char *ca_pem, const char *ca_file, tls_trust **out,
              char **err)
{
	int rc;

	*out = NULL;
	if ((rc = tlslib_load(err)) < 0)
		return rc;
	tls_trust *t = xcalloc(1, sizeof *t);
	if ((rc = tl.gnutls_certificate_allocate_credentials(&t->cred)) < 0) {
		free(t);
		return err_set(err, -ENOMEM, "cannot set up TLS: %s",
		              tl.gnutls_strerror(rc));
	}
	if (ca_pem != NULL) {
		gnutls_datum_t d = { (unsigned char *)ca_pem,
		                     (unsigned)strlen(ca_pem) };
		rc = tl.gnutls_certificate_set_x509_trust_mem(t->cred, &d,
		                                              GNUTLS_X509_FMT_PEM);
	} else if (ca_file != NULL) {
		rc = tl.gnutls_certificate_set_x509_trust_file(t->cred, ca_file,
		                                               GNUTLS_X509_FMT_PEM);
	} else {
		rc = tl.gnutls_certificate_set_x509_system_trust(t->cred);
	}
	/* These return how many certificates they took: none is an error
	 * too, or every master would be refused for no reason given. */
	if (rc <= 0) {
		const char *what = ca_pem != NULL ? "the cluster CA" :
		                   ca_file != NULL ? ca_file : "the system's "
		                   "trust store";
		tls_trust_free(t);
		return err_set(err, -EINVAL, "cannot load CA certificates from "
		              "%s: %s", what, rc == 0 ? "no certificate in it" :
		              tl.gnutls_strerror(rc));
	}
	*out = t;
	return 0;
}

void
tls_trust_free(tls_trust *t)
{
	if (t == NULL)
		return;
	tl.gnutls_certificate_free_credentials(t->cred);
	free(t);
}

int
tls_conn_new(tls_trust *t, int fd, const char *host, tls_conn **out,
             char **err)
{
	tls_conn *c = xcalloc(1, sizeof *c);
	int rc;

	*out = NULL;
	c->host = xstrdup(host);
	if ((rc = tl.gnutls_init(&c->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK)) < 0) {
		free(c->host);
		free(c);
		return err_set(err, -ENOMEM, "cannot start TLS: %s",
		              tl.gnutls_strerror(rc));
	}
	if ((rc = tl.gnutls_set_default_priority(c->s)) < 0 ||
	    (rc = tl.gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE,
	                                    t->cred)) < 0) {
		tls_conn_free(c);
		return err_set(err, -EIO, "cannot start TLS: %s",
		              tl.gnutls_strerror(rc));
	}
	/* SNI is for names only; an address is checked all the same. */
	unsigned char ip[16];
	if (inet_pton(AF_INET, host, ip) != 1 &&
	    inet_pton(AF_INET6, host, ip) != 1)
		tl.gnutls_server_name_set(c->s, GNUTLS_NAME_DNS, host,
		                          strlen(host));
	tl.gnutls_session_set_verify_cert(c->s, c->host, 0);
	tl.gnutls_transport_set_int2(c->s, fd, fd);
	*out = c;
	return 0;
}

/* A GnuTLS result as our convention: -EAGAIN, or negative with c->why. */
static int
tls_fail(tls_conn *c, int rc)
{
	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
		return -EAGAIN;
	snprintf(c->why, sizeof c->why, "TLS: %s", tl.gnutls_strerror(rc));
	if (rc == GNUTLS_E_PREMATURE_TERMINATION ||
	    rc == GNUTLS_E_PULL_ERROR || rc == GNUTLS_E_PUSH_ERROR)
		return -ECONNRESET;
	return -EPROTO;
}

int
tls_handshake(tls_conn *c)
{
	int rc = tl.gnutls_handshake(c->s);

	if (rc == GNUTLS_E_SUCCESS)
		return 0;
	if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		gnutls_datum_t d = { NULL, 0 };
		unsigned status = tl.gnutls_session_get_verify_cert_status(c->s);
		gnutls_certificate_type_t type =
			tl.gnutls_certificate_type_get2(c->s, GNUTLS_CTYPE_SERVER);
		if (tl.gnutls_certificate_verification_status_print(status, type,
		                                                   &d, 0) == 0) {
			snprintf(c->why, sizeof c->why, "its certificate is "
			         "refused for %s: %s", c->host, d.data);
			tl_free(d.data);
		} else {
			snprintf(c->why, sizeof c->why, "its certificate is "
			         "refused for %s", c->host);
		}
		return -EACCES;
	}
	if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED &&
	    !tl.gnutls_error_is_fatal(rc))
		return -EAGAIN;         /* a warning alert: go on */
	return tls_fail(c, rc);
}

ssize_t
tls_send(tls_conn *c, const void *buf, size_t len)
{
	ssize_t k = tl.gnutls_record_send(c->s, buf, len);

	return k >= 0 ? k : tls_fail(c, (int)k);
}

ssize_t
tls_recv(tls_conn *c, void *buf, size_t len)
{
	ssize_t k = tl.gnutls_record_recv(c->s, buf, len);

	if (k >= 0)
		return k;
	/* A master that drops an idle connection need not say goodbye. */
	if (k == GNUTLS_E_PREMATURE_TERMINATION)
		return 0;
	return tls_fail(c, (int)k);
}

short
tls_wants(const tls_conn *c)
{
	return tl.gnutls_record_get_direction(c->s) ? POLLOUT : POLLIN;
}

const char *
tls_why(const tls_conn *c)
{
	return c->why[0] ? c->why : "TLS failed";
}

void
tls_conn_free(tls_conn *c)
{
	if (c == NULL)
		return;
	tl.gnutls_deinit(c->s);
	free(c->host);
	free(c);
}
