#!/bin/sh
# SPDX-License-Identifier: MIT
# idle.sh - a cluster comes up at once and idles small (issue 18 item 7):
# workers started before their master register as soon as it listens, not
# a heartbeat interval later; the generated admin password (hashed cheaply:
# it is random) logs in; an idle master and two workers stay under a
# generous bound of resident memory.
. "$(dirname "$0")/lib.sh"
cluster_yaml 30s
# A long heartbeat: a registration that waited for one would show.
sed -i 's/heartbeat_interval: 200ms/heartbeat_interval: 10s/' "$T/cluster.yaml"
# The secret first: the workers read it before they look for a master.
(umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$T/secret")
start_node w1; start_node w2
for _ in $(seq 1 200); do
	grep -q "registration with .* failed" "$T/w1.log" &&
		grep -q "registration with .* failed" "$T/w2.log" && break
	sleep 0.05
done
ok "the workers find no master yet" grep -q "registration with .* failed" "$T/w2.log"
start_node master; wait_master; wait_workers 2
# Milliseconds from the master listening to the last worker registered,
# from the log's own timestamps (HH:MM:SS.mmm).
ms() { grep -m1 "$1" "$T/master.log" | cut -c12-23 |
	awk -F: '{ printf "%d\n", ($1 * 3600 + $2 * 60 + $3) * 1000 }'; }
t0=$(ms "master listening on")
t1=$(ms "worker w1 registered"); t2=$(ms "worker w2 registered")
last=$((t1 > t2 ? t1 : t2))
ok "both register within 1 s of the master listening ($((last - t0)) ms), not a heartbeat (10 s) later" \
	test $((last - t0)) -lt 1000
pw=$(cat "$T/master/admin-password")
login() {
	curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		--data "{\"user\":\"$1\",\"password\":\"$2\"}" "$URL/api/v1/login"
}
eq "the generated admin password logs in" 200 "$(login admin "$pw")"
eq "and no other" 401 "$(login admin "x$pw")"
# Sanitizer builds map shadow memory: no bound means anything there.
if grep -q __asan_init "$KILN" 2>/dev/null; then
	echo "ok - # skip resident memory under a sanitizer"
else
	sleep 1
	kb=0
	for p in "$PID_master" "$PID_w1" "$PID_w2"; do
		kb=$((kb + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")))
	done
	ok "an idle master and 2 workers are resident in under 24 MB ($((kb / 1024)) MB)" \
		test "$kb" -lt $((24 * 1024))
fi
finish
