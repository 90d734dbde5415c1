/**
 * Finding a job by id. A job's first home comes from its id (derived ids) or from the id index
 * (client-chosen ids); from there, the home journal's `loc` pointer (or the chain of forward pointers
 * left by retries and promotions) leads to where the job is now. Segments are immutable, so they are
 * cached; journals are always read fresh.
 */
import { decodeJobId, Store } from "../core/ids.js";
import { idPattern } from "../core/schema.js";
import type { StoreContext } from "./context.js";
import type { Slot } from "./fold.js";
import { forwardOf } from "./fold.js";
import type { JournalState } from "./journal.js";
import type { IdRecord } from "./producer.js";
import type { RefKey, SegmentAt } from "./segment.js";
import { decodeSegment, derivedAddressMatches, indexOfJob, parseRefKey, refKey } from "./segment.js";

/** A job at one location, with that location's journal as read. */
export interface JobAt {
  at: SegmentAt;
  idx: number;
  journal: JournalState;
  slots: Slot[];
}

export interface Located extends JobAt {
  id: string;
  /** The job's first home, when it is not where the job is now. */
  home?: JobAt;
}

/** Segment reads shared by several lookups (one journal read per segment per batch). */
export type ReadMemo = Map<string, Promise<JobAt | undefined>>;

export interface Locator {
  /** Where the job is now; with `memo`, segments read by earlier lookups of the same batch are reused. */
  locate(id: string, memo?: ReadMemo): Promise<Located | undefined>;
  /** Reads a segment (cached). */
  segment(store: Store, seq: number): Promise<SegmentAt | undefined>;
  /** Reads a location fresh (segment from cache, journal from NATS). */
  readAt(store: Store, seq: number, idx: number, memo?: ReadMemo): Promise<JobAt | undefined>;
  /** Caches a segment we already hold (a worker's delivery). */
  remember(at: SegmentAt): void;
  /** Drops cached segments (after an admin reset). */
  clear(): void;
}

const MAX_HOPS = 64;

export function createLocator(ctx: StoreContext, cacheSize = 4096): Locator {
  const cache = new Map<string, SegmentAt>();
  const dec = new TextDecoder();

  function streamOf(store: Store): string | undefined {
    if (store === Store.Queue) return ctx.topology.streams.queue;
    if (store === Store.Delay) return ctx.topology.streams.delay;
    return undefined;
  }

  async function segment(store: Store, seq: number): Promise<SegmentAt | undefined> {
    const key = refKey(store, seq);
    const hit = cache.get(key);
    if (hit) return hit;
    const stream = streamOf(store);
    if (!stream) return undefined;
    const m = await ctx.reader.get(stream, { seq });
    if (!m) return undefined;
    let at: SegmentAt;
    try {
      at = { store, seq, seg: decodeSegment(m.data) };
    } catch {
      return undefined;
    }
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
    cache.set(key, at);
    return at;
  }

  async function readSegmentState(store: Store, seq: number): Promise<JobAt | undefined> {
    const at = await segment(store, seq);
    if (!at) return undefined;
    const journal = await ctx.journals.read(store, seq, at.seg.jobs.length);
    return { at, idx: 0, journal, slots: journal.slots };
  }

  async function readAt(store: Store, seq: number, idx: number, memo?: ReadMemo): Promise<JobAt | undefined> {
    let p: Promise<JobAt | undefined>;
    if (memo) {
      const key = refKey(store, seq);
      const hit = memo.get(key);
      p = hit ?? readSegmentState(store, seq);
      if (!hit) memo.set(key, p);
    } else p = readSegmentState(store, seq);
    const s = await p;
    if (!s || idx < 0 || idx >= s.at.seg.jobs.length) return undefined;
    return { ...s, idx };
  }

  async function findHome(id: string): Promise<{ store: Store; seq: number; idx: number } | undefined> {
    const d = decodeJobId(id);
    if (d) {
      const at = await segment(d.store, d.seq);
      if (at) {
        const addr = derivedAddressMatches(id, at);
        if (addr) return addr;
      }
    }
    // Client-chosen ids are lowercase UUIDv7 (the enqueue schema); anything else was never stored,
    // and may not even be a valid KV key (`%`, spaces, `..`).
    if (!idPattern.test(id)) return undefined;
    const e = await ctx.buckets.ids.get(id);
    if (!e || e.operation !== "PUT") return undefined;
    let rec: IdRecord;
    try {
      rec = JSON.parse(dec.decode(e.value)) as IdRecord;
    } catch {
      return undefined;
    }
    if (rec.ref === undefined || rec.ti === undefined) return undefined;
    const { store, seq } = parseRefKey(rec.ref);
    return { store, seq, idx: rec.ti };
  }

  async function follow(
    id: string,
    from: JobAt,
    first: { to: RefKey; ti: number } | undefined,
    memo: ReadMemo | undefined,
  ): Promise<JobAt> {
    let cur = from;
    let next = first;
    for (let hop = 0; next && hop < MAX_HOPS; hop++) {
      const { store, seq } = parseRefKey(next.to);
      const target = await readAt(store, seq, next.ti, memo);
      if (!target || indexOfJob(target.at, id) !== target.idx) break;
      cur = target;
      next = forwardOf(target.slots[target.idx]!);
    }
    return cur;
  }

  return {
    async locate(id, memo) {
      const addr = await findHome(id);
      if (!addr) return undefined;
      const home = await readAt(addr.store, addr.seq, addr.idx, memo);
      if (!home) return undefined;
      const homeSlot = home.slots[home.idx]!;
      let cur = await follow(id, home, homeSlot.loc ?? forwardOf(homeSlot), memo);
      // A `loc` pointer may lag behind a later move; the forward chain from it catches up.
      if (cur !== home && homeSlot.loc) cur = await follow(id, cur, forwardOf(cur.slots[cur.idx]!), memo);
      if (cur === home) return { id, ...home };
      return { id, ...cur, home };
    },
    segment,
    readAt,
    remember(at) {
      const key = refKey(at.store, at.seq);
      if (cache.has(key)) return;
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
      cache.set(key, at);
    },
    clear() {
      cache.clear();
    },
  };
}
