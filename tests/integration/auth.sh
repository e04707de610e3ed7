#!/bin/sh
# SPDX-License-Identifier: MIT
# auth.sh - dashboard logins: users and roles from cluster.yaml, sessions in
# HttpOnly cookies, CSRF on every state-changing route, viewers read only,
# login lockout by address, session expiry, and the bootstrap admin of a
# fresh setup.
. "$(dirname "$0")/lib.sh"
cluster_yaml
ah=$(echo "admin-pass-1" | "$KILN" passwd)
vh=$(echo "viewer-pass-1" | "$KILN" passwd)
eq "kiln passwd prints an argon2id hash" argon2id "$(echo "$ah" | cut -d'$' -f2)"
python3 - "$T/cluster.yaml" "$ah" "$vh" <<'PY'
import sys
p, ah, vh = sys.argv[1:4]
s = open(p).read()
s = s.replace("  auth:\n", f"  auth:\n    session_ttl: 8s\n    users:\n      - {{ name: alice, role: admin, password_hash: '{ah}' }}\n      - {{ name: victor, role: viewer, password_hash: '{vh}' }}\n")
open(p, "w").write(s)
PY
cp "$KILN_SRCDIR/conf/dags/example_chain.yaml" "$T/dags/"
start_node master; wait_master; start_node w1; start_node w2; wait_workers 2

J="$T/jar"
login() {  # login USER PASSWORD [JAR] -> status; body in $T/login
	curl -s -c "${3:-$J}" -o "$T/login" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data "{\"user\":\"$1\",\"password\":\"$2\"}" "$URL/api/v1/login"
}
# sess METHOD PATH [BODY] [CSRF] [JAR] -> status
sess() {
	curl -s -b "${5:-$J}" -o "$T/out" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
		${4:+-H "X-CSRF-Token: $4"} ${3:+--data-binary "$3"} "$URL$2"
}

eq "wrong password is refused" 401 "$(login alice nope)"
ok "with a JSON error" grep -q '"error"' "$T/login"
eq "unknown user is refused" 401 "$(login mallory admin-pass-1)"
eq "admin logs in" 200 "$(login alice admin-pass-1)"
csrf=$(jq_ 'd["csrf"]' < "$T/login")
ok "the cookie is HttpOnly" grep -q '#HttpOnly_' "$J"
curl -s -D "$T/hdr" -o /dev/null -H 'Content-Type: application/json' --data '{"user":"alice","password":"admin-pass-1"}' "$URL/api/v1/login"
ok "and SameSite=Strict" grep -qi 'set-cookie:.*SameSite=Strict' "$T/hdr"
eq "a session reads the API" 200 "$(sess GET /api/v1/jobs)"
eq "me says who" alice "$(sess GET /api/v1/me >/dev/null; jq_ 'd["user"]' < "$T/out")"

# Every state-changing route refuses a missing or wrong CSRF token.
id=$(k submit sleep -p seconds=30)
rid=$(api POST /api/v1/dags/example_chain/trigger '{}' | jq_ 'd["run_id"]')
sha=$(printf 'x' | sha256sum | cut -d' ' -f1)
for route in "POST /api/v1/jobs {\"plugin\":\"noop\"}" \
             "POST /api/v1/jobs/batch {\"jobs\":[{\"plugin\":\"noop\"}]}" \
             "POST /api/v1/jobs/$id/cancel {}" \
             "POST /api/v1/tokens {}" \
             "DELETE /api/v1/tokens/1 {}" \
             "POST /api/v1/dags/example_chain/trigger {}" \
             "POST /api/v1/dags/example_chain/pause {}" \
             "POST /api/v1/dags/example_chain/unpause {}" \
             "POST /api/v1/dags/example_chain/backfill {\"from\":\"2024-01-01\",\"to\":\"2024-01-02\"}" \
             "POST /api/v1/runs/$rid/tasks/load/clear {}" \
             "PUT /api/v1/artifacts/$sha x" \
             "POST /api/v1/logout {}"; do
	set -- $route
	eq "$1 $2 without CSRF: 403" 403 "$(sess "$1" "$2" "$3")"
	eq "$1 $2 with a wrong CSRF: 403" 403 "$(sess "$1" "$2" "$3" wrong)"
done
eq "with the token it works" 201 "$(sess POST /api/v1/jobs '{"plugin":"noop"}' "$csrf")"
eq "a session makes a token" 201 "$(sess POST /api/v1/tokens '{"name":"web"}' "$csrf")"
eq "which names its user as the creator" "user:alice" "$(jq_ 'd["created_by"]' < "$T/out")"

# A viewer reads but changes nothing, even with its CSRF token.
V="$T/vjar"
eq "viewer logs in" 200 "$(login victor viewer-pass-1 "$V")"
vcsrf=$(jq_ 'd["csrf"]' < "$T/login")
eq "viewer reads" 200 "$(sess GET /api/v1/dags "" "" "$V")"
for route in "POST /api/v1/jobs {\"plugin\":\"noop\"}" "POST /api/v1/dags/example_chain/trigger {}" \
             "POST /api/v1/jobs/$id/cancel {}" "POST /api/v1/dags/example_chain/pause {}" \
             "POST /api/v1/runs/$rid/tasks/load/clear {}" "POST /api/v1/tokens {}" \
             "DELETE /api/v1/tokens/1 {}"; do
	set -- $route
	eq "viewer $1 $2: 403" 403 "$(sess "$1" "$2" "$3" "$vcsrf" "$V")"
