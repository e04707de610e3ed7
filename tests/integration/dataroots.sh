#!/bin/sh
# SPDX-License-Identifier: MIT
# dataroots.sh - what tasks may read from a worker's file system (issue 13):
# an admin who submits readfile with the cluster secret as its path, or
# csvstats on /etc/shadow, gets a failed task with an error naming the
# setting, and nothing stored for viewers; so for kiln's store, its
# configuration, a worker's cache, a FIFO, a device and symlinks out of the
# roots.  A file inside a root is read as before; a worker's own
# read_roots are its own.
. "$(dirname "$0")/lib.sh"
cluster_yaml
# lib.sh gives every worker $T and the examples as roots; w1 also reads
# $T.own, which w2 does not ($T is not a prefix of it that counts).
OWN="$T.own"
mkdir "$OWN"
printf 'a,b\n1,2\n3,4\n' > "$OWN/own.csv"
python3 - "$T/cluster.yaml" "$OWN" <<'PY'
import sys
p, own = sys.argv[1], sys.argv[2]
s = open(p).read()
s = s.replace("  - name: w1\n    slots: 2\n",
              f"  - name: w1\n    slots: 2\n    read_roots: [{own}]\n")
open(p, "w").write(s)
PY
start_node master; wait_master; start_node w1; start_node w2; wait_workers 2

# fail_with NAME WORDS JOB_ARGS... - the job fails at its first attempt (of
# three), with WORDS in its error, no result and no output.
fail_with() {
	name=$1 words=$2; shift 2
	id=$(k submit "$@" --retries 2)
	if ! wait_state "$id" failed; then
		eq "$name: fails" failed "$(api GET "/api/v1/jobs/$id" | jq_ 'd["state"]')"
		return
	fi
	job=$(api GET "/api/v1/jobs/$id")
	err=$(echo "$job" | jq_ 'd["error"]')
	case $err in
	*"$words"*) eq "$name: fails, saying so" ok ok ;;
	*) eq "$name: fails, saying so" "...$words..." "$err" ;;
	esac
	eq "$name: at once (bad input is not retried)" "1 None 0" \
		"$(echo "$job" | jq_ 'd["attempt"], d["result"], len(d["outputs"])' | tr -d '(),')"
}

# The attack of issue 13: the cluster secret as an artifact for viewers.
# $T is a read root here, and the secret is in it: refused all the same.
fail_with "readfile of the cluster secret" \
	"the cluster secret (master.auth.secret_file) is never readable" \
	readfile -p path="$T/secret"
sha=$(sha256sum "$T/secret" | cut -d' ' -f1)
ok "the secret is not among the master's artifacts" \
	test ! -e "$T/master/artifacts/$(echo "$sha" | cut -c1-2)/$sha"
ok "nor in any file the master keeps" \
	sh -c "! grep -rqF '$(cat "$T/secret")' '$T/master'"
fail_with "the secret through a symlink" "master.auth.secret_file" \
	readfile -p path="$(ln -s "$T/secret" "$T/innocent.csv"; echo "$T/innocent.csv")"
fail_with "the secret through a hard link" "a link to the cluster secret" \
	readfile -p path="$(ln "$T/secret" "$T/innocent2.csv"; echo "$T/innocent2.csv")"

# csvstats on /etc/shadow would put its first line in the result.
fail_with "csvstats on /etc/shadow" "/etc/shadow: outside the read roots of worker" \
	csvstats -p file=/etc/shadow
id=$(k submit csvstats -p file=/etc/passwd)
wait_state "$id" failed >/dev/null
err=$(api GET "/api/v1/jobs/$id" | jq_ 'd["error"]')
has() { case $1 in *"$2"*) return 0 ;; esac; return 1; }
ok "the error names the roots and the settings behind them" has "$err" "$T (data.read_roots)"
ok "and the keys that allow more" has "$err" \
	"add its directory to data.read_roots or workers[].read_roots in cluster.yaml"
fail_with "a path that climbs out of a root" "outside the read roots" \
	readfile -p path="$T/../../etc/passwd"
fail_with "a symlink out of a root" "outside the read roots" \
	readfile -p path="$(ln -s /etc/passwd "$T/passwd.csv"; echo "$T/passwd.csv")"
fail_with "a file that does not exist outside the roots" "outside the read roots" \
	readfile -p path=/nonexistent/x.csv

# kiln's own files under a root.
fail_with "the master's store" "a kiln store (kiln.db*) is never readable" \
	readfile -p path="$T/master/kiln.db"
fail_with "cluster.yaml" "cluster configuration" readfile -p path="$T/cluster.yaml"
mkfifo "$T/fifo"
fail_with "a FIFO, without hanging" "a FIFO, not a regular file" \
	readfile -p path="$T/fifo"
fail_with "a directory" "a directory, not a regular file" csvstats -p file="$T"

# Inside a root: read as before.
id=$(k submit readfile -p path="$KILN_SRCDIR/examples/data/iris.csv" -p name=iris.csv)
ok "readfile of the examples' iris.csv succeeds" wait_state "$id" succeeded
size=$(wc -c < "$KILN_SRCDIR/examples/data/iris.csv")
eq "with all its bytes" "$size" "$(api GET "/api/v1/jobs/$id" | jq_ 'd["result"]["bytes"]')"
w=$(api GET "/api/v1/jobs/$id" | jq_ 'd["worker"]')
isha=$(sha256sum "$KILN_SRCDIR/examples/data/iris.csv" | cut -d' ' -f1)
art=$(find "$T/master/artifacts" -type f | head -n 1)
ok "the master stored it" test -n "$art"
fail_with "an artifact in the master's data_dir" "the master's data_dir" \
	readfile -p path="$art"
fail_with "a file in a worker's cache" "cache directory (its own, not data)" \
	readfile -p path="$T/$w/cache/$isha"
printf 'x,y\n1,2\n3,4\n5,6\n' > "$T/xy.csv"
id=$(k submit csvstats -p file="$T/xy.csv")
ok "csvstats on a file under \$T succeeds" wait_state "$id" succeeded
eq "with its rows" 3 "$(api GET "/api/v1/jobs/$id" | jq_ 'd["result"]["rows"]')"

# A worker's own roots: w1 reads $OWN, w2 does not.  One worker at a time.
alive() {
	for _ in $(seq 1 200); do
		n=$(curl -s "$URL/api/v1/health" | jq_ 'd["workers_alive"]' 2>/dev/null)
		[ "${n:-0}" = "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
kill -TERM "$PID_w2"; wait "$PID_w2" 2>/dev/null; alive 1
id=$(k submit csvstats -p file="$OWN/own.csv" --retries 0)
ok "workers[w1].read_roots lets w1 read its own directory" wait_state "$id" succeeded
start_node w2; wait_workers 2
kill -TERM "$PID_w1"; wait "$PID_w1" 2>/dev/null; alive 1
fail_with "w2 without that root" "outside the read roots of worker w2" \
	csvstats -p file="$OWN/own.csv"
eq "(on w2)" w2 "$(api GET "/api/v1/jobs/$id" | jq_ 'd["worker"]')"
ok "w1 logged its roots" grep -q "tasks read files under .*$OWN (workers\[w1\].read_roots)" "$T/w1.log"
ok "w2 logged its own" grep -q "tasks read files under $T/w2 (the worker's data_dir)" "$T/w2.log"
rm -rf "$OWN"
finish
