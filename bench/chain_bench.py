#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""chain_bench.py - a chain of N 10 ms tasks, each waiting for the one before.

The shape the published comparisons of Airflow, Prefect and Temporal use
(issue 18 item 8): what a flow of short dependent steps costs beyond the
steps' own time.  For each N (10 and 40) it prints, over REPEAT runs, the
median and minimum wall time and the overhead per task,
(time - N x 10 ms) / N, of:
  - kiln: a DAG of N `sleep` plugin tasks (seconds: 0.01) in a chain, in the
    dags directory of a `kiln up` cluster (master + 2 workers x 1 slot),
    from `POST /api/v1/dags/ID/trigger` until `GET /api/v1/runs/RUN` says
    success (polled every 2 ms);
  - Dask distributed, in the same run: N `client.submit` of a function that
    sleeps 10 ms, each given the previous future, on a LocalCluster of
    2 workers x 1 thread (processes=True, as ../shared/bench/dask_noop.py),
    from the first submit until the last result is back.
Each side has one unmeasured chain first (warm-up).  The published figures
are printed beside them for reference; they come from other machines.

Usage: bench/chain_bench.py [--tasks 10,40] [--repeat 5] [--sync full|normal]
                            [--dask-python /usr/bin/python3] [--no-dask]
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kiln_bench import dags_cluster_up, run_dag  # noqa: E402

TASK_S = 0.01

# As quoted in issue 18 (both on a 2-vCPU machine): (system, N, seconds).
PUBLISHED = [("Airflow", 10, 54.7), ("Prefect", 40, 4.9)]


def write_dag(dags, n):
    with open(os.path.join(dags, f"chain{n}.yaml"), "w") as f:
        f.write(f"id: chain{n}\ntasks:\n")
        for i in range(n):
            dep = f", depends_on: [t{i-1}]" if i else ""
            f.write(f"  - {{ id: t{i}, plugin: sleep, params: {{ seconds: {TASK_S} }}{dep} }}\n")


def run_kiln(args):
    d = tempfile.mkdtemp(prefix="kiln-chainbench.")
    os.makedirs(os.path.join(d, "dags"))
    for n in args.tasks:
        write_dag(os.path.join(d, "dags"), n)
    up, api = dags_cluster_up(d, args.sync)
    out = {}
    try:
        for _ in range(600):
            st, r = api.req("GET", "/api/v1/dags")
            if len(r["dags"]) >= len(args.tasks):
                break
            time.sleep(0.1)
        run_dag(api, f"chain{args.tasks[0]}", 0.002)     # warm-up
        for n in args.tasks:
            out[n] = [run_dag(api, f"chain{n}", 0.002)[1] for _ in range(args.repeat)]
    finally:
        up.terminate()
        up.wait(timeout=30)
        shutil.rmtree(d, ignore_errors=True)
    return out


def step(prev, seconds):
    time.sleep(seconds)
    return prev + 1


def dask_chains(ns, repeat):
    """Run in a Python that has distributed (--dask-child)."""
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    c = Client(cluster)

    def chain(n):
        t = time.perf_counter()
        f = c.submit(step, 0, TASK_S, pure=False)
        for _ in range(1, n):
            f = c.submit(step, f, TASK_S, pure=False)
        assert f.result() == n
        return time.perf_counter() - t
    chain(ns[0])                                        # warm-up
    out = {n: [chain(n) for _ in range(repeat)] for n in ns}
    c.close()
    cluster.close()
    return out


def run_dask(args):
    py = args.dask_python
    if subprocess.run([py, "-c", "import distributed"], capture_output=True).returncode != 0:
        return None
    r = subprocess.run([py, os.path.abspath(__file__), "--dask-child",
                        "--tasks", ",".join(map(str, args.tasks)), "--repeat", str(args.repeat)],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        sys.exit("dask run failed:\n" + r.stderr)
    return {int(k): v for k, v in json.loads(r.stdout.strip().splitlines()[-1]).items()}


def line(name, n, ts):
    med, lo = statistics.median(ts), min(ts)
    print(f"  {name:7s} N={n:2d}: median {med*1000:7.1f} ms, min {lo*1000:7.1f} ms; overhead per task "
          f"{(med - n*TASK_S)/n*1000:6.2f} ms (median), {(lo - n*TASK_S)/n*1000:6.2f} ms (min)")
    return med


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default="10,40", help="chain lengths, comma-separated")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sync", choices=["full", "normal"], default="full")
    ap.add_argument("--dask-python", default="/usr/bin/python3",
                    help="a Python with distributed (Debian's python3-distributed)")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--dask-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.tasks = [int(x) for x in args.tasks.split(",")]
    if args.dask_child:
        print(json.dumps(dask_chains(args.tasks, args.repeat)))
        return
    k = run_kiln(args)
    dk = None if args.no_dask else run_dask(args)
    print(f"chain of N tasks of {TASK_S*1000:.0f} ms, each after the one before; "
          f"{args.repeat} runs each (sqlite synchronous={args.sync})")
    for n in args.tasks:
        km = line("kiln", n, k[n])
        if dk:
            dm = line("dask", n, dk[n])
            print(f"  {'':7s} kiln/dask median time: {km/dm:.2f}")
    if dk is None and not args.no_dask:
        print(f"  dask: {args.dask_python} has no distributed; skipped")
    print("published, as quoted in issue 18 (2-vCPU machine; not this one):")
    for name, n, s in PUBLISHED:
        print(f"  {name:7s} N={n:2d}: {s*1000:7.0f} ms; overhead per task "
              f"{(s - n*TASK_S)/n*1000:.0f} ms")


if __name__ == "__main__":
    main()
