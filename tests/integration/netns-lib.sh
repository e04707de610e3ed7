# SPDX-License-Identifier: MIT
# netns-lib.sh - hosts of our own for kiln's multi-host tests: network
# namespaces on a private bridge, so that a master and its workers talk over
# real interfaces, each from its own address, instead of over 127.0.0.1.
#
# Source it after lib.sh, then call netns_setup and netns_add_host.  For the
# test whose shell has pid P, the namespaces are:
#   kiln-P-sw     the switch: bridge br0 and the switch end of every host's
#                 cable (a veth named after the host); nothing else
#   kiln-P-NAME   one per host: lo up, eth0 with 10.231.X.N/24
# with X derived from P.  The bridge and the veths are created inside these
# namespaces and never exist in the host's: the host's network is untouched,
# and the only addresses anything here sends to are those of our own hosts
# (there is no route out of 10.231.X.0/24).  Two runs at once cannot collide:
# their namespace names differ, and even the same subnet would be two
# separate networks.  Everything is deleted on exit, whatever the outcome.
#
# When namespaces cannot be made (not root, no `ip`, a container without
# CAP_NET_ADMIN) the test prints why and exits 77, automake's SKIP.
#
# Checks that need what the cluster cannot do yet (TLS, nonces) are reported
# with netns_skip (not counted as passes) or netns_xfail (run, and what was
# seen printed, but not a failure); netns_finish counts them.
#
# Once the master speaks TLS: set NETNS_SCHEME=https and NETNS_CURL_CA to
# the cluster CA before netns_url, and turn the skips into checks.

NETNS_TAG=kiln-$$
# 10.231.X.0/24: X from the pid, so two runs print different addresses.
NETNS_NET=10.231.$(($$ % 254 + 1))
NETNS_MADE=""
NETNS_CAPTURE_PID=""
NETNS_SCHEME=${NETNS_SCHEME:-http}
SKIPS=0
XFAILS=0

netns_skip_test() {
	echo "SKIP: $1"
	exit 77
}

# netns_exec NAME COMMAND... - run COMMAND on host NAME.
netns_exec() {
	n=$1
	shift
	ip netns exec "$NETNS_TAG-$n" "$@"
}

# Delete what netns_setup and netns_add_host made.  Processes still in our
# namespaces were started by this test: they are killed by pid first, or a
# namespace would outlive its name.
netns_cleanup() {
	rc=$?
	netns_capture_stop
	cleanup
	for ns in $NETNS_MADE; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null
		done
	done
	for ns in $NETNS_MADE; do
		ip netns del "$ns" 2>/dev/null ||
			echo "netns-lib: cannot delete namespace $ns" >&2
	done
	exit "$rc"
}

netns_mkns() {
	ns=$NETNS_TAG-$1
	if ip netns list 2>/dev/null | grep -q "^$ns\\b"; then
		netns_skip_test "namespace $ns exists already (left by a killed run with our pid?)"
	fi
	err=$(ip netns add "$ns" 2>&1) || netns_skip_test "cannot create a network namespace: $err"
	NETNS_MADE="$NETNS_MADE $ns"
	ip -n "$ns" link set lo up
}

# netns_setup - the switch: a namespace holding the bridge br0.
netns_setup() {
	[ "$(id -u)" = 0 ] || netns_skip_test "network namespaces need root (uid $(id -u))"
	command -v ip >/dev/null 2>&1 || netns_skip_test "no 'ip' command (Debian package iproute2)"
	trap netns_cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT HUP
	netns_mkns sw
	err=$(ip -n "$NETNS_TAG-sw" link add br0 type bridge 2>&1) ||
		netns_skip_test "cannot create a bridge: $err"
	ip -n "$NETNS_TAG-sw" link set br0 up
}

