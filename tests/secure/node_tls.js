// ioredis with `tls` against the real ttl-semlock binary ($SEMLOCK_BIN): server-authenticated TLS
// and mutual TLS, lock commands and a pipeline across TLS records. Certificates are made per run
// with the openssl command.
"use strict";
const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn, execFileSync } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const Redis = require("ioredis");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "semlock-node-tls-"));
const file = (n) => path.join(dir, n);
const servers = [];
const clients = [];

function openssl(...args) {
  execFileSync("openssl", args, { stdio: "ignore" });
}

function issue(name, cn, ext) {
  fs.writeFileSync(file(name + ".ext"), ext + "\n");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", file(name + ".key"), "-out",
          file(name + ".csr"), "-subj", "/CN=" + cn);
  openssl("x509", "-req", "-in", file(name + ".csr"), "-CA", file("ca.pem"), "-CAkey",
          file("ca.key"), "-CAcreateserial", "-out", file(name + ".pem"), "-days", "2",
          "-extfile", file(name + ".ext"));
}

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

async function start(extraEnv) {
  const port = await freePort();
  const tlsPort = await freePort();
  const env = { ...process.env, TTLSEMLOCK_TLS_ENABLED: "true", ...extraEnv };
  const proc = spawn(process.env.SEMLOCK_BIN,
                     ["--host", "127.0.0.1", "--port", String(port), "--no-metrics",
                      "--tls-port", String(tlsPort), "--tls-cert-file", file("server.pem"),
                      "--tls-key-file", file("server.key")],
                     { env, stdio: ["ignore", "ignore", "inherit"] });
  servers.push(proc);
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(tlsPort, "127.0.0.1", () => { c.end(); resolve(true); });
      c.on("error", () => resolve(false));
    });
    if (ok) return tlsPort;
    await sleep(50);
  }
  throw new Error("ttl-semlock did not start");
}

function client(port, tls) {
  const c = new Redis({ port, host: "localhost", tls, maxRetriesPerRequest: 1,
                        retryStrategy: () => null });
  clients.push(c);
  return c;
}

before(() => {
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file("ca.key"), "-out",
          file("ca.pem"), "-days", "2", "-subj", "/CN=semlock-node-ca");
  issue("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1");
  issue("client", "node-client", "extendedKeyUsage=clientAuth");
});

after(() => {
  for (const c of clients) c.disconnect();
  for (const s of servers) s.kill("SIGTERM");
  fs.rmSync(dir, { recursive: true, force: true });
});

test("ioredis over TLS: acquire, pipeline, release", async () => {
  const port = await start({});
  const r = client(port, { ca: fs.readFileSync(file("ca.pem")) });
  const [owner] = await r.call("SEMLOCK.ACQUIRE", "node-tls", "30000");
  assert.equal(owner.length, 32);
  const p = r.pipeline();
  for (let i = 0; i < 1000; i++) p.call("SEMLOCK.ACQUIRE", "k" + i, "30000", "OWNER", "x".repeat(40));
  const replies = await p.exec();
  assert.equal(replies.length, 1000);
  for (const [err, rep] of replies) {
    assert.equal(err, null);
    assert.equal(rep[0], "x".repeat(40));
  }
  assert.equal(await r.call("SEMLOCK.RELEASE", "node-tls", owner), 1);
});

test("ioredis with mutual TLS: a client certificate is required", async () => {
  const port = await start({ TTLSEMLOCK_TLS_CA_FILE: file("ca.pem"),
                             TTLSEMLOCK_TLS_CLIENT_AUTH: "required" });
  const good = client(port, { ca: fs.readFileSync(file("ca.pem")),
                              cert: fs.readFileSync(file("client.pem")),
                              key: fs.readFileSync(file("client.key")) });
  assert.equal(await good.ping(), "PONG");
  const bad = client(port, { ca: fs.readFileSync(file("ca.pem")) });
  bad.on("error", () => {});
  await assert.rejects(bad.ping());
});
