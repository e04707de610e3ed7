#!/bin/sh
# SPDX-License-Identifier: MIT
# systemd.sh - kiln under systemd: the sd_notify protocol (src/notify.c),
# SIGHUP reloads, and the unit files of deploy/systemd.  systemd is not
# process 1 on the build machines, so the test plays systemd's part of
# Type=notify itself (tests/integration/notify-listen.py on NOTIFY_SOCKET,
# WATCHDOG_USEC set as WatchdogSec= would) around a real master and
# worker, and checks the units with `systemd-analyze verify` where it is
# installed:
#   - READY=1 comes once /api/v1/health answers (the master) and once the
#     worker is registered; a master that cannot start never says it;
#   - WATCHDOG=1 keeps coming; STOPPING=1 comes on SIGTERM;
#   - SIGHUP: a new DAG file is served at once, cluster.yaml is read
#     again (a broken one changes nothing and is logged), the master
#     says RELOADING=1 then READY=1, and no node stops.
. "$(dirname "$0")/lib.sh"
cluster_yaml
LISTEN="$KILN_SRCDIR/tests/integration/notify-listen.py"
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
	echo "# systemd is process 1 here; the units are still only verified"
else
	echo "# systemd is not process 1 here ($(cat /proc/1/comm 2>/dev/null)):" \
		"the notify protocol is checked against the test's own socket"
fi

# listen NAME - a notify socket for node NAME: $T/NAME.sock, log $T/NAME.notify
listen() {
	python3 "$LISTEN" "$T/$1.sock" "$T/$1.notify" "$URL" 2>>"$T/listen.log" &
	PIDS="$PIDS $!"
	for _ in $(seq 1 100); do
		[ -e "$T/$1.sock.bound" ] && return 0
		sleep 0.05
	done
	echo "notify listener for $1 did not start"; return 1
}
# start_notified NAME - start_node with NOTIFY_SOCKET and a 400 ms watchdog.
start_notified() {
	NOTIFY_SOCKET="$T/$1.sock" WATCHDOG_USEC=400000 \
		"$KILN" start -c "$T/cluster.yaml" --node "$1" >>"$T/$1.log" 2>&1 &
	eval "PID_$1=$!"
	PIDS="$PIDS $!"
}
# wait_notify NAME MESSAGE - until NAME's log has a line containing MESSAGE.
wait_notify() {
	for _ in $(seq 1 200); do
		grep -q "$2" "$T/$1.notify" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "no '$2' from $1 (got: $(tr '\n' ' ' < "$T/$1.notify" 2>/dev/null))"; return 1
}
alive() { kill -0 "$1" 2>/dev/null; }

listen master
listen w1
start_notified master
ok "the master says READY=1" wait_notify master 'READY=1'
eq "the API answered when it did" "health: ok" \
	"$(grep -m1 '^health:' "$T/master.notify" | cut -d' ' -f1-2)"
ok "with a status line" grep -q 'READY=1|STATUS=serving' "$T/master.notify"
start_notified w1
ok "the worker says READY=1" wait_notify w1 'READY=1'
eq "once registered: the master counted it" "health: ok 1" \
	"$(grep -m1 '^health:' "$T/w1.notify")"
sleep 0.5
n=$(grep -c '^WATCHDOG=1$' "$T/master.notify")
ok "the master feeds the watchdog (WATCHDOG=1 x$n in 0.5 s+)" [ "$n" -ge 2 ]
ok "the worker too" grep -q '^WATCHDOG=1$' "$T/w1.notify"

# A second master on the same data directory cannot start: no READY=1.
listen master2
NOTIFY_SOCKET="$T/master2.sock" "$KILN" start -c "$T/cluster.yaml" \
	--node master >"$T/master2.log" 2>&1
eq "a master that cannot start exits 1" 1 "$?"
sleep 0.2
ok "and never says READY=1" sh -c "! grep -q READY=1 '$T/master2.notify' 2>/dev/null"

# SIGHUP: a new DAG file, and a new master.retention, at once.
cat > "$T/dags/hup.yaml" <<YAML
id: after_hup
tasks:
  - id: a
    plugin: noop
YAML
sed -i 's/^  heartbeat_interval: 200ms$/  heartbeat_interval: 200ms\n  retention: 30d/' "$T/cluster.yaml"
kill -HUP "$PID_master"
t0=$(date +%s%N)
found=no
for _ in $(seq 1 40); do
	if api GET /api/v1/dags | grep -q '"after_hup"'; then found=yes; break; fi
	sleep 0.05
