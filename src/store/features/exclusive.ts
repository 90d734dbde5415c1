/**
 * Exclusive keys: at most one job per key is active in the whole system, later jobs for the key wait
 * in enqueue order, and different keys never wait on each other.
 *
 * A job with a key is first stored in a *hold segment* on the key's own subject (`jj.dl.x.<token>`,
 * in the delay stream, no due time). The key's record in KV `jj_xkeys` names the job that holds the
 * key and a cursor: every job on the key's subject before the cursor has moved on or finished.
 * Handing the key on ({@link advanceKey}) is: find the first waiting job after the cursor, set it as
 * holder with compare-and-set, then move it into its queue lane like a promotion. So only the holder
 * is ever in a lane, and HTTP fetch and NATS-direct workers need no extra check.
 *
 * The holder keeps the key through its retries (it stays first in line) and gives it up when it
 * reaches a final state: completed, discarded (including dead-lettered and lease-expired on its last
 * attempt), cancelled or expired ({@link exclusiveOutcomeListener}). Release is a compare-and-set on
 * the holder's job id, so it happens once, and never for a job that no longer holds the key.
 *
 * An attention marker `h.<token>` exists while a key has a holder or jobs that may be waiting. It is
 * written before a job is stored, so a process that dies at any point leaves a marker behind, and the
 * scheduler leader's sweep ({@link settleKey}) finishes the work: release a finished holder, finish
 * an interrupted move, hand a free key on, and drop the marker once the key is idle. One narrow gap
 * remains: an enqueuer that dies right after storing its job, while the sweep drops that key's marker
 * between the enqueuer's marker write and its store, leaves the job waiting until the key's next job
 * arrives (whose hand-over walks the line from the cursor and finds it first).
 */
import type { JobSpec } from "../../core/envelope.js";
import { Store } from "../../core/ids.js";
import { EventType, emitEvents } from "../jobs/events.js";
import { event } from "../jobs/events.js";
import { createHandOverQueue, handOverKeys } from "./exclusive-handover.js";
import { startSequencer } from "./exclusive-sequencer.js";
import { noticeReleases } from "./exclusive-sequencer-requests.js";
import type { BackgroundTask } from "../infra/tasks.js";
import { periodicTask } from "../infra/tasks.js";
import { HOLDER_CHECK_AFTER_MS, holderStatus, keyRecords, markerKey, readKey } from "./exclusive-line.js";
import { decideAndAppend } from "../journal/journal.js";
import { deleteForGood, eraseKey, keysOf } from "../infra/kvjson.js";
import { isWrongRevision } from "../infra/cas.js";
import { homeKeyOf, movedSpec, moveMsgId, pointHome, publishSegment } from "../segments/moves.js";
import type { SegmentAt } from "../segments/segment.js";
import { jobIdAt, refKey } from "../segments/segment.js";
import type { OutcomeNote, Services } from "../infra/services.js";
import { keyToken } from "../infra/topology.js";

/**
 * Hands a free key to its first waiting job (compare-and-set), then moves that job into its lane.
 * Does nothing when the key is held or nobody waits. Safe to call from any process at any time.
 */
export async function advanceKey(svc: Services, token: string): Promise<void> {
  await handOverKeys(svc, [{ token }]);
}

/**
 * {@link advanceKey} for many keys at once: their new holders share lane segments. Resolves with the
 * ids of the jobs it moved into their lanes.
 */
export async function advanceKeys(svc: Services, tokens: Iterable<string>): Promise<Set<string>> {
  return handOverKeys(
    svc,
    [...tokens].map((token) => ({ token })),
  );
}

/** Moves the key's new holder from its hold segment into its queue lane (idempotent). */
async function moveToLane(svc: Services, at: SegmentAt, idx: number): Promise<void> {
  const { ctx } = svc;
  const r = await decideAndAppend(
    ctx.journals,
    Store.Delay,
    at.seq,
    at.seg.jobs.length,
    async (journal, slots, now) => {
      if (slots[idx]!.outcome) return { ops: [], value: undefined };
      const spec: JobSpec = movedSpec({ at, idx, journal, slots }, {});
      const target = await publishSegment(
        ctx,
        { store: Store.Queue, queue: at.seg.q, priority: at.seg.p },
        [spec],
        moveMsgId("xk", at, [idx]),
      );
      return {
        ops: [{ op: "move", i: idx, at: now, to: refKey(Store.Queue, target.seq), ti: 0 }],
        value: target,
      };
    },
  );
  const target = r.value;
  if (!r.appended || !target) return;
  const home = homeKeyOf({ at, idx, journal: r.journal, slots: r.slots });
  if (home !== `${refKey(at.store, at.seq)}.${idx}`)
    await pointHome(svc, home, refKey(Store.Queue, target.seq), 0);
  emitEvents(ctx, at.seg.q, [event(at, idx, EventType.Enqueued, Date.now(), at.seg.jobs[idx]!.attempt ?? 0)]);
}

