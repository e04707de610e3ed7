#!/bin/sh
# SPDX-License-Identifier: MIT
# tokens.sh - API tokens that end: `kiln token create` with an expiry
# (master.auth.token_ttl by default, --expires, never), `kiln token list`
# (who made each, last use, never a secret), `kiln token revoke`, the 401s
# of expired and revoked tokens, and tokens of a database from before
# expiry, which get token_ttl from the upgrade.
. "$(dirname "$0")/lib.sh"
cluster_yaml
# A master alone: tokens need no workers.
python3 - "$T/cluster.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("  auth:\n", "  auth:\n    token_ttl: 2h\n")
open(p, "w").write(s)
PY
start_node master; wait_master

# get TOKEN PATH -> status; body in $T/out
get() {
	curl -s -o "$T/out" -w '%{http_code}' -H "Authorization: Bearer $1" "$URL$2"
}
now=$(date +%s)
# secs ISO -> seconds since the epoch
secs() { python3 -c 'import sys, datetime; print(int(datetime.datetime.fromisoformat(sys.argv[1]).timestamp()))' "$1"; }

# Create: token_ttl is the default expiry; the signed CLI is the creator.
k token create --name ci --json > "$T/ci.json"
ci=$(jq_ 'd["token"]' < "$T/ci.json")
ci_id=$(jq_ 'd["id"]' < "$T/ci.json")
eq "the CLI's token is made by its signer" "signer:cli" "$(jq_ 'd["created_by"]' < "$T/ci.json")"
exp=$(secs "$(jq_ 'd["expires_at"]' < "$T/ci.json")")
ok "it expires after token_ttl (2h)" test $((exp - now)) -ge 7190 -a $((exp - now)) -le 7300
eq "it works" 200 "$(get "$ci" /api/v1/jobs)"

k token create --name d30 --role viewer --expires 30d > "$T/tok" 2> "$T/err"
eq "--expires 30d: the token alone on stdout" 1 "$(wc -l < "$T/tok")"
ok "and when it expires on stderr" grep -q "token [0-9]* 'd30' (role viewer) created, expires 20" "$T/err"
k token create --name forever --expires never 2> "$T/err" > "$T/tok"
ok "--expires never is said" grep -q "never expires" "$T/err"
forever=$(cat "$T/tok")

k token create --expires 1fortnight > /dev/null 2> "$T/err"
eq "a bad --expires exits 2" 2 $?
ok "naming the option and the forms it takes" grep -q "invalid --expires '1fortnight' (expected a duration from 1s to 3650d like 30d or 12h, or never)" "$T/err"
k token create --expires 0s > /dev/null 2>&1
eq "--expires 0s exits 2" 2 $?
k token create --expires 3651d > /dev/null 2>&1
eq "--expires beyond 3650d exits 2" 2 $?
code=$(curl -s -o "$T/out" -w '%{http_code}' -X POST -H "Authorization: Bearer $ci" \
	--data '{"expires_in":"soon"}' "$URL/api/v1/tokens")
eq "the API refuses a bad expires_in with 400" 400 "$code"
ok "naming the field" grep -q '"error": *"expires_in: ' "$T/out"

# Expiry: refused with a clear error once the time has come.
brief=$(k token create --name brief --expires 2s 2>/dev/null)
eq "a 2s token works at first" 200 "$(get "$brief" /api/v1/jobs)"
sleep 3
eq "then it is refused with 401" 401 "$(get "$brief" /api/v1/jobs)"
ok "saying it expired" grep -q '"error": *"token expired"' "$T/out"

# Who made it: a token that makes a token is named by its id.
sub=$(KILN_TOKEN=$ci k token create --name sub --json | jq_ 'd["created_by"]')
eq "a token made with a token names it" "token:$ci_id" "$sub"

# The list: fields, states, last use, and never a secret.
get "$forever" /api/v1/me > /dev/null
sleep 0.3           # the last use is written in the background
k token list --json > "$T/list.json"
ok "list --json is JSON" sh -c "python3 -m json.tool '$T/list.json' > /dev/null"
eq "every field, and only these" \
	"created_at created_by expires_at id last_used_at name revoked_at role state" \
	"$(jq_ '" ".join(sorted(set(k for t in d["tokens"] for k in t)))' < "$T/list.json")"
eq "every token is listed, newest first" "sub brief forever d30 ci" \
	"$(jq_ '" ".join(t["name"] for t in d["tokens"])' < "$T/list.json")"
eq "the expired one is expired" expired \
	"$(jq_ '[t["state"] for t in d["tokens"] if t["name"] == "brief"][0]' < "$T/list.json")"
