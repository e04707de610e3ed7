#!/bin/sh
# SPDX-License-Identifier: MIT
# dags.sh - pipelines on a real master and two workers: trigger rules,
# retries with a delay, templating with upstream results, pools, catch-up,
# backfill, pause, task clear, live reload and import errors.
. "$(dirname "$0")/lib.sh"
cluster_yaml
D=$T/dags
today=$(date -u +%Y-%m-%d)
d3=$(date -u -d '3 days ago' +%Y-%m-%d)
cp "$KILN_SRCDIR/conf/dags/example_chain.yaml" "$D/"

cat > "$D/rules.yaml" <<YAML
id: rules
tasks:
  - id: ok
    plugin: noop
  - id: bad
    plugin: sleep
    params: { seconds: 0.05, fail: true }
    retries: 1
    retry_delay: 1s
  - id: after_all
    plugin: noop
    depends_on: [ok, bad]
  - id: done_anyway
    plugin: noop
    depends_on: [ok, bad]
    trigger_rule: all_done
  - id: on_failure
    plugin: noop
    depends_on: [ok, bad]
    trigger_rule: one_failed
  - id: one_ok
    plugin: noop
    depends_on: [ok, bad]
    trigger_rule: one_success
  - id: all_failed
    plugin: noop
    depends_on: [bad]
    trigger_rule: all_failed
  - id: none_failed
    plugin: noop
    depends_on: [ok]
    trigger_rule: none_failed
  - id: downstream_of_skip
    plugin: noop
    depends_on: [none_failed, after_all]
    trigger_rule: none_failed_min_one_success
YAML

cat > "$D/data.yaml" <<YAML
id: data
params:
  file: $KILN_SRCDIR/examples/data/iris.csv
tasks:
  - id: stats
    plugin: csvstats
    params: { file: "{{ params.file }}" }
  - id: use
    plugin: noop
    depends_on: [stats]
    params:
      rows: "{{ tasks.stats.result.rows }}"
      day: "{{ ds }}"
      label: "{{ dag.id }}/{{ task.id }} on {{ ds_nodash }}"
YAML

cat > "$D/pooled.yaml" <<YAML
id: pooled
default:
  plugin: sleep
  pool: single
  params: { seconds: 0.3 }
tasks:
  - { id: a }
  - { id: b }
  - { id: c }
YAML

cat > "$D/daily.yaml" <<YAML
id: daily
schedule: "@daily"
start_date: $d3
catchup: true
tasks:
  - { id: t, plugin: noop }
YAML

cat > "$D/daily_nocatchup.yaml" <<YAML
id: daily_nocatchup
schedule: "@daily"
start_date: $d3
catchup: false
tasks:
  - { id: t, plugin: noop }
YAML

cat > "$D/cycle.yaml" <<YAML
id: cycle
tasks:
  - id: a
    plugin: noop
    depends_on: [b]
  - id: b
    plugin: noop
    depends_on: [a]
YAML

start_node master; wait_master; start_node w1; start_node w2; wait_workers 2

for _ in $(seq 1 50); do
	n=$(api GET /api/v1/dags | jq_ 'len(d["dags"])'); [ "$n" = 6 ] && break; sleep 0.1
done
eq "six good DAGs loaded" 6 "$n"
api GET /api/v1/dags/errors > "$T/errs"
ok "the cycle is an import error with FILE:LINE:COLUMN" grep -q 'cycle.yaml:[0-9]*:[0-9]*: cycle: ' "$T/errs"

# Trigger rules, retries with delay.
rid=$(api POST /api/v1/dags/rules/trigger '{}' | jq_ 'd["run_id"]')
eq "trigger answers 201" 201 "$(status)"
ok "the rules run fails (a leaf failed)" wait_run "$rid" failed 30
eq "ok succeeded" success "$(ti "$rid" ok state)"
eq "bad failed" failed "$(ti "$rid" bad state)"
eq "bad was tried twice" 2 "$(ti "$rid" bad attempt)"
eq "all_success after a failure: upstream_failed" upstream_failed "$(ti "$rid" after_all state)"
eq "all_done runs anyway" success "$(ti "$rid" done_anyway state)"
eq "one_failed runs" success "$(ti "$rid" on_failure state)"
eq "one_success runs" success "$(ti "$rid" one_ok state)"
eq "all_failed runs" success "$(ti "$rid" all_failed state)"
eq "none_failed runs" success "$(ti "$rid" none_failed state)"
eq "none_failed_min_one_success with a failed upstream" upstream_failed "$(ti "$rid" downstream_of_skip state)"
j=$(ti "$rid" bad job_id)
gap=$(sqlite3 "$T/master/kiln.db" "select b.started_ms - a.finished_ms from attempts a join attempts b on a.job_id=b.job_id and b.attempt=2 where a.job_id=$j and a.attempt=1")
ok "the retry waited its 1 s delay (${gap} ms)" test "$gap" -ge 950
ok "each attempt keeps its own log" test "$(sqlite3 "$T/master/kiln.db" "select count(*) from attempts where job_id=$j and log like '%sleep%'")" = 2

