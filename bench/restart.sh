#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/restart.sh - how long a master takes from start to serving, and to
# dispatching a new job, with a large store: the whole of kiln's recovery
# when Kubernetes reschedules the master pod (docs/deploy.md).
#
#   bench/restart.sh [JOBS]        (default 100000 finished jobs)
#
# Makes a store with the master (so the schema is kiln's), stops it, adds
# JOBS succeeded jobs with one attempt each straight into kiln.db, then
# starts the master again with a worker already polling and prints the
# time to /api/v1/health answering "ok" and to a new no-op job's success.
# Run after `./bootstrap build`, from the top of the tree.
set -eu
jobs=${1:-100000}
top=$(pwd)
T=$(mktemp -d /tmp/kiln-restart.XXXXXX)
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; wait; rm -rf "$T"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$T/cluster.yaml" <<EOF
master:
  listen: 127.0.0.1
  port: $port
  data_dir: $T/master
  plugin_dir: $top/plugins/lib
  auth:
    secret_file: $T/secret
workers:
  - name: w1
    slots: 2
EOF
k() { "$top/kiln" -c "$T/cluster.yaml" "$@"; }
now_ms() { date +%s%3N; }
ready() { curl -sf "http://127.0.0.1:$port/api/v1/health" >/dev/null 2>&1; }

k start --node master > "$T/m1.log" 2>&1 & m=$!
until ready; do sleep 0.05; done
kill "$m"; wait "$m" || true

echo "adding $jobs finished jobs to $T/master/kiln.db"
sqlite3 "$T/master/kiln.db" > /dev/null <<EOF
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $jobs)
INSERT INTO jobs (plugin, params, state, attempt, worker, result, created_ms,
                  started_ms, finished_ms)
SELECT 'noop', '{}', 2, 1, 'w1', '{"ok":true}', 1764900000000 + i,
       1764900000000 + i, 1764900000001 + i FROM n;
INSERT INTO attempts (job_id, attempt, worker, state, log, started_ms, finished_ms)
SELECT id, 1, 'w1', 2, 'done', started_ms, finished_ms FROM jobs;
COMMIT;
EOF
ls -l "$T/master/kiln.db" | awk '{ printf "store: %.1f MiB\n", $5 / 1048576 }'

k start --node w1 > "$T/w1.log" 2>&1 & pids="$pids $!"
t0=$(now_ms)
k start --node master > "$T/m2.log" 2>&1 & pids="$pids $!"
until ready; do sleep 0.005; done
t1=$(now_ms)
k submit noop --wait > /dev/null
t2=$(now_ms)
echo "master restart with $jobs finished jobs: serving after $((t1 - t0)) ms," \
	"a new job done after $((t2 - t0)) ms"
