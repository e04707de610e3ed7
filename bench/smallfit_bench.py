#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""smallfit_bench.py - a small iterative fit, per round (issue 17 item 6).

Data: examples/data/digits.csv (600 x 64, 10 classes) tiled to --rows rows
(deterministic; no numpy needed).  `kiln up` with a master and two workers
of two slots (the shape of bench/ml_bench.py), one DAG per size: `ingest`
(--partitions partitions) -> `logreg` three times, chained so that they do
not share the cluster: `dist` (local_below: 0, a stage per evaluation: the
code path of builds before local_below), `local` (local_below: -1, the
driver evaluates the partitions itself) and `default` (the default
threshold).  For each: wall time of the job (started -> finished from the
API), the fit's own time, evaluations (rounds), time per round, the
gradient passes' own time per round (summed over partitions) and, for the
local modes, what a round costs beyond them; the largest difference of
the coefficients from the distributed fit's.  For `dist`, where a round's
time goes on the master's clock (the job's last 64 stages, from
GET /api/v1/jobs/ID/stages).

  bench/smallfit_bench.py [--rows 2000,20000] [--partitions 4] [--max-iter N]
                          [--isolation process|thread] [--keep]
A benchmark, not a test: compare the ratios within one run.
"""
import argparse, os, shutil, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kiln_bench import TOP, dags_cluster_up, run_dag  # noqa: E402

MODES = [("dist", "local_below: 0"), ("local", "local_below: -1"),
         ("default", None)]


def write_data(path, rows):
    with open(os.path.join(TOP, "examples", "data", "digits.csv")) as f:
        head = f.readline()
        lines = f.read().splitlines()
    with open(path, "w") as f:
        f.write(head)
        for i in range(rows):
            f.write(lines[i % len(lines)] + "\n")


def dag(did, csv, parts, max_iter):
    s = f"""id: {did}
tasks:
  - id: ingest
    plugin: ingest
    params: {{ file: "{csv}", partitions: {parts}, label: digit, task: classification }}
    timeout: 30m
"""
    prev = "ingest"
    for name, p in MODES:
        ps = [x for x in (p, f"max_iter: {max_iter}" if max_iter else None) if x]
        params = "{ " + ", ".join(ps) + " }"
        deps = "ingest" if prev == "ingest" else f"ingest, {prev}"
        s += f"""  - id: {name}
    plugin: logreg
    depends_on: [{deps}]
    params: {params}
    timeout: 30m
"""
        prev = name
    return s


def stage_breakdown(api, job):
    """Where a distributed round's time goes, from the master's records of
    the job's last stages (the job page's): from the stage's creation to
    its first map task's start, map task run time (on the worker, with the
    reply), from the first to the last task's end, and the last task's end
    to the stage's end."""
    st, r = api.req("GET", f"/api/v1/jobs/{job}/stages")
    ss = [x for x in r["stages"] if x["tasks"] and all(t["started_ms"] for t in x["tasks"])]
    if not ss:
        return
    n = len(ss)
    def mean(f):
        return sum(f(x) for x in ss) / n
    first = mean(lambda x: min(t["started_ms"] for t in x["tasks"]) - x["created_ms"])
    last = mean(lambda x: max(t["started_ms"] for t in x["tasks"]) - x["created_ms"])
    dur = mean(lambda x: sum(t["duration_ms"] for t in x["tasks"]) / len(x["tasks"]))
    spread = mean(lambda x: max(t["ended_ms"] for t in x["tasks"]) - min(t["ended_ms"] for t in x["tasks"]))
    tail = mean(lambda x: x["ended_ms"] - max(t["ended_ms"] for t in x["tasks"]))
    total = mean(lambda x: x["ended_ms"] - x["created_ms"])
    loc = sum(1 for x in ss for t in x["tasks"] if t.get("local")) / sum(len(x["tasks"]) for x in ss)
    workers = {}
    for x in ss:
        for t in x["tasks"]:
            workers[t["worker"]] = workers.get(t["worker"], 0) + 1
    print(f"  dist, last {n} stages (master's clock): stage {total:.1f} ms = created -> first task "
          f"start {first:.1f} ms (last start {last:.1f} ms); map task {dur:.1f} ms; task ends "
          f"spread {spread:.1f} ms; last end -> stage end {tail:.1f} ms; local {loc:.0%}; "
          f"tasks per worker {workers}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="2000")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--max-iter", type=int, default=0,
                    help="logreg max_iter (0: its default): bounds the rounds of large sizes")
    ap.add_argument("--isolation", choices=["process", "thread"], default="process",
                    help="workers[].isolation: map tasks in executor processes or on threads")
    args = ap.parse_args()
    sizes = [int(x) for x in args.rows.split(",")]
    d = tempfile.mkdtemp(prefix="kiln-smallfit.")
    os.makedirs(os.path.join(d, "dags"))
    for n in sizes:
        csv = os.path.join(d, f"digits{n}.csv")
        write_data(csv, n)
        with open(os.path.join(d, "dags", f"sf{n}.yaml"), "w") as f:
            f.write(dag(f"sf{n}", csv, args.partitions, args.max_iter))
    up, api = dags_cluster_up(d, slots=2, master_yaml="max_body: 2GiB",
                              worker_yaml=f", memory: 8GiB, isolation: {args.isolation}",
                              read_roots=[d])
    try:
        for _ in range(100):
            st, r = api.req("GET", "/api/v1/dags")
            if len(r.get("dags") or []) >= len(sizes):
                break
            time.sleep(0.1)
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (2 cores)")
        for n in sizes:
            r, _ = run_dag(api, f"sf{n}", 0.1)
            tasks = {t["task"]: t for t in r["tasks"]}
            ref = None
            for name, _ in MODES:
                t = tasks[name]
                st, job = api.req("GET", f"/api/v1/jobs/{t['job_id']}")
                res = job["result"]
                wall = t["finished_ms"] - t["started_ms"]
                flat = [v for row in res["coef"] for v in row] + res["intercept"]
                if ref is None:
                    ref = flat
                diff = max(abs(a - b) for a, b in zip(ref, flat))
                ev = res["evaluations"]
                # the gradient passes' own time, all partitions, per round
                work = res["pass_ms"] * args.partitions
                print(f"{n} x 64, {args.partitions} parts, {name:7s}: job {wall/1000:.3f} s, "
                      f"fit {res['fit_ms']/1000:.3f} s, {ev} evaluations, "
                      f"{wall/ev:.2f} ms per round (job), {res['fit_ms']/ev:.2f} ms (fit); "
                      f"passes {work:.2f} ms" +
                      (f", beyond them {wall/ev - work:.2f} ms" if res.get("local") else "") +
                      " per round; "
                      f"stages {res['stages']}, stage {res['stage_ms']:.2f} ms, "
                      f"local {res.get('local', False)}; max |coef diff| {diff:.1e}")
            stage_breakdown(api, tasks["dist"]["job_id"])
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (2 cores)")
    finally:
        up.terminate()
        up.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
