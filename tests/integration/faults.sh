#!/bin/sh
# SPDX-License-Identifier: MIT
# faults.sh - fault injection (KILN_FAULT, src/fault.h) over a whole job's
# life, then a real full disk.
#
# Part 1.  A traced life (KILN_FAULT=trace) maps each store write and sync
# to the commit it belongs to: a job's submit, its start, its artifact's
# record, its finish, and the checkpoint when the master stops.  Each
# later life starts the master with a fault aimed at one of them (the
# first write, the last, the sync; some lives add an artifact store
# fault), submits a job (retrying while refused, as a client would), and
# checks: every job that got 201 exists and succeeded, with one succeeded
# attempt; the master stayed up, or restarts; a restart finds the state
# the master stopped with.  Where each fault landed is read back from the
# log, and the matrix printed.  The worker's cache fails every write
# throughout.  One life per fault: a fault shifts the count of what
# follows, so a second one aimed in the same life could land elsewhere.
#
# Part 2.  A 6 MB tmpfs as the master's data dir, filled: submissions get
# 503 naming the full disk, reads and health still work (health says
# store_writable: false), nothing acknowledged is lost, and once space is
# freed the store is written again by itself (the store's probe), the
# job queued before runs and submissions succeed, with no restart.
# Skipped (with the reason) where tmpfs cannot be mounted (not root).
. "$(dirname "$0")/lib.sh"
cluster_yaml 3s
DB=$T/master/kiln.db
PERLIFE=1
q() { sqlite3 "$DB" "$1" 2>/dev/null; }

