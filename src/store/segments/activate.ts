/**
 * Moving a waiting job out of the delay stream by hand:
 *
 * - activation of pending jobs (http-binding §7.8, §9.5): a job enqueued with `options.pending: true`
 *   waits in the delay stream (core/envelope.ts) until `activate` moves it to its queue lane, or, when
 *   its `scheduled_at` is still ahead, to the delay bucket of that time. Only jobs enqueued as pending
 *   can be activated; a job waiting for its exclusive key is also `pending` but is not, and gets 409.
 * - "run now" (the dashboard's and the Admin API's `promote`): a scheduled job, or one waiting for its
 *   next attempt, goes to its queue lane at once, as the promoter (promoter.ts) would move it at its
 *   time. The promoter finds the slot moved when that time comes and leaves it alone. A job with an
 *   exclusive or rate-limit key is refused (409): the promoter puts such jobs in their key's line,
 *   which a hand move would skip.
 *
 * Both are one `move` on the job's slot with compare-and-set (operations.ts `mutate`), so a move that
 * races the promoter, a cancel or a second click happens once; the loser sees the state it left.
 */
import { ConflictError, NotFoundError } from "../../core/errors.js";
import { Store } from "../../core/ids.js";
import type { JobSpec } from "../../core/envelope.js";
import { JobState } from "../../core/states.js";
import { EventType, emitEvents, event } from "../jobs/events.js";
import type { Located } from "../jobs/locator.js";
import { homeKeyOf, movedSpec, pointHome, publishSegment } from "./moves.js";
import { mutate, viewOf } from "../jobs/operations.js";
import { jobRef, refKey } from "./segment.js";
import type { Services } from "../infra/services.js";
import type { Derived } from "../jobs/view.js";
import type { JobView } from "../jobs/view.js";

/** Activates pending job `id`; the job as it is now, with `activated_at` and `previous_state`. */
export async function activateJob(svc: Services, id: string): Promise<JobView> {
  const { at } = await moveOutOfDelay(svc, id, "ac", (loc, d, now) => {
    const spec = loc.at.seg.jobs[loc.idx]!;
    if (d.state !== JobState.Pending || spec.pending !== true) {
      throw new ConflictError(
        `Cannot activate job in state '${d.state}'. Only jobs enqueued with options.pending can be activated.`,
        { details: { job_id: id, current_state: d.state } },
      );
    }
    const copy = movedSpec(loc, {});
    delete copy.pending;
    const due = copy.scheduledAt !== undefined && copy.scheduledAt > now ? copy.scheduledAt : undefined;
    return { copy, due };
  });
  return afterMove(svc, id, at, JobState.Pending, "activated_at");
}

/**
 * Runs scheduled (or retryable) job `id` now: it becomes available in its queue lane. The job as it is
 * now, with `promoted_at` and `previous_state`. 409 `conflict` for any other state, or a job with an
 * exclusive or rate-limit key.
 */
export async function runJobNow(svc: Services, id: string): Promise<JobView> {
  let previous: JobState = JobState.Scheduled;
  const { at } = await moveOutOfDelay(svc, id, "rn", (loc, d, now) => {
    const spec = loc.at.seg.jobs[loc.idx]!;
    if ((d.state !== JobState.Scheduled && d.state !== JobState.Retryable) || loc.at.store !== Store.Delay) {
      throw new ConflictError(
        `Cannot run job in state '${d.state}' now. Only scheduled and retryable jobs can be.`,
        { details: { job_id: id, current_state: d.state } },
      );
    }
    if (spec.xkey !== undefined) {
      throw new ConflictError(
        `Job '${id}' waits in the line of its key '${spec.xkey}'; it runs when the key lets it.`,
        { details: { job_id: id, current_state: d.state, exclusive_key: spec.xkey } },
      );
    }
    previous = d.state;
    // Due now: the time it was made to run (its queue-arrival time in the events, events.ts).
    return {
      copy: movedSpec(loc, spec.scheduledAt === undefined ? {} : { scheduledAt: now }),
      due: undefined,
    };
  });
  return afterMove(svc, id, at, previous, "promoted_at");
}

/**
 * Locates `id`, lets `decide` check it and give its moved copy (to the queue lane, or to the delay
 * bucket of `due`), publishes the copy and appends the `move` with compare-and-set. `tag` keeps the
 * copies of different operations apart in their message ids.
 */
async function moveOutOfDelay(
  svc: Services,
  id: string,
  tag: string,
  decide: (loc: Located, d: Derived, now: number) => { copy: JobSpec; due: number | undefined },
): Promise<{ at: number }> {
  const { ctx } = svc;
  const at = await mutate(svc, id, async (loc, d, now) => {
    const { copy, due } = decide(loc, d, now);
    const { q, p } = loc.at.seg;
    const target = await publishSegment(
      ctx,
      due === undefined
        ? { store: Store.Queue, queue: q, priority: p }
        : { store: Store.Delay, queue: q, priority: p, due },
      [copy],
      `${tag}:${refKey(loc.at.store, loc.at.seq)}:${loc.idx}`,
    );
    const to = refKey(target.store, target.seq);
    const here = jobRef(loc.at.store, loc.at.seq, loc.idx);
    const home = homeKeyOf(loc);
    return {
      ops: [{ op: "move", i: loc.idx, at: now, to, ti: 0 }],
      after: async () => {
        if (home !== here) await pointHome(svc, home, to, 0);
      },
      done: (l, t) => {
        emitEvents(ctx, q, [
          event(l.at, l.idx, due === undefined ? EventType.Enqueued : EventType.Scheduled, t),
        ]);
        return t;
      },
    };
  });
  return { at };
}

async function afterMove(
  svc: Services,
  id: string,
  at: number,
  previous: JobState,
  field: "activated_at" | "promoted_at",
): Promise<JobView> {
  const now = await svc.locator.locate(id);
  if (!now) throw new NotFoundError("job", id);
  return { ...viewOf(now), [field]: new Date(at).toISOString(), previous_state: previous };
}
