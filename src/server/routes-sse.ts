/**
 * Live lifecycle events as Server-Sent Events: per job (ends when the job finishes) and per queue,
 * at jetjob's paths and at the channel route OJS clients use (`/ojs/v1/events/stream?channel=job:<id>`
 * or `queue:<name>`). Events are published on core NATS subjects (see store/jobs/events.ts); every stream
 * of an API server shares one subscription (event-hub.ts), and each has a bounded queue
 * (sse-queue.ts).
 *
 * Every event frame has an `id:` line (the event's id in the ojs-events envelope). A client that
 * reconnects with `Last-Event-ID` (EventSource does it by itself; `?last_event_id=` works too) first
 * gets the stored events it missed, then the live ones, without gaps or repeats: the live listener is
 * active before the stored events are read, and live events already sent from storage are dropped.
 *
 * Browsers' EventSource cannot send headers, so these routes also take the token as
 * `?access_token=`; request logs never include query strings.
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";

import { NotFoundError, ValidationError } from "../core/errors.js";
import type { JobState } from "../core/states.js";
import { isTerminal } from "../core/states.js";
import type { Engine } from "../store/engine.js";
import type { EventView, JobEvent } from "../store/jobs/events.js";
import { eventsAfter } from "../store/jobs/event-search.js";
import { eventId } from "../store/jobs/events.js";
import { jobStateEvent } from "../usecases/job-stream.js";
import { Scope } from "./auth.js";
import type { EventFilter, SseFrame } from "./event-hub.js";
import { eventHub } from "./event-hub.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { queueParam } from "./routes-ojs-admin.js";
import { createSseQueue, dropConnection } from "./sse-queue.js";

const terminal = new Set(["job.completed", "job.discarded", "job.cancelled", "job.expired"]);

interface StreamSpec {
  filter: EventFilter & { queue: string };
  /** The first event (the job's state now), read after the listener is active. */
  snapshot?: () => Promise<EventView | undefined>;
  keep: (e: JobEvent) => boolean;
  done: (e: JobEvent) => boolean;
  /** Resume after this event id (`Last-Event-ID`). */
  lastEventId?: string;
  /** The job had finished when the stream was asked for: end after the missed events. */
  finished?: boolean;
}

const frameOf = (v: EventView): SseFrame => ({ id: v.id, event: v.type, data: JSON.stringify(v) });

/**
 * Streams events that pass `keep` (from one job, or one queue, through the server's shared event hub)
 * until `done` says stop, the client leaves, or it falls too far behind (see sse-queue.ts). The
 * listener is active before `snapshot` and the missed events are read, so nothing between is lost.
 */
function streamEvents(c: Context, engine: Engine, s: StreamSpec): Response {
  return streamSSE(c, async (stream) => {
    const listening: { stop?: () => void } = {};
    const q = createSseQueue({ onOverflow: () => listening.stop?.(), onGiveUp: () => dropConnection(c) });
    // While stored events are read, live ones wait here; afterwards they go to the queue directly.
    let held: Array<{ e: JobEvent; frame: () => SseFrame }> | undefined = s.lastEventId ? [] : undefined;
    const deliver = (e: JobEvent, frame: () => SseFrame) => {
      q.pushFrame(frame());
      if (s.done(e)) q.end();
    };
    const stop = await eventHub(engine.ctx).listen(s.filter, (e, frame) => {
      if (!s.keep(e)) return;
      if (held) held.push({ e, frame });
      else deliver(e, frame);
    });
    listening.stop = stop;
    try {
      // A comment line (ignored by SSE clients): tells a client the stream listens from here on.
      await stream.write(": listening\n\n");
      const first = s.snapshot ? await s.snapshot() : undefined;
      if (first) await stream.writeSSE(frameOf(first));
      const finished =
        s.finished === true || (first?.data.state !== undefined && isTerminal(first.data.state as JobState));
      if (held) {
        const missed = await eventsAfter(engine.ctx, s.filter.queue, s.lastEventId!, s.keep);
        const sent = new Set<string>();
        for (const v of missed) {
          await stream.writeSSE(frameOf(v));
          sent.add(v.id);
          if (terminal.has(v.type) && "job" in s.filter) return;
        }
        const waiting = held;
        held = undefined;
        for (const { e, frame } of waiting) if (!sent.has(eventId(e))) deliver(e, frame);
      }
      if (finished) return;
      await q.pump(stream);
    } finally {
      stop();
    }
  });
}

