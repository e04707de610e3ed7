/* SPDX-License-Identifier: MIT */
/*
 * dynlib.h - take a shared library at run time rather than link it: open
 * it by soname and look up a table of its symbols.  client.c takes libcurl
 * this way and http.c libmicrohttpd, so that a process that never speaks
 * https (or never serves HTTP) does not carry either library and its chain.
 */
#ifndef KILN_DYNLIB_H
#define KILN_DYNLIB_H

#include <stddef.h>

/* One symbol to look up: its NAME, and where its address goes. */
struct dynlib_sym {
	const char *name;
	void **slot;
};

/* A row of a symbol table: DYNLIB_SYM("curl_easy_init", lc.easy_init),
 * where lc.easy_init is a function pointer of the symbol's type. */
#define DYNLIB_SYM(NAME, SLOT) { (NAME), (void **)&(SLOT) }

/*
 * Open the first library of SONAMES (a NULL-terminated list, e.g.
 * { "libcurl.so.4", NULL }) that loads, RTLD_NOW | RTLD_LOCAL, and fill
 * the slot of each of the N rows of SYMS.  HINT, if not NULL, is added to
 * a load failure in brackets (say, the package that has the library).
 * Returns 0, or -ELIBACC with *err: "cannot load SONAME: REASON (HINT)"
 * naming the first soname when none loads, or "SONAME lacks SYMBOL"
 * naming the one that loaded.  The library stays
 * loaded for the life of the process, whatever happens: once a slot is
 * filled nothing can tell that it is unused, so nothing unloads it.
 */
int dynlib_load(const char *const *sonames, const char *hint,
                const struct dynlib_sym *syms, size_t n, char **err);

#endif