# Templating and data between tasks.
rid=$(api POST /api/v1/dags/data/trigger '{}' | jq_ 'd["run_id"]')
ok "the data run succeeds" wait_run "$rid" success
uj=$(ti "$rid" use job_id)
params=$(api GET "/api/v1/jobs/$uj" | jq_ 'json.dumps(d["params"], sort_keys=True)')
eq "upstream result and context rendered" "{\"day\": \"$today\", \"label\": \"data/use on $(date -u +%Y%m%d)\", \"rows\": 150}" "$params"
api POST /api/v1/dags/data/trigger '{"conf": {"nope": 1}}' >/dev/null
eq "an unknown param is refused" 400 "$(status)"

# Pools never over-subscribed.
rid=$(api POST /api/v1/dags/pooled/trigger '{}' | jq_ 'd["run_id"]')
ok "the pooled run succeeds" wait_run "$rid" success
overlap=$(sqlite3 "$T/master/kiln.db" "select count(*) from attempts a join jobs ja on ja.id=a.job_id, attempts b join jobs jb on jb.id=b.job_id where ja.pool='single' and jb.pool='single' and a.job_id<b.job_id and a.started_ms < b.finished_ms and b.started_ms < a.finished_ms")
eq "pool 'single' never ran two at once" 0 "$overlap"

# Catch-up: exactly the three missed days; without it, only the latest.
for _ in $(seq 1 50); do
	n=$(api GET "/api/v1/dags/daily/runs" | jq_ 'len(d["runs"])'); [ "$n" = 3 ] && break; sleep 0.1
done
eq "catchup created 3 runs" 3 "$n"
eq "for the right days" "$d3 $(date -u -d '2 days ago' +%Y-%m-%d) $(date -u -d '1 day ago' +%Y-%m-%d)" \
	"$(api GET /api/v1/dags/daily/runs | jq_ '" ".join(sorted(r["logical_date"][:10] for r in d["runs"]))')"
eq "no catchup: one run" 1 "$(api GET /api/v1/dags/daily_nocatchup/runs | jq_ 'len(d["runs"])')"
eq "for yesterday" "$(date -u -d '1 day ago' +%Y-%m-%d)" "$(api GET /api/v1/dags/daily_nocatchup/runs | jq_ 'd["runs"][0]["logical_date"][:10]')"

# Backfill skips intervals that have runs; pause is kept.
api POST /api/v1/dags/daily_nocatchup/backfill "{\"from\": \"$d3\", \"to\": \"$(date -u -d '1 day ago' +%Y-%m-%d)\"}" > "$T/bf"
eq "backfill created the 2 missing runs" 2 "$(jq_ 'd["created"]' < "$T/bf")"
api POST /api/v1/dags/daily/pause '{}' >/dev/null
eq "pause" true "$(api GET /api/v1/dags/daily | jq_ 'str(d["paused"]).lower()')"

# Task clear re-runs a task and what depends on it.
rid=$(api POST /api/v1/dags/example_chain/trigger '{}' | jq_ 'd["run_id"]')
ok "chain succeeds" wait_run "$rid" success
api POST "/api/v1/runs/$rid/tasks/transform/clear" '{"downstream": true}' > "$T/cl"
eq "clear --downstream clears 3" 3 "$(jq_ 'd["cleared"]' < "$T/cl")"
ok "the cleared run succeeds again" wait_run "$rid" success
eq "transform ran twice" 2 "$(ti "$rid" transform tries)"
eq "extract ran once" 1 "$(ti "$rid" extract tries)"
api GET "/api/v1/runs/$rid/tasks/transform/log" > "$T/tlog"
ok "task log" grep -q -i sleep "$T/tlog"

