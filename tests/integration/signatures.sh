#!/bin/sh
# SPDX-License-Identifier: MIT
# signatures.sh - signed requests are taken once and only by the host they
# were signed for, and workers obey only replies signed with the cluster
# secret (issue 12 item 4).  A relay between the CLI and the master keeps
# what the CLI sent: sent again, it is refused as a replay; with another
# Host, as a bad signature.  A fake master, and then a man in the middle
# that passes everything to the real master but answers the exchange
# itself, hand a worker a task that would read a private file: the worker
# refuses the unsigned replies, says so, and runs nothing.
. "$(dirname "$0")/lib.sh"
# Background helpers run the interpreter itself (not lib.sh's python3
# function, whose subshell $! would name), so that cleanup stops them.
PY3=$(command -v /usr/bin/python3 || echo python3)
start_cluster

# ---- a relay that records what the client sends, one file per connection
cat > "$T/relay.py" <<'PY'
import socket, sys, threading
port, target, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port)); ls.listen(16)
n = 0
def pipe(a, b, f):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            if f: f.write(d); f.flush()
            b.sendall(d)
    except OSError: pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
while True:
    c, _ = ls.accept(); n += 1
    m = socket.create_connection(("127.0.0.1", target))
    f = open("%s.%d" % (out, n), "wb")
    threading.Thread(target=pipe, args=(c, m, f), daemon=True).start()
    threading.Thread(target=pipe, args=(m, c, None), daemon=True).start()
PY
RPORT=$(free_port)
"$PY3" "$T/relay.py" "$RPORT" "$PORT" "$T/cap" 2>>"$T/relay.log" &
PIDS="$PIDS $!"
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$RPORT/api/v1/health" && break; sleep 0.05; done
rm -f "$T"/cap.*

KILN_MASTER="http://127.0.0.1:$RPORT" k jobs --json > "$T/jobs.out" 2>&1
eq "the CLI works through the relay (its replies are signed)" 0 $?

# The first request the CLI sent, whole; sent again straight to the master.
cat > "$T/send.py" <<'PY'
import re, socket, sys
raw = open(sys.argv[1], "rb").read()
head, _, rest = raw.partition(b"\r\n\r\n")
m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
req = head + b"\r\n\r\n" + rest[:int(m.group(1)) if m else 0]
if len(sys.argv) > 3:   # another Host header
    req = re.sub(rb"\r\nHost: [^\r]*", b"\r\nHost: " + sys.argv[3].encode(), req)
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10)
s.sendall(req)
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
cap=$(grep -l "Kiln-HMAC" "$T"/cap.* | head -n 1)
ok "the relay kept a signed request" grep -q "Authorization: Kiln-HMAC id=cli,ts=[0-9]*,nonce=[0-9a-f]\{16\}\.1,sig=" "$cap"
python3 "$T/send.py" "$cap" "$PORT" > "$T/replayed"
ok "sent again, it is refused with 401" grep -q "^HTTP/1.1 401" "$T/replayed"
ok "as a replayed request" grep -q '"error":"replayed request: nonce [0-9a-f]*\.1 of' "$T/replayed"
ok "unsigned" sh -c "! grep -qi '^X-Kiln-Signature' '$T/replayed'"
ok "the master logs it" grep -q "refused replayed request: nonce" "$T/master.log"
python3 "$T/send.py" "$cap" "$PORT" "127.0.0.1:$PORT" > "$T/rehosted"
ok "with another Host, it is refused with 401" grep -q "^HTTP/1.1 401" "$T/rehosted"
ok "as a signature for another host" grep -q "signed for another host than '127.0.0.1:$PORT'" "$T/master.log"
k jobs --json > /dev/null 2>&1
eq "the CLI still works" 0 $?

# ---- fake masters: a stranger, and a man in the middle
printf 'PRIVATE-KEY-4242\n' > "$T/private.key"
cat > "$T/fake.py" <<'PY'
import http.client, json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
mode, port, master, log, key = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
TASK = {"tasks": [{"id": 4242, "attempt": 1, "plugin": "readfile",
                   "params": {"path": key}, "slots": 1, "memory": 0,
                   "timeout_ms": 0, "inputs": []}], "cancel": [], "acked": 0}
