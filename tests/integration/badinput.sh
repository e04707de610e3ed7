#!/bin/sh
# SPDX-License-Identifier: MIT
# badinput.sh - bad configs name FILE:LINE:COLUMN; bad requests get 4xx
# JSON errors; none of it disturbs a running job.
. "$(dirname "$0")/lib.sh"

printf 'master:\n  port: 8080\n  bogus: 1\n' > "$T/bad1.yaml"
"$KILN" start -c "$T/bad1.yaml" --node master > /dev/null 2> "$T/err"
eq "bad config exits 1" 1 $?
ok "unknown key named with FILE:LINE:COLUMN" grep -q "bad1.yaml:3:3:.*bogus" "$T/err"
printf 'master:\n  port: 8080\nworkers:\n  - name: a\n  - name: a\n' > "$T/bad2.yaml"
"$KILN" up -c "$T/bad2.yaml" > /dev/null 2> "$T/err"
ok "duplicate worker named with its line" grep -q "bad2.yaml:5:.*duplicate" "$T/err"
printf 'workers: []\n' > "$T/bad3.yaml"
"$KILN" start -c "$T/bad3.yaml" --node master > /dev/null 2> "$T/err"
ok "missing master is an error" grep -q "bad3.yaml:1:1:.*master" "$T/err"
printf 'master:\n  port: [1\n' > "$T/bad4.yaml"
"$KILN" start -c "$T/bad4.yaml" --node master > /dev/null 2> "$T/err"
ok "YAML syntax error has a position" grep -q "bad4.yaml:[0-9]*:[0-9]*:" "$T/err"

start_cluster
sid=$(k submit sleep -p seconds=2)
ok "a job runs during the abuse" wait_state "$sid" running
api POST /api/v1/jobs '{"plugin": "noop", ' > /dev/null
eq "malformed JSON is 400" 400 "$(status)"
ok "error is JSON with a message" sh -c "python3 -c 'import json; d=json.load(open(\"$T/body\")); assert \"JSON\" in d[\"error\"]'"
api POST /api/v1/jobs '[1,2]' > /dev/null; eq "non-object body is 400" 400 "$(status)"
api POST /api/v1/jobs '{"plugin": "nope"}' > /dev/null; eq "unknown plugin is 400" 400 "$(status)"
api POST /api/v1/jobs '{"plugin": "noop", "slots": 0}' > /dev/null; eq "bad slots is 400" 400 "$(status)"
api POST /api/v1/jobs '{"plugin": "noop", "colour": 1}' > /dev/null; eq "unknown field is 400" 400 "$(status)"
api POST /api/v1/jobs/batch '{"jobs": [{"plugin":"noop"}, {"plugin":"nope"}]}' > /dev/null
eq "a bad job in a batch rejects the batch" 400 "$(status)"
ok "and names its index" grep -q 'jobs\[1\]' "$T/body"
# Parameters are checked against what the plugin declares, at submit.
api POST /api/v1/jobs '{"plugin": "readfile", "params": {}}' > /dev/null
eq "a missing required parameter is 400" 400 "$(status)"
ok "and names it" grep -q "parameter 'path'" "$T/body"
api POST /api/v1/jobs '{"plugin": "sleep", "params": {"seconds": "soon"}}' > /dev/null
eq "a parameter of the wrong type is 400" 400 "$(status)"
ok "and names it" grep -q "parameter 'seconds'" "$T/body"
# The host's own parameters cannot be forged (issue 13: this request
# crashed every worker in turn through the benchmark plugin's map()).
api POST /api/v1/jobs '{"plugin":"benchmark","retries":0,"params":{"__stage":{"fn":"fold","index":0,"count":1},"__arg":{"m":0,"f":0},"__broadcast":{"b":{"kind":1,"models":[{"type":"seasonal_naive","params":{}}],"origins":[1],"horizon":-1,"season":1},"dataset":{"features":[],"label":"y"}}}}' > /dev/null
eq "a forged map task's parameters are 400" 400 "$(status)"
ok "reserved for the host" grep -q 'params: names starting with \\"__\\" are reserved' "$T/body"
api POST /api/v1/jobs '{"plugin": "noop", "priority": -2147483649}' > /dev/null
eq "a priority out of range is 400, not wrapped" 400 "$(status)"
ok "naming the field and the range" grep -q "priority must be from -1000000000 to 1000000000, got -2147483649" "$T/body"
api POST /api/v1/jobs '{"plugin": "noop", "retries": -1}' > /dev/null
eq "retries -1 is 400, not the default" 400 "$(status)"
ok "naming the field" grep -q "retries must be from 0 to 100" "$T/body"
params=$(python3 -c 'import json; print(json.dumps({"plugin":"noop","params":{"p%d" % i: i for i in range(2000)}}))')
api POST /api/v1/jobs "$params" > /dev/null
eq "2,000 params are 400" 400 "$(status)"
ok "saying the bound" grep -q "more than 1024 parameters" "$T/body"
api POST /api/v1/jobs/batch '{"jobs": [{"plugin":"noop"}, {"plugin":"sleep","params":{"fail":[1]}}]}' > /dev/null
eq "a batch with a bad parameter is 400" 400 "$(status)"
ok "naming the job and the parameter" grep -q "jobs\[1\].*parameter 'fail'" "$T/body"
api GET /api/v1/jobs/999999 > /dev/null; eq "unknown job is 404" 404 "$(status)"
api GET /api/v1/nothing > /dev/null; eq "unknown route is 404" 404 "$(status)"
api GET '/api/v1/jobs?state=bogus' > /dev/null; eq "bad filter is 400" 400 "$(status)"
head -c 9000000 /dev/zero | tr '\0' 'a' > "$T/big"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $(token)" --data-binary @"$T/big" "$URL/api/v1/jobs")
eq "oversize body is 413" 413 "$code"
# `kiln up` whose master cannot listen (this master holds the port) stops
# at once with an error instead of waiting for a cluster that never comes.
sed -e '/^workers:/,$d' -e "s#data_dir: $T/master#data_dir: $T/master-up#" "$T/cluster.yaml" > "$T/up.yaml"
t0=$(date +%s)
timeout 20 "$KILN" up -c "$T/up.yaml" > "$T/up.out" 2>&1
eq "kiln up fails when its master cannot start" 1 $?
ok "saying why" grep -q "Address already in use" "$T/up.out"
ok "within seconds" test $(( $(date +%s) - t0 )) -le 5
ok "the running job still succeeds" wait_state "$sid" succeeded
eq "nothing was queued by bad requests" 0 "$(sqlite3 "$T/master/kiln.db" "select count(*) from jobs where plugin<>'sleep'")"
finish
