/**
 * Test harness: a real nats-server per test file (random ports, temp store dir), torn down after the
 * file, with a leak check: the test must have closed every NATS connection it opened, and the server
 * process and its store dir must be gone afterwards.
 */
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";

import type { NatsConnection } from "@nats-io/nats-core";

import { connectNats } from "../../src/nats/connect.js";
import type { RunningNatsServer } from "../../src/natsd/index.js";
import { startNatsServer } from "../../src/natsd/index.js";

export interface TestNats {
  readonly url: string;
  readonly server: RunningNatsServer;
  /** A checked connection (closed automatically at the end if still open). */
  connect(name?: string): Promise<NatsConnection>;
  /** Number of client connections the server sees now. */
  connections(): Promise<number>;
  stop(): Promise<void>;
}

export async function startTestNats(): Promise<TestNats> {
  const dir = mkdtempSync(join(tmpdir(), "jetjob-test-"));
  const server = await startNatsServer({ storeDir: dir, monitorPort: 0 });
  const opened: NatsConnection[] = [];
  const connections = async (): Promise<number> => {
    const r = await fetch(`${server.monitorUrl}/connz`);
    const body = (await r.json()) as { num_connections: number };
    return body.num_connections;
  };
  return {
    url: server.url,
    server,
    async connect(name = "test") {
      const nc = await connectNats({ servers: server.url, name });
      opened.push(nc);
      return nc;
    },
    connections,
    async stop() {
      // A connection closed just now may still be listed for a moment: wait (bounded) for zero.
      let leaked = await connections().catch(() => 0);
      for (let i = 0; leaked > 0 && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 20));
        leaked = await connections().catch(() => 0);
      }
      for (const nc of opened) if (!nc.isClosed()) await nc.close();
      await server.stop();
      let alive = true;
      try {
        process.kill(server.pid, 0);
      } catch {
        alive = false;
      }
      rmSync(dir, { recursive: true, force: true });
      if (alive) throw new Error(`nats-server (pid ${server.pid}) still running after stop`);
      if (existsSync(dir)) throw new Error(`store dir ${dir} not removed`);
      if (leaked > 0) throw new Error(`the test left ${leaked} NATS connection(s) open`);
    },
  };
}

/** Starts a server before the file's tests and stops it (with the leak check) after them. */
export function useNats(): { readonly nats: TestNats } {
  let nats: TestNats | undefined;
  before(async () => {
    nats = await startTestNats();
  });
  after(async () => {
    await nats?.stop();
  });
  return {
    get nats() {
      if (!nats) throw new Error("useNats(): the server is not started yet (use it inside a test)");
      return nats;
    },
  };
}

/** Waits until `predicate` returns a truthy value; no fixed sleeps in tests. */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  {
    timeoutMs = 10_000,
    intervalMs = 10,
    what = "condition",
  }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await predicate();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
