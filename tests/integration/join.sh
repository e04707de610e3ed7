#!/bin/sh
# SPDX-License-Identifier: MIT
# join.sh - scaling out: a worker not listed in cluster.yaml joins a running
# master with the cluster secret and takes work (one without --node under
# its host name); one with a wrong secret is refused and runs nothing.
. "$(dirname "$0")/lib.sh"
start_cluster
"$KILN" start -c "$T/cluster.yaml" --node extra --join --slots 3 --memory 512MiB >> "$T/extra.log" 2>&1 &
PIDS="$PIDS $!"
wait_workers 3
w=$(api GET /api/v1/workers)
eq "the extra worker is alive" alive "$(echo "$w" | jq_ '[x["state"] for x in d["workers"] if x["name"]=="extra"][0]')"
eq "with its slots" 3 "$(echo "$w" | jq_ '[x["slots"] for x in d["workers"] if x["name"]=="extra"][0]')"
eq "and marked as not listed" False "$(echo "$w" | jq_ '[x["listed"] for x in d["workers"] if x["name"]=="extra"][0]')"
body=$(python3 -c 'import json; print(json.dumps({"jobs":[{"plugin":"sleep","params":{"seconds":0.2}} for _ in range(30)]}))')
api POST /api/v1/jobs/batch "$body" > "$T/ids"
last=$(jq_ 'd["ids"][-1]' < "$T/ids")
ok "the jobs finish" wait_state "$last" succeeded 30
for _ in $(seq 1 50); do
	n=$(sqlite3 "$T/master/kiln.db" "select count(*) from jobs where state=2 and plugin='sleep'"); [ "$n" = 30 ] && break; sleep 0.1
done
ok "the extra worker ran some of them" test "$(sqlite3 "$T/master/kiln.db" "select count(*) from attempts where worker='extra'")" -gt 0

# Without --node, a joining worker is named after its host, as each
# replica of a container image is (compose.yaml, deploy/kubernetes).
"$KILN" start -c "$T/cluster.yaml" --join >> "$T/hostnamed.log" 2>&1 &
PIDS="$PIDS $!"
wait_workers 4
eq "a worker joining without --node is named after its host" alive \
	"$(api GET /api/v1/workers | jq_ "[x['state'] for x in d['workers'] if x['name']=='$(uname -n)'][0]")"

# A worker with the wrong secret.
sed "s|secret_file: $T/secret|secret_file: $T/badsecret|" "$T/cluster.yaml" > "$T/bad.yaml"
printf '%s\n' 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef > "$T/badsecret"
chmod 600 "$T/badsecret"
"$KILN" start -c "$T/bad.yaml" --node intruder --join >> "$T/intruder.log" 2>&1 &
PIDS="$PIDS $!"
sleep 2
ok "the master refuses its signature" grep -q "refused signature" "$T/master.log"
eq "and does not list it" 0 "$(api GET /api/v1/workers | jq_ 'len([x for x in d["workers"] if x["name"]=="intruder"])')"
"$KILN" start -c "$T/cluster.yaml" --node nobody >/dev/null 2>"$T/err"
eq "an unlisted node without --join is an error" 1 $?
ok "that says so" grep -q -- "--join" "$T/err"
finish
