#!/bin/sh
# SPDX-License-Identifier: MIT
# impute.sh - missing values on a real cluster: a benchmark of iris with 60
# blanked cells (tests/fixtures/ml/iris_missing.csv) fails without
# `impute`, naming the CSV line and column and what to set; with `impute:
# median` it runs (each fold's median from its training rows; the unit
# test ml-impute-test checks those against scikit-learn's SimpleImputer)
# and the refit's model.json carries SimpleImputer's medians over all
# rows.  A weekly CO2 series with its 26 real gaps and dates written
# 19580329 (examples/data/co2_weekly.csv) forecasts with `impute: linear`
# as pandas' interpolation does, at weekly dates with the season 52.  The
# distributed model plugins take `impute` too: fitted over all training
# rows in the driver (SimpleImputer's medians), applied in every map task,
# kept in model.json, and applied by predict to the same blanked rows.
. "$(dirname "$0")/lib.sh"
start_cluster
FIX="$KILN_SRCDIR/tests/fixtures/ml/impute.json"
cp "$KILN_SRCDIR/tests/fixtures/ml/iris_missing.csv" "$T/"     # in a read root
IRIS="$T/iris_missing.csv"
CO2="$KILN_SRCDIR/examples/data/co2_weekly.csv"

# dag ID FILE PLUGIN PARAMS - ingest (2 partitions; the label species if
# FILE has one) -> PLUGIN.
dag() {
	cat > "$T/dags/$1.yaml" <<YAML
id: $1
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$2", partitions: 2$(head -n 1 "$2" | grep -q species && echo ', label: species') }
  - id: fit
    plugin: $3
    depends_on: [ingest]
    params: { $4 }
YAML
}
dag bare "$IRIS" benchmark 'models: naive_bayes, folds: 3'
dag median "$IRIS" benchmark 'models: "naive_bayes,logistic_regression", folds: 3, impute: median'
dag series "$IRIS" benchmark 'models: naive_bayes, impute: linear'
dag co2 "$CO2" forecast 'time: date, method: seasonal_naive, impute: linear, horizon: 10'
dag co2bare "$CO2" forecast 'time: date, method: ses'
dag nbbare "$IRIS" naive_bayes ''
cat > "$T/dags/models.yaml" <<YAML
id: models
tasks:
  - { id: ingest, plugin: ingest, params: { file: "$IRIS", partitions: 3, label: species } }
  - { id: fit, plugin: logreg, depends_on: [ingest], params: { impute: median } }
  - { id: nb, plugin: naive_bayes, depends_on: [ingest], params: { impute: mean } }
  - { id: km, plugin: kmeans, depends_on: [ingest], params: { k: 3, impute: median } }
  - { id: fo, plugin: forest, depends_on: [ingest], params: { n_trees: 10, impute: "*=most_frequent" } }
  - { id: plr, plugin: predict, depends_on: [ingest, fit] }
  - { id: pfo, plugin: predict, depends_on: [ingest, fo] }
YAML
sleep 2.5

run() {
	rid=$(api POST "/api/v1/dags/$1/trigger" '{}' | jq_ 'd["run_id"]')
	ok "dag $1 ends $2" wait_run "$rid" "$2" 90
	J=$(ti "$rid" fit job_id)
}
job() { api GET "/api/v1/jobs/$J"; }
error_has() {  # error_has DESCRIPTION TEXT: the job's error contains TEXT
	err=$(job | jq_ 'd["error"]')
	echo "# error: $err"
	case "$err" in *"$2"*) ok "$1" true ;; *) ok "$1 (got: $err)" false ;; esac
}
# The first blank cell of column COL (1-based) of FILE: its line.
first_blank() { awk -F, -v c="$2" 'NR > 1 && $c == "" { print NR; exit }' "$1"; }

run bare failed
error_has "a missing feature names the CSV line and column and says set impute" \
	"iris_missing.csv:$(first_blank "$IRIS" 1): column 'sepal_length_(cm)' is missing: set \`impute\`"

