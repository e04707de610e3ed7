#!/bin/sh
# SPDX-License-Identifier: MIT
# tuning.sh - honest comparisons in the `benchmark` plugin on a real master
# and two workers (issue 17, item 5): repeated k-fold (`repeats`), whose
# first repetition is plain k-fold with the same seed, whose leaderboard
# is over every repetition's folds, and whose p values are Nadeau and
# Bengio's corrected resampled t-test - checked against an independent
# Python computation (tests/fixtures/ml/ref_nbtest.py) in the result, the
# CSV and `kiln leaderboard`; repeats refused for a backtest.  Class
# weights for logistic regression raise the minority class's recall on
# an imbalanced dataset; an L1 penalty sets the coefficients of irrelevant
# features to exactly 0 and still classifies (scikit-learn is not
# installed here to compare with: the optimality conditions are checked
# in tests/unit/ml-linear-test).
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
# Imbalanced (6% minority) and sparse (2 of 8 features matter) data.
python3 - "$T" <<'PY'
import math, random, sys
r = random.Random(17)
with open(sys.argv[1] + "/imb.csv", "w") as f:
    f.write("x1,x2,y\n")
    for i in range(800):
        m = r.random() < 0.06
        f.write("%.6f,%.6f,%s\n" % (r.gauss(1.5 if m else 0, 1), r.gauss(1.5 if m else 0, 1), "min" if m else "maj"))
with open(sys.argv[1] + "/sparse.csv", "w") as f:
    f.write(",".join("x%d" % j for j in range(1, 9)) + ",y\n")
    for i in range(400):
        b = r.random() < 0.5
        f.write(",".join("%.6f" % r.gauss(1.0 if b and j < 2 else 0, 1) for j in range(8)) + ",%s\n" % ("b" if b else "a"))
PY
tdag imb "$T/imb.csv" y 'metric: balanced_accuracy, models: [{model: logreg, grid: {class_weight: [none, balanced, {min: 10}]}}]'
tdag imbrf "$T/imb.csv" y 'metric: balanced_accuracy, models: [{model: forest, n_trees: 50, max_depth: 3, grid: {class_weight: [none, balanced]}}]'
tdag imbbad "$T/imb.csv" y 'models: [{model: logreg, class_weight: {minority: 10}}]'
tdag l1 "$T/sparse.csv" y 'metric: accuracy, models: [{model: logreg, penalty: l1, C: 0.02}]'
tdag pens "$T/sparse.csv" y 'metric: accuracy, models: [{model: logreg, C: 0.02, grid: {penalty: [l2, l1, elasticnet]}}]'
# The logreg plugin itself (distributed gradients) with the same options.
lrdag() {
	cat > "$D/$1.yaml" <<YAML
id: $1
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$2", partitions: 3, label: y }
  - id: bench
    plugin: logreg
    depends_on: [ingest]
    params: { $3 }
  - id: predict
    plugin: predict
    depends_on: [ingest, bench]
YAML
}
lrdag lrbal "$T/imb.csv" 'class_weight: balanced'
lrdag lrplain "$T/imb.csv" 'C: 1'
lrdag lrl1 "$T/sparse.csv" 'penalty: l1, C: 0.02'
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

# (3) Class weights.
run_dag imb success
eq "three weightings, named" \
	"['logreg(C=1,max_iter=1000)', 'logreg(C=1,max_iter=1000,class_weight=balanced)', 'logreg(C=1,max_iter=1000,class_weight={\"min\":10})']" \
	"$(res imb "sorted(m['model'] for m in $L['models'])")"
echo "# $(res imb "[(m['model'], m['confusion']['recall']) for m in $L['models']]")"
rec() { res imb "[m['confusion']['recall']['min'] for m in $L['models'] if m['params']['class_weight'] == $1][0]"; }
ok "balanced weights raise the minority recall by 0.2 or more ($(rec "'none'") -> $(rec "'balanced'"))" \
	python3 -c "import sys; sys.exit(not $(rec "'balanced'") >= $(rec "'none'") + 0.2)"
ok "weight 10 on the minority raises its recall too" \
	python3 -c "import sys; sys.exit(not $(rec "{'min': 10}") > $(rec "'none'"))"
