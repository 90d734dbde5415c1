/**
 * The delay promoter moves due jobs (scheduled, and waiting for a retry) from the delay stream into
 * their queue lanes. One promoter runs per deployment (KV-lease leader). Delay segments live on one
 * subject per due minute; the leader loads the buckets up to the next minute into a timer heap, tails
 * the stream for new segments, and fires each segment at its due time with millisecond precision.
 * No bucket is scanned twice on a timer: a bucket is read once when its minute comes near.
 */
import type { ServerClock } from "../infra/server-clock.js";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { ConsumerMessages } from "@nats-io/jetstream";

import { Store } from "../../core/ids.js";
import type { StoreContext } from "../infra/context.js";
import { advanceKey, holdsKey } from "../features/exclusive.js";
import { keyToken } from "../infra/topology.js";
import { markKey } from "../features/exclusive-line.js";
import { EventType, emitEvents } from "../jobs/events.js";
import { event } from "../jobs/events.js";
import type { JournalOp } from "../journal/journal-ops.js";
import { decideAndAppend } from "../journal/journal.js";
import type { ReadMemo } from "../jobs/locator.js";
import { movedSpec, moveMsgId, pointHomes, publishSegment } from "./moves.js";
import type { SegmentAt } from "./segment.js";
import { jobIdAt, jobRef, refKey } from "./segment.js";
import type { Services } from "../infra/services.js";
import { outcomesOf } from "../infra/services.js";
import { POINTER_RETRY_MS, validateMoved } from "./validate.js";

const MINUTE = 60_000;

export interface Promoter {
  close(): Promise<void>;
}

export interface PromoterOptions {
  onError?: (err: unknown) => void;
  /** The NATS server's clock (server-clock.ts): jobs are due by its time, not this process's. */
  clock?: ServerClock;
}

interface Entry {
  seq: number;
  due: number;
}

