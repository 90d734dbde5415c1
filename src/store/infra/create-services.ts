/**
 * Opens the store's services on one connection ({@link Services}): locator, producer, counters and the
 * outcome listeners every process runs (exclusive keys are released by whoever records a holder's
 * final outcome). Kept apart from services.ts so the features that take a `Services` (exclusive keys,
 * moves, ...) do not import their own wiring.
 */
import type { StoreContext } from "./context.js";
import type { Counters } from "../queues/counters.js";
import { createCounters, CounterField } from "../queues/counters.js";
import { exclusiveOutcomeListener } from "../features/exclusive.js";
import { createLocator } from "../jobs/locator.js";
import type { Producer } from "../segments/producer.js";
import { createProducer } from "../segments/producer.js";
import { createSchemaRegistry } from "../schemas/schema-registry.js";
import type { OutcomeKind, OutcomeNote, Services, ServicesOptions } from "./services.js";

export function createServices(ctx: StoreContext, o: ServicesOptions = {}): Services {
  const locator = createLocator(ctx);
  const counters = createCounters(ctx.buckets.stats, { nc: ctx.nc, bucket: ctx.topology.buckets.stats });
  const producer = countingEnqueues(createProducer(ctx, o.producer), counters);
  const listeners: Array<(notes: OutcomeNote[]) => Promise<void> | void> = [];
  const inFlight = new Set<Promise<void>>();
  const onError = o.onError ?? (() => undefined);
  // Its watch starts with the first enqueue or registry call, so workers that never enqueue pay nothing.
  const schemas = createSchemaRegistry(ctx.buckets.schemas, {
    onError,
    ...(o.schemaValidation === undefined ? {} : { mode: o.schemaValidation }),
  });
  const fields: Partial<Record<OutcomeKind, CounterField>> = {
    completed: CounterField.Completed,
    discarded: CounterField.Discarded,
    cancelled: CounterField.Cancelled,
    expired: CounterField.Expired,
    retrying: CounterField.Retried,
  };
  void ctx.queues.watch().catch(onError);
  const svc: Services = {
    ctx,
    locator,
    producer,
    counters,
    schemas,
    noteOutcomes(notes) {
      if (notes.length === 0) return;
      for (const n of notes) {
        const f = fields[n.kind];
        if (f) counters.add(n.at.seg.q, f);
      }
      for (const l of listeners) {
        const p = Promise.resolve()
          .then(() => l(notes))
          .catch(onError)
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    },
    reportError(err) {
      onError(err);
    },
    onOutcomes(listener) {
      listeners.push(listener);
    },
    async close() {
      await producer.flush();
      await Promise.allSettled([...inFlight]);
      await counters.close();
      schemas.close();
    },
  };
  // Exclusive keys are released by whoever records a holder's final outcome, in every process.
  svc.onOutcomes(exclusiveOutcomeListener(svc));
  return svc;
}

/**
 * Counts stored jobs per queue (`enqueued`): with the finished counts it gives a queue's depth without
 * reading its jobs (backpressure.ts). Every new job goes through the producer: enqueues, workflow
 * steps, cron firings.
 */
function countingEnqueues(p: Producer, counters: Counters): Producer {
  return {
    async enqueue(items, opts) {
      const placed = await p.enqueue(items, opts);
      for (const n of items) counters.add(n.queue, CounterField.Enqueued);
      return placed;
    },
    flush: () => p.flush(),
  };
}
