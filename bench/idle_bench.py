#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""idle_bench.py - how fast `kiln up` is ready and how small it idles.

Starts `kiln up` (master + 2 workers of 1 slot, plain HTTP on a free
loopback port, a fresh data directory each time: the master's first start,
as bench/kiln_bench.py measures it) N times and prints the median of:
  - "ready in" as `kiln up` prints it (the master answers /api/v1/health
    and sees both workers), and the wall time from exec to that line;
  - the resident memory (VmRSS) of the idle master and of each worker,
    1 s after ready, and their sum (the workers' executor processes are
    not counted: they are the worker's zygote and children, shown apart);
  - the sum of their PSS (a shared page counted in shares);
  - the pages resident in the three, each counted once (the sum of RSS
    counts the shared libraries' and kiln's own pages three times), and
    with `kiln up` and the executors too; from /proc/PID/pagemap (root).
With --old BUILD_DIR the build there runs in the same run, alternately
with this one, and the ratios are printed: the machine is shared, so
compare within one run.

Usage: bench/idle_bench.py [--runs 7] [--old /path/to/old/top]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from kiln_bench import pss_kb  # noqa: E402  PSS: what smem adds up


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pages(pid):
    """The physical pages PID has resident (frame numbers, from
    /proc/PID/pagemap: needs root, else the set is empty)."""
    out = set()
    try:
        pm = open(f"/proc/{pid}/pagemap", "rb")
        maps = open(f"/proc/{pid}/maps").read().splitlines()
    except OSError:
        return out
    with pm:
        for line in maps:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo >= 1 << 47:
                continue                # [vsyscall]
            pm.seek(lo // 4096 * 8)
            buf = pm.read((hi - lo) // 4096 * 8)
            for i in range(0, len(buf), 8):
                e = int.from_bytes(buf[i:i + 8], "little")
                if e >> 63 and e & ((1 << 55) - 1):
                    out.add(e & ((1 << 55) - 1))
    return out


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)],
                         capture_output=True, text=True).stdout
    res = {}
    for line in out.splitlines():
        p, args = line.strip().split(None, 1)
        if "--node" in args:
            res[args.split("--node")[-1].split()[0]] = int(p)
    return res


def tree(pid):
    out = [pid]
    for p in subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)],
                            capture_output=True, text=True).stdout.split():
        out += tree(int(p))
    return out


def one(top):
    d = tempfile.mkdtemp(prefix="kiln-idle.")
    conf = os.path.join(d, "cluster.yaml")
    with open(conf, "w") as f:
        f.write(f"""cluster:
  name: idle
master:
  port: {free_port()}
  data_dir: {d}/master
  plugin_dir: {top}/plugins/lib
  heartbeat_interval: 1s
  tls: {{ mode: off }}
  auth:
    secret_file: {d}/secret
workers:
  - {{ name: w1, slots: 1 }}
  - {{ name: w2, slots: 1 }}
""")
    t0 = time.monotonic()
    up = subprocess.Popen([os.path.join(top, "kiln"), "up", "-c", conf],
                          stdout=subprocess.PIPE, text=True,
                          stderr=open(os.path.join(d, "up.log"), "w"))
    r = {}
    try:
        for line in up.stdout:
            if "ready in" in line:
                r["ready"] = float(line.split("ready in")[1].split("ms")[0])
                r["wall"] = (time.monotonic() - t0) * 1000
                break
        if "ready" not in r:
            raise SystemExit(f"kiln up did not become ready; see {d}/up.log")
        time.sleep(1.0)
        kids = children(up.pid)
        r["master"] = rss_kb(kids["master"]) / 1024
        r["worker"] = max(rss_kb(kids["w1"]), rss_kb(kids["w2"])) / 1024
        r["total"] = sum(rss_kb(kids[n]) for n in ("master", "w1", "w2")) / 1024
        r["pss"] = sum(pss_kb(kids[n]) for n in ("master", "w1", "w2")) / 1024
        r["execs"] = max(sum(rss_kb(p) for p in tree(kids[w])[1:])
                         for w in ("w1", "w2")) / 1024
        # The same three processes, each page counted once (libc's and
        # kiln's own pages are in all three).
        three = set().union(*(pages(kids[n]) for n in ("master", "w1", "w2")))
        r["union"] = len(three) * 4 / 1024
        every = set(three).union(*(pages(p) for p in tree(up.pid)))
        r["union_all"] = len(every) * 4 / 1024
    finally:
        up.terminate()
        up.wait(timeout=30)
        shutil.rmtree(d, ignore_errors=True)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--old", help="top of another build to run alternately")
    a = ap.parse_args()
    builds = [("new", TOP)] + ([("old", a.old)] if a.old else [])
    res = {name: [] for name, _ in builds}
    for _ in range(a.runs):
        for name, top in builds:
            res[name].append(one(top))
    med = {n: {k: statistics.median(x[k] for x in rs) for k in rs[0]}
           for n, rs in res.items()}
    print(f"kiln up, master + 2 workers x 1 slot, plain HTTP, first start; "
          f"median of {a.runs} (load: {os.getloadavg()[0]:.1f})")
    for n, top in builds:
        m = med[n]
        rd = sorted(x["ready"] for x in res[n])
        print(f"  {n:3} {top}\n"
              f"      ready in {m['ready']:.0f} ms (min {rd[0]:.0f}, max {rd[-1]:.0f};"
              f" wall from exec {m['wall']:.0f} ms)\n"
              f"      idle RSS: master {m['master']:.1f} MB, worker {m['worker']:.1f} MB,"
              f" master + 2 workers {m['total']:.1f} MB"
              f" (a worker's zygote and executors besides: {m['execs']:.1f} MB)\n"
              f"      PSS (shared pages divided among their users), the three: {m['pss']:.1f} MB\n"
              f"      pages resident in the three, each counted once: {m['union']:.1f} MB;"
              f" with `kiln up` and the executors: {m['union_all']:.1f} MB")
    if a.old:
        o, n = med["old"], med["new"]
        print(f"  new/old: ready {n['ready']/o['ready']:.2f}, "
              f"RSS of the three {n['total']/o['total']:.2f}, "
              f"their pages {n['union']/o['union']:.2f}")


if __name__ == "__main__":
    main()