# netns_add_host NAME N - host NAME with address $NETNS_NET.N on the
# bridge, in ADDR_<NAME>; NAME is a shell word of at most 12 characters.
netns_add_host() {
	netns_mkns "$1"
	sw=$NETNS_TAG-sw
	err=$(ip -n "$sw" link add name "$1" type veth peer name eth0 netns "$NETNS_TAG-$1" 2>&1) ||
		netns_skip_test "cannot create a veth pair: $err"
	ip -n "$sw" link set dev "$1" master br0
	ip -n "$sw" link set dev "$1" up
	ip -n "$NETNS_TAG-$1" addr add "$NETNS_NET.$2/24" dev eth0
	ip -n "$NETNS_TAG-$1" link set eth0 up
	eval "ADDR_$1=$NETNS_NET.$2"
}

# netns_link_down NAME / netns_link_up NAME - pull host NAME's cable out
# of the switch, or plug it back: its packets are lost, as on a cut link.
netns_link_down() { ip -n "$NETNS_TAG-sw" link set dev "$1" down; }
netns_link_up() { ip -n "$NETNS_TAG-sw" link set dev "$1" up; }

# netns_url HOST PORT - the master's URL on host HOST; the test's own
# requests (curl, the CLI) go from host CLIENT (netns_client) from then on.
netns_url() {
	eval "a=\$ADDR_$1"
	URL="$NETNS_SCHEME://$a:$2"
	# Nodes and the CLI find the master through cluster.yaml, not this.
	unset KILN_MASTER
}

# netns_client NAME - lib.sh's helpers (api, wait_master, token, ...) and
# the CLI (k) run from host NAME, so their traffic crosses the bridge.
netns_client() {
	NETNS_CLIENT=$1
	curl() { netns_exec "$NETNS_CLIENT" curl ${NETNS_CURL_CA:+--cacert "$NETNS_CURL_CA"} "$@"; }
	k() { netns_exec "$NETNS_CLIENT" "$KILN" -c "$T/cluster.yaml" "$@"; }
}

# netns_start HOST NODE [ARGS...] - run node NODE of $T/cluster.yaml on
# host HOST in the background; its log in $T/NODE.log, its pid in
# PID_<NODE> (killed by lib.sh's cleanup).
netns_start() {
	h=$1 n=$2
	shift 2
	# `ip netns exec` execs the command: $! is the node's own pid.
	ip netns exec "$NETNS_TAG-$h" "$KILN" start -c "$T/cluster.yaml" --node "$n" "$@" \
		>>"$T/$n.log" 2>&1 &
	eval "PID_$n=$!"
	PIDS="$PIDS $!"
}

# ---------------------------------------------------------------- capture

# netns_capture_start - record every frame crossing the bridge into
# $T/capture.pcap; 1 without tcpdump (the reason in NETNS_CAPTURE_WHY).
netns_capture_start() {
	if ! command -v tcpdump >/dev/null 2>&1; then
		NETNS_CAPTURE_WHY="no tcpdump (Debian package tcpdump)"
		return 1
	fi
	# -Z root: tcpdump would otherwise write as user tcpdump, who cannot
	# enter $T; --immediate-mode and -U: each packet read from the kernel
	# and written at once, so that the last ones are not lost on stop.
	ip netns exec "$NETNS_TAG-sw" tcpdump -i br0 -s 0 --immediate-mode -U -n -Z root \
		-w "$T/capture.pcap" 2>"$T/tcpdump.err" &
	NETNS_CAPTURE_PID=$!
	for _ in $(seq 1 100); do
		grep -q 'listening on' "$T/tcpdump.err" && return 0
		kill -0 "$NETNS_CAPTURE_PID" 2>/dev/null || break
		sleep 0.05
	done
	NETNS_CAPTURE_WHY="tcpdump did not start: $(cat "$T/tcpdump.err")"
	NETNS_CAPTURE_PID=""
	return 1
}

# netns_capture_stop - let tcpdump write out what it has, and stop it
# (SIGTERM: a background job of a script ignores SIGINT).
netns_capture_stop() {
	[ -n "$NETNS_CAPTURE_PID" ] || return 0
	sleep 0.2
	kill -TERM "$NETNS_CAPTURE_PID" 2>/dev/null
	wait "$NETNS_CAPTURE_PID" 2>/dev/null
	NETNS_CAPTURE_PID=""
}

