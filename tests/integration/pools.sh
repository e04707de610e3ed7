#!/bin/sh
# SPDX-License-Identifier: MIT
# pools.sh - priorities from weights (Airflow's priority_weight and
# weight_rule) decide which ready task a full pool runs next, and a pool's
# occupancy is in the API, the CLI and /metrics.
. "$(dirname "$0")/lib.sh"
cluster_yaml
D=$T/dags
# Three tasks ready at once in pool 'single' (1 slot).  b comes first in
# the file, but a has three tasks waiting for it (downstream weight 4) and
# c is absolute 10.
cat > "$D/prio.yaml" <<YAML
id: prio
default:
  plugin: sleep
  params: { seconds: 0.6 }
  pool: single
tasks:
  - id: b
  - id: a
  - id: a2
    depends_on: [a]
  - id: a3
    depends_on: [a2]
  - id: c
    priority_weight: 10
    weight_rule: absolute
    params: { seconds: 3 }
  - id: up
    depends_on: [a3]
    weight_rule: upstream
YAML
cat > "$D/badrule.yaml" <<YAML
id: badrule
tasks:
  - id: t
    plugin: noop
    weight_rule: sideways
YAML
start_node master; wait_master; start_node w1; wait_workers 1

prio() { api GET /api/v1/dags/prio | jq_ "[(t['priority'], t['weight_rule']) for t in d['task_list'] if t['id']=='$1'][0]"; }
eq "a: its weight and its three downstream tasks'" "(4, 'downstream')" "$(prio a)"
eq "a3: its weight and up's" "(2, 'downstream')" "$(prio a3)"
eq "b: its own weight" "(1, 'downstream')" "$(prio b)"
eq "c: absolute" "(10, 'absolute')" "$(prio c)"
eq "up: its weight and its three upstream tasks'" "(4, 'upstream')" "$(prio up)"
k dag errors > "$T/errs" 2>&1
ok "a bad weight_rule names FILE:LINE:COLUMN ($(grep -o 'badrule.yaml:[0-9]*:[0-9]*' "$T/errs"))" \
	grep -q "badrule.yaml:5:18: unknown weight_rule 'sideways' (one of downstream, upstream, absolute)" "$T/errs"

rid=$(api POST /api/v1/dags/prio/trigger '{}' | jq_ 'd["run_id"]')
# While the first task holds the pool's one slot, two wait.
for _ in $(seq 1 100); do
	api GET /api/v1/pools > "$T/pools"
	[ "$(jq_ "[p['running'] for p in d['pools'] if p['name']=='single'][0]" < "$T/pools")" = 1 ] && break
	sleep 0.05
done
eq "GET /api/v1/pools: single has 1 slot, 1 running, 2 queued, none open" \
	"(1, 1, 2, 0)" "$(jq_ "[(p['slots'], p['running'], p['queued'], p['open']) for p in d['pools'] if p['name']=='single'][0]" < "$T/pools")"
# The CLI and /metrics a moment later (on a loaded machine c may have
# ended meanwhile, and a taken its place: one queued, not two).
k pools > "$T/cli"
ok "kiln pools prints it ($(grep single "$T/cli" | tr -s ' '))" \
	sh -c "grep -Eq '^single +1 +1 +[12] +0$' '$T/cli'"
curl -s "$URL/metrics" > "$T/metrics"
ok "/metrics: kiln_pool_running{pool=\"single\"} 1" grep -q '^kiln_pool_running{pool="single"} 1$' "$T/metrics"
ok "/metrics: kiln_pool_slots{pool=\"single\"} 1" grep -q '^kiln_pool_slots{pool="single"} 1$' "$T/metrics"
ok "/metrics: kiln_pool_queued{pool=\"single\"} 1 or 2" grep -Eq '^kiln_pool_queued{pool="single"} [12]$' "$T/metrics"

ok "the run succeeds" wait_run "$rid" success 30
# Of the three ready at the start: c, then a, then b (a2 may or may not
# overtake b: it becomes ready just as a's slot frees).
order=$(api GET "/api/v1/runs/$rid" | jq_ "' '.join(t['task'] for t in sorted(d['tasks'], key=lambda t: t['started_ms']) if t['task'] in ('a', 'b', 'c'))")
eq "the full pool ran the highest priority first" "c a b" "$order"
api GET /api/v1/pools > "$T/pools"
eq "and is empty after" "(0, 0, 1)" "$(jq_ "[(p['running'], p['queued'], p['open']) for p in d['pools'] if p['name']=='single'][0]" < "$T/pools")"
finish
