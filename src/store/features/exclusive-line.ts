/**
 * An exclusive key's record and its line (see exclusive.ts): the KV record `{ holder, cursor }` read
 * and written through the shared inbox, and the walk from the cursor to the first job that still
 * waits. Shared by the single-key paths (exclusive.ts) and the batched hand-over
 * (exclusive-handover.ts).
 *
 * Each process remembers the last record it wrote per key (value and revision). A hand-over in the
 * process that made the current holder (a worker releasing the key of a job it ran, which it was
 * given by its own hand-over) then writes with compare-and-set on that revision without reading the
 * record first; when someone wrote since, the write fails and the record is read.
 */
import { Store } from "../../core/ids.js";
import { isTerminal } from "../../core/states.js";
import type { Located } from "../jobs/locator.js";
import { deriveState } from "../jobs/view.js";
import { decideAndAppend } from "../journal/journal.js";
import type { ExpireOp } from "../journal/journal-ops.js";
import type { JournalState } from "../journal/journal.js";
import type { FastKv, FastRecord } from "../infra/kvfast.js";
import { fastKv } from "../infra/kvfast.js";
import type { SegmentAt } from "../segments/segment.js";
import { decodeSegment } from "../segments/segment.js";
import type { Services } from "../infra/services.js";
import { keyToken } from "../infra/topology.js";
import { POINTER_RETRY_MS, validateMoved } from "../segments/validate.js";

/** The KV record of one exclusive key. */
export interface KeyRecord {
  key: string;
  /** Every job on the key's subject before (seq, idx) has moved on or finished. */
  cursor: { seq: number; idx: number };
  holder?: { job: string; q: string; ref: string; since: number };
}

export const markerKey = (token: string) => `h.${token}`;

/** Key records on the busy path: direct gets and compare-and-set publishes through the shared inbox. */
export function keyRecords(svc: Services): FastKv<KeyRecord> {
  return fastKv<KeyRecord>(svc.ctx, svc.ctx.topology.buckets.xkeys);
}

/**
 * The last record this process wrote per key (bounded; only ever a hint for compare-and-set), and,
 * for a key handed on while others waited, the look-ahead: the walk of its line from that record's
 * cursor, started once the new holder is in its lane so that the holder's release need not wait for it.
 */
interface Written {
  rec: FastRecord<KeyRecord>;
  next?: Promise<WaitingJob | undefined>;
}
const written = new WeakMap<Services, Map<string, Written>>();
const WRITTEN_MAX = 10_000;

export function rememberWritten(svc: Services, token: string, rec: FastRecord<KeyRecord>): void {
  let m = written.get(svc);
  if (!m) written.set(svc, (m = new Map<string, Written>()));
  m.delete(token);
  m.set(token, { rec });
  if (m.size > WRITTEN_MAX) m.delete(m.keys().next().value!);
}

export function lastWritten(svc: Services, token: string): FastRecord<KeyRecord> | undefined {
  return written.get(svc)?.get(token)?.rec;
}

/**
 * Starts walking the key's line from the cursor of the record this process just wrote (see
 * {@link rememberWritten}): the job that will follow the new holder. A walk that fails or finds
 * nobody is simply not used.
 */
export function lookAhead(svc: Services, token: string): void {
  const w = written.get(svc)?.get(token);
  if (!w?.rec.value?.holder) return;
  w.next = firstWaiting(svc, token, w.rec.value.cursor).catch(() => undefined);
}

/**
 * The look-ahead's result if it was made from the record at `revision` (so from the same cursor),
 * else undefined. Taken once. The job found may have been cancelled or moved since: the `move`
 * append checks its journal (compare-and-set) as for any walk.
 */
export async function takeLookAhead(
  svc: Services,
  token: string,
  revision: number,
): Promise<WaitingJob | undefined> {
  const w = written.get(svc)?.get(token);
  if (!w?.next || w.rec.revision !== revision) return undefined;
  const next = w.next;
  delete w.next;
  return next;
}

export function forgetWritten(svc: Services, token: string): void {
  written.get(svc)?.delete(token);
}

/** A key's record (holder and cursor), undefined for a key never used. */
export async function readKey(svc: Services, token: string): Promise<KeyRecord | undefined> {
  return (await keyRecords(svc).get(token)).value;
}

/** Marks a key as needing attention; call before storing a job that will wait for it. */
export async function markKey(svc: Services, key: string): Promise<void> {
  await fastKv<number>(svc.ctx, svc.ctx.topology.buckets.xkeys).put(markerKey(keyToken(key)), Date.now());
}

