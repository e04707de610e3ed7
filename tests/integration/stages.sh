#!/bin/sh
# SPDX-License-Identifier: MIT
# stages.sh - distributed stages (ABI 1.1): a driver task's map tasks run
# on both workers and its answer is right; many stages in a row are fast;
# a map task that fails fails the stage with its message, after two
# retries, or at once if it failed on bad input (KILN_EINVAL); kill -9 of a
# worker in the middle of a stage re-runs its map tasks elsewhere and the
# driver still gets the right answer (and the map tasks' outputs, ABI
# 1.7, once each), each stage's tasks not left behind.
. "$(dirname "$0")/lib.sh"
start_cluster 1s

id=$(k submit stagesum -p n=1000000 -p tasks=8 -p iterations=3)
ok "a driver with 3 stages of 8 map tasks succeeds" wait_state "$id" succeeded 30
res=$(api GET "/api/v1/jobs/$id" | jq_ 'd["result"]["total"]')
eq "the stages' sum is right" 499999500000 "$res"
eq "map tasks are not jobs" 1 "$(api GET '/api/v1/jobs?limit=100' | jq_ 'len(d["jobs"])')"
# ...but the driver's page lists its stages and their map tasks.
api GET "/api/v1/jobs/$id/stages" >"$T/stages.json"
eq "the driver's 3 stages" 3 "$(jq_ 'len(d["stages"])' <"$T/stages.json")"
eq "each of 8 map tasks, all succeeded" "8 8 8" "$(jq_ '" ".join(str(sum(t["state"] == "succeeded" for t in s["tasks"])) for s in d["stages"])' <"$T/stages.json")"
eq "each map task names its worker and duration" True "$(jq_ 'all(t["worker"] in ("w1", "w2") and t["duration_ms"] >= 0 and t["attempts"] == 1 for s in d["stages"] for t in s["tasks"])' <"$T/stages.json")"
eq "the stages in order, succeeded" "succeeded succeeded succeeded" "$(jq_ '" ".join(s["state"] for s in d["stages"])' <"$T/stages.json")"
api GET "/api/v1/jobs/999999/stages" >/dev/null
eq "an unknown job's stages are 404" 404 "$(status)"

id=$(k submit stagesum -p n=1000 -p tasks=4 -p iterations=200)
ok "200 stages in a row" wait_state "$id" succeeded 60
ms=$(api GET "/api/v1/jobs/$id" | jq_ 'd["result"]["stage_ms"]')
echo "# mean time per stage of 4 no-op map tasks: $ms ms"
ok "a stage takes well under 50 ms" python3 -c "import sys; sys.exit(0 if $ms < 50 else 1)"

id=$(k submit stagesum --retries 0 -p tasks=4 -p fail_index=2)
ok "a failing map task fails the driver" wait_state "$id" failed 30
err=$(api GET "/api/v1/jobs/$id" | jq_ 'd["error"]')
case "$err" in *"map task 2"*"fails on purpose"*) ok "with the map task's message" true ;;
*) ok "with the map task's message (got: $err)" false ;; esac
# The master logs every failed attempt of a map task with its driver
# (which runs once: --retries 0).
fails() { grep -c "stage [0-9]* task 2 (driver job $1) failed" "$T/master.log"; }
eq "a map task failing with KILN_EFAIL ran 3 times" 3 "$(fails "$id")"
id=$(k submit stagesum --retries 0 -p tasks=4 -p fail_index=2 -p fail_einval=1)
ok "a map task failing on bad input fails the driver" wait_state "$id" failed 30
err=$(api GET "/api/v1/jobs/$id" | jq_ 'd["error"]')
case "$err" in *"stage "*" task 2 "*"bad input"*"fails on purpose"*) ok "with the map task's message" true ;;
*) ok "with the map task's message (got: $err)" false ;; esac
eq "a map task failing with KILN_EINVAL ran once" 1 "$(fails "$id")"

# Kill the worker that does not run the driver while its map tasks sleep;
# they write outputs (ABI 1.7), which the driver gets once each.
id=$(k submit stagesum -p n=100000 -p tasks=4 -p sleep_ms=3000 -p outputs=1)
ok "driver starts" wait_state "$id" running
sleep 1
w=$(api GET "/api/v1/jobs/$id" | jq_ 'd["worker"]')
other=w1; [ "$w" = w1 ] && other=w2
eval "kill -9 \$PID_$other"
ok "the driver succeeds after a worker died mid-stage" wait_state "$id" succeeded 40
eq "with the right sum" 4999950000 "$(api GET "/api/v1/jobs/$id" | jq_ 'd["result"]["total"]')"
eq "the driver ran once" 1 "$(api GET "/api/v1/jobs/$id" | jq_ 'd["attempt"]')"
eq "the lost map tasks' outputs, once each" \
	"sum-0.txt sum-1.txt sum-2.txt sum-3.txt total.txt" \
	"$(api GET "/api/v1/jobs/$id" | jq_ '" ".join(sorted(o["name"] for o in d["outputs"]))')"
start_node "$other"
wait_workers 2

# A stage from a job that is not running is refused.
body='{"job":999999,"attempt":1,"plugin":"stagesum","tasks":[{"params":{}}]}'
api POST /api/v1/cluster/stages "$body" >/dev/null
eq "a token cannot submit stages" 403 "$(status)"
# Map tasks are named "stage S task I" in the logs, never by their
# internal negative ids.
eq "no log line names a negative job id" 0 "$(cat "$T"/*.log | grep -c 'job -[0-9]')"
ok "a failed map task is named by stage and index" grep -q 'stage [0-9]* task 2 (driver job' "$T/master.log"
finish
