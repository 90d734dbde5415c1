/**
 * Job ids are lowercase UUIDv7 (RFC 9562). Ids that jetjob generates also say where the job was first
 * stored, so a job can be found by id without writing an index entry per job:
 *
 * ```
 *  48 bits  unix time in ms (the segment's timestamp)
 *   4 bits  version 7
 *  12 bits  store (4) | high 8 bits of the segment's stream sequence
 *   2 bits  variant 10
 *  62 bits  low 32 bits of the sequence | index in the segment (10) | random (20)
 * ```
 *
 * The random part is chosen once per segment and stored in it; a lookup checks the whole id against
 * the segment, so a client-chosen UUIDv7 that happens to decode to a real location is not mistaken for
 * it (client-chosen ids are found through the id index instead). RFC 9562 allows the non-time bits of a
 * UUIDv7 to carry a counter, which is what the sequence is.
 */
import { createHash, randomBytes } from "node:crypto";

/** Where a job's first home lives (the `store` bits of its id). */
export const Store = {
  /** A segment in the queue stream. */
  Queue: 1,
  /** A segment in the delay stream (scheduled and retrying jobs). */
  Delay: 2,
  /** A targeted (fleet) job record. */
  Fleet: 3,
} as const;
export type Store = (typeof Store)[keyof typeof Store];

const stores: ReadonlySet<number> = new Set(Object.values(Store));

/** One job slot: segment `seq` in `store`, position `idx`. */
export interface JobAddress {
  store: Store;
  seq: number;
  idx: number;
}

/** Everything needed to derive a job id. */
export interface EncodedId extends JobAddress {
  timeMs: number;
  rnd: number;
}

export const MAX_SEGMENT_JOBS = 1024;
const MAX_SEQ = 2 ** 40;
const TWO32 = 2 ** 32;

export const uuidv7Pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let randomPool = Buffer.alloc(0);
let randomAt = 0;

let idPool = Buffer.alloc(0);
let idAt = 0;

/** 10 random bytes for {@link uuidv7}, cut from a block drawn 256 ids at a time (one per request id). */
function idRandom(): Buffer {
  if (idAt + 10 > idPool.length) {
    idPool = randomBytes(10 * 256);
    idAt = 0;
  }
  idAt += 10;
  return idPool.subarray(idAt - 10, idAt);
}

