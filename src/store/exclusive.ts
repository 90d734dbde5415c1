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
import type { JobSpec } from "../core/envelope.js";
import { Store } from "../core/ids.js";
import { isTerminal } from "../core/states.js";
import { EventType, emitEvents } from "./events.js";
import { event } from "./events.js";
import { decideAndAppend } from "./journal.js";
import { deleteForGood, eraseKey, isWrongRevision, keysOf } from "./kvjson.js";
import type { FastKv, FastRecord } from "./kvfast.js";
import { fastKv, WrongSequenceError } from "./kvfast.js";
import { homeKeyOf, movedSpec, moveMsgId, pointHome, publishSegment } from "./moves.js";
import type { SegmentAt } from "./segment.js";
import { jobIdAt, refKey } from "./segment.js";
import type { OutcomeNote, Services } from "./services.js";
import { POINTER_RETRY_MS, validateMoved } from "./validate.js";
import { keyFromToken, keyToken } from "./topology.js";
import { deriveState } from "./view.js";

/** The KV record of one exclusive key. */
export interface KeyRecord {
  key: string;
  /** Every job on the key's subject before (seq, idx) has moved on or finished. */
  cursor: { seq: number; idx: number };
  holder?: { job: string; q: string; ref: string; since: number };
}

export { keyFromToken, keyToken };

const markerKey = (token: string) => `h.${token}`;

/** Key records on the busy path: direct gets and compare-and-set publishes through the shared inbox. */
function keyRecords(svc: Services): FastKv<KeyRecord> {
  return fastKv<KeyRecord>(svc.ctx, svc.ctx.topology.buckets.xkeys);
}

/** A key's record (holder and cursor), undefined for a key never used. */
export async function readKey(svc: Services, token: string): Promise<KeyRecord | undefined> {
  return (await keyRecords(svc).get(token)).value;
}

/** Marks a key as needing attention; call before storing a job that will wait for it. */
export async function markKey(svc: Services, key: string): Promise<void> {
  await fastKv<number>(svc.ctx, svc.ctx.topology.buckets.xkeys).put(markerKey(keyToken(key)), Date.now());
}

/** The first job on the key's subject after the cursor that still waits, and the cursor up to it. */
async function firstWaiting(
  svc: Services,
  token: string,
  cursor: { seq: number; idx: number },
): Promise<{ at: SegmentAt; idx: number } | undefined> {
  const { ctx } = svc;
  const subject = ctx.subjects.hold(token);
  let seq = cursor.seq;
  let fromIdx = cursor.idx + 1;
  for (;;) {
    const m = await ctx.reader.get(ctx.topology.streams.delay, { nextBySubject: subject, seq });
    if (!m) return undefined;
    if (m.seq !== seq) fromIdx = 0;
    const at = await svc.locator.segment(Store.Delay, m.seq);
    if (at) {
      for (let idx = fromIdx; idx < at.seg.jobs.length; idx++) {
        if (await isWaiting(svc, at, idx)) return { at, idx };
      }
    }
    seq = m.seq + 1;
    fromIdx = 0;
  }
}

/** Whether a job in a hold segment still waits (not moved, not finished; expired ones are written off). */
async function isWaiting(svc: Services, at: SegmentAt, idx: number): Promise<boolean> {
  for (let round = 0; round < 100; round++) {
    const { slots } = await svc.ctx.journals.read(Store.Delay, at.seq, at.seg.jobs.length);
    const slot = slots[idx]!;
    if (slot.outcome) return false;
    const spec = at.seg.jobs[idx]!;
    const now = Date.now();
    if (spec.expiresAt !== undefined && now > spec.expiresAt) {
      await expireWaiting(svc, at, idx);
      return false;
    }
    const validity = await validateMoved(svc.ctx, svc.locator, at, idx);
    if (validity === "ok") return true;
    if (validity === "orphan") return false;
    await new Promise((r) => setTimeout(r, POINTER_RETRY_MS));
  }
  return false;
}

async function expireWaiting(svc: Services, at: SegmentAt, idx: number): Promise<void> {
  const r = await decideAndAppend(
    svc.ctx.journals,
    Store.Delay,
    at.seq,
    at.seg.jobs.length,
    (_j, slots, now) =>
      slots[idx]!.outcome
        ? { ops: [], value: undefined }
        : { ops: [{ op: "expire", i: idx, at: now }], value: undefined },
  );
  if (r.appended) svc.noteOutcomes([{ at, idx, kind: "expired" }]);
}

