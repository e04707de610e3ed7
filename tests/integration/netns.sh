#!/bin/sh
# SPDX-License-Identifier: MIT
# netns.sh - a cluster across hosts of its own (network namespaces on a
# bridge, see netns-lib.sh): a master listening on its own address, two
# workers on theirs, and the test's client on a fourth.  A DAG passes a file
# from one worker to the other and a distributed stage runs on both; a
# worker whose link is cut mid-task is declared dead in time, its task runs
# on the other worker, its late result is refused when the link comes back
# and it rejoins; every job completes exactly once; requests and a worker
# signed with a wrong secret are refused.  All of it over TLS, which the
# master takes by default on an address that is not loopback: a capture
# of the traffic holds no secret, token, cookie or password in clear; a
# worker refuses a master whose certificate comes from another CA; a
# master told to serve plain HTTP there refuses to start unless told in so
# many words.  A worker's signed request, captured on that plain-HTTP
# master and sent again from another host, is refused as a replay.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns-lib.sh"
unset KILN_TOKEN
netns_setup
netns_add_host m 1
netns_add_host w1 11
netns_add_host w2 12
netns_add_host c 100
netns_add_host f 20     # a fake master
PORT=7077
NETNS_SCHEME=https
NETNS_CURL_CA=$T/ca.pem
netns_url m $PORT
netns_client c
WT=2    # worker_timeout, seconds

# w1 alone reads files, w2 alone computes statistics: the DAG's file must
# cross the network from one worker to the other.
mkdir -p "$T/p1" "$T/p2" "$T/dags"
for p in sleep noop; do
	cp "$KILN_PLUGIN_BUILD/$p.so" "$T/p1/"
	cp "$KILN_PLUGIN_BUILD/$p.so" "$T/p2/"
done
cp "$KILN_TEST_PLUGINS/stagesum.so" "$T/p1/"
cp "$KILN_TEST_PLUGINS/stagesum.so" "$T/p2/"
cp "$KILN_PLUGIN_BUILD/readfile.so" "$T/p1/"
cp "$KILN_PLUGIN_BUILD/csvstats.so" "$T/p2/"
PASSWORD=admin-pass-$$
hash=$(echo "$PASSWORD" | "$KILN" passwd)
cat > "$T/cluster.yaml" <<YAML
cluster:
  name: netns
master:
  listen: $ADDR_m
  port: $PORT
  data_dir: $T/master
  plugin_dir: $T/p1
  heartbeat_interval: 200ms
  worker_timeout: ${WT}s
  dags_dir: $T/dags
  auth:
    secret_file: $T/secret
    users:
      - { name: alice, role: admin, password_hash: '$hash' }
workers:
  - name: w1
    host: $ADDR_w1
    slots: 2
    memory: 1GiB
    plugin_dir: $T/p1
    read_roots: [$KILN_SRCDIR/examples/data]   # readfile below
  - name: w2
    host: $ADDR_w2
    slots: 2
    memory: 1GiB
    plugin_dir: $T/p2
YAML
cat > "$T/dags/files.yaml" <<YAML
id: files
tasks:
  - id: read
    plugin: readfile
    params: { path: "$KILN_SRCDIR/examples/data/iris.csv", name: iris.csv }
  - id: stats
    plugin: csvstats
    depends_on: [read]
  - id: done
    plugin: noop
    depends_on: [stats]
YAML

# The secret made beforehand, so that the test's curl has the cluster CA
# (derived from it) before the master starts.
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$T/secret"
chmod 600 "$T/secret"
"$KILN" cert ca -c "$T/cluster.yaml" > "$T/ca.pem"
ok "kiln cert ca prints the cluster CA" grep -q 'BEGIN CERTIFICATE' "$T/ca.pem"
netns_capture_start || echo "# no capture: $NETNS_CAPTURE_WHY"
netns_start m master
wait_master
ok "the master listens on its own address" grep -q "listening on $URL" "$T/master.log"
ok "over TLS, with a certificate from the cluster CA" \
	grep -q "TLS: made .*server.crt (first start), signed by the cluster CA" "$T/master.log"