/** A random 20-bit value for a new segment. */
export function segmentRandom(): number {
  // Random bytes are drawn in blocks: one crypto call per segment is a measurable cost at low load.
  if (randomAt + 3 > randomPool.length) {
    randomPool = randomBytes(3 * 256);
    randomAt = 0;
  }
  const b = randomPool;
  const i = randomAt;
  randomAt += 3;
  return ((b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!) & 0xfffff;
}

/** Builds the id of job `idx` in segment `seq` of `store`. */
export function encodeJobId(e: EncodedId): string {
  return encodeJobIdWithPrefix(jobIdPrefix(e.timeMs, e.store, e.seq), e.seq, e.idx, e.rnd);
}

/**
 * The first 28 characters of the ids of every job of one segment (time, store and most of the
 * sequence); {@link encodeJobIdWithPrefix} adds the rest. Jobs of a segment share it.
 */
export function jobIdPrefix(timeMs: number, store: number, seq: number): string {
  if (!Number.isInteger(timeMs) || timeMs < 0 || timeMs >= 2 ** 48)
    throw new RangeError(`bad timeMs ${timeMs}`);
  if (!Number.isInteger(seq) || seq < 1 || seq >= MAX_SEQ) throw new RangeError(`bad seq ${seq}`);
  const seqHi8 = Math.floor(seq / TWO32);
  const seqLo32 = seq % TWO32;
  const randA = (store << 8) | seqHi8;
  const variant = 0b1000 | (seqLo32 >>> 30);
  const top28 = (seqLo32 & 0x3fffffff) >>> 2;
  const hex =
    hexPad(timeMs, 12) + "7" + hexPad(randA, 3) + variant.toString(16) + hexPad(top28, 7) + "00000000";
  return formatUuid(hex).slice(0, 28);
}

/** A job id from its segment's {@link jobIdPrefix}: the low 32 bits carry the sequence's last 2 bits, `idx` and `rnd`. */
export function encodeJobIdWithPrefix(prefix: string, seq: number, idx: number, rnd: number): string {
  if (!Number.isInteger(rnd) || rnd < 0 || rnd > 0xfffff) throw new RangeError(`bad rnd ${rnd}`);
  if (!Number.isInteger(idx) || idx < 0 || idx >= MAX_SEGMENT_JOBS) throw new RangeError(`bad idx ${idx}`);
  const low32 = ((((seq % TWO32) & 3) << 30) | (idx << 20) | (rnd & 0xfffff)) >>> 0;
  return (
    prefix + HEX[low32 >>> 24]! + HEX[(low32 >>> 16) & 255]! + HEX[(low32 >>> 8) & 255]! + HEX[low32 & 255]!
  );
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Reads the location bits of an id; `undefined` when it cannot be one of ours. */
export function decodeJobId(id: string): EncodedId | undefined {
  if (!uuidv7Pattern.test(id)) return undefined;
  const hex = id.replaceAll("-", "");
  const timeMs = parseInt(hex.slice(0, 12), 16);
  const randA = parseInt(hex.slice(13, 16), 16);
  const variant = parseInt(hex.slice(16, 17), 16);
  const top28 = parseInt(hex.slice(17, 24), 16);
  const low32 = parseInt(hex.slice(24, 32), 16);
  const store = randA >>> 8;
  if (!stores.has(store)) return undefined;
  const seqHi8 = randA & 0xff;
  const seqLo30 = (top28 << 2) | (low32 >>> 30);
  const seqLo32 = ((variant & 0b11) * 2 ** 30 + (seqLo30 >>> 0)) >>> 0;
  const seq = seqHi8 * TWO32 + seqLo32;
  const idx = (low32 >>> 20) & 0x3ff;
  const rnd = low32 & 0xfffff;
  if (seq < 1) return undefined;
  return { store: store as Store, seq, idx, rnd, timeMs };
}

/** A random UUIDv7 (for request ids, worker ids, and ids of records outside segments). */
export function uuidv7(timeMs: number = Date.now()): string {
  if (!Number.isInteger(timeMs) || timeMs < 0 || timeMs >= 2 ** 48)
    throw new RangeError(`bad timeMs ${timeMs}`);
  const r = idRandom();
  const randA = ((r[0]! << 8) | r[1]!) & 0xfff;
  const variant = 0b1000 | (r[2]! & 0b11);
  let rest = "";
  for (let i = 3; i < 10; i++) rest += r[i]!.toString(16).padStart(2, "0");
  // 7 random bytes = 14 hex; we need 15 hex after the variant nibble: add one more nibble.
  const hex =
    hexPad(timeMs, 12) + "7" + hexPad(randA, 3) + variant.toString(16) + (r[2]! >>> 4).toString(16) + rest;
  return formatUuid(hex);
}

/**
 * A UUIDv7 whose random part is derived from `seed`: the same (time, seed) always gives the same id.
 * Used for ids that must be stable across retries, such as the job of one cron tick.
 */
export function uuidv7Derived(timeMs: number, seed: string): string {
  if (!Number.isInteger(timeMs) || timeMs < 0 || timeMs >= 2 ** 48)
    throw new RangeError(`bad timeMs ${timeMs}`);
  const h = createHash("sha256").update(seed).digest();
  const randA = ((h[0]! << 8) | h[1]!) & 0xfff;
  const variant = 0b1000 | (h[2]! & 0b11);
  let rest = (h[3]! >>> 4).toString(16);
  for (let i = 4; i < 11; i++) rest += h[i]!.toString(16).padStart(2, "0");
  return formatUuid(hexPad(timeMs, 12) + "7" + hexPad(randA, 3) + variant.toString(16) + rest);
}

/**
 * A job id in jetjob's own format (store bits included) whose location bits are derived from `seed`:
 * the same (store, time, seed) always gives the same id. Used where a record outside the segments
 * needs an id that is stable across retries, such as the fleet job of one cron tick.
 */
export function derivedJobId(store: Store, timeMs: number, seed: string): string {
  const h = createHash("sha256").update(seed).digest();
  const seq = 1 + (h.readUIntBE(0, 6) % (MAX_SEQ - 1));
  return encodeJobId({
    store,
    seq,
    idx: h.readUInt16BE(6) % MAX_SEGMENT_JOBS,
    rnd: h.readUIntBE(8, 3) & 0xfffff,
    timeMs,
  });
}

/** The ms timestamp of any UUIDv7. */
export function uuidv7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

function hexPad(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

function formatUuid(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
