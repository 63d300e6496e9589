#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""hybridmig test peer and fault injector (python3 standard library only).

Plays either end of the hybridmig wire protocol against the kernel target
(or against itself), plays hostile peers, and sits in the middle of a
connection to corrupt, drop, replay or cut frames. The protocol code is in
hmproto.py beside this file; Documentation/protocol.rst specifies it.

  client          act as a source: handshake each lane, ping, hold
  server          act as a destination: accept lanes, answer pings
  reflect-server  a server that reflects the client's nonce, forges proofs
  reflect-client  a client that reflects the server's proof as its own
  garbage         hostile bytes and connection floods against a server
  mitm            a frame-aware proxy that injects one fault per connection

Every subcommand is bounded in time. Servers print "listening on
HOST:PORT" first (port 0 picks a free one) and stop on SIGTERM or SIGINT.
Event lines start with a timestamp. Run "hm-peer.py SUBCOMMAND -h".
"""

import argparse
import os
import select
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # keep the tree clean
import hmproto as hp  # noqa: E402

STOP = threading.Event()
_print_lock = threading.Lock()


def ts():
    t = time.time()
    return time.strftime("%H:%M:%S", time.localtime(t)) + \
        ".%03d" % int((t % 1) * 1000)


def out(msg):
    """A result line (stdout, no timestamp)."""
    with _print_lock:
        print(msg, flush=True)


def log(msg, stream=None):
    """An event line with a timestamp."""
    with _print_lock:
        print("[%s] %s" % (ts(), msg), file=stream or sys.stdout, flush=True)


def install_signals():
    def handler(_sig, _frm):
        STOP.set()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def hostport(s):
    """argparse type: HOST:PORT, checked up front."""
    try:
        hp.parse_hostport(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))
    return s


def get_key(args):
    if getattr(args, "key_hex", None):
        return bytes.fromhex(args.key_hex)
    if getattr(args, "key_file", None):
        return hp.read_key_file(args.key_file)
    raise SystemExit("hm-peer: give --key-file (or --key-hex)")


def listen_socket(spec):
    host, port = hp.parse_hostport(spec)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(128)
    h, p = s.getsockname()[:2]
    out("listening on %s:%d" % (h if fam == socket.AF_INET else "[%s]" % h,
                                 p))
    return s


def connect(spec, timeout=5.0):
    host, port = hp.parse_hostport(spec)
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _guarded(handle, sock, addr, n):
    """Run a connection handler; a bug in it must not leave a peer
    waiting on an open socket."""
    try:
        handle(sock, addr, n)
    except Exception as e:  # noqa: BLE001
        log("conn %d: internal error: %r" % (n, e))
    finally:
        sock.close()


def accept_loop(lsock, handle, deadline=None, should_stop=None):
    """Accept until STOP, the deadline or should_stop(); handle(sock, addr,
    n) runs in its own thread."""
    n = 0
    while not STOP.is_set():
        if deadline is not None and time.monotonic() >= deadline:
            break
        if should_stop is not None and should_stop():
            break
        try:
            r, _, _ = select.select([lsock], [], [], 0.1)
        except InterruptedError:
            continue
        if not r:
            continue
        try:
            sock, addr = lsock.accept()
        except OSError:
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        n += 1
        threading.Thread(target=_guarded, args=(handle, sock, addr, n),
                         daemon=True).start()
    lsock.close()


def session(ch, pings=0, hold=0.0, ping_timeout=5.0, ping_interval=None,
            forever=False, on_event=None):
    """Run an up lane: send `pings` PINGs back to back, wait for their
    PONGs, answer the peer's PINGs, keep the lane `hold` seconds (or until
    the peer closes if `forever`). Returns (ok, reason, answered)."""
    outstanding = {}
    answered = 0
    for _ in range(pings):
        cookie = int.from_bytes(os.urandom(8), "big")
        outstanding[cookie] = time.monotonic()
        ch.send(hp.PING, hp.ping_payload(cookie))
    end = time.monotonic() + hold
    next_ping = (time.monotonic() + ping_interval) if ping_interval else None
    while True:
        now = time.monotonic()
        if STOP.is_set():
            return True, "stopped", answered
        if not forever and not outstanding and now >= end:
            return True, "done", answered
        if outstanding and now - min(outstanding.values()) > ping_timeout:
            return False, "no PONG within %gs" % ping_timeout, answered
        if next_ping is not None and now >= next_ping:
            cookie = int.from_bytes(os.urandom(8), "big")
            outstanding[cookie] = now
            ch.send(hp.PING, hp.ping_payload(cookie))
            next_ping = now + ping_interval
        wait = 0.2
        if not forever:
            wait = min(wait, max(end - now, 0.0) + 0.01)
        if not ch.pending():
            r, _, _ = select.select([ch.sock], [], [], wait)
            if not r:
                continue
        h, p = ch.recv(timeout=ping_timeout)
        if h.type == hp.PING:
            ch.send(hp.PONG, p)
            if on_event:
                on_event("PING %#x answered" % hp.parse_ping(p))
        elif h.type == hp.PONG:
            cookie = hp.parse_ping(p)
            if outstanding.pop(cookie, None) is not None:
                answered += 1
            elif on_event:
                on_event("unsolicited PONG %#x ignored" % cookie)
        else:
            raise hp.Unexpected("%s in session" % hp.type_name(h.type))


def result_of(e):
    if isinstance(e, hp.Rejected):
        return "rejected %s" % hp.reject_name(e.reason)
    if isinstance(e, hp.PeerClosed):
        return "closed"
    if isinstance(e, hp.AuthFailed):
        return str(e)
    if isinstance(e, hp.ProtoError):
        return "protocol error: %s" % e
    if isinstance(e, ConnectionRefusedError):
        return "error: connection refused"
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "error: timeout"
    if isinstance(e, OSError):
        return "error: %s" % (e.strerror or e)
    return "error: %s" % e


# --- client --------------------------------------------------------------------

def client_handshake_skipping_proof(sock, key, lane, timeout):
    """Like hp.client_handshake() but sends its RESPONSE without checking
    the server's proof, so a server's own check of a wrong key shows."""
    ch = hp.Channel(sock, "client", lane)
    nc = os.urandom(hp.NONCE_LEN)
    ch.send(hp.HELLO, hp.hello_payload(nc))
    h, p = ch.recv(timeout)
    if h.type == hp.REJECT:
        raise hp.Rejected(hp.parse_reject(p))
    if h.type != hp.CHALLENGE:
        raise hp.Unexpected("%s instead of CHALLENGE" % hp.type_name(h.type))
    ns = hp.parse_challenge(p)[3]
    ch.send(hp.RESPONSE, hp.client_proof(key, lane, ns, nc))
    ch.set_keys(*hp.session_keys(key, lane, nc, ns))
    h, p = ch.recv(timeout)
    if h.type == hp.REJECT:
        raise hp.Rejected(hp.parse_reject(p))
    if h.type != hp.WELCOME:
        raise hp.Unexpected("%s instead of WELCOME" % hp.type_name(h.type))
    ch.up = True
    return ch


def cmd_client(args):
    key = get_key(args)
    lanes = [int(x) for x in args.lanes.split(",") if x != ""]
    results = {}
    chans = {}
    for lane in lanes:
        try:
            sock = connect(args.connect, args.timeout)
        except OSError as e:
            results[lane] = result_of(e)
            log("lane %d: %s" % (lane, results[lane]), sys.stderr)
            continue
        try:
            if args.skip_server_proof:
                ch = client_handshake_skipping_proof(sock, key, lane,
                                                     args.timeout)
            else:
                ch = hp.client_handshake(sock, key, lane, args.timeout)
            chans[lane] = ch
            log("lane %d: up" % lane, sys.stderr)
        except (hp.ProtoError, OSError) as e:
            results[lane] = result_of(e)
            log("lane %d: %s" % (lane, e), sys.stderr)
            sock.close()

    def run(lane, ch):
        try:
            ok, reason, answered = session(
                ch, args.ping, args.hold, args.ping_timeout,
                on_event=lambda m: log("lane %d: %s" % (lane, m),
                                       sys.stderr))
            if args.ping:
                log("lane %d: %d/%d pings answered" %
                    (lane, answered, args.ping), sys.stderr)
            results[lane] = "connected" if ok else "error: " + reason
        except (hp.ProtoError, OSError) as e:
            results[lane] = result_of(e)
            log("lane %d: %s" % (lane, e), sys.stderr)
        finally:
            ch.close()

    threads = [threading.Thread(target=run, args=(ln, c), daemon=True)
               for ln, c in chans.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for lane in lanes:
        out("lane %d: %s" % (lane, results.get(lane, "error: not run")))
    return 0 if all(results.get(ln) == "connected" for ln in lanes) else 1


# --- server --------------------------------------------------------------------

def cmd_server(args):
    """A destination. By default it behaves as the kernel target does: a
    newly authenticated connection for a lane replaces the one it had (the
    source reconnects after failures the destination may not have seen
    yet), and a new lane 0 starts a new session, ending both old lanes.
    With --reject-busy it refuses a HELLO for an up lane with REJECT(busy)
    instead, and never replaces a lane."""
    key = get_key(args)
    install_signals()
    lsock = listen_socket(args.listen)
    lock = threading.Lock()
    lanes = {}          # lane -> conn number
    conns = {}          # conn number -> {"sock", "replaced_by"}
    state = {"active": 0, "ever_up": False, "last_end": time.monotonic()}

    def busy(lane):
        with lock:
            return args.reject_busy and lane in lanes

    def handle(sock, addr, n):
        with lock:
            state["active"] += 1
            conns[n] = {"sock": sock, "replaced_by": None}
        tag = "conn %d" % n
        lane = None
        try:
            def claim(ln):
                victims = []
                with lock:
                    if args.reject_busy:
                        if ln in lanes:
                            return False
                    else:
                        old = list(lanes.items()) if ln == hp.LANE_CONTROL \
                            else [(ln, lanes[ln])] if ln in lanes else []
                        for oln, on in old:
                            del lanes[oln]
                            conns[on]["replaced_by"] = n
                            victims.append(conns[on]["sock"])
                    lanes[ln] = n
                for v in victims:
                    try:
                        v.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return True
            try:
                ch = hp.server_handshake(sock, key, args.handshake_timeout,
                                         lane_busy=busy, claim_lane=claim)
            except (hp.ProtoError, OSError) as e:
                what = str(e)
                if isinstance(e, hp.AuthFailed):
                    what += " (sent REJECT auth)"
                elif isinstance(e, hp.Rejected) and e.reason == hp.REJECT_BUSY:
                    what = "lane busy (sent REJECT busy)"
                elif isinstance(e, hp.NoVersion):
                    what += " (sent REJECT version)"
                log("%s from %s:%d: handshake failed: %s" %
                    (tag, addr[0], addr[1], what))
                return
            lane = ch.lane
            with lock:
                state["ever_up"] = True
            tag = "conn %d lane %d" % (n, lane)
            log("%s: up (from %s:%d)" % (tag, addr[0], addr[1]))
            try:
                session(ch, ping_interval=args.ping_interval,
                        ping_timeout=args.ping_timeout, forever=True,
                        on_event=(lambda m: log("%s: %s" % (tag, m)))
                        if args.verbose else None)
                log("%s: closed: server stopping" % tag)
            except (hp.ProtoError, OSError) as e:
                with lock:
                    by = conns[n]["replaced_by"]
                if by is not None:
                    log("%s: closed: replaced by conn %d" % (tag, by))
                else:
                    log("%s: closed: %s" % (tag, e))
            ch.close()
        finally:
            sock.close()
            with lock:
                if lane is not None and lanes.get(lane) == n:
                    del lanes[lane]
                del conns[n]
                state["active"] -= 1
                state["last_end"] = time.monotonic()

    def once_done():
        if not args.once:
            return False
        with lock:
            return (state["ever_up"] and state["active"] == 0 and
                    time.monotonic() - state["last_end"] > 1.0)

    deadline = (time.monotonic() + args.max_time) if args.max_time else None
    accept_loop(lsock, handle, deadline, once_done)
    STOP.set()
    return 0 if (state["ever_up"] or not args.once) else 1


# --- reflect-server --------------------------------------------------------------

def cmd_reflect_server(args):
    install_signals()
    lsock = listen_socket(args.listen)
    lock = threading.Lock()
    st = {"seen": 0, "responses": 0, "captured": None}

    def handle(sock, addr, n):
        ch = hp.Channel(sock, "server", None)
        try:
            h, p = ch.recv(args.timeout)
            if h.type != hp.HELLO:
                log("conn %d: got %s, not HELLO" % (n, hp.type_name(h.type)))
                return
            nc = hp.parse_hello(p)[3]
            with lock:
                captured = st["captured"]
            mode = args.proof
            if mode == "captured" and captured is None:
                mode = "random"
            proof = {"random": lambda: os.urandom(hp.MAC_LEN),
                     "zero": lambda: bytes(hp.MAC_LEN),
                     "nonce": lambda: nc,
                     "captured": lambda: captured}[mode]()
            ch.send(hp.CHALLENGE, hp.challenge_payload(nc, proof))
            log("conn %d lane %d: sent CHALLENGE with ns == nc and a %s "
                "proof" % (n, ch.lane, mode))
            try:
                h, p = ch.recv(args.timeout)
            except hp.PeerClosed:
                log("conn %d lane %d: client closed without a RESPONSE "
                    "(good)" % (n, ch.lane))
                return
            except hp.Timeout:
                log("conn %d lane %d: client sent nothing in %gs (no "
                    "RESPONSE: good)" % (n, ch.lane, args.timeout))
                return
            if h.type == hp.RESPONSE:
                with lock:
                    st["responses"] += 1
                    st["captured"] = p
                log("conn %d lane %d: CLIENT SENT A RESPONSE: it accepted a "
                    "forged server proof (BAD)" % (n, ch.lane))
            elif h.type == hp.REJECT:
                log("conn %d lane %d: client sent REJECT %s, no RESPONSE "
                    "(good)" % (n, ch.lane,
                                hp.reject_name(hp.parse_reject(p))))
            else:
                log("conn %d lane %d: client sent %s, no RESPONSE (good)" %
                    (n, ch.lane, hp.type_name(h.type)))
        except (hp.ProtoError, OSError) as e:
            log("conn %d: %s" % (n, e))
        finally:
            ch.close()
            with lock:
                st["seen"] += 1

    deadline = time.monotonic() + args.max_time
    accept_loop(lsock, handle, deadline,
                lambda: st["seen"] >= args.count)
    out("reflect-server: %d connections, %d RESPONSEs" %
        (st["seen"], st["responses"]))
    return 0 if st["seen"] >= 1 and st["responses"] == 0 else 1


# --- reflect-client --------------------------------------------------------------

def cmd_reflect_client(args):
    try:
        sock = connect(args.connect, args.timeout)
    except OSError as e:
        out("reflect-client: %s" % result_of(e))
        return 2
    ch = hp.Channel(sock, "client", args.lane)
    try:
        nc = os.urandom(hp.NONCE_LEN)
        ch.send(hp.HELLO, hp.hello_payload(nc))
        h, p = ch.recv(args.timeout)
        if h.type != hp.CHALLENGE:
            out("reflect-client: server sent %s, not CHALLENGE" %
                hp.type_name(h.type))
            return 2
        ns, proof_s = hp.parse_challenge(p)[3:]
        proof = {"reflect": proof_s, "zero": bytes(hp.MAC_LEN),
                 "random": os.urandom(hp.MAC_LEN)}[args.mode]
        ch.send(hp.RESPONSE, proof)
        log("sent RESPONSE with the %s proof" %
            ("server's own" if args.mode == "reflect" else args.mode))
        try:
            h, p = ch.recv(args.timeout)
        except hp.PeerClosed:
            out("reflect-client: server closed (good)")
            return 0
        except hp.BadMac:
            # We cannot check the server's MAC: we have no keys. Anything
            # MACed here means the server accepted us.
            out("reflect-client: server sent a session frame: ACCEPTED (BAD)")
            return 1
        except hp.Unexpected as e:
            out("reflect-client: server accepted: %s (BAD)" % e)
            return 1
        if h.type == hp.REJECT:
            out("reflect-client: server rejected %s (good)" %
                hp.reject_name(hp.parse_reject(p)))
            return 0
        out("reflect-client: server sent %s: ACCEPTED (BAD)" %
            hp.type_name(h.type))
        return 1
    except hp.Timeout:
        out("reflect-client: server neither rejected nor closed in %gs "
            "(BAD)" % args.timeout)
        return 1
    except (hp.ProtoError, OSError) as e:
        out("reflect-client: %s" % result_of(e))
        return 2
    finally:
        ch.close()


# --- garbage -----------------------------------------------------------------------

def wait_closed(sock, timeout):
    """Read until the peer closes; (closed, bytes the peer sent)."""
    got = b""
    end = time.monotonic() + timeout
    while not STOP.is_set():
        left = end - time.monotonic()
        if left <= 0:
            return False, got
        sock.settimeout(min(left, 0.2))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True, got
        if not data:
            return True, got
        got += data
    return False, got


def describe_reply(got):
    if not got:
        return "nothing"
    sp = hp.FrameSplitter()
    frames = sp.feed(got)
    names = []
    for h, data in frames:
        if h is None:
            names.append("%d raw bytes" % len(data))
        elif h.type == hp.REJECT and h.len == 4:
            names.append("REJECT %s" % hp.reject_name(
                hp.parse_reject(data[hp.HDR_LEN:hp.HDR_LEN + 4])))
        else:
            names.append(hp.type_name(h.type))
    return ", ".join(names) or "%d bytes" % len(got)


def garbage_bytes(mode, lane, size):
    hello = hp.hello_payload(os.urandom(hp.NONCE_LEN))
    if mode == "random":
        return os.urandom(size)
    if mode == "huge-len":
        return hp.pack_hdr(hp.HELLO, lane, 0xFFFFFFFF, 0) + hello
    if mode == "truncated-header":
        return hp.pack_hdr(hp.HELLO, lane, len(hello), 0)[:10]
    if mode == "bad-magic":
        return hp.pack_hdr(hp.HELLO, lane, len(hello), 0,
                           magic=0x584D4947) + hello
    if mode == "bad-lane":
        return hp.pack_hdr(hp.HELLO, 7, len(hello), 0) + hello
    if mode == "bad-seq":
        return hp.pack_hdr(hp.HELLO, lane, len(hello), 5) + hello
    if mode == "session-first":
        return hp.encode_frame(hp.PING, lane, 0, hp.ping_payload(1),
                               os.urandom(32))
    raise ValueError(mode)


def cmd_garbage(args):
    install_signals()
    if args.mode == "flood":
        return garbage_flood(args)
    count = args.count or 1
    bad = 0
    for i in range(count):
        if STOP.is_set():
            break
        try:
            sock = connect(args.connect, args.timeout)
        except OSError as e:
            out("garbage %s #%d: %s" % (args.mode, i + 1, result_of(e)))
            bad += 1
            continue
        try:
            if args.mode == "slow":
                # A valid HELLO, one byte at a time, slower than any
                # handshake timeout should allow.
                data = hp.encode_frame(hp.HELLO, args.lane, 0,
                                       hp.hello_payload(os.urandom(32)))
                closed = False
                for b in data:
                    try:
                        sock.sendall(bytes([b]))
                    except OSError:
                        closed = True
                        break
                    r, _, _ = select.select([sock], [], [], args.slow_delay)
                    if r:
                        closed, got = wait_closed(sock, 0.1)
                        if closed:
                            break
                    if STOP.is_set():
                        break
                got = b""
            else:
                data = garbage_bytes(args.mode, args.lane, args.size)
                try:
                    sock.sendall(data)
                except OSError:
                    pass
                if args.mode == "truncated-header":
                    sock.shutdown(socket.SHUT_WR)
                closed, got = wait_closed(sock, args.timeout)
            verdict = ("server closed (good)" if closed else
                       "server kept the connection open for %gs (BAD)" %
                       args.timeout)
            out("garbage %s #%d: sent %d bytes, got back %s; %s" %
                (args.mode, i + 1, len(data), describe_reply(got), verdict))
            if not closed:
                bad += 1
        finally:
            sock.close()
    return 1 if bad else 0


def garbage_flood(args):
    count = args.count or 50
    socks = []
    refused = 0
    for _ in range(count):
        if STOP.is_set():
            break
        try:
            s = connect(args.connect, args.timeout)
        except OSError:
            refused += 1
            continue
        if args.hold:
            socks.append(s)
        else:
            s.close()
    if not args.hold:
        out("garbage flood: opened and dropped %d connections, %d failed" %
            (count - refused, refused))
        return 0
    log("flood: holding %d connections open for %gs without sending" %
        (len(socks), args.hold))
    end = time.monotonic() + args.hold
    closed = set()
    while time.monotonic() < end and not STOP.is_set() and \
            len(closed) < len(socks):
        live = [s for s in socks if s not in closed]
        r, _, _ = select.select(live, [], [], 0.2)
        for s in r:
            try:
                if not s.recv(4096):
                    closed.add(s)
            except OSError:
                closed.add(s)
    for s in socks:
        s.close()
    out("garbage flood: held %d connections, server closed %d of them "
        "within %gs, %d failed to connect" %
        (len(socks), len(closed), args.hold, refused))
    return 0


# --- mitm --------------------------------------------------------------------------

class MitmConn:
    """One proxied connection: two pumps, one fault at most."""

    def __init__(self, args, n, csock, ssock, claim_fault):
        self.args = args
        self.claim_fault = claim_fault
        self.n = n
        self.socks = {"c2s": (csock, ssock), "s2c": (ssock, csock)}
        self.faulty = args.fault != "none"
        self.lane = None
        self.done = False
        self.lock = threading.Lock()
        self.frames = {"c2s": 0, "s2c": 0}
        self.session = {"c2s": 0, "s2c": 0}
        self.fault_done = False

    def tag(self, direction):
        lane = "?" if self.lane is None else str(self.lane)
        return "conn %d lane %s %s" % (self.n, lane, direction)

    def kill(self):
        with self.lock:
            self.done = True
        for s in self.socks["c2s"]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def pump(self, direction):
        src, dst = self.socks[direction]
        sp = hp.FrameSplitter()
        hs_done = False
        last = None
        args = self.args
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                for h, frame in sp.feed(data):
                    if h is None:
                        if args.verbose:
                            log("%s: %d unparsed bytes passed through" %
                                (self.tag(direction), len(frame)))
                        dst.sendall(frame)
                        continue
                    if direction == "c2s" and self.lane is None:
                        self.lane = h.lane
                    self.frames[direction] += 1
                    if args.verbose:
                        log("%s: %s seq %d len %d" % (
                            self.tag(direction), hp.type_name(h.type), h.seq,
                            h.len))
                    in_session = hs_done
                    if (direction == "c2s" and h.type == hp.RESPONSE) or \
                            (direction == "s2c" and h.type == hp.WELCOME):
                        hs_done = True
                    if in_session:
                        idx = self.session[direction]
                        self.session[direction] += 1
                        if (self.faulty and not self.fault_done and
                                direction == args.direction and
                                idx == args.after_frames and
                                (args.lane is None or
                                 self.lane == args.lane) and
                                self.claim_fault()):
                            self.fault_done = True
                            if not self.inject(direction, h, frame, last,
                                               dst):
                                return
                            last = frame
                            continue
                    dst.sendall(frame)
                    last = frame
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def inject(self, direction, h, frame, last, dst):
        """Apply the fault to this frame; False: the connection is cut."""
        args = self.args
        what = "%s seq %d" % (hp.type_name(h.type), h.seq)
        tag = self.tag(direction)
        if args.fault == "flip":
            if args.flip_at == "payload" and h.len:
                off = hp.HDR_LEN
                where = "payload"
            elif args.flip_at == "seq":
                off = 23
                where = "header seq"
            else:
                off = hp.HDR_LEN + h.len
                where = "MAC"
            b = bytearray(frame)
            b[off] ^= 0x01
            dst.sendall(bytes(b))
            log("%s: FAULT flip: flipped byte %d (%s) of %s" %
                (tag, off, where, what))
        elif args.fault == "drop":
            log("%s: FAULT drop: dropped %s" % (tag, what))
        elif args.fault == "replay":
            old = last if last is not None else frame
            oh = hp.unpack_hdr(old)
            dst.sendall(old)
            dst.sendall(frame)
            log("%s: FAULT replay: re-sent %s seq %d before %s" %
                (tag, hp.type_name(oh.type), oh.seq, what))
        elif args.fault == "truncate":
            cut = max(1, len(frame) // 2)
            dst.sendall(frame[:cut])
            log("%s: FAULT truncate: sent %d of %d bytes of %s, closing" %
                (tag, cut, len(frame), what))
            self.kill()
            return False
        else:
            dst.sendall(frame)
        return True


def cmd_mitm(args):
    install_signals()
    lsock = listen_socket(args.listen)
    conns = []
    lock = threading.Lock()
    st = {"faults": 0, "handled": 0}

    def claim_fault():
        """With --fault-once, only the first fault injected anywhere."""
        with lock:
            if args.fault_once and st["faults"]:
                return False
            st["faults"] += 1
            return True

    def handle(csock, addr, n):
        try:
            ssock = connect(args.forward, 5.0)
        except Exception as e:  # noqa: BLE001 -- never leave csock open
            log("conn %d: cannot reach %s: %s" % (n, args.forward, e))
            csock.close()
            with lock:
                st["handled"] += 1
            return
        c = MitmConn(args, n, csock, ssock, claim_fault)
        with lock:
            conns.append(c)
        log("conn %d: %s:%d -> %s" % (n, addr[0], addr[1], args.forward))
        t = threading.Thread(target=c.pump, args=("s2c",), daemon=True)
        t.start()
        c.pump("c2s")
        t.join()
        csock.close()
        ssock.close()
        log("conn %d lane %s: closed (c2s %d frames, s2c %d frames)%s" % (
            n, "?" if c.lane is None else c.lane, c.frames["c2s"],
            c.frames["s2c"], " (fault injected)" if c.fault_done else ""))
        with lock:
            conns.remove(c)
            st["handled"] += 1

    deadline = (time.monotonic() + args.max_time) if args.max_time else None
    accept_loop(lsock, handle, deadline,
                lambda: args.max_conns and st["handled"] >= args.max_conns)
    STOP.set()
    with lock:
        live = list(conns)
    for c in live:
        c.kill()
    log("mitm: stopping")
    return 0


# --- main --------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="hm-peer.py",
        description="hybridmig wire-protocol test peer and fault injector")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def key_opts(p):
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--key-file", metavar="F",
                       help="shared secret: the file's bytes, verbatim")
        g.add_argument("--key-hex", metavar="HEX",
                       help="shared secret as hex (for scripts)")

    p = sub.add_parser("client", help="act as a source")
    p.add_argument("--connect", required=True, metavar="HOST:PORT",
                   type=hostport)
    key_opts(p)
    p.add_argument("--lanes", default="0,1", help="default 0,1")
    p.add_argument("--ping", type=int, default=0, metavar="N",
                   help="PINGs per lane, sent back to back")
    p.add_argument("--hold", type=float, default=0.0, metavar="SECONDS",
                   help="keep the lanes up this long, answering PINGs")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="connect and handshake timeout (default 10)")
    p.add_argument("--ping-timeout", type=float, default=5.0)
    p.add_argument("--skip-server-proof", action="store_true",
                   help="answer the CHALLENGE without checking the "
                   "server's proof (tests the server's check of ours)")
    p.set_defaults(fn=cmd_client)

    p = sub.add_parser("server", help="act as a destination")
    p.add_argument("--listen", required=True, metavar="HOST:PORT",
                   type=hostport)
    key_opts(p)
    p.add_argument("--once", action="store_true",
                   help="exit once a client came up and all its "
                   "connections closed")
    p.add_argument("--handshake-timeout", type=float,
                   default=hp.HANDSHAKE_TIMEOUT)
    p.add_argument("--reject-busy", action="store_true",
                   help="answer a HELLO for an up lane with REJECT(busy) "
                   "instead of replacing the lane once authenticated")
    p.add_argument("--ping-interval", type=float, default=None,
                   metavar="SECONDS", help="also PING each lane this often")
    p.add_argument("--ping-timeout", type=float, default=5.0)
    p.add_argument("--max-time", type=float, default=0,
                   metavar="SECONDS", help="exit after this long (0: never)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(fn=cmd_server)

    p = sub.add_parser("reflect-server",
                       help="a forging server: a real client must refuse it")
    p.add_argument("--listen", required=True, metavar="HOST:PORT",
                   type=hostport)
    p.add_argument("--proof", default="random",
                   choices=["random", "zero", "nonce", "captured"],
                   help="proof to send: random, zeros, the client's nonce, "
                   "or a RESPONSE proof captured on an earlier connection")
    p.add_argument("--count", type=int, default=1,
                   help="connections to take before exiting (default 1)")
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--max-time", type=float, default=60.0)
    p.set_defaults(fn=cmd_reflect_server)

    p = sub.add_parser("reflect-client",
                       help="a client that reflects the server's proof")
    p.add_argument("--connect", required=True, metavar="HOST:PORT",
                   type=hostport)
    p.add_argument("--lane", type=int, default=0)
    p.add_argument("--mode", default="reflect",
                   choices=["reflect", "zero", "random"])
    p.add_argument("--timeout", type=float, default=10.0)
    p.set_defaults(fn=cmd_reflect_client)

    p = sub.add_parser("garbage", help="hostile input against a server")
    p.add_argument("--connect", required=True, metavar="HOST:PORT",
                   type=hostport)
    p.add_argument("--mode", required=True,
                   choices=["random", "huge-len", "truncated-header",
                            "bad-magic", "bad-lane", "bad-seq",
                            "session-first", "slow", "flood"])
    p.add_argument("--count", type=int, default=0,
                   help="connections (default 1; flood: 50)")
    p.add_argument("--lane", type=int, default=0)
    p.add_argument("--size", type=int, default=4096,
                   help="random: bytes per connection")
    p.add_argument("--hold", type=float, default=0.0, metavar="SECONDS",
                   help="flood: hold the connections open this long")
    p.add_argument("--slow-delay", type=float, default=1.0,
                   help="slow: seconds between bytes")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="how long to wait for the server to close")
    p.set_defaults(fn=cmd_garbage)

    p = sub.add_parser("mitm", help="a frame-aware fault-injecting proxy")
    p.add_argument("--listen", required=True, metavar="HOST:PORT",
                   type=hostport)
    p.add_argument("--forward", required=True, metavar="HOST:PORT",
                   type=hostport)
    p.add_argument("--fault", required=True,
                   choices=["flip", "drop", "replay", "truncate", "none"])
    p.add_argument("--after-frames", type=int, default=0, metavar="N",
                   help="session frames passed untouched first (default 0)")
    p.add_argument("--direction", default="c2s", choices=["c2s", "s2c"])
    p.add_argument("--fault-once", action="store_true",
                   help="fault only the first connection, not each")
    p.add_argument("--lane", type=int, default=None,
                   help="fault only connections of this lane")
    p.add_argument("--flip-at", default="payload",
                   choices=["payload", "mac", "seq"],
                   help="flip: which byte (payload falls back to MAC when "
                   "the frame has none)")
    p.add_argument("--max-conns", type=int, default=0,
                   help="exit after this many connections (0: no limit)")
    p.add_argument("--max-time", type=float, default=0,
                   metavar="SECONDS", help="exit after this long (0: never)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log every frame")
    p.set_defaults(fn=cmd_mitm)

    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
