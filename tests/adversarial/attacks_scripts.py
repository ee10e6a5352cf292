"""Script escapes: EVAL from a client without any key must not end the process, hold the loop
past scripting.max_ms, grow memory without bound, or change what other clients' scripts do."""
import random
import re
import time

import wire
from harness import attack

MAX_MS = 200  # scripting.max_ms for these attacks
SCRIPT_CONFIG = {"scripting.max_ms": MAX_MS}
# A script call answers within max_ms plus the time to stop it and send the reply.
SCRIPT_REPLY_S = 2.0

STOPPED = re.compile(r"^ERR script stopped after (\d+) ms; (its writes were kept|it had written "
                     r"nothing)$")

# Allocates enough to make Lua collect garbage (and so run finalizers).
GC_PRESSURE = "local t = {} for i = 1, 20000 do t[i] = {i} end return #t"


def eval_timed(conn, script, *args, numkeys=0, timeout=SCRIPT_REPLY_S + 3):
    """(answered, reply or what went wrong, seconds): not answered when the server sent nothing
    within `timeout` or closed the connection."""
    t0 = time.monotonic()
    try:
        r = conn.call("EVAL", script, numkeys, *args, timeout=timeout)
    except (OSError, ConnectionError) as e:
        return False, "no reply: %s: %s" % (type(e).__name__, e), time.monotonic() - t0
    return True, r, time.monotonic() - t0


def run_scripts(ctx, scripts, check=None, stop_on_hang=True):
    """Runs each script in turn until the deadline, each answered within SCRIPT_REPLY_S."""
    c = ctx.resp(timeout=SCRIPT_REPLY_S + 3)
    while ctx.running():
        for script in scripts:
            answered, r, took = eval_timed(c, script)
            ctx.count("scripts")
            if not answered:
                ctx.fail("script %r: %s after %.1f s" % (script[:70], r, took))
                c.close()
                if stop_on_hang:
                    return
                c = ctx.resp(timeout=SCRIPT_REPLY_S + 3)
                continue
            ctx.check(took <= SCRIPT_REPLY_S, "script %r answered after %.1f s (scripting.max_ms "
                      "%d)" % (script[:70], took, MAX_MS))
            if check:
                check(script, r)
            if not ctx.running():
                break
    c.close()


@attack("script_newproxy_gc_error", duration=3.0, config=SCRIPT_CONFIG)
def script_newproxy_gc_error(ctx):
    """A finalizer that raises (newproxy's __gc) must not reach Lua's panic: the process lives."""
    run_scripts(ctx, [
        "local p = newproxy(true) getmetatable(p).__gc = function() error('x') end p = nil "
        "return 1",
        "local p = newproxy(true) getmetatable(p).__gc = function() error('x') end p = nil "
        "collectgarbage() return 1",
        GC_PRESSURE,
    ])


@attack("script_gc_infinite_loop", duration=3.0, config=SCRIPT_CONFIG)
def script_gc_infinite_loop(ctx):
    """A finalizer that never returns (hooks do not run in finalizers in Lua 5.1) must not take the
    loop: the probe keeps being answered, and SIGTERM still stops the server."""
    run_scripts(ctx, [
        "local p = newproxy(true) getmetatable(p).__gc = function() while true do end end "
        "p = nil return 1",
        GC_PRESSURE,
        "collectgarbage() return 1",
    ])


def expect_error(ctx, what):
    def check(script, r):
        ctx.check(isinstance(r, wire.Error), "%s: script %r returned %r (expected an error)"
                  % (what, script[:70], str(r)[:80]))
    return check


@attack("script_self_reference", duration=3.0, config=SCRIPT_CONFIG)
def script_self_reference(ctx):
    """A table that contains itself, returned as the reply: conversion is bounded in elements and
    bytes, so the reply is an error and memory does not grow."""
    run_scripts(ctx, [
        "local t = {} for i = 1, 4 do t[i] = t end return t",
        "local t = {} for i = 1, 1000 do t[i] = t end return t",
        "local t = {} local u = {t, t} t[1] = u t[2] = u return t",
    ], check=expect_error(ctx, "self-referencing reply"))


@attack("script_pcall_then_loop", duration=4.0, config=SCRIPT_CONFIG,
        needs=["scripting.max_ms"])
