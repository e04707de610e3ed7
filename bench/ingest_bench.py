#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ingest_bench.py - kiln's CSV ingest end to end beside pandas.read_csv.

The data set of ml_bench.py (--rows x --features standard normal features
with 5 decimals and a label a/b: 1,000,000 x 32 is 261 MiB of CSV) is
written once.  For every run, `kiln up` with a master and two workers of
two slots on a fresh data directory (the store is content-addressed: a
store that has the partitions already skips writing them); a DAG of one
`ingest` task (--partitions partitions) is triggered and timed from the
trigger to the run's success (parse, partitions stored durably at the
master, schema).  Two modes, alternated in the same run: `split` (map_tasks 0:
byte ranges over map tasks, every worker slot parses) and `single`
(map_tasks 1: one task reads the whole file).  pandas.read_csv of the same
file, on one core, in the same run, alternated with them.  Each is run
--repeats times; best and median are printed.  --top BUILD runs another
build tree's `kiln` and plugins too, alternated with this one (its modes
are printed with "@old").

  bench/ingest_bench.py [--rows 1000000] [--features 32] [--partitions 4]
                        [--repeats 3] [--modes split,single] [--isolation process|thread]
                        [--top BUILD]
A benchmark, not a test: compare the ratios within one run.
"""
import argparse, os, shutil, statistics, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kiln_bench import TOP, dags_cluster_up, run_dag  # noqa: E402
from ml_bench import write_data  # noqa: E402


def pandas_read(csv):
    import pandas as pd
    t0 = time.perf_counter()
    df = pd.read_csv(csv)
    el = time.perf_counter() - t0
    assert len(df) > 0
    return el


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modes", default="split,single")
    ap.add_argument("--isolation", choices=["process", "thread"], default="process",
                    help="where workers run tasks (process: executor processes, the default)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--top", help="another build tree, run alternately with this one")
    args = ap.parse_args()
    modes = args.modes.split(",")
    builds = {"": TOP}
    if args.top:
        builds["@old"] = os.path.abspath(args.top)
        modes = [m + b for m in modes for b in ("", "@old")]
    d = tempfile.mkdtemp(prefix="kiln-ingestbench.")
    csv = os.path.join(d, "data.csv")
    t0 = time.perf_counter()
    write_data(csv, args.rows, args.features)
    print(f"data: {args.rows} x {args.features} written in {time.perf_counter()-t0:.1f} s "
          f"({os.path.getsize(csv) >> 20} MiB of CSV)", flush=True)
    mt = {"split": 0, "single": 1}
    times = {m: [] for m in modes + ["pandas"]}

    def one(i, mb):
        m, _, b = mb.partition("@")
        top = builds["@" + b if b else ""]
        # A cluster of its own for every run: the store is content-
        # addressed, so a second ingest of the same bytes (the other
        # mode's, or a repeat's) would find its partitions stored already
        # and skip their writes and fsyncs.
        rd = os.path.join(d, f"run{i}-{m}{b}")
        os.makedirs(os.path.join(rd, "dags"))
        with open(os.path.join(rd, "dags", f"ing_{m}.yaml"), "w") as f:
            f.write(f"""id: ing_{m}
tasks:
  - id: ingest
    plugin: ingest
    params: {{ file: "{csv}", partitions: {args.partitions}, label: y, map_tasks: {mt[m]} }}
    timeout: 30m
""")
        up, api = dags_cluster_up(rd, slots=2, worker_yaml=", memory: 8GiB"
                                  + (", isolation: thread" if args.isolation == "thread" else ""),
                                  read_roots=[d], kiln=os.path.join(top, "kiln"),
                                  plugin_dir=os.path.join(top, "plugins", "lib"))
        try:
            for _ in range(100):
                st, r = api.req("GET", "/api/v1/dags")
                if len(r.get("dags", [])) == 1:
                    break
                time.sleep(0.1)
            return run_dag(api, f"ing_{m}")[1]
        finally:
            up.terminate()
            up.wait(timeout=30)
            shutil.rmtree(rd, ignore_errors=True)

    try:
        for i in range(args.repeats):
            for m in modes:
                times[m].append(one(i, m))
                print(f"  {m}: {times[m][-1]:.2f} s", flush=True)
            times["pandas"].append(pandas_read(csv))
            print(f"  pandas.read_csv: {times['pandas'][-1]:.2f} s", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)
    pd_best = min(times["pandas"])
    for m in modes + ["pandas"]:
        t = times[m]
        print(f"{m:>7}: best {min(t):.2f} s, median {statistics.median(t):.2f} s"
              + ("" if m == "pandas" else
                 f"; pandas/kiln (best) {pd_best / min(t):.2f}x"))


if __name__ == "__main__":
    main()
