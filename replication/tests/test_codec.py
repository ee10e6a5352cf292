#!/usr/bin/env python3
"""The sidecar's fd-3 codec: a bad frame ends the process with status 3 and one clear stderr
line naming the fault; EOF on fd 3 ends it at once with status 2; a bad command line with 1.

Usage: test_codec.py --bin path/to/ttl-semlock-raft
"""

import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sidecar import (LEADER, PROPOSE, RESYNC, Member, bstr, frame, free_ports)  # noqa: E402


def single(binary, work, name):
    raft_port, client_port = free_ports(2)
    members = {"1": {"raft": "127.0.0.1:%d" % raft_port, "client": "127.0.0.1:%d" % client_port}}
    return Member(binary, 1, os.path.join(work, name), raft_port, members,
                  election_ms=200, heartbeat_ms=20)


def expect_exit(m, status, text, timeout=10):
    try:
        rc = m.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        m.stop()
        raise AssertionError("sidecar still running; expected exit %d (%s)" % (status, text))
    err = m.stderr_text()
    assert rc == status, "exit status %d, expected %d; stderr:\n%s" % (rc, status, err)
    line = "ttl-semlock-raft: " + text
    assert line in err, "stderr lacks %r:\n%s" % (line, err)
    m.stop()


def check_bad_frames(binary, work):
    cases = [
        ("zero_length", struct.pack("<I", 0), "protocol error on fd 3: bad frame length 0"),
        ("huge_length", struct.pack("<IB", 0x7FFFFFFF, PROPOSE),
         "protocol error on fd 3: bad frame length 2147483647"),
        ("unknown_type", frame(99, b"abc"), "protocol error on fd 3: unknown frame type 99"),
        ("reply_type_from_server", frame(10), "protocol error on fd 3: unknown frame type 10"),
        ("short_propose", frame(PROPOSE, struct.pack("<Q", 1) + b"\x05\x00"),
         "protocol error on fd 3: malformed PROPOSE frame: payload too short for data"),
        ("bytes_past_end", frame(PROPOSE, struct.pack("<QI", 1, 10) + b"abc"),
         "protocol error on fd 3: malformed PROPOSE frame: payload too short for data"),
        ("trailing", frame(RESYNC, b"x"),
         "protocol error on fd 3: malformed RESYNC frame: 1 trailing bytes"),
        ("bad_conf_op", frame(2, struct.pack("<QBQ", 1, 7, 4) + bstr("") + bstr("")),
         "protocol error on fd 3: malformed CONF_CHANGE frame: op 7 (1 add, 2 remove)"),
    ]
    for name, raw, text in cases:
        m = single(binary, work, name)
        m.wait(lambda: m.status is not None, 10, "first STATUS")
        m.send_raw(raw)
        expect_exit(m, 3, text)
        print("ok bad frame:", name)


def check_eof(binary, work):
    m = single(binary, work, "eof")
    m.wait(lambda: m.status is not None and m.status["role"] == LEADER, 10, "single leader")
    # A committed entry first: the process must still exit at once, status 2.
    m.propose(1, b"x")
    m.wait(lambda: len(m.normal_data()) == 1, 10, "entry committed")
    # Half a frame, then EOF: still "server gone", not a protocol error.
    m.send_raw(struct.pack("<I", 100) + b"\x01")
    t0 = time.monotonic()
    m.close_ctl()
    expect_exit(m, 2, "fd 3 closed (server gone); exiting")
    took = time.monotonic() - t0
    assert took < 2.0, "exit took %.2fs after EOF" % took
    print("ok eof: exit 2 after %.3fs" % took)


