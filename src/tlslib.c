/* SPDX-License-Identifier: MIT */
/*
 * tlslib.c - load GnuTLS, nettle's hogweed and GMP at run time (see
 * tlslib.h).  All three are what libgnutls30 itself depends on, so a
 * machine with libmicrohttpd has them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "dynlib.h"
#include "err.h"
#include "tlslib.h"
#include "xalloc.h"

struct tlslib tl;

static pthread_once_t tl_once = PTHREAD_ONCE_INIT;
static int tl_rc = -ELIBACC;
static char *tl_error;          /* why loading failed, kept for good */

#define TLSLIB_ROW(f) DYNLIB_SYM(#f, tl.f),

static void
tlslib_load_once(void)
{
	static const char *const gnutls[] = { "libgnutls.so.30", NULL };
	static const char *const hogweed[] = { "libhogweed.so.6", NULL };
	static const char *const gmp[] = { "libgmp.so.10", NULL };
	static const struct dynlib_sym gnutls_syms[] = {
		TLSLIB_GNUTLS(TLSLIB_ROW)
		DYNLIB_SYM("gnutls_free", tl.gnutls_free_var),
	};
	static const struct dynlib_sym hogweed_syms[] = {
		TLSLIB_HOGWEED(TLSLIB_ROW)
	};
	static const struct dynlib_sym gmp_syms[] = { TLSLIB_GMP(TLSLIB_ROW) };

	if (dynlib_load(gnutls, "Debian package libgnutls30", gnutls_syms,
	                sizeof gnutls_syms / sizeof gnutls_syms[0],
	                &tl_error) != 0 ||
	    dynlib_load(hogweed, "Debian package libnettle8", hogweed_syms,
	                sizeof hogweed_syms / sizeof hogweed_syms[0],
	                &tl_error) != 0 ||
	    dynlib_load(gmp, "Debian package libgmp10", gmp_syms,
	                sizeof gmp_syms / sizeof gmp_syms[0], &tl_error) != 0)
		return;
	tl_rc = 0;
}

int
tlslib_load(char **err)
{
	pthread_once(&tl_once, tlslib_load_once);
	if (tl_rc != 0)
		return err_set(err, tl_rc, "%s", tl_error != NULL ? tl_error :
		              "cannot load GnuTLS");
	return 0;
}
