#!/bin/sh
# SPDX-License-Identifier: MIT
# results.sh - getting results out with the CLI: `kiln artifact get/list`,
# `kiln leaderboard`, `kiln forecast show` and `kiln job`, on a small
# benchmark and a forecast of the example data, each checked against the
# master's JSON and the artifacts' bytes from the API; a wrong output name
# lists the right ones, a corrupted artifact is refused and leaves no
# file, and the exit statuses follow the CLI's convention (0 done, 1 the
# master or the data said no, 2 usage).
. "$(dirname "$0")/lib.sh"
start_cluster
D="$KILN_SRCDIR/examples/data"

cat > "$T/dags/bc.yaml" <<YAML
id: bc
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$D/breast_cancer.csv", partitions: 2, label: diagnosis }
  - id: benchmark
    plugin: benchmark
    depends_on: [ingest]
    params: { dataset: bc, models: [logreg, naive_bayes], folds: 3, seed: 1 }
YAML
cat > "$T/dags/sun.yaml" <<YAML
id: sun
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$D/sunspots.csv", partitions: 2 }
  - id: fc
    plugin: forecast
    depends_on: [ingest]
    params: { method: ar, p: 9, horizon: 11, time: year }
YAML
sleep 2.5
run() {  # run DAG - trigger it and wait for its success
	rid=$(api POST "/api/v1/dags/$1/trigger" '{}' | jq_ 'd["run_id"]')
	ok "dag $1 succeeds" wait_run "$rid" success 60
}
run bc
B=$(ti "$rid" benchmark job_id)
run sun
F=$(ti "$rid" fc job_id)
case "$B $F" in [0-9]*\ [0-9]*) ;; *) echo "no jobs: '$B' '$F'"; exit 1 ;; esac
api GET "/api/v1/jobs/$B" > "$T/b.json"
api GET "/api/v1/jobs/$F" > "$T/f.json"
# out JOBFILE NAME - an output's sha from the API's JSON.
out() { jq_ "[o['sha'] for o in d['outputs'] if o['name']=='$2'][0]" < "$1"; }
# fetch SHA FILE - the artifact's bytes straight from the API.
fetch() { curl -s -H "Authorization: Bearer $(token)" "$URL/api/v1/artifacts/$1" > "$2"; }

# artifact get / list
lsha=$(out "$T/b.json" leaderboard.csv)
fetch "$lsha" "$T/api-lb.csv"
k artifact get "$B" leaderboard.csv -o "$T/lb.csv"
eq "artifact get JOB NAME -o FILE exits 0" 0 $?
eq "the file has the output's sha" "$lsha" "$(sha256sum "$T/lb.csv" | cut -d' ' -f1)"
ok "no FILE.part is left" test ! -e "$T/lb.csv.part"
k artifact get "$lsha" > "$T/lb2.csv"
eq "artifact get SHA to stdout exits 0" 0 $?
ok "artifact get SHA writes the same bytes" cmp -s "$T/lb2.csv" "$T/api-lb.csv"
k artifact get "$B" nope.csv 2> "$T/err" > /dev/null
eq "a wrong output name exits 1" 1 $?
eq "and lists the job's outputs" \
	"kiln: job $B has no output 'nope.csv'; its outputs: $(jq_ "', '.join(o['name'] for o in d['outputs'])" < "$T/b.json")" \
	"$(cat "$T/err")"
k artifact get not-a-sha > /dev/null 2>&1
eq "a bad SHA is a usage error" 2 $?
k artifact get x leaderboard.csv > /dev/null 2>&1
eq "a bad job ID is a usage error" 2 $?
k artifact get 9999 leaderboard.csv > /dev/null 2>&1
eq "an unknown job exits 1" 1 $?
k artifact list "$B" > "$T/list"
eq "artifact list: name, size and sha of every output" \
	"$(jq_ "'|'.join('%s %d %s' % (o['name'], o['size'], o['sha']) for o in d['outputs'])" < "$T/b.json")" \
	"$(tail -n +2 "$T/list" | awk '{ printf "%s%s %s %s", (NR > 1 ? "|" : ""), $1, $2, $3 }')"
k job "$B" --outputs > "$T/list2"
ok "kiln job --outputs lists the same" cmp -s "$T/list" "$T/list2"

# leaderboard
k leaderboard "$B" > "$T/lb.txt"
eq "leaderboard JOB exits 0" 0 $?
best=$(jq_ 'd["result"]["best"]' < "$T/b.json")
eq "the first row's model is the result's best" "1 $best" \
	"$(awk '$1 == "RANK" { getline; print $1, $2; exit }' "$T/lb.txt")"
eq "every model has a row, in the result's order" \
	"$(jq_ "' '.join(m['model'] for m in d['result']['models'])" < "$T/b.json")" \
	"$(awk '$1 == "RANK" { on = 1; next } on && /^[0-9]/ { printf "%s%s", n++ ? " " : "", $2 }' "$T/lb.txt")"
