/**
 * `GET /api/v1/events/stream`: every queue's lifecycle events as Server-Sent Events, for live views
 * (the dashboard's overview). A plain NATS subscription per listener; nothing is stored.
 */
import { streamSSE } from "hono/streaming";

import type { Engine } from "../store/engine.js";
import { decodeEvents, toEventView } from "../store/events.js";
import { Scope } from "./auth.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { createSseQueue } from "./sse-queue.js";

export function liveRoutes(engine: Engine): RouteDef[] {
  return [
    defineRoute({
      method: "GET",
      path: "/api/v1/events/stream",
      scope: Scope.Read,
      tag: "events",
      queryToken: true,
      summary: "Server-Sent Events: lifecycle events of every queue as they happen (until the client leaves)",
      handler: (c) =>
        streamSSE(c, async (stream) => {
          const { ctx } = engine;
          const q = createSseQueue();
          const sub = ctx.nc.subscribe(ctx.subjects.eventsAll(), {
            callback: (err, msg) => {
              if (err) return;
              for (const e of decodeEvents(msg.data)) {
                const view = toEventView(e);
                q.push(view.type, view);
              }
            },
          });
          try {
            await q.pump(stream);
          } finally {
            sub.unsubscribe();
          }
        }),
    }),
  ];
}
