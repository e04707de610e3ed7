#!/bin/sh
# SPDX-License-Identifier: MIT
# dag-restart.sh - kill -9 the master in the middle of a DAG run and start
# it again: the run carries on without losing or repeating a completed
# task, and no interval gets a second run.
. "$(dirname "$0")/lib.sh"
cluster_yaml 3s
d3=$(date -u -d '3 days ago' +%Y-%m-%d)
cat > "$T/dags/chain.yaml" <<YAML
id: chain
default: { plugin: sleep, params: { seconds: 0.4 } }
tasks:
  - { id: s1 }
  - { id: s2, depends_on: [s1] }
  - { id: s3, depends_on: [s2] }
  - { id: s4, depends_on: [s3] }
YAML
cat > "$T/dags/daily.yaml" <<YAML
id: daily
schedule: "@daily"
start_date: $d3
catchup: true
tasks: [ { id: t, plugin: noop } ]
YAML
start_node master; wait_master; start_node w1; start_node w2; wait_workers 2
sleep 2.5
rid=$(api POST /api/v1/dags/chain/trigger '{}' | jq_ 'd["run_id"]')
for _ in $(seq 1 100); do
	s=$(sqlite3 "$T/master/kiln.db" "select t.state from task_instances t join dag_runs r on r.id=t.run where r.run_id='$rid' and task='s2'")
	[ "$s" = 3 ] && break; sleep 0.05
done
eq "s2 is running at the kill" 3 "$s"
kill -9 "$PID_master"
sleep 0.3
start_node master; wait_master
for _ in $(seq 1 200); do
	s=$(sqlite3 "$T/master/kiln.db" "select state from dag_runs where run_id='$rid'")
	[ "$s" = 2 ] && break; sleep 0.1
done
eq "the run succeeds after the restart" 2 "$s"
eq "every task succeeded" 4 "$(sqlite3 "$T/master/kiln.db" "select count(*) from task_instances t join dag_runs r on r.id=t.run where r.run_id='$rid' and t.state=4")"
eq "no task was submitted twice" 4 "$(sqlite3 "$T/master/kiln.db" "select count(*) from jobs where task like 's_'")"
eq "s1 ran once" 1 "$(sqlite3 "$T/master/kiln.db" "select count(*) from attempts a join jobs j on j.id=a.job_id where j.task='s1'")"
eq "no job succeeded twice" 0 "$(sqlite3 "$T/master/kiln.db" "select count(*) from (select job_id from attempts where state=2 group by job_id having count(*)>1)")"
eq "the daily DAG still has one run per interval" 3 "$(sqlite3 "$T/master/kiln.db" "select count(*) from dag_runs where dag_id='daily'")"
finish
