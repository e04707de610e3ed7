#!/bin/sh
# SPDX-License-Identifier: MIT
# compose.sh - compose.yaml with real containers: builds the image from
# this build (tools/image.sh), brings up the master and two workers with
# podman-compose, waits for both workers, runs the breast cancer DAG to
# success, checks the health check, the published HTTPS port, a clean
# `podman stop` of the master (well under podman's 10 s kill timeout)
# and that its volume keeps the store across the restart, then takes it
# all down.  Skipped (77, the reason printed) where podman, runc or
# podman-compose is missing or no container starts, and for a sanitizer
# build of kiln.
#
# Uses $CONTAINERS_CONF if set, else a containers.conf with the two
# settings of docs/deploy.md (no raised RLIMIT_NOFILE, runc), which are
# harmless where not needed.
. "$(dirname "$0")/lib.sh"

skip() { echo "SKIP: $*"; exit 77; }
for tool in podman podman-compose runc; do
	command -v "$tool" >/dev/null 2>&1 ||
		skip "$tool not found (apt-get install -y podman runc podman-compose)"
done
# The image ships a release build; a sanitizer runtime's leak check does
# not work inside a rootless-style container (it needs ptrace).
if grep -q __asan_init "$KILN" 2>/dev/null; then
	skip "$KILN is a sanitizer build; the image is built from a plain one"
fi
if [ -z "${CONTAINERS_CONF:-}" ]; then
	printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n' \
		> "$T/containers.conf"
	export CONTAINERS_CONF="$T/containers.conf"
fi

# The file against the Compose specification's schema, the monitoring
# profile included (its images are not pulled): docker-compose's config.
if command -v docker-compose >/dev/null 2>&1; then
	mkdir -p "$T/spec"
	cp "$KILN_SRCDIR/compose.yaml" "$T/spec/"
	touch "$T/spec/kiln.secret" "$T/spec/kiln-ca.pem" "$T/spec/kiln-metrics.token"
	ok "compose.yaml is valid Compose, with the monitoring profile" \
		docker-compose -f "$T/spec/compose.yaml" --profile monitoring config -q
else
	echo "# docker-compose not found: compose.yaml's schema not checked"
fi

P=kilntest$$
IMG=localhost/kiln:test-$$
VOLS=""     # the containers' volumes, named and anonymous
podman_down() {
	ids=$(podman ps -aq --filter "label=io.podman.compose.project=$P" 2>/dev/null)
	# shellcheck disable=SC2086 # lists of IDs
	[ -z "$ids" ] || podman rm -f $ids >/dev/null 2>&1
	# shellcheck disable=SC2086
	podman volume rm -f "${P}_master-data" $VOLS >/dev/null 2>&1
	podman network rm -f "${P}_default" >/dev/null 2>&1
	podman rmi -f "$IMG" >/dev/null 2>&1
	cleanup
}
trap podman_down EXIT

build=$(dirname "$KILN")
if ! (cd "$build" && srcdir="$KILN_SRCDIR" KILN_IMAGE_CONTEXT="$T/ctx" \
	"$KILN_SRCDIR/tools/image.sh" "$IMG") > "$T/build.log" 2>&1; then
	tail -n 5 "$T/build.log"
	skip "podman cannot build the image here (log above)"
fi
if ! podman run --rm "$IMG" --version > "$T/run.log" 2>&1; then
	tail -n 5 "$T/run.log"
	skip "podman cannot run a container here (log above)"
fi

# The secret: the documented command; owned by the image's user.
umask 077
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/kiln.secret"
umask 022
if [ "$(id -u)" = 0 ]; then
	chown 10001 "$T/kiln.secret"
else
	podman unshare chown 10001 "$T/kiln.secret"
fi

PORT=$(free_port)
compose() {
	(cd "$KILN_SRCDIR" && KILN_IMAGE="$IMG" KILN_PORT="$PORT" \
		KILN_SECRET_FILE="$T/kiln.secret" podman-compose -p "$P" "$@")
}
started=$(date +%s)
# podman-compose 1.0 knows no profiles: name the services to start.
compose up -d master worker > "$T/up.log" 2>&1
M=${P}_master_1
n=$(podman ps -q --filter "label=io.podman.compose.project=$P" | wc -l)
eq "podman-compose up starts a master and two workers" 3 "$n"
[ "$n" = 3 ] || finish

# kiln_m ARGS...: the CLI inside the master's container.
kiln_m() { podman exec "$M" /usr/local/bin/kiln "$@"; }
alive=0
deadline=$(( $(date +%s) + 30 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
	alive=$(kiln_m workers --json 2>/dev/null |
		jq_ 'sum(1 for w in d["workers"] if w["state"] == "alive")' 2>/dev/null)
	[ "${alive:-0}" -ge 2 ] && break
	sleep 0.2
done
eq "two workers joined" 2 "${alive:-0}"
echo "# up to two workers alive: $(( $(date +%s) - started )) s"
has() { printf '%s\n' "$1" | grep -q "$2"; }
# The worker checks the certificate against the cluster CA, so this
# also says the certificate names "master".
ok "the workers reach the master over TLS by its service name" \
	has "$(podman logs "${P}_worker_1" 2>&1)" "registered with master at https://master:8080"

kiln_m cert ca > "$T/ca.pem" 2>/dev/null
health=$(curl -s --cacert "$T/ca.pem" "https://localhost:$PORT/api/v1/health" | jq_ 'd["status"]' 2>/dev/null)
eq "the published port serves HTTPS checked with the cluster CA" ok "$health"
ok "the image's health check passes on the master" podman healthcheck run "$M"
ok "and on a worker" podman healthcheck run "${P}_worker_1"
ok "the master runs as the image's user kiln (10001)" \
	test "$(podman top "$M" user 2>/dev/null | tail -n 1)" = kiln

out=$(kiln_m dag trigger breast_cancer_models --wait 2>&1)
echo "$out" | sed 's/^/# /'
ok "the breast cancer DAG runs to success" has "$out" '^run .* success$'
run_id=$(echo "$out" | sed -n 's/^run \(.*\) success$/\1/p')

# A clean, prompt stop of PID 1, and the store kept on the volume.
t0=$(date +%s%N)
podman stop "$M" > /dev/null 2>&1
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# podman stop of the master: $ms ms"
ok "podman stop takes under 5 s (SIGTERM handled as PID 1)" test "$ms" -lt 5000
eq "the master exits 0 on SIGTERM" 0 "$(podman inspect -f '{{.State.ExitCode}}' "$M")"
podman start "$M" > /dev/null 2>&1
for _ in $(seq 1 100); do kiln_m ping > /dev/null 2>&1 && break; sleep 0.1; done
ok "the restarted master still has the run (volume)" \
	has "$(kiln_m run show "$run_id" 2>&1)" "^state: *success"

# shellcheck disable=SC2046
VOLS=$(podman inspect -f '{{range .Mounts}}{{.Name}} {{end}}' \
	$(podman ps -aq --filter "label=io.podman.compose.project=$P") 2>/dev/null)
compose down > /dev/null 2>&1
ok "podman-compose down removes the containers" \
	test -z "$(podman ps -aq --filter "label=io.podman.compose.project=$P")"
finish
