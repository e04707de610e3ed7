#!/bin/sh
# SPDX-License-Identifier: MIT
# notify.sh - notifications and deadlines (issue 15 item 4) on a real
# master and worker, with a webhook receiver started here
# (tests/integration/notify-hook.py) that checks every signature: a
# failing task and its run tell their on_failure; a task past its 2 s
# deadline tells on_deadline while it still runs, once, even across a
# master restart, then on_success; the run's own deadline; a deadline
# counted from the data interval's end; a retry tells
# on_retry and the receiver failing once is tried again; a webhook signed
# with its own key (a variable); a command
# callback gets the event on stdin; everything is in the run's API; a
# webhook whose receiver is down while the master is killed is sent
# again after the restart, with the same delivery id; marking a task
# success or failed tells none of its callbacks (as Airflow); and bad
# values are refused with FILE:LINE:COLUMN.
. "$(dirname "$0")/lib.sh"
cluster_yaml
sed -i 's/^  - name: w1$/  - name: w1\n    exec: true/' "$T/cluster.yaml"
sed -i 's/^  dags_dir:/  callback_commands: true\n  dags_dir:/' "$T/cluster.yaml"
D=$T/dags
HP=$(free_port)
H="http://127.0.0.1:$HP"
HP2=$(free_port)
H2="http://127.0.0.1:$HP2"   # another host: sent to beside the first

cat > "$D/nfail.yaml" <<YAML
id: nfail
on_failure:
  - { webhook: "$H/run" }
  - { webhook: "$H/own", secret: hook_key }
tasks:
  - id: boom
    command: "exit 3"
    on_failure: { webhook: "$H/task" }
YAML
cat > "$D/nslow.yaml" <<YAML
id: nslow
deadline: { after: 3s, from: start }
on_deadline: [{ webhook: "$H/run-deadline" }]
tasks:
  - id: slow
    command: "sleep 12"
    deadline: { after: 2s, from: start }
    on_deadline: { webhook: "$H/deadline" }
    on_success:
      - { webhook: "$H/success" }
      - { command: "cat > $T/cmd.json; echo \$KILN_EVENT \$KILN_DELIVERY > $T/cmd.env" }
YAML
cat > "$D/nretry.yaml" <<YAML
id: nretry
tasks:
  - id: flaky
    command: "exit 1"
    retries: 1
    retry_delay: 1s
    on_retry: { webhook: "$H/fail-once" }
YAML
cat > "$D/nresend.yaml" <<YAML
id: nresend
tasks:
  - id: r
    command: "exit 2"
    on_failure:
      - { webhook: "$H/hang" }
      - { webhook: "$H2/beside" }
YAML
cat > "$D/nmark.yaml" <<YAML
id: nmark
on_success: { webhook: "$H/mark-run" }
tasks:
  - id: m
    command: "exit 3"
    on_success: { webhook: "$H/mark-success" }
    on_failure: { webhook: "$H/mark-failure" }
  - id: after
    command: "true"
    depends_on: [m]
    on_success: { webhook: "$H/mark-after" }
  - id: hold
    command: "sleep 10"
YAML
cat > "$D/bad1.yaml" <<'YAML'
id: bad1
tasks:
  - id: a
    plugin: noop
    deadline: { after: soon }
YAML
cat > "$D/bad2.yaml" <<'YAML'
id: bad2
tasks:
  - id: a
    plugin: noop
    deadline: { after: 1m, from: end }
YAML
cat > "$D/bad3.yaml" <<'YAML'
id: bad3
on_failure: { webhook: "ftp://example.com/x" }
tasks:
  - id: a
    plugin: noop
YAML
cat > "$D/bad5.yaml" <<'YAML'
id: bad5
tasks:
  - id: a
    plugin: noop
    on_success: { command: "true", secret: k }
YAML
cat > "$D/bad4.yaml" <<'YAML'
id: bad4
tasks:
  - id: a
    plugin: noop
    on_retry: { webhook: "http://x/", command: "true" }
YAML

start_node master; wait_master; start_node w1; wait_workers 1
TOKEN=$(token)
python3 "$KILN_SRCDIR/tests/integration/notify-hook.py" "$HP" "$T/key" \
	"$T/hooks.log" "$URL" "$TOKEN" "$T/ownkey" 2>>"$T/hook.log" &
