#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kiln_bench.py - end-to-end benchmark of a local kiln cluster.

Starts `kiln up` (master + 2 workers, 1 slot each, like the Dask peer's
1 scheduler + 2 single-thread workers) on a free loopback port with a fresh
data directory, and prints:
  - time from `kiln up` to a cluster ready for work;
  - idle resident memory of the master and of each worker;
  - no-op tasks per second end to end (submitted in bulk through the batch
    API, completed and durably recorded in SQLite);
  - single-job submit-to-result latency p50/p99 (POST a job, then one
    long-poll GET ?wait until it is finished; and, alternated with it,
    POST ?wait: submit and wait in one request), beside the disk's fsync
    floor measured in the store's directory in the same run (median of a
    4 KiB write + fdatasync, appending and in place), this client's HTTP
    round trip (a minimal client of its own, RawApi: http.client's
    overhead is as large as kiln's) and the machine's wake-up floor (a
    pipe round trip between two processes); run as root, all of it again
    with the CPUs kept out of idle states (/dev/cpu_dma_latency), which
    shows what of the latency is the machine waking its CPUs (a VM's
    halted vCPUs);
and, when Debian's python3-distributed is installed, the same work on a Dask
cluster of the same shape, with the ratios.  Compare ratios within one run:
the machines are shared and noisy.

With --isolation both, kiln runs twice in the same run, its workers
running plugin tasks in executor processes (workers[].isolation: process,
the default) and in their own threads (thread); the worker's idle memory
then also counts its zygote and executors (PSS shares their common pages
fairly).

With --tls both, kiln runs twice in the same run, over plain HTTP and over
TLS on loopback (master.tls.mode on), and the two are printed side by side.

Usage: bench/kiln_bench.py [--tasks N] [--latency N] [--sync full|normal]
                           [--tls off|on|both] [--isolation process|thread|both]
                           [--no-dask]
"""
import argparse, json, os, shutil, socket, ssl, subprocess, sys, tempfile, time
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid):
    """PID and every process under it."""
    out = [pid]
    ps = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)],
                        capture_output=True, text=True).stdout.split()
    for p in ps:
        out += tree(int(p))
    return out


def cpu_ms(pids):
    """User plus system CPU time of PIDS (and their reaped children), ms."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        try:
            f = open(f"/proc/{p}/stat").read()
        except OSError:
            continue
        v = f[f.rindex(")") + 2:].split()
        total += sum(int(x) for x in v[11:15])   # utime stime cutime cstime
    return total * 1000 / tick


def fsync_floor(d, n=200):
    """Median ms of a 4 KiB write + fdatasync in directory D: appending to
    a growing file, and overwriting the start of it in place (what a
    WAL reused after a checkpoint does).  The floor under a durable
    commit on this disk, measured in the same run as the figures."""
    p = os.path.join(d, "fsync-floor.tmp")
    buf = b"k" * 4096
    fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    app, over = [], []
    try:
        for _ in range(n):
            t = time.perf_counter()
            os.write(fd, buf)
            os.fdatasync(fd)
            app.append(time.perf_counter() - t)
        for i in range(n):
            os.lseek(fd, (i % 16) * 4096, os.SEEK_SET)
            t = time.perf_counter()
            os.write(fd, buf)
            os.fdatasync(fd)
            over.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(p)
    app.sort()
    over.sort()
    return app[n // 2] * 1000, over[n // 2] * 1000


def percentile(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * q))]


