#!/bin/sh
# SPDX-License-Identifier: MIT
# dagversions.sh - DAG versions (Airflow 3's DAG versioning) on a real
# master and two workers: a DAG file edited between two runs has two
# versions in the CLI and the API, each run names its own, the diff shows
# the changed lines; clearing a task of the first run runs its OLD
# command and params, and with --latest the new ones; a restarted master
# keeps the versions and adds none for an unchanged file.
. "$(dirname "$0")/lib.sh"
cluster_yaml
sed -i 's/^  - name: w1$/  - name: w1\n    exec: true/' "$T/cluster.yaml"
F=$T/dags/ver.yaml
write_dag() {  # write_dag TAG VERSION_MARK
	cat > "$F.tmp" <<YAML
id: ver
params: { tag: $1 }
tasks:
  - id: say
    command: "echo said-{{ params.tag }}-$2"
  - id: after
    plugin: noop
    depends_on: [say]
YAML
	mv "$F.tmp" "$F"
}
write_dag one v1
start_node master; wait_master; start_node w1; start_node w2; wait_workers 2
TOKEN=$(token)

nversions() { api GET /api/v1/dags/ver/versions | jq_ 'len(d["versions"])' 2>/dev/null; }
wait_versions() {
	for _ in $(seq 1 100); do [ "$(nversions)" = "$1" ] && return 0; sleep 0.1; done
	return 1
}
say_log() { k task logs "$1" say 2>&1; }

ok "the DAG loads as version 1" wait_versions 1
r1=$(api POST /api/v1/dags/ver/trigger '{}' | jq_ 'd["run_id"]')
ok "run 1 succeeds" wait_run "$r1" success 30
ok "run 1 ran the v1 command with param one" sh -c "$(printf '%s' "'$KILN' -c '$T/cluster.yaml' task logs '$r1' say | grep -q said-one-v1")"

# Edit the file: a new version.
sleep 1.1   # a new mtime even on a coarse clock
write_dag two v2
ok "the edited file is version 2" wait_versions 2
r2=$(api POST /api/v1/dags/ver/trigger '{}' | jq_ 'd["run_id"]')
ok "run 2 succeeds" wait_run "$r2" success 30
ok "run 2 ran the v2 command" sh -c "'$KILN' -c '$T/cluster.yaml' task logs '$r2' say | grep -q said-two-v2"

# The API: the list, each run's version, a version's text.
v=$(api GET /api/v1/dags/ver/versions)
eq "versions newest first, current 2" "2 2 1" "$(echo "$v" | jq_ '"%d %d %d" % (d["current"], d["versions"][0]["version"], d["versions"][1]["version"])')"
eq "each version has one run" "1 1" "$(echo "$v" | jq_ '"%d %d" % (d["versions"][0]["runs"], d["versions"][1]["runs"])')"
eq "a version's hash is a SHA-256" 64 "$(echo "$v" | jq_ 'len(d["versions"][1]["hash"])')"
eq "run 1 names version 1, not current" "1 False" "$(api GET "/api/v1/runs/$r1" | jq_ '"%d %s" % (d["dag_version"]["version"], d["dag_version"]["current"])')"
eq "run 2 names version 2, current" "2 True" "$(api GET "/api/v1/runs/$r2" | jq_ '"%d %s" % (d["dag_version"]["version"], d["dag_version"]["current"])')"
eq "the DAG shows its current version" 2 "$(api GET /api/v1/dags/ver | jq_ 'd["dag_version"]["version"]')"
ok "version 1's text is the old file" sh -c "test \"\$(curl -s -H 'Authorization: Bearer $TOKEN' '$URL/api/v1/dags/ver/versions/1' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"text\"], end=\"\")' | grep -c said-)\" = 1"
api GET /api/v1/dags/ver/versions/1 | jq_ 'd["text"]' > "$T/v1.out"
ok "version 1's text says tag: one" grep -q 'tag: one' "$T/v1.out"

# The diff, in the API and the CLI.
api GET '/api/v1/dags/ver/diff?from=1&to=2' | jq_ 'd["diff"]' > "$T/apidiff.out"
ok "the API diff removes the v1 line" grep -q '^-params: { tag: one }' "$T/apidiff.out"
ok "and adds the v2 line" grep -q '^+params: { tag: two }' "$T/apidiff.out"
ok "and the changed command" grep -q '^+    command: "echo said-{{ params.tag }}-v2"' "$T/apidiff.out"
k dag diff ver > "$T/diff.out" 2>&1
ok "kiln dag diff (previous vs current) shows the changed command" grep -q '^+    command: "echo said-{{ params.tag }}-v2"' "$T/diff.out"
ok "with unified headers" grep -q '^--- ver v1' "$T/diff.out"
k dag versions ver > "$T/versions.out" 2>&1
ok "kiln dag versions lists two" test "$(grep -c '^[12] ' "$T/versions.out")" = 2
ok "marking the current one" grep -q '^2 .*current' "$T/versions.out"
k dag show ver --version 1 > "$T/show1.out" 2>&1
ok "kiln dag show --version 1 prints the old file" grep -q '^params: { tag: one }' "$T/show1.out"
ok "headed by its number and hash" grep -q '^# ver version 1 ([0-9a-f]\{12\}, first seen ' "$T/show1.out"
k dag show ver > "$T/show.out" 2>&1
ok "kiln dag show names the current version" grep -q 'dag version: *2 (' "$T/show.out"
k run show "$r1" > "$T/run1.out" 2>&1
ok "kiln run show names run 1's version" grep -q 'dag version: *1 (.*not the current version' "$T/run1.out"

