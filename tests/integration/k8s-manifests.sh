#!/bin/sh
# SPDX-License-Identifier: MIT
# k8s-manifests.sh - deploy/kubernetes renders (kubectl kustomize) and
# every object it makes is valid against the Kubernetes API schemas
# (kubernetes-models from npm, offline: tests/k8s/validate.mjs); the
# validator itself refuses a broken object; the ConfigMaps carry the
# image's cluster.yaml and the DAGs of conf/dags unchanged; the selectors
# of the Service, the StatefulSet and the NetworkPolicy meet.  Skipped
# (77, the reason printed) without kubectl, node or npm.
. "$(dirname "$0")/lib.sh"

skip() { echo "SKIP: $*"; exit 77; }
command -v kubectl >/dev/null 2>&1 || skip "kubectl not found (Debian: kubernetes-client)"
command -v node >/dev/null 2>&1 || skip "node not found (apt-get install -y nodejs)"
command -v npm >/dev/null 2>&1 || skip "npm not found (apt-get install -y npm)"

V="$KILN_SRCDIR/tests/k8s"
# A read-only source tree (make distcheck) gets its packages in $T.
if [ ! -d "$V/node_modules/kubernetes-models" ] && [ ! -w "$V" ]; then
	mkdir -p "$T/k8s"
	cp "$V/package.json" "$V/package-lock.json" "$V/validate.mjs" "$T/k8s/"
	V="$T/k8s"
fi
if [ ! -d "$V/node_modules/kubernetes-models" ]; then
	echo "installing kubernetes-models in $V"
	(cd "$V" && npm ci --no-audit --no-fund) || { echo "FAIL: npm ci in $V"; exit 99; }
fi

# The base as a user has it, with the secret file the user makes.
cp -r "$KILN_SRCDIR/deploy/kubernetes/base" "$T/base"
umask 077
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/base/kiln.secret"
umask 022
ok "kubectl kustomize renders deploy/kubernetes/base" \
	sh -c "kubectl kustomize '$T/base' > '$T/all.yaml' 2> '$T/kustomize.log'"
kinds=$(sed -n 's/^kind: //p' "$T/all.yaml" | sort | tr '\n' ' ')
eq "the objects" "ConfigMap ConfigMap Deployment HorizontalPodAutoscaler Namespace NetworkPolicy NetworkPolicy PodDisruptionBudget Secret Service StatefulSet " "$kinds"

ok "every object is valid against the Kubernetes API schemas" \
	sh -c "node '$V/validate.mjs' '$T/all.yaml' > '$T/validate.log'"
sed 's/^/# /' "$T/validate.log"
sed 's/^  replicas: 1$/  replicas: one/' "$T/all.yaml" > "$T/broken.yaml"
ok "and the validator refuses a StatefulSet with replicas: one" \
	sh -c "! node '$V/validate.mjs' '$T/broken.yaml' > '$T/broken.log'"
ok "naming the field" grep -q "StatefulSet master: .*replicas" "$T/broken.log"

# Facts of the rendered objects, as JSON lines, for python to check.
(cd "$V" && node --input-type=module -e '
import { parseAllDocuments } from "yaml";
import { readFileSync } from "node:fs";
for (const d of parseAllDocuments(readFileSync(process.argv[1], "utf8")))
  if (d.toJS()) console.log(JSON.stringify(d.toJS()));
' "$T/all.yaml") > "$T/all.jsonl"

facts() {
	python3 - "$T/all.jsonl" "$KILN_SRCDIR" "$T/base/kiln.secret" <<'PY'
import base64, glob, json, os, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
src = sys.argv[2]
by = {}
for o in objs:
    by.setdefault(o["kind"], []).append(o)
def cm(prefix):
    return [o for o in by["ConfigMap"] if o["metadata"]["name"].startswith(prefix)][0]["data"]
out = []
out.append(cm("kiln-config")["cluster.yaml"] == open(src + "/conf/compose/cluster.yaml").read())
dags = cm("kiln-dags")
out.append(all(dags[k] == open(src + "/conf/dags/" + k).read() for k in dags) and len(dags) >= 1)
sec = by["Secret"][0]["data"]["kiln-secret"].replace("\n", "")
out.append(base64.b64decode(sec).decode() == open(sys.argv[3]).read())
ss = by["StatefulSet"][0]
labels = ss["spec"]["template"]["metadata"]["labels"]
svc = [o for o in by["Service"] if o["metadata"]["name"] == "master"][0]
out.append(all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()))
np = [o for o in by["NetworkPolicy"] if o["metadata"]["name"] == "master"][0]
out.append(all(labels.get(k) == v for k, v in np["spec"]["podSelector"]["matchLabels"].items()))
wl = by["Deployment"][0]["spec"]["template"]["metadata"]["labels"]
out.append(all(wl.get(k) == v for k, v in np["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"].items()))
c = ss["spec"]["template"]["spec"]["containers"][0]
out.append(ss["spec"]["replicas"] == 1 and ss["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] in
           [m["name"] for m in c["volumeMounts"] if m["mountPath"] == "/var/lib/kiln"])
out.append(all(o["metadata"].get("namespace") == "kiln" for o in objs if o["kind"] != "Namespace"))
print(" ".join("yes" if x else "no" for x in out))
PY
}
# shellcheck disable=SC2046 # one word per fact
set -- $(facts)
eq "the ConfigMap's cluster.yaml is conf/compose/cluster.yaml" yes "${1:-}"
eq "the DAG ConfigMap's files are conf/dags' own" yes "${2:-}"
eq "the Secret holds the file's secret" yes "${3:-}"
eq "the Service selects the master's pods" yes "${4:-}"
eq "the master's NetworkPolicy selects the master's pods" yes "${5:-}"
eq "and lets the worker pods in" yes "${6:-}"
eq "one master replica with its store on the claim" yes "${7:-}"
eq "every object in the namespace kiln" yes "${8:-}"
finish
