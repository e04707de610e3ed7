#!/bin/sh
# SPDX-License-Identifier: MIT
# mapping.sh - dynamic task mapping (`expand:` in DAGs) on a real master
# and two workers: 100 command instances bound to a run conf list and
# reduced in map index order, a mapping over an upstream task's result
# (csvstats' columns), an empty list (skipped), a list over
# master.max_map_length (a failure naming the cap), map indexes in the
# API and the CLI, a mapped task cleared, a master killed while a mapped
# task runs, and `expand:` errors with FILE:LINE:COLUMN.
. "$(dirname "$0")/lib.sh"
cluster_yaml
sed -i 's/^  - name: \(w[12]\)$/  - name: \1\n    exec: true/' "$T/cluster.yaml"
sed -i 's/^  dags_dir:/  max_map_length: 150\n  dags_dir:/' "$T/cluster.yaml"
# Cheap commands: more of them at once than the default 2 slots a worker.
sed -i "s/^    slots: 2$/    slots: 8/" "$T/cluster.yaml"
D=$T/dags

# The reducer checks what it got: the results of every instance as one
# array, and each instance's output file, in map index order.
cat > "$T/reduce.py" <<'PY'
import json, os, sys
p = json.load(open(os.environ["KILN_PARAMS_FILE"]))
items, results = p["items"], p["results"]
got = [int(open("inputs/square/%d/sq.txt" % k).read()) for k in range(len(items))]
want = [n * n for n in items]
okr = len(results) == len(items) and all(r["exit_status"] == 0 for r in results)
print("results", len(results), "order", "ok" if got == want else "bad %s" % got[:8])
sys.exit(0 if got == want and okr else 1)
PY
cat > "$D/mapped.yaml" <<YAML
id: mapped
params:
  items: []
tasks:
  - id: square
    expand: { n: "{{ params.items }}" }
    retries: 0
    # Later items finish first: the order must come from the map index.
    command: sleep 0.0\$(( {{ params.n }} % 7 )); echo \$(( {{ params.n }} * {{ params.n }} )) > \$KILN_OUTPUTS/sq.txt; test "{{ map_index }}" -ge 0
  - id: reduce
    depends_on: [square]
    params:
      items: "{{ params.items }}"
      results: "{{ tasks.square.result }}"
    command: [python3, "$T/reduce.py"]
YAML

printf 'a,b,c\n1,2,3\n4,5,6\n' > "$T/abc.csv"
cat > "$D/columns.yaml" <<YAML
id: columns
tasks:
  - id: stats
    plugin: csvstats
    params: { file: "$T/abc.csv" }
  - id: per_col
    depends_on: [stats]
    expand: { col: "{{ tasks.stats.result.columns }}" }
    command: python3 -c 'import json,os; print(json.load(open(os.environ["KILN_PARAMS_FILE"]))["col"]["name"])'
  - id: count
    depends_on: [per_col]
    plugin: noop
    params: { n: "{{ tasks.per_col.result }}" }
YAML

# Errors in expand, reported with FILE:LINE:COLUMN at the end.
cat > "$D/bad1.yaml" <<'YAML'
id: bad1
tasks:
  - id: a
    plugin: noop
    expand: [1, 2]
YAML
cat > "$D/bad2.yaml" <<'YAML'
id: bad2
tasks:
  - id: a
    plugin: noop
  - id: b
    plugin: noop
    expand: { n: "{{ tasks.c.result }}" }
  - id: c
    plugin: noop
YAML
cat > "$D/bad3.yaml" <<'YAML'
id: bad3
tasks:
  - id: a
    plugin: noop
    expand: { n: "x{{ ds }}" }
YAML
cat > "$D/slow.yaml" <<'YAML'
id: slow
tasks:
  - id: nap
    expand: { n: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23] }
    command: sleep 0.{{ params.n }}
  - id: after
    depends_on: [nap]
    plugin: noop
YAML
cp "$KILN_SRCDIR/conf/dags/example_mapping.yaml" "$D/"
start_node master; wait_master; start_node w1; start_node w2; wait_workers 2
TOKEN=$(token)
for _ in $(seq 1 50); do
	api GET /api/v1/dags | grep -q '"columns"' && break; sleep 0.1
done

# 100 instances, items in a shuffled order, reduced in map index order.
items=$(python3 -c 'import random; r=random.Random(7); l=list(range(100)); r.shuffle(l); print(l)')
t0=$(date +%s.%N)
rid=$(api POST /api/v1/dags/mapped/trigger "{\"conf\":{\"items\":$items}}" | jq_ 'd["run_id"]')
eq "a run over 100 items is triggered" 201 "$(status)"
ok "it succeeds" wait_run "$rid" success 60
t1=$(date +%s.%N)
echo "# 100 mapped instances and the reducer: $(python3 -c "print('%.1f' % ($t1 - $t0))") s"
api GET "/api/v1/runs/$rid" > "$T/run.json"
eq "square has 100 instances, map indexes 0..99 in order" "$(seq -s, 0 99)" \
	"$(jq_ '",".join(str(t["map_index"]) for t in d["tasks"] if t["task"]=="square" and t["map_index"]>=0)' < "$T/run.json")"
