/**
 * The segment runner's producer: takes a delivered segment and claims (reserves) every runnable job
 * in one journal append (the HTTP door's claim rules, store/segments/claims.ts), hands jobs beyond its free
 * slots plus `prefetch` to new segments, hands back jobs without a handler here (unhandled.ts), and
 * every so often hands back claimed jobs that waited longer than `rebalanceAfterMs` for a slot.
 */
import { Store } from "../core/ids.js";
import type { Delivery } from "../nats/pull.js";
import { stepClaims } from "../store/segments/claim-step.js";
import { claimOps, handOffEntry } from "../store/segments/claims.js";
import { emitEvents } from "../store/jobs/events.js";
import type { Slot } from "../store/journal/fold.js";
import type { JournalState } from "../store/journal/journal.js";
import { decideAndAppend } from "../store/journal/journal.js";
import { handOffJobs } from "../store/segments/moves.js";
import { applyRelease, decideRelease } from "../store/segments/release.js";
import type { SegmentAt } from "../store/segments/segment.js";
import { decodeSegment } from "../store/segments/segment.js";
import { outcomesOf } from "../store/infra/services.js";
import { POINTER_RETRY_MS } from "../store/segments/validate.js";
import type { Completer } from "./completer.js";
import type { Holdings } from "./lease.js";
import type { Held, RunnerDeps } from "./runner-state.js";
import { newHeld } from "./runner-state.js";
import type { Slots } from "./slots.js";
import { DEFAULT_UNHANDLED_JOB_TIMEOUT_MS, planUnhandled } from "./unhandled.js";

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
  const { holdings, slots, completer, isDraining } = parts;

  let rebalancing = false;
  const rebalanceTimer = setInterval(
    () => {
      if (rebalancing || slots.waiting.length === 0) return;
      rebalancing = true;
      void rebalance().finally(() => (rebalancing = false));
    },
    Math.max(50, Math.floor(d.rebalanceAfterMs / 2)),
  );
  rebalanceTimer.unref();

  /** Types this worker was given jobs of without a handler: said once each in the log. */
  const unhandledTypes = new Set<string>();
  function noteUnhandled(at: SegmentAt, plans: Array<{ i: number }>): void {
    for (const p of plans) {
      const type = at.seg.jobs[p.i]!.type;
      if (unhandledTypes.has(type)) continue;
      unhandledTypes.add(type);
      d.logger.warn("no handler for a job type; handing such jobs back for other workers", {
        type,
        queue: at.seg.q,
        handlers: Object.keys(d.handlers),
      });
    }
  }

  async function accept(delivery: Delivery): Promise<boolean> {
    const seq = delivery.info.streamSeq;
    const existing = holdings.held.get(seq);
    if (existing) {
      // Redelivered while we still run it (our renewal was late): keep going on the new delivery.
      existing.ack = delivery.ackSubject;
      return true;
    }
    if (isDraining() || slots.free() <= 0) {
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
      await claim(h, delivery.info.deliveryCount === 1, counted);
    } catch (err) {
      d.emit("error", err instanceof Error ? err : new Error(String(err)));
      if (!h.released && h.running.size === 0 && h.queued === 0)
        holdings.release(h, { kind: "nak", delayMs: 1000 });
    } finally {
      slots.claiming(at.seg.q, -counted);
    }
    return true;
  }

  /** Decides and appends the claims (and expiries, splits) for a newly held segment. */
  async function claim(h: Held, firstDelivery: boolean, counted: number): Promise<void> {
    const { at } = h;
    const r = await decideAndAppend(
      d.ctx.journals,
      Store.Queue,
      at.seq,
      at.seg.jobs.length,
      async (journal, slotList, now) => {
        const hold = Math.max(0, slots.freeFor(at.seg.q) + counted + d.prefetch);
        const step = await stepClaims(d.svc, { at, journal, slots: slotList }, now, {
          firstDelivery,
          validate: hold,
        });
        const ops = step.ops;
        // Jobs this worker has no handler for go back for others, uncounted (unhandled.ts).
        const unhandled = step.runnable.filter((p) => !d.handlers[at.seg.jobs[p.i]!.type]);
        if (unhandled.length > 0) {
          step.runnable = step.runnable.filter((p) => d.handlers[at.seg.jobs[p.i]!.type]);
          noteUnhandled(at, unhandled);
          const u = await planUnhandled(d.svc, { at, journal, slots: slotList }, unhandled, now, {
            workerId: d.workerId,
            timeoutMs: d.unhandledJobTimeoutMs ?? DEFAULT_UNHANDLED_JOB_TIMEOUT_MS,
          });
          ops.push(...u.ops);
          step.events.push(...u.events);
          step.afters.push(...u.afters);
        }
        for (const p of step.runnable) ops.push(...claimOps(p, { w: d.workerId, at: now }));
        if (step.rest.length > 0) {
          const moved = await handOff(
            at,
            journal,
            slotList,
            step.rest.map((p) => handOffEntry(p, now)),
            now,
          );
          ops.push(...moved.ops);
          if (moved.after) step.afters.push(moved.after);
        }
        return { ops, value: { step, now, ops } };
      },
      { optimisticEmpty: firstDelivery },
    );
    h.journal = r.journal;
    const { step, now, ops } = r.value;
    d.svc.noteOutcomes(outcomesOf(at, ops));
    if (!r.appended) {
      holdings.release(
        h,
        step.leave
          ? { kind: "leave" }
          : step.wait
            ? { kind: "nak", delayMs: POINTER_RETRY_MS }
            : decideRelease(r.slots, now, undefined, at.seg.jobs),
      );
      return;
    }
    for (const after of step.afters) {
      await after().catch((e: unknown) => d.logger.warn("pointer update failed", { error: String(e) }));
    }
    for (const p of step.runnable) {
      if (isDraining()) {
        // The worker began to stop while this claim was being written: give the jobs back unstarted
        // (drain() has already handed back the waiting list, so queuing them would hold it forever).
        h.pending.push({ op: "requeue", i: p.i, a: p.a, at: Date.now(), u: 1 });
        continue;
      }
      const suspect = p.takeover?.started === true;
      slots.wait({ h, i: p.i, a: p.a, since: now, ahead: p.takeover !== undefined, suspect });
    }
    if (h.pending.length > 0) void completer.flush(h);
    slots.startWaiting();
    emitEvents(d.ctx, at.seg.q, step.events);
    holdings.maybeRelease(h);
  }

  const handOff = (
    at: SegmentAt,
    journal: JournalState,
    slotList: Slot[],
    jobs: Parameters<typeof handOffJobs>[2],
    now: number,
  ) => handOffJobs(d.svc, { at, idx: 0, journal, slots: slotList }, jobs, Math.max(1, d.concurrency), now);

  /** Hands back claimed jobs that waited too long for a free slot (see `rebalanceAfterMs`). */
  async function rebalance(): Promise<void> {
    const cutoff = Date.now() - d.rebalanceAfterMs;
    const stale = slots.waiting.filter((w) => w.since <= cutoff);
    if (stale.length === 0 || isDraining()) return;
    const bySegment = new Map<Held, Array<{ i: number; a: number; ahead: boolean; suspect: boolean }>>();
    for (const w of stale) {
      slots.unwait(slots.waiting.indexOf(w));
      let list = bySegment.get(w.h);
      if (!list) bySegment.set(w.h, (list = []));
      list.push({ i: w.i, a: w.a, ahead: w.ahead, suspect: w.suspect });
    }
    for (const [h, jobs] of bySegment) {
      try {
        const r = await decideAndAppend(
          d.ctx.journals,
          Store.Queue,
          h.at.seq,
          h.at.seg.jobs.length,
          async (journal, slotList, now) => {
            // Only jobs still claimed by us for that attempt (not cancelled meanwhile) move.
            const still = jobs
              .filter(({ i, a }) => !slotList[i]!.outcome && slotList[i]!.claim?.a === a)
              .map(({ i, a }) => ({ i, a }));
            const moved = still.length > 0 ? await handOff(h.at, journal, slotList, still, now) : { ops: [] };
            return { ops: moved.ops, value: moved.after };
          },
        );
        h.journal = r.journal;
        await r.value?.().catch((e: unknown) => d.logger.warn("pointer update failed", { error: String(e) }));
      } catch (err) {
        d.logger.warn("could not hand back waiting jobs; keeping them", {
          segment: h.at.seq,
          error: String(err),
        });
        for (const { i, a, ahead, suspect } of jobs) {
          // Stopping meanwhile: give them back unstarted instead (see claim()).
          if (isDraining()) h.pending.push({ op: "requeue", i, a, at: Date.now(), u: 1 });
          else {
            slots.wait({ h, i, a, since: Date.now(), ahead, suspect });
          }
        }
        if (h.pending.length > 0) void completer.flush(h);
      }
      holdings.maybeRelease(h);
    }
    d.onCapacity();
  }

  return {
    accept,
    stop() {
      clearInterval(rebalanceTimer);
    },
  };
}
