#!/bin/sh
# SPDX-License-Identifier: MIT
# retention.sh - master.retention: 3s deletes the jobs (attempts, logs)
# and DAG runs that finished more than 3 s ago, and the artifacts older
# than that no job left names; it keeps queued and running jobs, the runs
# in progress with their jobs, and the artifacts those name.
. "$(dirname "$0")/lib.sh"
cluster_yaml
sed -i 's/^  pools:/  retention: 3s\n  pools:/' "$T/cluster.yaml"
cat > "$T/dags/quick.yaml" <<YAML
id: quick
tasks:
  - id: a
    plugin: noop
YAML
cat > "$T/dags/hold.yaml" <<YAML
id: hold
tasks:
  - id: read
    plugin: readfile
    params: { path: "$KILN_SRCDIR/examples/data/iris.csv", name: iris.csv }
  - id: wait
    plugin: sleep
    params: { seconds: 8 }
    depends_on: [read]
YAML
start_node master; wait_master; start_node w1; start_node w2; wait_workers 2
db() { sqlite3 "$T/master/kiln.db" "$1"; }
art() { echo "$T/master/artifacts/$(echo "$1" | cut -c1-2)/$1"; }
kept=$(sha256sum "$KILN_SRCDIR/examples/data/iris.csv" | cut -d' ' -f1)
gone=$(sha256sum "$KILN_SRCDIR/examples/data/sunspots.csv" | cut -d' ' -f1)
for _ in $(seq 1 50); do api GET /api/v1/dags/hold > /dev/null; [ "$(status)" = 200 ] && break; sleep 0.1; done
hold=$(api POST /api/v1/dags/hold/trigger '{}' | jq_ 'd["run_id"]')
rf=$(api POST /api/v1/jobs "{\"plugin\":\"readfile\",\"params\":{\"path\":\"$KILN_SRCDIR/examples/data/sunspots.csv\",\"name\":\"s.csv\"}}" | jq_ 'd["id"]')
ok "a job makes an artifact" wait_state "$rf" succeeded
ok "which the master keeps" test -f "$(art "$gone")"

old1=$(api POST /api/v1/jobs '{"plugin":"noop"}' | jq_ 'd["id"]')
old2=$(api POST /api/v1/jobs '{"plugin":"sleep","params":{"seconds":0.05,"fail":true}}' | jq_ 'd["id"]')
for _ in $(seq 1 50); do api GET /api/v1/dags/quick > /dev/null; [ "$(status)" = 200 ] && break; sleep 0.1; done
rid=$(api POST /api/v1/dags/quick/trigger '{}' | jq_ 'd["run_id"]')
ok "a job succeeds" wait_state "$old1" succeeded
ok "a job fails" wait_state "$old2" failed
ok "their attempts are stored" test "$(db "select count(*) from attempts where job_id in ($old1, $old2)")" -ge 2
ok "the DAG run succeeds" wait_run "$rid" success
long=$(api POST /api/v1/jobs '{"plugin":"sleep","params":{"seconds":8}}' | jq_ 'd["id"]')
ok "a long job runs" wait_state "$long" running
big=$(api POST /api/v1/jobs '{"plugin":"noop","slots":3}' | jq_ 'd["id"]')
eq "a job no worker can take is queued" queued "$(api GET /api/v1/jobs/$big | jq_ 'd["state"]')"

for _ in $(seq 1 60); do
	[ "$(db "select count(*) from jobs where id in ($old1, $old2)")" = 0 ] && break
	sleep 0.1
done
eq "finished jobs past retention are deleted" 0 "$(db "select count(*) from jobs where id in ($old1, $old2)")"
api GET "/api/v1/jobs/$old1" > /dev/null
eq "and answer 404" 404 "$(status)"
eq "with their attempts and logs" 0 "$(db "select count(*) from attempts where job_id in ($old1, $old2)")"
for _ in $(seq 1 30); do [ "$(db "select count(*) from dag_runs where run_id='$rid'")" = 0 ] && break; sleep 0.1; done
eq "the finished DAG run is deleted" 0 "$(db "select count(*) from dag_runs where run_id='$rid'")"
eq "with its task instances" 0 "$(db "select count(*) from task_instances where task='a'")"
eq "the run in progress is kept" 1 "$(db "select count(*) from dag_runs where run_id='$hold'")"
eq "with its jobs, finished or not" 2 "$(db "select count(*) from jobs where task in ('read', 'wait')")"
eq "the running job is kept" running "$(api GET /api/v1/jobs/$long | jq_ 'd["state"]')"
eq "the queued job is kept" queued "$(api GET /api/v1/jobs/$big | jq_ 'd["state"]')"
for _ in $(seq 1 30); do [ -f "$(art "$gone")" ] || break; sleep 0.1; done
ok "the artifact no kept job names is deleted" test ! -f "$(art "$gone")"
eq "with its row" 0 "$(db "select count(*) from artifacts where sha='$gone'")"
ok "the artifact a running DAG run's jobs name is kept" test -f "$(art "$kept")"
eq "with its row" 1 "$(db "select count(*) from artifacts where sha='$kept'")"
ok "the run holding it succeeds" wait_run "$hold" success 20
ok "the running job still succeeds" wait_state "$long" succeeded 15
new=$(api POST /api/v1/jobs '{"plugin":"noop"}' | jq_ 'd["id"]')
ok "new jobs run" wait_state "$new" succeeded
ok "the master logged it" grep -q "retention: deleted" "$T/master.log"
finish