export function startPromoter(ctx: StoreContext, svc: Services, options: PromoterOptions = {}): Promoter {
  const locator = svc.locator;
  const heap: Entry[] = [];
  const known = new Set<number>();
  const scannedBuckets = new Set<number>();
  let scannedUpTo = -1;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let tail: ConsumerMessages | undefined;
  let work: Promise<void> = Promise.resolve();
  const onError = options.onError ?? (() => undefined);
  const clock = options.clock;
  const now = (): number => (clock ? clock.now() : Date.now());

  function push(e: Entry): void {
    if (known.has(e.seq)) return;
    known.add(e.seq);
    heap.push(e);
    heap.sort((a, b) => a.due - b.due);
    schedule();
  }

  function schedule(): void {
    if (closed) return;
    if (timer) clearTimeout(timer);
    const head = heap[0];
    if (!head) return;
    timer = setTimeout(
      () => {
        work = work.then(fireDue).catch(onError);
      },
      Math.max(0, Math.min(head.due - now(), 30_000)),
    );
  }

  async function fireDue(): Promise<void> {
    const t = now();
    while (!closed && heap.length > 0 && heap[0]!.due <= t) {
      const e = heap.shift()!;
      try {
        const retryAt = await promote(e.seq);
        known.delete(e.seq);
        if (retryAt !== undefined) push({ seq: e.seq, due: retryAt });
      } catch (err) {
        onError(err);
        known.delete(e.seq);
        push({ seq: e.seq, due: now() + 1000 });
      }
    }
    schedule();
  }

  /** Promotes one delay segment; returns a time to look again when some jobs must wait. */
  async function promote(seq: number): Promise<number | undefined> {
    const at = await locator.segment(Store.Delay, seq);
    if (!at) return undefined;
    const r = await decideAndAppend(
      ctx.journals,
      Store.Delay,
      seq,
      at.seg.jobs.length,
      async (journal, slots, now) => {
        const ops: JournalOp[] = [];
        const moving: number[] = [];
        const holding: number[] = [];
        const held: Array<{ token: string; hold: SegmentAt; idxs: number[] }> = [];
        let retryAt: number | undefined;
        const memo: ReadMemo = new Map();
        // A cached segment with an empty journal may have been removed by housekeeping since.
        const removed = journal.lastSeq === 0 && !(await locator.exists(Store.Delay, seq));
        for (let i = 0; i < slots.length && !removed; i++) {
          const s = slots[i]!;
          const spec = at.seg.jobs[i]!;
          if (s.outcome || spec.pending) continue;
          if (spec.expiresAt !== undefined && now > spec.expiresAt) {
            ops.push({ op: "expire", i, at: now });
            continue;
          }
          const validity = await validateMoved(ctx, locator, at, i, memo);
          if (validity === "wait") {
            retryAt = now + POINTER_RETRY_MS;
            continue;
          }
          if (validity === "orphan") {
            ops.push({ op: "expire", i, at: now });
            continue;
          }
          const xkey = at.seg.jobs[i]!.xkey;
          if (xkey !== undefined && !(await holdsKey(svc, xkey, jobIdAt(at, i)))) {
            // A scheduled job with an exclusive key joins its key's line now (a holder's retry does not).
            holding.push(i);
            continue;
          }
          moving.push(i);
        }
        for (const [token, idxs] of groupByKey(at, holding)) {
          await markKey(svc, at.seg.jobs[idxs[0]!]!.xkey!);
          const specs = idxs.map((i) => movedSpec({ at, idx: i, journal, slots }, {}));
          const hold = await publishSegment(
            ctx,
            { store: Store.Delay, queue: at.seg.q, priority: at.seg.p, subject: ctx.subjects.hold(token) },
            specs,
            moveMsgId("ph", at, idxs),
          );
          const to = refKey(Store.Delay, hold.seq);
          idxs.forEach((i, k) => ops.push({ op: "move", i, at: now, to, ti: k }));
          held.push({ token, hold, idxs });
        }
        let target: SegmentAt | undefined;
        if (moving.length > 0) {
          // retryDelayMs stays: a fetched retry shows the delay it waited (OJS `retry_delay_ms`).
          const specs = moving.map((i) => movedSpec({ at, idx: i, journal, slots }, {}));
          target = await publishSegment(
            ctx,
            { store: Store.Queue, queue: at.seg.q, priority: at.seg.p },
            specs,
            moveMsgId("pr", at, moving),
          );
          const to = refKey(Store.Queue, target.seq);
          moving.forEach((i, k) => ops.push({ op: "move", i, at: now, to, ti: k }));
        }
        return { ops, value: { moving, target, retryAt, now, ops, held } };
      },
    );
    const { moving, target, retryAt, now, held } = r.value;
    svc.noteOutcomes(outcomesOf(at, r.value.ops));
    if (r.appended) {
      for (const h of held) {
        const to = refKey(Store.Delay, h.hold.seq);
        await pointHomes(
          svc,
          h.idxs.flatMap((i, k) => {
            const home = h.hold.seg.jobs[k]!.home!;
            return home === jobRef(Store.Delay, seq, i) ? [] : [{ homeKey: home, to, ti: k }];
          }),
        );
        await advanceKey(svc, h.token).catch(onError);
      }
    }
    if (r.appended && target) {
      const to = refKey(Store.Queue, target.seq);
      await pointHomes(
        svc,
        moving.flatMap((i, k) => {
          const home = target.seg.jobs[k]!.home!;
          return home === jobRef(Store.Delay, seq, i) ? [] : [{ homeKey: home, to, ti: k }];
        }),
      );
      emitEvents(
        ctx,
        at.seg.q,
        moving.map((i) => event(at, i, EventType.Enqueued, now, at.seg.jobs[i]!.attempt ?? 0)),
      );
    }
    return retryAt;
  }

  async function loadBucket(minute: number): Promise<void> {
    if (scannedBuckets.has(minute)) return;
    scannedBuckets.add(minute);
    const msgs = await ctx.reader.all(ctx.topology.streams.delay, ctx.subjects.delayBucket(minute));
    for (const m of msgs) await consider(m.seq, m.data);
  }

  async function consider(seq: number, data: Uint8Array): Promise<void> {
    const at = await locator.segment(Store.Delay, seq);
    const due = at?.seg.due ?? tryDue(data);
    if (due === undefined) return;
    const { slots } = await ctx.journals.read(Store.Delay, seq, at?.seg.jobs.length ?? 0);
    if (at && slots.every((s, i) => s.outcome !== undefined || at.seg.jobs[i]!.pending)) return;
    push({ seq, due });
  }

  /** Loads every bucket due by the end of the next minute that has not been loaded yet. */
  async function scan(initial: boolean): Promise<void> {
    const horizon = Math.floor(now() / MINUTE) + 1;
    if (initial) {
      const info = await ctx.jsm.streams.info(ctx.topology.streams.delay, {
        subjects_filter: ctx.subjects.delayAll(),
      });
      const minutes = Object.keys(info.state.subjects ?? {})
        .map((s) => Number(s.slice(s.lastIndexOf(".") + 1)))
        .filter((m) => Number.isFinite(m) && m <= horizon)
        .sort((a, b) => a - b);
      for (const m of minutes) await loadBucket(m);
    } else {
      for (let m = Math.max(scannedUpTo + 1, horizon - 2); m <= horizon; m++) await loadBucket(m);
    }
    scannedUpTo = horizon;
  }

  async function startTail(): Promise<void> {
    const js = jetstream(ctx.nc);
    const oc = await js.consumers.get(ctx.topology.streams.delay, {
      filter_subjects: [ctx.subjects.delayAll()],
      deliver_policy: DeliverPolicy.New,
    });
    tail = await oc.consume();
    void (async () => {
      for await (const m of tail) {
        const minute = Number(m.subject.slice(m.subject.lastIndexOf(".") + 1));
        if (minute <= scannedUpTo) work = work.then(() => consider(m.seq, m.data)).catch(onError);
      }
    })().catch(onError);
  }

  // Start: tail first (no gap), then the initial scan, then a scan every few seconds.
  work = work
    .then(startTail)
    .then(() => scan(true))
    .catch(onError);
  const scanTimer = setInterval(() => {
    work = work.then(() => scan(false)).catch(onError);
  }, 5000);
  scanTimer.unref();

  return {
    async close() {
      closed = true;
      clearInterval(scanTimer);
      if (timer) clearTimeout(timer);
      if (tail) await tail.close();
      await work.catch(() => undefined);
    },
  };
}

function tryDue(data: Uint8Array): number | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as { due?: unknown };
    return typeof v.due === "number" ? v.due : undefined;
  } catch {
    return undefined;
  }
}

/** Jobs of a segment by exclusive key token, in slot order. */
function groupByKey(at: SegmentAt, idxs: number[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const i of idxs) {
    const token = keyToken(at.seg.jobs[i]!.xkey!);
    const list = out.get(token) ?? [];
    list.push(i);
    out.set(token, list);
  }
  return out;
}
