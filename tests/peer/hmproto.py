# SPDX-License-Identifier: GPL-2.0-only
"""The hybridmig wire protocol in Python: framing, handshake, sealed frames.

A second, independent implementation of Documentation/protocol.rst (the C
one is hybridmig-proto.h plus the kernel), used by the test peer
(hm-peer.py), its self-test (test_hmproto.py) and the fuzzer's seed
generator (userspace/fuzz/gen-seeds.py). Standard library, plus AES-GCM
from python3-cryptography for the session frames.

Keep it in step with hybridmig-proto.h: the constants below are copied
from there.
"""

import collections
import errno
import hashlib
import hmac
import os
import socket
import struct
import threading
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = 0x484D4947  # "HMIG"
VERSION = 2  # 1: HMAC-SHA256 trailers, cleartext payloads
NONCE_LEN = 32
MAC_LEN = 32  # HMAC-SHA256: the handshake's proofs and key derivation
# Session frames: AES-256-GCM, nonce 4 zero bytes + be64 seq, header as AAD.
AEAD_KEY_LEN = 32
TAG_LEN = 16
MAX_DATA_PIECE = 1 << 20
MAX_PAYLOAD = MAX_DATA_PIECE + 64

LANE_CONTROL = 0
LANE_BULK = 1
NR_LANES = 2

HELLO = 1
CHALLENGE = 2
RESPONSE = 3
REJECT = 4
WELCOME = 5
PING = 6
PONG = 7
SETUP = 8       # source -> dest, control lane: the geometry
SETUP_ACK = 9   # dest -> source, control lane
DATA = 10       # source -> dest, bulk lane: a run of chunks
ACK = 11        # dest -> source, bulk lane: a run is written
PULL = 12       # dest -> source, control lane: send me a chunk
PULL_DATA = 13  # source -> dest, control lane: the chunk (a DATA payload)
HANDOVER_MAP = 14  # source -> dest, control lane: part of the missing set
HANDOVER = 15   # source -> dest, control lane: the map is complete
HANDOVER_ACK = 16  # dest -> source, control lane
COMPLETE = 17   # dest -> source, control lane: every chunk is here
ABORT = 18      # source -> dest, control lane; echoed back as the answer
HANDOVER_REQUEST = 19  # dest -> source, control lane: auto_handover
TYPE_MAX = HANDOVER_REQUEST

TYPE_NAMES = {HELLO: "HELLO", CHALLENGE: "CHALLENGE", RESPONSE: "RESPONSE",
              REJECT: "REJECT", WELCOME: "WELCOME", PING: "PING",
              PONG: "PONG", SETUP: "SETUP", SETUP_ACK: "SETUP_ACK",
              DATA: "DATA", ACK: "ACK", PULL: "PULL",
              PULL_DATA: "PULL_DATA", HANDOVER_MAP: "HANDOVER_MAP",
              HANDOVER: "HANDOVER", HANDOVER_ACK: "HANDOVER_ACK",
              COMPLETE: "COMPLETE", ABORT: "ABORT",
              HANDOVER_REQUEST: "HANDOVER_REQUEST"}

REJECT_VERSION = 1
REJECT_AUTH = 2
REJECT_BUSY = 3
REJECT_PROTOCOL = 4

REJECT_NAMES = {REJECT_VERSION: "version", REJECT_AUTH: "auth",
                REJECT_BUSY: "busy", REJECT_PROTOCOL: "protocol"}

SETUP_OK = 0
SETUP_GEOMETRY = 1   # target length or chunk size differ
SETUP_MIGRATION = 2  # the destination belongs to another migration

SETUP_STATUS_NAMES = {SETUP_OK: "ok", SETUP_GEOMETRY: "geometry mismatch",
                      SETUP_MIGRATION: "migration mismatch"}

MIGRATION_ID_LEN = 16
# The Python peers' migration identifier unless told otherwise: one fixed
# value, so that successive peer processes count as one migration.
PEER_MIGRATION_ID = b"hybridmig-peer\0\0"


# The destination's phase, in SETUP_ACK (enum hm_dest_phase).
DEST_WAITING = 0    # before handover
DEST_POSTCOPY = 1   # handed over: the VM runs on the destination
DEST_COMPLETE = 2   # holds every chunk
DEST_ABORTED = 3    # the source aborted the migration

DEST_PHASE_NAMES = {DEST_WAITING: "waiting", DEST_POSTCOPY: "postcopy",
                    DEST_COMPLETE: "complete", DEST_ABORTED: "aborted"}

# ACK status (enum hm_ack_status).
ACK_OK = 0      # written (or the destination has newer data)
ACK_FAILED = 1  # the write failed: push it again
ACK_RETRY = 2   # busy with a pull of it: push it again

# HANDOVER_ACK status (enum hm_handover_status).
HANDOVER_OK = 0
HANDOVER_BAD_MAP = 1  # the map's set bits differ from HANDOVER's count
HANDOVER_FAILED = 2   # the destination could not record the handover

