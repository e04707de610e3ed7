#!/bin/sh
# SPDX-License-Identifier: MIT
# exec.sh - command tasks (the exec plugin): argv and shell forms, params
# as environment and as a JSON file, outputs collected and downloadable,
# output streamed to the log while the command runs, exit statuses, a
# timeout that stops the whole process group, a missing program, a worker
# that has not enabled exec, and a DAG of `command:` tasks.
. "$(dirname "$0")/lib.sh"
cluster_yaml
# Only w1 runs commands; w2 keeps the default (off).
sed -i 's/^  - name: w1$/  - name: w1\n    exec: true\n    max_output_size: 1MiB/' "$T/cluster.yaml"
start_node master; wait_master; start_node w1; start_node w2; wait_workers 2
TOKEN=$(token)   # one token for every call below

submit() {  # submit PARAMS_JSON [EXTRA_FIELDS] -> job id
	api POST /api/v1/jobs "{\"plugin\":\"exec\",\"params\":$1${2:+,$2}}" | jq_ 'd["id"]'
}
field() { api GET "/api/v1/jobs/$1" | jq_ "d$2"; }
joblog() { api GET "/api/v1/jobs/$1/log"; }

# argv form: the params as KILN_PARAM_* and as the JSON file, the work
# directory as the current directory, one output file.
cat > "$T/argv.py" <<'PY'
import json, os
p = json.load(open(os.environ["KILN_PARAMS_FILE"]))
print("greeting", os.environ["KILN_PARAM_GREETING"], "job", os.environ["KILN_JOB_ID"])
print("cwd", os.getcwd() == os.environ["KILN_WORK_DIR"], "n", p["n"] + 1)
open(os.path.join(os.environ["KILN_OUTPUTS"], "answer.txt"), "w").write("%s %d\n" % (p["greeting"], p["n"] * 2))
PY
j=$(submit "{\"argv\":[\"python3\",\"$T/argv.py\"],\"greeting\":\"hello\",\"n\":21}")
ok "an argv task succeeds" wait_state "$j" succeeded 20
log=$(joblog "$j")
ok "its params reach it as KILN_PARAM_GREETING" sh -c "echo '$log' | grep -q 'stdout: greeting hello job $j'"
ok "and as the JSON file, from the work directory" sh -c "echo '$log' | grep -q 'stdout: cwd True n 22'"
eq "its result says exit 0 and one output" "0 1" "$(api GET "/api/v1/jobs/$j" | jq_ '"%d %d" % (d["result"]["exit_status"], d["result"]["outputs"])')"
sha=$(api GET "/api/v1/jobs/$j" | jq_ '[o["sha"] for o in d["outputs"] if o["name"]=="answer.txt"][0]')
eq "the output file is an artifact, downloadable" "hello 42" \
	"$(curl -s -H "Authorization: Bearer $(token)" "$URL/api/v1/artifacts/$sha")"
eq "it ran on w1, the worker with exec enabled" w1 "$(field "$j" '["worker"]')"
# The executor wrote it to a file of w1's cache, which the worker renamed
# into place (not sent through the executor's socket).
eq "w1's cache holds it by its SHA" "hello 42" "$(cat "$T/w1/cache/$sha")"

# Shell form, streamed: the first line is in the log while it still runs.
j=$(submit '{"command":"echo first; echo to-stderr >&2; sleep 3; echo last"}')
seen=0
for _ in $(seq 1 50); do
	[ "$(field "$j" '["state"]')" = running ] && joblog "$j" | grep -q 'stdout: first' && { seen=1; break; }
	sleep 0.1
done
eq "stdout lines reach the task log while the command runs" 1 "$seen"
ok "the shell task succeeds" wait_state "$j" succeeded 15
ok "with stderr in the log too" sh -c "'$KILN' -c '$T/cluster.yaml' job $j >/dev/null; curl -s -H 'Authorization: Bearer $(token)' '$URL/api/v1/jobs/$j/log' | grep -q 'stderr: to-stderr'"

# A non-zero exit fails the job with the status and the last stderr lines.
j=$(submit '{"command":"echo bad input >&2; exit 3"}' '"retries":0')
ok "a non-zero exit fails" wait_state "$j" failed 15
e=$(field "$j" '["error"]')
case "$e" in *"exit status 3"*"bad input"*) ok "with 'exit status 3' and stderr" true ;;
*) ok "with 'exit status 3' and stderr (got: $e)" false ;; esac
j=$(submit '{"argv":["sh","-c","kill -SEGV $$"]}' '"retries":0')
ok "a command killed by a signal fails" wait_state "$j" failed 15
case "$(field "$j" '["error"]')" in *"killed by signal 11 (SIGSEGV)"*) ok "naming the signal" true ;;
*) ok "naming the signal (got: $(field "$j" '["error"]'))" false ;; esac

