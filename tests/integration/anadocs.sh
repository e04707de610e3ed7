#!/bin/sh
# SPDX-License-Identifier: MIT
# anadocs.sh - docs/analytics.md's generated results stay true:
# tools/analytics-results.py --check starts a cluster of this build, runs
# the sunspots_forecast example pipeline and checks that the docs' result
# markers are well-formed and that its leaderboard and backtest tables
# have the scores the docs show (training times aside).  A model or
# metric that changes its numbers fails here until the docs are
# regenerated (tools/analytics-results.py, which also runs the breast
# cancer pipeline, the partition comparison and statsmodels).
. "$(dirname "$0")/lib.sh"

OUT="$T/check.out"
check() {  # check [--docs FILE] -> exit status; output in $OUT
	python3 "$KILN_SRCDIR/tools/analytics-results.py" --check \
		--kiln "$KILN" --plugins "$KILN_PLUGIN_BUILD" "$@" > "$OUT" 2>&1
}
check; rc=$?
[ "$rc" -eq 0 ] || cat "$OUT"
eq "analytics-results.py --check passes" 0 "$rc"
ok "it says the scores are the docs'" grep -q "the same scores as the docs'" "$OUT"
# the tables it made: 3 ranked models, 5 backtest origins
eq "leaderboard rows" 3 "$(grep -c '^| [0-9] | `' "$OUT")"
eq "backtest origins" 5 "$(grep -c '^| [0-9] | 1700 – ' "$OUT")"

# A docs file whose table differs is refused, naming the section.
sed 's/^| 1 | `ar` | p=-1, max_p=10 | [0-9.]*/| 1 | `ar` | p=-1, max_p=10 | 9.999/' \
	"$KILN_SRCDIR/docs/analytics.md" > "$T/analytics.md"
if check --docs "$T/analytics.md"; then
	ok "a changed score is refused" false
else
	ok "a changed score is refused, naming the section" grep -q "section sunspots is not" "$OUT"
fi
# Broken markers are refused before any cluster starts.
sed '0,/<!-- \/results -->/s///' "$KILN_SRCDIR/docs/analytics.md" > "$T/broken.md"
if check --docs "$T/broken.md"; then
	ok "broken markers are refused" false
else
	ok "broken markers are refused" grep -q "section markers" "$OUT"
fi
finish
