#!/bin/sh
# SPDX-License-Identifier: MIT
# floods.sh - what strangers cannot make the master spend: a body is
# refused on the headers (401) before it is read, slow requests are closed
# by master.request_timeout, JSON nested too deep or too long is refused
# before it is parsed, and a flood of logins with random user names
# neither stalls the API nor the workers, nor locks the admin out.  The
# flood comes from 127.0.0.2, the admin from 127.0.0.1 (both reach a
# master listening on 127.0.0.1).
. "$(dirname "$0")/lib.sh"
B="$KILN_SRCDIR/bench"
cluster_yaml
ah=$(echo "admin-pass-1" | "$KILN" passwd)
python3 - "$T/cluster.yaml" "$ah" <<'PY'
import sys
p, ah = sys.argv[1:3]
s = open(p).read()
s = s.replace("  heartbeat_interval:", "  request_timeout: 3s\n  heartbeat_interval:")
s = s.replace("  auth:\n", f"  auth:\n    users:\n      - {{ name: alice, role: admin, password_hash: '{ah}' }}\n")
open(p, "w").write(s)
PY
start_node master; wait_master; start_node w1; start_node w2; wait_workers 2
HP="${URL#http://}"

# An unauthenticated 8 MB POST, trickled: 401 on its headers, not after.
out=$(python3 - "$HP" <<'PY'
import socket, sys, time
host, port = sys.argv[1].split(":")
s = socket.create_connection((host, int(port)))
s.sendall(f"POST /api/v1/jobs HTTP/1.1\r\nHost: {sys.argv[1]}\r\n"
          "Content-Type: application/json\r\nContent-Length: 8000000\r\n\r\n".encode())
s.settimeout(0.05)
t0, reply = time.monotonic(), b""
while time.monotonic() - t0 < 10 and not reply:
    try:
        s.send(b"x" * 10000)            # 200 KB/s
    except OSError:
        pass
    try:
        reply = s.recv(100)
    except socket.timeout:
        pass
    except OSError:
        break
print(reply.split(b" ")[1].decode() if reply else "none", round(time.monotonic() - t0, 2))
PY
)
eq "a trickled unauthenticated POST gets 401" 401 "${out% *}"
ok "within a second (took ${out#* } s)" python3 -c "import sys; sys.exit(not float('${out#* }') < 1.0)"
# A bad signature is refused on its headers too (its timestamp is off).
eq "a stale signature is refused before the body" 401 "$(curl -s -o /dev/null -w '%{http_code}' \
	-H 'Authorization: Kiln-HMAC id=w1,ts=1000,nonce=0123456789abcdef.1,sig=0000000000000000000000000000000000000000000000000000000000000000' \
	-H 'Content-Type: application/json' -H 'Content-Length: 8000000' -H 'Expect:' --max-time 5 \
	--data-binary @/dev/null "$URL/api/v1/cluster/exchange")"
head -c 5000 /dev/zero | tr '\0' 'x' > "$T/big"
eq "login takes no more than 4 KiB before authentication" 413 "$(curl -s -o "$T/out" -w '%{http_code}' \
	-H 'Content-Type: application/json' --data-binary @"$T/big" "$URL/api/v1/login")"
ok "and says so" grep -q 'limit 4096 bytes on this route before authentication' "$T/out"

# Many strangers sending large bodies cost the master next to nothing.
r=$(timeout 120 python3 "$B/slowpost.py" "$URL" --pid "$PID_master" --conns 100 --bytes 8388607 \
	--rate 50e6 --hold 3 --sources 1)
echo "# slowpost: $r"
eq "every one is answered 401" 100 "$(echo "$r" | jq_ 'd["statuses"].get("401", 0)')"
ok "the master grew by under 20 MB" python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(not d['rss_peak_mb'] - d['rss_before_mb'] < 20)" "$r"

