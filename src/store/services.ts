/**
 * The store's services on one connection, shared by the API engine, the worker and the NATS client:
 * locator, producer, counters, and the outcome hook. Every writer that appends outcomes to a journal
 * reports them here afterwards (counters, workflow progress); a crash before that only delays
 * workflow progress until the reconciler runs, and never changes a job.
 */
import type { StoreContext } from "./context.js";
import type { Counters } from "./counters.js";
import { createCounters, CounterField } from "./counters.js";
import { exclusiveOutcomeListener } from "./exclusive.js";
import type { JournalOp } from "./journal.js";
import type { Locator } from "./locator.js";
import { createLocator } from "./locator.js";
import type { Producer, ProducerOptions } from "./producer.js";
import { createProducer } from "./producer.js";
import type { SegmentAt } from "./segment.js";

export type OutcomeKind = "completed" | "discarded" | "cancelled" | "expired" | "retrying" | "moved";

export interface OutcomeNote {
  at: SegmentAt;
  idx: number;
  kind: OutcomeKind;
  result?: unknown;
}

export interface Services {
  ctx: StoreContext;
  locator: Locator;
  producer: Producer;
  counters: Counters;
  /** Reports outcomes appended to a journal. Never throws; listeners run in the background. */
  noteOutcomes(notes: OutcomeNote[]): void;
  /** Reports a background failure to the owner's error handler. */
  reportError(err: unknown): void;
  /** Adds a listener for outcomes (the workflow engine). */
  onOutcomes(listener: (notes: OutcomeNote[]) => Promise<void> | void): void;
  close(): Promise<void>;
}

export interface ServicesOptions {
  producer?: ProducerOptions;
  onError?: (err: unknown) => void;
}

export function createServices(ctx: StoreContext, o: ServicesOptions = {}): Services {
  const locator = createLocator(ctx);
  const producer = createProducer(ctx, o.producer);
  const counters = createCounters(ctx.buckets.stats, { nc: ctx.nc, bucket: ctx.topology.buckets.stats });
  const listeners: Array<(notes: OutcomeNote[]) => Promise<void> | void> = [];
  const inFlight = new Set<Promise<void>>();
  const onError = o.onError ?? (() => undefined);
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
    },
  };
  // Exclusive keys are released by whoever records a holder's final outcome, in every process.
  svc.onOutcomes(exclusiveOutcomeListener(svc));
  return svc;
}

/** The outcomes a batch of journal ops records (for {@link Services.noteOutcomes}). */
export function outcomesOf(at: SegmentAt, ops: readonly JournalOp[]): OutcomeNote[] {
  const notes: OutcomeNote[] = [];
  for (const op of ops) {
    switch (op.op) {
      case "done":
        notes.push({ at, idx: op.i, kind: "completed", result: op.res });
        break;
      case "fail":
        notes.push({ at, idx: op.i, kind: op.out === "retry" ? "retrying" : "discarded" });
        break;
      case "cancel":
        notes.push({ at, idx: op.i, kind: "cancelled" });
        break;
      case "expire":
        notes.push({ at, idx: op.i, kind: "expired" });
        break;
      default:
        break;
    }
  }
  return notes;
}
