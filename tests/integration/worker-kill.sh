#!/bin/sh
# SPDX-License-Identifier: MIT
# worker-kill.sh - kill -9 the worker running a job: it is declared dead
# after the timeout and the job finishes on the other worker; the dead
# worker comes back and registers cleanly.
. "$(dirname "$0")/lib.sh"
start_cluster 1s
id=$(k submit sleep -p seconds=4)
ok "job starts" wait_state "$id" running
w=$(api GET "/api/v1/jobs/$id" | jq_ 'd["worker"]')
other=w1; [ "$w" = w1 ] && other=w2
eval "kill -9 \$PID_$w"
ok "job succeeds after its worker died" wait_state "$id" succeeded 20
job=$(api GET "/api/v1/jobs/$id")
eq "it ran twice" 2 "$(echo "$job" | jq_ 'd["attempt"]')"
eq "on the other worker" "$other" "$(echo "$job" | jq_ 'd["worker"]')"
eq "first attempt recorded as lost" failed "$(echo "$job" | jq_ 'd["attempts"][0]["state"]')"
eq "the dead worker is dead" dead "$(api GET /api/v1/workers | jq_ '[x["state"] for x in d["workers"] if x["name"]=="'$w'"][0]')"
start_node "$w"
wait_workers 2
eq "it re-registers" alive "$(api GET /api/v1/workers | jq_ '[x["state"] for x in d["workers"] if x["name"]=="'$w'"][0]')"
id2=$(k submit noop)
ok "the cluster still runs jobs" wait_state "$id2" succeeded
finish
