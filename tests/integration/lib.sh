# SPDX-License-Identifier: MIT
# lib.sh - helpers for kiln's integration tests: each test starts a real
# master and real workers on free loopback ports, with a private data
# directory and plugin directory, and stops them on exit.
#
# Environment (set by `make check`): KILN (the binary), KILN_PLUGIN_BUILD
# (built plugins), KILN_TEST_PLUGINS (test plugins), KILN_SRCDIR.
set -u
: "${KILN:=$(pwd)/kiln}"
: "${KILN_PLUGIN_BUILD:=$(pwd)/plugins/lib}"
: "${KILN_TEST_PLUGINS:=$(pwd)/tests/plugins/.libs}"
: "${KILN_SRCDIR:=$(pwd)}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
# Debian's python3 (installed by ./bootstrap) for the JSON helpers below:
# a version manager's shim in front of it (pyenv) costs a second or more
# per call while the workers keep both cores busy, long enough for a test
# to miss a task's running state.
if [ -x /usr/bin/python3 ]; then
	python3() { /usr/bin/python3 "$@"; }
fi

T=$(mktemp -d /tmp/kiln-it.XXXXXX)
PIDS=""
FAILS=0
CHECKS=0

cleanup() {
	# A background call of the python3() function above is a subshell:
	# its child, the interpreter, is killed with it.
	for p in $PIDS; do
		pkill -9 -P "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$FAILS" -ne 0 ] || [ "${KEEP:-}" ]; then
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "---- $f (tail)"; tail -n 30 "$f"
		done
	fi
	# KEEPDIR=1 keeps the whole directory (every log, the store) to read.
	[ -n "${KEEPDIR:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# cluster_yaml [WORKER_TIMEOUT] - write $T/cluster.yaml for a master and
# workers w1 and w2 (2 slots each) with plugins in $T/plugins; tasks read
# files under $T (but its secret, cluster.yaml and kiln's own directories)
# and the examples' data.
cluster_yaml() {
	PORT=$(free_port)
	mkdir -p "$T/plugins" "$T/dags"
	cp "$KILN_PLUGIN_BUILD"/*.so "$T/plugins/"
	for p in crash hang stagesum runaway; do
		[ -f "$KILN_TEST_PLUGINS/$p.so" ] && cp "$KILN_TEST_PLUGINS/$p.so" "$T/plugins/"
	done
	cat > "$T/cluster.yaml" <<YAML
cluster:
  name: test
master:
  listen: 127.0.0.1
  port: $PORT
  data_dir: $T/master
  plugin_dir: $T/plugins
  heartbeat_interval: 200ms
  worker_timeout: ${1:-2s}
  dags_dir: $T/dags
  pools:
    single: 1
  auth:
    secret_file: $T/secret
data:
  read_roots: [$T, $KILN_SRCDIR/examples/data]
workers:
  - name: w1
    slots: 2
    memory: 1GiB
  - name: w2
    slots: 2
    memory: 1GiB
YAML
	URL="http://127.0.0.1:$PORT"
	export KILN_MASTER="$URL"
}

# start_node NAME - run one node in the background; its pid in PID_<NAME>.
start_node() {
	"$KILN" start -c "$T/cluster.yaml" --node "$1" >>"$T/$1.log" 2>&1 &
	eval "PID_$1=$!"
	PIDS="$PIDS $!"
}

k() { "$KILN" -c "$T/cluster.yaml" "$@"; }

# wait_workers N - until N workers are alive (10 s).
wait_workers() {
	for _ in $(seq 1 200); do
		n=$(curl -s "$URL/api/v1/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["workers_alive"])' 2>/dev/null)
		[ "${n:-0}" -ge "$1" ] && return 0
		sleep 0.05
	done
	echo "timed out waiting for $1 workers"; return 1
}

wait_master() {
	for _ in $(seq 1 200); do
		curl -s -o /dev/null "$URL/api/v1/health" && return 0
		sleep 0.05
	done
	echo "master did not start"; return 1
}

start_cluster() {
	cluster_yaml "$@"
	start_node master
	wait_master
	start_node w1
	start_node w2
	wait_workers 2
}

# API calls with a token made through the signed CLI.
token() {
	[ -n "${TOKEN:-}" ] || TOKEN=$(k token create --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
	echo "$TOKEN"
}
api() {  # api METHOD PATH [BODY] -> body; status in $T/status
	m=$1 p=$2; shift 2
	curl -s -o "$T/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $(token)" \
		-H 'Content-Type: application/json' ${1:+--data-binary "$1"} "$URL$p" > "$T/status"
	cat "$T/body"
}
status() { cat "$T/status"; }

jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

ok() {  # ok DESCRIPTION COMMAND...
	d=$1; shift
	CHECKS=$((CHECKS + 1))
	if "$@"; then echo "ok - $d"; else echo "not ok - $d"; FAILS=$((FAILS + 1)); fi
}
eq() {  # eq DESCRIPTION EXPECTED ACTUAL
	CHECKS=$((CHECKS + 1))
	if [ "$2" = "$3" ]; then echo "ok - $1"; else
		echo "not ok - $1: expected '$2', got '$3'"; FAILS=$((FAILS + 1)); fi
}
finish() {
	echo "$((CHECKS - FAILS)) of $CHECKS checks passed"
	[ "$FAILS" -eq 0 ]
	exit $?
}

# wait_state ID STATE [SECONDS]
wait_state() {
	for _ in $(seq 1 $((${3:-20} * 20))); do
		s=$(api GET "/api/v1/jobs/$1" | jq_ 'd["state"]' 2>/dev/null)
		[ "$s" = "$2" ] && return 0
		sleep 0.05
	done
	echo "job $1 is '$s', not '$2'"; return 1
}

# wait_run RUN_ID STATE [SECONDS]
wait_run() {
	for _ in $(seq 1 $((${3:-20} * 10))); do
		s=$(api GET "/api/v1/runs/$1" | jq_ 'd["state"]' 2>/dev/null)
		[ "$s" = "$2" ] && return 0
		sleep 0.1
	done
	echo "run $1 is '$s', not '$2'"; return 1
}
ti() { api GET "/api/v1/runs/$1" | jq_ "[t['$3'] for t in d['tasks'] if t['task']=='$2'][0]"; }
