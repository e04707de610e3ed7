# SPDX-License-Identifier: MIT
# notify-hook.py PORT KEYFILE LOG MASTER_URL TOKEN OWNKEYFILE - a webhook
# receiver for tests/integration/notify.sh: each POST is checked against
# its X-Kiln-Signature (HMAC-SHA256 of the body under the key in KEYFILE,
# or in OWNKEYFILE for the paths under /own: a webhook's `secret:`) and
# appended to LOG as one JSON line: path, valid, event, task, run_id,
# try, and, for a deadline, the state its task had in the master's API at
# that moment; the delivery id of the header and of the body, and the
# body's time_ms.  The path /fail-once answers 500 to its first request;
# the paths under /hang never answer (it closes after 7 s, past kiln's
# timeout) until a file hook-up is next to LOG: a receiver that is down.
# Requests are served each on its own thread.
import hashlib, hmac, json, os, sys, time, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, keyfile, log, master, token, ownfile = sys.argv[1:7]
seen = set()

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        key = open(ownfile if self.path.startswith("/own") else keyfile).read().strip().encode()
        want = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        got = self.headers.get("X-Kiln-Signature", "")
        ev = json.loads(body)
        rec = {"path": self.path, "valid": hmac.compare_digest(want, got),
               "event": ev.get("event"), "task": ev.get("task"),
               "run_id": ev.get("run_id"), "try": ev.get("try"),
               "ts": self.headers.get("X-Kiln-Timestamp"),
               "link": ev.get("link"),
               "delivery": self.headers.get("X-Kiln-Delivery"),
               "delivery_id": ev.get("delivery_id"),
               "time_ms": ev.get("time_ms")}
        if self.path.startswith("/hang") and not os.path.exists(
                os.path.join(os.path.dirname(log), "hook-up")):
            rec["answered"] = None
            with open(log, "a") as f:
                f.write(json.dumps(rec) + "\n")
            time.sleep(7)
            self.close_connection = True
            return
        if ev.get("event") == "deadline_missed" and ev.get("task"):
            req = urllib.request.Request(master + "/api/v1/runs/" + ev["run_id"],
                                         headers={"Authorization": "Bearer " + token})
            with urllib.request.urlopen(req, timeout=10) as r:
                run = json.load(r)
            rec["task_state"] = [t["state"] for t in run["tasks"]
                                 if t["task"] == ev["task"]][0]
        code = 200
        if self.path == "/fail-once" and self.path not in seen:
            seen.add(self.path)
            code = 500
        rec["answered"] = code
        with open(log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(port)), H).serve_forever()
