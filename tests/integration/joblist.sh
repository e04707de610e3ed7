#!/bin/sh
# SPDX-License-Identifier: MIT
# joblist.sh - the job list's filters (DAG, run, worker, id, submission
# time), its total count, bad filters refused naming the parameter, the
# bulk cancel (admins only), a retry's wait (requeued_ms) and `kiln jobs`
# with the same filters, on a real master and two workers.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/dags"
cat > "$T/dags/two.yaml" <<YAML
id: two
tasks:
  - id: a
    plugin: noop
  - id: b
    plugin: noop
    depends_on: [a]
YAML
cat > "$T/dags/flaky.yaml" <<YAML
id: flaky
tasks:
  - id: f
    plugin: sleep
    params: { seconds: 0.05, fail: true }
    retries: 1
    retry_delay: 3s
YAML
start_cluster
TOKEN=$(token)   # once: each token() in a $(...) would make another
# A run_id as a query value ("+00:00" must not arrive as a space).
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

r1=$(api POST /api/v1/dags/two/trigger '{}' | jq_ 'd["run_id"]')
ok "run 1 succeeds" wait_run "$r1" success
r2=$(api POST /api/v1/dags/two/trigger '{}' | jq_ 'd["run_id"]')
ok "run 2 succeeds" wait_run "$r2" success
for _ in 1 2 3; do api POST /api/v1/jobs '{"plugin":"noop"}' >/dev/null; done
last=$(api POST /api/v1/jobs '{"plugin":"noop"}' | jq_ 'd["id"]')
ok "the plain jobs succeed" wait_state "$last" succeeded

q() { api GET "/api/v1/jobs?$1" | jq_ "$2"; }
eq "total of all jobs" 8 "$(q 'limit=2' 'd["total"]')"
eq "one page of 2, with a cursor" "2 True" "$(q 'limit=2' 'len(d["jobs"]), d["next_before"] is not None' | tr -d '(),')"
eq "the DAG's jobs" "4 4" "$(q 'dag=two' 'd["total"], len(d["jobs"])' | tr -d '(),')"
eq "a run's jobs, named by DAG and run" "2 two $r2 $r2" \
	"$(q "run=$(enc "$r2")" 'd["total"], d["jobs"][0]["dag_id"], d["jobs"][0]["run_id"], d["jobs"][1]["run_id"]' | tr -d "(),'")"
eq "a plain job has no run" "False" "$(q "id=$last" '"run_id" in d["jobs"][0]')"
eq "search by id" "1 $last" "$(q "id=$last" 'd["total"], d["jobs"][0]["id"]' | tr -d '(),')"
eq "id and a filter it fails" 0 "$(q "id=$last&dag=two" 'd["total"]')"
n1=$(q 'worker=w1' 'd["total"]')
n2=$(q 'worker=w2' 'd["total"]')
eq "by worker: every job on one of the two" 8 "$((n1 + n2))"
eq "by worker: only that worker's" "True" "$(q 'worker=w1' 'all(j["worker"] == "w1" for j in d["jobs"])')"
now=$(date -u +%s)000
eq "since the future: none" 0 "$(q "since=$((now / 1000 + 3600))000" 'd["total"]')"
eq "since a date: all" 8 "$(q "since=$(date -u -d yesterday +%Y-%m-%d)" 'd["total"]')"
eq "until 2001: none" 0 "$(q 'until=2001-01-01T00:00:00Z' 'd["total"]')"
eq "a DAG and a time range together" 4 "$(q "dag=two&since=2001-01-01&until=$((now / 1000 + 3600))000" 'd["total"]')"

# Bad values: 400 JSON naming the parameter.
bad() {  # bad QUERY FIELD
	e=$(api GET "/api/v1/jobs?$1" | jq_ 'd["error"]')
	eq "$1 is 400" 400 "$(status)"
	case $e in "$2"*) echo "ok - $1 names $2"; CHECKS=$((CHECKS + 1)) ;;
	*) echo "not ok - $1: error '$e' does not name $2"; CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)) ;; esac
}
bad 'id=abc' id
bad 'id=-3' id
bad 'since=yesterday' since
bad 'until=2026-02-30' until
bad 'state=bogus' state
bad "dag=$(python3 -c 'print("d" * 300)')" dag

# A retry waiting for its delay: queued again, since when.
fr=$(api POST /api/v1/dags/flaky/trigger '{}' | jq_ 'd["run_id"]')
rq=""
for _ in $(seq 1 60); do
	rq=$(q "run=$(enc "$fr")" 'd["jobs"][0].get("requeued_ms", 0) if d["jobs"] and d["jobs"][0]["state"] == "queued" else 0')
	[ "${rq:-0}" -gt 0 ] && break
	sleep 0.05
done
eq "a retry's wait says since when" "True" "$([ "${rq:-0}" -gt 0 ] && echo True)"

# Bulk cancel: admins only; one unknown id does not stop the others.
ids=$(for _ in 1 2 3; do api POST /api/v1/jobs '{"plugin":"sleep","params":{"seconds":30}}' | jq_ 'd["id"]'; done | paste -sd, -)
vt=$(k token create --role viewer --json | jq_ 'd["token"]')
vs=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $vt" \
	-H 'Content-Type: application/json' --data-binary "{\"ids\":[$ids]}" "$URL/api/v1/jobs/cancel")
eq "a viewer may not cancel" 403 "$vs"
eq "the viewer cancelled nothing" 0 "$(q "state=cancelled" 'd["total"]')"
out=$(api POST /api/v1/jobs/cancel "{\"ids\":[$ids,999999]}")
eq "bulk cancel answers 200" 200 "$(status)"
eq "three cancelled, one unknown" "3 999999 404" \
	"$(echo "$out" | jq_ 'len(d["cancelled"]), d["errors"][0]["id"], d["errors"][0]["status"]' | tr -d '(),')"
eq "they are cancelled" 3 "$(q "state=cancelled" 'd["total"]')"
api POST /api/v1/jobs/cancel '{"ids":[]}' >/dev/null
eq "no ids is 400" 400 "$(status)"
e=$(api POST /api/v1/jobs/cancel '{"ids":[1,"x"]}' | jq_ 'd["error"]')
eq "a bad id is 400 naming it" "400 ids[1]" "$(status) ${e%%:*}"

# kiln jobs takes the same filters and says how many match.
k jobs --dag two --run "$r1" > "$T/cli.out" 2> "$T/cli.err"
eq "kiln jobs --dag --run: the run's jobs" 2 "$(grep -c " $r1\$" "$T/cli.out")"
eq "kiln jobs says how many match" "2 jobs match" "$(cat "$T/cli.err")"
k jobs --since "$(date -u -d tomorrow +%Y-%m-%d)" > "$T/cli.out" 2> "$T/cli.err"
eq "kiln jobs --since tomorrow: none" "no jobs" "$(cat "$T/cli.out")"
k jobs --since bogus > /dev/null 2>&1
eq "kiln jobs --since bogus is a usage error" 2 "$?"
finish
