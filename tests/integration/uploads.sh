#!/bin/sh
# SPDX-License-Identifier: MIT
# uploads.sh - artifacts are streamed to the master's disk, never held
# whole in its memory, and not bounded by max_body (issue 17 item 7): a
# task's output three times max_body is stored and read back identical;
# a wrong hash is refused and leaves no file; a stranger's upload is
# refused on its headers, before its body; an upload over max_artifact is
# refused naming it; uploads at once are bounded by max_uploads, and a
# trickling one is closed; the master's peak memory does not grow with
# the artifact.
. "$(dirname "$0")/lib.sh"
cluster_yaml
python3 - "$T/cluster.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("  heartbeat_interval:", "  max_body: 1MiB\n  max_artifact: 16MiB\n"
              "  max_uploads: 2\n  request_timeout: 2s\n  heartbeat_interval:", 1)
open(p, "w").write(s)
PY
start_node master; wait_master; start_node w1; start_node w2; wait_workers 2
A="$T/master/artifacts"
tmps() { find "$A" -name '*.tmp.*' 2>/dev/null | wc -l; }
hwm() { sed -n 's/^VmHWM:[^0-9]*\([0-9]*\) kB/\1/p' "/proc/$PID_master/status"; }

# ---- a real task's output of 3 MiB, over max_body, stored and read back
python3 -c 'import os,sys; open(sys.argv[1],"wb").write(os.urandom(3<<20))' "$T/big.bin"
sha=$(sha256sum "$T/big.bin" | cut -d' ' -f1)
cat > "$T/dags/big.yaml" <<YAML
id: big
tasks:
  - id: read
    plugin: readfile
    params: { path: "$T/big.bin", name: big.bin }
YAML
python3 -c 'import os,sys; open(sys.argv[1],"wb").write(os.urandom(2<<20))' "$T/mid.bin"
sed -e "s|id: big|id: mid|" -e "s|big.bin|mid.bin|g" "$T/dags/big.yaml" > "$T/dags/mid.yaml"
sleep 2.5
rid=$(api POST /api/v1/dags/big/trigger '{}' | jq_ 'd["run_id"]')
for _ in $(seq 1 150); do
	s=$(api GET "/api/v1/runs/$rid" | jq_ 'd["state"]'); [ "$s" = success ] || [ "$s" = failed ] && break; sleep 0.1
done
eq "a task's 3 MiB output (max_body 1 MiB) is stored" success "$s"
ok "the master keeps it under its hash" test -f "$A/$(echo "$sha" | cut -c1-2)/$sha"
eq "and it reads back identical" "$sha" \
	"$(curl -s -H "Authorization: Bearer $(token)" "$URL/api/v1/artifacts/$sha" | sha256sum | cut -d' ' -f1)"

# ---- a wrong hash: 400 naming both, and no file
python3 -c 'import os,sys; open(sys.argv[1],"wb").write(os.urandom(2<<20))' "$T/other.bin"
bad=$(printf 'x' | sha256sum | cut -d' ' -f1)
code=$(curl -s -o "$T/put.out" -w '%{http_code}' -X PUT -H "Authorization: Bearer $(token)" \
	--data-binary "@$T/other.bin" "$URL/api/v1/artifacts/$bad")
eq "a 2 MiB body that does not hash to its name is refused" 400 "$code"
ok "naming the hash it has" grep -q "$(sha256sum "$T/other.bin" | cut -c1-64)" "$T/put.out"
ok "and nothing is stored" test ! -e "$A/$(echo "$bad" | cut -c1-2)/$bad"
eq "no temporary is left" 0 "$(tmps)"

# ---- raw requests: headers now, body later (or never)
cat > "$T/raw.py" <<'PY'
# raw.py PORT SHA LENGTH SEND AUTH [HOLD] - PUT headers, then SEND body
# bytes (slowly if HOLD is "trickle"); print the status of the reply, if
# one comes within 5 s, else "closed".  HOLD "hold": keep the connection open
# until stdin closes.
import socket, sys, time
port, sha, length, send, auth = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
hold = sys.argv[6] if len(sys.argv) > 6 else ""
s = socket.create_connection(("127.0.0.1", port), timeout=5)
h = "PUT /api/v1/artifacts/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n" % (sha, port, length)
if auth:
    h += "Authorization: Bearer %s\r\n" % auth
s.sendall((h + "\r\n").encode())
try:
    if hold == "trickle":
        for _ in range(40):
            s.sendall(b"z"); time.sleep(0.25)
    else:
        s.sendall(b"y" * send)
except OSError:
    pass
if hold == "hold":
    print("open", flush=True); sys.stdin.read(); sys.exit(0)
try:
    line = s.recv(200).split(b"\r\n")[0].split()
    print(line[1].decode() if len(line) > 1 else "closed")
except OSError as e:
    print("closed")
PY
eq "a stranger's 1 GiB upload is refused on its headers" 401 \
	"$(python3 "$T/raw.py" "$PORT" "$sha" 1073741824 0 "")"
eq "so is a wrong token's" 401 \
	"$(python3 "$T/raw.py" "$PORT" "$sha" 1073741824 0 "nope")"
eq "no temporary was made for them" 0 "$(tmps)"
code=$(curl -s -o "$T/put.out" -w '%{http_code}' -X PUT -H "Content-Type: application/octet-stream" \
	--data-binary "@$T/other.bin" "$URL/api/v1/artifacts/$(sha256sum "$T/other.bin" | cut -c1-64)")
