# SPDX-License-Identifier: MIT
# notify-listen.py SOCKET LOG URL - stand in for systemd's end of
# sd_notify(3) in tests/integration/systemd.sh: bind a unix datagram
# socket at SOCKET and append each message to LOG, one line per message
# with its newlines as '|'.  At each READY=1 it asks URL/api/v1/health at
# once and appends "health: STATUS WORKERS_ALIVE" (or "health: down"), so
# the test sees what the node served at the moment it said it was ready.
import json, os, socket, sys, urllib.request

path, log, url = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(path + ".bound", "w"):
    pass
while True:
    msg = s.recv(4096).decode("utf-8", "replace")
    lines = [msg.replace("\n", "|")]
    if "READY=1" in msg.split("\n"):
        try:
            with urllib.request.urlopen(url + "/api/v1/health", timeout=2) as r:
                h = json.load(r)
                lines.append("health: %s %s" % (h.get("status"), h.get("workers_alive")))
        except Exception as e:
            lines.append("health: down (%s)" % e)
    with open(log, "a") as f:
        for l in lines:
            f.write(l + "\n")