code=$(netns_exec m curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/api/v1/health")
eq "and not on loopback" 000 "$code"
"$KILN" cert show -c "$T/cluster.yaml" > "$T/certshow"
ok "kiln cert show names the master's address in its certificate" \
	grep -q "names: .*$ADDR_m" "$T/certshow"
netns_start w1 w1
netns_start w2 w2
wait_workers 2
for n in w1 w2; do
	ok "$n found the master through cluster.yaml" grep -q "registered with master at $URL" "$T/$n.log"
done

# One token for the whole test (api, in $(...), would make one a call).
TOKEN=$(token)

state_of() {  # state_of WORKER -> alive|dead|...
	api GET /api/v1/workers | jq_ "[x['state'] for x in d['workers'] if x['name']=='$1'][0]"
}

# ---- a) a DAG and a distributed stage across the hosts
for _ in $(seq 1 100); do
	n=$(api GET /api/v1/dags | jq_ 'len(d["dags"])'); [ "$n" = 1 ] && break; sleep 0.1
done
rid=$(api POST /api/v1/dags/files/trigger '{}' | jq_ 'd["run_id"]')
ok "the DAG runs to success across the hosts" wait_run "$rid" success 20
eq "read ran on w1" w1 "$(ti "$rid" read worker)"
eq "stats ran on w2" w2 "$(ti "$rid" stats worker)"
eq "stats read the file w1 made: 150 rows" 150 \
	"$(api GET "/api/v1/runs/$rid" | jq_ '[t["result"]["rows"] for t in d["tasks"] if t["task"]=="stats"][0]')"
ok "w2 fetched it from the master over the network" grep -q "fetched input read/iris.csv" "$T/w2.log"

# Four map tasks of 1.5 s: a worker runs at most as many at once as it
# has slots (2), so the stage ends in well under 3 s only if both workers
# ran them.
id=$(k submit stagesum -p n=100000 -p tasks=4 -p sleep_ms=1500)
ok "the distributed stage succeeds" wait_state "$id" succeeded 30
eq "with the right sum" 4999950000 "$(api GET "/api/v1/jobs/$id" | jq_ 'd["result"]["total"]')"
ms=$(api GET "/api/v1/jobs/$id" | jq_ 'd["result"]["stage_ms"]')
echo "# the stage of 4 map tasks of 1.5 s took $ms ms"
ok "its map tasks ran on both workers (under 2.7 s)" python3 -c "import sys; sys.exit(0 if $ms < 2700 else 1)"

# ---- b) a worker's link cut in the middle of a task
id=$(k submit sleep -p seconds=3)
ok "a 3 s task starts" wait_state "$id" running
t_run=$(date +%s.%N)
w=$(api GET "/api/v1/jobs/$id" | jq_ 'd["worker"]')
other=w1; [ "$w" = w1 ] && other=w2
netns_link_down "$w"
t_cut=$(date +%s.%N)
echo "# cut the link of $w, which runs job $id"
for _ in $(seq 1 $((WT * 40))); do
	[ "$(state_of "$w")" = dead ] && break
	sleep 0.05
done
t_dead=$(date +%s.%N)
eq "the master declares $w dead" dead "$(state_of "$w")"
dt=$(python3 -c "print(round($t_dead - $t_cut, 2))")
echo "# declared dead ${dt} s after the cut (worker_timeout ${WT} s)"
ok "within worker_timeout + 1.5 s" python3 -c "import sys; sys.exit(0 if $dt <= $WT + 1.5 else 1)"
ok "its task runs again on $other" wait_state "$id" running 5
eq "as attempt 2" "2 $other" "$(api GET "/api/v1/jobs/$id" | jq_ 'str(d["attempt"]) + " " + d["worker"]')"
# Plug the cable back once the old attempt has finished on the cut worker:
# its result waits there to be reported.
python3 -c "import time; time.sleep(max(0, $t_run + 3.4 - time.time()))"
netns_link_up "$w"
echo "# link of $w restored"
ok "the job succeeds" wait_state "$id" succeeded 10
job=$(api GET "/api/v1/jobs/$id")
eq "on $other, with attempt 2's result" "succeeded 2 $other" \
	"$(echo "$job" | jq_ 'd["state"] + " " + str(d["attempt"]) + " " + d["worker"]')"
for _ in $(seq 1 200); do
	[ "$(state_of "$w")" = alive ] && break
	sleep 0.1
done
eq "$w rejoins once its link is back" alive "$(state_of "$w")"
ok "the master logged it dead, then registered again" \
	sh -c "grep -q 'worker $w is dead (no heartbeat' '$T/master.log' &&
	       test \$(grep -c 'worker $w registered' '$T/master.log') -ge 2"
# The old attempt's report reaches the master after the rejoin: fenced by
# its attempt number, only its log is kept.
for _ in $(seq 1 100); do
	curl -s -H "Authorization: Bearer $(token)" "$URL/api/v1/jobs/$id/log?attempt=1" > "$T/log1"
	grep -q 'woke after' "$T/log1" && break
	sleep 0.1
done
ok "the old attempt's result reached the master (its log is kept)" grep -q 'woke after' "$T/log1"
job=$(api GET "/api/v1/jobs/$id")
eq "and was refused: attempt 1 stays lost, the job keeps attempt 2's result" \
	"failed worker stopped heartbeating|succeeded $other|2 $other" \
	"$(echo "$job" | jq_ 'd["attempts"][0]["state"] + " " + d["attempts"][0]["error"] + "|" + d["attempts"][1]["state"] + " " + d["attempts"][1]["worker"] + "|" + str(d["attempt"]) + " " + d["worker"]')"
eq "the job has two attempts" 2 "$(echo "$job" | jq_ 'len(d["attempts"])')"
ok "the master logged the refusal" \
	grep -Eq "result of job $id attempt 1 from $w refused: (a later attempt owns the job|no unfinished job has that id)" "$T/master.log"
k job "$id" --json > "$T/job.json" 2>&1
eq "kiln job --json says so too" "2 $other" "$(jq_ 'str(d["attempt"]) + " " + d["worker"]' < "$T/job.json")"
body=$(python3 -c 'import json; print(json.dumps({"jobs":[{"plugin":"sleep","params":{"seconds":0.3}} for _ in range(8)]}))')
last=$(api POST /api/v1/jobs/batch "$body" | jq_ 'd["ids"][-1]')
ok "the cluster runs a batch after the rejoin" wait_state "$last" succeeded 20
for _ in $(seq 1 50); do
	n=$(sqlite3 "$T/master/kiln.db" "select count(*) from jobs where state in (0, 1)"); [ "$n" = 0 ] && break; sleep 0.1
done
ok "$w took some of it" test "$(sqlite3 "$T/master/kiln.db" "select count(*) from attempts where worker='$w' and job_id > $id and state = 2")" -gt 0
db() { sqlite3 "$T/master/kiln.db" "$1"; }
eq "every job completed" "0" "$(db 'select count(*) from jobs where state != 2')"
eq "each exactly once" "0" "$(db 'select count(*) from (select job_id from attempts where state = 2 group by job_id having count(*) != 1)')"
eq "with one success per job" "$(db 'select count(*) from jobs')" "$(db 'select count(*) from attempts where state = 2')"

# ---- c) a wrong cluster secret, across the network
printf '%s\n' 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef > "$T/badsecret"
chmod 600 "$T/badsecret"
# It trusts the real cluster CA (ca_file): else, its own CA derived from
# the wrong secret, it would refuse the master before signing anything.
sed -e "s|secret_file: $T/secret|secret_file: $T/badsecret|" \
    -e "s|^  port: $PORT|  port: $PORT\n  tls: { ca_file: $T/ca.pem }|" "$T/cluster.yaml" > "$T/bad.yaml"
netns_exec c "$KILN" -c "$T/bad.yaml" ping > "$T/bad0.out" 2>&1
ok "a node trusting the cluster CA but not knowing the secret reaches the master" \
	grep -q "ok" "$T/bad0.out"
refused0=$(grep -c 'refused signature' "$T/master.log")
netns_exec c "$KILN" -c "$T/bad.yaml" token create > "$T/bad.out" 2>&1
eq "the CLI with a wrong secret fails" 1 $?
ok "refused with 401" grep -q 401 "$T/bad.out"
netns_exec c "$KILN" start -c "$T/bad.yaml" --node intruder --join >> "$T/intruder.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 1 40); do
	[ "$(grep -c 'refused signature' "$T/master.log")" -ge $((refused0 + 2)) ] && break
	sleep 0.05
done
ok "the master logs the refused signatures" test "$(grep -c 'refused signature' "$T/master.log")" -ge $((refused0 + 2))
eq "a worker with a wrong secret is not listed" 0 \
	"$(api GET /api/v1/workers | jq_ 'len([x for x in d["workers"] if x["name"]=="intruder"])')"

# ---- d) nothing readable on the wire
curl -s -c "$T/jar" -o "$T/login" -w '%{http_code}' -H 'Content-Type: application/json' \
	--data "{\"user\":\"alice\",\"password\":\"$PASSWORD\"}" "$URL/api/v1/login" > "$T/status"
eq "a dashboard login across the network" 200 "$(status)"
curl -s -b "$T/jar" -o /dev/null "$URL/api/v1/me"
cookie=$(awk '$6 == "kiln_session" { print $7 }' "$T/jar")
eq "the session cookie is Secure under TLS" TRUE "$(awk '$6 == "kiln_session" { print $4 }' "$T/jar")"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")
eq "/metrics needs credentials off loopback" 401 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/metrics")
eq "and answers with them" 200 "$code"
netns_capture_stop
if [ -f "$T/capture.pcap" ]; then
	peers=$(netns_pcap peers "$ADDR_m" "$PORT")
	eq "the capture saw the client and both workers talk to the master" \
		"$ADDR_c $ADDR_w1 $ADDR_w2" "$peers"
	found=$(netns_pcap find "cluster-secret=$(cat "$T/secret")" "api-token=$TOKEN" \
		"session-cookie=$cookie" "password=$PASSWORD" | tee "$T/found")
	sed 's/^/# in clear: /' "$T/found"
	eq "the capture holds no secret, token, cookie or password in clear" "" "$found"
else
	netns_skip "the capture holds no secret in clear" "$NETNS_CAPTURE_WHY"
fi

# ---- e) a fake master on another host, with a certificate from another
# CA (its own secret): a worker sent to it refuses it and runs nothing.
printf '%s\n' fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210 > "$T/fakesecret"
chmod 600 "$T/fakesecret"
sed -e "s|secret_file: $T/secret|secret_file: $T/fakesecret|" \
    -e "s|listen: $ADDR_m|listen: $ADDR_f|" -e "s|data_dir: $T/master|data_dir: $T/fake|" \
	"$T/cluster.yaml" > "$T/fake.yaml"
netns_exec f "$KILN" start -c "$T/fake.yaml" --node master > "$T/fake.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 1 100); do grep -q "master listening" "$T/fake.log" && break; sleep 0.05; done
ok "a fake master listens on $ADDR_f" grep -q "master listening on https://$ADDR_f:$PORT" "$T/fake.log"
netns_exec w1 env KILN_MASTER="https://$ADDR_f:$PORT" "$KILN" start -c "$T/cluster.yaml" \
	--node w9 --join > "$T/w9.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 1 100); do grep -q "refusing the master" "$T/w9.log" && break; sleep 0.05; done
sed -n 's/^.*\(refusing the master.*\)$/# w9: \1/p' "$T/w9.log" | head -1
ok "a worker sent to it refuses its certificate" \
	grep -q "refusing the master at https://$ADDR_f:$PORT: its certificate is refused for $ADDR_f: The certificate is NOT trusted" "$T/w9.log"
ok "and never registers with it, so it is given nothing to run" sh -c "! grep -q 'registered' '$T/fake.log'"

# ---- f) plain HTTP on an address others can reach: refused unless said
sed -e "s|^  port: $PORT|  port: $((PORT + 1))\n  tls: { mode: off }|" \
    -e "s|data_dir: $T/master|data_dir: $T/plain|" "$T/cluster.yaml" > "$T/plain.yaml"
netns_exec m timeout 5 "$KILN" start -c "$T/plain.yaml" --node master > "$T/plain.log" 2>&1
eq "a plain-HTTP master on $ADDR_m refuses to start" 1 $?
sed 's/^/# /' "$T/plain.log" | head -2
ok "naming the setting that would allow it" grep -q "insecure_plain_http" "$T/plain.log"
sed "s|^  tls: { mode: off }|  tls: { mode: off }\n  insecure_plain_http: true|" "$T/plain.yaml" > "$T/plain2.yaml"
netns_exec m "$KILN" start -c "$T/plain2.yaml" --node master > "$T/plain2.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 1 100); do grep -q "master listening" "$T/plain2.log" && break; sleep 0.05; done
ok "with insecure_plain_http it starts, and warns" \
	sh -c "grep -q 'master listening on http://$ADDR_m:$((PORT + 1))' '$T/plain2.log' &&
	       grep -q 'warn: serving plain HTTP on $ADDR_m' '$T/plain2.log'"

# ---- g) on that plain-HTTP master, which TLS no longer hides: a signed
# request from w1, as captured, sent again from the client's host.  The
# master took its nonce, so it is refused.
PLAIN_PORT=$((PORT + 1))
if netns_capture_start; then
	netns_exec w1 env KILN_MASTER="http://$ADDR_m:$PLAIN_PORT" "$KILN" -c "$T/cluster.yaml" \
		workers > "$T/plainping.out" 2>&1
	eq "a CLI on w1 with the secret talks to it (and takes its signed reply)" 0 $?
	netns_capture_stop
	netns_pcap request "$ADDR_w1" "$ADDR_m" "$PLAIN_PORT" "$T/captured.req"
	if [ -s "$T/captured.req" ]; then
		netns_exec c python3 - "$ADDR_m" "$PLAIN_PORT" "$T/captured.req" > "$T/replayed" <<'PY'
import re, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(open(sys.argv[3], "rb").read())
reply = b""
while b"\r\n\r\n" not in reply:
    d = s.recv(65536)
    if not d: break
    reply += d
m = re.search(rb"\r\ncontent-length: *(\d+)", reply, re.I)
while m and len(reply.partition(b"\r\n\r\n")[2]) < int(m.group(1)):
    d = s.recv(65536)
    if not d: break
    reply += d
sys.stdout.write(reply.decode("utf-8", "replace"))
PY
		ok "w1's signed request, captured and sent again from c, is refused (401)" \
			grep -q "^HTTP/1.1 401" "$T/replayed"
		ok "as a replay" grep -q "replayed request" "$T/replayed"
	else
		echo "not ok - the capture holds a whole signed request of w1 ($(wc -c < "$T/captured.req" 2>/dev/null || echo 0) bytes)"
		FAILS=$((FAILS + 1))
	fi
else
	netns_skip "a replayed signed request is refused" \
		"$NETNS_CAPTURE_WHY"
fi
netns_finish
