#!/bin/sh
# SPDX-License-Identifier: MIT
# timeout.sh - a task over its timeout is cancelled through the plugin's
# cancelled() flag; one whose plugin ignores that is abandoned after a grace
# period, counts as a failed attempt, and its slot is reclaimed.
. "$(dirname "$0")/lib.sh"
cluster_yaml
sed -i 's/    slots: 2/    slots: 1/' "$T/cluster.yaml"
cat > "$T/dags/slow.yaml" <<YAML
id: slow
tasks:
  - id: nap
    plugin: sleep
    params: { seconds: 30 }
    timeout: 1s
YAML
start_node master; wait_master; start_node w1; start_node w2; wait_workers 2
sleep 2.5
rid=$(api POST /api/v1/dags/slow/trigger '{}' | jq_ 'd["run_id"]')
for _ in $(seq 1 100); do
	s=$(api GET "/api/v1/runs/$rid" | jq_ 'd["state"]'); [ "$s" = failed ] && break; sleep 0.1
done
eq "a DAG task over its timeout fails the run" failed "$s"
err=$(api GET "/api/v1/runs/$rid" | jq_ 'd["tasks"][0]["error"]')
ok "with a timeout error ($err)" sh -c "echo '$err' | grep -q 'timed out'"

# Both single-slot workers get a task that ignores cancellation.
a=$(k submit hang -p seconds=12 --timeout 1s --retries 0)
b=$(k submit hang -p seconds=12 --timeout 1s --retries 0)
ok "hang 1 is abandoned and fails" wait_state "$a" failed 15
ok "hang 2 is abandoned and fails" wait_state "$b" failed 15
ok "with the reason" sh -c "'$KILN' -c '$T/cluster.yaml' job $a | grep -q 'killed: timeout 1 s exceeded'"
t0=$(date +%s)
c=$(k submit noop)
ok "a new task runs although both old threads are stuck" wait_state "$c" succeeded 5
eq "and did not wait for them" 1 "$([ $(( $(date +%s) - t0 )) -le 4 ] && echo 1 || echo 0)"
finish