last_sig = [None]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, status, body, headers=()):
        b = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def relay(self, body):
        c = http.client.HTTPConnection("127.0.0.1", master, timeout=70)
        c.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items(): c.putheader(k, v)
        c.endheaders(body)
        r = c.getresponse()
        data = r.read()
        if r.getheader("X-Kiln-Signature"): last_sig[0] = r.getheader("X-Kiln-Signature")
        hs = [(k, v) for k, v in r.getheaders() if k.lower() in ("x-kiln-signature",)]
        self.reply(r.status, data, hs)
    def handle_one(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with open(log, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, body[:2000].decode("utf-8", "replace")))
        if self.path.endswith("/cluster/exchange"):
            # the task, unsigned, or with a signature the master gave another reply
            hs = [("X-Kiln-Signature", last_sig[0])] if last_sig[0] and mode == "mitm" else []
            return self.reply(200, TASK, hs)
        if mode == "mitm":
            return self.relay(body)
        if self.path.endswith("/cluster/register"):
            return self.reply(200, {"session": "fake", "heartbeat_ms": 200, "cancel": []})
        self.reply(200, {})
    do_GET = do_POST = do_PUT = do_DELETE = handle_one
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY

# fake_worker MODE NAME - a worker joining through a fake master in MODE;
# its log in $T/NAME.log, the requests the fake saw in $T/NAME.fake.
fake_worker() {
	fport=$(free_port)
	"$PY3" "$T/fake.py" "$1" "$fport" "$PORT" "$T/$2.fake" "$T/private.key" 2>>"$T/fake.log" &
	PIDS="$PIDS $!"
	for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$fport/" && break; sleep 0.05; done
	KILN_MASTER="http://127.0.0.1:$fport" "$KILN" start -c "$T/cluster.yaml" --node "$2" --join >> "$T/$2.log" 2>&1 &
	eval "PID_$2=$!"
	PIDS="$PIDS $!"
}

# A stranger answers the worker's registration.
fake_worker alone spy1
for _ in $(seq 1 100); do grep -q "not signed by the cluster secret" "$T/spy1.log" && break; sleep 0.05; done
ok "a worker refuses a stranger's unsigned registration reply" \
	grep -q "registration with http://127.0.0.1:[0-9]*/* failed: reply from master at http://127.0.0.1:[0-9]* is not signed by the cluster secret: refusing it" "$T/spy1.log"
ok "and does not register with it" sh -c "! grep -q 'registered with master' '$T/spy1.log'"
ok "nor asks it for tasks" sh -c "! grep -q 'cluster/exchange' '$T/spy1.fake'"

# A man in the middle: the real master's signed replies pass, but he
# answers the exchange himself with a task, unsigned or with a signature
# the master gave to another reply.
fake_worker mitm spy2
for _ in $(seq 1 200); do
	[ "$(grep -c 'exchange with .* not signed by the cluster secret' "$T/spy2.log")" -ge 3 ] && break
	sleep 0.05
done
ok "through him, the worker registers with the real master (signed replies pass)" \
	grep -q "registered with master at" "$T/spy2.log"
ok "it refuses his exchange replies" \
	grep -q "exchange with http://127.0.0.1:[0-9]* failed: reply from master at http://127.0.0.1:[0-9]* is not signed by the cluster secret: refusing it (HTTP 200 to POST /api/v1/cluster/exchange, wrong X-Kiln-Signature)" "$T/spy2.log"
sleep 1
ok "neither worker runs the task (none reports it running or done)" \
	sh -c "! grep -q '\"id\": *4242' '$T/spy1.fake' '$T/spy2.fake'"
ok "and sends him nothing of the file" sh -c "! grep -q PRIVATE-KEY '$T/spy1.fake' '$T/spy2.fake'"
ok "nor stores it" sh -c "! grep -q 'PUT /api/v1/artifacts' '$T/spy2.fake'"
finish