def script_pcall_then_loop(ctx):
    """Loops that must be stopped at scripting.max_ms whether or not the script wrote: after a
    failed redis.pcall to a write command, inside pcall, in a coroutine, and after a real write
    (which is kept)."""
    n = [0]

    def check(script, r):
        m = STOPPED.match(str(r)) if isinstance(r, wire.Error) else None
        if not ctx.check(m, "script %r -> %r (expected `ERR script stopped after <n> ms; ...`)"
                         % (script[:70], str(r)[:100])):
            return
        ms = int(m.group(1))
        ctx.check(MAX_MS <= ms <= MAX_MS * 5, "script stopped after %d ms, scripting.max_ms %d"
                  % (ms, MAX_MS))
        wrote = "redis.call('set'" in script
        ctx.check((m.group(2) == "its writes were kept") == wrote,
                  "script %r: %r says the wrong thing about its writes" % (script[:60], str(r)))

    scripts = [
        "redis.pcall('del') while true do end",
        "redis.pcall('set') local x = 0 while true do x = x + 1 end",
        "while true do pcall(function() while true do end end) end",
        "local co = coroutine.create(function() while true do end end) coroutine.resume(co) "
        "while true do end",
        "while true do local ok = pcall(redis.call, 'ping') end",
    ]
    c = ctx.resp(timeout=SCRIPT_REPLY_S + 3)
    while ctx.running():
        for script in scripts:
            answered, r, took = eval_timed(c, script)
            if not answered:
                ctx.fail("script %r: %s after %.1f s" % (script[:70], r, took))
                c.close()
                return
            check(script, r)
        # A script that wrote and then loops: stopped too, and its write stays.
        n[0] += 1
        key, owner = "adv:wrote:%d" % n[0], "script-owner-%d" % n[0]
        script = ("redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', 600000) "
                  "while true do end")
        answered, r, took = eval_timed(c, script, key, owner, numkeys=1)
        if not answered:
            ctx.fail("script %r: %s after %.1f s" % (script[:70], r, took))
            c.close()
            return
        check(script, r)
        got = c.call("GET", key)
        ctx.check(got == owner.encode(), "a stopped script's write was not kept: GET %s -> %r"
                  % (key, got))
    c.close()


@attack("script_string_rep", duration=3.0, config=SCRIPT_CONFIG)
def script_string_rep(ctx):
    """C functions that run long or allocate much inside one call: each answers (an error or a
    value) within scripting.max_ms plus the time to stop."""
    run_scripts(ctx, [
        "return string.rep('', 2147483647)",
        "return #string.rep('x', 1000000000)",
        "local s = string.rep('x', 1048576) return #string.rep(s, 4096)",
        "local t = {} for i = 1, 100 do t[i] = string.rep('x', 1048576) end "
        "return #table.concat(t)",
        "return select('#', unpack({}, 1, 100000000))",
        "return #string.format('%099d', 1)",
    ])


@attack("script_backtracking_find", duration=3.0, config=SCRIPT_CONFIG)
def script_backtracking_find(ctx):
    """Patterns that backtrack exponentially inside one string.find/match/gsub call."""
    run_scripts(ctx, [
        "return string.find(string.rep('a', 5000), string.rep('a*', 40) .. 'b')",
        "return string.match(string.rep('a', 5000), string.rep('.-', 40) .. 'x')",
        "return select(2, string.gsub(string.rep('a', 3000), string.rep('a-', 30) .. 'b', ''))",
    ])


# ---- redis.call replacement ---------------------------------------------------------------------

# Attempts to change what scripts see; every one must fail (an error reply) or change nothing.
MUST_FAIL = [
    "redis.call = function(...) return {ok='OK'} end",
    "redis.pcall = function(...) return {ok='OK'} end",
    "redis = {call = function(...) return {ok='OK'} end}",
    "_G.redis = {call = function(...) return {ok='OK'} end}",
    "rawset(redis, 'call', function(...) return {ok='OK'} end)",
    "rawset(_G, 'redis', {call = function(...) return {ok='OK'} end})",
    "tonumber = function() return 0 end",
    "string.format = function() return '' end",
]
MAY_FAIL = [
    "setmetatable(_G, {__index = function() return function() return {ok='OK'} end end})",
    "local mt = getmetatable(redis) if type(mt) == 'table' then "
    "mt.__index = function() return function() return {ok='OK'} end end end",
    "setfenv(0, {redis = {call = function() return {ok='OK'} end}})",
    "loadstring('redis.call = function() return {ok=\"OK\"} end')()",
    "local r = debug.getregistry() return 1",
    "getmetatable('').__index = {}",
    "local s = string s.rep = nil",
]

# redis-py's Lock scripts and the plain SET NX idiom, run by the victim client.
SET_NX = "return redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])"
RELEASE = ("local token = redis.call('get', KEYS[1]) if not token or token ~= ARGV[1] then "
           "return 0 end redis.call('del', KEYS[1]) return 1")


