// node-redis (the `redis` package, pinned in package-lock.json) in RESP3 (`RESP: 3`) against the
// real ttl-semlock binary ($SEMLOCK_BIN): lost-lock notices of SEMLOCK.ACQUIRE ... NOTIFY.
//
// - The holder's own connection gets the push `semlock-lost <key> <owner> <fence> <reason>` when
//   its lock expires or is force-released (and when a waiting NOTIFY acquire was granted and then
//   lost), with exact fields; never for its own release; never on another connection; and the
//   client's replies stay in order around it.
// - The documented pub/sub API (client.subscribe) in RESP3 gets the same notice on
//   __semlock__:lost:<key>, and a forged PUBLISH there is refused.
//
// How the pushes are read: node-redis 5.9 (and 6.x alike) hands user code only the pushes it
// knows (pub/sub messages, `invalidate` for client-side caching, Redis Enterprise maintenance
// notices) and drops any other push after decoding it; no option or event exposes them. Its
// commands queue has a push handler list (`addPushHandler`, the hook its own caching and
// maintenance features register with), so this test registers there: the frames are read and
// decoded by node-redis itself from the holder's connection, not by a parser of ours. The hook
// is checked first, so a node-redis that moved it fails here rather than passing silently.
"use strict";
const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");

// Before `redis` creates any client: every commands queue it makes is recorded.
const queueModule = require("@redis/client/dist/lib/client/commands-queue");
const OriginalQueue = queueModule.default;
let lastQueue = null;
queueModule.default = class RecordedQueue extends OriginalQueue {
  constructor(...args) {
    super(...args);
    lastQueue = this;
  }
};
const { createClient } = require("redis");

const { sleep, startServer } = require("./semlock_server");

let server;
let port;
const clients = [];

// A RESP3 client and the pushes node-redis decoded on its connection that it has no use for
// (as strings and numbers).
async function resp3Client() {
  lastQueue = null;
  const client = createClient({
    socket: { host: "127.0.0.1", port, reconnectStrategy: false },
    RESP: 3,
    maintNotifications: "disabled",
  });
  client.on("error", () => {});
  const queue = lastQueue;
  assert.ok(queue && typeof queue.addPushHandler === "function",
            "node-redis no longer builds its commands queue where this test hooks it");
  const pushes = [];
  const waiters = [];
  queue.addPushHandler((push) => {
    if (!Array.isArray(push) || String(push[0]) !== "semlock-lost") return false;
    pushes.push(push.map((v) => (Buffer.isBuffer(v) ? v.toString() : v)));
    while (waiters.length) waiters.shift()();
    return true;
  });
  await client.connect();
  clients.push(client);
  // Waits (generously: no speed is asserted) for the next push not yet taken.
  let taken = 0;
  const nextPush = async (ms = 5000) => {
    const deadline = Date.now() + ms;
    while (pushes.length <= taken && Date.now() < deadline) {
      await Promise.race([new Promise((r) => waiters.push(r)), sleep(50)]);
    }
    return taken < pushes.length ? pushes[taken++] : null;
  };
  return { client, pushes, nextPush };
}

before(async () => {
  server = await startServer();
  port = server.port;
});

after(async () => {
  for (const c of clients) {
    try {
      c.destroy();
    } catch {}
  }
  if (server) await server.stop();
});

test("expiry: the holder's RESP3 connection gets the push with exact fields", async () => {
  const holder = await resp3Client();
  const bystander = await resp3Client();
  const granted = await holder.client.sendCommand(
    ["SEMLOCK.ACQUIRE", "n3:exp", "200", "OWNER", "alice", "NOTIFY"]);
  assert.equal(granted.length, 2);
  assert.equal(String(granted[0]), "alice");
  const fence = granted[1];
  assert.equal(typeof fence, "number");
  const push = await holder.nextPush();
  assert.deepEqual(push, ["semlock-lost", "n3:exp", "alice", fence, "expired"]);
  // Replies stay in order after the push.
  assert.equal(await holder.client.ping(), "PONG");
  assert.equal(await holder.client.sendCommand(["SEMLOCK.EXISTS", "n3:exp"]), 0);
  // Only the holder's connection is told.
  assert.equal(bystander.pushes.length, 0);
});

