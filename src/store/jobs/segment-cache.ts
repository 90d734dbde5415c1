/**
 * The locator's segment cache (locator.ts): segments are immutable, so a segment read once is kept,
 * up to a number of segments and of jobs in all (segments hold up to 1024 jobs: bounding only their
 * number would let a busy worker keep millions of jobs in memory). The oldest are dropped first.
 * Reading a segment through the cache, and asking JetStream whether one is still stored, are here.
 */
import { Store } from "../../core/ids.js";
import type { StoreContext } from "../infra/context.js";
import type { SegmentAt } from "../segments/segment.js";
import { decodeSegment, refKey } from "../segments/segment.js";

export interface SegmentCache {
  readonly segments: Map<string, SegmentAt>;
  /** Jobs in the cached segments. */
  jobs: number;
  readonly maxSegments: number;
  readonly maxJobs: number;
}

export function newSegmentCache(maxSegments: number, maxJobs: number): SegmentCache {
  return { segments: new Map(), jobs: 0, maxSegments, maxJobs };
}

/** Forgets one segment (by its ref key). */
export function dropSegment(c: SegmentCache, key: string): void {
  const at = c.segments.get(key);
  if (!at) return;
  c.jobs -= at.seg.jobs.length;
  c.segments.delete(key);
}

/** Keeps a segment, dropping the oldest while the cache is full. */
export function keepSegment(c: SegmentCache, key: string, at: SegmentAt): void {
  dropSegment(c, key);
  while (c.segments.size > 0 && (c.segments.size >= c.maxSegments || c.jobs + at.seg.jobs.length > c.maxJobs))
    dropSegment(c, c.segments.keys().next().value!);
  c.segments.set(key, at);
  c.jobs += at.seg.jobs.length;
}

export function clearSegments(c: SegmentCache): void {
  c.segments.clear();
  c.jobs = 0;
}

/** The stream a store's segments are in (none for other stores). */
export function streamOf(ctx: StoreContext, store: Store): string | undefined {
  if (store === Store.Queue) return ctx.topology.streams.queue;
  if (store === Store.Delay) return ctx.topology.streams.delay;
  return undefined;
}

/** A segment and whether it came from the cache; `confirm`: a miss is checked with the stream leader. */
export async function loadSegment(
  ctx: StoreContext,
  c: SegmentCache,
  store: Store,
  seq: number,
  confirm = false,
): Promise<{ at: SegmentAt; cached: boolean } | undefined> {
  const key = refKey(store, seq);
  const hit = c.segments.get(key);
  if (hit) return { at: hit, cached: true };
  const stream = streamOf(ctx, store);
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
  keepSegment(c, key, at);
  return { at, cached: false };
}

/**
 * Whether the segment is still stored, asking JetStream (not the cache); a direct get that finds
 * nothing is confirmed with the stream leader. A segment that is gone is dropped from the cache.
 */
export async function segmentExists(
  ctx: StoreContext,
  c: SegmentCache,
  store: Store,
  seq: number,
): Promise<boolean> {
  const stream = streamOf(ctx, store);
  if (!stream) return false;
  if (await ctx.reader.get(stream, { seq })) return true;
  if (await ctx.jsm.streams.getMessage(stream, { seq })) return true;
  dropSegment(c, refKey(store, seq));
  return false;
}
