#!/bin/sh
# SPDX-License-Identifier: MIT
# browser.sh - the dashboard's browser tests (tests/browser/): Playwright
# (playwright-core from npm, never a downloaded browser) drives Debian's
# chromium against a real master and two workers that the test starts
# itself.  Skipped (77) only when chromium, node or npm is missing;
# node_modules (playwright-core, and axe-core, whose checks run in every
# page) is installed from package-lock.json on first use.
#
# Environment (set by `make check`): KILN, KILN_PLUGIN_BUILD, KILN_SRCDIR.
# Screenshots of every page go to tests/output/screenshots/ under the
# build directory.  KEEP=1 keeps the cluster's files and prints its logs.
set -u
: "${KILN:=$(pwd)/kiln}"
: "${KILN_PLUGIN_BUILD:=$(pwd)/plugins/lib}"
: "${KILN_SRCDIR:=$(pwd)}"
: "${CHROMIUM:=/usr/bin/chromium}"
export KILN KILN_PLUGIN_BUILD KILN_SRCDIR CHROMIUM
: "${KILN_SCREENSHOTS:=$(pwd)/tests/output/screenshots}"
export KILN_SCREENSHOTS

skip() { echo "SKIP: $*"; exit 77; }
[ -x "$CHROMIUM" ] || skip "$CHROMIUM not found (apt-get install -y chromium)"
command -v node >/dev/null 2>&1 || skip "node not found (apt-get install -y nodejs)"
command -v npm >/dev/null 2>&1 || skip "npm not found (apt-get install -y npm)"

B="$KILN_SRCDIR/tests/browser"
if [ ! -d "$B/node_modules/playwright-core" ] || [ ! -d "$B/node_modules/axe-core" ]; then
	echo "installing playwright-core and axe-core in $B (no browser download)"
	if ! (cd "$B" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund); then
		echo "FAIL: npm ci in $B failed"
		exit 99
	fi
fi

TAP=$(mktemp /tmp/kiln-browser-tap.XXXXXX)
trap 'rm -f "$TAP"' EXIT
# The tests run in this node process (not under `node --test`, which would
# fork) so that the time limit's SIGTERM reaches the code that stops the
# cluster.  A master that stops answering fails the test, never hangs
# `make check`.
(cd "$B" && timeout 600 node \
	--test-reporter=spec --test-reporter-destination=stdout \
	--test-reporter=tap --test-reporter-destination="$TAP" \
	dashboard.test.mjs)
rc=$?
pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$TAP")
fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$TAP")
if [ -z "$pass" ]; then
	echo "browser tests: FAILED, interrupted before the end (exit $rc)"
	exit 1
fi
echo "browser tests: $pass passed, $fail failed (screenshots in $KILN_SCREENSHOTS)"
[ "$rc" -eq 0 ] && [ "${fail:-1}" -eq 0 ]