/**
 * Hands a free key to its first waiting job (compare-and-set), then moves that job into its lane.
 * Does nothing when the key is held or nobody waits. Safe to call from any process at any time.
 */
export async function advanceKey(svc: Services, token: string, known?: FastRecord<KeyRecord>): Promise<void> {
  const records = keyRecords(svc);
  for (let round = 0; round < 50; round++) {
    // The caller's own write (a release) is the current record unless someone wrote since: the
    // compare-and-set below finds out, and the next round reads again.
    const cur = round === 0 && known ? known : await records.get(token);
    if (cur.value?.holder) return;
    const cursor = cur.value?.cursor ?? { seq: 0, idx: -1 };
    const next = await firstWaiting(svc, token, cursor);
    if (!next) return;
    const { at, idx } = next;
    const rec: KeyRecord = {
      key: keyFromToken(token),
      cursor: { seq: at.seq, idx },
      holder: {
        job: jobIdAt(at, idx),
        q: at.seg.q,
        ref: `${refKey(at.store, at.seq)}.${idx}`,
        since: Date.now(),
      },
    };
    try {
      await records.update(token, rec, cur.revision);
    } catch (err) {
      if (err instanceof WrongSequenceError) continue; // someone else handed it on, or took it: look again
      throw err;
    }
    await moveToLane(svc, at, idx);
    return;
  }
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

/** Gives the key up if `jobId` holds it, then hands it on. Returns whether this call released it. */
export async function releaseKey(svc: Services, token: string, jobId: string): Promise<boolean> {
  const records = keyRecords(svc);
  for (let round = 0; round < 50; round++) {
    const cur = await records.get(token);
    if (!cur.value || cur.value.holder?.job !== jobId) return false;
    const free: KeyRecord = { key: cur.value.key, cursor: cur.value.cursor };
    let revision: number;
    try {
      revision = await records.update(token, free, cur.revision);
    } catch (err) {
      if (err instanceof WrongSequenceError) continue;
      throw err;
    }
    await advanceKey(svc, token, { value: free, revision });
    return true;
  }
  return false;
}

const FINAL_KINDS = new Set<OutcomeNote["kind"]>(["completed", "discarded", "cancelled", "expired"]);

/** Outcome hook: a holder that finished gives its key to the next job in line. */
export function exclusiveOutcomeListener(svc: Services): (notes: OutcomeNote[]) => Promise<void> {
  return async (notes) => {
    for (const n of notes) {
      if (!FINAL_KINDS.has(n.kind)) continue;
      const key = n.at.seg.jobs[n.idx]?.xkey;
      if (key === undefined) continue;
      await releaseKey(svc, keyToken(key), jobIdAt(n.at, n.idx));
    }
  };
}

/** Whether `jobId` holds `key` now (a retry of the holder goes back to its lane, not to the line). */
export async function holdsKey(svc: Services, key: string, jobId: string): Promise<boolean> {
  return (await readKey(svc, keyToken(key)))?.holder?.job === jobId;
}

/** How long a holder runs before the sweep checks that it is still alive. */
const HOLDER_CHECK_AFTER_MS = 2000;

/**
 * Repairs one key after a crash anywhere: releases a finished (or vanished) holder, finishes a holder's
 * interrupted move, hands a free key on, and drops the attention marker when the key is idle.
 */
export async function settleKey(svc: Services, token: string): Promise<void> {
  const kv = svc.ctx.buckets.xkeys;
  const marker = await kv.get(markerKey(token));
  const holder = (await readKey(svc, token))?.holder;
  if (holder) {
    if (Date.now() - holder.since < HOLDER_CHECK_AFTER_MS) return;
    const loc = await svc.locator.locate(holder.job);
    if (!loc) {
      await releaseKey(svc, token, holder.job);
      return;
    }
    const state = deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, Date.now()).state;
    if (isTerminal(state)) await releaseKey(svc, token, holder.job);
    else if (loc.at.store === Store.Delay && loc.at.seg.due === undefined)
      await moveToLane(svc, loc.at, loc.idx);
    return;
  }
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
