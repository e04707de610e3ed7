#!/bin/sh
# SPDX-License-Identifier: MIT
# models.sh - the bundled model plugins on a real 2-worker cluster, in DAGs
# after `ingest`: naive_bayes, linreg and logreg agree with scikit-learn
# (tests/fixtures/ml/linear.json) and do not depend on the partitioning;
# `predict` applies saved models (logreg, naive_bayes, linreg, and
# hand-written kmeans and forest files) and evaluates them; a categorical
# feature is one-hot encoded as scikit-learn's OneHotEncoder does, also by
# predict on data lacking a level; bad inputs
# (no rows, a constant column, a missing value, a model whose features the
# data lack) fail with clear messages instead of crashing; logreg's driver
# evaluating a small dataset itself (local_below) gives the coefficients of
# a stage per evaluation to 1e-9.
#
# Tasks of a DAG that read the same partitions are chained, and no two
# DAGs ingest identically, so that each run moves its own data.
. "$(dirname "$0")/lib.sh"
start_cluster
TOKEN=$(token)  # once: api() runs in subshells, which would make one each
FIX="$KILN_SRCDIR/tests/fixtures/ml/linear.json"
BC="$KILN_SRCDIR/examples/data/breast_cancer.csv"
IRIS="$KILN_SRCDIR/examples/data/iris.csv"

# fetch JOB NAME FILE - store the job's output NAME in FILE.
fetch() {
	sha=$(api GET "/api/v1/jobs/$1" | jq_ "[o['sha'] for o in d['outputs'] if o['name']=='$2'][0]")
	curl -s -H "Authorization: Bearer $(token)" "$URL/api/v1/artifacts/$sha" > "$3"
}
result() { api GET "/api/v1/jobs/$1" > "$T/result-$1.json"; echo "$T/result-$1.json"; }
jobid() { ti "$1" "$2" job_id; }
error_of() {
	e=$(api GET "/api/v1/jobs/$(jobid "$1" "$2")" | jq_ 'd["error"]')
	echo "# $1 $2: $e" >&2
	echo "$e"
}
trigger() { api POST "/api/v1/dags/$1/trigger" '{}' | jq_ 'd["run_id"]'; }
# run_is RUN STATE - wait for the run's end; if it is not STATE, say why.
run_is() {
	for _ in $(seq 1 600); do
		s=$(api GET "/api/v1/runs/$1" | jq_ 'd["state"]' 2>/dev/null)
		case "$s" in success|failed) break ;; esac
		sleep 0.2
	done
	[ "$s" = "$2" ] && return 0
	echo "# run $1 is '$s', not '$2'"
	api GET "/api/v1/runs/$1" | jq_ '"\n".join("# %s: %s %s" % (t["task"], t["state"], t.get("error")) for t in d["tasks"])'
	return 1
}
# has TEXT PATTERN... - TEXT matches every shell pattern.
has() {
	t=$1; shift
	for p in "$@"; do case "$t" in *$p*) ;; *) echo "# '$t' lacks '$p'"; return 1 ;; esac; done
}

# Breast cancer in 1, 4 and 7 partitions: naive Bayes and logistic
# regression; with 4, predictions from both models.
for P in 1 4 7; do
	cat > "$T/dags/bc$P.yaml" <<YAML
id: bc$P
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$BC", partitions: $P, label: diagnosis }
  - id: nb
    plugin: naive_bayes
    depends_on: [ingest]
  - id: lr
    plugin: logreg
    depends_on: [ingest, nb]
YAML
done
# 7 partitions: every evaluation a stage (569 x 30 is below local_below).
printf '    params: { local_below: 0 }\n' >> "$T/dags/bc7.yaml"
cat >> "$T/dags/bc4.yaml" <<YAML
  - id: pred_lr
    plugin: predict
    depends_on: [ingest, lr]
  - id: pred_nb
    plugin: predict
    depends_on: [ingest, nb, pred_lr]
  - id: lr_dist
    plugin: logreg
    depends_on: [ingest, pred_nb]
    params: { local_below: 0 }
