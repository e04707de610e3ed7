#!/bin/sh
# SPDX-License-Identifier: MIT
# limits.sh - issue 13's bad numbers: a job no live worker could hold says
# why while it waits; a job's error reaches the terminal escaped; after a restart a plugin the store has seen is queued
# while the workers register again (and refused once the window is over);
# DAG catch-up from 1970 makes runs only as max_active_runs lets them start.
. "$(dirname "$0")/lib.sh"
cluster_yaml 3s
cat > "$T/dags/minutely.yaml" <<YAML
id: minutely
schedule: "* * * * *"
start_date: 1970-01-01
catchup: true
max_active_runs: 2
tasks:
  - { id: t, plugin: sleep, params: { seconds: 60 }, pool: single }
YAML
start_node master
wait_master
start_node w1
start_node w2
wait_workers 2

for f in 'slots": 2000' 'memory": -1' 'timeout_ms": -5'; do
	api POST /api/v1/jobs "{\"plugin\": \"noop\", \"$f}" > /dev/null
	eq "$f is 400" 400 "$(status)"
	ok "naming the field and the range" grep -q "${f%%\"*} must be from" "$T/body"
done

id=$(api POST /api/v1/jobs '{"plugin": "noop", "slots": 64}' | jq_ 'd["id"]')
eq "64 slots are queued (a bigger worker may join)" 201 "$(status)"
api GET "/api/v1/jobs/$id" > "$T/job"
ok "shown as unschedulable, saying why" grep -q '"unschedulable": *"it asks for 64 slots; the live workers with plugin .noop. offer at most 2"' "$T/job"
id2=$(api POST /api/v1/jobs '{"plugin": "noop", "memory": 1099511627776}' | jq_ 'd["id"]')
api GET "/api/v1/jobs/$id2" > "$T/job"
ok "1 TiB of memory too" grep -q '"unschedulable": *"it asks for 1099511627776 bytes of memory' "$T/job"
id3=$(k submit noop)
ok "a job that fits runs" wait_state "$id3" succeeded
api GET "/api/v1/jobs/$id3" > "$T/job"
ok "and says nothing of it" sh -c "! grep -q unschedulable '$T/job'"
api POST "/api/v1/jobs/$id/cancel" '{}' > /dev/null
api POST "/api/v1/jobs/$id2/cancel" '{}' > /dev/null

# A job's error with a terminal escape reaches the terminal escaped.
esc=$(printf '\033[2J')
k submit --wait readfile -p "path=$T/nothing${esc}here" > "$T/out" 2>&1
ok "the CLI prints the error escaped" grep -q 'nothing\\x1b\[2Jhere' "$T/out"
ok "and no raw escape" sh -c "! grep -q \"$(printf '\033')\" '$T/out'"

# Catch-up: two runs (their tasks sleep, one at a time: pool single, so a
# slot stays free), not one per minute since 1970.
sleep 2
eq "catch-up made max_active_runs runs" 2 "$(sqlite3 "$T/master/kiln.db" "select count(*) from dag_runs")"

# Restart the master with no worker: within a worker timeout of its start
# a submission of a plugin jobs used is queued, not refused as unknown.
kill -9 "$PID_w1" "$PID_w2" "$PID_master"
sleep 0.2
start_node master
wait_master
id4=$(api POST /api/v1/jobs '{"plugin": "noop"}' | jq_ 'd["id"]')
eq "a known plugin is queued before the workers are back" 201 "$(status)"
api POST /api/v1/jobs '{"plugin": "nope"}' > /dev/null
eq "a plugin never seen is still 400" 400 "$(status)"
sleep 3.2
api POST /api/v1/jobs '{"plugin": "noop"}' > /dev/null
eq "after the window, with no worker, 400" 400 "$(status)"
start_node w1
ok "the queued job runs when a worker is back" wait_state "$id4" succeeded
finish
