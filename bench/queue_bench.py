#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""queue_bench.py - a million queued tasks (issue 18 item 3).

Starts a master and two workers (1 slot each), stops the workers
(SIGSTOP; worker_timeout is an hour, so they stay alive), submits --jobs
no-op jobs in batches of --batch, and reports:
  - the time to submit them all (target: 1,000,000 in under 10 s);
  - the master's resident memory per queued job (target: under 300 bytes);
  - how long `kiln jobs` and the dashboard's jobs list take with them all
    queued (target: under 200 ms);
then lets the workers go (SIGCONT) and compares the dispatch rate of the
first --window jobs done with that of the last --window (target: the
last at least 90 % of the first).

    python3 bench/queue_bench.py [--jobs 1000000] [--batch 10000]
"""
import argparse, json, os, signal, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kiln_bench import TOP, Api, children, free_port, rss_kb  # noqa: E402

import tempfile, shutil  # noqa: E402


def start(args):
    d = tempfile.mkdtemp(prefix="kiln-qbench.")
    port = free_port()
    conf = os.path.join(d, "cluster.yaml")
    with open(conf, "w") as f:
        f.write(f"""cluster:
  name: qbench
master:
  port: {port}
  data_dir: {d}/master
  plugin_dir: {os.path.dirname(os.path.abspath(args.kiln))}/plugins/lib
  heartbeat_interval: 1s
  worker_timeout: 1h
  auth:
    secret_file: {d}/secret
workers:
  - name: w1
    slots: 1
    isolation: {args.isolation}
  - name: w2
    slots: 1
    isolation: {args.isolation}
""")
    env = dict(os.environ, KILN_SQLITE_SYNC=args.sync)
    up = subprocess.Popen([args.kiln, "up", "-c", conf],
                          stdout=subprocess.PIPE, text=True, env=env,
                          stderr=open(os.path.join(d, "up.log"), "w"))
    for line in up.stdout:
        if "ready in" in line:
            break
    tok = json.loads(subprocess.run([args.kiln, "-c", conf, "token",
                                     "create", "--json"], capture_output=True,
                                    text=True, check=True).stdout)["token"]
    return d, conf, port, up, tok


def timed(fn, n=5):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=1000000)
    ap.add_argument("--batch", type=int, default=10000)
    ap.add_argument("--window", type=int, default=100000)
    ap.add_argument("--sync", choices=["full", "normal"], default="full")
    ap.add_argument("--isolation", choices=["process", "thread"], default="thread")
    ap.add_argument("--no-dispatch", action="store_true",
                    help="stop after the submission and the listings")
    ap.add_argument("--kiln", default=os.path.join(TOP, "kiln"),
                    help="binary to time (default this tree's)")
    args = ap.parse_args()
    win = min(args.window, args.jobs // 2)
    d, conf, port, up, tok = start(args)
    try:
        api = Api(port, tok)
        time.sleep(1.0)
        kids = children(up.pid)
        for w in ("w1", "w2"):
            os.kill(kids[w], signal.SIGSTOP)
        master = kids["master"]
        rss0 = rss_kb(master)

        t = time.perf_counter()
        marks = []
        for k in range(0, args.jobs, args.batch):
            st, r = api.req("POST", "/api/v1/jobs/batch",
                            {"jobs": [{"plugin": "noop"}] * min(args.batch, args.jobs - k)})
            assert st == 201, r
            marks.append(time.perf_counter() - t)
        submit_s = time.perf_counter() - t
        tenth = max(len(marks) // 10, 1)
        st, h = api.req("GET", "/api/v1/health")
        queued = h["queued"]
        rss1 = rss_kb(master)

        kiln = [args.kiln, "-c", conf]
        cli_ms = timed(lambda: subprocess.run(kiln + ["jobs"], capture_output=True, check=True))
        page_ms = timed(lambda: api.req("GET", "/api/v1/jobs?limit=50"))
        queued_ms = timed(lambda: api.req("GET", "/api/v1/jobs?limit=50&state=queued"))
        print(f"kiln, {args.jobs} no-op jobs in batches of {args.batch} (synchronous={args.sync})")
        print(f"  submit:               {submit_s:.2f} s ({args.jobs / submit_s:,.0f} jobs/s)")
        print(f"  submit, first tenth:  {marks[tenth - 1]:.2f} s; last tenth: "
              f"{marks[-1] - marks[-1 - tenth]:.2f} s")
        print(f"  queued:               {queued} (workers stopped)")
        print(f"  master RSS:           {rss0/1024:.1f} -> {rss1/1024:.1f} MB, "
              f"{(rss1 - rss0) * 1024 / max(queued, 1):.0f} bytes per queued job")
        print(f"  kiln jobs:            {cli_ms:.0f} ms (median of 5)")
        print(f"  GET /api/v1/jobs?limit=50: {page_ms:.1f} ms; &state=queued: {queued_ms:.1f} ms")

        print(f"  load average:         {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.no_dispatch:
            return
        for w in ("w1", "w2"):
            os.kill(kids[w], signal.SIGCONT)
        # Done count over time, from the queue's depth.
        marks = []
        t0 = time.perf_counter()
        while True:
            st, h = api.req("GET", "/api/v1/health")
            done = queued - h["queued"] - h["running"]
            marks.append((time.perf_counter() - t0, done))
            if h["queued"] == 0 and h["running"] == 0:
                break
            time.sleep(0.05)

        def at(n):   # the first time at least n were done
            for ts, dn in marks:
                if dn >= n:
                    return ts
            return marks[-1][0]
        first = win / (at(win) - 0.0)
        last = win / (at(queued) - at(queued - win))
        print(f"  dispatch, first {win:,}: {first:,.0f} jobs/s; last {win:,}: {last:,.0f} jobs/s "
              f"({last / first * 100:.0f} %)")
        print(f"  all {queued:,} done in {marks[-1][0]:.1f} s")
    finally:
        for k in children(up.pid).values():   # stopped workers cannot stop
            os.kill(k, signal.SIGCONT)
        up.terminate()
        up.wait(timeout=30)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
