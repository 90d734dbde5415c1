/**
 * One engine over the test nats-server for a `describe` block: `useEngine(h)` registers the before
 * hook (a connection and `createEngine` on it) and the after hook (closed in reverse), and answers a
 * view of both, readable inside the tests. Also `useStarted`, which useClients (clients.ts) is built on.
 */
import { after, before } from "node:test";

import type { NatsConnection } from "@nats-io/nats-core";

import { Store } from "../../src/core/ids.js";
import { WrongSequenceError } from "../../src/nats/publisher.js";
import type { Engine, EngineOptions } from "../../src/store/engine.js";
import { createEngine } from "../../src/store/engine.js";
import type { TestNats } from "./nats.js";
import { waitFor } from "./nats.js";

export interface UsedEngine {
  readonly nc: NatsConnection;
  readonly engine: Engine;
}

/**
 * Registers a before hook that runs `start` and an after hook that runs `stop` on what it made (in
 * one hook each, so the parts close in the order `stop` says). Answers a view whose fields read
 * what `start` made, inside the tests; `what` names the helper in the error of a read before it.
 */
export function useStarted<T extends object>(
  what: string,
  start: () => Promise<T>,
  stop: (t: T) => Promise<void>,
): T {
  let started: T | undefined;
  before(async () => {
    started = await start();
  });
  after(async () => {
    if (started !== undefined) await stop(started);
  });
  return new Proxy({} as T, {
    get(_, field) {
      if (started === undefined) throw new Error(`${what}: not started yet (use it inside a test)`);
      return started[field as keyof T];
    },
  });
}

export function useEngine(h: { readonly nats: TestNats }, options: EngineOptions = {}): UsedEngine {
  return useStarted(
    "useEngine()",
    async () => {
      const nc = await h.nats.connect();
      return { nc, engine: await createEngine(nc, options) };
    },
    async ({ nc, engine }) => {
      await engine.close();
      await nc.close();
    },
  );
}

/**
 * Cancels job `id` in its journal only, without the notice a cancel sends to the worker running it:
 * its handler goes on and reports later, as when a cancel and the handler's end cross.
 */
export async function cancelWithoutNotice(engine: Engine, id: string): Promise<void> {
  await waitFor(async () => {
    const loc = await engine.svc.locator.locate(id);
    if (!loc) throw new Error(`job ${id} not found`);
    const op = { op: "cancel" as const, i: loc.idx, at: Date.now() };
    return engine.ctx.journals.append(Store.Queue, loc.at.seq, [op], loc.journal).then(
      () => true,
      (err: unknown) => {
        if (err instanceof WrongSequenceError) return false; // someone wrote meanwhile: read again
        throw err;
      },
    );
  });
}