@attack("script_redis_call_replacement", duration=3.0, config=SCRIPT_CONFIG)
def script_redis_call_replacement(ctx):
    """One client tries to replace redis.call (and other globals) for everyone; another client's
    SET NX script on a held key must still refuse, and its release script must still check the
    owner: mutual exclusion holds for every script user."""
    attacker = ctx.resp(timeout=SCRIPT_REPLY_S + 3)
    victim = ctx.resp(timeout=SCRIPT_REPLY_S + 3)
    while ctx.running():
        for script in MUST_FAIL + MAY_FAIL:
            r = attacker.call("EVAL", script, 0)
            if script in MUST_FAIL:
                ctx.check(isinstance(r, wire.Error), "script %r was allowed (%r): globals and "
                          "library tables must be read-only" % (script[:60], r))
            # held:m:1 is held by adv-owner-1 (the harness's lock set).
            r = victim.call("EVAL", SET_NX, 1, "held:m:1", "intruder", 60000)
            ctx.check(r is None, "after %r another client's SET NX script on a held key -> %r "
                      "(expected nil: two owners would hold one lock)" % (script[:60], r))
            r = victim.call("EVAL", RELEASE, 1, "held:m:1", "intruder")
            ctx.check(r == 0, "after %r a release script with the wrong owner -> %r"
                      % (script[:60], r))
            r = victim.call("EVAL", "return tonumber(ARGV[1]) + 1", 0, "41")
            ctx.check(r == 42, "after %r tonumber in another script -> %r" % (script[:60], r))
            key = "adv:nx:%d" % random.randrange(1 << 30)
            r = victim.call("EVAL", SET_NX, 1, key, "me", 60000)
            ctx.check(r == "OK", "after %r a SET NX script on a free key -> %r"
                      % (script[:60], r))
            victim.call("EVAL", RELEASE, 1, key, "me")
            ctx.count("attempts")
    attacker.close()
    victim.close()


@attack("script_cache_fill", duration=8.0, config=dict(SCRIPT_CONFIG, **{"limits.max_memory_mb":
                                                                       256}))
def script_cache_fill(ctx):
    """Clients fill the script heap with distinct scripts (SCRIPT LOAD, large, then ever smaller); meanwhile a lock library's release script (redis-py's, by EVALSHA with EVAL as
    fallback, and one the server has not seen yet) must compile and run every time."""
    def filler(i):
        # Scripts of tables of numbers (a few MB of heap each), then smaller and smaller ones
        # whenever a load is refused: what a client does to fill the script heap to the brim.
        c = ctx.resp(timeout=10)
        n = 0
        level = 0
        sizes = [60000, 6000, 600, 60, 6]
        while ctx.running():
            n += 1
            body = "return {%s}" % ",".join(str((i * 1000000 + n) * 100000 + j)
                                             for j in range(sizes[level]))
            try:
                r = c.call("SCRIPT", "LOAD", body)
            except (OSError, ConnectionError) as e:
                ctx.fail("script cache fill: %s" % e)
                return
            if isinstance(r, wire.Error):
                ctx.count("loads_refused")
                if level == len(sizes) - 1:
                    time.sleep(0.05)  # full to the brim: top it up now and then
                level = min(level + 1, len(sizes) - 1)
            else:
                ctx.count("scripts_loaded")
        c.close()

    def releaser():
        c = ctx.resp(timeout=10)
        sha = c.call("SCRIPT", "LOAD", RELEASE)
        n = 0
        while ctx.running():
            n += 1
            key, token = "adv:cache:lock:%d" % n, "tok-%d" % n
            r = c.call("SET", key, token, "NX", "PX", 60000)
            if not ctx.check(r == "OK", "script cache fill: SET NX -> %r" % (r,)):
                continue
            if n % 2:
                r = c.call("EVALSHA", sha, 1, key, token)
                if isinstance(r, wire.Error) and r.startswith("NOSCRIPT"):
                    r = c.call("EVAL", RELEASE, 1, key, token)  # what redis-py does
            else:
                # A library's script this server has not seen yet: it must compile now.
                r = c.call("EVAL", RELEASE + " -- client %d" % n, 1, key, token)
            ctx.check(r == 1, "script cache fill: the release script -> %r (lock left held)"
                      % (r,))
            ctx.count("releases")
            time.sleep(0.02)
        c.close()

    ctx.threads(lambda i: releaser() if i == 0 else filler(i), 2)

