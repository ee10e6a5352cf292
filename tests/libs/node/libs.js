// Node lock libraries against ttl-semlock ($SEMLOCK_PORT, started by run_libs.py), unmodified.
// Each case contends: several clients (each its own connection) take the lock in turns, and the
// critical section checks that no more than the lock allows are ever inside at once. Each case
// appends one result row (JSON) to $LIBS_RESULTS for docs/CLIENTS.md.
"use strict";
const { test, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const Redis = require("ioredis");
const nodeRedis = require("redis");
const semaphore = require("redis-semaphore");
const srm = require("simple-redis-mutex");
const sesame = require("@sesamecare-oss/redlock");
const Redlock4 = require("redlock4");
const redlock5 = require("redlock5");
const Redlock5 = redlock5.default || redlock5;

const port = Number(process.env.SEMLOCK_PORT);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const path = require("node:path");
// Read from node_modules directly: some packages do not export their package.json.
const version = (name) =>
  JSON.parse(fs.readFileSync(path.join(__dirname, "node_modules", name, "package.json"))).version;
const closers = [];

function ioredis() {
  const c = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
  closers.push(() => c.disconnect());
  return c;
}

async function nodeRedisClient(resp) {
  const c = nodeRedis.createClient({ socket: { port, host: "127.0.0.1" }, RESP: resp });
  await c.connect();
  closers.push(() => c.destroy());
  return c;
}

after(() => {
  for (const close of closers) close();
});

function record(row) {
  fs.appendFileSync(process.env.LIBS_RESULTS, JSON.stringify({ language: "Node.js", ...row }) + "\n");
}

// Runs `workers` contenders for `rounds` turns each; `take(i)` acquires and returns a release
// function. Fails when more than `limit` are ever inside at once.
async function contend(take, { workers = 3, rounds = 6, limit = 1 } = {}) {
  let inside = 0;
  let most = 0;
  let turns = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, i) => {
      for (let r = 0; r < rounds; r++) {
        const release = await take(i);
        inside++;
        most = Math.max(most, inside);
        assert.ok(inside <= limit, `${inside} inside at once (limit ${limit})`);
        await sleep(3);
        inside--;
        turns++;
        await release();
      }
    }),
  );
  assert.equal(turns, workers * rounds);
  return most;
}

// A case: runs fn, records the row with the outcome, rethrows a failure.
function libCase(title, row, fn) {
  test(title, async () => {
    try {
      const detail = await fn();
      record({ ...row, result: "pass", detail: detail || "" });
    } catch (e) {
      record({ ...row, result: "fail", detail: String(e && e.message ? e.message : e) });
      throw e;
    }
  });
}

const rs = { library: "redis-semaphore", version: version("redis-semaphore"), client: `ioredis ${version("ioredis")}` };
const rsOpts = { lockTimeout: 5000, acquireTimeout: 20000, retryInterval: 5, refreshInterval: 0 };

libCase("redis-semaphore Mutex: mutual exclusion, expiry lets a waiter in", { ...rs, recipe: "Mutex" }, async () => {
  const clients = [ioredis(), ioredis(), ioredis()];
  const most = await contend(async (i) => {
    const m = new semaphore.Mutex(clients[i], "lib:rs:mutex", rsOpts);
    await m.acquire();
    return () => m.release();
  });
  // A holder that never releases: its lockTimeout lets the next one in.
  const a = new semaphore.Mutex(clients[0], "lib:rs:mutex2", { ...rsOpts, lockTimeout: 300 });
  await a.acquire();
  const t0 = Date.now();
  const b = new semaphore.Mutex(clients[1], "lib:rs:mutex2", rsOpts);
  await b.acquire();
  assert.ok(Date.now() - t0 >= 250, "the second got the lock before the first one's expiry");
  await b.release();
  return `most inside: ${most}`;
});

libCase("redis-semaphore Semaphore (limit 2)", { ...rs, recipe: "Semaphore" }, async () => {
  const clients = [ioredis(), ioredis(), ioredis(), ioredis()];
  const most = await contend(async (i) => {
    const s = new semaphore.Semaphore(clients[i], "lib:rs:sem", 2, rsOpts);
    await s.acquire();
    return () => s.release();
  }, { workers: 4, limit: 2 });
  assert.equal(most, 2, "two permits were never used at once");
  return `most inside: ${most}`;
});

