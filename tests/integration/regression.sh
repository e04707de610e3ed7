#!/bin/sh
# SPDX-License-Identifier: MIT
# regression.sh - the `benchmark` plugin's regression on a real master and
# two workers: iris's petal width from the other measurements, by shuffled 5-fold cross-validation of ridge, OLS and
# a regression forest.  The kind is inferred from the schema (a numeric
# label) and said in the result; the leaderboard has RMSE, MAE and R^2 on
# every fold, sorted on the main metric in its direction (RMSE lower, R^2
# higher); the refit is a model.json that predict reads.  A grid expands
# to one model per combination; a tie on every metric goes to the simpler
# model; an unknown model parameter is refused with the valid ones.
. "$(dirname "$0")/lib.sh"
start_cluster
D=$T/dags
IRIS=$KILN_SRCDIR/examples/data/iris.csv

# reg_dag ID BENCHMARK_PARAMS - ingest iris with the label petal width.
reg_dag() {
	cat > "$D/$1.yaml" <<YAML
id: $1
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$IRIS", partitions: 2, label: "petal_width_(cm)" }
  - id: bench
    plugin: benchmark
    depends_on: [ingest]
    params: { $2 }
  - id: predict
    plugin: predict
    depends_on: [ingest, bench]
YAML
}
reg_dag reg 'folds: 5, dataset: iris, exclude: species'
reg_dag regsp 'models: "ridge,ols"'
reg_dag regr2 'kind: regression, metric: r2, exclude: species, models: [ridge, ols, {model: ridge, alpha: 100}]'
reg_dag regbad 'kind: regression, models: "ols,naive_bayes"'
reg_dag grid 'exclude: species, models: [{model: ridge, alpha: 0}, ols, {model: forest, n_trees: 20, grid: {max_depth: [1, 3], min_samples_leaf: [1, 5]}}]'
reg_dag badparam 'models: [{model: ridge, alpah: 1}]'
sleep 2.5

run_dag() {
	rid=$(api POST "/api/v1/dags/$1/trigger" '{}' | jq_ 'd["run_id"]')
	ok "run $1 ends $2" wait_run "$rid" "$2" 120
	J=$(ti "$rid" bench job_id)
	api GET "/api/v1/jobs/$J" > "$T/$1.json"
	[ "$2" = success ] && api GET "/api/v1/jobs/$(ti "$rid" predict job_id)" > "$T/$1.pred.json"
	true
}
res() { jq_ "$2" < "$T/$1.json"; }
L='d["result"]'

run_dag reg success
echo "# $(res reg "[(m['model'], m.get('error')) for m in $L['models']]")"
eq "kind regression, inferred from the numeric label" \
	"regression the label 'petal_width_(cm)' is numeric" \
	"$(res reg "$L['kind'] + ' ' + $L['kind_from']")"
eq "default regression models" "['forest', 'ols', 'ridge']" \
	"$(res reg "sorted(m['model'] for m in $L['models'])")"
eq "metrics rmse, mae, r2; primary rmse, lower is better" "['rmse', 'mae', 'r2'] rmse False" \
	"$(res reg "str($L['metrics']) + ' ' + $L['primary'] + ' ' + str($L['higher_is_better'])")"
eq "every metric of every model on 5 folds" True \
	"$(res reg "all(set(m['metrics']) == {'rmse','mae','r2'} and all(len(v['folds']) == 5 for v in m['metrics'].values()) for m in $L['models'])")"
eq "sorted by mean rmse, ascending" True \
	"$(res reg "(lambda v: v == sorted(v))([m['metrics']['rmse']['mean'] for m in $L['models']])")"
# Petal width is nearly linear in the other measurements: R^2 about 0.94
# for least squares on all rows (statsmodels' OLS of iris), RMSE about 0.17.
eq "ols: R^2 > 0.9, 0.1 < RMSE < 0.25, MAE < RMSE" True \
	"$(res reg "(lambda m: m['r2']['mean'] > 0.9 and 0.1 < m['rmse']['mean'] < 0.25 and m['mae']['mean'] < m['rmse']['mean'])([m for m in $L['models'] if m['model']=='ols'][0]['metrics'])")"
eq "validation" "shuffled 5-fold cross-validation, seed 42" "$(res reg "$L['validation']")"
eq "outputs" "leaderboard.csv leaderboard.json model.json report.md" \
	"$(res reg '" ".join(sorted(o["name"] for o in d["outputs"]))')"
eq "predict reads the refit model and predicts every row" 150 \
	"$(jq_ 'd["result"]["rows"]' < "$T/reg.pred.json")"

# OLS on every one-hot level of species: collinear with the intercept;
# the model fails with a message that says why and what to do, ridge runs.
run_dag regsp success
eq "ols on one-hot levels: ranked last, the error names the level" True \
	"$(res regsp "(lambda m: m[0]['model'] == 'ridge' and 'error' not in m[0] and \"species=\" in m[1]['error'] and 'use ridge' in m[1]['error'])($L['models'])")"

run_dag regr2 success
eq "metric r2: higher is better, sorted descending; alpha 100 last" True \
	"$(res regr2 "(lambda v: $L['higher_is_better'] and v == sorted(v, reverse=True))([m['metrics']['r2']['mean'] for m in $L['models']]) and $L['models'][-1]['params']['alpha'] == 100")"
eq "kind given" given "$(res regr2 "$L['kind_from']")"

run_dag grid success
eq "a 2x2 grid: four forests named by their parameters, with their params" \
	"[(1, 1), (1, 5), (3, 1), (3, 5)]" \
	"$(res grid "sorted((m['params']['max_depth'], m['params']['min_samples_leaf']) for m in $L['models'] if m['type'] == 'forest' and m['model'].startswith('forest(') and m['params']['n_trees'] == 20)")"
eq "ridge with alpha 0 ties OLS on every metric: the simpler (ols) ranks first" "ols ridge" \
	"$(res grid "' '.join(m['model'] for m in $L['models'] if m['type'] in ('ols', 'ridge'))")"
eq "the tie-break rule is in the leaderboard" "['mae', 'r2', 'simplicity', 'order listed']" \
	"$(res grid "$L['tie_break']")"
run_dag badparam failed
case "$(res badparam 'd["error"]')" in
*"model ridge has no parameter 'alpah' (its parameters: alpha; grid)"*) ok "an unknown parameter lists the valid ones" true ;;
*) ok "an unknown parameter lists the valid ones (got: $(res badparam 'd["error"]'))" false ;; esac

run_dag regbad failed
case "$(res regbad 'd["error"]')" in
*"unknown regression model 'naive_bayes' (known: ridge, ols, forest)"*) ok "a classifier in a regression: clear error" true ;;
*) ok "a classifier in a regression: clear error (got: $(res regbad 'd["error"]'))" false ;; esac
finish