eq "curl's 2 MiB upload without credentials: 401" 401 "$code"

# ---- over max_artifact, and without a length
eq "a declared 17 MiB artifact is over max_artifact: 413" 413 \
	"$(python3 "$T/raw.py" "$PORT" "$sha" $((17 << 20)) 0 "$(token)")"
curl -s -o "$T/put.out" -X PUT -H "Authorization: Bearer $(token)" -H "Content-Length: $((17 << 20))" \
	--max-time 5 "$URL/api/v1/artifacts/$sha" >/dev/null
ok "naming master.max_artifact" grep -q "master.max_artifact (16777216 bytes)" "$T/put.out"
code=$(printf 'abc' | curl -s -o "$T/put.out" -w '%{http_code}' -X PUT -H "Authorization: Bearer $(token)" \
	-H "Transfer-Encoding: chunked" --data-binary @- "$URL/api/v1/artifacts/$sha")
eq "a chunked upload (no Content-Length) is refused: 411" 411 "$code"

# ---- two uploads at once (max_uploads: 2); a third waits its turn
sha12=$(python3 -c 'import os,sys,hashlib; b=os.urandom(12<<20); open(sys.argv[1],"wb").write(b); print(hashlib.sha256(b).hexdigest())' "$T/twelve.bin")
mkfifo "$T/f1" "$T/f2"
python3 "$T/raw.py" "$PORT" "$sha12" $((4 << 20)) 1000 "$(token)" hold < "$T/f1" > "$T/h1.out" &
H1=$!; PIDS="$PIDS $H1"
python3 "$T/raw.py" "$PORT" "$sha12" $((4 << 20)) 1000 "$(token)" hold < "$T/f2" > "$T/h2.out" &
H2=$!; PIDS="$PIDS $H2"
exec 7>"$T/f1" 8>"$T/f2"
for _ in $(seq 1 50); do [ -s "$T/h1.out" ] && [ -s "$T/h2.out" ] && [ "$(tmps)" -eq 2 ] && break; sleep 0.1; done
eq "two held uploads write two temporaries" 2 "$(tmps)"
code=$(curl -s -o "$T/put.out" -w '%{http_code}' -X PUT -H "Authorization: Bearer $(token)" \
	--data-binary "@$T/twelve.bin" "$URL/api/v1/artifacts/$sha12")
eq "a third upload meanwhile: 503" 503 "$code"
ok "naming master.max_uploads" grep -q "master.max_uploads" "$T/put.out"
# A worker's upload meanwhile is refused 503 (signed), and tried again.
rid=$(api POST /api/v1/dags/mid/trigger '{}' | jq_ 'd["run_id"]')
for _ in $(seq 1 100); do
	curl -s "$URL/metrics" | grep -q 'route="/api/v1/artifacts/:sha",status="503"' && break; sleep 0.02
done
ok "the worker's upload was refused 503 while both slots were held" \
	sh -c "curl -s '$URL/metrics' | grep -q 'route=\"/api/v1/artifacts/:sha\",status=\"503\"'"
exec 7>&- 8>&-
wait "$H1" "$H2" 2>/dev/null
for _ in $(seq 1 50); do [ "$(tmps)" -eq 0 ] && break; sleep 0.1; done
eq "uploads cut short leave no temporary" 0 "$(tmps)"
for _ in $(seq 1 100); do
	s=$(api GET "/api/v1/runs/$rid" | jq_ 'd["state"]'); [ "$s" = success ] || [ "$s" = failed ] && break; sleep 0.1
done
eq "then its retry stored it, and the task succeeded" success "$s"
eq "in one attempt" 1 "$(api GET "/api/v1/runs/$rid" | jq_ 'd["tasks"][0]["tries"]')"

# ---- then it goes through: 12 MiB with max_body 1 MiB, in constant memory
before=$(hwm)
code=$(curl -s -o "$T/put.out" -w '%{http_code}' -X PUT -H "Authorization: Bearer $(token)" \
	--data-binary "@$T/twelve.bin" "$URL/api/v1/artifacts/$sha12")
eq "the 12 MiB upload is stored" 201 "$code"
grew=$(( $(hwm) - before ))
ok "the master's peak RSS grew by less than 4 MiB for it (+$grew kB)" test "$grew" -lt 4096
eq "and reads back identical" "$sha12" \
	"$(curl -s -H "Authorization: Bearer $(token)" "$URL/api/v1/artifacts/$sha12" | sha256sum | cut -d' ' -f1)"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $(token)" \
	-H "Expect: 100-continue" --data-binary "@$T/twelve.bin" "$URL/api/v1/artifacts/$sha12")
eq "storing it again, Expect: 100-continue, is answered at once" 201 "$code"

# ---- a trickle is closed at request_timeout (2 s) + length at 1 MiB/s
t0=$(date +%s)
r=$(python3 "$T/raw.py" "$PORT" "$sha12" $((1 << 20)) 0 "$(token)" trickle)
eq "an upload trickling a byte every 250 ms is closed" closed "$r"
ok "within 8 s ($(( $(date +%s) - t0 )) s)" test $(( $(date +%s) - t0 )) -le 8
eq "and its temporary is gone" 0 "$(tmps)"
finish
