// ioredis and node-redlock v5 against the real ttl-semlock binary ($SEMLOCK_BIN), unmodified:
// ioredis's ready check (INFO), redlock's acquire/extend/release scripts (EVALSHA, EVAL after
// NOSCRIPT), using() with automatic extension, and two clients contending.
"use strict";
const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const Redis = require("ioredis");
const redlockModule = require("redlock");
const Redlock = redlockModule.default || redlockModule;
const { ExecutionError } = redlockModule;

const { sleep, startServer } = require("./semlock_server");

let server;
let port;
const clients = [];

function client() {
  const c = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 1, lazyConnect: false });
  clients.push(c);
  return c;
}

before(async () => {
  server = await startServer();
  port = server.port;
});

after(async () => {
  for (const c of clients) c.disconnect();
  if (server) await server.stop();
});

test("ioredis connects (INFO ready check) and speaks the lock idiom and SEMLOCK.*", async () => {
  const r = client();
  await new Promise((resolve, reject) => {
    r.once("ready", resolve);
    r.once("error", reject);
  });
  assert.equal(await r.set("node:k", "tok", "PX", 5000, "NX"), "OK");
  assert.equal(await r.set("node:k", "other", "PX", 5000, "NX"), null);
  assert.equal(await r.get("node:k"), "tok");
  const [owner, fence] = await r.call("SEMLOCK.ACQUIRE", "node:sem", "5000", "LIMIT", "3");
  assert.equal(owner.length, 32);
  assert.equal(typeof fence, "number");
  assert.equal(await r.call("SEMLOCK.RELEASE", "node:sem", owner), 1);
  assert.equal(await r.del("node:k"), 1);
  const info = await r.info("server");
  assert.match(info, /redis_version:7\.2\.0/);
  const results = await r.multi().set("node:m", "a", "NX").get("node:m").del("node:m").exec();
  assert.deepEqual(results, [[null, "OK"], [null, "a"], [null, 1]]);
});

test("redlock acquire, extend, release", async () => {
  const redlock = new Redlock([client()], { retryCount: 0 });
  const lock = await redlock.acquire(["node:a", "node:b"], 2000);
  const r = client();
  assert.equal(await r.get("node:a"), lock.value);
  assert.equal(await r.get("node:b"), lock.value);
  const extended = await lock.extend(10000);
  assert.ok((await r.pttl("node:a")) > 5000);
  const rival = new Redlock([client()], { retryCount: 0 });
  await assert.rejects(rival.acquire(["node:b"], 1000), ExecutionError);
  await extended.release();
  assert.equal(await r.exists("node:a", "node:b"), 0);
  const again = await rival.acquire(["node:b"], 1000);
  await again.release();
});

test("redlock falls back to EVAL after NOSCRIPT", async () => {
  const r = client();
  const redlock = new Redlock([r], { retryCount: 0 });
  const first = await redlock.acquire(["node:flush"], 2000);
  await first.release();
  assert.equal(await r.script("FLUSH"), "OK");
  const lock = await redlock.acquire(["node:flush"], 2000); // EVALSHA -> NOSCRIPT -> EVAL
  assert.equal(await r.get("node:flush"), lock.value);
  await lock.release();
});

test("redlock using() extends automatically while the routine runs", async () => {
  const redlock = new Redlock([client()], { retryCount: 0 });
  const r = client();
  let value;
  await redlock.using(["node:using"], 1000, { automaticExtensionThreshold: 400 }, async (signal) => {
    value = await r.get("node:using");
    await sleep(1800); // past the first 1000 ms: only extensions keep it
    assert.equal(signal.aborted, false, signal.error && signal.error.message);
    assert.equal(await r.get("node:using"), value);
  });
  assert.ok(value);
  assert.equal(await r.exists("node:using"), 0);
});

test("two clients contending never hold the lock at once", async () => {
  const settings = { retryCount: 200, retryDelay: 10, retryJitter: 5 };
  const contenders = [new Redlock([client()], settings), new Redlock([client()], settings)];
  let inside = 0;
  let total = 0;
  const rounds = 15;
  await Promise.all(
    contenders.map(async (redlock) => {
      for (let i = 0; i < rounds; i++) {
        const lock = await redlock.acquire(["node:contend"], 5000);
        inside += 1;
        assert.equal(inside, 1, "two holders at once");
        await sleep(3);
        total += 1;
        inside -= 1;
        await lock.release();
      }
    })
  );
  assert.equal(total, 2 * rounds);
});
