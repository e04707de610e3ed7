#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""slowpost.py - unauthenticated clients that send large bodies slowly,
and what they cost a master.

    bench/slowpost.py URL --pid MASTER_PID [--conns 1000] [--bytes 8388607]
                      [--rate 200000] [--hold 10] [--path /api/v1/jobs]
                      [--sources 8]

Opens CONNS connections (spread over SOURCES loopback source addresses,
127.0.0.2 on, so that a per-address connection limit is not all that is
measured), each declaring a body of BYTES and sending it at RATE bytes per
second in total over all connections, for HOLD seconds; then reads the
master's resident memory (VmRSS of /proc/PID/status) and the time the
first reply took on each connection.  Prints one JSON line: RSS before,
peak while it ran and after, in MB; how many connections got a reply
(and which statuses) and how soon; how many were refused or closed.
"""
import argparse
import json
import selectors
import socket
import time
import urllib.parse


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--bytes", type=int, default=8 * 1024 * 1024 - 1)
    ap.add_argument("--rate", type=float, default=50e6)
    ap.add_argument("--hold", type=float, default=10)
    ap.add_argument("--path", default="/api/v1/jobs")
    ap.add_argument("--sources", type=int, default=8)
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)
    host, port = u.hostname, u.port or 80
    before = rss_mb(a.pid)
    sel = selectors.DefaultSelector()
    conns, refused = [], 0
    head = (f"POST {a.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\n"
            f"Content-Length: {a.bytes}\r\n\r\n").encode()
    t0 = time.monotonic()
    for i in range(a.conns):
        s = socket.socket()
        try:
            s.bind((f"127.0.0.{2 + i % max(a.sources, 1)}", 0))
            s.connect((host, port))
            s.sendall(head)
            s.setblocking(False)
        except OSError:
            refused += 1
            s.close()
            continue
        c = {"s": s, "sent": 0, "t0": time.monotonic(), "reply": None,
             "closed": False}
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    chunk = b"x" * 4096
    peak = rss_mb(a.pid)
    budget, last = 0.0, time.monotonic()
    while time.monotonic() - t0 < a.hold:
        now = time.monotonic()
        budget += (now - last) * a.rate
        last = now
        for c in conns:
            if budget < len(chunk):
                break
            if c["closed"] or c["sent"] >= a.bytes:
                continue
            n = min(len(chunk), a.bytes - c["sent"])
            try:
                k = c["s"].send(chunk[:n])
                c["sent"] += k
                budget -= k
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                c["closed"] = True
        for key, _ in sel.select(timeout=0.01):
            c = key.data
            try:
                d = c["s"].recv(4096)
            except OSError:
                d = b""
            if d and c["reply"] is None:
                c["reply"] = (d.split(b" ")[1].decode(errors="replace"),
                              time.monotonic() - c["t0"])
            if not d:
                c["closed"] = True
                sel.unregister(c["s"])
        peak = max(peak, rss_mb(a.pid))
    after = rss_mb(a.pid)
    replied = [c["reply"] for c in conns if c["reply"] is not None]
    statuses = {}
    for st, _ in replied:
        statuses[st] = statuses.get(st, 0) + 1
    times = sorted(t for _, t in replied) or [0.0]
    for c in conns:
        c["s"].close()
    print(json.dumps({
        "conns": a.conns, "connected": len(conns), "refused": refused,
        "rss_before_mb": round(before, 1), "rss_peak_mb": round(peak, 1),
        "rss_after_mb": round(after, 1),
        "replied": len(replied), "statuses": statuses,
        "reply_p50_s": round(times[len(times) // 2], 3),
        "reply_max_s": round(times[-1], 3),
        "closed_by_master": sum(1 for c in conns if c["closed"]),
        "body_bytes_sent": sum(c["sent"] for c in conns),
    }))


if __name__ == "__main__":
    main()