/** A job of a key's line that still waits, with the journal of its hold segment as read. */
export interface WaitingJob {
  at: SegmentAt;
  idx: number;
  journal: JournalState;
}

/** The first job on the key's subject after the cursor that still waits, and the cursor up to it. */
export async function firstWaiting(
  svc: Services,
  token: string,
  cursor: { seq: number; idx: number },
): Promise<WaitingJob | undefined> {
  const { ctx } = svc;
  const subject = ctx.subjects.hold(token);
  let seq = cursor.seq;
  let fromIdx = cursor.idx + 1;
  if (cursor.idx >= 0) {
    // The cursor's segment is usually cached (read by the hand-over that set it): the rest of it is
    // looked at without reading it again, and the line goes on after it.
    const at = await svc.locator.segment(Store.Delay, cursor.seq);
    if (at) {
      const found = fromIdx < at.seg.jobs.length ? await firstWaitingIn(svc, at, fromIdx) : undefined;
      if (found) return found;
      seq = cursor.seq + 1;
      fromIdx = 0;
    }
  }
  for (;;) {
    const m = await ctx.reader.get(ctx.topology.streams.delay, { nextBySubject: subject, seq });
    if (!m) return undefined;
    if (m.seq !== seq) fromIdx = 0;
    // The read returned the segment itself: no second read by sequence.
    let at: SegmentAt | undefined;
    try {
      at = { store: Store.Delay, seq: m.seq, seg: decodeSegment(m.data) };
      svc.locator.remember(at);
    } catch {
      at = undefined;
    }
    const found = at && (await firstWaitingIn(svc, at, fromIdx));
    if (found) return found;
    seq = m.seq + 1;
    fromIdx = 0;
  }
}

/**
 * The first job of a hold segment from `fromIdx` on that still waits (not moved, not finished), with
 * the journal as read; expired ones are written off on the way.
 */
async function firstWaitingIn(
  svc: Services,
  at: SegmentAt,
  fromIdx: number,
): Promise<WaitingJob | undefined> {
  let idx = fromIdx;
  for (let round = 0; round < 100 && idx < at.seg.jobs.length; round++) {
    const journal = await svc.ctx.journals.read(Store.Delay, at.seq, at.seg.jobs.length);
    for (; idx < at.seg.jobs.length; idx++) {
      if (journal.slots[idx]!.outcome) continue;
      const spec = at.seg.jobs[idx]!;
      if (spec.expiresAt !== undefined && Date.now() > spec.expiresAt) {
        await expireWaiting(svc, at, idx);
        continue;
      }
      const validity = await validateMoved(svc.ctx, svc.locator, at, idx);
      if (validity === "ok") return { at, idx, journal };
      if (validity === "wait") break; // its pointer is not written yet: read again shortly
    }
    if (idx < at.seg.jobs.length) await new Promise((r) => setTimeout(r, POINTER_RETRY_MS));
  }
  return undefined;
}

/**
 * Expires a waiting job (its `expires_at` passed) and reports the outcome; with `orphan`, voids a
 * copy whose pointer never named it instead (no outcome: the job lives elsewhere).
 */
export async function expireWaiting(
  svc: Services,
  at: SegmentAt,
  idx: number,
  orphan = false,
): Promise<void> {
  const r = await decideAndAppend(
    svc.ctx.journals,
    Store.Delay,
    at.seq,
    at.seg.jobs.length,
    (_j, slots, now) => {
      if (slots[idx]!.outcome) return { ops: [], value: undefined };
      const op: ExpireOp = { op: "expire", i: idx, at: now };
      if (orphan) op.orphan = 1;
      return { ops: [op], value: undefined };
    },
  );
  if (r.appended && !orphan) svc.noteOutcomes([{ at, idx, kind: "expired" }]);
}

/** How long a holder runs before the leader checks that it is still alive. */
export const HOLDER_CHECK_AFTER_MS = 2000;

/**
 * Where a key's holder stands, for the leader's check: finished (or gone), still in its line (its
 * move into the lane never happened), or moved on (running, retrying, waiting for a handler).
 */
export async function holderStatus(
  svc: Services,
  job: string,
): Promise<{ kind: "finished" } | { kind: "in-line"; loc: Located } | { kind: "moved" }> {
  const loc = await svc.locator.locate(job);
  if (!loc || isTerminal(deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, Date.now()).state)) {
    return { kind: "finished" };
  }
  if (loc.at.store === Store.Delay && loc.at.seg.due === undefined) return { kind: "in-line", loc };
  return { kind: "moved" };
}
