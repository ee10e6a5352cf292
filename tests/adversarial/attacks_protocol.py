"""Attacks on the lock port's parsers and connection handling: random bytes, Redis's protocol
test inputs, slowloris, trickled multibulk, big buffers before auth, and auth bypass."""
import json
import os
import random
import re
import selectors
import socket
import time

import wire
from harness import ADMIN_KEY, USER_KEY, attack

# ---- random bytes -----------------------------------------------------------------------------

# Starts that steer random bytes into each parser: RESP multibulk and inline, JSON lines, HTTP.
# Inline commands followed by random bytes reach the replies that echo input (unknown command,
# ECHO, errors naming a key).
RANDOM_PREFIXES = [b"", b"*", b"*3\r\n$", b"*2\r\n$4\r\nPING\r\n$", b"$", b"\r\n", b"{",
                   b'{"action":"acquire","key":', b'{"action":"acquire","key":"',
                   b'{"action":"nope","id":"', b"GET / HTTP/1.1\r\n",
                   b"POST / HTTP/1.1\r\nContent-Length: 300\r\n\r\n",
                   b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                   b"ECHO ", b"FOO ", b"SEMLOCK.ACQUIRE ", b"SET k ", b"CLIENT SETNAME "]


HTTP_REQUEST_LINE = re.compile(rb"^[A-Z]+ /[\x21-\x7e\x80-\xff]* HTTP/1\.[0-9]\r?\n")


def detected_protocol(payload):
    """The protocol the server picks for these first bytes (SPEC: first non-blank byte)."""
    body = payload.lstrip(b" \t\r\n")
    if body.startswith(b"{"):
        return "json"
    if HTTP_REQUEST_LINE.match(body):
        return "http"
    return "resp"


def check_replies(ctx, protocol, payload, data, seed):
    """Whatever the input, what comes back is well-formed: RESP replies that parse to the end,
    JSON lines that are valid UTF-8 JSON objects."""
    if protocol == "resp":
        pos = 0
        try:
            while pos < len(data):
                _, pos = wire.parse(data, pos)
        except (wire.Incomplete, wire.ProtocolViolation, ValueError) as e:
            ctx.fail("random bytes (seed %d): the RESP reply stream breaks at byte %d (%s): %r"
                     % (seed, pos, type(e).__name__, data[pos:pos + 80]))
    elif protocol == "json":
        for line in data.split(b"\n"):
            if not line:
                continue
            try:
                ok = isinstance(json.loads(line.decode("utf-8", "strict")), dict)
            except (UnicodeDecodeError, ValueError):
                ok = False
            if not ok:
                ctx.fail("random bytes (seed %d): a JSON reply line is not a valid UTF-8 JSON "
                         "object: %r" % (seed, line[:100]))


@attack("random_bytes", duration=4.0)
def random_bytes(ctx):
    """Connections that send random bytes (after a prefix that picks a parser), half-close and
    read: the server must answer or close each one (no connection left hanging), and every reply
    must be well-formed (RESP that parses, JSON lines of valid UTF-8)."""
    seed = int(os.environ.get("SEMLOCK_ADV_SEED", "0")) or random.SystemRandom().randrange(1 << 30)
    ctx.note("seed", seed)  # SEMLOCK_ADV_SEED=<seed> replays the same bytes

    def worker(i):
        rnd = random.Random(seed * 16 + i)
        while ctx.running():
            s = wire.connect(ctx.port, timeout=2)
            payload = rnd.choice(RANDOM_PREFIXES) + rnd.randbytes(
                rnd.choice([1, 7, 64, 512, 4096, 65536, 300000]))
            try:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # closed while we wrote: a protocol error, answered and closed
            data, closed = wire.read_until_closed(s, timeout=3.0)
            ctx.count("connections")
            if not closed:
                ctx.fail("a connection that sent %d random bytes and half-closed was neither "
                         "answered to the end nor closed within 3 s (seed %d)"
                         % (len(payload), seed))
            else:
                check_replies(ctx, detected_protocol(payload), payload, data, seed)
            s.close()
    ctx.threads(worker, 4)


