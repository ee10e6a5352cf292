"""The cluster checker's history and its proofs (cluster_checker.py; docs/CHECKER.md).

An Op is one request as its client saw it: what it asked of which member, when it was sent and
when (and what) the reply came. analyse() runs the proofs over a run's ops and the SEMLOCK.INFO
replies observed during it (the violations are listed in cluster_checker.py's docstring);
self_test() checks that they find what they must on made-up histories.
"""
import time

from cluster_fixture import RespError

# The contended keys and their limits: 4 mutexes, 3 semaphores.
KEYS = [("m0", 1), ("m1", 1), ("m2", 1), ("m3", 1), ("s2", 2), ("s3", 3), ("s4", 4)]
LIMIT = dict(KEYS)
now = time.monotonic


class Op:
    __slots__ = ("kind", "key", "owner", "ttl", "wait", "send", "recv", "reply", "member")

    def __init__(self, kind, key, owner, ttl, wait, member):
        self.kind, self.key, self.owner, self.ttl, self.wait = kind, key, owner, ttl, wait
        self.member = member
        self.send, self.recv, self.reply = now(), None, None

    def known(self):
        return self.recv is not None and not isinstance(self.reply, RespError)


# ---------------------------------------------------------------- the proofs

def analyse(ops, infos):
    found = {}

    def violation(kind, text):
        found.setdefault(kind, []).append(text)

    by_owner = {}
    for op in ops:
        by_owner.setdefault(op.owner, []).append(op)
    intervals = {k: [] for k in LIMIT}
    grants = []
    for owner, seq in by_owner.items():
        acq = seq[0]
        if acq.kind != "acquire" or not acq.known() or not isinstance(acq.reply, list):
            continue
        if acq.reply[0] != owner:
            violation("error_reply", "acquire for %s answered %r" % (owner, acq.reply))
            continue
        fence = acq.reply[1]
        grants.append((acq.send, acq.recv, fence, acq))
        start = acq.recv
        lb = acq.send + acq.ttl / 1000.0
        end = None
        for op in seq[1:]:
            if op.kind == "release":
                if op.known() and op.reply == 0 and op.recv < lb:
                    violation("lost_before_ttl", "%s %s released %.1f ms before its TTL bound: "
                              "not held (member %d)" % (op.key, owner, (lb - op.recv) * 1e3,
                                                        op.member))
                end = min(lb, op.send)
                break
            if op.kind == "extend":
                if not op.known():
                    lb = min(lb, op.send + op.ttl / 1000.0)
                    break
                if op.reply == 0:
                    if op.recv < lb:
                        violation("lost_before_ttl", "%s %s extend %.1f ms before its TTL bound: "
                                  "not held (member %d)" % (op.key, owner, (lb - op.recv) * 1e3,
                                                            op.member))
                    end = min(lb, op.send)
                    break
                lb = op.send + op.ttl / 1000.0
        if end is None:
            end = lb
        if end > start:
            intervals[acq.key].append((start, end, owner, fence))
    for key, ivs in intervals.items():
        events = []
        for s, e, owner, fence in ivs:
            events.append((s, 1, owner))
            events.append((e, -1, owner))
        events.sort(key=lambda x: (x[0], x[1]))
        held = set()
        for t, d, owner in events:
            if d > 0:
                held.add(owner)
                if len(held) > LIMIT[key]:
                    violation("over_limit", "%s: %d surely-held grants at once (limit %d): %s" %
                              (key, len(held), LIMIT[key], sorted(held)))
            else:
                held.discard(owner)
    seen = {}
    for s, r, fence, op in grants:
        if fence in seen:
            violation("fence_reused", "fence %d granted to %s and %s" % (fence, seen[fence],
                                                                          op.owner))
        seen[fence] = op.owner
    by_recv = sorted(grants, key=lambda g: g[1])
    best, best_owner, i = 0, None, 0
    for s, r, fence, op in sorted(grants, key=lambda g: g[0]):
        while i < len(by_recv) and by_recv[i][1] < s:
            if by_recv[i][2] > best:
                best, best_owner = by_recv[i][2], by_recv[i][3].owner
            i += 1
        if best and fence <= best:
            violation("fence_order", "%s got fence %d after %s's %d was acknowledged" %
                      (op.owner, fence, best_owner, best))
    fence_of = {op.owner: f for s, r, f, op in grants}
    for mid, key, reply, t0, t1 in infos:
        if not isinstance(reply, list):
            continue
        fields = dict(zip(reply[0::2], reply[1::2]))
        hs = fields.get("holders") or []
        if len(hs) > LIMIT[key]:
            violation("info", "member %d lists %d holders of %s (limit %d)" %
                      (mid, len(hs), key, LIMIT[key]))
        for h in hs:
            if h[0] in fence_of and fence_of[h[0]] != h[1]:
                violation("info", "member %d lists %s on %s with fence %d, granted %d" %
                          (mid, h[0], key, h[1], fence_of[h[0]]))
    errors = {}
    for op in ops:
        if isinstance(op.reply, RespError):
            text = str(op.reply)
            errors[text] = errors.get(text, 0) + 1
            if not text.startswith("CLUSTERDOWN"):
                violation("error_reply", "%s %s: -%s (member %d)" % (op.kind, op.key, text,
                                                                      op.member))
    return found, errors, len(grants)