done
eq "viewer GET /api/v1/tokens: 403" 403 "$(sess GET /api/v1/tokens "" "" "$V")"
vt=$(api POST /api/v1/tokens '{"name":"ro","role":"viewer"}' | jq_ 'd["token"]')
eq "a viewer token cannot trigger" 403 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $vt" --data '{}' "$URL/api/v1/dags/example_chain/trigger")"

# Logout ends the session (a fresh one: on a slow machine the argon2
# logins above may take long).
login alice admin-pass-1 >/dev/null
csrf=$(jq_ 'd["csrf"]' < "$T/login")
eq "logout" 200 "$(sess POST /api/v1/logout '{}' "$csrf")"
eq "the session is gone" 401 "$(sess GET /api/v1/jobs)"

# Sessions expire after session_ttl of inactivity.
eq "log in again" 200 "$(login alice admin-pass-1)"
sleep 9
eq "an idle session expires" 401 "$(sess GET /api/v1/me)"

# Lockout: five failures from an address, then even the right password
# waits there.  The address is locked out, not the user: from another
# address (127.0.0.2 reaches the master on 127.0.0.1) the user logs in.
for _ in 1 2 3 4 5; do login victor wrong >/dev/null; done
eq "the sixth try is refused with 429" 429 "$(login victor viewer-pass-1)"
eq "the same user from another address is not affected" 200 "$(curl -s -o /dev/null -w '%{http_code}' \
	--interface 127.0.0.2 -H 'Content-Type: application/json' \
	--data '{"user":"victor","password":"viewer-pass-1"}' "$URL/api/v1/login")"
k cancel "$id" >/dev/null

# A fresh setup with no users gets an admin with a random password, once.
kill "$PID_master"; wait "$PID_master" 2>/dev/null
python3 - "$T/cluster.yaml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r"    users:\n(      - .*\n)+", "", s)
open(p, "w").write(s)
PY
rm -rf "$T/master"
: > "$T/master.log"
start_node master; wait_master
pw=$(cat "$T/master/admin-password")
ok "the master made a random admin password" test -n "$pw"
ok "in a file only its owner reads" test "$(stat -c %a "$T/master/admin-password")" = 600
ok "whose path it logged" grep -q "its password is in $T/master/admin-password (mode 0600" "$T/master.log"
ok "and never the password itself" sh -c "! grep -q '$pw' '$T/master.log'"
eq "the store is the owner's only" "700 600" "$(stat -c %a "$T/master") $(stat -c %a "$T/master/kiln.db")"
eq "it works" 200 "$(login admin "$pw")"
kill "$PID_master"; wait "$PID_master" 2>/dev/null
start_node master; wait_master
eq "it survives a restart" 200 "$(login admin "$pw")"
eq "and is printed only once" 1 "$(grep -c "created user 'admin'" "$T/master.log")"

# What an older version left open (a 0755 data dir, a 0644 store, its
# -wal and -shm after a crash, the secret) is the owner's only after a
# start, one line logged per change; nothing is loosened.
kill -9 "$PID_master" "$PID_w1"; wait "$PID_master" "$PID_w1" 2>/dev/null
touch "$T/master/kiln.db-wal" "$T/master/kiln.db-shm"
chmod 755 "$T/master" "$T/master/tls" "$T/w1" 2>/dev/null
chmod 644 "$T/master/kiln.db" "$T/master/kiln.db-wal" "$T/master/kiln.db-shm" "$T/secret"
chmod 400 "$T/master/admin-password"
start_node master; wait_master; start_node w1
for _ in $(seq 1 100); do grep -q "chmod 0700 $T/w1 " "$T/w1.log" && break; sleep 0.05; done
eq "the data dir, store, -wal, -shm and secret are tightened" "700 600 600 600 600" \
	"$(stat -c %a "$T/master" "$T/master/kiln.db" "$T/master/kiln.db-wal" "$T/master/kiln.db-shm" "$T/secret" | tr '\n' ' ' | sed 's/ $//')"
eq "a worker's data dir too" 700 "$(stat -c %a "$T/w1")"
eq "nothing is loosened (0400 stays)" 400 "$(stat -c %a "$T/master/admin-password")"
ok "each change is logged" grep -q "chmod 0600 $T/master/kiln.db (was 0644" "$T/master.log"
ok "the secret's too" grep -q "chmod 0600 $T/secret (was 0644" "$T/master.log"
eq "one line per change (dir, db, -wal, -shm, secret)" 5 "$(grep -c "chmod 0[67]00 .*(was 0" "$T/master.log")"
ok "the worker's is logged" grep -q "chmod 0700 $T/w1 (was 0755" "$T/w1.log"
eq "the master serves the store it tightened" 200 "$(login admin "$pw")"
finish
