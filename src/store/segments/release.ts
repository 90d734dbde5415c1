/**
 * What the holder of a segment delivery does with it when it is done: ack (every job reached an
 * outcome), nak at once (jobs left for someone else to claim), nak with a delay (jobs leased to HTTP
 * workers: come back when the earliest lease ends, to reclaim it if it ran out), or keep holding (its
 * own jobs still run). Only the holder of the current delivery may nak; any process may ack a segment
 * whose jobs are all resolved (an ack on an older delivery's subject acks the message too).
 */
import type { NatsConnection } from "@nats-io/nats-core";

import { ack, nak } from "../../nats/pull.js";
import type { JobSpec } from "../../core/envelope.js";
import type { Slot } from "../journal/fold.js";
import { hasLiveLease, isClaimable, isResolved } from "../journal/fold.js";

/**
 * `leave`: neither ack nor nak, so the delivery runs out after the consumer's ack wait unless another
 * process renews or acks the message (see `isDeliveryClaim`).
 */
export type ReleaseDecision =
  { kind: "ack" } | { kind: "nak"; delayMs: number } | { kind: "hold" } | { kind: "leave" };

/**
 * @param ownRunning slots this holder is still running (never released while running)
 * @param jobs the segment's jobs: an HTTP claim with `timeout_ms` is looked at again when that runs
 *   out (its attempt then fails with `timeout`), not only when its lease does
 */
export function decideRelease(
  slots: readonly Slot[],
  nowMs: number,
  ownRunning: ReadonlySet<number> = new Set(),
  jobs?: readonly JobSpec[],
): ReleaseDecision {
  if (slots.every(isResolved)) return { kind: "ack" };
  if (ownRunning.size > 0) return { kind: "hold" };
  let earliest = Infinity;
  for (const [i, s] of slots.entries()) {
    if (isResolved(s)) continue;
    if (hasLiveLease(s, nowMs)) {
      const c = s.claim!;
      const timeoutMs = jobs?.[i]?.timeoutMs;
      earliest = Math.min(earliest, c.dl!, timeoutMs === undefined ? Infinity : c.at + timeoutMs);
    } else if (isClaimable(s, nowMs)) return { kind: "nak", delayMs: 0 };
  }
  if (earliest === Infinity) return { kind: "nak", delayMs: 0 };
  return { kind: "nak", delayMs: Math.max(1, earliest - nowMs + 25) };
}

export function applyRelease(nc: NatsConnection, ackSubject: string, d: ReleaseDecision): void {
  if (d.kind === "ack") ack(nc, ackSubject);
  else if (d.kind === "nak") nak(nc, ackSubject, d.delayMs);
}

/** After an outcome written outside a delivery (HTTP ack/nack/cancel): ack the segment if it is finished. */
export function ackIfFinished(
  nc: NatsConnection,
  slots: readonly Slot[],
  ackSubject: string | undefined,
): void {
  if (ackSubject !== undefined && slots.every(isResolved)) ack(nc, ackSubject);
}
