#!/bin/sh
# SPDX-License-Identifier: MIT
# sensors.sh - sensor tasks (`sensor:` in DAGs, issue 15 item 3) on a real
# master and ONE worker of ONE slot: a file sensor waits ~5 s holding no
# slot (a job runs on the only slot meanwhile), then its downstream runs;
# a sensor times out with the reason (and one with soft_fail is skipped);
# an http sensor against a server started here; a dag_run and an artifact
# sensor poked by the master with no job; a plugin sensor (tests/plugins/
# notyet.c) answering KILN_NOT_YET then OK; a master killed while a sensor
# waits, which keeps waiting and completes; and `sensor:` errors with
# FILE:LINE:COLUMN.
. "$(dirname "$0")/lib.sh"
cluster_yaml
cp "$KILN_TEST_PLUGINS/notyet.so" "$T/plugins/"
# One worker with one slot: a sensor that held it would starve the job.
python3 - "$T/cluster.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("    slots: 2\n    memory: 1GiB\n  - name: w2\n    slots: 2\n    memory: 1GiB\n",
              "    slots: 1\n    memory: 1GiB\n")
open(p, "w").write(s)
PY
D=$T/dags
HP=$(free_port)
mkdir -p "$T/www" "$T/flags"

cat > "$D/wait_file.yaml" <<YAML
id: wait_file
tasks:
  - id: wait
    sensor: { file: "$T/flags/{{ ds }}.ready", poke_interval: 1s, timeout: 60s }
  - id: after
    depends_on: [wait]
    plugin: noop
YAML
cat > "$D/times_out.yaml" <<YAML
id: times_out
tasks:
  - id: never
    sensor: { file: "$T/flags/never", poke_interval: 1s, timeout: 3s }
  - id: soft
    sensor: { file: "$T/flags/never", poke_interval: 1s, timeout: 3s, soft_fail: true }
YAML
cat > "$D/starved.yaml" <<YAML
id: starved
tasks:
  - id: never
    sensor: { file: "$T/flags/never", poke_interval: 1s, timeout: 3s }
YAML
cat > "$D/wait_http.yaml" <<YAML
id: wait_http
tasks:
  - id: up
    sensor: { http: "http://127.0.0.1:$HP/ready", request_timeout: 2s, poke_interval: 1s, timeout: 60s }
YAML
# https: a server of a CA of our own, trusted through ca_file; a sensor
# without it trusts only the system's CAs, so it waits, saying why.
HS=$(free_port)
mkdir -p "$T/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T/tls/key.pem" \
	-out "$T/tls/cert.pem" > /dev/null 2>&1
cat > "$D/wait_https.yaml" <<YAML
id: wait_https
tasks:
  - id: up
    sensor: { http: "https://127.0.0.1:$HS/ready", ca_file: "$T/tls/cert.pem", poke_interval: 1s, timeout: 60s }
  - id: untrusted
    sensor: { http: "https://127.0.0.1:$HS/ready", poke_interval: 1s, timeout: 60s, soft_fail: true }
YAML
cat > "$D/bad8.yaml" <<YAML
id: bad8
tasks:
  - id: a
    sensor: { http: "http://127.0.0.1:$HS/", ca_file: /x.pem }
YAML
cat > "$D/upstream.yaml" <<'YAML'
id: upstream
tasks:
  - id: work
    plugin: noop
YAML
cat > "$D/downstream.yaml" <<'YAML'
id: downstream
tasks:
  - id: wait_up
    sensor: { dag_run: upstream, logical_date: latest, poke_interval: 1s, timeout: 60s }
  - id: wait_art
    sensor: { artifact: "flag-{{ params.tag }}.bin", poke_interval: 1s, timeout: 60s }
  - id: after
    depends_on: [wait_up, wait_art]
    plugin: noop
params: { tag: x }
YAML
cat > "$D/plug.yaml" <<'YAML'
id: plug
params: { at: 0 }
tasks:
  - id: ready
    plugin: notyet
    params: { ready_at: "{{ params.at }}" }
    sensor: { poke_interval: 1s, timeout: 60s }
YAML
cat > "$D/restart.yaml" <<YAML
id: restart
tasks:
  - id: wait
    sensor: { file: "$T/flags/restart.ready", poke_interval: 1s, timeout: 120s }
  - id: after
    depends_on: [wait]
    plugin: noop
YAML
cat > "$D/bad1.yaml" <<'YAML'
id: bad1
tasks:
  - id: a
    sensor: { file: /x, poke_interval: 100ms }
YAML
cat > "$D/bad2.yaml" <<'YAML'
id: bad2
tasks:
  - id: a
    sensor: { file: /x, http: "http://x/" }
YAML
cat > "$D/bad3.yaml" <<'YAML'
id: bad3
tasks:
  - id: a
    sensor: { file: /x, mode: poke }
