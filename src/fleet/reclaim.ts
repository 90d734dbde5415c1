/**
 * Taking over orphaned fleet jobs. Each controller scans the active index (`x.<job>` = owner) every
 * `reclaimScanMs`: only running jobs are listed, so the cost follows the number of running jobs, not
 * of all jobs. A job whose owner has no live heartbeat in `reclaimAfterMisses` scans in a row is taken
 * with a compare-and-set that raises its epoch; agents refuse dispatches of the older epoch. A job
 * taken over more than `reclaimCap` times is finished as failed instead. Nothing is taken over while
 * the registry cannot be read: an unreadable registry never reads as "everyone is dead".
 */
import type { StoreContext } from "../store/infra/context.js";
import type { FastKv } from "../store/infra/kvfast.js";
import { keysOf } from "../store/infra/kvjson.js";
import { WrongSequenceError } from "../nats/publisher.js";
import { scheduleFleetRemoval } from "../store/retention/fleet.js";
import type { BackgroundTask } from "../store/infra/tasks.js";
import { periodicTask } from "../store/infra/tasks.js";
import type { FleetTimings } from "./options.js";
import type { RegistryView } from "./registry.js";
import type { JobRun } from "./run.js";
import { appendEvent } from "./timeline.js";
import type { FleetRecord } from "./types.js";

export interface ReclaimerDeps {
  ctx: StoreContext;
  records: FastKv<FleetRecord>;
  registry: RegistryView;
  timings: FleetTimings;
  id: string;
  runs: Map<string, JobRun>;
  adopt: (rec: FleetRecord, revision: number) => Promise<void>;
  onError: (err: unknown) => void;
}

const dec = new TextDecoder();

/** The reclaimer as a background task on every API server: a scan every `reclaimScanMs`. */
export function reclaimTask(d: ReclaimerDeps): BackgroundTask {
  const misses = new Map<string, number>();

  async function scan(): Promise<void> {
    const live = d.registry.liveControllers();
    live.add(d.id);
    const kv = d.ctx.buckets.fleet;
    const keys = await keysOf(kv, "x.>");
    const seen = new Set<string>();
    for (const key of keys) {
      const jobId = key.slice(2);
      seen.add(jobId);
      if (d.runs.has(jobId)) continue;
      const e = await kv.get(key);
      if (!e || e.operation !== "PUT") continue;
      const owner = dec.decode(e.value);
      if (live.has(owner)) {
        misses.delete(jobId);
        continue;
      }
      const n = (misses.get(jobId) ?? 0) + 1;
      misses.set(jobId, n);
      if (n >= d.timings.reclaimAfterMisses) {
        misses.delete(jobId);
        await takeOver(jobId, owner).catch(d.onError);
      }
    }
    for (const k of misses.keys()) if (!seen.has(k)) misses.delete(k);
  }

  async function takeOver(jobId: string, deadOwner: string): Promise<void> {
    const cur = await d.records.get(`j.${jobId}`);
    const rec = cur.value;
    if (!rec || rec.status !== "running") {
      await d.ctx.buckets.fleet.delete(`x.${jobId}`); // a finished job's index entry left behind
      return;
    }
    if (rec.owner !== deadOwner) return; // someone took it since the index was written
    const now = Date.now();
    const capped = rec.reclaims >= d.timings.reclaimCap;
    const next: FleetRecord = { ...rec, owner: d.id, epoch: rec.epoch + 1, reclaims: rec.reclaims + 1 };
    if (capped) {
      next.status = "failed";
      next.finished_at = now;
      next.reason = `taken over ${rec.reclaims} times; giving up (reclaim cap ${d.timings.reclaimCap})`;
    }
    let revision: number;
    try {
      revision = await d.records.update(`j.${jobId}`, next, cur.revision);
    } catch (err) {
      if (err instanceof WrongSequenceError) return; // another controller was faster
      throw err;
    }
    await appendEvent(d.ctx, jobId, {
      e: capped ? "finished" : "reclaimed",
      at: now,
      ep: next.epoch,
      by: d.id,
      d: capped ? { status: "failed", reason: next.reason } : { from: deadOwner, to: d.id },
    });
    if (capped) {
      await d.ctx.buckets.fleet.delete(`x.${jobId}`);
      await scheduleFleetRemoval(d.ctx, jobId, now + d.ctx.retention.fleetMs);
      return;
    }
    await d.ctx.buckets.fleet.put(`x.${jobId}`, d.id);
    await d.adopt(next, revision);
  }

  return periodicTask({
    name: "fleet reclaimer",
    scope: "everywhere",
    everyMs: d.timings.reclaimScanMs,
    tick: scan,
    onError: d.onError,
  });
}
