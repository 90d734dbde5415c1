/**
 * The owner's side of one running fleet job: follows the job's timeline, re-sends the job once to
 * targets that stay silent for the ack window, marks targets unreachable (no acknowledgement after the
 * re-send, or their agent went away) or timed out (deadline), and finishes the job when every target
 * is final. Finishing is a compare-and-set on the record, so a controller that lost the job to another
 * (a newer epoch) cannot overwrite it.
 *
 * Parts: the run's state and its small steps (run-state.ts), finishing (run-finish.ts), the timers
 * (run-timers.ts); here starting a run and following its timeline.
 */
import { ErrorCode, JetjobError } from "../core/errors.js";
import type { HostFold } from "./fold.js";
import { applyEvent, newHostFolds } from "./fold.js";
import { checkFinished } from "./run-finish.js";
import type { RunDeps, RunState } from "./run-state.js";
import { endRun, resendToSilent, sendDispatch } from "./run-state.js";
import { armAckTimers, armDeadline, watchLiveness } from "./run-timers.js";
import { followTimeline } from "./timeline.js";
import type { FleetRecord, TimelineEvent } from "./types.js";

export interface JobRun {
  readonly id: string;
  /** Stops following without finishing (shutdown: another controller will take over). */
  detach(): void;
  /** The job's current per-host state (for tests and the API). */
  hosts(): HostFold[];
  /** Resolves when this controller stops owning the job (finished, taken over, or detached). */
  readonly ended: Promise<void>;
}

/**
 * Starts owning `rec` (stored at `revision`). With `sendNow`, dispatches to every host first (a new
 * job); a job taken over from a dead controller is sent only to hosts that left no trace yet.
 */
export async function startRun(
  deps: RunDeps,
  rec: FleetRecord,
  revision: number,
  o: { sendNow: boolean },
): Promise<JobRun> {
  const startedAt = Date.now();
  let markEnded!: () => void;
  const ended = new Promise<void>((r) => (markEnded = r));
  const s: RunState = {
    deps,
    rec,
    revision,
    folds: newHostFolds(rec.hosts, rec.left_out),
    verdicts: new Set(),
    ackedBy: new Map(),
    timers: [],
    ended: false,
    finishing: false,
    caughtUp: false,
    generation: 0,
    markEnded,
  };

  if (o.sendNow) sendDispatch(deps.ctx, rec, rec.hosts);
  await followRunTimeline(s, o.sendNow);
  if (s.caughtUp && !o.sendNow) resendToSilent(s, "reclaimed");
  armAckTimers(s, o.sendNow ? rec.created_at : startedAt);
  armDeadline(s);
  watchLiveness(s);
  checkFinished(s);

  return {
    id: rec.id,
    detach: () => endRun(s),
    hosts: () => [...s.folds.values()],
    ended,
  };
}

/**
 * Follows the job's timeline into the run's host folds: first what is stored (a job taken over is
 * re-sent to its silent hosts once that is read), then each new event; the run finishes when every
 * host is final.
 */
export async function followRunTimeline(s: RunState, sendNow: boolean): Promise<void> {
  const { deps } = s;
  const { ctx } = deps;
  const id = s.rec.id;
  const stored = await ctx.reader.get(ctx.topology.streams.fleet, {
    lastBySubject: ctx.subjects.fleetTimelineAll(id),
  });
  const catchUpSeq = stored?.seq ?? 0;
  s.caughtUp = catchUpSeq === 0;
  const follower = await followTimeline(
    ctx,
    id,
    (ev, seq) => {
      noteAcknowledged(s, ev);
      applyEvent(s.folds, ev);
      if (!s.caughtUp && seq >= catchUpSeq) {
        s.caughtUp = true;
        if (!sendNow) resendToSilent(s, "reclaimed");
      }
      checkFinished(s);
    },
    (subject, ev) => {
      // Refused by NATS permissions where identities are on; counted and logged wherever it happens.
      deps.onError(
        new JetjobError(
          ErrorCode.Forbidden,
          `ignored a '${ev.e}' event of fleet job ${id} for host '${ev.h ?? "-"}' stored on ${subject}`,
        ),
      );
    },
  );
  s.follower = follower;
  if (s.ended) follower.close(); // ended while the follower was being set up
  void follower.done.then(() => {
    if (!s.ended && !s.finishing) deps.onError(new Error(`timeline follower of fleet job ${id} stopped`));
  });
}

/** Remembers which agent instance acknowledged (or started) the job on a host, for liveness. */
function noteAcknowledged(s: RunState, ev: TimelineEvent): void {
  if (ev.h !== undefined && (ev.e === "acknowledged" || ev.e === "started") && ev.by !== undefined) {
    s.ackedBy.set(ev.h.toLowerCase(), ev.by);
  }
}