PIDS="$PIDS $!"
python3 "$KILN_SRCDIR/tests/integration/notify-hook.py" "$HP2" "$T/key" \
	"$T/hooks.log" "$URL" "$TOKEN" "$T/ownkey" 2>>"$T/hook.log" &
PIDS="$PIDS $!"
# The webhook key: hex SHA-256 of "kiln-webhook:" and the cluster secret.
python3 -c 'import hashlib,sys; print(hashlib.sha256(b"kiln-webhook:" + open(sys.argv[1],"rb").read().strip()).hexdigest())' \
	"$T/secret" > "$T/key"
for _ in $(seq 1 100); do
	curl -s -o /dev/null -X POST -d '{}' "$H/probe" &&
		curl -s -o /dev/null -X POST -d '{}' "$H2/probe" && break
	sleep 0.1
done
: > "$T/hooks.log"
# Written only now, with the receiver up and its log emptied: the run
# is made at once, and its deadline told as soon as it starts.
# A scheduled run: its data interval ended at midnight UTC, hours before
# it was made, so a deadline 10 s after interval_end has passed when the
# task starts (and one 10 s after the start never would: it sleeps 8).
cat > "$D/nlate.yaml" <<YAML
id: nlate
schedule: "@daily"
start_date: 2026-01-01
catchup: false
tasks:
  - id: late
    command: "sleep 8"
    deadline: { after: 10s, from: interval_end }
    on_deadline: { webhook: "$H/late" }
YAML
for _ in $(seq 1 150); do
	api GET /api/v1/dags | grep -q '"nlate"' && break; sleep 0.1
done
for _ in $(seq 1 100); do
	api GET /api/v1/dags | grep -q '"nretry"' && break; sleep 0.1
done

# hook PATH [N] [SECONDS]: until the receiver has N (1) requests on PATH.
hook() {
	for _ in $(seq 1 $((${3:-30} * 10))); do
		[ "$(grep -c "\"path\": \"$1\"" "$T/hooks.log" 2>/dev/null)" -ge "${2:-1}" ] && return 0
		sleep 0.1
	done
	echo "no request on $1 (log: $(cat "$T/hooks.log"))"; return 1
}
# rec PATH EXPR: EXPR of the last request on PATH (a dict r).
rec() {
	grep "\"path\": \"$1\"" "$T/hooks.log" | tail -n 1 | jq_ "$2"
}
notifs() {  # notifs RUN EXPR: EXPR over the run's notifications n
	api GET "/api/v1/runs/$1" | python3 -c "import json,sys; n=json.load(sys.stdin)['notifications']; print($2)"
}

# A webhook's own key, a variable (`secret: hook_key`).
echo "own-key-$$" > "$T/ownkey"
k var set hook_key "own-key-$$" >/dev/null

# 1. A failing task and its run.
rid=$(api POST /api/v1/dags/nfail/trigger '{}' | jq_ 'd["run_id"]')
ok "the run fails" wait_run "$rid" failed 30
ok "the task's on_failure is called" hook /task
eq "with a valid signature" True "$(rec /task 'd["valid"]')"
eq "saying failure of task boom of the run" "failure boom $rid" \
	"$(rec /task '"%s %s %s" % (d["event"], d["task"], d["run_id"])')"
eq "its try" 1 "$(rec /task 'd["try"]')"
ok "the DAG's on_failure is called for the run" hook /run
eq "signed, with no task" "True None failure" \
	"$(rec /run '"%s %s %s" % (d["valid"], d["task"], d["event"])')"
eq "with a link to the run" "$URL/#/runs/$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="-_.!~*()"))' "$rid")" \
	"$(rec /run 'd["link"]')"
ok "and the X-Kiln-Timestamp header" sh -c "[ \$(( $(date +%s) - $(rec /run 'd["ts"]') )) -lt 120 ]"
ok "a webhook with its own secret is called" hook /own
eq "signed with that variable's value" "True failure" \
	"$(rec /own '"%s %s" % (d["valid"], d["event"])')"
for _ in $(seq 1 100); do
	[ "$(notifs "$rid" 'sum(x["state"] == "pending" for x in n)')" = 0 ] && break; sleep 0.1
done
eq "the run's API lists the three, sent" "task:failure:webhook:sent run:failure:webhook:sent run:failure:webhook:sent" \
	"$(notifs "$rid" '" ".join("%s:%s:%s:%s" % ("task" if x["task"] else "run", x["event"], x["kind"], x["state"]) for x in n)')"

