"""Attacks on what a client can make the server hold or spend: connections (idle, past the fd
limit, on the metrics port), output it never reads, amplified replies, client names, INFO with
many connections, and a flood past max_locks."""
import json
import resource
import selectors
import socket
import threading
import time

import wire
from harness import attack

MAX_CLIENTS = b"-ERR max number of clients reached\r\n"


def open_many(ctx, n, port=None, leave_s=0.0):
    """Opens n connections (non-blocking afterwards); stops early `leave_s` before the attack's
    deadline (what the attack does with them afterwards needs that time)."""
    socks = []
    port = port or ctx.port
    for _ in range(n):
        if ctx.remaining() <= leave_s:
            break
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=3)
        except OSError as e:
            ctx.fail("connect %d failed: %s" % (len(socks) + 1, e))
            break
        s.setblocking(False)
        socks.append(s)
    return socks


def classify_idle(socks, wait_s):
    """Splits connections into (open and silent, refused with the max-clients error, other)."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    got = {s: bytearray() for s in socks}
    closed = set()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                d = s.recv(4096)
            except OSError:
                d = b""
            if d:
                got[s] += d
            else:
                closed.add(s)
                sel.unregister(s)
    sel.close()
    silent = [s for s in socks if not got[s] and s not in closed]
    refused = [s for s in socks if bytes(got[s]) == MAX_CLIENTS]
    other = [(bytes(got[s]), s in closed) for s in socks
             if s not in silent and bytes(got[s]) != MAX_CLIENTS]
    return silent, refused, other


def ping_sample(ctx, socks, n, what, min_n=None):
    """PING on up to n of the given connections: each must answer +PONG. With min_n, sampling
    stops after min_n once the attack's deadline has passed (a loaded machine answers slower)."""
    bad = 0
    for i, s in enumerate(socks[:n]):
        if min_n is not None and i >= min_n and not ctx.running():
            break
        s.setblocking(True)
        s.settimeout(2)
        try:
            s.sendall(b"PING\r\n")
            if s.recv(16) != b"+PONG\r\n":
                bad += 1
        except OSError:
            bad += 1
        s.setblocking(False)
    ctx.check(bad == 0, "%s: %d of %d open connections did not answer PING" % (what, bad,
                                                                             min(n, len(socks))))


