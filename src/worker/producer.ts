/**
 * The segment runner's producer: takes a delivered segment and claims (reserves) every runnable job
 * in one journal append (the HTTP door's claim rules, store/segments/claims.ts), hands jobs beyond its free
 * slots plus `prefetch` to new segments, hands back jobs without a handler here (unhandled.ts), and
 * every so often hands back claimed jobs that waited longer than `rebalanceAfterMs` for a slot.
 * Claiming is claim-segment.ts (with the producer's state, {@link ProducerState}), handing back
 * rebalance.ts.
 */
import { Store } from "../core/ids.js";
import type { Delivery } from "../nats/pull.js";
import { applyRelease } from "../store/segments/release.js";
import type { SegmentAt } from "../store/segments/segment.js";
import { decodeSegment } from "../store/segments/segment.js";
import type { ProducerState } from "./claim-segment.js";
import { claimSegment } from "./claim-segment.js";
import type { Completer } from "./completer.js";
import type { Holdings } from "./lease.js";
import { rebalance } from "./rebalance.js";
import type { RunnerDeps } from "./runner-state.js";
import { newHeld } from "./runner-state.js";
import type { Slots } from "./slots.js";

export interface Producer {
  /** Takes a delivered segment; false when it was given back at once (no capacity, or draining). */
  accept(d: Delivery): Promise<boolean>;
  /** Stops the rebalance timer. */
  stop(): void;
}

export function createProducer(
  d: RunnerDeps,
  parts: { holdings: Holdings; slots: Slots; completer: Completer; isDraining: () => boolean },
): Producer {
  const p: ProducerState = { d, ...parts, unhandledTypes: new Set(), rebalancing: false };
  const rebalanceTimer = setInterval(
    () => {
      if (p.rebalancing || p.slots.waiting.length === 0) return;
      p.rebalancing = true;
      void rebalance(p).finally(() => (p.rebalancing = false));
    },
    Math.max(50, Math.floor(d.rebalanceAfterMs / 2)),
  );
  rebalanceTimer.unref();
  return {
    accept: (delivery) => accept(p, delivery),
    stop() {
      clearInterval(rebalanceTimer);
    },
  };
}

/** Holds a delivered segment and claims its jobs, or gives it back at once (see {@link Producer}). */
async function accept(p: ProducerState, delivery: Delivery): Promise<boolean> {
  const { d, holdings, slots } = p;
  const seq = delivery.info.streamSeq;
  const existing = holdings.held.get(seq);
  if (existing) {
    // Redelivered while we still run it (our renewal was late): keep going on the new delivery.
    existing.ack = delivery.ackSubject;
    return true;
  }
  if (p.isDraining() || slots.free() <= 0) {
    applyRelease(d.nc, delivery.ackSubject, { kind: "nak", delayMs: 0 });
    return false;
  }
  let at: SegmentAt;
  try {
    at = { store: Store.Queue, seq, seg: decodeSegment(delivery.data) };
  } catch {
    d.logger.warn("dropping a message that is not a segment", { subject: delivery.subject, seq });
    applyRelease(d.nc, delivery.ackSubject, { kind: "ack" });
    return true;
  }
  if (slots.freeFor(at.seg.q) <= 0 || slots.isPaused(at.seg.q)) {
    // Its queue has used up its share of the slots (see `queueCap`), or was paused: not now.
    applyRelease(d.nc, delivery.ackSubject, { kind: "nak", delayMs: 0 });
    return false;
  }
  d.locator.remember(at);
  const h = newHeld(at, delivery.ackSubject);
  holdings.hold(h);
  // Counted against free slots from now on, so the worker can ask for its next segment while these
  // claims are written (no idle round trip between segments) without asking for more than it can run.
  const counted = Math.min(at.seg.jobs.length, Math.max(0, slots.freeFor(at.seg.q)));
  slots.claiming(at.seg.q, counted);
  try {
    await claimSegment(p, h, delivery.info.deliveryCount === 1, counted);
  } catch (err) {
    d.emit("error", err instanceof Error ? err : new Error(String(err)));
    if (!h.released && h.running.size === 0 && h.queued === 0)
      holdings.release(h, { kind: "nak", delayMs: 1000 });
  } finally {
    slots.claiming(at.seg.q, -counted);
  }
  return true;
}