YAML

# Iris: petal width from the other three numeric columns, OLS and ridge.
cat > "$T/dags/iris.yaml" <<YAML
id: iris
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$IRIS", partitions: 3, label: species }
  - id: ols
    plugin: linreg
    depends_on: [ingest]
    params: { label: "petal_width_(cm)", exclude: species }
  - id: ridge
    plugin: linreg
    depends_on: [ingest, ols]
    params: { label: "petal_width_(cm)", exclude: species, alpha: 1.0 }
  - id: pred
    plugin: predict
    depends_on: [ingest, ols, ridge]
    params: { model: ols/model.json }
  - id: km_file
    plugin: readfile
    params: { path: "$T/kmeans.json", name: model.json }
  - id: pred_km
    plugin: predict
    depends_on: [ingest, km_file, pred]
  - id: forest_file
    plugin: readfile
    params: { path: "$T/forest.json", name: model.json }
  - id: pred_forest
    plugin: predict
    depends_on: [ingest, forest_file, pred_km]
  - id: ridge_oh
    plugin: linreg
    depends_on: [ingest, pred_forest]
    params: { label: "petal_width_(cm)", alpha: 1.0 }
  - id: pred_oh
    plugin: predict
    depends_on: [ingest, ridge_oh]
    params: { model: ridge_oh/model.json }
YAML
# The first 100 rows of iris (no virginica) with the one-hot model above,
# triggered once that model is written to $T/ridge_oh.json.
head -101 "$IRIS" > "$T/iris100.csv"
cat > "$T/dags/iris100.yaml" <<YAML
id: iris100
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$T/iris100.csv", partitions: 2, label: species }
  - id: model
    plugin: readfile
    params: { path: "$T/ridge_oh.json", name: model.json }
  - id: pred
    plugin: predict
    depends_on: [ingest, model]
YAML
# Hand-written models: two centres; one stump (petal length <= 2.45 is
# setosa, the rest half versicolor, half virginica).
cat > "$T/kmeans.json" <<'JSON'
{"type": "kmeans", "dataset": {"features": ["petal_length_(cm)", "petal_width_(cm)"],
 "label": null, "classes": []},
 "model": {"type": "kmeans", "k": 2, "d": 2, "centres": [[1.5, 0.25], [4.5, 1.4]]}}
JSON
cat > "$T/forest.json" <<'JSON'
{"type": "forest", "dataset": {"features": ["petal_length_(cm)"], "label": "species",
 "label_categorical": true, "classes": ["setosa", "versicolor", "virginica"]},
 "model": {"type": "forest", "task": "classification", "nclasses": 3, "d": 1,
  "first_tree": 0, "trees": [{"feature": [0, -1, -1], "threshold": [2.45, 0, 0],
  "left": [1, -1, -1], "right": [2, -1, -1],
  "value": [0.333, 0.333, 0.334, 1, 0, 0, 0, 0.5, 0.5], "importance": [1]}]}}
JSON

# Bad inputs.
printf 'x1,x2,t\n' > "$T/empty.csv"
python3 - "$T" <<'PY'
import random, sys
t = sys.argv[1]
random.seed(7)
with open(t + "/const.csv", "w") as f:
    f.write("x1,c,x2,t,y\n")
    for i in range(60):
        x1, x2 = random.gauss(0, 1), random.gauss(3, 2)
        y = "a" if x1 + random.gauss(0, 0.5) < 0 else "b"
        f.write(f"{x1},5,{x2},{2 * x1 - x2 + random.gauss(0, 0.1)},{y}\n")
with open(t + "/nan.csv", "w") as f:
    f.write("x1,x2,y\n")
    for i in range(40):
        x1 = "" if i == 27 else str(random.gauss(0, 1))
        f.write(f"{x1},{random.gauss(0, 1)},{'a' if i % 2 else 'b'}\n")
PY
cat > "$T/dags/empty.yaml" <<YAML
id: empty
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$T/empty.csv", partitions: 2, label: t }
  - id: lin
    plugin: linreg
    depends_on: [ingest]
