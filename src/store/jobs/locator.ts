/**
 * Finding a job by id. A job's first home comes from its id (derived ids) or from the id index
 * (client-chosen ids); from there, the home journal's `loc` pointer (or the chain of forward pointers
 * left by retries and promotions) leads to where the job is now. Segments are immutable, so they are
 * cached; journals are always read fresh.
 *
 * Housekeeping removes segments whose jobs all passed their retention (store/retention): it appends
 * `gone` to the journal, deletes the segment, and purges the journal some minutes later. A job whose
 * slot is gone, or whose pointers lead to a segment that no longer exists, is not found. A cached
 * segment whose journal reads empty is checked again (uncached): after the purge, an empty journal
 * is what a removed segment looks like, and a removed job must never show up as available.
 */
import { decodeJobId, Store } from "../../core/ids.js";
import { idPattern } from "../../core/schema.js";
import type { StoreContext } from "../infra/context.js";
import type { Slot } from "../journal/fold.js";
import { forwardOf, isGone } from "../journal/fold.js";
import type { JournalState } from "../journal/journal.js";
import type { IdRecord } from "./id-index.js";
import type { RefKey, SegmentAt } from "../segments/segment.js";
import {
  decodeSegment,
  derivedAddressMatches,
  indexOfJob,
  parseRefKey,
  refKey,
} from "../segments/segment.js";

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
  /**
   * Whether the segment is still stored, asking JetStream (not the cache); a direct get that finds
   * nothing is confirmed with the stream leader, since a replica may lag behind a fresh write.
   */
  exists(store: Store, seq: number): Promise<boolean>;
  /** Forgets a cached segment (housekeeping removed it). */
  forget(store: Store, seq: number): void;
  /**
   * Reads a location fresh (segment from cache, journal from NATS). `confirm`: a segment a direct get
   * does not find is looked up at the stream leader before it counts as missing.
   */
  readAt(
    store: Store,
    seq: number,
    idx: number,
    memo?: ReadMemo,
    confirm?: boolean,
  ): Promise<JobAt | undefined>;
  /** Caches a segment we already hold (a worker's delivery). */
  remember(at: SegmentAt): void;
  /** Drops cached segments (after an admin reset). */
  clear(): void;
}

const MAX_HOPS = 64;

/**
 * Segments are cached up to `cacheSize` segments and `cacheJobs` jobs in all (segments hold up to
 * 1024 jobs: bounding only their number would let a busy worker keep millions of jobs in memory).
 */
export function createLocator(ctx: StoreContext, cacheSize = 4096, cacheJobs = 32_768): Locator {
  const cache = new Map<string, SegmentAt>();
  let cachedJobs = 0;
  const drop = (key: string) => {
    const at = cache.get(key);
    if (!at) return;
    cachedJobs -= at.seg.jobs.length;
    cache.delete(key);
  };
  const keep = (key: string, at: SegmentAt) => {
    drop(key);
    while (cache.size > 0 && (cache.size >= cacheSize || cachedJobs + at.seg.jobs.length > cacheJobs))
      drop(cache.keys().next().value!);
    cache.set(key, at);
    cachedJobs += at.seg.jobs.length;
  };
  const dec = new TextDecoder();

  function streamOf(store: Store): string | undefined {
    if (store === Store.Queue) return ctx.topology.streams.queue;
    if (store === Store.Delay) return ctx.topology.streams.delay;
    return undefined;
  }

  /** A segment and whether it came from the cache; `confirm`: a miss is checked with the stream leader. */
  async function load(
    store: Store,
    seq: number,
    confirm = false,
  ): Promise<{ at: SegmentAt; cached: boolean } | undefined> {
    const key = refKey(store, seq);
    const hit = cache.get(key);
    if (hit) return { at: hit, cached: true };
    const stream = streamOf(store);
    if (!stream) return undefined;
    let data = (await ctx.reader.get(stream, { seq }))?.data;
    if (!data && confirm) data = (await ctx.jsm.streams.getMessage(stream, { seq }))?.data;
    if (!data) return undefined;
    let at: SegmentAt;
    try {
      at = { store, seq, seg: decodeSegment(data) };
    } catch {
      return undefined;
    }
    keep(key, at);
    return { at, cached: false };
  }

  async function segment(store: Store, seq: number): Promise<SegmentAt | undefined> {
    return (await load(store, seq))?.at;
  }

  async function exists(store: Store, seq: number): Promise<boolean> {
    const stream = streamOf(store);
    if (!stream) return false;
    if (await ctx.reader.get(stream, { seq })) return true;
    if (await ctx.jsm.streams.getMessage(stream, { seq })) return true;
    drop(refKey(store, seq));
    return false;
  }

  async function readSegmentState(store: Store, seq: number, confirm: boolean): Promise<JobAt | undefined> {
    const loaded = await load(store, seq, confirm);
    if (!loaded) return undefined;
    const { at } = loaded;
    const journal = await ctx.journals.read(store, seq, at.seg.jobs.length);
    // An empty journal and a segment from the cache: the segment may have been removed since.
    if (journal.lastSeq === 0 && loaded.cached && !(await exists(store, seq))) return undefined;
    return { at, idx: 0, journal, slots: journal.slots };
  }

  async function readAt(
    store: Store,
    seq: number,
    idx: number,
    memo?: ReadMemo,
    confirm = false,
  ): Promise<JobAt | undefined> {
    let p: Promise<JobAt | undefined>;
    if (memo) {
      const key = refKey(store, seq);
      const hit = memo.get(key);
      p = hit ?? readSegmentState(store, seq, confirm);
      if (!hit) memo.set(key, p);
    } else p = readSegmentState(store, seq, confirm);
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

  /**
   * Follows forward pointers from `from`. `undefined`: the job was removed on the way (a gone slot,
   * or a segment that no longer exists: pointers only ever lead to segments stored before them).
   */
  async function follow(
    id: string,
    from: JobAt,
    first: { to: RefKey; ti: number } | undefined,
    memo: ReadMemo | undefined,
  ): Promise<JobAt | undefined> {
    let cur = from;
    let next = first;
    for (let hop = 0; next && hop < MAX_HOPS; hop++) {
      const { store, seq } = parseRefKey(next.to);
      const target = await readAt(store, seq, next.ti, memo, true);
      if (!target) return undefined;
      if (indexOfJob(target.at, id) !== target.idx) break;
      const slot = target.slots[target.idx]!;
      if (isGone(slot)) return undefined;
      cur = target;
      next = forwardOf(slot);
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
      if (isGone(homeSlot)) return undefined;
      let cur = await follow(id, home, homeSlot.loc ?? forwardOf(homeSlot), memo);
      // A `loc` pointer may lag behind a later move; the forward chain from it catches up.
      if (cur && cur !== home && homeSlot.loc)
        cur = await follow(id, cur, forwardOf(cur.slots[cur.idx]!), memo);
      if (!cur) return undefined;
      if (cur === home) return { id, ...home };
      return { id, ...cur, home };
    },
    segment,
    exists,
    forget(store, seq) {
      drop(refKey(store, seq));
    },
    readAt,
    remember(at) {
      const key = refKey(at.store, at.seq);
      if (cache.has(key)) return;
      keep(key, at);
    },
    clear() {
      cache.clear();
      cachedJobs = 0;
    },
  };
}
