#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Replay a dm-log-writes log of a hybridmig destination, and check every
state a crash could leave (Documentation/hybridmig-metadata.rst).

The logged device holds both areas of one destination: its data device
(--data OFFSET:SECTORS) and its metadata device (--meta OFFSET:SECTORS),
each a dm-linear device over the one dm-log-writes device, so that the log
is a single total order of the writes to both.

dm-log-writes (drivers/md/dm-log-writes.c) logs a plain write only when a
later flush is submitted (it goes into the log just before that flush), a
FUA write when it completes. So the log replayed up to a FLUSH or FUA entry
is a state the disk can be in after a crash there: everything before is
durable. Those entries are the "points" checked.

One log device means one flush flushes both areas, where a destination
with two devices must flush each. The default model ("two devices") puts
that back: a flush that belongs to a metadata superblock write (the FLUSH
entry right before a FUA write to the metadata area; the kernel writes the
superblock with REQ_PREFLUSH | REQ_FUA) does not make data writes durable;
they wait for the next flush of the data device. --shared-flush turns that
off (every flush makes everything durable).

At every point, the metadata area must hold a valid superblock once it was
formatted (two slots, the valid one with the highest generation wins), of
a destination of this geometry, and the state may only go forward. If the
phase is postcopy, every chunk whose bit is clear (present) must hold the
source's data (--source: the source's image, which the destination got at
handover; the destination does not write in these tests); if complete,
every chunk must.

usage:
  hm-logwrites.py check LOG --data O:N --meta O:N --chunk SECTORS
                  --source IMG [--points FILE] [--min-points N]
  hm-logwrites.py dump LOG --data O:N --meta O:N --chunk SECTORS
                  --entries N[,N...] --out-dir DIR
  hm-logwrites.py info LOG

