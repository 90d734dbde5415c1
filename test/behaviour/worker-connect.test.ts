/**
 * A worker or client given a NATS address where nothing answers says so: `ready` rejects with
 * `nats_unreachable` after `connectTimeoutMs`, an `error` event fires and a log line names the
 * address (issue 19: it used to hang silently).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

import { connectAgentNats } from "../../src/agent/connect.js";

import { createClient } from "../../src/client/index.js";
import { ErrorCode, isJetjobError } from "../../src/core/errors.js";
import { createLogger } from "../../src/core/logger.js";
import { startNatsServer } from "../../src/natsd/index.js";
import { createWorker } from "../../src/worker/index.js";
import { waitFor } from "../harness/nats.js";

/** A URL on a port that was open a moment ago and is closed now: connections are refused. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return `nats://127.0.0.1:${port}`;
}

function capturingLogger(): {
  lines: Array<Record<string, unknown>>;
  logger: ReturnType<typeof createLogger>;
} {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level: "debug",
    format: "json",
    write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  return { lines, logger };
}

describe("a worker that cannot reach NATS", { timeout: 30_000 }, () => {
  it("rejects ready with nats_unreachable within connectTimeoutMs, emits error and logs", async () => {
    const url = await closedPortUrl();
    const { lines, logger } = capturingLogger();
    const errors: Error[] = [];
    const connectTimeoutMs = 1500;
    const started = Date.now();
    const worker = createWorker({
      nats: url,
      connectTimeoutMs,
      handleSignals: false,
      logger,
      handlers: { noop: () => undefined },
    });
    worker.on("error", (err) => errors.push(err));
    await assert.rejects(worker.ready, (err: unknown) => {
      assert.ok(isJetjobError(err), `a JetjobError, got ${String(err)}`);
      assert.equal(err.code, ErrorCode.NatsUnreachable);
      assert.match(err.message, new RegExp(url.replace(/[.]/g, "\\.")));
      assert.ok(err.hint, "a hint says what to check");
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= connectTimeoutMs - 600, `kept trying for about the timeout (${elapsed} ms)`);
    assert.ok(elapsed < connectTimeoutMs + 3000, `gave up soon after the timeout (${elapsed} ms)`);
    assert.ok(
      errors.some((e) => isJetjobError(e) && e.code === ErrorCode.NatsUnreachable),
      "an error event with the code",
    );
    assert.ok(
      lines.some((l) => l.level === "warn" && l.nats === url),
      "a warning names the address while it retries",
    );
    assert.ok(
      lines.some((l) => l.level === "error" && l.code === ErrorCode.NatsUnreachable),
      "an error line when it gives up",
    );
    await worker.close();
  });

  it("close() while it is still trying to connect stops at once", async () => {
    const url = await closedPortUrl();
    const { logger } = capturingLogger();
    const worker = createWorker({
      nats: url,
      connectTimeoutMs: 60_000,
      handleSignals: false,
      logger,
      handlers: {},
    });
    const started = Date.now();
    await worker.close();
    await assert.rejects(worker.ready, (err: unknown) => isJetjobError(err) && err.code === ErrorCode.Closed);
    assert.ok(Date.now() - started < 5000, "did not wait for the connect timeout");
  });

  it("a client given a NATS URL fails its first call with nats_unreachable instead of hanging", async () => {
    const url = await closedPortUrl();
    const client = createClient({ nats: url });
    try {
      await assert.rejects(client.enqueue("noop", []), (err: unknown) => {
        assert.ok(isJetjobError(err));
        assert.equal(err.code, ErrorCode.NatsUnreachable);
        return true;
      });
    } finally {
      await client.close();
    }
  });

  it("an agent waits for NATS, logging that it cannot reach it, and connects once it answers", async () => {
    const url = await closedPortUrl();
    const { lines, logger } = capturingLogger();
    const connecting = connectAgentNats(url, undefined, "agent-waits", logger);
    await waitFor(() => lines.some((l) => l.level === "warn" && l.nats === url), {
      what: "a warning that NATS cannot be reached",
    });
    const dir = mkdtempSync(join(tmpdir(), "jetjob-late-nats-"));
    const ns = await startNatsServer({ storeDir: dir, port: Number(new URL(url).port), monitorPort: -1 });
    try {
      const nc = await connecting;
      assert.ok(lines.some((l) => l.level === "info" && l.msg === "connected to NATS"));
      await nc.close();
    } finally {
      await ns.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