YAML
cat > "$D/bad4.yaml" <<'YAML'
id: bad4
tasks:
  - id: a
    plugin: noop
    sensor: { file: /x, pokeinterval: 1s }
YAML
cat > "$D/bad5.yaml" <<'YAML'
id: bad5
tasks:
  - id: a
    sensor: { dag_run: upstream, failed_states: [failed, sucess] }
YAML
cat > "$D/bad6.yaml" <<'YAML'
id: bad6
tasks:
  - id: a
    sensor: { file: /x, failed_states: [failed] }
YAML
cat > "$D/bad7.yaml" <<'YAML'
id: bad7
tasks:
  - id: a
    sensor: { dag_run: upstream, allowed_states: [success, failed], failed_states: [failed] }
YAML
# failed_states: a failed upstream run fails the sensor at once, long
# before its timeout (Airflow's ExternalTaskSensor failed_states).
cat > "$D/breaks.yaml" <<'YAML'
id: breaks
tasks:
  - id: work
    plugin: readfile
    params: { path: /nonexistent/kiln-sensor-test }
YAML
cat > "$D/after_breaks.yaml" <<'YAML'
id: after_breaks
tasks:
  - id: wait_breaks
    sensor: { dag_run: breaks, logical_date: latest, failed_states: [failed], poke_interval: 1s, timeout: 300s }
  - id: then
    depends_on: [wait_breaks]
    plugin: noop
YAML

start_node master; wait_master; start_node w1; wait_workers 1
TOKEN=$(token)
for _ in $(seq 1 50); do
	api GET /api/v1/dags | grep -q '"restart"' && break; sleep 0.1
done

# waits RUN TASK [SECONDS]: until TASK of RUN is up for reschedule.
waits() {
	for _ in $(seq 1 $((${3:-15} * 10))); do
		[ "$(ti "$1" "$2" state 2>/dev/null)" = up_for_reschedule ] && return 0
		sleep 0.1
	done
	echo "$2 of $1 is '$(ti "$1" "$2" state)'"; return 1
}

# 1. A file sensor waits ~5 s without its slot.
t0=$(date +%s)
rid=$(api POST /api/v1/dags/wait_file/trigger '{}' | jq_ 'd["run_id"]')
ok "the file sensor is up for reschedule" waits "$rid" wait
api GET "/api/v1/runs/$rid" > "$T/run.json"
ok "the API gives its next poke and why it waits" sh -c \
	"python3 -c 'import json,sys; t=[t for t in json.load(open(\"$T/run.json\"))[\"tasks\"] if t[\"task\"]==\"wait\"][0]; sys.exit(0 if t[\"next_poke_ms\"] > 0 and t[\"next_poke\"] and \"ready\" in (t[\"sensor_reason\"] or \"\") else 1)'"
job=$(api POST /api/v1/jobs '{"plugin":"sleep","params":{"seconds":1}}' | jq_ 'd["id"]')
ok "a job runs on the only slot while the sensor waits" wait_state "$job" succeeded 10
eq "the sensor still waits after the job" up_for_reschedule "$(ti "$rid" wait state)"
ok "kiln run show says when it pokes next" sh -c \
	"'$KILN' -c '$T/cluster.yaml' run show '$rid' | grep -q '^ *wait *up_for_reschedule .*next poke'"
ok "kiln_sensors_waiting counts it" sh -c \
	"curl -s '$URL/metrics' | grep -q '^kiln_sensors_waiting [1-9]'"
ok "the grid's cell says up_for_reschedule with its next poke" sh -c \
	"curl -s -H 'Authorization: Bearer $TOKEN' '$URL/api/v1/dags/wait_file/grid' | grep -q '\"state\": *\"up_for_reschedule\".*next_poke'"
sleep $((5 - ($(date +%s) - t0))) 2>/dev/null
touch "$T/flags/$(date -u +%Y-%m-%d).ready"
ok "the run succeeds once the file is there" wait_run "$rid" success 15
eq "its downstream ran" success "$(ti "$rid" after state)"
eq "the sensor poked more than once" 1 "$(ti "$rid" wait tries | python3 -c 'import sys; print(int(int(sys.stdin.read()) > 1))')"

# 2. Timeouts: failed with the reason, or skipped with soft_fail.
rid=$(api POST /api/v1/dags/times_out/trigger '{}' | jq_ 'd["run_id"]')
ok "a sensor past its timeout fails the run" wait_run "$rid" failed 20
eq "the sensor failed" failed "$(ti "$rid" never state)"
case "$(ti "$rid" never error)" in *"timed out"*"3 s"*) r=ok ;; *) r="$(ti "$rid" never error)" ;; esac
eq "its error says it timed out after 3 s" ok "$r"
eq "soft_fail skips it instead" skipped "$(ti "$rid" soft state)"
ok "kiln_sensor_timeouts_total counts both" sh -c \
	"curl -s '$URL/metrics' | grep -q '^kiln_sensor_timeouts_total 2'"