# netns_pcap MODE ARGS... - read $T/capture.pcap, each TCP stream put back
# in order, so that a string split over two segments is still found.
#   find LABEL=VALUE...  a line "LABEL SRC -> DST" for each VALUE found
#   peers ADDR PORT      the addresses that sent data to ADDR:PORT
#   request SRC ADDR PORT OUT
#                        the last whole request with a Kiln-HMAC signature
#                        that SRC sent to ADDR:PORT, as it went, into OUT
netns_pcap() {
	python3 - "$T/capture.pcap" "$@" <<'PY'
import socket, struct, sys

def packets(path):
    f = open(path, "rb")
    hdr = f.read(24)
    if len(hdr) < 24:
        return
    e = "<" if struct.unpack("<I", hdr[:4])[0] in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    link = struct.unpack(e + "I", hdr[20:24])[0]
    while True:
        h = f.read(16)
        if len(h) < 16:
            return
        p = f.read(struct.unpack(e + "IIII", h)[2])
        if link == 1:            # Ethernet, maybe with one VLAN tag
            off, et = 14, struct.unpack("!H", p[12:14])[0]
            if et == 0x8100:
                off, et = 18, struct.unpack("!H", p[16:18])[0]
        elif link == 113:        # Linux cooked capture
            off, et = 16, struct.unpack("!H", p[14:16])[0]
        else:
            continue
        if et == 0x0800:
            yield p[off:]

def streams(path):
    segs, base = {}, {}
    for ip in packets(path):
        if len(ip) < 20 or ip[9] != 6:
            continue
        ihl, tot = (ip[0] & 15) * 4, struct.unpack("!H", ip[2:4])[0]
        tcp = ip[ihl:tot]
        sp, dp, seq = struct.unpack("!HHI", tcp[:8])
        key = (socket.inet_ntoa(ip[12:16]), sp, socket.inet_ntoa(ip[16:20]), dp)
        base.setdefault(key, seq)   # the SYN, or the first segment seen
        data = tcp[(tcp[12] >> 4) * 4:]
        if data:
            rel = (seq - base[key]) % (1 << 32)
            d = segs.setdefault(key, {})
            if len(data) > len(d.get(rel, b"")):
                d[rel] = data
    for key, d in segs.items():
        out, pos = bytearray(), 0
        for rel in sorted(d):
            data = d[rel]
            if rel + len(data) <= pos:
                continue             # a retransmission
            out += data[max(0, pos - rel):]
            pos = rel + len(data)
        yield key, bytes(out)

path, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
if mode == "find":
    needles = [a.split("=", 1) for a in args]
    seen = set()
    for (s, sp, d, dp), data in streams(path):
        for label, value in needles:
            if label not in seen and value and value.encode() in data:
                seen.add(label)
                print(f"{label} {s}:{sp} -> {d}:{dp}")
elif mode == "request":
    import re
    last = None
    for (s, sp, d, dp), data in streams(path):
        if s != args[0] or d != args[1] or dp != int(args[2]):
            continue
        while True:
            head, sep, rest = data.partition(b"\r\n\r\n")
            if not sep:
                break
            m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
            n = int(m.group(1)) if m else 0
            if len(rest) < n:
                break
            if b"\r\nAuthorization: Kiln-HMAC " in head:
                last = head + sep + rest[:n]
            data = rest[n:]
    if last is not None:
        open(args[3], "wb").write(last)
elif mode == "peers":
    peers = {s for (s, sp, d, dp), data in streams(path)
             if d == args[0] and dp == int(args[1])}
    print(" ".join(sorted(peers)))
PY
}

# ---------------------------------------------------------------- reports

# netns_skip DESCRIPTION REASON - a check that cannot run yet.
netns_skip() {
	SKIPS=$((SKIPS + 1))
	echo "skip - $1: $2"
}

# netns_xfail DESCRIPTION WHAT - a check that runs but is known to fail
# until a feature lands: WHAT was seen, and is not a failure.
netns_xfail() {
	XFAILS=$((XFAILS + 1))
	echo "xfail - $1: $2"
}

netns_finish() {
	echo "$SKIPS checks skipped, $XFAILS expected to fail (not counted)"
	finish
}
