#!/bin/sh
# SPDX-License-Identifier: MIT
# executors.sh - plugin tasks run in executor processes (workers[].isolation:
# process): a task that ignores its timeout, allocates without end or
# crashes costs its executor, not the worker: it is stopped within 5 s with
# the reason, the worker's memory and threads are what they were, its
# other slot's task goes on, and the next task runs.
. "$(dirname "$0")/lib.sh"
cluster_yaml
start_node master; wait_master; start_node w1; wait_workers 1
W=$PID_w1

# Resident KiB of the worker and every process under it; its threads.
tree_rss() {
	python3 - "$W" <<'PY'
import os, sys
kids = {}
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            f = open('/proc/%s/stat' % p).read()
            kids.setdefault(int(f[f.rindex(')') + 2:].split()[1]), []).append(int(p))
        except OSError:
            pass
todo, kb = [int(sys.argv[1])], 0
while todo:
    p = todo.pop()
    todo += kids.get(p, [])
    try:
        kb += int(open('/proc/%d/statm' % p).read().split()[1]) * os.sysconf('SC_PAGE_SIZE') // 1024
    except OSError:
        pass
print(kb)
PY
}
threads() { ls "/proc/$W/task" | wc -l; }
# The plugins whose code process $1 maps (copies in plugin-cache/).
mapped() {
	sed -n 's|.*/plugin-cache/\([a-z0-9_]*\)-[0-9].*|\1|p' "/proc/$1/maps" |
		sort -u | tr '\n' ' '
}
ok "a noop runs in an executor" wait_state "$(k submit noop)" succeeded 10
grep -q "tasks in executor processes" "$T/w1.log"; eq "the worker says so" 0 $?
eq "the worker maps no plugin's code" "" "$(mapped "$W")"
Z=$(pgrep -P "$W" | head -1)
ok "its zygote does ($(mapped "$Z"))" sh -c "echo '$(mapped "$Z")' | grep -q 'noop .*runaway '"
# Both slots' threads started (a pool starts them as work comes).
a=$(k submit sleep -p seconds=0.3); b=$(k submit sleep -p seconds=0.3)
wait_state "$a" succeeded 10; wait_state "$b" succeeded 10
rss0=$(tree_rss); thr0=$(threads)

# The other slot has a task of 6 s meanwhile.
nap=$(k submit sleep -p seconds=6 --retries 0)
t0=$(date +%s)
spin=$(k submit runaway -p mode=spin --timeout 2s --retries 0)
ok "a task spinning past its timeout is stopped" wait_state "$spin" failed 10
eq "within 5 s of its timeout" 1 "$([ $(( $(date +%s) - t0 )) -le 7 ] && echo 1 || echo 0)"
err=$(api GET "/api/v1/jobs/$spin" | jq_ 'd["error"]')
eq "with the reason" "killed: timeout 2 s exceeded" "$err"

big=$(k submit runaway -p mode=alloc --memory 64MiB --retries 0)
ok "a task allocating past its job's memory is stopped" wait_state "$big" failed 10
# From its start on the worker, not from the submit: a loaded machine's
# dispatch is not what is measured.
ran=$(api GET "/api/v1/jobs/$big" | jq_ 'd["finished_ms"] - d["started_ms"]')
ok "within 5 s of its start (${ran} ms)" [ "${ran:-99999}" -le 5000 ]
err=$(api GET "/api/v1/jobs/$big" | jq_ 'd["error"]')
ok "with the limit and the RSS ($err)" sh -c "echo '$err' | grep -q '^killed: memory limit 64 MiB exceeded (RSS [0-9]* MiB)$'"
big=$(k submit runaway -p mode=alloc --retries 0)
ok "without a memory, the worker's share per slot is the limit" wait_state "$big" failed 10
err=$(api GET "/api/v1/jobs/$big" | jq_ 'd["error"]')
ok "(512 MiB: $err)" sh -c "echo '$err' | grep -q '^killed: memory limit 512 MiB exceeded'"

segv=$(k submit runaway -p mode=segv --retries 0)
ok "a crashing task fails" wait_state "$segv" failed 10
err=$(api GET "/api/v1/jobs/$segv" | jq_ 'd["error"]')
eq "naming the signal" "executor crashed: SIGSEGV" "$err"
ok "the worker survives it all" kill -0 "$W"
ok "the other slot's task finished meanwhile" wait_state "$nap" succeeded 10
ok "and the next task runs" wait_state "$(k submit noop)" succeeded 5
sleep 0.5
rss1=$(tree_rss); thr1=$(threads)
eq "the worker has as many threads as before ($thr0)" "$thr0" "$thr1"
ok "its processes hold no more memory than before ($rss0 -> $rss1 KiB)" \
	[ "$rss1" -le $((rss0 + 32768)) ]
ok "no task thread was abandoned" sh -c "! grep -q abandoned '$T/w1.log'"

# A cancel reaches a task in its executor, at its start or later: the
# executor's reader reads only while a task runs and is not woken when
# one starts (it naps 100 ms).  The plugin stops; nothing is killed.
now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }
for after in 0 0.6; do
	j=$(k submit sleep -p seconds=30 --retries 0)
	wait_state "$j" running 10
	sleep "$after"
	t0=$(now_ms)
	k cancel "$j" > /dev/null
	ok "a task cancelled ${after} s into it stops" wait_state "$j" cancelled 5
	t1=$(now_ms)
	ok "... within a second ($((t1 - t0)) ms)" [ $((t1 - t0)) -lt 1000 ]
	err=$(api GET "/api/v1/jobs/$j" | jq_ 'd["error"] or ""')
	ok "... by its plugin, not killed ($err)" sh -c "! echo '$err' | grep -q killed"
done

# in_process_plugins: those plugins' tasks on the worker's own threads.
pid_of() {
	j=$(k submit runaway -p mode=pid --retries 0)
	wait_state "$j" succeeded 10 && api GET "/api/v1/jobs/$j" | jq_ 'd["result"]["pid"]'
}
p=$(pid_of)
ok "a task runs in an executor, not the worker ($p)" [ "${p:-$W}" != "$W" ]
kill "$W"; wait "$W" 2>/dev/null
sed -i 's/^    memory: 1GiB$/&\n    in_process_plugins: [runaway]/' "$T/cluster.yaml"
start_node w1; W=$PID_w1; wait_workers 1
eq "with in_process_plugins: [runaway], in the worker" "$W" "$(pid_of)"
eq "and the worker maps that plugin's code only" "runaway " "$(mapped "$W")"
finish