DATA_ZERO = 0x1  # the chunks are all zeroes: no data follows

LABEL_SERVER_PROOF = b"hybridmig v1 server proof"
LABEL_CLIENT_PROOF = b"hybridmig v1 client proof"
LABEL_KEY_C2S = b"hybridmig v2 key c2s"
LABEL_KEY_S2C = b"hybridmig v2 key s2c"

# Each side gives the other this long to complete a handshake (the
# kernel's HM_HANDSHAKE_TIMEOUT).
HANDSHAKE_TIMEOUT = 3.0
# A peer that stops reading for this long is given up.
SEND_TIMEOUT = 30.0

HDR = struct.Struct(">IBBBBIIQ")
HDR_LEN = HDR.size  # 24
HELLO_FMT = struct.Struct(">HHI32s")  # 40
CHALLENGE_FMT = struct.Struct(">HHI32s32s")  # 72
REJECT_FMT = struct.Struct(">I")  # 4
PING_FMT = struct.Struct(">Q")  # 8
# 32: target_sectors chunk_sectors flags migration_id
SETUP_FMT = struct.Struct(">QII16s")
SETUP_ACK_FMT = struct.Struct(">II")  # 8: status phase
DATA_FMT = struct.Struct(">QII")  # 16: first_chunk nr_chunks flags, data
ACK_FMT = struct.Struct(">QII")  # 16: first_chunk nr_chunks status
PULL_FMT = struct.Struct(">Q")  # 8: chunk
MAP_FMT = struct.Struct(">QII")  # 16: first_chunk nr_chunks flags, bits
HANDOVER_FMT = struct.Struct(">Q")  # 8: nr_missing
HANDOVER_ACK_FMT = struct.Struct(">II")  # 8: status reserved

SECTOR = 512

# The smallest payload of each type (hm_frame_payload_len()); only DATA,
# PULL_DATA and HANDOVER_MAP may be longer (hm_frame_max_payload_len()).
PAYLOAD_LEN = {HELLO: HELLO_FMT.size, CHALLENGE: CHALLENGE_FMT.size,
               RESPONSE: MAC_LEN, REJECT: REJECT_FMT.size, WELCOME: 0,
               PING: PING_FMT.size, PONG: PING_FMT.size,
               SETUP: SETUP_FMT.size, SETUP_ACK: SETUP_ACK_FMT.size,
               DATA: DATA_FMT.size, ACK: ACK_FMT.size,
               PULL: PULL_FMT.size, PULL_DATA: DATA_FMT.size,
               HANDOVER_MAP: MAP_FMT.size, HANDOVER: HANDOVER_FMT.size,
               HANDOVER_ACK: HANDOVER_ACK_FMT.size, COMPLETE: 0, ABORT: 0,
               HANDOVER_REQUEST: 0}
MAX_PAYLOAD_LEN = dict(PAYLOAD_LEN)
MAX_PAYLOAD_LEN[DATA] = DATA_FMT.size + MAX_DATA_PIECE
MAX_PAYLOAD_LEN[PULL_DATA] = DATA_FMT.size + MAX_DATA_PIECE
MAX_PAYLOAD_LEN[HANDOVER_MAP] = MAP_FMT.size + MAX_DATA_PIECE
# The most chunks one HANDOVER_MAP piece covers: 1 MiB of bits.
MAP_PIECE_CHUNKS = MAX_DATA_PIECE * 8

Header = collections.namedtuple(
    "Header", "magic version type lane flags len reserved seq")


def type_name(t):
    return TYPE_NAMES.get(t, "type%d" % t)


def reject_name(reason):
    return REJECT_NAMES.get(reason, "reason %d" % reason)


# --- Framing ---------------------------------------------------------------

def pack_hdr(ftype, lane, length, seq, *, magic=MAGIC, version=VERSION,
             flags=0, reserved=0):
    return HDR.pack(magic, version, ftype, lane, flags, length, reserved,
                    seq)


def unpack_hdr(data):
    return Header(*HDR.unpack(data[:HDR_LEN]))


def payload_len(ftype):
    """hm_frame_payload_len(): the smallest payload size, 0 if unknown."""
    return PAYLOAD_LEN.get(ftype, 0)


def max_payload_len(ftype):
    """hm_frame_max_payload_len(): the largest payload size, 0 if
    unknown. Only DATA's, PULL_DATA's and HANDOVER_MAP's differ from
    payload_len()."""
    return MAX_PAYLOAD_LEN.get(ftype, 0)


# Which end sends each migration frame: the client is the source, the
# server the destination (which alone sends HANDOVER_REQUEST, the
# auto_handover ask). ABORT goes either way (the destination echoes it),
# so it has no entry; every migration frame (SETUP and after) is checked
# against its lane.
PUSH_SENDER = {SETUP: "client", SETUP_ACK: "server", DATA: "client",
               ACK: "server", PULL: "server", PULL_DATA: "client",
               HANDOVER_MAP: "client", HANDOVER: "client",
               HANDOVER_ACK: "server", COMPLETE: "server",
               HANDOVER_REQUEST: "server"}


