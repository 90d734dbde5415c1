/**
 * A segment is one stored message holding 1..1024 jobs of one queue and priority (or, in the delay
 * stream, one due time). Producers coalesce concurrent enqueues into segments, which is how jetjob
 * writes far fewer messages than jobs on its hot path. A job is addressed by (store, seq, idx);
 * its id is derived from that address (see core/ids.ts) unless the job carries an explicit id.
 */
import type { JobSpec } from "../../core/envelope.js";
import { BackendError } from "../../core/errors.js";
import type { JobAddress, Store } from "../../core/ids.js";
import { decodeJobId, encodeJobIdWithPrefix, jobIdPrefix } from "../../core/ids.js";

export interface Segment {
  v: 1;
  /** Creation time (ms); the time part of derived job ids. */
  ts: number;
  /** 20 random bits shared by the segment's derived job ids. */
  r: number;
  /** Queue. */
  q: string;
  /** Priority. */
  p: number;
  /** Delay segments: when the jobs become available (ms). */
  due?: number;
  /** Its mover announces the pointers to its jobs once they are stored (local-moves.ts). */
  an?: 1;
  jobs: JobSpec[];
}

/** A stored segment and where it is. */
export interface SegmentAt {
  store: Store;
  seq: number;
  seg: Segment;
}

/** `store.seq`, the text form of a segment reference used in journals. */
export type RefKey = string;

export function refKey(store: Store, seq: number): RefKey {
  return `${store}.${seq}`;
}

export function parseRefKey(key: RefKey): { store: Store; seq: number } {
  const dot = key.indexOf(".");
  return { store: Number(key.slice(0, dot)) as Store, seq: Number(key.slice(dot + 1)) };
}

/**
 * `store.seq.idx`, one job's place: a moved job's first home (`JobSpec.home`, where its `loc` pointer
 * lives) and an exclusive key holder's `ref`. Made and read only here, never formatted by hand.
 */
export type JobRef = `${number}.${number}.${number}`;

export function jobRef(store: Store, seq: number, idx: number): JobRef {
  return `${store}.${seq}.${idx}`;
}

export function parseJobRef(key: string): { store: Store; seq: number; idx: number } {
  const [store, seq, idx] = key.split(".").map(Number);
  return { store: store as Store, seq: seq!, idx: idx! };
}

/** The id of job `idx` of a stored segment. */
export function jobIdAt(at: SegmentAt, idx: number): string {
  const explicit = at.seg.jobs[idx]?.id;
  if (explicit !== undefined) return explicit;
  let ids = idCache.get(at);
  if (ids === undefined) {
    ids = { prefix: jobIdPrefix(at.seg.ts, at.store, at.seq), ids: [] };
    idCache.set(at, ids);
  }
  return (ids.ids[idx] ??= encodeJobIdWithPrefix(ids.prefix, at.seq, idx, at.seg.r));
}

/**
 * Ids already derived per stored segment (a job's id is asked for several times on its way through).
 * A `SegmentAt` is never changed once made, so its object is the key.
 */
const idCache = new WeakMap<SegmentAt, { prefix: string; ids: string[] }>();

/** Where a derived id says the job was first stored, if it really is one of ours (checked against the segment). */
export function derivedAddressMatches(id: string, at: SegmentAt): JobAddress | undefined {
  const d = decodeJobId(id);
  if (!d || d.store !== at.store || d.seq !== at.seq) return undefined;
  if (d.timeMs !== at.seg.ts || d.rnd !== at.seg.r) return undefined;
  const spec = at.seg.jobs[d.idx];
  if (!spec || spec.id !== undefined) return undefined;
  return { store: d.store, seq: d.seq, idx: d.idx };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeSegment(seg: Segment): Uint8Array {
  return enc.encode(JSON.stringify(seg));
}

export function decodeSegment(data: Uint8Array): Segment {
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(data));
  } catch (err) {
    throw new BackendError("unreadable segment", { cause: err });
  }
  if (!isSegment(v)) throw new BackendError("malformed segment");
  return v;
}

function isSegment(v: unknown): v is Segment {
  if (!v || typeof v !== "object") return false;
  const s = v as Partial<Segment>;
  return (
    s.v === 1 &&
    typeof s.ts === "number" &&
    typeof s.r === "number" &&
    typeof s.q === "string" &&
    typeof s.p === "number" &&
    Array.isArray(s.jobs)
  );
}

/** Index of the job with this id in a segment, or -1. */
export function indexOfJob(at: SegmentAt, id: string): number {
  const derived = derivedAddressMatches(id, at);
  if (derived) return derived.idx;
  return at.seg.jobs.findIndex((j) => j.id === id);
}