def latency_section(api, args, res, prefix):
    """Submit-to-result latency of one job at a time into RES (keys with
    PREFIX): POST then long-poll GET ?wait (two requests), alternated with
    POST ?wait (one request; a build from before it answers "queued", and
    then takes the GET too), by API (a RawApi).  Beside it, the HTTP round trip of this client
    to this master for nothing (a health check) and the machine's own
    wake-up floor (wake_floor)."""
    lat, lat1 = [], []
    for i in range(2 * (args.latency + 20)):
        one = i % 2 == 1
        t = time.perf_counter()
        st, j = api.req("POST", "/api/v1/jobs" + ("?wait=10" if one else ""),
                        {"plugin": "noop"})
        if j["state"] not in ("succeeded", "failed"):
            st, j = api.req("GET", f"/api/v1/jobs/{j['id']}?wait=10")
        assert j["state"] == "succeeded", j
        if i >= 40:
            (lat1 if one else lat).append((time.perf_counter() - t) * 1000)
    rt = []
    for _ in range(300):
        t = time.perf_counter()
        api.req("GET", "/api/v1/health")
        rt.append((time.perf_counter() - t) * 1000)
    res[prefix + "http_rt_ms"] = percentile(rt, 0.5)
    res[prefix + "lat_p50_ms"] = percentile(lat, 0.5)
    res[prefix + "lat_p99_ms"] = percentile(lat, 0.99)
    res[prefix + "lat1_p50_ms"] = percentile(lat1, 0.5)
    res[prefix + "lat1_p99_ms"] = percentile(lat1, 0.99)
    res[prefix + "wake_us"] = wake_floor()


def wake_floor(n=2000):
    """Median microseconds of a round trip of one byte between two
    processes over pipes: each way wakes a sleeping process, on a CPU that
    may be idle.  A submit-to-result wakes threads of the client, the
    master and a worker about eight times in turn, so this bounds it from
    below however little the programs themselves do."""
    a_r, a_w = os.pipe()
    b_r, b_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            while os.read(a_r, 1) == b"x":
                os.write(b_w, b"x")
        finally:
            os._exit(0)
    rt = []
    for _ in range(n):
        t = time.perf_counter()
        os.write(a_w, b"x")
        os.read(b_r, 1)
        rt.append(time.perf_counter() - t)
    os.write(a_w, b"q")
    os.waitpid(pid, 0)
    for f in (a_r, a_w, b_r, b_w):
        os.close(f)
    return percentile(rt, 0.5) * 1e6


class cpu_awake:
    """While held, ask the kernel to keep every CPU out of idle states
    with an exit latency (PM QoS: /dev/cpu_dma_latency set to 0, as
    tuned's latency-performance profile does; root only).  On a virtual
    machine an idle vCPU halts and each wake-up goes through the host:
    this shows what of a latency is that.  Yields False if not allowed."""
    def __enter__(self):
        try:
            self.f = open("/dev/cpu_dma_latency", "wb", buffering=0)
            self.f.write((0).to_bytes(4, sys.byteorder))
            return True
        except OSError:
            self.f = None
            return False

    def __exit__(self, *exc):
        if self.f:
            self.f.close()       # the request ends with the file
        return False


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)],
                         capture_output=True, text=True).stdout
    res = {}
    for line in out.splitlines():
        p, args = line.strip().split(None, 1)
        node = args.split("--node")[-1].strip().split()[0] if "--node" in args else "?"
        res[node] = int(p)
    return res


class Api:
    def __init__(self, port, token, ca=None):
        if ca:
            ctx = ssl.create_default_context(cafile=ca)
            self.c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
        else:
            self.c = http.client.HTTPConnection("127.0.0.1", port)
        self.h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

    def req(self, method, path, body=None):
        self.c.request(method, path, body=json.dumps(body) if body is not None else None,
                       headers=self.h)
        r = self.c.getresponse()
        data = r.read()
        return r.status, json.loads(data) if data else None


class RawApi:
    """The same calls as Api on one kept-alive connection, written and read
    with the socket module: Python's http.client spends about 70 us of its
    own per request (a health check takes 0.09 ms with it, 0.02 ms with
    this, CPUs awake), which a latency of a few tenths of a millisecond
    should not carry.  Bodies are read by Content-Length or chunked."""
    def __init__(self, port, token, ca=None):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ca:
            s = ssl.create_default_context(cafile=ca).wrap_socket(
                s, server_hostname="127.0.0.1")
        self.s, self.buf = s, b""
        self.h = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"

    def _need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("master closed the connection")
            self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._need(len(self.buf) + 1)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        self._need(n)
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {path} HTTP/1.1\r\n{self.h}"
                + (f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                   if body is not None else "") + "\r\n")
        self.s.sendall(head.encode() + data)
        status = int(self._line().split()[1])
        hdr = {}
        while True:
            line = self._line()
            if not line:
                break
            k, v = line.decode().split(":", 1)
            hdr[k.strip().lower()] = v.strip()
        if "content-length" in hdr:
            out = self._take(int(hdr["content-length"]))
        else:                                   # chunked
            out = b""
            while True:
                n = int(self._line().split(b";")[0], 16)
                out += self._take(n)
                self._line()
                if n == 0:
                    break
        return status, json.loads(out) if out else None


