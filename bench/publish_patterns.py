#!/usr/bin/env python3
"""What one PUBLISH costs the server's loop while one client holds many pattern subscriptions.

    bench/publish_patterns.py BINARY [--patterns 200000] [--publishes 50] [--indexed] [--no-ping]

Starts BINARY on a free loopback port, subscribes --patterns patterns on one raw connection
("*pat0000000"...: none can be ruled out by a literal prefix; --indexed: "pat0000000.*"..., which
the index rules out for the channel used), then publishes --publishes messages in a loop on
another connection while a third client PINGs. Prints the server's CPU time per PUBLISH (from
/proc/<pid>/stat), the PUBLISH round trip, and the longest PING round trip seen meanwhile (the
time the loop was held, at most)."""
import argparse
import os
import socket
import subprocess
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def command(sock, *args):
    sock.sendall(b"*%d\r\n" % len(args) +
                 b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))


def read_line(f):
    line = f.readline()
    if not line:
        raise SystemExit("server closed the connection")
    return line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--patterns", type=int, default=200000)
    ap.add_argument("--publishes", type=int, default=50)
    ap.add_argument("--indexed", action="store_true")
    ap.add_argument("--no-ping", action="store_true", help="no PING client (CPU of PUBLISH alone)")
    a = ap.parse_args()
    port = free_port()
    proc = subprocess.Popen([a.binary, "--host", "127.0.0.1", "--port", str(port), "--no-metrics"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        flood = socket.create_connection(("127.0.0.1", port))
        ff = flood.makefile("rb")
        fmt = b"pat%07d.*" if a.indexed else b"*pat%07d"
        for b in range(0, a.patterns, 5000):
            names = [fmt % i for i in range(b, min(a.patterns, b + 5000))]
            command(flood, b"PSUBSCRIBE", *names)
            for _ in names:
                for _ in range(6):
                    read_line(ff)
        pub = socket.create_connection(("127.0.0.1", port))
        pf = pub.makefile("rb")
        ping = socket.create_connection(("127.0.0.1", port))
        pingf = ping.makefile("rb")
        stop = threading.Event()
        worst = [0.0]

        def pinger():
            while not stop.is_set():
                t = time.perf_counter()
                command(ping, b"PING")
                read_line(pingf)
                worst[0] = max(worst[0], time.perf_counter() - t)
                time.sleep(0.001)

        th = threading.Thread(target=pinger)
        if not a.no_ping:
            th.start()
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.perf_counter()
        for i in range(a.publishes):
            command(pub, b"PUBLISH", b"news", b"m%d" % i)
            read_line(pf)
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
        stop.set()
        if not a.no_ping:
            th.join()
        print("patterns=%d indexed=%s publishes=%d: server CPU %.2f ms/PUBLISH, round trip "
              "%.2f ms/PUBLISH, longest PING meanwhile %.2f ms"
              % (a.patterns, a.indexed, a.publishes, 1000 * cpu / a.publishes,
                 1000 * wall / a.publishes, 1000 * worst[0]))
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
