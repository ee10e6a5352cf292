"""redis-py (Debian's python3-redis) lock recipes against ttl-semlock, unmodified.
Usage: py_libs.py PORT RESULTS. Processes contend for redis.lock.Lock (blocking and not) and
redis.asyncio's Lock; a marker file detects two holders inside at once. Appends one JSON row per
recipe to RESULTS."""
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time

import redis
import redis.asyncio


def enter(path):
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # FileExistsError: two inside
    os.close(fd)


def blocking_worker(port, key, marker, rounds):
    r = redis.Redis(port=port)
    for _ in range(rounds):
        lock = r.lock(key, timeout=10, sleep=0.005)
        assert lock.acquire(blocking=True, blocking_timeout=30)
        enter(marker)
        time.sleep(0.003)
        os.unlink(marker)
        lock.release()


def run_blocking(port):
    with tempfile.TemporaryDirectory() as d:
        marker = os.path.join(d, "inside")
        procs = [multiprocessing.Process(target=blocking_worker,
                                         args=(port, "lib:py:block", marker, 10))
                 for _ in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        codes = [p.exitcode for p in procs]
        assert codes == [0, 0, 0], f"worker exit codes {codes}"
    return "3 processes x 10 rounds"


def run_nonblocking(port):
    a = redis.Redis(port=port)
    b = redis.Redis(port=port)
    first = a.lock("lib:py:nb", timeout=0.3)
    second = b.lock("lib:py:nb", timeout=10)
    assert first.acquire(blocking=False)
    assert not second.acquire(blocking=False), "granted while held"
    time.sleep(0.5)
    assert second.acquire(blocking=False), "not granted after the holder expired"
    assert not first.owned()
    second.extend(5)
    second.release()
    return "refused while held; granted after expiry; extend"


async def async_contend(port):
    inside = 0
    most = 0

    async def worker():
        nonlocal inside, most
        r = redis.asyncio.Redis(port=port)
        for _ in range(8):
            lock = r.lock("lib:py:async", timeout=10, sleep=0.005)
            assert await lock.acquire(blocking=True, blocking_timeout=30)
            inside += 1
            most = max(most, inside)
            assert inside == 1, f"{inside} inside at once"
            await asyncio.sleep(0.003)
            inside -= 1
            await lock.release()
        await r.close()

    await asyncio.gather(*(worker() for _ in range(3)))
    return f"3 connections x 8 rounds, most inside {most}"


def main():
    port = int(sys.argv[1])
    results = sys.argv[2]
    failed = False
    version = redis.__version__
    for recipe, fn in [("Lock (blocking)", run_blocking), ("Lock (non-blocking, expiry)",
                                                             run_nonblocking),
                       ("redis.asyncio Lock", lambda p: asyncio.run(async_contend(p)))]:
        try:
            detail, ok = fn(port), True
        except Exception as e:  # noqa: BLE001 - every failure is a failed row
            detail, ok = f"{type(e).__name__}: {e}", False
        failed |= not ok
        print(f"{'ok' if ok else 'FAIL'}: redis-py {recipe}: {detail}", flush=True)
        with open(results, "a") as f:
            f.write(json.dumps({"language": "Python", "library": "redis-py",
                                "version": version, "client": f"redis-py {version}",
                                "recipe": recipe, "result": "pass" if ok else "fail",
                                "detail": detail}) + "\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
