#!/bin/sh
# SPDX-License-Identifier: MIT
# master-kill.sh - kill -9 the master with jobs queued and running, start it
# again: every job finishes, and none is reported succeeded twice.
. "$(dirname "$0")/lib.sh"
start_cluster 3s
body=$(python3 -c 'import json; print(json.dumps({"jobs":[{"plugin":"sleep","params":{"seconds":0.05}} for _ in range(400)]}))')
api POST /api/v1/jobs/batch "$body" > "$T/ids"
eq "400 jobs queued" 201 "$(status)"
sleep 0.7
running=$(sqlite3 "$T/master/kiln.db" "select count(*) from jobs where state=1")
queued=$(sqlite3 "$T/master/kiln.db" "select count(*) from jobs where state=0")
ok "some running ($running) and some queued ($queued) at the kill" test "$running" -gt 0 -a "$queued" -gt 0
kill -9 "$PID_master"
sleep 0.5
start_node master
for _ in $(seq 1 300); do
	n=$(sqlite3 "$T/master/kiln.db" "select count(*) from jobs where state=2" 2>/dev/null)
	[ "$n" = 400 ] && break; sleep 0.1
done
eq "all 400 succeeded after the restart" 400 "$n"
eq "no job succeeded twice" 0 "$(sqlite3 "$T/master/kiln.db" "select count(*) from (select job_id from attempts where state=2 group by job_id having count(*)>1)")"
eq "every job has exactly one successful attempt" 400 "$(sqlite3 "$T/master/kiln.db" "select count(distinct job_id) from attempts where state=2")"
finish
