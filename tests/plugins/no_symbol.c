/* SPDX-License-Identifier: MIT */
/*
 * no_symbol.c - test plugin that is a valid shared object but exports no
 * `kiln_plugin` descriptor (only a look-alike name).
 */
#include "kiln/plugin.h"

int kiln_plugin_v0(void);

int
kiln_plugin_v0(void)
{
	return 0;
}