eq "each instance has a job of its own and succeeded" "100 100" \
	"$(jq_ '"%d %d" % (len(set(t["job_id"] for t in d["tasks"] if t["task"]=="square" and t["map_index"]>=0)), sum(t["state"]=="success" for t in d["tasks"] if t["task"]=="square" and t["map_index"]>=0))' < "$T/run.json")"
eq "the mapped task itself (map_index -1) succeeded" "success" \
	"$(jq_ '[t["state"] for t in d["tasks"] if t["task"]=="square" and t["map_index"]==-1][0]' < "$T/run.json")"
j=$(jq_ '[t["job_id"] for t in d["tasks"] if t["task"]=="square" and t["map_index"]==5][0]' < "$T/run.json")
eq "instance 5 got element 5 of the list as its param" "$(python3 -c "print($items[5])")" \
	"$(api GET "/api/v1/jobs/$j" | jq_ 'd["params"]["n"]')"
rj=$(jq_ '[t["job_id"] for t in d["tasks"] if t["task"]=="reduce"][0]' < "$T/run.json")
eq "the reducer's inputs are the instances' outputs in map index order" \
	"$(python3 -c 'print(",".join("square/%d/sq.txt" % k for k in range(100)))')" \
	"$(api GET "/api/v1/jobs/$rj" | jq_ '",".join(i["name"] for i in d["inputs"])')"
ok "the reducer found 100 results and the squares in order" sh -c \
	"curl -s -H 'Authorization: Bearer $TOKEN' '$URL/api/v1/jobs/$rj/log' | grep -q 'stdout: results 100 order ok'"
ok "kiln dag show says square is mapped over n" sh -c \
	"'$KILN' -c '$T/cluster.yaml' dag show mapped | grep -q '^ *square .*mapped over n'"
ok "kiln run show lists the instances as square[N]" sh -c \
	"'$KILN' -c '$T/cluster.yaml' run show '$rid' | grep -q '^ *square\[99\] *success'"
api GET "/api/v1/dags/mapped/grid" > "$T/grid.json"
eq "the grid's cell of square sums up its 100 instances" "100 100 100" \
	"$(jq_ '"%d %d %d" % (d["runs"][-1]["tis"]["square"]["map"]["count"], d["runs"][-1]["tis"]["square"]["map"]["states"]["success"], len(d["runs"][-1]["tis"]["square"]["map"]["instances"]))' < "$T/grid.json")"

# Clearing the mapped task runs it again, expanded anew.
api POST "/api/v1/runs/$rid/tasks/square/clear" '{"downstream": true}' > "$T/cl"
eq "clearing square clears it and the reducer" 2 "$(jq_ 'd["cleared"]' < "$T/cl")"
ok "a cleared mapped task runs again and the run succeeds" wait_run "$rid" success 60
eq "with 100 new instances (new jobs)" "100 0" \
	"$(api GET "/api/v1/runs/$rid" | jq_ '"%d %d" % (sum(1 for t in d["tasks"] if t["task"]=="square" and t["map_index"]>=0), sum(1 for t in d["tasks"] if t["task"]=="square" and t["map_index"]==5 and t["job_id"]=='"$j"'))')"

# An empty list: no instance, the task skipped (Airflow's rule).
rid=$(api POST /api/v1/dags/mapped/trigger '{"conf":{"items":[]}}' | jq_ 'd["run_id"]')
ok "a run over an empty list ends" wait_run "$rid" success 20
eq "square is skipped, with no instance" "skipped 0" \
	"$(api GET "/api/v1/runs/$rid" | jq_ '"%s %d" % ([t["state"] for t in d["tasks"] if t["task"]=="square" and t["map_index"]==-1][0], sum(1 for t in d["tasks"] if t["map_index"]>=0))')"
eq "and so is the reducer" skipped "$(ti "$rid" reduce state)"

# Over the cap: the task fails and says why.
big=$(python3 -c 'print(list(range(151)))')
rid=$(api POST /api/v1/dags/mapped/trigger "{\"conf\":{\"items\":$big}}" | jq_ 'd["run_id"]')
ok "a run over 151 items fails" wait_run "$rid" failed 20
eq "square failed without an instance" "failed 0" \
	"$(api GET "/api/v1/runs/$rid" | jq_ '"%s %d" % ([t["state"] for t in d["tasks"] if t["task"]=="square"][0], sum(1 for t in d["tasks"] if t["map_index"]>=0))')"
