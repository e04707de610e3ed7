#!/bin/sh
# SPDX-License-Identifier: MIT
# funclen.sh - list C functions longer than a limit (default 120 lines),
# longest first.  kiln's style puts a definition's name at the start of a
# line and its closing brace alone at column 0, so awk finds both.
#   tools/funclen.sh [-n LIMIT] [FILE...]   (default: src/ plugins/ lib/)
limit=120
if [ "${1:-}" = -n ]; then limit=$2; shift 2; fi
[ $# -gt 0 ] || set -- $(find src plugins lib -name '*.c' 2>/dev/null | sort)
awk -v limit="$limit" '
FNR == 1 { name = "" }
/^[A-Za-z_][A-Za-z0-9_]*\(/ { name = $0; sub(/\(.*/, "", name); start = FNR; next }
/^}/ && name != "" {
	n = FNR - start + 1
	if (n > limit) printf "%5d %s:%d %s\n", n, FILENAME, start, name
	name = ""
}' "$@" | sort -rn