def check_write_fails(binary, work):
    """The server's end stops reading (it died while the sidecar writes): the failed write takes
    the same exit as EOF - WAL synced, status 2, "server gone" - which one side notices first
    is a race when the server dies (CI once saw the write side win)."""
    m = single(binary, work, "epipe")
    m.wait(lambda: m.status is not None and m.status["role"] == LEADER, 10, "single leader")
    m.sock.shutdown(socket.SHUT_RD)   # our read side closed: the sidecar's next write is EPIPE
    t0 = time.monotonic()
    m.propose(1, b"x")                # its commit is an ENTRIES frame written to fd 3
    expect_exit(m, 2, "fd 3 closed (server gone); exiting")
    took = time.monotonic() - t0
    assert took < 2.0, "exit took %.2fs after the failed write" % took
    print("ok failed write: exit 2 after %.3fs" % took)


def check_restart_waits(binary, work):
    """A member restarted at once starts its new sidecar while the old one may still be syncing
    its WAL on the way out (kill -9 of the server, or a graceful stop): the new one waits for the
    old to exit instead of failing on the WAL lock ("file already locked"), then serves the
    same log (CI's checker.cluster lost a member this way in a rolling restart)."""
    old = single(binary, work, "restart")
    old.wait(lambda: old.status is not None and old.status["role"] == LEADER, 10, "single leader")
    old.propose(1, b"before")
    old.wait(lambda: len(old.normal_data()) == 1, 10, "entry committed")
    new = Member(binary, 1, os.path.join(work, "restart"), old.raft_port, old.members,
                 election_ms=200, heartbeat_ms=20)
    try:
        # The old sidecar is alive: the new one must wait (not exit, not serve).
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert new.proc.poll() is None, "second sidecar exited: %s" % new.stderr_text()
            assert new.status is None, "second sidecar served a held directory"
            time.sleep(0.05)
        old.close_ctl()
        expect_exit(old, 2, "fd 3 closed (server gone); exiting")
        new.wait(lambda: new.status is not None and new.status["role"] == LEADER, 30,
                 "the restarted sidecar leads")
        new.wait(lambda: any(d == b"before" for _, d in new.normal_data()), 10,
                 "the old log replayed")
    finally:
        new.stop()
    print("ok restart waits for the old sidecar")


def check_bad_command_line(binary, work):
    cases = [
        ([], "--id must be in 1..2^63"),
        (["--id", "1", "--dir", work, "--raft-listen", "127.0.0.1:1", "--election-ms", "100",
          "--heartbeat-ms", "100", "--members", "{}"],
         "--election-ms must be at least twice --heartbeat-ms"),
        (["--id", "1", "--dir", work, "--raft-listen", "127.0.0.1:1", "--election-ms", "1000",
          "--heartbeat-ms", "100", "--members", json.dumps({"0": {"raft": "a:1"}})],
         "--members: member id \"0\" is not an integer in 1..2^63"),
    ]
    for args, text in cases:
        p = subprocess.run([binary] + args, capture_output=True, text=True, timeout=10)
        assert p.returncode == 1, (args, p.returncode, p.stderr)
        assert text in p.stderr, (text, p.stderr)
    print("ok bad command lines")


def check_port_in_use(binary, work):
    m = single(binary, work, "first")
    try:
        m.wait(lambda: m.status is not None, 10, "first STATUS")
        second = Member(binary, 2, os.path.join(work, "second"), m.raft_port, m.members,
                        election_ms=200, heartbeat_ms=20)
        expect_exit(second, 1, "cannot listen on --raft-listen 127.0.0.1:%d" % m.raft_port)
    finally:
        m.stop()
    print("ok raft port in use: exit 1")


def check_no_fd3(binary, work):
    p = subprocess.run([binary, "--id", "1", "--dir", os.path.join(work, "nofd"),
                        "--raft-listen", "127.0.0.1:1", "--election-ms", "1000", "--heartbeat-ms",
                        "100", "--members", "{}"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "ttl-semlock-raft: fd 3 must be one end of a Unix stream socketpair from the server" in p.stderr, p.stderr
    print("ok no fd 3: exit 1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="raft-codec-")
    try:
        check_bad_frames(a.bin, work)
        check_eof(a.bin, work)
        check_write_fails(a.bin, work)
        check_restart_waits(a.bin, work)
        check_bad_command_line(a.bin, work)
        check_port_in_use(a.bin, work)
        check_no_fd3(a.bin, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
