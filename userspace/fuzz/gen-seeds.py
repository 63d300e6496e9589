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


def server_stream(lane, n):
    """What a server receives: HELLO, RESPONSE, n session frames."""
    nc = rbytes(32)
    c2s, _ = hp.session_keys(KEY, lane, nc, NS)
    return [hp.encode_frame(hp.HELLO, lane, 0, hp.hello_payload(nc)),
            hp.encode_frame(hp.RESPONSE, lane, 1,
                            hp.client_proof(KEY, lane, NS, nc))] + \
        session(lane, c2s, 2, n)


def client_stream(lane, n):
    """What a client receives: CHALLENGE, WELCOME, n session frames."""
    ns = rbytes(32)
    _, s2c = hp.session_keys(KEY, lane, NC, ns)
    return [hp.encode_frame(hp.CHALLENGE, lane, 0, hp.challenge_payload(
                ns, hp.server_proof(KEY, lane, NC, ns))),
            hp.encode_frame(hp.WELCOME, lane, 1, b"", s2c)] + \
        session(lane, s2c, 2, n)


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
    seeds["no-version--server-v2"] = sel(False, 0) + hp.encode_frame(
        hp.HELLO, 0, 0, hp.hello_payload(NC, 2, 3))
    seeds["bad-payload--client-features"] = sel(True, 0) + hp.encode_frame(
        hp.CHALLENGE, 0, 0, hp.challenge_payload(NS, bytes(32), 1, 1))

    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("gen-seeds: %d seeds in %s" % (len(seeds), out))


if __name__ == "__main__":
    main()