check exits 1 on the first bad point, naming its entry, chunk and what
differs. --points writes one line per point: "<entry> <phase> <missing>
<generation>" (missing: bits set, postcopy only, else -). dump writes the
whole logged device as replayed at each given point to DIR/point-<N>.img.
"""

import argparse
import os
import struct
import sys
import zlib

# ---- dm-log-writes ----

LOG_MAGIC = 0x6a736677736872
LOG_VERSION = 1
FLUSH, FUA, DISCARD, MARK, METADATA = 1, 2, 4, 8, 16
SUPER = struct.Struct("<QQQI")		# magic, version, nr_entries, sectorsize
ENTRY = struct.Struct("<QQQQ")		# sector, nr_sectors, flags, data_len


class LogError(Exception):
    pass


class Entry:
    """One log entry: byte offset and length on the logged device."""

    def __init__(self, index, offset, length, flags, data, mark):
        self.index = index
        self.offset = offset
        self.length = length
        self.flags = flags
        self.data = data	# bytes written (None for flushes and discards)
        self.mark = mark	# the text of a MARK entry

    def describe(self):
        names = [n for bit, n in ((FLUSH, "FLUSH"), (FUA, "FUA"),
                                  (DISCARD, "DISCARD"), (MARK, "MARK"),
                                  (METADATA, "META")) if self.flags & bit]
        where = ", bytes %d+%d" % (self.offset, self.length) if self.length else ""
        return "entry %d (%s%s)" % (self.index, "|".join(names) or "write", where)


def read_log(path):
    """Yield the entries of a log, in order."""
    with open(path, "rb") as f:
        head = f.read(SUPER.size)
        if len(head) < SUPER.size:
            raise LogError("%s: too short for a log superblock" % path)
        magic, version, nr_entries, ss = SUPER.unpack(head)
        if magic != LOG_MAGIC:
            raise LogError("%s: not a dm-log-writes log (magic %#x)" % (path, magic))
        if version != LOG_VERSION:
            raise LogError("%s: log version %d, not %d" % (path, version, LOG_VERSION))
        if ss < 512 or ss & (ss - 1):
            raise LogError("%s: bad sector size %d" % (path, ss))
        pos = ss	# the entries follow the superblock's sector
        for index in range(nr_entries):
            f.seek(pos)
            block = f.read(ss)
            if len(block) < ss:
                raise LogError("%s: entry %d of %d is past the end" % (path, index, nr_entries))
            sector, nr_sectors, flags, data_len = ENTRY.unpack_from(block)
            pos += ss
            data = mark = None
            if flags & MARK:
                mark = block[ENTRY.size:ENTRY.size + data_len].decode(errors="replace")
            elif not flags & DISCARD and nr_sectors:
                data = f.read(nr_sectors * ss)
                if len(data) < nr_sectors * ss:
                    raise LogError("%s: data of entry %d is past the end" % (path, index))
                pos += nr_sectors * ss
            yield Entry(index, sector * ss, nr_sectors * ss, flags, data, mark)


def log_info(path):
    """nr_entries and counts by kind, for a quick look at a log."""
    counts = {}
    n = 0
    for e in read_log(path):
        kind = e.describe().split("(")[1].split(",")[0]
        counts[kind] = counts.get(kind, 0) + 1
        n += 1
    return n, counts


# ---- hybridmig metadata (Documentation/hybridmig-metadata.rst) ----

MD_BLOCK = 4096
MD_MAGIC = 0x47494d48
MD_VERSION = 1
MD_CSUM_SEED = 0x48796272
MD_BITMAP_SECTOR = 16
# csum magic version flags generation length chunk role phase has_id
# nr_chunks bitmap_sector migration_id
SB = struct.Struct("<IIIIQQIIIIQQ16s")
ROLE_DEST = 1
PHASES = ["tracking", "handover", "waiting", "postcopy", "complete", "aborted"]
DEST_PHASES = ("waiting", "postcopy", "complete", "aborted")
FLAGS = 0x3


def crc32_le(seed, data):
    """The kernel's crc32_le(): zlib's CRC without its inversions."""
    return zlib.crc32(data, seed ^ 0xffffffff) ^ 0xffffffff


class Superblock:
    def __init__(self, slot, block):
        (self.csum, self.magic, self.version, self.flags, self.generation,
         self.length, self.chunk, self.role, self.phase_no, self.has_id,
         self.nr_chunks, self.bitmap_sector, self.migration_id) = SB.unpack_from(block)
        self.slot = slot
        self.valid = (self.magic == MD_MAGIC and
                      self.csum == crc32_le(MD_CSUM_SEED, block[4:SB.size]))

    @property
    def phase(self):
        return PHASES[self.phase_no] if self.phase_no < len(PHASES) else str(self.phase_no)


def pack_superblock(generation, length, chunk, phase, flags=0, role=ROLE_DEST,
                    has_id=0, migration_id=b"\0" * 16):
    """A superblock block as the kernel writes it (for the unit test)."""
    nr_chunks = (length + chunk - 1) // chunk
    body = SB.pack(0, MD_MAGIC, MD_VERSION, flags, generation, length, chunk,
                   role, PHASES.index(phase), has_id, nr_chunks,
                   MD_BITMAP_SECTOR, migration_id)[4:]
    return (struct.pack("<I", crc32_le(MD_CSUM_SEED, body)) + body).ljust(MD_BLOCK, b"\0")


class Bad(Exception):
    """A replayed state that breaks a rule: the test fails."""


# ---- Replay ----

def parse_area(text):
    off, _, n = text.partition(":")
    return int(off) * 512, int(n) * 512


class Replay:
    """The logged device as replayed so far, and the per-chunk state."""

    def __init__(self, data_area, meta_area, chunk_sectors, source=None,
                 shared_flush=False):
        self.data_off, self.data_len = data_area
        self.meta_off, self.meta_len = meta_area
        self.chunk = chunk_sectors * 512
        self.nr_chunks = (self.data_len + self.chunk - 1) // self.chunk
        self.image = bytearray(max(self.data_off + self.data_len,
                                   self.meta_off + self.meta_len))
        self.shared_flush = shared_flush
        # Data writes logged but not yet flushed by a flush of the data
        # device (model "two devices"): applied at the next one.
        self.pending = []
        self.last_data_flush = None	# entry index of the last one
        # Per chunk, the entries that wrote it ("+" once durable): for the
        # story of a bad chunk.
        self.history = {}
        self.source = source
        # chunk_ok[c]: chunk c of the data area holds the source's data.
        self.chunk_ok = [False] * self.nr_chunks
        if source is not None:
            if len(source) < self.data_len:
                raise LogError("the source image is %d bytes, the data area %d"
                               % (len(source), self.data_len))
            for c in range(self.nr_chunks):
                self._recheck(c)

    def _in(self, e, off, length):
        return off <= e.offset and e.offset + e.length <= off + length

    def area_of(self, e):
        if not e.length:
            return None	# a flush: its sector means nothing
        if self._in(e, self.data_off, self.data_len):
            return "data"
        if self._in(e, self.meta_off, self.meta_len):
            return "meta"
        raise Bad("%s is in neither the data nor the metadata area" % e.describe())

    def _recheck(self, c):
        if self.source is None:
            return
        a = c * self.chunk
        b = min(a + self.chunk, self.data_len)
        self.chunk_ok[c] = (self.image[self.data_off + a:self.data_off + b] ==
                            self.source[a:b])

    def _chunks(self, e):
        first = (e.offset - self.data_off) // self.chunk
        last = (e.offset + e.length - 1 - self.data_off) // self.chunk
        return range(first, last + 1)

    def _write(self, e):
        end = e.offset + e.length
        if e.flags & DISCARD:
            self.image[e.offset:end] = bytes(e.length)	# a discard reads back zeroes here
        else:
            self.image[e.offset:end] = e.data
        if self.area_of(e) == "data":
            for c in self._chunks(e):
                self._recheck(c)
                self.history.setdefault(c, []).append("%d+" % e.index)

    def _flush_data(self, e):
        for w in self.pending:
            self._write(w)
        self.pending = []
        self.last_data_flush = e.index

    def apply(self, e, next_e):
        """Apply one entry. True if it is a point a crash can be seen at."""
        area = self.area_of(e)
        if e.flags & FLUSH:
            # A superblock's preflush flushes the metadata device only.
            md_flush = (area == "meta" or
                        (next_e is not None and next_e.flags & FUA and
                         self.area_of(next_e) == "meta"))
            if self.shared_flush or not md_flush:
                self._flush_data(e)
        if e.length and not e.flags & MARK:
            if area == "data" and not self.shared_flush and not e.flags & FUA:
                self.pending.append(e)
                for c in self._chunks(e):
                    self.history.setdefault(c, []).append("%d" % e.index)
            else:
                self._write(e)
        return bool(e.flags & (FLUSH | FUA))

    def data_chunk(self, c):
        a = self.data_off + c * self.chunk
        return bytes(self.image[a:a + min(self.chunk, self.data_len - c * self.chunk)])


# ---- The checks ----

class Checker:
    """Checks each point; remembers what must only go forward."""

    def __init__(self, replay):
        self.r = replay
        self.formatted = False
        self.last_gen = 0
        self.last_phase = None
        self.present = set()	# chunks seen present at an earlier point
        self.counts = {}

    def superblock(self, e):
        """The state's superblock, or None if the area is still blank."""
        r = self.r
        slots = [bytes(r.image[r.meta_off + s * MD_BLOCK:r.meta_off + (s + 1) * MD_BLOCK])
                 for s in (0, 1)]
        sbs = [Superblock(s, b) for s, b in enumerate(slots)]
        valid = [sb for sb in sbs if sb.valid]
        if not valid:
            if any(any(b) for b in slots):
                raise Bad("%s: no valid superblock slot, and the slots are not blank"
                          % e.describe())
            if self.formatted:
                raise Bad("%s: the metadata was formatted, now both slots are blank"
                          % e.describe())
            return None
        self.formatted = True
        sb = max(valid, key=lambda s: s.generation)
        where = "%s: superblock slot %d generation %d" % (e.describe(), sb.slot, sb.generation)
        bad = []
        if sb.generation % 2 != sb.slot:
            bad.append("generation %d in slot %d" % (sb.generation, sb.slot))
        if sb.version != MD_VERSION:
            bad.append("version %d" % sb.version)
        if sb.role != ROLE_DEST:
            bad.append("role %d, not destination" % sb.role)
        if sb.length != r.data_len // 512:
            bad.append("length %d sectors, the data area has %d" % (sb.length, r.data_len // 512))
        if sb.chunk * 512 != r.chunk:
            bad.append("chunk %d sectors, not %d" % (sb.chunk, r.chunk // 512))
        if sb.nr_chunks != r.nr_chunks:
            bad.append("%d chunks, not %d" % (sb.nr_chunks, r.nr_chunks))
        if sb.bitmap_sector != MD_BITMAP_SECTOR:
            bad.append("bitmap at sector %d" % sb.bitmap_sector)
        if sb.phase not in DEST_PHASES:
            bad.append("phase %s on a destination" % sb.phase)
        if sb.flags & ~FLAGS:
            bad.append("flags %#x" % sb.flags)
        if bad:
            raise Bad("%s: %s" % (where, "; ".join(bad)))
        # The state only goes forward: a crash never brings back an older one.
        if sb.generation < self.last_gen:
            raise Bad("%s: went back from generation %d" % (where, self.last_gen))
        if (self.last_phase is not None and
                DEST_PHASES.index(sb.phase) < DEST_PHASES.index(self.last_phase)):
            raise Bad("%s: phase went back from %s to %s" % (where, self.last_phase, sb.phase))
        self.last_gen, self.last_phase = sb.generation, sb.phase
        return sb

    def bitmap(self, e):
        """The set of chunks whose bit is set (missing)."""
        r = self.r
        nbytes = (r.nr_chunks + 63) // 64 * 8
        start = r.meta_off + MD_BITMAP_SECTOR * 512
        blocks = (r.nr_chunks + MD_BLOCK * 8 - 1) // (MD_BLOCK * 8)
        raw = bytes(r.image[start:start + blocks * MD_BLOCK])
        bits = int.from_bytes(raw[:nbytes], "little")
        if bits >> r.nr_chunks or any(raw[nbytes:]):
            raise Bad("%s: bits past the last chunk (%d) are set in the bitmap"
                      % (e.describe(), r.nr_chunks - 1))
        return {c for c in range(r.nr_chunks) if bits >> c & 1}

    def explain(self, c):
        """What chunk c holds instead of the source's data."""
        r = self.r
        got = r.data_chunk(c)
        want = r.source[c * r.chunk:c * r.chunk + len(got)]
        first = next(i for i in range(len(got)) if got[i] != want[i])
        what = "all zeroes" if not any(got) else "other data"
        return ("chunk %d (sector %d) holds %s: first difference at byte %d "
                "(replayed %s, source %s); writes of the chunk (entry, + if "
                "durable here): %s; last flush of the data device: entry %s%s"
                % (c, c * r.chunk // 512, what, first, got[first:first + 8].hex(),
                   want[first:first + 8].hex(),
                   " ".join(r.history.get(c, [])) or "none", r.last_data_flush,
                   "" if r.shared_flush else
                   " (model: two devices; a superblock's preflush flushes the "
                   "metadata only)"))

    def check(self, e):
        """Check the state at point e. Returns (phase, missing set or None, sb)."""
        sb = self.superblock(e)
        phase = sb.phase if sb else "blank"
        self.counts[phase] = self.counts.get(phase, 0) + 1
        missing = None
        if phase == "postcopy":
            missing = self.bitmap(e)
            present = set(range(self.r.nr_chunks)) - missing
            lost = self.present - present
            if lost:
                raise Bad("%s: postcopy, generation %d: chunk %d was present at an "
                          "earlier point and is missing again (bits only ever clear)"
                          % (e.describe(), sb.generation, min(lost)))
            self.present = present
            bad = [c for c in sorted(present) if not self.r.chunk_ok[c]]
            if bad:
                raise Bad("%s: postcopy, generation %d, %d chunks missing: %d chunks "
                          "marked present do not hold the source's data; %s"
                          % (e.describe(), sb.generation, len(missing), len(bad),
                             self.explain(bad[0])))
        elif phase == "complete":
            bad = [c for c in range(self.r.nr_chunks) if not self.r.chunk_ok[c]]
            if bad:
                raise Bad("%s: complete, generation %d: %d chunks do not hold the "
                          "source's data; %s" % (e.describe(), sb.generation,
                                                 len(bad), self.explain(bad[0])))
        return phase, missing, sb


def replay_points(args, source):
    """Replay the log; yield (entry, replay) at every point."""
    r = Replay(parse_area(args.data), parse_area(args.meta), args.chunk,
               source, args.shared_flush)
    entries = read_log(args.log)
    e = next(entries, None)
    while e is not None:
        nxt = next(entries, None)
        if r.apply(e, nxt):
            yield e, r
        e = nxt


def cmd_check(args):
    with open(args.source, "rb") as f:
        source = f.read()
    checker = None
    points = open(args.points, "w") if args.points else None
    n = 0
    try:
        for e, r in replay_points(args, source):
            checker = checker or Checker(r)
            phase, missing, sb = checker.check(e)
            n += 1
            if points:
                points.write("%d %s %s %s\n" % (e.index, phase,
                                                "-" if missing is None else len(missing),
                                                sb.generation if sb else "-"))
    except Bad as err:
        print("FAIL: %s" % err)
        return 1
    finally:
        if points:
            points.close()
    counts = checker.counts if checker else {}
    print("checked %d points (%s)" % (n, ", ".join(
        "%s %d" % (p, counts[p]) for p in ("blank",) + DEST_PHASES if p in counts)))
    # A run that saw no post-copy or no completion checked nothing useful.
    short = []
    if n < args.min_points:
        short.append("%d points, fewer than %d" % (n, args.min_points))
    for p in ("postcopy", "complete"):
        if not counts.get(p):
            short.append("no %s point" % p)
    if short:
        print("FAIL: the log does not cover a migration: %s" % "; ".join(short))
        return 1
    return 0


def cmd_dump(args):
    want = sorted({int(x) for x in args.entries.split(",") if x})
    os.makedirs(args.out_dir, exist_ok=True)
    for e, r in replay_points(args, None):
        if e.index in want:
            path = os.path.join(args.out_dir, "point-%d.img" % e.index)
            with open(path, "wb") as f:
                f.write(r.image)
            want.remove(e.index)
            print(path)
            if not want:
                break
    if want:
        print("FAIL: not a point of the log: %s" % " ".join(map(str, want)))
        return 1
    return 0


def cmd_info(args):
    n, counts = log_info(args.log)
    print("%d entries: %s" % (n, ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("check", "dump"):
        s = sub.add_parser(name)
        s.add_argument("log")
        s.add_argument("--data", required=True, help="data area: OFFSET:SECTORS")
        s.add_argument("--meta", required=True, help="metadata area: OFFSET:SECTORS")
        s.add_argument("--chunk", type=int, required=True, help="chunk size in sectors")
        s.add_argument("--shared-flush", action="store_true",
                       help="a flush makes both areas durable (one device)")
    c = sub.choices["check"]
    c.add_argument("--source", required=True, help="the source's image")
    c.add_argument("--points", help="write one line per point here")
    c.add_argument("--min-points", type=int, default=10)
    d = sub.choices["dump"]
    d.add_argument("--entries", required=True, help="points to dump: N[,N...]")
    d.add_argument("--out-dir", required=True)
    sub.add_parser("info").add_argument("log")
    args = p.parse_args(argv)
    try:
        return {"check": cmd_check, "dump": cmd_dump, "info": cmd_info}[args.cmd](args)
    except LogError as err:
        print("FAIL: %s" % err)
        return 2


if __name__ == "__main__":
    sys.exit(main())