@attack("idle_connections_10000", duration=6.0)
def idle_connections_10000(ctx):
    """10,000 idle connections (RLIMIT_NOFILE raised for us and the server). Each is either served
    (a sample answers PING) or refused past server.max_connections with Redis's exact error."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    n = min(10000, hard - 500)
    ctx.note("connections_tried", n)
    # Connecting stops 2 s before the deadline (on a loaded machine 10,000 connects can take all
    # of it), leaving time to classify and sample them within the attack's bound.
    socks = open_many(ctx, n, leave_s=2.0)
    silent, refused, other = classify_idle(socks, wait_s=min(1.5, max(0.2, ctx.remaining() - 1)))
    ctx.note("connections_open", len(silent))
    ctx.note("connections_refused", len(refused))
    ctx.check(not other, "idle connections: %d got neither silence nor %r, e.g. %r"
              % (len(other), MAX_CLIENTS, other[:3]))
    ping_sample(ctx, silent[::max(1, len(silent) // 200)], 200, "idle connections", min_n=20)
    while ctx.running():
        time.sleep(0.05)
    for s in socks:
        s.close()


@attack("fd_exhaustion", duration=5.0, server_nofile=1024)
def fd_exhaustion(ctx):
    """The server's RLIMIT_NOFILE is 1024 and server.max_connections its default 10,000: 1,500
    connections. Past the descriptor limit a connection must get `-ERR max number of clients
    reached` (not vanish silently: no bytes, or a bare close), and after they go new clients are
    served again."""
    socks = open_many(ctx, 1500)
    for s in socks:
        try:
            s.send(b"PING\r\n")
        except OSError:
            pass
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    got = {s: bytearray() for s in socks}
    closed = set()
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                d = s.recv(4096)
            except OSError:
                d = b""
            if d:
                got[s] += d
            else:
                closed.add(s)
                sel.unregister(s)
    sel.close()
    served = sum(1 for s in socks if bytes(got[s]) == b"+PONG\r\n")
    refused = sum(1 for s in socks if bytes(got[s]) == MAX_CLIENTS and s in closed)
    vanished = sum(1 for s in socks if not got[s] and s in closed)
    silent = sum(1 for s in socks if not got[s] and s not in closed)
    ctx.note("served", served)
    ctx.note("refused", refused)
    ctx.note("closed_silently", vanished)
    ctx.note("no_answer", silent)
    ctx.check(vanished == 0 and silent == 0,
              "fd limit: of %d connections %d were served, %d refused with the max-clients error, "
              "%d closed without a word and %d got no answer in 2.5 s"
              % (len(socks), served, refused, vanished, silent))
    for s in socks:
        s.close()
    time.sleep(0.3)
    try:
        c = wire.Resp(ctx.port, timeout=2)
        ctx.check(c.call("PING") == "PONG", "fd limit: no PONG once the connections were closed")
        c.close()
    except (OSError, ConnectionError) as e:
        ctx.fail("fd limit: a new client is not served after the flood: %s" % e)
    while ctx.running():
        time.sleep(0.05)


# ---- output that is never read, amplified replies ---------------------------------------------

DOCS = wire.encode("COMMAND", "DOCS")
DOCS_CLIENT = wire.encode("COMMAND", "DOCS", "client")


@attack("never_reading_client", duration=5.0, needs=["server.max_client_memory_mb"])
def never_reading_client(ctx):
    """20 connections with a tiny receive buffer ask for large replies and never read: a MULTI of
    20 ECHOs of 1 MB (a 20 MB EXEC reply), then 1 MB ECHOs pipelined without end. Replies cost
    only copying, so this measures memory, not CPU: it stays bounded (harness) and keyed work goes
    on (the probe's acquires are never refused for memory)."""
    echo = wire.encode("ECHO", b"e" * (1 << 20))
    big = wire.encode("MULTI") + echo * 20 + wire.encode("EXEC")
    socks = []
    for _ in range(20):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", ctx.port))
        s.setblocking(False)
        socks.append([s, big + echo * 8, 0])
    closed = 0
    while ctx.running():
        progress = False
        for st in socks:
            s, data, sent = st
            if s is None:
                continue
            try:
                n = s.send(data[sent:sent + 65536])
                st[2] = (sent + n) % len(data)
                progress = progress or n > 0
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
                s.close()
                st[0] = None
        if not progress:
            time.sleep(0.01)
    ctx.note("closed_by_server", closed)
    try:
        c = ctx.resp(timeout=2)
        r = c.call("SEMLOCK.ACQUIRE", "adv:after-never-reading", 1000)
        c.close()
    except (OSError, ConnectionError) as e:
        r = "no answer in 2 s: %s" % e
    ctx.check(isinstance(r, list), "acquire while 20 clients hold unread output -> %r" % (r,))
    for st in socks:
        if st[0] is not None:
            st[0].close()


def drain_until(sock, marker, deadline):
    """Reads and discards until `marker` has been seen; returns (bytes read, found)."""
    tail = b""
    total = 0
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            d = sock.recv(1 << 20)
        except socket.timeout:
            break
        if not d:
            break
        total += len(d)
        window = tail + d
        if marker in window:
            return total, True
        tail = window[-len(marker):]
    return total, False


# The reproduction: 170,000 `COMMAND DOCS client` pipelined by a client that reads.
AMPLIFY_PIPELINE = 170000
# An EXEC whose reply (~180 MB) passes server.max_reply_bytes long before its end.
AMPLIFY_EXEC = 10000


@attack("reply_amplification", duration=5.0,
        config={"server.max_reply_bytes": 16 * 1024 * 1024}, needs=["server.max_reply_bytes"])
def reply_amplification(ctx):
    """Small requests, huge replies: 170,000 `COMMAND DOCS client` pipelined by a client that
    reads (the server must not spend seconds on one client's pipeline while others wait), a MULTI
    of 10,000 COMMAND DOCS (~180 MB: each command past the bound answers `-ERR reply too large`
    in its place, the whole EXEC reply within server.max_reply_bytes, 16 MiB) and a script
    returning ~20 MB (refused with `-ERR reply too large`), without building the whole reply."""
    def greedy(i):
        s = wire.connect(ctx.port)
        marker = b"adv-end-%d" % i

        def send():
            try:
                s.sendall(DOCS_CLIENT * AMPLIFY_PIPELINE + wire.encode("ECHO", marker))
            except OSError:
                pass  # closed below, at the deadline
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        total, found = drain_until(s, marker, ctx.deadline)
        ctx.note("pipeline_bytes_read", total)
        ctx.note("pipeline_complete", found)
        s.close()  # possibly mid-pipeline: the server must cope
        sender.join(5)

    def exec_too_large(i):
        queued = b"+OK\r\n" + b"+QUEUED\r\n" * AMPLIFY_EXEC
        # Each command answers in its place: the first ones their docs, those past the bound
        # `-ERR reply too large`, the whole EXEC reply within it.
        head = queued + b"*%d\r\n" % AMPLIFY_EXEC
        too_large = b"-ERR reply too large\r\n"
        bound = 16 * 1024 * 1024
        # Or, on a loaded machine, EXEC passes scripting.max_ms before its reply passes the bound:
        # the commands left then answer that they did not run (the last one always does).
        stopped_end = b"; this command did not run\r\n"
        end = wire.encode("ECHO", b"adv-exec-end")
        end_reply = b"$12\r\nadv-exec-end\r\n"
        while ctx.running():
            s = wire.connect(ctx.port)
            s.sendall(wire.encode("MULTI") + DOCS * AMPLIFY_EXEC + wire.encode("EXEC") + end)
            got = bytearray()
            deadline = ctx.deadline + 3
            while not got.endswith(end_reply) and time.monotonic() < deadline:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    d = s.recv(1 << 16)
                except socket.timeout:
                    break
                if not d:
                    break
                got += d
            s.close()
            if got.endswith(end_reply):
                del got[-len(end_reply):]
            ok = (got.startswith(head) and len(got) - len(queued) <= bound and
                  (got.endswith(too_large) or got.endswith(stopped_end)))
            if not ok:
                ctx.fail("reply amplification: EXEC of %d COMMAND DOCS answered %d bytes, "
                         "starting %r, ending %r (expected an array within the bound ending with "
                         "-ERR reply too large)" % (AMPLIFY_EXEC, len(got) - len(queued),
                                                    bytes(got[len(queued):len(queued) + 20]),
                                                    bytes(got[-60:])))
                break
            ctx.count("exec_refused")

            c = wire.Resp(ctx.port, timeout=10)
            r = c.call("EVAL", "local t = {} for i = 1, 200000 do t[i] = string.rep('x', 100) end"
                       " return t", 0)
            c.close()
            if not isinstance(r, wire.Error):
                ctx.fail("reply amplification: a script's ~20 MB reply was sent (%d elements); "
                         "expected an error" % (len(r) if isinstance(r, list) else -1))
                break
            ctx.check("reply too large" in r, "reply amplification: a script's ~20 MB reply -> %r"
                      " (expected -ERR reply too large)" % (r,))
            ctx.count("eval_refused")
    ctx.threads(lambda i: greedy(i) if i == 0 else exec_too_large(i), 2)


@attack("client_setname_1mb", duration=4.0)
def client_setname_1mb(ctx):
    """200 connections each set a 1 MB client name (half of them with CLIENT SETINFO LIB-NAME):
    the names are capped or counted, so RSS stays within the bound (harness)."""
    name = b"n" * 1000000
    socks = []
    replies = {}
    for i in range(200):
        if not ctx.running():
            break
        s = wire.connect(ctx.port, timeout=5)
        cmd = wire.encode("CLIENT", "SETNAME", name) if i % 2 == 0 else \
            wire.encode("CLIENT", "SETINFO", "LIB-NAME", name)
        try:
            s.sendall(cmd)
            r = wire.Resp(ctx.port, sock=s).read(timeout=5)
            replies[str(r)[:60]] = replies.get(str(r)[:60], 0) + 1
        except (OSError, ConnectionError) as e:
            replies["closed: " + type(e).__name__] = replies.get("closed: " + type(e).__name__,
                                                                 0) + 1
        socks.append(s)
    ctx.note("replies", replies)
    while ctx.running():
        time.sleep(0.05)
    for s in socks:
        s.close()


@attack("info_with_5000_connections", duration=5.0)
def info_with_5000_connections(ctx):
    """5,000 idle connections open while one client pipelines INFO keyspace (and INFO) x2000:
    INFO's cost must not grow with the connection count (the probe's ceiling shows a stall)."""
    socks = open_many(ctx, 5000)
    ctx.note("connections_open", len(socks))
    c = wire.Resp(ctx.port, timeout=20)
    rounds = 0
    while ctx.running():
        section = ("keyspace",) if rounds % 2 == 0 else ()
        c.send(wire.encode("INFO", *section) * 2000 + wire.encode("ECHO", "adv-info-end"))
        _, found = drain_until(c.sock, b"adv-info-end", ctx.deadline + 3)
        if not ctx.check(found, "INFO x2000: not all answered by the end of the attack (+3 s)"):
            break
        rounds += 1
    ctx.note("info_rounds", rounds)
    c.close()
    for s in socks:
        s.close()


@attack("metrics_port_lockout", duration=5.0)
def metrics_port_lockout(ctx):
    """100 idle connections to the metrics port; /health on a fresh connection must still answer
    200 every time (checked every 100 ms), and /ready and /metrics too."""
    socks = open_many(ctx, 100, port=ctx.metrics_port)
    ctx.note("idle_metrics_connections", len(socks))
    tries = bad = 0
    while ctx.running():
        for path in ("/health", "/ready", "/metrics") if tries % 10 == 0 else ("/health",):
            tries += 1
            try:
                status, _, _ = wire.http_request(ctx.metrics_port, None, method="GET", path=path,
                                                 timeout=2)
                ok = status == 200
            except (OSError, ConnectionError, ValueError, IndexError) as e:
                ok = False
                status = "%s: %s" % (type(e).__name__, e)
            if not ok:
                bad += 1
                ctx.fail("metrics port: GET %s with 100 idle connections open -> %s"
                         % (path, status))
        time.sleep(0.1)
    ctx.note("health_checks", tries)
    ctx.note("health_failed", bad)
    for s in socks:
        s.close()


# ---- a flood past max_locks -------------------------------------------------------------------

MAX_LOCKS = 2000
LOCKS_FULL = "OVERLIMIT maximum locks limit reached: %d/%d" % (MAX_LOCKS, MAX_LOCKS)


@attack("max_locks_flood", duration=5.0, config={"limits.max_locks": MAX_LOCKS},
        probe_mode="extend")
def max_locks_flood(ctx):
    """Clients (RESP and JSON) acquire new keys far past limits.max_locks. New keys get the exact
    OVERLIMIT text; holders' extends, releases and re-acquire refreshes keep working."""
    owner_c = ctx.resp()
    victims = []
    for i in range(10):
        key = "adv:victim:%d" % i
        r = owner_c.call("SEMLOCK.ACQUIRE", key, 600000, "OWNER", "victim-owner")
        if ctx.check(isinstance(r, list), "victim acquire before the flood: %r" % (r,)):
            victims.append(key)
    full = [False]

    def flood(i):
        if i == 4:
            s = wire.connect(ctx.port)
            n = 0
            while ctx.running():
                n += 1
                r = wire.json_request(s, {"action": "acquire", "key": "flood:j:%d" % n, "ttl": 60})
                if not r.get("success"):
                    if not ctx.check(r.get("code") == "OVERLIMIT" and r.get("error") ==
                                     LOCKS_FULL.split(" ", 1)[1],
                                     "JSON flood acquire -> %r" % (r,)):
                        break
            s.close()
            return
        c = wire.Resp(ctx.port, timeout=10)
        n = 0
        while ctx.running():
            cmds = []
            for _ in range(100):
                n += 1
                cmds.append(("SEMLOCK.ACQUIRE", "flood:%d:%d" % (i, n), 60000))
                cmds.append(("SET", "flood:s:%d:%d" % (i, n), "v", "NX", "PX", 60000))
            for cmd, r in zip(cmds, c.pipeline(cmds)):
                if isinstance(r, wire.Error):
                    full[0] = True
                    if r != LOCKS_FULL:
                        ctx.fail("flood %s -> %r (expected %r)" % (cmd[0], r, LOCKS_FULL))
                elif not (isinstance(r, list) or r == "OK"):
                    ctx.fail("flood %s on a new key -> %r" % (cmd[0], r))
        c.close()

    flooders = threading.Thread(target=ctx.threads, args=(flood, 5), daemon=True)
    flooders.start()
    deadline = time.monotonic() + 2
    while not full[0] and time.monotonic() < deadline:
        time.sleep(0.02)
    ctx.check(full[0], "the flood never reached max_locks")
    time.sleep(0.3)

    # Holders keep working at the limit: extend, refresh, release (RESP and JSON).
    for key in victims[:5]:
        r = owner_c.call("SEMLOCK.EXTEND", key, "victim-owner", 600000)
        ctx.check(r == 1, "extend at max_locks -> %r" % (r,))
        r = owner_c.call("SEMLOCK.ACQUIRE", key, 600000, "OWNER", "victim-owner")
        ctx.check(isinstance(r, list), "re-acquire refresh by the holder at max_locks -> %r" % (r,))
        r = owner_c.call("SEMLOCK.RELEASE", key, "victim-owner")
        ctx.check(r == 1, "release at max_locks -> %r" % (r,))
    s = wire.connect(ctx.port)
    for key in victims[5:]:
        r = wire.json_request(s, {"action": "extend", "key": key, "owner": "victim-owner",
                                  "ttl": 600})
        ctx.check(r.get("success") is True, "JSON extend at max_locks -> %r" % (r,))
        r = wire.json_request(s, {"action": "release", "key": key, "owner": "victim-owner"})
        ctx.check(r.get("success") is True, "JSON release at max_locks -> %r" % (r,))
    s.close()
    r = owner_c.call("PEXPIRE", "held:s:0", 600000)
    ctx.check(r == 1, "PEXPIRE by a SET NX holder at max_locks -> %r" % (r,))
    r = owner_c.call("DBSIZE")
    ctx.check(isinstance(r, int) and r <= MAX_LOCKS, "DBSIZE %r over max_locks %d" % (r, MAX_LOCKS))
    owner_c.close()
    flooders.join(ctx.remaining() + 10)