# 2b. Its poke queued behind a long job on the only slot: the timeout
# still ends it on time, its poke job cancelled, the long job untouched.
rid=$(api POST /api/v1/dags/starved/trigger '{}' | jq_ 'd["run_id"]')
ok "the sensor waits" waits "$rid" never
t0=$(date +%s)
job=$(api POST /api/v1/jobs '{"plugin":"sleep","params":{"seconds":30}}' | jq_ 'd["id"]')
ok "a long job takes the only slot" wait_state "$job" running 10
ok "the sensor times out though its poke cannot run" wait_run "$rid" failed 15
ok "at about its timeout, not after the long job" test $(( $(date +%s) - t0 )) -lt 12
case "$(ti "$rid" never error)" in *"timed out"*) r=ok ;; *) r="$(ti "$rid" never error)" ;; esac
eq "its error says it timed out" ok "$r"
eq "the long job still runs" running "$(api GET "/api/v1/jobs/$job" | jq_ 'd["state"]')"
api POST "/api/v1/jobs/$job/cancel" '{}' > /dev/null
ok "which then ends" wait_state "$job" cancelled 15

# 3. An http sensor against a server that answers 404, then 200.
(cd "$T/www" && exec python3 -m http.server "$HP" --bind 127.0.0.1) >"$T/http.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 1 50); do
	curl -s -o /dev/null "http://127.0.0.1:$HP/" && break; sleep 0.1
done
rid=$(api POST /api/v1/dags/wait_http/trigger '{}' | jq_ 'd["run_id"]')
ok "the http sensor waits" waits "$rid" up
case "$(ti "$rid" up sensor_reason)" in *404*) r=ok ;; *) r="$(ti "$rid" up sensor_reason)" ;; esac
eq "why: the server answers 404" ok "$r"
echo ok > "$T/www/ready"
ok "the run succeeds once the URL answers 200" wait_run "$rid" success 15

# 3b. https, with ca_file.
python3 -c '
import http.server, ssl, sys, os
os.chdir(sys.argv[1])
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), http.server.SimpleHTTPRequestHandler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[3], sys.argv[4])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()' "$T/www" "$HS" "$T/tls/cert.pem" "$T/tls/key.pem" > "$T/https.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 1 50); do
	curl -s -o /dev/null --cacert "$T/tls/cert.pem" "https://127.0.0.1:$HS/" && break; sleep 0.1
done
rm -f "$T/www/ready"
rid=$(api POST /api/v1/dags/wait_https/trigger '{}' | jq_ 'd["run_id"]')
ok "the https sensor waits" waits "$rid" up
case "$(ti "$rid" up sensor_reason)" in *404*) r=ok ;; *) r="$(ti "$rid" up sensor_reason)" ;; esac
eq "why: the server answers 404, over TLS checked with ca_file" ok "$r"
ok "one without ca_file waits too" waits "$rid" untrusted
case "$(ti "$rid" untrusted sensor_reason)" in *[Cc]ertificate*|*SSL*|*issuer*) r=ok ;; *) r="$(ti "$rid" untrusted sensor_reason)" ;; esac
eq "why: the server's certificate is not trusted" ok "$r"
echo ok > "$T/www/ready"
ok "the https sensor succeeds once the URL answers 200" sh -c "for i in \$(seq 1 150); do [ \"\$(curl -s -H 'Authorization: Bearer $TOKEN' '$URL/api/v1/runs/$rid' | python3 -c 'import json,sys; print([t[\"state\"] for t in json.load(sys.stdin)[\"tasks\"] if t[\"task\"]==\"up\"][0])')\" = success ] && exit 0; sleep 0.1; done; exit 1"
eq "the untrusted one still waits" up_for_reschedule "$(ti "$rid" untrusted state)"