# Bad requests name their field.
api GET '/api/v1/dags/ver/diff?from=abc' >/dev/null
eq "from=abc is a 400" 400 "$(status)"
ok "naming from" grep -q '"from: ' "$T/body"
api GET '/api/v1/dags/ver/diff?to=9' >/dev/null
eq "an unknown version is a 404" 404 "$(status)"
ok "naming to" grep -q '"to: ' "$T/body"
api GET /api/v1/dags/ver/versions/9 >/dev/null
eq "versions/9 is a 404" 404 "$(status)"
api GET /api/v1/dags/ver/versions/x >/dev/null
eq "versions/x is a 400" 400 "$(status)"
api GET /api/v1/dags/nope/versions >/dev/null
eq "an unknown DAG is a 404" 404 "$(status)"
api POST "/api/v1/runs/$r1/tasks/say/clear" '{"version":"newest"}' >/dev/null
eq "a bad clear version is a 400" 400 "$(status)"
ok "naming version" grep -q '"version: ' "$T/body"

# Clearing a task of run 1 runs run 1's version: the old command, the
# old param.
j1=$(ti "$r1" say job_id)
api POST "/api/v1/runs/$r1/tasks/say/clear" '{}' >/dev/null
eq "clear answers 200" 200 "$(status)"
for _ in $(seq 1 100); do [ "$(ti "$r1" say job_id)" != "$j1" ] && break; sleep 0.1; done
ok "run 1 succeeds again" wait_run "$r1" success 30
ok "the cleared task ran the OLD command and param (said-one-v1)" sh -c "'$KILN' -c '$T/cluster.yaml' task logs '$r1' say | grep -q said-one-v1"
eq "run 1 still names version 1" 1 "$(api GET "/api/v1/runs/$r1" | jq_ 'd["dag_version"]["version"]')"

# --latest: the current version's command and param.
j1=$(ti "$r1" say job_id)
k task clear --latest "$r1" say > "$T/clear.out" 2>&1
ok "kiln task clear --latest" grep -q 'cleared 1 task instance' "$T/clear.out"
for _ in $(seq 1 100); do [ "$(ti "$r1" say job_id)" != "$j1" ] && break; sleep 0.1; done
ok "run 1 succeeds on the latest version" wait_run "$r1" success 30
ok "the task ran the NEW command (said-two-v2)" sh -c "'$KILN' -c '$T/cluster.yaml' task logs '$r1' say | grep -q said-two-v2"
eq "run 1 now names version 2" 2 "$(api GET "/api/v1/runs/$r1" | jq_ 'd["dag_version"]["version"]')"

# A run that started before an edit runs its own version to the end.
P=$T/dags/pin.yaml
pin_dag() {
	printf 'id: pin\ntasks:\n  - id: wait\n    command: "sleep 2"\n  - id: last\n    command: "echo pinned-%s"\n    depends_on: [wait]\n' "$1" > "$P.tmp"
	mv "$P.tmp" "$P"
}
pin_dag v1
for _ in $(seq 1 100); do [ "$(api GET /api/v1/dags/pin/versions | jq_ 'len(d["versions"])' 2>/dev/null)" = 1 ] && break; sleep 0.1; done
rp=$(api POST /api/v1/dags/pin/trigger '{}' | jq_ 'd["run_id"]')
for _ in $(seq 1 100); do [ "$(ti "$rp" wait state)" = running ] && break; sleep 0.1; done
pin_dag v2
for _ in $(seq 1 100); do [ "$(api GET /api/v1/dags/pin/versions | jq_ 'len(d["versions"])' 2>/dev/null)" = 2 ] && break; sleep 0.1; done
eq "the edit mid-run is version 2" 2 "$(api GET /api/v1/dags/pin/versions | jq_ 'd["current"]')"
ok "the run started before it succeeds" wait_run "$rp" success 30
ok "its last task ran version 1's command" sh -c "'$KILN' -c '$T/cluster.yaml' task logs '$rp' last | grep -q pinned-v1"

# A restarted master keeps the versions, and an unchanged file adds none.
kill "$PID_master"; wait "$PID_master" 2>/dev/null
touch "$F"
start_node master; wait_master
sleep 1
eq "after a restart: still two versions" 2 "$(nversions)"
eq "run 2 still names version 2" 2 "$(api GET "/api/v1/runs/$r2" | jq_ 'd["dag_version"]["version"]')"
eq "version 1's text is kept" 1 "$(api GET /api/v1/dags/ver/versions/1 | jq_ 'd["text"].count("said-")')"
finish
