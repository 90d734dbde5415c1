/**
 * The producer's rebalancing (producer.ts): claimed jobs that waited longer than `rebalanceAfterMs`
 * for a free slot are handed back to new segments, so other workers can run them. A module function
 * over the producer's state (claim-segment.ts).
 */
import { Store } from "../core/ids.js";
import { decideAndAppend } from "../store/journal/journal.js";
import type { ProducerState } from "./claim-segment.js";
import { handOff } from "./claim-segment.js";
import type { Held, Waiting } from "./runner-state.js";

/** A waiting job to hand back: its index and attempt, and how it waited (to queue it again). */
export interface StaleJob {
  i: number;
  a: number;
  ahead: boolean;
  suspect: boolean;
}

/** The waiting jobs of `stale`, by the segment delivery that holds them, in the order they came. */
export function bySegment(stale: readonly Waiting[]): Map<Held, StaleJob[]> {
  const out = new Map<Held, StaleJob[]>();
  for (const w of stale) {
    let list = out.get(w.h);
    if (!list) out.set(w.h, (list = []));
    list.push({ i: w.i, a: w.a, ahead: w.ahead, suspect: w.suspect });
  }
  return out;
}

/** Hands back claimed jobs that waited too long for a free slot (see `rebalanceAfterMs`). */
export async function rebalance(p: ProducerState): Promise<void> {
  const { d, slots } = p;
  const cutoff = Date.now() - d.rebalanceAfterMs;
  const stale = slots.waiting.filter((w) => w.since <= cutoff);
  if (stale.length === 0 || p.isDraining()) return;
  for (const w of stale) slots.unwait(slots.waiting.indexOf(w));
  for (const [h, jobs] of bySegment(stale)) {
    await handBack(p, h, jobs);
    p.holdings.maybeRelease(h);
  }
  d.onCapacity();
}

/** Hands back one segment's stale jobs; if that cannot be written they wait again (or go back unstarted). */
async function handBack(p: ProducerState, h: Held, jobs: StaleJob[]): Promise<void> {
  const { d, slots } = p;
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
        const moved = still.length > 0 ? await handOff(p, h.at, journal, slotList, still, now) : { ops: [] };
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
      // Stopping meanwhile: give them back unstarted instead (see claimSegment()).
      if (p.isDraining()) h.pending.push({ op: "requeue", i, a, at: Date.now(), u: 1 });
      else slots.wait({ h, i, a, since: Date.now(), ahead, suspect });
    }
    if (h.pending.length > 0) void p.completer.flush(h);
  }
}
