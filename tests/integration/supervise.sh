#!/bin/sh
# SPDX-License-Identifier: MIT
# supervise.sh - `kiln up` restarts the nodes that die: a worker killed
# with -9 is back and runs jobs; a master killed with -9 is back, the
# workers were not restarted, and the jobs queued before finish exactly
# once; the restarts are counted in /metrics; a node that dies at once on
# every start is given up on, with a message.
. "$(dirname "$0")/lib.sh"
cluster_yaml 3s
"$KILN" up -c "$T/cluster.yaml" > "$T/up.log" 2>&1 &
UP=$!
PIDS="$PIDS $UP"
for _ in $(seq 1 300); do grep -q "ready in" "$T/up.log" && break; sleep 0.1; done
ok "the cluster is ready" grep -q "ready in" "$T/up.log"

node_pid() { ps -o pid=,args= --ppid "$UP" | awk -v n="$1" '$NF == n { print $1 }'; }
reg_ms() { api GET /api/v1/workers | jq_ "[w['registered_ms'] for w in d['workers'] if w['name']=='$1'][0]"; }

# A worker killed with -9 is restarted and registers again.
w1=$(node_pid w1); w2=$(node_pid w2); r1=$(reg_ms w1)
kill -9 "$w1"
t0=$(date +%s)
for _ in $(seq 1 100); do
	n=$(node_pid w1); r=$(reg_ms w1 2>/dev/null)
	[ -n "$n" ] && [ "$n" != "$w1" ] && [ "${r:-0}" != "$r1" ] && break
	sleep 0.1
done
ok "w1 was restarted (pid $w1 -> $n)" test -n "$n" -a "$n" != "$w1"
ok "and registered again" test "${r:-0}" != "$r1"
ok "within 5 s" test $(( $(date +%s) - t0 )) -le 5
ok "the restart is logged" grep -q "restarted w1" "$T/up.log"
id=$(api POST /api/v1/jobs '{"plugin":"noop"}' | jq_ 'd["id"]')
ok "a job runs after it" wait_state "$id" succeeded

# The master killed with -9, jobs queued: it is back, the workers are the
# same processes, and every job succeeds once.
w1=$(node_pid w1)
body=$(python3 -c 'import json; print(json.dumps({"jobs":[{"plugin":"sleep","params":{"seconds":0.05}} for _ in range(200)]}))')
api POST /api/v1/jobs/batch "$body" > /dev/null
eq "200 jobs queued" 201 "$(status)"
sleep 0.5
m=$(node_pid master)
kill -9 "$m"
for _ in $(seq 1 100); do
	p=$(curl -s "$URL/api/v1/health" | jq_ 'd["pid"]' 2>/dev/null)
	[ -n "$p" ] && [ "$p" != "$m" ] && break
	sleep 0.1
done
ok "the master is back (pid $m -> $p)" test -n "$p" -a "$p" != "$m"
eq "w1 was not restarted" "$w1" "$(node_pid w1)"
eq "w2 was not restarted" "$w2" "$(node_pid w2)"
for _ in $(seq 1 300); do
	n=$(sqlite3 "$T/master/kiln.db" "select count(*) from jobs where plugin='sleep' and state=2")
	[ "$n" = 200 ] && break; sleep 0.1
done
eq "all 200 succeeded" 200 "$n"
eq "none succeeded twice" 0 "$(sqlite3 "$T/master/kiln.db" "select count(*) from (select job_id from attempts where state=2 group by job_id having count(*)>1)")"
api GET /metrics > "$T/metrics"
ok "/metrics counts w1's restart" grep -q '^kiln_node_restarts_total{node="w1"} 1$' "$T/metrics"
ok "and the master's" grep -q '^kiln_node_restarts_total{node="master"} 1$' "$T/metrics"
ok "and none of w2" grep -q '^kiln_node_restarts_total{node="w2"} 0$' "$T/metrics"

# A worker that dies at once on every start (its data_dir is a file) is
# given up on; its cluster's master runs on.
P2=$(free_port)
: > "$T/notadir"
sed -e "s/port: $PORT/port: $P2/" -e "s#data_dir: $T/master#data_dir: $T/master2#" \
	-e '/^workers:/,$d' "$T/cluster.yaml" > "$T/bad.yaml"
printf 'workers:\n  - name: w3\n    data_dir: %s/notadir\n' "$T" >> "$T/bad.yaml"
"$KILN" up -c "$T/bad.yaml" > "$T/bad.log" 2>&1 &
BAD=$!
PIDS="$PIDS $BAD"
for _ in $(seq 1 150); do grep -q "giving up on w3" "$T/bad.log" && break; sleep 0.1; done
ok "w3 is given up on" grep -q "giving up on w3: started 5 times in 60 s" "$T/bad.log"
eq "after 4 restarts" 4 "$(grep -c "restarted w3" "$T/bad.log")"
ok "its master runs on" curl -sf -o /dev/null "http://127.0.0.1:$P2/api/v1/health"
kill "$BAD"; wait "$BAD"
eq "kiln up stops cleanly on SIGTERM" 0 $?

# A master that cannot listen (the first one holds the port) is given up
# on, and kiln up fails.
sed -e '/^workers:/,$d' -e "s#data_dir: $T/master#data_dir: $T/master3#" "$T/cluster.yaml" > "$T/busy.yaml"
timeout 20 "$KILN" up -c "$T/busy.yaml" > "$T/busy.log" 2>&1
eq "kiln up fails when its master keeps dying" 1 $?
ok "saying so" grep -q "giving up on master" "$T/busy.log"
kill "$UP"; wait "$UP"
eq "the supervised cluster stops cleanly" 0 $?
finish
