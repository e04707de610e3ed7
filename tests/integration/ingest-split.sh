#!/bin/sh
# SPDX-License-Identifier: MIT
# ingest-split.sh - ingest by byte ranges over map tasks (map_tasks > 1)
# gives the very bytes of a single-task ingest (map_tasks: 1): every
# partition's and schema.json's SHA-256 are equal, on a CSV
# (tests/fixtures/split_csv.py) with a BOM, CRLF, quoted fields holding
# commas, doubled quotes and newlines across the split points, blank
# lines, a column numeric in the first ranges and text in the last, dates
# and missing values.  The partitions, written by map tasks, are the
# driver's outputs (ABI 1.7 adoption), also when a map task is retried.
# predict writes each partition's predictions as predictions-NNNNN.csv
# from its map task: past `inline_rows` (lowered here to 1) with no
# predictions.csv and metrics from sufficient statistics, equal to the
# inline run's (but ROC AUC).
. "$(dirname "$0")/lib.sh"
start_cluster
python3 "$KILN_SRCDIR/tests/fixtures/split_csv.py" 3000 > "$T/t.csv"

# ingest ARGS... -> job id, after it succeeded
ingest() {
	id=$(k submit ingest -p file="$T/t.csv" "$@")
	wait_state "$id" succeeded 60 >&2
	echo "$id"
}
outs() { api GET "/api/v1/jobs/$1" | jq_ '" ".join(sorted(o["name"]+"="+o["sha"] for o in d["outputs"]))'; }

