#!/bin/sh
# SPDX-License-Identifier: MIT
# poison.sh - a job that kills the worker running it (the crash test
# plugin: SIGSEGV) is placed again once, kills a second worker, and is
# then failed as poison: not placed again, with that reason; the workers,
# started again, run other jobs.  (Before, a lost attempt did not count:
# the job took down every worker in turn, 4 times.)
. "$(dirname "$0")/lib.sh"
start_cluster 1s
TOKEN=$(token)
long=$(api POST /api/v1/jobs '{"plugin":"sleep","params":{"seconds":60}}' | jq_ 'd["id"]')
id=$(api POST /api/v1/jobs '{"plugin":"crash","params":{"signal":"segv"},"retries":5}' | jq_ 'd["id"]')
eq "poison job submitted" 201 "$(status)"
crashes=0
for _ in $(seq 1 300); do
	for w in w1 w2; do
		eval "p=\$PID_$w"
		if ! kill -0 "$p" 2>/dev/null; then
			wait "$p" 2>/dev/null
			crashes=$((crashes + 1))
			start_node "$w"     # as `kiln up` would
		fi
	done
	s=$(api GET "/api/v1/jobs/$id" | jq_ 'd["state"]')
	[ "$s" = failed ] && break
	sleep 0.1
done
eq "the job failed" failed "$s"
api GET "/api/v1/jobs/$id" > "$T/job"
ok "its error says poison" grep -q '"error": *"poison: its worker died while running it 2 times' "$T/job"
eq "two attempts, no third" 2 "$(jq_ 'd["attempt"]' < "$T/job")"
eq "two workers crashed" 2 "$crashes"
wait_workers 2
ids=$(api POST /api/v1/jobs/batch "$(python3 -c 'import json; print(json.dumps({"jobs":[{"plugin":"noop"} for _ in range(20)]}))')" | jq_ '" ".join(str(i) for i in d["ids"])')
for j in $ids; do wait_state "$j" succeeded 20 || break; done
eq "other jobs run after it" succeeded "$(api GET "/api/v1/jobs/$j" | jq_ 'd["state"]')"
sleep 1
eq "the poison job was not placed again" 2 "$(api GET "/api/v1/jobs/$id" | jq_ 'd["attempt"]')"
ok "a job lost in one crash runs again" test "$(api GET "/api/v1/jobs/$long" | jq_ 'd["state"]')" != failed
finish