# A missing program: a clear error, and no retry (bad input).
j=$(submit '{"argv":["no-such-prog-kiln","x"]}' '"retries":2')
ok "a missing program fails" wait_state "$j" failed 15
e=$(field "$j" '["error"]')
case "$e" in *"no such program 'no-such-prog-kiln' in PATH"*) ok "saying so ($e)" true ;;
*) ok "saying no such program (got: $e)" false ;; esac
eq "at once, not retried" 1 "$(field "$j" '["attempt"]')"

# Timeout: a shell that started a grandchild; both are gone afterwards.
j=$(submit "{\"command\":\"echo \$\$ > $T/pgid; sleep 313.7 & sleep 313.8; echo never\",\"timeout\":1,\"grace\":1}" '"retries":0')
ok "a command over its timeout fails" wait_state "$j" failed 15
case "$(field "$j" '["error"]')" in *"timed out after 1 s"*) ok "as timed out" true ;;
*) ok "as timed out (got: $(field "$j" '["error"]'))" false ;; esac
pg=$(cat "$T/pgid")
left=$(ps -o pid= -g "$pg" 2>/dev/null | wc -l)
eq "no process of its group is left (group $pg)" 0 "$left"
ok "nor any of its sleeps" sh -c "! pgrep -f 'sleep 313\.[78]' >/dev/null"

# Cancel: the same, through the job's cancel.
j=$(submit "{\"command\":\"echo \$\$ > $T/pgid2; sleep 314.7 & sleep 314.8\"}" '"retries":0')
for _ in $(seq 1 50); do [ -s "$T/pgid2" ] && break; sleep 0.1; done
api POST "/api/v1/jobs/$j/cancel" >/dev/null
ok "a cancelled command ends" wait_state "$j" cancelled 10
sleep 0.5
eq "and leaves no process of its group" 0 "$(ps -o pid= -g "$(cat "$T/pgid2")" 2>/dev/null | wc -l)"

# max_output: the param caps what the command may write.
j=$(submit '{"command":"head -c 5000 /dev/zero > $KILN_OUTPUTS/big","max_output":"1K"}' '"retries":0')
ok "a command writing more than max_output fails" wait_state "$j" failed 15
case "$(field "$j" '["error"]')" in *"max_output"*) ok "naming max_output" true ;;
*) ok "naming max_output (got: $(field "$j" '["error"]'))" false ;; esac

# The worker's max_output_size caps every task's outputs.
j=$(submit '{"command":"head -c 600000 /dev/zero > $KILN_OUTPUTS/a; head -c 600000 /dev/zero > $KILN_OUTPUTS/b"}' '"retries":0')
ok "outputs over the worker's max_output_size fail" wait_state "$j" failed 15
case "$(field "$j" '["error"]')" in *"more than this worker's max_output_size (1048576 bytes)"*) ok "naming max_output_size" true ;;
*) ok "naming max_output_size (got: $(field "$j" '["error"]'))" false ;; esac
eq "no output's temporary file is left in w1's cache" "" "$(ls "$T/w1/cache" | grep '\.tmp$')"

# CPU time and memory limits.
j=$(submit '{"argv":["python3","-c","while True: pass"],"cpu_seconds":1}' '"retries":0')
ok "a command over cpu_seconds is stopped" wait_state "$j" failed 15
case "$(field "$j" '["error"]')" in *"SIGXCPU"*"cpu_seconds"*) ok "by SIGXCPU" true ;;
*) ok "by SIGXCPU (got: $(field "$j" '["error"]'))" false ;; esac
j=$(submit '{"argv":["python3","-c","x = bytearray(400 << 20)"],"memory":"200MiB"}' '"retries":0')
ok "a command over its memory limit fails" wait_state "$j" failed 15
case "$(field "$j" '["error"]')" in *"exit status 1"*"MemoryError"*) ok "with MemoryError" true ;;
*) ok "with MemoryError (got: $(field "$j" '["error"]'))" false ;; esac

# w2 has not enabled exec: it does not offer the plugin and says why.
w2=$(api GET /api/v1/workers | jq_ '[",".join(p["name"] for p in w["plugins"]) for w in d["workers"] if w["name"]=="w2"][0]')
case ",$w2," in *,exec,*) ok "w2 does not offer exec" false ;; *) ok "w2 does not offer exec" true ;; esac
ok "w2 logged why" grep -q "plugin 'exec' is not enabled on worker w2" "$T/w2.log"
perr=$(api GET /api/v1/plugins | jq_ '[e["error"] for e in d.get("errors", []) if e["worker"]=="w2"]')
eq "a policy, not a plugin error in /api/v1/plugins" "[]" "$perr"

