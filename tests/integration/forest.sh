#!/bin/sh
# SPDX-License-Identifier: MIT
# forest.sh - the bundled `forest` and `kmeans` plugins on a real cluster:
# a forest is byte-identical whether its trees are grown by 1 or 4 map
# tasks, and after a worker is killed while it grows trees; regression
# works; k-means on iris is good and deterministic, and predict on the
# training data gives back its clusters (standardised or not); bad input
# (k > rows, a missing feature value) fails with a clear message.
. "$(dirname "$0")/lib.sh"
start_cluster 3s
D="$KILN_SRCDIR/examples/data"

# A copy of iris with one value missing (an empty field reads as NaN).
awk -F, 'NR == 8 { $2 = "" } { print }' OFS=, "$D/iris.csv" > "$T/iris_nan.csv"

cat > "$T/dags/bc.yaml" <<YAML
id: bc
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$D/breast_cancer.csv", partitions: 4, label: diagnosis }
  - id: f1
    plugin: forest
    depends_on: [ingest]
    params: { n_trees: 60, tasks: 1 }
  - id: f4
    plugin: forest
    depends_on: [ingest]
    params: { n_trees: 60, tasks: 4 }
YAML
cat > "$T/dags/big.yaml" <<YAML
id: big
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$D/breast_cancer.csv", partitions: 4, label: diagnosis }
  - id: forest
    plugin: forest
    depends_on: [ingest]
    params: { n_trees: 1800, tasks: 12 }
YAML
cat > "$T/dags/split.yaml" <<YAML
id: split
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$D/breast_cancer.csv", partitions: 4, label: diagnosis }
  - id: f1
    plugin: forest
    depends_on: [ingest]
    params: { n_trees: 600, tasks: 1 }
  - id: f6
    plugin: forest
    depends_on: [ingest]
    params: { n_trees: 600, tasks: 6 }
YAML
cat > "$T/dags/iris.yaml" <<YAML
id: iris
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$D/iris.csv", partitions: 4, label: species }
  - id: reg
    plugin: forest
    depends_on: [ingest]
    params: { label: "petal_width_(cm)", exclude: species, tasks: 3 }
  - id: km1
    plugin: kmeans
    depends_on: [ingest]
    params: { k: 3, exclude: species }
  - id: km2
    plugin: kmeans
    depends_on: [ingest]
    params: { k: 3 }
  - id: kmstd
    plugin: kmeans
    depends_on: [ingest]
    params: { k: 3, standardise: true }
  - id: pkm1
    plugin: predict
    depends_on: [ingest, km1]
  - id: pkmstd
    plugin: predict
    depends_on: [ingest, kmstd]
YAML
cat > "$T/dags/bad.yaml" <<YAML
id: bad
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$D/iris.csv", partitions: 2, label: species }
  - id: bigk
    plugin: kmeans
    depends_on: [ingest]
    params: { k: 500 }
  - id: ingest_nan
    plugin: ingest
    params: { file: "$T/iris_nan.csv", partitions: 3, label: species }
  - id: km_nan
    plugin: kmeans
    depends_on: [ingest_nan]
    params: { k: 3 }
  - id: forest_nan
    plugin: forest
    depends_on: [ingest_nan]
    params: { n_trees: 5 }
YAML
sleep 2.5

job() { api GET "/api/v1/jobs/$(ti "$1" "$2" job_id)"; }
# model_sha RUN TASK - the sha of the task's model.json output
model_sha() { job "$1" "$2" | jq_ '[o["sha"] for o in d["outputs"] if o["name"]=="model.json"][0]'; }
res() { job "$1" "$2" | jq_ "d['result']$3"; }
# why RUN - each task's state and error (after a run did not end well)
why() {
	api GET "/api/v1/runs/$1" | jq_ '"\n".join("# %s: %s" % (t["task"], t["state"]) for t in d["tasks"])'
	for x in $(api GET "/api/v1/runs/$1" | jq_ '" ".join(t["task"] for t in d["tasks"])'); do
		echo "# $x error: $(job "$1" "$x" | jq_ 'd.get("error")')"
	done
}
wait_why() { wait_run "$@" || { why "$1"; return 1; }; }
# run DAG SECONDS - trigger DAG and wait for success; prints the run id
run() {
	r=$(api POST "/api/v1/dags/$1/trigger" '{}' | jq_ 'd["run_id"]')
	wait_run "$r" success "$2" >&2 || why "$r" >&2
	echo "$r"
}
gt() { python3 -c "import sys; sys.exit(0 if $1 > $2 else 1)"; }

# ---- classification: 1 task or 4, the same forest
rid=$(run bc 120)
eq "breast cancer forests succeed" success "$(api GET "/api/v1/runs/$rid" | jq_ 'd["state"]')"
s1=$(model_sha "$rid" f1)
s4=$(model_sha "$rid" f4)
ok "model.json was stored" test -n "$s1"
eq "1 map task or 4: byte-identical model.json" "$s1" "$s4"
eq "f4 grew its trees in 4 map tasks" 4 "$(res "$rid" f4 "['tree_tasks']")"
eq "classification" classification "$(res "$rid" f4 "['task']")"
acc=$(res "$rid" f4 "['training_accuracy']")
echo "# training accuracy $acc, top feature $(res "$rid" f4 "['importances'][0]")"
ok "training accuracy > 0.95" gt "$acc" 0.95
eq "10 importances by name" 10 "$(res "$rid" f4 "['importances'].__len__()")"

