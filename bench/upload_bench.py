#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""upload_bench.py - what one large artifact upload costs the master.

    bench/upload_bench.py [--mib 256] [--runs 3] [--top BUILD ...]

For each build (the top of a built tree, default this one; give --top
several times to compare, e.g. an older build first), alternated RUNS
times: starts a master alone (no workers) on a free loopback port with
max_body raised to fit the artifact (an old master holds bodies whole and
bounds them so), makes an API token, PUTs a file of MIB MiB of random
bytes to /api/v1/artifacts/SHA with curl, and reads the master's peak
resident memory (VmHWM) before and after, and the time curl took.  Prints
one JSON line per run, then the median per build.
"""
import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kiln_bench import free_port  # noqa: E402


def hwm_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def one(top, data, sha, mib):
    d = tempfile.mkdtemp(prefix="kiln-upbench.")
    port = free_port()
    kiln = os.path.join(top, "kiln")
    cfg = os.path.join(d, "cluster.yaml")
    with open(cfg, "w") as f:
        f.write(f"""cluster:
  name: bench
master:
  listen: 127.0.0.1
  port: {port}
  data_dir: {d}/master
  plugin_dir: {top}/plugins/lib
  max_body: {mib + 1}MiB
  auth:
    secret_file: {d}/secret
workers: []
""")
    log = open(os.path.join(d, "master.log"), "w")
    p = subprocess.Popen([kiln, "start", "-c", cfg, "--node", "master"],
                         stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/api/v1/health", timeout=1)
                break
            except Exception:
                time.sleep(0.05)
        env = dict(os.environ, KILN_MASTER=url)
        tok = json.loads(subprocess.check_output(
            [kiln, "-c", cfg, "token", "create", "--json"], env=env))["token"]
        before = hwm_mb(p.pid)
        t0 = time.monotonic()
        code = subprocess.check_output(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
             "-H", "Authorization: Bearer " + tok, "--data-binary", "@" + data,
             f"{url}/api/v1/artifacts/{sha}"]).decode()
        secs = time.monotonic() - t0
        after = hwm_mb(p.pid)
        return {"build": top, "status": int(code), "seconds": round(secs, 2),
                "hwm_before_mb": round(before, 1), "hwm_after_mb": round(after, 1),
                "grew_mb": round(after - before, 1) + 0.0}
    finally:
        p.terminate()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--top", action="append")
    a = ap.parse_args()
    tops = [os.path.abspath(t) for t in (a.top or [os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))])]
    fd, data = tempfile.mkstemp(prefix="kiln-upbench.", suffix=".bin")
    h = hashlib.sha256()
    with os.fdopen(fd, "wb") as f:
        for _ in range(a.mib):
            b = os.urandom(1 << 20)
            h.update(b)
            f.write(b)
    sha = h.hexdigest()
    res = {t: [] for t in tops}
    try:
        for _ in range(a.runs):
            for t in tops:
                r = one(t, data, sha, a.mib)
                print(json.dumps(r), flush=True)
                res[t].append(r)
    finally:
        os.unlink(data)
    for t, rs in res.items():
        print(json.dumps({"build": t, "median_seconds": statistics.median(
            r["seconds"] for r in rs), "median_grew_mb": statistics.median(
            r["grew_mb"] for r in rs)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
