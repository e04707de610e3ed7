#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ml_bench.py - distributed logistic regression against scikit-learn.

Synthetic data (--rows x --features standard normal features, a binary
label drawn from a logistic model with a fixed seed) is written once as CSV.
kiln: `kiln up` with a master and two workers of two slots, a DAG `ingest`
(--partitions partitions) -> `logreg` (C=1, gtol 1e-6 on the gradient of
C*sum(loss)+|w|^2/2); the logreg task's result gives the fit's wall time,
the number of distributed gradient stages, the task's own wall time (the
fit plus fetching whatever the driver reads), the mean time of one
partition's gradient pass (inside the map task) and the mean wall time of a
stage (driver side).  From those: GB/s of feature data per core in a pass,
and the scheduling overhead per stage (stage wall time minus the slowest
share of the passes it ran; an upper bound).
scikit-learn, where python3-sklearn is installed, in the same run:
StandardScaler + LogisticRegression(solver="lbfgs", C=1, tol=1e-6) on the
same rows (read back from the same CSV), its fit time and log loss.

  bench/ml_bench.py [--rows 1000000] [--features 32] [--partitions 4]
                    [--stages-only] [--keep]
A benchmark, not a test: compare the ratios within one run.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kiln_bench import Api, TOP, free_port, run_dag  # noqa: E402


def write_data(path, rows, d, seed=7):
    import numpy as np
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1, d) / np.sqrt(d) * 3
    with open(path, "w") as f:
        f.write(",".join(f"x{j}" for j in range(d)) + ",y\n")
        chunk = 100000
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            X = rng.normal(0, 1, (n, d)).round(5)
            p = 1 / (1 + np.exp(-(X @ w + 0.3)))
            y = np.where(rng.random(n) < p, "b", "a")
            lines = [",".join(f"{v:.5f}" for v in X[i]) + "," + y[i] for i in range(n)]
            f.write("\n".join(lines) + "\n")


def run_kiln(args, csv, d):
    kiln = os.path.join(TOP, "kiln")
    port = free_port()
    os.makedirs(os.path.join(d, "dags"))
    with open(os.path.join(d, "dags", "lr.yaml"), "w") as f:
        f.write(f"""id: lr
tasks:
  - id: ingest
    plugin: ingest
    params: {{ file: "{csv}", partitions: {args.partitions}, label: y }}
    timeout: 30m
  - id: fit
    plugin: logreg
    depends_on: [ingest]
    params: {{ C: 1.0, gtol: {args.gtol} }}
    timeout: 30m
""")
    conf = os.path.join(d, "cluster.yaml")
    with open(conf, "w") as f:
        f.write(f"""master:
  port: {port}
  data_dir: {d}/master
  plugin_dir: {TOP}/plugins/lib
  dags_dir: {d}/dags
  max_body: 2GiB
  auth:
    secret_file: {d}/secret
data:
  read_roots: [{d}]
workers:
  - {{ name: w1, slots: 2, memory: 8GiB }}
  - {{ name: w2, slots: 2, memory: 8GiB }}
""")
    up = subprocess.Popen([kiln, "up", "-c", conf], stdout=subprocess.PIPE,
                          stderr=open(os.path.join(d, "up.log"), "w"), text=True)
    for line in up.stdout:
        if "ready in" in line:
            break
    try:
        tok = json.loads(subprocess.run([kiln, "-c", conf, "token", "create", "--json"],
                                        capture_output=True, text=True, check=True).stdout)["token"]
        api = Api(port, tok)
        for _ in range(100):
            st, r = api.req("GET", "/api/v1/dags")
            if r.get("dags"):
                break
            time.sleep(0.1)
        r, _ = run_dag(api, "lr", 0.2)
        tasks = {t["task"]: t for t in r["tasks"]}
        st, job = api.req("GET", f"/api/v1/jobs/{tasks['fit']['job_id']}")
        return tasks["ingest"], tasks["fit"], job["result"]
    finally:
        up.terminate()
        up.wait(timeout=30)


def run_sklearn(args, csv):
    try:
        import numpy as np
        import pandas as pd
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import log_loss
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        return None
    df = pd.read_csv(csv)
    X = df.drop(columns=["y"]).to_numpy()
    y = (df["y"] == "b").to_numpy().astype(int)
    t0 = time.perf_counter()
    sc = StandardScaler().fit(X)
    Z = sc.transform(X)
    m = LogisticRegression(solver="lbfgs", C=1.0, tol=args.gtol, max_iter=10000).fit(Z, y)
    el = time.perf_counter() - t0
    ll = log_loss(y, m.predict_proba(Z)[:, 1])
    return el, ll, int(m.n_iter_[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--gtol", type=float, default=1e-6)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="kiln-mlbench.")
    csv = os.path.join(d, "data.csv")
    t0 = time.perf_counter()
    write_data(csv, args.rows, args.features)
    print(f"data: {args.rows} x {args.features} written in {time.perf_counter()-t0:.1f} s "
          f"({os.path.getsize(csv) >> 20} MiB of CSV)")
    try:
        ing, fit, r = run_kiln(args, csv, d)
        task_s = (fit['finished_ms'] - fit['started_ms']) / 1000
        rows = r["rows"]
        part_bytes = rows / args.partitions * args.features * 8
        gbs = part_bytes / (r["pass_ms"] / 1000) / 1e9
        print(f"kiln: ingest {(ing['finished_ms'] - ing['started_ms'])/1000:.1f} s; "
              f"logreg fit {r['fit_ms']/1000:.2f} s, {r['iterations']} iterations, "
              f"{r['stages']} stages, log loss {r['log_loss']:.9f}")
        print(f"kiln: the fit task from start to result {task_s:.2f} s "
              f"(the fit, and fetching what the driver reads)")
        print(f"kiln: gradient pass {r['pass_ms']:.1f} ms per partition of "
              f"{part_bytes/1e6:.0f} MB = {gbs:.2f} GB/s per core; "
              f"stage wall time {r['stage_ms']:.1f} ms")
        sk = run_sklearn(args, csv)
        if sk is None:
            print("scikit-learn: not installed (apt-get install -y python3-sklearn)")
        else:
            el, ll, it = sk
            print(f"scikit-learn: fit {el:.2f} s (StandardScaler + lbfgs), {it} iterations, "
                  f"log loss {ll:.9f}")
            print(f"ratio: kiln fit {el / (r['fit_ms']/1000):.2f}x scikit-learn's speed "
                  f"({el / task_s:.2f}x for the whole task); "
                  f"log loss difference {abs(ll - r['log_loss']):.2e}")
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