/** The id to resume after: the `Last-Event-ID` header, or `?last_event_id=` (EventSource sends the header). */
function lastEventIdOf(c: Context, query: { last_event_id?: string | undefined }): string | undefined {
  const id = c.req.header("Last-Event-ID") ?? query.last_event_id;
  return id === undefined || id.trim() === "" ? undefined : id.trim();
}

function jobStream(
  c: Context,
  engine: Engine,
  id: string,
  queue: string,
  lastEventId: string | undefined,
  /** Start with a `job.state` event (jetjob's route), else (the OJS channel) end at once if `finished`. */
  snapshot: boolean,
  finished: boolean,
): Response {
  // The same first event as the NATS client's stream (usecases/job-stream.ts).
  const now = () => jobStateEvent({ engine }, id);
  return streamEvents(c, engine, {
    filter: { job: id, queue },
    ...(snapshot ? { snapshot: now } : { finished }),
    keep: (e) => e.id === id,
    done: (e) => terminal.has(e.t),
    ...(lastEventId === undefined ? {} : { lastEventId }),
  });
}

/** A queue's stream; 404 for a queue that does not exist (no job was ever enqueued to it). */
async function queueStream(
  c: Context,
  engine: Engine,
  name: string | undefined,
  types: string | undefined,
  lastEventId: string | undefined,
): Promise<Response> {
  // Refused before the stream starts: a name like `>` or `a b` is not a subject token.
  const queue = queueParam(name);
  if (!(await engine.ctx.queues.get(queue))) throw new NotFoundError("queue", queue);
  const only = types ? new Set(types.split(",").map((t) => t.trim())) : undefined;
  return streamEvents(c, engine, {
    filter: { queue },
    keep: (e) => !only || only.has(e.t),
    done: () => false,
    ...(lastEventId === undefined ? {} : { lastEventId }),
  });
}

const resumeQuery = {
  last_event_id: z.string().optional().describe("Resume after this event id (or send Last-Event-ID)"),
};

export function sseRoutes(engine: Engine): RouteDef[] {
  return [
    defineRoute({
      method: "GET",
      path: "/ojs/v1/jobs/{id}/events",
      scope: Scope.Read,
      tag: "events",
      query: z.object(resumeQuery),
      summary:
        "Live events of one job (SSE); starts with its current state, ends when it finishes; resumes after Last-Event-ID",
      queryToken: true,
      handler: async (c, { params, query }) => {
        const job = await engine.get(params.id); // answer 404 before the stream starts
        return jobStream(c, engine, job.id, job.queue, lastEventIdOf(c, query), true, false);
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/queues/{name}/events",
      scope: Scope.Read,
      tag: "events",
      query: z.object({
        types: z.string().optional().describe("Comma-separated event types, e.g. job.completed,job.failed"),
        ...resumeQuery,
      }),
      summary: "Live events of a queue (SSE), optionally filtered with ?types=a,b; 404 for an unknown queue",
      queryToken: true,
      handler: (c, { params, query }) =>
        queueStream(c, engine, params.name, query.types, lastEventIdOf(c, query)),
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/events/stream",
      scope: Scope.Read,
      tag: "events",
      query: z.object({
        channel: z.string().describe("job:<id> or queue:<name>"),
        types: z.string().optional().describe("queue channels: comma-separated event types"),
        ...resumeQuery,
      }),
      summary:
        "Live events of a channel (SSE), as OJS clients subscribe: ?channel=job:<id> (ends when the job finishes) or queue:<name>",
      queryToken: true,
      handler: async (c, { query }) => {
        const channel = query.channel;
        const sep = channel.indexOf(":");
        const kind = sep < 0 ? "" : channel.slice(0, sep);
        const value = channel.slice(sep + 1);
        if (kind === "job") {
          const job = await engine.get(value);
          const finished = isTerminal(job.state);
          return jobStream(c, engine, job.id, job.queue, lastEventIdOf(c, query), false, finished);
        }
        if (kind === "queue") return queueStream(c, engine, value, query.types, lastEventIdOf(c, query));
        throw new ValidationError("channel must be job:<id> or queue:<name>", {
          details: { field: "channel" },
        });
      },
    }),
  ];
}
