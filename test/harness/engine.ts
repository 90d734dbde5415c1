/**
 * One engine over the test nats-server for a `describe` block: `useEngine(h)` registers the before
 * hook (a connection and `createEngine` on it) and the after hook (closed in reverse), and answers
 * getters for both, readable inside the tests.
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

export function useEngine(h: { readonly nats: TestNats }, options: EngineOptions = {}): UsedEngine {
  let started: { nc: NatsConnection; engine: Engine } | undefined;
  before(async () => {
    const nc = await h.nats.connect();
    started = { nc, engine: await createEngine(nc, options) };
  });
  after(async () => {
    if (!started) return;
    await started.engine.close();
    await started.nc.close();
  });
  const get = () => {
    if (!started) throw new Error("useEngine(): not started yet (use it inside a test)");
    return started;
  };
  return {
    get nc() {
      return get().nc;
    },
    get engine() {
      return get().engine;
    },
  };
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
