#!/bin/sh
# SPDX-License-Identifier: MIT
# submit-wait.sh - POST /api/v1/jobs?wait=SECONDS submits and answers with
# the finished job in one request (201, the whole record as GET ?wait
# gives it), or with the job as it stands once the wait is over; a parked
# submission woken by other jobs' ends submits nothing again; a replay of
# its Idempotency-Key waits for the same job; a bad wait or a batch with
# wait is 400 and submits nothing; `kiln submit --wait` uses it.
. "$(dirname "$0")/lib.sh"
start_cluster
TOKEN=$(token)
njobs() { sqlite3 "$T/master/kiln.db" "select count(*) from jobs"; }
# post PATH BODY [KEY] -> body; status in $T/status, headers in $T/hdr
post() {
	curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $(token)" -H "Idempotency-Key: ${3:-}" \
		-H 'Content-Type: application/json' --data-binary "$2" "$URL$1" > "$T/status"
	cat "$T/body"
}
now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }

r=$(post '/api/v1/jobs?wait=10' '{"plugin":"noop"}')
eq "submit and wait: 201" 201 "$(status)"
eq "... answered finished" succeeded "$(echo "$r" | jq_ 'd["state"]')"
eq "... with its attempts, as GET gives" 1 "$(echo "$r" | jq_ 'len(d["attempts"])')"
id=$(echo "$r" | jq_ 'd["id"]')
eq "... the same record as GET" "$(api GET "/api/v1/jobs/$id" | jq_ 'd["finished_ms"]')" \
	"$(echo "$r" | jq_ 'd["finished_ms"]')"

r=$(post '/api/v1/jobs?wait=10' '{"plugin":"sleep","params":{"seconds":0.2,"fail":true}}')
eq "a failed job is answered too" failed "$(echo "$r" | jq_ 'd["state"]')"
ok "... with its error" test -n "$(echo "$r" | jq_ 'd["error"]')"

t0=$(now_ms)
r=$(post '/api/v1/jobs?wait=1' '{"plugin":"sleep","params":{"seconds":3}}')
t1=$(now_ms)
eq "a job longer than the wait: 201" 201 "$(status)"
st=$(echo "$r" | jq_ 'd["state"]')
ok "... answered while it is unfinished ($st)" test "$st" = queued -o "$st" = running
ok "... after the wait, about 1 s ($((t1 - t0)) ms)" test $((t1 - t0)) -ge 900 -a $((t1 - t0)) -lt 2900
id=$(echo "$r" | jq_ 'd["id"]')
eq "... and finishes; GET ?wait waits for the rest" succeeded \
	"$(api GET "/api/v1/jobs/$id?wait=10" | jq_ 'd["state"]')"

# A parked submission is entered again at every job's end: it must not
# submit again.  Four jobs end while it waits.
n=$(njobs)
post '/api/v1/jobs?wait=20' '{"plugin":"sleep","params":{"seconds":1.5}}' > "$T/long" &
bg=$!
sleep 0.3
for i in 1 2 3 4; do
	api POST '/api/v1/jobs?wait=10' "{\"plugin\":\"noop\",\"params\":{\"i\":$i}}" > /dev/null
done
wait "$bg"
eq "the long one answered finished" succeeded "$(jq_ 'd["state"]' < "$T/long")"
eq "five jobs submitted, none twice" $((n + 5)) "$(njobs)"

r=$(post '/api/v1/jobs?wait=10' '{"plugin":"noop","params":{"k":1}}' key-w1)
id=$(echo "$r" | jq_ 'd["id"]')
n=$(njobs)
r2=$(post '/api/v1/jobs?wait=10' '{"plugin":"noop","params":{"k":1}}' key-w1)
eq "a replayed key answers the same job" "$id" "$(echo "$r2" | jq_ 'd["id"]')"
eq "... finished" succeeded "$(echo "$r2" | jq_ 'd["state"]')"
eq "... marked Idempotent-Replayed" 1 "$(grep -ci '^Idempotent-Replayed: true' "$T/hdr")"
eq "... submitting nothing" "$n" "$(njobs)"

post '/api/v1/jobs?wait=soon' '{"plugin":"noop"}' > /dev/null
eq "wait=soon: 400" 400 "$(status)"
ok "... naming wait" grep -q '"wait: must be a number of seconds' "$T/body"
post '/api/v1/jobs/batch?wait=5' '{"jobs":[{"plugin":"noop"}]}' > /dev/null
eq "a batch with wait: 400" 400 "$(status)"
ok "... naming wait" grep -q '"wait: a batch is not waited for' "$T/body"
api GET "/api/v1/jobs/$id?wait=-1" > /dev/null
eq "GET with wait=-1: 400" 400 "$(status)"
eq "nothing submitted by the refused ones" "$n" "$(njobs)"

out=$(k submit noop --wait)
eq "kiln submit --wait: the id, then the state" "job $(echo "$out" | head -1) succeeded" \
	"$(echo "$out" | sed -n 2p)"
out=$(k submit sleep -p seconds=1.5 --wait --json)
eq "kiln submit --wait past its first wait (--json)" succeeded "$(echo "$out" | jq_ 'd["state"]')"
finish