YAML
cat > "$T/dags/const.yaml" <<YAML
id: const
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$T/const.csv", partitions: 3, label: y }
  - id: nb
    plugin: naive_bayes
    depends_on: [ingest]
    params: { exclude: t }
  - id: ridge
    plugin: linreg
    depends_on: [ingest, nb]
    params: { label: t, exclude: y, alpha: 0.5 }
YAML
cat > "$T/dags/const_ols.yaml" <<YAML
id: const_ols
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$T/const.csv", partitions: 2, label: y }
  - id: ols
    plugin: linreg
    depends_on: [ingest]
    params: { label: t, exclude: y }
YAML
cat > "$T/dags/onehot_ols.yaml" <<YAML
id: onehot_ols
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$IRIS", partitions: 2, label: species }
  - id: ols
    plugin: linreg
    depends_on: [ingest]
    params: { label: "petal_width_(cm)" }
YAML
cat > "$T/dags/nan.yaml" <<YAML
id: nan
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$T/nan.csv", partitions: 2, label: y }
  - id: nb
    plugin: naive_bayes
    depends_on: [ingest]
YAML
# An iris model applied to breast cancer data: none of its features.
cat > "$T/dags/wrong.yaml" <<YAML
id: wrong
tasks:
  - id: iris
    plugin: ingest
    params: { file: "$IRIS", partitions: 2, label: species }
  - id: ols
    plugin: linreg
    depends_on: [iris]
    params: { label: "petal_width_(cm)", exclude: species }
  - id: bc
    plugin: ingest
    params: { file: "$BC", partitions: 2, label: diagnosis }
  - id: pred
    plugin: predict
    depends_on: [bc, ols]
YAML
sleep 2.5

# Start every run, then check them in turn (the cluster runs them at once).
for d in bc1 bc4 bc7 iris empty const const_ols onehot_ols nan wrong; do
	eval "R_$d=\$(trigger $d)"
done
for d in bc1 bc4 bc7 iris const; do
	eval "ok \"run $d succeeds\" run_is \"\$R_$d\" success"
done
for d in empty const_ols onehot_ols nan wrong; do
	eval "ok \"run $d fails\" run_is \"\$R_$d\" failed"
done

# ---- naive Bayes against scikit-learn, and across partitionings.
for P in 1 4 7; do
	eval "rid=\$R_bc$P"
	fetch "$(jobid "$rid" nb)" model.json "$T/nb$P.json"
	cp "$(result "$(jobid "$rid" nb)")" "$T/nbres$P.json"
	cp "$(result "$(jobid "$rid" lr)")" "$T/lrres$P.json"
done
cp "$(result "$(jobid "$R_bc4" lr_dist)")" "$T/lrres4d.json"
fetch "$(jobid "$R_bc4" pred_nb)" predictions.csv "$T/pred_nb.csv"
ok "naive_bayes theta, var, prior and epsilon match scikit-learn to 1e-9" python3 - "$FIX" "$T/nb4.json" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))["nb_bc"]
f = json.load(open(sys.argv[2]))
m = f["model"]
assert f["type"] == "naive_bayes" and f["dataset"]["classes"] == ["benign", "malignant"], f["dataset"]
def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(abs(a), abs(b))
bad = []
for key in ("theta", "var"):
    for k, row in enumerate(ref[key]):
        for j, v in enumerate(row):
            if not close(m[key][k][j], v):
                bad.append((key, k, j, m[key][k][j], v))
for k, v in enumerate(ref["prior"]):
    if not close(m["prior"][k], v):
        bad.append(("prior", k, m["prior"][k], v))
if not close(m["epsilon"], ref["epsilon"]):
    bad.append(("epsilon", m["epsilon"], ref["epsilon"]))