# Mark failed, mark success (Airflow's); a dry run changes nothing.  As
# in Airflow, a run's state is that of its leaves: mark the leaf.
api POST "/api/v1/runs/$rid/tasks/cleanup/mark" '{"state": "failed", "dry_run": true}' > "$T/mk"
eq "a dry run lists what would change" cleanup "$(jq_ '" ".join(d["tasks"])' < "$T/mk")"
eq "and changes nothing" success "$(ti "$rid" cleanup state)"
api POST "/api/v1/runs/$rid/tasks/cleanup/mark" '{"state": "failed"}' >/dev/null
eq "mark failed answers 200" 200 "$(status)"
ok "marking its leaf failed fails the run" wait_run "$rid" failed
api POST "/api/v1/runs/$rid/tasks/cleanup/mark" '{"state": "done"}' >/dev/null
eq "a bad state is refused" 400 "$(status)"
api POST "/api/v1/runs/$rid/tasks/cleanup/mark" '{"state": "success"}' >/dev/null
ok "marked success again, the run succeeds" wait_run "$rid" success

grid=$(api GET /api/v1/dags/example_chain/grid)
eq "the grid lists the chain's tasks in order" "extract transform load cleanup" "$(echo "$grid" | jq_ '" ".join(d["tasks"])')"
eq "and its runs' task states" success "$(echo "$grid" | jq_ 'd["runs"][-1]["tis"]["load"]["state"]')"
# The dashboard's compact grid, and the runs changed since its cursor.
grid=$(api GET "/api/v1/dags/example_chain/grid?compact=1")
eq "the compact grid: one state per task" "4 success" "$(echo "$grid" | jq_ '"%d %s" % (len(d["runs"][-1]["states"]), d["codes"][int(d["runs"][-1]["states"][2])])')"
cur=$(echo "$grid" | jq_ 'd["cursor"]')
eq "no run changed since its cursor" 0 "$(api GET "/api/v1/dags/example_chain/grid?compact=1&since=$cur" | jq_ 'len(d["runs"])')"
eq "one run changed since the cursor before it" 1 "$(api GET "/api/v1/dags/example_chain/grid?since=$((cur - 1))" | jq_ 'len(d["runs"])')"
api GET "/api/v1/dags/example_chain/grid?since=abc" > "$T/bad"
eq "a cursor that is no number is 400" 400 "$(status)"
ok "naming the field" grep -q '"since: must be a cursor' "$T/bad"

# JSON answers over 1 KiB are gzipped for a client that accepts it, and a
# GET answer's ETag gets 304 without a body when nothing changed.
get_() { rm -f "$T/b"; curl -s -D "$T/h" -o "$T/b" -w '%{http_code}' -H "Authorization: Bearer $(token)" "$@"; }
eq "a large answer" 200 "$(get_ -H 'Accept-Encoding: gzip' "$URL/api/v1/jobs?limit=100")"
ok "is gzipped" grep -qi '^content-encoding: gzip' "$T/h"
gzip -dc < "$T/b" > "$T/unzipped"
get_ "$URL/api/v1/jobs?limit=100" >/dev/null
ok "not without Accept-Encoding" sh -c "! grep -qi '^content-encoding' '$T/h'"
ok "and unzips to the same JSON" cmp "$T/b" "$T/unzipped"
get_ "$URL/api/v1/dags/example_chain" >/dev/null
etag=$(sed -n 's/^etag: *//Ip' "$T/h" | tr -d '\r')
ok "the DAG document has an ETag" test -n "$etag"
eq "If-None-Match: 304" 304 "$(get_ -H "If-None-Match: $etag" "$URL/api/v1/dags/example_chain")"
ok "without a body" test ! -s "$T/b"
eq "another ETag: 200" 200 "$(get_ -H 'If-None-Match: W/"0"' "$URL/api/v1/dags/example_chain")"