def dags_cluster_up(d, sync="full", slots=1, master_yaml="", worker_yaml="",
                    read_roots=None, kiln=None, plugin_dir=None):
    """Start `kiln up` with its files in D (D/dags its dags directory) and a
    master and 2 workers of SLOTS slots each on a free loopback port; return
    the process, once ready, and an Api with a fresh token.  MASTER_YAML
    (lines of master keys) and WORKER_YAML (", key: value" for each worker)
    add to the configuration; READ_ROOTS, a list, is data.read_roots.
    KILN and PLUGIN_DIR default to the tree's (an out-of-tree build gives
    its own).  The caller terminates the process (then may remove D)."""
    kiln = kiln or os.path.join(TOP, "kiln")
    plugin_dir = plugin_dir or os.path.join(TOP, "plugins", "lib")
    port = free_port()
    conf = os.path.join(d, "cluster.yaml")
    master_yaml = "".join(f"  {line}\n" for line in master_yaml.splitlines())
    data = f"data:\n  read_roots: [{', '.join(read_roots)}]\n" if read_roots else ""
    with open(conf, "w") as f:
        f.write(f"""master:
  port: {port}
  data_dir: {d}/master
  plugin_dir: {plugin_dir}
  dags_dir: {d}/dags
{master_yaml}  auth:
    secret_file: {d}/secret
{data}workers:
  - {{ name: w1, slots: {slots}{worker_yaml} }}
  - {{ name: w2, slots: {slots}{worker_yaml} }}
""")
    env = dict(os.environ, KILN_SQLITE_SYNC=sync)
    up = subprocess.Popen([kiln, "up", "-c", conf], stdout=subprocess.PIPE,
                          stderr=open(os.path.join(d, "up.log"), "w"), text=True, env=env)
    for line in up.stdout:
        if "ready in" in line:
            break
    try:
        tok = json.loads(subprocess.run([kiln, "-c", conf, "token", "create", "--json"],
                                        capture_output=True, text=True, check=True).stdout)["token"]
    except Exception:
        up.terminate()
        up.wait(timeout=30)
        raise
    return up, Api(port, tok)


def run_dag(api, dag, poll=0.02):
    """Trigger DAG, wait for its run to end, polling every POLL seconds;
    return the run (GET /api/v1/runs/RUN) and the seconds from the trigger
    to the end.  Exits if the run failed."""
    t0 = time.perf_counter()
    st, r = api.req("POST", f"/api/v1/dags/{dag}/trigger", {})
    if st not in (200, 201):
        sys.exit(f"kiln: triggering {dag}: {st} {r}")
    while True:
        st, run = api.req("GET", f"/api/v1/runs/{r['run_id']}")
        if run["state"] in ("success", "failed"):
            break
        time.sleep(poll)
    el = time.perf_counter() - t0
    if run["state"] != "success":
        sys.exit(f"kiln run of {dag} failed: {run.get('tasks')}")
    return run, el


