#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Self-test of hmproto.py, hm-peer.py and hm-push-peer.py over loopback; no
kernel needed.

In-process tests drive the protocol module over socket pairs; CLI tests
run hm-peer.py subcommands against each other on ephemeral loopback
ports (a server, a hostile peer, a fault-injecting proxy between a client
and a server) and check that each side detects and closes what the kernel
must detect and close. hm-push-peer.py's runs of several modes in one
process meet a destination and a source written here.

Prints one line per test and ends with "N passed, M failed"; exits
non-zero if any test failed.
"""

import errno
import hashlib
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep the tree clean
import hmproto as hp  # noqa: E402

PEER = os.path.join(HERE, "hm-peer.py")
PUSH_PEER = os.path.join(HERE, "hm-push-peer.py")
KEY = b"test secret \x00\xff key"
TMP = tempfile.mkdtemp(prefix="hm-peer-test.")
KEYFILE = os.path.join(TMP, "key")
WRONGFILE = os.path.join(TMP, "wrong")
with open(KEYFILE, "wb") as f:
    f.write(KEY)
with open(WRONGFILE, "wb") as f:
    f.write(b"not the key")


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def eq(a, b, what=""):
    if a != b:
        raise Fail("%s: %r != %r" % (what, a, b))


# --- Processes -------------------------------------------------------------------

class Proc:
    """A hm-peer.py subcommand in the background, its output in a file."""

    _n = 0

    def __init__(self, *args, listens=True):
        Proc._n += 1
        self.path = os.path.join(TMP, "%s-%d.log" % (args[0], Proc._n))
        self.out = open(self.path, "w")
        self.p = subprocess.Popen(
            [sys.executable, PEER] + list(args), stdout=self.out,
            stderr=subprocess.STDOUT, text=True)
        self.port = None
        if listens:
            deadline = time.monotonic() + 10
            while "\n" not in self.log() and time.monotonic() < deadline:
                if self.p.poll() is not None:
                    break
                time.sleep(0.02)
            first = self.log().split("\n", 1)[0]
            check(first.startswith("listening on "),
                  "%s: %r" % (args[0], self.log()))
            self.port = int(first.rsplit(":", 1)[1])

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def log(self):
        """Everything it printed so far."""
        with open(self.path) as f:
            return f.read()

    def _finish(self, timeout, what):
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise Fail("did not exit %s within %gs" % (what, timeout))
        finally:
            self.out.close()

    def stop(self, timeout=5):
        """SIGTERM, then the whole output; fails if it does not exit."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        self._finish(timeout, "on SIGTERM")
        return self.log()

    def wait(self, timeout=20):
        self._finish(timeout, "by itself")
        return self.p.returncode, self.log()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.out.close()


