#!/bin/sh
# SPDX-License-Identifier: MIT
# plugin-drop.sh - a plugin copied into a running worker's plugin directory
# is picked up without restart; a replaced one serves new tasks.
. "$(dirname "$0")/lib.sh"
cluster_yaml
mv "$T/plugins/csvstats.so" "$T/csvstats.so"
start_node master; wait_master; start_node w1; start_node w2; wait_workers 2
api POST /api/v1/jobs '{"plugin": "csvstats"}' >/dev/null
eq "csvstats unknown before the drop" 400 "$(status)"
cp "$T/csvstats.so" "$T/plugins/csvstats.so.tmp" && mv "$T/plugins/csvstats.so.tmp" "$T/plugins/csvstats.so"
for _ in $(seq 1 100); do
	api GET /api/v1/plugins | grep -q csvstats && break; sleep 0.1
done
ok "csvstats listed after the drop" sh -c "curl -s -H 'Authorization: Bearer $(token)' '$URL/api/v1/plugins' | grep -q csvstats"
id=$(k submit csvstats -p file="$KILN_SRCDIR/examples/data/iris.csv")
ok "the dropped plugin runs" wait_state "$id" succeeded
sid=$(k submit sleep -p seconds=1)
ok "a noop... sleep job runs while noop is replaced" wait_state "$sid" running
cp "$KILN_TEST_PLUGINS/dup_noop.so" "$T/plugins/noop.so"
for _ in $(seq 1 100); do
	api GET /api/v1/plugins | grep -q '9.9.9' && break; sleep 0.1
done
ok "the replaced noop is version 9.9.9" sh -c "curl -s -H 'Authorization: Bearer $(token)' '$URL/api/v1/plugins' | grep -q 9.9.9"
id=$(k submit noop)
ok "the new noop runs" wait_state "$id" succeeded
ok "the running job finished" wait_state "$sid" succeeded
printf 'not an ELF' > "$T/plugins/junk.so"
sleep 1.5
id=$(k submit noop)
ok "a junk .so disturbs nothing" wait_state "$id" succeeded
ok "the junk file is reported in the worker log" grep -q "junk.so" "$T/w1.log"
ok "and by the API with its worker" sh -c "curl -s -H 'Authorization: Bearer $(token)' '$URL/api/v1/plugins' | python3 -c 'import json,sys; e=json.load(sys.stdin)[\"errors\"]; assert any(x[\"worker\"]==\"w1\" and x[\"file\"].endswith(\"junk.so\") for x in e), e'"
finish
