#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Drive QEMU's mirror job in a qemu-storage-daemon over its QMP socket, as
libvirt does for a migration with --copy-storage-all: mirror the VM's disk
to the destination's NBD export, wait until the job is ready, and at
switch-over cancel it (a ready mirror then leaves a consistent copy).

usage: qmp.py SOCKET mirror NODE HOST PORT EXPORT MODE   (MODE: background|write-blocking)
       qmp.py SOCKET wait-ready [TIMEOUT_S]     prints the seconds waited
       qmp.py SOCKET cancel                     returns once the job is gone
"""
import json
import socket
import sys
import time

JOB = "mirror"


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.f = self.sock.makefile("rw")
        json.loads(self.f.readline())  # the greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg) + "\n")
        self.f.flush()
        while True:
            reply = json.loads(self.f.readline())
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise SystemExit("qmp %s: %s" % (name, reply["error"]["desc"]))
            # anything else is an event: not needed, polled instead

    def job(self):
        jobs = [j for j in self.cmd("query-block-jobs") if j["device"] == JOB]
        return jobs[0] if jobs else None


def main(argv):
    q = Qmp(argv[1])
    what = argv[2]
    if what == "mirror":
        node, host, port, export, mode = argv[3:8]
        q.cmd("blockdev-add", driver="nbd", **{"node-name": "target"},
              server={"type": "inet", "host": host, "port": port}, export=export)
        q.cmd("blockdev-mirror", **{"job-id": JOB, "copy-mode": mode},
              device=node, target="target", sync="full")
    elif what == "wait-ready":
        limit = float(argv[3]) if len(argv) > 3 else 600
        t0 = time.monotonic()
        while True:
            j = q.job()
            if j is None:
                raise SystemExit("qmp: the mirror job is gone")
            if j.get("ready"):
                break
            if time.monotonic() - t0 > limit:
                raise SystemExit("qmp: the mirror job is not ready after %gs" % limit)
            time.sleep(0.1)
        print("%.3f" % (time.monotonic() - t0))
    elif what == "cancel":
        q.cmd("block-job-cancel", device=JOB)
        while q.job() is not None:
            time.sleep(0.01)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
