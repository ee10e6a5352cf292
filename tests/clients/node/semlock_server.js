// The real ttl-semlock binary ($SEMLOCK_BIN) for the Node client tests: a free port, the server
// started on it (no metrics port) and waited for, and stopped at the end. run-node-test.sh copies
// this file beside each test.js.
"use strict";
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const net = require("node:net");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
    s.on("error", reject);
  });
}

async function waitReady(p) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(p, "127.0.0.1", () => {
        c.end();
        resolve(true);
      });
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error("ttl-semlock did not start");
}

// Starts the server on a free port; resolves to { port, stop }, stop() ends it and waits.
async function startServer() {
  const bin = process.env.SEMLOCK_BIN;
  assert.ok(bin, "SEMLOCK_BIN is not set (run through ctest)");
  const port = await freePort();
  const proc = spawn(bin, ["--host", "127.0.0.1", "--port", String(port), "--no-metrics"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  await waitReady(port);
  return {
    port,
    stop: async () => {
      proc.kill("SIGTERM");
      await exited;
    },
  };
}

module.exports = { sleep, startServer };
