#!/bin/sh
# SPDX-License-Identifier: MIT
# cli.sh - the kiln command line against a real master and two workers:
# GNU-style --help/--version, every client command, tokens and auth.
. "$(dirname "$0")/lib.sh"

ok "kiln --help exits 0" sh -c "'$KILN' --help | grep -q 'Usage: kiln'"
ok "kiln --version names the version" sh -c "'$KILN' --version | grep -q '^kiln [0-9]'"
ok "kiln start --help" sh -c "'$KILN' start --help | grep -q 'Usage: kiln start'"
ok "kiln submit --help" sh -c "'$KILN' submit --help | grep -q -i 'usage'"
"$KILN" --bogus >/dev/null 2>&1; eq "unknown option exits 2" 2 $?
"$KILN" frobnicate >/dev/null 2>&1; eq "unknown command exits 2" 2 $?

start_cluster
ok "kiln ping" sh -c "'$KILN' -c '$T/cluster.yaml' ping | grep -q ok"
ok "kiln workers lists w1 and w2 alive" sh -c "'$KILN' -c '$T/cluster.yaml' workers | grep w1 | grep -q alive && '$KILN' -c '$T/cluster.yaml' workers | grep w2 | grep -q alive"
ok "kiln plugins lists noop, sleep, csvstats" sh -c "'$KILN' -c '$T/cluster.yaml' plugins | grep -q noop && '$KILN' -c '$T/cluster.yaml' plugins | grep -q sleep && '$KILN' -c '$T/cluster.yaml' plugins | grep -q csvstats"

id=$(k submit noop)
ok "submit prints a job id" test "$id" -gt 0
ok "submitted noop succeeds" wait_state "$id" succeeded
k submit csvstats -p file="$KILN_SRCDIR/examples/data/iris.csv" --wait > "$T/out" 2>&1
eq "submit --wait exits 0 on success" 0 $?
ok "csvstats result has 150 rows" grep -q '"rows": *150' "$T/out"
k submit sleep -p seconds=0.1 -p fail=true --retries 0 --wait >/dev/null 2>&1
eq "submit --wait exits 1 on failure" 1 $?
k submit nosuchplugin >/dev/null 2>"$T/err"
eq "unknown plugin exits 1" 1 $?
ok "unknown plugin is named" grep -q "nosuchplugin" "$T/err"

sid=$(k submit sleep -p seconds=30)
ok "sleep job starts" wait_state "$sid" running
for _ in $(seq 1 40); do
	api GET "/api/v1/jobs/$sid/log" | grep -q -i sleep && break; sleep 0.1
done
ok "a running job's log is live" sh -c "curl -s -H 'Authorization: Bearer $(token)' '$URL/api/v1/jobs/$sid/log' | grep -q -i sleep"
ok "kiln cancel" sh -c "'$KILN' -c '$T/cluster.yaml' cancel $sid"
ok "cancelled job is cancelled" wait_state "$sid" cancelled
k cancel "$sid" >/dev/null 2>&1
eq "cancelling a finished job exits 1" 1 $?

ok "kiln job shows state" sh -c "'$KILN' -c '$T/cluster.yaml' job $id | grep -q succeeded"
ok "kiln job --json is JSON" sh -c "'$KILN' -c '$T/cluster.yaml' job $id --json | python3 -m json.tool >/dev/null"
ok "kiln jobs lists jobs" sh -c "'$KILN' -c '$T/cluster.yaml' jobs | grep -q noop"
ok "kiln logs shows the plugin's log" sh -c "'$KILN' -c '$T/cluster.yaml' logs $sid | grep -q -i sleep"

eq "health needs no auth" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/health")"
eq "jobs need auth" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/jobs")"
eq "a wrong token is refused" 401 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$URL/api/v1/jobs")"
eq "a token works" 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(token)" "$URL/api/v1/jobs")"
eq "a token cannot act as a worker" 403 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{}' -H "Authorization: Bearer $(token)" "$URL/api/v1/cluster/register")"
ok "the dashboard is served from the binary" sh -c "curl -s '$URL/' | grep -q -i '<html'"
eq "with its content type" "text/html; charset=utf-8" "$(curl -s -o /dev/null -w '%{content_type}' "$URL/index.html")"
eq "no path escapes" 404 "$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$URL/../etc/passwd")"
curl -s "$URL/metrics" > "$T/metrics"
ok "metrics count finished tasks per plugin" grep -q '^kiln_tasks_total{plugin="noop",state="succeeded"} [1-9]' "$T/metrics"
ok "metrics have task duration histograms" grep -q '^kiln_task_duration_seconds_bucket{plugin="csvstats",le="+Inf"} [1-9]' "$T/metrics"
ok "metrics count HTTP requests by route and status" grep -q '^kiln_http_requests_total{route="/api/v1/jobs/:id",status="200"}' "$T/metrics"
ok "metrics have SQLite write latency" grep -q '^kiln_sqlite_write_duration_seconds_count [1-9]' "$T/metrics"
if command -v promtool >/dev/null 2>&1; then
	ok "promtool accepts the metrics" sh -c "promtool check metrics < '$T/metrics'"
fi
ok "metrics in Prometheus format" sh -c "curl -s '$URL/metrics' | grep -q '^kiln_workers{state=\"alive\"} 2'"
# kiln cert: on this machine's files, without a master.
kc() { "$KILN" -c "$T/cluster.yaml" cert "$@"; }
ok "kiln cert show says TLS is off on loopback" sh -c "'$KILN' -c '$T/cluster.yaml' cert show | grep -q '^TLS: off'"
kc ca > "$T/ca1"; kc ca > "$T/ca2"
ok "kiln cert ca prints a certificate" grep -q 'BEGIN CERTIFICATE' "$T/ca1"
ok "the same one every time (derived from the secret)" cmp -s "$T/ca1" "$T/ca2"
kc rotate > "$T/rot1"
ok "kiln cert rotate makes a key and certificate" grep -q "made .*server.crt (rotated)" "$T/rot1"
k1=$(cat "$T/master/tls/server.key"); kc rotate > /dev/null
ok "a new key each time" test "$k1" != "$(cat "$T/master/tls/server.key")"
eq "the key is the owner's only" 600 "$(stat -c %a "$T/master/tls/server.key")"
ok "kiln cert show describes it" sh -c "'$KILN' -c '$T/cluster.yaml' cert show | grep -q 'names: .*127.0.0.1'"
sed "s|secret_file: .*|secret_file: $T/nosuch.secret|" "$T/cluster.yaml" > "$T/nosecret.yaml"
"$KILN" -c "$T/nosecret.yaml" cert ca > /dev/null 2> "$T/err"
eq "kiln cert ca without the secret fails" 1 $?
ok "saying why" grep -q "cannot read the cluster secret" "$T/err"
finish
