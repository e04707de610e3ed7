#!/bin/sh
# SPDX-License-Identifier: MIT
# vars.sh - variables and connections (src/varconn.c) and run conf: set
# through the CLI, read by a DAG's command task through {{ var.NAME }}
# and {{ conn.NAME.FIELD }}, and their secrets absent from the task's log,
# every API read, the dashboard, the nodes' logs and the store's sealed
# column; a viewer reads masked values and may not write; changes are
# audit-logged without values; an unknown variable fails its task.  Then
# a run's conf checked against the DAG's params (400 naming the field),
# shown on the run, and a store that cannot be written while a run is
# created answered with an error, the master staying up.
. "$(dirname "$0")/lib.sh"
cluster_yaml
sed -i 's/^  - name: w1$/  - name: w1\n    exec: true/' "$T/cluster.yaml"
start_node master; wait_master; start_node w1; wait_workers 1
TOKEN=$(token)
PW=pw-Zq81xKvT7
TOK=tok-Hh3m2Wp9
XK=xk-Rr5c0Lb4

# Set through the CLI (a signed admin); the password from stdin.
ok "kiln var set" k var set greeting hello
ok "kiln var set of a secret-looking name" k var set api_token "$TOK"
ok "kiln conn add, the password from stdin" sh -c "echo '$PW' | '$KILN' -c '$T/cluster.yaml' conn add db --type postgres --host db.example --port 5432 --login etl --password - --extra '{\"region\": \"eu\", \"secret_key\": \"$XK\"}'"
eq "kiln var get prints a plain variable" hello "$(k var get greeting)"
eq "and masks a secret one" '***' "$(k var get api_token)"
eq "unless --reveal (an admin)" "$TOK" "$(k var get api_token --reveal)"
ok "kiln conn get masks the password" sh -c "'$KILN' -c '$T/cluster.yaml' conn get db | grep -q '^password: *\*\*\*\$'"
ok "kiln conn list names it" sh -c "'$KILN' -c '$T/cluster.yaml' conn list | grep -q 'db  *postgres  *db.example  *5432  *etl'"
api PUT /api/v1/connections/bad '{"type":"http","port":"80"}' >/dev/null
eq "a bad field is a 400" 400 "$(status)"
ok "naming it" grep -q '"port: must be an integer' "$T/body"

# A viewer reads, masked, and may not write.
VT=$(k token create --role viewer --json | jq_ 'd["token"]')
vapi() { curl -s -o "$T/vbody" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $VT" -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "$URL$2"; }
eq "a viewer may not set a variable" 403 "$(vapi PUT /api/v1/variables/x '{"value":"y"}')"
eq "nor add a connection" 403 "$(vapi PUT /api/v1/connections/x '{"type":"http"}')"
eq "nor delete one" 403 "$(vapi DELETE /api/v1/connections/db)"
eq "nor reveal a secret" 403 "$(vapi GET /api/v1/connections/db/reveal)"
eq "but may list the variables" 200 "$(vapi GET /api/v1/variables)"
eq "masked" '["***", "hello"]' "$(jq_ 'sorted(v["value"] for v in d["variables"])' < "$T/vbody" | tr "'" '"')"

# A DAG reads them; a second task names a variable that does not exist.
cat > "$T/dags/vc.yaml" <<'YAML'
id: vc
tasks:
  - id: use
    command: echo "dsn=postgres://{{ conn.db.login }}:{{ conn.db.password }}@{{ conn.db.host }}:{{ conn.db.port }} region={{ conn.db.extra.region }} key={{ conn.db.extra.secret_key }} tok={{ var.api_token }} g={{ var.greeting }}"
  - id: missing
    command: echo "{{ var.nope }}"
  - id: leak
    command: echo "leaked {{ conn.db.password }}" >&2; exit 1
YAML
for _ in $(seq 1 50); do api GET /api/v1/dags/vc >/dev/null; [ "$(status)" = 200 ] && break; sleep 0.1; done
rid=$(api POST /api/v1/dags/vc/trigger '{}' | jq_ 'd["run_id"]')
ok "the run ends" wait_run "$rid" failed 20
eq "the task using them succeeded" success "$(ti "$rid" use state)"
eq "the one naming an unknown variable failed" failed "$(ti "$rid" missing state)"
ok "saying why in the master's log" grep -q "task missing: task 'missing': no variable 'nope'" "$T/master.log"
log=$(api GET "/api/v1/runs/$rid/tasks/use/log")
case "$log" in *"dsn=postgres://etl:***@db.example:5432 region=eu key=*** tok=*** g=hello"*)
	ok "the task saw them, its log masks the secrets" true ;;
*) ok "the task saw them, its log masks the secrets (got: $log)" false ;; esac
job=$(ti "$rid" use job_id)
case "$(ti "$rid" leak error)" in *"leaked ***"*) ok "a failed task's error masks them" true ;;
*) ok "a failed task's error masks them (got: $(ti "$rid" leak error))" false ;; esac

