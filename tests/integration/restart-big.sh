#!/bin/sh
# SPDX-License-Identifier: MIT
# restart-big.sh - a master whose store holds many finished jobs and some
# queued ones of mixed priorities (issue 18 item 6) starts, runs every
# queued job exactly once, highest priority first, survives a kill -9 in
# the middle, and leaves the finished ones as they were.  The store is
# filled straight with SQLite, on the schema the master made.
. "$(dirname "$0")/lib.sh"
cluster_yaml 3s
start_node master
wait_master
kill "$PID_master"; wait "$PID_master" 2>/dev/null
db="$T/master/kiln.db"
sqlite3 "$db" > /dev/null <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
INSERT INTO jobs (plugin, params, state, attempt, worker, result, created_ms,
                  started_ms, finished_ms)
SELECT 'noop', '{}', 2, 1, 'w1', '{"ok":true}', 1764900000000 + i,
       1764900000000 + i, 1764900000001 + i FROM n;
INSERT INTO attempts (job_id, attempt, worker, state, log, started_ms, finished_ms)
SELECT id, 1, 'w1', 2, 'done', started_ms, finished_ms FROM jobs;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
INSERT INTO jobs (plugin, params, state, priority, created_ms)
SELECT 'sleep', '{"seconds":0.002}', 0, i % 3, 1765000000000 + i FROM n;
COMMIT;
SQL
eq "the store holds 200,000 finished jobs" 200000 "$(sqlite3 "$db" "select count(*) from jobs where state = 2")"

start_node master
wait_master
h=$(curl -s "$URL/api/v1/health")
eq "the 3,000 queued jobs are recovered" 3000 "$(echo "$h" | jq_ 'd["queued"]')"
start_node w1
start_node w2
wait_workers 2
for _ in $(seq 1 200); do
	n=$(sqlite3 "$db" "select count(*) from jobs where state = 2 and priority > 0" 2>/dev/null)
	[ "${n:-0}" -ge 500 ] && break; sleep 0.05
done
kill -9 "$PID_master"
sleep 0.3
start_node master
for _ in $(seq 1 600); do
	n=$(sqlite3 "$db" "select count(*) from jobs where state = 2 and id > 200000" 2>/dev/null)
	[ "$n" = 3000 ] && break; sleep 0.1
done
eq "all 3,000 succeeded across the kill" 3000 "$n"
eq "no job succeeded twice" 0 "$(sqlite3 "$db" "select count(*) from (select job_id from attempts where state = 2 group by job_id having count(*) > 1)")"
eq "each queued job has one successful attempt" 3000 "$(sqlite3 "$db" "select count(distinct job_id) from attempts where state = 2 and job_id > 200000")"
eq "the finished jobs are untouched" 200000 "$(sqlite3 "$db" "select count(*) from attempts where job_id <= 200000 and attempt = 1 and state = 2")"
# Priority 2 first, then 1, then 0: the last priority-2 job started
# before the last priority-0 one (the queue may be consumed two at a time
# and prefetched, so only the ends are compared).
ok "the highest priority ran first" test \
	"$(sqlite3 "$db" "select max(started_ms) from jobs where id > 200000 and priority = 2")" -le \
	"$(sqlite3 "$db" "select min(started_ms) from jobs where id > 200000 and priority = 0")"
finish
