#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/fuzz/run.sh - run the libFuzzer targets of tests/fuzz, each from
# its seed corpus (tests/fuzz/corpus/NAME: real inputs and the reproducer
# of every bug found so far), then fuzzing on for a while.
#
#   make check      runs this for FUZZ_CHECK_SECONDS (default 5) per
#                   target, new inputs in a scratch directory; exit 77
#                   (skip) without clang and libFuzzer
#   make fuzz       runs it for FUZZ_SECONDS (default 60) per target,
#                   keeping new inputs in tests/fuzz/work/NAME
#   run.sh NAME...  only those targets
#
# A crash, leak, hang (-timeout) or sanitizer report fails the run and
# leaves the input as tests/fuzz/work/NAME-crash-... (or leak-, timeout-)
# in the build tree: replay it with `tests/fuzz/NAME-fuzz FILE`, and once
# fixed, add it to the corpus.
set -u
src=${KILN_SRCDIR:?}/tests/fuzz
dir=${KILN_FUZZ_DIR:?}
names=${*:-${KILN_FUZZ_NAMES:?}}

if [ -z "${KILN_FUZZ_CC:-}" ] && [ -z "${FUZZ_SECONDS:-}" ]; then
	echo "SKIP: no clang with libFuzzer (-fsanitize=fuzzer) was found by" \
	    "configure; on Debian: apt-get install clang libclang-rt-14-dev," \
	    "then run configure again"
	exit 77
fi

if [ -n "${FUZZ_SECONDS:-}" ]; then
	secs=$FUZZ_SECONDS
	work=$dir/work
	scratch=
else
	secs=${FUZZ_CHECK_SECONDS:-5}
	work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-fuzz-XXXXXX") || exit 1
	scratch=$work
	trap 'rm -rf "$scratch"' EXIT
fi
mkdir -p "$work" "$dir/work" || exit 1

status=0
for name in $names; do
	bin=$dir/$name-fuzz
	if [ ! -x "$bin" ]; then
		echo "FAIL $name: $bin not built"
		status=1
		continue
	fi
	mkdir -p "$work/$name"
	dict=
	[ -f "$src/$name.dict" ] && dict=-dict=$src/$name.dict
	log=$work/$name.log
	# New inputs go to the first directory: never into the source tree.
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$dir/work/$name-" $dict \
	    "$work/$name" "$src/corpus/$name" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	if [ "$rc" = 0 ]; then
		echo "ok   $name: ${runs:-?} runs in ${took:-?} s, $cov," \
		    "$(ls "$work/$name" | wc -l) inputs kept"
	else
		echo "FAIL $name (exit $rc): input kept as" \
		    "$(ls "$dir/work/$name"-* 2>/dev/null | tr '\n' ' ')"
		grep -E 'ERROR|SUMMARY|check failed|runtime error' "$log" | head -n 5
		tail -n 40 "$log"
		status=1
	fi
done
exit $status