def is_migration(ftype):
    """SETUP and every later type: the frames of the migration itself."""
    return SETUP <= ftype <= TYPE_MAX


def frame_lane(ftype):
    """hm_frame_lane(): the lane a session frame type travels on."""
    return LANE_BULK if ftype in (DATA, ACK) else LANE_CONTROL


def is_handshake(ftype):
    return HELLO <= ftype <= REJECT


def has_mac(ftype):
    """Session frames (WELCOME and after) are sealed: a tag follows."""
    return ftype >= WELCOME


def hdr_check(h, lane, seq):
    """hm_hdr_check(): 0, -EPROTO, -EMSGSIZE or -EBADMSG."""
    if (h.magic != MAGIC or h.version != VERSION or h.flags or h.reserved
            or h.lane != lane or not h.type or h.type > TYPE_MAX):
        return -errno.EPROTO
    if (h.len > MAX_PAYLOAD or h.len < payload_len(h.type)
            or h.len > max_payload_len(h.type)):
        return -errno.EMSGSIZE
    if h.seq != seq:
        return -errno.EBADMSG
    return 0


def hdr_error_name(err):
    return {-errno.EPROTO: "malformed header",
            -errno.EMSGSIZE: "bad length",
            -errno.EBADMSG: "out of sequence"}.get(err, "error %d" % err)


def frame_wire_len(h):
    """Bytes of the whole frame, given a header hdr_check() accepted (or
    at least one whose len the caller has bounded)."""
    return HDR_LEN + h.len + (TAG_LEN if has_mac(h.type) else 0)


# --- Crypto ----------------------------------------------------------------

def hmac256(key, *parts):
    m = hmac.new(key, digestmod=hashlib.sha256)
    for p in parts:
        m.update(p)
    return m.digest()


def server_proof(key, lane, nc, ns):
    return hmac256(key, LABEL_SERVER_PROOF, bytes([lane]), nc, ns)


def client_proof(key, lane, ns, nc):
    return hmac256(key, LABEL_CLIENT_PROOF, bytes([lane]), ns, nc)


def session_keys(key, lane, nc, ns):
    """(k_c2s, k_s2c)"""
    return (hmac256(key, LABEL_KEY_C2S, bytes([lane]), nc, ns),
            hmac256(key, LABEL_KEY_S2C, bytes([lane]), nc, ns))


def _aead(key, _cache={}):
    a = _cache.get(key)
    if a is None:
        if len(_cache) > 64:
            _cache.clear()
        a = _cache[key] = AESGCM(key[:AEAD_KEY_LEN])
    return a


def frame_nonce(seq):
    return bytes(4) + struct.pack(">Q", seq)


def seal(key, hdr, payload):
    """The sealed payload and its tag, for the packed header hdr (its seq
    is the nonce, the whole header the associated data)."""
    seq = unpack_hdr(hdr).seq
    return _aead(key).encrypt(frame_nonce(seq), payload, hdr)


def unseal(key, hdr, body):
    """The payload of a sealed body (payload + tag), or None if the tag
    does not verify."""
    seq = unpack_hdr(hdr).seq
    try:
        return _aead(key).decrypt(frame_nonce(seq), body, hdr)
    except InvalidTag:
        return None


# --- Payloads ----------------------------------------------------------------

def hello_payload(nonce, vmin=VERSION, vmax=VERSION, features=0):
    return HELLO_FMT.pack(vmin, vmax, features, nonce)


def parse_hello(p):
    vmin, vmax, features, nonce = HELLO_FMT.unpack(p)
    return vmin, vmax, features, nonce


def challenge_payload(nonce, proof, version=VERSION, features=0,
                      reserved=0):
    return CHALLENGE_FMT.pack(version, reserved, features, nonce, proof)


def parse_challenge(p):
    version, reserved, features, nonce, proof = CHALLENGE_FMT.unpack(p)
    return version, reserved, features, nonce, proof


def reject_payload(reason):
    return REJECT_FMT.pack(reason)


def parse_reject(p):
    return REJECT_FMT.unpack(p)[0]


def ping_payload(cookie):
    return PING_FMT.pack(cookie)


def parse_ping(p):
    return PING_FMT.unpack(p)[0]


# SETUP, SETUP_ACK, DATA and ACK: the push protocol. The pack_* functions
# write any field values (tests need bad ones too); the parse_* functions
# only cut fields out, and Geometry checks them as the receiver must.

def pack_setup(target_sectors, chunk_sectors, flags=0,
               migration_id=PEER_MIGRATION_ID):
    return SETUP_FMT.pack(target_sectors, chunk_sectors, flags,
                          migration_id)