# ---- Redis's tests/unit/protocol.tcl ------------------------------------------------------------

# (name, bytes sent, exact reply, closed after): every bad input of Redis's protocol tests, with
# Redis's replies; "open" cases are then checked with a PING on the same connection.
PROTOCOL_CASES = [
    ("empty query", b"\r\n*1\r\n$4\r\nPING\r\n", b"+PONG\r\n", False),
    ("negative multibulk length", b"*-10\r\n*1\r\n$4\r\nPING\r\n", b"+PONG\r\n", False),
    ("out of range multibulk length", b"*3000000000\r\n",
     b"-ERR Protocol error: invalid multibulk length\r\n", True),
    ("non-number multibulk length", b"*abc\r\n",
     b"-ERR Protocol error: invalid multibulk length\r\n", True),
    ("wrong multibulk payload header", b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
     b"-ERR Protocol error: expected '$', got 'f'\r\n", True),
    ("negative multibulk payload length", b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n",
     b"-ERR Protocol error: invalid bulk length\r\n", True),
    ("out of range multibulk payload length", b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n",
     b"-ERR Protocol error: invalid bulk length\r\n", True),
    ("bulk over max_request_bytes", b"*1\r\n$2000000\r\n",
     b"-ERR Protocol error: invalid bulk length\r\n", True),
    ("non-number multibulk payload length", b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n",
     b"-ERR Protocol error: invalid bulk length\r\n", True),
    ("multibulk not followed by bulk arguments", b"*1\r\nfoo\r\n",
     b"-ERR Protocol error: expected '$', got 'f'\r\n", True),
    ("generic wrong number of args", b"*4\r\n$4\r\nping\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\nz\r\n",
     b"-ERR wrong number of arguments for 'ping' command\r\n", False),
    ("unbalanced number of quotes", b'set """test-key""" test-value\r\nping\r\n',
     b"-ERR Protocol error: unbalanced quotes in request\r\n", True),
    ("inline too large", b"A" * (70 * 1024),
     b"-ERR Protocol error: too big inline request\r\n", True),
]

# Redis's "protocol desync" tests: a start byte, then "payload" without end until the server
# gives up. Redis's replies.
DESYNC_CASES = [
    (b"\x00", b"-ERR Protocol error: too big inline request\r\n"),
    (b"*\x00", b"-ERR Protocol error: too big mbulk count string\r\n"),
    (b"$\x00", b"-ERR Protocol error: too big inline request\r\n"),
]
# Sent at about 2 MB/s, so a server that reads along closes near Redis's 64 KB inline limit; one
# still reading after 4 MB (2 s) does not close at all.
DESYNC_MAX_BYTES = 4 << 20


def protocol_case(ctx, name, data, reply, closes):
    s = wire.connect(ctx.port, timeout=3)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass  # closed while we wrote a large request: its reply was sent first
        if closes:
            got, closed = wire.read_until_closed(s, timeout=3.0)
            ctx.check(got == reply, "%s: reply %r, expected %r" % (name, got[:120], reply))
            ctx.check(closed, "%s: connection left open after the protocol error" % name)
        else:
            got = bytearray()
            deadline = time.monotonic() + 3
            while len(got) < len(reply) and time.monotonic() < deadline:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    d = s.recv(4096)
                except socket.timeout:
                    break
                if not d:
                    break
                got += d
            ctx.check(bytes(got) == reply, "%s: reply %r, expected %r" % (name, bytes(got), reply))
            s.sendall(b"PING\r\n")
            got, _ = wire.read_until_closed(s, timeout=0.5, limit=7)
            ctx.check(got == b"+PONG\r\n", "%s: connection not usable after it: %r" % (name, got))
    finally:
        s.close()


