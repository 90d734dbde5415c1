/**
 * The events of an attempt's outcome, one definition for both doors: HTTP ack/nack
 * (store/jobs/operations.ts) and NATS-direct workers (worker/segments.ts). Pure.
 */
import type { JobEvent } from "./events.js";
import { EventType, event } from "./events.js";
import type { SegmentAt } from "../segments/segment.js";

export interface AttemptInfo {
  /** The attempt. */
  a: number;
  /** When its handler started (the duration is measured from it). */
  startedAt: number;
  /** The worker that ran it. */
  worker: string;
}

/** `job.completed`, with the attempt's duration and worker. */
export function completedEvents(at: SegmentAt, i: number, nowMs: number, t: AttemptInfo): JobEvent[] {
  return [{ ...event(at, i, EventType.Completed, nowMs, t.a), d: nowMs - t.startedAt, w: t.worker }];
}

/** `job.failed` (duration, worker, error code), then `job.retrying` or `job.discarded`. */
export function failedEvents(
  at: SegmentAt,
  i: number,
  nowMs: number,
  t: AttemptInfo,
  code: string,
  retrying: boolean,
): JobEvent[] {
  return [
    { ...event(at, i, EventType.Failed, nowMs, t.a, code), d: nowMs - t.startedAt, w: t.worker },
    event(at, i, retrying ? EventType.Retrying : EventType.Discarded, nowMs, t.a, code),
  ];
}
