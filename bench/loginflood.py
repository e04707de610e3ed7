#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""loginflood.py - a flood of logins with random user names against a
master, and what it does to everyone else meanwhile.

    bench/loginflood.py URL [--rate 200] [--seconds 60] [--source 127.0.0.2]

Sends RATE logins per second (random user names, from SOURCE: any
127.0.0.0/8 address reaches a master on 127.0.0.1) for SECONDS, while it
probes URL/api/v1/health every 100 ms from the default address.  Prints
one JSON line: the flood's replies by status, the health probes' latency
(p50, max, in seconds; a timeout counts as its 5 s), how many probes
failed, and the fewest workers the master called alive.  Plain HTTP only
(a loopback master).
"""
import argparse
import http.client
import json
import random
import string
import threading
import time
import urllib.parse


def login(host, port, source, counts, lock):
    user = "".join(random.choice(string.ascii_lowercase) for _ in range(12))
    body = json.dumps({"user": user, "password": "x" * 12})
    try:
        c = http.client.HTTPConnection(host, port, timeout=10,
                                       source_address=(source, 0))
        c.request("POST", "/api/v1/login", body,
                  {"Content-Type": "application/json"})
        st = str(c.getresponse().status)
        c.close()
    except OSError as e:
        st = type(e).__name__
    with lock:
        counts[st] = counts.get(st, 0) + 1


def probe(host, port, stop, out):
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection(host, port, timeout=5)
            c.request("GET", "/api/v1/health")
            d = json.loads(c.getresponse().read())
            c.close()
            out["lat"].append(time.monotonic() - t0)
            out["alive"].append(d.get("workers_alive", 0))
        except (OSError, ValueError):
            out["lat"].append(5.0)
            out["failed"] += 1
        time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--source", default="127.0.0.2")
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)
    host, port = u.hostname, u.port or 80
    counts, lock = {}, threading.Lock()
    stop = threading.Event()
    pr = {"lat": [], "alive": [], "failed": 0}
    # Daemon threads: should the flood loop fail, nothing keeps the
    # process alive (a failed run once hung a test for half an hour).
    pt = threading.Thread(target=probe, args=(host, port, stop, pr),
                          daemon=True)
    pt.start()
    threads = []
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < a.seconds:
        due = t0 + n / a.rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        t = threading.Thread(target=login,
                             args=(host, port, a.source, counts, lock),
                             daemon=True)
        t.start()
        threads.append(t)
        threads = [t for t in threads if t.is_alive()]
        n += 1
    for t in threads:
        t.join()
    stop.set()
    pt.join()
    lat = sorted(pr["lat"]) or [0.0]
    print(json.dumps({
        "sent": n, "replies": counts,
        "health_p50_s": round(lat[len(lat) // 2], 3),
        "health_max_s": round(lat[-1], 3),
        "health_probes": len(pr["lat"]), "health_failed": pr["failed"],
        "workers_alive_min": min(pr["alive"]) if pr["alive"] else None,
    }))


if __name__ == "__main__":
    main()
