#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""grid_bench.py - what the DAG page's poll downloads.

Starts `kiln up` (a master, 2 workers) with a DAG of N no-op tasks as a
wide fan-out, runs it R times, then fetches what the dashboard polls every
2 s, the DAG document (GET /api/v1/dags/wide) and the grid
(GET /api/v1/dags/wide/grid?limit=25), three ways: as before (no
Accept-Encoding), gzipped (Accept-Encoding: gzip, as every browser sends),
and conditionally (If-None-Match with the ETag of the previous answer, as
web/js/api.js asks: 304 without a body while nothing changed).  Prints the
body bytes and the time of each.

Usage: bench/grid_bench.py [--tasks 1000] [--runs 25]
"""
import argparse, http.client, json, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kiln_bench import Api, TOP, free_port  # noqa: E402


def fetch(port, tok, path, headers):
    c = http.client.HTTPConnection("127.0.0.1", port)
    t0 = time.perf_counter()
    c.request("GET", path, headers={"Authorization": "Bearer " + tok, **headers})
    r = c.getresponse()
    body = r.read()
    el = time.perf_counter() - t0
    c.close()
    return r.status, len(body), el, r.getheader("ETag")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=25)
    args = ap.parse_args()
    kiln = os.path.join(TOP, "kiln")
    d = tempfile.mkdtemp(prefix="kiln-gridbench.")
    os.makedirs(os.path.join(d, "dags"))
    with open(os.path.join(d, "dags", "wide.yaml"), "w") as f:
        f.write("id: wide\nmax_active_runs: 4\ntasks:\n")
        for i in range(args.tasks):
            f.write(f"  - {{ id: t{i}, plugin: noop }}\n")
    port = free_port()
    conf = os.path.join(d, "cluster.yaml")
    with open(conf, "w") as f:
        f.write(f"""master:
  port: {port}
  data_dir: {d}/master
  plugin_dir: {TOP}/plugins/lib
  dags_dir: {d}/dags
  auth:
    secret_file: {d}/secret
workers:
  - {{ name: w1, slots: 2 }}
  - {{ name: w2, slots: 2 }}
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
        for _ in range(600):
            st, r = api.req("GET", "/api/v1/dags/wide")
            if st == 200:
                break
            time.sleep(0.1)
        rids = [api.req("POST", "/api/v1/dags/wide/trigger", {})[1]["run_id"] for _ in range(args.runs)]
        for rid in rids:
            while api.req("GET", f"/api/v1/runs/{rid}")[1]["state"] not in ("success", "failed"):
                time.sleep(0.2)
        print(f"{args.tasks}-task fan-out, {args.runs} runs:")
        total = {}
        for name, path in (("DAG document", "/api/v1/dags/wide"),
                           ("grid", "/api/v1/dags/wide/grid?limit=25")):
            st, plain, t_plain, etag = fetch(port, tok, path, {})
            _, gz, t_gz, _ = fetch(port, tok, path, {"Accept-Encoding": "gzip"})
            st304, cond, t_cond, _ = fetch(port, tok, path, {"Accept-Encoding": "gzip",
                                                               "If-None-Match": etag})
            for k, v in (("plain", plain), ("gzip", gz), ("unchanged", cond)):
                total[k] = total.get(k, 0) + v
            print(f"  {name:12s} plain {plain:>9,d} B {t_plain*1000:6.1f} ms | gzip {gz:>8,d} B "
                  f"{t_gz*1000:6.1f} ms | If-None-Match: {st304}, {cond} B {t_cond*1000:6.1f} ms")
        print(f"  one poll (both): before {total['plain']:,d} B; after {total['gzip']:,d} B when "
              f"changed, {total['unchanged']} B of body when not "
              f"(every 2 s: {total['plain']/2/1024:.0f} KiB/s before, "
              f"{total['gzip']/2/1024:.1f} KiB/s at most after)")
    finally:
        up.terminate()
        up.wait(timeout=30)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
