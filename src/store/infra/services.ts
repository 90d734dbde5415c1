/**
 * The store's services on one connection, shared by the API engine, the worker and the NATS client:
 * locator, producer, counters, and the outcome hook (created by create-services.ts). Every writer that appends outcomes to a journal
 * reports them here afterwards (counters, workflow progress); a crash before that only delays
 * workflow progress until the reconciler runs, and never changes a job.
 */
import type { StoreContext } from "./context.js";
import type { Counters } from "../queues/counters.js";
import type { JournalOp } from "../journal/journal-ops.js";
import type { Locator } from "../jobs/locator.js";
import type { Producer, ProducerOptions } from "../segments/producer.js";
import type { SchemaRegistry, SchemaValidationMode } from "../schemas/schema-registry.js";
import type { SegmentAt } from "../segments/segment.js";

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
  /** Schemas of job args; enqueues are checked against them (schema-registry.ts). */
  schemas: SchemaRegistry;
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
  /** How enqueues are checked against registered schemas. @defaultValue "strict" */
  schemaValidation?: SchemaValidationMode;
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
        if (op.orphan === 1) break;
        notes.push({ at, idx: op.i, kind: "expired" });
        break;
      default:
        break;
    }
  }
  return notes;
}
