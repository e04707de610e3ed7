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

finish
