#!/bin/sh
# SPDX-License-Identifier: MIT
# tuning.sh - honest comparisons in the `benchmark` plugin on a real master
# and two workers (issue 17, item 5): repeated k-fold (`repeats`), whose
# first repetition is plain k-fold with the same seed, whose leaderboard
# is over every repetition's folds, and whose p values are Nadeau and
# Bengio's corrected resampled t-test - checked against an independent
# Python computation (tests/fixtures/ml/ref_nbtest.py) in the result, the
# CSV and `kiln leaderboard`; repeats refused for a backtest.
. "$(dirname "$0")/lib.sh"
start_cluster
D=$T/dags
BC=$KILN_SRCDIR/examples/data/breast_cancer.csv
IRIS=$KILN_SRCDIR/examples/data/iris.csv

# tdag ID CSV LABEL BENCHMARK_PARAMS
tdag() {
	cat > "$D/$1.yaml" <<YAML
id: $1
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$2", partitions: 2, label: "$3" }
  - id: bench
    plugin: benchmark
    depends_on: [ingest]
    params: { $4 }
YAML
}
tdag rep1 "$BC" diagnosis 'folds: 5, seed: 7, models: [logreg, naive_bayes, {model: forest, n_trees: 10}]'
tdag rep3 "$BC" diagnosis 'folds: 5, repeats: 3, seed: 7, models: [logreg, naive_bayes, {model: forest, n_trees: 10}]'
tdag regrep "$IRIS" "petal_width_(cm)" 'exclude: species, folds: 4, repeats: 2, models: [ridge, ols]'
tdag badrep "$IRIS" "petal_width_(cm)" 'repeats: 0'
cat > "$D/fcrep.yaml" <<YAML
id: fcrep
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$KILN_SRCDIR/examples/data/sunspots.csv", partitions: 1 }
  - id: bench
    plugin: benchmark
    depends_on: [ingest]
    params: { column: sunspots, time: year, season: 11, horizon: 11, repeats: 2 }
YAML
sleep 2.5

run_dag() {
	rid=$(api POST "/api/v1/dags/$1/trigger" '{}' | jq_ 'd["run_id"]')
	ok "run $1 ends $2" wait_run "$rid" "$2" 180
	J=$(ti "$rid" bench job_id)
	api GET "/api/v1/jobs/$J" > "$T/$1.json"
}
res() { jq_ "$2" < "$T/$1.json"; }
L='d["result"]'

# (1) Repeated k-fold.
run_dag rep1 success
run_dag rep3 success
J3=$J
eq "repeats 3 of 5 folds: 15 scores of every metric" "5 3 True" \
	"$(res rep3 "$L['folds'], $L['repeats'], all(len(v['folds']) == 15 for m in $L['models'] for v in m['metrics'].values())" | tr -d '(),')"
eq "validation says repeated, with the seeds" \
	"stratified 5-fold cross-validation repeated 3 times, seeds 7..9" "$(res rep3 "$L['validation']")"
eq "the test is the corrected resampled t-test" "corrected_resampled_t paired_t" \
	"$(res rep3 "$L['test']") $(res rep1 "$L['test']")"
eq "the first repetition is plain 5-fold with the same seed" True \
	"$(python3 -c "
import json
a = {m['model']: m for m in json.load(open('$T/rep1.json'))['result']['models']}
b = {m['model']: m for m in json.load(open('$T/rep3.json'))['result']['models']}
print(all(a[n]['metrics'][k]['folds'] == b[n]['metrics'][k]['folds'][:5] for n in a for k in a[n]['metrics']))")"
eq "the repetitions shuffle differently" True \
	"$(res rep3 "all(m['metrics']['log_loss']['folds'][:5] != m['metrics']['log_loss']['folds'][5:10] for m in $L['models'])")"
eq "df = 3 x 5 - 1 for every other model" True \
	"$(res rep3 "all(m['vs_best']['df'] == 14 for m in $L['models'][1:])")"
# The same numbers by another route: means, standard deviations, t and p.
diff=$(python3 "$KILN_SRCDIR/tests/fixtures/ml/ref_nbtest.py" < "$T/rep3.json" 2>"$T/nb.log")
cat "$T/nb.log"
ok "means, sd, t and p within 1e-9 of Python's (got $diff)" python3 -c "import sys; sys.exit(not float('$diff') < 1e-9)"
k artifact get "$J3" leaderboard.csv -o "$T/lb.csv"
eq "leaderboard.csv's p_vs_best is the result's p" True \
	"$(python3 -c "
import csv, json
rows = list(csv.DictReader(open('$T/lb.csv')))
lb = json.load(open('$T/rep3.json'))['result']
print(len(rows) == 3 and rows[0]['p_vs_best'] == '' and all(abs(float(r['p_vs_best']) - m['vs_best']['p']) <= 1e-15 for r, m in zip(rows[1:], lb['models'][1:])))")"
k leaderboard "$J3" > "$T/lb.txt"
ok "kiln leaderboard names the corrected test" grep -q "corrected resampled (Nadeau-Bengio) t-test" "$T/lb.txt"
ok "report.md has the corrected tests" sh -c "k() { \"$KILN\" -c \"$T/cluster.yaml\" \"\$@\"; }; k artifact get $J3 report.md | grep -q 'Corrected resampled t-tests against'"

# Regression repeats too: 2 x 4 folds of shuffled k-fold.
run_dag regrep success
eq "regression: 8 scores, corrected test" "8 corrected_resampled_t 7" \
	"$(res regrep "len($L['models'][0]['metrics']['rmse']['folds']), $L['models'][1]['vs_best']['test'], int($L['models'][1]['vs_best']['df'])" | tr -d "(),'")"
diff=$(python3 "$KILN_SRCDIR/tests/fixtures/ml/ref_nbtest.py" < "$T/regrep.json" 2>/dev/null)
ok "regression: t and p within 1e-9 of Python's (got $diff)" python3 -c "import sys; sys.exit(not float('$diff') < 1e-9)"

# (2) Refused.
run_dag badrep failed
case "$(res badrep 'd["error"]')" in
*"repeats = 0: need 1 <= repeats <= 100"*) ok "repeats 0 refused with the range" true ;;
*) ok "repeats 0 refused with the range (got: $(res badrep 'd["error"]'))" false ;; esac
run_dag fcrep failed
case "$(res fcrep 'd["error"]')" in
*"repeats: a backtest has one set of origins"*) ok "repeats refused for a forecast" true ;;
*) ok "repeats refused for a forecast (got: $(res fcrep 'd["error"]'))" false ;; esac
finish
