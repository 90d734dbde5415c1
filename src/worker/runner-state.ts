/**
 * What the parts of the segment runner (segments.ts) share: its dependencies, a held segment
 * delivery ({@link Held}) and a claimed job waiting for a free slot ({@link Waiting}).
 */
import type { NatsConnection } from "@nats-io/nats-core";

import type { Logger } from "../core/logger.js";
import type { JobEvent } from "../store/jobs/events.js";
import type { JournalState } from "../store/journal/journal.js";
import type { DoneOp, FailOp, JournalOp, RequeueOp, StartOp } from "../store/journal/journal-ops.js";
import { emptyJournal } from "../store/journal/journal.js";
import type { SegmentAt } from "../store/segments/segment.js";
import type { Services } from "../store/infra/services.js";
import type { Handlers } from "./execute.js";
import type { WorkerEvents, WorkerStats } from "./types.js";

export interface SegmentRunnerDeps {
  svc: Services;
  nc: NatsConnection;
  workerId: string;
  handlers: Handlers;
  concurrency: number;
  prefetch: number;
  rebalanceAfterMs: number;
  logger: Logger;
  emit: <K extends keyof WorkerEvents>(name: K, ...args: WorkerEvents[K]) => void;
  /** Whether anyone listens to a worker event (per-job events are built only then). */
  listening: (name: keyof WorkerEvents) => boolean;
  /** Called whenever capacity frees up (the worker pulls more). */
  onCapacity: () => void;
  leaseMs: number;
  /** How long a job may go without any worker having its handler (unhandled.ts). @defaultValue 1 h */
  unhandledJobTimeoutMs?: number;
  /**
   * The most slots one queue's jobs may hold (running, waiting or being claimed), so that a queue
   * whose handlers hang cannot starve the worker's other queues. @defaultValue `concurrency`
   */
  queueCap?: (queue: string) => number;
}

/** The deps with the store's context and locator at hand. */
export type RunnerDeps = SegmentRunnerDeps & Pick<Services, "ctx" | "locator">;

/** The runner's counts are the worker's (`worker.stats()` copies them). */
export type RunnerStats = WorkerStats;

/** Counts of a worker that has run nothing yet. */
export function noStats(): WorkerStats {
  return { running: 0, completed: 0, failed: 0, lost: 0, segmentsHeld: 0 };
}

/** The ops that end an attempt: what the executor counts and reports once they are settled. */
export type OutcomeOp = DoneOp | FailOp | RequeueOp;

export interface Held {
  at: SegmentAt;
  ack: string;
  /** The journal as we know it (we hold the delivery, so normally nobody else appends). */
  journal: JournalState;
  running: Set<number>;
  queued: number;
  pending: JournalOp[];
  afters: Array<() => Promise<void>>;
  events: JobEvent[];
  /**
   * What to do once a failure or requeue op is stored (a `done` needs nothing kept: see the
   * executor's `settled`). Counts and worker events come from there, so they say what was stored,
   * not what a handler returned.
   */
  settled: Map<OutcomeOp, () => void>;
  /**
   * Jobs taken over from a worker that lost the delivery: index → attempt. Their handler runs only
   * once their `start` is stored (see segments.ts).
   */
  aheads: Map<number, number>;
  flushing: boolean;
  /**
   * Starts of running jobs not written yet: they go out on the next turn of the event loop (see
   * `flushSoon`), and a job that ends before that carries its start in its outcome instead.
   */
  starts: Map<number, StartOp>;
  /** A flush is scheduled for the next turn of the event loop (see `flushSoon`). */
  flushQueued: boolean;
  released: boolean;
}

export function newHeld(at: SegmentAt, ack: string): Held {
  return {
    at,
    ack,
    journal: emptyJournal(0),
    running: new Set(),
    queued: 0,
    pending: [],
    afters: [],
    events: [],
    settled: new Map(),
    aheads: new Map(),
    starts: new Map(),
    flushing: false,
    flushQueued: false,
    released: false,
  };
}

export interface Waiting {
  h: Held;
  i: number;
  a: number;
  since: number;
  /** Record the start before the handler runs (a job taken over from a lost delivery). */
  ahead: boolean;
  /**
   * Its last attempt was lost while it ran: it may be what killed its worker. Such jobs run one at a
   * time in this worker, so a job that kills workers cannot take another suspect down with it.
   */
  suspect: boolean;
}
