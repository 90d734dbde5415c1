/**
 * Retention of fleet (targeted) jobs: once finished and past the fleet retention, a job's record
 * (`j.<id>`), its index entry and its whole timeline (per-host events and results) are removed.
 *
 * The controller writes a check when it creates a job (due at the deadline plus the retention, so a
 * job is never forgotten, whatever crashes) and another when it finishes it (due at the finish plus
 * the retention, so the job goes on time). The stream's age limit is a backstop behind this.
 */
import { decodeJobId, Store } from "../../core/ids.js";
import type { StoreContext } from "../infra/context.js";
import { eraseKey } from "../infra/kvjson.js";
import { fleetRef, scheduleChecks } from "./records.js";

/** Writes a removal check for fleet job `id`, due at `atMs`. */
export async function scheduleFleetRemoval(ctx: StoreContext, id: string, atMs: number): Promise<void> {
  await scheduleChecks(ctx, [{ ref: fleetRef(id), due: atMs }]);
}

export type FleetCheckResult = { kind: "removed" } | { kind: "recheck"; at: number } | { kind: "missing" };

const dec = new TextDecoder();

/**
 * The fields of a fleet job's record (`FleetRecord` in fleet/types.ts) that retention reads. Declared
 * here so the store does not import the fleet layer that is built on it.
 */
interface FleetRecordTimes {
  status: string;
  created_at: number;
  finished_at?: number;
}

/** Removes a finished fleet job past its retention, or says when to look again. */
export async function checkFleetJob(
  ctx: StoreContext,
  id: string,
  activeRecheckMaxMs: number,
): Promise<FleetCheckResult> {
  // A fleet id (fleet/ids.ts isFleetId): its store bits say "fleet record".
  if (decodeJobId(id)?.store !== Store.Fleet) return { kind: "missing" };
  const e = await ctx.buckets.fleet.get(`j.${id}`);
  let rec: FleetRecordTimes | undefined;
  if (e && e.operation === "PUT") {
    try {
      rec = JSON.parse(dec.decode(e.value)) as FleetRecordTimes;
    } catch {
      rec = undefined;
    }
  }
  const now = Date.now();
  const keepMs = ctx.retention.fleetMs;
  if (rec && rec.status === "running")
    return { kind: "recheck", at: now + Math.min(keepMs, activeRecheckMaxMs) };
  if (rec) {
    const due = (rec.finished_at ?? rec.created_at) + keepMs;
    if (due > now) return { kind: "recheck", at: due };
  }
  await ctx.jsm.streams.purge(ctx.topology.streams.fleet, { filter: ctx.subjects.fleetTimelineAll(id) });
  const bucket = ctx.topology.buckets.fleet;
  await eraseKey(ctx.jsm, bucket, `x.${id}`);
  await eraseKey(ctx.jsm, bucket, `j.${id}`);
  return rec ? { kind: "removed" } : { kind: "missing" };
}
