/**
 * The server checks on connect: nats-server must be >= 2.10 and have JetStream; `jetjob start`
 * finds a usable binary or says in one line how to get one.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { ErrorCode, isJetjobError } from "../../src/core/errors.js";
import { compareVersions, connectNats } from "../../src/nats/connect.js";
import { findNatsServer, startNatsServer } from "../../src/natsd/index.js";

/** A fake NATS server that announces the given INFO and answers PINGs (enough for a client to connect). */
function fakeNats(
  info: Record<string, unknown>,
): Promise<{ url: string; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.write(
      `INFO ${JSON.stringify({ server_id: "FAKE", version: "0.0.0", proto: 1, max_payload: 1048576, headers: true, ...info })}\r\n`,
    );
    sock.on("data", (buf) => {
      for (const line of buf.toString().split("\r\n")) if (line.startsWith("PING")) sock.write("PONG\r\n");
    });
  });
  return new Promise((res) =>
    server.listen(0, "127.0.0.1", () =>
      res({ url: `nats://127.0.0.1:${(server.address() as { port: number }).port}`, server, sockets }),
    ),
  );
}

async function expectTooOld(url: string, pattern: RegExp): Promise<void> {
  await assert.rejects(connectNats({ servers: url, timeoutMs: 3000 }), (err: unknown) => {
    assert.ok(isJetjobError(err));
    assert.equal(err.code, ErrorCode.ServerTooOld);
    assert.match(err.message, pattern);
    assert.ok(err.hint, "a hint says what to do");
    return true;
  });
}

describe("server checks", () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("compares versions numerically", () => {
    assert.ok(compareVersions("2.10.27", "2.9.10") > 0);
    assert.ok(compareVersions("2.9.10", "2.10.0") < 0);
    assert.equal(compareVersions("2.10.0", "2.10.0"), 0);
    assert.ok(compareVersions("2.10.0-beta.1", "2.10.0") === 0);
  });

  it("refuses a nats-server older than 2.10", async () => {
    const fake = await fakeNats({ version: "2.9.10", jetstream: true });
    try {
      await expectTooOld(fake.url, /2\.9\.10 is too old/);
    } finally {
      for (const s of fake.sockets) s.destroy();
      fake.server.close();
    }
  });

  it("refuses a server without JetStream", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jetjob-nojs-"));
    dirs.push(dir);
    const ns = await startNatsServer({ storeDir: dir, monitorPort: -1, extraConfig: "jetstream: disabled" });
    try {
      await expectTooOld(ns.url, /JetStream disabled/);
    } finally {
      await ns.stop();
    }
  });

  it("skips nats-server binaries older than 2.10 and says how to install one", () => {
    const dir = mkdtempSync(join(tmpdir(), "jetjob-find-"));
    dirs.push(dir);
    const old = join(dir, "nats-server");
    writeFileSync(old, '#!/bin/sh\necho "nats-server: v2.9.10"\n');
    chmodSync(old, 0o755);
    assert.throws(
      () => findNatsServer([old, join(dir, "missing")]),
      (err: unknown) => {
        assert.ok(isJetjobError(err));
        assert.match(err.message, /2\.9\.10/);
        assert.match(err.message, /install-nats-server\.sh/);
        assert.equal(err.message.includes("\n"), false, "one line");
        return true;
      },
    );
    const found = findNatsServer();
    assert.ok(compareVersions(found.version, "2.10.0") >= 0);
  });
});
