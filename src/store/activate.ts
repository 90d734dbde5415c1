/**
 * Activation of pending jobs (http-binding §7.8, §9.5): a job enqueued with `options.pending: true`
 * waits in the delay stream (core/envelope.ts) until `activate` moves it to its queue lane, or, when
 * its `scheduled_at` is still ahead, to the delay bucket of that time. Only jobs enqueued as pending
 * can be activated; a job waiting for its exclusive key is also `pending` but is not, and gets 409.
 */
import { ConflictError, NotFoundError } from "../core/errors.js";
import { Store } from "../core/ids.js";
import { JobState } from "../core/states.js";
import { EventType, emitEvents, event } from "./events.js";
import { homeKeyOf, movedSpec, pointHome, publishSegment } from "./moves.js";
import { mutate, viewOf } from "./operations.js";
import { refKey } from "./segment.js";
import type { Services } from "./services.js";
import type { JobView } from "./view.js";

/** Activates pending job `id`; the job as it is now, with `activated_at` and `previous_state`. */
export async function activateJob(svc: Services, id: string): Promise<JobView> {
  const { ctx } = svc;
  const at = await mutate(svc, id, async (loc, d, now) => {
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
    const { q, p } = loc.at.seg;
    const target = await publishSegment(
      ctx,
      due === undefined
        ? { store: Store.Queue, queue: q, priority: p }
        : { store: Store.Delay, queue: q, priority: p, due },
      [copy],
      `ac:${refKey(loc.at.store, loc.at.seq)}:${loc.idx}`,
    );
    const to = refKey(target.store, target.seq);
    const here = `${refKey(loc.at.store, loc.at.seq)}.${loc.idx}`;
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
  const now = await svc.locator.locate(id);
  if (!now) throw new NotFoundError("job", id);
  return { ...viewOf(now), activated_at: new Date(at).toISOString(), previous_state: JobState.Pending };
}