done
ms=$((($(date +%s%N) - t0) / 1000000))
eq "SIGHUP: the new DAG is in /api/v1/dags (${ms} ms)" yes "$found"
ok "the master is still running" alive "$PID_master"
ok "it said RELOADING=1" wait_notify master '^RELOADING=1|MONOTONIC_USEC='
ok "then READY=1 again" sh -c "sed -n '/^RELOADING=1/,\$p' '$T/master.notify' | grep -q '^READY=1'"
ok "it read cluster.yaml again" grep -q 'reload: DAGs rescanned; master.retention and master.pools applied' "$T/master.log"
# A broken cluster.yaml changes nothing and is reported with its place.
cp "$T/cluster.yaml" "$T/cluster.yaml.good"
printf 'master:\n  port: [\n' > "$T/cluster.yaml"
kill -HUP "$PID_master"
for _ in $(seq 1 40); do
	grep -q 'cluster.yaml not applied' "$T/master.log" && break
	sleep 0.05
done
ok "a broken cluster.yaml is logged with FILE:LINE:COLUMN" \
	grep -Eq "reload: $T/cluster.yaml:[0-9]+:[0-9]+: .*cluster.yaml not applied" "$T/master.log"
ok "and the master serves on" sh -c "curl -sf '$URL/api/v1/health' >/dev/null"
cp "$T/cluster.yaml.good" "$T/cluster.yaml"
kill -HUP "$PID_w1"
sleep 0.3
ok "SIGHUP to a worker: it rescans its plugins and runs on" \
	sh -c "grep -q 'reload: rescanning the plugin directory' '$T/w1.log' && kill -0 $PID_w1"
id=$(k submit noop)
ok "and a job still runs" wait_state "$id" succeeded

# SIGTERM: STOPPING=1, then a clean exit.
kill -TERM "$PID_w1"
wait "$PID_w1"
eq "the worker exits 0 on SIGTERM" 0 "$?"
ok "having said STOPPING=1" grep -q '^STOPPING=1$' "$T/w1.notify"
kill -TERM "$PID_master"
wait "$PID_master"
eq "the master exits 0 on SIGTERM" 0 "$?"
ok "having said STOPPING=1" grep -q '^STOPPING=1$' "$T/master.notify"

# The units, as make wrote them (the build tree beside $KILN).
units="$(dirname "$KILN")/deploy/systemd"
ok "the units are built" test -f "$units/kiln-master.service" -a -f "$units/kiln-worker@.service"
for u in kiln-master.service kiln-worker@.service; do
	for d in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' \
		Restart=on-failure WatchdogSec= DynamicUser=yes StateDirectory=kiln \
		ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes \
		RestrictAddressFamilies= 'CapabilityBoundingSet=$'; do
		ok "$u: $d" grep -q "^$d" "$units/$u"
	done
done
if command -v systemd-analyze >/dev/null 2>&1; then
	# ExecStart must name an executable: this build's kiln.  The man
	# pages of Documentation= are looked up too: ours.
	mkdir -p "$T/units" "$T/man/man1" "$T/man/man5"
	cp "$KILN_SRCDIR/man/kiln.1" "$T/man/man1/"
	cp "$KILN_SRCDIR/man/kiln-cluster.yaml.5" "$KILN_SRCDIR/man/kiln-dag.5" "$T/man/man5/"
	for u in kiln-master.service kiln-worker@.service; do
		sed "s|^\(ExecStart=\)[^ ]*/kiln |\1$KILN |" "$units/$u" > "$T/units/$u"
	done
	cp "$T/units/kiln-worker@.service" "$T/units/kiln-worker@w1.service"
	(cd "$T/units" && MANPATH="$T/man" systemd-analyze verify \
		./kiln-master.service ./kiln-worker@w1.service) >"$T/verify.log" 2>&1
	eq "systemd-analyze verify: both units" "0:" "$?:$(cat "$T/verify.log")"
	# And verify does catch a broken unit.
	sed 's/^Type=notify/Type=notfy/' "$T/units/kiln-master.service" > "$T/units/bad.service"
	(cd "$T/units" && MANPATH="$T/man" systemd-analyze verify ./bad.service) >"$T/bad.log" 2>&1
	ok "systemd-analyze verify refuses Type=notfy" grep -q 'Failed to parse service type' "$T/bad.log"
else
	echo "# skipped: systemd-analyze verify (systemd-analyze is not installed; apt-get install systemd)"
fi
finish