def parse_setup(p):
    """(target_sectors, chunk_sectors, flags, migration_id)"""
    return SETUP_FMT.unpack(p)


def pack_setup_ack(status=SETUP_OK, phase=DEST_WAITING):
    return SETUP_ACK_FMT.pack(status, phase)


def parse_setup_ack(p):
    """(status, phase)"""
    return SETUP_ACK_FMT.unpack(p)


def dest_phase_name(phase):
    return DEST_PHASE_NAMES.get(phase, "phase %d" % phase)


def pack_data(first_chunk, nr_chunks, data=b"", zero=False, flags=None):
    """A DATA payload: the run's head, then its bytes (none for a ZERO
    run). flags, if given, replaces the ZERO bit computed from zero."""
    if flags is None:
        flags = DATA_ZERO if zero else 0
    return DATA_FMT.pack(first_chunk, nr_chunks, flags) + data


def parse_data(p):
    """(first_chunk, nr_chunks, flags, data)"""
    first, nr, flags = DATA_FMT.unpack(p[:DATA_FMT.size])
    return first, nr, flags, p[DATA_FMT.size:]


def pack_ack(first_chunk, nr_chunks, status=0):
    return ACK_FMT.pack(first_chunk, nr_chunks, status)


def parse_ack(p):
    """(first_chunk, nr_chunks, status)"""
    return ACK_FMT.unpack(p)


def pack_pull(chunk):
    return PULL_FMT.pack(chunk)


def parse_pull(p):
    return PULL_FMT.unpack(p)[0]