# 4. dag_run and artifact sensors: poked by the master, with no job.
rid=$(api POST /api/v1/dags/downstream/trigger '{"conf":{"tag":"t1"}}' | jq_ 'd["run_id"]')
ok "the dag_run sensor waits" waits "$rid" wait_up
ok "the artifact sensor waits" waits "$rid" wait_art
eq "the master pokes them itself: no job" "0 0" "$(ti "$rid" wait_up job_id) $(ti "$rid" wait_art job_id)"
case "$(ti "$rid" wait_up sensor_reason)" in *"upstream has no run"*) r=ok ;; *) r="$(ti "$rid" wait_up sensor_reason)" ;; esac
eq "why: the DAG waited for has no run yet" ok "$r"
up=$(api POST /api/v1/dags/upstream/trigger '{}' | jq_ 'd["run_id"]')
ok "the upstream run succeeds" wait_run "$up" success 10
ok "then the dag_run sensor succeeds" sh -c "for i in \$(seq 1 50); do [ \"\$(curl -s -H 'Authorization: Bearer $TOKEN' '$URL/api/v1/runs/$rid' | python3 -c 'import json,sys; print([t[\"state\"] for t in json.load(sys.stdin)[\"tasks\"] if t[\"task\"]==\"wait_up\"][0])')\" = success ] && exit 0; sleep 0.1; done; exit 1"
eq "the artifact sensor still waits" up_for_reschedule "$(ti "$rid" wait_art state)"
echo flag > "$T/flag"
job=$(api POST /api/v1/jobs "{\"plugin\":\"readfile\",\"params\":{\"path\":\"$T/flag\",\"name\":\"flag-t1.bin\"}}" | jq_ 'd["id"]')
ok "a job puts an artifact named flag-t1.bin" wait_state "$job" succeeded 10
ok "the run succeeds once the artifact is there" wait_run "$rid" success 15

rid=$(api POST /api/v1/dags/after_breaks/trigger '{}' | jq_ 'd["run_id"]')
ok "a dag_run sensor with failed_states waits" waits "$rid" wait_breaks
t0=$(date +%s)
bk=$(api POST /api/v1/dags/breaks/trigger '{}' | jq_ 'd["run_id"]')
ok "the run it waits for fails" wait_run "$bk" failed 15
ok "so the sensor's run fails" wait_run "$rid" failed 15
ok "long before the sensor's 300 s timeout" test $(( $(date +%s) - t0 )) -lt 60
eq "the sensor failed" failed "$(ti "$rid" wait_breaks state)"
case "$(ti "$rid" wait_breaks error)" in *"is failed, one of the sensor's failed_states"*) r=ok ;; *) r="$(ti "$rid" wait_breaks error)" ;; esac
eq "saying the run it waited for failed" ok "$r"
eq "its downstream is upstream_failed" upstream_failed "$(ti "$rid" then state)"

# 5. A plugin sensor: KILN_NOT_YET, then KILN_OK.
at=$(( $(date +%s) + 4 ))
rid=$(api POST /api/v1/dags/plug/trigger "{\"conf\":{\"at\":$at}}" | jq_ 'd["run_id"]')
ok "the plugin sensor waits" waits "$rid" ready
case "$(ti "$rid" ready sensor_reason)" in *"not before $at"*) r=ok ;; *) r="$(ti "$rid" ready sensor_reason)" ;; esac
eq "with the reason its plugin gave" ok "$r"
ok "then succeeds" wait_run "$rid" success 15
api GET "/api/v1/runs/$rid" > "$T/run.json"
eq "its result is the plugin's, from a poke at or after ready_at" True \
	"$(jq_ "[t['result']['ready'] >= $at for t in d['tasks'] if t['task']=='ready'][0]" < "$T/run.json")"

# 6. The master killed while a sensor waits: it still waits, then completes.
rid=$(api POST /api/v1/dags/restart/trigger '{}' | jq_ 'd["run_id"]')
ok "the sensor waits" waits "$rid" wait
kill -9 "$PID_master"; wait "$PID_master" 2>/dev/null
start_node master; wait_master
eq "after a restart it is still up for reschedule" up_for_reschedule "$(ti "$rid" wait state)"
touch "$T/flags/restart.ready"
ok "and the run completes" wait_run "$rid" success 20
eq "its downstream ran" success "$(ti "$rid" after state)"

# 7. Errors in `sensor:`, with FILE:LINE:COLUMN.
k dag errors > "$T/errors.txt"
ok "poke_interval under 1 s is refused" grep -q "bad1.yaml:4:.*poke_interval" "$T/errors.txt"
ok "two kinds at once are refused" grep -q "bad2.yaml:4:.*one of file, http, dag_run and artifact" "$T/errors.txt"
ok "mode poke is refused with the reason" grep -q "bad3.yaml:4:.*only 'reschedule'" "$T/errors.txt"
ok "an unknown key is refused" grep -q "bad4.yaml:5:.*pokeinterval" "$T/errors.txt"
ok "an unknown run state is refused where it is" grep -q "bad5.yaml:4:.*'sucess' is not a run state" "$T/errors.txt"
ok "failed_states is for dag_run sensors" grep -q "bad6.yaml:4:.*failed_states is for dag_run sensors" "$T/errors.txt"
ok "a state both allowed and failed is refused" grep -q "bad7.yaml:4:.*shares a state with allowed_states" "$T/errors.txt"
ok "ca_file is for https sensors" grep -q "bad8.yaml:4:.*ca_file is for https:// sensors" "$T/errors.txt"
finish
