#!/bin/sh
# SPDX-License-Identifier: MIT
# idempotency.sh - a submission sent again with its Idempotency-Key gets
# the jobs of the first (same ids, Idempotent-Replayed: true) and submits
# nothing, also after the master was killed and started again; the key
# with another request is refused (422); keys belong to who sent them;
# `kiln submit` sends one of its own.
. "$(dirname "$0")/lib.sh"
start_cluster
TOKEN=$(token)
# post KEY PATH BODY [TOKEN] -> body; status in $T/status, headers in $T/hdr
post() {
	curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer ${4:-$(token)}" -H "Idempotency-Key: $1" \
		-H 'Content-Type: application/json' --data-binary "$3" "$URL$2" > "$T/status"
	cat "$T/body"
}
replayed() { grep -ci '^Idempotent-Replayed: true' "$T/hdr"; }
njobs() { sqlite3 "$T/master/kiln.db" "select count(*) from jobs"; }
batch=$(python3 -c 'import json; print(json.dumps({"jobs":[{"plugin":"noop","params":{"i":i}} for i in range(5)]}))')

ids=$(post k-batch-1 /api/v1/jobs/batch "$batch")
eq "batch submitted" 201 "$(status)"
eq "first reply not a replay" 0 "$(replayed)"
n=$(njobs)
ids2=$(post k-batch-1 /api/v1/jobs/batch "$batch")
eq "same request, same key: 201" 201 "$(status)"
eq "same ids" "$ids" "$ids2"
eq "marked Idempotent-Replayed" 1 "$(replayed)"
eq "no job submitted again" "$n" "$(njobs)"

other=$(python3 -c 'import json; print(json.dumps({"jobs":[{"plugin":"noop","params":{"i":9}}]}))')
post k-batch-1 /api/v1/jobs/batch "$other" > /dev/null
eq "same key, another body: 422" 422 "$(status)"
ok "the 422 names the key" grep -q "Idempotency-Key 'k-batch-1'" "$T/body"
post k-batch-1 /api/v1/jobs '{"plugin":"noop"}' > /dev/null
eq "same key on the single route with the batch's key: 422" 422 "$(status)"
post 'bad key' /api/v1/jobs '{"plugin":"noop"}' > /dev/null
eq "a key with a space: 400" 400 "$(status)"
ok "the 400 names the header" grep -q "Idempotency-Key" "$T/body"
eq "nothing submitted by the refused ones" "$n" "$(njobs)"

one=$(post k-one /api/v1/jobs '{"plugin":"noop","params":{"x":1}}' | jq_ 'd["id"]')
eq "single job submitted" 201 "$(status)"
one2=$(post k-one /api/v1/jobs '{"params":{"x":1},  "plugin":"noop"}' | jq_ 'd["id"]')
eq "single job replayed (keys of the body in another order)" "$one" "$one2"
eq "single replay 201" 201 "$(status)"

tok2=$(k token create --json | jq_ 'd["token"]')
ids3=$(post k-batch-1 /api/v1/jobs/batch "$batch" "$tok2")
eq "another principal's key is its own: 201" 201 "$(status)"
ok "... with new ids" test "$ids3" != "$ids"
n=$(njobs)

kill -9 "$PID_master"
wait "$PID_master" 2>/dev/null
start_node master
wait_master
ids4=$(post k-batch-1 /api/v1/jobs/batch "$batch")
eq "after a kill -9 and restart: same ids" "$ids" "$ids4"
eq "... replayed" 1 "$(replayed)"
eq "... and nothing submitted" "$n" "$(njobs)"

wait_workers 2
k submit noop -p a=1 > /dev/null
eq "kiln submit sends an Idempotency-Key" 1 \
	"$(sqlite3 "$T/master/kiln.db" "select count(*) from idempotency where principal like 'signer:%'")"
finish