# Slow-loris: a login trickled a byte at a time is closed by the deadline.
out=$(python3 - "$HP" <<'PY'
import socket, sys, time
host, port = sys.argv[1].split(":")
s = socket.create_connection((host, int(port)))
s.sendall(f"POST /api/v1/login HTTP/1.1\r\nHost: {sys.argv[1]}\r\n"
          "Content-Type: application/json\r\nContent-Length: 3000\r\n\r\n".encode())
s.settimeout(0.2)
t0, how = time.monotonic(), "open"
while time.monotonic() - t0 < 10:
    try:
        s.send(b" ")
        if s.recv(100) == b"":
            how = "closed"
            break
    except socket.timeout:
        pass
    except OSError:
        how = "closed"
        break
print(how, round(time.monotonic() - t0, 1))
PY
)
eq "a slow-loris login is closed" closed "${out% *}"
ok "by the 3 s request_timeout (after ${out#* } s)" python3 -c "import sys; sys.exit(not 2.5 <= float('${out#* }') <= 6)"
ok "and the master says why" grep -q 'not all in after 3000 ms (master.request_timeout)' "$T/master.log"

# JSON too deep or too long is refused before it is parsed.
deep=$(python3 -c 'print("{\"a\":" * 100 + "1" + "}" * 100)')
eq "JSON 100 levels deep: 400" 400 "$(api POST /api/v1/jobs "$deep" >/dev/null; status)"
ok "naming the depth limit" grep -q 'nested deeper than the limit of 64 levels' "$T/body"
python3 -c 'print("{\"plugin\":\"noop\",\"params\":{\"a\":[" + "0," * 1000000 + "0]}}")' > "$T/long"
eq "JSON of a million values: 400" 400 "$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $(token)" \
	-H 'Content-Type: application/json' --data-binary @"$T/long" "$URL/api/v1/jobs")"
ok "naming the token limit" grep -q 'more than the limit of 1000000 tokens' "$T/body"
eq "JSON 60 levels deep is fine" 400 "$(api POST /api/v1/jobs "$(python3 -c 'print("{\"a\":" * 60 + "1" + "}" * 60)')" >/dev/null; status)"
ok "(refused for what it says, not its depth)" sh -c "! grep -q 'nested deeper' '$T/body'"

# A login flood with random user names, from 127.0.0.2, for 8 s.
timeout 60 python3 "$B/loginflood.py" "$URL" --rate 200 --seconds 8 --source 127.0.0.2 > "$T/flood" &
FLOOD=$!
sleep 2
t0=$(date +%s%N)
k workers >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "a signed CLI call answers during the flood (${ms} ms)" test "$ms" -lt 2000
code=
for _ in 1 2 3; do
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		--data '{"user":"alice","password":"admin-pass-1"}' "$URL/api/v1/login")
	[ "$code" = 503 ] || break
	sleep 1
done
eq "the admin logs in from another address during the flood" 200 "$code"
wait "$FLOOD"
r=$(cat "$T/flood")
echo "# loginflood: $r"
ok "health stayed quick (max under 1 s)" python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(not (d['health_max_s'] < 1 and d['health_failed'] == 0))" "$r"
eq "no worker was declared dead" 2 "$(echo "$r" | jq_ 'd["workers_alive_min"]')"
ok "the flood was throttled (429s)" python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(not d['replies'].get('429', 0) > 1000)" "$r"
ok "and its address locked out, not the user" grep -q 'failures from 127.0.0.2 in .* that address waits' "$T/master.log"
eq "alice still logs in from 127.0.0.1" 200 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	--data '{"user":"alice","password":"admin-pass-1"}' "$URL/api/v1/login")"
curl -s -D "$T/hdr" -o "$T/out" --interface 127.0.0.2 -H 'Content-Type: application/json' \
	--data '{"user":"alice","password":"admin-pass-1"}' "$URL/api/v1/login" >/dev/null
ok "127.0.0.2 waits, with a Retry-After" grep -qi '^retry-after: [0-9]' "$T/hdr"
finish