def encode_map(missing, first, nr):
    """The bits of a HANDOVER_MAP piece: bit i of byte j stands for chunk
    first + 8 * j + i (least significant bit first); ceil(nr / 8) bytes,
    the unused high bits of the last byte zero."""
    out = bytearray((nr + 7) // 8)
    for c in missing:
        if first <= c < first + nr:
            k = c - first
            out[k // 8] |= 1 << (k % 8)
    return bytes(out)


def decode_map(first, nr, bits):
    """The set of chunks a piece marks missing (bits past nr ignored)."""
    out = set()
    for j, b in enumerate(bits[:(nr + 7) // 8]):
        for i in range(8):
            if b >> i & 1 and 8 * j + i < nr:
                out.add(first + 8 * j + i)
    return out


def pack_handover_map(first_chunk, nr_chunks, bits=None, flags=0):
    """A HANDOVER_MAP payload; bits defaults to all zero bytes."""
    if bits is None:
        bits = bytes((nr_chunks + 7) // 8)
    return MAP_FMT.pack(first_chunk, nr_chunks, flags) + bits


def parse_handover_map(p):
    """(first_chunk, nr_chunks, flags, bits)"""
    first, nr, flags = MAP_FMT.unpack(p[:MAP_FMT.size])
    return first, nr, flags, p[MAP_FMT.size:]


def map_pieces(nr_chunks, missing, piece_chunks=MAP_PIECE_CHUNKS):
    """The HANDOVER_MAP payloads the source sends for a missing set, as the
    kernel cuts them: pieces of piece_chunks chunks (a multiple of 8) from
    chunk 0, those without a missing chunk left out."""
    assert piece_chunks % 8 == 0 and piece_chunks <= MAP_PIECE_CHUNKS
    missing = set(missing)
    out = []
    for first in range(0, nr_chunks, piece_chunks):
        nr = min(piece_chunks, nr_chunks - first)
        if any(first <= c < first + nr for c in missing):
            out.append(pack_handover_map(first, nr,
                                         encode_map(missing, first, nr)))
    return out


def pack_handover(nr_missing):
    return HANDOVER_FMT.pack(nr_missing)


def parse_handover(p):
    return HANDOVER_FMT.unpack(p)[0]


def pack_handover_ack(status=HANDOVER_OK, reserved=0):
    return HANDOVER_ACK_FMT.pack(status, reserved)


def parse_handover_ack(p):
    """(status, reserved)"""
    return HANDOVER_ACK_FMT.unpack(p)


def setup_status_name(status):
    return SETUP_STATUS_NAMES.get(status, "status %d" % status)


def encode_frame(ftype, lane, seq, payload=b"", key=None):
    """One frame on the wire; session frames need the sender's key."""
    hdr = pack_hdr(ftype, lane, len(payload), seq)
    if has_mac(ftype):
        if key is None:
            raise ValueError("a session frame needs a key")
        return hdr + seal(key, hdr, payload)
    return hdr + payload


# --- Errors ------------------------------------------------------------------

class ProtoError(Exception):
    """The connection must be closed. str() is the reason, as printed."""


class PeerClosed(ProtoError):
    def __init__(self, partial=False):
        super().__init__("closed by peer" + (" mid-frame" if partial else ""))
        self.partial = partial


class Timeout(ProtoError):
    def __init__(self, what="timeout"):
        super().__init__(what)


class BadHeader(ProtoError):
    def __init__(self, err, h):
        super().__init__("%s (%s seq %d len %d lane %d)" % (
            hdr_error_name(err), type_name(h.type), h.seq, h.len, h.lane))
        self.err = err
        self.hdr = h


class BadMac(ProtoError):
    def __init__(self, h):
        super().__init__("bad MAC (%s seq %d)" % (type_name(h.type), h.seq))
        self.hdr = h


class Unexpected(ProtoError):
    """A well-formed frame that has no business here."""


class Rejected(ProtoError):
    def __init__(self, reason):
        super().__init__("rejected %s" % reject_name(reason))
        self.reason = reason


class AuthFailed(ProtoError):
    """The peer's proof did not verify: we sent REJECT(auth)."""
    def __init__(self, what):
        super().__init__("auth failed: %s" % what)


class NoVersion(ProtoError):
    def __init__(self, what):
        super().__init__("no common version: %s" % what)


class BadPayload(ProtoError):
    """A frame whose header and tag are good but whose payload breaks a
    rule of the push protocol (a run outside the device, a wrong data
    length, unknown flags...)."""
    def __init__(self, what):
        super().__init__("bad payload: %s" % what)


class GeometryMismatch(ProtoError):
    """SETUP_ACK with status SETUP_GEOMETRY, or a SETUP that does not
    match our own geometry: the link must be dropped."""
    def __init__(self, what):
        super().__init__("geometry mismatch: %s" % what)


# --- Geometry: the rules of SETUP, DATA and ACK ----------------------------

class Geometry:
    """The target length and chunk size both ends must agree on (SETUP),
    and the checks a receiver makes of DATA and ACK payloads against them.
    The last chunk is short when the length is not a multiple of the chunk
    size."""

    def __init__(self, target_sectors, chunk_sectors):
        if chunk_sectors <= 0 or target_sectors <= 0:
            raise ValueError("empty geometry")
        self.target_sectors = target_sectors
        self.chunk_sectors = chunk_sectors
        self.chunk_bytes = chunk_sectors * SECTOR
        self.nr_chunks = -(-target_sectors // chunk_sectors)

    def __eq__(self, other):
        return (isinstance(other, Geometry) and
                (self.target_sectors, self.chunk_sectors) ==
                (other.target_sectors, other.chunk_sectors))

    def __repr__(self):
        return "Geometry(%d, %d)" % (self.target_sectors, self.chunk_sectors)

    def setup_payload(self):
        return pack_setup(self.target_sectors, self.chunk_sectors)

    def chunk_len(self, chunk):
        """Bytes of one chunk: the last one may be short."""
        start = chunk * self.chunk_sectors
        return (min(start + self.chunk_sectors, self.target_sectors) -
                start) * SECTOR

    def run_len(self, first, nr):
        """Bytes of chunks first .. first + nr - 1 (all in range)."""
        end = min((first + nr) * self.chunk_sectors, self.target_sectors)
        return (end - first * self.chunk_sectors) * SECTOR

    def offset(self, chunk):
        return chunk * self.chunk_bytes

    def _check_run(self, what, first, nr):
        if nr == 0:
            raise BadPayload("%s of no chunks" % what)
        if first >= self.nr_chunks or nr > self.nr_chunks - first:
            raise BadPayload("%s of chunks %d+%d beyond the %d chunks" %
                             (what, first, nr, self.nr_chunks))
        if self.run_len(first, nr) > MAX_DATA_PIECE:
            raise BadPayload("%s of %d bytes, more than %d" %
                             (what, self.run_len(first, nr), MAX_DATA_PIECE))

    def check_setup(self, p):
        """The destination's verdict on a SETUP payload: SETUP_OK or
        SETUP_GEOMETRY. Unknown flags are a BadPayload."""
        target_sectors, chunk_sectors, flags, _ = parse_setup(p)
        if flags:
            raise BadPayload("SETUP flags %#x" % flags)
        if (target_sectors, chunk_sectors) != (self.target_sectors,
                                               self.chunk_sectors):
            return SETUP_GEOMETRY
        return SETUP_OK

    def check_data(self, p):
        """A DATA payload as the destination must check it: returns
        (first_chunk, nr_chunks, zero, data); raises BadPayload."""
        if len(p) < DATA_FMT.size:
            raise BadPayload("DATA of %d bytes" % len(p))
        first, nr, flags, data = parse_data(p)
        if flags & ~DATA_ZERO:
            raise BadPayload("DATA flags %#x" % flags)
        self._check_run("DATA", first, nr)
        zero = bool(flags & DATA_ZERO)
        want = 0 if zero else self.run_len(first, nr)
        if len(data) != want:
            raise BadPayload("DATA of chunks %d+%d with %d data bytes, "
                             "not %d" % (first, nr, len(data), want))
        return first, nr, zero, data

    def check_ack(self, p):
        """An ACK payload as the source must check it: returns
        (first_chunk, nr_chunks, status); raises BadPayload (a status
        other than ACK_OK, ACK_FAILED and ACK_RETRY too)."""
        first, nr, status = parse_ack(p)
        self._check_run("ACK", first, nr)
        if status > ACK_RETRY:
            raise BadPayload("ACK status %d" % status)
        return first, nr, status

    def check_pull(self, p):
        """A PULL payload as the source must check it: the chunk."""
        chunk = parse_pull(p)
        if chunk >= self.nr_chunks:
            raise BadPayload("PULL of chunk %d beyond the %d chunks" %
                             (chunk, self.nr_chunks))
        return chunk

    def check_pull_data(self, p):
        """A PULL_DATA payload: a DATA payload of exactly one chunk.
        Whether it was asked for is the caller's to check (an unsolicited
        reply is a protocol error). Returns (chunk, zero, data)."""
        if len(p) < DATA_FMT.size:
            raise BadPayload("PULL_DATA of %d bytes" % len(p))
        if parse_data(p)[1] != 1:
            raise BadPayload("PULL_DATA of %d chunks" % parse_data(p)[1])
        first, _, zero, data = self.check_data(p)
        return first, zero, data

    def check_handover_map(self, p, next_first=0):
        """A HANDOVER_MAP payload as the destination must check it:
        returns (first_chunk, nr_chunks, the set of missing chunks);
        raises BadPayload. Pieces come in chunk order without overlap:
        next_first is where the previous piece ended (first + nr of it; 0
        for the first piece), and a piece that starts before it is
        refused."""
        if len(p) < MAP_FMT.size:
            raise BadPayload("HANDOVER_MAP of %d bytes" % len(p))
        first, nr, flags, bits = parse_handover_map(p)
        if flags:
            raise BadPayload("HANDOVER_MAP flags %#x" % flags)
        if not nr or first % 8 or first < next_first or \
                first >= self.nr_chunks or nr > self.nr_chunks - first:
            raise BadPayload("HANDOVER_MAP of chunks %d+%d (%d chunks)" %
                             (first, nr, self.nr_chunks))
        if len(bits) != (nr + 7) // 8:
            raise BadPayload("HANDOVER_MAP of %d chunks with %d bytes" %
                             (nr, len(bits)))
        return first, nr, decode_map(first, nr, bits)

    def runs(self, chunks, max_bytes=MAX_DATA_PIECE):
        """Cut sorted chunk numbers into runs of adjacent chunks of at most
        max_bytes each, as the source's pusher does: [(first, nr)...]."""
        out = []
        for c in chunks:
            if (out and out[-1][0] + out[-1][1] == c and
                    self.run_len(out[-1][0], out[-1][1] + 1) <= max_bytes):
                out[-1] = (out[-1][0], out[-1][1] + 1)
            else:
                out.append((c, 1))
        return out


# --- A connection ------------------------------------------------------------

class Channel:
    """One lane's TCP connection, either end, after or during handshake.

    recv() validates every header exactly as the kernel does (hdr_check
    with the expected seq) before reading its payload, then checks the
    tag of sealed session frames, and that a migration frame (SETUP and every
    later type) comes from the right end (ABORT: either) on its own lane. Payload fields are the
    caller's to check (see Geometry). Any failure raises a ProtoError; the
    caller closes. send() numbers and seals frames. Sends are serialised by
    a lock; one thread at a time may recv().
    """

    def __init__(self, sock, role, lane=None):
        assert role in ("client", "server")
        self.sock = sock
        self.role = role
        self.lane = lane
        self.send_seq = 0
        self.recv_seq = 0
        self.tx_key = None
        self.rx_key = None
        self.up = False
        self.nc = None
        self.ns = None
        self._lock = threading.Lock()
        self._buf = b""

    def set_keys(self, k_c2s, k_s2c):
        if self.role == "client":
            self.tx_key, self.rx_key = k_c2s, k_s2c
        else:
            self.tx_key, self.rx_key = k_s2c, k_c2s

    def send_raw(self, data):
        with self._lock:
            self._sendall(data)

    def send(self, ftype, payload=b""):
        with self._lock:
            frame = encode_frame(ftype, self.lane, self.send_seq, payload,
                                 self.tx_key if has_mac(ftype) else None)
            self.send_seq += 1
            self._sendall(frame)

    def _sendall(self, data):
        try:
            self.sock.settimeout(SEND_TIMEOUT)
            self.sock.sendall(data)
        except socket.timeout:
            raise Timeout("send timeout") from None
        except (BrokenPipeError, ConnectionResetError):
            raise PeerClosed() from None

    def _recv_exact(self, n, deadline, started):
        while len(self._buf) < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout()
                self.sock.settimeout(left)
            else:
                self.sock.settimeout(None)
            try:
                chunk = self.sock.recv(max(n - len(self._buf), 65536))
            except socket.timeout:
                raise Timeout() from None
            except (ConnectionResetError, BrokenPipeError):
                raise PeerClosed(started or bool(self._buf)) from None
            if not chunk:
                raise PeerClosed(started or bool(self._buf))
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def pending(self):
        return len(self._buf)

    def recv(self, timeout=None):
        """The next frame as (Header, payload). Raises ProtoError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        raw = self._recv_exact(HDR_LEN, deadline, False)
        h = unpack_hdr(raw)
        lane = self.lane
        if lane is None:
            # A server learns the lane from the first HELLO's header.
            lane = h.lane if h.lane < NR_LANES else 0
        err = hdr_check(h, lane, self.recv_seq)
        if err:
            raise BadHeader(err, h)
        payload = self._recv_exact(h.len, deadline, True)
        if has_mac(h.type):
            tag = self._recv_exact(TAG_LEN, deadline, True)
            if self.rx_key is None:
                raise Unexpected("%s before the handshake" %
                                 type_name(h.type))
            payload = unseal(self.rx_key, raw, payload + tag)
            if payload is None:
                raise BadMac(h)
            sender = PUSH_SENDER.get(h.type)
            if sender == self.role:
                raise Unexpected("%s from the %s" % (
                    type_name(h.type),
                    "source" if sender == "server" else "destination"))
            if is_migration(h.type) and h.lane != frame_lane(h.type):
                raise Unexpected("%s on lane %d" % (type_name(h.type),
                                                    h.lane))
        elif self.up:
            raise Unexpected("%s after the handshake" % type_name(h.type))
        self.recv_seq += 1
        if self.lane is None:
            self.lane = h.lane
        return h, payload

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _reject(ch, reason):
    try:
        ch.send(REJECT, reject_payload(reason))
    except OSError:
        pass


def client_handshake(sock, key, lane, timeout=10.0, nonce=None,
                     features=0, vmin=VERSION, vmax=VERSION):
    """Run the client side on a connected socket; returns an up Channel.

    Raises Rejected (the server said no), AuthFailed (the server's proof
    did not verify: REJECT(auth) was sent), NoVersion or another
    ProtoError. The socket is not closed on error.
    """
    ch = Channel(sock, "client", lane)
    nc = nonce if nonce is not None else os.urandom(NONCE_LEN)
    ch.nc = nc
    ch.send(HELLO, hello_payload(nc, vmin, vmax, features))
    h, p = ch.recv(timeout)
    if h.type == REJECT:
        raise Rejected(parse_reject(p))
    if h.type != CHALLENGE:
        raise Unexpected("%s instead of CHALLENGE" % type_name(h.type))
    version, reserved, sfeat, ns, proof = parse_challenge(p)
    ch.ns = ns
    if not vmin <= version <= vmax or version != VERSION:
        _reject(ch, REJECT_VERSION)
        raise NoVersion("server chose version %d" % version)
    if reserved or sfeat & ~features:
        _reject(ch, REJECT_PROTOCOL)
        raise Unexpected("CHALLENGE with reserved %#x features %#x" %
                         (reserved, sfeat))
    good = server_proof(key, lane, nc, ns)
    # Verify first, in constant time; a server that echoes our nonce can
    # never be right, but it is the proof that decides.
    if not hmac.compare_digest(proof, good) or ns == nc:
        _reject(ch, REJECT_AUTH)
        raise AuthFailed("bad server proof" if ns != nc else
                         "server nonce equals ours")
    ch.send(RESPONSE, client_proof(key, lane, ns, nc))
    ch.set_keys(*session_keys(key, lane, nc, ns))
    h, p = ch.recv(timeout)
    if h.type == REJECT:
        raise Rejected(parse_reject(p))
    if h.type != WELCOME:
        raise Unexpected("%s instead of WELCOME" % type_name(h.type))
    ch.up = True
    return ch


def server_handshake(sock, key, timeout=HANDSHAKE_TIMEOUT, lane_busy=None,
                     claim_lane=None, nonce=None, features=0):
    """Run the server side on an accepted socket; returns an up Channel.

    lane_busy(lane) -> bool is asked when the HELLO arrives (REJECT busy);
    claim_lane(lane) -> bool is asked once the client has proven itself
    and must atomically take the lane (False: REJECT busy). The whole
    handshake must finish within timeout seconds.
    """
    deadline = time.monotonic() + timeout
    ch = Channel(sock, "server", None)

    def left():
        return max(deadline - time.monotonic(), 0.001)

    h, p = ch.recv(left())
    if h.type != HELLO:
        _reject(ch, REJECT_PROTOCOL)
        raise Unexpected("%s instead of HELLO" % type_name(h.type))
    lane = ch.lane
    vmin, vmax, _cfeat, nc = parse_hello(p)
    ch.nc = nc
    if not vmin <= VERSION <= vmax:
        _reject(ch, REJECT_VERSION)
        raise NoVersion("client offers %d..%d" % (vmin, vmax))
    if lane_busy is not None and lane_busy(lane):
        _reject(ch, REJECT_BUSY)
        raise Rejected(REJECT_BUSY)
    ns = nonce if nonce is not None else os.urandom(NONCE_LEN)
    ch.ns = ns
    ch.send(CHALLENGE, challenge_payload(ns, server_proof(key, lane, nc, ns),
                                         VERSION, features & _cfeat))
    h, p = ch.recv(left())
    if h.type == REJECT:
        raise Rejected(parse_reject(p))
    if h.type != RESPONSE:
        _reject(ch, REJECT_PROTOCOL)
        raise Unexpected("%s instead of RESPONSE" % type_name(h.type))
    if not hmac.compare_digest(p, client_proof(key, lane, ns, nc)):
        _reject(ch, REJECT_AUTH)
        raise AuthFailed("bad client proof")
    if claim_lane is not None and not claim_lane(lane):
        _reject(ch, REJECT_BUSY)
        raise Rejected(REJECT_BUSY)
    ch.set_keys(*session_keys(key, lane, nc, ns))
    ch.up = True
    ch.send(WELCOME)
    return ch


def _recv_skipping_pings(ch, deadline):
    """The next frame that is not a keep-alive; PINGs are answered."""
    while True:
        h, p = ch.recv(max(deadline - time.monotonic(), 0.001))
        if h.type == PING:
            ch.send(PONG, p)
        elif h.type != PONG:
            return h, p


def source_setup(ch, geometry, timeout=5.0):
    """Source side of SETUP on an up control lane: send our geometry, wait
    for the SETUP_ACK. Returns the destination's phase (DEST_*: a source
    learns there of a HANDOVER_ACK or COMPLETE the last session lost).
    Raises GeometryMismatch (the link must be dropped) or another
    ProtoError."""
    deadline = time.monotonic() + timeout
    ch.send(SETUP, geometry.setup_payload())
    h, p = _recv_skipping_pings(ch, deadline)
    if h.type != SETUP_ACK:
        raise Unexpected("%s instead of SETUP_ACK" % type_name(h.type))
    status, phase = parse_setup_ack(p)
    if status == SETUP_GEOMETRY:
        raise GeometryMismatch("the destination differs from %r" % geometry)
    if status == SETUP_MIGRATION:
        raise GeometryMismatch("the destination is of another migration")
    if status != SETUP_OK:
        raise BadPayload("SETUP_ACK %s" % setup_status_name(status))
    if phase > DEST_ABORTED:
        raise BadPayload("SETUP_ACK %s" % dest_phase_name(phase))
    return phase


def dest_setup(ch, geometry, timeout=5.0, phase=DEST_WAITING):
    """Destination side of SETUP on an up control lane: wait for the
    source's SETUP, answer it (with our phase). Returns the source's
    Geometry; raises GeometryMismatch after answering SETUP_GEOMETRY, or
    another ProtoError."""
    deadline = time.monotonic() + timeout
    h, p = _recv_skipping_pings(ch, deadline)
    if h.type != SETUP:
        raise Unexpected("%s instead of SETUP" % type_name(h.type))
    status = geometry.check_setup(p)
    ch.send(SETUP_ACK, pack_setup_ack(status, phase))
    target_sectors, chunk_sectors, _, _ = parse_setup(p)
    if status != SETUP_OK:
        raise GeometryMismatch("source %d sectors in chunks of %d, "
                               "we %r" % (target_sectors, chunk_sectors,
                                          geometry))
    return Geometry(target_sectors, chunk_sectors)


class FrameSplitter:
    """Cut a byte stream into frames without keys (for a proxy).

    feed() returns a list of (Header or None, bytes). A header that does
    not parse (bad magic or version, unknown type, length above the
    maximum) switches the splitter to raw mode for the rest of the
    stream: every later byte comes out as (None, bytes).
    """

    def __init__(self):
        self.buf = b""
        self.raw = False

    def feed(self, data):
        self.buf += data
        out = []
        while self.buf:
            if self.raw:
                out.append((None, self.buf))
                self.buf = b""
                break
            if len(self.buf) < HDR_LEN:
                break
            h = unpack_hdr(self.buf)
            if (h.magic != MAGIC or h.version != VERSION or not h.type
                    or h.type > TYPE_MAX or h.len > MAX_PAYLOAD):
                self.raw = True
                continue
            n = frame_wire_len(h)
            if len(self.buf) < n:
                break
            out.append((h, self.buf[:n]))
            self.buf = self.buf[n:]
        return out


def read_key_file(path):
    """The shared secret: the file's bytes, verbatim (as keyctl padd)."""
    with open(path, "rb") as f:
        key = f.read()
    if not key:
        raise ValueError("%s: empty key" % path)
    return key


def parse_hostport(s):
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("expected HOST:PORT, got %r" % s)
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)
