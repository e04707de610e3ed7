#!/bin/sh
# SPDX-License-Identifier: MIT
# forecast.sh - the bundled `forecast` plugin on datasets made by `ingest`:
# AR(9) on the sunspots matches statsmodels' forecasts, additive
# Holt-Winters fits at least as well as statsmodels, many series spread
# over 3 map tasks give the single-task answer, and bad input (a series
# shorter than two seasons, an unknown method, a missing value, a
# categorical column) fails with a clear message.
. "$(dirname "$0")/lib.sh"
start_cluster
FIX="$KILN_SRCDIR/tests/fixtures/ml/forecast.json"
SUN="$KILN_SRCDIR/examples/data/sunspots.csv"

# Three series from the sunspots: as is, doubled, shifted.
awk -F, 'NR == 1 { print "year,a,b,c"; next } { print $1 "," $2 "," $2 * 2 "," $2 + 5 }' \
	"$SUN" > "$T/three.csv"
head -n 6 "$SUN" > "$T/short.csv"
awk -F, 'NR == 1 { print $0 ",site"; next } { print $0 "," (NR % 2 ? "north" : "south") }' \
	"$SUN" > "$T/site.csv"
head -n 40 "$SUN" | awk 'NR == 21 { print $0; print "1720,"; next } NR > 21 { split($0, f, ","); print f[1] + 1 "," f[2]; next } { print }' > "$T/nan.csv"

# dag ID FILE FORECAST_PARAMS - a DAG of ingest (2 partitions) -> forecast.
dag() {
	cat > "$T/dags/$1.yaml" <<YAML
id: $1
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$2", partitions: 2 }
  - id: fc
    plugin: forecast
    depends_on: [ingest]
    params: { $3 }
YAML
}
dag ar "$SUN" 'method: ar, p: 9, horizon: 11, time: year'
dag hw "$SUN" 'method: holt_winters_add, season: 11, horizon: 11'
dag many1 "$T/three.csv" 'method: holt_winters_add, season: 11, horizon: 11, time: year, tasks: 1'
dag many3 "$T/three.csv" 'method: holt_winters_add, season: 11, horizon: 11, time: year, tasks: 3'
dag short "$T/short.csv" 'method: holt_winters_add, season: 11, horizon: 11, time: year'
dag bogus "$SUN" 'method: bogus'
dag nan "$T/nan.csv" 'method: ses, time: year'
dag site "$T/site.csv" 'method: ses, time: year'
sleep 2.5

# run ID STATE - trigger DAG ID, wait for STATE; the fc task's job in $J.
run() {
	rid=$(api POST "/api/v1/dags/$1/trigger" '{}' | jq_ 'd["run_id"]')
	ok "dag $1 ends $2" wait_run "$rid" "$2" 90
	J=$(ti "$rid" fc job_id)
}
job() { api GET "/api/v1/jobs/$J"; }

run ar success
job > "$T/ar.json"
ok "AR(9) forecasts equal statsmodels' to 1e-9" python3 - "$T/ar.json" "$FIX" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["result"]["series"]["sunspots"]
want = json.load(open(sys.argv[2]))["ar"]["forecast"]
got = r["forecast"]
assert r["method"] == "ar" and r["params"]["p"] == 9, r
assert len(got) == len(want) == 11
bad = [(g, w) for g, w in zip(got, want) if abs(g - w) > 1e-9 * max(1.0, abs(w))]
assert not bad, bad
PY
arts=$(job | jq_ '" ".join(o["name"] for o in d.get("outputs", []))')
case "$arts" in *forecasts.csv*model.json*|*model.json*forecasts.csv*) ok "outputs forecasts.csv and model.json" true ;;
*) ok "outputs forecasts.csv and model.json (got: $arts)" false ;; esac
sha=$(job | jq_ '[o["sha"] for o in d["outputs"] if o["name"]=="forecasts.csv"][0]')
curl -s -H "Authorization: Bearer $(token)" "$URL/api/v1/artifacts/$sha" > "$T/fc.csv"
eq "forecasts.csv continues the years" "year,sunspots 2009 2019" \
	"$(head -n 1 "$T/fc.csv") $(sed -n 2p "$T/fc.csv" | cut -d, -f1) $(tail -n 1 "$T/fc.csv" | cut -d, -f1)"
sha=$(job | jq_ '[o["sha"] for o in d["outputs"] if o["name"]=="model.json"][0]')
curl -s -H "Authorization: Bearer $(token)" "$URL/api/v1/artifacts/$sha" > "$T/model.json"
ok "model.json holds the AR(9) model" python3 - "$T/model.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
assert m["type"] == "forecast", m
s = m["models"]["sunspots"]
assert s["method"] == "ar" and s["p"] == 9 and len(s["coef"]) == 10, s
PY

run hw success
job > "$T/hw.json"
ok "Holt-Winters (additive, 11) SSE <= statsmodels'" python3 - "$T/hw.json" "$FIX" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["result"]["series"]["sunspots"]
ref = [m for m in json.load(open(sys.argv[2]))["models"] if m["method"] == "hw_add"][0]
print("# SSE", r["sse"], "statsmodels", ref["sse"])
assert r["method"] == "hw_add" and 0 <= r["params"]["alpha"] <= 1, r
assert r["sse"] <= ref["sse"] * (1 + 1e-6)
assert len(r["forecast"]) == 11
PY

run many1 success
job > "$T/m1.json"
run many3 success
job > "$T/m3.json"
ok "3 series over 3 map tasks give the single-task forecasts" python3 - "$T/m1.json" "$T/m3.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["result"]
b = json.load(open(sys.argv[2]))["result"]
assert a["tasks"] == 1 and b["tasks"] == 3, (a["tasks"], b["tasks"])
assert list(a["series"]) == list(b["series"]) == ["a", "b", "c"]
for s in "abc":
    assert a["series"][s]["forecast"] == b["series"][s]["forecast"], s
    assert a["series"][s]["sse"] == b["series"][s]["sse"], s
# b = 2a: the fit scales with the data
fa, fb = a["series"]["a"]["forecast"], a["series"]["b"]["forecast"]
assert all(abs(2 * x - y) <= 1e-6 * max(1, abs(y)) for x, y in zip(fa, fb)), (fa, fb)
PY

run short failed
err=$(job | jq_ 'd["error"]')
echo "# error: $err"
case "$err" in *sunspots*shorter*season*) ok "a series shorter than two seasons fails clearly" true ;;
*) ok "a series shorter than two seasons fails clearly (got: $err)" false ;; esac

run bogus failed
err=$(job | jq_ 'd["error"]')
echo "# error: $err"
case "$err" in *"unknown method 'bogus'"*) ok "method=bogus fails clearly" true ;;
*) ok "method=bogus fails clearly (got: $err)" false ;; esac

run nan failed
err=$(job | jq_ 'd["error"]')
echo "# error: $err"
case "$err" in *"nan.csv:22: series 'sunspots' is missing"*) ok "a missing value fails, naming the CSV line and series" true ;;
*) ok "a missing value fails, naming the CSV line and series (got: $err)" false ;; esac

run site failed
err=$(job | jq_ 'd["error"]')
echo "# error: $err"
case "$err" in *"column 'site' is categorical"*) ok "a categorical column is not a series" true ;;
*) ok "a categorical column is not a series (got: $err)" false ;; esac
finish
