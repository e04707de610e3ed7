#!/bin/sh
# SPDX-License-Identifier: MIT
# backup.sh - `kiln backup` while jobs run, `kiln restore` into a new data
# directory: the master started there resumes the queue it had, and has
# the artifacts; restore is refused while a master runs.
. "$(dirname "$0")/lib.sh"
cluster_yaml
start_node master; wait_master; start_node w1; wait_workers 1
db() { sqlite3 "$1/kiln.db" "$2"; }

sha=$(sha256sum "$KILN_SRCDIR/examples/data/iris.csv" | cut -d' ' -f1)
id=$(api POST /api/v1/jobs "{\"plugin\":\"readfile\",\"params\":{\"path\":\"$KILN_SRCDIR/examples/data/iris.csv\",\"name\":\"iris.csv\"}}" | jq_ 'd["id"]')
ok "a job makes an artifact" wait_state "$id" succeeded
body=$(python3 -c 'import json; print(json.dumps({"jobs":[{"plugin":"sleep","params":{"seconds":0.2}} for _ in range(40)]}))')
api POST /api/v1/jobs/batch "$body" > /dev/null
eq "40 jobs queued" 201 "$(status)"
sleep 0.5
k backup "$T/b.tar" > "$T/backup.out" 2>&1
eq "kiln backup succeeds while jobs run" 0 $?
cat "$T/backup.out"
ok "it reports one artifact" grep -q "and 1 artifacts" "$T/backup.out"
ok "tar lists the store and the artifact" sh -c "tar tf '$T/b.tar' | tr '\n' ' ' | grep -q 'kiln.db artifacts/$(echo "$sha" | cut -c1-2)/$sha'"
k restore "$T/b.tar" > "$T/refused.out" 2>&1
eq "restore is refused while the master runs" 1 $?
ok "saying why" grep -q "a master is running on $T/master" "$T/refused.out"
printf 'not a tar' > "$T/junk"
sed -i "s#data_dir: $T/master\$#data_dir: $T/master2#" "$T/cluster.yaml"
k restore "$T/junk" > "$T/junk.out" 2>&1
eq "a file that is not a backup is refused" 1 $?
ok "saying so" grep -q "junk: truncated" "$T/junk.out"

# The whole cluster is lost; the backup comes back in a new data dir.
kill -9 "$PID_master" "$PID_w1"; wait "$PID_master" "$PID_w1" 2>/dev/null
k restore "$T/b.tar" > "$T/restore.out" 2>&1
eq "kiln restore succeeds" 0 $?
left=$(db "$T/master2" "select count(*) from jobs where state in (0, 1)")
ok "the backup has jobs queued or running ($left)" test "$left" -gt 0
eq "the artifact is back, whole" "$sha" "$(sha256sum "$T/master2/artifacts/$(echo "$sha" | cut -c1-2)/$sha" | cut -d' ' -f1)"
start_node master; wait_master; start_node w1; wait_workers 1
for _ in $(seq 1 200); do
	n=$(db "$T/master2" "select count(*) from jobs where state = 2")
	[ "$n" = 41 ] && break; sleep 0.1
done
eq "the restored master runs the queue it had" 41 "$n"
eq "none twice" 0 "$(db "$T/master2" "select count(*) from (select job_id from attempts where state=2 group by job_id having count(*)>1)")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(token)" "$URL/api/v1/artifacts/$sha")
eq "and serves the artifact" 200 "$code"
finish