# The same through the command line.
ok "kiln dags lists the DAGs" sh -c "'$KILN' -c '$T/cluster.yaml' dags | grep -q example_chain"
ok "kiln dag show lists dependencies" sh -c "'$KILN' -c '$T/cluster.yaml' dag show example_chain | grep transform | grep -q extract"
ok "kiln dag trigger --wait exits 0 on success" sh -c "'$KILN' -c '$T/cluster.yaml' dag trigger example_chain --wait >/dev/null"
"$KILN" -c "$T/cluster.yaml" dag trigger rules --wait >/dev/null 2>&1
eq "kiln dag trigger --wait exits 1 on failure" 1 $?
ok "kiln dag errors shows FILE:LINE:COLUMN" sh -c "'$KILN' -c '$T/cluster.yaml' dag errors | grep -q 'cycle.yaml:[0-9]*:[0-9]*:'"
ok "kiln runs" sh -c "'$KILN' -c '$T/cluster.yaml' runs example_chain | grep -q success"
ok "kiln run show" sh -c "'$KILN' -c '$T/cluster.yaml' run show '$rid' | grep -q transform"
ok "kiln task clear --downstream" sh -c "'$KILN' -c '$T/cluster.yaml' task clear '$rid' load --downstream | grep -q 'cleared 2'"
ok "the cleared tasks run again" wait_run "$rid" success
kk() { "$KILN" -c "$T/cluster.yaml" "$@"; }
eq "kiln task clear --upstream --dry-run lists the task and its ancestors" \
	"would clear: extract transform load" "$(kk task clear "$rid" load --upstream --dry-run)"
eq "and clears none" success "$(ti "$rid" extract state)"
eq "kiln task mark failed --upstream marks its ancestors too" \
	"marked failed: extract transform" "$(kk task mark "$rid" transform failed --upstream)"
eq "extract is failed" failed "$(ti "$rid" extract state)"
eq "load is untouched" success "$(ti "$rid" load state)"
eq "kiln task mark success --upstream" "marked success: extract transform" \
	"$(kk task mark "$rid" transform success --upstream)"
eq "extract is success again" success "$(ti "$rid" extract state)"
kk task mark "$rid" transform done > /dev/null 2> "$T/err"
eq "a bad state exits 2" 2 $?
ok "saying which are valid" grep -q "success or failed" "$T/err"
api POST "/api/v1/runs/$rid/tasks/cleanup/clear" '{"upstream": true, "dry_run": true}' > "$T/cu"
eq "the API's clear takes upstream" "extract transform load cleanup" "$(jq_ '" ".join(d["tasks"])' < "$T/cu")"
ok "kiln task logs" sh -c "'$KILN' -c '$T/cluster.yaml' task logs '$rid' transform | grep -q -i sleep"

# 1,000 runs in the store: listing and the grid stay fast (server paging).
api POST /api/v1/dags/daily/backfill '{"from": "2020-01-01", "to": "2022-09-26"}' > "$T/bf2"
eq "backfill of 1,000 days" 1000 "$(jq_ 'd["created"]' < "$T/bf2")"
for _ in $(seq 1 600); do
	n=$(sqlite3 "$T/master/kiln.db" "select count(*) from dag_runs where dag_id='daily' and state=2")
	[ "$n" -ge 1003 ] && break; sleep 0.1
done
eq "all of them ran" 1003 "$n"
t=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $(token)" "$URL/api/v1/dags/daily/runs?limit=25")
ok "the newest 25 runs of 1,003 answer in ${t}s" python3 -c "import sys; sys.exit(0 if $t < 0.5 else 1)"
t=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $(token)" "$URL/api/v1/dags/daily/grid")
ok "the grid answers in ${t}s" python3 -c "import sys; sys.exit(0 if $t < 0.5 else 1)"

# Live reload: a new file appears, a deleted one goes, a broken one is reported.
cat > "$D/late.yaml" <<YAML
id: late
tasks: [ { id: x, plugin: noop } ]
YAML
rm "$D/pooled.yaml"
printf 'id: broken\ntasks:\n  - id: x\n    plugin: nosuch\n' > "$D/broken.yaml"
sleep 3
ok "a new DAG file is picked up" sh -c "curl -s -H 'Authorization: Bearer $(token)' '$URL/api/v1/dags/late' | grep -q '\"id\"'"
eq "a deleted DAG file is dropped" 404 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(token)" "$URL/api/v1/dags/pooled")"
ok "an unknown plugin is an import error" grep -q 'broken.yaml:4:13: .*nosuch' "$(api GET /api/v1/dags/errors > "$T/e2"; echo "$T/e2")"
finish