# The split points (ingest_split.c: the data's bytes cut in 7 equal
# shares) of the first comparison below: at least one falls inside a
# quoted field that holds a newline, so that the record start is found
# past it.
ok "a split point falls inside a quoted field with a newline" python3 - "$T/t.csv" <<'PY'
import re, sys
b = open(sys.argv[1], 'rb').read()
start = b.index(b'\r\n') + 2
L, M = len(b) - start, 7
spans = [m.span() for m in re.finditer(rb'(?<=[,\n])"(?:[^"]|"")*"', b)]
inside = [t for t in (start + k * (L // M) for k in range(1, M))
          if any(a < t < e and b'\n' in b[a:e] for a, e in spans)]
assert inside, "no split point inside a quoted field"
PY
one=$(ingest -p partitions=5 -p map_tasks=1)
many=$(ingest -p partitions=5 -p map_tasks=7)
eq "split ingest read 7 byte ranges" 7 \
	"$(api GET "/api/v1/jobs/$many" | jq_ 'd["result"].get("ranges")')"
eq "single-task ingest did not split" None \
	"$(api GET "/api/v1/jobs/$one" | jq_ 'd["result"].get("ranges")')"
eq "every partition and schema.json byte for byte equal" "$(outs "$one")" "$(outs "$many")"
eq "six outputs, each once" 6 "$(api GET "/api/v1/jobs/$many" | jq_ 'len(d["outputs"])')"
api GET "/api/v1/jobs/$many" | jq_ 'd["result"]'

# More ranges than partitions, fewer, and a column typed by the last range
# only (`mixed` is text only near the end); a classification label.
for args in "-p partitions=2 -p map_tasks=13" "-p partitions=16 -p map_tasks=3" \
            "-p partitions=3 -p map_tasks=5 -p label=y -p task=classification"; do
	# shellcheck disable=SC2086
	a=$(ingest $args -p map_tasks=1) b=$(ingest $args)
	eq "equal bytes with $args" "$(outs "$a")" "$(outs "$b")"
done
schema_b=$b

# One pass (map_tasks 0; split_min 0 splits a small file): the driver
# counts the records and types the columns from a sample of them; map
# tasks parse and write the partitions at once.  Where the sample does not
# settle the schema (`mixed` turns text late) or a value does not fit it
# (a level no sampled row has), every range is scanned first: the same
# bytes either way.
fx="$KILN_SRCDIR/tests/fixtures/split_csv.py"
python3 "$fx" 20000 3 settled > "$T/s.csv"
python3 "$fx" 20000 3 settled rare=6850 > "$T/r.csv"
python3 "$fx" 20000 3 > "$T/m.csv"
for f in s:1:-ptask=regression r:2:-ptask=regression m:2:-ptask=regression \
         s:1:-ptask=classification; do
	name=${f%%:*} passes=${f#*:} args=${f##*:}; passes=${passes%%:*}
	csv="$T/$name.csv"
	a=$(k submit ingest -p file="$csv" -p partitions=4 -p label=y "$args" -p map_tasks=1)
	b=$(k submit ingest -p file="$csv" -p partitions=4 -p label=y "$args" -p split_min=0)
	wait_state "$a" succeeded 60 && wait_state "$b" succeeded 60
	eq "$name.csv $args: equal bytes" "$(outs "$a")" "$(outs "$b")"
	eq "$name.csv $args: read in $passes passes" "$passes" \
		"$(api GET "/api/v1/jobs/$b" | jq_ 'd["result"].get("passes")')"
	[ "$name" = r ] && rare=$b
done
ok "the rare level's line is in the driver's log" sh -c "curl -s -H 'Authorization: Bearer $(token)' '$URL/api/v1/jobs/$rare/log' | grep -q \"r.csv:[0-9]*: column 'cat': 'zz' is not among the values of the sampled rows\""
# Edge files: a header and no rows; no line end after the last record;
# lone CR line ends (the split falls back to one task, same bytes).
printf 'a,b\r\n' > "$T/e0.csv"
head -c 50000 "$T/t.csv" | python3 -c 'import sys; b=sys.stdin.buffer.read(); sys.stdout.buffer.write(b[:b.rindex(b"\r\n")])' > "$T/e1.csv"
printf 'a,b\r1,x\r2,y\r3,"z\rw"\r' > "$T/e2.csv"
for f in e0 e1 e2; do
	a=$(k submit ingest -p file="$T/$f.csv" -p partitions=3 -p map_tasks=1)
	b=$(k submit ingest -p file="$T/$f.csv" -p partitions=3 -p map_tasks=3)
	wait_state "$a" succeeded 30 && wait_state "$b" succeeded 30
	eq "$f.csv: equal bytes" "$(outs "$a")" "$(outs "$b")"
done
b=$schema_b
sha=$(api GET "/api/v1/jobs/$b" | jq_ '[o["sha"] for o in d["outputs"] if o["name"]=="schema.json"][0]')
api GET "/api/v1/artifacts/$sha" > "$T/schema.json"
ok "mixed is categorical, d a date, lines anchored" python3 - "$T/schema.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c = {x["name"]: x for x in s["columns"]}
assert c["mixed"]["type"] == "categorical" and "seven" in c["mixed"]["levels"], c["mixed"]
assert c["x"]["type"] == "numeric" and c["x"]["missing"] > 100, c["x"]
assert c["d"]["type"] == "time" and c["d"]["unit"] == "date", c["d"]
assert s["rows"] == 3000 and len(s["lines"]) > 20, (s["rows"], len(s["lines"]))
PY

# Bad input in one range: the error names the CSV line, as one task would.
python3 - "$T/t.csv" "$T/bad.csv" <<'PY'
import sys
b = open(sys.argv[1], 'rb').read()
i = b.index(b'\r\n2900,')
open(sys.argv[2], 'wb').write(b[:i] + b',extra' + b[i:])
PY
bad=$(k submit ingest -p file="$T/bad.csv" -p map_tasks=4)
wait_state "$bad" failed 60
err=$(api GET "/api/v1/jobs/$bad" | jq_ 'd["error"]')
ln=$(python3 -c "import sys; b=open(sys.argv[1],'rb').read(); print(b[:b.index(b',extra')].count(b'\n')+1)" "$T/bad.csv")
case "$err" in *"bad.csv:$ln: expected 7 fields, found 8"*) ok "the error names line $ln" true ;;
	*) ok "the error names line $ln (got: $err)" false ;; esac

bad=$(k submit ingest -p file="$T/t.csv" -p map_tasks=300)
wait_state "$bad" failed 30
case "$(api GET "/api/v1/jobs/$bad" | jq_ 'd["error"]')" in *"'map_tasks' must be"*) ok "map_tasks out of range: a clear error" true ;;
	*) ok "map_tasks out of range: a clear error" false ;; esac

# Map-task outputs (ABI 1.7) with stagesum: task 2 fails its first attempt
# (retried), yet each sum-I.txt is the driver's output once, beside its
# own total.txt; two map tasks writing one name fail the driver.
id=$(k submit stagesum -p n=1000 -p tasks=4 -p outputs=1 -p fail_index=2 -p fail_once=1)
wait_state "$id" succeeded 30
eq "map outputs adopted once each, retry included" \
	"sum-0.txt sum-1.txt sum-2.txt sum-3.txt total.txt" \
	"$(api GET "/api/v1/jobs/$id" | jq_ '" ".join(sorted(o["name"] for o in d["outputs"]))')"
grep -q "stage .* task 2 (driver job $id) failed.*retrying" "$T/master.log"
ok "task 2 was retried" [ $? -eq 0 ]
sha=$(api GET "/api/v1/jobs/$id" | jq_ '[o["sha"] for o in d["outputs"] if o["name"]=="sum-2.txt"][0]')
eq "sum-2.txt holds task 2's sum (500+...+749)" 156125 "$(api GET "/api/v1/artifacts/$sha")"
id=$(k submit stagesum --retries 0 -p n=1000 -p tasks=3 -p outputs=2)
wait_state "$id" failed 30
err=$(api GET "/api/v1/jobs/$id" | jq_ 'd["error"]')
case "$err" in *"output 'sum.txt'"*) ok "a name taken twice fails the driver" true ;;
	*) ok "a name taken twice fails the driver (got: $err)" false ;; esac