def desync_case(ctx, start, reply):
    s = wire.connect(ctx.port, timeout=3)
    sent = 0
    chunk = b"payload" * 150
    try:
        s.sendall(start)
        while sent < DESYNC_MAX_BYTES:
            s.sendall(chunk)
            sent += len(chunk)
            time.sleep(0.0005)
    except OSError:
        pass
    got, closed = wire.read_until_closed(s, timeout=3.0)
    s.close()
    ctx.check(got == reply, "desync %r: reply %r after %d bytes, expected %r"
              % (start, got[:120], sent, reply))
    ctx.check(closed and sent < DESYNC_MAX_BYTES,
              "desync %r: the server still read after %d bytes (closed=%s)" % (start, sent, closed))


def blocking_pipeline_case(ctx):
    """Redis's "crash with blocking ops and pipelining": two blocking acquires pipelined, then the
    client goes away; the key must not be granted to the dead client."""
    holder = ctx.resp()
    key = "adv:blocked:%d" % random.randrange(1 << 30)
    r = holder.call("SEMLOCK.ACQUIRE", key, 60000, "OWNER", "h")
    ctx.check(isinstance(r, list), "blocking pipeline: first acquire %r" % (r,))
    s = wire.connect(ctx.port)
    if ctx.password:
        s.sendall(wire.encode("AUTH", ctx.password))
    cmd = wire.encode("SEMLOCK.ACQUIRE", key, 60000, "OWNER", "w", "WAIT", 60000)
    s.sendall(cmd + cmd)
    time.sleep(0.05)
    s.close()
    time.sleep(0.05)
    ctx.check(holder.call("SEMLOCK.RELEASE", key, "h") == 1, "blocking pipeline: release failed")
    deadline = time.monotonic() + 1.0  # a grant made before the close was seen is released
    while True:
        r = holder.call("SEMLOCK.EXISTS", key)
        if r == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    ctx.check(r == 0, "blocking pipeline: the key stays held by a closed client (EXISTS %r)"
              % (r,))
    holder.close()


@attack("redis_protocol_tests", duration=4.0)
def redis_protocol_tests(ctx):
    """Every bad input of Redis's tests/unit/protocol.tcl, in a loop from two clients, each
    checked for Redis's exact reply and for the close."""
    def worker(i):
        while ctx.running():
            for name, data, reply, closes in PROTOCOL_CASES:
                protocol_case(ctx, name, data, reply, closes)
            for start, reply in DESYNC_CASES:
                desync_case(ctx, start, reply)
            blocking_pipeline_case(ctx)
            ctx.count("rounds")
    ctx.threads(worker, 2)


# ---- slowloris --------------------------------------------------------------------------------

SLOW_REQUESTS = [
    wire.encode("SEMLOCK.ACQUIRE", "slow" * 200, 1000),
    b'{"action":"acquire","key":"' + b"slow" * 200 + b'","ttl":1}\n',
    b"POST / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"slow" * 200 + b"\r\n\r\n",
]
SLOW_CONNECTIONS = 60
SLOW_GRACE_S = 2.0  # beyond request_timeout: timer granularity and a loaded machine


@attack("slowloris", duration=6.0, config={"server.request_timeout": "2s",
                                            "server.idle_timeout": "60s"},
        needs=["server.request_timeout"])
def slowloris(ctx):
    """60 connections (RESP, JSON, HTTP) each send one byte a second of a request that never ends.
    Each must be closed within server.request_timeout (2 s) plus a grace, however often it sends."""
    timeout_s = 2.0
    sel = selectors.DefaultSelector()
    conns = {}
    for i in range(SLOW_CONNECTIONS):
        s = wire.connect(ctx.port)
        s.setblocking(False)
        conns[s] = {"req": SLOW_REQUESTS[i % 3], "pos": 0, "first": None, "closed": None}
        sel.register(s, selectors.EVENT_READ)
    next_send = time.monotonic()
    while ctx.running():
        now = time.monotonic()
        if now >= next_send:
            for s, st in conns.items():
                if st["closed"] is None:
                    try:
                        s.send(st["req"][st["pos"]:st["pos"] + 1])
                        st["pos"] = min(st["pos"] + 1, len(st["req"]) - 2)
                        if st["first"] is None:
                            st["first"] = now
                    except OSError:
                        st["closed"] = now
            next_send = now + 1.0
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            st = conns[s]
            try:
                d = s.recv(4096)
            except OSError:
                d = b""
            if not d and st["closed"] is None:
                st["closed"] = time.monotonic()
                sel.unregister(s)
    end = time.monotonic()
    judged = late = 0
    for s, st in conns.items():
        s.close()
        if st["first"] is None:
            continue
        deadline = st["first"] + timeout_s + SLOW_GRACE_S
        if deadline > end:
            continue  # the attack ended before this one's deadline: nothing to judge
        judged += 1
        if st["closed"] is None or st["closed"] > deadline:
            late += 1
    ctx.note("closed_by_server", sum(1 for st in conns.values() if st["closed"]))
    ctx.check(late == 0, "slowloris: %d of %d connections sending a byte a second were not closed "
              "within request_timeout %.0f s + %.0f s" % (late, judged, timeout_s, SLOW_GRACE_S))