e=$(api GET "/api/v1/runs/$rid" | jq_ '[t["error"] for t in d["tasks"] if t["task"]=="square"][0]')
eq "its error names the cap" "expand: 151 items, more than master.max_map_length (150)" "$e"
eq "the reducer is upstream_failed" upstream_failed "$(ti "$rid" reduce state)"

# Not a list: a failure saying what it is.
# An object where the list is: the run conf is checked against the
# param's default (a list) before any run is made.
api POST /api/v1/dags/mapped/trigger '{"conf":{"items":{"a":1}}}' > /dev/null
eq "a conf giving an object for the list is refused" 400 "$(status)"
ok "naming the field ($(cat "$T/body"))" grep -q 'conf.items: must be an array' "$T/body"

# Over an upstream result: one instance per CSV column, in order.
rid=$(api POST /api/v1/dags/columns/trigger '{}' | jq_ 'd["run_id"]')
ok "a mapping over an upstream's result succeeds" wait_run "$rid" success 30
api GET "/api/v1/runs/$rid" > "$T/run.json"
names=""
for j in $(jq_ '" ".join(str(t["job_id"]) for t in d["tasks"] if t["task"]=="per_col" and t["map_index"]>=0)' < "$T/run.json"); do
	names="$names$(api GET "/api/v1/jobs/$j" | jq_ 'd["params"]["col"]["name"]')"
done
eq "per_col's instances got columns a, b, c in order" abc "$names"
cj=$(jq_ '[t["job_id"] for t in d["tasks"] if t["task"]=="count"][0]' < "$T/run.json")
eq "the downstream task got the 3 results as an array" 3 \
	"$(api GET "/api/v1/jobs/$cj" | jq_ 'len(d["params"]["n"])')"

# The example of conf/dags runs as it is.
rid=$(api POST /api/v1/dags/example_mapping/trigger '{}' | jq_ 'd["run_id"]')
ok "conf/dags/example_mapping.yaml runs to success" wait_run "$rid" success 20
eq "its reducer lists the words in order" "0 kiln 4|1 maps 4|2 every 5|3 word 4" \
	"$(api GET "/api/v1/runs/$rid/tasks/total/log" | sed -n 's/.*stdout: //p' | paste -sd'|')"
ok "kiln task logs --map-index prints an instance's log" sh -c \
	"'$KILN' -c '$T/cluster.yaml' task logs '$rid' measure --map-index 3 | grep -q 'running /bin/sh printf .* \"3\" '"
eq "an instance's log, by its map index, shows its command" 1 \
	"$(api GET "/api/v1/runs/$rid/tasks/measure/log?map_index=2" | grep -c 'running /bin/sh printf .* "2" "\$KILN_PARAM_WORD"')"

# kill -9 the master while a mapped task's instances run: it carries on
# from the store, and no instance is submitted or succeeds twice.
rid=$(api POST /api/v1/dags/slow/trigger '{}' | jq_ 'd["run_id"]')
q() { sqlite3 "$T/master/kiln.db" "$1"; }
for _ in $(seq 1 100); do
	n=$(q "select count(*) from task_instances t join dag_runs r on r.id=t.run where r.run_id='$rid' and t.map_index>=0 and t.state=4")
	[ "${n:-0}" -ge 1 ] && break; sleep 0.05
done
left=$(q "select count(*) from task_instances t join dag_runs r on r.id=t.run where r.run_id='$rid' and t.map_index>=0 and t.state<>4")
ok "some instances have succeeded and some not at the kill ($n, $left)" [ "${n:-0}" -ge 1 -a "${left:-0}" -ge 1 ]
kill -9 "$PID_master"; wait "$PID_master" 2>/dev/null
start_node master; wait_master
ok "the run succeeds after the restart" wait_run "$rid" success 30
eq "all 24 instances succeeded, each with one job" "24 24" \
	"$(q "select count(*), count(distinct job_id) from task_instances t join dag_runs r on r.id=t.run where r.run_id='$rid' and t.task='nap' and t.map_index>=0 and t.state=4" | tr '|' ' ')"
eq "no instance was submitted twice" 24 "$(q "select count(*) from jobs j join dag_runs r on r.id=j.run where r.run_id='$rid' and j.task='nap'")"
eq "no job succeeded twice" 0 "$(q "select count(*) from (select job_id from attempts where state=2 group by job_id having count(*)>1)")"

# (bad1..3.yaml were written before the master started.)
api GET /api/v1/dags/errors > "$T/errs"
ok "expand that is not a mapping: FILE:LINE:COLUMN" grep -q 'bad1.yaml:5:13: .expand. must be a mapping of one param' "$T/errs"
ok "expand over a task not upstream: FILE:LINE:COLUMN" grep -q "bad2.yaml:7:18: task 'b' uses the result of 'c', which is not upstream" "$T/errs"
ok "expand over a text, not a list: FILE:LINE:COLUMN" grep -q 'bad3.yaml:5:18: expand: .x{{ ds }}. must be one template' "$T/errs"
finish
