/**
 * Handing exclusive keys on in batches. One hand-over per key is a handful of round trips that
 * depend on each other (record, line, journal, compare-and-set, move); done one key at a time, each
 * job's next job also became a one-job lane segment with its own delivery, claim, outcome append and
 * ack. Here many keys go together:
 *
 * 1. per key, in parallel: the record (or the one this process wrote last, see exclusive-line.ts),
 *    the first waiting job after the cursor, and one compare-and-set from the old holder straight to
 *    the new one (a release with nobody waiting writes the key free, then looks at the line again,
 *    so a job stored meanwhile is never missed);
 * 2. the new holders are published as one lane segment per queue and priority (`Nats-Msg-Id` from
 *    their places), so a worker takes them with one delivery, one claim append and one ack;
 * 3. the `move` pointers go to each hold segment's journal (compare-and-set, starting from the
 *    journal read in step 1), then home pointers and events.
 *
 * A copy whose `move` lost (someone else moved the job meanwhile) is an orphan: its pointer leads
 * elsewhere, so the claim check (validate.ts) drops it, as for any move.
 *
 * {@link createHandOverQueue} feeds it from the outcome hook: releases that arrive while a batch is
 * being handed on go into the next one, so there is no added wait when idle and few writes when busy.
 */
import { createHash } from "node:crypto";

import type { JobSpec } from "../../core/envelope.js";
import { Store } from "../../core/ids.js";
import type { JobEvent } from "../jobs/events.js";
import { EventType, emitEvents, event } from "../jobs/events.js";
import type { KeyRecord, WaitingJob } from "./exclusive-line.js";
import {
  firstWaiting,
  forgetWritten,
  keyRecords,
  lastWritten,
  lookAhead,
  rememberWritten,
  takeLookAhead,
} from "./exclusive-line.js";
import type { JournalState } from "../journal/journal.js";
import type { BatchQueue } from "../infra/batch-queue.js";
import { createBatchQueue } from "../infra/batch-queue.js";
import { AGAIN, casLoop, orAgain } from "../infra/cas.js";
import type { FastRecord } from "../infra/kvfast.js";
import { homeKeyOf, movedSpec, pointHomes, publishSegment } from "../segments/moves.js";
import { announceMoves, trackMove } from "../segments/local-moves.js";
import { jsonBytes } from "../jobs/payload-limits.js";
import { jobIdAt, jobRef, refKey } from "../segments/segment.js";
import type { Services } from "../infra/services.js";
import { keyFromToken, keyToken } from "../infra/topology.js";

/** A key to hand on: `releasing` = the job that finished and gives it up (only if it holds it). */
export interface HandOver {
  token: string;
  releasing?: string;
  /** The record as the caller just wrote or read it (saves a read). */
  known?: FastRecord<KeyRecord>;
}

/** Hands every key in `items` on (see the module header); resolves once the new holders are in lanes. */
export async function handOverKeys(svc: Services, items: readonly HandOver[]): Promise<Set<string>> {
  // One key's failure must not keep the others' new holders out of their lanes.
  const results = await Promise.allSettled(items.map((it) => handOne(svc, it)));
  const winners: WaitingJob[] = [];
  const errors: unknown[] = [];
  for (const r of results) {
    if (r.status === "rejected") errors.push(r.reason);
    else if (r.value) winners.push(r.value);
  }
  const { finished, moved } = await moveManyToLane(svc, winners);
  const handed = new Set(moved);
  // A key that had jobs waiting behind a finished holder probably has more: find the next one now,
  // while the new holder runs, so that its release does not wait for the walk. (After the move: a
  // walk that read the hold segment's journal before the move's append would hold a stale journal.)
  for (const it of items) if (it.releasing !== undefined) lookAhead(svc, it.token);
  // A new holder that finished before its move (cancelled, expired) gives the key on at once; its
  // own outcome hook may have run before it held the key.
  if (finished.length > 0) for (const id of await handOverKeys(svc, finished)) handed.add(id);
  if (errors.length > 0) throw errors[0];
  return handed;
}