# ---- trickled multibulk -----------------------------------------------------------------------

@attack("trickled_multibulk", duration=5.0)
def trickled_multibulk(ctx):
    """4 clients announce *1000000 and trickle tiny arguments: a parser that rescans the frame
    from its start on every read spends a core on them (the probe's latency shows it; the server's
    CPU time is noted). Reconnects whenever the server closes a connection."""
    arg = b"$1\r\nx\r\n" * 20

    def worker(i):
        s = None
        while ctx.running():
            if s is None:
                s = wire.connect(ctx.port)
                if ctx.password:
                    s.sendall(wire.encode("AUTH", ctx.password))
                s.sendall(b"*1000000\r\n")
                ctx.count("connections")
            try:
                s.sendall(arg)
                ctx.count("bytes", len(arg))
            except OSError:
                s.close()
                s = None
                continue
            time.sleep(0.002)
        if s is not None:
            s.close()
    ctx.threads(worker, 4)


# ---- big buffers before auth ------------------------------------------------------------------

PREAUTH_BYTES = 2 * 1024 * 1024
PREAUTH_HOLD_BYTES = 1000 * 1000  # held first: just under the 1 MiB line limit of JSON
PREAUTH_CONNECTIONS = 100
PREAUTH_RESP_REPLY = b"-ERR Protocol error: unauthenticated request too large\r\n"
# A bulk header over the pre-auth limit may be refused at once with Redis's own text.
PREAUTH_RESP_BULK_REPLY = b"-ERR Protocol error: unauthenticated bulk length\r\n"


def pump(ctx, sel, conns, limit, until):
    """Sends each connection's data up to `limit` bytes and reads what comes back, until every
    connection is done (or closed) or the time `until`."""
    for st in conns:
        if not st["closed"] and st["sent"] < min(limit, len(st["data"])):
            sel.modify(st["sock"], selectors.EVENT_READ | selectors.EVENT_WRITE, st)
    while time.monotonic() < until:
        if all(st["closed"] or st["sent"] >= min(limit, len(st["data"])) for st in conns):
            break
        for key, events in sel.select(timeout=0.05):
            st = key.data
            s = st["sock"]
            end = min(limit, len(st["data"]))
            if events & selectors.EVENT_WRITE and st["sent"] < end:
                try:
                    st["sent"] += s.send(st["data"][st["sent"]:min(end, st["sent"] + 65536)])
                except OSError:
                    st["sent"] = len(st["data"])
                if st["sent"] >= end:
                    sel.modify(s, selectors.EVENT_READ, st)
            if events & selectors.EVENT_READ:
                read_some(sel, st)


def read_some(sel, st):
    try:
        d = st["sock"].recv(65536)
    except BlockingIOError:
        return
    except OSError:
        d = b""
    if d:
        st["reply"] += d
    elif not st["closed"]:
        st["closed"] = True
        sel.unregister(st["sock"])


