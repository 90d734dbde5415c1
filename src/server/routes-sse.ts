/**
 * Live lifecycle events as Server-Sent Events: per job (ends when the job finishes) and per queue.
 * Events are published on core NATS subjects (see store/events.ts); every stream of an API server
 * shares one subscription (event-hub.ts), and each has a bounded queue (sse-queue.ts).
 *
 * Browsers' EventSource cannot send headers, so these routes also take the token as
 * `?access_token=`; request logs never include query strings.
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";

import type { JobState } from "../core/states.js";
import { isTerminal } from "../core/states.js";
import type { Engine } from "../store/engine.js";
import type { EventView, JobEvent } from "../store/events.js";
import { EventType } from "../store/events.js";
import { Scope } from "./auth.js";
import type { EventFilter } from "./event-hub.js";
import { eventHub } from "./event-hub.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { queueParam } from "./routes-ojs-admin.js";
import { createSseQueue, dropConnection } from "./sse-queue.js";

const terminal = new Set(["job.completed", "job.discarded", "job.cancelled", "job.expired"]);

/**
 * Streams events that pass `keep` (from one job, or one queue, through the server's shared event hub)
 * until `done` says stop, the client leaves, or it falls too far behind (see sse-queue.ts). The
 * listener is active before `snapshot` is read, so nothing between the two is missed.
 */
function streamEvents(
  c: Context,
  engine: Engine,
  filter: EventFilter,
  snapshot: (() => Promise<EventView | undefined>) | undefined,
  keep: (e: JobEvent) => boolean,
  done: (e: JobEvent) => boolean,
): Response {
  return streamSSE(c, async (stream) => {
    const listening: { stop?: () => void } = {};
    const q = createSseQueue({ onOverflow: () => listening.stop?.(), onGiveUp: () => dropConnection(c) });
    const stop = await eventHub(engine.ctx).listen(filter, (e, frame) => {
      if (!keep(e)) return;
      q.pushFrame(frame());
      if (done(e)) q.end();
    });
    listening.stop = stop;
    try {
      const first = snapshot ? await snapshot() : undefined;
      if (first) {
        await stream.writeSSE({ event: first.type, data: JSON.stringify(first) });
        if (first.data.state !== undefined && isTerminal(first.data.state as JobState)) return;
      }
      await q.pump(stream);
    } finally {
      stop();
    }
  });
}

export function sseRoutes(engine: Engine): RouteDef[] {
  return [
    defineRoute({
      method: "GET",
      path: "/ojs/v1/jobs/{id}/events",
      scope: Scope.Read,
      tag: "events",
      summary: "Live events of one job (SSE); starts with its current state, ends when it finishes",
      queryToken: true,
      handler: async (c, { params }) => {
        const id = params.id!;
        const job = await engine.get(id); // answer 404 before the stream starts
        const snapshot = async (): Promise<EventView> => {
          const now = await engine.get(id);
          return {
            type: EventType.State,
            timestamp: new Date().toISOString(),
            data: {
              job_id: now.id,
              job_type: now.type,
              queue: now.queue,
              attempt: now.attempt as number,
              state: now.state,
            },
          };
        };
        return streamEvents(
          c,
          engine,
          { job: id, queue: job.queue },
          snapshot,
          (e) => e.id === id,
          (e) => terminal.has(e.t),
        );
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/queues/{name}/events",
      scope: Scope.Read,
      tag: "events",
      query: z.object({
        types: z.string().optional().describe("Comma-separated event types, e.g. job.completed,job.failed"),
      }),
      summary: "Live events of a queue (SSE), optionally filtered with ?types=a,b",
      queryToken: true,
      handler: (c, { params, query }) => {
        const types = query.types ? new Set(query.types.split(",")) : undefined;
        // Refused before the stream starts: a name like `>` or `a b` is not a subject token.
        const queue = queueParam(params.name);
        return streamEvents(
          c,
          engine,
          { queue },
          undefined,
          (e) => !types || types.has(e.t),
          () => false,
        );
      },
    }),
  ];
}
