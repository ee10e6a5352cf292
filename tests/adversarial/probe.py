"""The probe: a well-behaved client that keeps using the server while an attack runs.

Runs as its own process (so that the attacker's Python threads cannot delay it) and writes one
line per request to --out: `<start monotonic s> <latency s> <ok 0|1> <op> <detail>`. The harness
cuts the lines into the quiet baseline and the attack window by time (CLOCK_MONOTONIC is shared
by every process on the machine).

Modes:
  cycle   SEMLOCK.ACQUIRE a fresh key, SEMLOCK.RELEASE it, PING (the default)
  extend  SEMLOCK.EXTEND a key held since the start, SEMLOCK.EXISTS it, PING: for attacks that
          fill max_locks, where a new key is rightly refused but a holder must keep working

A request that fails, gets a wrong reply or no reply within --read-timeout is a failure; the
probe then reconnects. SIGTERM ends it after the request in progress.
"""
import argparse
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402


class Stop(Exception):
    pass


def on_term(signum, frame):
    raise Stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--password")
    ap.add_argument("--mode", default="cycle", choices=["cycle", "extend"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--interval-ms", type=float, default=2.0)
    ap.add_argument("--read-timeout", type=float, default=5.0)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, on_term)

    out = open(args.out, "w", buffering=1)
    tag = "probe%d" % os.getpid()
    held_key, held_owner = tag + ":held", tag + "-owner"
    conn = None
    n = 0

    def record(t0, ok, op, detail=""):
        detail = detail.replace("\n", " ").replace(" ", "_")[:120]
        out.write("%.6f %.6f %d %s %s\n" % (t0, time.monotonic() - t0, 1 if ok else 0, op, detail))

    def request(op, args_, check):
        nonlocal conn
        t0 = time.monotonic()
        try:
            reply = conn.call(*args_, timeout=args.read_timeout)
        except (OSError, ConnectionError, wire.ProtocolViolation) as e:
            record(t0, False, op, type(e).__name__ + ":" + str(e))
            conn.close()
            conn = None
            return None
        problem = check(reply)
        record(t0, problem is None, op, problem or "")
        return reply

    try:
        while True:
            if conn is None:
                t0 = time.monotonic()
                try:
                    conn = wire.Resp(args.port, timeout=args.read_timeout, password=args.password)
                    if args.mode == "extend":
                        r = conn.call("SEMLOCK.ACQUIRE", held_key, 600000, "OWNER", held_owner)
                        if not (isinstance(r, list) or r is None):
                            raise RuntimeError("acquire of the held key: %r" % (r,))
                    record(t0, True, "connect")
                except (OSError, ConnectionError, RuntimeError, wire.ProtocolViolation) as e:
                    record(t0, False, "connect", type(e).__name__ + ":" + str(e))
                    if conn is not None:
                        conn.close()
                    conn = None
                    time.sleep(0.1)
                    continue
            n += 1
            if args.mode == "cycle":
                key = "%s:%d" % (tag, n % 64)
                reply = request("acquire", ("SEMLOCK.ACQUIRE", key, 30000),
                                lambda r: None if isinstance(r, list) and len(r) == 2
                                else "acquire:%r" % (r,))
                if conn is not None and isinstance(reply, list):
                    owner = reply[0]
                    request("release", ("SEMLOCK.RELEASE", key, owner),
                            lambda r: None if r == 1 else "release:%r" % (r,))
            else:
                request("extend", ("SEMLOCK.EXTEND", held_key, held_owner, 600000),
                        lambda r: None if r == 1 else "extend:%r" % (r,))
                if conn is not None:
                    request("exists", ("SEMLOCK.EXISTS", held_key),
                            lambda r: None if r == 1 else "exists:%r" % (r,))
            if conn is not None:
                request("ping", ("PING",), lambda r: None if r == "PONG" else "ping:%r" % (r,))
            time.sleep(args.interval_ms / 1000.0)
    except Stop:
        pass
    except socket.error:
        pass
    out.close()


if __name__ == "__main__":
    main()