libCase("redis-semaphore MultiSemaphore (limit 3, 2 permits each)", { ...rs, recipe: "MultiSemaphore" }, async () => {
  const clients = [ioredis(), ioredis(), ioredis()];
  await contend(async (i) => {
    const s = new semaphore.MultiSemaphore(clients[i], "lib:rs:multi", 3, 2, rsOpts);
    await s.acquire();
    return () => s.release();
  }, { limit: 1 });
});

libCase("redis-semaphore RedlockMutex", { ...rs, recipe: "RedlockMutex" }, async () => {
  const clients = [ioredis(), ioredis(), ioredis()];
  await contend(async (i) => {
    const m = new semaphore.RedlockMutex([clients[i]], "lib:rs:rmutex", rsOpts);
    await m.acquire();
    return () => m.release();
  });
});

libCase("redis-semaphore RedlockSemaphore (limit 2)", { ...rs, recipe: "RedlockSemaphore" }, async () => {
  const clients = [ioredis(), ioredis(), ioredis(), ioredis()];
  await contend(async (i) => {
    const s = new semaphore.RedlockSemaphore([clients[i]], "lib:rs:rsem", 2, rsOpts);
    await s.acquire();
    return () => s.release();
  }, { workers: 4, limit: 2 });
});

for (const resp of [2, 3]) {
  libCase(
    `simple-redis-mutex lock (node-redis, RESP${resp}): waiters woken by pub/sub`,
    { library: "simple-redis-mutex", version: version("simple-redis-mutex"),
      client: `redis ${version("redis")} RESP${resp}`, recipe: "lock (pub/sub wake-up)" },
    async () => {
      const clients = [];
      for (let i = 0; i < 3; i++) clients.push(await nodeRedisClient(resp));
      // pollingInterval 60 s: only the release's PUBLISH can wake a waiter in time.
      const t0 = Date.now();
      await contend(async (i) => {
        const release = await srm.lock(clients[i], `lib:srm:${resp}`, { timeout: 10000, pollingInterval: 60000 });
        return release;
      });
      assert.ok(Date.now() - t0 < 30000, "waiters were not woken by the release");
      const [ok, release] = await srm.tryLock(clients[0], `lib:srm:${resp}`);
      assert.equal(ok, true);
      const [again] = await srm.tryLock(clients[1], `lib:srm:${resp}`);
      assert.equal(again, false);
      await release();
    });
}

libCase("@sesamecare-oss/redlock acquire/release",
  { library: "@sesamecare-oss/redlock", version: version("@sesamecare-oss/redlock"),
    client: `ioredis ${version("ioredis")}`, recipe: "Redlock (single instance)" },
  async () => {
    const locks = [0, 1, 2].map(() => new sesame.Redlock([ioredis()], { retryCount: -1, retryDelay: 5, retryJitter: 5 }));
    await contend(async (i) => {
      const lock = await locks[i].acquire(["lib:sesame"], 5000);
      return () => lock.release();
    });
  });

libCase("redlock 4.2 lock/unlock",
  { library: "redlock", version: version("redlock4"), client: `ioredis ${version("ioredis")}`,
    recipe: "Redlock (single instance)" },
  async () => {
    const locks = [0, 1, 2].map(() => new Redlock4([ioredis()], { retryCount: -1, retryDelay: 5, retryJitter: 5 }));
    await contend(async (i) => {
      const lock = await locks[i].lock("lib:redlock4", 5000);
      return () => lock.unlock();
    });
  });

libCase("redlock 5.0-beta acquire/release",
  { library: "redlock", version: version("redlock5"), client: `ioredis ${version("ioredis")}`,
    recipe: "Redlock (single instance)" },
  async () => {
    const locks = [0, 1, 2].map(() => new Redlock5([ioredis()], { retryCount: -1, retryDelay: 5, retryJitter: 5 }));
    await contend(async (i) => {
      const lock = await locks[i].acquire(["lib:redlock5"], 5000);
      return () => lock.release();
    });
  });
