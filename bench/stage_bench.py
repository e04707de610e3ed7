#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""stage_bench.py - scheduling overhead of a distributed stage (issue 4).

Starts `kiln up` with a master and two workers of two slots each (the
shape of bench/ml_bench.py) and runs the test plugin `stagesum` (built by
`make check` in tests/plugins/) as a driver that calls host->stage() many
times in a row over no-op-sized map tasks (a sum of 1,000 numbers each),
and prints the mean wall time per stage as the driver sees it: submit the
map tasks, run them on the workers' slots, collect every result.  With
map tasks that do nothing, that time is the scheduling overhead.

Usage: bench/stage_bench.py [--stages 500] [--tasks 1,2,4]
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from kiln_bench import Api, free_port  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stages", type=int, default=500)
    ap.add_argument("--tasks", default="1,2,4")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    kiln = os.path.join(TOP, "kiln")
    so = os.path.join(TOP, "tests", "plugins", ".libs", "stagesum.so")
    if not os.path.exists(so):
        sys.exit("stage_bench: build the test plugins first (make check, or "
                 "make tests/plugins/stagesum.la)")
    d = tempfile.mkdtemp(prefix="kiln-stage-bench.")
    plugins = os.path.join(d, "plugins")
    os.mkdir(plugins)
    shutil.copy(so, plugins)
    shutil.copy(os.path.join(TOP, "plugins", "lib", "noop.so"), plugins)
    port = free_port()
    conf = os.path.join(d, "cluster.yaml")
    with open(conf, "w") as f:
        f.write(f"""master:
  port: {port}
  data_dir: {d}/master
  plugin_dir: {plugins}
  auth:
    secret_file: {d}/secret
workers:
  - name: w1
    slots: 2
  - name: w2
    slots: 2
""")
    up = subprocess.Popen([kiln, "up", "-c", conf], stdout=subprocess.PIPE,
                          stderr=open(os.path.join(d, "up.log"), "w"), text=True)
    try:
        for line in up.stdout:
            if "ready in" in line:
                break
        tok = json.loads(subprocess.run([kiln, "-c", conf, "token", "create", "--json"],
                                        capture_output=True, text=True,
                                        check=True).stdout)["token"]
        api = Api(port, tok)
        time.sleep(1.0)
        print(f"kiln stages ({args.stages} in a row per run, 2 workers x 2 slots, "
              f"best of {args.rounds} runs)")
        for tasks in [int(t) for t in args.tasks.split(",")]:
            best = None
            for _ in range(args.rounds):
                st, r = api.req("POST", "/api/v1/jobs", {
                    "plugin": "stagesum",
                    "params": {"n": 1000, "tasks": tasks, "iterations": args.stages}})
                assert st in (200, 201), r
                st, j = api.req("GET", f"/api/v1/jobs/{r['id']}?wait=120")
                assert j["state"] == "succeeded", j
                ms = j["result"]["stage_ms"]
                best = ms if best is None else min(best, ms)
            print(f"  stage of {tasks} map task{'s' if tasks > 1 else ''}: "
                  f"{best:.3f} ms per stage")
    finally:
        up.terminate()
        up.wait(timeout=20)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
