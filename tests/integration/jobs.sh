#!/bin/sh
# SPDX-License-Identifier: MIT
# jobs.sh - 1,000 jobs through the batch API on two workers: every one
# succeeds exactly once (one attempt, recorded once in SQLite).
. "$(dirname "$0")/lib.sh"
start_cluster
body=$(python3 -c 'import json; print(json.dumps({"jobs":[{"plugin":"noop"} for _ in range(1000)]}))')
api POST /api/v1/jobs/batch "$body" > "$T/ids"
eq "batch accepted" 201 "$(status)"
eq "1000 ids" 1000 "$(jq_ 'len(d["ids"])' < "$T/ids")"
last=$(jq_ 'd["ids"][-1]' < "$T/ids")
ok "last job succeeds" wait_state "$last" succeeded 60
for _ in $(seq 1 100); do
	n=$(sqlite3 "$T/master/kiln.db" "select count(*) from jobs where state=2")
	[ "$n" = 1000 ] && break; sleep 0.1
done
eq "1000 jobs succeeded" 1000 "$n"
eq "each ran exactly once" 1000 "$(sqlite3 "$T/master/kiln.db" "select count(*) from attempts")"
eq "no job has two attempts" 0 "$(sqlite3 "$T/master/kiln.db" "select count(*) from jobs where attempt<>1")"
eq "both workers took work" 2 "$(sqlite3 "$T/master/kiln.db" "select count(distinct worker) from attempts")"
finish