assert not bad, bad[:5]
PY
ok "naive_bayes result: classes, priors, training accuracy" python3 - "$T/nbres4.json" "$FIX" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["result"]
ref = json.load(open(sys.argv[2]))["nb_bc"]
assert r["classes"] == ["benign", "malignant"], r
assert all(abs(a - b) <= 1e-12 for a, b in zip(r["priors"], ref["prior"])), r
assert 0.9 < r["accuracy"] <= 1 and r["rows"] == 569 and r["fit_ms"] >= 0, r
PY
ok "naive_bayes probabilities (via predict) match scikit-learn" python3 - "$FIX" "$T/pred_nb.csv" <<'PY'
import csv, json, sys
ref = json.load(open(sys.argv[1]))["nb_bc"]
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == 569
for i, p in zip(ref["proba_rows"], ref["proba"]):
    got = [float(rows[i]["p_benign"]), float(rows[i]["p_malignant"])]
    for a, b in zip(got, p):
        assert abs(a - b) <= 1e-9 * max(abs(b), 1e-300) or abs(a - b) < 1e-15, (i, got, p)
PY
ok "naive_bayes with 1, 4 and 7 partitions: the same model to 1e-9" python3 - "$T/nb1.json" "$T/nb4.json" "$T/nb7.json" <<'PY'
import json, sys
ms = [json.load(open(p))["model"] for p in sys.argv[1:]]
def flat(m):
    return [v for k in ("theta", "var") for row in m[k] for v in row] + m["prior"] + [m["epsilon"]]
a = flat(ms[0])
for m in ms[1:]:
    for x, y in zip(a, flat(m)):
        assert abs(x - y) <= 1e-9 * max(abs(x), abs(y)), (x, y)
PY

# ---- logistic regression (the existing plugin) against scikit-learn.
ok "logreg: log loss sum matches scikit-learn to 1e-6 relative" python3 - "$FIX" "$T/lrres4.json" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))["logreg_bc"]["log_loss_sum"]
r = json.load(open(sys.argv[2]))["result"]
s = r["log_loss"] * r["rows"]
assert abs(s - ref) <= 1e-6 * ref, (s, ref)
PY
ok "logreg with 1, 4 and 7 partitions: coefficients equal to 1e-6" python3 - "$T/lrres1.json" "$T/lrres4.json" "$T/lrres7.json" <<'PY'
import json, sys
rs = [json.load(open(p))["result"] for p in sys.argv[1:]]
def flat(r):
    return [v for row in r["coef"] for v in row] + r["intercept"]
a = flat(rs[0])
for r in rs[1:]:
    for x, y in zip(a, flat(r)):
        assert abs(x - y) <= 1e-6 * max(1.0, abs(x)), (x, y)
PY

ok "logreg local_below: the driver's own evaluations give the stages' coefficients to 1e-9" python3 - "$T/lrres4.json" "$T/lrres4d.json" "$T/lrres7.json" <<'PY'
import json, sys
loc, dist, d7 = [json.load(open(p))["result"] for p in sys.argv[1:]]
assert loc["local"] is True and dist["local"] is False and d7["local"] is False, (loc["local"], dist["local"])
assert loc["evaluations"] == dist["evaluations"] == loc["stages"], (loc["evaluations"], dist["evaluations"])
def flat(r):
    return [v for row in r["coef"] for v in row] + r["intercept"]
for x, y in zip(flat(loc), flat(dist)):
    assert abs(x - y) <= 1e-9 * max(1.0, abs(x)), (x, y)
assert abs(loc["log_loss"] - dist["log_loss"]) <= 1e-12, (loc["log_loss"], dist["log_loss"])
PY

# A driver reads only the dataset's schema and hands the partitions to its
# map tasks: the worker running it never fetches a partition for it.  (Each
# fetch is logged "job ID: fetched input NAME"; a worker keeps the outputs
# of its own tasks, so a driver placed beside its ingest fetches nothing.)
lj=$(jobid "$R_bc7" lr)
ok "the logreg driver of 7 partitions fetched no partition" sh -c \
	"! grep -h 'job $lj: fetched input' '$T'/w*.log | grep -q kcol"