eq "never is null" None \
	"$(jq_ '[t["expires_at"] for t in d["tokens"] if t["name"] == "forever"][0]' < "$T/list.json")"
ok "a used token has its last use" test "$(jq_ '[t["last_used_at"] for t in d["tokens"] if t["name"] == "forever"][0]' < "$T/list.json")" != None
eq "an unused one has none" None \
	"$(jq_ '[t["last_used_at"] for t in d["tokens"] if t["name"] == "d30"][0]' < "$T/list.json")"
k token list > "$T/list"
ok "the table has its header" grep -q "^ID  *NAME  *ROLE  *STATE  *CREATED(UTC)  *CREATED BY  *EXPIRES(UTC)  *LAST USED(UTC)" "$T/list"
ok "and a row per token" grep -q "^$ci_id  *ci  *admin  *active  .*signer:cli" "$T/list"
ok "never shows as never" grep -q "forever  *admin  *active .* never " "$T/list"
for t in "$ci" "$forever" "$brief"; do
	ok "no token is shown" sh -c "! grep -q '$t' '$T/list' '$T/list.json'"
	h=$(printf '%s' "$t" | sha256sum | cut -d' ' -f1)
	ok "nor its hash" sh -c "! grep -q '$h' '$T/list' '$T/list.json'"
done
k token list --limit 2 > /dev/null 2> "$T/err"
ok "the list pages" grep -q "(more: kiln token list --before [0-9]*)" "$T/err"
vt=$(k token create --role viewer --name ro 2>/dev/null)
eq "a viewer may not list tokens" 403 "$(get "$vt" /api/v1/tokens)"

# Revocation: refused at once.
fid=$(jq_ '[t["id"] for t in d["tokens"] if t["name"] == "forever"][0]' < "$T/list.json")
ok "kiln token revoke" sh -c "'$KILN' -c '$T/cluster.yaml' token revoke $fid | grep -q \"token $fid 'forever' revoked\""
eq "a revoked token is refused with 401" 401 "$(get "$forever" /api/v1/jobs)"
ok "saying it was revoked" grep -q '"error": *"token revoked"' "$T/out"
eq "the list shows it revoked" revoked "$(k token list --json | jq_ "[t['state'] for t in d['tokens'] if t['id'] == $fid][0]")"
k token revoke "$fid" > /dev/null 2> "$T/err"
eq "revoking it again exits 1" 1 $?
ok "saying so" grep -q "already revoked (HTTP 409)" "$T/err"
k token revoke 99999 > /dev/null 2>&1
eq "an unknown token exits 1" 1 $?
k token revoke abc > /dev/null 2>&1
eq "a bad ID exits 2" 2 $?
eq "the others still work" 200 "$(get "$ci" /api/v1/jobs)"

# A database from before expiry: its tokens get token_ttl from the
# upgrade (schema 3 had tokens(hash, name, role, created_ms) and no ids).
# tests/fixtures/schema3.sql is such a store, as schema 3 made it.
if command -v sqlite3 > /dev/null 2>&1; then
	kill "$PID_master"; wait "$PID_master" 2> /dev/null
	old=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
	oh=$(printf '%s' "$old" | sha256sum | cut -d' ' -f1)
	rm -f "$T/master/kiln.db" "$T/master/kiln.db-wal" "$T/master/kiln.db-shm"
	sqlite3 "$T/master/kiln.db" < "$KILN_SRCDIR/tests/fixtures/schema3.sql"
	sqlite3 "$T/master/kiln.db" "INSERT INTO tokens VALUES ('$oh', 'legacy', 'admin', 1000);"
	: > "$T/master.log"
	now=$(date +%s)
	start_node master; wait_master
	ok "the master migrates the database" grep -q "migrated from schema version 3" "$T/master.log"
	ok "and says when the old tokens expire" grep -q "1 API token made before tokens had an expiry will expire at" "$T/master.log"
	eq "an old token still works" 200 "$(get "$old" /api/v1/jobs)"
	k token list --json > "$T/list.json"
	exp=$(secs "$(jq_ '[t["expires_at"] for t in d["tokens"] if t["name"] == "legacy"][0]' < "$T/list.json")")
	ok "it expires token_ttl after the upgrade" test $((exp - now)) -ge 7190 -a $((exp - now)) -le 7300
	eq "its creator is unknown" None "$(jq_ '[t["created_by"] for t in d["tokens"] if t["name"] == "legacy"][0]' < "$T/list.json")"
	kill "$PID_master"; wait "$PID_master" 2> /dev/null
	start_node master; wait_master
	eq "a restart does not move it" "$exp" "$(secs "$(k token list --json | jq_ '[t["expires_at"] for t in d["tokens"] if t["name"] == "legacy"][0]')")"
fi
finish
