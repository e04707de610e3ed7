/* SPDX-License-Identifier: MIT */
/*
 * dynlib.c - open a shared library by soname and look up its symbols (see
 * dynlib.h).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>

#include "dynlib.h"
#include "err.h"
#include "xalloc.h"

int
dynlib_load(const char *const *sonames, const char *hint,
            const struct dynlib_sym *syms, size_t n, char **err)
{
	void *h = NULL;
	char *why = NULL;       /* why the first soname did not load */
	size_t i;

	if (sonames == NULL || sonames[0] == NULL)
		return err_set(err, -EINVAL, "dynlib_load: no library named");
	for (i = 0; sonames[i] != NULL; i++) {
		if ((h = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL)) != NULL)
			break;
		if (why == NULL) {
			const char *e = dlerror();
			why = xstrdup(e != NULL ? e : "unknown error");
		}
	}
	if (h == NULL) {
		int rc = err_set(err, -ELIBACC, "cannot load %s: %s%s%s%s",
		                sonames[0], why, hint != NULL ? " (" : "",
		                hint != NULL ? hint : "",
		                hint != NULL ? ")" : "");
		free(why);
		return rc;
	}
	free(why);
	for (size_t k = 0; k < n; k++) {
		*syms[k].slot = dlsym(h, syms[k].name);
		if (*syms[k].slot == NULL)
			return err_set(err, -ELIBACC, "%s lacks %s", sonames[i],
			              syms[k].name);
	}
	return 0;
}