def run_kiln(args, tls=False, isolation="process"):
    top = args.top or TOP
    kiln = os.path.join(top, "kiln")
    plugins = os.path.join(top, "plugins", "lib")
    # "none": no isolation key, for builds from before it (--top).
    iso = "" if isolation == "none" else f"\n    isolation: {isolation}"
    tls_key = f"\n  tls: {{ mode: {'on' if tls else 'off'} }}" if tls or isolation != "none" else ""
    d = tempfile.mkdtemp(prefix="kiln-bench.")
    port = free_port()
    conf = os.path.join(d, "cluster.yaml")
    with open(conf, "w") as f:
        f.write(f"""cluster:
  name: bench
master:
  port: {port}
  data_dir: {d}/master
  plugin_dir: {plugins}
  heartbeat_interval: 1s{tls_key}
  auth:
    secret_file: {d}/secret
workers:
  - name: w1
    slots: 1{iso}
  - name: w2
    slots: 1{iso}
""")
    env = dict(os.environ, KILN_SQLITE_SYNC=args.sync)
    t0 = time.monotonic()
    up = subprocess.Popen([kiln, "up", "-c", conf], stdout=subprocess.PIPE,
                          stderr=open(os.path.join(d, "up.log"), "w"), text=True, env=env)
    ready_ms = None
    for line in up.stdout:
        if "ready in" in line:
            ready_ms = float(line.split("ready in")[1].split("ms")[0])
            wall_ms = (time.monotonic() - t0) * 1000
            break
    res = {"ready_ms": ready_ms, "ready_wall_ms": wall_ms}
    try:
        tok = json.loads(subprocess.run([kiln, "-c", conf, "token", "create", "--json"],
                                        capture_output=True, text=True, check=True).stdout)["token"]
        ca = None
        if tls:
            ca = os.path.join(d, "ca.pem")
            with open(ca, "w") as f:
                f.write(subprocess.run([kiln, "-c", conf, "cert", "ca"], capture_output=True,
                                       text=True, check=True).stdout)
        api = Api(port, tok, ca)
        time.sleep(1.0)
        kids = children(up.pid)
        res["rss_master_kb"] = rss_kb(kids["master"])
        res["rss_worker_kb"] = max(rss_kb(kids["w1"]), rss_kb(kids["w2"]))
        res["pss_master_kb"] = pss_kb(kids["master"])
        res["pss_worker_kb"] = max(pss_kb(kids["w1"]), pss_kb(kids["w2"]))
        res["rss_wtree_kb"] = max(sum(rss_kb(p) for p in tree(kids[w])) for w in ("w1", "w2"))
        res["pss_wtree_kb"] = max(sum(pss_kb(p) for p in tree(kids[w])) for w in ("w1", "w2"))

        # Latency, then the disk's floor in the store's directory right
        # after; and with the CPUs held out of their idle state, when this
        # user may (see latency_section).
        raw = RawApi(port, tok, ca)
        latency_section(raw, args, res, "")
        res["fsync_append_ms"], res["fsync_overwrite_ms"] = fsync_floor(d)
        with cpu_awake() as held:
            if held:
                latency_section(raw, args, res, "awake_")

        # Throughput: bulk submit, wait until the last is recorded succeeded.
        n = args.tasks
        nodes = tree(up.pid)[1:]       # master, workers, executors
        cpu0 = cpu_ms(nodes)
        mcpu0 = cpu_ms([kids["master"]])
        t = time.perf_counter()
        ids = []
        for k in range(0, n, 10000):
            st, r = api.req("POST", "/api/v1/jobs/batch",
                            {"jobs": [{"plugin": "noop"}] * min(10000, n - k)})
            assert st == 201, r
            ids += r["ids"]
        while True:
            st, h = api.req("GET", "/api/v1/health")
            if h["queued"] == 0 and h["running"] == 0:
                break
            time.sleep(0.002)
        el = time.perf_counter() - t
        st, j = api.req("GET", f"/api/v1/jobs/{ids[-1]}")
        assert j["state"] == "succeeded"
        res["tasks_per_s"] = n / el
        # CPU per task is what the machine's load does not change much:
        # compare builds by it when the rate is noisy.
        res["cpu_ms_per_1k"] = (cpu_ms(nodes) - cpu0) * 1000 / n
        res["master_cpu_ms_per_1k"] = (cpu_ms([kids["master"]]) - mcpu0) * 1000 / n
    finally:
        up.terminate()
        up.wait(timeout=20)
        shutil.rmtree(d, ignore_errors=True)
    return res


