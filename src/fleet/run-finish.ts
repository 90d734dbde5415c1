/**
 * Finishing a fleet job once every target is final (run.ts): the record gets its status and counts
 * by compare-and-set, so a controller that lost the job to another (a newer epoch) cannot overwrite
 * it; then the `finished` event, and the job's removal is scheduled.
 */
import { WrongSequenceError } from "../nats/publisher.js";
import { scheduleFleetRemoval } from "../store/retention/fleet.js";
import { allTerminal, countHosts, finalStatus } from "./fold.js";
import type { RunState } from "./run-state.js";
import { controllerEvent, endRun } from "./run-state.js";
import type { FleetRecord, FleetStatus } from "./types.js";

/** Finishes the job when the timeline is caught up and every host is final. */
export function checkFinished(s: RunState): void {
  if (s.caughtUp && !s.ended && allTerminal(s.folds)) void finishRun(s);
}

/** Writes the final record (or ends the run when someone else owns or finished it); never throws. */
export async function finishRun(s: RunState): Promise<void> {
  if (s.finishing || s.ended) return;
  s.finishing = true;
  const { deps } = s;
  const { ctx } = deps;
  const id = s.rec.id;
  try {
    const counts = countHosts(s.folds.values());
    const status: FleetStatus = finalStatus(counts);
    let rev = s.revision;
    let cur = s.rec;
    const finishedAt = Date.now();
    for (;;) {
      const next: FleetRecord = { ...cur, status, finished_at: finishedAt, counts };
      try {
        s.revision = await deps.records.update(`j.${id}`, next, rev);
        break;
      } catch (err) {
        if (!(err instanceof WrongSequenceError)) throw err;
        const fresh = await deps.records.get(`j.${id}`);
        if (!fresh.value || fresh.value.epoch !== s.rec.epoch || fresh.value.status !== "running") {
          endRun(s); // someone else owns or finished it
          return;
        }
        cur = fresh.value;
        rev = fresh.revision;
      }
    }
    await controllerEvent(s, "finished", undefined, { status, counts });
    await ctx.buckets.fleet.delete(`x.${id}`).catch(deps.onError);
    await scheduleFleetRemoval(ctx, id, finishedAt + ctx.retention.fleetMs).catch(deps.onError);
    endRun(s);
  } catch (err) {
    s.finishing = false;
    deps.onError(err);
  }
}