mean=$(jq_ "'%.4f ± %.4f' % (d['result']['models'][0]['metrics']['roc_auc']['mean'], d['result']['models'][0]['metrics']['roc_auc']['std'])" < "$T/b.json")
ok "the primary metric as mean ± std, 4 decimals ($mean)" grep -q "ROC_AUC ↑.*" "$T/lb.txt"
ok "  in the best model's row" sh -c "grep '^1 ' '$T/lb.txt' | grep -qF '$mean'"
k leaderboard bc > "$T/lb-dag.txt"
ok "leaderboard DAG shows the latest successful run's benchmark" cmp -s "$T/lb.txt" "$T/lb-dag.txt"
k leaderboard "$B" --csv > "$T/lb3.csv"
ok "leaderboard --csv is leaderboard.csv byte for byte" cmp -s "$T/lb3.csv" "$T/api-lb.csv"
k leaderboard "$B" --json > "$T/lb.json"
ok "leaderboard --json is the result" python3 - "$T/lb.json" "$T/b.json" <<'PY'
import json, sys
assert json.load(open(sys.argv[1])) == json.load(open(sys.argv[2]))["result"]
PY
k leaderboard "$F" > /dev/null 2> "$T/err"
eq "a job without a leaderboard exits 1" "1 kiln: job $F (plugin forecast) has no leaderboard" "$? $(cat "$T/err")"
k leaderboard nodag > /dev/null 2> "$T/err"
eq "an unknown DAG exits 1, named" "1 kiln: no DAG 'nodag' (HTTP 404)" "$? $(cat "$T/err")"
k leaderboard sun > /dev/null 2> "$T/err"
eq "a DAG without a benchmark task exits 1" "1 kiln: run $rid of DAG sun has no task with a leaderboard (a benchmark task)" "$? $(cat "$T/err")"
k leaderboard "$B" --csv --json > /dev/null 2>&1
eq "--csv with --json is a usage error" 2 $?

# forecast show
fsha=$(out "$T/f.json" forecasts.csv)
fetch "$fsha" "$T/api-fc.csv"
k forecast show "$F" --csv > "$T/fc.csv"
ok "forecast show --csv is forecasts.csv byte for byte" cmp -s "$T/fc.csv" "$T/api-fc.csv"
k forecast show "$F" > "$T/fc.txt"
eq "forecast show: a header and 11 years" "year sunspots|12" \
	"$(head -n 1 "$T/fc.txt" | tr -s ' ')|$(wc -l < "$T/fc.txt")"
eq "  each value to 4 significant digits" \
	"$(jq_ "' '.join('%d:%.4g' % (2009 + i, v) for i, v in enumerate(d['result']['series']['sunspots']['forecast']))" < "$T/f.json")" \
	"$(tail -n +2 "$T/fc.txt" | awk '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $1, $2 }')"
k forecast show "$F" --json > "$T/fc.json"
ok "forecast show --json is the result" python3 - "$T/fc.json" "$T/f.json" <<'PY'
import json, sys
assert json.load(open(sys.argv[1])) == json.load(open(sys.argv[2]))["result"]
PY
k forecast show "$B" > /dev/null 2>&1
eq "a job without forecasts exits 1" 1 $?

# kiln job, readably
k job "$F" > "$T/job-f.txt"
eq "kiln job: a long array cut short, numbers to 4 digits" \
	"forecast: [$(jq_ "', '.join('%.4g' % v for v in d['result']['series']['sunspots']['forecast'][:8])" < "$T/f.json"), ... (3 more)]" \
	"$(grep -m1 'forecast: \[' "$T/job-f.txt" | sed 's/^ *//')"
eq "  integers as integers, nested by indentation" "    sunspots:|      method: ar|  rows: 309" \
	"$(grep -E '^ *(sunspots:|method:|rows:)' "$T/job-f.txt" | paste -sd'|')"
k job "$B" > "$T/job-b.txt"
eq "kiln job: a leaderboard's best, and its models as the table" "  best: $best|    1     $best" \
	"$(grep -E '^  best:|^    1 ' "$T/job-b.txt" | cut -c1-$((10 + ${#best})) | paste -sd'|')"
ok "  and its outputs" grep -q "^  leaderboard.csv  *[0-9]*  *$lsha" "$T/job-b.txt"
k job "$B" --json > "$T/job-b.json"
ok "kiln job --json is the master's JSON" python3 - "$T/job-b.json" "$T/b.json" <<'PY'
import json, sys
assert json.load(open(sys.argv[1])) == json.load(open(sys.argv[2]))
PY

# What arrives is checked: the master's copy of report.md altered on disk.
rsha=$(out "$T/b.json" report.md)
python3 - "$T/master/artifacts/$(echo "$rsha" | cut -c1-2)/$rsha" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[0] ^= 1
open(p, "wb").write(b)
PY
k artifact get "$B" report.md -o "$T/report.md" 2> /dev/null
eq "bytes altered are refused (signed reply: its signature)" 1 $?
ok "  and leave no file" test ! -e "$T/report.md" -a ! -e "$T/report.md.part"
# With a token the reply is not signed: the SHA-256 is the check.
tok=$(token)
KILN_TOKEN=$tok k artifact get "$B" report.md -o "$T/report.md" 2> "$T/err"
eq "bytes that do not hash to the sha exit 1 (token)" 1 $?
ok "  and say so" grep -q "what arrived has SHA-256" "$T/err"
ok "  and leave no file" test ! -e "$T/report.md" -a ! -e "$T/report.md.part"
KILN_TOKEN=$tok k artifact get "$B" leaderboard.csv > "$T/lb4.csv"
ok "  while intact bytes pass (token)" cmp -s "$T/lb4.csv" "$T/api-lb.csv"
finish