def run_dask(args):
    # Debian's python3-distributed lives in the system Python.
    if subprocess.run(["/usr/bin/python3", "-c", "import distributed"],
                      capture_output=True).returncode != 0:
        return None
    peer = os.path.join(os.path.dirname(TOP), "shared", "bench")
    if not os.path.isdir(peer):
        peer = os.environ.get("KILN_PEER_BENCH", "")
    if not os.path.exists(os.path.join(peer, "dask_noop.py")):
        return None
    out = subprocess.run(["/usr/bin/python3", os.path.join(peer, "dask_noop.py"), str(min(args.tasks, 5000))],
                         capture_output=True, text=True, timeout=600).stdout
    mem = subprocess.run(["/usr/bin/python3", os.path.join(peer, "dask_mem.py")],
                         capture_output=True, text=True, timeout=600).stdout
    return out.strip() + "\n" + mem.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=50000)
    ap.add_argument("--latency", type=int, default=500)
    ap.add_argument("--sync", choices=["full", "normal"], default="full")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--tls", choices=["off", "on", "both"], default="off")
    ap.add_argument("--isolation", choices=["process", "thread", "both", "none"],
                    default="process")
    ap.add_argument("--top", help="the build to measure (default: this tree); "
                    "with --isolation none, one from before isolation")
    args = ap.parse_args()
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.tls]
    isos = {"process": ["process"], "thread": ["thread"],
            "both": ["process", "thread"], "none": ["none"]}[args.isolation]
    for tls, iso in [(t, i) for t in modes for i in isos]:
        r = run_kiln(args, tls, iso)
        print(f"kiln (sqlite synchronous={args.sync}, 2 workers x 1 slot, "
              f"{'TLS' if tls else 'plain HTTP'} on loopback, isolation: {iso})")
        print(f"  ready after kiln up:   {r['ready_ms']:.0f} ms (wall, incl. exec: {r['ready_wall_ms']:.0f} ms)")
        print(f"  idle RSS:              master {r['rss_master_kb']/1024:.1f} MB, worker {r['rss_worker_kb']/1024:.1f} MB"
              f" (PSS {r['pss_master_kb']/1024:.1f} and {r['pss_worker_kb']/1024:.1f} MB)")
        print(f"  idle worker with its executors: RSS {r['rss_wtree_kb']/1024:.1f} MB, PSS {r['pss_wtree_kb']/1024:.1f} MB")
        total = (r['rss_master_kb'] + 2 * r['rss_worker_kb']) / 1024
        print(f"  no-op tasks/s:         {r['tasks_per_s']:.0f}  ({args.tasks} tasks, bulk submit to durable success)")
        print(f"  CPU per 1,000 tasks:   {r['cpu_ms_per_1k']:.1f} ms (master, workers and executors, user+system;"
              f" the master {r['master_cpu_ms_per_1k']:.1f} ms)")
        for pre, how in (("", ""), ("awake_", "CPUs kept awake (/dev/cpu_dma_latency 0): ")):
            if pre + "lat_p50_ms" not in r:
                print("  (the latency with the CPUs kept awake needs root: /dev/cpu_dma_latency)")
                continue
            print(f"  {how}latency submit->result p50 {r[pre+'lat_p50_ms']:.3f} ms, p99 {r[pre+'lat_p99_ms']:.3f} ms"
                  f" ({args.latency} jobs; POST, then GET ?wait)")
            print(f"  {' ' * len(how)}... in one request     p50 {r[pre+'lat1_p50_ms']:.3f} ms, p99 {r[pre+'lat1_p99_ms']:.3f} ms"
                  f" (POST ?wait, alternated with the above)")
            print(f"  {' ' * len(how)}floors: this client's HTTP round trip {r[pre+'http_rt_ms']:.3f} ms (GET /api/v1/health);"
                  f" a pipe round trip between two processes {r[pre+'wake_us']:.0f} us")
        print(f"  disk's fsync floor:    4 KiB write + fdatasync, median: appending {r['fsync_append_ms']:.3f} ms,"
              f" in place {r['fsync_overwrite_ms']:.3f} ms (same directory, same run)")
    if not args.no_dask:
        d = run_dask(args)
        if d:
            print("dask distributed (same machine, same run):")
            print("  " + d.replace("\n", "\n  "))
            import re
            m = re.search(r"= (\d+) tasks/s", d)
            l = re.search(r"p50=([\d.]+)ms", d)
            t = re.search(r"total ([\d.]+) MB", d)
            if m and l and t:
                print(f"ratios kiln/dask: throughput {r['tasks_per_s']/float(m.group(1)):.0f}x, "
                      f"p50 latency {float(l.group(1))/r['lat_p50_ms']:.1f}x lower, "
                      f"idle memory (RSS, 3 processes) {float(t.group(1))/total:.1f}x lower")
        else:
            print("dask: python3-distributed not installed; skipped")


if __name__ == "__main__":
    main()
