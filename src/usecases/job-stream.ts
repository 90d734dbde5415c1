/**
 * The live stream of one job: its current state first (a `job.state` event), then its lifecycle
 * events as they happen, until it is completed, discarded, cancelled or expired. The SSE route
 * (`GET /ojs/v1/jobs/{id}/events`, server/routes-sse.ts) sends the same first event and ends on the
 * same rule; the NATS client reads {@link watchJob} straight from the queue's event subject.
 */
import type { JobState } from "../core/states.js";
import { isTerminal } from "../core/states.js";
import type { EventView } from "../store/jobs/events.js";
import { decodeEvents, envelope, EventType, eventId, toEventView } from "../store/jobs/events.js";
import type { UseCaseDeps } from "./deps.js";
import { iteratePush } from "./live.js";

/** A lifecycle event as the API sends it (the ojs-events envelope). */
export type JobEvent = EventView;

const terminalEvents: ReadonlySet<string> = new Set([
  EventType.Completed,
  EventType.Discarded,
  EventType.Cancelled,
  EventType.Expired,
]);

/** Whether an event ends a job's live stream: a final event, or a `job.state` in a final state. */
export function endsJobStream(e: { type: string; data: { state?: string | undefined } }): boolean {
  if (terminalEvents.has(e.type)) return true;
  return e.type === EventType.State && e.data.state !== undefined && isTerminal(e.data.state as JobState);
}

/** The stream's first event: the job's state now. */
export async function jobStateEvent(d: UseCaseDeps, id: string): Promise<EventView> {
  const job = await d.engine.get(id);
  const attempt = job.attempt;
  const at = Date.now();
  return envelope(
    eventId({ t: EventType.State, at, id, jt: job.type, q: job.queue, a: attempt }),
    EventType.State,
    at,
    { job_id: job.id, job_type: job.type, queue: job.queue, attempt, state: job.state },
  );
}

/** Live events of job `id` (its state now first) until it finishes or `signal` aborts. */
export async function* watchJob(d: UseCaseDeps, id: string, signal?: AbortSignal): AsyncIterable<JobEvent> {
  const { ctx } = d.engine;
  const job = await d.engine.get(id); // 404 before anything is subscribed
  yield* iteratePush<EventView>(
    {
      start: (push) => {
        const sub = ctx.nc.subscribe(ctx.subjects.events(job.queue), {
          callback: (err, msg) => {
            if (err) return;
            for (const e of decodeEvents(msg.data)) if (e.id === id) push(toEventView(e));
          },
        });
        return Promise.resolve(() => sub.unsubscribe());
      },
      // Read after subscribing: nothing between the two is missed.
      first: async () => [await jobStateEvent(d, id)],
      done: endsJobStream,
    },
    signal,
  );
}