run median success
job > "$T/median.json"
sha=$(jq_ '[o["sha"] for o in d["outputs"] if o["name"]=="model.json"][0]' < "$T/median.json")
curl -s -H "Authorization: Bearer $(token)" "$URL/api/v1/artifacts/$sha" > "$T/model.json"
ok "the refit's medians equal SimpleImputer's over all rows" \
	python3 - "$T/median.json" "$T/model.json" "$FIX" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["result"]
m = json.load(open(sys.argv[2]))
want = json.load(open(sys.argv[3]))["all_rows"]["median"]
assert len(r["models"]) == 2, r["models"]
for row in r["models"]:
    print("#", row["model"], row["metrics"]["accuracy"]["mean"])
    assert row["metrics"]["accuracy"]["mean"] > 0.8, row
imp = m["impute"]
got = [imp[f]["value"] for f in m["dataset"]["features"]]
assert all(imp[f]["method"] == "median" for f in imp), imp
assert got == want, (got, want)
PY

run series failed
error_has "a series method is refused for features" "impute: linear is for series"

run nbbare failed
# The first map task to fail names its partition's first blank cell.
err=$(job | jq_ 'd["error"]')
case "$err" in
*"iris_missing.csv:"[0-9]*": column '"*"' is missing: set \`impute\`"*)
	ok "a distributed model without impute: the CSV line, the column, set impute" true ;;
*) ok "a distributed model without impute: the CSV line, the column, set impute (got: $err)" false ;;
esac

run models success
for task in fit nb km fo plr pfo; do
	api GET "/api/v1/jobs/$(ti "$rid" $task job_id)" > "$T/m-$task.json"
	echo "# $task: $(jq_ 'd["state"] + " " + str(d.get("error"))' < "$T/m-$task.json")"
done
sha=$(jq_ '[o["sha"] for o in d["outputs"] if o["name"]=="model.json"][0]' < "$T/m-fit.json")
curl -s -H "Authorization: Bearer $(token)" "$URL/api/v1/artifacts/$sha" > "$T/lr-model.json"
ok "logreg's model.json: SimpleImputer's medians over all rows" \
	python3 - "$T/lr-model.json" "$FIX" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
want = json.load(open(sys.argv[2]))["all_rows"]["median"]
imp = m["dataset"]["impute"]
got = [imp[f]["value"] for f in m["dataset"]["features"]]
assert all(imp[f]["method"] == "median" for f in imp), imp
assert got == want, (got, want)
PY
eq "predict with the logreg model: all 150 rows, accuracy > 0.9" True \
	"$(jq_ 'd["result"]["rows"] == 150 and d["result"]["metrics"]["accuracy"] > 0.9' < "$T/m-plr.json")"
eq "predict with the forest model: all 150 rows" 150 "$(jq_ 'd["result"]["rows"]' < "$T/m-pfo.json")"
eq "naive_bayes and kmeans fit over the blanked cells" "succeeded succeeded" \
	"$(jq_ 'd["state"]' < "$T/m-nb.json") $(jq_ 'd["state"]' < "$T/m-km.json")"

run co2 success
job > "$T/co2.json"
ok "CO2 with 26 gaps: linear interpolation, weekly dates and season 52 as pandas" \
	python3 - "$T/co2.json" "$FIX" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["result"]
ref = json.load(open(sys.argv[2]))["series"]
s = r["series"]["co2"]
t = r["time"]
assert ref["pandas_freq"] == "W-SAT"
assert t["frequency"] == "weekly" and t["season"] == 52, t
assert t["forecast"] == ref["next_dates"], (t["forecast"], ref["next_dates"])
assert s["imputed"] == ref["missing"] == 26, s["imputed"]
bad = [(a, b) for a, b in zip(s["forecast"], ref["snaive_linear_52"]) if abs(a - b) > 1e-9]
assert not bad and len(s["forecast"]) == 10, bad
PY

run co2bare failed
error_has "a gap in a series names its CSV line and says set impute" \
	"co2_weekly.csv:$(first_blank "$CO2" 2): series 'co2' is missing: set \`impute\`"
finish