def self_test():
    """The proofs find what they must on made-up histories (run before every checker run)."""
    def op(kind, key, owner, ttl, send, recv, reply, member=1):
        o = Op(kind, key, owner, ttl, 0, member)
        o.send, o.recv, o.reply = send, recv, reply
        return o
    clean = [op("acquire", "m0", "a", 1000, 0.0, 0.01, ["a", 10]),
             op("release", "m0", "a", 0, 0.5, 0.51, 1),
             op("acquire", "m0", "b", 1000, 0.6, 0.61, ["b", 11]),
             op("acquire", "s2", "c", 1000, 0.6, 0.61, ["c", 12]),
             op("acquire", "s2", "d", 1000, 0.6, 0.61, ["d", 13]),
             op("extend", "s2", "d", 1000, 0.9, 0.91, 1),
             op("acquire", "m1", "e", 100, 0.0, None, None)]
    cases = {
        "over_limit": [op("acquire", "m0", "a", 1000, 0.0, 0.01, ["a", 1]),
                       op("acquire", "m0", "b", 1000, 0.5, 0.51, ["b", 2])],
        "lost_before_ttl": [op("acquire", "m0", "a", 1000, 0.0, 0.01, ["a", 1]),
                            op("extend", "m0", "a", 2000, 0.5, 0.51, 1),
                            op("release", "m0", "a", 0, 2.0, 2.01, 0)],
        "fence_order": [op("acquire", "m0", "a", 100, 0.0, 0.01, ["a", 5]),
                        op("acquire", "m1", "b", 100, 0.02, 0.03, ["b", 4])],
        "fence_reused": [op("acquire", "m0", "a", 100, 0.0, 0.01, ["a", 5]),
                         op("acquire", "m1", "b", 100, 0.0, 0.03, ["b", 5])],
        "error_reply": [op("acquire", "m0", "a", 100, 0.0, 0.01, RespError("ERR oops"))],
    }
    found, _, _ = analyse(clean, [(1, "s2", ["limit", 2, "holders", [["c", 12, 5]]], 0, 1)])
    if found:
        raise AssertionError("self-test: a clean history shows %r" % found)
    for kind, ops in cases.items():
        found, _, _ = analyse(ops, [])
        if list(found) != [kind]:
            raise AssertionError("self-test: %s not found alone: %r" % (kind, found))
    found, _, _ = analyse(clean, [(2, "m0", ["limit", 1, "holders", [["b", 99, 5]]], 0, 1)])
    if list(found) != ["info"]:
        raise AssertionError("self-test: info mismatch not found: %r" % found)
