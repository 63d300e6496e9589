#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Write the fuzzer's seed corpus with the Python peer's codec.

Each file is what fuzz-decoder.c takes: a selector byte (bit 0 client,
bit 1 the client's lane, bit 2 skip_auth) and then the frames one end of a
lane receives, made with tests/peer/hmproto.py and the fixed test key and
nonces of decode.h. A file is named RESULT--what, RESULT being what the C
decoder must make of it (decode-check --expect RESULT checks that), so the
seeds double as a cross-check of the C and Python implementations.

usage: gen-seeds.py OUTDIR
"""

import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "peer"))
sys.dont_write_bytecode = True  # keep the tree clean
import hmproto as hp  # noqa: E402

KEY = b"hybridmig fuzz key"
NC = bytes(0xC0 ^ i for i in range(32))   # the client's nonce (decode.h)
NS = bytes(0x50 ^ i for i in range(32))   # the server's nonce
# The test geometry of decode.h: 2001 chunks of 1 KiB, the last 512 bytes.
GEO = hp.Geometry(4001, 2)

rnd = random.Random(20240601)


def rbytes(n):
    return bytes(rnd.getrandbits(8) for _ in range(n))


def session(lane, key, start, n):
    frames = []
    for i in range(n):
        t = rnd.choice((hp.PING, hp.PONG))
        frames.append(hp.encode_frame(t, lane, start + i,
                                      hp.ping_payload(rnd.getrandbits(64)),
                                      key))
    return frames


def server_hs(lane):
    """The handshake a server receives, and the client's session key."""
    nc = rbytes(32)
    c2s, _ = hp.session_keys(KEY, lane, nc, NS)
    return [hp.encode_frame(hp.HELLO, lane, 0, hp.hello_payload(nc)),
            hp.encode_frame(hp.RESPONSE, lane, 1,
                            hp.client_proof(KEY, lane, NS, nc))], c2s


def client_hs(lane):
    """The handshake a client receives, and the server's session key."""
    ns = rbytes(32)
    _, s2c = hp.session_keys(KEY, lane, NC, ns)
    return [hp.encode_frame(hp.CHALLENGE, lane, 0, hp.challenge_payload(
                ns, hp.server_proof(KEY, lane, NC, ns))),
            hp.encode_frame(hp.WELCOME, lane, 1, b"", s2c)], s2c


def server_stream(lane, n):
    """What a server receives: HELLO, RESPONSE, n session frames."""
    hs, c2s = server_hs(lane)
    return hs + session(lane, c2s, 2, n)


def client_stream(lane, n):
    """What a client receives: CHALLENGE, WELCOME, n session frames."""
    hs, s2c = client_hs(lane)
    return hs + session(lane, s2c, 2, n)


def push_stream(client, lane, frames):
    """A handshake, then frames given as (type, payload), numbered on."""
    hs, key = client_hs(lane) if client else server_hs(lane)
    return b"".join(hs) + b"".join(
        hp.encode_frame(t, lane, 2 + i, p, key)
        for i, (t, p) in enumerate(frames))


def data(first, nr):
    """A DATA payload of random bytes for a run of GEO."""
    return hp.pack_data(first, nr, rbytes(GEO.run_len(first, nr)))


def ping():
    return (hp.PING, hp.ping_payload(rnd.getrandbits(64)))


def push_seeds(seeds):
    """SETUP, SETUP_ACK, DATA and ACK: valid streams, and each rule
    broken once."""
    setup = (hp.SETUP, GEO.setup_payload())
    setup_ack = (hp.SETUP_ACK, hp.pack_setup_ack(hp.SETUP_OK))
    bulk = [(hp.DATA, data(0, 3)), ping(),
            (hp.DATA, hp.pack_data(3, 5, zero=True)),
            (hp.DATA, data(1998, 3)),           # ends in the short chunk
            (hp.DATA, data(2000, 1)),           # the short chunk alone
            (hp.DATA, hp.pack_data(0, 1024, zero=True)),  # 1 MiB of zeroes
            (hp.DATA, hp.pack_data(977, 1024, zero=True)),  # up to the end
            ping()]
    acks = [(hp.ACK, hp.pack_ack(0, 3)), ping(), (hp.ACK, hp.pack_ack(3, 5)),
            (hp.ACK, hp.pack_ack(2000, 1, hp.ACK_FAILED)),  # a failed write
            (hp.ACK, hp.pack_ack(10, 4, hp.ACK_RETRY)),  # busy with a pull
            (hp.ACK, hp.pack_ack(977, 1024))]
    good = {
        "server-setup": (False, 0, [setup, ping(), ping()]),
        "server-setup-mismatch": (False, 0, [
            (hp.SETUP, hp.pack_setup(4000, 2))]),
        "server-bulk-data": (False, 1, bulk),
        "client-setup-ack": (True, 0, [ping(), setup_ack, ping()]),
        "client-setup-ack-mismatch": (True, 0, [
            (hp.SETUP_ACK, hp.pack_setup_ack(hp.SETUP_GEOMETRY))]),
        "client-bulk-acks": (True, 1, acks),
    }
    for name, (client, lane, frames) in good.items():
        stream = push_stream(client, lane, frames)
        seeds["end--" + name] = sel(client, lane) + stream
        seeds["end--skip-" + name] = sel(client, lane, True) + stream
    # The largest DATA frame: 1 MiB of chunk data (1 MiB + 72 bytes).
    seeds["end--server-bulk-data-1mib"] = sel(False, 1) + push_stream(
        False, 1, [(hp.DATA, data(0, 1024))])

    bad = {
        "bad-payload--server-setup-flags": (False, 0, [
            (hp.SETUP, hp.pack_setup(4001, 2, 1))]),
        "unexpected--server-second-setup": (False, 0, [setup, setup]),
        "unexpected--server-ping-after-mismatch": (False, 0, [
            (hp.SETUP, hp.pack_setup(4001, 4)), ping()]),
        "unexpected--server-setup-on-bulk": (False, 1, [setup]),
        "unexpected--server-setup-ack": (False, 0, [setup_ack]),
        "unexpected--server-data-on-control": (False, 0, [
            (hp.DATA, hp.pack_data(0, 1, zero=True))]),
        "unexpected--server-ack": (False, 1, [(hp.ACK, hp.pack_ack(0, 1))]),
        "bad-payload--server-data-no-chunks": (False, 1, [
            (hp.DATA, hp.pack_data(0, 0, zero=True))]),
        "bad-payload--server-data-beyond-end": (False, 1, [
            (hp.DATA, hp.pack_data(2001, 1, zero=True))]),
        "bad-payload--server-data-past-end": (False, 1, [
            (hp.DATA, hp.pack_data(2000, 2, zero=True))]),
        "bad-payload--server-data-first-2^64-1": (False, 1, [
            (hp.DATA, hp.pack_data((1 << 64) - 1, 2, zero=True))]),
        "bad-payload--server-data-byte-short": (False, 1, [
            (hp.DATA, hp.pack_data(5, 2, rbytes(2047)))]),
        "bad-payload--server-data-byte-long": (False, 1, [
            (hp.DATA, hp.pack_data(5, 2, rbytes(2049)))]),
        "bad-payload--server-data-short-chunk-whole": (False, 1, [
            (hp.DATA, hp.pack_data(2000, 1, rbytes(1024)))]),
        "bad-payload--server-zero-with-data": (False, 1, [
            (hp.DATA, hp.pack_data(5, 1, bytes(1024), zero=True))]),
        "bad-payload--server-data-flags": (False, 1, [
            (hp.DATA, hp.pack_data(5, 1, rbytes(1024), flags=2))]),
        "bad-payload--server-zero-over-1mib": (False, 1, [
            (hp.DATA, hp.pack_data(0, 1025, zero=True))]),
        "bad-payload--client-setup-ack-status-3": (True, 0, [
            (hp.SETUP_ACK, hp.pack_setup_ack(3))]),
        "end--client-setup-ack-migration": (True, 0, [
            (hp.SETUP_ACK, hp.pack_setup_ack(hp.SETUP_MIGRATION))]),
        "bad-payload--client-setup-ack-phase-4": (True, 0, [
            (hp.SETUP_ACK, hp.pack_setup_ack(0, 4))]),
        "bad-payload--client-ack-status-3": (True, 1, [
            (hp.ACK, hp.pack_ack(0, 1, 3))]),
        "unexpected--client-second-setup-ack": (True, 0, [
            setup_ack, setup_ack]),
        "unexpected--client-pong-after-mismatch": (True, 0, [
            (hp.SETUP_ACK, hp.pack_setup_ack(hp.SETUP_GEOMETRY)),
            (hp.PONG, hp.ping_payload(1))]),
        "unexpected--client-setup": (True, 0, [setup]),
        "unexpected--client-data": (True, 1, [
            (hp.DATA, hp.pack_data(0, 1, zero=True))]),
        "unexpected--client-ack-on-control": (True, 0, [
            (hp.ACK, hp.pack_ack(0, 1))]),
        "bad-payload--client-ack-no-chunks": (True, 1, [
            (hp.ACK, hp.pack_ack(0, 0))]),
        "bad-payload--client-ack-past-end": (True, 1, [
            (hp.ACK, hp.pack_ack(1999, 3))]),
    }
    for name, (client, lane, frames) in bad.items():
        seeds[name] = sel(client, lane) + push_stream(client, lane, frames)

    # Lengths outside a type's bounds: refused by the header check.
    hs, _ = server_hs(1)
    for name, t, ln in (("data-15", hp.DATA, 15),
                        ("data-1mib+17", hp.DATA, 16 + (1 << 20) + 1),
                        ("data-max-payload", hp.DATA, hp.MAX_PAYLOAD),
                        ("ack-17", hp.ACK, 17)):
        seeds["bad-header--server-" + name] = sel(False, 1) + \
            b"".join(hs) + hp.pack_hdr(t, 1, ln, 2) + bytes(min(ln, 64))
    hs, _ = server_hs(0)
    for name, ln in (("setup-15", 15), ("setup-17", 17)):
        seeds["bad-header--server-" + name] = sel(False, 0) + \
            b"".join(hs) + hp.pack_hdr(hp.SETUP, 0, ln, 2) + bytes(ln)
    hs, _ = client_hs(0)
    for name, ln in (("setup-ack-7", 7), ("setup-ack-9", 9)):
        seeds["bad-header--client-" + name] = sel(True, 0) + \
            b"".join(hs) + hp.pack_hdr(hp.SETUP_ACK, 0, ln, 2) + bytes(ln)


def map_of(missing, first=0, nr=None):
    """A HANDOVER_MAP piece of GEO marking the given chunks missing."""
    if nr is None:
        nr = GEO.nr_chunks - first
    return (hp.HANDOVER_MAP, hp.pack_handover_map(
        first, nr, hp.encode_map(missing, first, nr)))


def postcopy_seeds(seeds):
    """Handover, pulls, COMPLETE, ABORT and HANDOVER_REQUEST on the
    control lane: valid streams, and each rule broken once."""
    setup = (hp.SETUP, GEO.setup_payload())
    setup_ack = (hp.SETUP_ACK, hp.pack_setup_ack(hp.SETUP_OK))
    missing = {3, 8, 15, 999, 1000, 2000}
    pieces = [(hp.HANDOVER_MAP, p) for p in
              hp.map_pieces(GEO.nr_chunks, missing, piece_chunks=1024)]
    handover = (hp.HANDOVER, hp.pack_handover(len(missing)))
    pull_data = (hp.PULL_DATA, data(999, 1))
    request = (hp.HANDOVER_REQUEST, b"")
    good = {
        # A pull before handover (a read of a missing chunk), the map in
        # two pieces, HANDOVER, more pulls (one of zeroes, one of the
        # short last chunk), a repeated HANDOVER (answered again).
        "server-handover": (False, 0, [
            setup, pull_data, ping()] + pieces + [
            handover, (hp.PULL_DATA, hp.pack_data(3, 1, zero=True)),
            (hp.PULL_DATA, data(2000, 1)), handover]),
        "server-handover-nothing-missing": (False, 0, [
            setup, (hp.HANDOVER, hp.pack_handover(0))]),
        "server-handover-whole-map": (False, 0, [
            setup, map_of({0, 2000}), (hp.HANDOVER, hp.pack_handover(2))]),
        # Bits past nr_chunks in the last byte are not counted.
        "server-map-padding-bits": (False, 0, [
            setup, (hp.HANDOVER_MAP, hp.pack_handover_map(
                2000, 1, b"\xff")), (hp.HANDOVER, hp.pack_handover(1))]),
        # Pieces in chunk order may leave gaps (nothing missing there).
        "server-map-gaps": (False, 0, [
            setup, map_of({3}, 0, 8), map_of({1000, 1001}, 1000, 16),
            map_of({2000}, 2000, 1), (hp.HANDOVER, hp.pack_handover(4))]),
        "server-abort": (False, 0, [setup, ping(), (hp.ABORT, b"")]),
        "client-postcopy": (True, 0, [
            setup_ack, (hp.PULL, hp.pack_pull(5)),
            (hp.HANDOVER_ACK, hp.pack_handover_ack()),
            (hp.PULL, hp.pack_pull(2000)), ping(), (hp.COMPLETE, b"")]),
        "client-setup-ack-postcopy": (True, 0, [
            (hp.SETUP_ACK, hp.pack_setup_ack(0, hp.DEST_POSTCOPY)),
            (hp.PULL, hp.pack_pull(0)), (hp.COMPLETE, b"")]),
        "client-setup-ack-complete": (True, 0, [
            (hp.SETUP_ACK, hp.pack_setup_ack(0, hp.DEST_COMPLETE)), ping()]),
        "client-abort-echo": (True, 0, [setup_ack, (hp.ABORT, b"")]),
        # auto_handover: the destination's VM wrote; the source hands
        # over (HANDOVER_ACK), post-copy follows.
        "client-handover-request": (True, 0, [
            setup_ack, ping(), request,
            (hp.HANDOVER_ACK, hp.pack_handover_ack()),
            (hp.PULL, hp.pack_pull(7)), (hp.COMPLETE, b"")]),
        # A request that crossed our ABORT: the echo follows it.
        "client-handover-request-then-abort-echo": (True, 0, [
            setup_ack, request, (hp.ABORT, b"")]),
    }
    for name, (client, lane, frames) in good.items():
        stream = push_stream(client, lane, frames)
        seeds["end--" + name] = sel(client, lane) + stream
        seeds["end--skip-" + name] = sel(client, lane, True) + stream
    # The largest map piece: 1 MiB of bits (of which 2001 are chunks) is
    # refused by the test geometry, but its header is fine.
    seeds["bad-payload--server-map-1mib"] = sel(False, 0) + push_stream(
        False, 0, [setup, (hp.HANDOVER_MAP, hp.pack_handover_map(
            0, 8 << 20, bytes(1 << 20)))])

    bad = {
        "bad-payload--server-map-first-not-8": (False, 0, [
            setup, (hp.HANDOVER_MAP, hp.pack_handover_map(4, 8))]),
        "bad-payload--server-map-no-chunks": (False, 0, [
            setup, (hp.HANDOVER_MAP, hp.pack_handover_map(0, 0))]),
        "bad-payload--server-map-past-end": (False, 0, [
            setup, (hp.HANDOVER_MAP, hp.pack_handover_map(2000, 2))]),
        "bad-payload--server-map-beyond-end": (False, 0, [
            setup, (hp.HANDOVER_MAP, hp.pack_handover_map(2008, 1))]),
        "bad-payload--server-map-byte-short": (False, 0, [
            setup, (hp.HANDOVER_MAP, hp.pack_handover_map(0, 9, b"\x01"))]),
        "bad-payload--server-map-byte-long": (False, 0, [
            setup, (hp.HANDOVER_MAP, hp.pack_handover_map(0, 8,
                                                          b"\x01\x00"))]),
        "bad-payload--server-map-flags": (False, 0, [
            setup, (hp.HANDOVER_MAP, hp.pack_handover_map(0, 8, flags=1))]),
        "bad-payload--server-handover-count": (False, 0, [
            setup] + pieces + [(hp.HANDOVER, hp.pack_handover(
                len(missing) + 1))]),
        "bad-payload--server-handover-lost-piece": (False, 0, [
            setup] + pieces[1:] + [handover]),
        "unexpected--server-map-after-handover": (False, 0, [
            setup] + pieces + [handover] + pieces[:1]),
        "unexpected--server-map-before-setup": (False, 0, pieces[:1]),
        # Pieces come in chunk order, without overlap.
        "bad-payload--server-map-out-of-order": (False, 0, [
            setup, pieces[1], pieces[0], handover]),
        "bad-payload--server-map-repeated": (False, 0, [
            setup, pieces[0], pieces[0]]),
        "bad-payload--server-map-overlap": (False, 0, [
            setup, map_of({3}, 0, 16), map_of({9}, 8, 8)]),
        "unexpected--server-handover-request": (False, 0, [setup, request]),
        "unexpected--server-pull-data-before-setup": (False, 0, [pull_data]),
        "bad-payload--server-pull-data-2-chunks": (False, 0, [
            setup, (hp.PULL_DATA, data(4, 2))]),
        "bad-payload--server-pull-data-past-end": (False, 0, [
            setup, (hp.PULL_DATA, hp.pack_data(2001, 1, zero=True))]),
        "bad-payload--server-pull-data-short": (False, 0, [
            setup, (hp.PULL_DATA, hp.pack_data(4, 1, rbytes(1023)))]),
        "unexpected--server-pull-data-on-bulk": (False, 1, [pull_data]),
        "unexpected--server-pull": (False, 0, [
            setup, (hp.PULL, hp.pack_pull(1))]),
        "unexpected--server-complete": (False, 0, [setup, (hp.COMPLETE, b"")]),
        "unexpected--server-handover-ack": (False, 0, [
            setup, (hp.HANDOVER_ACK, hp.pack_handover_ack())]),
        "unexpected--server-abort-after-handover": (False, 0, [
            setup, (hp.HANDOVER, hp.pack_handover(0)), (hp.ABORT, b"")]),
        "unexpected--server-handover-after-abort": (False, 0, [
            setup, (hp.ABORT, b""), (hp.HANDOVER, hp.pack_handover(0))]),
        "unexpected--server-abort-twice": (False, 0, [
            setup, (hp.ABORT, b""), (hp.ABORT, b"")]),
        "unexpected--server-abort-on-bulk": (False, 1, [(hp.ABORT, b"")]),
        "bad-payload--client-pull-past-end": (True, 0, [
            setup_ack, (hp.PULL, hp.pack_pull(2001))]),
        "bad-payload--client-pull-2^64-1": (True, 0, [
            setup_ack, (hp.PULL, hp.pack_pull((1 << 64) - 1))]),
        "unexpected--client-pull-before-setup-ack": (True, 0, [
            (hp.PULL, hp.pack_pull(1))]),
        "unexpected--client-pull-on-bulk": (True, 1, [
            (hp.PULL, hp.pack_pull(1))]),
        "unexpected--client-pull-data": (True, 0, [setup_ack, pull_data]),
        "unexpected--client-map": (True, 0, [setup_ack] + pieces[:1]),
        "bad-payload--client-handover-ack-bad-map": (True, 0, [
            setup_ack, (hp.HANDOVER_ACK, hp.pack_handover_ack(
                hp.HANDOVER_BAD_MAP))]),
        "bad-payload--client-handover-ack-reserved": (True, 0, [
            setup_ack, (hp.HANDOVER_ACK, hp.pack_handover_ack(0, 1))]),
        "unexpected--client-handover-ack-twice": (True, 0, [
            setup_ack, (hp.HANDOVER_ACK, hp.pack_handover_ack()),
            (hp.HANDOVER_ACK, hp.pack_handover_ack())]),
        "unexpected--client-complete-before-handover": (True, 0, [
            setup_ack, (hp.COMPLETE, b"")]),
        "unexpected--client-complete-twice": (True, 0, [
            (hp.SETUP_ACK, hp.pack_setup_ack(0, hp.DEST_POSTCOPY)),
            (hp.COMPLETE, b""), (hp.COMPLETE, b"")]),
        "unexpected--client-after-aborted-dest": (True, 0, [
            (hp.SETUP_ACK, hp.pack_setup_ack(0, hp.DEST_ABORTED)), ping()]),
        "unexpected--client-abort-twice": (True, 0, [
            setup_ack, (hp.ABORT, b""), (hp.ABORT, b"")]),
        "unexpected--client-abort-after-handover": (True, 0, [
            setup_ack, (hp.HANDOVER_ACK, hp.pack_handover_ack()),
            (hp.ABORT, b"")]),
        "unexpected--client-handover-request-twice": (True, 0, [
            setup_ack, request, ping(), request]),
        "unexpected--client-handover-request-before-setup-ack": (True, 0, [
            request]),
        "unexpected--client-handover-request-on-bulk": (True, 1, [request]),
        "unexpected--client-handover-request-after-handover-ack": (True, 0, [
            setup_ack, (hp.HANDOVER_ACK, hp.pack_handover_ack()), request]),
        "unexpected--client-handover-request-postcopy-dest": (True, 0, [
            (hp.SETUP_ACK, hp.pack_setup_ack(0, hp.DEST_POSTCOPY)),
            request]),
        "unexpected--client-handover-request-after-abort-echo": (True, 0, [
            setup_ack, (hp.ABORT, b""), request]),
    }
    for name, (client, lane, frames) in bad.items():
        seeds[name] = sel(client, lane) + push_stream(client, lane, frames)

    # Lengths outside each post-copy type's bounds.
    mib = 1 << 20
    for client, t, ln in ((False, hp.PULL_DATA, 15),
                          (False, hp.PULL_DATA, 16 + mib + 1),
                          (False, hp.HANDOVER_MAP, 15),
                          (False, hp.HANDOVER_MAP, 16 + mib + 1),
                          (False, hp.HANDOVER, 7), (False, hp.HANDOVER, 9),
                          (False, hp.ABORT, 1),
                          (True, hp.PULL, 7), (True, hp.PULL, 9),
                          (True, hp.PULL, 16),
                          (True, hp.HANDOVER_ACK, 7),
                          (True, hp.HANDOVER_ACK, 9),
                          (True, hp.COMPLETE, 1), (True, hp.COMPLETE, 8),
                          (True, hp.ABORT, 4),
                          (True, hp.HANDOVER_REQUEST, 1),
                          (True, hp.HANDOVER_REQUEST, 8)):
        hs, _ = client_hs(0) if client else server_hs(0)
        seeds["bad-header--%s-%s-%d" % (
            "client" if client else "server",
            hp.type_name(t).lower().replace("_", "-"), ln)] = \
            sel(client, 0) + b"".join(hs) + hp.pack_hdr(t, 0, ln, 2) + \
            bytes(min(ln, 64))
    # The first type after HANDOVER_REQUEST (TYPE_MAX), either end.
    assert hp.TYPE_MAX == 19
    hs, _ = server_hs(0)
    seeds["bad-header--server-type-20"] = sel(False, 0) + b"".join(hs) + \
        hp.pack_hdr(20, 0, 0, 2)
    hs, _ = client_hs(0)
    seeds["bad-header--client-type-20"] = sel(True, 0) + b"".join(hs) + \
        hp.pack_hdr(20, 0, 0, 2)


def sel(client, lane, skip=False):
    return bytes([(1 if client else 0) | (lane << 1) | (4 if skip else 0)])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {}

    for lane in (0, 1):
        for n in (0, 1, 4, 16):
            seeds["end--server-lane%d-%d" % (lane, n)] = \
                sel(False, lane) + b"".join(server_stream(lane, n))
            seeds["end--client-lane%d-%d" % (lane, n)] = \
                sel(True, lane) + b"".join(client_stream(lane, n))
            seeds["end--skip-server-lane%d-%d" % (lane, n)] = \
                sel(False, lane, True) + b"".join(server_stream(lane, n))
            seeds["end--skip-client-lane%d-%d" % (lane, n)] = \
                sel(True, lane, True) + b"".join(client_stream(lane, n))

    rej = lambda r, seq, lane=0: hp.encode_frame(  # noqa: E731
        hp.REJECT, lane, seq, hp.reject_payload(r))
    seeds["rejected--client-version"] = sel(True, 0) + rej(1, 0)
    seeds["rejected--client-busy"] = sel(True, 1) + rej(3, 0, 1)
    seeds["rejected--client-auth"] = \
        sel(True, 0) + client_stream(0, 0)[0] + rej(2, 1)
    seeds["rejected--server-auth"] = \
        sel(False, 0) + server_stream(0, 0)[0] + rej(2, 1)

    s = server_stream(0, 3)
    c = client_stream(1, 3)
    flip = bytearray(b"".join(s))
    flip[-1] ^= 1
    seeds["bad-mac--server-flipped"] = sel(False, 0) + bytes(flip)
    seeds["bad-mac--client-wrong-direction"] = sel(True, 1) + c[0] + \
        hp.encode_frame(hp.WELCOME, 1, 1, b"",
                        hp.session_keys(KEY, 1, NC, b"\0" * 32)[0])
    seeds["bad-header--server-replay"] = sel(False, 0) + b"".join(s) + s[-1]
    seeds["bad-header--server-drop"] = \
        sel(False, 0) + b"".join(s[:3] + s[4:])
    seeds["bad-header--huge-len"] = \
        sel(False, 0) + hp.pack_hdr(hp.HELLO, 0, 0xFFFFFFFF, 0) + bytes(40)
    seeds["bad-header--bad-magic"] = sel(False, 0) + \
        hp.pack_hdr(hp.HELLO, 0, 40, 0, magic=0x584D4947) + bytes(40)
    seeds["bad-header--lane-7"] = sel(False, 0) + \
        hp.pack_hdr(hp.HELLO, 7, 40, 0) + bytes(40)
    seeds["bad-header--client-wrong-lane"] = sel(True, 0) + c[0]
    seeds["short--server-truncated"] = sel(False, 0) + b"".join(s)[:-5]
    seeds["short--header"] = sel(False, 0) + s[0][:10]
    seeds["bad-proof--client-reflected-nonce"] = sel(True, 0) + \
        hp.encode_frame(hp.CHALLENGE, 0, 0, hp.challenge_payload(
            NC, hp.server_proof(KEY, 0, NC, NC)))
    seeds["bad-proof--server-reflected-proof"] = sel(False, 0) + s[0] + \
        hp.encode_frame(hp.RESPONSE, 0, 1, hp.server_proof(
            KEY, 0, hp.parse_hello(s[0][24:64])[3], NS))
    seeds["bad-proof--client-wrong-key"] = sel(True, 0) + \
        hp.encode_frame(hp.CHALLENGE, 0, 0, hp.challenge_payload(
            NS, hp.server_proof(b"wrong", 0, NC, NS)))
    seeds["unexpected--server-ping-first"] = sel(False, 0) + \
        hp.encode_frame(hp.PING, 0, 0, hp.ping_payload(1), bytes(32))
    seeds["unexpected--server-hello-in-session"] = sel(False, 0) + \
        b"".join(s) + hp.encode_frame(hp.HELLO, 0, 5, hp.hello_payload(NC))
    ns = rbytes(32)
    s2c = hp.session_keys(KEY, 1, NC, ns)[1]
    seeds["unexpected--client-second-welcome"] = sel(True, 1) + \
        hp.encode_frame(hp.CHALLENGE, 1, 0, hp.challenge_payload(
            ns, hp.server_proof(KEY, 1, NC, ns))) + \
        hp.encode_frame(hp.WELCOME, 1, 1, b"", s2c) + \
        hp.encode_frame(hp.WELCOME, 1, 2, b"", s2c)
    seeds["no-version--server-newer"] = sel(False, 0) + hp.encode_frame(
        hp.HELLO, 0, 0, hp.hello_payload(NC, hp.VERSION + 1,
                                         hp.VERSION + 2))
    seeds["bad-payload--client-features"] = sel(True, 0) + hp.encode_frame(
        hp.CHALLENGE, 0, 0, hp.challenge_payload(NS, bytes(32), hp.VERSION,
                                                  1))

    push_seeds(seeds)
    postcopy_seeds(seeds)

    for name, blob in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)
    print("gen-seeds: %d seeds in %s" % (len(seeds), out))


if __name__ == "__main__":
    main()