eq "a weighting beats none on balanced accuracy" True \
	"$(res imb "$L['models'][-1]['params']['class_weight'] == 'none'")"
eq "each model's pooled confusion counts every row once" True \
	"$(res imb "all(sum(map(sum, m['confusion']['matrix'])) == 800 for m in $L['models'])")"
run_dag imbrf success
echo "# forest: $(res imbrf "[(m['model'], m['confusion']['recall']) for m in $L['models']]")"
frec() { res imbrf "[m['confusion']['recall']['min'] for m in $L['models'] if m['params']['class_weight'] == $1][0]"; }
ok "forest: balanced weights raise the minority recall by 0.2 or more ($(frec "'none'") -> $(frec "'balanced'"))" \
	python3 -c "import sys; sys.exit(not $(frec "'balanced'") >= $(frec "'none'") + 0.2)"
run_dag imbbad failed
case "$(res imbbad 'd["error"]')" in
*"class_weight names the class 'minority', which the label does not have (its classes: maj, min)"*) ok "a weight for an unknown class refused with the classes" true ;;
*) ok "a weight for an unknown class refused (got: $(res imbbad 'd["error"]'))" false ;; esac

# (4) L1 and elastic net.
run_dag l1 success
k artifact get "$J" model.json -o "$T/l1model.json"
echo "# L1 coefficients: $(jq_ 'd["model"]["coef"]' < "$T/l1model.json")"
eq "L1: the 6 irrelevant features' coefficients are exactly 0, the 2 relevant ones not" True \
	"$(jq_ '(lambda c: all(x == 0 for x in c[2:]) and all(x > 0.05 for x in c[:2]))(d["model"]["coef"][0])' < "$T/l1model.json")"
eq "L1: penalty kept in the model file" "l1" "$(jq_ 'd["model"]["penalty"]' < "$T/l1model.json")"
ok "L1: cross-validated accuracy above 0.65 ($(res l1 "$L['models'][0]['metrics']['accuracy']['mean']"))" \
	python3 -c "import sys; sys.exit(not $(res l1 "$L['models'][0]['metrics']['accuracy']['mean']") > 0.65)"
run_dag pens success
eq "l2, l1 and elastic net all fitted, within 0.05 accuracy of each other" True \
	"$(res pens "(lambda a: len(a) == 3 and max(a) - min(a) < 0.05)([m['metrics']['accuracy']['mean'] for m in $L['models'] if 'error' not in m])")"

# (5) The logreg plugin: the same options over distributed gradients.
run_dag lrl1 success
eq "logreg plugin, L1: the irrelevant coefficients exactly 0" True \
	"$(res lrl1 "(lambda c: all(x == 0 for x in c[2:]) and all(x != 0 for x in c[:2]))(d['result']['coef'][0])")"
run_dag lrplain success
api GET "/api/v1/jobs/$(ti "$rid" predict job_id)" > "$T/lrplain.pred.json"
run_dag lrbal success
api GET "/api/v1/jobs/$(ti "$rid" predict job_id)" > "$T/lrbal.pred.json"
echo "# predict: $(jq_ 'd["result"]' < "$T/lrbal.pred.json" | cut -c1-300)"
brec() { jq_ "d['result']['metrics']['balanced_accuracy']" < "$T/$1.pred.json"; }
ok "logreg plugin: balanced weights raise the training balanced accuracy ($(brec lrplain) -> $(brec lrbal))" \
	python3 -c "import sys; sys.exit(not $(brec lrbal) > $(brec lrplain) + 0.1)"

# (6) kiln plugins NAME: a plugin's parameters from its table.
k plugins benchmark > "$T/pl.txt"
ok "kiln plugins benchmark lists repeats with its default" grep -Eq "^repeats +int +1 " "$T/pl.txt"
k plugins logreg > "$T/pl2.txt"
ok "kiln plugins logreg lists penalty, l1_ratio and class_weight" sh -c \
	"grep -q '^penalty ' '$T/pl2.txt' && grep -q '^l1_ratio ' '$T/pl2.txt' && grep -q '^class_weight ' '$T/pl2.txt'"
k plugins nosuch 2> "$T/pl3.txt"
eq "kiln plugins NAME of no plugin fails" 1 $?
finish
