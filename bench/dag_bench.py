#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""dag_bench.py - the pipeline scheduler's overhead.

Starts a master and 2 workers (1 slot each) with a dags directory holding a
DAG of N no-op tasks as a wide fan-out and one as a long chain, triggers
each, and prints the time from trigger to the run's success, per task, and
the master's CPU time per task (user+system, from /proc).  Then it does the
same with EXTRA more DAGs loaded (scheduled @daily, catchup off, so each also
has a run in its history), to show that the loop's cost follows the state
changes, not the number of DAGs.

Usage: bench/dag_bench.py [--tasks 1000] [--extra 500] [--sync full|normal]
"""
import argparse, os, shutil, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kiln_bench import children, dags_cluster_up  # noqa: E402


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_dags(d, n, extra):
    os.makedirs(d)
    with open(os.path.join(d, "wide.yaml"), "w") as f:
        f.write("id: wide\ntasks:\n")
        for i in range(n):
            f.write(f"  - {{ id: t{i}, plugin: noop }}\n")
    with open(os.path.join(d, "chain.yaml"), "w") as f:
        f.write("id: chain\ntasks:\n  - { id: t0, plugin: noop }\n")
        for i in range(1, n):
            f.write(f"  - {{ id: t{i}, plugin: noop, depends_on: [t{i-1}] }}\n")
    yesterday = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 2 * 86400))
    for k in range(extra):
        with open(os.path.join(d, f"extra{k}.yaml"), "w") as f:
            f.write(f"id: extra{k}\nschedule: \"@daily\"\nstart_date: {yesterday}\n"
                    "catchup: false\ntasks:\n  - { id: a, plugin: noop }\n"
                    "  - { id: b, plugin: noop, depends_on: [a] }\n")


def run(args, extra):
    d = tempfile.mkdtemp(prefix="kiln-dagbench.")
    write_dags(os.path.join(d, "dags"), args.tasks, extra)
    up, api = dags_cluster_up(d, args.sync)
    out = {}
    try:
        for _ in range(600):
            st, r = api.req("GET", "/api/v1/dags")
            if len(r["dags"]) >= 2 + extra:
                break
            time.sleep(0.1)
        time.sleep(3)   # let the extra DAGs' scheduled runs finish
        master = children(up.pid)["master"]

        def sched_s():
            api.c.request("GET", "/metrics")
            text = api.c.getresponse().read().decode()
            for line in text.splitlines():
                if line.startswith("kiln_scheduler_loop_seconds_total "):
                    return float(line.split()[1])
            return 0.0
        for dag in ("wide", "chain"):
            c0 = cpu_s(master)
            s0 = sched_s()
            t0 = time.perf_counter()
            st, r = api.req("POST", f"/api/v1/dags/{dag}/trigger", {})
            rid = r["run_id"]
            while True:
                st, r = api.req("GET", f"/api/v1/runs/{rid}")
                if r["state"] in ("success", "failed"):
                    break
                time.sleep(0.01)
            el = time.perf_counter() - t0
            assert r["state"] == "success", r["state"]
            out[dag] = (el, cpu_s(master) - c0, sched_s() - s0)
    finally:
        up.terminate()
        up.wait(timeout=30)
        shutil.rmtree(d, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--extra", type=int, default=500)
    ap.add_argument("--sync", choices=["full", "normal"], default="full")
    args = ap.parse_args()
    n = args.tasks
    for extra in (0, args.extra):
        r = run(args, extra)
        print(f"{1 + 1 + extra} DAGs loaded (sqlite synchronous={args.sync}):")
        for dag, (el, cpu, sched) in r.items():
            print(f"  {dag:5s} {n} no-op tasks: trigger to success {el*1000:.0f} ms "
                  f"({el/n*1000:.3f} ms/task); pipeline scheduler {sched/n*1000:.3f} ms/task; "
                  f"master CPU (all of it) {cpu/n*1000:.3f} ms/task")


if __name__ == "__main__":
    main()
