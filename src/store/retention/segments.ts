/**
 * Removing one segment once every job in it is gone or past its retention (decide.ts). The steps:
 *
 * 1. fold the segment's journal and follow each slot's pointers (fates.ts); decide;
 * 2. for a job that ended elsewhere as discarded, cancelled or expired (a user may still retry it),
 *    append `gone` for it there, with compare-and-set on that journal: a concurrent retry either
 *    lands first (then the job is active again and this segment stays) or finds the job gone;
 * 3. append `gone` for the whole segment with compare-and-set on the journal state the decision was
 *    made on. If anyone appended meanwhile, decide again. After it nothing applies to the segment;
 * 4. remove the side entries (dead-letter index, client id, unique key, finished workflow);
 * 5. delete the segment message;
 * 6. purge the journal after a grace period (a check of its own), so that a process that read the
 *    segment just before it went still reads `gone`, not an empty journal.
 *
 * A crash between steps leaves a state the next check finishes: a segment whose journal says gone is
 * taken through steps 4–6 again.
 */
import { Store } from "../../core/ids.js";
import { isGone } from "../journal/fold.js";
import type { JournalState } from "../journal/journal.js";
import type { GoneOp } from "../journal/journal-ops.js";
import { decideAndAppend } from "../journal/journal.js";
import type { SegmentAt } from "../segments/segment.js";
import { forgetIdleKey } from "../features/exclusive.js";
import { keyToken } from "../infra/topology.js";
import { decodeSegment } from "../segments/segment.js";
import { AGAIN, casLoop, orAgain } from "../infra/cas.js";
import type { Services } from "../infra/services.js";
import { decideRemoval } from "./decide.js";
import type { SlotFate } from "./fates.js";
import { segmentFates } from "./fates.js";
import { removeSideEntries } from "./side.js";

export type SegmentCheckResult =
  | { kind: "removed"; jobs: number; purgeJournalAt: number }
  | { kind: "recheck"; at: number }
  /** The segment is not stored (removed before); its journal may still need purging. */
  | { kind: "missing"; purgeJournalAt?: number };

export interface SegmentCheckOptions {
  flags: number;
  activeRecheckMaxMs: number;
  journalGraceMs: number;
}

const MAX_TRIES = 5;
const enc = new TextEncoder();

export function streamOfStore(svc: Services, store: Store): string {
  return store === Store.Queue ? svc.ctx.topology.streams.queue : svc.ctx.topology.streams.delay;
}

/** Looks at one segment: removes it, or says when to look again. */
export async function checkSegment(
  svc: Services,
  store: Store,
  seq: number,
  o: SegmentCheckOptions,
): Promise<SegmentCheckResult> {
  const { ctx } = svc;
  const m = await ctx.reader.get(streamOfStore(svc, store), { seq });
  if (!m) {
    if (await svc.locator.exists(store, seq)) return { kind: "recheck", at: Date.now() + 1000 };
    const j = await ctx.reader.get(ctx.topology.streams.journal, {
      lastBySubject: ctx.subjects.journal(store, seq),
    });
    return j ? { kind: "missing", purgeJournalAt: Date.now() + o.journalGraceMs } : { kind: "missing" };
  }
  let at: SegmentAt;
  try {
    at = { store, seq, seg: decodeSegment(m.data) };
  } catch {
    return { kind: "recheck", at: Date.now() + o.activeRecheckMaxMs }; // not a segment: never ours to delete
  }
  return casLoop(
    async () => {
      const journal = await ctx.journals.read(store, seq, at.seg.jobs.length);
      if (journal.lastSeq > 0 && journal.slots.every(isGone)) return finish(svc, at, undefined, o);
      const now = Date.now();
      const fates = await segmentFates(svc, at, journal.slots, {
        nowMs: now,
        flags: o.flags,
        activeRecheckMaxMs: o.activeRecheckMaxMs,
      });
      const d = decideRemoval(
        fates.map((f) => f.fate),
        now,
      );
      if (!d.remove) return { kind: "recheck", at: d.checkAt };
      if (!(await markElsewhere(svc, fates, now))) return AGAIN;
      if (!(await markGone(svc, at, journal, now))) return AGAIN;
      return finish(svc, at, fates, o);
    },
    { tries: MAX_TRIES, exhausted: () => ({ kind: "recheck", at: Date.now() + 1000 }) },
  );
}

/** Step 2: `gone` where a revivable job ended, if it is still as we saw it. */
async function markElsewhere(svc: Services, fates: readonly SlotFate[], now: number): Promise<boolean> {
  for (const f of fates) {
    const e = f.elsewhere;
    if (!e) continue;
    const target = await svc.locator.segment(e.store, e.seq);
    if (!target) continue; // removed meanwhile: the job with it
    const r = await decideAndAppend(svc.ctx.journals, e.store, e.seq, target.seg.jobs.length, (_j, slots) => {
      const s = slots[e.idx];
      if (!s || isGone(s)) return { ops: [], value: true };
      const o = s.outcome;
      const unchanged =
        o !== undefined && o.kind !== "move" && o.kind !== "done" && "at" in o && o.at === e.at;
      return { ops: unchanged ? [{ op: "gone", i: e.idx, at: now }] : [], value: unchanged };
    });
    if (!r.value) return false; // retried (or changed) since we looked: decide again
  }
  return true;
}

/**
 * Step 3: `gone` for the whole segment, on exactly the journal the decision was made on. Written as a
 * plain entry (never a snapshot of the slots, which may hold large results and serves nobody now).
 */
async function markGone(svc: Services, at: SegmentAt, journal: JournalState, now: number): Promise<boolean> {
  const ops: GoneOp[] = [{ op: "gone", i: -1, at: now }];
  const entry = journal.base > 0 ? { ops, base: journal.base } : { ops };
  const written = await orAgain(
    svc.ctx.publisher.publish(svc.ctx.subjects.journal(at.store, at.seq), enc.encode(JSON.stringify(entry)), {
      expectedLastSubjectSeq: journal.lastSeq,
    }),
  );
  return written !== AGAIN;
}

/** Steps 4 and 5; step 6 is returned as a purge time for the caller to schedule. */
async function finish(
  svc: Services,
  at: SegmentAt,
  fates: readonly SlotFate[] | undefined,
  o: SegmentCheckOptions,
): Promise<SegmentCheckResult> {
  await removeSideEntries(svc, at, fates);
  try {
    await svc.ctx.jsm.streams.deleteMessage(streamOfStore(svc, at.store), at.seq, false);
  } catch (err) {
    if (await svc.locator.exists(at.store, at.seq)) throw err;
  }
  svc.locator.forget(at.store, at.seq);
  // The last segment of an exclusive key's waiting line: the key's record goes with it when idle.
  const xkey = at.store === Store.Delay && at.seg.due === undefined ? at.seg.jobs[0]?.xkey : undefined;
  if (xkey !== undefined && !svc.ctx.sequencer) await forgetIdleKey(svc, keyToken(xkey));
  return { kind: "removed", jobs: at.seg.jobs.length, purgeJournalAt: Date.now() + o.journalGraceMs };
}

/** Step 6: purges a removed segment's journal (only once the segment itself is gone). */
export async function purgeJournal(svc: Services, store: Store, seq: number): Promise<"purged" | "kept"> {
  if (await svc.locator.exists(store, seq)) return "kept";
  await svc.ctx.jsm.streams.purge(svc.ctx.topology.streams.journal, {
    filter: svc.ctx.subjects.journal(store, seq),
  });
  return "purged";
}
