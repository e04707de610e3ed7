#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""restart_bench.py - a master restarting with a big store (issue 18 item 6).

Starts a master once so that it makes its store with kiln's own schema,
stops it, then adds --finished succeeded jobs (each with its attempt) and
--queued queued no-op jobs straight into kiln.db with SQLite (fast: one
transaction of recursive inserts), starts a worker polling and the master
again, and prints the store's size, the time from `kiln start` to
/api/v1/health answering and to the first job dispatched (health's
"running" or "queued" moving), and then to all the queued jobs done
(with --drain).  The target is under 1 s to serving and dispatching with
1,000,000 finished and 100,000 queued.

    python3 bench/restart_bench.py [--finished 1000000] [--queued 100000]
                                   [--kiln PATH] [--runs 3] [--drain]

--kiln names the binary to time (default: this tree's), so that an older
build can be timed in the same run on the same store: the store is built
by each binary (so with its schema) and copied, untouched, for each start.
"""
import argparse, json, os, shutil, sqlite3, subprocess, sys, tempfile, time
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kiln_bench import TOP, free_port  # noqa: E402


def conf(d, port, kiln):
    top = os.path.dirname(os.path.abspath(kiln))
    p = os.path.join(d, "cluster.yaml")
    with open(p, "w") as f:
        f.write(f"""cluster:
  name: rbench
master:
  listen: 127.0.0.1
  port: {port}
  data_dir: {d}/master
  plugin_dir: {top}/plugins/lib
  heartbeat_interval: 1s
  auth:
    secret_file: {d}/secret
workers:
  - name: w1
    slots: 2
    isolation: thread
""")
    return p


def health(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/api/v1/health")
        r = c.getresponse()
        body = r.read()
        c.close()
        return json.loads(body) if r.status == 200 else None
    except (OSError, ValueError):
        return None


def build(d, kiln, finished, queued):
    port = free_port()
    c = conf(d, port, kiln)
    m = subprocess.Popen([kiln, "-c", c, "start", "--node", "master"],
                         stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(d, "m0.log"), "w"))
    while health(port) is None:
        time.sleep(0.02)
    m.terminate()
    m.wait(timeout=30)
    db = sqlite3.connect(os.path.join(d, "master", "kiln.db"))
    t0 = 1764900000000
    db.executescript(f"""
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {finished})
INSERT INTO jobs (plugin, params, state, attempt, worker, result, created_ms,
                  started_ms, finished_ms)
SELECT 'noop', '{{}}', 2, 1, 'w1', '{{"ok":true}}', {t0} + i, {t0} + i,
       {t0} + i + 1 FROM n;
INSERT INTO attempts (job_id, attempt, worker, state, log, started_ms, finished_ms)
SELECT id, 1, 'w1', 2, 'done', started_ms, finished_ms FROM jobs;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {queued})
INSERT INTO jobs (plugin, params, state, created_ms)
SELECT 'noop', '{{}}', 0, {t0} + {finished} + i FROM n;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
""")
    db.close()


def start_once(d, kiln, queued, drain):
    port = free_port()
    c = conf(d, port, kiln)
    procs = []
    try:
        # The worker first, retrying until the master answers: the time
        # measured is the master's, not the worker's start.
        procs.append(subprocess.Popen([kiln, "-c", c, "start", "--node", "w1"],
                                      stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(d, "w.log"), "a")))
        time.sleep(0.3)
        t0 = time.perf_counter()
        procs.append(subprocess.Popen([kiln, "-c", c, "start", "--node", "master"],
                                      stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(d, "m.log"), "a")))
        h = None
        while h is None:
            if time.perf_counter() - t0 > 120 or procs[-1].poll() is not None:
                sys.exit(f"the master did not answer: see {d}/m.log")
            h = health(port)
            if h is None:
                time.sleep(0.002)
        serving = time.perf_counter() - t0
        while h is None or (h.get("queued", queued) >= queued and h.get("running", 0) == 0):
            time.sleep(0.002)
            h = health(port)
        dispatched = time.perf_counter() - t0
        done = None
        if drain:
            while h is None or h.get("queued", 1) or h.get("running", 1):
                time.sleep(0.05)
                h = health(port)
            done = time.perf_counter() - t0
        return serving, dispatched, done
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--finished", type=int, default=1000000)
    ap.add_argument("--queued", type=int, default=100000)
    ap.add_argument("--kiln", action="append",
                    help="binary to time (repeatable; default this tree's)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--drain", action="store_true",
                    help="also time until every queued job is done")
    ap.add_argument("--keep", action="store_true",
                    help="keep the stores and logs (their directory is printed)")
    args = ap.parse_args()
    kilns = [os.path.abspath(k) for k in (args.kiln or [os.path.join(TOP, "kiln")])]
    base = tempfile.mkdtemp(prefix="kiln-rbench.")
    try:
        print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
        for i, k in enumerate(kilns):
            # Each binary's store is made by that binary (an older one
            # refuses a newer schema; a newer one would migrate at its
            # first start, which is not what is timed).
            fix = os.path.join(base, f"fixture{i}")
            os.makedirs(fix)
            t = time.perf_counter()
            build(fix, k, args.finished, args.queued)
            size = sum(os.path.getsize(os.path.join(fix, "master", f))
                       for f in os.listdir(os.path.join(fix, "master"))
                       if f.startswith("kiln.db"))
            print(f"{k}:")
            print(f"  store: {args.finished:,} finished + {args.queued:,} queued jobs, "
                  f"{size / 1048576:.1f} MiB (built in {time.perf_counter() - t:.1f} s)")
            res = []
            for r in range(args.runs):
                d = os.path.join(base, f"run{r}")
                shutil.rmtree(d, ignore_errors=True)
                shutil.copytree(fix, d)
                res.append(start_once(d, k, args.queued, args.drain and r == 0))
                if not args.keep:
                    shutil.rmtree(d, ignore_errors=True)
            res_s = sorted(res, key=lambda x: x[1])
            med = res_s[len(res_s) // 2]
            shutil.rmtree(fix, ignore_errors=True)
            print(f"  serving after   {' '.join(f'{x[0] * 1000:.0f}' for x in res)} ms")
            print(f"  first dispatch  {' '.join(f'{x[1] * 1000:.0f}' for x in res)} ms"
                  f" (median {med[1] * 1000:.0f} ms)")
            if res[0][2] is not None:
                print(f"  all {args.queued:,} queued done after {res[0][2]:.1f} s")
    finally:
        if args.keep or sys.exc_info()[0] is not None:
            print(f"kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