@attack("preauth_big_buffers", duration=6.0, auth=True)
def preauth_big_buffers(ctx):
    """100 connections without a key each send 1 MB and hold it (a JSON line without its end, an
    HTTP body, RESP inline and bulk), then send the rest (up to 2 MB). None of it may count against keyed clients
    (a keyed client's acquires never get OVERLIMIT meanwhile), and each must be refused after at
    most 16 KiB with the exact error (RESP text, JSON BADREQUEST, HTTP 413), then closed."""
    # Each within the limits a keyed client has (bulk and JSON line up to 1 MiB), so only the
    # pre-auth bound refuses them early.
    kinds = ["json"] * 4 + ["http"] * 4 + ["resp_inline", "resp_bulk"]
    heads = {
        "resp_inline": b"SEMLOCK.ACQUIRE ",
        "resp_bulk": b"*2\r\n$4\r\nECHO\r\n$%d\r\n" % PREAUTH_HOLD_BYTES,
        "json": b'{"action":"acquire","key":"k","ttl":10,"pad":"',
        "http": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % PREAUTH_HOLD_BYTES,
    }
    sel = selectors.DefaultSelector()
    conns = []
    for i in range(PREAUTH_CONNECTIONS):
        kind = kinds[i % len(kinds)]
        s = wire.connect(ctx.port)
        s.setblocking(False)
        body = b"a" * (PREAUTH_HOLD_BYTES if kind in ("http", "resp_bulk") else PREAUTH_BYTES)
        st = {"kind": kind, "sock": s, "data": heads[kind] + body, "sent": 0,
              "reply": bytearray(), "closed": False}
        conns.append(st)
        sel.register(s, selectors.EVENT_READ, st)

    # Phase 1: every connection holds up to 1 MB; a keyed client acquires new keys meanwhile.
    pump(ctx, sel, conns, PREAUTH_HOLD_BYTES - 1000, time.monotonic() + ctx.remaining() / 2)
    ctx.note("held_bytes_sent", sum(min(st["sent"], PREAUTH_HOLD_BYTES) for st in conns))
    keyed = ctx.resp()
    hold_until = time.monotonic() + 1.0
    n = 0
    while time.monotonic() < hold_until:
        n += 1
        r = keyed.call("SEMLOCK.ACQUIRE", "adv:keyed:%d" % (n % 500), 1000)
        if isinstance(r, wire.Error):
            ctx.fail("a keyed client's acquire was refused while keyless connections held "
                     "buffers: %s" % r)
        for key, _ in sel.select(timeout=0):
            read_some(sel, key.data)
        time.sleep(0.005)
    keyed.close()
    ctx.note("keyed_acquires", n)

    # Phase 2: the rest of the 2 MB; every connection must have been refused and closed.
    pump(ctx, sel, conns, len(heads["http"]) + PREAUTH_BYTES + 100, ctx.deadline)
    until = time.monotonic() + 3
    while time.monotonic() < until and not all(st["closed"] for st in conns):
        for key, _ in sel.select(timeout=0.05):
            read_some(sel, key.data)

    for st in conns:
        s, kind, reply = st["sock"], st["kind"], bytes(st["reply"])
        if not st["closed"]:
            ctx.fail("%s: a keyless connection that sent %d bytes was not closed" % (kind, st["sent"]))
        if kind == "resp_inline":
            ok = reply == PREAUTH_RESP_REPLY
        elif kind == "resp_bulk":
            ok = reply in (PREAUTH_RESP_REPLY, PREAUTH_RESP_BULK_REPLY)
        elif kind == "json":
            try:
                j = json.loads(reply.split(b"\n")[0])
                ok = (j.get("code") == "BADREQUEST"
                      and "unauthenticated request too large" in j.get("error", ""))
            except ValueError:
                ok = False
        else:
            ok = reply.startswith(b"HTTP/1.1 413")
        if not ok:
            ctx.fail("%s: keyless 2 MB request answered %r (expected the 16 KiB pre-auth refusal)"
                     % (kind, reply[:100]))
        s.close()


# ---- auth bypass ------------------------------------------------------------------------------

NOAUTH = "NOAUTH Authentication required."
VICTIM = "held:m:0"  # one of the harness's locks: still held by its owner at the end

