#!/bin/sh
# SPDX-License-Identifier: MIT
# overlap.sh - a job goes to a worker while its submission's commit is
# being made durable (store_apply_early): kill -9 the master in that
# window, and fail that commit, and check that nothing acknowledged is
# lost, that a job whose submission was not acknowledged exists at most
# once, and that no job is recorded twice (or takes another's result).
# And a short task's start, written with its end.
. "$(dirname "$0")/lib.sh"

cluster_yaml 2s
# Many HTTP threads: the worker's poll then rarely shares the thread the
# stalled submission holds (part 1).
sed -i 's/^  listen: 127.0.0.1$/&\n  http_threads: 16/' "$T/cluster.yaml"
db="$T/master/kiln.db"
q() { sqlite3 "$db" "$1" 2>/dev/null; }
master() {  # master [KILN_FAULT]: start it, wait until it listens
	KILN_FAULT="${1:-}" "$KILN" start -c "$T/cluster.yaml" --node master \
		>>"$T/master.log" 2>&1 &
	PID_master=$!
	PIDS="$PIDS $!"
	wait_master
}
submit() {  # submit: one noop job; its id, or nothing; status in $T/status
	api POST /api/v1/jobs '{"plugin": "noop"}' | jq_ 'd.get("id", "")' 2>/dev/null
}
done_ok() {  # done_ok ID: the job succeeded, as a client waiting is told
	[ "$(api GET "/api/v1/jobs/$1?wait=10" | jq_ 'd["state"]')" = succeeded ]
}

# Part 1.  The third commit holding a submission stalls where its ops ran
# (the job has its id, and went to a waiting worker) before its COMMIT.
# libmicrohttpd runs each connection's handlers on one of its threads:
# when the worker's poll shares the thread that the stalled submission
# holds, it cannot be answered, and the job cannot reach it; that run is
# done again (at most 6 times), from a master started anew.
tries=0
while :; do
	tries=$((tries + 1))
	mark=$(($(wc -l < "$T/master.log" 2>/dev/null || echo 0) + 1))
	master trace,store:commit:3:STALL
	[ "$tries" = 1 ] && start_node w1
	wait_workers 1
	a=$(submit)
	ok "job A acknowledged and succeeded" done_ok "$a"
	b=$(submit)
	ok "job B acknowledged and succeeded" done_ok "$b"
	sleep 0.5       # B's exchange settled
	# Job C: its POST waits on the stalled commit.
	curl -s -m 30 -o "$T/c.body" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $(token)" -H 'Content-Type: application/json' \
		--data-binary '{"plugin": "noop"}' "$URL/api/v1/jobs" > "$T/c.status" &
	cpid=$!
	for _ in $(seq 1 100); do
		tail -n +"$mark" "$T/master.log" | grep -q "fault: stalled at store commit #3" && break
		sleep 0.05
	done
	ok "the third submission's commit stalled" sh -c \
		"tail -n +$mark '$T/master.log' | grep -q 'fault: stalled at store commit #3'"
	sleep 2         # the worker runs job C and reports it (the report waits)
	kill -9 "$PID_master"
	wait "$PID_master" 2>/dev/null
	wait "$cpid" 2>/dev/null
	c=$((b + 1))
	master
	for _ in $(seq 1 100); do
		tail -n +"$mark" "$T/master.log" | grep -q "job $c attempt 1 from w1 refused" && break
		sleep 0.05
	done
	tail -n +"$mark" "$T/master.log" | grep -q "job $c attempt 1 from w1 refused" && break
	[ "$tries" -ge 6 ] && break
	echo "# job C did not reach the worker (try $tries): again"
	kill -9 "$PID_master"
	wait "$PID_master" 2>/dev/null
done
ok "job C was not acknowledged (no 201)" test "$(cat "$T/c.status")" != 201
eq "job C is not in the store" 0 "$(q "select count(*) from jobs where id = $c")"
ok "job C had gone to the worker before the kill (its result is refused)" sh -c \
	"tail -n +$mark '$T/master.log' | grep -q 'result of job $c attempt 1 from w1 refused'"
eq "jobs A and B kept, succeeded, once each" "2|2" \
	"$(q "select count(*), sum(state = 2) from jobs where id in ($a, $b)")"
jd=$(submit)
ok "job D succeeded after the restart" done_ok "$jd"
ok "job D does not take job C's id ($jd > $c)" test "$jd" -gt "$c"
eq "no attempt of a job that is not in the store" 0 \
	"$(q "select count(*) from attempts where job_id not in (select id from jobs)")"
eq "every job once, with one attempt" "$((2 * tries + 1))|$((2 * tries + 1))|$((2 * tries + 1))" \
	"$(q "select count(*), sum(attempt = 1), sum((select count(*) from attempts where job_id = id) = 1) from jobs")"
kill -9 "$PID_master"
wait "$PID_master" 2>/dev/null

# Part 2.  The next submission's commit fails (EIO) after its job was
# handed out: the client is told, the job is withdrawn, and its id is
# never given to another job, though no commit recorded it.
master store:commit:1:EIO
e=$(submit)
ok "job E refused ($(status))" test "$(status)" -ge 500 -a -z "$e"
e=$(sed -n 's/.*job \([0-9]*\) (noop) withdrawn.*/\1/p' "$T/master.log" | tail -n 1)
ok "the master withdrew job E (handed out before its commit failed)" test -n "$e"
f=""
for _ in $(seq 1 50); do
	f=$(submit)
	[ -n "$f" ] && break
	sleep 0.1
done
ok "job F acknowledged once the store takes writes again" test -n "$f"
ok "job F succeeded" done_ok "$f"
ok "job F does not take job E's id ($f > ${e:-?})" test "$f" -gt "${e:-0}"
eq "job E is not in the store" 0 "$(q "select count(*) from jobs where id = ${e:-0}")"
eq "no attempt of a job that is not in the store" 0 \
	"$(q "select count(*) from attempts where job_id not in (select id from jobs)")"
n=$((2 * tries + 2))      # A and B of each try, D, F
eq "every job once, succeeded, with one attempt" "$n|$n|$n" \
	"$(q "select count(*), sum(state = 2), sum(attempt = 1) from jobs")"

# Part 3.  A task of a plugin known to be short has its start written
# with its end (start_folded): the store shows it queued while it runs,
# and a cancel meanwhile still closes its attempt.
for _ in $(seq 1 10); do
	s=$(api POST /api/v1/jobs '{"plugin": "sleep", "params": {"seconds": 0.001}}' | jq_ 'd["id"]')
	done_ok "$s" || break
done
g=$(api POST /api/v1/jobs '{"plugin": "sleep", "params": {"seconds": 10}}' | jq_ 'd["id"]')
for _ in $(seq 1 100); do
	[ "$(api GET /api/v1/health | jq_ 'd["running"]')" = 1 ] && break
	sleep 0.05
done
eq "the long task runs (the scheduler's count)" 1 "$(api GET /api/v1/health | jq_ 'd["running"]')"
eq "its start is not written yet" "0|0" "$(q "select state, attempt from jobs where id = $g")"
api POST "/api/v1/jobs/$g/cancel" > /dev/null
eq "cancelled while running" 200 "$(status)"
eq "the cancel wrote its start and closed its attempt" "4|1|4|w1" \
	"$(q "select j.state, j.attempt, a.state, a.worker from jobs j join attempts a on a.job_id = j.id where j.id = $g")"
finish
