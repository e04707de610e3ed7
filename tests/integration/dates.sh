#!/bin/sh
# SPDX-License-Identifier: MIT
# dates.sh - forecasting a dated series end to end on a real cluster:
# ingest reads examples/data/elec_equip.csv (monthly, dates written
# Jan-1-1995) into a time column; forecast with `time: DATE` infers the
# monthly frequency, takes season 12 from it, matches pandas' continued
# dates and the seasonal naive forecast, fits Holt-Winters at least as well
# as statsmodels (tests/fixtures/ml/ref_dates.py wrote dates.json), and
# writes the dates into forecasts.csv (and the benchmark's backtest
# forecast, which the dashboard plots, carries them too); a gap, a repeated time and a
# missing value fail naming the CSV file and line.
. "$(dirname "$0")/lib.sh"
start_cluster
FIX="$KILN_SRCDIR/tests/fixtures/ml/dates.json"
EL="$KILN_SRCDIR/examples/data/elec_equip.csv"
sed 10d "$EL" > "$T/gap.csv"                            # Sep-1-1995 gone
sed '12p' "$EL" > "$T/dup.csv"                          # line 12 twice
sed '7s/,.*/,/' "$EL" > "$T/nan.csv"                    # value missing

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
dag snaive "$EL" 'method: seasonal_naive, time: DATE, horizon: 24'
dag hw "$EL" 'method: holt_winters_add, time: DATE, horizon: 24'
dag gap "$T/gap.csv" 'method: ses, time: DATE'
dag dup "$T/dup.csv" 'method: ses, time: DATE'
dag nan "$T/nan.csv" 'method: ses, time: DATE'
cat > "$T/dags/bm.yaml" <<YAML
id: bm
tasks:
  - id: ingest
    plugin: ingest
    params: { file: "$EL" }
  - id: fc
    plugin: benchmark
    depends_on: [ingest]
    params: { kind: forecasting, column: STS.M.I7.W.TOVT.NS0016.4.000, time: DATE, season: 12, horizon: 12, folds: 3, models: seasonal_naive }
YAML
sleep 2.5

run() {
	rid=$(api POST "/api/v1/dags/$1/trigger" '{}' | jq_ 'd["run_id"]')
	ok "dag $1 ends $2" wait_run "$rid" "$2" 90
	J=$(ti "$rid" fc job_id)
}
job() { api GET "/api/v1/jobs/$J"; }
error_has() {  # error_has DESCRIPTION TEXT: the job's error contains TEXT
	err=$(job | jq_ 'd["error"]')
	echo "# error: $err"
	case "$err" in *"$2"*) ok "$1" true ;; *) ok "$1 (got: $err)" false ;; esac
}

run snaive success
job > "$T/snaive.json"
ok "monthly frequency and season 12 found; dates and forecasts equal pandas'" \
	python3 - "$T/snaive.json" "$FIX" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["result"]
ref = json.load(open(sys.argv[2]))["elec_equip"]
assert ref["pandas_freq"] == "MS"
t = r["time"]
assert t["column"] == "DATE" and t["frequency"] == "monthly", t
assert t["season"] == 12 and t["type"] == "date", t
assert t["forecast"] == ref["dates"], (t["forecast"][:3], ref["dates"][:3])
(s,) = r["series"].values()
assert s["params"]["m"] == 12, s
assert s["forecast"] == ref["snaive_forecast"], (s["forecast"][:3], ref["snaive_forecast"][:3])
PY
sha=$(job | jq_ '[o["sha"] for o in d["outputs"] if o["name"]=="forecasts.csv"][0]')
curl -s -H "Authorization: Bearer $(token)" "$URL/api/v1/artifacts/$sha" > "$T/fc.csv"
eq "forecasts.csv carries the dates" \
	"DATE,STS.M.I7.W.TOVT.NS0016.4.000 2016-06-01 2018-05-01 25" \
	"$(head -n 1 "$T/fc.csv") $(sed -n 2p "$T/fc.csv" | cut -d, -f1) $(tail -n 1 "$T/fc.csv" | cut -d, -f1) $(wc -l < "$T/fc.csv")"

run hw success
job > "$T/hw.json"
ok "Holt-Winters with the season from the frequency: SSE <= statsmodels'" \
	python3 - "$T/hw.json" "$FIX" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["result"]
ref = json.load(open(sys.argv[2]))["elec_equip"]
(s,) = r["series"].values()
print("# SSE", s["sse"], "statsmodels", ref["hw_add_sse"])
assert s["method"] == "hw_add" and s["params"]["m"] == 12, s
assert s["sse"] <= ref["hw_add_sse"] * (1 + 1e-6)
assert r["time"]["forecast"][-1] == "2018-05-01"
PY

run bm success
job > "$T/bm.json"
ok "the benchmark's backtest forecast is plotted at the dates" python3 - "$T/bm.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))["result"]["forecast"]
assert f["t"][0] == "1995-01-01" and f["t"][-1] == "2016-05-01", f["t"][:2]
assert len(f["t"]) == len(f["actual"]) == 257
PY

run gap failed
error_has "a missing month fails naming the CSV line" \
	"gap.csv:10: the time column 'DATE' is irregular: 1995-10-01 follows 1995-08-01"
run dup failed
error_has "a repeated time fails naming the CSV line" \
	"dup.csv:13: the time column 'DATE' repeats 1995-11-01"
run nan failed
error_has "a missing value fails naming the CSV line and series" \
	"nan.csv:7: series 'STS.M.I7.W.TOVT.NS0016.4.000' is missing"
finish