# Every read route, page and log, grepped for the three secrets.
{
	api GET "/api/v1/jobs/$job"; api GET "/api/v1/jobs/$job/log"
	api GET "/api/v1/jobs/$(ti "$rid" leak job_id)"
	api GET "/api/v1/jobs?limit=50"; api GET "/api/v1/runs/$rid"
	api GET /api/v1/variables; api GET /api/v1/variables/api_token
	api GET /api/v1/connections; api GET /api/v1/connections/db
	api GET /api/v1/dags/vc; api GET "/api/v1/dags/vc/runs"
	curl -s "$URL/"; curl -s "$URL/index.html"
	k job "$job"; k logs "$job"; k var list; k conn get db; k run show "$rid"
} > "$T/reads" 2>&1
ok "the reads did show the run" grep -q "$rid" "$T/reads"
for s in "$PW" "$TOK" "$XK"; do
	ok "no read route, page or CLI output shows $s" sh -c "! grep -q '$s' '$T/reads'"
	ok "nor the nodes' logs" sh -c "! grep -q '$s' '$T/master.log' '$T/w1.log'"
	eq "nor the sealed column" 0 "$(sqlite3 "$T/master/kiln.db" "select count(*) from secrets where sealed like '%$s%'")"
	ok "nor any byte of the store (jobs' params are sealed too)" sh -c "! cat '$T/master'/kiln.db* | grep -aq '$s'"
done
eq "the store has the two variables and the connection, sealed" "conn|db var|api_token var|greeting" \
	"$(sqlite3 "$T/master/kiln.db" "select kind, name from secrets order by kind, name" | tr '\n' ' ' | sed 's/ $//')"
ok "even a plain value is sealed" sh -c "! sqlite3 '$T/master/kiln.db' 'select sealed from secrets' | grep -q hello"

# Audit: who changed which name, never the value.
ok "changes are audit-logged" grep -q "audit: signer:[^ ]* set connection db" "$T/master.log"
ok "reveals too" grep -q "audit: signer:[^ ]* revealed variable api_token" "$T/master.log"
ok "kiln var delete" k var delete greeting
ok "logged" grep -q "audit: signer:[^ ]* deleted variable greeting" "$T/master.log"
api GET /api/v1/variables/greeting >/dev/null
eq "a deleted variable is gone" 404 "$(status)"

# Run conf: checked against the DAG's params, by their defaults' types.
cat > "$T/dags/rc.yaml" <<'YAML'
id: rc
params: { rows: 3, name: sales, ratio: 0.5 }
tasks:
  - id: t
    command: echo "rows={{ params.rows }} name={{ params.name }}"
YAML
for _ in $(seq 1 50); do api GET /api/v1/dags/rc >/dev/null; [ "$(status)" = 200 ] && break; sleep 0.1; done
api POST /api/v1/dags/rc/trigger '{"conf":{"rows":"three"}}' >/dev/null
eq "a conf of the wrong type is a 400" 400 "$(status)"
ok "naming the field" grep -q 'conf.rows: must be an integer (the type of its default), not a string' "$T/body"
api POST /api/v1/dags/rc/trigger '{"conf":{"bogus":1}}' >/dev/null
eq "an unknown key is a 400" 400 "$(status)"
ok "naming it" grep -q "conf.bogus: DAG rc has no param 'bogus'" "$T/body"
ok "kiln dag trigger --conf refuses it" sh -c "! '$KILN' -c '$T/cluster.yaml' dag trigger rc --conf '{\"ratio\": \"x\"}' 2>'$T/err'"
ok "saying so" grep -q 'conf.ratio: must be a number' "$T/err"
out=$(k dag trigger rc --conf '{"rows": 7, "ratio": 2}' --wait --timeout 20s)
ok "kiln dag trigger --conf runs" sh -c "echo '$out' | grep -q success"
rid=$(api GET /api/v1/dags/rc/runs | jq_ 'd["runs"][0]["run_id"]')
eq "the conf is on the run (API)" '{"ratio": 2, "rows": 7}' "$(api GET "/api/v1/runs/$rid" | jq_ 'json.dumps(d["conf"], sort_keys=True)')"
ok "and in kiln run show" sh -c "'$KILN' -c '$T/cluster.yaml' run show '$rid' | grep -q 'conf:.*\"rows\":7'"
ok "the task used it" sh -c "curl -s -H 'Authorization: Bearer $TOKEN' '$URL/api/v1/runs/$rid/tasks/t/log' | grep -q 'rows=7 name=sales'"

# A store that cannot be written while a run is created: an error reply,
# and the master stays up.  A traced start counts the writes of an idle
# master; the next start fails every write after them.
kill "$PID_w1"; wait "$PID_w1" 2>/dev/null
kill "$PID_master"; wait "$PID_master" 2>/dev/null
KILN_FAULT=trace "$KILN" start -c "$T/cluster.yaml" --node master > "$T/trace.log" 2>&1 &
PID_master=$!; PIDS="$PIDS $!"; wait_master; sleep 0.5
kill "$PID_master"; wait "$PID_master" 2>/dev/null
n=$(grep -c 'fault: store write #' "$T/trace.log")
KILN_FAULT="store:write:$((n + 1)):ENOSPC:0" "$KILN" start -c "$T/cluster.yaml" --node master >> "$T/master.log" 2>&1 &
PID_master=$!; PIDS="$PIDS $!"; wait_master; sleep 0.5
api POST /api/v1/dags/rc/trigger '{"conf":{"rows":1}}' >/dev/null
eq "a run the store cannot record is a 503" 503 "$(status)"
ok "naming the full disk" grep -q 'disk is full' "$T/body"
sleep 0.3
ok "the master is still up" kill -0 "$PID_master"
eq "and answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/health")"
finish