/** Step 1 for one key: the new holder set in the record, or undefined (nothing to do). */
async function handOne(svc: Services, it: HandOver): Promise<WaitingJob | undefined> {
  const records = keyRecords(svc);
  const { token } = it;
  let releasing = it.releasing;
  let known = it.known ?? lastWritten(svc, token);
  return casLoop<WaitingJob | undefined>(
    async () => {
      const cur = known ?? (await records.get(token));
      const hinted = known !== undefined;
      known = undefined;
      const holder = cur.value?.holder?.job;
      if (releasing !== undefined ? holder !== releasing : holder !== undefined) {
        if (hinted) return AGAIN; // the hint may be old: read the record before giving up
        return undefined;
      }
      const cursor = cur.value?.cursor ?? { seq: 0, idx: -1 };
      const next =
        (hinted ? await takeLookAhead(svc, token, cur.revision) : undefined) ??
        (await firstWaiting(svc, token, cursor));
      if (!next && releasing === undefined) return undefined;
      const rec: KeyRecord = { key: cur.value?.key ?? keyFromToken(token), cursor };
      if (next) {
        rec.cursor = { seq: next.at.seq, idx: next.idx };
        rec.holder = {
          job: jobIdAt(next.at, next.idx),
          q: next.at.seg.q,
          ref: jobRef(next.at.store, next.at.seq, next.idx),
          since: Date.now(),
        };
      }
      const revision = await orAgain(records.update(token, rec, cur.revision));
      if (revision === AGAIN) {
        forgetWritten(svc, token);
        return AGAIN; // someone else handed it on, released or took it: look again
      }
      rememberWritten(svc, token, { value: rec, revision });
      if (next) return next;
      // Released with nobody in line as read: a job stored before this write is found now.
      releasing = undefined;
      known = { value: rec, revision };
      return AGAIN;
    },
    { tries: 50, exhausted: () => undefined },
  );
}

/**
 * Jobs per lane segment made by one hand-over batch: a segment costs a delivery, a claim append, its
 * outcome appends and an ack whatever its size, and a worker hands on what it has no slots for (as
 * with plain segments). 64 rather than 16: with 100 or 1,000 keys a batch holds many new holders,
 * and 16 made about four times the segments (same-run A/B, 10,000 jobs at concurrency 50: 100 keys
 * 34-35% -> 51-54% of plain, 1,000 keys 52-55% -> 88-96%).
 */
const MAX_JOBS_PER_LANE_SEGMENT = 64;

/** What {@link moveManyToLane} did. */
export interface LaneMoves {
  /** Ids of the jobs moved into their lanes. */
  moved: string[];
  /** Keys of new holders found finished instead (not moved). */
  finished: HandOver[];
  /** The hold segments' journals as this move last read or wrote them, by segment sequence. */
  journals: Map<number, JournalState>;
  /** Per hold segment, the last append of this move (see pointFromHolds). */
  turns: Map<number, Promise<void>>;
}

/**
 * Steps 2 and 3: the new holders into their lanes, as few segments as their queues allow. A holder
 * someone else moved meanwhile is left where it went (it is in a lane, so it holds its key).
 */
export async function moveManyToLane(svc: Services, jobs: WaitingJob[]): Promise<LaneMoves> {
  const out: LaneMoves = { moved: [], finished: [], journals: new Map(), turns: new Map() };
  if (jobs.length === 0) return out;
  const maxBytes = Math.floor((svc.ctx.nc.info?.max_payload ?? 1024 * 1024) * 0.75);
  const groups = new Map<string, WaitingJob[][]>();
  const bytes = new Map<WaitingJob[], number>();
  for (const j of jobs) {
    const k = `${j.at.seg.q}|${j.at.seg.p}`;
    let chunks = groups.get(k);
    if (!chunks) groups.set(k, (chunks = [[]]));
    let last = chunks.at(-1)!;
    const size = jsonBytes(j.at.seg.jobs[j.idx]) + 256;
    if (last.length >= MAX_JOBS_PER_LANE_SEGMENT || (bytes.get(last) ?? 0) + size > maxBytes) {
      chunks.push((last = []));
    }
    last.push(j);
    bytes.set(last, (bytes.get(last) ?? 0) + size);
  }
  await Promise.all([...groups.values()].flat().map((chunk) => moveChunk(svc, chunk, out)));
  return out;
}