test("force release by another client: reason forced; its own release: no push", async () => {
  const holder = await resp3Client();
  const other = await resp3Client();
  const [, fence] = await holder.client.sendCommand(
    ["SEMLOCK.ACQUIRE", "n3:forced", "30000", "OWNER", "bob", "NOTIFY"]);
  assert.equal(await other.client.sendCommand(["SEMLOCK.FORCERELEASE", "n3:forced"]), 1);
  assert.deepEqual(await holder.nextPush(), ["semlock-lost", "n3:forced", "bob", fence, "forced"]);
  // DEL is a force release too.
  const [, fence2] = await holder.client.sendCommand(
    ["SEMLOCK.ACQUIRE", "n3:del", "30000", "OWNER", "bob", "NOTIFY"]);
  assert.equal(await other.client.del("n3:del"), 1);
  assert.deepEqual(await holder.nextPush(), ["semlock-lost", "n3:del", "bob", fence2, "forced"]);
  // The owner's own release is no loss.
  await holder.client.sendCommand(["SEMLOCK.ACQUIRE", "n3:own", "30000", "OWNER", "bob", "NOTIFY"]);
  assert.equal(await holder.client.sendCommand(["SEMLOCK.RELEASE", "n3:own", "bob"]), 1);
  assert.equal(await holder.nextPush(400), null);
  // Without NOTIFY nothing is pushed either.
  await holder.client.sendCommand(["SEMLOCK.ACQUIRE", "n3:plain", "30000", "OWNER", "bob"]);
  assert.equal(await other.client.sendCommand(["SEMLOCK.FORCERELEASE", "n3:plain"]), 1);
  assert.equal(await holder.nextPush(400), null);
  assert.equal(other.pushes.length, 0);
});

test("a waiting NOTIFY acquire, granted later, gets the push for its grant", async () => {
  const first = await resp3Client();
  const waiter = await resp3Client();
  await first.client.sendCommand(["SEMLOCK.ACQUIRE", "n3:wait", "30000", "OWNER", "first"]);
  const pending = waiter.client.sendCommand(
    ["SEMLOCK.ACQUIRE", "n3:wait", "30000", "OWNER", "w", "WAIT", "5000", "NOTIFY"]);
  await sleep(100);
  assert.equal(await first.client.sendCommand(["SEMLOCK.RELEASE", "n3:wait", "first"]), 1);
  const [owner, fence] = await pending;
  assert.equal(String(owner), "w");
  assert.equal(await first.client.sendCommand(["SEMLOCK.FORCERELEASE", "n3:wait"]), 1);
  assert.deepEqual(await waiter.nextPush(), ["semlock-lost", "n3:wait", "w", fence, "forced"]);
  assert.equal(first.pushes.length, 0);
});

test("documented pub/sub in RESP3: the channel message; a forged one is refused", async () => {
  const sub = await resp3Client();
  const holder = await resp3Client();
  const messages = [];
  await sub.client.subscribe("__semlock__:lost:n3:chan", (message, channel) => {
    messages.push([channel, message]);
  });
  await assert.rejects(
    holder.client.publish("__semlock__:lost:n3:chan", "semlock-lost n3:chan carol 1 expired"),
    { message: "ERR channels starting with '__semlock__:' are reserved for the server's own notices" });
  const [, fence] = await holder.client.sendCommand(
    ["SEMLOCK.ACQUIRE", "n3:chan", "150", "OWNER", "carol", "NOTIFY"]);
  assert.deepEqual(await holder.nextPush(), ["semlock-lost", "n3:chan", "carol", fence, "expired"]);
  const deadline = Date.now() + 5000;
  while (messages.length === 0 && Date.now() < deadline) await sleep(20);
  assert.deepEqual(messages, [["__semlock__:lost:n3:chan",
                               `semlock-lost n3:chan carol ${fence} expired`]]);
  // The subscriber is no holder: no semlock-lost push of its own.
  assert.equal(sub.pushes.length, 0);
});