# ---- regression, k-means
rid=$(run iris 120)
eq "iris regression forest and k-means succeed" success "$(api GET "/api/v1/runs/$rid" | jq_ 'd["state"]')"
eq "regression (numeric label)" regression "$(res "$rid" reg "['task']")"
r2=$(res "$rid" reg "['training_r2']")
echo "# petal width R^2 $r2"
ok "R^2 > 0.9" gt "$r2" 0.9
inertia=$(res "$rid" km1 "['inertia']")
echo "# k-means inertia $inertia (scikit-learn's best: 78.85), iterations $(res "$rid" km1 "['iterations']"), stages $(res "$rid" km1 "['stages']")"
ok "k-means inertia < 80" gt 80 "$inertia"
eq "cluster sizes sum to 150" 150 "$(job "$rid" km1 | jq_ 'sum(d["result"]["sizes"])')"
eq "3 centres of 4 features (the label left out)" "3 4" "$(res "$rid" km1 "['centres'].__len__(), len(d['result']['centres'][0])" | tr -d '(),')"
eq "the same seed and partitions: the same model.json" "$(model_sha "$rid" km1)" "$(model_sha "$rid" km2)"
eq "standardised k-means says so" True "$(res "$rid" kmstd "['standardised']")"
# predict on the training data gives back the training clusters: their
# sizes and the inertia (a standardised model's scaler applied first).
same_clusters() {
	python3 - "$(job "$rid" "$1" | jq_ 'json.dumps(d["result"])')" \
		"$(job "$rid" "$2" | jq_ 'json.dumps(d["result"])')" <<'PY'
import json, sys
tr, pr = json.loads(sys.argv[1]), json.loads(sys.argv[2])
counts = [pr["predicted_counts"][str(c)] for c in range(tr["k"])]
assert counts == tr["sizes"], (counts, tr["sizes"])
assert abs(pr["inertia"] - tr["inertia"]) <= 1e-9 * tr["inertia"], (pr["inertia"], tr["inertia"])
PY
}
ok "predict(kmeans) on the training data: the training sizes and inertia" same_clusters km1 pkm1
ok "the same for a standardised k-means model" same_clusters kmstd pkmstd

# ---- trees over a map task's 1 MiB of JSON are split automatically
rid=$(run split 180)
eq "600 trees in 1 map task or 6 succeed" success "$(api GET "/api/v1/runs/$rid" | jq_ 'd["state"]')"
echo "# 600 trees: $(res "$rid" f1 "['model_bytes']") bytes; tasks=1 used $(res "$rid" f1 "['tree_tasks']") map tasks in $(res "$rid" f1 "['stages']") stages"
ok "tasks=1 needed a second stage of more map tasks" gt "$(res "$rid" f1 "['tree_tasks']")" 2
eq "and gives the same model.json" "$(model_sha "$rid" f6)" "$(model_sha "$rid" f1)"

# ---- a worker killed while the trees grow: the same forest
rid=$(run big 180)
eq "the big forest succeeds undisturbed" success "$(api GET "/api/v1/runs/$rid" | jq_ 'd["state"]')"
ref=$(model_sha "$rid" forest)
echo "# 1800 trees in $(res "$rid" forest "['fit_ms']") ms, $(res "$rid" forest "['model_bytes']") bytes, $(res "$rid" forest "['stages']") stages"
rid=$(api POST /api/v1/dags/big/trigger '{}' | jq_ 'd["run_id"]')
j=""
for _ in $(seq 1 300); do
	j=$(ti "$rid" forest job_id 2>/dev/null)
	case "$j" in ''|None) sleep 0.05; continue ;; esac
	[ "$(api GET "/api/v1/jobs/$j" | jq_ 'd["state"]')" = running ] && break
	sleep 0.05
done
ok "the forest driver starts" wait_state "$j" running
sleep 0.7
w=$(api GET "/api/v1/jobs/$j" | jq_ 'd["worker"]')
other=w1; [ "$w" = w1 ] && other=w2
eval "kill -9 \$PID_$other"
echo "# killed $other while the driver on $w waits for its trees"
ok "the forest succeeds after a worker died mid-stage" wait_why "$rid" success 180
eq "with the same model.json" "$ref" "$(model_sha "$rid" forest)"
eq "the driver ran once" 1 "$(api GET "/api/v1/jobs/$j" | jq_ 'd["attempt"]')"
start_node "$other"
wait_workers 2

# ---- bad input
rid=$(api POST /api/v1/dags/bad/trigger '{}' | jq_ 'd["run_id"]')
ok "the bad-input run fails" wait_why "$rid" failed 60
e=$(job "$rid" bigk | jq_ 'd["error"]')
case "$e" in *"k = 500"*"150 rows"*) ok "k > rows: clear error" true ;;
*) ok "k > rows: clear error (got: $e)" false ;; esac
e=$(job "$rid" km_nan | jq_ 'd["error"]')
case "$e" in *"row 7"*"missing"*"sepal_width"*) ok "k-means NaN: clear error" true ;;
*) ok "k-means NaN: clear error (got: $e)" false ;; esac
e=$(job "$rid" forest_nan | jq_ 'd["error"]')
case "$e" in *"NaN"*"sepal_width"*) ok "forest NaN: clear error" true ;;
*) ok "forest NaN: clear error (got: $e)" false ;; esac
finish
