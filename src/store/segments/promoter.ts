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
import type { Services } from "../infra/services.js";
import { promoteSegment } from "./promote-segment.js";

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
        const retryAt = await promoteSegment(svc, e.seq, onError);
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
        subjects_filter: ctx.subjects.delayBuckets(),
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
      // Buckets only: hold segments (one per exclusive key and batch) have no due time.
      filter_subjects: [ctx.subjects.delayBuckets()],
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