def run(*args, timeout=30):
    p = subprocess.run([sys.executable, PEER] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class Server:
    def __init__(self, *extra):
        self.proc = Proc("server", "--listen", "127.0.0.1:0",
                         "--key-file", KEYFILE, *extra)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()

    @property
    def addr(self):
        return self.proc.addr

    def stop(self):
        return self.proc.stop()


def client(addr, *extra, key=KEYFILE):
    return run("client", "--connect", addr, "--key-file", key,
               "--ping-timeout", "3", "--timeout", "5", *extra)


# --- In-process helpers ----------------------------------------------------------

def pair():
    a, b = socket.socketpair()
    return a, b


def handshake_pair(ckey=KEY, skey=KEY, lane=0):
    """Client and server handshakes on a socket pair, in two threads."""
    cs, ss = pair()
    res = {}

    def srv():
        try:
            res["server"] = hp.server_handshake(ss, skey, 5)
        except hp.ProtoError as e:
            res["server"] = e

    t = threading.Thread(target=srv)
    t.start()
    try:
        res["client"] = hp.client_handshake(cs, ckey, lane, 5)
    except hp.ProtoError as e:
        res["client"] = e
    t.join(10)
    return res["client"], res["server"], cs, ss


# --- Tests: the module ------------------------------------------------------------

def test_codec():
    eq(hp.HDR_LEN, 24, "header size")
    mib = 1 << 20
    # Type 19 (HANDOVER_REQUEST) has no payload; 20 is unknown: 0 too.
    eq([hp.payload_len(t) for t in range(21)],
       [0, 40, 72, 32, 4, 0, 8, 8, 32, 8, 16, 16, 8, 16, 16, 8, 8, 0, 0, 0,
        0], "payload sizes")
    eq([hp.max_payload_len(t) for t in range(21)],
       [0, 40, 72, 32, 4, 0, 8, 8, 32, 8, 16 + mib, 16, 8, 16 + mib,
        16 + mib, 8, 8, 0, 0, 0, 0],
       "largest payload sizes")
    eq((hp.PULL, hp.PULL_DATA, hp.HANDOVER_MAP, hp.HANDOVER,
        hp.HANDOVER_ACK, hp.COMPLETE, hp.ABORT, hp.HANDOVER_REQUEST,
        hp.TYPE_MAX),
       (12, 13, 14, 15, 16, 17, 18, 19, 19), "type numbers")
    eq(hp.type_name(hp.HANDOVER_REQUEST), "HANDOVER_REQUEST", "type name")
    eq(hp.type_name(20), "type20", "an unknown type's name")
    eq(hp.PUSH_SENDER[hp.HANDOVER_REQUEST], "server",
       "HANDOVER_REQUEST comes from the destination")
    check(hp.is_migration(hp.HANDOVER_REQUEST) and not hp.is_migration(20),
          "HANDOVER_REQUEST is a migration frame")
    eq((hp.DEST_WAITING, hp.DEST_POSTCOPY, hp.DEST_COMPLETE,
        hp.DEST_ABORTED), (0, 1, 2, 3), "destination phases")
    eq((hp.ACK_OK, hp.ACK_FAILED, hp.ACK_RETRY), (0, 1, 2), "ACK statuses")
    eq((hp.HANDOVER_OK, hp.HANDOVER_BAD_MAP, hp.HANDOVER_FAILED), (0, 1, 2),
       "HANDOVER_ACK statuses")
    eq((hp.SETUP_OK, hp.SETUP_GEOMETRY, hp.SETUP_MIGRATION), (0, 1, 2),
       "SETUP_ACK statuses")
    b = hp.pack_hdr(hp.PING, 1, 8, 0x0102030405060708)
    eq(b, b"HMIG\x02\x06\x01\x00\x00\x00\x00\x08\x00\x00\x00\x00"
       b"\x01\x02\x03\x04\x05\x06\x07\x08", "wire bytes")
    h = hp.unpack_hdr(b)
    eq(hp.hdr_check(h, 1, 0x0102030405060708), 0, "good header")
    eq(hp.hdr_check(h, 0, 0x0102030405060708), -errno.EPROTO, "lane")
    eq(hp.hdr_check(h, 1, 1), -errno.EBADMSG, "seq")
    for kw, err in (({"magic": 0x474D4948}, -errno.EPROTO),
                    ({"version": 1}, -errno.EPROTO),
                    ({"version": 3}, -errno.EPROTO),
                    ({"flags": 1}, -errno.EPROTO),
                    ({"reserved": 1}, -errno.EPROTO)):
        h = hp.unpack_hdr(hp.pack_hdr(hp.PING, 0, 8, 0, **kw))
        eq(hp.hdr_check(h, 0, 0), err, repr(kw))
    for t, ln in ((0, 0), (20, 16), (20, 8), (20, 0), (255, 0)):
        eq(hp.hdr_check(hp.unpack_hdr(hp.pack_hdr(t, 0, ln, 0)), 0, 0),
           -errno.EPROTO, "type %d" % t)
    eq(hp.hdr_check(hp.unpack_hdr(hp.pack_hdr(18, 0, 0, 0)), 0, 0), 0,
       "ABORT")
    eq(hp.hdr_check(hp.unpack_hdr(hp.pack_hdr(19, 0, 0, 0)), 0, 0), 0,
       "HANDOVER_REQUEST, the last type")
    for t in range(1, 20):
        good = hp.max_payload_len(t)
        for ln in (good + 1, hp.MAX_PAYLOAD + 1, 0xFFFFFFFF):
            eq(hp.hdr_check(hp.unpack_hdr(hp.pack_hdr(t, 0, ln, 0)), 0, 0),
               -errno.EMSGSIZE, "type %d len %d" % (t, ln))
    check(all(hp.is_handshake(t) for t in range(1, 5)), "handshake types")
    check(not any(hp.is_handshake(t) for t in (0, 5, 6, 7, 8)), "session")


def test_push_bounds():
    """hdr_check's per-type bounds of the push frames, one byte either
    side."""
    mib = 1 << 20
    cases = [(hp.DATA, 0, False), (hp.DATA, 15, False), (hp.DATA, 16, True),
             (hp.DATA, 17, True), (hp.DATA, 16 + 4096, True),
             (hp.DATA, 16 + mib - 1, True), (hp.DATA, 16 + mib, True),
             (hp.DATA, 16 + mib + 1, False),
             (hp.DATA, hp.MAX_PAYLOAD, False),
             (hp.DATA, hp.MAX_PAYLOAD + 1, False),
             (hp.SETUP, 0, False), (hp.SETUP, 16, False),
             (hp.SETUP, 31, False), (hp.SETUP, 32, True),
             (hp.SETUP, 33, False),
             (hp.SETUP_ACK, 7, False), (hp.SETUP_ACK, 8, True),
             (hp.SETUP_ACK, 9, False), (hp.SETUP_ACK, 16, False),
             (hp.ACK, 15, False), (hp.ACK, 16, True), (hp.ACK, 17, False),
             (hp.ACK, 16 + 4096, False),
             (hp.PING, 16, False), (hp.WELCOME, 16, False),
             # Post-copy: PULL_DATA is a DATA payload, HANDOVER_MAP a
             # 16-byte head and up to 1 MiB of bits, the rest fixed.
             (hp.PULL_DATA, 15, False), (hp.PULL_DATA, 16, True),
             (hp.PULL_DATA, 16 + mib, True),
             (hp.PULL_DATA, 16 + mib + 1, False),
             (hp.HANDOVER_MAP, 15, False), (hp.HANDOVER_MAP, 16, True),
             (hp.HANDOVER_MAP, 17, True), (hp.HANDOVER_MAP, 16 + mib, True),
             (hp.HANDOVER_MAP, 16 + mib + 1, False),
             (hp.HANDOVER_MAP, hp.MAX_PAYLOAD, False),
             (hp.PULL, 7, False), (hp.PULL, 8, True), (hp.PULL, 9, False),
             (hp.PULL, 16, False),
             (hp.HANDOVER, 7, False), (hp.HANDOVER, 8, True),
             (hp.HANDOVER, 9, False),
             (hp.HANDOVER_ACK, 7, False), (hp.HANDOVER_ACK, 8, True),
             (hp.HANDOVER_ACK, 9, False),
             (hp.COMPLETE, 0, True), (hp.COMPLETE, 1, False),
             (hp.ABORT, 0, True), (hp.ABORT, 1, False),
             (hp.ABORT, 8, False),
             (hp.HANDOVER_REQUEST, 0, True),
             (hp.HANDOVER_REQUEST, 1, False),
             (hp.HANDOVER_REQUEST, 8, False)]
    for t, ln, ok in cases:
        for lane in (0, 1):
            h = hp.unpack_hdr(hp.pack_hdr(t, lane, ln, 7))
            eq(hp.hdr_check(h, lane, 7), 0 if ok else -errno.EMSGSIZE,
               "%s len %d lane %d" % (hp.type_name(t), ln, lane))
    # The length is checked before the sequence number.
    h = hp.unpack_hdr(hp.pack_hdr(hp.DATA, 1, 16 + mib + 1, 7))
    eq(hp.hdr_check(h, 1, 8), -errno.EMSGSIZE, "length before seq")
    h = hp.unpack_hdr(hp.pack_hdr(hp.DATA, 1, 16 + mib, 7))
    eq(hp.hdr_check(h, 1, 8), -errno.EBADMSG, "then seq")
    eq([hp.frame_lane(t) for t in (hp.SETUP, hp.SETUP_ACK, hp.DATA, hp.ACK,
                                   hp.PING)], [0, 0, 1, 1, 0], "lanes")
    # Pulls and their replies never wait behind bulk data.
    eq([hp.frame_lane(t) for t in range(hp.PULL, hp.HANDOVER_REQUEST + 1)],
       [0] * 8, "post-copy frames on the control lane")


def test_push_payloads():
    """Wire bytes of the push payloads, and parse of pack."""
    eq(hp.pack_setup(0x0102030405, 128, migration_id=bytes(range(16))),
       bytes.fromhex("0000000102030405" "00000080" "00000000"
                     "000102030405060708090a0b0c0d0e0f"), "SETUP")
    eq(hp.parse_setup(hp.pack_setup(524288, 128, 3)),
       (524288, 128, 3, hp.PEER_MIGRATION_ID), "parse_setup")
    eq(len(hp.PEER_MIGRATION_ID), hp.MIGRATION_ID_LEN, "peer migration id")
    eq(hp.pack_setup_ack(hp.SETUP_GEOMETRY),
       bytes.fromhex("00000001" "00000000"), "SETUP_ACK")
    eq(hp.pack_setup_ack(hp.SETUP_OK, hp.DEST_ABORTED),
       bytes.fromhex("00000000" "00000003"), "SETUP_ACK with a phase")
    eq(hp.parse_setup_ack(hp.pack_setup_ack(1, 2)), (1, 2), "parse_setup_ack")
    eq(hp.pack_data(0x7FFFFFFE, 16, zero=True),
       bytes.fromhex("000000007ffffffe" "00000010" "00000001"), "ZERO")
    eq(hp.pack_data(3, 1, b"abc"),
       bytes.fromhex("0000000000000003" "00000001" "00000000") + b"abc",
       "DATA")
    eq(hp.parse_data(hp.pack_data(5, 2, b"xy", flags=6)), (5, 2, 6, b"xy"),
       "parse_data")
    eq(hp.pack_ack(0x7FFFFFFE, 16, 5),
       bytes.fromhex("000000007ffffffe" "00000010" "00000005"), "ACK")
    eq(hp.parse_ack(hp.pack_ack(9, 8, 7)), (9, 8, 7), "parse_ack")
    eq([len(p) for p in (hp.pack_setup(1, 8), hp.pack_setup_ack(),
                         hp.pack_data(0, 1, zero=True), hp.pack_ack(0, 1))],
       [32, 8, 16, 16], "sizes")


def test_postcopy_payloads():
    """Wire bytes of PULL, HANDOVER_MAP, HANDOVER, HANDOVER_ACK; the map's
    bit order; the pieces a missing set is cut into."""
    eq(hp.pack_pull(0x0102030405060708), bytes.fromhex("0102030405060708"),
       "PULL")
    eq(hp.parse_pull(hp.pack_pull(77)), 77, "parse_pull")
    eq(hp.pack_handover(0x100000002), bytes.fromhex("0000000100000002"),
       "HANDOVER")
    eq(hp.parse_handover(hp.pack_handover(5)), 5, "parse_handover")
    eq(hp.pack_handover_ack(hp.HANDOVER_BAD_MAP),
       bytes.fromhex("00000001" "00000000"), "HANDOVER_ACK")
    eq(hp.parse_handover_ack(hp.pack_handover_ack(0, 9)), (0, 9),
       "parse_handover_ack")
    # Bit i of byte j is chunk first + 8j + i, least significant first.
    eq(hp.encode_map({8, 15, 17, 60}, 0, 61),
       bytes([0x00, 0x81, 0x02, 0, 0, 0, 0, 0x10]), "map bits")
    eq(hp.encode_map({8, 15, 17, 60}, 8, 16), bytes([0x81, 0x02]),
       "map bits from chunk 8")
    eq(hp.decode_map(8, 16, bytes([0x81, 0x02])), {8, 15, 17}, "decode")
    eq(hp.decode_map(0, 3, bytes([0xff])), {0, 1, 2},
       "bits past nr ignored")
    eq(hp.pack_handover_map(16, 9, bytes([1, 1])),
       bytes.fromhex("0000000000000010" "00000009" "00000000") + b"\x01\x01",
       "HANDOVER_MAP")
    eq(hp.parse_handover_map(hp.pack_handover_map(8, 3, b"\x05", 2)),
       (8, 3, 2, b"\x05"), "parse_handover_map")
    # Pieces: chunk 0 up, piece_chunks each; pieces with nothing missing
    # are left out; the last piece may be short.
    pieces = hp.map_pieces(100, {3, 70, 99}, piece_chunks=32)
    eq([hp.parse_handover_map(p)[:2] for p in pieces],
       [(0, 32), (64, 32), (96, 4)], "pieces without missing chunks omitted")
    got = set()
    for p in pieces:
        got |= hp.Geometry(800, 8).check_handover_map(p)[2]
    eq(got, {3, 70, 99}, "pieces decode to the missing set")
    eq(hp.map_pieces(100, set()), [], "nothing missing: no piece")
    eq(len(hp.map_pieces(hp.MAP_PIECE_CHUNKS + 1, {0, hp.MAP_PIECE_CHUNKS})),
       2, "a piece covers at most 8 Mi chunks")
    eq(len(hp.map_pieces(hp.MAP_PIECE_CHUNKS, {0})[0]), 16 + (1 << 20),
       "the largest piece is the largest HANDOVER_MAP payload")


def test_postcopy_rules():
    """What each end must refuse in PULL, PULL_DATA, HANDOVER_MAP and ACK
    statuses."""
    g = hp.Geometry(41, 8)   # 6 chunks, the last 512 bytes
    eq(g.check_pull(hp.pack_pull(5)), 5, "PULL of the last chunk")
    check(_bad_payload(g.check_pull, hp.pack_pull(6)), "PULL past the end")
    check(_bad_payload(g.check_pull, hp.pack_pull((1 << 64) - 1)),
          "PULL of chunk 2^64-1")
    eq(g.check_pull_data(hp.pack_data(2, 1, bytes(4096))),
       (2, False, bytes(4096)), "PULL_DATA")
    eq(g.check_pull_data(hp.pack_data(5, 1, zero=True)), (5, True, b""),
       "PULL_DATA, ZERO")
    for what, p in (("two chunks", hp.pack_data(0, 2, bytes(8192))),
                    ("no chunk", hp.pack_data(0, 0, zero=True)),
                    ("past the end", hp.pack_data(6, 1, zero=True)),
                    ("short", hp.pack_data(1, 1, bytes(4095))),
                    ("short chunk whole", hp.pack_data(5, 1, bytes(4096))),
                    ("flags", hp.pack_data(1, 1, zero=True, flags=3))):
        check(_bad_payload(g.check_pull_data, p), "PULL_DATA " + what)
    eq(g.check_handover_map(hp.pack_handover_map(0, 6, b"\x21")),
       (0, 6, {0, 5}), "map of the whole device")
    for what, p in (
            ("no chunks", hp.pack_handover_map(0, 0, b"")),
            ("first not a multiple of 8", hp.pack_handover_map(1, 5)),
            ("first past the end", hp.pack_handover_map(8, 1)),
            ("past the end", hp.pack_handover_map(0, 7)),
            ("a byte short", hp.pack_handover_map(0, 6, b"")),
            ("a byte long", hp.pack_handover_map(0, 6, b"\x01\x00")),
            ("flags", hp.pack_handover_map(0, 6, flags=1)),
            ("head cut", hp.pack_handover_map(0, 6)[:15])):
        check(_bad_payload(g.check_handover_map, p), "HANDOVER_MAP " + what)
    # Pieces in chunk order, without overlap: each starts at or after
    # the end of the one before (next_first); gaps are fine.
    big = hp.Geometry(8 * 20, 8)   # 20 chunks: a piece at 16 is short
    eq(big.check_handover_map(hp.pack_handover_map(8, 8, b"\x01"), 8),
       (8, 8, {8}), "a piece right after the previous one")
    eq(big.check_handover_map(hp.pack_handover_map(16, 4, b"\x01"), 8),
       (16, 4, {16}), "a piece after a gap")
    for what, p, after in (
            ("before the previous piece", hp.pack_handover_map(0, 8), 8),
            ("overlapping the previous piece",
             hp.pack_handover_map(8, 8), 16),
            ("repeated", hp.pack_handover_map(16, 4), 20)):
        check(_bad_payload(big.check_handover_map, p, after),
              "HANDOVER_MAP " + what)
    eq(big.check_handover_map(hp.pack_handover_map(16, 4, b"\x08")),
       (16, 4, {19}), "a short last piece")
    check(_bad_payload(big.check_handover_map,
                       hp.pack_handover_map(16, 5, b"\x08")),
          "a piece one chunk past the end")
    eq([g.check_ack(hp.pack_ack(0, 1, st))[2] for st in (0, 1, 2)],
       [hp.ACK_OK, hp.ACK_FAILED, hp.ACK_RETRY], "ACK statuses")
    for st in (3, 5, 0xFFFFFFFF):
        check(_bad_payload(g.check_ack, hp.pack_ack(0, 1, st)),
              "ACK status %d" % st)


def _bad_payload(fn, *a):
    try:
        fn(*a)
    except hp.BadPayload:
        return True
    return False


def test_geometry():
    # 41 sectors in chunks of 8: 6 chunks, the last one 1 sector.
    g = hp.Geometry(41, 8)
    eq((g.nr_chunks, g.chunk_bytes), (6, 4096), "chunks")
    eq([g.chunk_len(c) for c in range(6)], [4096] * 5 + [512], "lengths")
    eq((g.run_len(0, 6), g.run_len(4, 2), g.run_len(2, 1)),
       (5 * 4096 + 512, 4096 + 512, 4096), "run lengths")
    # SETUP.
    eq(g.check_setup(hp.pack_setup(41, 8)), hp.SETUP_OK, "same")
    eq(g.check_setup(hp.pack_setup(40, 8)), hp.SETUP_GEOMETRY, "length")
    eq(g.check_setup(hp.pack_setup(41, 16)), hp.SETUP_GEOMETRY, "chunk")
    check(_bad_payload(g.check_setup, hp.pack_setup(41, 8, 1)), "flags")
    # DATA: good runs.
    eq(g.check_data(hp.pack_data(0, 2, bytes(8192))), (0, 2, False,
                                                       bytes(8192)), "run")
    eq(g.check_data(hp.pack_data(4, 2, b"x" * 4608))[:3], (4, 2, False),
       "run ending in the short chunk")
    eq(g.check_data(hp.pack_data(0, 6, zero=True)), (0, 6, True, b""),
       "ZERO run of the whole device")
    # DATA: every broken rule.
    for what, p in (
            ("no chunks", hp.pack_data(0, 0)),
            ("no chunks, ZERO", hp.pack_data(0, 0, zero=True)),
            ("first beyond the end", hp.pack_data(6, 1, zero=True)),
            ("run beyond the end", hp.pack_data(5, 2, zero=True)),
            ("first near 2^64", hp.pack_data((1 << 64) - 1, 2, zero=True)),
            ("nr near 2^32", hp.pack_data(1, 0xFFFFFFFF, zero=True)),
            ("one byte short", hp.pack_data(0, 1, bytes(4095))),
            ("one byte long", hp.pack_data(0, 1, bytes(4097))),
            ("short chunk sent whole", hp.pack_data(5, 1, bytes(4096))),
            ("ZERO with data", hp.pack_data(0, 1, bytes(4096), zero=True)),
            ("ZERO with a byte", hp.pack_data(0, 1, b"\0", zero=True)),
            ("unknown flag", hp.pack_data(0, 1, bytes(4096), flags=2)),
            ("ZERO and unknown", hp.pack_data(0, 1, flags=0x80000001)),
            ("head cut", hp.pack_data(0, 1)[:15])):
        check(_bad_payload(g.check_data, p), "DATA " + what)
    # No run covers more than 1 MiB, ZERO or not.
    big = hp.Geometry(4096, 8)   # 512 chunks of 4 KiB
    eq(big.check_data(hp.pack_data(0, 256, zero=True))[:3], (0, 256, True),
       "1 MiB ZERO run")
    eq(len(big.check_data(hp.pack_data(0, 256, bytes(1 << 20)))[3]),
       1 << 20, "1 MiB run")
    check(_bad_payload(big.check_data, hp.pack_data(0, 257, zero=True)),
          "ZERO run over 1 MiB")
    check(_bad_payload(big.check_data, hp.pack_data(0, 257,
                                                    bytes(257 * 4096))),
          "run over 1 MiB")
    # ACK.
    eq(g.check_ack(hp.pack_ack(4, 2, 0)), (4, 2, 0), "ACK")
    eq(g.check_ack(hp.pack_ack(0, 1, 1)), (0, 1, 1), "failed write")
    eq(g.check_ack(hp.pack_ack(0, 1, 2)), (0, 1, 2), "busy: retry")
    check(_bad_payload(g.check_ack, hp.pack_ack(0, 1, 5)), "status 5")
    for p in (hp.pack_ack(0, 0), hp.pack_ack(6, 1), hp.pack_ack(5, 2),
              hp.pack_ack((1 << 64) - 1, 1)):
        check(_bad_payload(g.check_ack, p), "ACK %r" % (hp.parse_ack(p),))
    # Runs of adjacent chunks, at most 1 MiB each.
    eq(g.runs([0, 1, 2, 4, 5]), [(0, 3), (4, 2)], "runs")
    eq(g.runs([0, 1, 2, 3], max_bytes=8192), [(0, 2), (2, 2)], "capped")
    eq(big.runs(range(512)), [(0, 256), (256, 256)], "1 MiB runs")
    eq(g.runs([]), [], "none")


def test_hmac_vector():
    # RFC 4231 test case 2, fed in several parts.
    eq(hp.hmac256(b"Jefe", b"what do ya", b" want ", b"for nothing?").hex(),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
       "HMAC-SHA256")


def test_gcm_vector():
    # AES-256-GCM, test case 16 of McGrew & Viega's GCM specification
    # (the vectors NIST's gcmEncryptExtIV256 file also carries).
    key = bytes.fromhex("feffe9928665731c6d6a8f9467308308"
                        "feffe9928665731c6d6a8f9467308308")
    iv = bytes.fromhex("cafebabefacedbaddecaf888")
    aad = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    pt = bytes.fromhex("d9313225f88406e5a55909c5aff5269a"
                       "86a7a9531534f7da2e4c303d8a318a72"
                       "1c3c0c95956809532fcf0e2449a6b525"
                       "b16aedf5aa0de657ba637b39")
    out = hp.AESGCM(key).encrypt(iv, pt, aad)
    eq(out[:-16].hex(),
       "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
       "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
       "ciphertext")
    eq(out[-16:].hex(), "76fc6ece0f4e1768cddf8853bb2d551b", "tag")


def test_sealed_frame():
    """A session frame: header in clear (the AAD), payload encrypted with
    nonce 0^4 || be64(seq), 16-byte tag; no other key, seq or header opens
    it."""
    k = bytes(range(32))
    payload = hp.ping_payload(0x0102030405060708)
    f = hp.encode_frame(hp.PING, 1, 5, payload, k)
    hdr = f[:hp.HDR_LEN]
    eq(hdr, hp.pack_hdr(hp.PING, 1, len(payload), 5), "header in clear")
    eq(len(f), hp.HDR_LEN + len(payload) + hp.TAG_LEN, "length")
    check(f[hp.HDR_LEN:hp.HDR_LEN + len(payload)] != payload, "encrypted")
    want = hp.AESGCM(k).encrypt(bytes(4) + (5).to_bytes(8, "big"), payload,
                                hdr)
    eq(f[hp.HDR_LEN:], want, "AES-256-GCM, nonce from seq, header as AAD")
    eq(hp.unseal(k, hdr, f[hp.HDR_LEN:]), payload, "opens")
    check(hp.unseal(bytes(32), hdr, f[hp.HDR_LEN:]) is None, "other key")
    h6 = hp.pack_hdr(hp.PING, 1, len(payload), 6)
    check(hp.unseal(k, h6, f[hp.HDR_LEN:]) is None, "other seq")
    h0 = hp.pack_hdr(hp.PONG, 1, len(payload), 5)
    check(hp.unseal(k, h0, f[hp.HDR_LEN:]) is None, "other type")
    eq(hp.frame_wire_len(hp.unpack_hdr(hdr)), len(f), "frame_wire_len")


def test_labels_separate():
    n1, n2 = os.urandom(32), os.urandom(32)
    # A server proof can never serve as a client proof, even for equal
    # nonces (a reflecting server) or swapped ones (a reflecting client).
    check(hp.server_proof(KEY, 0, n1, n2) != hp.client_proof(KEY, 0, n2, n1),
          "swapped nonces")
    check(hp.server_proof(KEY, 0, n1, n1) != hp.client_proof(KEY, 0, n1, n1),
          "equal nonces")
    c2s, s2c = hp.session_keys(KEY, 0, n1, n2)
    check(c2s != s2c, "direction keys differ")
    check(hp.session_keys(KEY, 1, n1, n2) != (c2s, s2c), "lane keys differ")
    check(hp.server_proof(KEY, 0, n1, n2) != hp.server_proof(KEY, 1, n1, n2),
          "lane in the proof")
    eq(hp.server_proof(KEY, 1, n1, n2),
       hp.hmac256(KEY, b"hybridmig v1 server proof\x01" + n1 + n2),
       "server proof input")
    eq(hp.client_proof(KEY, 1, n2, n1),
       hp.hmac256(KEY, b"hybridmig v1 client proof\x01" + n2 + n1),
       "client proof input")


def test_splitter():
    rnd = random.Random(1)
    k = os.urandom(32)
    frames = [hp.encode_frame(hp.HELLO, 0, 0, hp.hello_payload(bytes(32))),
              hp.encode_frame(hp.WELCOME, 0, 1, b"", k),
              hp.encode_frame(hp.PING, 0, 2, hp.ping_payload(7), k),
              hp.encode_frame(hp.REJECT, 0, 3, hp.reject_payload(2))]
    stream = b"".join(frames)
    for _ in range(50):
        sp = hp.FrameSplitter()
        got, i = [], 0
        while i < len(stream):
            n = rnd.randint(1, 40)
            got += [f for _, f in sp.feed(stream[i:i + n])]
            i += n
        eq(got, frames, "frames")
    sp = hp.FrameSplitter()
    out = sp.feed(b"XMIG" + bytes(30))
    eq(out, [(None, b"XMIG" + bytes(30))], "raw mode")
    eq(sp.feed(b"more"), [(None, b"more")], "stays raw")
    huge = hp.pack_hdr(hp.PING, 0, 0xFFFFFFFF, 0)
    check(hp.FrameSplitter().feed(huge)[0][0] is None, "huge len is raw")


def test_handshake_ok():
    for lane in (0, 1):
        c, s, cs, ss = handshake_pair(lane=lane)
        check(isinstance(c, hp.Channel), "client: %s" % c)
        check(isinstance(s, hp.Channel), "server: %s" % s)
        eq((c.lane, s.lane), (lane, lane), "lanes")
        eq((c.send_seq, c.recv_seq, s.send_seq, s.recv_seq), (2, 2, 2, 2),
           "seqs after the handshake")
        eq(c.tx_key, s.rx_key, "c2s key")
        eq(c.rx_key, s.tx_key, "s2c key")
        c.send(hp.PING, hp.ping_payload(42))
        h, p = s.recv(2)
        eq((h.type, h.seq, hp.parse_ping(p)), (hp.PING, 2, 42), "ping")
        s.send(hp.PONG, p)
        h, p = c.recv(2)
        eq((h.type, h.seq, hp.parse_ping(p)), (hp.PONG, 2, 42), "pong")
        cs.close()
        ss.close()


def test_handshake_wrong_key():
    c, s, cs, ss = handshake_pair(ckey=b"wrong")
    check(isinstance(c, hp.AuthFailed), "client: %r" % c)
    check(isinstance(s, hp.Rejected) and s.reason == hp.REJECT_AUTH,
          "server got REJECT auth: %r" % s)
    cs.close()
    ss.close()


def test_server_checks_client_proof():
    """A client that does not check the server, with the wrong key: the
    server must refuse it on its own."""
    cs, ss = pair()
    res = {}
    t = threading.Thread(target=lambda: res.update(
        s=_catch(hp.server_handshake, ss, KEY, 5)))
    t.start()
    ch = hp.Channel(cs, "client", 0)
    nc = os.urandom(32)
    ch.send(hp.HELLO, hp.hello_payload(nc))
    h, p = ch.recv(5)
    ns = hp.parse_challenge(p)[3]
    ch.send(hp.RESPONSE, hp.client_proof(b"wrong", 0, ns, nc))
    h, p = ch.recv(5)
    eq((h.type, h.seq, hp.parse_reject(p)), (hp.REJECT, 1, hp.REJECT_AUTH),
       "REJECT auth at seq 1")
    t.join(5)
    check(isinstance(res["s"], hp.AuthFailed), "server: %r" % res["s"])
    cs.close()
    ss.close()


def _catch(fn, *a):
    try:
        return fn(*a)
    except hp.ProtoError as e:
        return e


def test_reflection_in_process():
    # Client side: a server that echoes nc as ns, with the only proof it
    # could have (none): the client must answer REJECT auth, never RESPONSE.
    for proof in (bytes(32), os.urandom(32), None):
        cs, ss = pair()
        res = {}
        t = threading.Thread(target=lambda: res.update(
            c=_catch(hp.client_handshake, cs, KEY, 0, 5)))
        t.start()
        sch = hp.Channel(ss, "server", None)
        h, p = sch.recv(5)
        nc = hp.parse_hello(p)[3]
        pr = proof if proof is not None else nc
        sch.send(hp.CHALLENGE, hp.challenge_payload(nc, pr))
        h, p = sch.recv(5)
        eq((h.type, hp.parse_reject(p)), (hp.REJECT, hp.REJECT_AUTH),
           "client rejected the reflecting server")
        t.join(5)
        check(isinstance(res["c"], hp.AuthFailed), "client: %r" % res["c"])
        cs.close()
        ss.close()
    # Server side: a client that sends back the server's proof.
    cs, ss = pair()
    res = {}
    t = threading.Thread(target=lambda: res.update(
        s=_catch(hp.server_handshake, ss, KEY, 5)))
    t.start()
    ch = hp.Channel(cs, "client", 0)
    ch.send(hp.HELLO, hp.hello_payload(os.urandom(32)))
    h, p = ch.recv(5)
    ch.send(hp.RESPONSE, hp.parse_challenge(p)[4])
    h, p = ch.recv(5)
    eq((h.type, hp.parse_reject(p)), (hp.REJECT, hp.REJECT_AUTH),
       "server rejected its own proof")
    t.join(5)
    check(isinstance(res["s"], hp.AuthFailed), "server: %r" % res["s"])
    cs.close()
    ss.close()


def test_version_reject():
    cs, ss = pair()
    res = {}
    t = threading.Thread(target=lambda: res.update(
        s=_catch(hp.server_handshake, ss, KEY, 5)))
    t.start()
    ch = hp.Channel(cs, "client", 0)
    ch.send(hp.HELLO, hp.hello_payload(os.urandom(32), hp.VERSION + 1,
                                       hp.VERSION + 2))
    h, p = ch.recv(5)
    eq((h.type, h.seq, hp.parse_reject(p)), (hp.REJECT, 0, hp.REJECT_VERSION),
       "REJECT version")
    t.join(5)
    check(isinstance(res["s"], hp.NoVersion), "server: %r" % res["s"])
    cs.close()
    ss.close()


def test_session_violations():
    """Each violation after the handshake is caught by the receiver."""
    def fresh():
        c, s, cs, ss = handshake_pair()
        check(isinstance(c, hp.Channel) and isinstance(s, hp.Channel),
              "handshake")
        return c, s

    # A flipped MAC bit.
    c, s = fresh()
    f = bytearray(hp.encode_frame(hp.PING, 0, 2, hp.ping_payload(1),
                                  c.tx_key))
    f[-1] ^= 0x80
    c.send_raw(bytes(f))
    check(isinstance(_catch(s.recv, 2), hp.BadMac), "flipped MAC")
    # A flipped payload bit.
    c, s = fresh()
    f = bytearray(hp.encode_frame(hp.PING, 0, 2, hp.ping_payload(1),
                                  c.tx_key))
    f[hp.HDR_LEN] ^= 1
    c.send_raw(bytes(f))
    check(isinstance(_catch(s.recv, 2), hp.BadMac), "flipped payload")
    # A replayed frame (same bytes twice).
    c, s = fresh()
    f = hp.encode_frame(hp.PING, 0, 2, hp.ping_payload(1), c.tx_key)
    c.send_raw(f + f)
    s.recv(2)
    e = _catch(s.recv, 2)
    check(isinstance(e, hp.BadHeader) and e.err == -errno.EBADMSG,
          "replay: %r" % e)
    # A frame reflected back to its sender: right seq, wrong direction key.
    c, s = fresh()
    c.send(hp.PING, hp.ping_payload(5))
    raw = hp.encode_frame(hp.PING, 0, 2, hp.ping_payload(5), c.tx_key)
    s.recv(2)
    s.send_raw(raw)
    check(isinstance(_catch(c.recv, 2), hp.BadMac), "reflected frame")
    # A frame of the other lane's session (keys are per lane).
    c, s = fresh()
    k1 = hp.session_keys(KEY, 1, c.nc, c.ns)[0]
    c.send_raw(hp.encode_frame(hp.PING, 0, 2, hp.ping_payload(1), k1))
    check(isinstance(_catch(s.recv, 2), hp.BadMac), "other lane's key")
    # A handshake frame after the handshake.
    c, s = fresh()
    c.send(hp.HELLO, hp.hello_payload(os.urandom(32)))
    check(isinstance(_catch(s.recv, 2), hp.Unexpected), "HELLO in session")
    c, s = fresh()
    c.send(hp.REJECT, hp.reject_payload(hp.REJECT_AUTH))
    check(isinstance(_catch(s.recv, 2), hp.Unexpected), "REJECT in session")
    # A frame that ends early.
    c, s = fresh()
    c.send_raw(hp.encode_frame(hp.PING, 0, 2, hp.ping_payload(1),
                               c.tx_key)[:40])
    c.sock.shutdown(socket.SHUT_WR)
    e = _catch(s.recv, 2)
    check(isinstance(e, hp.PeerClosed) and e.partial, "truncated: %r" % e)


def up_lanes(src_geo=None, dst_geo=None):
    """Both lanes of a link up: {lane: (source channel, dest channel)}."""
    lanes = {}
    for lane in (hp.LANE_CONTROL, hp.LANE_BULK):
        c, s, _, _ = handshake_pair(lane=lane)
        check(isinstance(c, hp.Channel) and isinstance(s, hp.Channel),
              "handshake lane %d" % lane)
        lanes[lane] = (c, s)
    return lanes


def _close_lanes(lanes):
    for c, s in lanes.values():
        c.close()
        s.close()


def test_push_session():
    """A push over two up lanes, both ends in Python: SETUP on control,
    runs of DATA (and ZERO) on bulk, ACKs in the order the writes end, the
    destination's copy equal to the source's in the end."""
    geo = hp.Geometry(8 * 40 + 3, 8)       # 41 chunks, the last short
    rnd = random.Random(4)
    image = bytearray(rnd.getrandbits(8) for _ in range(geo.target_sectors
                                                         * hp.SECTOR))
    for c in (3, 4, 5, 20):                  # all-zero chunks
        off = geo.offset(c)
        image[off:off + geo.chunk_len(c)] = bytes(geo.chunk_len(c))
    lanes = up_lanes()
    (sc, dc), (sb, db) = lanes[0], lanes[1]
    res = {}

    def dest():
        try:
            g = hp.dest_setup(dc, geo, 5)
            copy = bytearray(len(image))
            pending, written = [], set()
            while len(written) < g.nr_chunks:
                h, p = db.recv(5)
                eq(h.type, hp.DATA, "type")
                first, nr, zero, data = g.check_data(p)
                off = g.offset(first)
                n = g.run_len(first, nr)
                copy[off:off + n] = bytes(n) if zero else data
                written.update(range(first, first + nr))
                pending.append((first, nr))
                if len(pending) == 3 or len(written) == g.nr_chunks:
                    # Writes end in any order: acknowledge backwards.
                    for f, k in reversed(pending):
                        db.send(hp.ACK, hp.pack_ack(f, k))
                    pending = []
            res["copy"] = copy
        except (hp.ProtoError, Fail) as e:
            res["dest"] = e

    t = threading.Thread(target=dest)
    t.start()
    try:
        hp.source_setup(sc, geo, 5)
        inflight, acked, sent = {}, 0, 0
        zero_frames = 0
        for first, nr in geo.runs(range(geo.nr_chunks), max_bytes=3 * 4096):
            off = geo.offset(first)
            data = bytes(image[off:off + geo.run_len(first, nr)])
            zero = not any(data)
            zero_frames += zero
            sb.send(hp.DATA, hp.pack_data(first, nr, b"" if zero else data,
                                          zero=zero))
            inflight[first] = nr
            sent += nr
        while inflight:
            h, p = sb.recv(5)
            eq(h.type, hp.ACK, "ACK")
            first, nr, status = geo.check_ack(p)
            eq(status, 0, "write status")
            eq(inflight.pop(first, None), nr, "an ACK names a run in flight")
            acked += nr
        eq((sent, acked), (41, 41), "all chunks sent and acknowledged")
        check(zero_frames >= 1, "a ZERO run went")
    finally:
        t.join(10)
        _close_lanes(lanes)
    check("dest" not in res, "destination: %r" % res.get("dest"))
    check(res.get("copy") == image, "the copy equals the source")


def test_setup_phase():
    """SETUP_ACK carries the destination's phase; a source refuses a phase
    it does not know."""
    for phase in (hp.DEST_WAITING, hp.DEST_POSTCOPY, hp.DEST_COMPLETE,
                  hp.DEST_ABORTED):
        lanes = up_lanes()
        (sc, dc) = lanes[0]
        res = {}
        t = threading.Thread(target=lambda: res.update(
            d=_catch(hp.dest_setup, dc, hp.Geometry(64, 8), 5, phase)))
        t.start()
        got = _catch(hp.source_setup, sc, hp.Geometry(64, 8), 5)
        t.join(5)
        eq(got, phase, "source learns phase %s" % hp.dest_phase_name(phase))
        check(isinstance(res["d"], hp.Geometry), "dest: %r" % res["d"])
        _close_lanes(lanes)
    lanes = up_lanes()
    (sc, dc) = lanes[0]
    t = threading.Thread(target=lambda: (
        dc.recv(5), dc.send(hp.SETUP_ACK, hp.pack_setup_ack(0, 4))))
    t.start()
    e = _catch(hp.source_setup, sc, hp.Geometry(64, 8), 5)
    t.join(5)
    check(isinstance(e, hp.BadPayload), "phase 4: %r" % e)
    _close_lanes(lanes)


def test_postcopy_session():
    """A handover and post-copy, both ends in Python over two up lanes:
    the source pushes part of the disk, fences, sends the map in pieces
    (none for a range with nothing missing) and HANDOVER; the destination
    checks the count, answers HANDOVER_ACK, pulls what its VM reads on
    the control lane while prefetched data comes on bulk, and reports
    COMPLETE; the copy equals the source."""
    geo = hp.Geometry(8 * 100, 8)          # 100 chunks of 4 KiB
    rnd = random.Random(5)
    image = bytes(rnd.getrandbits(8) for _ in range(geo.target_sectors *
                                                     hp.SECTOR))
    pushed = set(range(0, 40))              # crossed before handover
    missing = set(range(geo.nr_chunks)) - pushed
    lanes = up_lanes()
    (sc, dc), (sb, db) = lanes[0], lanes[1]
    res = {}

    def chunk(c):
        return image[geo.offset(c):geo.offset(c) + geo.chunk_len(c)]

    def dest():
        try:
            g = hp.dest_setup(dc, geo, 5)
            copy = bytearray(len(image))
            have = set()
            for _ in range(len(pushed)):
                h, p = db.recv(5)
                first, nr, zero, data = g.check_data(p)
                copy[g.offset(first):g.offset(first) + len(data)] = data
                have.update(range(first, first + nr))
                db.send(hp.ACK, hp.pack_ack(first, nr))
            staged, pieces = set(), 0
            while True:
                h, p = dc.recv(5)
                if h.type == hp.HANDOVER:
                    break
                eq(h.type, hp.HANDOVER_MAP, "map piece")
                staged |= g.check_handover_map(p)[2]
                pieces += 1
            eq(hp.parse_handover(p), len(staged), "HANDOVER's count")
            dc.send(hp.HANDOVER_ACK, hp.pack_handover_ack())
            res["pieces"] = pieces
            want = set(staged)
            # The VM reads chunks 99 and 50: pulled on the control lane.
            for c in (99, 50):
                dc.send(hp.PULL, hp.pack_pull(c))
                h, p = dc.recv(5)
                eq(h.type, hp.PULL_DATA, "pull reply")
                got, zero, data = g.check_pull_data(p)
                eq(got, c, "the chunk asked for")
                copy[g.offset(c):g.offset(c) + len(data)] = data
                want.discard(c)
            # The rest is prefetched on the bulk lane.
            while want:
                h, p = db.recv(5)
                first, nr, zero, data = g.check_data(p)
                copy[g.offset(first):g.offset(first) + len(data)] = data
                want -= set(range(first, first + nr))
                db.send(hp.ACK, hp.pack_ack(first, nr))
            dc.send(hp.COMPLETE)
            res["copy"] = copy
        except (hp.ProtoError, Fail) as e:
            res["dest"] = e

    t = threading.Thread(target=dest)
    t.start()
    try:
        eq(hp.source_setup(sc, geo, 5), hp.DEST_WAITING, "phase")
        for c in sorted(pushed):
            sb.send(hp.DATA, hp.pack_data(c, 1, chunk(c)))
            geo.check_ack(sb.recv(5)[1])
        # Fenced: the map of the missing set, pieces of 32 chunks.
        pieces = hp.map_pieces(geo.nr_chunks, missing, piece_chunks=32)
        for p in pieces:
            sc.send(hp.HANDOVER_MAP, p)
        sc.send(hp.HANDOVER, hp.pack_handover(len(missing)))
        h, p = sc.recv(5)
        eq((h.type, hp.parse_handover_ack(p)),
           (hp.HANDOVER_ACK, (hp.HANDOVER_OK, 0)), "HANDOVER_ACK")
        left = set(missing)
        for _ in range(2):
            h, p = sc.recv(5)
            eq(h.type, hp.PULL, "PULL")
            c = geo.check_pull(p)
            sc.send(hp.PULL_DATA, hp.pack_data(c, 1, chunk(c)))
            left.discard(c)
        for first, nr in geo.runs(sorted(left), max_bytes=8 * 4096):
            off = geo.offset(first)
            sb.send(hp.DATA, hp.pack_data(
                first, nr, image[off:off + geo.run_len(first, nr)]))
        acked = 0
        while acked < len(left):
            acked += geo.check_ack(sb.recv(5)[1])[1]
        h, _ = sc.recv(5)
        eq(h.type, hp.COMPLETE, "COMPLETE")
    finally:
        t.join(10)
        _close_lanes(lanes)
    check("dest" not in res, "destination: %r" % res.get("dest"))
    # Chunks 40..99 missing: pieces at 32 and 64, 96; none at 0.
    eq(res.get("pieces"), 3, "map pieces sent")
    check(res.get("copy") == bytearray(image), "the copy equals the source")


def test_handover_request_session():
    """auto_handover, both ends in Python: the destination's VM writes
    before handover, so it sends HANDOVER_REQUEST (no payload, control
    lane) and holds the write; the source hands over as if told to (map
    pieces in chunk order, HANDOVER) and the destination answers
    HANDOVER_ACK, then releases the write."""
    geo = hp.Geometry(8 * 64, 8)           # 64 chunks
    missing = {0, 9, 33, 63}
    lanes = up_lanes()
    (sc, dc) = lanes[0]
    res = {}

    def dest():
        try:
            g = hp.dest_setup(dc, geo, 5)
            dc.send(hp.HANDOVER_REQUEST)   # the VM's first write, held
            staged, nxt = set(), 0
            while True:
                h, p = dc.recv(5)
                if h.type == hp.HANDOVER:
                    break
                eq(h.type, hp.HANDOVER_MAP, "map piece")
                first, nr, got = g.check_handover_map(p, nxt)
                staged |= got
                nxt = first + nr
            eq(hp.parse_handover(p), len(staged), "HANDOVER's count")
            dc.send(hp.HANDOVER_ACK, hp.pack_handover_ack())
            res["staged"] = staged
        except (hp.ProtoError, Fail) as e:
            res["dest"] = e

    t = threading.Thread(target=dest)
    t.start()
    try:
        eq(hp.source_setup(sc, geo, 5), hp.DEST_WAITING, "phase")
        h, p = sc.recv(5)
        eq((h.type, h.lane, p), (hp.HANDOVER_REQUEST, hp.LANE_CONTROL, b""),
           "HANDOVER_REQUEST")
        for p in hp.map_pieces(geo.nr_chunks, missing, piece_chunks=16):
            sc.send(hp.HANDOVER_MAP, p)
        sc.send(hp.HANDOVER, hp.pack_handover(len(missing)))
        h, p = sc.recv(5)
        eq((h.type, hp.parse_handover_ack(p)),
           (hp.HANDOVER_ACK, (hp.HANDOVER_OK, 0)), "HANDOVER_ACK")
    finally:
        t.join(10)
        _close_lanes(lanes)
    check("dest" not in res, "destination: %r" % res.get("dest"))
    eq(res.get("staged"), missing, "the destination's missing set")


def test_push_setup_mismatch():
    lanes = up_lanes()
    (sc, dc) = lanes[0]
    res = {}
    t = threading.Thread(target=lambda: res.update(
        d=_catch(hp.dest_setup, dc, hp.Geometry(1024, 8), 5)))
    t.start()
    e = _catch(hp.source_setup, sc, hp.Geometry(1024, 16), 5)
    t.join(5)
    check(isinstance(e, hp.GeometryMismatch), "source: %r" % e)
    check(isinstance(res["d"], hp.GeometryMismatch), "dest: %r" % res["d"])
    _close_lanes(lanes)


def test_push_frame_rules():
    """Push frames only from their sender, only on their lane."""
    def case(lane, sender, ftype, payload):
        lanes = up_lanes()
        c, s = lanes[lane]
        tx, rx = (c, s) if sender == "source" else (s, c)
        tx.send(ftype, payload)
        e = _catch(rx.recv, 2)
        _close_lanes(lanes)
        return e

    ok = [(0, "source", hp.SETUP, hp.pack_setup(8, 8)),
          (0, "dest", hp.SETUP_ACK, hp.pack_setup_ack()),
          (1, "source", hp.DATA, hp.pack_data(0, 1, zero=True)),
          (1, "dest", hp.ACK, hp.pack_ack(0, 1)),
          (0, "dest", hp.PULL, hp.pack_pull(0)),
          (0, "source", hp.PULL_DATA, hp.pack_data(0, 1, zero=True)),
          (0, "source", hp.HANDOVER_MAP, hp.pack_handover_map(0, 8)),
          (0, "source", hp.HANDOVER, hp.pack_handover(0)),
          (0, "dest", hp.HANDOVER_ACK, hp.pack_handover_ack()),
          (0, "dest", hp.COMPLETE, b""),
          (0, "source", hp.ABORT, b""),
          (0, "dest", hp.ABORT, b""),      # the destination's echo
          (0, "dest", hp.HANDOVER_REQUEST, b"")]
    for lane, sender, t, p in ok:
        e = case(lane, sender, t, p)
        check(isinstance(e, tuple) and e[0].type == t,
              "%s from the %s on lane %d: %r" % (hp.type_name(t), sender,
                                                 lane, e))
    bad = [(1, "source", hp.SETUP, hp.pack_setup(8, 8)),
           (0, "dest", hp.SETUP, hp.pack_setup(8, 8)),
           (1, "dest", hp.SETUP_ACK, hp.pack_setup_ack()),
           (0, "source", hp.SETUP_ACK, hp.pack_setup_ack()),
           (0, "source", hp.DATA, hp.pack_data(0, 1, zero=True)),
           (1, "dest", hp.DATA, hp.pack_data(0, 1, zero=True)),
           (0, "dest", hp.ACK, hp.pack_ack(0, 1)),
           (1, "source", hp.ACK, hp.pack_ack(0, 1)),
           (0, "source", hp.PULL, hp.pack_pull(0)),
           (1, "dest", hp.PULL, hp.pack_pull(0)),
           (0, "dest", hp.PULL_DATA, hp.pack_data(0, 1, zero=True)),
           (1, "source", hp.PULL_DATA, hp.pack_data(0, 1, zero=True)),
           (0, "dest", hp.HANDOVER_MAP, hp.pack_handover_map(0, 8)),
           (1, "source", hp.HANDOVER_MAP, hp.pack_handover_map(0, 8)),
           (0, "dest", hp.HANDOVER, hp.pack_handover(0)),
           (1, "source", hp.HANDOVER, hp.pack_handover(0)),
           (0, "source", hp.HANDOVER_ACK, hp.pack_handover_ack()),
           (1, "dest", hp.HANDOVER_ACK, hp.pack_handover_ack()),
           (0, "source", hp.COMPLETE, b""),
           (1, "dest", hp.COMPLETE, b""),
           (1, "source", hp.ABORT, b""),
           (1, "dest", hp.ABORT, b""),
           (0, "source", hp.HANDOVER_REQUEST, b""),
           (1, "dest", hp.HANDOVER_REQUEST, b"")]
    for lane, sender, t, p in bad:
        e = case(lane, sender, t, p)
        check(isinstance(e, hp.Unexpected),
              "%s from the %s on lane %d: %r" % (hp.type_name(t), sender,
                                                 lane, e))


def test_server_handshake_timeout():
    cs, ss = pair()
    t0 = time.monotonic()
    e = _catch(hp.server_handshake, ss, KEY, 0.5)
    check(isinstance(e, hp.Timeout), "timeout: %r" % e)
    check(time.monotonic() - t0 < 2, "bounded")
    cs.close()
    ss.close()


# --- Tests: hm-peer.py over loopback ---------------------------------------------

def test_cli_client_server():
    with Server() as srv:
        rc, out, err = client(srv.addr, "--lanes", "0,1", "--ping", "5",
                              "--hold", "0.3")
        eq(rc, 0, "client exit (%s%s)" % (out, err))
        eq(out.splitlines(), ["lane 0: connected", "lane 1: connected"],
           "results")
        check("5/5 pings answered" in err, "pings: " + err)
        log = srv.stop()
    check("conn 1 lane 0: up" in log and "lane 1: up" in log, log)


def test_cli_server_pings_client():
    with Server("--ping-interval", "0.1", "-v") as srv:
        rc, out, err = client(srv.addr, "--lanes", "0", "--hold", "0.6")
        eq(rc, 0, "client exit (%s%s)" % (out, err))
        log = srv.stop()
    check("PING" in err and "answered" in err, "client answered: " + err)
    check("unsolicited" not in log, log)


def test_cli_wrong_key():
    with Server() as srv:
        rc, out, _ = client(srv.addr, "--lanes", "0,1", key=WRONGFILE)
        eq(rc, 1, "exit")
        eq(out.splitlines(), ["lane 0: auth failed: bad server proof",
                              "lane 1: auth failed: bad server proof"],
           "results")
        rc, out, _ = client(srv.addr, "--lanes", "0", "--skip-server-proof",
                            key=WRONGFILE)
        eq((rc, out.strip()), (1, "lane 0: rejected auth"), "server refused")
        log = srv.stop()
    check("bad client proof (sent REJECT auth)" in log, log)
    check(": up" not in log, "nothing came up: " + log)


def test_cli_busy():
    with Server("--reject-busy") as srv:
        holder = subprocess.Popen(
            [sys.executable, PEER, "client", "--connect", srv.addr,
             "--key-file", KEYFILE, "--lanes", "0", "--hold", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 5
        while "up" not in srv_log_peek(srv) and time.monotonic() < deadline:
            time.sleep(0.05)
        rc, out, _ = client(srv.addr, "--lanes", "0")
        eq((rc, out.strip()), (1, "lane 0: rejected busy"), "second client")
        rc, out, _ = client(srv.addr, "--lanes", "1")
        eq((rc, out.strip()), (0, "lane 1: connected"), "other lane free")
        hout, _ = holder.communicate(timeout=10)
        eq(hout.strip(), "lane 0: connected", "the holder kept its lane")
        rc, out, _ = client(srv.addr, "--lanes", "0")
        eq(rc, 0, "lane 0 free again")
        srv.stop()


def test_cli_replace():
    """As the kernel: an authenticated lane replaces the old one; a new
    lane 0 ends the old session's lane 1 as well."""
    with Server() as srv:
        holder = subprocess.Popen(
            [sys.executable, PEER, "client", "--connect", srv.addr,
             "--key-file", KEYFILE, "--lanes", "0,1", "--hold", "15"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 5
        while "lane 1: up" not in srv_log_peek(srv) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        # A wrong key replaces nothing.
        rc, out, _ = client(srv.addr, "--lanes", "0", "--skip-server-proof",
                            key=WRONGFILE)
        eq((rc, out.strip()), (1, "lane 0: rejected auth"), "wrong key")
        rc, out, _ = client(srv.addr, "--lanes", "0", "--ping", "1")
        eq((rc, out.strip()), (0, "lane 0: connected"), "new lane 0")
        hout, _ = holder.communicate(timeout=10)
        eq(hout.splitlines(), ["lane 0: closed", "lane 1: closed"],
           "the old session ended")
        log = srv.stop()
    eq(log.count("closed: replaced by conn"), 2, log)


def srv_log_peek(srv):
    """Lines the server printed so far."""
    return srv.proc.log()


def test_cli_reflect_server():
    for mode in ("random", "zero", "nonce", "captured"):
        rs = Proc("reflect-server", "--listen", "127.0.0.1:0", "--proof",
                  mode, "--count", "2", "--timeout", "3")
        try:
            rc, out, _ = client(rs.addr, "--lanes", "0,1")
            eq(rc, 1, "client exit")
            check(out.count("auth failed") == 2, "client refused: " + out)
            rrc, rout = rs.wait(15)
        finally:
            rs.kill()
        eq(rrc, 0, "reflect-server verdict: " + rout)
        check("0 RESPONSEs" in rout and "BAD" not in rout, rout)


def test_cli_reflect_client():
    with Server() as srv:
        for mode in ("reflect", "zero", "random"):
            rc, out, _ = run("reflect-client", "--connect", srv.addr,
                             "--mode", mode, "--timeout", "5")
            eq(rc, 0, "reflect-client %s: %s" % (mode, out))
            check("rejected auth (good)" in out, out)
        log = srv.stop()
    eq(log.count("bad client proof"), 3, "server log")


def test_cli_garbage():
    with Server("--handshake-timeout", "2") as srv:
        for mode in ("random", "huge-len", "truncated-header", "bad-magic",
                     "bad-lane", "bad-seq", "session-first"):
            rc, out, _ = run("garbage", "--connect", srv.addr, "--mode", mode,
                             "--count", "2", "--timeout", "4")
            eq(rc, 0, "garbage %s: %s" % (mode, out))
            eq(out.count("server closed (good)"), 2, out)
        rc, out, _ = run("garbage", "--connect", srv.addr, "--mode", "slow",
                         "--slow-delay", "0.5", "--timeout", "4")
        eq(rc, 0, "slow: " + out)
        rc, out, _ = run("garbage", "--connect", srv.addr, "--mode", "flood",
                         "--count", "30")
        eq(rc, 0, "flood: " + out)
        # The server is still there for a real client.
        rc, out, _ = client(srv.addr, "--ping", "2")
        eq(rc, 0, "client after garbage: " + out)
        log = srv.stop()
    for what in ("bad length (HELLO seq 0 len 4294967295",
                 "malformed header (HELLO seq 0 len 40 lane 7)",
                 "out of sequence (HELLO seq 5", "closed by peer mid-frame",
                 "PING before the handshake", "timeout"):
        check(what in log, "server log lacks %r" % what)


def test_cli_handshake_timeout():
    with Server("--handshake-timeout", "0.5") as srv:
        rc, out, _ = run("garbage", "--connect", srv.addr, "--mode", "flood",
                         "--count", "8", "--hold", "3")
        eq(rc, 0, out)
        check("server closed 8 of them" in out, out)
        srv.stop()


class Mitm:
    def __init__(self, target, *extra):
        self.proc = Proc("mitm", "--listen", "127.0.0.1:0", "--forward",
                         target, *extra)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()


def mitm_case(fault_args, client_args, want_client, want_server,
              want_mitm):
    with Server() as srv, Mitm(srv.addr, *fault_args) as m:
        rc, out, err = client(m.proc.addr, *client_args)
        time.sleep(0.2)
        mlog = m.proc.stop()
        slog = srv.stop()
    for lane_line in want_client:
        check(lane_line in out, "client: want %r in %r (%s)" %
              (lane_line, out, err))
    if any("connected" not in w for w in want_client):
        eq(rc, 1, "client exit")
    for w in want_server:
        check(w in slog, "server: want %r in\n%s" % (w, slog))
    for w in want_mitm:
        check(w in mlog, "mitm: want %r in\n%s" % (w, mlog))


def test_mitm_none():
    mitm_case(["--fault", "none"], ["--ping", "10"],
              ["lane 0: connected", "lane 1: connected"], [],
              ["closed (c2s 12 frames, s2c 12 frames)"])


def test_mitm_flip_c2s():
    mitm_case(["--fault", "flip", "--after-frames", "2"], ["--ping", "5"],
              ["lane 0: closed", "lane 1: closed"],
              ["lane 0: closed: bad MAC (PING seq 4)",
               "lane 1: closed: bad MAC (PING seq 4)"],
              ["FAULT flip: flipped byte 24 (payload) of PING seq 4"])


def test_mitm_flip_mac_s2c():
    mitm_case(["--fault", "flip", "--direction", "s2c", "--flip-at", "mac",
               "--after-frames", "1"], ["--ping", "5"],
              ["lane 0: protocol error: bad MAC (PONG seq 3)"], [],
              ["(MAC) of PONG seq 3"])


def test_mitm_drop():
    mitm_case(["--fault", "drop", "--after-frames", "1"], ["--ping", "4"],
              ["lane 0: closed", "lane 1: closed"],
              ["lane 0: closed: out of sequence (PING seq 4"],
              ["FAULT drop: dropped PING seq 3"])


def test_mitm_replay():
    mitm_case(["--fault", "replay", "--after-frames", "2"], ["--ping", "4"],
              ["lane 0: closed"],
              ["lane 0: closed: out of sequence (PING seq 3"],
              ["FAULT replay: re-sent PING seq 3 before PING seq 4"])


def test_mitm_replay_s2c():
    mitm_case(["--fault", "replay", "--direction", "s2c", "--after-frames",
               "1"], ["--ping", "4"],
              ["lane 0: protocol error: out of sequence (PONG seq 2"], [],
              ["re-sent PONG seq 2 before PONG seq 3"])


def test_mitm_truncate():
    mitm_case(["--fault", "truncate", "--after-frames", "1", "--lane", "1"],
              ["--ping", "4"],
              ["lane 0: connected", "lane 1: closed"],
              ["lane 1: closed: closed by peer mid-frame"],
              ["FAULT truncate: sent 24 of 48 bytes of PING seq 3"])


def test_mitm_fault_once():
    with Server() as srv, Mitm(srv.addr, "--fault", "flip",
                               "--fault-once") as m:
        rc1, out1, _ = client(m.proc.addr, "--lanes", "0", "--ping", "2")
        rc2, out2, _ = client(m.proc.addr, "--lanes", "0", "--ping", "2")
        mlog = m.proc.stop()
        srv.stop()
    eq((rc1, out1.strip()), (1, "lane 0: closed"), "first connection")
    eq((rc2, out2.strip()), (0, "lane 0: connected"), "second connection")
    eq(mlog.count("FAULT"), 1, mlog)


def test_mitm_every_connection():
    with Server() as srv, Mitm(srv.addr, "--fault", "drop") as m:
        for _ in range(3):
            rc, out, _ = client(m.proc.addr, "--lanes", "0", "--ping", "2")
            eq((rc, out.strip()), (1, "lane 0: closed"), "faulted")
        mlog = m.proc.stop()
        srv.stop()
    eq(mlog.count("FAULT drop"), 3, mlog)


def test_sigterm_exits():
    with Server() as srv, Mitm(srv.addr, "--fault", "none") as m:
        hold = subprocess.Popen(
            [sys.executable, PEER, "client", "--connect", m.proc.addr,
             "--key-file", KEYFILE, "--hold", "5"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.8)
        t0 = time.monotonic()
        m.proc.stop(timeout=3)
        srv.stop()
        check(time.monotonic() - t0 < 3, "prompt exit")
        hold.communicate(timeout=10)
        check(hold.returncode == 1, "the held client saw the close")


def test_server_once():
    srv = Proc("server", "--listen", "127.0.0.1:0", "--key-file", KEYFILE,
               "--once", "--max-time", "20")
    try:
        rc, out, _ = client(srv.addr, "--ping", "1")
        eq(rc, 0, out)
        src, _ = srv.wait(10)
        eq(src, 0, "server --once exit")
    finally:
        srv.kill()


# --- Tests: hm-push-peer.py --modes-from-stdin over loopback ---------------------

PUSH_KEY = "push peer key"


class PushDest:
    """A destination for hm-push-peer.py's sources: one link (both lanes)
    at a time, SETUP answered, DATA written to `copy` and acknowledged;
    the link dropped on what the kernel drops it for. lenient: any DATA
    acknowledged unchecked, as a broken destination would."""

    def __init__(self, geo):
        self.geo = geo
        self.copy = bytearray(geo.target_sectors * hp.SECTOR)
        self.lenient = False
        self.links = 0
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.addr = "127.0.0.1:%d" % self.lsock.getsockname()[1]
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self):
        while True:
            chans = {}
            try:
                while len(chans) < hp.NR_LANES:
                    s, _ = self.lsock.accept()
                    ch = hp.server_handshake(s, PUSH_KEY.encode(), 5)
                    chans[ch.lane] = ch
            except OSError:
                return                          # closed: the test is over
            self.links += 1
            self._serve(chans[hp.LANE_CONTROL], chans[hp.LANE_BULK])

    def _serve(self, ctl, bulk):
        setup = threading.Event()

        def drop():
            ctl.close()
            bulk.close()

        def control():
            try:
                h, p = ctl.recv(5)
                if h.type != hp.SETUP:
                    return
                status = self.geo.check_setup(p)
                if status == hp.SETUP_OK:
                    setup.set()
                ctl.send(hp.SETUP_ACK, hp.pack_setup_ack(status))
                while status == hp.SETUP_OK and ctl.recv()[0].type == hp.PING:
                    pass
            except (hp.ProtoError, OSError):
                pass
            finally:
                drop()

        def data():
            try:
                while True:
                    h, p = bulk.recv()
                    if self.lenient:
                        first, nr, _, _ = hp.parse_data(p)
                        bulk.send(hp.ACK, hp.pack_ack(first, nr))
                        continue
                    if h.type != hp.DATA or not setup.is_set():
                        return
                    first, nr, zero, d = self.geo.check_data(p)
                    off = self.geo.offset(first)
                    n = self.geo.run_len(first, nr)
                    self.copy[off:off + n] = bytes(n) if zero else d
                    bulk.send(hp.ACK, hp.pack_ack(first, nr))
            except (hp.ProtoError, OSError):
                pass
            finally:
                drop()

        threads = [threading.Thread(target=f) for f in (control, data)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)

    def close(self):
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()


class ModesPeer:
    """hm-push-peer.py SUBCOMMAND ... --modes-from-stdin, driven a mode
    at a time as a test's coprocess drives it."""

    def __init__(self, *args):
        self.err = open(os.path.join(TMP, "push-peer-%s.log" % args[0]), "w")
        self.p = subprocess.Popen(
            [sys.executable, PUSH_PEER] + list(args) +
            ["--key-text", PUSH_KEY, "--modes-from-stdin"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
            text=True)

    def send(self, mode):
        self.p.stdin.write(mode + "\n")
        self.p.stdin.flush()

    def line(self, timeout=30):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        check(r, "no line from hm-push-peer.py in %gs" % timeout)
        return self.p.stdout.readline().rstrip("\n")

    def mode(self, mode):
        self.send(mode)
        return self.line()

    def finish(self):
        """EOF on stdin: its exit status."""
        self.p.stdin.close()
        try:
            return self.p.wait(timeout=10)
        finally:
            self.err.close()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.err.close()


def test_push_peer_source_modes():
    """source --modes-from-stdin: each mode on a link of its own, a line
    after each; the good push's line carries the pattern's md5."""
    geo = hp.Geometry(8 * 40 + 3, 8)       # 41 chunks, the last short
    want = subprocess.run(
        [sys.executable, PUSH_PEER, "pattern", "--sectors",
         str(geo.target_sectors), "--chunk", str(geo.chunk_sectors)],
        stdout=subprocess.PIPE, check=True, timeout=30).stdout
    eq(len(want), geo.target_sectors * hp.SECTOR, "pattern length")
    dst = PushDest(geo)
    peer = ModesPeer("source", "--connect", dst.addr, "--sectors",
                     str(geo.target_sectors), "--chunk",
                     str(geo.chunk_sectors))
    try:
        eq(peer.mode("good"), "done good ok " + hashlib.md5(want).hexdigest(),
           "good push")
        check(dst.copy == want, "the destination holds the pattern")
        hostile = ["data-before-setup", "out-of-range", "short-data",
                   "zero-with-data", "bad-flags", "setup-twice",
                   "data-on-control", "ack-from-source", "bad-geometry"]
        for mode in hostile:
            eq(peer.mode(mode), "done %s ok" % mode, "refused")
        check(dst.copy == want, "nothing of the hostile sources applied")
        eq(dst.links, 1 + len(hostile), "a link a mode")
        dst.lenient = True
        got = peer.mode("out-of-range")
        check(got.startswith("done out-of-range failed: ") and
              "acknowledged" in got, "not refused: %r" % got)
        eq(peer.mode("no-such-mode"),
           "done no-such-mode failed: unknown mode 'no-such-mode'",
           "unknown mode")
        eq(peer.finish(), 0, "exit at the end of stdin")
    finally:
        peer.kill()
        dst.close()
    # The one-mode runs are as they were.
    dst = PushDest(geo)
    try:
        for mode, lenient, want_rc in (("good", False, 0),
                                       ("bad-flags", False, 0),
                                       ("bad-flags", True, 1)):
            dst.lenient = lenient
            p = subprocess.run(
                [sys.executable, PUSH_PEER, "source", "--connect", dst.addr,
                 "--key-text", PUSH_KEY, "--sectors",
                 str(geo.target_sectors), "--chunk", str(geo.chunk_sectors),
                 "--mode", mode], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, timeout=30)
            eq(p.returncode, want_rc, "--mode %s (lenient %s): %s" %
               (mode, lenient, p.stderr))
            eq(p.stdout, "", "--mode %s prints nothing" % mode)
    finally:
        dst.close()


def push_source_link(addr, geo):
    """A source against hm-push-peer.py dest: SETUP, two runs of DATA, the
    ACKs checked as the kernel checks them (a failed run pushed again).
    Returns how it ended: "refused" (SETUP), "bad ACK", or "acknowledged"
    once the peer has closed after acknowledging all."""
    host, port = hp.parse_hostport(addr)
    chans = []
    try:
        for lane in range(hp.NR_LANES):
            s = socket.create_connection((host, port), timeout=5)
            chans.append(hp.client_handshake(s, PUSH_KEY.encode(), lane, 5))
        ctl, bulk = chans
        try:
            hp.source_setup(ctl, geo, 5)
        except hp.GeometryMismatch:
            return "refused"
        runs = {0: 2, 2: 2}
        for first, nr in runs.items():
            bulk.send(hp.DATA, hp.pack_data(first, nr, bytes(
                geo.run_len(first, nr))))
        inflight = dict(runs)
        while inflight:
            h, p = bulk.recv(10)
            if h.type != hp.ACK:
                continue
            try:
                first, nr, status = geo.check_ack(p)
            except hp.BadPayload:
                return "bad ACK"
            if inflight.get(first) != nr:
                return "bad ACK"
            if status:
                bulk.send(hp.DATA, hp.pack_data(first, nr, bytes(
                    geo.run_len(first, nr))))
                continue
            del inflight[first]
        try:
            while True:
                bulk.recv(10)
        except hp.PeerClosed:
            return "acknowledged"
    finally:
        for ch in chans:
            ch.close()


def test_push_peer_dest_modes():
    """dest --modes-from-stdin: listens for each mode afresh, serves one
    link in it, a line after each."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        addr = "127.0.0.1:%d" % s.getsockname()[1]
    geo = hp.Geometry(64, 8)
    peer = ModesPeer("dest", "--listen", addr)
    try:
        for mode, want in (("ack-unknown", "bad ACK"),
                           ("ack-twice", "bad ACK"),
                           ("geometry-refuse", "refused"),
                           ("nak-first", "acknowledged")):
            peer.send(mode)
            eq(peer.line(), "listening", "%s: listening" % mode)
            eq(push_source_link(addr, geo), want, mode)
            eq(peer.line(), "done %s ok" % mode, "peer's verdict")
            # It stopped listening: a reconnect is refused.
            try:
                socket.create_connection(hp.parse_hostport(addr), 2).close()
                raise Fail("%s: still listening after the link" % mode)
            except ConnectionRefusedError:
                pass
        eq(peer.finish(), 0, "exit at the end of stdin")
    finally:
        peer.kill()


TESTS = [
    ("codec: header pack/check", test_codec),
    ("codec: push frame length bounds", test_push_bounds),
    ("codec: push payloads pack/parse", test_push_payloads),
    ("push: geometry, DATA/ACK/SETUP payload rules", test_geometry),
    ("codec: post-copy payloads, map bits and pieces",
     test_postcopy_payloads),
    ("post-copy: PULL/PULL_DATA/HANDOVER_MAP/ACK status rules",
     test_postcopy_rules),
    ("crypto: HMAC-SHA256 vector", test_hmac_vector),
    ("crypto: AES-256-GCM vector", test_gcm_vector),
    ("crypto: a sealed session frame", test_sealed_frame),
    ("crypto: labels, lanes and directions separate", test_labels_separate),
    ("framing: splitter across chunk boundaries", test_splitter),
    ("handshake: right key, both lanes, ping", test_handshake_ok),
    ("handshake: wrong key, client refuses server", test_handshake_wrong_key),
    ("handshake: server checks client proof", test_server_checks_client_proof),
    ("handshake: reflection refused both ways", test_reflection_in_process),
    ("handshake: version mismatch rejected", test_version_reject),
    ("handshake: server timeout", test_server_handshake_timeout),
    ("push: SETUP, DATA/ZERO runs, ACKs out of order", test_push_session),
    ("push: SETUP geometry mismatch", test_push_setup_mismatch),
    ("push: SETUP_ACK carries the destination's phase", test_setup_phase),
    ("post-copy: map, HANDOVER, pulls on control, prefetch, COMPLETE",
     test_postcopy_session),
    ("auto_handover: HANDOVER_REQUEST, then the source hands over",
     test_handover_request_session),
    ("push, post-copy: frames only from their sender, on their lane",
     test_push_frame_rules),
    ("session: MAC, replay, reflection, lane, late handshake, cut",
     test_session_violations),
    ("cli: client and server, two lanes", test_cli_client_server),
    ("cli: server pings, client answers", test_cli_server_pings_client),
    ("cli: wrong key", test_cli_wrong_key),
    ("cli: busy lane (--reject-busy)", test_cli_busy),
    ("cli: authenticated lane replaces the old", test_cli_replace),
    ("cli: reflect-server refused by client", test_cli_reflect_server),
    ("cli: reflect-client refused by server", test_cli_reflect_client),
    ("cli: garbage modes, server survives", test_cli_garbage),
    ("cli: handshake timeout closes idle flood", test_cli_handshake_timeout),
    ("mitm: none passes through", test_mitm_none),
    ("mitm: flip c2s payload -> server closes", test_mitm_flip_c2s),
    ("mitm: flip s2c MAC -> client closes", test_mitm_flip_mac_s2c),
    ("mitm: drop -> out of sequence", test_mitm_drop),
    ("mitm: replay c2s -> out of sequence", test_mitm_replay),
    ("mitm: replay s2c -> client closes", test_mitm_replay_s2c),
    ("mitm: truncate one lane", test_mitm_truncate),
    ("mitm: --fault-once", test_mitm_fault_once),
    ("mitm: a fault per connection", test_mitm_every_connection),
    ("mitm/server: exit on SIGTERM", test_sigterm_exits),
    ("server: --once", test_server_once),
    ("push peer: source modes from stdin, one process",
     test_push_peer_source_modes),
    ("push peer: dest modes from stdin, one process",
     test_push_peer_dest_modes),
]


def main():
    only = sys.argv[1:]
    passed = failed = 0
    for name, fn in TESTS:
        if only and not any(o in name for o in only):
            continue
        t0 = time.monotonic()
        try:
            fn()
            ok, why = True, ""
        except Fail as e:
            ok, why = False, str(e)
        except Exception as e:  # noqa: BLE001
            ok, why = False, "%s: %s" % (type(e).__name__, e)
        dt = time.monotonic() - t0
        print("%s: %s (%.1fs)" % ("PASS" if ok else "FAIL", name, dt),
              flush=True)
        if not ok:
            for line in why.splitlines():
                print("    " + line)
            failed += 1
        else:
            passed += 1
    print("%d passed, %d failed" % (passed, failed))
    if failed:
        print("logs kept in %s" % TMP)
        return 1
    shutil.rmtree(TMP, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
