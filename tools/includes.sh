#!/bin/sh
# SPDX-License-Identifier: MIT
# includes.sh - the module include graph of src/, and a check that it has
# no cycle.  A module is a file stem (config.c and config.h are module
# config); module A uses module B when A.c or A.h has `#include "B.h"` and
# src/B.h exists.  Headers in subdirectories (the plugin SDK, kiln/plugin.h)
# are not modules of their own; a module's private header X_int.h belongs
# to module X (api_int.h is api's, shared by its handler files).  Prints one line per module,
#     config: fsutil log xalloc yamlfile
# and, if the uses loop, exits 1 naming one loop:
#     includes.sh: include cycle: config -> yamlfile -> config
# Run by `make check`; data flows one way, so a cycle is a layering bug.
#   tools/includes.sh [SRCDIR]   (default: the src/ beside this script)
set -u
src=${1:-$(dirname "$0")/../src}
[ -d "$src" ] || { echo "includes.sh: no directory $src" >&2; exit 2; }

# "module dependency" pairs, one a line; every module also as "module ."
# so that modules using nothing are listed.
for f in "$src"/*.c "$src"/*.h; do
	[ -e "$f" ] || continue
	m=$(basename "$f"); m=${m%.*}; m=${m%_int}
	echo "$m ."
	sed -n 's/^[ \t]*#[ \t]*include[ \t]*"\([^"/]*\)\.h".*/\1/p' "$f" |
	while read -r dep; do
		[ -e "$src/$dep.h" ] || continue
		dep=${dep%_int}
		if [ "$dep" != "$m" ]; then
			echo "$m $dep"
		fi
	done
done | sort -u | awk '
{ if (!($1 in seen)) { seen[$1] = 1; mods[++n] = $1 }
  if ($2 != ".") { deps[$1] = deps[$1] " " $2 } }
END {
	for (i = 1; i <= n; i++) {
		m = mods[i]
		printf "%s:%s\n", m, deps[m]
	}
	# Depth-first search; state 1 = on the current path, 2 = done.
	for (i = 1; i <= n; i++)
		if (!state[mods[i]] && visit(mods[i], 0))
			exit 1
}
function visit(m, depth,    k, d, list, j, cyc) {
	state[m] = 1
	path[depth] = m
	k = split(deps[m], list, " ")
	for (j = 1; j <= k; j++) {
		d = list[j]
		if (state[d] == 1) {
			cyc = ""
			for (i2 = 0; i2 <= depth; i2++)
				if (started || path[i2] == d) {
					started = 1
					cyc = cyc path[i2] " -> "
				}
			printf "includes.sh: include cycle: %s%s\n", cyc, d > "/dev/stderr"
			return 1
		}
		if (!state[d] && visit(d, depth + 1))
			return 1
	}
	state[m] = 2
	return 0
}'
