#!/usr/bin/env python3
"""Each systemd unit's MemoryMax= against the configuration it runs: at least the memory the
limits allow (limits.max_memory_mb + server.max_client_memory_mb) plus 25 % for the allocator,
the loader and the stacks, and at most twice that (a MemoryMax= far above the limits protects
nothing). Usage: unit_memory_test.py UNIT CONFIG [UNIT CONFIG ...]"""
import json
import re
import sys

DEFAULTS = {"max_memory_mb": 512, "max_client_memory_mb": 64}  # the key table's defaults


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(re.sub(r"^\s*//.*$", "", line) for line in text.splitlines())


def memory_max_mib(unit_text):
    m = re.search(r"^MemoryMax=(\d+)([KMG]?)\s*$", unit_text, re.M)
    if not m:
        return None
    scale = {"": 1 / (1024 * 1024), "K": 1 / 1024, "M": 1, "G": 1024}[m.group(2)]
    return int(m.group(1)) * scale


def main(args):
    failures = 0
    for unit, config in zip(args[0::2], args[1::2]):
        with open(unit, encoding="utf-8") as f:
            got = memory_max_mib(f.read())
        with open(config, encoding="utf-8") as f:
            cfg = json.loads(strip_comments(f.read()))
        limits = cfg.get("limits", {}).get("max_memory_mb", DEFAULTS["max_memory_mb"])
        buffers = cfg.get("server", {}).get("max_client_memory_mb",
                                             DEFAULTS["max_client_memory_mb"])
        need = (limits + buffers) * 1.25
        if got is None:
            print(f"FAIL: {unit} has no MemoryMax=")
            failures += 1
        elif not need <= got <= 2 * (limits + buffers):
            print(f"FAIL: {unit}: MemoryMax={got:.0f}M does not match {config}: limits allow "
                  f"{limits}+{buffers} MiB, so MemoryMax= must be in [{need:.0f}M, "
                  f"{2 * (limits + buffers)}M]")
            failures += 1
        else:
            print(f"ok: {unit}: MemoryMax={got:.0f}M for {limits}+{buffers} MiB of limits")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