PREAUTH_COMMANDS = [
    ("SEMLOCK.ACQUIRE", "adv:k", 1000), ("SEMLOCK.RELEASE", VICTIM, "adv-owner-0"),
    ("SEMLOCK.FORCERELEASE", VICTIM), ("SEMLOCK.EXTEND", VICTIM, "adv-owner-0", 1),
    ("SEMLOCK.INFO", VICTIM), ("SEMLOCK.LIST",), ("SEMLOCK.SCAN", 0), ("SEMLOCK.STATS",),
    ("SET", VICTIM, "x"), ("SET", "adv:k", "v", "NX", "PX", 1000), ("GET", VICTIM),
    ("DEL", VICTIM), ("PEXPIRE", VICTIM, 1), ("DELIFEQ", VICTIM, "adv-owner-0"),
    ("EVAL", "return redis.call('del', KEYS[1])", 1, VICTIM), ("EVALSHA", "0" * 40, 0),
    ("SCRIPT", "LOAD", "return 1"), ("SCRIPT", "FLUSH"), ("CLIENT", "SETNAME", "x"),
    ("CLIENT", "LIST"), ("INFO",), ("COMMAND",), ("MULTI",), ("EXEC",), ("SELECT", 0),
    ("DBSIZE",), ("ECHO", "x"), ("TIME",),
]
# Commands a lock server may not serve at all: before AUTH any error will do, but no answer.
PREAUTH_MAYBE_UNSERVED = [("KEYS", "*"), ("SCAN", 0), ("HGETALL", VICTIM), ("FLUSHALL",)]
JSON_ACTIONS = [
    {"action": "acquire", "key": "adv:j", "ttl": 1},
    {"action": "release", "key": VICTIM},
    {"action": "force_release", "key": VICTIM},
    {"action": "extend", "key": VICTIM, "owner": "adv-owner-0", "ttl": 1},
    {"action": "status", "key": VICTIM}, {"action": "exists", "key": VICTIM},
    {"action": "list"}, {"action": "stats"},
]


def expect(ctx, what, got, want_prefix):
    ok = isinstance(got, (wire.Error, str)) and str(got).startswith(want_prefix)
    ctx.check(ok, "auth bypass: %s -> %r (expected %s...)" % (what, got, want_prefix))