# ---- predict with the logreg model on its training data.
pj=$(jobid "$R_bc4" pred_lr)
fetch "$pj" predictions.csv "$T/pred_lr.csv"
fetch "$pj" metrics.json "$T/metrics_lr.json"
ok "predict(logreg): accuracy > 0.95, 569 predictions, metrics.json" python3 - "$(result "$pj")" "$T/pred_lr.csv" "$T/metrics_lr.json" "$FIX" <<'PY'
import csv, json, sys
r = json.load(open(sys.argv[1]))["result"]
m = r["metrics"]
assert m["accuracy"] > 0.95 and m["roc_auc"] > 0.99, m
assert m["confusion"][0][0] + m["confusion"][1][1] == round(m["accuracy"] * 569), m
assert sum(map(sum, m["confusion"])) == 569 and m["classes"] == ["benign", "malignant"]
assert 0 < m["balanced_accuracy"] <= 1 and 0 < m["macro_f1"] <= 1
# the mean log loss of the predictions is the training log loss
ref = json.load(open(sys.argv[4]))["logreg_bc"]["log_loss_sum"] / 569
assert abs(m["log_loss"] - ref) <= 1e-6 * ref, (m["log_loss"], ref)
rows = list(csv.reader(open(sys.argv[2])))
assert rows[0] == ["row", "predicted", "p_benign", "p_malignant"], rows[0]
assert len(rows) == 570 and [int(x[0]) for x in rows[1:]] == list(range(569))
assert json.load(open(sys.argv[3])) == m
assert r["rows"] == 569 and sum(r["predicted_counts"].values()) == 569
PY

# ---- linear and ridge regression against scikit-learn.
ok "linreg OLS and ridge on iris match scikit-learn to 1e-9" python3 - "$FIX" "$(result "$(jobid "$R_iris" ols)")" "$(result "$(jobid "$R_iris" ridge)")" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))["linreg_iris"]
for path, case in ((sys.argv[2], "ols"), (sys.argv[3], "ridge")):
    r = json.load(open(path))["result"]
    want = ref[case]
    assert list(r["coef"]) == ref["features"], r["coef"]
    for name, v in zip(ref["features"], want["coef"]):
        assert abs(r["coef"][name] - v) <= 1e-9 * abs(v), (case, name, r["coef"][name], v)
    assert abs(r["intercept"] - want["intercept"]) <= 1e-9 * abs(want["intercept"]), (case, r)
    assert r["alpha"] == want.get("alpha", 0.0)
    assert 0.9 < r["r2"] < 1 and 0 < r["rmse"] < 0.3 and r["fit_ms"] >= 0, r
PY
# ---- a categorical feature, one-hot encoded, against scikit-learn's
# OneHotEncoder + Ridge; predict on data lacking one of its levels.
ok "ridge with species one-hot matches scikit-learn to 1e-9" python3 - "$FIX" "$(result "$(jobid "$R_iris" ridge_oh)")" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))["linreg_iris_onehot"]
r = json.load(open(sys.argv[2]))["result"]
assert list(r["coef"]) == ref["features"], r["coef"]
for name, v in zip(ref["features"], ref["ridge"]["coef"]):
    assert abs(r["coef"][name] - v) <= 1e-9 * abs(v), (name, r["coef"][name], v)
w = ref["ridge"]["intercept"]
assert abs(r["intercept"] - w) <= 1e-9 * abs(w), (r["intercept"], w)
PY
fetch "$(jobid "$R_iris" ridge_oh)" model.json "$T/ridge_oh.json"
fetch "$(jobid "$R_iris" pred_oh)" predictions.csv "$T/pred_oh.csv"
ok "predict(one-hot ridge): R^2 equals the training one" python3 - "$(result "$(jobid "$R_iris" ridge_oh)")" "$(result "$(jobid "$R_iris" pred_oh)")" <<'PY'
import json, sys
tr = json.load(open(sys.argv[1]))["result"]
m = json.load(open(sys.argv[2]))["result"]["metrics"]
assert m["rows"] == 150 and abs(m["r2"] - tr["r2"]) <= 1e-9 * tr["r2"], (m, tr)
PY
R_iris100=$(trigger iris100)
ok "run iris100 succeeds" run_is "$R_iris100" success
fetch "$(jobid "$R_iris100" pred)" predictions.csv "$T/pred_oh100.csv"
ok "a level the data lack is a column of zeros: the same 100 predictions" python3 - "$T/pred_oh.csv" "$T/pred_oh100.csv" <<'PY'
import csv, sys
a = list(csv.DictReader(open(sys.argv[1])))[:100]
b = list(csv.DictReader(open(sys.argv[2])))
assert len(b) == 100, len(b)
for x, y in zip(a, b):
    assert abs(float(x["predicted"]) - float(y["predicted"])) <= 1e-12, (x, y)
