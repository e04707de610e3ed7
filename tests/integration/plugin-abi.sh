#!/bin/sh
# SPDX-License-Identifier: MIT
# plugin-abi.sh - the plugin ABI against the real kiln binary: plugins built
# for ABI 1.0, 1.2 and 1.3 run unchanged (a 1.2 stage included), a 1.3
# plugin gets its context and logs from init_ctx(), a plugin of a newer minor and
# one that binds to a kiln internal are refused with clear errors while the
# others load, and the binary exports none of its own symbols.
. "$(dirname "$0")/lib.sh"
cluster_yaml
for p in old_abi10 old_abi12 old_abi13 ctx internal_sym new_minor; do
	cp "$KILN_TEST_PLUGINS/$p.so" "$T/plugins/"
done
KILN_ABI_TEST_LOG="$T/abi.log"; export KILN_ABI_TEST_LOG
start_node master; wait_master; start_node w1; start_node w2; wait_workers 2

minor=$(sed -n 's/^#define KILN_ABI_MINOR \([0-9]*\)$/\1/p' "$KILN_SRCDIR/src/kiln/plugin.h")
ok "--version prints the header's ABI (1.$minor)" sh -c "'$KILN' --version | grep -qx 'Plugin ABI 1.$minor'"
if command -v nm >/dev/null; then
	eq "the binary exports none of kiln's functions" "" \
		"$(nm -D --defined-only "$KILN" | awk '$2 ~ /^[TtDdBb]$/ {print $3}' |
		   grep -E '^(xmalloc|err_set|now_ms|task_host|plugin_[a-z_]*|log_msg)$')"
fi

for _ in $(seq 1 100); do
	grep -q "internal_sym" "$T/w1.log" && grep -q "new_minor" "$T/w1.log" && break; sleep 0.1
done
ok "a plugin using a kiln internal is refused, naming the symbol" \
	grep -q "internal_sym.so: undefined symbol: xmalloc: a plugin may use kiln only through the host table" "$T/w1.log"
ok "a plugin of a newer minor is refused, naming both versions" \
	grep -q "new_minor.so: built for ABI 1.$((minor + 1)), this kiln speaks ABI 1.$minor" "$T/w1.log"
errs=$(api GET /api/v1/plugins | jq_ '" ".join(sorted(set(x["file"].split("/")[-1] for x in d["errors"])))')
eq "the API lists both refusals" "internal_sym.so new_minor.so" "$errs"
api POST /api/v1/jobs '{"plugin": "internal_sym"}' >/dev/null
eq "the refused plugin takes no jobs" 400 "$(status)"

id=$(k submit noop)
ok "the good plugins load beside them" wait_state "$id" succeeded
id=$(k submit old10 -p n=3)
ok "a 1.0 plugin runs" wait_state "$id" succeeded
eq "with its init() called" "True 3" "$(api GET "/api/v1/jobs/$id" | jq_ 'd["result"]["init"], d["result"]["n"]' | tr -d '(),')"
id=$(k submit old12 -p stage=1)
ok "a 1.2 plugin runs a stage, freeing with free()" wait_state "$id" succeeded
eq "with the stage's results" "42 $minor" "$(api GET "/api/v1/jobs/$id" | jq_ 'd["result"]["sum"], d["result"]["host_minor"]' | tr -d '(),')"
id=$(k submit old13)
ok "a plugin built against the 1.3 header runs" wait_state "$id" succeeded
eq "with its context and every 1.3 member" "True True $minor" \
	"$(api GET "/api/v1/jobs/$id" | jq_ 'd["result"]["ctx"], d["result"]["has_1_3"], d["result"]["host_minor"]' | tr -d '(),')"
id=$(k submit ctx)
ok "a 1.3 plugin runs" wait_state "$id" succeeded
eq "with the context init_ctx() made" "True" "$(api GET "/api/v1/jobs/$id" | jq_ 'd["result"]["ctx"]')"
ok "init_ctx() logged to the worker's log without a task" \
	grep -q "plugin ctx: init_ctx made its context" "$T/w1.log"

rm "$T/plugins/ctx.so" "$T/plugins/old_abi10.so"
# Both workers unload both plugins: four lines.
for _ in $(seq 1 100); do
	[ "$(cat "$T/abi.log" 2>/dev/null | grep -c fini)" -ge 4 ] && break; sleep 0.1
done
ok "a removed 1.3 plugin's fini_ctx() gets the context" grep -q "ctx fini_ctx runs=" "$T/abi.log"
ok "a removed 1.0 plugin's fini() is called" grep -q "old10 fini" "$T/abi.log"
ok "fini_ctx() logs without a task" grep -q "plugin ctx: fini_ctx after" "$T/w1.log"
finish
