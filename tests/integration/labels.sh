#!/bin/sh
# SPDX-License-Identifier: MIT
# labels.sh - classes written as numbers: examples/data/digits.csv (600
# handwritten digits, the class `digit` written 0-9) ingested with
# `task: classification` trains naive Bayes to scikit-learn's GaussianNB
# (training accuracy exactly, log loss to 1e-6; tests/fixtures/ml/
# ref_labels.py wrote labels.json) and ranks models in a benchmark run with
# `task: classification`; without the task a numeric label is refused
# with the way out, and `task: regression` refuses a categorical label.
. "$(dirname "$0")/lib.sh"
start_cluster
FIX="$KILN_SRCDIR/tests/fixtures/ml/labels.json"
DIG="$KILN_SRCDIR/examples/data/digits.csv"
IRIS="$KILN_SRCDIR/examples/data/iris.csv"

# dag ID FILE INGEST_PARAMS PLUGIN PARAMS - ingest (3 partitions) -> PLUGIN.
dag() {
	cat > "$T/dags/$1.yaml" <<YAML
id: $1
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$2", partitions: 3, $3 }
  - id: fit
    plugin: $4
    depends_on: [ingest]
    params: { $5 }
YAML
}
dag nb "$DIG" 'label: digit, task: classification' naive_bayes ''
dag bm "$DIG" 'label: digit, task: classification' benchmark \
	'task: classification, models: "naive_bayes", folds: 3'
dag nolabel "$DIG" 'label: digit' naive_bayes ''
dag reg "$IRIS" 'label: species, task: regression' naive_bayes ''
sleep 2.5

run() {
	rid=$(api POST "/api/v1/dags/$1/trigger" '{}' | jq_ 'd["run_id"]')
	ok "dag $1 ends $2" wait_run "$rid" "$2" 90
	J=$(ti "$rid" "${3:-fit}" job_id)
}
job() { api GET "/api/v1/jobs/$J"; }
error_has() {  # error_has DESCRIPTION TEXT: the job's error contains TEXT
	err=$(job | jq_ 'd["error"]')
	echo "# error: $err"
	case "$err" in *"$2"*) ok "$1" true ;; *) ok "$1 (got: $err)" false ;; esac
}

run nb success
job > "$T/nb.json"
ok "digits 0-9 are classes: naive Bayes equals scikit-learn's GaussianNB" \
	python3 - "$T/nb.json" "$FIX" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["result"]
ref = json.load(open(sys.argv[2]))["digits"]
print("# accuracy", r["accuracy"], ref["nb_accuracy"], "log loss", r["log_loss"], ref["nb_log_loss"])
assert r["classes"] == ref["classes"], r["classes"]
assert r["rows"] == ref["rows"] == 600
assert abs(r["accuracy"] - ref["nb_accuracy"]) < 1e-12
assert abs(r["log_loss"] - ref["nb_log_loss"]) <= 1e-6 * ref["nb_log_loss"]
PY

run bm success
job > "$T/bm.json"
ok "a benchmark with task: classification ranks the numeric classes" \
	python3 - "$T/bm.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["result"]
assert r["kind"] == "classification", r["kind"]
(m,) = r["models"]
acc = m["metrics"]["accuracy"]["mean"]
print("# cv accuracy", acc)
assert 0.7 < acc <= 1, acc
PY

run nolabel failed
error_has "a numeric label without task: classification says how to make it classes" \
	"set \`task: classification\` (and \`label: digit\`) in the ingest task"
run reg failed ingest
error_has "task: regression refuses a categorical label" \
	"label 'species' is not numeric: task: regression needs numbers"
finish