PY

fetch "$(jobid "$R_iris" ols)" model.json "$T/ols.json"
eq "linreg writes a linreg model file" linreg "$(jq_ 'd["type"]' < "$T/ols.json")"
ok "predict(linreg): R^2 and RMSE equal the training ones" python3 - "$(result "$(jobid "$R_iris" ols)")" "$(result "$(jobid "$R_iris" pred)")" <<'PY'
import json, sys
tr = json.load(open(sys.argv[1]))["result"]
m = json.load(open(sys.argv[2]))["result"]["metrics"]
assert m["task"] == "regression" and m["rows"] == 150, m
for k in ("r2", "rmse", "mae"):
    assert abs(m[k] - tr[k]) <= 1e-9 * abs(tr[k]), (k, m[k], tr[k])
PY
pj=$(jobid "$R_iris" pred_km)
fetch "$pj" predictions.csv "$T/pred_km.csv"
ok "predict(kmeans): nearest centre, 50 rows in the setosa cluster" python3 - "$(result "$pj")" "$T/pred_km.csv" <<'PY'
import csv, json, sys
r = json.load(open(sys.argv[1]))["result"]
assert r["task"] == "clustering" and r["metrics"] is None, r
assert r["predicted_counts"] == {"0": 50, "1": 100}, r
rows = list(csv.DictReader(open(sys.argv[2])))
assert [x["cluster"] for x in rows[:50]] == ["0"] * 50 and rows[100]["cluster"] == "1"
PY
ok "predict(forest): the stump's probabilities and metrics" python3 - "$(result "$(jobid "$R_iris" pred_forest)")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["result"]
m = r["metrics"]
# setosa right; versicolor/virginica tie -> versicolor (lowest code)
assert abs(m["accuracy"] - 100 / 150) < 1e-12, m
assert m["confusion"] == [[50, 0, 0], [0, 50, 0], [0, 50, 0]], m
assert r["predicted_counts"] == {"setosa": 50, "versicolor": 100, "virginica": 0}, r
PY

# ---- bad inputs.
e=$(error_of "$R_empty" lin)
ok "0 rows: a clear error" has "$e" "0 rows"
jid=$(jobid "$R_const" nb)
ok "a constant column: naive_bayes still works" python3 -c "
import json,sys; r=json.load(open('$(result "$jid")'))['result']; assert r['accuracy'] > 0.7, r"
ok "a constant column: ridge (alpha > 0) works" python3 -c "
import json,sys; r=json.load(open('$(result "$(jobid "$R_const" ridge)")'))['result']; assert r['r2'] > 0.99 and abs(r['coef']['c']) < 1e-9, r"
e=$(error_of "$R_const_ols" ols)
ok "a constant column: OLS fails naming it" has "$e" "column 'c'" "constant"
e=$(error_of "$R_onehot_ols" ols)
ok "one-hot levels summing to one: OLS fails naming the collinear one" has "$e" "column 'species=" "collinear" "alpha > 0"
e=$(error_of "$R_nan" nb)
ok "an empty field: a clear error naming the column" has "$e" "column 'x1'" "missing"
e=$(error_of "$R_wrong" pred)
ok "predict without the model's features: a clear error" has "$e" "feature" "sepal_length_(cm)" "not in the dataset"
ok "no worker crashed" python3 -c "
import json,urllib.request,sys
h=json.load(urllib.request.urlopen('$URL/api/v1/health')); sys.exit(h['workers_alive'] != 2)"
finish
