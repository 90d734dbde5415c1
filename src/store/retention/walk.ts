/**
 * The walk: how housekeeping finds segments to check without scanning every key on a timer, and
 * without writing anything on the hot path.
 *
 * - Queue lanes are walked in stream order from a cursor per lane (KV `<prefix>_gc`, `lane.<q>.<p>`),
 *   one direct get (next by subject) per segment. A segment whose jobs all have an outcome there
 *   (finished, or moved on) gets a check at the time decide.ts computes, and the cursor moves past
 *   it. The walk of a lane stops at the first segment with a job still waiting or running: jobs run
 *   roughly in lane order, so the cursor follows the lane's consumer; a long-running job holds it
 *   until it finishes.
 * - The delay stream (scheduled and retrying jobs, and jobs waiting for an exclusive key) is walked
 *   with one cursor over all its subjects, never stopping: each segment gets a check at its due time
 *   plus some slack, or for a key's waiting line after an hour.
 *
 * Cursors are written with compare-and-set, so two walkers (a leader change in progress) never move
 * one backwards; checks written twice are harmless.
 */
import type { QueueRetention } from "../../core/storage-options.js";
import { Store } from "../../core/ids.js";
import { getJson } from "../infra/kvjson.js";
import { isWrongRevision } from "../infra/cas.js";
import type { SegmentAt } from "../segments/segment.js";
import { decodeSegment } from "../segments/segment.js";
import type { Services } from "../infra/services.js";
import { laneToken, queueToken } from "../infra/topology.js";
import type { SlotFate } from "./fates.js";
import { segmentFates } from "./fates.js";
import { CountFlag, decideRemoval } from "./decide.js";
import { segmentRef } from "./records.js";

export interface Cursor {
  seq: number;
  /** When the cursor last moved (ms). */
  at: number;
}

export interface WalkOptions {
  walkBatch: number;
  activeRecheckMaxMs: number;
  delaySlackMs: number;
  holdRecheckMs: number;
}

export interface Check {
  ref: string;
  due: number;
}

export const laneCursorKey = (queue: string, priority: number): string =>
  `lane.${queueToken(queue)}.${laneToken(priority)}`;
export const DELAY_CURSOR_KEY = "delay";

const enc = new TextEncoder();

/** Walks one queue lane from its cursor; returns the checks to schedule and how far it got. */
export async function walkLane(
  svc: Services,
  queue: string,
  priority: number,
  o: WalkOptions,
  counts: CountWindows,
  schedule: (checks: Check[]) => Promise<void>,
): Promise<{ walked: number; held: boolean }> {
  const { ctx } = svc;
  const key = laneCursorKey(queue, priority);
  const cur = await getJson<Cursor>(ctx.buckets.gc, key);
  const subject = ctx.subjects.lane(queue, priority);
  const retention = ctx.queues.cached(queue)?.retention;
  const checks: Check[] = [];
  let last = cur?.value.seq ?? 0;
  let walked = 0;
  let held = false;
  while (walked < o.walkBatch) {
    const m = await ctx.reader.get(ctx.topology.streams.queue, { nextBySubject: subject, seq: last + 1 });
    if (!m) break;
    let at: SegmentAt;
    try {
      at = { store: Store.Queue, seq: m.seq, seg: decodeSegment(m.data) };
    } catch {
      last = m.seq; // not a segment (garbage on a lane subject): nothing of ours to remove
      continue;
    }
    const { slots } = await ctx.journals.read(Store.Queue, m.seq, at.seg.jobs.length);
    if (slots.some((s) => s.outcome === undefined)) {
      held = true;
      break;
    }
    const now = Date.now();
    const fates = await segmentFates(svc, at, slots, {
      nowMs: now,
      flags: 0,
      activeRecheckMaxMs: o.activeRecheckMaxMs,
    });
    const d = decideRemoval(
      fates.map((f) => f.fate),
      now,
    );
    checks.push({ ref: segmentRef(Store.Queue, m.seq), due: d.remove ? now : d.checkAt });
    checks.push(...counts.feed(queue, retention, Store.Queue, m.seq, fates, now));
    last = m.seq;
    walked++;
  }
  if (checks.length > 0) await schedule(checks);
  if (walked > 0 || last > (cur?.value.seq ?? 0)) await moveCursor(svc, key, cur?.revision, last);
  return { walked, held };
}