# 2. A deadline passes while the task runs.
rid=$(api POST /api/v1/dags/nslow/trigger '{}' | jq_ 'd["run_id"]')
ok "the task's deadline is told" hook /deadline 1 40
eq "signed, deadline_missed of task slow" "True deadline_missed slow" \
	"$(rec /deadline '"%s %s %s" % (d["valid"], d["event"], d["task"])')"
eq "while the task was still running" running "$(rec /deadline 'd["task_state"]')"
eq "and it is still running now" running "$(ti "$rid" slow state)"
ok "the run's own deadline is told" hook /run-deadline 1 40
eq "with no task" "True deadline_missed None" \
	"$(rec /run-deadline '"%s %s %s" % (d["valid"], d["event"], d["task"])')"
# A master restarted meanwhile does not tell it again.
kill -9 "$PID_master"; wait "$PID_master" 2>/dev/null
start_node master; wait_master
ok "the task then succeeds" wait_run "$rid" success 60
ok "its on_success webhook is called" hook /success
eq "signed" True "$(rec /success 'd["valid"]')"
sleep 1
eq "each deadline was told once" "1 1" \
	"$(grep -c '"path": "/deadline"' "$T/hooks.log") $(grep -c '"path": "/run-deadline"' "$T/hooks.log")"
ok "the command callback got the event on stdin" sh -c \
	"for i in \$(seq 1 100); do [ -s '$T/cmd.env' ] && break; sleep 0.1; done; python3 -c 'import json; d=json.load(open(\"$T/cmd.json\")); assert d[\"event\"]==\"success\" and d[\"run_id\"]==\"$rid\"'"
eq "and KILN_EVENT and KILN_DELIVERY, its delivery id" \
	"success $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["delivery_id"])' "$T/cmd.json")" \
	"$(cat "$T/cmd.env" 2>/dev/null)"
for _ in $(seq 1 100); do
	[ "$(notifs "$rid" 'sum(x["state"] == "pending" for x in n)')" = 0 ] && break; sleep 0.1
done
ok "kiln run show lists them" sh -c "k() { \"$KILN\" -c '$T/cluster.yaml' \"\$@\"; }; k run show '$rid' | grep -A5 '^notifications:' | grep -q 'deadline_missed.*slow.*webhook http://127.0.0.1:$HP/deadline.*sent'"
eq "the run's API lists its notifications" \
	"deadline_missed:sent deadline_missed:sent success:sent success:sent" \
	"$(notifs "$rid" '" ".join(sorted("%s:%s" % (x["event"], x["state"]) for x in n))')"

# 2b. A deadline from the data interval's end.
ok "a deadline from interval_end is told" hook /late 1 40
eq "signed, deadline_missed of task late" "True deadline_missed late" \
	"$(rec /late '"%s %s %s" % (d["valid"], d["event"], d["task"])')"
eq "before the task ended (it may not have started)" True "$(rec /late 'd["task_state"] in ("queued", "running")')"

# 3. A retry, and a receiver that fails once.
rid=$(api POST /api/v1/dags/nretry/trigger '{}' | jq_ 'd["run_id"]')
ok "the run fails after its retry" wait_run "$rid" failed 40
ok "on_retry is called, and again after a 500" hook /fail-once 2
eq "the first try was answered 500, the second 200" "500 200" \
	"$(grep '"path": "/fail-once"' "$T/hooks.log" | python3 -c 'import json,sys; print(" ".join(str(json.loads(l)["answered"]) for l in sys.stdin))')"
eq "both signed, retry of try 1" "True retry 1" "$(rec /fail-once '"%s %s %s" % (d["valid"], d["event"], d["try"])')"
for _ in $(seq 1 50); do
	[ "$(notifs "$rid" 'n[0]["state"]')" = sent ] && break; sleep 0.1
done
eq "the API shows it sent on its second attempt" "retry sent 2 200" \
	"$(notifs "$rid" '"%s %s %d %d" % (n[0]["event"], n[0]["state"], n[0]["attempts"], n[0]["status"])')"

