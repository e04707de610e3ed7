#!/bin/sh
# SPDX-License-Identifier: MIT
# artifacts.sh - data between tasks: a file read on one worker reaches the
# next task on the other worker, content-addressed by the master, fetched
# over HTTP and cached by hash.
. "$(dirname "$0")/lib.sh"
cluster_yaml
# w1 can only read files, w2 can only compute statistics: the two tasks
# must run on different workers.
mkdir -p "$T/p1" "$T/p2"
cp "$KILN_PLUGIN_BUILD/readfile.so" "$T/p1/"
cp "$KILN_PLUGIN_BUILD/csvstats.so" "$KILN_PLUGIN_BUILD/ingest.so" "$T/p2/"
python3 - "$T/cluster.yaml" "$T" <<'PY'
import sys
p, t = sys.argv[1], sys.argv[2]
s = open(p).read()
s = s.replace("  - name: w1\n    slots: 2\n", f"  - name: w1\n    slots: 2\n    plugin_dir: {t}/p1\n")
s = s.replace("  - name: w2\n    slots: 2\n", f"  - name: w2\n    slots: 2\n    plugin_dir: {t}/p2\n")
open(p, "w").write(s)
PY
cat > "$T/dags/files.yaml" <<YAML
id: files
tasks:
  - id: read
    plugin: readfile
    params: { path: "$KILN_SRCDIR/examples/data/iris.csv", name: iris.csv }
  - id: stats
    plugin: csvstats
    depends_on: [read]
YAML
cat > "$T/dags/dataset.yaml" <<YAML
id: dataset
tasks:
  - id: read
    plugin: readfile
    params: { path: "$KILN_SRCDIR/examples/data/iris.csv", name: iris.csv }
  - id: ingest
    plugin: ingest
    depends_on: [read]
    params: { partitions: 3, label: "species" }
YAML
start_node master; wait_master; start_node w1; start_node w2; wait_workers 2
sleep 2.5
rid=$(api POST /api/v1/dags/files/trigger '{}' | jq_ 'd["run_id"]')
for _ in $(seq 1 100); do
	s=$(api GET "/api/v1/runs/$rid" | jq_ 'd["state"]'); [ "$s" = success ] && break; sleep 0.1
done
eq "the run succeeds" success "$s"
run=$(api GET "/api/v1/runs/$rid")
eq "read ran on w1" w1 "$(echo "$run" | jq_ '[t["worker"] for t in d["tasks"] if t["task"]=="read"][0]')"
eq "stats ran on w2" w2 "$(echo "$run" | jq_ '[t["worker"] for t in d["tasks"] if t["task"]=="stats"][0]')"
eq "stats saw the 150 rows of the file" 150 "$(echo "$run" | jq_ '[t["result"]["rows"] for t in d["tasks"] if t["task"]=="stats"][0]')"
sha=$(sha256sum "$KILN_SRCDIR/examples/data/iris.csv" | cut -d' ' -f1)
ok "the master keeps the file under its hash" test -f "$T/master/artifacts/$(echo "$sha" | cut -c1-2)/$sha"
ok "w2 cached it by hash" test -f "$T/master/../w2/cache/$sha"
ok "w1 keeps the output of its own task too" test -f "$T/w1/cache/$sha"
ok "w2 logged the fetch, with the input's name and size" \
	grep -q "fetched input read/iris.csv ($(wc -c < "$KILN_SRCDIR/examples/data/iris.csv") bytes" "$T/w2.log"
sj=$(echo "$run" | jq_ '[t["job_id"] for t in d["tasks"] if t["task"]=="stats"][0]')
eq "the stats job's input is named read/iris.csv" "read/iris.csv" "$(api GET "/api/v1/jobs/$sj" | jq_ 'd["inputs"][0]["name"]')"
eq "artifacts are downloadable" "$sha" "$(curl -s -H "Authorization: Bearer $(token)" "$URL/api/v1/artifacts/$sha" | sha256sum | cut -d' ' -f1)"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $(token)" --data-binary 'abc' "$URL/api/v1/artifacts/$sha")
eq "a body that does not match its hash is refused" 400 "$code"
rid=$(api POST /api/v1/dags/dataset/trigger '{}' | jq_ 'd["run_id"]')
for _ in $(seq 1 100); do
	s=$(api GET "/api/v1/runs/$rid" | jq_ 'd["state"]'); [ "$s" = success ] && break; sleep 0.1
done
eq "the ingest run succeeds" success "$s"
ij=$(api GET "/api/v1/runs/$rid" | jq_ '[t["job_id"] for t in d["tasks"] if t["task"]=="ingest"][0]')
job=$(api GET "/api/v1/jobs/$ij")
eq "ingest wrote 3 partitions and a schema" "part-00000.kcol part-00001.kcol part-00002.kcol schema.json" \
	"$(echo "$job" | jq_ '" ".join(sorted(o["name"] for o in d["outputs"]))')"
eq "of 150 rows" 150 "$(echo "$job" | jq_ 'd["result"]["rows"]')"
# The worker that ran it keeps its outputs in its cache, and says how
# much it holds (with its running list, twice a heartbeat).
iw=$(echo "$job" | jq_ 'd["worker"]')
sz=$(echo "$job" | jq_ 'sum(o["size"] for o in d["outputs"])')
for _ in $(seq 1 50); do
	c=$(api GET "/api/v1/workers/$iw" | jq_ 'd["cache"] and d["cache"]["bytes"] >= '"$sz"' and d["cache"]["files"] >= 4 and d["cache"]["budget"] > 0')
	[ "$c" = True ] && break; sleep 0.1
done
eq "its worker reports a cache of at least the 4 outputs' $sz bytes" True "$c"

# A fetched input whose bytes do not hash to its name is refused, and not
# kept: the master's copy damaged in place, w2's copy gone.
python3 - "$T/master/artifacts/$(echo "$sha" | cut -c1-2)/$sha" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[0] ^= 1
open(p, "wb").write(bytes(b))
PY
rm -f "$T/w2/cache/$sha"
rid=$(api POST /api/v1/dags/files/trigger '{}' | jq_ 'd["run_id"]')
for _ in $(seq 1 200); do
	s=$(api GET "/api/v1/runs/$rid" | jq_ 'd["state"]'); [ "$s" = failed ] && break; sleep 0.1
done
eq "a run reading a damaged artifact fails" failed "$s"
sj=$(api GET "/api/v1/runs/$rid" | jq_ '[t["job_id"] for t in d["tasks"] if t["task"]=="stats"][0]')
e=$(api GET "/api/v1/jobs/$sj" | jq_ 'd["error"]')
echo "# error: $e"
case "$e" in *"input read/iris.csv"*"wrong hash"*) ok "naming the input and the wrong hash" true ;;
*) ok "naming the input and the wrong hash (got: $e)" false ;; esac
ok "w2 kept no copy of it" test ! -e "$T/w2/cache/$sha"
ok "nor a half-written one" sh -c "! ls '$T/w2/cache' | grep -q '\.tmp\$'"
finish
