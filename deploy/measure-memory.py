#!/usr/bin/env python3
"""Measures what one lock costs in ttl-semlock's memory accounting (limits.max_memory_mb), for
sizing: starts a private server on free loopback ports with no limits, fills it with N locks of
the shape you give, and prints the used-memory growth per lock (the engine's exact accounting,
as the limit counts it) and the process's resident-set growth per lock (what the OS sees).

  deploy/measure-memory.py --bin build/server/ttl-semlock [--locks 100000] [--key-bytes 16]
      [--owner-bytes 32 | --hex-owner] [--holders 1] [--waiters 0]

--holders H > 1 makes each key a semaphore (LIMIT H) with H holders; --waiters W queues W
blocking acquires on each of the first keys (one connection each, so keep W * keys small).
The numbers go in docs/MEMORY_PROTECTION_GUIDE.md's sizing table.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = str(a).encode()
        out.append(f"${len(b)}\r\n".encode() + b + b"\r\n")
    return b"".join(out)


def read_replies(sock, count):
    """Reads `count` RESP replies and counts the granted ones (arrays)."""
    buf = b""
    granted = 0
    done = 0
    while done < count:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("server closed the connection")
        buf += chunk
        while True:
            # Granted: *2\r\n$<n>\r\n<owner>\r\n:<fence>\r\n; refused: _ or $-1 or *-1; errors: -...
            if buf.startswith(b"*2\r\n"):
                first = buf.find(b"\r\n", 4)
                if first < 0:
                    break
                n = int(buf[5:first])
                end = buf.find(b"\r\n", first + 2 + n + 2)
                if end < 0:
                    break
                buf = buf[end + 2:]
                granted += 1
            else:
                end = buf.find(b"\r\n")
                if end < 0:
                    break
                if buf.startswith(b"-"):
                    raise RuntimeError(buf[:end].decode())
                buf = buf[end + 2:]
            done += 1
            if done == count:
                break
    return granted


def stats(port):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b'{"action":"stats"}\n')
        return json.loads(s.makefile().readline())["data"]


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--locks", type=int, default=100000)
    ap.add_argument("--key-bytes", type=int, default=16)
    ap.add_argument("--owner-bytes", type=int, default=32)
    ap.add_argument("--hex-owner", action="store_true",
                    help="owners of 32 lowercase hex characters (the generated form, stored "
                    "packed); --owner-bytes is then ignored")
    ap.add_argument("--holders", type=int, default=1)
    ap.add_argument("--waiters", type=int, default=0)
    a = ap.parse_args()

    port, mport = free_port(), free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [a.bin, "--port", str(port), "--metrics-port", str(mport), "--max-locks", "0",
             "--max-memory-mb", "0", "--max-waiters", "1000000",
             "--log-level", "error"], stdout=log, stderr=log)
        try:
            for _ in range(100):
                try:
                    before = stats(port)
                    break
                except OSError:
                    time.sleep(0.05)
            rss_before = rss_bytes(proc.pid)
            with socket.create_connection(("127.0.0.1", port)) as s:
                batch = 10000
                granted = 0
                for start in range(0, a.locks, batch):
                    frames = []
                    for i in range(start, min(start + batch, a.locks)):
                        key = f"k{i:0{a.key_bytes - 1}d}"[: a.key_bytes]
                        for h in range(a.holders):
                            owner = (f"{h + 1:032x}" if a.hex_owner else
                                     f"o{h:0{a.owner_bytes - 1}d}"[: a.owner_bytes])
                            args = ["SEMLOCK.ACQUIRE", key, 3600000, "OWNER", owner]
                            if a.holders > 1:
                                args += ["LIMIT", a.holders]
                            frames.append(resp(*args))
                    s.sendall(b"".join(frames))
                    granted += read_replies(s, len(frames))
            waiter_socks = []
            for i in range(a.waiters):
                key = f"k{i % max(a.locks, 1):0{a.key_bytes - 1}d}"[: a.key_bytes]
                w = socket.create_connection(("127.0.0.1", port))
                args = ["SEMLOCK.ACQUIRE", key, 3600000, "OWNER", f"w{i}", "WAIT", 3600000]
                if a.holders > 1:
                    args += ["LIMIT", a.holders]
                w.sendall(resp(*args))
                waiter_socks.append(w)
            time.sleep(1.5)  # let the gauges and the kernel's RSS settle
            after = stats(port)
            rss_after = rss_bytes(proc.pid)
            for w in waiter_socks:
                w.close()
        finally:
            proc.terminate()
            proc.wait()
    used = after["MemoryUsageBytes"] - before["MemoryUsageBytes"]
    result = {
        "locks": after["ActiveLocks"], "holders": after["Holders"], "waiters": after["Waiters"],
        "granted": granted, "key_bytes": a.key_bytes,
        "owner_bytes": 32 if a.hex_owner else a.owner_bytes, "hex_owner": a.hex_owner,
        "used_bytes": used, "used_bytes_per_lock": round(used / max(a.locks, 1), 1),
        "rss_bytes": rss_after - rss_before,
        "rss_bytes_per_lock": round((rss_after - rss_before) / max(a.locks, 1), 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