# 3b. The receiver is down (it never answers) while the master is
# killed between tries: the next master sends it again, same body.
rid=$(api POST /api/v1/dags/nresend/trigger '{}' | jq_ 'd["run_id"]')
ok "the run fails" wait_run "$rid" failed 30
ok "its on_failure reaches a receiver that does not answer" hook /hang 1
ok "and, meanwhile, its other target on another host" hook /beside 1 3
for _ in $(seq 1 150); do
	[ "$(notifs "$rid" '"%s %d" % (n[0]["state"], n[0]["attempts"] >= 1)')" = "pending 1" ] && break; sleep 0.1
done
eq "a try timed out, the next is pending" "pending 1" \
	"$(notifs "$rid" '"%s %d" % (n[0]["state"], n[0]["attempts"] >= 1)')"
kill -9 "$PID_master"; wait "$PID_master" 2>/dev/null
before=$(grep -c '"path": "/hang"' "$T/hooks.log")
touch "$T/hook-up"
start_node master; wait_master
ok "the restarted master sends it again" hook /hang $((before + 1)) 40
eq "once, answered 200" 1 "$(grep '"path": "/hang"' "$T/hooks.log" | grep -c '"answered": 200')"
eq "every try signed, with one delivery id in header and body, one time" "True True 1 1" \
	"$(grep '"path": "/hang"' "$T/hooks.log" | python3 -c 'import json,sys; r=[json.loads(l) for l in sys.stdin]; print(all(x["valid"] for x in r), all(x["delivery"] == x["delivery_id"] and len(x["delivery"] or "") == 32 for x in r), len(set(x["delivery"] for x in r)), len(set(x["time_ms"] for x in r)))')"
for _ in $(seq 1 50); do
	[ "$(notifs "$rid" 'n[0]["state"]')" = sent ] && break; sleep 0.1
done
eq "the API shows it sent" "sent 200" "$(notifs "$rid" '"%s %d" % (n[0]["state"], n[0]["status"])')"

# 3c. Marking a task tells none of its callbacks (Airflow's mark success
# and mark failed do not run them); what the mark lets run is told.
rid=$(api POST /api/v1/dags/nmark/trigger '{}' | jq_ 'd["run_id"]')
ok "the task's on_failure is told of its real end" hook /mark-failure 1
eq "while the run still runs" running "$(api GET "/api/v1/runs/$rid" | jq_ 'd["state"]')"
api POST "/api/v1/runs/$rid/tasks/m/mark" '{"state": "success"}' >/dev/null
eq "marking it success is accepted" 200 "$(cat "$T/status")"
ok "the run then succeeds" wait_run "$rid" success 30
ok "the task the mark let run tells its on_success" hook /mark-after 1
ok "and the run its own on_success" hook /mark-run 1
eq "kiln task mark --dry-run sets nothing" "would mark failed: m success" \
	"$(k task mark --dry-run "$rid" m failed) $(ti "$rid" m state)"
eq "kiln task mark marks it failed, the run ended" "marked failed: m" \
	"$(k task mark "$rid" m failed)"
ok "kiln task mark refuses another state" sh -c "! \"$KILN\" -c '$T/cluster.yaml' task mark '$rid' m running 2>/dev/null"
sleep 2
eq "the task is failed (the run ends as its leaf did)" "failed success" \
	"$(ti "$rid" m state) $(api GET "/api/v1/runs/$rid" | jq_ 'd["state"]')"
eq "the marked task told neither on_success nor on_failure again" "0 1" \
	"$(grep -c '"path": "/mark-success"' "$T/hooks.log") $(grep -c '"path": "/mark-failure"' "$T/hooks.log")"

# 4. Bad values, with FILE:LINE:COLUMN.
k dag errors > "$T/errors.txt"
ok "a deadline that is not a duration" grep -q "bad1.yaml:5:[0-9]*:.*after" "$T/errors.txt"
ok "a deadline from what is not start or interval_end" grep -q "bad2.yaml:5:[0-9]*:.*start or interval_end" "$T/errors.txt"
ok "a webhook that is not http(s)" grep -q "bad3.yaml:2:[0-9]*:.*http://" "$T/errors.txt"
ok "a target with a webhook and a command" grep -q "bad4.yaml:5:[0-9]*:.*one webhook or one command" "$T/errors.txt"
ok "a secret for a command" grep -q "bad5.yaml:5:[0-9]*:.*is for webhooks" "$T/errors.txt"

# 5. The master stops cleanly (under the sanitizers: nothing leaked).
kill -TERM "$PID_master"; wait "$PID_master"; rc=$?
eq "the master stops with status 0" 0 "$rc"
finish
