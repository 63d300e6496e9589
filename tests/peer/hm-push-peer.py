#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A second implementation of the push protocol, to test the kernel's.

  source --connect H:P --key-text K --sectors N --chunk S --mode M
      acts as a source against a kernel destination. Mode "good" pushes a
      deterministic pattern (chunk i filled with bytes derived from i; every
      fourth chunk all zero, sent as a ZERO run), checks every ACK and exits
      0; the test then compares the destination's data with `pattern`.
      The hostile modes send one bad thing after a good SETUP (or instead
      of it) and exit 0 only if the destination closes the connection
      without acknowledging anything of it.

  source --connect H:P --key-text K --sectors N --chunk S --modes-from-stdin
      runs the modes named on stdin, one a line, each on a fresh
      connection as a run with --mode does, and prints a line after each:
      "done M ok" ("done good ok MD5", MD5 the md5 of `pattern`'s output)
      or "done M failed: WHY". Exits 0 at the end of stdin. A test drives
      it from a coprocess, to check the destination between modes and pay
      for one Python start, not one a mode.

  dest --listen H:P --key-text K --mode M
      acts as a destination against a kernel source. Hostile modes answer
      with a bogus ACK and exit 0 only if the source closes the link;
      "nak-first" fails the first run (ACK status 1) and exits 0 once the
      source has pushed those chunks again.

  dest --listen H:P --key-text K --modes-from-stdin
      the same for each mode named on stdin, one a line: listens (prints
      "listening"), serves one link in that mode, stops listening (the
      source's reconnects are refused, as when a --mode run exits) and
      prints "done M ok" or "done M failed: WHY".

  pattern --sectors N --chunk S
      writes the "good" pattern to stdout.

Exit status: 0 as expected, 1 not as expected, 2 usage.
"""
import argparse
import hashlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
import hmproto as hp  # noqa: E402

SOURCE_MODES = ["good", "data-before-setup", "out-of-range", "short-data",
                "zero-with-data", "bad-flags", "setup-twice",
                "data-on-control", "ack-from-source", "bad-geometry"]
DEST_MODES = ["ack-unknown", "ack-twice", "nak-first", "geometry-refuse"]

# The last thing logged: why a mode failed, for --modes-from-stdin.
last_log = ""


def log(msg):
    global last_log
    last_log = msg
    print("hm-push-peer: %s" % msg, file=sys.stderr, flush=True)


def chunk_bytes(geo, i):
    n = geo.chunk_len(i)
    if i % 4 == 3:
        return bytes(n)
    seed = (i * 2654435761) & 0xFFFFFFFF
    return (seed.to_bytes(4, "big") + b"hmig") * (n // 8)


def pattern(geo):
    """The "good" pattern, chunk by chunk."""
    for i in range(geo.nr_chunks):
        yield chunk_bytes(geo, i)


def connect_lanes(args, key):
    chans = []
    try:
        for lane in range(hp.NR_LANES):
            host, port = hp.parse_hostport(args.connect)
            s = socket.create_connection((host, port), timeout=args.timeout)
            try:
                chans.append(hp.client_handshake(s, key, lane, args.timeout))
            except Exception:
                s.close()
                raise
    except Exception:
        # A lane left up would outlive this mode under --modes-from-stdin.
        for ch in chans:
            ch.close()
        raise
    return chans


def expect_closed(ch, timeout, what):
    """True if the peer closes ch (anything it sends first is ignored)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                log("%s: still open after %gs" % (what, timeout))
                return False
            h, _ = ch.recv(left)
            if h.type == hp.ACK:
                log("%s: the peer acknowledged it" % what)
                return False
    except hp.Timeout:
        log("%s: still open after %gs" % (what, timeout))
        return False
    except (hp.ProtoError, OSError) as e:
        log("%s: closed (%s): good" % (what, e))
        return True


def setup(ctl, geo):
    ctl.send(hp.SETUP, geo.setup_payload())
    h, p = ctl.recv(10)
    if h.type != hp.SETUP_ACK:
        raise hp.Unexpected("%s instead of SETUP_ACK" % hp.type_name(h.type))
    return hp.parse_setup_ack(p)[0]


def push_good(ctl, bulk, geo):
    if setup(ctl, geo) != hp.SETUP_OK:
        log("SETUP refused")
        return 1
    chunks = list(range(geo.nr_chunks))
    sent = {}
    for first, nr in geo.runs(chunks):
        # Split runs at zero/non-zero boundaries, as the kernel does.
        i = first
        while i < first + nr:
            zero = i % 4 == 3
            j = i + 1
            while j < first + nr and (j % 4 == 3) == zero:
                j += 1
            data = b"" if zero else b"".join(chunk_bytes(geo, c)
                                             for c in range(i, j))
            bulk.send(hp.DATA, hp.pack_data(i, j - i, data, zero=zero))
            sent[i] = j - i
            i = j
    acked = 0
    while sent:
        h, p = bulk.recv(30)
        if h.type != hp.ACK:
            continue
        first, nr, status = hp.parse_ack(p)
        if sent.pop(first, None) != nr or status:
            log("unexpected ACK %d+%d status %d" % (first, nr, status))
            return 1
        acked += nr
    log("all %d chunks acknowledged" % acked)
    return 0


def push_hostile(mode, ctl, bulk, geo):
    c = geo.chunk_len(0)
    if mode == "bad-geometry":
        bad = hp.Geometry(geo.target_sectors + geo.chunk_sectors,
                          geo.chunk_sectors)
        status = setup(ctl, bad)
        if status != hp.SETUP_GEOMETRY:
            log("SETUP with a wrong length answered %s" %
                hp.setup_status_name(status))
            return 1
        return 0 if expect_closed(ctl, 10, mode) else 1
    if mode != "data-before-setup":
        if setup(ctl, geo) != hp.SETUP_OK:
            log("SETUP refused")
            return 1
    ch = bulk
    if mode in ("good", "data-before-setup"):
        payload = hp.pack_data(0, 1, bytes(c))
    elif mode == "out-of-range":
        payload = hp.pack_data(geo.nr_chunks, 1, bytes(c))
    elif mode == "short-data":
        payload = hp.pack_data(0, 2, bytes(c))
    elif mode == "zero-with-data":
        payload = hp.pack_data(0, 1, bytes(c), zero=True)
    elif mode == "bad-flags":
        payload = hp.pack_data(0, 1, bytes(c), flags=0x2)
    elif mode == "setup-twice":
        ctl.send(hp.SETUP, geo.setup_payload())
        return 0 if expect_closed(ctl, 10, mode) else 1
    elif mode == "data-on-control":
        payload = hp.pack_data(0, 1, bytes(c))
        ch = ctl
    elif mode == "ack-from-source":
        bulk.send(hp.ACK, hp.pack_ack(0, 1))
        return 0 if expect_closed(bulk, 10, mode) else 1
    ch.send(hp.DATA, payload)
    return 0 if expect_closed(ch, 10, mode) else 1


def run_modes(choices, run):
    """The --modes-from-stdin loop: run(mode) -> (exit status, detail) for
    each mode named on stdin, one a line, then "done MODE ok[ DETAIL]" or
    "done MODE failed: WHY" on stdout. Returns 0 at the end of stdin."""
    global last_log
    while True:
        line = sys.stdin.readline()
        if not line:
            return 0
        mode = line.strip()
        if not mode:
            continue
        last_log = "no reason given"
        if mode not in choices:
            log("unknown mode %r" % mode)
            rc, detail = 1, ""
        else:
            try:
                rc, detail = run(mode)
            except (hp.ProtoError, OSError) as e:
                log("error: %s" % e)
                rc, detail = 1, ""
        if rc == 0:
            print("done %s ok%s" % (mode, " " + detail if detail else ""),
                  flush=True)
        else:
            print("done %s failed: %s" % (mode, last_log), flush=True)


def run_source(args, key, mode):
    geo = hp.Geometry(args.sectors, args.chunk)
    ctl, bulk = connect_lanes(args, key)
    try:
        if mode == "good":
            return push_good(ctl, bulk, geo)
        return push_hostile(mode, ctl, bulk, geo)
    finally:
        ctl.close()
        bulk.close()


def cmd_source(args, key):
    if not args.modes_from_stdin:
        return run_source(args, key, args.mode)
    geo = hp.Geometry(args.sectors, args.chunk)
    md5 = hashlib.md5()
    for data in pattern(geo):
        md5.update(data)

    def run(mode):
        rc = run_source(args, key, mode)
        return rc, md5.hexdigest() if mode == "good" else ""
    return run_modes(SOURCE_MODES, run)


def accept_lanes(lsock, key, timeout):
    chans = {}
    lsock.settimeout(timeout)
    try:
        while len(chans) < hp.NR_LANES:
            s, _ = lsock.accept()
            try:
                ch = hp.server_handshake(s, key)
            except Exception:
                s.close()
                raise
            chans[ch.lane] = ch
    except Exception:
        # A lane left up would outlive this mode under --modes-from-stdin.
        for ch in chans.values():
            ch.close()
        raise
    return chans[hp.LANE_CONTROL], chans[hp.LANE_BULK]


def answer_pings(ch):
    try:
        while True:
            h, p = ch.recv()
            if h.type == hp.PING:
                ch.send(hp.PONG, p)
    except (hp.ProtoError, OSError):
        pass


def serve(args, key, lsock, mode):
    ctl, bulk = accept_lanes(lsock, key, args.timeout)
    try:
        return serve_lanes(mode, ctl, bulk)
    finally:
        ctl.close()
        bulk.close()


def serve_lanes(mode, ctl, bulk):
    h, p = ctl.recv(10)
    if h.type != hp.SETUP:
        log("%s instead of SETUP" % hp.type_name(h.type))
        return 1
    if mode == "geometry-refuse":
        ctl.send(hp.SETUP_ACK, hp.pack_setup_ack(hp.SETUP_GEOMETRY))
        return 0 if expect_closed(ctl, 10, mode) else 1
    ctl.send(hp.SETUP_ACK, hp.pack_setup_ack())

    h, p = bulk.recv(30)
    while h.type != hp.DATA:
        h, p = bulk.recv(30)
    first, nr, _, _ = hp.parse_data(p)
    log("first run: %d+%d" % (first, nr))
    if mode == "ack-unknown":
        bulk.send(hp.ACK, hp.pack_ack(first + 1000000, 1))
        return 0 if expect_closed(bulk, 10, mode) else 1
    if mode == "ack-twice":
        bulk.send(hp.ACK, hp.pack_ack(first, nr))
        bulk.send(hp.ACK, hp.pack_ack(first, nr))
        return 0 if expect_closed(bulk, 10, mode) else 1

    # nak-first: fail the first run, acknowledge everything else, and
    # wait for the failed chunks to come again. The control lane answers
    # keepalives meanwhile (this can take longer than a dead link's time).
    threading.Thread(target=answer_pings, args=(ctl,), daemon=True).start()
    bulk.send(hp.ACK, hp.pack_ack(first, nr, 1))
    failed = set(range(first, first + nr))
    deadline = time.monotonic() + 60
    while failed and time.monotonic() < deadline:
        h, p = bulk.recv(30)
        if h.type == hp.PING:
            bulk.send(hp.PONG, p)
        if h.type != hp.DATA:
            continue
        f, n, _, _ = hp.parse_data(p)
        failed -= set(range(f, f + n))
        bulk.send(hp.ACK, hp.pack_ack(f, n))
    if failed:
        log("chunks %s never pushed again" % sorted(failed)[:8])
        return 1
    log("the failed run was pushed again")
    # Take the rest too, until the source has sent nothing for 3 s.
    idle_until = time.monotonic() + 3
    try:
        while time.monotonic() < idle_until:
            h, p = bulk.recv(idle_until - time.monotonic())
            if h.type == hp.PING:
                bulk.send(hp.PONG, p)
            elif h.type == hp.DATA:
                f, n, _, _ = hp.parse_data(p)
                bulk.send(hp.ACK, hp.pack_ack(f, n))
                idle_until = time.monotonic() + 3
    except hp.Timeout:
        pass
    return 0


def run_dest(args, key, mode):
    host, port = hp.parse_hostport(args.listen)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    lsock = socket.socket(fam, socket.SOCK_STREAM)
    try:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((host, port))
        lsock.listen(8)
        print("listening", flush=True)
        return serve(args, key, lsock, mode)
    finally:
        lsock.close()


def cmd_dest(args, key):
    if not args.modes_from_stdin:
        return run_dest(args, key, args.mode)
    return run_modes(DEST_MODES, lambda mode: (run_dest(args, key, mode), ""))


def cmd_pattern(args):
    geo = hp.Geometry(args.sectors, args.chunk)
    out = sys.stdout.buffer
    for data in pattern(geo):
        out.write(data)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("source")
    s.add_argument("--connect", required=True)
    m = s.add_mutually_exclusive_group()
    m.add_argument("--mode", choices=SOURCE_MODES, default="good")
    m.add_argument("--modes-from-stdin", action="store_true",
                   help="run the modes named on stdin, one a line")
    d = sub.add_parser("dest")
    d.add_argument("--listen", required=True)
    m = d.add_mutually_exclusive_group(required=True)
    m.add_argument("--mode", choices=DEST_MODES)
    m.add_argument("--modes-from-stdin", action="store_true",
                   help="serve the modes named on stdin, one a line")
    for p in (s, d):
        p.add_argument("--key-text", required=True,
                       help="the logon key's payload, as text")
        p.add_argument("--timeout", type=float, default=10.0)
    for p in (s, sub.add_parser("pattern")):
        p.add_argument("--sectors", type=int, required=True)
        p.add_argument("--chunk", type=int, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "pattern":
        return cmd_pattern(args)
    key = args.key_text.encode()
    try:
        return cmd_source(args, key) if args.cmd == "source" \
            else cmd_dest(args, key)
    except (hp.ProtoError, OSError) as e:
        log("error: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
