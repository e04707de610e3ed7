#!/bin/sh
# SPDX-License-Identifier: MIT
# workers-many.sh - forty workers on one master (issue 18 item 4): started
# before their master, they all register within a few ms of its listen,
# yet their heartbeats spread over the interval rather than reach the
# master in step; past master.heartbeats_per_second each is told to beat
# less often, and the master takes no more than that; none is declared
# dead while idle or busy; all their tasks succeed.  (The figures, 200
# workers: bench/workers_bench.py.)
. "$(dirname "$0")/lib.sh"
N=40
cluster_yaml 4s
# A long heartbeat, so that beats in step would show as ages within a
# few ms of each other.
sed -i 's/heartbeat_interval: 200ms/heartbeat_interval: 400ms/' "$T/cluster.yaml"
# Every worker holds two connections from 127.0.0.1.  Forty workers at
# 400 ms would beat 100 times a second: at most 40 are taken, so each is
# told 1 s (and the 4 s timeout becomes 10 s).
sed -i "s/^  heartbeat_interval:/  connections_per_address: $((4 * N))\n  heartbeats_per_second: 40\n&/" "$T/cluster.yaml"
for i in $(seq 3 $N); do
	printf '  - { name: w%d, slots: 1, isolation: thread }\n' "$i" >> "$T/cluster.yaml"
done
(umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$T/secret")
for i in $(seq 1 $N); do start_node "w$i"; done
sleep 0.5
start_node master; wait_master
for _ in $(seq 1 400); do
	n=$(curl -s "$URL/api/v1/health" | jq_ "d['workers_alive']" 2>/dev/null)
	[ "${n:-0}" -ge $N ] && break
	sleep 0.05
done
eq "all $N workers register" $N "$n"
# The age of each worker's last heartbeat: the largest minus the smallest,
# at its widest over a few looks.
spread=0
for _ in 1 2 3 4 5 6; do
	sleep 0.3
	s=$(api GET /api/v1/workers | jq_ "(lambda a: max(a) - min(a))([w['heartbeat_age_ms'] for w in d['workers'] if w['state'] == 'alive'])")
	[ "$s" -gt "$spread" ] && spread=$s
done
ok "their heartbeats are spread over the 1 s interval (ages $spread ms apart), not in step" \
	test "$spread" -ge 300
# Exchanges answered over 3 idle seconds.
xs() { api GET /metrics | awk -F'} ' '/^kiln_http_requests_total\{route="\/api\/v1\/cluster\/exchange"/ { n += $2 } END { print n + 0 }'; }
x0=$(xs); sleep 3; x1=$(xs)
ok "the master takes about 40 heartbeats a second, not 100 ($(( (x1 - x0) / 3 ))/s)" \
	test $((x1 - x0)) -le 150 -a $((x1 - x0)) -ge 60
ids=$(api POST /api/v1/jobs/batch "{\"jobs\": [$(for i in $(seq 1 400); do printf '{"plugin":"sleep","params":{"seconds":0.01}},'; done | sed 's/,$//')]}" |
	jq_ "d['ids'][-1]")
eq "400 tasks submitted" 201 "$(status)"
for _ in $(seq 1 600); do
	h=$(curl -s "$URL/api/v1/health")
	[ "$(echo "$h" | jq_ "d['queued'] + d['running']")" = 0 ] && break
	sleep 0.05
done
eq "all of them end" 0 "$(echo "$h" | jq_ "d['queued'] + d['running']")"
eq "the last succeeded" succeeded "$(api GET "/api/v1/jobs/$ids" | jq_ "d['state']")"
ran=$(api GET "/api/v1/workers" | jq_ "sum(1 for w in d['workers'] if w['tasks_done'] > 0)")
ok "spread over the workers ($ran of $N ran some)" test "$ran" -ge $((N / 2))
sleep 3   # three heartbeats more, idle
eq "none was declared dead" 0 "$(grep -c ' is dead' "$T/master.log")"
eq "all $N are alive" $N "$(curl -s "$URL/api/v1/health" | jq_ "d['workers_alive']")"
finish
