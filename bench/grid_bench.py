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
body bytes and the time of each; then the grid as the page polls it now,
whole once and then as the runs changed since a cursor (?since=CURSOR).

With --browser it also opens the DAG page in Debian's chromium
(bench/grid_browser.mjs, playwright-core from tests/browser/node_modules)
and prints the time to a visible grid, the DOM's size, the longest frame
and the bytes on the wire while idle for --idle seconds, per minute.  With
--active S it opens the page again and measures the same for S seconds
while a run of the DAG is triggered every 2 s (at most 4 run at once), so
that every poll finds changed runs: the poll traffic of a busy DAG.

Usage: bench/grid_bench.py [--tasks 1000] [--runs 100] [--browser] [--idle 30]
                           [--active 30]
"""
import argparse, http.client, json, os, shutil, subprocess, sys, tempfile, threading, time

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


def api_raw(port, tok, path):
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", path, headers={"Authorization": "Bearer " + tok})
    body = c.getresponse().read()
    c.close()
    return body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--browser", action="store_true")
    ap.add_argument("--idle", type=int, default=30)
    ap.add_argument("--active", type=int, default=0)
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
    pw = "grid bench password"
    pwhash = subprocess.run([kiln, "passwd"], input=pw + "\n", capture_output=True, text=True,
                            check=True).stdout.strip().split("\n")[-1].strip()
    with open(conf, "w") as f:
        f.write(f"""master:
  port: {port}
  data_dir: {d}/master
  plugin_dir: {TOP}/plugins/lib
  dags_dir: {d}/dags
  web_dir: {TOP}/web
  auth:
    secret_file: {d}/secret
    users:
      - {{ name: bench, role: viewer, password_hash: "{pwhash}" }}
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
        t0 = time.perf_counter()
        rids = [api.req("POST", "/api/v1/dags/wide/trigger", {})[1]["run_id"] for _ in range(args.runs)]
        for rid in rids:
            while api.req("GET", f"/api/v1/runs/{rid}")[1]["state"] not in ("success", "failed"):
                time.sleep(0.2)
        print(f"{args.tasks}-task fan-out, {args.runs} runs (ran in {time.perf_counter() - t0:.1f} s):")
        total = {}
        for name, path in (("DAG document", "/api/v1/dags/wide"),
                           ("grid", f"/api/v1/dags/wide/grid?limit={args.runs}")):
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
        # The page's poll now: the grid whole once, then the changes since
        # its cursor, which is the same empty answer (a 304) while idle.
        cpath = f"/api/v1/dags/wide/grid?limit={args.runs}&compact=1"
        _, c_plain, t_cplain, _ = fetch(port, tok, cpath, {})
        _, c_gz, t_cgz, _ = fetch(port, tok, cpath, {"Accept-Encoding": "gzip"})
        print(f"  compact grid (the page's first load) plain {c_plain:>9,d} B {t_cplain*1000:6.1f} ms | "
              f"gzip {c_gz:>8,d} B {t_cgz*1000:6.1f} ms")
        g = json.loads(api_raw(port, tok, cpath))
        path = f"{cpath}&since={g['cursor']}"
        st, since_gz, t_since, etag = fetch(port, tok, path, {"Accept-Encoding": "gzip"})
        st304, since_cond, t_cond, _ = fetch(port, tok, path, {"Accept-Encoding": "gzip",
                                                               "If-None-Match": etag})
        print(f"  grid since cursor {g['cursor']}: {st}, {since_gz} B gzip {t_since*1000:.1f} ms | "
              f"If-None-Match: {st304}, {since_cond} B {t_cond*1000:.1f} ms")
        def browse(seconds):
            out = subprocess.run(["node", os.path.join(TOP, "bench", "grid_browser.mjs"),
                                  f"http://127.0.0.1:{port}", "bench", pw, "wide", str(seconds)],
                                 capture_output=True, text=True)
            if os.environ.get("SLOW"):
                print(out.stderr)
            if out.returncode != 0:
                print("  browser: failed:", out.stderr.strip()[-2000:])
                return None
            return json.loads(out.stdout.strip().split("\n")[-1])

        if args.browser:
            b = browse(args.idle)
            if b is not None:
                print(f"  browser (chromium, 1400x900): grid visible in {b['visible_ms']} ms; "
                      f"{b['elements']:,d} elements ({b['nodes']:,d} nodes); "
                      f"idle {b['idle_s']} s: longest frame {b['frame_max_ms']} ms, longest task "
                      f"{b['longtask_ms']} ms, {b['idle_requests']} requests, {b['idle_bytes']:,d} B "
                      f"on the wire ({b['bytes_per_min']:,d} B/min); scrolled to the end: "
                      f"{'the last task drawn' if b['scrolled'] else 'NOT DRAWN'} "
                      f"({b['rows_drawn']} rows in the DOM)")
        if args.active > 0:
            stop = threading.Event()
            started = []

            def trigger():
                # The page needs its 3 s to load and settle before the
                # window opens; runs start from then on.
                while not stop.wait(2.0):
                    started.append(Api(port, tok).req("POST", "/api/v1/dags/wide/trigger", {})[0])

            th = threading.Thread(target=trigger, daemon=True)
            th.start()
            b = browse(args.active)
            stop.set()
            th.join()
            if b is not None:
                print(f"  browser while a run starts every 2 s ({len(started)} runs, "
                      f"{sum(1 for s in started if s in (200, 201))} accepted): {b['idle_s']} s, "
                      f"{b['idle_requests']} requests, {b['idle_bytes']:,d} B on the wire "
                      f"({b['bytes_per_min']:,d} B/min, {b['bytes_per_min'] / 60 / 1024:.1f} KiB/s); "
                      f"longest frame {b['frame_max_ms']} ms, longest task {b['longtask_ms']} ms")
    finally:
        up.terminate()
        up.wait(timeout=30)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