async function moveChunk(svc: Services, jobs: WaitingJob[], out: LaneMoves): Promise<void> {
  const { ctx } = svc;
  const first = jobs[0]!.at;
  const specs: JobSpec[] = jobs.map((j) => movedSpec({ ...j, slots: j.journal.slots }, {}));
  const places = jobs.map((j) => `${j.at.seq}.${j.idx}`).join(",");
  const msgId = `xk:${createHash("sha1").update(places).digest("hex").slice(0, 20)}`;
  const moved: Array<{ j: WaitingJob; ti: number; journal: JournalState }> = [];
  const target = await trackMove(
    ctx,
    () =>
      publishSegment(
        ctx,
        { store: Store.Queue, queue: first.seg.q, priority: first.seg.p, announced: true },
        specs,
        msgId,
      ),
    async (t) => {
      await pointFromHolds(svc, jobs, refKey(Store.Queue, t.seq), moved, out);
      const pointed = new Set(moved.map((m) => m.ti));
      // Workers of other processes claim these without reading the pointers (local-moves.ts).
      announceMoves(ctx, t.store, t.seq, pointed);
      return pointed;
    },
  );
  const to = refKey(Store.Queue, target.seq);
  const homes: Array<{ homeKey: string; to: string; ti: number }> = [];
  const events: JobEvent[] = [];
  const now = Date.now();
  for (const { j, ti, journal } of moved) {
    out.moved.push(jobIdAt(j.at, j.idx));
    const home = homeKeyOf({ at: j.at, idx: j.idx, journal, slots: journal.slots });
    if (home !== jobRef(j.at.store, j.at.seq, j.idx)) homes.push({ homeKey: home, to, ti });
    events.push(event(j.at, j.idx, EventType.Enqueued, now, j.at.seg.jobs[j.idx]!.attempt ?? 0));
  }
  if (homes.length > 0) await pointHomes(svc, homes);
  emitEvents(ctx, first.seg.q, events);
}

/** The `move` pointers in the hold segments' journals: one append per hold segment, from the journal read before. */
async function pointFromHolds(
  svc: Services,
  jobs: WaitingJob[],
  to: string,
  moved: Array<{ j: WaitingJob; ti: number; journal: JournalState }>,
  out: LaneMoves,
): Promise<void> {
  // One append per hold segment (a key's batch of jobs shares one), from the journal read before.
  const bySegment = new Map<number, Array<{ j: WaitingJob; ti: number }>>();
  jobs.forEach((j, ti) => {
    let g = bySegment.get(j.at.seq);
    if (!g) bySegment.set(j.at.seq, (g = []));
    g.push({ j, ti });
  });
  await Promise.all(
    [...bySegment.values()].map((g) =>
      // Chunks of one batch that share a hold segment append one after the other, each from the
      // journal the one before wrote (in parallel, all but one would fail their compare-and-set).
      inTurn(out, g[0]!.j.at.seq, () => pointFromHold(svc, g, to, moved, out)),
    ),
  );
}

function inTurn(out: LaneMoves, seq: number, fn: () => Promise<void>): Promise<void> {
  const turn = (out.turns.get(seq) ?? Promise.resolve()).then(fn);
  out.turns.set(
    seq,
    turn.catch(() => undefined),
  );
  return turn;
}

async function pointFromHold(
  svc: Services,
  g: Array<{ j: WaitingJob; ti: number }>,
  to: string,
  moved: Array<{ j: WaitingJob; ti: number; journal: JournalState }>,
  out: LaneMoves,
): Promise<void> {
  const { ctx } = svc;
  const at = g[0]!.j.at;
  let journal = out.journals.get(at.seq) ?? g[0]!.j.journal;
  await casLoop(
    async (attempt) => {
      if (attempt > 0) journal = await ctx.journals.read(Store.Delay, at.seq, at.seg.jobs.length);
      out.journals.set(at.seq, journal);
      const now = Date.now();
      const mine = g.filter(({ j }) => !journal.slots[j.idx]!.outcome);
      for (const { j } of g) {
        const slot = journal.slots[j.idx]!;
        const xkey = j.at.seg.jobs[j.idx]!.xkey;
        // Moved on by someone else (it is in a lane now, the key stays), or finished while it waited.
        if (slot.outcome && slot.outcome.kind !== "move" && xkey !== undefined)
          out.finished.push({ token: keyToken(xkey), releasing: jobIdAt(j.at, j.idx) });
      }
      if (mine.length === 0) return;
      const after = await orAgain(
        ctx.journals.append(
          Store.Delay,
          at.seq,
          mine.map(({ j, ti }) => ({ op: "move" as const, i: j.idx, at: now, to, ti })),
          journal,
        ),
      );
      if (after === AGAIN) return AGAIN;
      out.journals.set(at.seq, after);
      for (const m of mine) moved.push({ ...m, journal: after });
    },
    { exhausted: () => undefined },
  );
}

/**
 * Releases from the outcome hook, batched (store/infra/batch-queue.ts): one batch in flight, and
 * what arrives meanwhile goes into the next one, so that the new holders share lane segments (fewest
 * deliveries, claims and acks for the worker); a second batch starts only when the one in flight is
 * slow, so that one slow hand-over (a NATS timeout, a pointer not written yet) does not hold up every
 * other key's. `add` resolves when its keys were handed on.
 */
export function createHandOverQueue(svc: Services): BatchQueue<HandOver> {
  return createBatchQueue(
    async (items) => {
      await handOverKeys(svc, items);
    },
    { parallel: 4, stallMs: 50 },
  );
}
