/**
 * Removal checks: small messages in the GC stream, on one subject per due minute (`<prefix>.gc.<m>`),
 * each naming what to look at and when. The housekeeper loads a minute's checks when it comes near
 * and runs each at its due time (like the delay promoter runs delay buckets), then deletes the check.
 * A check run twice does no harm: every step of a removal is idempotent.
 *
 * What a check names (`refs`):
 * - `s.<store>.<seq>[.<flags>]`: a segment: remove it if all its jobs are past their retention,
 *   else check again later (flags: {@link CountFlag});
 * - `j.<store>.<seq>`: a removed segment's journal, purged after a grace period;
 * - `f.<id>`: a fleet job, removed with its timeline once finished and past its retention.
 */
import type { Store } from "../../core/ids.js";
import type { StoreContext } from "../infra/context.js";

export interface CheckRecord {
  v: 1;
  /** When to run it (ms). */
  due: number;
  refs: string[];
}

export type CheckRef =
  | { kind: "segment"; store: Store; seq: number; flags: number }
  | { kind: "journal"; store: Store; seq: number }
  | { kind: "fleet"; id: string };

export const segmentRef = (store: Store, seq: number, flags = 0): string =>
  flags ? `s.${store}.${seq}.${flags}` : `s.${store}.${seq}`;
export const journalRef = (store: Store, seq: number): string => `j.${store}.${seq}`;
export const fleetRef = (id: string): string => `f.${id}`;

export function parseRef(ref: string): CheckRef | undefined {
  const parts = ref.split(".");
  if (parts[0] === "f" && parts.length === 2 && parts[1]) return { kind: "fleet", id: parts[1] };
  const store = Number(parts[1]) as Store;
  const seq = Number(parts[2]);
  if (!Number.isInteger(store) || !Number.isInteger(seq) || seq < 1) return undefined;
  if (parts[0] === "s" && parts.length <= 4)
    return { kind: "segment", store, seq, flags: parts[3] === undefined ? 0 : Number(parts[3]) || 0 };
  if (parts[0] === "j" && parts.length === 3) return { kind: "journal", store, seq };
  return undefined;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function decodeCheck(data: Uint8Array): CheckRecord | undefined {
  try {
    const v = JSON.parse(dec.decode(data)) as Partial<CheckRecord>;
    if (v.v !== 1 || typeof v.due !== "number" || !Array.isArray(v.refs)) return undefined;
    return { v: 1, due: v.due, refs: v.refs.filter((r): r is string => typeof r === "string") };
  } catch {
    return undefined;
  }
}

/** Most refs in one check message (a walk that finds thousands of segments writes several). */
const MAX_REFS = 1000;

/** Checks due within the same second are written as one message. */
const GROUP_MS = 1000;

/**
 * Writes checks for `items` (ref + due time), grouped by due second. A due time in the past lands in
 * the current minute's subject, so every check is in a minute the housekeeper still reads.
 */
export async function scheduleChecks(
  ctx: StoreContext,
  items: ReadonlyArray<{ ref: string; due: number }>,
): Promise<Array<{ seq: number; record: CheckRecord }>> {
  const groups = new Map<number, string[]>();
  for (const it of items) {
    const key = Math.ceil(it.due / GROUP_MS) * GROUP_MS;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(it.ref);
  }
  const written: Array<{ seq: number; record: CheckRecord }> = [];
  const now = Date.now();
  for (const [due, refs] of groups) {
    for (let k = 0; k < refs.length; k += MAX_REFS) {
      const record: CheckRecord = { v: 1, due, refs: refs.slice(k, k + MAX_REFS) };
      const minute = Math.floor(Math.max(due, now) / 60_000);
      const ack = await ctx.publisher.publish(ctx.subjects.gc(minute), enc.encode(JSON.stringify(record)));
      written.push({ seq: ack.seq, record });
    }
  }
  return written;
}
