#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Self-test of hm-logwrites.py on small synthetic logs; no kernel needed.

Each log is written the way dm-log-writes writes one, for a destination
that goes the way the kernel's does (format, pushes acknowledged after a
flush, the handover map, pulls, completion). The good log must pass; each
broken one (a present chunk with other data, a bit cleared before its data
was written, a commit that flushed only the metadata, a blank or torn
superblock, a log without completion) must fail, naming what is wrong.

Prints one line per test and ends with "N passed, M failed"; exits
non-zero if any test failed.
"""

import contextlib
import importlib.util
import io
import os
import random
import shutil
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep the tree clean
_spec = importlib.util.spec_from_file_location("hmlw", os.path.join(HERE, "hm-logwrites.py"))
lw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lw)

TMP = tempfile.mkdtemp(prefix="hm-logwrites-test.")
CHUNK = 8			# sectors: 4 KiB chunks
NR_CHUNKS = 16
DATA = (0, NR_CHUNKS * CHUNK)	# sector offset, sectors
META = (256, 24)		# 8 KiB of superblocks, one bitmap block
AREAS = ["--data", "%d:%d" % DATA, "--meta", "%d:%d" % META, "--chunk", str(CHUNK)]

rng = random.Random(6)
SOURCE = bytes(rng.getrandbits(8) for _ in range(NR_CHUNKS * CHUNK * 512))
SOURCE_IMG = os.path.join(TMP, "source.img")
with open(SOURCE_IMG, "wb") as f:
    f.write(SOURCE)


class Log:
    """A dm-log-writes log being built, and a destination writing to it."""

    def __init__(self):
        self.entries = []
        self.generation = 0

    def entry(self, sector, flags, data=b""):
        self.entries.append((sector, len(data) // 512, flags, data))

    def write_chunks(self, first, last, data=None):
        for c in range(first, last + 1):
            self.entry(DATA[0] + c * CHUNK, 0,
                       data or SOURCE[c * CHUNK * 512:(c + 1) * CHUNK * 512])

    def flush(self):
        self.entry(0, lw.FLUSH)

    def superblock(self, phase):
        """A commit's superblock: its preflush, then the FUA write."""
        self.generation += 1
        self.flush()
        self.entry(META[0] + (self.generation % 2) * 8, lw.FUA,
                   lw.pack_superblock(self.generation, DATA[1], CHUNK, phase))

    def bitmap(self, missing):
        bits = sum(1 << c for c in missing)
        self.entry(META[0] + 16, 0, bits.to_bytes(8, "little").ljust(4096, b"\0"))

    def commit(self, missing, phase="postcopy", flush_data=True):
        """hm_md_write(): data flush, the bitmap block, the superblock."""
        if flush_data:
            self.flush()
        self.bitmap(missing)
        self.superblock(phase)

    def save(self, name):
        path = os.path.join(TMP, name)
        with open(path, "wb") as f:
            f.write(struct.pack("<QQQI", lw.LOG_MAGIC, lw.LOG_VERSION,
                                len(self.entries) + 1, 512).ljust(512, b"\0"))
            for sector, n, flags, data in self.entries:
                f.write(struct.pack("<QQQQ", sector, n, flags, 0).ljust(512, b"\0"))
                f.write(data)
            end = b"dm-log-writes-end"
            f.write((struct.pack("<QQQQ", 0, 0, lw.MARK, len(end)) + end).ljust(512, b"\0"))
        return path


def handed_over(log=None):
    """A destination formatted, 8 chunks pushed, then the handover map."""
    log = log or Log()
    log.superblock("waiting")				# formatted at creation
    log.write_chunks(0, 7)				# pushed; ACKed after a flush
    log.flush()
    log.commit(set(range(8, NR_CHUNKS)))		# the handover map
    return log


def migration(log):
    """A destination's life: format, pushes, handover, pulls, completion."""
    handed_over(log)
    missing = set(range(8, NR_CHUNKS))
    for first, last in [(8, 11), (12, 15)]:
        log.write_chunks(first, last)
        missing -= set(range(first, last + 1))
        log.commit(missing)				# before the batch of ACKs
    log.flush()
    log.superblock("complete")


def run(log_path, *extra):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = lw.main(["check", log_path] + AREAS +
                     ["--source", SOURCE_IMG, "--min-points", "5"] + list(extra))
    return rc, out.getvalue()


class Fail(Exception):
    pass


def expect_pass(log_path, *extra):
    rc, out = run(log_path, *extra)
    if rc != 0:
        raise Fail("expected a pass, got exit %d: %s" % (rc, out))
    return out


def expect_fail(log_path, *words, extra=()):
    rc, out = run(log_path, *extra)
    if rc == 0:
        raise Fail("expected a failure, it passed: %s" % out)
    for w in words:
        if w not in out:
            raise Fail("the failure does not say %r: %s" % (w, out))
    return out


def test_good_log():
    log = Log()
    migration(log)
    out = expect_pass(log.save("good.log"))
    # The format (its flush sees a blank area), the push's flush, three
    # commits of three flush or FUA entries, and the completion's three.
    if "checked 15 points (blank 1, waiting 4, postcopy 9, complete 1)" not in out:
        raise Fail("unexpected count: %s" % out)