master() {  # master [KILN_FAULT]: start it, wait until it listens (5 s)
	: > "$T/m.log"
	KILN_FAULT="${1:-}" "$KILN" start -c "$T/cluster.yaml" --node master \
		>>"$T/m.log" 2>&1 &
	PID_master=$!
	PIDS="$PIDS $!"
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "$URL/api/v1/health" && return 0
		kill -0 "$PID_master" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
up() { kill -0 "$PID_master" 2>/dev/null; }
stop_master() {
	kill "$PID_master" 2>/dev/null; wait "$PID_master" 2>/dev/null
	cat "$T/m.log" >> "$T/master.log"
}
alive() {  # until the master's health shows N workers (5 s)
	for _ in $(seq 1 100); do
		n=$(curl -s "$URL/api/v1/health" | sed -n 's/.*"workers_alive": *\([0-9]*\).*/\1/p')
		[ "${n:-0}" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
ACKED=""
NJOB=0
REFUSED=0
submit() {  # one job on a file of its own; retried while refused (4 s)
	NJOB=$((NJOB + 1))
	printf 'x,y\n%s,%s\n' "$NJOB" "$NJOB" > "$T/in$NJOB.csv"
	for _ in $(seq 1 40); do
		if id=$(k submit readfile --retries 2 -p name=in.csv \
		        -p path="$T/in$NJOB.csv" 2>>"$T/submit.err"); then
			ACKED="$ACKED $id"
			return 0
		fi
		REFUSED=$((REFUSED + 1))
		up || return 1
		sleep 0.1
	done
	return 1
}
settled() {  # settled ID: until job ID is finished (10 s)
	for _ in $(seq 1 200); do
		[ "$(q "select state >= 2 from jobs where id=$1")" = 1 ] && return 0
		sleep 0.05
	done
	return 1
}
digest() { q "select id, state, attempt, (select count(*) from attempts a where a.job_id=j.id) from jobs j order by id" | md5sum; }

# life RULES: start the master with KILN_FAULT=trace,RULES, run PERLIFE
# jobs through it, one after the other; restart it (untraced, unfaulted) if it stops.  Returns
# nonzero, having said why, if a check fails.
life() {
	REFUSED=0 EXITED=""
	before=$(digest)
	if ! master "trace${1:+,$1}"; then
		EXITED="at start"
		stop_master
		master || { echo "# master does not restart after $1"; return 1; }
	fi
	[ "$(digest)" = "$before" ] || { echo "# state changed over a restart"; return 1; }
	alive 1 || { echo "# the worker did not register"; return 1; }
	for _ in $(seq 1 "$PERLIFE"); do
		if ! submit; then
			up || { EXITED="in submit"; stop_master; master; }
			submit || { echo "# never acknowledged under $1"; return 1; }
		fi
		if ! settled "$id"; then
			up || { EXITED="in the job"; stop_master; master; alive 1; }
			settled "$id" || { echo "# job $id never finished under $1"; return 1; }
		fi
	done
	up || EXITED="${EXITED:-after the jobs}"
	stop_master
}

# A store with its schema and a token; the worker's cache fails every
# write.
master
TOKEN=$(k token create --json | jq_ 'd["token"]')
stop_master
KILN_FAULT=cache:write:1:EIO:0 start_node w1

# The traced life: which N is which step.  One line per commit (kinds,
# first and last write, sync), "stop" for the checkpoint at the end.
life "" || { echo "not ok - the traced life"; exit 1; }
awk '/fault: store write #/ { n = substr($NF, 2); if (f == "") f = n; l = n }
     /fault: store sync #/ { if (s == "") s = substr($NF, 2) }
     /fault: store commit / { k = $7; sub(":", "", k); print k, f, l, s; f = l = s = "" }
     END { if (f != "") print "stop", f, l, s }' "$T/m.log" > "$T/steps"
echo "# a traced life of one job: commit, writes first..last, sync"
sed 's/^/#   /' "$T/steps"
for k in submit start artifact finish stop; do
	ok "the trace shows a $k" grep -q "^[a-z+]*$k" "$T/steps"
done
# step KIND FIELD: of the commit carrying KIND, its first write (2),
# last write (3) or sync (4).
step() { grep "^[a-z+]*$1" "$T/steps" | sed -n 1p | cut -d' ' -f"$2"; }
mid() { echo $(( ($(step "$1" 2) + $(step "$1" 3)) / 2 )); }

# The faults: one life each (a line: its rules), aimed at each step.
cat > "$T/plan" <<EOF
store:write:$(step submit 2):ENOSPC,artifact:write:1:ENOSPC
store:write:$(step submit 3):EIO,artifact:sync:1:EIO
store:sync:$(step submit 4):EIO
store:write:$(step start 2):ENOSPC
store:write:$(step start 3):EIO
store:sync:$(step start 4):ENOSPC
store:write:$(step artifact 2):EIO
store:write:$(step artifact 3):EDQUOT
store:sync:$(step artifact 4):EIO
store:write:$(step finish 2):ENOSPC
store:write:$(mid finish):EIO
store:write:$(step finish 3):ENOSPC
store:sync:$(step finish 4):EDQUOT
store:write:$(step stop 2):EIO
store:sync:$(step stop 4):EIO
store:write:$(step submit 2):ENOSPC:25
artifact:write:1:EIO:5
EOF
t0=$(date +%s)
bad=0
echo "# fault matrix: rule | where it landed; outcome of the life"
while read -r rules; do
	life "$rules" || { bad=$((bad + 1)); stop_master; }
	# Where each injected fault landed: the commit the trace names
	# next (a failed one), else the artifact put, else the checkpoint
	# of the stop.  A run of faults landing alike is one line.
	awk '/ info: stopping/ { stopping = 1 }
	/fault: injected/ { split($0, a, "at "); site[++n] = a[2]; want = n; late[n] = stopping }
	/fault: store commit / && want && !/: ok$/ { k = $7; sub(":", "", k); hit[want] = k; want = 0 }
	END {
		for (i = 1; i <= n; i++)
			if (hit[i] == "")
				hit[i] = site[i] ~ /artifact/ ? "artifact put" : late[i] ? "stop (checkpoint)" : "no commit failed"
		for (i = 1; i <= n; i++) {
			split(site[i], w, " #"); split(site[i + 1], x, " #")
			if (i < n && w[1] == x[1] && hit[i] == hit[i + 1] && x[2] == w[2] + 1) {
				if (!from) from = w[2]
				continue
			}
			printf "#   %-26s | %s\n", (from ? w[1] " #" from "-" w[2] : site[i]), hit[i]
			from = 0
		}
	}' "$T/m.log" | tee -a "$T/matrix.txt"
	echo "#     -> 503s to submit: $REFUSED; attempts of job $id: $(q "select count(*) from attempts where job_id=$id"); master exited: ${EXITED:-no}"
	cat "$T/m.log" >> "$T/matrix.log"
done < "$T/plan"
echo "# $(grep -c 'fault: injected' "$T/matrix.log") faults injected in $(( $(date +%s) - t0 )) s"
eq "every life ended with every acknowledged job finished" 0 "$bad"
for k in submit start artifact finish stop; do
	ok "a store write fault landed in the $k" \
		grep -Eq "store write #[0-9-]+ *\| ([a-z+]*\+)?$k" "$T/matrix.txt"
done
# A sync is one per commit, and how the writer groups operations into
# commits moves with the machine's load (start and artifact may share
# one): aimed at one sync per step, most land in their step.
n=0
for k in submit start artifact finish stop; do
	grep -Eq "store sync #[0-9-]+ *\| ([a-z+]*\+)?$k" "$T/matrix.txt" && n=$((n + 1))
done
ok "store sync faults landed in $n of the 5 steps (3 at least)" [ "$n" -ge 3 ]
ok "artifact store faults fired" grep -q 'injected.*at artifact write' "$T/matrix.log"

master
n=$(echo $ACKED | wc -w)
eq "all $n acknowledged jobs succeeded" "$n" "$(q "select count(*) from jobs where state=2 and id in ($(echo $ACKED | tr ' ' ','))")"
eq "no other job" "$n" "$(q "select count(*) from jobs")"
eq "none succeeded twice" 0 "$(q "select count(*) from (select job_id from attempts where state=2 group by job_id having count(*) > 1)")"
eq "no job without its artifact" 0 "$(q "select count(*) from jobs where outputs is null or outputs not like '%in.csv%'")"
ok "the worker's cache faults fired" grep -q "fault: injected" "$T/w1.log"
ok "the worker never died" kill -0 "$PID_w1"

# ---- Part 2: a real full disk ---------------------------------------
stop_master
mkdir -p "$T/small"
if ! mount -t tmpfs -o size=6m,mode=0700 tmpfs "$T/small" 2>"$T/mount.err"; then
	echo "# SKIP the full disk: cannot mount a tmpfs: $(cat "$T/mount.err")"
	finish
fi
trap 'umount "$T/small" 2>/dev/null; cleanup' EXIT
cp -a "$T/master/." "$T/small/"
sed -i -e "s|data_dir: $T/master|data_dir: $T/small|" \
	-e "s|worker_timeout: .*|worker_timeout: 30s|" "$T/cluster.yaml"
DB=$T/small/kiln.db
master
alive 1
submit && settled "$id"
# A job queued while the worker is paused (alive to the master), then
# the disk fills.
kill -STOP "$PID_w1"
submit; queued=$id
# The token's use is recorded now, not while the disk is full (where
# its retried write would hide what the store's probe does).
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL/api/v1/jobs/$queued"
# A second token, to revoke while the disk is full.
spare=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data '{"name":"spare"}' "$URL/api/v1/tokens" | jq_ 'd["id"]')
sleep 0.1
before=$(echo $ACKED | wc -w)
dd if=/dev/zero of="$T/small/fill" bs=64k 2>/dev/null
dd if=/dev/zero of="$T/small/fill2" bs=512 2>/dev/null
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' \
	--data-binary "{\"plugin\":\"readfile\",\"params\":{\"name\":\"in.csv\",\"path\":\"$T/in1.csv\"}}" \
	"$URL/api/v1/jobs")
eq "a submission on a full disk gets 503" 503 "$code"
ok "its error names the full disk: $(cat "$T/body")" grep -q '"error": *"[^"]*disk is full' "$T/body"
ok "health still answers" curl -sf -o /dev/null "$URL/api/v1/health"
# The auth routes that write the store answer as submissions do: 503
# naming the full disk, with Retry-After (not 500); login writes nothing
# (sessions live in memory), so it still works.
authreq() {  # authreq METHOD PATH [BODY] -> status; body in $T/body
	curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' ${3:+--data "$3"} "$URL$2"
}
eq "a token created on a full disk gets 503" 503 "$(authreq POST /api/v1/tokens '{"name":"full"}')"
ok "its error names the full disk: $(cat "$T/body")" grep -q '"error": *"[^"]*disk is full' "$T/body"
ok "with Retry-After" grep -qi '^Retry-After: *[0-9]' "$T/hdr"
eq "a token revoked on a full disk gets 503" 503 "$(authreq DELETE "/api/v1/tokens/$spare")"
ok "its error says the store cannot be written: $(cat "$T/body")" grep -q '"error": *"the store' "$T/body"
ok "with Retry-After" grep -qi '^Retry-After: *[0-9]' "$T/hdr"
eq "tokens can still be listed" 200 "$(authreq GET /api/v1/tokens)"
eq "login still works on a full disk" 200 "$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' \
	--data "{\"user\":\"admin\",\"password\":\"$(cat "$T/small/admin-password")\"}" "$URL/api/v1/login")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/v1/jobs/$queued")
eq "a job can still be read" 200 "$code"
writable() { curl -s "$URL/api/v1/health" | grep -q '"store_writable": *true'; }
ok "health says the store cannot be written" sh -c "! curl -s $URL/api/v1/health | grep -q '\"store_writable\": *true'"
sleep 1.2
ok "the master stays up on a full disk" up
rm -f "$T/small/fill" "$T/small/fill2"
for _ in $(seq 1 40); do writable && break; sleep 0.1; done
ok "once space is back the store is written again by itself (4 s)" writable
kill -CONT "$PID_w1"
ok "once space is back, the job queued before runs, with nothing submitted" settled "$queued"
ok "a submission succeeds, with no restart" submit
eq "so does revoking the token" 200 "$(authreq DELETE "/api/v1/tokens/$spare")"
eq "and creating one" 201 "$(authreq POST /api/v1/tokens '{"name":"after"}')"
ok "and its job runs" settled "$id"
ok "the master never restarted" up
eq "nothing acknowledged was lost" "$((before + 1))" "$(q "select count(*) from jobs where state=2 and id in ($(echo $ACKED | tr ' ' ','))")"
stop_master
umount "$T/small"
finish