/** Walks the delay stream from its cursor: every segment gets a check, nothing holds the cursor. */
export async function walkDelay(
  svc: Services,
  o: WalkOptions,
  schedule: (checks: Check[]) => Promise<void>,
): Promise<{ walked: number }> {
  const { ctx } = svc;
  const cur = await getJson<Cursor>(ctx.buckets.gc, DELAY_CURSOR_KEY);
  const checks: Check[] = [];
  let last = cur?.value.seq ?? 0;
  let walked = 0;
  while (walked < o.walkBatch) {
    const m = await ctx.reader.get(ctx.topology.streams.delay, {
      nextBySubject: ctx.subjects.delayAll(),
      seq: last + 1,
    });
    if (!m) break;
    last = m.seq;
    let due: number | undefined;
    try {
      due = decodeSegment(m.data).due;
    } catch {
      continue;
    }
    const now = Date.now();
    // A key's waiting line has no due time: look at it now and then.
    const at = due === undefined ? now + o.holdRecheckMs : Math.max(now, due + o.delaySlackMs);
    checks.push({ ref: segmentRef(Store.Delay, m.seq), due: at });
    walked++;
  }
  if (checks.length > 0) await schedule(checks);
  if (last > (cur?.value.seq ?? 0)) await moveCursor(svc, DELAY_CURSOR_KEY, cur?.revision, last);
  return { walked };
}

async function moveCursor(
  svc: Services,
  key: string,
  revision: number | undefined,
  seq: number,
): Promise<void> {
  const value = enc.encode(JSON.stringify({ seq, at: Date.now() } satisfies Cursor));
  try {
    if (revision === undefined) await svc.ctx.buckets.gc.create(key, value);
    else await svc.ctx.buckets.gc.update(key, value, revision);
  } catch (err) {
    // Another walker moved it (two leaders for a moment): its position is as good as ours.
    if (!isWrongRevision(err)) throw err;
  }
}

interface WindowEntry {
  store: Store;
  seq: number;
  n: number;
  expiresAt: number;
}

/** Most segments remembered per queue and kind; beyond that the oldest are left to their age. */
const MAX_WINDOW = 100_000;

/**
 * Count limits (`completed_count`, `discarded_count` of a queue), approximate at segment granularity:
 * the walker remembers the segments it walked per queue, oldest first, with how many completed and
 * discarded jobs each holds. While the queue holds more than its limit without the oldest segment,
 * that segment gets a check that lets its completed (or discarded) jobs go before their age. Dead
 * letters are never counted: they are kept their whole retention. A new housekeeper (leader change)
 * starts counting afresh, so it may keep more than the limit for a while, never fewer.
 */
export class CountWindows {
  readonly #windows = new Map<string, { entries: WindowEntry[]; total: number }>();

  feed(
    queue: string,
    retention: QueueRetention | undefined,
    store: Store,
    seq: number,
    fates: readonly SlotFate[],
    now: number,
  ): Check[] {
    const out: Check[] = [];
    const kinds = [
      ["completed", retention?.completedCount, CountFlag.Completed],
      ["discarded", retention?.discardedCount, CountFlag.Discarded],
    ] as const;
    for (const [kind, limit, flag] of kinds) {
      const wkey = `${kind}|${queue}`;
      if (limit === undefined) {
        this.#windows.delete(wkey);
        continue;
      }
      let n = 0;
      let expiresAt = now;
      for (const f of fates) {
        if (f.kind !== kind || f.fate.kind !== "finished") continue;
        n++;
        expiresAt = Math.max(expiresAt, f.fate.at + f.fate.keepMs);
      }
      let w = this.#windows.get(wkey);
      if (!w) this.#windows.set(wkey, (w = { entries: [], total: 0 }));
      if (n > 0) {
        w.entries.push({ store, seq, n, expiresAt });
        w.total += n;
      }
      // Segments whose jobs go by age anyway no longer count.
      while (w.entries.length > 0 && w.entries[0]!.expiresAt <= now) w.total -= w.entries.shift()!.n;
      while (w.entries.length > 0 && w.total - w.entries[0]!.n >= limit) {
        const e = w.entries.shift()!;
        w.total -= e.n;
        out.push({ ref: segmentRef(e.store, e.seq, flag), due: now });
      }
      while (w.entries.length > MAX_WINDOW) w.total -= w.entries.shift()!.n;
    }
    return out;
  }
}
