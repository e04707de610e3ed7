#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""workers_bench.py - many workers, and many tasks running at once.

Two modes (issue 18 items 4 and 5), each in one run so that its figures
compare within the same load:

--workers 2,200 (default): for each count N, `kiln up` with a master and N
  workers of one slot each (isolation: thread, so a worker is one process)
  on a free loopback port, then prints
    - the time until all N are registered, and their memory (sum of RSS);
    - the master's CPU per heartbeat: its user+system time over an idle
      window of --idle s, divided by the exchanges it answered meanwhile
      (kiln_http_requests_total of the exchange route in /metrics), and
      from it what 1,000 workers would cost at the same interval;
    - no-op tasks per second (--tasks, bulk submit to durable success),
      the median of --bursts bursts one after the other (the first also
      pays for the workers' first tasks: it is shown apart);
    - workers declared dead ("is dead" in the nodes' log), which must be 0;
  and the ratio of the rates, N workers against the first count.

--running 1000,10000: `kiln up` with --nodes workers of --slots slots each
  (isolation: thread), then for each count R in turn: submits `sleep` tasks
  of --seconds until R run at once, and prints the master's RSS, its CPU per
  idle exchange (the heartbeat, which lists what runs) and per no-op task
  (--probe of them, run beside the R sleeping: the exchange cost per task).

Usage: bench/workers_bench.py [--workers 2,200] [--tasks 20000] [--idle 20]
                              [--heartbeat 1s] [--bursts 3]
       bench/workers_bench.py --running 1000,10000 [--nodes 10] [--slots 1024]
                              [--probe 2000] [--seconds 600]
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from kiln_bench import Api, free_port, rss_kb, cpu_ms, children  # noqa: E402

TOP = os.path.dirname(HERE)
EXCHANGE = 'kiln_http_requests_total{route="/api/v1/cluster/exchange"'


def up(d, workers, slots, heartbeat, timeout="10s", beats=None):
    # All the workers connect from 127.0.0.1: each holds two connections
    # (its long poll and its reporter), more than the default 128 of one
    # address allow.
    """`kiln up` in D with WORKERS workers of SLOTS slots: (process, api,
    master pid, worker pids, seconds to ready)."""
    kiln = os.path.join(TOP, "kiln")
    port = free_port()
    conf = os.path.join(d, "cluster.yaml")
    # 0: the key left out, for builds from before it (--top).
    beats = f"\n  heartbeats_per_second: {beats}" if beats else ""
    with open(conf, "w") as f:
        f.write(f"""cluster:
  name: bench
master:
  port: {port}
  data_dir: {d}/master
  plugin_dir: {TOP}/plugins/lib
  heartbeat_interval: {heartbeat}
  worker_timeout: {timeout}
  connections_per_address: {4 * workers + 64}{beats}
  auth:
    secret_file: {d}/secret
workers:
""")
        for i in range(workers):
            f.write(f"  - {{ name: w{i + 1}, slots: {slots}, isolation: thread }}\n")
    t0 = time.monotonic()
    p = subprocess.Popen([kiln, "up", "-c", conf], stdout=subprocess.PIPE,
                         stderr=open(os.path.join(d, "up.log"), "w"), text=True)
    for line in p.stdout:
        if "ready in" in line:
            break
    else:
        raise SystemExit(f"kiln up did not become ready; see {d}/up.log")
    ready = time.monotonic() - t0
    tok = json.loads(subprocess.run([kiln, "-c", conf, "token", "create", "--json"],
                                    capture_output=True, text=True, check=True).stdout)["token"]
    kids = children(p.pid)
    master = kids.pop("master")
    return p, Api(port, tok), master, list(kids.values()), ready


def metric(api, key):
    """The sum of the /metrics samples whose line holds KEY."""
    api.c.request("GET", "/metrics", headers=api.h)
    r = api.c.getresponse()
    text = r.read().decode()
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
               if not l.startswith("#") and key in l)


def run_ms(pid):
    """CPU time of PID's live threads, ms, to the ns (schedstat): clock
    ticks are too coarse for an idle master."""
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
        except OSError:
            pass
    return total / 1e6


def idle_cost(api, master, seconds):
    """Master CPU ms per exchange over SECONDS of no work (the scrapes of
    /metrics around it included), and exchanges/s."""
    x0, c0 = metric(api, EXCHANGE), run_ms(master)
    time.sleep(seconds)
    c1, x1 = run_ms(master), metric(api, EXCHANGE)
    n = max(x1 - x0 - 1, 1)
    return (c1 - c0) / n, n / seconds, (c1 - c0) / seconds


def health(api):
    st, h = api.req("GET", "/api/v1/health")
    return h


def dispatch(api, master, n, body):
    """Submit N jobs of BODY and wait for all to end: (tasks/s, master CPU
    ms per task)."""
    c0 = cpu_ms([master])
    t = time.perf_counter()
    for k in range(0, n, 10000):
        st, r = api.req("POST", "/api/v1/jobs/batch", {"jobs": [body] * min(10000, n - k)})
        assert st == 201, r
    while True:
        h = health(api)
        if h["queued"] == 0 and h["running"] == 0:
            break
        time.sleep(0.005)
    el = time.perf_counter() - t
    return n / el, (cpu_ms([master]) - c0) / n


def dead_count(d):
    with open(os.path.join(d, "up.log"), errors="replace") as f:
        return sum(1 for l in f if " is dead" in l)


def load():
    return open("/proc/loadavg").read().split()[0]


def run_workers(args):
    base = idle0 = first = None
    hb_s = parse_s(args.heartbeat)
    for n in [int(x) for x in args.workers.split(",")]:
        d = tempfile.mkdtemp(prefix="kiln-workers.")
        p = None
        try:
            p, api, master, pids, ready = up(d, n, 1, args.heartbeat, beats=args.beats)
            time.sleep(2 * hb_s)            # past the start's registrations
            per_hb, rate_hb, busy = idle_cost(api, master, args.idle)
            rss_w = sum(rss_kb(q) for q in pids) / 1024
            # --bursts bursts, one after the other: the first also pays
            # for N workers' first tasks (their pools' threads, first
            # faults), the others show the steady rate.
            runs = [dispatch(api, master, args.tasks, {"plugin": "noop"})
                    for _ in range(args.bursts)]
            rates = [r[0] for r in runs]
            rate = sorted(rates)[len(rates) // 2]
            cpu_task = sorted(r[1] for r in runs)[len(runs) // 2]
            per_hb2 = idle_cost(api, master, args.idle / 2)[0]
            alive = metric(api, 'kiln_workers{state="alive"}')
            dead = dead_count(d)
            base = base or rate
            first = first or rates[0]
            # What a heartbeat adds: the idle master's CPU per second
            # beyond the first count's, over the heartbeats beyond its.
            marg = None
            if idle0 is None:
                idle0 = (busy, rate_hb)
            elif rate_hb > idle0[1]:
                marg = (busy - idle0[0]) / (rate_hb - idle0[1])
            print(f"{n} workers x 1 slot (heartbeat {args.heartbeat}, load {load()}):")
            print(f"  ready in {ready:.1f} s; workers' RSS {rss_w:.0f} MB in all "
                  f"({rss_w / n:.1f} MB each), master {rss_kb(master) / 1024:.1f} MB")
            print(f"  idle ({args.idle:.0f} s): {rate_hb:.0f} exchanges/s, master CPU {busy:.2f} ms/s, "
                  f"{per_hb * 1000:.0f} us per exchange (after the tasks: {per_hb2 * 1000:.0f} us)")
            if marg is not None:
                cap = min(1000 / hb_s, args.beats or 1000 / hb_s)
                print(f"  per heartbeat beyond the first count's: {marg * 1000:.0f} us; 1,000 workers: "
                      f"{marg * 1000 / hb_s / 10:.2f}% of a core at one beat per {args.heartbeat}, "
                      f"{marg * cap / 10:.2f}% at the master's {cap:.0f} beats/s "
                      f"(heartbeats_per_second; each every {1000 / cap:.1f} s)")
            print(f"  no-op tasks/s: {rate:.0f}, median of {args.bursts} bursts of {args.tasks} tasks"
                  f" ({', '.join(f'{r:.0f}' for r in rates)}; master CPU {cpu_task * 1000:.0f} us per task);"
                  f" rate / first count's: {rate / base:.2f}")
            print(f"  first burst / first count's first burst: {rates[0] / first:.2f}")
            print(f"  workers alive {alive:.0f} of {n}; declared dead: {dead}")
        finally:
            if p is not None:
                p.terminate()
                p.wait(timeout=120)
            shutil.rmtree(d, ignore_errors=True)


def wait_running(api, want, limit=300):
    t = time.monotonic()
    while time.monotonic() - t < limit:
        h = health(api)
        if h["running"] >= want and h["queued"] == 0:
            return time.monotonic() - t
        time.sleep(0.05)
    raise SystemExit(f"only {health(api)['running']} running after {limit} s")


def run_running(args):
    d = tempfile.mkdtemp(prefix="kiln-running.")
    p = None
    try:
        p, api, master, pids, ready = up(d, args.nodes, args.slots, args.heartbeat)
        time.sleep(2)
        print(f"{args.nodes} workers x {args.slots} slots (isolation: thread), "
              f"sleep tasks of {args.seconds} s, heartbeat {args.heartbeat}, load {load()}:")
        per_hb = idle_cost(api, master, args.idle)[0]
        print(f"  0 running: master RSS {rss_kb(master) / 1024:.1f} MB, "
              f"{per_hb * 1000:.0f} us per idle exchange")
        have = 0
        sleep = {"plugin": "sleep", "params": {"seconds": args.seconds}}
        for r in [int(x) for x in args.running.split(",")]:
            c0 = cpu_ms([master])
            for k in range(have, r, 10000):
                st, res = api.req("POST", "/api/v1/jobs/batch",
                                  {"jobs": [sleep] * min(10000, r - k)})
                assert st == 201, res
            took = wait_running(api, r)
            start_cpu = (cpu_ms([master]) - c0) / (r - have)
            have = r
            time.sleep(1)
            w0, t0 = cpu_ms(pids), time.monotonic()
            per_hb, rate_hb, _ = idle_cost(api, master, args.idle)
            wcpu = (cpu_ms(pids) - w0) / (time.monotonic() - t0)
            rate, cpu_task = dispatch_beside(api, master, args.probe, r)
            wrss = sum(rss_kb(q) for q in pids) / 1024
            print(f"  {r} running (started in {took:.1f} s, master CPU {start_cpu * 1000:.0f} us "
                  f"per start; load {load()}):")
            print(f"    master RSS {rss_kb(master) / 1024:.1f} MB; workers {wrss:.0f} MB")
            print(f"    idle: {rate_hb:.1f} exchanges/s, master CPU {per_hb * 1000:.0f} us per exchange; "
                  f"the workers' CPU {wcpu / 10:.0f}% of a core ({wcpu * 1000 / r:.0f} us/s per sleeping task)")
            print(f"    {args.probe} no-op tasks beside them: {rate:.0f}/s, "
                  f"master CPU {cpu_task * 1000:.0f} us per task")
        print(f"  declared dead: {dead_count(d)}")
    finally:
        if p is not None:
            p.terminate()
            p.wait(timeout=300)
        shutil.rmtree(d, ignore_errors=True)


def dispatch_beside(api, master, n, running):
    """N no-op jobs while RUNNING others run: (tasks/s, master CPU ms per
    task), timed until running is back to RUNNING with nothing queued."""
    c0 = cpu_ms([master])
    t = time.perf_counter()
    st, r = api.req("POST", "/api/v1/jobs/batch", {"jobs": [{"plugin": "noop"}] * n})
    assert st == 201, r
    last = r["ids"][-1]
    while True:
        st, j = api.req("GET", f"/api/v1/jobs/{last}?wait=10")
        if j["state"] in ("succeeded", "failed"):
            h = health(api)
            if h["queued"] == 0 and h["running"] <= running:
                break
        time.sleep(0.005)
    el = time.perf_counter() - t
    return n / el, (cpu_ms([master]) - c0) / n


def parse_s(v):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s)", v)
    return float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", default="2,200")
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--bursts", type=int, default=3)
    ap.add_argument("--idle", type=float, default=20)
    ap.add_argument("--heartbeat", default="1s")
    ap.add_argument("--running")
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--slots", type=int, default=1024)
    ap.add_argument("--probe", type=int, default=2000)
    ap.add_argument("--beats", type=int, default=200,
                    help="master.heartbeats_per_second (its default: 200; "
                    "0: not set, for builds from before it)")
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--top", help="the build to measure (its kiln and "
                    "plugins/lib; default: this tree)")
    args = ap.parse_args()
    if args.top:
        global TOP
        TOP = os.path.abspath(args.top)
    if args.running:
        if args.idle == 20:
            args.idle = 10
        run_running(args)
    else:
        run_workers(args)


if __name__ == "__main__":
    main()