/** Gives the key up if `jobId` holds it, then hands it on (one compare-and-set from holder to holder). */
export async function releaseKey(svc: Services, token: string, jobId: string): Promise<void> {
  await handOverKeys(svc, [{ token, releasing: jobId }]);
}

const FINAL_KINDS = new Set<OutcomeNote["kind"]>(["completed", "discarded", "cancelled", "expired"]);

/**
 * Outcome hook: a holder that finished gives its key to the next job in line. Releases are batched
 * (exclusive-handover.ts): those of one outcome write, and those arriving while a batch is handed on.
 */
export function exclusiveOutcomeListener(svc: Services): (notes: OutcomeNote[]) => Promise<void> {
  const queue = createHandOverQueue(svc);
  return async (notes) => {
    const items: Array<{ token: string; releasing: string }> = [];
    for (const n of notes) {
      if (!FINAL_KINDS.has(n.kind)) continue;
      const key = n.at.seg.jobs[n.idx]?.xkey;
      if (key === undefined) continue;
      items.push({ token: keyToken(key), releasing: jobIdAt(n.at, n.idx) });
    }
    if (svc.ctx.sequencer) {
      noticeReleases(svc, items);
      return;
    }
    await queue.add(items);
  };
}

/** Whether `jobId` holds `key` now (a retry of the holder goes back to its lane, not to the line). */
export async function holdsKey(svc: Services, key: string, jobId: string): Promise<boolean> {
  return (await readKey(svc, keyToken(key)))?.holder?.job === jobId;
}

/**
 * Repairs one key after a crash anywhere: releases a finished (or vanished) holder, finishes a holder's
 * interrupted move, hands a free key on, and drops the attention marker when the key is idle.
 */
export async function settleKey(svc: Services, token: string): Promise<void> {
  const kv = svc.ctx.buckets.xkeys;
  const holder = (await readKey(svc, token))?.holder;
  if (holder) {
    if (Date.now() - holder.since < HOLDER_CHECK_AFTER_MS) return;
    const status = await holderStatus(svc, holder.job);
    if (status.kind === "finished") await releaseKey(svc, token, holder.job);
    else if (status.kind === "in-line") await moveToLane(svc, status.loc.at, status.loc.idx);
    return;
  }
  // The marker is only needed when the key may be idle (most swept keys have a recent holder).
  const marker = await kv.get(markerKey(token));
  await advanceKey(svc, token);
  if ((await readKey(svc, token))?.holder || !marker || marker.operation !== "PUT") return;
  try {
    // Only if nobody marked the key since we read the marker (a new job may be on its way).
    await deleteForGood(kv, svc.ctx.jsm, svc.ctx.topology.buckets.xkeys, markerKey(token), marker.revision);
  } catch (err) {
    if (!isWrongRevision(err)) throw err;
  }
}

/**
 * Housekeeping removed a segment of the key's waiting line: when the line is empty and nobody holds
 * the key, its record goes (up to the revision read, so a hand-over that wrote since keeps it). A key
 * used again starts a new record, its cursor at the start of the (empty) line.
 */
export async function forgetIdleKey(svc: Services, token: string): Promise<void> {
  const { ctx } = svc;
  const left = await ctx.reader.get(ctx.topology.streams.delay, { lastBySubject: ctx.subjects.hold(token) });
  if (left) return;
  const cur = await keyRecords(svc).get(token);
  if (!cur.value || cur.value.holder) return;
  await eraseKey(ctx.jsm, ctx.topology.buckets.xkeys, token, cur.revision);
}

/** Keys that have a holder or may have waiting jobs (their attention markers). */
export async function activeKeyTokens(svc: Services): Promise<string[]> {
  return (await keysOf(svc.ctx.buckets.xkeys, "h.>")).map((k) => k.slice(2));
}

/** One pass of the leader's sweep over every key that needs attention. */
export async function sweepKeys(svc: Services, onError: (err: unknown) => void): Promise<void> {
  for (const token of await activeKeyTokens(svc)) {
    await settleKey(svc, token).catch(onError);
  }
}

/**
 * What the scheduler leader runs for exclusive keys: the sweep of attention markers (per-key lines),
 * and the sequencer when the deployment uses it.
 */
export function exclusiveKeyTasks(
  svc: Services,
  sweepEveryMs: number,
  onError: (err: unknown) => void,
): BackgroundTask[] {
  // The sequencer takes the per-key lines over (exclusive-sequencer.ts): no sweep beside it.
  if (svc.ctx.sequencer) {
    return [
      { name: "exclusive key sequencer", scope: "leader", start: () => startSequencer(svc, { onError }) },
    ];
  }
  return [
    periodicTask({
      name: "exclusive key sweep",
      scope: "leader",
      everyMs: sweepEveryMs,
      tick: () => sweepKeys(svc, onError),
      onError,
    }),
  ];
}
