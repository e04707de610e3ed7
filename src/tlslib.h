/* SPDX-License-Identifier: MIT */
/*
 * tlslib.h - GnuTLS, and the bits of nettle and GMP that derive the
 * cluster CA's key, taken at run time (dynlib.h) rather than linked.
 *
 * Linked, GnuTLS and its chain cost every process about 2.6 MB of
 * resident memory before it does anything; a worker or CLI talking plain
 * HTTP to a master on the same machine never needs them.  tls.c (client
 * sessions) and cert.c (certificates) call through the one table `tl`,
 * filled by tlslib_load(): `tl.gnutls_init(&s, GNUTLS_CLIENT)`.  Each slot
 * has the type of the library header's own prototype, so calls through it
 * compile exactly as direct calls would.
 */
#ifndef KILN_TLSLIB_H
#define KILN_TLSLIB_H

#include <gmp.h>
#include <nettle/ecc.h>
#include <nettle/ecc-curve.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/abstract.h>

/* Every function used, by library.  X(name) once per symbol. */
#define TLSLIB_GNUTLS(X) \
	X(gnutls_strerror) X(gnutls_error_is_fatal) \
	X(gnutls_certificate_allocate_credentials) \
	X(gnutls_certificate_free_credentials) \
	X(gnutls_certificate_set_x509_trust_mem) \
	X(gnutls_certificate_set_x509_trust_file) \
	X(gnutls_certificate_set_x509_system_trust) \
	X(gnutls_certificate_verification_status_print) \
	X(gnutls_init) X(gnutls_deinit) X(gnutls_set_default_priority) \
	X(gnutls_credentials_set) X(gnutls_server_name_set) \
	X(gnutls_session_set_verify_cert) \
	X(gnutls_session_get_verify_cert_status) \
	X(gnutls_certificate_type_get2) \
	X(gnutls_transport_set_int2) X(gnutls_handshake) X(gnutls_bye) \
	X(gnutls_record_send) X(gnutls_record_recv) \
	X(gnutls_record_get_direction) X(gnutls_record_cork) \
	X(gnutls_record_uncork) \
	X(gnutls_x509_privkey_init) X(gnutls_x509_privkey_deinit) \
	X(gnutls_x509_privkey_import_ecc_raw) X(gnutls_x509_privkey_generate) \
	X(gnutls_x509_privkey_import) X(gnutls_x509_privkey_export2) \
	X(gnutls_x509_privkey_get_key_id) \
	X(gnutls_privkey_init) X(gnutls_privkey_deinit) \
	X(gnutls_privkey_import_x509) X(gnutls_privkey_set_flags) \
	X(gnutls_x509_crt_init) X(gnutls_x509_crt_deinit) \
	X(gnutls_x509_crt_import) X(gnutls_x509_crt_export2) \
	X(gnutls_x509_crt_set_version) X(gnutls_x509_crt_set_serial) \
	X(gnutls_x509_crt_set_activation_time) \
	X(gnutls_x509_crt_set_expiration_time) \
	X(gnutls_x509_crt_set_dn) X(gnutls_x509_crt_set_key) \
	X(gnutls_x509_crt_set_basic_constraints) \
	X(gnutls_x509_crt_set_key_usage) \
	X(gnutls_x509_crt_set_subject_alt_name) \
	X(gnutls_x509_crt_set_subject_key_id) \
	X(gnutls_x509_crt_set_authority_key_id) \
	X(gnutls_x509_crt_set_key_purpose_oid) \
	X(gnutls_x509_crt_get_key_id) X(gnutls_x509_crt_privkey_sign) \
	X(gnutls_x509_crt_get_expiration_time) \
	X(gnutls_x509_crt_get_fingerprint) \
	X(gnutls_x509_crt_get_subject_alt_name) \
	X(gnutls_x509_crt_get_dn3) X(gnutls_x509_crt_verify)
#define TLSLIB_HOGWEED(X) \
	X(nettle_get_secp_256r1) X(nettle_ecc_scalar_init) \
	X(nettle_ecc_scalar_set) X(nettle_ecc_scalar_clear) \
	X(nettle_ecc_point_init) X(nettle_ecc_point_mul_g) \
	X(nettle_ecc_point_get) X(nettle_ecc_point_clear)
#define TLSLIB_GMP(X) \
	X(__gmpz_init) X(__gmpz_clear) X(__gmpz_import) X(__gmpz_export)

#define TLSLIB_SLOT(f) __typeof__(f) *f;
struct tlslib {
	TLSLIB_GNUTLS(TLSLIB_SLOT)
	TLSLIB_HOGWEED(TLSLIB_SLOT)
	TLSLIB_GMP(TLSLIB_SLOT)
	/* gnutls_free is a variable holding the function, not a function. */
	__typeof__(gnutls_free) *gnutls_free_var;
};
#undef TLSLIB_SLOT

extern struct tlslib tl;

/* Load the libraries once (thread-safe); 0, or -ELIBACC with *err
 * naming what is missing.  Every later call gives the same answer. */
int tlslib_load(char **err);

/* Free what GnuTLS allocated for us (gnutls_datum_t.data and the like). */
#define tl_free(p) ((*tl.gnutls_free_var)(p))

#endif