# predict: per-partition outputs beside the inline predictions.csv.
BC="$KILN_SRCDIR/examples/data/breast_cancer.csv"
IRIS="$KILN_SRCDIR/examples/data/iris.csv"
cat > "$T/dags/pred.yaml" <<YAML
id: pred
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$BC", partitions: 3, label: diagnosis, map_tasks: 2 }
  - id: lr
    plugin: logreg
    depends_on: [ingest]
  - id: p_inline
    plugin: predict
    depends_on: [ingest, lr]
  - id: p_parts
    plugin: predict
    depends_on: [ingest, lr]
    params: { inline_rows: 1 }
  - id: iris
    plugin: ingest
    params: { file: "$IRIS", partitions: 3, label: "petal_width_(cm)" }
  - id: ols
    plugin: linreg
    depends_on: [iris]
    params: { exclude: species }
  - id: r_inline
    plugin: predict
    depends_on: [iris, ols]
  - id: r_parts
    plugin: predict
    depends_on: [iris, ols]
    params: { inline_rows: 1 }
  - id: rf
    plugin: readfile
    params: { path: "$T/t.csv" }
  - id: in1
    plugin: ingest
    depends_on: [rf]
    params: { partitions: 5, map_tasks: 1 }
  - id: in4
    plugin: ingest
    depends_on: [rf]
    params: { partitions: 5, map_tasks: 4 }
YAML
sleep 2.5
rid=$(api POST "/api/v1/dags/pred/trigger" '{}' | jq_ 'd["run_id"]')
ok "predict DAG succeeds" wait_run "$rid" success 60
for t in p_inline p_parts r_inline r_parts; do
	api GET "/api/v1/jobs/$(ti "$rid" $t job_id)" > "$T/$t.json"
done
eq "from an input (no file): split equals one task" \
	"$(outs "$(ti "$rid" in1 job_id)")" "$(outs "$(ti "$rid" in4 job_id)")"
eq "from an input: 4 ranges" 4 \
	"$(api GET "/api/v1/jobs/$(ti "$rid" in4 job_id)" | jq_ 'd["result"].get("ranges")')"
fetch_all() {  # fetch_all JOBFILE DIR: every output of the job into DIR
	mkdir -p "$2"
	python3 -c 'import json,sys; [print(o["name"], o["sha"]) for o in json.load(open(sys.argv[1]))["outputs"]]' "$1" |
	while read -r name sha; do api GET "/api/v1/artifacts/$sha" > "$2/$name"; done
}
for t in p_inline p_parts r_inline r_parts; do fetch_all "$T/$t.json" "$T/$t"; done
ok "per-partition predictions equal predictions.csv; metrics from sums" \
	python3 - "$T" <<'PY'
import json, os, sys
T = sys.argv[1]
for a, b, kind in (("p_inline", "p_parts", "c"), ("r_inline", "r_parts", "r")):
    A, B = os.path.join(T, a), os.path.join(T, b)
    parts = sorted(f for f in os.listdir(B) if f.startswith("predictions-"))
    assert parts == ["predictions-0000%d.csv" % i for i in range(3)], parts
    assert not os.path.exists(os.path.join(B, "predictions.csv"))
    assert "predictions-00000.csv" in os.listdir(A)     # inline writes both
    whole = open(os.path.join(A, "predictions.csv")).read().splitlines()
    cat = []
    for i, f in enumerate(parts):
        lines = open(os.path.join(B, f)).read().splitlines()
        assert lines[0] == whole[0], (lines[0], whole[0])
        cat += lines[1:]
    assert cat == whole[1:], (len(cat), len(whole))
    ra = json.load(open(os.path.join(T, a + ".json")))["result"]
    rb = json.load(open(os.path.join(T, b + ".json")))["result"]
    ma, mb = ra["metrics"], rb["metrics"]
    assert ra["rows"] == rb["rows"] and ra.get("predicted_counts") == rb.get("predicted_counts")
    keys = ["accuracy", "balanced_accuracy", "macro_f1", "log_loss"] if kind == "c" else ["mae", "rmse", "r2"]
    for k in keys:
        assert abs(ma[k] - mb[k]) <= 1e-9 * max(1, abs(ma[k])), (k, ma[k], mb[k])
    if kind == "c":
        assert ma["confusion"] == mb["confusion"]
        assert ma["roc_auc"] > 0.9 and mb["roc_auc"] is None and "roc_auc_skipped" in mb
PY

finish