def test_flipped_present_chunk():
    """The brief's proof that the check bites: one byte of a pushed chunk."""
    log = Log()
    migration(log)
    i = next(i for i, e in enumerate(log.entries) if e[0] == DATA[0] + 3 * CHUNK)
    sector, n, flags, data = log.entries[i]
    log.entries[i] = (sector, n, flags, data[:100] + bytes([data[100] ^ 1]) + data[101:])
    expect_fail(log.save("flipped.log"), "chunk 3 ", "byte 100", "postcopy")


def test_bit_cleared_before_data():
    """A bit that clears in a commit before its chunk's write."""
    log = handed_over()
    log.write_chunks(8, 10)
    log.commit(set(range(12, 16)))			# 11 cleared, not written
    expect_fail(log.save("early-bit.log"), "chunk 11 ", "all zeroes")


def test_commit_without_data_flush():
    """A commit that flushes only the metadata device: fine on one device,
    a lost chunk on two (the default model)."""
    log = handed_over()
    log.write_chunks(8, 11)
    log.commit(set(range(12, 16)), flush_data=False)
    log.write_chunks(12, 15)
    log.commit(set())
    log.flush()
    log.superblock("complete")
    path = log.save("no-data-flush.log")
    expect_fail(path, "chunk 8 ", "all zeroes")
    # The story of the chunk: written in entry 15, no data flush after 11.
    expect_fail(path, "writes of the chunk (entry, + if durable here): 15;",
                "last flush of the data device: entry 11 (model: two devices")
    expect_pass(path, "--shared-flush")


def test_torn_newest_slot():
    """A torn superblock write: the other slot still holds a valid state."""
    log = Log()
    migration(log)
    sb = [i for i, e in enumerate(log.entries) if e[2] & lw.FUA][2]
    sector, n, flags, data = log.entries[sb]
    log.entries[sb] = (sector, n, flags, data[:40] + b"\xff" * 8 + data[48:])
    expect_pass(log.save("torn.log"))


def test_garbage_superblocks():
    log = Log()
    migration(log)
    log.entries.insert(2, (META[0], 8, 0, b"\x01" * 4096))
    log.entries.insert(3, (META[0] + 8, 8, 0, b"\x01" * 4096))
    log.entries.insert(4, (0, 0, lw.FLUSH, b""))
    expect_fail(log.save("garbage.log"), "no valid superblock")


def test_wrong_geometry():
    log = Log()
    log.entry(0, lw.FLUSH)
    log.entry(META[0] + 8, lw.FUA,
              lw.pack_superblock(1, DATA[1], CHUNK * 2, "waiting"))
    expect_fail(log.save("geometry.log"), "chunk 16 sectors, not 8")


def test_no_completion():
    """A log that ends in post-copy checks too little: fail."""
    log = Log()
    migration(log)
    log.entries = log.entries[:-3]
    expect_fail(log.save("short.log"), "no complete point")


def test_dump():
    """dump writes the image of a point: here the handover map's."""
    log = Log()
    migration(log)
    path = log.save("dump.log")
    sb = [i for i, e in enumerate(log.entries) if e[2] & lw.FUA][1]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = lw.main(["dump", path] + AREAS + ["--entries", str(sb), "--out-dir", TMP])
    if rc:
        raise Fail("dump failed: %s" % out.getvalue())
    with open(os.path.join(TMP, "point-%d.img" % sb), "rb") as f:
        img = f.read()
    chunk = CHUNK * 512
    if img[:8 * chunk] != SOURCE[:8 * chunk] or any(img[8 * chunk:16 * chunk]):
        raise Fail("the data area is not the pushed chunks")
    sb_block = img[META[0] * 512:META[0] * 512 + 4096]
    if sb_block != lw.pack_superblock(2, DATA[1], CHUNK, "postcopy"):
        raise Fail("slot 0 is not generation 2")
    if img[(META[0] + 16) * 512] != 0 or img[(META[0] + 16) * 512 + 1] != 0xff:
        raise Fail("the bitmap is not chunks 8-15")


def test_crc32_le():
    # crc32_le(seed, "") is the seed; one known value of the reflected CRC.
    if lw.crc32_le(0x48796272, b"") != 0x48796272:
        raise Fail("empty")
    if lw.crc32_le(0xffffffff, b"123456789") ^ 0xffffffff != 0xcbf43926:
        raise Fail("check value")


TESTS = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_")]


def main():
    passed = failed = 0
    for name, fn in TESTS:
        try:
            fn()
            ok, why = True, ""
        except Fail as e:
            ok, why = False, str(e)
        except Exception as e:  # noqa: BLE001
            ok, why = False, "%s: %s" % (type(e).__name__, e)
        print("%s: %s" % ("PASS" if ok else "FAIL", name), flush=True)
        if ok:
            passed += 1
        else:
            print("    " + why)
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    if failed:
        print("logs kept in %s" % TMP)
        return 1
    shutil.rmtree(TMP, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