# A DAG of command tasks: a shell step writes a file that a Python step
# reads through {{ inputs.NAME }}.
cat > "$T/dags/cmd.yaml" <<'YAML'
id: cmd
params: { n: 4 }
tasks:
  - id: make
    command: seq 1 {{ params.n }} > $KILN_OUTPUTS/numbers.txt
  - id: total
    depends_on: [make]
    command: [python3, -c, "import sys; print('sum', sum(int(l) for l in open(sys.argv[1])))", "{{ inputs.make/numbers.txt }}"]
  - id: short
    depends_on: [make]
    command: wc -l < {{ inputs.numbers.txt }}
YAML
for _ in $(seq 1 50); do api GET /api/v1/dags/cmd >/dev/null; [ "$(status)" = 200 ] && break; sleep 0.1; done
rid=$(api POST /api/v1/dags/cmd/trigger '{}' | jq_ 'd["run_id"]')
ok "a DAG of command tasks succeeds" wait_run "$rid" success 20
ok "the Python step read the shell step's output" sh -c "curl -s -H 'Authorization: Bearer $(token)' '$URL/api/v1/runs/$rid/tasks/total/log' | grep -q 'stdout: sum 10'"
ok "and by its short name too" sh -c "curl -s -H 'Authorization: Bearer $(token)' '$URL/api/v1/runs/$rid/tasks/short/log' | grep -q 'stdout: 4'"
cat > "$T/dags/bad.yaml" <<'YAML'
id: bad
tasks:
  - id: a
    plugin: noop
    command: echo hi
YAML
# The examples of conf/dags run as they are.
mkdir -p "$T/dags/scripts"
cp "$KILN_SRCDIR"/conf/dags/example_shell.yaml "$KILN_SRCDIR"/conf/dags/example_python.yaml "$T/dags/"
cp "$KILN_SRCDIR"/conf/dags/scripts/*.py "$T/dags/scripts/"
for d in example_shell example_python; do
	for _ in $(seq 1 50); do api GET /api/v1/dags/$d >/dev/null; [ "$(status)" = 200 ] && break; sleep 0.1; done
	eval "r_$d=\$(api POST /api/v1/dags/$d/trigger '{}' | jq_ 'd[\"run_id\"]')"
done
ok "conf/dags/example_shell.yaml runs to success" wait_run "$r_example_shell" success 20
ok "its top word is 'the', 3 times" sh -c "curl -s -H 'Authorization: Bearer $(token)' '$URL/api/v1/runs/$r_example_shell/tasks/top/log' | grep -q 'stdout: *3 the'"
ok "conf/dags/example_python.yaml runs to success" wait_run "$r_example_python" success 20
ok "its mean of y over 50 rows is 50" sh -c "curl -s -H 'Authorization: Bearer $(token)' '$URL/api/v1/runs/$r_example_python/tasks/summarise/log' | grep -q 'stdout: mean of y over 50 rows: 50.0'"

for _ in $(seq 1 50); do api GET /api/v1/dags/errors | grep -q bad.yaml && break; sleep 0.1; done
ok "'plugin' and 'command' together are an import error" sh -c "curl -s -H 'Authorization: Bearer $(token)' '$URL/api/v1/dags/errors' | grep -q \"bad.yaml:4:13: task 'a' has both\""

# An output file w1 cannot take from its executor (the first read of one
# fails, KILN_FAULT): the job fails naming the output, never succeeds
# without it; the next job's output goes through.
kill "$PID_w1"; wait "$PID_w1" 2>/dev/null
KILN_FAULT=cache:read:1:EIO:1 start_node w1
for _ in $(seq 1 100); do   # refused (400) until w1 is back
	j=$(submit '{"command":"echo kept > $KILN_OUTPUTS/kept.txt"}' '"retries":0')
	[ -n "$j" ] && [ "$j" != None ] && break; sleep 0.1
done
ok "an output the worker cannot take fails the job" wait_state "$j" failed 30
case "$(field "$j" '["error"]')" in *"cannot take output 'kept.txt'"*"Input/output error"*) ok "naming the output" true ;;
*) ok "naming the output (got: $(field "$j" '["error"]'))" false ;; esac
j=$(submit '{"command":"echo kept > $KILN_OUTPUTS/kept.txt"}' '"retries":0')
ok "the next one's output goes through" wait_state "$j" succeeded 30
eq "and is listed" kept.txt "$(api GET "/api/v1/jobs/$j" | jq_ '" ".join(o["name"] for o in d["outputs"])')"

# Without w1, nobody offers exec: a submission is refused.
kill "$PID_w1"; wait "$PID_w1" 2>/dev/null
for _ in $(seq 1 60); do
	n=$(curl -s "$URL/api/v1/health" | jq_ 'd["workers_alive"]'); [ "$n" = 1 ] && break; sleep 0.1
done
e=$(api POST /api/v1/jobs '{"plugin":"exec","params":{"command":"true"}}')
eq "exec is refused when only a worker without it is alive" 400 "$(status)"
case "$e" in *"no live worker has it (workers run commands only with 'exec: true'"*) ok "saying why" true ;;
*) ok "saying why (got: $e)" false ;; esac
finish