def auth_round(ctx):
    # RESP before AUTH: every command but AUTH, HELLO, PING, QUIT is refused.
    c = wire.Resp(ctx.port)
    for cmd in PREAUTH_COMMANDS:
        expect(ctx, "RESP %s before AUTH" % " ".join(map(str, cmd[:2])), c.call(*cmd), NOAUTH)
    for cmd in PREAUTH_MAYBE_UNSERVED:
        r = c.call(*cmd)
        ctx.check(isinstance(r, wire.Error), "auth bypass: %s before AUTH -> %r" % (cmd[0], r))
    c.send(b"SEMLOCK.FORCERELEASE " + VICTIM.encode() + b"\r\n")  # inline
    expect(ctx, "inline FORCERELEASE before AUTH", c.read(), NOAUTH)
    r = c.pipeline([("AUTH", "wrong-key"), ("SEMLOCK.FORCERELEASE", VICTIM)])
    expect(ctx, "AUTH wrong-key", r[0], "WRONGPASS")
    expect(ctx, "FORCERELEASE after a failed AUTH", r[1], NOAUTH)
    r = c.call("HELLO", 3, "AUTH", "default", "wrong-key")
    expect(ctx, "HELLO 3 AUTH with a wrong key", r, "WRONGPASS")
    expect(ctx, "FORCERELEASE after a failed HELLO AUTH", c.call("SEMLOCK.FORCERELEASE", VICTIM),
           NOAUTH)
    c.close()

    # A user key never does admin work, however it got there.
    c = wire.Resp(ctx.port)
    ctx.check(c.call("AUTH", USER_KEY) == "OK", "AUTH with the user key refused")
    for cmd in [("SEMLOCK.FORCERELEASE", VICTIM), ("SEMLOCK.LIST",), ("SEMLOCK.SCAN", 0),
                ("SCRIPT", "FLUSH"), ("CLIENT", "LIST"),
                ("EVAL", "return redis.call('SEMLOCK.FORCERELEASE', KEYS[1])", 1, VICTIM)]:
        r = c.call(*cmd)
        ctx.check(isinstance(r, wire.Error) and "NOPERM" in r,
                  "auth bypass: user key ran %s -> %r (expected NOPERM)" % (cmd[0], r))
    r = c.pipeline([("MULTI",), ("SEMLOCK.FORCERELEASE", VICTIM), ("EXEC",)])
    ctx.check(not (isinstance(r[2], list) and r[2] and r[2][0] == 1),
              "auth bypass: user key force-released inside MULTI/EXEC: %r" % (r,))
    c.close()

    # AUTH admin, then AUTH user: the connection has user rights only (RESP and HELLO).
    for first in (("AUTH", ADMIN_KEY), ("HELLO", 2, "AUTH", "default", ADMIN_KEY)):
        c = wire.Resp(ctx.port)
        c.call(*first)
        ctx.check(c.call("AUTH", USER_KEY) == "OK", "AUTH user after admin refused")
        expect(ctx, "FORCERELEASE after %s admin then AUTH user" % first[0],
               c.call("SEMLOCK.FORCERELEASE", VICTIM), "NOPERM")
        c.close()
    # RESET ends the authentication (as Redis does when the default user needs a password).
    c = wire.Resp(ctx.port)
    c.call("AUTH", ADMIN_KEY)
    c.call("RESET")
    expect(ctx, "FORCERELEASE after AUTH admin, RESET", c.call("SEMLOCK.FORCERELEASE", VICTIM),
           NOAUTH)
    c.close()

    # JSON without a key, with a wrong key, after a failed auth, and admin-then-user.
    s = wire.connect(ctx.port)
    for req in JSON_ACTIONS:
        r = wire.json_request(s, req)
        ctx.check(r.get("success") is False and r.get("code") == "NOAUTH",
                  "auth bypass: JSON %s without api_key -> %r" % (req["action"], r))
        r = wire.json_request(s, dict(req, api_key="wrong-key"))
        ctx.check(r.get("success") is False and r.get("code") == "WRONGPASS",
                  "auth bypass: JSON %s with a wrong api_key -> %r" % (req["action"], r))
    wire.json_request(s, {"action": "auth", "api_key": "wrong-key"})
    r = wire.json_request(s, {"action": "force_release", "key": VICTIM})
    ctx.check(r.get("code") == "NOAUTH", "auth bypass: JSON after a failed auth -> %r" % (r,))
    s.close()
    s = wire.connect(ctx.port)
    r = wire.json_request(s, {"action": "force_release", "key": VICTIM, "api_key": USER_KEY})
    ctx.check(r.get("code") == "NOPERM", "auth bypass: JSON force_release with user key -> %r" % r)
    wire.json_request(s, {"action": "auth", "api_key": ADMIN_KEY})
    wire.json_request(s, {"action": "auth", "api_key": USER_KEY})
    r = wire.json_request(s, {"action": "force_release", "key": VICTIM})
    ctx.check(r.get("code") == "NOPERM",
              "auth bypass: JSON auth admin, auth user, force_release -> %r (expected NOPERM)" % r)
    s.close()

    # HTTP: no Authorization, a wrong or non-Bearer one, a user key on an admin action, and a
    # keep-alive connection whose first request was admin (auth is per request).
    body = json.dumps({"action": "force_release", "key": VICTIM})
    for headers, want in [({}, 401), ({"Authorization": "Bearer wrong-key"}, 401),
                          ({"Authorization": "Basic " + USER_KEY}, 401),
                          ({"Authorization": USER_KEY}, 401),
                          ({"Authorization": "Bearer " + USER_KEY}, 403)]:
        status, _, b = wire.http_request(ctx.port, body, headers)
        ctx.check(status == want, "auth bypass: HTTP force_release with %r -> %d %r (expected %d)"
                  % (headers, status, b[:80], want))
    status, _, b = wire.http_request(ctx.port, json.dumps({"action": "stats"}),
                                     {"Authorization": "bearer " + USER_KEY})
    ctx.check(status == 200, "HTTP: the Bearer scheme is case-insensitive, 'bearer' -> %d %r"
              % (status, b[:80]))
    s = wire.connect(ctx.port)
    admin_req = ("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n"
                 "\r\n%s" % (ADMIN_KEY, len('{"action":"stats"}'), '{"action":"stats"}'))
    anon_req = ("POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body))
    s.sendall(admin_req.encode() + anon_req.encode())
    data, _ = wire.read_until_closed(s, timeout=5)
    s.close()
    answers = wire.parse_http_responses(data) + [(None, b"")] * 2
    (st1, _), (st2, b2) = answers[0], answers[1]
    ctx.check(st1 == 200 and st2 == 401, "auth bypass: HTTP keep-alive, admin request then one "
              "without a key -> %d, %d %r (expected 200, 401)" % (st1, st2, b2[:80]))


@attack("auth_bypass", duration=4.0, auth=True)
def auth_bypass(ctx):
    """Every way around auth on every protocol, in a loop from two clients: commands before AUTH,
    failed AUTH, admin then user, JSON without or with a wrong api_key, HTTP without Bearer. The
    victim lock (and every lock of the set) must still be held by its owner afterwards."""
    def worker(i):
        while ctx.running():
            auth_round(ctx)
            ctx.count("rounds")
    ctx.threads(worker, 2)


# ---- invalid UTF-8 into JSON replies ----------------------------------------------------------

# Invalid sequences: a lone continuation byte, bytes never valid, an overlong '/', a UTF-16
# surrogate, a truncated 3-byte sequence.
BAD_UTF8 = [b"\x80", b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82"]


def strict_json(ctx, what, raw):
    """The reply line must be valid UTF-8 (strict parsers, PHP's included, throw otherwise)."""
    try:
        return json.loads(raw.decode("utf-8", "strict"))
    except UnicodeDecodeError as e:
        ctx.fail("%s: the JSON reply is not valid UTF-8 (%s): %r" % (what, e.reason, raw[:120]))
    except ValueError as e:
        ctx.fail("%s: the JSON reply does not parse: %s: %r" % (what, e, raw[:120]))
    return None


@attack("json_invalid_utf8", duration=2.0)
def json_invalid_utf8(ctx):
    """Keys, owners and ids with invalid UTF-8 over JSON lines and HTTP: every reply is valid UTF-8,
    with U+FFFD where the input was invalid (as Go's encoder in the original server does)."""
    n = 0
    while ctx.running():
        for bad in BAD_UTF8:
            n += 1
            key = b"adv:utf8:%d:" % n + bad
            owner = b"owner" + bad
            req = (b'{"action":"acquire","key":"' + key + b'","owner":"' + owner +
                   b'","ttl":60,"id":"id' + bad + b'"}\n')
            s = wire.connect(ctx.port)
            s.sendall(req)
            reply = strict_json(ctx, "JSON acquire with %r" % bad, wire.read_line(s))
            if reply is not None:
                ctx.check(reply.get("success") is True and "\ufffd" in str(reply.get("id")) and
                          "\ufffd" in str((reply.get("data") or {}).get("key")),
                          "JSON acquire with %r: expected U+FFFD in id and key: %r" % (bad, reply))
            s.sendall(b'{"action":"status","key":"' + key + b'"}\n')
            strict_json(ctx, "JSON status with %r" % bad, wire.read_line(s))
            s.sendall(b'{"action":"release","key":"' + key + b'","owner":"' + owner + b'"}\n')
            strict_json(ctx, "JSON release with %r" % bad, wire.read_line(s))
            s.close()
            status, _, body = wire.http_request(
                ctx.port, b'{"action":"exists","key":"' + key + b'","id":"h' + bad + b'"}')
            strict_json(ctx, "HTTP exists with %r (status %d)" % (bad, status),
                        body.split(b"\n")[0])
            ctx.count("requests", 4)
