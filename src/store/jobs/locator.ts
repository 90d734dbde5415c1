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
import type { Store } from "../../core/ids.js";
import { decodeJobId } from "../../core/ids.js";
import { idPattern } from "../../core/schema.js";
import type { StoreContext } from "../infra/context.js";
import type { Slot } from "../journal/fold.js";
import { forwardOf, isGone } from "../journal/fold.js";
import type { JournalState } from "../journal/journal.js";
import type { IdRecord } from "./id-index.js";
import type { RefKey, SegmentAt } from "../segments/segment.js";
import { derivedAddressMatches, indexOfJob, parseRefKey, refKey } from "../segments/segment.js";
import type { SegmentCache } from "./segment-cache.js";
import {
  clearSegments,
  dropSegment,
  keepSegment,
  loadSegment,
  newSegmentCache,
  segmentExists,
} from "./segment-cache.js";

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
  /** The segment if it is cached (no read). */
  cached(store: Store, seq: number): SegmentAt | undefined;
  /** Drops cached segments (after an admin reset). */
  clear(): void;
}

const MAX_HOPS = 64;
const dec = new TextDecoder();

/** What the locator holds: its context and its segment cache. */
interface LocatorState {
  ctx: StoreContext;
  cache: SegmentCache;
}

/**
 * Segments are cached up to `cacheSize` segments and `cacheJobs` jobs in all (segment-cache.ts).
 */
export function createLocator(ctx: StoreContext, cacheSize = 4096, cacheJobs = 32_768): Locator {
  const s: LocatorState = { ctx, cache: newSegmentCache(cacheSize, cacheJobs) };
  const { cache } = s;
  return {
    locate: (id, memo) => locateJob(s, id, memo),
    segment: async (store, seq) => (await loadSegment(ctx, cache, store, seq))?.at,
    exists: (store, seq) => segmentExists(ctx, cache, store, seq),
    forget(store, seq) {
      dropSegment(cache, refKey(store, seq));
    },
    readAt: (store, seq, idx, memo, confirm = false) => readAt(s, store, seq, idx, memo, confirm),
    remember(at) {
      const key = refKey(at.store, at.seq);
      if (cache.segments.has(key)) return;
      keepSegment(cache, key, at);
    },
    cached: (store, seq) => cache.segments.get(refKey(store, seq)),
    clear() {
      clearSegments(cache);
    },
  };
}

/** Where the job is now: its home, then the `loc` pointer and the forward chain from there. */
async function locateJob(
  s: LocatorState,
  id: string,
  memo: ReadMemo | undefined,
): Promise<Located | undefined> {
  const addr = await findHome(s, id);
  if (!addr) return undefined;
  const home = await readAt(s, addr.store, addr.seq, addr.idx, memo);
  if (!home) return undefined;
  const homeSlot = home.slots[home.idx]!;
  if (isGone(homeSlot)) return undefined;
  let cur = await follow(s, id, home, homeSlot.loc ?? forwardOf(homeSlot), memo);
  // A `loc` pointer may lag behind a later move; the forward chain from it catches up.
  if (cur && cur !== home && homeSlot.loc)
    cur = await follow(s, id, cur, forwardOf(cur.slots[cur.idx]!), memo);
  if (!cur) return undefined;
  if (cur === home) return { id, ...home };
  return { id, ...cur, home };
}

/** A segment with its journal read fresh; undefined when it is gone. */
async function readSegmentState(
  s: LocatorState,
  store: Store,
  seq: number,
  confirm: boolean,
): Promise<JobAt | undefined> {
  const loaded = await loadSegment(s.ctx, s.cache, store, seq, confirm);
  if (!loaded) return undefined;
  const { at } = loaded;
  const journal = await s.ctx.journals.read(store, seq, at.seg.jobs.length);
  // An empty journal and a segment from the cache: the segment may have been removed since.
  if (journal.lastSeq === 0 && loaded.cached && !(await segmentExists(s.ctx, s.cache, store, seq))) {
    return undefined;
  }
  return { at, idx: 0, journal, slots: journal.slots };
}

/** The job at `idx` of a segment (see {@link Locator.readAt}); `memo` shares segment reads. */
async function readAt(
  s: LocatorState,
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
    p = hit ?? readSegmentState(s, store, seq, confirm);
    if (!hit) memo.set(key, p);
  } else p = readSegmentState(s, store, seq, confirm);
  const state = await p;
  if (!state || idx < 0 || idx >= state.at.seg.jobs.length) return undefined;
  return { ...state, idx };
}

/** A job's first home: from its id (derived ids) or from the id index (client-chosen ids). */
async function findHome(
  s: LocatorState,
  id: string,
): Promise<{ store: Store; seq: number; idx: number } | undefined> {
  const d = decodeJobId(id);
  if (d) {
    const at = (await loadSegment(s.ctx, s.cache, d.store, d.seq))?.at;
    if (at) {
      const addr = derivedAddressMatches(id, at);
      if (addr) return addr;
    }
  }
  // Client-chosen ids are lowercase UUIDv7 (the enqueue schema); anything else was never stored,
  // and may not even be a valid KV key (`%`, spaces, `..`).
  if (!idPattern.test(id)) return undefined;
  const e = await s.ctx.buckets.ids.get(id);
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
  s: LocatorState,
  id: string,
  from: JobAt,
  first: { to: RefKey; ti: number } | undefined,
  memo: ReadMemo | undefined,
): Promise<JobAt | undefined> {
  let cur = from;
  let next = first;
  for (let hop = 0; next && hop < MAX_HOPS; hop++) {
    const { store, seq } = parseRefKey(next.to);
    const target = await readAt(s, store, seq, next.ti, memo, true);
    if (!target) return undefined;
    if (indexOfJob(target.at, id) !== target.idx) break;
    const slot = target.slots[target.idx]!;
    if (isGone(slot)) return undefined;
    cur = target;
    next = forwardOf(slot);
  }
  return cur;
}
