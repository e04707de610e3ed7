#!/bin/sh
# SPDX-License-Identifier: MIT
# mancheck.sh - the man pages cannot drift from the code: every command of
# the CLI's table (src/cli/cli.c's cli_cmds, named in src/cli/*.c) has an
# entry ".B kiln NAME" in man/kiln.1 and every entry names a command;
# every key of src/config.c's key tables has an entry in
# man/kiln-cluster.yaml.5, and every key of src/dag.c's in man/kiln-dag.5
# (".B" or ".SS" with the key as a component of its dotted path:
# "master.tls.mode", "workers[].name").  Also, if groff is installed, each
# page formats without a warning (groff -man -ww -z).
# Run by `make check`; exits 1 naming what is missing.
#   tools/mancheck.sh [TOPDIR]   (default: the directory above this script)
set -u
top=${1:-$(dirname "$0")/..}
[ -f "$top/src/cli/cli.c" ] || { echo "mancheck.sh: no $top/src/cli/cli.c" >&2; exit 2; }
fails=0
miss() { echo "mancheck.sh: $*"; fails=$((fails + 1)); }

# The table's entries (cli_cmd_X), then each one's .name in its file.
syms=$(sed -n '/^static const struct cli_cmd \*const cli_cmds\[\]/,/^};/p' \
	"$top/src/cli/cli.c" | grep -o 'cli_cmd_[a-z_]*')
[ -n "$syms" ] || miss "no command table found in src/cli/cli.c"
names=""
for s in $syms; do
	n=$(sed -n "/^const struct cli_cmd $s = {/,/^};/p" "$top"/src/cli/*.c |
		sed -n 's/.*\.name = "\([^"]*\)".*/\1/p' | head -n 1)
	[ -n "$n" ] || { miss "no .name for $s in src/cli/*.c"; continue; }
	names="$names$n
"
	grep -Eq "^\.B kiln $n( |\$)" "$top/man/kiln.1" ||
		miss "man/kiln.1 has no entry '.B kiln $n'"
done
# And no entry for a command that is gone.
sed -n 's/^\.B kiln \([a-z][a-z ]*\).*/\1/p' "$top/man/kiln.1" |
sed 's/ *$//' | while read -r e; do
	printf '%s' "$names" | grep -qx "$e" ||
		echo "mancheck.sh: man/kiln.1 has an entry for 'kiln $e', which is no command"
done | grep . && fails=$((fails + 1))

# keys SOURCE PAGE: each key of SOURCE's tables has an entry in PAGE.
keys() {
	for k in $(sed -n 's/^[ \t]*{ "\([a-z_]*\)", YF_.*/\1/p' "$top/$1" | sort -u); do
		grep -Eq "^\.(B|SS) ([a-z_]+(\[\])?\.)*$k((\[\])?\.[][a-z_.]*)?\$" \
			"$top/$2" || miss "$2 has no entry for $1's key '$k'"
	done
}
keys src/config.c man/kiln-cluster.yaml.5
keys src/dag.c man/kiln-dag.5

if command -v groff >/dev/null 2>&1; then
	for p in kiln.1 kiln-cluster.yaml.5 kiln-dag.5; do
		w=$(groff -man -ww -z "$top/man/$p" 2>&1)
		[ -z "$w" ] || miss "man/$p: groff warns: $w"
	done
fi
[ "$fails" -eq 0 ] || exit 1
echo "mancheck.sh: $(printf '%s' "$names" | grep -c .) commands and the keys of config.c and dag.c are in man/"
