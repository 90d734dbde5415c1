/**
 * How both worker kinds (worker.ts, identity-worker.ts) emit their events: a listener that throws
 * cannot break the worker, and an `error` nobody listens to is logged instead of thrown (Node's
 * EventEmitter throws an unheard `error`). Also what both read from a queue's cancel subject.
 */
import type { EventEmitter } from "node:events";

import type { Logger } from "../core/logger.js";
import type { WorkerEvents } from "./types.js";

/** Emits one worker event. */
export type WorkerEmit = <K extends keyof WorkerEvents>(name: K, ...args: WorkerEvents[K]) => void;

/** The worker's `emit` over its emitter. */
export function workerEmit(emitter: EventEmitter, logger: Logger): WorkerEmit {
  return (name, ...args) => {
    if (name === "error" && emitter.listenerCount("error") === 0) {
      const e = args[0];
      logger.warn("worker error", { error: e instanceof Error ? e.message : JSON.stringify(e) });
      return;
    }
    try {
      emitter.emit(name, ...args);
    } catch (err) {
      logger.warn("event listener threw", { event: name, error: String(err) });
    }
  };
}

const dec = new TextDecoder();

/** The job id of a cancel notice (`{"id": …}`), or undefined when the message is not one. */
export function cancelNoticeId(data: Uint8Array): string | undefined {
  try {
    const { id } = JSON.parse(dec.decode(data)) as { id?: unknown };
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined; // not a cancel notice
  }
}
