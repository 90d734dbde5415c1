/**
 * What a running NATS-direct worker (worker.ts) holds: one object that its parts read and change,
 * starting and stopping (worker-start.ts) and choosing the lanes to pull from (lanes.ts).
 */
import { EventEmitter } from "node:events";

import type { NatsConnection, Subscription } from "@nats-io/nats-core";

import { uuidv7 } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { createLogger } from "../core/logger.js";
import type { PullLoop } from "../nats/pull.js";
import type { StoreContext } from "../store/infra/context.js";
import type { Services } from "../store/infra/services.js";
import type { WorkerEmit } from "./emit.js";
import { workerEmit } from "./emit.js";
import type { Presence } from "./presence.js";
import type { SegmentRunner } from "./segments.js";
import type { WorkerOptions } from "./types.js";

/** One priority lane of one queue, with its pull. */
export interface Lane {
  queue: string;
  priority: number;
  /** "busy": it had more messages; "empty": it had none; "unknown": not asked yet. */
  state: "unknown" | "busy" | "empty";
  loop: PullLoop;
}

/** One worker's state. The store parts are set once `ready` got that far. */
export interface WorkerState {
  id: string;
  options: WorkerOptions;
  logger: Logger;
  queues: string[];
  concurrency: number;
  prefetch: number;
  emitter: EventEmitter;
  emit: WorkerEmit;
  /** Lanes by `queue|priority`, of each queue from the highest priority down. */
  loops: Map<string, Lane>;
  runner: SegmentRunner | undefined;
  ctx: StoreContext | undefined;
  svc: Services | undefined;
  nc: NatsConnection | undefined;
  /** The worker connected itself (given a URL), so it drains the connection on close. */
  ownConnection: boolean;
  cancelSub: Subscription | undefined;
  presence: Presence | undefined;
  closing: Promise<void> | undefined;
  /** Stops connection attempts when the worker is closed before it connected. */
  stopConnecting: AbortController;
  /**
   * `pump(state)` (lanes.ts), made once: the runner and every pull call it, so no closure is made
   * per job or per delivery.
   */
  pump: () => void;
}

/** A worker's state before it connects; `pump` is set by the caller (lanes.ts imports this file). */
export function newWorkerState(options: WorkerOptions): WorkerState {
  const id = options.workerId ?? `worker-${uuidv7().slice(-12)}`;
  const logger = (options.logger ?? createLogger()).child({ worker_id: id });
  const emitter = new EventEmitter();
  return {
    id,
    options,
    logger,
    queues: options.queues ?? ["default"],
    concurrency: Math.max(1, options.concurrency ?? 10),
    prefetch: Math.max(0, options.prefetch ?? 1024),
    emitter,
    emit: workerEmit(emitter, logger),
    loops: new Map(),
    runner: undefined,
    ctx: undefined,
    svc: undefined,
    nc: undefined,
    ownConnection: false,
    cancelSub: undefined,
    presence: undefined,
    closing: undefined,
    stopConnecting: new AbortController(),
    pump: () => undefined,
  };
}
